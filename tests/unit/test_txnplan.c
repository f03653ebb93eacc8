/* Unit tests of the transaction plan (compaction of a set to the last operation per
 * key, direct versus staged rows) and of the Bloom filter behind it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/batch.h"
#include "ingest/bloom.h"
#include "ingest/txnplan.h"

static const kpid_batch_ctx ctx_a = {.source = "a"};
static const kpid_batch_ctx ctx_b = {.source = "b"};

static void emit(struct kpid_batch *b, const char *key, const char *activity)
{
    kpid_event ev = {.event_key = key, .activity = activity, .time_us = 0};
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), 0);
}

static char *text(const kpid_buf *b)
{
    char *s = calloc(1, b->len + 1);
    memcpy(s, b->data ? b->data : "", b->len);
    return s;
}

/*
 * The direct rows are spans of the batches' own bytes: a set without duplicates is one
 * span per batch, pointing at its rows; a row left out (an earlier version of a key)
 * splits its batch's span.
 */
static void direct_spans(void **unused)
{
    struct kpid_batch *b1, *b2;
    kpid_plan p = {0};
    kpid_spans spans = {0};
    kpid_buf staged = {0};
    size_t n_staged;

    (void)unused;
    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 1, &b1), 0);
    assert_int_equal(kpid_batch_new(&ctx_b, NULL, 1, &b2), 0);
    emit(b1, "k1", "V1");
    emit(b1, "k2", "V1");
    emit(b1, "k3", "V1");
    emit(b2, "k1", "V1");
    struct kpid_batch *set[] = {b1, b2};
    assert_int_equal(kpid_plan_build(&p, set, 2), 0);
    assert_int_equal(kpid_plan_write_spans(&p, &spans, &staged, &n_staged), 0);
    assert_int_equal(n_staged, 0);
    assert_int_equal(spans.n, 2);
    assert_ptr_equal(spans.v[0].data, b1->rows.data);
    assert_int_equal(spans.v[0].len, b1->rows.len);
    assert_ptr_equal(spans.v[1].data, b2->rows.data);
    assert_int_equal(spans.v[1].len, b2->rows.len);

    /* k2 stated again later: its first row is left out, and the span splits. */
    emit(b2, "k9", "V1");
    kpid_plan_free(&p);
    struct kpid_batch *b3;
    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 2, &b3), 0);
    emit(b3, "k2", "V2");
    struct kpid_batch *set2[] = {b1, b3};
    assert_int_equal(kpid_plan_build(&p, set2, 2), 0);
    kpid_spans_clear(&spans);
    assert_int_equal(kpid_plan_write_spans(&p, &spans, &staged, &n_staged), 0);
    /* First-seen order: k1, k2 (its last version, in b3), k3. */
    assert_int_equal(spans.n, 3);
    assert_ptr_equal(spans.v[0].data, b1->rows.data);
    assert_memory_equal(spans.v[1].data, "a\tk2\t", 5);
    assert_ptr_equal(spans.v[1].data, b3->rows.data);
    assert_memory_equal(spans.v[2].data, "a\tk3\t", 5);
    kpid_spans_free(&spans);
    kpid_buf_free(&staged);
    kpid_plan_free(&p);
    kpid_batch_free(b1);
    kpid_batch_free(b2);
    kpid_batch_free(b3);
}

