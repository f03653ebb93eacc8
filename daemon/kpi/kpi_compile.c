#include "kpi/kpi_compile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every value statement has the shape
 *
 *   SELECT <stratum>, <value>, <numerator>, <denominator>, <n>, <excluded_incomplete>
 *   FROM (<one row per member of the population, with its stratum attributes s1..s3>) q
 *   [WHERE <member filter>]
 *   GROUP BY GROUPING SETS ((), (s1, ...))
 *
 * so that the whole population and every stratum come from one scan. The members
 * statement selects from the same member subquery (members_*), one row per member with
 * a boolean per population. Where members can lack what a rule follows (proportion,
 * duration, census), the subquery keeps them with inc = true: the value statement
 * counts them apart, the members statement leaves them out.
 */

typedef struct builder {
    kpid_sql *sql;
    int err;
} builder;

static void put(builder *b, const char *text)
{
    if (b->err == 0)
        b->err = kpid_buf_append(&b->sql->text, text, strlen(text));
}

static void putf(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(builder *b, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;

    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (b->err == 0)
            b->err = -ENOMEM;
        return;
    }
    put(b, text);
    free(text);
}

/* Adds a parameter (copied) and returns its number, $3 and up; 0 on error. */
static int param(builder *b, const char *value)
{
    kpid_sql *s = b->sql;
    char *copy;

    if (b->err)
        return 0;
    if (s->n_params == KPID_SQL_PARAMS_MAX) {
        b->err = -E2BIG;
        return 0;
    }
    copy = strdup(value);
    if (!copy) {
        b->err = -ENOMEM;
        return 0;
    }
    s->params[s->n_params++] = copy;
    return (int)s->n_params + 2;
}

static int param_double(builder *b, double v)
{
    char tmp[40];
    snprintf(tmp, sizeof(tmp), "%.17g", v);
    return param(b, tmp);
}

/* A duration in milliseconds as an interval parameter. */
static int param_interval(builder *b, int64_t ms)
{
    char tmp[48];
    snprintf(tmp, sizeof(tmp), "%" PRId64 " milliseconds", ms);
    return param(b, tmp);
}

/* A text[] literal of the values: {"a","b\"c"}. */
static int param_array(builder *b, char *const *values, size_t n)
{
    kpid_buf lit = {0};
    int r = kpid_buf_putc(&lit, '{');

    for (size_t i = 0; i < n && r == 0; i++) {
        if (i)
            r = kpid_buf_putc(&lit, ',');
        if (r == 0)
            r = kpid_buf_putc(&lit, '"');
        for (const char *p = values[i]; *p && r == 0; p++) {
            if (*p == '"' || *p == '\\')
                r = kpid_buf_putc(&lit, '\\');
            if (r == 0)
                r = kpid_buf_putc(&lit, *p);
        }
        if (r == 0)
            r = kpid_buf_putc(&lit, '"');
    }
    if (r == 0)
        r = kpid_buf_append(&lit, "}", 2); /* with the NUL */
    int n_param = 0;
    if (r == 0)
        n_param = param(b, lit.data);
    else if (b->err == 0)
        b->err = r;
    kpid_buf_free(&lit);
    return n_param;
}

/* The parameters of a list of filters, made once so that the same filters can be put on
 * more than one event alias. */
#define FILTERS_MAX (KPID_SQL_PARAMS_MAX / 2)
typedef struct filter_params {
    int attr[FILTERS_MAX], values[FILTERS_MAX];
} filter_params;

static void make_filter_params(builder *b, const kpid_filter *f, size_t n, filter_params *k)
{
    if (n > FILTERS_MAX) {
        if (b->err == 0)
            b->err = -E2BIG;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        k->attr[i] = param(b, f[i].attr);
        k->values[i] = f[i].op == KPID_FILTER_EQUALS ? param(b, f[i].values[0])
                                                     : param_array(b, f[i].values, f[i].n_values);
    }
}

/* AND-ed attribute filters on the event alias, with the parameters of k. */
static void put_filter_conds(builder *b, const char *alias, const kpid_filter *f, size_t n,
                             const filter_params *k)
{
    for (size_t i = 0; i < n && i < FILTERS_MAX; i++) {
        switch (f[i].op) {
        case KPID_FILTER_EQUALS:
            putf(b, " AND %s.attrs ->> $%d = $%d", alias, k->attr[i], k->values[i]);
            break;
        case KPID_FILTER_IN:
            putf(b, " AND %s.attrs ->> $%d = ANY ($%d::text[])", alias, k->attr[i], k->values[i]);
            break;
        case KPID_FILTER_NOT_IN:
            putf(b, " AND (%s.attrs ->> $%d IS NULL OR NOT %s.attrs ->> $%d = ANY ($%d::text[]))",
                 alias, k->attr[i], alias, k->attr[i], k->values[i]);
            break;
        }
    }
}

