/* A query's columns in a result, found by name and checked by type (row.h). */
#include "pull/row.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const coltype_names[] = {
    [KPID_PULL_COL_UNKNOWN] = "of an unknown type",
    [KPID_PULL_COL_TEXT] = "text",
    [KPID_PULL_COL_INTEGER] = "an integer",
    [KPID_PULL_COL_DECIMAL] = "a decimal number",
    [KPID_PULL_COL_BOOLEAN] = "a boolean",
    [KPID_PULL_COL_TIMESTAMPTZ] = "a timestamp with time zone",
    [KPID_PULL_COL_TIMESTAMP] = "a timestamp without time zone",
    [KPID_PULL_COL_DATE] = "a date",
    [KPID_PULL_COL_JSON] = "JSON",
    [KPID_PULL_COL_XID] = "a transaction id (xid8)",
    [KPID_PULL_COL_OTHER] = "of another type",
};

const char *kpid_pull_coltype_name(enum kpid_pull_coltype type)
{
    if ((size_t)type >= sizeof(coltype_names) / sizeof(coltype_names[0]))
        return "of another type";
    return coltype_names[type];
}

void kpid_pull_cols_clear(kpid_pull_cols *cols)
{
    free(cols->attrs);
    free(cols->attr_types);
    *cols = (kpid_pull_cols){0};
}

typedef struct resolver {
    const kpid_pull_query *q;
    size_t n;
    const char *const *names;
    const enum kpid_pull_coltype *types;
    char **ret_error;
} resolver;

__attribute__((format(printf, 2, 3))) static int error(resolver *rs, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (asprintf(rs->ret_error, "query %s: %s", rs->q->name, what) < 0) {
        *rs->ret_error = NULL;
        return -ENOMEM;
    }
    return -EINVAL;
}

