/* lib/pull: result columns found by name and checked by type, rows as events,
 * retractions and rejections, locators, and the paging statements. */
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

#include "pull/row.h"
#include "pull/wrap.h"

static kpid_pull_attr attrs[] = {
    {.name = (char *)"ward", .column = (char *)"ward"},
    {.name = (char *)"n", .column = (char *)"beds"},
    {.name = (char *)"icu", .column = (char *)"icu"},
    {.name = (char *)"extra", .column = (char *)"doc"},
};

static kpid_pull_query query = {
    .name = (char *)"admissions",
    .sql = (char *)"SELECT * FROM his.enc -- last line",
    .watermark = (char *)"updated_at",
    .tiebreaker = (char *)"id",
    .watermark_type = KPID_PULL_WM_TIMESTAMP,
    .activity = (char *)"ADMISSION",
    .event_key = (char *)"key",
    .case_id = (char *)"id",
    .subject_id = (char *)"mrn",
    .time = (char *)"admitted_at",
    .value = (char *)"score",
    .retract_when = (char *)"cancelled",
    .attrs = attrs,
    .n_attrs = 4,
};

/* The result's columns, in an order unlike the query's. */
enum { C_MRN, C_KEY, C_ID, C_TIME, C_WARD, C_UPD, C_SCORE, C_CANC, C_BEDS, C_ICU, C_DOC, N_COLS };
static const char *const names[N_COLS] = {"mrn",  "key",        "id",    "admitted_at",
                                          "ward", "updated_at", "score", "cancelled",
                                          "beds", "icu",        "doc"};
static const enum kpid_pull_coltype types[N_COLS] = {
    KPID_PULL_COL_TEXT,        KPID_PULL_COL_TEXT,    KPID_PULL_COL_INTEGER,
    KPID_PULL_COL_TIMESTAMPTZ, KPID_PULL_COL_TEXT,    KPID_PULL_COL_TIMESTAMPTZ,
    KPID_PULL_COL_DECIMAL,     KPID_PULL_COL_BOOLEAN, KPID_PULL_COL_INTEGER,
    KPID_PULL_COL_BOOLEAN,     KPID_PULL_COL_JSON,
};

static void resolve_ok(const kpid_pull_query *q, const enum kpid_pull_coltype *t, kpid_pull_cols *c)
{
    char *error = NULL;

    if (kpid_pull_resolve(q, N_COLS, names, t, c, &error) != 0) {
        fprintf(stderr, "%s\n", error);
        fail();
    }
    assert_null(error);
}

static void resolve_bad(const kpid_pull_query *q, const char *const *n,
                        const enum kpid_pull_coltype *t, const char *want)
{
    kpid_pull_cols c = {0};
    char *error = NULL;

    assert_int_equal(kpid_pull_resolve(q, N_COLS, n, t, &c, &error), -EINVAL);
    assert_non_null(error);
    if (!strstr(error, want)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", error, want);
        fail();
    }
    assert_null(c.attrs);
    free(error);
}

