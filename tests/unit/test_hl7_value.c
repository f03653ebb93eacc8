/* Unit tests of lib/hl7's values: every escape (\F\ \S\ \T\ \R\ \E\, \X..\ in UTF-8,
 * 8859/1 and ASCII messages, formatting and charset escapes kept, unclosed escapes),
 * control characters refused, HL7's null "", the path syntax and its bounds, raw spans
 * at each level, counts, and kpid_hl7_escape. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hl7/hl7.h"

#define HEAD "MSH|^~\\&|A|F|R|G|20240101||ADT^A01|C1|P|2.5"

static kpid_hl7_msg *parse(const char *text)
{
    kpid_hl7_msg *m = NULL;
    kpid_hl7_error e = {0};
    int r = kpid_hl7_parse(text, strlen(text), NULL, &m, &e);

    if (r < 0)
        fail_msg("parse: %d %s at %zu segment %u", r, e.what, e.offset, e.segment);
    return m;
}

static kpid_hl7_path path(const char *text)
{
    kpid_hl7_path p;
    const char *why = NULL;

    if (kpid_hl7_path_parse(text, &p, &why) < 0)
        fail_msg("path %s: %s", text, why);
    return p;
}

static void expect(const kpid_hl7_msg *m, const char *text, const char *expected)
{
    const kpid_hl7_path p = path(text);
    kpid_buf b = {0};
    int r = kpid_hl7_get(m, &p, &b);

    if (r < 0)
        fail_msg("%s: %d", text, r);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strlen(b.data), b.len);
    assert_string_equal(b.data, expected);
    kpid_buf_free(&b);
}

static void expect_r(const kpid_hl7_msg *m, const char *text, int expected)
{
    const kpid_hl7_path p = path(text);
    kpid_buf b = {0};

    assert_int_equal(kpid_hl7_get(m, &p, &b), expected);
    assert_int_equal(b.len, 0);
    kpid_buf_free(&b);
}

/* The value of NTE-3 in a message whose NTE-3 is raw (after HEAD and the charset). */
static void expect_nte(const char *charset, const char *raw, const char *expected, int r)
{
    char text[512];
    kpid_hl7_msg *m;

    snprintf(text, sizeof(text), "%s||||||%s\rNTE|1||%s\r", HEAD, charset, raw);
    m = parse(text);
    assert_non_null(m);
    if (expected)
        expect(m, "NTE-3", expected);
    else
        expect_r(m, "NTE-3", r);
    kpid_hl7_free(m);
}

