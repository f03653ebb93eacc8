#include "pending.h"

#include <errno.h>
#include <stdlib.h>

/* Heap order: earlier emit first, then earlier journey. */
static inline int less(const struct hg_pending_item *x, const struct hg_pending_item *y)
{
    return x->emit < y->emit || (x->emit == y->emit && x->order < y->order);
}

/* Moves item i down until the heap order holds again. */
static void sift_down(struct hg_pending *p, size_t i)
{
    struct hg_pending_item x = p->a[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= p->n)
            break;
        if (c + 1 < p->n && less(&p->a[c + 1], &p->a[c]))
            c++;
        if (!less(&p->a[c], &x))
            break;
        p->a[i] = p->a[c];
        i = c;
    }
    p->a[i] = x;
}

int hg_pending_push(struct hg_pending *p, struct hg_journey *j)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 4096;
        struct hg_pending_item *a = realloc(p->a, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        p->a = a;
        p->cap = cap;
    }
    struct hg_pending_item x = {j->line[j->next].emit, j->order, j};
    size_t i = p->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!less(&x, &p->a[up]))
            break;
        p->a[i] = p->a[up];
        i = up;
    }
    p->a[i] = x;
    if (p->n > p->high)
        p->high = p->n;
    return 0;
}

void hg_pending_update_top(struct hg_pending *p)
{
    struct hg_journey *j = p->a[0].j;

    p->a[0].emit = j->line[j->next].emit;
    sift_down(p, 0);
}

void hg_pending_pop(struct hg_pending *p)
{
    p->a[0] = p->a[--p->n];
    if (p->n)
        sift_down(p, 0);
}

void hg_pending_fini(struct hg_pending *p)
{
    free(p->a);
    p->a = NULL;
    p->n = p->cap = 0;
}
