/*
 * Calendar periods of the KPI ground truth, computed with the C library's time zone
 * support (TZ, mktime, localtime_r), independently of kpid's own tz.c: half-open
 * [start, end) from local midnight to local midnight in an IANA zone.
 */
#ifndef HG_TRUTH_PERIOD_H
#define HG_TRUTH_PERIOD_H

#include <stddef.h>
#include <stdint.h>

enum ht_pkind {
    HT_P_DAY,
    HT_P_WEEK,
    HT_P_MONTH,
    HT_P_QUARTER,
    HT_P_YEAR,
    HT_P_FISCAL_YEAR,
    HT_P_ROLLING, /* "last 24h": not evaluated by the ground truth */
};

struct ht_pspec {
    enum ht_pkind kind;
    int first_wday;  /* WEEK: 0 = Monday .. 6 = Sunday */
    int first_month; /* FISCAL_YEAR: 1-12 */
};

/* Parses a kpid period ("day", "week:sunday", "fiscal_year:4", "last 2w", ...; keywords
 * case-insensitive). Returns 0 or -EINVAL. */
int ht_period_parse(const char *text, struct ht_pspec *ret);

/* Parses "YYYY-MM-DD" into a day number (days since 1970-01-01). Returns 0 or -EINVAL. */
int ht_parse_day(const char *text, int64_t *ret_day);

/*
 * The periods of spec in time zone tz (an IANA name) from the one containing local
 * midnight of day from_day while the period's start is before local midnight of to_day:
 * *ret_bounds gets n + 1 instants (UTC microseconds), period i being
 * [bounds[i], bounds[i + 1]). Sets TZ for the process (and leaves it set). The array is
 * freshly allocated; the caller frees it. Returns 0, -EINVAL (rolling spec, unknown
 * zone) or -ENOMEM.
 */
int ht_periods(const struct ht_pspec *spec, const char *tz, int64_t from_day, int64_t to_day,
               int64_t **ret_bounds, size_t *ret_n);

#endif
