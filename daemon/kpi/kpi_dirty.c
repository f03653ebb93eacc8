#include "kpi/kpi_dirty.h"
#include "buf/buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warehouse/pgconn.h"

/* Changes: committed after $1 (not visible in it; xids below its xmin are visible in
 * it) and visible in $2 (so below its xmax). Both bounds keep it an index range scan.
 * X is the transaction id as an xid8: kpid.event keeps it as a bigint (migration 11). */
#define CHANGED_XID(X, LO, HI)                                                     \
    " " LO " >= pg_snapshot_xmin($1::pg_snapshot)" HI " AND " LO                   \
    " < pg_snapshot_xmax($2::pg_snapshot)" HI " AND NOT pg_visible_in_snapshot(" X \
    ", $1::pg_snapshot)"                                                           \
    " AND pg_visible_in_snapshot(" X ", $2::pg_snapshot)"
#define EVENT_CHANGED CHANGED_XID("ingest_xid::text::xid8", "ingest_xid", "::text::bigint")
#define EVENT_CHANGE_CHANGED CHANGED_XID("ingest_xid", "ingest_xid", "")

static const char SQL_CHANGED_EXISTS[] = "SELECT to_regclass('pg_temp.kpid_changed') IS NOT NULL";
/* Every version of a changed event: is_old for the version before the changes (an
 * update's or a delete's), not for the current one (an insert's or an update's). */
static const char SQL_CHANGED_CREATE[] =
    "CREATE TEMP TABLE kpid_changed (source text COLLATE \"C\", event_key text COLLATE \"C\","
    " is_old boolean, case_id text COLLATE \"C\", subject_id text COLLATE \"C\","
    " activity text COLLATE \"C\", time timestamptz)";
static const char SQL_CHANGED_INDEX[] = "CREATE INDEX ON kpid_changed (case_id, activity, time)";
static const char SQL_CHANGED_KEYS[] = "CREATE INDEX ON kpid_changed (event_key)";
static const char SQL_CHANGED_LOAD[] =
    "INSERT INTO kpid_changed (source, event_key, is_old, case_id, subject_id, activity, time)"
    " SELECT source, event_key, false, case_id, subject_id, activity, time FROM kpid.event"
    " WHERE" EVENT_CHANGED " UNION ALL"
    " SELECT source, event_key, is_old, case_id, subject_id, activity, time"
    " FROM kpid.event_change WHERE" EVENT_CHANGE_CHANGED;

/*
 * Each statement returns (lo, hi) in epoch seconds: every period overlapping [lo, hi]
 * is dirty; lo NULL: no period; hi NULL: up to now. The activities are parameters.
 */

/* count, value: the changed events of the activity. */
static const char SQL_EVENTS[] =
    "SELECT DISTINCT extract(epoch FROM time)::float8, extract(epoch FROM time)::float8"
    " FROM kpid_changed WHERE activity = $1";

/* duration ($1 from, $2 to): a case's anchor is its first `from`; the changed `from`s
 * (an old anchor) and the current first `from` of each case with a changed `from` or
 * `to` (a new anchor, or the anchor whose end changed). */
static const char SQL_DURATION[] =
    "SELECT t, t FROM (SELECT extract(epoch FROM time)::float8 AS t FROM kpid_changed"
    " WHERE activity = $1"
    " UNION SELECT extract(epoch FROM (SELECT min(e.time) FROM kpid.event e"
    " WHERE e.case_id = c.case_id AND e.activity = $1))::float8"
    " FROM (SELECT DISTINCT case_id FROM kpid_changed WHERE case_id IS NOT NULL"
    " AND activity IN ($1, $2)) c) d";

/* proportion ($1 population, $2 activities of conditions linked by case, $3 by subject,
 * $4 the longest `within` of those in ms, 0: unlimited): the changed members; the
 * members of a case with a changed event of a case-linked condition; the members of the
 * same subject up to `within` before a changed event of a subject-linked condition.
 * With basis case, $2 also has the population's activity: a changed population event
 * can move its case's anchor (the first one) to another population event of the case. */
