/*
 * A case's rows: what the written lines of a journey left of each of its events (the
 * final content, or the content withdrawn by a retraction, and when its lines came),
 * put into the tables of the HIS. A row carries the events of its columns; a column of
 * an event that was never written is NULL, and a case row exists as soon as any line of
 * the case was written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "his_priv.h"
#include "time/civil.h"
#include "timefmt.h"
#include "vocab.h"

/* What the written lines did to one original event. */
struct ev_state {
    const struct hg_event *cur; /* final content, or the one retracted; NULL: never written */
    bool gone;                  /* retracted in the end */
    bool corrected;             /* written more than once */
    int64_t first, last;        /* emit times of its first and last written line */
};

struct his_ctx {
    struct hg_his *h;
    const struct hg_journey *j;
    char case_id[32];
    uint32_t patient;
    int64_t first, last; /* emit times of the case's first and last written line */
    struct ev_state ev[HG_MAX_ORIG];
};

/* Scans the written lines of j into c. */
static void scan(struct his_ctx *c, struct hg_his *h, const struct hg_journey *j)
{
    memset(c, 0, sizeof(*c));
    c->h = h;
    c->j = j;
    c->case_id[hg_case_id(j, c->case_id)] = '\0';
    c->patient = j->ev[0].subject;
    c->first = j->line[0].emit;
    c->last = j->line[j->next - 1].emit;
    for (unsigned k = 0; k < j->next; k++) {
        const struct hg_line *l = &j->line[k];
        unsigned o = j->ev[l->slot].key_of;
        struct ev_state *s = &c->ev[o];
        if (!s->cur)
            s->first = l->emit; /* a retraction never comes before the first write */
        s->last = l->emit;
        if (l->kind == HG_L_WRITE) {
            s->corrected = s->cur != NULL;
            s->cur = &j->ev[l->slot];
        }
    }
    for (unsigned i = 0; i < j->n_ev; i++)
        if (j->ev[i].key_of == i && c->ev[i].cur)
            c->ev[i].gone = j->ev[i].final == HG_FINAL_GONE;
}

/* Returns the index of the seq-th original of activity act, or -1. */
static int find(const struct his_ctx *c, enum hg_activity act, unsigned seq)
{
    for (unsigned i = 0; i < c->j->n_ev; i++)
        if (c->j->ev[i].key_of == i && c->j->ev[i].act == act && c->j->ev[i].seq == seq)
            return (int)i;
    return -1;
}

/* The state of the first original of act: its content is NULL when there is none or it
 * was never written. */
static const struct ev_state *state_of(const struct his_ctx *c, enum hg_activity act)
{
    static const struct ev_state none;
    int i = find(c, act, 1);

    return i < 0 ? &none : &c->ev[i];
}

/* Present in the end: written and not retracted. */
static bool live(const struct ev_state *s)
{
    return s->cur && !s->gone;
}

/* Fails the run when an event of a kind that the schema cannot retract was retracted
 * (a model change that this file has not followed). */
static void no_retraction(struct his_ctx *c, const struct ev_state *s)
{
    if (s->cur && s->gone && c->h->err == 0) {
        fprintf(stderr,
                "hospgen: his: %s of case %s was retracted; the schema has no place "
                "for that\n",
                hg_activity_name[s->cur->act], c->case_id);
        c->h->err = -EPROTO;
    }
}

/* The raw text of attribute k of e, or NULL. */
static const char *attr(const struct hg_event *e, enum hg_attr_key k)
{
    for (unsigned i = 0; e && i < e->n_attr; i++)
        if (e->attr[i].key == k)
            return hg_str_at(e->attr[i].val)->raw;
    return NULL;
}

/* Writes the id (1-based value number) of attribute k of e (a ward or a department), or
 * NULL. */
static void attr_id(struct his_row *r, const struct hg_event *e, enum hg_attr_key k)
{
    for (unsigned i = 0; e && i < e->n_attr; i++)
        if (e->attr[i].key == k) {
            enum hg_domain d = (enum hg_domain)hg_attr_key_domain[k];
            his_uint(r, e->attr[i].val - hg_dom(d, 0) + 1);
            return;
        }
    his_null(r);
}

