/*
 * Paths: their text syntax (SEG[n]-F[r].C.S), and reading a message by path: decoded
 * values, raw spans, counts of segments' fields, repetitions, components and
 * subcomponents.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "hl7/hl7_private.h"

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Reads a number from 1 to max at *s (no sign, no leading zero) and moves *s past it. */
static int read_number(const char **s, unsigned max, unsigned *ret, const char **ret_why)
{
    const char *p = *s;
    unsigned v = 0;

    if (*p < '1' || *p > '9') {
        *ret_why = *p == '0' ? "number with a leading zero or 0" : "number expected";
        return -EINVAL;
    }
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > max) {
            *ret_why = "number out of range";
            return -EINVAL;
        }
        p++;
    }
    *s = p;
    *ret = v;
    return 0;
}

/* Reads an optional "[n]" at *s (1 if there is none). */
static int read_index(const char **s, unsigned max, unsigned *ret, const char **ret_why)
{
    int r;

    *ret = 1;
    if (**s != '[')
        return 0;
    (*s)++;
    if ((r = read_number(s, max, ret, ret_why)) < 0)
        return r;
    if (**s != ']') {
        *ret_why = "']' expected";
        return -EINVAL;
    }
    (*s)++;
    return 0;
}

int kpid_hl7_path_parse(const char *text, kpid_hl7_path *ret_path, const char **ret_why)
{
    kpid_hl7_path p = {.level = KPID_HL7_FIELD};
    const char *why = NULL, *s = text;
    int r = -EINVAL;

    if (!is_name_char(s[0]) || !is_name_char(s[1]) || !is_name_char(s[2])) {
        why = "a segment name of 3 uppercase letters or digits expected";
        goto out;
    }
    memcpy(p.segment, s, 3);
    s += 3;
    if ((r = read_index(&s, KPID_HL7_MAX_SEGMENTS, &p.occurrence, &why)) < 0)
        goto out;
    r = -EINVAL;
    if (*s++ != '-') {
        why = "'-' expected after the segment";
        goto out;
    }
    if ((r = read_number(&s, KPID_HL7_MAX_INDEX, &p.field, &why)) < 0)
        goto out;
    if (*s == '[')
        p.level = KPID_HL7_REPETITION;
    if ((r = read_index(&s, KPID_HL7_MAX_INDEX, &p.repetition, &why)) < 0)
        goto out;
    p.component = p.subcomponent = 1;
    if (*s == '.') {
        s++;
        p.level = KPID_HL7_COMPONENT;
        if ((r = read_number(&s, KPID_HL7_MAX_INDEX, &p.component, &why)) < 0)
            goto out;
        if (*s == '.') {
            s++;
            p.level = KPID_HL7_SUBCOMPONENT;
            if ((r = read_number(&s, KPID_HL7_MAX_INDEX, &p.subcomponent, &why)) < 0)
                goto out;
        }
    }
    if (*s != '\0') {
        why = "unexpected text after the path";
        r = -EINVAL;
        goto out;
    }
    *ret_path = p;
    return 0;
out:
    if (ret_why)
        *ret_why = why;
    return r;
}

static bool path_valid(const kpid_hl7_path *p)
{
    return is_name_char(p->segment[0]) && is_name_char(p->segment[1]) &&
           is_name_char(p->segment[2]) && p->segment[3] == '\0' && p->occurrence >= 1 &&
           p->occurrence <= KPID_HL7_MAX_SEGMENTS && p->field >= 1 &&
           p->field <= KPID_HL7_MAX_INDEX && p->repetition >= 1 &&
           p->repetition <= KPID_HL7_MAX_INDEX && p->component >= 1 &&
           p->component <= KPID_HL7_MAX_INDEX && p->subcomponent >= 1 &&
           p->subcomponent <= KPID_HL7_MAX_INDEX && p->level >= KPID_HL7_FIELD &&
           p->level <= KPID_HL7_SUBCOMPONENT;
}

/* The index of the segment p names: 0, -ENOENT when it does not occur, -EINVAL. */
static int find_segment(const kpid_hl7_msg *m, const kpid_hl7_path *p, unsigned *ret_seg)
{
    unsigned n = 0;

    if (!path_valid(p))
        return -EINVAL;
    for (unsigned i = 0; i < m->nsegs; i++)
        if (strcmp(m->segs[i].name, p->segment) == 0 && ++n == p->occurrence) {
            *ret_seg = i;
            return 0;
        }
    return -ENOENT;
}

/* Checks a path for segment seg. */
static int check_at(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p)
{
    return seg < m->nsegs && path_valid(p) && strcmp(m->segs[seg].name, p->segment) == 0 ? 0
                                                                                         : -EINVAL;
}

/* The number of pieces of v split at sep: none when v is empty. */
static unsigned pieces(kpid__hl7_span v, char sep)
{
    unsigned n = 1;

    if (v.n == 0)
        return 0;
    for (size_t i = 0; i < v.n; i++)
        if (v.p[i] == sep && n < UINT_MAX)
            n++;
    return n;
}

/* The k-th (1-based) piece of v split at sep: 0, or -ENOENT when v is empty or has
 * fewer pieces. */
