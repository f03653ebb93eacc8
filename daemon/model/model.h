/*
 * The management model: strategic objectives (each in one balanced-scorecard
 * perspective), processes (each in one category, with a time zone and a cron schedule)
 * and their KPIs, as configured in the top-level lists `objectives` and `processes` of
 * kpid.conf (see etc/kpid.conf and DESIGN.md, "KPI model").
 *
 * The configuration loader (config/config.c) builds the model with kpid__model_parse
 * (model_parse.h) and keeps it in kpid_config.model; a model in a loaded configuration
 * is complete and valid:
 *   - every id is unique (KPI ids across all processes) and matches [a-z][a-z0-9_]{0,62};
 *   - every KPI's objective exists (kpi->objective), every ratio's numerator and
 *     denominator exist (kpi->u.ratio.numerator_kpi, ...), are not the ratio itself, form
 *     no cycle and have the ratio's period, in the same time zone;
 *   - activities match [A-Z0-9_]{1,64} and attribute names [A-Za-z_][A-Za-z0-9_]{0,62}, so
 *     both may appear in SQL as literals of a known shape; filter values are valid UTF-8
 *     of at most KPID_MODEL_VALUE_MAX bytes and are meant to be bound as parameters;
 *   - bands are sorted and contiguous.
 * Whether any source produces an activity is not checked here (model_check.h warns).
 *
 * Ownership: the model owns everything it points to (strings, arrays, time zones) and
 * kpid_model_free frees it all. Every struct records where it was defined: file is the
 * name of the configuration file (owned by the model, shared by the structs of that
 * file) and line its line there, for later messages. A model is immutable once built and
 * may be read by any number of threads.
 */
#ifndef KPID_MODEL_H
#define KPID_MODEL_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time/cron.h"
#include "time/period.h"
#include "names/names.h"
#include "text/ident.h"
#include "time/tz.h"

#define KPID_MODEL_ID_MAX KPID_IDENT_ID_MAX             /* bytes of an id */
#define KPID_MODEL_ATTR_MAX KPID_IDENT_ATTR_MAX         /* bytes of an attribute name */
#define KPID_MODEL_ACTIVITY_MAX KPID_IDENT_ACTIVITY_MAX /* bytes of an activity name */
#define KPID_MODEL_VALUE_MAX 256                        /* bytes of a filter value */
#define KPID_MODEL_STRATIFY_MAX 3                       /* attributes a KPI may be stratified by */
#define KPID_MODEL_QUERY_MAX 65536                      /* bytes of an sql KPI's query */
#define KPID_MODEL_RECOMPUTE_HORIZON_MAX_MS (3660LL * 86400 * 1000) /* about ten years */

typedef enum kpid_perspective {
    KPID_PERSPECTIVE_FINANCIAL,
    KPID_PERSPECTIVE_PATIENT,
    KPID_PERSPECTIVE_INTERNAL,
    KPID_PERSPECTIVE_LEARNING,
} kpid_perspective;

typedef enum kpid_process_category {
    KPID_CATEGORY_MAIN,
    KPID_CATEGORY_SUPPORTING,
    KPID_CATEGORY_DEVELOPMENT,
    KPID_CATEGORY_MANAGEMENT,
} kpid_process_category;

typedef enum kpid_kpi_type {
    KPID_KPI_COUNT,
    KPID_KPI_PROPORTION,
    KPID_KPI_DURATION,
    KPID_KPI_VALUE,
    KPID_KPI_CENSUS,
    KPID_KPI_RATIO,
    KPID_KPI_SQL,
} kpid_kpi_type;

/* Which way is better. */
typedef enum kpid_direction {
    KPID_DIRECTION_HIGHER,
    KPID_DIRECTION_LOWER,
} kpid_direction;

typedef enum kpid_status {
    KPID_STATUS_GREEN,
    KPID_STATUS_AMBER,
    KPID_STATUS_RED,
} kpid_status;

/* What a count KPI counts. */
typedef enum kpid_count_kind {
    KPID_COUNT_EVENTS,   /* events of the activity */
    KPID_COUNT_CASES,    /* distinct case_id */
    KPID_COUNT_SUBJECTS, /* distinct subject_id */
} kpid_count_kind;

/*
 * The aggregate of a duration, value or census KPI. Which a type accepts:
 *   duration  AVG, MEDIAN, PERCENTILE (p90, p95), MIN, MAX, WITHIN
 *   value     SUM, AVG, MIN, MAX, MEDIAN, PERCENTILE (pNN, 1 <= NN <= 99)
 *   census    AVG ("average": mean number of open cases), CASE_DAYS (their total days)
 */
