#include "timefmt.h"

#include <errno.h>
#include <string.h>

static const int64_t pow10_us[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};

int64_t hg_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void hg_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

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

int hg_parse_date(const char *s, int64_t *ret_us)
{
    unsigned y, m, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -EINVAL;
    if (digits_at(s, 4, &y) < 0 || digits_at(s + 5, 2, &m) < 0 || digits_at(s + 8, 2, &d) < 0)
        return -EINVAL;
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return -EINVAL;
    int64_t days = hg_days_from_civil(y, m, d);
    int64_t yy;
    unsigned mm, dd;
    hg_civil_from_days(days, &yy, &mm, &dd);
    if (mm != m || dd != d) /* 2025-02-30 and the like */
        return -EINVAL;
    *ret_us = days * HG_DAY;
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
    unsigned m, d;

    if (rem < 0) {
        rem += HG_DAY;
        days--;
    }
    hg_civil_from_days(days, &y, &m, &d);
    unsigned secs = (unsigned)(rem / HG_SEC);
    p = put2(p, (unsigned)(y / 100 % 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
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
    int64_t days = hg_day_start(t) / HG_DAY;

    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    return (unsigned)(((days % 7) + 7 + 3) % 7);
}

unsigned hg_hour(int64_t t)
{
    return (unsigned)((t - hg_day_start(t)) / HG_HOUR);
}
