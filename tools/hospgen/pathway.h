/*
 * Pathways: what happens to a patient (or a staff member) in one case, as a list of
 * events in time order written into the world's builder. Each pathway reads its start
 * time and parameters from a spawn and may queue follow-up journeys (an admission after
 * the ED, lab orders during a stay, a readmission).
 *
 * Rates and durations are those of a hospital of about 400 beds: about 110 ED visits,
 * 60 admissions, 420 outpatient appointments and 600 lab orders a day.
 */
#ifndef HG_PATHWAY_H
#define HG_PATHWAY_H

#include <stdint.h>

#include "world.h"

/* Fills w->b with the journey that sp starts (dispatching on sp->type). */
void hg_pathway_build(struct hg_world *w, const struct hg_spawn *sp);

void hg_path_ed(struct hg_world *w, const struct hg_spawn *sp);
void hg_path_inpatient(struct hg_world *w, const struct hg_spawn *sp);
void hg_path_lab(struct hg_world *w, const struct hg_spawn *sp);
void hg_path_surgery(struct hg_world *w, const struct hg_spawn *sp);
void hg_path_outpatient(struct hg_world *w, const struct hg_spawn *sp);
void hg_path_training(struct hg_world *w, const struct hg_spawn *sp);
void hg_path_headcount(struct hg_world *w, const struct hg_spawn *sp);

/* Shared by the pathways. */

/* Returns the age group (value k of HG_D_AGE_GROUP) of a patient; fixed per patient. */
unsigned hg_age_group(uint32_t patient);
/* Returns a satisfaction score 0..10, skewed to the top as real surveys are. */
int64_t hg_satisfaction_score(struct hg_rng *r);
/* Queues a journey of a type; cls, dept, ward as in struct hg_spawn. */
void hg_spawn_journey(struct hg_world *w, enum hg_jtype type, int64_t time, uint32_t subject,
                      unsigned cls, unsigned dept, unsigned ward);

#endif
