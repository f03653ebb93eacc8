/*
 * HL7 version 2 messages (2.3 to 2.8): one message parsed into an index of its segments
 * and fields, values read by path ("PID-3[2].4.1") with their escapes decoded, DTM/TS
 * times, and the acknowledgment (ACK) of a message. No mapping, no networking, no
 * logging: the MLLP and Kafka sources build on this.
 *
 * Parsing (kpid_hl7_parse). A message is the bytes of one message, not NUL-terminated,
 * with no NUL byte. It starts with "MSH"; byte 4 is the field separator and MSH-2 holds
 * the component, repetition, escape and subcomponent characters, and from 2.7 on an
 * optional fifth, the truncation character. The five or six separators are distinct
 * printable ASCII characters, neither letters nor digits. Segments end at CR, LF or CRLF;
 * empty segments (a blank line, the CRLF's second half, a trailing terminator) are
 * skipped wherever they are. A segment name is 3 uppercase ASCII letters or digits,
 * followed by the field separator or the segment's end. At most KPID_HL7_MAX_SEGMENTS
 * segments and KPID_HL7_MAX_INDEX fields a segment. Any size that fits a size_t is
 * accepted: the caller bounds it.
 *
 * Field numbers follow the standard: MSH-1 is the field separator itself and MSH-2 the
 * encoding characters, so "MSH|^~\&|LAB" has LAB in MSH-3 while "PID|1" has 1 in PID-1.
 * MSH-1 and MSH-2 (of any MSH segment) are values of their own: never split, never
 * unescaped.
 *
 * Character sets. The first repetition of MSH-18 names the message's charset (its first
 * component, trimmed of spaces, compared without regard to case):
 *   ASCII          "ASCII", "US-ASCII";
 *   ISO 8859-1     "8859/1", "ISO-8859-1", "ISO8859-1", "ISO_8859-1", "LATIN1", "LATIN-1";
 *   ISO 8859-15    "8859/15", "ISO-8859-15", "ISO8859-15", "ISO_8859-15", "LATIN9",
 *                  "LATIN-9";
 *   UTF-8          "UNICODE UTF-8", "UTF-8", "UTF8", "UNICODE UTF8".
 * Anything else is refused (-ENOTSUP), "UNICODE" (UCS-2) included. An absent, empty or
 * blank MSH-18, or MSH-18 = "" (HL7's null), leaves the caller's default
 * (kpid_hl7_options).
 * Further repetitions of MSH-18 (ISO 2022 code switching) are ignored. The message is
 * converted to UTF-8 with iconv (ISO 8859) or checked (ASCII: bytes below 0x80; UTF-8:
 * text/utf8.h's rules) before it is split; bytes that are not valid in the charset are
 * refused (-EILSEQ). The parsed message keeps its own UTF-8 copy; every span and value
 * it gives is UTF-8.
 *
 * Values (kpid_hl7_get). A value is one subcomponent with its escapes decoded (escape
 * character from MSH-2, shown here as '\'):
 *   \F\ \S\ \T\ \R\ \E\  the field, component, subcomponent, repetition and escape
 *                        characters; \P\ the truncation character when MSH-2 has one;
 *   \Xhh..\              the bytes of an even number (2 or more) of hex digits, in the
 *                        message's charset (converted to UTF-8 like its text; in a UTF-8
 *                        message adjacent escapes may together make one character);
 *   anything else        kept as written, both escape characters included: formatting
 *                        (\H\ \N\ \.br\ \.sp3\ ...), charset escapes (\Cxxyy\
 *                        \Mxxyyzz\), local escapes (\Z..\), malformed \X escapes;
 *   an escape character with no closing one is kept as written, as is the rest.
 * A decoded value is valid UTF-8 with no control character but TAB: no NUL, no other C0
 * (CR and LF included, as \X0D\ would give), no DEL, no C1 (U+0080 to U+009F, as
 * Windows-1252 text sent as 8859/1 gives). A value that breaks this rule is refused with
 * -EILSEQ, not repaired; the rest of the message stays readable.
 *
 * Thread ownership: a parsed message is immutable; any number of threads may read it at
 * once. Every function here is thread-safe.
 */
#ifndef KPID_HL7_H
#define KPID_HL7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf/buf.h"
#include "time/tz.h"

#define KPID_HL7_MAX_SEGMENTS 65535u /* segments of a message */
#define KPID_HL7_MAX_INDEX \
    999u /* fields of a segment; field, repetition, component and
                                        subcomponent numbers of a path */

