/*
 * The KPIs of a kpid configuration file, as the ground truth needs them: read with
 * libconfig by hospgen's own small parser (not kpid's), keeping only the keys that
 * decide a value. Strings the evaluator compares (activities, attribute names and
 * values) are interned in the event store's pool, so that equality is id equality.
 */
#ifndef HG_TRUTH_CONF_H
#define HG_TRUTH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "truth_period.h"
#include "truth_store.h"

#define HT_STRATIFY_MAX 3

enum ht_type { HT_COUNT, HT_PROPORTION, HT_DURATION, HT_VALUE, HT_CENSUS, HT_RATIO, HT_SQL };
enum ht_stat { HT_AVG, HT_MIN, HT_MAX, HT_SUM, HT_PCT, HT_WITHIN, HT_CASE_DAYS };
enum ht_count { HT_EVENTS, HT_CASES, HT_SUBJECTS };
enum ht_filter_op { HT_EQUALS, HT_IN, HT_NOT_IN };
/* What a member of a proportion is: a case (the default), a subject, an event. */
enum ht_basis { HT_BASIS_CASE, HT_BASIS_SUBJECT, HT_BASIS_EVENT };
/* The conditions of a proportion, in the order of the populations they define. */
enum ht_cond_kind { HT_C_POPULATION, HT_C_DEN, HT_C_DENX, HT_C_NUM, HT_C_NUMX, HT_C__COUNT };

struct ht_filter {
    uint32_t attr;
    enum ht_filter_op op;
    uint32_t *vals; /* string ids */
    size_t n_vals;
};

struct ht_filters {
    struct ht_filter *f;
    size_t n;
};

struct ht_cond {
    bool present;
    uint32_t act;
    bool link_subject;
    int64_t within_us; /* 0: none */
    bool negate;
    struct ht_filters filters;
};

struct ht_kpi {
    char *id;
    char *tz; /* the process's time zone */
    enum ht_type type;
    struct ht_pspec period;
    struct ht_filters filters;
    size_t n_strat;
    uint32_t strat[HT_STRATIFY_MAX]; /* attribute name ids */
    /* type keys */
    uint32_t act, from, to; /* string ids */
    enum ht_count count;
    enum ht_stat stat;
    double pct;          /* HT_PCT: 0.01 .. 0.99 (median 0.5) */
    int64_t within_us;   /* duration "within" limit */
    double unit_s;       /* duration: seconds per unit */
    double capacity;     /* census: 0 for none */
    int64_t lookback_us; /* census */
    struct ht_cond cond[HT_C__COUNT];
    enum ht_basis basis;   /* proportion */
    char *num_id, *den_id; /* ratio */
    double factor;
};

struct ht_model {
    struct ht_kpi *kpi;
    size_t n;
};

/*
 * Reads the processes and KPIs of the kpid configuration at path; strings are interned
 * in pool. Keys the truth does not need are ignored; a KPI of a kind it cannot
 * evaluate is kept with its type (the caller skips it). Returns 0, or -EINVAL after a
 * message on stderr ("FILE:LINE: ..."), or -ENOMEM. *ret is written only on success and
 * freed with ht_model_free.
 */
int ht_model_load(const char *path, struct ht_pool *pool, struct ht_model *ret);
void ht_model_free(struct ht_model *m);
/* Returns the index of KPI id, or -1. */
long ht_model_find(const struct ht_model *m, const char *id);

/* Parses a kpid duration ("90s", "60m", "24h", "30d", "250ms", or digits = ms) into
 * microseconds. Returns 0 or -EINVAL. */
int ht_duration_parse(const char *text, int64_t *ret_us);

#endif
