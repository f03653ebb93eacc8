/* Acute care: emergency department visits and inpatient stays. */
#include <stdbool.h>

#include "pathway.h"
#include "timefmt.h"

#define ED_WARD 21 /* "Қабылдау бөлімі", the receiving unit of the emergency department */
#define ED_STUB 1 /* spawn cls of an ED visit opened twice: the second visit, a stub */

enum { CLS_EMERGENCY, CLS_ELECTIVE, CLS_DAY_CASE };

/* Adds a satisfaction survey some days after 'after': answered with a score, or (7 %)
 * declined, without one. */
static void survey(struct hg_world *w, int64_t after, uint32_t subject, unsigned dept,
                   int64_t median)
{
    struct hg_rng *r = &w->rng;
    int64_t t = after + hg_rng_span(r, median, 0.6, 2 * HG_HOUR, 30 * HG_DAY);
    struct hg_event *e = hg_builder_add(&w->b, HG_A_SATISFACTION_SURVEY, t, subject);
    unsigned declined = hg_rng_chance(r, 0.07);

    if (!declined)
        hg_event_value(e, hg_satisfaction_score(r), 0);
    hg_event_attr(e, HG_K_DEPARTMENT, hg_dom(HG_D_DEPARTMENT, dept));
    hg_event_attr(e, HG_K_RESPONSE, hg_dom(HG_D_RESPONSE, declined));
}

/* t, or the next whole second after it: a time that every time form writes exactly, for
 * events meant to tie. */
static int64_t whole_second(int64_t t)
{
    return t + (HG_SEC - t % HG_SEC) % HG_SEC;
}

/* How an ED visit is registered (shares of visits). */
enum ed_registration {
    REG_ONCE,          /* one ED_ARRIVAL */
    REG_TWICE,         /* registered again minutes later, the mode perhaps changed */
    REG_TIE,           /* registered twice at the same instant, with another mode */
    REG_CASELESS,      /* first registered before the visit number existed, then again */
    REG_ONLY_CASELESS, /* only registered without the visit number */
    REG_TWO_VISITS,    /* a second visit opened at the same instant, never continued */
};

static enum ed_registration pick_registration(struct hg_rng *r)
{
    static const double w[6] = {94.3, 2.5, 1.0, 1.0, 0.5, 0.7};

    return (enum ed_registration)hg_rng_pick(r, w, 6);
}

/*
 * ED visit: arrival, triage, seen by a physician (or left without being seen),
 * departure; some are admitted (an inpatient journey starting at departure), many get
 * a lab order, a few answer a survey.
 */
