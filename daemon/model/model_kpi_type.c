/*
 * The keys of a KPI's type (model_kpi_type.h): the activity and what a count counts, the
 * populations of a proportion, the events a duration or census spans and its statistic,
 * a value's statistic, a ratio's two KPIs, an sql KPI's query. Activities are checked
 * against their pattern, so that the compiler may treat them as identifiers of a known
 * shape; an sql query only for what the warehouse will run: non-empty and at most 64
 * KiB. References to other KPIs are kept as ids (model_resolve.c resolves them).
 */
#include "model/model_kpi_type.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "model/model_filter.h"

#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_DAY INT64_C(86400000)
#define CENSUS_LOOKBACK_DEFAULT_MS (365 * MS_PER_DAY)
#define CENSUS_LOOKBACK_MAX_MS (36500 * MS_PER_DAY)
#define TYPE_KEYS_MAX 7 /* the keys of one type, NULL included */

/* The keys of each type, besides those every KPI has (model_kpi.c). */
static const char *const type_keys[][TYPE_KEYS_MAX] = {
    [KPID_KPI_COUNT] = {"activity", "count", NULL},
    [KPID_KPI_PROPORTION] = {"population", "denominator", "denominator_exclusion", "numerator",
                             "numerator_exclusion", "basis", NULL},
    [KPID_KPI_DURATION] = {"from", "to", "statistic", "within", NULL},
    [KPID_KPI_VALUE] = {"activity", "statistic", NULL},
    [KPID_KPI_CENSUS] = {"from", "to", "statistic", "capacity", "lookback", NULL},
    [KPID_KPI_RATIO] = {"numerator", "denominator", "factor", NULL},
    [KPID_KPI_SQL] = {"query", "timeout", NULL},
};
static const char *const population_keys[] = {"activity", "filters", NULL};
static const char *const condition_keys[] = {"activity", "link",   "within",
                                             "filters",  "negate", NULL};

_Static_assert(sizeof(type_keys) / sizeof(type_keys[0]) == KPID_KPI_SQL + 1, "type keys");

/* The statistics a type accepts, by name. */
typedef struct stat_name {
    const char *name;
    kpid_statistic statistic;
    int percentile;
} stat_name;

static const stat_name duration_stats[] = {
    {"avg", KPID_STAT_AVG, 0},         {"median", KPID_STAT_MEDIAN, 50},
    {"p90", KPID_STAT_PERCENTILE, 90}, {"p95", KPID_STAT_PERCENTILE, 95},
    {"min", KPID_STAT_MIN, 0},         {"max", KPID_STAT_MAX, 0},
    {"within", KPID_STAT_WITHIN, 0},   {NULL, 0, 0},
};
static const stat_name value_stats[] = {
    {"sum", KPID_STAT_SUM, 0}, {"avg", KPID_STAT_AVG, 0},        {"min", KPID_STAT_MIN, 0},
    {"max", KPID_STAT_MAX, 0}, {"median", KPID_STAT_MEDIAN, 50}, {NULL, 0, 0},
};
static const stat_name census_stats[] = {
    {"average", KPID_STAT_AVG, 0},
    {"case_days", KPID_STAT_CASE_DAYS, 0},
    {NULL, 0, 0},
};

void kpid__model_type_keys(int type, const char **keys, size_t *n)
{
    for (int t = 0; t <= KPID_KPI_SQL; t++)
        for (size_t i = 0; (type < 0 || type == t) && type_keys[t][i]; i++)
            keys[(*n)++] = type_keys[t][i];
}

