/*
 * Orders, results, charges and schedules:
 *
 *   LAB_ORDER            ORM^O01 or OMG^O19: ORC-1 NW new, XO update, CA cancel
 *   LAB_RESULT           ORU^R01, the value OBX among text OBX: OBX-11 F, C, D
 *   HOSPITAL_ACQUIRED_INFECTION, SATISFACTION_SURVEY, TRAINING_HOURS, STAFF_HEADCOUNT
 *                        ORU^R01 told apart by OBR-4.1: OBX-11 F, C, D
 *   COST                 DFT^P03: FT1-6 CG new, AJ update, CD reversal (retraction)
 *   SURGERY_SCHEDULED, APPOINTMENT_BOOKED   SIU^S12 new, S14 update, S15 cancel
 *   SURGERY_CANCELLED    SIU^S15 (theatre schedule) with the reason in SCH-6
 *   SURGERY_PERFORMED, APPOINTMENT_SEEN     SIU^S14 with SCH-25 "Complete"
 *
 * SIU messages have no EVN: their event time is MSH-7.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hl7_priv.h"
#include "timefmt.h"

static void unsupported(const struct hg_ctx *c)
{
    fprintf(stderr, "hospgen: --hl7 cannot express operation %d on %s\n", (int)c->op,
            hg_activity_name[c->e->act]);
    abort();
}

/* OBX-11 of an operation. */
static const char *status(const struct hg_ctx *c)
{
    return c->op == HG_OP_NEW ? "F" : c->op == HG_OP_UPDATE ? "C" : "D";
}

void hg_order(struct hg_ctx *c)
{
    const struct hg_event *e = c->e;
    const char *ward = hg_attr(e, HG_K_WARD), *prio = hg_attr(e, HG_K_PRIORITY);
    const char *test = hg_attr(e, HG_K_TEST);
    bool omg = hg_chance(c, 0.5);
    struct hg_dtm t = hg_etime(c);

    /* TQ1 (the priority) exists from 2.5 on. */
    hg_begin(c, "CPOE", omg ? "OMG" : "ORM", omg ? "O19" : "O01", omg ? "OMG_O19" : "ORM_O01", 3);
    hg_pid(c, false);
    hg_seg(c, 1, "PV1|1");
    hg_at(c, 2, ward ? "I" : "O");
    if (ward) {
        hg_at(c, 3, "%e", ward);
        hg_at(c, 3, "^^^CITYHOSP");
    }
    hg_seg(c, 0, "ORC");
    hg_at(c, 1, c->op == HG_OP_NEW ? "NW" : c->op == HG_OP_UPDATE ? "XO" : "CA");
    hg_at(c, 2, "%s", c->case_id);
    hg_at(c, 9, "%T", &t);
    hg_seg(c, 1, "TQ1|1");
    hg_at(c, 9, prio[0] == 's' ? "S" : "R");
    hg_at(c, 9, "^%e^HL70485", prio);
    hg_seg(c, 1, "OBR|1");
    hg_at(c, 2, "%s", c->case_id);
    hg_at(c, 4, "%e", test);
    hg_at(c, 4, "^%e^L", test);
    hg_finish(c);
}

/* LAB_RESULT: the value OBX between 0 to 2 text OBX. */
static void lab_result(struct hg_ctx *c)
{
    static const char *const comments[] = {"Specimen slightly haemolysed",
                                           "Result phoned to ward | read back",
                                           "Repeat requested & confirmed"};
    const struct hg_event *e = c->e;
    const char *test = hg_attr(e, HG_K_TEST), *unit = hg_attr(e, HG_K_UNIT);
    bool obx14 = hg_chance(c, 0.75);
    unsigned n_text = (unsigned)hg_rng_below(&c->h->rng, 3);
    unsigned at = (unsigned)hg_rng_below(&c->h->rng, n_text + 1);
    struct hg_dtm t = hg_etime(c);
    char v[32];

    hg_seg(c, 1, "PV1|1");
    hg_at(c, 2, "O");
    hg_seg(c, 0, "ORC");
    hg_at(c, 1, "RE");
    hg_at(c, 2, "%s", c->case_id);
    hg_seg(c, 1, "OBR|1");
    hg_at(c, 2, "%s", c->case_id);
    hg_at(c, 3, "F%s", c->case_id);
    hg_at(c, 4, "%e", test);
    hg_at(c, 4, "^%e^L", test);
    if (!obx14)
        hg_at(c, 22, "%T", &t);
    hg_at(c, 24, test[0] == 'H' || test[0] == 'W' ? "HM" : "CH");
    hg_at(c, 25, "%s", status(c));
    for (unsigned k = 0; k <= n_text; k++) {
        char seg[24];
        snprintf(seg, sizeof(seg), "OBX|%u", k + 1);
        hg_seg(c, 1, seg);
        if (k != at) {
            hg_at(c, 2, "TX|COMMENT^Lab comment^L|");
            c->field = 4;
            hg_at(c, 5, "%e", comments[(k + c->h->control) % 3]);
            hg_at(c, 11, "F");
            continue;
        }
        hg_at(c, 2, "NM");
        hg_at(c, 3, "%e", test);
        hg_at(c, 3, "^%e^L", test);
        hg_at(c, 5, "%s", hg_value_text(e, v, false));
        hg_at(c, 6, "%e", unit);
        hg_at(c, 6, "^%e^L", unit);
        hg_at(c, 11, "%s", status(c));
        if (obx14)
            hg_at(c, 14, "%T", &t);
    }
}

