#include "kpi/kpi_build.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kpid__build_put(kpid__builder *b, const char *text)
{
    if (b->err == 0)
        b->err = kpid_buf_append(&b->sql->text, text, strlen(text));
}

void kpid__build_putf(kpid__builder *b, const char *fmt, ...)
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
    kpid__build_put(b, text);
    free(text);
}

/* Adds a parameter (copied) and returns its number, $3 and up; 0 on error. */
int kpid__build_param(kpid__builder *b, const char *value)
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

int kpid__build_param_double(kpid__builder *b, double v)
{
    char tmp[40];
    snprintf(tmp, sizeof(tmp), "%.17g", v);
    return kpid__build_param(b, tmp);
}

/* A duration in milliseconds as an interval parameter. */
int kpid__build_param_interval(kpid__builder *b, int64_t ms)
{
    char tmp[48];
    snprintf(tmp, sizeof(tmp), "%" PRId64 " milliseconds", ms);
    return kpid__build_param(b, tmp);
}

/* A text[] literal of the values: {"a","b\"c"}. */
int kpid__build_param_array(kpid__builder *b, char *const *values, size_t n)
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
        n_param = kpid__build_param(b, lit.data);
    else if (b->err == 0)
        b->err = r;
    kpid_buf_free(&lit);
    return n_param;
}

void kpid__build_filter_params(kpid__builder *b, const kpid_filter *f, size_t n,
                               kpid__filter_params *k)
{
    memset(k, 0, sizeof(*k)); /* numbered 0 (none) on error */
    if (n > KPID__FILTERS_MAX) {
        if (b->err == 0)
            b->err = -E2BIG;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        k->attr[i] = kpid__build_param(b, f[i].attr);
        k->values[i] = f[i].op == KPID_FILTER_EQUALS
                           ? kpid__build_param(b, f[i].values[0])
                           : kpid__build_param_array(b, f[i].values, f[i].n_values);
    }
}

/* AND-ed attribute filters on the event alias, with the parameters of k. */
void kpid__build_filter_conds(kpid__builder *b, const char *alias, const kpid_filter *f, size_t n,
                              const kpid__filter_params *k)
{
    for (size_t i = 0; i < n && i < KPID__FILTERS_MAX; i++) {
        switch (f[i].op) {
        case KPID_FILTER_EQUALS:
            kpid__build_putf(b, " AND %s.attrs ->> $%d = $%d", alias, k->attr[i], k->values[i]);
            break;
        case KPID_FILTER_IN:
            kpid__build_putf(b, " AND %s.attrs ->> $%d = ANY ($%d::text[])", alias, k->attr[i],
                             k->values[i]);
            break;
        case KPID_FILTER_NOT_IN:
            kpid__build_putf(
                b, " AND (%s.attrs ->> $%d IS NULL OR NOT %s.attrs ->> $%d = ANY ($%d::text[]))",
                alias, k->attr[i], alias, k->attr[i], k->values[i]);
            break;
        }
    }
}

/* AND-ed attribute filters on the event alias, with parameters of their own. */
void kpid__build_filters(kpid__builder *b, const char *alias, const kpid_filter *f, size_t n)
{
    kpid__filter_params k;

    kpid__build_filter_params(b, f, n, &k);
    kpid__build_filter_conds(b, alias, f, n, &k);
}

/* Parameters for the stratum attribute names, numbered into keys[]. Parameters are
 * numbered as they are made, not as they appear in the text. */
void kpid__build_strata_keys(kpid__builder *b, const kpid_kpi *kpi, int keys[])
{
    for (size_t i = 0; i < kpi->n_stratify; i++)
        keys[i] = kpid__build_param(b, kpi->stratify[i]);
}

/* The stratum attributes of the anchor event e, as columns s1..sN of the member row. */
void kpid__build_strata_columns(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    for (size_t i = 0; i < kpi->n_stratify; i++)
        kpid__build_putf(b, ", e.attrs ->> $%d AS s%zu", keys[i], i + 1);
}

/* The stratum of a group, from the columns s1..sN. */
void kpid__build_stratum_expr(kpid__builder *b, const kpid_kpi *kpi, const int keys[])
{
    if (kpi->n_stratify == 0) {
        kpid__build_put(b, "'{}'::jsonb AS stratum");
        return;
    }
    kpid__build_put(b, "CASE WHEN GROUPING(s1) = 1 THEN '{}'::jsonb ELSE jsonb_build_object(");
    for (size_t i = 0; i < kpi->n_stratify; i++)
        kpid__build_putf(b, "%s$%d::text, s%zu", i ? ", " : "", keys[i], i + 1);
    kpid__build_put(b, ") END AS stratum");
}

void kpid__build_group_by(kpid__builder *b, const kpid_kpi *kpi)
{
    kpid__build_put(b, " GROUP BY GROUPING SETS (()");
    if (kpi->n_stratify) {
        kpid__build_put(b, ", (");
        for (size_t i = 0; i < kpi->n_stratify; i++)
            kpid__build_putf(b, "%ss%zu", i ? ", " : "", i + 1);
        kpid__build_put(b, ")");
    }
    kpid__build_put(b, ")");
}