/* Writes e's time, or NULL when e is NULL. */
static void time_of(struct his_row *r, const struct hg_event *e)
{
    if (e)
        his_time(r, e->time);
    else
        his_null(r);
}

/* Writes e's value, or NULL when it has none. */
static void value_of(struct his_row *r, const struct hg_event *e)
{
    if (e && e->value_dec != HG_NO_VALUE)
        his_value(r, e->value, e->value_dec);
    else
        his_null(r);
}

/* The latest last-line time among the events of a row (the case's first line when none
 * of them was written: the row exists for its children). */
static int64_t updated(const struct his_ctx *c, const struct ev_state *const *s, unsigned n)
{
    int64_t t = 0;

    for (unsigned i = 0; i < n; i++)
        if (s[i]->cur && s[i]->last > t)
            t = s[i]->last;
    return t ? t : c->first;
}

/* Ends a row of a single event s. */
static void end_event_row(struct his_row *r, const struct ev_state *s)
{
    his_row_end(r, s->first, s->last);
}

/* The next id of table t. */
static uint64_t next_id(struct his_ctx *c, enum his_table t)
{
    return ++c->h->next_id[t];
}

/* A survey of the case, if one was written. */
static void survey(struct his_ctx *c)
{
    const struct ev_state *s = state_of(c, HG_A_SATISFACTION_SURVEY);
    struct his_row r;

    if (!s->cur)
        return;
    his_row_begin(c->h, &r, HIS_SURVEYS);
    his_uint(&r, next_id(c, HIS_SURVEYS));
    his_text(&r, c->case_id);
    his_uint(&r, s->cur->subject);
    his_time(&r, s->cur->time);
    his_text(&r, attr(s->cur, HG_K_RESPONSE));
    value_of(&r, s->cur);
    attr_id(&r, s->cur, HG_K_DEPARTMENT);
    his_text(&r, attr(s->cur, HG_K_SPECIALTY));
    his_text(&r, s->gone ? "entered_in_error" : "valid");
    end_event_row(&r, s);
}

/* A row of his.deleted_rows for event s of table t: row_key is JSON. */
static void tombstone(struct his_ctx *c, enum his_table t, const char *row_key,
                      const struct ev_state *s)
{
    struct his_row r;

    his_row_begin(c->h, &r, HIS_DELETED_ROWS);
    his_uint(&r, next_id(c, HIS_DELETED_ROWS));
    his_text(&r, his_tables[t].name);
    his_text(&r, row_key);
    his_time(&r, s->last);
    his_text(&r, "entered in error");
    his_row_end(&r, s->last, s->last);
}

static void ed_visit(struct his_ctx *c)
{
    const struct ev_state *tri = state_of(c, HG_A_TRIAGE);
    const struct ev_state *seen = state_of(c, HG_A_PHYSICIAN_SEEN);
    const struct ev_state *lwbs = state_of(c, HG_A_ED_LEFT_WITHOUT_BEING_SEEN);
    const struct ev_state *dep = state_of(c, HG_A_ED_DEPARTURE);
    const struct ev_state *row[] = {tri, seen, lwbs, dep};
    struct his_row r;

    for (unsigned i = 0; i < 4; i++)
        no_retraction(c, row[i]);
    his_row_begin(c->h, &r, HIS_ED_VISITS);
    his_uint(&r, c->j->case_no);
    his_text(&r, c->case_id);
    his_uint(&r, c->patient);
    his_text(&r, attr(&c->j->ev[0], HG_K_AGE_GROUP));
    his_text(&r, dep->cur    ? "departed"
                 : lwbs->cur ? "left"
                 : seen->cur ? "seen"
                 : tri->cur  ? "triaged"
                             : "registered");
    time_of(&r, tri->cur);
    his_text(&r, attr(tri->cur, HG_K_TRIAGE_LEVEL));
    time_of(&r, seen->cur);
    time_of(&r, lwbs->cur);
    time_of(&r, dep->cur);
    his_text(&r, attr(dep->cur, HG_K_DISPOSITION));
    his_row_end(&r, c->first, updated(c, row, 4));

    for (unsigned n = 1;; n++) {
        int i = find(c, HG_A_ED_ARRIVAL, n);
        if (i < 0)
            break;
        const struct ev_state *s = &c->ev[i];
        no_retraction(c, s);
        if (!s->cur)
            continue;
        his_row_begin(c->h, &r, HIS_ED_REGISTRATIONS);
        his_uint(&r, next_id(c, HIS_ED_REGISTRATIONS));
        his_uint(&r, c->j->case_no);
        his_uint(&r, n);
        his_text(&r, s->cur->flags & HG_EF_NO_CASE ? NULL : c->case_id);
        his_time(&r, s->cur->time);
        his_text(&r, attr(s->cur, HG_K_ARRIVAL_MODE));
        end_event_row(&r, s);
    }
    survey(c);
}

