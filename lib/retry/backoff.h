/*
 * Retrying a failing dependency (a warehouse, a plugin) well: a capped exponential
 * backoff with jitter, so that retries neither hammer nor move in lockstep, and a
 * tracker of the failing state that says when a line is worth logging: once per change
 * of state, not once per attempt.
 *
 * Plain values: no clock, no logging, no lock. The caller passes the time, logs what the
 * tracker says, and keeps each struct to one thread. Delays and times are in the
 * caller's unit (microseconds, milliseconds), the same for every field of a struct.
 */
#ifndef KPID_RETRY_BACKOFF_H
#define KPID_RETRY_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A capped exponential backoff. Fill min and max (0 < min <= max), the jitter and the
 * seed; zero current. The bounds may be changed between calls (a failure that only an
 * operator fixes retries more slowly): the next delay moves into them.
 */
typedef struct kpid_backoff {
    int64_t min;           /* the first delay after a reset */
    int64_t max;           /* the cap */
    int64_t current;       /* the last delay kpid_backoff_next chose, before jitter; 0: none */
    unsigned jitter_below; /* a delay is shortened by up to this many percent ... */
    unsigned jitter_above; /* ... or lengthened by up to this many percent */
    unsigned seed;         /* the jitter's random state (rand_r) */
} kpid_backoff;

/*
 * The next delay to wait: min after a reset, else the last one doubled, within [min,
 * max] as they are now; it is kept in b->current, and returned with the jitter
 * (kpid_jitter) applied.
 */
int64_t kpid_backoff_next(kpid_backoff *b);

/* Starts again from min: the dependency works again. */
void kpid_backoff_reset(kpid_backoff *b);

/*
 * delay moved at random within [delay - delay * below / 100, delay + delay * above /
 * 100] (each spread rounded down), so that retries or polls configured alike do not run
 * in lockstep. A delay whose spread rounds to nothing is returned as it is. delay >= 0,
 * below <= 100; *seed is rand_r's state.
 */
int64_t kpid_jitter(int64_t delay, unsigned below, unsigned above, unsigned *seed);

/*
 * The state of a dependency, for logging once per change of it: 0 while it works, or
 * the kind of failure the caller named (an outage, a refusal, ...). Zero it to start.
 */
typedef struct kpid_retry_state {
    int state;         /* 0: working; else the kind of the last failure */
    int64_t since;     /* when the current spell of failures began */
    unsigned failures; /* failures in the current spell (after a recovery: in the last) */
} kpid_retry_state;

/*
 * Records a failure of kind state (> 0) at now. Returns true when it should be logged:
 * the first failure after working, or a failure of another kind than the last.
 */
bool kpid_retry_failed(kpid_retry_state *s, int state, int64_t now);

/*
 * Records a success. Returns true when it ends a spell of failures, which should be
 * logged: s->since and s->failures still describe that spell, until the next failure.
 */
bool kpid_retry_succeeded(kpid_retry_state *s);

/* True while failing: the last thing recorded was a failure. */
static inline bool kpid_retry_failing(const kpid_retry_state *s)
{
    return s->state != 0;
}

#endif
