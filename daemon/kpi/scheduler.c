#include "kpi/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingest/batch.h"
#include "kpi/kpi_dirty.h"
#include "kpi/kpi_eval.h"
#include "kpi/kpi_sql.h"
#include "ops/log.h"
#include "warehouse/pgconn.h"
#include "ingest/queue.h"

#define BACKOFF_MIN_US 200000
#define BACKOFF_MAX_US 5000000
/* A thread waiting for a firing reads the wall clock again at least this often, so that
 * a clock step or a suspend delays no firing by more than that. */
#define WALL_SLICE_US 10000000
/* Threads still busy this long before the stop deadline get their connection shut. */
#define SHUTDOWN_BEFORE_US 1000000
/* A catch-up that finds its process's lock taken tries again after this long. */
#define CATCHUP_RETRY_US 10000000
/* How often the server checks that a scheduler's connection is still there. */
#define CLIENT_CHECK "5s"
/* --once waits this long for a process's lock held by another instance. */
#define ONCE_LOCK_WAIT_US (60 * 1000000LL)

/* The advisory lock of a process; $1 is its id. */
#define LOCK_KEY "hashtextextended('kpid.process:' || $1, 0)"

static const char REASON_SCHEDULE[] = "schedule";
static const char REASON_CATCHUP[] = "catchup";
static const char REASON_LATE[] = "late";
static const char REASON_DEFINITION[] = "definition"; /* a recompute: it changed */

static _Atomic uint64_t kpi_runs;

typedef struct proc_thread {
    struct kpid_scheduler *s;
    const kpid_process *process;
    pthread_t thread;
    _Atomic bool finished;
    int fd;     /* guarded by s->lock: the connection's socket while connected, else -1 */
    int sql_fd; /* guarded by s->lock: the socket of sql's connection while open, else -1 */

    /* The thread only. */
    PGconn *conn;
    kpid_sql_conn sql;      /* where the process's sql KPIs run, opened at the first */
    bool down;              /* the warehouse is failing this thread; logged */
    int64_t down_since_us;
    unsigned attempts;      /* failed attempts since down */
    bool failing;           /* evaluations of the process are failing; logged */
    bool never_fires;       /* the schedule has no firing left; logged */
    int64_t backoff_us;
    unsigned seed;          /* for the backoff's jitter */
} proc_thread;

struct kpid_scheduler {
    kpid_scheduler_options opt; /* immutable */
    proc_thread *threads;       /* one per process with KPIs; the first n_started run */
    size_t n_started;

    pthread_mutex_t lock;       /* guards stopping (writes), cond and every thread's fd */
    pthread_cond_t cond;        /* broadcast at stop; CLOCK_MONOTONIC */
    _Atomic bool stopping;

    pthread_mutex_t sync_lock;  /* held by the thread syncing the model, and guards: */
    bool synced;                /* the model is in the warehouse */
    bool sync_down;             /* syncing failed; logged */
};

uint64_t kpid_scheduler_runs(void)
{
    return atomic_load(&kpi_runs);
}

/* The wall clock in seconds, from the clock the waits for firings read: time() may be a
 * coarser clock that lags behind it across a second's boundary. */
static int64_t wall_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static bool stop_requested(const kpid_scheduler *s)
{
    return s && atomic_load(&s->stopping);
}

/* ---- one tick --------------------------------------------------------------------- */

typedef struct tick_options {
    kpid_scheduler *s;              /* stop between KPIs when it is stopping; may be NULL */
    bool dedupe;                    /* skip KPIs another instance evaluated for the firing */
    int64_t lock_wait_us;           /* 0: skip the tick when the lock is taken */
    enum kpid_log_level fail_level; /* for each failed evaluation */
    kpid_sql_conn *sql;             /* the connection for sql KPIs (the thread's) */
} tick_options;

typedef struct tick_result {
    int evaluated, skipped, failed;
    int late;              /* evaluations of periods made dirty by late or corrected events */
    int recomputed;        /* evaluations of history after a definition changed */
    int64_t changes;       /* event versions written since the watermark */
    int64_t values;
    char *error;           /* the first evaluation error, or what broke the connection */
    const char *error_kpi; /* the KPI of error, when an evaluation failed */
} tick_result;

static void set_error(tick_result *res, const char *kpi_id, char *error)
{
    free(res->error);
    res->error = error;
    res->error_kpi = kpi_id;
}

/* Runs a query with text parameters that returns tuples or nothing; the caller clears
 * *ret_res. Returns 0, or -ENOTCONN with the reason in res->error. */
static int query(PGconn *conn, const char *sql, int n, const char *const *params,
                 PGresult **ret_res, tick_result *res)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    char *msg;

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *ret_res = r;
        return 0;
    }
    msg = strdup(kpid_pg_error_line(conn, r));
    PQclear(r);
    set_error(res, NULL, msg);
    return -ENOTCONN;
}

/*
 * Takes the process's advisory lock. Returns 0; -EAGAIN when another session holds it
 * (after waiting up to wait_us); -ENOTCONN.
 */
