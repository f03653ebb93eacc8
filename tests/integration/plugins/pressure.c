/*
 * pressure: a test stream plugin of ABI 1.2 that pauses on back-pressure instead of
 * blocking, as a Kafka consumer or an MLLP listener must, and counts what happened in
 * typed metrics.
 *
 * run() waits for `go_file` to exist (when set), then emits TICK events from its cursor
 * up to `total`, `per_batch` to a batch (keys bp-N, value N), and submits each with
 * batch_try_submit(). On -EAGAIN it keeps the batch, logs "queue full: pausing" (once
 * per pause), and calls wait_room(`wait_ms`) until the batch goes in: where a consumer
 * would poll its upstream. When all is submitted it logs "all submitted" and idles until
 * it is asked to stop; asked to stop while paused, it aborts the batch it holds, logs
 * "stopped while paused" and returns (what it held is read again from the cursor).
 *
 * Its metrics carry the labels of the nested section `labels` (a list of groups
 * { name = "..."; value = "..."; }), read from the raw setting as kpid/plugin.h shows:
 *
 *   batches_total         counter    batches queued
 *   submit_again_total    counter    try_submit answered -EAGAIN
 *   room_total            counter    wait_room answered: there is room
 *   room_timeouts_total   counter    wait_room timed out
 *   room_cancelled_total  counter    wait_room answered -ECANCELED
 *   paused                gauge      1 while paused, else 0
 *   next_tick             gauge      the next tick to emit
 *   batch_rows            histogram  rows of each batch queued (buckets 10, 50, 100)
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, access: it also builds out of tree, -std=c17 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libconfig.h>

#include "kpid/plugin.h"

typedef struct pressure_config {
    int64_t total;
    int64_t per_batch;
    int64_t wait_ms;
    char *go_file;
} pressure_config;

static const kpid_config_key pressure_keys[] = {
    {.name = "total",
     .type = KPID_CONFIG_INT,
     .default_value = "1000",
     .min = 0,
     .max = 100000000,
     .offset = offsetof(pressure_config, total),
     .description = "events in all"},
    {.name = "per_batch",
     .type = KPID_CONFIG_INT,
     .default_value = "20",
     .min = 1,
     .max = 10000,
     .offset = offsetof(pressure_config, per_batch),
     .description = "events per batch"},
    {.name = "wait_ms",
     .type = KPID_CONFIG_DURATION,
     .default_value = "100ms",
     .min = 1,
     .max = 60000,
     .offset = offsetof(pressure_config, wait_ms),
     .description = "how long one wait_room() waits before the plugin polls again"},
    {.name = "go_file",
     .type = KPID_CONFIG_STRING,
     .offset = offsetof(pressure_config, go_file),
     .description = "run() starts once this file exists"},
    {.name = "labels",
     .type = KPID_CONFIG_SECTION,
     .description = "labels of every metric: ( { name = \"...\"; value = \"...\"; }, ... )"},
    {.name = NULL},
};

enum { M_BATCHES, M_AGAIN, M_ROOM, M_TIMEOUTS, M_CANCELLED, M_PAUSED, M_NEXT, M_ROWS, M_N };

typedef struct pressure {
    const kpid_host *host;
    kpid_source *src;
    const pressure_config *cfg;
    kpid_metric_label labels[KPID_METRIC_LABELS_MAX];
    size_t n_labels;
    kpid_metric *m[M_N];
} pressure;

/* Reads the nested section `labels`: the raw config_setting_t pattern of kpid/plugin.h. */
static int read_labels(pressure *p, const struct config_setting_t *setting)
{
    const config_setting_t *list = config_setting_get_member(setting, "labels");

    for (int i = 0; list && i < config_setting_length(list); i++) {
        const config_setting_t *l = config_setting_get_elem(list, (unsigned)i);
        const char *name, *value;
        if (!config_setting_is_group(l) || !config_setting_lookup_string(l, "name", &name) ||
            !config_setting_lookup_string(l, "value", &value)) {
            p->host->log(p->src, KPID_LOG_ERR, "%s:%d: a label needs a name and a value",
                         config_setting_source_file(l), config_setting_source_line(l));
            return -EINVAL;
        }
        if (p->n_labels == KPID_METRIC_LABELS_MAX) {
            p->host->log(p->src, KPID_LOG_ERR, "%s:%d: at most %d labels",
                         config_setting_source_file(l), config_setting_source_line(l),
                         KPID_METRIC_LABELS_MAX);
            return -EINVAL;
        }
        /* The strings live as long as the setting, that is until fini returns. */
        p->labels[p->n_labels++] = (kpid_metric_label){.name = name, .value = value};
    }
    return 0;
}

