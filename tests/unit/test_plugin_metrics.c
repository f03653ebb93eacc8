/* Unit tests of the registry of typed plugin metrics (daemon/ingest/metrics.c, SDK ABI
 * 1.2): registration and its rules, the same handle for the same series, updates without
 * a lock from many threads, walks (by owner, during updates), the log format, drops. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/metrics.h"

/* Two owners: any distinct addresses do. */
static int owner_a, owner_b;

/* What a walk saw, formatted, one line per metric. */
typedef struct seen {
    char lines[8][KPID_METRIC_LINE_MAX];
    kpid_metric_sample samples[8];
    size_t n;
} seen;

static int collect(void *arg, const kpid_metric_sample *s)
{
    seen *w = arg;

    if (w->n < 8) {
        kpid_metric_format(s, w->lines[w->n]);
        w->samples[w->n] = *s;
        w->n++;
    }
    return 0;
}

static void counter_gauge_histogram(void **unused)
{
    kpid_metrics *reg;
    kpid_metric *c, *g, *h;
    const kpid_metric_label labels[] = {{"topic", "adt"}, {"partition", "3"}};
    const double bounds[] = {1, 10, 100};
    seen w = {0};

    (void)unused;
    assert_int_equal(kpid_metrics_new(&reg), 0);
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "kafka1",
                                           &(kpid_metric_def){.type = KPID_METRIC_COUNTER,
                                                              .name = "messages_total",
                                                              .help = "messages read",
                                                              .labels = labels,
                                                              .n_labels = 2},
                                           &c, NULL),
                     0);
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "kafka1",
                         &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = "paused"}, &g, NULL),
                     0);
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "kafka1",
                                           &(kpid_metric_def){.type = KPID_METRIC_HISTOGRAM,
                                                              .name = "batch_rows",
                                                              .buckets = bounds,
                                                              .n_buckets = 3},
                                           &h, NULL),
                     0);
    kpid_metric_counter_add(c, 5);
    kpid_metric_counter_add(c, 7);
    kpid_metric_gauge_set(g, 2.5);
    kpid_metric_gauge_add(g, -1);
    kpid_metric_observe(h, 0.5);
    kpid_metric_observe(h, 1); /* an upper bound is inclusive */
    kpid_metric_observe(h, 50);
    kpid_metric_observe(h, 1000);
    kpid_metric_observe(h, NAN); /* ignored */

    assert_int_equal(kpid_metrics_walk(reg, NULL, collect, &w), 0);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.samples[0].owner_name, "kafka1");
    assert_string_equal(w.samples[0].help, "messages read");
    assert_int_equal(w.samples[0].counter, 12);
    assert_string_equal(w.lines[0], "metric=messages_total type=counter label.topic=\"adt\" "
                                    "label.partition=\"3\" value=12");
    assert_string_equal(w.samples[1].help, "");
    assert_true(w.samples[1].gauge == 1.5);
    assert_string_equal(w.lines[1], "metric=paused type=gauge value=1.5");
    assert_int_equal(w.samples[2].count, 4);
    assert_true(w.samples[2].sum == 1051.5);
    assert_int_equal(w.samples[2].cumulative[0], 2);
    assert_int_equal(w.samples[2].cumulative[3], 4);
    assert_string_equal(w.lines[2], "metric=batch_rows type=histogram count=4 sum=1051.5 "
                                    "le.1=2 le.10=2 le.100=3 le.+Inf=4");
    kpid_metrics_free(reg);
}

/* The same name and label values again (init after a restart): the same handle, values
 * kept. Other label values: another series of the family. Another type, help, label
 * names or buckets under the name: -EEXIST. Another owner has names of its own. */
static void same_series_same_handle(void **unused)
{
    kpid_metrics *reg;
    kpid_metric *m1, *m2, *m3, *other = NULL;
    const char *reason = NULL;
    const kpid_metric_label l1[] = {{"port", "2575"}}, l2[] = {{"port", "2576"}},
                            l3[] = {{"listener", "2575"}};
    kpid_metric_def def = {.type = KPID_METRIC_COUNTER,
                           .name = "acks_total",
                           .help = "acks",
                           .labels = l1,
                           .n_labels = 1};
    seen w = {0};

    (void)unused;
    assert_int_equal(kpid_metrics_new(&reg), 0);
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "mllp", &def, &m1, NULL), 0);
    kpid_metric_counter_add(m1, 3);
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "mllp", &def, &m2, NULL), 0);
    assert_ptr_equal(m1, m2);
    def.labels = l2;
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "mllp", &def, &m3, NULL), 0);
    assert_ptr_not_equal(m1, m3);

    def.labels = l3;
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "mllp", &def, &other, &reason), -EEXIST);
    assert_null(other);
    assert_non_null(reason);
    def.labels = l1;
    def.help = "other help";
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "mllp", &def, &other, NULL), -EEXIST);
    def.help = "acks";
    def.type = KPID_METRIC_GAUGE;
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "mllp", &def, &other, NULL), -EEXIST);
    assert_int_equal(kpid_metrics_register(reg, &owner_b, "mllp2", &def, &other, NULL), 0);

    assert_int_equal(kpid_metrics_walk(reg, &owner_a, collect, &w), 0);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.samples[0].counter, 3);
    assert_string_equal(w.samples[1].labels[0].value, "2576");
    kpid_metrics_free(reg);
}