static int take_lock(PGconn *conn, const kpid_process *p, int64_t wait_us, tick_result *res)
{
    const char *params[] = {p->id};
    int64_t until = kpid_now_us() + wait_us;

    for (;;) {
        PGresult *r = NULL;
        bool got;

        if (query(conn, "SELECT pg_try_advisory_lock(" LOCK_KEY ")", 1, params, &r, res) < 0)
            return -ENOTCONN;
        got = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (got)
            return 0;
        if (kpid_now_us() >= until)
            return -EAGAIN;
        usleep(200000);
    }
}

static int release_lock(PGconn *conn, const kpid_process *p, tick_result *res)
{
    const char *params[] = {p->id};
    PGresult *r = NULL;

    if (query(conn, "SELECT pg_advisory_unlock(" LOCK_KEY ")", 1, params, &r, res) < 0)
        return -ENOTCONN;
    PQclear(r);
    return 0;
}

/*
 * The process's successful runs that started at or after since_s, with reason
 * "schedule" for a scheduled tick (a catch-up is no firing: one just before a firing
 * does not replace it), with reason "schedule" or "catchup" for a catch-up: kpi_id,
 * period_start and period_end (epoch seconds). The caller clears *ret_runs.
 */
static int recent_runs(PGconn *conn, const kpid_process *p, const char *reason, int64_t since_s,
                       PGresult **ret_runs, tick_result *res)
{
    char since[32];
    const char *params[] = {p->id, since, reason};

    snprintf(since, sizeof(since), "%lld", (long long)since_s);
    return query(conn,
                 "SELECT kpi_id, extract(epoch FROM period_start)::float8,"
                 " extract(epoch FROM period_end)::float8 FROM kpid.kpi_run"
                 " WHERE process_id = $1 AND started_at >= to_timestamp($2::float8)"
                 " AND error IS NULL AND reason IN ('schedule', $3)",
                 3, params, ret_runs, res);
}

/*
 * True when runs hold an evaluation of kpi's open period for the firing fire_s: the
 * same calendar period, or a rolling window of the same length ending at or after the
 * firing. (The runs started at most firing_skew() before the firing.)
 */
static bool evaluated_elsewhere(const PGresult *runs, const kpid_kpi *kpi,
                                const kpid_interval *open, int64_t fire_s)
{
    for (int i = 0; runs && i < PQntuples(runs); i++) {
        int64_t start, end;

        if (strcmp(PQgetvalue(runs, i, 0), kpi->id) != 0)
            continue;
        start = (int64_t)strtod(PQgetvalue(runs, i, 1), NULL);
        end = (int64_t)strtod(PQgetvalue(runs, i, 2), NULL);
        if (kpi->period.kind == KPID_PERIOD_ROLLING) {
            if (end >= fire_s && end - start == open->end - open->start)
                return true;
        } else if (start == open->start && end == open->end)
            return true;
    }
    return false;
}

/* Evaluates one period of a KPI. Returns 0 (also when the evaluation failed: it is
 * counted and recorded) or -ENOTCONN. */
static int evaluate(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, bool partial,
                    const char *reason, const tick_options *opt, tick_result *res)
{
    char *error = NULL;
    int written = 0;

    if (kpid_kpi_evaluate(conn, opt->sql, kpi, iv, partial, reason, &written, &error) == 0) {
        atomic_fetch_add(&kpi_runs, 1);
        res->evaluated++;
        res->values += written;
        return 0;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        set_error(res, NULL, error);
        return -ENOTCONN;
    }
    res->failed++;
    kpid_log(opt->fail_level, "process=%s kpi=%s evaluation failed partial=%s error=\"%s\"",
             kpi->process->id, kpi->id, partial ? "yes" : "no",
             kpid_log_value(error ? error : "out of memory"));
    if (!res->error)
        set_error(res, kpi->id, error);
    else
        free(error);
    return 0;
}

/* ---- late and corrected events ------------------------------------------------------ */

/* What a tick knows of the changes since its process's watermark. */
typedef struct tick_changes {
    bool loaded;    /* the changes since the watermark are in kpid_changed (kpi_dirty.h) */
    bool failed;    /* a dirty period was not found or not evaluated: keep the watermark */
    char *snapshot; /* the snapshot taken before the tick: the next watermark; owned */
} tick_changes;

/*
 * Takes the snapshot that becomes the process's watermark after the tick and loads
 * the changes since its last one. Without a watermark (the first tick of a process)
 * nothing is dirty: history is `kpid backfill`'s. Returns 0 (a failure other than the
 * connection's is logged and keeps the watermark: the next tick finds those changes
 * again) or -ENOTCONN.
 */
static int changes_begin(PGconn *conn, const kpid_process *p, const tick_options *opt,
                         tick_changes *ch, tick_result *res)
{
    const char *params[] = {p->id};
    PGresult *r = NULL;
    char *error = NULL;

    if (query(conn,
              "SELECT pg_current_snapshot()::text, (SELECT snapshot::text"
              " FROM kpid.process_watermark WHERE process_id = $1)",
              1, params, &r, res) < 0)
        return -ENOTCONN;
    ch->snapshot = strdup(PQgetvalue(r, 0, 0));
    if (!ch->snapshot) {
        ch->failed = true;
    } else if (PQgetisnull(r, 0, 1)) {
        log_info("process=%s has no watermark yet: late events are tracked from now on "
                 "(earlier history: kpid backfill)",
                 p->id);
    } else if (kpid_changes_load(conn, PQgetvalue(r, 0, 1), ch->snapshot, &res->changes,
                                 &error) == 0) {
        ch->loaded = true;
    } else if (PQstatus(conn) != CONNECTION_OK) {
        PQclear(r);
        set_error(res, NULL, error);
        return -ENOTCONN;
    } else {
        kpid_log(opt->fail_level, "process=%s cannot read late and corrected events error=\"%s\"",
                 p->id, kpid_log_value(error ? error : "out of memory"));
        ch->failed = true;
        res->failed++;
        if (!res->error)
            set_error(res, NULL, error);
        else
            free(error);
    }
    PQclear(r);
    return 0;
}

