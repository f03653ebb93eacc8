#include "ingest/source.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/batch.h"
#include "ingest/host.h"
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
    if (atomic_load(&src->stop) && def->request_stop)
        def->request_stop(state);

    if (def->shape == KPID_SOURCE_STREAM) {
        r = def->run(state);
        if (r < 0)
            kpid_host_log(src, KPID_LOG_ERR, "run failed error=\"%s\"", strerror(-r));
        else
            *ret_made_progress = true;
        goto out;
    }
    while (!atomic_load(&src->stop)) {
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
            if (r == -ECANCELED && atomic_load(&src->stop))
                break; /* asked to stop while it waited for room: a clean end */
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
        int r = run_plugin(src, &backoff.seed, &progress);

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
    if (opt->initial_cursor && !(src->committed = strdup(opt->initial_cursor))) {
        free(src);
        return -ENOMEM;
    }
    pthread_mutex_init(&src->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&src->cond, &attr);
    pthread_condattr_destroy(&attr);
    r = -pthread_create(&src->thread, NULL, source_main, src);
    if (r < 0) {
        pthread_cond_destroy(&src->cond);
        pthread_mutex_destroy(&src->lock);
        free(src->committed);
        free(src);
        return r;
    }
    *ret_source = src;
    return 0;
}

void kpid_source_request_stop(kpid_source *src)
{
    atomic_store(&src->stop, true);
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
