/*
 * HL7 dates and times (DTM, and the first component of TS):
 * YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], to microseconds since the epoch. See
 * kpid_hl7_dtm_parse in hl7.h for the rules.
 */
#include <errno.h>

#include "hl7/hl7_private.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The value of the n digits at s (known to be digits). */
static int digits_value(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Reads the optional fraction at s[*pos] (after the seconds) as microseconds. */
static int read_fraction(const char *s, size_t len, size_t *pos, bool seconds, int64_t *ret_us,
                         const char **why)
{
    size_t n = 0;
    int64_t us;

    if (*pos >= len || s[*pos] != '.')
        return 0;
    if (!seconds) {
        *why = "a fraction without seconds";
        return -EINVAL;
    }
    (*pos)++;
    while (*pos + n < len && is_digit(s[*pos + n]))
        n++;
    if (n < 1 || n > 4) {
        *why = "a fraction of 1 to 4 digits expected";
        return -EINVAL;
    }
    us = digits_value(s + *pos, n);
    for (size_t i = n; i < 6; i++)
        us *= 10;
    *pos += n;
    *ret_us = us;
    return 1;
}

/* Reads the optional offset at s[*pos], +/-HHMM, as seconds east of UTC. */
static int read_offset(const char *s, size_t len, size_t *pos, int32_t *ret_s, const char **why)
{
    int hours, minutes;

    if (*pos >= len || (s[*pos] != '+' && s[*pos] != '-'))
        return 0;
    if (len - *pos < 5 || !is_digit(s[*pos + 1]) || !is_digit(s[*pos + 2]) ||
        !is_digit(s[*pos + 3]) || !is_digit(s[*pos + 4])) {
        *why = "an offset of 4 digits expected";
        return -EINVAL;
    }
    hours = digits_value(s + *pos + 1, 2);
    minutes = digits_value(s + *pos + 3, 2);
    if (minutes > 59 || hours * 60 + minutes > 14 * 60) {
        *why = "offset out of range";
        return -EINVAL;
    }
    *ret_s = (s[*pos] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
    *pos += 5;
    return 1;
}

int kpid_hl7_dtm_parse(const char *s, size_t len, const kpid_tz *tz, kpid_hl7_time *ret,
                       const char **ret_why)
{
    kpid_civil c = {.month = 1, .day = 1};
    kpid_hl7_time t = {0};
    const char *why = NULL;
    int64_t frac_us = 0, secs;
    size_t n = 0, pos;
    int r;

    while (n < len && is_digit(s[n]))
        n++;
    if (n < 4 || n > 14 || n % 2 != 0) {
        why = n < 4 ? "a year of 4 digits expected" : "a date or time cut within a part";
        r = -EINVAL;
        goto out;
    }
    c.year = digits_value(s, 4);
    int *const parts[] = {&c.month, &c.day, &c.hour, &c.minute, &c.second};
    for (size_t i = 0; 4 + 2 * i < n; i++)
        *parts[i] = digits_value(s + 4 + 2 * i, 2);
    t.precision = (kpid_hl7_precision)(KPID_HL7_YEAR + (n - 4) / 2);
    pos = n;
    if ((r = read_fraction(s, len, &pos, n == 14, &frac_us, &why)) < 0)
        goto out;
    if (r > 0)
        t.precision = KPID_HL7_FRACTION;
    if ((r = read_offset(s, len, &pos, &t.offset_s, &why)) < 0)
        goto out;
    t.has_offset = r > 0;
    r = -EINVAL;
    if (pos != len)
        why = "unexpected text after the date and time";
    else if (c.year < 1)
        why = "year out of range";
    else if (c.month < 1 || c.month > 12)
        why = "month out of range";
    else if (c.day < 1 || c.day > kpid_days_in_month(c.year, c.month))
        why = "day out of range for the month";
    else if (c.hour > 23)
        why = "hour out of range";
    else if (c.minute > 59)
        why = "minute out of range";
    else if (c.second > 59)
        why = "second out of range";
    if (why)
        goto out;
    if (t.has_offset) {
        secs = kpid_days_from_civil(c.year, c.month, c.day) * 86400 + (int64_t)c.hour * 3600 +
               (int64_t)c.minute * 60 + c.second - t.offset_s;
        t.tz_kind = KPID_TZ_UNIQUE;
        r = secs < KPID_TZ_MIN_S || secs > KPID_TZ_MAX_S ? -ERANGE : 0;
    } else {
        r = kpid_tz_from_local(tz, &c, 0, &secs, &t.tz_kind);
    }
    if (r < 0) {
        why = r == -ERANGE ? "date and time out of range" : "invalid date and time";
        goto out;
    }
    t.us = secs * 1000000 + frac_us;
    *ret = t;
    return 0;
out:
    if (ret_why)
        *ret_why = why;
    return r;
}

int kpid_hl7_get_time(const kpid_hl7_msg *m, const kpid_hl7_path *p, const kpid_tz *tz,
                      kpid_hl7_time *ret, const char **ret_why)
{
    kpid_buf value = {0};
    int r;

    if ((r = kpid_hl7_get(m, p, &value)) < 0) {
        if (ret_why)
            *ret_why = r == -ENOENT ? "no value" : r == -ENODATA ? "null value" : "invalid value";
        goto out;
    }
    r = kpid_hl7_dtm_parse(value.data, value.len, tz, ret, ret_why);
out:
    kpid_buf_free(&value);
    return r;
}