/*
 * After a tick that evaluated every dirty period: stores the tick's snapshot as the
 * process's watermark, and drops the versions of changed events that every process's
 * watermark has passed. Returns 0 or -ENOTCONN.
 */
static int changes_commit(PGconn *conn, const kpid_process *p, const tick_changes *ch,
                          tick_result *res)
{
    const char *params[] = {p->id, ch->snapshot};
    PGresult *r = NULL;

    if (ch->failed || !ch->snapshot)
        return 0;
    if (query(conn,
              "INSERT INTO kpid.process_watermark (process_id, snapshot)"
              " VALUES ($1, $2::pg_snapshot) ON CONFLICT (process_id) DO UPDATE"
              " SET snapshot = EXCLUDED.snapshot, updated_at = now()",
              2, params, &r, res) < 0)
        return -ENOTCONN;
    PQclear(r);
    /* A version goes once every watermark has seen it: visible in its snapshot (not
     * merely below its xmin, which any open transaction of the cluster holds back). A
     * process no longer configured (no active KPI) holds nothing back. */
    if (query(conn,
              "DELETE FROM kpid.event_change c WHERE NOT EXISTS (SELECT FROM"
              " kpid.process_watermark w WHERE NOT pg_visible_in_snapshot(c.ingest_xid, w.snapshot)"
              " AND EXISTS (SELECT FROM kpid.kpi k WHERE k.process_id = w.process_id AND k.active))",
              0, NULL, &r, res) < 0)
        return -ENOTCONN;
    PQclear(r);
    return 0;
}

/*
 * True when the period before the open one needs its complete evaluation: it has no
 * values, or they were computed while it was open (partial). Sets *ret. Returns 0 or
 * -ENOTCONN.
 */
static int prev_unsettled(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *prev,
                          bool *ret, tick_result *res)
{
    char start[40];
    const char *params[] = {kpi->id, start};
    PGresult *r = NULL;

    if (kpid_format_time(prev->start * 1000000, start) < 0) {
        *ret = true; /* the evaluation reports it */
        return 0;
    }
    if (query(conn,
              "SELECT count(*) = 0 OR bool_or(partial) FROM kpid.kpi_value"
              " WHERE kpi_id = $1 AND period_start = $2",
              2, params, &r, res) < 0)
        return -ENOTCONN;
    *ret = PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "f") != 0;
    PQclear(r);
    return 0;
}

/* Evaluates, with reason "late", the periods of kpi the changes made dirty, except
 * those the tick evaluates anyway (done, n_done). */
static int tick_dirty(PGconn *conn, const kpid_kpi *kpi, int64_t now, const kpid_interval *done,
                      size_t n_done, const tick_options *opt, tick_changes *ch, tick_result *res)
{
    kpid_interval *dirty = NULL;
    size_t n = 0;
    char *error = NULL;
    int r = 0;

    if (kpid_kpi_dirty(conn, kpi, now, &dirty, &n, &error) < 0) {
        if (PQstatus(conn) != CONNECTION_OK) {
            set_error(res, NULL, error);
            return -ENOTCONN;
        }
        kpid_log(opt->fail_level, "process=%s kpi=%s cannot find its dirty periods error=\"%s\"",
                 kpi->process->id, kpi->id, kpid_log_value(error ? error : "out of memory"));
        ch->failed = true;
        res->failed++;
        if (!res->error)
            set_error(res, kpi->id, error);
        else
            free(error);
        return 0;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        bool skip = false;
        int failed = res->failed;

        for (size_t j = 0; j < n_done; j++)
            skip = skip || dirty[i].start == done[j].start;
        if (skip)
            continue;
        if (stop_requested(opt->s)) {
            r = -ECANCELED;
            break;
        }
        r = evaluate(conn, kpi, &dirty[i], /* partial= */ dirty[i].end > now, REASON_LATE, opt,
                     res);
        res->late++;
        if (res->failed != failed)
            ch->failed = true;
    }
    free(dirty);
    return r;
}

/*
 * The KPIs of process p whose definition changed (kpid.kpi.recompute_from, set by the
 * model sync): id, version_hash, recompute_from as text and as epoch seconds. The
 * caller clears *ret_pending. Returns 0 or -ENOTCONN.
 */
static int recompute_pending(PGconn *conn, const kpid_process *p, PGresult **ret_pending,
                             tick_result *res)
{
    const char *params[] = {p->id};

    return query(conn,
                 "SELECT id, version_hash, recompute_from::text,"
                 " floor(extract(epoch FROM recompute_from))::bigint FROM kpid.kpi"
                 " WHERE process_id = $1 AND active AND recompute_from IS NOT NULL",
                 1, params, ret_pending, res);
}