/* Last operation per (source, key) wins; first-seen order is kept. */
static void compaction(void **unused)
{
    struct kpid_batch *b1, *b2, *b3;
    kpid_plan p = {0};
    kpid_buf direct = {0}, staged = {0};
    size_t n_staged;

    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 1, &b1), 0);
    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 2, &b2), 0);
    assert_int_equal(kpid_batch_new(&ctx_b, NULL, 1, &b3), 0);
    emit(b1, "k1", "V1");
    emit(b1, "k2", "V1");
    assert_int_equal(kpid_batch_retract(b1, "k1"), 0);
    emit(b1, "k3", "V1");
    emit(b2, "k1", "V2");                              /* retracted, then stated again: present */
    emit(b2, "k3", "V2");                              /* corrected */
    assert_int_equal(kpid_batch_retract(b2, "k2"), 0); /* gone */
    emit(b3, "k1", "V3");                              /* another source, another key */
    struct kpid_batch *set[] = {b1, b2, b3};

    assert_int_equal(kpid_plan_build(&p, set, 3), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(kpid_plan_write(&p, &direct, &staged, &n_staged), 0);
    char *d = text(&direct), *s = text(&staged);
    assert_string_equal(d, "a\tk1\t\\N\t\\N\tV2\t1970-01-01 00:00:00.000000+00\t\\N\t{}\t\\N\n"
                           "a\tk3\t\\N\t\\N\tV2\t1970-01-01 00:00:00.000000+00\t\\N\t{}\t\\N\n"
                           "b\tk1\t\\N\t\\N\tV3\t1970-01-01 00:00:00.000000+00\t\\N\t{}\t\\N\n");
    assert_string_equal(s, "D\t0\ta\tk2\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n");
    assert_int_equal(n_staged, 1);
    free(d);
    free(s);

    /* Keys the warehouse holds go to the upsert instead. */
    assert_int_equal(kpid_plan_mark_stored(&p, "a", "k3"), 0);
    assert_int_equal(kpid_plan_mark_stored(&p, "a", "nope"), -ENOENT);
    direct.len = staged.len = 0;
    assert_int_equal(kpid_plan_write(&p, &direct, &staged, &n_staged), 0);
    assert_int_equal(n_staged, 2);
    s = text(&staged);
    assert_non_null(strstr(s, "U\t0\ta\tk3\t\\N\t\\N\tV2\t"));
    free(s);

    /* The probe's keys: every event's id, escaped as COPY text. */
    kpid_buf keys = {0};
    assert_int_equal(kpid_plan_keys(&p, &keys), 0);
    s = text(&keys);
    assert_string_equal(s, "a\tk1\na\tk3\nb\tk1\n");
    free(s);
    kpid_buf_free(&keys);

    kpid_buf_free(&direct);
    kpid_buf_free(&staged);
    kpid_plan_free(&p);
    kpid_batch_free(b1);
    kpid_batch_free(b2);
    kpid_batch_free(b3);
}

/* Keys with backslashes (escaped in COPY text) are matched in their escaped form; tabs
 * and newlines are refused in keys. */
static void escaped_keys(void **unused)
{
    struct kpid_batch *b;
    kpid_plan p = {0};

    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 1, &b), 0);
    emit(b, "x\\y\\\\z", "V");
    emit(b, "x\\y\\\\z", "W");
    struct kpid_batch *set[] = {b};
    assert_int_equal(kpid_plan_build(&p, set, 1), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(kpid_plan_mark_stored(&p, "a", "x\\y\\\\z"), 0);
    assert_true(p.entries[0].stored);
    kpid_plan_free(&p);
    kpid_batch_free(b);
}

static void origin_replacement_not_planned(void **unused)
{
    struct kpid_batch *b;
    kpid_plan p = {0};

    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 1, &b), 0);
    emit(b, "k", "V");
    assert_int_equal(kpid_batch_replace_origin(b, "Encounter/1"), 0);
    struct kpid_batch *set[] = {b};
    assert_int_equal(kpid_plan_build(&p, set, 1), 1);
    kpid_plan_free(&p);
    kpid_batch_free(b);
}

/* Committed keys are remembered, so their corrections are staged. */
static void remembered_keys(void **unused)
{
    struct kpid_batch *b1, *b2;
    kpid_plan p = {0};
    kpid_bloom f;

    assert_int_equal(kpid_bloom_init(&f, 1 << 16), 0);
    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 1, &b1), 0);
    emit(b1, "old", "V");
    struct kpid_batch *s1[] = {b1};
    assert_int_equal(kpid_plan_build(&p, s1, 1), 0);
    kpid_plan_remember(&p, &f);

    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 2, &b2), 0);
    emit(b2, "old", "W");
    emit(b2, "new", "W");
    struct kpid_batch *s2[] = {b2};
    assert_int_equal(kpid_plan_build(&p, s2, 1), 0);
    assert_int_equal(kpid_plan_mark_remembered(&p, &f), 1);
    assert_true(p.entries[0].stored);
    assert_false(p.entries[1].stored);
    kpid_bloom_free(&f);
    kpid_plan_free(&p);
    kpid_batch_free(b1);
    kpid_batch_free(b2);
}

