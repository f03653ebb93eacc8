/*
 * A KPI's value of one period as a FHIR R4 MeasureReport of type "summary": the counts
 * of its populations (docs/kpi-semantics.md, codes of the measure-population code
 * system) and its value as measureScore, for the whole population and, for a
 * stratified KPI, per stratum (one stratifier over all of its stratify attributes).
 * The report contains the Measure it is of (id "measure", url urn:kpid:measure:ID,
 * referred to by the report's measure as "#measure") with its scoring and, as the
 * extension cqm-populationBasis, the type of its members: Encounter (cases), boolean
 * (subjects), Resource (events); none for a ratio.
 */
#ifndef KPID_MEASURE_REPORT_H
#define KPID_MEASURE_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "time/period.h"

/* The size of one population in one stratum ("{}": the whole population). */
typedef struct kpid_mr_count {
    const char *population; /* a code of the KPI's populations */
    const char *stratum;    /* a JSON object text, as PostgreSQL prints jsonb */
    int64_t count;
} kpid_mr_count;

/* The KPI's value of one stratum. */
typedef struct kpid_mr_score {
    const char *stratum; /* as in kpid_mr_count */
    bool has_value;      /* false: no value (NULL), no measureScore */
    double value;
} kpid_mr_score;

typedef struct kpid_mr_input {
    const kpid_kpi *kpi;
    kpid_interval period;
    int64_t now; /* the report's date, seconds since the epoch */
    const kpid_mr_count *counts;
    size_t n_counts;
    const kpid_mr_score *scores;
    size_t n_scores;
} kpid_mr_input;

/*
 * Builds the MeasureReport: status "complete" when the period has ended at in->now,
 * else "pending"; populations missing from counts have count 0. Returns a new reference
 * (the caller json_decref's it), or NULL when out of memory or a stratum text is not a
 * JSON object.
 */
json_t *kpid_measure_report(const kpid_mr_input *in);

#endif
