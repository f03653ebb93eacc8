/* Unit tests of reporting periods: parsing and its errors, every kind in UTC,
 * Asia/Almaty and Europe/Berlin, days of 23 and 25 hours, a day whose midnight does not
 * exist (Sao Paulo 2018), week starts, ISO week labels against an independent formula,
 * fiscal years, boundaries, and 1000-step next/prev chains. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "time/period.h"
#include "time_fixture.h"

static kpid_period_spec spec(const char *text)
{
    kpid_period_spec s;
    char err[200] = "";
    if (kpid_period_parse(text, &s, err, sizeof(err)) < 0)
        fail_msg("\"%s\": %s", text, err);
    return s;
}

/* Checks the period containing t in tz, and its label. */
static void expect_period(const char *text, const kpid_tz *tz, int64_t t, int64_t start,
                          int64_t end, const char *label)
{
    kpid_period_spec s = spec(text);
    kpid_interval iv = {0, 0};
    char buf[KPID_PERIOD_LABEL_MAX];
    int r = kpid_period_containing(&s, tz, t, &iv);
    if (r != 0 || iv.start != start || iv.end != end)
        fail_msg("%s in %s at %" PRId64 ": r=%d [%" PRId64 ", %" PRId64 "), expected [%" PRId64
                 ", %" PRId64 ")",
                 text, kpid_tz_name(tz), t, r, iv.start, iv.end, start, end);
    assert_int_equal(kpid_period_label(&s, tz, &iv, buf, sizeof(buf)), 0);
    assert_string_equal(buf, label);
}

/* ---- parsing ----------------------------------------------------------------------- */

static void parse_forms(void **unused)
{
    assert_int_equal(spec("day").kind, KPID_PERIOD_DAY);
    assert_int_equal(spec("Day").kind, KPID_PERIOD_DAY);
    assert_int_equal(spec("month").kind, KPID_PERIOD_MONTH);
    assert_int_equal(spec("quarter").kind, KPID_PERIOD_QUARTER);
    assert_int_equal(spec("year").kind, KPID_PERIOD_YEAR);

    kpid_period_spec s = spec("week");
    assert_int_equal(s.kind, KPID_PERIOD_WEEK);
    assert_int_equal(s.first_weekday, 1);
    assert_int_equal(spec("week:sunday").first_weekday, 0);
    assert_int_equal(spec("week:Sun").first_weekday, 0);
    assert_int_equal(spec("week:monday").first_weekday, 1);
    assert_int_equal(spec("week:SATURDAY").first_weekday, 6);
    assert_int_equal(spec("week:wed").first_weekday, 3);

    s = spec("fiscal_year:4");
    assert_int_equal(s.kind, KPID_PERIOD_FISCAL_YEAR);
    assert_int_equal(s.first_month, 4);
    assert_int_equal(spec("fiscal_year:1").first_month, 1);
    assert_int_equal(spec("fiscal_year:12").first_month, 12);
    assert_int_equal(spec("fiscal_year:07").first_month, 7);

    s = spec("last 24h");
    assert_int_equal(s.kind, KPID_PERIOD_ROLLING);
    assert_int_equal(s.seconds, 86400);
    assert_int_equal(spec("last 30d").seconds, 30 * 86400);
    assert_int_equal(spec("last 90m").seconds, 90 * 60);
    assert_int_equal(spec("last 2w").seconds, 14 * 86400);
    assert_int_equal(spec("last  1H").seconds, 3600);
    assert_int_equal(spec("LAST 36525d").seconds, KPID_PERIOD_ROLLING_MAX_S);
}

static void expect_error(const char *text, const char *message)
{
    kpid_period_spec s, before;
    char err[240] = "";
    memset(&s, 0x5a, sizeof(s));
    before = s;
    if (kpid_period_parse(text, &s, err, sizeof(err)) != -EINVAL)
        fail_msg("\"%s\" parsed", text);
    assert_string_equal(err, message);
    assert_memory_equal(&s, &before, sizeof(s));
}

