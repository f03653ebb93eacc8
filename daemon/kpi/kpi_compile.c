#include "kpi/kpi_compile.h"

#include <errno.h>
#include <stdbool.h>

#include "kpi/kpi_build.h"
#include "kpi/kpi_members.h"

/*
 * Every value statement has the shape
 *
 *   SELECT <stratum>, <value>, <numerator>, <denominator>, <n>, <excluded_incomplete>
 *   FROM (<one row per member of the population, with its stratum attributes s1..s3>) q
 *   [WHERE <member filter>]
 *   GROUP BY GROUPING SETS ((), (s1, ...))
 *
 * so that the whole population and every stratum come from one scan. The members
 * statement selects from the same member subquery (kpi_members.h), one row per member
 * with a boolean per population. Where members can lack what a rule follows
 * (proportion, duration, census), the subquery keeps them with inc = true: the value
 * statement counts them apart, the members statement leaves them out.
 *
 * This file makes each type's value statement; kpi_members.c says who is a member and
 * makes the members statement; kpi_build.c holds the builder and the shared fragments.
 */

size_t kpid_kpi_population_count(const kpid_kpi *kpi)
{
    size_t n;
    (void)kpid__members_populations(kpi, &n);
    return n;
}

const char *kpid_kpi_population_code(const kpid_kpi *kpi, size_t i)
{
    size_t n;
    const kpid__population *p = kpid__members_populations(kpi, &n);
    return i < n ? p[i].code : NULL;
}

static void columns_count(kpid__builder *b, const kpid_kpi *kpi)
{
    static const char *const agg[] = {
        [KPID_COUNT_EVENTS] = "count(*)",
        [KPID_COUNT_CASES] = "count(DISTINCT case_id)",
        [KPID_COUNT_SUBJECTS] = "count(DISTINCT subject_id)",
    };
    kpid__build_putf(
        b,
        ", %s::float8 AS value, NULL::float8 AS numerator, NULL::float8 AS denominator,"
        " count(*) AS n, NULL::bigint AS excluded_incomplete FROM ",
        agg[kpi->u.count.count]);
}

/* Every event of the activity is a member, with a value or not: a stratum whose events
 * have none has its row (n 0, no value; a sum is 0). */
static void columns_value(kpid__builder *b, const kpid_kpi *kpi)
{
    kpid__build_put(b, ", ");
    kpid__build_aggregate(b, kpi->u.value.statistic, kpi->u.value.percentile, "v", NULL);
    kpid__build_put(b, "::float8 AS value, NULL::float8 AS numerator, NULL::float8 AS denominator,"
                       " count(v) AS n, NULL::bigint AS excluded_incomplete FROM ");
}

static void columns_duration(kpid__builder *b, const kpid_kpi *kpi)
{
    if (kpi->u.duration.statistic == KPID_STAT_WITHIN)
        /* The share of the period's cases that ended within the limit. */
        kpid__build_put(b, ", (count(*) FILTER (WHERE ok AND NOT inc))::float8"
                           " / NULLIF(count(*) FILTER (WHERE NOT inc), 0) AS value,"
                           " (count(*) FILTER (WHERE ok AND NOT inc))::float8 AS numerator,"
                           " (count(*) FILTER (WHERE NOT inc))::float8 AS denominator,"
                           " count(*) FILTER (WHERE NOT inc) AS n");
    else {
        kpid__build_put(b, ", ");
        kpid__build_aggregate(b, kpi->u.duration.statistic, kpi->u.duration.percentile, "d",
                              "NOT inc");
        kpid__build_put(b,
                        "::float8 AS value, NULL::float8 AS numerator, NULL::float8 AS denominator,"
                        " count(d) FILTER (WHERE NOT inc) AS n");
    }
    kpid__build_put(b, ", count(*) FILTER (WHERE inc) AS excluded_incomplete FROM ");
}

static void columns_proportion(kpid__builder *b, const kpid_kpi *kpi)
{
    /* FHIR proportion scoring: (N - NX) / (D - DX), N and NX within D \ DX, over the
     * members that can be followed. */
    kpid__build_put(b,
                    ", (count(*) FILTER (WHERE NOT inc AND d AND NOT dx AND nm AND NOT nx))::float8"
                    " / NULLIF(count(*) FILTER (WHERE NOT inc AND d AND NOT dx), 0) AS value,"
                    " (count(*) FILTER (WHERE NOT inc AND d AND NOT dx AND nm AND NOT nx))::float8"
                    " AS numerator,"
                    " (count(*) FILTER (WHERE NOT inc AND d AND NOT dx))::float8 AS denominator,"
                    " count(*) FILTER (WHERE NOT inc) AS n,"
                    " count(*) FILTER (WHERE inc) AS excluded_incomplete FROM ");
}

