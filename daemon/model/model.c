/*
 * The management model (model.h): freeing, lookups and the names of the enum values.
 * The model is built from the configuration by model_parse.c.
 */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Configuration names, indexed by enum value. */
static const char *const perspective_names[] = {"financial", "patient", "internal", "learning"};
static const char *const category_names[] = {"main", "supporting", "development", "management"};
static const char *const type_names[] = {"count",  "proportion", "duration", "value",
                                         "census", "ratio",      "sql"};
static const char *const direction_names[] = {"higher", "lower"};
static const char *const status_names[] = {"green", "amber", "red"};
static const char *const count_names[] = {"events", "cases", "subjects"};
static const char *const statistic_names[] = {"avg", "median", "p",      "min",
                                              "max", "sum",    "within", "case_days"};
static const char *const link_names[] = {"case", "subject"};
static const char *const basis_names[] = {"case", "subject", "event"};
static const char *const population_names[] = {
    "population", "denominator", "denominator_exclusion", "numerator", "numerator_exclusion",
};

_Static_assert(N_ELEMS(perspective_names) == KPID_PERSPECTIVE_LEARNING + 1, "perspectives");
_Static_assert(N_ELEMS(category_names) == KPID_CATEGORY_MANAGEMENT + 1, "categories");
_Static_assert(N_ELEMS(type_names) == KPID_KPI_SQL + 1, "types");
_Static_assert(N_ELEMS(direction_names) == KPID_DIRECTION_LOWER + 1, "directions");
_Static_assert(N_ELEMS(status_names) == KPID_STATUS_RED + 1, "statuses");
_Static_assert(N_ELEMS(count_names) == KPID_COUNT_SUBJECTS + 1, "count kinds");
_Static_assert(N_ELEMS(statistic_names) == KPID_STAT_CASE_DAYS + 1, "statistics");
_Static_assert(N_ELEMS(link_names) == KPID_LINK_SUBJECT + 1, "links");
_Static_assert(N_ELEMS(basis_names) == KPID_BASIS_EVENT + 1, "bases");
_Static_assert(N_ELEMS(population_names) == KPID_POP_COUNT, "populations");

const kpid_name_table kpid_model_perspectives = KPID_NAME_TABLE(perspective_names);
const kpid_name_table kpid_model_categories = KPID_NAME_TABLE(category_names);
const kpid_name_table kpid_model_kpi_types = KPID_NAME_TABLE(type_names);
const kpid_name_table kpid_model_directions = KPID_NAME_TABLE(direction_names);
const kpid_name_table kpid_model_statuses = KPID_NAME_TABLE(status_names);
const kpid_name_table kpid_model_count_kinds = KPID_NAME_TABLE(count_names);
const kpid_name_table kpid_model_statistics = KPID_NAME_TABLE(statistic_names);
const kpid_name_table kpid_model_links = KPID_NAME_TABLE(link_names);
const kpid_name_table kpid_model_bases = KPID_NAME_TABLE(basis_names);
const kpid_name_table kpid_model_populations = KPID_NAME_TABLE(population_names);

/* ---- freeing ---------------------------------------------------------------------- */

static void filters_free(kpid_filter *filters, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < filters[i].n_values; j++)
            free(filters[i].values[j]);
        free(filters[i].values);
        free(filters[i].attr);
    }
    free(filters);
}

static void condition_clear(kpid_condition *c)
{
    free(c->activity);
    filters_free(c->filters, c->n_filters);
}

