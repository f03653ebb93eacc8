#include "cli/drilldown_cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "time/timestamp.h"
#include "kpi/drilldown.h"
#include "kpi/kpi_compile.h"
#include "kpi/kpi_eval.h"
#include "ops/log.h"
#include "report/measure_report.h"
#include "warehouse/pgconn.h"
#include "time/rfc3339.h"

#define EX_OK 0
#define EX_FAILURE 1
#define EX_USAGE 64
#define EX_UNAVAILABLE 69
#define TIMESTAMPTZOID 1184

typedef struct args {
    const char *kpi_id, *period, *stratum, *population;
} args;

/* Parses the options; with_filters: --stratum and --population are allowed. */
static int parse_args(int argc, char **argv, bool with_filters, args *a)
{
    static const struct option longopts[] = {
        {"kpi", required_argument, NULL, 'k'},
        {"period", required_argument, NULL, 'p'},
        {"stratum", required_argument, NULL, 's'},
        {"population", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': a->kpi_id = optarg; break;
        case 'p': a->period = optarg; break;
        case 's':
            a->stratum = optarg;
            if (!with_filters)
                return -EINVAL;
            break;
        case 'o':
            a->population = optarg;
            if (!with_filters)
                return -EINVAL;
            break;
        default: return -EINVAL;
        }
    }
    return a->kpi_id && a->period && optind == argc ? 0 : -EINVAL;
}

/* The KPI's period containing local midnight of START (YYYY-MM-DD or YYYY-MM). */
static int period_of(const kpid_kpi *kpi, const char *text, kpid_interval *ret)
{
    kpid_civil c = {.day = 1};
    int64_t t;

    if (kpid_rfc3339_parse_date(text, strlen(text), &c.year, &c.month, &c.day, NULL) < 0 &&
        kpid_rfc3339_parse_month(text, strlen(text), &c.year, &c.month, NULL) < 0)
        return -EINVAL;
    if (kpid_tz_from_local(kpi->process->tz, &c, 0, &t, NULL) < 0)
        return -EINVAL;
    return kpid_period_containing(&kpi->period, kpi->process->tz, t, ret);
}

/* A stratum must be a JSON object of the KPI's stratify attributes, strings or null. */
static int check_stratum(const kpid_kpi *kpi, const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err), *v;
    const char *key;
    int r = 0;

    if (!j || !json_is_object(j)) {
        fprintf(stderr, "kpid: --stratum must be a JSON object such as '{\"ward\": \"A\"}'%s%s\n",
                j ? "" : ": ", j ? "" : err.text);
        json_decref(j);
        return -EINVAL;
    }
    json_object_foreach (j, key, v) {
        bool known = false;
        for (size_t i = 0; i < kpi->n_stratify; i++)
            known = known || strcmp(kpi->stratify[i], key) == 0;
        if (!known) {
            fprintf(stderr, "kpid: KPI \"%s\" is not stratified by \"%s\"\n", kpi->id, key);
            r = -EINVAL;
        } else if (!json_is_string(v) && !json_is_null(v)) {
            fprintf(stderr, "kpid: the stratum's \"%s\" must be a string or null\n", key);
            r = -EINVAL;
        }
    }
    json_decref(j);
    return r;
}

/* Looks up the KPI and the period, printing what is wrong; EX_OK or EX_USAGE. */
static int resolve(const kpid_config *cfg, const args *a, const kpid_kpi **ret_kpi,
                   kpid_interval *ret_iv)
{
    const kpid_kpi *kpi = kpid_model_find_kpi(cfg->model, a->kpi_id);

    if (!kpi) {
        fprintf(stderr, "kpid: no KPI \"%s\" in %s\n", a->kpi_id, cfg->path);
        return EX_USAGE;
    }
    if (kpid_kpi_population_count(kpi) == 0) {
        fprintf(stderr, "kpid: KPI \"%s\" has no drill-down: it is an sql KPI\n", kpi->id);
        return EX_USAGE;
    }
    if (period_of(kpi, a->period, ret_iv) < 0) {
        fprintf(stderr, "kpid: --period is a date, YYYY-MM-DD or YYYY-MM, not \"%s\"\n", a->period);
        return EX_USAGE;
    }
    *ret_kpi = kpi;
    return EX_OK;
}

