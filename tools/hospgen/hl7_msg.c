#include "hl7_msg.h"

#include <stdarg.h>
#include <string.h>

#include "time/civil.h"
#include "timefmt.h"

void hg_msg_reset(struct hg_msg *m, bool truncation, int32_t off_sec)
{
    int32_t a = off_sec < 0 ? -off_sec : off_sec;

    m->len = 0;
    m->truncation = truncation;
    m->non_latin1 = false;
    m->open_seg = false;
    m->off_sec = off_sec;
    m->off_hhmm[0] = off_sec < 0 ? '-' : '+';
    hg_fmt_uint(m->off_hhmm + 1, (uint64_t)(a / 3600), 2);
    hg_fmt_uint(m->off_hhmm + 3, (uint64_t)(a / 60 % 60), 2);
    m->off_hhmm[5] = '\0';
}

/* Appends n bytes, silently cut at the buffer's end (never reached: HG_MSG_MAX). */
static void put(struct hg_msg *m, const char *s, size_t n)
{
    if (m->len + n > sizeof(m->body))
        n = sizeof(m->body) - m->len;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0xc4 && (unsigned char)s[i] < 0xf8) /* beyond U+00FF */
            m->non_latin1 = true;
    memcpy(m->body + m->len, s, n);
    m->len += n;
}

/* Appends UTF-8 text s escaped for a value. */
static void put_escaped(struct hg_msg *m, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = NULL;
        switch (c) {
        case '|': esc = "\\F\\"; break;
        case '^': esc = "\\S\\"; break;
        case '~': esc = "\\R\\"; break;
        case '\\': esc = "\\E\\"; break;
        case '&': esc = "\\T\\"; break;
        case '#': esc = m->truncation ? "\\P\\" : NULL; break;
        default: break;
        }
        if (esc)
            put(m, esc, 3);
        else
            put(m, s, 1);
    }
}

static void vadd(struct hg_msg *m, const char *fmt, va_list ap)
{
    char num[32];

    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(m, p, 1);
            continue;
        }
        switch (*++p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            put(m, s, strlen(s));
            break;
        }
        case 'e': put_escaped(m, va_arg(ap, const char *)); break;
        case 'u': put(m, num, hg_fmt_uint(num, va_arg(ap, unsigned), 0)); break;
        case 'T': {
            const struct hg_dtm *d = va_arg(ap, const struct hg_dtm *);
            put(m, num, hg_dtm_format(num, d, m->off_sec, m->off_hhmm));
            break;
        }
        default: put(m, "%", 1); break;
        }
    }
}

void hg_msg_seg(struct hg_msg *m, const char *fmt, ...)
{
    va_list ap;

    if (m->open_seg)
        put(m, "\r", 1);
    m->open_seg = true;
    va_start(ap, fmt);
    vadd(m, fmt, ap);
    va_end(ap);
}

void hg_msg_add(struct hg_msg *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vadd(m, fmt, ap);
    va_end(ap);
}

size_t hg_dtm_format(char *out, const struct hg_dtm *d, int32_t off_sec, const char *off_hhmm)
{
    int64_t wall = d->form == HG_DTM_UTC ? d->t : d->t + (int64_t)off_sec * HG_SEC;
    int64_t days = wall / HG_DAY, rem = wall % HG_DAY;
    int64_t y;
    int mo, da;
    char *p = out;

    if (rem < 0) {
        rem += HG_DAY;
        days--;
    }
    kpid_civil_from_days(days, &y, &mo, &da);
    unsigned secs = (unsigned)(rem / HG_SEC), us = (unsigned)(rem % HG_SEC);
    p += hg_fmt_uint(p, (uint64_t)y, 4);
    p += hg_fmt_uint(p, (uint64_t)mo, 2);
    p += hg_fmt_uint(p, (uint64_t)da, 2);
    bool whole_min = d->digits == 0 && us == 0 && secs % 60 == 0;
    if (!(d->trim && whole_min && secs == 0)) {
        p += hg_fmt_uint(p, secs / 3600, 2);
        p += hg_fmt_uint(p, secs / 60 % 60, 2);
        if (!(d->trim && whole_min))
            p += hg_fmt_uint(p, secs % 60, 2);
    }
    if (d->digits) {
        char six[8];
        hg_fmt_uint(six, us, 6);
        *p++ = '.';
        memcpy(p, six, d->digits);
        p += d->digits;
    }
    if (d->form == HG_DTM_LOCAL) {
        memcpy(p, off_hhmm, 5);
        p += 5;
    } else if (d->form == HG_DTM_UTC) {
        memcpy(p, "+0000", 5);
        p += 5;
    }
    return (size_t)(p - out);
}

bool hg_is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* Appends UTF-8 text s (code points up to U+00FF only) as ISO 8859-1. */
static void put_latin1(struct hg_wbuf *wb, const char *s, size_t n)
{
    char *out = hg_wbuf_reserve(wb, n);
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c == 0xc2 || c == 0xc3) && i + 1 < n) {
            out[k++] = (char)((c & 0x03) << 6 | ((unsigned char)s[i + 1] & 0x3f));
            i++;
        } else {
            out[k++] = (char)c;
        }
    }
    hg_wbuf_commit(wb, k);
}

void hg_msg_write(struct hg_msg *m, const struct hg_msh *h, struct hg_wbuf *wb)
{
    static const char *const names[4] = {"", "UNICODE UTF-8", "8859/1", "ASCII"};
    unsigned cs = h->charset;
    char head[512];
    char *p = head;

    if (m->non_latin1 && cs != 0)
        cs = 1;
    if (cs == 3 && !hg_is_ascii(m->body, m->len))
        cs = 1;
    p = stpcpy(p, m->truncation ? "MSH|^~\\&#|" : "MSH|^~\\&|");
    p = stpcpy(p, h->app);
    *p++ = '|';
    p = stpcpy(p, h->facility);
    p = stpcpy(p, "|KPID|CITYHOSP|");
    p += hg_dtm_format(p, &h->time, m->off_sec, m->off_hhmm);
    p = stpcpy(p, "||");
    p = stpcpy(p, h->type);
    *p++ = '^';
    p = stpcpy(p, h->trigger);
    if (h->structure) {
        *p++ = '^';
        p = stpcpy(p, h->structure);
    }
    p = stpcpy(p, "|HG");
    p += hg_fmt_uint(p, h->control, 10);
    p = stpcpy(p, "|P|");
    p = stpcpy(p, h->version);
    if (cs) {
        p = stpcpy(p, "|||AL|NE|KAZ|");
        p = stpcpy(p, names[cs]);
    }
    *p++ = '\r';

    hg_wbuf_put(wb, "\x0b", 1);
    hg_wbuf_put(wb, head, (size_t)(p - head));
    if (cs == 2)
        put_latin1(wb, m->body, m->len);
    else
        hg_wbuf_put(wb, m->body, m->len);
    hg_wbuf_put(wb, "\r\x1c\r", 3);
}
