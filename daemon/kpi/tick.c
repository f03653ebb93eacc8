#include "kpi/tick.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "time/timestamp.h"
#include "time/clock.h"
#include "kpi/kpi_dirty.h"
#include "kpi/kpi_eval.h"
#include "kpi/tick_retry.h"
#include "ops/log.h"
#include "warehouse/pgconn.h"

/* The advisory lock of a process; $1 is its id. */
#define LOCK_KEY "hashtextextended('kpid.process:' || $1, 0)"

const char kpid__tick_reason_schedule[] = "schedule";
const char kpid__tick_reason_catchup[] = "catchup";
const char kpid__tick_reason_late[] = "late";
const char kpid__tick_reason_definition[] = "definition"; /* a recompute: it changed */

static _Atomic uint64_t kpi_runs;

uint64_t kpid__tick_runs(void)
{
    return atomic_load(&kpi_runs);
}

int64_t kpid__tick_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static void set_error(kpid__tick_result *res, const char *kpi_id, char *error)
{
    free(res->error);
    res->error = error;
    res->error_kpi = kpi_id;
}

/* Runs a query with text parameters (kpid_pg_query); the caller clears *ret_res, when
 * not NULL. Returns 0, or -ENOTCONN with the reason in res->error. */
static int tick_query(PGconn *conn, const char *sql, int n, const char *const *params,
                      PGresult **ret_res, kpid__tick_result *res)
{
    char *error = NULL;

    if (kpid_pg_query(conn, sql, n, params, ret_res, /* what= */ NULL, &error) < 0) {
        set_error(res, NULL, error);
        return -ENOTCONN;
    }
    return 0;
}

static bool stopping(const kpid__tick_options *opt)
{
    return opt->stopping && atomic_load(opt->stopping);
}

/*
 * Takes the process's advisory lock. Returns 0; -EAGAIN when another session holds it
 * (after waiting up to wait_us); -ENOTCONN.
 */
