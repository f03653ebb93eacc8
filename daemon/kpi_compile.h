/*
 * The KPI compiler: one KPI definition becomes one parameterized SQL statement that is
 * evaluated inside the warehouse (docs/kpi-semantics.md says what each type means).
 *
 * The statement takes $1 = period start and $2 = period end (timestamptz) and returns
 * one row per stratum: (stratum jsonb, value float8, numerator float8, denominator
 * float8, n bigint), the whole population as stratum {}. The SQL text is made of fixed
 * fragments only: every value that comes from the configuration (activities, attribute
 * names, filter values, limits, KPI ids) is a parameter, $3 and up, never spliced into
 * the text. The one exception is the query of an sql KPI, which is the operator's own
 * SQL by definition; it runs in a READ ONLY transaction under a statement_timeout.
 */
#ifndef KPID_KPI_COMPILE_H
#define KPID_KPI_COMPILE_H

#include <stddef.h>

#include "buf.h"
#include "model.h"

#define KPID_SQL_PARAMS_MAX 64

typedef struct kpid_sql {
    kpid_buf text;                     /* NUL-terminated SQL */
    char *params[KPID_SQL_PARAMS_MAX]; /* $3..: params[0] is $3; owned */
    size_t n_params;
} kpid_sql;

/*
 * Compiles kpi into *out (which must be zeroed or cleared). Returns 0, -ENOMEM, or
 * -E2BIG when the KPI needs more than KPID_SQL_PARAMS_MAX parameters.
 */
int kpid_kpi_compile(const kpid_kpi *kpi, kpid_sql *out);

/* Frees what *sql holds and zeroes it. */
void kpid_sql_clear(kpid_sql *sql);

#endif
