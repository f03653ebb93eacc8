/*
 * The keys of one KPI (model.h, model_kpi.h): the keys every KPI has, its bands, filters
 * and stratifiers, and the keys of its type. A key is known exactly when it is listed
 * in common_keys or in the type's row of type_keys; the others are reported with the
 * closest known key. References to the objective and to other KPIs are kept as ids here
 * and resolved by model.c once every KPI is read.
 *
 * Activities and attribute names are checked against their patterns here, so that the
 * compiler may treat them as identifiers of a known shape; filter values and sql
 * queries are only checked for what the warehouse will bind or run: values are valid
 * UTF-8 and short, a query is non-empty and at most 64 KiB (libconfig strings cannot
 * hold NUL: "\x00" ends the string where it stands).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h" /* kpid_utf8_valid */
#include "model/model_kpi.h"

#define ATTR_RULE "use a letter or _ followed by up to 62 letters, digits or _"
#define ACTIVITY_RULE "use 1 to 64 characters of A-Z 0-9 _"
#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_DAY INT64_C(86400000)
#define CENSUS_LOOKBACK_DEFAULT_MS (365 * MS_PER_DAY)
#define CENSUS_LOOKBACK_MAX_MS (36500 * MS_PER_DAY)
#define KEYS_MAX 48 /* common_keys and every type's keys, NULL included */

static const char *const common_keys[] = {
    "id",        "name",   "unit",  "type",    "period",   "target", "direction",
    "objective", "weight", "bands", "filters", "stratify", NULL,
};
static const char *const type_keys[][7] = {
    [KPID_KPI_COUNT] = {"activity", "count", NULL},
    [KPID_KPI_PROPORTION] = {"population", "denominator", "denominator_exclusion", "numerator",
                             "numerator_exclusion", "basis", NULL},
    [KPID_KPI_DURATION] = {"from", "to", "statistic", "within", NULL},
    [KPID_KPI_VALUE] = {"activity", "statistic", NULL},
    [KPID_KPI_CENSUS] = {"from", "to", "statistic", "capacity", "lookback", NULL},
    [KPID_KPI_RATIO] = {"numerator", "denominator", "factor", NULL},
    [KPID_KPI_SQL] = {"query", "timeout", NULL},
};
static const char *const band_keys[] = {"from", "to", "status", NULL};
static const char *const filter_keys[] = {"attr", "equals", "in", "not_in", NULL};
static const char *const population_keys[] = {"activity", "filters", NULL};
static const char *const condition_keys[] = {"activity", "link", "within", "filters", "negate",
                                             NULL};

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
    {"sum", KPID_STAT_SUM, 0}, {"avg", KPID_STAT_AVG, 0},         {"min", KPID_STAT_MIN, 0},
    {"max", KPID_STAT_MAX, 0}, {"median", KPID_STAT_MEDIAN, 50}, {NULL, 0, 0},
};
static const stat_name census_stats[] = {
    {"average", KPID_STAT_AVG, 0},
    {"case_days", KPID_STAT_CASE_DAYS, 0},
    {NULL, 0, 0},
};

/* What a KPI is called in messages while it is parsed. */
typedef struct kpi_names {
    char where[KPID__MODEL_WHERE_SIZE];   /* KPI "x" */
    char ctx[KPID__MODEL_WHERE_SIZE + 8]; /* " in KPI \"x\"" */
} kpi_names;

static bool attr_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KPID_MODEL_ATTR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static bool activity_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KPID_MODEL_ACTIVITY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static void names_set(kpi_names *names, const char *where)
{
    kpid__model_phrase(names->where, sizeof(names->where), "%s", where);
    kpid__model_phrase(names->ctx, sizeof(names->ctx), " in %s", names->where);
}

