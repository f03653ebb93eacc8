#include "ingest/source.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/batch.h"
#include "ops/log.h"
#include "ingest/pseudonym.h"
#include "ingest/source_state.h"

#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 60000
/* --once: a plugin that fails this many times in a row ends its source with an error. */
#define ONCE_MAX_FAILURES 3

struct kpid_source {
    const kpid_source_config *cfg;
    const kpid_plugin_def *def;
    kpid_queue *queue;
    kpid_batch_ctx ctx;
    const kpid_pg_target *warehouse; /* for state_load; NULL = none */
    bool once;
    pthread_t thread;

    _Atomic bool stop;     /* set by kpid_source_request_stop */
    _Atomic bool finished; /* the thread has ended */
    _Atomic bool failed;   /* --once: the plugin kept failing */

    pthread_mutex_t lock;  /* guards the fields below */
    pthread_cond_t cond;   /* signalled on batch done and on stop */
    void *state;           /* the plugin's state while it lives */
    size_t inflight;       /* batches queued or being written */
    char *committed;       /* last committed cursor, NULL = none */

    /* Source thread only. */
    char *submitted;       /* cursor of the last queued batch */
    uint64_t batch_seq;
};

static _Atomic uint64_t next_batch_id = 1;
static _Atomic uint64_t committed_events;

uint64_t kpid_sources_committed_events(void)
{
    return atomic_load(&committed_events);
}

/* ---- host functions ------------------------------------------------------------- */

static void host_log(kpid_source *src, enum kpid_log_level level, const char *fmt, ...)
{
    char prefix[KPID_SOURCE_NAME_MAX + 16];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "source=%s ", src->cfg->name);
    va_start(ap, fmt);
    kpid_logv(level, prefix, fmt, ap);
    va_end(ap);
}

static const char *host_source_name(kpid_source *src)
{
    return src->cfg->name;
}

static bool host_stop_requested(kpid_source *src)
{
    return atomic_load(&src->stop);
}

static int host_cursor_load(kpid_source *src, char **ret_cursor)
{
    char *c = NULL;

    pthread_mutex_lock(&src->lock);
    if (src->committed)
        c = strdup(src->committed);
    bool oom = src->committed && !c;
    pthread_mutex_unlock(&src->lock);
    if (oom)
        return -ENOMEM;
    *ret_cursor = c;
    return 0;
}

static int host_batch_begin(kpid_source *src, kpid_batch **ret_batch)
{
    return kpid_batch_new(&src->ctx, src, ++src->batch_seq, ret_batch);
}

static int host_emit(kpid_batch *b, const kpid_event *ev, const char *locator)
{
    return kpid_batch_emit(b, ev, locator);
}

static int host_retract(kpid_batch *b, const char *event_key)
{
    return kpid_batch_retract(b, event_key);
}

static int host_replace_origin(kpid_batch *b, const char *origin)
{
    return kpid_batch_replace_origin(b, origin);
}

static int host_reject(kpid_batch *b, const char *locator, const char *reason, const char *raw,
                       size_t raw_len)
{
    return kpid_batch_reject(b, locator, reason, raw, raw_len);
}

static size_t host_batch_rows(const kpid_batch *b)
{
    return kpid_batch_weight(b);
}

static size_t host_batch_bytes(const kpid_batch *b)
{
    return kpid_batch_bytes(b);
}

static int host_batch_submit(kpid_batch *b, const char *cursor, uint64_t *ret_batch_id)
{
    kpid_source *src = b->src;
    int r;

    r = kpid_batch_set_cursor(b, cursor);
    if (r < 0) {
        host_log(src, KPID_LOG_ERR, "batch refused: cursor is invalid or longer than %d bytes",
                 KPID_CURSOR_MAX);
        kpid_batch_free(b);
        return r;
    }
    if (b->cursor) {
        char *copy = strdup(b->cursor);
        if (!copy) {
            kpid_batch_free(b);
            return -ENOMEM;
        }
        free(src->submitted);
        src->submitted = copy;
    }
    b->id = atomic_fetch_add(&next_batch_id, 1);
    kpid_batch_seal(b);
    uint64_t id = b->id;

    pthread_mutex_lock(&src->lock);
    src->inflight++;
    pthread_mutex_unlock(&src->lock);
    r = kpid_queue_push(src->queue, &b->item, &src->stop);
    if (r < 0) {
        pthread_mutex_lock(&src->lock);
        src->inflight--;
        pthread_cond_broadcast(&src->cond);
        pthread_mutex_unlock(&src->lock);
        kpid_batch_free(b);
        return r == -EPIPE ? -ECANCELED : r;
    }
    if (ret_batch_id)
        *ret_batch_id = id;
    return 0;
}

static void host_batch_abort(kpid_batch *b)
{
    kpid_batch_free(b);
}

static void host_metric_add(kpid_source *src, const char *name, int64_t delta)
{
    /* Plugin metrics are accepted and logged at debug level for now. */
    host_log(src, KPID_LOG_DEBUG, "metric name=\"%s\" delta=%lld", kpid_log_value(name),
             (long long)delta);
}

static int host_state_put(kpid_batch *b, const char *key, const char *value)
{
    return kpid_batch_state_put(b, key, value);
}

static int host_state_load(kpid_source *src,
                           int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
    char *error = NULL;
    int r;

    if (!src->warehouse) {
        host_log(src, KPID_LOG_ERR, "cannot read the source's state: no warehouse configured");
        return -EIO;
    }
    r = kpid_source_state_load(src->warehouse, src->cfg->name, fn, arg, &error);
    if ((r == -EIO || r == -EACCES) && error)
        host_log(src, KPID_LOG_ERR, "cannot read the source's state: %s", error);
    free(error);
    return r;
}

