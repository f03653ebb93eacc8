/*
 * RFC 3339 timestamps to microseconds since the Unix epoch (UTC).
 *
 * Accepted: YYYY-MM-DD('T'|'t'|' ')HH:MM:SS[.F{1,9}]('Z'|'z'|('+'|'-')HH:MM), with
 * exactly these digit counts and nothing before or after. Every field is checked: year
 * 0001-9999, month 01-12, day within its month (leap years by the Gregorian rule),
 * hour 00-23, minute 00-59, second 00-60, offset hours 00-23 and minutes 00-59. A
 * fraction is truncated to microseconds (towards the past, also before 1970).
 *
 * Leap seconds: second 60 is accepted only where a leap second can be, in the last
 * minute of a UTC day (23:59:60Z, or 18:59:60-05:00), and becomes 23:59:59.999999 UTC
 * of that day: it stays on its day and before the next minute, which is what day
 * periods and "first A after B" orderings need. Any fraction of it is dropped.
 *
 * No locale, no timegm(3), no time zone database: days from the civil date are
 * computed directly (proleptic Gregorian calendar).
 */
#ifndef KPID_FILE_RFC3339_H
#define KPID_FILE_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses the len bytes at s (not necessarily NUL-terminated). Returns 0 and writes the
 * instant to *ret_us, or returns -EINVAL and, when ret_why is not NULL, points *ret_why
 * at a static phrase naming what is wrong ("day out of range for the month").
 * *ret_us is written only on success.
 */
int rfc3339_parse(const char *s, size_t len, int64_t *ret_us, const char **ret_why);

/* Days from 1970-01-01 to the given proleptic Gregorian date (negative before). */
int64_t rfc3339_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
