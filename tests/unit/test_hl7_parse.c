/* Unit tests of lib/hl7's parse: realistic ADT^A01, ORU^R01 and SIU^S12 messages
 * (fictional patients) read by value, non-default separators, the 2.7 truncation
 * character, CR/LF/CRLF segment ends, charsets (8859/1, 8859/15, UTF-8, ASCII, unknown,
 * invalid bytes), malformed messages with what and where, limits, and every cut of
 * valid messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hl7/hl7.h"

#define ADT_A01                                                                               \
    "MSH|^~\\&|KPIDADT|KLINIKUM NORD^1.2.276.0.76.3.1.123^ISO|LABSYS|ZENTRALLABOR|"           \
    "20240315143012+0100||ADT^A01^ADT_A01|MSG-20240315-0001|P|2.5.1|||AL|NE||UNICODE UTF-8\r" \
    "EVN|A01|20240315143000+0100\r"                                                           \
    "PID|1||4711^^^KLINIKUM NORD^PI~X123456789^^^AOK BAYERN&1.2.276.0.76.4.8&ISO^NII||"       \
    "Mustermann^Erika^Maria^^Dr.||19640812|F|||Hauptstra\xc3\x9f"                             \
    "e 5^^M\xc3\xbc"                                                                          \
    "nchen^^80331^DE||^PRN^PH^^49^89^1234567\r"                                               \
    "NK1|1|Mustermann^Max|SPO^Spouse\r"                                                       \
    "PV1|1|I|STA3^Zi12^B1^KLINIKUM NORD||||1234^Weber^Anna^^^Dr.|||INN||||1|||"               \
    "1234^Weber^Anna^^^Dr.|IP|V2024-0815|||||||||||||||||||||||||20240315140000+0100\r"

#define ORU_R01                                                                            \
    "MSH|^~\\&|LABSYS|ZENTRALLABOR|KPIDADT|KLINIKUM NORD|20240316081500||ORU^R01^ORU_R01|" \
    "LAB-000123|P|2.5\r"                                                                   \
    "PID|1||4711^^^KLINIKUM NORD^PI||Mustermann^Erika\r"                                   \
    "OBR|1|ORD-555|LAB-555|24331-1^Lipid panel^LN|||20240316070000\r"                      \
    "OBX|1|NM|2093-3^Cholesterol^LN||212|mg/dL|<200|H|||F\r"                               \
    "OBX|2|NM|2571-8^Triglyceride^LN||148.5|mg/dL|<150|N|||F\r"                            \
    "OBX|3|ST|13457-7^LDL calc^LN||\"\"|mg/dL|||||X\r"                                     \
    "NTE|1||Probe leicht h\xc3\xa4molytisch\r"

#define SIU_S12                                                                                   \
    "MSH|^~\\&|SCHED|KLINIKUM NORD|KPIDADT|KLINIKUM NORD|20240320101010||SIU^S12^SIU_S12|SCH-77|" \
    "P|2.5\r"                                                                                     \
    "SCH|APT-1001^SCHED|APT-1001^SCHED|||||CHECKUP^Vorsorge|NORMAL|30|min|"                       \
    "^^30^20240402090000+0200^20240402093000+0200|||||DRW^Weber^Anna|||||||||BOOKED\r"            \
    "TQ1|1||||||20240402090000+0200|20240402093000+0200\r"                                        \
    "PID|1||4712^^^KLINIKUM NORD^PI||Beispiel^Jonas||19901201|M\r"                                \
    "RGS|1|A\r"                                                                                   \
    "AIS|1|A|CHECKUP^Vorsorge|20240402090000+0200|0|min|30|min\r"                                 \
    "AIP|1|A|1234^Weber^Anna|ATT\r"

static kpid_hl7_msg *parse_n(const char *data, size_t len, const kpid_hl7_options *opts)
{
    kpid_hl7_msg *m = NULL;
    kpid_hl7_error e = {0};
    int r = kpid_hl7_parse(data, len, opts, &m, &e);

    if (r < 0)
        fail_msg("parse: %d %s at %zu segment %u", r, e.what, e.offset, e.segment);
    assert_non_null(m);
    return m;
}

static kpid_hl7_msg *parse(const char *text)
{
    return parse_n(text, strlen(text), NULL);
}

static void expect(const kpid_hl7_msg *m, const char *path, const char *expected)
{
    kpid_hl7_path p;
    kpid_buf b = {0};
    const char *why = NULL;
    int r;

    assert_int_equal(kpid_hl7_path_parse(path, &p, &why), 0);
    r = kpid_hl7_get(m, &p, &b);
    if (r < 0)
        fail_msg("%s: %d", path, r);
    assert_int_equal(strlen(b.data), b.len);
    assert_string_equal(b.data, expected);
    kpid_buf_free(&b);
}

static void expect_r(const kpid_hl7_msg *m, const char *path, int expected)
{
    kpid_hl7_path p;
    kpid_buf b = {0};

    assert_int_equal(kpid_hl7_path_parse(path, &p, NULL), 0);
    assert_int_equal(kpid_hl7_get(m, &p, &b), expected);
    assert_int_equal(b.len, 0);
    kpid_buf_free(&b);
}

static void expect_fail(const char *data, size_t len, const kpid_hl7_options *opts, int r,
                        const char *what, size_t offset, unsigned segment)
{
    kpid_hl7_msg *m = (kpid_hl7_msg *)&m; /* must stay untouched */
    kpid_hl7_error e = {0};

    int got = kpid_hl7_parse(data, len, opts, &m, &e);

    if (got != r || !e.what || strcmp(e.what, what) != 0 || e.offset != offset ||
        e.segment != segment)
        fail_msg("expected \"%s\", got %d \"%s\" at %zu segment %u", what, got,
                 e.what ? e.what : "", e.offset, e.segment);
    assert_ptr_equal(m, (kpid_hl7_msg *)&m);
    assert_string_equal(e.what, what);
    assert_int_equal(e.offset, offset);
    assert_int_equal(e.segment, segment);
}

