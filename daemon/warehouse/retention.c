/* The retention of rejected input (retention.h): the purge, and the thread that runs it. */
#include "warehouse/retention.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ops/log.h"
#include "retry/backoff.h"
#include "time/clock.h"

#define BACKOFF_MIN_US 1000000
#define BACKOFF_MAX_US 60000000
/* A purge still running this long before the stop deadline has its connection shut. */
#define SHUTDOWN_BEFORE_US 1000000
#define STR_(x) #x
#define STR(x) STR_(x)

/* The failing state of a kpid_retry_state: each tracker has one. */
enum { FAILING = 1 };

/* A source's retention, as configured here; $1 source, $2 milliseconds. */
static const char SQL_RECORD[] =
    "INSERT INTO kpid.rejected_retention (source, retention)"
    " VALUES ($1, justify_hours($2::bigint * interval '1 millisecond'))"
    " ON CONFLICT (source) DO UPDATE SET retention = EXCLUDED.retention, updated_at = now()"
    " WHERE kpid.rejected_retention.retention <> EXCLUDED.retention";

/* The sources with raw input kept, and the retention last recorded for each (NULL: none),
 * in milliseconds. */
static const char SQL_SOURCES[] =
    "SELECT s.source, floor(extract(epoch FROM k.retention) * 1000)::bigint"
    " FROM (SELECT DISTINCT source FROM kpid.rejected WHERE raw IS NOT NULL) s"
    " LEFT JOIN kpid.rejected_retention k ON k.source = s.source ORDER BY 1";

/* One batch of one source; $1 source, $2 retention in milliseconds. Rows the writer holds
 * locked (rejected again just now) are skipped: they are new again. */
static const char SQL_BATCH[] =
    "WITH batch AS (SELECT id FROM kpid.rejected WHERE source = $1 AND raw IS NOT NULL"
    " AND rejected_at < now() - $2::bigint * interval '1 millisecond'"
    " LIMIT " STR(
        KPID_RETENTION_BATCH) " FOR UPDATE SKIP LOCKED)"
                              " UPDATE kpid.rejected r SET raw = NULL FROM batch WHERE r.id = batch.id";

static bool stop_requested(const _Atomic bool *stopping)
{
    return stopping && atomic_load(stopping);
}

/* The retention of source: its rule's, else recorded (NULL: none), else the default. */
static int64_t keep_ms(const kpid_retention_rule *rules, size_t n, const char *source,
                       const char *recorded)
{
    int64_t ms;

    for (size_t i = 0; i < n; i++)
        if (strcmp(rules[i].source, source) == 0)
            return rules[i].keep_ms;
    if (recorded && kpid_pg_int64(recorded, &ms) == 0 && ms > 0)
        return ms;
    return KPID_RETENTION_DEFAULT_MS;
}

/* Purges the raw input of one source older than ms, batch by batch. Adds what it cleared
 * to *rows; logs it when anything. Returns 0 or kpid_pg_query's error. */
static int purge_source(PGconn *conn, const char *source, int64_t ms, const _Atomic bool *stopping,
                        int64_t *rows, char **ret_error)
{
    char keep[24];
    const char *params[] = {source, keep};
    int64_t cleared = 0, n = 0;
    int r = 0;

    snprintf(keep, sizeof(keep), "%" PRId64, ms);
    do {
        PGresult *res = NULL;

        if (stop_requested(stopping))
            break;
        r = kpid_pg_query(conn, SQL_BATCH, 2, params, &res, "purge", ret_error);
        if (r < 0)
            break;
        n = kpid_pg_cmd_rows(res);
        PQclear(res);
        cleared += n;
    } while (n == KPID_RETENTION_BATCH);
    if (cleared > 0)
        log_info("rejected raw purged source=%s rows=%" PRId64, source, cleared);
    *rows += cleared;
    return r;
}

