/* Unit tests of batch encoding: COPY text rows, escaping, time formatting, validation of
 * events (refused ones become rejected rows), pseudonymization, UTF-8 checks. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/batch.h"
#include "ingest/pseudonym.h"

static const kpid_batch_ctx plain = {.source = "src1"};

static char *rows_text(const struct kpid_batch *b)
{
    char *s = malloc(b->rows.len + 1);
    memcpy(s, b->rows.data, b->rows.len);
    s[b->rows.len] = '\0';
    return s;
}

static char *rejects_text(const struct kpid_batch *b)
{
    char *s = malloc(b->rejects.len + 1);
    memcpy(s, b->rejects.data ? b->rejects.data : "", b->rejects.len);
    s[b->rejects.len] = '\0';
    return s;
}

static void format_time(void **unused)
{
    char out[40];
    assert_int_equal(kpid_format_time(0, out), 29);
    assert_string_equal(out, "1970-01-01 00:00:00.000000+00");
    /* 2024-02-29T23:59:59.999999Z: a leap day. */
    assert_true(kpid_format_time(1709251199999999LL, out) > 0);
    assert_string_equal(out, "2024-02-29 23:59:59.999999+00");
    /* Before the epoch: -1 us is the last microsecond of 1969. */
    assert_true(kpid_format_time(-1, out) > 0);
    assert_string_equal(out, "1969-12-31 23:59:59.999999+00");
    assert_true(kpid_format_time(-62135596800LL * 1000000, out) > 0);
    assert_string_equal(out, "0001-01-01 00:00:00.000000+00");
    assert_true(kpid_format_time(253402300799999999LL, out) > 0);
    assert_string_equal(out, "9999-12-31 23:59:59.999999+00");
    assert_int_equal(kpid_format_time(253402300800000000LL, out), -ERANGE);
    assert_int_equal(kpid_format_time(-62135596800000001LL, out), -ERANGE);
}

static void emit_full_event(void **unused)
{
    struct kpid_batch *b;
    kpid_event ev = {
        .event_key = "E1/ED_ARRIVAL/1",
        .case_id = "E1",
        .subject_id = "P1",
        .activity = "ED_ARRIVAL",
        .time_us = 1700000000123456LL,
        .value = 2.5,
        .has_value = true,
        .attrs_json = "{\"ward\":\"W\\\\1\"}",
        .origin = "msg-1",
    };

    assert_int_equal(kpid_batch_new(&plain, NULL, 3, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), 0);
    char *s = rows_text(b);
    /* kpid.event's columns; the JSON backslash is doubled for COPY. */
    assert_string_equal(s,
                        "src1\tE1/ED_ARRIVAL/1\tE1\tP1\tED_ARRIVAL\t"
                        "2023-11-14 22:13:20.123456+00\t2.5\t{\"ward\":\"W\\\\\\\\1\"}\tmsg-1\n");
    free(s);
    /* Staged: op and seq = (3 << 32) | 0 in front. */
    kpid_buf st = {0};
    assert_int_equal(kpid_batch_stage_rows(b, &st), 0);
    assert_int_equal(st.len, b->rows.len + strlen("U\t12884901888\t"));
    assert_memory_equal(st.data, "U\t12884901888\tsrc1\t", 19);
    kpid_buf_free(&st);
    s = rows_text(b);
    assert_int_equal(b->n_events, 1);
    free(s);
    kpid_batch_free(b);
}

static void emit_minimal_event_uses_nulls(void **unused)
{
    struct kpid_batch *b;
    kpid_event ev = {.event_key = "k\\ey", .case_id = "c\ta\nse", .activity = "X", .time_us = 0};

    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), 0);
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), 0);
    char *s = rows_text(b);
    assert_string_equal(
        s, "src1\tk\\\\ey\tc\\ta\\nse\t\\N\tX\t1970-01-01 00:00:00.000000+00\t\\N\t{}\t\\N\n"
           "src1\tk\\\\ey\tc\\ta\\nse\t\\N\tX\t1970-01-01 00:00:00.000000+00\t\\N\t{}\t\\N\n");
    free(s);
    kpid_batch_free(b);
}