static void test_adt_a01(void **unused)
{
    kpid_hl7_msg *m = parse(ADT_A01);
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);

    assert_int_equal(h->seps.field, '|');
    assert_int_equal(h->seps.component, '^');
    assert_int_equal(h->seps.repetition, '~');
    assert_int_equal(h->seps.escape, '\\');
    assert_int_equal(h->seps.subcomponent, '&');
    assert_int_equal(h->seps.truncation, '\0');
    assert_string_equal(h->sending_application, "KPIDADT");
    assert_string_equal(h->sending_facility, "KLINIKUM NORD");
    assert_string_equal(h->receiving_application, "LABSYS");
    assert_string_equal(h->receiving_facility, "ZENTRALLABOR");
    assert_string_equal(h->message_type, "ADT");
    assert_string_equal(h->trigger_event, "A01");
    assert_string_equal(h->structure, "ADT_A01");
    assert_string_equal(h->control_id, "MSG-20240315-0001");
    assert_string_equal(h->processing_id, "P");
    assert_string_equal(h->version, "2.5.1");
    assert_int_equal(h->version_code, 251);
    assert_true(kpid_hl7_version_supported(h->version_code));
    assert_string_equal(h->accept_ack_type, "AL");
    assert_string_equal(h->application_ack_type, "NE");
    assert_string_equal(h->charset_name, "UNICODE UTF-8");
    assert_int_equal(h->charset, KPID_HL7_UTF8);

    assert_int_equal(kpid_hl7_segment_count(m, NULL), 5);
    assert_int_equal(kpid_hl7_segment_count(m, "PID"), 1);
    assert_int_equal(kpid_hl7_segment_count(m, "OBX"), 0);
    assert_string_equal(kpid_hl7_segment_name(m, 0), "MSH");
    assert_string_equal(kpid_hl7_segment_name(m, 4), "PV1");
    assert_null(kpid_hl7_segment_name(m, 5));

    expect(m, "MSH-1", "|");
    expect(m, "MSH-2", "^~\\&");
    expect(m, "MSH-4.2", "1.2.276.0.76.3.1.123");
    expect(m, "MSH-9.2", "A01");
    expect(m, "EVN-2", "20240315143000+0100");
    /* Two identifiers from two assigning authorities. */
    expect(m, "PID-3", "4711");
    expect(m, "PID-3[1].4", "KLINIKUM NORD");
    expect(m, "PID-3[1].5", "PI");
    expect(m, "PID-3[2]", "X123456789");
    expect(m, "PID-3[2].4", "AOK BAYERN");
    expect(m, "PID-3[2].4.1", "AOK BAYERN");
    expect(m, "PID-3[2].4.2", "1.2.276.0.76.4.8");
    expect(m, "PID-3[2].4.3", "ISO");
    expect(m, "PID-3[2].5", "NII");
    expect_r(m, "PID-3[3]", -ENOENT);
    expect_r(m, "PID-3[2].4.4", -ENOENT);
    expect(m, "PID-5", "Mustermann");
    expect(m, "PID-5.2", "Erika");
    expect(m, "PID-5.5", "Dr.");
    expect(m, "PID-7", "19640812");
    expect(m, "PID-11",
           "Hauptstra\xc3\x9f"
           "e 5");
    expect(m, "PID-11.3", "M\xc3\xbcnchen");
    expect(m, "PID-13.7", "1234567");
    expect(m, "NK1-3.2", "Spouse");
    expect(m, "PV1-3.4", "KLINIKUM NORD");
    expect(m, "PV1-19", "V2024-0815");
    expect(m, "PV1-44", "20240315140000+0100");
    expect_r(m, "PV1-45", -ENOENT);
    expect_r(m, "PID[2]-3", -ENOENT);
    expect_r(m, "ZZZ-1", -ENOENT);
    kpid_hl7_free(m);
}

