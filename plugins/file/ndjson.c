#include "ndjson.h"

#include <errno.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "time/rfc3339.h"

/* What jansson is asked to parse when it words the reason for malformed JSON: the same
 * rules as the scanner below (duplicates refused, NUL refused, any top-level value). */
#define NDJSON_JANSSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Objects with more keys than this are checked for duplicates by sorting, at their end. */
#define NDJSON_DUP_LINEAR 16

/* Scanner results besides 0: malformed JSON, too deep, out of memory. */
#define E_SYNTAX (-EINVAL)
#define E_DEEP (-ELOOP)
#define E_NOMEM (-ENOMEM)

enum jtype { J_NONE, J_OBJECT, J_ARRAY, J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL };

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
    enum jtype type; /* J_NONE: absent */
    size_t str_off;  /* J_STRING: decoded, in line->strings */
    size_t str_len;
    const char *num; /* J_NUMBER: as written, in the input */
    size_t num_len;
};

/* Where a decoded key of an open object is, in line->keys. */
struct keyref {
    size_t off;
    uint32_t len;
    uint32_t hash;
};

struct parser {
    ndjson_line *line;
    const unsigned char *p, *end;
    int depth;
    struct member m[F_COUNT];
    char unknown[72]; /* the first unknown top-level key, quoted printable */
};

/* ---- buffers ---- */

static int buf_reserve(struct ndjson_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2)
            return E_NOMEM;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data)
        return E_NOMEM;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_append(struct ndjson_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (buf_reserve(b, n) < 0)
        return E_NOMEM;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static int buf_putc(struct ndjson_buf *b, char c)
{
    if (b->len == b->cap && buf_reserve(b, 1) < 0)
        return E_NOMEM;
    b->data[b->len++] = c;
    return 0;
}

static void buf_free(struct ndjson_buf *b)
{
    free(b->data);
    *b = (struct ndjson_buf){0};
}

/* ---- the scanner ---- */

static inline void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available, s[0] >= 0x80), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *s, const unsigned char *end, uint32_t *ret)
{
    uint32_t v = 0;

    if (end - s < 4)
        return E_SYNTAX;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        if (c >= '0' && c <= '9')
            c -= '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            c = (c | 0x20) - 'a' + 10;
        else
            return E_SYNTAX;
        v = v << 4 | c;
    }
    *ret = v;
    return 0;
}

static int put_utf8(struct ndjson_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(b, u, n);
}

/* The character a one-letter escape (after '\\') stands for, or 0 if there is none. */
static char unescape(unsigned char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return (char)c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}

/*
 * Scans the string at ps->p (at its opening quote). Appends its decoded bytes and a NUL
 * to dec, and its text as written, quotes included, to raw (either may be NULL).
 */
static int scan_string(struct parser *ps, struct ndjson_buf *dec, struct ndjson_buf *raw)
{
    const unsigned char *start = ps->p, *p = ps->p + 1, *end = ps->end, *run = p;
    int r;

    for (;;) {
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p >= end || *p < 0x20)
            return E_SYNTAX;
        if (*p == '"')
            break;
        if (*p >= 0x80) {
            size_t n = utf8_sequence(p, (size_t)(end - p));
            if (n == 0)
                return E_SYNTAX;
            p += n;
            continue;
        }
        /* An escape. */
        if (dec && (r = buf_append(dec, run, (size_t)(p - run))) < 0)
            return r;
        if (++p >= end)
            return E_SYNTAX;
        if (*p == 'u') {
            uint32_t cp, lo;
            if (hex4(p + 1, end, &cp) < 0)
                return E_SYNTAX;
            p += 5;
            if (cp == 0) /* PostgreSQL stores no NUL; jansson without JSON_ALLOW_NUL agrees */
                return E_SYNTAX;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return E_SYNTAX;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return E_SYNTAX;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (dec && (r = put_utf8(dec, cp)) < 0)
                return r;
            run = p;
            continue;
        }
        char c = unescape(*p++);
        if (c == 0)
            return E_SYNTAX;
        if (dec && (r = buf_putc(dec, c)) < 0)
            return r;
        run = p;
    }
    if (dec && ((r = buf_append(dec, run, (size_t)(p - run))) < 0 || (r = buf_putc(dec, 0)) < 0))
        return r;
    p++; /* the closing quote */
    if (raw && (r = buf_append(raw, start, (size_t)(p - start))) < 0)
        return r;
    ps->p = p;
    return 0;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* The double nearest to the n-character JSON number at s (grammar already checked). */
