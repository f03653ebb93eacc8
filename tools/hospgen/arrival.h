/*
 * Arrival processes: journeys that start on their own (not scheduled by an earlier
 * journey). Each kind is a Poisson process whose rate follows the hour of the day and
 * the day of the week in local time (drawn by thinning); the monthly headcount comes
 * at local midnight of each first of the month. A scale factor multiplies every rate
 * but the headcount's. Arrival times have their own random stream.
 */
#ifndef HG_ARRIVAL_H
#define HG_ARRIVAL_H

#include <stdint.h>

#include "rng.h"
#include "world.h"

enum hg_arrival_kind {
    HG_ARR_ED,
    HG_ARR_ADMISSION, /* planned medical admissions, not from the ED or theatre */
    HG_ARR_SURGERY,
    HG_ARR_OUTPATIENT,
    HG_ARR_LAB, /* outpatient and GP lab orders */
    HG_ARR_TRAINING,
    HG_ARR__COUNT
};

struct hg_arrivals {
    struct hg_rng rng;
    int32_t off_sec;
    double rate_max[HG_ARR__COUNT]; /* per microsecond, before thinning */
    int64_t next[HG_ARR__COUNT];
    int64_t next_headcount; /* UTC time of the next monthly headcount */
};

/* Sets up the processes from start on; scale multiplies the base rates. */
void hg_arrivals_init(struct hg_arrivals *a, uint64_t seed, uint64_t stream, int64_t start,
                      int32_t off_sec, double scale);
/* Returns the time of the earliest next arrival. */
int64_t hg_arrivals_peek(const struct hg_arrivals *a);
/* Takes the earliest next arrival into *ret (type, time; the rest HG_ANY or 0). */
void hg_arrivals_pop(struct hg_arrivals *a, struct hg_spawn *ret);

#endif