/* The row of pending for the KPI with that id, or -1. */
static int pending_row(const PGresult *pending, const char *id)
{
    for (int i = 0; pending && i < PQntuples(pending); i++)
        if (strcmp(PQgetvalue(pending, i, 0), id) == 0)
            return i;
    return -1;
}

/*
 * Recomputes kpi's history after a change of its definition: every period from the one
 * containing its recompute_from (for a ratio without its own, the earlier of its
 * parts') up to those the tick evaluates anyway (done), with reason "definition"; then
 * clears recompute_from unless the definition changed again meanwhile. Nothing is
 * cleared when an evaluation failed: the next tick tries again.
 */
static int tick_recompute(PGconn *conn, const kpid_kpi *kpi, const PGresult *pending, int64_t now,
                          const kpid_interval *done, size_t n_done, const tick_options *opt,
                          tick_result *res)
{
    const kpid_tz *tz = kpi->process->tz;
    int row = pending_row(pending, kpi->id);
    int64_t from = INT64_MAX;
    kpid_interval iv;
    int failed = res->failed, r = 0;

    if (kpi->period.kind == KPID_PERIOD_ROLLING)
        return 0;
    if (row >= 0)
        from = strtoll(PQgetvalue(pending, row, 3), NULL, 10);
    else if (kpi->type == KPID_KPI_RATIO) {
        /* A part recomputed in this tick (it comes first) changes the ratio too. */
        const char *parts[] = {kpi->u.ratio.numerator, kpi->u.ratio.denominator};
        for (size_t i = 0; i < 2; i++) {
            int k = pending_row(pending, parts[i]);
            int64_t t = k >= 0 ? strtoll(PQgetvalue(pending, k, 3), NULL, 10) : INT64_MAX;
            from = t < from ? t : from;
        }
    }
    if (from == INT64_MAX)
        return 0;
    if (kpid_period_containing(&kpi->period, tz, from, &iv) < 0)
        return 0; /* nothing the calendar can name: nothing to recompute */
    for (int guard = 0; iv.start < now && r == 0 && guard < 100000; guard++) {
        bool skip = false;
        for (size_t j = 0; j < n_done; j++)
            skip = skip || iv.start == done[j].start;
        if (stop_requested(opt->s))
            return -ECANCELED;
        if (!skip) {
            r = evaluate(conn, kpi, &iv, /* partial= */ iv.end > now, REASON_DEFINITION, opt, res);
            res->recomputed++;
        }
        if (r == 0 && kpid_period_next(&kpi->period, tz, &iv, &iv) < 0)
            break;
    }
    if (r == 0 && row >= 0 && res->failed == failed) {
        const char *params[] = {kpi->id, PQgetvalue(pending, row, 1), PQgetvalue(pending, row, 2)};
        PGresult *done_res = NULL;
        r = query(conn,
                  "UPDATE kpid.kpi SET recompute_from = NULL WHERE id = $1"
                  " AND version_hash = $2 AND recompute_from = $3::timestamptz",
                  3, params, &done_res, res);
        PQclear(done_res);
    }
    return r;
}

/*
 * Evaluates kpi at now: the open period; for a calendar period, the one before when it
 * has just closed (or at a catch-up); and the periods late and corrected events made
 * dirty.
 */
static int tick_kpi(PGconn *conn, const kpid_kpi *kpi, int64_t now, int64_t fire_s,
                    const PGresult *runs, const PGresult *pending, const char *reason,
                    const tick_options *opt, tick_changes *ch, tick_result *res)
{
    const kpid_tz *tz = kpi->process->tz;
    bool rolling = kpi->period.kind == KPID_PERIOD_ROLLING;
    kpid_interval done[2];
    size_t n_done = 0;
    int r = 0;

    if (kpid_period_containing(&kpi->period, tz, now, &done[0]) < 0 ||
        (!rolling && kpid_period_prev(&kpi->period, tz, &done[0], &done[1]) < 0)) {
        res->failed++;
        ch->failed = ch->failed || ch->loaded;
        kpid_log(opt->fail_level, "process=%s kpi=%s no period contains now",
                 kpi->process->id, kpi->id);
        if (!res->error)
            set_error(res, kpi->id, strdup("no period contains now"));
        return 0;
    }
    n_done = 1;
    if (opt->dedupe && evaluated_elsewhere(runs, kpi, &done[0], fire_s)) {
        res->skipped++;
    } else {
        bool unsettled = false;

        /* A rolling window ending now is complete by definition. */
        r = evaluate(conn, kpi, &done[0], /* partial= */ !rolling, reason, opt, res);
        if (r == 0 && !rolling && reason != REASON_CATCHUP)
            r = prev_unsettled(conn, kpi, &done[1], &unsettled, res);
        if (r == 0 && !rolling && (unsettled || reason == REASON_CATCHUP)) {
            r = evaluate(conn, kpi, &done[1], /* partial= */ false, reason, opt, res);
            n_done = 2;
        }
    }
    if (r == 0 && ch->loaded)
        r = tick_dirty(conn, kpi, now, done, n_done, opt, ch, res);
    if (r == 0)
        r = tick_recompute(conn, kpi, pending, now, done, n_done, opt, res);
    return r;
}

