/*
 * Loading and validating the daemon's configuration (see config.h).
 *
 * The loader walks the whole file and collects every problem it finds as one
 * "FILE:LINE: message" line, sorted by file and line, instead of stopping at the first:
 * an operator fixes a configuration in one round. Only a libconfig syntax error, or
 * nesting deeper than KPID_CONFIG_MAX_DEPTH, stops it, because nothing after it can be
 * trusted. A problem that has no line of its own (a required top-level group that is
 * missing, the default key file that cannot be read) is reported as "FILE: message".
 *
 * Relative paths in the file (plugin_dir, pseudonym_key_file, warehouse.password_file)
 * are relative to the directory of the main configuration file, made absolute at load
 * time, so that they mean the same after the daemon changes its working directory.
 * @include directives are resolved from the same directory. plugin_dir_override (the
 * KPID_PLUGIN_DIR environment variable) is taken as it is.
 *
 * Sections and the keys they accept are listed in one table each (top_keys,
 * warehouse_keys, queue_keys, source_keys): a key is known exactly when it is listed,
 * so adding a section is one line there plus its parser. A source accepts the common
 * keys the host interprets (source_keys) and the keys its plugin declares in its
 * kpid_config_key table; the host fills the plugin's config struct from that table.
 * The management model (objectives, processes and their KPIs) is parsed in model.c, with
 * the helpers at the end of this file (declared in config.h).
 *
 * libconfig 1.5 reads an integer literal beyond 32 bits without an L suffix as a
 * truncated int; the example configuration tells to write such values as 3000000000L.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ingest/batch.h" /* kpid_activity_valid */
#include "ops/log.h"
#include "model/model.h"
#include "model/model_check.h"
#include "model/model_kpi.h" /* kpid__model_quote */
#include "ingest/pseudonym.h"
#include "ingest/queue.h" /* KPID_QUEUE_MAX_*_LIMIT */

#ifndef KPID_DEFAULT_PLUGIN_DIR
#define KPID_DEFAULT_PLUGIN_DIR "/usr/lib/kpid/plugins"
#endif
#ifndef KPID_DEFAULT_PSEUDONYM_KEY_FILE
#define KPID_DEFAULT_PSEUDONYM_KEY_FILE "/etc/kpid/pseudonym.key"
#endif

/*
 * Groups, lists and arrays nest at most this deep (a top-level group is level 1).
 * libconfig 1.5's parser keeps its state on a bison stack of 10000 entries and fails
 * with "memory exhausted" at 1999 nested groups (2856 alternating lists and groups, 4997
 * lists); kpid's own configurations need fewer than 10 levels.
 */
#define KPID_CONFIG_MAX_DEPTH 100
#define NESTING_TOO_DEEP "nesting too deep: at most %d levels of groups, lists and arrays"

#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_DAY INT64_C(86400000)

/* The known keys of each section; NULL-terminated. */
static const char *const top_keys[] = {
    "plugin_dir", "log_level", "pseudonymize", "pseudonym_key_file", "warehouse",
    "queue",      "sources",   "objectives",   "processes",          "recompute_horizon",
    NULL,
};
static const char *const warehouse_keys[] = {
    "conninfo", "password_file", "batch_max_rows", "flush_interval_ms", "statement_timeout",
    "lock_timeout", "idle_in_transaction_session_timeout", "connect_timeout", "wait_notice",
    NULL,
};
static const char *const queue_keys[] = {"max_events", "max_bytes", NULL};
static const char *const source_keys[] = {
    "name", "plugin", "interval", "pseudonymize_case_id", "activities", NULL,
};

/* One collected problem. file points into the libconfig object or the loader. */
typedef struct diag {
    const char *file;
    unsigned line; /* 0: no line */
    size_t seq;    /* order of discovery, to keep the sort stable */
    size_t rank;   /* order of first appearance of file, set before sorting */
    char *message;
} diag;

/* The state of one load; lives on kpid_config_load's stack. */
typedef struct kpid__loader {
    kpid_config *cfg;
    const char *path; /* as given */
    char *dir;        /* absolute directory of path */
    diag *diags;
    size_t n_diags;
    bool oom;
    bool plugin_dir_ok; /* false: plugin_dir is unusable, do not try to load plugins */
} loader;

