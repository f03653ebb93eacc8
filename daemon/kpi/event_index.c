#include "kpi/event_index.h"
#include "buf/buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/log.h"
#include "warehouse/pgconn.h"

/* The advisory lock under which one instance at a time changes the indexes. */
#define SQL_LOCK "SELECT pg_advisory_lock(hashtextextended('kpid.event_indexes', 0))"
#define SQL_UNLOCK "SELECT pg_advisory_unlock(hashtextextended('kpid.event_indexes', 0))"

/* The model's indexes that exist, valid or not. */
static const char SQL_EXISTING[] =
    "SELECT c.relname, i.indisvalid FROM pg_catalog.pg_index i"
    " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = 'kpid.event'::regclass AND c.relname LIKE 'ev\\_%'";

/* The statements are made by the server from the validated activity (a literal there,
 * DDL takes no parameters), not by pasting configuration text. "case_id IS NOT NULL"
 * keeps anchors (events of the activity in a period, no case named) on the (activity,
 * time) range: only a probe by case (p.case_id = e.case_id) implies it. */
static const char SQL_CREATE_LINKED[] =
    "SELECT format('CREATE INDEX CONCURRENTLY %I ON kpid.event (%I, time)"
    " WHERE activity = %L AND %I IS NOT NULL', $1::text, $2::text, $3::text, $2::text)";
static const char SQL_CREATE_TIME[] =
    "SELECT format('CREATE INDEX CONCURRENTLY %I ON kpid.event (time) WHERE activity = %L',"
    " $1::text, $2::text)";
static const char SQL_CREATE_OPEN[] =
    "SELECT format('CREATE INDEX CONCURRENTLY %I ON kpid.event (time) INCLUDE (case_id)"
    " WHERE activity = %L AND case_id IS NOT NULL', $1::text, $2::text)";
static const char SQL_CREATE_ALL[] =
    "SELECT format('CREATE INDEX CONCURRENTLY %I ON kpid.event (activity, time)', $1::text)";
static const char SQL_DROP[] =
    "SELECT format('DROP INDEX CONCURRENTLY IF EXISTS kpid.%I', $1::text)";

static void add_condition(const kpid_condition *c,
                          void (*fn)(void *, kpid_index_kind, const char *), void *arg)
{
    if (c->present)
        fn(arg, c->link == KPID_LINK_SUBJECT ? KPID_INDEX_SUBJECT : KPID_INDEX_CASE, c->activity);
}

void kpid_kpi_indexes(const kpid_kpi *kpi,
                      void (*fn)(void *arg, kpid_index_kind kind, const char *activity), void *arg)
{
    switch (kpi->type) {
    case KPID_KPI_COUNT: fn(arg, KPID_INDEX_TIME, kpi->u.count.activity); break;
    case KPID_KPI_VALUE: fn(arg, KPID_INDEX_TIME, kpi->u.value.activity); break;
    case KPID_KPI_DURATION:
        /* The anchors; the case's first `from` (no earlier one), the first `to` after it. */
        fn(arg, KPID_INDEX_TIME, kpi->u.duration.from);
        fn(arg, KPID_INDEX_CASE, kpi->u.duration.from);
        fn(arg, KPID_INDEX_CASE, kpi->u.duration.to);
        break;
    case KPID_KPI_CENSUS:
        /* The openings of the period and its lookback, by case; the case's first one,
         * its close; the openings of the period without a case. */
        fn(arg, KPID_INDEX_OPEN, kpi->u.census.from);
        fn(arg, KPID_INDEX_CASE, kpi->u.census.from);
        fn(arg, KPID_INDEX_CASE, kpi->u.census.to);
        fn(arg, KPID_INDEX_TIME, kpi->u.census.from);
        break;
    case KPID_KPI_PROPORTION: {
        const kpid_condition *pop = kpi->u.proportion.populations;
        bool by_case = kpi->u.proportion.basis == KPID_BASIS_CASE;
        bool by_subject = kpi->u.proportion.basis == KPID_BASIS_SUBJECT;

        fn(arg, KPID_INDEX_TIME, pop[KPID_POP_INITIAL].activity);
        for (int i = KPID_POP_DENOMINATOR; i < KPID_POP_COUNT; i++) {
            add_condition(&pop[i], fn, arg);
            by_case |= pop[i].present && pop[i].link == KPID_LINK_CASE;
            by_subject |= pop[i].present && pop[i].link == KPID_LINK_SUBJECT;
        }
        /* The basis's "first population event" probe, and the population events a late
         * event of a linked condition makes dirty (kpi_dirty.c). */
        if (by_case)
            fn(arg, KPID_INDEX_CASE, pop[KPID_POP_INITIAL].activity);
        if (by_subject)
            fn(arg, KPID_INDEX_SUBJECT, pop[KPID_POP_INITIAL].activity);
        break;
    }
    case KPID_KPI_SQL: fn(arg, KPID_INDEX_ALL, NULL); break;
    case KPID_KPI_RATIO: break;
    }
}

