/* lib/time/rfc3339.c: RFC 3339 timestamps to microseconds since the epoch, and dates;
 * lib/time/civil.c against counting days one by one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "time/civil.h"
#include "time/rfc3339.h"

static int parse(const char *s, int64_t *ret_us)
{
    return kpid_rfc3339_parse(s, strlen(s), ret_us, NULL);
}

static void expect_us(const char *s, int64_t expected)
{
    int64_t us = INT64_MIN;

    if (parse(s, &us) != 0)
        fail_msg("\"%s\" refused", s);
    if (us != expected)
        fail_msg("\"%s\": %lld, expected %lld", s, (long long)us, (long long)expected);
}

/* Refused, with *ret_us untouched and the reason containing why_part. */
static void expect_invalid(const char *s, const char *why_part)
{
    int64_t us = 42;
    const char *why = NULL;

    if (kpid_rfc3339_parse(s, strlen(s), &us, &why) != -EINVAL)
        fail_msg("\"%s\" accepted as %lld", s, (long long)us);
    assert_int_equal(us, 42);
    assert_non_null(why);
    if (why_part && !strstr(why, why_part))
        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", s, why, why_part);
}

static void test_epoch_and_forms(void **state)
{
    expect_us("1970-01-01T00:00:00Z", 0);
    expect_us("1970-01-01t00:00:00z", 0);
    expect_us("1970-01-01 00:00:00Z", 0);
    expect_us("1970-01-01T00:00:00+00:00", 0);
    expect_us("1970-01-01T00:00:00-00:00", 0);
    expect_us("1970-01-01T00:00:01Z", 1000000);
    expect_us("2023-06-15T10:20:30.123456Z", 1686824430123456);
    expect_us("2023-06-15 10:20:30.123456z", 1686824430123456);
}

static void test_offsets(void **state)
{
    expect_us("2024-03-01T08:15:00+01:00", 1709277300000000);
    expect_us("2024-03-01T07:15:00Z", 1709277300000000);
    expect_us("2000-02-29T12:00:00-05:30", 951845400000000);
    expect_us("2024-03-01T00:00:00+23:59", 1709251200000000 - (23 * 3600 + 59 * 60) * 1000000LL);
    expect_us("2024-03-01T00:00:00-23:59", 1709251200000000 + (23 * 3600 + 59 * 60) * 1000000LL);
    /* The extremes of the range, shifted past it by their offsets. */
    expect_us("0001-01-01T00:00:00+23:59", -62135683140000000);
    expect_us("9999-12-31T23:59:59-23:59", 253402387139000000);
}

static void test_fractions(void **state)
{
    expect_us("1970-01-01T00:00:00.5Z", 500000);
    expect_us("1970-01-01T00:00:00.05Z", 50000);
    expect_us("1970-01-01T00:00:00.000001Z", 1);
    expect_us("1970-01-01T00:00:00.0000009Z", 0); /* truncated */
    expect_us("1970-01-01T00:00:00.999999999Z", 999999);
    expect_us("1970-01-01T00:00:00.123456789Z", 123456);
    expect_us("1970-01-01T00:00:00.000000000Z", 0);
    /* Before the epoch, truncation still goes towards the past. */
    expect_us("1969-12-31T23:59:59.5Z", -500000);
    expect_us("1969-12-31T23:59:59.9999999Z", -1);
    expect_invalid("1970-01-01T00:00:00.1234567890Z", "9 fraction digits");
    expect_invalid("1970-01-01T00:00:00.Z", "decimal point");
    expect_invalid("1970-01-01T00:00:00,5Z", "time zone");
}

static void test_range_ends(void **state)
{
    expect_us("0001-01-01T00:00:00Z", -62135596800000000);
    expect_us("9999-12-31T23:59:59.999999Z", 253402300799999999);
    expect_invalid("0000-01-01T00:00:00Z", "year");
    expect_invalid("-001-01-01T00:00:00Z", "YYYY-MM-DD");
    expect_invalid("10000-01-01T00:00:00Z", "YYYY-MM-DD");
}

static void test_leap_years(void **state)
{
    expect_us("2024-02-29T23:59:59.999999Z", 1709251199999999);
    expect_us("2000-02-29T00:00:00Z", 951782400000000);
    expect_invalid("2023-02-29T00:00:00Z", "day");
    expect_invalid("1900-02-29T00:00:00Z", "day"); /* divisible by 100, not 400 */
    expect_invalid("2100-02-29T00:00:00Z", "day");
    expect_invalid("2024-02-30T00:00:00Z", "day");
    expect_us("2100-02-28T00:00:00Z", 4107456000000000);
    expect_us("1900-03-01T00:00:00Z", -2203891200000000);
}

