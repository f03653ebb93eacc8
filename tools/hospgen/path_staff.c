/* Learning and growth: staff training sessions and the monthly headcount. */
#include "pathway.h"
#include "time/civil.h"
#include "timefmt.h"

#define STAFF 1400 /* staff ids are staff-0001 .. staff-1400 */

static const int32_t base_headcount[HG_DEPT__COUNT] = {220, 180, 120, 110, 95,
                                                       90,  85,  100, 140, 130};

/*
 * Training session (case T…): one TRAINING_HOURS event per attendee (subject = staff
 * id), signed off shortly after the end, value = hours attended.
 */
void hg_path_training(struct hg_world *w, const struct hg_spawn *sp)
{
    static const double course_w[8] = {20, 8, 20, 15, 15, 10, 8, 4};
    static const int64_t course_hours10[8] = {40, 80, 10, 15, 10, 20, 30, 20};
    struct hg_rng *r = &w->rng;
    struct hg_builder *b = &w->b;
    unsigned course = hg_rng_pick(r, course_w, 8);
    unsigned n = (unsigned)hg_rng_range(r, 3, 15);
    int64_t end = sp->time + course_hours10[course] * HG_HOUR / 10;
    uint32_t staff[15];
    int64_t t[15];

    for (unsigned k = 0; k < n; k++) {
        unsigned m;
        do {
            staff[k] = 1 + (uint32_t)hg_rng_below(r, STAFF);
            for (m = 0; m < k && staff[m] != staff[k]; m++)
                ;
        } while (m < k);
        t[k] = end + hg_rng_range(r, 0, 30 * HG_MIN);
    }
    for (unsigned k = 1; k < n; k++) /* sign-off order */
        for (unsigned m = k; m > 0 && t[m - 1] > t[m]; m--) {
            int64_t x = t[m];
            uint32_t s = staff[m];
            t[m] = t[m - 1];
            staff[m] = staff[m - 1];
            t[m - 1] = x;
            staff[m - 1] = s;
        }

    hg_builder_start(b, HG_J_TRAINING, hg_world_case(w, HG_J_TRAINING));
    for (unsigned k = 0; k < n; k++) {
        struct hg_event *e = hg_builder_add(b, HG_A_TRAINING_HOURS, t[k], staff[k]);
        int64_t h = course_hours10[course];
        if (h >= 20 && hg_rng_chance(r, 0.1)) /* left early */
            h = h / 2;
        hg_event_value(e, h, 1);
        hg_event_attr(e, HG_K_COURSE, hg_dom(HG_D_COURSE, course));
        hg_event_attr(e, HG_K_ROLE, hg_dom(HG_D_ROLE, (unsigned)(hg_mix64(staff[k]) % 4)));
    }
}

/*
 * Monthly headcount (case H<yyyymm>): one STAFF_HEADCOUNT per department (subject
 * dept-NN) at local midnight of the first of the month; headcounts drift slowly.
 */
void hg_path_headcount(struct hg_world *w, const struct hg_spawn *sp)
{
    struct hg_rng *r = &w->rng;
    struct hg_builder *b = &w->b;
    int64_t y;
    int m, d;

    kpid_civil_from_days(hg_day_start(hg_world_local(w, sp->time)) / HG_DAY, &y, &m, &d);
    hg_builder_start(b, HG_J_HEADCOUNT, (uint64_t)y * 100 + (uint64_t)m);
    for (unsigned k = 0; k < HG_DEPT__COUNT; k++) {
        if (w->headcount[k] == 0)
            w->headcount[k] = base_headcount[k];
        else
            w->headcount[k] += (int32_t)hg_rng_range(r, -4, 5);
        if (w->headcount[k] < 10)
            w->headcount[k] = 10;
        struct hg_event *e = hg_builder_add(b, HG_A_STAFF_HEADCOUNT, sp->time, k);
        hg_event_value(e, w->headcount[k], 0);
        hg_event_attr(e, HG_K_DEPARTMENT, hg_dom(HG_D_DEPARTMENT, k));
    }
}