/* Why a parse failed (kpid_hl7_parse fills it, when not NULL, on failure only). */
typedef struct kpid_hl7_error {
    const char *what; /* a static phrase, never message content ("malformed segment name") */
    size_t offset;    /* byte offset of the fault: in the message as given up to and during
                         the charset conversion, in its UTF-8 text after that (the same for
                         ASCII and UTF-8 messages) */
    unsigned segment; /* 1-based number of the segment at fault (empty segments not
                         counted), 0 when the fault is in no particular segment */
} kpid_hl7_error;

/* A message's charset. Zero is UTF-8, the default. */
typedef enum kpid_hl7_charset {
    KPID_HL7_UTF8 = 0,
    KPID_HL7_ASCII,
    KPID_HL7_8859_1,
    KPID_HL7_8859_15,
} kpid_hl7_charset;

/* Options of kpid_hl7_parse; a zeroed struct (or NULL) gives the defaults. */
typedef struct kpid_hl7_options {
    kpid_hl7_charset default_charset; /* when MSH-18 is absent or empty (UTF-8) */
    unsigned reserved[4];             /* zero */
} kpid_hl7_options;

/* The separators of a message (MSH-1 and MSH-2). */
typedef struct kpid_hl7_seps {
    char field, component, repetition, escape, subcomponent;
    char truncation; /* '\0' when MSH-2 has four characters */
} kpid_hl7_seps;

/*
 * The header of a parsed message, decoded. Every string is NUL-terminated UTF-8, ""
 * when the value is absent, empty or HL7's null (""); each is the first component of the
 * first repetition (the component of HAPI's Terser paths "MSH-3", "MSH-9-2"). Valid as
 * long as the message is.
 */
typedef struct kpid_hl7_header {
    kpid_hl7_seps seps;
    const char *sending_application;   /* MSH-3.1 */
    const char *sending_facility;      /* MSH-4.1 */
    const char *receiving_application; /* MSH-5.1 */
    const char *receiving_facility;    /* MSH-6.1 */
    const char *message_type;          /* MSH-9.1 "ORU" */
    const char *trigger_event;         /* MSH-9.2 "R01" */
    const char *structure;             /* MSH-9.3 "ORU_R01" */
    const char *control_id;            /* MSH-10 */
    const char *processing_id;         /* MSH-11.1 "P" */
    const char *version;               /* MSH-12.1 "2.5.1" */
    unsigned version_code;             /* kpid_hl7_version_code(version): 251 */
    const char *accept_ack_type;       /* MSH-15 "AL" */
    const char *application_ack_type;  /* MSH-16 "NE" */
    const char *charset_name;          /* MSH-18, first repetition, as written */
    kpid_hl7_charset charset;          /* the charset the message was converted from */
    const void *reserved[4];
} kpid_hl7_header;

typedef struct kpid_hl7_msg kpid_hl7_msg;

/*
 * Parses the len bytes at data as one message (see above). Returns 0 and the message in
 * *ret_msg (freshly allocated; the caller frees it with kpid_hl7_free; data is not needed
 * afterwards), or a negative errno and, when error is not NULL, what and where in
 * *error: -EBADMSG for a malformed message (no MSH, bad separators, a malformed segment
 * name, too many segments or fields, a header field with an invalid value), -ENOTSUP for
 * an unknown charset in MSH-18, -EILSEQ for a NUL byte or bytes not valid in the
 * message's charset, -EINVAL for invalid options, -ENOMEM.
 *
 * The header fields of kpid_hl7_header are decoded here: a message whose MSH-3 to MSH-18
 * hold a value that kpid_hl7_get would refuse is refused (-EBADMSG). The version is not
 * checked: see kpid_hl7_version_supported.
 */
int kpid_hl7_parse(const char *data, size_t len, const kpid_hl7_options *opts,
                   kpid_hl7_msg **ret_msg, kpid_hl7_error *error);

/* Frees a message. Accepts NULL; returns NULL. */
kpid_hl7_msg *kpid_hl7_free(kpid_hl7_msg *m);

/* The decoded header; valid as long as the message is. */
const kpid_hl7_header *kpid_hl7_msg_header(const kpid_hl7_msg *m);

/*
 * The message's UTF-8 text (after the charset conversion, as it was otherwise): *ret_len
 * bytes, followed by a NUL that is not counted. Valid as long as the message is.
 */
