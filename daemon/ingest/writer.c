#include "ingest/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/batch.h"
#include "ingest/runner.h"
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
/* After the second connection failed, the writer goes on with one this long. */
#define SECOND_CONNECT_US 10000000
/* The filter of committed keys: two generations of 4 MiB, 2.8M keys each. */
#define BLOOM_BYTES (8u << 20)

/* The states of the writer's warehouse (kpid_retry_state). */
enum { UNAVAILABLE = 1, REFUSED = 2 };

/*
 * One of the writer's two connections and the set of batches it writes. Two sets are
 * written at once, each on its connection and each by its slot's sender thread, when they
 * cannot wait for each other's locks (kpid__writer_txn_overlap): on a warehouse
 * with more than one core, two COPYs into kpid.event go nearly twice as fast as one.
 * And while one slot's COMMIT waits for the WAL flush, the other writes the next set:
 * a feed that waits for each commit (HL7 ACKs) gets its next transaction going without
 * waiting for the flush of the last. A COMMIT is sent only once the transaction before
 * it has committed, so transactions commit in the order of their sets, as with one
 * connection.
 */
typedef struct writer_slot {
    kpid__writer_txn txn;    /* the connection (txn.conn) and a transaction's steps */
    struct kpid_batch **set; /* the set's batches; a batch weighs at least one row, so
                                max_rows + 1 places suffice */
    size_t n;                /* batches in set */
    size_t rows;             /* their weight */
    kpid_runner sender;      /* runs the slot's send (slot_send) */
    int send_result;         /* the send's, its error in send_error */
    kpid__step_error send_error;
} writer_slot;

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

    /* Statements run on the writer's thread and on the senders'. */
    _Atomic bool wait_logged; /* the statement in progress was logged as blocked */
    _Atomic bool canceled;    /* a stop canceled a statement: stop writing */

    /* Writer thread only (a slot's txn: also its sender, while busy). */
    writer_slot slot[2];
    kpid_bloom committed_keys; /* keys committed, to predict corrections (both slots') */
    kpid_retry_state state;    /* the warehouse failing: UNAVAILABLE or REFUSED */
    uint64_t committed;        /* transactions committed */
    uint64_t at_once;          /* of those, sent while another was under way */
    uint64_t shared;           /* events staged because the one under way had their key */
    int64_t connect_after_us;  /* the second connection is tried again from then */
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
    if (!atomic_load(&w->wait_logged) && waited_us >= w->wait_notice_us &&
        !atomic_exchange(&w->wait_logged, true)) {
        char why[1024];
        kpid_beat_wait(&w->beat, true); /* asking the warehouse is a wait on it too */
        kpid_pg_describe_wait(w->warehouse, PQbackendPID(conn), why, sizeof(why));
        kpid_beat_wait(&w->beat, false);
        log_notice("warehouse statement waiting waited=%llds %s", (long long)(waited_us / 1000000),
                   why);
    }
    if (atomic_load(&w->stopping) &&
        (waited_us >= STOP_GRACE_US || now >= atomic_load(&w->deadline_us))) {
        if (!atomic_exchange(&w->canceled, true))
            log_notice("stopping: canceling the warehouse statement in progress waited=%.1fs; "
                       "its batches are read again at the next start",
                       (double)waited_us / 1e6);
        return true;
    }
    return false;
}

/* A statement watched by statement_waiting has its answer (the txn's done). */
static void statement_done(void *arg)
{
    kpid_writer *w = arg;
    int64_t since = atomic_exchange(&w->waiting_since_us, 0);

    if (atomic_exchange(&w->wait_logged, false))
        log_notice("warehouse statement done waited=%.1fs", (double)(kpid_now_us() - since) / 1e6);
    kpid_beat_now(&w->beat);
}

