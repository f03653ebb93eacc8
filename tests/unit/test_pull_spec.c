/* lib/pull: the queries of a HIS source from the configuration, and the shape of their SQL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libconfig.h>

#include "pull/spec.h"

/* The keys of a good query. */
static const char *const good[][2] = {
    {"name", "\"admissions\""},      {"sql", "\"SELECT * FROM his.enc\""},
    {"watermark", "\"updated_at\""}, {"tiebreaker", "\"id\""},
    {"event_key", "\"key\""},        {"time", "\"admitted_at\""},
    {"activity", "\"ADMISSION\""},
};

/* The good query as a group, with key set to value (NULL: without key); more (may be
 * NULL) is added. A static buffer: valid until the next call. */
static const char *with2(const char *key, const char *value, const char *more)
{
    static char text[2048];
    size_t n = 0;
    bool done = false;

    n += (size_t)snprintf(text + n, sizeof(text) - n, "{ ");
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *v = good[i][1];
        if (key && strcmp(key, good[i][0]) == 0) {
            done = true;
            v = value;
        }
        if (v)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = %s; ", good[i][0], v);
    }
    if (key && !done && value)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = %s; ", key, value);
    snprintf(text + n, sizeof(text) - n, "%s }", more ? more : "");
    return text;
}

static const char *with(const char *key, const char *value)
{
    return with2(key, value, NULL);
}

/* Parses "queries = ( <text> );" written to a file. Returns what kpid_pull_spec_parse
 * does; *ret_error (may be NULL) gets its message. */
static int parse(const char *text, unsigned flags, kpid_pull_spec **ret, char **ret_error)
{
    char path[] = "/tmp/kpid-test-pull-spec-XXXXXX";
    int fd = mkstemp(path);
    config_t cfg;
    char *error = NULL;
    int r;

    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "x = 1;\nqueries = (\n%s\n);\n", text);
    fclose(f);
    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        fprintf(stderr, "libconfig: %s:%d %s in: %s\n", path, config_error_line(&cfg),
                config_error_text(&cfg), text);
        fail();
    }
    *ret = NULL;
    r = kpid_pull_spec_parse(config_lookup(&cfg, "queries"), flags, ret, &error);
    if (r < 0) {
        assert_null(*ret);
        assert_non_null(error);
        /* FILE:LINE: ... naming the file read. */
        assert_true(strncmp(error, path, strlen(path)) == 0);
        assert_int_equal(error[strlen(path)], ':');
    } else {
        assert_null(error);
    }
    if (ret_error)
        *ret_error = error;
    else
        free(error);
    config_destroy(&cfg);
    unlink(path);
    return r;
}

/* Expects text to fail with a message containing want. */
static void refused(const char *text, const char *want)
{
    kpid_pull_spec *spec;
    char *error = NULL;

    if (parse(text, KPID_PULL_ALLOW_SNAPSHOT_XMIN, &spec, &error) != -EINVAL) {
        fprintf(stderr, "accepted: %s\n", text);
        fail();
    }
    if (!strstr(error, want)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", error, want);
        fail();
    }
    free(error);
}

