/* The pgsql plugin: its configuration keys, init, poll and fini (see pgsql_source.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "pgsql_source.h"
#include "pull/position.h"

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

static void register_metrics(pgsql_source *s, pgsql_query *pq)
{
    static const struct {
        enum kpid_metric_type type;
        const char *name, *help;
        size_t offset;
    } defs[] = {
        {KPID_METRIC_COUNTER, "pgsql_rows_total", "rows read from the HIS",
         offsetof(pgsql_query, m_rows)},
        {KPID_METRIC_COUNTER, "pgsql_skipped_total",
         "rows read again within the overlap window, unchanged", offsetof(pgsql_query, m_skipped)},
        {KPID_METRIC_COUNTER, "pgsql_rejected_total", "rows rejected into kpid.rejected",
         offsetof(pgsql_query, m_rejected)},
        {KPID_METRIC_COUNTER, "pgsql_pages_total", "pages read (each one HIS transaction)",
         offsetof(pgsql_query, m_pages)},
    };
    kpid_metric_label label = {.name = "query", .value = pq->q->name};

    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        kpid_metric_def d = {
            .type = defs[i].type,
            .name = defs[i].name,
            .help = defs[i].help,
            .labels = &label,
            .n_labels = 1,
        };
        kpid_metric **slot = (kpid_metric **)((char *)pq + defs[i].offset);
        if (s->host->metric_register(s->src, &d, slot) < 0)
            *slot = NULL;
    }
}

/* Builds a query's paging statements and its dedup set. */
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
    if (pq->q->overlap > 0 &&
        (r = kpid_pull_dedup_new((size_t)s->cfg->overlap_max_keys, &pq->dedup)) < 0)
        return r;
    register_metrics(s, pq);
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
    if (!(s->queries = calloc(s->spec->n_queries, sizeof(*s->queries))))
        return -ENOMEM;
    for (size_t i = 0; i < s->spec->n_queries; i++) {
        s->queries[i].q = &s->spec->queries[i];
        s->n_queries++;
        if ((r = query_init(s, &s->queries[i])) < 0)
            return r;
    }
    plog(s, KPID_LOG_INFO, "pgsql source ready queries=%zu page_size=%lld", s->n_queries,
         (long long)cfg->page_size);
    return 0;
}

/* Takes the positions of the cursor the host gives: at the first poll, and whenever it is
 * not the one last submitted (it is not: that cannot be, unless the host says so). */
static int load_cursor(pgsql_source *s, const char *text)
{
    kpid_pull_cursor c = {0};
    char err[256];
    int r;

    if (text && (r = kpid_pull_cursor_decode(text, strlen(text), &c, err, sizeof(err))) < 0) {
        plog(s, KPID_LOG_ERR,
             "the stored cursor is invalid error=\"%s\" hint=\"delete the source's row in "
             "kpid.cursor to read every query from its beginning\"",
             err);
        return r;
    }
    for (size_t i = 0; i < s->n_queries; i++) {
        const kpid_pull_query *q = s->queries[i].q;
        const kpid_pull_position *p = kpid_pull_cursor_find(&c, q->name);
        if (p && !kpid_pull_position_matches(p, q)) {
            plog(s, KPID_LOG_WARNING,
                 "the query's order changed since its cursor was stored: reading it from its "
                 "beginning query=%s was=\"%s %s %s\"",
                 q->name, kpid_pull_wm_type_name(p->type), p->watermark_column,
                 p->tiebreaker_column);
            kpid_pull_cursor_remove(&c, q->name);
        }
    }
    kpid_pull_cursor_clear(&s->cursor);
    s->cursor = c;
    free(s->cursor_text);
    s->cursor_text = text ? strdup(text) : NULL;
    if (text && !s->cursor_text)
        return -ENOMEM;
    s->cursor_loaded = true;
    s->cycle = false;
    for (size_t i = 0; i < s->n_queries; i++)
        if (s->queries[i].dedup)
            kpid_pull_dedup_reset(s->queries[i].dedup);
    return 0;
}

/* A new cycle: every query has pages to read, from its position or its overlap window;
 * the dedup sets forget what no page of it reads again. */
static void cycle_start(pgsql_source *s)
{
    char start[KPID_PULL_WM_TEXT_MAX];

    for (size_t i = 0; i < s->n_queries; i++) {
        pgsql_query *pq = &s->queries[i];
        const kpid_pull_position *pos = pgsql_position(s, pq);
        int64_t from;
        pq->pending = true;
        free(pq->scan_w);
        free(pq->scan_t);
        pq->scan_w = pq->scan_t = NULL;
        /* Without an overlap every page starts after the position. */
        pq->passed = !pos || pq->q->overlap == 0;
        if (pq->dedup && pos &&
            kpid_pull_overlap_start(pq->q, pos->watermark, start, sizeof(start), &from) == 1)
            kpid_pull_dedup_expire(pq->dedup, from);
    }
    s->cycle = true;
}

static int pgsql_poll(void *state, const char *cursor)
{
    pgsql_source *s = state;
    bool pending = false;
    int r;

    if (s->host->stop_requested(s->src))
        return KPID_POLL_IDLE;
    if (!s->cursor_loaded || (cursor == NULL) != (s->cursor_text == NULL) ||
        (cursor && strcmp(cursor, s->cursor_text) != 0))
        if ((r = load_cursor(s, cursor)) < 0)
            return r;
    if ((r = pgsql_connect(s)) < 0)
        return r == -ECANCELED ? KPID_POLL_IDLE : r;
    if (!s->cycle)
        cycle_start(s);
    for (size_t i = 0; i < s->n_queries; i++) {
        pgsql_query *pq = &s->queries[i];
        if (!pq->pending)
            continue;
        if ((r = pgsql_page(s, pq)) < 0) {
            s->cycle = false;
            return r;
        }
        pq->pending = r == 1;
        pending = pending || pq->pending;
        if (s->host->stop_requested(s->src))
            return KPID_POLL_IDLE;
    }
    if (!pending)
        s->cycle = false;
    return pending ? KPID_POLL_MORE : KPID_POLL_IDLE;
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
        kpid_pull_dedup_free(pq->dedup);
        free(pq->scan_w);
        free(pq->scan_t);
    }
    free(s->queries);
    kpid_pull_spec_free(s->spec);
    kpid_pull_cursor_clear(&s->cursor);
    free(s->cursor_text);
    kpid_buf_free(&s->text);
    kpid_pull_rowbuf_free(&s->rowbuf);
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
