/* Unit tests of cron schedules: every form of the syntax and every error message, the
 * day-of-month / day-of-week rule, next firings in UTC, Europe/Berlin, Asia/Almaty and
 * Australia/Lord_Howe across DST gaps and overlaps, month ends, leap years, impossible
 * expressions, and a minute-by-minute brute force as an oracle. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "time/cron.h"
#include "time_fixture.h"

static kpid_cron parse(const char *text)
{
    kpid_cron c;
    char err[200] = "";
    if (kpid_cron_parse(text, &c, err, sizeof(err)) < 0)
        fail_msg("\"%s\": %s", text, err);
    return c;
}

static uint64_t bits(const int *v, size_t n)
{
    uint64_t b = 0;
    for (size_t i = 0; i < n; i++)
        b |= UINT64_C(1) << v[i];
    return b;
}

#define BITS(...) bits((const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static uint64_t range(int lo, int hi, int step)
{
    uint64_t b = 0;
    for (int v = lo; v <= hi; v += step)
        b |= UINT64_C(1) << v;
    return b;
}

/* ---- parsing ----------------------------------------------------------------------- */

static void parse_forms(void **unused)
{
    kpid_cron c = parse("* * * * *");
    assert_true(c.minutes == range(0, 59, 1) && c.hours == range(0, 23, 1) &&
                c.days == range(1, 31, 1) && c.months == range(1, 12, 1) && c.weekdays == 0x7f);
    assert_int_equal(c.flags, KPID_CRON_DOM_STAR | KPID_CRON_DOW_STAR);

    assert_true(parse("*/15 * * * *").minutes == BITS(0, 15, 30, 45));
    assert_true(parse("1-30/5 * * * *").minutes == BITS(1, 6, 11, 16, 21, 26));
    assert_true(parse("5/10 * * * *").minutes == BITS(5, 15, 25, 35, 45, 55));
    assert_true(parse("0,30 * * * *").minutes == BITS(0, 30));
    assert_true(parse("0-4,10,50-59/3 * * * *").minutes ==
                (BITS(0, 1, 2, 3, 4, 10, 50, 53, 56, 59)));
    assert_true(parse("59 * * * *").minutes == BITS(59));
    assert_true(parse("00 05 * * *").hours == BITS(5));
    assert_true(parse("* 9-17 * * *").hours == range(9, 17, 1));
    assert_true(parse("* */6 * * *").hours == BITS(0, 6, 12, 18));
    assert_true(parse("* * 1,15,31 * *").days == BITS(1, 15, 31));
    assert_true(parse("* * */10 * *").days == BITS(1, 11, 21, 31));
    assert_true(parse("* * 10/10 * *").days == BITS(10, 20, 30));
    assert_true(parse("* * * */3 *").months == BITS(1, 4, 7, 10));

    /* Names, any case, in lists, ranges and steps. */
    assert_true(parse("* * * JAN,jul,Dec *").months == BITS(1, 7, 12));
    assert_true(parse("* * * feb-APR *").months == BITS(2, 3, 4));
    assert_true(parse("* * * jan-dec/6 *").months == BITS(1, 7));
    assert_true(parse("* * * * MON-FRI").weekdays == BITS(1, 2, 3, 4, 5));
    assert_true(parse("* * * * sun,Sat").weekdays == BITS(0, 6));
    assert_true(parse("* * * * mon/2").weekdays == BITS(0, 1, 3, 5)); /* 1,3,5,7 */

    /* 7 is Sunday. */
    assert_true(parse("* * * * 7").weekdays == BITS(0));
    assert_true(parse("* * * * 5-7").weekdays == BITS(0, 5, 6));
    assert_true(parse("* * * * 0-7").weekdays == 0x7f);
    assert_true(parse("* * * * */2").weekdays == BITS(0, 2, 4, 6));
    assert_true(parse("* * * * 0,7").weekdays == BITS(0));

    /* Blanks: spaces, tabs, a trailing newline. */
    c = parse("  0\t12   *  * *  \n");
    assert_true(c.minutes == BITS(0) && c.hours == BITS(12));

    /* Which day fields count as restricted (Vixie: text starting with '*'). */
    assert_int_equal(parse("0 0 13 * 5").flags, 0);
    assert_int_equal(parse("0 0 * * 5").flags, KPID_CRON_DOM_STAR);
    assert_int_equal(parse("0 0 13 * *").flags, KPID_CRON_DOW_STAR);
    assert_int_equal(parse("0 0 */2 * 1").flags, KPID_CRON_DOM_STAR);
    assert_int_equal(parse("0 0 1-31 * 1").flags, 0);
}