/* The OBR of a non-laboratory observation: OBR-2 placer (or none), OBR-4, OBR-7 time. */
static void obr(struct hg_ctx *c, const char *placer, const char *code, const char *text)
{
    struct hg_dtm t = hg_etime(c);

    hg_seg(c, 1, "OBR|1");
    if (placer)
        hg_at(c, 2, "%s", placer);
    hg_at(c, 3, "F%s", c->case_id);
    hg_at(c, 4, "%s", code);
    hg_at(c, 4, "^%e^L", text);
    hg_at(c, 7, "%T", &t);
}

/*
 * One OBX: set id n, type, code^text (raw), value (escaped; NULL: none; coded: written
 * value^value^L), unit (raw, NULL: none), OBX-11.
 */
static void obx(struct hg_ctx *c, unsigned n, const char *type, const char *code, const char *value,
                bool coded, const char *unit, const char *st)
{
    char seg[24];

    snprintf(seg, sizeof(seg), "OBX|%u", n);
    hg_seg(c, 1, seg);
    hg_at(c, 2, "%s", type);
    hg_at(c, 3, "%s", code);
    if (value)
        hg_at(c, 5, "%e", value);
    if (value && coded)
        hg_at(c, 5, "^%e^L", value);
    if (unit)
        hg_at(c, 6, "%s", unit);
    hg_at(c, 11, "%s", st);
}

void hg_oru(struct hg_ctx *c)
{
    const struct hg_event *e = c->e;
    unsigned act = e->act;
    const char *app = act == HG_A_LAB_RESULT                    ? "LIS"
                      : act == HG_A_HOSPITAL_ACQUIRED_INFECTION ? "ICNET"
                      : act == HG_A_SATISFACTION_SURVEY         ? "SURVEY"
                                                                : "HRIS";
    const char *dept = hg_attr(e, HG_K_DEPARTMENT);
    char v[32];

    hg_begin(c, app, "ORU", "R01", "ORU_R01", 0);
    hg_pid(c, false);
    if (act == HG_A_LAB_RESULT) {
        lab_result(c);
        hg_finish(c);
        return;
    }
    if (act != HG_A_TRAINING_HOURS) {
        hg_seg(c, 1, "PV1|1");
        hg_at(c, 2,
              c->j->type == HG_J_INPATIENT   ? "I"
              : c->j->type == HG_J_ED        ? "E"
              : c->j->type == HG_J_HEADCOUNT ? "N"
                                             : "O");
        if (hg_attr(e, HG_K_WARD)) {
            hg_at(c, 3, "%e", hg_attr(e, HG_K_WARD));
            hg_at(c, 3, "^^^CITYHOSP");
        }
        if (dept)
            hg_at(c, 10, "%e", dept);
        if (act != HG_A_STAFF_HEADCOUNT)
            hg_at(c, 19, "%s", c->case_id);
    }
    switch (act) {
    case HG_A_HOSPITAL_ACQUIRED_INFECTION: {
        obr(c, NULL, "HAI", "Hospital-acquired infection");
        obx(c, 1, hg_version_index(c) >= 5 ? "CWE" : "CE", "SITE^Infection site^L",
            hg_attr(e, HG_K_SITE), true, NULL, status(c));
        break;
    }
    case HG_A_SATISFACTION_SURVEY: {
        const char *spec = hg_attr(e, HG_K_SPECIALTY);
        bool scored = e->value_dec != HG_NO_VALUE;
        obr(c, NULL, "SURVEY", "Patient satisfaction survey");
        obx(c, 1, "ST", "RESPONSE^Survey response^L", hg_attr(e, HG_K_RESPONSE), false, NULL,
            status(c));
        obx(c, 2, "NM", "SCORE^Satisfaction score^L", scored ? hg_value_text(e, v, false) : NULL,
            false, NULL, scored || c->op == HG_OP_RETRACT ? status(c) : "X");
        if (spec)
            obx(c, 3, "ST", "CLINIC^Clinic^L", spec, false, NULL, status(c));
        break;
    }
    case HG_A_TRAINING_HOURS:
        obr(c, c->case_id, "TRAINING", hg_attr(e, HG_K_COURSE));
        obx(c, 1, "NM", "HOURS^Training hours^L", hg_value_text(e, v, false), false, "h^hours^UCUM",
            status(c));
        obx(c, 2, "ST", "ROLE^Staff role^L", hg_attr(e, HG_K_ROLE), false, NULL, status(c));
        break;
    default: /* HG_A_STAFF_HEADCOUNT */
        obr(c, c->case_id, "HEADCOUNT", "Staff headcount");
        obx(c, 1, "NM", "HEADCOUNT^Staff headcount^L", hg_value_text(e, v, false), false, NULL,
            status(c));
        break;
    }
    hg_finish(c);
}

