/*
 * The KPI ground truth files: truth.tsv (one row per KPI, period and stratum) and
 * truth_cases.tsv (the members of every population behind each row), in PostgreSQL
 * COPY text format, sorted by KPI id, period, stratum (and population, case, subject).
 */
#ifndef HG_TRUTH_WRITE_H
#define HG_TRUTH_WRITE_H

#include <stdint.h>

#include "truth_conf.h"
#include "truth_store.h"

/*
 * Evaluates every KPI of m with calendar periods (rolling and sql KPIs are skipped)
 * over its periods from the one containing local midnight of from_day while the
 * period starts before local midnight of to_day (days since 1970-01-01), from the
 * indexed store s, and writes dir/truth.tsv and dir/truth_cases.tsv. Returns 0 or a
 * negative errno after a message on stderr.
 */
int ht_write_truth(const struct ht_store *s, const struct ht_model *m, int64_t from_day,
                   int64_t to_day, const char *dir);

#endif