/* A finite number. */
static int get_number(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                      double *ret)
{
    double v;

    if (kpid__config_get_double(p->l, s, ctx, &v) < 0)
        return -EINVAL;
    if (!isfinite(v)) {
        kpid__config_report(p->l, s, "\"%s\"%s must be a finite number", config_setting_name(s),
                            ctx);
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

/* An optional number > 0 (default stays in *ret). */
static void get_positive(kpid__model_parser *p, const config_setting_t *group, const char *key,
                         const char *ctx, double *ret)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    double v;

    if (!s || get_number(p, s, ctx, &v) < 0)
        return;
    if (!(v > 0)) {
        kpid__config_report(p->l, s, "\"%s\"%s must be greater than 0, not %g", key, ctx, v);
        return;
    }
    *ret = v;
}

/* The activity at key of group (required) into *ret. */
static void get_activity(kpid__model_parser *p, const config_setting_t *group, const char *key,
                         const char *ctx, char **ret)
{
    const config_setting_t *s = kpid__model_member(p, group, key, ctx, true);
    char q[KPID__MODEL_QUOTE_SIZE];
    char *text = NULL;

    if (!s || kpid__model_get_text(p, s, ctx, false, &text) < 0)
        return;
    if (!activity_valid(text)) {
        kpid__config_report(p->l, s, "invalid activity \"%s\" for \"%s\"%s: " ACTIVITY_RULE,
                            kpid__model_quote(text, q), key, ctx);
        free(text);
        return;
    }
    *ret = text;
}

/* An attribute name. */
static int get_attr(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                    char **ret)
{
    char q[KPID__MODEL_QUOTE_SIZE];
    char *text = NULL;

    if (kpid__model_get_text(p, s, ctx, false, &text) < 0)
        return -EINVAL;
    if (!attr_valid(text)) {
        kpid__config_report(p->l, s, "invalid attribute name \"%s\"%s: " ATTR_RULE,
                            kpid__model_quote(text, q), ctx);
        free(text);
        return -EINVAL;
    }
    *ret = text;
    return 0;
}

/* ---- filters ---------------------------------------------------------------------- */

/* One filter value (label names it for messages: "\"equals\"", "in[2]"). */
static int get_value(kpid__model_parser *p, const config_setting_t *s, const char *label,
                     const char *ctx, char **ret)
{
    const char *text;
    size_t len;

    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        kpid__config_report(p->l, s, "wrong type for %s%s: expected a string, got %s", label, ctx,
                            kpid__config_type_name(config_setting_type(s)));
        return -EINVAL;
    }
    if (kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return -ENOMEM;
    len = strlen(text);
    if (!kpid_utf8_valid(text, strlen(text))) {
        kpid__config_report(p->l, s, "%s%s is not valid UTF-8", label, ctx);
        return -EINVAL;
    }
    if (len > KPID_MODEL_VALUE_MAX) {
        kpid__config_report(p->l, s, "%s%s has %zu bytes; at most %d are allowed", label, ctx,
                            len, KPID_MODEL_VALUE_MAX);
        return -EINVAL;
    }
    *ret = strdup(text);
    if (!*ret) {
        kpid__config_oom(p->l);
        return -ENOMEM;
    }
    return 0;
}

/* The values of "in" or "not_in". */
static void parse_value_list(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                             kpid_filter *f)
{
    const char *key = config_setting_name(s);
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        kpid__config_report_type(p->l, s, ctx, "an array of strings");
        return;
    }
    if (n == 0) {
        kpid__config_report(p->l, s, "\"%s\"%s must list at least one value", key, ctx);
        return;
    }
    f->values = calloc((size_t)n, sizeof(*f->values));
    if (!f->values) {
        kpid__config_oom(p->l);
        return;
    }
    for (int i = 0; i < n; i++) {
        char label[32];
        kpid__model_phrase(label, sizeof(label), "%s[%d]", key, i);
        if (get_value(p, config_setting_get_elem(s, (unsigned)i), label, ctx,
                      &f->values[f->n_values]) == 0)
            f->n_values++;
    }
}