/* The encounters row of a stay: admission and discharge. */
static void encounter(struct his_ctx *c)
{
    const struct ev_state *adm = state_of(c, HG_A_ADMISSION);
    const struct ev_state *dis = state_of(c, HG_A_DISCHARGE);
    const struct ev_state *row[] = {adm, dis};
    const struct hg_event *a = adm->cur, *d = dis->cur;
    struct his_row r;

    his_row_begin(c->h, &r, HIS_ENCOUNTERS);
    his_uint(&r, c->j->case_no);
    his_text(&r, c->case_id);
    his_uint(&r, c->patient);
    his_text(&r, attr(&c->j->ev[0], HG_K_AGE_GROUP));
    his_text(&r, adm->gone ? "cancelled" : live(dis) ? "discharged" : "admitted");
    his_text(&r, a && !(a->flags & HG_EF_NO_CASE) ? c->case_id : NULL);
    time_of(&r, a);
    attr_id(&r, a, HG_K_WARD);
    attr_id(&r, a, HG_K_DEPARTMENT);
    his_text(&r, attr(a, HG_K_PATIENT_CLASS));
    his_text(&r, attr(a, HG_K_ADMISSION_TYPE));
    time_of(&r, d);
    his_text(&r, attr(d, HG_K_DISPOSITION));
    attr_id(&r, d, HG_K_WARD);
    attr_id(&r, d, HG_K_DEPARTMENT);
    if (d && !(d->flags & HG_EF_NO_SUBJECT))
        his_uint(&r, d->subject);
    else
        his_null(&r);
    his_bool(&r, dis->gone);
    his_row_end(&r, c->first, updated(c, row, 2));
}

static void stay(struct his_ctx *c)
{
    const struct ev_state *s;
    struct his_row r;

    encounter(c);
    for (unsigned n = 1;; n++) {
        int i = find(c, HG_A_TRANSFER, n);
        if (i < 0)
            break;
        s = &c->ev[i];
        no_retraction(c, s);
        if (!s->cur)
            continue;
        his_row_begin(c->h, &r, HIS_TRANSFERS);
        his_uint(&r, next_id(c, HIS_TRANSFERS));
        his_uint(&r, c->j->case_no);
        his_uint(&r, n);
        his_time(&r, s->cur->time);
        attr_id(&r, s->cur, HG_K_FROM_WARD);
        attr_id(&r, s->cur, HG_K_WARD);
        end_event_row(&r, s);
    }
    s = state_of(c, HG_A_HOSPITAL_ACQUIRED_INFECTION);
    if (s->cur) {
        his_row_begin(c->h, &r, HIS_INFECTIONS);
        his_uint(&r, next_id(c, HIS_INFECTIONS));
        his_uint(&r, c->j->case_no);
        his_time(&r, s->cur->time);
        his_text(&r, attr(s->cur, HG_K_SITE));
        attr_id(&r, s->cur, HG_K_WARD);
        his_text(&r, s->gone ? "ruled_out" : "confirmed");
        end_event_row(&r, s);
    }
    s = state_of(c, HG_A_DEATH);
    no_retraction(c, s);
    if (s->cur) {
        his_row_begin(c->h, &r, HIS_DEATHS);
        his_uint(&r, next_id(c, HIS_DEATHS));
        his_uint(&r, c->j->case_no);
        his_time(&r, s->cur->time);
        attr_id(&r, s->cur, HG_K_WARD);
        attr_id(&r, s->cur, HG_K_DEPARTMENT);
        end_event_row(&r, s);
    }
    s = state_of(c, HG_A_COST);
    if (s->cur) {
        his_row_begin(c->h, &r, HIS_CHARGES);
        his_uint(&r, next_id(c, HIS_CHARGES));
        his_uint(&r, c->j->case_no);
        his_time(&r, s->cur->time);
        value_of(&r, s->cur);
        attr_id(&r, s->cur, HG_K_DEPARTMENT);
        his_text(&r, attr(s->cur, HG_K_PATIENT_CLASS));
        his_text(&r, s->gone ? "reversed" : s->corrected ? "adjusted" : "posted");
        end_event_row(&r, s);
    }
    survey(c);
}

