/*
 * Parsing one message: the separators (MSH-1, MSH-2), the charset (MSH-18) and the
 * conversion to UTF-8, the index of segments and fields, the decoded header; and the
 * segment lookups. Values are read by path.c, escapes decoded by escape.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hl7/hl7_private.h"

/* Fills *error (if not NULL) and returns r. */
static int fail(kpid_hl7_error *error, int r, const char *what, size_t offset, unsigned segment)
{
    if (error) {
        error->what = what;
        error->offset = offset;
        error->segment = segment;
    }
    return r;
}

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_separator_char(char c)
{
    return c >= 0x21 && c <= 0x7e && !is_name_char(c) && !(c >= 'a' && c <= 'z');
}

static bool is_segment_end(char c)
{
    return c == '\r' || c == '\n';
}

/* Reads MSH-1 and MSH-2 from the start of the message (which starts with "MSH"). */
static int read_seps(const char *data, size_t len, kpid_hl7_seps *ret, kpid_hl7_error *error)
{
    char c[6] = {0};
    size_t n = 0;

    if (len < 4)
        return fail(error, -EBADMSG, "the message ends before MSH-1", len, 1);
    c[0] = data[3];
    if (!is_separator_char(c[0]))
        return fail(error, -EBADMSG, "MSH-1 is not a printable ASCII punctuation character", 3, 1);
    while (4 + n < len && data[4 + n] != c[0] && !is_segment_end(data[4 + n]) && n < 6)
        n++;
    if (n < 4 || n > 5)
        return fail(error, -EBADMSG, "MSH-2 does not hold 4 or 5 encoding characters", 4, 1);
    memcpy(c + 1, data + 4, n);
    for (size_t i = 1; i <= n; i++) {
        if (!is_separator_char(c[i]))
            return fail(error, -EBADMSG,
                        "an encoding character is not a printable ASCII punctuation character",
                        3 + i, 1);
        for (size_t j = 0; j < i; j++)
            if (c[j] == c[i])
                return fail(error, -EBADMSG, "two separators are the same character", 3 + i, 1);
    }
    *ret = (kpid_hl7_seps){.field = c[0],
                           .component = c[1],
                           .repetition = c[2],
                           .escape = c[3],
                           .subcomponent = c[4],
                           .truncation = c[5]};
    return 0;
}

/*
 * Reads the charset from MSH-18 of the message's bytes (MSH is ASCII in every charset
 * kpid reads): the first component of its first repetition, or def when it is empty,
 * blank or "".
 */
static int read_charset(const char *data, size_t len, const kpid_hl7_seps *seps,
                        kpid_hl7_charset def, kpid_hl7_charset *ret, kpid_hl7_error *error)
{
    size_t i = 3, start, end;
    unsigned field = 1;

    /* data[3] is MSH-1; MSH-n starts after the (n - 1)th field separator. */
    while (i < len && !is_segment_end(data[i]) && field < 18) {
        if (data[i] == seps->field)
            field++;
        i++;
    }
    if (field < 18) {
        *ret = def;
        return 0;
    }
    start = end = i;
    while (end < len && !is_segment_end(data[end]) && data[end] != seps->field &&
           data[end] != seps->repetition && data[end] != seps->component)
        end++;
    while (start < end && data[start] == ' ')
        start++;
    while (end > start && data[end - 1] == ' ')
        end--;
    if (end == start || (end - start == 2 && data[start] == '"' && data[start + 1] == '"')) {
        *ret = def;
        return 0;
    }
    if (kpid_hl7_charset_lookup(data + start, end - start, ret) < 0)
        return fail(error, -ENOTSUP, "unknown charset in MSH-18", start, 1);
    return 0;
}

/* Adds the segment text[start, end) (not empty) to the index. */
static int add_segment(kpid_hl7_msg *m, size_t start, size_t end, size_t *segs_cap,
                       size_t *fields_cap, size_t *nfields, kpid_hl7_error *error)
{
    const char *t = m->text;
    const char sep = m->header.seps.field;
    const unsigned number = m->nsegs + 1;
    kpid__hl7_seg *s;
    unsigned max;

    if (m->nsegs == KPID_HL7_MAX_SEGMENTS)
        return fail(error, -EBADMSG, "more than 65535 segments", start, number);
    if (end - start < 3 || !is_name_char(t[start]) || !is_name_char(t[start + 1]) ||
        !is_name_char(t[start + 2]) || (end - start > 3 && t[start + 3] != sep))
        return fail(error, -EBADMSG, "malformed segment name", start, number);
    if (m->nsegs == *segs_cap) {
        kpid__hl7_seg *grown = kpid_array_grow(m->segs, segs_cap, sizeof(*m->segs));
        if (!grown)
            return fail(error, -ENOMEM, "out of memory", start, number);
        m->segs = grown;
    }
    s = &m->segs[m->nsegs];
    *s = (kpid__hl7_seg){.start = start, .end = end, .first = *nfields};
    memcpy(s->name, t + start, 3);
    s->name[3] = '\0';
    /* MSH-1 is a field of its own: MSH has one field more than its separators say. */
    max = strcmp(s->name, "MSH") == 0 ? KPID_HL7_MAX_INDEX - 1 : KPID_HL7_MAX_INDEX;
    for (size_t i = start + 3; i < end; i++) {
        const char *p = memchr(t + i, sep, end - i);
        if (!p)
            break;
        i = (size_t)(p - t);
        if (s->count == max)
            return fail(error, -EBADMSG, "more than 999 fields in a segment", i, number);
        if (*nfields == *fields_cap) {
            size_t *grown = kpid_array_grow(m->fields, fields_cap, sizeof(*m->fields));
            if (!grown)
                return fail(error, -ENOMEM, "out of memory", i, number);
            m->fields = grown;
        }
        m->fields[(*nfields)++] = i + 1;
        s->count++;
    }
    m->nsegs++;
    return 0;
}