static bool give_up(kpid_writer *w)
{
    return atomic_load(&w->stopping) &&
           (atomic_load(&w->canceled) || kpid_now_us() >= atomic_load(&w->deadline_us));
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

/*
 * Connects t and prepares its session. A failure is said (set_down) unless quiet: the
 * second connection, which the writer can do without, fails quietly.
 */
static int connect_warehouse(kpid_writer *w, kpid__writer_txn *t, bool quiet, kpid__step_error *err)
{
    char *msg = NULL;
    int r;

    memset(err, 0, sizeof(*err));
    r = kpid_pg_open(w->warehouse, &t->conn, &msg);
    if (r < 0) {
        if (quiet)
            log_debug("writer: no second warehouse connection error=\"%s\"",
                      kpid_log_value(msg ? msg : "out of memory"));
        else
            set_down(w, "connect", NULL, msg ? msg : "out of memory", r == -EACCES);
        free(msg);
        t->conn = NULL;
        return -EIO;
    }
    if (kpid__writer_txn_prepare(t, err) < 0) {
        if (!quiet)
            set_down(w, "staging", err, err->message, kpid_pg_refused(err->state));
        PQfinish(t->conn);
        t->conn = NULL;
        return -EIO;
    }
    return 0;
}

static void disconnect(kpid__writer_txn *t)
{
    PQfinish(t->conn);
    t->conn = NULL;
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
 * A failed transaction on t: says what failed, as what it is, and drops the connection
 * when it is gone or the error is worth a new one.
 */
static void write_failed(kpid_writer *w, kpid__writer_txn *t, const kpid__step_error *err)
{
    if (strcmp(err->state, KPID_FENCED_STATE) == 0)
        return; /* not a failure: write_with_retry drops what another instance holds */
    if (err->transient || PQstatus(t->conn) != CONNECTION_OK) {
        set_down(w, "write", err, err->message, kpid_pg_refused(err->state));
        disconnect(t);
    } else if (!kpid_retry_failing(&w->state) && !kpid_pg_refused(err->state)) {
        /* Not the data, not the connection: a schema or permission problem an
         * operator must fix. Keep the data and keep trying; said once, as this. */
        atomic_store(&w->healthy, false);
        kpid_retry_failed(&w->state, UNAVAILABLE, kpid_now_us());
        log_err("warehouse write failed sqlstate=%s error=\"%s\"; the batches are "
                "kept and retried",
                err->state, kpid_log_value(err->message));
    } else
        set_down(w, "write", err, err->message, kpid_pg_refused(err->state));
}

/* Drops the batches of s for which stale(b, arg) holds, telling their sources. */
static void drop_batches(writer_slot *s, bool (*stale)(const struct kpid_batch *b, void *arg),
                         void *arg)
{
    size_t k = 0, dropped = 0;

    s->rows = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (stale(s->set[i], arg)) {
            kpid_source_batch_done(s->set[i], false);
            dropped++;
            continue;
        }
        s->rows += kpid_batch_weight(s->set[i]);
        s->set[k++] = s->set[i];
    }
    s->n = k;
    if (dropped)
        log_notice("writer dropped batches=%zu of sources another instance holds now", dropped);
}

static bool lease_lost_here(const struct kpid_batch *b, void *arg)
{
    (void)arg;
    return kpid_source_batch_stale(b);
}

/* b was read under another epoch than arg (a result of (source, epoch) rows) holds. */
static bool epoch_differs(const struct kpid_batch *b, void *arg)
{
    PGresult *res = arg;

    if (!b->epoch)
        return false;
    for (int i = 0; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), b->ctx->source) == 0)
            return strtoll(PQgetvalue(res, i, 1), NULL, 10) != b->epoch;
    return true;
}

/*
 * kpid.lease_check refused the set: drops its batches whose source has another epoch in
 * the warehouse now (another instance took it). Returns 0, or -EIO when the warehouse
 * cannot say.
 */
static int drop_fenced(kpid__writer_txn *t, writer_slot *s)
{
    PGresult *res = PQexec(t->conn, "SELECT source, epoch FROM kpid.source_lease");

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -EIO;
    }
    drop_batches(s, epoch_differs, res);
    PQclear(res);
    return 0;
}

/*
 * Writes the set of s on t (s's own connection or the other slot's), retrying until it
 * is durable or the writer gives up: -ECANCELED when stopping, -EACCES with --once when
 * the warehouse refuses kpid's role.
 */
static int write_with_retry(kpid_writer *w, kpid__writer_txn *t, writer_slot *s)
{
    kpid_backoff b = {.min = BACKOFF_MIN_US, .max = BACKOFF_MAX_US};
    kpid__step_error err;

    for (;;) {
        drop_batches(s, lease_lost_here, NULL);
        if (s->n == 0)
            return 0;
        if (give_up(w))
            return -ECANCELED;
        if (!t->conn && connect_warehouse(w, t, false, &err) < 0) {
            if (w->once && atomic_load(&w->role_refused))
                return -EACCES;
            backoff(w, &b);
            continue;
        }
        if (kpid__writer_txn_write(t, s->set, s->n, &err) == 0) {
            set_up(w);
            return 0;
        }
        if (w->once && kpid_pg_refused(err.state)) {
            set_down(w, "write", &err, err.message, kpid_pg_refused(err.state));
            return -EACCES;
        }
        if (strcmp(err.state, KPID_FENCED_STATE) == 0 && drop_fenced(t, s) == 0)
            continue;
        write_failed(w, t, &err);
        backoff(w, &b);
    }
}

