/*
 * Batches: what a source hands to the writer in one piece. A batch holds its events
 * already encoded in PostgreSQL's COPY text format, in the column order of kpid.event
 * (source, event_key, case_id, subject_id, activity, time, value, attrs, origin), so
 * that the writer can stream them into kpid.event without touching each event again.
 *
 * Retractions and origin replacements are kept apart, each with its position among the
 * events (how many events were emitted before it), so that the writer can restore the
 * order when it must stage the batch: see kpid_batch_stage_rows.
 * Rejected input is kept as kpid_stage_rejected rows: source, locator, reason, raw.
 * Keyed source state (state_put) is kept as the elements of two PostgreSQL array
 * literals, keys and values (NULL = delete), in the order put: the writer passes them as
 * parameters of one statement (no temporary table, whose use makes every COMMIT
 * truncate the session's ON COMMIT DELETE ROWS tables) and applies the last per key.
 *
 * A batch is touched by one thread at a time: its source thread until it is queued,
 * then the writer.
 */
#ifndef KPID_BATCH_H
#define KPID_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "buf/buf.h"
#include "time/timestamp.h"
#include "kpid/plugin.h"
#include "ingest/queue.h"
#include "text/utf8.h" /* kpid_utf8_valid, for the tests */

#define KPID_EVENT_KEY_MAX 512
#define KPID_ID_MAX 256
#define KPID_ACTIVITY_MAX 64
#define KPID_ATTRS_MAX ((size_t)64 * 1024)
#define KPID_CURSOR_MAX ((size_t)64 * 1024)
#define KPID_REJECT_RAW_MAX ((size_t)8 * 1024)

/* What encoding a batch needs from its source; owned by the source, outlives batches. */
typedef struct kpid_batch_ctx {
    const char *source; /* source name */
    const uint8_t *key; /* pseudonym key, NULL = no pseudonymization */
    size_t key_len;
    bool pseudonymize_case_id;
} kpid_batch_ctx;

struct kpid_source;

/* A retraction ('D') or origin replacement ('O'). */
typedef struct kpid_batch_op {
    char op;
    uint32_t pos;      /* events emitted before it */
    uint32_t off, len; /* its staging row after "op\tseq\t", in ops_text */
} kpid_batch_op;

struct kpid_batch {
    kpid_queue_item item; /* first: the queue link */
    const kpid_batch_ctx *ctx;
    struct kpid_source *src; /* the submitting source, told when the batch is done */
    uint64_t id;             /* unique in the process, assigned at submit */
    uint64_t seq;            /* the source's batch number */
    kpid_buf rows;           /* events, as kpid.event COPY rows */
    kpid_buf rejects;        /* kpid_stage_rejected rows */
    kpid_buf ops_text;
    kpid_batch_op *ops;
    size_t n_ops, ops_cap;
    size_t n_events, n_rejects;
    kpid_buf state_keys;   /* array elements, comma-separated: "k1","k2" */
    kpid_buf state_values; /* array elements: "v1",NULL */
    size_t n_state;
    char *cursor;  /* NULL = unchanged */
    int64_t epoch; /* the lease epoch of an exclusive source it was read under; 0 = none */
};

/* Creates an empty batch. Returns 0 or -ENOMEM; the caller frees with kpid_batch_free. */
int kpid_batch_new(const kpid_batch_ctx *ctx, struct kpid_source *src, uint64_t seq,
                   struct kpid_batch **ret_batch);
/* Frees a batch; accepts NULL; returns NULL. */
struct kpid_batch *kpid_batch_free(struct kpid_batch *b);

/*
 * Validates, pseudonymizes and appends an event. An invalid event is appended as a
 * rejected row (with locator, or "key:<event_key>") and -EINVAL is returned.
 */
int kpid_batch_emit(struct kpid_batch *b, const kpid_event *ev, const char *locator);
int kpid_batch_retract(struct kpid_batch *b, const char *event_key);
int kpid_batch_replace_origin(struct kpid_batch *b, const char *origin);
/* Appends a rejected row; raw is cut to KPID_REJECT_RAW_MAX and made valid UTF-8. */
int kpid_batch_reject(struct kpid_batch *b, const char *locator, const char *reason,
                      const char *raw, size_t raw_len);
/* Appends one kpid_stage_rejected row to out (the writer's own rejects use it too). */
int kpid_reject_row(kpid_buf *out, const char *source, const char *locator, const char *reason,
                    const char *raw, size_t raw_len);
/*
 * Appends s as one element of a PostgreSQL array literal's body to b, after a comma
 * unless b is empty: "s" with '"' and '\\' escaped, or NULL when s is NULL. Returns 0 or
 * -ENOMEM.
 */
int kpid_array_element(kpid_buf *b, const char *s);
/*
 * Appends a state put (value NULL: a delete) to the state arrays. Returns 0, or
 * -EINVAL without recording anything when key is not 1..KPID_STATE_KEY_MAX bytes of
 * valid UTF-8 without control characters or value is longer than KPID_STATE_VALUE_MAX
 * bytes or not valid UTF-8, or -ENOMEM.
 */
int kpid_batch_state_put(struct kpid_batch *b, const char *key, const char *value);
/*
 * Why kpid_batch_emit would refuse ev (the text of its rejected row), or NULL when it
 * would accept it. The text is static or per-thread: valid until the next call.
 */
const char *kpid_event_invalid(const kpid_event *ev);
/* Sets the cursor after the batch (copied; NULL keeps the previous one). */
int kpid_batch_set_cursor(struct kpid_batch *b, const char *cursor);
/* Updates item.events and item.bytes for the queue. */
void kpid_batch_seal(struct kpid_batch *b);

/*
 * Appends the batch's events and operations to out as kpid_stage rows (op, seq, then the
 * kpid.event columns), in emission order, seq = (batch seq << 32) | index. Returns 0 or
 * -ENOMEM.
 */
int kpid_batch_stage_rows(const struct kpid_batch *b, kpid_buf *out);
/* Walks a batch's rows in emission order. Start with a zeroed iterator. */
typedef struct kpid_batch_iter {
    size_t op, ev;
    size_t off;
} kpid_batch_iter;

/*
 * The next row: *ret_op is 'U' with the event row (kpid.event columns), or 'D' / 'O'
 * with the operation row (kpid_stage columns after op and seq); *ret_row and *ret_len
 * (newline included) point into the batch. Returns false after the last row.
 */
bool kpid_batch_next(const struct kpid_batch *b, kpid_batch_iter *it, char *ret_op,
                     const char **ret_row, size_t *ret_len);

/* Rows the batch weighs: events, operations, rejected input and state puts. */
static inline size_t kpid_batch_weight(const struct kpid_batch *b)
{
    return b->n_events + b->n_ops + b->n_rejects + b->n_state;
}

/* Bytes of COPY data the batch holds so far. */
static inline size_t kpid_batch_bytes(const struct kpid_batch *b)
{
    return b->rows.len + b->rejects.len + b->ops_text.len + b->state_keys.len + b->state_values.len;
}

/* Helpers shared with the tests. */
/* Appends s as one COPY text field (escaped); NULL appends \N. */
int kpid_copy_field(kpid_buf *b, const char *s, size_t len);

#endif