static void parse_filter(kpid__model_parser *p, const config_setting_t *group, const char *where,
                         kpid_filter *f)
{
    static const char *const ops[] = {"equals", "in", "not_in"};
    const config_setting_t *s, *given[3];
    char ctx[KPID__MODEL_WHERE_SIZE + 8], list[48];
    size_t n_given = 0, len = 0;
    int op = -1;

    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);
    kpid__model_place(p, group, &f->file, &f->line);
    kpid__config_check_unknown_keys(p->l, group, filter_keys, ctx);

    s = kpid__model_member(p, group, "attr", ctx, true);
    if (s)
        (void)get_attr(p, s, ctx, &f->attr);

    for (int i = 0; i < 3; i++)
        if ((given[i] = config_setting_get_member(group, ops[i]))) {
            n_given++;
            op = i;
        }
    for (int i = 0, k = 0; i < 3; i++)
        if (given[i]) {
            k++;
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
                                    k == 1 ? "" : (size_t)k == n_given ? " and " : ", ", ops[i]);
        }
    if (n_given == 0) {
        kpid__config_report(p->l, group,
                            "%s has none of \"equals\", \"in\" and \"not_in\": give exactly one",
                            where);
        return;
    }
    if (n_given > 1) {
        kpid__config_report(p->l, group,
                            "%s has %s: give exactly one of \"equals\", \"in\" and \"not_in\"",
                            where, list);
        return;
    }
    f->op = (kpid_filter_op)op;
    if (f->op != KPID_FILTER_EQUALS) {
        parse_value_list(p, given[op], ctx, f);
        return;
    }
    f->values = calloc(1, sizeof(*f->values));
    if (!f->values) {
        kpid__config_oom(p->l);
        return;
    }
    if (config_setting_type(given[op]) != CONFIG_TYPE_STRING)
        kpid__config_report_type(p->l, given[op], ctx, "a string");
    else if (get_value(p, given[op], "\"equals\"", ctx, &f->values[0]) == 0)
        f->n_values = 1;
}

/* The list s of filters of what where names ("KPI \"x\"", "numerator of KPI \"x\""). */
static void parse_filters(kpid__model_parser *p, const config_setting_t *s, const char *where,
                          kpid_filter **ret, size_t *ret_n)
{
    char ctx[KPID__MODEL_WHERE_SIZE + 8];
    int n;

    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);
    if ((n = kpid__model_list_length(p, s, ctx)) <= 0)
        return;
    *ret = calloc((size_t)n, sizeof(**ret));
    if (!*ret) {
        kpid__config_oom(p->l);
        return;
    }
    *ret_n = (size_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(s, (unsigned)i);
        char fwhere[KPID__MODEL_WHERE_SIZE + 24];
        if (!kpid__model_elem_is_group(p, group, "filters", (unsigned)i, ctx))
            continue;
        kpid__model_phrase(fwhere, sizeof(fwhere), "filters[%d] of %s", i, where);
        parse_filter(p, group, fwhere, &(*ret)[i]);
    }
}

static void filters_free(kpid_filter *filters, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < filters[i].n_values; j++)
            free(filters[i].values[j]);
        free(filters[i].values);
        free(filters[i].attr);
    }
    free(filters);
}

/* ---- bands and stratifiers -------------------------------------------------------- */

/* One band; returns whether from and to are usable for the contiguity checks. */
static bool parse_band(kpid__model_parser *p, const config_setting_t *group, const char *where,
                       kpid_band *b)
{
    char ctx[KPID__MODEL_WHERE_SIZE + 24];
    const config_setting_t *s;
    bool ok = true;
    int v;

    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);
    kpid__model_place(p, group, &b->file, &b->line);
    kpid__config_check_unknown_keys(p->l, group, band_keys, ctx);
    b->from = -INFINITY;
    b->to = INFINITY;
    if ((s = config_setting_get_member(group, "from")) && get_number(p, s, ctx, &b->from) < 0)
        ok = false;
    if ((s = config_setting_get_member(group, "to")) && get_number(p, s, ctx, &b->to) < 0)
        ok = false;
    s = kpid__model_member(p, group, "status", ctx, true);
    if (s && kpid__model_get_enum(p, s, ctx, "status", kpid__model_status_names, &v) == 0)
        b->status = (kpid_status)v;
    if (ok && b->from >= b->to) {
        kpid__config_report(p->l, group, "%s runs from %g to %g: \"from\" must be less than \"to\"",
                            where, b->from, b->to);
        ok = false;
    }
    return ok;
}

