/*
 * The dedup set (dedup.h): entries in an array with a free list, found through an
 * open-addressing index of entry numbers, and kept in a min-heap by watermark for
 * expiry and eviction. Entries never move, so the index and the heap hold their
 * numbers.
 */
#include "pull/dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf/buf.h"

#define NONE UINT32_MAX /* no entry (a free list's end, an entry not in the heap) */
#define EMPTY 0u        /* an index slot never used */
#define TOMB UINT32_MAX /* an index slot whose entry was removed */
#define MIN_SLOTS 64u

typedef struct entry {
    char *key; /* NULL: free */
    uint64_t key_hash;
    uint64_t hash;
    int64_t wm;
    uint32_t heap; /* its place in the heap; for a free entry, the next free one */
} entry;

struct kpid_pull_dedup {
    size_t max_keys;
    uint64_t k0, k1; /* SipHash keys: of event keys, and of contents (k1 ^ a constant) */
    entry *ent;
    uint32_t n_ent, cap_ent, free_head;
    uint32_t *slots; /* EMPTY, TOMB or entry number + 1 */
    uint32_t n_slots, used, tombs;
    uint32_t *heap; /* entry numbers, a min-heap by wm */
    uint32_t n_heap;
    kpid_buf scratch;
};

/* ---- SipHash-2-4 (Aumasson and Bernstein), 64-bit output ---- */

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND           \
    do {                   \
        v0 += v1;          \
        v1 = rotl(v1, 13); \
        v1 ^= v0;          \
        v0 = rotl(v0, 32); \
        v2 += v3;          \
        v3 = rotl(v3, 16); \
        v3 ^= v2;          \
        v0 += v3;          \
        v3 = rotl(v3, 21); \
        v3 ^= v0;          \
        v2 += v1;          \
        v1 = rotl(v1, 17); \
        v1 ^= v2;          \
        v2 = rotl(v2, 32); \
    } while (0)

static uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = (uint64_t)len << 56, m;
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) {
        m = load64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; i + j < len; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the heap, by watermark ---- */

static bool before(const kpid_pull_dedup *d, uint32_t a, uint32_t b)
{
    return d->ent[a].wm < d->ent[b].wm;
}

static void heap_set(kpid_pull_dedup *d, uint32_t at, uint32_t e)
{
    d->heap[at] = e;
    d->ent[e].heap = at;
}

static void sift_up(kpid_pull_dedup *d, uint32_t at)
{
    uint32_t e = d->heap[at];

    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!before(d, e, d->heap[parent]))
            break;
        heap_set(d, at, d->heap[parent]);
        at = parent;
    }
    heap_set(d, at, e);
}

static void sift_down(kpid_pull_dedup *d, uint32_t at)
{
    uint32_t e = d->heap[at];

    for (;;) {
        uint32_t child = 2 * at + 1;
        if (child >= d->n_heap)
            break;
        if (child + 1 < d->n_heap && before(d, d->heap[child + 1], d->heap[child]))
            child++;
        if (!before(d, d->heap[child], e))
            break;
        heap_set(d, at, d->heap[child]);
        at = child;
    }
    heap_set(d, at, e);
}

static void heap_remove(kpid_pull_dedup *d, uint32_t at)
{
    uint32_t last = d->heap[--d->n_heap];

    if (at == d->n_heap)
        return;
    heap_set(d, at, last);
    sift_down(d, at);
    sift_up(d, d->ent[last].heap);
}

/* ---- the index ---- */

/* The slot of key (its entry number + 1 there), or of where it would go: *ret_slot.
 * Returns true when found. */
static bool lookup(const kpid_pull_dedup *d, const char *key, uint64_t kh, uint32_t *ret_slot)
{
    uint32_t mask = d->n_slots - 1, i = (uint32_t)kh & mask, first_tomb = NONE;

    for (uint32_t step = 0; step < d->n_slots; step++, i = (i + 1) & mask) {
        uint32_t s = d->slots[i];
        if (s == EMPTY) {
            *ret_slot = first_tomb != NONE ? first_tomb : i;
            return false;
        }
        if (s == TOMB) {
            if (first_tomb == NONE)
                first_tomb = i;
            continue;
        }
        const entry *e = &d->ent[s - 1];
        if (e->key_hash == kh && e->key && strcmp(e->key, key) == 0) {
            *ret_slot = i;
            return true;
        }
    }
    *ret_slot = first_tomb;
    return false;
}

