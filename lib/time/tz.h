/*
 * Time zones from the system's TZif files (RFC 8536, versions 1 to 4). The calendar
 * arithmetic they are built on (kpid_days_from_civil and the like) is in time/civil.h,
 * which this header includes for the many users of both.
 *
 * A zone is read from $TZDIR (read at every load with getenv, never cached: do not
 * change the environment while other threads load zones) or /usr/share/zoneinfo.
 * Version 2+ files are read from their 64-bit block; instants after the last transition
 * follow the footer's POSIX TZ rule (std offset [dst [offset],start[/time],end[/time]],
 * dates Mm.w.d, Jn or n), so dates far in the future are right; instants before the
 * first transition use time type 0. Files with leap-second records (the "right/" zones)
 * are refused: kpid counts POSIX seconds.
 *
 * No global state, no TZ environment variable, no tzset/localtime, no locale: a loaded
 * kpid_tz is immutable and may be shared by any number of threads. Wherever a
 * `const kpid_tz *` is taken, NULL means UTC.
 *
 * Supported instants are those of the years 0001 to 9999 (KPID_TZ_MIN_S ..
 * KPID_TZ_MAX_S, in UTC); functions return -ERANGE outside.
 */
#ifndef KPID_TZ_H
#define KPID_TZ_H

#include <stdbool.h>
#include <stdint.h>

#include "time/civil.h"

#define KPID_TZ_MIN_S INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define KPID_TZ_MAX_S INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define KPID_TZ_NAME_MAX 255

typedef struct kpid_tz kpid_tz;

/* A local (wall-clock) time. */
typedef struct kpid_civil {
    int year;           /* proleptic Gregorian */
    int month;          /* 1-12 */
    int day;            /* 1-31 */
    int hour;           /* 0-23 */
    int minute;         /* 0-59 */
    int second;         /* 0-59 */
    int wday;           /* output only: 0 = Sunday ... 6 = Saturday */
    int yday;           /* output only: 0 = January 1st ... 365 */
    int32_t utc_offset; /* output only: seconds east of UTC (local = UTC + utc_offset) */
    bool is_dst;        /* output only */
    int reserved[3];
} kpid_civil;

/* What kpid_tz_from_local found about a wall time. */
enum {
    KPID_TZ_UNIQUE = 0,  /* it exists once */
    KPID_TZ_GAP = 1,     /* it does not exist (clocks jumped over it) */
    KPID_TZ_OVERLAP = 2, /* it exists twice (clocks were turned back over it) */
};

/* Flags of kpid_tz_from_local. */
#define KPID_TZ_LATER 0x1u /* in an overlap, return the later of the two instants */

/*
 * Loads the zone called name ("Europe/Berlin", "Asia/Almaty", "UTC") from $TZDIR or
 * /usr/share/zoneinfo. A name is 1 to KPID_TZ_NAME_MAX bytes of letters, digits, '_',
 * '+', '-' and '/', neither starting with '/' nor containing "." (so no ".."): it can
 * only name a file below the zone directory.
 *
 * Returns 0 and the zone in *ret_tz (the caller frees it with kpid_tz_free), or a
 * negative errno with a freshly allocated one-line message in *ret_error (NULL if even
 * that allocation failed; the caller frees it): -EINVAL for an invalid name, -ENOENT
 * for an unknown zone ("unknown time zone \"Mars/Olympus\""), -EBADMSG for a file that is
 * not a valid TZif file, -ENOTSUP for a leap-second zone, -EIO, -ENOMEM.
 */
int kpid_tz_load(const char *name, kpid_tz **ret_tz, char **ret_error);

/* Frees a zone. Accepts NULL; returns NULL. */
kpid_tz *kpid_tz_free(kpid_tz *tz);

/* The name the zone was loaded by ("UTC" for NULL). Valid as long as the zone is. */
const char *kpid_tz_name(const kpid_tz *tz);

/*
 * Converts an instant (seconds since the epoch, UTC) to local time in tz: every field of
 * *ret is written, including wday, yday, utc_offset and is_dst. Returns 0, or -ERANGE if
 * utc_s is outside KPID_TZ_MIN_S .. KPID_TZ_MAX_S.
 */
int kpid_tz_to_local(const kpid_tz *tz, int64_t utc_s, kpid_civil *ret);

/*
 * Converts a local wall time (year 1-9999, month, day, hour, minute, second of *local;
 * the other fields are ignored) to an instant. *ret_kind (if not NULL) tells what the
 * wall time is:
 *   KPID_TZ_UNIQUE   it exists once: that instant;
 *   KPID_TZ_GAP      it does not exist: the instant of the transition that skipped it,
 *                    i.e. the first instant after the gap (02:30 on Berlin's
 *                    spring-forward day gives 01:00Z, which is 03:00 local);
 *   KPID_TZ_OVERLAP  it exists twice: the earlier instant, or the later one with flag
 *                    KPID_TZ_LATER.
 * Returns 0, -EINVAL for a field out of range (February 30th, hour 24, second 60), or
 * -ERANGE for a year outside 1-9999 or a pathological zone (more than 64 transitions
 * within two days of the wall time).
 */
int kpid_tz_from_local(const kpid_tz *tz, const kpid_civil *local, unsigned flags,
                       int64_t *ret_utc_s, int *ret_kind);

#endif