static void test_oru_r01(void **unused)
{
    static const char *const values[] = {"212", "148.5", NULL};
    kpid_hl7_msg *m = parse(ORU_R01);
    kpid_hl7_path obx5;
    kpid_buf b = {0};
    unsigned i, n = 0;
    int r;

    assert_int_equal(kpid_hl7_segment_count(m, "OBX"), 3);
    expect(m, "OBX[2]-5.1", "148.5");
    expect(m, "OBX[2]-3.2", "Triglyceride");
    expect(m, "OBX[1]-8", "H");
    expect_r(m, "OBX[3]-5", -ENODATA);
    expect(m, "OBX[3]-11", "X");
    expect(m, "NTE-3", "Probe leicht h\xc3\xa4molytisch");
    expect_r(m, "OBX[4]-5", -ENOENT);

    /* For each OBX, OBX-5, relative to the segment. */
    assert_int_equal(kpid_hl7_path_parse("OBX-5", &obx5, NULL), 0);
    for (r = kpid_hl7_segment_next(m, "OBX", 0, &i); r == 0;
         r = kpid_hl7_segment_next(m, "OBX", i + 1, &i), n++) {
        assert_string_equal(kpid_hl7_segment_name(m, i), "OBX");
        assert_int_equal(i, 3 + n);
        b.len = 0;
        r = kpid_hl7_get_at(m, i, &obx5, &b);
        if (values[n]) {
            assert_int_equal(r, 0);
            assert_string_equal(b.data, values[n]);
        } else {
            assert_int_equal(r, -ENODATA);
        }
    }
    assert_int_equal(r, -ENOENT);
    assert_int_equal(n, 3);
    assert_int_equal(kpid_hl7_segment_next(m, NULL, 6, &i), 0);
    assert_int_equal(i, 6);
    assert_int_equal(kpid_hl7_segment_next(m, NULL, 7, &i), -ENOENT);
    /* The path must name the segment it is read in. */
    assert_int_equal(kpid_hl7_get_at(m, 2, &obx5, &b), -EINVAL);
    assert_int_equal(kpid_hl7_get_at(m, 7, &obx5, &b), -EINVAL);
    kpid_buf_free(&b);
    kpid_hl7_free(m);
}