/* The result's column names, "a, b, c", cut to fit list. */
static void list_columns(const resolver *rs, char *list, size_t size)
{
    size_t used = 0;

    list[0] = '\0';
    for (size_t i = 0; i < rs->n && used + 1 < size; i++) {
        int w = snprintf(list + used, size - used, "%s\"%.64s\"", i ? ", " : "", rs->names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (rs->n == 0)
        snprintf(list, size, "(none)");
}

/* The index of the column named name, for role (a word for messages). */
static int find(resolver *rs, const char *name, const char *role, int *ret)
{
    int found = -1;
    size_t count = 0;
    char list[300];

    for (size_t i = 0; i < rs->n; i++)
        if (rs->names[i] && strcmp(rs->names[i], name) == 0) {
            if (found < 0)
                found = (int)i;
            count++;
        }
    if (count > 1)
        return error(rs,
                     "the result has %zu columns named \"%s\" (%s): give them distinct names "
                     "with AS",
                     count, name, role);
    if (found < 0) {
        list_columns(rs, list, sizeof(list));
        return error(rs, "the result has no column \"%s\" (%s); its columns are: %s", name, role,
                     list);
    }
    *ret = found;
    return 0;
}

static enum kpid_pull_coltype type_of(const resolver *rs, int i)
{
    return rs->types && i >= 0 ? rs->types[i] : KPID_PULL_COL_UNKNOWN;
}

/* An optional column (name may be NULL: *ret = -1). */
static int find_optional(resolver *rs, const char *name, const char *role, int *ret)
{
    *ret = -1;
    return name ? find(rs, name, role, ret) : 0;
}

static int wrong_type(resolver *rs, const char *name, const char *role, int i, const char *want)
{
    return error(rs, "column \"%s\" (%s) is %s; %s", name, role,
                 kpid_pull_coltype_name(type_of(rs, i)), want);
}

static int check_watermark(resolver *rs, int i)
{
    const kpid_pull_query *q = rs->q;
    enum kpid_pull_coltype t = type_of(rs, i);

    if (q->watermark_type == KPID_PULL_WM_TIMESTAMP) {
        if (t == KPID_PULL_COL_TIMESTAMPTZ || t == KPID_PULL_COL_UNKNOWN)
            return 0;
        if (t == KPID_PULL_COL_TIMESTAMP)
            return wrong_type(rs, q->watermark, "watermark", i,
                              "a timestamp watermark must have a time zone (in PostgreSQL "
                              "timestamptz: col AT TIME ZONE 'Europe/Berlin' AS col)");
        return wrong_type(rs, q->watermark, "watermark", i,
                          "watermark_type \"timestamp\" needs a timestamp with time zone");
    }
    if (t == KPID_PULL_COL_INTEGER || t == KPID_PULL_COL_XID || t == KPID_PULL_COL_DECIMAL ||
        t == KPID_PULL_COL_UNKNOWN)
        return 0;
    return wrong_type(rs, q->watermark, "watermark", i,
                      "watermark_type \"integer\" needs an integer column, which sorts as "
                      "numbers (text sorts \"10\" before \"9\"; cast an xid8 with ::text::bigint "
                      "or leave it xid8)");
}

static int check_others(resolver *rs, kpid_pull_cols *c)
{
    const kpid_pull_query *q = rs->q;
    enum kpid_pull_coltype t;

    if (c->time >= 0) {
        t = type_of(rs, c->time);
        if (t != KPID_PULL_COL_TIMESTAMPTZ && t != KPID_PULL_COL_TEXT && t != KPID_PULL_COL_UNKNOWN)
            return wrong_type(rs, q->time, "time", c->time,
                              "time needs a timestamp with time zone (or RFC 3339 text)");
    }
    if (c->value >= 0) {
        t = c->value_type;
        if (t != KPID_PULL_COL_INTEGER && t != KPID_PULL_COL_DECIMAL && t != KPID_PULL_COL_TEXT &&
            t != KPID_PULL_COL_UNKNOWN)
            return wrong_type(rs, q->value, "value", c->value, "value needs a number");
    }
    if (c->retract_when >= 0) {
        t = c->retract_type;
        if (t != KPID_PULL_COL_BOOLEAN && t != KPID_PULL_COL_INTEGER && t != KPID_PULL_COL_UNKNOWN)
            return wrong_type(rs, q->retract_when, "retract_when", c->retract_when,
                              "retract_when needs a boolean");
    }
    return 0;
}

int kpid_pull_resolve(const kpid_pull_query *q, size_t n, const char *const *names,
                      const enum kpid_pull_coltype *types, kpid_pull_cols *ret, char **ret_error)
{
    resolver rs = {.q = q, .n = n, .names = names, .types = types, .ret_error = ret_error};
    kpid_pull_cols c = {0};
    int r;

    *ret_error = NULL;
    kpid_pull_cols_clear(ret);
    if ((r = find(&rs, q->watermark, "watermark", &c.watermark)) < 0 ||
        (r = check_watermark(&rs, c.watermark)) < 0 ||
        (r = find(&rs, q->tiebreaker, "tiebreaker", &c.tiebreaker)) < 0 ||
        (r = find(&rs, q->event_key, "event_key", &c.event_key)) < 0 ||
        (r = find_optional(&rs, q->case_id, "case_id", &c.case_id)) < 0 ||
        (r = find_optional(&rs, q->subject_id, "subject_id", &c.subject_id)) < 0 ||
        (r = find_optional(&rs, q->activity_column, "activity_column", &c.activity)) < 0 ||
        (r = find_optional(&rs, q->time, "time", &c.time)) < 0 ||
        (r = find_optional(&rs, q->value, "value", &c.value)) < 0 ||
        (r = find_optional(&rs, q->retract_when, "retract_when", &c.retract_when)) < 0)
        goto out;
    c.value_type = type_of(&rs, c.value);
    c.retract_type = type_of(&rs, c.retract_when);
    if ((r = check_others(&rs, &c)) < 0)
        goto out;
    if (q->n_attrs > 0 && (!(c.attrs = calloc(q->n_attrs, sizeof(*c.attrs))) ||
                           !(c.attr_types = calloc(q->n_attrs, sizeof(*c.attr_types))))) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < q->n_attrs; i++) {
        char role[96];
        snprintf(role, sizeof(role), "attribute %s", q->attrs[i].name);
        if ((r = find(&rs, q->attrs[i].column, role, &c.attrs[i])) < 0)
            goto out;
        c.attr_types[i] = type_of(&rs, c.attrs[i]);
        c.n_attrs++;
    }
    *ret = c;
    c = (kpid_pull_cols){0};
    r = 0;
out:
    kpid_pull_cols_clear(&c);
    return r;
}
