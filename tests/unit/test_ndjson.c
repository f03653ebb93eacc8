/* plugins/file/ndjson.c: one NDJSON line to an event, a retraction or a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndjson.h"

#define LINE_OK "\"event_key\":\"k1\",\"activity\":\"TRIAGE\",\"time\":\"2024-03-01T07:15:00Z\""
#define T_US 1709277300000000LL

static int setup(void **state)
{
    ndjson_line *l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    ndjson_line_clear(*state);
    free(*state);
    return 0;
}

static ndjson_line *parse_n(void **state, const char *s, size_t n)
{
    ndjson_line *l = *state;
    assert_int_equal(ndjson_parse(l, s, n), 0);
    return l;
}

static ndjson_line *parse(void **state, const char *s)
{
    return parse_n(state, s, strlen(s));
}

/* The reason is one line of printable ASCII or valid UTF-8 (for PostgreSQL text). */
static void check_reason_text(const char *r)
{
    const unsigned char *p = (const unsigned char *)r;

    assert_non_null(r);
    assert_true(strlen(r) > 0 && strlen(r) < NDJSON_REASON_MAX);
    while (*p) {
        if (*p < 0x20 || *p == 0x7F)
            fail_msg("control character 0x%02x in reason \"%s\"", *p, r);
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        if (*p < 0xC2 || *p > 0xF4)
            fail_msg("invalid UTF-8 in reason \"%s\"", r);
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                fail_msg("invalid UTF-8 in reason \"%s\"", r);
        p += n;
    }
}

static void expect_error_n(void **state, const char *s, size_t n, const char *reason_part)
{
    ndjson_line *l = parse_n(state, s, n);

    if (l->kind != NDJSON_ERROR)
        fail_msg("accepted (kind %d): %.*s", l->kind, (int)(n > 200 ? 200 : n), s);
    check_reason_text(l->reason);
    if (reason_part && !strstr(l->reason, reason_part))
        fail_msg("reason \"%s\" lacks \"%s\"", l->reason, reason_part);
    assert_null(l->event.event_key);
}

static void expect_error(void **state, const char *s, const char *reason_part)
{
    expect_error_n(state, s, strlen(s), reason_part);
}

static void test_full_event(void **state)
{
    ndjson_line *l = parse(
        state, "{\"event_key\":\"enc-42/TRIAGE\",\"case_id\":\"enc-42\",\"subject_id\":\"p-7\","
               "\"activity\":\"TRIAGE\",\"time\":\"2024-03-01T08:15:00+01:00\",\"value\":3,"
               "\"attrs\":{\"ward\":\"ED\",\"acuity\":{\"esi\":2,\"notes\":[\"a\",null,1.5]},"
               "\"b\":true}}");

    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_string_equal(l->event.event_key, "enc-42/TRIAGE");
    assert_string_equal(l->event.case_id, "enc-42");
    assert_string_equal(l->event.subject_id, "p-7");
    assert_string_equal(l->event.activity, "TRIAGE");
    assert_int_equal(l->event.time_us, T_US);
    assert_true(l->event.has_value);
    assert_true(l->event.value == 3.0);
    /* Compact; otherwise as written. */
    assert_string_equal(l->event.attrs_json,
                        "{\"ward\":\"ED\",\"acuity\":{\"esi\":2,\"notes\":[\"a\",null,1.5]},"
                        "\"b\":true}");
    assert_null(l->event.origin);
    for (size_t i = 0; i < 4; i++)
        assert_null(l->event.reserved[i]);
    assert_null(l->reason);
}

static void test_minimal_event(void **state)
{
    ndjson_line *l = parse(state, "{" LINE_OK "}");

    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_string_equal(l->event.event_key, "k1");
    assert_null(l->event.case_id);
    assert_null(l->event.subject_id);
    assert_false(l->event.has_value);
    assert_null(l->event.attrs_json);

    /* Explicit nulls are absences; {} is no attributes; whitespace is allowed. */
    l = parse(state, "  { " LINE_OK " , \"case_id\" : null, \"subject_id\":null, "
                     "\"value\":null, \"attrs\":{} }  ");
    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_null(l->event.case_id);
    assert_null(l->event.subject_id);
    assert_false(l->event.has_value);
    assert_null(l->event.attrs_json);
    l = parse(state, "{" LINE_OK ",\"attrs\":null}");
    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_null(l->event.attrs_json);
}

