#include "time/cron.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRON_SEARCH_YEARS 401 /* dates and weekdays repeat every 400 years */
#define CRON_LAST_YEAR 9999

typedef struct cron_field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is value min + i; NULL: numbers only */
} cron_field;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const cron_field fields[6] = {
    {"second", 0, 59, NULL}, /* only in the 6-field form */
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day of week", 0, 7, day_names}, /* 7 is Sunday again */
};

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

/* ---- parsing ----------------------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Writes a message into err (errlen bytes) when the caller asked for one. An expression
 * macro, not a variadic function: clang-analyzer misreads the va_list of those. */
#define SETERR(err, errlen, ...) \
    ((err) && (errlen) > 0 ? (void)snprintf((err), (errlen), __VA_ARGS__) : (void)0)

/* A printable copy of [b, e) for messages, at most 32 characters. */
static const char *quote(const char *b, const char *e, char out[40])
{
    size_t i = 0;
    for (; b < e && i < 32; b++)
        out[i++] = *b >= 0x20 && *b < 0x7f && *b != '"' ? *b : '?';
    strcpy(out + i, b < e ? "..." : "");
    return out;
}

typedef struct field_parser {
    const cron_field *f;
    int no; /* 1-5 */
    const char *p, *e;
    char *err;
    size_t errlen;
} field_parser;

#define FIELD_FAIL(fp, fmt, ...)                                                                   \
    (SETERR((fp)->err, (fp)->errlen, "field %d (%s): " fmt, (fp)->no, (fp)->f->name, __VA_ARGS__), \
     -EINVAL)

/* A number: its digits, capped so that huge ones stay out of range without overflow. */
static void parse_number(field_parser *fp, int *ret, const char **ret_b)
{
    int v = 0;
    *ret_b = fp->p;
    while (fp->p < fp->e && is_digit(*fp->p)) {
        v = v > 100000 ? v : v * 10 + (*fp->p - '0');
        fp->p++;
    }
    *ret = v;
}

/* A value of the field: a number in range, or a name where the field has names. */
static int parse_value(field_parser *fp, int *ret)
{
    const char *b = fp->p;
    char q[40];
    int v;

    if (fp->p < fp->e && is_digit(*fp->p)) {
        parse_number(fp, &v, &b);
        if (v < fp->f->min || v > fp->f->max)
            return FIELD_FAIL(fp, "%s is out of range %d-%d", quote(b, fp->p, q), fp->f->min,
                              fp->f->max);
        *ret = v;
        return 0;
    }
    if (fp->p < fp->e && is_alpha(*fp->p)) {
        while (fp->p < fp->e && is_alpha(*fp->p))
            fp->p++;
        for (int i = 0; fp->f->names && fp->f->names[i]; i++)
            if (fp->p - b == 3 && strncasecmp(b, fp->f->names[i], 3) == 0) {
                *ret = fp->f->min + i;
                return 0;
            }
        if (!fp->f->names)
            return FIELD_FAIL(fp, "expected a number, got \"%s\"", quote(b, fp->p, q));
        return FIELD_FAIL(fp, "unknown name \"%s\"", quote(b, fp->p, q));
    }
    if (fp->p == fp->e || *fp->p == ',')
        return FIELD_FAIL(fp, "%s", "empty list element");
    return FIELD_FAIL(fp, "unexpected \"%s\"", quote(fp->p, fp->e, q));
}

