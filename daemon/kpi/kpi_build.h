/*
 * The builder of the KPI compiler (kpi_compile.h): appends fixed fragments of SQL to a
 * statement and numbers its parameters ($3 and up, in the order they are made, not as
 * they appear in the text), and the fragments that several KPI types share: filters,
 * strata, the anchor events, conditions, aggregates.
 *
 * A builder remembers its first error; every call after it does nothing, so a compile
 * step runs to its end and kpid__build_finish reports the error once.
 */
#ifndef KPID_KPI_BUILD_H
#define KPID_KPI_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpi/kpi_stmt.h"
#include "model/model.h"

typedef struct kpid__builder {
    kpid_sql *sql;
    int err;      /* the first error: -ENOMEM, -E2BIG, -EINVAL, -ENOTSUP; 0 while none */
    bool members; /* the members statement (drill-down), which lists each one's patient */
} kpid__builder;

/* Appends text, or a formatted text, to the statement. */
void kpid__build_put(kpid__builder *b, const char *text);
void kpid__build_putf(kpid__builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds a parameter (copied) and returns its number, $3 and up; 0 on error. */
int kpid__build_param(kpid__builder *b, const char *value);
/* The same for a number (%.17g), a duration in milliseconds as an interval, and a
 * text[] literal of the values ({"a","b\"c"}). */
int kpid__build_param_double(kpid__builder *b, double v);
int kpid__build_param_interval(kpid__builder *b, int64_t ms);
int kpid__build_param_array(kpid__builder *b, char *const *values, size_t n);

/* The parameters of a list of filters, made once so that the same filters can be put on
 * more than one event alias. */
#define KPID__FILTERS_MAX (KPID_SQL_PARAMS_MAX / 2)
typedef struct kpid__filter_params {
    int attr[KPID__FILTERS_MAX], values[KPID__FILTERS_MAX];
} kpid__filter_params;

/* Makes the parameters of n filters into *k (-E2BIG beyond KPID__FILTERS_MAX). */
void kpid__build_filter_params(kpid__builder *b, const kpid_filter *f, size_t n,
                               kpid__filter_params *k);
/* AND-ed attribute filters on the event alias, with the parameters of k. */
void kpid__build_filter_conds(kpid__builder *b, const char *alias, const kpid_filter *f, size_t n,
                              const kpid__filter_params *k);
/* AND-ed attribute filters on the event alias, with parameters of their own. */
void kpid__build_filters(kpid__builder *b, const char *alias, const kpid_filter *f, size_t n);

/* Parameters for the stratum attribute names of kpi, numbered into keys[]. */
void kpid__build_strata_keys(kpid__builder *b, const kpid_kpi *kpi, int keys[]);
/* The stratum attributes of the anchor event e, as columns s1..sN of the member row. */
void kpid__build_strata_columns(kpid__builder *b, const kpid_kpi *kpi, const int keys[]);
/* The stratum of a group, from the columns s1..sN: "... AS stratum". */
void kpid__build_stratum_expr(kpid__builder *b, const kpid_kpi *kpi, const int keys[]);
/* GROUP BY GROUPING SETS ((), (s1, ...)): the whole population and every stratum. */
void kpid__build_group_by(kpid__builder *b, const kpid_kpi *kpi);

/* The anchor events: of activity, in the period [$1, $2), passing the KPI's filters. */
void kpid__build_anchor(kpid__builder *b, const kpid_kpi *kpi, int activity);
/*
 * "e is its case's first event of activity": ties go by (time, source, event_key). An
 * anchor without a case_id is kept as a member that cannot be followed (inc): always
 * (null_from NULL), or only when it is at or after null_from (census: openings within
 * the period, not those of the lookback before it).
 */
void kpid__build_first_of_case(kpid__builder *b, int activity, const char *null_from);
/* The time of the case's first event of activity at or after e's. */
void kpid__build_first_after(kpid__builder *b, int activity);

/* An aggregate of column col for avg, median, pNN, min, max, sum, over the rows where
 * filter holds (NULL: all). A sum over no value is 0 (a total); the others are NULL. */
void kpid__build_aggregate(kpid__builder *b, kpid_statistic st, int percentile, const char *col,
                           const char *filter);
/* Seconds per unit of a duration KPI: s, min, h, d; minutes otherwise. */
double kpid__build_unit_seconds(const char *unit);
/* [NOT] EXISTS (an event of the condition linked to the anchor e). */
void kpid__build_condition(kpid__builder *b, const kpid_condition *c);

/* Ends the text with a NUL that is not counted; clears the statement on error. Returns
 * 0 or the builder's first error. */
int kpid__build_finish(kpid__builder *b);

#endif