static void test_siu_s12(void **unused)
{
    kpid_hl7_msg *m = parse(SIU_S12);
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);
    kpid_hl7_path p;
    kpid_hl7_time t;

    assert_string_equal(h->message_type, "SIU");
    assert_string_equal(h->trigger_event, "S12");
    assert_string_equal(h->structure, "SIU_S12");
    assert_string_equal(h->accept_ack_type, "");
    assert_string_equal(h->charset_name, "");
    expect(m, "SCH-1", "APT-1001");
    expect(m, "SCH-7.2", "Vorsorge");
    expect(m, "SCH-11.3", "30");
    expect(m, "SCH-16.2", "Weber");
    expect(m, "SCH-25", "BOOKED");
    expect(m, "AIS-3", "CHECKUP");
    expect(m, "AIP-3.3", "Anna");
    expect(m, "PID-5.2", "Jonas");
    assert_int_equal(kpid_hl7_path_parse("TQ1-7", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, NULL, &t, NULL), 0);
    assert_int_equal(t.us, INT64_C(1712041200) * 1000000); /* 2024-04-02T07:00:00Z */
    assert_true(t.has_offset);
    assert_int_equal(t.offset_s, 7200);
    assert_int_equal(t.precision, KPID_HL7_SECOND);
    assert_int_equal(kpid_hl7_path_parse("SCH-11.4", &p, NULL), 0);
    assert_int_equal(kpid_hl7_get_time(m, &p, NULL, &t, NULL), 0);
    assert_int_equal(t.us, INT64_C(1712041200) * 1000000);
    kpid_hl7_free(m);
}

/* MSH#*!/$: field #, component *, repetition !, escape /, subcomponent $. */
static void test_other_separators(void **unused)
{
    kpid_hl7_msg *m = parse("MSH#*!/$#APP*X#FAC#RAPP#RFAC#20240101000000##ADT*A08#CTRL#P#2.5\r"
                            "PID#1##ID1*a/F/b!ID2##Name*First$sub/S/x/T/y/R/z/E/w|^~\\&\r");
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);

    assert_int_equal(h->seps.field, '#');
    assert_int_equal(h->seps.component, '*');
    assert_int_equal(h->seps.repetition, '!');
    assert_int_equal(h->seps.escape, '/');
    assert_int_equal(h->seps.subcomponent, '$');
    assert_string_equal(h->sending_application, "APP");
    assert_string_equal(h->trigger_event, "A08");
    assert_string_equal(h->control_id, "CTRL");
    expect(m, "MSH-1", "#");
    expect(m, "MSH-2", "*!/$");
    expect(m, "MSH-3.2", "X");
    expect(m, "PID-3", "ID1");
    expect(m, "PID-3.2", "a#b");
    expect(m, "PID-3[2]", "ID2");
    expect(m, "PID-5", "Name");
    expect(m, "PID-5.2", "First");
    /* The default separators are plain characters here. */
    expect(m, "PID-5.2.2", "sub*x$y!z/w|^~\\&");
    kpid_hl7_free(m);
}

/* 2.7: MSH-2 has a fifth character, the truncation character; \P\ stands for it. */
static void test_truncation_character(void **unused)
{
    kpid_hl7_msg *m = parse("MSH|^~\\&#|APP|FAC|RAPP|RFAC|20240101000000||ADT^A08^ADT_A01|C27|P|"
                            "2.7.1\rPID|1||ID1||Name\\P\\Trunc#\r");
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);

    assert_int_equal(h->seps.truncation, '#');
    assert_int_equal(h->version_code, 271);
    expect(m, "MSH-2", "^~\\&#");
    expect(m, "MSH-3", "APP");
    expect(m, "PID-5", "Name#Trunc#");
    kpid_hl7_free(m);

    /* Without one, \P\ is kept as written. */
    m = parse("MSH|^~\\&|A|F|R|G|20240101||ADT^A08|C|P|2.5\rPID|1||ID1||a\\P\\b\r");
    expect(m, "PID-5", "a\\P\\b");
    kpid_hl7_free(m);
}