static const char SQL_PROPORTION[] =
    "SELECT t, t FROM (SELECT extract(epoch FROM time)::float8 AS t FROM kpid_changed"
    " WHERE activity = $1"
    " UNION SELECT extract(epoch FROM e.time)::float8 FROM"
    " (SELECT DISTINCT case_id FROM kpid_changed WHERE case_id IS NOT NULL"
    " AND activity = ANY ($2::text[])) c"
    " JOIN kpid.event e ON e.case_id = c.case_id AND e.activity = $1"
    " UNION SELECT extract(epoch FROM e.time)::float8 FROM kpid_changed c"
    " JOIN kpid.event e ON e.subject_id = c.subject_id AND e.activity = $1"
    " AND e.time < c.time AND ($4::bigint = 0 OR e.time >= c.time - $4::bigint * interval '1 ms')"
    " WHERE c.subject_id IS NOT NULL AND c.activity = ANY ($3::text[])) d";

/*
 * census ($1 from, $2 to): per case with a changed `from` or `to`, its stay before the
 * changes and after them: opening o = the first `from`, closing c = the first `to` at or
 * after o. The case as it was is its current events that did not change and the old
 * versions of those that did. Periods from the earlier opening to the later closing are
 * dirty; up to now when either stay has no closing (the case is or was open).
 */
#define OLD_STATE(A, EXTRA)                                                                 \
    "(SELECT min(t) FROM (SELECT e.time AS t FROM kpid.event e WHERE e.case_id = s.case_id" \
    " AND e.activity = " A EXTRA " AND NOT EXISTS (SELECT FROM kpid_changed x"              \
    " WHERE x.event_key = e.event_key AND x.source = e.source)"                             \
    " UNION ALL SELECT x.time FROM kpid_changed x WHERE x.case_id = s.case_id"              \
    " AND x.activity = " A " AND x.is_old" EXTRA ") v)"
static const char SQL_CENSUS[] =
    "SELECT extract(epoch FROM least(o_old, o_new))::float8,"
    " CASE WHEN (o_old IS NOT NULL AND c_old IS NULL) OR (o_new IS NOT NULL AND c_new IS NULL)"
    " THEN NULL ELSE extract(epoch FROM greatest(c_old, c_new))::float8 END"
    " FROM (SELECT s.o_old, s.o_new,"
    " " OLD_STATE(
        "$2",
        " AND time >= s.o_old") " AS c_old,"
                                " (SELECT min(e.time) FROM kpid.event e WHERE e.case_id = s.case_id AND e.activity = $2"
                                " AND e.time >= s.o_new) AS c_new"
                                " FROM (SELECT s.case_id, " OLD_STATE(
                                    "$1",
                                    "") " AS o_old,"
                                        " (SELECT min(e.time) FROM kpid.event e WHERE e.case_id = s.case_id AND e.activity = $1)"
                                        " AS o_new"
                                        " FROM (SELECT DISTINCT case_id FROM kpid_changed WHERE case_id IS NOT NULL"
                                        " AND activity IN ($1, $2)) s) s) t"
                                        " WHERE o_old IS NOT NULL OR o_new IS NOT NULL";

/* sql: the operator's query may read anything; the periods of every changed event. */
static const char SQL_ANY[] =
    "SELECT DISTINCT extract(epoch FROM time)::float8, extract(epoch FROM time)::float8"
    " FROM kpid_changed";

/*
 * New rows fill new block ranges of kpid.event, and a range that its BRIN index on
 * ingest_xid has no summary for yet matches every scan of that index: until a vacuum
 * summarizes them (autovacuum comes after 20 % of the table's rows are new: 2M rows in
 * a 10M-event log), each tick of each process would read every page written since.
 * Summarized here, they are read once, and later scans skip those without a change. It
 * takes the lock of VACUUM and CREATE INDEX CONCURRENTLY: NOWAIT, so that a tick never
 * waits behind one of those (or another process's summarization); it then reads the
 * ranges as they are. One round trip; kpid_changes_summarize rolls back what an error
 * left open.
 */
static const char SQL_SUMMARIZE[] =
    "BEGIN; LOCK TABLE kpid.event IN SHARE UPDATE EXCLUSIVE MODE NOWAIT;"
    " SELECT pg_catalog.brin_summarize_new_values('kpid.event_ingest_xid_brin'::regclass);"
    " COMMIT";