static void test_resolve(void **state)
{
    kpid_pull_cols c = {0};
    enum kpid_pull_coltype t[N_COLS];
    const char *n[N_COLS];
    kpid_pull_query q;

    (void)state;
    resolve_ok(&query, types, &c);
    assert_int_equal(c.watermark, C_UPD);
    assert_int_equal(c.tiebreaker, C_ID);
    assert_int_equal(c.event_key, C_KEY);
    assert_int_equal(c.case_id, C_ID);
    assert_int_equal(c.subject_id, C_MRN);
    assert_int_equal(c.activity, -1);
    assert_int_equal(c.time, C_TIME);
    assert_int_equal(c.value, C_SCORE);
    assert_int_equal(c.retract_when, C_CANC);
    assert_int_equal(c.n_attrs, 4);
    assert_int_equal(c.attrs[1], C_BEDS);
    assert_int_equal(c.attr_types[3], KPID_PULL_COL_JSON);
    /* Again into the same struct: cleared first. */
    resolve_ok(&query, NULL, &c);
    assert_int_equal(c.value_type, KPID_PULL_COL_UNKNOWN);
    kpid_pull_cols_clear(&c);

    /* Missing, case-sensitive, and ambiguous columns. */
    q = query;
    q.watermark = (char *)"Updated_At";
    resolve_bad(&q, names, types,
                "query admissions: the result has no column \"Updated_At\" (watermark); its "
                "columns are: \"mrn\", \"key\"");
    q = query;
    q.attrs = (kpid_pull_attr[]){{.name = (char *)"w", .column = (char *)"nope"}};
    q.n_attrs = 1;
    resolve_bad(&q, names, types, "no column \"nope\" (attribute w)");
    memcpy(n, names, sizeof(n));
    n[C_MRN] = "id";
    resolve_bad(&query, n, types, "2 columns named \"id\" (tiebreaker)");

    /* Types. */
    memcpy(t, types, sizeof(t));
    t[C_UPD] = KPID_PULL_COL_TIMESTAMP;
    resolve_bad(&query, names, t, "(watermark) is a timestamp without time zone");
    t[C_UPD] = KPID_PULL_COL_TEXT;
    resolve_bad(&query, names, t, "needs a timestamp with time zone");
    memcpy(t, types, sizeof(t));
    q = query;
    q.watermark_type = KPID_PULL_WM_INTEGER;
    resolve_bad(&q, names, t, "watermark_type \"integer\" needs an integer column");
    t[C_UPD] = KPID_PULL_COL_XID;
    resolve_ok(&q, t, &c);
    t[C_UPD] = KPID_PULL_COL_INTEGER;
    resolve_ok(&q, t, &c);
    t[C_UPD] = KPID_PULL_COL_TEXT;
    resolve_bad(&q, names, t, "text sorts");
    memcpy(t, types, sizeof(t));
    t[C_TIME] = KPID_PULL_COL_DATE;
    resolve_bad(&query, names, t, "(time) is a date");
    t[C_TIME] = KPID_PULL_COL_TEXT; /* RFC 3339 text */
    resolve_ok(&query, t, &c);
    t[C_SCORE] = KPID_PULL_COL_BOOLEAN;
    resolve_bad(&query, names, t, "value needs a number");
    memcpy(t, types, sizeof(t));
    t[C_CANC] = KPID_PULL_COL_TEXT;
    resolve_bad(&query, names, t, "retract_when needs a boolean");
    kpid_pull_cols_clear(&c);
    assert_string_equal(kpid_pull_coltype_name((enum kpid_pull_coltype)99), "of another type");
}

/* A row of values, all set. */
static void row_values(const char **v)
{
    v[C_MRN] = "M1";
    v[C_KEY] = "adm:1";
    v[C_ID] = "1";
    v[C_TIME] = "2024-03-01 10:00:00+00";
    v[C_WARD] = "W \"3\"";
    v[C_UPD] = "2024-03-02 00:00:00.5+00";
    v[C_SCORE] = "12.50";
    v[C_CANC] = "f";
    v[C_BEDS] = "24";
    v[C_ICU] = "t";
    v[C_DOC] = "{\"a\": [1, 2]}";
}

static int convert(const kpid_pull_query *q, const char **v, kpid_pull_rowbuf *buf,
                   kpid_pull_row *row, char *why)
{
    kpid_pull_cols c = {0};
    int r;

    resolve_ok(q, types, &c);
    r = kpid_pull_row_convert(q, &c, v, buf, row, why, 256);
    kpid_pull_cols_clear(&c);
    return r;
}

static void rejected(const char **v, const char *want)
{
    kpid_pull_rowbuf buf = {0};
    kpid_pull_row row;
    char why[256];

    assert_int_equal(convert(&query, v, &buf, &row, why), 1);
    if (strcmp(why, want) != 0) {
        fprintf(stderr, "why \"%s\", want \"%s\"\n", why, want);
        fail();
    }
    kpid_pull_rowbuf_free(&buf);
}

