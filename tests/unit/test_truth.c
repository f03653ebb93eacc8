/*
 * hospgen's KPI ground truth (tools/hospgen/truth_*.c): hand-made events, hand-computed
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
    struct ht_input in = {
        .case_id = c, .subject_id = subj, .activity = act, .time = t, .value = v, .seq = 1};
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

static void eval(struct fixture *f, const char *id, int64_t start, int64_t end, struct ht_result *r)
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
    /* Rows are sorted by stratum text: {"ward":"A"}, {"ward":"B"}, {"ward":null}, {}.
     * Ward B has one event without a value: its row has no value, n 0. */
    assert_int_equal(r.n, 4);
    assert_string_equal(r.row[0].stratum, "{\"ward\":\"A\"}");
    assert_near(r.row[0].value, 7.6, 1e-12);
    assert_int_equal(r.row[0].n, 5);
    assert_string_equal(r.row[1].stratum, "{\"ward\":\"B\"}");
    assert_false(r.row[1].has_value);
    assert_true(r.row[1].has_n);
    assert_int_equal(r.row[1].n, 0);
    assert_int_equal(pop_size(&r.row[1], "initial-population"), 1);
    assert_int_equal(pop_size(&r.row[1], "measure-population"), 0);
    assert_string_equal(r.row[2].stratum, "{\"ward\":null}");
    assert_near(r.row[2].value, 5, 0);
    assert_string_equal(r.row[3].stratum, "{}");
    /* 1 2 3 4 5 10: pos 4.5 -> 5 + 0.5 * 5 */
    assert_near(r.row[3].value, 7.5, 1e-12);
    assert_int_equal(r.row[3].n, 6);
    assert_false(r.row[3].has_excl); /* a value KPI's members need no case */
    assert_int_equal(pop_size(&r.row[3], "initial-population"), 7);
    assert_int_equal(pop_size(&r.row[3], "measure-population"), 6);
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
    assert_int_equal(pop_size(&r.row[0], "numerator"), 4);   /* readm: C1 C3 C5 C6 */
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
    struct ht_kpi k = {
        .id = "c", .type = HT_CENSUS, .stat = HT_CASE_DAYS, .lookback_us = 365 * DAY};
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

/* ---- the edge rules: bases, incomplete members, ties, zero-length stays ------------- */

static const char rules_text[] =
    "processes = ( { id = \"p\"; timezone = \"UTC\"; kpis = (\n"
    "  { id = \"by_case\"; type = \"proportion\"; period = \"month\"; stratify = [ \"ward\" ];\n"
    "    population = { activity = \"ARRIVAL\"; };\n"
    "    numerator = { activity = \"LEFT\"; }; },\n"
    "  { id = \"by_subject\"; type = \"proportion\"; period = \"month\"; basis = \"subject\";\n"
    "    population = { activity = \"ARRIVAL\"; };\n"
    "    numerator = { activity = \"LEFT\"; }; },\n"
    "  { id = \"by_event\"; type = \"proportion\"; period = \"month\"; basis = \"event\";\n"
    "    population = { activity = \"ARRIVAL\"; };\n"
    "    numerator = { activity = \"RETURN\"; link = \"subject\"; }; },\n"
    "  { id = \"filtered\"; type = \"proportion\"; period = \"month\";\n"
    "    population = { activity = \"ARRIVAL\"; filters = ( { attr = \"ward\"; equals = \"B\"; } ); };\n"
    "    numerator = { activity = \"LEFT\"; }; },\n"
    "  { id = \"wait\"; type = \"duration\"; period = \"month\"; from = \"ARRIVAL\";\n"
    "    to = \"SEEN\"; statistic = \"within\"; within = \"1h\"; stratify = [ \"ward\" ]; },\n"
    "  { id = \"beds\"; type = \"census\"; period = \"day\"; from = \"ADMISSION\";\n"
    "    to = \"DISCHARGE\"; capacity = 10; stratify = [ \"ward\" ]; },\n"
    "  { id = \"short\"; type = \"census\"; period = \"day\"; from = \"ADMISSION\";\n"
    "    to = \"DISCHARGE\"; lookback = \"1d\"; },\n"
    "  { id = \"total\"; type = \"value\"; period = \"month\"; activity = \"SURVEY\";\n"
    "    statistic = \"sum\"; stratify = [ \"ward\" ]; }\n"
    "); } );\n";

