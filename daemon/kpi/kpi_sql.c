#include "kpi/kpi_sql.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warehouse/pg_record.h"
#include "warehouse/pgconn.h"

/* Type OIDs of pg_type.h (stable across PostgreSQL versions). */
#define BOOLOID 16
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define TEXTOID 25
#define JSONOID 114
#define FLOAT4OID 700
#define FLOAT8OID 701
#define UNKNOWNOID 705
#define VARCHAROID 1043
#define DATEOID 1082
#define TIMESTAMPOID 1114
#define TIMESTAMPTZOID 1184
#define INTERVALOID 1186
#define NUMERICOID 1700
#define JSONBOID 3802

/* The role sql KPIs run as, and the function that runs them (sql/009_sql_kpi_role.sql). */
#define SQL_ROLE "kpid_sql"
#define RUN_ROWS "SELECT kpid.sql_kpi_rows($1, $2, $3)"

/* The result's columns by role; -1 when absent. */
typedef struct columns {
    int value, numerator, denominator, n, stratum;
} columns;

/* The query's rows, each split into its columns' texts (NULL for NULL). */
typedef struct rows {
    int n_rows, n_cols;
    char **cells; /* n_rows * n_cols; owned */
} rows;

static void rows_clear(rows *t)
{
    for (int i = 0; t->cells && i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    *t = (rows){0};
}

/* The text of column col of row i, or NULL (SQL NULL, or no such column: col < 0). */
static const char *cell(const rows *t, int i, int col)
{
    return col < 0 ? NULL : t->cells[i * t->n_cols + col];
}

static int failf(char **ret_error, const kpid_kpi *kpi, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(char **ret_error, const kpid_kpi *kpi, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg || asprintf(ret_error, "%s: %s", kpi->id, msg) < 0)
        *ret_error = NULL;
    free(msg);
    return -EIO;
}

static const char *type_name(Oid type)
{
    static const struct {
        Oid oid;
        const char *name;
    } names[] = {
        {BOOLOID, "boolean"},
        {INT8OID, "bigint"},
        {INT2OID, "smallint"},
        {INT4OID, "integer"},
        {TEXTOID, "text"},
        {JSONOID, "json"},
        {FLOAT4OID, "real"},
        {FLOAT8OID, "double precision"},
        {UNKNOWNOID, "unknown"},
        {VARCHAROID, "varchar"},
        {DATEOID, "date"},
        {TIMESTAMPOID, "timestamp"},
        {TIMESTAMPTZOID, "timestamptz"},
        {INTERVALOID, "interval"},
        {NUMERICOID, "numeric"},
        {JSONBOID, "jsonb"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].oid == type)
            return names[i].name;
    return "of another type";
}

static bool is_number(Oid type)
{
    return type == INT2OID || type == INT4OID || type == INT8OID || type == FLOAT4OID ||
           type == FLOAT8OID || type == NUMERICOID;
}

/* Finds the columns by name (in the query's description) and checks their types. */
static int map_columns(const PGresult *desc, const kpid_kpi *kpi, columns *c, char **ret_error)
{
    static const char *const numbers[] = {"value", "numerator", "denominator", "n"};
    int *slots[] = {&c->value, &c->numerator, &c->denominator, &c->n};

    /* Quoted, so that PQfnumber matches the names exactly as PostgreSQL reports them. */
    c->value = PQfnumber(desc, "\"value\"");
    c->numerator = PQfnumber(desc, "\"numerator\"");
    c->denominator = PQfnumber(desc, "\"denominator\"");
    c->n = PQfnumber(desc, "\"n\"");
    c->stratum = PQfnumber(desc, "\"stratum\"");
    if (c->value < 0)
        return failf(ret_error, kpi, "the query returns no column \"value\"");
    for (int i = 0; i < PQnfields(desc); i++)
        for (int j = i + 1; j < PQnfields(desc); j++)
            if (strcmp(PQfname(desc, i), PQfname(desc, j)) == 0 &&
                (i == c->value || i == c->numerator || i == c->denominator || i == c->n ||
                 i == c->stratum))
                return failf(ret_error, kpi, "the query returns column \"%s\" twice",
                             PQfname(desc, i));
    for (size_t i = 0; i < 4; i++) {
        Oid t = *slots[i] >= 0 ? PQftype(desc, *slots[i]) : 0;
        if (*slots[i] >= 0 && !is_number(t))
            return failf(ret_error, kpi, "column \"%s\" is %s, not a number", numbers[i],
                         type_name(t));
    }
    if (c->stratum >= 0 && PQftype(desc, c->stratum) != JSONBOID &&
        PQftype(desc, c->stratum) != JSONOID)
        return failf(ret_error, kpi, "column \"stratum\" is %s, not jsonb",
                     type_name(PQftype(desc, c->stratum)));
    return 0;
}

/* A finite number in the text of column col of row, or NULL. */
static int check_number(const rows *t, const PGresult *desc, int row, int col, bool integer,
                        const kpid_kpi *kpi, char **ret_error)
{
    const char *text = cell(t, row, col);
    char *end;

    if (!text)
        return 0;
    errno = 0;
    if (integer)
        (void)strtoll(text, &end, 10);
    else if (!isfinite(strtod(text, &end)))
        errno = ERANGE;
    if (errno != 0 || end == text || *end != '\0')
        return failf(ret_error, kpi, "row %d: column \"%s\" is %s, not a finite %s", row + 1,
                     PQfname(desc, col), text, integer ? "integer" : "number");
    return 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Checks every row: numbers are finite, n is an integer, the stratum is a JSON object
 * and no two rows have the same stratum (compared as canonical JSON: sorted keys).
 */
static int check_rows(const rows *t, const PGresult *desc, const columns *c, const kpid_kpi *kpi,
                      char **ret_error)
{
    int n = t->n_rows, r = 0;
    char **canon = calloc((size_t)n + 1, sizeof(*canon));

    if (!canon)
        return failf(ret_error, kpi, "out of memory");
    for (int i = 0; i < n && r == 0; i++) {
        const char *text = cell(t, i, c->stratum);
        json_t *stratum;
        json_error_t err;

        if ((r = check_number(t, desc, i, c->value, false, kpi, ret_error)) < 0 ||
            (r = check_number(t, desc, i, c->numerator, false, kpi, ret_error)) < 0 ||
            (r = check_number(t, desc, i, c->denominator, false, kpi, ret_error)) < 0 ||
            (r = check_number(t, desc, i, c->n, true, kpi, ret_error)) < 0)
            break;
        stratum = text ? json_loads(text, JSON_DECODE_ANY, &err) : json_object();
        if (!json_is_object(stratum))
            r = failf(ret_error, kpi, "row %d: \"stratum\" is %s, not a JSON object", i + 1, text);
        else if (!(canon[i] = json_dumps(stratum, JSON_COMPACT | JSON_SORT_KEYS)))
            r = failf(ret_error, kpi, "out of memory");
        json_decref(stratum);
    }
    if (r == 0) {
        qsort(canon, (size_t)n, sizeof(*canon), compare_strings);
        for (int i = 1; i < n && r == 0; i++)
            if (strcmp(canon[i - 1], canon[i]) == 0)
                r = failf(ret_error, kpi, "the query returns stratum %s more than once", canon[i]);
    }
    for (int i = 0; i < n; i++)
        free(canon[i]);
    free(canon);
    return r;
}

/*
 * True when the statement's first keyword ends a transaction (COMMIT, END, ROLLBACK,
 * ABORT), past white space and comments. Such a statement is never run: the
 * transaction is not the query's to end. Only for the message; what the statement may
 * do is PostgreSQL's to refuse, inside kpid.sql_kpi_rows.
 */
static bool ends_transaction(const char *q)
{
    static const char *const words[] = {"commit", "end", "rollback", "abort"};
    char word[16];
    size_t n = 0;

    for (;;) {
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f')
            q++;
        if (q[0] == '-' && q[1] == '-')
            q += strcspn(q, "\n");
        else if (q[0] == '/' && q[1] == '*') { /* comments nest */
            int depth = 1;
            for (q += 2; *q && depth > 0;) {
                if (q[0] == '/' && q[1] == '*')
                    depth++;
                else if (q[0] == '*' && q[1] == '/')
                    depth--;
                else {
                    q++;
                    continue;
                }
                q += 2;
            }
        } else
            break;
    }
    while (n + 1 < sizeof(word) && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
        word[n++] = (char)(*q++ | 0x20);
    word[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(word, words[i]) == 0)
            return true;
    return false;
}

/* Opens sql's connection unless it is open. */
static int open_conn(kpid_sql_conn *sql, const kpid_kpi *kpi, char **ret_error)
{
    char *error = NULL;
    PGconn *conn = NULL;
    int r;

    if (sql->conn)
        return 0;
    if (kpid_pg_open(sql->warehouse, &conn, &error) < 0) {
        r = failf(ret_error, kpi, "cannot connect for sql KPIs: %s",
                  error ? error : "out of memory");
        free(error);
        return r;
    }
    /* A query whose connection a stop shut down should end in the server too, not run on
     * to its timeout: PostgreSQL 14 and later check for a vanished client while a query
     * runs (as the scheduler's connections do). Older servers refuse it, which is fine. */
    PQclear(PQexec(conn, "SET client_connection_check_interval = '5s'"));
    if (sql->publish && !sql->publish(sql->arg, PQsocket(conn))) {
        PQfinish(conn);
        return failf(ret_error, kpi, "not evaluated: kpid is stopping");
    }
    sql->conn = conn;
    return 0;
}

void kpid_sql_conn_close(kpid_sql_conn *sql)
{
    if (!sql || !sql->conn)
        return;
    if (sql->publish)
        sql->publish(sql->arg, -1);
    PQfinish(sql->conn);
    sql->conn = NULL;
}

/*
 * Fails unless sql KPIs can run as SQL_ROLE: the first of kpid.sql_kpi_role_problems,
 * with its remedy. Inside the transaction, before anything of the query runs.
 */
static int check_role(PGconn *conn, const kpid_kpi *kpi, char **ret_error)
{
    PGresult *res = NULL;
    int r;

    if ((r = kpid_pg_query(conn,
                           "SELECT problem, remedy FROM kpid.sql_kpi_role_problems()"
                           " LIMIT 1",
                           0, NULL, &res, kpi->id, ret_error)) < 0)
        return r;
    if (PQntuples(res) == 1)
        r = failf(ret_error, kpi, "role " SQL_ROLE " %s: sql KPIs are not evaluated; %s",
                  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);
    return r;
}

/* Fails when the session holds advisory locks: the query took them. */
static int check_locks(PGconn *conn, const kpid_kpi *kpi, char **ret_error)
{
    PGresult *res = NULL;
    int r;

    if ((r = kpid_pg_query(conn,
                           "SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory'"
                           " AND pid = pg_catalog.pg_backend_pid()",
                           0, NULL, &res, kpi->id, ret_error)) < 0)
        return r;
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        r = failf(ret_error, kpi, "the query took advisory locks (%s): sql KPIs may not lock",
                  PQgetvalue(res, 0, 0));
    PQclear(res);
    return r;
}

/* Splits the function's result (one record text per row) into t. */
static int split_rows(const PGresult *res, int n_cols, const kpid_kpi *kpi, rows *t,
                      char **ret_error)
{
    int n = PQntuples(res);

    t->cells = calloc((size_t)n * (size_t)n_cols + 1, sizeof(*t->cells));
    if (!t->cells)
        return failf(ret_error, kpi, "out of memory");
    t->n_cols = n_cols;
    for (int i = 0; i < n; i++) {
        int r = kpid_pg_record_split(PQgetvalue(res, i, 0), n_cols,
                                     t->cells + (size_t)i * (size_t)n_cols);
        if (r == -ENOMEM)
            return failf(ret_error, kpi, "out of memory");
        if (r < 0)
            return failf(ret_error, kpi, "row %d does not match the query's %d columns", i + 1,
                         n_cols);
        t->n_rows++;
    }
    return 0;
}

/*
 * Resets the session after the rollback: what DISCARD ALL does, except RESET ALL and SET
 * SESSION AUTHORIZATION DEFAULT. The rollback has already undone every setting the
 * query made (set_config, SET LOCAL and SET alike: settings are transactional), and
 * resetting the rest would also undo the settings kpid made at connect. What outlives a
 * rollback goes here: cursors, prepared statements, LISTENs, session advisory locks,
 * temporary objects, sequence state, cached plans.
 */
static int reset_session(PGconn *conn)
{
    return kpid_pg_exec(conn,
                        "CLOSE ALL; DEALLOCATE ALL; UNLISTEN *;"
                        " SELECT pg_catalog.pg_advisory_unlock_all();"
                        " DISCARD PLANS; DISCARD SEQUENCES; DISCARD TEMP",
                        NULL, NULL);
}

/*
 * Runs the query as SQL_ROLE on sql's connection, as kpi_sql.h says, and checks its
 * columns. Returns 0 with *ret_desc (its description; the caller PQclear's it), *ret_c
 * and *ret_rows (the caller clears them).
 */
static int run_query(kpid_sql_conn *sql, const kpid_kpi *kpi, const char *start, const char *end,
                     PGresult **ret_desc, columns *ret_c, rows *ret_rows, char **ret_error)
{
    const Oid types[] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
    const char *run[] = {kpi->u.sql.query, start, end};
    char timeout[32];
    const char *tp[] = {timeout};
    PGresult *desc = NULL, *res = NULL;
    PGconn *conn;
    columns c = {-1, -1, -1, -1, -1};
    rows t = {0};
    int r;

    if ((r = open_conn(sql, kpi, ret_error)) < 0)
        return r;
    conn = sql->conn;
    snprintf(timeout, sizeof(timeout), "%" PRId64, kpi->u.sql.timeout_ms);
    /* The timeout is set by a query, so that the transaction's read-only mode can no
     * longer be changed: "SET transaction_read_only" must come before any query. */
    if ((r = kpid_pg_query(conn, "BEGIN READ ONLY", 0, NULL, NULL, kpi->id, ret_error)) < 0)
        goto out;
    if ((r = check_role(conn, kpi, ret_error)) < 0 ||
        (r = kpid_pg_query(conn, "SELECT pg_catalog.set_config('statement_timeout', $1, true)", 1,
                           tp, NULL, kpi->id, ret_error)) < 0 ||
        (r = kpid_pg_query(conn, "SET LOCAL ROLE " SQL_ROLE, 0, NULL, NULL, kpi->id, ret_error)) <
            0)
        goto out;
    /* Prepared, not run: the extended protocol takes exactly one statement ("...; COMMIT;
     * DELETE" fails here), and its description names and types the columns. */
    res = PQprepare(conn, "", kpi->u.sql.query, 2, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        r = failf(ret_error, kpi, "%s", kpid_pg_error_line(conn, res));
        goto out;
    }
    PQclear(res);
    res = NULL;
    desc = PQdescribePrepared(conn, "");
    if (PQresultStatus(desc) != PGRES_COMMAND_OK) {
        r = failf(ret_error, kpi, "%s", kpid_pg_error_line(conn, desc));
        goto out;
    }
    if (PQnfields(desc) == 0 && ends_transaction(kpi->u.sql.query)) {
        r = failf(ret_error, kpi, "the query ended its read-only transaction");
        goto out;
    }
    if (PQnfields(desc) > 0 && (r = map_columns(desc, kpi, &c, ret_error)) < 0)
        goto out;
    res = PQexecParams(conn, RUN_ROWS, 3, NULL, run, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        r = failf(ret_error, kpi, "%s", kpid_pg_error_line(conn, res));
        goto out;
    }
    if ((r = check_locks(conn, kpi, ret_error)) < 0)
        goto out;
    if (PQnfields(desc) == 0) {
        /* A command (the function's single NULL), or a query without columns. */
        if (PQntuples(res) == 1 && PQgetisnull(res, 0, 0))
            r = failf(ret_error, kpi, "the query returns no rows: it must be a SELECT");
        else
            r = map_columns(desc, kpi, &c, ret_error);
        goto out;
    }
    r = split_rows(res, PQnfields(desc), kpi, &t, ret_error);
out:
    PQclear(res);
    /* Always rolled back; a connection that cannot be reset is not used again. */
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE ||
        reset_session(conn) < 0)
        kpid_sql_conn_close(sql);
    if (r < 0) {
        PQclear(desc);
        rows_clear(&t);
        return r;
    }
    *ret_desc = desc;
    *ret_c = c;
    *ret_rows = t;
    return 0;
}

/* Replaces the period's values with the rows of t, in one transaction. */
static int write_rows(PGconn *conn, const kpid_kpi *kpi, const char *start, const char *end,
                      bool partial, const rows *t, const columns *c, int *ret_written,
                      char **ret_error)
{
    static const char insert[] =
        "INSERT INTO kpid.kpi_value (kpi_id, period_start, period_end, stratum, value,"
        " numerator, denominator, n, status, partial, version_hash)"
        " SELECT k.id, $2, $3, $4::jsonb, $5::float8, $6::float8, $7::float8, $8::bigint,"
        " kpid.kpi_status($5::float8, k.bands, k.target, k.direction), $9::boolean,"
        " k.version_hash FROM kpid.kpi k WHERE k.id = $1";
    const Oid types[] = {0, TIMESTAMPTZOID, TIMESTAMPTZOID, 0, 0, 0, 0, 0, 0};
    const char *del[] = {kpi->id, start};
    int written = 0, r;

    if ((r = kpid_pg_query(conn, "BEGIN", 0, NULL, NULL, kpi->id, ret_error)) < 0)
        return r;
    r = kpid_pg_query(conn, "DELETE FROM kpid.kpi_value WHERE kpi_id = $1 AND period_start = $2", 2,
                      del, NULL, kpi->id, ret_error);
    for (int i = 0; i < t->n_rows && r == 0; i++) {
        const char *stratum = cell(t, i, c->stratum);
        const char *p[] = {kpi->id,
                           start,
                           end,
                           stratum ? stratum : "{}",
                           cell(t, i, c->value),
                           cell(t, i, c->numerator),
                           cell(t, i, c->denominator),
                           cell(t, i, c->n),
                           partial ? "true" : "false"};
        PGresult *ins = PQexecParams(conn, insert, 9, types, p, NULL, NULL, 0);
        if (PQresultStatus(ins) == PGRES_COMMAND_OK)
            written += (int)kpid_pg_cmd_rows(ins);
        else
            r = failf(ret_error, kpi, "%s", kpid_pg_error_line(conn, ins));
        PQclear(ins);
    }
    if (r == 0 && (r = kpid_pg_query(conn, "COMMIT", 0, NULL, NULL, kpi->id, ret_error)) == 0) {
        *ret_written = written;
        return 0;
    }
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    return r;
}

int kpid_kpi_sql_evaluate(PGconn *conn, kpid_sql_conn *sql, const kpid_kpi *kpi, const char *start,
                          const char *end, bool partial, int *ret_written, char **ret_error)
{
    PGresult *desc = NULL;
    columns c;
    rows t = {0};
    int r;

    *ret_error = NULL;
    if (!sql)
        return failf(ret_error, kpi, "no connection for sql KPIs");
    if ((r = run_query(sql, kpi, start, end, &desc, &c, &t, ret_error)) < 0)
        return r;
    if ((r = check_rows(&t, desc, &c, kpi, ret_error)) == 0)
        r = write_rows(conn, kpi, start, end, partial, &t, &c, ret_written, ret_error);
    PQclear(desc);
    rows_clear(&t);
    return r;
}