static int piece(kpid__hl7_span v, char sep, unsigned k, kpid__hl7_span *ret)
{
    const char *s = v.p, *end = v.p + v.n;

    if (v.n == 0)
        return -ENOENT;
    for (unsigned i = 1; i < k; i++) {
        const char *next = memchr(s, sep, (size_t)(end - s));
        if (!next)
            return -ENOENT;
        s = next + 1;
    }
    const char *e = memchr(s, sep, (size_t)(end - s));
    *ret = (kpid__hl7_span){s, (size_t)((e ? e : end) - s)};
    return 0;
}

static bool is_null(kpid__hl7_span v)
{
    return v.n == 2 && v.p[0] == '"' && v.p[1] == '"';
}

/*
 * The span of the part at level of path p in segment seg (a checked path). With nulls,
 * returns -ENODATA as soon as the repetition, component or subcomponent is "". An empty
 * part is -ENOENT. *ret_whole is set for MSH-1 and MSH-2, whose single part is the whole.
 */
static int locate(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p, kpid_hl7_level level,
                  bool nulls, kpid__hl7_span *ret, bool *ret_whole)
{
    const kpid_hl7_seps *seps = &m->header.seps;
    const char sep[] = {seps->repetition, seps->component, seps->subcomponent};
    const unsigned index[] = {p->repetition, p->component, p->subcomponent};
    kpid__hl7_span v;
    int r;

    if ((r = kpid__hl7_field(m, seg, p->field, &v, ret_whole)) < 0)
        return r;
    for (int l = KPID_HL7_REPETITION; l <= (int)level; l++) {
        const int i = l - KPID_HL7_REPETITION;
        if (*ret_whole) {
            if (index[i] != 1)
                return -ENOENT;
        } else if ((r = piece(v, sep[i], index[i], &v)) < 0) {
            return r;
        }
        if (nulls && !*ret_whole && is_null(v))
            return -ENODATA;
    }
    if (v.n == 0)
        return -ENOENT;
    *ret = v;
    return 0;
}

int kpid_hl7_get_at(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p, kpid_buf *out)
{
    const size_t old_len = out->len;
    kpid__hl7_span v;
    bool whole;
    int r;

    if ((r = check_at(m, seg, p)) < 0 ||
        (r = locate(m, seg, p, KPID_HL7_SUBCOMPONENT, true, &v, &whole)) < 0)
        return r;
    if (whole)
        r = kpid__hl7_text_ok(v.p, v.n) ? kpid_buf_append(out, v.p, v.n) : -EILSEQ;
    else
        r = kpid__hl7_unescape(&m->header.seps, m->header.charset, v, out);
    if (r == 0 && (r = kpid_buf_putc(out, '\0')) == 0)
        out->len--;
    if (r < 0)
        out->len = old_len;
    return r;
}

int kpid_hl7_get(const kpid_hl7_msg *m, const kpid_hl7_path *p, kpid_buf *out)
{
    unsigned seg;
    int r;

    if ((r = find_segment(m, p, &seg)) < 0)
        return r;
    return kpid_hl7_get_at(m, seg, p, out);
}

int kpid_hl7_raw_at(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p,
                    const char **ret_text, size_t *ret_len)
{
    kpid__hl7_span v;
    bool whole;
    int r;

    if ((r = check_at(m, seg, p)) < 0 || (r = locate(m, seg, p, p->level, false, &v, &whole)) < 0)
        return r;
    *ret_text = v.p;
    *ret_len = v.n;
    return 0;
}

int kpid_hl7_raw(const kpid_hl7_msg *m, const kpid_hl7_path *p, const char **ret_text,
                 size_t *ret_len)
{
    unsigned seg;
    int r;

    if ((r = find_segment(m, p, &seg)) < 0)
        return r;
    return kpid_hl7_raw_at(m, seg, p, ret_text, ret_len);
}

int kpid_hl7_count_at(const kpid_hl7_msg *m, unsigned seg, const kpid_hl7_path *p,
                      kpid_hl7_level level, unsigned *ret_n)
{
    const kpid_hl7_seps *seps = &m->header.seps;
    kpid__hl7_span v;
    bool whole;
    char sep;
    int r;

    if ((r = check_at(m, seg, p)) < 0)
        return r;
    switch (level) {
    case KPID_HL7_FIELD: *ret_n = kpid__hl7_field_count(m, seg); return 0;
    case KPID_HL7_REPETITION: sep = seps->repetition; break;
    case KPID_HL7_COMPONENT: sep = seps->component; break;
    case KPID_HL7_SUBCOMPONENT: sep = seps->subcomponent; break;
    default: return -EINVAL;
    }
    r = locate(m, seg, p, (kpid_hl7_level)(level - 1), false, &v, &whole);
    if (r == -ENOENT) {
        *ret_n = 0;
        return 0;
    }
    if (r < 0)
        return r;
    *ret_n = whole ? 1 : pieces(v, sep);
    return 0;
}

int kpid_hl7_count(const kpid_hl7_msg *m, const kpid_hl7_path *p, kpid_hl7_level level,
                   unsigned *ret_n)
{
    unsigned seg;
    int r;

    r = find_segment(m, p, &seg);
    if (r == -ENOENT && (level >= KPID_HL7_FIELD && level <= KPID_HL7_SUBCOMPONENT)) {
        *ret_n = 0;
        return 0;
    }
    if (r < 0)
        return r;
    return kpid_hl7_count_at(m, seg, p, level, ret_n);
}