#define JUN1 (INT64_C(1780272000) * SEC) /* 2026-06-01 00:00 UTC */

/* One event with its event_key's case (key, NULL: its case_id) and sequence number. */
static void add_key(struct ht_store *s, const char *c, const char *key, uint32_t seq,
                    const char *subj, const char *act, int64_t t, double v, const char *ward)
{
    struct ht_input in = {.case_id = c,
                          .key_case = key,
                          .subject_id = subj,
                          .activity = act,
                          .time = t,
                          .value = v,
                          .seq = seq};
    if (ward) {
        in.n_attr = 1;
        in.key[0] = "ward";
        in.val[0] = ward;
    }
    assert_int_equal(ht_store_add(s, &in), 0);
}

static int rules_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[] = "/tmp/test_truth_XXXXXX";
    int fd = mkstemp(path);

    assert_non_null(f);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, rules_text, sizeof(rules_text) - 1),
                     (ssize_t)sizeof(rules_text) - 1);
    close(fd);
    ht_store_init(&f->s);
    assert_int_equal(ht_model_load(path, &f->s.pool, &f->m), 0);
    unlink(path);
    struct ht_store *s = &f->s;

    /* V1 (P1): arrivals in ward A at 10:00 and, again, in ward B at 10:05; left; seen at
     * 10:30. V2 (P1) on the 20th in ward B. V3 (P2) twice at the same instant: seq 10
     * (ward B) before seq 2 (ward A) by event_key text; seen after 2 hours. An arrival
     * of P3 without its case (its key still names E9). V4 without a subject; left. */
    add_key(s, "V1", NULL, 1, "P1", "ARRIVAL", JUN1 + 10 * HOUR, NAN, "A");
    add_key(s, "V1", NULL, 2, "P1", "ARRIVAL", JUN1 + 10 * HOUR + 300 * SEC, NAN, "B");
    add_key(s, "V1", NULL, 1, "P1", "LEFT", JUN1 + 11 * HOUR, NAN, NULL);
    add_key(s, "V1", NULL, 1, "P1", "SEEN", JUN1 + 10 * HOUR + 1800 * SEC, NAN, NULL);
    add_key(s, "V2", NULL, 1, "P1", "ARRIVAL", JUN1 + 19 * DAY, NAN, "B");
    add_key(s, "V3", NULL, 10, "P2", "ARRIVAL", JUN1 + 2 * DAY, NAN, "B");
    add_key(s, "V3", NULL, 2, "P2", "ARRIVAL", JUN1 + 2 * DAY, NAN, "A");
    add_key(s, "V3", NULL, 1, "P2", "SEEN", JUN1 + 2 * DAY + 2 * HOUR, NAN, NULL);
    add_key(s, NULL, "E9", 1, "P3", "ARRIVAL", JUN1 + 3 * DAY, NAN, "A");
    add_key(s, "V4", NULL, 1, NULL, "ARRIVAL", JUN1 + 4 * DAY, NAN, "A");
    add_key(s, "V4", NULL, 1, NULL, "LEFT", JUN1 + 4 * DAY + HOUR, NAN, NULL);
    add_key(s, "V5", NULL, 1, "P1", "RETURN", JUN1 + 25 * DAY, NAN, NULL);
    /* Stays: C1 June 9 08:00 to June 11 08:00 (ward A); C2 of zero length on June 10
     * 12:00 (X); C3 of zero length at the start of June 10 (Y); one without a case on
     * June 12 (Z). */
    add_key(s, "C1", NULL, 1, "Q1", "ADMISSION", JUN1 + 8 * DAY + 8 * HOUR, NAN, "A");
    add_key(s, "C1", NULL, 1, "Q1", "DISCHARGE", JUN1 + 10 * DAY + 8 * HOUR, NAN, NULL);
    add_key(s, "C2", NULL, 1, "Q2", "ADMISSION", JUN1 + 9 * DAY + 12 * HOUR, NAN, "X");
    add_key(s, "C2", NULL, 1, "Q2", "DISCHARGE", JUN1 + 9 * DAY + 12 * HOUR, NAN, NULL);
    add_key(s, "C3", NULL, 1, "Q3", "ADMISSION", JUN1 + 9 * DAY, NAN, "Y");
    add_key(s, "C3", NULL, 1, "Q3", "DISCHARGE", JUN1 + 9 * DAY, NAN, NULL);
    add_key(s, NULL, "C4", 1, "Q4", "ADMISSION", JUN1 + 11 * DAY + 6 * HOUR, NAN, "Z");
    /* Surveys: 8 in ward A, one in ward B without a value. */
    add_key(s, "S1", NULL, 1, "Q5", "SURVEY", JUN1 + 11 * DAY, 8, "A");
    add_key(s, "S2", NULL, 1, "Q6", "SURVEY", JUN1 + 12 * DAY, NAN, "B");
    assert_int_equal(ht_store_index(s), 0);
    *state = f;
    return 0;
}

