#include "ingest/source.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/batch.h"
#include "ingest/host.h"
#include "ingest/lease.h"
#include "ingest/metrics.h"
#include "ingest/source_internal.h"
#include "ops/log.h"
#include "retry/backoff.h"
#include "time/clock.h"

#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 60000
/* --once: a plugin that fails this many times in a row ends its source with an error. */
#define ONCE_MAX_FAILURES 3

static _Atomic uint64_t committed_events;

uint64_t kpid_sources_committed_events(void)
{
    return atomic_load(&committed_events);
}

/* ---- the writer's side ------------------------------------------------------------ */

void kpid_source_batch_done(struct kpid_batch *b, bool committed)
{
    kpid_source *src = b->src;

    if (committed) {
        atomic_fetch_add(&committed_events, b->n_events);
        pthread_mutex_lock(&src->lock);
        if (b->cursor) {
            free(src->committed);
            src->committed = b->cursor;
            b->cursor = NULL;
        }
        void *state = src->state;
        pthread_mutex_unlock(&src->lock);
        /* state cannot be freed meanwhile: fini waits for inflight to reach zero. */
        if (state && KPID_PLUGIN_HAS(src->cfg->plugin, committed) && src->def->committed)
            src->def->committed(state, b->id, src->committed);
    }
    pthread_mutex_lock(&src->lock);
    src->inflight--;
    pthread_cond_broadcast(&src->cond);
    pthread_mutex_unlock(&src->lock);
    kpid_batch_free(b);
}

bool kpid_source_batch_stale(const struct kpid_batch *b)
{
    return b->epoch > 0 && b->src->lease &&
           kpid_lease_epoch(b->src->lease, b->src->claim) != b->epoch;
}

/* ---- the source thread ------------------------------------------------------------- */

/* Sleeps ms or until the source is asked to stop. */
static void source_sleep(kpid_source *src, int64_t ms)
{
    (void)kpid_nap(&src->lock, &src->cond, &src->stop, ms * 1000);
}

/* Waits until none of the source's batches is in flight. */
static void wait_inflight(kpid_source *src)
{
    pthread_mutex_lock(&src->lock);
    while (src->inflight > 0)
        pthread_cond_wait(&src->cond, &src->lock);
    pthread_mutex_unlock(&src->lock);
}

/* Runs the plugin once from init to fini. Returns 0 when it ended because it was asked
 * to (or, with --once, because it was idle), or a negative errno when it failed. */
static int run_plugin(kpid_source *src, unsigned *seed, bool *ret_made_progress)
{
    const kpid_plugin_def *def = src->def;
    void *state = NULL;
    int r;

    *ret_made_progress = false;
    /* Start from what is durable: after a failure, uncommitted batches are read again. */
    pthread_mutex_lock(&src->lock);
    free(src->submitted);
    src->submitted = src->committed ? strdup(src->committed) : NULL;
    pthread_mutex_unlock(&src->lock);

    r = def->init(kpid_host_table(), src, src->cfg->plugin_config, src->cfg->setting, &state);
    pthread_mutex_lock(&src->lock);
    src->state = state;
    pthread_mutex_unlock(&src->lock);
    if (r < 0) {
        kpid_host_log(src, KPID_LOG_ERR, "init failed error=\"%s\"", strerror(-r));
        goto out;
    }
    if (atomic_load(&src->halt) && def->request_stop)
        def->request_stop(state);

    if (def->shape == KPID_SOURCE_STREAM) {
        r = def->run(state);
        if (r < 0)
            kpid_host_log(src, KPID_LOG_ERR, "run failed error=\"%s\"", strerror(-r));
        else
            *ret_made_progress = true;
        goto out;
    }
    while (!atomic_load(&src->halt)) {
        /* poll() gets a copy: a batch it submits replaces src->submitted meanwhile. */
        char *cursor = NULL;
        if (src->submitted && !(cursor = strdup(src->submitted))) {
            r = -ENOMEM;
            kpid_host_log(src, KPID_LOG_ERR, "poll failed error=\"%s\"", strerror(-r));
            goto out;
        }
        r = def->poll(state, cursor);
        free(cursor);
        if (r < 0) {
            if (r == -ECANCELED && atomic_load(&src->halt))
                break; /* asked to end while it waited for room: a clean end */
            kpid_host_log(src, KPID_LOG_ERR, "poll failed error=\"%s\"", strerror(-r));
            goto out;
        }
        *ret_made_progress = true;
        if (r == KPID_POLL_MORE)
            continue;
        if (src->once) {
            /* Idle: once what was submitted is durable, this source is done. */
            wait_inflight(src);
            break;
        }
        /* ± 10 %, so that sources configured alike do not poll in lockstep. */
        source_sleep(src, kpid_jitter(src->cfg->interval_ms, 10, 10, seed));
    }
    r = 0;
out:
    wait_inflight(src);
    pthread_mutex_lock(&src->lock);
    src->state = NULL;
    pthread_mutex_unlock(&src->lock);
    def->fini(state);
    return r;
}

