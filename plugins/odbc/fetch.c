/*
 * A page's result (fetch.c): its columns, typed as lib/pull knows them from their ODBC
 * SQL types and type names, and its rows as text. Only the columns the query uses are
 * read. Rows come in blocks of column-wise bound arrays (SQL_ATTR_ROW_ARRAY_SIZE); a
 * value that does not fit its array's slot ends the page before its row, and the query
 * reads row by row with SQLGetData from then on, a value of any length up to
 * ODBC_VALUE_MAX bytes.
 *
 * Text comes as SQL_C_WCHAR (UTF-16, whatever the driver's or the locale's encoding)
 * and is kept as UTF-8; numbers, booleans and dates as SQL_C_CHAR. A timestamp with a
 * time zone is written as PostgreSQL prints it in UTC ("2024-03-01 10:00:00.5+00"), the
 * form lib/pull and the cursor read: its offset applied when the driver gives one, else
 * the value is taken as UTC (the session's time zone, which the plugin sets to UTC on
 * PostgreSQL).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_source.h"
#include "pull/position.h"
#include "time/timestamp.h"
#include "wide.h"

#define SQL_SS_TIMESTAMPOFFSET (-155) /* SQL Server's datetimeoffset (msodbcsql.h) */
#define BLOCK_BYTES (4 << 20)         /* most bytes of one block's arrays */
#define BLOCK_ROWS_MAX 1000           /* most rows of one block */
#define WIDE_UNITS_MAX 2048           /* most UTF-16 units of a text's slot in a block */
#define NARROW_MAX 512                /* most bytes of another value's slot */

static void classify(odbc_column *c, const char *type_name, bool mysql)
{
    char tn[64];
    size_t i;

    for (i = 0; type_name[i] && i + 1 < sizeof(tn); i++)
        tn[i] = (char)tolower((unsigned char)type_name[i]);
    tn[i] = '\0';
    switch (c->sql_type) {
    case SQL_CHAR:
    case SQL_VARCHAR:
    case SQL_LONGVARCHAR:
    case SQL_WCHAR:
    case SQL_WVARCHAR:
    case SQL_WLONGVARCHAR:
        c->fetch = ODBC_FETCH_WIDE;
        if (strcmp(tn, "bool") == 0 || strcmp(tn, "boolean") == 0)
            c->type = KPID_PULL_COL_BOOLEAN; /* psqlODBC's BoolsAsChar */
        else if (strcmp(tn, "json") == 0 || strcmp(tn, "jsonb") == 0)
            c->type = KPID_PULL_COL_JSON;
        else
            c->type = KPID_PULL_COL_TEXT;
        return;
    case SQL_BIT: c->type = KPID_PULL_COL_BOOLEAN; break;
    case SQL_TINYINT:
    case SQL_SMALLINT:
    case SQL_INTEGER:
    case SQL_BIGINT: c->type = KPID_PULL_COL_INTEGER; break;
    case SQL_DECIMAL:
    case SQL_NUMERIC:
    case SQL_REAL:
    case SQL_FLOAT:
    case SQL_DOUBLE: c->type = KPID_PULL_COL_DECIMAL; break;
    case SQL_TYPE_TIMESTAMP:
    case SQL_TIMESTAMP:
        /* MySQL's TIMESTAMP is UTC inside and printed in the session's time zone, which
         * the plugin sets to UTC; its DATETIME has no zone. */
        if (strstr(tn, "timestamptz") || strstr(tn, "with time zone") ||
            strstr(tn, "datetimeoffset") || (mysql && strcmp(tn, "timestamp") == 0)) {
            c->type = KPID_PULL_COL_TIMESTAMPTZ;
            c->fetch = ODBC_FETCH_TSTZ;
            return;
        }
        c->type = KPID_PULL_COL_TIMESTAMP;
        break;
    case SQL_SS_TIMESTAMPOFFSET:
        c->type = KPID_PULL_COL_TIMESTAMPTZ;
        c->fetch = ODBC_FETCH_TSTZ;
        return;
    case SQL_TYPE_DATE:
    case SQL_DATE: c->type = KPID_PULL_COL_DATE; break;
    case SQL_GUID:
        c->type = KPID_PULL_COL_TEXT;
        c->fetch = ODBC_FETCH_GUID;
        return;
    case SQL_TYPE_TIME:
    case SQL_BINARY:
    case SQL_VARBINARY:
    case SQL_LONGVARBINARY: c->type = KPID_PULL_COL_OTHER; break;
    default:
        c->type = KPID_PULL_COL_UNKNOWN; /* values are checked row by row */
        c->fetch = ODBC_FETCH_WIDE;
        return;
    }
    c->fetch = ODBC_FETCH_NARROW;
}

