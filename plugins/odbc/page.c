/*
 * One page of one query: a transaction on the HIS (on PostgreSQL READ ONLY, REPEATABLE
 * READ, in UTC, with statement_timeout) that runs the query's prepared paging statement
 * with its position as bound parameters, reads at most page_size rows and ends with a
 * rollback; then its rows as one batch with the cursor after its last row. Rows re-read
 * within an overlap window are skipped when the dedup set knows their content; rows with
 * a NULL or invalid event_key, time, activity or value are rejected (kpid.rejected,
 * locator "query:NAME key:TIEBREAKER", no raw data); the rest of the page goes on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_source.h"
#include "pull/position.h"
#include "time/civil.h"
#include "wide.h"

/* The first statement of a page's transaction on PostgreSQL: psqlODBC does nothing with
 * SQL_ATTR_ACCESS_MODE, so the transaction says it itself. */
static const char SQL_READ_ONLY[] = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
/* Then the statement timeout in milliseconds (SQL_ATTR_QUERY_TIMEOUT counts seconds) and
 * UTC, in which timestamps are printed and parameters read. */
static const char SQL_SETTINGS[] =
    "SELECT set_config('statement_timeout', ?, true), set_config('TimeZone', 'UTC', true)";

/* Begins the page's transaction where the DBMS is PostgreSQL; others begin theirs with
 * the first statement (autocommit is off). */
static int begin(odbc_source *s, const odbc_query *pq)
{
    char timeout[24];
    int r;

    if (!s->postgres)
        return 0;
    snprintf(timeout, sizeof(timeout), "%" PRId64, s->cfg->statement_timeout_ms);
    if ((r = odbc_run(s, pq->q, SQL_READ_ONLY, "SET TRANSACTION", NULL)) < 0)
        return r;
    return odbc_run(s, pq->q, SQL_SETTINGS, "settings", timeout);
}

/* Ends the page's transaction: a rollback (nothing was written). */
static int end(odbc_source *s, const odbc_query *pq)
{
    if (!s->dbc || !s->transactions)
        return 0;
    if (!SQL_SUCCEEDED(SQLEndTran(SQL_HANDLE_DBC, s->dbc, SQL_ROLLBACK)))
        return odbc_failed(s, pq->q, "ROLLBACK", SQL_HANDLE_DBC, s->dbc);
    return 0;
}

/* The query's statement of `from`, prepared on the connection once. */
static int prepare(odbc_source *s, odbc_query *pq, enum kpid_pull_from from, SQLHSTMT *ret)
{
    const char *sql = pq->stmt[from].sql;
    SQLULEN secs = (SQLULEN)((s->cfg->statement_timeout_ms + 999) / 1000);
    long n;
    int r;

    if (pq->hstmt[from]) {
        *ret = pq->hstmt[from];
        return 0;
    }
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, s->dbc, &pq->hstmt[from]))) {
        pq->hstmt[from] = NULL;
        return odbc_failed(s, pq->q, "prepare", SQL_HANDLE_DBC, s->dbc);
    }
    SQLHSTMT h = pq->hstmt[from];
    /* On PostgreSQL the transaction's statement_timeout says it in milliseconds (psqlODBC
     * would SET it in seconds before and after every statement). Drivers that know
     * neither say so, and the watchdog and the fetch loop bound the page. */
    if (!s->postgres)
        (void)SQLSetStmtAttrW(h, SQL_ATTR_QUERY_TIMEOUT, odbc_attr(secs), 0);
    if (s->limit == KPID_PULL_LIMIT_NONE)
        (void)SQLSetStmtAttrW(h, SQL_ATTR_MAX_ROWS, odbc_attr(s->cfg->page_size), 0);
    s->wide.len = 0;
    if ((n = odbc_wide_from_utf8(&s->wide, sql, strlen(sql))) < 0) {
        plog(s, KPID_LOG_ERR, "query failed query=%s error=\"the SQL is not valid UTF-8\"",
             pq->q->name);
        r = (int)n;
    } else if (!SQL_SUCCEEDED(SQLPrepareW(h, (SQLWCHAR *)s->wide.data, SQL_NTS))) {
        r = odbc_failed(s, pq->q, "prepare", SQL_HANDLE_STMT, h);
    } else {
        *ret = h;
        return 0;
    }
    if (pq->hstmt[from]) { /* still connected */
        SQLFreeHandle(SQL_HANDLE_STMT, h);
        pq->hstmt[from] = NULL;
    }
    return r;
}

