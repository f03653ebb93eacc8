/*
 * The daemon's configuration (config.h): the core's own sections, declared as key tables
 * (top_keys, warehouse_keys, queue_keys: keys.h), and the top-level load that reads the
 * file and every section, then warns about what a valid configuration may get wrong.
 *
 * Relative paths in the file (plugin_dir, pseudonym_key_file, warehouse.password_file)
 * are relative to the directory of the main configuration file, made absolute at load
 * time, so that they mean the same after the daemon changes its working directory.
 * @include directives are resolved from the same directory (file_read.c).
 * plugin_dir_override (the KPID_PLUGIN_DIR environment variable) is taken as it is.
 *
 * A key is known exactly when its section's table lists it, so adding a key is one line
 * there; a section parsed elsewhere (the sources: sources.c; the management model:
 * model/model_parse.c) is listed as KPID__KEY_PARSED.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/file_read.h"
#include "config/keys.h"
#include "config/reader.h"
#include "config/sources.h"
#include "ingest/pseudonym.h"
#include "ingest/queue.h" /* KPID_QUEUE_MAX_*_LIMIT */
#include "model/model.h"
#include "model/model_check.h"
#include "model/model_parse.h"
#include "ops/log.h"

#ifndef KPID_DEFAULT_PLUGIN_DIR
#define KPID_DEFAULT_PLUGIN_DIR "/usr/lib/kpid/plugins"
#endif
#ifndef KPID_DEFAULT_PSEUDONYM_KEY_FILE
#define KPID_DEFAULT_PSEUDONYM_KEY_FILE "/etc/kpid/pseudonym.key"
#endif

#define MS_PER_DAY INT64_C(86400000)

#define CONFIG_OFFSET(member) offsetof(kpid_config, member)

static int log_level_parse(const char *text, int *ret)
{
    enum kpid_log_level level;

    if (kpid_log_parse_level(text, &level) < 0)
        return -EINVAL;
    *ret = (int)level;
    return 0;
}

/* The top level. */
static const kpid__key top_keys[] = {
    {.name = "plugin_dir",
     .type = KPID__KEY_PATH,
     .default_value = KPID_DEFAULT_PLUGIN_DIR,
     .offset = CONFIG_OFFSET(plugin_dir),
     .description = "where source plugins (NAME.so) are loaded from; the environment "
                    "variable KPID_PLUGIN_DIR overrides it"},
    {.name = "log_level",
     .type = KPID__KEY_ENUM,
     .default_value = "info",
     .offset = CONFIG_OFFSET(log_level),
     .parse = log_level_parse,
     .use = "err, warning, notice, info or debug",
     .description = "lines above this level are not logged"},
    {.name = "pseudonymize",
     .type = KPID__KEY_BOOL,
     .default_value = "true",
     .offset = CONFIG_OFFSET(pseudonymize),
     .description = "pseudonymize patient identifiers (subject_id) with keyed "
                    "HMAC-SHA256 before they are stored; false stores them as they come"},
    {.name = "pseudonym_key_file",
     .type = KPID__KEY_PATH,
     .default_value = KPID_DEFAULT_PSEUDONYM_KEY_FILE,
     .offset = CONFIG_OFFSET(pseudonym_key_file),
     .description = "the secret key of pseudonymization, 32 to 1024 bytes; must be readable "
                    "while pseudonymize is true"},
    {.name = "warehouse",
     .type = KPID__KEY_PARSED,
     .required = true,
     .description = "the PostgreSQL warehouse (warehouse_keys)"},
    {.name = "queue",
     .type = KPID__KEY_PARSED,
     .description = "the bounded queue between the sources and the writer (queue_keys)"},
    {.name = "sources",
     .type = KPID__KEY_PARSED,
     .description = "the sources, a list of groups (sources.c)"},
    {.name = "objectives",
     .type = KPID__KEY_PARSED,
     .description = "the strategic objectives of the management model (model/)"},
    {.name = "processes",
     .type = KPID__KEY_PARSED,
     .description = "the processes of the management model and their KPIs (model/)"},
    {.name = "recompute_horizon",
     .type = KPID__KEY_PARSED,
     .description = "how far back a changed KPI recomputes its periods (model/)"},
    {.name = NULL},
};

/* warehouse = { ... }. 0 switches a timeout off, as in PostgreSQL; a day is more than any
 * kpid statement needs, and PostgreSQL's own limit (INT_MAX ms) is larger. */
