/*
 * Result rows of a query as kpid events: the result's columns found by name
 * (columns.c), and each row converted (row.c) into an event, or a retraction, or the
 * reason why it is rejected. Values come as the database prints them (text), NULL for
 * SQL NULL; the plugin says what type each column has, as far as its driver knows.
 *
 * The conversion reads only the columns the query names: nothing else of a row leaves
 * the plugin. Reasons name columns and never quote values (which may be patient data).
 */
#ifndef KPID_PULL_ROW_H
#define KPID_PULL_ROW_H

#include <stdbool.h>
#include <stddef.h>

#include <kpid/plugin.h>

#include "buf/buf.h"
#include "json/json.h"
#include "pull/spec.h"

/* A result column's type, as the plugin maps its driver's (PostgreSQL OIDs, ODBC SQL
 * types) to it. */
enum kpid_pull_coltype {
    KPID_PULL_COL_UNKNOWN = 0, /* the driver does not say: values are checked row by row */
    KPID_PULL_COL_TEXT,        /* text, varchar, char, uuid, ... */
    KPID_PULL_COL_INTEGER,     /* smallint, integer, bigint */
    KPID_PULL_COL_DECIMAL,     /* numeric, real, double precision */
    KPID_PULL_COL_BOOLEAN,
    KPID_PULL_COL_TIMESTAMPTZ, /* a timestamp with a time zone */
    KPID_PULL_COL_TIMESTAMP,   /* a timestamp without a time zone */
    KPID_PULL_COL_DATE,
    KPID_PULL_COL_JSON, /* json, jsonb: an attribute keeps its value as JSON */
    KPID_PULL_COL_XID,  /* PostgreSQL's xid8: a transaction id, an integer watermark */
    KPID_PULL_COL_OTHER,
};

/* The name of a column type, for messages ("timestamp without time zone"). */
const char *kpid_pull_coltype_name(enum kpid_pull_coltype type);

/*
 * Where a query's columns are in a result: column indexes, -1 for what the query does not
 * use. Zero-initialize; kpid_pull_resolve fills it; free with kpid_pull_cols_clear.
 */
typedef struct kpid_pull_cols {
    int watermark, tiebreaker, event_key, case_id, subject_id, activity, time, value;
    int retract_when;
    enum kpid_pull_coltype value_type, retract_type;
    int *attrs; /* one per q->attrs */
    enum kpid_pull_coltype *attr_types;
    size_t n_attrs;
} kpid_pull_cols;

/*
 * Finds q's columns among the n result columns named names[] (case-sensitive), of types
 * types[] (NULL: all unknown), and checks their types: the watermark a timestamp with a
 * time zone or an integer (as q says), the time a timestamp with a time zone or text, the
 * value a number, retract_when a boolean. Returns 0 and fills *ret (cleared first), or
 * -EINVAL with *ret_error, a freshly allocated message naming the query and the column
 * ("query admissions: the result has no column \"updated_at\" (watermark); its columns
 * are: ..."), or -ENOMEM.
 */
int kpid_pull_resolve(const kpid_pull_query *q, size_t n, const char *const *names,
                      const enum kpid_pull_coltype *types, kpid_pull_cols *ret, char **ret_error);

/* Frees what cols holds and zeroes it. Accepts a zeroed struct. */
void kpid_pull_cols_clear(kpid_pull_cols *cols);

/* A converted row. */
typedef struct kpid_pull_row {
    kpid_event ev; /* for a retraction only ev.event_key is set */
    bool retract;
} kpid_pull_row;

/* Buffers a conversion reuses from row to row. Zero-initialize; kpid_pull_rowbuf_free. */
typedef struct kpid_pull_rowbuf {
    kpid_buf attrs;
    kpid_json json;
} kpid_pull_rowbuf;

void kpid_pull_rowbuf_free(kpid_pull_rowbuf *buf);

/*
 * Converts one row of q (values[i]: the text of result column i, NULL for SQL NULL),
 * whose columns are c. Returns 0 and fills *ret: its strings point into values and buf,
 * valid until the next conversion with buf. Returns 1 when the row is to be rejected
 * (a NULL or invalid event_key, time, activity, value or retract_when, an attribute that
 * is not valid UTF-8), with why (why_size bytes, NUL-terminated) saying which column and
 * what is wrong. Returns -ENOMEM.
 */
int kpid_pull_row_convert(const kpid_pull_query *q, const kpid_pull_cols *c,
                          const char *const *values, kpid_pull_rowbuf *buf, kpid_pull_row *ret,
                          char *why, size_t why_size);

/*
 * The row's position: *ret_watermark and *ret_tiebreaker point into values. Returns 0,
 * or -EINVAL with why saying what is wrong: a NULL watermark or tiebreaker, a watermark
 * that is not of q's type, or text longer than a cursor keeps (a query error: its order
 * cannot go on past such a row).
 */
int kpid_pull_row_position(const kpid_pull_query *q, const kpid_pull_cols *c,
                           const char *const *values, const char **ret_watermark,
                           const char **ret_tiebreaker, char *why, size_t why_size);

/*
 * The locator of a row in kpid.rejected: "query:<name> key:<tiebreaker>", the
 * tiebreaker cut to 128 bytes (not within a UTF-8 sequence) with control characters and
 * invalid UTF-8 replaced by '?'. Written into out (out_size bytes, NUL-terminated).
 */
void kpid_pull_row_locator(const kpid_pull_query *q, const char *tiebreaker, char *out,
                           size_t out_size);

#endif