static void parse_errors(void **unused)
{
    expect_error("", "empty period");
    expect_error("fortnight",
                 "unknown period \"fortnight\" (expected day, week, week:DAY, month, quarter, "
                 "year, fiscal_year:MONTH or last N followed by m, h, d or w)");
    expect_error("day:1",
                 "unknown period \"day:1\" (expected day, week, week:DAY, month, quarter, year, "
                 "fiscal_year:MONTH or last N followed by m, h, d or w)");
    expect_error(" day",
                 "unknown period \" day\" (expected day, week, week:DAY, month, quarter, year, "
                 "fiscal_year:MONTH or last N followed by m, h, d or w)");
    expect_error("week:funday",
                 "unknown weekday \"funday\" in \"week:funday\" (expected monday ... sunday)");
    expect_error("week:", "unknown weekday \"\" in \"week:\" (expected monday ... sunday)");
    expect_error("week:su", "unknown weekday \"su\" in \"week:su\" (expected monday ... sunday)");
    expect_error("fiscal_year", "fiscal_year needs its first month, as in \"fiscal_year:4\" "
                                "for a fiscal year starting in April");
    expect_error("fiscal_year:13", "fiscal year first month \"13\" is not a month number 1-12");
    expect_error("fiscal_year:0", "fiscal year first month \"0\" is not a month number 1-12");
    expect_error("fiscal_year:", "fiscal year first month \"\" is not a month number 1-12");
    expect_error("fiscal_year:apr", "fiscal year first month \"apr\" is not a month number 1-12");
    expect_error("fiscal_year:4x", "fiscal year first month \"4x\" is not a month number 1-12");
    expect_error("fiscal_year:99999999999",
                 "fiscal year first month \"99999999999\" is not a month number 1-12");
    expect_error("last", "rolling window \"last\": expected \"last N\" and a unit m, h, d or w, "
                         "as in \"last 24h\"");
    expect_error("last h", "rolling window \"last h\": expected \"last N\" and a unit m, h, d or "
                           "w, as in \"last 24h\"");
    expect_error("last 24", "rolling window \"last 24\": expected \"last N\" and a unit m, h, d "
                            "or w, as in \"last 24h\"");
    expect_error("last -1h", "rolling window \"last -1h\": expected \"last N\" and a unit m, h, "
                             "d or w, as in \"last 24h\"");
    expect_error("last 24x",
                 "rolling window \"last 24x\": unknown unit \"x\" (expected m, h, d or w)");
    expect_error("last 24hours",
                 "rolling window \"last 24hours\": unknown unit \"hours\" (expected m, h, d or w)");
    expect_error("last 24h ",
                 "rolling window \"last 24h \": unknown unit \"h \" (expected m, h, d or w)");
    expect_error("last 0h", "rolling window \"last 0h\" is empty");
    expect_error("last 36526d", "rolling window \"last 36526d\" is longer than 100 years");
    expect_error("last 99999999999999999999999w",
                 "rolling window \"last 99999999999999999999999w\" is longer than 100 years");
    expect_error("last\n1d", "unknown period \"last?1d\" (expected day, week, week:DAY, month, "
                             "quarter, year, fiscal_year:MONTH or last N followed by m, h, d or "
                             "w)");

    kpid_period_spec s;
    char small[8];
    assert_int_equal(kpid_period_parse("hour", &s, small, sizeof(small)), -EINVAL);
    assert_string_equal(small, "unknown");
    assert_int_equal(kpid_period_parse("hour", &s, NULL, 0), -EINVAL);
}

/* ---- calendar periods -------------------------------------------------------------- */

