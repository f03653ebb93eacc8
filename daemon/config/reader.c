/*
 * The loader's diagnostics and typed readers (reader.h).
 *
 * The loader walks the whole file and collects every problem it finds as one
 * "FILE:LINE: message" line, sorted by file and line, instead of stopping at the first:
 * an operator fixes a configuration in one round. A problem that has no line of its own
 * (a required top-level group that is missing, the default key file that cannot be
 * read) is reported as "FILE: message".
 *
 * libconfig 1.5 reads an integer literal beyond 32 bits without an L suffix as a
 * truncated int; the example configuration tells to write such values as 3000000000L.
 */
#include "config/reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/duration.h"

static void report_v(kpid__loader *l, const config_setting_t *at, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The absolute directory of path: freshly allocated, NULL when out of memory. */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *cwd, *dir;

    if (slash == path)
        return strdup("/");
    if (path[0] == '/')
        return strndup(path, (size_t)(slash - path));
    cwd = getcwd(NULL, 0);
    if (!cwd && errno == ENOMEM)
        return NULL;
    if (!cwd) /* the working directory is gone: keep the path relative */
        return slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    if (!slash)
        return cwd;
    if (asprintf(&dir, "%s/%.*s", cwd, (int)(slash - path), path) < 0)
        dir = NULL;
    free(cwd);
    return dir;
}

int kpid__loader_init(kpid__loader *l, const char *path)
{
    *l = (kpid__loader){.path = path};
    l->dir = directory_of(path);
    return l->dir ? 0 : -ENOMEM;
}

void kpid__loader_fini(kpid__loader *l)
{
    for (size_t i = 0; i < l->n_diags; i++)
        free(l->diags[i].message);
    free(l->diags);
    free(l->dir);
    *l = (kpid__loader){0};
}

const char *kpid__loader_path(const kpid__loader *l)
{
    return l->path;
}

const char *kpid__loader_dir(const kpid__loader *l)
{
    return l->dir;
}

bool kpid__loader_oom(const kpid__loader *l)
{
    return l->oom;
}

size_t kpid__loader_n_problems(const kpid__loader *l)
{
    return l->n_diags;
}

/* ---- problems --------------------------------------------------------------------- */

static void report_v(kpid__loader *l, const config_setting_t *at, const char *fmt, va_list ap)
{
    char *message = NULL;
    kpid__diag *grown;

    if (vasprintf(&message, fmt, ap) < 0)
        message = NULL;
    if (!message) {
        l->oom = true;
        return;
    }
    grown = realloc(l->diags, (l->n_diags + 1) * sizeof(*grown));
    if (!grown) {
        free(message);
        l->oom = true;
        return;
    }
    l->diags = grown;
    l->diags[l->n_diags] = (kpid__diag){
        .file = at && config_setting_source_file(at) ? config_setting_source_file(at) : l->path,
        .line = at ? config_setting_source_line(at) : 0,
        .seq = l->n_diags,
        .message = message,
    };
    l->n_diags++;
}

void kpid__config_report(kpid__loader *l, const config_setting_t *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_v(l, at, fmt, ap);
    va_end(ap);
}

void kpid__config_oom(kpid__loader *l)
{
    l->oom = true;
}

char *kpid__config_strdup(kpid__loader *l, const char *s)
{
    char *d = strdup(s);

    if (!d)
        l->oom = true;
    return d;
}

char *kpid__config_file_name(const kpid__loader *l, const char *file)
{
    char *name;

    if (!file)
        file = l->path;
    if (file[0] == '/' || strcmp(file, l->path) == 0)
        return strdup(file);
    if (asprintf(&name, "%s/%s", l->dir, file) < 0)
        return NULL;
    return name;
}

