/* lib/names: tables of the names of enum values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "names/names.h"

enum color { RED, GREEN, BLUE };

static const char *const color_names[] = {"red", "green", "blue"};
static const kpid_name_table colors = KPID_NAME_TABLE(color_names);

static void test_name_of(void **state)
{
    static const char *const sparse_names[] = {"zero", NULL, "two"};
    static const kpid_name_table sparse = KPID_NAME_TABLE(sparse_names);

    assert_int_equal(colors.n, 3);
    assert_string_equal(kpid_name_of(&colors, RED), "red");
    assert_string_equal(kpid_name_of(&colors, BLUE), "blue");
    assert_string_equal(kpid_name_of(&colors, 3), "?");
    assert_string_equal(kpid_name_of(&colors, -1), "?");
    assert_string_equal(kpid_name_of(&sparse, 1), "?");
    assert_string_equal(kpid_name_of(&sparse, 2), "two");
}

static void test_find(void **state)
{
    assert_int_equal(kpid_name_find(&colors, "red"), RED);
    assert_int_equal(kpid_name_find(&colors, "green"), GREEN);
    assert_int_equal(kpid_name_find(&colors, "blue"), BLUE);
    assert_int_equal(kpid_name_find(&colors, "Blue"), -1);
    assert_int_equal(kpid_name_find(&colors, ""), -1);
}

static void test_list(void **state)
{
    static const char *const one_name[] = {"only"};
    static const char *const two_names[] = {"a", NULL, "b"};
    static const kpid_name_table one = KPID_NAME_TABLE(one_name);
    static const kpid_name_table two = KPID_NAME_TABLE(two_names);
    char buf[64], small[8];

    assert_string_equal(kpid_name_list(&colors, buf, sizeof(buf)), "red, green or blue");
    assert_string_equal(kpid_name_list(&one, buf, sizeof(buf)), "only");
    assert_string_equal(kpid_name_list(&two, buf, sizeof(buf)), "a or b");
    assert_string_equal(kpid_name_list(&colors, small, sizeof(small)), "red, gr"); /* cut */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_of),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
