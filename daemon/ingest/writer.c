#include "ingest/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/batch.h"
#include "ingest/source.h"
#include "ingest/writer_txn.h"
#include "ops/liveness.h"
#include "ops/log.h"
#include "retry/backoff.h"
#include "warehouse/pgconn.h"

#define BACKOFF_MIN_US 100000
#define BACKOFF_MAX_US 5000000
/* When the warehouse refuses kpid's role, only an operator helps: retry slowly. */
#define REFUSED_BACKOFF_MIN_US 5000000
#define REFUSED_BACKOFF_MAX_US 60000000
/* When stopping, a statement in progress may go on this long before it is canceled. */
#define STOP_GRACE_US 1000000
/* STATUS= says "waiting" once a statement has waited this long. */
#define WAITING_STATUS_US 2000000
/* The filter of committed keys: two generations of 4 MiB, 2.8M keys each. */
#define BLOOM_BYTES (8u << 20)

/* The states of the writer's warehouse (kpid_retry_state). */
enum { UNAVAILABLE = 1, REFUSED = 2 };

struct kpid_writer {
    const kpid_pg_target *warehouse;
    size_t max_rows;
    int64_t flush_us;
    int64_t wait_notice_us;
    bool once;
    kpid_queue *q;
    pthread_t thread;

    _Atomic bool stopping;       /* set by kpid_writer_stop: drain, then exit */
    _Atomic int64_t deadline_us; /* after stopping: give up on the warehouse then */
    _Atomic bool healthy;
    _Atomic bool role_refused;        /* the warehouse refuses kpid's role (pgconn.h) */
    _Atomic bool gave_up_refused;     /* --once gave up on that */
    kpid_beat beat;                   /* watched (liveness.h): each turn, each wait slice */
    _Atomic int64_t waiting_since_us; /* a statement in progress since; 0 = none */

    /* Writer thread only. */
    kpid__writer_txn txn;    /* the connection (txn.conn) and a transaction's steps */
    bool wait_logged;        /* the statement in progress was logged as blocked */
    bool canceled;           /* a stop canceled a statement: stop writing */
    kpid_retry_state state;  /* the warehouse failing: UNAVAILABLE or REFUSED */
    struct kpid_batch **set; /* the transaction's batches; a batch weighs at least one
                                     row, so max_rows + 1 places suffice */
};

/*
 * The writer's waiter (pgconn.h): beats the heartbeat while a statement waits, logs a
 * long wait once with what blocks it, and cancels the statement when a stop has given it
 * its grace.
 */
static bool statement_waiting(void *arg, PGconn *conn, int64_t waited_us)
{
    kpid_writer *w = arg;
    int64_t now = kpid_now_us();

    kpid_beat_now(&w->beat);
    if (atomic_load(&w->waiting_since_us) == 0)
        atomic_store(&w->waiting_since_us, now - waited_us);
    if (!w->wait_logged && waited_us >= w->wait_notice_us) {
        char why[1024];
        kpid_beat_wait(&w->beat, true); /* asking the warehouse is a wait on it too */
        kpid_pg_describe_wait(w->warehouse, PQbackendPID(conn), why, sizeof(why));
        kpid_beat_wait(&w->beat, false);
        log_notice("warehouse statement waiting waited=%llds %s", (long long)(waited_us / 1000000),
                   why);
        w->wait_logged = true;
    }
    if (atomic_load(&w->stopping) &&
        (waited_us >= STOP_GRACE_US || now >= atomic_load(&w->deadline_us))) {
        if (!w->canceled)
            log_notice("stopping: canceling the warehouse statement in progress waited=%.1fs; "
                       "its batches are read again at the next start",
                       (double)waited_us / 1e6);
        w->canceled = true;
        return true;
    }
    return false;
}

/* A statement watched by statement_waiting has its answer (the txn's done). */
static void statement_done(void *arg)
{
    kpid_writer *w = arg;
    int64_t since = atomic_exchange(&w->waiting_since_us, 0);

    if (w->wait_logged)
        log_notice("warehouse statement done waited=%.1fs", (double)(kpid_now_us() - since) / 1e6);
    w->wait_logged = false;
    kpid_beat_now(&w->beat);
}

static bool give_up(kpid_writer *w)
{
    return atomic_load(&w->stopping) &&
           (w->canceled || kpid_now_us() >= atomic_load(&w->deadline_us));
}

/* Sleeps up to us, returning early when the writer must give up. */
static void backoff_sleep(kpid_writer *w, int64_t us)
{
    int64_t end = kpid_now_us() + us;
    while (!give_up(w) && kpid_now_us() < end) {
        kpid_beat_now(&w->beat);
        usleep(20000);
    }
}

