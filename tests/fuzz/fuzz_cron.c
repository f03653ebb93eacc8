/*
 * Fuzz target of cron expressions: arbitrary text is parsed (a message on error, even
 * into a one-byte buffer), and what parses is searched from a few instants in UTC,
 * Europe/Berlin and Australia/Lord_Howe, around their DST changes. Invariants:
 *   - next() returns an instant later than `after`, or -ENOENT, and -ENOENT for one
 *     instant means -ENOENT for all (an expression that can fire does so within 400
 *     years); kpid_cron_check() refuses exactly the expressions that get -ENOENT, with
 *     a reason;
 *   - the firing is one of the schedule's seconds (second 0 in the 5-field form) of a
 *     minute that fires: a matching wall minute at its first occurrence, or the end of
 *     a DST gap that skipped a matching wall time (zone offsets are whole minutes);
 *   - nothing fires in between, checked minute by minute when the firing is within three
 *     hours.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "time/cron.h"

#define N_ZONES 3

static kpid_tz *zones[N_ZONES]; /* [0] stays NULL: UTC */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const names[N_ZONES] = {NULL, "Europe/Berlin", "Australia/Lord_Howe"};
    for (int i = 1; i < N_ZONES; i++) {
        char *err = NULL;
        if (kpid_tz_load(names[i], &zones[i], &err) < 0)
            abort(); /* the fuzzer needs the system's zones (package tzdata) */
    }
    return 0;
}

static int64_t wall_seconds(const kpid_civil *c)
{
    return kpid_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
           c->minute * 60 + c->second;
}

/* Whether a matching wall minute lies in [from, to) (wall seconds). */
static bool match_between(const kpid_cron *c, int64_t from, int64_t to)
{
    for (int64_t w = from + (60 - from % 60) % 60; w < to; w += 60) {
        int64_t y;
        kpid_civil g = {0};
        kpid_civil_from_days(w / 86400, &y, &g.month, &g.day);
        g.year = (int)y;
        g.hour = (int)(w % 86400 / 3600);
        g.minute = (int)(w % 3600 / 60);
        if (kpid_cron_matches(c, &g))
            return true;
    }
    return false;
}

/* Whether the minute of wall time that begins at instant t fires by the rules in cron.h:
 * the minutes' rules, which the seconds of the 6-field form follow within the minute. */
static bool minute_fires(const kpid_cron *c, const kpid_tz *tz, int64_t t)
{
    kpid_civil l, prev;
    int64_t first;

    if (kpid_tz_to_local(tz, t, &l) < 0 || kpid_tz_to_local(tz, t - 1, &prev) < 0)
        abort();
    if (l.second == 0 && kpid_cron_matches(c, &l) &&
        kpid_tz_from_local(tz, &l, 0, &first, NULL) == 0 && first == t)
        return true;
    return match_between(c, wall_seconds(&prev) + 1, wall_seconds(&l));
}

/* Whether instant t is a firing: one of the schedule's seconds of a minute that fires. */
static bool fires_at(const kpid_cron *c, const kpid_tz *tz, int64_t t)
{
    int s = (int)((t % 60 + 60) % 60);

    return (c->seconds >> s & 1) && minute_fires(c, tz, t - s);
}

static void check(const kpid_cron *c, const kpid_tz *tz, int64_t after, int *never)
{
    int64_t t;
    int r = kpid_cron_next(c, tz, after, &t);

    if (r == -ENOENT) {
        if (*never == 0)
            abort(); /* fired from another instant before year 9000 */
        *never = 1;
        return;
    }
    if (r != 0 || t <= after || *never == 1)
        abort();
    *never = 0;
    if (!fires_at(c, tz, t))
        abort();
    if (t - after <= 3 * 3600)
        for (int64_t m = after - (after % 60 + 60) % 60; m < t; m += 60)
            for (int sec = 0; sec < 60; sec++)
                if ((c->seconds >> sec & 1) && m + sec > after && m + sec < t &&
                    minute_fires(c, tz, m))
                    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t instants[] = {
        1743292200,             /* 2025-03-29T23:50:00Z, before Berlin's spring change */
        1743296400,             /* 2025-03-30T01:00:00Z, at it */
        1761437400,             /* 2025-10-26T00:10:00Z, in Berlin's repeated hour, first pass */
        1761441000,             /* 2025-10-26T01:10:00Z, second pass */
        1759590000,             /* 2025-10-04T15:00:00Z, before Lord Howe's spring change */
        1743865200,             /* 2025-04-05T15:00:00Z, at Lord Howe's fall change */
        1709208000,             /* 2024-02-29T12:00:00Z */
        0,          4102444799, /* 2099-12-31T23:59:59Z */
    };
    char text[257], err[64];
    kpid_cron c;
    uint64_t h = 1469598103934665603u;

    if (size > 256)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (kpid_cron_parse(text, &c, err, 1) < 0) {
        if (err[0] != '\0' || kpid_cron_parse(text, &c, err, sizeof(err)) != -EINVAL ||
            strlen(err) == 0)
            abort();
        return 0;
    }
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211u;
    err[0] = '\0';
    int checked = kpid_cron_check(&c, err, sizeof(err));
    if (checked != 0 && (checked != -ENOENT || strlen(err) == 0))
        abort();
    for (int z = 0; z < N_ZONES; z++) {
        int never = -1;
        for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++)
            check(&c, zones[z], instants[i], &never);
        /* One more instant from the input, 2000-2100. */
        check(&c, zones[z], 946684800 + (int64_t)(h % 3155760000u), &never);
        if ((never == 1) != (checked == -ENOENT))
            abort(); /* the check and the search disagree */
    }
    return 0;
}
