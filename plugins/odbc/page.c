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

const kpid_pull_position *odbc_position(const odbc_source *s, const odbc_query *pq)
{
    const kpid_pull_position *p = kpid_pull_cursor_find(&s->cursor, pq->q->name);

    return p && kpid_pull_position_matches(p, pq->q) ? p : NULL;
}

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

/* Where the page starts: *ret_from, and the watermark and tiebreaker texts it needs. */
static int page_start(odbc_source *s, odbc_query *pq, enum kpid_pull_from *ret_from, char *start,
                      size_t start_size, const char **ret_w, const char **ret_t)
{
    const kpid_pull_position *pos = odbc_position(s, pq);
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
    if ((r = kpid_pull_overlap_start(pq->q, pos->watermark, start, start_size, NULL)) < 0) {
        plog(s, KPID_LOG_ERR, "the cursor's watermark is not of the query's type query=%s",
             pq->q->name);
        return r;
    }
    *ret_from = r == 1 ? KPID_PULL_FROM_AT : KPID_PULL_FROM_START;
    *ret_w = r == 1 ? start : NULL;
    return 0;
}

/* What one page read and did. */
typedef struct page {
    kpid_batch *batch;
    kpid_buf w, t; /* the position of its last row */
    int64_t rows;
    bool truncated; /* it ended before a row whose value did not fit a block */
    uint64_t emitted, skipped, rejected;
} page;

/* Adds one row to the batch: an event, a retraction, a rejection, or nothing (a row read
 * again unchanged). Returns 0 or a negative errno. */
static int add_row(odbc_source *s, odbc_query *pq, page *pg, const char *w, const char *t)
{
    char why[256], locator[256];
    kpid_pull_row row;
    uint64_t hash = 0;
    int64_t wm = 0;
    int r;

    if (!pg->batch && (r = s->host->batch_begin(s->src, &pg->batch)) < 0)
        return r;
    kpid_pull_row_locator(pq->q, t, locator, sizeof(locator));
    if (s->res.overlong >= 0) {
        snprintf(why, sizeof(why), "column \"%.64s\" holds a value longer than %d bytes",
                 s->res.cols[s->res.overlong].name, ODBC_VALUE_MAX);
        pg->rejected++;
        return s->host->reject(pg->batch, locator, why, NULL, 0);
    }
    r = kpid_pull_row_convert(pq->q, &pq->cols, s->res.values, &s->rowbuf, &row, why, sizeof(why));
    if (r < 0)
        return r;
    if (r == 1) {
        pg->rejected++;
        return s->host->reject(pg->batch, locator, why, NULL, 0);
    }
    if (pq->dedup) {
        if ((r = kpid_pull_dedup_hash(pq->dedup, &row, &hash)) < 0)
            return r;
        if (kpid_pull_dedup_seen(pq->dedup, row.ev.event_key, hash)) {
            pg->skipped++;
            return 0;
        }
    }
    if (row.retract)
        r = s->host->retract(pg->batch, row.ev.event_key);
    else
        r = s->host->emit(pg->batch, &row.ev, locator);
    if (r == -EINVAL && !row.retract) {
        pg->rejected++; /* refused by the host: it recorded the row with this locator */
        return 0;
    }
    if (r < 0)
        return r;
    pg->emitted++;
    if (pq->dedup && kpid_pull_wm_parse(pq->q->watermark_type, w, &wm, NULL) == 0 &&
        (r = kpid_pull_dedup_put(pq->dedup, row.ev.event_key, hash, wm)) < 0)
        return r;
    return 0;
}

/* Whether the row at (w, t) is at or past the query's position: a page of the overlap
 * window reads rows behind it first. Within the position's watermark only the position's
 * own row says so: the tiebreaker's order is the database's (numbers, a collation). */
static void check_passed(odbc_source *s, odbc_query *pq, const char *w, const char *t)
{
    const kpid_pull_position *pos = odbc_position(s, pq);
    int64_t old, now;

    if (!pos || kpid_pull_wm_parse(pq->q->watermark_type, pos->watermark, &old, NULL) < 0 ||
        kpid_pull_wm_parse(pq->q->watermark_type, w, &now, NULL) < 0 || now > old ||
        (now == old && strcmp(t, pos->tiebreaker) == 0))
        pq->passed = true;
}