static void report(loader *l, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_v(loader *l, const config_setting_t *at, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Records one problem at the place of setting at (NULL: the file without a line). */
static void report(loader *l, const config_setting_t *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_v(l, at, fmt, ap);
    va_end(ap);
}

static void report_v(loader *l, const config_setting_t *at, const char *fmt, va_list ap)
{
    char *message = NULL;
    diag *grown;

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
    l->diags[l->n_diags] = (diag){
        .file = at && config_setting_source_file(at) ? config_setting_source_file(at) : l->path,
        .line = at ? config_setting_source_line(at) : 0,
        .seq = l->n_diags,
        .message = message,
    };
    l->n_diags++;
}

/*
 * The name of a file for messages: the main file as given, an included file (which
 * libconfig names as written in @include) with the directory it was read from.
 * Freshly allocated; NULL when out of memory.
 */
static char *file_name(loader *l, const char *file)
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
    const diag *x = a, *y = b;

    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Joins the problems into one text, sorted by file and line. NULL when out of memory. */
static char *diags_format(loader *l)
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
    qsort(l->diags, l->n_diags, sizeof(*l->diags), diag_compare);

    f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    for (size_t i = 0; i < l->n_diags; i++) {
        const diag *d = &l->diags[i];
        char *file = file_name(l, d->file);
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

static void diags_free(loader *l)
{
    for (size_t i = 0; i < l->n_diags; i++)
        free(l->diags[i].message);
    free(l->diags);
    l->diags = NULL;
    l->n_diags = 0;
}

static char *xstrdup(loader *l, const char *s)
{
    char *d = strdup(s);

    if (!d)
        l->oom = true;
    return d;
}

/* "a string", "an integer", ... for messages. */
static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a floating-point number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

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

/* Keeps candidate in *best when it is closer to name than what *best holds. */
static void suggest_consider(const char *name, const char *candidate, const char **best,
                             size_t *best_distance)
{
    size_t dist = edit_distance(name, candidate, 2);

    /* A distance as long as the name itself would suggest anything for "x". */
    if (dist <= 2 && dist < strlen(name) && dist < *best_distance) {
        *best = candidate;
        *best_distance = dist;
    }
}

static bool name_listed(const char *name, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static const kpid_config_key *plugin_key_find(const kpid_config_key *keys, const char *name)
{
    for (size_t i = 0; keys && keys[i].name; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/*
 * Reports every member of group that is neither in names nor in plugin_keys (may be
 * NULL), suggesting the closest known key within edit distance 2. ctx names the section
 * for the message (" in warehouse", or "" at the top).
 */
static void check_unknown_keys(loader *l, const config_setting_t *group,
                               const char *const *names, const kpid_config_key *plugin_keys,
                               const char *ctx)
{
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        const char *best = NULL;
        size_t best_distance = SIZE_MAX;

        if (!name || name_listed(name, names) || plugin_key_find(plugin_keys, name))
            continue;
        for (size_t k = 0; names[k]; k++)
            suggest_consider(name, names[k], &best, &best_distance);
        for (size_t k = 0; plugin_keys && plugin_keys[k].name; k++)
            suggest_consider(name, plugin_keys[k].name, &best, &best_distance);
        if (best)
            report(l, s, "unknown key \"%s\"%s; did you mean \"%s\"?", name, ctx, best);
        else
            report(l, s, "unknown key \"%s\"%s", name, ctx);
    }
}

static void report_type(loader *l, const config_setting_t *s, const char *ctx,
                        const char *expected)
{
    report(l, s, "wrong type for \"%s\"%s: expected %s, got %s", config_setting_name(s), ctx,
           expected, type_name(config_setting_type(s)));
}

/* Formats a duration with the largest unit that divides it: "10ms", "5s", "1d". */
static void duration_format(int64_t ms, char *buf, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", MS_PER_DAY}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};

    for (size_t i = 0; ms != 0 && i < sizeof(units) / sizeof(units[0]); i++)
        if (ms % units[i].ms == 0) {
            snprintf(buf, size, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return;
        }
    snprintf(buf, size, "%" PRId64 "ms", ms);
}

/* Checks min <= v <= max and reports otherwise; max INT64_MAX means "no upper bound". */
static int check_range(loader *l, const config_setting_t *s, const char *ctx, int64_t v,
                       int64_t min, int64_t max, bool duration)
{
    char sv[32], smin[32], smax[32];

    if (v >= min && v <= max)
        return 0;
    if (duration) {
        duration_format(v, sv, sizeof(sv));
        duration_format(min, smin, sizeof(smin));
        duration_format(max, smax, sizeof(smax));
    } else {
        snprintf(sv, sizeof(sv), "%" PRId64, v);
        snprintf(smin, sizeof(smin), "%" PRId64, min);
        snprintf(smax, sizeof(smax), "%" PRId64, max);
    }
    if (max == INT64_MAX)
        report(l, s, "\"%s\"%s must be at least %s, not %s", config_setting_name(s), ctx, smin,
               sv);
    else if (min == INT64_MIN)
        report(l, s, "\"%s\"%s must be at most %s, not %s", config_setting_name(s), ctx, smax,
               sv);
    else
        report(l, s, "\"%s\"%s must be between %s and %s, not %s", config_setting_name(s), ctx,
               smin, smax, sv);
    return -ERANGE;
}

/* Typed readers: each returns 0 and *ret, or reports the problem and returns -EINVAL. */

static int get_string(loader *l, const config_setting_t *s, const char *ctx, const char **ret)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        report_type(l, s, ctx, "a string");
        return -EINVAL;
    }
    *ret = config_setting_get_string(s);
    if (!*ret) { /* libconfig's parser ran out of memory and kept a NULL string */
        l->oom = true;
        return -ENOMEM;
    }
    return 0;
}

static int get_bool(loader *l, const config_setting_t *s, const char *ctx, bool *ret)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        report_type(l, s, ctx, "a boolean (true or false)");
        return -EINVAL;
    }
    *ret = config_setting_get_bool(s) != 0;
    return 0;
}

static int get_int(loader *l, const config_setting_t *s, const char *ctx, int64_t min,
                   int64_t max, int64_t *ret)
{
    int64_t v;

    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        v = config_setting_get_int(s);
        break;
    case CONFIG_TYPE_INT64:
        v = config_setting_get_int64(s);
        break;
    default:
        report_type(l, s, ctx, "an integer");
        return -EINVAL;
    }
    if (check_range(l, s, ctx, v, min, max, /* duration= */ false) < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int get_double(loader *l, const config_setting_t *s, const char *ctx, double *ret)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_FLOAT:
        *ret = config_setting_get_float(s);
        return 0;
    case CONFIG_TYPE_INT:
        *ret = config_setting_get_int(s);
        return 0;
    case CONFIG_TYPE_INT64:
        *ret = (double)config_setting_get_int64(s);
        return 0;
    default:
        report_type(l, s, ctx, "a number");
        return -EINVAL;
    }
}

/* A duration: a string with a unit or an integer number of milliseconds. */
static int get_duration(loader *l, const config_setting_t *s, const char *ctx, int64_t min,
                        int64_t max, int64_t *ret)
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
            report(l, s, "invalid duration %" PRId64 " for \"%s\"%s: it must not be negative",
                   v, name, ctx);
            return -EINVAL;
        }
        break;
    case CONFIG_TYPE_STRING:
        text = config_setting_get_string(s);
        r = kpid_duration_parse(text, &v);
        if (r == -ERANGE) {
            report(l, s, "invalid duration \"%s\" for \"%s\"%s: it is too large", text, name,
                   ctx);
            return -EINVAL;
        }
        if (r < 0) {
            report(l, s,
                   "invalid duration \"%s\" for \"%s\"%s: use an integer with a unit ms, s, m, "
                   "h or d (\"250ms\", \"5s\") or an integer of milliseconds",
                   text, name, ctx);
            return -EINVAL;
        }
        break;
    default:
        report_type(l, s, ctx, "a duration (\"5s\" or milliseconds)");
        return -EINVAL;
    }
    if (check_range(l, s, ctx, v, min, max, /* duration= */ true) < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* A non-empty path, made absolute against the configuration file's directory. */
static int get_path(loader *l, const config_setting_t *s, const char *ctx, char **ret)
{
    const char *text;
    char *path;

    if (get_string(l, s, ctx, &text) < 0)
        return -EINVAL;
    if (text[0] == '\0') {
        report(l, s, "\"%s\"%s must not be empty", config_setting_name(s), ctx);
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

/* ---- nesting ---------------------------------------------------------------------- */

/*
 * The first group, list or array nested deeper than KPID_CONFIG_MAX_DEPTH below group
 * (itself at level), or NULL. The recursion stops at the limit.
 */
static const config_setting_t *first_too_deep(const config_setting_t *group, int level)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *e = config_setting_get_elem(group, i), *deep;
        if (!config_setting_is_aggregate(e))
            continue;
        if (level + 1 > KPID_CONFIG_MAX_DEPTH)
            return e;
        if ((deep = first_too_deep(e, level + 1)))
            return deep;
    }
    return NULL;
}

/*
 * The line of the first '{', '(' or '[' of the file at path that opens a level deeper
 * than KPID_CONFIG_MAX_DEPTH, reading the file as libconfig's scanner does (strings with
 * backslash escapes, # and // comments to the end of the line, block comments); 0 when
 * there is none or the file cannot be read. For the case where libconfig's parser ran
 * out of memory ("memory exhausted") and built no settings to look at.
 */
static unsigned deep_line_of(const char *path)
{
    enum { CODE, STRING, LINE_COMMENT, BLOCK_COMMENT } state = CODE;
    FILE *f = fopen(path, "re");
    unsigned line = 1, found = 0;
    int depth = 0, c, next;

    if (!f)
        return 0;
    while (!found && (c = getc(f)) != EOF) {
        if (c == '\n')
            line++;
        switch (state) {
        case CODE:
            if (c == '"')
                state = STRING;
            else if (c == '#')
                state = LINE_COMMENT;
            else if (c == '/') {
                next = getc(f);
                if (next == '/')
                    state = LINE_COMMENT;
                else if (next == '*')
                    state = BLOCK_COMMENT;
                else if (next != EOF)
                    ungetc(next, f);
            } else if (c == '{' || c == '(' || c == '[') {
                if (++depth > KPID_CONFIG_MAX_DEPTH)
                    found = line;
            } else if ((c == '}' || c == ')' || c == ']') && depth > 0)
                depth--;
            break;
        case STRING:
            if (c == '\\') {
                next = getc(f); /* the escaped character, whatever it is */
                if (next == '\n')
                    line++;
            } else if (c == '"')
                state = CODE;
            break;
        case LINE_COMMENT:
            if (c == '\n')
                state = CODE;
            break;
        case BLOCK_COMMENT:
            if (c == '*') {
                next = getc(f);
                if (next == '/')
                    state = CODE;
                else if (next != EOF)
                    ungetc(next, f);
            }
            break;
        }
    }
    fclose(f);
    return found;
}

static void parse_top(loader *l, const char *plugin_dir_override)
{
    kpid_config *cfg = l->cfg;
    const config_setting_t *root = config_root_setting(&cfg->lc);
    const config_setting_t *s, *key_file_setting, *pseudonymize_setting;
    const char *text;

    check_unknown_keys(l, root, top_keys, NULL, "");

    l->plugin_dir_ok = true;
    s = config_setting_get_member(root, "plugin_dir");
    if (s && get_path(l, s, "", &cfg->plugin_dir) < 0)
        l->plugin_dir_ok = false;
    if (plugin_dir_override) {
        free(cfg->plugin_dir);
        cfg->plugin_dir = xstrdup(l, plugin_dir_override);
        l->plugin_dir_ok = true;
    } else if (!s)
        cfg->plugin_dir = xstrdup(l, KPID_DEFAULT_PLUGIN_DIR);
    if (!cfg->plugin_dir)
        l->plugin_dir_ok = false;

    cfg->log_level = KPID_LOG_INFO;
    s = config_setting_get_member(root, "log_level");
    if (s && get_string(l, s, "", &text) == 0) {
        enum kpid_log_level level;
        if (kpid_log_parse_level(text, &level) < 0)
            report(l, s, "invalid log_level \"%s\": use err, warning, notice, info or debug",
                   text);
        else
            cfg->log_level = (int)level;
    }

    cfg->pseudonymize = true;
    pseudonymize_setting = config_setting_get_member(root, "pseudonymize");
    if (pseudonymize_setting)
        (void)get_bool(l, pseudonymize_setting, "", &cfg->pseudonymize);

    key_file_setting = config_setting_get_member(root, "pseudonym_key_file");
    if (key_file_setting)
        (void)get_path(l, key_file_setting, "", &cfg->pseudonym_key_file);
    else
        cfg->pseudonym_key_file = xstrdup(l, KPID_DEFAULT_PSEUDONYM_KEY_FILE);

    if (cfg->pseudonymize && cfg->pseudonym_key_file) {
        char *error = NULL;
        int r = kpid_pseudonym_key_load(cfg->pseudonym_key_file, &cfg->pseudonym_key,
                                        &cfg->pseudonym_key_len, &error);
        if (r < 0 && error)
            report(l, key_file_setting ? key_file_setting : pseudonymize_setting, "%s", error);
        else if (r < 0)
            l->oom = true;
        free(error);
    }
}

static void parse_warehouse(loader *l)
{
    kpid_config *cfg = l->cfg;
    const config_setting_t *root = config_root_setting(&cfg->lc);
    const config_setting_t *group, *s;
    const char *text;

    cfg->warehouse.batch_max_rows = 50000;
    cfg->warehouse.flush_interval_ms = 200;
    cfg->warehouse.wait_notice_ms = 10 * 1000;
    cfg->warehouse.pg.statement_timeout_ms = 10 * 60 * 1000;
    cfg->warehouse.pg.lock_timeout_ms = 60 * 1000;
    cfg->warehouse.pg.idle_in_transaction_ms = 10 * 60 * 1000;
    cfg->warehouse.pg.connect_timeout_ms = 10 * 1000;

    group = config_setting_get_member(root, "warehouse");
    if (!group) {
        report(l, NULL, "missing required group \"warehouse\"");
        return;
    }
    if (config_setting_type(group) != CONFIG_TYPE_GROUP) {
        report_type(l, group, "", "a group");
        return;
    }
    check_unknown_keys(l, group, warehouse_keys, NULL, " in warehouse");

    s = config_setting_get_member(group, "conninfo");
    if (!s)
        report(l, group, "missing required key \"conninfo\" in warehouse");
    else if (get_string(l, s, " in warehouse", &text) == 0)
        cfg->warehouse.pg.conninfo = xstrdup(l, text);

    s = config_setting_get_member(group, "password_file");
    if (s)
        (void)get_path(l, s, " in warehouse", &cfg->warehouse.pg.password_file);

    s = config_setting_get_member(group, "batch_max_rows");
    if (s)
        (void)get_int(l, s, " in warehouse", 1, 1000000, &cfg->warehouse.batch_max_rows);

    s = config_setting_get_member(group, "flush_interval_ms");
    if (s)
        (void)get_int(l, s, " in warehouse", 1, 60000, &cfg->warehouse.flush_interval_ms);

    /* 0 switches a timeout off, as in PostgreSQL; a day is more than any kpid statement
     * needs, and PostgreSQL's own limit (INT_MAX ms) is larger. */
    static const struct {
        const char *key;
        int64_t min_ms;
        size_t offset;
    } durations[] = {
        {"statement_timeout", 0, offsetof(kpid_config, warehouse.pg.statement_timeout_ms)},
        {"lock_timeout", 0, offsetof(kpid_config, warehouse.pg.lock_timeout_ms)},
        {"idle_in_transaction_session_timeout", 0,
         offsetof(kpid_config, warehouse.pg.idle_in_transaction_ms)},
        {"connect_timeout", 1000, offsetof(kpid_config, warehouse.pg.connect_timeout_ms)},
        {"wait_notice", 1000, offsetof(kpid_config, warehouse.wait_notice_ms)},
    };
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        s = config_setting_get_member(group, durations[i].key);
        if (s)
            (void)get_duration(l, s, " in warehouse", durations[i].min_ms, MS_PER_DAY,
                               (int64_t *)((char *)cfg + durations[i].offset));
    }
}

