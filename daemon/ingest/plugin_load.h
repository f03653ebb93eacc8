/*
 * Loading source plugins. A plugin is loaded once per path with RTLD_NOW | RTLD_LOCAL
 * and never unloaded: loaded plugins live in a process-wide registry until exit, so a
 * reload that uses the same plugin again gets the same definition.
 */
#ifndef KPID_PLUGIN_LOAD_H
#define KPID_PLUGIN_LOAD_H

#include "kpid/plugin.h"

typedef struct kpid_plugin {
    char *name;                 /* "file" */
    char *path;                 /* "/usr/lib/kpid/plugins/file.so" */
    const kpid_plugin_def *def; /* points into the loaded object */
    size_t def_size;            /* min(def->struct_size, sizeof(kpid_plugin_def)) */
} kpid_plugin;

/*
 * Loads plugin NAME from DIR (DIR/NAME.so). NAME must match [a-z0-9_-]{1,64}. On
 * success *ret_plugin points to a registry entry owned by the registry (valid until
 * exit). On failure returns a negative errno and sets *ret_error to a freshly allocated
 * message (primary; detail; hint) that the caller frees.
 */
int kpid_plugin_load(const char *dir, const char *name, const kpid_plugin **ret_plugin,
                     char **ret_error);

/* True when the plugin's definition covers the member at this offset. */
#define KPID_PLUGIN_HAS(plugin, member) \
    ((plugin)->def_size >= offsetof(kpid_plugin_def, member) + sizeof((plugin)->def->member))

#endif