static void test_convert(void **state)
{
    kpid_pull_rowbuf buf = {0};
    kpid_pull_row row;
    const char *v[N_COLS];
    char why[256];

    (void)state;
    row_values(v);
    assert_int_equal(convert(&query, v, &buf, &row, why), 0);
    assert_false(row.retract);
    assert_string_equal(row.ev.event_key, "adm:1");
    assert_string_equal(row.ev.case_id, "1");
    assert_string_equal(row.ev.subject_id, "M1");
    assert_string_equal(row.ev.activity, "ADMISSION");
    assert_int_equal(row.ev.time_us, 1709287200000000LL);
    assert_true(row.ev.has_value);
    assert_true(row.ev.value == 12.5);
    assert_string_equal(row.ev.attrs_json,
                        "{\"ward\":\"W \\\"3\\\"\",\"n\":24,\"icu\":true,\"extra\":{\"a\":[1,2]}}");
    assert_null(row.ev.origin);

    /* NULLs: optional fields left out. */
    v[C_MRN] = v[C_SCORE] = v[C_WARD] = v[C_BEDS] = v[C_DOC] = v[C_CANC] = NULL;
    v[C_ICU] = "f";
    v[C_TIME] = "2024-03-01T10:00:00Z";
    assert_int_equal(convert(&query, v, &buf, &row, why), 0);
    assert_null(row.ev.subject_id);
    assert_false(row.ev.has_value);
    assert_string_equal(row.ev.attrs_json, "{\"icu\":false}");
    v[C_ICU] = NULL;
    assert_int_equal(convert(&query, v, &buf, &row, why), 0);
    assert_string_equal(row.ev.attrs_json, "{}");

    /* Numbers as databases print them; NaN is kept as a string attribute. */
    row_values(v);
    static const char *const good[] = {"-3", "+4", ".5", "5.", "1e+20", "1E-3", "0"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v[C_SCORE] = good[i];
        assert_int_equal(convert(&query, v, &buf, &row, why), 0);
    }
    v[C_BEDS] = "NaN";
    assert_int_equal(convert(&query, v, &buf, &row, why), 0);
    assert_non_null(strstr(row.ev.attrs_json, "\"n\":\"NaN\""));

    /* retract_when true: a retraction of the key, whatever else the row holds. */
    row_values(v);
    v[C_CANC] = "t";
    v[C_TIME] = NULL;
    assert_int_equal(convert(&query, v, &buf, &row, why), 0);
    assert_true(row.retract);
    assert_string_equal(row.ev.event_key, "adm:1");

    /* kind = "retractions": every row retracts, only event_key is read. */
    kpid_pull_query tomb = {.name = (char *)"tomb",
                            .watermark = (char *)"updated_at",
                            .tiebreaker = (char *)"id",
                            .watermark_type = KPID_PULL_WM_TIMESTAMP,
                            .kind = KPID_PULL_RETRACTIONS,
                            .event_key = (char *)"key"};
    row_values(v);
    v[C_TIME] = "garbage";
    assert_int_equal(convert(&tomb, v, &buf, &row, why), 0);
    assert_true(row.retract);
    v[C_KEY] = NULL;
    assert_int_equal(convert(&tomb, v, &buf, &row, why), 1);
    assert_string_equal(why, "event_key is NULL");

    /* An activity from a column. */
    kpid_pull_query act = query;
    act.activity = NULL;
    act.activity_column = (char *)"ward";
    row_values(v);
    v[C_WARD] = "LAB_RESULT";
    assert_int_equal(convert(&act, v, &buf, &row, why), 0);
    assert_string_equal(row.ev.activity, "LAB_RESULT");
    v[C_WARD] = NULL;
    assert_int_equal(convert(&act, v, &buf, &row, why), 1);
    assert_string_equal(why, "activity is NULL");
    v[C_WARD] = "lab result";
    assert_int_equal(convert(&act, v, &buf, &row, why), 1);
    assert_string_equal(why, "activity is not [A-Z0-9_]{1,64}");
    kpid_pull_rowbuf_free(&buf);
}

