#include "time/rfc3339.h"

#include <errno.h>
#include <stdbool.h>

#include "time/civil.h"

#define MINUTES_PER_DAY 1440

/* Reads n decimal digits at s into *ret; false if one of them is not a digit. */
static bool digits(const char *s, size_t n, unsigned *ret)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9)
            return false;
        v = v * 10 + c;
    }
    *ret = v;
    return true;
}

static int fail(const char **ret_why, const char *why)
{
    if (ret_why)
        *ret_why = why;
    return -EINVAL;
}

/* Reads "YYYY-MM-DD" at s (10 bytes available); false if it is not that. */
static bool date_digits(const char *s, unsigned *ret_y, unsigned *ret_m, unsigned *ret_d)
{
    return digits(s, 4, ret_y) && s[4] == '-' && digits(s + 5, 2, ret_m) && s[7] == '-' &&
           digits(s + 8, 2, ret_d);
}

/* Checks the ranges of a date's fields: 0, or -EINVAL with *ret_why. */
static int date_check(unsigned year, unsigned month, unsigned day, const char **ret_why)
{
    if (year < 1)
        return fail(ret_why, "year 0000 is out of range");
    if (month < 1 || month > 12)
        return fail(ret_why, "month out of range");
    if (day < 1 || day > (unsigned)kpid_days_in_month(year, (int)month))
        return fail(ret_why, "day out of range for the month");
    return 0;
}

int kpid_rfc3339_parse_date(const char *s, size_t len, int *ret_year, int *ret_month, int *ret_day,
                            const char **ret_why)
{
    unsigned year, month, day;
    int r;

    if (len != 10 || !date_digits(s, &year, &month, &day))
        return fail(ret_why, "date is not YYYY-MM-DD");
    if ((r = date_check(year, month, day, ret_why)) < 0)
        return r;
    *ret_year = (int)year;
    *ret_month = (int)month;
    *ret_day = (int)day;
    return 0;
}

int kpid_rfc3339_parse_month(const char *s, size_t len, int *ret_year, int *ret_month,
                             const char **ret_why)
{
    unsigned year, month;
    int r;

    if (len != 7 || !digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &month))
        return fail(ret_why, "month is not YYYY-MM");
    if ((r = date_check(year, month, 1, ret_why)) < 0)
        return r;
    *ret_year = (int)year;
    *ret_month = (int)month;
    return 0;
}

int kpid_rfc3339_parse(const char *s, size_t len, int64_t *ret_us, const char **ret_why)
{
    unsigned year, month, day, hour, minute, second, oh = 0, om = 0;
    int64_t frac_us = 0;
    int offset_min = 0;
    size_t i;

    /* The fixed part "YYYY-MM-DDTHH:MM:SS". */
    if (len < 19)
        return fail(ret_why, "too short for YYYY-MM-DDTHH:MM:SS");
    if (!date_digits(s, &year, &month, &day))
        return fail(ret_why, "date is not YYYY-MM-DD");
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return fail(ret_why, "date and time are not separated by 'T'");
    if (!digits(s + 11, 2, &hour) || s[13] != ':' || !digits(s + 14, 2, &minute) || s[16] != ':' ||
        !digits(s + 17, 2, &second))
        return fail(ret_why, "time is not HH:MM:SS");

    if (date_check(year, month, day, ret_why) < 0)
        return -EINVAL;
    if (hour > 23)
        return fail(ret_why, "hour out of range");
    if (minute > 59)
        return fail(ret_why, "minute out of range");
    if (second > 60)
        return fail(ret_why, "second out of range");

    i = 19;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && (unsigned)((unsigned char)s[i] - '0') <= 9) {
            if (i - start < 6)
                frac_us = frac_us * 10 + (s[i] - '0');
            i++;
        }
        size_t n = i - start;
        if (n == 0)
            return fail(ret_why, "no digits after the decimal point");
        if (n > 9)
            return fail(ret_why, "more than 9 fraction digits");
        for (; n < 6; n++)
            frac_us *= 10;
    }

    if (i >= len)
        return fail(ret_why, "missing time zone offset ('Z' or +HH:MM)");
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om))
            return fail(ret_why, "time zone offset is not +HH:MM");
        if (oh > 23 || om > 59)
            return fail(ret_why, "time zone offset out of range");
        offset_min = (int)(oh * 60 + om);
        if (s[i] == '-')
            offset_min = -offset_min;
        i += 6;
    } else {
        return fail(ret_why, "missing time zone offset ('Z' or +HH:MM)");
    }
    if (i != len)
        return fail(ret_why, "trailing characters after the time zone");

    if (second == 60) {
        int utc_minute = ((int)(hour * 60 + minute) - offset_min) % MINUTES_PER_DAY;
        if (utc_minute < 0)
            utc_minute += MINUTES_PER_DAY;
        if (utc_minute != MINUTES_PER_DAY - 1)
            return fail(ret_why, "leap second outside 23:59 UTC");
        second = 59;
        frac_us = 999999;
    }

    int64_t secs = kpid_days_from_civil(year, (int)month, (int)day) * 86400 + (int64_t)hour * 3600 +
                   (int64_t)minute * 60 + second - (int64_t)offset_min * 60;
    *ret_us = secs * 1000000 + frac_us;
    return 0;
}
