/*
 * Fuzz target for lib/hl7: the input is parsed as one message (with a default charset
 * chosen by its length), every part of every field is read through paths and checked
 * against hl7.h's promises, each decoded value is also read as a DTM, and the message's
 * ACK is built, parsed back and compared with the message. An input that does not parse
 * gets the fallback ACK, which must parse. The input is also read as a path. A broken
 * promise aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl7/hl7.h"
#include "text/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

/* What kpid_hl7_get promises of a value. */
static void check_text(const char *s, size_t n)
{
    CHECK(strlen(s) == n);
    CHECK(kpid_utf8_valid(s, n));
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        CHECK(c >= 0x20 || c == '\t');
        CHECK(c != 0x7f);
        CHECK(!(c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f));
    }
}

static void check_time(const char *s, size_t n, const kpid_tz *tz)
{
    kpid_hl7_time t;
    const char *why = NULL;
    int r = kpid_hl7_dtm_parse(s, n, tz, &t, &why);

    if (r < 0) {
        CHECK((r == -EINVAL || r == -ERANGE) && why);
        return;
    }
    CHECK(t.precision >= KPID_HL7_YEAR && t.precision <= KPID_HL7_FRACTION);
    CHECK(t.us >= (KPID_TZ_MIN_S - 86400) * 1000000 && t.us <= (KPID_TZ_MAX_S + 86400) * 1000000);
    CHECK(t.has_offset || t.offset_s == 0);
    CHECK(t.offset_s >= -14 * 3600 && t.offset_s <= 14 * 3600);
}

/* Reads one part by path at segment index s (its occurrence-th of its name). */
static void check_part(const kpid_hl7_msg *m, unsigned s, unsigned occurrence,
                       const kpid_hl7_path *p, kpid_buf *b, kpid_buf *b2, const kpid_tz *tz)
{
    size_t len;
    const char *text = kpid_hl7_msg_text(m, &len), *raw;
    kpid_hl7_path q = *p;
    size_t n;
    int r;

    b->len = 0;
    r = kpid_hl7_get_at(m, s, p, b);
    CHECK(r == 0 || r == -ENOENT || r == -ENODATA || r == -EILSEQ);
    if (r == 0) {
        check_text(b->data, b->len);
        CHECK(b->len > 0);
        check_time(b->data, b->len, tz);
    } else {
        CHECK(b->len == 0);
    }
    /* By name and occurrence, the same. */
    q.occurrence = occurrence;
    b2->len = 0;
    CHECK(kpid_hl7_get(m, &q, b2) == r);
    CHECK(b2->len == b->len && (r < 0 || memcmp(b->data, b2->data, b->len) == 0));
    for (int level = KPID_HL7_FIELD; level <= KPID_HL7_SUBCOMPONENT; level++) {
        q.level = (kpid_hl7_level)level;
        r = kpid_hl7_raw_at(m, s, &q, &raw, &n);
        CHECK(r == 0 || r == -ENOENT);
        if (r == 0)
            CHECK(n > 0 && raw >= text && raw + n <= text + len);
    }
}

