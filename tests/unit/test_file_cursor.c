/* plugins/file/cursor.c: the file source's cursor, encoded and decoded. */
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

#include "cursor.h"

static void test_empty(void **state)
{
    file_cursor c = {0}, d = {0};
    char *text = NULL, err[256];

    assert_int_equal(file_cursor_encode(&c, &text), 0);
    assert_string_equal(text, "{\"v\":1,\"files\":[]}");
    assert_int_equal(file_cursor_decode(text, &d, err, sizeof(err)), 0);
    assert_int_equal(d.n_files, 0);
    free(text);
    file_cursor_clear(&d);
    file_cursor_clear(NULL);
}

static void test_round_trip(void **state)
{
    file_cursor c = {0}, d = {0};
    char *text = NULL, *again = NULL, err[256];

    assert_int_equal(file_cursor_add(&c, 2049, 1835012, 5120, 20, "/spool/a.ndjson"), 0);
    assert_int_equal(file_cursor_add(&c, UINT64_MAX, UINT64_MAX - 1, INT64_MAX, 0,
                                     "/spool/b \"quoted\" \\ ü.ndjson"),
                     0);
    assert_int_equal(file_cursor_add(&c, 0, 0, 0, 0, "/x"), 0);
    for (int i = 0; i < 100; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/spool/day-%03d.ndjson", i);
        assert_int_equal(file_cursor_add(&c, 7, 1000 + (uint64_t)i, i * 100, i, path), 0);
    }

    assert_int_equal(file_cursor_encode(&c, &text), 0);
    assert_non_null(strstr(text, "{\"v\":1,\"files\":[{\"dev\":\"2049\",\"ino\":\"1835012\","
                                 "\"off\":5120,\"line\":20,\"path\":\"/spool/a.ndjson\"},"));
    assert_non_null(strstr(text, "\"dev\":\"18446744073709551615\""));
    assert_non_null(strstr(text, "\"off\":9223372036854775807"));
    assert_int_equal(file_cursor_decode(text, &d, err, sizeof(err)), 0);
    assert_int_equal(d.n_files, c.n_files);
    for (size_t i = 0; i < c.n_files; i++) {
        assert_true(d.files[i].dev == c.files[i].dev);
        assert_true(d.files[i].ino == c.files[i].ino);
        assert_int_equal(d.files[i].off, c.files[i].off);
        assert_int_equal(d.files[i].line, c.files[i].line);
        assert_string_equal(d.files[i].path, c.files[i].path);
        assert_int_equal(d.files[i].flags, 0);
    }
    assert_int_equal(file_cursor_encode(&d, &again), 0);
    assert_string_equal(text, again);

    /* Lookups, with and without a hint. */
    size_t hint = 0;
    assert_ptr_equal(file_cursor_find(&d, 2049, 1835012, &hint), &d.files[0]);
    assert_ptr_equal(file_cursor_find(&d, 7, 1050, &hint), &d.files[53]);
    assert_int_equal(hint, 54);
    assert_ptr_equal(file_cursor_find(&d, 7, 1051, &hint), &d.files[54]);
    assert_ptr_equal(file_cursor_find(&d, 2049, 1835012, &hint), &d.files[0]);
    assert_null(file_cursor_find(&d, 7, 999, &hint));
    assert_null(file_cursor_find(&d, 2049, 1835013, NULL));

    free(text);
    free(again);
    file_cursor_clear(&c);
    file_cursor_clear(&d);
    assert_int_equal(c.n_files, 0);
    assert_null(c.files);
}

