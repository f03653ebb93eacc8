/*
 * One page of one query: a READ ONLY, REPEATABLE READ transaction on the HIS that reads
 * at most page_size rows after the query's position, then its rows as one batch with
 * the cursor after its last row. Rows re-read within an overlap window are skipped when
 * the dedup set knows their content; rows with a NULL or invalid event_key, time,
 * activity or value are rejected (kpid.rejected, locator "query:NAME key:TIEBREAKER",
 * no raw data); the rest of the page goes on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgsql_source.h"
#include "pull/position.h"

/* PostgreSQL's type OIDs (pg_type.dat) that a query's columns are checked by. */
enum {
    OID_BOOL = 16,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_UNKNOWN = 705,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700,
    OID_UUID = 2950,
    OID_JSONB = 3802,
    OID_XID8 = 5069,
    OID_FIRST_USER = 16384, /* types of extensions and users: domains, enums, ... */
};

static enum kpid_pull_coltype coltype(Oid oid)
{
    switch (oid) {
    case OID_BOOL: return KPID_PULL_COL_BOOLEAN;
    case OID_INT2:
    case OID_INT4:
    case OID_INT8: return KPID_PULL_COL_INTEGER;
    case OID_NUMERIC:
    case OID_FLOAT4:
    case OID_FLOAT8: return KPID_PULL_COL_DECIMAL;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_NAME:
    case OID_UUID:
    case OID_UNKNOWN: return KPID_PULL_COL_TEXT;
    case OID_TIMESTAMPTZ: return KPID_PULL_COL_TIMESTAMPTZ;
    case OID_TIMESTAMP: return KPID_PULL_COL_TIMESTAMP;
    case OID_DATE: return KPID_PULL_COL_DATE;
    case OID_JSON:
    case OID_JSONB: return KPID_PULL_COL_JSON;
    case OID_XID8: return KPID_PULL_COL_XID;
    default: return oid >= OID_FIRST_USER ? KPID_PULL_COL_UNKNOWN : KPID_PULL_COL_OTHER;
    }
}

/* Session settings of every page: the statement timeout, times printed as lib/pull reads
 * them (ISO, UTC), floats exactly. set_config(..., true) is SET LOCAL with a parameter. */
static const char SQL_SETTINGS[] =
    "SELECT set_config('statement_timeout', $1, true), set_config('DateStyle', 'ISO', true),"
    " set_config('TimeZone', 'UTC', true), set_config('extra_float_digits', '3', true)";
/* The same, and the oldest transaction still running as the snapshot sees it. */
static const char SQL_SETTINGS_XMIN[] =
    "SELECT set_config('statement_timeout', $1, true), set_config('DateStyle', 'ISO', true),"
    " set_config('TimeZone', 'UTC', true), set_config('extra_float_digits', '3', true),"
    " pg_snapshot_xmin(pg_current_snapshot())::text";

/* Runs a statement that returns no rows the page needs; 0 or a negative errno (logged). */
static int run_simple(pgsql_source *s, const pgsql_query *pq, const char *sql, const char *what,
                      int n, const char *const *params, PGresult **ret_res)
{
    int err;
    PGresult *res = pgsql_run(s, sql, n, params, &err);

    if (!res) {
        if (err != -ECANCELED)
            plog(s, KPID_LOG_WARNING, "HIS statement abandoned query=%s during=\"%s\" error=\"%s\"",
                 pq->q->name, what, strerror(-err));
        return err;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && s->host->stop_requested(s->src)) {
        PQclear(res); /* canceled because the source stops: not the query's fault */
        return -ECANCELED;
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int r = pgsql_statement_failed(s, pq->q, what, res);
        PQclear(res);
        return r;
    }
    if (ret_res)
        *ret_res = res;
    else
        PQclear(res);
    return 0;
}

