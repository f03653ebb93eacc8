/*
 * The window of open journeys: a binary min-heap keyed by the emit time of each
 * journey's next unwritten line (ties: journey creation order). Holds pointers; the
 * journeys are owned by whoever pushed them.
 */
#ifndef HG_PENDING_H
#define HG_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "journey.h"

struct hg_pending_item {
    int64_t emit;
    uint64_t order;
    struct hg_journey *j;
};

struct hg_pending {
    struct hg_pending_item *a;
    size_t n, cap;
    size_t high; /* most journeys open at once */
};

/* Adds j keyed by its next line. Returns 0 or -ENOMEM. */
int hg_pending_push(struct hg_pending *p, struct hg_journey *j);
/* Returns the journey with the earliest next line, or NULL when empty. */
static inline struct hg_journey *hg_pending_top(const struct hg_pending *p)
{
    return p->n ? p->a[0].j : NULL;
}
/* Re-keys the top journey after its next line moved on. */
void hg_pending_update_top(struct hg_pending *p);
/* Removes the top journey. */
void hg_pending_pop(struct hg_pending *p);
/* Frees the heap array (not the journeys). */
void hg_pending_fini(struct hg_pending *p);

#endif
