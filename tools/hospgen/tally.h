/*
 * Accumulators over the final events, fed one finished journey at a time: today the
 * count per activity behind summary.tsv. This is where KPI ground truth computed by the
 * generator belongs: hg_tally_journey sees every journey once, with the final state
 * of exactly the events that were written.
 */
#ifndef HG_TALLY_H
#define HG_TALLY_H

#include <stdint.h>

#include "journey.h"
#include "vocab.h"

struct ht_store;

struct hg_tally {
    uint64_t count[HG_A__COUNT];
    uint64_t total;
    struct ht_store *truth; /* borrowed; NULL: no KPI ground truth (--truth) */
};

/* Returns the final content of original i of j, or NULL if unwritten or retracted. */
const struct hg_event *hg_journey_final(const struct hg_journey *j, unsigned i);

/* Adds the final events of finished journey j (also to t->truth when set; its err
 * records a failure). */
void hg_tally_journey(struct hg_tally *t, const struct hg_journey *j);
/*
 * Writes path: "ACTIVITY<TAB>count" for each activity with final events, sorted by
 * activity, then "TOTAL<TAB>n". Returns 0 or a negative errno.
 */
int hg_tally_write_summary(const struct hg_tally *t, const char *path);

#endif