/* Operations keep their place among the events when staged. */
static void retract_and_origin_rows(void **unused)
{
    struct kpid_batch *b;
    kpid_event ev = {.event_key = "K2", .activity = "A", .origin = "Encounter/7/_history/2"};
    kpid_buf st = {0};

    assert_int_equal(kpid_batch_new(&plain, NULL, 1, &b), 0);
    assert_int_equal(kpid_batch_retract(b, "K1"), 0);
    assert_int_equal(kpid_batch_replace_origin(b, "Encounter/7/_history/2"), 0);
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), 0);
    assert_int_equal(kpid_batch_retract(b, "K2"), 0);
    assert_int_equal(b->n_ops, 3);
    assert_int_equal(b->n_events, 1);
    assert_int_equal(kpid_batch_weight(b), 4);
    assert_int_equal(kpid_batch_stage_rows(b, &st), 0);
    kpid_buf_putc(&st, '\0');
    assert_string_equal(
        st.data,
        "D\t4294967296\tsrc1\tK1\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"
        "O\t4294967297\tsrc1\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\tEncounter/7/_history/2\n"
        "U\t4294967298\tsrc1\tK2\t\\N\t\\N\tA\t1970-01-01 00:00:00.000000+00\t\\N\t{}\tEncounter/7/_history/2\n"
        "D\t4294967299\tsrc1\tK2\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n");
    kpid_buf_free(&st);
    assert_int_equal(kpid_batch_retract(b, ""), -EINVAL);
    assert_int_equal(b->n_rejects, 1);
    assert_int_equal(b->n_ops, 3);
    kpid_batch_free(b);
}

/* Every invalid event is refused with its reason, as a rejected row; nothing else. */
static void invalid_events_rejected(void **unused)
{
    static const struct {
        kpid_event ev;
        const char *reason;
    } cases[] = {
        {{.activity = "A"}, "missing event_key"},
        {{.event_key = "", .activity = "A"}, "empty event_key"},
        {{.event_key = "k"}, "missing activity"},
        {{.event_key = "k", .activity = "ed_arrival"}, "activity must match [A-Z0-9_]{1,64}"},
        {{.event_key = "k", .activity = "ED ARRIVAL"}, "activity must match [A-Z0-9_]{1,64}"},
        {{.event_key = "k", .activity = "A", .case_id = "\xc3\x28"}, "case_id is not valid UTF-8"},
        {{.event_key = "k", .activity = "A", .subject_id = "\xed\xa0\x80"},
         "subject_id is not valid UTF-8"},
        {{.event_key = "k", .activity = "A", .attrs_json = "[1]"}, "attrs must be a JSON object"},
        {{.event_key = "k", .activity = "A", .time_us = INT64_MAX}, "time outside years 0001-9999"},
        {{.event_key = "k", .activity = "A", .has_value = true, .value = INFINITY},
         "value is not a finite number"},
        {{.event_key = "k", .activity = "A", .has_value = true, .value = NAN},
         "value is not a finite number"},
        /* An identity is free of control characters: C0, DEL and C1. */
        {{.event_key = "k\tey", .activity = "A"},
         "event_key contains a control character (U+0009 at byte 2)"},
        {{.event_key = "key\n", .activity = "A"},
         "event_key contains a control character (U+000A at byte 4)"},
        {{.event_key = "\x1b[2J", .activity = "A"},
         "event_key contains a control character (U+001B at byte 1)"},
        {{.event_key = "k\x7f", .activity = "A"},
         "event_key contains a control character (U+007F at byte 2)"},
        {{.event_key = "\xc3\xa9k\xc2\x85", .activity = "A"},
         "event_key contains a control character (U+0085 at byte 4)"},
        {{.event_key = "k", .activity = "A", .origin = "Encounter/7\r"},
         "origin contains a control character (U+000D at byte 12)"},
        {{.event_key = "k",
          .activity = "A",
          .origin = "\xc2\x9b"
                    "Encounter/7"},
         "origin contains a control character (U+009B at byte 1)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kpid_batch *b;
        char want[256];
        assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
        assert_int_equal(kpid_batch_emit(b, &cases[i].ev, "f.ndjson:7"), -EINVAL);
        assert_int_equal(b->n_events, 0);
        assert_int_equal(b->rows.len, 0);
        assert_int_equal(b->n_rejects, 1);
        char *s = rejects_text(b);
        snprintf(want, sizeof(want), "src1\tf.ndjson:7\t%s\t\\N\n", cases[i].reason);
        assert_string_equal(s, want);
        free(s);
        kpid_batch_free(b);
    }
    /* Too long fields. */
    char longkey[KPID_EVENT_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    kpid_event ev = {.event_key = longkey, .activity = "A"};
    struct kpid_batch *b;
    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), -EINVAL);
    char *s = rejects_text(b);
    assert_non_null(strstr(s, "event_key longer than 512 bytes"));
    free(s);
    kpid_batch_free(b);
}

