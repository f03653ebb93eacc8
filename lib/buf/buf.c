#include "buf/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int kpid_buf_reserve(kpid_buf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->cap - b->len >= n)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return -ENOMEM;
    cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void kpid_buf_free(kpid_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
