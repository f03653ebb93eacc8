/*
 * A compiled KPI statement: its SQL text and the parameters it takes after $1 and $2
 * (kpi_compile.h makes them), and what a caller does with one.
 */
#ifndef KPID_KPI_STMT_H
#define KPID_KPI_STMT_H

#include <stddef.h>

#include "buf/buf.h"

#define KPID_SQL_PARAMS_MAX 64

typedef struct kpid_sql {
    kpid_buf text;                     /* NUL-terminated SQL */
    char *params[KPID_SQL_PARAMS_MAX]; /* $3..: params[0] is $3; owned */
    size_t n_params;
} kpid_sql;

/*
 * Appends sql's text to out (NUL-terminated, the NUL not counted in out->len) with
 * every parameter $k, k >= 3, written as ($3::text[])[k - 2], so that a caller can pass
 * the KPI's parameters as one text[] (kpid.kpi_cases does). Returns 0, -ENOMEM, or
 * -EINVAL when the text has a '$' that is not a parameter outside a literal (the
 * rewrite would be wrong) or a parameter beyond the statement's.
 */
int kpid_sql_params_as_array(const kpid_sql *sql, kpid_buf *out);

/* Frees what *sql holds and zeroes it. */
void kpid_sql_clear(kpid_sql *sql);

#endif
