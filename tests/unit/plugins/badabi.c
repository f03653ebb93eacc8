/*
 * "badabi": a test plugin built for the next major ABI, which the host must refuse with
 * a message naming both versions.
 */
#include <stddef.h>

#include "kpid/plugin.h"

static int badabi_init(const kpid_host *host, kpid_source *src, const void *config,
                       const struct config_setting_t *setting, void **ret_state)
{
    *ret_state = NULL;
    return 0;
}

static int badabi_poll(void *state, const char *cursor)
{
    return KPID_POLL_IDLE;
}

static void badabi_fini(void *state)
{
}

static const kpid_plugin_def badabi_def = {
    .abi_major = KPID_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = sizeof(kpid_plugin_def),
    .name = "badabi",
    .version = "1.0",
    .description = "test plugin that claims the next major ABI",
    .shape = KPID_SOURCE_POLL,
    .init = badabi_init,
    .poll = badabi_poll,
    .fini = badabi_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &badabi_def;
}
