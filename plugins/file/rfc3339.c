#include "rfc3339.h"

#include <errno.h>
#include <stdbool.h>

#define MINUTES_PER_DAY 1440

int64_t rfc3339_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil: 400-year eras starting on March 1st. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool is_leap_year(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

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

int rfc3339_parse(const char *s, size_t len, int64_t *ret_us, const char **ret_why)
{
    unsigned year, month, day, hour, minute, second, oh = 0, om = 0;
    int64_t frac_us = 0;
    int offset_min = 0;
    size_t i;

    /* The fixed part "YYYY-MM-DDTHH:MM:SS". */
    if (len < 19)
        return fail(ret_why, "too short for YYYY-MM-DDTHH:MM:SS");
    if (!digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &month) || s[7] != '-' ||
        !digits(s + 8, 2, &day))
        return fail(ret_why, "date is not YYYY-MM-DD");
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return fail(ret_why, "date and time are not separated by 'T'");
    if (!digits(s + 11, 2, &hour) || s[13] != ':' || !digits(s + 14, 2, &minute) || s[16] != ':' ||
        !digits(s + 17, 2, &second))
        return fail(ret_why, "time is not HH:MM:SS");

    if (year < 1)
        return fail(ret_why, "year 0000 is out of range");
    if (month < 1 || month > 12)
        return fail(ret_why, "month out of range");
    if (day < 1 || day > days_in_month(year, month))
        return fail(ret_why, "day out of range for the month");
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

    int64_t secs = rfc3339_days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 +
                   (int64_t)minute * 60 + second - (int64_t)offset_min * 60;
    *ret_us = secs * 1000000 + frac_us;
    return 0;
}