static void test_rejected(void **state)
{
    const char *v[N_COLS];
    char long_key[600];

    (void)state;
    row_values(v);
    v[C_KEY] = NULL;
    rejected(v, "event_key is NULL");
    v[C_KEY] = "";
    rejected(v, "event_key is empty");
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    v[C_KEY] = long_key;
    rejected(v, "event_key is longer than 512 bytes");
    v[C_KEY] = "a\tb";
    rejected(v, "event_key is not valid UTF-8 or has control characters");
    v[C_KEY] = "a\xff";
    rejected(v, "event_key is not valid UTF-8 or has control characters");
    row_values(v);
    v[C_TIME] = NULL;
    rejected(v, "time is NULL");
    v[C_TIME] = "2024-03-01 10:00:00"; /* no zone: the value is not quoted in the reason */
    rejected(v, "time is not a timestamp with a time zone: missing time zone offset ('Z' or "
                "+HH:MM)");
    v[C_TIME] = "infinity";
    rejected(v, "time is not a timestamp with a time zone: not a finite timestamp of years 0001 "
                "to 9999");
    row_values(v);
    static const char *const bad_values[] = {"abc", "",         "1.2.3", "0x10",
                                             "1e",  "Infinity", "NaN",   "- 1"};
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        v[C_SCORE] = bad_values[i];
        rejected(v, "value is not a number");
    }
    v[C_SCORE] = "1e999";
    rejected(v, "value is not a finite number");
    row_values(v);
    v[C_CANC] = "maybe";
    rejected(v, "retract_when is not a boolean");
    row_values(v);
    v[C_WARD] = "W\xc3";
    rejected(v, "attribute ward is not valid UTF-8");
    row_values(v);
    v[C_DOC] = "{\"a\": 1,}";
    rejected(v, "attribute extra is not valid JSON (string or '}' expected)");
}

