/*
 * HL7 escape sequences: decoding a value (\F\ \S\ \T\ \R\ \E\ \P\ and \Xhh..\; the
 * others kept as written) and escaping text for a field. See hl7.h, "Values".
 */
#include <errno.h>
#include <string.h>

#include "hl7/hl7_private.h"
#include "text/utf8.h"

bool kpid__hl7_text_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;

    if (!kpid_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f)
            return false;
        /* C1 controls, U+0080 to U+009F, are C2 80 to C2 9F. */
        if (u[i] == 0xc2 && i + 1 < n && u[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* The value of a hex digit (is_hex). */
static unsigned hex_value(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Whether the n bytes at s are X and an even number (2 or more) of hex digits. */
static bool hex_escape(const char *s, size_t n)
{
    if (n < 3 || s[0] != 'X' || (n - 1) % 2 != 0)
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_hex(s[i]))
            return false;
    return true;
}

/* Appends the bytes that the hex digits at s (n of them, an even number) write, in
 * charset cs, to out as UTF-8. In UTF-8 they are appended as they are: the caller checks
 * the whole value, so that adjacent escapes may make one character together. */
static int put_hex(kpid_hl7_charset cs, const char *s, size_t n, kpid_buf *out)
{
    char bytes[64];
    size_t k = 0;
    int r;

    for (size_t i = 0; i < n; i += 2) {
        bytes[k++] = (char)(hex_value(s[i]) << 4 | hex_value(s[i + 1]));
        if (k == sizeof(bytes) || i + 2 == n) {
            if (cs == KPID_HL7_UTF8)
                r = kpid_buf_append(out, bytes, k);
            else
                r = kpid__hl7_to_utf8(cs, bytes, k, out, NULL);
            if (r < 0)
                return r;
            k = 0;
        }
    }
    return 0;
}

/* The character that a one-letter escape stands for, or '\0' for none. */
static char named(const kpid_hl7_seps *seps, const char *s, size_t n)
{
    if (n != 1)
        return '\0';
    switch (s[0]) {
    case 'F': return seps->field;
    case 'S': return seps->component;
    case 'T': return seps->subcomponent;
    case 'R': return seps->repetition;
    case 'E': return seps->escape;
    case 'P': return seps->truncation;
    default: return '\0';
    }
}

int kpid__hl7_unescape(const kpid_hl7_seps *seps, kpid_hl7_charset cs, kpid__hl7_span v,
                       kpid_buf *out)
{
    const size_t old_len = out->len;
    const char *s = v.p, *end = v.p + v.n;
    int r = 0;

    while (s < end) {
        const char *esc = memchr(s, seps->escape, (size_t)(end - s));
        const char *close;
        char c;

        if (!esc)
            esc = end;
        if ((r = kpid_buf_append(out, s, (size_t)(esc - s))) < 0)
            goto fail;
        if (esc == end)
            break;
        close = memchr(esc + 1, seps->escape, (size_t)(end - esc - 1));
        if (!close) {
            /* No closing escape character: the rest as written. */
            if ((r = kpid_buf_append(out, esc, (size_t)(end - esc))) < 0)
                goto fail;
            break;
        }
        const size_t body = (size_t)(close - esc - 1);
        if ((c = named(seps, esc + 1, body)) != '\0')
            r = kpid_buf_putc(out, c);
        else if (hex_escape(esc + 1, body))
            r = put_hex(cs, esc + 2, body - 1, out);
        else
            r = kpid_buf_append(out, esc, body + 2);
        if (r < 0)
            goto fail;
        s = close + 1;
    }
    if (!kpid__hl7_text_ok(out->data + old_len, out->len - old_len)) {
        r = -EILSEQ;
        goto fail;
    }
    return 0;
fail:
    out->len = old_len;
    return r;
}

int kpid_hl7_escape(const kpid_hl7_seps *seps, const char *s, size_t len, kpid_buf *out)
{
    const size_t old_len = out->len;
    int r;

    if (!kpid__hl7_text_ok(s, len))
        return -EINVAL;
    /* A value of two double quotes would read back as HL7's null. */
    if (len == 2 && s[0] == '"' && s[1] == '"') {
        const char e[7] = {seps->escape, 'X', '2', '2', '2', '2', seps->escape};
        return kpid_buf_append(out, e, sizeof(e));
    }
    for (size_t i = 0; i < len; i++) {
        const char c = s[i];
        char letter = '\0';

        if (c == seps->field)
            letter = 'F';
        else if (c == seps->component)
            letter = 'S';
        else if (c == seps->subcomponent)
            letter = 'T';
        else if (c == seps->repetition)
            letter = 'R';
        else if (c == seps->escape)
            letter = 'E';
        else if (seps->truncation != '\0' && c == seps->truncation)
            letter = 'P';
        if (letter) {
            const char e[3] = {seps->escape, letter, seps->escape};
            r = kpid_buf_append(out, e, sizeof(e));
        } else {
            r = kpid_buf_putc(out, c);
        }
        if (r < 0) {
            out->len = old_len;
            return r;
        }
    }
    return 0;
}