const char *kpid_hl7_msg_text(const kpid_hl7_msg *m, size_t *ret_len);

/*
 * A version's number: "2.3" 230, "2.3.1" 231, "2.4" 240, "2.5" 250, "2.5.1" 251, "2.6"
 * 260, "2.7" 270, "2.7.1" 271, "2.8" 280, "2.8.1" 281, "2.8.2" 282; 0 for any other text.
 */
unsigned kpid_hl7_version_code(const char *version);

/* Whether a version code is one of those kpid_hl7_version_code knows (2.3 to 2.8.2). */
bool kpid_hl7_version_supported(unsigned code);

/* ---- character sets (charset.c) ------------------------------------------------- */

/*
 * The charset that the len bytes at name call (the MSH-18 spellings listed above).
 * Returns 0 and writes *ret, or -ENOTSUP.
 */
int kpid_hl7_charset_lookup(const char *name, size_t len, kpid_hl7_charset *ret);

/* HL7's name of a charset (table 0211): "ASCII", "8859/1", "8859/15", "UNICODE UTF-8". */
const char *kpid_hl7_charset_name(kpid_hl7_charset cs);

/* ---- segments (parse.c) --------------------------------------------------------- */

/* The number of segments named name (3 characters), or of all segments for NULL. */
unsigned kpid_hl7_segment_count(const kpid_hl7_msg *m, const char *name);

/* The name of segment index (0-based, in message order), or NULL past the last one. */
const char *kpid_hl7_segment_name(const kpid_hl7_msg *m, unsigned index);

/*
 * The index of the first segment at or after index from that is named name (any segment
 * for NULL). Returns 0 and writes *ret_index, or -ENOENT when there is none. Every OBX:
 *
 *     for (r = kpid_hl7_segment_next(m, "OBX", 0, &i); r == 0;
 *          r = kpid_hl7_segment_next(m, "OBX", i + 1, &i))
 *         kpid_hl7_get_at(m, i, &obx5, &value) ...
 */
int kpid_hl7_segment_next(const kpid_hl7_msg *m, const char *name, unsigned from,
                          unsigned *ret_index);

/* ---- paths (path.c) ------------------------------------------------------------- */

/* The most specific part a path names. */
typedef enum kpid_hl7_level {
    KPID_HL7_FIELD = 1,
    KPID_HL7_REPETITION,
    KPID_HL7_COMPONENT,
    KPID_HL7_SUBCOMPONENT,
} kpid_hl7_level;

/*
 * A place in a message: SEG[occurrence]-field[repetition].component.subcomponent, every
 * number 1-based. The text syntax (kpid_hl7_path_parse) defaults what it omits to 1 and
 * records in level the last part it wrote: "PID-3" is PID[1]-3[1].1.1 at level
 * KPID_HL7_FIELD, "PID-3[2]" level KPID_HL7_REPETITION, "PID-3.4" (repetition 1)
 * KPID_HL7_COMPONENT, "OBX[2]-5.1.2" KPID_HL7_SUBCOMPONENT.
 */
typedef struct kpid_hl7_path {
    char segment[4];       /* 3 uppercase letters or digits, NUL-terminated */
    unsigned occurrence;   /* 1 to KPID_HL7_MAX_SEGMENTS */
    unsigned field;        /* 1 to KPID_HL7_MAX_INDEX, and so are the three below */
    unsigned repetition;   /* 1-based */
    unsigned component;    /* 1-based */
    unsigned subcomponent; /* 1-based */
    kpid_hl7_level level;
} kpid_hl7_path;

/*
 * Parses the path text (NUL-terminated): SEG, an optional [n], '-', the field, an
 * optional [r], then optionally '.' component and '.' subcomponent. Numbers are decimal
 * without sign or leading zero, and within the bounds above. Returns 0 and writes
 * *ret_path, or -EINVAL with *ret_why (if not NULL) pointing at a static phrase.
 */
int kpid_hl7_path_parse(const char *text, kpid_hl7_path *ret_path, const char **ret_why);

/*
 * Appends the decoded value at path p, always one subcomponent (whatever p->level), to
 * out and a NUL that out->len does not count. Returns 0; -ENOENT when the segment,
 * field, repetition, component or subcomponent is absent or empty; -ENODATA when it or
 * the repetition or component that holds it is HL7's null, written "" (two double
 * quotes); -EILSEQ when the decoded value breaks the rules above; -EINVAL for an invalid
 * path; -ENOMEM. out is unchanged on failure.
 */
