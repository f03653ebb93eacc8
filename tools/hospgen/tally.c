#include "tally.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "truth_store.h"

const struct hg_event *hg_journey_final(const struct hg_journey *j, unsigned i)
{
    uint8_t f = j->ev[i].final;

    return f == HG_FINAL_NONE || f == HG_FINAL_GONE ? NULL : &j->ev[f];
}

/* A compact copy of final event e (original i of j) for the ground truth. */
static void truth_add(struct ht_store *s, const struct hg_journey *j, unsigned i,
                      const struct hg_event *e)
{
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    char case_id[32], subject[32];
    struct ht_input in = {.case_id = e->flags & HG_EF_NO_CASE ? NULL : case_id,
                          .key_case = case_id,
                          .subject_id = e->flags & HG_EF_NO_SUBJECT ? NULL : subject,
                          .activity = hg_activity_name[e->act],
                          .time = e->time,
                          .value = NAN,
                          .seq = j->ev[i].seq,
                          .n_attr = e->n_attr};

    case_id[hg_case_id(j, case_id)] = '\0';
    subject[hg_subject_id(j, e, subject)] = '\0';
    /* v / 10^dec of exact integers is the double nearest the decimal written, as a
     * JSON reader's strtod gives it. */
    if (e->value_dec != HG_NO_VALUE)
        in.value = (double)e->value / pow10[e->value_dec];
    for (unsigned a = 0; a < e->n_attr; a++) {
        in.key[a] = hg_attr_key_name[e->attr[a].key];
        in.val[a] = hg_str_at(e->attr[a].val)->raw;
    }
    (void)ht_store_add(s, &in); /* an error stays in s->err */
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
        if (t->truth)
            truth_add(t->truth, j, i, e);
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