int kpid_changes_summarize(PGconn *conn, char **ret_error)
{
    const char *state = NULL, *message = NULL;
    PGTransactionStatusType ts;
    bool busy;

    *ret_error = NULL;
    if (kpid_pg_exec(conn, SQL_SUMMARIZE, &state, &message) == 0)
        return 0;
    busy = state && strcmp(state, "55P03") == 0; /* lock_not_available */
    if (!busy)
        kpid_pg_fail(ret_error, "summarize", message);
    ts = PQtransactionStatus(conn);
    if (ts == PQTRANS_INERROR || ts == PQTRANS_INTRANS)
        PQclear(PQexec(conn, "ROLLBACK"));
    return busy ? 1 : -EIO;
}

/* A command of the changes' temporary table, without parameters or result. */
static int changes_exec(PGconn *conn, const char *sql, char **ret_error)
{
    return kpid_pg_query(conn, sql, 0, NULL, NULL, "changes", ret_error);
}

int kpid_changes_load(PGconn *conn, const char *prev, const char *now, int64_t *ret_n,
                      char **ret_error)
{
    const char *params[] = {prev, now};
    PGresult *res = NULL;
    bool exists;
    int r;

    *ret_error = NULL;
    if ((r = kpid_pg_query(conn, SQL_CHANGED_EXISTS, 0, NULL, &res, "changes", ret_error)) < 0)
        return r;
    exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!exists && ((r = changes_exec(conn, SQL_CHANGED_CREATE, ret_error)) < 0 ||
                    (r = changes_exec(conn, SQL_CHANGED_INDEX, ret_error)) < 0 ||
                    (r = changes_exec(conn, SQL_CHANGED_KEYS, ret_error)) < 0))
        return r;
    if ((r = changes_exec(conn, "TRUNCATE kpid_changed", ret_error)) < 0 ||
        (r = kpid_pg_query(conn, SQL_CHANGED_LOAD, 2, params, &res, "changes", ret_error)) < 0)
        return r;
    *ret_n = kpid_pg_cmd_rows(res);
    PQclear(res);
    /* The rules join it with kpid.event: the planner should know its size. */
    if (*ret_n > 0 && (r = changes_exec(conn, "ANALYZE kpid_changed", ret_error)) < 0)
        return r;
    return 0;
}

/* A growing set of periods. */
typedef struct period_set {
    kpid_interval *v;
    size_t n, cap;
} period_set;