static const kpid__key warehouse_keys[] = {
    {.name = "conninfo",
     .type = KPID__KEY_STRING,
     .required = true,
     .offset = CONFIG_OFFSET(warehouse.pg.conninfo),
     .description = "libpq connection string or URI; keep the password out of it"},
    {.name = "password_file",
     .type = KPID__KEY_PATH,
     .offset = CONFIG_OFFSET(warehouse.pg.password_file),
     .description = "a file whose first line is the password"},
    {.name = "batch_max_rows",
     .type = KPID__KEY_INT,
     .default_value = "50000",
     .offset = CONFIG_OFFSET(warehouse.batch_max_rows),
     .min = 1,
     .max = 1000000,
     .description = "the writer commits a transaction after at most this many events"},
    {.name = "flush_interval_ms",
     .type = KPID__KEY_INT,
     .default_value = "0",
     .offset = CONFIG_OFFSET(warehouse.flush_interval_ms),
     .min = 0,
     .max = 60000,
     .description = "the longest the writer waits for more batches before it commits what "
                    "it has, in milliseconds; 0: an idle writer commits at once, and what "
                    "arrives during a commit goes into the next one"},
    {.name = "statement_timeout",
     .type = KPID__KEY_DURATION,
     .default_value = "10m",
     .offset = CONFIG_OFFSET(warehouse.pg.statement_timeout_ms),
     .min = 0,
     .max = MS_PER_DAY,
     .description = "the longest one statement may run (0: no limit)"},
    {.name = "lock_timeout",
     .type = KPID__KEY_DURATION,
     .default_value = "1m",
     .offset = CONFIG_OFFSET(warehouse.pg.lock_timeout_ms),
     .min = 0,
     .max = MS_PER_DAY,
     .description = "the longest a statement waits for a lock (0: no limit)"},
    {.name = "idle_in_transaction_session_timeout",
     .type = KPID__KEY_DURATION,
     .default_value = "10m",
     .offset = CONFIG_OFFSET(warehouse.pg.idle_in_transaction_ms),
     .min = 0,
     .max = MS_PER_DAY,
     .description = "the longest a kpid session may sit idle inside a transaction "
                    "(0: no limit)"},
    {.name = "connect_timeout",
     .type = KPID__KEY_DURATION,
     .default_value = "10s",
     .offset = CONFIG_OFFSET(warehouse.pg.connect_timeout_ms),
     .min = 1000,
     .max = MS_PER_DAY,
     .description = "the longest a connection attempt may take"},
    {.name = "wait_notice",
     .type = KPID__KEY_DURATION,
     .default_value = "10s",
     .offset = CONFIG_OFFSET(warehouse.wait_notice_ms),
     .min = 1000,
     .max = MS_PER_DAY,
     .description = "a write that has waited this long is logged once, with what blocks it"},
    {.name = "takeover",
     .type = KPID__KEY_DURATION,
     .default_value = "30s",
     .offset = CONFIG_OFFSET(warehouse.takeover_ms),
     .min = 3000,
     .max = 3600000,
     .description = "an exclusive source whose instance died or lost the warehouse is taken "
                    "over by another instance within this time"},
    {.name = NULL},
};

/* queue = { ... }. */
static const kpid__key queue_keys[] = {
    {.name = "max_events",
     .type = KPID__KEY_INT,
     .default_value = "100000",
     .offset = CONFIG_OFFSET(queue.max_events),
     .min = 1,
     .max = KPID_QUEUE_MAX_EVENTS_LIMIT,
     .description = "most events queued"},
    {.name = "max_bytes",
     .type = KPID__KEY_INT,
     .default_value = "33554432",
     .offset = CONFIG_OFFSET(queue.max_bytes),
     .min = 65536,
     .max = KPID_QUEUE_MAX_BYTES_LIMIT,
     .description = "most bytes queued (32 MiB by default)"},
    {.name = NULL},
};

/* The top level's keys. Returns whether plugin_dir can be used to load plugins. */
static bool parse_top(kpid__loader *l, kpid_config *cfg, const char *plugin_dir_override)
{
    const config_setting_t *root = config_root_setting(&cfg->lc);
    const config_setting_t *key_file_setting, *pseudonymize_setting;
    bool plugin_dir_ok;

    kpid__keys_check_unknown(l, root, top_keys, NULL, "");
    kpid__keys_read(l, root, top_keys, cfg, "", NULL);

    /* An invalid plugin_dir stays NULL; the override replaces it anyway. */
    if (plugin_dir_override) {
        free(cfg->plugin_dir);
        cfg->plugin_dir = kpid__config_strdup(l, plugin_dir_override);
    }
    plugin_dir_ok = cfg->plugin_dir != NULL;

    if (cfg->pseudonymize && cfg->pseudonym_key_file) {
        char *error = NULL;
        int r = kpid_pseudonym_key_load(cfg->pseudonym_key_file, &cfg->pseudonym_key,
                                        &cfg->pseudonym_key_len, &error);
        key_file_setting = config_setting_get_member(root, "pseudonym_key_file");
        pseudonymize_setting = config_setting_get_member(root, "pseudonymize");
        if (r < 0 && error)
            kpid__config_report(l, key_file_setting ? key_file_setting : pseudonymize_setting, "%s",
                                error);
        else if (r < 0)
            kpid__config_oom(l);
        free(error);
    }
    return plugin_dir_ok;
}