static void parse_queue(loader *l)
{
    kpid_config *cfg = l->cfg;
    const config_setting_t *group, *s;

    cfg->queue.max_events = 100000;
    cfg->queue.max_bytes = 32 * 1024 * 1024;

    group = config_setting_get_member(config_root_setting(&cfg->lc), "queue");
    if (!group)
        return;
    if (config_setting_type(group) != CONFIG_TYPE_GROUP) {
        report_type(l, group, "", "a group");
        return;
    }
    check_unknown_keys(l, group, queue_keys, NULL, " in queue");

    s = config_setting_get_member(group, "max_events");
    if (s)
        (void)get_int(l, s, " in queue", 1, KPID_QUEUE_MAX_EVENTS_LIMIT, &cfg->queue.max_events);
    s = config_setting_get_member(group, "max_bytes");
    if (s)
        (void)get_int(l, s, " in queue", 65536, KPID_QUEUE_MAX_BYTES_LIMIT,
                      &cfg->queue.max_bytes);
}

static bool source_name_is_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > KPID_SOURCE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static size_t config_type_size(enum kpid_config_type type)
{
    switch (type) {
    case KPID_CONFIG_STRING:
        return sizeof(char *);
    case KPID_CONFIG_INT:
    case KPID_CONFIG_DURATION:
        return sizeof(int64_t);
    case KPID_CONFIG_BOOL:
        return sizeof(bool);
    case KPID_CONFIG_DOUBLE:
        return sizeof(double);
    case KPID_CONFIG_SECTION:
        return 0;
    }
    return SIZE_MAX;
}