/* FNV-1a, for the names of long activities. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void kpid_index_name(kpid_index_kind kind, const char *activity, char name[KPID_INDEX_NAME_SIZE])
{
    static const char *const prefixes[] = {
        [KPID_INDEX_TIME] = "ev_time_",
        [KPID_INDEX_OPEN] = "ev_open_",
        [KPID_INDEX_CASE] = "ev_case_",
        [KPID_INDEX_SUBJECT] = "ev_subject_",
    };
    const char *prefix;
    size_t p, n;

    if (kind == KPID_INDEX_ALL) {
        snprintf(name, KPID_INDEX_NAME_SIZE, "ev_activity_time");
        return;
    }
    prefix = prefixes[kind];
    p = strlen(prefix);
    n = strlen(activity);

    memcpy(name, prefix, p);
    if (p + n < KPID_INDEX_NAME_SIZE) {
        for (size_t i = 0; i <= n; i++)
            name[p + i] = (char)tolower((unsigned char)activity[i]);
        return;
    }
    /* Cut so that "_" and 8 hex digits fit in 63 characters. */
    size_t keep = KPID_INDEX_NAME_SIZE - 1 - p - 9;
    for (size_t i = 0; i < keep; i++)
        name[p + i] = (char)tolower((unsigned char)activity[i]);
    snprintf(name + p + keep, KPID_INDEX_NAME_SIZE - p - keep, "_%08x", name_hash(activity));
}

/* One index the model needs. */
typedef struct wanted {
    char name[KPID_INDEX_NAME_SIZE];
    kpid_index_kind kind;
    const char *activity; /* the model's */
    bool exists;          /* valid in the warehouse */
} wanted;

typedef struct wanted_set {
    wanted *v;
    size_t n, cap;
    int err;
} wanted_set;

static void want(void *arg, kpid_index_kind kind, const char *activity)
{
    wanted_set *set = arg;
    char name[KPID_INDEX_NAME_SIZE];

    kpid_index_name(kind, activity, name);
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].name, name) == 0)
            return;
    if (set->n == set->cap) {
        wanted *v = kpid_array_grow(set->v, &set->cap, sizeof(*v));
        if (!v) {
            set->err = -ENOMEM;
            return;
        }
        set->v = v;
    }
    set->v[set->n] = (wanted){.kind = kind, .activity = activity};
    memcpy(set->v[set->n].name, name, sizeof(name));
    set->n++;
}

static wanted *find(wanted_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].name, name) == 0)
            return &set->v[i];
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Makes the DDL with the server's format() and runs it with no statement_timeout (a
 * build over a long log takes what it takes; a stop shuts the connection).
 */
static int run_ddl(PGconn *conn, const char *maker, int n, const char *const *params,
                   const char *what, char **ret_error)
{
    PGresult *res = NULL;
    char *ddl;
    int r;

    if ((r = kpid_pg_query(conn, maker, n, params, &res, what, ret_error)) < 0)
        return r;
    ddl = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!ddl)
        return -ENOMEM;
    r = kpid_pg_query(conn, "SET statement_timeout = 0", 0, NULL, NULL, what, ret_error);
    if (r == 0)
        r = kpid_pg_query(conn, ddl, 0, NULL, NULL, what, ret_error);
    free(ddl);
    if (r == 0)
        r = kpid_pg_query(conn, "RESET statement_timeout", 0, NULL, NULL, what, ret_error);
    return r;
}