static int set_text(kpid_buf *b, const char *text)
{
    b->len = 0;
    return kpid_buf_append(b, text, strlen(text) + 1);
}

/* Reads the rows of the open result into the page, at most page_size. */
static int read_rows(odbc_source *s, odbc_query *pq, SQLHSTMT h, page *pg)
{
    const kpid_pull_cols *c = &pq->cols;
    const char *w, *t;
    char why[256], locator[256];
    int r = 0;

    while (pg->rows < s->cfg->page_size && (r = odbc_result_next(s, pq, h)) == 1) {
        if (s->res.truncated) {
            pq->row_by_row = true;
            pg->truncated = true;
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
        if (kpid_pull_row_position(pq->q, c, s->res.values, &w, &t, why, sizeof(why)) < 0) {
            kpid_pull_row_locator(pq->q, s->res.values[c->tiebreaker], locator, sizeof(locator));
            plog(s, KPID_LOG_ERR, "query failed query=%s row=\"%s\" error=\"%s\"", pq->q->name,
                 locator, why);
            return -EINVAL;
        }
        if (!pq->passed)
            check_passed(s, pq, w, t);
        if ((r = add_row(s, pq, pg, w, t)) < 0 || (r = set_text(&pg->w, w)) < 0 ||
            (r = set_text(&pg->t, t)) < 0)
            return r;
        pg->rows++;
    }
    return r < 0 ? r : 0;
}

/* Runs the page's statement in its transaction and reads its rows. */
static int read_page(odbc_source *s, odbc_query *pq, page *pg)
{
    enum kpid_pull_from from = KPID_PULL_FROM_START;
    const char *w, *t;
    char start[KPID_PULL_WM_TEXT_MAX];
    SQLHSTMT h = NULL;
    params p = {0};
    int r;

    if ((r = page_start(s, pq, &from, start, sizeof(start), &w, &t)) < 0 ||
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
        r = read_rows(s, pq, h, pg);
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

/* The cursor after a page whose last row is at (w, t): the query's position moves there,
 * except that a page of an overlap window that has not read past it leaves it where it
 * is (a position never moves back, also not within its watermark's ties). */
static int advance(odbc_source *s, odbc_query *pq, const char *w, const char *t)
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

int odbc_page(odbc_source *s, odbc_query *pq)
{
    page pg = {0};
    char *cursor_before = NULL;
    int r;

    if ((r = read_page(s, pq, &pg)) < 0)
        goto out;
    s->host->counter_add(pq->m_pages, 1);
    if (pg.rows == 0)
        goto out; /* nothing new (or a first row too long for a block): the cursor stays */
    if (!(cursor_before = strdup(s->cursor_text ? s->cursor_text : "")) ||
        (r = advance(s, pq, pg.w.data, pg.t.data)) < 0) {
        r = r < 0 ? r : -ENOMEM;
        goto out;
    }
    s->text.len = 0;
    if ((r = kpid_pull_cursor_encode(&s->cursor, &s->text)) < 0) {
        plog(s, KPID_LOG_ERR, "cannot encode the cursor error=\"%s\"", strerror(-r));
        goto out;
    }
    bool moved = strcmp(s->text.data, cursor_before) != 0;
    if (pg.emitted + pg.rejected == 0 && !moved)
        goto out; /* read again, all of it unchanged: nothing to write */
    r = s->host->batch_submit(pg.batch, s->text.data, NULL);
    pg.batch = NULL; /* consumed in every case */
    if (r < 0)
        goto out;
    free(s->cursor_text);
    if (!(s->cursor_text = strdup(s->text.data)))
        r = -ENOMEM;
out:
    if (pg.batch)
        s->host->batch_abort(pg.batch);
    s->host->counter_add(pq->m_rows, (uint64_t)pg.rows);
    s->host->counter_add(pq->m_skipped, pg.skipped);
    s->host->counter_add(pq->m_rejected, pg.rejected);
    free(cursor_before);
    kpid_buf_free(&pg.w);
    kpid_buf_free(&pg.t);
    if (r < 0)
        return r;
    return pg.rows >= s->cfg->page_size || pg.truncated ? 1 : 0;
}
