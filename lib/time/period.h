/*
 * KPI reporting periods: calendar periods in the local time of a time zone (day, week,
 * month, quarter, year, fiscal year) and rolling windows (the last N minutes, hours,
 * days or weeks before an instant). A period is a half-open interval of instants
 * [start, end), so consecutive periods neither overlap nor leave holes, and an instant
 * exactly at a boundary belongs to the period that starts there.
 *
 * A calendar period starts at local midnight of its first day: the first instant whose
 * local date is that day (the first occurrence of 00:00, or the end of the gap where
 * clocks skip midnight). So periods follow the wall clock, not a count of seconds: in
 * Europe/Berlin the day 2025-03-30 is 23 hours long and 2025-10-26 is 25 hours.
 *   day          a local date
 *   week         7 days from the configured first weekday (default Monday)
 *   month        a calendar month
 *   quarter      January-March, April-June, July-September, October-December
 *   year         a calendar year
 *   fiscal year  12 months from the configured first month, named by the year in which it
 *                starts: with fiscal_year:4, FY2025 is 2025-04-01 .. 2026-04-01; with
 *                fiscal_year:1 it is the calendar year
 *
 * Plain values, no state: share specs between threads freely.
 */
#ifndef KPID_PERIOD_H
#define KPID_PERIOD_H

#include <stddef.h>
#include <stdint.h>

#include "time/tz.h"

#define KPID_PERIOD_LABEL_MAX 40                           /* bytes a label needs, NUL included */
#define KPID_PERIOD_ROLLING_MAX_S (INT64_C(36525) * 86400) /* 100 years */

typedef enum kpid_period_kind {
    KPID_PERIOD_DAY,
    KPID_PERIOD_WEEK,
    KPID_PERIOD_MONTH,
    KPID_PERIOD_QUARTER,
    KPID_PERIOD_YEAR,
    KPID_PERIOD_FISCAL_YEAR,
    KPID_PERIOD_ROLLING,
} kpid_period_kind;

typedef struct kpid_period_spec {
    kpid_period_kind kind;
    int first_weekday; /* WEEK: 0 = Sunday ... 6 = Saturday */
    int first_month;   /* FISCAL_YEAR: 1-12 */
    int64_t seconds;   /* ROLLING: the window's length, 1 .. KPID_PERIOD_ROLLING_MAX_S */
    uint32_t reserved[4];
} kpid_period_spec;

/* The instants start <= t < end, in seconds since the epoch (UTC). */
typedef struct kpid_interval {
    int64_t start, end;
} kpid_interval;

/*
 * Parses a period: "day", "week" (Monday first), "week:sunday" (or any weekday, full or
 * three letters), "month", "quarter", "year", "fiscal_year:4" (first month 1-12),
 * "last 90m", "last 24h", "last 30d", "last 2w". Keywords are case-insensitive. Returns
 * 0, or -EINVAL with a one-line message in err (truncated to errlen; err may be NULL when
 * errlen is 0). *ret is written only on success.
 */
int kpid_period_parse(const char *text, kpid_period_spec *ret, char *err, size_t errlen);

/*
 * The period containing instant t, in *ret: for a calendar period [start, end) with
 * start <= t < end, in the local time of tz (NULL: UTC); for a rolling window
 * [t - seconds, t), the window ending at t. Returns 0, -EINVAL for an invalid spec, or
 * -ERANGE when t or a boundary is outside the years 0001-9999.
 */
int kpid_period_containing(const kpid_period_spec *spec, const kpid_tz *tz, int64_t t,
                           kpid_interval *ret);

/*
 * The period after / before cur: for a calendar period, the one containing cur->end /
 * cur->start - 1; for a rolling window, the window of the same length starting at
 * cur->end / ending at cur->start. Chaining either gives contiguous, non-overlapping
 * periods. Returns as kpid_period_containing.
 */
int kpid_period_next(const kpid_period_spec *spec, const kpid_tz *tz, const kpid_interval *cur,
                     kpid_interval *ret);
int kpid_period_prev(const kpid_period_spec *spec, const kpid_tz *tz, const kpid_interval *cur,
                     kpid_interval *ret);

/*
 * Writes the name of the calendar period containing iv->start into buf:
 *   day "2025-03-30", week "2025-W13", month "2025-03", quarter "2025-Q1", year "2025",
 *   fiscal year "FY2025" (the year it starts in);
 * and for a rolling window its end in local time, RFC 3339: "2025-03-30T14:00:00+02:00".
 * Weeks are numbered like ISO 8601, generalized to the configured first weekday: a week
 * belongs to the year that holds its 4th day (Thursday for Monday weeks, so Monday weeks
 * are exactly ISO weeks; Wednesday for Sunday weeks), and week 1 is the first such week.
 * Returns 0, -ENOBUFS if len is too small (KPID_PERIOD_LABEL_MAX always suffices),
 * -EINVAL, or -ERANGE.
 */
int kpid_period_label(const kpid_period_spec *spec, const kpid_tz *tz, const kpid_interval *iv,
                      char *buf, size_t len);

#endif