static void test_position(void **state)
{
    kpid_pull_cols c = {0};
    const char *v[N_COLS], *w, *t;
    char why[256], big[1100];

    (void)state;
    resolve_ok(&query, types, &c);
    row_values(v);
    assert_int_equal(kpid_pull_row_position(&query, &c, v, &w, &t, why, sizeof(why)), 0);
    assert_string_equal(w, "2024-03-02 00:00:00.5+00");
    assert_string_equal(t, "1");
    v[C_UPD] = NULL;
    assert_int_equal(kpid_pull_row_position(&query, &c, v, &w, &t, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "the watermark is NULL");
    v[C_UPD] = "infinity";
    assert_int_equal(kpid_pull_row_position(&query, &c, v, &w, &t, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "the watermark is not a timestamp"));
    row_values(v);
    v[C_ID] = NULL;
    assert_int_equal(kpid_pull_row_position(&query, &c, v, &w, &t, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "the tiebreaker is NULL");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    v[C_ID] = big;
    assert_int_equal(kpid_pull_row_position(&query, &c, v, &w, &t, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "the tiebreaker is longer than 1024 bytes");
    v[C_ID] = "\xff";
    assert_int_equal(kpid_pull_row_position(&query, &c, v, &w, &t, why, sizeof(why)), -EINVAL);
    kpid_pull_cols_clear(&c);
}

static void test_locator(void **state)
{
    char out[256], big[300];

    (void)state;
    kpid_pull_row_locator(&query, "E123", out, sizeof(out));
    assert_string_equal(out, "query:admissions key:E123");
    kpid_pull_row_locator(&query, "a\tb\xff\xc2\x85ü", out, sizeof(out));
    assert_string_equal(out, "query:admissions key:a?b??ü");
    kpid_pull_row_locator(&query, NULL, out, sizeof(out));
    assert_string_equal(out, "query:admissions key:(null)");
    /* Cut at 128 bytes, not within a character. */
    memset(big, 'x', 127);
    strcpy(big + 127, "üüü");
    kpid_pull_row_locator(&query, big, out, sizeof(out));
    assert_int_equal(strlen(out), strlen("query:admissions key:") + 127);
    kpid_pull_row_locator(&query, "E123", out, 10);
    assert_string_equal(out, "query:adm");
}

static void wrap(enum kpid_pull_from from, enum kpid_pull_compare compare,
                 enum kpid_pull_placeholder ph, enum kpid_pull_limit limit, bool bound,
                 const char *want_where, size_t n_params, const enum kpid_pull_param *params)
{
    kpid_pull_wrap_options opt = {
        .compare = compare, .placeholder = ph, .limit = limit, .bound = bound};
    kpid_pull_stmt s;
    char want[1024];

    assert_int_equal(kpid_pull_wrap(&query, from, &opt, &s), 0);
    snprintf(want, sizeof(want), "SELECT * FROM (\nSELECT * FROM his.enc -- last line\n) AS q %s",
             want_where);
    assert_string_equal(s.sql, want);
    assert_int_equal(s.n_params, n_params);
    for (size_t i = 0; i < n_params; i++)
        assert_int_equal(s.params[i], params[i]);
    kpid_pull_stmt_clear(&s);
}

static void test_wrap(void **state)
{
#define W KPID_PULL_PARAM_WATERMARK
#define T KPID_PULL_PARAM_TIEBREAKER
#define B KPID_PULL_PARAM_BOUND
#define L KPID_PULL_PARAM_LIMIT

    (void)state;
    wrap(KPID_PULL_FROM_START, KPID_PULL_COMPARE_ROW, KPID_PULL_PLACEHOLDER_DOLLAR,
         KPID_PULL_LIMIT_CLAUSE, false,
         "WHERE q.\"updated_at\" IS NOT NULL AND q.\"id\" IS NOT NULL ORDER BY q.\"updated_at\", "
         "q.\"id\" LIMIT $1",
         1, (enum kpid_pull_param[]){L});
    wrap(KPID_PULL_FROM_AT, KPID_PULL_COMPARE_ROW, KPID_PULL_PLACEHOLDER_DOLLAR,
         KPID_PULL_LIMIT_CLAUSE, true,
         "WHERE q.\"updated_at\" >= $1 AND q.\"id\" IS NOT NULL AND q.\"updated_at\" < $2 ORDER "
         "BY q.\"updated_at\", q.\"id\" LIMIT $3",
         3, (enum kpid_pull_param[]){W, B, L});
    wrap(KPID_PULL_FROM_AFTER, KPID_PULL_COMPARE_ROW, KPID_PULL_PLACEHOLDER_DOLLAR,
         KPID_PULL_LIMIT_CLAUSE, true,
         "WHERE (q.\"updated_at\", q.\"id\") > ($1, $2) AND q.\"updated_at\" < $3 ORDER BY "
         "q.\"updated_at\", q.\"id\" LIMIT $4",
         4, (enum kpid_pull_param[]){W, T, B, L});
    wrap(KPID_PULL_FROM_AFTER, KPID_PULL_COMPARE_OR, KPID_PULL_PLACEHOLDER_DOLLAR,
         KPID_PULL_LIMIT_FETCH_FIRST, false,
         "WHERE (q.\"updated_at\" > $1 OR (q.\"updated_at\" = $1 AND q.\"id\" > $2)) ORDER BY "
         "q.\"updated_at\", q.\"id\" FETCH FIRST $3 ROWS ONLY",
         3, (enum kpid_pull_param[]){W, T, L});
    wrap(KPID_PULL_FROM_AFTER, KPID_PULL_COMPARE_OR, KPID_PULL_PLACEHOLDER_QMARK,
         KPID_PULL_LIMIT_NONE, true,
         "WHERE (q.\"updated_at\" > ? OR (q.\"updated_at\" = ? AND q.\"id\" > ?)) AND "
         "q.\"updated_at\" < ? ORDER BY q.\"updated_at\", q.\"id\"",
         4, (enum kpid_pull_param[]){W, W, T, B});

    /* Identifiers are quoted, never spliced. */
    kpid_pull_query q = query;
    q.watermark = (char *)"a\" ; DROP TABLE x; --";
    kpid_pull_wrap_options opt = {.limit = KPID_PULL_LIMIT_NONE};
    kpid_pull_stmt s;
    assert_int_equal(kpid_pull_wrap(&q, KPID_PULL_FROM_AT, &opt, &s), 0);
    assert_non_null(strstr(s.sql, "q.\"a\"\" ; DROP TABLE x; --\" >= $1"));
    kpid_pull_stmt_clear(&s);
    opt.limit = (enum kpid_pull_limit)7;
    assert_int_equal(kpid_pull_wrap(&q, KPID_PULL_FROM_AT, &opt, &s), -EINVAL);
    opt.limit = KPID_PULL_LIMIT_NONE;
    assert_int_equal(kpid_pull_wrap(&q, (enum kpid_pull_from)3, &opt, &s), -EINVAL);

    kpid_buf b = {0};
    assert_int_equal(kpid_pull_quote_ident(&b, "\"\""), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "\"\"\"\"\"\"", 6);
    kpid_buf_free(&b);
#undef W
#undef T
#undef B
#undef L
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),  cmocka_unit_test(test_convert),
        cmocka_unit_test(test_rejected), cmocka_unit_test(test_position),
        cmocka_unit_test(test_locator),  cmocka_unit_test(test_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
