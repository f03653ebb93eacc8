/*
 * Tests of the KPI compiler's public contract (daemon/kpi_compile.h), for every KPI
 * type built from configuration text with kpid_config_load:
 *   - every $N in the statement is a parameter it has ($1, $2 and its own $3 ..), and
 *     every parameter is used;
 *   - configuration values (filter values, activities, attribute names, KPI ids) are
 *     parameters: hostile values appear byte-exact among the parameters and never in
 *     the text, and two KPIs that differ only in such values compile to the same text;
 *   - an sql KPI's statement is its query, without parameters of its own;
 *   - what the compiler relies on (the shapes of activities, attribute names and ids)
 *     is refused at load with its "FILE:LINE: message".
 * In the expected texts "@:" stands for the configuration file's path and a colon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_fixture.h"
#include "config/config.h"
#include "kpi/kpi_compile.h"
#include "ops/log.h"
#include "model/model.h"

#define HEAD                                                                               \
    "pseudonymize = false; warehouse = { conninfo = \"dbname=x\"; };\n"                    \
    "objectives = ( { id = \"o\"; name = \"O\"; perspective = \"patient\"; } );\n"         \
    "processes = ( { id = \"p\"; name = \"P\"; category = \"main\"; timezone = \"UTC\";\n" \
    "  schedule = \"@daily\"; kpis = (\n"
#define TAIL "); } );\n"
#define K_COMMON "name = \"K\"; period = \"day\"; direction = \"higher\"; objective = \"o\";"
#define SQL_QUERY "SELECT 1 AS value WHERE $1::timestamptz < $2::timestamptz"

/*
 * One KPI of every type (and the variants that compile differently), with every place
 * a value can go: %1$s is the value (escaped for libconfig), %2$s the id suffix, %3$s
 * an activity and %4$s an attribute name.
 */
static const char kpis_template[] =
    "{ id = \"count_%2$s\"; " K_COMMON " type = \"count\"; activity = \"%3$s\";"
    "  count = \"cases\"; stratify = [ \"%4$s\", \"triage\" ];"
    "  filters = ( { attr = \"%4$s\"; equals = \"%1$s\"; }, { attr = \"t\"; in = [ \"%1$s\", \"x\" ]; },"
    "              { attr = \"u\"; not_in = [ \"%1$s\" ]; } ); },\n"
    "{ id = \"prop_%2$s\"; " K_COMMON
    " type = \"proportion\"; target = 0.5; stratify = [ \"%4$s\" ];"
    "  filters = ( { attr = \"%4$s\"; equals = \"%1$s\"; } );"
    "  population = { activity = \"%3$s\"; filters = ( { attr = \"a\"; equals = \"%1$s\"; } ); };"
    "  denominator = { activity = \"SEEN\"; filters = ( { attr = \"b\"; in = [ \"%1$s\" ]; } ); };"
    "  denominator_exclusion = { activity = \"DEATH\"; link = \"subject\"; within = \"2h\"; };"
    "  numerator = { activity = \"%3$s\"; link = \"subject\"; within = \"30d\";"
    "                filters = ( { attr = \"%4$s\"; not_in = [ \"%1$s\" ]; } ); };"
    "  numerator_exclusion = { activity = \"LEFT\"; negate = true; within = \"1h\"; }; },\n"
    "{ id = \"props_%2$s\"; " K_COMMON " type = \"proportion\"; target = 0.5; basis = \"subject\";"
    "  filters = ( { attr = \"%4$s\"; equals = \"%1$s\"; } );"
    "  population = { activity = \"%3$s\"; filters = ( { attr = \"a\"; in = [ \"%1$s\" ]; } ); };"
    "  numerator = { activity = \"LEFT\"; }; },\n"
    "{ id = \"prope_%2$s\"; " K_COMMON " type = \"proportion\"; target = 0.5; basis = \"event\";"
    "  stratify = [ \"%4$s\" ]; population = { activity = \"%3$s\";"
    "  filters = ( { attr = \"%4$s\"; equals = \"%1$s\"; } ); };"
    "  numerator = { activity = \"LEFT\"; link = \"subject\"; }; },\n"
    "{ id = \"dur_%2$s\"; " K_COMMON " type = \"duration\"; target = 30.0; unit = \"h\";"
    "  from = \"%3$s\"; to = \"SEEN\"; statistic = \"p90\"; stratify = [ \"%4$s\" ];"
    "  filters = ( { attr = \"%4$s\"; equals = \"%1$s\"; } ); },\n"
    "{ id = \"durw_%2$s\"; " K_COMMON " type = \"duration\"; target = 0.8;"
    "  from = \"%3$s\"; to = \"SEEN\"; statistic = \"within\"; within = \"45m\";"
    "  filters = ( { attr = \"%4$s\"; in = [ \"%1$s\" ]; } ); },\n"
    "{ id = \"val_%2$s\"; " K_COMMON " type = \"value\"; target = 1.0; activity = \"%3$s\";"
    "  statistic = \"p95\"; filters = ( { attr = \"%4$s\"; equals = \"%1$s\"; } ); },\n"
    "{ id = \"valsum_%2$s\"; " K_COMMON " type = \"value\"; target = 1.0; activity = \"%3$s\";"
    "  statistic = \"sum\"; stratify = [ \"%4$s\", \"b\", \"c\" ]; },\n"
    "{ id = \"cen_%2$s\"; " K_COMMON " type = \"census\"; target = 0.85; from = \"%3$s\";"
    "  to = \"DISCHARGE\"; capacity = 10.0; stratify = [ \"%4$s\" ];"
    "  filters = ( { attr = \"%4$s\"; equals = \"%1$s\"; } ); },\n"
    "{ id = \"cend_%2$s\"; " K_COMMON " type = \"census\"; target = 1.0; from = \"%3$s\";"
    "  to = \"DISCHARGE\"; statistic = \"case_days\"; },\n"
    "{ id = \"cenavg_%2$s\"; " K_COMMON " type = \"census\"; target = 1.0; from = \"%3$s\";"
    "  to = \"DISCHARGE\"; },\n"
    "{ id = \"ratio_%2$s\"; " K_COMMON " type = \"ratio\"; target = 2.0;"
    "  numerator = \"count_%2$s\"; denominator = \"val_%2$s\"; factor = 1000.0; },\n"
    "{ id = \"sql_%2$s\"; " K_COMMON " type = \"sql\"; target = 1.0; timeout = \"500ms\";"
    "  query = \"" SQL_QUERY "\"; }\n";

