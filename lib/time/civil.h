/*
 * Calendar arithmetic on the proleptic Gregorian calendar, for any year that fits
 * (Howard Hinnant's algorithms, chrono-Compatible Low-Level Date Algorithms). Days are
 * counted from 1970-01-01 (day 0, negative before); month is 1-12.
 *
 * This is kpid's one copy of civil-date arithmetic: the time zones (time/tz.h), RFC 3339
 * parsing (time/rfc3339.h), the batch's time formatting, the KPI engine's cron and
 * periods, and the synthetic hospital generator all count days with it. No locale, no
 * time zone, no global state: every function is thread-safe.
 */
#ifndef KPID_TIME_CIVIL_H
#define KPID_TIME_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* a / b rounded towards negative infinity (b > 0): the day of a second count is
 * kpid_floor_div(secs, 86400), also before 1970. */
static inline int64_t kpid_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/*
 * The day number of a date. Also accepts a day beyond the month's end (2025-01-32 is
 * 2025-02-01) and day 0 (the day before the first).
 */
int64_t kpid_days_from_civil(int64_t year, int month, int day);

/* The date of a day number: year, month (1-12) and day (1-31). */
void kpid_civil_from_days(int64_t days, int64_t *ret_year, int *ret_month, int *ret_day);

/* The day of the week of a day number: 0 = Sunday ... 6 = Saturday. */
int kpid_weekday_from_days(int64_t days);

/* Whether year is a leap year by the Gregorian rule. */
bool kpid_leap_year(int64_t year);

/* The number of days of a month: 28 to 31; 0 for a month outside 1-12. */
int kpid_days_in_month(int64_t year, int month);

#endif
