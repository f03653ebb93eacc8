/* lib/text: UTF-8 validation and the identifier rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text/ident.h"
#include "text/logtext.h"
#include "text/utf8.h"

static void test_utf8_valid(void **state)
{
    assert_true(kpid_utf8_valid("", 0));
    assert_true(kpid_utf8_valid("abc", 3));
    assert_true(kpid_utf8_valid("\xd2\x9a\xd0\xb0", 4));  /* two-byte */
    assert_true(kpid_utf8_valid("\xe2\x82\xac", 3));      /* euro sign */
    assert_true(kpid_utf8_valid("\xf0\x9f\x98\x80", 4));  /* four-byte */
    assert_true(kpid_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_true(kpid_utf8_valid("\xed\x9f\xbf", 3));      /* U+D7FF */
    assert_true(kpid_utf8_valid("\xee\x80\x80", 3));      /* U+E000 */
    assert_false(kpid_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(kpid_utf8_valid("\xc1\xbf", 2));         /* overlong */
    assert_false(kpid_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(kpid_utf8_valid("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    assert_false(kpid_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(kpid_utf8_valid("\xed\xbf\xbf", 3));     /* surrogate */
    assert_false(kpid_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(kpid_utf8_valid("\xf5\x80\x80\x80", 4)); /* invalid lead byte */
    assert_false(kpid_utf8_valid("\xe2\x82", 2));         /* cut short */
    assert_false(kpid_utf8_valid("\xe2\x82\xac", 2));     /* cut short by len */
    assert_false(kpid_utf8_valid("\xe2\x28\xac", 3));     /* not a continuation */
    assert_false(kpid_utf8_valid("\x80", 1));             /* stray continuation */
    assert_false(kpid_utf8_valid("a\0b", 3));             /* NUL */
    assert_true(kpid_utf8_valid("a\0b", 1));              /* only len bytes count */
}

static void test_utf8_decode(void **state)
{
    uint32_t cp = 0;

    assert_int_equal(kpid_utf8_decode("a", 1, &cp), 1);
    assert_int_equal(cp, 'a');
    assert_int_equal(kpid_utf8_decode("", 1, &cp), 1); /* NUL is a character here */
    assert_int_equal(cp, 0);
    assert_int_equal(kpid_utf8_decode("\xd2\x9a", 2, &cp), 2);
    assert_int_equal(cp, 0x49a);
    assert_int_equal(kpid_utf8_decode("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20ac);
    assert_int_equal(kpid_utf8_decode("\xf0\x9f\x98\x80x", 5, &cp), 4);
    assert_int_equal(cp, 0x1f600);
    assert_int_equal(kpid_utf8_decode("\xf4\x8f\xbf\xbf", 4, NULL), 4);
    cp = 7;
    assert_int_equal(kpid_utf8_decode("\xf0\x9f\x98\x80", 3, &cp), 0);
    assert_int_equal(kpid_utf8_decode("\xed\xa0\x80", 3, &cp), 0);
    assert_int_equal(kpid_utf8_decode("\xe0\x9f\xbf", 3, &cp), 0);
    assert_int_equal(kpid_utf8_decode("\xbf", 1, &cp), 0);
    assert_int_equal(cp, 7); /* untouched when there is no character */
}

static void test_utf8_find_control(void **state)
{
    unsigned cp = 12345;

    assert_int_equal(kpid_utf8_find_control("abc \xc2\xa0 \xe2\x82\xac", 10, &cp), -1);
    assert_int_equal(cp, 12345);
    assert_int_equal(kpid_utf8_find_control("ab\ncd", 5, &cp), 2);
    assert_int_equal(cp, 0x0a);
    assert_int_equal(kpid_utf8_find_control("\x7f", 1, &cp), 0);
    assert_int_equal(cp, 0x7f);
    assert_int_equal(kpid_utf8_find_control("x\xc2\x85y", 4, &cp), 1); /* NEL, a C1 */
    assert_int_equal(cp, 0x85);
    assert_int_equal(kpid_utf8_find_control("x\xc2\x9f", 3, &cp), 1);
    assert_int_equal(cp, 0x9f);
    assert_int_equal(kpid_utf8_find_control("a\0", 2, &cp), 1);
    assert_int_equal(cp, 0);
}

static void test_activity(void **state)
{
    char max[KPID_IDENT_ACTIVITY_MAX + 2];

    assert_true(kpid_ident_activity_valid("ED_ARRIVAL"));
    assert_true(kpid_ident_activity_valid("_"));
    assert_true(kpid_ident_activity_valid("9"));
    assert_false(kpid_ident_activity_valid(""));
    assert_false(kpid_ident_activity_valid("ed_arrival"));
    assert_false(kpid_ident_activity_valid("ED ARRIVAL"));
    assert_false(kpid_ident_activity_valid("ED-ARRIVAL"));
    memset(max, 'A', KPID_IDENT_ACTIVITY_MAX);
    max[KPID_IDENT_ACTIVITY_MAX] = '\0';
    assert_true(kpid_ident_activity_valid(max));
    assert_true(kpid_ident_activity_valid_n(max, KPID_IDENT_ACTIVITY_MAX));
    max[KPID_IDENT_ACTIVITY_MAX] = 'A';
    max[KPID_IDENT_ACTIVITY_MAX + 1] = '\0';
    assert_false(kpid_ident_activity_valid(max));
    assert_false(kpid_ident_activity_valid_n(max, KPID_IDENT_ACTIVITY_MAX + 1));
    assert_true(kpid_ident_activity_valid_n("SEEN\"", 4)); /* no NUL needed */
    assert_false(kpid_ident_activity_valid_n("SEEN\"", 5));
    assert_false(kpid_ident_activity_valid_n("", 0));
}

static void test_attr(void **state)
{
    char max[KPID_IDENT_ATTR_MAX + 2];

    assert_true(kpid_ident_attr_valid("ward"));
    assert_true(kpid_ident_attr_valid("_x9"));
    assert_true(kpid_ident_attr_valid("Age_Band"));
    assert_false(kpid_ident_attr_valid(""));
    assert_false(kpid_ident_attr_valid("9x"));
    assert_false(kpid_ident_attr_valid("a-b"));
    assert_false(kpid_ident_attr_valid("a.b"));
    memset(max, 'q', KPID_IDENT_ATTR_MAX);
    max[KPID_IDENT_ATTR_MAX] = '\0';
    assert_true(kpid_ident_attr_valid(max));
    max[KPID_IDENT_ATTR_MAX] = 'q';
    max[KPID_IDENT_ATTR_MAX + 1] = '\0';
    assert_false(kpid_ident_attr_valid(max));
}

static void test_id(void **state)
{
    char max[KPID_IDENT_ID_MAX + 2];

    assert_true(kpid_ident_id_valid("door_to_doctor"));
    assert_true(kpid_ident_id_valid("k9"));
    assert_false(kpid_ident_id_valid(""));
    assert_false(kpid_ident_id_valid("_x"));
    assert_false(kpid_ident_id_valid("9x"));
    assert_false(kpid_ident_id_valid("Door"));
    assert_false(kpid_ident_id_valid("a-b"));
    memset(max, 'a', KPID_IDENT_ID_MAX);
    max[KPID_IDENT_ID_MAX] = '\0';
    assert_true(kpid_ident_id_valid(max));
    max[KPID_IDENT_ID_MAX] = 'a';
    max[KPID_IDENT_ID_MAX + 1] = '\0';
    assert_false(kpid_ident_id_valid(max));
}

static void test_source_and_plugin(void **state)
{
    char max[KPID_IDENT_SOURCE_MAX + 2];

    assert_true(kpid_ident_source_valid("a.b-c_D9"));
    assert_false(kpid_ident_source_valid(""));
    assert_false(kpid_ident_source_valid("a b"));
    assert_false(kpid_ident_source_valid("a/b"));
    memset(max, 'a', KPID_IDENT_SOURCE_MAX);
    max[KPID_IDENT_SOURCE_MAX] = '\0';
    assert_true(kpid_ident_source_valid(max));
    assert_true(kpid_ident_plugin_valid(max));
    max[KPID_IDENT_SOURCE_MAX] = 'a';
    max[KPID_IDENT_SOURCE_MAX + 1] = '\0';
    assert_false(kpid_ident_source_valid(max));
    assert_false(kpid_ident_plugin_valid(max));

    assert_true(kpid_ident_plugin_valid("file"));
    assert_true(kpid_ident_plugin_valid("hl7-v2_x9"));
    assert_false(kpid_ident_plugin_valid(""));
    assert_false(kpid_ident_plugin_valid("File"));
    assert_false(kpid_ident_plugin_valid("a.b"));
    assert_false(kpid_ident_plugin_valid("../x"));
}

static void test_log_text(void **state)
{
    char out[16];

    (void)state;
    assert_string_equal(kpid_log_text("a \"b\" c\\d", out, sizeof(out)), "a \\\"b\\\" c\\\\d");
    assert_string_equal(kpid_log_text("first\nsecond", out, sizeof(out)), "first");
    assert_string_equal(kpid_log_text("cr\rlf", out, sizeof(out)), "cr");
    assert_string_equal(kpid_log_text("t\tab\x7f\x01", out, sizeof(out)), "t?ab??");
    assert_string_equal(kpid_log_text(NULL, out, sizeof(out)), "");
    /* cut to fit, never half an escape */
    assert_string_equal(kpid_log_text("0123456789abcdefghij", out, sizeof(out)), "0123456789abc");
    assert_string_equal(kpid_log_text("0123456789a\"\"", out, sizeof(out)), "0123456789a\\\"");
    assert_ptr_equal(kpid_log_text("x", out, 0), out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_decode),
        cmocka_unit_test(test_utf8_find_control),
        cmocka_unit_test(test_activity),
        cmocka_unit_test(test_attr),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_source_and_plugin),
        cmocka_unit_test(test_log_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
