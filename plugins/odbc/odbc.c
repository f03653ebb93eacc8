/* The odbc plugin: its configuration keys, init, poll and fini (see odbc_source.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "odbc_source.h"

static const kpid_config_key odbc_config_keys[] = {
    {
        .name = "conninfo",
        .type = KPID_CONFIG_STRING,
        .required = true,
        .offset = offsetof(struct odbc_config, conninfo),
        .description = "ODBC connection string of the HIS database, without a password "
                       "(\"Driver=PostgreSQL Unicode;Server=his-db;Database=his;Uid=kpid_his\" "
                       "or \"DSN=his\"); never logged",
    },
    {
        .name = "password_file",
        .type = KPID_CONFIG_STRING,
        .offset = offsetof(struct odbc_config, password_file),
        .description = "a file whose first line is the HIS role's password, read at each "
                       "connection and added to the connection string as PWD (unset: none, "
                       "or what the DSN or the driver finds)",
    },
    {
        .name = "page_size",
        .type = KPID_CONFIG_INT,
        .default_value = "5000",
        .offset = offsetof(struct odbc_config, page_size),
        .description = "most rows per page: a page is one transaction on the HIS (READ ONLY "
                       "on PostgreSQL) and one batch",
        .min = 1,
        .max = 1000000,
    },
    {
        .name = "statement_timeout",
        .type = KPID_CONFIG_DURATION,
        .default_value = "30s",
        .offset = offsetof(struct odbc_config, statement_timeout_ms),
        .description = "the longest one page's statement may run on the HIS (the driver's "
                       "query timeout, in whole seconds; on PostgreSQL also its "
                       "statement_timeout); a query that runs longer fails its source",
        .min = 1,
        .max = 86400000,
    },
    {
        .name = "login_timeout",
        .type = KPID_CONFIG_DURATION,
        .default_value = "10s",
        .offset = offsetof(struct odbc_config, login_timeout_ms),
        .description = "the longest a connection attempt to the HIS may take (the driver's "
                       "login timeout, in whole seconds)",
        .min = 1000,
        .max = 600000,
    },
    {
        .name = "overlap_max_keys",
        .type = KPID_CONFIG_INT,
        .default_value = "1000000",
        .offset = offsetof(struct odbc_config, overlap_max_keys),
        .description = "most event keys a query with an overlap remembers (about 100 bytes "
                       "each) to skip rows it reads again unchanged; beyond it the oldest are "
                       "forgotten, and their rows written again unchanged",
        .min = 1000,
        .max = 100000000,
    },
    {
        .name = "queries",
        .type = KPID_CONFIG_SECTION,
        .required = true,
        .description = "the queries, a list of groups (docs/his-sources.md)",
    },
    {.name = NULL},
};

/* Checks conninfo: a connection string of key=value pairs without a password. */
static int check_conninfo(odbc_source *s)
{
    int r = odbc_conninfo_has_password(s->cfg->conninfo);

    if (r < 0)
        plog(s, KPID_LOG_ERR,
             "conninfo is not an ODBC connection string hint=\"key=value pairs separated by "
             "';', a value with ';' in braces: {...}\"");
    else if (r > 0)
        plog(s, KPID_LOG_ERR,
             "conninfo holds a password (PWD) hint=\"put it in a file of mode 0600 named by "
             "password_file\"");
    return r != 0 ? -EINVAL : 0;
}

static int odbc_init(const kpid_host *host, kpid_source *src, const void *config,
                     const struct config_setting_t *setting, void **ret_state)
{
    const struct odbc_config *cfg = config;
    odbc_source *s;
    char *error = NULL;
    int r;

    if (!KPID_HOST_HAS(host, histogram_observe)) {
        host->log(src, KPID_LOG_ERR, "the odbc plugin needs a kpid of plugin ABI 1.2 or later");
        return -ENOTSUP;
    }
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    *ret_state = s; /* the host owns it from now on, and calls fini */
    s->host = host;
    s->src = src;
    s->cfg = cfg;
    if ((r = check_conninfo(s)) < 0)
        return r;
    r = kpid_pull_spec_parse(config_setting_get_member(setting, "queries"), 0, &s->spec, &error);
    if (r < 0) {
        plog(s, KPID_LOG_ERR, "%s", error ? error : "out of memory");
        free(error);
        return r;
    }
    if ((r = kpid_pull_reader_init(&s->reader, host, src, s->spec, (size_t)cfg->overlap_max_keys,
                                   "odbc")) < 0)
        return r;
    if (!(s->queries = calloc(s->spec->n_queries, sizeof(*s->queries))))
        return -ENOMEM;
    for (size_t i = 0; i < s->spec->n_queries; i++) {
        s->queries[i].q = &s->spec->queries[i];
        s->queries[i].track = &s->reader.tracks[i];
        s->n_queries++;
    }
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &s->env)) ||
        !SQL_SUCCEEDED(SQLSetEnvAttr(s->env, SQL_ATTR_ODBC_VERSION, odbc_attr(SQL_OV_ODBC3), 0))) {
        plog(s, KPID_LOG_ERR, "cannot set up the ODBC environment (unixODBC)");
        return -EIO;
    }
    if ((r = odbc_watch_start(s)) < 0)
        return r;
    plog(s, KPID_LOG_INFO, "odbc source ready queries=%zu page_size=%lld", s->n_queries,
         (long long)cfg->page_size);
    return 0;
}

static int connect_cb(void *ctx)
{
    return odbc_connect(ctx);
}

static int page_cb(void *ctx, size_t i)
{
    odbc_source *s = ctx;

    return odbc_page(s, &s->queries[i]);
}

static int odbc_poll(void *state, const char *cursor)
{
    odbc_source *s = state;

    if (odbc_watch_stopping(s))
        return KPID_POLL_IDLE;
    return kpid_pull_reader_poll(&s->reader, cursor, connect_cb, page_cb, s);
}

static void odbc_request_stop(void *state)
{
    odbc_source *s = state;

    if (s)
        odbc_watch_request_stop(s);
}

static void odbc_fini(void *state)
{
    odbc_source *s = state;

    if (!s)
        return;
    odbc_disconnect(s);
    odbc_watch_stop(s);
    if (s->env)
        SQLFreeHandle(SQL_HANDLE_ENV, s->env);
    for (size_t i = 0; i < s->n_queries; i++) {
        odbc_query *pq = &s->queries[i];
        for (size_t k = 0; k < sizeof(pq->stmt) / sizeof(pq->stmt[0]); k++)
            kpid_pull_stmt_clear(&pq->stmt[k]);
        kpid_pull_cols_clear(&pq->cols);
    }
    free(s->queries);
    kpid_pull_reader_free(&s->reader);
    kpid_pull_spec_free(s->spec);
    kpid_buf_free(&s->wide);
    kpid_buf_free(&s->raw);
    odbc_result_free(&s->res);
    free(s);
}

static const kpid_plugin_def odbc_plugin = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "odbc",
    .version = "1.0.0",
    .description = "rows of a HIS database read through its ODBC driver (unixODBC) by queries "
                   "in watermark order, a page per transaction",
    .shape = KPID_SOURCE_POLL,
    .config_keys = odbc_config_keys,
    .config_size = sizeof(struct odbc_config),
    .init = odbc_init,
    .poll = odbc_poll,
    .run = NULL,
    .committed = NULL,
    .request_stop = odbc_request_stop,
    .fini = odbc_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &odbc_plugin;
}
