#include "truth_conf.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reading of one file: where messages point, and the first error. */
struct reader {
    const char *path;
    struct ht_pool *pool;
    int err;
};

static void report(struct reader *r, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct reader *r, const config_setting_t *at, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "hospgen: %s:%u: ", r->path, at ? config_setting_source_line(at) : 0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (r->err == 0)
        r->err = -EINVAL;
}

static void intern(struct reader *r, const char *s, uint32_t *ret)
{
    if (ht_pool_intern(r->pool, s, strlen(s), ret) < 0 && r->err == 0)
        r->err = -ENOMEM;
}

/* The string member key of g, or NULL (reported when required). */
static const char *get_str(struct reader *r, const config_setting_t *g, const char *key,
                           bool required)
{
    const config_setting_t *s = config_setting_get_member(g, key);

    if (!s) {
        if (required)
            report(r, g, "missing \"%s\"", key);
        return NULL;
    }
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        report(r, s, "\"%s\" must be a string", key);
        return NULL;
    }
    return config_setting_get_string(s);
}

/* The number member key of g into *ret, when present. */
static void get_num(struct reader *r, const config_setting_t *g, const char *key, double *ret)
{
    const config_setting_t *s = config_setting_get_member(g, key);

    if (!s)
        return;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_FLOAT: *ret = config_setting_get_float(s); break;
    case CONFIG_TYPE_INT: *ret = config_setting_get_int(s); break;
    case CONFIG_TYPE_INT64: *ret = (double)config_setting_get_int64(s); break;
    default: report(r, s, "\"%s\" must be a number", key); break;
    }
}

int ht_duration_parse(const char *text, int64_t *ret_us)
{
    static const struct {
        const char *unit;
        int64_t us;
    } units[] = {{"", 1000},
                 {"ms", 1000},
                 {"s", 1000000},
                 {"m", INT64_C(60000000)},
                 {"h", INT64_C(3600000000)},
                 {"d", INT64_C(86400000000)}};
    int64_t n = 0;
    const char *p = text;

    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > INT64_MAX / 10 - 10)
            return -EINVAL;
        n = n * 10 + (*p - '0');
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(p, units[i].unit) == 0) {
            if (n > INT64_MAX / units[i].us)
                return -EINVAL;
            *ret_us = n * units[i].us;
            return 0;
        }
    return -EINVAL;
}

/* The duration member key of g into *ret_us, when present. */
static void get_duration(struct reader *r, const config_setting_t *g, const char *key,
                         int64_t *ret_us)
{
    const config_setting_t *s = config_setting_get_member(g, key);

    if (!s)
        return;
    if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64)
        *ret_us = config_setting_get_int64(s) * 1000; /* milliseconds */
    else if (config_setting_type(s) != CONFIG_TYPE_STRING ||
             ht_duration_parse(config_setting_get_string(s), ret_us) < 0)
        report(r, s, "invalid duration for \"%s\"", key);
}

static void get_activity(struct reader *r, const config_setting_t *g, const char *key,
                         uint32_t *ret)
{
    const char *text = get_str(r, g, key, true);

    if (text)
        intern(r, text, ret);
}

static void filters_free(struct ht_filters *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->f[i].vals);
    free(fs->f);
    fs->f = NULL;
    fs->n = 0;
}

/* filters = ( { attr = "x"; equals = "v"; } | { attr; in = [...] } | { attr; not_in } ) */
static void get_filters(struct reader *r, const config_setting_t *g, struct ht_filters *ret)
{
    static const char *const ops[] = {"equals", "in", "not_in"};
    const config_setting_t *list = config_setting_get_member(g, "filters");
    int n = list ? config_setting_length(list) : 0;

    if (!list || n <= 0)
        return;
    ret->f = calloc((size_t)n, sizeof(*ret->f));
    if (!ret->f) {
        r->err = -ENOMEM;
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *fg = config_setting_get_elem(list, (unsigned)i);
        struct ht_filter *f = &ret->f[ret->n];
        const char *attr = get_str(r, fg, "attr", true);
        const config_setting_t *v = NULL;
        int op;

        for (op = 0; op < 3 && !(v = config_setting_get_member(fg, ops[op])); op++)
            ;
        if (!attr || !v) {
            if (attr)
                report(r, fg, "a filter needs \"equals\", \"in\" or \"not_in\"");
            continue;
        }
        intern(r, attr, &f->attr);
        f->op = (enum ht_filter_op)op;
        int nv = op == HT_EQUALS ? 1 : config_setting_length(v);
        f->vals = calloc(nv > 0 ? (size_t)nv : 1, sizeof(*f->vals));
        if (!f->vals) {
            r->err = -ENOMEM;
            return;
        }
        for (int k = 0; k < nv; k++) {
            const config_setting_t *e =
                op == HT_EQUALS ? v : config_setting_get_elem(v, (unsigned)k);
            if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                report(r, e, "filter values must be strings");
                continue;
            }
            intern(r, config_setting_get_string(e), &f->vals[f->n_vals++]);
        }
        ret->n++;
    }
}

