/*
 * A growable byte buffer: data[0..len) is in use, data[len..cap) is room. The buffer
 * owns its memory; kpid_buf_free releases it. A zeroed kpid_buf (= {0}) is an empty
 * buffer. Nothing here is thread-safe: a buffer belongs to one thread at a time.
 *
 * The daemon, the plugins and the synthetic hospital generator all use this one buffer
 * (batches, NDJSON strings and attrs, the file plugin's read buffer, output files).
 */
#ifndef KPID_BUF_H
#define KPID_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct kpid_buf {
    char *data;
    size_t len;
    size_t cap;
} kpid_buf;

/*
 * Grows b so that n more bytes fit and cap stays at most max_cap: the capacity doubles
 * from 4096 (or from cap) and is clamped to max_cap. Returns 0, -ENOBUFS when len + n
 * exceeds max_cap, or -ENOMEM; the buffer is unchanged on failure. Callers normally use
 * kpid_buf_reserve or kpid_buf_reserve_max below, which return at once when n bytes
 * already fit.
 */
int kpid_buf_grow(kpid_buf *b, size_t n, size_t max_cap);

/*
 * Grows an array v of *cap elements of elem bytes each to twice as many (16 at first):
 * returns the grown array, which replaces v, and updates *cap; or returns NULL, with v
 * still valid and *cap unchanged, when memory is short or the size would overflow.
 * For the arrays of records that sit beside a count: if (n == cap) grow, then append.
 */
void *kpid_array_grow(void *v, size_t *cap, size_t elem);

/* Makes room for n more bytes. Returns 0 or -ENOMEM (the buffer is unchanged then). */
static inline int kpid_buf_reserve(kpid_buf *b, size_t n)
{
    int r = b->cap - b->len >= n ? 0 : kpid_buf_grow(b, n, SIZE_MAX);
    /* What kpid_buf_grow guarantees, said where callers' analyzers can see it. */
    if (r == 0 && n > 0 && !b->data)
        __builtin_unreachable();
    return r;
}

/*
 * Makes room for n more bytes without letting cap exceed max_cap (a read buffer that
 * must hold one line of at most max_cap bytes, and no more). Returns 0, -ENOBUFS when
 * len + n exceeds max_cap, or -ENOMEM; the buffer is unchanged on failure.
 */
static inline int kpid_buf_reserve_max(kpid_buf *b, size_t n, size_t max_cap)
{
    int r = b->cap - b->len >= n ? 0 : kpid_buf_grow(b, n, max_cap);
    if (r == 0 && n > 0 && !b->data)
        __builtin_unreachable();
    return r;
}

/* Frees what b holds and empties it; accepts an empty buffer. */
void kpid_buf_free(kpid_buf *b);

/* Appends n bytes. Returns 0 or -ENOMEM (the buffer is unchanged then). */
static inline int kpid_buf_append(kpid_buf *b, const void *p, size_t n)
{
    int r = kpid_buf_reserve(b, n);
    if (r < 0)
        return r;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Appends one byte. Returns 0 or -ENOMEM. */
static inline int kpid_buf_putc(kpid_buf *b, char c)
{
    int r = kpid_buf_reserve(b, 1);
    if (r < 0)
        return r;
    b->data[b->len++] = c;
    return 0;
}

#endif
