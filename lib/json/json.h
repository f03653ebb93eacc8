/*
 * A JSON scanner (RFC 8259) that reads a document once, in place, without building a
 * tree: the caller walks it with an iterator, member by member (or element by element),
 * and takes each value as it likes: a string decoded into a buffer, a number as written,
 * any value checked and skipped or copied without its insignificant whitespace. A
 * document tree (jansson's) costs some 10 us an event line, four times all the rest of
 * the file source's work.
 *
 * The rules are jansson's with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY and without
 * JSON_ALLOW_NUL: any value at the top; strict UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), no lone surrogate escapes, no \u0000 (PostgreSQL stores no
 * NUL in text or jsonb), integers within int64, reals within a double (no overflow to
 * infinity), and no duplicate key in any object at any depth (keys are compared after
 * decoding their escapes). Besides, nesting is limited to the max_depth given to
 * kpid_json_begin, and a raw NUL byte is always an error (jansson 2.14 skips one after a
 * literal or a number).
 *
 * A walk:
 *
 *     kpid_json js = {0};
 *     kpid_json_iter it;
 *     const char *key;
 *     size_t key_len;
 *
 *     kpid_json_begin(&js, data, len, 64);
 *     if (kpid_json_peek(&js) != KPID_JSON_OBJECT) ...        not an object
 *     r = kpid_json_enter(&js, &it);
 *     while (r >= 0 && (r = kpid_json_next(&js, &it, &key, &key_len)) > 0)
 *         if (strcmp(key, "name") == 0 && kpid_json_peek(&js) == KPID_JSON_STRING)
 *             r = kpid_json_string(&js, &name);           other values are skipped
 *     if (r == 0)
 *         r = kpid_json_end(&js);                          nothing after the object
 *     if (r == -EINVAL)
 *         ... kpid_json_error_text(js.error) at byte js.error_pos
 *     kpid_json_clear(&js);
 *
 * Functions return 0 (kpid_json_next: 1 or 0) or a negative errno: -EINVAL for
 * malformed JSON, -ELOOP for nesting deeper than max_depth, -ENOMEM; js.error and
 * js.error_pos then say why and where. After a failure only kpid_json_begin and
 * kpid_json_clear may be called.
 *
 * Thread ownership: a kpid_json belongs to one thread at a time; its buffers are kept
 * from document to document, so a steady stream of documents allocates nothing once
 * they have grown. The functions keep no other state and are thread-safe.
 */
#ifndef KPID_JSON_H
#define KPID_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf/buf.h"

/* The type of a value, by its first byte. */
typedef enum kpid_json_type {
    KPID_JSON_NONE = 0, /* no value starts here (the end, or another byte) */
    KPID_JSON_OBJECT,
    KPID_JSON_ARRAY,
    KPID_JSON_STRING,
    KPID_JSON_NUMBER,
    KPID_JSON_TRUE,
    KPID_JSON_FALSE,
    KPID_JSON_NULL,
} kpid_json_type;

/* Why a scan failed; kpid_json_error_text words each one. */
typedef enum kpid_json_error {
    KPID_JSON_OK = 0,
    KPID_JSON_E_END,         /* the document ends within a value */
    KPID_JSON_E_TOKEN,       /* no value starts here, or a misspelt true/false/null */
    KPID_JSON_E_KEY,         /* an object key (a string) was expected */
    KPID_JSON_E_COLON,       /* ':' was expected after a key */
    KPID_JSON_E_MEMBER_END,  /* ',' or '}' was expected */
    KPID_JSON_E_ELEMENT_END, /* ',' or ']' was expected */
    KPID_JSON_E_TRAILING,    /* more than whitespace after the top-level value */
    KPID_JSON_E_CONTROL,     /* a control character (or a NUL byte) in a string */
    KPID_JSON_E_UTF8,        /* invalid UTF-8 in a string */
    KPID_JSON_E_ESCAPE,      /* an invalid escape in a string */
    KPID_JSON_E_SURROGATE,   /* a \u escape of a lone or invalid surrogate */
    KPID_JSON_E_NUL,         /* \u0000 in a string */
    KPID_JSON_E_NUMBER,      /* a number that is not one by the grammar (01, 1., .5, +1) */
    KPID_JSON_E_INTEGER,     /* an integer outside int64 */
    KPID_JSON_E_REAL,        /* a real that overflows a double */
    KPID_JSON_E_DUPLICATE,   /* a key that the object already has */
    KPID_JSON_E_KEY_LONG,    /* a key longer than 4 GiB */
    KPID_JSON_E_DEPTH,       /* nesting deeper than max_depth */
    KPID_JSON_E_NOMEM,       /* out of memory */
} kpid_json_error;

