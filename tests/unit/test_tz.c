/* Unit tests of time zones: calendar arithmetic, UTC, zones with and without DST
 * (Berlin, New York, Lord Howe's 30-minute DST, Dublin's negative DST, Almaty's 2024
 * change), the footer rule far in the future, instants before the first transition,
 * names that must not escape the zone directory, corrupt and synthetic TZif files from
 * a temporary $TZDIR, round trips for every hour of 2020-2030, and `date` as an oracle. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "time/tz.h"
#include "time_fixture.h"

static kpid_civil wall(const char *text)
{
    kpid_civil c = {0};
    assert_int_equal(
        sscanf(text, "%d-%d-%d %d:%d:%d", &c.year, &c.month, &c.day, &c.hour, &c.minute, &c.second),
        6);
    return c;
}

/* "2025-03-30 03:00:00 +0200 dst" */
static void format_local(const kpid_civil *c, char *buf, size_t len)
{
    int32_t off = c->utc_offset < 0 ? -c->utc_offset : c->utc_offset;
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d %c%02d%02d%s", c->year, c->month, c->day,
             c->hour, c->minute, c->second, c->utc_offset < 0 ? '-' : '+', (int)(off / 3600),
             (int)(off / 60 % 60), c->is_dst ? " dst" : "");
}

static void expect_local(const kpid_tz *tz, int64_t t, const char *expected)
{
    kpid_civil c;
    char buf[64];
    assert_int_equal(kpid_tz_to_local(tz, t, &c), 0);
    format_local(&c, buf, sizeof(buf));
    assert_string_equal(buf, expected);
}

static void expect_from(const kpid_tz *tz, const char *local, unsigned flags, int64_t expected,
                        int expected_kind)
{
    kpid_civil c = wall(local);
    int64_t t = 0;
    int kind = -1;
    assert_int_equal(kpid_tz_from_local(tz, &c, flags, &t, &kind), 0);
    assert_int_equal(kind, expected_kind);
    assert_int_equal(t, expected);
}

/* ---- calendar ---------------------------------------------------------------------- */

