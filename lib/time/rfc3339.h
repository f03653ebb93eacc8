/*
 * RFC 3339 timestamps to microseconds since the Unix epoch (UTC), and RFC 3339 dates.
 *
 * A timestamp (date-time) is YYYY-MM-DD('T'|'t'|' ')HH:MM:SS[.F{1,9}]('Z'|'z'|('+'|'-')
 * HH:MM), with exactly these digit counts and nothing before or after. Every field is
 * checked: year 0001-9999, month 01-12, day within its month (leap years by the
 * Gregorian rule), hour 00-23, minute 00-59, second 00-60, offset hours 00-23 and
 * minutes 00-59. A fraction is truncated to microseconds (towards the past, also before
 * 1970).
 *
 * Leap seconds: second 60 is accepted only where a leap second can be, in the last
 * minute of a UTC day (23:59:60Z, or 18:59:60-05:00), and becomes 23:59:59.999999 UTC
 * of that day: it stays on its day and before the next minute, which is what day
 * periods and "first A after B" orderings need. Any fraction of it is dropped.
 *
 * No locale, no timegm(3), no time zone database: days from the civil date are
 * computed by time/civil.h (proleptic Gregorian calendar). Thread-safe.
 */
#ifndef KPID_TIME_RFC3339_H
#define KPID_TIME_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses the timestamp in the len bytes at s (not necessarily NUL-terminated). Returns 0
 * and writes the instant to *ret_us, or returns -EINVAL and, when ret_why is not NULL,
 * points *ret_why at a static phrase naming what is wrong ("day out of range for the
 * month"). *ret_us is written only on success.
 */
int kpid_rfc3339_parse(const char *s, size_t len, int64_t *ret_us, const char **ret_why);

/*
 * Parses a date (RFC 3339 full-date: exactly YYYY-MM-DD, year 0001-9999, a day that
 * exists; no sign, no padding, nothing before or after) in the len bytes at s. Returns 0
 * and writes the year, month (1-12) and day (1-31), or -EINVAL with *ret_why (if not
 * NULL) pointing at a static phrase. The outputs are written only on success.
 */
int kpid_rfc3339_parse_date(const char *s, size_t len, int *ret_year, int *ret_month, int *ret_day,
                            const char **ret_why);

/*
 * Parses a month, YYYY-MM (RFC 3339's date-fullyear "-" date-month), with the rules of
 * kpid_rfc3339_parse_date. Returns 0 and writes the year and month, or -EINVAL.
 */
int kpid_rfc3339_parse_month(const char *s, size_t len, int *ret_year, int *ret_month,
                             const char **ret_why);

#endif
