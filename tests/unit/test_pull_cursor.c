/* lib/pull: event times, watermarks and the overlap window; the cursor, encoded and
 * decoded, and hostile cursors refused. */
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

#include "pull/cursor.h"
#include "pull/position.h"

static kpid_pull_query ts_query = {
    .name = (char *)"admissions",
    .watermark = (char *)"updated_at",
    .tiebreaker = (char *)"id",
    .watermark_type = KPID_PULL_WM_TIMESTAMP,
    .overlap = 300LL * 1000000,
};

static kpid_pull_query int_query = {
    .name = (char *)"tomb",
    .watermark = (char *)"row_xid",
    .tiebreaker = (char *)"k",
    .watermark_type = KPID_PULL_WM_INTEGER,
    .overlap = 100,
};

static int64_t t(const char *s)
{
    int64_t us = 0;
    const char *why = NULL;

    if (kpid_pull_time_parse(s, strlen(s), &us, &why) < 0) {
        fprintf(stderr, "\"%s\": %s\n", s, why);
        fail();
    }
    return us;
}

static void time_bad(const char *s)
{
    int64_t us = 42;
    const char *why = NULL;

    if (kpid_pull_time_parse(s, strlen(s), &us, &why) != -EINVAL) {
        fprintf(stderr, "accepted \"%s\"\n", s);
        fail();
    }
    assert_non_null(why);
    assert_int_equal(us, 42);
}

static void test_time(void **state)
{
    (void)state;
    /* PostgreSQL's ISO output, in UTC and elsewhere; RFC 3339. */
    assert_int_equal(t("1970-01-01 00:00:00+00"), 0);
    assert_int_equal(t("2024-03-01 10:00:00.123456+00"), 1709287200123456LL);
    assert_int_equal(t("2024-03-01 10:00:00.5+00"), 1709287200500000LL);
    assert_int_equal(t("2024-03-01 15:30:00+05:30"), 1709287200000000LL);
    assert_int_equal(t("2024-03-01 05:00:00-05"), 1709287200000000LL);
    assert_int_equal(t("1900-01-01 00:00:00+01:02:03"), t("1899-12-31 22:57:57+00"));
    assert_int_equal(t("1900-01-01 00:00:00-00:30:15"), t("1900-01-01 00:30:15+00"));
    assert_int_equal(t("2024-03-01T10:00:00Z"), 1709287200000000LL);
    assert_int_equal(t("2024-03-01T10:00:00.1234567+00:00"), 1709287200123456LL);
    assert_int_equal(t("0001-01-01 00:00:00+00"), -62135596800LL * 1000000);
    assert_int_equal(t("9999-12-31 23:59:59.999999+00"), 253402300799999999LL);
    assert_int_equal(t("1969-12-31 23:59:59.999999+00"), -1);

    time_bad("");
    time_bad("infinity");
    time_bad("-infinity");
    time_bad("2024-03-01 10:00:00"); /* a timestamp without time zone */
    time_bad("2024-03-01");          /* a date */
    time_bad("0044-03-15 12:00:00+00 BC");
    time_bad("2024-03-01 10:00:00+0");
    time_bad("2024-03-01 10:00:00+00:0");
    time_bad("2024-03-01 10:00:00+1a");
    time_bad("2024-03-01 10:00:00+01:02:60");
    time_bad("2024-02-30 10:00:00+00");
    time_bad("2024-03-01 24:00:00+00");
    time_bad("2024-03-01 10:00:00.+00");
    time_bad("0001-01-01 00:00:00+01"); /* before year 0001 in UTC */
    time_bad("9999-12-31 23:00:00-01"); /* after year 9999 in UTC */
    time_bad("12024-03-01 10:00:00+00");
    time_bad("2024-03-01 10:00:00+00x");
}

