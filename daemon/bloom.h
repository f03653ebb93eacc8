/*
 * A Bloom filter of 64-bit hashes: "certainly not added" or "maybe added". The writer
 * remembers in one the keys it has committed, to route their corrections to the upsert
 * before a COPY trips over them. When it fills up it is cleared; a forgotten key then
 * costs a fallback, never a wrong result. Not thread-safe; the owner's thread only.
 */
#ifndef KPID_BLOOM_H
#define KPID_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kpid_bloom {
    uint64_t *bits;
    size_t n_bits;    /* a power of two */
    size_t count;     /* hashes added since the last clear */
    size_t capacity;  /* clear when count reaches it (about 2 % false positives) */
} kpid_bloom;

/* Allocates a filter of about bytes bytes. Returns 0 or -ENOMEM / -EINVAL. */
int kpid_bloom_init(kpid_bloom *b, size_t bytes);
void kpid_bloom_free(kpid_bloom *b);
void kpid_bloom_add(kpid_bloom *b, uint64_t hash);
bool kpid_bloom_maybe(const kpid_bloom *b, uint64_t hash);

/* FNV-1a, the hash kpid uses for keys. */
uint64_t kpid_hash(const char *s, size_t n);

#endif