static void days(void **unused)
{
    kpid_tz *berlin = tf_load("Europe/Berlin"), *almaty = tf_load("Asia/Almaty");

    expect_period("day", NULL, tf_utc(2025, 3, 30, 12, 0, 0), tf_utc(2025, 3, 30, 0, 0, 0),
                  tf_utc(2025, 3, 31, 0, 0, 0), "2025-03-30");
    expect_period("day", berlin, tf_utc(2025, 6, 1, 12, 0, 0), tf_utc(2025, 5, 31, 22, 0, 0),
                  tf_utc(2025, 6, 1, 22, 0, 0), "2025-06-01");
    /* Spring forward: a 23-hour day. */
    expect_period("day", berlin, tf_utc(2025, 3, 30, 12, 0, 0), tf_utc(2025, 3, 29, 23, 0, 0),
                  tf_utc(2025, 3, 30, 22, 0, 0), "2025-03-30");
    /* Fall back: a 25-hour day, both passes of 02:00-03:00 in it. */
    expect_period("day", berlin, tf_utc(2025, 10, 26, 0, 30, 0), tf_utc(2025, 10, 25, 22, 0, 0),
                  tf_utc(2025, 10, 26, 23, 0, 0), "2025-10-26");
    expect_period("day", berlin, tf_utc(2025, 10, 26, 1, 30, 0), tf_utc(2025, 10, 25, 22, 0, 0),
                  tf_utc(2025, 10, 26, 23, 0, 0), "2025-10-26");
    /* Almaty: +06 to +05 at midnight of 2024-03-01, so February 29th had 25 hours. */
    expect_period("day", almaty, tf_utc(2024, 2, 29, 18, 30, 0), tf_utc(2024, 2, 28, 18, 0, 0),
                  tf_utc(2024, 2, 29, 19, 0, 0), "2024-02-29");
    expect_period("day", almaty, tf_utc(2024, 2, 29, 19, 0, 0), tf_utc(2024, 2, 29, 19, 0, 0),
                  tf_utc(2024, 3, 1, 19, 0, 0), "2024-03-01");
    expect_period("day", almaty, tf_utc(2025, 7, 1, 0, 0, 0), tf_utc(2025, 6, 30, 19, 0, 0),
                  tf_utc(2025, 7, 1, 19, 0, 0), "2025-07-01");
    /* Across the year end, in local time. */
    expect_period("day", berlin, tf_utc(2025, 12, 31, 23, 30, 0), tf_utc(2025, 12, 31, 23, 0, 0),
                  tf_utc(2026, 1, 1, 23, 0, 0), "2026-01-01");
    expect_period("day", almaty, tf_utc(2025, 12, 31, 18, 59, 59), tf_utc(2025, 12, 30, 19, 0, 0),
                  tf_utc(2025, 12, 31, 19, 0, 0), "2025-12-31");
    kpid_tz_free(berlin);
    kpid_tz_free(almaty);
}

static void midnight_skipped(void **unused)
{
    kpid_tz *tz = tf_load("America/Sao_Paulo");

    /* 2018-11-04: clocks went from 00:00 to 01:00, so the day began at 01:00 (03:00Z). */
    expect_period("day", tz, tf_utc(2018, 11, 4, 15, 0, 0), tf_utc(2018, 11, 4, 3, 0, 0),
                  tf_utc(2018, 11, 5, 2, 0, 0), "2018-11-04");
    expect_period("day", tz, tf_utc(2018, 11, 4, 2, 59, 59), tf_utc(2018, 11, 3, 3, 0, 0),
                  tf_utc(2018, 11, 4, 3, 0, 0), "2018-11-03");
    /* 2018-02-18: clocks went from 00:00 back to 23:00, so February 17th had 25 hours. */
    expect_period("day", tz, tf_utc(2018, 2, 18, 2, 30, 0), tf_utc(2018, 2, 17, 2, 0, 0),
                  tf_utc(2018, 2, 18, 3, 0, 0), "2018-02-17");
    expect_period("month", tz, tf_utc(2018, 11, 20, 0, 0, 0), tf_utc(2018, 11, 1, 3, 0, 0),
                  tf_utc(2018, 12, 1, 2, 0, 0), "2018-11");
    kpid_tz_free(tz);
}

