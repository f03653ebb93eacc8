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

const kpid_pull_position *pgsql_position(const pgsql_source *s, const pgsql_query *pq)
{
    const kpid_pull_position *p = kpid_pull_cursor_find(&s->cursor, pq->q->name);

    return p && kpid_pull_position_matches(p, pq->q) ? p : NULL;
}

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

/* Where the page starts: *ret_from, and the watermark and tiebreaker texts it needs. */
static int page_start(pgsql_source *s, pgsql_query *pq, enum kpid_pull_from *ret_from, char *start,
                      size_t start_size, const char **ret_w, const char **ret_t)
{
    const kpid_pull_position *pos = pgsql_position(s, pq);
    int r;

    *ret_w = *ret_t = NULL;
    if (pq->scan_w) { /* the cycle goes on after its last page */
        *ret_from = KPID_PULL_FROM_AFTER;
        *ret_w = pq->scan_w;
        *ret_t = pq->scan_t;
        return 0;
    }
    if (!pos) {
        *ret_from = KPID_PULL_FROM_START;
        return 0;
    }
    if (pq->q->overlap == 0) {
        *ret_from = KPID_PULL_FROM_AFTER;
        *ret_w = pos->watermark;
        *ret_t = pos->tiebreaker;
        return 0;
    }
    if ((r = kpid_pull_overlap_start(pq->q, pos->watermark, start, start_size, NULL)) < 0)
        return r;
    *ret_from = r == 1 ? KPID_PULL_FROM_AT : KPID_PULL_FROM_START;
    *ret_w = r == 1 ? start : NULL;
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
                 pgsql_log_text(error, text, sizeof(text)));
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

    if ((r = page_start(s, pq, &from, start, sizeof(start), &w, &t)) < 0) {
        plog(s, KPID_LOG_ERR, "the cursor's watermark is not of the query's type query=%s",
             pq->q->name);
        return r;
    }
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

/* Counts of one page. */
typedef struct page_counts {
    uint64_t emitted, skipped, rejected;
} page_counts;

/* Adds one row to the batch: an event, a retraction, a rejection, or nothing (a row read
 * again unchanged). Returns 0 or a negative errno. */
static int add_row(pgsql_source *s, pgsql_query *pq, kpid_batch *batch, const char *w,
                   const char *t, page_counts *n)
{
    char why[256], locator[256];
    kpid_pull_row row;
    uint64_t hash = 0;
    int64_t wm = 0;
    int r;

    r = kpid_pull_row_convert(pq->q, &pq->cols, s->values, &s->rowbuf, &row, why, sizeof(why));
    if (r < 0)
        return r;
    kpid_pull_row_locator(pq->q, t, locator, sizeof(locator));
    if (r == 1) {
        n->rejected++;
        return s->host->reject(batch, locator, why, NULL, 0);
    }
    if (pq->dedup) {
        if ((r = kpid_pull_dedup_hash(pq->dedup, &row, &hash)) < 0)
            return r;
        if (kpid_pull_dedup_seen(pq->dedup, row.ev.event_key, hash)) {
            n->skipped++;
            return 0;
        }
    }
    if (row.retract)
        r = s->host->retract(batch, row.ev.event_key);
    else
        r = s->host->emit(batch, &row.ev, locator);
    if (r == -EINVAL && !row.retract) {
        n->rejected++; /* refused by the host: it recorded the row with this locator */
        return 0;
    }
    if (r < 0)
        return r;
    n->emitted++;
    if (pq->dedup && kpid_pull_wm_parse(pq->q->watermark_type, w, &wm, NULL) == 0 &&
        (r = kpid_pull_dedup_put(pq->dedup, row.ev.event_key, hash, wm)) < 0)
        return r;
    return 0;
}

/*
 * Notes when a row at (w, t) of an overlap window's page is past the query's position:
 * once a row has a later watermark, or is the position's row itself, every row after it
 * is. Rows that only tie with the position's watermark may sort before its tiebreaker
 * (the order of tiebreakers is the database's to know), so they do not count.
 */
