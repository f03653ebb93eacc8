/* Unit tests of lib/hl7's acknowledgments: the whole ACK text and every field read back
 * by value (MSH-3..6 swapped, MSH-7 in UTC and in Europe/Berlin, MSH-9, MSH-10, MSH-11,
 * MSH-12, MSH-18, MSA-1, MSA-2), ERR in 2.5 and in 2.3/2.4 style, other separators and
 * escaped text, the answer in 8859/1, refused inputs, and the fallback ACK of a message
 * that does not parse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hl7/hl7.h"

#define ADT_251                                                                               \
    "MSH|^~\\&|KPIDADT|KLINIKUM NORD^1.2.276.0.76.3.1.123^ISO|LABSYS|ZENTRALLABOR|"           \
    "20240315143012+0100||ADT^A01^ADT_A01|MSG-20240315-0001|P|2.5.1|||AL|NE||UNICODE UTF-8\r" \
    "PID|1||4711^^^KLINIKUM NORD^PI||Mustermann^Erika\r"

/* 2024-03-15T13:30:13Z */
#define NOW_US (INT64_C(1710509413) * 1000000 + 999999)

static kpid_hl7_msg *parse_n(const char *data, size_t len)
{
    kpid_hl7_msg *m = NULL;
    kpid_hl7_error e = {0};
    int r = kpid_hl7_parse(data, len, NULL, &m, &e);

    if (r < 0)
        fail_msg("parse: %d %s at %zu segment %u", r, e.what, e.offset, e.segment);
    return m;
}

static kpid_hl7_msg *parse(const char *text)
{
    return parse_n(text, strlen(text));
}

static void expect(const kpid_hl7_msg *m, const char *text, const char *expected)
{
    kpid_hl7_path p;
    kpid_buf b = {0};
    int r;

    assert_int_equal(kpid_hl7_path_parse(text, &p, NULL), 0);
    if (!expected) {
        assert_int_equal(kpid_hl7_get(m, &p, &b), -ENOENT);
        return;
    }
    if ((r = kpid_hl7_get(m, &p, &b)) < 0)
        fail_msg("%s: %d", text, r);
    assert_string_equal(b.data, expected);
    kpid_buf_free(&b);
}

/* Builds the ACK of text, checks its text whole and returns it parsed. */
static kpid_hl7_msg *ack_of(const char *text, const kpid_hl7_ack *a, const char *expected)
{
    kpid_hl7_msg *m = parse(text), *ack;
    kpid_buf b = {0};

    assert_int_equal(kpid_hl7_ack_build(m, a, &b), 0);
    assert_int_equal(b.len, strlen(expected));
    assert_memory_equal(b.data, expected, b.len);
    ack = parse_n(b.data, b.len);
    kpid_buf_free(&b);
    kpid_hl7_free(m);
    return ack;
}

static void test_ack_accept(void **unused)
{
    const kpid_hl7_ack a = {.code = KPID_HL7_AA, .control_id = "ACK-0001", .time_us = NOW_US};
    kpid_hl7_msg *ack = ack_of(ADT_251, &a,
                               "MSH|^~\\&|LABSYS|ZENTRALLABOR|KPIDADT|KLINIKUM "
                               "NORD^1.2.276.0.76.3.1.123^ISO|20240315133013+0000||ACK^A01^ACK|"
                               "ACK-0001|P|2.5.1||||||UNICODE UTF-8\r"
                               "MSA|AA|MSG-20240315-0001\r");
    const kpid_hl7_header *h = kpid_hl7_msg_header(ack);

    assert_string_equal(h->sending_application, "LABSYS");
    assert_string_equal(h->sending_facility, "ZENTRALLABOR");
    assert_string_equal(h->receiving_application, "KPIDADT");
    assert_string_equal(h->receiving_facility, "KLINIKUM NORD");
    expect(ack, "MSH-6.2", "1.2.276.0.76.3.1.123");
    expect(ack, "MSH-6.3", "ISO");
    expect(ack, "MSH-7", "20240315133013+0000");
    assert_string_equal(h->message_type, "ACK");
    assert_string_equal(h->trigger_event, "A01");
    assert_string_equal(h->structure, "ACK");
    assert_string_equal(h->control_id, "ACK-0001");
    assert_string_equal(h->processing_id, "P");
    assert_string_equal(h->version, "2.5.1");
    assert_string_equal(h->accept_ack_type, "");
    assert_string_equal(h->application_ack_type, "");
    assert_string_equal(h->charset_name, "UNICODE UTF-8");
    expect(ack, "MSA-1", "AA");
    expect(ack, "MSA-2", "MSG-20240315-0001");
    expect(ack, "MSA-3", NULL);
    assert_int_equal(kpid_hl7_segment_count(ack, NULL), 2);
    assert_int_equal(kpid_hl7_segment_count(ack, "ERR"), 0);
    kpid_hl7_free(ack);
}

