#include "ingest/host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"
#include "ingest/metrics.h"
#include "ingest/pseudonym.h"
#include "ingest/queue.h"
#include "ingest/source_internal.h"
#include "ingest/source_state.h"
#include "ops/log.h"

static _Atomic uint64_t next_batch_id = 1;

void kpid_host_log(kpid_source *src, enum kpid_log_level level, const char *fmt, ...)
{
    char prefix[KPID_SOURCE_NAME_MAX + 16];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "source=%s ", src->cfg->name);
    va_start(ap, fmt);
    kpid_logv(level, prefix, fmt, ap);
    va_end(ap);
}

/* ---- ABI 1.0 ------------------------------------------------------------------------ */

static const char *host_source_name(kpid_source *src)
{
    return src->cfg->name;
}

static bool host_stop_requested(kpid_source *src)
{
    return atomic_load(&src->halt);
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
    int r = kpid_batch_new(&src->ctx, src, ++src->batch_seq, ret_batch);

    if (r == 0)
        (*ret_batch)->epoch = atomic_load(&src->epoch);
    return r;
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

/*
 * Readies b for the queue: its cursor, its id and its weight. *ret_cursor is a copy of
 * the cursor for src->submitted, or NULL when the batch keeps the previous one. Returns
 * 0, or -EINVAL (logged) / -ENOMEM; the batch is left to the caller in every case.
 */
static int submit_prepare(kpid_batch *b, const char *cursor, char **ret_cursor)
{
    char *copy = NULL;
    int r;

    r = kpid_batch_set_cursor(b, cursor);
    if (r < 0) {
        kpid_host_log(b->src, KPID_LOG_ERR,
                      "batch refused: cursor is invalid or longer than %zu bytes", KPID_CURSOR_MAX);
        return r;
    }
    if (b->cursor && !(copy = strdup(b->cursor)))
        return -ENOMEM;
    b->id = atomic_fetch_add(&next_batch_id, 1);
    kpid_batch_seal(b);
    *ret_cursor = copy;
    return 0;
}

/*
 * Queues a prepared batch: with wait, as kpid_queue_push (waiting for room, cancelled by
 * the source's stop); without, as kpid_queue_try_push. Returns 0 (the batch belongs to
 * the writer now, and may be gone already), or the queue's error with the batch still
 * the caller's.
 */
static int submit_queue(kpid_batch *b, bool wait)
{
    kpid_source *src = b->src;
    int r;

    /* Counted before the push: the writer may be done with the batch before it returns. */
    pthread_mutex_lock(&src->lock);
    src->inflight++;
    pthread_mutex_unlock(&src->lock);
    r = wait ? kpid_queue_push(src->queue, &b->item, &src->halt)
             : kpid_queue_try_push(src->queue, &b->item);
    if (r < 0) {
        pthread_mutex_lock(&src->lock);
        src->inflight--;
        pthread_cond_broadcast(&src->cond);
        pthread_mutex_unlock(&src->lock);
    }
    return r;
}

/* After a batch was queued: its cursor is the source's submitted one. */
static void submit_done(kpid_source *src, char *cursor, uint64_t id, uint64_t *ret_batch_id)
{
    if (cursor) {
        free(src->submitted);
        src->submitted = cursor;
    }
    if (ret_batch_id)
        *ret_batch_id = id;
}

/*
 * Queues b with cursor: waits for room when wait, else returns -EAGAIN with the batch
 * still the plugin's, as it was. Any other failure frees the batch.
 */
static int submit(kpid_batch *b, const char *cursor, bool wait, uint64_t *ret_batch_id)
{
    kpid_source *src = b->src;
    char *copy = NULL;
    int r;

    r = submit_prepare(b, cursor, &copy);
    if (r < 0) {
        kpid_batch_free(b);
        return r;
    }
    uint64_t id = b->id;
    r = submit_queue(b, wait);
    if (r == -EAGAIN) {
        /* An unsubmitted batch has no cursor. */
        free(copy);
        free(b->cursor);
        b->cursor = NULL;
        return -EAGAIN;
    }
    if (r < 0) {
        free(copy);
        kpid_batch_free(b);
        return r == -EPIPE ? -ECANCELED : r;
    }
    submit_done(src, copy, id, ret_batch_id);
    return 0;
}

static int host_batch_submit(kpid_batch *b, const char *cursor, uint64_t *ret_batch_id)
{
    return submit(b, cursor, /* wait= */ true, ret_batch_id);
}

static void host_batch_abort(kpid_batch *b)
{
    kpid_batch_free(b);
}

static void host_metric_add(kpid_source *src, const char *name, int64_t delta)
{
    /* The 1.0 interface: logged at debug level. Typed metrics came with 1.2. */
    kpid_host_log(src, KPID_LOG_DEBUG, "metric name=\"%s\" delta=%lld", kpid_log_value(name),
                  (long long)delta);
}

/* ---- ABI 1.1 ------------------------------------------------------------------------ */

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
        kpid_host_log(src, KPID_LOG_ERR, "cannot read the source's state: no warehouse configured");
        return -EIO;
    }
    r = kpid_source_state_load(src->warehouse, src->cfg->name, fn, arg, &error);
    if ((r == -EIO || r == -EACCES) && error)
        kpid_host_log(src, KPID_LOG_ERR, "cannot read the source's state: %s", error);
    free(error);
    return r;
}

