/*
 * The footer's POSIX TZ rule of a TZif file (std offset [dst [offset],start[/time],
 * end[/time]], dates Mm.w.d, Jn or n), which governs the instants after a zone's last
 * transition.
 */
#include <string.h>

#include "time/civil.h"
#include "time/tz_private.h"

/* Reads 1 to max_digits digits into *ret, which must not exceed max. */
static bool posix_num(const char **s, int max_digits, int max, int *ret)
{
    int v = 0, n = 0;
    while (kpid__tz_is_digit(**s) && n < max_digits) {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    if (n == 0 || kpid__tz_is_digit(**s) || v > max)
        return false;
    *ret = v;
    return true;
}

/* A zone abbreviation: 3+ letters, or <...> of 3+ letters, digits, '+' and '-'. */
static bool posix_name(const char **s)
{
    const char *p = *s, *b;
    if (*p == '<') {
        b = ++p;
        while (kpid__tz_is_alpha(*p) || kpid__tz_is_digit(*p) || *p == '+' || *p == '-')
            p++;
        if (*p != '>' || p - b < 3)
            return false;
        *s = p + 1;
        return true;
    }
    for (b = p; kpid__tz_is_alpha(*p); p++)
        ;
    if (p - b < 3)
        return false;
    *s = p;
    return true;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h, in seconds. */
static bool posix_hms(const char **s, int max_h, int32_t *ret)
{
    int sign = 1, h, m = 0, sec = 0;
    if (**s == '+' || **s == '-')
        sign = *(*s)++ == '-' ? -1 : 1;
    if (!posix_num(s, 3, max_h, &h))
        return false;
    if (**s == ':') {
        (*s)++;
        if (!posix_num(s, 2, 59, &m))
            return false;
        if (**s == ':') {
            (*s)++;
            if (!posix_num(s, 2, 59, &sec))
                return false;
        }
    }
    *ret = sign * (h * 3600 + m * 60 + sec);
    return true;
}

/* Jn, n or Mm.w.d, then an optional /time (default 02:00:00). */
static bool posix_date(const char **s, tz_rdate *d)
{
    memset(d, 0, sizeof(*d));
    if (**s == 'J') {
        (*s)++;
        d->kind = 'J';
        if (!posix_num(s, 3, 365, &d->n) || d->n < 1)
            return false;
    } else if (**s == 'M') {
        (*s)++;
        d->kind = 'M';
        if (!posix_num(s, 2, 12, &d->m) || d->m < 1 || *(*s)++ != '.' ||
            !posix_num(s, 1, 5, &d->w) || d->w < 1 || *(*s)++ != '.' || !posix_num(s, 1, 6, &d->d))
            return false;
    } else {
        d->kind = 'N';
        if (!posix_num(s, 3, 365, &d->n))
            return false;
    }
    d->secs = 2 * 3600;
    if (**s == '/') {
        (*s)++;
        return posix_hms(s, 167, &d->secs);
    }
    return true;
}

bool kpid__tz_rule_parse(const char *s, tz_rule *r)
{
    int32_t off;
    memset(r, 0, sizeof(*r));
    if (!posix_name(&s) || !posix_hms(&s, 24, &off))
        return false;
    r->present = true;
    r->std_off = r->dst_off = -off; /* POSIX offsets count west */
    if (*s == '\0')
        return true;
    if (!posix_name(&s))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!posix_hms(&s, 24, &off))
            return false;
        r->dst_off = -off;
    }
    /* zic always writes the rule; POSIX leaves its absence to the implementation. */
    if (*s++ != ',' || !posix_date(&s, &r->start) || *s++ != ',' || !posix_date(&s, &r->end) ||
        *s != '\0')
        return false;
    return true;
}

/* The day (since the epoch) on which a rule date falls in year. */
static int64_t rule_day(const tz_rdate *d, int64_t year)
{
    int64_t jan1 = kpid_days_from_civil(year, 1, 1), first;
    int day, dim;

    switch (d->kind) {
    case 'J': /* 1-365, February 29th never counted */
        return jan1 + d->n - 1 + (kpid_leap_year(year) && d->n >= 60);
    case 'N': /* 0-365, February 29th counted */ return jan1 + d->n;
    default: /* day d of week w (5 = last) of month m */
        first = kpid_days_from_civil(year, d->m, 1);
        dim = kpid_days_in_month(year, d->m);
        day = (d->d - kpid_weekday_from_days(first) + 7) % 7 + (d->w - 1) * 7;
        while (day >= dim)
            day -= 7;
        return first + day;
    }
}

typedef struct rule_change {
    int64_t t;
    bool dst; /* the state it changes to */
} rule_change;

/* The rule's changes in years first .. first+n_years-1, sorted by time (stable). */
static size_t rule_changes(const tz_rule *r, int64_t first, int n_years, rule_change *out)
{
    size_t n = 0;
    for (int i = 0; i < n_years; i++) {
        int64_t y = first + i;
        out[n++] = (rule_change){rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off, true};
        out[n++] = (rule_change){rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off, false};
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1].t > out[j].t; j--) {
            rule_change c = out[j];
            out[j] = out[j - 1];
            out[j - 1] = c;
        }
    return n;
}

static int64_t rule_year(const tz_rule *r, int64_t t)
{
    int64_t y;
    int m, d;
    kpid_civil_from_days(kpid_floor_div(t + r->std_off, 86400), &y, &m, &d);
    return y;
}

tz_type kpid__tz_rule_state_at(const tz_rule *r, int64_t t)
{
    rule_change c[8];
    size_t n;
    bool dst;

    if (!r->has_dst)
        return (tz_type){r->std_off, false};
    n = rule_changes(r, rule_year(r, t) - 2, 4, c);
    dst = !c[0].dst;
    for (size_t i = 0; i < n && c[i].t <= t; i++)
        dst = c[i].dst; /* equal times: the later year's change wins (all-year DST) */
    return (tz_type){dst ? r->dst_off : r->std_off, dst};
}

bool kpid__tz_rule_next(const tz_rule *r, int64_t t, int64_t *ret_t, tz_type *ret_type)
{
    rule_change c[8];
    size_t n;

    if (!r->has_dst)
        return false;
    n = rule_changes(r, rule_year(r, t) - 1, 4, c);
    for (size_t i = 0; i < n; i++) {
        tz_type before, after;
        if (c[i].t <= t)
            continue;
        before = kpid__tz_rule_state_at(r, c[i].t - 1);
        after = kpid__tz_rule_state_at(r, c[i].t);
        if (before.off != after.off || before.dst != after.dst) {
            *ret_t = c[i].t;
            *ret_type = after;
            return true;
        }
    }
    return false;
}