/* Frees what *kpi owns (not kpi itself). */
static void kpi_clear(kpid_kpi *kpi)
{
    free(kpi->id);
    free(kpi->name);
    free(kpi->unit);
    free(kpi->period_text);
    free(kpi->objective_id);
    free(kpi->bands);
    filters_free(kpi->filters, kpi->n_filters);
    for (size_t i = 0; i < kpi->n_stratify; i++)
        free(kpi->stratify[i]);
    switch (kpi->type) {
    case KPID_KPI_COUNT: free(kpi->u.count.activity); break;
    case KPID_KPI_PROPORTION:
        for (int pop = 0; pop < KPID_POP_COUNT; pop++)
            condition_clear(&kpi->u.proportion.populations[pop]);
        break;
    case KPID_KPI_DURATION:
        free(kpi->u.duration.from);
        free(kpi->u.duration.to);
        break;
    case KPID_KPI_VALUE: free(kpi->u.value.activity); break;
    case KPID_KPI_CENSUS:
        free(kpi->u.census.from);
        free(kpi->u.census.to);
        break;
    case KPID_KPI_RATIO:
        free(kpi->u.ratio.numerator);
        free(kpi->u.ratio.denominator);
        break;
    case KPID_KPI_SQL: free(kpi->u.sql.query); break;
    }
}

kpid_model *kpid_model_free(kpid_model *model)
{
    if (!model)
        return NULL;
    for (size_t i = 0; i < model->n_objectives; i++) {
        free(model->objectives[i].id);
        free(model->objectives[i].name);
    }
    free(model->objectives);
    for (size_t i = 0; i < model->n_processes; i++) {
        kpid_process *pr = &model->processes[i];
        for (size_t j = 0; j < pr->n_kpis; j++)
            kpi_clear(&pr->kpis[j]);
        free(pr->kpis);
        free(pr->id);
        free(pr->name);
        free(pr->owner);
        kpid_tz_free(pr->tz);
        free(pr->schedule_text);
    }
    free(model->processes);
    free(model->kpis);
    for (size_t i = 0; i < model->n_files; i++)
        free(model->files[i]);
    free(model->files);
    free(model);
    return NULL;
}

/* ---- lookups ---------------------------------------------------------------------- */

const kpid_kpi *kpid_model_find_kpi(const kpid_model *model, const char *id)
{
    for (size_t i = 0; model && id && i < model->n_kpis; i++)
        if (model->kpis[i]->id && strcmp(model->kpis[i]->id, id) == 0)
            return model->kpis[i];
    return NULL;
}

const kpid_objective *kpid_model_find_objective(const kpid_model *model, const char *id)
{
    for (size_t i = 0; model && id && i < model->n_objectives; i++)
        if (model->objectives[i].id && strcmp(model->objectives[i].id, id) == 0)
            return &model->objectives[i];
    return NULL;
}

const kpid_process *kpid_model_find_process(const kpid_model *model, const char *id)
{
    for (size_t i = 0; model && id && i < model->n_processes; i++)
        if (model->processes[i].id && strcmp(model->processes[i].id, id) == 0)
            return &model->processes[i];
    return NULL;
}

/* ---- names ------------------------------------------------------------------------ */

const char *kpid_perspective_name(kpid_perspective perspective)
{
    return kpid_name_of(&kpid_model_perspectives, (int)perspective);
}

const char *kpid_process_category_name(kpid_process_category category)
{
    return kpid_name_of(&kpid_model_categories, (int)category);
}

const char *kpid_kpi_type_name(kpid_kpi_type type)
{
    return kpid_name_of(&kpid_model_kpi_types, (int)type);
}

const char *kpid_direction_name(kpid_direction direction)
{
    return kpid_name_of(&kpid_model_directions, (int)direction);
}

const char *kpid_status_name(kpid_status status)
{
    return kpid_name_of(&kpid_model_statuses, (int)status);
}

const char *kpid_count_kind_name(kpid_count_kind kind)
{
    return kpid_name_of(&kpid_model_count_kinds, (int)kind);
}

const char *kpid_statistic_name(kpid_statistic statistic)
{
    return kpid_name_of(&kpid_model_statistics, (int)statistic);
}

const char *kpid_link_name(kpid_link link)
{
    return kpid_name_of(&kpid_model_links, (int)link);
}

const char *kpid_basis_name(kpid_basis basis)
{
    return kpid_name_of(&kpid_model_bases, (int)basis);
}

const char *kpid_population_name(kpid_population population)
{
    return kpid_name_of(&kpid_model_populations, (int)population);
}
