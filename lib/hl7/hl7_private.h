/*
 * What the files of the HL7 parser share (parse.c, escape.c, path.c, charset.c, dtm.c,
 * ack.c): the parsed message's layout and the internal helpers. Private to lib/hl7.
 */
#ifndef KPID_HL7_PRIVATE_H
#define KPID_HL7_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf/buf.h"
#include "hl7/hl7.h"

/* One segment: text[start, end) is its text (name included, terminator excluded). */
typedef struct kpid__hl7_seg {
    size_t start, end;
    size_t first;   /* index in fields of its first field after the name */
    unsigned count; /* fields after the name (MSH: MSH-2 and on) */
    char name[4];
} kpid__hl7_seg;

struct kpid_hl7_msg {
    char *text; /* the UTF-8 text, NUL-terminated (no NUL within) */
    size_t len;
    kpid__hl7_seg *segs;
    unsigned nsegs;
    size_t *fields; /* start offset in text of every field after a segment's name; a field
                       ends at the next field's start - 1 or at its segment's end */
    kpid_hl7_header header;
    char *strings; /* the header's strings */
};

/* A span of the message's text. */
typedef struct kpid__hl7_span {
    const char *p;
    size_t n;
} kpid__hl7_span;

/* Whether the n bytes at s are valid UTF-8 with no control character but TAB. */
bool kpid__hl7_text_ok(const char *s, size_t n);

/*
 * Appends the decoded value of the escaped text span v of message m to out (no NUL).
 * Returns 0, -EILSEQ when the decoded value is not text (kpid__hl7_text_ok), or -ENOMEM;
 * out is unchanged on failure.
 */
int kpid__hl7_unescape(const kpid_hl7_seps *seps, kpid_hl7_charset cs, kpid__hl7_span v,
                       kpid_buf *out);

/*
 * Appends the len bytes at in, in charset cs, to out as UTF-8. Returns 0, -EILSEQ for
 * bytes not valid in cs (NUL is valid here; the caller refuses it) with *ret_bad (if not
 * NULL) their offset in in, or -ENOMEM. out is unchanged on failure.
 */
int kpid__hl7_to_utf8(kpid_hl7_charset cs, const char *in, size_t len, kpid_buf *out,
                      size_t *ret_bad);

/*
 * Converts out->data[from, out->len), UTF-8, to charset cs in place (in out). Returns 0,
 * -EILSEQ for a character cs cannot hold, or -ENOMEM; out is unchanged on failure.
 */
int kpid__hl7_from_utf8(kpid_hl7_charset cs, kpid_buf *out, size_t from);

/*
 * The span of field number field (1-based, the standard's numbering) of segment seg.
 * Returns 0, or -ENOENT past the segment's last field. *ret_whole is set when the field
 * is MSH-1 or MSH-2, which are not split further.
 */
int kpid__hl7_field(const kpid_hl7_msg *m, unsigned seg, unsigned field, kpid__hl7_span *ret,
                    bool *ret_whole);

/* The number of fields of segment seg (MSH-1 counts). */
unsigned kpid__hl7_field_count(const kpid_hl7_msg *m, unsigned seg);

#endif
