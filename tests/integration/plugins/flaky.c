/*
 * flaky: a test source plugin that misbehaves on purpose. Its poll fails with -EIO the
 * first `fail_first` times it is called in this process (across restarts: the count is
 * process-wide, as the plugin is never unloaded), sleeps `sleep_ms` in every poll
 * (a slow source), and otherwise emits `total` FLAKY events, `per_batch` at a time,
 * with a numeric cursor.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kpid/plugin.h"

typedef struct flaky_config {
    int64_t fail_first;
    int64_t sleep_ms;
    int64_t total;
    int64_t per_batch;
} flaky_config;

static const kpid_config_key flaky_keys[] = {
    {.name = "fail_first",
     .type = KPID_CONFIG_INT,
     .default_value = "0",
     .offset = offsetof(flaky_config, fail_first),
     .description = "polls that fail first"},
    {.name = "sleep_ms",
     .type = KPID_CONFIG_INT,
     .default_value = "0",
     .offset = offsetof(flaky_config, sleep_ms),
     .description = "sleep in every poll"},
    {.name = "total",
     .type = KPID_CONFIG_INT,
     .default_value = "100",
     .offset = offsetof(flaky_config, total),
     .description = "events in all"},
    {.name = "per_batch",
     .type = KPID_CONFIG_INT,
     .default_value = "10",
     .min = 1,
     .max = 10000,
     .offset = offsetof(flaky_config, per_batch),
     .description = "per batch"},
    {.name = NULL},
};

static _Atomic int64_t polls; /* process-wide */

typedef struct flaky {
    const kpid_host *host;
    kpid_source *src;
    const flaky_config *cfg;
    int64_t next;
    int started;
} flaky;

static int flaky_init(const kpid_host *host, kpid_source *src, const void *config,
                      const struct config_setting_t *setting, void **ret_state)
{
    flaky *f = calloc(1, sizeof(*f));
    (void)setting;
    if (!f)
        return -ENOMEM;
    f->host = host;
    f->src = src;
    f->cfg = config;
    *ret_state = f;
    return 0;
}

static int flaky_poll(void *state, const char *cursor)
{
    flaky *f = state;
    kpid_batch *b;
    char key[32], next[32];
    int r;

    if (f->cfg->sleep_ms > 0) {
        struct timespec ts = {f->cfg->sleep_ms / 1000, (f->cfg->sleep_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_fetch_add(&polls, 1) < f->cfg->fail_first)
        return -EIO;
    if (!f->started) {
        f->next = cursor ? strtoll(cursor, NULL, 10) : 0;
        f->started = 1;
    }
    if (f->next >= f->cfg->total)
        return KPID_POLL_IDLE;
    if ((r = f->host->batch_begin(f->src, &b)) < 0)
        return r;
    for (int64_t i = 0; i < f->cfg->per_batch && f->next < f->cfg->total; i++, f->next++) {
        snprintf(key, sizeof(key), "flaky-%" PRId64, f->next);
        kpid_event ev = {.event_key = key, .activity = "FLAKY", .time_us = f->next};
        if ((r = f->host->emit(b, &ev, NULL)) < 0) {
            f->host->batch_abort(b);
            return r;
        }
    }
    snprintf(next, sizeof(next), "%" PRId64, f->next);
    if ((r = f->host->batch_submit(b, next, NULL)) < 0)
        return r;
    return f->next < f->cfg->total ? KPID_POLL_MORE : KPID_POLL_IDLE;
}

static void flaky_fini(void *state)
{
    free(state);
}

static const kpid_plugin_def flaky_def = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "flaky",
    .version = "1",
    .description = "a source that fails and dawdles on purpose (tests)",
    .shape = KPID_SOURCE_POLL,
    .config_keys = flaky_keys,
    .config_size = sizeof(flaky_config),
    .init = flaky_init,
    .poll = flaky_poll,
    .fini = flaky_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &flaky_def;
}