static int number_to_double(const char *s, size_t n, double *ret)
{
    char small[64], *copy = small;

    if (n >= sizeof(small)) {
        copy = malloc(n + 1);
        if (!copy)
            return E_NOMEM;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    /* A JSON number's decimal point is '.', whatever the process's locale says. */
    *ret = c_locale ? strtod_l(copy, NULL, c_locale) : strtod(copy, NULL);
    if (copy != small)
        free(copy);
    return 0;
}

/*
 * Scans the number at ps->p. Integers must fit int64 and reals a double, as jansson
 * requires (json_int_t, strtod without overflow).
 */
static int scan_number(struct parser *ps, const char **ret_s, size_t *ret_len)
{
    const unsigned char *s = ps->p, *p = s, *end = ps->end;
    bool neg = false, is_int = true, has_exp = false;
    size_t int_digits;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return E_SYNTAX;
    }
    int_digits = (size_t)(p - s) - neg;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return E_SYNTAX;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        is_int = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return E_SYNTAX;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        is_int = false;
        has_exp = true;
    }

    if (is_int) {
        if (int_digits > 19 ||
            (int_digits == 19 &&
             memcmp(s + neg, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0))
            return E_SYNTAX; /* too big an integer */
    } else if (has_exp || int_digits > 300) {
        double d;
        int r = number_to_double((const char *)s, (size_t)(p - s), &d);
        if (r < 0)
            return r;
        if (isinf(d))
            return E_SYNTAX; /* real number overflow */
    }
    *ret_s = (const char *)s;
    *ret_len = (size_t)(p - s);
    ps->p = p;
    return 0;
}

static int scan_literal(struct parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return E_SYNTAX;
    ps->p += n;
    return 0;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool key_equal(const ndjson_line *l, const struct keyref *a, const struct keyref *b)
{
    return a->hash == b->hash && a->len == b->len &&
           memcmp(l->keys.data + a->off, l->keys.data + b->off, a->len) == 0;
}

static int keyref_cmp(const void *a, const void *b, void *arg)
{
    const struct keyref *x = a, *y = b;
    const ndjson_line *l = arg;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(l->keys.data + x->off, l->keys.data + y->off, x->len);
}

/*
 * Scans the key at ps->p into line->keys, remembers it among the keys of the object
 * whose keys begin at keyref index first, and refuses a duplicate. The decoded key is
 * at *ret_key (until the next key), *ret_len bytes.
 */
static int scan_key(struct parser *ps, size_t first, struct ndjson_buf *raw, const char **ret_key,
                    size_t *ret_len)
{
    ndjson_line *l = ps->line;
    size_t off = l->keys.len;
    int r;

    if (ps->p >= ps->end || *ps->p != '"')
        return E_SYNTAX;
    r = scan_string(ps, &l->keys, raw);
    if (r < 0)
        return r;
    struct keyref k = {.off = off, .len = (uint32_t)(l->keys.len - off - 1)};
    if (l->keys.len - off - 1 > UINT32_MAX)
        return E_SYNTAX;
    k.hash = hash_bytes(l->keys.data + off, k.len);

    struct keyref *refs = (struct keyref *)(void *)l->keyrefs.data;
    size_t n = l->keyrefs.len / sizeof(struct keyref);
    if (n - first < NDJSON_DUP_LINEAR)
        for (size_t i = first; i < n; i++)
            if (key_equal(l, &refs[i], &k))
                return E_SYNTAX; /* duplicate object key */
    r = buf_append(&l->keyrefs, &k, sizeof(k));
    if (r < 0)
        return r;
    *ret_key = l->keys.data + off;
    *ret_len = k.len;
    return 0;
}

/* At the end of an object: refuses duplicates among many keys, then forgets its keys. */
static int close_object(struct parser *ps, size_t first, size_t keys_len)
{
    ndjson_line *l = ps->line;
    struct keyref *refs = (struct keyref *)(void *)l->keyrefs.data;
    size_t n = l->keyrefs.len / sizeof(struct keyref);

    if (n - first > NDJSON_DUP_LINEAR) {
        qsort_r(refs + first, n - first, sizeof(*refs), keyref_cmp, l);
        for (size_t i = first + 1; i < n; i++)
            if (key_equal(l, &refs[i - 1], &refs[i]))
                return E_SYNTAX; /* duplicate object key */
    }
    l->keyrefs.len = first * sizeof(struct keyref);
    l->keys.len = keys_len;
    return 0;
}

static int scan_value(struct parser *ps, struct ndjson_buf *raw, enum jtype *ret_type);

/* Scans the object or array at ps->p, copying it without whitespace to raw if not NULL. */
static int scan_container(struct parser *ps, struct ndjson_buf *raw)
{
    ndjson_line *l = ps->line;
    const bool object = *ps->p == '{';
    const char close = object ? '}' : ']';
    const size_t first = l->keyrefs.len / sizeof(struct keyref), keys_len = l->keys.len;
    int r;

    if (++ps->depth > NDJSON_MAX_DEPTH)
        return E_DEEP;
    if (raw && (r = buf_putc(raw, (char)*ps->p)) < 0)
        return r;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            if (object) {
                const char *key;
                size_t key_len;
                r = scan_key(ps, first, raw, &key, &key_len);
                if (r < 0)
                    return r;
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p != ':')
                    return E_SYNTAX;
                ps->p++;
                if (raw && (r = buf_putc(raw, ':')) < 0)
                    return r;
                skip_ws(ps);
            }
            r = scan_value(ps, raw, NULL);
            if (r < 0)
                return r;
            skip_ws(ps);
            if (ps->p >= ps->end)
                return E_SYNTAX;
            if (*ps->p == close) {
                ps->p++;
                break;
            }
            if (*ps->p != ',')
                return E_SYNTAX;
            ps->p++;
            if (raw && (r = buf_putc(raw, ',')) < 0)
                return r;
            skip_ws(ps);
        }
    }
    if (raw && (r = buf_putc(raw, close)) < 0)
        return r;
    ps->depth--;
    return object ? close_object(ps, first, keys_len) : 0;
}

