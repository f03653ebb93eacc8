#include "retry/backoff.h"

#include <stdlib.h>

/* delay * pct / 100, rounded down, without overflowing for any delay >= 0. */
static int64_t percent(int64_t delay, unsigned pct)
{
    return delay / 100 * pct + delay % 100 * pct / 100;
}

int64_t kpid_jitter(int64_t delay, unsigned below, unsigned above, unsigned *seed)
{
    int64_t lo = percent(delay, below), hi = percent(delay, above);

    if (lo + hi <= 0)
        return delay;
    return delay - lo + (int64_t)((uint64_t)rand_r(seed) % (uint64_t)(lo + hi + 1));
}

int64_t kpid_backoff_next(kpid_backoff *b)
{
    int64_t d = b->min;

    if (b->current > 0)
        d = b->current > INT64_MAX / 2 ? INT64_MAX : b->current * 2;
    if (d < b->min)
        d = b->min;
    if (d > b->max)
        d = b->max;
    b->current = d;
    return kpid_jitter(d, b->jitter_below, b->jitter_above, &b->seed);
}

void kpid_backoff_reset(kpid_backoff *b)
{
    b->current = 0;
}

bool kpid_retry_failed(kpid_retry_state *s, int state, int64_t now)
{
    bool change = s->state != state;

    if (s->state == 0) {
        s->since = now;
        s->failures = 0;
    }
    s->failures++;
    s->state = state;
    return change;
}

bool kpid_retry_succeeded(kpid_retry_state *s)
{
    bool change = s->state != 0;

    s->state = 0;
    return change;
}