static void get_cond(struct reader *r, const config_setting_t *g, const char *key,
                     struct ht_cond *c)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    const char *link;

    if (!s)
        return;
    c->present = true;
    get_activity(r, s, "activity", &c->act);
    link = get_str(r, s, "link", false);
    if (link && strcmp(link, "subject") == 0)
        c->link_subject = true;
    else if (link && strcmp(link, "case") != 0)
        report(r, s, "\"link\" must be \"case\" or \"subject\"");
    get_duration(r, s, "within", &c->within_us);
    const config_setting_t *neg = config_setting_get_member(s, "negate");
    if (neg)
        c->negate = config_setting_get_bool(neg) != 0;
    get_filters(r, s, &c->filters);
}

/* statistic: avg|median|pNN|min|max|sum|within|average|case_days. */
static void get_stat(struct reader *r, const config_setting_t *g, struct ht_kpi *k,
                     const char *dflt)
{
    const char *st = get_str(r, g, "statistic", dflt == NULL);
    static const struct {
        const char *name;
        enum ht_stat stat;
    } names[] = {{"avg", HT_AVG},
                 {"average", HT_AVG},
                 {"min", HT_MIN},
                 {"max", HT_MAX},
                 {"sum", HT_SUM},
                 {"within", HT_WITHIN},
                 {"case_days", HT_CASE_DAYS}};

    if (!st)
        st = dflt;
    if (!st)
        return;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(st, names[i].name) == 0) {
            k->stat = names[i].stat;
            return;
        }
    if (strcmp(st, "median") == 0) {
        k->stat = HT_PCT;
        k->pct = 50 / 100.0;
        return;
    }
    if (st[0] == 'p' && isdigit((unsigned char)st[1]) && st[1] != '0' &&
        (!st[2] || (isdigit((unsigned char)st[2]) && !st[3]))) {
        k->stat = HT_PCT;
        k->pct = atoi(st + 1) / 100.0; /* as kpid binds it: NN / 100.0 */
        return;
    }
    report(r, g, "unknown statistic \"%s\"", st);
}

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

static void get_kpi(struct reader *r, const config_setting_t *g, const char *tz, struct ht_kpi *k)
{
    static const char *const types[] = {"count",  "proportion", "duration", "value",
                                        "census", "ratio",      "sql"};
    const char *id = get_str(r, g, "id", true);
    const char *type = get_str(r, g, "type", true);
    const char *period = get_str(r, g, "period", true);
    const config_setting_t *strat = config_setting_get_member(g, "stratify");
    const char *s;
    size_t t;

    if (!id || !type || !period)
        return;
    k->id = strdup(id);
    k->tz = strdup(tz);
    if (!k->id || !k->tz) {
        r->err = -ENOMEM;
        return;
    }
    for (t = 0; t < sizeof(types) / sizeof(types[0]) && strcmp(type, types[t]) != 0; t++)
        ;
    if (t == sizeof(types) / sizeof(types[0])) {
        report(r, g, "unknown KPI type \"%s\"", type);
        return;
    }
    k->type = (enum ht_type)t;
    if (ht_period_parse(period, &k->period) < 0)
        report(r, g, "invalid period \"%s\"", period);
    get_filters(r, g, &k->filters);
    if (strat) {
        int n = config_setting_length(strat);
        if (n > HT_STRATIFY_MAX)
            report(r, strat, "at most %d stratify attributes", HT_STRATIFY_MAX);
        for (int i = 0; i < n && i < HT_STRATIFY_MAX; i++) {
            const char *a = config_setting_get_string_elem(strat, (unsigned)i);
            if (!a) {
                report(r, strat, "stratify lists attribute names (strings)");
                continue;
            }
            intern(r, a, &k->strat[k->n_strat++]);
        }
    }
    switch (k->type) {
    case HT_COUNT:
        get_activity(r, g, "activity", &k->act);
        s = get_str(r, g, "count", false);
        k->count = !s || strcmp(s, "events") == 0 ? HT_EVENTS
                   : strcmp(s, "cases") == 0      ? HT_CASES
                                                  : HT_SUBJECTS;
        if (s && k->count == HT_SUBJECTS && strcmp(s, "subjects") != 0)
            report(r, g, "\"count\" must be events, cases or subjects");
        break;
    case HT_PROPORTION: {
        static const char *const keys[HT_C__COUNT] = {"population", "denominator",
                                                      "denominator_exclusion", "numerator",
                                                      "numerator_exclusion"};
        for (int c = 0; c < HT_C__COUNT; c++)
            get_cond(r, g, keys[c], &k->cond[c]);
        if (!k->cond[HT_C_POPULATION].present || !k->cond[HT_C_NUM].present)
            report(r, g, "a proportion needs \"population\" and \"numerator\"");
        s = get_str(r, g, "basis", false);
        k->basis = !s || strcmp(s, "case") == 0 ? HT_BASIS_CASE
                   : strcmp(s, "subject") == 0  ? HT_BASIS_SUBJECT
                                                : HT_BASIS_EVENT;
        if (s && k->basis == HT_BASIS_EVENT && strcmp(s, "event") != 0)
            report(r, g, "\"basis\" must be case, subject or event");
        break;
    }
    case HT_DURATION:
        get_activity(r, g, "from", &k->from);
        get_activity(r, g, "to", &k->to);
        get_stat(r, g, k, NULL);
        get_duration(r, g, "within", &k->within_us);
        k->unit_s = unit_seconds(get_str(r, g, "unit", false));
        break;
    case HT_VALUE:
        get_activity(r, g, "activity", &k->act);
        get_stat(r, g, k, NULL);
        break;
    case HT_CENSUS:
        get_activity(r, g, "from", &k->from);
        get_activity(r, g, "to", &k->to);
        get_stat(r, g, k, "average");
        get_num(r, g, "capacity", &k->capacity);
        k->lookback_us = INT64_C(365) * 86400 * 1000000;
        get_duration(r, g, "lookback", &k->lookback_us);
        break;
    case HT_RATIO:
        s = get_str(r, g, "numerator", true);
        if (s && !(k->num_id = strdup(s)))
            r->err = -ENOMEM;
        s = get_str(r, g, "denominator", true);
        if (s && !(k->den_id = strdup(s)))
            r->err = -ENOMEM;
        k->factor = 1;
        get_num(r, g, "factor", &k->factor);
        break;
    case HT_SQL: break;
    }
}

