#include "kpi/kpi_eval.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "time/timestamp.h"
#include "kpi/event_index.h"
#include "kpi/kpi_sql.h"
#include "warehouse/pgconn.h"

#define TIMESTAMPTZOID 1184

int kpid_kpi_hash(const kpid_kpi *kpi, const kpid_sql *sql, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char num[64];
    int ok;

    if (!ctx)
        return -ENOMEM;
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    /* Each part ends in a NUL, so that no two definitions hash alike by shifting text. */
#define PART(p, n) (ok = ok && EVP_DigestUpdate(ctx, (p), (n)))
    PART(sql->text.data, sql->text.len + 1);
    for (size_t i = 0; i < sql->n_params; i++)
        PART(sql->params[i], strlen(sql->params[i]) + 1);
    PART(kpi->period_text, strlen(kpi->period_text) + 1);
    snprintf(num, sizeof(num), "%d %.17g %d", kpi->has_target, kpi->target, (int)kpi->direction);
    PART(num, strlen(num) + 1);
    for (size_t i = 0; i < kpi->n_bands; i++) {
        snprintf(num, sizeof(num), "%.17g %.17g %d", kpi->bands[i].from, kpi->bands[i].to,
                 (int)kpi->bands[i].status);
        PART(num, strlen(num) + 1);
    }
    if (kpi->unit)
        PART(kpi->unit, strlen(kpi->unit) + 1);
#undef PART
    ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    if (!ok || md_len != 32)
        return -EIO;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* A number for JSON, or null for an infinite band edge. */
static json_t *edge(double v)
{
    return v == v && v - v == 0 ? json_real(v) : json_null();
}

/*
 * The drill-down of a KPI for kpid.kpi_cases: its members statement with the KPI's
 * parameters as one text[] ($3), those parameters and its population codes. NULL
 * members (an sql KPI, a ratio over one) adds nothing.
 */
static int members_json(json_t *def, const kpid_kpi *kpi, const kpid_sql *members)
{
    json_t *params = json_array(), *codes = json_array();
    kpid_buf text = {0};
    int r = params && codes ? 0 : -ENOMEM;

    if (r == 0 && members)
        r = kpid_sql_params_as_array(members, &text);
    for (size_t i = 0; members && r == 0 && i < members->n_params; i++)
        if (json_array_append_new(params, json_string(members->params[i])) < 0)
            r = -ENOMEM;
    for (size_t i = 0; members && r == 0 && i < kpid_kpi_population_count(kpi); i++)
        if (json_array_append_new(codes, json_string(kpid_kpi_population_code(kpi, i))) < 0)
            r = -ENOMEM;
    if (r == 0 && members &&
        (json_object_set_new(def, "members_sql", json_string(text.data)) < 0 ||
         json_object_set(def, "members_params", params) < 0 ||
         json_object_set(def, "populations", codes) < 0))
        r = -ENOMEM;
    json_decref(params);
    json_decref(codes);
    kpid_buf_free(&text);
    return r;
}

/* The bands and the definition of a KPI as JSON texts, freshly allocated. */
static int definition_json(const kpid_kpi *kpi, const kpid_sql *sql, const kpid_sql *members,
                           char **ret_bands, char **ret_definition)
{
    json_t *bands = json_array(), *params = json_array(), *def;
    int r = 0;

    for (size_t i = 0; i < kpi->n_bands; i++)
        json_array_append_new(bands, json_pack("{s:o, s:o, s:s}", "from", edge(kpi->bands[i].from),
                                               "to", edge(kpi->bands[i].to), "status",
                                               kpid_status_name(kpi->bands[i].status)));
    for (size_t i = 0; i < sql->n_params; i++)
        json_array_append_new(params, json_string(sql->params[i]));
    def = json_pack("{s:s, s:s, s:s?, s:s, s:O, s:o}", "type", kpid_kpi_type_name(kpi->type),
                    "period", kpi->period_text, "unit", kpi->unit, "sql", sql->text.data, "bands",
                    bands, "params", params);
    /* A proportion's population basis, as dashboards and the drill-down need it. */
    const char *basis =
        kpi->type == KPID_KPI_PROPORTION ? kpid_basis_name(kpi->u.proportion.basis) : NULL;
    if (def && basis && json_object_set_new(def, "basis", json_string(basis)) < 0) {
        json_decref(def);
        def = NULL;
    }
    *ret_bands = json_dumps(bands, JSON_COMPACT);
    *ret_definition =
        def && members_json(def, kpi, members) == 0 ? json_dumps(def, JSON_COMPACT) : NULL;
    if (!*ret_bands || !*ret_definition) {
        free(*ret_bands);
        free(*ret_definition);
        r = -ENOMEM;
    }
    json_decref(bands);
    json_decref(def);
    return r;
}

/*
 * Upserts a KPI's definition. A new KPI, or one whose version hash changed, gets
 * recompute_from = now - horizon (the earlier one when a recompute is still pending):
 * its process recomputes those periods at its next tick.
 */
static int sync_kpi(PGconn *conn, const kpid_kpi *kpi, int64_t horizon_ms, char **ret_error)
{
    kpid_sql sql = {0}, members = {0};
    char hash[65], target[40], weight[40], horizon[32], *bands = NULL, *def = NULL;
    bool drill;
    int r;

    if (kpid_kpi_compile(kpi, &sql) < 0)
        return kpid_pg_fail(ret_error, kpi->id, "cannot compile");
    /* -ENOTSUP: a KPI without drill-down (sql) is synced without it. */
    r = kpid_kpi_compile_members(kpi, &members);
    drill = r == 0;
    if (r < 0 && r != -ENOTSUP) {
        kpid_sql_clear(&sql);
        return kpid_pg_fail(ret_error, kpi->id, "cannot compile its members statement");
    }
    if (kpid_kpi_hash(kpi, &sql, hash) < 0 ||
        definition_json(kpi, &sql, drill ? &members : NULL, &bands, &def) < 0) {
        kpid_sql_clear(&sql);
        kpid_sql_clear(&members);
        return kpid_pg_fail(ret_error, kpi->id, "out of memory");
    }
    kpid_sql_clear(&members);
    snprintf(target, sizeof(target), "%.17g", kpi->target);
    snprintf(weight, sizeof(weight), "%.17g", kpi->weight);
    const char *p[] = {kpi->id,
                       kpi->process->id,
                       kpi->objective->id,
                       kpi->name,
                       kpi->unit,
                       kpid_kpi_type_name(kpi->type),
                       kpi->period_text,
                       kpi->has_target ? target : NULL,
                       kpid_direction_name(kpi->direction),
                       weight,
                       bands,
                       def,
                       hash,
                       horizon};
    snprintf(horizon, sizeof(horizon), "%lld", (long long)horizon_ms);
    r = kpid_pg_query(conn,
                      "INSERT INTO kpid.kpi (id, process_id, objective_id, name, unit, type,"
                      " period, target, direction, weight, bands, definition, version_hash,"
                      " recompute_from)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
                      " CASE WHEN $14::bigint > 0 THEN now() - $14::bigint * interval '1 ms' END)"
                      " ON CONFLICT (id) DO UPDATE SET process_id = EXCLUDED.process_id,"
                      " objective_id = EXCLUDED.objective_id, name = EXCLUDED.name,"
                      " unit = EXCLUDED.unit, type = EXCLUDED.type, period = EXCLUDED.period,"
                      " target = EXCLUDED.target, direction = EXCLUDED.direction,"
                      " weight = EXCLUDED.weight, bands = EXCLUDED.bands,"
                      " definition = EXCLUDED.definition, version_hash = EXCLUDED.version_hash,"
                      " recompute_from = CASE WHEN kpid.kpi.version_hash = EXCLUDED.version_hash"
                      " THEN kpid.kpi.recompute_from"
                      " ELSE least(kpid.kpi.recompute_from, EXCLUDED.recompute_from) END,"
                      " active = true, updated_at = now()",
                      14, p, NULL, kpi->id, ret_error);
    free(bands);
    free(def);
    kpid_sql_clear(&sql);
    return r;
}

int kpid_model_sync(PGconn *conn, const kpid_model *m, char **ret_error)
{
    int r;

    *ret_error = NULL;
    if ((r = kpid_pg_query(conn, "BEGIN", 0, NULL, NULL, "sync", ret_error)) < 0)
        return r;
    for (size_t i = 0; i < m->n_objectives && r == 0; i++) {
        const kpid_objective *o = &m->objectives[i];
        const char *p[] = {o->id, o->name, kpid_perspective_name(o->perspective)};
        r = kpid_pg_query(conn,
                          "INSERT INTO kpid.objective (id, name, perspective) VALUES ($1, $2, $3)"
                          " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
                          " perspective = EXCLUDED.perspective, updated_at = now()",
                          3, p, NULL, o->id, ret_error);
    }
    for (size_t i = 0; i < m->n_processes && r == 0; i++) {
        const kpid_process *pr = &m->processes[i];
        const char *p[] = {pr->id,
                           pr->name,
                           kpid_process_category_name(pr->category),
                           pr->owner,
                           kpid_tz_name(pr->tz),
                           pr->schedule_text};
        r = kpid_pg_query(conn,
                          "INSERT INTO kpid.process (id, name, category, owner, timezone, schedule)"
                          " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET"
                          " name = EXCLUDED.name, category = EXCLUDED.category,"
                          " owner = EXCLUDED.owner, timezone = EXCLUDED.timezone,"
                          " schedule = EXCLUDED.schedule, updated_at = now()",
                          6, p, NULL, pr->id, ret_error);
    }
    /* What the configuration no longer names stays, inactive, with its values. */
    if (r == 0)
        r = kpid_pg_query(conn, "UPDATE kpid.kpi SET active = false WHERE active", 0, NULL, NULL,
                          "sync", ret_error);
    for (size_t i = 0; i < m->n_kpis && r == 0; i++)
        r = sync_kpi(conn, m->kpis[i], m->recompute_horizon_ms, ret_error);
    if (r == 0)
        r = kpid_pg_query(conn, "COMMIT", 0, NULL, NULL, "sync", ret_error);
    else
        PQclear(PQexec(conn, "ROLLBACK"));
    if (r == 0)
        r = kpid_event_indexes_sync(conn, m, ret_error);
    return r;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Records one evaluation in kpid.kpi_run. */
static void record_run(PGconn *conn, const kpid_kpi *kpi, const char *start, const char *end,
                       const char *reason, double ms, int written, const char *error)
{
    char dur[32], n[16];
    snprintf(dur, sizeof(dur), "%.3f", ms);
    snprintf(n, sizeof(n), "%d", written);
    const char *p[] = {kpi->process->id, kpi->id, start, end, reason, dur, error ? NULL : n, error};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO kpid.kpi_run (process_id, kpi_id, period_start,"
                                 " period_end, reason, started_at, duration_ms, values_written,"
                                 " error) VALUES ($1, $2, $3, $4, $5,"
                                 " now() - $6 * interval '1 millisecond', $6, $7, $8)",
                                 8, NULL, p, NULL, NULL, 0);
    PQclear(res);
}

/*
 * The compiled statement wrapped to replace the period's values, in one statement (one
 * round trip, its own transaction): parameters $1, $2, the KPI's own, then the KPI id
 * and the partial flag. The DELETE runs to its end before the first row is inserted,
 * since every row joins the count of what it deleted; the rows it deleted are dead to
 * the primary key's check of the rows inserted after.
 */
static int wrap_insert(const kpid_sql *sql, kpid_buf *out)
{
    char tail[200];
    int n = snprintf(tail, sizeof(tail),
                     ") r JOIN kpid.kpi k ON k.id = $%zu CROSS JOIN (SELECT count(*) FROM gone) g",
                     sql->n_params + 3);
    char head[640];
    int m = snprintf(head, sizeof(head),
                     "WITH gone AS (DELETE FROM kpid.kpi_value WHERE kpi_id = $%zu"
                     " AND period_start = $1 RETURNING 1)"
                     " INSERT INTO kpid.kpi_value (kpi_id, period_start, period_end, stratum,"
                     " value, numerator, denominator, n, excluded_incomplete, status, partial,"
                     " version_hash)"
                     " SELECT k.id, $1, $2, r.stratum, r.value, r.numerator, r.denominator, r.n,"
                     " r.excluded_incomplete,"
                     " kpid.kpi_status(r.value, k.bands, k.target, k.direction), $%zu::boolean,"
                     " k.version_hash FROM (",
                     sql->n_params + 3, sql->n_params + 4);
    int r;
    if ((r = kpid_buf_append(out, head, (size_t)m)) < 0 ||
        (r = kpid_buf_append(out, sql->text.data, sql->text.len)) < 0 ||
        (r = kpid_buf_append(out, tail, (size_t)n + 1)) < 0)
        return r;
    out->len--;
    return 0;
}

int kpid_kpi_evaluate(PGconn *conn, kpid_sql_conn *sql_conn, const kpid_kpi *kpi,
                      const kpid_interval *iv, bool partial, const char *reason, int *ret_written,
                      char **ret_error)
{
    char start[40], end[40];
    const char *params[KPID_SQL_PARAMS_MAX + 4];
    Oid types[KPID_SQL_PARAMS_MAX + 4] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
    kpid_sql sql = {0};
    kpid_buf stmt = {0};
    double t0 = now_ms();
    PGresult *res = NULL;
    int written = 0, r = 0;

    *ret_error = NULL;
    if (kpid_format_time(iv->start * 1000000, start) < 0 ||
        kpid_format_time(iv->end * 1000000, end) < 0)
        return kpid_pg_fail(ret_error, kpi->id, "period outside years 0001-9999");
    if (kpi->type == KPID_KPI_SQL) {
        /* The operator's own query: on a connection of its own, as role kpid_sql, read
         * only; then checked, then written here (kpi_sql.c). */
        r = kpid_kpi_sql_evaluate(conn, sql_conn, kpi, start, end, partial, &written, ret_error);
        if (r == 0)
            *ret_written = written;
        record_run(conn, kpi, start, end, reason, now_ms() - t0, written,
                   r < 0 && !*ret_error ? "out of memory" : *ret_error);
        return r;
    }
    if (kpid_kpi_compile(kpi, &sql) < 0 || wrap_insert(&sql, &stmt) < 0) {
        r = kpid_pg_fail(ret_error, kpi->id, "cannot compile");
        goto out;
    }
    params[0] = start;
    params[1] = end;
    for (size_t i = 0; i < sql.n_params; i++)
        params[i + 2] = sql.params[i];
    params[sql.n_params + 2] = kpi->id;
    params[sql.n_params + 3] = partial ? "true" : "false";

    /* The session has jit off (pgconn.h). */
    res = PQexecParams(conn, stmt.data, (int)sql.n_params + 4, types, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        r = kpid_pg_fail(ret_error, kpi->id, kpid_pg_error_line(conn, res));
        record_run(conn, kpi, start, end, reason, now_ms() - t0, 0, *ret_error);
        goto out;
    }
    written = (int)kpid_pg_cmd_rows(res);
    *ret_written = written;
    record_run(conn, kpi, start, end, reason, now_ms() - t0, written, NULL);
out:
    PQclear(res);
    kpid_buf_free(&stmt);
    kpid_sql_clear(&sql);
    return r;
}