/* True when the key is stored in the config struct and fits in it. */
static bool plugin_key_stored(const kpid_plugin *plugin, const kpid_config_key *key)
{
    size_t size = config_type_size(key->type);

    return size != 0 && size != SIZE_MAX && key->offset <= plugin->def->config_size &&
           size <= plugin->def->config_size - key->offset;
}

/*
 * Checks a plugin's key table; a bad table is the plugin's fault and is reported at the
 * source that uses it. Returns 0 when the table can be used.
 */
static int plugin_keys_check(loader *l, const config_setting_t *at, const kpid_plugin *plugin)
{
    const kpid_config_key *keys = plugin->def->config_keys;
    int r = 0;

    for (size_t i = 0; keys && keys[i].name; i++) {
        const kpid_config_key *k = &keys[i];
        const char *why = NULL;

        if (config_type_size(k->type) == SIZE_MAX)
            why = "its type is unknown";
        else if (k->type != KPID_CONFIG_SECTION && !plugin_key_stored(plugin, k))
            why = "its offset lies outside the config struct";
        else if (name_listed(k->name, source_keys))
            why = "the host reserves this name for every source";
        else if (plugin_key_find(keys, k->name) != k)
            why = "it is declared twice";
        if (why) {
            report(l, at, "plugin \"%s\" declares an invalid configuration key \"%s\": %s; fix "
                          "the plugin",
                   plugin->name, k->name, why);
            r = -EINVAL;
        }
    }
    return r;
}