/* The lease keeper lost the source's lease: the plugin must end (keeper's thread). */
static void lease_lost(void *arg)
{
    kpid_source *src = arg;

    atomic_store(&src->halt, true);
    pthread_mutex_lock(&src->lock);
    if (src->state && src->def->request_stop)
        src->def->request_stop(src->state);
    pthread_cond_broadcast(&src->cond);
    pthread_mutex_unlock(&src->lock);
    kpid_queue_wake(src->queue);
}

/* Reads the source's committed cursor from the warehouse into src->committed. */
static int reload_cursor(kpid_source *src)
{
    const char *params[1] = {src->cfg->name};
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *error = NULL, *cursor = NULL;
    int r;

    if (!src->warehouse)
        return 0;
    r = kpid_pg_open(src->warehouse, &conn, &error);
    if (r == 0)
        r = kpid_pg_query(conn, "SELECT cursor FROM kpid.cursor WHERE source = $1", 1, params, &res,
                          "cannot read the source's cursor", &error);
    if (r == 0 && PQntuples(res) == 1 && !(cursor = strdup(PQgetvalue(res, 0, 0))))
        r = -ENOMEM;
    if (r == 0) {
        pthread_mutex_lock(&src->lock);
        free(src->committed);
        src->committed = cursor;
        pthread_mutex_unlock(&src->lock);
    } else
        kpid_host_log(src, KPID_LOG_WARNING, "%s", error ? error : strerror(-r));
    free(error);
    PQclear(res);
    PQfinish(conn);
    return r;
}

/*
 * An exclusive source: waits until it holds its lease (with --once, for takeover at
 * most), then reads its committed cursor. Returns 0 when the plugin may run, 1 to try
 * again (after a pause), -1 to end the thread.
 */
static int take_lease(kpid_source *src)
{
    int64_t epoch;

    if (!src->lease)
        return 0;
    if (atomic_load(&src->epoch) == 0 || kpid_lease_epoch(src->lease, src->claim) == 0) {
        kpid_host_log(src, KPID_LOG_INFO, "waiting for the source's lease");
        epoch = kpid_lease_wait(src->lease, src->claim, &src->stop,
                                src->once ? src->takeover_ms * 1000 : -1);
        if (atomic_load(&src->stop))
            return -1;
        if (!epoch) {
            if (!src->once)
                return 1;
            kpid_host_log(src, KPID_LOG_ERR,
                          "another instance holds the source (see "
                          "kpid.source_holder): not read");
            atomic_store(&src->failed, true);
            return -1;
        }
        atomic_store(&src->epoch, epoch);
    }
    /* Reads under this epoch from here: what the last holder committed is the start. */
    wait_inflight(src);
    if (reload_cursor(src) < 0)
        return 1;
    atomic_store(&src->halt, atomic_load(&src->stop));
    if (kpid_lease_epoch(src->lease, src->claim) != atomic_load(&src->epoch))
        return 1; /* lost again meanwhile */
    return 0;
}