/* Indexes the segments and fields of m->text. */
static int index_text(kpid_hl7_msg *m, kpid_hl7_error *error)
{
    size_t segs_cap = 0, fields_cap = 0, nfields = 0;
    size_t pos = 0;
    int r;

    while (pos < m->len) {
        const size_t end = pos + strcspn(m->text + pos, "\r\n");
        if (end > pos &&
            (r = add_segment(m, pos, end, &segs_cap, &fields_cap, &nfields, error)) < 0)
            return r;
        pos = end + 1;
    }
    return 0;
}

/* The header's values: where they are, and what is wrong when one cannot be decoded. The
 * order is that of the destinations in read_header. */
static const struct {
    unsigned field, component;
    const char *invalid;
} header_fields[] = {
    {3, 1, "invalid value in MSH-3"},   {4, 1, "invalid value in MSH-4"},
    {5, 1, "invalid value in MSH-5"},   {6, 1, "invalid value in MSH-6"},
    {9, 1, "invalid value in MSH-9"},   {9, 2, "invalid value in MSH-9"},
    {9, 3, "invalid value in MSH-9"},   {10, 1, "invalid value in MSH-10"},
    {11, 1, "invalid value in MSH-11"}, {12, 1, "invalid value in MSH-12"},
    {15, 1, "invalid value in MSH-15"}, {16, 1, "invalid value in MSH-16"},
    {18, 1, "invalid value in MSH-18"},
};
#define HEADER_FIELDS (sizeof(header_fields) / sizeof(header_fields[0]))

/* Decodes the header's values into m->strings. */
static int read_header(kpid_hl7_msg *m, kpid_hl7_error *error)
{
    kpid_hl7_header *h = &m->header;
    const char **const dest[HEADER_FIELDS] = {
        &h->sending_application,
        &h->sending_facility,
        &h->receiving_application,
        &h->receiving_facility,
        &h->message_type,
        &h->trigger_event,
        &h->structure,
        &h->control_id,
        &h->processing_id,
        &h->version,
        &h->accept_ack_type,
        &h->application_ack_type,
        &h->charset_name,
    };
    kpid_buf strings = {0};
    size_t offsets[HEADER_FIELDS];
    int r = 0;

    for (size_t i = 0; i < HEADER_FIELDS && r == 0; i++) {
        const kpid_hl7_path p = {.segment = "MSH",
                                 .occurrence = 1,
                                 .field = header_fields[i].field,
                                 .repetition = 1,
                                 .component = header_fields[i].component,
                                 .subcomponent = 1,
                                 .level = KPID_HL7_SUBCOMPONENT};
        offsets[i] = strings.len;
        r = kpid_hl7_get_at(m, 0, &p, &strings);
        if (r == 0) {
            strings.len++; /* keep the NUL that kpid_hl7_get_at wrote */
        } else if (r == -ENOENT || r == -ENODATA) {
            r = kpid_buf_putc(&strings, '\0');
        } else if (r == -EILSEQ) {
            kpid__hl7_span span = {0};
            bool whole;
            (void)kpid__hl7_field(m, 0, p.field, &span, &whole);
            r = fail(error, -EBADMSG, header_fields[i].invalid, (size_t)(span.p - m->text), 1);
        }
    }
    if (r != 0) {
        if (r == -ENOMEM)
            fail(error, r, "out of memory", 0, 0);
        kpid_buf_free(&strings);
        return r;
    }
    m->strings = strings.data;
    for (size_t i = 0; i < HEADER_FIELDS; i++)
        *dest[i] = m->strings + offsets[i];
    h->version_code = kpid_hl7_version_code(h->version);
    return 0;
}

