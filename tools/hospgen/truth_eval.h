/*
 * The ground-truth evaluator: the value rows and the populations behind them of one
 * KPI over one period, as docs/kpi-semantics.md defines them, from the event store.
 */
#ifndef HG_TRUTH_EVAL_H
#define HG_TRUTH_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "truth_conf.h"
#include "truth_store.h"

#define HT_POP_MAX 5

/* A member of a population, as drill-down lists it. */
struct ht_pair {
    uint32_t case_id, subject; /* string ids, HT_NONE for NULL */
};

/* One population: its FHIR code and its distinct pairs in text order. */
struct ht_pop {
    const char *code; /* static */
    struct ht_pair *p;
    size_t n;
};

/* One row: the whole population (stratum "{}") or one stratum. */
struct ht_row {
    char *stratum; /* compact JSON object, owned */
    bool has_value, has_num, has_den, has_n, has_excl;
    double value, num, den;
    int64_t n;
    int64_t excluded; /* members left out as incomplete (has_excl: proportion, duration,
                         census) */
    struct ht_pop pop[HT_POP_MAX];
    size_t n_pop;
};

/* The rows of one KPI and period, sorted by stratum text. */
struct ht_result {
    struct ht_row *row;
    size_t n;
};

/*
 * Evaluates KPI k of model m over [start, end) (UTC microseconds) from store s (indexed).
 * Fills *ret (freed with ht_result_clear). A ratio evaluates its two KPIs over the same
 * period; an sql KPI gives no rows. Returns 0 or -ENOMEM (-ELOOP for a ratio cycle).
 */
int ht_eval(const struct ht_store *s, const struct ht_model *m, size_t k, int64_t start,
            int64_t end, struct ht_result *ret);
void ht_result_clear(struct ht_result *r);

/*
 * PostgreSQL's percentile_cont(p) over the n values v, which it sorts in place: linear
 * interpolation between the values at ranks floor and ceil of p * (n - 1). n > 0.
 */
double ht_percentile_cont(double *v, size_t n, double p);

/* Appends s as a JSON string (quoted, escaped like PostgreSQL's jsonb output) to out
 * (at least 6 * strlen(s) + 3 bytes); returns the bytes written, no NUL. */
size_t ht_json_string(char *out, const char *s);

#endif
