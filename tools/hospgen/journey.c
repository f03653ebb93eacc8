#include "journey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

/* How events reach the feed (fractions of events). */
#define P_LATE 0.02       /* written hours to days after later events */
#define P_CORRECTION 0.01 /* written again later with changed content */

/* Share of each activity's events retracted later as "entered in error". */
static const double p_error[HG_A__COUNT] = {
    [HG_A_LAB_RESULT] = 0.004,
    [HG_A_SATISFACTION_SURVEY] = 0.01,
    [HG_A_TRAINING_HOURS] = 0.005,
    [HG_A_HOSPITAL_ACQUIRED_INFECTION] = 0.10, /* ruled out after review */
    [HG_A_COST] = 0.005,
};

/* Attributes a correction may change (to another value of the same domain). */
static const uint8_t correctable[HG_K__COUNT] = {
    [HG_K_WARD] = 1,         [HG_K_TRIAGE_LEVEL] = 1,  [HG_K_DISPOSITION] = 1,
    [HG_K_ARRIVAL_MODE] = 1, [HG_K_PATIENT_CLASS] = 1, [HG_K_SITE] = 1,
    [HG_K_REASON] = 1,       [HG_K_THEATRE] = 1,       [HG_K_PRIORITY] = 1,
};

void hg_builder_start(struct hg_builder *b, enum hg_jtype type, uint64_t case_no)
{
    b->type = (uint8_t)type;
    b->case_no = case_no;
    b->n_orig = 0;
    b->n_ev = 0;
    b->n_line = 0;
}

struct hg_event *hg_builder_add(struct hg_builder *b, enum hg_activity act, int64_t time,
                                uint32_t subject)
{
    if (b->n_orig >= HG_MAX_ORIG || (b->n_orig > 0 && time < b->ev[b->n_orig - 1].time)) {
        fprintf(stderr, "hospgen: pathway bug: type=%u events=%u time order broken or full\n",
                b->type, b->n_orig);
        abort();
    }
    struct hg_event *e = &b->ev[b->n_orig];
    memset(e, 0, sizeof(*e));
    e->time = time;
    e->subject = subject;
    e->act = (uint8_t)act;
    e->value_dec = HG_NO_VALUE;
    e->final = HG_FINAL_NONE;
    b->plan[b->n_orig] = HG_P_NONE;
    b->n_orig++;
    return e;
}

void hg_builder_plan(struct hg_builder *b, const struct hg_event *e, enum hg_plan plan,
                     int64_t plan_time)
{
    unsigned i = (unsigned)(e - b->ev);

    b->plan[i] = (uint8_t)plan;
    b->plan_time[i] = plan_time;
}

void hg_event_attr(struct hg_event *e, enum hg_attr_key key, unsigned val)
{
    if (e->n_attr >= HG_MAX_ATTR)
        abort();
    e->attr[e->n_attr].key = (uint8_t)key;
    e->attr[e->n_attr].val = (uint16_t)val;
    e->n_attr++;
}

void hg_event_value(struct hg_event *e, int64_t v, unsigned dec)
{
    e->value = v;
    e->value_dec = (uint8_t)dec;
}

int64_t hg_builder_last_time(const struct hg_builder *b)
{
    return b->ev[b->n_orig - 1].time;
}

/*
 * Chooses how e's time and attributes are written (offset or Z, 0..6 fractional
 * digits, \u escapes, values of digits as numbers, attrs omitted or {}), and cuts
 * e->time to the digits chosen so that the expected time is exactly what the line says.
 * At most max_digits digits (4 in --hl7 runs: HL7 times have at most 4).
 */
static void choose_form(struct hg_event *e, struct hg_rng *rng, unsigned max_digits)
{
    static const double digit_w[7] = {35, 4, 4, 35, 3, 4, 15};
    unsigned digits = hg_rng_pick(rng, digit_w, 7);

    if (digits > max_digits) /* --hl7: DTM has at most 4; the same draws, so the same events */
        digits = max_digits;

    e->tfmt = (uint8_t)(digits | (hg_rng_chance(rng, 0.35) ? HG_TF_ZULU : 0));
    e->time = hg_time_trunc(e->time, digits);
    e->flags &= (uint8_t)~HG_EF_FORM; /* what the event is stays: no case, no subject */
    e->flags |= hg_rng_chance(rng, 0.35) ? HG_EF_UESC : 0;
    e->flags |= hg_rng_chance(rng, 0.3) ? HG_EF_NUMERIC : 0;
    e->form = e->n_attr == 0 && hg_rng_chance(rng, 0.6) ? HG_AF_OMIT : HG_AF_OBJECT;
}

