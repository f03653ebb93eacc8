/*
 * The walk of a document: values, objects and arrays, the iterator, where and why a
 * scan failed. Strings are in string.c, numbers in number.c, duplicate keys in keys.c.
 */
#include "json/json.h"

#include <errno.h>
#include <string.h>

#include "json/json_private.h"

static const char *const error_texts[] = {
    [KPID_JSON_OK] = "no error",
    [KPID_JSON_E_END] = "unexpected end of input",
    [KPID_JSON_E_TOKEN] = "invalid token",
    [KPID_JSON_E_KEY] = "string or '}' expected",
    [KPID_JSON_E_COLON] = "':' expected",
    [KPID_JSON_E_MEMBER_END] = "',' or '}' expected",
    [KPID_JSON_E_ELEMENT_END] = "',' or ']' expected",
    [KPID_JSON_E_TRAILING] = "end of input expected",
    [KPID_JSON_E_CONTROL] = "control character in a string",
    [KPID_JSON_E_UTF8] = "invalid UTF-8 in a string",
    [KPID_JSON_E_ESCAPE] = "invalid escape",
    [KPID_JSON_E_SURROGATE] = "invalid Unicode surrogate escape",
    [KPID_JSON_E_NUL] = "\\u0000 (NUL) in a string",
    [KPID_JSON_E_NUMBER] = "invalid number",
    [KPID_JSON_E_INTEGER] = "integer out of range",
    [KPID_JSON_E_REAL] = "real number overflow",
    [KPID_JSON_E_DUPLICATE] = "duplicate object key",
    [KPID_JSON_E_KEY_LONG] = "object key too long",
    [KPID_JSON_E_DEPTH] = "nested too deep",
    [KPID_JSON_E_NOMEM] = "out of memory",
};

const char *kpid_json_error_text(kpid_json_error error)
{
    if ((size_t)error >= sizeof(error_texts) / sizeof(error_texts[0]) || !error_texts[error])
        return "unknown error";
    return error_texts[error];
}

int kpid__json_fail(kpid_json *js, const unsigned char *at, kpid_json_error e)
{
    js->error = e;
    js->error_pos = (size_t)(at - js->start);
    return e == KPID_JSON_E_DEPTH ? -ELOOP : e == KPID_JSON_E_NOMEM ? -ENOMEM : -EINVAL;
}

void kpid_json_begin(kpid_json *js, const char *data, size_t len, int max_depth)
{
    js->error = KPID_JSON_OK;
    js->error_pos = 0;
    js->start = js->p = (const unsigned char *)data;
    js->end = js->start + len;
    js->depth = 0;
    js->max_depth = max_depth;
    js->keys.len = js->keyrefs.len = 0;
}

kpid_json_type kpid_json_peek(kpid_json *js)
{
    kpid__json_skip_ws(js);
    if (js->p >= js->end)
        return KPID_JSON_NONE;
    switch (*js->p) {
    case '{': return KPID_JSON_OBJECT;
    case '[': return KPID_JSON_ARRAY;
    case '"': return KPID_JSON_STRING;
    case 't': return KPID_JSON_TRUE;
    case 'f': return KPID_JSON_FALSE;
    case 'n': return KPID_JSON_NULL;
    default:
        return *js->p == '-' || (*js->p >= '0' && *js->p <= '9') ? KPID_JSON_NUMBER
                                                                 : KPID_JSON_NONE;
    }
}

/* No value starts at js->p: the reason. */
static int no_value(kpid_json *js)
{
    return kpid__json_fail(js, js->p, js->p >= js->end ? KPID_JSON_E_END : KPID_JSON_E_TOKEN);
}

static int scan_literal(kpid_json *js, const char *word, size_t n)
{
    if ((size_t)(js->end - js->p) < n || memcmp(js->p, word, n) != 0)
        return kpid__json_fail(js, js->p, KPID_JSON_E_TOKEN);
    js->p += n;
    return 0;
}

/* Opens the object or array at js->p (known to be one). */
static int open_container(kpid_json *js)
{
    if (++js->depth > js->max_depth)
        return kpid__json_fail(js, js->p, KPID_JSON_E_DEPTH);
    js->p++;
    return 0;
}

/*
 * After a member or an element: at ',' moves past it and returns 1, at the closing
 * bracket moves past it and returns 0, or fails.
 */
static inline int separator(kpid_json *js, bool object)
{
    const unsigned char close = object ? '}' : ']';

    kpid__json_skip_ws(js);
    if (js->p >= js->end)
        return kpid__json_fail(js, js->p, KPID_JSON_E_END);
    if (*js->p == close) {
        js->p++;
        return 0;
    }
    if (*js->p != ',')
        return kpid__json_fail(js, js->p,
                               object ? KPID_JSON_E_MEMBER_END : KPID_JSON_E_ELEMENT_END);
    js->p++;
    return 1;
}

/* After a key: the ':' and the whitespace around it. */
static inline int colon(kpid_json *js, kpid_buf *raw)
{
    kpid__json_skip_ws(js);
    if (js->p >= js->end)
        return kpid__json_fail(js, js->p, KPID_JSON_E_END);
    if (*js->p != ':')
        return kpid__json_fail(js, js->p, KPID_JSON_E_COLON);
    js->p++;
    if (raw && kpid_buf_putc(raw, ':') < 0)
        return kpid__json_fail(js, js->p, KPID_JSON_E_NOMEM);
    kpid__json_skip_ws(js);
    return 0;
}

static int scan_value(kpid_json *js, kpid_buf *raw, kpid_json_type *ret_type);

