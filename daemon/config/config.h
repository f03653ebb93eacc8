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
 *                 flush_interval_ms = 0; statement_timeout = "10m";
 *                 lock_timeout = "1m"; idle_in_transaction_session_timeout = "10m";
 *                 connect_timeout = "10s"; wait_notice = "10s"; };
 *   queue = { max_events = 100000; max_bytes = 33554432; };
 *   sources = ( { name = "events"; plugin = "file"; interval = "1s";
 *                 pseudonymize_case_id = false; activities = [ "ED_ARRIVAL" ];
 *                 path = "..."; ... } );
 *   objectives = ( ... );  processes = ( ... );     # the management model, see model.h
 *   recompute_horizon = "90d";                      # history a changed KPI recomputes
 *
 * Each key's default, bounds and meaning are in one table: the core's sections (top
 * level, warehouse, queue) in config.c, the common keys of a source in sources.c, a
 * plugin's keys in its kpid_config_key table (plugin_keys.h), the model's in model/.
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

#include "config/source_config.h"
#include "warehouse/pgconn.h"

#define KPID_EX_CONFIG 78
#define KPID_DEFAULT_CONFIG "/etc/kpid/kpid.conf"

typedef struct kpid_model kpid_model;

typedef struct kpid_config {
    char *path;
    char *plugin_dir;
    int log_level; /* enum kpid_log_level; default info */

    bool pseudonymize;        /* default true */
    char *pseudonym_key_file; /* default /etc/kpid/pseudonym.key */
    uint8_t *pseudonym_key;   /* loaded at validation; NULL when !pseudonymize */
    size_t pseudonym_key_len;

    struct {
        /* conninfo (required), password_file (optional: the password, first line) and
         * the session settings (defaults: statement_timeout 10min, lock_timeout 1min,
         * idle_in_transaction_session_timeout 10min, connect_timeout 10s); the strings
         * are owned here. */
        kpid_pg_target pg;
        int64_t batch_max_rows;    /* default 50000, 1..1000000 */
        int64_t flush_interval_ms; /* default 0, 0..60000 */
        int64_t wait_notice_ms;    /* a statement waiting this long is logged with what
                                     blocks it; default 10s */
        int64_t takeover_ms;       /* an exclusive source is taken over within this time
                                      after its instance is gone; default 30s */
    } warehouse;

    struct {
        int64_t max_events; /* default 100000 */
        int64_t max_bytes;  /* default 32 MiB */
    } queue;

    kpid_source_config *sources;
    size_t n_sources;

    kpid_model *model; /* objectives, processes, KPIs (model.h); never NULL */

    config_t lc; /* kept so that raw settings stay valid */
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
int kpid_config_load(const char *path, const char *plugin_dir_override, kpid_config **ret_config,
                     char **ret_errors);

/* Frees a configuration with everything it owns; accepts NULL; returns NULL. */
kpid_config *kpid_config_free(kpid_config *config);

#endif