/* Appends a line to b (capacity is guaranteed by HG_MAX_LINE). */
static void add_line(struct hg_builder *b, int64_t emit, unsigned slot, enum hg_line_kind kind)
{
    struct hg_line *l = &b->line[b->n_line++];

    l->emit = emit;
    l->slot = (uint8_t)slot;
    l->kind = (uint8_t)kind;
}

/* Appends a copy of original i as a new slot carrying i's key; returns it. */
static struct hg_event *add_slot(struct hg_builder *b, unsigned i)
{
    struct hg_event *c = &b->ev[b->n_ev++];

    *c = b->ev[i];
    c->key_of = (uint8_t)i;
    c->final = HG_FINAL_NONE;
    return c;
}

/* Returns a different, plausible fixed-point value for value v of activity act. */
static int64_t corrected_value(struct hg_rng *rng, unsigned act, int64_t v)
{
    if (act == HG_A_SATISFACTION_SURVEY) {
        int64_t w = hg_rng_range(rng, 0, 9);
        return w >= v ? w + 1 : w;
    }
    int64_t step = (int64_t)((double)(v < 0 ? -v : v) * (0.02 + 0.18 * hg_rng_unit(rng)));
    if (step < 1)
        step = 1;
    return v - step >= 0 && hg_rng_chance(rng, 0.5) ? v - step : v + step;
}

/*
 * Builds a corrected copy of original i (neighbours prev/next bound a time change so
 * that the case keeps its order) and its line, emitted after emit_i. Gives up quietly
 * when there is nothing that can change.
 */
static void correct(struct hg_builder *b, struct hg_rng *rng, unsigned i, int64_t emit_i)
{
    const struct hg_event *o = &b->ev[i];
    int64_t lo = i > 0 ? (b->ev[i - 1].time + o->time) / 2 : o->time - 20 * HG_MIN;
    int64_t hi = i + 1 < b->n_orig ? (o->time + b->ev[i + 1].time) / 2 : o->time + 20 * HG_MIN;
    if (lo < o->time - 2 * HG_HOUR) /* a mistyped time, not a different day */
        lo = o->time - 2 * HG_HOUR;
    if (hi > o->time + 2 * HG_HOUR)
        hi = o->time + 2 * HG_HOUR;
    bool can_time = hi - lo >= 4 * HG_MIN;
    bool can_value = o->value_dec != HG_NO_VALUE;
    int attr = -1;

    for (unsigned k = 0; k < o->n_attr; k++)
        if (correctable[o->attr[k].key])
            attr = (int)k;
    if (!can_time && !can_value && attr < 0)
        return;

    bool do_time, do_value = false, do_attr = false;
    double x = hg_rng_unit(rng);
    if (can_value) {
        do_value = x < 0.65 || !can_time;
        do_time = can_time && x >= 0.45;
    } else if (attr >= 0) {
        do_attr = x < 0.5 || !can_time;
        do_time = can_time && x >= 0.35;
    } else {
        do_time = true;
    }

    struct hg_event *c = add_slot(b, i);
    if (do_time) {
        /* At least a minute away, so that no time form can hide the change. */
        int64_t t;
        do
            t = hg_rng_range(rng, lo, hi);
        while (t > o->time - HG_MIN && t < o->time + HG_MIN);
        c->time = t;
    }
    if (do_value)
        c->value = corrected_value(rng, o->act, o->value);
    if (do_attr) {
        struct hg_attr *a = &c->attr[attr];
        enum hg_domain d = hg_dom_of(a->val);
        unsigned first = hg_dom(d, 0);
        unsigned k = (unsigned)hg_rng_below(rng, hg_dom_size(d) - 1);
        a->val = (uint16_t)(first + (k >= a->val - first ? k + 1 : k));
    }
    choose_form(c, rng, b->max_digits);
    /* Corrected after the fact: never before the corrected time itself. */
    int64_t emit = emit_i + hg_rng_span(rng, 8 * HG_HOUR, 1.2, 10 * HG_MIN, 7 * HG_DAY);
    if (emit < c->time + 10 * HG_MIN)
        emit = c->time + 10 * HG_MIN;
    add_line(b, emit, (unsigned)(c - b->ev), HG_L_WRITE);
}