static void lab(struct his_ctx *c)
{
    const struct ev_state *ord = state_of(c, HG_A_LAB_ORDER);
    const struct ev_state *res = state_of(c, HG_A_LAB_RESULT);
    const struct ev_state *row[] = {ord, res}; /* the result sets the order's status */
    const struct hg_event *o = ord->cur;
    struct his_row r;

    no_retraction(c, ord);
    his_row_begin(c->h, &r, HIS_LAB_ORDERS);
    his_uint(&r, c->j->case_no);
    his_text(&r, c->case_id);
    his_uint(&r, c->patient);
    his_text(&r, attr(&c->j->ev[0], HG_K_TEST));
    his_text(&r, live(res) ? "resulted" : "ordered");
    time_of(&r, o);
    his_text(&r, attr(o, HG_K_PRIORITY));
    attr_id(&r, o, HG_K_WARD);
    his_row_end(&r, c->first, updated(c, row, 2));
    if (!res->cur)
        return;
    uint64_t id = next_id(c, HIS_LAB_RESULTS);
    if (res->gone) {
        char key[96];
        snprintf(key, sizeof(key), "{\"result_id\": %llu, \"order_id\": %llu}",
                 (unsigned long long)id, (unsigned long long)c->j->case_no);
        tombstone(c, HIS_LAB_RESULTS, key, res);
        return;
    }
    his_row_begin(c->h, &r, HIS_LAB_RESULTS);
    his_uint(&r, id);
    his_uint(&r, c->j->case_no);
    his_time(&r, res->cur->time);
    his_text(&r, attr(res->cur, HG_K_TEST));
    value_of(&r, res->cur);
    his_text(&r, attr(res->cur, HG_K_UNIT));
    his_text(&r, res->corrected ? "corrected" : "final");
    end_event_row(&r, res);
}

static void surgery(struct his_ctx *c)
{
    const struct ev_state *sch = state_of(c, HG_A_SURGERY_SCHEDULED);
    const struct ev_state *can = state_of(c, HG_A_SURGERY_CANCELLED);
    const struct ev_state *per = state_of(c, HG_A_SURGERY_PERFORMED);
    const struct ev_state *row[] = {sch, can, per};
    struct his_row r;

    for (unsigned i = 0; i < 3; i++)
        no_retraction(c, row[i]);
    his_row_begin(c->h, &r, HIS_SURGERIES);
    his_uint(&r, c->j->case_no);
    his_text(&r, c->case_id);
    his_uint(&r, c->patient);
    his_text(&r, attr(&c->j->ev[0], HG_K_SPECIALTY));
    his_text(&r, attr(&c->j->ev[0], HG_K_AGE_GROUP));
    his_text(&r, per->cur ? "performed" : can->cur ? "cancelled" : "scheduled");
    time_of(&r, sch->cur);
    time_of(&r, can->cur);
    his_text(&r, attr(can->cur, HG_K_REASON));
    time_of(&r, per->cur);
    his_text(&r, attr(per->cur, HG_K_THEATRE));
    his_row_end(&r, c->first, updated(c, row, 3));
}

