/*
 * "testsrc": a poll plugin for the unit tests. It declares one configuration key of
 * every type, so that the tests can check how the host validates a source and fills
 * the config struct, and does nothing when polled.
 */
#include <stddef.h>
#include <stdlib.h>

#include "kpid/plugin.h"
#include "testsrc.h"

static const kpid_config_key testsrc_keys[] = {
    {.name = "path",
     .type = KPID_CONFIG_STRING,
     .required = true,
     .offset = offsetof(testsrc_config, path),
     .description = "a file to read"},
    {.name = "batch",
     .type = KPID_CONFIG_INT,
     .default_value = "100",
     .offset = offsetof(testsrc_config, batch),
     .description = "events per batch",
     .min = 1,
     .max = 1000},
    {.name = "follow",
     .type = KPID_CONFIG_BOOL,
     .default_value = "true",
     .offset = offsetof(testsrc_config, follow),
     .description = "wait for more input"},
    {.name = "ratio",
     .type = KPID_CONFIG_DOUBLE,
     .offset = offsetof(testsrc_config, ratio),
     .description = "a share, 0 to 1"},
    {.name = "timeout",
     .type = KPID_CONFIG_DURATION,
     .default_value = "5s",
     .offset = offsetof(testsrc_config, timeout_ms),
     .description = "how long to wait"},
    {.name = "mapping",
     .type = KPID_CONFIG_SECTION,
     .description = "how input fields become event fields"},
    {.name = NULL},
};

static int testsrc_init(const kpid_host *host, kpid_source *src, const void *config,
                        const struct config_setting_t *setting, void **ret_state)
{
    *ret_state = NULL;
    return 0;
}

static int testsrc_poll(void *state, const char *cursor)
{
    return KPID_POLL_IDLE;
}

static void testsrc_fini(void *state)
{
}

static const kpid_plugin_def testsrc_def = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "testsrc",
    .version = "1.0",
    .description = "test source that declares a key of every type",
    .shape = KPID_SOURCE_POLL,
    .config_keys = testsrc_keys,
    .config_size = sizeof(testsrc_config),
    .init = testsrc_init,
    .poll = testsrc_poll,
    .fini = testsrc_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &testsrc_def;
}
