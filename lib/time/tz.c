/*
 * A loaded zone's lookups: the local time of an instant and the instants of a local
 * time. Loading is in tzif.c, the footer's rule in tz_rule.c.
 */
#include "time/tz.h"

#include <errno.h>
#include <stdlib.h>

#include "time/tz_private.h"

#define TZ_WINDOW ((int64_t)2 * 86400) /* wider than any offset: solutions of from_local */
#define TZ_SEGMENTS_MAX 64

static const tz_type utc_type = {0, false};

/* The local time type in effect at instant t. */
static tz_type state_at(const kpid_tz *tz, int64_t t)
{
    size_t lo, hi;

    if (!tz)
        return utc_type;
    if (tz->n_trans == 0)
        return tz->rule.present ? kpid__tz_rule_state_at(&tz->rule, t) : tz->types[0];
    if (t < tz->trans[0])
        return tz->types[0];
    if (t > tz->trans[tz->n_trans - 1] && tz->rule.present)
        return kpid__tz_rule_state_at(&tz->rule, t);
    lo = 0; /* last i with trans[i] <= t */
    hi = tz->n_trans;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->types[tz->idx[lo]];
}

/* The first transition strictly after t: its instant and the type it changes to. */
static bool next_transition(const kpid_tz *tz, int64_t t, int64_t *ret_t, tz_type *ret_type)
{
    size_t lo, hi;

    if (!tz)
        return false;
    if (tz->n_trans > 0 && t < tz->trans[tz->n_trans - 1]) {
        lo = 0; /* first i with trans[i] > t */
        hi = tz->n_trans - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] > t)
                hi = mid;
            else
                lo = mid + 1;
        }
        *ret_t = tz->trans[lo];
        *ret_type = tz->types[tz->idx[lo]];
        return true;
    }
    return tz->rule.present && kpid__tz_rule_next(&tz->rule, t, ret_t, ret_type);
}

int kpid_tz_to_local(const kpid_tz *tz, int64_t utc_s, kpid_civil *ret)
{
    tz_type st;
    int64_t local, days, secs, year;
    int month, day;

    if (utc_s < KPID_TZ_MIN_S || utc_s > KPID_TZ_MAX_S)
        return -ERANGE;
    st = state_at(tz, utc_s);
    local = utc_s + st.off;
    days = kpid_floor_div(local, 86400);
    secs = local - days * 86400;
    kpid_civil_from_days(days, &year, &month, &day);
    *ret = (kpid_civil){
        .year = (int)year,
        .month = month,
        .day = day,
        .hour = (int)(secs / 3600),
        .minute = (int)(secs / 60 % 60),
        .second = (int)(secs % 60),
        .wday = kpid_weekday_from_days(days),
        .yday = (int)(days - kpid_days_from_civil(year, 1, 1)),
        .utc_offset = st.off,
        .is_dst = st.dst,
    };
    return 0;
}

int kpid_tz_from_local(const kpid_tz *tz, const kpid_civil *local, unsigned flags,
                       int64_t *ret_utc_s, int *ret_kind)
{
    struct {
        int64_t start;
        int32_t off;
    } seg[TZ_SEGMENTS_MAX];
    int64_t wall, lo, hi, t, found[2];
    size_t n = 1, n_found = 0;
    tz_type type;

    if (local->year < 1 || local->year > 9999)
        return -ERANGE;
    if (local->month < 1 || local->month > 12 || local->day < 1 ||
        local->day > kpid_days_in_month(local->year, local->month) || local->hour < 0 ||
        local->hour > 23 || local->minute < 0 || local->minute > 59 || local->second < 0 ||
        local->second > 59)
        return -EINVAL;
    wall = kpid_days_from_civil(local->year, local->month, local->day) * 86400 +
           (int64_t)local->hour * 3600 + (int64_t)local->minute * 60 + local->second;

    /* The instants whose wall time is `wall` lie within a day of it: split that window
     * into segments of constant offset and solve t + off = wall in each. */
    lo = wall - TZ_WINDOW;
    hi = wall + TZ_WINDOW;
    seg[0].start = lo;
    seg[0].off = state_at(tz, lo).off;
    for (t = lo; next_transition(tz, t, &t, &type) && t <= hi; n++) {
        if (n == TZ_SEGMENTS_MAX)
            return -ERANGE;
        seg[n].start = t;
        seg[n].off = type.off;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t cand = wall - seg[i].off, end = i + 1 < n ? seg[i + 1].start : hi + 1;
        if (cand >= seg[i].start && cand < end) {
            found[n_found ? 1 : 0] = cand;
            n_found++;
        }
    }
    if (n_found > 0) {
        *ret_utc_s = n_found > 1 && (flags & KPID_TZ_LATER) ? found[1] : found[0];
        if (ret_kind)
            *ret_kind = n_found > 1 ? KPID_TZ_OVERLAP : KPID_TZ_UNIQUE;
        return 0;
    }
    for (size_t i = 1; i < n; i++)
        if (seg[i].start + seg[i - 1].off <= wall && wall < seg[i].start + seg[i].off) {
            *ret_utc_s = seg[i].start;
            if (ret_kind)
                *ret_kind = KPID_TZ_GAP;
            return 0;
        }
    return -ERANGE; /* unreachable for a consistent zone */
}

kpid_tz *kpid_tz_free(kpid_tz *tz)
{
    if (tz) {
        free(tz->name);
        free(tz->trans);
        free(tz->idx);
        free(tz->types);
        free(tz);
    }
    return NULL;
}

const char *kpid_tz_name(const kpid_tz *tz)
{
    return tz ? tz->name : "UTC";
}