/* Replaces the string stored at offset with a copy of value (NULL clears it). */
static void plugin_string_set(loader *l, void *base, size_t offset, const char *value)
{
    char *old, *copy = NULL;

    if (value && !(copy = xstrdup(l, value)))
        return;
    memcpy(&old, (char *)base + offset, sizeof(old));
    free(old);
    memcpy((char *)base + offset, &copy, sizeof(copy));
}

/* Stores a key's default, given in configuration syntax. Returns 0 or -EINVAL. */
static int plugin_default_set(loader *l, void *base, const kpid_config_key *k)
{
    const char *text = k->default_value;
    char *end;
    int64_t i;
    double d;
    bool b;

    switch (k->type) {
    case KPID_CONFIG_STRING:
        plugin_string_set(l, base, k->offset, text);
        return 0;
    case KPID_CONFIG_INT:
        errno = 0;
        i = strtoll(text, &end, 0);
        if (errno != 0 || end == text || *end != '\0')
            return -EINVAL;
        memcpy((char *)base + k->offset, &i, sizeof(i));
        return 0;
    case KPID_CONFIG_DURATION:
        if (kpid_duration_parse(text, &i) < 0)
            return -EINVAL;
        memcpy((char *)base + k->offset, &i, sizeof(i));
        return 0;
    case KPID_CONFIG_BOOL:
        if (strcasecmp(text, "true") == 0)
            b = true;
        else if (strcasecmp(text, "false") == 0)
            b = false;
        else
            return -EINVAL;
        memcpy((char *)base + k->offset, &b, sizeof(b));
        return 0;
    case KPID_CONFIG_DOUBLE:
        errno = 0;
        d = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0')
            return -EINVAL;
        memcpy((char *)base + k->offset, &d, sizeof(d));
        return 0;
    case KPID_CONFIG_SECTION:
        return 0;
    }
    return -EINVAL;
}

