#include "kpi/kpi_members.h"

#include <errno.h>
#include <stdbool.h>

/* The populations of each type (docs/kpi-semantics.md, "n, and the populations behind a
 * value"). */
static const kpid__population count_pops[] = {{"initial-population", "true"}};
static const kpid__population proportion_pops[] = {
    {"initial-population", "true"},
    {"denominator", "d"},
    {"denominator-exclusion", "d AND dx"},
    {"numerator", "d AND NOT dx AND nm"},
    {"numerator-exclusion", "d AND NOT dx AND nm AND nx"},
};
static const kpid__population duration_pops[] = {
    {"initial-population", "true"},
    {"measure-population", "d IS NOT NULL"},
};
static const kpid__population within_pops[] = {
    {"initial-population", "true"},
    {"denominator", "true"},
    {"numerator", "coalesce(ok, false)"},
};
static const kpid__population value_pops[] = {
    {"initial-population", "true"},
    {"measure-population", "v IS NOT NULL"},
};
static const kpid__population census_pops[] = {{"initial-population", "true"}};
static const kpid__population ratio_pops[] = {{"numerator", NULL}, {"denominator", NULL}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const kpid__population *kpid__members_populations(const kpid_kpi *kpi, size_t *ret_n)
{
    const kpid__population *p = NULL;
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

/* Every anchor event is a member. */
void kpid__members_count(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    kpid__build_put(b, "(SELECT e.case_id, e.subject_id");
    kpid__build_strata_columns(b, kpi, keys);
    kpid__build_anchor(b, kpi, kpid__build_param(b, kpi->u.count.activity));
    kpid__build_put(b, ") q");
}

/* v: the event's value, NULL when it has none (measure-population: v IS NOT NULL). */
void kpid__members_value(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    kpid__build_put(b, "(SELECT e.case_id, e.subject_id, e.value AS v");
    kpid__build_strata_columns(b, kpi, keys);
    kpid__build_anchor(b, kpi, kpid__build_param(b, kpi->u.value.activity));
    kpid__build_put(b, ") q");
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
void kpid__members_duration(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    bool within = kpi->u.duration.statistic == KPID_STAT_WITHIN;
    int from = kpid__build_param(b, kpi->u.duration.from);

    kpid__build_put(b, within ? "(SELECT m.*, m.d <= " : "");
    if (within)
        kpid__build_putf(b, "$%d::float8 AS ok FROM ",
                         kpid__build_param_double(b, (double)kpi->u.duration.within_ms / 1000.0 /
                                                         kpid__build_unit_seconds(kpi->unit)));
    kpid__build_put(
        b, "(SELECT e.case_id, e.subject_id, e.case_id IS NULL AS inc, extract(epoch FROM ");
    kpid__build_first_after(b, kpid__build_param(b, kpi->u.duration.to));
    kpid__build_putf(b, " - e.time)::float8 / $%d::float8 AS d",
                     kpid__build_param_double(b, kpid__build_unit_seconds(kpi->unit)));
    kpid__build_strata_columns(b, kpi, keys);
    kpid__build_anchor(b, kpi, from);
    kpid__build_first_of_case(b, from, NULL);
    kpid__build_put(b, within ? ") m) q" : ") q");
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
static void put_proportion_inc(kpid__builder *b, const kpid_kpi *kpi)
{
    kpid_basis basis = kpi->u.proportion.basis;
    bool by_case = basis == KPID_BASIS_CASE || needs_link(kpi, KPID_LINK_CASE);
    bool by_subject = basis == KPID_BASIS_SUBJECT || needs_link(kpi, KPID_LINK_SUBJECT);

    if (!by_case && !by_subject) {
        kpid__build_put(b, "false");
        return;
    }
    kpid__build_putf(b, "(%s%s%s)", by_case ? "e.case_id IS NULL" : "",
                     by_case && by_subject ? " OR " : "", by_subject ? "e.subject_id IS NULL" : "");
}

/*
 * inc (put_proportion_inc); d, dx, nm, nx: the member meets the condition of the
 * denominator, ... The anchors: every population event of the period (basis event),
 * each case's first population event, if it is in the period (case), or each subject's
 * first population event in the period (subject); ties by (time, source, event_key).
 * Population events without what the basis groups by are kept, as incomplete members.
 */
void kpid__members_proportion(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    const kpid_condition *pop = kpi->u.proportion.populations;
    kpid_basis basis = kpi->u.proportion.basis;
    static const char *const names[] = {
        [KPID_POP_DENOMINATOR] = "d",
        [KPID_POP_DENOMINATOR_EXCLUSION] = "dx",
        [KPID_POP_NUMERATOR] = "nm",
        [KPID_POP_NUMERATOR_EXCLUSION] = "nx",
    };
    kpid__filter_params kf, pf;

    kpid__build_put(b, "(SELECT e.case_id, e.subject_id, ");
    put_proportion_inc(b, kpi);
    kpid__build_put(b, " AS inc");
    for (int i = KPID_POP_DENOMINATOR; i <= KPID_POP_NUMERATOR_EXCLUSION; i++) {
        kpid__build_put(b, ", ");
        if (pop[i].present)
            kpid__build_condition(b, &pop[i]);
        else /* no denominator: all of the population; no exclusion: nobody */
            kpid__build_put(b, i == KPID_POP_DENOMINATOR ? "true" : "false");
        kpid__build_putf(b, " AS %s", names[i]);
    }
    kpid__build_strata_columns(b, kpi, keys);
    int act = kpid__build_param(b, pop[KPID_POP_INITIAL].activity);
    kpid__build_putf(
        b, " FROM kpid.event e WHERE e.activity = $%d AND e.time >= $1 AND e.time < $2", act);
    kpid__build_filter_params(b, kpi->filters, kpi->n_filters, &kf);
    kpid__build_filter_params(b, pop[KPID_POP_INITIAL].filters, pop[KPID_POP_INITIAL].n_filters,
                              &pf);
    kpid__build_filter_conds(b, "e", kpi->filters, kpi->n_filters, &kf);
    kpid__build_filter_conds(b, "e", pop[KPID_POP_INITIAL].filters, pop[KPID_POP_INITIAL].n_filters,
                             &pf);
    if (basis != KPID_BASIS_EVENT) {
        /* No earlier population event of the same case (at any time) or subject (in the
         * period). OFFSET 0: a probe of the case or subject index per anchor. */
        const char *id = basis == KPID_BASIS_CASE ? "case_id" : "subject_id";
        kpid__build_putf(b,
                         " AND (e.%s IS NULL OR NOT EXISTS (SELECT 1 FROM kpid.event p"
                         " WHERE p.%s = e.%s AND p.activity = $%d%s",
                         id, id, id, act, basis == KPID_BASIS_SUBJECT ? " AND p.time >= $1" : "");
        kpid__build_filter_conds(b, "p", kpi->filters, kpi->n_filters, &kf);
        kpid__build_filter_conds(b, "p", pop[KPID_POP_INITIAL].filters,
                                 pop[KPID_POP_INITIAL].n_filters, &pf);
        kpid__build_put(b, " AND (p.time, p.source, p.event_key) < (e.time, e.source, e.event_key)"
                           " OFFSET 0))");
    }
    kpid__build_put(b, ") q");
}

/*
 * inc: an opening in the period without a case_id; o, c: the case's opening and closing
 * (NULL while open); cases open during some part of the period, opened at most lookback
 * before its start. A case is open during [o, c): one closed at its opening never is.
 *
 * The openings of the whole lookback are many, and most of their stays closed before
 * the period: they are read from ev_open_<from> or ev_case_<from> (time, with the
 * case_id), the closes of the lookback from ev_case_<to>, and whether it is its case's
 * first opening from ev_case_<from>, all index-only once the log is vacuumed, as joins
 * the planner picks. Only the stays left are
 * looked up again for the opening's patient and attributes (its first event at that
 * time by (source, event_key), as the tie rule says), where the filters apply; and only
 * when something reads them: the filters, the strata, or the members statement's
 * patient. A value without them needs the stays alone.
 */
void kpid__members_census(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    int from = kpid__build_param(b, kpi->u.census.from);
    int to = kpid__build_param(b, kpi->u.census.to);
    int lookback = kpid__build_param_interval(b, kpi->u.census.lookback_ms);
    kpid__filter_params kf;

    bool opening = b->members || kpi->n_filters > 0 || kpi->n_stratify > 0;

    kpid__build_filter_params(b, kpi->filters, kpi->n_filters, &kf);
    kpid__build_putf(b, "(SELECT m.case_id, %s AS subject_id, false AS inc, m.o, m.c",
                     opening ? "e.subject_id" : "NULL::text");
    kpid__build_strata_columns(b, kpi, keys);
    /* An opening is a member unless its case closed in [opening, period start]: an
     * anti-join with the closes of the lookback, in one pass over each, instead of a
     * probe for the close of every opening of the lookback (most closed long before the
     * period). The close is then probed only for the openings left (OFFSET 0: once, not
     * again for the filter on it), where a stay closed at its opening is left out, and
     * whether the opening is its case's first. */
    kpid__build_putf(
        b,
        " FROM (SELECT DISTINCT a.case_id, a.o, a.c FROM (SELECT b.case_id, b.o,"
        " (SELECT min(t.time) FROM kpid.event t WHERE t.case_id = b.case_id"
        " AND t.activity = $%d AND t.time >= b.o) AS c"
        " FROM (SELECT x.case_id, x.time AS o FROM kpid.event x WHERE x.activity = $%d"
        " AND x.case_id IS NOT NULL AND x.time >= $1::timestamptz - $%d::interval"
        " AND x.time < $2 AND NOT EXISTS (SELECT 1 FROM kpid.event d WHERE d.activity = $%d"
        " AND d.case_id IS NOT NULL AND d.time >= $1::timestamptz - $%d::interval"
        " AND d.time <= $1 AND d.case_id = x.case_id AND d.time >= x.time)) b OFFSET 0) a",
        to, from, lookback, to, lookback);
    kpid__build_putf(b,
                     " WHERE (a.c IS NULL OR a.c > a.o) AND NOT EXISTS (SELECT 1 FROM kpid.event p"
                     " WHERE p.case_id = a.case_id AND p.activity = $%d AND p.time < a.o)) m",
                     from);
    if (opening)
        kpid__build_putf(b,
                         " CROSS JOIN LATERAL (SELECT f.subject_id, f.attrs FROM kpid.event f"
                         " WHERE f.case_id = m.case_id AND f.activity = $%d AND f.time = m.o"
                         " ORDER BY f.source, f.event_key LIMIT 1) e",
                         from);
    kpid__build_put(b, " WHERE true");
    kpid__build_filter_conds(b, "e", kpi->filters, kpi->n_filters, &kf);
    /* Openings in the period without a case: members that cannot be followed. */
    kpid__build_put(b, " UNION ALL SELECT NULL, e.subject_id, true, e.time, NULL::timestamptz");
    kpid__build_strata_columns(b, kpi, keys);
    kpid__build_putf(b,
                     " FROM kpid.event e WHERE e.activity = $%d AND e.case_id IS NULL"
                     " AND e.time >= $1 AND e.time < $2",
                     from);
    kpid__build_filter_conds(b, "e", kpi->filters, kpi->n_filters, &kf);
    kpid__build_put(b, ") q");
}

/* The member subquery of kpi, or -ENOTSUP for ratio and sql KPIs. */
static void put_members(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    switch (kpi->type) {
    case KPID_KPI_COUNT: kpid__members_count(b, kpi, keys); break;
    case KPID_KPI_PROPORTION: kpid__members_proportion(b, kpi, keys); break;
    case KPID_KPI_DURATION: kpid__members_duration(b, kpi, keys); break;
    case KPID_KPI_VALUE: kpid__members_value(b, kpi, keys); break;
    case KPID_KPI_CENSUS: kpid__members_census(b, kpi, keys); break;
    case KPID_KPI_RATIO:
    case KPID_KPI_SQL:
        if (b->err == 0)
            b->err = -ENOTSUP;
        break;
    }
}

/*
 * A ratio's members are its numerator KPI's initial population, flagged "numerator",
 * and its denominator KPI's, flagged "denominator": both members statements in one
 * builder, so that their parameters are numbered one after the other.
 */
void kpid__members_statement(kpid__builder *b, const kpid_kpi *kpi)
{
    int keys[KPID_MODEL_STRATIFY_MAX];
    size_t n;
    const kpid__population *pops = kpid__members_populations(kpi, &n);

    if (kpi->type == KPID_KPI_RATIO) {
        const kpid_kpi *side[2] = {kpi->u.ratio.numerator_kpi, kpi->u.ratio.denominator_kpi};
        for (int i = 0; i < 2; i++) {
            /* A ratio over a ratio or an sql KPI has no initial population to show. */
            if (!side[i] || side[i]->type == KPID_KPI_RATIO || side[i]->type == KPID_KPI_SQL) {
                if (b->err == 0)
                    b->err = -ENOTSUP;
                return;
            }
            kpid__build_putf(b,
                             "%sSELECT r.case_id, r.subject_id, r.stratum, %s AS \"numerator\","
                             " %s AS \"denominator\" FROM (",
                             i ? " UNION ALL " : "", i ? "false" : "true", i ? "true" : "false");
            kpid__members_statement(b, side[i]);
            kpid__build_put(b, ") r WHERE r.\"initial-population\"");
        }
        return;
    }
    if (n == 0) {
        if (b->err == 0)
            b->err = -ENOTSUP;
        return;
    }
    kpid__build_strata_keys(b, kpi, keys);
    kpid__build_put(b, "SELECT q.case_id, q.subject_id, ");
    if (kpi->n_stratify == 0)
        kpid__build_put(b, "'{}'::jsonb");
    else {
        kpid__build_put(b, "jsonb_build_object(");
        for (size_t i = 0; i < kpi->n_stratify; i++)
            kpid__build_putf(b, "%s$%d::text, q.s%zu", i ? ", " : "", keys[i], i + 1);
        kpid__build_put(b, ")");
    }
    kpid__build_put(b, " AS stratum");
    for (size_t i = 0; i < n; i++)
        kpid__build_putf(b, ", (%s) AS \"%s\"", pops[i].cond, pops[i].code);
    kpid__build_put(b, " FROM ");
    put_members(b, kpi, keys);
    /* A member that cannot be followed is in no population. */
    if (has_incomplete(kpi))
        kpid__build_put(b, " WHERE NOT q.inc");
}
