/*
 * statekeeper: a test source plugin for keyed source state and the other host functions
 * of ABI 1.1. Without a cursor it submits two batches back to back (the writer joins them
 * in one transaction when its batch_max_rows and flush_interval_ms allow):
 *
 *   batch 1  k = "1", k = "2", w = "a", w = "b", d = "x", `keys` keys n00000000.. = "v",
 *            four puts that must be refused, event sk-1; cursor "1"
 *   batch 2  k = "3", d deleted, event sk-2; cursor "2"
 *
 * With cursor "2" it has nothing to do. init loads the committed state and logs one line
 * about it ("state loaded keys=N sorted=yes|no k=V w=V d=V|- n=N"), and logs what
 * pseudonymize() and event_invalid() answer, for the test to check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpid/plugin.h"

typedef struct statekeeper_config {
    int64_t keys;
} statekeeper_config;

static const kpid_config_key statekeeper_keys[] = {
    {.name = "keys",
     .type = KPID_CONFIG_INT,
     .default_value = "100",
     .min = 0,
     .max = 1000000,
     .offset = offsetof(statekeeper_config, keys),
     .description = "bulk keys the first batch puts"},
    {.name = NULL},
};

typedef struct statekeeper {
    const kpid_host *host;
    kpid_source *src;
    const statekeeper_config *cfg;
} statekeeper;

/* What state_load() reported. */
typedef struct loaded {
    size_t keys, bulk;
    bool sorted;
    char prev[KPID_STATE_KEY_MAX + 1];
    char k[32], w[32], d[32];
} loaded;

static void keep(char *out, size_t cap, const char *value)
{
    snprintf(out, cap, "%s", value);
}

static int on_key(void *arg, const char *key, const char *value)
{
    loaded *l = arg;

    if (l->keys > 0 && strcmp(l->prev, key) >= 0)
        l->sorted = false;
    snprintf(l->prev, sizeof(l->prev), "%s", key);
    l->keys++;
    if (strcmp(key, "k") == 0)
        keep(l->k, sizeof(l->k), value);
    else if (strcmp(key, "w") == 0)
        keep(l->w, sizeof(l->w), value);
    else if (strcmp(key, "d") == 0)
        keep(l->d, sizeof(l->d), value);
    else if (key[0] == 'n' && strcmp(value, "v") == 0)
        l->bulk++;
    return 0;
}

static int statekeeper_init(const kpid_host *host, kpid_source *src, const void *config,
                            const struct config_setting_t *setting, void **ret_state)
{
    statekeeper *t = calloc(1, sizeof(*t));
    loaded l = {.sorted = true, .k = "-", .w = "-", .d = "-"};
    char pk[KPID_PSEUDONYM_LEN + 1], pc[KPID_PSEUDONYM_LEN + 1];
    int r;

    (void)setting;
    *ret_state = t;
    if (!t)
        return -ENOMEM;
    t->host = host;
    t->src = src;
    t->cfg = config;
    if (!KPID_HOST_HAS(host, state_put) || !KPID_HOST_HAS(host, state_load) ||
        !KPID_HOST_HAS(host, pseudonymize) || !KPID_HOST_HAS(host, event_invalid))
        return -EPROTO;
    r = host->state_load(src, on_key, &l);
    if (r < 0)
        return r;
    host->log(src, KPID_LOG_INFO, "state loaded keys=%zu sorted=%s k=%s w=%s d=%s n=%zu", l.keys,
              l.sorted ? "yes" : "no", l.k, l.w, l.d, l.bulk);

    int rs = host->pseudonymize(src, KPID_ID_SUBJECT, "P1", 2, pk, sizeof(pk));
    int rc = host->pseudonymize(src, KPID_ID_CASE, "C1", 2, pc, sizeof(pc));
    char tiny[8];
    int small = host->pseudonymize(src, KPID_ID_SUBJECT, "P1", 2, tiny, sizeof(tiny));
    kpid_event late = {.event_key = "late",
                       .activity = "A",
                       .time_us = 253402300800000000LL /* 10000-01-01T00:00:00Z */};
    const char *why = host->event_invalid(src, &late);
    late.time_us = 0;
    const char *ok = host->event_invalid(src, &late);
    host->log(src, KPID_LOG_INFO,
              "helpers subject=%d:%s case=%d:%s small=%d invalid=\"%s\" valid=%s", rs, pk, rc, pc,
              small, why ? why : "-", ok ? ok : "-");
    return 0;
}