/* Definitions outside the SDK's rules are refused with a reason, and change nothing. */
static void invalid_definitions(void **unused)
{
    kpid_metrics *reg;
    kpid_metric *m = NULL;
    const double bounds[] = {1, 10}, unordered[] = {10, 1}, infinite[] = {1, INFINITY};
    const kpid_metric_label reserved[] = {{"source", "x"}}, le[] = {{"le", "1"}},
                            dunder[] = {{"__name", "x"}}, twice[] = {{"a", "1"}, {"a", "2"}},
                            quote[] = {{"a", "say \"hi\""}}, control[] = {{"a", "x\ny"}},
                            badname[] = {{"1a", "x"}},
                            five[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}};
    char long_name[KPID_METRIC_NAME_MAX + 2];
    const kpid_metric_def bad[] = {
        {.type = 0, .name = "x"},
        {.type = KPID_METRIC_COUNTER, .name = NULL},
        {.type = KPID_METRIC_COUNTER, .name = ""},
        {.type = KPID_METRIC_COUNTER, .name = "9lives"},
        {.type = KPID_METRIC_COUNTER, .name = "has-dash"},
        {.type = KPID_METRIC_COUNTER, .name = long_name},
        {.type = KPID_METRIC_COUNTER, .name = "kpid_queue_events"},
        {.type = KPID_METRIC_COUNTER, .name = "x", .help = "two\nlines"},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = reserved, .n_labels = 1},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = le, .n_labels = 1},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = dunder, .n_labels = 1},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = twice, .n_labels = 2},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = quote, .n_labels = 1},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = control, .n_labels = 1},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = badname, .n_labels = 1},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = five, .n_labels = 5},
        {.type = KPID_METRIC_COUNTER, .name = "x", .labels = NULL, .n_labels = 1},
        {.type = KPID_METRIC_COUNTER, .name = "x", .buckets = bounds, .n_buckets = 2},
        {.type = KPID_METRIC_HISTOGRAM, .name = "x"},
        {.type = KPID_METRIC_HISTOGRAM, .name = "x", .buckets = unordered, .n_buckets = 2},
        {.type = KPID_METRIC_HISTOGRAM, .name = "x", .buckets = infinite, .n_buckets = 2},
        {.type = KPID_METRIC_HISTOGRAM, .name = "x", .buckets = bounds, .n_buckets = 17},
        {.type = KPID_METRIC_GAUGE, .name = "x", .reserved = {(void *)&owner_b}},
    };

    (void)unused;
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(kpid_metrics_new(&reg), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *reason = NULL;
        assert_int_equal(kpid_metrics_register(reg, &owner_a, "s", &bad[i], &m, &reason), -EINVAL);
        assert_non_null(reason);
        assert_null(m);
    }
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "s", NULL, &m, NULL), -EINVAL);
    /* The limits themselves pass: 64-byte names, 4 labels, 16 buckets, UTF-8 values. */
    long_name[KPID_METRIC_NAME_MAX] = '\0';
    const double sixteen[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const kpid_metric_label four[] = {{"a", "Kardiologie S\xc3\xbc"
                                            "d"},
                                      {"b", ""},
                                      {"c", "3"},
                                      {"d", "4"}};
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "s",
                                           &(kpid_metric_def){.type = KPID_METRIC_HISTOGRAM,
                                                              .name = long_name,
                                                              .labels = four,
                                                              .n_labels = 4,
                                                              .buckets = sixteen,
                                                              .n_buckets = 16},
                                           &m, NULL),
                     0);
    seen w = {0};
    assert_int_equal(kpid_metrics_walk(reg, NULL, collect, &w), 0);
    assert_int_equal(w.n, 1); /* only the valid one */
    assert_string_equal(w.samples[0].labels[0].value, "Kardiologie S\xc3\xbc"
                                                      "d");
    kpid_metrics_free(reg);
}