static void *source_main(void *arg)
{
    kpid_source *src = arg;
    /* Restarts: 1 s doubling up to a minute, each ± 10 %. */
    kpid_backoff backoff = {
        .min = RESTART_MIN_MS,
        .max = RESTART_MAX_MS,
        .jitter_below = 10,
        .jitter_above = 10,
        .seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)src,
    };
    unsigned failures = 0;

    kpid_host_log(src, KPID_LOG_INFO, "starting plugin=%s", src->cfg->plugin->name);
    while (!atomic_load(&src->stop)) {
        bool progress;
        int r = take_lease(src);

        if (r < 0)
            break;
        if (r > 0) {
            atomic_store(&src->epoch, 0);
            source_sleep(src, RESTART_MIN_MS);
            continue;
        }
        r = run_plugin(src, &backoff.seed, &progress);
        if (src->lease && kpid_lease_epoch(src->lease, src->claim) != atomic_load(&src->epoch)) {
            /* The lease was lost, not the plugin: wait for it again. */
            kpid_host_log(src, KPID_LOG_NOTICE, "stopped reading: the source's lease is lost");
            atomic_store(&src->epoch, 0);
            kpid_backoff_reset(&backoff);
            failures = 0;
            continue;
        }
        if (r == 0 && (src->once || atomic_load(&src->stop)))
            break;
        if (progress) {
            kpid_backoff_reset(&backoff);
            failures = 0;
        }
        failures++;
        if (src->once && failures >= ONCE_MAX_FAILURES) {
            kpid_host_log(src, KPID_LOG_ERR, "giving up after failures=%u", failures);
            atomic_store(&src->failed, true);
            break;
        }
        int64_t delay = kpid_backoff_next(&backoff);
        kpid_host_log(src, KPID_LOG_NOTICE, "restarting in=%lldms failures=%u",
                      (long long)backoff.current, failures);
        source_sleep(src, delay);
    }
    if (src->lease)
        kpid_lease_release(src->lease, src->claim);
    kpid_host_log_metrics(src);
    kpid_host_log(src, KPID_LOG_INFO, "stopped");
    atomic_store(&src->finished, true);
    return NULL;
}

int kpid_source_start(const kpid_source_config *cfg, const kpid_source_options *opt,
                      kpid_source **ret_source)
{
    kpid_source *src = calloc(1, sizeof(*src));
    pthread_condattr_t attr;
    int r;

    if (!src)
        return -ENOMEM;
    src->cfg = cfg;
    src->def = cfg->plugin->def;
    src->queue = opt->queue;
    src->once = opt->once;
    src->ctx.source = cfg->name;
    src->ctx.key = opt->key;
    src->ctx.key_len = opt->key_len;
    src->ctx.pseudonymize_case_id = cfg->pseudonymize_case_id && opt->key;
    src->warehouse = opt->warehouse;
    src->metrics = opt->metrics ? opt->metrics : kpid_metrics_default();
    src->takeover_ms = opt->takeover_ms;
    if (opt->initial_cursor && !(src->committed = strdup(opt->initial_cursor))) {
        free(src);
        return -ENOMEM;
    }
    pthread_mutex_init(&src->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&src->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (opt->lease) {
        if ((r = kpid_lease_claim(opt->lease, cfg->name, lease_lost, src)) < 0)
            goto fail;
        src->lease = opt->lease;
        src->claim = r;
    }
    if ((r = -pthread_create(&src->thread, NULL, source_main, src)) < 0)
        goto fail;
    *ret_source = src;
    return 0;
fail:
    if (src->lease)
        kpid_lease_release(src->lease, src->claim);
    pthread_cond_destroy(&src->cond);
    pthread_mutex_destroy(&src->lock);
    free(src->committed);
    free(src);
    return r;
}

void kpid_source_request_stop(kpid_source *src)
{
    atomic_store(&src->stop, true);
    atomic_store(&src->halt, true);
    pthread_mutex_lock(&src->lock);
    if (src->state && src->def->request_stop)
        src->def->request_stop(src->state);
    pthread_cond_broadcast(&src->cond);
    pthread_mutex_unlock(&src->lock);
    kpid_queue_wake(src->queue);
}

bool kpid_source_finished(kpid_source *src)
{
    return atomic_load(&src->finished);
}

bool kpid_source_failed(kpid_source *src)
{
    return atomic_load(&src->failed);
}

kpid_source *kpid_source_free(kpid_source *src)
{
    if (!src)
        return NULL;
    pthread_join(src->thread, NULL);
    kpid_metrics_drop(src->metrics, src);
    pthread_cond_destroy(&src->cond);
    pthread_mutex_destroy(&src->lock);
    free(src->committed);
    free(src->submitted);
    free(src);
    return NULL;
}