/* Resolves pq's columns in res. 0, or -EINVAL (logged: a query error). */
static int resolve(pgsql_source *s, pgsql_query *pq, const PGresult *res)
{
    int n = PQnfields(res);
    const char **names = calloc((size_t)n + 1, sizeof(*names));
    enum kpid_pull_coltype *types = calloc((size_t)n + 1, sizeof(*types));
    char *error = NULL, text[700];
    int r = -ENOMEM;

    if (names && types) {
        for (int i = 0; i < n; i++) {
            names[i] = PQfname(res, i);
            types[i] = coltype(PQftype(res, i));
        }
        r = kpid_pull_resolve(pq->q, (size_t)n, names, types, &pq->cols, &error);
        if (r == -EINVAL)
            plog(s, KPID_LOG_ERR, "query failed query=%s error=\"%s\"", pq->q->name,
                 kpid_log_text(error, text, sizeof(text)));
    }
    free(error);
    free(names);
    free(types);
    if (r == 0 && (size_t)n > s->cap_values) {
        const char **v = realloc(s->values, (size_t)n * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->values = v;
        s->cap_values = (size_t)n;
    }
    return r;
}

/* Reads the page's rows: the statement of `from` in its own transaction. */
static int read_page(pgsql_source *s, pgsql_query *pq, PGresult **ret_res)
{
    enum kpid_pull_from from;
    const char *w, *t, *params[KPID_PULL_PARAMS_MAX];
    char start[KPID_PULL_WM_TEXT_MAX], timeout[24], limit[24], *xmin = NULL;
    const char *settings[1] = {timeout};
    bool bound = pq->q->bound == KPID_PULL_BOUND_SNAPSHOT_XMIN;
    PGresult *res = NULL;
    int r;

    if ((r = kpid_pull_reader_start(&s->reader, pq->track, &from, start, sizeof(start), &w, &t)) <
        0)
        return r;
    snprintf(timeout, sizeof(timeout), "%" PRId64, s->cfg->statement_timeout_ms);
    snprintf(limit, sizeof(limit), "%" PRId64, s->cfg->page_size);
    if ((r = run_simple(s, pq, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN", 0, NULL,
                        NULL)) < 0)
        return r;
    if ((r = run_simple(s, pq, bound ? SQL_SETTINGS_XMIN : SQL_SETTINGS, "settings", 1, settings,
                        &res)) < 0)
        return r;
    if (bound) {
        if (PQntuples(res) != 1 || PQnfields(res) != 5 || PQgetisnull(res, 0, 4) ||
            !(xmin = strdup(PQgetvalue(res, 0, 4)))) {
            PQclear(res);
            plog(s, KPID_LOG_ERR, "query failed query=%s error=\"no snapshot xmin\"", pq->q->name);
            return -EIO;
        }
    }
    PQclear(res);
    res = NULL;
    const kpid_pull_stmt *stmt = &pq->stmt[from];
    for (size_t i = 0; i < stmt->n_params; i++) {
        switch (stmt->params[i]) {
        case KPID_PULL_PARAM_WATERMARK: params[i] = w; break;
        case KPID_PULL_PARAM_TIEBREAKER: params[i] = t; break;
        case KPID_PULL_PARAM_BOUND: params[i] = xmin; break;
        case KPID_PULL_PARAM_LIMIT: params[i] = limit; break;
        }
    }
    r = run_simple(s, pq, stmt->sql, "page", (int)stmt->n_params, params, &res);
    free(xmin);
    if (r < 0)
        return r;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        plog(s, KPID_LOG_ERR, "query failed query=%s error=\"the statement returns no rows\"",
             pq->q->name);
        return -EINVAL;
    }
    if ((r = run_simple(s, pq, "COMMIT", "COMMIT", 0, NULL, NULL)) < 0) {
        PQclear(res);
        return r;
    }
    *ret_res = res;
    return 0;
}

int pgsql_page(pgsql_source *s, pgsql_query *pq)
{
    PGresult *res = NULL;
    kpid_pull_page pg;
    int rows = 0, r;

    kpid_pull_page_begin(&pg, &s->reader, pq->track);
    if ((r = read_page(s, pq, &res)) < 0 || (r = resolve(s, pq, res)) < 0)
        goto out;
    rows = PQntuples(res);
    for (int i = 0; i < rows && r == 0; i++) {
        for (int c = 0; c < PQnfields(res); c++)
            s->values[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
        r = kpid_pull_page_row(&pg, &pq->cols, s->values, NULL);
    }
out:
    r = kpid_pull_page_end(&pg, r);
    PQclear(res);
    if (r < 0)
        return r;
    return rows >= s->cfg->page_size ? 1 : 0;
}