/* Scans any value at ps->p, copying it without whitespace to raw if not NULL. */
static int scan_value(struct parser *ps, struct ndjson_buf *raw, enum jtype *ret_type)
{
    enum jtype type;
    const char *num;
    size_t num_len;
    const unsigned char *start = ps->p;
    int r;

    if (ps->p >= ps->end)
        return E_SYNTAX;
    switch (*ps->p) {
    case '{':
    case '[':
        type = *ps->p == '{' ? J_OBJECT : J_ARRAY;
        r = scan_container(ps, raw);
        break;
    case '"':
        type = J_STRING;
        r = scan_string(ps, NULL, raw);
        break;
    case 't':
        type = J_TRUE;
        r = scan_literal(ps, "true", 4);
        break;
    case 'f':
        type = J_FALSE;
        r = scan_literal(ps, "false", 5);
        break;
    case 'n':
        type = J_NULL;
        r = scan_literal(ps, "null", 4);
        break;
    default:
        type = J_NUMBER;
        r = scan_number(ps, &num, &num_len);
        break;
    }
    if (r < 0)
        return r;
    if (raw && type != J_OBJECT && type != J_ARRAY && type != J_STRING &&
        (r = buf_append(raw, start, (size_t)(ps->p - start))) < 0)
        return r;
    if (ret_type)
        *ret_type = type;
    return 0;
}

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