static void weeks(void **unused)
{
    kpid_tz *berlin = tf_load("Europe/Berlin"), *almaty = tf_load("Asia/Almaty");

    /* Monday weeks are ISO weeks. */
    expect_period("week", NULL, tf_utc(2025, 3, 26, 12, 0, 0), tf_utc(2025, 3, 24, 0, 0, 0),
                  tf_utc(2025, 3, 31, 0, 0, 0), "2025-W13");
    expect_period("week:sunday", NULL, tf_utc(2025, 3, 26, 12, 0, 0), tf_utc(2025, 3, 23, 0, 0, 0),
                  tf_utc(2025, 3, 30, 0, 0, 0), "2025-W13");
    /* A Sunday belongs to the Monday week before it and starts a Sunday week. */
    expect_period("week", NULL, tf_utc(2025, 3, 30, 12, 0, 0), tf_utc(2025, 3, 24, 0, 0, 0),
                  tf_utc(2025, 3, 31, 0, 0, 0), "2025-W13");
    expect_period("week:sunday", NULL, tf_utc(2025, 3, 30, 12, 0, 0), tf_utc(2025, 3, 30, 0, 0, 0),
                  tf_utc(2025, 4, 6, 0, 0, 0), "2025-W14");
    /* Across year ends: the week belongs to the year of its 4th day. */
    expect_period("week", NULL, tf_utc(2024, 12, 31, 12, 0, 0), tf_utc(2024, 12, 30, 0, 0, 0),
                  tf_utc(2025, 1, 6, 0, 0, 0), "2025-W01");
    expect_period("week", NULL, tf_utc(2021, 1, 1, 12, 0, 0), tf_utc(2020, 12, 28, 0, 0, 0),
                  tf_utc(2021, 1, 4, 0, 0, 0), "2020-W53");
    expect_period("week", NULL, tf_utc(2027, 1, 1, 12, 0, 0), tf_utc(2026, 12, 28, 0, 0, 0),
                  tf_utc(2027, 1, 4, 0, 0, 0), "2026-W53");
    expect_period("week:sunday", NULL, tf_utc(2021, 1, 1, 12, 0, 0), tf_utc(2020, 12, 27, 0, 0, 0),
                  tf_utc(2021, 1, 3, 0, 0, 0), "2020-W53");
    expect_period("week:sunday", NULL, tf_utc(2025, 12, 31, 12, 0, 0),
                  tf_utc(2025, 12, 28, 0, 0, 0), tf_utc(2026, 1, 4, 0, 0, 0),
                  "2025-W53"); /* Wednesday December 31st */
    expect_period("week:sunday", NULL, tf_utc(2026, 1, 4, 12, 0, 0), tf_utc(2026, 1, 4, 0, 0, 0),
                  tf_utc(2026, 1, 11, 0, 0, 0), "2026-W01");
    /* Berlin: the week with the spring change has 167 hours, the fall one 169. */
    expect_period("week", berlin, tf_utc(2025, 3, 30, 12, 0, 0), tf_utc(2025, 3, 23, 23, 0, 0),
                  tf_utc(2025, 3, 30, 22, 0, 0), "2025-W13");
    expect_period("week", berlin, tf_utc(2025, 10, 22, 12, 0, 0), tf_utc(2025, 10, 19, 22, 0, 0),
                  tf_utc(2025, 10, 26, 23, 0, 0), "2025-W43");
    expect_period("week:saturday", almaty, tf_utc(2025, 6, 4, 0, 0, 0),
                  tf_utc(2025, 5, 30, 19, 0, 0), tf_utc(2025, 6, 6, 19, 0, 0), "2025-W22");
    kpid_tz_free(berlin);
    kpid_tz_free(almaty);
}

/* The ISO 8601 week of a date, computed the textbook way. */
static void iso_week(int64_t days, int *ret_year, int *ret_week)
{
    int64_t y;
    int m, d, wd = kpid_weekday_from_days(days), iso_wd = wd == 0 ? 7 : wd;
    kpid_civil_from_days(days, &y, &m, &d);
    int yday = (int)(days - kpid_days_from_civil(y, 1, 1)) + 1;
    int week = (yday - iso_wd + 10) / 7;
    if (week < 1) {
        int64_t py = y - 1;
        int jan1 = kpid_weekday_from_days(kpid_days_from_civil(py, 1, 1));
        week = jan1 == 4 || (jan1 == 3 && kpid_leap_year(py)) ? 53 : 52;
        y = py;
    } else {
        int jan1 = kpid_weekday_from_days(kpid_days_from_civil(y, 1, 1));
        int weeks = jan1 == 4 || (jan1 == 3 && kpid_leap_year(y)) ? 53 : 52;
        if (week > weeks) {
            week = 1;
            y++;
        }
    }
    *ret_year = (int)y;
    *ret_week = week;
}

static void iso_week_labels(void **unused)
{
    kpid_period_spec s = spec("week");
    for (int64_t days = kpid_days_from_civil(1999, 12, 1); days < kpid_days_from_civil(2041, 1, 1);
         days++) {
        kpid_interval iv;
        char buf[KPID_PERIOD_LABEL_MAX], want[KPID_PERIOD_LABEL_MAX];
        int y, w;
        assert_int_equal(kpid_period_containing(&s, NULL, days * 86400 + 43200, &iv), 0);
        assert_int_equal(kpid_period_label(&s, NULL, &iv, buf, sizeof(buf)), 0);
        iso_week(days, &y, &w);
        snprintf(want, sizeof(want), "%04d-W%02d", y, w);
        assert_string_equal(buf, want);
    }
}