/* The row of stratum text st, or NULL. */
static const struct ht_row *row_of(const struct ht_result *r, const char *st)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->row[i].stratum, st) == 0)
            return &r->row[i];
    return NULL;
}

/* Population code of row as "case/subject ..." in text order ("-" for none). */
static void assert_pairs(const struct fixture *f, const struct ht_row *row, const char *code,
                         const char *want)
{
    char got[512] = "";

    for (size_t i = 0; i < row->n_pop; i++) {
        if (strcmp(row->pop[i].code, code) != 0)
            continue;
        for (size_t k = 0; k < row->pop[i].n; k++) {
            const char *c = ht_pool_str(&f->s.pool, row->pop[i].p[k].case_id);
            const char *subj = ht_pool_str(&f->s.pool, row->pop[i].p[k].subject);
            size_t len = strlen(got);
            snprintf(got + len, sizeof(got) - len, "%s%s/%s", len ? " " : "", c ? c : "-",
                     subj ? subj : "-");
        }
    }
    assert_string_equal(got, want);
}

static void test_bases(void **state)
{
    struct fixture *f = *state;
    struct ht_result r = {0};
    const struct ht_row *w;

    /* Per visit: V1 (anchored in ward A: its first arrival), V2, V3 (anchored at seq 10,
     * ward B, the first by event_key of two at one instant), V4; P3's arrival has no
     * case. V1 and V4 left. */
    eval(f, "by_case", JUN1, JUN1 + 30 * DAY, &r);
    w = row_of(&r, "{}");
    assert_int_equal(w->n, 4);
    assert_near(w->num, 2, 0);
    assert_near(w->den, 4, 0);
    assert_true(w->has_excl);
    assert_int_equal(w->excluded, 1);
    assert_pairs(f, w, "initial-population", "V1/P1 V2/P1 V3/P2 V4/-");
    assert_pairs(f, w, "numerator", "V1/P1 V4/-");
    w = row_of(&r, "{\"ward\":\"A\"}");
    assert_int_equal(w->n, 2); /* V1, V4; and the arrival without a case */
    assert_int_equal(w->excluded, 1);
    assert_pairs(f, w, "initial-population", "V1/P1 V4/-");
    w = row_of(&r, "{\"ward\":\"B\"}");
    assert_int_equal(w->n, 2); /* V2, V3 */
    assert_int_equal(w->excluded, 0);
    assert_pairs(f, w, "initial-population", "V2/P1 V3/P2");
    ht_result_clear(&r);

    /* Per patient: P1 (first at V1: left), P2 (V3). P3's anchor lacks the case the
     * numerator follows, V4's arrival a subject: both counted apart. */
    eval(f, "by_subject", JUN1, JUN1 + 30 * DAY, &r);
    w = row_of(&r, "{}");
    assert_int_equal(w->n, 2);
    assert_near(w->num, 1, 0);
    assert_int_equal(w->excluded, 2);
    assert_pairs(f, w, "initial-population", "V1/P1 V3/P2");
    ht_result_clear(&r);
    /* Per patient in the second half of June only: P1's first arrival there is V2's. */
    eval(f, "by_subject", JUN1 + 15 * DAY, JUN1 + 30 * DAY, &r);
    assert_pairs(f, row_of(&r, "{}"), "initial-population", "V2/P1");
    assert_near(row_of(&r, "{}")->num, 0, 0);
    ht_result_clear(&r);

    /* Per arrival, with a condition that follows the subject: V4's arrival cannot be
     * followed, P3's can (its subject is there); P1's three arrivals (V1 twice, V2) are
     * each followed by P1's return. */
    eval(f, "by_event", JUN1, JUN1 + 30 * DAY, &r);
    w = row_of(&r, "{}");
    assert_int_equal(w->n, 6);
    assert_near(w->num, 3, 0);
    assert_int_equal(w->excluded, 1);
    ht_result_clear(&r);

    /* Filters decide the population events: V1's first one in ward B is its second
     * arrival; V2; V3 (seq 10). */
    eval(f, "filtered", JUN1, JUN1 + 30 * DAY, &r);
    w = row_of(&r, "{}");
    assert_int_equal(w->n, 3);
    assert_near(w->num, 1, 0);
    assert_int_equal(w->excluded, 0);
    ht_result_clear(&r);
}

