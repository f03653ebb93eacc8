#include "ingest/plugin_load.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/ident.h"

/* The registry of loaded plugins: guarded by registry_lock, lives until exit. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static kpid_plugin **registry;
static size_t registry_len;

static char *errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *errorf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* Checks the definition's magic header and callbacks; returns NULL or a message. */
static char *def_check(const char *path, const kpid_plugin_def *def)
{
    if (def->abi_major != KPID_ABI_MAJOR)
        return errorf("incompatible plugin \"%s\": ABI mismatch; kpid speaks ABI %d.%d, the "
                      "plugin was built for ABI %u.%u; rebuild the plugin against this "
                      "kpid's SDK",
                      path, KPID_ABI_MAJOR, KPID_ABI_MINOR, def->abi_major, def->abi_minor);
    if (def->struct_size < offsetof(kpid_plugin_def, reserved))
        return errorf("incompatible plugin \"%s\": its definition is %u bytes, ABI %d needs "
                      "at least %zu; rebuild the plugin against this kpid's SDK",
                      path, def->struct_size, KPID_ABI_MAJOR, offsetof(kpid_plugin_def, reserved));
    if (!def->name || !def->init || !def->fini)
        return errorf("invalid plugin \"%s\": its definition lacks a name, init or fini", path);
    if (def->shape == KPID_SOURCE_POLL     ? !def->poll
        : def->shape == KPID_SOURCE_STREAM ? !def->run
                                           : true)
        return errorf("invalid plugin \"%s\": shape %d without its poll or run callback", path,
                      (int)def->shape);
    if (def->config_keys && def->config_size == 0)
        return errorf("invalid plugin \"%s\": it declares configuration keys but no "
                      "config_size",
                      path);
    return NULL;
}

int kpid_plugin_load(const char *dir, const char *name, const kpid_plugin **ret_plugin,
                     char **ret_error)
{
    kpid_plugin *p = NULL;
    char *path = NULL;
    void *handle;
    kpid_plugin_entry_fn entry;
    const kpid_plugin_def *def;
    int r;

    if (!kpid_ident_plugin_valid(name)) {
        *ret_error = errorf("invalid plugin name \"%s\": use [a-z0-9_-], at most 64", name);
        return -EINVAL;
    }
    if (asprintf(&path, "%s/%s.so", dir, name) < 0)
        return -ENOMEM;

    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_len; i++)
        if (strcmp(registry[i]->path, path) == 0) {
            *ret_plugin = registry[i];
            r = 0;
            goto out;
        }

    /* A handle that fails the checks below stays loaded: dlclose of a plugin whose
     * constructors ran is not safe, and a refused plugin is a configuration error the
     * daemon does not survive anyway. */
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        *ret_error = errorf("cannot load plugin \"%s\": %s", name, dlerror());
        r = -ENOENT;
        goto out;
    }
    entry = (kpid_plugin_entry_fn)dlsym(handle, KPID_PLUGIN_ENTRY);
    if (!entry) {
        *ret_error = errorf("invalid plugin \"%s\": it exports no %s(); build it with "
                            "KPID_PLUGIN_EXPORT",
                            path, KPID_PLUGIN_ENTRY);
        r = -EINVAL;
        goto out;
    }
    def = entry();
    if (!def) {
        *ret_error = errorf("invalid plugin \"%s\": %s() returned NULL", path, KPID_PLUGIN_ENTRY);
        r = -EINVAL;
        goto out;
    }
    *ret_error = def_check(path, def);
    if (*ret_error) {
        r = -EPROTO;
        goto out;
    }

    kpid_plugin **grown = realloc(registry, (registry_len + 1) * sizeof(kpid_plugin *));
    p = calloc(1, sizeof(*p));
    if (!grown || !p) {
        if (grown)
            registry = grown;
        free(p);
        r = -ENOMEM;
        goto out;
    }
    registry = grown;
    p->name = strdup(name);
    if (!p->name) {
        free(p);
        r = -ENOMEM;
        goto out;
    }
    p->path = path;
    path = NULL;
    p->def = def;
    p->def_size =
        def->struct_size < sizeof(kpid_plugin_def) ? def->struct_size : sizeof(kpid_plugin_def);
    registry[registry_len++] = p;
    *ret_plugin = p;
    r = 0;
out:
    pthread_mutex_unlock(&registry_lock);
    free(path);
    return r;
}