static void months_quarters_years(void **unused)
{
    kpid_tz *berlin = tf_load("Europe/Berlin"), *almaty = tf_load("Asia/Almaty");

    expect_period("month", NULL, tf_utc(2024, 2, 15, 0, 0, 0), tf_utc(2024, 2, 1, 0, 0, 0),
                  tf_utc(2024, 3, 1, 0, 0, 0), "2024-02");
    expect_period("month", NULL, tf_utc(2025, 2, 15, 0, 0, 0), tf_utc(2025, 2, 1, 0, 0, 0),
                  tf_utc(2025, 3, 1, 0, 0, 0), "2025-02");
    expect_period("month", berlin, tf_utc(2025, 3, 15, 0, 0, 0), tf_utc(2025, 2, 28, 23, 0, 0),
                  tf_utc(2025, 3, 31, 22, 0, 0), "2025-03");
    expect_period("month", berlin, tf_utc(2025, 12, 31, 23, 0, 0), tf_utc(2025, 12, 31, 23, 0, 0),
                  tf_utc(2026, 1, 31, 23, 0, 0), "2026-01");
    expect_period("month", almaty, tf_utc(2024, 2, 29, 18, 30, 0), tf_utc(2024, 1, 31, 18, 0, 0),
                  tf_utc(2024, 2, 29, 19, 0, 0), "2024-02");

    expect_period("quarter", NULL, tf_utc(2025, 5, 15, 0, 0, 0), tf_utc(2025, 4, 1, 0, 0, 0),
                  tf_utc(2025, 7, 1, 0, 0, 0), "2025-Q2");
    expect_period("quarter", NULL, tf_utc(2025, 3, 31, 23, 59, 59), tf_utc(2025, 1, 1, 0, 0, 0),
                  tf_utc(2025, 4, 1, 0, 0, 0), "2025-Q1");
    expect_period("quarter", NULL, tf_utc(2025, 4, 1, 0, 0, 0), tf_utc(2025, 4, 1, 0, 0, 0),
                  tf_utc(2025, 7, 1, 0, 0, 0), "2025-Q2");
    expect_period("quarter", NULL, tf_utc(2025, 12, 1, 0, 0, 0), tf_utc(2025, 10, 1, 0, 0, 0),
                  tf_utc(2026, 1, 1, 0, 0, 0), "2025-Q4");
    expect_period("quarter", berlin, tf_utc(2025, 2, 1, 0, 0, 0), tf_utc(2024, 12, 31, 23, 0, 0),
                  tf_utc(2025, 3, 31, 22, 0, 0), "2025-Q1");
    expect_period("quarter", almaty, tf_utc(2024, 3, 31, 19, 0, 0), tf_utc(2024, 3, 31, 19, 0, 0),
                  tf_utc(2024, 6, 30, 19, 0, 0), "2024-Q2");

    expect_period("year", NULL, tf_utc(2024, 7, 1, 0, 0, 0), tf_utc(2024, 1, 1, 0, 0, 0),
                  tf_utc(2025, 1, 1, 0, 0, 0), "2024");
    expect_period("year", almaty, tf_utc(2024, 7, 1, 0, 0, 0), tf_utc(2023, 12, 31, 18, 0, 0),
                  tf_utc(2024, 12, 31, 19, 0, 0), "2024");
    expect_period("year", berlin, tf_utc(2025, 12, 31, 22, 59, 59), tf_utc(2024, 12, 31, 23, 0, 0),
                  tf_utc(2025, 12, 31, 23, 0, 0), "2025");
    expect_period("year", berlin, tf_utc(2025, 12, 31, 23, 0, 0), tf_utc(2025, 12, 31, 23, 0, 0),
                  tf_utc(2026, 12, 31, 23, 0, 0), "2026");
    kpid_tz_free(berlin);
    kpid_tz_free(almaty);
}

