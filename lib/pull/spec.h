/*
 * The queries of a HIS database source (plugins pgsql and odbc): what each reads, in
 * which order, and how its result columns become events. Parsed from the source's
 * `queries` list (docs/his-sources.md); everything a plugin needs besides its
 * connection. The plugin reads the source's own keys (conninfo, page_size, ...) from its
 * key table; this library reads the list, which the host hands over raw.
 *
 * A query spec is plain data: owned by the kpid_pull_spec that holds it, read-only after
 * kpid_pull_spec_parse, safe to share between threads. Nothing here connects anywhere or
 * knows libpq or ODBC.
 */
#ifndef KPID_PULL_SPEC_H
#define KPID_PULL_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_setting_t;

#define KPID_PULL_QUERIES_MAX 32 /* queries of one source */
#define KPID_PULL_NAME_MAX 32    /* bytes of a query name: [a-z0-9_]{1,32} */
#define KPID_PULL_COLUMN_MAX 128 /* bytes of a column name */
#define KPID_PULL_ATTRS_MAX 64   /* attributes of one query */
#define KPID_PULL_SQL_MAX 65536  /* bytes of a query's SQL */
#define KPID_PULL_OVERLAP_MAX_US (366LL * 86400 * 1000000) /* a timestamp overlap */
#define KPID_PULL_OVERLAP_MAX_COUNT (1LL << 40)            /* an integer overlap */

/* What the watermark column holds. */
enum kpid_pull_wm_type {
    KPID_PULL_WM_TIMESTAMP = 1, /* timestamptz (text with an offset) */
    KPID_PULL_WM_INTEGER = 2,   /* an integer within int64 (bigint, xid8) */
};

/* Which rows of the watermark's order a page may read beyond the cursor. */
enum kpid_pull_bound {
    KPID_PULL_BOUND_NONE = 0,
    KPID_PULL_BOUND_SNAPSHOT_XMIN = 1, /* watermark < the oldest running transaction's id */
};

/* What a row is. */
enum kpid_pull_kind {
    KPID_PULL_EVENTS = 0,      /* an event (or, with retract_when true, a retraction) */
    KPID_PULL_RETRACTIONS = 1, /* always a retraction of its event_key */
};

/* One attribute: its name in the event's attrs and the result column that holds it. */
typedef struct kpid_pull_attr {
    char *name;
    char *column;
} kpid_pull_attr;

/*
 * One query. Column fields name result columns (case-sensitive) or are NULL when not
 * configured. Strings are owned by the spec.
 */
typedef struct kpid_pull_query {
    char *name; /* [a-z0-9_]{1,32}, unique in the source */
    char *sql;  /* as configured, without trailing ';' and white space */
    char *watermark;
    char *tiebreaker;
    enum kpid_pull_wm_type watermark_type;
    int64_t overlap; /* microseconds (timestamp) or a count (integer); 0: none */
    enum kpid_pull_bound bound;
    enum kpid_pull_kind kind;
    char *activity;        /* a constant activity, or NULL */
    char *activity_column; /* or the column that holds it */
    char *event_key;       /* required */
    char *case_id;
    char *subject_id;
    char *time; /* required for events */
    char *value;
    char *retract_when;
    kpid_pull_attr *attrs;
    size_t n_attrs;
    char *file; /* where the query is configured, for messages ("(config)" if unknown) */
    int line;
} kpid_pull_query;

typedef struct kpid_pull_spec {
    kpid_pull_query *queries;
    size_t n_queries;
} kpid_pull_spec;

/* Flags of kpid_pull_spec_parse: what the plugin supports. */
#define KPID_PULL_ALLOW_SNAPSHOT_XMIN 0x1u /* bound = "snapshot_xmin" (pgsql) */

/*
 * Parses list, the source's `queries` setting (a libconfig list of groups), checking
 * every key: unknown keys, names, required columns, types, the SQL's shape
 * (kpid_pull_sql_check). Returns 0 and the spec in *ret (freshly allocated; free it with
 * kpid_pull_spec_free), or -EINVAL with *ret_error, a freshly allocated "FILE:LINE: what"
 * message the caller frees, or -ENOMEM (*ret_error NULL). A NULL list is "a HIS source
 * needs queries". Strings are copied: the spec does not need the configuration later.
 */
int kpid_pull_spec_parse(const struct config_setting_t *list, unsigned flags, kpid_pull_spec **ret,
                         char **ret_error);

/* Frees a spec. Accepts NULL; returns NULL. */
kpid_pull_spec *kpid_pull_spec_free(kpid_pull_spec *spec);

/* The name of a watermark type ("timestamp", "integer"); "?" for another value. */
const char *kpid_pull_wm_type_name(enum kpid_pull_wm_type type);

/*
 * Checks the shape of a query's SQL without parsing it as a server would: one statement
 * that starts with SELECT or WITH, whose quotes ('...', E'...', "...", $tag$...$tag$) and
 * comments (--, nested / * * /) are closed, whose parentheses balance, and which has no
 * ';' (a trailing one, with white space, is allowed and not counted), and at its top
 * level (outside parentheses) no ORDER BY, LIMIT, OFFSET, FETCH or FOR UPDATE / SHARE:
 * the plugin pages the query itself. Returns the length of sql without the trailing ';'
 * and white space, or -EINVAL with why (why_size bytes, always NUL-terminated) saying
 * what is wrong. Reads len bytes at sql (no NUL needed; a NUL byte is an error).
 */
long kpid_pull_sql_check(const char *sql, size_t len, char *why, size_t why_size);

/*
 * Parses a duration as the configuration writes them: an integer of milliseconds, or an
 * integer with a unit ms, s, m, h or d ("5m"); no sign, no space. Returns 0 and
 * *ret_us (microseconds), -EINVAL, or -ERANGE beyond a year.
 */
int kpid_pull_duration_parse(const char *text, int64_t *ret_us);

#endif