static void test_month_ends(void **state)
{
    static const char *const last_days[] = {
        "2023-01-31", "2023-02-28", "2023-03-31", "2023-04-30", "2023-05-31", "2023-06-30",
        "2023-07-31", "2023-08-31", "2023-09-30", "2023-10-31", "2023-11-30", "2023-12-31",
    };
    static const char *const past_ends[] = {
        "2023-01-32", "2023-02-29", "2023-03-32", "2023-04-31", "2023-05-32", "2023-06-31",
        "2023-07-32", "2023-08-32", "2023-09-31", "2023-10-32", "2023-11-31", "2023-12-32",
    };
    char s[64];
    int64_t us, next;

    for (int m = 0; m < 12; m++) {
        snprintf(s, sizeof(s), "%sT23:59:59Z", last_days[m]);
        assert_int_equal(parse(s, &us), 0);
        /* The next second is the first of the next month. */
        snprintf(s, sizeof(s), "%s-%02d-01T00:00:00Z", m == 11 ? "2024" : "2023",
                 m == 11 ? 1 : m + 2);
        assert_int_equal(parse(s, &next), 0);
        assert_int_equal(next - us, 1000000);
        snprintf(s, sizeof(s), "%sT00:00:00Z", past_ends[m]);
        expect_invalid(s, "day");
    }
}

/* days_from_civil agrees with counting days one by one over the whole range, and
 * civil_from_days, days_in_month and leap_year with it. */
static void test_days_from_civil_exhaustive(void **state)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t expected = kpid_days_from_civil(1, 1, 1);

    assert_int_equal(expected, -719162);
    assert_int_equal(kpid_days_from_civil(1970, 1, 1), 0);
    for (int y = 1; y <= 9999; y++) {
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        assert_int_equal(kpid_leap_year(y), leap);
        for (int m = 1; m <= 12; m++) {
            int n = mdays[m - 1] + (m == 2 && leap);
            assert_int_equal(kpid_days_in_month(y, m), n);
            for (int d = 1; d <= n; d++) {
                int64_t yy;
                int mm, dd;
                if (kpid_days_from_civil(y, m, d) != expected)
                    fail_msg("%04d-%02d-%02d: %lld, expected %lld", y, m, d,
                             (long long)kpid_days_from_civil(y, m, d), (long long)expected);
                kpid_civil_from_days(expected, &yy, &mm, &dd);
                if (yy != y || mm != m || dd != d)
                    fail_msg("day %lld: %04lld-%02d-%02d, expected %04d-%02d-%02d",
                             (long long)expected, (long long)yy, mm, dd, y, m, d);
                expected++;
            }
        }
    }
}

static void test_out_of_range_fields(void **state)
{
    expect_invalid("2024-00-10T00:00:00Z", "month");
    expect_invalid("2024-13-10T00:00:00Z", "month");
    expect_invalid("2024-01-00T00:00:00Z", "day");
    expect_invalid("2024-01-32T00:00:00Z", "day");
    expect_invalid("2024-01-10T24:00:00Z", "hour");
    expect_invalid("2024-01-10T99:00:00Z", "hour");
    expect_invalid("2024-01-10T00:60:00Z", "minute");
    expect_invalid("2024-01-10T00:00:61Z", "second");
    expect_invalid("2024-01-10T00:00:99Z", "second");
    expect_invalid("2024-01-10T00:00:00+24:00", "offset");
    expect_invalid("2024-01-10T00:00:00-24:00", "offset");
    expect_invalid("2024-01-10T00:00:00+00:60", "offset");
    expect_invalid("2024-01-10T00:00:00+99:99", "offset");
}

static void test_leap_seconds(void **state)
{
    /* In the last minute of a UTC day: 23:59:59.999999 UTC of that day. */
    expect_us("2016-12-31T23:59:60Z", 1483228799999999);
    expect_us("2016-12-31T23:59:60.5Z", 1483228799999999);
    expect_us("2016-12-31T18:59:60-05:00", 1483228799999999);
    expect_us("2017-01-01T05:29:60+05:30", 1483228799999999);
    /* It stays before the next day and after the last ordinary second. */
    int64_t leap, before, after;
    assert_int_equal(parse("2016-12-31T23:59:60Z", &leap), 0);
    assert_int_equal(parse("2016-12-31T23:59:59.999998Z", &before), 0);
    assert_int_equal(parse("2017-01-01T00:00:00Z", &after), 0);
    assert_true(before < leap && leap < after);
    /* Anywhere else it cannot be. */
    expect_invalid("2016-12-31T23:58:60Z", "leap second");
    expect_invalid("2016-12-31T12:59:60Z", "leap second");
    expect_invalid("2016-12-31T23:59:60+01:00", "leap second");
}

static void test_truncated(void **state)
{
    const char *full = "2024-03-01T08:15:00.123+01:00";
    char s[64];

    /* Every proper prefix is refused, except those that end in a complete form. */
    for (size_t n = 0; n < strlen(full); n++) {
        int64_t us = 42;
        memcpy(s, full, n);
        assert_int_equal(kpid_rfc3339_parse(s, n, &us, NULL), -EINVAL);
        assert_int_equal(us, 42);
    }
    expect_invalid("2024-03-01T08:15:00", "time zone");
    expect_invalid("2024-03-01T08:15:00+01", "offset");
    expect_invalid("2024-03-01T08:15:00+01:0", "offset");
    expect_invalid("2024-03-01T08:15Z", NULL);
    expect_invalid("2024-03-01", NULL);
    expect_invalid("", NULL);
}

