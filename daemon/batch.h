/*
 * Batches: what a source hands to the writer in one piece. A batch holds its rows
 * already encoded in PostgreSQL's COPY text format for the writer's staging tables, so
 * that the writer streams them without touching each event again.
 *
 * Staging row (kpid_stage): op, seq, source, event_key, case_id, subject_id, activity,
 * time, value, attrs, origin; op is 'U' (upsert an event), 'D' (delete the event with
 * this key) or 'O' (replace every event of this origin). seq orders a source's rows:
 * (source batch number << 32) | row index.
 * Rejected row (kpid_stage_rejected): source, locator, reason, raw.
 *
 * A batch is touched by one thread at a time: its source thread until it is queued,
 * then the writer.
 */
#ifndef KPID_BATCH_H
#define KPID_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "kpid/plugin.h"
#include "queue.h"

#define KPID_EVENT_KEY_MAX 512
#define KPID_ID_MAX 256
#define KPID_ACTIVITY_MAX 64
#define KPID_ATTRS_MAX (64 * 1024)
#define KPID_CURSOR_MAX (64 * 1024)
#define KPID_REJECT_RAW_MAX (8 * 1024)

/* What encoding a batch needs from its source; owned by the source, outlives batches. */
typedef struct kpid_batch_ctx {
    const char *source;        /* source name */
    const uint8_t *key;        /* pseudonym key, NULL = no pseudonymization */
    size_t key_len;
    bool pseudonymize_case_id;
} kpid_batch_ctx;

struct kpid_source;

struct kpid_batch {
    kpid_queue_item item;      /* first: the queue link */
    const kpid_batch_ctx *ctx;
    struct kpid_source *src;   /* the submitting source, told when the batch is done */
    uint64_t id;               /* unique in the process, assigned at submit */
    uint64_t seq;              /* the source's batch number */
    kpid_buf rows;             /* kpid_stage rows */
    kpid_buf rejects;          /* kpid_stage_rejected rows */
    size_t n_rows;             /* rows in 'rows' */
    size_t n_events, n_retracts, n_origins, n_rejects;
    uint32_t next_row;
    char *cursor;              /* NULL = unchanged */
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
int kpid_reject_row(kpid_buf *out, const char *source, const char *locator,
                    const char *reason, const char *raw, size_t raw_len);
/* Sets the cursor after the batch (copied; NULL keeps the previous one). */
int kpid_batch_set_cursor(struct kpid_batch *b, const char *cursor);
/* Updates item.events and item.bytes for the queue. */
void kpid_batch_seal(struct kpid_batch *b);

/* Helpers shared with the tests. */
bool kpid_utf8_valid(const char *s, size_t len);
bool kpid_activity_valid(const char *s);
/* Formats time_us as "YYYY-MM-DD HH:MM:SS.ffffff+00"; returns length or -ERANGE. */
int kpid_format_time(int64_t time_us, char out[40]);
/* Appends s as one COPY text field (escaped); NULL appends \N. */
int kpid_copy_field(kpid_buf *b, const char *s, size_t len);

#endif
