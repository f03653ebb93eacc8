#include "kpi/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "time/clock.h"
#include "kpi/kpi_eval.h"
#include "kpi/kpi_sql.h"
#include "kpi/tick.h"
#include "ops/log.h"
#include "retry/backoff.h"
#include "warehouse/pgconn.h"

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

/* The failing state of a thread's kpid_retry_state trackers: each has one. */
enum { FAILING = 1 };

typedef struct proc_thread {
    struct kpid_scheduler *s;
    const kpid_process *process;
    pthread_t thread;
    _Atomic bool finished;
    int fd;     /* guarded by s->lock: the connection's socket while connected, else -1 */
    int sql_fd; /* guarded by s->lock: the socket of sql's connection while open, else -1 */

    /* The thread only. */
    PGconn *conn;
    kpid_sql_conn sql;            /* where the process's sql KPIs run, opened at the first */
    kpid_retry_state warehouse;   /* the warehouse failing this thread; logged per change */
    kpid_retry_state evaluations; /* evaluations of the process failing; logged per change */
    bool never_fires;             /* the schedule has no firing left; logged */
    kpid_backoff backoff;         /* between attempts while the warehouse fails */
} proc_thread;

struct kpid_scheduler {
    kpid_scheduler_options opt; /* immutable */
    proc_thread *threads;       /* one per process with KPIs; the first n_started run */
    size_t n_started;

    pthread_mutex_t lock; /* guards stopping (writes), cond and every thread's fd */
    pthread_cond_t cond;  /* broadcast at stop; CLOCK_MONOTONIC */
    _Atomic bool stopping;

    pthread_mutex_t sync_lock; /* held by the thread syncing the model, and guards: */
    bool synced;               /* the model is in the warehouse */
    bool sync_down;            /* syncing failed; logged */
};

uint64_t kpid_scheduler_runs(void)
{
    return kpid__tick_runs();
}

static bool stop_requested(const kpid_scheduler *s)
{
    return s && atomic_load(&s->stopping);
}

/* ---- the thread of a process ---------------------------------------------------------- */

