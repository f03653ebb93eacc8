#include "table.h"

#include <errno.h>
#include <stdlib.h>

/* splitmix64's finalizer: inode numbers are often consecutive. */
static size_t hash(uint64_t dev, uint64_t ino)
{
    uint64_t x = ino ^ (dev * UINT64_C(0x9e3779b97f4a7c15));
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (size_t)x;
}

/* The slot of (dev, ino), or of the free slot where it would go. cap is a power of 2
 * and the index is never full. */
static size_t find_slot(file_table_item **slots, size_t cap, uint64_t dev, uint64_t ino)
{
    size_t i = hash(dev, ino) & (cap - 1);

    while (slots[i] && (slots[i]->dev != dev || slots[i]->ino != ino))
        i = (i + 1) & (cap - 1);
    return i;
}

file_table_item *file_table_get(const file_table *t, uint64_t dev, uint64_t ino)
{
    if (t->cap == 0)
        return NULL;
    return t->slots[find_slot(t->slots, t->cap, dev, ino)];
}

/* Keeps the load at most 1/2. */
static int reserve(file_table *t, size_t n)
{
    if (n > t->all_cap) {
        size_t cap = t->all_cap ? t->all_cap * 2 : 64;
        file_table_item **all = realloc(t->all, cap * sizeof(file_table_item *));
        if (!all)
            return -ENOMEM;
        t->all = all;
        t->all_cap = cap;
    }
    if (2 * n > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 128;
        file_table_item **slots = calloc(cap, sizeof(file_table_item *));
        if (!slots)
            return -ENOMEM;
        for (size_t i = 0; i < t->n; i++)
            slots[find_slot(slots, cap, t->all[i]->dev, t->all[i]->ino)] = t->all[i];
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    return 0;
}

int file_table_add(file_table *t, file_table_item *item)
{
    int r;

    if (file_table_get(t, item->dev, item->ino))
        return -EEXIST;
    if ((r = reserve(t, t->n + 1)) < 0)
        return r;
    t->slots[find_slot(t->slots, t->cap, item->dev, item->ino)] = item;
    item->index = t->n;
    t->all[t->n++] = item;
    return 0;
}

void file_table_remove(file_table *t, file_table_item *item)
{
    size_t i = find_slot(t->slots, t->cap, item->dev, item->ino), j = i;

    /* Backward-shift deletion: move later items of the probe run into the hole when
     * their home slot is not between the hole and them. */
    t->slots[i] = NULL;
    for (;;) {
        j = (j + 1) & (t->cap - 1);
        if (!t->slots[j])
            break;
        size_t home = hash(t->slots[j]->dev, t->slots[j]->ino) & (t->cap - 1);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
    file_table_item *last = t->all[--t->n];
    t->all[item->index] = last;
    last->index = item->index;
}

void file_table_clear(file_table *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->all);
    *t = (file_table){0};
}
