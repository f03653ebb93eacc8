/* lib/pull: the dedup set of rows read again within an overlap window: content hashes,
 * updates, expiry by watermark, the bound, and a model check over random operations. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pull/dedup.h"

static kpid_pull_row event(const char *key, const char *activity, int64_t time_us)
{
    kpid_pull_row row = {0};

    row.ev.event_key = key;
    row.ev.activity = activity;
    row.ev.time_us = time_us;
    return row;
}

static uint64_t hash(kpid_pull_dedup *d, const kpid_pull_row *row)
{
    uint64_t h = 0;

    assert_int_equal(kpid_pull_dedup_hash(d, row, &h), 0);
    return h;
}

static void test_hash(void **state)
{
    kpid_pull_dedup *d;
    kpid_pull_row a = event("k1", "ADMISSION", 1000), b;

    (void)state;
    assert_int_equal(kpid_pull_dedup_new(10, &d), 0);
    uint64_t h = hash(d, &a);
    b = a;
    assert_true(hash(d, &b) == h); /* the same content */
    b.ev.time_us = 1001;
    assert_true(hash(d, &b) != h);
    b = a;
    b.ev.case_id = "";
    assert_true(hash(d, &b) != h); /* "" is not NULL */
    b = a;
    b.ev.has_value = true;
    assert_true(hash(d, &b) != h);
    uint64_t hv = hash(d, &b);
    b.ev.value = 1.0;
    assert_true(hash(d, &b) != hv);
    b = a;
    b.ev.value = 5.0; /* without has_value the value does not count */
    assert_true(hash(d, &b) == h);
    b = a;
    b.ev.attrs_json = "{\"w\":\"1\"}";
    assert_true(hash(d, &b) != h);
    b = a;
    b.ev.activity = "ADMISSIO";
    b.ev.subject_id = "N";
    assert_true(hash(d, &b) != h); /* fields are framed: no shifting between them */
    b = a;
    b.retract = true;
    assert_true(hash(d, &b) != h);
    kpid_pull_dedup_free(d);
}

static void test_seen_and_expire(void **state)
{
    kpid_pull_dedup *d;

    (void)state;
    assert_int_equal(kpid_pull_dedup_new(0, &d), -EINVAL);
    assert_int_equal(kpid_pull_dedup_new(100, &d), 0);
    assert_false(kpid_pull_dedup_seen(d, "a", 1));
    assert_int_equal(kpid_pull_dedup_put(d, "a", 1, 10), 0);
    assert_int_equal(kpid_pull_dedup_put(d, "b", 2, 20), 0);
    assert_int_equal(kpid_pull_dedup_put(d, "c", 3, 30), 0);
    assert_true(kpid_pull_dedup_seen(d, "a", 1));
    assert_false(kpid_pull_dedup_seen(d, "a", 2)); /* changed content */
    assert_false(kpid_pull_dedup_seen(d, "", 1));
    /* An update moves a key's watermark. */
    assert_int_equal(kpid_pull_dedup_put(d, "a", 5, 40), 0);
    assert_int_equal(kpid_pull_dedup_size(d), 3);
    assert_true(kpid_pull_dedup_seen(d, "a", 5));
    assert_int_equal(kpid_pull_dedup_expire(d, 25), 1); /* b */
    assert_false(kpid_pull_dedup_seen(d, "b", 2));
    assert_true(kpid_pull_dedup_seen(d, "c", 3));
    assert_int_equal(kpid_pull_dedup_expire(d, 25), 0);
    /* An update to an older watermark (a late row) is expired by it. */
    assert_int_equal(kpid_pull_dedup_put(d, "a", 6, 26), 0);
    assert_int_equal(kpid_pull_dedup_expire(d, 27), 1);
    assert_false(kpid_pull_dedup_seen(d, "a", 6));
    assert_true(kpid_pull_dedup_seen(d, "c", 3));
    kpid_pull_dedup_reset(d);
    assert_int_equal(kpid_pull_dedup_size(d), 0);
    assert_false(kpid_pull_dedup_seen(d, "c", 3));
    assert_int_equal(kpid_pull_dedup_put(d, "c", 3, 30), 0);
    assert_true(kpid_pull_dedup_seen(d, "c", 3));
    assert_null(kpid_pull_dedup_free(d));
    assert_null(kpid_pull_dedup_free(NULL));
}

static void test_bound(void **state)
{
    kpid_pull_dedup *d;
    char key[32];

    (void)state;
    assert_int_equal(kpid_pull_dedup_new(1000, &d), 0);
    /* Watermarks out of order: the oldest goes first when the set is full. */
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(kpid_pull_dedup_put(d, key, (uint64_t)i, (i * 7919) % 1000), 0);
    }
    assert_int_equal(kpid_pull_dedup_size(d), 1000);
    assert_int_equal(kpid_pull_dedup_put(d, "new", 1, 500), 1);
    assert_int_equal(kpid_pull_dedup_size(d), 1000);
    assert_false(kpid_pull_dedup_seen(d, "k0", 0)); /* watermark 0 */
    assert_true(kpid_pull_dedup_seen(d, "new", 1));
    assert_int_equal(kpid_pull_dedup_put(d, "older", 1, -5), 1); /* the oldest: itself */
    assert_false(kpid_pull_dedup_seen(d, "older", 1));
    assert_int_equal(kpid_pull_dedup_expire(d, 1000), 1000);
    assert_int_equal(kpid_pull_dedup_size(d), 0);
    kpid_pull_dedup_free(d);
}

/* Random puts, updates and expiries against a plain array: the set holds what the model
 * says, through growth of the index, tombstones and shrinking. */
#define MODEL_KEYS 5000

typedef struct model_entry {
    bool in;
    uint64_t hash;
    int64_t wm;
} model_entry;

static void test_model(void **state)
{
    static model_entry model[MODEL_KEYS];
    kpid_pull_dedup *d;
    unsigned seed = 12345;
    char key[32];
    size_t n = 0;

    (void)state;
    memset(model, 0, sizeof(model));
    assert_int_equal(kpid_pull_dedup_new(1u << 20, &d), 0);
    for (int step = 0; step < 200000; step++) {
        int k = rand_r(&seed) % MODEL_KEYS;
        snprintf(key, sizeof(key), "key-%d", k);
        int op = rand_r(&seed) % 100;
        if (op < 70) {
            uint64_t h = (uint64_t)(rand_r(&seed) % 4);
            int64_t wm = step / 10 + rand_r(&seed) % 50;
            assert_int_equal(kpid_pull_dedup_put(d, key, h, wm), 0);
            n += !model[k].in;
            model[k] = (model_entry){.in = true, .hash = h, .wm = wm};
        } else if (op < 72) {
            int64_t before = step / 10 - 100;
            size_t want = 0;
            for (int i = 0; i < MODEL_KEYS; i++)
                if (model[i].in && model[i].wm < before) {
                    model[i].in = false;
                    want++;
                }
            assert_int_equal(kpid_pull_dedup_expire(d, before), want);
            n -= want;
        } else {
            uint64_t h = (uint64_t)(rand_r(&seed) % 4);
            assert_int_equal(kpid_pull_dedup_seen(d, key, h), model[k].in && model[k].hash == h);
        }
        assert_int_equal(kpid_pull_dedup_size(d), n);
    }
    kpid_pull_dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_seen_and_expire),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
