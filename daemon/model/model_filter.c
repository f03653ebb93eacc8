/*
 * The filters of a KPI or of a population (model_filter.h). Filter values are only
 * checked for what the warehouse will bind: valid UTF-8 of at most KPID_MODEL_VALUE_MAX
 * bytes (libconfig strings cannot hold NUL: "\x00" ends the string where it stands).
 */
#include "model/model_filter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/utf8.h"

static const char *const filter_keys[] = {"attr", "equals", "in", "not_in", NULL};

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
    if (!kpid_utf8_valid(text, len)) {
        kpid__config_report(p->l, s, "%s%s is not valid UTF-8", label, ctx);
        return -EINVAL;
    }
    if (len > KPID_MODEL_VALUE_MAX) {
        kpid__config_report(p->l, s, "%s%s has %zu bytes; at most %d are allowed", label, ctx, len,
                            KPID_MODEL_VALUE_MAX);
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
        (void)kpid__model_get_attr(p, s, ctx, &f->attr);

    for (int i = 0; i < 3; i++)
        if ((given[i] = config_setting_get_member(group, ops[i]))) {
            n_given++;
            op = i;
        }
    for (int i = 0, k = 0; i < 3; i++)
        if (given[i]) {
            k++;
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
                                    k == 1                 ? ""
                                    : (size_t)k == n_given ? " and "
                                                           : ", ",
                                    ops[i]);
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

void kpid__model_filters_parse(kpid__model_parser *p, const config_setting_t *s, const char *where,
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