static void calendar(void **unused)
{
    int64_t y;
    int m, d;

    assert_int_equal(kpid_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(kpid_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(kpid_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(kpid_days_from_civil(1, 1, 1), -719162);
    assert_int_equal(kpid_days_from_civil(9999, 12, 31), 2932896);
    assert_int_equal(kpid_days_from_civil(2025, 1, 32), kpid_days_from_civil(2025, 2, 1));
    assert_int_equal(kpid_days_from_civil(2024, 3, 0), kpid_days_from_civil(2024, 2, 29));
    assert_int_equal(kpid_weekday_from_days(0), 4);  /* Thursday */
    assert_int_equal(kpid_weekday_from_days(-1), 3); /* Wednesday */
    assert_int_equal(kpid_weekday_from_days(kpid_days_from_civil(2025, 3, 30)), 0);
    assert_int_equal(kpid_weekday_from_days(kpid_days_from_civil(1, 1, 1)), 1); /* Monday */
    assert_true(kpid_leap_year(2000) && kpid_leap_year(2024) && kpid_leap_year(-4));
    assert_false(kpid_leap_year(1900) || kpid_leap_year(2100) || kpid_leap_year(2025));
    assert_int_equal(kpid_days_in_month(2024, 2), 29);
    assert_int_equal(kpid_days_in_month(2100, 2), 28);
    assert_int_equal(kpid_days_in_month(2025, 4), 30);
    assert_int_equal(kpid_days_in_month(2025, 12), 31);
    assert_int_equal(kpid_days_in_month(2025, 13), 0);

    /* civil_from_days inverts days_from_civil, and consecutive days are consecutive
     * dates, over 0001..9999 and a little around. */
    int64_t py = 0;
    int pm = 12, pd = 31;
    for (int64_t days = -720000; days <= 2940000; days++) {
        kpid_civil_from_days(days, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= kpid_days_in_month(y, m));
        if (days % 997 == 0)
            assert_int_equal(kpid_days_from_civil(y, m, d), days);
        if (days > -720000) {
            bool next = (y == py && m == pm && d == pd + 1) ||
                        (y == py && m == pm + 1 && d == 1 && pd == kpid_days_in_month(py, pm)) ||
                        (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
            assert_true(next);
        }
        py = y;
        pm = m;
        pd = d;
    }
    kpid_civil_from_days(-719162, &y, &m, &d);
    assert_true(y == 1 && m == 1 && d == 1);
    kpid_civil_from_days(11016, &y, &m, &d);
    assert_true(y == 2000 && m == 2 && d == 29);
}

/* ---- zones ------------------------------------------------------------------------- */

static void utc_zone(void **unused)
{
    kpid_tz *tz = tf_load("UTC");
    const kpid_tz *zones[] = {NULL, tz};
    kpid_civil c;

    assert_string_equal(kpid_tz_name(tz), "UTC");
    assert_string_equal(kpid_tz_name(NULL), "UTC");
    for (int i = 0; i < 2; i++) {
        expect_local(zones[i], 0, "1970-01-01 00:00:00 +0000");
        expect_local(zones[i], 951782400, "2000-02-29 00:00:00 +0000");
        expect_local(zones[i], -1, "1969-12-31 23:59:59 +0000");
        expect_local(zones[i], KPID_TZ_MIN_S, "0001-01-01 00:00:00 +0000");
        expect_local(zones[i], KPID_TZ_MAX_S, "9999-12-31 23:59:59 +0000");
        expect_local(zones[i], tf_utc(2100, 7, 1, 12, 0, 0), "2100-07-01 12:00:00 +0000");
        assert_int_equal(kpid_tz_to_local(zones[i], KPID_TZ_MIN_S - 1, &c), -ERANGE);
        assert_int_equal(kpid_tz_to_local(zones[i], KPID_TZ_MAX_S + 1, &c), -ERANGE);
        assert_int_equal(kpid_tz_to_local(zones[i], 1743300000, &c), 0);
        assert_int_equal(c.wday, 0);
        assert_int_equal(c.yday, 88);
        expect_from(zones[i], "2025-03-30 02:30:00", 0, tf_utc(2025, 3, 30, 2, 30, 0),
                    KPID_TZ_UNIQUE);
        expect_from(zones[i], "0001-01-01 00:00:00", 0, KPID_TZ_MIN_S, KPID_TZ_UNIQUE);
        expect_from(zones[i], "9999-12-31 23:59:59", 0, KPID_TZ_MAX_S, KPID_TZ_UNIQUE);
    }
    assert_null(kpid_tz_free(tz));
    assert_null(kpid_tz_free(NULL));
}

static void invalid_local_times(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");
    const char *bad[] = {"2025-02-29 12:00:00", "2025-04-31 12:00:00", "2025-13-01 00:00:00",
                         "2025-00-01 00:00:00", "2025-01-00 00:00:00", "2025-01-01 24:00:00",
                         "2025-01-01 12:60:00", "2025-01-01 12:00:60", "2025-01-01 -1:00:00"};
    int64_t t = 42;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kpid_civil c = wall(bad[i]);
        assert_int_equal(kpid_tz_from_local(tz, &c, 0, &t, NULL), -EINVAL);
    }
    kpid_civil c = wall("2024-02-29 12:00:00");
    assert_int_equal(kpid_tz_from_local(tz, &c, 0, &t, NULL), 0);
    c.year = 0;
    assert_int_equal(kpid_tz_from_local(tz, &c, 0, &t, NULL), -ERANGE);
    c.year = 10000;
    assert_int_equal(kpid_tz_from_local(tz, &c, 0, &t, NULL), -ERANGE);
    kpid_tz_free(tz);
}

static void almaty(void **unused)
{
    kpid_tz *tz = tf_load("Asia/Almaty");

    /* +06 until 2024-03-01 00:00 local, then +05: the last hour of February 29th
     * happened twice. */
    expect_local(tz, tf_utc(2023, 6, 1, 0, 0, 0), "2023-06-01 06:00:00 +0600");
    expect_local(tz, tf_utc(2024, 2, 29, 17, 59, 59), "2024-02-29 23:59:59 +0600");
    expect_local(tz, tf_utc(2024, 2, 29, 18, 0, 0), "2024-02-29 23:00:00 +0500");
    expect_local(tz, tf_utc(2025, 6, 1, 0, 0, 0), "2025-06-01 05:00:00 +0500");
    expect_local(tz, tf_utc(2100, 1, 1, 0, 0, 0), "2100-01-01 05:00:00 +0500");
    expect_from(tz, "2024-02-29 22:59:59", 0, tf_utc(2024, 2, 29, 16, 59, 59), KPID_TZ_UNIQUE);
    expect_from(tz, "2024-02-29 23:30:00", 0, tf_utc(2024, 2, 29, 17, 30, 0), KPID_TZ_OVERLAP);
    expect_from(tz, "2024-02-29 23:30:00", KPID_TZ_LATER, tf_utc(2024, 2, 29, 18, 30, 0),
                KPID_TZ_OVERLAP);
    expect_from(tz, "2024-03-01 00:00:00", 0, tf_utc(2024, 2, 29, 19, 0, 0), KPID_TZ_UNIQUE);
    expect_from(tz, "2025-07-01 12:00:00", 0, tf_utc(2025, 7, 1, 7, 0, 0), KPID_TZ_UNIQUE);
    kpid_tz_free(tz);
}

static void berlin_2025(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");

    assert_string_equal(kpid_tz_name(tz), "Europe/Berlin");
    expect_local(tz, tf_utc(2025, 1, 15, 12, 0, 0), "2025-01-15 13:00:00 +0100");
    expect_local(tz, tf_utc(2025, 3, 30, 0, 59, 59), "2025-03-30 01:59:59 +0100");
    expect_local(tz, tf_utc(2025, 3, 30, 1, 0, 0), "2025-03-30 03:00:00 +0200 dst");
    expect_local(tz, tf_utc(2025, 10, 26, 0, 59, 59), "2025-10-26 02:59:59 +0200 dst");
    expect_local(tz, tf_utc(2025, 10, 26, 1, 0, 0), "2025-10-26 02:00:00 +0100");

    /* Spring forward: 02:00-03:00 does not exist; it maps to the transition, 01:00Z. */
    expect_from(tz, "2025-03-30 01:59:59", 0, tf_utc(2025, 3, 30, 0, 59, 59), KPID_TZ_UNIQUE);
    expect_from(tz, "2025-03-30 02:00:00", 0, tf_utc(2025, 3, 30, 1, 0, 0), KPID_TZ_GAP);
    expect_from(tz, "2025-03-30 02:30:00", 0, tf_utc(2025, 3, 30, 1, 0, 0), KPID_TZ_GAP);
    expect_from(tz, "2025-03-30 02:59:59", KPID_TZ_LATER, tf_utc(2025, 3, 30, 1, 0, 0),
                KPID_TZ_GAP);
    expect_from(tz, "2025-03-30 03:00:00", 0, tf_utc(2025, 3, 30, 1, 0, 0), KPID_TZ_UNIQUE);

    /* Fall back: 02:00-03:00 happens twice. */
    expect_from(tz, "2025-10-26 01:59:59", 0, tf_utc(2025, 10, 25, 23, 59, 59), KPID_TZ_UNIQUE);
    expect_from(tz, "2025-10-26 02:00:00", 0, tf_utc(2025, 10, 26, 0, 0, 0), KPID_TZ_OVERLAP);
    expect_from(tz, "2025-10-26 02:00:00", KPID_TZ_LATER, tf_utc(2025, 10, 26, 1, 0, 0),
                KPID_TZ_OVERLAP);
    expect_from(tz, "2025-10-26 02:30:00", 0, tf_utc(2025, 10, 26, 0, 30, 0), KPID_TZ_OVERLAP);
    expect_from(tz, "2025-10-26 02:30:00", KPID_TZ_LATER, tf_utc(2025, 10, 26, 1, 30, 0),
                KPID_TZ_OVERLAP);
    expect_from(tz, "2025-10-26 02:59:59", 0, tf_utc(2025, 10, 26, 0, 59, 59), KPID_TZ_OVERLAP);
    expect_from(tz, "2025-10-26 03:00:00", 0, tf_utc(2025, 10, 26, 2, 0, 0), KPID_TZ_UNIQUE);
    kpid_tz_free(tz);
}

static void new_york(void **unused)
{
    kpid_tz *tz = tf_load("America/New_York");

    expect_local(tz, tf_utc(2025, 3, 9, 6, 59, 59), "2025-03-09 01:59:59 -0500");
    expect_local(tz, tf_utc(2025, 3, 9, 7, 0, 0), "2025-03-09 03:00:00 -0400 dst");
    expect_local(tz, tf_utc(2025, 11, 2, 5, 59, 59), "2025-11-02 01:59:59 -0400 dst");
    expect_local(tz, tf_utc(2025, 11, 2, 6, 0, 0), "2025-11-02 01:00:00 -0500");
    expect_from(tz, "2025-03-09 02:30:00", 0, tf_utc(2025, 3, 9, 7, 0, 0), KPID_TZ_GAP);
    expect_from(tz, "2025-11-02 01:30:00", 0, tf_utc(2025, 11, 2, 5, 30, 0), KPID_TZ_OVERLAP);
    expect_from(tz, "2025-11-02 01:30:00", KPID_TZ_LATER, tf_utc(2025, 11, 2, 6, 30, 0),
                KPID_TZ_OVERLAP);
    expect_from(tz, "2025-07-04 12:00:00", 0, tf_utc(2025, 7, 4, 16, 0, 0), KPID_TZ_UNIQUE);
    /* Before the first transition (1883-11-18 noon): local mean time, -4:56:02. */
    expect_local(tz, tf_utc(1800, 1, 1, 0, 0, 0), "1799-12-31 19:03:58 -0456");
    expect_from(tz, "1800-01-01 00:00:00", 0, tf_utc(1800, 1, 1, 4, 56, 2), KPID_TZ_UNIQUE);
    kpid_tz_free(tz);
}

static void lord_howe(void **unused)
{
    kpid_tz *tz = tf_load("Australia/Lord_Howe");

    /* +11 in summer, +10:30 in winter: clocks move by 30 minutes. */
    expect_local(tz, tf_utc(2025, 4, 5, 14, 59, 59), "2025-04-06 01:59:59 +1100 dst");
    expect_local(tz, tf_utc(2025, 4, 5, 15, 0, 0), "2025-04-06 01:30:00 +1030");
    expect_local(tz, tf_utc(2025, 10, 4, 15, 29, 59), "2025-10-05 01:59:59 +1030");
    expect_local(tz, tf_utc(2025, 10, 4, 15, 30, 0), "2025-10-05 02:30:00 +1100 dst");
    expect_from(tz, "2025-04-06 01:29:59", 0, tf_utc(2025, 4, 5, 14, 29, 59), KPID_TZ_UNIQUE);
    expect_from(tz, "2025-04-06 01:45:00", 0, tf_utc(2025, 4, 5, 14, 45, 0), KPID_TZ_OVERLAP);
    expect_from(tz, "2025-04-06 01:45:00", KPID_TZ_LATER, tf_utc(2025, 4, 5, 15, 15, 0),
                KPID_TZ_OVERLAP);
    expect_from(tz, "2025-04-06 02:00:00", 0, tf_utc(2025, 4, 5, 15, 30, 0), KPID_TZ_UNIQUE);
    expect_from(tz, "2025-10-05 02:00:00", 0, tf_utc(2025, 10, 4, 15, 30, 0), KPID_TZ_GAP);
    expect_from(tz, "2025-10-05 02:15:00", 0, tf_utc(2025, 10, 4, 15, 30, 0), KPID_TZ_GAP);
    expect_from(tz, "2025-10-05 02:30:00", 0, tf_utc(2025, 10, 4, 15, 30, 0), KPID_TZ_UNIQUE);
    kpid_tz_free(tz);
}

static void dublin_negative_dst(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Dublin");

    /* Irish Standard Time is the summer time, and winter is "DST" with a -1 h save. */
    expect_local(tz, tf_utc(2025, 1, 15, 12, 0, 0), "2025-01-15 12:00:00 +0000 dst");
    expect_local(tz, tf_utc(2025, 7, 15, 12, 0, 0), "2025-07-15 13:00:00 +0100");
    expect_local(tz, tf_utc(2100, 1, 15, 12, 0, 0), "2100-01-15 12:00:00 +0000 dst");
    expect_local(tz, tf_utc(2100, 7, 15, 12, 0, 0), "2100-07-15 13:00:00 +0100");
    expect_from(tz, "2100-03-28 01:30:00", 0, tf_utc(2100, 3, 28, 1, 0, 0), KPID_TZ_GAP);
    expect_from(tz, "2100-10-31 01:30:00", 0, tf_utc(2100, 10, 31, 0, 30, 0), KPID_TZ_OVERLAP);
    kpid_tz_free(tz);
}

static void far_future(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");

    /* Beyond the file's transitions: the footer rule CET-1CEST,M3.5.0,M10.5.0/3. */
    expect_local(tz, tf_utc(2100, 1, 1, 0, 0, 0), "2100-01-01 01:00:00 +0100");
    expect_local(tz, tf_utc(2100, 3, 28, 0, 59, 59), "2100-03-28 01:59:59 +0100");
    expect_local(tz, tf_utc(2100, 3, 28, 1, 0, 0), "2100-03-28 03:00:00 +0200 dst");
    expect_local(tz, tf_utc(2100, 7, 1, 0, 0, 0), "2100-07-01 02:00:00 +0200 dst");
    expect_local(tz, tf_utc(2100, 10, 31, 0, 59, 59), "2100-10-31 02:59:59 +0200 dst");
    expect_local(tz, tf_utc(2100, 10, 31, 1, 0, 0), "2100-10-31 02:00:00 +0100");
    expect_local(tz, tf_utc(9999, 7, 1, 0, 0, 0), "9999-07-01 02:00:00 +0200 dst");
    expect_local(tz, KPID_TZ_MAX_S, "10000-01-01 00:59:59 +0100");
    expect_from(tz, "2100-03-28 02:30:00", 0, tf_utc(2100, 3, 28, 1, 0, 0), KPID_TZ_GAP);
    expect_from(tz, "2100-10-31 02:30:00", KPID_TZ_LATER, tf_utc(2100, 10, 31, 1, 30, 0),
                KPID_TZ_OVERLAP);
    expect_from(tz, "9999-12-31 23:59:59", 0, KPID_TZ_MAX_S - 3600, KPID_TZ_UNIQUE);
    kpid_tz_free(tz);
}

static void before_first_transition(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");

    /* Berlin kept local mean time, +0:53:28, until 1893-04-01. */
    expect_local(tz, tf_utc(1893, 3, 31, 23, 6, 31), "1893-03-31 23:59:59 +0053");
    expect_local(tz, tf_utc(1893, 3, 31, 23, 6, 32), "1893-04-01 00:06:32 +0100");
    expect_local(tz, tf_utc(1800, 1, 1, 0, 0, 0), "1800-01-01 00:53:28 +0053");
    expect_local(tz, KPID_TZ_MIN_S, "0001-01-01 00:53:28 +0053");
    expect_from(tz, "1800-01-01 00:53:28", 0, tf_utc(1800, 1, 1, 0, 0, 0), KPID_TZ_UNIQUE);
    /* Clocks jumped 6 min 32 s forward at the change to CET. */
    expect_from(tz, "1893-04-01 00:03:00", 0, tf_utc(1893, 3, 31, 23, 6, 32), KPID_TZ_GAP);
    kpid_tz_free(tz);
}

/* ---- names ------------------------------------------------------------------------- */

static void unknown_zone(void **unused)
{
    kpid_tz *tz = NULL;
    char *err = NULL;

    unsetenv("TZDIR");
    assert_int_equal(kpid_tz_load("Mars/Olympus_Mons", &tz, &err), -ENOENT);
    assert_null(tz);
    assert_string_equal(err, "unknown time zone \"Mars/Olympus_Mons\" (no such zone in "
                             "/usr/share/zoneinfo)");
    free(err);
    /* A directory is not a zone. */
    assert_int_equal(kpid_tz_load("Europe", &tz, &err), -ENOENT);
    assert_non_null(strstr(err, "unknown time zone \"Europe\""));
    free(err);
    assert_int_equal(kpid_tz_load("Europe/", &tz, &err), -ENOENT);
    free(err);
    /* Leap-second zones count TAI-like seconds; refused with an explanation. */
    if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0) {
        assert_int_equal(kpid_tz_load("right/UTC", &tz, &err), -ENOTSUP);
        assert_non_null(strstr(err, "leap seconds"));
        free(err);
    }
    assert_null(tz);
}

static void hostile_names(void **unused)
{
    const char *names[] = {"../etc/passwd",
                           "/etc/passwd",
                           "Europe/../../etc/passwd",
                           "Europe/Berlin/..",
                           ".",
                           "..",
                           "",
                           "Europe/Berlin\n",
                           "Europe/Berlin ",
                           "Europe\\Berlin",
                           "Europe/Ber;lin",
                           "posix/.x",
                           "\x01\x02",
                           "Europe/Berlin\"; rm -rf /"};
    char longname[4096];
    kpid_tz *tz = NULL;
    char *err = NULL;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(kpid_tz_load(names[i], &tz, &err), -EINVAL);
        assert_non_null(err);
        assert_non_null(strstr(err, "invalid time zone name"));
        for (const char *p = err; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7f); /* one printable line */
        free(err);
        err = NULL;
    }
    assert_int_equal(kpid_tz_load("../etc/passwd", &tz, &err), -EINVAL);
    assert_string_equal(err, "invalid time zone name \"../etc/passwd\": a zone name like "
                             "\"Europe/Berlin\" is letters, digits, '_', '+', '-' and '/', "
                             "without '.' and not starting with '/'");
    free(err);

    memset(longname, 'A', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(kpid_tz_load(longname, &tz, &err), -EINVAL);
    assert_non_null(strstr(err, "longer than 255 bytes"));
    assert_true(strlen(err) < 160); /* the name is not echoed in full */
    free(err);
    longname[KPID_TZ_NAME_MAX + 1] = '\0';
    assert_int_equal(kpid_tz_load(longname, &tz, &err), -EINVAL);
    free(err);
    longname[KPID_TZ_NAME_MAX] = '\0'; /* valid, just unknown */
    assert_int_equal(kpid_tz_load(longname, &tz, &err), -ENOENT);
    free(err);
    assert_null(tz);

    /* Valid names with '+', '-', '_' and digits. */
    kpid_tz_free(tf_load("Etc/GMT+5"));
    kpid_tz_free(tf_load("America/Port-au-Prince"));
    kpid_tz *g = tf_load("Etc/GMT-14");
    expect_local(g, 0, "1970-01-01 14:00:00 +1400");
    kpid_tz_free(g);
}

/* ---- TZif files in a temporary TZDIR ----------------------------------------------- */

typedef struct tzdir {
    char path[64];
} tzdir;

static void tzdir_make(tzdir *d)
{
    char sub[96];
    strcpy(d->path, "/tmp/kpid_test_tz_XXXXXX");
    assert_non_null(mkdtemp(d->path));
    snprintf(sub, sizeof(sub), "%s/Test", d->path);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(setenv("TZDIR", d->path, 1), 0);
}

static void tzdir_write(const tzdir *d, const char *name, const void *data, size_t len)
{
    char path[160];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", d->path, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void tzdir_remove(const tzdir *d, const char *const *names, size_t n)
{
    char path[160];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", d->path, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/Test", d->path);
    rmdir(path);
    rmdir(d->path);
    unsetenv("TZDIR");
}

static uint8_t *read_all(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = malloc(1 << 20);
    assert_non_null(f);
    assert_non_null(data);
    *ret_len = fread(data, 1, 1 << 20, f);
    fclose(f);
    return data;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

static uint8_t *put_header(uint8_t *p, char version, uint32_t leapcnt, uint32_t timecnt,
                           uint32_t typecnt, uint32_t charcnt)
{
    memcpy(p, "TZif", 4);
    p[4] = (uint8_t)version;
    memset(p + 5, 0, 15);
    p = put32(p + 20, 0); /* isutcnt */
    p = put32(p, 0);      /* isstdcnt */
    p = put32(p, leapcnt);
    p = put32(p, timecnt);
    p = put32(p, typecnt);
    return put32(p, charcnt);
}

/* A TZif file: version 0 (v1) has only the 32-bit block; later versions a minimal v1
 * block, the 64-bit block and the footer. Types are named "XST". */
static size_t build_tzif(uint8_t *out, char version, const int64_t *trans, const uint8_t *idx,
                         uint32_t n, const int32_t *offs, const uint8_t *dst, uint32_t ntypes,
                         const char *footer, uint32_t leapcnt)
{
    uint8_t *p = out;
    unsigned tsize = version ? 8 : 4;

    if (version) { /* the v1 block that v2+ readers skip */
        p = put_header(p, version, leapcnt, 0, 1, 4);
        p = put32(p, (uint32_t)offs[0]);
        *p++ = dst[0];
        *p++ = 0;
        memcpy(p, "XST", 4);
        p += 4;
        memset(p, 0, leapcnt * 8);
        p += leapcnt * 8;
    }
    p = put_header(p, version, leapcnt, n, ntypes, 4);
    for (uint32_t i = 0; i < n; i++)
        p = tsize == 8 ? put64(p, (uint64_t)trans[i]) : put32(p, (uint32_t)trans[i]);
    if (n)
        memcpy(p, idx, n);
    p += n;
    for (uint32_t i = 0; i < ntypes; i++) {
        p = put32(p, (uint32_t)offs[i]);
        *p++ = dst[i];
        *p++ = 0;
    }
    memcpy(p, "XST", 4);
    p += 4;
    memset(p, 0, leapcnt * (tsize + 4));
    p += leapcnt * (tsize + 4);
    if (version)
        p += sprintf((char *)p, "\n%s\n", footer);
    return (size_t)(p - out);
}

static int try_load(const char *name, char **ret_err)
{
    kpid_tz *tz = NULL;
    int r = kpid_tz_load(name, &tz, ret_err);
    kpid_tz_free(tz);
    return r;
}

static void corrupt_files(void **unused)
{
    static const char *const files[] = {"Test/Zone", "Test/Bad"};
    tzdir d;
    uint8_t *berlin, *copy;
    size_t len;
    char *err = NULL;

    unsetenv("TZDIR");
    berlin = read_all("/usr/share/zoneinfo/Europe/Berlin", &len);
    copy = malloc(len);
    assert_non_null(copy);
    tzdir_make(&d);

    /* TZDIR is read at every load: a zone only there loads, the system's do not. */
    tzdir_write(&d, "Test/Zone", berlin, len);
    kpid_tz *tz = tf_load("Test/Zone");
    expect_local(tz, tf_utc(2025, 3, 30, 1, 0, 0), "2025-03-30 03:00:00 +0200 dst");
    kpid_tz_free(tz);
    assert_int_equal(try_load("Europe/Berlin", &err), -ENOENT);
    assert_non_null(strstr(err, d.path));
    free(err);

    /* Every truncation of a valid file is refused. */
    for (size_t n = 0; n < len; n++) {
        tzdir_write(&d, "Test/Bad", berlin, n);
        err = NULL;
        assert_int_equal(try_load("Test/Bad", &err), -EBADMSG);
        assert_non_null(strstr(err, "is not a valid TZif file"));
        free(err);
    }
    tzdir_write(&d, "Test/Bad", berlin, 30);
    assert_int_equal(try_load("Test/Bad", &err), -EBADMSG);
    assert_non_null(strstr(err, "truncated header"));
    free(err);

    /* Wrong magic, unknown version, garbage. */
    memcpy(copy, berlin, len);
    copy[0] = 'X';
    tzdir_write(&d, "Test/Bad", copy, len);
    assert_int_equal(try_load("Test/Bad", &err), -EBADMSG);
    assert_non_null(strstr(err, "bad magic"));
    free(err);
    memcpy(copy, berlin, len);
    copy[4] = '9';
    tzdir_write(&d, "Test/Bad", copy, len);
    assert_int_equal(try_load("Test/Bad", &err), -EBADMSG);
    assert_non_null(strstr(err, "unsupported version"));
    free(err);
    tzdir_write(&d, "Test/Bad", "#!/bin/sh\necho hello\n", 21);
    assert_int_equal(try_load("Test/Bad", &err), -EBADMSG);
    free(err);

    /* A corrupted footer. */
    memcpy(copy, berlin, len);
    copy[len - 5] = '#';
    tzdir_write(&d, "Test/Bad", copy, len);
    assert_int_equal(try_load("Test/Bad", &err), -EBADMSG);
    assert_non_null(strstr(err, "invalid footer TZ string"));
    free(err);

    /* Every single-byte corruption either fails cleanly or gives a zone that works. */
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, berlin, len);
        copy[i] ^= (uint8_t)(i % 2 ? 0xff : 0x01);
        tzdir_write(&d, "Test/Bad", copy, len);
        err = NULL;
        tz = NULL;
        if (kpid_tz_load("Test/Bad", &tz, &err) == 0) {
            kpid_civil c;
            int64_t t;
            for (int64_t s = tf_utc(1800, 1, 1, 0, 0, 0); s < tf_utc(2200, 1, 1, 0, 0, 0);
                 s += 86400 * 97 + 3607) {
                assert_int_equal(kpid_tz_to_local(tz, s, &c), 0);
                kpid_tz_from_local(tz, &c, 0, &t, NULL);
            }
            kpid_tz_free(tz);
        } else {
            assert_non_null(err);
            free(err);
        }
    }
    tzdir_remove(&d, files, 2);
    free(copy);
    free(berlin);
}

static void synthetic_files(void **unused)
{
    static const char *const files[] = {"Test/V1",  "Test/Leap",    "Test/J",   "Test/N",
                                        "Test/V3",  "Test/AllYear", "Test/Idx", "Test/Order",
                                        "Test/Off", "Test/Empty"};
    uint8_t buf[4096];
    int32_t offs[2] = {3600, 7200};
    uint8_t dst[2] = {0, 1}, idx[2] = {1, 0};
    int64_t trans[2] = {tf_utc(2000, 3, 26, 1, 0, 0), tf_utc(2000, 10, 29, 1, 0, 0)};
    char *err = NULL;
    kpid_tz *tz;
    size_t n;
    tzdir d;

    tzdir_make(&d);

    /* Version 1: 32-bit times, no footer; after the last transition its type stays. */
    n = build_tzif(buf, 0, trans, idx, 2, offs, dst, 2, NULL, 0);
    tzdir_write(&d, "Test/V1", buf, n);
    tz = tf_load("Test/V1");
    expect_local(tz, tf_utc(1999, 1, 1, 0, 0, 0), "1999-01-01 01:00:00 +0100");
    expect_local(tz, tf_utc(2000, 7, 1, 0, 0, 0), "2000-07-01 02:00:00 +0200 dst");
    expect_local(tz, tf_utc(2050, 7, 1, 0, 0, 0), "2050-07-01 01:00:00 +0100");
    expect_from(tz, "2000-03-26 02:30:00", 0, trans[0], KPID_TZ_GAP);
    kpid_tz_free(tz);

    /* Leap-second records: refused. */
    n = build_tzif(buf, '2', NULL, NULL, 0, offs, dst, 1, "XST-1", 2);
    tzdir_write(&d, "Test/Leap", buf, n);
    assert_int_equal(try_load("Test/Leap", &err), -ENOTSUP);
    free(err);

    /* No transitions: the footer rule governs every instant. Jn never counts February
     * 29th: J60 is March 1st, and J300 is October 27th, in every year. */
    n = build_tzif(buf, '2', NULL, NULL, 0, offs, dst, 1, "XST-1XDT,J60/2,J300/3", 0);
    tzdir_write(&d, "Test/J", buf, n);
    tz = tf_load("Test/J");
    expect_local(tz, tf_utc(2024, 3, 1, 0, 59, 59), "2024-03-01 01:59:59 +0100");
    expect_local(tz, tf_utc(2024, 3, 1, 1, 0, 0), "2024-03-01 03:00:00 +0200 dst");
    expect_local(tz, tf_utc(2025, 3, 1, 1, 0, 0), "2025-03-01 03:00:00 +0200 dst");
    expect_local(tz, tf_utc(2024, 10, 27, 0, 59, 59), "2024-10-27 02:59:59 +0200 dst");
    expect_local(tz, tf_utc(2024, 10, 27, 1, 0, 0), "2024-10-27 02:00:00 +0100");
    expect_local(tz, tf_utc(1900, 6, 1, 0, 0, 0), "1900-06-01 02:00:00 +0200 dst");
    kpid_tz_free(tz);

    /* The n form counts from 0 and counts February 29th: 59 is February 29th in 2024
     * and March 1st in 2025. */
    n = build_tzif(buf, '2', NULL, NULL, 0, offs, dst, 1, "XST-1XDT-2:30,59,299", 0);
    tzdir_write(&d, "Test/N", buf, n);
    tz = tf_load("Test/N");
    expect_local(tz, tf_utc(2024, 2, 29, 1, 0, 0), "2024-02-29 03:30:00 +0230 dst");
    expect_local(tz, tf_utc(2025, 2, 28, 12, 0, 0), "2025-02-28 13:00:00 +0100");
    expect_local(tz, tf_utc(2025, 3, 1, 1, 0, 0), "2025-03-01 03:30:00 +0230 dst");
    expect_from(tz, "2025-03-01 02:45:00", 0, tf_utc(2025, 3, 1, 1, 0, 0), KPID_TZ_GAP);
    kpid_tz_free(tz);

    /* Version 3 rule times outside 0-24 h: DST from Saturday 23:00 before the last
     * Sunday of March to Monday 02:00 after the last Sunday of October. */
    n = build_tzif(buf, '3', NULL, NULL, 0, offs, dst, 1, "XST-1XDT,M3.5.0/-1,M10.5.0/26", 0);
    tzdir_write(&d, "Test/V3", buf, n);
    tz = tf_load("Test/V3");
    expect_local(tz, tf_utc(2025, 3, 29, 21, 59, 59), "2025-03-29 22:59:59 +0100");
    expect_local(tz, tf_utc(2025, 3, 29, 22, 0, 0), "2025-03-30 00:00:00 +0200 dst");
    expect_local(tz, tf_utc(2025, 10, 27, 0, 0, 0), "2025-10-27 01:00:00 +0100");
    expect_local(tz, tf_utc(2025, 10, 26, 23, 59, 59), "2025-10-27 01:59:59 +0200 dst");
    kpid_tz_free(tz);

    /* DST all year (a v3 idiom): always the DST offset. */
    n = build_tzif(buf, '3', NULL, NULL, 0, offs, dst, 1, "EST5EDT,0/0,J365/25", 0);
    tzdir_write(&d, "Test/AllYear", buf, n);
    tz = tf_load("Test/AllYear");
    expect_local(tz, tf_utc(2025, 1, 1, 0, 0, 0), "2024-12-31 20:00:00 -0400 dst");
    expect_local(tz, tf_utc(2025, 1, 1, 5, 0, 0), "2025-01-01 01:00:00 -0400 dst");
    expect_local(tz, tf_utc(2025, 7, 1, 0, 0, 0), "2025-06-30 20:00:00 -0400 dst");
    expect_from(tz, "2025-01-01 00:30:00", 0, tf_utc(2025, 1, 1, 4, 30, 0), KPID_TZ_UNIQUE);
    kpid_tz_free(tz);

    /* Inconsistent data: a transition to an undefined type, transitions out of order,
     * an offset of more than 26 hours, no types. */
    uint8_t bad_idx[2] = {0, 5};
    n = build_tzif(buf, '2', trans, bad_idx, 2, offs, dst, 2, "", 0);
    tzdir_write(&d, "Test/Idx", buf, n);
    assert_int_equal(try_load("Test/Idx", &err), -EBADMSG);
    assert_non_null(strstr(err, "undefined type"));
    free(err);
    int64_t backwards[2] = {trans[1], trans[0]};
    n = build_tzif(buf, '2', backwards, idx, 2, offs, dst, 2, "", 0);
    tzdir_write(&d, "Test/Order", buf, n);
    assert_int_equal(try_load("Test/Order", &err), -EBADMSG);
    assert_non_null(strstr(err, "out of order"));
    free(err);
    int32_t huge[2] = {3600, 100000};
    n = build_tzif(buf, '2', trans, idx, 2, huge, dst, 2, "", 0);
    tzdir_write(&d, "Test/Off", buf, n);
    assert_int_equal(try_load("Test/Off", &err), -EBADMSG);
    assert_non_null(strstr(err, "invalid local time type"));
    free(err);
    n = build_tzif(buf, '2', NULL, NULL, 0, offs, dst, 0, "", 0);
    tzdir_write(&d, "Test/Empty", buf, n);
    assert_int_equal(try_load("Test/Empty", &err), -EBADMSG);
    free(err);

    /* Footers that are not POSIX TZ strings. */
    const char *bad_footers[] = {"CET",
                                 "CET-1CEST",
                                 "CET-1CEST,M3.5.0",
                                 "C-1",
                                 "CET-1CEST,M13.5.0,M10.5.0",
                                 "CET-1CEST,M3.6.0,M10.5.0",
                                 "CET-1CEST,M3.5.7,M10.5.0",
                                 "CET-1CEST,J0,J365",
                                 "CET-1CEST,J1,366",
                                 "CET-25",
                                 "CET-1CEST,M3.5.0/168,M10.5.0",
                                 "CET-1CEST,M3.5.0,M10.5.0x",
                                 "<AB>-1",
                                 "CET-1:60"};
    for (size_t i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
        n = build_tzif(buf, '2', NULL, NULL, 0, offs, dst, 1, bad_footers[i], 0);
        tzdir_write(&d, "Test/Empty", buf, n);
        err = NULL;
        if (try_load("Test/Empty", &err) != -EBADMSG)
            fail_msg("footer \"%s\" accepted", bad_footers[i]);
        free(err);
    }
    tzdir_remove(&d, files, sizeof(files) / sizeof(files[0]));
}

/* ---- round trips and the oracle ---------------------------------------------------- */

/* Every hour (and half hour) of 2020-2030, both ways. */
static void round_trip(const kpid_tz *tz)
{
    int64_t from = tf_utc(2020, 1, 1, 0, 0, 0), to = tf_utc(2031, 1, 1, 0, 0, 0);
    int gaps = 0, overlaps = 0;

    /* Instant -> local -> instant: the same instant, one of two in an overlap. */
    for (int64_t t = from; t < to; t += 1800) {
        kpid_civil c;
        int64_t early, late;
        int kind;
        assert_int_equal(kpid_tz_to_local(tz, t, &c), 0);
        assert_int_equal(kpid_tz_from_local(tz, &c, 0, &early, &kind), 0);
        assert_int_equal(kpid_tz_from_local(tz, &c, KPID_TZ_LATER, &late, NULL), 0);
        assert_int_not_equal(kind, KPID_TZ_GAP);
        if (kind == KPID_TZ_UNIQUE)
            assert_true(early == t && late == t);
        else
            assert_true(early < late && (t == early || t == late));
    }
    /* Local -> instant -> local: the same wall time unless it does not exist; then the
     * instant is the one at which clocks jumped over it. */
    for (int64_t w = from; w < to; w += 1800) {
        int64_t days = w / 86400, y, t;
        int secs = (int)(w % 86400), kind;
        kpid_civil c = {0}, back, before;
        kpid_civil_from_days(days, &y, &c.month, &c.day);
        c.year = (int)y;
        c.hour = secs / 3600;
        c.minute = secs / 60 % 60;
        assert_int_equal(kpid_tz_from_local(tz, &c, 0, &t, &kind), 0);
        assert_int_equal(kpid_tz_to_local(tz, t, &back), 0);
        if (kind == KPID_TZ_GAP) {
            gaps++;
            assert_int_equal(kpid_tz_to_local(tz, t - 1, &before), 0);
            assert_true(tf_wall_seconds(&before) < w && w < tf_wall_seconds(&back));
        } else {
            overlaps += kind == KPID_TZ_OVERLAP;
            assert_int_equal(tf_wall_seconds(&back), w);
            if (kind == KPID_TZ_OVERLAP) {
                assert_int_equal(kpid_tz_from_local(tz, &c, KPID_TZ_LATER, &t, NULL), 0);
                assert_int_equal(kpid_tz_to_local(tz, t, &back), 0);
                assert_int_equal(tf_wall_seconds(&back), w);
            }
        }
    }
    /* 11 springs and falls, an hour each, seen every half hour. */
    assert_int_equal(gaps, 22);
    assert_int_equal(overlaps, 22);
}

static void round_trips(void **unused)
{
    kpid_tz *berlin = tf_load("Europe/Berlin"), *ny = tf_load("America/New_York");
    round_trip(berlin);
    round_trip(ny);
    kpid_tz_free(berlin);
    kpid_tz_free(ny);
}

/* Compares to_local with `TZ=zone date -d @N` (coreutils and glibc read the same files
 * with independent code) for n instants. */
static void oracle(const char *zone, const int64_t *ts, size_t n)
{
    char path[] = "/tmp/kpid_test_tz_oracle_XXXXXX", cmd[256], line[128], mine[64];
    kpid_tz *tz = tf_load(zone);
    FILE *f, *p;
    int fd;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "@%" PRId64 "\n", ts[i]);
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof(cmd), "LC_ALL=C TZ='%s' date -f '%s' '+%%Y-%%m-%%d %%H:%%M:%%S %%z'", zone,
             path);
    p = popen(cmd, "r");
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        kpid_civil c;
        int32_t off;
        if (!fgets(line, sizeof(line), p))
            fail_msg("date printed %zu lines, expected %zu", i, n);
        line[strcspn(line, "\n")] = '\0';
        assert_int_equal(kpid_tz_to_local(tz, ts[i], &c), 0);
        off = c.utc_offset < 0 ? -c.utc_offset : c.utc_offset;
        snprintf(mine, sizeof(mine), "%04d-%02d-%02d %02d:%02d:%02d %c%02d%02d", c.year, c.month,
                 c.day, c.hour, c.minute, c.second, c.utc_offset < 0 ? '-' : '+', (int)(off / 3600),
                 (int)(off / 60 % 60));
        if (strcmp(line, mine) != 0)
            fail_msg("%s @%" PRId64 ": date says %s, kpid says %s", zone, ts[i], line, mine);
    }
    assert_int_equal(pclose(p), 0);
    unlink(path);
    kpid_tz_free(tz);
}