/* Scans the object or array at js->p, copying it without whitespace to raw if not NULL. */
static int scan_container(kpid_json *js, kpid_buf *raw)
{
    const bool object = *js->p == '{';
    const unsigned char close = object ? '}' : ']';
    const size_t first = kpid__json_keys_mark(js), keys_len = js->keys.len;
    int r;

    if ((r = open_container(js)) < 0)
        return r;
    if (raw && kpid_buf_putc(raw, object ? '{' : '[') < 0)
        return kpid__json_fail(js, js->p, KPID_JSON_E_NOMEM);
    kpid__json_skip_ws(js);
    if (js->p < js->end && *js->p == close) {
        js->p++;
    } else {
        do {
            kpid__json_skip_ws(js);
            if (object) {
                const char *key;
                size_t key_len;
                if ((r = kpid__json_key(js, first, raw, &key, &key_len)) < 0 ||
                    (r = colon(js, raw)) < 0)
                    return r;
            }
            if ((r = scan_value(js, raw, NULL)) < 0)
                return r;
            if ((r = separator(js, object)) < 0)
                return r;
            if (r > 0 && raw && kpid_buf_putc(raw, ',') < 0)
                return kpid__json_fail(js, js->p, KPID_JSON_E_NOMEM);
        } while (r > 0);
    }
    if (raw && kpid_buf_putc(raw, (char)close) < 0)
        return kpid__json_fail(js, js->p, KPID_JSON_E_NOMEM);
    js->depth--;
    return object ? kpid__json_keys_close(js, first, keys_len) : 0;
}

/* Scans any value at js->p, copying it without whitespace to raw if not NULL. */
static int scan_value(kpid_json *js, kpid_buf *raw, kpid_json_type *ret_type)
{
    const unsigned char *start = js->p;
    kpid_json_type type;
    const char *num;
    size_t num_len;
    int r;

    if (js->p >= js->end)
        return no_value(js);
    switch (*js->p) {
    case '{':
    case '[':
        type = *js->p == '{' ? KPID_JSON_OBJECT : KPID_JSON_ARRAY;
        r = scan_container(js, raw);
        break;
    case '"':
        type = KPID_JSON_STRING;
        r = kpid__json_string(js, NULL, raw);
        break;
    case 't':
        type = KPID_JSON_TRUE;
        r = scan_literal(js, "true", 4);
        break;
    case 'f':
        type = KPID_JSON_FALSE;
        r = scan_literal(js, "false", 5);
        break;
    case 'n':
        type = KPID_JSON_NULL;
        r = scan_literal(js, "null", 4);
        break;
    default:
        type = KPID_JSON_NUMBER;
        r = kpid__json_number(js, &num, &num_len);
        break;
    }
    if (r < 0)
        return r;
    if (raw && type != KPID_JSON_OBJECT && type != KPID_JSON_ARRAY && type != KPID_JSON_STRING &&
        kpid_buf_append(raw, start, (size_t)(js->p - start)) < 0)
        return kpid__json_fail(js, js->p, KPID_JSON_E_NOMEM);
    if (ret_type)
        *ret_type = type;
    return 0;
}

int kpid_json_value(kpid_json *js, kpid_buf *compact, kpid_json_type *ret_type)
{
    kpid__json_skip_ws(js);
    return scan_value(js, compact, ret_type);
}

int kpid_json_string(kpid_json *js, kpid_buf *dec)
{
    kpid__json_skip_ws(js);
    if (js->p >= js->end || *js->p != '"')
        return no_value(js);
    return kpid__json_string(js, dec, NULL);
}

int kpid_json_number(kpid_json *js, const char **ret_text, size_t *ret_len)
{
    kpid__json_skip_ws(js);
    return kpid__json_number(js, ret_text, ret_len);
}

int kpid_json_enter(kpid_json *js, kpid_json_iter *ret_it)
{
    int r;

    kpid__json_skip_ws(js);
    if (js->p >= js->end || (*js->p != '{' && *js->p != '['))
        return no_value(js);
    *ret_it = (kpid_json_iter){
        .object = *js->p == '{',
        .first = kpid__json_keys_mark(js),
        .keys_len = js->keys.len,
    };
    if ((r = open_container(js)) < 0)
        return r;
    return 0;
}

int kpid_json_next(kpid_json *js, kpid_json_iter *it, const char **ret_key, size_t *ret_key_len)
{
    const char *key = NULL;
    size_t key_len = 0;
    int r;

    if (!it->started) {
        it->started = true;
        kpid__json_skip_ws(js);
        if (js->p < js->end && *js->p == (it->object ? '}' : ']')) {
            js->p++;
            r = 0;
            goto done;
        }
    } else {
        /* The value the caller left unread, then ',' or the end. */
        if (js->p == it->value && (r = scan_value(js, NULL, NULL)) < 0)
            return r;
        if ((r = separator(js, it->object)) <= 0)
            goto done;
        kpid__json_skip_ws(js);
    }
    if (it->object && ((r = kpid__json_key(js, it->first, NULL, &key, &key_len)) < 0 ||
                       (r = colon(js, NULL)) < 0))
        return r;
    it->value = js->p;
    if (ret_key)
        *ret_key = key;
    if (ret_key_len)
        *ret_key_len = key_len;
    return 1;

done:
    if (r < 0)
        return r;
    js->depth--;
    return it->object ? kpid__json_keys_close(js, it->first, it->keys_len) : 0;
}

int kpid_json_end(kpid_json *js)
{
    kpid__json_skip_ws(js);
    if (js->p != js->end)
        return kpid__json_fail(js, js->p, KPID_JSON_E_TRAILING);
    return 0;
}

void kpid_json_clear(kpid_json *js)
{
    if (!js)
        return;
    kpid_buf_free(&js->keys);
    kpid_buf_free(&js->keyrefs);
    memset(js, 0, sizeof(*js));
}
