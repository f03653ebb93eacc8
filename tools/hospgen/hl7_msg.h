/*
 * One HL7 v2 message being written (--hl7): its segments after MSH as UTF-8 text with
 * the separators |^~\& (and, in some 2.7+ messages, the truncation character #), the
 * escaping of values, HL7 DTM times, and the output of the whole message: the MSH, the
 * body converted to ISO 8859-1 or left UTF-8, MLLP-framed (0x0B message 0x1C 0x0D),
 * every segment ended by CR.
 */
#ifndef HG_HL7_MSG_H
#define HG_HL7_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wbuf.h"

#define HG_MSG_MAX 6144 /* far above the longest message body */

/* How a time is written. */
enum hg_dtm_form {
    HG_DTM_LOCAL,   /* local wall time with its offset: 20250301081500+0500 */
    HG_DTM_IMPLIED, /* local wall time without an offset (the source's time zone) */
    HG_DTM_UTC,     /* UTC with +0000 */
};

struct hg_dtm {
    int64_t t;      /* UTC microseconds, holding no more precision than 'digits' says */
    uint8_t digits; /* fractional digits, 0..4 */
    uint8_t form;   /* enum hg_dtm_form */
    uint8_t trim;   /* 1: drop zero seconds (and a zero time of day) when digits is 0 */
};

struct hg_msg {
    char body[HG_MSG_MAX]; /* segments after MSH, each ended by CR once the next begins */
    size_t len;
    bool truncation;  /* MSH-2 is ^~\&#: '#' in values is escaped as \P\ */
    bool non_latin1;  /* the body holds a character beyond U+00FF */
    bool open_seg;    /* a segment is being written */
    int32_t off_sec;  /* the hospital's UTC offset */
    char off_hhmm[6]; /* "+0500" */
};

/* Empties m for a new message (separators, offset as given). */
void hg_msg_reset(struct hg_msg *m, bool truncation, int32_t off_sec);
/*
 * Ends the open segment (if any) and starts a new one with fmt. In fmt every character
 * is copied as is ('|', '^', '~', '&' are the separators), except: %s ASCII text copied
 * as is, %e UTF-8 text escaped (\F\ \S\ \T\ \R\ \E\, \P\), %u an unsigned int, %T a
 * time (const struct hg_dtm *), %% a percent sign.
 */
void hg_msg_seg(struct hg_msg *m, const char *fmt, ...);
/* Appends fmt (as above) to the open segment. */
void hg_msg_add(struct hg_msg *m, const char *fmt, ...);

/* The message header's content. */
struct hg_msh {
    const char *app, *facility;             /* MSH-3, MSH-4 (raw, may hold components) */
    struct hg_dtm time;                     /* MSH-7 */
    const char *type, *trigger, *structure; /* MSH-9; structure NULL = none */
    uint64_t control;                       /* MSH-10: "HG" and 10 digits */
    const char *version;                    /* MSH-12 */
    uint8_t charset; /* 0 UTF-8 without MSH-18, 1 "UNICODE UTF-8", 2 "8859/1", 3 "ASCII" */
};

/*
 * Writes the whole message (MSH from h, then the body) to wb, framed. A body with
 * characters beyond U+00FF is always written as UTF-8 with MSH-18 "UNICODE UTF-8";
 * charset 2 converts it to ISO 8859-1, charset 3 is used only for an ASCII body.
 */
void hg_msg_write(struct hg_msg *m, const struct hg_msh *h, struct hg_wbuf *wb);

/* Writes t as DTM into out; returns the length (at most 26). */
size_t hg_dtm_format(char *out, const struct hg_dtm *d, int32_t off_sec, const char *off_hhmm);

/* Whether text holds only ASCII. */
bool hg_is_ascii(const char *s, size_t n);

#endif
