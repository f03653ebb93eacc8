/*
 * One line of the file source's NDJSON format, parsed into a kpid_event.
 *
 * A line is one JSON object:
 *
 *   {"event_key": "enc-42/TRIAGE", "case_id": "enc-42", "subject_id": "p-7",
 *    "activity": "TRIAGE", "time": "2024-03-01T08:15:00+01:00", "value": 3,
 *    "attrs": {"ward": "ED"}}
 *
 *   event_key   required string, 1-512 bytes
 *   case_id     optional string, 1-256 bytes, or null
 *   subject_id  optional string, 1-256 bytes, or null
 *   activity    required string matching [A-Z0-9_]{1,64}
 *   time        required RFC 3339 string (see time/rfc3339.h in lib/)
 *   value       optional finite number, or null
 *   attrs       optional object (any JSON values inside), or null
 *
 * or a retraction, which deletes the event with that key and carries nothing else:
 *
 *   {"event_key": "enc-42/TRIAGE", "retract": true}
 *
 * The parser is strict, because data teams need to learn of their mistakes: an unknown
 * key, a duplicate key (at any depth), a number where an identifier string belongs, an
 * empty identifier, "retract": false, or a string containing \u0000 (PostgreSQL stores
 * no NUL in text or jsonb) makes the line an error with a one-line reason. Lines that
 * are empty or only JSON whitespace are skipped; one trailing '\r' is ignored (CRLF).
 *
 * JSON is RFC 8259, scanned by lib/json (json/json.h) once, in place, without a
 * document tree, with its rules: jansson's with JSON_REJECT_DUPLICATES and without
 * JSON_ALLOW_NUL (strict UTF-8, no lone surrogates, integers within int64, reals within
 * double), nesting limited to NDJSON_MAX_DEPTH levels and a raw NUL byte always an
 * error. This file adds the event line's rules: which members a line has and what they
 * mean. jansson still words the reason for malformed JSON, and the tests and the fuzz
 * target hold the scanner to it.
 *
 * attrs_json is the attrs object with the insignificant whitespace removed and
 * everything else as written (key order, escapes, number spelling): PostgreSQL's jsonb
 * normalizes it. An empty object gives NULL.
 *
 * Thread ownership: an ndjson_line belongs to one thread (the source's).
 */
#ifndef KPID_FILE_NDJSON_H
#define KPID_FILE_NDJSON_H

#include <stddef.h>

#include "buf/buf.h"
#include "json/json.h"
#include "kpid/plugin.h"
#include "text/ident.h"

#define NDJSON_EVENT_KEY_MAX 512
#define NDJSON_ID_MAX 256
#define NDJSON_ACTIVITY_MAX KPID_IDENT_ACTIVITY_MAX /* the activity rule of text/ident.h */
#define NDJSON_REASON_MAX 256
#define NDJSON_MAX_DEPTH 64 /* nesting, the line's own object included */

enum ndjson_kind {
    NDJSON_BLANK = 0,   /* empty or whitespace only: skip it */
    NDJSON_EVENT = 1,   /* event is filled */
    NDJSON_RETRACT = 2, /* event.event_key names the event to delete */
    NDJSON_ERROR = 3,   /* reason says what is wrong */
};

/*
 * A parsed line. Zero-initialize it (= {0}) before the first ndjson_parse() and call
 * ndjson_line_clear() when done; in between, reuse it for every line: its buffers are
 * kept, so once they have grown a steady stream of lines allocates nothing.
 */
typedef struct ndjson_line {
    enum ndjson_kind kind;
    /* For NDJSON_EVENT and NDJSON_RETRACT. The strings point into this struct's
     * buffers and stay valid until the next ndjson_parse() or ndjson_line_clear(). */
    kpid_event event;
    /* For NDJSON_ERROR: a NUL-terminated, printable, valid UTF-8 phrase. */
    const char *reason;

    /* private */
    kpid_json json;   /* the scanner, with its buffers */
    kpid_buf strings; /* decoded top-level strings, each NUL-terminated */
    kpid_buf attrs;   /* attrs as compact JSON text */
    char reason_buf[NDJSON_REASON_MAX];
} ndjson_line;

/*
 * Parses the len bytes at data (one line without its '\n'; not NUL-terminated; may hold
 * any bytes) into *line, replacing what it held. Returns 0 with line->kind set (a
 * malformed line is NDJSON_ERROR, not a failure), or -ENOMEM, after which line->kind is
 * NDJSON_ERROR with reason "out of memory" and *line is still safe to reuse or clear.
 * Thread-safe for distinct lines.
 */
int ndjson_parse(ndjson_line *line, const char *data, size_t len);

/* Frees what *line holds and zeroes it; it may then be reused. Accepts a zeroed line. */
void ndjson_line_clear(ndjson_line *line);

#endif