/*
 * One tick of a process for the firing fire_s (for a catch-up, the time it was decided):
 * under the process's advisory lock, evaluates every KPI (non-ratio ones first) as the
 * header says. Returns 0 when every KPI was evaluated or skipped (failed evaluations
 * are counted in res), -EAGAIN when the lock was taken, -ENOTCONN when the connection
 * failed (res->error says why) or -ECANCELED when the scheduler stops. The caller frees
 * res->error.
 */
/*
 * How far before a firing another instance's run still counts as that firing's:
 * KPID_SCHEDULER_SKEW_S, but less than half the time to the next firing, so that with
 * a schedule of seconds a run of the previous firing never counts.
 */
static int64_t firing_skew(const kpid_process *p, int64_t fire_s)
{
    int64_t next;

    if (kpid_cron_next(&p->schedule, p->tz, fire_s, &next) == 0 &&
        (next - fire_s) / 2 < KPID_SCHEDULER_SKEW_S)
        return (next - fire_s) / 2;
    return KPID_SCHEDULER_SKEW_S;
}

static int run_tick(PGconn *conn, const kpid_process *p, const char *reason, int64_t fire_s,
                    const tick_options *opt, tick_result *res)
{
    PGresult *runs = NULL, *pending = NULL;
    tick_changes ch = {0};
    int64_t now;
    int r;

    if (p->n_kpis == 0)
        return 0;
    if ((r = take_lock(conn, p, opt->lock_wait_us, res)) < 0)
        return r;
    if (opt->dedupe)
        r = recent_runs(conn, p, reason, fire_s - firing_skew(p, fire_s), &runs, res);
    if (r == 0)
        r = changes_begin(conn, p, opt, &ch, res);
    if (r == 0)
        r = recompute_pending(conn, p, &pending, res);
    /* Never before the firing: a rolling window of the firing ends at or after it. */
    now = wall_now_s();
    if (now < fire_s)
        now = fire_s;
    /* Ratios read the values of other KPIs: they come last. */
    for (int pass = 0; pass < 2 && r == 0; pass++)
        for (size_t i = 0; i < p->n_kpis && r == 0; i++) {
            const kpid_kpi *kpi = &p->kpis[i];
            if ((kpi->type == KPID_KPI_RATIO) != (pass == 1))
                continue;
            if (stop_requested(opt->s))
                r = -ECANCELED;
            else
                r = tick_kpi(conn, kpi, now, fire_s, runs, pending, reason, opt, &ch, res);
        }
    PQclear(runs);
    PQclear(pending);
    if (r == 0)
        r = changes_commit(conn, p, &ch, res);
    free(ch.snapshot);
    /* On a broken connection the server has released the lock already. */
    if (PQstatus(conn) == CONNECTION_OK && release_lock(conn, p, res) < 0 && r == 0)
        r = -ENOTCONN;
    return r;
}

/* ---- the thread of a process ---------------------------------------------------------- */

/* Waits up to us, or until the scheduler stops; returns false when it stops. */
static bool nap(kpid_scheduler *s, int64_t us)
{
    struct timespec ts;
    bool go;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += us / 1000000;
    ts.tv_nsec += (us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->stopping))
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
            break;
    go = !atomic_load(&s->stopping);
    pthread_mutex_unlock(&s->lock);
    return go;
}

/* Waits until the wall clock reaches at_s; returns false when the scheduler stops. */
static bool sleep_until(kpid_scheduler *s, int64_t at_s)
{
    for (;;) {
        struct timespec now;
        int64_t left;

        clock_gettime(CLOCK_REALTIME, &now);
        left = (at_s - (int64_t)now.tv_sec) * 1000000 - now.tv_nsec / 1000;
        if (left <= 0)
            return !stop_requested(s);
        if (!nap(s, left < WALL_SLICE_US ? left : WALL_SLICE_US))
            return false;
    }
}

/* Sleeps the backoff (with up to 25% jitter) and doubles it, up to its cap. */
static void backoff(proc_thread *t)
{
    int64_t jitter = (int64_t)(rand_r(&t->seed) % (unsigned)(t->backoff_us / 4 + 1));

    nap(t->s, t->backoff_us + jitter);
    t->backoff_us = t->backoff_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : t->backoff_us * 2;
}

static void set_down(proc_thread *t, const char *step, const char *error)
{
    t->attempts++;
    if (t->down || stop_requested(t->s))
        return;
    t->down = true;
    t->down_since_us = kpid_now_us();
    log_warning("process=%s warehouse unavailable to the scheduler step=%s error=\"%s\"; "
                "retrying with backoff",
                t->process->id, step, kpid_log_value(error ? error : "out of memory"));
}

static void set_up(proc_thread *t)
{
    if (t->down)
        log_notice("process=%s warehouse available to the scheduler again after=%.1fs "
                   "attempts=%u",
                   t->process->id, (double)(kpid_now_us() - t->down_since_us) / 1e6,
                   t->attempts);
    t->down = false;
    t->attempts = 0;
    t->backoff_us = BACKOFF_MIN_US;
}