/* Keys and origins: control characters are refused everywhere they name an event, with
 * the reason, as rejected input; other text (case_id, attrs) may hold them. */
static void identities_without_control_characters(void **unused)
{
    struct kpid_batch *b;
    char *s;

    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_retract(b, "K\n1"), -EINVAL);
    assert_int_equal(kpid_batch_replace_origin(b, "Encounter/\t7"), -EINVAL);
    assert_int_equal(b->n_ops, 0);
    assert_int_equal(b->n_rejects, 2);
    s = rejects_text(b);
    assert_string_equal(
        s, "src1\tretraction\tevent_key contains a control character (U+000A at byte 2)\t\\N\n"
           "src1\torigin\torigin contains a control character (U+0009 at byte 11)\t\\N\n");
    free(s);
    kpid_batch_free(b);

    /* Without a locator, a refused event names its key only when the key is printable. */
    kpid_event bad = {.event_key = "K\x01", .activity = "A"};
    kpid_event bad2 = {.event_key = "K2", .activity = "A", .origin = "o\x02"};
    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &bad, NULL), -EINVAL);
    assert_int_equal(kpid_batch_emit(b, &bad2, NULL), -EINVAL);
    s = rejects_text(b);
    assert_string_equal(
        s, "src1\tkey:?\tevent_key contains a control character (U+0001 at byte 2)\t\\N\n"
           "src1\tkey:K2\torigin contains a control character (U+0002 at byte 2)\t\\N\n");
    free(s);
    kpid_batch_free(b);

    /* Printable text, non-ASCII and U+00A0 included, is a valid identity; case_id and
     * attrs may carry control characters (COPY escapes them). */
    kpid_event ok = {.event_key = "Z\xc3\xbcrich \xc2\xa0/\xe2\x82\xac",
                     .activity = "A",
                     .case_id = "c\x01",
                     .attrs_json = "{\n\"a\": 1}",
                     .origin = "Encounter/7 \xc2\xbf"};
    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &ok, NULL), 0);
    assert_int_equal(kpid_batch_retract(b, ok.event_key), 0);
    assert_int_equal(kpid_batch_replace_origin(b, ok.origin), 0);
    assert_int_equal(b->n_events, 1);
    assert_int_equal(b->n_ops, 2);
    assert_int_equal(b->n_rejects, 0);
    kpid_batch_free(b);
}

static void reject_raw_sanitized_and_cut(void **unused)
{
    struct kpid_batch *b;
    char raw[KPID_REJECT_RAW_MAX + 100];

    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_reject(b, "x:1", "bad",
                                       "a\xff"
                                       "b\0c\t",
                                       6),
                     0);
    char *s = rejects_text(b);
    assert_string_equal(s, "src1\tx:1\tbad\ta\xef\xbf\xbd"
                           "b\xef\xbf\xbd"
                           "c\\t\n");
    free(s);
    kpid_batch_free(b);

    memset(raw, 'r', sizeof(raw));
    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_reject(b, "x:2", "long", raw, sizeof(raw)), 0);
    assert_int_equal(b->rejects.len, strlen("src1\tx:2\tlong\t\n") + KPID_REJECT_RAW_MAX);
    kpid_batch_free(b);
}

