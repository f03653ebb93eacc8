/*
 * Helpers shared by the tests of the time layer (test_tz.c, test_cron.c, test_period.c):
 * loading a time zone and writing instants as calendar times. Names start with tf_
 * (time fixture). The helpers fail the running test through cmocka's assertions.
 */
#ifndef KPID_TEST_TIME_FIXTURE_H
#define KPID_TEST_TIME_FIXTURE_H

#include <stdint.h>

#include "time/tz.h"

/* Loads the zone name (from $TZDIR or the system's zone folder) and returns it; fails the
 * test when it cannot be loaded. The caller frees it with kpid_tz_free. */
kpid_tz *tf_load(const char *name);

/* The instant (seconds since 1970-01-01 00:00:00 UTC) of the UTC time y-mo-d h:mi:s. */
int64_t tf_utc(int y, int mo, int d, int h, int mi, int s);

/* The wall time of c (its date and time of day, not its offset) counted as if it were
 * UTC: seconds since 1970-01-01 00:00:00 on the same wall clock. */
int64_t tf_wall_seconds(const kpid_civil *c);

#endif