/* Closes the thread's connections (sql KPIs' too). */
static void drop_connection(proc_thread *t)
{
    kpid_sql_conn_close(&t->sql);
    if (!t->conn)
        return;
    pthread_mutex_lock(&t->s->lock);
    t->fd = -1;
    pthread_mutex_unlock(&t->s->lock);
    PQfinish(t->conn);
    t->conn = NULL;
}

/* sql's publish (kpi_sql.h): the socket is shut down by a stop, as t->fd is. */
static bool publish_sql_fd(void *arg, int fd)
{
    proc_thread *t = arg;
    bool ok;

    pthread_mutex_lock(&t->s->lock);
    ok = fd < 0 || !atomic_load(&t->s->stopping);
    t->sql_fd = ok ? fd : -1;
    pthread_mutex_unlock(&t->s->lock);
    return ok;
}

static int connect_warehouse(proc_thread *t)
{
    kpid_scheduler *s = t->s;
    char *error = NULL;
    PGconn *conn = NULL;

    if (kpid_pg_open(s->opt.warehouse, &conn, &error) < 0) {
        set_down(t, "connect", error);
        free(error);
        return -EIO;
    }
    /* A query ended by a stop (its connection shut down) should not go on holding the
     * process's lock in the server: PostgreSQL 14 and later check for a vanished client
     * while a query runs. Older servers refuse the setting, which is fine. */
    PQclear(PQexec(conn, "SET client_connection_check_interval = '" CLIENT_CHECK "'"));
    /* Published under the lock, so that a stop that has begun cannot miss it. */
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping)) {
        t->fd = PQsocket(conn);
        t->conn = conn;
    }
    pthread_mutex_unlock(&s->lock);
    if (!t->conn) {
        PQfinish(conn);
        return -ECANCELED;
    }
    return 0;
}

/* Syncs the model unless a thread did; the first thread to get here does it. */
static int ensure_synced(proc_thread *t)
{
    kpid_scheduler *s = t->s;
    char *error = NULL;
    int r = 0;

    pthread_mutex_lock(&s->sync_lock);
    if (!s->synced && !stop_requested(s)) {
        r = kpid_model_sync(t->conn, s->opt.model, &error);
        if (r == 0) {
            s->synced = true;
            log_info("model synced into the warehouse objectives=%zu processes=%zu kpis=%zu",
                     s->opt.model->n_objectives, s->opt.model->n_processes,
                     s->opt.model->n_kpis);
            if (s->sync_down)
                log_notice("model synced after failures");
            s->sync_down = false;
        } else if (!s->sync_down && PQstatus(t->conn) == CONNECTION_OK && !stop_requested(s)) {
            /* Not the connection: schema or permissions. Every thread waits for it. */
            log_err("cannot sync the model into the warehouse error=\"%s\"; no KPI is "
                    "evaluated until it succeeds; retrying with backoff",
                    kpid_log_value(error ? error : "out of memory"));
            s->sync_down = true;
        }
    }
    pthread_mutex_unlock(&s->sync_lock);
    if (r < 0 && PQstatus(t->conn) != CONNECTION_OK) {
        set_down(t, "sync", error);
        drop_connection(t);
    }
    free(error);
    return r;
}

/*
 * Decides whether the thread starts with a catch-up tick: when the process never ran
 * (no successful schedule or catch-up run) or a firing came after its last run.
 * Returns 0 with *ret_catchup set, or -ENOTCONN (t->conn is dropped).
 */
static int decide_catchup(proc_thread *t, int64_t now, bool *ret_catchup)
{
    const kpid_process *p = t->process;
    const char *params[] = {p->id};
    tick_result res = {0};
    PGresult *r = NULL;

    if (query(t->conn,
              "SELECT extract(epoch FROM max(started_at))::float8 FROM kpid.kpi_run"
              " WHERE process_id = $1 AND error IS NULL AND reason IN ('schedule', 'catchup')",
              1, params, &r, &res) < 0) {
        set_down(t, "last run", res.error);
        free(res.error);
        drop_connection(t);
        return -ENOTCONN;
    }
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        log_info("process=%s has never run: catching up now", p->id);
        *ret_catchup = true;
    } else {
        int64_t last = (int64_t)strtod(PQgetvalue(r, 0, 0), NULL), next;
        *ret_catchup = kpid_cron_next(&p->schedule, p->tz, last, &next) == 0 && next <= now;
        if (*ret_catchup)
            log_info("process=%s missed a firing since its last run ago=%llds: catching up now",
                     p->id, (long long)(now - last));
    }
    PQclear(r);
    return 0;
}

/* The next firing after now, or -1 when there is none. */
static int64_t next_firing(proc_thread *t, int64_t now)
{
    const kpid_process *p = t->process;
    int64_t next;

    if (kpid_cron_next(&p->schedule, p->tz, now, &next) == 0)
        return next;
    if (!t->never_fires)
        log_notice("process=%s schedule=\"%s\" has no firing left; its KPIs are not evaluated",
                   p->id, kpid_log_value(p->schedule_text));
    t->never_fires = true;
    return -1;
}