/*
 * The bands must be sorted by from and contiguous: the first may start at -infinity,
 * the last end at +infinity, and every other band starts where the previous one ends.
 * When they are out of order only that is reported: gaps and overlaps would follow
 * from it.
 */
static void parse_bands(kpid__model_parser *p, const config_setting_t *s, const kpi_names *names,
                        kpid_kpi *kpi)
{
    char where[KPID__MODEL_WHERE_SIZE + 16];
    bool *ok, sorted = true;
    int n;

    if ((n = kpid__model_list_length(p, s, names->ctx)) <= 0)
        return;
    kpi->bands = calloc((size_t)n, sizeof(*kpi->bands));
    ok = calloc((size_t)n, sizeof(*ok));
    if (!kpi->bands || !ok) {
        free(ok);
        kpid__config_oom(p->l);
        return;
    }
    kpi->n_bands = (size_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(s, (unsigned)i);
        if (!kpid__model_elem_is_group(p, group, "bands", (unsigned)i, names->ctx))
            continue;
        kpid__model_phrase(where, sizeof(where), "bands[%d] of %s", i, names->where);
        ok[i] = parse_band(p, group, where, &kpi->bands[i]);
    }

    for (int i = 0, prev = -1; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(s, (unsigned)i);
        const kpid_band *b = &kpi->bands[i];
        if (!ok[i])
            continue;
        kpid__model_phrase(where, sizeof(where), "bands[%d] of %s", i, names->where);
        if (i > 0 && b->from == -INFINITY)
            kpid__config_report(p->l, group, "%s has no \"from\": only the first band may omit it",
                                where);
        if (i < n - 1 && b->to == INFINITY)
            kpid__config_report(p->l, group, "%s has no \"to\": only the last band may omit it",
                                where);
        if (prev >= 0 && b->from != -INFINITY && b->from < kpi->bands[prev].from) {
            kpid__config_report(p->l, group,
                                "%s starts at %g, before bands[%d], which starts at %g: list the "
                                "bands sorted by \"from\"",
                                where, b->from, prev, kpi->bands[prev].from);
            sorted = false;
        }
        if (b->from != -INFINITY)
            prev = i;
    }

    for (int i = 1; sorted && i < n; i++) {
        const kpid_band *a = &kpi->bands[i - 1], *b = &kpi->bands[i];
        if (!ok[i - 1] || !ok[i] || a->to == INFINITY || b->from == -INFINITY || b->from == a->to)
            continue;
        kpid__model_phrase(where, sizeof(where), "bands[%d] of %s", i, names->where);
        kpid__config_report(p->l, config_setting_get_elem(s, (unsigned)i),
                            "%s starts at %g, but bands[%d] ends at %g: %s", where, b->from, i - 1,
                            a->to,
                            b->from > a->to ? "the bands leave a gap" : "the bands overlap");
    }
    free(ok);
}

static void parse_stratify(kpid__model_parser *p, const config_setting_t *s,
                           const kpi_names *names, kpid_kpi *kpi)
{
    char q[KPID__MODEL_QUOTE_SIZE];
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        kpid__config_report_type(p->l, s, names->ctx, "an array of attribute names");
        return;
    }
    if (n > KPID_MODEL_STRATIFY_MAX) {
        kpid__config_report(p->l, s, "\"stratify\"%s lists %d attributes; at most %d are allowed",
                            names->ctx, n, KPID_MODEL_STRATIFY_MAX);
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char ctx[KPID__MODEL_WHERE_SIZE + 32];
        char *attr = NULL;
        bool duplicate = false;

        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            kpid__config_report(p->l, e, "wrong type for stratify[%d]%s: expected a string, got %s",
                                i, names->ctx, kpid__config_type_name(config_setting_type(e)));
            continue;
        }
        kpid__model_phrase(ctx, sizeof(ctx), " in stratify[%d] of %s", i, names->where);
        if (get_attr(p, e, ctx, &attr) < 0)
            continue;
        for (size_t j = 0; j < kpi->n_stratify; j++)
            duplicate = duplicate || strcmp(kpi->stratify[j], attr) == 0;
        if (duplicate) {
            kpid__config_report(p->l, e, "duplicate attribute \"%s\"%s", kpid__model_quote(attr, q),
                                ctx);
            free(attr);
            continue;
        }
        kpi->stratify[kpi->n_stratify++] = attr;
    }
}