/* One list element: "*", a value or a range, then an optional "/step". */
static int parse_element(field_parser *fp, uint64_t *bits)
{
    int lo, hi, step = 1, r;
    bool star = false, range = false;
    char q[40];

    if (fp->p < fp->e && *fp->p == '*') {
        fp->p++;
        lo = fp->f->min;
        hi = fp->f->max;
        star = true;
    } else {
        if ((r = parse_value(fp, &lo)) < 0)
            return r;
        hi = lo;
        if (fp->p < fp->e && *fp->p == '-') {
            fp->p++;
            if (fp->p == fp->e || *fp->p == ',' || *fp->p == '/')
                return FIELD_FAIL(fp, "%s", "missing end of range after \"-\"");
            if ((r = parse_value(fp, &hi)) < 0)
                return r;
            if (hi < lo)
                return FIELD_FAIL(fp, "range %d-%d is backwards", lo, hi);
            range = true;
        }
    }
    if (fp->p < fp->e && *fp->p == '/') {
        const char *b;
        fp->p++;
        if (fp->p == fp->e || !is_digit(*fp->p))
            return FIELD_FAIL(fp, "%s", "missing step after \"/\"");
        parse_number(fp, &step, &b);
        if (step < 1 || step > fp->f->max)
            return FIELD_FAIL(fp, "step %s is out of range 1-%d", quote(b, fp->p, q), fp->f->max);
        if (!star && !range)
            hi = fp->f->max; /* "5/10" is "5-max/10" */
    }
    if (fp->p < fp->e && *fp->p != ',')
        return FIELD_FAIL(fp, "unexpected \"%s\"", quote(fp->p, fp->e, q));
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << v;
    return 0;
}

static int parse_field(field_parser *fp, uint64_t *ret_bits)
{
    uint64_t bits = 0;
    int r;

    for (;;) {
        if ((r = parse_element(fp, &bits)) < 0)
            return r;
        if (fp->p == fp->e)
            break;
        fp->p++; /* ',' */
        if (fp->p == fp->e)
            return FIELD_FAIL(fp, "%s", "empty list element");
    }
    *ret_bits = bits;
    return 0;
}

static int parse_macro(const char *text, kpid_cron *ret, char *err, size_t errlen)
{
    const char *e = text, *rest;
    char q[40];

    while (*e && !is_blank(*e))
        e++;
    for (rest = e; is_blank(*rest); rest++)
        ;
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
        if ((size_t)(e - text) == strlen(macros[i].name) &&
            strncasecmp(text, macros[i].name, (size_t)(e - text)) == 0) {
            if (*rest) {
                SETERR(err, errlen, "unexpected \"%s\" after %s",
                       quote(rest, rest + strlen(rest), q), macros[i].name);
                return -EINVAL;
            }
            return kpid_cron_parse(macros[i].expr, ret, err, errlen);
        }
    SETERR(err, errlen, "unknown macro \"%s\"", quote(text, e, q));
    return -EINVAL;
}

int kpid_cron_parse(const char *text, kpid_cron *ret, char *err, size_t errlen)
{
    const char *tok[6][2], *p = text;
    uint64_t bits[6] = {1}; /* the 5-field form fires at second 0 */
    kpid_cron c = {0};
    int n = 0, r;

    while (is_blank(*p))
        p++;
    if (*p == '@')
        return parse_macro(p, ret, err, errlen);
    for (;;) {
        while (is_blank(*p))
            p++;
        if (!*p)
            break;
        if (n < 6)
            tok[n][0] = p;
        while (*p && !is_blank(*p))
            p++;
        if (n < 6)
            tok[n][1] = p;
        n++;
    }
    if (n != 5 && n != 6) {
        SETERR(err, errlen, "expected 5 fields (or 6, with seconds first), got %d", n);
        return -EINVAL;
    }
    /* fields[0] is the seconds': a 5-field expression starts at fields[1]. */
    int first = 6 - n;
    for (int i = 0; i < n; i++) {
        field_parser fp = {&fields[first + i], i + 1, tok[i][0], tok[i][1], err, errlen};
        if ((r = parse_field(&fp, &bits[first + i])) < 0)
            return r;
    }
    c.seconds = bits[0];
    c.minutes = bits[1];
    c.hours = (uint32_t)bits[2];
    c.days = (uint32_t)bits[3];
    c.months = (uint16_t)bits[4];
    c.weekdays = (uint8_t)((bits[5] | bits[5] >> 7) & 0x7f); /* 7 is Sunday */
    if (*tok[3 - first][0] == '*')
        c.flags |= KPID_CRON_DOM_STAR;
    if (*tok[5 - first][0] == '*')
        c.flags |= KPID_CRON_DOW_STAR;
    *ret = c;
    return 0;
}

/* ---- matching and searching -------------------------------------------------------- */