int kpid_retention_purge(PGconn *conn, const kpid_retention_rule *rules, size_t n_rules,
                         const _Atomic bool *stopping, int64_t *ret_rows, char **ret_error)
{
    PGresult *sources = NULL;
    int64_t rows = 0;
    int r = 0;

    *ret_error = NULL;
    for (size_t i = 0; i < n_rules && r == 0; i++) {
        char keep[24];
        const char *params[] = {rules[i].source, keep};

        snprintf(keep, sizeof(keep), "%" PRId64, rules[i].keep_ms);
        r = kpid_pg_query(conn, SQL_RECORD, 2, params, NULL, "record retention", ret_error);
    }
    if (r == 0)
        r = kpid_pg_query(conn, SQL_SOURCES, 0, NULL, &sources, "find rejected input", ret_error);
    for (int i = 0; r == 0 && i < PQntuples(sources); i++) {
        const char *source = PQgetvalue(sources, i, 0);
        const char *recorded = PQgetisnull(sources, i, 1) ? NULL : PQgetvalue(sources, i, 1);

        r = purge_source(conn, source, keep_ms(rules, n_rules, source, recorded), stopping, &rows,
                         ret_error);
    }
    PQclear(sources);
    /* The commit log of exclusive sources (sql/013_source_lease.sql) keeps a week. */
    if (r == 0)
        r = kpid_pg_query(conn,
                          "DELETE FROM kpid.source_commit WHERE at < now() - interval '7 days'", 0,
                          NULL, NULL, "purge kpid.source_commit", ret_error);
    if (r == 0)
        *ret_rows = rows;
    return r;
}

/* ---- the thread ----------------------------------------------------------------------- */

struct kpid_retention {
    kpid_retention_options opt; /* immutable; opt.rules points at rules */
    kpid_retention_rule *rules; /* owned copy of the array */
    pthread_t thread;
    _Atomic bool finished;

    pthread_mutex_t lock; /* guards stopping (writes), cond and fd */
    pthread_cond_t cond;  /* broadcast at stop; CLOCK_MONOTONIC */
    _Atomic bool stopping;
    int fd; /* the purge's socket while connected, else -1 */

    /* The thread only. */
    kpid_retry_state warehouse; /* the warehouse unreachable; logged per change */
    kpid_retry_state failing;   /* purges failing otherwise; logged per change */
    kpid_backoff backoff;       /* between attempts while the warehouse fails */
};

/* Waits up to us, or until a stop; returns false when stopping. */
static bool nap(kpid_retention *r, int64_t us)
{
    return !kpid_nap(&r->lock, &r->cond, &r->stopping, us);
}

/* Publishes conn's socket for a stop to shut down (conn NULL: none); false when a stop
 * has begun. */
static bool publish(kpid_retention *r, PGconn *conn)
{
    bool ok;

    pthread_mutex_lock(&r->lock);
    ok = !conn || !atomic_load(&r->stopping);
    r->fd = conn && ok ? PQsocket(conn) : -1;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void set_down(kpid_retention *r, const char *step, const char *error)
{
    if (atomic_load(&r->stopping))
        return;
    if (kpid_retry_failed(&r->warehouse, FAILING, kpid_now_us()))
        log_warning("warehouse unavailable to the purge of rejected input step=%s error=\"%s\"; "
                    "retrying with backoff",
                    step, kpid_log_value(error ? error : "out of memory"));
}

/*
 * One purge on a connection of its own, logged. Returns 0; -ENOTCONN when the warehouse
 * could not be reached or the connection broke (retry soon); -EIO when the purge failed
 * otherwise (retried at the next purge); -ECANCELED when stopping.
 */
static int purge_now(kpid_retention *r)
{
    PGconn *conn = NULL;
    char *error = NULL;
    int64_t rows = 0;
    bool lost;
    int rc;

    if (kpid_pg_open(r->opt.warehouse, &conn, &error) < 0) {
        set_down(r, "connect", error);
        free(error);
        return -ENOTCONN;
    }
    if (!publish(r, conn)) {
        PQfinish(conn);
        return -ECANCELED;
    }
    rc = kpid_retention_purge(conn, r->rules, r->opt.n_rules, &r->stopping, &rows, &error);
    lost = rc < 0 && PQstatus(conn) != CONNECTION_OK;
    publish(r, NULL);
    PQfinish(conn);
    if (lost) {
        set_down(r, "purge", error);
        free(error);
        return -ENOTCONN;
    }
    if (kpid_retry_succeeded(&r->warehouse))
        log_notice("warehouse available to the purge of rejected input again after=%.1fs "
                   "attempts=%u",
                   (double)(kpid_now_us() - r->warehouse.since) / 1e6, r->warehouse.failures);
    kpid_backoff_reset(&r->backoff);
    if (rc < 0) {
        if (kpid_retry_failed(&r->failing, FAILING, kpid_now_us()))
            log_warning("cannot purge rejected input error=\"%s\"; tried again every %ds, "
                        "logged again when it succeeds",
                        kpid_log_value(error ? error : "out of memory"), KPID_RETENTION_INTERVAL_S);
        free(error);
        return -EIO;
    }
    if (kpid_retry_succeeded(&r->failing))
        log_notice("rejected input purged again");
    return 0;
}

static void *thread_main(void *arg)
{
    kpid_retention *r = arg;

    while (!atomic_load(&r->stopping)) {
        if (purge_now(r) == -ENOTCONN)
            nap(r, kpid_backoff_next(&r->backoff));
        else
            nap(r, (int64_t)KPID_RETENTION_INTERVAL_S * 1000000);
    }
    atomic_store(&r->finished, true);
    return NULL;
}

static kpid_retention *retention_free(kpid_retention *r)
{
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r->rules);
    free(r);
    return NULL;
}