/* Waits up to us, or until the scheduler stops; returns false when it stops. */
static bool nap(kpid_scheduler *s, int64_t us)
{
    return !kpid_nap(&s->lock, &s->cond, &s->stopping, us);
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

/* Sleeps the backoff (with up to 25% jitter), which doubles up to its cap. */
static void backoff(proc_thread *t)
{
    nap(t->s, kpid_backoff_next(&t->backoff));
}

/* The warehouse failed the thread at step: logged once until it works again. A failure
 * while stopping (a connection the stop shut down) is no outage. */
static void set_down(proc_thread *t, const char *step, const char *error)
{
    if (stop_requested(t->s) && !kpid_retry_failing(&t->warehouse))
        return;
    if (kpid_retry_failed(&t->warehouse, FAILING, kpid_now_us()))
        log_warning("process=%s warehouse unavailable to the scheduler step=%s error=\"%s\"; "
                    "retrying with backoff",
                    t->process->id, step, kpid_log_value(error ? error : "out of memory"));
}

static void set_up(proc_thread *t)
{
    if (kpid_retry_succeeded(&t->warehouse))
        log_notice("process=%s warehouse available to the scheduler again after=%.1fs "
                   "attempts=%u",
                   t->process->id, (double)(kpid_now_us() - t->warehouse.since) / 1e6,
                   t->warehouse.failures);
    kpid_backoff_reset(&t->backoff);
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
                     s->opt.model->n_objectives, s->opt.model->n_processes, s->opt.model->n_kpis);
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
    char *error = NULL;
    PGresult *r = NULL;

    if (kpid_pg_query(t->conn,
                      "SELECT extract(epoch FROM max(started_at))::float8 FROM kpid.kpi_run"
                      " WHERE process_id = $1 AND error IS NULL"
                      " AND reason IN ('schedule', 'catchup')",
                      1, params, &r, /* what= */ NULL, &error) < 0) {
        set_down(t, "last run", error);
        free(error);
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
static void report(proc_thread *t, const char *reason, int r, const kpid__tick_result *res,
                   int64_t took_us)
{
    const char *id = t->process->id;

    if (r == -EAGAIN) {
        log_debug("process=%s tick skipped reason=%s: another session holds the process's "
                  "lock (another instance evaluating it)",
                  id, reason);
        return;
    }
    kpid_log(reason == kpid__tick_reason_catchup || res->recomputed ? KPID_LOG_INFO
                                                                    : KPID_LOG_DEBUG,
             "process=%s tick reason=%s evaluated=%d skipped=%d failed=%d values=%lld "
             "changes=%lld late=%d recomputed=%d ms=%.1f",
             id, reason, res->evaluated, res->skipped, res->failed, (long long)res->values,
             (long long)res->changes, res->late, res->recomputed, (double)took_us / 1e3);
    if (res->skipped)
        log_debug("process=%s kpis=%d already evaluated for this firing by another instance", id,
                  res->skipped);
    if (res->failed) {
        if (kpid_retry_failed(&t->evaluations, FAILING, kpid_now_us()))
            log_warning("process=%s KPI evaluation failed kpi=%s error=\"%s\" failed=%d; "
                        "recorded in kpid.kpi_run; logged again when the process's evaluations "
                        "succeed",
                        id, res->error_kpi ? res->error_kpi : "-",
                        kpid_log_value(res->error ? res->error : "out of memory"), res->failed);
    } else if (kpid_retry_succeeded(&t->evaluations))
        log_notice("process=%s KPI evaluations succeed again", id);
}

static void *thread_main(void *arg)
{
    proc_thread *t = arg;
    kpid_scheduler *s = t->s;
    const kpid__tick_options opt = {
        .stopping = &s->stopping,
        .dedupe = true,
        .lock_wait_us = 0,
        .fail_level = KPID_LOG_DEBUG,
        .sql = &t->sql,
    };
    const char *pending = NULL; /* the tick to run next; NULL: wait for the next firing */
    int64_t pending_fire = 0, next_fire = -1;
    bool decided = false;

    while (!stop_requested(s)) {
        kpid__tick_result res = {0};
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
            int64_t now = kpid__tick_now_s();
            bool catchup = false;

            if (decide_catchup(t, now, &catchup) < 0) {
                backoff(t);
                continue;
            }
            decided = true;
            set_up(t);
            if (catchup) {
                pending = kpid__tick_reason_catchup;
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
            pending = kpid__tick_reason_schedule;
            pending_fire = next_fire;
        } else if (pending == kpid__tick_reason_schedule &&
                   next_firing(t, pending_fire) <= kpid__tick_now_s()) {
            /* The warehouse came back after firings passed: one catch-up for them all. */
            log_info("process=%s missed a firing while the warehouse was unavailable: "
                     "catching up now",
                     t->process->id);
            pending = kpid__tick_reason_catchup;
            pending_fire = kpid__tick_now_s();
        }
        t0 = kpid_now_us();
        r = kpid__tick_run(t->conn, t->process, pending, pending_fire, &opt, &res);
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
        if (r == -EAGAIN && pending == kpid__tick_reason_catchup) {
            /* Another session is evaluating the process, maybe one of ours that a stop
             * ended and whose server side has not noticed yet: try again soon. The
             * catch-up then stands for the firings that pass meanwhile. */
            nap(s, CATCHUP_RETRY_US);
            continue;
        }
        /* Firings that passed during the tick are not run one by one: the next covers
         * them. After the firing's own, even when the clock was stepped back. */
        int64_t after = kpid__tick_now_s();
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
            .publish = publish_sql_fd,
            .arg = t,
        };
        t->backoff = (kpid_backoff){
            .min = BACKOFF_MIN_US,
            .max = BACKOFF_MAX_US,
            .jitter_above = 25,
            .seed = (unsigned)(kpid_now_us() ^ (int64_t)i * 2654435761u),
        };
        int r = -pthread_create(&t->thread, NULL, thread_main, t);
        if (r < 0) {
            log_err("process=%s cannot start its scheduler thread error=\"%s\"", t->process->id,
                    strerror(-r));
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
    const kpid__tick_options topt = {
        .stopping = NULL,
        .dedupe = false,
        .lock_wait_us = ONCE_LOCK_WAIT_US,
        .fail_level = KPID_LOG_ERR,
        .sql = &sql,
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
        kpid__tick_result res = {0};
        int64_t t0 = kpid_now_us();
        r = kpid__tick_run(conn, p, kpid__tick_reason_schedule, kpid__tick_now_s(), &topt, &res);
        int64_t took_us = kpid_now_us() - t0;

        if (r == -ENOTCONN) {
            log_err("process=%s not evaluated: warehouse unavailable error=\"%s\"", p->id,
                    kpid_log_value(res.error ? res.error : "out of memory"));
            free(res.error);
            status = -ENOTCONN;
            break;
        }
        if (r == -EAGAIN) {
            log_err("process=%s not evaluated: another instance held its lock for %llds", p->id,
                    (long long)(ONCE_LOCK_WAIT_US / 1000000));
            if (status == 0)
                status = -ETIMEDOUT;
        } else {
            log_info("process=%s evaluated=%d failed=%d values=%lld changes=%lld late=%d"
                     " recomputed=%d ms=%.1f",
                     p->id, res.evaluated, res.failed, (long long)res.values,
                     (long long)res.changes, res.late, res.recomputed, (double)took_us / 1e3);
            if (res.failed)
                status = -EIO;
        }
        free(res.error);
    }
    kpid_sql_conn_close(&sql);
    PQfinish(conn);
    return status;
}