static void test_full(void **state)
{
    kpid_pull_spec *spec;

    (void)state;
    assert_int_equal(
        parse("{ name = \"admissions\"; sql = \"SELECT e.id, e.updated_at FROM his.e e;\n \";"
              "  watermark = \"updated_at\"; watermark_type = \"timestamp\"; tiebreaker = \"id\";"
              "  overlap = \"5m\"; activity = \"ADMISSION\"; event_key = \"event_key\";"
              "  case_id = \"id\"; subject_id = \"mrn\"; time = \"admitted_at\";"
              "  value = \"v\"; attributes = { ward = \"ward\"; patient_class = \"Class\"; };"
              "  retract_when = \"cancelled\"; },\n"
              "{ name = \"tomb_1\"; kind = \"retractions\"; sql = \"WITH t AS (SELECT 1) SELECT * "
              "FROM t\"; watermark = \"row_xid\"; watermark_type = \"integer\"; tiebreaker = \"k\";"
              "  event_key = \"k\"; bound = \"snapshot_xmin\"; overlap = 100; },\n"
              "{ name = \"labs\"; sql = \"SELECT 1\"; watermark = \"u\"; tiebreaker = \"u\";"
              "  event_key = \"k\"; time = \"t\"; activity_column = \"act\"; overlap = 250; }",
              KPID_PULL_ALLOW_SNAPSHOT_XMIN, &spec, NULL),
        0);
    assert_int_equal(spec->n_queries, 3);
    const kpid_pull_query *q = &spec->queries[0];
    assert_string_equal(q->name, "admissions");
    assert_string_equal(q->sql, "SELECT e.id, e.updated_at FROM his.e e"); /* ';' trimmed */
    assert_string_equal(q->watermark, "updated_at");
    assert_int_equal(q->watermark_type, KPID_PULL_WM_TIMESTAMP);
    assert_int_equal(q->overlap, 300LL * 1000000);
    assert_int_equal(q->kind, KPID_PULL_EVENTS);
    assert_int_equal(q->bound, KPID_PULL_BOUND_NONE);
    assert_string_equal(q->activity, "ADMISSION");
    assert_null(q->activity_column);
    assert_string_equal(q->subject_id, "mrn");
    assert_string_equal(q->value, "v");
    assert_string_equal(q->retract_when, "cancelled");
    assert_int_equal(q->n_attrs, 2);
    assert_string_equal(q->attrs[0].name, "ward");
    assert_string_equal(q->attrs[1].name, "patient_class");
    assert_string_equal(q->attrs[1].column, "Class");
    assert_true(q->line >= 3);
    q = &spec->queries[1];
    assert_int_equal(q->kind, KPID_PULL_RETRACTIONS);
    assert_int_equal(q->watermark_type, KPID_PULL_WM_INTEGER);
    assert_int_equal(q->bound, KPID_PULL_BOUND_SNAPSHOT_XMIN);
    assert_int_equal(q->overlap, 100);
    assert_null(q->time);
    q = &spec->queries[2];
    assert_string_equal(q->activity_column, "act");
    assert_int_equal(q->overlap, 250LL * 1000); /* an integer overlap of a timestamp: ms */
    assert_null(kpid_pull_spec_free(spec));
    assert_null(kpid_pull_spec_free(NULL));
}

static void test_refused(void **state)
{
    (void)state;
    refused("", "queries must be a list");
    {
        char two[4200];
        snprintf(two, sizeof(two), "%s, ", with(NULL, NULL));
        strcat(two, with(NULL, NULL));
        refused(two, "two queries are named \"admissions\"");
    }
    refused(with("bogus", "1"), "unknown key \"bogus\"");
    refused(with("name", "\"Admissions\""), "needs a name");
    refused(with("name", NULL), "needs a name");
    refused(with("name", "\"a-b\""), "needs a name");
    refused(with("name", "\"abcdefghijabcdefghijabcdefghijabc\""), "needs a name"); /* 33 */
    refused(with("sql", NULL), "query admissions: a query needs sql");
    refused(with("sql", "5"), "needs sql");
    refused(with("watermark", NULL), "needs watermark");
    refused(with("tiebreaker", NULL), "needs tiebreaker");
    refused(with("event_key", NULL), "needs event_key");
    refused(with("activity", NULL), "needs activity (a constant) or activity_column");
    refused(with("activity_column", "\"a\""), "one of them");
    refused(with("time", NULL), "needs time");
    refused(with("activity", "\"admission\""), "activity must be");
    refused(with("watermark", "\"\""), "watermark must be a column name");
    refused(with("watermark", "\"a\\nb\""), "watermark must be a column name");
    refused(with("watermark", "3"), "watermark must be a result column");
    refused(with("watermark_type", "\"date\""), "watermark_type must be");
    refused(with("kind", "\"tombstones\""), "kind must be");
    refused(with("overlap", "\"5 min\""), "overlap must be a duration");
    refused(with("overlap", "\"-5m\""), "overlap must be a duration");
    refused(with("overlap", "\"400d\""), "overlap must be a duration");
    refused(with("overlap", "-1"), "overlap must be a duration");
    refused(with2("watermark_type", "\"integer\"", "overlap = \"5m\";"), "overlap must be a count");
    refused(with2("watermark_type", "\"integer\"", "overlap = -3;"), "overlap must be from 0");
    refused(with("bound", "\"snapshot_xmin\""), "needs watermark_type = \"integer\"");
    refused(with("bound", "\"xmin\""), "bound must be");
    refused(with("attributes", "( \"ward\" )"), "attributes must be a group");
    refused(with("attributes", "{ ward = 1; }"), "attribute ward must name");
    refused(with("attributes", "{ ok = \"a\"; ward-x = \"b\"; }"),
            "attribute name \"ward-x\" is not valid");
    refused(with("kind", "\"retractions\""), "has no use with kind = \"retractions\"");
    refused(with2("kind", "\"retractions\"", "subject_id = \"s\";"), "has no use with kind");
    refused(with("sql", "\"SELECT * FROM t LIMIT 10\""), "sql has LIMIT");
    refused(with("sql", "\"DELETE FROM t\""), "sql must start with SELECT or WITH");
    refused(with("sql", "\"SELECT 1; DELETE FROM t\""), "one statement only");
    refused(with("retract_when", "true"), "retract_when must be");
    refused("( 1, 2 )", "a query is a group");
}

