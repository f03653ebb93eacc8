#include "ingest/txnplan.h"
#include "buf/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"

/* Length of "source\tevent_key" at the start of a row (both fields COPY-escaped, so a
 * tab inside them is written as \t and never ends a field). */
static size_t id_length(const char *row, size_t len)
{
    const char *end = row + len;
    const char *t = memchr(row, '\t', len);

    if (!t)
        return 0;
    t = memchr(t + 1, '\t', (size_t)(end - t - 1));
    return t ? (size_t)(t - row) : 0;
}

/* The slot of id: the one holding it, or the empty one where it belongs. */
static size_t *find_slot(const kpid_plan *p, const char *id, size_t id_len, uint64_t h)
{
    size_t mask = p->n_slots - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        size_t *slot = &p->slots[i];
        if (*slot == 0)
            return slot;
        const kpid_plan_entry *e = &p->entries[*slot - 1];
        if (e->id_len == id_len && memcmp(e->row, id, id_len) == 0)
            return slot;
    }
}

static int reset(kpid_plan *p, size_t rows)
{
    size_t want = 16;

    while (want < 2 * rows)
        want *= 2;
    if (want > p->n_slots) {
        size_t *slots = realloc(p->slots, want * sizeof(*slots));
        if (!slots)
            return -ENOMEM;
        p->slots = slots;
        p->n_slots = want;
    }
    memset(p->slots, 0, p->n_slots * sizeof(*p->slots));
    if (rows > p->cap) {
        kpid_plan_entry *entries = realloc(p->entries, rows * sizeof(*entries));
        if (!entries)
            return -ENOMEM;
        p->entries = entries;
        p->cap = rows;
    }
    p->n = 0;
    return 0;
}

int kpid_plan_build(kpid_plan *p, struct kpid_batch *const *set, size_t n)
{
    size_t rows = 0;
    int r;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < set[i]->n_ops; j++)
            if (set[i]->ops[j].op == 'O')
                return 1;
        rows += set[i]->n_events + set[i]->n_ops;
    }
    if ((r = reset(p, rows)) < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        kpid_batch_iter it = {0};
        const char *row;
        size_t len;
        char op;

        while (kpid_batch_next(set[i], &it, &op, &row, &len)) {
            size_t id_len = id_length(row, len);
            uint64_t h = kpid_hash(row, id_len);
            size_t *slot = find_slot(p, row, id_len, h);
            kpid_plan_entry e = {
                .row = row, .len = len, .id_len = id_len, .hash = h, .retract = op == 'D'};

            /* The last operation on a key decides: it replaces the earlier ones. */
            if (*slot)
                p->entries[*slot - 1] = e;
            else {
                p->entries[p->n] = e;
                *slot = ++p->n;
            }
        }
    }
    return 0;
}

int kpid_plan_keys(const kpid_plan *p, kpid_buf *out)
{
    for (size_t i = 0; i < p->n; i++) {
        const kpid_plan_entry *e = &p->entries[i];
        int r;
        if (e->retract)
            continue;
        if ((r = kpid_buf_append(out, e->row, e->id_len)) < 0 || (r = kpid_buf_putc(out, '\n')) < 0)
            return r;
    }
    return 0;
}

int kpid_plan_mark_stored(kpid_plan *p, const char *source, const char *event_key)
{
    kpid_buf id = {0};
    int r;

    if ((r = kpid_copy_field(&id, source, strlen(source))) < 0 ||
        (r = kpid_buf_putc(&id, '\t')) < 0 ||
        (r = kpid_copy_field(&id, event_key, strlen(event_key))) < 0)
        goto out;
    size_t *slot = find_slot(p, id.data, id.len, kpid_hash(id.data, id.len));
    if (*slot == 0)
        r = -ENOENT;
    else
        p->entries[*slot - 1].stored = true;
out:
    kpid_buf_free(&id);
    return r;
}

void kpid_plan_mark_all_stored(kpid_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->entries[i].stored = true;
}

size_t kpid_plan_mark_remembered(kpid_plan *p, const kpid_bloom *filter)
{
    size_t marked = 0;

    for (size_t i = 0; i < p->n; i++) {
        kpid_plan_entry *e = &p->entries[i];
        if (!e->retract && !e->stored && kpid_bloom_maybe(filter, e->hash)) {
            e->stored = true;
            marked++;
        }
    }
    return marked;
}

void kpid_plan_remember(const kpid_plan *p, kpid_bloom *filter)
{
    for (size_t i = 0; i < p->n; i++)
        if (!p->entries[i].retract)
            kpid_bloom_add(filter, p->entries[i].hash);
}

size_t kpid_plan_mark_shared(kpid_plan *p, const kpid_plan *other)
{
    size_t marked = 0;

    if (other->n == 0)
        return 0;
    for (size_t i = 0; i < p->n; i++) {
        kpid_plan_entry *e = &p->entries[i];
        if (*find_slot(other, e->row, e->id_len, e->hash)) {
            marked += !e->stored && !e->retract;
            e->stored = true;
        }
    }
    return marked;
}

void kpid_spans_free(kpid_spans *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Adds bytes to the list, extending the last span when they follow it. */
static int spans_add(kpid_spans *s, const char *data, size_t len)
{
    if (s->n && s->v[s->n - 1].data + s->v[s->n - 1].len == data) {
        s->v[s->n - 1].len += len;
        return 0;
    }
    if (s->n == s->cap) {
        kpid_span *v = kpid_array_grow(s->v, &s->cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
    }
    s->v[s->n++] = (kpid_span){data, len};
    return 0;
}

int kpid_plan_write(const kpid_plan *p, kpid_buf *direct, kpid_buf *staged, size_t *ret_staged)
{
    kpid_spans spans = {0};
    int r = kpid_plan_write_spans(p, &spans, staged, ret_staged);

    for (size_t i = 0; i < spans.n && r == 0; i++)
        r = kpid_buf_append(direct, spans.v[i].data, spans.v[i].len);
    kpid_spans_free(&spans);
    return r;
}

int kpid_plan_write_spans(const kpid_plan *p, kpid_spans *direct, kpid_buf *staged,
                          size_t *ret_staged)
{
    size_t n_staged = 0;
    int r;

    for (size_t i = 0; i < p->n; i++) {
        const kpid_plan_entry *e = &p->entries[i];

        if (!e->retract && !e->stored) {
            if ((r = spans_add(direct, e->row, e->len)) < 0)
                return r;
            continue;
        }
        /* Staged rows need no order any more: one row per key. */
        if ((r = kpid_buf_append(staged, e->retract ? "D\t0\t" : "U\t0\t", 4)) < 0 ||
            (r = kpid_buf_append(staged, e->row, e->len)) < 0)
            return r;
        n_staged++;
    }
    *ret_staged = n_staged;
    return 0;
}

void kpid_plan_free(kpid_plan *p)
{
    free(p->entries);
    free(p->slots);
    memset(p, 0, sizeof(*p));
}