/* A statistic from table, or with percentiles also pNN (1 <= NN <= 99). */
static int get_statistic(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         const stat_name *table, bool percentiles, const char *use,
                         kpid_statistic *ret, int *ret_percentile)
{
    char q[KPID__CONFIG_QUOTE_SIZE];
    const char *text;
    size_t digits;

    if (kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return -EINVAL;
    for (size_t i = 0; table[i].name; i++)
        if (strcmp(text, table[i].name) == 0) {
            *ret = table[i].statistic;
            *ret_percentile = table[i].percentile;
            return 0;
        }
    digits = strspn(text + (text[0] == 'p'), "0123456789");
    if (percentiles && text[0] == 'p' && digits > 0 && text[1 + digits] == '\0') {
        if (digits <= 2 && text[1] != '0') {
            int percentile = 0;
            for (size_t i = 1; i <= digits; i++)
                percentile = percentile * 10 + (text[i] - '0');
            *ret = KPID_STAT_PERCENTILE;
            *ret_percentile = percentile;
            return 0;
        }
        kpid__config_report(p->l, s, "invalid statistic \"%s\"%s: a percentile is p1 to p99",
                            kpid__config_quote(text, q), ctx);
        return -EINVAL;
    }
    kpid__config_report(p->l, s, "invalid statistic \"%s\"%s: use %s", kpid__config_quote(text, q),
                        ctx, use);
    return -EINVAL;
}

static void parse_count(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                        kpid_kpi *kpi)
{
    const config_setting_t *s;
    int v;

    kpid__model_get_activity(p, group, "activity", ctx, &kpi->u.count.activity);
    s = config_setting_get_member(group, "count");
    if (s && kpid__model_get_enum(p, s, ctx, "count", &kpid_model_count_kinds, &v) == 0)
        kpi->u.count.count = (kpid_count_kind)v;
}

static void parse_condition(kpid__model_parser *p, const config_setting_t *s, kpid_population pop,
                            const char *kpi_where, kpid_condition *c)
{
    const char *key = kpid_name_of(&kpid_model_populations, (int)pop);
    char where[KPID__MODEL_WHERE_SIZE + 32], ctx[KPID__MODEL_WHERE_SIZE + 40];
    const config_setting_t *m;
    int v;

    kpid__model_phrase(where, sizeof(where), "%s of %s", key, kpi_where);
    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        kpid__model_phrase(ctx, sizeof(ctx), " in %s", kpi_where);
        kpid__config_report_type(p->l, s, ctx, "a group");
        return;
    }
    c->present = true;
    kpid__model_place(p, s, &c->file, &c->line);
    kpid__config_check_unknown_keys(
        p->l, s, pop == KPID_POP_INITIAL ? population_keys : condition_keys, ctx);
    kpid__model_get_activity(p, s, "activity", ctx, &c->activity);
    if (pop != KPID_POP_INITIAL) {
        m = config_setting_get_member(s, "link");
        if (m && kpid__model_get_enum(p, m, ctx, "link", &kpid_model_links, &v) == 0)
            c->link = (kpid_link)v;
        m = config_setting_get_member(s, "within");
        if (m)
            (void)kpid__config_get_duration(p->l, m, ctx, 1, INT64_MAX, &c->within_ms);
        m = config_setting_get_member(s, "negate");
        if (m)
            (void)kpid__config_get_bool(p->l, m, ctx, &c->negate);
    }
    m = config_setting_get_member(s, "filters");
    if (m)
        kpid__model_filters_parse(p, m, where, &c->filters, &c->n_filters);
}

static void parse_proportion(kpid__model_parser *p, const config_setting_t *group,
                             const char *where, const char *ctx, kpid_kpi *kpi)
{
    const config_setting_t *basis = config_setting_get_member(group, "basis");
    int v;

    kpi->u.proportion.basis = KPID_BASIS_CASE;
    if (basis && kpid__model_get_enum(p, basis, ctx, "basis", &kpid_model_bases, &v) == 0)
        kpi->u.proportion.basis = (kpid_basis)v;
    for (int pop = 0; pop < KPID_POP_COUNT; pop++) {
        const char *key = kpid_name_of(&kpid_model_populations, (int)pop);
        bool required = pop == KPID_POP_INITIAL || pop == KPID_POP_NUMERATOR;
        const config_setting_t *s = kpid__model_member(p, group, key, ctx, required);
        if (s)
            parse_condition(p, s, (kpid_population)pop, where, &kpi->u.proportion.populations[pop]);
    }
}

static void parse_duration(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                           kpid_kpi *kpi)
{
    const config_setting_t *s, *within;
    bool known = false;

    kpid__model_get_activity(p, group, "from", ctx, &kpi->u.duration.from);
    kpid__model_get_activity(p, group, "to", ctx, &kpi->u.duration.to);
    s = kpid__model_member(p, group, "statistic", ctx, true);
    if (s && get_statistic(p, s, ctx, duration_stats, /* percentiles= */ false,
                           "avg, median, p90, p95, min, max or within", &kpi->u.duration.statistic,
                           &kpi->u.duration.percentile) == 0)
        known = true;
    within = config_setting_get_member(group, "within");
    if (known && kpi->u.duration.statistic == KPID_STAT_WITHIN) {
        if (!within)
            kpid__config_report(p->l, group,
                                "missing required key \"within\"%s: statistic \"within\" needs "
                                "the limit",
                                ctx);
        else
            (void)kpid__config_get_duration(p->l, within, ctx, 1, INT64_MAX,
                                            &kpi->u.duration.within_ms);
    } else if (known && within)
        kpid__config_report(p->l, within, "\"within\"%s is only used with statistic \"within\"",
                            ctx);
}

