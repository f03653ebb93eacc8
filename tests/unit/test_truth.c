/*
 * hospgen's KPI ground truth (tests/hospgen/truth_*.c): hand-made events, hand-computed
 * values for each KPI type, periods across a DST change.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "truth_conf.h"
#include "truth_eval.h"
#include "truth_period.h"
#include "truth_store.h"

/* This cmocka has no assert_double_equal. */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#define SEC INT64_C(1000000)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
#define JAN1 (INT64_C(1735689600) * SEC) /* 2025-01-01 00:00 UTC */

static const char conf_text[] =
    "processes = ( { id = \"p\"; timezone = \"UTC\"; kpis = (\n"
    "  { id = \"vals\"; type = \"value\"; period = \"month\"; activity = \"LAB\";\n"
    "    statistic = \"p90\"; stratify = [ \"ward\" ]; },\n"
    "  { id = \"readm\"; type = \"proportion\"; period = \"month\";\n"
    "    population = { activity = \"DISCHARGE\"; };\n"
    "    numerator = { activity = \"ADMISSION\"; link = \"subject\"; within = \"30d\"; };\n"
    "    denominator_exclusion = { activity = \"DEATH\"; link = \"case\"; };\n"
    "    numerator_exclusion = { activity = \"ADMISSION\"; link = \"subject\"; within = \"30d\";\n"
    "      filters = ( { attr = \"ward\"; equals = \"X\"; } ); }; },\n"
    "  { id = \"days\"; type = \"census\"; period = \"day\"; from = \"ADMISSION\";\n"
    "    to = \"DISCHARGE\"; statistic = \"case_days\"; },\n"
    "  { id = \"occ\"; type = \"census\"; period = \"day\"; from = \"ADMISSION\";\n"
    "    to = \"DISCHARGE\"; capacity = 2; },\n"
    "  { id = \"wait\"; type = \"duration\"; period = \"month\"; unit = \"h\"; from = \"ADMISSION\";\n"
    "    to = \"DISCHARGE\"; statistic = \"median\"; },\n"
    "  { id = \"wait60\"; type = \"duration\"; period = \"month\"; from = \"ADMISSION\";\n"
    "    to = \"DISCHARGE\"; statistic = \"within\"; within = \"24h\"; },\n"
    "  { id = \"adm\"; type = \"count\"; period = \"month\"; activity = \"ADMISSION\";\n"
    "    count = \"subjects\"; filters = ( { attr = \"ward\"; not_in = [ \"Q\" ]; } ); },\n"
    "  { id = \"per_adm\"; type = \"ratio\"; period = \"month\"; numerator = \"readm\";\n"
    "    denominator = \"adm\"; factor = 100; },\n"
    "  { id = \"rolling\"; type = \"count\"; period = \"last 24h\"; activity = \"LAB\"; }\n"
    "); } );\n"
    "other_key = 1;\n";

struct fixture {
    struct ht_store s;
    struct ht_model m;
};

