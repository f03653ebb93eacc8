#include "ingest/lease.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/log.h"
#include "retry/backoff.h"
#include "time/clock.h"

/* Most exclusive sources one instance claims (a configuration has far fewer). */
#define CLAIMS_MAX 256

#define LOCK_KEY "hashtextextended('kpid.source:' || $1, 0)"
static const char SQL_TRY_LOCK[] = "SELECT pg_try_advisory_lock(" LOCK_KEY ")";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock(" LOCK_KEY ")";
/* Taking a source raises its epoch: batches read under an older one cannot commit. */
static const char SQL_TAKE[] =
    "INSERT INTO kpid.source_lease AS l (source, epoch, holder) VALUES ($1, 1, $2)"
    " ON CONFLICT (source) DO UPDATE SET epoch = l.epoch + 1, holder = EXCLUDED.holder,"
    " acquired_at = now() RETURNING epoch";

typedef struct lease_claim {
    char *source; /* NULL: a free place */
    void (*on_lost)(void *arg);
    void *arg;
    bool released;         /* given up: unlock, then free the place */
    bool locked;           /* the lease connection holds its lock */
    _Atomic int64_t epoch; /* > 0 while held */
} lease_claim;

struct kpid_lease {
    kpid_pg_target target; /* the warehouse, with short timeouts for the lease connection */
    int64_t takeover_us;
    char holder[300]; /* host:pid */
    pthread_t thread;
    pthread_mutex_t lock; /* guards claims' source/released and the fields below */
    pthread_cond_t cond;  /* a claim taken or lost, a claim made, a stop */
    _Atomic bool stopping;
    bool poked; /* a claim was made: beat now */
    lease_claim claims[CLAIMS_MAX];

    /* Keeper thread only. */
    PGconn *conn;
};

static int64_t beat_us(const kpid_lease *l)
{
    return l->takeover_us / 6;
}

/* Loses every claim held: the connection that held their locks is gone. */
static void lose_all(kpid_lease *l, const char *why)
{
    /* on_lost is called under the keeper's lock, so that a claim being released cannot
     * vanish meanwhile; sources never take it while they hold a lock of their own. */
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < CLAIMS_MAX; i++) {
        lease_claim *c = &l->claims[i];
        if (!c->source)
            continue;
        if (atomic_exchange(&c->epoch, 0) > 0) {
            log_warning("source=%s lease lost error=\"%s\"; it stops reading until it holds "
                        "the source again",
                        c->source, kpid_log_value(why));
            if (!c->released && c->on_lost)
                c->on_lost(c->arg);
        }
        c->locked = false;
    }
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    PQfinish(l->conn);
    l->conn = NULL;
}

/* Sleeps us, or until a claim is made or a stop. */
static void keeper_nap(kpid_lease *l, int64_t us)
{
    int64_t end = kpid_now_us() + us;
    struct timespec ts = {.tv_sec = (time_t)(end / 1000000),
                          .tv_nsec = (long)(end % 1000000) * 1000};

    pthread_mutex_lock(&l->lock);
    while (!atomic_load(&l->stopping) && !l->poked && kpid_now_us() < end)
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    l->poked = false;
    pthread_mutex_unlock(&l->lock);
}

/*
 * Opens the lease connection. The server ends it when it stays idle for 2/3 of
 * takeover (the keeper beats six times as often), or when TCP keepalives find its
 * peer gone: either way its locks are freed for another instance.
 */
static int lease_connect(kpid_lease *l)
{
    char sql[256], *error = NULL;
    const char *state, *msg;
    int64_t idle_ms = l->takeover_us * 2 / 3 / 1000, ka_s = l->takeover_us / 9000000;

    if (kpid_pg_open(&l->target, &l->conn, &error) < 0) {
        log_debug("lease connection failed error=\"%s\"", kpid_log_value(error ? error : "?"));
        free(error);
        l->conn = NULL;
        return -EIO;
    }
    snprintf(sql, sizeof(sql),
             "SET idle_session_timeout = %lld; SET tcp_keepalives_idle = %lld;"
             " SET tcp_keepalives_interval = %lld; SET tcp_keepalives_count = 3",
             (long long)idle_ms, (long long)(ka_s > 1 ? ka_s * 3 : 1),
             (long long)(ka_s > 1 ? ka_s : 1));
    if (kpid_pg_exec(l->conn, sql, &state, &msg) < 0) {
        log_warning("lease connection: cannot set its timeouts error=\"%s\"", kpid_log_value(msg));
        PQfinish(l->conn);
        l->conn = NULL;
        return -EIO;
    }
    return 0;
}

/* Runs a query on the lease connection; returns its result, or NULL on failure
 * (the error logged at debug level: the caller tells a lost connection by its status). */
static PGresult *lease_query(kpid_lease *l, const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL;
    char *error = NULL;

    if (kpid_pg_query(l->conn, sql, n, params, &res, NULL, &error) < 0) {
        log_debug("lease query failed error=\"%s\"", kpid_log_value(error ? error : "?"));
        free(error);
        return NULL;
    }
    return res;
}

/* Tries to take claim c: its lock, then a new epoch. */
static void try_take(kpid_lease *l, lease_claim *c, const char *source)
{
    const char *params[2] = {source, l->holder};
    PGresult *res;
    int64_t epoch = 0;

    if (!c->locked) {
        res = lease_query(l, SQL_TRY_LOCK, 1, params);
        c->locked = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!c->locked)
            return;
    }
    res = lease_query(l, SQL_TAKE, 2, params);
    if (!res || PQntuples(res) != 1 || kpid_pg_int64(PQgetvalue(res, 0, 0), &epoch) < 0 ||
        epoch <= 0) {
        PQclear(res);
        return; /* held, not yet recorded: tried again at the next beat */
    }
    PQclear(res);
    pthread_mutex_lock(&l->lock);
    atomic_store(&c->epoch, epoch);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    log_notice("source=%s taken holder=%s epoch=%lld", source, l->holder, (long long)epoch);
}

