#include "time/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

int64_t kpid_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kpid_wall_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec kpid_deadline_in(int64_t us)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += us / 1000000;
    ts.tv_nsec += (us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

bool kpid_nap(pthread_mutex_t *lock, pthread_cond_t *cond, _Atomic bool *stop, int64_t us)
{
    struct timespec ts = kpid_deadline_in(us);
    bool stopped;

    pthread_mutex_lock(lock);
    while (!atomic_load(stop))
        if (pthread_cond_timedwait(cond, lock, &ts) == ETIMEDOUT)
            break;
    stopped = atomic_load(stop);
    pthread_mutex_unlock(lock);
    return stopped;
}