static void parse_macros(void **unused)
{
    static const char *const pairs[][2] = {
        {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
        {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"}, {"@DAILY", "0 0 * * *"},   {"  @weekly  ", "0 0 * * 0"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        kpid_cron a = parse(pairs[i][0]), b = parse(pairs[i][1]);
        assert_memory_equal(&a, &b, sizeof(a));
    }
}

static void expect_error(const char *text, const char *message)
{
    kpid_cron c, before;
    char err[200] = "";
    memset(&c, 0xa5, sizeof(c));
    before = c;
    if (kpid_cron_parse(text, &c, err, sizeof(err)) != -EINVAL)
        fail_msg("\"%s\" parsed", text);
    assert_string_equal(err, message);
    assert_memory_equal(&c, &before, sizeof(c)); /* untouched on error */
}

static void parse_errors(void **unused)
{
    expect_error("", "expected 5 fields (or 6, with seconds first), got 0");
    expect_error("   ", "expected 5 fields (or 6, with seconds first), got 0");
    expect_error("* * * *", "expected 5 fields (or 6, with seconds first), got 4");
    expect_error("* * * * * * *", "expected 5 fields (or 6, with seconds first), got 7");
    expect_error("0 0 * * * /usr/bin/true", "field 6 (day of week): unexpected \"/usr/bin/true\"");
    expect_error("60 * * * * *", "field 1 (second): 60 is out of range 0-59");
    expect_error("* 60 * * * *", "field 2 (minute): 60 is out of range 0-59");

    expect_error("60 * * * *", "field 1 (minute): 60 is out of range 0-59");
    expect_error("* 24 * * *", "field 2 (hour): 24 is out of range 0-23");
    expect_error("* * 0 * *", "field 3 (day of month): 0 is out of range 1-31");
    expect_error("* * 32 * *", "field 3 (day of month): 32 is out of range 1-31");
    expect_error("* * * 0 *", "field 4 (month): 0 is out of range 1-12");
    expect_error("* * * 13 *", "field 4 (month): 13 is out of range 1-12");
    expect_error("* * * * 8", "field 5 (day of week): 8 is out of range 0-7");
    expect_error("1-60 * * * *", "field 1 (minute): 60 is out of range 0-59");
    expect_error("99999999999999999999 * * * *",
                 "field 1 (minute): 99999999999999999999 is out of range 0-59");

    expect_error("* * * FOO *", "field 4 (month): unknown name \"FOO\"");
    expect_error("* * * January *", "field 4 (month): unknown name \"January\"");
    expect_error("* * * MON *", "field 4 (month): unknown name \"MON\"");
    expect_error("* * * * JAN", "field 5 (day of week): unknown name \"JAN\"");
    expect_error("* * * * FUNDAY", "field 5 (day of week): unknown name \"FUNDAY\"");
    expect_error("abc * * * *", "field 1 (minute): expected a number, got \"abc\"");
    expect_error("* * L * *", "field 3 (day of month): expected a number, got \"L\"");

    expect_error("*/0 * * * *", "field 1 (minute): step 0 is out of range 1-59");
    expect_error("*/60 * * * *", "field 1 (minute): step 60 is out of range 1-59");
    expect_error("* */24 * * *", "field 2 (hour): step 24 is out of range 1-23");
    expect_error("* * * * */8", "field 5 (day of week): step 8 is out of range 1-7");
    expect_error("*/ * * * *", "field 1 (minute): missing step after \"/\"");
    expect_error("*/x * * * *", "field 1 (minute): missing step after \"/\"");

    expect_error("10-5 * * * *", "field 1 (minute): range 10-5 is backwards");
    expect_error("* * * DEC-JAN *", "field 4 (month): range 12-1 is backwards");
    expect_error("* * * * FRI-MON", "field 5 (day of week): range 5-1 is backwards");
    expect_error("1- * * * *", "field 1 (minute): missing end of range after \"-\"");
    expect_error("1-/2 * * * *", "field 1 (minute): missing end of range after \"-\"");

    expect_error("1,,2 * * * *", "field 1 (minute): empty list element");
    expect_error(",1 * * * *", "field 1 (minute): empty list element");
    expect_error("1, * * * *", "field 1 (minute): empty list element");
    expect_error("* * * * 1,", "field 5 (day of week): empty list element");

    expect_error("5x * * * *", "field 1 (minute): unexpected \"x\"");
    expect_error("1-2-3 * * * *", "field 1 (minute): unexpected \"-3\"");
    expect_error("*/5/2 * * * *", "field 1 (minute): unexpected \"/2\"");
    expect_error("-5 * * * *", "field 1 (minute): unexpected \"-5\"");
    expect_error("*-5 * * * *", "field 1 (minute): unexpected \"-5\"");
    expect_error("** * * * *", "field 1 (minute): unexpected \"*\"");
    expect_error("? * * * *", "field 1 (minute): unexpected \"?\"");
    expect_error("* * * * 1\x01", "field 5 (day of week): unexpected \"?\"");
    expect_error("* * * * MON#2", "field 5 (day of week): unexpected \"#2\"");
    expect_error("* * * JAN1 *", "field 4 (month): unexpected \"1\"");

    expect_error("@reboot", "unknown macro \"@reboot\"");
    expect_error("@", "unknown macro \"@\"");
    expect_error("@daily now", "unexpected \"now\" after @daily");
    expect_error("@hourly 0 * * * *", "unexpected \"0 * * * *\" after @hourly");

    /* Messages are truncated to the buffer; no buffer at all is fine. */
    kpid_cron c;
    char small[12];
    assert_int_equal(kpid_cron_parse("* 24 * * *", &c, small, sizeof(small)), -EINVAL);
    assert_string_equal(small, "field 2 (ho");
    assert_int_equal(kpid_cron_parse("* 24 * * *", &c, NULL, 0), -EINVAL);
}

/* ---- matching ---------------------------------------------------------------------- */

static kpid_civil civil(int y, int mo, int d, int h, int mi)
{
    return (kpid_civil){.year = y, .month = mo, .day = d, .hour = h, .minute = mi};
}

static void day_rule(void **unused)
{
    kpid_cron c = parse("0 0 13 * 5"); /* both restricted: the 13th OR a Friday */
    kpid_civil fri6 = civil(2025, 6, 6, 0, 0), fri13 = civil(2025, 6, 13, 0, 0),
               sun13 = civil(2025, 4, 13, 0, 0), mon9 = civil(2025, 6, 9, 0, 0);
    assert_true(kpid_cron_matches(&c, &fri6));
    assert_true(kpid_cron_matches(&c, &fri13));
    assert_true(kpid_cron_matches(&c, &sun13));
    assert_false(kpid_cron_matches(&c, &mon9));

    c = parse("0 0 */2 * 1"); /* '*' first: odd days AND Mondays */
    kpid_civil mon2 = civil(2025, 6, 2, 0, 0), mon23 = civil(2025, 6, 23, 0, 0),
               tue3 = civil(2025, 6, 3, 0, 0);
    assert_false(kpid_cron_matches(&c, &mon2));
    assert_true(kpid_cron_matches(&c, &mon23));
    assert_false(kpid_cron_matches(&c, &tue3));

    c = parse("0 0 13 * *"); /* day of week unrestricted: the 13th only */
    assert_false(kpid_cron_matches(&c, &fri6));
    assert_true(kpid_cron_matches(&c, &sun13));

    c = parse("30 2 * * *");
    kpid_civil a = civil(2025, 3, 30, 2, 30), b = civil(2025, 3, 30, 2, 31),
               bad = civil(2025, 2, 30, 2, 30);
    assert_true(kpid_cron_matches(&c, &a));
    assert_false(kpid_cron_matches(&c, &b));
    assert_false(kpid_cron_matches(&c, &bad));
}

/* ---- next firings ------------------------------------------------------------------ */

static void expect_next(const char *expr, const kpid_tz *tz, int64_t after, int64_t expected)
{
    kpid_cron c = parse(expr);
    int64_t t = 0;
    int r = kpid_cron_next(&c, tz, after, &t);
    if (r != 0 || t != expected)
        fail_msg("\"%s\" in %s after %" PRId64 ": r=%d, got %" PRId64 ", expected %" PRId64, expr,
                 kpid_tz_name(tz), after, r, t, expected);
}

/* Each firing after `after`, in order. */
static void expect_seq(const char *expr, const kpid_tz *tz, int64_t after, const int64_t *expected,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        expect_next(expr, tz, after, expected[i]);
        after = expected[i];
    }
}

#define SEQ(expr, tz, after, ...)                               \
    expect_seq(expr, tz, after, (const int64_t[]){__VA_ARGS__}, \
               sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static void expect_never(const char *expr, const kpid_tz *tz, int64_t after)
{
    kpid_cron c = parse(expr);
    int64_t t = 42;
    assert_int_equal(kpid_cron_next(&c, tz, after, &t), -ENOENT);
    assert_int_equal(t, 42);
}

static void next_utc(void **unused)
{
    int64_t jan1 = tf_utc(2025, 1, 1, 0, 0, 0);

    SEQ("* * * * *", NULL, jan1, jan1 + 60, jan1 + 120, jan1 + 180);
    expect_next("* * * * *", NULL, jan1 + 30, jan1 + 60);
    expect_next("* * * * *", NULL, jan1 - 1, jan1);
    expect_next("* * * * *", NULL, tf_utc(2025, 12, 31, 23, 59, 59), tf_utc(2026, 1, 1, 0, 0, 0));
    SEQ("*/15 * * * *", NULL, tf_utc(2025, 5, 5, 10, 7, 0), tf_utc(2025, 5, 5, 10, 15, 0),
        tf_utc(2025, 5, 5, 10, 30, 0), tf_utc(2025, 5, 5, 10, 45, 0), tf_utc(2025, 5, 5, 11, 0, 0));
    SEQ("30 * * * *", NULL, tf_utc(2025, 5, 5, 10, 29, 59), tf_utc(2025, 5, 5, 10, 30, 0),
        tf_utc(2025, 5, 5, 11, 30, 0), tf_utc(2025, 5, 5, 12, 30, 0));
    SEQ("30 2 * * *", NULL, tf_utc(2025, 3, 1, 0, 0, 0), tf_utc(2025, 3, 1, 2, 30, 0),
        tf_utc(2025, 3, 2, 2, 30, 0));
    SEQ("5/20 */6 * * *", NULL, jan1, tf_utc(2025, 1, 1, 0, 5, 0), tf_utc(2025, 1, 1, 0, 25, 0),
        tf_utc(2025, 1, 1, 0, 45, 0), tf_utc(2025, 1, 1, 6, 5, 0));
    SEQ("0 12 * * MON-FRI", NULL, tf_utc(2025, 6, 6, 12, 0, 0), /* a Friday */
        tf_utc(2025, 6, 9, 12, 0, 0), tf_utc(2025, 6, 10, 12, 0, 0));
    SEQ("0 0 1 */3 *", NULL, jan1, tf_utc(2025, 4, 1, 0, 0, 0), tf_utc(2025, 7, 1, 0, 0, 0),
        tf_utc(2025, 10, 1, 0, 0, 0), tf_utc(2026, 1, 1, 0, 0, 0));
    SEQ("0 0 * * 7", NULL, jan1, tf_utc(2025, 1, 5, 0, 0, 0), tf_utc(2025, 1, 12, 0, 0, 0));

    /* Month ends: the 31st skips the 30-day months and February. */
    SEQ("0 0 31 * *", NULL, jan1, tf_utc(2025, 1, 31, 0, 0, 0), tf_utc(2025, 3, 31, 0, 0, 0),
        tf_utc(2025, 5, 31, 0, 0, 0), tf_utc(2025, 7, 31, 0, 0, 0), tf_utc(2025, 8, 31, 0, 0, 0),
        tf_utc(2025, 10, 31, 0, 0, 0), tf_utc(2025, 12, 31, 0, 0, 0));
    SEQ("0 0 30 * *", NULL, tf_utc(2025, 1, 30, 0, 0, 0), tf_utc(2025, 3, 30, 0, 0, 0));
    SEQ("59 23 28-31 2 *", NULL, jan1, tf_utc(2025, 2, 28, 23, 59, 0),
        tf_utc(2026, 2, 28, 23, 59, 0), tf_utc(2027, 2, 28, 23, 59, 0),
        tf_utc(2028, 2, 28, 23, 59, 0), tf_utc(2028, 2, 29, 23, 59, 0));

    /* Leap years, 2100 not among them. */
    SEQ("0 0 29 2 *", NULL, tf_utc(2025, 3, 1, 0, 0, 0), tf_utc(2028, 2, 29, 0, 0, 0),
        tf_utc(2032, 2, 29, 0, 0, 0));
    expect_next("0 0 29 2 *", NULL, tf_utc(2096, 3, 1, 0, 0, 0), tf_utc(2104, 2, 29, 0, 0, 0));
    /* February 29th on a Sunday (AND: the weekday field starts with '*'). */
    SEQ("0 0 29 2 */7", NULL, jan1, tf_utc(2032, 2, 29, 0, 0, 0), tf_utc(2060, 2, 29, 0, 0, 0),
        tf_utc(2088, 2, 29, 0, 0, 0), tf_utc(2128, 2, 29, 0, 0, 0));

    /* Day of month OR day of week when both are restricted. */
    SEQ("0 0 13 * 5", NULL, tf_utc(2025, 6, 1, 0, 0, 0), tf_utc(2025, 6, 6, 0, 0, 0),
        tf_utc(2025, 6, 13, 0, 0, 0), tf_utc(2025, 6, 20, 0, 0, 0), tf_utc(2025, 6, 27, 0, 0, 0),
        tf_utc(2025, 7, 4, 0, 0, 0), tf_utc(2025, 7, 11, 0, 0, 0), tf_utc(2025, 7, 13, 0, 0, 0));
    SEQ("0 9 1-7 * MON", NULL, tf_utc(2025, 6, 7, 9, 0, 0), tf_utc(2025, 6, 9, 9, 0, 0),
        tf_utc(2025, 6, 16, 9, 0, 0));
    SEQ("0 0 */2 * 1", NULL, tf_utc(2025, 6, 1, 0, 0, 0), tf_utc(2025, 6, 9, 0, 0, 0),
        tf_utc(2025, 6, 23, 0, 0, 0), tf_utc(2025, 7, 7, 0, 0, 0), tf_utc(2025, 7, 21, 0, 0, 0));
    expect_next("0 0 31 2 1", NULL, jan1, tf_utc(2025, 2, 3, 0, 0, 0)); /* Mondays of Feb */

    /* Macros. */
    expect_next("@hourly", NULL, tf_utc(2025, 6, 1, 10, 0, 0), tf_utc(2025, 6, 1, 11, 0, 0));
    expect_next("@daily", NULL, tf_utc(2025, 6, 1, 10, 0, 0), tf_utc(2025, 6, 2, 0, 0, 0));
    expect_next("@midnight", NULL, tf_utc(2025, 6, 1, 0, 0, 0), tf_utc(2025, 6, 2, 0, 0, 0));
    expect_next("@weekly", NULL, tf_utc(2025, 6, 1, 0, 0, 0), tf_utc(2025, 6, 8, 0, 0, 0));
    expect_next("@monthly", NULL, tf_utc(2025, 6, 1, 0, 0, 0), tf_utc(2025, 7, 1, 0, 0, 0));
    expect_next("@yearly", NULL, tf_utc(2025, 6, 1, 0, 0, 0), tf_utc(2026, 1, 1, 0, 0, 0));
    expect_next("@annually", NULL, tf_utc(2025, 12, 31, 23, 59, 59), tf_utc(2026, 1, 1, 0, 0, 0));
}

static void impossible(void **unused)
{
    int64_t jan1 = tf_utc(2025, 1, 1, 0, 0, 0);
    kpid_cron c = parse("0 0 1 1 *");
    int64_t t;
    clock_t t0 = clock();

    expect_never("0 0 30 2 *", NULL, jan1);
    expect_never("0 0 31 4,6,9,11 *", NULL, jan1);
    expect_never("0 0 30,31 2 */7", NULL, jan1);
    expect_never("0 0 30 2 *", NULL, KPID_TZ_MIN_S);
    /* No firing before the end of year 9999. */
    expect_never("0 0 1 1 *", NULL, tf_utc(9999, 6, 1, 0, 0, 0));
    expect_never("0 0 29 2 *", NULL, tf_utc(9996, 3, 1, 0, 0, 0));
    expect_next("59 23 31 12 *", NULL, tf_utc(9999, 6, 1, 0, 0, 0),
                tf_utc(9999, 12, 31, 23, 59, 0));
    assert_int_equal(kpid_cron_next(&c, NULL, KPID_TZ_MAX_S + 1, &t), -ERANGE);
    assert_int_equal(kpid_cron_next(&c, NULL, KPID_TZ_MIN_S - 1, &t), -ERANGE);
    /* All of this is quick: the search skips by field. */
    for (int i = 0; i < 100; i++) {
        kpid_cron rare = parse("0 0 29 2 */7");
        assert_int_equal(kpid_cron_next(&rare, NULL, tf_utc(2088, 3, 1, 0, 0, 0), &t), 0);
        assert_int_equal(t, tf_utc(2128, 2, 29, 0, 0, 0));
    }
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

/* kpid_cron_check: the schedules that never fire, with their reason; the rare ones that
 * do fire (leap days, a leap day on a weekday, the OR rule) pass. */
static void check_never_fires(void **unused)
{
    static const struct {
        const char *expr, *reason;
    } never[] = {
        {"0 0 30 2 *", "February has no day 30"},
        {"0 0 31 feb *", "February has no day 31"},
        {"0 0 30,31 2 *", "February has no day 30 or 31"},
        {"0 0 30,31 2 */7", "February has no day 30 or 31"},
        /* A weekday field starting with '*' is unrestricted for the day rule (cron.h). */
        {"0 0 31 2 */7,1", "February has no day 31"},
        {"0 0 31 4,6,9,11 *", "April, June, September and November have no day 31"},
        {"0 0 31 2,4 *", "February and April have no day 31"},
        {"*/5 1-3 31 2,4,6,9,11 *", "February, April, June, September and November have no "
                                    "day 31"},
    };
    static const char *const fires[] = {
        "0 0 29 2 *",   "0 0 29 2 */7", "0 0 29 2 MON",  "0 0 30 2 1",    "0 0 31 2 1,*/7",
        "0 0 */30 2 *", "0 0 31 * *",   "0 0 30 1-12 *", "0 0 31 1 *",    "0 0 29-31 2 *",
        "* * * * *",    "@yearly",      "0 0 31 12 *",   "0 0 31 4,12 *",
    };
    char err[200];

    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        kpid_cron c = parse(never[i].expr);
        int64_t t;
        err[0] = '\0';
        if (kpid_cron_check(&c, err, sizeof(err)) != -ENOENT)
            fail_msg("\"%s\" passed the check", never[i].expr);
        assert_string_equal(err, never[i].reason);
        assert_int_equal(kpid_cron_next(&c, NULL, tf_utc(2025, 1, 1, 0, 0, 0), &t), -ENOENT);
        /* The reason is cut to the buffer; no buffer at all is fine. */
        assert_int_equal(kpid_cron_check(&c, err, 9), -ENOENT);
        assert_int_equal(strlen(err), 8);
        assert_memory_equal(err, never[i].reason, 8);
        assert_int_equal(kpid_cron_check(&c, NULL, 0), -ENOENT);
    }
    for (size_t i = 0; i < sizeof(fires) / sizeof(fires[0]); i++) {
        kpid_cron c = parse(fires[i]);
        if (kpid_cron_check(&c, err, sizeof(err)) != 0)
            fail_msg("\"%s\" refused: %s", fires[i], err);
    }
}

/* Whether some day of the 400-year cycle from 2000-01-01 matches at 00:00, day by day. */
static bool brute_fires(const kpid_cron *c)
{
    int64_t first = kpid_days_from_civil(2000, 1, 1);
    for (int64_t d = first; d < first + 146097; d++) {
        int64_t y;
        kpid_civil l = {0};
        kpid_civil_from_days(d, &y, &l.month, &l.day);
        l.year = (int)y;
        if (kpid_cron_matches(c, &l))
            return true;
    }
    return false;
}

/* kpid_cron_check against a day-by-day search of the 400-year cycle: every set of months
 * with the day-of-month lists that end months, and weekday fields with and without '*'. */
static void check_against_brute_force(void **unused)
{
    static const char *const day_lists[] = {"30",    "31",      "30,31", "29",
                                            "29,31", "28-31/3", "*/30",  "1"};
    static const char *const weekday_lists[] = {"*", "*/3", "1", "SUN-SAT"};
    int never = 0, checked = 0;

    for (unsigned mask = 1; mask < 4096; mask++) {
        char months[64] = "", expr[128], err[200];
        size_t len = 0;
        for (int m = 1; m <= 12; m++)
            if (mask >> (m - 1) & 1)
                len +=
                    (size_t)snprintf(months + len, sizeof(months) - len, "%s%d", len ? "," : "", m);
        for (size_t d = 0; d < sizeof(day_lists) / sizeof(day_lists[0]); d++)
            for (size_t w = 0; w < sizeof(weekday_lists) / sizeof(weekday_lists[0]); w++) {
                /* The brute force is slow for the few that never fire: sample the rest. */
                if (w > 0 && mask % 37 != 0 && mask != 2 && mask != 0x52a)
                    continue;
                snprintf(expr, sizeof(expr), "0 0 %s %s %s", day_lists[d], months,
                         weekday_lists[w]);
                kpid_cron c = parse(expr);
                bool fires = kpid_cron_check(&c, err, sizeof(err)) == 0;
                if (fires != brute_fires(&c))
                    fail_msg("\"%s\": check says %s", expr, fires ? "fires" : err);
                never += !fires;
                checked++;
            }
    }
    /* With weekday "*": day 30 in February, day 31 in any of the 31 sets of months
     * shorter than 31 days, days 30 and 31 in February (33); with "*\/3", of the sampled
     * month sets: February for the three, 2,4,6,9,11 and 4,6,9 (mask 296) for day 31. */
    assert_int_equal(never, 33 + 5);
    assert_true(checked > 4095 * 8);
}

/* The 6-field form: seconds first; a 5-field expression is the same with second 0. */
static void next_seconds(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");
    kpid_cron five = parse("*/15 3 * * *"), six = parse("0 */15 3 * * *");

    (void)unused;
    assert_memory_equal(&five, &six, sizeof(five));
    SEQ("*/10 * * * * *", NULL, tf_utc(2026, 1, 1, 12, 0, 3), tf_utc(2026, 1, 1, 12, 0, 10),
        tf_utc(2026, 1, 1, 12, 0, 20), tf_utc(2026, 1, 1, 12, 0, 30));
    SEQ("*/10 * * * * *", NULL, tf_utc(2026, 1, 1, 12, 0, 55), tf_utc(2026, 1, 1, 12, 1, 0));
    /* Seconds 5 and 40 of minute 30 of each hour. */
    SEQ("5,40 30 * * * *", NULL, tf_utc(2026, 1, 1, 12, 30, 5), tf_utc(2026, 1, 1, 12, 30, 40),
        tf_utc(2026, 1, 1, 13, 30, 5));
    SEQ("5,40 30 * * * *", NULL, tf_utc(2026, 1, 1, 12, 30, 41), tf_utc(2026, 1, 1, 13, 30, 5));
    /* A wall time in the spring-forward gap fires at the gap's end, plus its seconds. */
    SEQ("15 30 2 * * *", tz, tf_utc(2025, 3, 29, 12, 0, 0), tf_utc(2025, 3, 30, 1, 0, 15),
        tf_utc(2025, 3, 31, 0, 30, 15));
    /* The repeated hour of a fall-back does not fire again, seconds or not. */
    expect_next("30 */15 * * * *", tz, tf_utc(2025, 10, 26, 1, 20, 0),
                tf_utc(2025, 10, 26, 2, 0, 30));
    kpid_tz_free(tz);
}

static void next_berlin(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");

    /* Spring forward on 2025-03-30: 02:30 does not exist and fires at 03:00 CEST. */
    SEQ("30 2 * * *", tz, tf_utc(2025, 3, 29, 2, 0, 0), tf_utc(2025, 3, 30, 1, 0, 0),
        tf_utc(2025, 3, 31, 0, 30, 0));
    SEQ("0 2 * * *", tz, tf_utc(2025, 3, 29, 12, 0, 0), tf_utc(2025, 3, 30, 1, 0, 0));
    SEQ("0 3 * * *", tz, tf_utc(2025, 3, 29, 12, 0, 0), tf_utc(2025, 3, 30, 1, 0, 0),
        tf_utc(2025, 3, 31, 1, 0, 0));
    /* Every 15 minutes: the whole gap fires once, at 03:00 CEST. */
    SEQ("*/15 * * * *", tz, tf_utc(2025, 3, 30, 0, 30, 0), tf_utc(2025, 3, 30, 0, 45, 0),
        tf_utc(2025, 3, 30, 1, 0, 0), tf_utc(2025, 3, 30, 1, 15, 0));
    SEQ("* * * * *", tz, tf_utc(2025, 3, 30, 0, 58, 0), tf_utc(2025, 3, 30, 0, 59, 0),
        tf_utc(2025, 3, 30, 1, 0, 0), tf_utc(2025, 3, 30, 1, 1, 0));
    SEQ("0 * * * *", tz, tf_utc(2025, 3, 29, 23, 30, 0), tf_utc(2025, 3, 30, 0, 0, 0),
        tf_utc(2025, 3, 30, 1, 0, 0), tf_utc(2025, 3, 30, 2, 0, 0));

    /* Fall back on 2025-10-26: 02:30 happens twice and fires at the first, 00:30Z. */
    SEQ("30 2 * * *", tz, tf_utc(2025, 10, 25, 1, 0, 0), tf_utc(2025, 10, 26, 0, 30, 0),
        tf_utc(2025, 10, 27, 1, 30, 0));
    expect_next("30 2 * * *", tz, tf_utc(2025, 10, 26, 1, 0, 0), tf_utc(2025, 10, 27, 1, 30, 0));
    /* Every 15 minutes: the repeated hour does not fire again. */
    SEQ("*/15 * * * *", tz, tf_utc(2025, 10, 26, 0, 30, 0), tf_utc(2025, 10, 26, 0, 45, 0),
        tf_utc(2025, 10, 26, 2, 0, 0), tf_utc(2025, 10, 26, 2, 15, 0));
    expect_next("*/15 * * * *", tz, tf_utc(2025, 10, 26, 1, 20, 0), tf_utc(2025, 10, 26, 2, 0, 0));
    SEQ("0 * * * *", tz, tf_utc(2025, 10, 25, 23, 30, 0), tf_utc(2025, 10, 26, 0, 0, 0),
        tf_utc(2025, 10, 26, 2, 0, 0), tf_utc(2025, 10, 26, 3, 0, 0));
    SEQ("0 0 * * *", tz, tf_utc(2025, 10, 25, 12, 0, 0), tf_utc(2025, 10, 25, 22, 0, 0),
        tf_utc(2025, 10, 26, 23, 0, 0));

    /* Ordinary days and the far future (footer rule). */
    SEQ("30 * * * *", tz, tf_utc(2025, 6, 1, 10, 0, 0), tf_utc(2025, 6, 1, 10, 30, 0),
        tf_utc(2025, 6, 1, 11, 30, 0));
    SEQ("30 2 * * *", tz, tf_utc(2100, 3, 27, 12, 0, 0), tf_utc(2100, 3, 28, 1, 0, 0),
        tf_utc(2100, 3, 29, 0, 30, 0));
    SEQ("0 0 29 2 *", tz, tf_utc(2025, 1, 1, 0, 0, 0), tf_utc(2028, 2, 28, 23, 0, 0));
    kpid_tz_free(tz);
}

/* Firings in [from, to). */
static int count_firings(const char *expr, const kpid_tz *tz, int64_t from, int64_t to)
{
    kpid_cron c = parse(expr);
    int64_t t = from - 1;
    int n = 0;
    while (kpid_cron_next(&c, tz, t, &t) == 0 && t < to)
        n++;
    return n;
}

static void firings_per_day(void **unused)
{
    kpid_tz *tz = tf_load("Europe/Berlin");
    int64_t spring = tf_utc(2025, 3, 29, 23, 0, 0), spring_end = tf_utc(2025, 3, 30, 22, 0, 0);
    int64_t fall = tf_utc(2025, 10, 25, 22, 0, 0), fall_end = tf_utc(2025, 10, 26, 23, 0, 0);

    assert_int_equal(count_firings("* * * * *", tz, spring, spring_end), 23 * 60);
    assert_int_equal(count_firings("*/15 * * * *", tz, spring, spring_end), 23 * 4);
    assert_int_equal(count_firings("0 * * * *", tz, spring, spring_end), 23);
    assert_int_equal(count_firings("30 2 * * *", tz, spring, spring_end), 1);
    /* The 25-hour day: every wall time once. */
    assert_int_equal(count_firings("* * * * *", tz, fall, fall_end), 24 * 60);
    assert_int_equal(count_firings("*/15 * * * *", tz, fall, fall_end), 24 * 4);
    assert_int_equal(count_firings("0 * * * *", tz, fall, fall_end), 24);
    assert_int_equal(count_firings("30 2 * * *", tz, fall, fall_end), 1);
    assert_int_equal(
        count_firings("0 0 * * *", NULL, tf_utc(2024, 1, 1, 0, 0, 0), tf_utc(2025, 1, 1, 0, 0, 0)),
        366);
    kpid_tz_free(tz);
}

static void next_almaty(void **unused)
{
    kpid_tz *tz = tf_load("Asia/Almaty");

    /* +06 until 2024-03-01 00:00, then +05: 23:00-24:00 on February 29th repeats. */
    SEQ("0 0 * * *", tz, tf_utc(2024, 2, 28, 12, 0, 0), tf_utc(2024, 2, 28, 18, 0, 0),
        tf_utc(2024, 2, 29, 19, 0, 0), tf_utc(2024, 3, 1, 19, 0, 0));
    SEQ("30 23 * * *", tz, tf_utc(2024, 2, 29, 17, 0, 0), tf_utc(2024, 2, 29, 17, 30, 0),
        tf_utc(2024, 3, 1, 18, 30, 0));
    SEQ("*/15 * * * *", tz, tf_utc(2024, 2, 29, 17, 30, 0), tf_utc(2024, 2, 29, 17, 45, 0),
        tf_utc(2024, 2, 29, 19, 0, 0));
    SEQ("0 12 * * *", tz, tf_utc(2025, 6, 1, 0, 0, 0), tf_utc(2025, 6, 1, 7, 0, 0),
        tf_utc(2025, 6, 2, 7, 0, 0));
    SEQ("0 12 * * *", tz, tf_utc(2023, 6, 1, 0, 0, 0), tf_utc(2023, 6, 1, 6, 0, 0));
    SEQ("@monthly", tz, tf_utc(2025, 1, 15, 0, 0, 0), tf_utc(2025, 1, 31, 19, 0, 0),
        tf_utc(2025, 2, 28, 19, 0, 0));
    kpid_tz_free(tz);
}

static void next_lord_howe(void **unused)
{
    kpid_tz *tz = tf_load("Australia/Lord_Howe");

    /* 2025-10-05: 02:00-02:30 skipped (+10:30 -> +11). */
    expect_next("15 2 * * *", tz, tf_utc(2025, 10, 4, 12, 0, 0), tf_utc(2025, 10, 4, 15, 30, 0));
    expect_next("30 2 * * *", tz, tf_utc(2025, 10, 4, 12, 0, 0), tf_utc(2025, 10, 4, 15, 30, 0));
    SEQ("*/10 2 * * *", tz, tf_utc(2025, 10, 4, 12, 0, 0), tf_utc(2025, 10, 4, 15, 30, 0),
        tf_utc(2025, 10, 4, 15, 40, 0), tf_utc(2025, 10, 4, 15, 50, 0),
        tf_utc(2025, 10, 5, 15, 0, 0));
    /* 2025-04-06: 01:30-02:00 repeated (+11 -> +10:30). */
    SEQ("45 1 * * *", tz, tf_utc(2025, 4, 5, 12, 0, 0), tf_utc(2025, 4, 5, 14, 45, 0),
        tf_utc(2025, 4, 6, 15, 15, 0));
    SEQ("*/20 * * * *", tz, tf_utc(2025, 4, 5, 14, 30, 0), tf_utc(2025, 4, 5, 14, 40, 0),
        tf_utc(2025, 4, 5, 15, 30, 0));
    kpid_tz_free(tz);
}

/* ---- brute force ------------------------------------------------------------------- */

/*
 * The rules, minute by real minute: instant t fires if its wall time matches and occurs
 * there for the first time, or if clocks jumped at t over a matching wall time. Zones
 * with whole-minute offsets only. Returns the first firing in (after, limit) or -1.
 */
static int64_t brute_next(const kpid_cron *c, const kpid_tz *tz, int64_t after, int64_t limit)
{
    for (int64_t t = after - (after % 60 + 60) % 60 + 60; t < limit; t += 60) {
        kpid_civil l, prev;
        int64_t first;
        assert_int_equal(kpid_tz_to_local(tz, t, &l), 0);
        assert_int_equal(kpid_tz_to_local(tz, t - 1, &prev), 0);
        if (t > after && kpid_cron_matches(c, &l)) {
            assert_int_equal(kpid_tz_from_local(tz, &l, 0, &first, NULL), 0);
            if (first == t)
                return t;
        }
        for (int64_t w = tf_wall_seconds(&prev) + 1; w < tf_wall_seconds(&l); w++) {
            int64_t y, days = w / 86400;
            int secs = (int)(w % 86400);
            kpid_civil g = {0};
            if (secs % 60)
                continue;
            kpid_civil_from_days(days, &y, &g.month, &g.day);
            g.year = (int)y;
            g.hour = secs / 3600;
            g.minute = secs / 60 % 60;
            if (t > after && kpid_cron_matches(c, &g))
                return t;
        }
    }
    return -1;
}

static void brute_force(void **unused)
{
    static const char *const f[5][8] = {
        {"*", "*/15", "0", "30", "0,30", "5-10", "*/7", "59"},
        {"*", "2", "2,3", "1-3", "*/6", "0", "23", "1"},
        {"*", "*", "*/2", "13", "25-31", "*", "31", "26-30"},
        {"*", "3", "10", "3,10", "*/2", "4", "3-4", "10-11"},
        {"*", "0", "1-5", "SUN", "*/3", "6,7", "MON", "*"},
    };
    static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                        "UTC"};
    const int64_t days[] = {tf_utc(2025, 3, 30, 0, 0, 0), tf_utc(2025, 10, 26, 0, 0, 0),
                            tf_utc(2025, 3, 9, 0, 0, 0),  tf_utc(2025, 11, 2, 0, 0, 0),
                            tf_utc(2025, 4, 6, 0, 0, 0),  tf_utc(2025, 10, 5, 0, 0, 0)};
    uint64_t seed = 7;
    int checked = 0, found = 0;

    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        kpid_tz *tz = tf_load(zones[z]);
        for (int i = 0; i < 400; i++) {
            char expr[64];
            int pick[6];
            for (int k = 0; k < 6; k++) {
                seed = seed * 6364136223846793005u + 1442695040888963407u;
                pick[k] = (int)(seed >> 33);
            }
            snprintf(expr, sizeof(expr), "%s %s %s %s %s", f[0][pick[0] % 8], f[1][pick[1] % 8],
                     f[2][pick[2] % 8], f[3][pick[3] % 8], f[4][pick[4] % 8]);
            kpid_cron c = parse(expr);
            int64_t after = days[pick[5] % 6] - 2 * 86400 + (pick[5] >> 3) % (4 * 86400);
            int64_t limit = after + 3 * 86400, t = 0, expected;
            int r = kpid_cron_next(&c, tz, after, &t);
            expected = brute_next(&c, tz, after, limit);
            if (expected >= 0) {
                found++;
                if (r != 0 || t != expected)
                    fail_msg("\"%s\" in %s after %" PRId64 ": r=%d got %" PRId64
                             ", brute force says %" PRId64,
                             expr, zones[z], after, r, t, expected);
            } else if (r == 0 && t < limit) {
                fail_msg("\"%s\" in %s after %" PRId64 ": got %" PRId64 ", brute force none", expr,
                         zones[z], after, t);
            }
            checked++;
        }
        kpid_tz_free(tz);
    }
    assert_int_equal(checked, 1600);
    assert_true(found > 400); /* the comparison is not vacuous */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_forms),       cmocka_unit_test(parse_macros),
        cmocka_unit_test(parse_errors),      cmocka_unit_test(day_rule),
        cmocka_unit_test(next_utc),          cmocka_unit_test(impossible),
        cmocka_unit_test(check_never_fires), cmocka_unit_test(check_against_brute_force),
        cmocka_unit_test(next_seconds),      cmocka_unit_test(next_berlin),
        cmocka_unit_test(firings_per_day),   cmocka_unit_test(next_almaty),
        cmocka_unit_test(next_lord_howe),    cmocka_unit_test(brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
