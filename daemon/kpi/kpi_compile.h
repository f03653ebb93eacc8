/*
 * The KPI compiler: one KPI definition becomes one parameterized SQL statement that is
 * evaluated inside the warehouse (docs/kpi-semantics.md says what each type means).
 *
 * The statement takes $1 = period start and $2 = period end (timestamptz) and returns
 * one row per stratum: (stratum jsonb, value float8, numerator float8, denominator
 * float8, n bigint, excluded_incomplete bigint), the whole population as stratum {};
 * excluded_incomplete counts the members left out because the case or subject a rule
 * needs is missing (NULL for count, value and ratio KPIs). The SQL text is made of fixed
 * fragments only: every value that comes from the configuration (activities, attribute
 * names, filter values, limits, KPI ids) is a parameter, $3 and up, never spliced into
 * the text. The one exception is the query of an sql KPI, which is the operator's own
 * SQL by definition; it runs in a READ ONLY transaction under a statement_timeout.
 */
#ifndef KPID_KPI_COMPILE_H
#define KPID_KPI_COMPILE_H

#include <stddef.h>

#include "kpi/kpi_stmt.h"
#include "model/model.h"

/*
 * Compiles kpi into *out (which must be zeroed or cleared). Returns 0, -ENOMEM, or
 * -E2BIG when the KPI needs more than KPID_SQL_PARAMS_MAX parameters.
 */
int kpid_kpi_compile(const kpid_kpi *kpi, kpid_sql *out);

/*
 * Compiles the members statement of kpi into *out (zeroed or cleared): parameters $1
 * period start, $2 period end, then the KPI's own ($3..), returning one row per member
 * of the KPI's initial population (an event or a case, docs/kpi-semantics.md) with the
 * columns case_id text, subject_id text, stratum jsonb (the member's full stratum, {}
 * for a KPI without stratify) and one boolean column per population, named by its code
 * (kpid_kpi_population_code). The value statement of kpid_kpi_compile aggregates the
 * same member subquery; members that cannot be followed are not listed. A ratio lists the initial population of its numerator KPI,
 * flagged "numerator", and of its denominator KPI, flagged "denominator". Returns 0,
 * -ENOMEM, -E2BIG, or -ENOTSUP for an sql KPI (it has no drill-down) and for a ratio
 * whose numerator or denominator is a ratio or an sql KPI.
 */
int kpid_kpi_compile_members(const kpid_kpi *kpi, kpid_sql *out);

/* The number of populations of kpi's type (0 for an sql KPI) and the FHIR
 * measure-population code of the i-th ("initial-population", "numerator", ...): a
 * static string, NULL when i is out of range. */
size_t kpid_kpi_population_count(const kpid_kpi *kpi);
const char *kpid_kpi_population_code(const kpid_kpi *kpi, size_t i);

#endif
