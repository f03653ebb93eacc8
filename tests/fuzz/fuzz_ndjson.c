/*
 * Fuzz target for the file source's parsers (plugins/file): the input is parsed as one
 * NDJSON line, as an RFC 3339 timestamp and as a cursor, and what comes out is checked
 * against the promises of their headers. A broken promise aborts.
 *
 * The NDJSON scanner is also held to jansson: a reference classifier below parses the
 * same line with json_loadb() and applies the format's rules to the tree; both must
 * agree on the kind of line and, for events and retractions, on every field.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "ndjson.h"
#include "time/rfc3339.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

/* Printable ASCII or UTF-8 (non-ASCII bytes are checked by jansson below). */
static void check_text(const char *s, size_t max)
{
    size_t n = strlen(s);

    CHECK(n > 0 && n < max);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7F);
    json_t *j = json_stringn(s, n); /* NULL if not valid UTF-8 */
    CHECK(j);
    json_decref(j);
}

static void check_activity(const char *s)
{
    size_t n = strlen(s);

    CHECK(n >= 1 && n <= NDJSON_ACTIVITY_MAX);
    for (size_t i = 0; i < n; i++)
        CHECK((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_');
}

static int tree_depth(const json_t *j)
{
    const char *key;
    const json_t *v;
    size_t i;
    int max = 0;

    if (json_is_object(j)) {
        json_object_foreach ((json_t *)j, key, v) {
            int d = tree_depth(v);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_array(j)) {
        json_array_foreach (j, i, v) {
            int d = tree_depth(v);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

static bool ref_id_ok(const json_t *v)
{
    return !v || json_is_null(v) ||
           (json_is_string(v) && json_string_length(v) >= 1 &&
            json_string_length(v) <= NDJSON_ID_MAX);
}

static bool ref_key_ok(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) >= 1 &&
           json_string_length(v) <= NDJSON_EVENT_KEY_MAX;
}

/* The kind of line by the rules of ndjson.h, from jansson's tree (*ret_root if any). */
static enum ndjson_kind reference(const char *data, size_t size, json_t **ret_root)
{
    static const char *const known[] = {"event_key", "case_id", "subject_id", "activity",
                                        "time",      "value",   "attrs",      "retract"};
    json_error_t err;
    const char *key;
    json_t *v;

    *ret_root = NULL;
    if (size > 0 && data[size - 1] == '\r')
        size--;
    bool blank = true;
    for (size_t i = 0; i < size; i++)
        blank = blank && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n');
    if (blank)
        return NDJSON_BLANK;
    /* RFC 8259 allows no raw NUL anywhere; jansson 2.14 skips one after a literal. */
    if (memchr(data, '\0', size))
        return NDJSON_ERROR;
    json_t *root = json_loadb(data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!root)
        return NDJSON_ERROR;
    *ret_root = root;
    if (!json_is_object(root) || tree_depth(root) > NDJSON_MAX_DEPTH)
        return NDJSON_ERROR;
    json_object_foreach (root, key, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok)
            return NDJSON_ERROR;
    }
    if (json_object_get(root, "retract"))
        return json_is_true(json_object_get(root, "retract")) && json_object_size(root) == 2 &&
                       ref_key_ok(json_object_get(root, "event_key"))
                   ? NDJSON_RETRACT
                   : NDJSON_ERROR;

    const json_t *act = json_object_get(root, "activity"), *t = json_object_get(root, "time");
    const json_t *val = json_object_get(root, "value"), *attrs = json_object_get(root, "attrs");
    int64_t us;
    if (!ref_key_ok(json_object_get(root, "event_key")) || !json_is_string(act) ||
        !json_is_string(t) || !ref_id_ok(json_object_get(root, "case_id")) ||
        !ref_id_ok(json_object_get(root, "subject_id")) ||
        (val && !json_is_null(val) && !json_is_number(val)) ||
        (attrs && !json_is_null(attrs) && !json_is_object(attrs)))
        return NDJSON_ERROR;
    const char *a = json_string_value(act);
    size_t an = json_string_length(act);
    if (an < 1 || an > NDJSON_ACTIVITY_MAX ||
        strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != an)
        return NDJSON_ERROR;
    if (kpid_rfc3339_parse(json_string_value(t), json_string_length(t), &us, NULL) < 0)
        return NDJSON_ERROR;
    return NDJSON_EVENT;
}

static void check_string(const char *ours, const json_t *theirs)
{
    if (!theirs || json_is_null(theirs)) {
        CHECK(!ours);
        return;
    }
    CHECK(ours && strlen(ours) == json_string_length(theirs) &&
          memcmp(ours, json_string_value(theirs), strlen(ours)) == 0);
}

/* Our result agrees with jansson's tree. */
static void check_against_reference(const ndjson_line *line, const char *data, size_t size)
{
    json_t *root;
    enum ndjson_kind kind = reference(data, size, &root);

    CHECK(line->kind == kind);
    if (kind == NDJSON_RETRACT)
        check_string(line->event.event_key, json_object_get(root, "event_key"));
    if (kind == NDJSON_EVENT) {
        const kpid_event *ev = &line->event;
        const json_t *t = json_object_get(root, "time"), *val = json_object_get(root, "value");
        const json_t *attrs = json_object_get(root, "attrs");
        int64_t us;

        check_string(ev->event_key, json_object_get(root, "event_key"));
        check_string(ev->case_id, json_object_get(root, "case_id"));
        check_string(ev->subject_id, json_object_get(root, "subject_id"));
        check_string(ev->activity, json_object_get(root, "activity"));
        CHECK(kpid_rfc3339_parse(json_string_value(t), json_string_length(t), &us, NULL) == 0);
        CHECK(ev->time_us == us);
        CHECK(ev->has_value == (val && !json_is_null(val)));
        if (ev->has_value)
            CHECK(ev->value == json_number_value(val));
        if (!attrs || json_is_null(attrs) || json_object_size(attrs) == 0) {
            CHECK(!ev->attrs_json);
        } else {
            json_error_t err;
            json_t *ours = json_loads(ev->attrs_json, JSON_REJECT_DUPLICATES, &err);
            CHECK(ours && json_equal(ours, attrs));
            json_decref(ours);
        }
    }
    json_decref(root);
}

static void fuzz_line(const char *data, size_t size)
{
    /* Reused across inputs, as the plugin reuses it across lines. */
    static ndjson_line line;
    int r = ndjson_parse(&line, data, size);

    CHECK(r == 0 || r == -ENOMEM);
    if (r < 0)
        return;
    switch (line.kind) {
    case NDJSON_BLANK: CHECK(!line.event.event_key); break;
    case NDJSON_EVENT:
        CHECK(line.event.event_key && line.event.activity);
        CHECK(strlen(line.event.event_key) >= 1 &&
              strlen(line.event.event_key) <= NDJSON_EVENT_KEY_MAX);
        check_activity(line.event.activity);
        CHECK(!line.event.case_id ||
              (strlen(line.event.case_id) >= 1 && strlen(line.event.case_id) <= NDJSON_ID_MAX));
        CHECK(!line.event.subject_id || (strlen(line.event.subject_id) >= 1 &&
                                         strlen(line.event.subject_id) <= NDJSON_ID_MAX));
        CHECK(!line.event.has_value ||
              (line.event.value == line.event.value && line.event.value - line.event.value == 0));
        if (line.event.attrs_json) {
            json_error_t err;
            json_t *a = json_loads(line.event.attrs_json, JSON_REJECT_DUPLICATES, &err);
            CHECK(a && json_is_object(a) && json_object_size(a) > 0);
            json_decref(a);
        }
        CHECK(!line.event.origin);
        break;
    case NDJSON_RETRACT:
        CHECK(line.event.event_key && !line.event.activity);
        CHECK(strlen(line.event.event_key) >= 1 &&
              strlen(line.event.event_key) <= NDJSON_EVENT_KEY_MAX);
        break;
    case NDJSON_ERROR:
        CHECK(line.reason && !line.event.event_key);
        check_text(line.reason, NDJSON_REASON_MAX);
        break;
    default: abort();
    }
    check_against_reference(&line, data, size);
    if (size % 64 == 0)
        ndjson_line_clear(&line); /* and sometimes start over */
}

static void fuzz_time(const char *data, size_t size)
{
    int64_t us = 12345;
    const char *why = NULL;

    if (kpid_rfc3339_parse(data, size, &us, &why) == 0) {
        /* 0001-01-01T00:00:00+23:59 .. 9999-12-31T23:59:59.999999-23:59 */
        CHECK(us >= -62135683140000000 && us <= 253402387139999999);
        CHECK(size >= 20 && size <= 35);
    } else {
        CHECK(us == 12345 && why && *why);
    }
}

static void fuzz_cursor(const char *data, size_t size)
{
    char *text = malloc(size + 1), *enc1 = NULL, *enc2 = NULL, err[256];
    file_cursor c = {0}, d = {0};
    int r;

    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    r = file_cursor_decode(text, &c, err, sizeof(err));
    if (r == -EINVAL)
        check_text(err, sizeof(err));
    if (r == 0) {
        /* encode(decode(encode(x))) == encode(x); paths may have been cleaned once. */
        r = file_cursor_encode(&c, &enc1);
        CHECK(r == 0 || r == -E2BIG || r == -ENOMEM);
        if (r == 0) {
            CHECK(file_cursor_decode(enc1, &d, err, sizeof(err)) == 0);
            CHECK(d.n_files == c.n_files);
            CHECK(file_cursor_encode(&d, &enc2) == 0);
            CHECK(strcmp(enc1, enc2) == 0);
        }
    }
    free(enc1);
    free(enc2);
    file_cursor_clear(&c);
    file_cursor_clear(&d);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_line((const char *)data, size);
    fuzz_time((const char *)data, size);
    fuzz_cursor((const char *)data, size);
    return 0;
}
