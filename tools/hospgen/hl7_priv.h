/* Shared by hl7_out.c, hl7_adt.c and hl7_orders.c: one message being composed. */
#ifndef HG_HL7_PRIV_H
#define HG_HL7_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "hl7_msg.h"
#include "journey.h"
#include "rng.h"
#include "wbuf.h"

struct hg_hl7 {
    unsigned n;          /* streams */
    unsigned written;    /* streams 0 .. written-1 have files (--hl7-split: fewer than n) */
    struct hg_wbuf *out; /* the written streams' files */
    struct hg_rng rng;
    uint64_t control; /* MSH-10 of the last message */
    int32_t off_sec;
    bool implied_ok; /* the offset is whole hours: times may go without one */
    int start_year;
    struct hg_msg m;
};

/* What a message does to its event. */
enum hg_op {
    HG_OP_NEW,     /* the event's first content, or again after a retraction */
    HG_OP_UPDATE,  /* new content under the same key */
    HG_OP_RETRACT, /* the event is withdrawn (cancel, entered in error) */
};

struct hg_ctx {
    struct hg_hl7 *h;
    const struct hg_journey *j;
    const struct hg_event *e; /* the content written (for a retraction: the current one) */
    enum hg_op op;
    int64_t emit;
    unsigned stream;
    char case_id[24];
    char subject[24];
    struct hg_msh msh;
    unsigned field; /* field number reached in the open segment (hg_to) */
};

/* Picks a version (from index min_version of the list on), resets the message;
 * structure is MSH-9.3 ("ADT_A01"), written from 2.3.1 on. */
void hg_begin(struct hg_ctx *c, const char *app, const char *type, const char *trigger,
              const char *structure, unsigned min_version);
/* Writes the message to its stream (charset chosen here). */
void hg_finish(struct hg_ctx *c);
/* Index of the message's version in the list (2.3 = 0 ... 2.8 = 8). */
unsigned hg_version_index(const struct hg_ctx *c);

/* Starts a segment with text (copied as is), which ends in field number 'field'. */
void hg_seg(struct hg_ctx *c, unsigned field, const char *text);
/* Moves to field n of the open segment and appends fmt there (hg_msg_add's syntax, at
 * most one argument). */
void hg_at(struct hg_ctx *c, unsigned n, const char *fmt, ...);

/* A time of the event's precision, in a form drawn at random. */
struct hg_dtm hg_time(struct hg_ctx *c, int64_t t);
/* The event's time (hg_time of e->time). */
struct hg_dtm hg_etime(struct hg_ctx *c);
/* Draws true with probability p from the HL7 stream. */
bool hg_chance(struct hg_ctx *c, double p);
/* The raw text of attribute k of the event, or NULL. */
const char *hg_attr(const struct hg_event *e, unsigned k);
/* The value of the event as text ("4.1") into out (>= 32 bytes); negated when neg. */
const char *hg_value_text(const struct hg_event *e, char *out, bool neg);

/* The PID segment of the event's subject (person kind from the journey type). */
void hg_pid(struct hg_ctx *c, bool death);

/* Message writers: hl7_adt.c and hl7_orders.c. */
void hg_adt(struct hg_ctx *c);
void hg_oru(struct hg_ctx *c);
void hg_order(struct hg_ctx *c);
void hg_dft(struct hg_ctx *c);
void hg_siu(struct hg_ctx *c);

#endif
