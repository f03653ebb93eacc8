/*
 * The generator's pseudo-random numbers: xoshiro256** seeded through splitmix64.
 * Every draw depends only on the seed, the stream number and the draws before it, so
 * the same arguments give the same output on every run. Never uses rand().
 */
#ifndef HG_RNG_H
#define HG_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct hg_rng {
    uint64_t s[4];
};

/* Seeds r for (seed, stream): different streams give independent sequences. */
void hg_rng_seed(struct hg_rng *r, uint64_t seed, uint64_t stream);
/* Returns the next 64 random bits. */
uint64_t hg_rng_next(struct hg_rng *r);
/* Returns a double uniform in [0, 1), with 53 random bits. */
double hg_rng_unit(struct hg_rng *r);
/* Returns an integer uniform in [0, n); n must be > 0. */
uint64_t hg_rng_below(struct hg_rng *r, uint64_t n);
/* Returns an integer uniform in [lo, hi]; lo <= hi. */
int64_t hg_rng_range(struct hg_rng *r, int64_t lo, int64_t hi);
/* Returns true with probability p. */
bool hg_rng_chance(struct hg_rng *r, double p);
/* Returns an exponential variate with the given mean. */
double hg_rng_exp(struct hg_rng *r, double mean);
/* Returns a normal variate (Box-Muller, no cached second value). */
double hg_rng_normal(struct hg_rng *r, double mean, double sd);
/* Returns a log-normal variate: median * exp(sigma * N(0,1)). */
double hg_rng_lognormal(struct hg_rng *r, double median, double sigma);
/* Returns a log-normal variate rounded to an integer and kept within [lo, hi]. */
int64_t hg_rng_span(struct hg_rng *r, int64_t median, double sigma, int64_t lo, int64_t hi);
/* Returns a Poisson variate (Knuth's method; for small means only, capped at cap). */
unsigned hg_rng_poisson(struct hg_rng *r, double mean, unsigned cap);
/* Returns an index in [0, n) drawn with the given non-negative weights (not all zero). */
unsigned hg_rng_pick(struct hg_rng *r, const double *w, unsigned n);

/* Mixes x into a well-spread 64-bit hash (splitmix64's finalizer); for per-id traits. */
uint64_t hg_mix64(uint64_t x);

#endif