static void test_values(void **state)
{
    static const struct {
        const char *json;
        double value;
    } cases[] = {
        {"0", 0.0},
        {"-0.0", -0.0},
        {"-17", -17.0},
        {"2.5e3", 2500.0},
        {"1.5", 1.5},
        {"1e-300", 1e-300},
        {"9007199254740993", 9007199254740992.0},
        {"-9223372036854775808", -9223372036854775808.0},
        {"1.7976931348623157e308", 1.7976931348623157e308},
    };
    char s[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(s, sizeof(s), "{" LINE_OK ",\"value\":%s}", cases[i].json);
        ndjson_line *l = parse(state, s);
        assert_int_equal(l->kind, NDJSON_EVENT);
        assert_true(l->event.has_value);
        assert_true(l->event.value == cases[i].value);
    }
}

static void test_nan_like_values(void **state)
{
    expect_error(state, "{" LINE_OK ",\"value\":NaN}", "invalid JSON");
    expect_error(state, "{" LINE_OK ",\"value\":Infinity}", "invalid JSON");
    expect_error(state, "{" LINE_OK ",\"value\":-Infinity}", "invalid JSON");
    expect_error(state, "{" LINE_OK ",\"value\":1e999}", "overflow");
    expect_error(state, "{" LINE_OK ",\"value\":-1e999}", "overflow");
    expect_error(state, "{" LINE_OK ",\"value\":99999999999999999999}", "too big integer");
    expect_error(state, "{" LINE_OK ",\"value\":\"NaN\"}", "value must be a number");
    expect_error(state, "{" LINE_OK ",\"value\":\"3\"}", "value must be a number");
    expect_error(state, "{" LINE_OK ",\"value\":true}", "value must be a number");
    expect_error(state, "{" LINE_OK ",\"value\":[1]}", "value must be a number");
    expect_error(state, "{" LINE_OK ",\"value\":{}}", "value must be a number");
    expect_error(state, "{" LINE_OK ",\"value\":01}", "invalid JSON");
    expect_error(state, "{" LINE_OK ",\"value\":.5}", "invalid JSON");
    expect_error(state, "{" LINE_OK ",\"value\":+1}", "invalid JSON");
}

static void test_retractions(void **state)
{
    ndjson_line *l = parse(state, "{\"event_key\":\"enc-42/TRIAGE\",\"retract\":true}");
    assert_int_equal(l->kind, NDJSON_RETRACT);
    assert_string_equal(l->event.event_key, "enc-42/TRIAGE");

    l = parse(state, "{\"retract\":true,\"event_key\":\"x\"}\r");
    assert_int_equal(l->kind, NDJSON_RETRACT);
    assert_string_equal(l->event.event_key, "x");

    expect_error(state, "{\"event_key\":\"x\",\"retract\":false}", "retract must be true");
    expect_error(state, "{\"event_key\":\"x\",\"retract\":\"true\"}", "retract must be true");
    expect_error(state, "{\"event_key\":\"x\",\"retract\":1}", "retract must be true");
    expect_error(state, "{\"event_key\":\"x\",\"retract\":null}", "retract must be true");
    expect_error(state, "{\"retract\":true}", "missing event_key");
    expect_error(state, "{\"event_key\":\"\",\"retract\":true}", "event_key is empty");
    expect_error(state, "{\"event_key\":7,\"retract\":true}", "event_key must be a string");
    expect_error(state, "{" LINE_OK ",\"retract\":true}", "only event_key and retract");
    expect_error(state, "{\"event_key\":\"x\",\"retract\":true,\"attrs\":null}",
                 "only event_key and retract, not attrs");
    expect_error(state, "{\"event_key\":\"x\",\"retract\":true,\"bogus\":1}", "unknown key");
}

