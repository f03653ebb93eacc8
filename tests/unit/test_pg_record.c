/* Unit tests of splitting PostgreSQL's text form of a record (pg_record.h). The texts
 * are what PostgreSQL 15 prints for the row values named beside them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "warehouse/pg_record.h"

static void free_fields(char **f, int n)
{
    for (int i = 0; i < n; i++)
        free(f[i]);
}

/* row(1, '{"a": 1}'::jsonb, NULL::int, '', 'a,b"c', 'NaN'::float8) */
static void quoting_nulls_and_empty(void **unused)
{
    char *f[6];

    assert_int_equal(kpid_pg_record_split("(1,\"{\"\"a\"\": 1}\",,\"\",\"a,b\"\"c\",NaN)", 6, f),
                     0);
    assert_string_equal(f[0], "1");
    assert_string_equal(f[1], "{\"a\": 1}");
    assert_null(f[2]);
    assert_string_equal(f[3], "");
    assert_string_equal(f[4], "a,b\"c");
    assert_string_equal(f[5], "NaN");
    free_fields(f, 6);
}

/* row('a\b', '(x)', 'a b', ' '), row('{"k": "v\"q"}'::jsonb), row(row(1, 'x y')) */
static void backslashes_parentheses_and_nesting(void **unused)
{
    char *f[4];

    assert_int_equal(kpid_pg_record_split("(\"a\\\\b\",\"(x)\",\"a b\",\" \")", 4, f), 0);
    assert_string_equal(f[0], "a\\b");
    assert_string_equal(f[1], "(x)");
    assert_string_equal(f[2], "a b");
    assert_string_equal(f[3], " ");
    free_fields(f, 4);
    assert_int_equal(kpid_pg_record_split("(\"{\"\"k\"\": \"\"v\\\\\"\"q\"\"}\")", 1, f), 0);
    assert_string_equal(f[0], "{\"k\": \"v\\\"q\"}");
    free_fields(f, 1);
    assert_int_equal(kpid_pg_record_split("(\"(1,\"\"x y\"\")\")", 1, f), 0);
    assert_string_equal(f[0], "(1,\"x y\")");
    free_fields(f, 1);
}

/* "()" is row(NULL::int) and the record of no column; "(,)" two NULLs. */
static void empty_records(void **unused)
{
    char *f[2] = {(char *)"untouched", (char *)"untouched"};

    assert_int_equal(kpid_pg_record_split("()", 1, f), 0);
    assert_null(f[0]);
    assert_int_equal(kpid_pg_record_split("()", 0, f), 0);
    assert_int_equal(kpid_pg_record_split("(,)", 2, f), 0);
    assert_null(f[0]);
    assert_null(f[1]);
}

/* A text that is no record of the expected width leaves nothing behind. */
static void wrong_shapes_refused(void **unused)
{
    char *f[3] = {NULL, NULL, NULL};

    assert_int_equal(kpid_pg_record_split("(1,2)", 3, f), -EINVAL);   /* too few */
    assert_int_equal(kpid_pg_record_split("(1,2,3)", 2, f), -EINVAL); /* too many */
    assert_int_equal(kpid_pg_record_split("(1)", 0, f), -EINVAL);
    assert_int_equal(kpid_pg_record_split("(\"1)", 1, f), -EINVAL); /* open quote */
    assert_int_equal(kpid_pg_record_split("(1", 1, f), -EINVAL);    /* no ")" */
    assert_int_equal(kpid_pg_record_split("(1)x", 1, f), -EINVAL);  /* trailing */
    assert_int_equal(kpid_pg_record_split("1", 1, f), -EINVAL);     /* no "(" */
    assert_int_equal(kpid_pg_record_split("", 1, f), -EINVAL);
    assert_int_equal(kpid_pg_record_split(NULL, 1, f), -EINVAL);
    assert_null(f[0]);
    assert_null(f[1]);
    assert_null(f[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoting_nulls_and_empty),
        cmocka_unit_test(backslashes_parentheses_and_nesting),
        cmocka_unit_test(empty_records),
        cmocka_unit_test(wrong_shapes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