/*
 * Connects and opens a READ ONLY transaction: these commands never write. Returns EX_OK
 * and *ret_conn, EX_UNAVAILABLE or KPID_EX_REFUSED.
 */
static int connect_read_only(const kpid_config *cfg, PGconn **ret_conn)
{
    char *error = NULL;
    PGconn *conn = NULL;
    const char *msg, *state;
    int r = kpid_pg_open(&cfg->warehouse.pg, &conn, &error);

    if (r < 0) {
        log_err("cannot connect to the warehouse error=\"%s\"%s",
                kpid_log_value(error ? error : "out of memory"),
                r == -EACCES ? " hint=\"" KPID_PG_REFUSED_HINT "\"" : "");
        free(error);
        return r == -EACCES ? KPID_EX_REFUSED : EX_UNAVAILABLE;
    }
    if (kpid_pg_exec(conn, "BEGIN READ ONLY", &state, &msg) < 0) {
        log_err("cannot begin a transaction: %s", msg);
        PQfinish(conn);
        return kpid_pg_refused(state) ? KPID_EX_REFUSED : EX_UNAVAILABLE;
    }
    *ret_conn = conn;
    return EX_OK;
}

/* Reports a failed drill-down query; returns the exit status. */
static int drill_failed(const kpid_kpi *kpi, int r, char *error)
{
    if (r == -ENOTSUP)
        fprintf(stderr,
                "kpid: KPI \"%s\" has no drill-down: it is a ratio over a ratio or an"
                " sql KPI\n",
                kpi->id);
    else
        log_err("%s", error ? error : strerror(-r));
    free(error);
    return r == -ENOTSUP ? EX_USAGE : r == -EACCES ? KPID_EX_REFUSED : EX_FAILURE;
}

int kpid_cli_cases(const kpid_config *cfg, int argc, char **argv)
{
    args a = {0};
    const kpid_kpi *kpi = NULL;
    kpid_interval iv;
    PGresult *res = NULL;
    char *error = NULL;
    PGconn *conn;
    int status, r;

    if (parse_args(argc, argv, true, &a) < 0) {
        fprintf(stderr, "usage: kpid [-c FILE] cases --kpi ID --period YYYY-MM-DD"
                        " [--stratum JSON] [--population CODE]\n");
        return EX_USAGE;
    }
    if ((status = resolve(cfg, &a, &kpi, &iv)) != EX_OK)
        return status;
    if (a.population && !kpid_drilldown_has_population(kpi, a.population)) {
        fprintf(stderr, "kpid: KPI \"%s\" (%s) has no population \"%s\"; its populations are",
                kpi->id, kpid_kpi_type_name(kpi->type), a.population);
        for (size_t i = 0; i < kpid_kpi_population_count(kpi); i++)
            fprintf(stderr, "%s %s", i ? "," : "", kpid_kpi_population_code(kpi, i));
        fputc('\n', stderr);
        return EX_USAGE;
    }
    if (a.stratum && check_stratum(kpi, a.stratum) < 0)
        return EX_USAGE;
    if ((status = connect_read_only(cfg, &conn)) != EX_OK)
        return status;
    r = kpid_drilldown_cases(conn, kpi, &iv, a.population, a.stratum ? a.stratum : "{}", &res,
                             &error);
    if (r < 0) {
        status = drill_failed(kpi, r, error);
        goto out;
    }
    printf("population\tcase_id\tsubject_id\n");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%s\t%s\t%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    status = fflush(stdout) == 0 ? EX_OK : EX_FAILURE;
out:
    PQclear(res);
    PQfinish(conn);
    return status;
}

/*
 * The KPI's values of the period: the stored ones when they were computed by this
 * definition (same version hash), else computed now by its value statement. Returns a
 * result with the columns stratum (text), value, or NULL with *ret_error set.
 */
