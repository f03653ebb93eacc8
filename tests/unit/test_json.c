/* lib/json: the scanner's walk (member by member), its values and its errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/json.h"

static int setup(void **state)
{
    kpid_json *js = calloc(1, sizeof(*js));
    if (!js)
        return -1;
    *state = js;
    return 0;
}

static int teardown(void **state)
{
    kpid_json_clear(*state);
    free(*state);
    return 0;
}

/* A walk of an object: keys, strings decoded, numbers as written, nested objects and
 * arrays entered, values left unread skipped. */
static void test_walk(void **state)
{
    static const char doc[] = " {\"name\" : \"a\\u00e9\\n\", \"n\": -1.5e3,"
                              " \"skip\": [1, {\"x\": [] }],"
                              " \"obj\": {\"k\": true, \"l\": [null, \"s\"]}, \"last\": false } ";
    kpid_json *js = *state;
    kpid_json_iter top, inner, arr;
    kpid_buf dec = {0};
    const char *key, *num;
    size_t key_len, num_len;
    kpid_json_type type;

    kpid_json_begin(js, doc, sizeof(doc) - 1, 8);
    assert_int_equal(kpid_json_peek(js), KPID_JSON_OBJECT);
    assert_int_equal(kpid_json_enter(js, &top), 0);

    assert_int_equal(kpid_json_next(js, &top, &key, &key_len), 1);
    assert_string_equal(key, "name");
    assert_int_equal(key_len, 4);
    assert_int_equal(kpid_json_peek(js), KPID_JSON_STRING);
    assert_int_equal(kpid_json_string(js, &dec), 0);
    assert_string_equal(dec.data, "a\xc3\xa9\n");

    assert_int_equal(kpid_json_next(js, &top, &key, NULL), 1);
    assert_string_equal(key, "n");
    assert_int_equal(kpid_json_peek(js), KPID_JSON_NUMBER);
    assert_int_equal(kpid_json_number(js, &num, &num_len), 0);
    assert_int_equal(num_len, 6);
    assert_memory_equal(num, "-1.5e3", 6);
    double d;
    assert_int_equal(kpid_json_number_to_double(num, num_len, &d), 0);
    assert_true(d == -1500.0);

    assert_int_equal(kpid_json_next(js, &top, &key, NULL), 1);
    assert_string_equal(key, "skip"); /* not read: the next call skips it */

    assert_int_equal(kpid_json_next(js, &top, &key, NULL), 1);
    assert_string_equal(key, "obj");
    assert_int_equal(kpid_json_enter(js, &inner), 0);
    assert_int_equal(kpid_json_next(js, &inner, &key, NULL), 1);
    assert_string_equal(key, "k");
    assert_int_equal(kpid_json_value(js, NULL, &type), 0);
    assert_int_equal(type, KPID_JSON_TRUE);
    assert_int_equal(kpid_json_next(js, &inner, &key, NULL), 1);
    assert_string_equal(key, "l");
    assert_int_equal(kpid_json_enter(js, &arr), 0);
    assert_int_equal(kpid_json_next(js, &arr, &key, &key_len), 1);
    assert_null(key);
    assert_int_equal(key_len, 0);
    assert_int_equal(kpid_json_peek(js), KPID_JSON_NULL);
    assert_int_equal(kpid_json_next(js, &arr, NULL, NULL), 1);
    dec.len = 0;
    assert_int_equal(kpid_json_string(js, &dec), 0);
    assert_string_equal(dec.data, "s");
    assert_int_equal(kpid_json_next(js, &arr, NULL, NULL), 0);
    assert_int_equal(kpid_json_next(js, &inner, NULL, NULL), 0);

    assert_int_equal(kpid_json_next(js, &top, &key, NULL), 1);
    assert_string_equal(key, "last");
    assert_int_equal(kpid_json_next(js, &top, &key, NULL), 0); /* false skipped */
    assert_int_equal(kpid_json_end(js), 0);
    assert_int_equal(js->error, KPID_JSON_OK);
    kpid_buf_free(&dec);
}

static void test_empty_containers(void **state)
{
    kpid_json *js = *state;
    kpid_json_iter it;

    kpid_json_begin(js, "{ }", 3, 1);
    assert_int_equal(kpid_json_enter(js, &it), 0);
    assert_int_equal(kpid_json_next(js, &it, NULL, NULL), 0);
    assert_int_equal(kpid_json_end(js), 0);
    kpid_json_begin(js, "[]", 2, 1);
    assert_int_equal(kpid_json_enter(js, &it), 0);
    assert_int_equal(kpid_json_next(js, &it, NULL, NULL), 0);
    assert_int_equal(kpid_json_end(js), 0);
    /* Not a container. */
    kpid_json_begin(js, "\"x\"", 3, 1);
    assert_int_equal(kpid_json_enter(js, &it), -EINVAL);
    assert_int_equal(js->error, KPID_JSON_E_TOKEN);
}