/* Every part of every field of every segment, within a budget of reads. */
static void walk(const kpid_hl7_msg *m, const kpid_tz *tz)
{
    kpid_buf b = {0}, b2 = {0};
    unsigned budget = 20000;
    unsigned nf, nr, nc, ns;

    for (unsigned s = 0; s < kpid_hl7_segment_count(m, NULL) && budget > 0; s++) {
        kpid_hl7_path p = {.occurrence = 1,
                           .field = 1,
                           .repetition = 1,
                           .component = 1,
                           .subcomponent = 1,
                           .level = KPID_HL7_SUBCOMPONENT};
        const char *name = kpid_hl7_segment_name(m, s);
        unsigned occurrence = 0, i;

        CHECK(name && strlen(name) == 3);
        memcpy(p.segment, name, 4);
        for (int r = kpid_hl7_segment_next(m, name, 0, &i); r == 0 && i <= s;
             r = kpid_hl7_segment_next(m, name, i + 1, &i))
            occurrence++;
        CHECK(kpid_hl7_count_at(m, s, &p, KPID_HL7_FIELD, &nf) == 0);
        CHECK(nf <= KPID_HL7_MAX_INDEX);
        for (p.field = 1; p.field <= nf && budget > 0; p.field++) {
            p.repetition = p.component = p.subcomponent = 1;
            CHECK(kpid_hl7_count_at(m, s, &p, KPID_HL7_REPETITION, &nr) == 0);
            for (p.repetition = 1;
                 p.repetition <= nr && p.repetition <= KPID_HL7_MAX_INDEX && budget > 0;
                 p.repetition++) {
                p.component = p.subcomponent = 1;
                CHECK(kpid_hl7_count_at(m, s, &p, KPID_HL7_COMPONENT, &nc) == 0);
                for (p.component = 1;
                     p.component <= nc && p.component <= KPID_HL7_MAX_INDEX && budget > 0;
                     p.component++) {
                    p.subcomponent = 1;
                    CHECK(kpid_hl7_count_at(m, s, &p, KPID_HL7_SUBCOMPONENT, &ns) == 0);
                    for (p.subcomponent = 1;
                         p.subcomponent <= ns && p.subcomponent <= KPID_HL7_MAX_INDEX && budget > 0;
                         p.subcomponent++, budget--)
                        check_part(m, s, occurrence, &p, &b, &b2, tz);
                }
            }
        }
    }
    kpid_buf_free(&b);
    kpid_buf_free(&b2);
}

static const char *value(const kpid_hl7_msg *m, const char *path, kpid_buf *b)
{
    kpid_hl7_path p;

    CHECK(kpid_hl7_path_parse(path, &p, NULL) == 0);
    b->len = 0;
    if (kpid_hl7_get(m, &p, b) < 0)
        return "";
    return b->data;
}

/* The ACK of m, parsed back, says what it should. */
static void check_ack(const kpid_hl7_msg *m, const kpid_hl7_options *opts)
{
    const kpid_hl7_header *h = kpid_hl7_msg_header(m), *ah;
    const kpid_hl7_ack a = {.code = KPID_HL7_AE,
                            .control_id = "ACK|1",
                            .time_us = INT64_C(1710509413000000),
                            .error_code = 207,
                            .error_text = "fuzz ^~\\&#"};
    kpid_hl7_msg *ack = NULL;
    kpid_buf out = {0}, b = {0};

    CHECK(kpid_hl7_ack_build(m, &a, &out) == 0);
    CHECK(kpid_hl7_parse(out.data, out.len, opts, &ack, NULL) == 0);
    ah = kpid_hl7_msg_header(ack);
    CHECK(memcmp(&ah->seps, &h->seps, sizeof(h->seps)) == 0);
    CHECK(ah->charset == h->charset);
    CHECK(strcmp(ah->sending_application, h->receiving_application) == 0);
    CHECK(strcmp(ah->sending_facility, h->receiving_facility) == 0);
    CHECK(strcmp(ah->receiving_application, h->sending_application) == 0);
    CHECK(strcmp(ah->receiving_facility, h->sending_facility) == 0);
    CHECK(strcmp(ah->message_type, "ACK") == 0);
    CHECK(strcmp(ah->trigger_event, h->trigger_event) == 0);
    CHECK(strcmp(ah->control_id, "ACK|1") == 0);
    CHECK(strcmp(ah->processing_id, h->processing_id) == 0);
    CHECK(strcmp(ah->version, h->version) == 0);
    CHECK(strcmp(ah->charset_name, h->charset_name) == 0);
    CHECK(kpid_hl7_segment_count(ack, NULL) == 3);
    CHECK(strcmp(value(ack, "MSA-1", &b), "AE") == 0);
    CHECK(strcmp(value(ack, "MSA-2", &b), h->control_id) == 0);
    if (h->version_code >= 250) {
        CHECK(strcmp(value(ack, "ERR-3", &b), "207") == 0);
        CHECK(strcmp(value(ack, "ERR-8", &b), a.error_text) == 0);
    } else {
        CHECK(strcmp(value(ack, "ERR-1.4.1", &b), "207") == 0);
        CHECK(strcmp(value(ack, "MSA-3", &b), a.error_text) == 0);
    }
    kpid_hl7_free(ack);
    kpid_buf_free(&out);
    kpid_buf_free(&b);
}