/* Column i's name and type name as UTF-8 into c->name and tn. */
static int describe_one(odbc_source *s, SQLHSTMT stmt, SQLUSMALLINT i, odbc_column *c, char *tn,
                        size_t tn_size)
{
    SQLWCHAR name[256], type_name[64];
    SQLSMALLINT len = 0, dec = 0, nullable = 0;
    kpid_buf b = {0};
    int r;

    if (!SQL_SUCCEEDED(SQLDescribeColW(stmt, i, name, (SQLSMALLINT)(sizeof(name) / sizeof(name[0])),
                                       &len, &c->sql_type, &c->size, &dec, &nullable)))
        return 1;
    size_t units = sizeof(name) / sizeof(name[0]) - 1;
    if (len >= 0 && (size_t)len < units)
        units = (size_t)len; /* characters, without the terminator */
    if ((r = odbc_utf8_from_wide(&b, name, odbc_wide_len(name, units))) < 0 ||
        (r = kpid_buf_putc(&b, '\0')) < 0) {
        kpid_buf_free(&b);
        return r;
    }
    c->name = b.data;
    b = (kpid_buf){0};
    tn[0] = '\0';
    units = sizeof(type_name) / sizeof(type_name[0]) - 1;
    if (SQL_SUCCEEDED(SQLColAttributeW(stmt, i, SQL_DESC_TYPE_NAME, type_name, sizeof(type_name),
                                       &len, NULL)) &&
        odbc_utf8_from_wide(&b, type_name,
                            odbc_wide_len(type_name, len >= 0 && (size_t)len / 2 < units
                                                         ? (size_t)len / 2
                                                         : units)) == 0 &&
        b.data)
        snprintf(tn, tn_size, "%.*s", (int)b.len, b.data);
    kpid_buf_free(&b);
    (void)s;
    return 0;
}

static void clear_columns(odbc_result *res)
{
    for (size_t i = 0; i < res->n; i++) {
        odbc_column *c = &res->cols[i];
        free(c->name);
        free(c->data);
        free(c->ind);
        c->name = NULL;
        c->data = NULL;
        c->ind = NULL;
        c->fetch = ODBC_FETCH_SKIP;
    }
    res->n = 0;
}

void odbc_result_free(odbc_result *res)
{
    clear_columns(res);
    for (size_t i = 0; i < res->cap; i++)
        kpid_buf_free(&res->cols[i].text);
    free(res->cols);
    free(res->values);
    free(res->status);
    *res = (odbc_result){0};
}

static int reserve_columns(odbc_result *res, size_t n)
{
    if (n <= res->cap)
        return 0;
    odbc_column *cols = realloc(res->cols, n * sizeof(*cols));
    if (!cols)
        return -ENOMEM;
    res->cols = cols;
    memset(cols + res->cap, 0, (n - res->cap) * sizeof(*cols));
    const char **values = realloc(res->values, n * sizeof(*values));
    if (!values)
        return -ENOMEM;
    res->values = values;
    res->cap = n;
    return 0;
}

/* Marks the columns pq uses; the others stay unread. */
static void mark_used(odbc_result *res, const kpid_pull_cols *c, enum odbc_fetch *kinds)
{
    const int used[] = {c->watermark, c->tiebreaker, c->event_key, c->case_id,     c->subject_id,
                        c->activity,  c->time,       c->value,     c->retract_when};

    for (size_t i = 0; i < res->n; i++)
        res->cols[i].fetch = ODBC_FETCH_SKIP;
    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
        if (used[i] >= 0)
            res->cols[used[i]].fetch = kinds[used[i]];
    for (size_t i = 0; i < c->n_attrs; i++)
        if (c->attrs[i] >= 0)
            res->cols[c->attrs[i]].fetch = kinds[c->attrs[i]];
}

