/*
 * What the files of the JSON scanner share (scan.c, string.c, number.c, keys.c).
 * Private to lib/json.
 */
#ifndef KPID_JSON_PRIVATE_H
#define KPID_JSON_PRIVATE_H

#include <stddef.h>

#include "buf/buf.h"
#include "json/json.h"

/*
 * Records that the scan failed at byte at of the document, for reason e. Returns the
 * negative errno the functions return for it: -ELOOP for KPID_JSON_E_DEPTH, -ENOMEM for
 * KPID_JSON_E_NOMEM, else -EINVAL.
 */
int kpid__json_fail(kpid_json *js, const unsigned char *at, kpid_json_error e);

static inline void kpid__json_skip_ws(kpid_json *js)
{
    while (js->p < js->end && (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' || *js->p == '\r'))
        js->p++;
}

/*
 * Scans the string at js->p (at its opening quote). Appends its decoded bytes and a NUL
 * to dec, and its text as written, quotes included, to raw (either may be NULL).
 */
int kpid__json_string(kpid_json *js, kpid_buf *dec, kpid_buf *raw);

/*
 * Scans the number at js->p: integers must fit int64 and reals a double, as jansson
 * requires (json_int_t, strtod without overflow).
 */
int kpid__json_number(kpid_json *js, const char **ret_text, size_t *ret_len);

/*
 * Scans the key at js->p into js->keys (appending its text as written to raw if not
 * NULL), remembers it among the keys of the object whose keys begin at keyref index
 * first, and refuses a duplicate. The decoded key is at *ret_key (until the next key),
 * *ret_len bytes.
 */
int kpid__json_key(kpid_json *js, size_t first, kpid_buf *raw, const char **ret_key,
                   size_t *ret_len);

/* The number of keys remembered (the first of an object about to be entered). */
size_t kpid__json_keys_mark(const kpid_json *js);

/*
 * At the end of an object whose keys begin at keyref index first (keys.len was
 * keys_len before them): refuses duplicates among many keys, then forgets its keys.
 */
int kpid__json_keys_close(kpid_json *js, size_t first, size_t keys_len);

#endif
