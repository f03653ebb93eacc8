/*
 * The configuration of one source, an element of the top-level list "sources":
 *
 *   sources = ( { name = "events"; plugin = "file"; interval = "1s";
 *                 pseudonymize_case_id = false; activities = [ "ED_ARRIVAL" ];
 *                 path = "..."; ... } );
 *
 * name, plugin, interval, pseudonymize_case_id, rejected_retention, exclusive and activities are the
 * host's (every source has them); the other keys are the plugin's own, declared in its
 * kpid_config_key table and stored in plugin_config. Read by sources.c; immutable once
 * loaded.
 */
#ifndef KPID_CONFIG_SOURCE_CONFIG_H
#define KPID_CONFIG_SOURCE_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/plugin_load.h"
#include "text/ident.h"

#define KPID_SOURCE_NAME_MAX KPID_IDENT_SOURCE_MAX

typedef struct kpid_source_config {
    char *name;                /* unique, [A-Za-z0-9_.-]{1,64} */
    const kpid_plugin *plugin; /* resolved from "plugin", owned by the registry */
    int64_t interval_ms;       /* poll interval; default 1000 */
    bool pseudonymize_case_id; /* default false */
    bool has_activities;       /* "activities" given: the source produces only those */
    char **activities;         /* [A-Z0-9_]{1,64} each, owned; only for the warning of
                                     model_check.h, never enforced on events */
    size_t n_activities;

    /* kpid.rejected.raw of the source is set to NULL this long after the rejection
     * (warehouse/retention.h); default 14d, 1s to 365d. */
    int64_t rejected_retention_ms;

    /* Read by one instance at a time (ingest/lease.h); default: poll sources only. */
    bool exclusive;

    void *plugin_config;             /* plugin->def->config_size bytes, filled from the keys */
    const config_setting_t *setting; /* the source's group, valid while the config lives */
    char *file;                      /* where the source is defined */
    int line;
} kpid_source_config;

#endif