static void test_missing_and_mistyped(void **state)
{
    expect_error(state, "{\"activity\":\"TRIAGE\",\"time\":\"2024-03-01T07:15:00Z\"}",
                 "missing event_key");
    expect_error(state, "{\"event_key\":\"k\",\"time\":\"2024-03-01T07:15:00Z\"}",
                 "missing activity");
    expect_error(state, "{\"event_key\":\"k\",\"activity\":\"TRIAGE\"}", "missing time");
    expect_error(state, "{}", "missing event_key");

    expect_error(state, "{\"event_key\":42,\"activity\":\"A\",\"time\":\"2024-03-01T07:15:00Z\"}",
                 "event_key must be a string, not a number (quote numeric keys)");
    expect_error(state, "{\"event_key\":null,\"activity\":\"A\",\"time\":\"2024-03-01T07:15:00Z\"}",
                 "event_key must be a string, not null");
    expect_error(state, "{" LINE_OK ",\"case_id\":12345}",
                 "case_id must be a string, not a number (quote numeric identifiers)");
    expect_error(state, "{" LINE_OK ",\"subject_id\":1.5}", "subject_id must be a string");
    expect_error(state, "{" LINE_OK ",\"subject_id\":[\"p\"]}",
                 "subject_id must be a string, not an array");
    expect_error(state, "{" LINE_OK ",\"case_id\":false}",
                 "case_id must be a string, not a boolean");
    expect_error(state, "{" LINE_OK ",\"case_id\":\"\"}", "case_id is empty");
    expect_error(state, "{" LINE_OK ",\"subject_id\":\"\"}", "subject_id is empty");

    expect_error(state,
                 "{\"event_key\":\"k\",\"activity\":\"triage\",\"time\":\"2024-03-01T07:15:00Z\"}",
                 "activity must match [A-Z0-9_]{1,64}");
    expect_error(state, "{\"event_key\":\"k\",\"activity\":\"\",\"time\":\"2024-03-01T07:15:00Z\"}",
                 "activity must match");
    expect_error(
        state,
        "{\"event_key\":\"k\",\"activity\":\"ED-ARRIVAL\",\"time\":\"2024-03-01T07:15:00Z\"}",
        "activity must match");
    expect_error(state,
                 "{\"event_key\":\"k\",\"activity\":\"ÄRZT\",\"time\":\"2024-03-01T07:15:00Z\"}",
                 "activity must match");
    expect_error(state, "{\"event_key\":\"k\",\"activity\":5,\"time\":\"2024-03-01T07:15:00Z\"}",
                 "activity must match");

    expect_error(state, "{\"event_key\":\"k\",\"activity\":\"A\",\"time\":1709277300}",
                 "time must be an RFC 3339 string, not a number");
    expect_error(state,
                 "{\"event_key\":\"k\",\"activity\":\"A\",\"time\":\"2024-02-30T07:15:00Z\"}",
                 "time is not RFC 3339: day out of range");
    expect_error(state, "{\"event_key\":\"k\",\"activity\":\"A\",\"time\":\"2024-03-01T07:15:00\"}",
                 "time is not RFC 3339: missing time zone");
    expect_error(state, "{\"event_key\":\"k\",\"activity\":\"A\",\"time\":\"yesterday\"}",
                 "time is not RFC 3339");

    expect_error(state, "{" LINE_OK ",\"attrs\":[1,2]}",
                 "attrs must be an object or null, not an array");
    expect_error(state, "{" LINE_OK ",\"attrs\":\"ward=ED\"}", "attrs must be an object");
    expect_error(state, "{" LINE_OK ",\"attrs\":0}", "attrs must be an object");
}

static void test_unknown_and_duplicate_keys(void **state)
{
    expect_error(state, "{" LINE_OK ",\"foo\":1}", "unknown key \"foo\"");
    expect_error(state, "{" LINE_OK ",\"Time\":\"x\"}", "unknown key \"Time\"");
    expect_error(state, "{" LINE_OK ",\"attrs\":{},\"atrs\":{}}", "unknown key \"atrs\"");
    /* The key is quoted printable and cut to 64 bytes at a character boundary. */
    expect_error(state, "{" LINE_OK ",\"a\\\"b\\nc\":1}", "unknown key \"a?b?c\"");
    expect_error(state, "{" LINE_OK ",\"ééééééééééééééééééééééééééééééééééééééééééééé\":1}",
                 "unknown key \"éééééééééééééééééééééééééééééééé\"");
    expect_error(state, "{" LINE_OK ",\"event_key\":\"k2\"}", "duplicate object key");
    expect_error(state, "{" LINE_OK ",\"attrs\":{\"w\":1,\"w\":2}}", "duplicate object key");
}

static void test_not_an_object(void **state)
{
    expect_error(state, "[" LINE_OK "]", "invalid JSON");
    expect_error(state, "[1,2]", "line is an array, not a JSON object");
    expect_error(state, "\"TRIAGE\"", "line is a string, not a JSON object");
    expect_error(state, "42", "line is a number");
    expect_error(state, "null", "line is null");
    expect_error(state, "true", "line is a boolean");
    expect_error(state, "{" LINE_OK "} {" LINE_OK "}", "end of file expected");
    expect_error(state, "{" LINE_OK "}x", "invalid JSON");
    expect_error(state, "{'event_key':'k'}", "invalid JSON at column 2");
}