typedef enum kpid_statistic {
    KPID_STAT_AVG,
    KPID_STAT_MEDIAN,     /* percentile is 50 */
    KPID_STAT_PERCENTILE, /* percentile is NN */
    KPID_STAT_MIN,
    KPID_STAT_MAX,
    KPID_STAT_SUM,
    KPID_STAT_WITHIN, /* the share of cases whose duration is at most within_ms */
    KPID_STAT_CASE_DAYS,
} kpid_statistic;

/* How a condition's event relates to the anchor event of the initial population. */
typedef enum kpid_link {
    KPID_LINK_CASE,    /* the same case_id */
    KPID_LINK_SUBJECT, /* the same subject_id */
} kpid_link;

/*
 * What a member of a proportion KPI's populations is (FHIR Measure populationBasis):
 * the population events are grouped by case, by subject (within the period), or each
 * is a member of its own (docs/kpi-semantics.md).
 */
typedef enum kpid_basis {
    KPID_BASIS_CASE,    /* a case, anchored at its first population event (the default) */
    KPID_BASIS_SUBJECT, /* a subject, anchored at its first population event in the period */
    KPID_BASIS_EVENT,   /* every population event */
} kpid_basis;

/*
 * The populations of a proportion KPI (FHIR Measure proportion scoring); the score is
 * (numerator - numerator_exclusion) / (denominator - denominator_exclusion).
 */
typedef enum kpid_population {
    KPID_POP_INITIAL,               /* "population": one anchor event per member */
    KPID_POP_DENOMINATOR,           /* absent: the whole initial population */
    KPID_POP_DENOMINATOR_EXCLUSION, /* optional */
    KPID_POP_NUMERATOR,             /* required */
    KPID_POP_NUMERATOR_EXCLUSION,   /* optional */
    KPID_POP_COUNT
} kpid_population;

typedef enum kpid_filter_op {
    KPID_FILTER_EQUALS, /* n_values is 1 */
    KPID_FILTER_IN,
    KPID_FILTER_NOT_IN,
} kpid_filter_op;

/* A condition on one attribute of an event: attrs->>attr equals / is in / is not in. */
typedef struct kpid_filter {
    char *attr; /* [A-Za-z_][A-Za-z0-9_]{0,62} */
    kpid_filter_op op;
    char **values; /* n_values >= 1 strings, valid UTF-8, at most KPID_MODEL_VALUE_MAX bytes */
    size_t n_values;
    const char *file;
    int line;
} kpid_filter;

/* A value range of a KPI and the status it means: from <= value < to. */
typedef struct kpid_band {
    double from; /* -INFINITY when omitted (first band only) */
    double to;   /* +INFINITY when omitted (last band only) */
    kpid_status status;
    const char *file;
    int line;
} kpid_band;

/*
 * A population of a proportion KPI: events of activity that pass the filters and, for
 * every population but the initial one, are linked to the anchor event.
 */
typedef struct kpid_condition {
    bool present;      /* false: not configured (the other fields are zero) */
    char *activity;    /* [A-Z0-9_]{1,64} */
    kpid_link link;    /* default case; always case for the initial population */
    int64_t within_ms; /* > 0: at most this long after the anchor; 0: no limit (any time
                          after the anchor for link subject, the whole case for link case) */
    bool negate;       /* the condition holds when NO such event exists */
    kpid_filter *filters;
    size_t n_filters;
    const char *file;
    int line;
} kpid_condition;

typedef struct kpid_objective kpid_objective;
typedef struct kpid_process kpid_process;
typedef struct kpid_kpi kpid_kpi;

struct kpid_objective {
    char *id;
    char *name;
    kpid_perspective perspective;
    const char *file;
    int line;
};

struct kpid_kpi {
    char *id; /* unique across all processes */
    char *name;
    char *unit; /* NULL when not given */
    kpid_kpi_type type;
    char *period_text;       /* as configured, e.g. "fiscal_year:4" */
    kpid_period_spec period; /* in the time zone of the process */
    bool has_target;         /* always true except for count KPIs */
    double target;
    kpid_direction direction;
    char *objective_id;
    const kpid_objective *objective; /* resolved: an element of model->objectives */
    const kpid_process *process;     /* the process it belongs to */
    double weight;                   /* > 0; default 1 */
    kpid_band *bands;                /* sorted, contiguous; may be empty */
    size_t n_bands;
    kpid_filter *filters; /* all must hold */
    size_t n_filters;
    char *stratify[KPID_MODEL_STRATIFY_MAX]; /* attribute names, distinct */
    size_t n_stratify;