/* Tells the sources of s's batches how their transaction ended; empties s. */
static void slot_done(kpid_writer *w, writer_slot *s, bool ok)
{
    w->committed += ok && s->n;
    for (size_t i = 0; i < s->n; i++)
        kpid_source_batch_done(s->set[i], ok);
    s->n = 0;
    s->rows = 0;
}

/*
 * Takes batches from the queue into s: the first one waiting up to first_deadline_us
 * (0: only looking), then more up to max_rows rows or the flush interval (group commit).
 * Returns false when there was none.
 */
static bool gather(kpid_writer *w, writer_slot *s, size_t max_rows, int64_t first_deadline_us)
{
    kpid_queue_item *item = kpid_queue_pop(w->q, first_deadline_us);
    int64_t first_us = kpid_now_us();

    while (item) {
        struct kpid_batch *b = (struct kpid_batch *)item;
        s->set[s->n++] = b;
        s->rows += kpid_batch_weight(b);
        if (s->rows >= max_rows || s->n > max_rows)
            break;
        item = kpid_queue_pop(w->q, atomic_load(&w->stopping) ? 0 : first_us + w->flush_us);
    }
    return s->n > 0;
}

/* The sender's job: the send of the slot's planned set. */
static void slot_send(void *arg)
{
    writer_slot *s = arg;

    s->send_result = kpid__writer_txn_send(&s->txn, s->set, s->n, &s->send_error);
}

/* Waits for the send of s; returns its result, with its error in *err. */
static int sent(writer_slot *s, kpid__step_error *err)
{
    kpid_runner_wait(&s->sender);
    *err = s->send_error;
    return s->send_result;
}

/*
 * Ends the transaction of p, whose send was started: waits for the send, sends the
 * COMMIT and waits for its answer. When any of that fails, p's set is written again on
 * its own (the outcome of a COMMIT whose answer never came is unknown; the rewrite is
 * idempotent). newer, the slot whose send was started after p's (or NULL), must not
 * commit before p: when p fails, newer is rolled back and written again after p, which
 * empties it. Returns 0 or what write_with_retry returns; the sources of every set it
 * ends are told.
 */
static int complete(kpid_writer *w, writer_slot *p, writer_slot *newer)
{
    kpid__step_error err;
    int r = sent(p, &err);

    if (r == 0)
        r = kpid__writer_txn_commit(&p->txn, &err);
    if (r == 0)
        r = kpid__writer_txn_finish(&p->txn, &err);
    if (r == 0) {
        set_up(w);
        slot_done(w, p, true);
        return 0;
    }
    if (p->txn.staged_in_tail && kpid__step_refused_row(&err))
        log_info("writer: the warehouse refused a staged row at commit sqlstate=%s; "
                 "writing the set again on its own",
                 err.state); /* where its bisection isolates the row */
    else
        write_failed(w, &p->txn, &err);
    if (newer) {
        kpid__step_error ignored;
        sent(newer, &ignored);
        kpid__writer_txn_abort(&newer->txn);
    }
    r = write_with_retry(w, &p->txn, p);
    slot_done(w, p, r == 0);
    if (newer) {
        if (r == 0)
            r = write_with_retry(w, &newer->txn, newer);
        slot_done(w, newer, r == 0);
    }
    return r;
}

/* Moves s's set to the other slot, which is free; returns that slot. */
static writer_slot *swap_sets(kpid_writer *w, writer_slot *s)
{
    writer_slot *o = &w->slot[s == &w->slot[0]];
    struct kpid_batch **set = o->set;

    o->set = s->set;
    o->n = s->n;
    o->rows = s->rows;
    s->set = set;
    s->n = 0;
    s->rows = 0;
    return o;
}

/*
 * Writes the set of s. *older is the slot whose send was started before (or NULL). When
 * s's transaction can overlap older's (kpid__writer_txn_overlap) and s has
 * a connection of its own, s's send starts at once, older is completed meanwhile (its
 * COMMIT goes first), and *older becomes s, under way. Otherwise older is completed
 * first, and s is sent then (*older = s) or, without a connection of its own, written on
 * the other one with retries (*older = NULL). Returns 0, or -ECANCELED / -EACCES when
 * the writer gives up (every batch of both slots told).
 */
