/* Unit tests of the file source's codecs: the fingerprint (FNV-1a), the per-file state
 * (key and value, every field, hostile values), the version of a cursor, and the table
 * of files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fingerprint.h"
#include "kpid/plugin.h"
#include "state.h"
#include "table.h"

static void fingerprint_vectors(void **unused)
{
    /* The published FNV-1a 64 test vectors. */
    assert_true(file_fp_update(FILE_FP_INIT, "", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(file_fp_update(FILE_FP_INIT, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(file_fp_update(FILE_FP_INIT, "foobar", 6) == UINT64_C(0x85944171f73967e8));
    /* Incremental: a prefix, then the rest, is the whole. */
    const char *text = "{\"event_key\":\"a\"}\n{\"event_key\":\"b\"}\n";
    size_t n = strlen(text);
    uint64_t whole = file_fp_update(FILE_FP_INIT, text, n);
    for (size_t k = 0; k <= n; k++)
        assert_true(file_fp_update(file_fp_update(FILE_FP_INIT, text, k), text + k, n - k) ==
                    whole);
    /* Two lines that differ in one byte differ. */
    assert_true(file_fp_update(FILE_FP_INIT, "{\"event_key\":\"c\"}\n", 18) !=
                file_fp_update(FILE_FP_INIT, "{\"event_key\":\"d\"}\n", 18));
}

static void state_keys(void **unused)
{
    char key[FILE_STATE_KEY_SIZE];
    uint64_t dev, ino;

    assert_int_equal(file_state_key(2049, 1835012, key), 14);
    assert_string_equal(key, "f:2049:1835012");
    assert_int_equal(file_state_parse_key(key, &dev, &ino), 0);
    assert_true(dev == 2049 && ino == 1835012);
    file_state_key(UINT64_MAX, 0, key);
    assert_string_equal(key, "f:18446744073709551615:0");
    assert_int_equal(file_state_parse_key(key, &dev, &ino), 0);
    assert_true(dev == UINT64_MAX && ino == 0);
    assert_true(strlen(key) < FILE_STATE_KEY_SIZE);

    static const char *const bad[] = {
        "",       "f:",      "f:1",    "f:1:",   "f::1",
        "g:1:2",  "F:1:2",   "f:01:2", "f:1:02", "f:-1:2",
        "f:+1:2", "f:1:2:3", "f:1:2 ", " f:1:2", "f:18446744073709551616:1",
        "f:1:2x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dev = ino = 7;
        if (file_state_parse_key(bad[i], &dev, &ino) != -EINVAL)
            fail_msg("key \"%s\" accepted", bad[i]);
        assert_true(dev == 7 && ino == 7); /* written only on success */
    }
}

static void state_round_trip(void **unused)
{
    file_state in = {.dev = 2049,
                     .ino = 99,
                     .off = 5120,
                     .line = 20,
                     .fp = UINT64_C(0x9c1f0a3e5b7d2c41),
                     .fp_len = 4096,
                     .path = "/var/spool/kpid/ed \"1\"\\.ndjson"};
    file_state out = {0};
    char *text = NULL, err[256];

    assert_int_equal(file_state_encode(&in, &text), 0);
    assert_string_equal(text,
                        "{\"off\":5120,\"line\":20,\"fp\":\"9c1f0a3e5b7d2c41\",\"fplen\":4096,"
                        "\"path\":\"/var/spool/kpid/ed \\\"1\\\"\\\\.ndjson\"}");
    assert_int_equal(file_state_decode("f:2049:99", text, &out, err, sizeof(err)), 0);
    assert_true(out.dev == 2049 && out.ino == 99);
    assert_int_equal(out.off, 5120);
    assert_int_equal(out.line, 20);
    assert_true(out.fp == in.fp);
    assert_int_equal(out.fp_len, 4096);
    assert_string_equal(out.path, in.path);
    free(out.path);
    free(text);

    /* A path with invalid UTF-8 and control characters is stored printable; a long one
     * is cut, so that the value stays within the state's limit. */
    char path[5000];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[1] = '\n';
    path[2] = (char)0xff;
    path[sizeof(path) - 1] = '\0';
    in.path = path;
    assert_int_equal(file_state_encode(&in, &text), 0);
    assert_true(strlen(text) <= KPID_STATE_VALUE_MAX);
    assert_int_equal(file_state_decode("f:1:2", text, &out, err, sizeof(err)), 0);
    assert_int_equal(strlen(out.path), FILE_STATE_PATH_MAX);
    assert_memory_equal(out.path, "/??ppp", 6);
    free(out.path);
    free(text);
    /* Quotes and backslashes double in JSON: the longest path still fits. */
    memset(path, '"', FILE_STATE_PATH_MAX);
    path[FILE_STATE_PATH_MAX] = '\0';
    assert_int_equal(file_state_encode(&in, &text), 0);
    assert_true(strlen(text) <= KPID_STATE_VALUE_MAX);
    free(text);

    /* Inconsistent positions are not encoded. */
    in.path = "/a";
    in.line = in.off + 1;
    assert_int_equal(file_state_encode(&in, &text), -EINVAL);
    in.line = 0;
    in.off = -1;
    assert_int_equal(file_state_encode(&in, &text), -EINVAL);
    in.off = 0;
    in.fp_len = FILE_FP_MAX + 1;
    assert_int_equal(file_state_encode(&in, &text), -EINVAL);
    in.fp_len = 0;
    in.path = "";
    assert_int_equal(file_state_encode(&in, &text), -EINVAL);
}

static void state_hostile_values(void **unused)
{
#define GOOD_FP "\"fp\":\"00000000000000ff\""
    static const struct {
        const char *value, *error;
    } cases[] = {
        {"", "not JSON at column"},
        {"[]", "not a JSON object"},
        {"\"x\"", "not JSON at column"},
        {"{\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\",\"x\":1}", "unknown key"},
        {"{\"off\":1,\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}",
         "a key is repeated"},
        {"{\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}", "off must be"},
        {"{\"off\":-1,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}", "off must be"},
        {"{\"off\":1.5,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}", "off must be"},
        {"{\"off\":\"1\",\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}", "off must be"},
        {"{\"off\":99999999999999999999,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}",
         "not JSON at column"},
        {"{\"off\":1,\"line\":-1," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}", "line must be"},
        {"{\"off\":1,\"line\":2," GOOD_FP ",\"fplen\":1,\"path\":\"/a\"}",
         "counts more lines (2) than bytes (1)"},
        {"{\"off\":1,\"line\":0,\"fp\":\"00000000000000FF\",\"fplen\":1,\"path\":\"/a\"}",
         "fp must be 16 lowercase hex digits"},
        {"{\"off\":1,\"line\":0,\"fp\":\"0ff\",\"fplen\":1,\"path\":\"/a\"}", "fp must be"},
        {"{\"off\":1,\"line\":0,\"fp\":255,\"fplen\":1,\"path\":\"/a\"}", "fp must be"},
        {"{\"off\":1,\"line\":0,\"fp\":\"000000000000000g\",\"fplen\":1,\"path\":\"/a\"}",
         "fp must be"},
        {"{\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":4097,\"path\":\"/a\"}",
         "fplen must be an integer from 0 to 4096"},
        {"{\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":-1,\"path\":\"/a\"}", "fplen must be"},
        {"{\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"\"}", "path must be"},
        {"{\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":\"/a\\u0000b\"}",
         "not JSON at column"},
        {"{\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":1,\"path\":7}", "path must be"},
        {"{\"off\":1,\"line\":0," GOOD_FP ",\"fplen\":1}", "path must be"},
    };
    file_state out = {.path = (char *)"untouched"};
    char err[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (file_state_decode("f:1:2", cases[i].value, &out, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted: %s", cases[i].value);
        if (!strstr(err, cases[i].error))
            fail_msg("%s: error \"%s\", expected \"%s\"", cases[i].value, err, cases[i].error);
        assert_string_equal(out.path, "untouched");
    }
    /* A key that is not this plugin's, and a value beyond the state's limit. */
    assert_int_equal(file_state_decode("k", "{}", &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "f:DEV:INO"));
    char *big = malloc(KPID_STATE_VALUE_MAX + 2);
    memset(big, ' ', KPID_STATE_VALUE_MAX + 1);
    big[KPID_STATE_VALUE_MAX + 1] = '\0';
    assert_int_equal(file_state_decode("f:1:2", big, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "longer than 4096 bytes"));
    free(big);
    /* The error names no part of the value (it holds a path). */
    assert_int_equal(
        file_state_decode("f:1:2", "{\"path\":\"/secret/x\" junk", &out, err, sizeof(err)),
        -EINVAL);
    assert_null(strstr(err, "secret"));
    /* The smallest valid value. */
    assert_int_equal(file_state_decode("f:0:0",
                                       "{\"off\":0,\"line\":0,\"fp\":\"cbf29ce484222325\","
                                       "\"fplen\":0,\"path\":\"/\"}",
                                       &out, err, sizeof(err)),
                     0);
    assert_int_equal(out.off, 0);
    assert_int_equal(out.fp_len, 0);
    assert_true(out.fp == FILE_FP_INIT);
    free(out.path);
}

static void cursor_versions(void **unused)
{
    char err[256];

    assert_int_equal(file_cursor_version("{\"v\":2}", err, sizeof(err)), 2);
    assert_int_equal(file_cursor_version(" { \"v\" : 2 } ", err, sizeof(err)), 2);
    assert_int_equal(file_cursor_version(FILE_CURSOR_V2_TEXT, err, sizeof(err)), 2);
    assert_int_equal(file_cursor_version("{\"v\":1,\"files\":[]}", err, sizeof(err)), 1);
    assert_int_equal(file_cursor_version("{\"v\":2,\"files\":[]}", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unknown top-level key");
    assert_int_equal(file_cursor_version("{\"v\":3}", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "version 3 is not supported; this plugin reads versions 1 and 2");
    assert_int_equal(file_cursor_version("{\"v\":\"2\"}", err, sizeof(err)), -EINVAL);
    assert_int_equal(file_cursor_version("[2]", err, sizeof(err)), -EINVAL);
    assert_int_equal(file_cursor_version("{\"v\":2,\"v\":2}", err, sizeof(err)), -EINVAL);
    assert_int_equal(file_cursor_version("2", err, sizeof(err)), -EINVAL);
}

typedef struct item {
    file_table_item item;
    int alive;
} item;

/* Many additions and removals: every lookup agrees with a plain array. */
static void table_consistent(void **unused)
{
    enum { N = 20000 };
    static item items[N];
    file_table t = {0};
    unsigned seed = 12345;

    for (size_t i = 0; i < N; i++) {
        /* Consecutive inodes on two devices, as file systems hand them out. */
        items[i].item.dev = i % 2 ? 2049 : 64768;
        items[i].item.ino = 1000 + i / 2;
        assert_int_equal(file_table_add(&t, &items[i].item), 0);
        items[i].alive = 1;
    }
    assert_int_equal(file_table_add(&t, &items[7].item), -EEXIST);
    assert_int_equal(t.n, N);
    for (int round = 0; round < 4; round++) {
        for (size_t k = 0; k < N / 3; k++) {
            size_t i = (size_t)rand_r(&seed) % N;
            if (items[i].alive) {
                file_table_remove(&t, &items[i].item);
                items[i].alive = 0;
            } else {
                assert_int_equal(file_table_add(&t, &items[i].item), 0);
                items[i].alive = 1;
            }
        }
        size_t alive = 0;
        for (size_t i = 0; i < N; i++) {
            file_table_item *got = file_table_get(&t, items[i].item.dev, items[i].item.ino);
            assert_ptr_equal(got, items[i].alive ? &items[i].item : NULL);
            alive += (size_t)items[i].alive;
        }
        assert_int_equal(t.n, alive);
        for (size_t i = 0; i < t.n; i++)
            assert_int_equal(t.all[i]->index, i);
    }
    assert_null(file_table_get(&t, 1, 1));
    /* Removing while walking all[] from the end visits every item once. */
    for (size_t i = t.n; i-- > 0;)
        file_table_remove(&t, t.all[i]);
    assert_int_equal(t.n, 0);
    for (size_t i = 0; i < N; i++)
        assert_null(file_table_get(&t, items[i].item.dev, items[i].item.ino));
    file_table_clear(&t);
    file_table_clear(&t);
    file_table_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fingerprint_vectors), cmocka_unit_test(state_keys),
        cmocka_unit_test(state_round_trip),    cmocka_unit_test(state_hostile_values),
        cmocka_unit_test(cursor_versions),     cmocka_unit_test(table_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