/* Segments end at CR, LF or CRLF; empty segments anywhere are skipped. */
static void test_segment_ends(void **unused)
{
    static const char *const texts[] = {
        "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C|P|2.5\rEVN|A01\rPID|1||42||Doe^Jane\r",
        "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C|P|2.5\nEVN|A01\nPID|1||42||Doe^Jane\n",
        "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C|P|2.5\r\nEVN|A01\r\nPID|1||42||Doe^Jane\r\n",
        "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C|P|2.5\r\nEVN|A01\nPID|1||42||Doe^Jane\r\r\n\n",
        "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C|P|2.5\r\rEVN|A01\n\nPID|1||42||Doe^Jane",
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        kpid_hl7_msg *m = parse(texts[i]);
        assert_int_equal(kpid_hl7_segment_count(m, NULL), 3);
        assert_string_equal(kpid_hl7_segment_name(m, 1), "EVN");
        expect(m, "MSH-12", "2.5");
        expect(m, "EVN-1", "A01");
        expect(m, "PID-5.2", "Jane");
        kpid_hl7_free(m);
    }
}

static void test_charsets(void **unused)
{
    const kpid_hl7_options latin1 = {.default_charset = KPID_HL7_8859_1};
    kpid_hl7_msg *m;
    const char *text;
    size_t len;

    /* 8859/1: 0xE9 is é. */
    m = parse("MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||8859/1\r"
              "PID|1||1||Ren\xe9"
              "e^Andr\xe9\r");
    assert_int_equal(kpid_hl7_msg_header(m)->charset, KPID_HL7_8859_1);
    assert_string_equal(kpid_hl7_msg_header(m)->charset_name, "8859/1");
    expect(m, "PID-5",
           "Ren\xc3\xa9"
           "e");
    expect(m, "PID-5.2", "Andr\xc3\xa9");
    text = kpid_hl7_msg_text(m, &len);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "|Ren\xc3\xa9"
                                 "e^Andr\xc3\xa9\r"));
    kpid_hl7_free(m);

    /* 8859/15: 0xA4 is the euro sign; lenient spellings. */
    m = parse("MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||iso-8859-15 ^x~ASCII\r"
              "NTE|1||5\xa4\r");
    assert_int_equal(kpid_hl7_msg_header(m)->charset, KPID_HL7_8859_15);
    expect(m, "NTE-3", "5\xe2\x82\xac");
    kpid_hl7_free(m);

    /* UTF-8 passes through, and the default charset applies without MSH-18 (or ""). */
    m = parse("MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||UTF-8\rNTE|1||\xe2\x82\xac\r");
    expect(m, "NTE-3", "\xe2\x82\xac");
    kpid_hl7_free(m);
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5\rNTE|1||\xe9\r";
    m = parse_n(text, strlen(text), &latin1);
    assert_int_equal(kpid_hl7_msg_header(m)->charset, KPID_HL7_8859_1);
    expect(m, "NTE-3", "\xc3\xa9");
    kpid_hl7_free(m);
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||\"\"\rNTE|1||\xe9\r";
    m = parse_n(text, strlen(text), &latin1);
    expect(m, "NTE-3", "\xc3\xa9");
    kpid_hl7_free(m);
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||  \rNTE|1||\xe9\r";
    m = parse_n(text, strlen(text), &latin1);
    expect(m, "NTE-3", "\xc3\xa9");
    kpid_hl7_free(m);

    /* Invalid bytes for the charset, unknown charsets. */
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5\rNTE|1||ok\xc3(\r";
    expect_fail(text, strlen(text), NULL, -EILSEQ, "bytes not valid in the message's charset", 53,
                0);
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||UTF-8\rNTE|1||\xed\xa0\x80\r";
    expect_fail(text, strlen(text), NULL, -EILSEQ, "bytes not valid in the message's charset", 62,
                0);
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||ASCII\rNTE|1||\xe9\r";
    expect_fail(text, strlen(text), NULL, -EILSEQ, "bytes not valid in the message's charset", 62,
                0);
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||KOI8-R\r";
    expect_fail(text, strlen(text), NULL, -ENOTSUP, "unknown charset in MSH-18", 49, 1);
    text = "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5||||||UNICODE\r";
    expect_fail(text, strlen(text), NULL, -ENOTSUP, "unknown charset in MSH-18", 49, 1);

    kpid_hl7_charset cs = KPID_HL7_ASCII;
    assert_int_equal(kpid_hl7_charset_lookup("unicode utf-8", 13, &cs), 0);
    assert_int_equal(cs, KPID_HL7_UTF8);
    assert_int_equal(kpid_hl7_charset_lookup(" 8859/1 ", 8, &cs), 0);
    assert_int_equal(cs, KPID_HL7_8859_1);
    assert_int_equal(kpid_hl7_charset_lookup("Latin9", 6, &cs), 0);
    assert_int_equal(cs, KPID_HL7_8859_15);
    assert_int_equal(kpid_hl7_charset_lookup("US-ASCII", 8, &cs), 0);
    assert_int_equal(cs, KPID_HL7_ASCII);
    assert_int_equal(kpid_hl7_charset_lookup("8859/2", 6, &cs), -ENOTSUP);
    assert_int_equal(kpid_hl7_charset_lookup("", 0, &cs), -ENOTSUP);
    assert_string_equal(kpid_hl7_charset_name(KPID_HL7_8859_15), "8859/15");
    assert_string_equal(kpid_hl7_charset_name(KPID_HL7_UTF8), "UNICODE UTF-8");
}