int kpid_retention_start(const kpid_retention_options *opt, kpid_retention **ret)
{
    kpid_retention *r = calloc(1, sizeof(*r));
    pthread_condattr_t attr;
    int e;

    if (!r)
        return -ENOMEM;
    r->rules = calloc(opt->n_rules + 1, sizeof(*r->rules));
    if (!r->rules) {
        free(r);
        return -ENOMEM;
    }
    if (opt->n_rules)
        memcpy(r->rules, opt->rules, opt->n_rules * sizeof(*r->rules));
    r->opt = *opt;
    r->opt.rules = r->rules;
    r->fd = -1;
    r->backoff = (kpid_backoff){
        .min = BACKOFF_MIN_US,
        .max = BACKOFF_MAX_US,
        .jitter_above = 25,
        .seed = (unsigned)kpid_now_us(),
    };
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
    e = pthread_create(&r->thread, NULL, thread_main, r);
    if (e != 0) {
        log_err("cannot start the purge of rejected input error=\"%s\"", strerror(e));
        retention_free(r);
        return -e;
    }
    *ret = r;
    return 0;
}

void kpid_retention_request_stop(kpid_retention *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stopping, true);
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static bool wait_finished(kpid_retention *r, int64_t until_us)
{
    while (!atomic_load(&r->finished) && kpid_now_us() < until_us)
        usleep(10000);
    return atomic_load(&r->finished);
}

int kpid_retention_stop(kpid_retention *r, int64_t deadline_us)
{
    if (!r)
        return 0;
    kpid_retention_request_stop(r);
    if (!wait_finished(r, deadline_us - SHUTDOWN_BEFORE_US)) {
        pthread_mutex_lock(&r->lock);
        if (r->fd >= 0) {
            log_notice("ending the purge of rejected input in progress: stopping");
            shutdown(r->fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&r->lock);
        if (!wait_finished(r, deadline_us)) {
            log_warning("the purge of rejected input did not stop in time (connecting to "
                        "the warehouse); leaving it behind");
            return -EBUSY;
        }
    }
    pthread_join(r->thread, NULL);
    retention_free(r);
    return 0;
}

int kpid_retention_run_once(const kpid_retention_options *opt)
{
    PGconn *conn = NULL;
    char *error = NULL;
    int64_t rows = 0;
    int r;

    r = kpid_pg_open(opt->warehouse, &conn, &error);
    if (r == 0) {
        r = kpid_retention_purge(conn, opt->rules, opt->n_rules, NULL, &rows, &error);
        if (r < 0 && r != -EACCES)
            r = PQstatus(conn) == CONNECTION_OK ? -EIO : -ENOTCONN;
    } else if (r != -EACCES)
        r = -ENOTCONN;
    if (r < 0)
        log_err("cannot purge rejected input error=\"%s\"%s",
                kpid_log_value(error ? error : "out of memory"),
                r == -EACCES ? " hint=\"" KPID_PG_REFUSED_HINT "\"" : "");
    free(error);
    if (conn)
        PQfinish(conn);
    return r;
}
