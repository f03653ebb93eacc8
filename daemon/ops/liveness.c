#include "ops/liveness.h"

#include <pthread.h>
#include <stddef.h>

#include "ops/log.h"
#include "time/clock.h"

#define MAX_BEATS 16

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER; /* guards beats[] */
static kpid_beat *beats[MAX_BEATS];

void kpid_beat_now(kpid_beat *b)
{
    atomic_store(&b->at_us, kpid_now_us());
}

void kpid_beat_wait(kpid_beat *b, bool waiting)
{
    atomic_fetch_add(&b->waiting, waiting ? 1 : -1);
    kpid_beat_now(b);
}

void kpid_liveness_add(kpid_beat *b)
{
    bool added = false;

    kpid_beat_now(b);
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < MAX_BEATS && !added; i++)
        if (!beats[i]) {
            beats[i] = b;
            added = true;
        }
    pthread_mutex_unlock(&registry_lock);
    if (!added)
        log_warning("thread=%s is not watched: more than %d threads to watch", b->name, MAX_BEATS);
}

void kpid_liveness_remove(kpid_beat *b)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < MAX_BEATS; i++)
        if (beats[i] == b)
            beats[i] = NULL;
    pthread_mutex_unlock(&registry_lock);
}

const char *kpid_liveness_stalled(int64_t since_us, int64_t *ret_silent_us)
{
    const char *name = NULL;

    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < MAX_BEATS && !name; i++) {
        kpid_beat *b = beats[i];
        if (!b || atomic_load(&b->waiting) > 0)
            continue;
        int64_t at = atomic_load(&b->at_us);
        if (at < since_us) {
            name = b->name;
            *ret_silent_us = kpid_now_us() - at;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return name;
}
