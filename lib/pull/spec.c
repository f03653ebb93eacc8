/* Reads and checks the queries of a HIS database source (spec.h). */
#include "pull/spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "text/ident.h"
#include "text/utf8.h"

static const char *const query_keys[] = {
    "name",  "sql",      "watermark",       "watermark_type", "tiebreaker", "overlap",
    "bound", "activity", "activity_column", "event_key",      "case_id",    "subject_id",
    "time",  "value",    "attributes",      "retract_when",   "kind",       NULL,
};

/* The keys that only an event query has (kind = "retractions" refuses them). */
static const char *const event_only_keys[] = {
    "activity", "activity_column", "case_id",      "subject_id", "time",
    "value",    "attributes",      "retract_when", NULL,
};

const char *kpid_pull_wm_type_name(enum kpid_pull_wm_type type)
{
    switch (type) {
    case KPID_PULL_WM_TIMESTAMP: return "timestamp";
    case KPID_PULL_WM_INTEGER: return "integer";
    }
    return "?";
}

/* Failure with a FILE:LINE message about setting s, in query q (may be NULL); returns
 * -EINVAL (or -ENOMEM). */
__attribute__((format(printf, 4, 5))) static int fail(char **ret_error, const config_setting_t *s,
                                                      const char *q, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *file = s ? config_setting_source_file(s) : NULL;
    int n = asprintf(ret_error, "%s:%u: %s%s%s%s", file ? file : "(config)",
                     s ? config_setting_source_line(s) : 0, q ? "query " : "", q ? q : "",
                     q ? ": " : "", what);
    if (n < 0) {
        *ret_error = NULL;
        return -ENOMEM;
    }
    return -EINVAL;
}

static bool name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > KPID_PULL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static bool column_valid(const char *s)
{
    size_t n = strlen(s);
    unsigned cp;

    return n >= 1 && n <= KPID_PULL_COLUMN_MAX && kpid_utf8_valid(s, n) &&
           kpid_utf8_find_control(s, n, &cp) < 0;
}

int kpid_pull_duration_parse(const char *text, int64_t *ret_us)
{
    static const struct {
        const char *unit;
        int64_t us;
    } units[] = {{"ms", 1000},        {"s", 1000000},       {"m", 60000000},
                 {"h", 3600000000LL}, {"d", 86400000000LL}, {"", 1000}};
    int64_t n = 0;
    const char *p = text;

    if (!text || *p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > KPID_PULL_OVERLAP_MAX_US)
            return -ERANGE;
        n = n * 10 + (*p - '0');
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        if (n > KPID_PULL_OVERLAP_MAX_US / units[i].us)
            return -ERANGE;
        *ret_us = n * units[i].us;
        return 0;
    }
    return -EINVAL;
}

/* A column key of g (optional): *ret is a copy of its value, or stays NULL. */
static int column_key(const config_setting_t *g, const char *q, const char *key, char **ret,
                      char **ret_error)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    const char *v;

    if (!s)
        return 0;
    if (!(v = config_setting_get_string(s)))
        return fail(ret_error, s, q, "%s must be a result column's name in a string", key);
    if (!column_valid(v))
        return fail(ret_error, s, q,
                    "%s must be a column name of 1 to %d bytes of UTF-8 without control characters",
                    key, KPID_PULL_COLUMN_MAX);
    if (!(*ret = strdup(v)))
        return -ENOMEM;
    return 0;
}

/* A string key of g that is one of choices (NULL-terminated); its index in *ret, or def
 * when absent. */
static int choice_key(const config_setting_t *g, const char *q, const char *key,
                      const char *const *choices, int def, int *ret, char **ret_error)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    const char *v;

    *ret = def;
    if (!s)
        return 0;
    if ((v = config_setting_get_string(s)))
        for (int i = 0; choices[i]; i++)
            if (strcmp(v, choices[i]) == 0) {
                *ret = i;
                return 0;
            }
    return fail(ret_error, s, q, "%s must be \"%s\" or \"%s\"", key, choices[0], choices[1]);
}

static int parse_overlap(const config_setting_t *g, kpid_pull_query *qs, char **ret_error)
{
    const config_setting_t *s = config_setting_get_member(g, "overlap");
    const char *q = qs->name;
    int type;

    if (!s)
        return 0;
    type = config_setting_type(s);
    if (qs->watermark_type == KPID_PULL_WM_TIMESTAMP) {
        int64_t us;
        if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
            long long ms = config_setting_get_int64(s);
            if (ms < 0 || ms > KPID_PULL_OVERLAP_MAX_US / 1000)
                return fail(ret_error, s, q, "overlap must be a duration from 0 to 366d");
            qs->overlap = ms * 1000;
            return 0;
        }
        const char *v = config_setting_get_string(s);
        int r = v ? kpid_pull_duration_parse(v, &us) : -EINVAL;
        if (r < 0)
            return fail(ret_error, s, q,
                        "overlap must be a duration (\"5m\", \"30s\", \"1h\") from 0 to 366d "
                        "for a timestamp watermark");
        qs->overlap = us;
        return 0;
    }
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return fail(ret_error, s, q,
                    "overlap must be a count (an integer) for an integer watermark");
    long long n = config_setting_get_int64(s);
    if (n < 0 || n > KPID_PULL_OVERLAP_MAX_COUNT)
        return fail(ret_error, s, q, "overlap must be from 0 to %lld", KPID_PULL_OVERLAP_MAX_COUNT);
    qs->overlap = n;
    return 0;
}

