/*
 * Tests of the management model in the configuration (daemon/model.c, model_kpi.c): a
 * full model with every KPI type loads with every value right, and each class of error
 * is reported with its exact "FILE:LINE: message" text. Configurations are written to a
 * temporary folder and loaded with kpid_config_load (no plugins, no pseudonym key).
 *
 * In the expected texts "@:" stands for the configuration file's path and a colon. Most
 * texts start with HEAD (line 1: what every configuration needs) and the objective "o"
 * (line 2); the KPI tests put a process "p" around their KPIs with KPIS_BEGIN (lines
 * 3-4) so that the first KPI is on line 5. The time zone tests need the system's zone
 * files (UTC, Asia/Almaty, Europe/Berlin), read from $TZDIR or /usr/share/zoneinfo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_fixture.h"
#include "config/config.h"
#include "model/model.h"

#define HEAD "pseudonymize = false; warehouse = { conninfo = \"dbname=x\"; };\n"
#define OBJ "objectives = ( { id = \"o\"; name = \"O\"; perspective = \"patient\"; } );\n"
#define KPIS_BEGIN                                                                         \
    "processes = ( { id = \"p\"; name = \"P\"; category = \"main\"; timezone = \"UTC\";\n" \
    "  schedule = \"@daily\"; kpis = (\n"
#define KPIS_END "); } );\n"
/* The keys every KPI needs besides id and type (and target, except for count KPIs). */
#define K_COMMON "name = \"K\"; period = \"day\"; direction = \"higher\"; objective = \"o\";"
#define ID_RULE "use a lowercase letter followed by up to 62 lowercase letters, digits or _"
#define ATTR_RULE "use a letter or _ followed by up to 62 letters, digits or _"
#define ACTIVITY_RULE "use 1 to 64 characters of A-Z 0-9 _"

/* Loads text, which must load with a model; the caller frees the configuration. */
static kpid_config *expect_ok(const char *text)
{
    kpid_config *cfg = fixture_expect_ok(text);

    assert_non_null(cfg->model);
    return cfg;
}

static int group_setup(void **state)
{
    return fixture_setup("model", /* plugin_dir= */ NULL);
}

static int group_teardown(void **state)
{
    return fixture_teardown();
}