static void fiscal_years(void **unused)
{
    kpid_tz *berlin = tf_load("Europe/Berlin");

    /* Starting in April, named by the year it starts in. */
    expect_period("fiscal_year:4", NULL, tf_utc(2025, 5, 1, 0, 0, 0), tf_utc(2025, 4, 1, 0, 0, 0),
                  tf_utc(2026, 4, 1, 0, 0, 0), "FY2025");
    expect_period("fiscal_year:4", NULL, tf_utc(2026, 3, 31, 23, 59, 59),
                  tf_utc(2025, 4, 1, 0, 0, 0), tf_utc(2026, 4, 1, 0, 0, 0), "FY2025");
    expect_period("fiscal_year:4", NULL, tf_utc(2026, 4, 1, 0, 0, 0), tf_utc(2026, 4, 1, 0, 0, 0),
                  tf_utc(2027, 4, 1, 0, 0, 0), "FY2026");
    expect_period("fiscal_year:4", NULL, tf_utc(2025, 1, 15, 0, 0, 0), tf_utc(2024, 4, 1, 0, 0, 0),
                  tf_utc(2025, 4, 1, 0, 0, 0), "FY2024");
    expect_period("fiscal_year:4", berlin, tf_utc(2025, 5, 1, 0, 0, 0),
                  tf_utc(2025, 3, 31, 22, 0, 0), tf_utc(2026, 3, 31, 22, 0, 0), "FY2025");
    expect_period("fiscal_year:10", NULL, tf_utc(2025, 9, 30, 0, 0, 0),
                  tf_utc(2024, 10, 1, 0, 0, 0), tf_utc(2025, 10, 1, 0, 0, 0), "FY2024");
    expect_period("fiscal_year:12", NULL, tf_utc(2025, 12, 1, 0, 0, 0),
                  tf_utc(2025, 12, 1, 0, 0, 0), tf_utc(2026, 12, 1, 0, 0, 0), "FY2025");

    /* Starting in January, it is the calendar year. */
    kpid_period_spec fy = spec("fiscal_year:1"), year = spec("year");
    for (int64_t t = tf_utc(2020, 1, 1, 0, 0, 0); t < tf_utc(2031, 1, 1, 0, 0, 0);
         t += 86400 * 5 + 3601) {
        kpid_interval a, b;
        char la[KPID_PERIOD_LABEL_MAX], lb[KPID_PERIOD_LABEL_MAX];
        assert_int_equal(kpid_period_containing(&fy, berlin, t, &a), 0);
        assert_int_equal(kpid_period_containing(&year, berlin, t, &b), 0);
        assert_true(a.start == b.start && a.end == b.end);
        assert_int_equal(kpid_period_label(&fy, berlin, &a, la, sizeof(la)), 0);
        assert_int_equal(kpid_period_label(&year, berlin, &b, lb, sizeof(lb)), 0);
        assert_string_equal(la + 2, lb);
    }
    kpid_tz_free(berlin);
}