/* AND-ed attribute filters on the event alias, with parameters of their own. */
static void put_filters(builder *b, const char *alias, const kpid_filter *f, size_t n)
{
    filter_params k;

    make_filter_params(b, f, n, &k);
    put_filter_conds(b, alias, f, n, &k);
}

/* Parameters for the stratum attribute names, numbered into keys[]. Parameters are
 * numbered as they are made, not as they appear in the text. */
static void strata_keys(builder *b, const kpid_kpi *kpi, int keys[])
{
    for (size_t i = 0; i < kpi->n_stratify; i++)
        keys[i] = param(b, kpi->stratify[i]);
}

/* The stratum attributes of the anchor event e, as columns s1..sN of the member row. */
static void put_strata_columns(builder *b, const kpid_kpi *kpi, const int keys[])
{
    for (size_t i = 0; i < kpi->n_stratify; i++)
        putf(b, ", e.attrs ->> $%d AS s%zu", keys[i], i + 1);
}

/* The stratum of a group, from the columns s1..sN. */
static void put_stratum_expr(builder *b, const kpid_kpi *kpi, const int keys[])
{
    if (kpi->n_stratify == 0) {
        put(b, "'{}'::jsonb AS stratum");
        return;
    }
    put(b, "CASE WHEN GROUPING(s1) = 1 THEN '{}'::jsonb ELSE jsonb_build_object(");
    for (size_t i = 0; i < kpi->n_stratify; i++)
        putf(b, "%s$%d::text, s%zu", i ? ", " : "", keys[i], i + 1);
    put(b, ") END AS stratum");
}

static void put_group_by(builder *b, const kpid_kpi *kpi)
{
    put(b, " GROUP BY GROUPING SETS (()");
    if (kpi->n_stratify) {
        put(b, ", (");
        for (size_t i = 0; i < kpi->n_stratify; i++)
            putf(b, "%ss%zu", i ? ", " : "", i + 1);
        put(b, ")");
    }
    put(b, ")");
}

/* The anchor events: of activity, in the period [$1, $2), passing the KPI's filters. */
static void put_anchor(builder *b, const kpid_kpi *kpi, int activity)
{
    putf(b, " FROM kpid.event e WHERE e.activity = $%d AND e.time >= $1 AND e.time < $2",
         activity);
    put_filters(b, "e", kpi->filters, kpi->n_filters);
}

/*
 * "e is its case's first event of activity": ties go by (time, source, event_key). An
 * anchor without a case_id is kept as a member that cannot be followed (inc): always
 * (null_from NULL), or only when it is at or after null_from (census: openings within
 * the period, not those of the lookback before it).
 */
static void put_first_of_case(builder *b, int activity, const char *null_from)
{
    if (null_from)
        putf(b, " AND (e.case_id IS NULL AND e.time >= %s OR e.case_id IS NOT NULL AND", null_from);
    else
        put(b, " AND (e.case_id IS NULL OR");
    /* OFFSET 0 keeps this a probe of the (case_id, activity, time) index per anchor:
     * as an anti-join the planner would hash every event of the activity ever stored. */
    putf(b, " NOT EXISTS (SELECT 1 FROM kpid.event p"
            " WHERE p.case_id = e.case_id AND p.activity = $%d"
            " AND (p.time, p.source, p.event_key) < (e.time, e.source, e.event_key) OFFSET 0))",
         activity);
}

/* The time of the case's first event of activity at or after e's. */
static void put_first_after(builder *b, int activity)
{
    putf(b, "(SELECT min(t.time) FROM kpid.event t WHERE t.case_id = e.case_id"
            " AND t.activity = $%d AND t.time >= e.time)",
         activity);
}

/* An aggregate of column col for avg, median, pNN, min, max, sum, over the rows where
 * filter holds (NULL: all). A sum over no value is 0 (a total); the others are NULL. */
