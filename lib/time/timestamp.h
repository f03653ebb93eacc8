/*
 * Event times as kpid keeps them: microseconds since 1970-01-01 UTC, within years 0001
 * to 9999, written in PostgreSQL's timestamptz text form.
 */
#ifndef KPID_TIME_TIMESTAMP_H
#define KPID_TIME_TIMESTAMP_H

#include <stdint.h>

/* Years 0001..9999, the range kpid accepts for event times. */
#define KPID_TIME_MIN_US (-62135596800LL * 1000000)
#define KPID_TIME_MAX_US (253402300799LL * 1000000 + 999999)

/*
 * Writes time_us as "YYYY-MM-DD HH:MM:SS.ffffff+00" and a NUL into out; returns its
 * length, or -ERANGE outside KPID_TIME_MIN_US .. KPID_TIME_MAX_US.
 */
int kpid_format_time(int64_t time_us, char out[40]);

#endif
