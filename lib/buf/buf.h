/*
 * A growable byte buffer. The buffer owns its memory; kpid_buf_free releases it.
 */
#ifndef KPID_BUF_H
#define KPID_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct kpid_buf {
    char *data;
    size_t len;
    size_t cap;
} kpid_buf;

/* Makes room for n more bytes. Returns 0 or -ENOMEM (the buffer is unchanged then). */
int kpid_buf_reserve(kpid_buf *b, size_t n);
void kpid_buf_free(kpid_buf *b);

static inline int kpid_buf_append(kpid_buf *b, const void *p, size_t n)
{
    int r = kpid_buf_reserve(b, n);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int kpid_buf_putc(kpid_buf *b, char c)
{
    return kpid_buf_append(b, &c, 1);
}

#endif