int ht_model_load(const char *path, struct ht_pool *pool, struct ht_model *ret)
{
    struct reader r = {.path = path, .pool = pool};
    struct ht_model m = {0};
    config_t cfg;
    const config_setting_t *procs;
    size_t total = 0;

    config_init(&cfg);
    /* @include paths are relative to the file's folder, as kpid reads them. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        config_destroy(&cfg);
        return -ENOMEM;
    }
    config_set_include_dir(&cfg, dir); /* copied */
    free(dir);
    if (!config_get_include_dir(&cfg)) {
        config_destroy(&cfg);
        return -ENOMEM;
    }
    if (!config_read_file(&cfg, path)) {
        fprintf(stderr, "hospgen: %s:%d: %s\n",
                config_error_file(&cfg) ? config_error_file(&cfg) : path, config_error_line(&cfg),
                config_error_text(&cfg));
        config_destroy(&cfg);
        return -EINVAL;
    }
    procs = config_lookup(&cfg, "processes");
    for (int p = 0; procs && p < config_setting_length(procs); p++) {
        const config_setting_t *kpis =
            config_setting_get_member(config_setting_get_elem(procs, (unsigned)p), "kpis");
        total += kpis ? (size_t)config_setting_length(kpis) : 0;
    }
    m.kpi = calloc(total ? total : 1, sizeof(*m.kpi));
    if (!m.kpi)
        r.err = -ENOMEM;
    for (int p = 0; r.err != -ENOMEM && procs && p < config_setting_length(procs); p++) {
        const config_setting_t *proc = config_setting_get_elem(procs, (unsigned)p);
        const config_setting_t *kpis = config_setting_get_member(proc, "kpis");
        const char *tz = get_str(&r, proc, "timezone", true);
        for (int i = 0; tz && kpis && i < config_setting_length(kpis); i++)
            get_kpi(&r, config_setting_get_elem(kpis, (unsigned)i), tz, &m.kpi[m.n++]);
    }
    for (size_t i = 0; r.err == 0 && i < m.n; i++)
        for (size_t j = i + 1; j < m.n; j++)
            if (strcmp(m.kpi[i].id, m.kpi[j].id) == 0)
                report(&r, NULL, "KPI id \"%s\" is used twice", m.kpi[i].id);
    config_destroy(&cfg);
    if (r.err < 0) {
        ht_model_free(&m);
        return r.err;
    }
    *ret = m;
    return 0;
}

void ht_model_free(struct ht_model *m)
{
    for (size_t i = 0; m->kpi && i < m->n; i++) {
        struct ht_kpi *k = &m->kpi[i];
        free(k->id);
        free(k->tz);
        free(k->num_id);
        free(k->den_id);
        filters_free(&k->filters);
        for (int c = 0; c < HT_C__COUNT; c++)
            filters_free(&k->cond[c].filters);
    }
    free(m->kpi);
    memset(m, 0, sizeof(*m));
}

long ht_model_find(const struct ht_model *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->kpi[i].id && strcmp(m->kpi[i].id, id) == 0)
            return (long)i;
    return -1;
}