static void test_ack_error_v25(void **unused)
{
    const kpid_hl7_ack a = {.code = KPID_HL7_AE,
                            .control_id = "ACK-0002",
                            .time_us = NOW_US,
                            .error_code = 207,
                            .error_text = "database unavailable"};
    kpid_hl7_msg *ack = ack_of(ADT_251, &a,
                               "MSH|^~\\&|LABSYS|ZENTRALLABOR|KPIDADT|KLINIKUM "
                               "NORD^1.2.276.0.76.3.1.123^ISO|20240315133013+0000||ACK^A01^ACK|"
                               "ACK-0002|P|2.5.1||||||UNICODE UTF-8\r"
                               "MSA|AE|MSG-20240315-0001\r"
                               "ERR|||207^Application internal error^HL70357|E||||"
                               "database unavailable\r");

    expect(ack, "MSA-1", "AE");
    expect(ack, "MSA-2", "MSG-20240315-0001");
    expect(ack, "ERR-1", NULL);
    expect(ack, "ERR-3", "207");
    expect(ack, "ERR-3.2", "Application internal error");
    expect(ack, "ERR-3.3", "HL70357");
    expect(ack, "ERR-4", "E");
    expect(ack, "ERR-8", "database unavailable");
    kpid_hl7_free(ack);

    /* An accepting code with an error is a warning; enhanced mode codes; no text. */
    const kpid_hl7_ack w = {
        .code = KPID_HL7_CA, .control_id = "ACK-0003", .time_us = NOW_US, .error_code = 203};
    ack = ack_of(ADT_251, &w,
                 "MSH|^~\\&|LABSYS|ZENTRALLABOR|KPIDADT|KLINIKUM "
                 "NORD^1.2.276.0.76.3.1.123^ISO|20240315133013+0000||ACK^A01^ACK|"
                 "ACK-0003|P|2.5.1||||||UNICODE UTF-8\r"
                 "MSA|CA|MSG-20240315-0001\r"
                 "ERR|||203^Unsupported version id^HL70357|W\r");
    expect(ack, "MSA-1", "CA");
    expect(ack, "ERR-4", "W");
    kpid_hl7_free(ack);
}

