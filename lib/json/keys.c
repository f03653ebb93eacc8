/*
 * The keys of the open objects, and the refusal of duplicates: an object's decoded keys
 * are kept until it ends. Up to JSON_DUP_LINEAR keys each new key is compared with the
 * others; an object with more is sorted and checked once, at its end.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_private.h"

#define JSON_DUP_LINEAR 16

/* Where a decoded key of an open object is, in js->keys. */
struct keyref {
    size_t off;
    size_t pos; /* where the key starts in the document */
    uint32_t len;
    uint32_t hash;
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool key_equal(const kpid_json *js, const struct keyref *a, const struct keyref *b)
{
    return a->hash == b->hash && a->len == b->len &&
           memcmp(js->keys.data + a->off, js->keys.data + b->off, a->len) == 0;
}

static int keyref_cmp(const void *a, const void *b, void *arg)
{
    const struct keyref *x = a, *y = b;
    const kpid_json *js = arg;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(js->keys.data + x->off, js->keys.data + y->off, x->len);
}

size_t kpid__json_keys_mark(const kpid_json *js)
{
    return js->keyrefs.len / sizeof(struct keyref);
}

int kpid__json_key(kpid_json *js, size_t first, kpid_buf *raw, const char **ret_key,
                   size_t *ret_len)
{
    const unsigned char *start = js->p;
    size_t off = js->keys.len;
    int r;

    if (js->p >= js->end)
        return kpid__json_fail(js, js->p, KPID_JSON_E_END);
    if (*js->p != '"')
        return kpid__json_fail(js, js->p, KPID_JSON_E_KEY);
    r = kpid__json_string(js, &js->keys, raw);
    if (r < 0)
        return r;
    if (js->keys.len - off - 1 > UINT32_MAX)
        return kpid__json_fail(js, start, KPID_JSON_E_KEY_LONG);
    struct keyref k = {
        .off = off,
        .pos = (size_t)(start - js->start),
        .len = (uint32_t)(js->keys.len - off - 1),
    };
    k.hash = hash_bytes(js->keys.data + off, k.len);

    struct keyref *refs = (struct keyref *)(void *)js->keyrefs.data;
    size_t n = js->keyrefs.len / sizeof(struct keyref);
    if (n - first < JSON_DUP_LINEAR)
        for (size_t i = first; i < n; i++)
            if (key_equal(js, &refs[i], &k))
                return kpid__json_fail(js, start, KPID_JSON_E_DUPLICATE);
    r = kpid_buf_append(&js->keyrefs, &k, sizeof(k));
    if (r < 0)
        return kpid__json_fail(js, start, KPID_JSON_E_NOMEM);
    *ret_key = js->keys.data + off;
    *ret_len = k.len;
    return 0;
}

int kpid__json_keys_close(kpid_json *js, size_t first, size_t keys_len)
{
    struct keyref *refs = (struct keyref *)(void *)js->keyrefs.data;
    size_t n = js->keyrefs.len / sizeof(struct keyref);

    if (n - first > JSON_DUP_LINEAR) {
        qsort_r(refs + first, n - first, sizeof(*refs), keyref_cmp, js);
        for (size_t i = first + 1; i < n; i++)
            if (key_equal(js, &refs[i - 1], &refs[i])) {
                size_t pos = refs[i].pos > refs[i - 1].pos ? refs[i].pos : refs[i - 1].pos;
                return kpid__json_fail(js, js->start + pos, KPID_JSON_E_DUPLICATE);
            }
    }
    js->keyrefs.len = first * sizeof(struct keyref);
    js->keys.len = keys_len;
    return 0;
}
