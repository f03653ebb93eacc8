/* Planned care: lab orders, elective surgery and outpatient appointments. */
#include <math.h>

#include "pathway.h"
#include "timefmt.h"

enum { CLS_ELECTIVE = 1, CLS_DAY_CASE = 2 };

/* Lab tests: unit, distribution and decimals of the result. */
static const struct {
    uint8_t unit;    /* value k of HG_D_UNIT */
    uint8_t lognorm; /* 1: log-normal(centre, spread), 0: normal(centre, spread) */
    uint8_t dec;
    double centre, spread, lo, hi;
} lab_tests[8] = {
    {0, 1, 1, 6.0, 1.3, 0.1, 400},  /* CRP mg/L */
    {1, 0, 1, 4.2, 0.45, 2.0, 7.5}, /* K mmol/L */
    {2, 0, 0, 132, 18, 50, 200},    /* HB g/L */
    {1, 0, 0, 139, 3.5, 115, 160},  /* NA mmol/L */
    {1, 1, 1, 6.0, 0.3, 1.5, 35},   /* GLU mmol/L */
    {3, 1, 0, 85, 0.4, 20, 1500},   /* CREA µmol/L */
    {4, 1, 1, 7.5, 0.4, 0.2, 150},  /* WBC 10^9/L */
    {5, 1, 0, 6, 1.5, 1, 50000},    /* TROP ng/L */
};

/* Draws a result of test k as fixed point with the test's decimals. */
static int64_t lab_value(struct hg_rng *r, unsigned k)
{
    double v = lab_tests[k].lognorm ? hg_rng_lognormal(r, lab_tests[k].centre, lab_tests[k].spread)
                                    : hg_rng_normal(r, lab_tests[k].centre, lab_tests[k].spread);

    if (v < lab_tests[k].lo)
        v = lab_tests[k].lo;
    if (v > lab_tests[k].hi)
        v = lab_tests[k].hi;
    return (int64_t)llround(v * (lab_tests[k].dec ? 10.0 : 1.0));
}

/*
 * Lab order: the order and, minutes to hours later, the result with its value. A few
 * orders are never resulted. sp->ward is the ordering ward (HG_ANY: outpatient), sp->cls
 * the priority (HG_ANY: routine for outpatients, else mostly routine).
 */
void hg_path_lab(struct hg_world *w, const struct hg_spawn *sp)
{
    static const double test_w[8] = {18, 20, 22, 12, 10, 10, 6, 2};
    static const double ed_test_w[8] = {18, 14, 16, 10, 8, 8, 10, 16};
    struct hg_rng *r = &w->rng;
    struct hg_builder *b = &w->b;
    uint32_t pat = sp->subject ? sp->subject : hg_world_patient(w);
    unsigned prio = sp->cls != HG_ANY ? sp->cls : hg_rng_chance(r, 0.05);
    unsigned test = hg_rng_pick(r, sp->dept == HG_DEPT_EMERGENCY ? ed_test_w : test_w, 8);
    int64_t t = sp->time;
    struct hg_event *e;

    hg_builder_start(b, HG_J_LAB, hg_world_case(w, HG_J_LAB));
    e = hg_builder_add(b, HG_A_LAB_ORDER, t, pat);
    hg_event_attr(e, HG_K_TEST, hg_dom(HG_D_TEST, test));
    hg_event_attr(e, HG_K_PRIORITY, hg_dom(HG_D_PRIORITY, prio));
    if (sp->ward != HG_ANY)
        hg_event_attr(e, HG_K_WARD, hg_dom(HG_D_WARD, sp->ward));
    if (hg_rng_chance(r, 0.02))
        return;
    t += prio ? hg_rng_span(r, 45 * HG_MIN, 0.5, 10 * HG_MIN, 6 * HG_HOUR)
              : hg_rng_span(r, 3 * HG_HOUR, 0.6, 20 * HG_MIN, 3 * HG_DAY);
    e = hg_builder_add(b, HG_A_LAB_RESULT, t, pat);
    hg_event_value(e, lab_value(r, test), lab_tests[test].dec);
    hg_event_attr(e, HG_K_TEST, hg_dom(HG_D_TEST, test));
    hg_event_attr(e, HG_K_UNIT, hg_dom(HG_D_UNIT, lab_tests[test].unit));
}

/* Department that admits after surgery of a specialty (values k of HG_D_SPECIALTY 0..7). */
static const uint8_t specialty_dept[8] = {
    HG_DEPT_SURGERY,    HG_DEPT_ORTHOPEDICS, HG_DEPT_CARDIOLOGY, HG_DEPT_SURGERY,
    HG_DEPT_OBSTETRICS, HG_DEPT_SURGERY,     HG_DEPT_NEUROLOGY,  HG_DEPT_SURGERY,
};

/*
 * Elective surgery: scheduled days to months ahead, then cancelled (on the day or
 * before) or performed; most performed operations come with an admission that starts
 * the same morning, some with a day-case admission.
 */
