/* The pgsql plugin: its configuration keys, init, poll and fini (see pgsql_source.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "pgsql_source.h"

static const kpid_config_key pgsql_config_keys[] = {
    {
        .name = "conninfo",
        .type = KPID_CONFIG_STRING,
        .required = true,
        .offset = offsetof(struct pgsql_config, conninfo),
        .description = "libpq connection string or URI of the HIS database, without a password "
                       "(sslmode and the rest as libpq reads them); application_name=kpid unless "
                       "given",
    },
    {
        .name = "password_file",
        .type = KPID_CONFIG_STRING,
        .offset = offsetof(struct pgsql_config, password_file),
        .description = "a file whose first line is the HIS role's password, read at each "
                       "connection (unset: libpq's own, ~/.pgpass or PGPASSFILE)",
    },
    {
        .name = "page_size",
        .type = KPID_CONFIG_INT,
        .default_value = "5000",
        .offset = offsetof(struct pgsql_config, page_size),
        .description = "most rows per page: a page is one READ ONLY transaction on the HIS and "
                       "one batch",
        .min = 1,
        .max = 1000000,
    },
    {
        .name = "statement_timeout",
        .type = KPID_CONFIG_DURATION,
        .default_value = "30s",
        .offset = offsetof(struct pgsql_config, statement_timeout_ms),
        .description = "the longest one page's statement may run on the HIS; a query that runs "
                       "longer fails its source",
        .min = 1,
        .max = 86400000,
    },
    {
        .name = "connect_timeout",
        .type = KPID_CONFIG_DURATION,
        .default_value = "10s",
        .offset = offsetof(struct pgsql_config, connect_timeout_ms),
        .description = "the longest a connection attempt to the HIS may take",
        .min = 1000,
        .max = 600000,
    },
    {
        .name = "overlap_max_keys",
        .type = KPID_CONFIG_INT,
        .default_value = "1000000",
        .offset = offsetof(struct pgsql_config, overlap_max_keys),
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

/* Builds a query's paging statements. */
static int query_init(pgsql_source *s, pgsql_query *pq)
{
    kpid_pull_wrap_options opt = {
        .compare = KPID_PULL_COMPARE_ROW,
        .placeholder = KPID_PULL_PLACEHOLDER_DOLLAR,
        .limit = KPID_PULL_LIMIT_CLAUSE,
        .bound = pq->q->bound == KPID_PULL_BOUND_SNAPSHOT_XMIN,
    };
    int r;

    for (int from = KPID_PULL_FROM_START; from <= KPID_PULL_FROM_AFTER; from++)
        if ((r = kpid_pull_wrap(pq->q, (enum kpid_pull_from)from, &opt, &pq->stmt[from])) < 0)
            return r;
    return 0;
}

static int pgsql_init(const kpid_host *host, kpid_source *src, const void *config,
                      const struct config_setting_t *setting, void **ret_state)
{
    const struct pgsql_config *cfg = config;
    pgsql_source *s;
    char *error = NULL;
    int r;

    if (!KPID_HOST_HAS(host, histogram_observe)) {
        host->log(src, KPID_LOG_ERR, "the pgsql plugin needs a kpid of plugin ABI 1.2 or later");
        return -ENOTSUP;
    }
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    *ret_state = s; /* the host owns it from now on, and calls fini */
    s->host = host;
    s->src = src;
    s->cfg = cfg;
    r = kpid_pull_spec_parse(config_setting_get_member(setting, "queries"),
                             KPID_PULL_ALLOW_SNAPSHOT_XMIN, &s->spec, &error);
    if (r < 0) {
        plog(s, KPID_LOG_ERR, "%s", error ? error : "out of memory");
        free(error);
        return r;
    }
    if ((r = kpid_pull_reader_init(&s->reader, host, src, s->spec, (size_t)cfg->overlap_max_keys,
                                   "pgsql")) < 0)
        return r;
    if (!(s->queries = calloc(s->spec->n_queries, sizeof(*s->queries))))
        return -ENOMEM;
    for (size_t i = 0; i < s->spec->n_queries; i++) {
        s->queries[i].q = &s->spec->queries[i];
        s->queries[i].track = &s->reader.tracks[i];
        s->n_queries++;
        if ((r = query_init(s, &s->queries[i])) < 0)
            return r;
    }
    plog(s, KPID_LOG_INFO, "pgsql source ready queries=%zu page_size=%lld", s->n_queries,
         (long long)cfg->page_size);
    return 0;
}

static int connect_cb(void *ctx)
{
    return pgsql_connect(ctx);
}

static int page_cb(void *ctx, size_t i)
{
    pgsql_source *s = ctx;

    return pgsql_page(s, &s->queries[i]);
}

static int pgsql_poll(void *state, const char *cursor)
{
    pgsql_source *s = state;

    return kpid_pull_reader_poll(&s->reader, cursor, connect_cb, page_cb, s);
}

static void pgsql_fini(void *state)
{
    pgsql_source *s = state;

    if (!s)
        return;
    pgsql_disconnect(s);
    for (size_t i = 0; i < s->n_queries; i++) {
        pgsql_query *pq = &s->queries[i];
        for (size_t k = 0; k < sizeof(pq->stmt) / sizeof(pq->stmt[0]); k++)
            kpid_pull_stmt_clear(&pq->stmt[k]);
        kpid_pull_cols_clear(&pq->cols);
    }
    free(s->queries);
    kpid_pull_reader_free(&s->reader);
    kpid_pull_spec_free(s->spec);
    free(s->values);
    free(s);
}

static const kpid_plugin_def pgsql_plugin = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "pgsql",
    .version = "1.0.0",
    .description = "rows of a HIS's PostgreSQL database, read by queries in watermark order, a "
                   "page per READ ONLY transaction",
    .shape = KPID_SOURCE_POLL,
    .config_keys = pgsql_config_keys,
    .config_size = sizeof(struct pgsql_config),
    .init = pgsql_init,
    .poll = pgsql_poll,
    .run = NULL,
    .committed = NULL,
    .request_stop = NULL,
    .fini = pgsql_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &pgsql_plugin;
}
