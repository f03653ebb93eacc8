#include "cli/kpi_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "kpi/event_index.h"
#include "kpi/kpi_compile.h"
#include "kpi/kpi_eval.h"
#include "ops/log.h"
#include "warehouse/pgconn.h"
#include "time/rfc3339.h"

#define EX_OK 0
#define EX_FAILURE 1
#define EX_USAGE 64
#define EX_UNAVAILABLE 69

/* Prints an index a KPI's statement reads, once. */
static void print_index(void *arg, kpid_index_kind kind, const char *activity)
{
    char name[KPID_INDEX_NAME_SIZE], (*seen)[KPID_INDEX_NAME_SIZE] = arg;

    kpid_index_name(kind, activity, name);
    for (int i = 0; i < 8 && seen[i][0]; i++)
        if (strcmp(seen[i], name) == 0)
            return;
    for (int i = 0; i < 8; i++)
        if (!seen[i][0]) {
            memcpy(seen[i], name, sizeof(name));
            break;
        }
    switch (kind) {
    case KPID_INDEX_TIME:
        printf("--   kpid.%s: %s events in a period (the anchor)\n", name, activity);
        break;
    case KPID_INDEX_OPEN:
        printf("--   kpid.%s: %s events of the period and its lookback, with their case\n", name,
               activity);
        break;
    case KPID_INDEX_CASE:
    case KPID_INDEX_SUBJECT:
        printf("--   kpid.%s: %s events of the anchor's %s\n", name, activity,
               kind == KPID_INDEX_CASE ? "case" : "subject");
        break;
    case KPID_INDEX_ALL:
        printf("--   kpid.%s: every event by activity and time, for what the query reads\n", name);
        break;
    }
}

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
    if (kpi->type == KPID_KPI_RATIO) {
        printf("-- indexes: none; it reads the values of %s and %s\n", kpi->u.ratio.numerator,
               kpi->u.ratio.denominator);
    } else {
        char seen[8][KPID_INDEX_NAME_SIZE] = {{0}};
        printf("-- indexes (model sync creates them):\n");
        kpid_kpi_indexes(kpi, print_index, seen);
    }
    kpid_sql_clear(&sql);
    return EX_OK;
}

/* Local midnight of YYYY-MM-DD in tz, as UTC seconds. */
static int parse_date(const char *text, const kpid_tz *tz, int64_t *ret)
{
    kpid_civil c = {0};

    if (kpid_rfc3339_parse_date(text, strlen(text), &c.year, &c.month, &c.day, NULL) < 0)
        return -EINVAL;
    return kpid_tz_from_local(tz, &c, 0, ret, NULL);
}

/* A lost connection is reopened this many times, waiting 1, 2, 4, ... 8 s between. */
#define BACKFILL_RECONNECTS 8

/* The connection of a backfill, reopened when the warehouse drops it. */
typedef struct backfill_conn {
    const kpid_config *cfg;
    PGconn *conn;
    kpid_sql_conn sql; /* sql KPIs run on a connection of their own, opened at the first */
} backfill_conn;

/*
 * After a failed evaluation: when the connection was lost, reopens it (as the daemon
 * would, with backoff) and returns 0 so that the period is evaluated again; otherwise,
 * or when the warehouse stays away, returns -EIO (-EACCES when it refuses kpid's role).
 */
static int backfill_reconnect(backfill_conn *bc, const kpid_kpi *kpi)
{
    if (PQstatus(bc->conn) == CONNECTION_OK)
        return -EIO;
    log_warning("kpi=%s warehouse connection lost during backfill; reconnecting", kpi->id);
    kpid_sql_conn_close(&bc->sql);
    for (int attempt = 0; attempt < BACKFILL_RECONNECTS; attempt++) {
        char *error = NULL;
        PGconn *conn = NULL;
        sleep(1u << (attempt < 3 ? attempt : 3));
        int r = kpid_pg_open(&bc->cfg->warehouse.pg, &conn, &error);
        free(error);
        if (r == 0) {
            PQfinish(bc->conn);
            bc->conn = conn;
            log_notice("kpi=%s warehouse connection reopened attempts=%d", kpi->id, attempt + 1);
            return 0;
        }
        if (r == -EACCES)
            return r;
    }
    return -EIO;
}

/* Evaluates every period of kpi that starts before to and ends after from. */
static int backfill_kpi(backfill_conn *bc, const kpid_kpi *kpi, const char *from_text,
                        const char *to_text, int *ret_values, int *ret_periods)
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
        if (kpid_kpi_evaluate(bc->conn, &bc->sql, kpi, &iv, iv.end > now, "backfill", &written,
                              &error) < 0) {
            log_err("kpi=%s evaluation failed error=\"%s\"", kpi->id,
                    kpid_log_value(error ? error : "?"));
            free(error);
            if ((r = backfill_reconnect(bc, kpi)) == 0)
                continue; /* the same period again */
            kpid_civil c = {0};
            kpid_tz_to_local(tz, iv.start, &c);
            fprintf(stderr,
                    "kpid: KPI \"%s\" failed at its period starting %04d-%02d-%02d; its later "
                    "periods were not evaluated, the values written stay. Run the same command "
                    "again (backfill is idempotent), or: backfill --kpi %s --from %04d-%02d-%02d "
                    "--to %s\n",
                    kpi->id, c.year, c.month, c.day, kpi->id, c.year, c.month, c.day, to_text);
            return r;
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
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"process", required_argument, NULL, 'p'},
        {"kpi", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *from = NULL, *to = NULL, *process = NULL, *kpi_id = NULL;
    kpid_cursor_set unused = {0};
    backfill_conn bc = {.cfg = cfg, .sql = {.warehouse = &cfg->warehouse.pg}};
    char *error = NULL;
    int c, r, values = 0, periods = 0, status = EX_OK;

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
    r = kpid_warehouse_prepare(cfg, true, &unused, &error);
    if (r == 0 && (r = kpid_pg_open(&cfg->warehouse.pg, &bc.conn, &error)) == 0)
        r = kpid_model_sync(bc.conn, cfg->model, &error);
    if (r < 0) {
        log_err("backfill not started error=\"%s\"%s",
                kpid_log_value(error ? error : "warehouse unavailable"),
                r == -EACCES ? " hint=\"" KPID_PG_REFUSED_HINT "\"" : "");
        free(error);
        status = r == -EACCES ? KPID_EX_REFUSED : bc.conn ? EX_FAILURE : EX_UNAVAILABLE;
        PQfinish(bc.conn);
        return status;
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
            r = backfill_kpi(&bc, k, from, to, &values, &periods);
            if (r == -EINVAL) {
                fprintf(stderr, "kpid: dates are YYYY-MM-DD\n");
                status = EX_USAGE;
                break;
            }
            if (r == -EACCES) {
                status = KPID_EX_REFUSED; /* no other KPI would fare better */
                break;
            }
            if (r < 0)
                status = EX_FAILURE; /* the other KPIs are still backfilled */
        }
    kpid_sql_conn_close(&bc.sql);
    PQfinish(bc.conn);
    if (status == EX_OK)
        printf("backfill: %d periods, %d values\n", periods, values);
    return status;
}