static PGresult *values(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv,
                        char **ret_error)
{
    const char *params[KPID_SQL_PARAMS_MAX + 2];
    Oid types[KPID_SQL_PARAMS_MAX + 2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
    char start[40], end[40], hash[65];
    kpid_sql sql = {0};
    kpid_buf stmt = {0};
    PGresult *res = NULL;

    if (kpid_kpi_compile(kpi, &sql) < 0 || kpid_kpi_hash(kpi, &sql, hash) < 0 ||
        kpid_format_time(iv->start * 1000000, start) < 0 ||
        kpid_format_time(iv->end * 1000000, end) < 0) {
        *ret_error = strdup("cannot compile the KPI");
        goto out;
    }
    const char *stored[] = {kpi->id, start, end, hash};
    res = PQexecParams(conn,
                       "SELECT stratum::text, value FROM kpid.kpi_value WHERE kpi_id = $1"
                       " AND period_start = $2 AND period_end = $3 AND version_hash = $4",
                       4, NULL, stored, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) > 0)
        goto check;
    PQclear(res);
    static const char head[] = "SELECT stratum::text, value FROM (";
    if (kpid_buf_append(&stmt, head, strlen(head)) < 0 ||
        kpid_buf_append(&stmt, sql.text.data, sql.text.len) < 0 ||
        kpid_buf_append(&stmt, ") r", 4) < 0) {
        res = NULL;
        *ret_error = strdup("out of memory");
        goto out;
    }
    params[0] = start;
    params[1] = end;
    for (size_t i = 0; i < sql.n_params; i++)
        params[i + 2] = sql.params[i];
    res = PQexecParams(conn, stmt.data, (int)sql.n_params + 2, types, params, NULL, NULL, 0);
check:
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (asprintf(ret_error, "%s: %s", kpi->id, kpid_pg_error_line(conn, res)) < 0)
            *ret_error = NULL;
        PQclear(res);
        res = NULL;
    }
out:
    kpid_buf_free(&stmt);
    kpid_sql_clear(&sql);
    return res;
}

int kpid_cli_measure_report(const kpid_config *cfg, int argc, char **argv)
{
    args a = {0};
    const kpid_kpi *kpi = NULL;
    kpid_interval iv;
    PGresult *counts = NULL, *scores = NULL;
    kpid_mr_count *c = NULL;
    kpid_mr_score *s = NULL;
    json_t *report = NULL;
    char *error = NULL;
    PGconn *conn;
    int status, r;

    if (parse_args(argc, argv, false, &a) < 0) {
        fprintf(stderr, "usage: kpid [-c FILE] measure-report --kpi ID --period YYYY-MM-DD\n");
        return EX_USAGE;
    }
    if ((status = resolve(cfg, &a, &kpi, &iv)) != EX_OK)
        return status;
    if ((status = connect_read_only(cfg, &conn)) != EX_OK)
        return status;
    if ((r = kpid_drilldown_counts(conn, kpi, &iv, &counts, &error)) < 0) {
        status = drill_failed(kpi, r, error);
        goto out;
    }
    if (!(scores = values(conn, kpi, &iv, &error))) {
        status = drill_failed(kpi, -EIO, error);
        goto out;
    }
    int nc = PQntuples(counts), ns = PQntuples(scores);
    c = calloc((size_t)nc + 1, sizeof(*c));
    s = calloc((size_t)ns + 1, sizeof(*s));
    status = EX_FAILURE;
    if (!c || !s)
        goto out;
    for (int i = 0; i < nc; i++)
        c[i] = (kpid_mr_count){PQgetvalue(counts, i, 0), PQgetvalue(counts, i, 1),
                               strtoll(PQgetvalue(counts, i, 2), NULL, 10)};
    for (int i = 0; i < ns; i++)
        s[i] = (kpid_mr_score){PQgetvalue(scores, i, 0), !PQgetisnull(scores, i, 1),
                               strtod(PQgetvalue(scores, i, 1), NULL)};
    kpid_mr_input in = {.kpi = kpi,
                        .period = iv,
                        .now = (int64_t)time(NULL),
                        .counts = c,
                        .n_counts = (size_t)nc,
                        .scores = s,
                        .n_scores = (size_t)ns};
    report = kpid_measure_report(&in);
    if (!report || json_dumpf(report, stdout, JSON_INDENT(2)) < 0 || puts("") < 0 ||
        fflush(stdout) != 0) {
        log_err("kpi=%s cannot write the MeasureReport", kpi->id);
        goto out;
    }
    status = EX_OK;
out:
    json_decref(report);
    free(c);
    free(s);
    PQclear(counts);
    PQclear(scores);
    PQfinish(conn);
    return status;
}