/* Paths are for people: whatever bytes a file name has, the cursor is valid UTF-8. */
static void test_path_sanitized(void **state)
{
    file_cursor c = {0}, d = {0};
    char *text = NULL, err[256];

    assert_int_equal(file_cursor_add(&c, 1, 2, 0, 0, "/in/\xff\xfe-latin1-\xe9t\xe9\n\t.ndjson"),
                     0);
    assert_string_equal(c.files[0].path, "/in/?\?-latin1-?t?\?\?.ndjson");
    assert_int_equal(file_cursor_add(&c, 1, 3, 0, 0, "/in/\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80é"),
                     0);
    assert_string_equal(c.files[1].path, "/in/?????????é");
    assert_int_equal(file_cursor_add(&c, 1, 4, 0, 0, "/in/cut\xe2\x82"), 0);
    assert_string_equal(c.files[2].path, "/in/cut??");

    char *longpath = malloc(FILE_CURSOR_PATH_MAX + 100);
    memset(longpath, 'p', FILE_CURSOR_PATH_MAX + 99);
    longpath[0] = '/';
    longpath[FILE_CURSOR_PATH_MAX + 99] = '\0';
    assert_int_equal(file_cursor_add(&c, 1, 5, 0, 0, longpath), 0);
    assert_int_equal(strlen(c.files[3].path), FILE_CURSOR_PATH_MAX);
    free(longpath);

    assert_int_equal(file_cursor_encode(&c, &text), 0);
    assert_int_equal(file_cursor_decode(text, &d, err, sizeof(err)), 0);
    assert_string_equal(d.files[0].path, c.files[0].path);
    free(text);
    file_cursor_clear(&c);
    file_cursor_clear(&d);
}