static void test_incomplete_and_ties(void **state)
{
    struct fixture *f = *state;
    struct ht_result r = {0};
    const struct ht_row *w;

    /* Duration: the anchor of V3 is seq 10 (ward B); P3's arrival is counted apart. */
    eval(f, "wait", JUN1, JUN1 + 30 * DAY, &r);
    w = row_of(&r, "{}");
    assert_int_equal(w->n, 4);
    assert_near(w->num, 1, 0); /* V1, seen after 30 min */
    assert_int_equal(w->excluded, 1);
    w = row_of(&r, "{\"ward\":\"B\"}");
    assert_int_equal(w->n, 2); /* V2, V3 */
    w = row_of(&r, "{\"ward\":\"A\"}");
    assert_int_equal(w->n, 2); /* V1, V4 */
    assert_int_equal(w->excluded, 1);
    ht_result_clear(&r);

    /* The order of first events: time, then event_key in byte order ("V3/ARRIVAL/10"
     * before "V3/ARRIVAL/2"). */
    const struct ht_event *a = NULL, *b = NULL;
    for (size_t i = 0; i < f->s.n_ev; i++) {
        const struct ht_event *e = &f->s.ev[i];
        if (e->seq == 10)
            a = e;
        else if (e->seq == 2 && e->time == JUN1 + 2 * DAY)
            b = e;
    }
    assert_non_null(a);
    assert_non_null(b);
    assert_true(ht_event_order_cmp(&f->s, a, b) < 0);
    assert_true(ht_event_order_cmp(&f->s, b, a) > 0);
    assert_int_equal(ht_event_order_cmp(&f->s, a, a), 0);
}

