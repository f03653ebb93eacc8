#include "pathway.h"

#include "rng.h"

void hg_pathway_build(struct hg_world *w, const struct hg_spawn *sp)
{
    switch (sp->type) {
    case HG_J_ED: hg_path_ed(w, sp); break;
    case HG_J_INPATIENT: hg_path_inpatient(w, sp); break;
    case HG_J_LAB: hg_path_lab(w, sp); break;
    case HG_J_SURGERY: hg_path_surgery(w, sp); break;
    case HG_J_OUTPATIENT: hg_path_outpatient(w, sp); break;
    case HG_J_TRAINING: hg_path_training(w, sp); break;
    default: hg_path_headcount(w, sp); break;
    }
}

unsigned hg_age_group(uint32_t patient)
{
    /* 15% children, 25% 18-39, 30% 40-64, 20% 65-79, 10% 80+. */
    unsigned x = (unsigned)(hg_mix64(patient ^ 0xa6e5) % 100);

    return x < 15 ? 0 : x < 40 ? 1 : x < 70 ? 2 : x < 90 ? 3 : 4;
}

int64_t hg_satisfaction_score(struct hg_rng *r)
{
    static const double w[11] = {2, 1, 1, 2, 3, 6, 8, 14, 22, 20, 21};

    return hg_rng_pick(r, w, 11);
}

void hg_spawn_journey(struct hg_world *w, enum hg_jtype type, int64_t time, uint32_t subject,
                      unsigned cls, unsigned dept, unsigned ward)
{
    struct hg_spawn sp = {
        .time = time,
        .subject = subject,
        .type = (uint8_t)type,
        .cls = (uint8_t)cls,
        .dept = (uint8_t)dept,
        .ward = (uint8_t)ward,
    };

    hg_world_spawn(w, &sp);
}