/* KPID_METRIC_MAX per owner; another owner is not held back by it. */
static void limit_per_owner(void **unused)
{
    kpid_metrics *reg;
    kpid_metric *m;
    char name[32];
    const char *reason = NULL;

    (void)unused;
    assert_int_equal(kpid_metrics_new(&reg), 0);
    for (int i = 0; i < KPID_METRIC_MAX; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(kpid_metrics_register(
                             reg, &owner_a, "a",
                             &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = name}, &m, NULL),
                         0);
    }
    assert_int_equal(
        kpid_metrics_register(reg, &owner_a, "a",
                              &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = "one_more"}, &m,
                              &reason),
        -ENOSPC);
    assert_non_null(reason);
    /* An existing one is still found. */
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "a",
                         &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = "m7"}, &m, NULL),
                     0);
    assert_int_equal(
        kpid_metrics_register(reg, &owner_b, "b",
                              &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = "one_more"}, &m,
                              NULL),
        0);
    kpid_metrics_free(reg);
}

/* A drop removes the owner's metrics only; a walk stops at a negative return. */
static int count_or_stop(void *arg, const kpid_metric_sample *s)
{
    int *n = arg;

    (void)s;
    return ++*n == 2 ? -ECANCELED : 0;
}

static void drop_and_walk(void **unused)
{
    kpid_metrics *reg;
    kpid_metric *a1, *a2, *b1;
    seen w = {0};
    int n = 0;

    (void)unused;
    assert_int_equal(kpid_metrics_new(&reg), 0);
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "a",
                         &(kpid_metric_def){.type = KPID_METRIC_COUNTER, .name = "x"}, &a1, NULL),
                     0);
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_b, "b",
                         &(kpid_metric_def){.type = KPID_METRIC_COUNTER, .name = "x"}, &b1, NULL),
                     0);
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "a",
                         &(kpid_metric_def){.type = KPID_METRIC_COUNTER, .name = "y"}, &a2, NULL),
                     0);
    assert_int_equal(kpid_metrics_walk(reg, NULL, count_or_stop, &n), -ECANCELED);
    assert_int_equal(n, 2);
    kpid_metric_counter_add(b1, 9);
    kpid_metrics_drop(reg, &owner_a);
    assert_int_equal(kpid_metrics_walk(reg, NULL, collect, &w), 0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.samples[0].owner_name, "b");
    assert_int_equal(w.samples[0].counter, 9);
    kpid_metrics_drop(reg, &owner_b);
    w.n = 0;
    assert_int_equal(kpid_metrics_walk(reg, NULL, collect, &w), 0);
    assert_int_equal(w.n, 0);
    kpid_metrics_free(reg);
}

/* NULL handles and updates of another type do nothing (a plugin runs on without a
 * metric it could not register). */
static void null_and_wrong_type(void **unused)
{
    kpid_metrics *reg;
    kpid_metric *c, *g;
    seen w = {0};

    (void)unused;
    kpid_metric_counter_add(NULL, 1);
    kpid_metric_gauge_set(NULL, 1);
    kpid_metric_gauge_add(NULL, 1);
    kpid_metric_observe(NULL, 1);
    assert_int_equal(kpid_metrics_new(&reg), 0);
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "a",
                         &(kpid_metric_def){.type = KPID_METRIC_COUNTER, .name = "c"}, &c, NULL),
                     0);
    assert_int_equal(
        kpid_metrics_register(reg, &owner_a, "a",
                              &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = "g"}, &g, NULL),
        0);
    kpid_metric_gauge_set(c, 5);
    kpid_metric_observe(c, 5);
    kpid_metric_counter_add(g, 5);
    kpid_metric_observe(g, 5);
    assert_int_equal(kpid_metrics_walk(reg, NULL, collect, &w), 0);
    assert_int_equal(w.samples[0].counter, 0);
    assert_true(w.samples[1].gauge == 0);
    kpid_metrics_free(reg);
}

/* Updates from several threads at once lose nothing; walks meanwhile always see
 * buckets that add up to the count. */
enum { UPDATERS = 4, UPDATES = 100000 };

typedef struct shared {
    kpid_metric *c, *g, *h;
} shared;

static void *update(void *arg)
{
    shared *s = arg;

    for (int i = 0; i < UPDATES; i++) {
        kpid_metric_counter_add(s->c, 1);
        kpid_metric_gauge_add(s->g, 0.5);
        kpid_metric_observe(s->h, (double)(i % 4));
    }
    return NULL;
}

