#define _POSIX_C_SOURCE 200809L

#include "truth_period.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "time/civil.h"

int ht_parse_day(const char *text, int64_t *ret_day)
{
    int y, m, d, n = 0;
    int64_t y2;
    int m2, d2;

    if (sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || text[10] != '\0')
        return -EINVAL;
    int64_t day = kpid_days_from_civil(y, m, d);
    kpid_civil_from_days(day, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d)
        return -EINVAL;
    *ret_day = day;
    return 0;
}

int ht_period_parse(const char *text, struct ht_pspec *ret)
{
    static const char *const days[7] = {"monday", "tuesday",  "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};
    static const struct {
        const char *name;
        enum ht_pkind kind;
    } simple[] = {{"day", HT_P_DAY},
                  {"week", HT_P_WEEK},
                  {"month", HT_P_MONTH},
                  {"quarter", HT_P_QUARTER},
                  {"year", HT_P_YEAR}};
    struct ht_pspec p = {.first_wday = 0, .first_month = 1};

    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
        if (strcasecmp(text, simple[i].name) == 0) {
            p.kind = simple[i].kind;
            *ret = p;
            return 0;
        }
    if (strncasecmp(text, "week:", 5) == 0) {
        for (int i = 0; i < 7; i++)
            if (strcasecmp(text + 5, days[i]) == 0 ||
                (strlen(text + 5) == 3 && strncasecmp(text + 5, days[i], 3) == 0)) {
                p.kind = HT_P_WEEK;
                p.first_wday = i;
                *ret = p;
                return 0;
            }
        return -EINVAL;
    }
    if (strncasecmp(text, "fiscal_year:", 12) == 0) {
        char *end;
        long m = strtol(text + 12, &end, 10);
        if (!isdigit((unsigned char)text[12]) || *end || m < 1 || m > 12)
            return -EINVAL;
        p.kind = HT_P_FISCAL_YEAR;
        p.first_month = (int)m;
        *ret = p;
        return 0;
    }
    if (strncasecmp(text, "last ", 5) == 0) {
        p.kind = HT_P_ROLLING;
        *ret = p;
        return 0;
    }
    return -EINVAL;
}

/* The local date (day number) of instant t (seconds) in the zone TZ names. */
static int64_t local_day(time_t t)
{
    struct tm tm;

    if (!localtime_r(&t, &tm))
        return INT64_MIN;
    return kpid_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/*
 * The first instant (seconds) whose local date is day: local 00:00, its first
 * occurrence when it repeats, or the end of the gap when clocks skip midnight.
 */
static int64_t local_midnight(int64_t day)
{
    int64_t y, best = INT64_MAX;
    int m, d;

    kpid_civil_from_days(day, &y, &m, &d);
    for (int isdst = -1; isdst <= 1; isdst++) {
        struct tm tm = {
            .tm_year = (int)(y - 1900), .tm_mon = m - 1, .tm_mday = d, .tm_isdst = isdst};
        struct tm lt;
        time_t t = mktime(&tm);
        if (t == (time_t)-1 || !localtime_r(&t, &lt))
            continue;
        if (lt.tm_year == y - 1900 && lt.tm_mon == m - 1 && lt.tm_mday == d && lt.tm_hour == 0 &&
            lt.tm_min == 0 && lt.tm_sec == 0 && t < best)
            best = t;
    }
    if (best != INT64_MAX)
        return best;
    /* Midnight does not exist that day: the first instant of the day, by bisection
     * (local offsets are within a day of UTC). */
    int64_t lo = day * 86400 - 2 * 86400, hi = day * 86400 + 2 * 86400;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (local_day((time_t)mid) >= day)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The first day of the period containing day. */
static int64_t period_first_day(const struct ht_pspec *p, int64_t day)
{
    int64_t y;
    int m, d;

    kpid_civil_from_days(day, &y, &m, &d);
    switch (p->kind) {
    case HT_P_DAY: return day;
    case HT_P_WEEK: {
        int wday = (kpid_weekday_from_days(day) + 6) % 7; /* Monday = 0 */
        return day - (wday - p->first_wday + 7) % 7;
    }
    case HT_P_MONTH: return kpid_days_from_civil(y, m, 1);
    case HT_P_QUARTER: return kpid_days_from_civil(y, (m - 1) / 3 * 3 + 1, 1);
    case HT_P_YEAR: return kpid_days_from_civil(y, 1, 1);
    case HT_P_FISCAL_YEAR:
        return kpid_days_from_civil(m >= p->first_month ? y : y - 1, p->first_month, 1);
    default: return day;
    }
}

/* The first day of the period after the one starting on day first. */
static int64_t period_next_day(const struct ht_pspec *p, int64_t first)
{
    int64_t y;
    int m, d, months;

    kpid_civil_from_days(first, &y, &m, &d);
    switch (p->kind) {
    case HT_P_DAY: return first + 1;
    case HT_P_WEEK: return first + 7;
    case HT_P_MONTH: months = 1; break;
    case HT_P_QUARTER: months = 3; break;
    default: months = 12; break;
    }
    m += months;
    y += (m - 1) / 12;
    m = (m - 1) % 12 + 1;
    return kpid_days_from_civil(y, m, 1);
}

int ht_periods(const struct ht_pspec *spec, const char *tz, int64_t from_day, int64_t to_day,
               int64_t **ret_bounds, size_t *ret_n)
{
    char path[512];
    int64_t *b = NULL;
    size_t n = 0, cap = 0;

    if (spec->kind == HT_P_ROLLING)
        return -EINVAL;
    /* glibc silently falls back to UTC for an unknown zone: check the file exists. */
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    if (strcmp(tz, "UTC") != 0 && (strstr(tz, "..") || access(path, R_OK) != 0))
        return -EINVAL;
    if (setenv("TZ", tz, 1) < 0)
        return -errno;
    tzset();

    int64_t end = local_midnight(to_day);
    int64_t first = period_first_day(spec, from_day);
    int64_t start = local_midnight(first);
    for (;;) {
        if (n + 2 > cap) {
            size_t c = cap ? cap * 2 : 64;
            int64_t *nb = realloc(b, c * sizeof(*nb));
            if (!nb) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
            cap = c;
        }
        b[n] = start * 1000000;
        if (start >= end)
            break;
        first = period_next_day(spec, first);
        start = local_midnight(first);
        n++;
    }
    *ret_bounds = b;
    *ret_n = n;
    return 0;
}