/* The zone folder the time zone module reads, as its messages name it. */
static const char *zone_dir(void)
{
    const char *dir = getenv("TZDIR");

    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

/* ---- valid models ------------------------------------------------------------------ */

static const char full_text[] = HEAD                                                    /* 1 */
    "objectives = (\n"                                                                  /* 2 */
    "  { id = \"cost\"; name = \"Sound finances\"; perspective = \"financial\"; },\n"   /* 3 */
    "  { id = \"timely_care\"; name = \"Timely care\"; perspective = \"patient\"; },\n" /* 4 */
    "  { id = \"safe\"; name = \"Safe processes\"; perspective = \"internal\"; },\n"    /* 5 */
    "  { id = \"skills\"; name = \"Skilled staff\"; perspective = \"learning\"; }\n"    /* 6 */
    ");\n"                                                                              /* 7 */
    "processes = (\n"                                                                   /* 8 */
    "  { id = \"emergency\"; name = \"Emergency care\"; category = \"main\";\n"         /* 9 */
    "    owner = \"Head of ED\"; timezone = \"Asia/Almaty\"; schedule = \"*/15 * * * *\";\n"
    "    kpis = (\n" /* 11 */
    "      { id = \"ed_door_to_doctor\"; name = \"Door to doctor, median\"; unit = \"min\";\n"
    "        type = \"duration\"; period = \"month\"; target = 30.0; direction = \"lower\";\n"
    "        objective = \"timely_care\"; weight = 2;\n"                                /* 14 */
    "        bands = ( { to = 30.0; status = \"green\"; },\n"                           /* 15 */
    "                  { from = 30; to = 45.5; status = \"amber\"; },\n"                /* 16 */
    "                  { from = 45.5; status = \"red\"; } );\n"                         /* 17 */
    "        filters = ( { attr = \"triage_level\"; in = [ \"1\", \"2\", \"3\" ]; },\n" /* 18 */
    "                    { attr = \"Ward_2\"; equals = \"caf\xc3\xa9\"; },\n"           /* 19 */
    "                    { attr = \"_x\"; not_in = ( \"a\" ); } );\n"                   /* 20 */
    "        stratify = [ \"triage_level\", \"ward\", \"_x\" ];\n"                      /* 21 */
    "        from = \"ED_ARRIVAL\"; to = \"PHYSICIAN_SEEN\"; statistic = \"median\"; },\n"
    "      { id = \"ed_within_60\"; name = \"Seen within 60 min\"; type = \"duration\";\n"
    "        period = \"week:sunday\"; target = 0.9; direction = \"higher\";\n" /* 24 */
    "        objective = \"timely_care\"; from = \"ED_ARRIVAL\"; to = \"PHYSICIAN_SEEN\";\n"
    "        statistic = \"within\"; within = \"60m\"; },\n" /* 26 */
    "      { id = \"ed_lwbs\"; name = \"Left without being seen\"; type = \"proportion\";\n"
    "        period = \"last 30d\"; target = 0.02; direction = \"lower\"; objective = \"safe\";\n"
    "        population = { activity = \"ED_ARRIVAL\";\n" /* 29 */
    "                       filters = ( { attr = \"mode\"; equals = \"walk-in\"; } ); };\n"
    "        numerator = { activity = \"ED_LEFT_WITHOUT_BEING_SEEN\"; }; },\n" /* 31 */
    "      { id = \"ed_arrivals\"; name = \"ED arrivals\"; type = \"count\"; period = \"day\";\n"
    "        direction = \"higher\"; objective = \"timely_care\"; activity = \"ED_ARRIVAL\";\n"
    "        count = \"cases\"; }\n"                                                  /* 34 */
    "    );\n"                                                                        /* 35 */
    "  },\n"                                                                          /* 36 */
    "  { id = \"inpatient\"; name = \"Inpatient care\"; category = \"supporting\";\n" /* 37 */
    "    timezone = \"Asia/Almaty\"; schedule = \"@hourly\";\n"                       /* 38 */
    "    kpis = (\n"                                                                  /* 39 */
    "      { id = \"readmission_30d\"; name = \"30-day readmissions\"; type = \"proportion\";\n"
    "        period = \"quarter\"; target = 0.1; direction = \"lower\"; objective = \"safe\";\n"
    "        population = { activity = \"DISCHARGE\"; };\n"                /* 42 */
    "        denominator = { activity = \"DISCHARGE\"; link = \"case\";\n" /* 43 */
    "                        filters = ( { attr = \"disposition\"; not_in = [ \"transfer\" ]; "
    "} ); };\n"
    "        denominator_exclusion = { activity = \"DEATH\"; link = \"case\"; };\n" /* 45 */
    "        numerator = { activity = \"ADMISSION\"; link = \"subject\"; within = \"30d\"; };\n"
    "        numerator_exclusion = { activity = \"PLANNED_ADMISSION\"; link = \"subject\";\n"
    "                                within = 86400000; negate = true; }; basis = \"event\"; },\n"
    "      { id = \"occupancy\"; name = \"Bed occupancy\"; type = \"census\";\n" /* 49 */
    "        period = \"fiscal_year:4\"; target = 0.85; direction = \"higher\"; "
    "objective = \"cost\";\n"
    "        from = \"ADMISSION\"; to = \"DISCHARGE\"; capacity = 120; },\n" /* 51 */
    "      { id = \"patient_days\"; name = \"Patient days\"; type = \"census\"; "
    "period = \"month\";\n"
    "        target = 3000; direction = \"higher\"; objective = \"cost\";\n"            /* 53 */
    "        from = \"ADMISSION\"; to = \"DISCHARGE\"; statistic = \"case_days\"; },\n" /* 54 */
    "      { id = \"infections\"; name = \"Hospital-acquired infections\"; type = \"count\";\n"
    "        period = \"month\"; target = 0; direction = \"lower\"; objective = \"safe\";\n"
    "        activity = \"HAI_DIAGNOSIS\"; },\n" /* 57 */
    "      { id = \"hai_rate\"; name = \"HAI per 1000 patient-days\"; type = \"ratio\";\n"
    "        period = \"month\"; target = 1.5; direction = \"lower\"; objective = \"safe\";\n"
    "        numerator = \"infections\"; denominator = \"patient_days\"; factor = 1000; },\n"
    "      { id = \"cost_per_case\"; name = \"Cost per case\"; unit = \"KZT\"; type = \"value\";\n"
    "        period = \"year\"; target = 250000; direction = \"lower\"; objective = \"cost\";\n"
    "        activity = \"CASE_COST\"; statistic = \"p75\"; },\n" /* 63 */
    "      { id = \"training\"; name = \"Training hours\"; type = \"value\"; period = \"year\";\n"
    "        target = 40; direction = \"higher\"; objective = \"skills\";\n" /* 65 */
    "        activity = \"TRAINING_HOURS\"; statistic = \"sum\"; },\n"       /* 66 */
    "      { id = \"local_special\"; name = \"Local special\"; type = \"sql\"; period = \"day\";\n"
    "        target = 1; direction = \"higher\"; objective = \"safe\";\n"         /* 68 */
    "        query = \"SELECT count(*) AS value FROM kpid.event \"\n"             /* 69 */
    "                \"WHERE time >= $1 AND time < $2\"; timeout = \"30s\"; },\n" /* 70 */
    "      { id = \"default_sql\"; name = \"Defaults\"; type = \"sql\"; period = \"day\";\n"
    "        target = 1; direction = \"higher\"; objective = \"safe\"; query = \"SELECT 1\"; }\n"
    "    );\n"                                                                          /* 73 */
    "  },\n"                                                                            /* 74 */
    "  { id = \"quality\"; name = \"Quality management\"; category = \"management\";\n" /* 75 */
    "    timezone = \"UTC\"; schedule = \"0 6 * * MON\"; }\n"                           /* 76 */
    ");\n";

static void test_full_model(void **state)
{
    kpid_config *cfg = expect_ok(full_text);
    const kpid_model *m = cfg->model;
    const kpid_kpi *k;
    const kpid_condition *c;

    assert_int_equal(m->n_objectives, 4);
    assert_string_equal(m->objectives[0].id, "cost");
    assert_string_equal(m->objectives[0].name, "Sound finances");
    assert_int_equal(m->objectives[0].perspective, KPID_PERSPECTIVE_FINANCIAL);
    assert_int_equal(m->objectives[1].perspective, KPID_PERSPECTIVE_PATIENT);
    assert_int_equal(m->objectives[2].perspective, KPID_PERSPECTIVE_INTERNAL);
    assert_int_equal(m->objectives[3].perspective, KPID_PERSPECTIVE_LEARNING);
    assert_string_equal(m->objectives[3].file, fixture_conf_path);
    assert_int_equal(m->objectives[3].line, 6);
    assert_ptr_equal(kpid_model_find_objective(m, "safe"), &m->objectives[2]);
    assert_null(kpid_model_find_objective(m, "nope"));

    assert_int_equal(m->n_processes, 3);
    const kpid_process *ed = &m->processes[0];
    assert_string_equal(ed->id, "emergency");
    assert_string_equal(ed->name, "Emergency care");
    assert_int_equal(ed->category, KPID_CATEGORY_MAIN);
    assert_string_equal(ed->owner, "Head of ED");
    assert_non_null(ed->tz);
    assert_string_equal(kpid_tz_name(ed->tz), "Asia/Almaty");
    assert_string_equal(ed->schedule_text, "*/15 * * * *");
    assert_int_equal(ed->schedule.minutes,
                     (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
    assert_int_equal(ed->n_kpis, 4);
    assert_string_equal(ed->file, fixture_conf_path);
    assert_int_equal(ed->line, 9);
    assert_int_equal(m->processes[1].category, KPID_CATEGORY_SUPPORTING);
    assert_null(m->processes[1].owner);
    assert_int_equal(m->processes[2].category, KPID_CATEGORY_MANAGEMENT);
    assert_int_equal(m->processes[2].n_kpis, 0);
    assert_null(m->processes[2].kpis);
    assert_int_equal(m->processes[2].schedule.weekdays, 1u << 1);
    assert_ptr_equal(kpid_model_find_process(m, "quality"), &m->processes[2]);

    assert_int_equal(m->n_kpis, 13);
    assert_ptr_equal(m->kpis[0], &ed->kpis[0]);
    assert_ptr_equal(m->kpis[4], &m->processes[1].kpis[0]);
    assert_null(kpid_model_find_kpi(m, "nope"));
    assert_null(kpid_model_find_kpi(m, NULL));

    /* duration, median, with bands, filters and stratifiers */
    k = kpid_model_find_kpi(m, "ed_door_to_doctor");
    assert_ptr_equal(k, &ed->kpis[0]);
    assert_ptr_equal(k->process, ed);
    assert_string_equal(k->name, "Door to doctor, median");
    assert_string_equal(k->unit, "min");
    assert_int_equal(k->type, KPID_KPI_DURATION);
    assert_string_equal(k->period_text, "month");
    assert_int_equal(k->period.kind, KPID_PERIOD_MONTH);
    assert_true(k->has_target);
    assert_true(k->target == 30.0);
    assert_int_equal(k->direction, KPID_DIRECTION_LOWER);
    assert_string_equal(k->objective_id, "timely_care");
    assert_ptr_equal(k->objective, &m->objectives[1]);
    assert_true(k->weight == 2.0);
    assert_int_equal(k->line, 12);
    assert_int_equal(k->n_bands, 3);
    assert_true(k->bands[0].from == -INFINITY && k->bands[0].to == 30.0);
    assert_int_equal(k->bands[0].status, KPID_STATUS_GREEN);
    assert_true(k->bands[1].from == 30.0 && k->bands[1].to == 45.5);
    assert_int_equal(k->bands[1].status, KPID_STATUS_AMBER);
    assert_true(k->bands[2].from == 45.5 && k->bands[2].to == INFINITY);
    assert_int_equal(k->bands[2].status, KPID_STATUS_RED);
    assert_int_equal(k->bands[2].line, 17);
    assert_int_equal(k->n_filters, 3);
    assert_string_equal(k->filters[0].attr, "triage_level");
    assert_int_equal(k->filters[0].op, KPID_FILTER_IN);
    assert_int_equal(k->filters[0].n_values, 3);
    assert_string_equal(k->filters[0].values[2], "3");
    assert_int_equal(k->filters[0].line, 18);
    assert_string_equal(k->filters[1].attr, "Ward_2");
    assert_int_equal(k->filters[1].op, KPID_FILTER_EQUALS);
    assert_int_equal(k->filters[1].n_values, 1);
    assert_string_equal(k->filters[1].values[0], "caf\xc3\xa9");
    assert_int_equal(k->filters[2].op, KPID_FILTER_NOT_IN);
    assert_string_equal(k->filters[2].values[0], "a");
    assert_int_equal(k->n_stratify, 3);
    assert_string_equal(k->stratify[0], "triage_level");
    assert_string_equal(k->stratify[2], "_x");
    assert_string_equal(k->u.duration.from, "ED_ARRIVAL");
    assert_string_equal(k->u.duration.to, "PHYSICIAN_SEEN");
    assert_int_equal(k->u.duration.statistic, KPID_STAT_MEDIAN);
    assert_int_equal(k->u.duration.percentile, 50);
    assert_int_equal(k->u.duration.within_ms, 0);

    /* duration, share within a limit; defaults of the common keys */
    k = kpid_model_find_kpi(m, "ed_within_60");
    assert_null(k->unit);
    assert_int_equal(k->period.kind, KPID_PERIOD_WEEK);
    assert_int_equal(k->period.first_weekday, 0);
    assert_true(k->weight == 1.0);
    assert_int_equal(k->n_bands, 0);
    assert_null(k->bands);
    assert_int_equal(k->n_filters, 0);
    assert_int_equal(k->n_stratify, 0);
    assert_int_equal(k->u.duration.statistic, KPID_STAT_WITHIN);
    assert_int_equal(k->u.duration.within_ms, 3600000);

    /* proportion with only the required populations */
    k = kpid_model_find_kpi(m, "ed_lwbs");
    assert_int_equal(k->type, KPID_KPI_PROPORTION);
    assert_int_equal(k->period.kind, KPID_PERIOD_ROLLING);
    assert_int_equal(k->period.seconds, 30 * 86400);
    assert_ptr_equal(k->objective, &m->objectives[2]);
    c = &k->u.proportion.populations[KPID_POP_INITIAL];
    assert_true(c->present);
    assert_string_equal(c->activity, "ED_ARRIVAL");
    assert_int_equal(c->link, KPID_LINK_CASE);
    assert_int_equal(c->n_filters, 1);
    assert_string_equal(c->filters[0].attr, "mode");
    assert_string_equal(c->filters[0].values[0], "walk-in");
    assert_int_equal(c->line, 29);
    assert_false(k->u.proportion.populations[KPID_POP_DENOMINATOR].present);
    assert_false(k->u.proportion.populations[KPID_POP_DENOMINATOR_EXCLUSION].present);
    assert_false(k->u.proportion.populations[KPID_POP_NUMERATOR_EXCLUSION].present);
    c = &k->u.proportion.populations[KPID_POP_NUMERATOR];
    assert_true(c->present);
    assert_string_equal(c->activity, "ED_LEFT_WITHOUT_BEING_SEEN");
    assert_int_equal(c->link, KPID_LINK_CASE);
    assert_int_equal(c->within_ms, 0);
    assert_false(c->negate);
    assert_int_equal(k->u.proportion.basis, KPID_BASIS_CASE); /* the default */

    /* count without a target */
    k = kpid_model_find_kpi(m, "ed_arrivals");
    assert_int_equal(k->type, KPID_KPI_COUNT);
    assert_false(k->has_target);
    assert_string_equal(k->u.count.activity, "ED_ARRIVAL");
    assert_int_equal(k->u.count.count, KPID_COUNT_CASES);
    k = kpid_model_find_kpi(m, "infections");
    assert_true(k->has_target);
    assert_true(k->target == 0.0);
    assert_int_equal(k->u.count.count, KPID_COUNT_EVENTS);

    /* proportion with every population */
    k = kpid_model_find_kpi(m, "readmission_30d");
    assert_int_equal(k->period.kind, KPID_PERIOD_QUARTER);
    c = k->u.proportion.populations;
    assert_string_equal(c[KPID_POP_INITIAL].activity, "DISCHARGE");
    assert_true(c[KPID_POP_DENOMINATOR].present);
    assert_int_equal(c[KPID_POP_DENOMINATOR].n_filters, 1);
    assert_int_equal(c[KPID_POP_DENOMINATOR].filters[0].op, KPID_FILTER_NOT_IN);
    assert_string_equal(c[KPID_POP_DENOMINATOR_EXCLUSION].activity, "DEATH");
    assert_int_equal(c[KPID_POP_DENOMINATOR_EXCLUSION].link, KPID_LINK_CASE);
    assert_string_equal(c[KPID_POP_NUMERATOR].activity, "ADMISSION");
    assert_int_equal(c[KPID_POP_NUMERATOR].link, KPID_LINK_SUBJECT);
    assert_int_equal(c[KPID_POP_NUMERATOR].within_ms, INT64_C(30) * 86400000);
    assert_false(c[KPID_POP_NUMERATOR].negate);
    assert_int_equal(c[KPID_POP_NUMERATOR_EXCLUSION].within_ms, 86400000);
    assert_true(c[KPID_POP_NUMERATOR_EXCLUSION].negate);
    assert_int_equal(c[KPID_POP_NUMERATOR_EXCLUSION].line, 47);
    assert_int_equal(k->u.proportion.basis, KPID_BASIS_EVENT);
    assert_string_equal(kpid_basis_name(k->u.proportion.basis), "event");

    /* census: occupancy and case-days */
    k = kpid_model_find_kpi(m, "occupancy");
    assert_int_equal(k->period.kind, KPID_PERIOD_FISCAL_YEAR);
    assert_int_equal(k->period.first_month, 4);
    assert_string_equal(k->u.census.from, "ADMISSION");
    assert_string_equal(k->u.census.to, "DISCHARGE");
    assert_int_equal(k->u.census.statistic, KPID_STAT_AVG);
    assert_true(k->u.census.capacity == 120.0);
    k = kpid_model_find_kpi(m, "patient_days");
    assert_int_equal(k->u.census.statistic, KPID_STAT_CASE_DAYS);
    assert_true(k->u.census.capacity == 0.0);

    /* ratio */
    k = kpid_model_find_kpi(m, "hai_rate");
    assert_int_equal(k->type, KPID_KPI_RATIO);
    assert_string_equal(k->u.ratio.numerator, "infections");
    assert_string_equal(k->u.ratio.denominator, "patient_days");
    assert_ptr_equal(k->u.ratio.numerator_kpi, kpid_model_find_kpi(m, "infections"));
    assert_ptr_equal(k->u.ratio.denominator_kpi, kpid_model_find_kpi(m, "patient_days"));
    assert_true(k->u.ratio.factor == 1000.0);

    /* value */
    k = kpid_model_find_kpi(m, "cost_per_case");
    assert_string_equal(k->unit, "KZT");
    assert_int_equal(k->period.kind, KPID_PERIOD_YEAR);
    assert_string_equal(k->u.value.activity, "CASE_COST");
    assert_int_equal(k->u.value.statistic, KPID_STAT_PERCENTILE);
    assert_int_equal(k->u.value.percentile, 75);
    k = kpid_model_find_kpi(m, "training");
    assert_int_equal(k->u.value.statistic, KPID_STAT_SUM);
    assert_ptr_equal(k->objective, &m->objectives[3]);

    /* sql */
    k = kpid_model_find_kpi(m, "local_special");
    assert_string_equal(k->u.sql.query,
                        "SELECT count(*) AS value FROM kpid.event WHERE time >= $1 AND time < $2");
    assert_int_equal(k->u.sql.timeout_ms, 30000);
    k = kpid_model_find_kpi(m, "default_sql");
    assert_int_equal(k->u.sql.timeout_ms, 5000);

    assert_null(kpid_config_free(cfg));
}

static void test_empty_model(void **state)
{
    kpid_config *cfg = expect_ok(HEAD);

    assert_int_equal(cfg->model->n_objectives, 0);
    assert_int_equal(cfg->model->n_processes, 0);
    assert_int_equal(cfg->model->n_kpis, 0);
    assert_null(cfg->model->kpis);
    assert_null(kpid_model_find_kpi(cfg->model, "x"));
    kpid_config_free(cfg);

    cfg = expect_ok(HEAD "objectives = ();\nprocesses = [];\n");
    assert_int_equal(cfg->model->n_objectives, 0);
    assert_int_equal(cfg->model->n_processes, 0);
    kpid_config_free(cfg);

    /* a process without kpis, an objective no KPI names */
    cfg = expect_ok(HEAD OBJ "processes = ( { id = \"p\"; name = \"P\"; category = "
                             "\"development\"; timezone = \"UTC\"; schedule = \"@daily\"; "
                             "kpis = (); } );\n");
    assert_int_equal(cfg->model->n_processes, 1);
    assert_int_equal(cfg->model->processes[0].category, KPID_CATEGORY_DEVELOPMENT);
    assert_int_equal(cfg->model->processes[0].n_kpis, 0);
    kpid_config_free(cfg);
}

static void test_free_and_names(void **state)
{
    assert_null(kpid_model_free(NULL));
    assert_string_equal(kpid_perspective_name(KPID_PERSPECTIVE_LEARNING), "learning");
    assert_string_equal(kpid_process_category_name(KPID_CATEGORY_SUPPORTING), "supporting");
    assert_string_equal(kpid_kpi_type_name(KPID_KPI_PROPORTION), "proportion");
    assert_string_equal(kpid_kpi_type_name(KPID_KPI_SQL), "sql");
    assert_string_equal(kpid_kpi_type_name((kpid_kpi_type)99), "?");
    assert_string_equal(kpid_direction_name(KPID_DIRECTION_LOWER), "lower");
    assert_string_equal(kpid_status_name(KPID_STATUS_AMBER), "amber");
    assert_string_equal(kpid_count_kind_name(KPID_COUNT_SUBJECTS), "subjects");
    assert_string_equal(kpid_statistic_name(KPID_STAT_CASE_DAYS), "case_days");
    assert_string_equal(kpid_statistic_name(KPID_STAT_PERCENTILE), "p");
    assert_string_equal(kpid_statistic_name((kpid_statistic)-1), "?");
    assert_string_equal(kpid_link_name(KPID_LINK_SUBJECT), "subject");
    assert_string_equal(kpid_basis_name(KPID_BASIS_CASE), "case");
    assert_string_equal(kpid_basis_name(KPID_BASIS_SUBJECT), "subject");
    assert_string_equal(kpid_population_name(KPID_POP_NUMERATOR_EXCLUSION), "numerator_exclusion");
    assert_string_equal(kpid_population_name(KPID_POP_COUNT), "?");
}

/* Boundaries that pass: 63-byte ids, 64-byte activities, 256-byte values, p1 and p99,
 * three stratifiers, timeouts of 1ms and 10m, bands touching at negative numbers. */
static void test_boundaries_accepted(void **state)
{
    char value[257], *text;
    kpid_config *cfg;
    const kpid_kpi *k;

    memset(value, 'v', 256);
    value[256] = '\0';
    assert_true(
        asprintf(&text,
                 HEAD OBJ KPIS_BEGIN
                 "{ id = \"k23456789012345678901234567890123456789012345678901234567890123\";\n"
                 "  " K_COMMON " type = \"value\"; target = 1; statistic = \"p1\";\n"
                 "  activity = \"A2345678901234567890123456789012345678901234567890123456789012"
                 "34\";\n"
                 "  filters = ( { attr = \"a234567890123456789012345678901234567890123456789012"
                 "34567890123\";"
                 " equals = \"%s\"; } );\n"
                 "  bands = ( { from = -10; to = -5.5; status = \"red\"; }, { from = -5.5; to = 0;"
                 " status = \"green\"; } ); },\n"
                 "{ id = \"k2\"; " K_COMMON " type = \"value\"; target = 1; statistic = \"p99\";"
                 " activity = \"A\"; },\n"
                 "{ id = \"k3\"; " K_COMMON " type = \"sql\"; target = 1; query = \" x \";"
                 " timeout = 1; },\n"
                 "{ id = \"k4\"; " K_COMMON " type = \"sql\"; target = 1; query = \"x\";"
                 " timeout = \"10m\"; }\n" KPIS_END,
                 value) > 0);
    cfg = expect_ok(text);
    k = cfg->model->kpis[0];
    assert_int_equal(strlen(k->id), 63);
    assert_int_equal(strlen(k->u.value.activity), 64);
    assert_int_equal(strlen(k->filters[0].attr), 63);
    assert_int_equal(strlen(k->filters[0].values[0]), 256);
    assert_int_equal(k->u.value.percentile, 1);
    assert_true(k->bands[0].from == -10.0 && k->bands[1].to == 0.0);
    assert_int_equal(cfg->model->kpis[1]->u.value.percentile, 99);
    assert_int_equal(cfg->model->kpis[2]->u.sql.timeout_ms, 1);
    assert_int_equal(cfg->model->kpis[3]->u.sql.timeout_ms, 600000);
    kpid_config_free(cfg);
    free(text);
}

/* ---- errors -------------------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    static const char text[] = HEAD                                                   /* 1 */
        "objectives = ( { id = \"o\"; name = \"O\"; perspectve = \"patient\"; } );\n" /* 2 */
        "processes = ( { id = \"p\"; name = \"P\"; category = \"main\"; timezone = \"UTC\";\n"
        "  schedule = \"@daily\"; onwer = \"x\"; kpis = (\n" /* 4 */
        "{ id = \"k1\"; " K_COMMON " type = \"count\"; activity = \"A\"; wieght = 1; },\n"
        "{ id = \"k2\"; " K_COMMON " type = \"duration\"; target = 1; from = \"A\";\n" /* 6 */
        "  to = \"B\"; statistic = \"avg\"; activity = \"C\"; zzz = 1; },\n"           /* 7 */
        "{ id = \"k3\"; " K_COMMON " type = \"proportion\"; target = 1;\n"             /* 8 */
        "  population = { activity = \"A\"; link = \"case\"; };\n"                     /* 9 */
        "  numerator = { activity = \"B\"; withn = \"1d\"; };\n"                       /* 10 */
        "  denominator = { activity = \"B\"; filters = ( { attr = \"a\"; equal = \"x\"; } ); };\n"
        "  bands = ( { form = 1; status = \"red\"; } ); },\n" /* 12 */
        "{ id = \"k4\"; " K_COMMON " type = \"nosuch\"; target = 1; capacity = 1; "
        "perod = \"x\"; }\n" KPIS_END;
    fixture_expect_errors(
        text,
        "@:2: unknown key \"perspectve\" in objective \"o\"; did you mean \"perspective\"?\n"
        "@:2: missing required key \"perspective\" in objective \"o\"\n"
        "@:4: unknown key \"onwer\" in process \"p\"; did you mean \"owner\"?\n"
        "@:5: unknown key \"wieght\" in KPI \"k1\" of type \"count\"; did you mean \"weight\"?\n"
        "@:7: unknown key \"activity\" in KPI \"k2\" of type \"duration\"\n"
        "@:7: unknown key \"zzz\" in KPI \"k2\" of type \"duration\"\n"
        "@:9: unknown key \"link\" in population of KPI \"k3\"\n"
        "@:10: unknown key \"withn\" in numerator of KPI \"k3\"; did you mean \"within\"?\n"
        "@:11: unknown key \"equal\" in filters[0] of denominator of KPI \"k3\"; did you mean "
        "\"equals\"?\n"
        "@:11: filters[0] of denominator of KPI \"k3\" has none of \"equals\", \"in\" and "
        "\"not_in\": give exactly one\n"
        "@:12: unknown key \"form\" in bands[0] of KPI \"k3\"; did you mean \"from\"?\n"
        "@:13: invalid type \"nosuch\" in KPI \"k4\": use count, proportion, duration, value, "
        "census, ratio or sql\n"
        "@:13: unknown key \"perod\" in KPI \"k4\"; did you mean \"period\"?\n");
}

static void test_wrong_types(void **state)
{
    static const char text[] = HEAD                                                 /* 1 */
        "objectives = ( { id = 5; name = \"O\"; perspective = \"patient\"; }, 7,\n" /* 2 */
        "  { id = \"o\"; name = \"O\"; perspective = \"patient\"; } );"
        "processes = ( { id = \"p\"; name = [ \"P\" ]; category = \"main\"; timezone = 1;\n"
        "  schedule = 15; owner = true; kpis = (\n" /* 4 */
        "{ id = \"k1\"; " K_COMMON " type = \"count\"; activity = \"A\"; target = \"30\";\n"
        "  weight = \"x\"; count = 1; bands = { to = 1; }; stratify = 5; filters = ( 1 ); },\n"
        "\"k2\",\n"                                                        /* 7 */
        "{ id = \"k3\"; " K_COMMON " type = \"proportion\"; target = 1;\n" /* 8 */
        "  population = \"A\"; numerator = { activity = \"B\"; within = 1.5; negate = \"yes\"; };\n"
        "  stratify = ( \"a\", 1 ); filters = ( { attr = 1; in = \"x\"; } ); },\n" /* 10 */
        "{ id = \"k4\"; " K_COMMON " type = \"duration\"; target = 1; from = 1; to = \"B\";\n"
        "  statistic = \"avg\"; filters = ( { attr = \"a\"; equals = 1; },\n" /* 12 */
        "    { attr = \"b\"; not_in = ( \"x\", 2 ); } ); bands = ( 5 ); }\n"  /* 13 */
        KPIS_END;
    fixture_expect_errors(
        text,
        "@:2: wrong type for \"id\" in objectives[0]: expected a string, got an integer\n"
        "@:2: wrong type for objectives[1]: expected a group, got an integer\n"
        "@:3: wrong type for \"name\" in process \"p\": expected a string, got an array\n"
        "@:3: wrong type for \"timezone\" in process \"p\": expected a string, got an integer\n"
        "@:4: wrong type for \"owner\" in process \"p\": expected a string, got a boolean\n"
        "@:4: wrong type for \"schedule\" in process \"p\": expected a string, got an integer\n"
        "@:5: wrong type for \"target\" in KPI \"k1\": expected a number, got a string\n"
        "@:6: wrong type for \"weight\" in KPI \"k1\": expected a number, got a string\n"
        "@:6: wrong type for \"bands\" in KPI \"k1\": expected a list of groups, got a group\n"
        "@:6: wrong type for filters[0] in KPI \"k1\": expected a group, got an integer\n"
        "@:6: wrong type for \"stratify\" in KPI \"k1\": expected an array of attribute names, "
        "got an integer\n"
        "@:6: wrong type for \"count\" in KPI \"k1\": expected a string, got an integer\n"
        "@:7: wrong type for kpis[1] in process \"p\": expected a group, got a string\n"
        "@:9: wrong type for \"population\" in KPI \"k3\": expected a group, got a string\n"
        "@:9: wrong type for \"within\" in numerator of KPI \"k3\": expected a duration (\"5s\" "
        "or milliseconds), got a floating-point number\n"
        "@:9: wrong type for \"negate\" in numerator of KPI \"k3\": expected a boolean (true or "
        "false), got a string\n"
        "@:10: wrong type for \"attr\" in filters[0] of KPI \"k3\": expected a string, got an "
        "integer\n"
        "@:10: wrong type for \"in\" in filters[0] of KPI \"k3\": expected an array of strings, "
        "got a string\n"
        "@:10: wrong type for stratify[1] in KPI \"k3\": expected a string, got an integer\n"
        "@:11: wrong type for \"from\" in KPI \"k4\": expected a string, got an integer\n"
        "@:12: wrong type for \"equals\" in filters[0] of KPI \"k4\": expected a string, got an "
        "integer\n"
        "@:13: wrong type for bands[0] in KPI \"k4\": expected a group, got an integer\n"
        "@:13: wrong type for not_in[1] in filters[1] of KPI \"k4\": expected a string, got an "
        "integer\n");
    fixture_expect_errors(
        HEAD "objectives = { id = \"o\"; };\nprocesses = 5;\n",
        "@:2: wrong type for \"objectives\": expected a list of groups, got a group\n"
        "@:3: wrong type for \"processes\": expected a list of groups, got an "
        "integer\n");
    fixture_expect_errors(
        HEAD OBJ "processes = ( { id = \"p\"; name = \"P\"; category = \"main\";\n"
                 "  timezone = \"UTC\"; schedule = \"@daily\"; kpis = 5; }, 5 );\n",
        "@:4: wrong type for \"kpis\" in process \"p\": expected a list of groups, got "
        "an integer\n"
        "@:4: wrong type for processes[1]: expected a group, got an integer\n");
}

static void test_missing_required(void **state)
{
    static const char text[] = HEAD                                               /* 1 */
        "objectives = ( { name = \"O\"; perspective = \"patient\"; },\n"          /* 2 */
        "               { id = \"o\"; } );\n"                                     /* 3 */
        "processes = ( { kpis = (\n"                                              /* 4 */
        "  { type = \"count\"; },\n"                                              /* 5 */
        "  { id = \"count\"; " K_COMMON " type = \"count\"; },\n"                 /* 6 */
        "  { id = \"prop\"; " K_COMMON " type = \"proportion\"; target = 1; },\n" /* 7 */
        "  { id = \"dur\"; " K_COMMON " type = \"duration\"; target = 1; },\n"    /* 8 */
        "  { id = \"val\"; " K_COMMON " type = \"value\"; target = 1; },\n"       /* 9 */
        "  { id = \"cen\"; " K_COMMON " type = \"census\"; target = 1; },\n"      /* 10 */
        "  { id = \"rat\"; " K_COMMON " type = \"ratio\"; target = 1; },\n"       /* 11 */
        "  { id = \"sql\"; " K_COMMON " type = \"sql\"; target = 1; },\n"         /* 12 */
        "  { id = \"cond\"; " K_COMMON " type = \"proportion\"; target = 1;\n"    /* 13 */
        "    population = { }; numerator = { link = \"subject\"; }; },\n"         /* 14 */
        "  { id = \"notype\"; name = \"x\"; },\n"                                 /* 15 */
        "  { id = \"filt\"; " K_COMMON " type = \"count\"; activity = \"A\";\n"   /* 16 */
        "    filters = ( { in = [ \"x\" ]; } ); bands = ( { from = 1; } ); }\n"   /* 17 */
        "); } );\n";
    fixture_expect_errors(text,
                          "@:2: missing required key \"id\" in objectives[0]\n"
                          "@:3: missing required key \"name\" in objective \"o\"\n"
                          "@:3: missing required key \"perspective\" in objective \"o\"\n"
                          "@:4: missing required key \"id\" in processes[0]\n"
                          "@:4: missing required key \"name\" in processes[0]\n"
                          "@:4: missing required key \"category\" in processes[0]\n"
                          "@:4: missing required key \"timezone\" in processes[0]\n"
                          "@:4: missing required key \"schedule\" in processes[0]\n"
                          "@:5: missing required key \"id\" in kpis[0] of processes[0]\n"
                          "@:5: missing required key \"name\" in kpis[0] of processes[0]\n"
                          "@:5: missing required key \"period\" in kpis[0] of processes[0]\n"
                          "@:5: missing required key \"direction\" in kpis[0] of processes[0]\n"
                          "@:5: missing required key \"objective\" in kpis[0] of processes[0]\n"
                          "@:5: missing required key \"activity\" in kpis[0] of processes[0]\n"
                          "@:6: missing required key \"activity\" in KPI \"count\"\n"
                          "@:7: missing required key \"population\" in KPI \"prop\"\n"
                          "@:7: missing required key \"numerator\" in KPI \"prop\"\n"
                          "@:8: missing required key \"from\" in KPI \"dur\"\n"
                          "@:8: missing required key \"to\" in KPI \"dur\"\n"
                          "@:8: missing required key \"statistic\" in KPI \"dur\"\n"
                          "@:9: missing required key \"activity\" in KPI \"val\"\n"
                          "@:9: missing required key \"statistic\" in KPI \"val\"\n"
                          "@:10: missing required key \"from\" in KPI \"cen\"\n"
                          "@:10: missing required key \"to\" in KPI \"cen\"\n"
                          "@:11: missing required key \"numerator\" in KPI \"rat\"\n"
                          "@:11: missing required key \"denominator\" in KPI \"rat\"\n"
                          "@:12: missing required key \"query\" in KPI \"sql\"\n"
                          "@:14: missing required key \"activity\" in population of KPI \"cond\"\n"
                          "@:14: missing required key \"activity\" in numerator of KPI \"cond\"\n"
                          "@:15: missing required key \"type\" in KPI \"notype\"\n"
                          "@:15: missing required key \"period\" in KPI \"notype\"\n"
                          "@:15: missing required key \"direction\" in KPI \"notype\"\n"
                          "@:15: missing required key \"objective\" in KPI \"notype\"\n"
                          "@:17: missing required key \"status\" in bands[0] of KPI \"filt\"\n"
                          "@:17: missing required key \"attr\" in filters[0] of KPI \"filt\"\n");
    /* the target is required for every type but count */
    fixture_expect_errors(HEAD OBJ KPIS_BEGIN "{ id = \"k\"; " K_COMMON
                                              " type = \"value\"; activity = \"A\"; statistic = "
                                              "\"sum\"; }\n" KPIS_END,
                          "@:5: missing required key \"target\" in KPI \"k\"\n");
}

static void test_unknown_objective(void **state)
{
    fixture_expect_errors(
        HEAD /* 1 */
        "objectives = ( { id = \"timely_care\"; name = \"T\"; perspective = "
        "\"patient\"; } );\n"                                                /* 2 */
        KPIS_BEGIN                                                           /* 3-4 */
        "{ id = \"k1\"; name = \"K\"; type = \"count\"; period = \"day\";\n" /* 5 */
        "  direction = \"higher\"; activity = \"A\";\n"                      /* 6 */
        "  objective = \"timely_cair\"; },\n"                                /* 7 */
        "{ id = \"k2\"; name = \"K\"; type = \"count\"; period = \"day\";\n" /* 8 */
        "  direction = \"higher\"; activity = \"A\"; objective = \"finance\"; }\n" KPIS_END,
        "@:7: unknown objective \"timely_cair\" in KPI \"k1\"; did you mean "
        "\"timely_care\"?\n"
        "@:9: unknown objective \"finance\" in KPI \"k2\"\n");
}

static void test_duplicate_ids(void **state)
{
    static const char text[] = HEAD                                                      /* 1 */
        "objectives = ( { id = \"o\"; name = \"O\"; perspective = \"patient\"; },\n"     /* 2 */
        "  { name = \"O2\"; perspective = \"learning\";\n"                               /* 3 */
        "    id = \"o\"; } );\n"                                                         /* 4 */
        "processes = (\n"                                                                /* 5 */
        "  { id = \"p\"; name = \"P\"; category = \"main\"; timezone = \"UTC\";\n"       /* 6 */
        "    schedule = \"@daily\"; kpis = (\n"                                          /* 7 */
        "    { id = \"k\"; " K_COMMON " type = \"count\"; activity = \"A\"; },\n"        /* 8 */
        "    { id = \"k2\"; " K_COMMON " type = \"count\"; activity = \"A\"; } ); },\n"  /* 9 */
        "  { id = \"q\"; name = \"Q\"; category = \"main\"; timezone = \"UTC\";\n"       /* 10 */
        "    schedule = \"@daily\"; kpis = (\n"                                          /* 11 */
        "    { id = \"k\"; " K_COMMON " type = \"count\"; activity = \"A\"; } ); },\n"   /* 12 */
        "  { id = \"p\"; name = \"P again\"; category = \"main\"; timezone = \"UTC\";\n" /* 13 */
        "    schedule = \"@daily\"; kpis = (\n"                                          /* 14 */
        "    { id = \"k2\"; " K_COMMON " type = \"count\"; activity = \"A\"; } ); }\n"   /* 15 */
        ");\n";
    fixture_expect_errors(text, "@:4: duplicate objective id \"o\"; it is first defined at @:2\n"
                                "@:12: duplicate KPI id \"k\"; it is first defined at @:8\n"
                                "@:13: duplicate process id \"p\"; it is first defined at @:6\n"
                                "@:15: duplicate KPI id \"k2\"; it is first defined at @:9\n");
}

static void test_invalid_ids(void **state)
{
    static const char text[] = HEAD                                                  /* 1 */
        "objectives = ( { id = \"o\"; name = \"O\"; perspective = \"patient\"; },\n" /* 2 */
        "  { id = \"O-2\"; name = \"\"; perspective = \"patient\"; } );\n"           /* 3 */
        "processes = ( { id = \"1p\"; name = \"P\"; category = \"main\"; timezone = \"UTC\";\n"
        "  schedule = \"@daily\"; kpis = (\n" /* 5 */
        "  { id = \"k23456789012345678901234567890123456789012345678901234567890123x\";\n"
        "    " K_COMMON " type = \"count\"; activity = \"A\"; },\n"            /* 7 */
        "  { id = \"\"; " K_COMMON " type = \"count\"; activity = \"A\"; },\n" /* 8 */
        "  { id = \"ed door\"; " K_COMMON " type = \"count\"; activity = \"A\"; } ); } );\n";
    fixture_expect_errors(
        text, "@:3: invalid objective id \"O-2\" in objectives[1]: " ID_RULE "\n"
              "@:3: \"name\" in objectives[1] must not be empty\n"
              "@:4: invalid process id \"1p\" in processes[0]: " ID_RULE "\n"
              "@:6: invalid KPI id "
              "\"k23456789012345678901234567890123456789012345678901234567890123x\" in kpis[0] of "
              "processes[0]: " ID_RULE "\n"
              "@:8: invalid KPI id \"\" in kpis[1] of processes[0]: " ID_RULE "\n"
              "@:9: invalid KPI id \"ed door\" in kpis[2] of processes[0]: " ID_RULE "\n");
}

static void test_bad_enums(void **state)
{
    static const char text[] = HEAD                                                     /* 1 */
        "objectives = ( { id = \"o\"; name = \"O\"; perspective = \"customer\"; } );\n" /* 2 */
        "processes = ( { id = \"p\"; name = \"P\"; category = \"core\"; timezone = \"UTC\";\n"
        "  schedule = \"@daily\"; kpis = (\n" /* 4 */
        "  { id = \"k1\"; name = \"K\"; period = \"day\"; direction = \"up\"; objective = \"o\";\n"
        "    type = \"count\"; activity = \"A\"; count = \"visits\";\n"      /* 6 */
        "    bands = ( { status = \"yellow\"; } ); },\n"                     /* 7 */
        "  { id = \"k2\"; " K_COMMON " type = \"proportion\"; target = 1;\n" /* 8 */
        "    population = { activity = \"A\"; };\n"                          /* 9 */
        "    numerator = { activity = \"B\"; link = \"patient\"; }; basis = \"visit\"; },\n"
        "  { id = \"k3\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "    statistic = \"max\"; },\n"                                                  /* 12 */
        "  { id = \"k4\"; " K_COMMON " type = \"Count\"; activity = \"A\"; } ); } );\n"; /* 13 */
    fixture_expect_errors(
        text,
        "@:2: invalid perspective \"customer\" in objective \"o\": use financial, patient, "
        "internal or learning\n"
        "@:3: invalid category \"core\" in process \"p\": use main, supporting, development or "
        "management\n"
        "@:5: invalid direction \"up\" in KPI \"k1\": use higher or lower\n"
        "@:6: invalid count \"visits\" in KPI \"k1\": use events, cases or subjects\n"
        "@:7: invalid status \"yellow\" in bands[0] of KPI \"k1\": use green, amber or red\n"
        "@:10: invalid basis \"visit\" in KPI \"k2\": use case, subject or event\n"
        "@:10: invalid link \"patient\" in numerator of KPI \"k2\": use case or subject\n"
        "@:12: invalid statistic \"max\" in KPI \"k3\": use average or case_days\n"
        "@:13: invalid type \"Count\" in KPI \"k4\": use count, proportion, duration, value, "
        "census, ratio or sql\n");
}

static void test_bands(void **state)
{
    static const char text[] = HEAD OBJ KPIS_BEGIN                                     /* 1-4 */
        "{ id = \"gap\"; " K_COMMON " type = \"count\"; activity = \"A\"; bands = (\n" /* 5 */
        "    { to = 30; status = \"green\"; },\n"                                      /* 6 */
        "    { from = 35; to = 45; status = \"amber\"; },\n"                           /* 7 */
        "    { from = 45; status = \"red\"; } ); },\n"                                 /* 8 */
        "{ id = \"overlap\"; " K_COMMON " type = \"count\"; activity = \"A\"; bands = (\n"
        "    { to = 30; status = \"green\"; },\n"              /* 10 */
        "    { from = 30; to = 45.5; status = \"amber\"; },\n" /* 11 */
        "    { from = 40; status = \"red\"; } ); },\n"         /* 12 */
        "{ id = \"backwards\"; " K_COMMON " type = \"count\"; activity = \"A\"; bands = (\n"
        "    { from = 45; to = 30; status = \"green\"; },\n"      /* 14 */
        "    { from = 30; to = 30; status = \"amber\"; } ); },\n" /* 15 */
        "{ id = \"unsorted\"; " K_COMMON " type = \"count\"; activity = \"A\"; bands = (\n"
        "    { from = 0; to = 10; status = \"green\"; },\n"       /* 17 */
        "    { from = 20; to = 30; status = \"red\"; },\n"        /* 18 */
        "    { from = 10; to = 20; status = \"amber\"; } ); },\n" /* 19 */
        "{ id = \"open_ends\"; " K_COMMON " type = \"count\"; activity = \"A\"; bands = (\n"
        "    { from = 0; status = \"green\"; },\n"  /* 21 */
        "    { to = 10; status = \"red\"; } ); }\n" /* 22 */
        KPIS_END;
    fixture_expect_errors(
        text,
        "@:7: bands[1] of KPI \"gap\" starts at 35, but bands[0] ends at 30: the bands leave a "
        "gap\n"
        "@:12: bands[2] of KPI \"overlap\" starts at 40, but bands[1] ends at 45.5: the bands "
        "overlap\n"
        "@:14: bands[0] of KPI \"backwards\" runs from 45 to 30: \"from\" must be less than "
        "\"to\"\n"
        "@:15: bands[1] of KPI \"backwards\" runs from 30 to 30: \"from\" must be less than "
        "\"to\"\n"
        "@:19: bands[2] of KPI \"unsorted\" starts at 10, before bands[1], which starts at 20: "
        "list the bands sorted by \"from\"\n"
        "@:21: bands[0] of KPI \"open_ends\" has no \"to\": only the last band may omit it\n"
        "@:22: bands[1] of KPI \"open_ends\" has no \"from\": only the first band may omit it\n");
}

static void test_stratify(void **state)
{
    static const char text[] = HEAD OBJ KPIS_BEGIN                          /* 1-4 */
        "{ id = \"k1\"; " K_COMMON " type = \"count\"; activity = \"A\";\n" /* 5 */
        "  stratify = [ \"a\", \"b\", \"c\", \"d\" ]; },\n"                 /* 6 */
        "{ id = \"k2\"; " K_COMMON " type = \"count\"; activity = \"A\";\n" /* 7 */
        "  stratify = [ \"ward\",\n"                                        /* 8 */
        "    \"ward\" ]; },\n"                                              /* 9 */
        "{ id = \"k3\"; " K_COMMON " type = \"count\"; activity = \"A\";\n" /* 10 */
        "  stratify = [ \"ward; DROP TABLE x\", \"9lives\", \"\" ]; }\n"    /* 11 */
        KPIS_END;
    fixture_expect_errors(
        text,
        "@:6: \"stratify\" in KPI \"k1\" lists 4 attributes; at most 3 are allowed\n"
        "@:9: duplicate attribute \"ward\" in stratify[1] of KPI \"k2\"\n"
        "@:11: invalid attribute name \"ward; DROP TABLE x\" in stratify[0] of KPI \"k3\": " ATTR_RULE
        "\n"
        "@:11: invalid attribute name \"9lives\" in stratify[1] of KPI \"k3\": " ATTR_RULE "\n"
        "@:11: invalid attribute name \"\" in stratify[2] of KPI \"k3\": " ATTR_RULE "\n");
}

static void test_filters(void **state)
{
    char *text, *expected, longv[258];

    memset(longv, 'v', 257);
    longv[257] = '\0';
    assert_true(
        asprintf(&text,
                 HEAD OBJ KPIS_BEGIN /* 1-4 */
                 "{ id = \"k\"; " K_COMMON " type = \"count\"; activity = \"A\"; filters = (\n"
                 "  { attr = \"a\"; equals = \"x\"; in = [ \"y\" ]; },\n" /* 6 */
                 "  { attr = \"a\"; equals = \"x\"; in = [ \"y\" ]; not_in = [ \"z\" ]; },\n"
                 "  { attr = \"a\"; },\n"                                                /* 8 */
                 "  { attr = \"ward; DROP TABLE x\"; equals = \"x\"; },\n"               /* 9 */
                 "  { attr = \"a\"; in = []; },\n"                                       /* 10 */
                 "  { attr = \"a\"; not_in = ( ); },\n"                                  /* 11 */
                 "  { attr = \"a\"; equals = \"%s\"; },\n"                               /* 12 */
                 "  { attr = \"a\"; in = [ \"ok\", \"bad\\xff\" ]; },\n"                 /* 13 */
                 "  { attr = \"a\"; equals = \"\\xc0\\xaf\"; },\n"                       /* 14 */
                 "  { attr = \"a\"; equals = \"'; DROP TABLE kpid.event; --\"; } ); }\n" /* 15 */
                 KPIS_END,
                 longv) > 0);
    assert_true(
        asprintf(
            &expected,
            "@:6: filters[0] of KPI \"k\" has \"equals\" and \"in\": give exactly one of "
            "\"equals\", \"in\" and \"not_in\"\n"
            "@:7: filters[1] of KPI \"k\" has \"equals\", \"in\" and \"not_in\": give "
            "exactly one of \"equals\", \"in\" and \"not_in\"\n"
            "@:8: filters[2] of KPI \"k\" has none of \"equals\", \"in\" and \"not_in\": "
            "give exactly one\n"
            "@:9: invalid attribute name \"ward; DROP TABLE x\" in filters[3] of KPI \"k\": " ATTR_RULE
            "\n"
            "@:10: \"in\" in filters[4] of KPI \"k\" must list at least one value\n"
            "@:11: \"not_in\" in filters[5] of KPI \"k\" must list at least one value\n"
            "@:12: \"equals\" in filters[6] of KPI \"k\" has 257 bytes; at most 256 are "
            "allowed\n"
            "@:13: in[1] in filters[7] of KPI \"k\" is not valid UTF-8\n"
            "@:14: \"equals\" in filters[8] of KPI \"k\" is not valid UTF-8\n") > 0);
    fixture_expect_errors(text, expected);
    free(text);
    free(expected);
}

static void test_invalid_activities(void **state)
{
    static const char text[] = HEAD OBJ KPIS_BEGIN                                      /* 1-4 */
        "{ id = \"k1\"; " K_COMMON " type = \"count\"; activity = \"ed_arrival\"; },\n" /* 5 */
        "{ id = \"k2\"; " K_COMMON " type = \"duration\"; target = 1; statistic = \"max\";\n"
        "  from = \"ED ARRIVAL\"; to = \"\"; },\n" /* 7 */
        "{ id = \"k3\"; " K_COMMON " type = \"value\"; target = 1; statistic = \"avg\";\n"
        "  activity = \"A2345678901234567890123456789012345678901234567890123456789012345\"; },\n"
        "{ id = \"k4\"; " K_COMMON " type = \"proportion\"; target = 1;\n"           /* 10 */
        "  population = { activity = \"X') OR 1=1 --\"; };\n"                        /* 11 */
        "  numerator = { activity = \"B\"; }; },\n"                                  /* 12 */
        "{ id = \"k5\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\";\n" /* 13 */
        "  to = \"discharge\"; }\n"                                                  /* 14 */
        KPIS_END;
    fixture_expect_errors(
        text,
        "@:5: invalid activity \"ed_arrival\" for \"activity\" in KPI \"k1\": " ACTIVITY_RULE "\n"
        "@:7: invalid activity \"ED ARRIVAL\" for \"from\" in KPI \"k2\": " ACTIVITY_RULE "\n"
        "@:7: invalid activity \"\" for \"to\" in KPI \"k2\": " ACTIVITY_RULE "\n"
        "@:9: invalid activity "
        "\"A234567890123456789012345678901234567890123456789012345678901234...\" for "
        "\"activity\" in KPI \"k3\": " ACTIVITY_RULE "\n"
        "@:11: invalid activity \"X') OR 1=1 --\" for \"activity\" in population of KPI "
        "\"k4\": " ACTIVITY_RULE "\n"
        "@:14: invalid activity \"discharge\" for \"to\" in KPI \"k5\": " ACTIVITY_RULE "\n");
}

/* A ratio KPI over num and den (two lines) and a count KPI (one line), in objective "o". */
#define RATIO_KPI(id, period, num, den)                                                \
    "{ id = \"" id "\"; name = \"R\"; period = \"" period "\"; direction = \"lower\";" \
    " objective = \"o\"; target = 1; type = \"ratio\";\n"                              \
    "  numerator = \"" num "\"; denominator = \"" den "\"; }"
#define COUNT_KPI(id, period)                                                          \
    "{ id = \"" id "\"; name = \"C\"; period = \"" period "\"; direction = \"lower\";" \
    " objective = \"o\"; type = \"count\"; activity = \"A\"; }"

static void test_ratios(void **state)
{
    static const char text[] = HEAD OBJ KPIS_BEGIN                    /* 1-4 */
        RATIO_KPI("self", "month", "self", "days") ",\n"              /* 5-6 */
        RATIO_KPI("unknown", "month", "infection", "nosuch") ",\n"    /* 7-8 */
        RATIO_KPI("a", "month", "b", "days") ",\n"                    /* 9-10 */
        RATIO_KPI("b", "month", "a", "days") ",\n"                    /* 11-12 */
        RATIO_KPI("c", "month", "days", "d") ",\n"                    /* 13-14 */
        RATIO_KPI("d", "month", "days", "e") ",\n"                    /* 15-16 */
        RATIO_KPI("e", "month", "c", "days") ",\n"                    /* 17-18 */
        RATIO_KPI("periods", "quarter", "infections", "weekly") ",\n" /* 19-20 */
        RATIO_KPI("fine", "month", "a", "infections") ",\n"           /* 21-22 */
        COUNT_KPI("infections", "month") ",\n"                        /* 23 */
        COUNT_KPI("days", "month") ",\n"                              /* 24 */
        COUNT_KPI(
            "weekly",
            "week") ",\n" /* 25 */
                    "{ id = \"f\"; name = \"F\"; period = \"month\"; direction = \"lower\"; objective = \"o\";"
                    " type = \"ratio\"; target = 1; numerator = \"days\"; denominator = \"days\"; factor = 0;"
                    " }\n"    /* 26 */
                    "); },\n" /* 27 */
                    "{ id = \"berlin\"; name = \"B\"; category = \"main\"; timezone = \"Europe/Berlin\";\n"
                    "  schedule = \"@daily\"; kpis = (\n"              /* 29 */
        RATIO_KPI("tz", "month", "days", "rolling") ",\n"              /* 30-31 */
        COUNT_KPI("rolling", "last 30d") ",\n"                         /* 32 */
        RATIO_KPI("tz_rolling", "last 30d", "rolling", "rolling") "\n" /* 33-34 */
                                                                  "); } );\n";
    fixture_expect_errors(
        text,
        "@:6: \"numerator\" in KPI \"self\" names the KPI itself; a ratio divides two other "
        "KPIs\n"
        "@:8: unknown KPI \"infection\" for \"numerator\" in KPI \"unknown\"; did you mean "
        "\"infections\"?\n"
        "@:8: unknown KPI \"nosuch\" for \"denominator\" in KPI \"unknown\"\n"
        "@:12: \"numerator\" in KPI \"b\" closes a cycle of ratios: a -> b -> a\n"
        "@:18: \"numerator\" in KPI \"e\" closes a cycle of ratios: c -> d -> e -> c\n"
        "@:20: the period \"quarter\" of KPI \"periods\" differs from the period \"month\" of its "
        "numerator \"infections\"; a ratio and the two KPIs it divides need the same period\n"
        "@:20: the period \"quarter\" of KPI \"periods\" differs from the period \"week\" of its "
        "denominator \"weekly\"; a ratio and the two KPIs it divides need the same period\n"
        "@:26: \"factor\" in KPI \"f\" must be greater than 0, not 0\n"
        "@:31: the periods of KPI \"tz\" are in time zone \"Europe/Berlin\", those of its "
        "numerator \"days\" in \"UTC\"; a ratio and the two KPIs it divides need the same "
        "periods, in one time zone\n"
        "@:31: the period \"month\" of KPI \"tz\" differs from the period \"last 30d\" of its "
        "denominator \"rolling\"; a ratio and the two KPIs it divides need the same period\n");
}

static void test_sql(void **state)
{
    char *big = malloc(70000), *text;

    assert_non_null(big);
    memset(big, 'x', 65537);
    big[65537] = '\0';
    assert_true(asprintf(&text,
                         HEAD OBJ KPIS_BEGIN /* 1-4 */
                         "{ id = \"k1\"; " K_COMMON " type = \"sql\"; target = 1; query = \"\"; "
                         "},\n"
                         "{ id = \"k2\"; " K_COMMON " type = \"sql\"; target = 1;\n" /* 6 */
                         "  query = \" \\n\\t \"; timeout = 0; },\n"                 /* 7 */
                         "{ id = \"k3\"; " K_COMMON " type = \"sql\"; target = 1;\n" /* 8 */
                         "  query = \"%s\"; timeout = \"11m\"; },\n"                 /* 9 */
                         "{ id = \"k4\"; " K_COMMON " type = \"sql\"; target = 1;\n" /* 10 */
                         "  query = 5; timeout = \"soon\"; }\n" KPIS_END,            /* 11 */
                         big) > 0);
    fixture_expect_errors(
        text, "@:5: \"query\" in KPI \"k1\" must not be empty\n"
              "@:7: \"timeout\" in KPI \"k2\" must be between 1ms and 10m, not 0ms\n"
              "@:7: \"query\" in KPI \"k2\" must not be empty\n"
              "@:9: \"timeout\" in KPI \"k3\" must be between 1ms and 10m, not 11m\n"
              "@:9: \"query\" in KPI \"k3\" has 65537 bytes; at most 65536 are allowed\n"
              "@:11: invalid duration \"soon\" for \"timeout\" in KPI \"k4\": use an integer "
              "with a unit ms, s, m, h or d (\"250ms\", \"5s\") or an integer of "
              "milliseconds\n"
              "@:11: wrong type for \"query\" in KPI \"k4\": expected a string, got an "
              "integer\n");
    free(text);
    free(big);
}

static void test_invalid_timezone(void **state)
{
    char *expected;

    assert_true(asprintf(&expected,
                         "@:4: unknown time zone \"Mars/Olympus\" (no such zone in %s) in process "
                         "\"p\"\n"
                         "@:5: invalid time zone name \"../etc/passwd\": a zone name like "
                         "\"Europe/Berlin\" is letters, digits, '_', '+', '-' and '/', without "
                         "'.' and not starting with '/' in process \"q\"\n",
                         zone_dir()) > 0);
    fixture_expect_errors(HEAD OBJ /* 1-2 */
                          "processes = ( { id = \"p\"; name = \"P\"; category = \"main\";\n" /* 3 */
                          "  timezone = \"Mars/Olympus\"; schedule = \"@daily\"; },\n"
                          "  { id = \"q\"; name = \"Q\"; category = \"main\"; "
                          "timezone = \"../etc/passwd\";\n"
                          "  schedule = \"@daily\"; } );\n",
                          expected);
    free(expected);
}

static void test_invalid_schedule(void **state)
{
    fixture_expect_errors(
        HEAD OBJ                                                           /* 1-2 */
        "processes = ( { id = \"p\"; name = \"P\"; category = \"main\";\n" /* 3 */
        "  timezone = \"UTC\";\n"                                          /* 4 */
        "  schedule = \"* * *\"; },\n"                                     /* 5 */
        "  { id = \"q\"; name = \"Q\"; category = \"main\"; timezone = \"UTC\";\n"
        "    schedule = \"0 24 * * *\"; },\n" /* 7 */
        "  { id = \"r\"; name = \"R\"; category = \"main\"; timezone = \"UTC\";\n"
        "    schedule = \"@reboot\"; } );\n", /* 9 */
        "@:5: invalid schedule \"* * *\" in process \"p\": expected 5 fields (or 6, with seconds first), got 3\n"
        "@:7: invalid schedule \"0 24 * * *\" in process \"q\": field 2 (hour): 24 is "
        "out of range 0-23\n"
        "@:9: invalid schedule \"@reboot\" in process \"r\": unknown macro "
        "\"@reboot\"\n");
}

/* A schedule that parses but never fires is refused with its reason; one that fires
 * only in leap years is not. */
static void test_schedule_never_fires(void **state)
{
    fixture_expect_errors(
        HEAD OBJ                                                           /* 1-2 */
        "processes = ( { id = \"p\"; name = \"P\"; category = \"main\";\n" /* 3 */
        "  timezone = \"UTC\"; schedule = \"0 0 30 2 *\"; },\n"            /* 4 */
        "  { id = \"q\"; name = \"Q\"; category = \"main\"; timezone = \"UTC\";\n"
        "    schedule = \"0 0 31 4,6,9,11 *\"; },\n" /* 6 */
        "  { id = \"r\"; name = \"R\"; category = \"main\"; timezone = \"UTC\";\n"
        "    schedule = \"0 0 29 2 *\"; } );\n", /* 8 */
        "@:4: schedule never fires: \"0 0 30 2 *\" in process \"p\": February has no day 30\n"
        "@:6: schedule never fires: \"0 0 31 4,6,9,11 *\" in process \"q\": April, June, "
        "September and November have no day 31\n");
    kpid_config *cfg = fixture_expect_ok(
        HEAD OBJ "processes = ( { id = \"r\"; name = \"R\"; category = \"main\";\n"
                 "  timezone = \"UTC\"; schedule = \"0 0 29 2 *\"; } );\n");
    kpid_config_free(cfg);
}

static void test_invalid_period(void **state)
{
    fixture_expect_errors(
        HEAD OBJ KPIS_BEGIN /* 1-4 */
        "{ id = \"k1\"; name = \"K\"; period = \"fortnight\"; direction = \"higher\";"
        " objective = \"o\"; type = \"count\"; activity = \"A\"; },\n" /* 5 */
        "{ id = \"k2\"; name = \"K\"; period = \"last 5y\"; direction = \"higher\";"
        " objective = \"o\"; type = \"count\"; activity = \"A\"; },\n" /* 6 */
        "{ id = \"k3\"; name = \"K\"; period = \"fiscal_year:13\"; direction = "
        "\"higher\"; objective = \"o\"; type = \"count\"; activity = \"A\"; }\n" /* 7 */
        KPIS_END,
        "@:5: invalid period in KPI \"k1\": unknown period \"fortnight\" (expected day, "
        "week, week:DAY, month, quarter, year, fiscal_year:MONTH or last N followed by "
        "m, h, d or w)\n"
        "@:6: invalid period in KPI \"k2\": rolling window \"last 5y\": unknown unit "
        "\"y\" (expected m, h, d or w)\n"
        "@:7: invalid period in KPI \"k3\": fiscal year first month \"13\" is not a "
        "month number 1-12\n");
}

static void test_statistics(void **state)
{
    static const char text[] = HEAD OBJ KPIS_BEGIN /* 1-4 */
        "{ id = \"k1\"; " K_COMMON " type = \"duration\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  statistic = \"within\"; },\n" /* 6 */
        "{ id = \"k2\"; " K_COMMON " type = \"duration\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  statistic = \"median\"; within = \"1h\"; },\n" /* 8 */
        "{ id = \"k3\"; " K_COMMON " type = \"duration\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  statistic = \"p50\"; },\n" /* 10 */
        "{ id = \"k4\"; " K_COMMON " type = \"value\"; target = 1; activity = \"A\"; "
        "statistic = \"p0\"; },\n"
        "{ id = \"k5\"; " K_COMMON " type = \"value\"; target = 1; activity = \"A\"; "
        "statistic = \"p100\"; },\n"
        "{ id = \"k6\"; " K_COMMON " type = \"value\"; target = 1; activity = \"A\"; "
        "statistic = \"p05\"; },\n"
        "{ id = \"k7\"; " K_COMMON " type = \"value\"; target = 1; activity = \"A\"; "
        "statistic = \"pct\"; },\n"
        "{ id = \"k8\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  statistic = \"case_days\"; capacity = 10; },\n" /* 16 */
        "{ id = \"k9\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  capacity = 0; weight = 0; },\n" /* 18 */
        "{ id = \"k10\"; " K_COMMON " type = \"duration\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  statistic = \"within\"; within = 0; weight = -1.5; }\n" /* 20 */
        KPIS_END;
    fixture_expect_errors(
        text,
        "@:5: missing required key \"within\" in KPI \"k1\": statistic \"within\" needs the "
        "limit\n"
        "@:8: \"within\" in KPI \"k2\" is only used with statistic \"within\"\n"
        "@:10: invalid statistic \"p50\" in KPI \"k3\": use avg, median, p90, p95, min, max or "
        "within\n"
        "@:11: invalid statistic \"p0\" in KPI \"k4\": a percentile is p1 to p99\n"
        "@:12: invalid statistic \"p100\" in KPI \"k5\": a percentile is p1 to p99\n"
        "@:13: invalid statistic \"p05\" in KPI \"k6\": a percentile is p1 to p99\n"
        "@:14: invalid statistic \"pct\" in KPI \"k7\": use sum, avg, min, max, median or pNN "
        "(p1 to p99)\n"
        "@:16: \"capacity\" in KPI \"k8\" is only used with statistic \"average\"\n"
        "@:18: \"weight\" in KPI \"k9\" must be greater than 0, not 0\n"
        "@:18: \"capacity\" in KPI \"k9\" must be greater than 0, not 0\n"
        "@:20: \"weight\" in KPI \"k10\" must be greater than 0, not -1.5\n"
        "@:20: \"within\" in KPI \"k10\" must be at least 1ms, not 0ms\n");
}

/* A census's lookback: 365 days by default, a duration of 1ms to 36500 days. */
static void test_census_lookback(void **state)
{
    static const char ok[] = HEAD OBJ KPIS_BEGIN
        "{ id = \"k1\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\"; },\n"
        "{ id = \"k2\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  lookback = \"30d\"; },\n"
        "{ id = \"k3\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  lookback = 1; },\n"
        "{ id = \"k4\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  lookback = \"36500d\"; }\n" KPIS_END;
    static const char bad[] = HEAD OBJ KPIS_BEGIN /* 1-4 */
        "{ id = \"k1\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  lookback = 0; },\n" /* 6 */
        "{ id = \"k2\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  lookback = \"36501d\"; },\n" /* 8 */
        "{ id = \"k3\"; " K_COMMON " type = \"census\"; target = 1; from = \"A\"; to = \"B\";\n"
        "  lookback = \"a year\"; },\n" /* 10 */
        "{ id = \"k4\"; " K_COMMON
        " type = \"count\"; activity = \"A\"; lookback = \"1d\"; }\n" KPIS_END;
    kpid_config *cfg = expect_ok(ok);
    const kpid_model *m = cfg->model;

    assert_int_equal(kpid_model_find_kpi(m, "k1")->u.census.lookback_ms, INT64_C(365) * 86400000);
    assert_int_equal(kpid_model_find_kpi(m, "k2")->u.census.lookback_ms, INT64_C(30) * 86400000);
    assert_int_equal(kpid_model_find_kpi(m, "k3")->u.census.lookback_ms, 1);
    assert_int_equal(kpid_model_find_kpi(m, "k4")->u.census.lookback_ms, INT64_C(36500) * 86400000);
    kpid_config_free(cfg);
    fixture_expect_errors(
        bad, "@:6: \"lookback\" in KPI \"k1\" must be between 1ms and 36500d, not 0ms\n"
             "@:8: \"lookback\" in KPI \"k2\" must be between 1ms and 36500d, not 36501d\n"
             "@:10: invalid duration \"a year\" for \"lookback\" in KPI \"k3\": use an "
             "integer with a unit ms, s, m, h or d (\"250ms\", \"5s\") or an integer of "
             "milliseconds\n"
             "@:11: unknown key \"lookback\" in KPI \"k4\" of type \"count\"\n");
}

/* Every error path frees what it built: LeakSanitizer checks at exit. */
static void test_error_paths_free_everything(void **state)
{
    static const char *const texts[] = {
        HEAD "objectives = 5;\nprocesses = ( 5, { } );\n",
        HEAD OBJ KPIS_BEGIN "{ id = \"k\"; type = \"ratio\"; numerator = \"k\"; denominator = "
                            "\"x\"; bands = ( { from = 1; to = 0; status = \"x\"; }, 5 ); "
                            "filters = ( { attr = \"a\"; in = [ \"a\" ]; equals = \"b\"; }, "
                            "{ attr = \"b\"; in = ( \"a\", 1, \"c\" ); } ); stratify = [ \"a\", "
                            "\"a\", \"b\" ]; }\n" KPIS_END,
        HEAD OBJ KPIS_BEGIN
        "{ id = \"k\"; " K_COMMON " type = \"proportion\"; population = "
        "{ activity = \"A\"; filters = ( { attr = \"x\"; equals = \"y\"; } ); "
        "}; numerator = { activity = \"b\"; filters = ( { attr = \"x\"; "
        "not_in = [ \"y\" ]; } ); }; denominator = 5; "
        "denominator_exclusion = { activity = \"C\"; link = \"x\"; }; }\n" KPIS_END,
        HEAD OBJ "processes = ( { id = \"p\"; name = \"P\"; category = \"main\"; timezone = "
                 "\"UTC\"; schedule = \"bad\"; kpis = ( { id = \"a\"; type = \"duration\"; from "
                 "= \"A\"; to = \"B\"; statistic = \"within\"; within = \"1h\"; unit = \"u\"; "
                 "period = \"day\"; } ); }, { id = \"p\"; name = \"P\"; category = \"main\"; "
                 "timezone = \"Nowhere/Land\"; schedule = \"@daily\"; owner = \"o\"; kpis = ( { "
                 "id = \"a\"; type = \"sql\"; query = \"SELECT 1\"; }, { id = \"c\"; type = "
                 "\"census\"; from = \"A\"; to = \"B\"; }, { id = \"v\"; type = \"value\"; "
                 "activity = \"A\"; statistic = \"p5\"; objective = \"zz\"; }, { id = \"n\"; "
                 "type = \"count\"; activity = \"A\"; count = \"cases\"; } ); } );\n",
        HEAD OBJ KPIS_BEGIN RATIO_KPI("a", "month", "b", "c") ",\n" RATIO_KPI(
            "b", "week", "a", "c") ",\n" COUNT_KPI("c",
                                                   "month") ",\n" RATIO_KPI("d", "month", "d",
                                                                            "zz") "\n" KPIS_END,
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        fixture_expect_invalid(texts[i]);
}

/* ---- etc/kpid.conf ----------------------------------------------------------------- */

/* Whether kpi's value is a share (a proportion, a duration's share within a limit, an
 * occupancy): its unit, if any, must say so, never "%" (the value is 0.02, not 2). */
static bool value_is_share(const kpid_kpi *kpi)
{
    return kpi->type == KPID_KPI_PROPORTION ||
           (kpi->type == KPID_KPI_DURATION && kpi->u.duration.statistic == KPID_STAT_WITHIN) ||
           (kpi->type == KPID_KPI_CENSUS && kpi->u.census.capacity > 0);
}

/*
 * The management model of a shipped configuration (etc/kpid.conf, etc/demo.conf.in)
 * loads, covers every perspective, and labels every share as a share. The sources are
 * blanked out (their plugins are test_config's business) and pseudonymization is
 * switched off, keeping line numbers.
 */
static void check_shipped_model(const char *name)
{
    const char *source_dir = getenv("KPID_SOURCE_DIR");
    char *path, *copy = NULL;
    size_t size = 0;
    FILE *in, *out;
    char line[4096];
    bool in_sources = false;
    bool perspectives[4] = {false};

    if (!source_dir)
        skip();
    assert_true(asprintf(&path, "%s/etc/%s", source_dir, name) > 0);
    in = fopen(path, "re");
    assert_non_null(in);
    out = open_memstream(&copy, &size);
    assert_non_null(out);
    while (fgets(line, sizeof(line), in)) {
        if (strncmp(line, "sources = (", 11) == 0)
            in_sources = true;
        if (in_sources || strncmp(line, "pseudonymize = ", 15) == 0)
            fputs(strncmp(line, "pseudonymize = ", 15) == 0 ? "pseudonymize = false;\n" : "\n",
                  out);
        else
            fputs(line, out);
        if (in_sources && strncmp(line, ");", 2) == 0)
            in_sources = false;
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);

    kpid_config *cfg = expect_ok(copy);
    const kpid_model *m = cfg->model;
    assert_int_equal(cfg->n_sources, 0);
    assert_true(m->n_objectives >= 4);
    assert_true(m->n_processes >= 2);
    assert_true(m->n_kpis >= 2);
    for (size_t i = 0; i < m->n_objectives; i++)
        perspectives[m->objectives[i].perspective] = true;
    for (size_t i = 0; i < 4; i++)
        assert_true(perspectives[i]);
    for (size_t i = 0; i < m->n_kpis; i++) {
        const kpid_kpi *kpi = m->kpis[i];
        assert_non_null(kpi->objective);
        assert_non_null(kpi->process->tz);
        if (value_is_share(kpi) && kpi->unit && strcmp(kpi->unit, "share") != 0)
            fail_msg("%s: KPI \"%s\" has a share as its value, but unit \"%s\"", name, kpi->id,
                     kpi->unit);
        if (value_is_share(kpi) && kpi->has_target && !(kpi->target >= 0 && kpi->target <= 1))
            fail_msg("%s: KPI \"%s\" has a share as its value, but target %g", name, kpi->id,
                     kpi->target);
    }
    kpid_config_free(cfg);
    free(copy);
    free(path);
}

static void test_example_model(void **state)
{
    check_shipped_model("kpid.conf");
}

static void test_demo_model(void **state)
{
    check_shipped_model("demo.conf.in");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_model),
        cmocka_unit_test(test_empty_model),
        cmocka_unit_test(test_free_and_names),
        cmocka_unit_test(test_boundaries_accepted),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_unknown_objective),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_invalid_ids),
        cmocka_unit_test(test_bad_enums),
        cmocka_unit_test(test_bands),
        cmocka_unit_test(test_stratify),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_invalid_activities),
        cmocka_unit_test(test_ratios),
        cmocka_unit_test(test_sql),
        cmocka_unit_test(test_invalid_timezone),
        cmocka_unit_test(test_invalid_schedule),
        cmocka_unit_test(test_schedule_never_fires),
        cmocka_unit_test(test_invalid_period),
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_census_lookback),
        cmocka_unit_test(test_error_paths_free_everything),
        cmocka_unit_test(test_example_model),
        cmocka_unit_test(test_demo_model),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