static void columns_census(kpid__builder *b, const kpid_kpi *kpi)
{
    double capacity = kpi->u.census.capacity;

    /* Open seconds of each case within the period, summed; an empty census is 0. */
    const char *open = "sum(extract(epoch FROM least(coalesce(c, $2::timestamptz), $2::timestamptz)"
                       " - greatest(o, $1::timestamptz))) FILTER (WHERE NOT inc)";
    if (kpi->u.census.statistic == KPID_STAT_CASE_DAYS)
        kpid__build_putf(b,
                         ", coalesce(%s, 0)::float8 / 86400 AS value, NULL::float8 AS numerator,"
                         " NULL::float8 AS denominator",
                         open);
    else if (capacity > 0) {
        int cap = kpid__build_param_double(b, capacity);
        kpid__build_putf(
            b,
            ", coalesce(%s, 0)::float8 / extract(epoch FROM $2::timestamptz - $1::timestamptz)"
            " / $%d::float8 AS value",
            open, cap);
        kpid__build_putf(
            b,
            ", coalesce(%s, 0)::float8 / extract(epoch FROM $2::timestamptz - $1::timestamptz)"
            " AS numerator, $%d::float8 AS denominator",
            open, cap);
    } else
        kpid__build_putf(
            b,
            ", coalesce(%s, 0)::float8 / extract(epoch FROM $2::timestamptz - $1::timestamptz)"
            " AS value, NULL::float8 AS numerator, NULL::float8 AS denominator",
            open);
    kpid__build_put(b, ", count(*) FILTER (WHERE NOT inc) AS n,"
                       " count(*) FILTER (WHERE inc) AS excluded_incomplete FROM ");
}

/*
 * The value statement of a type whose members the subquery lists: the stratum, the
 * type's columns up to " FROM " (columns), the member subquery (members), the grouping.
 */
static void compile_grouped(kpid__builder *b, const kpid_kpi *kpi,
                            void (*columns)(kpid__builder *, const kpid_kpi *),
                            void (*members)(kpid__builder *, const kpid_kpi *, const int[]))
{
    int keys[KPID_MODEL_STRATIFY_MAX];

    kpid__build_strata_keys(b, kpi, keys);
    kpid__build_put(b, "SELECT ");
    kpid__build_stratum_expr(b, kpi, keys);
    columns(b, kpi);
    members(b, kpi, keys);
    kpid__build_group_by(b, kpi);
}

static void compile_ratio(kpid__builder *b, const kpid_kpi *kpi)
{
    int num = kpid__build_param(b, kpi->u.ratio.numerator);
    int den = kpid__build_param(b, kpi->u.ratio.denominator);
    int factor = kpid__build_param_double(b, kpi->u.ratio.factor);

    kpid__build_putf(b,
                     "SELECT nv.stratum, nv.value / NULLIF(dv.value, 0) * $%d::float8 AS value,"
                     " nv.value AS numerator, dv.value AS denominator, NULL::bigint AS n,"
                     " NULL::bigint AS excluded_incomplete"
                     " FROM kpid.kpi_value nv JOIN kpid.kpi_value dv"
                     " ON dv.period_start = nv.period_start AND dv.stratum = nv.stratum"
                     " WHERE nv.kpi_id = $%d AND dv.kpi_id = $%d"
                     " AND nv.period_start = $1 AND nv.period_end = $2",
                     factor, num, den);
}

static void compile_sql(kpid__builder *b, const kpid_kpi *kpi)
{
    /* The operator's own read-only query; evaluation maps its columns by name. */
    kpid__build_put(b, kpi->u.sql.query);
}

int kpid_kpi_compile_members(const kpid_kpi *kpi, kpid_sql *out)
{
    kpid__builder b = {.sql = out, .members = true};

    kpid__members_statement(&b, kpi);
    return kpid__build_finish(&b);
}

int kpid_kpi_compile(const kpid_kpi *kpi, kpid_sql *out)
{
    kpid__builder b = {.sql = out};

    switch (kpi->type) {
    case KPID_KPI_COUNT: compile_grouped(&b, kpi, columns_count, kpid__members_count); break;
    case KPID_KPI_PROPORTION:
        compile_grouped(&b, kpi, columns_proportion, kpid__members_proportion);
        break;
    case KPID_KPI_DURATION:
        compile_grouped(&b, kpi, columns_duration, kpid__members_duration);
        break;
    case KPID_KPI_VALUE: compile_grouped(&b, kpi, columns_value, kpid__members_value); break;
    case KPID_KPI_CENSUS: compile_grouped(&b, kpi, columns_census, kpid__members_census); break;
    case KPID_KPI_RATIO: compile_ratio(&b, kpi); break;
    case KPID_KPI_SQL: compile_sql(&b, kpi); break;
    }
    return kpid__build_finish(&b);
}