static void add(struct ht_store *s, const char *c, const char *subj, const char *act, int64_t t,
                double v, const char *ward)
{
    struct ht_input in = {.case_id = c, .subject_id = subj, .activity = act, .time = t,
                          .value = v, .seq = 1};
    if (ward) {
        in.n_attr = 1;
        in.key[0] = "ward";
        in.val[0] = ward;
    }
    assert_int_equal(ht_store_add(s, &in), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[] = "/tmp/test_truth_XXXXXX";
    int fd = mkstemp(path);

    assert_non_null(f);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, conf_text, sizeof(conf_text) - 1), (ssize_t)sizeof(conf_text) - 1);
    close(fd);
    ht_store_init(&f->s);
    assert_int_equal(ht_model_load(path, &f->s.pool, &f->m), 0);
    unlink(path);

    /* Lab values 1, 2, 3, 4, 10 in ward A and one without a value. */
    add(&f->s, "L1", "P9", "LAB", JAN1 + 1 * HOUR, 4, "A");
    add(&f->s, "L2", "P9", "LAB", JAN1 + 2 * HOUR, 10, "A");
    add(&f->s, "L3", "P9", "LAB", JAN1 + 3 * HOUR, 1, "A");
    add(&f->s, "L4", "P9", "LAB", JAN1 + 4 * HOUR, 3, "A");
    add(&f->s, "L5", "P9", "LAB", JAN1 + 5 * HOUR, 2, "A");
    add(&f->s, "L6", "P9", "LAB", JAN1 + 6 * HOUR, NAN, "B");
    add(&f->s, "L7", "P9", "LAB", JAN1 + 7 * HOUR, 5, NULL);

    /* Readmissions: P1 back after 9 days (numerator), P2 after 38 days (not), P3 died
     * (excluded), P4 back after 1 day to ward X (numerator exclusion). */
    add(&f->s, "C1", "P1", "ADMISSION", JAN1, NAN, "A");
    add(&f->s, "C1", "P1", "DISCHARGE", JAN1 + 1 * DAY, NAN, NULL);
    add(&f->s, "C2", "P1", "ADMISSION", JAN1 + 10 * DAY, NAN, "A");
    add(&f->s, "C3", "P2", "DISCHARGE", JAN1 + 2 * DAY, NAN, NULL);
    add(&f->s, "C4", "P2", "ADMISSION", JAN1 + 40 * DAY, NAN, "A");
    add(&f->s, "C5", "P3", "DISCHARGE", JAN1 + 3 * DAY, NAN, NULL);
    add(&f->s, "C5", "P3", "DEATH", JAN1 + 3 * DAY, NAN, NULL);
    add(&f->s, "C6", "P4", "DISCHARGE", JAN1 + 4 * DAY, NAN, NULL);
    add(&f->s, "C7", "P4", "ADMISSION", JAN1 + 5 * DAY, NAN, "X");
    add(&f->s, "C7", "P4", "ADMISSION", JAN1 + 5 * DAY, NAN, "Q"); /* seq 1 ties: same key */
    assert_int_equal(ht_store_index(&f->s), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    ht_model_free(&f->m);
    ht_store_fini(&f->s);
    free(f);
    return 0;
}

static void eval(struct fixture *f, const char *id, int64_t start, int64_t end,
                 struct ht_result *r)
{
    long k = ht_model_find(&f->m, id);

    assert_true(k >= 0);
    assert_int_equal(ht_eval(&f->s, &f->m, (size_t)k, start, end, r), 0);
}

static size_t pop_size(const struct ht_row *row, const char *code)
{
    for (size_t i = 0; i < row->n_pop; i++)
        if (strcmp(row->pop[i].code, code) == 0)
            return row->pop[i].n;
    fail_msg("no population %s", code);
    return 0;
}

static void test_percentile(void **state)
{
    double v[] = {4, 10, 1, 3, 2}, w[] = {4, 1, 3, 2};
    struct fixture *f = *state;
    struct ht_result r = {0};

    (void)state;
    assert_near(ht_percentile_cont(v, 5, 0.9), 7.6, 1e-12); /* 4 + 0.6 * 6 */
    assert_near(ht_percentile_cont(w, 4, 0.5), 2.5, 1e-12);
    eval(f, "vals", JAN1, JAN1 + 31 * DAY, &r);
    /* Rows are sorted by stratum text: {"ward":"A"}, {"ward":null}, {}. Ward B has no
     * valued event, so no row. */
    assert_int_equal(r.n, 3);
    assert_string_equal(r.row[0].stratum, "{\"ward\":\"A\"}");
    assert_near(r.row[0].value, 7.6, 1e-12);
    assert_int_equal(r.row[0].n, 5);
    assert_string_equal(r.row[1].stratum, "{\"ward\":null}");
    assert_near(r.row[1].value, 5, 0);
    assert_string_equal(r.row[2].stratum, "{}");
    /* 1 2 3 4 5 10: pos 4.5 -> 5 + 0.5 * 5 */
    assert_near(r.row[2].value, 7.5, 1e-12);
    assert_int_equal(r.row[2].n, 6);
    assert_int_equal(pop_size(&r.row[2], "initial-population"), 7);
    assert_int_equal(pop_size(&r.row[2], "measure-population"), 6);
    ht_result_clear(&r);
}

