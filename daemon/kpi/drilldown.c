#include "kpi/drilldown.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "time/timestamp.h"
#include "buf/buf.h"
#include "kpi/kpi_compile.h"
#include "warehouse/pgconn.h"

#define TIMESTAMPTZOID 1184

/*
 * Both queries select from x: one row per member and population it is in, with the
 * member's stratum. In the tails, %1$zu is the parameter of the population codes
 * (text[]) and %2$zu the query's own extra parameter, both after the KPI's.
 */
#define MEMBERS_HEAD "(SELECT c.code, m.stratum, m.case_id, m.subject_id FROM ("
#define MEMBERS_TAIL                                            \
    ") m CROSS JOIN LATERAL unnest($%1$zu::text[]) AS c (code)" \
    " WHERE (to_jsonb(m) ->> c.code)::boolean) x"

bool kpid_drilldown_has_population(const kpid_kpi *kpi, const char *code)
{
    for (size_t i = 0; i < kpid_kpi_population_count(kpi); i++)
        if (strcmp(kpid_kpi_population_code(kpi, i), code) == 0)
            return true;
    return false;
}

/* The codes as a text[] literal ({a,b}); codes are [a-z-] only. */
static int codes_literal(const kpid_kpi *kpi, const char *population, kpid_buf *out)
{
    int r = kpid_buf_putc(out, '{');

    for (size_t i = 0; i < kpid_kpi_population_count(kpi) && r == 0; i++) {
        const char *code = kpid_kpi_population_code(kpi, i);
        if (population && strcmp(code, population) != 0)
            continue;
        if (out->len > 1)
            r = kpid_buf_putc(out, ',');
        if (r == 0)
            r = kpid_buf_append(out, code, strlen(code));
    }
    if (r == 0)
        r = kpid_buf_append(out, "}", 2);
    return r;
}

/*
 * Runs head, the members statement, then tail_fmt (see MEMBERS_TAIL for its numbers)
 * with $1, $2 the period, the KPI's parameters, the codes and extra (NULL: not passed).
 */
static int run(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv, const char *population,
               const char *head, const char *tail_fmt, const char *extra, PGresult **ret_res,
               char **ret_error)
{
    const char *params[KPID_SQL_PARAMS_MAX + 4];
    Oid types[KPID_SQL_PARAMS_MAX + 4] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
    char start[40], end[40], *tail = NULL;
    kpid_sql members = {0};
    kpid_buf stmt = {0}, codes = {0};
    PGresult *res = NULL;
    int r;

    *ret_error = NULL;
    if (population && !kpid_drilldown_has_population(kpi, population))
        return -EINVAL;
    if ((r = kpid_kpi_compile_members(kpi, &members)) < 0)
        return r;
    if (kpid_format_time(iv->start * 1000000, start) < 0 ||
        kpid_format_time(iv->end * 1000000, end) < 0) {
        r = kpid_pg_fail(ret_error, kpi->id, "period outside years 0001-9999");
        goto out;
    }
    size_t k = members.n_params + 3; /* the codes' parameter number */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    int n = asprintf(&tail, tail_fmt, k, k + 1);
#pragma GCC diagnostic pop
    if (n < 0) {
        tail = NULL;
        r = -ENOMEM;
        goto out;
    }
    if (codes_literal(kpi, population, &codes) < 0 ||
        kpid_buf_append(&stmt, head, strlen(head)) < 0 ||
        kpid_buf_append(&stmt, members.text.data, members.text.len) < 0 ||
        kpid_buf_append(&stmt, tail, (size_t)n + 1) < 0) {
        r = -ENOMEM;
        goto out;
    }
    params[0] = start;
    params[1] = end;
    for (size_t i = 0; i < members.n_params; i++)
        params[i + 2] = members.params[i];
    params[k - 1] = codes.data;
    params[k] = extra;
    res = PQexecParams(conn, stmt.data, (int)k + (extra ? 1 : 0), types, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        r = kpid_pg_fail(ret_error, kpi->id, kpid_pg_error_line(conn, res));
        goto out;
    }
    *ret_res = res;
    res = NULL;
    r = 0;
out:
    PQclear(res);
    free(tail);
    kpid_buf_free(&stmt);
    kpid_buf_free(&codes);
    kpid_sql_clear(&members);
    return r;
}

int kpid_drilldown_cases(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv,
                         const char *population, const char *stratum, PGresult **ret_res,
                         char **ret_error)
{
    /* As kpid.kpi_cases: sorted in byte order, whatever the database's collation. */
    return run(conn, kpi, iv, population,
               "SELECT d.code AS population, d.case_id, d.subject_id FROM (SELECT DISTINCT"
               " x.code, x.case_id, x.subject_id FROM " MEMBERS_HEAD,
               MEMBERS_TAIL " WHERE $%2$zu::jsonb = '{}'::jsonb OR x.stratum = $%2$zu::jsonb) d"
                            " ORDER BY d.code COLLATE \"C\", d.case_id COLLATE \"C\","
                            " d.subject_id COLLATE \"C\"",
               stratum, ret_res, ret_error);
}

int kpid_drilldown_counts(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv,
                          PGresult **ret_res, char **ret_error)
{
    /* A population's count is its members (events or cases, as the type says), as the
     * value counts them: a case with two arriving events is two members of a count. */
    return run(conn, kpi, iv, NULL, "WITH x AS (SELECT * FROM " MEMBERS_HEAD,
               MEMBERS_TAIL ")"
                            " SELECT code AS population, '{}' AS stratum, count(*) AS count FROM x"
                            " GROUP BY code"
                            " UNION ALL"
                            " SELECT code, stratum::text, count(*) FROM x"
                            " WHERE stratum <> '{}'::jsonb GROUP BY code, stratum"
                            " ORDER BY 2, 1",
               NULL, ret_res, ret_error);
}