static int host_pseudonymize(kpid_source *src, enum kpid_id_field field, const char *id,
                             size_t len, char *out, size_t out_size)
{
    bool on;

    if (field == KPID_ID_SUBJECT)
        on = src->ctx.key != NULL;
    else if (field == KPID_ID_CASE)
        on = src->ctx.key != NULL && src->ctx.pseudonymize_case_id;
    else
        return -EINVAL;
    if (!out || out_size == 0 || (!id && len > 0))
        return -EINVAL;
    if (!on) {
        size_t n = len < out_size - 1 ? len : out_size - 1;
        if (n)
            memcpy(out, id, n);
        out[n] = '\0';
        return 0;
    }
    if (out_size < KPID_PSEUDONYM_HEX_LEN + 1)
        return -ENOBUFS;
    if (kpid_pseudonymize(src->ctx.key, src->ctx.key_len, len ? id : "", len, out) < 0)
        return -EIO;
    return 1;
}

static const char *host_event_invalid(kpid_source *src, const kpid_event *ev)
{
    (void)src;
    return ev ? kpid_event_invalid(ev) : "no event";
}

_Static_assert(KPID_PSEUDONYM_LEN == KPID_PSEUDONYM_HEX_LEN, "the SDK's pseudonym length");

static const kpid_host host_table = {
    .abi_major = KPID_ABI_MAJOR,
    .abi_minor = KPID_ABI_MINOR,
    .struct_size = sizeof(kpid_host),
    .log = host_log,
    .source_name = host_source_name,
    .stop_requested = host_stop_requested,
    .cursor_load = host_cursor_load,
    .batch_begin = host_batch_begin,
    .emit = host_emit,
    .retract = host_retract,
    .replace_origin = host_replace_origin,
    .reject = host_reject,
    .batch_rows = host_batch_rows,
    .batch_bytes = host_batch_bytes,
    .batch_submit = host_batch_submit,
    .batch_abort = host_batch_abort,
    .metric_add = host_metric_add,
    .state_put = host_state_put,
    .state_load = host_state_load,
    .pseudonymize = host_pseudonymize,
    .event_invalid = host_event_invalid,
};

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
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&src->lock);
    while (!atomic_load(&src->stop))
        if (pthread_cond_timedwait(&src->cond, &src->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&src->lock);
}

/* Waits until none of the source's batches is in flight. */
static void wait_inflight(kpid_source *src)
{
    pthread_mutex_lock(&src->lock);
    while (src->inflight > 0)
        pthread_cond_wait(&src->cond, &src->lock);
    pthread_mutex_unlock(&src->lock);
}

/* ms ± 10 %, so that sources configured alike do not poll in lockstep. */
static int64_t jitter(int64_t ms, unsigned *seed)
{
    int64_t spread = ms / 10;
    if (spread <= 0)
        return ms;
    return ms - spread + (int64_t)(rand_r(seed) % (unsigned)(2 * spread + 1));
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

    r = def->init(&host_table, src, src->cfg->plugin_config, src->cfg->setting, &state);
    pthread_mutex_lock(&src->lock);
    src->state = state;
    pthread_mutex_unlock(&src->lock);
    if (r < 0) {
        host_log(src, KPID_LOG_ERR, "init failed error=\"%s\"", strerror(-r));
        goto out;
    }
    if (atomic_load(&src->stop) && def->request_stop)
        def->request_stop(state);

    if (def->shape == KPID_SOURCE_STREAM) {
        r = def->run(state);
        if (r < 0)
            host_log(src, KPID_LOG_ERR, "run failed error=\"%s\"", strerror(-r));
        else
            *ret_made_progress = true;
        goto out;
    }
    while (!atomic_load(&src->stop)) {
        r = def->poll(state, src->submitted);
        if (r < 0) {
            if (r == -ECANCELED && atomic_load(&src->stop)) {
                r = 0;
                break;
            }
            host_log(src, KPID_LOG_ERR, "poll failed error=\"%s\"", strerror(-r));
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
        source_sleep(src, jitter(src->cfg->interval_ms, seed));
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
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)src;
    int64_t backoff = RESTART_MIN_MS;
    unsigned failures = 0;

    host_log(src, KPID_LOG_INFO, "starting plugin=%s", src->cfg->plugin->name);
    while (!atomic_load(&src->stop)) {
        bool progress;
        int r = run_plugin(src, &seed, &progress);

        if (r == 0 && (src->once || atomic_load(&src->stop)))
            break;
        if (progress) {
            backoff = RESTART_MIN_MS;
            failures = 0;
        }
        failures++;
        if (src->once && failures >= ONCE_MAX_FAILURES) {
            host_log(src, KPID_LOG_ERR, "giving up after failures=%u", failures);
            atomic_store(&src->failed, true);
            break;
        }
        host_log(src, KPID_LOG_NOTICE, "restarting in=%lldms failures=%u",
                 (long long)backoff, failures);
        source_sleep(src, jitter(backoff, &seed));
        backoff = backoff * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : backoff * 2;
    }
    host_log(src, KPID_LOG_INFO, "stopped");
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
    pthread_cond_destroy(&src->cond);
    pthread_mutex_destroy(&src->lock);
    free(src->committed);
    free(src->submitted);
    free(src);
    return NULL;
}
