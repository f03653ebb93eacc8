/* Unit tests of pseudonymization: HMAC-SHA256 against RFC 4231 vectors, and key files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest/pseudonym.h"

/* RFC 4231 test case 2 uses a 4-byte key; kpid refuses short key files but the HMAC
 * primitive itself must match the standard for any key. */
static void rfc4231_case2(void **unused)
{
    char out[KPID_PSEUDONYM_HEX_LEN + 1];
    const char *data = "what do ya want for nothing?";
    assert_int_equal(kpid_pseudonymize((const uint8_t *)"Jefe", 4, data, strlen(data), out), 0);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231 test case 6: a 131-byte key (longer than the block size). */
static void rfc4231_case6(void **unused)
{
    uint8_t key[131];
    char out[KPID_PSEUDONYM_HEX_LEN + 1];
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    memset(key, 0xaa, sizeof(key));
    assert_int_equal(kpid_pseudonymize(key, sizeof(key), data, strlen(data), out), 0);
    assert_string_equal(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/*
 * The thread keeps one keyed context: a call with another key (even one of the same
 * length, at the same address, as after a reload) must not reuse the old key, and going
 * back gives the first results again.
 */
static void key_changes_on_one_thread(void **unused)
{
    uint8_t key[131];
    char a[KPID_PSEUDONYM_HEX_LEN + 1], b[KPID_PSEUDONYM_HEX_LEN + 1];
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    const char *jefe = "what do ya want for nothing?";

    (void)unused;
    for (int round = 0; round < 3; round++) {
        memset(key, 0xaa, sizeof(key));
        assert_int_equal(kpid_pseudonymize(key, sizeof(key), data, strlen(data), a), 0);
        assert_string_equal(a, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        key[130] = 0xab; /* same address, same length, another key */
        assert_int_equal(kpid_pseudonymize(key, sizeof(key), data, strlen(data), b), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(kpid_pseudonymize((const uint8_t *)"Jefe", 4, jefe, strlen(jefe), a), 0);
        assert_string_equal(a, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        /* The same key twice in a row: the context is reset, not extended. */
        assert_int_equal(kpid_pseudonymize((const uint8_t *)"Jefe", 4, jefe, strlen(jefe), b), 0);
        assert_string_equal(a, b);
    }
}

static char *write_temp(const char *content, size_t len)
{
    char *path = strdup("/tmp/kpid-key-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void key_file_trailing_newline_stripped(void **unused)
{
    const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char *path =
        write_temp("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 65);
    uint8_t *key = NULL;
    size_t len = 0;
    char *err = NULL;

    assert_int_equal(kpid_pseudonym_key_load(path, &key, &len, &err), 0);
    assert_null(err);
    assert_int_equal(len, 64);
    assert_memory_equal(key, hex, 64);
    /* Same identifier, same key: same pseudonym; another identifier: another one. */
    char a[65], b[65], c[65];
    kpid_pseudonymize(key, len, "P0001", 5, a);
    kpid_pseudonymize(key, len, "P0001", 5, b);
    kpid_pseudonymize(key, len, "P0002", 5, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    kpid_pseudonym_key_free(key, len);
    unlink(path);
    free(path);
}

static void short_key_refused(void **unused)
{
    char *path = write_temp("tooshort\n", 9);
    uint8_t *key = NULL;
    size_t len = 0;
    char *err = NULL;

    assert_int_equal(kpid_pseudonym_key_load(path, &key, &len, &err), -EINVAL);
    assert_null(key);
    assert_non_null(err);
    assert_non_null(strstr(err, "has 8 bytes; it needs 32"));
    free(err);
    unlink(path);
    free(path);
}

static void missing_key_refused(void **unused)
{
    uint8_t *key = NULL;
    size_t len = 0;
    char *err = NULL;

    assert_int_equal(kpid_pseudonym_key_load("/nonexistent/kpid.key", &key, &len, &err), -ENOENT);
    assert_non_null(strstr(err, "cannot read pseudonym key file \"/nonexistent/kpid.key\""));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4231_case2),
        cmocka_unit_test(rfc4231_case6),
        cmocka_unit_test(key_changes_on_one_thread),
        cmocka_unit_test(key_file_trailing_newline_stripped),
        cmocka_unit_test(short_key_refused),
        cmocka_unit_test(missing_key_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