static int drop_index(PGconn *conn, const char *name, char **ret_error)
{
    const char *params[] = {name};
    double t0 = now_s();
    int r = run_ddl(conn, SQL_DROP, 1, params, "cannot drop an event index", ret_error);

    if (r == 0)
        log_info("event index dropped name=%s ms=%.0f", name, (now_s() - t0) * 1e3);
    return r;
}

static int create_index(PGconn *conn, const wanted *w, char **ret_error)
{
    const char *what = "cannot create an event index";
    double t0 = now_s();
    int r;

    if (w->kind == KPID_INDEX_ALL) {
        const char *params[] = {w->name};
        r = run_ddl(conn, SQL_CREATE_ALL, 1, params, what, ret_error);
    } else if (w->kind == KPID_INDEX_TIME || w->kind == KPID_INDEX_OPEN) {
        const char *params[] = {w->name, w->activity};
        r = run_ddl(conn, w->kind == KPID_INDEX_TIME ? SQL_CREATE_TIME : SQL_CREATE_OPEN, 2, params,
                    what, ret_error);
    } else {
        const char *params[] = {w->name, w->kind == KPID_INDEX_CASE ? "case_id" : "subject_id",
                                w->activity};
        r = run_ddl(conn, SQL_CREATE_LINKED, 3, params, what, ret_error);
    }
    if (r == 0)
        log_notice("event index created name=%s activity=%s ms=%.0f", w->name,
                   w->activity ? w->activity : "*", (now_s() - t0) * 1e3);
    return r;
}

/* Under the lock: what exists, what is missing, what is no longer read. */
static int sync_locked(PGconn *conn, wanted_set *set, char **ret_error)
{
    PGresult *res = NULL;
    char **stale = NULL;
    size_t n_stale = 0;
    int r;

    if ((r = kpid_pg_query(conn, SQL_EXISTING, 0, NULL, &res, "cannot list the event indexes",
                           ret_error)) < 0)
        return r;
    int n = PQntuples(res);
    stale = calloc((size_t)n + 1, sizeof(*stale));
    if (!stale) {
        PQclear(res);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(res, i, 0);
        bool valid = strcmp(PQgetvalue(res, i, 1), "t") == 0;
        wanted *w = find(set, name);
        if (w && valid)
            w->exists = true;
        else if (!(stale[n_stale++] = strdup(name)))
            r = -ENOMEM;
        if (w && !valid)
            log_notice("event index name=%s is invalid (a build that failed): building it again",
                       name);
    }
    PQclear(res);
    /* Invalid ones first (a name to build again), then the new ones, then the rest. */
    for (size_t i = 0; i < n_stale && r == 0; i++)
        if (find(set, stale[i]))
            r = drop_index(conn, stale[i], ret_error);
    for (size_t i = 0; i < set->n && r == 0; i++)
        if (!set->v[i].exists)
            r = create_index(conn, &set->v[i], ret_error);
    for (size_t i = 0; i < n_stale && r == 0; i++)
        if (!find(set, stale[i]))
            r = drop_index(conn, stale[i], ret_error);
    for (size_t i = 0; i < n_stale; i++)
        free(stale[i]);
    free(stale);
    return r;
}

int kpid_event_indexes_sync(PGconn *conn, const kpid_model *model, char **ret_error)
{
    wanted_set set = {0};
    char *unlock_error = NULL;
    int r;

    *ret_error = NULL;
    for (size_t i = 0; i < model->n_kpis; i++)
        kpid_kpi_indexes(model->kpis[i], want, &set);
    if (set.err < 0) {
        free(set.v);
        return set.err;
    }
    r = kpid_pg_query(conn, SQL_LOCK, 0, NULL, NULL, "cannot lock the event indexes", ret_error);
    if (r == 0) {
        r = sync_locked(conn, &set, ret_error);
        /* A failed statement leaves no transaction open (each runs on its own). */
        if (kpid_pg_query(conn, SQL_UNLOCK, 0, NULL, NULL, "unlock", &unlock_error) < 0)
            PQclear(PQexec(conn, "SELECT pg_advisory_unlock_all()"));
        free(unlock_error);
    }
    free(set.v);
    return r;
}