static void test_proportion(void **state)
{
    struct fixture *f = *state;
    struct ht_result r = {0};

    eval(f, "readm", JAN1, JAN1 + 31 * DAY, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.row[0].n, 4);
    assert_near(r.row[0].den, 3, 0);
    assert_near(r.row[0].num, 1, 0);
    assert_near(r.row[0].value, 1.0 / 3.0, 1e-15);
    assert_int_equal(pop_size(&r.row[0], "denominator"), 4);
    assert_int_equal(pop_size(&r.row[0], "denominator-exclusion"), 1);
    assert_int_equal(pop_size(&r.row[0], "numerator"), 2);
    assert_int_equal(pop_size(&r.row[0], "numerator-exclusion"), 1);
    ht_result_clear(&r);
    /* An empty month: no value, numerator and denominator 0. */
    eval(f, "readm", JAN1 + 59 * DAY, JAN1 + 90 * DAY, &r);
    assert_int_equal(r.n, 1);
    assert_false(r.row[0].has_value);
    assert_int_equal(r.row[0].n, 0);
    ht_result_clear(&r);
}

static void test_census_boundary(void **state)
{
    struct fixture *f = *state;
    struct ht_result r = {0};

    /* C1 open 2025-01-01 00:00 .. 01-02 00:00 exactly; C2 from 01-11 on, never closed;
     * C7 from 01-06. Jan 1: C1 the whole day. Jan 2: nobody (C1 closed at start). */
    eval(f, "days", JAN1, JAN1 + DAY, &r);
    assert_near(r.row[0].value, 1, 0);
    assert_int_equal(r.row[0].n, 1);
    ht_result_clear(&r);
    eval(f, "days", JAN1 + DAY, JAN1 + 2 * DAY, &r);
    assert_near(r.row[0].value, 0, 0);
    assert_int_equal(r.row[0].n, 0);
    ht_result_clear(&r);
    /* A period crossing the opening of C7 (01-06 00:00) and C2 (01-11): 12 hours before
     * the 11th to 12 hours after: C7 24 h, C2 12 h. */
    eval(f, "days", JAN1 + 10 * DAY - 12 * HOUR, JAN1 + 10 * DAY + 12 * HOUR, &r);
    assert_near(r.row[0].value, 1.5, 1e-15);
    assert_int_equal(r.row[0].n, 2);
    ht_result_clear(&r);
    eval(f, "occ", JAN1 + 10 * DAY - 12 * HOUR, JAN1 + 10 * DAY + 12 * HOUR, &r);
    assert_near(r.row[0].num, 1.5, 1e-15);
    assert_near(r.row[0].den, 2, 0);
    assert_near(r.row[0].value, 0.75, 1e-15);
    ht_result_clear(&r);
}

static void test_duration_count_ratio(void **state)
{
    struct fixture *f = *state;
    struct ht_result r = {0};

    /* Admissions in January: C1 (ended after 24 h), C2, C7 (no discharge). */
    eval(f, "wait", JAN1, JAN1 + 31 * DAY, &r);
    assert_near(r.row[0].value, 24, 0);
    assert_int_equal(r.row[0].n, 1);
    assert_int_equal(pop_size(&r.row[0], "initial-population"), 3);
    assert_int_equal(pop_size(&r.row[0], "measure-population"), 1);
    ht_result_clear(&r);
    eval(f, "wait60", JAN1, JAN1 + 31 * DAY, &r);
    assert_near(r.row[0].num, 1, 0);
    assert_near(r.row[0].den, 3, 0);
    assert_int_equal(r.row[0].n, 3);
    ht_result_clear(&r);
    /* Subjects admitted in January outside ward Q: P1 (twice), P4 -> 2. */
    eval(f, "adm", JAN1, JAN1 + 31 * DAY, &r);
    assert_near(r.row[0].value, 2, 0);
    assert_int_equal(r.row[0].n, 3);
    ht_result_clear(&r);
    eval(f, "per_adm", JAN1, JAN1 + 31 * DAY, &r);
    assert_int_equal(r.n, 1);
    assert_near(r.row[0].value, 1.0 / 3.0 / 2 * 100, 1e-12);
    assert_false(r.row[0].has_n);
    assert_int_equal(pop_size(&r.row[0], "numerator"), 4); /* readm: C1 C3 C5 C6 */
    assert_int_equal(pop_size(&r.row[0], "denominator"), 3); /* C1/P1 C2/P1 C7/P4 */
    ht_result_clear(&r);
}