/* A group of the top level read by its table: required (reported missing without a
 * line) or optional; absent or not a group, it keeps its defaults. */
static void parse_group(kpid__loader *l, kpid_config *cfg, const char *name, bool required,
                        const kpid__key *keys, const char *ctx)
{
    const config_setting_t *group = config_setting_get_member(config_root_setting(&cfg->lc), name);

    if (!group) {
        if (required)
            kpid__config_report(l, NULL, "missing required group \"%s\"", name);
        kpid__keys_defaults(l, keys, cfg);
        return;
    }
    if (config_setting_type(group) != CONFIG_TYPE_GROUP) {
        kpid__config_report_type(l, group, "", "a group");
        kpid__keys_defaults(l, keys, cfg);
        return;
    }
    kpid__keys_check_unknown(l, group, keys, NULL, ctx);
    kpid__keys_read(l, group, keys, cfg, ctx, NULL);
}

/* Logs what a valid configuration may get wrong (model_check.h); never refuses it. */
static int log_warnings(const kpid_config *cfg)
{
    char *warnings = NULL, *save = NULL;

    if (kpid_model_check_activities(cfg->model, cfg->sources, cfg->n_sources,
                                    config_root_setting(&cfg->lc), &warnings) < 0)
        return -ENOMEM;
    for (char *line = warnings ? strtok_r(warnings, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        log_warning("%s", line);
    free(warnings);
    return 0;
}

/*
 * See config.h. Besides -EINVAL for an invalid configuration, it returns -errno when the
 * file cannot be opened and -ENOMEM when memory runs out; in every failure *ret_errors
 * holds the text ("FILE: out of memory" for -ENOMEM), and is NULL only when not even
 * that could be allocated. *ret_config is written only on success.
 */
int kpid_config_load(const char *path, const char *plugin_dir_override, kpid_config **ret_config,
                     char **ret_errors)
{
    kpid__loader l;
    kpid_config *cfg;
    const config_setting_t *root;
    char *errors = NULL;
    bool plugin_dir_ok;
    int r;

    r = kpid__loader_init(&l, path);
    cfg = calloc(1, sizeof(*cfg));
    if (r < 0 || !cfg) {
        r = -ENOMEM;
        goto out;
    }
    config_init(&cfg->lc);
    cfg->path = strdup(path);
    if (!cfg->path) {
        r = -ENOMEM;
        goto out;
    }

    r = kpid__config_file_read(&l, &cfg->lc, &errors);
    if (r < 0)
        goto out;
    root = config_root_setting(&cfg->lc);

    plugin_dir_ok = parse_top(&l, cfg, plugin_dir_override);
    parse_group(&l, cfg, "warehouse", /* required= */ true, warehouse_keys, " in warehouse");
    parse_group(&l, cfg, "queue", /* required= */ false, queue_keys, " in queue");
    kpid__sources_parse(&l, root, plugin_dir_ok ? cfg->plugin_dir : NULL, &cfg->sources,
                        &cfg->n_sources);
    cfg->model = kpid__model_parse(&l, root);

    r = kpid__loader_oom(&l) ? -ENOMEM : kpid__loader_n_problems(&l) > 0 ? -EINVAL : 0;
    if (r == 0)
        r = log_warnings(cfg);
out:
    if (r == 0) {
        *ret_config = cfg;
        cfg = NULL;
    } else {
        if (r != -ENOMEM && !errors && !(errors = kpid__loader_errors(&l)))
            r = -ENOMEM;
        if (r == -ENOMEM) {
            free(errors);
            if (asprintf(&errors, "%s: out of memory\n", path) < 0)
                errors = NULL; /* the one case without a text */
        }
        *ret_errors = errors;
    }
    kpid__loader_fini(&l);
    kpid_config_free(cfg);
    return r;
}

kpid_config *kpid_config_free(kpid_config *config)
{
    if (!config)
        return NULL;
    kpid__sources_free(config->sources, config->n_sources);
    config->model = kpid_model_free(config->model);
    free(config->path);
    kpid__keys_free(top_keys, config);
    config->pseudonym_key =
        kpid_pseudonym_key_free(config->pseudonym_key, config->pseudonym_key_len);
    kpid__keys_free(warehouse_keys, config);
    config_destroy(&config->lc);
    free(config);
    return NULL;
}