static void test_malformed(void **unused)
{
    const kpid_hl7_options bad = {.default_charset = (kpid_hl7_charset)9};
    static const char nul[] = "MSH|^~\\&|A\0B|F\r";
    const char *t;

#define FAIL(text, r, what, offset, segment) \
    expect_fail(text, sizeof(text) - 1, NULL, r, what, offset, segment)
    FAIL("", -EBADMSG, "the message does not start with MSH", 0, 1);
    FAIL("PID|1||42\r", -EBADMSG, "the message does not start with MSH", 0, 1);
    FAIL("msh|^~\\&|A\r", -EBADMSG, "the message does not start with MSH", 0, 1);
    FAIL("MSH", -EBADMSG, "the message ends before MSH-1", 3, 1);
    FAIL("MSHA^~\\&|", -EBADMSG, "MSH-1 is not a printable ASCII punctuation character", 3, 1);
    FAIL("MSH ^~\\&|", -EBADMSG, "MSH-1 is not a printable ASCII punctuation character", 3, 1);
    FAIL("MSH\r^~\\&|", -EBADMSG, "MSH-1 is not a printable ASCII punctuation character", 3, 1);
    FAIL("MSH|^~\\|A", -EBADMSG, "MSH-2 does not hold 4 or 5 encoding characters", 4, 1);
    FAIL("MSH|^~\\&#$|A", -EBADMSG, "MSH-2 does not hold 4 or 5 encoding characters", 4, 1);
    FAIL("MSH|^~\rPID|", -EBADMSG, "MSH-2 does not hold 4 or 5 encoding characters", 4, 1);
    FAIL("MSH|^~\\|", -EBADMSG, "MSH-2 does not hold 4 or 5 encoding characters", 4, 1);
    FAIL("MSH|^^\\&|A", -EBADMSG, "two separators are the same character", 5, 1);
    FAIL("MSH|^~\\||A", -EBADMSG, "MSH-2 does not hold 4 or 5 encoding characters", 4, 1);
    FAIL("MSH|^~\\&^|A", -EBADMSG, "two separators are the same character", 8, 1);
    FAIL("MSH|^~A&|A", -EBADMSG,
         "an encoding character is not a printable ASCII punctuation character", 6, 1);
    FAIL("MSH|^~\\a|A", -EBADMSG,
         "an encoding character is not a printable ASCII punctuation character", 7, 1);
    FAIL("MSH|^~\\&\t|A", -EBADMSG,
         "an encoding character is not a printable ASCII punctuation character", 8, 1);
    FAIL("MSH|^~\\&|A\rPID|1\rpid|2\r", -EBADMSG, "malformed segment name", 17, 3);
    FAIL("MSH|^~\\&|A\r\rPI|1\r", -EBADMSG, "malformed segment name", 12, 2);
    FAIL("MSH|^~\\&|A\rPIDX|1\r", -EBADMSG, "malformed segment name", 11, 2);
    FAIL("MSH|^~\\&|A\rPID^1\r", -EBADMSG, "malformed segment name", 11, 2);
    FAIL("MSH|^~\\&|A\r P|1\r", -EBADMSG, "malformed segment name", 11, 2);
    FAIL("MSH|^~\\&|A\rPID|1\r\xc3\xa9X|\r", -EBADMSG, "malformed segment name", 17, 3);
    FAIL(nul, -EILSEQ, "NUL byte in the message", 10, 0);
    FAIL("MSH|^~\\&|A\\X01\\||R|G|1||ADT^A01|C\r", -EBADMSG, "invalid value in MSH-3", 9, 1);
    FAIL("MSH|^~\\&|A|F|R|G|1||ADT^A01|C\x01|P\r", -EBADMSG, "invalid value in MSH-10", 28, 1);
#undef FAIL
    t = "MSH|^~\\&|A\r";
    expect_fail(t, strlen(t), &bad, -EINVAL, "invalid default charset", 0, 0);

    /* The shortest message, and an empty segment name alone. */
    kpid_hl7_msg *m = parse("MSH|^~\\&");
    assert_int_equal(kpid_hl7_segment_count(m, NULL), 1);
    assert_string_equal(kpid_hl7_msg_header(m)->control_id, "");
    kpid_hl7_free(m);
    m = parse("MSH|^~\\&|A\rEVN\rZZ9|x");
    expect(m, "ZZ9-1", "x");
    expect_r(m, "EVN-1", -ENOENT);
    kpid_hl7_free(m);
    assert_null(kpid_hl7_free(NULL));
}

