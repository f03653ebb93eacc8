/* Durations of the configuration (duration.h). */
#include "config/duration.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_DAY INT64_C(86400000)

int kpid_duration_parse(const char *text, int64_t *ret_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", MS_PER_DAY}};
    const char *p = text;
    int64_t n = 0, factor = 0;
    bool overflow = false;

    if (!text || !isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        int digit = *p - '0';
        if (n > (INT64_MAX - digit) / 10)
            overflow = true;
        else
            n = n * 10 + digit;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(p, units[i].unit) == 0) {
            factor = units[i].ms;
            break;
        }
    if (factor == 0)
        return -EINVAL;
    if (overflow || n > INT64_MAX / factor)
        return -ERANGE;
    *ret_ms = n * factor;
    return 0;
}

void kpid_duration_format(int64_t ms, char *buf, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", MS_PER_DAY}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};

    for (size_t i = 0; ms != 0 && i < sizeof(units) / sizeof(units[0]); i++)
        if (ms % units[i].ms == 0) {
            snprintf(buf, size, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return;
        }
    snprintf(buf, size, "%" PRId64 "ms", ms);
}
