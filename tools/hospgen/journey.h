/*
 * Journeys: one case (an ED visit, a stay, a lab order, ...) with its events and the
 * output lines that carry them, held as data, not text.
 *
 * A pathway fills a struct hg_builder with the case's real events ("originals") in
 * time order; hg_builder_finish() then decides how each is written (time form, late
 * arrival, later correction, retraction) and packs the journey into one allocation.
 *
 * Event slots: originals come first; a correction or a re-entry after a retraction is
 * an extra slot whose key_of names the original whose event_key it reuses. While the
 * lines are written, the original's 'final' records which slot is the event's current
 * content (or that it is retracted), so the journey always knows the final state of
 * what was actually written, even if the run stops before all its lines are out.
 */
#ifndef HG_JOURNEY_H
#define HG_JOURNEY_H

#include <stdint.h>

#include "rng.h"
#include "vocab.h"

#define HG_MAX_ATTR 5
#define HG_MAX_ORIG 20 /* originals per journey */
#define HG_MAX_EV 40   /* slots: every original adds at most one more */
#define HG_MAX_LINE 60 /* every original gives at most three lines */

enum hg_jtype {
    HG_J_ED,
    HG_J_INPATIENT,
    HG_J_LAB,
    HG_J_SURGERY,
    HG_J_OUTPATIENT,
    HG_J_TRAINING,
    HG_J_HEADCOUNT,
    HG_J__COUNT
};

struct hg_attr {
    uint8_t key;  /* enum hg_attr_key */
    uint16_t val; /* string table index */
};

#define HG_NO_VALUE 0xff      /* value_dec of an event without a value */
#define HG_TF_ZULU 0x80       /* tfmt: write "Z" instead of the configured offset */
#define HG_TF_DIGITS 0x07     /* tfmt: number of fractional digits, 0..6 */
#define HG_EF_UESC 0x01       /* flags: write non-ASCII attribute values as \u escapes */
#define HG_EF_NUMERIC 0x02    /* flags: write attribute values of digits as JSON numbers */
#define HG_EF_NO_CASE 0x04    /* flags: the event has no case_id (its key still names one) */
#define HG_EF_NO_SUBJECT 0x08 /* flags: the event has no subject_id */
#define HG_EF_FORM (HG_EF_UESC | HG_EF_NUMERIC) /* the flags of how a line is written */
#define HG_FINAL_NONE 0xff                      /* final: nothing written yet */
#define HG_FINAL_GONE 0xfe                      /* final: retracted */

enum hg_attrs_form {
    HG_AF_OBJECT, /* "attrs":{...} (also {} when n_attr is 0) */
    HG_AF_OMIT,   /* no "attrs" member; only when n_attr is 0 */
};

struct hg_event {
    int64_t time;      /* UTC microseconds, already cut to the digits written */
    int64_t value;     /* fixed point: value / 10^value_dec */
    uint32_t subject;  /* patient number, staff number or department */
    uint8_t act;       /* enum hg_activity */
    uint8_t seq;       /* n-th event of this activity in the case: part of the key */
    uint8_t key_of;    /* slot of the original whose key this slot carries */
    uint8_t tfmt;      /* HG_TF_* */
    uint8_t form;      /* enum hg_attrs_form */
    uint8_t flags;     /* HG_EF_* */
    uint8_t value_dec; /* decimals of value, or HG_NO_VALUE */
    uint8_t n_attr;
    uint8_t final; /* originals: slot holding the current content, or HG_FINAL_* */
    struct hg_attr attr[HG_MAX_ATTR];
};

enum hg_line_kind {
    HG_L_WRITE,   /* the event of 'slot', under the key of its original */
    HG_L_RETRACT, /* {"event_key":...,"retract":true} for the original of 'slot' */
};

struct hg_line {
    int64_t emit; /* when the line reaches the feed (UTC microseconds) */
    uint8_t slot;
    uint8_t kind; /* enum hg_line_kind */
};

/* A finished journey: one allocation, freed with free(). */
struct hg_journey {
    uint64_t order;   /* creation number, unique: breaks ties between equal emit times */
    uint64_t case_no; /* number in the case id; year*100+month for headcount */
    uint8_t type;     /* enum hg_jtype */
    uint8_t n_ev;
    uint8_t n_line;
    uint8_t next;         /* next line to write */
    struct hg_line *line; /* n_line lines in emit order, inside the same allocation */
    struct hg_event ev[];
};

enum hg_plan {
    HG_P_NONE,
    HG_P_RETRACT, /* retract the event some time after it was written (cancelled) */
    HG_P_REPLACE, /* retract it, then write it again at plan_time (cancelled discharge) */
};

/* The scratch space a pathway fills; one per generator, reused for every journey. */
struct hg_builder {
    uint8_t type;
    uint64_t case_no;
    unsigned n_orig;
    struct hg_event ev[HG_MAX_EV];
    uint8_t plan[HG_MAX_ORIG];
    int64_t plan_time[HG_MAX_ORIG];
    unsigned n_ev;
    struct hg_line line[HG_MAX_LINE];
    unsigned n_line;
    uint8_t max_digits; /* fractional digits a time may have: 6, or 4 for --hl7 (HL7 DTM) */
};

/* Empties b for a new journey of the given type and case number. */
void hg_builder_start(struct hg_builder *b, enum hg_jtype type, uint64_t case_no);
/*
 * Appends an original event and returns it for hg_event_attr/hg_event_value. Times must
 * not decrease from one call to the next; more than HG_MAX_ORIG events abort the
 * program (a pathway bug).
 */
struct hg_event *hg_builder_add(struct hg_builder *b, enum hg_activity act, int64_t time,
                                uint32_t subject);
/* Attaches a plan (see enum hg_plan) to original e; plan_time is used by HG_P_REPLACE. */
void hg_builder_plan(struct hg_builder *b, const struct hg_event *e, enum hg_plan plan,
                     int64_t plan_time);
/* Adds attribute key = string table index val to e (at most HG_MAX_ATTR). */
void hg_event_attr(struct hg_event *e, enum hg_attr_key key, unsigned val);
/* Gives e the value v / 10^dec. */
void hg_event_value(struct hg_event *e, int64_t v, unsigned dec);
/* Returns the time of the last original added (the builder must not be empty). */
int64_t hg_builder_last_time(const struct hg_builder *b);

/*
 * Decides how the originals of b are written: key sequence numbers, time forms, late
 * lines, corrections, retractions, plans; orders the lines by emit time. Returns the
 * packed journey (freshly allocated; the caller frees it with free()) or NULL when out
 * of memory. The builder may be reused afterwards.
 */
struct hg_journey *hg_builder_finish(struct hg_builder *b, struct hg_rng *rng, uint64_t order);

/*
 * Cuts every time of j to at most max_digits fractional digits, after the fact: the
 * journey's draws, lines and emit times stay those of its uncut form (--hl7-split cuts
 * only the cases it sends as HL7, whose DTM has at most 4 digits, so the hospital is the
 * one of a run without --hl7). A time only moves earlier, by less than 10^-max_digits s:
 * the order of j's events is kept (ties may appear) and no line is emitted before its
 * time.
 */
void hg_journey_cap_digits(struct hg_journey *j, unsigned max_digits);

/* Writes the case id of j ("E00001234", "H202503", ...) to out; returns its length. */
size_t hg_case_id(const struct hg_journey *j, char *out);
/* Writes the subject id of event e of j ("P0001234", "staff-0042", "dept-03"). */
size_t hg_subject_id(const struct hg_journey *j, const struct hg_event *e, char *out);

#endif