/* Before 2.5: ERR-1 (ELD) and MSA-3; 2.3 has no message structure in MSH-9. */
static void test_ack_error_v23_v24(void **unused)
{
    const kpid_hl7_ack a = {.code = KPID_HL7_AR,
                            .control_id = "K9",
                            .time_us = NOW_US,
                            .error_code = 200,
                            .error_text = "no ORU here"};
    kpid_hl7_msg *ack;

    ack = ack_of("MSH|^~\\&|LIS|LAB|HIS|KH|20240101||ORU^R01|C-24|T|2.4\rPID|1\r", &a,
                 "MSH|^~\\&|HIS|KH|LIS|LAB|20240315133013+0000||ACK^R01^ACK|K9|T|2.4\r"
                 "MSA|AR|C-24|no ORU here\r"
                 "ERR|^^^200&Unsupported message type&HL70357\r");
    expect(ack, "MSA-3", "no ORU here");
    expect(ack, "ERR-1.4.1", "200");
    expect(ack, "ERR-1.4.2", "Unsupported message type");
    expect(ack, "ERR-1.4.3", "HL70357");
    expect(ack, "MSH-11", "T");
    kpid_hl7_free(ack);

    ack = ack_of("MSH|^~\\&|LIS|LAB|HIS|KH|20240101||ADT^A04|C-23|P|2.3\r", &a,
                 "MSH|^~\\&|HIS|KH|LIS|LAB|20240315133013+0000||ACK^A04|K9|P|2.3\r"
                 "MSA|AR|C-23|no ORU here\r"
                 "ERR|^^^200&Unsupported message type&HL70357\r");
    assert_string_equal(kpid_hl7_msg_header(ack)->structure, "");
    kpid_hl7_free(ack);

    /* An unknown version is answered in the older style, its MSH-12 copied. */
    ack = ack_of("MSH|^~\\&|LIS|LAB|HIS|KH|20240101||ADT^A04|C-22|P|2.2^DEU\r", &a,
                 "MSH|^~\\&|HIS|KH|LIS|LAB|20240315133013+0000||ACK^A04^ACK|K9|P|2.2^DEU\r"
                 "MSA|AR|C-22|no ORU here\r"
                 "ERR|^^^200&Unsupported message type&HL70357\r");
    kpid_hl7_free(ack);
}

/* The message's separators, and text escaped for them. */
static void test_ack_separators(void **unused)
{
    const kpid_hl7_ack a = {.code = KPID_HL7_AE,
                            .control_id = "id#1",
                            .time_us = NOW_US,
                            .error_code = 207,
                            .error_text = "bad # * ! / $ % input"};
    kpid_hl7_msg *ack = ack_of(
        "MSH#*!/$%#APP*X#FAC#RAPP#RFAC#20240101000000##ADT*A/F/08#C/S/TRL#P#2.7\r", &a,
        "MSH#*!/$%#RAPP#RFAC#APP*X#FAC#20240315133013+0000##ACK*A/F/08*ACK#id/F/1#P#2.7\r"
        "MSA#AE#C/S/TRL\r"
        "ERR###207*Application internal error*HL70357#E####bad /F/ /S/ /R/ /E/ /T/ /P/ input\r");

    expect(ack, "MSH-2", "*!/$%");
    expect(ack, "MSH-9.2", "A#08");
    expect(ack, "MSH-10", "id#1");
    expect(ack, "MSA-2", "C*TRL");
    expect(ack, "ERR-8", "bad # * ! / $ % input");
    kpid_hl7_free(ack);
}

/* In Europe/Berlin, with its offset; and times before 1970. */
static void test_ack_time(void **unused)
{
    kpid_tz *berlin = NULL;
    char *err = NULL;
    kpid_hl7_ack a = {.code = KPID_HL7_AA, .control_id = "K1"};
    kpid_hl7_msg *ack;

    assert_int_equal(kpid_tz_load("Europe/Berlin", &berlin, &err), 0);
    a.tz = berlin;
    a.time_us = INT64_C(1721037600) * 1000000; /* 2024-07-15T10:00:00Z */
    ack = ack_of("MSH|^~\\&|A|B|C|D|1||ADT^A01|X|P|2.5\r", &a,
                 "MSH|^~\\&|C|D|A|B|20240715120000+0200||ACK^A01^ACK|K1|P|2.5\rMSA|AA|X\r");
    kpid_hl7_free(ack);
    a.time_us = INT64_C(1705312800) * 1000000; /* 2024-01-15T10:00:00Z */
    ack = ack_of("MSH|^~\\&|A|B|C|D|1||ADT^A01|X|P|2.5\r", &a,
                 "MSH|^~\\&|C|D|A|B|20240115110000+0100||ACK^A01^ACK|K1|P|2.5\rMSA|AA|X\r");
    kpid_hl7_free(ack);
    /* A '+' field separator: the offset's sign is escaped. */
    a.tz = NULL;
    a.time_us = NOW_US;
    ack = ack_of("MSH+^~\\&+A+B+C+D+1++ADT^A01+X+P+2.5\r", &a,
                 "MSH+^~\\&+C+D+A+B+20240315133013\\F\\0000++ACK^A01^ACK+K1+P+2.5\rMSA+AA+X\r");
    expect(ack, "MSH-7", "20240315133013+0000");
    kpid_hl7_free(ack);
    a.time_us = -1;
    ack = ack_of("MSH|^~\\&|A|B|C|D|1||ADT^A01|X|P|2.5\r", &a,
                 "MSH|^~\\&|C|D|A|B|19691231235959+0000||ACK^A01^ACK|K1|P|2.5\rMSA|AA|X\r");
    kpid_hl7_free(ack);
    kpid_tz_free(berlin);
}