static void test_truncated_json(void **state)
{
    const char *full = "{\"event_key\":\"k1\",\"case_id\":\"c\",\"activity\":\"TRIAGE\","
                       "\"time\":\"2024-03-01T07:15:00Z\",\"value\":1.25,"
                       "\"attrs\":{\"a\":[1,{\"b\":\"x\"}]}}";
    size_t n = strlen(full);

    for (size_t i = 1; i < n; i++)
        expect_error_n(state, full, i, "invalid JSON");
    assert_int_equal(parse_n(state, full, n)->kind, NDJSON_EVENT);
}

static void test_sizes(void **state)
{
    char key[NDJSON_EVENT_KEY_MAX + 2], id[NDJSON_ID_MAX + 2], act[NDJSON_ACTIVITY_MAX + 2];
    char s[2048];
    ndjson_line *l;

    memset(key, 'k', sizeof(key));
    memset(id, 'c', sizeof(id));
    memset(act, 'A', sizeof(act));

#define EV(k, c, a)                                                                   \
    (snprintf(s, sizeof(s),                                                           \
              "{\"event_key\":\"%.*s\",\"case_id\":\"%.*s\",\"subject_id\":\"%.*s\"," \
              "\"activity\":\"%.*s\",\"time\":\"2024-03-01T07:15:00Z\"}",             \
              (int)(k), key, (int)(c), id, (int)(c), id, (int)(a), act),              \
     s)
    l = parse(state, EV(NDJSON_EVENT_KEY_MAX, NDJSON_ID_MAX, NDJSON_ACTIVITY_MAX));
    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_int_equal(strlen(l->event.event_key), NDJSON_EVENT_KEY_MAX);
    assert_int_equal(strlen(l->event.case_id), NDJSON_ID_MAX);
    assert_int_equal(strlen(l->event.activity), NDJSON_ACTIVITY_MAX);
    expect_error(state, EV(NDJSON_EVENT_KEY_MAX + 1, 1, 1), "event_key longer than 512 bytes");
    expect_error(state, EV(1, NDJSON_ID_MAX + 1, 1), "case_id longer than 256 bytes");
    expect_error(state, EV(1, 1, NDJSON_ACTIVITY_MAX + 1), "activity must match");
    expect_error(state, EV(0, 1, 1), "event_key is empty");
#undef EV

    /* Multi-byte characters count in bytes: 171 x "é" = 342 bytes > 256. */
    char *big = malloc(4096);
    char *p = big + sprintf(big, "{" LINE_OK ",\"case_id\":\"");
    for (int i = 0; i < 171; i++)
        p += sprintf(p, "é");
    sprintf(p, "\"}");
    expect_error(state, big, "case_id longer than 256 bytes");
    free(big);

    /* Large attrs: the text buffer grows as needed, and shrinks its use again. */
    size_t n = 300000;
    char *line = malloc(n + 256);
    p = line + sprintf(line, "{" LINE_OK ",\"attrs\":{\"big\":\"");
    memset(p, 'x', n);
    p += n;
    strcpy(p, "\"}}");
    l = parse(state, line);
    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_int_equal(strlen(l->event.attrs_json), n + 10);
    l = parse(state, "{" LINE_OK ",\"attrs\":{\"w\":1}}");
    assert_string_equal(l->event.attrs_json, "{\"w\":1}");
    free(line);
}

static void test_invalid_utf8(void **state)
{
    expect_error(state, "{" LINE_OK ",\"case_id\":\"\xff\"}", "unable to decode byte 0xff");
    expect_error(state, "{" LINE_OK ",\"case_id\":\"\xc0\x80\"}", "invalid JSON"); /* overlong */
    expect_error(state, "{" LINE_OK ",\"case_id\":\"\xed\xa0\x80\"}",
                 "invalid JSON"); /* surrogate */
    expect_error(state, "{" LINE_OK ",\"case_id\":\"\xf4\x90\x80\x80\"}",
                 "invalid JSON");                                                /* > U+10FFFF */
    expect_error(state, "{" LINE_OK ",\"case_id\":\"ab\xc3\"}", "invalid JSON"); /* cut short */
    expect_error(state, "{" LINE_OK ",\"\xe9t\xe9\":1}", "invalid JSON");        /* Latin-1 key */
    expect_error(state, "{" LINE_OK ",\"case_id\":\"\\ud800\"}", "invalid Unicode");
    expect_error(state, "{" LINE_OK ",\"case_id\":\"\\udc00x\"}", "invalid Unicode");

    /* Valid UTF-8 and escapes of it are fine. */
    ndjson_line *l = parse(state, "{" LINE_OK ",\"case_id\":\"Zürich-\\u00e9-\\ud83d\\ude00\"}");
    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_string_equal(l->event.case_id, "Zürich-é-\xf0\x9f\x98\x80");
}

