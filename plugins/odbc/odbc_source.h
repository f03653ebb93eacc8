/*
 * The odbc source: rows of a hospital information system's database (SQL Server,
 * Oracle, MySQL, PostgreSQL, ...) read through its ODBC driver (unixODBC) by configured
 * queries in (watermark, tiebreaker) order, a page at a time, each page one transaction
 * on the HIS and one batch (docs/his-sources.md). The queries, the paging statements
 * (in the portable OR form), the cycles of pages, the cursor, the conversion of rows and
 * the overlap's dedup set come from lib/pull (pull/reader.h), which the pgsql plugin
 * shares; this plugin adds ODBC.
 *
 *   odbc.c   the plugin: configuration keys, init, poll, fini
 *   conn.c   the connection: the connection string (password_file adds PWD), connect,
 *            what the DBMS is (its paging clause, whether PostgreSQL), diagnostics as
 *            one log line
 *   watch.c  the watchdog thread: cancels a statement when the source is asked to stop
 *            or when it runs past statement_timeout and a grace period
 *   page.c   one page of one query: the transaction, its prepared statement and bound
 *            parameters, its rows as a batch
 *   fetch.c  a result's columns (types as lib/pull knows them) and its rows as text:
 *            block fetches into column-wise bound arrays, or row by row with SQLGetData
 *            once a value did not fit
 *   wide.c   UTF-8 to UTF-16 (SQLWCHAR) and back: text crosses the driver as UTF-16
 *
 * Thread ownership: everything here belongs to the source thread (init, poll, fini),
 * except the watchdog's fields (odbc_watch), guarded by its lock and shared with the
 * watchdog thread and request_stop().
 */
#ifndef KPID_ODBC_SOURCE_H
#define KPID_ODBC_SOURCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kpid/plugin.h>
#include <sql.h>
#include <sqlext.h>

#include "buf/buf.h"
#include "pull/password.h"
#include "pull/reader.h"
#include "text/logtext.h"

/* The configuration, filled by the host from the key table in odbc.c. */
struct odbc_config {
    char *conninfo;
    char *password_file;
    int64_t page_size;
    int64_t statement_timeout_ms;
    int64_t login_timeout_ms;
    int64_t overlap_max_keys;
};

/* How a result column's values are read. */
enum odbc_fetch {
    ODBC_FETCH_SKIP = 0, /* the query does not use the column: never read */
    ODBC_FETCH_WIDE,     /* SQL_C_WCHAR, turned into UTF-8: character data */
    ODBC_FETCH_NARROW,   /* SQL_C_CHAR: numbers, booleans, dates (ASCII) */
    ODBC_FETCH_TSTZ,     /* SQL_C_CHAR, a timestamp with a time zone: written in UTC */
    ODBC_FETCH_GUID,     /* SQL_C_CHAR, a GUID: in lowercase, as PostgreSQL prints uuid */
};

/* One result column. */
typedef struct odbc_column {
    char *name; /* UTF-8 */
    SQLSMALLINT sql_type;
    SQLULEN size;
    enum kpid_pull_coltype type;
    enum odbc_fetch fetch;
    char *data;    /* a block: rowset values of width bytes each; NULL row by row */
    SQLLEN *ind;   /* and their indicators */
    SQLLEN width;  /* bytes of one value's buffer, its terminator included */
    kpid_buf text; /* the current row's value: UTF-8, NUL-terminated */
} odbc_column;

/* The open result of a page's statement. */
typedef struct odbc_result {
    odbc_column *cols;
    size_t n, cap;
    const char **values;  /* the current row: one per column, NULL for SQL NULL or unread */
    SQLULEN rowset;       /* rows per block fetch; 1 row by row (SQLGetData) */
    SQLULEN fetched;      /* rows of the current block */
    SQLULEN next;         /* the next row of it to hand out */
    SQLUSMALLINT *status; /* the block's row status array */
    int overlong;         /* a column of the current row longer than a value may be, or -1 */
    bool truncated;       /* a value of the current row did not fit its block buffer */
} odbc_result;