int odbc_result_describe(odbc_source *s, odbc_query *pq, SQLHSTMT stmt)
{
    odbc_result *res = &s->res;
    SQLSMALLINT n = 0;
    const char **names = NULL;
    enum kpid_pull_coltype *types = NULL;
    enum odbc_fetch *kinds = NULL;
    char *error = NULL, text[700], tn[64];
    int r;

    clear_columns(res);
    if (!SQL_SUCCEEDED(SQLNumResultCols(stmt, &n)))
        return odbc_failed(s, pq->q, "describe", SQL_HANDLE_STMT, stmt);
    if (n <= 0) {
        plog(s, KPID_LOG_ERR, "query failed query=%s error=\"the statement returns no rows\"",
             pq->q->name);
        return -EINVAL;
    }
    if ((r = reserve_columns(res, (size_t)n)) < 0)
        return r;
    names = calloc((size_t)n, sizeof(*names));
    types = calloc((size_t)n, sizeof(*types));
    kinds = calloc((size_t)n, sizeof(*kinds));
    r = names && types && kinds ? 0 : -ENOMEM;
    for (SQLSMALLINT i = 0; r == 0 && i < n; i++) {
        odbc_column *c = &res->cols[i];
        if ((r = describe_one(s, stmt, (SQLUSMALLINT)(i + 1), c, tn, sizeof(tn))) > 0) {
            r = odbc_failed(s, pq->q, "describe", SQL_HANDLE_STMT, stmt);
            break;
        }
        res->n++;
        if (r == 0) {
            classify(c, tn, s->mysql);
            kinds[i] = c->fetch;
            names[i] = c->name;
            types[i] = c->type;
        }
    }
    if (r == 0) {
        r = kpid_pull_resolve(pq->q, (size_t)n, names, types, &pq->cols, &error);
        if (r == -EINVAL)
            plog(s, KPID_LOG_ERR, "query failed query=%s error=\"%s\"", pq->q->name,
                 kpid_log_text(error, text, sizeof(text)));
    }
    if (r == 0)
        mark_used(res, &pq->cols, kinds);
    free(error);
    free(names);
    free(types);
    free(kinds);
    return r;
}

/* Bytes of a column's slot in a block, its terminator included. */
static SQLLEN slot_width(const odbc_column *c)
{
    if (c->fetch == ODBC_FETCH_WIDE) {
        /* A character may take two UTF-16 units. */
        SQLULEN units =
            c->size > 0 && c->size < WIDE_UNITS_MAX / 2 ? c->size * 2 + 1 : WIDE_UNITS_MAX;
        return (SQLLEN)(units * sizeof(SQLWCHAR));
    }
    SQLULEN bytes = c->size + 48; /* signs, points, exponents, offsets, fractions */
    if (bytes < 64)
        bytes = 64;
    return (SQLLEN)(bytes < NARROW_MAX ? bytes : NARROW_MAX);
}

static SQLSMALLINT c_type(const odbc_column *c)
{
    return c->fetch == ODBC_FETCH_WIDE ? SQL_C_WCHAR : SQL_C_CHAR;
}

static int set_attr(SQLHSTMT stmt, SQLINTEGER attr, SQLPOINTER value)
{
    return SQL_SUCCEEDED(SQLSetStmtAttrW(stmt, attr, value, 0)) ? 0 : -EIO;
}

int odbc_result_bind(odbc_source *s, odbc_query *pq, SQLHSTMT stmt, int64_t max_rows)
{
    odbc_result *res = &s->res;
    size_t row_bytes = 0;
    SQLULEN rows;

    res->fetched = res->next = 0;
    res->overlong = -1;
    res->truncated = false;
    for (size_t i = 0; i < res->n; i++)
        if (res->cols[i].fetch != ODBC_FETCH_SKIP) {
            res->cols[i].width = slot_width(&res->cols[i]);
            row_bytes += (size_t)res->cols[i].width + sizeof(SQLLEN);
        }
    rows = pq->row_by_row ? 1 : (SQLULEN)(BLOCK_BYTES / (row_bytes ? row_bytes : 1));
    if (rows > BLOCK_ROWS_MAX)
        rows = BLOCK_ROWS_MAX;
    if (rows > (SQLULEN)max_rows)
        rows = (SQLULEN)max_rows;
    if (rows < 1)
        rows = 1;
    free(res->status);
    if (!(res->status = calloc(rows, sizeof(*res->status))))
        return -ENOMEM;
    res->rowset = rows;
    if (set_attr(stmt, SQL_ATTR_ROW_BIND_TYPE, odbc_attr(SQL_BIND_BY_COLUMN)) < 0 ||
        set_attr(stmt, SQL_ATTR_ROW_ARRAY_SIZE, odbc_attr(rows)) < 0 ||
        set_attr(stmt, SQL_ATTR_ROW_STATUS_PTR, res->status) < 0 ||
        set_attr(stmt, SQL_ATTR_ROWS_FETCHED_PTR, &res->fetched) < 0)
        return odbc_failed(s, pq->q, "block fetch", SQL_HANDLE_STMT, stmt);
    if (pq->row_by_row)
        return 0;
    for (size_t i = 0; i < res->n; i++) {
        odbc_column *c = &res->cols[i];
        if (c->fetch == ODBC_FETCH_SKIP)
            continue;
        if (!(c->data = malloc(rows * (size_t)c->width)) ||
            !(c->ind = calloc(rows, sizeof(*c->ind))))
            return -ENOMEM;
        if (!SQL_SUCCEEDED(
                SQLBindCol(stmt, (SQLUSMALLINT)(i + 1), c_type(c), c->data, c->width, c->ind)))
            return odbc_failed(s, pq->q, "bind", SQL_HANDLE_STMT, stmt);
    }
    return 0;
}

