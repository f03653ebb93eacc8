/*
 * The sources of the configuration (sources.h). A source accepts the common keys the
 * host interprets (source_keys) and the keys its plugin declares in its kpid_config_key
 * table (plugin_keys.c); a key is known exactly when one of the two tables lists it.
 */
#include "config/sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "config/plugin_keys.h"
#include "text/ident.h"

#define MS_PER_DAY INT64_C(86400000)

/* The keys of every source; the plugin's follow. */
static const kpid__key source_keys[] = {
    {.name = "name",
     .type = KPID__KEY_PARSED,
     .required = true,
     .description = "the source's name, unique: " KPID_IDENT_SOURCE_RULE},
    {.name = "plugin",
     .type = KPID__KEY_PARSED,
     .required = true,
     .description = "the plugin that reads the source: PLUGIN_DIR/NAME.so"},
    {.name = "interval",
     .type = KPID__KEY_DURATION,
     .default_value = "1s",
     .offset = offsetof(kpid_source_config, interval_ms),
     .min = 10,
     .max = MS_PER_DAY,
     .description = "how often a polling plugin is polled"},
    {.name = "pseudonymize_case_id",
     .type = KPID__KEY_BOOL,
     .default_value = "false",
     .offset = offsetof(kpid_source_config, pseudonymize_case_id),
     .description = "pseudonymize case_id too, not only subject_id"},
    {.name = "rejected_retention",
     .type = KPID__KEY_DURATION,
     .default_value = "14d",
     .offset = offsetof(kpid_source_config, rejected_retention_ms),
     .min = 1000,
     .max = 365 * MS_PER_DAY,
     .description = "how long kpid.rejected.raw keeps the source's rejected input; then it "
                    "is set to NULL, and the locator, reason and time stay"},
    {.name = "exclusive",
     .type = KPID__KEY_BOOL,
     .offset = offsetof(kpid_source_config, exclusive),
     .description = "read by one kpid instance at a time of those sharing the warehouse: "
                    "the others wait and take over within warehouse.takeover when it is gone; "
                    "default true for poll sources, false for stream sources"},
    {.name = "activities",
     .type = KPID__KEY_PARSED,
     .description = "the activities the source produces, if it is known: only for the "
                    "warning about activities no source produces"},
    {.name = NULL},
};

/*
 * The activities a source declares it produces: an array of activity names. They only
 * feed the warning about activities no source produces (model_check.h).
 */
static void parse_activities(kpid__loader *l, const config_setting_t *s, const char *ctx,
                             kpid_source_config *sc)
{
    char q[KPID__CONFIG_QUOTE_SIZE];
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        kpid__config_report_type(l, s, ctx, "an array of strings");
        return;
    }
    sc->has_activities = true;
    if (n == 0)
        return;
    if (!(sc->activities = calloc((size_t)n, sizeof(*sc->activities)))) {
        kpid__config_oom(l);
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *text = config_setting_get_string(e);

        if (!text)
            kpid__config_report(l, e, "wrong type for activities[%d]%s: expected a string, got %s",
                                i, ctx, kpid__config_type_name(config_setting_type(e)));
        else if (!kpid_ident_activity_valid(text))
            kpid__config_report(
                l, e, "invalid activity \"%s\" in activities[%d]%s: use " KPID_IDENT_ACTIVITY_RULE,
                kpid__config_quote(text, q), i, ctx);
        else if ((sc->activities[sc->n_activities] = kpid__config_strdup(l, text)))
            sc->n_activities++;
    }
}

/* The plugin the source names, loaded from plugin_dir (NULL: not loaded). Returns whether
 * its key table can be used. */
static bool parse_plugin(kpid__loader *l, const config_setting_t *group, const char *ctx,
                         const char *plugin_dir, kpid_source_config *sc)
{
    const config_setting_t *s = config_setting_get_member(group, "plugin");
    const char *text;
    char *error = NULL;
    bool keys_ok = false;

    if (!s) {
        kpid__config_report(l, group, "missing required key \"plugin\"%s", ctx);
        return false;
    }
    if (kpid__config_get_string(l, s, ctx, &text) < 0 || !plugin_dir)
        return false;
    if (kpid_plugin_load(plugin_dir, text, &sc->plugin, &error) < 0) {
        if (error)
            kpid__config_report(l, s, "%s", error);
        else
            kpid__config_oom(l);
        sc->plugin = NULL;
    } else
        keys_ok = kpid__plugin_keys_check(l, group, sc->plugin, source_keys) == 0;
    free(error);
    return keys_ok;
}