static int take_lock(PGconn *conn, const kpid_process *p, int64_t wait_us, kpid__tick_result *res)
{
    const char *params[] = {p->id};
    int64_t until = kpid_now_us() + wait_us;

    for (;;) {
        PGresult *r = NULL;
        bool got;

        if (tick_query(conn, "SELECT pg_try_advisory_lock(" LOCK_KEY ")", 1, params, &r, res) < 0)
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

static int release_lock(PGconn *conn, const kpid_process *p, kpid__tick_result *res)
{
    const char *params[] = {p->id};

    return tick_query(conn, "SELECT pg_advisory_unlock(" LOCK_KEY ")", 1, params, NULL, res);
}

/*
 * The process's successful runs that started at or after since_s, with reason
 * "schedule" for a scheduled tick (a catch-up is no firing: one just before a firing
 * does not replace it), with reason "schedule" or "catchup" for a catch-up: kpi_id,
 * period_start and period_end (epoch seconds). The caller clears *ret_runs.
 */
static int recent_runs(PGconn *conn, const kpid_process *p, const char *reason, int64_t since_s,
                       PGresult **ret_runs, kpid__tick_result *res)
{
    char since[32];
    const char *params[] = {p->id, since, reason};

    snprintf(since, sizeof(since), "%lld", (long long)since_s);
    return tick_query(conn,
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
                    const char *reason, const kpid__tick_options *opt, kpid__tick_result *res)
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
 * Summarizes kpid.event's new block ranges before the changes are read
 * (kpid_changes_summarize). Returns 0 (a failure other than the connection's is
 * logged, at warning the first time: the changes are read all the same, only over more
 * pages) or -ENOTCONN.
 */
static int changes_summarize(PGconn *conn, const kpid_process *p, kpid__tick_result *res)
{
    static atomic_bool warned;
    char *error = NULL;
    int r = kpid_changes_summarize(conn, &error);

    if (r < 0 && PQstatus(conn) != CONNECTION_OK) {
        set_error(res, NULL, error);
        return -ENOTCONN;
    }
    if (r < 0)
        kpid_log(atomic_exchange(&warned, true) ? KPID_LOG_DEBUG : KPID_LOG_WARNING,
                 "process=%s cannot summarize the new block ranges of"
                 " kpid.event_ingest_xid_brin: ticks read every page written since the"
                 " last vacuum of kpid.event error=\"%s\"",
                 p->id, kpid_log_value(error ? error : "out of memory"));
    else if (r == 1)
        log_debug("process=%s kpid.event is locked by a vacuum or an index build: its new"
                  " block ranges are read unsummarized by this tick",
                  p->id);
    free(error);
    return 0;
}

/*
 * Takes the snapshot that becomes the process's watermark after the tick and loads
 * the changes since its last one. Without a watermark (the first tick of a process)
 * nothing is dirty: history is `kpid backfill`'s. Returns 0 (a failure other than the
 * connection's is logged and keeps the watermark: the next tick finds those changes
 * again) or -ENOTCONN.
 */
static int changes_begin(PGconn *conn, const kpid_process *p, const kpid__tick_options *opt,
                         tick_changes *ch, kpid__tick_result *res)
{
    const char *params[] = {p->id};
    PGresult *r = NULL;
    char *error = NULL;

    if (tick_query(conn,
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
    } else if (changes_summarize(conn, p, res) < 0) {
        PQclear(r);
        return -ENOTCONN;
    } else if (kpid_changes_load(conn, PQgetvalue(r, 0, 1), ch->snapshot, &res->changes, &error) ==
               0) {
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
                          kpid__tick_result *res)
{
    const char *params[] = {p->id, ch->snapshot};

    if (ch->failed || !ch->snapshot)
        return 0;
    if (tick_query(conn,
                   "INSERT INTO kpid.process_watermark (process_id, snapshot)"
                   " VALUES ($1, $2::pg_snapshot) ON CONFLICT (process_id) DO UPDATE"
                   " SET snapshot = EXCLUDED.snapshot, updated_at = now()",
                   2, params, NULL, res) < 0)
        return -ENOTCONN;
    /* A version goes once every watermark has seen it: visible in its snapshot (not
     * merely below its xmin, which any open transaction of the cluster holds back). A
     * process no longer configured (no active KPI) holds nothing back. */
    return tick_query(conn,
                      "DELETE FROM kpid.event_change c WHERE NOT EXISTS (SELECT FROM"
                      " kpid.process_watermark w WHERE NOT pg_visible_in_snapshot(c.ingest_xid,"
                      " w.snapshot) AND EXISTS (SELECT FROM kpid.kpi k"
                      " WHERE k.process_id = w.process_id AND k.active))",
                      0, NULL, NULL, res);
}

/*
 * True when the period before the open one needs its complete evaluation: it has no
 * values, or they were computed while it was open (partial). Sets *ret. Returns 0 or
 * -ENOTCONN.
 */
static int prev_unsettled(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *prev, bool *ret,
                          kpid__tick_result *res)
{
    char start[40];
    const char *params[] = {kpi->id, start};
    PGresult *r = NULL;

    if (kpid_format_time(prev->start * 1000000, start) < 0) {
        *ret = true; /* the evaluation reports it */
        return 0;
    }
    if (tick_query(conn,
                   "SELECT count(*) = 0 OR bool_or(partial) FROM kpid.kpi_value"
                   " WHERE kpi_id = $1 AND period_start = $2",
                   2, params, &r, res) < 0)
        return -ENOTCONN;
    *ret = PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "f") != 0;
    PQclear(r);
    return 0;
}

/*
 * After a statement of kpid.kpi_retry failed with error (owned; NULL when out of
 * memory): -ENOTCONN, with the reason in res, when the connection is gone; otherwise
 * logs "process=P[ kpi=K] cannot WHAT" at the tick's failure level and returns 0.
 */
static int retry_failed(PGconn *conn, const kpid_process *p, const kpid_kpi *kpi, const char *what,
                        char *error, const kpid__tick_options *opt, kpid__tick_result *res)
{
    if (PQstatus(conn) != CONNECTION_OK) {
        set_error(res, NULL, error);
        return -ENOTCONN;
    }
    kpid_log(opt->fail_level, "process=%s%s%s cannot %s error=\"%s\"", p->id, kpi ? " kpi=" : "",
             kpi ? kpi->id : "", what, kpid_log_value(error ? error : "out of memory"));
    free(error);
    return 0;
}

/*
 * Keeps kpi's period iv, whose late evaluation failed, for the next ticks
 * (tick_retry.h). Returns 0; 1 when it could not be kept (the watermark must stay, so
 * that the next tick finds the period dirty again); or -ENOTCONN.
 */
static int retry_keep(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv,
                      const kpid__tick_options *opt, kpid__tick_result *res)
{
    char *error = NULL;

    if (kpid__retry_keep(conn, kpi, iv, &error) == 0)
        return 0;
    if (retry_failed(conn, kpi->process, kpi, "keep a failed late period", error, opt, res) < 0)
        return -ENOTCONN;
    return 1;
}

/* True when iv is one of kpi's calendar periods as the model has them now. */
static bool calendar_period(const kpid_kpi *kpi, const kpid_interval *iv)
{
    kpid_interval cur;

    return kpi->period.kind != KPID_PERIOD_ROLLING &&
           kpid_period_containing(&kpi->period, kpi->process->tz, iv->start, &cur) == 0 &&
           cur.start == iv->start && cur.end == iv->end;
}

/*
 * Evaluates again, with reason "late", kpi's periods that kpid.kpi_retry keeps (rows:
 * the process's). One that succeeds is dropped and queues the ratios that divide kpi;
 * one that fails again stays. Returns 0, -ENOTCONN or -ECANCELED.
 */
static int tick_retry(PGconn *conn, const kpid_kpi *kpi, int64_t now, const PGresult *rows,
                      const kpid__tick_options *opt, kpid__tick_result *res)
{
    kpid_interval iv;
    int r = 0;

    for (int i = 0; rows && i < PQntuples(rows) && r == 0; i++) {
        int failed = res->failed;
        char *error = NULL;

        if (!kpid__retry_row(rows, i, kpi->id, &iv))
            continue;
        if (stopping(opt))
            return -ECANCELED;
        if (!calendar_period(kpi, &iv)) {
            /* The KPI's period or its process's time zone changed since it was kept. */
            if (kpid__retry_drop(conn, kpi, &iv, &error) < 0 &&
                retry_failed(conn, kpi->process, kpi, "drop a kept period", error, opt, res) < 0)
                return -ENOTCONN;
            continue;
        }
        r = evaluate(conn, kpi, &iv, /* partial= */ iv.end > now, kpid__tick_reason_late, opt, res);
        res->late++;
        if (r < 0)
            break;
        if (res->failed != failed) {
            r = retry_keep(conn, kpi, &iv, opt, res) < 0 ? -ENOTCONN : 0;
        } else if (kpid__retry_done(conn, kpi, &iv, &error) < 0) {
            /* The row stays: the period is evaluated once more at the next tick. */
            r = retry_failed(conn, kpi->process, kpi, "drop a retried period", error, opt, res);
        }
    }
    return r;
}

/* Evaluates, with reason "late", the periods of kpi the changes made dirty, except
 * those the tick evaluates anyway (done, n_done; the kept ones of retries). A failed
 * one is kept for the next ticks (retry_keep). */
static int tick_dirty(PGconn *conn, const kpid_kpi *kpi, int64_t now, const kpid_interval *done,
                      size_t n_done, const PGresult *retries, const kpid__tick_options *opt,
                      tick_changes *ch, kpid__tick_result *res)
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
        if (skip || kpid__retry_has(retries, kpi->id, dirty[i].start))
            continue;
        if (stopping(opt)) {
            r = -ECANCELED;
            break;
        }
        r = evaluate(conn, kpi, &dirty[i], /* partial= */ dirty[i].end > now,
                     kpid__tick_reason_late, opt, res);
        res->late++;
        if (r == 0 && res->failed != failed) {
            int k = retry_keep(conn, kpi, &dirty[i], opt, res);
            if (k < 0)
                r = k;
            else if (k > 0)
                ch->failed = true;
        }
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
                             kpid__tick_result *res)
{
    const char *params[] = {p->id};

    return tick_query(conn,
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
                          const kpid_interval *done, size_t n_done, const kpid__tick_options *opt,
                          kpid__tick_result *res)
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
        if (stopping(opt))
            return -ECANCELED;
        if (!skip) {
            r = evaluate(conn, kpi, &iv, /* partial= */ iv.end > now, kpid__tick_reason_definition,
                         opt, res);
            res->recomputed++;
        }
        if (r == 0 && kpid_period_next(&kpi->period, tz, &iv, &iv) < 0)
            break;
    }
    if (r == 0 && row >= 0 && res->failed == failed) {
        const char *params[] = {kpi->id, PQgetvalue(pending, row, 1), PQgetvalue(pending, row, 2)};
        r = tick_query(conn,
                       "UPDATE kpid.kpi SET recompute_from = NULL WHERE id = $1"
                       " AND version_hash = $2 AND recompute_from = $3::timestamptz",
                       3, params, NULL, res);
    }
    return r;
}

/*
 * Evaluates kpi at now: the open period; for a calendar period, the one before when it
 * has just closed (or at a catch-up); and the periods late and corrected events made
 * dirty.
 */
static int tick_kpi(PGconn *conn, const kpid_kpi *kpi, int64_t now, int64_t fire_s,
                    const PGresult *runs, const PGresult *pending, const PGresult *retries,
                    const char *reason, const kpid__tick_options *opt, tick_changes *ch,
                    kpid__tick_result *res)
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
        kpid_log(opt->fail_level, "process=%s kpi=%s no period contains now", kpi->process->id,
                 kpi->id);
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
        if (r == 0 && !rolling && reason != kpid__tick_reason_catchup)
            r = prev_unsettled(conn, kpi, &done[1], &unsettled, res);
        if (r == 0 && !rolling && (unsettled || reason == kpid__tick_reason_catchup)) {
            r = evaluate(conn, kpi, &done[1], /* partial= */ false, reason, opt, res);
            n_done = 2;
        }
    }
    if (r == 0)
        r = tick_retry(conn, kpi, now, retries, opt, res);
    if (r == 0 && ch->loaded)
        r = tick_dirty(conn, kpi, now, done, n_done, retries, opt, ch, res);
    if (r == 0)
        r = tick_recompute(conn, kpi, pending, now, done, n_done, opt, res);
    return r;
}

