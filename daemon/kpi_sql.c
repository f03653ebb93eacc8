#include "kpi_sql.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"

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

/* The result's columns by role; -1 when absent. */
typedef struct columns {
    int value, numerator, denominator, n, stratum;
} columns;

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
        {BOOLOID, "boolean"},   {INT8OID, "bigint"},          {INT2OID, "smallint"},
        {INT4OID, "integer"},   {TEXTOID, "text"},            {JSONOID, "json"},
        {FLOAT4OID, "real"},    {FLOAT8OID, "double precision"}, {UNKNOWNOID, "unknown"},
        {VARCHAROID, "varchar"}, {DATEOID, "date"},           {TIMESTAMPOID, "timestamp"},
        {TIMESTAMPTZOID, "timestamptz"}, {INTERVALOID, "interval"}, {NUMERICOID, "numeric"},
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

/* Finds the columns by name and checks their types. */
static int map_columns(const PGresult *res, const kpid_kpi *kpi, columns *c, char **ret_error)
{
    static const char *const numbers[] = {"value", "numerator", "denominator", "n"};
    int *slots[] = {&c->value, &c->numerator, &c->denominator, &c->n};

    /* Quoted, so that PQfnumber matches the names exactly as PostgreSQL reports them. */
    c->value = PQfnumber(res, "\"value\"");
    c->numerator = PQfnumber(res, "\"numerator\"");
    c->denominator = PQfnumber(res, "\"denominator\"");
    c->n = PQfnumber(res, "\"n\"");
    c->stratum = PQfnumber(res, "\"stratum\"");
    if (c->value < 0)
        return failf(ret_error, kpi, "the query returns no column \"value\"");
    for (int i = 0; i < PQnfields(res); i++)
        for (int j = i + 1; j < PQnfields(res); j++)
            if (strcmp(PQfname(res, i), PQfname(res, j)) == 0 &&
                (i == c->value || i == c->numerator || i == c->denominator || i == c->n ||
                 i == c->stratum))
                return failf(ret_error, kpi, "the query returns column \"%s\" twice",
                             PQfname(res, i));
    for (size_t i = 0; i < 4; i++) {
        Oid t = *slots[i] >= 0 ? PQftype(res, *slots[i]) : 0;
        if (*slots[i] >= 0 && !is_number(t))
            return failf(ret_error, kpi, "column \"%s\" is %s, not a number", numbers[i],
                         type_name(t));
    }
    if (c->stratum >= 0 && PQftype(res, c->stratum) != JSONBOID &&
        PQftype(res, c->stratum) != JSONOID)
        return failf(ret_error, kpi, "column \"stratum\" is %s, not jsonb",
                     type_name(PQftype(res, c->stratum)));
    return 0;
}