static void parse_value(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                        kpid_kpi *kpi)
{
    const config_setting_t *s;

    kpid__model_get_activity(p, group, "activity", ctx, &kpi->u.value.activity);
    s = kpid__model_member(p, group, "statistic", ctx, true);
    if (s)
        (void)get_statistic(p, s, ctx, value_stats, /* percentiles= */ true,
                            "sum, avg, min, max, median or pNN (p1 to p99)",
                            &kpi->u.value.statistic, &kpi->u.value.percentile);
}

static void parse_census(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                         kpid_kpi *kpi)
{
    const config_setting_t *s;
    int percentile;

    kpid__model_get_activity(p, group, "from", ctx, &kpi->u.census.from);
    kpid__model_get_activity(p, group, "to", ctx, &kpi->u.census.to);
    kpi->u.census.statistic = KPID_STAT_AVG;
    s = config_setting_get_member(group, "statistic");
    if (s)
        (void)get_statistic(p, s, ctx, census_stats, /* percentiles= */ false,
                            "average or case_days", &kpi->u.census.statistic, &percentile);
    kpid__model_get_positive(p, group, "capacity", ctx, &kpi->u.census.capacity);
    s = config_setting_get_member(group, "capacity");
    if (s && kpi->u.census.statistic != KPID_STAT_AVG)
        kpid__config_report(p->l, s, "\"capacity\"%s is only used with statistic \"average\"", ctx);
    /* Bounded so that period start - lookback stays a valid timestamp. */
    kpi->u.census.lookback_ms = CENSUS_LOOKBACK_DEFAULT_MS;
    s = config_setting_get_member(group, "lookback");
    if (s)
        (void)kpid__config_get_duration(p->l, s, ctx, 1, CENSUS_LOOKBACK_MAX_MS,
                                        &kpi->u.census.lookback_ms);
}

static void parse_ratio(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                        kpid_kpi *kpi)
{
    const config_setting_t *s;

    s = kpid__model_member(p, group, "numerator", ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, ctx, false, &kpi->u.ratio.numerator);
    s = kpid__model_member(p, group, "denominator", ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, ctx, false, &kpi->u.ratio.denominator);
    kpi->u.ratio.factor = 1;
    kpid__model_get_positive(p, group, "factor", ctx, &kpi->u.ratio.factor);
}

static void parse_sql(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                      kpid_kpi *kpi)
{
    const config_setting_t *s;
    const char *text;
    size_t len;

    kpi->u.sql.timeout_ms = 5000;
    s = config_setting_get_member(group, "timeout");
    if (s)
        (void)kpid__config_get_duration(p->l, s, ctx, 1, 10 * MS_PER_MINUTE,
                                        &kpi->u.sql.timeout_ms);

    s = kpid__model_member(p, group, "query", ctx, true);
    if (!s || kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return;
    len = strlen(text);
    if (text[strspn(text, " \t\r\n\f\v")] == '\0')
        kpid__config_report(p->l, s, "\"query\"%s must not be empty", ctx);
    else if (len > KPID_MODEL_QUERY_MAX)
        kpid__config_report(p->l, s, "\"query\"%s has %zu bytes; at most %d are allowed", ctx, len,
                            KPID_MODEL_QUERY_MAX);
    else if (!(kpi->u.sql.query = strdup(text)))
        kpid__config_oom(p->l);
}

void kpid__model_kpi_type_parse(kpid__model_parser *p, const config_setting_t *group, int type,
                                const char *where, const char *ctx, kpid_kpi *kpi)
{
    switch (type) {
    case KPID_KPI_COUNT: parse_count(p, group, ctx, kpi); break;
    case KPID_KPI_PROPORTION: parse_proportion(p, group, where, ctx, kpi); break;
    case KPID_KPI_DURATION: parse_duration(p, group, ctx, kpi); break;
    case KPID_KPI_VALUE: parse_value(p, group, ctx, kpi); break;
    case KPID_KPI_CENSUS: parse_census(p, group, ctx, kpi); break;
    case KPID_KPI_RATIO: parse_ratio(p, group, ctx, kpi); break;
    case KPID_KPI_SQL: parse_sql(p, group, ctx, kpi); break;
    default: /* the type was reported */ break;
    }
}
