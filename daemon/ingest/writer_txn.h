/*
 * The steps of one writer transaction (writer.h says what a transaction does): the
 * planned COPY of new events straight into kpid.event, the staging of the rest in the
 * session's temporary tables and the bisection of rows PostgreSQL refuses, rejected
 * input, keyed source state, the sources' cursors, and COMMIT. The writer (writer.c)
 * owns the thread, the connection and the retries; this is what it does on a
 * connection, once per transaction.
 *
 * Every statement runs watched by the writer's waiter (pgconn.h, kpid_pg_run), which
 * done() is told about when the statement has its answer.
 *
 * One thread at a time per transaction: the writer's own thread plans, commits and
 * finishes, and a transaction's send may run on its connection's sender thread
 * (writer.c) meanwhile.
 */
#ifndef KPID_WRITER_TXN_H
#define KPID_WRITER_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf/buf.h"
#include "ingest/batch.h"
#include "ingest/bloom.h"
#include "ingest/txnplan.h"
#include "warehouse/pgconn.h"

/* The SQLSTATE of kpid.lease_check: a batch's exclusive source is held by another
 * instance now (sql/013_source_lease.sql). */
#define KPID_FENCED_STATE "KP001"

/* A failed step: what the warehouse said. */
typedef struct kpid__step_error {
    char state[6];     /* the SQLSTATE, "" when the server did not answer */
    char message[512]; /* the error's first line, with its detail */
    bool transient;    /* worth retrying as it is (kpid_pg_transient) */
} kpid__step_error;

/* A row is refused for good when its data is: data exceptions, integrity, limits. */
bool kpid__step_refused_row(const kpid__step_error *err);

typedef struct kpid__writer_txn {
    PGconn *conn;            /* the writer's connection; NULL while it has none */
    kpid_pg_waiter waiter;   /* watches every statement */
    void (*done)(void *arg); /* a watched statement has its answer; arg: waiter.arg */
    kpid_buf refused;        /* rows PostgreSQL refused, as kpid_stage_rejected rows */
    kpid_buf stage;          /* rows for kpid_stage */
    kpid_spans direct;       /* rows for kpid.event: the batches' own bytes */
    kpid_buf keys;           /* keys for kpid_keys, the probe */
    kpid_plan plan;
    kpid_bloom *committed_keys; /* keys the writer committed, to predict corrections;
                                   the writer's, shared by its connections; may be NULL */
    unsigned probe_txns;        /* transactions that probe before their COPY */
    bool begun;                 /* BEGIN sent in this transaction (with its first step) */
    bool planned;               /* the set was planned (its keys go to committed_keys) */
    int plan_error;             /* planning failed: -ENOMEM, which send reports */
    bool defer_staged;          /* apply the staged rows in the tail (overlap) */
    bool staged_in_tail;        /* the tail applies the staged rows */
    size_t shared;              /* events staged for the overlap */
    kpid_buf tail;              /* the state's EXECUTE and COMMIT, sent together */
} kpid__writer_txn;

/*
 * Creates the session's staging tables on t->conn (once per connection; they empty
 * themselves at each COMMIT). Returns 0 or -EIO with err filled.
 */
int kpid__writer_txn_prepare(kpid__writer_txn *t, kpid__step_error *err);

/*
 * Writes the n batches of set in one transaction on t->conn. Returns 0 when it is
 * committed, or -errno with err filled (the transaction is rolled back when the
 * connection still works). The same as send, commit and finish in a row.
 */
int kpid__writer_txn_write(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                           kpid__step_error *err);

/*
 * A transaction in three steps, so that the writer can write the next set on another
 * connection while this one's COMMIT waits for the WAL flush:
 *
 *   plan    plans the set (txnplan.h) before it is sent: on the writer's thread, which
 *           owns committed_keys; returns 0 or -ENOMEM (which send then reports);
 *   send    every step but the last (the cursors, the lease check, the state upsert and
 *           COMMIT): 0, or -errno with err filled and the transaction rolled back;
 *   commit  sends the last step without waiting for its answer: 0, or -EIO (rolled back);
 *   finish  waits for that answer: 0 when committed, or -EIO with err filled (the outcome
 *           of a COMMIT whose answer never came is unknown: write the set again);
 *   abort   rolls back a transaction that was sent but not committed.
 */
int kpid__writer_txn_plan(kpid__writer_txn *t, struct kpid_batch **set, size_t n);
int kpid__writer_txn_send(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                          kpid__step_error *err);
int kpid__writer_txn_commit(kpid__writer_txn *t, kpid__step_error *err);
int kpid__writer_txn_finish(kpid__writer_txn *t, kpid__step_error *err);
void kpid__writer_txn_abort(kpid__writer_txn *t);

/*
 * Prepares the planned transaction b (newer) to be sent while a (older) is under way on
 * another connection, so that neither waits for the other's locks; returns false when
 * it cannot be: either has origin replacements (deletes by origin, whatever the keys)
 * or rejected input. b's events of keys a writes too are staged and applied in b's
 * tail, which the writer sends only after a has committed; so are the sources' cursors
 * and state, the rows every transaction of a source updates.
 */
bool kpid__writer_txn_overlap(const kpid__writer_txn *a, struct kpid_batch *const *set_a,
                              size_t n_a, kpid__writer_txn *b, struct kpid_batch *const *set_b,
                              size_t n_b);

/* The names of the keyed state upsert and of the cursor upsert, prepared once per
 * connection. */
#define KPID_SQL_STATE_NAME "kpid_state"
#define KPID_SQL_CURSOR_NAME "kpid_cursor"

/*
 * The tail (writer_tail.c), appended to t->tail: each source's newest cursor, the check
 * that every exclusive source of the set is still held under the epoch its batches were
 * read under, and the execution of the state upsert for the set's puts. Each appends nothing when the set
 * has nothing for it. Return 0, -ENOMEM, or -EIO with err filled.
 */
int kpid__writer_tail_cursors(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                              kpid__step_error *err);
int kpid__writer_tail_fence(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                            kpid__step_error *err);
int kpid__writer_tail_state(kpid__writer_txn *t, struct kpid_batch **set, size_t n,
                            kpid__step_error *err);

/* Frees the buffers and the plan of t (not the connection, not the filter). */
void kpid__writer_txn_free(kpid__writer_txn *t);

#endif