static int diag_compare(const void *a, const void *b)
{
    const kpid__diag *x = a, *y = b;

    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

char *kpid__loader_errors(kpid__loader *l)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f;

    for (size_t i = 0; i < l->n_diags; i++) {
        l->diags[i].rank = i;
        for (size_t j = 0; j < i; j++)
            if (strcmp(l->diags[j].file, l->diags[i].file) == 0) {
                l->diags[i].rank = l->diags[j].rank;
                break;
            }
    }
    if (l->n_diags > 1) /* diags is NULL when there are none, and qsort wants an array */
        qsort(l->diags, l->n_diags, sizeof(*l->diags), diag_compare);

    f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    for (size_t i = 0; i < l->n_diags; i++) {
        const kpid__diag *d = &l->diags[i];
        char *file = kpid__config_file_name(l, d->file);
        if (!file)
            break;
        if (d->line > 0)
            fprintf(f, "%s:%u: %s\n", file, d->line, d->message);
        else
            fprintf(f, "%s: %s\n", file, d->message);
        free(file);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- words for messages ----------------------------------------------------------- */

const char *kpid__config_type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a floating-point number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    default: return "nothing";
    }
}

void kpid__config_report_type(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              const char *expected)
{
    kpid__config_report(l, s, "wrong type for \"%s\"%s: expected %s, got %s",
                        config_setting_name(s), ctx, expected,
                        kpid__config_type_name(config_setting_type(s)));
}

const char *kpid__config_quote(const char *s, char out[KPID__CONFIG_QUOTE_SIZE])
{
    size_t i = 0;

    for (; i < 64 && s[i]; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    strcpy(out + i, s[i] ? "..." : "");
    return out;
}

/* ---- unknown keys ----------------------------------------------------------------- */

/*
 * Optimal string alignment distance (Levenshtein plus transposition of neighbours) of
 * two short key names, capped: returns cap + 1 as soon as it must exceed cap.
 */
static size_t edit_distance(const char *a, const char *b, size_t cap)
{
    enum { MAX = 64 };
    size_t la = strlen(a), lb = strlen(b);
    size_t d[MAX + 1][MAX + 1];

    if (la > MAX || lb > MAX)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb] > cap ? cap + 1 : d[la][lb];
}

void kpid__config_suggest(const char *name, const char *candidate, const char **best,
                          size_t *best_distance)
{
    size_t dist = edit_distance(name, candidate, 2);

    /* A distance as long as the name itself would suggest anything for "x". */
    if (dist <= 2 && dist < strlen(name) && dist < *best_distance) {
        *best = candidate;
        *best_distance = dist;
    }
}

bool kpid__config_name_listed(const char *name, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

void kpid__config_check_unknown_keys(kpid__loader *l, const config_setting_t *group,
                                     const char *const *names, const char *ctx)
{
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        const char *best = NULL;
        size_t best_distance = SIZE_MAX;

        if (!name || kpid__config_name_listed(name, names))
            continue;
        for (size_t k = 0; names[k]; k++)
            kpid__config_suggest(name, names[k], &best, &best_distance);
        if (best)
            kpid__config_report(l, s, "unknown key \"%s\"%s; did you mean \"%s\"?", name, ctx,
                                best);
        else
            kpid__config_report(l, s, "unknown key \"%s\"%s", name, ctx);
    }
}

/* ---- typed readers ---------------------------------------------------------------- */

/* Checks min <= v <= max and reports otherwise; max INT64_MAX means "no upper bound". */
static int check_range(kpid__loader *l, const config_setting_t *s, const char *ctx, int64_t v,
                       int64_t min, int64_t max, bool duration)
{
    char sv[32], smin[32], smax[32];

    if (v >= min && v <= max)
        return 0;
    if (duration) {
        kpid_duration_format(v, sv, sizeof(sv));
        kpid_duration_format(min, smin, sizeof(smin));
        kpid_duration_format(max, smax, sizeof(smax));
    } else {
        snprintf(sv, sizeof(sv), "%" PRId64, v);
        snprintf(smin, sizeof(smin), "%" PRId64, min);
        snprintf(smax, sizeof(smax), "%" PRId64, max);
    }
    if (max == INT64_MAX)
        kpid__config_report(l, s, "\"%s\"%s must be at least %s, not %s", config_setting_name(s),
                            ctx, smin, sv);
    else if (min == INT64_MIN)
        kpid__config_report(l, s, "\"%s\"%s must be at most %s, not %s", config_setting_name(s),
                            ctx, smax, sv);
    else
        kpid__config_report(l, s, "\"%s\"%s must be between %s and %s, not %s",
                            config_setting_name(s), ctx, smin, smax, sv);
    return -ERANGE;
}