/* A plan's keys that another plan has too, as an event or a retraction, are marked
 * stored (staged); the same event_key of another source is another key. */
static void shared_keys(void **unused)
{
    struct kpid_batch *b1, *b2, *b3;
    kpid_plan p1 = {0}, p2 = {0}, none = {0};

    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 1, &b1), 0);
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        emit(b1, key, "V");
    }
    assert_int_equal(kpid_batch_retract(b1, "r1"), 0);
    struct kpid_batch *s1[] = {b1};
    assert_int_equal(kpid_plan_build(&p1, s1, 1), 0);

    assert_int_equal(kpid_batch_new(&ctx_b, NULL, 2, &b2), 0);
    emit(b2, "k7", "V"); /* source b: another key */
    emit(b2, "k100", "V");
    struct kpid_batch *s2[] = {b2};
    assert_int_equal(kpid_plan_build(&p2, s2, 1), 0);
    assert_int_equal(kpid_plan_mark_shared(&p2, &p1), 0);
    assert_false(p2.entries[0].stored);
    assert_false(p2.entries[1].stored);

    assert_int_equal(kpid_batch_new(&ctx_a, NULL, 3, &b3), 0);
    emit(b3, "k100", "V");
    emit(b3, "k42", "W");                               /* a correction of b1's k42 */
    emit(b3, "r1", "W");                                /* stated again after b1 retracted it */
    assert_int_equal(kpid_batch_retract(b3, "k99"), 0); /* retracts b1's k99 */
    struct kpid_batch *s3[] = {b3};
    assert_int_equal(kpid_plan_build(&p2, s3, 1), 0);
    assert_int_equal(p2.n, 4);
    assert_int_equal(kpid_plan_mark_shared(&p2, &p1), 2);
    assert_false(p2.entries[0].stored); /* k100 */
    assert_true(p2.entries[1].stored);  /* k42 */
    assert_true(p2.entries[2].stored);  /* r1 */
    assert_true(p2.entries[3].retract); /* k99: staged as a retraction anyway */

    kpid_buf direct = {0}, staged = {0};
    size_t n_staged;
    assert_int_equal(kpid_plan_write(&p2, &direct, &staged, &n_staged), 0);
    assert_int_equal(n_staged, 3);
    char *d = text(&direct);
    assert_non_null(strstr(d, "k100"));
    assert_null(strstr(d, "k42"));
    free(d);
    kpid_buf_free(&direct);
    kpid_buf_free(&staged);

    assert_int_equal(kpid_plan_build(&p2, s3, 1), 0);
    assert_int_equal(kpid_plan_mark_shared(&p2, &none), 0);
    kpid_plan_free(&p1);
    kpid_plan_free(&p2);
    kpid_batch_free(b1);
    kpid_batch_free(b2);
    kpid_batch_free(b3);
}

/* No false negatives; false positives near the design rate; clears when full. */
static void bloom_rates(void **unused)
{
    kpid_bloom f;
    char key[32];
    size_t fp = 0;

    assert_int_equal(kpid_bloom_init(&f, 1 << 17), 0); /* 2 x 512 Kbit: 43690 keys each */
    for (int i = 0; i < 40000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        kpid_bloom_add(&f, kpid_hash(key, (size_t)n));
    }
    for (int i = 0; i < 40000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        assert_true(kpid_bloom_maybe(&f, kpid_hash(key, (size_t)n)));
    }
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof(key), "other-%d", i);
        fp += kpid_bloom_maybe(&f, kpid_hash(key, (size_t)n));
    }
    assert_true(fp < 4000); /* < 4 % */
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof(key), "more-%d", i);
        kpid_bloom_add(&f, kpid_hash(key, (size_t)n));
    }
    assert_true(f.count < f.capacity); /* a new generation started */
    /* The previous generation is still consulted: nothing added is forgotten yet. */
    for (int i = 0; i < 40000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        assert_true(kpid_bloom_maybe(&f, kpid_hash(key, (size_t)n)));
    }
    kpid_bloom_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(direct_spans),    cmocka_unit_test(compaction),
        cmocka_unit_test(escaped_keys),    cmocka_unit_test(origin_replacement_not_planned),
        cmocka_unit_test(remembered_keys), cmocka_unit_test(shared_keys),
        cmocka_unit_test(bloom_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
