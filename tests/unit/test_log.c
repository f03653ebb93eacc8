/* Unit tests of log value escaping (kpid_log_escape, kpid_log_value): quotes,
 * backslashes and control characters are escaped, UTF-8 text passes, a value cut to its
 * buffer never ends in half an escape, and a line written with kpid_log stays one
 * parseable line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ops/log.h"

static void expect_escaped(const char *in, const char *want)
{
    char buf[KPID_LOG_VALUE_MAX];

    assert_ptr_equal(kpid_log_escape(in, buf, sizeof(buf)), buf);
    assert_string_equal(buf, want);
}

static void escapes_quotes_backslashes_controls(void **unused)
{
    expect_escaped("plain text 123", "plain text 123");
    expect_escaped("ERROR:  relation \"kpid.event\" does not exist",
                   "ERROR:  relation \\\"kpid.event\\\" does not exist");
    expect_escaped("C:\\temp\\\"x\"", "C:\\\\temp\\\\\\\"x\\\"");
    expect_escaped("a\nb\rc\td", "a\\nb\\rc\\td");
    expect_escaped("\x01\x1b[31m\x1f\x7f", "\\x01\\x1b[31m\\x1f\\x7f");
    expect_escaped("", "");
    expect_escaped(NULL, "");
}

static void utf8_passes_invalid_bytes_escaped(void **unused)
{
    expect_escaped("Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80",
                   "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80");
    expect_escaped("\xff", "\\xff");
    expect_escaped("\xc3\x28", "\\xc3(");
    expect_escaped("\xc0\xaf", "\\xc0\\xaf");                   /* overlong '/' */
    expect_escaped("\xe0\x80\xaf", "\\xe0\\x80\\xaf");          /* overlong, 3 bytes */
    expect_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80");          /* a surrogate */
    expect_escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* beyond U+10FFFF */
    expect_escaped("ab\xe2\x82", "ab\\xe2\\x82");               /* cut short */
    /* C1 controls and the line and paragraph separators are escaped byte by byte. */
    expect_escaped("\xc2\x85\xc2\x9b", "\\xc2\\x85\\xc2\\x9b");
    expect_escaped("a\xe2\x80\xa8"
                   "b\xe2\x80\xa9",
                   "a\\xe2\\x80\\xa8b\\xe2\\x80\\xa9");
    expect_escaped("\xc2\xa0", "\xc2\xa0"); /* U+00A0 is printable */
}

static void cut_at_escape_boundary(void **unused)
{
    char buf[10];

    /* What fits in size - 1 bytes is written whole, without "...". */
    assert_string_equal(kpid_log_escape("abcdefghi", buf, sizeof(buf)), "abcdefghi");
    assert_string_equal(kpid_log_escape("abcde\"fg", buf, sizeof(buf)), "abcde\\\"fg");
    /* Longer text is cut and ends with "...", never in the middle of an escape or of a
     * character. */
    assert_string_equal(kpid_log_escape("abcdefghij", buf, sizeof(buf)), "abcdef...");
    assert_string_equal(kpid_log_escape("abcde\"ghij", buf, sizeof(buf)), "abcde...");
    assert_string_equal(kpid_log_escape("abcd\x01ghij", buf, sizeof(buf)), "abcd...");
    assert_string_equal(kpid_log_escape("abcde\xe2\x82\xac"
                                        "fgh",
                                        buf, sizeof(buf)),
                        "abcde...");
    /* Tiny buffers still get a terminated string. */
    assert_string_equal(kpid_log_escape("abc", buf, 1), "");
    assert_string_equal(kpid_log_escape("abc", buf, 3), "");
    assert_string_equal(kpid_log_escape("ab", buf, 3), "ab");
    assert_string_equal(kpid_log_escape("abcd", buf, 4), "...");

    /* A long value fills KPID_LOG_VALUE_MAX and no more. */
    char *longtext = malloc(100000);
    assert_non_null(longtext);
    memset(longtext, '"', 99999);
    longtext[99999] = '\0';
    const char *v = kpid_log_value(longtext);
    assert_int_equal(strlen(v), KPID_LOG_VALUE_MAX - 1);
    assert_memory_equal(v, "\\\"\\\"", 4);
    assert_string_equal(v + strlen(v) - 3, "...");
    free(longtext);
}

/* Undoes kpid_log_escape; returns the length of the text. */
static size_t unescape(const char *s, char *out)
{
    size_t o = 0;
    for (; *s; s++) {
        if (*s != '\\') {
            out[o++] = *s;
            continue;
        }
        s++;
        switch (*s) {
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'x': {
            char hex[3] = {s[1], s[2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            s += 2;
            break;
        }
        default: out[o++] = *s;
        }
    }
    out[o] = '\0';
    return o;
}

/* Random bytes: the escaped text has no unescaped quote, no control byte and no
 * backslash but those of the escapes, and unescapes to the input. */
static void random_bytes_round_trip(void **unused)
{
    uint64_t x = 88172645463325252u;
    char in[200], back[200];

    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 199);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* Mostly ASCII and UTF-8 lead and continuation bytes. */
            unsigned v = (unsigned)(x >> 32) % 300;
            in[i] = v < 256 ? (char)v : "\"\\\n\xc3\xa9\xe2\x82\xac"[v % 8];
            if (in[i] == '\0')
                in[i] = 'z';
        }
        in[n] = '\0';
        const char *e = kpid_log_value(in);
        for (const char *p = e; *p; p++) {
            unsigned char c = (unsigned char)*p;
            assert_true(c >= 0x20 && c != 0x7f);
            if (*p == '\\') {
                p++;
                assert_non_null(strchr("\"\\nrtx", *p));
            } else
                assert_true(*p != '"');
        }
        assert_int_equal(unescape(e, back), n);
        assert_memory_equal(back, in, n);
    }
}

/* A log line with an escaped value, as written to stderr. */
static void log_line_with_value(void **unused)
{
    char path[] = "/tmp/kpid-test-log.XXXXXX", line[256];
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    FILE *f;

    assert_true(fd >= 0 && saved >= 0);
    unlink(path);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    kpid_log(KPID_LOG_WARNING, "warehouse unavailable sqlstate=42P01 error=\"%s\"; retrying",
             kpid_log_value("ERROR:  relation \"kpid.event\" does not exist\nLINE 1: x"));
    dup2(saved, STDERR_FILENO);
    close(saved);
    f = fdopen(fd, "r");
    assert_non_null(f);
    rewind(f);
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "<4>warehouse unavailable sqlstate=42P01 error=\"ERROR:  relation "
                              "\\\"kpid.event\\\" does not exist\\nLINE 1: x\"; retrying\n");
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_quotes_backslashes_controls),
        cmocka_unit_test(utf8_passes_invalid_bytes_escaped),
        cmocka_unit_test(cut_at_escape_boundary),
        cmocka_unit_test(random_bytes_round_trip),
        cmocka_unit_test(log_line_with_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