static void test_limits(void **unused)
{
    const char *head = "MSH|^~\\&|A|F|R|G|1||ADT^A01|C|P|2.5\r";
    kpid_buf b = {0};
    kpid_hl7_msg *m;
    unsigned n;

    /* 65535 segments are fine, 65536 are not. */
    kpid_buf_append(&b, head, strlen(head));
    for (unsigned i = 1; i < KPID_HL7_MAX_SEGMENTS; i++)
        kpid_buf_append(&b, "ZZZ|1\r", 6);
    m = parse_n(b.data, b.len, NULL);
    assert_int_equal(kpid_hl7_segment_count(m, "ZZZ"), KPID_HL7_MAX_SEGMENTS - 1);
    kpid_hl7_free(m);
    kpid_buf_append(&b, "ZZZ|2\r", 6);
    expect_fail(b.data, b.len, NULL, -EBADMSG, "more than 65535 segments", b.len - 6, 65536);

    /* 999 fields are fine, 1000 are not; MSH-1 counts. */
    b.len = 0;
    kpid_buf_append(&b, head, strlen(head));
    kpid_buf_append(&b, "ZZZ", 3);
    for (unsigned i = 0; i < KPID_HL7_MAX_INDEX; i++)
        kpid_buf_append(&b, "|x", 2);
    m = parse_n(b.data, b.len, NULL);
    kpid_hl7_path p;
    assert_int_equal(kpid_hl7_path_parse("ZZZ-999", &p, NULL), 0);
    assert_int_equal(kpid_hl7_count(m, &p, KPID_HL7_FIELD, &n), 0);
    assert_int_equal(n, 999);
    expect(m, "ZZZ-999", "x");
    kpid_hl7_free(m);
    kpid_buf_append(&b, "|", 1);
    expect_fail(b.data, b.len, NULL, -EBADMSG, "more than 999 fields in a segment", b.len - 1, 2);
    b.len = 0;
    kpid_buf_append(&b, "MSH|^~\\&", 8);
    for (unsigned i = 2; i < KPID_HL7_MAX_INDEX; i++)
        kpid_buf_append(&b, "|", 1);
    m = parse_n(b.data, b.len, NULL);
    assert_int_equal(kpid_hl7_path_parse("MSH-999", &p, NULL), 0);
    assert_int_equal(kpid_hl7_count(m, &p, KPID_HL7_FIELD, &n), 0);
    assert_int_equal(n, 999);
    kpid_hl7_free(m);
    kpid_buf_append(&b, "|", 1);
    expect_fail(b.data, b.len, NULL, -EBADMSG, "more than 999 fields in a segment", b.len - 1, 1);
    kpid_buf_free(&b);
}