/*
 * A scanner and the document it reads. Zero-initialize it (= {0}) before the first
 * kpid_json_begin and call kpid_json_clear when done.
 */
typedef struct kpid_json {
    /* After a failure: why, and where (bytes from the start of the document; for a
     * duplicate key, the later key; for an overflowing number, its start). */
    kpid_json_error error;
    size_t error_pos;

    /* private */
    const unsigned char *start, *p, *end;
    int depth, max_depth;
    kpid_buf keys;    /* decoded keys of the open objects, each NUL-terminated */
    kpid_buf keyrefs; /* where those keys are (duplicate detection) */
} kpid_json;

/* Where a walk is within one object or array. The caller allocates it (on its stack);
 * kpid_json_enter fills it. */
typedef struct kpid_json_iter {
    /* private */
    const unsigned char *value; /* where the current member's value starts */
    size_t first;               /* the object's first key, in keyrefs */
    size_t keys_len;            /* keys.len before the object's keys */
    bool object;
    bool started;
} kpid_json_iter;

/*
 * Starts reading the len bytes at data (not NUL-terminated; any bytes) as a document
 * whose objects and arrays nest at most max_depth levels (the top-level value counts as
 * one). The caller keeps data alive and unchanged until the walk is done. js's buffers
 * are kept.
 */
void kpid_json_begin(kpid_json *js, const char *data, size_t len, int max_depth);

/*
 * Skips whitespace and returns the type of the value that starts there by its first
 * byte ('{', '[', '"', '-' or a digit, 't', 'f', 'n'), without checking the value;
 * KPID_JSON_NONE at the end of the document or at any other byte.
 */
kpid_json_type kpid_json_peek(kpid_json *js);

/*
 * Enters the object or array that starts here and fills *ret_it for kpid_json_next.
 * Returns 0, -EINVAL if no object or array starts here, or -ELOOP.
 */
int kpid_json_enter(kpid_json *js, kpid_json_iter *ret_it);

/*
 * Moves to the next member of the object (or element of the array) of it, first
 * skipping (and checking) the previous one's value if the caller did not read it.
 * Returns 1 when there is one: js is then at its value and, in an object, *ret_key and
 * *ret_key_len (either may be NULL) give the decoded key, NUL-terminated, valid until
 * the next call on js (arrays give NULL and 0). Returns 0 at the end of the object or
 * array, after refusing duplicate keys and leaving it; the enclosing walk goes on with
 * its own iterator. Or returns a negative errno.
 */
int kpid_json_next(kpid_json *js, kpid_json_iter *it, const char **ret_key, size_t *ret_key_len);

/*
 * Reads the string that starts here, appending its decoded bytes and a NUL to dec (if
 * not NULL). Returns 0, or -EINVAL (also when no string starts here), or -ENOMEM.
 */
int kpid_json_string(kpid_json *js, kpid_buf *dec);

/*
 * Reads the number that starts here: *ret_text is its text as written (pointing into
 * the document), *ret_len bytes. Returns 0, or -EINVAL (also when no number starts
 * here), or -ENOMEM.
 */
int kpid_json_number(kpid_json *js, const char **ret_text, size_t *ret_len);

/*
 * Reads (and checks) any value that starts here, appending it without insignificant
 * whitespace to compact (if not NULL): everything else stays as written (key order,
 * escapes, number spelling). Writes its type to *ret_type (if not NULL). Returns 0 or a
 * negative errno.
 */
int kpid_json_value(kpid_json *js, kpid_buf *compact, kpid_json_type *ret_type);

/*
 * Ends the walk of the top-level value: returns 0 if only whitespace follows it, else
 * -EINVAL (KPID_JSON_E_TRAILING).
 */
int kpid_json_end(kpid_json *js);

/* Frees js's buffers and zeroes it; it may then be reused. Accepts a zeroed js. */
void kpid_json_clear(kpid_json *js);

/* A one-line phrase for an error ("duplicate object key"); static, never NULL. */
const char *kpid_json_error_text(kpid_json_error error);

/*
 * The double nearest to the JSON number of len bytes at text (as kpid_json_number gives
 * it): the decimal point is '.', whatever the process's locale. Returns 0 or -ENOMEM.
 */
int kpid_json_number_to_double(const char *text, size_t len, double *ret);

/*
 * Appends the len bytes at s (UTF-8, which the caller has checked) to out as a JSON
 * string: quotes, with '"', '\\' and control characters escaped (\n, \t, ... and \u00XX
 * for the others); other bytes as they are. Returns 0 or -ENOMEM (out unchanged).
 */
int kpid_json_put_string(kpid_buf *out, const char *s, size_t len);

#endif