int kpid_hl7_parse(const char *data, size_t len, const kpid_hl7_options *opts,
                   kpid_hl7_msg **ret_msg, kpid_hl7_error *error)
{
    const kpid_hl7_options defaults = {0};
    kpid_hl7_msg *m = NULL;
    kpid_buf text = {0};
    kpid_hl7_seps seps;
    kpid_hl7_charset cs;
    const char *nul;
    size_t bad = 0;
    int r;

    if (!opts)
        opts = &defaults;
    if (opts->default_charset < KPID_HL7_UTF8 || opts->default_charset > KPID_HL7_8859_15)
        return fail(error, -EINVAL, "invalid default charset", 0, 0);
    if (len > 0 && (nul = memchr(data, '\0', len)))
        return fail(error, -EILSEQ, "NUL byte in the message", (size_t)(nul - data), 0);
    if (len < 3 || memcmp(data, "MSH", 3) != 0)
        return fail(error, -EBADMSG, "the message does not start with MSH", 0, 1);
    if ((r = read_seps(data, len, &seps, error)) < 0 ||
        (r = read_charset(data, len, &seps, opts->default_charset, &cs, error)) < 0)
        return r;
    if ((r = kpid__hl7_to_utf8(cs, data, len, &text, &bad)) < 0) {
        r = fail(error, r,
                 r == -EILSEQ ? "bytes not valid in the message's charset" : "out of memory", bad,
                 0);
        goto out;
    }
    if (kpid_buf_putc(&text, '\0') < 0 || !(m = calloc(1, sizeof(*m)))) {
        r = fail(error, -ENOMEM, "out of memory", 0, 0);
        goto out;
    }
    m->text = text.data;
    m->len = text.len - 1;
    text = (kpid_buf){0};
    m->header.seps = seps;
    m->header.charset = cs;
    if ((r = index_text(m, error)) < 0 || (r = read_header(m, error)) < 0)
        goto out;
    *ret_msg = m;
    m = NULL;
out:
    kpid_buf_free(&text);
    kpid_hl7_free(m);
    return r;
}

kpid_hl7_msg *kpid_hl7_free(kpid_hl7_msg *m)
{
    if (m) {
        free(m->text);
        free(m->segs);
        free(m->fields);
        free(m->strings);
        free(m);
    }
    return NULL;
}

const kpid_hl7_header *kpid_hl7_msg_header(const kpid_hl7_msg *m)
{
    return &m->header;
}

const char *kpid_hl7_msg_text(const kpid_hl7_msg *m, size_t *ret_len)
{
    *ret_len = m->len;
    return m->text;
}

static const struct {
    const char *text;
    unsigned code;
} versions[] = {
    {"2.3", 230}, {"2.3.1", 231}, {"2.4", 240}, {"2.5", 250},   {"2.5.1", 251}, {"2.6", 260},
    {"2.7", 270}, {"2.7.1", 271}, {"2.8", 280}, {"2.8.1", 281}, {"2.8.2", 282},
};

unsigned kpid_hl7_version_code(const char *version)
{
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        if (strcmp(version, versions[i].text) == 0)
            return versions[i].code;
    return 0;
}

bool kpid_hl7_version_supported(unsigned code)
{
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        if (versions[i].code == code)
            return true;
    return false;
}

int kpid__hl7_field(const kpid_hl7_msg *m, unsigned seg, unsigned field, kpid__hl7_span *ret,
                    bool *ret_whole)
{
    const kpid__hl7_seg *s;
    unsigned i = field - 1;
    size_t start, end;

    *ret_whole = false;
    if (!m->segs || seg >= m->nsegs)
        return -ENOENT;
    s = &m->segs[seg];
    if (strcmp(s->name, "MSH") == 0) {
        if (field == 1) {
            if (s->end - s->start < 4)
                return -ENOENT;
            *ret = (kpid__hl7_span){m->text + s->start + 3, 1};
            *ret_whole = true;
            return 0;
        }
        *ret_whole = field == 2;
        i = field - 2;
    }
    if (field == 0 || i >= s->count || !m->fields)
        return -ENOENT;
    start = m->fields[s->first + i];
    end = i + 1 < s->count ? m->fields[s->first + i + 1] - 1 : s->end;
    *ret = (kpid__hl7_span){m->text + start, end - start};
    return 0;
}

unsigned kpid__hl7_field_count(const kpid_hl7_msg *m, unsigned seg)
{
    const kpid__hl7_seg *s;

    if (!m->segs || seg >= m->nsegs)
        return 0;
    s = &m->segs[seg];
    if (strcmp(s->name, "MSH") == 0)
        return s->count > 0 ? s->count + 1 : 0;
    return s->count;
}

unsigned kpid_hl7_segment_count(const kpid_hl7_msg *m, const char *name)
{
    unsigned n = 0;

    if (!name)
        return m->nsegs;
    for (unsigned i = 0; i < m->nsegs; i++)
        if (strcmp(m->segs[i].name, name) == 0)
            n++;
    return n;
}

const char *kpid_hl7_segment_name(const kpid_hl7_msg *m, unsigned index)
{
    return index < m->nsegs ? m->segs[index].name : NULL;
}

int kpid_hl7_segment_next(const kpid_hl7_msg *m, const char *name, unsigned from,
                          unsigned *ret_index)
{
    for (unsigned i = from; i < m->nsegs; i++)
        if (!name || strcmp(m->segs[i].name, name) == 0) {
            *ret_index = i;
            return 0;
        }
    return -ENOENT;
}
