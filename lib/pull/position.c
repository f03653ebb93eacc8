/* Event times, watermark values and the overlap window (position.h). */
#include "pull/position.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "time/rfc3339.h"
#include "time/timestamp.h"

static int fail(const char **ret_why, const char *why)
{
    if (ret_why)
        *ret_why = why;
    return -EINVAL;
}

static bool two_digits(const char *s, unsigned *ret)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *ret = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    return true;
}

int kpid_pull_time_parse(const char *s, size_t len, int64_t *ret_us, const char **ret_why)
{
    char norm[64];
    size_t i = 19;
    unsigned oh, om = 0, os = 0;
    int64_t us;
    int r;

    if (len >= 19 && len < 48 && (s[10] == 'T' || s[10] == 't' || s[10] == ' ')) {
        /* Past the seconds and any fraction to the offset, to see whose form it is. */
        if (i < len && s[i] == '.')
            for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
                ;
        size_t tail = len - i;
        /* PostgreSQL's "+HH" and "+HH:MM:SS"; "+HH:MM" and 'Z' are RFC 3339's too. */
        if ((tail == 3 || tail == 9) && (s[i] == '+' || s[i] == '-')) {
            if (!two_digits(s + i + 1, &oh))
                return fail(ret_why, "time zone offset is not +HH");
            if (tail == 9 && (s[i + 3] != ':' || !two_digits(s + i + 4, &om) || s[i + 6] != ':' ||
                              !two_digits(s + i + 7, &os) || om > 59 || os > 59))
                return fail(ret_why, "time zone offset is not +HH:MM:SS");
            /* The same time with the offset +HH:MM for the RFC 3339 parser; the offset's
             * seconds are applied after. */
            memcpy(norm, s, i);
            snprintf(norm + i, sizeof(norm) - i, "%c%02u:%02u", s[i], oh, om);
            if ((r = kpid_rfc3339_parse(norm, i + 6, &us, ret_why)) < 0)
                return r;
            us += (s[i] == '-' ? 1 : -1) * (int64_t)os * 1000000;
            goto done;
        }
    }
    if (len > 0 && (s[len - 1] == 'C' || s[0] == 'i' || s[0] == '-'))
        return fail(ret_why, "not a finite timestamp of years 0001 to 9999");
    if ((r = kpid_rfc3339_parse(s, len, &us, ret_why)) < 0)
        return r;
done:
    if (us < KPID_TIME_MIN_US || us > KPID_TIME_MAX_US)
        return fail(ret_why, "outside years 0001 to 9999");
    *ret_us = us;
    return 0;
}

static int parse_integer(const char *s, int64_t *ret, const char **ret_why)
{
    bool neg = *s == '-';
    const char *p = s + neg;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    if (*p < '0' || *p > '9')
        return fail(ret_why, "not a decimal integer");
    if (*p == '0' && (p[1] != '\0' || neg))
        return fail(ret_why, "an integer with a leading zero");
    for (; *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9)
            return fail(ret_why, "not a decimal integer");
        if (v > (limit - d) / 10)
            return fail(ret_why, "an integer outside bigint");
        v = v * 10 + d;
    }
    *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int kpid_pull_wm_parse(enum kpid_pull_wm_type type, const char *text, int64_t *ret,
                       const char **ret_why)
{
    switch (type) {
    case KPID_PULL_WM_TIMESTAMP: return kpid_pull_time_parse(text, strlen(text), ret, ret_why);
    case KPID_PULL_WM_INTEGER: return parse_integer(text, ret, ret_why);
    }
    return fail(ret_why, "unknown watermark type");
}

int kpid_pull_overlap_start(const kpid_pull_query *q, const char *w, char *out, size_t out_size,
                            int64_t *ret_value)
{
    int64_t v, start;
    int r;

    if (out_size < KPID_PULL_WM_TEXT_MAX)
        return -ENOBUFS;
    out[0] = '\0';
    if ((r = kpid_pull_wm_parse(q->watermark_type, w, &v, NULL)) < 0)
        return r;
    if (q->watermark_type == KPID_PULL_WM_TIMESTAMP) {
        /* v and overlap are both far from INT64's ends: no overflow. */
        start = v - q->overlap;
        if (start < KPID_TIME_MIN_US)
            return 0;
        if (kpid_format_time(start, out) < 0)
            return -EINVAL;
    } else {
        if (v < INT64_MIN + q->overlap)
            return 0;
        start = v - q->overlap;
        snprintf(out, out_size, "%" PRId64, start);
    }
    if (ret_value)
        *ret_value = start;
    return 1;
}
