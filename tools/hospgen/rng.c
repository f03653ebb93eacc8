#include "rng.h"

#include <math.h>

uint64_t hg_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void hg_rng_seed(struct hg_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ hg_mix64(stream * 0x632be59bd9b4e019ULL + 1);

    /* splitmix64 sequence; never all zero because consecutive outputs differ. */
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

/* Rotates x left by k bits (0 < k < 64). */
static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hg_rng_next(struct hg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hg_rng_unit(struct hg_rng *r)
{
    return (double)(hg_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t hg_rng_below(struct hg_rng *r, uint64_t n)
{
    /* Rejection keeps the draw unbiased for every n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do
        x = hg_rng_next(r);
    while (x >= limit);
    return x % n;
}

int64_t hg_rng_range(struct hg_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)hg_rng_below(r, (uint64_t)(hi - lo) + 1);
}

bool hg_rng_chance(struct hg_rng *r, double p)
{
    return hg_rng_unit(r) < p;
}

double hg_rng_exp(struct hg_rng *r, double mean)
{
    return -mean * log1p(-hg_rng_unit(r));
}

double hg_rng_normal(struct hg_rng *r, double mean, double sd)
{
    double u1 = 1.0 - hg_rng_unit(r); /* (0, 1] */
    double u2 = hg_rng_unit(r);

    return mean + sd * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double hg_rng_lognormal(struct hg_rng *r, double median, double sigma)
{
    return median * exp(sigma * hg_rng_normal(r, 0.0, 1.0));
}

int64_t hg_rng_span(struct hg_rng *r, int64_t median, double sigma, int64_t lo, int64_t hi)
{
    double x = hg_rng_lognormal(r, (double)median, sigma);

    if (x < (double)lo)
        return lo;
    if (x > (double)hi)
        return hi;
    return (int64_t)x;
}

unsigned hg_rng_poisson(struct hg_rng *r, double mean, unsigned cap)
{
    double limit = exp(-mean);
    double p = hg_rng_unit(r);
    unsigned k = 0;

    while (p > limit && k < cap) {
        k++;
        p *= hg_rng_unit(r);
    }
    return k;
}

unsigned hg_rng_pick(struct hg_rng *r, const double *w, unsigned n)
{
    double total = 0.0;

    for (unsigned i = 0; i < n; i++)
        total += w[i];
    double x = hg_rng_unit(r) * total;
    for (unsigned i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    /* Rounding left x at the very top: the last index with weight. */
    for (unsigned i = n; i-- > 0;)
        if (w[i] > 0.0)
            return i;
    return 0;
}