/* The values of a page's parameters; bound by address, so they live until it runs. */
typedef struct params {
    SQL_TIMESTAMP_STRUCT ts;
    SQLBIGINT integer;
    SQLINTEGER limit;
    SQLLEN ind[KPID_PULL_PARAMS_MAX];
} params;

/* The watermark's value in p: a timestamp in UTC (the session's time zone) or an
 * integer. */
static int watermark_value(const kpid_pull_query *q, const char *w, params *p)
{
    int64_t v, y;
    int mon, d;
    int r;

    if ((r = kpid_pull_wm_parse(q->watermark_type, w, &v, NULL)) < 0)
        return r;
    if (q->watermark_type == KPID_PULL_WM_INTEGER) {
        p->integer = v;
        return 0;
    }
    int64_t days = kpid_floor_div(v, 86400000000LL), rem = v - days * 86400000000LL;
    kpid_civil_from_days(days, &y, &mon, &d);
    p->ts = (SQL_TIMESTAMP_STRUCT){
        .year = (SQLSMALLINT)y,
        .month = (SQLUSMALLINT)mon,
        .day = (SQLUSMALLINT)d,
        .hour = (SQLUSMALLINT)(rem / 3600000000LL),
        .minute = (SQLUSMALLINT)(rem / 60000000 % 60),
        .second = (SQLUSMALLINT)(rem / 1000000 % 60),
        .fraction = (SQLUINTEGER)(rem % 1000000) * 1000,
    };
    return 0;
}

/* Binds the statement's parameters: the watermark as its type, the tiebreaker as text
 * (the DBMS converts it to the column's type), the page size as an integer. */
static int bind(odbc_source *s, odbc_query *pq, SQLHSTMT h, const kpid_pull_stmt *stmt,
                const char *w, const char *t, params *p)
{
    const kpid_pull_query *q = pq->q;
    bool ts = q->watermark_type == KPID_PULL_WM_TIMESTAMP;
    long units = 0;
    SQLRETURN rc = SQL_SUCCESS;

    if (w && watermark_value(q, w, p) < 0) {
        plog(s, KPID_LOG_ERR, "the cursor's watermark is not of the query's type query=%s",
             q->name);
        return -EINVAL;
    }
    s->wide.len = 0;
    if (t && (units = odbc_wide_from_utf8(&s->wide, t, strlen(t))) < 0)
        return (int)units;
    p->limit = (SQLINTEGER)s->cfg->page_size;
    for (size_t i = 0; i < stmt->n_params && SQL_SUCCEEDED(rc); i++) {
        SQLUSMALLINT n = (SQLUSMALLINT)(i + 1);
        switch (stmt->params[i]) {
        case KPID_PULL_PARAM_WATERMARK:
            p->ind[i] = ts ? (SQLLEN)sizeof(p->ts) : (SQLLEN)sizeof(p->integer);
            rc = ts ? SQLBindParameter(h, n, SQL_PARAM_INPUT, SQL_C_TYPE_TIMESTAMP,
                                       SQL_TYPE_TIMESTAMP, 26, 6, &p->ts, sizeof(p->ts), &p->ind[i])
                    : SQLBindParameter(h, n, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0,
                                       &p->integer, sizeof(p->integer), &p->ind[i]);
            break;
        case KPID_PULL_PARAM_TIEBREAKER:
            p->ind[i] = (SQLLEN)units * (SQLLEN)sizeof(SQLWCHAR);
            rc = SQLBindParameter(h, n, SQL_PARAM_INPUT, SQL_C_WCHAR, SQL_WVARCHAR,
                                  (SQLULEN)(units > 0 ? units : 1), 0, s->wide.data,
                                  (SQLLEN)s->wide.len, &p->ind[i]);
            break;
        case KPID_PULL_PARAM_LIMIT:
            p->ind[i] = (SQLLEN)sizeof(p->limit);
            rc = SQLBindParameter(h, n, SQL_PARAM_INPUT, SQL_C_SLONG, SQL_INTEGER, 0, 0, &p->limit,
                                  sizeof(p->limit), &p->ind[i]);
            break;
        default: return -EINVAL; /* no bound: the odbc plugin does not offer one */
        }
    }
    if (!SQL_SUCCEEDED(rc))
        return odbc_failed(s, q, "bind", SQL_HANDLE_STMT, h);
    return 0;
}