int kpid_hl7_get(const kpid_hl7_msg *m, const kpid_hl7_path *p, kpid_buf *out);

/*
 * kpid_hl7_get in the segment of index seg (from kpid_hl7_segment_next): p->occurrence
 * is ignored and p->segment must name that segment (else -EINVAL).
 */
int kpid_hl7_get_at(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p, kpid_buf *out);

/*
 * The text as written (escapes not decoded) of the part p->level names: the whole field
 * (all its repetitions) for KPID_HL7_FIELD, one repetition, one component, one
 * subcomponent. Returns 0 with *ret_text pointing into the message's text (not
 * NUL-terminated) and *ret_len > 0 bytes, -ENOENT when it is absent or empty, -EINVAL
 * for an invalid path.
 */
int kpid_hl7_raw(const kpid_hl7_msg *m, const kpid_hl7_path *p, const char **ret_text,
                 size_t *ret_len);
int kpid_hl7_raw_at(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p,
                    const char **ret_text, size_t *ret_len);

/*
 * The number of parts at level within p: the fields of the segment (KPID_HL7_FIELD:
 * the last field's number, trailing empty fields included), the repetitions of p's
 * field, the components of p's repetition or the subcomponents of p's component. An
 * absent or empty part has none (0). Returns 0 and writes *ret_n, or -EINVAL for an
 * invalid path or level. A segment that does not occur has 0 fields.
 */
int kpid_hl7_count(const kpid_hl7_msg *m, const kpid_hl7_path *p, kpid_hl7_level level,
                   unsigned *ret_n);
int kpid_hl7_count_at(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p,
                      kpid_hl7_level level, unsigned *ret_n);

/* ---- escapes (escape.c) --------------------------------------------------------- */

/*
 * Appends the len bytes of text at s to out, escaped for a field of a message with
 * separators seps: each separator character as \F\ \S\ \T\ \R\ \E\ (and \P\), with
 * seps->escape as the escape character; a text of just two double quotes, which would
 * read back as HL7's null, as \X2222\. The text must be valid UTF-8 with no control
 * character but TAB (what kpid_hl7_get gives). Returns 0, -EINVAL for other text, or
 * -ENOMEM; out is unchanged on failure.
 */
int kpid_hl7_escape(const kpid_hl7_seps *seps, const char *s, size_t len, kpid_buf *out);

/* ---- date and time (dtm.c) ------------------------------------------------------ */

/* How much of a date/time was written. */
typedef enum kpid_hl7_precision {
    KPID_HL7_YEAR = 1,
    KPID_HL7_MONTH,
    KPID_HL7_DAY,
    KPID_HL7_HOUR,
    KPID_HL7_MINUTE,
    KPID_HL7_SECOND,
    KPID_HL7_FRACTION,
} kpid_hl7_precision;

typedef struct kpid_hl7_time {
    int64_t us;                   /* microseconds since 1970-01-01T00:00:00Z */
    kpid_hl7_precision precision; /* the last part written */
    bool has_offset;              /* +/-ZZZZ was written */
    int32_t offset_s;             /* that offset, seconds east of UTC (0 without) */
    int tz_kind;                  /* without an offset: KPID_TZ_UNIQUE, _GAP or _OVERLAP */
} kpid_hl7_time;

/*
 * Parses a DTM (or the first component of a TS, which the caller takes; see
 * kpid_hl7_get_time) of len bytes at s: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ].
 * Each part is checked: year 0001-9999, month 01-12, a day that exists in its month,
 * hour 00-23 (no 24, no 240000), minute and second 00-59 (no leap second), 1 to 4
 * fraction digits after the seconds only, an offset of 4 digits with minutes 00-59 and at
 * most 14:00 either way. Parts left out are the first instant of the period written:
 * "202403" is 2024-03-01 00:00:00.
 *
 * With an offset the time is that offset's. Without one it is a wall time in tz (NULL:
 * UTC), by kpid_tz_from_local's rules: a wall time that a DST change skipped (02:30 on
 * Berlin's spring-forward day) is the instant of that change (01:00Z), one that occurs
 * twice (02:30 on the autumn day) the earlier of the two; ret->tz_kind says which.
 *
 * Returns 0 and writes *ret, or -EINVAL with *ret_why (if not NULL) pointing at a static
 * phrase, or -ERANGE if the instant is outside the years 0001-9999 in UTC.
 */