/* A value copied without whitespace, everything else as written. */
static void test_compact(void **state)
{
    static const char doc[] = "{ \"z\" : [ 1 , 2.50 , -0 , 1E+2 ] , \"s\" : \"a b\\u0041\" ,"
                              " \"o\" : { } , \"t\" : [ true , false , null ] }";
    kpid_json *js = *state;
    kpid_buf out = {0};
    kpid_json_type type;

    kpid_json_begin(js, doc, sizeof(doc) - 1, 4);
    assert_int_equal(kpid_json_value(js, &out, &type), 0);
    assert_int_equal(type, KPID_JSON_OBJECT);
    assert_int_equal(kpid_buf_putc(&out, '\0'), 0);
    assert_string_equal(out.data, "{\"z\":[1,2.50,-0,1E+2],\"s\":\"a b\\u0041\",\"o\":{},"
                                  "\"t\":[true,false,null]}");
    assert_int_equal(kpid_json_end(js), 0);
    kpid_buf_free(&out);
}

/* Runs a whole document through kpid_json_value and kpid_json_end; returns the result. */
static int scan(kpid_json *js, const char *doc, size_t len, int max_depth)
{
    int r;

    kpid_json_begin(js, doc, len, max_depth);
    r = kpid_json_value(js, NULL, NULL);
    if (r == 0)
        r = kpid_json_end(js);
    return r;
}

static int scan_s(kpid_json *js, const char *doc, int max_depth)
{
    return scan(js, doc, strlen(doc), max_depth);
}

/* Malformed: the reason and the byte where it is. */
static void expect_error(kpid_json *js, const char *doc, size_t len, kpid_json_error error,
                         size_t pos)
{
    int r = scan(js, doc, len, 64);

    if (r == 0)
        fail_msg("%s: accepted", doc);
    if (js->error != error || js->error_pos != pos)
        fail_msg("%s: %s at %zu, expected %s at %zu", doc, kpid_json_error_text(js->error),
                 js->error_pos, kpid_json_error_text(error), pos);
    assert_int_equal(r, error == KPID_JSON_E_DEPTH ? -ELOOP : -EINVAL);
}

#define ERR(doc, error, pos) expect_error(js, doc, sizeof(doc) - 1, error, pos)

static void test_errors(void **state)
{
    kpid_json *js = *state;

    ERR("", KPID_JSON_E_END, 0);
    ERR("[1,", KPID_JSON_E_END, 3);
    ERR("\"abc", KPID_JSON_E_END, 4);
    ERR("{'a':1}", KPID_JSON_E_KEY, 1);
    ERR("{\"a\" 1}", KPID_JSON_E_COLON, 5);
    ERR("{\"a\":1 \"b\":2}", KPID_JSON_E_MEMBER_END, 7);
    ERR("[1 2]", KPID_JSON_E_ELEMENT_END, 3);
    ERR("[1,]", KPID_JSON_E_TOKEN, 3);
    ERR("tru", KPID_JSON_E_TOKEN, 0);
    ERR("nulL", KPID_JSON_E_TOKEN, 0);
    ERR("{} x", KPID_JSON_E_TRAILING, 3);
    ERR("{}\0", KPID_JSON_E_TRAILING, 2);
    ERR("[true\0]", KPID_JSON_E_ELEMENT_END, 5); /* jansson skips this NUL; we do not */
    ERR("\"a\tb\"", KPID_JSON_E_CONTROL, 2);
    ERR("\"a\0b\"", KPID_JSON_E_CONTROL, 2);
    ERR("\"a\xc0\x80\"", KPID_JSON_E_UTF8, 2);
    ERR("\"\xed\xa0\x80\"", KPID_JSON_E_UTF8, 1);
    ERR("\"\\x\"", KPID_JSON_E_ESCAPE, 1);
    ERR("\"a\\u12\"", KPID_JSON_E_ESCAPE, 2);
    ERR("\"\\udc00\"", KPID_JSON_E_SURROGATE, 1);
    ERR("\"\\ud800x\"", KPID_JSON_E_SURROGATE, 1);
    ERR("[\"\\u0000\"]", KPID_JSON_E_NUL, 2);
    ERR("01", KPID_JSON_E_TRAILING, 1);
    ERR("-", KPID_JSON_E_END, 1);
    ERR("-a", KPID_JSON_E_NUMBER, 1);
    ERR("1.", KPID_JSON_E_NUMBER, 2);
    ERR("1e+", KPID_JSON_E_NUMBER, 3);
    ERR("+1", KPID_JSON_E_TOKEN, 0);
    ERR("[9223372036854775808]", KPID_JSON_E_INTEGER, 1);
    ERR("[1e400]", KPID_JSON_E_REAL, 1);
    ERR("{\"a\":1,\"b\":{\"c\":2,\"c\":3}}", KPID_JSON_E_DUPLICATE, 18);
    ERR("{\"\\u0061\":1,\"a\":2}", KPID_JSON_E_DUPLICATE, 12); /* decoded keys compare */

    /* Good ones at the edges. */
    assert_int_equal(scan_s(js, "[9223372036854775807,-9223372036854775808,1e308,1e-400]", 2), 0);
    assert_int_equal(scan_s(js, "\"\\ud83d\\ude00\"", 1), 0);
    /* The same key in sibling objects is no duplicate. */
    assert_int_equal(scan_s(js, "[{\"a\":1},{\"a\":2,\"b\":{\"a\":3}}]", 3), 0);
}

