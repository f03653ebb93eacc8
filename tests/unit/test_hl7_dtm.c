/* Unit tests of lib/hl7's DTM/TS times: each precision, fractions, offsets and their
 * bounds, wall times in Europe/Berlin across both DST changes (gap and overlap),
 * impossible dates and times, garbage, and TS fields read from a message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hl7/hl7.h"

static kpid_tz *berlin;

static int setup(void **unused)
{
    char *err = NULL;

    if (kpid_tz_load("Europe/Berlin", &berlin, &err) < 0) {
        free(err);
        return -1;
    }
    return 0;
}

static int teardown(void **unused)
{
    berlin = kpid_tz_free(berlin);
    return 0;
}

/* Microseconds of the UTC time y-mo-d h:mi:s. */
static int64_t utc_us(int y, int mo, int d, int h, int mi, int s)
{
    return (kpid_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000000;
}

static kpid_hl7_time parse(const char *text, const kpid_tz *tz)
{
    kpid_hl7_time t = {0};
    const char *why = NULL;

    if (kpid_hl7_dtm_parse(text, strlen(text), tz, &t, &why) < 0)
        fail_msg("%s: %s", text, why);
    return t;
}

static void expect(const char *text, const kpid_tz *tz, int64_t us, kpid_hl7_precision precision)
{
    const kpid_hl7_time t = parse(text, tz);

    assert_int_equal(t.us, us);
    assert_int_equal(t.precision, precision);
}

static void expect_bad(const char *text, int r, const char *why)
{
    kpid_hl7_time t = {.us = 42};
    const char *got = NULL;

    assert_int_equal(kpid_hl7_dtm_parse(text, strlen(text), NULL, &t, &got), r);
    assert_int_equal(t.us, 42);
    assert_string_equal(got, why);
}

static void test_precision(void **unused)
{
    expect("2024", NULL, utc_us(2024, 1, 1, 0, 0, 0), KPID_HL7_YEAR);
    expect("202403", NULL, utc_us(2024, 3, 1, 0, 0, 0), KPID_HL7_MONTH);
    expect("20240315", NULL, utc_us(2024, 3, 15, 0, 0, 0), KPID_HL7_DAY);
    expect("2024031512", NULL, utc_us(2024, 3, 15, 12, 0, 0), KPID_HL7_HOUR);
    expect("202403151234", NULL, utc_us(2024, 3, 15, 12, 34, 0), KPID_HL7_MINUTE);
    expect("20240315123456", NULL, utc_us(2024, 3, 15, 12, 34, 56), KPID_HL7_SECOND);
    expect("20240315123456.1", NULL, utc_us(2024, 3, 15, 12, 34, 56) + 100000, KPID_HL7_FRACTION);
    expect("20240315123456.12", NULL, utc_us(2024, 3, 15, 12, 34, 56) + 120000, KPID_HL7_FRACTION);
    expect("20240315123456.1234", NULL, utc_us(2024, 3, 15, 12, 34, 56) + 123400,
           KPID_HL7_FRACTION);
    expect("20240315123456.0", NULL, utc_us(2024, 3, 15, 12, 34, 56), KPID_HL7_FRACTION);
    expect("19700101", NULL, 0, KPID_HL7_DAY);
    expect("19691231235959.9999", NULL, -100, KPID_HL7_FRACTION);
    expect("00010101", NULL, utc_us(1, 1, 1, 0, 0, 0), KPID_HL7_DAY);
    expect("99991231235959", NULL, utc_us(9999, 12, 31, 23, 59, 59), KPID_HL7_SECOND);
    expect("20240229", NULL, utc_us(2024, 2, 29, 0, 0, 0), KPID_HL7_DAY);
    expect("20000229", NULL, utc_us(2000, 2, 29, 0, 0, 0), KPID_HL7_DAY);
}

static void test_offsets(void **unused)
{
    kpid_hl7_time t = parse("20240315123456+0100", berlin);

    assert_int_equal(t.us, utc_us(2024, 3, 15, 11, 34, 56));
    assert_true(t.has_offset);
    assert_int_equal(t.offset_s, 3600);
    assert_int_equal(t.precision, KPID_HL7_SECOND);
    t = parse("20240315123456.5-0530", NULL);
    assert_int_equal(t.us, utc_us(2024, 3, 15, 18, 4, 56) + 500000);
    assert_int_equal(t.offset_s, -19800);
    assert_int_equal(t.precision, KPID_HL7_FRACTION);
    t = parse("20240315+1400", NULL);
    assert_int_equal(t.us, utc_us(2024, 3, 14, 10, 0, 0));
    assert_int_equal(t.precision, KPID_HL7_DAY);
    t = parse("2024-1400", NULL);
    assert_int_equal(t.us, utc_us(2024, 1, 1, 14, 0, 0));
    assert_int_equal(t.precision, KPID_HL7_YEAR);
    t = parse("20240315123456-0000", NULL);
    assert_int_equal(t.us, utc_us(2024, 3, 15, 12, 34, 56));
    assert_true(t.has_offset);
    t = parse("20240315123456", NULL);
    assert_false(t.has_offset);
    assert_int_equal(t.offset_s, 0);

    expect_bad("20240315+1401", -EINVAL, "offset out of range");
    expect_bad("20240315-1500", -EINVAL, "offset out of range");
    expect_bad("20240315+0160", -EINVAL, "offset out of range");
    expect_bad("20240315+01", -EINVAL, "an offset of 4 digits expected");
    expect_bad("20240315+01:00", -EINVAL, "an offset of 4 digits expected");
    expect_bad("20240315+", -EINVAL, "an offset of 4 digits expected");
    expect_bad("20240315+010000", -EINVAL, "unexpected text after the date and time");
    expect_bad("20240315Z", -EINVAL, "unexpected text after the date and time");
    expect_bad("00010101000000+0100", -ERANGE, "date and time out of range");
}

/* Wall times in Europe/Berlin: CET, CEST, the spring gap and the autumn overlap. */
static void test_zone(void **unused)
{
    kpid_hl7_time t;

    t = parse("20240315120000", berlin);
    assert_int_equal(t.us, utc_us(2024, 3, 15, 11, 0, 0));
    assert_int_equal(t.tz_kind, KPID_TZ_UNIQUE);
    assert_false(t.has_offset);
    t = parse("20240715120000", berlin);
    assert_int_equal(t.us, utc_us(2024, 7, 15, 10, 0, 0));
    expect("2024", berlin, utc_us(2023, 12, 31, 23, 0, 0), KPID_HL7_YEAR);
    expect("202407", berlin, utc_us(2024, 6, 30, 22, 0, 0), KPID_HL7_MONTH);
    /* 2024-03-31: 02:00 CET became 03:00 CEST at 01:00Z. */
    t = parse("20240331015959", berlin);
    assert_int_equal(t.us, utc_us(2024, 3, 31, 0, 59, 59));
    assert_int_equal(t.tz_kind, KPID_TZ_UNIQUE);
    t = parse("20240331023000", berlin);
    assert_int_equal(t.us, utc_us(2024, 3, 31, 1, 0, 0));
    assert_int_equal(t.tz_kind, KPID_TZ_GAP);
    t = parse("2024033102", berlin);
    assert_int_equal(t.us, utc_us(2024, 3, 31, 1, 0, 0));
    assert_int_equal(t.tz_kind, KPID_TZ_GAP);
    assert_int_equal(t.precision, KPID_HL7_HOUR);
    t = parse("20240331030000", berlin);
    assert_int_equal(t.us, utc_us(2024, 3, 31, 1, 0, 0));
    assert_int_equal(t.tz_kind, KPID_TZ_UNIQUE);
    /* 2024-10-27: 03:00 CEST became 02:00 CET at 01:00Z; 02:30 happens twice. */
    t = parse("20241027023000.25", berlin);
    assert_int_equal(t.us, utc_us(2024, 10, 27, 0, 30, 0) + 250000);
    assert_int_equal(t.tz_kind, KPID_TZ_OVERLAP);
    t = parse("20241027023000+0100", berlin);
    assert_int_equal(t.us, utc_us(2024, 10, 27, 1, 30, 0));
    assert_int_equal(t.tz_kind, KPID_TZ_UNIQUE);
    t = parse("20241027033000", berlin);
    assert_int_equal(t.us, utc_us(2024, 10, 27, 2, 30, 0));
}

static void test_invalid(void **unused)
{
    expect_bad("", -EINVAL, "a year of 4 digits expected");
    expect_bad("202", -EINVAL, "a year of 4 digits expected");
    expect_bad("abcd", -EINVAL, "a year of 4 digits expected");
    expect_bad("2024-03-15", -EINVAL, "an offset of 4 digits expected");
    expect_bad("2024031", -EINVAL, "a date or time cut within a part");
    expect_bad("202403151234567", -EINVAL, "a date or time cut within a part");
    expect_bad("2024031512345678", -EINVAL, "a date or time cut within a part");
    expect_bad("0000", -EINVAL, "year out of range");
    expect_bad("202400", -EINVAL, "month out of range");
    expect_bad("202413", -EINVAL, "month out of range");
    expect_bad("20240230", -EINVAL, "day out of range for the month");
    expect_bad("20230229", -EINVAL, "day out of range for the month");
    expect_bad("19000229", -EINVAL, "day out of range for the month");
    expect_bad("20240431", -EINVAL, "day out of range for the month");
    expect_bad("20240100", -EINVAL, "day out of range for the month");
    expect_bad("2024031524", -EINVAL, "hour out of range");
    expect_bad("20240315240000", -EINVAL, "hour out of range");
    expect_bad("202403151260", -EINVAL, "minute out of range");
    expect_bad("20240315235960", -EINVAL, "second out of range");
    expect_bad("20240315123456.", -EINVAL, "a fraction of 1 to 4 digits expected");
    expect_bad("20240315123456.12345", -EINVAL, "a fraction of 1 to 4 digits expected");
    expect_bad("202403151234.5", -EINVAL, "a fraction without seconds");
    expect_bad("20240315.5", -EINVAL, "a fraction without seconds");
    expect_bad("20240315 ", -EINVAL, "unexpected text after the date and time");
    expect_bad(" 20240315", -EINVAL, "a year of 4 digits expected");
    expect_bad("20240315^D", -EINVAL, "unexpected text after the date and time");

    /* Not NUL-terminated: only len bytes are read. */
    kpid_hl7_time t;
    assert_int_equal(kpid_hl7_dtm_parse("2024031599", 8, NULL, &t, NULL), 0);
    assert_int_equal(t.us, utc_us(2024, 3, 15, 0, 0, 0));
}

/* TS fields of a message: the first component, whatever the precision component says. */
static void test_from_message(void **unused)
{
    static const char text[] = "MSH|^~\\&|A|F|R|G|20240315143012+0100||ADT^A01|C|P|2.3\r"
                               "EVN|A01|200708181123^M\r"
                               "PID|1||42||Doe^Jane||19640812|F||\"\"|x^20240301\r";
    kpid_hl7_msg *m = NULL;
    kpid_hl7_path p;
    kpid_hl7_time t;
    const char *why = NULL;

    assert_int_equal(kpid_hl7_parse(text, sizeof(text) - 1, NULL, &m, NULL), 0);
    assert_int_equal(kpid_hl7_path_parse("MSH-7", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, berlin, &t, NULL), 0);
    assert_int_equal(t.us, utc_us(2024, 3, 15, 13, 30, 12));
    assert_int_equal(kpid_hl7_path_parse("EVN-2", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, berlin, &t, NULL), 0);
    assert_int_equal(t.us, utc_us(2007, 8, 18, 9, 23, 0));
    assert_int_equal(t.precision, KPID_HL7_MINUTE);
    assert_int_equal(kpid_hl7_path_parse("PID-7", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, NULL, &t, NULL), 0);
    assert_int_equal(t.us, utc_us(1964, 8, 12, 0, 0, 0));
    assert_int_equal(kpid_hl7_path_parse("PID-9", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, NULL, &t, &why), -ENOENT);
    assert_string_equal(why, "no value");
    assert_int_equal(kpid_hl7_path_parse("PID-10", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, NULL, &t, &why), -ENODATA);
    assert_string_equal(why, "null value");
    assert_int_equal(kpid_hl7_path_parse("PID-11", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, NULL, &t, &why), -EINVAL);
    assert_string_equal(why, "a year of 4 digits expected");
    assert_int_equal(kpid_hl7_path_parse("PID-11.2", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, NULL, &t, &why), 0);
    assert_int_equal(t.us, utc_us(2024, 3, 1, 0, 0, 0));
    kpid_hl7_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precision),    cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_zone),         cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_from_message),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