static bool day_matches(const kpid_cron *c, int64_t year, int month, int day)
{
    bool dom = c->days >> day & 1;
    bool dow = c->weekdays >> kpid_weekday_from_days(kpid_days_from_civil(year, month, day)) & 1;
    if (c->flags & (KPID_CRON_DOM_STAR | KPID_CRON_DOW_STAR))
        return dom && dow;
    return dom || dow;
}

bool kpid_cron_matches(const kpid_cron *c, const kpid_civil *l)
{
    if (l->month < 1 || l->month > 12 || l->day < 1 ||
        l->day > kpid_days_in_month(l->year, l->month) || l->hour < 0 || l->hour > 23 ||
        l->minute < 0 || l->minute > 59)
        return false;
    return (c->minutes >> l->minute & 1) && (c->hours >> l->hour & 1) &&
           (c->months >> l->month & 1) && day_matches(c, l->year, l->month, l->day);
}

/*
 * Whether some day can ever match. Every field names at least one value (the parser
 * refuses an empty one). With the OR rule every week has a matching weekday. With the
 * AND rule a (month, day) pair must exist (February 29th included): each such date falls
 * on every weekday within the 400-year cycle, so the weekdays do not matter. A day field
 * starting with '*' names day 1, which every month has; so only a restricted day of
 * month with a '*' weekday field can name days none of its months has.
 */
static bool can_fire(const kpid_cron *c)
{
    static const int max_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!(c->flags & (KPID_CRON_DOM_STAR | KPID_CRON_DOW_STAR)))
        return c->months && c->weekdays;
    for (int m = 1; m <= 12; m++)
        if ((c->months >> m & 1) && (c->days & (((UINT32_C(1) << max_days[m]) - 1) << 1)))
            return c->weekdays != 0;
    return false;
}

/* Appends "a", "a or b", "a, b or c" (or "and"): item i of n. */
static void put_list_item(char *out, size_t size, size_t *len, int i, int n, const char *conj,
                          const char *item)
{
    const char *sep = i == 0 ? "" : i == n - 1 ? conj : ", ";
    int w = snprintf(out + *len, size - *len, "%s%s", sep, item);
    if (w > 0)
        *len = *len + (size_t)w < size ? *len + (size_t)w : size - 1;
}

int kpid_cron_check(const kpid_cron *c, char *err, size_t errlen)
{
    static const char *const month_full[13] = {
        "",     "January", "February",  "March",   "April",    "May",     "June",
        "July", "August",  "September", "October", "November", "December"};
    char months[128] = "", days[64] = "";
    size_t ml = 0, dl = 0;
    int n_months = 0, n_days = 0, i;

    if (can_fire(c))
        return 0;
    /* Never: every month it names lacks every day it names (30 and 31 only). */
    for (int m = 1; m <= 12; m++)
        n_months += c->months >> m & 1;
    for (int d = 1; d <= 31; d++)
        n_days += c->days >> d & 1;
    i = 0;
    for (int m = 1; m <= 12; m++)
        if (c->months >> m & 1)
            put_list_item(months, sizeof(months), &ml, i++, n_months, " and ", month_full[m]);
    i = 0;
    for (int d = 1; d <= 31; d++)
        if (c->days >> d & 1) {
            char num[4];
            snprintf(num, sizeof(num), "%d", d);
            put_list_item(days, sizeof(days), &dl, i++, n_days, " or ", num);
        }
    SETERR(err, errlen, "%s %s no day %s", months, n_months == 1 ? "has" : "have", days);
    return -ENOENT;
}

/* A local wall time at minute resolution. */
typedef struct wall {
    int64_t year;
    int month, day, hour, minute;
} wall;

/* The lowest set bit at or above from, at most max; -1 if none. */
static int next_bit(uint64_t mask, int from, int max)
{
    for (int i = from; i <= max; i++)
        if (mask >> i & 1)
            return i;
    return -1;
}

static void next_month(wall *w)
{
    w->day = 1;
    w->hour = w->minute = 0;
    if (++w->month > 12) {
        w->month = 1;
        w->year++;
    }
}

static void next_day(wall *w)
{
    w->hour = w->minute = 0;
    if (++w->day > kpid_days_in_month(w->year, w->month))
        next_month(w);
}

