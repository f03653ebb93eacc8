/*
 * The monotonic clock, for deadlines, timeouts and heartbeats (never for what a period
 * or an event's time is: those are wall-clock UTC).
 */
#ifndef KPID_TIME_CLOCK_H
#define KPID_TIME_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds. */
int64_t kpid_now_us(void);

#endif