/* Stores a given value after checking its type and range; problems are reported. */
static void plugin_value_set(loader *l, void *base, const kpid_config_key *k,
                             const config_setting_t *s, const char *ctx)
{
    bool bounded = k->min != 0 || k->max != 0;
    int64_t min = bounded ? k->min : INT64_MIN, max = bounded ? k->max : INT64_MAX;
    const char *text;
    int64_t i;
    double d;
    bool b;

    switch (k->type) {
    case KPID_CONFIG_STRING:
        if (get_string(l, s, ctx, &text) == 0)
            plugin_string_set(l, base, k->offset, text);
        break;
    case KPID_CONFIG_INT:
        if (get_int(l, s, ctx, min, max, &i) == 0)
            memcpy((char *)base + k->offset, &i, sizeof(i));
        break;
    case KPID_CONFIG_DURATION:
        if (get_duration(l, s, ctx, bounded ? min : 0, max, &i) == 0)
            memcpy((char *)base + k->offset, &i, sizeof(i));
        break;
    case KPID_CONFIG_BOOL:
        if (get_bool(l, s, ctx, &b) == 0)
            memcpy((char *)base + k->offset, &b, sizeof(b));
        break;
    case KPID_CONFIG_DOUBLE:
        if (get_double(l, s, ctx, &d) == 0)
            memcpy((char *)base + k->offset, &d, sizeof(d));
        break;
    case KPID_CONFIG_SECTION:
        if (config_setting_type(s) != CONFIG_TYPE_GROUP &&
            config_setting_type(s) != CONFIG_TYPE_LIST)
            report_type(l, s, ctx, "a group or a list");
        break;
    }
}

/* Validates the plugin's keys of one source and fills its plugin_config. */
static void parse_plugin_keys(loader *l, kpid_source_config *sc, const char *ctx)
{
    const kpid_plugin *plugin = sc->plugin;
    const kpid_config_key *keys = plugin->def->config_keys;
    const config_setting_t *group = sc->setting;

    if (plugin->def->config_size > 0) {
        sc->plugin_config = calloc(1, plugin->def->config_size);
        if (!sc->plugin_config) {
            l->oom = true;
            return;
        }
    }
    for (size_t i = 0; keys && keys[i].name; i++) {
        const kpid_config_key *k = &keys[i];
        const config_setting_t *s = config_setting_get_member(group, k->name);

        if (s)
            plugin_value_set(l, sc->plugin_config, k, s, ctx);
        else if (k->default_value) {
            if (plugin_default_set(l, sc->plugin_config, k) < 0)
                report(l, group,
                       "plugin \"%s\" declares an invalid default \"%s\" for key \"%s\"; fix "
                       "the plugin",
                       plugin->name, k->default_value, k->name);
        } else if (k->required)
            report(l, group, "missing required key \"%s\"%s", k->name, ctx);
    }
}

/*
 * The activities a source declares it produces: an array of activity names. They only
 * feed the warning about activities no source produces (model_check.h).
 */
static void parse_activities(loader *l, const config_setting_t *s, const char *ctx,
                             kpid_source_config *sc)
{
    char q[KPID__MODEL_QUOTE_SIZE];
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        report_type(l, s, ctx, "an array of strings");
        return;
    }
    sc->has_activities = true;
    if (n == 0)
        return;
    if (!(sc->activities = calloc((size_t)n, sizeof(*sc->activities)))) {
        l->oom = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *text = config_setting_get_string(e);

        if (!text)
            report(l, e, "wrong type for activities[%d]%s: expected a string, got %s", i, ctx,
                   type_name(config_setting_type(e)));
        else if (!kpid_activity_valid(text))
            report(l, e,
                   "invalid activity \"%s\" in activities[%d]%s: use 1 to 64 characters of "
                   "A-Z 0-9 _",
                   kpid__model_quote(text, q), i, ctx);
        else if ((sc->activities[sc->n_activities] = xstrdup(l, text)))
            sc->n_activities++;
    }
}

static void parse_source(loader *l, unsigned index, const config_setting_t *group,
                         kpid_source_config *sc)
{
    const config_setting_t *s;
    const char *text;
    char ctx[96];
    bool keys_ok = false;

    sc->setting = group;
    sc->file = file_name(l, config_setting_source_file(group));
    if (!sc->file)
        l->oom = true;
    sc->line = config_setting_source_line(group);
    sc->interval_ms = MS_PER_SECOND;
    snprintf(ctx, sizeof(ctx), " in sources[%u]", index);

    s = config_setting_get_member(group, "name");
    if (!s)
        report(l, group, "missing required key \"name\"%s", ctx);
    else if (get_string(l, s, ctx, &text) == 0) {
        if (!source_name_is_valid(text))
            report(l, s, "invalid source name \"%s\": use 1 to %d characters of A-Z a-z 0-9 _ . -",
                   text, KPID_SOURCE_NAME_MAX);
        else {
            sc->name = xstrdup(l, text);
            snprintf(ctx, sizeof(ctx), " in source \"%s\"", text);
        }
    }

    s = config_setting_get_member(group, "plugin");
    if (!s)
        report(l, group, "missing required key \"plugin\"%s", ctx);
    else if (get_string(l, s, ctx, &text) == 0 && l->plugin_dir_ok) {
        char *error = NULL;
        if (kpid_plugin_load(l->cfg->plugin_dir, text, &sc->plugin, &error) < 0) {
            if (error)
                report(l, s, "%s", error);
            else
                l->oom = true;
            sc->plugin = NULL;
        } else
            keys_ok = plugin_keys_check(l, group, sc->plugin) == 0;
        free(error);
    }

    s = config_setting_get_member(group, "interval");
    if (s)
        (void)get_duration(l, s, ctx, 10, MS_PER_DAY, &sc->interval_ms);

    s = config_setting_get_member(group, "pseudonymize_case_id");
    if (s)
        (void)get_bool(l, s, ctx, &sc->pseudonymize_case_id);

    s = config_setting_get_member(group, "activities");
    if (s)
        parse_activities(l, s, ctx, sc);

    /* Without its plugin's table nothing can be said of the other keys. */
    if (sc->plugin && keys_ok) {
        check_unknown_keys(l, group, source_keys, sc->plugin->def->config_keys, ctx);
        parse_plugin_keys(l, sc, ctx);
    }
}

