#include "ingest/bloom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BLOOM_K 4

int kpid_bloom_init(kpid_bloom *b, size_t bytes)
{
    size_t n_bits = 64;

    if (bytes < 16)
        return -EINVAL;
    while (n_bits * 2 <= bytes * 4)
        n_bits *= 2;
    b->bits = calloc(2 * n_bits / 64, sizeof(uint64_t));
    if (!b->bits)
        return -ENOMEM;
    b->n_bits = n_bits;
    b->current = 0;
    b->count = 0;
    /* With k = 4, m/n = 12 bits per key gives about 1.9 % false positives. */
    b->capacity = n_bits / 12;
    return 0;
}

void kpid_bloom_free(kpid_bloom *b)
{
    free(b->bits);
    memset(b, 0, sizeof(*b));
}

/* Double hashing: the i-th probe is h1 + i * h2. */
#define PROBE(h, i, mask) (((h) + (i) * (((h) >> 32) | 1)) & (mask))

static uint64_t *generation(const kpid_bloom *b, int g)
{
    return b->bits + (size_t)g * (b->n_bits / 64);
}

void kpid_bloom_add(kpid_bloom *b, uint64_t h)
{
    if (b->count >= b->capacity) {
        b->current ^= 1;
        memset(generation(b, b->current), 0, b->n_bits / 8);
        b->count = 0;
    }
    uint64_t *bits = generation(b, b->current);
    for (uint64_t i = 0; i < BLOOM_K; i++) {
        uint64_t bit = PROBE(h, i, b->n_bits - 1);
        bits[bit / 64] |= UINT64_C(1) << (bit % 64);
    }
    b->count++;
}

static bool in_generation(const kpid_bloom *b, int g, uint64_t h)
{
    const uint64_t *bits = generation(b, g);
    for (uint64_t i = 0; i < BLOOM_K; i++) {
        uint64_t bit = PROBE(h, i, b->n_bits - 1);
        if (!(bits[bit / 64] & (UINT64_C(1) << (bit % 64))))
            return false;
    }
    return true;
}

bool kpid_bloom_maybe(const kpid_bloom *b, uint64_t h)
{
    return in_generation(b, b->current, h) || in_generation(b, b->current ^ 1, h);
}

uint64_t kpid_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    /* FNV's high bits mix poorly; fold them (a murmur3 finalizer). */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}