static void put_aggregate(builder *b, kpid_statistic st, int percentile, const char *col,
                          const char *filter)
{
    switch (st) {
    case KPID_STAT_AVG: putf(b, "avg(%s)", col); break;
    case KPID_STAT_MIN: putf(b, "min(%s)", col); break;
    case KPID_STAT_MAX: putf(b, "max(%s)", col); break;
    case KPID_STAT_SUM: putf(b, "coalesce(sum(%s)", col); break;
    case KPID_STAT_MEDIAN:
    case KPID_STAT_PERCENTILE:
        putf(b, "percentile_cont($%d::float8) WITHIN GROUP (ORDER BY %s)",
             param_double(b, (double)percentile / 100.0), col);
        break;
    default:
        if (b->err == 0)
            b->err = -EINVAL;
        break;
    }
    if (filter)
        putf(b, " FILTER (WHERE %s)", filter);
    if (st == KPID_STAT_SUM)
        put(b, ", 0)");
}

/* Seconds per unit of a duration KPI: s, min, h, d; minutes otherwise. */
static double unit_seconds(const char *unit)
{
    if (unit && strcmp(unit, "s") == 0)
        return 1;
    if (unit && strcmp(unit, "h") == 0)
        return 3600;
    if (unit && strcmp(unit, "d") == 0)
        return 86400;
    return 60;
}

/* [NOT] EXISTS (an event of the condition linked to the anchor e). */
static void put_condition(builder *b, const kpid_condition *c)
{
    putf(b, "%sEXISTS (SELECT 1 FROM kpid.event x WHERE x.activity = $%d", c->negate ? "NOT " : "",
         param(b, c->activity));
    if (c->link == KPID_LINK_CASE) {
        put(b, " AND x.case_id = e.case_id");
        if (c->within_ms > 0)
            putf(b, " AND x.time >= e.time AND x.time <= e.time + $%d::interval",
                 param_interval(b, c->within_ms));
    } else {
        put(b, " AND x.subject_id = e.subject_id AND x.time > e.time");
        if (c->within_ms > 0)
            putf(b, " AND x.time <= e.time + $%d::interval", param_interval(b, c->within_ms));
    }
    put_filters(b, "x", c->filters, c->n_filters);
    put(b, ")");
}

/*
 * The populations of each type (docs/kpi-semantics.md, "n, and the populations behind a
 * value"): their FHIR measure-population codes and, for the members statement, each
 * one's condition over a member row q of the type's member subquery.
 */
typedef struct population {
    const char *code;
    const char *cond;
} population;

