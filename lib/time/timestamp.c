#include "time/timestamp.h"

#include <errno.h>
#include <string.h>

#include "time/civil.h"

static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

int kpid_format_time(int64_t t, char out[40])
{
    int64_t days, y;
    int64_t rem;
    int m, d;
    char *p = out;

    if (t < KPID_TIME_MIN_US || t > KPID_TIME_MAX_US)
        return -ERANGE;
    days = t / 86400000000LL;
    rem = t % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    kpid_civil_from_days(days, &y, &m, &d);
    unsigned secs = (unsigned)(rem / 1000000);
    unsigned us = (unsigned)(rem % 1000000);
    p = put_digits(p, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)m, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)d, 2);
    *p++ = ' ';
    p = put_digits(p, secs / 3600, 2);
    *p++ = ':';
    p = put_digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, secs % 60, 2);
    *p++ = '.';
    p = put_digits(p, us, 6);
    memcpy(p, "+00", 4);
    p += 3;
    return (int)(p - out);
}
