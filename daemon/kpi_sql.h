/*
 * Evaluating an sql KPI: the operator's own query, given $1 = period start and $2 =
 * period end (timestamptz), runs in a READ ONLY transaction under the KPI's
 * statement_timeout and is rolled back, never committed. Its rows are checked and
 * mapped by column name:
 *   value        required; a number (smallint, integer, bigint, real, double precision,
 *                numeric), finite, or NULL;
 *   numerator, denominator  optional numbers, as value;
 *   n            optional integer (smallint, integer, bigint);
 *   stratum      optional json or jsonb object; NULL or absent is the whole population {}.
 * Other columns are ignored. No two rows may have the same stratum. Only when every row
 * passes are the period's values replaced, in a second transaction, with their status
 * (kpid.kpi_status) and the definition's hash from kpid.kpi, as for compiled KPIs.
 */
#ifndef KPID_KPI_SQL_H
#define KPID_KPI_SQL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "model.h"

/*
 * Evaluates the sql KPI kpi for the period [start, end) (timestamptz texts); partial
 * marks an open period. Returns 0 and *ret_written (the rows written), or -EIO with
 * *ret_error freshly allocated ("KPI_ID: what went wrong"; NULL when out of memory):
 * the stored values are then untouched. Does not record the run in kpid.kpi_run.
 */
int kpid_kpi_sql_evaluate(PGconn *conn, const kpid_kpi *kpi, const char *start,
                          const char *end, bool partial, int *ret_written, char **ret_error);

#endif
