#include "ndjson.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/ident.h"
#include "time/rfc3339.h"

/* What jansson is asked to parse when it words the reason for malformed JSON: the same
 * rules as lib/json's scanner (duplicates refused, NUL refused, any top-level value). */
#define NDJSON_JANSSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

enum field {
    F_EVENT_KEY,
    F_CASE_ID,
    F_SUBJECT_ID,
    F_ACTIVITY,
    F_TIME,
    F_VALUE,
    F_ATTRS,
    F_RETRACT,
    F_COUNT,
};

static const char *const field_names[F_COUNT] = {
    [F_EVENT_KEY] = "event_key", [F_CASE_ID] = "case_id", [F_SUBJECT_ID] = "subject_id",
    [F_ACTIVITY] = "activity",   [F_TIME] = "time",       [F_VALUE] = "value",
    [F_ATTRS] = "attrs",         [F_RETRACT] = "retract",
};

/* A top-level member the parser found, for the checks that follow. */
struct member {
    kpid_json_type type; /* KPID_JSON_NONE: absent */
    size_t str_off;      /* KPID_JSON_STRING: decoded, in line->strings */
    size_t str_len;
    const char *num; /* KPID_JSON_NUMBER: as written, in the input */
    size_t num_len;
};

struct parser {
    ndjson_line *line;
    struct member m[F_COUNT];
    char unknown[72]; /* the first unknown top-level key, quoted printable */
};

/* ---- the line's members ---- */

static int field_lookup(const char *key, size_t len)
{
    for (int f = 0; f < F_COUNT; f++)
        if (strlen(field_names[f]) == len && memcmp(key, field_names[f], len) == 0)
            return f;
    return -1;
}

/* Copies at most max bytes of the valid UTF-8 key (cut at a character boundary) into
 * out (of size > max) with control characters, '"' and '\\' replaced by '?'. */
static void quote_key(char *out, const char *key, size_t n, size_t max)
{
    size_t i;

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80)
            n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        out[i] = c < 0x20 || c == 0x7F || c == '"' || c == '\\' ? '?' : (char)c;
    }
    out[i] = '\0';
}

/*
 * Reads one member value of the line's object into ps->m[f] (f < 0: an unknown key):
 * identifiers and the time decoded into line->strings, the value's number as written,
 * attrs copied without whitespace into line->attrs; anything else only checked.
 */
static int scan_member(struct parser *ps, int f)
{
    ndjson_line *l = ps->line;
    kpid_json *js = &l->json;
    struct member *m = f >= 0 ? &ps->m[f] : NULL;
    kpid_json_type type = kpid_json_peek(js);
    int r;

    if (m && type == KPID_JSON_STRING && f != F_ATTRS && f != F_VALUE && f != F_RETRACT) {
        m->str_off = l->strings.len;
        r = kpid_json_string(js, &l->strings);
        if (r < 0)
            return r;
        m->type = KPID_JSON_STRING;
        m->str_len = l->strings.len - m->str_off - 1;
        return 0;
    }
    if (m && f == F_VALUE && type == KPID_JSON_NUMBER) {
        r = kpid_json_number(js, &m->num, &m->num_len);
        if (r < 0)
            return r;
        m->type = KPID_JSON_NUMBER;
        return 0;
    }
    if (m && f == F_ATTRS && type == KPID_JSON_OBJECT) {
        l->attrs.len = 0;
        r = kpid_json_value(js, &l->attrs, &m->type);
        if (r < 0)
            return r;
        return kpid_buf_putc(&l->attrs, '\0');
    }
    return kpid_json_value(js, NULL, m ? &m->type : NULL);
}

/* Reads the line's object (js is at its '{'); the members land in ps->m. */
static int scan_line_object(struct parser *ps)
{
    kpid_json *js = &ps->line->json;
    kpid_json_iter it;
    const char *key;
    size_t key_len;
    int r;

    r = kpid_json_enter(js, &it);
    while (r >= 0 && (r = kpid_json_next(js, &it, &key, &key_len)) > 0) {
        int f = field_lookup(key, key_len);
        if (f < 0 && !ps->unknown[0]) {
            ps->unknown[0] = '"';
            quote_key(ps->unknown + 1, key, key_len, 64);
            strcat(ps->unknown, "\"");
        }
        r = scan_member(ps, f);
    }
    return r;
}

/* ---- the checks ---- */

/*
 * The helpers below return 0 when the line is fine so far, REJECTED after writing the
 * reason with FAIL(), or a negative errno.
 */
#define REJECTED 1

/* Writes the reason (printf-style) into line and is REJECTED. An expression macro, not a
 * variadic function: clang-analyzer misreads the va_list of those. */
