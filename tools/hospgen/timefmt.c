#include "timefmt.h"

#include <errno.h>
#include <string.h>

#include "time/civil.h"
#include "time/rfc3339.h"

static const int64_t pow10_us[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};

/* Parses exactly n decimal digits at s into *ret. Returns 0 or -EINVAL. */
static int digits_at(const char *s, int n, unsigned *ret)
{
    unsigned v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *ret = v;
    return 0;
}

size_t hg_fmt_uint(char *out, uint64_t v, unsigned width)
{
    char tmp[24];
    unsigned n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width && n < sizeof(tmp))
        tmp[n++] = '0';
    for (unsigned i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int hg_parse_date(const char *s, int64_t *ret_us)
{
    int y, m, d;

    if (kpid_rfc3339_parse_date(s, strlen(s), &y, &m, &d, NULL) < 0 || y < 1970)
        return -EINVAL;
    *ret_us = kpid_days_from_civil(y, m, d) * HG_DAY;
    return 0;
}

int hg_parse_offset(const char *s, int32_t *ret_sec)
{
    unsigned h, m;

    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return -EINVAL;
    if (digits_at(s + 1, 2, &h) < 0 || digits_at(s + 4, 2, &m) < 0 || h > 23 || m > 59)
        return -EINVAL;
    int32_t sec = (int32_t)(h * 3600 + m * 60);
    *ret_sec = s[0] == '-' ? -sec : sec;
    return 0;
}

static const char two_digits[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                    "31323334353637383940414243444546474849505152535455565758596061"
                                    "62636465666768697071727374757677787980818283848586878889909192"
                                    "93949596979899";

/* Writes v (0..99) as two digits; returns the end. */
static inline char *put2(char *p, unsigned v)
{
    memcpy(p, two_digits + 2 * v, 2);
    return p + 2;
}

/* Writes "YYYY-MM-DD?HH:MM:SS" with sep between date and time; returns the end. */
static char *put_datetime(char *p, int64_t t, char sep, unsigned *ret_us)
{
    int64_t days = t / HG_DAY;
    int64_t rem = t % HG_DAY;
    int64_t y;
    int m, d;

    if (rem < 0) {
        rem += HG_DAY;
        days--;
    }
    kpid_civil_from_days(days, &y, &m, &d);
    unsigned secs = (unsigned)(rem / HG_SEC);
    p = put2(p, (unsigned)(y / 100 % 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, (unsigned)m);
    *p++ = '-';
    p = put2(p, (unsigned)d);
    *p++ = sep;
    p = put2(p, secs / 3600);
    *p++ = ':';
    p = put2(p, secs / 60 % 60);
    *p++ = ':';
    p = put2(p, secs % 60);
    *ret_us = (unsigned)(rem % HG_SEC);
    return p;
}

/* Writes the first n of the 6 digits of us; returns the end. */
static char *put_fraction(char *p, unsigned us, unsigned n)
{
    char six[6];

    for (int i = 5; i >= 0; i--) {
        six[i] = (char)('0' + us % 10);
        us /= 10;
    }
    memcpy(p, six, n);
    return p + n;
}

size_t hg_fmt_rfc3339(char *out, int64_t utc_us, unsigned digits, bool zulu, int32_t off_sec,
                      const char *off_text)
{
    unsigned us;
    char *p = put_datetime(out, zulu ? utc_us : utc_us + (int64_t)off_sec * HG_SEC, 'T', &us);

    if (digits > 0) {
        *p++ = '.';
        p = put_fraction(p, us, digits);
    }
    if (zulu) {
        *p++ = 'Z';
    } else {
        memcpy(p, off_text, 6);
        p += 6;
    }
    return (size_t)(p - out);
}

size_t hg_fmt_utc(char *out, int64_t utc_us)
{
    unsigned us;
    char *p = put_datetime(out, utc_us, ' ', &us);

    *p++ = '.';
    p = put_fraction(p, us, 6);
    memcpy(p, "+00", 3);
    p += 3;
    return (size_t)(p - out);
}

int64_t hg_time_trunc(int64_t t, unsigned digits)
{
    int64_t q = pow10_us[digits];
    int64_t r = t % q;

    return r < 0 ? t - r - q : t - r;
}

int64_t hg_day_start(int64_t t)
{
    int64_t r = t % HG_DAY;

    return r < 0 ? t - r - HG_DAY : t - r;
}

unsigned hg_weekday(int64_t t)
{
    /* kpid_weekday_from_days counts from Sunday = 0. */
    return (unsigned)(kpid_weekday_from_days(hg_day_start(t) / HG_DAY) + 6) % 7;
}

unsigned hg_hour(int64_t t)
{
    return (unsigned)((t - hg_day_start(t)) / HG_HOUR);
}
