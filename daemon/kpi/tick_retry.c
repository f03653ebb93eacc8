#include "kpi/tick_retry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warehouse/pgconn.h"

int kpid__retry_rows(PGconn *conn, const kpid_process *p, PGresult **ret_rows, char **ret_error)
{
    const char *params[] = {p->id};

    *ret_rows = NULL;
    return kpid_pg_query(conn,
                         "SELECT r.kpi_id, floor(extract(epoch FROM r.period_start))::bigint,"
                         " floor(extract(epoch FROM r.period_end))::bigint"
                         " FROM kpid.kpi_retry r JOIN kpid.kpi k ON k.id = r.kpi_id"
                         " WHERE k.process_id = $1 AND k.active ORDER BY r.period_start",
                         1, params, ret_rows, "retry", ret_error);
}

bool kpid__retry_row(const PGresult *rows, int i, const char *kpi_id, kpid_interval *iv)
{
    int64_t start, end;

    if (!rows || i >= PQntuples(rows) || strcmp(PQgetvalue(rows, i, 0), kpi_id) != 0 ||
        kpid_pg_int64(PQgetvalue(rows, i, 1), &start) < 0 ||
        kpid_pg_int64(PQgetvalue(rows, i, 2), &end) < 0)
        return false;
    iv->start = start;
    iv->end = end;
    return true;
}

bool kpid__retry_has(const PGresult *rows, const char *kpi_id, int64_t start_s)
{
    kpid_interval iv;

    for (int i = 0; rows && i < PQntuples(rows); i++)
        if (kpid__retry_row(rows, i, kpi_id, &iv) && iv.start == start_s)
            return true;
    return false;
}

/* Runs sql with $1 the KPI's id, $2 the period's start and, when n is 3, $3 its end
 * (epoch seconds). */
static int period_query(PGconn *conn, const char *sql, int n, const kpid_kpi *kpi,
                        const kpid_interval *iv, char **ret_error)
{
    char start[24], end[24];
    const char *params[] = {kpi->id, start, end};

    snprintf(start, sizeof(start), "%" PRId64, iv->start);
    snprintf(end, sizeof(end), "%" PRId64, iv->end);
    return kpid_pg_query(conn, sql, n, params, NULL, "retry", ret_error);
}

int kpid__retry_keep(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, char **ret_error)
{
    return period_query(conn,
                        "INSERT INTO kpid.kpi_retry (kpi_id, period_start, period_end)"
                        " VALUES ($1, to_timestamp($2::float8), to_timestamp($3::float8))"
                        " ON CONFLICT (kpi_id, period_start) DO UPDATE"
                        " SET period_end = EXCLUDED.period_end, failed_at = now()",
                        3, kpi, iv, ret_error);
}

int kpid__retry_done(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, char **ret_error)
{
    /* A ratio's parameters start with its numerator's and its denominator's ids
     * (kpi_compile.c). A data-modifying WITH runs whether or not it is read. */
    return period_query(
        conn,
        "WITH gone AS (DELETE FROM kpid.kpi_retry WHERE kpi_id = $1"
        " AND period_start = to_timestamp($2::float8))"
        " INSERT INTO kpid.kpi_retry (kpi_id, period_start, period_end)"
        " SELECT k.id, to_timestamp($2::float8), to_timestamp($3::float8) FROM kpid.kpi k"
        " WHERE k.active AND k.type = 'ratio'"
        " AND $1 IN (k.definition->'params'->>0, k.definition->'params'->>1)"
        " ON CONFLICT (kpi_id, period_start) DO NOTHING",
        3, kpi, iv, ret_error);
}

int kpid__retry_drop(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, char **ret_error)
{
    return period_query(conn,
                        "DELETE FROM kpid.kpi_retry WHERE kpi_id = $1"
                        " AND period_start = to_timestamp($2::float8)",
                        2, kpi, iv, ret_error);
}
