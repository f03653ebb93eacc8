/*
 * Character sets: MSH-18's names (table 0211 and the lenient spellings hl7.h lists), and
 * conversions to and from UTF-8. ISO 8859 goes through glibc's iconv; ASCII and UTF-8
 * are only checked (UTF-8 by text/utf8.h, kpid's one definition of valid UTF-8).
 */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <strings.h>

#include "hl7/hl7_private.h"
#include "text/utf8.h"

static const struct {
    const char *name;
    kpid_hl7_charset cs;
} names[] = {
    {"ASCII", KPID_HL7_ASCII},        {"US-ASCII", KPID_HL7_ASCII},
    {"8859/1", KPID_HL7_8859_1},      {"ISO-8859-1", KPID_HL7_8859_1},
    {"ISO8859-1", KPID_HL7_8859_1},   {"ISO_8859-1", KPID_HL7_8859_1},
    {"LATIN1", KPID_HL7_8859_1},      {"LATIN-1", KPID_HL7_8859_1},
    {"8859/15", KPID_HL7_8859_15},    {"ISO-8859-15", KPID_HL7_8859_15},
    {"ISO8859-15", KPID_HL7_8859_15}, {"ISO_8859-15", KPID_HL7_8859_15},
    {"LATIN9", KPID_HL7_8859_15},     {"LATIN-9", KPID_HL7_8859_15},
    {"UNICODE UTF-8", KPID_HL7_UTF8}, {"UTF-8", KPID_HL7_UTF8},
    {"UTF8", KPID_HL7_UTF8},          {"UNICODE UTF8", KPID_HL7_UTF8},
};

int kpid_hl7_charset_lookup(const char *name, size_t len, kpid_hl7_charset *ret)
{
    while (len > 0 && name[0] == ' ') {
        name++;
        len--;
    }
    while (len > 0 && name[len - 1] == ' ')
        len--;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, name, len) == 0) {
            *ret = names[i].cs;
            return 0;
        }
    return -ENOTSUP;
}

const char *kpid_hl7_charset_name(kpid_hl7_charset cs)
{
    switch (cs) {
    case KPID_HL7_ASCII: return "ASCII";
    case KPID_HL7_8859_1: return "8859/1";
    case KPID_HL7_8859_15: return "8859/15";
    case KPID_HL7_UTF8: break;
    }
    return "UNICODE UTF-8";
}

/* iconv's name of an ISO 8859 charset. */
static const char *iconv_name(kpid_hl7_charset cs)
{
    return cs == KPID_HL7_8859_15 ? "ISO-8859-15" : "ISO-8859-1";
}

/*
 * Converts the len bytes at in from charset `from` to charset `to` (iconv names),
 * appending to out. Returns 0, -EILSEQ with *ret_bad the offset of the first bytes that
 * cannot be converted, or -ENOMEM; out is unchanged on failure.
 */
static int convert(const char *to, const char *from, const char *in, size_t len, kpid_buf *out,
                   size_t *ret_bad)
{
    const size_t old_len = out->len;
    char *inp = (char *)in; /* iconv's prototype; it does not write there */
    size_t in_left = len, out_left;
    char *outp;
    iconv_t cd;
    int r = 0;

    if (len == 0)
        return 0;
    /* A character takes at most 4 bytes in any of the charsets, and at least 1. */
    if (len > SIZE_MAX / 4 || (r = kpid_buf_reserve(out, len * 4)) < 0)
        return -ENOMEM;
    cd = iconv_open(to, from);
    if ((intptr_t)cd == -1)
        return errno == ENOMEM ? -ENOMEM : -EILSEQ;
    outp = out->data + out->len;
    out_left = out->cap - out->len;
    if (iconv(cd, &inp, &in_left, &outp, &out_left) == (size_t)-1 ||
        iconv(cd, NULL, NULL, &outp, &out_left) == (size_t)-1) {
        r = errno == E2BIG || errno == ENOMEM ? -ENOMEM : -EILSEQ;
        if (ret_bad)
            *ret_bad = len - in_left;
        out->len = old_len;
    } else {
        out->len = (size_t)(outp - out->data);
    }
    iconv_close(cd);
    return r;
}

int kpid__hl7_to_utf8(kpid_hl7_charset cs, const char *in, size_t len, kpid_buf *out,
                      size_t *ret_bad)
{
    size_t i = 0;

    switch (cs) {
    case KPID_HL7_8859_1:
    case KPID_HL7_8859_15: return convert("UTF-8", iconv_name(cs), in, len, out, ret_bad);
    case KPID_HL7_ASCII:
        for (; i < len; i++)
            if ((unsigned char)in[i] >= 0x80)
                break;
        break;
    case KPID_HL7_UTF8:
        while (i < len) {
            size_t n = kpid_utf8_decode(in + i, len - i, NULL);
            if (n == 0)
                break;
            i += n;
        }
        break;
    }
    if (i < len) {
        if (ret_bad)
            *ret_bad = i;
        return -EILSEQ;
    }
    return kpid_buf_append(out, in, len);
}

int kpid__hl7_from_utf8(kpid_hl7_charset cs, kpid_buf *out, size_t from)
{
    kpid_buf conv = {0};
    size_t n = out->len - from;
    int r = 0;

    switch (cs) {
    case KPID_HL7_UTF8: return 0;
    case KPID_HL7_ASCII:
        for (size_t i = from; i < out->len; i++)
            if ((unsigned char)out->data[i] >= 0x80)
                return -EILSEQ;
        return 0;
    case KPID_HL7_8859_1:
    case KPID_HL7_8859_15: break;
    }
    if (n == 0)
        return 0;
    if ((r = convert(iconv_name(cs), "UTF-8", out->data + from, n, &conv, NULL)) < 0)
        goto out;
    out->len = from;
    if (conv.len > 0 && conv.data)
        r = kpid_buf_append(out, conv.data, conv.len); /* no larger than the UTF-8 was */
out:
    kpid_buf_free(&conv);
    return r;
}