static void test_garbage(void **state)
{
    expect_invalid("2024-3-01T08:15:00Z", NULL);
    expect_invalid("2024/03/01T08:15:00Z", "YYYY-MM-DD");
    expect_invalid("2024-03-01X08:15:00Z", "'T'");
    expect_invalid("2024-03-01T08.15.00Z", "HH:MM:SS");
    expect_invalid("2024-03-01T08:15:00ZZ", "trailing");
    expect_invalid("2024-03-01T08:15:00Z ", "trailing");
    expect_invalid(" 2024-03-01T08:15:00Z", NULL);
    expect_invalid("2024-03-01T08:15:00+0100", "offset");
    expect_invalid("2024-03-01T08:15:00+01:00x", "trailing");
    expect_invalid("2024-03-01T08:15:00 UTC", "time zone");
    expect_invalid("2024-03-01T08:15:00.+01:00", "decimal point");
    expect_invalid("２０２４-03-01T08:15:00Z", NULL);
    expect_invalid("2024-03-01T08:15:00\xff", NULL);
    expect_invalid("1709277300", NULL);
    expect_invalid("not a timestamp at all", NULL);
    const char nul[] = "1970-01-01T00:00:00\0Z";
    int64_t t = 42;
    assert_int_equal(kpid_rfc3339_parse(nul, sizeof(nul) - 1, &t, NULL), -EINVAL);
    assert_int_equal(t, 42);

    /* Not NUL-terminated: only len bytes are read. */
    const char buf[] = "1970-01-01T00:00:00Zgarbage";
    int64_t us = -1;
    assert_int_equal(kpid_rfc3339_parse(buf, 20, &us, NULL), 0);
    assert_int_equal(us, 0);
    assert_int_equal(kpid_rfc3339_parse(buf, sizeof(buf) - 1, &us, NULL), -EINVAL);
}

static void expect_date(const char *s, int y, int m, int d)
{
    int yy = 0, mm = 0, dd = 0;
    const char *why = NULL;

    if (kpid_rfc3339_parse_date(s, strlen(s), &yy, &mm, &dd, &why) != 0)
        fail_msg("\"%s\" refused: %s", s, why);
    assert_int_equal(yy, y);
    assert_int_equal(mm, m);
    assert_int_equal(dd, d);
}

static void expect_bad_date(const char *s, const char *why_part)
{
    int y = 42, m = 42, d = 42;
    const char *why = NULL;

    if (kpid_rfc3339_parse_date(s, strlen(s), &y, &m, &d, &why) != -EINVAL)
        fail_msg("\"%s\" accepted", s);
    assert_true(y == 42 && m == 42 && d == 42);
    assert_non_null(why);
    if (!strstr(why, why_part))
        fail_msg("\"%s\": \"%s\" does not say \"%s\"", s, why, why_part);
}

/* Dates (full-date) and months: exactly YYYY-MM-DD and YYYY-MM, real dates only. */
static void test_dates(void **state)
{
    int y = 0, m = 0, d = 0;
    const char *why = NULL;

    expect_date("2024-02-29", 2024, 2, 29);
    expect_date("0001-01-01", 1, 1, 1);
    expect_date("9999-12-31", 9999, 12, 31);
    expect_bad_date("2023-02-29", "day out of range");
    expect_bad_date("2024-13-01", "month out of range");
    expect_bad_date("0000-01-01", "year 0000");
    expect_bad_date("2024-1-01", "YYYY-MM-DD");
    expect_bad_date(" 2024-01-01", "YYYY-MM-DD"); /* sscanf("%4d") would take these */
    expect_bad_date("+024-01-01", "YYYY-MM-DD");
    expect_bad_date("2024-01- 1", "YYYY-MM-DD");
    expect_bad_date("2024-01-01x", "YYYY-MM-DD");
    expect_bad_date("2024-01-01T00:00:00Z", "YYYY-MM-DD");
    expect_bad_date("", "YYYY-MM-DD");
    /* Only len bytes are read. */
    assert_int_equal(kpid_rfc3339_parse_date("2024-01-01x", 10, &y, &m, &d, NULL), 0);
    assert_int_equal(d, 1);

    assert_int_equal(kpid_rfc3339_parse_month("2024-02", 7, &y, &m, &why), 0);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(kpid_rfc3339_parse_month("2024-13", 7, &y, &m, &why), -EINVAL);
    assert_string_equal(why, "month out of range");
    assert_int_equal(kpid_rfc3339_parse_month("2024-02-01", 10, &y, &m, &why), -EINVAL);
    assert_int_equal(kpid_rfc3339_parse_month("2024- 2", 7, &y, &m, &why), -EINVAL);
    assert_string_equal(why, "month is not YYYY-MM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_and_forms),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_range_ends),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_month_ends),
        cmocka_unit_test(test_days_from_civil_exhaustive),
        cmocka_unit_test(test_out_of_range_fields),
        cmocka_unit_test(test_leap_seconds),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
