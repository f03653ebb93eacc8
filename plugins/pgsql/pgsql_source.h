/*
 * The pgsql source: rows of a hospital information system's PostgreSQL database, read
 * by configured queries in (watermark, tiebreaker) order, a page at a time, each page one
 * READ ONLY transaction on the HIS and one batch (docs/his-sources.md). The queries, the
 * paging statements, the cycles of pages, the cursor, the conversion of rows and the
 * overlap's dedup set come from lib/pull (pull/reader.h), which the odbc plugin shares;
 * this plugin adds libpq.
 *
 *   pgsql.c  the plugin: configuration keys, init, poll, fini
 *   conn.c   the connection: connect (password file, application_name), statements
 *            with a deadline that a stop request cuts short, errors as one log line
 *   page.c   one page of one query: the transaction, its statement, its rows as a batch
 *
 * Thread ownership: everything here belongs to the source thread (init, poll, fini).
 */
#ifndef KPID_PGSQL_SOURCE_H
#define KPID_PGSQL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kpid/plugin.h>
#include <libpq-fe.h>

#include "pull/password.h"
#include "pull/reader.h"
#include "text/logtext.h"

/* The configuration, filled by the host from the key table in pgsql.c. */
struct pgsql_config {
    char *conninfo;
    char *password_file;
    int64_t page_size;
    int64_t statement_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t overlap_max_keys;
};

/* One query's statements and columns (where it is: the reader's track of it). */
typedef struct pgsql_query {
    const kpid_pull_query *q;
    kpid_pull_track *track;
    kpid_pull_stmt stmt[3]; /* by enum kpid_pull_from */
    kpid_pull_cols cols;
} pgsql_query;

typedef struct pgsql_source {
    const kpid_host *host;
    kpid_source *src;
    const struct pgsql_config *cfg;
    kpid_pull_spec *spec;
    kpid_pull_reader reader; /* the cycles, the cursor, pages as batches */
    pgsql_query *queries;    /* one per track of the reader */
    size_t n_queries;

    PGconn *conn;
    bool password_warned;
    const char **values; /* a row's values, one per result column */
    size_t cap_values;
} pgsql_source;

#define plog(s, level, ...) (s)->host->log((s)->src, (level), __VA_ARGS__)

/* ---- conn.c ---- */

/*
 * Connects to the HIS as cfg->conninfo says, with the password from password_file (its
 * first line) when one is configured, application_name "kpid" unless conninfo names
 * one, client_encoding UTF8, within connect_timeout. Logs a failure (one line, the
 * server's or libpq's message). Returns 0, -EACCES (refused: authentication, no such
 * database or role), -ETIMEDOUT or -EIO.
 */
int pgsql_connect(pgsql_source *s);

/* Closes the connection, if any. */
void pgsql_disconnect(pgsql_source *s);

/*
 * Runs one statement (extended protocol: one statement only, values as the n text
 * parameters) and waits for its result until the statement timeout and a grace period
 * have passed, or the source is asked to stop: then the statement is canceled, and
 * after the grace period the connection dropped. Returns the result (the caller
 * PQclear()s it; check its status), or NULL with *ret_err: -ECANCELED (asked to stop),
 * -ETIMEDOUT, -EIO (the connection is lost: it is closed), -ENOMEM.
 */
PGresult *pgsql_run(pgsql_source *s, const char *sql, int n, const char *const *params,
                    int *ret_err);

/*
 * Logs a failed statement of query q (NULL: of the source) as one line: what was
 * running, the SQLSTATE and the server's message (of data exceptions, without the
 * quoted values it may hold). Returns the errno poll() returns for it: -EIO when the
 * connection is gone (it is closed), -EINVAL for an error of the query.
 */
int pgsql_statement_failed(pgsql_source *s, const kpid_pull_query *q, const char *what,
                           PGresult *res);

/* ---- page.c ---- */

/*
 * Reads one page of pq and submits it as one batch with the cursor after it. Returns 1
 * when the page was full (the query has more pages in this cycle), 0 when it was not,
 * or a negative errno (logged): -ECANCELED when the source is asked to stop.
 */
int pgsql_page(pgsql_source *s, pgsql_query *pq);

#endif
