#include "kpi_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "kpi_compile.h"
#include "kpi_eval.h"
#include "log.h"
#include "pgconn.h"

#define EX_OK 0
#define EX_FAILURE 1
#define EX_USAGE 64
#define EX_UNAVAILABLE 69

int kpid_cli_explain(const kpid_config *cfg, const char *kpi_id)
{
    const kpid_kpi *kpi = kpid_model_find_kpi(cfg->model, kpi_id);
    kpid_sql sql = {0};
    char hash[65];

    if (!kpi) {
        fprintf(stderr, "kpid: no KPI \"%s\" in %s\n", kpi_id, cfg->path);
        return EX_USAGE;
    }
    if (kpid_kpi_compile(kpi, &sql) < 0 || kpid_kpi_hash(kpi, &sql, hash) < 0) {
        fprintf(stderr, "kpid: cannot compile KPI \"%s\"\n", kpi_id);
        kpid_sql_clear(&sql);
        return EX_FAILURE;
    }
    printf("-- KPI %s (%s%s%s, %s, period %s), defined at %s:%d\n", kpi->id,
           kpid_kpi_type_name(kpi->type), kpi->type == KPID_KPI_PROPORTION ? " per " : "",
           kpi->type == KPID_KPI_PROPORTION ? kpid_basis_name(kpi->u.proportion.basis) : "",
           kpi->process->id, kpi->period_text, kpi->file, kpi->line);
    printf("-- version %s\n", hash);
    printf("%s;\n", sql.text.data);
    printf("-- $1 = period start (timestamptz)\n-- $2 = period end (timestamptz)\n");
    for (size_t i = 0; i < sql.n_params; i++)
        printf("-- $%zu = '%s'\n", i + 3, sql.params[i]);
    kpid_sql_clear(&sql);
    return EX_OK;
}

/* Local midnight of YYYY-MM-DD in tz, as UTC seconds. */
static int parse_date(const char *text, const kpid_tz *tz, int64_t *ret)
{
    kpid_civil c = {0};
    char tail;

    if (sscanf(text, "%4d-%2d-%2d%c", &c.year, &c.month, &c.day, &tail) != 3)
        return -EINVAL;
    return kpid_tz_from_local(tz, &c, 0, ret, NULL);
}

/* Evaluates every period of kpi that starts before to and ends after from. */
static int backfill_kpi(PGconn *conn, kpid_sql_conn *sql, const kpid_kpi *kpi,
                        const char *from_text, const char *to_text, int *ret_values,
                        int *ret_periods)
{
    const kpid_tz *tz = kpi->process->tz;
    int64_t from, to, now = (int64_t)time(NULL);
    kpid_interval iv;
    int r;

    if (parse_date(from_text, tz, &from) < 0 || parse_date(to_text, tz, &to) < 0)
        return -EINVAL;
    if (kpi->period.kind == KPID_PERIOD_ROLLING)
        r = kpid_period_containing(&kpi->period, tz, to < now ? to : now, &iv);
    else
        r = kpid_period_containing(&kpi->period, tz, from, &iv);
    while (r == 0 && iv.start < to) {
        char *error = NULL;
        int written = 0;
        if (kpid_kpi_evaluate(conn, sql, kpi, &iv, iv.end > now, "backfill", &written,
                              &error) < 0) {
            log_err("kpi=%s evaluation failed error=\"%s\"", kpi->id,
                    kpid_log_value(error ? error : "?"));
            free(error);
            return -EIO;
        }
        *ret_values += written;
        (*ret_periods)++;
        if (kpi->period.kind == KPID_PERIOD_ROLLING)
            break;
        r = kpid_period_next(&kpi->period, tz, &iv, &iv);
    }
    return r;
}

int kpid_cli_backfill(const kpid_config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
        {"process", required_argument, NULL, 'p'}, {"kpi", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *from = NULL, *to = NULL, *process = NULL, *kpi_id = NULL;
    kpid_cursor_set unused = {0};
    /* sql KPIs run on a connection of their own, opened at the first. */
    kpid_sql_conn sql = {
        .conninfo = cfg->warehouse.conninfo, .password_file = cfg->warehouse.password_file,
    };
    char *error = NULL;
    PGconn *conn;
    int c, values = 0, periods = 0, status = EX_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'p': process = optarg; break;
        case 'k': kpi_id = optarg; break;
        default: return EX_USAGE;
        }
    }
    if (!from || !to || optind < argc) {
        fprintf(stderr, "usage: kpid [-c FILE] backfill --from YYYY-MM-DD --to YYYY-MM-DD"
                        " [--process ID] [--kpi ID]\n");
        return EX_USAGE;
    }
    if (kpi_id && !kpid_model_find_kpi(cfg->model, kpi_id)) {
        fprintf(stderr, "kpid: no KPI \"%s\" in %s\n", kpi_id, cfg->path);
        return EX_USAGE;
    }
    if (process && !kpid_model_find_process(cfg->model, process)) {
        fprintf(stderr, "kpid: no process \"%s\" in %s\n", process, cfg->path);
        return EX_USAGE;
    }
    if (kpid_warehouse_prepare(cfg, true, &unused, &error) < 0) {
        log_err("%s", error ? error : "warehouse unavailable");
        free(error);
        return EX_UNAVAILABLE;
    }
    conn = kpid_pg_connect(cfg->warehouse.conninfo, cfg->warehouse.password_file, &error);
    if (!conn || kpid_model_sync(conn, cfg->model, &error) < 0) {
        log_err("%s", error ? error : "warehouse unavailable");
        free(error);
        if (conn)
            PQfinish(conn);
        return conn ? EX_FAILURE : EX_UNAVAILABLE;
    }
    /* Ratios read the values of other KPIs: they come last. */
    for (int pass = 0; pass < 2 && status == EX_OK; pass++)
        for (size_t i = 0; i < cfg->model->n_kpis; i++) {
            const kpid_kpi *k = cfg->model->kpis[i];
            if ((k->type == KPID_KPI_RATIO) != (pass == 1))
                continue;
            if ((kpi_id && strcmp(k->id, kpi_id) != 0) ||
                (process && strcmp(k->process->id, process) != 0))
                continue;
            int r = backfill_kpi(conn, &sql, k, from, to, &values, &periods);
            if (r == -EINVAL) {
                fprintf(stderr, "kpid: dates are YYYY-MM-DD\n");
                status = EX_USAGE;
                break;
            }
            if (r < 0)
                status = EX_FAILURE;
        }
    kpid_sql_conn_close(&sql);
    PQfinish(conn);
    if (status == EX_OK)
        printf("backfill: %d periods, %d values\n", periods, values);
    return status;
}
