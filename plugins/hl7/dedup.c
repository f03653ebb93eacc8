/*
 * Control ids already received, so that a resend (the sender lost our ACK) changes
 * nothing and is acknowledged again. Each message's id is put in keyed source state with
 * the batch of its events, so it is committed exactly when they are, and survives a
 * restart; ids older than dedup_window, and the oldest beyond dedup_max_ids, are deleted
 * from the state and from memory, oldest first (a ring of the keys in arrival order).
 *
 * The key is "ctl/" MSH-3 "|" MSH-4 "|" MSH-10 (the sending application and facility
 * make a control id unique), the value the microsecond it was received and the answer it
 * got ("1765090000123456 AA"), so that a resend gets the same answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_source.h"

#define KEY_PREFIX "ctl/"
#define TOMB ((char *)1)

static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int hl7_dedup_key(const kpid_hl7_header *h, kpid_buf *out)
{
    out->len = 0;
    if (kpid_buf_append(out, KEY_PREFIX, sizeof(KEY_PREFIX) - 1) < 0 ||
        kpid_buf_append(out, h->sending_application, strlen(h->sending_application)) < 0 ||
        kpid_buf_putc(out, '|') < 0 ||
        kpid_buf_append(out, h->sending_facility, strlen(h->sending_facility)) < 0 ||
        kpid_buf_putc(out, '|') < 0 ||
        kpid_buf_append(out, h->control_id, strlen(h->control_id)) < 0 ||
        kpid_buf_putc(out, '\0') < 0)
        return -ENOMEM;
    out->len--;
    /* The state's key limit: longer header fields (unusual) are cut; the control id is
     * kept whole where it fits, since it is what tells messages apart. */
    if (out->len >= KPID_STATE_KEY_MAX) {
        size_t ctl = strlen(h->control_id);
        if (ctl >= KPID_STATE_KEY_MAX - sizeof(KEY_PREFIX))
            return -E2BIG;
        size_t at = KPID_STATE_KEY_MAX - 1 - ctl;
        /* Cut between characters: state keys must be valid UTF-8. */
        while (at > 0 && ((unsigned char)out->data[at] & 0xC0) == 0x80)
            at--;
        memmove(out->data + at, h->control_id, ctl + 1);
        out->len = at + ctl;
    }
    return 0;
}

static size_t slot_of(const hl7_dedup *d, const char *key)
{
    size_t mask = d->cap - 1, i = (size_t)hash(key) & mask, tomb = SIZE_MAX;

    for (;; i = (i + 1) & mask) {
        char *k = d->slots[i].key;
        if (!k)
            return tomb != SIZE_MAX ? tomb : i;
        if (k == TOMB) {
            if (tomb == SIZE_MAX)
                tomb = i;
        } else if (strcmp(k, key) == 0)
            return i;
    }
}

hl7_seen *hl7_dedup_find(hl7_dedup *d, const char *key)
{
    size_t mask, i;

    if (d->cap == 0)
        return NULL;
    mask = d->cap - 1;
    for (i = (size_t)hash(key) & mask;; i = (i + 1) & mask) {
        char *k = d->slots[i].key;
        if (!k)
            return NULL;
        if (k != TOMB && strcmp(k, key) == 0)
            return &d->slots[i];
    }
}

static int grow(hl7_dedup *d)
{
    hl7_dedup bigger = {.cap = d->cap ? d->cap * 2 : 1024};

    /* Only live entries count: a table full of tombstones is rebuilt at its size. */
    if (d->n * 2 < d->cap)
        bigger.cap = d->cap;
    if (!(bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots))))
        return -ENOMEM;
    for (size_t i = 0; i < d->cap; i++) {
        hl7_seen *e = &d->slots[i];
        if (e->key && e->key != TOMB) {
            bigger.slots[slot_of(&bigger, e->key)] = *e;
            bigger.n++;
            bigger.used++;
        }
    }
    free(d->slots);
    d->slots = bigger.slots; /* the ring of keys stays as it is */
    d->cap = bigger.cap;
    d->n = bigger.n;
    d->used = bigger.used;
    return 0;
}

/* Doubles the ring, its keys moved to the front in order. */
static int fifo_grow(hl7_dedup *d)
{
    size_t cap = d->fifo_cap;
    char **v = kpid_array_grow(NULL, &cap, sizeof(*v));

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < d->fifo_n; i++)
        v[i] = d->fifo[(d->fifo_head + i) % d->fifo_cap];
    free(d->fifo);
    d->fifo = v;
    d->fifo_cap = cap;
    d->fifo_head = 0;
    return 0;
}