/* The id prefixes of the KPIs above, and whether the KPI binds the value itself (an
 * "equals" filter; "in" and "not_in" bind arrays) and the attribute name. */
static const struct kind {
    const char *prefix;
    bool value, attr;
} kinds[] = {
    {"count", true, true},  {"prop", true, true},     {"props", true, true},
    {"prope", true, true},  {"dur", true, true},      {"durw", false, true},
    {"val", true, true},    {"valsum", false, true},  {"cen", true, true},
    {"cend", false, false}, {"cenavg", false, false}, {"ratio", false, false},
    {"sql", false, false},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* value as the inside of a libconfig string: \ and " escaped. Freshly allocated. */
static char *lc_escape(const char *value)
{
    char *out = malloc(2 * strlen(value) + 1), *o = out;

    assert_non_null(out);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            *o++ = '\\';
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

/* The configuration with the KPIs of suffix "plain" (value "plain", activity
 * ED_ARRIVAL, attribute ward) and of suffix "odd" (the given ones). */
static char *config_text(const char *value, const char *activity, const char *attr)
{
    char *escaped = lc_escape(value), *plain = NULL, *odd = NULL, *text = NULL;

    assert_true(asprintf(&plain, kpis_template, "plain", "plain", "ED_ARRIVAL", "ward") > 0);
    assert_true(asprintf(&odd, kpis_template, escaped, "odd", activity, attr) > 0);
    assert_true(asprintf(&text, HEAD "%s, %s" TAIL, plain, odd) > 0);
    free(plain);
    free(odd);
    free(escaped);
    return text;
}

/* Compiles the KPI kind_suffix (suffix NULL: kind) into *out. */
static const kpid_kpi *compile(const kpid_config *cfg, const char *kind, const char *suffix,
                               kpid_sql *out)
{
    char id[64];
    const kpid_kpi *kpi;

    snprintf(id, sizeof(id), "%s%s%s", kind, suffix ? "_" : "", suffix ? suffix : "");
    kpi = kpid_model_find_kpi(cfg->model, id);
    assert_non_null(kpi);
    memset(out, 0, sizeof(*out));
    assert_int_equal(kpid_kpi_compile(kpi, out), 0);
    assert_non_null(out->text.data);
    assert_int_equal(strlen(out->text.data), out->text.len);
    return kpi;
}

/*
 * Every $N of the text is $1, $2 or a parameter of the statement, and each of them is
 * used (the sql KPI's query is checked by the caller: it is the operator's).
 */
static void check_placeholders(const kpid_sql *sql, const char *what)
{
    bool used[KPID_SQL_PARAMS_MAX + 3] = {false};
    size_t max = sql->n_params + 2;

    for (const char *p = sql->text.data; (p = strchr(p, '$'));) {
        char *end;
        unsigned long n = strtoul(p + 1, &end, 10);
        if (end == p + 1) {
            fprintf(stderr, "%s: '$' without a number in: %s\n", what, sql->text.data);
            fail();
        }
        if (n < 1 || n > max) {
            fprintf(stderr, "%s: $%lu of %zu in: %s\n", what, n, max, sql->text.data);
            fail();
        }
        used[n] = true;
        p = end;
    }
    for (size_t n = 1; n <= max; n++)
        if (!used[n]) {
            fprintf(stderr, "%s: $%zu is never used in: %s\n", what, n, sql->text.data);
            fail();
        }
}

/* True when some parameter equals s byte for byte. */
static bool has_param(const kpid_sql *sql, const char *s)
{
    for (size_t i = 0; i < sql->n_params; i++)
        if (strcmp(sql->params[i], s) == 0)
            return true;
    return false;
}

/*
 * Loads the KPIs with (value, activity, attr) in the "odd" ones and checks every kind:
 * the same text as the "plain" KPI, placeholders in range and used, the odd values
 * among the parameters and not in the text.
 */
static void check_values(const char *value, const char *activity, const char *attr)
{
    char *text = config_text(value, activity, attr);
    kpid_config *cfg = fixture_expect_ok(text);

    for (size_t k = 0; k < N_KINDS; k++) {
        const char *kind = kinds[k].prefix;
        kpid_sql plain, odd;
        const kpid_kpi *kpi = compile(cfg, kind, "odd", &odd);

        compile(cfg, kind, "plain", &plain);
        if (strcmp(plain.text.data, odd.text.data) != 0) {
            fprintf(stderr, "%s: the text changed with the values:\n%s\n%s\n", kind,
                    plain.text.data, odd.text.data);
            fail();
        }
        assert_int_equal(plain.n_params, odd.n_params);
        if (kpi->type == KPID_KPI_SQL) {
            assert_string_equal(odd.text.data, SQL_QUERY);
            assert_int_equal(odd.n_params, 0);
        } else
            check_placeholders(&odd, kind);

        /* The ratio binds the ids it reads, the others their activity. */
        if (kpi->type == KPID_KPI_RATIO) {
            assert_true(has_param(&odd, "count_odd"));
            assert_true(has_param(&odd, "val_odd"));
        } else if (kpi->type != KPID_KPI_SQL)
            assert_true(has_param(&odd, activity));
        assert_true(!kinds[k].attr || has_param(&odd, attr));
        assert_true(!kinds[k].value || has_param(&odd, value));
        /* Short values ("$1", "\") occur in any statement; the equal texts above show
         * they are not in it. */
        if (strlen(value) >= 3 && strstr(odd.text.data, value)) {
            fprintf(stderr, "%s: the value is in the text: %s\n", kind, odd.text.data);
            fail();
        }
        kpid_sql_clear(&plain);
        kpid_sql_clear(&odd);
        assert_null(odd.text.data);
        assert_int_equal(odd.n_params, 0);
    }
    kpid_config_free(cfg);
    free(text);
}

static void test_plain_values(void **state)
{
    check_values("ICU", "ADMISSION", "ward");
}

static void test_hostile_values(void **state)
{
    static const char *const values[] = {
        "'; DROP TABLE kpid.event; --",
        "x'); DELETE FROM kpid.event; --",
        "$1",
        "$3",
        "\\",
        "\\'",
        "\"quoted\"",
        "it's",
        "{\"a\",\"b\"}",
        "Приёмное отделение",
        "$$; SELECT pg_sleep(10); $$",
        "/* */ --",
    };
    char long_value[KPID_MODEL_VALUE_MAX + 1];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        check_values(values[i], "ED_ARRIVAL", "ward");

    /* The longest value allowed, made of quotes and comment starts. */
    for (size_t i = 0; i < KPID_MODEL_VALUE_MAX; i++)
        long_value[i] = "';--\"\\"[i % 6];
    long_value[KPID_MODEL_VALUE_MAX] = '\0';
    check_values(long_value, "ED_ARRIVAL", "ward");
}

/* Activities and attribute names of every allowed shape are parameters too. */
static void test_odd_identifiers(void **state)
{
    char activity[KPID_MODEL_ACTIVITY_MAX + 1], attr[KPID_MODEL_ATTR_MAX + 1];

    memset(activity, 'Z', KPID_MODEL_ACTIVITY_MAX);
    activity[KPID_MODEL_ACTIVITY_MAX] = '\0';
    memset(attr, 'q', KPID_MODEL_ATTR_MAX);
    attr[KPID_MODEL_ATTR_MAX] = '\0';
    check_values("v", activity, attr);
    check_values("v", "0_9", "_x9");
}

/* The statement of an sql KPI is its query as configured, byte for byte. */
static void test_sql_query(void **state)
{
    kpid_config *cfg =
        fixture_expect_ok(HEAD "{ id = \"q\"; " K_COMMON " type = \"sql\"; target = 1.0;\n"
                               "  query = \"SELECT 'a\\\\b' AS value\" \" -- $9\"; }\n" TAIL);
    const kpid_kpi *kpi = kpid_model_find_kpi(cfg->model, "q");
    kpid_sql sql = {0};

    assert_non_null(kpi);
    assert_int_equal(kpid_kpi_compile(kpi, &sql), 0);
    assert_string_equal(sql.text.data, "SELECT 'a\\b' AS value -- $9");
    assert_int_equal(sql.n_params, 0);
    assert_int_equal(kpi->u.sql.timeout_ms, 5000);
    kpid_sql_clear(&sql);
    kpid_config_free(cfg);
}

/* What the compiler relies on is refused at load, each with its place. */
static void test_hostile_identifiers(void **state)
{
    char id64[KPID_MODEL_ID_MAX + 2], text[1024], expected[1024];

    fixture_expect_errors(HEAD "{ id = \"k\"; " K_COMMON " type = \"count\";\n"
                               "  activity = \"ED_ARRIVAL'--\"; }\n" TAIL,
                          "@:6: invalid activity \"ED_ARRIVAL'--\" for \"activity\" in KPI \"k\": "
                          "use 1 to 64 characters of A-Z 0-9 _\n");
    fixture_expect_errors(HEAD "{ id = \"k\"; " K_COMMON " type = \"duration\"; target = 1.0;\n"
                               "  from = \"a b\"; to = \"B\"; statistic = \"avg\"; }\n" TAIL,
                          "@:6: invalid activity \"a b\" for \"from\" in KPI \"k\": "
                          "use 1 to 64 characters of A-Z 0-9 _\n");
    fixture_expect_errors(
        HEAD "{ id = \"k\"; " K_COMMON " type = \"proportion\"; target = 1.0;\n"
             "  population = { activity = \"A\"; };\n"
             "  numerator = { activity = \"ed_arrival\"; }; }\n" TAIL,
        "@:7: invalid activity \"ed_arrival\" for \"activity\" in numerator of KPI "
        "\"k\": use 1 to 64 characters of A-Z 0-9 _\n");
    fixture_expect_errors(
        HEAD "{ id = \"k\"; " K_COMMON " type = \"count\"; activity = \"A\";\n"
             "  filters = ( { attr = \"attr\\\"; DROP\"; equals = \"x\"; } ); }\n" TAIL,
        "@:6: invalid attribute name \"attr?; DROP\" in filters[0] of KPI \"k\": "
        "use a letter or _ followed by up to 62 letters, digits or _\n");
    fixture_expect_errors(HEAD "{ id = \"k\"; " K_COMMON " type = \"count\"; activity = \"A\";\n"
                               "  stratify = [ \"a b\" ]; }\n" TAIL,
                          "@:6: invalid attribute name \"a b\" in stratify[0] of KPI \"k\": "
                          "use a letter or _ followed by up to 62 letters, digits or _\n");
    fixture_expect_errors(
        HEAD "{ id = \"Upper\"; " K_COMMON " type = \"count\"; activity = \"A\"; }\n" TAIL,
        "@:5: invalid KPI id \"Upper\" in kpis[0] of process \"p\": use a lowercase "
        "letter followed by up to 62 lowercase letters, digits or _\n");

    memset(id64, 'k', sizeof(id64) - 1);
    id64[sizeof(id64) - 1] = '\0';
    assert_int_equal(strlen(id64), 64);
    snprintf(text, sizeof(text),
             HEAD "{ id = \"%s\"; " K_COMMON " type = \"count\"; activity = \"A\"; }\n" TAIL, id64);
    snprintf(expected, sizeof(expected),
             "@:5: invalid KPI id \"%s\" in kpis[0] of process \"p\": use a lowercase "
             "letter followed by up to 62 lowercase letters, digits or _\n",
             id64);
    fixture_expect_errors(text, expected);
}

/*
 * The basis of a proportion changes who its members are, and so its statement: three
 * texts; the members statements list only the members that can be followed; a KPI with
 * more filters than parameters can bind is refused with -E2BIG.
 */
static void test_basis_and_limits(void **state)
{
    static const char *const bases[] = {"case", "subject", "event"};
    char text[4096], filters[2048] = "";
    kpid_sql sql[3], members;

    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof(text),
                 HEAD "{ id = \"k\"; " K_COMMON " type = \"proportion\"; target = 1.0;\n"
                      "  basis = \"%s\"; population = { activity = \"A\"; };\n"
                      "  numerator = { activity = \"B\"; }; }\n" TAIL,
                 bases[i]);
        kpid_config *cfg = fixture_expect_ok(text);
        const kpid_kpi *kpi = compile(cfg, "k", NULL, &sql[i]);
        check_placeholders(&sql[i], bases[i]);
        memset(&members, 0, sizeof(members));
        assert_int_equal(kpid_kpi_compile_members(kpi, &members), 0);
        check_placeholders(&members, bases[i]);
        const char *tail = " WHERE NOT q.inc";
        assert_true(members.text.len > strlen(tail));
        assert_string_equal(members.text.data + members.text.len - strlen(tail), tail);
        kpid_sql_clear(&members);
        kpid_config_free(cfg);
    }
    assert_string_not_equal(sql[0].text.data, sql[1].text.data);
    assert_string_not_equal(sql[0].text.data, sql[2].text.data);
    assert_string_not_equal(sql[1].text.data, sql[2].text.data);
    for (int i = 0; i < 3; i++)
        kpid_sql_clear(&sql[i]);

    /* 40 filters need 80 parameters. */
    for (int i = 0; i < 40; i++) {
        size_t len = strlen(filters);
        snprintf(filters + len, sizeof(filters) - len, "%s{ attr = \"a%d\"; equals = \"v\"; }",
                 i ? ", " : "", i);
    }
    snprintf(text, sizeof(text),
             HEAD "{ id = \"k\"; " K_COMMON " type = \"count\"; activity = \"A\";\n"
                  "  filters = ( %s ); }\n" TAIL,
             filters);
    kpid_config *cfg = fixture_expect_ok(text);
    memset(&sql[0], 0, sizeof(sql[0]));
    assert_int_equal(kpid_kpi_compile(kpid_model_find_kpi(cfg->model, "k"), &sql[0]), -E2BIG);
    assert_null(sql[0].text.data);
    kpid_config_free(cfg);
}

static int group_setup(void **state)
{
    /* Without sources every activity draws a warning (model_check.h): not tested here. */
    kpid_log_set_level(KPID_LOG_ERR);
    return fixture_setup("compile", /* plugin_dir= */ NULL);
}

static int group_teardown(void **state)
{
    return fixture_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_values),        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_odd_identifiers),     cmocka_unit_test(test_sql_query),
        cmocka_unit_test(test_hostile_identifiers), cmocka_unit_test(test_basis_and_limits),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