/* A finite number in the text of column col of row, or NULL. */
static int check_number(const PGresult *res, int row, int col, bool integer,
                        const kpid_kpi *kpi, char **ret_error)
{
    const char *text;
    char *end;

    if (col < 0 || PQgetisnull(res, row, col))
        return 0;
    text = PQgetvalue(res, row, col);
    errno = 0;
    if (integer)
        (void)strtoll(text, &end, 10);
    else if (!isfinite(strtod(text, &end)))
        errno = ERANGE;
    if (errno != 0 || end == text || *end != '\0')
        return failf(ret_error, kpi, "row %d: column \"%s\" is %s, not a finite %s", row + 1,
                     PQfname(res, col), text, integer ? "integer" : "number");
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
static int check_rows(const PGresult *res, const columns *c, const kpid_kpi *kpi,
                      char **ret_error)
{
    int rows = PQntuples(res), r = 0;
    char **canon = calloc((size_t)rows + 1, sizeof(*canon));

    if (!canon)
        return failf(ret_error, kpi, "out of memory");
    for (int i = 0; i < rows && r == 0; i++) {
        json_t *stratum = NULL;
        json_error_t err;

        if ((r = check_number(res, i, c->value, false, kpi, ret_error)) < 0 ||
            (r = check_number(res, i, c->numerator, false, kpi, ret_error)) < 0 ||
            (r = check_number(res, i, c->denominator, false, kpi, ret_error)) < 0 ||
            (r = check_number(res, i, c->n, true, kpi, ret_error)) < 0)
            break;
        if (c->stratum >= 0 && !PQgetisnull(res, i, c->stratum))
            stratum = json_loads(PQgetvalue(res, i, c->stratum), JSON_DECODE_ANY, &err);
        else
            stratum = json_object();
        if (!json_is_object(stratum))
            r = failf(ret_error, kpi, "row %d: \"stratum\" is %s, not a JSON object", i + 1,
                      PQgetvalue(res, i, c->stratum));
        else if (!(canon[i] = json_dumps(stratum, JSON_COMPACT | JSON_SORT_KEYS)))
            r = failf(ret_error, kpi, "out of memory");
        json_decref(stratum);
    }
    if (r == 0) {
        qsort(canon, (size_t)rows, sizeof(*canon), compare_strings);
        for (int i = 1; i < rows && r == 0; i++)
            if (strcmp(canon[i - 1], canon[i]) == 0)
                r = failf(ret_error, kpi, "the query returns stratum %s more than once",
                          canon[i]);
    }
    for (int i = 0; i < rows; i++)
        free(canon[i]);
    free(canon);
    return r;
}

/*
 * Runs the query in a READ ONLY transaction under its statement_timeout and rolls the
 * transaction back: reading needs no commit, and whatever the query changed in the
 * session (a SET) goes with it. Returns 0 and *ret_res (the caller PQclear's it).
 */
static int run_query(PGconn *conn, const kpid_kpi *kpi, const char *start, const char *end,
                     PGresult **ret_res, char **ret_error)
{
    const Oid types[] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
    const char *params[] = {start, end};
    char timeout[32];
    const char *tp[] = {timeout};
    PGresult *res = NULL;
    int r;

    snprintf(timeout, sizeof(timeout), "%" PRId64, kpi->u.sql.timeout_ms);
    /* The timeout is set by a query, so that the transaction's read-only mode can no
     * longer be changed: "SET transaction_read_only" must come before any query. */
    if ((r = kpid_pg_query(conn, "BEGIN READ ONLY", 0, NULL, NULL, kpi->id, ret_error)) < 0)
        return r;
    if ((r = kpid_pg_query(conn, "SELECT set_config('statement_timeout', $1, true)", 1, tp,
                           NULL, kpi->id, ret_error)) < 0)
        goto rollback;
    /* The extended protocol runs exactly one statement: "...; COMMIT; DELETE" fails. */
    res = PQexecParams(conn, kpi->u.sql.query, 2, types, params, NULL, NULL, 0);
    if (PQtransactionStatus(conn) == PQTRANS_IDLE) /* a COMMIT or ROLLBACK of its own */
        r = failf(ret_error, kpi, "the query ended its read-only transaction");
    else if (PQresultStatus(res) == PGRES_COMMAND_OK)
        r = failf(ret_error, kpi, "the query returns no rows: it must be a SELECT");
    else if (PQresultStatus(res) != PGRES_TUPLES_OK)
        r = failf(ret_error, kpi, "%s", kpid_pg_error_line(conn, res));
rollback:
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    if (r < 0)
        PQclear(res);
    else
        *ret_res = res;
    return r;
}

/* Replaces the period's values with the rows of res, in one transaction. */
static int write_rows(PGconn *conn, const kpid_kpi *kpi, const char *start, const char *end,
                      bool partial, const PGresult *res, const columns *c, int *ret_written,
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

#define CELL(col) ((col) < 0 || PQgetisnull(res, i, (col)) ? NULL : PQgetvalue(res, i, (col)))
    if ((r = kpid_pg_query(conn, "BEGIN", 0, NULL, NULL, kpi->id, ret_error)) < 0)
        return r;
    r = kpid_pg_query(conn, "DELETE FROM kpid.kpi_value WHERE kpi_id = $1 AND period_start = $2",
                      2, del, NULL, kpi->id, ret_error);
    for (int i = 0; i < PQntuples(res) && r == 0; i++) {
        const char *stratum = CELL(c->stratum);
        const char *p[] = {kpi->id,        start,          end,
                           stratum ? stratum : "{}",       CELL(c->value),
                           CELL(c->numerator), CELL(c->denominator), CELL(c->n),
                           partial ? "true" : "false"};
        PGresult *ins = PQexecParams(conn, insert, 9, types, p, NULL, NULL, 0);
        if (PQresultStatus(ins) == PGRES_COMMAND_OK)
            written += atoi(PQcmdTuples(ins));
        else
            r = failf(ret_error, kpi, "%s", kpid_pg_error_line(conn, ins));
        PQclear(ins);
    }
#undef CELL
    if (r == 0 && (r = kpid_pg_query(conn, "COMMIT", 0, NULL, NULL, kpi->id, ret_error)) == 0) {
        *ret_written = written;
        return 0;
    }
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    return r;
}

int kpid_kpi_sql_evaluate(PGconn *conn, const kpid_kpi *kpi, const char *start,
                          const char *end, bool partial, int *ret_written, char **ret_error)
{
    PGresult *res = NULL;
    columns c;
    int r;

    *ret_error = NULL;
    if ((r = run_query(conn, kpi, start, end, &res, ret_error)) < 0)
        return r;
    if ((r = map_columns(res, kpi, &c, ret_error)) == 0 &&
        (r = check_rows(res, &c, kpi, ret_error)) == 0)
        r = write_rows(conn, kpi, start, end, partial, res, &c, ret_written, ret_error);
    PQclear(res);
    return r;
}
