#include "tally.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct hg_event *hg_journey_final(const struct hg_journey *j, unsigned i)
{
    uint8_t f = j->ev[i].final;

    return f == HG_FINAL_NONE || f == HG_FINAL_GONE ? NULL : &j->ev[f];
}

void hg_tally_journey(struct hg_tally *t, const struct hg_journey *j)
{
    for (unsigned i = 0; i < j->n_ev; i++) {
        if (j->ev[i].key_of != i)
            continue;
        const struct hg_event *e = hg_journey_final(j, i);
        if (!e)
            continue;
        t->count[e->act]++;
        t->total++;
    }
}

int hg_tally_write_summary(const struct hg_tally *t, const char *path)
{
    FILE *f = fopen(path, "w");
    int r = 0;

    if (!f)
        return -errno;
    /* The activity enum is in strcmp order of the names. */
    for (unsigned a = 0; a < HG_A__COUNT; a++)
        if (t->count[a])
            fprintf(f, "%s\t%llu\n", hg_activity_name[a], (unsigned long long)t->count[a]);
    fprintf(f, "TOTAL\t%llu\n", (unsigned long long)t->total);
    if (ferror(f))
        r = -EIO;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    return r;
}