/* Logs the outcome of a tick, evaluation failures once per change of state. */
static void report(proc_thread *t, const char *reason, int r, const tick_result *res,
                   int64_t took_us)
{
    const char *id = t->process->id;

    if (r == -EAGAIN) {
        log_debug("process=%s tick skipped reason=%s: another session holds the process's "
                  "lock (another instance evaluating it)",
                  id, reason);
        return;
    }
    kpid_log(reason == REASON_CATCHUP || res->recomputed ? KPID_LOG_INFO : KPID_LOG_DEBUG,
             "process=%s tick reason=%s evaluated=%d skipped=%d failed=%d values=%lld "
             "changes=%lld late=%d recomputed=%d ms=%.1f",
             id, reason, res->evaluated, res->skipped, res->failed, (long long)res->values,
             (long long)res->changes, res->late, res->recomputed, (double)took_us / 1e3);
    if (res->skipped)
        log_debug("process=%s kpis=%d already evaluated for this firing by another instance",
                  id, res->skipped);
    if (res->failed && !t->failing) {
        log_warning("process=%s KPI evaluation failed kpi=%s error=\"%s\" failed=%d; recorded "
                    "in kpid.kpi_run; logged again when the process's evaluations succeed",
                    id, res->error_kpi ? res->error_kpi : "-",
                    kpid_log_value(res->error ? res->error : "out of memory"), res->failed);
        t->failing = true;
    } else if (!res->failed && t->failing) {
        log_notice("process=%s KPI evaluations succeed again", id);
        t->failing = false;
    }
}

static void *thread_main(void *arg)
{
    proc_thread *t = arg;
    kpid_scheduler *s = t->s;
    const tick_options opt = {
        .s = s, .dedupe = true, .lock_wait_us = 0, .fail_level = KPID_LOG_DEBUG, .sql = &t->sql,
    };
    const char *pending = NULL; /* the tick to run next; NULL: wait for the next firing */
    int64_t pending_fire = 0, next_fire = -1;
    bool decided = false;

    while (!stop_requested(s)) {
        tick_result res = {0};
        int64_t t0;
        int r;

        if (!t->conn && connect_warehouse(t) < 0) {
            backoff(t);
            continue;
        }
        if (ensure_synced(t) < 0) {
            backoff(t);
            continue;
        }
        if (!decided) {
            int64_t now = wall_now_s();
            bool catchup = false;

            if (decide_catchup(t, now, &catchup) < 0) {
                backoff(t);
                continue;
            }
            decided = true;
            set_up(t);
            if (catchup) {
                pending = REASON_CATCHUP;
                pending_fire = now;
            } else
                next_fire = next_firing(t, now);
        }
        if (!pending) {
            if (next_fire < 0) {
                nap(s, 3600 * 1000000LL); /* no firing left: only the stop ends this */
                continue;
            }
            if (!sleep_until(s, next_fire))
                continue;
            pending = REASON_SCHEDULE;
            pending_fire = next_fire;
        } else if (pending == REASON_SCHEDULE && next_firing(t, pending_fire) <= wall_now_s()) {
            /* The warehouse came back after firings passed: one catch-up for them all. */
            log_info("process=%s missed a firing while the warehouse was unavailable: "
                     "catching up now",
                     t->process->id);
            pending = REASON_CATCHUP;
            pending_fire = wall_now_s();
        }
        t0 = kpid_now_us();
        r = run_tick(t->conn, t->process, pending, pending_fire, &opt, &res);
        if (r == -ECANCELED) {
            free(res.error);
            break;
        }
        if (r == -ENOTCONN) {
            /* The tick runs again on the next connection; what it evaluated is skipped. */
            set_down(t, "tick", res.error);
            free(res.error);
            drop_connection(t);
            backoff(t);
            continue;
        }
        set_up(t);
        report(t, pending, r, &res, kpid_now_us() - t0);
        free(res.error);
        if (r == -EAGAIN && pending == REASON_CATCHUP) {
            /* Another session is evaluating the process, maybe one of ours that a stop
             * ended and whose server side has not noticed yet: try again soon. The
             * catch-up then stands for the firings that pass meanwhile. */
            nap(s, CATCHUP_RETRY_US);
            continue;
        }
        /* Firings that passed during the tick are not run one by one: the next covers
         * them. After the firing's own, even when the clock was stepped back. */
        int64_t after = wall_now_s();
        next_fire = next_firing(t, after > pending_fire ? after : pending_fire);
        pending = NULL;
    }
    drop_connection(t);
    atomic_store(&t->finished, true);
    return NULL;
}

/* ---- the scheduler ------------------------------------------------------------------ */

static bool all_finished(kpid_scheduler *s)
{
    for (size_t i = 0; i < s->n_started; i++)
        if (!atomic_load(&s->threads[i].finished))
            return false;
    return true;
}

static bool wait_finished(kpid_scheduler *s, int64_t until_us)
{
    while (!all_finished(s) && kpid_now_us() < until_us)
        usleep(10000);
    return all_finished(s);
}

static void scheduler_free(kpid_scheduler *s)
{
    for (size_t i = 0; i < s->n_started; i++)
        pthread_join(s->threads[i].thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->sync_lock);
    free(s->threads);
    free(s);
}