void hg_path_ed(struct hg_world *w, const struct hg_spawn *sp)
{
    static const double level_w[5] = {1.5, 12, 38, 36, 12.5};
    static const double mode_w[3] = {25, 65, 10};
    static const int64_t seen_median[5] = {2 * HG_MIN, 10 * HG_MIN, 30 * HG_MIN, 50 * HG_MIN,
                                           60 * HG_MIN};
    static const double p_lwbs[5] = {0, 0, 0.02, 0.05, 0.07};
    static const double p_admit[5] = {0.75, 0.5, 0.25, 0.08, 0.02};
    struct hg_rng *r = &w->rng;
    struct hg_builder *b = &w->b;
    uint32_t pat = sp->subject ? sp->subject : hg_world_patient(w);
    unsigned age = hg_age_group(pat);
    int64_t t = sp->time;
    struct hg_event *e;

    hg_builder_start(b, HG_J_ED, hg_world_case(w, HG_J_ED));
    if (sp->cls == ED_STUB) {
        /* The second visit of a patient opened twice: its registration only, at the
         * instant of the first (sp->dept carries the mode). */
        e = hg_builder_add(b, HG_A_ED_ARRIVAL, t, pat);
        hg_event_attr(e, HG_K_ARRIVAL_MODE, hg_dom(HG_D_ARRIVAL_MODE, sp->dept));
        hg_event_attr(e, HG_K_AGE_GROUP, hg_dom(HG_D_AGE_GROUP, age));
        return;
    }
    unsigned level = hg_rng_pick(r, level_w, 5);
    enum ed_registration reg = pick_registration(r);
    unsigned mode = hg_rng_pick(r, mode_w, 3);
    if (reg == REG_TIE || reg == REG_TWO_VISITS)
        t = whole_second(t);
    e = hg_builder_add(b, HG_A_ED_ARRIVAL, t, pat);
    hg_event_attr(e, HG_K_ARRIVAL_MODE, hg_dom(HG_D_ARRIVAL_MODE, mode));
    hg_event_attr(e, HG_K_AGE_GROUP, hg_dom(HG_D_AGE_GROUP, age));
    if (reg == REG_CASELESS || reg == REG_ONLY_CASELESS)
        e->flags |= HG_EF_NO_CASE;
    if (reg == REG_TWO_VISITS)
        hg_spawn_journey(w, HG_J_ED, t, pat, ED_STUB, mode, HG_ANY);

    int64_t t_triage = t + hg_rng_span(r, 8 * HG_MIN, 0.6, HG_MIN, 90 * HG_MIN);
    if (reg == REG_TWICE || reg == REG_TIE || reg == REG_CASELESS) {
        /* The registration again: later (before triage) or at the same instant; the
         * same mode, or (twice, and at a tie always) another one. */
        int64_t again = reg == REG_TIE ? t : hg_rng_range(r, t, t_triage);
        unsigned other = (mode + 1 + (unsigned)hg_rng_below(r, 2)) % 3;
        unsigned mode2 =
            reg == REG_TIE || (reg == REG_TWICE && hg_rng_chance(r, 0.3)) ? other : mode;
        e = hg_builder_add(b, HG_A_ED_ARRIVAL, again, pat);
        hg_event_attr(e, HG_K_ARRIVAL_MODE, hg_dom(HG_D_ARRIVAL_MODE, mode2));
        hg_event_attr(e, HG_K_AGE_GROUP, hg_dom(HG_D_AGE_GROUP, age));
    }
    t = t_triage;
    e = hg_builder_add(b, HG_A_TRIAGE, t, pat);
    hg_event_attr(e, HG_K_TRIAGE_LEVEL, hg_dom(HG_D_TRIAGE_LEVEL, level));

    if (hg_rng_chance(r, p_lwbs[level])) {
        t += hg_rng_span(r, 2 * HG_HOUR, 0.5, 20 * HG_MIN, 10 * HG_HOUR);
        hg_builder_add(b, HG_A_ED_LEFT_WITHOUT_BEING_SEEN, t, pat);
        e = hg_builder_add(b, HG_A_ED_DEPARTURE, t + hg_rng_range(r, 0, 5 * HG_MIN), pat);
        hg_event_attr(e, HG_K_DISPOSITION, hg_dom(HG_D_DISPOSITION, 5));
        return;
    }
    t += hg_rng_span(r, seen_median[level], 0.7, 30 * HG_SEC, 8 * HG_HOUR);
    hg_builder_add(b, HG_A_PHYSICIAN_SEEN, t, pat);

    double pa = p_admit[level] * (age >= 3 ? 1.5 : 1.0);
    bool admit = hg_rng_chance(r, pa > 0.95 ? 0.95 : pa);
    if (hg_rng_chance(r, level <= 2 ? 0.55 : 0.2)) {
        /* One draw per statement: argument order is unspecified, the output must not be. */
        int64_t t_lab = t + hg_rng_range(r, 2 * HG_MIN, 30 * HG_MIN);
        unsigned stat = hg_rng_chance(r, 0.8);
        hg_spawn_journey(w, HG_J_LAB, t_lab, pat, stat, HG_DEPT_EMERGENCY, ED_WARD);
    }

    t += hg_rng_span(r, admit ? 4 * HG_HOUR : 150 * HG_MIN, 0.6, 10 * HG_MIN, 24 * HG_HOUR);
    e = hg_builder_add(b, HG_A_ED_DEPARTURE, t, pat);
    hg_event_attr(e, HG_K_DISPOSITION, hg_dom(HG_D_DISPOSITION, admit ? 4 : 0));
    if (admit) {
        unsigned dept = level == 0 && hg_rng_chance(r, 0.4) ? HG_DEPT_ICU : HG_ANY;
        hg_spawn_journey(w, HG_J_INPATIENT, t + hg_rng_range(r, 0, 15 * HG_MIN), pat, CLS_EMERGENCY,
                         dept, HG_ANY);
    } else if (hg_rng_chance(r, 0.06)) {
        survey(w, t, pat, HG_DEPT_EMERGENCY, 3 * HG_DAY);
    }
}

/* Department of a stay, by class and age group. */
static unsigned pick_department(struct hg_rng *r, unsigned cls, unsigned age)
{
    /* internal, surgery, cardiology, orthopedics, pediatrics, obstetrics, neurology,
       oncology, ICU, emergency */
    static const double emergency_w[HG_DEPT__COUNT] = {30, 14, 14, 8, 0, 6, 9, 4, 5, 10};
    static const double elective_w[HG_DEPT__COUNT] = {20, 25, 12, 15, 0, 10, 5, 13, 0, 0};
    static const double child_w[HG_DEPT__COUNT] = {0, 10, 0, 8, 80, 0, 0, 0, 2, 0};
    double w[HG_DEPT__COUNT];

    for (unsigned d = 0; d < HG_DEPT__COUNT; d++) {
        w[d] = age == 0 ? child_w[d] : cls == CLS_EMERGENCY ? emergency_w[d] : elective_w[d];
        if (d == HG_DEPT_OBSTETRICS && age >= 3)
            w[d] = 0;
    }
    return hg_rng_pick(r, w, HG_DEPT__COUNT);
}

