/* The helpers of the model's parser (model_parser.h). */
#include "model/model_parser.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/ident.h"

void kpid__model_phrase(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    /* clang-analyzer's va_list checker calls ap uninitialized here, but only when this
     * file is not the first of a clang-tidy run: a false finding. */
    vsnprintf(buf, size, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
}

void kpid__model_place(kpid__model_parser *p, const config_setting_t *s, const char **ret_file,
                       int *ret_line)
{
    kpid_model *m = p->model;
    char *name = kpid__config_file_name(p->l, config_setting_source_file(s));
    char **grown;

    *ret_line = config_setting_source_line(s);
    *ret_file = NULL;
    if (!name) {
        kpid__config_oom(p->l);
        return;
    }
    for (size_t i = 0; i < m->n_files; i++)
        if (strcmp(m->files[i], name) == 0) {
            free(name);
            *ret_file = m->files[i];
            return;
        }
    grown = realloc(m->files, (m->n_files + 1) * sizeof(*grown));
    if (!grown) {
        free(name);
        kpid__config_oom(p->l);
        return;
    }
    m->files = grown;
    m->files[m->n_files++] = name;
    *ret_file = name;
}

const config_setting_t *kpid__model_member(kpid__model_parser *p, const config_setting_t *group,
                                           const char *key, const char *ctx, bool required)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (!s && required)
        kpid__config_report(p->l, group, "missing required key \"%s\"%s", key, ctx);
    return s;
}

int kpid__model_get_text(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         bool nonempty, char **ret)
{
    const char *text;
    int r = kpid__config_get_string(p->l, s, ctx, &text);

    if (r < 0)
        return r;
    if (nonempty && text[0] == '\0') {
        kpid__config_report(p->l, s, "\"%s\"%s must not be empty", config_setting_name(s), ctx);
        return -EINVAL;
    }
    *ret = strdup(text);
    if (!*ret) {
        kpid__config_oom(p->l);
        return -ENOMEM;
    }
    return 0;
}

int kpid__model_get_enum(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         const char *what, const kpid_name_table *table, int *ret)
{
    char q[KPID__CONFIG_QUOTE_SIZE], use[256];
    const char *text;
    int v;

    if (kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return -EINVAL;
    v = kpid_name_find(table, text);
    if (v >= 0) {
        *ret = v;
        return 0;
    }
    kpid__config_report(p->l, s, "invalid %s \"%s\"%s: use %s", what, kpid__config_quote(text, q),
                        ctx, kpid_name_list(table, use, sizeof(use)));
    return -EINVAL;
}

int kpid__model_get_number(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
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

void kpid__model_get_positive(kpid__model_parser *p, const config_setting_t *group, const char *key,
                              const char *ctx, double *ret)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    double v;

    if (!s || kpid__model_get_number(p, s, ctx, &v) < 0)
        return;
    if (!(v > 0)) {
        kpid__config_report(p->l, s, "\"%s\"%s must be greater than 0, not %g", key, ctx, v);
        return;
    }
    *ret = v;
}

void kpid__model_get_activity(kpid__model_parser *p, const config_setting_t *group, const char *key,
                              const char *ctx, char **ret)
{
    const config_setting_t *s = kpid__model_member(p, group, key, ctx, true);
    char q[KPID__CONFIG_QUOTE_SIZE];
    char *text = NULL;

    if (!s || kpid__model_get_text(p, s, ctx, false, &text) < 0)
        return;
    if (!kpid_ident_activity_valid(text)) {
        kpid__config_report(p->l, s,
                            "invalid activity \"%s\" for \"%s\"%s: use " KPID_IDENT_ACTIVITY_RULE,
                            kpid__config_quote(text, q), key, ctx);
        free(text);
        return;
    }
    *ret = text;
}

int kpid__model_get_attr(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         char **ret)
{
    char q[KPID__CONFIG_QUOTE_SIZE];
    char *text = NULL;

    if (kpid__model_get_text(p, s, ctx, false, &text) < 0)
        return -EINVAL;
    if (!kpid_ident_attr_valid(text)) {
        kpid__config_report(p->l, s, "invalid attribute name \"%s\"%s: use " KPID_IDENT_ATTR_RULE,
                            kpid__config_quote(text, q), ctx);
        free(text);
        return -EINVAL;
    }
    *ret = text;
    return 0;
}

int kpid__model_list_length(kpid__model_parser *p, const config_setting_t *s, const char *ctx)
{
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_LIST &&
        !(config_setting_type(s) == CONFIG_TYPE_ARRAY && n == 0)) {
        kpid__config_report_type(p->l, s, ctx, "a list of groups");
        return -1;
    }
    return n;
}

bool kpid__model_elem_is_group(kpid__model_parser *p, const config_setting_t *elem,
                               const char *name, unsigned i, const char *ctx)
{
    if (config_setting_type(elem) == CONFIG_TYPE_GROUP)
        return true;
    kpid__config_report(p->l, elem, "wrong type for %s[%u]%s: expected a group, got %s", name, i,
                        ctx, kpid__config_type_name(config_setting_type(elem)));
    return false;
}