static void rolling(void **unused)
{
    kpid_tz *berlin = tf_load("Europe/Berlin");
    kpid_period_spec s = spec("last 24h");
    int64_t t = tf_utc(2025, 3, 30, 12, 0, 0);
    kpid_interval iv, next, prev;
    char buf[KPID_PERIOD_LABEL_MAX];

    /* The duration before t: 24 real hours even across the spring change. */
    assert_int_equal(kpid_period_containing(&s, berlin, t, &iv), 0);
    assert_true(iv.start == t - 86400 && iv.end == t);
    assert_int_equal(kpid_period_label(&s, berlin, &iv, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2025-03-30T14:00:00+02:00");
    assert_int_equal(kpid_period_label(&s, NULL, &iv, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2025-03-30T12:00:00+00:00");
    assert_int_equal(kpid_period_next(&s, berlin, &iv, &next), 0);
    assert_true(next.start == t && next.end == t + 86400);
    assert_int_equal(kpid_period_prev(&s, berlin, &iv, &prev), 0);
    assert_true(prev.start == t - 2 * 86400 && prev.end == t - 86400);

    s = spec("last 90m");
    assert_int_equal(kpid_period_containing(&s, NULL, t, &iv), 0);
    assert_true(iv.start == t - 5400 && iv.end == t);
    s = spec("last 30d");
    assert_int_equal(kpid_period_containing(&s, NULL, t, &iv), 0);
    assert_true(iv.start == t - 30 * 86400 && iv.end == t);

    kpid_tz *ny = tf_load("America/New_York");
    assert_int_equal(kpid_period_label(&s, ny, &iv, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2025-03-30T08:00:00-04:00");
    kpid_tz *lmt = tf_load("Europe/Berlin"); /* local mean time: an offset with seconds */
    iv.end = tf_utc(1800, 1, 1, 0, 0, 0);
    assert_int_equal(kpid_period_label(&s, lmt, &iv, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1800-01-01T00:53:28+00:53:28");
    kpid_tz_free(lmt);
    kpid_tz_free(ny);
    kpid_tz_free(berlin);
}

/* An instant exactly at a boundary belongs to the period that starts there. */
static void boundaries(void **unused)
{
    static const char *const kinds[] = {"day",     "week", "week:sunday",   "month",
                                        "quarter", "year", "fiscal_year:4", "fiscal_year:1"};
    static const char *const zones[] = {"UTC", "Europe/Berlin", "Asia/Almaty",
                                        "Australia/Lord_Howe"};
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        kpid_tz *tz = tf_load(zones[z]);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            kpid_period_spec s = spec(kinds[k]);
            kpid_interval iv, at, before;
            assert_int_equal(kpid_period_containing(&s, tz, tf_utc(2025, 3, 30, 12, 0, 0), &iv), 0);
            assert_int_equal(kpid_period_containing(&s, tz, iv.start, &at), 0);
            assert_true(at.start == iv.start && at.end == iv.end);
            assert_int_equal(kpid_period_containing(&s, tz, iv.start - 1, &before), 0);
            assert_true(before.end == iv.start && before.start < iv.start);
            assert_int_equal(kpid_period_containing(&s, tz, iv.end, &at), 0);
            assert_true(at.start == iv.end);
            assert_int_equal(kpid_period_containing(&s, tz, iv.end - 1, &at), 0);
            assert_true(at.start == iv.start && at.end == iv.end);
        }
        kpid_tz_free(tz);
    }
}

/* 1000 steps forward and back: contiguous, non-overlapping; for calendar periods labels
 * increasing, each period what `containing` says for its first and last instant, and
 * starting at local midnight. Returns the shortest and longest period seen. */
static void chain(const char *text, const kpid_tz *tz, int64_t t, int64_t *ret_min,
                  int64_t *ret_max)
{
    kpid_period_spec s = spec(text);
    kpid_interval iv, first, next, check;
    char label[KPID_PERIOD_LABEL_MAX], prev_label[KPID_PERIOD_LABEL_MAX] = "";
    int64_t min = INT64_MAX, max = 0;

    assert_int_equal(kpid_period_containing(&s, tz, t, &iv), 0);
    first = iv;
    for (int i = 0; i < 1000; i++) {
        assert_true(iv.start < iv.end);
        min = iv.end - iv.start < min ? iv.end - iv.start : min;
        max = iv.end - iv.start > max ? iv.end - iv.start : max;
        assert_int_equal(kpid_period_label(&s, tz, &iv, label, sizeof(label)), 0);
        if (s.kind != KPID_PERIOD_ROLLING) {
            kpid_civil c;
            assert_true(strcmp(prev_label, label) < 0);
            strcpy(prev_label, label);
            assert_int_equal(kpid_period_containing(&s, tz, iv.end - 1, &check), 0);
            assert_true(check.start == iv.start && check.end == iv.end);
            assert_int_equal(kpid_tz_to_local(tz, iv.start, &c), 0);
            assert_true(c.hour == 0 && c.minute == 0 && c.second == 0);
        }
        assert_int_equal(kpid_period_next(&s, tz, &iv, &next), 0);
        assert_int_equal(next.start, iv.end);
        iv = next;
    }
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(kpid_period_prev(&s, tz, &iv, &next), 0);
        assert_int_equal(next.end, iv.start);
        iv = next;
    }
    assert_true(iv.start == first.start && iv.end == first.end);
    *ret_min = min;
    *ret_max = max;
}

static void chains(void **unused)
{
    static const char *const kinds[] = {"day",           "week",     "week:sunday",
                                        "month",         "quarter",  "year",
                                        "fiscal_year:4", "last 24h", "last 90m"};
    kpid_tz *berlin = tf_load("Europe/Berlin"), *almaty = tf_load("Asia/Almaty"),
            *howe = tf_load("Australia/Lord_Howe");
    const kpid_tz *zones[] = {NULL, berlin, almaty, howe};
    int64_t min, max, t = tf_utc(2024, 11, 15, 10, 0, 0);

    for (size_t z = 0; z < 4; z++)
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            chain(kinds[k], zones[z], t, &min, &max);

    /* Days: 24 hours in UTC; 23, 24 and 25 in Berlin; 23.5 to 24.5 on Lord Howe. */
    chain("day", NULL, t, &min, &max);
    assert_true(min == 86400 && max == 86400);
    chain("day", berlin, t, &min, &max);
    assert_true(min == 23 * 3600 && max == 25 * 3600);
    chain("day", howe, t, &min, &max);
    assert_true(min == 23 * 3600 + 1800 && max == 24 * 3600 + 1800);
    chain("month", NULL, t, &min, &max);
    assert_true(min == 28 * 86400 && max == 31 * 86400);
    chain("year", NULL, t, &min, &max);
    assert_true(min == 365 * 86400 && max == 366 * 86400);
    kpid_tz_free(berlin);
    kpid_tz_free(almaty);
    kpid_tz_free(howe);
}

static void invalid(void **unused)
{
    kpid_period_spec s = spec("week");
    kpid_interval iv = {0, 86400};
    char buf[KPID_PERIOD_LABEL_MAX];

    s.first_weekday = 7;
    assert_int_equal(kpid_period_containing(&s, NULL, 0, &iv), -EINVAL);
    assert_int_equal(kpid_period_next(&s, NULL, &iv, &iv), -EINVAL);
    assert_int_equal(kpid_period_label(&s, NULL, &iv, buf, sizeof(buf)), -EINVAL);
    s = spec("fiscal_year:4");
    s.first_month = 0;
    assert_int_equal(kpid_period_prev(&s, NULL, &iv, &iv), -EINVAL);
    s = spec("last 1h");
    s.seconds = 0;
    assert_int_equal(kpid_period_containing(&s, NULL, 0, &iv), -EINVAL);
    s.kind = (kpid_period_kind)99;
    assert_int_equal(kpid_period_containing(&s, NULL, 0, &iv), -EINVAL);

    /* Labels need their room. */
    s = spec("day");
    assert_int_equal(kpid_period_containing(&s, NULL, 0, &iv), 0);
    assert_int_equal(kpid_period_label(&s, NULL, &iv, buf, 10), -ENOBUFS);
    assert_int_equal(kpid_period_label(&s, NULL, &iv, buf, 11), 0);
    assert_string_equal(buf, "1970-01-01");

    /* The ends of the supported range. */
    s = spec("year");
    assert_int_equal(kpid_period_containing(&s, NULL, KPID_TZ_MAX_S, &iv), -ERANGE);
    assert_int_equal(kpid_period_containing(&s, NULL, KPID_TZ_MAX_S + 1, &iv), -ERANGE);
    assert_int_equal(kpid_period_containing(&s, NULL, tf_utc(9998, 6, 1, 0, 0, 0), &iv), 0);
    assert_int_equal(kpid_period_next(&s, NULL, &iv, &iv), -ERANGE);
    assert_int_equal(kpid_period_containing(&s, NULL, KPID_TZ_MIN_S, &iv), 0);
    assert_int_equal(iv.start, KPID_TZ_MIN_S);
    assert_int_equal(kpid_period_prev(&s, NULL, &iv, &iv), -ERANGE);
    s = spec("last 24h");
    iv = (kpid_interval){KPID_TZ_MIN_S, KPID_TZ_MIN_S + 86400};
    assert_int_equal(kpid_period_prev(&s, NULL, &iv, &iv), -ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_forms),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(days),
        cmocka_unit_test(midnight_skipped),
        cmocka_unit_test(weeks),
        cmocka_unit_test(iso_week_labels),
        cmocka_unit_test(months_quarters_years),
        cmocka_unit_test(fiscal_years),
        cmocka_unit_test(rolling),
        cmocka_unit_test(boundaries),
        cmocka_unit_test(chains),
        cmocka_unit_test(invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