static void test_nul(void **state)
{
    expect_error(state, "{" LINE_OK ",\"case_id\":\"a\\u0000b\"}", "\\u0000 (NUL)");
    expect_error(state, "{" LINE_OK ",\"attrs\":{\"w\":\"\\u0000\"}}", "\\u0000 (NUL)");
    expect_error(state, "{" LINE_OK ",\"attrs\":{\"\\u0000\":1}}", "\\u0000 (NUL)");
    expect_error(state, "{\"event_key\":\"k\\u0000\",\"retract\":true}", "PostgreSQL");

    /* A raw NUL byte, inside or outside a string. */
    static const char raw_in[] = "{\"event_key\":\"k\0\",\"retract\":true}";
    expect_error_n(state, raw_in, sizeof(raw_in) - 1, "control character 0x0");
    static const char raw_out[] = "{\"event_key\":\"k\",\"retract\":true}\0";
    expect_error_n(state, raw_out, sizeof(raw_out) - 1, "invalid JSON");
    /* jansson skips a NUL after a literal or number; the line is still refused. */
    static const char after_literal[] = "{\"event_key\":\"k\",\"retract\":true\0}";
    expect_error_n(state, after_literal, sizeof(after_literal) - 1,
                   "invalid JSON at byte 32: NUL byte");
    static const char after_number[] = "{" LINE_OK ",\"value\":1\0}";
    expect_error_n(state, after_number, sizeof(after_number) - 1, "NUL byte");
    static const char raw_first[] = "\0{}";
    expect_error_n(state, raw_first, sizeof(raw_first) - 1, "invalid JSON");
}

/* attrs_json drops whitespace and keeps the rest as written: jsonb normalizes it. */
static void test_attrs_text(void **state)
{
    ndjson_line *l = parse(state, "{" LINE_OK ", \"attrs\" : { \"z\" : [ 1 , 2.50 , -0 , 1E+2 ] ,"
                                  "\n\"a\\u00e9\" :\t\"x y\\/\\u00e9\" , \"e\" : { } , \"n\":null,"
                                  "\"t\":true,\"f\":false } }");
    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_string_equal(l->event.attrs_json,
                        "{\"z\":[1,2.50,-0,1E+2],\"a\\u00e9\":\"x y\\/\\u00e9\","
                        "\"e\":{},\"n\":null,\"t\":true,\"f\":false}");
    /* Keys equal once decoded are duplicates. */
    expect_error(state, "{" LINE_OK ",\"attrs\":{\"a\":1,\"\\u0061\":2}}", "duplicate object key");
    expect_error(state, "{" LINE_OK ",\"attrs\":{\"x\":{\"a\":1},\"y\":{\"a\":1,\"a\":1}}}",
                 "duplicate object key");
    /* Keys of sibling objects are not duplicates of each other. */
    l = parse(state, "{" LINE_OK
                     ",\"attrs\":{\"x\":{\"a\":1},\"y\":{\"a\":1},\"a\":[{\"a\":1},{\"a\":2}]}}");
    assert_int_equal(l->kind, NDJSON_EVENT);

    /* Many keys (checked by sorting): all distinct, then one repeated far apart. */
    char *big = malloc(100000), *p = big + sprintf(big, "{" LINE_OK ",\"attrs\":{");
    for (int i = 0; i < 2000; i++)
        p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i, i);
    strcpy(p, "}}");
    assert_int_equal(parse(state, big)->kind, NDJSON_EVENT);
    strcpy(p, ",\"k17\":0}}");
    expect_error(state, big, "duplicate object key");
    free(big);
}

static void test_control_characters(void **state)
{
    expect_error(state, "{" LINE_OK ",\"case_id\":\"a\tb\"}", "control character 0x9");
    /* Escaped, they are data. */
    ndjson_line *l = parse(state, "{" LINE_OK ",\"attrs\":{\"note\":\"a\\tb\\nc\\\"d\"}}");
    assert_int_equal(l->kind, NDJSON_EVENT);
    assert_string_equal(l->event.attrs_json, "{\"note\":\"a\\tb\\nc\\\"d\"}");
}

