/*
 * Cron schedules: the classic 5-field expression "minute hour day-of-month month
 * day-of-week", evaluated in the local time of a time zone; or 6 fields with a "second"
 * field first ("*\/10 * * * * *": every 10 seconds), for tests and quick dashboards.
 *
 * Syntax (Vixie cron): each field is a comma-separated list of elements; an element is
 * "*", a value, or a range "a-b" (a <= b; no wrap-around), optionally followed by a step
 * "/n" (1 <= n <= the field's maximum): "*\/15" (every 15 minutes; "*\/" stands for
 * star-slash in this comment), "1-30/5", and "5/10", which means "5-max/10". Months may
 * be named JAN-DEC and weekdays SUN-SAT (three letters, any case); weekday 7 is Sunday,
 * like 0. The macros are @hourly (0 * * * *), @daily and @midnight (0 0 * * *), @weekly
 * (0 0 * * 0), @monthly (0 0 1 * *), @yearly and @annually (0 0 1 1 *). Fields are
 * separated by blanks (space, tab, newline).
 *
 * Day rule (Vixie cron, also cronie): a day matches if its day of month AND its weekday
 * match, except when both fields are restricted, where EITHER suffices: "0 0 13 * 5" runs
 * on every 13th and every Friday. As in Vixie cron, a field counts as unrestricted when
 * its text starts with '*', so "0 0 *\/2 * 1" runs on odd days that are Mondays.
 *
 * Daylight-saving time: a schedule fires at each matching local wall time, once, at the
 * first instant that wall time occurs:
 *   - a wall time skipped by a spring-forward gap fires once at the first instant after
 *     the gap: "30 2 * * *" fires at 03:00 CEST on 2025-03-30 in Europe/Berlin; all the
 *     wall times of the gap together fire only once;
 *   - a wall time repeated by a fall-back overlap fires once, at its first occurrence:
 *     "30 2 * * *" fires at 02:30 CEST (00:30Z) on 2025-10-26 in Europe/Berlin, not again
 *     at 02:30 CET; "*\/15 * * * *" therefore pauses for the repeated hour (the last
 *     firing before it is 02:45 CEST, the next 03:00 CET, 75 real minutes later).
 * These are cronie's rules for jobs at fixed times; unlike cronie, kpid applies them to
 * wildcard schedules too, so that a wall time never fires twice.
 *
 * A parsed kpid_cron is a plain value: copy it, share it between threads.
 */
#ifndef KPID_CRON_H
#define KPID_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time/tz.h"

#define KPID_CRON_DOM_STAR 0x1u /* the day-of-month field starts with '*' */
#define KPID_CRON_DOW_STAR 0x2u /* the day-of-week field starts with '*' */

typedef struct kpid_cron {
    uint64_t seconds; /* bit s: second s, 0-59; 5 fields: bit 0 only */
    uint64_t minutes; /* bit m: minute m, 0-59 */
    uint32_t hours;   /* bit h: hour h, 0-23 */
    uint32_t days;    /* bit d: day of month d, 1-31 */
    uint16_t months;  /* bit m: month m, 1-12 */
    uint8_t weekdays; /* bit d: weekday d, 0 = Sunday ... 6 = Saturday */
    uint8_t flags;    /* KPID_CRON_DOM_STAR, KPID_CRON_DOW_STAR */
    uint32_t reserved[4];
} kpid_cron;

/*
 * Parses a cron expression or macro into *ret. Returns 0, or -EINVAL with a one-line
 * message in err (truncated to errlen; err may be NULL when errlen is 0), such as
 *   expected 5 fields (or 6, with seconds first), got 7
 *   field 2 (hour): 24 is out of range 0-23
 *   field 4 (month): unknown name "FOO"
 *   field 1 (minute): range 10-5 is backwards
 *   field 1 (minute): step 0 is out of range 1-59
 *   field 1 (minute): empty list element
 *   field 1 (minute): missing end of range after "-"
 *   field 1 (minute): missing step after "/"
 *   field 1 (minute): unexpected "x"
 * (Field numbers count the fields as written: in the 6-field form field 1 is the second.)
 *   unknown macro "@reboot"
 * *ret is written only on success. Expressions that can never fire ("0 0 30 2 *") parse;
 * kpid_cron_check tells why, and kpid_cron_next returns -ENOENT for them.
 */
int kpid_cron_parse(const char *text, kpid_cron *ret, char *err, size_t errlen);

/*
 * Tells whether the expression fires at all: returns 0 when it fires at least once in
 * the Gregorian 400-year cycle (and so in every 400 years: "0 0 29 2 *" fires in leap
 * years), or -ENOENT when it never fires, with the reason in err (as for
 * kpid_cron_parse), such as
 *   February has no day 30
 *   April, June, September and November have no day 31
 *   February has no day 30 or 31
 * Decided from the fields alone (no search): only a day of month that none of the named
 * months has, with a day-of-week field starting with '*', never fires. A schedule that
 * passes can still run out of firings near the end of year 9999 (kpid_cron_next).
 */
int kpid_cron_check(const kpid_cron *c, char *err, size_t errlen);

/*
 * Tells whether the local wall time's minute (year, month, day, hour, minute of *local;
 * the weekday is computed from the date) is one the expression names.
 */
bool kpid_cron_matches(const kpid_cron *c, const kpid_civil *local);

/*
 * The first firing strictly after after_utc_s, evaluated in the local time of tz (NULL:
 * UTC) with the DST rules above (in the 6-field form, at the named seconds of each
 * firing minute, from the minute's firing instant). Returns 0 and the instant in *ret_utc_s; -ENOENT if the
 * expression never fires (no month of it has that day: "0 0 30 2 *") or not before the
 * end of year 9999; -ERANGE if after_utc_s is outside KPID_TZ_MIN_S .. KPID_TZ_MAX_S
 * (or so close to KPID_TZ_MIN_S that its local time is in year 0).
 *
 * Cost: the search skips whole months, days and hours that cannot match, so it is a few
 * hundred steps for ordinary expressions. Dates and weekdays repeat every 400 years
 * (146097 days, an exact number of weeks), so an expression that can fire at all fires
 * within 400 years; the search is bounded by that (in practice the longest wait is 40
 * years: February 29th on a given weekday, across 2100).
 */
int kpid_cron_next(const kpid_cron *c, const kpid_tz *tz, int64_t after_utc_s, int64_t *ret_utc_s);

#endif