void hg_path_surgery(struct hg_world *w, const struct hg_spawn *sp)
{
    static const double spec_w[8] = {30, 22, 6, 10, 10, 8, 4, 10};
    static const double day_reason_w[5] = {30, 20, 0, 35, 15};
    static const double early_reason_w[5] = {40, 10, 50, 0, 0};
    struct hg_rng *r = &w->rng;
    struct hg_builder *b = &w->b;
    uint32_t pat = sp->subject ? sp->subject : hg_world_patient(w);
    unsigned spec = hg_rng_pick(r, spec_w, 8);
    int64_t t0 = sp->time;
    int64_t ts = hg_world_workday_time(
        w, t0 + hg_rng_span(r, 14 * HG_DAY, 0.8, HG_DAY, 120 * HG_DAY), 8, 16);
    struct hg_event *e;

    hg_builder_start(b, HG_J_SURGERY, hg_world_case(w, HG_J_SURGERY));
    e = hg_builder_add(b, HG_A_SURGERY_SCHEDULED, t0, pat);
    hg_event_attr(e, HG_K_SPECIALTY, hg_dom(HG_D_SPECIALTY, spec));
    hg_event_attr(e, HG_K_AGE_GROUP, hg_dom(HG_D_AGE_GROUP, hg_age_group(pat)));

    if (hg_rng_chance(r, 0.09)) {
        bool on_the_day = hg_rng_chance(r, 0.6) || ts - t0 < 6 * HG_HOUR;
        int64_t tc = on_the_day ? ts - hg_rng_range(r, 30 * HG_MIN, 3 * HG_HOUR)
                                : hg_rng_range(r, t0 + HG_HOUR, ts - 3 * HG_HOUR);
        unsigned reason = hg_rng_pick(r, on_the_day ? day_reason_w : early_reason_w, 5);
        e = hg_builder_add(b, HG_A_SURGERY_CANCELLED, tc, pat);
        hg_event_attr(e, HG_K_SPECIALTY, hg_dom(HG_D_SPECIALTY, spec));
        hg_event_attr(e, HG_K_REASON, hg_dom(HG_D_REASON, reason));
        return;
    }
    e = hg_builder_add(b, HG_A_SURGERY_PERFORMED, ts, pat);
    hg_event_attr(e, HG_K_SPECIALTY, hg_dom(HG_D_SPECIALTY, spec));
    hg_event_attr(e, HG_K_THEATRE,
                  hg_dom(HG_D_THEATRE, (unsigned)hg_rng_below(r, hg_dom_size(HG_D_THEATRE))));
    double x = hg_rng_unit(r);
    if (x < 0.85)
        hg_spawn_journey(w, HG_J_INPATIENT, ts - hg_rng_range(r, HG_HOUR, 3 * HG_HOUR), pat,
                         x < 0.7 ? CLS_ELECTIVE : CLS_DAY_CASE, specialty_dept[spec], HG_ANY);
}

/*
 * Outpatient appointment: booked, then seen on a weekday slot days to months later;
 * some bookings are cancelled (retracted), some patients do not come. Seen patients
 * sometimes get a lab order or answer a survey.
 */
void hg_path_outpatient(struct hg_world *w, const struct hg_spawn *sp)
{
    static const double clinic_w[8] = {18, 10, 10, 12, 10, 22, 4, 6};
    struct hg_rng *r = &w->rng;
    struct hg_builder *b = &w->b;
    uint32_t pat = sp->subject ? sp->subject : hg_world_patient(w);
    unsigned spec = 8 + hg_rng_pick(r, clinic_w, 8); /* clinics follow the surgical list */
    int64_t t0 = sp->time;
    int64_t slot = hg_world_workday_time(
        w, t0 + hg_rng_span(r, 12 * HG_DAY, 0.9, HG_DAY, 120 * HG_DAY), 8, 17);
    struct hg_event *e;

    slot -= (hg_world_local(w, slot) % (15 * HG_MIN) + 15 * HG_MIN) % (15 * HG_MIN);
    hg_builder_start(b, HG_J_OUTPATIENT, hg_world_case(w, HG_J_OUTPATIENT));
    e = hg_builder_add(b, HG_A_APPOINTMENT_BOOKED, t0, pat);
    hg_event_attr(e, HG_K_SPECIALTY, hg_dom(HG_D_SPECIALTY, spec));
    hg_event_attr(e, HG_K_AGE_GROUP, hg_dom(HG_D_AGE_GROUP, hg_age_group(pat)));
    if (hg_rng_chance(r, 0.025)) {
        hg_builder_plan(b, e, HG_P_RETRACT, 0);
        return;
    }
    if (hg_rng_chance(r, 0.07)) /* did not attend */
        return;
    int64_t ts = slot + hg_rng_range(r, -5 * HG_MIN, 40 * HG_MIN);
    e = hg_builder_add(b, HG_A_APPOINTMENT_SEEN, ts, pat);
    hg_event_attr(e, HG_K_SPECIALTY, hg_dom(HG_D_SPECIALTY, spec));
    if (hg_rng_chance(r, 0.15))
        hg_spawn_journey(w, HG_J_LAB, ts + hg_rng_range(r, 5 * HG_MIN, 40 * HG_MIN), pat, 0, HG_ANY,
                         HG_ANY);
    if (hg_rng_chance(r, 0.12)) {
        e = hg_builder_add(b, HG_A_SATISFACTION_SURVEY,
                           ts + hg_rng_span(r, 2 * HG_DAY, 0.7, 2 * HG_HOUR, 14 * HG_DAY), pat);
        unsigned declined = hg_rng_chance(r, 0.07); /* no score */
        if (!declined)
            hg_event_value(e, hg_satisfaction_score(r), 0);
        hg_event_attr(e, HG_K_SPECIALTY, hg_dom(HG_D_SPECIALTY, spec));
        hg_event_attr(e, HG_K_RESPONSE, hg_dom(HG_D_RESPONSE, declined));
    }
}