static void test_escapes(void **unused)
{
    expect_nte("", "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "a|b^c&d~e\\f", 0);
    expect_nte("", "\\F\\\\F\\", "||", 0);
    expect_nte("", "\\E\\F\\E\\", "\\F\\", 0);
    /* Formatting, charset and unknown escapes are kept as written. */
    expect_nte("", "\\H\\bold\\N\\", "\\H\\bold\\N\\", 0);
    expect_nte("", "line\\.br\\next\\.sp2\\\\.in+4\\", "line\\.br\\next\\.sp2\\\\.in+4\\", 0);
    expect_nte("", "\\C2842\\x\\M2442\\", "\\C2842\\x\\M2442\\", 0);
    expect_nte("", "\\Zlocal\\", "\\Zlocal\\", 0);
    expect_nte("", "a\\\\b", "a\\\\b", 0);
    expect_nte("", "\\f\\", "\\f\\", 0);
    /* An escape character without a closing one is kept, and so is the rest. */
    expect_nte("", "abc\\F", "abc\\F", 0);
    expect_nte("", "\\F\\x\\", "|x\\", 0);
    expect_nte("", "\\", "\\", 0);
}

static void test_hex(void **unused)
{
    expect_nte("", "\\X41\\", "A", 0);
    expect_nte("", "\\X414243\\", "ABC", 0);
    expect_nte("", "Caf\\XC3A9\\", "Caf\xc3\xa9", 0);
    expect_nte("", "\\Xc3a9\\", "\xc3\xa9", 0);
    /* Adjacent escapes may make one UTF-8 character together. */
    expect_nte("", "\\XC3\\\\XA9\\", "\xc3\xa9", 0);
    expect_nte("", "\\XE282AC\\", "\xe2\x82\xac", 0);
    expect_nte("", "\\X09\\", "\t", 0);
    /* Not UTF-8, controls, NUL. */
    expect_nte("", "\\XFF\\", NULL, -EILSEQ);
    expect_nte("", "\\XC3\\", NULL, -EILSEQ);
    expect_nte("", "\\XC0AF\\", NULL, -EILSEQ);
    expect_nte("", "\\XEDA080\\", NULL, -EILSEQ);
    expect_nte("", "a\\X0D\\b", NULL, -EILSEQ);
    expect_nte("", "\\X0A\\", NULL, -EILSEQ);
    expect_nte("", "\\X00\\", NULL, -EILSEQ);
    expect_nte("", "\\X7F\\", NULL, -EILSEQ);
    expect_nte("", "\\XC285\\", NULL, -EILSEQ);
    /* Malformed hex escapes are kept as written. */
    expect_nte("", "\\X4\\", "\\X4\\", 0);
    expect_nte("", "\\X\\", "\\X\\", 0);
    expect_nte("", "\\XZZ\\", "\\XZZ\\", 0);
    expect_nte("", "\\X414\\", "\\X414\\", 0);
    /* The bytes are in the message's charset. */
    expect_nte("8859/1", "\\XE9\\", "\xc3\xa9", 0);
    expect_nte("8859/15", "\\XA4\\", "\xe2\x82\xac", 0);
    expect_nte("8859/1", "\\X96\\", NULL, -EILSEQ); /* C1, Windows-1252's dash */
    expect_nte("ASCII", "\\XE9\\", NULL, -EILSEQ);
    expect_nte("ASCII", "\\X41\\", "A", 0);
}

static void test_controls_and_nulls(void **unused)
{
    kpid_hl7_msg *m = parse(HEAD "\rPID|1||42|\"\"|\"\"^x|||\x01|\"\"~B||a\tb||\"\"x|^\"\"\r");
    kpid_hl7_path p;
    const char *raw;
    size_t n;

    expect(m, "PID-3", "42");
    expect_r(m, "PID-4", -ENODATA);
    expect_r(m, "PID-4.2", -ENODATA);
    expect_r(m, "PID-4[2]", -ENOENT);
    expect_r(m, "PID-5", -ENODATA);
    expect(m, "PID-5.2", "x");
    expect_r(m, "PID-6", -ENOENT);
    expect_r(m, "PID-8", -EILSEQ); /* the message stays readable */
    expect_r(m, "PID-9", -ENODATA);
    expect(m, "PID-9[2]", "B");
    expect_r(m, "PID-10", -ENOENT);
    expect(m, "PID-11", "a\tb");
    expect(m, "PID-13", "\"\"x");
    expect_r(m, "PID-14", -ENOENT);
    expect_r(m, "PID-14.2", -ENODATA);
    expect_r(m, "PID-99", -ENOENT);
    p = path("PID-4");
    assert_int_equal(kpid_hl7_raw(m, &p, &raw, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(raw, "\"\"", 2);
    kpid_hl7_free(m);

    m = parse(HEAD "\rNTE|1||\xc2\x85\r"); /* U+0085, a C1 control */
    expect_r(m, "NTE-3", -EILSEQ);
    kpid_hl7_free(m);
    m = parse(HEAD "\rNTE|1||a\x7f\r");
    expect_r(m, "NTE-3", -EILSEQ);
    kpid_hl7_free(m);
}

static void expect_path(const char *text, const char *seg, unsigned occ, unsigned field,
                        unsigned rep, unsigned comp, unsigned sub, kpid_hl7_level level)
{
    const kpid_hl7_path p = path(text);

    assert_string_equal(p.segment, seg);
    assert_int_equal(p.occurrence, occ);
    assert_int_equal(p.field, field);
    assert_int_equal(p.repetition, rep);
    assert_int_equal(p.component, comp);
    assert_int_equal(p.subcomponent, sub);
    assert_int_equal(p.level, level);
}

static void expect_bad_path(const char *text, const char *why)
{
    kpid_hl7_path p = {.field = 77};
    const char *got = NULL;

    assert_int_equal(kpid_hl7_path_parse(text, &p, &got), -EINVAL);
    assert_int_equal(p.field, 77);
    assert_string_equal(got, why);
}

static void test_path_syntax(void **unused)
{
    expect_path("PID-3", "PID", 1, 3, 1, 1, 1, KPID_HL7_FIELD);
    expect_path("PV1-19", "PV1", 1, 19, 1, 1, 1, KPID_HL7_FIELD);
    expect_path("OBX[2]-5.1", "OBX", 2, 5, 1, 1, 1, KPID_HL7_COMPONENT);
    expect_path("PID-3[2].4.1", "PID", 1, 3, 2, 4, 1, KPID_HL7_SUBCOMPONENT);
    expect_path("PID-3[2]", "PID", 1, 3, 2, 1, 1, KPID_HL7_REPETITION);
    expect_path("MSH-9.2", "MSH", 1, 9, 1, 2, 1, KPID_HL7_COMPONENT);
    expect_path("ZP1[65535]-999[999].999.999", "ZP1", 65535, 999, 999, 999, 999,
                KPID_HL7_SUBCOMPONENT);

    const char *seg = "a segment name of 3 uppercase letters or digits expected";
    expect_bad_path("", seg);
    expect_bad_path("PI", seg);
    expect_bad_path("pid-3", seg);
    expect_bad_path("P-D-3", seg);
    expect_bad_path("PID", "'-' expected after the segment");
    expect_bad_path("PID3", "'-' expected after the segment");
    expect_bad_path("PIDX-3", "'-' expected after the segment");
    expect_bad_path("PID-", "number expected");
    expect_bad_path("PID--3", "number expected");
    expect_bad_path("PID-+3", "number expected");
    expect_bad_path("PID-0", "number with a leading zero or 0");
    expect_bad_path("PID-03", "number with a leading zero or 0");
    expect_bad_path("PID-1000", "number out of range");
    expect_bad_path("PID-99999999999999999999", "number out of range");
    expect_bad_path("PID-3[0]", "number with a leading zero or 0");
    expect_bad_path("PID-3[1000]", "number out of range");
    expect_bad_path("PID-3.1000", "number out of range");
    expect_bad_path("PID-3.1.1000", "number out of range");
    expect_bad_path("PID[65536]-1", "number out of range");
    expect_bad_path("PID[]-1", "number expected");
    expect_bad_path("OBX[2-5", "']' expected");
    expect_bad_path("PID-3[2", "']' expected");
    expect_bad_path("PID-3.", "number expected");
    expect_bad_path("PID-3.1.", "number expected");
    expect_bad_path("PID-3.1.1.1", "unexpected text after the path");
    expect_bad_path("PID-3 ", "unexpected text after the path");
    expect_bad_path("PID-3x", "unexpected text after the path");
    expect_bad_path("PID-3[1][2]", "unexpected text after the path");
    assert_int_equal(kpid_hl7_path_parse("PID-0", &(kpid_hl7_path){0}, NULL), -EINVAL);
}

/* Paths built in code are checked too: out of bounds is -EINVAL, not a read. */
static void test_path_bounds(void **unused)
{
    kpid_hl7_msg *m = parse(HEAD "\rPID|1||42\r");
    kpid_hl7_path p = path("PID-3");
    kpid_buf b = {0};
    const char *raw;
    size_t n;
    unsigned count;

    assert_int_equal(kpid_hl7_get(m, &p, &b), 0);
    b.len = 0;
    p.field = KPID_HL7_MAX_INDEX + 1;
    assert_int_equal(kpid_hl7_get(m, &p, &b), -EINVAL);
    assert_int_equal(kpid_hl7_raw(m, &p, &raw, &n), -EINVAL);
    assert_int_equal(kpid_hl7_count(m, &p, KPID_HL7_REPETITION, &count), -EINVAL);
    p = path("PID-3");
    p.field = 0;
    assert_int_equal(kpid_hl7_get(m, &p, &b), -EINVAL);
    p = path("PID-3");
    p.repetition = 5000;
    assert_int_equal(kpid_hl7_get(m, &p, &b), -EINVAL);
    p = path("PID-3");
    p.component = 0;
    assert_int_equal(kpid_hl7_get(m, &p, &b), -EINVAL);
    p = path("PID-3");
    p.subcomponent = 1000;
    assert_int_equal(kpid_hl7_get(m, &p, &b), -EINVAL);
    p = path("PID-3");
    p.occurrence = 0;
    assert_int_equal(kpid_hl7_get(m, &p, &b), -EINVAL);
    p = path("PID-3");
    p.level = (kpid_hl7_level)7;
    assert_int_equal(kpid_hl7_raw(m, &p, &raw, &n), -EINVAL);
    p = path("PID-3");
    memcpy(p.segment, "pid", 4);
    assert_int_equal(kpid_hl7_get(m, &p, &b), -EINVAL);
    p = path("PID-3");
    assert_int_equal(kpid_hl7_count(m, &p, (kpid_hl7_level)0, &count), -EINVAL);
    assert_int_equal(b.len, 0);
    kpid_buf_free(&b);
    kpid_hl7_free(m);
}

static void expect_raw(const kpid_hl7_msg *m, const char *text, const char *expected)
{
    const kpid_hl7_path p = path(text);
    const char *raw = NULL;
    size_t n = 0;
    int r = kpid_hl7_raw(m, &p, &raw, &n);

    if (!expected) {
        assert_int_equal(r, -ENOENT);
        return;
    }
    assert_int_equal(r, 0);
    assert_int_equal(n, strlen(expected));
    assert_memory_equal(raw, expected, n);
}

static void expect_count(const kpid_hl7_msg *m, const char *text, kpid_hl7_level level,
                         unsigned expected)
{
    const kpid_hl7_path p = path(text);
    unsigned n = 12345;

    assert_int_equal(kpid_hl7_count(m, &p, level, &n), 0);
    assert_int_equal(n, expected);
}

static void test_raw_and_counts(void **unused)
{
    kpid_hl7_msg *m = parse(HEAD "\rPID|1||A1^^^H\\T\\1&x&ISO^MR~B2^^^H2||D\\S\\e^J|||\r"
                                 "PID|2|||~\r");

    expect_raw(m, "PID-3", "A1^^^H\\T\\1&x&ISO^MR~B2^^^H2");
    expect_raw(m, "PID-3[2]", "B2^^^H2");
    expect_raw(m, "PID-3.4", "H\\T\\1&x&ISO");
    expect_raw(m, "PID-3[1].4.1", "H\\T\\1");
    expect_raw(m, "PID-3[1].4.3", "ISO");
    expect_raw(m, "PID-3[1].4.4", NULL);
    expect_raw(m, "PID-3.2", NULL);
    expect_raw(m, "PID-3[3]", NULL);
    expect_raw(m, "PID-4", NULL);
    expect_raw(m, "PID[2]-1", "2");
    expect_raw(m, "PID[3]-1", NULL);
    expect(m, "PID-3.4", "H&1");
    expect(m, "PID-5", "D^e");
    expect_raw(m, "MSH-1", "|");
    expect_raw(m, "MSH-2", "^~\\&");
    expect_raw(m, "MSH-2.1", "^~\\&");
    expect_raw(m, "MSH-2.2", NULL);
    expect_raw(m, "MSH-1[2]", NULL);
    expect(m, "MSH-2", "^~\\&");
    expect_r(m, "MSH-2.2", -ENOENT);
    expect_r(m, "MSH-2[2]", -ENOENT);
    expect_r(m, "MSH-1.1.2", -ENOENT);

    expect_count(m, "MSH-1", KPID_HL7_FIELD, 12);
    expect_count(m, "MSH-2", KPID_HL7_REPETITION, 1);
    expect_count(m, "MSH-2", KPID_HL7_COMPONENT, 1);
    expect_count(m, "MSH-9", KPID_HL7_COMPONENT, 2);
    expect_count(m, "PID-1", KPID_HL7_FIELD, 8);
    expect_count(m, "PID-3", KPID_HL7_REPETITION, 2);
    expect_count(m, "PID-3", KPID_HL7_COMPONENT, 5);
    expect_count(m, "PID-3[2]", KPID_HL7_COMPONENT, 4);
    expect_count(m, "PID-3[3]", KPID_HL7_COMPONENT, 0);
    expect_count(m, "PID-3.4", KPID_HL7_SUBCOMPONENT, 3);
    expect_count(m, "PID-3.2", KPID_HL7_SUBCOMPONENT, 0);
    expect_count(m, "PID-4", KPID_HL7_REPETITION, 0);
    expect_count(m, "PID-8", KPID_HL7_REPETITION, 0);
    expect_count(m, "PID-9", KPID_HL7_REPETITION, 0);
    expect_count(m, "PID[2]-1", KPID_HL7_FIELD, 4);
    expect_count(m, "PID[2]-4", KPID_HL7_REPETITION, 2);
    expect_count(m, "PID[3]-1", KPID_HL7_FIELD, 0);
    expect_count(m, "PID[3]-1", KPID_HL7_REPETITION, 0);
    expect_count(m, "OBX-5", KPID_HL7_REPETITION, 0);
    kpid_hl7_free(m);
}

/* kpid_hl7_get appends after what out holds. */
static void test_append(void **unused)
{
    kpid_hl7_msg *m = parse(HEAD "\rPID|1||42||Doe^Jane\r");
    kpid_hl7_path p = path("PID-5.2");
    kpid_buf b = {0};

    assert_int_equal(kpid_buf_append(&b, "name=", 5), 0);
    assert_int_equal(kpid_hl7_get(m, &p, &b), 0);
    assert_int_equal(b.len, 9);
    assert_string_equal(b.data, "name=Jane");
    p = path("PID-6");
    assert_int_equal(kpid_hl7_get(m, &p, &b), -ENOENT);
    assert_int_equal(b.len, 9);
    kpid_buf_free(&b);
    kpid_hl7_free(m);
}

static void expect_escaped(const kpid_hl7_seps *seps, const char *text, const char *expected)
{
    kpid_buf b = {0};

    assert_int_equal(kpid_buf_append(&b, ">", 1), 0);
    assert_int_equal(kpid_hl7_escape(seps, text, strlen(text), &b), 0);
    assert_int_equal(kpid_buf_putc(&b, '\0'), 0);
    assert_string_equal(b.data + 1, expected);
    kpid_buf_free(&b);
}

static void test_escape(void **unused)
{
    const kpid_hl7_seps std = {'|', '^', '~', '\\', '&', '\0'};
    const kpid_hl7_seps other = {'#', '*', '!', '/', '$', '%'};
    kpid_buf b = {0};

    expect_escaped(&std, "", "");
    expect_escaped(&std, "plain text", "plain text");
    expect_escaped(&std, "a|b^c~d\\e&f#", "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f#");
    expect_escaped(&std, "M\xc3\xbcller\tx", "M\xc3\xbcller\tx");
    expect_escaped(&std, "\"\"", "\\X2222\\");
    expect_escaped(&std, "\"\"\"", "\"\"\"");
    expect_escaped(&other, "a#b*c!d/e$f%g|", "a/F/b/S/c/R/d/E/e/T/f/P/g|");
    assert_int_equal(kpid_buf_append(&b, "x", 1), 0);
    assert_int_equal(kpid_hl7_escape(&std, "a\rb", 3, &b), -EINVAL);
    assert_int_equal(kpid_hl7_escape(&std, "a\nb", 3, &b), -EINVAL);
    assert_int_equal(kpid_hl7_escape(&std, "a\0b", 3, &b), -EINVAL);
    assert_int_equal(kpid_hl7_escape(&std, "\xc3", 1, &b), -EINVAL);
    assert_int_equal(kpid_hl7_escape(&std, "\xc2\x9f", 2, &b), -EINVAL);
    assert_int_equal(b.len, 1);
    kpid_buf_free(&b);

    /* What kpid_hl7_escape writes, kpid_hl7_get reads back. */
    const char *text = "x|y^z~w\\v&u \\H\\ \xe2\x82\xac";
    kpid_buf msg = {0};
    kpid_hl7_msg *m;
    kpid_buf_append(&msg, HEAD "\rNTE|1||", strlen(HEAD) + 8);
    kpid_hl7_escape(&std, text, strlen(text), &msg);
    kpid_buf_putc(&msg, '\0');
    m = parse(msg.data);
    expect(m, "NTE-3", text);
    kpid_hl7_free(m);
    msg.len = 0;
    kpid_buf_append(&msg, HEAD "\rNTE|1||", strlen(HEAD) + 8);
    kpid_hl7_escape(&std, "\"\"", 2, &msg);
    kpid_buf_putc(&msg, '\0');
    m = parse(msg.data);
    expect(m, "NTE-3", "\"\"");
    kpid_hl7_free(m);
    kpid_buf_free(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_controls_and_nulls),
        cmocka_unit_test(test_path_syntax),
        cmocka_unit_test(test_path_bounds),
        cmocka_unit_test(test_raw_and_counts),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
