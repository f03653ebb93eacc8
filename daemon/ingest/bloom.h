/*
 * A Bloom filter of 64-bit hashes: "certainly not added" or "maybe added". The writer
 * remembers in one the keys it has committed, to route their corrections to the upsert
 * before a COPY trips over them. It has two generations: when the current one is full,
 * the older is cleared and becomes current, so the filter always remembers at least
 * the last `capacity` keys. A forgotten key costs a fallback, never a wrong result.
 * Not thread-safe; the owner's thread only.
 */
#ifndef KPID_BLOOM_H
#define KPID_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kpid_bloom {
    uint64_t *bits;  /* two generations of n_bits each; NULL when not allocated */
    size_t n_bits;   /* per generation, a power of two */
    int current;     /* the generation that is added to */
    size_t count;    /* hashes added to the current generation */
    size_t capacity; /* per generation (about 2 % false positives at capacity) */
} kpid_bloom;

/* Allocates a filter of about bytes bytes in all. Returns 0 or -ENOMEM / -EINVAL. */
int kpid_bloom_init(kpid_bloom *b, size_t bytes);
void kpid_bloom_free(kpid_bloom *b);
void kpid_bloom_add(kpid_bloom *b, uint64_t hash);
bool kpid_bloom_maybe(const kpid_bloom *b, uint64_t hash);

/* FNV-1a, the hash kpid uses for keys. */
uint64_t kpid_hash(const char *s, size_t n);

#endif