static void test_watermark(void **state)
{
    int64_t v;
    const char *why;

    (void)state;
    assert_int_equal(kpid_pull_wm_parse(KPID_PULL_WM_INTEGER, "0", &v, NULL), 0);
    assert_int_equal(v, 0);
    assert_int_equal(kpid_pull_wm_parse(KPID_PULL_WM_INTEGER, "-17", &v, NULL), 0);
    assert_int_equal(v, -17);
    assert_int_equal(kpid_pull_wm_parse(KPID_PULL_WM_INTEGER, "9223372036854775807", &v, NULL), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(kpid_pull_wm_parse(KPID_PULL_WM_INTEGER, "-9223372036854775808", &v, NULL), 0);
    assert_true(v == INT64_MIN);
    static const char *const bad[] = {"",
                                      "-",
                                      "+1",
                                      "01",
                                      "-0",
                                      "1.0",
                                      "1e3",
                                      " 1",
                                      "1 ",
                                      "0x1",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "18446744073709551616"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (kpid_pull_wm_parse(KPID_PULL_WM_INTEGER, bad[i], &v, &why) != -EINVAL) {
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
            fail();
        }
        assert_non_null(why);
    }
    assert_int_equal(kpid_pull_wm_parse(KPID_PULL_WM_TIMESTAMP, "2024-03-01 10:00:00+00", &v, NULL),
                     0);
    assert_int_equal(kpid_pull_wm_parse(KPID_PULL_WM_TIMESTAMP, "17", &v, NULL), -EINVAL);
    assert_int_equal(kpid_pull_wm_parse((enum kpid_pull_wm_type)9, "17", &v, NULL), -EINVAL);
    assert_string_equal(kpid_pull_wm_type_name(KPID_PULL_WM_INTEGER), "integer");
    assert_string_equal(kpid_pull_wm_type_name((enum kpid_pull_wm_type)9), "?");
}

static void test_overlap(void **state)
{
    char out[KPID_PULL_WM_TEXT_MAX];
    int64_t v;
    kpid_pull_query q;

    (void)state;
    /* Timestamp minus a duration, printed as PostgreSQL reads it back. */
    assert_int_equal(
        kpid_pull_overlap_start(&ts_query, "2024-03-01 10:00:00.25+00", out, sizeof(out), &v), 1);
    assert_string_equal(out, "2024-03-01 09:55:00.250000+00");
    assert_int_equal(v, t("2024-03-01 09:55:00.25+00"));
    assert_int_equal(
        kpid_pull_overlap_start(&ts_query, "2024-03-01 00:02:00+05:30", out, sizeof(out), NULL), 1);
    assert_string_equal(out, "2024-02-29 18:27:00.000000+00");
    /* Before year 0001: from the start. */
    assert_int_equal(
        kpid_pull_overlap_start(&ts_query, "0001-01-01 00:01:00+00", out, sizeof(out), &v), 0);
    assert_string_equal(out, "");
    /* Integer minus a count. */
    assert_int_equal(kpid_pull_overlap_start(&int_query, "1000", out, sizeof(out), &v), 1);
    assert_string_equal(out, "900");
    assert_int_equal(v, 900);
    assert_int_equal(kpid_pull_overlap_start(&int_query, "50", out, sizeof(out), NULL), 1);
    assert_string_equal(out, "-50");
    q = int_query;
    q.overlap = 10;
    assert_int_equal(kpid_pull_overlap_start(&q, "-9223372036854775800", out, sizeof(out), NULL),
                     0);
    assert_int_equal(kpid_pull_overlap_start(&q, "-9223372036854775798", out, sizeof(out), NULL),
                     1);
    assert_string_equal(out, "-9223372036854775808");
    /* Not a watermark of the type; a buffer too small. */
    assert_int_equal(
        kpid_pull_overlap_start(&int_query, "2024-03-01 10:00:00+00", out, sizeof(out), NULL),
        -EINVAL);
    assert_int_equal(kpid_pull_overlap_start(&ts_query, "1000", out, sizeof(out), NULL), -EINVAL);
    assert_int_equal(kpid_pull_overlap_start(&int_query, "1000", out, 8, NULL), -ENOBUFS);
}

static char *encode(const kpid_pull_cursor *c)
{
    kpid_buf b = {0};

    assert_int_equal(kpid_pull_cursor_encode(c, &b), 0);
    assert_int_equal(strlen(b.data), b.len);
    return b.data;
}

static void test_round_trip(void **state)
{
    kpid_pull_cursor c = {0}, d = {0};
    char *text, *again, err[256];

    (void)state;
    text = encode(&c);
    assert_string_equal(text, "{\"v\":1,\"queries\":{}}");
    assert_int_equal(kpid_pull_cursor_decode(text, strlen(text), &d, err, sizeof(err)), 0);
    assert_int_equal(d.n, 0);
    free(text);

    assert_int_equal(kpid_pull_cursor_set(&c, &ts_query, "2024-03-01 10:00:00.5+00", "E1"), 0);
    assert_int_equal(kpid_pull_cursor_set(&c, &int_query, "123456789", "k \"q\" \\ \n ü"), 0);
    assert_int_equal(kpid_pull_cursor_set(&c, &ts_query, "2024-03-01 11:00:00+00", "E2"), 0);
    assert_int_equal(c.n, 2);
    text = encode(&c);
    assert_string_equal(
        text, "{\"v\":1,\"queries\":{\"admissions\":{\"type\":\"timestamp\",\"watermark_column\":"
              "\"updated_at\",\"tiebreaker_column\":\"id\",\"watermark\":\"2024-03-01 "
              "11:00:00+00\",\"tiebreaker\":\"E2\"},\"tomb\":{\"type\":\"integer\","
              "\"watermark_column\":\"row_xid\",\"tiebreaker_column\":\"k\",\"watermark\":"
              "\"123456789\",\"tiebreaker\":\"k \\\"q\\\" \\\\ \\n ü\"}}}");
    assert_int_equal(kpid_pull_cursor_decode(text, strlen(text), &d, err, sizeof(err)), 0);
    assert_int_equal(d.n, 2);
    const kpid_pull_position *p = kpid_pull_cursor_find(&d, "tomb");
    assert_non_null(p);
    assert_int_equal(p->type, KPID_PULL_WM_INTEGER);
    assert_string_equal(p->tiebreaker, "k \"q\" \\ \n ü");
    assert_true(kpid_pull_position_matches(p, &int_query));
    assert_false(kpid_pull_position_matches(p, &ts_query));
    kpid_pull_query moved = int_query;
    moved.tiebreaker = (char *)"other";
    assert_false(kpid_pull_position_matches(p, &moved));
    assert_null(kpid_pull_cursor_find(&d, "nope"));
    again = encode(&d);
    assert_string_equal(again, text);
    free(again);
    kpid_pull_cursor_remove(&d, "admissions");
    kpid_pull_cursor_remove(&d, "nope");
    assert_int_equal(d.n, 1);
    assert_null(kpid_pull_cursor_find(&d, "admissions"));
    free(text);
    kpid_pull_cursor_clear(&c);
    kpid_pull_cursor_clear(&d);
    kpid_pull_cursor_clear(NULL);
}

static void test_set_refuses(void **state)
{
    kpid_pull_cursor c = {0};
    char big[KPID_PULL_VALUE_MAX + 2];

    (void)state;
    assert_int_equal(kpid_pull_cursor_set(&c, &ts_query, "1000", "x"), -EINVAL);
    assert_int_equal(kpid_pull_cursor_set(&c, &int_query, "x", "x"), -EINVAL);
    assert_int_equal(kpid_pull_cursor_set(&c, &int_query, "1", "\xff"), -EINVAL);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(kpid_pull_cursor_set(&c, &int_query, "1", big), -E2BIG);
    big[KPID_PULL_VALUE_MAX] = '\0';
    assert_int_equal(kpid_pull_cursor_set(&c, &int_query, "1", big), 0);
    assert_int_equal(c.n, 1);
    kpid_pull_cursor_clear(&c);
}

/* The encoded text may not exceed KPID_PULL_CURSOR_MAX: control characters escape to six
 * bytes each. */
static void test_encode_too_big(void **state)
{
    kpid_pull_cursor c = {0};
    char ctl[KPID_PULL_VALUE_MAX + 1], name[8];
    kpid_buf b = {0};

    (void)state;
    memset(ctl, '\x01', KPID_PULL_VALUE_MAX);
    ctl[KPID_PULL_VALUE_MAX] = '\0';
    for (int i = 0; i < KPID_PULL_QUERIES_MAX; i++) {
        kpid_pull_query q = int_query;
        snprintf(name, sizeof(name), "q%d", i);
        q.name = name;
        assert_int_equal(kpid_pull_cursor_set(&c, &q, "1", ctl), 0);
    }
    assert_int_equal(kpid_buf_putc(&b, 'x'), 0);
    assert_int_equal(kpid_pull_cursor_encode(&c, &b), -E2BIG);
    assert_int_equal(b.len, 1); /* unchanged */
    kpid_buf_free(&b);
    kpid_pull_cursor_clear(&c);
}

static void bad(const char *text, const char *want)
{
    kpid_pull_cursor c = {0};
    char err[256];

    if (kpid_pull_cursor_decode(text, strlen(text), &c, err, sizeof(err)) != -EINVAL) {
        fprintf(stderr, "accepted: %s\n", text);
        fail();
    }
    assert_int_equal(c.n, 0);
    assert_null(c.v);
    if (!strstr(err, want)) {
        fprintf(stderr, "%s: message \"%s\" lacks \"%s\"\n", text, err, want);
        fail();
    }
}

#define POS(type, wm)                                                                 \
    "{\"type\":\"" type "\",\"watermark_column\":\"u\",\"tiebreaker_column\":\"id\"," \
    "\"watermark\":\"" wm "\",\"tiebreaker\":\"1\"}"

static void test_hostile(void **state)
{
    (void)state;
    bad("", "not a JSON object");
    bad("null", "not a JSON object");
    bad("[]", "not a JSON object");
    bad("{}", "no version");
    bad("{\"v\":1}", "no \"queries\"");
    bad("{\"queries\":{}}", "no version");
    bad("{\"v\":2,\"queries\":{}}", "version 2 is not supported");
    bad("{\"v\":1.0,\"queries\":{}}", "version 1.0");
    bad("{\"v\":\"1\",\"queries\":{}}", "\"v\" must be a number");
    bad("{\"v\":1,\"v\":1,\"queries\":{}}", "duplicate");
    bad("{\"v\":1,\"queries\":{},\"x\":0}", "unknown top-level key");
    bad("{\"v\":1,\"queries\":[]}", "\"queries\" must be an object");
    bad("{\"v\":1,\"queries\":{}} x", "not valid JSON");
    bad("{\"v\":1,\"queries\":{}", "not valid JSON");
    bad("{\"v\":1,\"queries\":{\"Q\":" POS("integer", "1") "}}", "is not [a-z0-9_]");
    bad("{\"v\":1,\"queries\":{\"\":" POS("integer", "1") "}}", "is not [a-z0-9_]");
    bad("{\"v\":1,\"queries\":{\"q\":1}}", "queries.q must be an object");
    bad("{\"v\":1,\"queries\":{\"q\":{}}}", "queries.q has no type");
    bad("{\"v\":1,\"queries\":{\"q\":" POS("integer", "1") ",\"q\":" POS("integer", "2") "}}",
        "duplicate");
    bad("{\"v\":1,\"queries\":{\"q\":" POS("date", "1") "}}", "type must be");
    bad("{\"v\":1,\"queries\":{\"q\":" POS("integer", "01") "}}", "queries.q.watermark is not");
    bad("{\"v\":1,\"queries\":{\"q\":" POS("integer", "1.5") "}}", "queries.q.watermark is not");
    bad("{\"v\":1,\"queries\":{\"q\":" POS("timestamp", "1") "}}", "queries.q.watermark is not");
    bad("{\"v\":1,\"queries\":{\"q\":" POS("timestamp", "2024-03-01 10:00:00") "}}",
        "queries.q.watermark is not a timestamp");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":\"integer\",\"watermark_column\":\"u\","
        "\"tiebreaker_column\":\"id\",\"watermark\":\"1\",\"tiebreaker\":2}}}",
        "tiebreaker must be a string");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":\"integer\",\"watermark_column\":\"u\","
        "\"tiebreaker_column\":\"id\",\"watermark\":\"1\",\"tiebreaker\":\"x\",\"extra\":\"\"}}}",
        "unknown key");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":\"integer\",\"watermark_column\":\"\","
        "\"tiebreaker_column\":\"id\",\"watermark\":\"1\",\"tiebreaker\":\"x\"}}}",
        "names a column");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":\"integer\",\"watermark_column\":\"a\\u0001\","
        "\"tiebreaker_column\":\"id\",\"watermark\":\"1\",\"tiebreaker\":\"x\"}}}",
        "names a column");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":\"integer\",\"watermark_column\":\"u\","
        "\"tiebreaker_column\":\"id\",\"watermark\":\"1\",\"tiebreaker\":\"\\u0000\"}}}",
        "not valid JSON");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":\"integer\",\"watermark_column\":\"u\","
        "\"tiebreaker_column\":\"id\",\"watermark\":\"1\",\"tiebreaker\":\"\xc3\x28\"}}}",
        "not valid JSON");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":\"integer\",\"watermark_column\":\"u\","
        "\"tiebreaker_column\":\"id\",\"watermark\":\"1\",\"tiebreaker\":{\"x\":[]}}}}",
        "");
    bad("{\"v\":1,\"queries\":{\"q\":{\"type\":{\"a\":{\"b\":1}}}}}", "");

    /* Too many queries, and too long. */
    kpid_buf b = {0};
    assert_int_equal(kpid_buf_append(&b, "{\"v\":1,\"queries\":{", 18), 0);
    for (int i = 0; i <= KPID_PULL_QUERIES_MAX; i++) {
        char one[256];
        int n = snprintf(one, sizeof(one), "%s\"q%d\":" POS("integer", "1"), i ? "," : "", i);
        assert_int_equal(kpid_buf_append(&b, one, (size_t)n), 0);
    }
    assert_int_equal(kpid_buf_append(&b, "}}", 3), 0);
    bad(b.data, "more than 32 queries");
    b.len = 0;
    assert_int_equal(kpid_buf_reserve(&b, KPID_PULL_CURSOR_MAX + 2), 0);
    memset(b.data, ' ', KPID_PULL_CURSOR_MAX + 1);
    b.data[KPID_PULL_CURSOR_MAX + 1] = '\0';
    bad(b.data, "longer than");
    kpid_buf_free(&b);

    /* Not NUL-terminated, and a NUL inside the length. */
    kpid_pull_cursor c = {0};
    char err[128];
    const char *ok = "{\"v\":1,\"queries\":{}}";
    assert_int_equal(kpid_pull_cursor_decode(ok, strlen(ok) - 1, &c, err, sizeof(err)), -EINVAL);
    assert_int_equal(
        kpid_pull_cursor_decode("{\"v\":1,\"queries\":{}}\0x", 23, &c, err, sizeof(err)), -EINVAL);
    assert_int_equal(kpid_pull_cursor_decode(ok, strlen(ok), &c, NULL, 0), 0);
    kpid_pull_cursor_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),        cmocka_unit_test(test_watermark),
        cmocka_unit_test(test_overlap),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_set_refuses), cmocka_unit_test(test_encode_too_big),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
