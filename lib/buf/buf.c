#include "buf/buf.h"

#include <errno.h>
#include <stdlib.h>

#define KPID_BUF_FIRST 4096

int kpid_buf_grow(kpid_buf *b, size_t n, size_t max_cap)
{
    size_t cap;
    char *p;

    if (b->cap - b->len >= n)
        return 0;
    if (b->len > max_cap || n > max_cap - b->len)
        return max_cap == SIZE_MAX ? -ENOMEM : -ENOBUFS;
    if (n > SIZE_MAX / 2 - b->len)
        return -ENOMEM;
    cap = b->cap ? b->cap : KPID_BUF_FIRST;
    while (cap - b->len < n)
        cap *= 2;
    if (cap > max_cap)
        cap = max_cap;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void *kpid_array_grow(void *v, size_t *cap, size_t elem)
{
    size_t n = *cap ? 2 * *cap : 16;
    void *grown;

    if (elem == 0 || n < *cap || n > SIZE_MAX / elem)
        return NULL;
    if (!(grown = realloc(v, n * elem)))
        return NULL;
    *cap = n;
    return grown;
}

void kpid_buf_free(kpid_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
