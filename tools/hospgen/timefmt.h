/*
 * Times: microseconds since 1970-01-01 00:00:00 UTC in an int64_t, and the hand-rolled
 * formatters the output needs (printf is too slow for ten million lines). Years must lie
 * in 1970..9999. Day numbers and dates come from lib/time (time/civil.h).
 */
#ifndef HG_TIMEFMT_H
#define HG_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HG_SEC INT64_C(1000000)
#define HG_MIN (60 * HG_SEC)
#define HG_HOUR (60 * HG_MIN)
#define HG_DAY (24 * HG_HOUR)

/* Longest output of hg_fmt_rfc3339 / hg_fmt_utc, without a terminator. */
#define HG_RFC3339_MAX 32
#define HG_UTC_MAX 29

/* Writes v in decimal, zero-padded to at least width (at most 20) digits, into out (no
 * terminator); returns the length. */
size_t hg_fmt_uint(char *out, uint64_t v, unsigned width);

/*
 * Parses "YYYY-MM-DD" (a real date, years 1970..9999). Returns 0 and stores midnight
 * UTC of that day in *ret_us, or -EINVAL.
 */
int hg_parse_date(const char *s, int64_t *ret_us);
/*
 * Parses a UTC offset "+HH:MM" or "-HH:MM" (up to 23:59). Returns 0 and stores the
 * offset in seconds east of UTC in *ret_sec, or -EINVAL.
 */
int hg_parse_offset(const char *s, int32_t *ret_sec);

/*
 * Writes utc_us as RFC 3339 into out (no terminator) and returns the length: "Z" when
 * zulu, else local time at off_sec with the suffix off_text ("+05:00"); then digits
 * (0..6) fractional digits, which must already hold all the precision of utc_us.
 */
size_t hg_fmt_rfc3339(char *out, int64_t utc_us, unsigned digits, bool zulu, int32_t off_sec,
                      const char *off_text);
/* Writes utc_us as "YYYY-MM-DD HH:MM:SS.ffffff+00" (no terminator); returns 29. */
size_t hg_fmt_utc(char *out, int64_t utc_us);

/* Returns t rounded down to a multiple of 10^(6-digits) microseconds. */
int64_t hg_time_trunc(int64_t t, unsigned digits);
/* Day of the week of a (local) time: 0 = Monday .. 6 = Sunday. */
unsigned hg_weekday(int64_t t);
/* Hour of the day (0-23) of a (local) time. */
unsigned hg_hour(int64_t t);
/* Returns midnight of the day containing t. */
int64_t hg_day_start(int64_t t);

#endif
