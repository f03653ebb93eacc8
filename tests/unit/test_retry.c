/* Unit tests of lib/retry: the backoff's bounds, doubling, cap, changing bounds, jitter
 * range and reset; the state tracker's changes of state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "retry/backoff.h"

/* Without jitter: min first, doubling, capped at max. */
static void doubles_up_to_the_cap(void **unused)
{
    kpid_backoff b = {.min = 100, .max = 1000};
    static const int64_t want[] = {100, 200, 400, 800, 1000, 1000};

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(kpid_backoff_next(&b), want[i]);
        assert_int_equal(b.current, want[i]);
    }
}

/* A reset starts from min again. */
static void reset_starts_again(void **unused)
{
    kpid_backoff b = {.min = 200, .max = 5000};

    kpid_backoff_next(&b);
    kpid_backoff_next(&b);
    assert_int_equal(kpid_backoff_next(&b), 800);
    kpid_backoff_reset(&b);
    assert_int_equal(b.current, 0);
    assert_int_equal(kpid_backoff_next(&b), 200);
    assert_int_equal(kpid_backoff_next(&b), 400);
}

/* Bounds changed between calls: the next delay moves into them, up or down. */
static void bounds_may_change(void **unused)
{
    kpid_backoff b = {.min = 100, .max = 5000};

    assert_int_equal(kpid_backoff_next(&b), 100);
    b.min = 5000;
    b.max = 60000;
    assert_int_equal(kpid_backoff_next(&b), 5000);
    assert_int_equal(kpid_backoff_next(&b), 10000);
    assert_int_equal(kpid_backoff_next(&b), 20000);
    assert_int_equal(kpid_backoff_next(&b), 40000);
    assert_int_equal(kpid_backoff_next(&b), 60000);
    b.min = 100;
    b.max = 5000;
    assert_int_equal(kpid_backoff_next(&b), 5000);
}

/* Doubling near INT64_MAX stays at the cap. */
static void no_overflow(void **unused)
{
    kpid_backoff b = {.min = INT64_MAX / 2 + 1, .max = INT64_MAX};

    assert_int_equal(kpid_backoff_next(&b), INT64_MAX / 2 + 1);
    assert_int_equal(kpid_backoff_next(&b), INT64_MAX);
    assert_int_equal(kpid_backoff_next(&b), INT64_MAX);
}

/* The jitter stays within its spread, reaches both ends, and leaves small delays alone. */
static void jitter_range(void **unused)
{
    unsigned seed = 1;
    bool low = false, high = false;

    for (int i = 0; i < 20000; i++) {
        int64_t d = kpid_jitter(1000, 10, 10, &seed);
        assert_in_range(d, 900, 1100);
        low = low || d == 900;
        high = high || d == 1100;
    }
    assert_true(low && high);
    for (int i = 0; i < 2000; i++)
        assert_in_range(kpid_jitter(200000, 0, 25, &seed), 200000, 250000);
    assert_int_equal(kpid_jitter(9, 10, 10, &seed), 9); /* spread rounds to 0 */
    assert_int_equal(kpid_jitter(0, 50, 50, &seed), 0);
    assert_int_equal(kpid_jitter(1234, 0, 0, &seed), 1234);
}

/* The backoff's delays carry its jitter; current is the delay before it. */
static void backoff_with_jitter(void **unused)
{
    kpid_backoff b = {.min = 200000, .max = 5000000, .jitter_above = 25, .seed = 7};

    for (int i = 0; i < 40; i++) {
        int64_t d = kpid_backoff_next(&b);
        assert_in_range(d, b.current, b.current + b.current / 4);
    }
    assert_int_equal(b.current, 5000000);
}

enum { UNAVAILABLE = 1, REFUSED = 2 };

/* Logged: the first failure, a change of kind, the recovery; not the repeats. */
static void state_changes(void **unused)
{
    kpid_retry_state s = {0};

    assert_false(kpid_retry_failing(&s));
    assert_false(kpid_retry_succeeded(&s));
    assert_true(kpid_retry_failed(&s, UNAVAILABLE, 100));
    assert_true(kpid_retry_failing(&s));
    assert_false(kpid_retry_failed(&s, UNAVAILABLE, 200));
    assert_false(kpid_retry_failed(&s, UNAVAILABLE, 300));
    assert_true(kpid_retry_failed(&s, REFUSED, 400));
    assert_false(kpid_retry_failed(&s, REFUSED, 500));
    assert_true(kpid_retry_failed(&s, UNAVAILABLE, 600));
    /* The spell: since its first failure, every failure counted. */
    assert_int_equal(s.since, 100);
    assert_int_equal(s.failures, 6);
    assert_true(kpid_retry_succeeded(&s));
    assert_false(kpid_retry_failing(&s));
    assert_int_equal(s.since, 100); /* still readable for the recovery's log line */
    assert_int_equal(s.failures, 6);
    assert_false(kpid_retry_succeeded(&s));
    /* A new spell starts afresh. */
    assert_true(kpid_retry_failed(&s, REFUSED, 1000));
    assert_int_equal(s.since, 1000);
    assert_int_equal(s.failures, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doubles_up_to_the_cap), cmocka_unit_test(reset_starts_again),
        cmocka_unit_test(bounds_may_change),     cmocka_unit_test(no_overflow),
        cmocka_unit_test(jitter_range),          cmocka_unit_test(backoff_with_jitter),
        cmocka_unit_test(state_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