    /* The keys of the type; only the member named by type is set. */
    union {
        struct {
            char *activity;
            kpid_count_kind count; /* default events */
        } count;
        struct {
            kpid_condition populations[KPID_POP_COUNT]; /* indexed by kpid_population */
            kpid_basis basis;                           /* default case */
        } proportion;
        struct {
            char *from, *to; /* per case, first from to the first to after it */
            kpid_statistic statistic;
            int percentile;    /* 50 for median, NN for PERCENTILE, else 0 */
            int64_t within_ms; /* > 0 for statistic WITHIN, else 0 */
        } duration;
        struct {
            char *activity;
            kpid_statistic statistic;
            int percentile; /* 50 for median, NN for PERCENTILE, else 0 */
        } value;
        struct {
            char *from, *to;          /* a case is open from its from to its to */
            kpid_statistic statistic; /* AVG (default) or CASE_DAYS */
            double capacity;          /* > 0: the value is AVG / capacity; 0: none */
            int64_t lookback_ms;      /* openings before period start - lookback take no
                                       part; default 365 days, 1ms .. 36500 days */
        } census;
        struct {
            char *numerator, *denominator;                   /* KPI ids */
            const kpid_kpi *numerator_kpi, *denominator_kpi; /* resolved */
            double factor;                                   /* default 1 */
        } ratio;
        struct {
            char *query;        /* non-empty, at most KPID_MODEL_QUERY_MAX bytes */
            int64_t timeout_ms; /* default 5000; 1 .. 600000 */
        } sql;
    } u;

    const char *file;
    int line;
};

struct kpid_process {
    char *id;
    char *name;
    kpid_process_category category;
    char *owner;         /* NULL when not given */
    kpid_tz *tz;         /* loaded; kpid_tz_name(tz) is the configured name */
    char *schedule_text; /* as configured */
    kpid_cron schedule;
    kpid_kpi *kpis; /* in configuration order */
    size_t n_kpis;
    const char *file;
    int line;
};

typedef struct kpid_model {
    kpid_objective *objectives;
    size_t n_objectives;
    kpid_process *processes;
    size_t n_processes;
    kpid_kpi **kpis; /* every KPI of every process, in configuration order */
    size_t n_kpis;
    char **files; /* the file names the structs point to */
    size_t n_files;
    int64_t recompute_horizon_ms; /* a changed or new KPI recomputes its periods that
                                       end within this much before now; 0: none */
} kpid_model;

/* Frees a model and everything it owns; accepts NULL; returns NULL. */
kpid_model *kpid_model_free(kpid_model *model);

/* The KPI, objective or process with that id, or NULL. The result belongs to the model. */
const kpid_kpi *kpid_model_find_kpi(const kpid_model *model, const char *id);
const kpid_objective *kpid_model_find_objective(const kpid_model *model, const char *id);
const kpid_process *kpid_model_find_process(const kpid_model *model, const char *id);

/*
 * The names of the enum values, as the configuration writes them ("patient", "main",
 * "proportion", "higher", "amber", "cases", "subject", "numerator_exclusion", "event"); static
 * strings, "?" for a value outside the enum. kpid_statistic_name gives "avg", "median",
 * "p" (PERCENTILE: the number is in the KPI), "min", "max", "sum", "within" and
 * "case_days" (a census's "average" is AVG); kpid_population_name gives the key of the
 * population in a proportion KPI, "population" for KPID_POP_INITIAL.
 */
const char *kpid_perspective_name(kpid_perspective perspective);
const char *kpid_process_category_name(kpid_process_category category);
const char *kpid_kpi_type_name(kpid_kpi_type type);
const char *kpid_direction_name(kpid_direction direction);
const char *kpid_status_name(kpid_status status);
const char *kpid_count_kind_name(kpid_count_kind kind);
const char *kpid_statistic_name(kpid_statistic statistic);
const char *kpid_link_name(kpid_link link);
const char *kpid_basis_name(kpid_basis basis);
const char *kpid_population_name(kpid_population population);

/*
 * The same names as tables (names/names.h), indexed by value, for the parser and for
 * whoever lists them: kpid_model_statistics names the statistics as
 * kpid_statistic_name does, kpid_model_populations the keys of the populations.
 */
extern const kpid_name_table kpid_model_perspectives;
extern const kpid_name_table kpid_model_categories;
extern const kpid_name_table kpid_model_kpi_types;
extern const kpid_name_table kpid_model_directions;
extern const kpid_name_table kpid_model_statuses;
extern const kpid_name_table kpid_model_count_kinds;
extern const kpid_name_table kpid_model_statistics;
extern const kpid_name_table kpid_model_links;
extern const kpid_name_table kpid_model_bases;
extern const kpid_name_table kpid_model_populations;

#endif