/* ---- the keys of the types -------------------------------------------------------- */

/* A statistic from table, or with percentiles also pNN (1 <= NN <= 99). */
static int get_statistic(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         const stat_name *table, bool percentiles, const char *use,
                         kpid_statistic *ret, int *ret_percentile)
{
    char q[KPID__MODEL_QUOTE_SIZE];
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
            *ret = KPID_STAT_PERCENTILE;
            *ret_percentile = atoi(text + 1);
            return 0;
        }
        kpid__config_report(p->l, s, "invalid statistic \"%s\"%s: a percentile is p1 to p99",
                            kpid__model_quote(text, q), ctx);
        return -EINVAL;
    }
    kpid__config_report(p->l, s, "invalid statistic \"%s\"%s: use %s", kpid__model_quote(text, q),
                        ctx, use);
    return -EINVAL;
}

static void parse_count(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                        kpid_kpi *kpi)
{
    const config_setting_t *s;
    int v;

    get_activity(p, group, "activity", ctx, &kpi->u.count.activity);
    s = config_setting_get_member(group, "count");
    if (s && kpid__model_get_enum(p, s, ctx, "count", kpid__model_count_names, &v) == 0)
        kpi->u.count.count = (kpid_count_kind)v;
}

static void parse_condition(kpid__model_parser *p, const config_setting_t *s, kpid_population pop,
                            const char *kpi_where, kpid_condition *c)
{
    const char *key = kpid__model_population_keys[pop];
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
    kpid__config_check_unknown_keys(p->l, s, pop == KPID_POP_INITIAL ? population_keys
                                                                     : condition_keys, ctx);
    get_activity(p, s, "activity", ctx, &c->activity);
    if (pop != KPID_POP_INITIAL) {
        m = config_setting_get_member(s, "link");
        if (m && kpid__model_get_enum(p, m, ctx, "link", kpid__model_link_names, &v) == 0)
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
        parse_filters(p, m, where, &c->filters, &c->n_filters);
}

static void parse_proportion(kpid__model_parser *p, const config_setting_t *group,
                             const kpi_names *names, kpid_kpi *kpi)
{
    const config_setting_t *basis = config_setting_get_member(group, "basis");
    int v;

    kpi->u.proportion.basis = KPID_BASIS_CASE;
    if (basis &&
        kpid__model_get_enum(p, basis, names->ctx, "basis", kpid__model_basis_names, &v) == 0)
        kpi->u.proportion.basis = (kpid_basis)v;
    for (int pop = 0; pop < KPID_POP_COUNT; pop++) {
        const char *key = kpid__model_population_keys[pop];
        bool required = pop == KPID_POP_INITIAL || pop == KPID_POP_NUMERATOR;
        const config_setting_t *s = kpid__model_member(p, group, key, names->ctx, required);
        if (s)
            parse_condition(p, s, (kpid_population)pop, names->where,
                            &kpi->u.proportion.populations[pop]);
    }
}

static void parse_duration(kpid__model_parser *p, const config_setting_t *group, const char *ctx,
                           kpid_kpi *kpi)
{
    const config_setting_t *s, *within;
    bool known = false;

    get_activity(p, group, "from", ctx, &kpi->u.duration.from);
    get_activity(p, group, "to", ctx, &kpi->u.duration.to);
    s = kpid__model_member(p, group, "statistic", ctx, true);
    if (s && get_statistic(p, s, ctx, duration_stats, /* percentiles= */ false,
                           "avg, median, p90, p95, min, max or within",
                           &kpi->u.duration.statistic, &kpi->u.duration.percentile) == 0)
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

    get_activity(p, group, "activity", ctx, &kpi->u.value.activity);
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

    get_activity(p, group, "from", ctx, &kpi->u.census.from);
    get_activity(p, group, "to", ctx, &kpi->u.census.to);
    kpi->u.census.statistic = KPID_STAT_AVG;
    s = config_setting_get_member(group, "statistic");
    if (s)
        (void)get_statistic(p, s, ctx, census_stats, /* percentiles= */ false,
                            "average or case_days", &kpi->u.census.statistic, &percentile);
    get_positive(p, group, "capacity", ctx, &kpi->u.census.capacity);
    s = config_setting_get_member(group, "capacity");
    if (s && kpi->u.census.statistic != KPID_STAT_AVG)
        kpid__config_report(p->l, s, "\"capacity\"%s is only used with statistic \"average\"",
                            ctx);
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
    get_positive(p, group, "factor", ctx, &kpi->u.ratio.factor);
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
        kpid__config_report(p->l, s, "\"query\"%s has %zu bytes; at most %d are allowed", ctx,
                            len, KPID_MODEL_QUERY_MAX);
    else if (!(kpi->u.sql.query = strdup(text)))
        kpid__config_oom(p->l);
}

/* ---- one KPI ---------------------------------------------------------------------- */

/* The known keys of a KPI of type (-1: of any type) into keys, NULL-terminated. */
static void known_keys(int type, const char *keys[KEYS_MAX])
{
    size_t n = 0;

    for (size_t i = 0; common_keys[i]; i++)
        keys[n++] = common_keys[i];
    for (int t = 0; t <= KPID_KPI_SQL; t++)
        for (size_t i = 0; (type < 0 || type == t) && type_keys[t][i]; i++)
            keys[n++] = type_keys[t][i];
    keys[n] = NULL;
}

void kpid__model_kpi_parse(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                           const char *where, kpid_kpi *kpi)
{
    char q[KPID__MODEL_QUOTE_SIZE], error[256], unknown_ctx[KPID__MODEL_WHERE_SIZE + 32];
    char phrase[KPID__MODEL_WHERE_SIZE];
    const char *keys[KEYS_MAX], *text;
    const config_setting_t *s;
    kpi_names names;
    int type = -1, v;

    kpid__model_place(p, group, &kpi->file, &kpi->line);
    kpid__model_phrase(phrase, sizeof(phrase), "kpis[%u] of %s", index, where);
    names_set(&names, phrase);

    s = kpid__model_member(p, group, "id", names.ctx, true);
    if (s && kpid__model_get_text(p, s, names.ctx, false, &kpi->id) == 0) {
        if (!kpid__model_id_valid(kpi->id)) {
            kpid__config_report(p->l, s,
                                "invalid KPI id \"%s\"%s: use a lowercase letter followed by up "
                                "to 62 lowercase letters, digits or _",
                                kpid__model_quote(kpi->id, q), names.ctx);
            free(kpi->id);
            kpi->id = NULL;
        } else {
            kpid__model_phrase(phrase, sizeof(phrase), "KPI \"%s\"", kpi->id);
            names_set(&names, phrase);
        }
    }

    s = kpid__model_member(p, group, "name", names.ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, names.ctx, true, &kpi->name);
    s = config_setting_get_member(group, "unit");
    if (s)
        (void)kpid__model_get_text(p, s, names.ctx, false, &kpi->unit);

    s = kpid__model_member(p, group, "type", names.ctx, true);
    if (s && kpid__model_get_enum(p, s, names.ctx, "type", kpid__model_type_names, &v) == 0)
        kpi->type = (kpid_kpi_type)(type = v);
    known_keys(type, keys);
    kpid__model_phrase(unknown_ctx, sizeof(unknown_ctx), "%s%s%s%s", names.ctx,
             type >= 0 ? " of type \"" : "", type >= 0 ? kpid__model_type_names[type] : "",
             type >= 0 ? "\"" : "");
    kpid__config_check_unknown_keys(p->l, group, keys, unknown_ctx);

    s = kpid__model_member(p, group, "period", names.ctx, true);
    if (s && kpid__config_get_string(p->l, s, names.ctx, &text) == 0) {
        if (kpid_period_parse(text, &kpi->period, error, sizeof(error)) < 0)
            kpid__config_report(p->l, s, "invalid period%s: %s", names.ctx, error);
        else if (!(kpi->period_text = strdup(text)))
            kpid__config_oom(p->l);
    }

    /* Without a known type nobody can tell whether the target is required. */
    s = kpid__model_member(p, group, "target", names.ctx, type >= 0 && type != KPID_KPI_COUNT);
    if (s && get_number(p, s, names.ctx, &kpi->target) == 0)
        kpi->has_target = true;

    s = kpid__model_member(p, group, "direction", names.ctx, true);
    if (s && kpid__model_get_enum(p, s, names.ctx, "direction", kpid__model_direction_names,
                                  &v) == 0)
        kpi->direction = (kpid_direction)v;

    s = kpid__model_member(p, group, "objective", names.ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, names.ctx, false, &kpi->objective_id);

    kpi->weight = 1;
    get_positive(p, group, "weight", names.ctx, &kpi->weight);

    if ((s = config_setting_get_member(group, "bands")))
        parse_bands(p, s, &names, kpi);
    if ((s = config_setting_get_member(group, "filters")))
        parse_filters(p, s, names.where, &kpi->filters, &kpi->n_filters);
    if ((s = config_setting_get_member(group, "stratify")))
        parse_stratify(p, s, &names, kpi);

    switch (type) {
    case KPID_KPI_COUNT:
        parse_count(p, group, names.ctx, kpi);
        break;
    case KPID_KPI_PROPORTION:
        parse_proportion(p, group, &names, kpi);
        break;
    case KPID_KPI_DURATION:
        parse_duration(p, group, names.ctx, kpi);
        break;
    case KPID_KPI_VALUE:
        parse_value(p, group, names.ctx, kpi);
        break;
    case KPID_KPI_CENSUS:
        parse_census(p, group, names.ctx, kpi);
        break;
    case KPID_KPI_RATIO:
        parse_ratio(p, group, names.ctx, kpi);
        break;
    case KPID_KPI_SQL:
        parse_sql(p, group, names.ctx, kpi);
        break;
    default: /* the type was reported */
        break;
    }
}

static void condition_clear(kpid_condition *c)
{
    free(c->activity);
    filters_free(c->filters, c->n_filters);
}

void kpid__model_kpi_clear(kpid_kpi *kpi)
{
    free(kpi->id);
    free(kpi->name);
    free(kpi->unit);
    free(kpi->period_text);
    free(kpi->objective_id);
    free(kpi->bands);
    filters_free(kpi->filters, kpi->n_filters);
    for (size_t i = 0; i < kpi->n_stratify; i++)
        free(kpi->stratify[i]);
    switch (kpi->type) {
    case KPID_KPI_COUNT:
        free(kpi->u.count.activity);
        break;
    case KPID_KPI_PROPORTION:
        for (int pop = 0; pop < KPID_POP_COUNT; pop++)
            condition_clear(&kpi->u.proportion.populations[pop]);
        break;
    case KPID_KPI_DURATION:
        free(kpi->u.duration.from);
        free(kpi->u.duration.to);
        break;
    case KPID_KPI_VALUE:
        free(kpi->u.value.activity);
        break;
    case KPID_KPI_CENSUS:
        free(kpi->u.census.from);
        free(kpi->u.census.to);
        break;
    case KPID_KPI_RATIO:
        free(kpi->u.ratio.numerator);
        free(kpi->u.ratio.denominator);
        break;
    case KPID_KPI_SQL:
        free(kpi->u.sql.query);
        break;
    }
    memset(kpi, 0, sizeof(*kpi));
}
