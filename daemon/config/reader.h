/*
 * The bottom of the configuration loader: the state of one load (kpid__loader), which
 * collects every problem as "FILE:LINE: message", and the typed readers of settings
 * that report what is wrong with a value in the loader's words. Every part of the
 * configuration (the core's sections in config.c, the sources, the management model in
 * model/) reads its settings through these; nothing here knows a section.
 *
 * Message phrases: ctx arguments end a message and name where the setting is, " in
 * warehouse", " in KPI \"x\"", or "" at the top level.
 *
 * The typed readers return 0 and *ret, or report the problem and return -EINVAL
 * (-ENOMEM when memory ran out, which is noted in the loader: the load fails with
 * -ENOMEM then). *ret is written only on success.
 *
 * A loader belongs to the thread that loads; nothing here is shared.
 */
#ifndef KPID_CONFIG_READER_H
#define KPID_CONFIG_READER_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KPID__CONFIG_QUOTE_SIZE 72 /* a quoted string for messages, NUL included */

/* One collected problem; the loader's own. */
typedef struct kpid__diag {
    const char *file; /* points into the libconfig object or the loader */
    unsigned line;    /* 0: no line */
    size_t seq;       /* order of discovery, to keep the sort stable */
    size_t rank;      /* order of first appearance of file, set before sorting */
    char *message;
} kpid__diag;

/*
 * The state of one load; the load keeps it on its stack, between kpid__loader_init and
 * kpid__loader_fini. Its fields are reader.c's: use the functions.
 */
typedef struct kpid__loader {
    const char *path; /* the main configuration file, as given; not owned */
    char *dir;        /* its absolute directory */
    kpid__diag *diags;
    size_t n_diags;
    bool oom;
} kpid__loader;

/*
 * Starts a load of the file at path (which must outlive the loader): relative paths
 * are taken from its directory. Returns 0 or -ENOMEM. The loader is ready for
 * kpid__loader_fini either way.
 */
int kpid__loader_init(kpid__loader *l, const char *path);

/* Frees what the loader holds. */
void kpid__loader_fini(kpid__loader *l);

/* The main configuration file, as given to kpid__loader_init. */
const char *kpid__loader_path(const kpid__loader *l);

/* The absolute directory of the configuration file (@include and relative paths). */
const char *kpid__loader_dir(const kpid__loader *l);

/* Whether memory ran out during the load. */
bool kpid__loader_oom(const kpid__loader *l);

/* How many problems were reported. */
size_t kpid__loader_n_problems(const kpid__loader *l);

/*
 * The problems as one text of "FILE:LINE: message" lines (or "FILE: message" for those
 * without a line), sorted by file (in the order files first appear) and line, then by
 * discovery. Freshly allocated, the caller frees it; NULL when out of memory.
 */
char *kpid__loader_errors(kpid__loader *l);

/* Records one problem at the place of setting at (NULL: the main file, without a line). */
void kpid__config_report(kpid__loader *l, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Notes that memory ran out: the load fails with -ENOMEM. */
void kpid__config_oom(kpid__loader *l);

/* strdup that notes running out of memory in the loader. */
char *kpid__config_strdup(kpid__loader *l, const char *s);

/*
 * The name of file (config_setting_source_file; NULL: the main file) for messages: the
 * main file as given, an included file (which libconfig names as written in @include)
 * with the directory it was read from. Freshly allocated, the caller frees it; NULL when
 * out of memory (not noted).
 */
char *kpid__config_file_name(const kpid__loader *l, const char *file);

/* "a string", "an integer", ... for a CONFIG_TYPE_*. A static string. */
const char *kpid__config_type_name(int type);

/* Reports "wrong type for \"KEY\"CTX: expected EXPECTED, got a string" at s. */
void kpid__config_report_type(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              const char *expected);

/*
 * A printable copy of s for messages: at most 64 characters, any but printable ASCII
 * (and '"') shown as '?', "..." when cut. Returns out.
 */
const char *kpid__config_quote(const char *s, char out[KPID__CONFIG_QUOTE_SIZE]);

/* Whether name is one of names (NULL-terminated). */
bool kpid__config_name_listed(const char *name, const char *const *names);

/*
 * Keeps candidate in *best when it is a closer suggestion for name than *best, within
 * edit distance 2 (start with *best NULL and *best_distance SIZE_MAX; *best stays NULL
 * when nothing is close). Of candidates equally close, the first stays.
 */
void kpid__config_suggest(const char *name, const char *candidate, const char **best,
                          size_t *best_distance);

/*
 * Reports every member of group not in names (NULL-terminated): "unknown key \"x\"CTX",
 * with "; did you mean \"y\"?" when a known key is close.
 */
void kpid__config_check_unknown_keys(kpid__loader *l, const config_setting_t *group,
                                     const char *const *names, const char *ctx);

/* The typed readers (see the top). */
int kpid__config_get_string(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            const char **ret);
int kpid__config_get_bool(kpid__loader *l, const config_setting_t *s, const char *ctx, bool *ret);
/* A number: a float or an integer. */
int kpid__config_get_double(kpid__loader *l, const config_setting_t *s, const char *ctx,
                            double *ret);
/* An integer between min and max (INT64_MIN, INT64_MAX: no bound that way). */
int kpid__config_get_int(kpid__loader *l, const config_setting_t *s, const char *ctx, int64_t min,
                         int64_t max, int64_t *ret);
/* A duration (duration.h: a string with a unit, or an integer of milliseconds) between
 * min and max milliseconds (max INT64_MAX: no upper bound). */
int kpid__config_get_duration(kpid__loader *l, const config_setting_t *s, const char *ctx,
                              int64_t min, int64_t max, int64_t *ret);
/* A non-empty path, made absolute against the configuration file's directory; *ret is
 * freshly allocated, the caller frees it. */
int kpid__config_get_path(kpid__loader *l, const config_setting_t *s, const char *ctx, char **ret);

#endif