static int submit(statekeeper *t, kpid_batch *b, const char *cursor)
{
    return t->host->batch_submit(b, cursor, NULL);
}

static int emit(statekeeper *t, kpid_batch *b, const char *key)
{
    kpid_event ev = {
        .event_key = key, .case_id = "sk", .activity = "STATE", .time_us = 1767225600000000LL};
    return t->host->emit(b, &ev, NULL);
}

static int statekeeper_poll(void *state, const char *cursor)
{
    statekeeper *t = state;
    const kpid_host *h = t->host;
    char key[KPID_STATE_KEY_MAX + 2], *big = NULL;
    kpid_batch *b = NULL;
    int r, refused = 0;

    if (cursor && strcmp(cursor, "2") == 0)
        return KPID_POLL_IDLE;

    if ((r = h->batch_begin(t->src, &b)) < 0)
        return r;
    if ((r = h->state_put(b, "k", "1")) < 0 || (r = h->state_put(b, "k", "2")) < 0 ||
        (r = h->state_put(b, "w", "a")) < 0 || (r = h->state_put(b, "w", "b")) < 0 ||
        (r = h->state_put(b, "d", "x")) < 0)
        goto fail;
    for (int64_t i = 0; i < t->cfg->keys; i++) {
        snprintf(key, sizeof(key), "n%08" PRId64, i);
        if ((r = h->state_put(b, key, "v")) < 0)
            goto fail;
    }
    /* Plugin bugs: refused with -EINVAL, nothing recorded. */
    big = malloc(KPID_STATE_VALUE_MAX + 2);
    if (!big) {
        r = -ENOMEM;
        goto fail;
    }
    memset(big, 'x', KPID_STATE_VALUE_MAX + 1);
    big[KPID_STATE_VALUE_MAX + 1] = '\0';
    memset(key, 'x', KPID_STATE_KEY_MAX + 1);
    key[KPID_STATE_KEY_MAX + 1] = '\0';
    refused += h->state_put(b, "", "v") == -EINVAL;
    refused += h->state_put(b, "bad\nkey", "v") == -EINVAL;
    refused += h->state_put(b, "big", big) == -EINVAL;
    refused += h->state_put(b, key, "v") == -EINVAL;
    free(big);
    h->log(t->src, KPID_LOG_INFO, "invalid puts refused=%d", refused);
    if ((r = emit(t, b, "sk-1")) < 0)
        goto fail;
    r = submit(t, b, "1");
    b = NULL;
    if (r < 0)
        return r;

    if ((r = h->batch_begin(t->src, &b)) < 0)
        return r;
    if ((r = h->state_put(b, "k", "3")) < 0 || (r = h->state_put(b, "d", NULL)) < 0 ||
        (r = emit(t, b, "sk-2")) < 0)
        goto fail;
    r = submit(t, b, "2");
    return r < 0 ? r : KPID_POLL_IDLE;
fail:
    if (b)
        h->batch_abort(b);
    return r;
}

static void statekeeper_fini(void *state)
{
    free(state);
}

static const kpid_plugin_def statekeeper_plugin = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "statekeeper",
    .version = "1.0.0",
    .description = "test plugin: keyed source state and the ABI 1.1 helpers",
    .shape = KPID_SOURCE_POLL,
    .config_keys = statekeeper_keys,
    .config_size = sizeof(statekeeper_config),
    .init = statekeeper_init,
    .poll = statekeeper_poll,
    .fini = statekeeper_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &statekeeper_plugin;
}
