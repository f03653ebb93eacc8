/*
 * Positions in a query's order: event times and watermarks as text (as the database
 * prints them, as the cursor keeps them), their values, and the start of the overlap
 * window behind a watermark. Plain functions of their arguments: no state, thread-safe.
 */
#ifndef KPID_PULL_POSITION_H
#define KPID_PULL_POSITION_H

#include <stddef.h>
#include <stdint.h>

#include "pull/spec.h"

/* Bytes of a watermark's text that kpid_pull_overlap_start writes, with its NUL. */
#define KPID_PULL_WM_TEXT_MAX 48

/*
 * Parses a timestamp with a time zone: PostgreSQL's timestamptz output in the ISO
 * DateStyle ("2024-03-01 10:00:00.123456+00", "...+05:30", "...-03:30:15": the offset
 * in hours, with minutes and seconds when they are not zero) or RFC 3339
 * ("2024-03-01T10:00:00Z"), years 0001 to 9999. A fraction is truncated to
 * microseconds. "infinity", BC years and text without an offset (a timestamp without
 * time zone) are not timestamps here. Returns 0 and *ret_us (microseconds since
 * 1970-01-01 UTC), or -EINVAL with *ret_why (if not NULL) a static phrase.
 */
int kpid_pull_time_parse(const char *s, size_t len, int64_t *ret_us, const char **ret_why);

/*
 * Parses a watermark's text of type: a timestamp (kpid_pull_time_parse: microseconds)
 * or an integer (decimal, an optional '-', no '+', no leading zeros, within int64).
 * Returns 0 and *ret, or -EINVAL with *ret_why (if not NULL) a static phrase.
 */
int kpid_pull_wm_parse(enum kpid_pull_wm_type type, const char *text, int64_t *ret,
                       const char **ret_why);

/*
 * Where q's overlap window behind the watermark w (text of q's type) starts: w minus
 * q->overlap (a duration for a timestamp, a count for an integer), written into out
 * (out_size bytes, at least KPID_PULL_WM_TEXT_MAX) as the database reads it back:
 * "YYYY-MM-DD HH:MM:SS.ffffff+00" or a decimal integer. *ret_value (if not NULL) is its
 * value. Returns 1 then; 0 when the window reaches before year 0001 or INT64_MIN (read
 * from the start: out is ""); or -EINVAL when w is not a watermark of q's type.
 */
int kpid_pull_overlap_start(const kpid_pull_query *q, const char *w, char *out, size_t out_size,
                            int64_t *ret_value);

#endif