void odbc_result_close(odbc_source *s, SQLHSTMT stmt)
{
    (void)SQLCloseCursor(stmt);
    (void)SQLFreeStmt(stmt, SQL_UNBIND);
    (void)SQLFreeStmt(stmt, SQL_RESET_PARAMS);
    (void)SQLSetStmtAttrW(stmt, SQL_ATTR_ROW_STATUS_PTR, NULL, 0);
    (void)SQLSetStmtAttrW(stmt, SQL_ATTR_ROWS_FETCHED_PTR, NULL, 0);
    (void)SQLSetStmtAttrW(stmt, SQL_ATTR_ROW_ARRAY_SIZE, odbc_attr(1), 0);
    for (size_t i = 0; i < s->res.n; i++) {
        free(s->res.cols[i].data);
        free(s->res.cols[i].ind);
        s->res.cols[i].data = NULL;
        s->res.cols[i].ind = NULL;
    }
}

/* The seconds of a time zone offset at p ("+02", "+02:00", "-0330", "+05:30:15", "Z"):
 * 0 with *ret_secs, or -1 when p holds something else. */
static int offset_secs(const char *p, long *ret_secs)
{
    int sign, f[3] = {0, 0, 0}, n = 0;

    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *ret_secs = 0;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    sign = *p++ == '-' ? -1 : 1;
    while (n < 3 && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
        f[n++] = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':')
            p++;
    }
    if (n == 0 || *p != '\0' || f[0] > 23 || f[1] > 59 || f[2] > 59)
        return -1;
    *ret_secs = sign * (f[0] * 3600L + f[1] * 60L + f[2]);
    return 0;
}

/*
 * Rewrites text, a timestamp with a time zone as a driver prints it ("2024-03-01
 * 10:00:00.1234567 +01:00", "2024-03-01T09:00:00Z", or without an offset: UTC), as
 * PostgreSQL prints it in UTC: "2024-03-01 09:00:00.123456+00", the fraction without
 * trailing zeros. Text that is no such timestamp is left as it is (lib/pull says why).
 */
static int normalize_tstz(kpid_buf *text)
{
    char local[64], out[40];
    size_t end;
    long off = 0;
    int64_t us;

    if (text->len < 19 || text->len >= 48)
        return 0;
    /* The local part: the date, the time and its fraction. */
    for (end = 19; end < text->len && (isdigit((unsigned char)text->data[end]) ||
                                       (end == 19 && text->data[end] == '.'));
         end++)
        ;
    size_t at = end;
    while (at < text->len && text->data[at] == ' ')
        at++;
    if (at < text->len && offset_secs(text->data + at, &off) < 0)
        return 0;
    snprintf(local, sizeof(local), "%.*s+00", (int)end, text->data);
    if (kpid_pull_time_parse(local, strlen(local), &us, NULL) < 0)
        return 0;
    us -= (int64_t)off * 1000000;
    int n = kpid_format_time(us, out);
    if (n < 0)
        return 0;
    /* "....123400+00" -> "....1234+00"; ".000000+00" -> "+00" */
    char *dot = strchr(out, '.');
    size_t keep = (size_t)n - 3;
    while (dot && keep > (size_t)(dot - out) && out[keep - 1] == '0')
        keep--;
    if (dot && keep == (size_t)(dot - out) + 1)
        keep--;
    text->len = 0;
    if (kpid_buf_append(text, out, keep) < 0 || kpid_buf_append(text, "+00", 4) < 0)
        return -ENOMEM;
    text->len--;
    return 0;
}

/* The value of column c from the n bytes at p (SQL_C_WCHAR or SQL_C_CHAR) into c->text,
 * NUL-terminated. */
static int convert(odbc_column *c, const char *p, size_t n)
{
    kpid_buf *t = &c->text;
    int r;

    t->len = 0;
    if (c->fetch == ODBC_FETCH_WIDE)
        r = odbc_utf8_from_wide(t, (const SQLWCHAR *)(const void *)p, n / sizeof(SQLWCHAR));
    else
        r = kpid_buf_append(t, p, strnlen(p, n));
    if (r == 0)
        r = kpid_buf_putc(t, '\0');
    if (r < 0)
        return r;
    t->len--;
    if (c->fetch == ODBC_FETCH_GUID)
        for (size_t i = 0; i < t->len; i++)
            t->data[i] = (char)tolower((unsigned char)t->data[i]);
    if (c->fetch == ODBC_FETCH_TSTZ)
        return normalize_tstz(t);
    return 0;
}