/* Objects with many keys are checked at their end: the later of two duplicates. */
static void test_many_keys(void **state)
{
    kpid_json *js = *state;
    char doc[1024], *p = doc;

    p += sprintf(p, "{");
    for (int i = 0; i < 40; i++)
        p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i, i);
    p += sprintf(p, "}");
    assert_int_equal(scan(js, doc, (size_t)(p - doc), 2), 0);

    p = doc;
    p += sprintf(p, "{");
    for (int i = 0; i < 40; i++)
        p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i == 30 ? 3 : i, i);
    p += sprintf(p, "}");
    assert_int_equal(scan(js, doc, (size_t)(p - doc), 2), -EINVAL);
    assert_int_equal(js->error, KPID_JSON_E_DUPLICATE);
    assert_memory_equal(doc + js->error_pos, "\"k3\":30", 7);
}

static void test_depth(void **state)
{
    kpid_json *js = *state;
    char doc[200];

    memset(doc, '[', 100);
    memset(doc + 100, ']', 100);
    assert_int_equal(scan(js, doc, 200, 100), 0);
    assert_int_equal(scan(js, doc, 200, 99), -ELOOP);
    assert_int_equal(js->error, KPID_JSON_E_DEPTH);
    assert_int_equal(js->error_pos, 99);
    assert_string_equal(kpid_json_error_text(js->error), "nested too deep");

    /* Through the iterator as well. */
    kpid_json_iter a, b;
    kpid_json_begin(js, "[[[]]]", 6, 2);
    assert_int_equal(kpid_json_enter(js, &a), 0);
    assert_int_equal(kpid_json_next(js, &a, NULL, NULL), 1);
    assert_int_equal(kpid_json_enter(js, &b), 0);
    assert_int_equal(kpid_json_next(js, &b, NULL, NULL), 1);
    assert_int_equal(kpid_json_value(js, NULL, NULL), -ELOOP);
}

/* The walk refuses duplicates among the keys it hands out, few or many. */
static void test_walk_duplicates(void **state)
{
    kpid_json *js = *state;
    kpid_json_iter it;
    int r;

    kpid_json_begin(js, "{\"a\":1,\"b\":2,\"a\":3}", 19, 2); /* the second "a" at 13 */
    assert_int_equal(kpid_json_enter(js, &it), 0);
    while ((r = kpid_json_next(js, &it, NULL, NULL)) > 0)
        ;
    assert_int_equal(r, -EINVAL);
    assert_int_equal(js->error, KPID_JSON_E_DUPLICATE);
    assert_int_equal(js->error_pos, 13);
    assert_string_equal(kpid_json_error_text(js->error), "duplicate object key");
}

/* kpid_json_put_string writes what the scanner reads back as the same bytes: quotes,
 * backslashes, every control character, UTF-8 as it is. */
static void test_put_string(void **state)
{
    kpid_json *js = *state;
    char text[64];
    size_t n = 0;
    kpid_buf out = {0}, dec = {0};

    for (char c = 1; c < 0x20; c++)
        text[n++] = c;
    static const char tail[] = "\"\\/\xc3\xa9\xd2\x9b"; /* " \ / é қ */
    memcpy(text + n, tail, sizeof(tail) - 1);
    n += sizeof(tail) - 1;
    assert_int_equal(kpid_json_put_string(&out, text, n), 0);
    assert_int_equal(out.data[0], '"');
    assert_non_null(memmem(out.data, out.len, "\\u001f", 6));
    assert_non_null(memmem(out.data, out.len, "\\t", 2));
    kpid_json_begin(js, out.data, out.len, 8);
    assert_int_equal(kpid_json_string(js, &dec), 0);
    assert_int_equal(kpid_json_end(js), 0);
    assert_int_equal(dec.len, n + 1); /* and its NUL */
    assert_memory_equal(dec.data, text, n);
    kpid_buf_free(&out);
    kpid_buf_free(&dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_containers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_string, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