static void date_oracle(void **unused)
{
    static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                        "Asia/Almaty",   "Europe/Dublin",    "America/Sao_Paulo"};
    int64_t ts[700];
    uint64_t seed = 42;
    size_t n = 0;

    unsetenv("TZDIR");
    for (; n < 660; n++) { /* 300 in 1850-2200, 360 in 2020-2030, at random */
        int64_t lo = n < 300 ? tf_utc(1850, 1, 1, 0, 0, 0) : tf_utc(2020, 1, 1, 0, 0, 0);
        int64_t hi = n < 300 ? tf_utc(2200, 1, 1, 0, 0, 0) : tf_utc(2031, 1, 1, 0, 0, 0);
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        ts[n] = lo + (int64_t)((seed >> 11) % (uint64_t)(hi - lo));
    }
    for (int i = 0; i < 40; i++) /* Berlin's and Dublin's change in 2100, by the footer */
        ts[n++] = tf_utc(2100, 3, 28, 0, 0, 0) + i * 450 - 1;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
        oracle(zones[i], ts, n);
}

/* ---- threads ----------------------------------------------------------------------- */

static void *convert_thread(void *arg)
{
    const kpid_tz *tz = arg;
    for (int64_t t = tf_utc(2024, 1, 1, 0, 0, 0); t < tf_utc(2026, 1, 1, 0, 0, 0);
         t += 3 * 3600 + 7) {
        kpid_civil c;
        int64_t back, later;
        if (kpid_tz_to_local(tz, t, &c) < 0 || kpid_tz_from_local(tz, &c, 0, &back, NULL) < 0 ||
            kpid_tz_from_local(tz, &c, KPID_TZ_LATER, &later, NULL) < 0 ||
            (back != t && later != t))
            return (void *)1;
    }
    return NULL;
}

static void shared_between_threads(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, convert_thread, tz), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
    }
    kpid_tz_free(tz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calendar),
        cmocka_unit_test(utc_zone),
        cmocka_unit_test(invalid_local_times),
        cmocka_unit_test(almaty),
        cmocka_unit_test(berlin_2025),
        cmocka_unit_test(new_york),
        cmocka_unit_test(lord_howe),
        cmocka_unit_test(dublin_negative_dst),
        cmocka_unit_test(far_future),
        cmocka_unit_test(before_first_transition),
        cmocka_unit_test(unknown_zone),
        cmocka_unit_test(hostile_names),
        cmocka_unit_test(corrupt_files),
        cmocka_unit_test(synthetic_files),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(date_oracle),
        cmocka_unit_test(shared_between_threads),
    };
    unsetenv("TZDIR");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