static const population count_pops[] = {{"initial-population", "true"}};
static const population proportion_pops[] = {
    {"initial-population", "true"},
    {"denominator", "d"},
    {"denominator-exclusion", "d AND dx"},
    {"numerator", "d AND NOT dx AND nm"},
    {"numerator-exclusion", "d AND NOT dx AND nm AND nx"},
};
static const population duration_pops[] = {
    {"initial-population", "true"},
    {"measure-population", "d IS NOT NULL"},
};
static const population within_pops[] = {
    {"initial-population", "true"},
    {"denominator", "true"},
    {"numerator", "coalesce(ok, false)"},
};
static const population value_pops[] = {
    {"initial-population", "true"},
    {"measure-population", "v IS NOT NULL"},
};
static const population census_pops[] = {{"initial-population", "true"}};
static const population ratio_pops[] = {{"numerator", NULL}, {"denominator", NULL}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The populations of kpi; none (NULL, 0) for an sql KPI. */
static const population *populations(const kpid_kpi *kpi, size_t *ret_n)
{
    const population *p = NULL;
    size_t n = 0;

    switch (kpi->type) {
    case KPID_KPI_COUNT: p = count_pops, n = N_OF(count_pops); break;
    case KPID_KPI_PROPORTION: p = proportion_pops, n = N_OF(proportion_pops); break;
    case KPID_KPI_DURATION:
        if (kpi->u.duration.statistic == KPID_STAT_WITHIN)
            p = within_pops, n = N_OF(within_pops);
        else
            p = duration_pops, n = N_OF(duration_pops);
        break;
    case KPID_KPI_VALUE: p = value_pops, n = N_OF(value_pops); break;
    case KPID_KPI_CENSUS: p = census_pops, n = N_OF(census_pops); break;
    case KPID_KPI_RATIO: p = ratio_pops, n = N_OF(ratio_pops); break;
    case KPID_KPI_SQL: break;
    }
    *ret_n = n;
    return p;
}

size_t kpid_kpi_population_count(const kpid_kpi *kpi)
{
    size_t n;
    (void)populations(kpi, &n);
    return n;
}

const char *kpid_kpi_population_code(const kpid_kpi *kpi, size_t i)
{
    size_t n;
    const population *p = populations(kpi, &n);
    return i < n ? p[i].code : NULL;
}

/*
 * The member subqueries, "(SELECT ...) q": one row per member of the KPI's initial
 * population with its case_id, subject_id, stratum attributes s1..sN and the columns
 * the type's populations and value need. They are the one definition of who is a member:
 * the value statement aggregates them, the members statement lists them.
 */
static void members_count(builder *b, const kpid_kpi *kpi, const int keys[])
{
    put(b, "(SELECT e.case_id, e.subject_id");
    put_strata_columns(b, kpi, keys);
    put_anchor(b, kpi, param(b, kpi->u.count.activity));
    put(b, ") q");
}

/* v: the event's value, NULL when it has none (measure-population: v IS NOT NULL). */
static void members_value(builder *b, const kpid_kpi *kpi, const int keys[])
{
    put(b, "(SELECT e.case_id, e.subject_id, e.value AS v");
    put_strata_columns(b, kpi, keys);
    put_anchor(b, kpi, param(b, kpi->u.value.activity));
    put(b, ") q");
}

/* Whether the members of kpi's type may be left out as incomplete: their subquery has
 * the column inc and the value statement counts them as excluded_incomplete. */
static bool has_incomplete(const kpid_kpi *kpi)
{
    return kpi->type == KPID_KPI_PROPORTION || kpi->type == KPID_KPI_DURATION ||
           kpi->type == KPID_KPI_CENSUS;
}

/* inc: the anchor has no case_id, so the case cannot be followed; d: the case's duration
 * in the KPI's unit, NULL without an end (or without a case); ok (statistic within
 * only): d is at most the limit. */
static void members_duration(builder *b, const kpid_kpi *kpi, const int keys[])
{
    bool within = kpi->u.duration.statistic == KPID_STAT_WITHIN;
    int from = param(b, kpi->u.duration.from);

    put(b, within ? "(SELECT m.*, m.d <= " : "");
    if (within)
        putf(b, "$%d::float8 AS ok FROM ",
             param_double(b, (double)kpi->u.duration.within_ms / 1000.0 /
                                 unit_seconds(kpi->unit)));
    put(b, "(SELECT e.case_id, e.subject_id, e.case_id IS NULL AS inc, extract(epoch FROM ");
    put_first_after(b, param(b, kpi->u.duration.to));
    putf(b, " - e.time)::float8 / $%d::float8 AS d", param_double(b, unit_seconds(kpi->unit)));
    put_strata_columns(b, kpi, keys);
    put_anchor(b, kpi, from);
    put_first_of_case(b, from, NULL);
    put(b, within ? ") m) q" : ") q");
}

/* Whether a present condition of a proportion follows link. */
static bool needs_link(const kpid_kpi *kpi, kpid_link link)
{
    for (int i = KPID_POP_DENOMINATOR; i < KPID_POP_COUNT; i++) {
        const kpid_condition *c = &kpi->u.proportion.populations[i];
        if (c->present && c->link == link)
            return true;
    }
    return false;
}

/*
 * inc of a proportion member: what its basis groups by is missing (a case, a subject),
 * or the anchor lacks the case or subject a condition follows.
 */
static void put_proportion_inc(builder *b, const kpid_kpi *kpi)
{
    kpid_basis basis = kpi->u.proportion.basis;
    bool by_case = basis == KPID_BASIS_CASE || needs_link(kpi, KPID_LINK_CASE);
    bool by_subject = basis == KPID_BASIS_SUBJECT || needs_link(kpi, KPID_LINK_SUBJECT);

    if (!by_case && !by_subject) {
        put(b, "false");
        return;
    }
    putf(b, "(%s%s%s)", by_case ? "e.case_id IS NULL" : "", by_case && by_subject ? " OR " : "",
         by_subject ? "e.subject_id IS NULL" : "");
}

/*
 * inc (put_proportion_inc); d, dx, nm, nx: the member meets the condition of the
 * denominator, ... The anchors: every population event of the period (basis event),
 * each case's first population event, if it is in the period (case), or each subject's
 * first population event in the period (subject); ties by (time, source, event_key).
 * Population events without what the basis groups by are kept, as incomplete members.
 */
static void members_proportion(builder *b, const kpid_kpi *kpi, const int keys[])
{
    const kpid_condition *pop = kpi->u.proportion.populations;
    kpid_basis basis = kpi->u.proportion.basis;
    static const char *const names[] = {
        [KPID_POP_DENOMINATOR] = "d",
        [KPID_POP_DENOMINATOR_EXCLUSION] = "dx",
        [KPID_POP_NUMERATOR] = "nm",
        [KPID_POP_NUMERATOR_EXCLUSION] = "nx",
    };
    filter_params kf, pf;

    put(b, "(SELECT e.case_id, e.subject_id, ");
    put_proportion_inc(b, kpi);
    put(b, " AS inc");
    for (int i = KPID_POP_DENOMINATOR; i <= KPID_POP_NUMERATOR_EXCLUSION; i++) {
        put(b, ", ");
        if (pop[i].present)
            put_condition(b, &pop[i]);
        else /* no denominator: all of the population; no exclusion: nobody */
            put(b, i == KPID_POP_DENOMINATOR ? "true" : "false");
        putf(b, " AS %s", names[i]);
    }
    put_strata_columns(b, kpi, keys);
    int act = param(b, pop[KPID_POP_INITIAL].activity);
    putf(b, " FROM kpid.event e WHERE e.activity = $%d AND e.time >= $1 AND e.time < $2", act);
    make_filter_params(b, kpi->filters, kpi->n_filters, &kf);
    make_filter_params(b, pop[KPID_POP_INITIAL].filters, pop[KPID_POP_INITIAL].n_filters, &pf);
    put_filter_conds(b, "e", kpi->filters, kpi->n_filters, &kf);
    put_filter_conds(b, "e", pop[KPID_POP_INITIAL].filters, pop[KPID_POP_INITIAL].n_filters, &pf);
    if (basis != KPID_BASIS_EVENT) {
        /* No earlier population event of the same case (at any time) or subject (in the
         * period). OFFSET 0: a probe of the case or subject index per anchor. */
        const char *id = basis == KPID_BASIS_CASE ? "case_id" : "subject_id";
        putf(b, " AND (e.%s IS NULL OR NOT EXISTS (SELECT 1 FROM kpid.event p"
                " WHERE p.%s = e.%s AND p.activity = $%d%s",
             id, id, id, act, basis == KPID_BASIS_SUBJECT ? " AND p.time >= $1" : "");
        put_filter_conds(b, "p", kpi->filters, kpi->n_filters, &kf);
        put_filter_conds(b, "p", pop[KPID_POP_INITIAL].filters, pop[KPID_POP_INITIAL].n_filters,
                         &pf);
        put(b, " AND (p.time, p.source, p.event_key) < (e.time, e.source, e.event_key)"
               " OFFSET 0))");
    }
    put(b, ") q");
}

/*
 * inc: an opening in the period without a case_id; o, c: the case's opening and closing
 * (NULL while open); cases open during some part of the period, opened at most lookback
 * before its start. A case is open during [o, c): one closed at its opening never is.
 *
 * The openings of the whole lookback are many, and most of their stays closed before
 * the period: they are read from ev_open_<from> (time, with the case_id), the close of
 * each from ev_case_<to>, and whether it is its case's first opening from
 * ev_case_<from>, all index-only once the log is vacuumed. Only the stays left are
 * looked up again for the opening's patient and attributes (its first event at that
 * time by (source, event_key), as the tie rule says), where the filters apply.
 */
static void members_census(builder *b, const kpid_kpi *kpi, const int keys[])
{
    int from = param(b, kpi->u.census.from);
    int to = param(b, kpi->u.census.to);
    int lookback = param_interval(b, kpi->u.census.lookback_ms);
    filter_params kf;

    make_filter_params(b, kpi->filters, kpi->n_filters, &kf);
    putf(b, "(SELECT m.case_id, e.subject_id, false AS inc, m.o, m.c");
    put_strata_columns(b, kpi, keys);
    putf(b, " FROM (SELECT DISTINCT a.case_id, a.o, a.c FROM (SELECT x.case_id, x.time AS o,"
            " (SELECT min(t.time) FROM kpid.event t WHERE t.case_id = x.case_id"
            " AND t.activity = $%d AND t.time >= x.time) AS c"
            " FROM kpid.event x WHERE x.activity = $%d AND x.case_id IS NOT NULL"
            " AND x.time >= $1::timestamptz - $%d::interval AND x.time < $2 OFFSET 0) a",
         to, from, lookback);
    /* OFFSET 0 above: the filter on c must not be pushed down, which would copy c's
     * subquery. */
    putf(b, " WHERE (a.c IS NULL OR (a.c > $1 AND a.c > a.o)) AND NOT EXISTS (SELECT 1"
            " FROM kpid.event p WHERE p.case_id = a.case_id AND p.activity = $%d"
            " AND p.time < a.o)) m",
         from);
    putf(b, " CROSS JOIN LATERAL (SELECT f.subject_id, f.attrs FROM kpid.event f"
            " WHERE f.case_id = m.case_id AND f.activity = $%d AND f.time = m.o"
            " ORDER BY f.source, f.event_key LIMIT 1) e WHERE true",
         from);
    put_filter_conds(b, "e", kpi->filters, kpi->n_filters, &kf);
    /* Openings in the period without a case: members that cannot be followed. */
    put(b, " UNION ALL SELECT NULL, e.subject_id, true, e.time, NULL::timestamptz");
    put_strata_columns(b, kpi, keys);
    putf(b, " FROM kpid.event e WHERE e.activity = $%d AND e.case_id IS NULL"
            " AND e.time >= $1 AND e.time < $2",
         from);
    put_filter_conds(b, "e", kpi->filters, kpi->n_filters, &kf);
    put(b, ") q");
}

/* The member subquery of kpi, or -ENOTSUP for ratio and sql KPIs. */
static void put_members(builder *b, const kpid_kpi *kpi, const int keys[])
{
    switch (kpi->type) {
    case KPID_KPI_COUNT: members_count(b, kpi, keys); break;
    case KPID_KPI_PROPORTION: members_proportion(b, kpi, keys); break;
    case KPID_KPI_DURATION: members_duration(b, kpi, keys); break;
    case KPID_KPI_VALUE: members_value(b, kpi, keys); break;
    case KPID_KPI_CENSUS: members_census(b, kpi, keys); break;
    case KPID_KPI_RATIO:
    case KPID_KPI_SQL:
        if (b->err == 0)
            b->err = -ENOTSUP;
        break;
    }
}

static void compile_count(builder *b, const kpid_kpi *kpi)
{
    static const char *const agg[] = {
        [KPID_COUNT_EVENTS] = "count(*)",
        [KPID_COUNT_CASES] = "count(DISTINCT case_id)",
        [KPID_COUNT_SUBJECTS] = "count(DISTINCT subject_id)",
    };
    int keys[KPID_MODEL_STRATIFY_MAX];

    strata_keys(b, kpi, keys);
    put(b, "SELECT ");
    put_stratum_expr(b, kpi, keys);
    putf(b, ", %s::float8 AS value, NULL::float8 AS numerator, NULL::float8 AS denominator,"
            " count(*) AS n, NULL::bigint AS excluded_incomplete FROM ",
         agg[kpi->u.count.count]);
    members_count(b, kpi, keys);
    put_group_by(b, kpi);
}

/* Every event of the activity is a member, with a value or not: a stratum whose events
 * have none has its row (n 0, no value; a sum is 0). */
static void compile_value(builder *b, const kpid_kpi *kpi)
{
    int keys[KPID_MODEL_STRATIFY_MAX];

    strata_keys(b, kpi, keys);
    put(b, "SELECT ");
    put_stratum_expr(b, kpi, keys);
    put(b, ", ");
    put_aggregate(b, kpi->u.value.statistic, kpi->u.value.percentile, "v", NULL);
    put(b, "::float8 AS value, NULL::float8 AS numerator, NULL::float8 AS denominator,"
           " count(v) AS n, NULL::bigint AS excluded_incomplete FROM ");
    members_value(b, kpi, keys);
    put_group_by(b, kpi);
}

static void compile_duration(builder *b, const kpid_kpi *kpi)
{
    int keys[KPID_MODEL_STRATIFY_MAX];

    strata_keys(b, kpi, keys);
    put(b, "SELECT ");
    put_stratum_expr(b, kpi, keys);
    if (kpi->u.duration.statistic == KPID_STAT_WITHIN)
        /* The share of the period's cases that ended within the limit. */
        put(b, ", (count(*) FILTER (WHERE ok AND NOT inc))::float8"
               " / NULLIF(count(*) FILTER (WHERE NOT inc), 0) AS value,"
               " (count(*) FILTER (WHERE ok AND NOT inc))::float8 AS numerator,"
               " (count(*) FILTER (WHERE NOT inc))::float8 AS denominator,"
               " count(*) FILTER (WHERE NOT inc) AS n");
    else {
        put(b, ", ");
        put_aggregate(b, kpi->u.duration.statistic, kpi->u.duration.percentile, "d", "NOT inc");
        put(b, "::float8 AS value, NULL::float8 AS numerator, NULL::float8 AS denominator,"
               " count(d) FILTER (WHERE NOT inc) AS n");
    }
    put(b, ", count(*) FILTER (WHERE inc) AS excluded_incomplete FROM ");
    members_duration(b, kpi, keys);
    put_group_by(b, kpi);
}

static void compile_proportion(builder *b, const kpid_kpi *kpi)
{
    int keys[KPID_MODEL_STRATIFY_MAX];

    strata_keys(b, kpi, keys);
    put(b, "SELECT ");
    put_stratum_expr(b, kpi, keys);
    /* FHIR proportion scoring: (N - NX) / (D - DX), N and NX within D \ DX, over the
     * members that can be followed. */
    put(b, ", (count(*) FILTER (WHERE NOT inc AND d AND NOT dx AND nm AND NOT nx))::float8"
           " / NULLIF(count(*) FILTER (WHERE NOT inc AND d AND NOT dx), 0) AS value,"
           " (count(*) FILTER (WHERE NOT inc AND d AND NOT dx AND nm AND NOT nx))::float8"
           " AS numerator,"
           " (count(*) FILTER (WHERE NOT inc AND d AND NOT dx))::float8 AS denominator,"
           " count(*) FILTER (WHERE NOT inc) AS n,"
           " count(*) FILTER (WHERE inc) AS excluded_incomplete FROM ");
    members_proportion(b, kpi, keys);
    put_group_by(b, kpi);
}

static void compile_census(builder *b, const kpid_kpi *kpi)
{
    int keys[KPID_MODEL_STRATIFY_MAX];
    double capacity = kpi->u.census.capacity;

    strata_keys(b, kpi, keys);
    put(b, "SELECT ");
    put_stratum_expr(b, kpi, keys);
    /* Open seconds of each case within the period, summed; an empty census is 0. */
    const char *open = "sum(extract(epoch FROM least(coalesce(c, $2::timestamptz), $2::timestamptz)"
                       " - greatest(o, $1::timestamptz))) FILTER (WHERE NOT inc)";
    if (kpi->u.census.statistic == KPID_STAT_CASE_DAYS)
        putf(b, ", coalesce(%s, 0)::float8 / 86400 AS value, NULL::float8 AS numerator,"
                " NULL::float8 AS denominator",
             open);
    else if (capacity > 0) {
        int cap = param_double(b, capacity);
        putf(b, ", coalesce(%s, 0)::float8 / extract(epoch FROM $2::timestamptz - $1::timestamptz)"
                " / $%d::float8 AS value",
             open, cap);
        putf(b, ", coalesce(%s, 0)::float8 / extract(epoch FROM $2::timestamptz - $1::timestamptz)"
                " AS numerator, $%d::float8 AS denominator",
             open, cap);
    } else
        putf(b, ", coalesce(%s, 0)::float8 / extract(epoch FROM $2::timestamptz - $1::timestamptz)"
                " AS value, NULL::float8 AS numerator, NULL::float8 AS denominator",
             open);
    put(b, ", count(*) FILTER (WHERE NOT inc) AS n,"
           " count(*) FILTER (WHERE inc) AS excluded_incomplete FROM ");
    members_census(b, kpi, keys);
    put_group_by(b, kpi);
}

static void compile_ratio(builder *b, const kpid_kpi *kpi)
{
    int num = param(b, kpi->u.ratio.numerator);
    int den = param(b, kpi->u.ratio.denominator);
    int factor = param_double(b, kpi->u.ratio.factor);

    putf(b, "SELECT nv.stratum, nv.value / NULLIF(dv.value, 0) * $%d::float8 AS value,"
            " nv.value AS numerator, dv.value AS denominator, NULL::bigint AS n,"
            " NULL::bigint AS excluded_incomplete"
            " FROM kpid.kpi_value nv JOIN kpid.kpi_value dv"
            " ON dv.period_start = nv.period_start AND dv.stratum = nv.stratum"
            " WHERE nv.kpi_id = $%d AND dv.kpi_id = $%d"
            " AND nv.period_start = $1 AND nv.period_end = $2",
         factor, num, den);
}

/*
 * SELECT case_id, subject_id, stratum, "<code>" boolean, ... for every member of kpi.
 * A ratio's members are its numerator KPI's initial population, flagged "numerator",
 * and its denominator KPI's, flagged "denominator": both members statements in one
 * builder, so that their parameters are numbered one after the other.
 */
static void put_members_statement(builder *b, const kpid_kpi *kpi)
{
    int keys[KPID_MODEL_STRATIFY_MAX];
    size_t n;
    const population *pops = populations(kpi, &n);

    if (kpi->type == KPID_KPI_RATIO) {
        const kpid_kpi *side[2] = {kpi->u.ratio.numerator_kpi, kpi->u.ratio.denominator_kpi};
        for (int i = 0; i < 2; i++) {
            /* A ratio over a ratio or an sql KPI has no initial population to show. */
            if (!side[i] || side[i]->type == KPID_KPI_RATIO || side[i]->type == KPID_KPI_SQL) {
                if (b->err == 0)
                    b->err = -ENOTSUP;
                return;
            }
            putf(b, "%sSELECT r.case_id, r.subject_id, r.stratum, %s AS \"numerator\","
                    " %s AS \"denominator\" FROM (",
                 i ? " UNION ALL " : "", i ? "false" : "true", i ? "true" : "false");
            put_members_statement(b, side[i]);
            put(b, ") r WHERE r.\"initial-population\"");
        }
        return;
    }
    if (n == 0) {
        if (b->err == 0)
            b->err = -ENOTSUP;
        return;
    }
    strata_keys(b, kpi, keys);
    put(b, "SELECT q.case_id, q.subject_id, ");
    if (kpi->n_stratify == 0)
        put(b, "'{}'::jsonb");
    else {
        put(b, "jsonb_build_object(");
        for (size_t i = 0; i < kpi->n_stratify; i++)
            putf(b, "%s$%d::text, q.s%zu", i ? ", " : "", keys[i], i + 1);
        put(b, ")");
    }
    put(b, " AS stratum");
    for (size_t i = 0; i < n; i++)
        putf(b, ", (%s) AS \"%s\"", pops[i].cond, pops[i].code);
    put(b, " FROM ");
    put_members(b, kpi, keys);
    /* A member that cannot be followed is in no population. */
    if (has_incomplete(kpi))
        put(b, " WHERE NOT q.inc");
}

static void compile_sql(builder *b, const kpid_kpi *kpi)
{
    /* The operator's own read-only query; evaluation maps its columns by name. */
    put(b, kpi->u.sql.query);
}

/* Ends the text with a NUL that is not counted; clears out on error. */
static int finish(builder *b)
{
    if (b->err == 0)
        b->err = kpid_buf_putc(&b->sql->text, '\0');
    if (b->err == 0)
        b->sql->text.len--; /* the NUL terminates, it is not part of the text */
    if (b->err < 0)
        kpid_sql_clear(b->sql);
    return b->err;
}

int kpid_kpi_compile_members(const kpid_kpi *kpi, kpid_sql *out)
{
    builder b = {.sql = out};

    put_members_statement(&b, kpi);
    return finish(&b);
}

int kpid_sql_params_as_array(const kpid_sql *sql, kpid_buf *out)
{
    bool quoted = false;
    int r = 0;

    for (const char *p = sql->text.data; *p && r == 0; p++) {
        if (*p == '\'')
            quoted = !quoted; /* '' inside a literal toggles twice: still right */
        if (*p != '$') {
            r = kpid_buf_putc(out, *p);
            continue;
        }
        /* Only $N outside literals is a parameter; anything else would be rewritten
         * wrongly, so it is refused rather than guessed at. */
        if (quoted || p[1] < '0' || p[1] > '9')
            return -EINVAL;
        char *end;
        unsigned long k = strtoul(p + 1, &end, 10);
        char tmp[48];
        if (k < 1 || k > sql->n_params + 2)
            return -EINVAL;
        int n = k <= 2 ? snprintf(tmp, sizeof(tmp), "$%lu", k)
                       : snprintf(tmp, sizeof(tmp), "($3::text[])[%lu]", k - 2);
        r = kpid_buf_append(out, tmp, (size_t)n);
        p = end - 1;
    }
    if (r == 0 && quoted)
        return -EINVAL;
    if (r == 0)
        r = kpid_buf_append(out, "", 1);
    if (r == 0)
        out->len--;
    return r;
}

int kpid_kpi_compile(const kpid_kpi *kpi, kpid_sql *out)
{
    builder b = {.sql = out};

    switch (kpi->type) {
    case KPID_KPI_COUNT: compile_count(&b, kpi); break;
    case KPID_KPI_PROPORTION: compile_proportion(&b, kpi); break;
    case KPID_KPI_DURATION: compile_duration(&b, kpi); break;
    case KPID_KPI_VALUE: compile_value(&b, kpi); break;
    case KPID_KPI_CENSUS: compile_census(&b, kpi); break;
    case KPID_KPI_RATIO: compile_ratio(&b, kpi); break;
    case KPID_KPI_SQL: compile_sql(&b, kpi); break;
    }
    return finish(&b);
}

void kpid_sql_clear(kpid_sql *sql)
{
    kpid_buf_free(&sql->text);
    for (size_t i = 0; i < sql->n_params; i++)
        free(sql->params[i]);
    memset(sql, 0, sizeof(*sql));
}