/* Rebuilds the index with n_slots slots (a power of two), dropping tombstones. */
static int rebuild(kpid_pull_dedup *d, uint32_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    free(d->slots);
    d->slots = slots;
    d->n_slots = n_slots;
    d->tombs = 0;
    for (uint32_t e = 0; e < d->n_ent; e++) {
        if (!d->ent[e].key)
            continue;
        uint32_t i = (uint32_t)d->ent[e].key_hash & (n_slots - 1);
        while (slots[i] != EMPTY)
            i = (i + 1) & (n_slots - 1);
        slots[i] = e + 1;
    }
    return 0;
}

/* Removes entry e (in the index at slot). */
static void remove_entry(kpid_pull_dedup *d, uint32_t e, uint32_t slot)
{
    d->slots[slot] = TOMB;
    d->tombs++;
    d->used--;
    heap_remove(d, d->ent[e].heap);
    free(d->ent[e].key);
    d->ent[e].key = NULL;
    d->ent[e].heap = d->free_head;
    d->free_head = e;
}

static void remove_by_number(kpid_pull_dedup *d, uint32_t e)
{
    uint32_t mask = d->n_slots - 1, i = (uint32_t)d->ent[e].key_hash & mask;

    /* The probe sequence of its key leads to its slot: no key comparison needed. */
    for (uint32_t step = 0; step < d->n_slots && d->slots[i] != EMPTY; step++) {
        if (d->slots[i] == e + 1) {
            remove_entry(d, e, i);
            return;
        }
        i = (i + 1) & mask;
    }
}

/* ---- the set ---- */