/* One query's statements and columns (where it is: the reader's track of it). */
typedef struct odbc_query {
    const kpid_pull_query *q;
    kpid_pull_track *track;
    kpid_pull_stmt stmt[3]; /* by enum kpid_pull_from, built for the connection's DBMS */
    SQLHSTMT hstmt[3];      /* prepared on the connection, or NULL */
    kpid_pull_cols cols;
    bool row_by_row; /* a value did not fit a block: read with SQLGetData since */
} odbc_query;

/*
 * The watchdog: the statement the source thread is waiting for, and until when. The
 * watchdog thread cancels it (SQLCancel, which ODBC allows from another thread) when
 * the source is asked to stop or the deadline passes. All fields are guarded by lock.
 */
typedef struct odbc_watch {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool started;   /* the thread runs (joined in fini) */
    bool quit;      /* fini: the thread ends */
    bool stopping;  /* request_stop() was called */
    SQLHSTMT busy;  /* the statement executing or fetching, or NULL */
    uint64_t gen;   /* counts the waits (odbc_watch_begin) */
    int64_t until;  /* its deadline (kpid_now_us), 0: none */
    bool canceling; /* SQLCancel(busy) is under way (without the lock) */
    bool canceled;  /* busy was canceled for its deadline */
} odbc_watch;

typedef struct odbc_source {
    const kpid_host *host;
    kpid_source *src;
    const struct odbc_config *cfg;
    kpid_pull_spec *spec;
    kpid_pull_reader reader; /* the cycles, the cursor, pages as batches */
    odbc_query *queries;     /* one per track of the reader */
    size_t n_queries;

    SQLHENV env;
    SQLHDBC dbc;                /* connected, or NULL */
    SQLHSTMT misc;              /* SET TRANSACTION and the session settings of PostgreSQL */
    bool postgres;              /* the DBMS is PostgreSQL: SET TRANSACTION READ ONLY, UTC */
    bool mysql;                 /* MySQL or MariaDB: a READ ONLY, ANSI_QUOTES session in UTC */
    bool transactions;          /* the driver has transactions: autocommit is off */
    bool reprepare;             /* a rollback deletes prepared statements (SQL_CB_DELETE) */
    enum kpid_pull_limit limit; /* how a page's statement says page_size */
    bool password_warned;

    odbc_result res;
    kpid_buf wide; /* UTF-16 of a statement or a parameter */
    kpid_buf raw;  /* a value read with SQLGetData */
    odbc_watch watch;
    bool timed_out; /* the last wait was canceled for its deadline (odbc_watch_end) */
} odbc_source;

#define plog(s, level, ...) (s)->host->log((s)->src, (level), __VA_ARGS__)

/* An integer attribute value: ODBC passes it in the pointer argument of
 * SQLSetEnvAttr, SQLSetConnectAttr and SQLSetStmtAttr. */
static inline SQLPOINTER odbc_attr(SQLULEN value)
{
    return (SQLPOINTER)(uintptr_t)value; /* NOLINT(performance-no-int-to-ptr) */
}

/* ---- conn.c ---- */

/*
 * Connects to the HIS with cfg->conninfo, and PWD from password_file (its first line)
 * when one is configured, within login_timeout; learns what the DBMS is, sets autocommit
 * off and the access mode read-only (where the driver knows them), and builds every
 * query's paging statements for it. Logs a failure (one line: SQLSTATE and the driver's
 * message, never the connection string). The plugin's sources connect one at a time
 * (conn.c says why). Returns 0, -EACCES (refused: 28xxx), -EIO, -ENOMEM, or -ECANCELED
 * when the source is asked to stop while it waits for its turn.
 */
int odbc_connect(odbc_source *s);

/* Frees the statements and closes the connection, if any. */
void odbc_disconnect(odbc_source *s);

/*
 * Runs sql on the connection's misc statement, with one text parameter param (or none),
 * within statement_timeout and a grace period; its rows are discarded. what names it in
 * messages, q the query it is for (NULL: the source). Returns 0 or a negative errno
 * from odbc_failed (logged).
 */