/* Sorts the lines by emit time; stable, so equal times keep their creation order. */
static void sort_lines(struct hg_line *l, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct hg_line x = l[i];
        unsigned k = i;
        while (k > 0 && l[k - 1].emit > x.emit) {
            l[k] = l[k - 1];
            k--;
        }
        l[k] = x;
    }
}

struct hg_journey *hg_builder_finish(struct hg_builder *b, struct hg_rng *rng, uint64_t order)
{
    uint8_t count[HG_A__COUNT] = {0};
    int64_t raw[HG_MAX_ORIG];

    b->n_ev = b->n_orig;
    b->n_line = 0;
    for (unsigned i = 0; i < b->n_orig; i++) {
        struct hg_event *e = &b->ev[i];
        e->seq = ++count[e->act];
        e->key_of = (uint8_t)i;
        raw[i] = e->time; /* lines are emitted at the uncut time: never before the start */
        choose_form(e, rng, b->max_digits);
    }
    for (unsigned i = 0; i < b->n_orig; i++) {
        struct hg_event *e = &b->ev[i];
        int64_t emit = raw[i];

        if (b->plan[i] == HG_P_NONE && hg_rng_chance(rng, P_LATE))
            emit += hg_rng_span(rng, 10 * HG_HOUR, 1.0, HG_HOUR, 6 * HG_DAY);
        add_line(b, emit, i, HG_L_WRITE);

        if (b->plan[i] == HG_P_REPLACE) {
            int64_t gap = b->plan_time[i] - emit;
            add_line(b, emit + hg_rng_range(rng, gap / 8, gap / 2), i, HG_L_RETRACT);
            struct hg_event *c = add_slot(b, i);
            c->time = b->plan_time[i];
            choose_form(c, rng, b->max_digits);
            add_line(b, c->time, (unsigned)(c - b->ev), HG_L_WRITE);
        } else if (b->plan[i] == HG_P_RETRACT || hg_rng_chance(rng, p_error[e->act])) {
            /* Cancelled, or entered in error. */
            add_line(b, emit + hg_rng_span(rng, 3 * HG_HOUR, 1.2, 5 * HG_MIN, 3 * HG_DAY), i,
                     HG_L_RETRACT);
        } else if (hg_rng_chance(rng, P_CORRECTION)) {
            correct(b, rng, i, emit);
        }
    }
    sort_lines(b->line, b->n_line);

    size_t ev_size = b->n_ev * sizeof(struct hg_event);
    struct hg_journey *j = malloc(sizeof(*j) + ev_size + b->n_line * sizeof(struct hg_line));
    if (!j)
        return NULL;
    j->order = order;
    j->case_no = b->case_no;
    j->type = b->type;
    j->n_ev = (uint8_t)b->n_ev;
    j->n_line = (uint8_t)b->n_line;
    j->next = 0;
    memcpy(j->ev, b->ev, ev_size);
    j->line = (struct hg_line *)((char *)j->ev + ev_size);
    memcpy(j->line, b->line, b->n_line * sizeof(struct hg_line));
    return j;
}

size_t hg_case_id(const struct hg_journey *j, char *out)
{
    static const char prefix[HG_J__COUNT] = {'E', 'I', 'L', 'S', 'O', 'T', 'H'};

    out[0] = prefix[j->type];
    return 1 + hg_fmt_uint(out + 1, j->case_no, j->type == HG_J_HEADCOUNT ? 6 : 8);
}

size_t hg_subject_id(const struct hg_journey *j, const struct hg_event *e, char *out)
{
    if (j->type == HG_J_TRAINING) {
        memcpy(out, "staff-", 6);
        return 6 + hg_fmt_uint(out + 6, e->subject, 4);
    }
    if (j->type == HG_J_HEADCOUNT) {
        memcpy(out, "dept-", 5);
        return 5 + hg_fmt_uint(out + 5, e->subject, 2);
    }
    out[0] = 'P';
    return 1 + hg_fmt_uint(out + 1, e->subject, 7);
}

void hg_journey_cap_digits(struct hg_journey *j, unsigned max_digits)
{
    for (unsigned i = 0; i < j->n_ev; i++) {
        struct hg_event *e = &j->ev[i];
        if ((e->tfmt & HG_TF_DIGITS) <= max_digits)
            continue;
        e->tfmt = (uint8_t)((e->tfmt & ~HG_TF_DIGITS) | max_digits);
        e->time = hg_time_trunc(e->time, max_digits);
    }
}
