/*
 * A source's plugin keys: the keys a plugin declares in its kpid_config_key table
 * (kpid/plugin.h), checked for the plugin's own mistakes, read through the host's key
 * tables (keys.h) into the plugin's config struct, and freed.
 */
#ifndef KPID_CONFIG_PLUGIN_KEYS_H
#define KPID_CONFIG_PLUGIN_KEYS_H

#include <libconfig.h>

#include "config/keys.h"
#include "config/reader.h"
#include "ingest/plugin_load.h"

/*
 * Checks the plugin's key table; a bad table is the plugin's fault and is reported at
 * the setting at (the source that uses it). reserved lists the keys the host reads from
 * every source, which a plugin may not declare. Returns 0 when the table can be used,
 * else -EINVAL.
 */
int kpid__plugin_keys_check(kpid__loader *l, const config_setting_t *at, const kpid_plugin *plugin,
                            const kpid__key *reserved);

/*
 * Reads the plugin's keys of the source group (whose table passed kpid__plugin_keys_check)
 * into a fresh config struct of the plugin's config_size (NULL when it is 0) at
 * *ret_config, which the caller frees with kpid__plugin_keys_free. Unknown keys of group
 * are reported too, with the source's common keys (common) as known. ctx names the
 * source for messages.
 */
void kpid__plugin_keys_read(kpid__loader *l, const config_setting_t *group,
                            const kpid_plugin *plugin, const kpid__key *common, const char *ctx,
                            void **ret_config);

/* Frees a config struct of the plugin with the strings the host stored in it; accepts
 * NULL. */
void kpid__plugin_keys_free(const kpid_plugin *plugin, void *config);

#endif