/* A message in 8859/1 is answered in 8859/1, with its MSH-18. */
static void test_ack_charset(void **unused)
{
    const kpid_hl7_ack a = {.code = KPID_HL7_AA, .control_id = "K1", .time_us = NOW_US};
    const kpid_hl7_ack e = {.code = KPID_HL7_AE,
                            .control_id = "K1",
                            .time_us = NOW_US,
                            .error_code = 207,
                            .error_text = "\xc3\xa9"};
    kpid_hl7_msg *ack, *m;
    kpid_buf b = {0};

    ack = ack_of("MSH|^~\\&|A|H\xf4pital|R|G|20240101||ADT^A01|C\xe9|P|2.5||||||8859/1~UTF-8\r", &a,
                 "MSH|^~\\&|R|G|A|H\xf4pital|20240315133013+0000||ACK^A01^ACK|K1|P|2.5||||||"
                 "8859/1~UTF-8\rMSA|AA|C\xe9\r");
    assert_string_equal(kpid_hl7_msg_header(ack)->receiving_facility, "H\xc3\xb4pital");
    expect(ack, "MSA-2", "C\xc3\xa9");
    kpid_hl7_free(ack);

    /* Text an ASCII message cannot hold; out is left as it was. */
    m = parse("MSH|^~\\&|A|B|R|G|20240101||ADT^A01|C1|P|2.5||||||ASCII\r");
    assert_int_equal(kpid_buf_append(&b, "x", 1), 0);
    assert_int_equal(kpid_hl7_ack_build(m, &e, &b), -EILSEQ);
    assert_int_equal(b.len, 1);
    kpid_hl7_free(m);
    kpid_buf_free(&b);
}

static void test_ack_refused(void **unused)
{
    kpid_hl7_msg *m = parse("MSH|^~\\&|A|B|R|G|20240101||ADT^A01|C1|P|2.5\r");
    kpid_hl7_ack a = {.code = KPID_HL7_AA, .control_id = "K1", .time_us = NOW_US};
    kpid_buf b = {0};

    assert_int_equal(kpid_buf_append(&b, "x", 1), 0);
    a.code = (kpid_hl7_ack_code)6;
    assert_int_equal(kpid_hl7_ack_build(m, &a, &b), -EINVAL);
    a.code = KPID_HL7_AA;
    a.control_id = NULL;
    assert_int_equal(kpid_hl7_ack_build(m, &a, &b), -EINVAL);
    a.control_id = "";
    assert_int_equal(kpid_hl7_ack_build(m, &a, &b), -EINVAL);
    a.control_id = "a\rb";
    assert_int_equal(kpid_hl7_ack_build(m, &a, &b), -EINVAL);
    a.control_id = "K1";
    a.error_code = 999;
    assert_int_equal(kpid_hl7_ack_build(m, &a, &b), -EINVAL);
    a.error_code = 207;
    a.error_text = "line\nbreak";
    assert_int_equal(kpid_hl7_ack_build(m, &a, &b), -EINVAL);
    a.error_text = NULL;
    a.time_us = INT64_C(253402300800) * 1000000; /* 10000-01-01 */
    assert_int_equal(kpid_hl7_ack_build(m, &a, &b), -ERANGE);
    assert_int_equal(b.len, 1);
    assert_string_equal(kpid_hl7_error_code_text(0), "Message accepted");
    assert_string_equal(kpid_hl7_error_code_text(101), "Required field missing");
    assert_null(kpid_hl7_error_code_text(208));
    kpid_buf_free(&b);
    kpid_hl7_free(m);
}

