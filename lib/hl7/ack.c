/*
 * Acknowledgments: the ACK of a parsed message, and the ACK of a message too broken to
 * parse. See kpid_hl7_ack_build in hl7.h for what each field holds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hl7/hl7_private.h"

/* HL7 table 0357, message error condition codes. */
static const struct {
    unsigned code;
    const char *text;
} error_codes[] = {
    {0, "Message accepted"},
    {100, "Segment sequence error"},
    {101, "Required field missing"},
    {102, "Data type error"},
    {103, "Table value not found"},
    {104, "Value too long"},
    {200, "Unsupported message type"},
    {201, "Unsupported event code"},
    {202, "Unsupported processing id"},
    {203, "Unsupported version id"},
    {204, "Unknown key identifier"},
    {205, "Duplicate key identifier"},
    {206, "Application record locked"},
    {207, "Application internal error"},
};

const char *kpid_hl7_error_code_text(unsigned code)
{
    for (size_t i = 0; i < sizeof(error_codes) / sizeof(error_codes[0]); i++)
        if (error_codes[i].code == code)
            return error_codes[i].text;
    return NULL;
}

static const char *const ack_codes[] = {
    [KPID_HL7_AA] = "AA", [KPID_HL7_AE] = "AE", [KPID_HL7_AR] = "AR",
    [KPID_HL7_CA] = "CA", [KPID_HL7_CE] = "CE", [KPID_HL7_CR] = "CR",
};

/* What an ACK takes from the message it acknowledges. */
typedef struct ack_source {
    kpid_hl7_seps seps;
    kpid__hl7_span encoding;                     /* MSH-2 */
    kpid__hl7_span sender[2], receiver[2];       /* MSH-3/4, MSH-5/6, as written */
    kpid__hl7_span processing, version, charset; /* MSH-11, MSH-12, MSH-18 */
    const char *trigger;                         /* MSH-9.2; NULL: MSH-9 is "ACK" */
    const char *control_id;                      /* MSH-10, decoded */
    unsigned version_code;
    kpid_hl7_charset cs;
} ack_source;

static int put_str(kpid_buf *out, const char *s)
{
    return kpid_buf_append(out, s, strlen(s));
}

static int put_span(kpid_buf *out, kpid__hl7_span v)
{
    return kpid_buf_append(out, v.p, v.n);
}

static int put_escaped(kpid_buf *out, const kpid_hl7_seps *seps, const char *s)
{
    return kpid_hl7_escape(seps, s, strlen(s), out);
}

/* MSH-7: the time in the zone, YYYYMMDDHHMMSS+ZZZZ (escaped: '+' or '-' may be a
 * separator). */
static int put_time(kpid_buf *out, const kpid_hl7_seps *seps, const kpid_hl7_ack *a)
{
    char text[32];
    kpid_civil c;
    int32_t off;
    int r;

    if ((r = kpid_tz_to_local(a->tz, kpid_floor_div(a->time_us, 1000000), &c)) < 0)
        return r;
    off = c.utc_offset < 0 ? -c.utc_offset : c.utc_offset;
    r = snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02d%c%02d%02d", c.year, c.month, c.day,
                 c.hour, c.minute, c.second, c.utc_offset < 0 ? '-' : '+', (int)(off / 3600),
                 (int)(off / 60 % 60));
    return kpid_hl7_escape(seps, text, (size_t)r, out);
}

static int check(const kpid_hl7_ack *a)
{
    if ((unsigned)a->code >= sizeof(ack_codes) / sizeof(ack_codes[0]) || !a->control_id ||
        a->control_id[0] == '\0' || !kpid__hl7_text_ok(a->control_id, strlen(a->control_id)) ||
        (a->error_code != 0 && !kpid_hl7_error_code_text(a->error_code)) ||
        (a->error_text && !kpid__hl7_text_ok(a->error_text, strlen(a->error_text))))
        return -EINVAL;
    return 0;
}