static int parse_attributes(const config_setting_t *g, kpid_pull_query *qs, char **ret_error)
{
    const config_setting_t *s = config_setting_get_member(g, "attributes");
    const char *q = qs->name;
    int n;

    if (!s)
        return 0;
    if (!config_setting_is_group(s))
        return fail(ret_error, s, q, "attributes must be a group: { ward = \"ward_column\"; }");
    n = config_setting_length(s);
    if (n > KPID_PULL_ATTRS_MAX)
        return fail(ret_error, s, q, "attributes has more than %d members", KPID_PULL_ATTRS_MAX);
    if (n > 0 && !(qs->attrs = calloc((size_t)n, sizeof(*qs->attrs))))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *a = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(a), *column = config_setting_get_string(a);
        kpid_pull_attr *attr = &qs->attrs[qs->n_attrs];
        if (!name || !kpid_ident_attr_valid(name))
            return fail(ret_error, a, q, "attribute name \"%.64s\" is not valid (%s)",
                        name ? name : "", KPID_IDENT_ATTR_RULE);
        if (!column || !column_valid(column))
            return fail(ret_error, a, q, "attribute %s must name a result column in a string",
                        name);
        if (!(attr->name = strdup(name)) || !(attr->column = strdup(column))) {
            free(attr->name);
            attr->name = NULL;
            return -ENOMEM;
        }
        qs->n_attrs++;
    }
    return 0;
}

static int parse_sql(const config_setting_t *g, kpid_pull_query *qs, char **ret_error)
{
    const config_setting_t *s = config_setting_get_member(g, "sql");
    const char *v = s ? config_setting_get_string(s) : NULL;
    char why[256];
    size_t len;
    long n;

    if (!v)
        return fail(ret_error, s ? s : g, qs->name, "a query needs sql, a SELECT in a string");
    len = strlen(v);
    if (len > KPID_PULL_SQL_MAX)
        return fail(ret_error, s, qs->name, "sql is longer than %d bytes", KPID_PULL_SQL_MAX);
    if (!kpid_utf8_valid(v, len))
        return fail(ret_error, s, qs->name, "sql is not valid UTF-8");
    if ((n = kpid_pull_sql_check(v, len, why, sizeof(why))) < 0)
        return fail(ret_error, s, qs->name, "sql %s", why);
    if (!(qs->sql = strndup(v, (size_t)n)))
        return -ENOMEM;
    return 0;
}

static int check_keys(const config_setting_t *g, kpid_pull_query *qs, char **ret_error)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        size_t k = 0;
        while (query_keys[k] && strcmp(query_keys[k], name) != 0)
            k++;
        if (!query_keys[k])
            return fail(ret_error, m, qs->name, "unknown key \"%.64s\"", name);
        if (qs->kind != KPID_PULL_RETRACTIONS)
            continue;
        for (k = 0; event_only_keys[k]; k++)
            if (strcmp(event_only_keys[k], name) == 0)
                return fail(ret_error, m, qs->name,
                            "%s has no use with kind = \"retractions\" (every row retracts its "
                            "event_key)",
                            name);
    }
    return 0;
}

