/*
 * A source's plugin keys (plugin_keys.h). The plugin's table is turned into a host key
 * table (keys.h), so that a plugin's keys are read exactly as the core's own: the same
 * types, bounds, defaults and messages.
 */
#include "config/plugin_keys.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The bytes a key of this type is stored in; 0 for a section, SIZE_MAX for an unknown
 * type. */
static size_t type_size(enum kpid_config_type type)
{
    switch (type) {
    case KPID_CONFIG_STRING: return sizeof(char *);
    case KPID_CONFIG_INT:
    case KPID_CONFIG_DURATION: return sizeof(int64_t);
    case KPID_CONFIG_BOOL: return sizeof(bool);
    case KPID_CONFIG_DOUBLE: return sizeof(double);
    case KPID_CONFIG_SECTION: return 0;
    }
    return SIZE_MAX;
}

/* True when the key is stored in the config struct and fits in it. */
static bool key_stored(const kpid_plugin *plugin, const kpid_config_key *key)
{
    size_t size = type_size(key->type);

    return size != 0 && size != SIZE_MAX && key->offset <= plugin->def->config_size &&
           size <= plugin->def->config_size - key->offset;
}

static const kpid_config_key *key_find(const kpid_config_key *keys, const char *name)
{
    for (size_t i = 0; keys && keys[i].name; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

int kpid__plugin_keys_check(kpid__loader *l, const config_setting_t *at, const kpid_plugin *plugin,
                            const kpid__key *reserved)
{
    const kpid_config_key *keys = plugin->def->config_keys;
    int r = 0;

    for (size_t i = 0; keys && keys[i].name; i++) {
        const kpid_config_key *k = &keys[i];
        const char *why = NULL;

        if (type_size(k->type) == SIZE_MAX)
            why = "its type is unknown";
        else if (k->type != KPID_CONFIG_SECTION && !key_stored(plugin, k))
            why = "its offset lies outside the config struct";
        else if (kpid__keys_find(reserved, k->name))
            why = "the host reserves this name for every source";
        else if (key_find(keys, k->name) != k)
            why = "it is declared twice";
        if (why) {
            kpid__config_report(l, at,
                                "plugin \"%s\" declares an invalid configuration key \"%s\": "
                                "%s; fix the plugin",
                                plugin->name, k->name, why);
            r = -EINVAL;
        }
    }
    return r;
}

/* The host key of a plugin's key (of a checked table): INT and DURATION bounds of 0 and
 * 0 mean none, which is at least 0 for a duration. */
static kpid__key key_from_plugin(const kpid_config_key *pk)
{
    bool bounded = pk->min != 0 || pk->max != 0;
    kpid__key k = {
        .name = pk->name,
        .required = pk->required,
        .default_value = pk->default_value,
        .offset = pk->offset,
        .min = bounded ? pk->min : INT64_MIN,
        .max = bounded ? pk->max : INT64_MAX,
        .description = pk->description,
    };

    switch (pk->type) {
    case KPID_CONFIG_STRING: k.type = KPID__KEY_STRING; break;
    case KPID_CONFIG_INT: k.type = KPID__KEY_INT; break;
    case KPID_CONFIG_DURATION:
        k.type = KPID__KEY_DURATION;
        if (!bounded)
            k.min = 0;
        break;
    case KPID_CONFIG_BOOL: k.type = KPID__KEY_BOOL; break;
    case KPID_CONFIG_DOUBLE: k.type = KPID__KEY_DOUBLE; break;
    case KPID_CONFIG_SECTION: k.type = KPID__KEY_SECTION; break;
    }
    return k;
}

void kpid__plugin_keys_read(kpid__loader *l, const config_setting_t *group,
                            const kpid_plugin *plugin, const kpid__key *common, const char *ctx,
                            void **ret_config)
{
    const kpid_config_key *keys = plugin->def->config_keys;
    kpid__key *table = NULL;
    void *config = NULL;
    size_t n = 0;

    while (keys && keys[n].name)
        n++;
    table = calloc(n + 1, sizeof(*table));
    if (!table)
        goto oom;
    for (size_t i = 0; i < n; i++)
        table[i] = key_from_plugin(&keys[i]);
    kpid__keys_check_unknown(l, group, common, table, ctx);

    if (plugin->def->config_size > 0) {
        config = calloc(1, plugin->def->config_size);
        if (!config)
            goto oom;
    }
    kpid__keys_read(l, group, table, config, ctx, plugin->name);
    *ret_config = config;
    free(table);
    return;
oom:
    kpid__config_oom(l);
    free(table);
}

void kpid__plugin_keys_free(const kpid_plugin *plugin, void *config)
{
    const kpid_config_key *keys = plugin ? plugin->def->config_keys : NULL;

    for (size_t k = 0; config && keys && keys[k].name; k++)
        if (keys[k].type == KPID_CONFIG_STRING && key_stored(plugin, &keys[k])) {
            char *s;
            memcpy(&s, (char *)config + keys[k].offset, sizeof(s));
            free(s);
        }
    free(config);
}
