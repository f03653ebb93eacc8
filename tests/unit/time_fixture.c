/* The time layer's test helpers (time_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "time_fixture.h"

kpid_tz *tf_load(const char *name)
{
    kpid_tz *tz = NULL;
    char *err = NULL;
    int r = kpid_tz_load(name, &tz, &err);

    if (r < 0)
        fail_msg("loading %s: %d %s", name, r, err ? err : "(no message)");
    assert_non_null(tz);
    return tz;
}

int64_t tf_utc(int y, int mo, int d, int h, int mi, int s)
{
    return kpid_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

int64_t tf_wall_seconds(const kpid_civil *c)
{
    return kpid_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
           c->minute * 60 + c->second;
}