/* Scans one member value of the line's object into ps->m[f] (f < 0: unknown key). */
static int scan_member(struct parser *ps, int f)
{
    ndjson_line *l = ps->line;
    struct member *m = f >= 0 ? &ps->m[f] : NULL;
    int r;

    if (ps->p >= ps->end)
        return E_SYNTAX;
    if (m && *ps->p == '"' && f != F_ATTRS && f != F_VALUE && f != F_RETRACT) {
        m->str_off = l->strings.len;
        r = scan_string(ps, &l->strings, NULL);
        if (r < 0)
            return r;
        m->type = J_STRING;
        m->str_len = l->strings.len - m->str_off - 1;
        return 0;
    }
    if (m && f == F_VALUE && (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) {
        r = scan_number(ps, &m->num, &m->num_len);
        if (r < 0)
            return r;
        m->type = J_NUMBER;
        return 0;
    }
    if (m && f == F_ATTRS && *ps->p == '{') {
        l->attrs.len = 0;
        r = scan_value(ps, &l->attrs, &m->type);
        if (r < 0)
            return r;
        return buf_putc(&l->attrs, '\0');
    }
    return scan_value(ps, NULL, m ? &m->type : NULL);
}

/* Scans the line's object; the members land in ps->m. */
static int scan_line_object(struct parser *ps)
{
    int r;

    ps->depth = 1;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        const char *key;
        size_t key_len;

        r = scan_key(ps, 0, NULL, &key, &key_len);
        if (r < 0)
            return r;
        int f = field_lookup(key, key_len);
        if (f < 0 && !ps->unknown[0]) {
            ps->unknown[0] = '"';
            quote_key(ps->unknown + 1, key, key_len, 64);
            strcat(ps->unknown, "\"");
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return E_SYNTAX;
        ps->p++;
        skip_ws(ps);
        r = scan_member(ps, f);
        if (r < 0)
            return r;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return E_SYNTAX;
        if (*ps->p == '}') {
            ps->p++;
            break;
        }
        if (*ps->p != ',')
            return E_SYNTAX;
        ps->p++;
        skip_ws(ps);
    }
    return close_object(ps, 0, 0);
}

/* ---- the checks ---- */

/*
 * The helpers below return 0 when the line is fine so far, REJECTED after writing the
 * reason with fail(), or a negative errno.
 */
#define REJECTED 1

static int fail(ndjson_line *line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ndjson_line *line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line->reason_buf, sizeof(line->reason_buf), fmt, ap);
    va_end(ap);
    line->reason = line->reason_buf;
    return REJECTED;
}

static const char *type_name(enum jtype t)
{
    switch (t) {
    case J_OBJECT:
        return "an object";
    case J_ARRAY:
        return "an array";
    case J_STRING:
        return "a string";
    case J_NUMBER:
        return "a number";
    case J_TRUE:
    case J_FALSE:
        return "a boolean";
    case J_NULL:
        return "null";
    case J_NONE:
        break;
    }
    return "nothing";
}

static const char *member_string(const ndjson_line *l, const struct member *m)
{
    return l->strings.data + m->str_off;
}

static int check_event_key(ndjson_line *l, const struct member *m)
{
    if (m->type == J_NONE)
        return fail(l, "missing event_key");
    if (m->type != J_STRING)
        return fail(l, "event_key must be a string, not %s%s", type_name(m->type),
                    m->type == J_NUMBER ? " (quote numeric keys)" : "");
    if (m->str_len == 0)
        return fail(l, "event_key is empty");
    if (m->str_len > NDJSON_EVENT_KEY_MAX)
        return fail(l, "event_key longer than %d bytes", NDJSON_EVENT_KEY_MAX);
    return 0;
}

/* An optional identifier (case_id, subject_id): a string or null. */
static int check_id(ndjson_line *l, enum field f, const struct member *m)
{
    if (m->type == J_NONE || m->type == J_NULL)
        return 0;
    if (m->type != J_STRING)
        return fail(l, "%s must be a string, not %s%s", field_names[f], type_name(m->type),
                    m->type == J_NUMBER ? " (quote numeric identifiers)" : "");
    if (m->str_len == 0)
        return fail(l, "%s is empty (leave it out or use null)", field_names[f]);
    if (m->str_len > NDJSON_ID_MAX)
        return fail(l, "%s longer than %d bytes", field_names[f], NDJSON_ID_MAX);
    return 0;
}

