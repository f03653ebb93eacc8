/* UTF-8 to UTF-16 and back (wide.h). */
#include "wide.h"

#include <errno.h>
#include <stdint.h>

#include "text/utf8.h"

_Static_assert(sizeof(SQLWCHAR) == 2, "SQLWCHAR must be a UTF-16 unit (unixODBC's default)");

static int put_unit(kpid_buf *out, uint32_t u)
{
    SQLWCHAR w = (SQLWCHAR)u;

    return kpid_buf_append(out, &w, sizeof(w));
}

long odbc_wide_from_utf8(kpid_buf *out, const char *s, size_t len)
{
    size_t mark = out->len;
    long units = 0;
    int r = 0;

    if (!kpid_utf8_valid(s, len))
        return -EINVAL;
    for (size_t i = 0; i < len && r == 0;) {
        uint32_t cp = 0;
        size_t k = kpid_utf8_decode(s + i, len - i, &cp);
        i += k;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            r = put_unit(out, 0xD800 + (cp >> 10));
            if (r == 0)
                r = put_unit(out, 0xDC00 + (cp & 0x3FF));
            units += 2;
        } else {
            r = put_unit(out, cp);
            units++;
        }
    }
    if (r == 0)
        r = put_unit(out, 0);
    if (r < 0) {
        out->len = mark;
        return r;
    }
    return units;
}

static int put_utf8(kpid_buf *out, uint32_t cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return kpid_buf_append(out, b, n);
}

int odbc_utf8_from_wide(kpid_buf *out, const SQLWCHAR *w, size_t n)
{
    size_t mark = out->len;
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        uint32_t cp = w[i];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < n && w[i + 1] >= 0xDC00 && w[i + 1] <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (w[i + 1] - 0xDC00u);
            i++;
        } else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
            cp = 0xFFFD;
        }
        r = put_utf8(out, cp);
    }
    if (r < 0)
        out->len = mark;
    return r;
}

size_t odbc_wide_len(const SQLWCHAR *w, size_t max)
{
    size_t n = 0;

    while (n < max && w[n])
        n++;
    return n;
}