int hl7_dedup_add(hl7_dedup *d, const char *key, uint64_t batch, int64_t time_us, int code)
{
    hl7_seen *e;

    if ((d->used + 1) * 4 > d->cap * 3 && grow(d) < 0)
        return -ENOMEM;
    e = &d->slots[slot_of(d, key)];
    if (e->key && e->key != TOMB) {
        e->batch = batch;
        e->time_us = time_us;
        e->code = code;
        return 0;
    }
    char *copy = strdup(key);
    if (!copy)
        return -ENOMEM;
    if (d->fifo_n == d->fifo_cap && fifo_grow(d) < 0) {
        free(copy);
        return -ENOMEM;
    }
    d->fifo[(d->fifo_head + d->fifo_n++) % d->fifo_cap] = copy;
    if (!e->key)
        d->used++;
    *e = (hl7_seen){.key = copy, .batch = batch, .time_us = time_us, .code = code};
    d->n++;
    return 0;
}

void hl7_dedup_free(hl7_dedup *d)
{
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].key && d->slots[i].key != TOMB)
            free(d->slots[i].key);
    free(d->slots);
    free(d->fifo);
    memset(d, 0, sizeof(*d));
}

static const char *const codes[] = {"AA", "AE", "AR"};

void hl7_dedup_value(int64_t time_us, int code, char out[32])
{
    snprintf(out, 32, "%lld %s", (long long)time_us,
             code >= 0 && code < 3 ? codes[code] : codes[0]);
}

static int load_one(void *arg, const char *key, const char *value)
{
    hl7_source *s = arg;
    char *end;
    long long t;
    int code = KPID_HL7_AA;

    if (strncmp(key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1) != 0)
        return 0; /* not ours: left alone */
    t = strtoll(value, &end, 10);
    if (end == value)
        t = 0; /* unreadable: expires at once */
    if (*end == ' ')
        for (int i = 0; i < 3; i++)
            if (strcmp(end + 1, codes[i]) == 0)
                code = i;
    return hl7_dedup_add(&s->seen, key, 0, t, code);
}

static int by_time(const void *a, const void *b)
{
    const hl7_seen *x = a, *y = b;

    if (x->time_us != y->time_us)
        return (x->time_us > y->time_us) - (x->time_us < y->time_us);
    return strcmp(x->key, y->key);
}

int hl7_dedup_load(hl7_source *s)
{
    hl7_dedup *d = &s->seen;
    int r = s->host->state_load(s->src, load_one, s);

    if (r < 0)
        return r;
    /* The state comes in key order: the ring must be in time order for expiry. */
    if (d->fifo_n > 1) {
        hl7_seen *live = malloc(d->fifo_n * sizeof(*live));
        size_t n = 0;
        if (!live)
            return -ENOMEM;
        for (size_t i = 0; i < d->cap; i++)
            if (d->slots[i].key && d->slots[i].key != TOMB)
                live[n++] = d->slots[i];
        qsort(live, n, sizeof(*live), by_time);
        for (size_t i = 0; i < n; i++)
            d->fifo[(d->fifo_head + i) % d->fifo_cap] = live[i].key;
        free(live);
    }
    s->host->log(s->src, KPID_LOG_INFO,
                 "control ids loaded ids=%zu window_s=%" PRId64 " max_ids=%" PRId64, d->n,
                 s->cfg->dedup_window_ms / 1000, s->cfg->dedup_max_ids);
    return 0;
}

/*
 * Deletes, oldest first, the committed ids older than the window and those beyond
 * dedup_max_ids: from the state, in the batch being filled (so the deletions commit with
 * it), and from memory. Returns how many, or a negative errno.
 */
int hl7_dedup_expire(hl7_source *s, int64_t now_us)
{
    hl7_dedup *d = &s->seen;
    int64_t horizon = now_us - s->cfg->dedup_window_ms * 1000;
    kpid_batch *b = NULL;
    int n = 0, r;

    while (d->fifo_n > 0) {
        char *key = d->fifo[d->fifo_head];
        hl7_seen *e = hl7_dedup_find(d, key);
        if (e && ((e->time_us >= horizon && d->n <= (size_t)s->cfg->dedup_max_ids) ||
                  e->batch > s->committed_upto))
            break; /* the oldest is to be kept: so are all younger ones */
        if (e) {
            if (!b && (r = hl7_batch(s, &b)) < 0)
                return r;
            if ((r = s->host->state_put(b, key, NULL)) < 0)
                return r;
            e->key = TOMB;
            d->n--;
            n++;
            free(key);
        }
        d->fifo_head = (d->fifo_head + 1) % d->fifo_cap;
        d->fifo_n--;
    }
    return n;
}