int kpid_pull_dedup_new(size_t max_keys, kpid_pull_dedup **ret)
{
    kpid_pull_dedup *d;
    uint64_t seed[2];

    if (max_keys < 1 || max_keys > (size_t)UINT32_MAX / 4)
        return -EINVAL;
    if (!(d = calloc(1, sizeof(*d))))
        return -ENOMEM;
    if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        /* No entropy yet (early boot): a weaker key still spreads keys well. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)d;
        seed[1] = (uint64_t)ts.tv_sec * 0xBF58476D1CE4E5B9ULL ^ seed[0];
    }
    d->k0 = seed[0];
    d->k1 = seed[1];
    d->max_keys = max_keys;
    d->free_head = NONE;
    if (rebuild(d, MIN_SLOTS) < 0) {
        free(d);
        return -ENOMEM;
    }
    *ret = d;
    return 0;
}

void kpid_pull_dedup_reset(kpid_pull_dedup *d)
{
    for (uint32_t e = 0; e < d->n_ent; e++)
        free(d->ent[e].key);
    d->n_ent = 0;
    d->free_head = NONE;
    d->n_heap = 0;
    d->used = 0;
    d->tombs = 0;
    memset(d->slots, 0, d->n_slots * sizeof(*d->slots));
}

kpid_pull_dedup *kpid_pull_dedup_free(kpid_pull_dedup *d)
{
    if (!d)
        return NULL;
    kpid_pull_dedup_reset(d);
    free(d->ent);
    free(d->slots);
    free(d->heap);
    kpid_buf_free(&d->scratch);
    free(d);
    return NULL;
}

size_t kpid_pull_dedup_size(const kpid_pull_dedup *d)
{
    return d->used;
}

/* Appends a field to the scratch: a tag, its length (or ~0 for NULL) and its bytes. */
static int frame(kpid_buf *b, char tag, const void *p, size_t len)
{
    uint64_t n = p ? (uint64_t)len : UINT64_MAX;
    int r;

    if ((r = kpid_buf_putc(b, tag)) < 0 || (r = kpid_buf_append(b, &n, sizeof(n))) < 0)
        return r;
    return p ? kpid_buf_append(b, p, len) : 0;
}

static int frame_str(kpid_buf *b, char tag, const char *s)
{
    return frame(b, tag, s, s ? strlen(s) : 0);
}

int kpid_pull_dedup_hash(kpid_pull_dedup *d, const kpid_pull_row *row, uint64_t *ret)
{
    kpid_buf *b = &d->scratch;
    const kpid_event *ev = &row->ev;
    int r;

    b->len = 0;
    if ((r = frame(b, 'R', row->retract ? "1" : "0", 1)) < 0 ||
        (r = frame_str(b, 'k', ev->event_key)) < 0)
        return r;
    if (!row->retract &&
        ((r = frame_str(b, 'c', ev->case_id)) < 0 || (r = frame_str(b, 's', ev->subject_id)) < 0 ||
         (r = frame_str(b, 'a', ev->activity)) < 0 ||
         (r = frame(b, 't', &ev->time_us, sizeof(ev->time_us))) < 0 ||
         (r = frame(b, 'v', ev->has_value ? &ev->value : NULL, sizeof(ev->value))) < 0 ||
         (r = frame_str(b, 'j', ev->attrs_json)) < 0 || (r = frame_str(b, 'o', ev->origin)) < 0))
        return r;
    *ret = siphash(d->k0, d->k1 ^ 0x636f6e74656e74ULL, b->data, b->len);
    return 0;
}

bool kpid_pull_dedup_seen(const kpid_pull_dedup *d, const char *key, uint64_t hash)
{
    uint64_t kh = siphash(d->k0, d->k1, key, strlen(key));
    uint32_t slot;

    return lookup(d, key, kh, &slot) && d->ent[d->slots[slot] - 1].hash == hash;
}

/* A free entry number, growing the array when none is free. */
static int new_entry(kpid_pull_dedup *d, uint32_t *ret)
{
    if (d->free_head != NONE) {
        *ret = d->free_head;
        d->free_head = d->ent[*ret].heap;
        return 0;
    }
    if (d->n_ent == d->cap_ent) {
        size_t cap = d->cap_ent;
        size_t hcap = cap; /* the heap has a slot per entry: both grow alike */
        entry *ent = kpid_array_grow(d->ent, &cap, sizeof(*ent));
        if (!ent)
            return -ENOMEM;
        d->ent = ent;
        uint32_t *heap = kpid_array_grow(d->heap, &hcap, sizeof(*heap));
        if (!heap)
            return -ENOMEM; /* ent grew alone: harmless, cap_ent still says the old size */
        d->heap = heap;
        d->cap_ent = (uint32_t)cap;
    }
    *ret = d->n_ent++;
    return 0;
}

int kpid_pull_dedup_put(kpid_pull_dedup *d, const char *key, uint64_t hash, int64_t wm)
{
    uint64_t kh = siphash(d->k0, d->k1, key, strlen(key));
    uint32_t slot, e;
    int evicted = 0, r;

    if (lookup(d, key, kh, &slot)) {
        e = d->slots[slot] - 1;
        int64_t old = d->ent[e].wm;
        d->ent[e].hash = hash;
        d->ent[e].wm = wm;
        if (wm < old)
            sift_up(d, d->ent[e].heap);
        else
            sift_down(d, d->ent[e].heap);
        return 0;
    }
    /* Room in the index for one more (at most half full, tombstones counted). */
    if ((size_t)(d->used + d->tombs + 1) * 2 > d->n_slots) {
        uint32_t n = d->n_slots;
        while ((size_t)(d->used + 1) * 4 > n)
            n *= 2;
        if ((r = rebuild(d, n)) < 0)
            return r;
        lookup(d, key, kh, &slot);
    }
    char *copy = strdup(key);
    if (!copy)
        return -ENOMEM;
    if ((r = new_entry(d, &e)) < 0) {
        free(copy);
        return r;
    }
    d->ent[e] = (entry){.key = copy, .key_hash = kh, .hash = hash, .wm = wm};
    if (d->slots[slot] == TOMB)
        d->tombs--;
    d->slots[slot] = e + 1;
    d->used++;
    d->heap[d->n_heap] = e;
    d->ent[e].heap = d->n_heap++;
    sift_up(d, d->ent[e].heap);
    if (d->used > d->max_keys) {
        /* The oldest watermark goes; never the key just put, unless it is the oldest. */
        remove_by_number(d, d->heap[0]);
        evicted = 1;
    }
    return evicted;
}

size_t kpid_pull_dedup_expire(kpid_pull_dedup *d, int64_t before_wm)
{
    size_t n = 0;

    while (d->n_heap > 0 && d->ent[d->heap[0]].wm < before_wm) {
        remove_by_number(d, d->heap[0]);
        n++;
    }
    if (d->tombs > d->n_slots / 4 && d->n_slots > MIN_SLOTS) {
        uint32_t slots = MIN_SLOTS;
        while ((size_t)d->used * 4 > slots)
            slots *= 2;
        rebuild(d, slots); /* out of memory: the old index still works */
    }
    return n;
}