static void parse_sources(loader *l)
{
    kpid_config *cfg = l->cfg;
    const config_setting_t *list;
    int n;

    list = config_setting_get_member(config_root_setting(&cfg->lc), "sources");
    if (!list)
        return; /* a daemon without sources still runs its schedules */
    n = config_setting_length(list);
    if (config_setting_type(list) != CONFIG_TYPE_LIST &&
        !(config_setting_type(list) == CONFIG_TYPE_ARRAY && n == 0)) {
        report_type(l, list, "", "a list of groups");
        return;
    }
    if (n == 0)
        return;
    cfg->sources = calloc((size_t)n, sizeof(*cfg->sources));
    if (!cfg->sources) {
        l->oom = true;
        return;
    }
    cfg->n_sources = (size_t)n;

    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(list, (unsigned)i);
        if (config_setting_type(group) != CONFIG_TYPE_GROUP) {
            report(l, group, "wrong type for sources[%d]: expected a group, got %s", i,
                   type_name(config_setting_type(group)));
            continue;
        }
        parse_source(l, (unsigned)i, group, &cfg->sources[i]);
    }

    for (size_t j = 1; j < cfg->n_sources; j++) {
        const kpid_source_config *b = &cfg->sources[j];
        for (size_t i = 0; b->name && i < j; i++) {
            const kpid_source_config *a = &cfg->sources[i];
            if (a->name && strcmp(a->name, b->name) == 0) {
                const config_setting_t *first = config_setting_get_member(a->setting, "name");
                char *file = file_name(l, config_setting_source_file(first));
                if (!file) {
                    l->oom = true;
                    break;
                }
                report(l, config_setting_get_member(b->setting, "name"),
                       "duplicate source name \"%s\"; it is first defined at %s:%d", b->name,
                       file, config_setting_source_line(first));
                free(file);
                break;
            }
        }
    }
}