/* One beat: ping, release what was given up, take what is claimed. */
static void beat(kpid_lease *l)
{
    PGresult *res = lease_query(l, "SELECT 1", 0, NULL);

    PQclear(res);
    if (!res || PQstatus(l->conn) != CONNECTION_OK) {
        lose_all(l, PQerrorMessage(l->conn));
        return;
    }
    for (int i = 0; i < CLAIMS_MAX && !atomic_load(&l->stopping); i++) {
        lease_claim *c = &l->claims[i];
        char *source;
        bool released;

        pthread_mutex_lock(&l->lock);
        source = c->source ? strdup(c->source) : NULL;
        released = c->released;
        pthread_mutex_unlock(&l->lock);
        if (!source)
            continue;
        if (released) {
            const char *params[1] = {source};
            if (c->locked)
                PQclear(lease_query(l, SQL_UNLOCK, 1, params));
            pthread_mutex_lock(&l->lock);
            free(c->source);
            c->source = NULL;
            c->released = false;
            c->locked = false;
            atomic_store(&c->epoch, 0);
            pthread_mutex_unlock(&l->lock);
        } else if (atomic_load(&c->epoch) == 0)
            try_take(l, c, source);
        free(source);
        if (PQstatus(l->conn) != CONNECTION_OK) {
            lose_all(l, PQerrorMessage(l->conn));
            return;
        }
    }
}

static void *keeper_main(void *arg)
{
    kpid_lease *l = arg;
    kpid_backoff b = {.min = 100000, .max = beat_us(l), .seed = (unsigned)getpid()};

    while (!atomic_load(&l->stopping)) {
        int64_t nap = beat_us(l);
        if (!l->conn && lease_connect(l) < 0)
            nap = kpid_backoff_next(&b);
        else {
            kpid_backoff_reset(&b);
            beat(l);
        }
        keeper_nap(l, nap);
    }
    PQfinish(l->conn); /* frees every lock */
    l->conn = NULL;
    return NULL;
}

int kpid_lease_start(const kpid_pg_target *warehouse, int64_t takeover_ms, kpid_lease **ret_lease)
{
    kpid_lease *l = calloc(1, sizeof(*l));
    pthread_condattr_t attr;
    char host[256] = "?";
    int r;

    if (!l)
        return -ENOMEM;
    l->target = *warehouse;
    l->takeover_us = takeover_ms * 1000;
    /* No statement of the keeper may hold it longer than a beat or two. */
    l->target.statement_timeout_ms = takeover_ms / 3;
    l->target.lock_timeout_ms = takeover_ms / 6;
    if (l->target.connect_timeout_ms > takeover_ms / 3)
        l->target.connect_timeout_ms = takeover_ms / 3 > 1000 ? takeover_ms / 3 : 1000;
    (void)gethostname(host, sizeof(host) - 1);
    snprintf(l->holder, sizeof(l->holder), "%s:%d", host, (int)getpid());
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    r = -pthread_create(&l->thread, NULL, keeper_main, l);
    if (r < 0) {
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return r;
    }
    *ret_lease = l;
    return 0;
}

void kpid_lease_stop(kpid_lease *l)
{
    if (!l)
        return;
    kpid_lease_wake(l);
    pthread_join(l->thread, NULL);
    for (int i = 0; i < CLAIMS_MAX; i++)
        free(l->claims[i].source);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int kpid_lease_claim(kpid_lease *l, const char *source, void (*on_lost)(void *arg), void *arg)
{
    char *copy = strdup(source);
    int r = -ENOSPC;

    if (!copy)
        return -ENOMEM;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < CLAIMS_MAX && r < 0; i++)
        if (!l->claims[i].source) {
            l->claims[i].source = copy;
            l->claims[i].on_lost = on_lost;
            l->claims[i].arg = arg;
            l->claims[i].released = false;
            atomic_store(&l->claims[i].epoch, 0);
            r = i;
        }
    l->poked = true; /* try it now, not at the next beat */
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (r < 0)
        free(copy);
    return r;
}

void kpid_lease_release(kpid_lease *l, int claim)
{
    pthread_mutex_lock(&l->lock);
    l->claims[claim].released = true;
    atomic_store(&l->claims[claim].epoch, 0);
    pthread_mutex_unlock(&l->lock);
}

int64_t kpid_lease_epoch(kpid_lease *l, int claim)
{
    return atomic_load(&l->claims[claim].epoch);
}

int64_t kpid_lease_wait(kpid_lease *l, int claim, const _Atomic bool *stop, int64_t timeout_us)
{
    int64_t end = timeout_us < 0 ? INT64_MAX : kpid_now_us() + timeout_us, epoch;
    struct timespec ts;

    pthread_mutex_lock(&l->lock);
    while (!(epoch = atomic_load(&l->claims[claim].epoch)) && !atomic_load(stop) &&
           !atomic_load(&l->stopping)) {
        int64_t now = kpid_now_us(), until = now + 200000;
        if (now >= end)
            break;
        if (until > end)
            until = end;
        ts.tv_sec = (time_t)(until / 1000000);
        ts.tv_nsec = (long)(until % 1000000) * 1000;
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    pthread_mutex_unlock(&l->lock);
    return epoch;
}

void kpid_lease_wake(kpid_lease *l)
{
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->stopping, true);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}