/* Reads every part of every field of m through paths; spans stay within the text. */
static void walk(const kpid_hl7_msg *m)
{
    size_t len;
    const char *text = kpid_hl7_msg_text(m, &len);
    kpid_buf b = {0};
    unsigned nf, nr, nc, ns;

    for (unsigned s = 0; s < kpid_hl7_segment_count(m, NULL); s++) {
        kpid_hl7_path p = {.occurrence = 1,
                           .field = 1,
                           .repetition = 1,
                           .component = 1,
                           .subcomponent = 1,
                           .level = KPID_HL7_SUBCOMPONENT};
        memcpy(p.segment, kpid_hl7_segment_name(m, s), 4);
        assert_int_equal(kpid_hl7_count_at(m, s, &p, KPID_HL7_FIELD, &nf), 0);
        for (p.field = 1; p.field <= nf; p.field++) {
            assert_int_equal(kpid_hl7_count_at(m, s, &p, KPID_HL7_REPETITION, &nr), 0);
            for (p.repetition = 1; p.repetition <= nr; p.repetition++) {
                p.component = p.subcomponent = 1;
                assert_int_equal(kpid_hl7_count_at(m, s, &p, KPID_HL7_COMPONENT, &nc), 0);
                for (p.component = 1; p.component <= nc; p.component++) {
                    p.subcomponent = 1;
                    assert_int_equal(kpid_hl7_count_at(m, s, &p, KPID_HL7_SUBCOMPONENT, &ns), 0);
                    for (p.subcomponent = 1; p.subcomponent <= ns; p.subcomponent++) {
                        const char *raw;
                        size_t n;
                        b.len = 0;
                        int r = kpid_hl7_get_at(m, s, &p, &b);
                        assert_true(r == 0 || r == -ENOENT || r == -ENODATA || r == -EILSEQ);
                        if (kpid_hl7_raw_at(m, s, &p, &raw, &n) == 0)
                            assert_true(raw >= text && raw + n <= text + len);
                    }
                }
            }
        }
    }
    kpid_buf_free(&b);
}

/* Every cut of valid messages: an error or a message read within its bytes. */
static void test_cuts(void **unused)
{
    static const char *const texts[] = {ADT_A01, ORU_R01, SIU_S12};

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const size_t len = strlen(texts[i]);
        for (size_t k = 0; k <= len; k++) {
            char *copy = malloc(k ? k : 1); /* exactly k bytes: ASan sees any over-read */
            kpid_hl7_msg *m = NULL;
            kpid_hl7_error e = {0};
            assert_non_null(copy);
            memcpy(copy, texts[i], k);
            int r = kpid_hl7_parse(copy, k, NULL, &m, &e);
            if (k < 8) {
                assert_true(r < 0);
                assert_non_null(e.what);
            }
            if (r == 0) {
                walk(m);
                kpid_hl7_free(m);
            } else {
                assert_true(r == -EBADMSG || r == -EILSEQ || r == -ENOTSUP);
                assert_true(e.offset <= k);
            }
            free(copy);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adt_a01),
        cmocka_unit_test(test_oru_r01),
        cmocka_unit_test(test_siu_s12),
        cmocka_unit_test(test_other_separators),
        cmocka_unit_test(test_truncation_character),
        cmocka_unit_test(test_segment_ends),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
