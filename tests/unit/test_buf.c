/* lib/buf: the growable byte buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reserve_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