static void note_passed(pgsql_query *pq, const kpid_pull_position *pos, int64_t pos_wm,
                        const char *w, const char *t)
{
    int64_t now;

    if (pq->passed || !pos || kpid_pull_wm_parse(pq->q->watermark_type, w, &now, NULL) < 0)
        return;
    pq->passed = now > pos_wm || (now == pos_wm && strcmp(t, pos->tiebreaker) == 0);
}

/* The cursor after a page whose last row is at (w, t): the query's position moves there
 * once the cycle has read past it; a page of an overlap window behind it leaves it be. */
static int advance(pgsql_source *s, pgsql_query *pq, const char *w, const char *t)
{
    char *sw = strdup(w), *st = strdup(t);

    if (!sw || !st) {
        free(sw);
        free(st);
        return -ENOMEM;
    }
    free(pq->scan_w);
    free(pq->scan_t);
    pq->scan_w = sw;
    pq->scan_t = st;
    if (!pq->passed)
        return 0;
    return kpid_pull_cursor_set(&s->cursor, pq->q, w, t);
}

int pgsql_page(pgsql_source *s, pgsql_query *pq)
{
    PGresult *res = NULL;
    kpid_batch *batch = NULL;
    page_counts n = {0};
    const char *w = NULL, *t = NULL;
    char why[256], *cursor_before = NULL;
    int rows, r;

    const kpid_pull_position *pos = pgsql_position(s, pq);
    int64_t pos_wm = 0;

    if (pos && kpid_pull_wm_parse(pq->q->watermark_type, pos->watermark, &pos_wm, NULL) < 0)
        pos = NULL; /* cannot be: the cursor was checked when it was decoded */
    if ((r = read_page(s, pq, &res)) < 0)
        return r;
    rows = PQntuples(res);
    if ((r = resolve(s, pq, res)) < 0)
        goto out;
    if (rows > 0 && (r = s->host->batch_begin(s->src, &batch)) < 0)
        goto out;
    for (int i = 0; i < rows; i++) {
        for (int c = 0; c < PQnfields(res); c++)
            s->values[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
        if (kpid_pull_row_position(pq->q, &pq->cols, s->values, &w, &t, why, sizeof(why)) < 0) {
            char locator[256];
            kpid_pull_row_locator(pq->q, s->values[pq->cols.tiebreaker], locator, sizeof(locator));
            plog(s, KPID_LOG_ERR, "query failed query=%s row=\"%s\" error=\"%s\"", pq->q->name,
                 locator, why);
            r = -EINVAL;
            goto out;
        }
        if ((r = add_row(s, pq, batch, w, t, &n)) < 0)
            goto out;
        note_passed(pq, pos, pos_wm, w, t);
    }
    s->host->counter_add(pq->m_pages, 1);
    if (rows == 0 || !w || !t)
        goto out; /* nothing new: the cursor stays */
    if (!(cursor_before = strdup(s->cursor_text ? s->cursor_text : "")) ||
        (r = advance(s, pq, w, t)) < 0) {
        r = r < 0 ? r : -ENOMEM;
        goto out;
    }
    s->text.len = 0;
    if ((r = kpid_pull_cursor_encode(&s->cursor, &s->text)) < 0) {
        plog(s, KPID_LOG_ERR, "cannot encode the cursor error=\"%s\"", strerror(-r));
        goto out;
    }
    bool moved = strcmp(s->text.data, cursor_before) != 0;
    if (n.emitted + n.rejected == 0 && !moved)
        goto out; /* read again, all of it unchanged: nothing to write */
    r = s->host->batch_submit(batch, s->text.data, NULL);
    batch = NULL; /* consumed in every case */
    if (r < 0)
        goto out;
    free(s->cursor_text);
    if (!(s->cursor_text = strdup(s->text.data)))
        r = -ENOMEM;
out:
    if (batch)
        s->host->batch_abort(batch);
    s->host->counter_add(pq->m_rows, (uint64_t)(rows > 0 ? rows : 0));
    s->host->counter_add(pq->m_skipped, n.skipped);
    s->host->counter_add(pq->m_rejected, n.rejected);
    free(cursor_before);
    PQclear(res);
    if (r < 0)
        return r;
    return rows >= s->cfg->page_size ? 1 : 0;
}