int odbc_run(odbc_source *s, const kpid_pull_query *q, const char *sql, const char *what,
             const char *param);

/*
 * Whether conninfo holds a password (a PWD or Password key), which belongs in
 * password_file. Returns 1, 0, or -EINVAL when it is not a connection string of
 * key=value pairs (braces closed).
 */
int odbc_conninfo_has_password(const char *conninfo);

/*
 * Logs that the statement `what` of query q (NULL: of the source) failed on handle h of
 * type type, as one line: the first diagnostic record's SQLSTATE and message (of data
 * exceptions and integrity violations without what they quote, which may be patient
 * data). Returns the errno poll() returns for it: -ECANCELED when the source is asked to
 * stop (not logged), -EIO when the connection is lost (08xxx, 57P0x, or the driver says
 * it is dead: it is closed, and the next poll connects again), -ETIMEDOUT when the
 * watchdog canceled it, -EINVAL for an error of the query.
 */
int odbc_failed(odbc_source *s, const kpid_pull_query *q, const char *what, SQLSMALLINT type,
                SQLHANDLE h);

/* ---- watch.c ---- */

/* Starts the watchdog thread. Returns 0 or a negative errno. */
int odbc_watch_start(odbc_source *s);

/* Ends and joins the watchdog thread, if it runs, and frees its lock. */
void odbc_watch_stop(odbc_source *s);

/* Asks the watchdog to cancel what runs now and whatever is started later. Any thread;
 * never blocks for long. */
void odbc_watch_request_stop(odbc_source *s);

/*
 * Says that the source thread is about to wait for stmt, at most timeout_ms (0: no
 * deadline). Returns 0, or -ECANCELED when the source was asked to stop (then stmt is
 * not to be run).
 */
int odbc_watch_begin(odbc_source *s, SQLHSTMT stmt, int64_t timeout_ms);

/* Says that the wait is over; waits for a cancel under way to return. Sets s->timed_out
 * when the watchdog canceled the statement for its deadline. */
void odbc_watch_end(odbc_source *s);

/* Whether request_stop() was called. */
bool odbc_watch_stopping(odbc_source *s);

/* ---- fetch.c ---- */

/*
 * Describes the n result columns of stmt (names, SQL types and type names) into
 * s->res, as lib/pull's column types, and resolves q's columns among them into *cols.
 * Returns 0; -EINVAL (logged: the query's result lacks a column, or one is of a wrong
 * type); -EIO etc. from odbc_failed; -ENOMEM.
 */
int odbc_result_describe(odbc_source *s, odbc_query *pq, SQLHSTMT stmt);

/*
 * Readies reading the columns pq uses, at most max_rows rows: in blocks of column-wise
 * bound arrays, or row by row when pq->row_by_row. Returns 0 or a negative errno.
 */
int odbc_result_bind(odbc_source *s, odbc_query *pq, SQLHSTMT stmt, int64_t max_rows);

/*
 * Moves to the next row: s->res.values holds its text. Returns 1, 0 when there is none,
 * or a negative errno (logged). After 1, res.truncated says that a value of the row did
 * not fit its block buffer (the row is not to be used: its query reads row by row from
 * then on), and res.overlong >= 0 that a column's value is longer than
 * ODBC_VALUE_MAX bytes (its value is NULL).
 */
int odbc_result_next(odbc_source *s, odbc_query *pq, SQLHSTMT stmt);

/* Closes the cursor of stmt and unbinds its columns. */
void odbc_result_close(odbc_source *s, SQLHSTMT stmt);

/* Frees what s->res holds. */
void odbc_result_free(odbc_result *res);

/* ---- page.c ---- */

/*
 * Reads one page of pq and submits it as one batch with the cursor after it. Returns 1
 * when the page was full (the query has more pages in this cycle), 0 when it was not,
 * or a negative errno (logged): -ECANCELED when the source is asked to stop.
 */
int odbc_page(odbc_source *s, odbc_query *pq);

#define ODBC_VALUE_MAX (1 << 20) /* bytes of one value read row by row */
#define ODBC_GRACE_MS 10000      /* past statement_timeout: then the watchdog cancels */

#endif
