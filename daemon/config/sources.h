/*
 * The top-level list "sources" (source_config.h): the host's keys of every source, the
 * plugin each names (loaded to read its keys) and the plugin's keys.
 */
#ifndef KPID_CONFIG_SOURCES_H
#define KPID_CONFIG_SOURCES_H

#include <libconfig.h>
#include <stddef.h>

#include "config/reader.h"
#include "config/source_config.h"

/*
 * Reads the list "sources" of root (optional: a daemon without sources still runs its
 * schedules), reporting every problem through the loader. Plugins are loaded from
 * plugin_dir; NULL when plugin_dir is unusable: then no plugin is loaded, and the keys
 * of the plugins are not looked at. On return *ret_sources (freshly allocated, or NULL
 * when there are none) and *ret_n hold what could be read, complete and valid only when
 * nothing was reported; the caller frees them with kpid__sources_free.
 */
void kpid__sources_parse(kpid__loader *l, const config_setting_t *root, const char *plugin_dir,
                         kpid_source_config **ret_sources, size_t *ret_n);

/* Frees n sources with everything they own; accepts NULL. */
void kpid__sources_free(kpid_source_config *sources, size_t n);

#endif