int kpid_scheduler_start(const kpid_scheduler_options *opt, kpid_scheduler **ret_scheduler)
{
    const kpid_model *m = opt->model;
    kpid_scheduler *s = calloc(1, sizeof(*s));
    pthread_condattr_t attr;

    if (!s)
        return -ENOMEM;
    s->opt = *opt;
    s->threads = calloc(m->n_processes + 1, sizeof(*s->threads));
    if (!s->threads) {
        free(s);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->sync_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);

    for (size_t i = 0; i < m->n_processes; i++) {
        proc_thread *t = &s->threads[s->n_started];
        if (m->processes[i].n_kpis == 0)
            continue; /* nothing to evaluate */
        t->s = s;
        t->process = &m->processes[i];
        t->fd = -1;
        t->sql_fd = -1;
        t->sql = (kpid_sql_conn){
            .warehouse = opt->warehouse,
            .publish = publish_sql_fd, .arg = t,
        };
        t->backoff_us = BACKOFF_MIN_US;
        t->seed = (unsigned)(kpid_now_us() ^ (int64_t)i * 2654435761u);
        int r = -pthread_create(&t->thread, NULL, thread_main, t);
        if (r < 0) {
            log_err("process=%s cannot start its scheduler thread error=\"%s\"",
                    t->process->id, strerror(-r));
            /* On -EBUSY s stays allocated for a thread stuck in connecting, which
             * touches nothing of the model after that. */
            kpid_scheduler_stop(s, kpid_now_us() + 5000000);
            return r;
        }
        s->n_started++;
    }
    if (s->n_started)
        log_info("scheduler started processes=%zu", s->n_started);
    *ret_scheduler = s;
    return 0;
}

void kpid_scheduler_request_stop(kpid_scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int kpid_scheduler_stop(kpid_scheduler *s, int64_t deadline_us)
{
    if (!s)
        return 0;
    kpid_scheduler_request_stop(s);
    if (!wait_finished(s, deadline_us - SHUTDOWN_BEFORE_US)) {
        /* Evaluations still running: end them. Their transactions roll back, and the
         * next start catches up. */
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_started; i++) {
            proc_thread *t = &s->threads[i];
            if (!atomic_load(&t->finished) && (t->fd >= 0 || t->sql_fd >= 0)) {
                log_notice("process=%s ending the evaluation in progress: stopping",
                           t->process->id);
                if (t->fd >= 0)
                    shutdown(t->fd, SHUT_RDWR);
                if (t->sql_fd >= 0)
                    shutdown(t->sql_fd, SHUT_RDWR);
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (!wait_finished(s, deadline_us)) {
            for (size_t i = 0; i < s->n_started; i++)
                if (!atomic_load(&s->threads[i].finished))
                    log_warning("process=%s scheduler thread did not stop in time (connecting "
                                "to the warehouse); leaving it behind",
                                s->threads[i].process->id);
            return -EBUSY;
        }
    }
    scheduler_free(s);
    return 0;
}

/* ---- --once --------------------------------------------------------------------------- */

int kpid_scheduler_run_once(const kpid_scheduler_options *opt)
{
    const kpid_model *m = opt->model;
    kpid_sql_conn sql = {.warehouse = opt->warehouse};
    const tick_options topt = {
        .s = NULL, .dedupe = false, .lock_wait_us = ONCE_LOCK_WAIT_US,
        .fail_level = KPID_LOG_ERR, .sql = &sql,
    };
    char *error = NULL;
    PGconn *conn = NULL;
    int status = 0, r;

    if (m->n_processes == 0)
        return 0;
    r = kpid_pg_open(opt->warehouse, &conn, &error);
    if (r == 0)
        r = kpid_model_sync(conn, m, &error);
    if (r < 0) {
        log_err("cannot evaluate KPIs: %s error=\"%s\"%s%s",
                conn ? "model not synced" : "warehouse unavailable",
                kpid_log_value(error ? error : "out of memory"), r == -EACCES ? " hint=" : "",
                r == -EACCES ? "\"" KPID_PG_REFUSED_HINT "\"" : "");
        free(error);
        if (conn)
            PQfinish(conn);
        return r == -EACCES ? r : -ENOTCONN;
    }
    for (size_t i = 0; i < m->n_processes; i++) {
        const kpid_process *p = &m->processes[i];
        tick_result res = {0};
        r = run_tick(conn, p, REASON_SCHEDULE, wall_now_s(), &topt, &res);

        if (r == -ENOTCONN) {
            log_err("process=%s not evaluated: warehouse unavailable error=\"%s\"", p->id,
                    kpid_log_value(res.error ? res.error : "out of memory"));
            free(res.error);
            status = -ENOTCONN;
            break;
        }
        if (r == -EAGAIN) {
            log_err("process=%s not evaluated: another instance held its lock for %llds",
                    p->id, (long long)(ONCE_LOCK_WAIT_US / 1000000));
            if (status == 0)
                status = -ETIMEDOUT;
        } else {
            log_info("process=%s evaluated=%d failed=%d values=%lld changes=%lld late=%d"
                     " recomputed=%d",
                     p->id, res.evaluated, res.failed, (long long)res.values,
                     (long long)res.changes, res.late, res.recomputed);
            if (res.failed)
                status = -EIO;
        }
        free(res.error);
    }
    kpid_sql_conn_close(&sql);
    PQfinish(conn);
    return status;
}
