/*
 * The simulated hospital's state that outlives a single journey: the random stream for
 * journey contents, id counters, the time zone, the staff headcount, and the queue of
 * journeys that earlier journeys scheduled (an admission after an ED visit, a lab
 * order during a stay, a readmission). Touched by the one generator thread only.
 */
#ifndef HG_WORLD_H
#define HG_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "journey.h"
#include "rng.h"

#define HG_ANY 0xff /* spawn field left to the pathway */

/* A journey to start: from an arrival process or scheduled by an earlier journey. */
struct hg_spawn {
    int64_t time;     /* start (UTC microseconds); every event of the journey is later */
    uint64_t order;   /* tie-break among equal times */
    uint32_t subject; /* patient number, 0 = pick one */
    uint8_t type;     /* enum hg_jtype */
    uint8_t cls;      /* inpatient: patient class k; lab: priority k; ED: 1 for the
                         second visit of a patient registered twice at once; else HG_ANY */
    uint8_t dept;     /* department k or HG_ANY; that second ED visit: its arrival mode k */
    uint8_t ward;     /* ward k or HG_ANY (lab: the ordering ward; HG_ANY = outpatient) */
};

struct hg_spawnq {
    struct hg_spawn *a; /* binary min-heap on (time, order) */
    size_t n, cap;
};

struct hg_world {
    struct hg_rng rng; /* every draw that shapes a journey */
    int64_t start;     /* first possible event time */
    int32_t off_sec;   /* local time zone, seconds east of UTC */
    char off_text[8];  /* "+05:00" */
    uint64_t next_case[HG_J__COUNT];
    uint32_t next_patient; /* patients so far + 1 */
    uint64_t next_order;   /* journeys so far */
    uint64_t next_spawn;   /* spawns so far */
    int32_t headcount[16]; /* staff per department, drifting month to month */
    struct hg_spawnq spawns;
    int error; /* first failure of hg_world_spawn, sticky; 0 = none */
    struct hg_builder b;
};

/* Sets w up for a run; off_text is "+HH:MM"/"-HH:MM". Returns 0 or -ENOMEM. */
int hg_world_init(struct hg_world *w, uint64_t seed, uint64_t stream, int64_t start,
                  int32_t off_sec, const char *off_text);
/* Frees what w holds (not w itself). */
void hg_world_fini(struct hg_world *w);

/*
 * Queues a journey to start at sp->time (the order field is assigned here). On
 * allocation failure the spawn is lost and w->error is set to -ENOMEM.
 */
void hg_world_spawn(struct hg_world *w, const struct hg_spawn *sp);
/* Returns the earliest queued spawn without removing it, or NULL when none. */
const struct hg_spawn *hg_world_peek_spawn(const struct hg_world *w);
/* Removes the earliest queued spawn into *ret (the queue must not be empty). */
void hg_world_pop_spawn(struct hg_world *w, struct hg_spawn *ret);

/* Returns a patient number: mostly a new patient, sometimes one seen before. */
uint32_t hg_world_patient(struct hg_world *w);
/* Returns the next case number of a journey type. */
uint64_t hg_world_case(struct hg_world *w, enum hg_jtype type);

/* Converts between UTC and local wall-clock microseconds. */
int64_t hg_world_local(const struct hg_world *w, int64_t utc);
int64_t hg_world_utc(const struct hg_world *w, int64_t local);
/*
 * Returns a UTC time on the first Monday-to-Friday local day on or after the local day
 * of t, uniform between from_hour and to_hour local time.
 */
int64_t hg_world_workday_time(struct hg_world *w, int64_t t, unsigned from_hour, unsigned to_hour);

#endif
