/*
 * ADT messages: admissions, ED visits, transfers, discharges, deaths.
 *
 *   ADMISSION            A01 new, A08 update, A11 cancel (PV1-2 "I")
 *   ED_ARRIVAL           A04 new, A11 cancel (PV1-2 "E"); arrival mode in PV2-38
 *   TRIAGE               A08 with EVN-4 "TRIAGE", the level in OBX-5
 *   PHYSICIAN_SEEN       A08 with EVN-4 "SEEN"
 *   ED_LEFT_WITHOUT_...  A08 with EVN-4 "LWBS"
 *   ED_DEPARTURE         A03 (PV1-2 "E"), A13 cancel
 *   TRANSFER             A02, A12 cancel (the cancelled transfer's time in EVN-6)
 *   DISCHARGE            A03 (PV1-2 "I"), A13 cancel
 *   DEATH                A08 with PID-29 (time) and PID-30 "Y"
 *
 * PID-18 (account number) is the case id in every message, also when PV1-19 (the
 * visit number) is missing: the mapping's keys use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_people.h"
#include "hl7_priv.h"
#include "timefmt.h"

/* Aborts on a message hospgen never needs (a pathway change that the HL7 form misses). */
static void unsupported(const struct hg_ctx *c)
{
    fprintf(stderr, "hospgen: --hl7 cannot express operation %d on %s\n", (int)c->op,
            hg_activity_name[c->e->act]);
    abort();
}

/* The trigger of the message for c's activity and operation, and its EVN-4. */
static const char *trigger(const struct hg_ctx *c, const char **reason)
{
    bool retract = c->op == HG_OP_RETRACT;

    *reason = NULL;
    switch (c->e->act) {
    case HG_A_ADMISSION: return retract ? "A11" : c->op == HG_OP_UPDATE ? "A08" : "A01";
    case HG_A_ED_ARRIVAL: return retract ? "A11" : "A04";
    case HG_A_TRANSFER: return retract ? "A12" : "A02";
    case HG_A_DISCHARGE:
    case HG_A_ED_DEPARTURE: return retract ? "A13" : "A03";
    case HG_A_TRIAGE: *reason = "TRIAGE"; break;
    case HG_A_PHYSICIAN_SEEN: *reason = "SEEN"; break;
    case HG_A_ED_LEFT_WITHOUT_BEING_SEEN: *reason = "LWBS"; break;
    case HG_A_DEATH: break;
    default: unsupported(c);
    }
    if (retract)
        unsupported(c);
    return "A08";
}

/* MSH-9.3 of an ADT trigger. */
static const char *structure(const char *trig)
{
    if (!strcmp(trig, "A02") || !strcmp(trig, "A03") || !strcmp(trig, "A12")) {
        static char st[3][8] = {"ADT_A02", "ADT_A03", "ADT_A12"};
        return st[trig[1] == '1' ? 2 : trig[2] - '2'];
    }
    return !strcmp(trig, "A11") ? "ADT_A09" : "ADT_A01";
}

/* PV2-38 code of an arrival mode. */
static const char *mode_code(const char *mode)
{
    return mode[0] == 'a' ? "A" : mode[0] == 'w' ? "W" : "R";
}

void hg_adt(struct hg_ctx *c)
{
    const struct hg_event *e = c->e;
    unsigned act = e->act;
    bool inpatient = c->j->type == HG_J_INPATIENT;
    const char *reason;
    const char *trig = trigger(c, &reason);
    const char *st = structure(trig);
    struct hg_dtm t = hg_etime(c), t2 = hg_etime(c), emit;
    const char *ward = hg_attr(e, HG_K_WARD), *from = hg_attr(e, HG_K_FROM_WARD);

    hg_begin(c, inpatient ? "PAS" : "EDIS^ED", "ADT", trig, st, act == HG_A_ED_ARRIVAL ? 2 : 0);
    emit = c->msh.time;

    /* EVN-1 (until 2.4), EVN-2 recorded, EVN-4 reason, EVN-6 occurred. */
    hg_seg(c, 0, "EVN");
    if (hg_version_index(c) < 3)
        hg_at(c, 1, "%s", trig);
    hg_at(c, 2, "%T", &emit);
    if (reason)
        hg_at(c, 4, "%s", reason);
    bool evn6 =
        act == HG_A_TRANSFER || reason ? true : hg_chance(c, act == HG_A_DEATH ? 0.5 : 0.65);
    if (evn6)
        hg_at(c, 6, "%T", &t);

    hg_pid(c, act == HG_A_DEATH);

    hg_seg(c, 1, "PV1|1");
    hg_at(c, 2, inpatient ? "I" : "E");
    if (act == HG_A_TRANSFER && c->op == HG_OP_RETRACT) { /* A12: back where they were */
        const char *x = ward;
        ward = from;
        from = x;
    }
    hg_at(c, 3, "%e", ward ? ward : inpatient ? "W?" : "EMERGENCY");
    hg_at(c, 3, "^^^CITYHOSP");
    if (hg_attr(e, HG_K_ADMISSION_TYPE))
        hg_at(c, 4, "%e", hg_attr(e, HG_K_ADMISSION_TYPE));
    if (act == HG_A_TRANSFER) {
        hg_at(c, 6, "%e", from);
        hg_at(c, 6, "^^^CITYHOSP");
    }
    hg_at(c, 7, "%s", hg_people_doctor(e->subject));
    if (hg_attr(e, HG_K_DEPARTMENT))
        hg_at(c, 10, "%e", hg_attr(e, HG_K_DEPARTMENT));
    if (hg_attr(e, HG_K_PATIENT_CLASS))
        hg_at(c, 18, "%e", hg_attr(e, HG_K_PATIENT_CLASS));
    if (!(e->flags & HG_EF_NO_CASE))
        hg_at(c, 19, "%s", c->case_id);
    if (hg_attr(e, HG_K_DISPOSITION))
        hg_at(c, 36, "%e", hg_attr(e, HG_K_DISPOSITION));
    if (act == HG_A_ADMISSION || act == HG_A_ED_ARRIVAL)
        hg_at(c, 44, "%T", &t2);
    if (act == HG_A_DISCHARGE || act == HG_A_ED_DEPARTURE)
        hg_at(c, 45, "%T", &t2);

    if (act == HG_A_ED_ARRIVAL) {
        const char *mode = hg_attr(e, HG_K_ARRIVAL_MODE);
        hg_seg(c, 0, "PV2");
        hg_at(c, 38, "%s", mode_code(mode));
        hg_at(c, 38, "^%e", mode);
    }
    if (hg_attr(e, HG_K_AGE_GROUP)) {
        hg_seg(c, 4, "OBX|1|ST|AGEGRP^Age group^L|");
        hg_at(c, 5, "%e", hg_attr(e, HG_K_AGE_GROUP));
        hg_at(c, 11, "F");
    }
    if (act == HG_A_TRIAGE) {
        hg_seg(c, 4, "OBX|1|NM|TRIAGE^Triage level^L|");
        hg_at(c, 5, "%e", hg_attr(e, HG_K_TRIAGE_LEVEL));
        hg_at(c, 11, "F");
    }
    hg_finish(c);
}
