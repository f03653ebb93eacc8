/*
 * A buffered output file: callers reserve room, write into it and commit; the buffer (a
 * kpid_buf of lib/buf) goes to the file in large writes. The first write error is kept
 * and reported by hg_wbuf_close.
 */
#ifndef HG_WBUF_H
#define HG_WBUF_H

#include <stddef.h>
#include <stdio.h>

#include "buf/buf.h"

#define HG_WBUF_SIZE (4u << 20)

struct hg_wbuf {
    FILE *f;
    kpid_buf b; /* HG_WBUF_SIZE bytes of room, allocated at open */
    int err;    /* first failure as a negative errno, 0 = none */
};

/* Creates (truncates) path. Returns 0 or a negative errno; on failure wb holds nothing. */
int hg_wbuf_open(struct hg_wbuf *wb, const char *path);
/* Flushes and closes; accepts a never-opened or already-closed wb. Returns 0 or -errno. */
int hg_wbuf_close(struct hg_wbuf *wb);
/* Writes out what is buffered. */
void hg_wbuf_flush(struct hg_wbuf *wb);

/* Returns a pointer where n bytes (n <= HG_WBUF_SIZE) may be written. */
static inline char *hg_wbuf_reserve(struct hg_wbuf *wb, size_t n)
{
    if (wb->b.len + n > HG_WBUF_SIZE)
        hg_wbuf_flush(wb);
    return wb->b.data + wb->b.len;
}

/* Marks the n bytes written after the last reserve as part of the output. */
static inline void hg_wbuf_commit(struct hg_wbuf *wb, size_t n)
{
    wb->b.len += n;
}

/* Appends n bytes of any length. */
void hg_wbuf_put(struct hg_wbuf *wb, const void *p, size_t n);

#endif