static int set_add(period_set *s, const kpid_interval *iv)
{
    if (s->n == s->cap) {
        kpid_interval *v = kpid_array_grow(s->v, &s->cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
    }
    s->v[s->n++] = *iv;
    return 0;
}

static int cmp_interval(const void *a, const void *b)
{
    const kpid_interval *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Adds the periods of kpi overlapping [lo, hi] that start at or before now_s. */
static int add_range(const kpid_kpi *kpi, int64_t lo, int64_t hi, int64_t now_s, period_set *s)
{
    const kpid_tz *tz = kpi->process->tz;
    kpid_interval iv;
    int r;

    if (hi > now_s)
        hi = now_s;
    /* A period outside the years the periods can name is no period of any value. */
    if (kpid_period_containing(&kpi->period, tz, lo, &iv) < 0)
        return 0;
    while (iv.start <= hi) {
        if ((r = set_add(s, &iv)) < 0)
            return r;
        if (kpid_period_next(&kpi->period, tz, &iv, &iv) < 0)
            break;
    }
    return 0;
}

/* Writes the activities of the conditions with link into buf as a text[] literal
 * (activities are [A-Z0-9_]+, so they need no quoting), first, when given, also; and
 * raises *max_within. */
static void condition_array(const kpid_kpi *kpi, kpid_link link, const char *also, char *buf,
                            size_t len, int64_t *max_within, bool *unlimited)
{
    size_t used = 0;

    buf[used++] = '{';
    if (also)
        used += (size_t)snprintf(buf + used, len - used, "%s", also);
    for (int p = KPID_POP_DENOMINATOR; p < KPID_POP_COUNT; p++) {
        const kpid_condition *c = &kpi->u.proportion.populations[p];
        if (!c->present || c->link != link)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used > 1 ? "," : "", c->activity);
        if (c->within_ms == 0)
            *unlimited = true;
        else if (c->within_ms > *max_within)
            *max_within = c->within_ms;
    }
    snprintf(buf + used, len - used, "}");
}

/* The dirty periods of one non-ratio KPI, added to s. */
static int kpi_rows(PGconn *conn, const kpid_kpi *kpi, int64_t now_s, period_set *s,
                    char **ret_error)
{
    /* Up to 4 conditions and the population, 64-byte activities each, with commas and
     * braces. */
    char by_case[5 * (KPID_MODEL_ACTIVITY_MAX + 1) + 3];
    char by_subject[sizeof(by_case)], within[32];
    const char *params[4] = {0};
    const char *sql;
    bool ranges = false;
    PGresult *res = NULL;
    int n = 0, r;

    switch (kpi->type) {
    case KPID_KPI_COUNT:
        sql = SQL_EVENTS;
        params[n++] = kpi->u.count.activity;
        break;
    case KPID_KPI_VALUE:
        sql = SQL_EVENTS;
        params[n++] = kpi->u.value.activity;
        break;
    case KPID_KPI_DURATION:
        sql = SQL_DURATION;
        params[n++] = kpi->u.duration.from;
        params[n++] = kpi->u.duration.to;
        break;
    case KPID_KPI_PROPORTION: {
        int64_t max_within = 0;
        bool unlimited = false, unused = false;
        const char *pop = kpi->u.proportion.populations[KPID_POP_INITIAL].activity;
        condition_array(kpi, KPID_LINK_CASE,
                        kpi->u.proportion.basis == KPID_BASIS_CASE ? pop : NULL, by_case,
                        sizeof(by_case), &max_within, &unused);
        max_within = 0;
        condition_array(kpi, KPID_LINK_SUBJECT, NULL, by_subject, sizeof(by_subject), &max_within,
                        &unlimited);
        snprintf(within, sizeof(within), "%lld", unlimited ? 0LL : (long long)max_within);
        sql = SQL_PROPORTION;
        params[n++] = kpi->u.proportion.populations[KPID_POP_INITIAL].activity;
        params[n++] = by_case;
        params[n++] = by_subject;
        params[n++] = within;
        break;
    }
    case KPID_KPI_CENSUS:
        sql = SQL_CENSUS;
        params[n++] = kpi->u.census.from;
        params[n++] = kpi->u.census.to;
        ranges = true;
        break;
    case KPID_KPI_SQL: sql = SQL_ANY; break;
    default: return 0;
    }
    if ((r = kpid_pg_query(conn, sql, n, params, &res, kpi->id, ret_error)) < 0)
        return r;
    for (int i = 0; i < PQntuples(res) && r == 0; i++) {
        double lo, hi;
        if (PQgetisnull(res, i, 0))
            continue;
        lo = floor(strtod(PQgetvalue(res, i, 0), NULL));
        hi = PQgetisnull(res, i, 1) ? (double)now_s : strtod(PQgetvalue(res, i, 1), NULL);
        /* A census range ends at a closing instant, which its period does not contain
         * when it is a boundary: that period is not dirty; a point is. */
        if (ranges && hi > lo)
            hi = ceil(hi) - 1;
        r = add_range(kpi, (int64_t)lo, (int64_t)hi, now_s, s);
    }
    PQclear(res);
    return r;
}

static int collect(PGconn *conn, const kpid_kpi *kpi, int64_t now_s, period_set *s, int depth,
                   char **ret_error)
{
    int r;

    if (kpi->period.kind == KPID_PERIOD_ROLLING)
        return 0;
    if (kpi->type != KPID_KPI_RATIO)
        return kpi_rows(conn, kpi, now_s, s, ret_error);
    /* The model has no cycles; the depth only guards against a broken one. */
    if (depth > 16)
        return kpid_pg_fail(ret_error, kpi->id, "ratio nested too deeply");
    if ((r = collect(conn, kpi->u.ratio.numerator_kpi, now_s, s, depth + 1, ret_error)) < 0)
        return r;
    return collect(conn, kpi->u.ratio.denominator_kpi, now_s, s, depth + 1, ret_error);
}

int kpid_kpi_dirty(PGconn *conn, const kpid_kpi *kpi, int64_t now_s, kpid_interval **ret_periods,
                   size_t *ret_n, char **ret_error)
{
    period_set s = {0};
    size_t n = 0;
    int r;

    *ret_error = NULL;
    if ((r = collect(conn, kpi, now_s, &s, 0, ret_error)) < 0) {
        free(s.v);
        return r;
    }
    if (s.n > 1)
        qsort(s.v, s.n, sizeof(*s.v), cmp_interval);
    for (size_t i = 0; i < s.n; i++)
        if (n == 0 || s.v[i].start != s.v[n - 1].start)
            s.v[n++] = s.v[i];
    *ret_periods = s.v;
    *ret_n = n;
    return 0;
}