/*
 * The warehouse failed: says so once per state change, as what it is. A statement ended
 * by kpid's own statement_timeout (or by an administrator) or lock_timeout is not an
 * outage; a refusal of kpid's role is an error an operator must fix.
 */
static void set_down(kpid_writer *w, const char *what, const kpid__step_error *err, const char *msg,
                     bool refused)
{
    const char *state = err && err->state[0] ? err->state : "-";

    atomic_store(&w->healthy, false);
    if (!kpid_retry_failed(&w->state, refused ? REFUSED : UNAVAILABLE, kpid_now_us()))
        return;
    atomic_store(&w->role_refused, refused);
    if (refused)
        log_err("warehouse refuses kpid's role step=%s sqlstate=%s error=\"%s\" hint=\"%s\"; "
                "retrying every minute at most",
                what, state, kpid_log_value(msg), KPID_PG_REFUSED_HINT);
    else if (strcmp(state, "57014") == 0)
        log_warning("warehouse statement canceled step=%s sqlstate=%s error=\"%s\" "
                    "statement_timeout=%lldms hint=\"raise warehouse.statement_timeout if the "
                    "warehouse is merely slow\"; retrying with backoff",
                    what, state, kpid_log_value(msg),
                    (long long)w->warehouse->statement_timeout_ms);
    else if (strcmp(state, "55P03") == 0)
        log_warning("warehouse lock wait timed out step=%s sqlstate=%s error=\"%s\" "
                    "lock_timeout=%lldms; retrying with backoff",
                    what, state, kpid_log_value(msg), (long long)w->warehouse->lock_timeout_ms);
    else
        log_warning("warehouse unavailable step=%s sqlstate=%s error=\"%s\"; retrying with "
                    "backoff",
                    what, state, kpid_log_value(msg));
}

static void set_up(kpid_writer *w)
{
    atomic_store(&w->healthy, true);
    atomic_store(&w->role_refused, false);
    if (kpid_retry_succeeded(&w->state))
        log_notice("warehouse available again after=%.1fs attempts=%u",
                   (double)(kpid_now_us() - w->state.since) / 1e6, w->state.failures);
}

static int connect_warehouse(kpid_writer *w, kpid__step_error *err)
{
    char *msg = NULL;
    int r;

    memset(err, 0, sizeof(*err));
    r = kpid_pg_open(w->warehouse, &w->txn.conn, &msg);
    if (r < 0) {
        set_down(w, "connect", NULL, msg ? msg : "out of memory", r == -EACCES);
        free(msg);
        w->txn.conn = NULL;
        return -EIO;
    }
    if (kpid__writer_txn_prepare(&w->txn, err) < 0) {
        set_down(w, "staging", err, err->message, kpid_pg_refused(err->state));
        PQfinish(w->txn.conn);
        w->txn.conn = NULL;
        return -EIO;
    }
    return 0;
}

/* Sleeps the next backoff: doubling, within the bounds of the kind of failure. */
static void backoff(kpid_writer *w, kpid_backoff *b)
{
    bool refused = atomic_load(&w->role_refused);

    b->min = refused ? REFUSED_BACKOFF_MIN_US : BACKOFF_MIN_US;
    b->max = refused ? REFUSED_BACKOFF_MAX_US : BACKOFF_MAX_US;
    backoff_sleep(w, kpid_backoff_next(b));
}

/*
 * Writes the set, retrying until it is durable or the writer gives up: -ECANCELED when
 * stopping, -EACCES with --once when the warehouse refuses kpid's role.
 */
static int write_with_retry(kpid_writer *w, struct kpid_batch **set, size_t n)
{
    kpid_backoff b = {.min = BACKOFF_MIN_US, .max = BACKOFF_MAX_US};
    kpid__step_error err;

    for (;;) {
        if (give_up(w))
            return -ECANCELED;
        if (!w->txn.conn && connect_warehouse(w, &err) < 0) {
            if (w->once && atomic_load(&w->role_refused))
                return -EACCES;
            backoff(w, &b);
            continue;
        }
        if (kpid__writer_txn_write(&w->txn, set, n, &err) == 0) {
            set_up(w);
            return 0;
        }
        if (w->once && kpid_pg_refused(err.state)) {
            set_down(w, "write", &err, err.message, kpid_pg_refused(err.state));
            return -EACCES;
        }
        if (err.transient || PQstatus(w->txn.conn) != CONNECTION_OK) {
            set_down(w, "write", &err, err.message, kpid_pg_refused(err.state));
            PQfinish(w->txn.conn);
            w->txn.conn = NULL;
        } else if (!kpid_retry_failing(&w->state) && !kpid_pg_refused(err.state)) {
            /* Not the data, not the connection: a schema or permission problem an
             * operator must fix. Keep the data and keep trying; said once, as this. */
            atomic_store(&w->healthy, false);
            kpid_retry_failed(&w->state, UNAVAILABLE, kpid_now_us());
            log_err("warehouse write failed sqlstate=%s error=\"%s\"; the batches are "
                    "kept and retried",
                    err.state, kpid_log_value(err.message));
        } else
            set_down(w, "write", &err, err.message, kpid_pg_refused(err.state));
        backoff(w, &b);
    }
}

