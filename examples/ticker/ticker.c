/*
 * ticker: an example kpid source plugin, built out of tree against the installed SDK:
 *
 *   cc -shared $(pkg-config --cflags kpid-plugin) -o ticker.so ticker.c
 *
 * It emits `total` TICK events, `per_batch` to a batch, and remembers in its cursor
 * how many it has emitted, so that a restart goes on where the last commit ended.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <kpid/plugin.h>

typedef struct ticker_config {
    int64_t total;
    int64_t per_batch;
} ticker_config;

static const kpid_config_key ticker_keys[] = {
    {.name = "total",
     .type = KPID_CONFIG_INT,
     .default_value = "100",
     .offset = offsetof(ticker_config, total),
     .description = "events to emit in all",
     .min = 0,
     .max = 1000000000},
    {.name = "per_batch",
     .type = KPID_CONFIG_INT,
     .default_value = "10",
     .offset = offsetof(ticker_config, per_batch),
     .description = "events per batch",
     .min = 1,
     .max = 100000},
    {.name = NULL},
};

typedef struct ticker {
    const kpid_host *host;
    kpid_source *src;
    const ticker_config *cfg;
    int64_t next; /* the next tick to emit */
    int started;
} ticker;

static int ticker_init(const kpid_host *host, kpid_source *src, const void *config,
                       const struct config_setting_t *setting, void **ret_state)
{
    ticker *t = calloc(1, sizeof(*t));
    (void)setting;
    if (!t)
        return -ENOMEM;
    t->host = host;
    t->src = src;
    t->cfg = config;
    *ret_state = t;
    return 0;
}

static int ticker_poll(void *state, const char *cursor)
{
    ticker *t = state;
    kpid_batch *b;
    char key[32], next[32];
    int r;

    if (!t->started) {
        t->next = cursor ? strtoll(cursor, NULL, 10) : 0;
        t->started = 1;
    }
    if (t->next >= t->cfg->total)
        return KPID_POLL_IDLE;
    if ((r = t->host->batch_begin(t->src, &b)) < 0)
        return r;
    for (int64_t i = 0; i < t->cfg->per_batch && t->next < t->cfg->total; i++, t->next++) {
        snprintf(key, sizeof(key), "tick-%" PRId64, t->next);
        kpid_event ev = {
            .event_key = key,
            .case_id = "ticker",
            .activity = "TICK",
            .time_us = 1767225600000000LL + t->next * 1000000, /* 2026-01-01 + n s */
            .value = (double)t->next,
            .has_value = true,
        };
        if ((r = t->host->emit(b, &ev, NULL)) < 0) {
            t->host->batch_abort(b);
            return r;
        }
    }
    snprintf(next, sizeof(next), "%" PRId64, t->next);
    if ((r = t->host->batch_submit(b, next, NULL)) < 0)
        return r;
    return t->next < t->cfg->total ? KPID_POLL_MORE : KPID_POLL_IDLE;
}

static void ticker_fini(void *state)
{
    free(state);
}

static const kpid_plugin_def ticker_def = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "ticker",
    .version = "1.0",
    .description = "emits numbered TICK events (an example plugin)",
    .shape = KPID_SOURCE_POLL,
    .config_keys = ticker_keys,
    .config_size = sizeof(ticker_config),
    .init = ticker_init,
    .poll = ticker_poll,
    .fini = ticker_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &ticker_def;
}