/*
 * The periods of process p that kpid.kpi_retry keeps, in *ret_rows (NULL when they
 * cannot be read: a failure other than the connection's is logged, and they are
 * retried at the next tick). Returns 0 or -ENOTCONN.
 */
static int retry_rows(PGconn *conn, const kpid_process *p, const kpid__tick_options *opt,
                      PGresult **ret_rows, kpid__tick_result *res)
{
    char *error = NULL;

    if (kpid__retry_rows(conn, p, ret_rows, &error) == 0)
        return 0;
    return retry_failed(conn, p, NULL, "read its kept late periods", error, opt, res);
}

/*
 * How far before a firing another instance's run still counts as that firing's:
 * KPID_SCHEDULER_SKEW_S, but less than half the time to the next firing, so that with
 * a schedule of seconds a run of the previous firing never counts.
 */
static int64_t firing_skew(const kpid_process *p, int64_t fire_s)
{
    int64_t next;

    if (kpid_cron_next(&p->schedule, p->tz, fire_s, &next) == 0 &&
        (next - fire_s) / 2 < KPID_TICK_SKEW_S)
        return (next - fire_s) / 2;
    return KPID_TICK_SKEW_S;
}

int kpid__tick_run(PGconn *conn, const kpid_process *p, const char *reason, int64_t fire_s,
                   const kpid__tick_options *opt, kpid__tick_result *res)
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
    now = kpid__tick_now_s();
    if (now < fire_s)
        now = fire_s;
    /* Ratios read the values of other KPIs: they come last, with the periods that the
     * first pass's retries queued for them. */
    for (int pass = 0; pass < 2 && r == 0; pass++) {
        PGresult *retries = NULL;

        r = retry_rows(conn, p, opt, &retries, res);
        for (size_t i = 0; i < p->n_kpis && r == 0; i++) {
            const kpid_kpi *kpi = &p->kpis[i];
            if ((kpi->type == KPID_KPI_RATIO) != (pass == 1))
                continue;
            if (stopping(opt))
                r = -ECANCELED;
            else
                r = tick_kpi(conn, kpi, now, fire_s, runs, pending, retries, reason, opt, &ch, res);
        }
        PQclear(retries);
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