static void test_periods_berlin(void **state)
{
    struct ht_pspec day, fy, wk;
    int64_t from, to, *b = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(ht_period_parse("day", &day), 0);
    assert_int_equal(ht_parse_day("2025-03-29", &from), 0);
    assert_int_equal(ht_parse_day("2025-03-31", &to), 0);
    assert_int_equal(ht_periods(&day, "Europe/Berlin", from, to, &b, &n), 0);
    assert_int_equal(n, 2);
    /* 2025-03-30 00:00 CET = 03-29 23:00 UTC; 03-31 00:00 CEST = 03-30 22:00 UTC. */
    assert_true(b[1] == INT64_C(1743289200) * SEC);
    assert_true(b[2] == INT64_C(1743372000) * SEC);
    assert_true(b[2] - b[1] == 23 * HOUR);
    free(b);
    /* Fiscal year from April, in Almaty (+05): FY2024 contains 2025-01-01. */
    assert_int_equal(ht_period_parse("fiscal_year:4", &fy), 0);
    assert_int_equal(ht_parse_day("2025-01-01", &from), 0);
    assert_int_equal(ht_periods(&fy, "Asia/Almaty", from, from + 1, &b, &n), 0);
    assert_int_equal(n, 1);
    assert_true(b[0] == INT64_C(1711911600) * SEC); /* 2024-04-01 00:00 +05 */
    free(b);
    /* Weeks from Sunday: 2025-01-01 (a Wednesday) is in the week of 2024-12-29. */
    assert_int_equal(ht_period_parse("week:sun", &wk), 0);
    assert_int_equal(ht_periods(&wk, "UTC", from, from + 8, &b, &n), 0);
    assert_int_equal(n, 2);
    assert_true(b[0] == JAN1 - 3 * DAY);
    free(b);
    assert_int_equal(ht_period_parse("last 24h", &day), 0);
    assert_int_equal(day.kind, HT_P_ROLLING);
}

static void test_berlin_census(void **state)
{
    struct ht_store s;
    struct ht_model m = {0};
    struct ht_kpi k = {.id = "c", .type = HT_CENSUS, .stat = HT_CASE_DAYS,
                       .lookback_us = 365 * DAY};
    struct ht_result r = {0};

    (void)state;
    ht_store_init(&s);
    assert_int_equal(ht_pool_intern(&s.pool, "ADMISSION", 9, &k.from), 0);
    assert_int_equal(ht_pool_intern(&s.pool, "DISCHARGE", 9, &k.to), 0);
    add(&s, "C1", "P1", "ADMISSION", INT64_C(1743200000) * SEC, NAN, NULL); /* 03-28 */
    assert_int_equal(ht_store_index(&s), 0);
    m.kpi = &k;
    m.n = 1;
    /* The 23-hour day 2025-03-30 in Berlin: 23/24 case days, average 1. */
    assert_int_equal(ht_eval(&s, &m, 0, INT64_C(1743289200) * SEC, INT64_C(1743372000) * SEC, &r),
                     0);
    assert_near(r.row[0].value, 23.0 / 24.0, 1e-15);
    ht_result_clear(&r);
    k.stat = HT_AVG;
    assert_int_equal(ht_eval(&s, &m, 0, INT64_C(1743289200) * SEC, INT64_C(1743372000) * SEC, &r),
                     0);
    assert_near(r.row[0].value, 1, 0);
    ht_result_clear(&r);
    /* lookback: an opening more than 365 days before the period takes no part. */
    assert_int_equal(ht_eval(&s, &m, 0, INT64_C(1743200000) * SEC + 366 * DAY,
                             INT64_C(1743200000) * SEC + 367 * DAY, &r),
                     0);
    assert_int_equal(r.row[0].n, 0);
    ht_result_clear(&r);
    ht_store_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_percentile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proportion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_count_ratio, setup, teardown),
        cmocka_unit_test(test_periods_berlin),
        cmocka_unit_test(test_berlin_census),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