/* Returns a random ward (value k of HG_D_WARD) of department dept. */
static unsigned pick_ward(struct hg_rng *r, unsigned dept)
{
    return hg_department_ward(dept, (unsigned)hg_rng_below(r, hg_department_nwards(dept)));
}

/* A ward other than 'from': mostly in the same department, else anywhere. */
static unsigned transfer_target(struct hg_rng *r, unsigned from)
{
    unsigned dept = hg_ward_department(from);
    unsigned n = hg_department_nwards(dept);
    unsigned to;

    if (n > 1 && hg_rng_chance(r, 0.65)) {
        do
            to = hg_department_ward(dept, (unsigned)hg_rng_below(r, n));
        while (to == from);
        return to;
    }
    do
        to = (unsigned)hg_rng_below(r, hg_dom_size(HG_D_WARD));
    while (to == from);
    return to;
}

/* Stay plan: times are UTC microseconds, kept sorted. */
struct stay {
    int64_t t0, end;
    unsigned n_tr;
    int64_t tr_time[3];
    uint8_t tr_ward[4]; /* ward before the first transfer, after each one */
    int64_t hai_time;   /* 0 = none */
};

/* Returns the ward the patient of stay s is in at time t. */
static unsigned ward_at(const struct stay *s, int64_t t)
{
    unsigned k = 0;

    while (k < s->n_tr && s->tr_time[k] <= t)
        k++;
    return s->tr_ward[k];
}

/* Length of stay, moved to a daytime discharge when the stay spans days. */
static int64_t stay_end(struct hg_world *w, int64_t t0, unsigned cls, unsigned dept)
{
    struct hg_rng *r = &w->rng;
    int64_t los;

    if (cls == CLS_DAY_CASE)
        return t0 + hg_rng_range(r, 3 * HG_HOUR, 10 * HG_HOUR);
    los = hg_rng_span(r, cls == CLS_EMERGENCY ? 108 * HG_HOUR : 72 * HG_HOUR,
                      cls == CLS_EMERGENCY ? 0.8 : 0.7, 4 * HG_HOUR, 120 * HG_DAY);
    if (dept == HG_DEPT_ICU)
        los = los * 14 / 10;
    int64_t end = t0 + los;
    if (los > HG_DAY) {
        int64_t day = hg_day_start(hg_world_local(w, end));
        int64_t d = hg_world_utc(w, day + hg_rng_range(r, 10 * HG_HOUR, 17 * HG_HOUR));
        if (d > t0 + 4 * HG_HOUR)
            end = d;
    }
    return end;
}

/* Case cost in cents: a daily rate by department, procedures, complications. */
static int64_t stay_cost(struct hg_rng *r, const struct stay *s, unsigned cls, unsigned dept)
{
    static const int64_t day_rate[HG_DEPT__COUNT] = {45000, 65000, 70000, 60000,  50000,
                                                     48000, 55000, 75000, 250000, 40000};
    double days = (double)(s->end - s->t0) / (double)HG_DAY;
    double cost;

    if (cls == CLS_DAY_CASE)
        return hg_rng_range(r, 80000, 300000);
    cost = (days < 1 ? 1 : days) * (double)day_rate[dept] * (0.85 + 0.35 * hg_rng_unit(r));
    if (cls == CLS_ELECTIVE && dept != HG_DEPT_INTERNAL)
        cost += (double)hg_rng_range(r, 300000, 1500000);
    if (s->hai_time)
        cost += (double)hg_rng_range(r, 500000, 2000000);
    return (int64_t)cost;
}

/*
 * Inpatient stay: admission, transfers, maybe a hospital-acquired infection, discharge
 * or death, the case cost, maybe a survey; lab orders during the stay and a possible
 * readmission are queued as their own journeys. A few admissions are cancelled
 * (retracted) and a few discharges are cancelled and entered again later.
 */
