/* lib/buf: the growable byte buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf/buf.h"

static void test_append(void **state)
{
    kpid_buf b = {0};
    char big[10000];

    assert_int_equal(kpid_buf_append(&b, "", 0), 0); /* nothing to copy, no allocation */
    assert_int_equal(b.len, 0);
    assert_int_equal(kpid_buf_putc(&b, 'a'), 0);
    assert_int_equal(kpid_buf_append(&b, "bc", 2), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    assert_int_equal(b.cap, 4096);
    memset(big, 'x', sizeof(big));
    assert_int_equal(kpid_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(b.len, 3 + sizeof(big));
    assert_int_equal(b.cap, 16384);
    assert_memory_equal(b.data, "abcxxx", 6);
    assert_int_equal(b.data[b.len - 1], 'x');
    kpid_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len + b.cap, 0);
    kpid_buf_free(&b); /* an empty buffer again */
}

static void test_reserve(void **state)
{
    kpid_buf b = {0};

    assert_int_equal(kpid_buf_reserve(&b, 5000), 0);
    assert_int_equal(b.cap, 8192);
    assert_int_equal(b.len, 0);
    assert_int_equal(kpid_buf_reserve(&b, 8192), 0);
    assert_int_equal(b.cap, 8192);
    assert_int_equal(kpid_buf_reserve(&b, SIZE_MAX - 1), -ENOMEM);
    assert_int_equal(b.cap, 8192);
    kpid_buf_free(&b);
}

/* A capped buffer doubles up to its cap, and no further. */
static void test_reserve_max(void **state)
{
    kpid_buf b = {0};

    assert_int_equal(kpid_buf_reserve_max(&b, 100, 10000), 0);
    assert_int_equal(b.cap, 4096);
    b.len = b.cap;
    assert_int_equal(kpid_buf_reserve_max(&b, 1, 10000), 0);
    assert_int_equal(b.cap, 8192);
    b.len = b.cap;
    assert_int_equal(kpid_buf_reserve_max(&b, 1, 10000), 0);
    assert_int_equal(b.cap, 10000); /* clamped */
    b.len = b.cap;
    assert_int_equal(kpid_buf_reserve_max(&b, 1, 10000), -ENOBUFS);
    assert_int_equal(b.cap, 10000);
    b.len = 0;
    assert_int_equal(kpid_buf_reserve_max(&b, 20000, 10000), -ENOBUFS);
    kpid_buf_free(&b);

    /* A cap below the first size. */
    assert_int_equal(kpid_buf_reserve_max(&b, 10, 100), 0);
    assert_int_equal(b.cap, 100);
    kpid_buf_free(&b);
}

/* kpid_array_grow: doubling from 16, contents kept, overflow refused with v intact. */
static void test_array_grow(void **state)
{
    int *v = NULL, *grown;
    size_t cap = 0;

    (void)state;
    assert_non_null(v = kpid_array_grow(v, &cap, sizeof(*v)));
    assert_int_equal(cap, 16);
    for (int i = 0; i < 16; i++)
        v[i] = i * 7;
    assert_non_null(v = kpid_array_grow(v, &cap, sizeof(*v)));
    assert_int_equal(cap, 32);
    for (int i = 0; i < 16; i++)
        assert_int_equal(v[i], i * 7);

    size_t huge = SIZE_MAX / 2 + 1; /* doubling it wraps */
    assert_null(kpid_array_grow(v, &huge, 1));
    assert_int_equal(huge, SIZE_MAX / 2 + 1);
    size_t big = SIZE_MAX / 4; /* doubling fits, times the element size does not */
    assert_null(grown = kpid_array_grow(v, &big, sizeof(*v)));
    assert_int_equal(big, SIZE_MAX / 4);
    assert_int_equal(v[15], 15 * 7); /* still ours */
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reserve_max),
        cmocka_unit_test(test_array_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