static int put_msh(kpid_buf *out, const ack_source *src, const kpid_hl7_ack *a)
{
    const char f = src->seps.field, c = src->seps.component;
    int r;

    if ((r = put_str(out, "MSH")) < 0 || (r = kpid_buf_putc(out, f)) < 0 ||
        (r = put_span(out, src->encoding)) < 0)
        return r;
    for (int i = 0; i < 4; i++)
        if ((r = kpid_buf_putc(out, f)) < 0 ||
            (r = put_span(out, i < 2 ? src->receiver[i] : src->sender[i - 2])) < 0)
            return r;
    if ((r = kpid_buf_putc(out, f)) < 0 || (r = put_time(out, &src->seps, a)) < 0 ||
        (r = kpid_buf_putc(out, f)) < 0 || (r = kpid_buf_putc(out, f)) < 0 ||
        (r = put_str(out, "ACK")) < 0)
        return r;
    if (src->trigger) {
        if ((r = kpid_buf_putc(out, c)) < 0 || (r = put_escaped(out, &src->seps, src->trigger)) < 0)
            return r;
        /* MSH-9.3, the message structure, came with 2.3.1. */
        if (src->version_code != 230 &&
            ((r = kpid_buf_putc(out, c)) < 0 || (r = put_str(out, "ACK")) < 0))
            return r;
    }
    if ((r = kpid_buf_putc(out, f)) < 0 || (r = put_escaped(out, &src->seps, a->control_id)) < 0 ||
        (r = kpid_buf_putc(out, f)) < 0 || (r = put_span(out, src->processing)) < 0 ||
        (r = kpid_buf_putc(out, f)) < 0 || (r = put_span(out, src->version)) < 0)
        return r;
    if (src->charset.n > 0) {
        for (int i = 13; i <= 18; i++)
            if ((r = kpid_buf_putc(out, f)) < 0)
                return r;
        if ((r = put_span(out, src->charset)) < 0)
            return r;
    }
    return kpid_buf_putc(out, '\r');
}

/* ERR: 2.5 and later ERR-3, ERR-4, ERR-8; before, ERR-1 (and MSA-3, in put_msa). */
static int put_err(kpid_buf *out, const ack_source *src, const kpid_hl7_ack *a, bool v25)
{
    const kpid_hl7_seps *seps = &src->seps;
    const char f = seps->field;
    const char inner = v25 ? seps->component : seps->subcomponent;
    char code[16];
    int r;

    snprintf(code, sizeof(code), "%u", a->error_code);
    if ((r = put_str(out, "ERR")) < 0 || (r = kpid_buf_putc(out, f)) < 0)
        return r;
    if (v25)
        r = kpid_buf_append(out, (const char[]){f, f}, 2);
    else
        r = kpid_buf_append(out, (const char[]){seps->component, seps->component, seps->component},
                            3);
    if (r < 0 || (r = put_str(out, code)) < 0 || (r = kpid_buf_putc(out, inner)) < 0 ||
        (r = put_escaped(out, seps, kpid_hl7_error_code_text(a->error_code))) < 0 ||
        (r = kpid_buf_putc(out, inner)) < 0 || (r = put_str(out, "HL70357")) < 0)
        return r;
    if (v25) {
        const bool accepted = a->code == KPID_HL7_AA || a->code == KPID_HL7_CA;
        if ((r = kpid_buf_putc(out, f)) < 0 || (r = kpid_buf_putc(out, accepted ? 'W' : 'E')) < 0)
            return r;
        if (a->error_text && ((r = kpid_buf_append(out, (const char[]){f, f, f, f}, 4)) < 0 ||
                              (r = put_escaped(out, seps, a->error_text)) < 0))
            return r;
    }
    return kpid_buf_putc(out, '\r');
}