static void appointment(struct his_ctx *c)
{
    const struct ev_state *book = state_of(c, HG_A_APPOINTMENT_BOOKED);
    const struct ev_state *seen = state_of(c, HG_A_APPOINTMENT_SEEN);
    const struct ev_state *row[] = {book, seen};
    struct his_row r;

    no_retraction(c, seen);
    his_row_begin(c->h, &r, HIS_APPOINTMENTS);
    his_uint(&r, c->j->case_no);
    his_text(&r, c->case_id);
    his_uint(&r, c->patient);
    his_text(&r, attr(&c->j->ev[0], HG_K_SPECIALTY));
    his_text(&r, attr(&c->j->ev[0], HG_K_AGE_GROUP));
    his_text(&r, book->gone ? "cancelled" : seen->cur ? "attended" : "booked");
    time_of(&r, book->cur);
    time_of(&r, seen->cur);
    his_row_end(&r, c->first, updated(c, row, 2));
    survey(c);
}

static void training(struct his_ctx *c)
{
    struct his_row r;

    his_row_begin(c->h, &r, HIS_TRAINING_SESSIONS);
    his_uint(&r, c->j->case_no);
    his_text(&r, c->case_id);
    his_text(&r, attr(&c->j->ev[0], HG_K_COURSE));
    his_row_end(&r, c->first, c->last);
    for (unsigned n = 1;; n++) {
        int i = find(c, HG_A_TRAINING_HOURS, n);
        if (i < 0)
            break;
        const struct ev_state *s = &c->ev[i];
        if (!s->cur)
            continue;
        uint64_t id = next_id(c, HIS_STAFF_TRAINING);
        if (s->gone) {
            char key[128];
            snprintf(key, sizeof(key),
                     "{\"attendance_id\": %llu, \"session_id\": %llu, \"line_no\": %u}",
                     (unsigned long long)id, (unsigned long long)c->j->case_no, n);
            tombstone(c, HIS_STAFF_TRAINING, key, s);
            continue;
        }
        his_staff(c->h, s->cur->subject);
        his_row_begin(c->h, &r, HIS_STAFF_TRAINING);
        his_uint(&r, id);
        his_uint(&r, c->j->case_no);
        his_uint(&r, n);
        his_uint(&r, s->cur->subject);
        his_time(&r, s->cur->time);
        value_of(&r, s->cur);
        end_event_row(&r, s);
    }
}

static void headcount(struct his_ctx *c)
{
    int64_t month =
        kpid_days_from_civil((int64_t)(c->j->case_no / 100), (int)(c->j->case_no % 100), 1);
    struct his_row r;

    for (unsigned n = 1;; n++) {
        int i = find(c, HG_A_STAFF_HEADCOUNT, n);
        if (i < 0)
            break;
        const struct ev_state *s = &c->ev[i];
        no_retraction(c, s);
        if (!s->cur)
            continue;
        his_row_begin(c->h, &r, HIS_STAFF_HEADCOUNT);
        his_uint(&r, next_id(c, HIS_STAFF_HEADCOUNT));
        his_date(&r, month);
        his_uint(&r, n);
        his_uint(&r, s->cur->subject + 1);
        his_time(&r, s->cur->time);
        value_of(&r, s->cur);
        end_event_row(&r, s);
    }
}

void his_case(struct hg_his *h, const struct hg_journey *j)
{
    struct his_ctx c;

    scan(&c, h, j);
    if (j->type != HG_J_TRAINING && j->type != HG_J_HEADCOUNT)
        his_patient(h, c.patient, c.first);
    switch (j->type) {
    case HG_J_ED: ed_visit(&c); break;
    case HG_J_INPATIENT: stay(&c); break;
    case HG_J_LAB: lab(&c); break;
    case HG_J_SURGERY: surgery(&c); break;
    case HG_J_OUTPATIENT: appointment(&c); break;
    case HG_J_TRAINING: training(&c); break;
    default: headcount(&c); break;
    }
}