int kpid__config_get_string(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            const char **ret)
{
    const char *text;

    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        kpid__config_report_type(l, s, ctx, "a string");
        return -EINVAL;
    }
    text = config_setting_get_string(s);
    if (!text) { /* libconfig's parser ran out of memory and kept a NULL string */
        l->oom = true;
        return -ENOMEM;
    }
    *ret = text;
    return 0;
}

int kpid__config_get_bool(kpid__loader *l, const config_setting_t *s, const char *ctx, bool *ret)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        kpid__config_report_type(l, s, ctx, "a boolean (true or false)");
        return -EINVAL;
    }
    *ret = config_setting_get_bool(s) != 0;
    return 0;
}

int kpid__config_get_int(kpid__loader *l, const config_setting_t *s, const char *ctx, int64_t min,
                         int64_t max, int64_t *ret)
{
    int64_t v;

    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT: v = config_setting_get_int(s); break;
    case CONFIG_TYPE_INT64: v = config_setting_get_int64(s); break;
    default: kpid__config_report_type(l, s, ctx, "an integer"); return -EINVAL;
    }
    if (check_range(l, s, ctx, v, min, max, /* duration= */ false) < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

int kpid__config_get_double(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            double *ret)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_FLOAT: *ret = config_setting_get_float(s); return 0;
    case CONFIG_TYPE_INT: *ret = config_setting_get_int(s); return 0;
    case CONFIG_TYPE_INT64: *ret = (double)config_setting_get_int64(s); return 0;
    default: kpid__config_report_type(l, s, ctx, "a number"); return -EINVAL;
    }
}

int kpid__config_get_duration(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              int64_t min, int64_t max, int64_t *ret)
{
    const char *name = config_setting_name(s);
    const char *text;
    int64_t v;
    int r;

    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        v = config_setting_get_int64(s);
        if (v < 0) {
            kpid__config_report(l, s,
                                "invalid duration %" PRId64 " for \"%s\"%s: it must not be "
                                "negative",
                                v, name, ctx);
            return -EINVAL;
        }
        break;
    case CONFIG_TYPE_STRING:
        text = config_setting_get_string(s);
        r = kpid_duration_parse(text, &v);
        if (r == -ERANGE) {
            kpid__config_report(l, s, "invalid duration \"%s\" for \"%s\"%s: it is too large", text,
                                name, ctx);
            return -EINVAL;
        }
        if (r < 0) {
            kpid__config_report(l, s,
                                "invalid duration \"%s\" for \"%s\"%s: use an integer with a "
                                "unit ms, s, m, h or d (\"250ms\", \"5s\") or an integer of "
                                "milliseconds",
                                text, name, ctx);
            return -EINVAL;
        }
        break;
    default:
        kpid__config_report_type(l, s, ctx, "a duration (\"5s\" or milliseconds)");
        return -EINVAL;
    }
    if (check_range(l, s, ctx, v, min, max, /* duration= */ true) < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

int kpid__config_get_path(kpid__loader *l, const config_setting_t *s, const char *ctx, char **ret)
{
    const char *text;
    char *path;

    if (kpid__config_get_string(l, s, ctx, &text) < 0)
        return -EINVAL;
    if (text[0] == '\0') {
        kpid__config_report(l, s, "\"%s\"%s must not be empty", config_setting_name(s), ctx);
        return -EINVAL;
    }
    if (text[0] == '/')
        path = strdup(text);
    else if (asprintf(&path, "%s%s%s", l->dir, strcmp(l->dir, "/") == 0 ? "" : "/", text) < 0)
        path = NULL;
    if (!path) {
        l->oom = true;
        return -ENOMEM;
    }
    *ret = path;
    return 0;
}