int kpid_hl7_dtm_parse(const char *s, size_t len, const kpid_tz *tz, kpid_hl7_time *ret,
                       const char **ret_why);

/*
 * The time at path p (its first component by the path defaults: the TS's time, not its
 * precision): kpid_hl7_get's result and errors, then kpid_hl7_dtm_parse's.
 */
int kpid_hl7_get_time(const kpid_hl7_msg *m, const kpid_hl7_path *p, const kpid_tz *tz,
                      kpid_hl7_time *ret, const char **ret_why);

/* ---- acknowledgments (ack.c) ---------------------------------------------------- */

/* MSA-1 (table 0008): original mode AA/AE/AR, enhanced mode CA/CE/CR. */
typedef enum kpid_hl7_ack_code {
    KPID_HL7_AA = 0,
    KPID_HL7_AE,
    KPID_HL7_AR,
    KPID_HL7_CA,
    KPID_HL7_CE,
    KPID_HL7_CR,
} kpid_hl7_ack_code;

/* What an ACK says beyond what it copies from the message. */
typedef struct kpid_hl7_ack {
    kpid_hl7_ack_code code;
    const char *control_id; /* MSH-10 of the ACK: fresh, non-empty, NUL-terminated */
    int64_t time_us;        /* MSH-7, microseconds since the epoch (whole seconds written) */
    const kpid_tz *tz;      /* the zone MSH-7 is written in, with its offset; NULL: UTC */
    unsigned error_code;    /* table 0357 (207 application internal error, 200 unsupported
                               message type, 203 unsupported version id ...); 0: no ERR */
    const char *error_text; /* NULL, or a short text for the error (used only with
                               error_code); NO PATIENT DATA */
    unsigned reserved[4];   /* zero */
} kpid_hl7_ack;

/*
 * Appends to out the ACK of message m: segments ending in CR, no MLLP framing.
 *
 *   MSH  the message's separators and MSH-2; MSH-3/4 are the message's MSH-5/6 and
 *        MSH-5/6 its MSH-3/4 (as written, all components); MSH-7 a->time_us as
 *        YYYYMMDDHHMMSS+ZZZZ in a->tz (escaped: '+' or '-' may be a separator); MSH-9
 *        ACK^<trigger>^ACK (ACK^<trigger> for 2.3, before the message structure
 *        component); MSH-10 a->control_id; MSH-11 and MSH-12 copied as written; MSH-18
 *        copied as written when the message has one.
 *   MSA  MSA-1 the code, MSA-2 the message's control id (MSH-10.1); before 2.5 (and for
 *        an unknown version) MSA-3 the error text.
 *   ERR  when a->error_code is not 0. From 2.5 on: ERR-3 <code>^<table text>^HL70357,
 *        ERR-4 the severity (E, or W with AA/CA), ERR-8 the error text. Before 2.5 (and
 *        for an unknown version): ERR-1 ^^^<code>&<table text>&HL70357.
 *
 * The ACK is encoded in the message's charset (the one it was converted from), so the
 * sender reads it as it writes; text that charset cannot hold (a non-ASCII error text
 * for an ASCII message) is refused with -EILSEQ. Returns 0, -EINVAL for an invalid code,
 * control id, error code (not in table 0357) or text, -ERANGE for a time outside the
 * years 0001-9999, -EILSEQ, -ENOMEM; out is unchanged on failure.
 */
int kpid_hl7_ack_build(const kpid_hl7_msg *m, const kpid_hl7_ack *a, kpid_buf *out);

/*
 * The ACK of a message too broken to parse (the len bytes at data; may be anything):
 * separators |^~\&, MSH-3 to MSH-6 empty, MSH-9 ACK, MSH-11 P, MSH-12 2.5, ERR as above
 * (2.5 style), in ASCII. MSA-2 is the message's control id when one can be found in it:
 * data starts with "MSH", and its MSH-10 (up to the first of what MSH-2 would have as
 * separators) is 1 to 199 bytes of printable ASCII; else MSA-2 is empty. The code is
 * a->code (AR is usual). Returns what kpid_hl7_ack_build returns.
 */
int kpid_hl7_ack_build_fallback(const char *data, size_t len, const kpid_hl7_ack *a, kpid_buf *out);

/* The text of a table 0357 error code ("Application internal error"), or NULL. */
const char *kpid_hl7_error_code_text(unsigned code);

#endif
