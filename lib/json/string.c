/*
 * JSON strings: strict UTF-8 (the rules of text/utf8.h), escapes (\u surrogate pairs
 * included) decoded, control characters and \u0000 refused.
 */
#include <stdint.h>

#include "json/json_private.h"
#include "text/utf8.h"

/* Reads the four hex digits at s (end bounds them) into *ret; false if they are not. */
static bool hex4(const unsigned char *s, const unsigned char *end, uint32_t *ret)
{
    uint32_t v = 0;

    if (end - s < 4)
        return false;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        if (c >= '0' && c <= '9')
            c -= '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            c = (c | 0x20) - 'a' + 10;
        else
            return false;
        v = v << 4 | c;
    }
    *ret = v;
    return true;
}

static int put_utf8(kpid_buf *b, uint32_t cp)
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
    return kpid_buf_append(b, u, n);
}

/* The character a one-letter escape (after '\\') stands for, or 0 if there is none. */
static char unescape(unsigned char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/': return (char)c;
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

int kpid__json_string(kpid_json *js, kpid_buf *dec, kpid_buf *raw)
{
    const unsigned char *start = js->p, *p = js->p + 1, *end = js->end, *run = p;

    for (;;) {
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p >= end)
            return kpid__json_fail(js, p, KPID_JSON_E_END);
        if (*p < 0x20)
            return kpid__json_fail(js, p, KPID_JSON_E_CONTROL);
        if (*p == '"')
            break;
        if (*p >= 0x80) {
            size_t n = kpid_utf8_decode((const char *)p, (size_t)(end - p), NULL);
            if (n == 0)
                return kpid__json_fail(js, p, KPID_JSON_E_UTF8);
            p += n;
            continue;
        }
        /* An escape. */
        const unsigned char *esc = p;
        if (dec && kpid_buf_append(dec, run, (size_t)(p - run)) < 0)
            return kpid__json_fail(js, p, KPID_JSON_E_NOMEM);
        if (++p >= end)
            return kpid__json_fail(js, p, KPID_JSON_E_END);
        if (*p == 'u') {
            uint32_t cp, lo;
            if (!hex4(p + 1, end, &cp))
                return kpid__json_fail(js, esc, KPID_JSON_E_ESCAPE);
            p += 5;
            if (cp == 0) /* PostgreSQL stores no NUL; jansson without JSON_ALLOW_NUL agrees */
                return kpid__json_fail(js, esc, KPID_JSON_E_NUL);
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return kpid__json_fail(js, esc, KPID_JSON_E_SURROGATE);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return kpid__json_fail(js, esc, KPID_JSON_E_SURROGATE);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (dec && put_utf8(dec, cp) < 0)
                return kpid__json_fail(js, esc, KPID_JSON_E_NOMEM);
            run = p;
            continue;
        }
        char c = unescape(*p++);
        if (c == 0)
            return kpid__json_fail(js, esc, KPID_JSON_E_ESCAPE);
        if (dec && kpid_buf_putc(dec, c) < 0)
            return kpid__json_fail(js, esc, KPID_JSON_E_NOMEM);
        run = p;
    }
    if (dec && (kpid_buf_append(dec, run, (size_t)(p - run)) < 0 || kpid_buf_putc(dec, 0) < 0))
        return kpid__json_fail(js, p, KPID_JSON_E_NOMEM);
    p++; /* the closing quote */
    if (raw && kpid_buf_append(raw, start, (size_t)(p - start)) < 0)
        return kpid__json_fail(js, p, KPID_JSON_E_NOMEM);
    js->p = p;
    return 0;
}