/* Reads column i of the current row with SQLGetData, in parts, into its text. Returns 0
 * (res->values[i] set: NULL for SQL NULL or a value too long), or a negative errno. */
static int get_data(odbc_source *s, odbc_query *pq, SQLHSTMT stmt, size_t i, kpid_buf *raw)
{
    odbc_column *c = &s->res.cols[i];
    size_t term = c->fetch == ODBC_FETCH_WIDE ? sizeof(SQLWCHAR) : 1, want = 1024;
    int r;

    raw->len = 0;
    s->res.values[i] = NULL;
    for (;;) {
        SQLLEN ind = 0;
        if ((r = kpid_buf_reserve(raw, want)) < 0)
            return r;
        size_t room = (raw->cap - raw->len) & ~(size_t)1;
        if ((r = odbc_watch_begin(s, stmt, s->cfg->statement_timeout_ms + ODBC_GRACE_MS)) < 0)
            return r;
        SQLRETURN rc = SQLGetData(stmt, (SQLUSMALLINT)(i + 1), c_type(c), raw->data + raw->len,
                                  (SQLLEN)room, &ind);
        odbc_watch_end(s);
        if (rc == SQL_NO_DATA)
            break; /* the last part came before */
        if (!SQL_SUCCEEDED(rc))
            return odbc_failed(s, pq->q, "fetch", SQL_HANDLE_STMT, stmt);
        if (ind == SQL_NULL_DATA)
            return 0;
        if (ind != SQL_NO_TOTAL && (size_t)ind <= room - term) {
            raw->len += (size_t)ind; /* the whole value, or its last part */
            break;
        }
        raw->len += room - term; /* a part: the buffer less the driver's terminator */
        if (raw->len > ODBC_VALUE_MAX) {
            s->res.overlong = (int)i;
            return 0;
        }
        want = ind != SQL_NO_TOTAL && (size_t)ind > room ? (size_t)ind + term : room * 2;
        if (want > ODBC_VALUE_MAX + 2 * term)
            want = ODBC_VALUE_MAX + 2 * term;
    }
    if ((r = kpid_buf_append(raw, "\0\0", 2)) < 0) /* a UTF-16 terminator */
        return r;
    if ((r = convert(c, raw->data, raw->len - 2)) < 0)
        return r;
    s->res.values[i] = c->text.data;
    return 0;
}

int odbc_result_next(odbc_source *s, odbc_query *pq, SQLHSTMT stmt)
{
    odbc_result *res = &s->res;
    int r;

    res->overlong = -1;
    res->truncated = false;
    while (res->next >= res->fetched) {
        if ((r = odbc_watch_begin(s, stmt, s->cfg->statement_timeout_ms + ODBC_GRACE_MS)) < 0)
            return r;
        SQLRETURN rc = SQLFetch(stmt);
        odbc_watch_end(s);
        if (rc == SQL_NO_DATA)
            return 0;
        if (!SQL_SUCCEEDED(rc))
            return odbc_failed(s, pq->q, "fetch", SQL_HANDLE_STMT, stmt);
        res->next = 0;
        if (res->fetched == 0)
            return 0;
    }
    SQLULEN row = res->next++;
    if (res->status[row] == SQL_ROW_ERROR)
        return odbc_failed(s, pq->q, "fetch", SQL_HANDLE_STMT, stmt);
    for (size_t i = 0; i < res->n; i++) {
        odbc_column *c = &res->cols[i];
        res->values[i] = NULL;
        if (c->fetch == ODBC_FETCH_SKIP)
            continue;
        if (pq->row_by_row) {
            if ((r = get_data(s, pq, stmt, i, &s->raw)) < 0)
                return r;
            continue;
        }
        SQLLEN ind = c->ind[row];
        size_t term = c->fetch == ODBC_FETCH_WIDE ? sizeof(SQLWCHAR) : 1;
        if (ind == SQL_NULL_DATA)
            continue;
        if (ind == SQL_NO_TOTAL || ind < 0 || (size_t)ind > (size_t)c->width - term) {
            res->truncated = true;
            return 1;
        }
        if ((r = convert(c, c->data + row * (size_t)c->width, (size_t)ind)) < 0)
            return r;
        res->values[i] = c->text.data;
    }
    return 1;
}
