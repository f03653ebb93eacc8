#include "arrival.h"

#include <string.h>

#include "time/civil.h"
#include "timefmt.h"

/* Average arrivals a day at scale 1. */
static const double base_per_day[HG_ARR__COUNT] = {110, 12, 26, 420, 160, 3};

static const uint8_t kind_type[HG_ARR__COUNT] = {
    HG_J_ED, HG_J_INPATIENT, HG_J_SURGERY, HG_J_OUTPATIENT, HG_J_LAB, HG_J_TRAINING,
};

/* Relative rates by local hour and by weekday (Monday first). */
static const double ed_hour[24] = {45,  38,  32,  28,  26,  28,  38,  55,  80, 100, 110, 115,
                                   112, 108, 105, 105, 108, 110, 110, 105, 95, 82,  68,  55};
static const double ed_day[7] = {112, 102, 100, 100, 100, 93, 93};
static const double office_hour[24] = {1,  1,  1,   1,   1,  1,  2, 20, 90, 100, 100, 95,
                                       70, 90, 100, 100, 80, 30, 5, 2,  1,  1,   1,   1};
static const double lab_hour[24] = {1,  1,  1,  1,  1,  1,  5, 60, 100, 100, 90, 80,
                                    50, 50, 40, 30, 20, 10, 3, 1,  1,   1,   1,  1};
static const double office_day[7] = {100, 100, 100, 100, 95, 4, 2};

/* Returns the 24 relative hourly rates of arrival kind k. */
static const double *hour_profile(unsigned k)
{
    return k == HG_ARR_ED ? ed_hour : k == HG_ARR_LAB ? lab_hour : office_hour;
}

/* Returns the 7 relative weekday rates of arrival kind k. */
static const double *day_profile(unsigned k)
{
    return k == HG_ARR_ED ? ed_day : office_day;
}

/* Returns the mean of x[0..n) and stores its maximum in *ret_max. */
static double mean_of(const double *x, unsigned n, double *ret_max)
{
    double sum = 0, max = 0;

    for (unsigned i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] > max)
            max = x[i];
    }
    *ret_max = max;
    return sum / n;
}

/* Draws the next accepted arrival of process k after time t. */
static int64_t draw_next(struct hg_arrivals *a, unsigned k, int64_t t)
{
    const double *hp = hour_profile(k), *dp = day_profile(k);
    double hmax, dmax;

    mean_of(hp, 24, &hmax);
    mean_of(dp, 7, &dmax);
    for (;;) {
        t += 1 + (int64_t)hg_rng_exp(&a->rng, 1.0 / a->rate_max[k]);
        int64_t local = t + (int64_t)a->off_sec * HG_SEC;
        double p = hp[hg_hour(local)] * dp[hg_weekday(local)] / (hmax * dmax);
        if (hg_rng_unit(&a->rng) < p)
            return t;
    }
}

/* Returns the first local midnight of a first of the month at or after t (UTC in, UTC out). */
static int64_t month_start_after(int64_t t, int32_t off_sec)
{
    int64_t off = (int64_t)off_sec * HG_SEC;
    int64_t local = t + off;
    int64_t y;
    int m, d;

    kpid_civil_from_days(hg_day_start(local) / HG_DAY, &y, &m, &d);
    int64_t first = kpid_days_from_civil(y, m, 1) * HG_DAY;
    if (first < local) {
        if (++m > 12) {
            m = 1;
            y++;
        }
        first = kpid_days_from_civil(y, m, 1) * HG_DAY;
    }
    return first - off;
}

void hg_arrivals_init(struct hg_arrivals *a, uint64_t seed, uint64_t stream, int64_t start,
                      int32_t off_sec, double scale)
{
    memset(a, 0, sizeof(*a));
    hg_rng_seed(&a->rng, seed, stream);
    a->off_sec = off_sec;
    for (unsigned k = 0; k < HG_ARR__COUNT; k++) {
        double hmax, dmax;
        double hmean = mean_of(hour_profile(k), 24, &hmax);
        double dmean = mean_of(day_profile(k), 7, &dmax);
        /* The thinned process averages base_per_day * scale a day. */
        a->rate_max[k] = base_per_day[k] * scale * (hmax * dmax) / (hmean * dmean) / (double)HG_DAY;
        a->next[k] = draw_next(a, k, start - 1);
    }
    a->next_headcount = month_start_after(start, off_sec);
}

int64_t hg_arrivals_peek(const struct hg_arrivals *a)
{
    int64_t t = a->next_headcount;

    for (unsigned k = 0; k < HG_ARR__COUNT; k++)
        if (a->next[k] < t)
            t = a->next[k];
    return t;
}

void hg_arrivals_pop(struct hg_arrivals *a, struct hg_spawn *ret)
{
    unsigned best = HG_ARR__COUNT;
    int64_t t = a->next_headcount;

    for (unsigned k = 0; k < HG_ARR__COUNT; k++)
        if (a->next[k] < t) {
            t = a->next[k];
            best = k;
        }
    memset(ret, 0, sizeof(*ret));
    ret->time = t;
    ret->cls = ret->dept = ret->ward = HG_ANY;
    if (best == HG_ARR__COUNT) {
        ret->type = HG_J_HEADCOUNT;
        a->next_headcount = month_start_after(t + 1, a->off_sec);
    } else {
        ret->type = kind_type[best];
        a->next[best] = draw_next(a, best, t);
    }
}