static void next_hour(wall *w)
{
    w->minute = 0;
    if (++w->hour > 23)
        next_day(w);
}

static void next_minute(wall *w)
{
    if (++w->minute > 59)
        next_hour(w);
}

/* Moves *w to the first matching wall time at or after it, skipping by field. */
static int next_match(const kpid_cron *c, wall *w, int64_t last_year)
{
    int v;

    for (;;) {
        if (w->year > last_year)
            return -ENOENT;
        if (!(c->months >> w->month & 1)) {
            v = next_bit(c->months, w->month + 1, 12);
            if (v < 0) {
                w->year++;
                v = next_bit(c->months, 1, 12);
            }
            *w = (wall){w->year, v, 1, 0, 0};
            continue;
        }
        if (!day_matches(c, w->year, w->month, w->day)) {
            next_day(w);
            continue;
        }
        if (!(c->hours >> w->hour & 1)) {
            v = next_bit(c->hours, w->hour + 1, 23);
            if (v < 0) {
                next_day(w);
            } else {
                w->hour = v;
                w->minute = 0;
            }
            continue;
        }
        if (!(c->minutes >> w->minute & 1)) {
            v = next_bit(c->minutes, w->minute + 1, 59);
            if (v < 0)
                next_hour(w);
            else
                w->minute = v;
            continue;
        }
        return 0;
    }
}

/* The first firing minute (its first instant) strictly after after_utc_s. */
static int next_minute_firing(const kpid_cron *c, const kpid_tz *tz, int64_t after_utc_s,
                              int64_t *ret_utc_s)
{
    kpid_civil lc;
    int64_t last_year, t;
    wall w;
    int r;

    if (after_utc_s < KPID_TZ_MIN_S || after_utc_s > KPID_TZ_MAX_S)
        return -ERANGE;
    if (!can_fire(c))
        return -ENOENT;
    if ((r = kpid_tz_to_local(tz, after_utc_s, &lc)) < 0)
        return r;
    last_year = lc.year + CRON_SEARCH_YEARS;
    if (last_year > CRON_LAST_YEAR)
        last_year = CRON_LAST_YEAR;

    /* Every wall time up to the wall time of `after` first occurred at or before `after`
     * (or, in a gap, fired at its end, at or before `after`): start at the next minute.
     * The firing instant of a wall time never decreases as the wall time increases, so the
     * first whose firing instant is later than `after` is the answer. Only wall times
     * repeated by an overlap that `after` is in come out earlier and are skipped. */
    w = (wall){lc.year, lc.month, lc.day, lc.hour, lc.minute};
    next_minute(&w);
    for (;;) {
        kpid_civil l;
        if ((r = next_match(c, &w, last_year)) < 0)
            return r;
        l = (kpid_civil){.year = (int)w.year,
                         .month = w.month,
                         .day = w.day,
                         .hour = w.hour,
                         .minute = w.minute};
        if ((r = kpid_tz_from_local(tz, &l, 0, &t, NULL)) < 0)
            return r;
        if (t > after_utc_s) {
            *ret_utc_s = t;
            return 0;
        }
        next_minute(&w);
    }
}

int kpid_cron_next(const kpid_cron *c, const kpid_tz *tz, int64_t after_utc_s, int64_t *ret_utc_s)
{
    int64_t minute, first;
    int r;

    if (c->seconds == 1) /* second 0 only: the firings are the minutes' */
        return next_minute_firing(c, tz, after_utc_s, ret_utc_s);
    /* A later second of the minute of after_utc_s, when that minute fires. Zones are
     * offset from UTC by whole minutes, so UTC minutes are local minutes. */
    minute = after_utc_s - (after_utc_s % 60 + 60) % 60;
    if (next_minute_firing(c, tz, minute - 1, &first) == 0 && first == minute) {
        int s = next_bit(c->seconds, (int)(after_utc_s - minute) + 1, 59);
        if (s >= 0) {
            *ret_utc_s = minute + s;
            return 0;
        }
    }
    if ((r = next_minute_firing(c, tz, minute, &first)) < 0)
        return r;
    *ret_utc_s = first + next_bit(c->seconds, 0, 59);
    return 0;
}