void hg_dft(struct hg_ctx *c)
{
    const struct hg_event *e = c->e;
    struct hg_dtm t = hg_etime(c), emit;
    char v[32], txn[40];

    hg_begin(c, "BILLING", "DFT", "P03", "DFT_P03", 0);
    emit = c->msh.time;
    hg_seg(c, 0, "EVN");
    if (hg_version_index(c) < 3)
        hg_at(c, 1, "P03");
    hg_at(c, 2, "%T", &emit);
    hg_pid(c, false);
    hg_seg(c, 1, "PV1|1");
    hg_at(c, 2, "I");
    hg_at(c, 10, "%e", hg_attr(e, HG_K_DEPARTMENT));
    hg_at(c, 18, "%e", hg_attr(e, HG_K_PATIENT_CLASS));
    hg_at(c, 19, "%s", c->case_id);
    snprintf(txn, sizeof(txn), "%s-%llu", c->case_id, (unsigned long long)c->h->control + 1);
    hg_seg(c, 1, "FT1|1");
    hg_at(c, 2, "%s", txn);
    hg_at(c, 4, "%T", &t);
    hg_at(c, 5, "%T", &emit);
    hg_at(c, 6, c->op == HG_OP_NEW ? "CG" : c->op == HG_OP_UPDATE ? "AJ" : "CD");
    hg_at(c, 7, "STAY^Inpatient stay^L");
    hg_at(c, 10, "1");
    hg_at(c, 11, "%s", hg_value_text(e, v, c->op == HG_OP_RETRACT));
    hg_at(c, 11, "&KZT");
    hg_finish(c);
}

void hg_siu(struct hg_ctx *c)
{
    const struct hg_event *e = c->e;
    unsigned act = e->act;
    bool surgery = c->j->type == HG_J_SURGERY;
    const char *trig, *st;

    switch (act) {
    case HG_A_SURGERY_SCHEDULED:
    case HG_A_APPOINTMENT_BOOKED:
        trig = c->op == HG_OP_NEW ? "S12" : c->op == HG_OP_UPDATE ? "S14" : "S15";
        st = c->op == HG_OP_RETRACT ? "Cancelled" : "Booked";
        if (c->op == HG_OP_RETRACT && surgery)
            unsupported(c); /* S15 of a theatre booking is SURGERY_CANCELLED */
        break;
    case HG_A_SURGERY_CANCELLED:
        trig = "S15";
        st = "Cancelled";
        break;
    default: /* performed, seen */
        trig = "S14";
        st = "Complete";
        break;
    }
    if (c->op == HG_OP_RETRACT && act != HG_A_APPOINTMENT_BOOKED)
        unsupported(c);
    hg_begin(c, surgery ? "THEATRE" : "SCHED", "SIU", trig, "SIU_S12", 0);
    c->msh.time = hg_etime(c); /* no EVN: the event's time is the message's */

    hg_seg(c, 0, "SCH");
    hg_at(c, 1, "%s", c->case_id);
    hg_at(c, 1, surgery ? "^THEATRE" : "^SCHED");
    if (hg_attr(e, HG_K_REASON))
        hg_at(c, 6, "CANC^%e^L", hg_attr(e, HG_K_REASON));
    hg_at(c, 7, "SPEC^%e^L", hg_attr(e, HG_K_SPECIALTY));
    hg_at(c, 8, surgery ? "SURG^Surgery^L" : "CLINIC^Outpatient clinic^L");
    hg_at(c, 9, surgery ? "90" : "15");
    hg_at(c, 10, "min");
    hg_at(c, 25, "%s", st);
    hg_pid(c, false);
    hg_seg(c, 1, "PV1|1");
    hg_at(c, 2, surgery ? "P" : "O");
    if (hg_attr(e, HG_K_AGE_GROUP)) {
        hg_seg(c, 4, "OBX|1|ST|AGEGRP^Age group^L|");
        hg_at(c, 5, "%e", hg_attr(e, HG_K_AGE_GROUP));
        hg_at(c, 11, "F");
    }
    hg_seg(c, 1, "RGS|1");
    hg_seg(c, 1, "AIS|1");
    hg_at(c, 3, surgery ? "SURG^Surgery^L" : "CONSULT^Consultation^L");
    if (hg_attr(e, HG_K_THEATRE)) {
        hg_seg(c, 1, "AIL|1");
        hg_at(c, 3, "%e", hg_attr(e, HG_K_THEATRE));
        hg_at(c, 3, "^^^CITYHOSP");
    }
    hg_finish(c);
}
