/*
 * The warehouse writer: one thread that takes batches from the queue, coalesces them
 * (up to half of batch_max_rows rows: what is queued when it is free, and with
 * flush_interval_ms > 0 what arrives within that time too: group commit) and makes them
 * durable in one transaction each, two at once on two connections (writer.c says how
 * they never wait for each other and still commit in order):
 *
 *   COPY rows into the session's staging table (bisected under savepoints when
 *   PostgreSQL refuses a row for good, so that the row goes to kpid.rejected and the
 *   rest goes on); apply origin replacements and retractions; upsert events by
 *   (source, event_key), newer content replacing older; insert rejected input; store
 *   each source's newest cursor and apply the batches' keyed state puts to
 *   kpid.source_state, the last put per key winning, in the round trip of the COMMIT;
 *   then tell every source its batches are done.
 *
 * Transient errors (connection loss, SQLSTATE classes 08, 40, 53, 57, 58, and 55P03
 * lock_timeout) are retried with capped backoff on a new connection; the writer logs
 * once per state change. Errors only an operator fixes (pgconn.h, kpid_pg_refused) are
 * logged as errors with a hint and retried slowly (with --once: not at all). Every step
 * is idempotent, so a transaction whose COMMIT outcome is unknown is simply written
 * again.
 *
 * The writer never blocks in the warehouse without control of its thread: while a
 * statement waits (a lock, a slow server) its loop keeps turning (the watchdog sees it),
 * a wait longer than wait_notice_ms is logged once with what blocks it, and a stop
 * cancels the statement in progress (PQcancel) after a short grace, leaving the
 * uncommitted batches to be read again.
 *
 * writer.c is the thread: its loop, connections, senders, waits and retries; the steps
 * of one transaction are writer_txn.c's (writer_txn.h).
 */
#ifndef KPID_WRITER_H
#define KPID_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "warehouse/pgconn.h"
#include "ingest/queue.h"

typedef struct kpid_writer kpid_writer;

typedef struct kpid_writer_options {
    const kpid_pg_target *warehouse; /* must outlive the writer */
    int64_t batch_max_rows;
    int64_t flush_interval_ms;
    int64_t wait_notice_ms; /* a statement waiting this long is logged */
    bool once;              /* --once: give up when the warehouse refuses kpid */
} kpid_writer_options;

/* Starts the writer thread on queue q (which must outlive it). Returns 0 or -errno. */
int kpid_writer_start(const kpid_writer_options *opt, kpid_queue *q, kpid_writer **ret_writer);

/*
 * Stops the writer: it writes what is queued (the queue must be closed or its producers
 * stopped) until the queue is empty or deadline_us (monotonic) passes; what is left is
 * dropped (its cursors were not committed, so it is read again after restart). Joins the
 * thread and frees the writer. Accepts NULL; returns NULL.
 */
kpid_writer *kpid_writer_stop(kpid_writer *w, int64_t deadline_us);

/* True while the writer is connected and its last transaction succeeded. */
bool kpid_writer_healthy(kpid_writer *w);

/*
 * What the writer's warehouse is doing, for STATUS=: "ok", "unavailable", "refused"
 * (kpid's role: an operator must act) or "waiting" with *ret_waited_s set (a statement
 * has waited that long, 2 s at least). Any thread.
 */
const char *kpid_writer_state(kpid_writer *w, int64_t *ret_waited_s);

/* True when the writer gave up because the warehouse refused kpid's role (--once). */
bool kpid_writer_refused(kpid_writer *w);

#endif
