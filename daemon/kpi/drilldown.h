/*
 * The drill-down behind a KPI value (docs/kpi-semantics.md, "n, and the populations
 * behind a value"): the KPI's members statement (kpid_kpi_compile_members) run for one
 * period in the warehouse, listing the cases of its populations or counting them. The
 * SQL function kpid.kpi_cases (sql/005_drilldown.sql) runs the same statement and
 * wraps it alike, so both give the same rows.
 */
#ifndef KPID_DRILLDOWN_H
#define KPID_DRILLDOWN_H

#include <libpq-fe.h>

#include "model/model.h"
#include "time/period.h"

/*
 * The distinct (population, case_id, subject_id) of the members of kpi in period iv,
 * sorted (byte order), of one population (its code) or all (NULL), of the stratum given
 * as a JSON object text ("{}": the whole population). Returns 0 and *ret_res (columns
 * population, case_id, subject_id; the caller PQclear's it); -ENOTSUP for a KPI without
 * drill-down; -EINVAL for a population the KPI does not have; -EIO with *ret_error
 * freshly allocated when the warehouse fails.
 */
int kpid_drilldown_cases(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv,
                         const char *population, const char *stratum, PGresult **ret_res,
                         char **ret_error);

/*
 * The number of distinct (case_id, subject_id) per population of kpi in period iv: for
 * the whole population (stratum "{}") and for each stratum that has members. Returns
 * as kpid_drilldown_cases; *ret_res has the columns population, stratum (jsonb as
 * text), count (bigint).
 */
int kpid_drilldown_counts(PGconn *conn, const kpid_kpi *kpi, const kpid_interval *iv,
                          PGresult **ret_res, char **ret_error);

/* Whether kpi has a population with that code. */
bool kpid_drilldown_has_population(const kpid_kpi *kpi, const char *code);

#endif