static int host_pseudonymize(kpid_source *src, enum kpid_id_field field, const char *id, size_t len,
                             char *out, size_t out_size)
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

/* ---- ABI 1.2 ------------------------------------------------------------------------ */

static int host_batch_try_submit(kpid_batch *b, const char *cursor, uint64_t *ret_batch_id)
{
    if (atomic_load(&b->src->halt)) {
        kpid_batch_free(b);
        return -ECANCELED;
    }
    return submit(b, cursor, /* wait= */ false, ret_batch_id);
}

static int host_wait_room(kpid_source *src, const kpid_batch *b, int64_t timeout_ms)
{
    size_t events = 1, bytes = 0;
    int64_t now = kpid_now_us(), deadline;
    int r;

    if (b) {
        /* The weight the batch would be queued with. Sealing only computes it: the
         * batch is the calling thread's, and unchanged for the plugin. */
        kpid_batch_seal((kpid_batch *)b);
        events = b->item.events;
        bytes = b->item.bytes;
    }
    if (timeout_ms < 0 || timeout_ms > (INT64_MAX - now) / 1000)
        deadline = INT64_MAX;
    else
        deadline = now + timeout_ms * 1000;
    r = kpid_queue_wait_room(src->queue, events, bytes, deadline, &src->halt);
    return r == -EPIPE ? -ECANCELED : r;
}

static int host_metric_register(kpid_source *src, const kpid_metric_def *def,
                                kpid_metric **ret_metric)
{
    const char *reason = NULL;
    int r;

    r = kpid_metrics_register(src->metrics, src, src->cfg->name, def, ret_metric, &reason);
    if (r < 0 && reason)
        kpid_host_log(src, KPID_LOG_WARNING, "metric refused name=\"%s\" reason=\"%s\"",
                      kpid_log_value(def ? def->name : NULL), reason);
    return r;
}

static int log_metric(void *arg, const kpid_metric_sample *s)
{
    char line[KPID_METRIC_LINE_MAX];

    kpid_host_log(arg, KPID_LOG_DEBUG, "%s", kpid_metric_format(s, line));
    return 0;
}

void kpid_host_log_metrics(kpid_source *src)
{
    (void)kpid_metrics_walk(src->metrics, src, log_metric, src);
}

static const kpid_host host_table = {
    .abi_major = KPID_ABI_MAJOR,
    .abi_minor = KPID_ABI_MINOR,
    .struct_size = sizeof(kpid_host),
    .log = kpid_host_log,
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
    /* 1.1 */
    .state_put = host_state_put,
    .state_load = host_state_load,
    .pseudonymize = host_pseudonymize,
    .event_invalid = host_event_invalid,
    /* 1.2 */
    .batch_try_submit = host_batch_try_submit,
    .wait_room = host_wait_room,
    .metric_register = host_metric_register,
    .counter_add = kpid_metric_counter_add,
    .gauge_set = kpid_metric_gauge_set,
    .gauge_add = kpid_metric_gauge_add,
    .histogram_observe = kpid_metric_observe,
};

const kpid_host *kpid_host_table(void)
{
    return &host_table;
}