static int register_metrics(pressure *p)
{
    static const double rows_buckets[] = {10, 50, 100};
    static const struct {
        enum kpid_metric_type type;
        const char *name, *help;
    } defs[M_N] = {
        [M_BATCHES] = {KPID_METRIC_COUNTER, "batches_total", "batches queued"},
        [M_AGAIN] = {KPID_METRIC_COUNTER, "submit_again_total", "try_submit answered EAGAIN"},
        [M_ROOM] = {KPID_METRIC_COUNTER, "room_total", "wait_room answered: there is room"},
        [M_TIMEOUTS] = {KPID_METRIC_COUNTER, "room_timeouts_total", "wait_room timed out"},
        [M_CANCELLED] = {KPID_METRIC_COUNTER, "room_cancelled_total",
                         "wait_room answered ECANCELED"},
        [M_PAUSED] = {KPID_METRIC_GAUGE, "paused", "1 while paused"},
        [M_NEXT] = {KPID_METRIC_GAUGE, "next_tick", "the next tick to emit"},
        [M_ROWS] = {KPID_METRIC_HISTOGRAM, "batch_rows", "rows of each batch queued"},
    };

    for (int i = 0; i < M_N; i++) {
        kpid_metric_def def = {
            .type = defs[i].type,
            .name = defs[i].name,
            .help = defs[i].help,
            .labels = p->labels,
            .n_labels = p->n_labels,
        };
        if (defs[i].type == KPID_METRIC_HISTOGRAM) {
            def.buckets = rows_buckets;
            def.n_buckets = sizeof(rows_buckets) / sizeof(rows_buckets[0]);
        }
        int r = p->host->metric_register(p->src, &def, &p->m[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int pressure_init(const kpid_host *host, kpid_source *src, const void *config,
                         const struct config_setting_t *setting, void **ret_state)
{
    pressure *p = calloc(1, sizeof(*p));
    int r;

    if (!p)
        return -ENOMEM;
    *ret_state = p;
    p->host = host;
    p->src = src;
    p->cfg = config;
    /* Built for 1.2: on an older host the members it needs are not there. */
    if (!KPID_HOST_HAS(host, histogram_observe)) {
        host->log(src, KPID_LOG_ERR, "this host speaks ABI %u.%u; pressure needs 1.2",
                  host->abi_major, host->abi_minor);
        return -ENOTSUP;
    }
    if ((r = read_labels(p, setting)) < 0)
        return r;
    return register_metrics(p);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/*
 * Submits b without blocking: on -EAGAIN it waits for room, wait_ms at a time, and tries
 * again. Returns 0 when it is queued, -ECANCELED when the source stops (b is gone), or
 * another negative errno.
 */
static int submit(pressure *p, kpid_batch *b, const char *cursor)
{
    const kpid_host *h = p->host;
    bool paused = false;
    uint64_t again = 0;

    for (;;) {
        size_t rows = h->batch_rows(b);
        int r = h->batch_try_submit(b, cursor, NULL);
        if (r == 0) {
            h->counter_add(p->m[M_BATCHES], 1);
            h->histogram_observe(p->m[M_ROWS], (double)rows);
            if (paused) {
                h->gauge_set(p->m[M_PAUSED], 0);
                h->log(p->src, KPID_LOG_INFO, "room again: resuming after again=%" PRIu64, again);
            }
            return 0;
        }
        if (r != -EAGAIN)
            return r;
        /* The batch is still ours, unchanged. */
        h->counter_add(p->m[M_AGAIN], 1);
        again++;
        if (!paused) {
            paused = true;
            h->gauge_set(p->m[M_PAUSED], 1);
            h->log(p->src, KPID_LOG_INFO, "queue full: pausing");
        }
        r = h->wait_room(p->src, b, p->cfg->wait_ms);
        if (r == 0) {
            h->counter_add(p->m[M_ROOM], 1);
        } else if (r == -ETIMEDOUT) {
            h->counter_add(p->m[M_TIMEOUTS], 1); /* a consumer polls its upstream here */
        } else {
            if (r == -ECANCELED) {
                h->counter_add(p->m[M_CANCELLED], 1);
                h->log(p->src, KPID_LOG_INFO, "stopped while paused");
            }
            h->batch_abort(b);
            return r;
        }
    }
}

static int pressure_run(void *state)
{
    pressure *p = state;
    const kpid_host *h = p->host;
    char *cursor = NULL;
    char key[32], next[32];
    int64_t tick;
    int r;

    while (p->cfg->go_file && access(p->cfg->go_file, F_OK) != 0) {
        if (h->stop_requested(p->src))
            return 0;
        sleep_ms(20);
    }
    if ((r = h->cursor_load(p->src, &cursor)) < 0)
        return r;
    tick = cursor ? strtoll(cursor, NULL, 10) : 0;
    free(cursor);
    h->gauge_set(p->m[M_NEXT], (double)tick);

    while (tick < p->cfg->total && !h->stop_requested(p->src)) {
        kpid_batch *b;
        if ((r = h->batch_begin(p->src, &b)) < 0)
            return r;
        for (int64_t i = 0; i < p->cfg->per_batch && tick < p->cfg->total; i++, tick++) {
            snprintf(key, sizeof(key), "bp-%" PRId64, tick);
            kpid_event ev = {
                .event_key = key,
                .case_id = "pressure",
                .activity = "TICK",
                .time_us = 1767225600000000LL + tick * 1000000, /* 2026-01-01 + n s */
                .value = (double)tick,
                .has_value = true,
            };
            if ((r = h->emit(b, &ev, NULL)) < 0) {
                h->batch_abort(b);
                return r;
            }
        }
        snprintf(next, sizeof(next), "%" PRId64, tick);
        r = submit(p, b, next);
        if (r == -ECANCELED)
            return 0;
        if (r < 0)
            return r;
        h->gauge_set(p->m[M_NEXT], (double)tick);
    }
    if (tick >= p->cfg->total)
        h->log(p->src, KPID_LOG_INFO, "all submitted next=%" PRId64, tick);
    while (!h->stop_requested(p->src))
        sleep_ms(20);
    return 0;
}

static void pressure_fini(void *state)
{
    free(state);
}

static const kpid_plugin_def pressure_def = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "pressure",
    .version = "1.0",
    .description = "pauses on a full queue instead of blocking; counts it in typed metrics",
    .shape = KPID_SOURCE_STREAM,
    .config_keys = pressure_keys,
    .config_size = sizeof(pressure_config),
    .init = pressure_init,
    .run = pressure_run,
    .fini = pressure_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &pressure_def;
}