static void *writer_main(void *arg)
{
    kpid_writer *w = arg;
    struct kpid_batch **set = w->set;

    for (;;) {
        size_t n = 0, rows = 0;
        int64_t first_us;
        kpid_queue_item *item;

        kpid_beat_now(&w->beat);
        item = kpid_queue_pop(w->q, atomic_load(&w->stopping) ? 0 : kpid_now_us() + 500000);
        if (!item) {
            if (atomic_load(&w->stopping))
                break;
            continue;
        }
        first_us = kpid_now_us();
        /* Group commit: gather more batches up to the row limit or the interval. */
        while (item) {
            struct kpid_batch *b = (struct kpid_batch *)item;
            set[n++] = b;
            rows += kpid_batch_weight(b);
            if (rows >= w->max_rows || n > w->max_rows)
                break;
            item = kpid_queue_pop(w->q, atomic_load(&w->stopping) ? 0 : first_us + w->flush_us);
        }

        int r = write_with_retry(w, set, n);
        for (size_t i = 0; i < n; i++)
            kpid_source_batch_done(set[i], r == 0);
        if (r < 0) {
            size_t dropped = n;
            if (r == -EACCES)
                atomic_store(&w->gave_up_refused, true);
            while ((item = kpid_queue_pop(w->q, 0))) {
                kpid_source_batch_done((struct kpid_batch *)item, false);
                dropped++;
            }
            log_warning("writer stopped %s; batches=%zu were not committed and will be read "
                        "again at the next start",
                        r == -EACCES ? "because the warehouse refuses kpid's role"
                                     : "before the warehouse came back",
                        dropped);
            break;
        }
    }
    if (w->txn.conn)
        PQfinish(w->txn.conn);
    w->txn.conn = NULL;
    return NULL;
}

int kpid_writer_start(const kpid_writer_options *opt, kpid_queue *q, kpid_writer **ret_writer)
{
    kpid_writer *w = calloc(1, sizeof(*w));
    int r;

    if (!w)
        return -ENOMEM;
    w->warehouse = opt->warehouse;
    w->wait_notice_us = opt->wait_notice_ms * 1000;
    w->once = opt->once;
    w->txn.waiter = (kpid_pg_waiter){.waiting = statement_waiting, .arg = w};
    w->txn.done = statement_done;
    w->max_rows = (size_t)opt->batch_max_rows;
    w->set = calloc(w->max_rows + 1, sizeof(struct kpid_batch *));
    if (!w->set) {
        r = -ENOMEM;
        goto fail;
    }
    w->flush_us = opt->flush_interval_ms * 1000;
    w->q = q;
    /* Without it every correction costs a probe; a daemon short of 4 MiB does without. */
    if (kpid_bloom_init(&w->txn.committed_keys, BLOOM_BYTES) < 0)
        log_warning("writer runs without its filter of committed keys: out of memory");
    w->beat.name = "writer";
    kpid_liveness_add(&w->beat);
    atomic_store(&w->healthy, true); /* the warehouse was there at start */
    r = -pthread_create(&w->thread, NULL, writer_main, w);
    if (r < 0) {
        kpid_liveness_remove(&w->beat);
        goto fail;
    }
    *ret_writer = w;
    return 0;
fail:
    free(w->set);
    free(w);
    return r;
}

kpid_writer *kpid_writer_stop(kpid_writer *w, int64_t deadline_us)
{
    if (!w)
        return NULL;
    atomic_store(&w->deadline_us, deadline_us);
    atomic_store(&w->stopping, true);
    kpid_queue_wake(w->q);
    pthread_join(w->thread, NULL);
    kpid_liveness_remove(&w->beat);
    kpid__writer_txn_free(&w->txn);
    free(w->set);
    free(w);
    return NULL;
}

bool kpid_writer_healthy(kpid_writer *w)
{
    return atomic_load(&w->healthy);
}

const char *kpid_writer_state(kpid_writer *w, int64_t *ret_waited_s)
{
    int64_t since = atomic_load(&w->waiting_since_us), now = kpid_now_us();

    if (since && now - since >= WAITING_STATUS_US) {
        *ret_waited_s = (now - since) / 1000000;
        return "waiting";
    }
    if (atomic_load(&w->healthy))
        return "ok";
    return atomic_load(&w->role_refused) ? "refused" : "unavailable";
}

bool kpid_writer_refused(kpid_writer *w)
{
    return atomic_load(&w->gave_up_refused);
}