static void test_deep_nesting(void **state)
{
    size_t n = 200000;
    char *s = malloc(2 * n + 256);
    char *p;

    /* Up to 64 levels, the line's object included. */
    p = s + sprintf(s, "{" LINE_OK ",\"attrs\":{\"a\":");
    for (int i = 0; i < 62; i++)
        *p++ = '[';
    for (int i = 0; i < 62; i++)
        *p++ = ']';
    strcpy(p, "}}");
    assert_int_equal(parse(state, s)->kind, NDJSON_EVENT);

    p = s + sprintf(s, "{" LINE_OK ",\"attrs\":{\"a\":");
    for (int i = 0; i < 63; i++)
        *p++ = '[';
    for (int i = 0; i < 63; i++)
        *p++ = ']';
    strcpy(p, "}}");
    expect_error(state, s, "nested deeper than 64 levels");

    /* Far beyond jansson's own limit, balanced or not: an error, not a crash. */
    p = s + sprintf(s, "{" LINE_OK ",\"attrs\":{\"a\":");
    memset(p, '[', n);
    memset(p + n, ']', n);
    strcpy(p + 2 * n, "}}");
    expect_error(state, s, "nested deeper");
    memset(s, '[', n);
    expect_error_n(state, s, n, "nested deeper");
    for (size_t i = 0; i < n / 5; i++)
        memcpy(s + 5 * i, "{\"a\":", 5);
    expect_error_n(state, s, n / 5 * 5, "nested deeper");
    memset(s, '{', n); /* malformed before it is deep */
    expect_error_n(state, s, n, "invalid JSON at column 2");

    /* Brackets inside strings are not nesting. */
    p = s + sprintf(s, "{" LINE_OK ",\"attrs\":{\"a\":\"");
    memset(p, '[', 1000);
    p += 1000;
    strcpy(p, "\\\"[[[\\\\\"}}");
    assert_int_equal(parse(state, s)->kind, NDJSON_EVENT);
    free(s);
}

static void test_blank_lines(void **state)
{
    static const char *const blanks[] = {"", " ", "\t", "\r", "   \t  ", " \t\r", "\n"};

    for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
        ndjson_line *l = parse(state, blanks[i]);
        assert_int_equal(l->kind, NDJSON_BLANK);
        assert_null(l->event.event_key);
    }
    /* A line with content and CRLF is read as if LF only. */
    ndjson_line *l = parse(state, "{" LINE_OK "}\r");
    assert_int_equal(l->kind, NDJSON_EVENT);
    /* Other whitespace is not JSON whitespace. */
    expect_error(state, "\v", "invalid JSON");
    expect_error(state, "\xc2\xa0", "invalid JSON");
}

/* Not NUL-terminated: bytes after len are never read. */
static void test_not_terminated(void **state)
{
    const char *s = "{" LINE_OK "}GARBAGE";
    ndjson_line *l = parse_n(state, s, strlen(s) - 7);
    assert_int_equal(l->kind, NDJSON_EVENT);

    size_t n = strlen("{" LINE_OK "}");
    char *exact = malloc(n); /* ASan catches a read past it */
    memcpy(exact, "{" LINE_OK "}", n);
    assert_int_equal(parse_n(state, exact, n)->kind, NDJSON_EVENT);
    assert_int_equal(parse_n(state, exact, n - 1)->kind, NDJSON_ERROR);
    free(exact);
}

/* One struct for many lines of every kind, then clear, then use again. */
static void test_reuse(void **state)
{
    ndjson_line *l = *state;
    const char *lines[] = {
        "{" LINE_OK ",\"attrs\":{\"a\":1}}",
        "{\"event_key\":\"x\",\"retract\":true}",
        "not json",
        "",
        "{" LINE_OK ",\"case_id\":\"c\"}",
    };
    for (int round = 0; round < 1000; round++) {
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
            assert_int_equal(ndjson_parse(l, lines[i], strlen(lines[i])), 0);
        assert_int_equal(l->kind, NDJSON_EVENT);
        assert_string_equal(l->event.case_id, "c");
        assert_null(l->event.attrs_json);
    }
    ndjson_line_clear(l);
    ndjson_line_clear(l);
    assert_int_equal(ndjson_parse(l, lines[0], strlen(lines[0])), 0);
    assert_string_equal(l->event.attrs_json, "{\"a\":1}");
    ndjson_line_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minimal_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nan_like_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retractions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_mistyped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_an_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attrs_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blank_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_terminated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