static void check_fallback(const uint8_t *data, size_t size)
{
    const kpid_hl7_ack a = {.code = KPID_HL7_AR,
                            .control_id = "K",
                            .time_us = 0,
                            .error_code = 207,
                            .error_text = "unreadable"};
    kpid_hl7_msg *ack = NULL;
    kpid_buf out = {0}, b = {0};

    CHECK(kpid_hl7_ack_build_fallback((const char *)data, size, &a, &out) == 0);
    CHECK(kpid_hl7_parse(out.data, out.len, NULL, &ack, NULL) == 0);
    CHECK(strcmp(kpid_hl7_msg_header(ack)->version, "2.5") == 0);
    CHECK(strcmp(value(ack, "MSA-1", &b), "AR") == 0);
    const char *id = value(ack, "MSA-2", &b);
    CHECK(strlen(id) <= 199);
    for (const char *c = id; *c; c++)
        CHECK(*c >= 0x20 && *c <= 0x7e);
    kpid_hl7_free(ack);
    kpid_buf_free(&out);
    kpid_buf_free(&b);
}

static void check_path_text(const uint8_t *data, size_t size)
{
    char text[48];
    kpid_hl7_path p;
    const char *why = NULL;
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

    memcpy(text, data, n);
    text[n] = '\0';
    if (kpid_hl7_path_parse(text, &p, &why) < 0) {
        CHECK(why);
        return;
    }
    CHECK(p.occurrence >= 1 && p.occurrence <= KPID_HL7_MAX_SEGMENTS);
    CHECK(p.field >= 1 && p.field <= KPID_HL7_MAX_INDEX);
    CHECK(p.repetition >= 1 && p.repetition <= KPID_HL7_MAX_INDEX);
    CHECK(p.component >= 1 && p.component <= KPID_HL7_MAX_INDEX);
    CHECK(p.subcomponent >= 1 && p.subcomponent <= KPID_HL7_MAX_INDEX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kpid_tz *berlin;
    static bool loaded;
    const kpid_hl7_options opts = {.default_charset = (kpid_hl7_charset)(size % 4)};
    kpid_hl7_msg *m = NULL;
    kpid_hl7_error e = {0};
    int r;

    if (!loaded) {
        char *err = NULL;
        if (kpid_tz_load("Europe/Berlin", &berlin, &err) < 0)
            free(err);
        loaded = true;
    }
    check_path_text(data, size);
    r = kpid_hl7_parse((const char *)data, size, &opts, &m, &e);
    if (r < 0) {
        CHECK(r == -EBADMSG || r == -EILSEQ || r == -ENOTSUP || r == -ENOMEM);
        CHECK(e.what && e.offset <= 4 * size && e.segment <= KPID_HL7_MAX_SEGMENTS + 1);
        CHECK(!m);
        check_fallback(data, size);
        return 0;
    }
    size_t len;
    const char *text = kpid_hl7_msg_text(m, &len);
    CHECK(strlen(text) == len && kpid_utf8_valid(text, len));
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);
    const char *const strings[] = {
        h->sending_application,
        h->sending_facility,
        h->receiving_application,
        h->receiving_facility,
        h->message_type,
        h->trigger_event,
        h->structure,
        h->control_id,
        h->processing_id,
        h->version,
        h->accept_ack_type,
        h->application_ack_type,
        h->charset_name,
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        check_text(strings[i], strlen(strings[i]));
    CHECK(h->version_code == kpid_hl7_version_code(h->version));
    CHECK(kpid_hl7_segment_count(m, NULL) >= 1);
    CHECK(strcmp(kpid_hl7_segment_name(m, 0), "MSH") == 0);
    walk(m, berlin);
    check_ack(m, &opts);
    kpid_hl7_free(m);
    return 0;
}
