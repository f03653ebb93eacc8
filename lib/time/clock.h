/*
 * The monotonic clock, for deadlines, timeouts and heartbeats (never for what a period
 * or an event's time is: those are wall-clock UTC).
 */
#ifndef KPID_TIME_CLOCK_H
#define KPID_TIME_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in microseconds. */
int64_t kpid_now_us(void);

/* CLOCK_REALTIME in microseconds since 1970-01-01 UTC: for when something happened (a
 * message received, an ACK's MSH-7), never for how long something takes. */
int64_t kpid_wall_now_us(void);

/* The CLOCK_MONOTONIC time us microseconds (>= 0) from now, for the absolute timeouts of
 * pthread_cond_timedwait (a monotonic condattr) and pthread_mutex_clocklock. */
struct timespec kpid_deadline_in(int64_t us);

/*
 * Sleeps us microseconds unless *stop turns true: waits on cond (made with
 * pthread_condattr_setclock(CLOCK_MONOTONIC), and broadcast by whoever sets *stop under
 * lock) with lock, which it takes and releases. Returns true when it ends because *stop
 * is true, false when the time is up.
 */
bool kpid_nap(pthread_mutex_t *lock, pthread_cond_t *cond, _Atomic bool *stop, int64_t us);

#endif
