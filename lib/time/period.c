#include "time/period.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const weekday_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                             "thursday", "friday", "saturday"};

static const struct {
    const char *name;
    kpid_period_kind kind;
} plain_kinds[] = {
    {"day", KPID_PERIOD_DAY},         {"week", KPID_PERIOD_WEEK}, {"month", KPID_PERIOD_MONTH},
    {"quarter", KPID_PERIOD_QUARTER}, {"year", KPID_PERIOD_YEAR},
};

/* ---- parsing ----------------------------------------------------------------------- */

/* Writes a message into err (errlen bytes) when the caller asked for one. An expression
 * macro, not a variadic function: clang-analyzer misreads the va_list of those. */
#define SETERR(err, errlen, ...) \
    ((err) && (errlen) > 0 ? (void)snprintf((err), (errlen), __VA_ARGS__) : (void)0)

/* A printable copy of s for messages, at most 48 characters. */
static const char *quote(const char *s, char out[56])
{
    size_t i = 0;
    for (; i < 48 && s[i]; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    strcpy(out + i, s[i] ? "..." : "");
    return out;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* "last N<unit>" after "last"; p points behind the keyword. */
static int parse_rolling(const char *text, const char *p, kpid_period_spec *ret, char *err,
                         size_t errlen)
{
    static const struct {
        char unit;
        int64_t seconds;
    } units[] = {{'m', 60}, {'h', 3600}, {'d', 86400}, {'w', (int64_t)7 * 86400}};
    int64_t n = 0;
    char q[56], q2[56];

    if (!is_blank(*p))
        goto syntax;
    while (is_blank(*p))
        p++;
    if (!is_digit(*p))
        goto syntax;
    for (; is_digit(*p); p++)
        n = n > KPID_PERIOD_ROLLING_MAX_S ? n : n * 10 + (*p - '0');
    if (!p[0])
        goto syntax;
    if (p[1]) {
        SETERR(err, errlen, "rolling window \"%s\": unknown unit \"%s\" (expected m, h, d or w)",
               quote(text, q), quote(p, q2));
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if ((*p | 0x20) != units[i].unit)
            continue;
        if (n == 0) {
            SETERR(err, errlen, "rolling window \"%s\" is empty", quote(text, q));
            return -EINVAL;
        }
        if (n > KPID_PERIOD_ROLLING_MAX_S / units[i].seconds) {
            SETERR(err, errlen, "rolling window \"%s\" is longer than 100 years", quote(text, q));
            return -EINVAL;
        }
        *ret = (kpid_period_spec){.kind = KPID_PERIOD_ROLLING, .seconds = n * units[i].seconds};
        return 0;
    }
    SETERR(err, errlen, "rolling window \"%s\": unknown unit \"%s\" (expected m, h, d or w)",
           quote(text, q), quote(p, q2));
    return -EINVAL;
syntax:
    SETERR(err, errlen,
           "rolling window \"%s\": expected \"last N\" and a unit m, h, d or w, "
           "as in \"last 24h\"",
           quote(text, q));
    return -EINVAL;
}

int kpid_period_parse(const char *text, kpid_period_spec *ret, char *err, size_t errlen)
{
    const char *colon = strchr(text, ':');
    size_t klen = colon ? (size_t)(colon - text) : strlen(text);
    char q[56], q2[56];

    if (!*text) {
        SETERR(err, errlen, "empty period");
        return -EINVAL;
    }
    if (strncasecmp(text, "last", 4) == 0 && (!text[4] || is_blank(text[4])))
        return parse_rolling(text, text + 4, ret, err, errlen);
    if (!colon)
        for (size_t i = 0; i < sizeof(plain_kinds) / sizeof(plain_kinds[0]); i++)
            if (strcasecmp(text, plain_kinds[i].name) == 0) {
                *ret = (kpid_period_spec){
                    .kind = plain_kinds[i].kind, .first_weekday = 1, .first_month = 1};
                return 0;
            }
    if (klen == 4 && strncasecmp(text, "week", 4) == 0 && colon) {
        for (int d = 0; d < 7; d++)
            if (strcasecmp(colon + 1, weekday_names[d]) == 0 ||
                (strlen(colon + 1) == 3 && strncasecmp(colon + 1, weekday_names[d], 3) == 0)) {
                *ret = (kpid_period_spec){
                    .kind = KPID_PERIOD_WEEK, .first_weekday = d, .first_month = 1};
                return 0;
            }
        SETERR(err, errlen, "unknown weekday \"%s\" in \"%s\" (expected monday ... sunday)",
               quote(colon + 1, q), quote(text, q2));
        return -EINVAL;
    }
    if (klen == 11 && strncasecmp(text, "fiscal_year", 11) == 0) {
        const char *p = colon ? colon + 1 : "";
        int m = 0;
        if (!colon) {
            SETERR(err, errlen,
                   "fiscal_year needs its first month, as in \"fiscal_year:4\" "
                   "for a fiscal year starting in April");
            return -EINVAL;
        }
        for (; is_digit(*p) && m <= 12; p++)
            m = m * 10 + (*p - '0');
        if (p == colon + 1 || *p || m < 1 || m > 12) {
            SETERR(err, errlen, "fiscal year first month \"%s\" is not a month number 1-12",
                   quote(colon + 1, q));
            return -EINVAL;
        }
        *ret = (kpid_period_spec){
            .kind = KPID_PERIOD_FISCAL_YEAR, .first_weekday = 1, .first_month = m};
        return 0;
    }
    SETERR(err, errlen,
           "unknown period \"%s\" (expected day, week, week:DAY, month, quarter, "
           "year, fiscal_year:MONTH or last N followed by m, h, d or w)",
           quote(text, q));
    return -EINVAL;
}

/* ---- periods as day numbers -------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool spec_valid(const kpid_period_spec *s)
{
    switch (s->kind) {
    case KPID_PERIOD_WEEK: return s->first_weekday >= 0 && s->first_weekday <= 6;
    case KPID_PERIOD_FISCAL_YEAR: return s->first_month >= 1 && s->first_month <= 12;
    case KPID_PERIOD_ROLLING: return s->seconds >= 1 && s->seconds <= KPID_PERIOD_ROLLING_MAX_S;
    case KPID_PERIOD_DAY:
    case KPID_PERIOD_MONTH:
    case KPID_PERIOD_QUARTER:
    case KPID_PERIOD_YEAR: return true;
    }
    return false;
}

/* Month-based kinds: length in months and the month (0-11) their cycle is anchored at. */
static void month_unit(const kpid_period_spec *s, int *ret_len, int *ret_anchor)
{
    *ret_anchor = 0;
    *ret_len = s->kind == KPID_PERIOD_MONTH ? 1 : s->kind == KPID_PERIOD_QUARTER ? 3 : 12;
    if (s->kind == KPID_PERIOD_FISCAL_YEAR)
        *ret_anchor = s->first_month - 1;
}

static int64_t month_index(int64_t days)
{
    int64_t y;
    int m, d;
    kpid_civil_from_days(days, &y, &m, &d);
    return y * 12 + m - 1;
}

static int64_t month_first_day(int64_t index)
{
    int64_t y = floor_div(index, 12);
    return kpid_days_from_civil(y, (int)(index - y * 12) + 1, 1);
}

/* The first day of the calendar period that contains day `days`. */
static int64_t period_first_day(const kpid_period_spec *s, int64_t days)
{
    int len, anchor;
    switch (s->kind) {
    case KPID_PERIOD_DAY: return days;
    case KPID_PERIOD_WEEK: return days - (kpid_weekday_from_days(days) - s->first_weekday + 7) % 7;
    default:
        month_unit(s, &len, &anchor);
        return month_first_day(floor_div(month_index(days) - anchor, len) * len + anchor);
    }
}

/* The first day of the period k periods after the one that starts on day first. */
static int64_t period_shift(const kpid_period_spec *s, int64_t first, int k)
{
    int len, anchor;
    switch (s->kind) {
    case KPID_PERIOD_DAY: return first + k;
    case KPID_PERIOD_WEEK: return first + 7 * (int64_t)k;
    default:
        month_unit(s, &len, &anchor);
        return month_first_day(month_index(first) + (int64_t)k * len);
    }
}

/* The first instant of local day `days` in tz. */
static int local_midnight(const kpid_tz *tz, int64_t days, int64_t *ret)
{
    kpid_civil l = {0};
    int64_t y;
    if (days < -719162 || days > 2932896) /* 0001-01-01 .. 9999-12-31 */
        return -ERANGE;
    kpid_civil_from_days(days, &y, &l.month, &l.day);
    l.year = (int)y;
    return kpid_tz_from_local(tz, &l, 0, ret, NULL);
}

int kpid_period_containing(const kpid_period_spec *spec, const kpid_tz *tz, int64_t t,
                           kpid_interval *ret)
{
    kpid_civil lc;
    int64_t first, start, end;
    int r;

    if (!spec_valid(spec))
        return -EINVAL;
    if ((r = kpid_tz_to_local(tz, t, &lc)) < 0)
        return r;
    if (spec->kind == KPID_PERIOD_ROLLING) {
        *ret = (kpid_interval){t - spec->seconds, t};
        return 0;
    }
    first = period_first_day(spec, kpid_days_from_civil(lc.year, lc.month, lc.day));
    /* The local date says which period; the boundaries say it again for the rare instants
     * that a turned-back clock shows on the previous day after midnight has passed. */
    for (int i = 0; i < 4; i++) {
        if ((r = local_midnight(tz, first, &start)) < 0 ||
            (r = local_midnight(tz, period_shift(spec, first, 1), &end)) < 0)
            return r;
        if (t < start)
            first = period_shift(spec, first, -1);
        else if (t >= end)
            first = period_shift(spec, first, 1);
        else {
            *ret = (kpid_interval){start, end};
            return 0;
        }
    }
    return -ERANGE;
}

int kpid_period_next(const kpid_period_spec *spec, const kpid_tz *tz, const kpid_interval *cur,
                     kpid_interval *ret)
{
    if (!spec_valid(spec))
        return -EINVAL;
    if (spec->kind != KPID_PERIOD_ROLLING)
        return kpid_period_containing(spec, tz, cur->end, ret);
    if (cur->end < KPID_TZ_MIN_S || cur->end > KPID_TZ_MAX_S - spec->seconds)
        return -ERANGE;
    *ret = (kpid_interval){cur->end, cur->end + spec->seconds};
    return 0;
}

int kpid_period_prev(const kpid_period_spec *spec, const kpid_tz *tz, const kpid_interval *cur,
                     kpid_interval *ret)
{
    if (!spec_valid(spec))
        return -EINVAL;
    if (spec->kind != KPID_PERIOD_ROLLING)
        return cur->start == INT64_MIN ? -ERANGE
                                       : kpid_period_containing(spec, tz, cur->start - 1, ret);
    if (cur->start > KPID_TZ_MAX_S || cur->start < KPID_TZ_MIN_S + spec->seconds)
        return -ERANGE;
    *ret = (kpid_interval){cur->start - spec->seconds, cur->start};
    return 0;
}

/* ---- labels ------------------------------------------------------------------------ */

static int rolling_label(const kpid_tz *tz, int64_t end, char *buf, size_t len)
{
    kpid_civil l;
    int32_t off;
    int r, n;

    if ((r = kpid_tz_to_local(tz, end, &l)) < 0)
        return r;
    off = l.utc_offset < 0 ? -l.utc_offset : l.utc_offset;
    n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", l.year, l.month, l.day,
                 l.hour, l.minute, l.second, l.utc_offset < 0 ? '-' : '+', (int)(off / 3600),
                 (int)(off / 60 % 60));
    if (n >= 0 && (size_t)n < len && off % 60)
        n = snprintf(buf + n, len - (size_t)n, ":%02d", (int)(off % 60)) + n;
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int kpid_period_label(const kpid_period_spec *spec, const kpid_tz *tz, const kpid_interval *iv,
                      char *buf, size_t len)
{
    kpid_civil l;
    int64_t first, y, d4;
    int m, d, n, r;

    if (!spec_valid(spec))
        return -EINVAL;
    if (spec->kind == KPID_PERIOD_ROLLING)
        return rolling_label(tz, iv->end, buf, len);
    if ((r = kpid_tz_to_local(tz, iv->start, &l)) < 0)
        return r;
    first = period_first_day(spec, kpid_days_from_civil(l.year, l.month, l.day));
    kpid_civil_from_days(first, &y, &m, &d);
    switch (spec->kind) {
    case KPID_PERIOD_DAY: n = snprintf(buf, len, "%04d-%02d-%02d", (int)y, m, d); break;
    case KPID_PERIOD_WEEK:
        d4 = first + 3;
        kpid_civil_from_days(d4, &y, &m, &d);
        n = snprintf(buf, len, "%04d-W%02d", (int)y,
                     (int)((d4 - kpid_days_from_civil(y, 1, 1)) / 7 + 1));
        break;
    case KPID_PERIOD_MONTH: n = snprintf(buf, len, "%04d-%02d", (int)y, m); break;
    case KPID_PERIOD_QUARTER: n = snprintf(buf, len, "%04d-Q%d", (int)y, (m - 1) / 3 + 1); break;
    case KPID_PERIOD_YEAR: n = snprintf(buf, len, "%04d", (int)y); break;
    default: n = snprintf(buf, len, "FY%04d", (int)y); break;
    }
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}