static int check_consistent(void *arg, const kpid_metric_sample *s)
{
    (void)arg;
    if (s->type == KPID_METRIC_HISTOGRAM && s->cumulative[s->n_buckets] != s->count)
        return -EPROTO;
    return 0;
}

static void concurrent_updates(void **unused)
{
    kpid_metrics *reg;
    shared sh;
    pthread_t t[UPDATERS];
    const double bounds[] = {0, 1, 2};
    seen w = {0};

    (void)unused;
    assert_int_equal(kpid_metrics_new(&reg), 0);
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "a",
                         &(kpid_metric_def){.type = KPID_METRIC_COUNTER, .name = "c"}, &sh.c, NULL),
                     0);
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "a",
                         &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = "g"}, &sh.g, NULL),
                     0);
    assert_int_equal(kpid_metrics_register(reg, &owner_a, "a",
                                           &(kpid_metric_def){.type = KPID_METRIC_HISTOGRAM,
                                                              .name = "h",
                                                              .buckets = bounds,
                                                              .n_buckets = 3},
                                           &sh.h, NULL),
                     0);
    for (int i = 0; i < UPDATERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, update, &sh), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(kpid_metrics_walk(reg, NULL, check_consistent, NULL), 0);
    for (int i = 0; i < UPDATERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(kpid_metrics_walk(reg, NULL, collect, &w), 0);
    assert_int_equal(w.samples[0].counter, (uint64_t)UPDATERS * UPDATES);
    assert_true(w.samples[1].gauge == 0.5 * UPDATERS * UPDATES);
    /* i % 4 is 0, 1, 2, 3: one quarter in each of le 0, le 1, le 2 and +Inf. */
    assert_int_equal(w.samples[2].count, (uint64_t)UPDATERS * UPDATES);
    assert_int_equal(w.samples[2].cumulative[0], (uint64_t)UPDATERS * UPDATES / 4);
    assert_int_equal(w.samples[2].cumulative[2], (uint64_t)UPDATERS * UPDATES / 4 * 3);
    assert_true(w.samples[2].sum == 1.5 * UPDATERS * UPDATES);
    kpid_metrics_free(reg);
}

/* Numbers in the log format read back exactly, in their shortest form. */
static void format_numbers(void **unused)
{
    kpid_metrics *reg;
    kpid_metric *g;
    seen w = {0};

    (void)unused;
    assert_int_equal(kpid_metrics_new(&reg), 0);
    assert_int_equal(
        kpid_metrics_register(reg, &owner_a, "a",
                              &(kpid_metric_def){.type = KPID_METRIC_GAUGE, .name = "g"}, &g, NULL),
        0);
    kpid_metric_gauge_set(g, 0.1);
    kpid_metrics_walk(reg, NULL, collect, &w);
    assert_string_equal(w.lines[0], "metric=g type=gauge value=0.1");
    kpid_metric_gauge_add(g, 0.2); /* 0.30000000000000004 */
    w.n = 0;
    kpid_metrics_walk(reg, NULL, collect, &w);
    assert_string_equal(w.lines[0], "metric=g type=gauge value=0.30000000000000004");
    kpid_metric_gauge_set(g, -1e300);
    w.n = 0;
    kpid_metrics_walk(reg, NULL, collect, &w);
    assert_string_equal(w.lines[0], "metric=g type=gauge value=-1e+300");
    kpid_metrics_free(reg);
}

/* The process-wide registry is there without creation, and kpid_metrics_free passes it
 * over. */
static void default_registry(void **unused)
{
    kpid_metrics *reg = kpid_metrics_default();
    kpid_metric *m;

    (void)unused;
    assert_non_null(reg);
    assert_ptr_equal(reg, kpid_metrics_default());
    assert_int_equal(kpid_metrics_register(
                         reg, &owner_a, "a",
                         &(kpid_metric_def){.type = KPID_METRIC_COUNTER, .name = "c"}, &m, NULL),
                     0);
    assert_null(kpid_metrics_free(reg));
    kpid_metric_counter_add(m, 1); /* still there */
    kpid_metrics_drop(reg, &owner_a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_gauge_histogram), cmocka_unit_test(same_series_same_handle),
        cmocka_unit_test(invalid_definitions),     cmocka_unit_test(limit_per_owner),
        cmocka_unit_test(drop_and_walk),           cmocka_unit_test(null_and_wrong_type),
        cmocka_unit_test(concurrent_updates),      cmocka_unit_test(format_numbers),
        cmocka_unit_test(default_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