static int parse_query(const config_setting_t *g, kpid_pull_query *qs, char **ret_error)
{
    static const char *const types[] = {"timestamp", "integer", NULL};
    static const char *const kinds[] = {"events", "retractions", NULL};
    static const char *const bounds[] = {"none", "snapshot_xmin", NULL};
    const config_setting_t *s;
    const char *v, *file;
    int type, kind, bound, r;

    if (!config_setting_is_group(g))
        return fail(ret_error, g, NULL,
                    "a query is a group: { name = \"...\"; sql = \"...\"; ... }");
    file = config_setting_source_file(g);
    if (!(qs->file = strdup(file ? file : "(config)")))
        return -ENOMEM;
    qs->line = (int)config_setting_source_line(g);
    s = config_setting_get_member(g, "name");
    if (!s || !(v = config_setting_get_string(s)) || !name_valid(v))
        return fail(ret_error, s ? s : g, NULL,
                    "a query needs a name of 1 to %d characters of a-z 0-9 _", KPID_PULL_NAME_MAX);
    if (!(qs->name = strdup(v)))
        return -ENOMEM;
    if ((r = choice_key(g, qs->name, "kind", kinds, 0, &kind, ret_error)) < 0)
        return r;
    qs->kind = kind == 1 ? KPID_PULL_RETRACTIONS : KPID_PULL_EVENTS;
    if ((r = check_keys(g, qs, ret_error)) < 0 || (r = parse_sql(g, qs, ret_error)) < 0 ||
        (r = choice_key(g, qs->name, "watermark_type", types, 0, &type, ret_error)) < 0 ||
        (r = choice_key(g, qs->name, "bound", bounds, 0, &bound, ret_error)) < 0)
        return r;
    qs->watermark_type = type == 1 ? KPID_PULL_WM_INTEGER : KPID_PULL_WM_TIMESTAMP;
    qs->bound = bound == 1 ? KPID_PULL_BOUND_SNAPSHOT_XMIN : KPID_PULL_BOUND_NONE;
    if ((r = column_key(g, qs->name, "watermark", &qs->watermark, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "tiebreaker", &qs->tiebreaker, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "event_key", &qs->event_key, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "activity_column", &qs->activity_column, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "case_id", &qs->case_id, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "subject_id", &qs->subject_id, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "time", &qs->time, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "value", &qs->value, ret_error)) < 0 ||
        (r = column_key(g, qs->name, "retract_when", &qs->retract_when, ret_error)) < 0 ||
        (r = parse_overlap(g, qs, ret_error)) < 0 || (r = parse_attributes(g, qs, ret_error)) < 0)
        return r;
    if (!qs->watermark || !qs->tiebreaker || !qs->event_key)
        return fail(ret_error, g, qs->name, "a query needs %s (a result column)",
                    !qs->watermark    ? "watermark"
                    : !qs->tiebreaker ? "tiebreaker"
                                      : "event_key");
    if (qs->bound == KPID_PULL_BOUND_SNAPSHOT_XMIN) {
        s = config_setting_get_member(g, "bound");
        if (qs->watermark_type != KPID_PULL_WM_INTEGER)
            return fail(ret_error, s, qs->name,
                        "bound = \"snapshot_xmin\" needs watermark_type = \"integer\" (a column "
                        "holding the writing transaction's pg_current_xact_id())");
    }
    if ((s = config_setting_get_member(g, "activity"))) {
        if (!(v = config_setting_get_string(s)) || !kpid_ident_activity_valid(v))
            return fail(ret_error, s, qs->name, "activity must be %s", KPID_IDENT_ACTIVITY_RULE);
        if (!(qs->activity = strdup(v)))
            return -ENOMEM;
    }
    if (qs->kind == KPID_PULL_EVENTS) {
        if (!qs->activity == !qs->activity_column)
            return fail(ret_error, g, qs->name,
                        "a query needs activity (a constant) or activity_column, one of them");
        if (!qs->time)
            return fail(ret_error, g, qs->name, "a query needs time (a result column)");
    }
    return 0;
}

static void free_query(kpid_pull_query *q)
{
    free(q->name);
    free(q->sql);
    free(q->watermark);
    free(q->tiebreaker);
    free(q->activity);
    free(q->activity_column);
    free(q->event_key);
    free(q->case_id);
    free(q->subject_id);
    free(q->time);
    free(q->value);
    free(q->retract_when);
    for (size_t i = 0; i < q->n_attrs; i++) {
        free(q->attrs[i].name);
        free(q->attrs[i].column);
    }
    free(q->attrs);
    free(q->file);
}

kpid_pull_spec *kpid_pull_spec_free(kpid_pull_spec *spec)
{
    if (!spec)
        return NULL;
    for (size_t i = 0; i < spec->n_queries; i++)
        free_query(&spec->queries[i]);
    free(spec->queries);
    free(spec);
    return NULL;
}

int kpid_pull_spec_parse(const config_setting_t *list, unsigned flags, kpid_pull_spec **ret,
                         char **ret_error)
{
    kpid_pull_spec *spec = NULL;
    int n, r;

    *ret_error = NULL;
    if (!list) {
        if (!(*ret_error = strdup("a HIS source needs queries = ( { name = ...; sql = ...; } )")))
            return -ENOMEM;
        return -EINVAL;
    }
    if (config_setting_type(list) != CONFIG_TYPE_LIST || (n = config_setting_length(list)) < 1 ||
        n > KPID_PULL_QUERIES_MAX)
        return fail(ret_error, list, NULL, "queries must be a list of 1 to %d groups: ( { ... } )",
                    KPID_PULL_QUERIES_MAX);
    if (!(spec = calloc(1, sizeof(*spec))) ||
        !(spec->queries = calloc((size_t)n, sizeof(*spec->queries)))) {
        r = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        kpid_pull_query *q = &spec->queries[spec->n_queries++];
        if ((r = parse_query(g, q, ret_error)) < 0)
            goto out;
        if (q->bound == KPID_PULL_BOUND_SNAPSHOT_XMIN && !(flags & KPID_PULL_ALLOW_SNAPSHOT_XMIN)) {
            r = fail(ret_error, config_setting_get_member(g, "bound"), q->name,
                     "bound = \"snapshot_xmin\" is for PostgreSQL (plugin pgsql) only");
            goto out;
        }
        for (size_t j = 0; j + 1 < spec->n_queries; j++)
            if (spec->queries[j].name && q->name && strcmp(spec->queries[j].name, q->name) == 0) {
                r = fail(ret_error, g, NULL, "two queries are named \"%s\" (names are unique)",
                         q->name);
                goto out;
            }
    }
    *ret = spec;
    spec = NULL;
    r = 0;
out:
    kpid_pull_spec_free(spec);
    return r;
}