/* Reads the rows of the open result into the page, at most page_size; *truncated when
 * it ended before a row whose value did not fit a block. */
static int read_rows(odbc_source *s, odbc_query *pq, SQLHSTMT h, kpid_pull_page *pg,
                     bool *truncated)
{
    const kpid_pull_cols *c = &pq->cols;
    char why[128];
    int r = 0;

    while (pg->rows < s->cfg->page_size && (r = odbc_result_next(s, pq, h)) == 1) {
        if (s->res.truncated) {
            pq->row_by_row = true;
            *truncated = true;
            plog(s, KPID_LOG_INFO,
                 "a value did not fit its block: the query reads row by row from now on "
                 "query=%s",
                 pq->q->name);
            return 0;
        }
        int over = s->res.overlong;
        if (over >= 0 && (over == c->watermark || over == c->tiebreaker)) {
            plog(s, KPID_LOG_ERR, "query failed query=%s error=\"the %s is longer than %d bytes\"",
                 pq->q->name, over == c->watermark ? "watermark" : "tiebreaker", ODBC_VALUE_MAX);
            return -EINVAL;
        }
        if (over >= 0) /* the row is rejected, the page goes on */
            snprintf(why, sizeof(why), "column \"%.64s\" holds a value longer than %d bytes",
                     s->res.cols[over].name, ODBC_VALUE_MAX);
        if ((r = kpid_pull_page_row(pg, c, s->res.values, over >= 0 ? why : NULL)) < 0)
            return r;
    }
    return r < 0 ? r : 0;
}

/* Runs the page's statement in its transaction and reads its rows. */
static int read_page(odbc_source *s, odbc_query *pq, kpid_pull_page *pg, bool *truncated)
{
    enum kpid_pull_from from = KPID_PULL_FROM_START;
    const char *w, *t;
    char start[KPID_PULL_WM_TEXT_MAX];
    SQLHSTMT h = NULL;
    params p = {0};
    int r;

    if ((r = kpid_pull_reader_start(&s->reader, pq->track, &from, start, sizeof(start), &w, &t)) <
            0 ||
        (r = prepare(s, pq, from, &h)) < 0 || (r = begin(s, pq)) < 0 ||
        (r = bind(s, pq, h, &pq->stmt[from], w, t, &p)) < 0)
        goto out;
    if ((r = odbc_watch_begin(s, h, s->cfg->statement_timeout_ms + ODBC_GRACE_MS)) < 0)
        goto out;
    SQLRETURN rc = SQLExecute(h);
    odbc_watch_end(s);
    if (!SQL_SUCCEEDED(rc)) {
        r = odbc_failed(s, pq->q, "page", SQL_HANDLE_STMT, h);
        goto out;
    }
    if ((r = odbc_result_describe(s, pq, h)) == 0 &&
        (r = odbc_result_bind(s, pq, h, s->cfg->page_size)) == 0)
        r = read_rows(s, pq, h, pg, truncated);
out:
    if (s->dbc && h)
        odbc_result_close(s, h);
    if (s->dbc) {
        int e = end(s, pq);
        r = r < 0 ? r : e;
    }
    if (s->dbc && s->reprepare && pq->hstmt[from]) {
        SQLFreeHandle(SQL_HANDLE_STMT, pq->hstmt[from]);
        pq->hstmt[from] = NULL;
    }
    return r;
}

int odbc_page(odbc_source *s, odbc_query *pq)
{
    kpid_pull_page pg;
    bool truncated = false;
    int r;

    kpid_pull_page_begin(&pg, &s->reader, pq->track);
    r = read_page(s, pq, &pg, &truncated);
    int64_t rows = pg.rows;
    if ((r = kpid_pull_page_end(&pg, r)) < 0)
        return r;
    return rows >= s->cfg->page_size || truncated ? 1 : 0;
}