static void test_encode_refuses(void **state)
{
    file_cursor c = {0};
    char *text = (char *)"untouched";

    assert_int_equal(file_cursor_add(&c, 1, 1, 10, 11, "/a"), 0); /* more lines than bytes */
    assert_int_equal(file_cursor_encode(&c, &text), -EINVAL);
    c.files[0].line = -1;
    assert_int_equal(file_cursor_encode(&c, &text), -EINVAL);
    c.files[0].line = 0;
    c.files[0].off = -5;
    assert_int_equal(file_cursor_encode(&c, &text), -EINVAL);
    assert_string_equal(text, "untouched");
    file_cursor_clear(&c);

    /* Beyond 64 KiB. */
    char path[200];
    memset(path, 'x', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    for (int i = 0; i < 400; i++)
        assert_int_equal(file_cursor_add(&c, 1, (uint64_t)i, 0, 0, path), 0);
    assert_int_equal(file_cursor_encode(&c, &text), -E2BIG);
    assert_string_equal(text, "untouched");
    file_cursor_clear(&c);
}

static void expect_corrupt(const char *text, const char *err_part)
{
    file_cursor c = {0};
    char err[256];

    memset(err, 'X', sizeof(err));
    if (file_cursor_decode(text, &c, err, sizeof(err)) != -EINVAL)
        fail_msg("accepted: %s", text);
    assert_int_equal(c.n_files, 0);
    assert_null(c.files);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    assert_true(strlen(err) > 0);
    if (err_part && !strstr(err, err_part))
        fail_msg("cursor %s: message \"%s\" lacks \"%s\"", text, err, err_part);
}

#define F(body) "{\"v\":1,\"files\":[" body "]}"
#define OK_ENTRY "{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"

static void test_corrupt(void **state)
{
    /* Not JSON, or not the right JSON. */
    expect_corrupt("", "not JSON");
    expect_corrupt("{", "not JSON");
    expect_corrupt("garbage", "not JSON");
    expect_corrupt(F(OK_ENTRY) "x", "not JSON");
    expect_corrupt("{\"v\":1,\"files\":[" OK_ENTRY, "not JSON");
    expect_corrupt("[]", "not a JSON object");
    expect_corrupt("{\"v\":1,\"v\":1,\"files\":[]}", "duplicate");
    expect_corrupt("{\"v\":1,\"files\":[],\"extra\":0}", "unknown top-level key");
    expect_corrupt("{\"files\":[]}", "no version");
    expect_corrupt("{\"v\":\"1\",\"files\":[]}", "no version");
    expect_corrupt("{\"v\":2,\"files\":[]}", "version 2 is not supported");
    expect_corrupt("{\"v\":0,\"files\":[]}", "version 0");
    expect_corrupt("{\"v\":1}", "\"files\" must be an array");
    expect_corrupt("{\"v\":1,\"files\":{}}", "\"files\" must be an array");
    expect_corrupt("{\"v\":1,\"files\":null}", "\"files\" must be an array");

    /* Entries. */
    expect_corrupt(F("1"), "files[0] is not an object");
    expect_corrupt(F(OK_ENTRY ",[]"), "files[1] is not an object");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\",\"x\":1}"),
                   "files[0] has an unknown key");
    expect_corrupt(F("{\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"), "files[0].dev");
    expect_corrupt(F("{\"dev\":1,\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"),
                   "files[0].dev must be a decimal string");
    expect_corrupt(F("{\"dev\":\"\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"), "dev");
    expect_corrupt(F("{\"dev\":\"-1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"), "dev");
    expect_corrupt(F("{\"dev\":\"01\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"), "dev");
    expect_corrupt(F("{\"dev\":\"1 \",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"), "dev");
    expect_corrupt(F("{\"dev\":\"0x1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\"}"),
                   "dev");
    expect_corrupt(F("{\"dev\":\"18446744073709551616\",\"ino\":\"2\",\"off\":3,\"line\":1,"
                     "\"path\":\"/a\"}"),
                   "dev");
    expect_corrupt(F("{\"dev\":\"99999999999999999999\",\"ino\":\"2\",\"off\":3,\"line\":1,"
                     "\"path\":\"/a\"}"),
                   "dev");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":2,\"off\":3,\"line\":1,\"path\":\"/a\"}"),
                   "files[0].ino must be a decimal string");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":-3,\"line\":1,\"path\":\"/a\"}"),
                   "files[0].off must be a non-negative integer");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3.0,\"line\":1,\"path\":\"/a\"}"),
                   "files[0].off");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":\"3\",\"line\":1,\"path\":\"/a\"}"),
                   "files[0].off");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"line\":1,\"path\":\"/a\"}"), "files[0].off");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":99999999999999999999,\"line\":1,"
                     "\"path\":\"/a\"}"),
                   "not JSON");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":-1,\"path\":\"/a\"}"),
                   "files[0].line must be a non-negative integer");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":null,\"path\":\"/a\"}"),
                   "files[0].line");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":4,\"path\":\"/a\"}"),
                   "files[0] counts more lines (4) than bytes (3)");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":1}"), "files[0].path");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"\"}"),
                   "files[0].path must be a non-empty string");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":7}"),
                   "files[0].path");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/a\\u0000b\"}"),
                   "not JSON");
    expect_corrupt(F("{\"dev\":\"1\",\"ino\":\"2\",\"off\":3,\"line\":1,\"path\":\"/\xff\"}"),
                   "not JSON");
    expect_corrupt(F(OK_ENTRY "," OK_ENTRY), "files[1] repeats dev 1 ino 2");

    /* Too long to be a cursor at all. */
    size_t n = FILE_CURSOR_MAX + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"v\":1,\"files\":[]}", 18);
    big[n] = '\0';
    expect_corrupt(big, "longer than");
    free(big);

    /* A small err buffer is still terminated; err may even be empty. */
    file_cursor c = {0};
    char tiny[8];
    assert_int_equal(file_cursor_decode("{", &c, tiny, sizeof(tiny)), -EINVAL);
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(file_cursor_decode("{", &c, NULL, 0), -EINVAL);
}

/* Every prefix of a good cursor is refused, none crashes. */
static void test_truncated(void **state)
{
    const char *good = F(OK_ENTRY ","
                                  "{\"dev\":\"10\",\"ino\":\"20\",\"off\":30,\"line\":3,"
                                  "\"path\":\"/b\"}");
    file_cursor c = {0};
    char err[256], *s = malloc(strlen(good) + 1);

    for (size_t i = 0; i < strlen(good); i++) {
        memcpy(s, good, i);
        s[i] = '\0';
        assert_int_equal(file_cursor_decode(s, &c, err, sizeof(err)), -EINVAL);
    }
    assert_int_equal(file_cursor_decode(good, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n_files, 2);
    assert_int_equal(c.files[1].off, 30);
    file_cursor_clear(&c);
    free(s);
}

static void test_swap(void **state)
{
    file_cursor a = {0}, b = {0};

    assert_int_equal(file_cursor_add(&a, 1, 1, 0, 0, "/a"), 0);
    file_cursor_swap(&a, &b);
    assert_int_equal(a.n_files, 0);
    assert_int_equal(b.n_files, 1);
    file_cursor_clear(&a);
    file_cursor_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),          cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_path_sanitized), cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_corrupt),        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_swap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