static void parse_source(kpid__loader *l, unsigned index, const config_setting_t *group,
                         const char *plugin_dir, kpid_source_config *sc)
{
    const config_setting_t *s;
    const char *text;
    char ctx[96];
    bool keys_ok;

    sc->setting = group;
    sc->file = kpid__config_file_name(l, config_setting_source_file(group));
    if (!sc->file)
        kpid__config_oom(l);
    sc->line = config_setting_source_line(group);
    snprintf(ctx, sizeof(ctx), " in sources[%u]", index);

    s = config_setting_get_member(group, "name");
    if (!s)
        kpid__config_report(l, group, "missing required key \"name\"%s", ctx);
    else if (kpid__config_get_string(l, s, ctx, &text) == 0) {
        if (!kpid_ident_source_valid(text))
            kpid__config_report(l, s, "invalid source name \"%s\": use " KPID_IDENT_SOURCE_RULE,
                                text);
        else {
            sc->name = kpid__config_strdup(l, text);
            snprintf(ctx, sizeof(ctx), " in source \"%s\"", text);
        }
    }

    keys_ok = parse_plugin(l, group, ctx, plugin_dir, sc);

    kpid__keys_read(l, group, source_keys, sc, ctx, NULL);
    /* The default of exclusive depends on the plugin's shape: pull sources must not be
     * read twice; a stream's senders or brokers pick the instance themselves. */
    if (!config_setting_get_member(group, "exclusive"))
        sc->exclusive = sc->plugin && sc->plugin->def->shape == KPID_SOURCE_POLL;

    s = config_setting_get_member(group, "activities");
    if (s)
        parse_activities(l, s, ctx, sc);

    /* Without its plugin's table nothing can be said of the other keys. */
    if (sc->plugin && keys_ok)
        kpid__plugin_keys_read(l, group, sc->plugin, source_keys, ctx, &sc->plugin_config);
}

/* Reports every source whose name an earlier source has. */
static void check_duplicates(kpid__loader *l, const kpid_source_config *sources, size_t n)
{
    for (size_t j = 1; j < n; j++) {
        const kpid_source_config *b = &sources[j];
        for (size_t i = 0; b->name && i < j; i++) {
            const kpid_source_config *a = &sources[i];
            if (a->name && strcmp(a->name, b->name) == 0) {
                const config_setting_t *first = config_setting_get_member(a->setting, "name");
                char *file = kpid__config_file_name(l, config_setting_source_file(first));
                if (!file) {
                    kpid__config_oom(l);
                    break;
                }
                kpid__config_report(l, config_setting_get_member(b->setting, "name"),
                                    "duplicate source name \"%s\"; it is first defined at %s:%d",
                                    b->name, file, config_setting_source_line(first));
                free(file);
                break;
            }
        }
    }
}

void kpid__sources_parse(kpid__loader *l, const config_setting_t *root, const char *plugin_dir,
                         kpid_source_config **ret_sources, size_t *ret_n)
{
    const config_setting_t *list = config_setting_get_member(root, "sources");
    kpid_source_config *sources;
    int n;

    *ret_sources = NULL;
    *ret_n = 0;
    if (!list)
        return; /* a daemon without sources still runs its schedules */
    n = config_setting_length(list);
    if (config_setting_type(list) != CONFIG_TYPE_LIST &&
        !(config_setting_type(list) == CONFIG_TYPE_ARRAY && n == 0)) {
        kpid__config_report_type(l, list, "", "a list of groups");
        return;
    }
    if (n == 0)
        return;
    sources = calloc((size_t)n, sizeof(*sources));
    if (!sources) {
        kpid__config_oom(l);
        return;
    }
    *ret_sources = sources;
    *ret_n = (size_t)n;

    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(list, (unsigned)i);
        if (config_setting_type(group) != CONFIG_TYPE_GROUP) {
            kpid__config_report(l, group, "wrong type for sources[%d]: expected a group, got %s", i,
                                kpid__config_type_name(config_setting_type(group)));
            continue;
        }
        parse_source(l, (unsigned)i, group, plugin_dir, &sources[i]);
    }
    check_duplicates(l, sources, (size_t)n);
}

void kpid__sources_free(kpid_source_config *sources, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kpid_source_config *sc = &sources[i];

        kpid__plugin_keys_free(sc->plugin, sc->plugin_config);
        for (size_t k = 0; k < sc->n_activities; k++)
            free(sc->activities[k]);
        free(sc->activities);
        free(sc->name);
        free(sc->file);
    }
    free(sources);
}