static void expect_fallback(const char *data, size_t len, const char *msa2)
{
    const kpid_hl7_ack a = {.code = KPID_HL7_AR,
                            .control_id = "K7",
                            .time_us = NOW_US,
                            .error_code = 207,
                            .error_text = "unreadable message"};
    char expected[512];
    kpid_buf b = {0};
    kpid_hl7_msg *ack;

    snprintf(expected, sizeof(expected),
             "MSH|^~\\&|||||20240315133013+0000||ACK|K7|P|2.5\rMSA|AR|%s\r"
             "ERR|||207^Application internal error^HL70357|E||||unreadable message\r",
             msa2);
    assert_int_equal(kpid_hl7_ack_build_fallback(data, len, &a, &b), 0);
    assert_int_equal(b.len, strlen(expected));
    assert_memory_equal(b.data, expected, b.len);
    ack = parse_n(b.data, b.len);
    assert_string_equal(kpid_hl7_msg_header(ack)->version, "2.5");
    assert_string_equal(kpid_hl7_msg_header(ack)->message_type, "ACK");
    expect(ack, "MSA-1", "AR");
    kpid_hl7_free(ack);
    kpid_buf_free(&b);
}

static void test_ack_fallback(void **unused)
{
    static const char nul[] = "MSH|^~\\&|A|B|C|D|1||ADT^A01|ID\0X|P";
    char text[512];

    expect_fallback("", 0, "");
    expect_fallback("garbage", 7, "");
    expect_fallback(NULL, 0, "");
    expect_fallback("MSH|^~\\&|A|B|C|D|2024||ADT^A01|CTRL42|P|2.5\rpid|bad\r", 49, "CTRL42");
    expect_fallback("MSH|^~\\&|A|B|C|D|2024||ADT^A01|CTRL42^x", 39, "CTRL42");
    expect_fallback("MSH|^~\\&|A|B|C|D|2024||ADT^A01|CTRL42", 37, "CTRL42");
    expect_fallback("MSH|^~\\&|A|B|C|D|2024||ADT^A01|\rX", 33, "");
    expect_fallback("MSH|^~\\&|A|B|C|D|2024||ADT^A01\r|C1", 35, "");
    expect_fallback("MSH#*!/$#A#B#C#D#2024##ADT*A01#CT|RL\\*x#P", 41, "CT\\F\\RL\\E\\");
    expect_fallback("MSH|^~\\&|A|B|C|D|2024||ADT^A01|C\x01|P", 36, "");
    expect_fallback("MSH|^~\\&|A|B|C|D|2024||ADT^A01|C\xe9|P", 36, "");
    expect_fallback(nul, sizeof(nul) - 1, "");
    /* 199 bytes are kept, 200 are too many. */
    memcpy(text, "MSH|^~\\&||||||||", 16);
    memset(text + 16, 'x', 199);
    memcpy(text + 16 + 199, "|P", 2);
    char id[200];
    memset(id, 'x', 199);
    id[199] = '\0';
    expect_fallback(text, 16 + 199 + 2, id);
    memset(text + 16, 'y', 200);
    memcpy(text + 16 + 200, "|P", 2);
    expect_fallback(text, 16 + 200 + 2, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_accept),        cmocka_unit_test(test_ack_error_v25),
        cmocka_unit_test(test_ack_error_v23_v24), cmocka_unit_test(test_ack_separators),
        cmocka_unit_test(test_ack_time),          cmocka_unit_test(test_ack_charset),
        cmocka_unit_test(test_ack_refused),       cmocka_unit_test(test_ack_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