#define FAIL(line, ...)                                                     \
    (snprintf((line)->reason_buf, sizeof((line)->reason_buf), __VA_ARGS__), \
     (line)->reason = (line)->reason_buf, REJECTED)

static const char *type_name(kpid_json_type t)
{
    switch (t) {
    case KPID_JSON_OBJECT: return "an object";
    case KPID_JSON_ARRAY: return "an array";
    case KPID_JSON_STRING: return "a string";
    case KPID_JSON_NUMBER: return "a number";
    case KPID_JSON_TRUE:
    case KPID_JSON_FALSE: return "a boolean";
    case KPID_JSON_NULL: return "null";
    case KPID_JSON_NONE: break;
    }
    return "nothing";
}

static const char *member_string(const ndjson_line *l, const struct member *m)
{
    return l->strings.data + m->str_off;
}

static int check_event_key(ndjson_line *l, const struct member *m)
{
    if (m->type == KPID_JSON_NONE)
        return FAIL(l, "missing event_key");
    if (m->type != KPID_JSON_STRING)
        return FAIL(l, "event_key must be a string, not %s%s", type_name(m->type),
                    m->type == KPID_JSON_NUMBER ? " (quote numeric keys)" : "");
    if (m->str_len == 0)
        return FAIL(l, "event_key is empty");
    if (m->str_len > NDJSON_EVENT_KEY_MAX)
        return FAIL(l, "event_key longer than %d bytes", NDJSON_EVENT_KEY_MAX);
    return 0;
}

/* An optional identifier (case_id, subject_id): a string or null. */
static int check_id(ndjson_line *l, enum field f, const struct member *m)
{
    if (m->type == KPID_JSON_NONE || m->type == KPID_JSON_NULL)
        return 0;
    if (m->type != KPID_JSON_STRING)
        return FAIL(l, "%s must be a string, not %s%s", field_names[f], type_name(m->type),
                    m->type == KPID_JSON_NUMBER ? " (quote numeric identifiers)" : "");
    if (m->str_len == 0)
        return FAIL(l, "%s is empty (leave it out or use null)", field_names[f]);
    if (m->str_len > NDJSON_ID_MAX)
        return FAIL(l, "%s longer than %d bytes", field_names[f], NDJSON_ID_MAX);
    return 0;
}

static int check_retraction(ndjson_line *l, const struct member m[F_COUNT])
{
    if (m[F_RETRACT].type != KPID_JSON_TRUE)
        return FAIL(l, "retract must be true when present");
    for (int f = 0; f < F_COUNT; f++)
        if (m[f].type != KPID_JSON_NONE && f != F_EVENT_KEY && f != F_RETRACT)
            return FAIL(l, "a retraction carries only event_key and retract, not %s",
                        field_names[f]);
    int r = check_event_key(l, &m[F_EVENT_KEY]);
    if (r != 0)
        return r;
    l->event.event_key = member_string(l, &m[F_EVENT_KEY]);
    l->kind = NDJSON_RETRACT;
    return 0;
}

static int check_event(ndjson_line *l, const struct member m[F_COUNT])
{
    kpid_event *ev = &l->event;
    const char *why;
    int r;

    r = check_event_key(l, &m[F_EVENT_KEY]);
    if (r != 0)
        return r;

    if (m[F_ACTIVITY].type == KPID_JSON_NONE)
        return FAIL(l, "missing activity");
    if (m[F_ACTIVITY].type != KPID_JSON_STRING ||
        !kpid_ident_activity_valid_n(member_string(l, &m[F_ACTIVITY]), m[F_ACTIVITY].str_len))
        return FAIL(l, "activity must match " KPID_IDENT_ACTIVITY_PATTERN);

    if (m[F_TIME].type == KPID_JSON_NONE)
        return FAIL(l, "missing time");
    if (m[F_TIME].type != KPID_JSON_STRING)
        return FAIL(l, "time must be an RFC 3339 string, not %s", type_name(m[F_TIME].type));
    if (kpid_rfc3339_parse(member_string(l, &m[F_TIME]), m[F_TIME].str_len, &ev->time_us, &why) < 0)
        return FAIL(l, "time is not RFC 3339: %s", why);

    r = check_id(l, F_CASE_ID, &m[F_CASE_ID]);
    if (r != 0)
        return r;
    r = check_id(l, F_SUBJECT_ID, &m[F_SUBJECT_ID]);
    if (r != 0)
        return r;

    if (m[F_VALUE].type == KPID_JSON_NUMBER) {
        r = kpid_json_number_to_double(m[F_VALUE].num, m[F_VALUE].num_len, &ev->value);
        if (r < 0)
            return r;
        ev->has_value = true; /* finite: the scanner refused overflows */
    } else if (m[F_VALUE].type != KPID_JSON_NONE && m[F_VALUE].type != KPID_JSON_NULL) {
        return FAIL(l, "value must be a number or null, not %s", type_name(m[F_VALUE].type));
    }

    if (m[F_ATTRS].type != KPID_JSON_NONE && m[F_ATTRS].type != KPID_JSON_NULL &&
        m[F_ATTRS].type != KPID_JSON_OBJECT)
        return FAIL(l, "attrs must be an object or null, not %s", type_name(m[F_ATTRS].type));
    if (m[F_ATTRS].type == KPID_JSON_OBJECT && strcmp(l->attrs.data, "{}") != 0)
        ev->attrs_json = l->attrs.data;

    ev->event_key = member_string(l, &m[F_EVENT_KEY]);
    ev->activity = member_string(l, &m[F_ACTIVITY]);
    if (m[F_CASE_ID].type == KPID_JSON_STRING)
        ev->case_id = member_string(l, &m[F_CASE_ID]);
    if (m[F_SUBJECT_ID].type == KPID_JSON_STRING)
        ev->subject_id = member_string(l, &m[F_SUBJECT_ID]);
    l->kind = NDJSON_EVENT;
    return 0;
}