static void test_census_and_sums(void **state)
{
    struct fixture *f = *state;
    struct ht_result r = {0};
    const struct ht_row *w;

    /* June 10: C1 is open the whole day; C2 and C3 never are: no rows for X and Y. */
    eval(f, "beds", JUN1 + 9 * DAY, JUN1 + 10 * DAY, &r);
    assert_int_equal(r.n, 2);
    w = row_of(&r, "{}");
    assert_near(w->value, 0.1, 1e-15);
    assert_near(w->num, 1, 0);
    assert_int_equal(w->n, 1);
    assert_int_equal(w->excluded, 0);
    assert_pairs(f, w, "initial-population", "C1/Q1");
    assert_non_null(row_of(&r, "{\"ward\":\"A\"}"));
    assert_null(row_of(&r, "{\"ward\":\"X\"}"));
    assert_null(row_of(&r, "{\"ward\":\"Y\"}"));
    ht_result_clear(&r);
    /* June 12: the admission without a case is counted apart, in its ward's row too. */
    eval(f, "beds", JUN1 + 11 * DAY, JUN1 + 12 * DAY, &r);
    w = row_of(&r, "{}");
    assert_near(w->value, 0, 0);
    assert_int_equal(w->n, 0);
    assert_int_equal(w->excluded, 1);
    w = row_of(&r, "{\"ward\":\"Z\"}");
    assert_non_null(w);
    assert_int_equal(w->n, 0);
    assert_int_equal(w->excluded, 1);
    assert_pairs(f, w, "initial-population", "");
    ht_result_clear(&r);
    /* An empty census is 0. */
    eval(f, "beds", JUN1 + 20 * DAY, JUN1 + 21 * DAY, &r);
    assert_int_equal(r.n, 1);
    assert_true(r.row[0].has_value);
    assert_near(r.row[0].value, 0, 0);
    ht_result_clear(&r);

    /* A sum over no value is 0, in a stratum without values and over an empty month. */
    eval(f, "total", JUN1, JUN1 + 30 * DAY, &r);
    w = row_of(&r, "{\"ward\":\"B\"}");
    assert_true(w->has_value);
    assert_near(w->value, 0, 0);
    assert_int_equal(w->n, 0);
    assert_near(row_of(&r, "{}")->value, 8, 0);
    ht_result_clear(&r);
    eval(f, "total", JUN1 + 30 * DAY, JUN1 + 61 * DAY, &r);
    assert_int_equal(r.n, 1);
    assert_true(r.row[0].has_value);
    assert_near(r.row[0].value, 0, 0);
    ht_result_clear(&r);
}

/* lookback is an absolute duration: Berlin's 2025-03-31 starts 24 hours after
 * 2025-03-29 22:00 UTC, where one calendar day before it would be 23:00 UTC. */
static void test_lookback_absolute(void **state)
{
    struct ht_store s;
    struct ht_model m = {0};
    struct ht_kpi k = {.id = "c", .type = HT_CENSUS, .stat = HT_AVG, .lookback_us = DAY};
    struct ht_result r = {0};
    const int64_t mar31 = INT64_C(1743372000) * SEC; /* 2025-03-31 00:00 CEST */

    (void)state;
    ht_store_init(&s);
    assert_int_equal(ht_pool_intern(&s.pool, "OPEN", 4, &k.from), 0);
    assert_int_equal(ht_pool_intern(&s.pool, "CLOSE", 5, &k.to), 0);
    add(&s, "L1", "P1", "OPEN", mar31 - DAY + 1800 * SEC, NAN, NULL); /* 03-29 22:30 UTC */
    assert_int_equal(ht_store_index(&s), 0);
    m.kpi = &k;
    m.n = 1;
    assert_int_equal(ht_eval(&s, &m, 0, mar31, mar31 + DAY, &r), 0);
    assert_near(r.row[0].value, 1, 0);
    assert_int_equal(r.row[0].n, 1);
    ht_result_clear(&r);
    assert_int_equal(ht_eval(&s, &m, 0, mar31 + DAY, mar31 + 2 * DAY, &r), 0);
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
        cmocka_unit_test_setup_teardown(test_bases, rules_setup, teardown),
        cmocka_unit_test_setup_teardown(test_incomplete_and_ties, rules_setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_and_sums, rules_setup, teardown),
        cmocka_unit_test(test_lookback_absolute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