/* Logs what a valid configuration may get wrong (model_check.h); never refuses it. */
static int log_warnings(const kpid_config *cfg)
{
    char *warnings = NULL, *save = NULL;

    if (kpid_model_check_activities(cfg, &warnings) < 0)
        return -ENOMEM;
    for (char *line = warnings ? strtok_r(warnings, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        log_warning("%s", line);
    free(warnings);
    return 0;
}

/*
 * See config.h. Besides -EINVAL for an invalid configuration, it returns -errno when the
 * file cannot be opened and -ENOMEM when memory runs out; in every failure *ret_errors
 * holds the text ("FILE: out of memory" for -ENOMEM), and is NULL only when not even
 * that could be allocated. *ret_config is written only on success.
 */
int kpid_config_load(const char *path, const char *plugin_dir_override,
                     kpid_config **ret_config, char **ret_errors)
{
    loader l = {.path = path};
    char *errors = NULL;
    FILE *probe;
    int r;

    l.cfg = calloc(1, sizeof(*l.cfg));
    if (!l.cfg) {
        r = -ENOMEM;
        goto out;
    }
    config_init(&l.cfg->lc);
    l.cfg->path = strdup(path);
    l.dir = directory_of(path);
    if (!l.cfg->path || !l.dir) {
        r = -ENOMEM;
        goto out;
    }

    /* libconfig says only "file I/O error"; the reason comes from errno here. */
    probe = fopen(path, "re");
    if (!probe) {
        r = errno > 0 ? -errno : -EIO;
        report(&l, NULL, "cannot read the configuration file: %s", strerror(-r));
        goto out;
    }
    fclose(probe);

    config_set_include_dir(&l.cfg->lc, l.dir);
    if (!config_get_include_dir(&l.cfg->lc)) {
        r = -ENOMEM;
        goto out;
    }
    if (!config_read_file(&l.cfg->lc, path)) {
        char *file;
        if (config_error_type(&l.cfg->lc) == CONFIG_ERR_FILE_IO) { /* gone since the probe */
            r = -EIO;
            report(&l, NULL, "cannot read the configuration file");
            goto out;
        }
        file = file_name(&l, config_error_file(&l.cfg->lc));
        /* The parser's stack ran out: say that the nesting is too deep, and where it
         * first goes beyond the limit (in the file the parser stopped in, or else in the
         * main file, which may include it at depth). A real lack of memory is left as
         * libconfig says it. */
        unsigned deep = 0;
        if (file && strcmp(config_error_text(&l.cfg->lc), "memory exhausted") == 0) {
            deep = deep_line_of(file);
            if (!deep && strcmp(file, path) != 0 && (deep = deep_line_of(path))) {
                free(file);
                file = strdup(path);
            }
        }
        if (!file ||
            (deep ? asprintf(&errors, "%s:%u: " NESTING_TOO_DEEP "\n", file, deep,
                             KPID_CONFIG_MAX_DEPTH)
                  : asprintf(&errors, "%s:%d: %s\n", file, config_error_line(&l.cfg->lc),
                             config_error_text(&l.cfg->lc))) < 0) {
            errors = NULL;
            r = -ENOMEM;
        } else
            r = -EINVAL;
        free(file);
        goto out;
    }
    /* Too deep for the parser's stack is refused above, too deep for the limit here:
     * nothing is read from such a file. */
    const config_setting_t *too_deep = first_too_deep(config_root_setting(&l.cfg->lc), 0);
    if (too_deep) {
        report(&l, too_deep, NESTING_TOO_DEEP, KPID_CONFIG_MAX_DEPTH);
        r = l.oom ? -ENOMEM : -EINVAL;
        goto out;
    }

    parse_top(&l, plugin_dir_override);
    parse_warehouse(&l);
    parse_queue(&l);
    parse_sources(&l);
    l.cfg->model = kpid__model_parse(&l, config_root_setting(&l.cfg->lc));

    r = l.oom ? -ENOMEM : l.n_diags > 0 ? -EINVAL : 0;
    if (r == 0)
        r = log_warnings(l.cfg);
out:
    if (r == 0) {
        *ret_config = l.cfg;
        l.cfg = NULL;
    } else {
        if (r != -ENOMEM && !errors && !(errors = diags_format(&l)))
            r = -ENOMEM;
        if (r == -ENOMEM) {
            free(errors);
            if (asprintf(&errors, "%s: out of memory\n", path) < 0)
                errors = NULL; /* the one case without a text */
        }
        *ret_errors = errors;
    }
    diags_free(&l);
    free(l.dir);
    kpid_config_free(l.cfg);
    return r;
}

kpid_config *kpid_config_free(kpid_config *config)
{
    if (!config)
        return NULL;
    for (size_t i = 0; i < config->n_sources; i++) {
        kpid_source_config *sc = &config->sources[i];
        const kpid_config_key *keys = sc->plugin ? sc->plugin->def->config_keys : NULL;

        for (size_t k = 0; sc->plugin_config && keys && keys[k].name; k++)
            if (keys[k].type == KPID_CONFIG_STRING && plugin_key_stored(sc->plugin, &keys[k])) {
                char *s;
                memcpy(&s, (char *)sc->plugin_config + keys[k].offset, sizeof(s));
                free(s);
            }
        free(sc->plugin_config);
        for (size_t k = 0; k < sc->n_activities; k++)
            free(sc->activities[k]);
        free(sc->activities);
        free(sc->name);
        free(sc->file);
    }
    free(config->sources);
    config->model = kpid_model_free(config->model);
    free(config->path);
    free(config->plugin_dir);
    free(config->pseudonym_key_file);
    config->pseudonym_key = kpid_pseudonym_key_free(config->pseudonym_key,
                                                    config->pseudonym_key_len);
    free(config->warehouse.pg.conninfo);
    free(config->warehouse.pg.password_file);
    config_destroy(&config->lc);
    free(config);
    return NULL;
}

int kpid_duration_parse(const char *text, int64_t *ret_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", MS_PER_DAY}};
    const char *p = text;
    int64_t n = 0, factor = 0;
    bool overflow = false;

    if (!text || !isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        int digit = *p - '0';
        if (n > (INT64_MAX - digit) / 10)
            overflow = true;
        else
            n = n * 10 + digit;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(p, units[i].unit) == 0) {
            factor = units[i].ms;
            break;
        }
    if (factor == 0)
        return -EINVAL;
    if (overflow || n > INT64_MAX / factor)
        return -ERANGE;
    *ret_ms = n * factor;
    return 0;
}

/* ---- helpers for the sections parsed in other files (config.h) --------------------- */

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

void kpid__config_report_type(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              const char *expected)
{
    report_type(l, s, ctx, expected);
}

const char *kpid__config_type_name(int type)
{
    return type_name(type);
}

void kpid__config_check_unknown_keys(kpid__loader *l, const config_setting_t *group,
                                     const char *const *names, const char *ctx)
{
    check_unknown_keys(l, group, names, NULL, ctx);
}

void kpid__config_suggest(const char *name, const char *candidate, const char **best,
                          size_t *best_distance)
{
    suggest_consider(name, candidate, best, best_distance);
}

int kpid__config_get_string(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            const char **ret)
{
    return get_string(l, s, ctx, ret);
}

int kpid__config_get_bool(kpid__loader *l, const config_setting_t *s, const char *ctx,
                          bool *ret)
{
    return get_bool(l, s, ctx, ret);
}

int kpid__config_get_double(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            double *ret)
{
    return get_double(l, s, ctx, ret);
}

int kpid__config_get_duration(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              int64_t min, int64_t max, int64_t *ret)
{
    return get_duration(l, s, ctx, min, max, ret);
}

char *kpid__config_file_name(kpid__loader *l, const char *file)
{
    return file_name(l, file);
}