static bool activity_is_valid(const char *s, size_t n)
{
    if (n < 1 || n > NDJSON_ACTIVITY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static int check_retraction(ndjson_line *l, const struct member m[F_COUNT])
{
    if (m[F_RETRACT].type != J_TRUE)
        return fail(l, "retract must be true when present");
    for (int f = 0; f < F_COUNT; f++)
        if (m[f].type != J_NONE && f != F_EVENT_KEY && f != F_RETRACT)
            return fail(l, "a retraction carries only event_key and retract, not %s",
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

    if (m[F_ACTIVITY].type == J_NONE)
        return fail(l, "missing activity");
    if (m[F_ACTIVITY].type != J_STRING ||
        !activity_is_valid(member_string(l, &m[F_ACTIVITY]), m[F_ACTIVITY].str_len))
        return fail(l, "activity must match [A-Z0-9_]{1,64}");

    if (m[F_TIME].type == J_NONE)
        return fail(l, "missing time");
    if (m[F_TIME].type != J_STRING)
        return fail(l, "time must be an RFC 3339 string, not %s", type_name(m[F_TIME].type));
    if (kpid_rfc3339_parse(member_string(l, &m[F_TIME]), m[F_TIME].str_len, &ev->time_us, &why) < 0)
        return fail(l, "time is not RFC 3339: %s", why);

    r = check_id(l, F_CASE_ID, &m[F_CASE_ID]);
    if (r != 0)
        return r;
    r = check_id(l, F_SUBJECT_ID, &m[F_SUBJECT_ID]);
    if (r != 0)
        return r;

    if (m[F_VALUE].type == J_NUMBER) {
        r = number_to_double(m[F_VALUE].num, m[F_VALUE].num_len, &ev->value);
        if (r < 0)
            return r;
        ev->has_value = true; /* finite: the scanner refused overflows */
    } else if (m[F_VALUE].type != J_NONE && m[F_VALUE].type != J_NULL) {
        return fail(l, "value must be a number or null, not %s", type_name(m[F_VALUE].type));
    }

    if (m[F_ATTRS].type != J_NONE && m[F_ATTRS].type != J_NULL && m[F_ATTRS].type != J_OBJECT)
        return fail(l, "attrs must be an object or null, not %s", type_name(m[F_ATTRS].type));
    if (m[F_ATTRS].type == J_OBJECT && strcmp(l->attrs.data, "{}") != 0)
        ev->attrs_json = l->attrs.data;

    ev->event_key = member_string(l, &m[F_EVENT_KEY]);
    ev->activity = member_string(l, &m[F_ACTIVITY]);
    if (m[F_CASE_ID].type == J_STRING)
        ev->case_id = member_string(l, &m[F_CASE_ID]);
    if (m[F_SUBJECT_ID].type == J_STRING)
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
        return fail(l, "invalid JSON at byte %zu%s", pos + 1,
                    pos < len && data[pos] == '\0' ? ": NUL byte" : "");
    }
    switch (json_error_code(&err)) {
    case json_error_out_of_memory:
        return E_NOMEM;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return fail(l,
                    "invalid JSON at column %d: \\u0000 (NUL) in a string; PostgreSQL "
                    "cannot store it",
                    err.column);
    default:
        make_printable(err.text);
        return fail(l, "invalid JSON at column %d: %s", err.column, err.text);
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
    enum jtype root_type = J_NONE;
    int r;

    memset(&line->event, 0, sizeof(line->event));
    line->reason = NULL;
    line->kind = NDJSON_ERROR;
    line->strings.len = line->attrs.len = line->keys.len = line->keyrefs.len = 0;

    if (len > 0 && data[len - 1] == '\r')
        len--;
    if (is_blank(data, len)) {
        line->kind = NDJSON_BLANK;
        return 0;
    }

    ps.p = (const unsigned char *)data;
    ps.end = ps.p + len;
    skip_ws(&ps);
    if (*ps.p == '{') {
        root_type = J_OBJECT;
        r = scan_line_object(&ps);
    } else {
        r = scan_value(&ps, NULL, &root_type);
    }
    if (r == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            r = E_SYNTAX; /* end of file expected */
    }

    if (r == E_SYNTAX)
        r = json_failed(line, data, len, (size_t)(ps.p - (const unsigned char *)data));
    else if (r == E_DEEP)
        r = fail(line, "JSON nested deeper than %d levels", NDJSON_MAX_DEPTH);
    else if (r == 0 && root_type != J_OBJECT)
        r = fail(line, "line is %s, not a JSON object", type_name(root_type));
    else if (r == 0 && ps.unknown[0])
        r = fail(line,
                 "unknown key %s (known: event_key, case_id, subject_id, activity, "
                 "time, value, attrs, retract)",
                 ps.unknown);
    else if (r == 0)
        r = ps.m[F_RETRACT].type != J_NONE ? check_retraction(line, ps.m) : check_event(line, ps.m);

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
    buf_free(&line->strings);
    buf_free(&line->attrs);
    buf_free(&line->keys);
    buf_free(&line->keyrefs);
    memset(line, 0, sizeof(*line));
}