/* The anchor events: of activity, in the period [$1, $2), passing the KPI's filters. */
void kpid__build_anchor(kpid__builder *b, const kpid_kpi *kpi, int activity)
{
    kpid__build_putf(
        b, " FROM kpid.event e WHERE e.activity = $%d AND e.time >= $1 AND e.time < $2", activity);
    kpid__build_filters(b, "e", kpi->filters, kpi->n_filters);
}

/*
 * "e is its case's first event of activity": ties go by (time, source, event_key). An
 * anchor without a case_id is kept as a member that cannot be followed (inc): always
 * (null_from NULL), or only when it is at or after null_from (census: openings within
 * the period, not those of the lookback before it).
 */
void kpid__build_first_of_case(kpid__builder *b, int activity, const char *null_from)
{
    if (null_from)
        kpid__build_putf(b, " AND (e.case_id IS NULL AND e.time >= %s OR e.case_id IS NOT NULL AND",
                         null_from);
    else
        kpid__build_put(b, " AND (e.case_id IS NULL OR");
    /* OFFSET 0 keeps this a probe of the (case_id, activity, time) index per anchor:
     * as an anti-join the planner would hash every event of the activity ever stored. */
    kpid__build_putf(
        b,
        " NOT EXISTS (SELECT 1 FROM kpid.event p"
        " WHERE p.case_id = e.case_id AND p.activity = $%d"
        " AND (p.time, p.source, p.event_key) < (e.time, e.source, e.event_key) OFFSET 0))",
        activity);
}

/* The time of the case's first event of activity at or after e's. */
void kpid__build_first_after(kpid__builder *b, int activity)
{
    kpid__build_putf(b,
                     "(SELECT min(t.time) FROM kpid.event t WHERE t.case_id = e.case_id"
                     " AND t.activity = $%d AND t.time >= e.time)",
                     activity);
}

/* An aggregate of column col for avg, median, pNN, min, max, sum, over the rows where
 * filter holds (NULL: all). A sum over no value is 0 (a total); the others are NULL. */
void kpid__build_aggregate(kpid__builder *b, kpid_statistic st, int percentile, const char *col,
                           const char *filter)
{
    switch (st) {
    case KPID_STAT_AVG: kpid__build_putf(b, "avg(%s)", col); break;
    case KPID_STAT_MIN: kpid__build_putf(b, "min(%s)", col); break;
    case KPID_STAT_MAX: kpid__build_putf(b, "max(%s)", col); break;
    case KPID_STAT_SUM: kpid__build_putf(b, "coalesce(sum(%s)", col); break;
    case KPID_STAT_MEDIAN:
    case KPID_STAT_PERCENTILE:
        kpid__build_putf(b, "percentile_cont($%d::float8) WITHIN GROUP (ORDER BY %s)",
                         kpid__build_param_double(b, (double)percentile / 100.0), col);
        break;
    default:
        if (b->err == 0)
            b->err = -EINVAL;
        break;
    }
    if (filter)
        kpid__build_putf(b, " FILTER (WHERE %s)", filter);
    if (st == KPID_STAT_SUM)
        kpid__build_put(b, ", 0)");
}

/* Seconds per unit of a duration KPI: s, min, h, d; minutes otherwise. */
double kpid__build_unit_seconds(const char *unit)
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
void kpid__build_condition(kpid__builder *b, const kpid_condition *c)
{
    kpid__build_putf(b, "%sEXISTS (SELECT 1 FROM kpid.event x WHERE x.activity = $%d",
                     c->negate ? "NOT " : "", kpid__build_param(b, c->activity));
    if (c->link == KPID_LINK_CASE) {
        kpid__build_put(b, " AND x.case_id = e.case_id");
        if (c->within_ms > 0)
            kpid__build_putf(b, " AND x.time >= e.time AND x.time <= e.time + $%d::interval",
                             kpid__build_param_interval(b, c->within_ms));
    } else {
        kpid__build_put(b, " AND x.subject_id = e.subject_id AND x.time > e.time");
        if (c->within_ms > 0)
            kpid__build_putf(b, " AND x.time <= e.time + $%d::interval",
                             kpid__build_param_interval(b, c->within_ms));
    }
    kpid__build_filters(b, "x", c->filters, c->n_filters);
    kpid__build_put(b, ")");
}

/* Ends the text with a NUL that is not counted; clears out on error. */
int kpid__build_finish(kpid__builder *b)
{
    if (b->err == 0)
        b->err = kpid_buf_putc(&b->sql->text, '\0');
    if (b->err == 0)
        b->sql->text.len--; /* the NUL terminates, it is not part of the text */
    if (b->err < 0)
        kpid_sql_clear(b->sql);
    return b->err;
}