static void test_snapshot_xmin_flag(void **state)
{
    kpid_pull_spec *spec;
    char *error = NULL;

    (void)state;
    assert_int_equal(parse(with2("watermark_type", "\"integer\"", "bound = \"snapshot_xmin\";"), 0,
                           &spec, &error),
                     -EINVAL);
    assert_non_null(strstr(error, "for PostgreSQL (plugin pgsql) only"));
    free(error);
    assert_int_equal(
        parse(with2("watermark_type", "\"integer\"", "bound = \"none\";"), 0, &spec, NULL), 0);
    kpid_pull_spec_free(spec);
}

static void test_no_list(void **state)
{
    kpid_pull_spec *spec = NULL;
    char *error = NULL;

    (void)state;
    assert_int_equal(kpid_pull_spec_parse(NULL, 0, &spec, &error), -EINVAL);
    assert_non_null(strstr(error, "needs queries"));
    free(error);
}

static void test_duration(void **state)
{
    int64_t us;

    (void)state;
    assert_int_equal(kpid_pull_duration_parse("5m", &us), 0);
    assert_int_equal(us, 300000000);
    assert_int_equal(kpid_pull_duration_parse("250ms", &us), 0);
    assert_int_equal(us, 250000);
    assert_int_equal(kpid_pull_duration_parse("1500", &us), 0);
    assert_int_equal(us, 1500000);
    assert_int_equal(kpid_pull_duration_parse("2d", &us), 0);
    assert_int_equal(us, 2LL * 86400 * 1000000);
    assert_int_equal(kpid_pull_duration_parse("0s", &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(kpid_pull_duration_parse("367d", &us), -ERANGE);
    assert_int_equal(kpid_pull_duration_parse("99999999999999999999999s", &us), -ERANGE);
    assert_int_equal(kpid_pull_duration_parse("", &us), -EINVAL);
    assert_int_equal(kpid_pull_duration_parse("m", &us), -EINVAL);
    assert_int_equal(kpid_pull_duration_parse("5 m", &us), -EINVAL);
    assert_int_equal(kpid_pull_duration_parse("5w", &us), -EINVAL);
    assert_int_equal(kpid_pull_duration_parse("+5s", &us), -EINVAL);
    assert_int_equal(kpid_pull_duration_parse(NULL, &us), -EINVAL);
}

/* kpid_pull_sql_check on a NUL-terminated text: its result, and why in *ret_why. */
static long check(const char *sql, char *why, size_t size)
{
    return kpid_pull_sql_check(sql, strlen(sql), why, size);
}

static void sql_ok(const char *sql, const char *trimmed)
{
    char why[256];
    long n = check(sql, why, sizeof(why));

    if (n < 0) {
        fprintf(stderr, "refused \"%s\": %s\n", sql, why);
        fail();
    }
    assert_int_equal(n, strlen(trimmed));
    assert_memory_equal(sql, trimmed, (size_t)n);
}

static void sql_bad(const char *sql, const char *want)
{
    char why[256];

    if (check(sql, why, sizeof(why)) != -EINVAL) {
        fprintf(stderr, "accepted \"%s\"\n", sql);
        fail();
    }
    if (!strstr(why, want)) {
        fprintf(stderr, "\"%s\": message \"%s\" lacks \"%s\"\n", sql, why, want);
        fail();
    }
}

static void test_sql_shape(void **state)
{
    (void)state;
    sql_ok("SELECT 1", "SELECT 1");
    sql_ok("  select a FROM t ;  \n", "  select a FROM t");
    sql_ok("SELECT a FROM t; -- done\n", "SELECT a FROM t");
    sql_ok("SELECT a FROM t -- a comment\n", "SELECT a FROM t");
    sql_ok("WITH x AS (SELECT a FROM t ORDER BY a LIMIT 5) SELECT * FROM x",
           "WITH x AS (SELECT a FROM t ORDER BY a LIMIT 5) SELECT * FROM x");
    sql_ok("(SELECT 1) UNION ALL (SELECT 2)", "(SELECT 1) UNION ALL (SELECT 2)");
    sql_ok("SELECT 'limit; ORDER BY', \"LIMIT\", $$ ; ) $$, $a$ $$ ) $a$ FROM t",
           "SELECT 'limit; ORDER BY', \"LIMIT\", $$ ; ) $$, $a$ $$ ) $a$ FROM t");
    sql_ok("SELECT 'it''s', E'\\' ; )', \"a\"\"b\" FROM t /* ; /* nested ) */ LIMIT */",
           "SELECT 'it''s', E'\\' ; )', \"a\"\"b\" FROM t");
    sql_ok("SELECT string_agg(x, ',' ORDER BY y) FROM t GROUP BY z",
           "SELECT string_agg(x, ',' ORDER BY y) FROM t GROUP BY z");
    sql_ok("SELECT a$b, x.limit_at FROM t WHERE x.for_date > now() - interval '1 day'",
           "SELECT a$b, x.limit_at FROM t WHERE x.for_date > now() - interval '1 day'");
    sql_ok("SELECT x FROM t WINDOW w AS (ORDER BY y)", "SELECT x FROM t WINDOW w AS (ORDER BY y)");
    sql_ok("SELECT substring(s FOR 3) FROM t", "SELECT substring(s FOR 3) FROM t");
    sql_ok("SELECT 1.5e3, 'ü' FROM t", "SELECT 1.5e3, 'ü' FROM t");

    sql_bad("", "is empty");
    sql_bad("  -- nothing\n", "is empty");
    sql_bad("DELETE FROM t", "must start with SELECT or WITH");
    sql_bad("INSERT INTO t SELECT 1", "must start with SELECT or WITH");
    sql_bad("'x'", "must start with SELECT or WITH");
    sql_bad("SELECT 1; DELETE FROM t", "more after ';'");
    sql_bad("SELECT 1;;", "more after ';'");
    sql_bad("SELECT (1;) ", "';' within parentheses");
    sql_bad("SELECT * FROM t LIMIT 5", "has LIMIT");
    sql_bad("SELECT * FROM t limit 5", "has LIMIT");
    sql_bad("SELECT * FROM t OFFSET 5", "has OFFSET");
    sql_bad("SELECT * FROM t FETCH FIRST 5 ROWS ONLY", "has FETCH");
    sql_bad("SELECT * FROM t ORDER BY a", "has ORDER BY");
    sql_bad("SELECT * FROM t order /* x */ by a", "has ORDER BY");
    sql_bad("SELECT * FROM t FOR UPDATE", "FOR UPDATE");
    sql_bad("SELECT * FROM t for no key update", "FOR NO");
    sql_bad("SELECT * FROM t FOR SHARE", "FOR SHARE");
    sql_bad("SELECT * FROM t WHERE a = $1", "parameter");
    sql_bad("SELECT 1) AS q; DELETE FROM t; SELECT * FROM (SELECT 1", "')' without its '('");
    sql_bad("SELECT (1", "'(' that is not closed");
    sql_bad("SELECT 'abc", "string that is not closed");
    sql_bad("SELECT E'abc\\'", "string that is not closed");
    sql_bad("SELECT \"abc", "quoted identifier that is not closed");
    sql_bad("SELECT $x$ abc $y$", "dollar-quoted string that is not closed");
    sql_bad("SELECT 1 /* /* */", "comment that is not closed");
    /* A NUL byte inside the given length. */
    char why[128];
    assert_int_equal(kpid_pull_sql_check("SELECT 1\0; DELETE", 17, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "NUL"));
    /* A why buffer of size 0 is not written. */
    assert_int_equal(kpid_pull_sql_check("DELETE", 6, NULL, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_snapshot_xmin_flag),
        cmocka_unit_test(test_no_list),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_sql_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
