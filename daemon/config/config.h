/*
 * The daemon's configuration: loading a libconfig file, validating it completely and
 * reporting every problem as "FILE:LINE: what is wrong".
 *
 * Shape (see etc/kpid.conf for every option):
 *
 *   plugin_dir = "/usr/lib/kpid/plugins";          # KPID_PLUGIN_DIR overrides
 *   log_level = "info";
 *   pseudonymize = true;                            # false switches it off everywhere
 *   pseudonym_key_file = "/etc/kpid/pseudonym.key"; # required while pseudonymize
 *   warehouse = { conninfo = "..."; password_file = "..."; batch_max_rows = 50000;
 *                 flush_interval_ms = 200; statement_timeout = "10m";
 *                 lock_timeout = "1m"; idle_in_transaction_session_timeout = "10m";
 *                 connect_timeout = "10s"; wait_notice = "10s"; };
 *   queue = { max_events = 100000; max_bytes = 33554432; };
 *   sources = ( { name = "events"; plugin = "file"; interval = "1s";
 *                 pseudonymize_case_id = false; activities = [ "ED_ARRIVAL" ];
 *                 path = "..."; ... } );
 *   objectives = ( ... );  processes = ( ... );     # the management model, see model.h
 *   recompute_horizon = "90d";                      # history a changed KPI recomputes
 *
 * A kpid_config is immutable once loaded; a reload builds a new one and frees the old
 * one after the switch.
 */
#ifndef KPID_CONFIG_H
#define KPID_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warehouse/pgconn.h"
#include "ingest/plugin_load.h"

#define KPID_EX_CONFIG 78
#define KPID_DEFAULT_CONFIG "/etc/kpid/kpid.conf"
#define KPID_SOURCE_NAME_MAX 64

typedef struct kpid_model kpid_model;

typedef struct kpid_source_config {
    char *name;                   /* unique, [A-Za-z0-9_.-]{1,64} */
    const kpid_plugin *plugin;    /* resolved from "plugin", owned by the registry */
    int64_t interval_ms;          /* poll interval; default 1000 */
    bool pseudonymize_case_id;    /* default false */
    bool has_activities;          /* "activities" given: the source produces only those */
    char **activities;            /* [A-Z0-9_]{1,64} each, owned; only for the warning of
                                     model_check.h, never enforced on events */
    size_t n_activities;
    void *plugin_config;          /* plugin->def->config_size bytes, filled from the keys */
    const config_setting_t *setting; /* the source's group, valid while the config lives */
    char *file;                   /* where the source is defined */
    int line;
} kpid_source_config;

typedef struct kpid_config {
    char *path;
    char *plugin_dir;
    int log_level;                /* enum kpid_log_level; default info */

    bool pseudonymize;            /* default true */
    char *pseudonym_key_file;     /* default /etc/kpid/pseudonym.key */
    uint8_t *pseudonym_key;       /* loaded at validation; NULL when !pseudonymize */
    size_t pseudonym_key_len;

    struct {
        /* conninfo (required), password_file (optional: the password, first line) and
         * the session settings (defaults: statement_timeout 10min, lock_timeout 1min,
         * idle_in_transaction_session_timeout 10min, connect_timeout 10s); the strings
         * are owned here. */
        kpid_pg_target pg;
        int64_t batch_max_rows;   /* default 50000, 1..1000000 */
        int64_t flush_interval_ms;/* default 200, 1..60000 */
        int64_t wait_notice_ms;   /* a statement waiting this long is logged with what
                                     blocks it; default 10s */
    } warehouse;

    struct {
        int64_t max_events;       /* default 100000 */
        int64_t max_bytes;        /* default 32 MiB */
    } queue;

    kpid_source_config *sources;
    size_t n_sources;

    kpid_model *model;            /* objectives, processes, KPIs (model.h); never NULL */

    config_t lc;                  /* kept so that raw settings stay valid */
} kpid_config;

/*
 * Loads and validates the file at path. plugin_dir_override (KPID_PLUGIN_DIR, or NULL)
 * replaces plugin_dir. Plugins named by sources are loaded to validate their keys.
 *
 * On success returns 0 and *ret_config is freshly allocated (free it with
 * kpid_config_free). On failure returns -EINVAL (or another negative errno) and
 * *ret_errors is a freshly allocated text of one "FILE:LINE: message" per line, every
 * problem found; the caller frees it.
 */
int kpid_config_load(const char *path, const char *plugin_dir_override,
                     kpid_config **ret_config, char **ret_errors);

/* Frees a configuration with everything it owns; accepts NULL; returns NULL. */
kpid_config *kpid_config_free(kpid_config *config);

/*
 * Parses a duration: an integer (milliseconds) or a number with a unit, "250ms", "5s",
 * "2m", "1h", "1d" (no space, no sign). Returns 0 and *ret_ms, or -EINVAL / -ERANGE.
 */
int kpid_duration_parse(const char *text, int64_t *ret_ms);

/*
 * For the parsers of the configuration's sections that live in their own files
 * (model.c) and nobody else: the state of one load and the loader's helpers, which
 * collect problems as "FILE:LINE: message" into it. ctx names the section for messages
 * (" in KPI \"x\"", or "" at the top). The typed readers return 0 and *ret, or report
 * the problem and return -EINVAL (-ENOMEM when out of memory, already noted).
 */
typedef struct kpid__loader kpid__loader;

void kpid__config_report(kpid__loader *l, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Notes that memory ran out: the load fails with -ENOMEM. */
void kpid__config_oom(kpid__loader *l);
/* "wrong type for \"key\"CTX: expected EXPECTED, got a string". */
void kpid__config_report_type(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              const char *expected);
/* "a string", "an integer", ... for a CONFIG_TYPE_*. */
const char *kpid__config_type_name(int type);
/* Reports every member of group not in names (NULL-terminated), with a suggestion. */
void kpid__config_check_unknown_keys(kpid__loader *l, const config_setting_t *group,
                                     const char *const *names, const char *ctx);
/* Keeps candidate in *best when it is a closer suggestion for name than *best (start
 * with *best NULL and *best_distance SIZE_MAX; *best stays NULL when nothing is close). */
void kpid__config_suggest(const char *name, const char *candidate, const char **best,
                          size_t *best_distance);
int kpid__config_get_string(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            const char **ret);
int kpid__config_get_bool(kpid__loader *l, const config_setting_t *s, const char *ctx,
                          bool *ret);
int kpid__config_get_double(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            double *ret);
/* A duration between min and max milliseconds (max INT64_MAX: no upper bound). */
int kpid__config_get_duration(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              int64_t min, int64_t max, int64_t *ret);
/* The name of file (config_setting_source_file) for messages, as the loader prints it.
 * Freshly allocated; NULL when out of memory (not noted). */
char *kpid__config_file_name(kpid__loader *l, const char *file);

#endif
