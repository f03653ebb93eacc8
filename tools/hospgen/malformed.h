/*
 * Malformed lines for the ingest's error paths: where they go and what they look like.
 * Positions are drawn once, up front: line i goes right before event line pos[i]
 * (0-based over all event lines, or at the very end when pos[i] >= the number of event
 * lines). Exactly one line is over-long (> 1 MiB) when M >= 8; the others cycle
 * through a shuffled list of the other kinds, so M >= 11 shows every kind. Malformed lines
 * have their own random stream: they never change the events.
 */
#ifndef HG_MALFORMED_H
#define HG_MALFORMED_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"
#include "wbuf.h"

enum hg_bad_kind {
    HG_BAD_NOT_JSON,
    HG_BAD_TRUNCATED,
    HG_BAD_NO_EVENT_KEY,
    HG_BAD_NO_ACTIVITY,
    HG_BAD_TIME,
    HG_BAD_ACTIVITY,
    HG_BAD_ARRAY,
    HG_BAD_TIME_TYPE,
    HG_BAD_UTF8,
    HG_BAD_EMPTY_OBJECT,
    HG_BAD_OVERLONG,
    HG_BAD__COUNT
};

struct hg_bad_plan {
    struct hg_rng rng;
    uint64_t *pos; /* sorted */
    uint8_t *kind;
    uint64_t n;
    uint64_t next; /* next line to write */
};

/*
 * Plans m malformed lines among n_events event lines. Returns 0 or -ENOMEM; the plan
 * owns its arrays until hg_bad_plan_fini.
 */
int hg_bad_plan_init(struct hg_bad_plan *p, uint64_t seed, uint64_t stream, uint64_t m,
                     uint64_t n_events);
void hg_bad_plan_fini(struct hg_bad_plan *p);

/* True when the next malformed line goes before event line g. */
static inline bool hg_bad_due(const struct hg_bad_plan *p, uint64_t g)
{
    return p->next < p->n && p->pos[p->next] <= g;
}

/*
 * Writes the next planned malformed line (with its newline) to wb, looking like an
 * event near time t, and returns its kind.
 */
enum hg_bad_kind hg_bad_write_next(struct hg_bad_plan *p, struct hg_wbuf *wb, int64_t t);

/* Returns the name malformed.tsv uses for a kind ("bad_time", ...). */
const char *hg_bad_kind_name(enum hg_bad_kind k);

#endif