void hg_path_inpatient(struct hg_world *w, const struct hg_spawn *sp)
{
    static const double p_death_age[5] = {0.001, 0.003, 0.012, 0.03, 0.07};
    static const double p_readmit_age[5] = {0.03, 0.05, 0.07, 0.11, 0.14};
    static const double n_tr_w[4] = {62, 27, 8, 3};
    static const double disp_w[4] = {80, 8, 7, 5};
    struct hg_rng *r = &w->rng;
    struct hg_builder *b = &w->b;
    uint32_t pat = sp->subject ? sp->subject : hg_world_patient(w);
    unsigned age = hg_age_group(pat);
    unsigned cls = sp->cls != HG_ANY ? sp->cls : CLS_ELECTIVE;
    unsigned dept = sp->dept != HG_ANY ? sp->dept : pick_department(r, cls, age);
    struct stay s = {.t0 = sp->time};
    struct hg_event *e;

    s.tr_ward[0] = (uint8_t)(sp->ward != HG_ANY ? sp->ward : pick_ward(r, dept));
    hg_builder_start(b, HG_J_INPATIENT, hg_world_case(w, HG_J_INPATIENT));
    e = hg_builder_add(b, HG_A_ADMISSION, s.t0, pat);
    hg_event_attr(e, HG_K_WARD, hg_dom(HG_D_WARD, s.tr_ward[0]));
    hg_event_attr(e, HG_K_DEPARTMENT, hg_dom(HG_D_DEPARTMENT, dept));
    hg_event_attr(e, HG_K_PATIENT_CLASS, hg_dom(HG_D_PATIENT_CLASS, cls));
    hg_event_attr(e, HG_K_AGE_GROUP, hg_dom(HG_D_AGE_GROUP, age));
    if (hg_rng_chance(r, 0.008)) { /* admitted in error: HL7 A11 */
        hg_builder_plan(b, e, HG_P_RETRACT, 0);
        return;
    }
    if (hg_rng_chance(r, 0.004)) /* registered before the case had its number */
        e->flags |= HG_EF_NO_CASE;
    if (hg_rng_chance(r, 0.01)) {
        /* An administrative admission, discharged at the instant it opened (sent on to
         * another hospital): a stay of zero length, never open. */
        e->time = whole_second(e->time);
        hg_event_attr(e, HG_K_ADMISSION_TYPE, hg_dom(HG_D_ADMISSION_TYPE, 0));
        e = hg_builder_add(b, HG_A_DISCHARGE, e->time, pat);
        hg_event_attr(e, HG_K_DISPOSITION, hg_dom(HG_D_DISPOSITION, 3));
        hg_event_attr(e, HG_K_WARD, hg_dom(HG_D_WARD, s.tr_ward[0]));
        hg_event_attr(e, HG_K_DEPARTMENT, hg_dom(HG_D_DEPARTMENT, dept));
        return;
    }

    s.end = stay_end(w, s.t0, cls, dept);
    int64_t los = s.end - s.t0;
    if (cls != CLS_DAY_CASE && los > 2 * HG_HOUR) {
        s.n_tr = hg_rng_pick(r, n_tr_w, 4);
        for (unsigned k = 0; k < s.n_tr; k++)
            s.tr_time[k] = hg_rng_range(r, s.t0 + 30 * HG_MIN, s.end - 30 * HG_MIN);
        for (unsigned k = 1; k < s.n_tr; k++) /* sort the (at most three) times */
            for (unsigned m = k; m > 0 && s.tr_time[m - 1] > s.tr_time[m]; m--) {
                int64_t x = s.tr_time[m];
                s.tr_time[m] = s.tr_time[m - 1];
                s.tr_time[m - 1] = x;
            }
        for (unsigned k = 0; k < s.n_tr; k++)
            s.tr_ward[k + 1] = (uint8_t)transfer_target(r, s.tr_ward[k]);
    }
    if (los >= 3 * HG_DAY && hg_rng_chance(r, dept == HG_DEPT_ICU ? 0.12 : 0.035))
        s.hai_time = hg_rng_range(r, s.t0 + 48 * HG_HOUR, s.end - HG_HOUR);

    for (unsigned k = 0; k <= s.n_tr; k++) {
        if (s.hai_time && (k == s.n_tr || s.hai_time < s.tr_time[k]) &&
            (k == 0 || s.hai_time >= s.tr_time[k - 1])) {
            e = hg_builder_add(b, HG_A_HOSPITAL_ACQUIRED_INFECTION, s.hai_time, pat);
            hg_event_attr(e, HG_K_SITE,
                          hg_dom(HG_D_SITE, (unsigned)hg_rng_below(r, hg_dom_size(HG_D_SITE))));
            hg_event_attr(e, HG_K_WARD, hg_dom(HG_D_WARD, s.tr_ward[k]));
        }
        if (k == s.n_tr)
            break;
        e = hg_builder_add(b, HG_A_TRANSFER, s.tr_time[k], pat);
        hg_event_attr(e, HG_K_FROM_WARD, hg_dom(HG_D_WARD, s.tr_ward[k]));
        hg_event_attr(e, HG_K_WARD, hg_dom(HG_D_WARD, s.tr_ward[k + 1]));
    }

    unsigned final_ward = s.tr_ward[s.n_tr];
    unsigned final_dept = hg_ward_department(final_ward);
    double p_death = cls == CLS_DAY_CASE ? 0
                                         : p_death_age[age] * (cls == CLS_EMERGENCY ? 1.6 : 1.0) +
                                               (final_dept == HG_DEPT_ICU ? 0.1 : 0);
    bool died = hg_rng_chance(r, p_death);
    if (died) {
        /* The death, and the discharge that closes the stay (HL7 A03, disposition
         * "died"): a census closes on DISCHARGE. */
        e = hg_builder_add(b, HG_A_DEATH, s.end, pat);
        hg_event_attr(e, HG_K_WARD, hg_dom(HG_D_WARD, final_ward));
        hg_event_attr(e, HG_K_DEPARTMENT, hg_dom(HG_D_DEPARTMENT, final_dept));
        e = hg_builder_add(b, HG_A_DISCHARGE, s.end, pat);
        hg_event_attr(e, HG_K_DISPOSITION, hg_dom(HG_D_DISPOSITION, 6));
    } else {
        int64_t last = hg_builder_last_time(b);
        if (s.end - last > 4 * HG_HOUR && hg_rng_chance(r, 0.01)) {
            /* Discharged too early in the system, cancelled (A13), discharged later. */
            int64_t early = (s.end - last) / 2 < 12 * HG_HOUR ? (s.end - last) / 2 : 12 * HG_HOUR;
            e = hg_builder_add(b, HG_A_DISCHARGE, s.end - hg_rng_range(r, 2 * HG_HOUR, early), pat);
            hg_builder_plan(b, e, HG_P_REPLACE, s.end);
        } else {
            e = hg_builder_add(b, HG_A_DISCHARGE, s.end, pat);
        }
        hg_event_attr(e, HG_K_DISPOSITION, hg_dom(HG_D_DISPOSITION, hg_rng_pick(r, disp_w, 4)));
    }
    hg_event_attr(e, HG_K_WARD, hg_dom(HG_D_WARD, final_ward));
    hg_event_attr(e, HG_K_DEPARTMENT, hg_dom(HG_D_DEPARTMENT, final_dept));
    if (hg_rng_chance(r, 0.005)) /* discharged under no patient: a registration error */
        e->flags |= HG_EF_NO_SUBJECT;

    e = hg_builder_add(b, HG_A_COST, s.end + hg_rng_range(r, 5 * HG_MIN, 2 * HG_HOUR), pat);
    hg_event_value(e, stay_cost(r, &s, cls, dept), 2);
    hg_event_attr(e, HG_K_DEPARTMENT, hg_dom(HG_D_DEPARTMENT, dept));
    hg_event_attr(e, HG_K_PATIENT_CLASS, hg_dom(HG_D_PATIENT_CLASS, cls));
    if (!died && hg_rng_chance(r, 0.22))
        survey(w, hg_builder_last_time(b), pat, final_dept, 5 * HG_DAY);

    /* Lab orders during the stay, about 1.2 a day. */
    double days = (double)los / (double)HG_DAY;
    unsigned n_lab = hg_rng_poisson(r, 0.3 + 1.2 * days, 20);
    for (unsigned k = 0; k < n_lab; k++) {
        int64_t t =
            hg_rng_range(r, s.t0 + 10 * HG_MIN,
                         s.end > s.t0 + 20 * HG_MIN ? s.end - 10 * HG_MIN : s.t0 + 10 * HG_MIN);
        unsigned ward = ward_at(&s, t);
        hg_spawn_journey(w, HG_J_LAB, t, pat, hg_rng_chance(r, 0.2), hg_ward_department(ward),
                         ward);
    }
    if (!died && hg_rng_chance(r, p_readmit_age[age] + (cls == CLS_EMERGENCY ? 0.02 : 0))) {
        int64_t gap = hg_rng_chance(r, 0.8) ? hg_rng_range(r, HG_DAY, 30 * HG_DAY)
                                            : hg_rng_range(r, 30 * HG_DAY, 75 * HG_DAY);
        hg_spawn_journey(w, HG_J_INPATIENT, s.end + gap, pat, CLS_EMERGENCY, HG_ANY, HG_ANY);
    }
}
