/*
 * The members of a KPI, for the KPI compiler (kpi_compile.h): the member subqueries
 * that say who is a member of each type's initial population, the populations of each
 * type (docs/kpi-semantics.md, "n, and the populations behind a value"), and the
 * members statement that lists them.
 *
 * A member subquery, "(SELECT ...) q", has one row per member of the KPI's initial
 * population with its case_id, subject_id, stratum attributes s1..sN (keys: the
 * parameters of kpid__build_strata_keys) and the columns the type's populations and
 * value need. They are the one definition of who is a member: the value statement
 * aggregates them, the members statement lists them. Where members can lack what a rule
 * follows (proportion, duration, census) the subquery keeps them with inc = true.
 */
#ifndef KPID_KPI_MEMBERS_H
#define KPID_KPI_MEMBERS_H

#include <stddef.h>

#include "kpi/kpi_build.h"
#include "model/model.h"

/* A population: its FHIR measure-population code and, for the members statement, its
 * condition over a member row q of the type's member subquery (NULL for a ratio's). */
typedef struct kpid__population {
    const char *code;
    const char *cond;
} kpid__population;

/* The populations of kpi, a static table of *ret_n; none (NULL, 0) for an sql KPI. */
const kpid__population *kpid__members_populations(const kpid_kpi *kpi, size_t *ret_n);

/* Each type's member subquery. */
void kpid__members_count(kpid__builder *b, const kpid_kpi *kpi, const int keys[]);
void kpid__members_value(kpid__builder *b, const kpid_kpi *kpi, const int keys[]);
void kpid__members_duration(kpid__builder *b, const kpid_kpi *kpi, const int keys[]);
void kpid__members_proportion(kpid__builder *b, const kpid_kpi *kpi, const int keys[]);
void kpid__members_census(kpid__builder *b, const kpid_kpi *kpi, const int keys[]);

/*
 * The members statement of kpi (kpid_kpi_compile_members): SELECT case_id, subject_id,
 * stratum, "<code>" boolean, ... for every member. Sets b->err to -ENOTSUP for an sql
 * KPI and for a ratio over a ratio or an sql KPI.
 */
void kpid__members_statement(kpid__builder *b, const kpid_kpi *kpi);

#endif
