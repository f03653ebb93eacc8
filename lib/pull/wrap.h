/*
 * The paging statement of a query: its SQL wrapped so that the database returns the
 * rows after a position in (watermark, tiebreaker) order, a page at a time:
 *
 *   SELECT * FROM (
 *   <sql>
 *   ) AS q WHERE (q."updated_at", q."encounter_id") > ($1, $2)
 *   ORDER BY q."updated_at", q."encounter_id" LIMIT $3
 *
 * Column names are quoted as identifiers; values (positions, the bound, the page size)
 * are always parameters, never text in the statement. The row comparison is
 * PostgreSQL's (and SQL:1999's) and uses an index on (watermark, tiebreaker) as one
 * range; the portable form, for ODBC drivers of databases without row comparison, is
 * (q.w > $1 OR (q.w = $1 AND q.t > $2)).
 *
 * Plain functions of their arguments: no state, thread-safe.
 */
#ifndef KPID_PULL_WRAP_H
#define KPID_PULL_WRAP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf/buf.h"
#include "pull/spec.h"

/* Where a page starts. Rows with a NULL watermark or tiebreaker are never read. */
enum kpid_pull_from {
    KPID_PULL_FROM_START = 0, /* the first rows of the order */
    KPID_PULL_FROM_AT = 1,    /* rows whose watermark is at least W (an overlap window) */
    KPID_PULL_FROM_AFTER = 2, /* rows after the position (W, T) */
};

enum kpid_pull_compare {
    KPID_PULL_COMPARE_ROW = 0, /* (q.w, q.t) > ($1, $2) */
    KPID_PULL_COMPARE_OR = 1,  /* (q.w > $1 OR (q.w = $1 AND q.t > $2)) */
};

enum kpid_pull_placeholder {
    KPID_PULL_PLACEHOLDER_DOLLAR = 0, /* $1, $2, ...: each value once (libpq) */
    KPID_PULL_PLACEHOLDER_QMARK = 1,  /* ?: one per use (ODBC) */
};

enum kpid_pull_limit {
    KPID_PULL_LIMIT_CLAUSE = 0,      /* LIMIT <param> (PostgreSQL, MySQL, SQLite) */
    KPID_PULL_LIMIT_FETCH_FIRST = 1, /* FETCH FIRST <param> ROWS ONLY (SQL:2008) */
    KPID_PULL_LIMIT_NONE = 2,        /* none: the caller stops fetching after a page */
};

/* What a placeholder of the statement stands for. */
enum kpid_pull_param {
    KPID_PULL_PARAM_WATERMARK = 1, /* W: the position's (or the window's) watermark */
    KPID_PULL_PARAM_TIEBREAKER,    /* T: the position's tiebreaker */
    KPID_PULL_PARAM_BOUND,         /* the bound: rows with a watermark below it only */
    KPID_PULL_PARAM_LIMIT,         /* the page size */
};

typedef struct kpid_pull_wrap_options {
    enum kpid_pull_compare compare;
    enum kpid_pull_placeholder placeholder;
    enum kpid_pull_limit limit;
    bool bound; /* AND q.w < <bound> */
} kpid_pull_wrap_options;

#define KPID_PULL_PARAMS_MAX 8

/* A paging statement: its text and, in placeholder order, what each placeholder is
 * ($n is params[n - 1]; with QMARK, the n-th '?'). */
typedef struct kpid_pull_stmt {
    char *sql; /* NUL-terminated, owned */
    enum kpid_pull_param params[KPID_PULL_PARAMS_MAX];
    size_t n_params;
} kpid_pull_stmt;

/*
 * Builds the paging statement of q starting from `from`, as opt says, into *ret (which
 * must be zeroed or cleared). Returns 0 or -ENOMEM; -EINVAL for an option out of range.
 */
int kpid_pull_wrap(const kpid_pull_query *q, enum kpid_pull_from from,
                   const kpid_pull_wrap_options *opt, kpid_pull_stmt *ret);

/* Frees a statement's text and zeroes it. Accepts a zeroed statement. */
void kpid_pull_stmt_clear(kpid_pull_stmt *stmt);

/* Appends name as an SQL identifier in double quotes (an inner '"' doubled). Returns 0
 * or -ENOMEM (out unchanged). */
int kpid_pull_quote_ident(kpid_buf *out, const char *name);

#endif