static int write_ack(const ack_source *src, const kpid_hl7_ack *a, kpid_buf *out)
{
    const size_t old_len = out->len;
    const char f = src->seps.field;
    const bool v25 = src->version_code >= 250;
    int r;

    if ((r = check(a)) < 0)
        return r;
    if ((r = put_msh(out, src, a)) < 0 || (r = put_str(out, "MSA")) < 0 ||
        (r = kpid_buf_putc(out, f)) < 0 || (r = put_str(out, ack_codes[a->code])) < 0 ||
        (r = kpid_buf_putc(out, f)) < 0 || (r = put_escaped(out, &src->seps, src->control_id)) < 0)
        goto fail;
    if (!v25 && a->error_code != 0 && a->error_text &&
        ((r = kpid_buf_putc(out, f)) < 0 || (r = put_escaped(out, &src->seps, a->error_text)) < 0))
        goto fail;
    if ((r = kpid_buf_putc(out, '\r')) < 0)
        goto fail;
    if (a->error_code != 0 && (r = put_err(out, src, a, v25)) < 0)
        goto fail;
    if ((r = kpid__hl7_from_utf8(src->cs, out, old_len)) < 0)
        goto fail;
    return 0;
fail:
    out->len = old_len;
    return r;
}

/* The raw text of MSH-field of m, or an empty span. */
static kpid__hl7_span msh_field(const kpid_hl7_msg *m, unsigned field)
{
    const kpid_hl7_path p = {.segment = "MSH",
                             .occurrence = 1,
                             .field = field,
                             .repetition = 1,
                             .component = 1,
                             .subcomponent = 1,
                             .level = KPID_HL7_FIELD};
    kpid__hl7_span v = {"", 0};

    if (kpid_hl7_raw_at(m, 0, &p, &v.p, &v.n) < 0)
        return (kpid__hl7_span){"", 0};
    return v;
}

int kpid_hl7_ack_build(const kpid_hl7_msg *m, const kpid_hl7_ack *a, kpid_buf *out)
{
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);
    const ack_source src = {
        .seps = h->seps,
        .encoding = msh_field(m, 2),
        .sender = {msh_field(m, 3), msh_field(m, 4)},
        .receiver = {msh_field(m, 5), msh_field(m, 6)},
        .processing = msh_field(m, 11),
        .version = msh_field(m, 12),
        .charset = h->charset_name[0] != '\0' ? msh_field(m, 18) : (kpid__hl7_span){"", 0},
        .trigger = h->trigger_event,
        .control_id = h->control_id,
        .version_code = h->version_code,
        .cs = h->charset,
    };

    return write_ack(&src, a, out);
}

/* The control id of a message that could not be parsed, or "" (see hl7.h): size - 1
 * bytes at most. */
static void salvage_control_id(const char *data, size_t len, char *id, size_t size)
{
    char seps[6];
    size_t i = 4, nseps = 1, start;
    unsigned field = 1;

    id[0] = '\0';
    if (len < 4 || memcmp(data, "MSH", 3) != 0)
        return;
    seps[0] = data[3];
    while (i < len && nseps < 6 && data[i] != seps[0] && data[i] != '\r' && data[i] != '\n')
        seps[nseps++] = data[i++];
    for (i = 3; i < len && data[i] != '\r' && data[i] != '\n' && field < 10; i++)
        if (data[i] == seps[0])
            field++;
    if (field < 10)
        return;
    for (start = i; i < len && data[i] != '\r' && data[i] != '\n' && !memchr(seps, data[i], nseps);
         i++)
        if ((unsigned char)data[i] < 0x20 || (unsigned char)data[i] > 0x7e || i - start >= size - 1)
            return;
    memcpy(id, data + start, i - start);
    id[i - start] = '\0';
}

int kpid_hl7_ack_build_fallback(const char *data, size_t len, const kpid_hl7_ack *a, kpid_buf *out)
{
    char control_id[200];
    ack_source src = {
        .seps = {'|', '^', '~', '\\', '&', '\0'},
        .encoding = {"^~\\&", 4},
        .sender = {{"", 0}, {"", 0}},
        .receiver = {{"", 0}, {"", 0}},
        .processing = {"P", 1},
        .version = {"2.5", 3},
        .charset = {"", 0},
        .control_id = control_id,
        .version_code = 250,
        .cs = KPID_HL7_ASCII,
    };

    salvage_control_id(data, len, control_id, sizeof(control_id));
    return write_ack(&src, a, out);
}