/* Replaces in s what is not printable ASCII by '?': jansson's messages quote input. */
static void make_printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
            *s = '?';
}

/* Words the reason for malformed JSON the way jansson sees it; the scanner stopped at
 * byte pos. */
static int json_failed(ndjson_line *l, const char *data, size_t len, size_t pos)
{
    json_error_t err;
    json_t *j = json_loadb(data, len, NDJSON_JANSSON_FLAGS, &err);

    if (j) {
        /* jansson 2.14 skips a raw NUL byte after a literal or a number ("[1\0]"). */
        json_decref(j);
        return FAIL(l, "invalid JSON at byte %zu%s", pos + 1,
                    pos < len && data[pos] == '\0' ? ": NUL byte" : "");
    }
    switch (json_error_code(&err)) {
    case json_error_out_of_memory: return -ENOMEM;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return FAIL(l,
                    "invalid JSON at column %d: \\u0000 (NUL) in a string; PostgreSQL "
                    "cannot store it",
                    err.column);
    default:
        make_printable(err.text);
        return FAIL(l, "invalid JSON at column %d: %s", err.column, err.text);
    }
}

static bool is_blank(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
            return false;
    return true;
}

int ndjson_parse(ndjson_line *line, const char *data, size_t len)
{
    struct parser ps = {.line = line};
    kpid_json *js = &line->json;
    kpid_json_type root_type = KPID_JSON_NONE;
    int r;

    memset(&line->event, 0, sizeof(line->event));
    line->reason = NULL;
    line->kind = NDJSON_ERROR;
    line->strings.len = line->attrs.len = 0;

    if (len > 0 && data[len - 1] == '\r')
        len--;
    if (is_blank(data, len)) {
        line->kind = NDJSON_BLANK;
        return 0;
    }

    kpid_json_begin(js, data, len, NDJSON_MAX_DEPTH);
    if (kpid_json_peek(js) == KPID_JSON_OBJECT) {
        root_type = KPID_JSON_OBJECT;
        r = scan_line_object(&ps);
    } else {
        r = kpid_json_value(js, NULL, &root_type);
    }
    if (r == 0)
        r = kpid_json_end(js);

    if (r == -EINVAL)
        r = json_failed(line, data, len, js->error_pos);
    else if (r == -ELOOP)
        r = FAIL(line, "JSON nested deeper than %d levels", NDJSON_MAX_DEPTH);
    else if (r == 0 && root_type != KPID_JSON_OBJECT)
        r = FAIL(line, "line is %s, not a JSON object", type_name(root_type));
    else if (r == 0 && ps.unknown[0])
        r = FAIL(line,
                 "unknown key %s (known: event_key, case_id, subject_id, activity, "
                 "time, value, attrs, retract)",
                 ps.unknown);
    else if (r == 0)
        r = ps.m[F_RETRACT].type != KPID_JSON_NONE ? check_retraction(line, ps.m)
                                                   : check_event(line, ps.m);

    if (r < 0)
        line->reason = "out of memory";
    if (r != 0) {
        line->kind = NDJSON_ERROR;
        memset(&line->event, 0, sizeof(line->event));
    }
    return r < 0 ? r : 0;
}

void ndjson_line_clear(ndjson_line *line)
{
    if (!line)
        return;
    kpid_json_clear(&line->json);
    kpid_buf_free(&line->strings);
    kpid_buf_free(&line->attrs);
    memset(line, 0, sizeof(*line));
}