static void pseudonymized_ids(void **unused)
{
    static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
    kpid_batch_ctx ctx = {.source = "s", .key = key, .key_len = 32, .pseudonymize_case_id = false};
    kpid_event ev = {.event_key = "k", .case_id = "C1", .subject_id = "P1", .activity = "A"};
    char want_subject[65], want_case[65], line[512];
    struct kpid_batch *b;

    kpid_pseudonymize(key, 32, "P1", 2, want_subject);
    kpid_pseudonymize(key, 32, "C1", 2, want_case);

    assert_int_equal(kpid_batch_new(&ctx, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), 0);
    char *s = rows_text(b);
    snprintf(line, sizeof(line), "s\tk\tC1\t%s\tA\t", want_subject);
    assert_memory_equal(s, line, strlen(line));
    assert_null(strstr(s, "P1"));
    free(s);
    kpid_batch_free(b);

    ctx.pseudonymize_case_id = true;
    assert_int_equal(kpid_batch_new(&ctx, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &ev, NULL), 0);
    s = rows_text(b);
    snprintf(line, sizeof(line), "s\tk\t%s\t%s\tA\t", want_case, want_subject);
    assert_memory_equal(s, line, strlen(line));
    free(s);
    kpid_batch_free(b);
}

static void utf8_validation(void **unused)
{
    assert_true(kpid_utf8_valid("abc", 3));
    assert_true(kpid_utf8_valid("\xd2\x9a\xd0\xb0", 4));  /* Қа */
    assert_true(kpid_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
    assert_false(kpid_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(kpid_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(kpid_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(kpid_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(kpid_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(kpid_utf8_valid("a\0b", 3));             /* NUL */
    assert_false(kpid_utf8_valid("\x80", 1));
}

static void cursor_rules(void **unused)
{
    struct kpid_batch *b;
    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_set_cursor(b, NULL), 0);
    assert_null(b->cursor);
    assert_int_equal(kpid_batch_set_cursor(b, "{\"off\":1}"), 0);
    assert_string_equal(b->cursor, "{\"off\":1}");
    assert_int_equal(kpid_batch_set_cursor(b, "\xff"), -EINVAL);
    char *big = malloc(KPID_CURSOR_MAX + 2);
    memset(big, 'c', KPID_CURSOR_MAX + 1);
    big[KPID_CURSOR_MAX + 1] = '\0';
    assert_int_equal(kpid_batch_set_cursor(b, big), -EINVAL);
    assert_string_equal(b->cursor, "{\"off\":1}");
    free(big);
    kpid_batch_free(b);
}

/* The batch's state arrays, as "KEYS | VALUES". */
static char *state_text(const struct kpid_batch *b)
{
    const kpid_buf *k = &b->state_keys, *v = &b->state_values;
    char *s = malloc(k->len + v->len + 4);
    memcpy(s, k->data ? k->data : "", k->len);
    memcpy(s + k->len, " | ", 3);
    memcpy(s + k->len + 3, v->data ? v->data : "", v->len);
    s[k->len + 3 + v->len] = '\0';
    return s;
}

/* Keyed source state: the limits of keys and values; refused puts record nothing. */
static void state_put_limits(void **unused)
{
    struct kpid_batch *b;
    char key[KPID_STATE_KEY_MAX + 2], *value = malloc(KPID_STATE_VALUE_MAX + 2);

    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    memset(key, 'k', sizeof(key));
    key[KPID_STATE_KEY_MAX] = '\0';
    memset(value, 'v', KPID_STATE_VALUE_MAX + 1);
    value[KPID_STATE_VALUE_MAX] = '\0';
    /* At the limits: accepted. */
    assert_int_equal(kpid_batch_state_put(b, key, value), 0);
    assert_int_equal(kpid_batch_state_put(b, "a", ""), 0);
    assert_int_equal(kpid_batch_state_put(b, "\xc3\xa9t\xc3\xa9 ~", "\xf0\x9f\x98\x80"), 0);
    assert_int_equal(b->n_state, 3);
    size_t len = b->state_keys.len + b->state_values.len;

    /* One byte over, empty, control characters (C0, DEL, C1), invalid UTF-8: refused. */
    key[KPID_STATE_KEY_MAX] = 'k';
    key[KPID_STATE_KEY_MAX + 1] = '\0';
    assert_int_equal(kpid_batch_state_put(b, key, "v"), -EINVAL);
    value[KPID_STATE_VALUE_MAX] = 'v';
    value[KPID_STATE_VALUE_MAX + 1] = '\0';
    assert_int_equal(kpid_batch_state_put(b, "a", value), -EINVAL);
    assert_int_equal(kpid_batch_state_put(b, "", "v"), -EINVAL);
    assert_int_equal(kpid_batch_state_put(b, NULL, "v"), -EINVAL);
    assert_int_equal(kpid_batch_state_put(b, "a\tb", "v"), -EINVAL);
    assert_int_equal(kpid_batch_state_put(b, "a\nb", "v"), -EINVAL);
    assert_int_equal(kpid_batch_state_put(b, "a\x7f", "v"), -EINVAL);
    assert_int_equal(kpid_batch_state_put(b, "a\xc2\x85", "v"), -EINVAL); /* U+0085 NEL */
    assert_int_equal(kpid_batch_state_put(b, "a\xc2\x9f", "v"), -EINVAL); /* U+009F */
    assert_int_equal(kpid_batch_state_put(b, "a\xff", "v"), -EINVAL);
    assert_int_equal(kpid_batch_state_put(b, "a", "\xc0\xaf"), -EINVAL);
    assert_int_equal(b->n_state, 3);
    assert_int_equal(b->state_keys.len + b->state_values.len, len);
    /* U+00A0 is the first code point after C1: a key may hold it. */
    assert_int_equal(kpid_batch_state_put(b, "a\xc2\xa0", "v"), 0);
    assert_int_equal(kpid_batch_weight(b), 4);
    assert_int_equal(kpid_batch_bytes(b), b->state_keys.len + b->state_values.len);
    free(value);
    kpid_batch_free(b);
}

/* Puts are kept in the order made, as array elements; a delete is NULL; '"' and '\\'
 * are escaped. The writer keeps that order (WITH ORDINALITY), so the last put of a key
 * wins. */
static void state_put_rows_in_order(void **unused)
{
    struct kpid_batch *b;

    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_state_put(b, "f:1:2", "{\"off\":1}"), 0);
    assert_int_equal(kpid_batch_state_put(b, "g", "back\\slash"), 0);
    assert_int_equal(kpid_batch_state_put(b, "f:1:2", "{\"off\":2}"), 0);
    assert_int_equal(kpid_batch_state_put(b, "g", NULL), 0);
    assert_int_equal(kpid_batch_state_put(b, "NULL", "NULL"), 0);
    char *s = state_text(b);
    assert_string_equal(s,
                        "\"f:1:2\",\"g\",\"f:1:2\",\"g\",\"NULL\" | "
                        "\"{\\\"off\\\":1}\",\"back\\\\slash\",\"{\\\"off\\\":2}\",NULL,\"NULL\"");
    free(s);
    assert_int_equal(b->n_state, 5);
    assert_int_equal(b->n_events, 0);
    /* A batch of state only still weighs, and the queue counts its bytes. */
    kpid_batch_seal(b);
    assert_int_equal(b->item.events, 5);
    assert_true(b->item.bytes >= b->state_keys.len + b->state_values.len);
    kpid_batch_free(b);
}

/* kpid_event_invalid says what kpid_batch_emit would refuse, and nothing else. */
static void event_invalid_matches_emit(void **unused)
{
    struct kpid_batch *b;
    kpid_event good = {.event_key = "k", .activity = "A", .time_us = 0};
    kpid_event late = good, bad = good;
    late.time_us = 253402300800000000LL; /* 10000-01-01 */
    bad.activity = "lower";

    assert_null(kpid_event_invalid(&good));
    assert_string_equal(kpid_event_invalid(&late), "time outside years 0001-9999");
    assert_string_equal(kpid_event_invalid(&bad), "activity must match [A-Z0-9_]{1,64}");
    assert_int_equal(kpid_batch_new(&plain, NULL, 0, &b), 0);
    assert_int_equal(kpid_batch_emit(b, &good, NULL), 0);
    assert_int_equal(kpid_batch_emit(b, &late, "f:1"), -EINVAL);
    char *s = rejects_text(b);
    assert_string_equal(s, "src1\tf:1\ttime outside years 0001-9999\t\\N\n");
    free(s);
    kpid_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_time),
        cmocka_unit_test(emit_full_event),
        cmocka_unit_test(emit_minimal_event_uses_nulls),
        cmocka_unit_test(retract_and_origin_rows),
        cmocka_unit_test(invalid_events_rejected),
        cmocka_unit_test(identities_without_control_characters),
        cmocka_unit_test(reject_raw_sanitized_and_cut),
        cmocka_unit_test(pseudonymized_ids),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(cursor_rules),
        cmocka_unit_test(state_put_limits),
        cmocka_unit_test(state_put_rows_in_order),
        cmocka_unit_test(event_invalid_matches_emit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
