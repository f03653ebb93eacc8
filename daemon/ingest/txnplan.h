/*
 * The plan of one write transaction: what of a set of batches can be COPYed straight
 * into kpid.event, and what must go through the staging table.
 *
 * A plan compacts the set first: per (source, event_key) only the last operation
 * counts, an event or a retraction, so the rest are dropped. Then the events of keys
 * that kpid.event does not hold yet are "direct" (a plain COPY, PostgreSQL's fastest
 * path); events of keys it holds (corrections, replays) and retractions are "staged"
 * and applied with an upsert and a delete. Which keys are held the writer finds out by
 * probing (kpid_plan_keys, kpid_plan_mark_stored), or by trying the direct COPY and
 * falling back when it meets a key that is there.
 *
 * A set with origin replacements is not planned: it needs the ordered staging of every
 * row (kpid_batch_stage_rows).
 *
 * The plan points into the batches; they must outlive it. One thread at a time.
 */
#ifndef KPID_TXNPLAN_H
#define KPID_TXNPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "ingest/bloom.h"
#include "buf/buf.h"

struct kpid_batch;

typedef struct kpid_plan_entry {
    const char *row; /* the event row, or the op row after "op\tseq\t" */
    size_t len;      /* including the newline */
    size_t id_len;   /* "source\tevent_key" at the start of row */
    uint64_t hash;   /* kpid_hash of the id */
    bool retract;    /* the last operation is a retraction */
    bool stored;     /* the key is in kpid.event already */
} kpid_plan_entry;

typedef struct kpid_plan {
    kpid_plan_entry *entries; /* one per distinct key, in first-seen order */
    size_t n, cap;
    size_t *slots; /* hash table of entry index + 1; 0 = empty */
    size_t n_slots;
} kpid_plan;

/*
 * Builds the plan of the set. Returns 0, 1 when the set has origin replacements (no
 * plan: stage every row in order), or -ENOMEM. The plan is reset first.
 */
int kpid_plan_build(kpid_plan *p, struct kpid_batch *const *set, size_t n);

/* Appends "source\tevent_key\n" of every planned event to out, for the probe. */
int kpid_plan_keys(const kpid_plan *p, kpid_buf *out);

/* Marks the key (both parts unescaped, as PostgreSQL returns them) as stored. Returns
 * 0, or -ENOENT when the plan has no such key, or -ENOMEM. */
int kpid_plan_mark_stored(kpid_plan *p, const char *source, const char *event_key);

/* Marks every key stored, so that everything is staged (after a failed direct COPY). */
void kpid_plan_mark_all_stored(kpid_plan *p);

/* Marks the keys the filter may hold as stored: probably corrections of committed
 * events. Returns how many it marked. */
size_t kpid_plan_mark_remembered(kpid_plan *p, const struct kpid_bloom *filter);

/* Adds the plan's event keys to the filter (after COMMIT). */
void kpid_plan_remember(const kpid_plan *p, struct kpid_bloom *filter);

/* Marks the keys of p that other has too (an event or a retraction there) as stored,
 * so that p stages them instead of COPYing them. Returns how many events it marked. */
size_t kpid_plan_mark_shared(kpid_plan *p, const kpid_plan *other);

/* Bytes of the batches, not copied: runs of rows that follow each other in a batch. */
typedef struct kpid_span {
    const char *data;
    size_t len;
} kpid_span;

typedef struct kpid_spans {
    kpid_span *v;
    size_t n, cap;
} kpid_spans;

/* Empties the list, keeping its memory. */
static inline void kpid_spans_clear(kpid_spans *s)
{
    s->n = 0;
}
/* Frees the list (not the bytes it points to). */
void kpid_spans_free(kpid_spans *s);

/*
 * Writes the plan: events of unstored keys as kpid.event COPY rows, in order, to direct,
 * as spans of the batches' own bytes (rows next to each other in a batch make one span,
 * so a set without duplicates or known keys is one span per batch, and nothing is
 * copied); events of stored keys as 'U' and retractions as 'D' kpid_stage rows to
 * staged. Returns 0 or -ENOMEM; *ret_staged is the number of staged rows.
 */
int kpid_plan_write_spans(const kpid_plan *p, kpid_spans *direct, kpid_buf *staged,
                          size_t *ret_staged);

/* kpid_plan_write_spans, with the direct rows copied into a buffer. */
int kpid_plan_write(const kpid_plan *p, kpid_buf *direct, kpid_buf *staged, size_t *ret_staged);

/* Frees what the plan holds (not the batches). */
void kpid_plan_free(kpid_plan *p);

#endif