static int write_slot(kpid_writer *w, writer_slot *s, writer_slot **older)
{
    writer_slot *p = *older;
    kpid__step_error err;
    int r;

    drop_batches(s, lease_lost_here, NULL);
    if (s->n == 0)
        return 0;
    *older = NULL;
    if (!s->txn.conn && !p && w->slot[s == &w->slot[0]].txn.conn)
        s = swap_sets(w, s); /* nothing under way: write on the connection there is */
    if (!s->txn.conn && p && !give_up(w) && kpid_now_us() >= w->connect_after_us &&
        connect_warehouse(w, &s->txn, true, &err) < 0)
        w->connect_after_us = kpid_now_us() + SECOND_CONNECT_US;
    if (s->txn.conn)
        kpid__writer_txn_plan(&s->txn, s->set, s->n);
    if (p && (!s->txn.conn || give_up(w) ||
              !kpid__writer_txn_overlap(&p->txn, p->set, p->n, &s->txn, s->set, s->n))) {
        r = complete(w, p, NULL);
        p = NULL;
        if (r < 0) {
            slot_done(w, s, false);
            return r;
        }
        if (s->txn.conn) /* again: older's keys are committed now */
            kpid__writer_txn_plan(&s->txn, s->set, s->n);
    }
    if (!s->txn.conn || give_up(w)) {
        /* On its own: on s's connection, or the other slot's when s has none. */
        if (!s->txn.conn && w->slot[s == &w->slot[0]].txn.conn)
            s = swap_sets(w, s);
        r = write_with_retry(w, &s->txn, s);
        slot_done(w, s, r == 0);
        return r;
    }
    kpid_runner_start(&s->sender, slot_send, s);
    if (p) {
        w->at_once++;
        w->shared += s->txn.shared;
        r = complete(w, p, s);
        if (s->n == 0) /* p failed: s was written after it */
            return r;
    }
    *older = s;
    return 0;
}

static void *writer_main(void *arg)
{
    kpid_writer *w = arg;
    writer_slot *older = NULL; /* the slot whose send was started, not yet completed */
    /* A set weighs at most half of max_rows, so that two under way together weigh no
     * more than one did with a single connection. */
    size_t cap = w->max_rows > 1 ? w->max_rows / 2 : 1;
    int r = 0;

    for (;;) {
        writer_slot *s = older == &w->slot[0] ? &w->slot[1] : &w->slot[0];

        kpid_beat_now(&w->beat);
        if (older) {
            size_t room = w->max_rows > older->rows ? w->max_rows - older->rows : 0;
            if (room == 0 || !gather(w, s, room < cap ? room : cap, 0)) {
                r = complete(w, older, NULL);
                older = NULL;
                if (r < 0)
                    break;
                continue;
            }
        } else if (!gather(w, s, cap, atomic_load(&w->stopping) ? 0 : kpid_now_us() + 500000)) {
            if (atomic_load(&w->stopping))
                break;
            continue;
        }
        if ((r = write_slot(w, s, &older)) < 0)
            break;
    }
    if (older)
        r = complete(w, older, NULL);
    if (r < 0) {
        size_t dropped = 0;
        kpid_queue_item *item;
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
    }
    log_info("writer stopped transactions=%llu at_once=%llu shared_keys=%llu",
             (unsigned long long)w->committed, (unsigned long long)w->at_once,
             (unsigned long long)w->shared);
    for (int i = 0; i < 2; i++) {
        kpid_runner_wait(&w->slot[i].sender);
        if (w->slot[i].txn.conn)
            disconnect(&w->slot[i].txn);
    }
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
    w->max_rows = (size_t)opt->batch_max_rows;
    for (int i = 0; i < 2; i++)
        kpid_runner_init(&w->slot[i].sender);
    for (int i = 0; i < 2; i++) {
        writer_slot *s = &w->slot[i];
        s->txn.waiter = (kpid_pg_waiter){.waiting = statement_waiting, .arg = w};
        s->txn.done = statement_done;
        s->txn.committed_keys = &w->committed_keys;
        s->set = calloc(w->max_rows + 1, sizeof(struct kpid_batch *));
        if (!s->set) {
            r = -ENOMEM;
            goto fail;
        }
    }
    w->flush_us = opt->flush_interval_ms * 1000;
    w->q = q;
    /* Without it every correction costs a probe; a daemon short of 4 MiB does without. */
    if (kpid_bloom_init(&w->committed_keys, BLOOM_BYTES) < 0)
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
    for (int i = 0; i < 2; i++) {
        free(w->slot[i].set);
        kpid_runner_destroy(&w->slot[i].sender);
    }
    kpid_bloom_free(&w->committed_keys);
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
    for (int i = 0; i < 2; i++) {
        kpid_runner_destroy(&w->slot[i].sender);
        kpid__writer_txn_free(&w->slot[i].txn);
        free(w->slot[i].set);
    }
    kpid_bloom_free(&w->committed_keys);
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
