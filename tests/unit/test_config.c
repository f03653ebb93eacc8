/*
 * Tests of daemon/config.c: a full configuration loads with every value right, and each
 * class of error is reported with its exact "FILE:LINE: message" text, all of them at
 * once. Configurations are written to a temporary folder; the test plugins "testsrc"
 * and "badabi" come from KPID_TEST_PLUGIN_DIR.
 *
 * In the expected texts "@:" stands for the configuration file's path and a colon, "$T"
 * for the temporary folder and "$P" for the test plugin folder (see conf_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_fixture.h"
#include "config/config.h"
#include "config/duration.h"
#include "ops/log.h"
#include "model/model_check.h"
#include "plugins/testsrc.h"
#include "warehouse/retention.h"

#ifndef KPID_TEST_PLUGIN_DIR
#error "KPID_TEST_PLUGIN_DIR must name the folder of the test plugins"
#endif
#ifndef KPID_SOURCE_DIR
#error "KPID_SOURCE_DIR must name the source tree (for etc/kpid.conf)"
#endif
#ifndef KPID_PLUGIN_BUILD_DIR
#error "KPID_PLUGIN_BUILD_DIR must name the folder where the real plugins are built"
#endif

#define KEY_TEXT "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define USE_DURATION                                                                    \
    "use an integer with a unit ms, s, m, h or d (\"250ms\", \"5s\") or an integer of " \
    "milliseconds"

static int group_setup(void **state)
{
    char *p;

    if (fixture_setup("config", KPID_TEST_PLUGIN_DIR) < 0)
        return -1;
    p = fixture_path("key");
    fixture_write_file(p, KEY_TEXT "\n");
    free(p);
    p = fixture_path("short.key");
    fixture_write_file(p, "short\n");
    free(p);
    return 0;
}

static int group_teardown(void **state)
{
    return fixture_teardown();
}

/* ---- valid configurations ---------------------------------------------------------- */

static void test_full_config(void **state)
{
    static const char text[] =
        "plugin_dir = \"ignored/by/the/override\";\n"                                /* 1 */
        "log_level = \"debug\";\n"                                                   /* 2 */
        "pseudonymize = true;\n"                                                     /* 3 */
        "pseudonym_key_file = \"key\";\n"                                            /* 4 */
        "warehouse = {\n"                                                            /* 5 */
        "    conninfo = \"host=db dbname=kpid\";\n"                                  /* 6 */
        "    password_file = \"secrets/pw\";\n"                                      /* 7 */
        "    batch_max_rows = 500;\n"                                                /* 8 */
        "    flush_interval_ms = 50;\n"                                              /* 9 */
        "};\n"                                                                       /* 10 */
        "queue = { max_events = 7; max_bytes = 3000000000L; };\n"                    /* 11 */
        "sources = (\n"                                                              /* 12 */
        "  { name = \"all.keys-1\"; plugin = \"testsrc\"; interval = \"2m\";\n"      /* 13 */
        "    pseudonymize_case_id = true;\n"                                         /* 14 */
        "    path = \"/data/in.ndjson\"; batch = 7; follow = false; ratio = 0.25;\n" /* 15 */
        "    timeout = \"250ms\"; mapping = { activity = \"type\"; }; },\n"          /* 16 */
        "  { name = \"defaults\"; plugin = \"testsrc\"; path = \"p\"; ratio = 2;\n"  /* 17 */
        "    interval = 30000; }\n"                                                  /* 18 */
        ");\n";
    kpid_config *cfg = fixture_expect_ok(text);
    char *key_file = fixture_path("key"), *password_file = fixture_path("secrets/pw");
    const testsrc_config *tc;
    const config_setting_t *mapping;

    assert_string_equal(cfg->path, fixture_conf_path);
    assert_string_equal(cfg->plugin_dir, KPID_TEST_PLUGIN_DIR);
    assert_int_equal(cfg->log_level, KPID_LOG_DEBUG);
    assert_true(cfg->pseudonymize);
    assert_string_equal(cfg->pseudonym_key_file, key_file);
    assert_int_equal(cfg->pseudonym_key_len, strlen(KEY_TEXT));
    assert_memory_equal(cfg->pseudonym_key, KEY_TEXT, strlen(KEY_TEXT));
    assert_string_equal(cfg->warehouse.pg.conninfo, "host=db dbname=kpid");
    assert_string_equal(cfg->warehouse.pg.password_file, password_file);
    assert_int_equal(cfg->warehouse.batch_max_rows, 500);
    assert_int_equal(cfg->warehouse.flush_interval_ms, 50);
    assert_int_equal(cfg->queue.max_events, 7);
    assert_int_equal(cfg->queue.max_bytes, INT64_C(3000000000));
    assert_int_equal(cfg->n_sources, 2);

    const kpid_source_config *s = &cfg->sources[0];
    assert_string_equal(s->name, "all.keys-1");
    assert_non_null(s->plugin);
    assert_string_equal(s->plugin->def->name, "testsrc");
    assert_int_equal(s->interval_ms, 120000);
    assert_true(s->pseudonymize_case_id);
    assert_string_equal(s->file, fixture_conf_path);
    assert_int_equal(s->line, 13);
    assert_non_null(s->setting);
    mapping = config_setting_get_member(s->setting, "mapping");
    assert_non_null(mapping);
    assert_int_equal(config_setting_type(mapping), CONFIG_TYPE_GROUP);
    tc = s->plugin_config;
    assert_non_null(tc);
    assert_string_equal(tc->path, "/data/in.ndjson");
    assert_int_equal(tc->batch, 7);
    assert_false(tc->follow);
    assert_true(tc->ratio == 0.25);
    assert_int_equal(tc->timeout_ms, 250);

    s = &cfg->sources[1];
    assert_string_equal(s->name, "defaults");
    assert_int_equal(s->interval_ms, 30000);
    assert_false(s->pseudonymize_case_id);
    assert_int_equal(s->line, 17);
    tc = s->plugin_config;
    assert_string_equal(tc->path, "p"); /* plugin strings are not paths to the host */
    assert_int_equal(tc->batch, 100);
    assert_true(tc->follow);
    assert_true(tc->ratio == 2.0);
    assert_int_equal(tc->timeout_ms, 5000);

    free(key_file);
    free(password_file);
    kpid_config_free(cfg);
}

static void test_defaults(void **state)
{
    static const char text[] = "pseudonymize = false;\n"
                               "warehouse = { conninfo = \"\"; };\n";
    kpid_config *cfg = fixture_expect_ok_with(text, NULL);

    assert_string_equal(cfg->plugin_dir, KPID_DEFAULT_PLUGIN_DIR);
    assert_int_equal(cfg->log_level, KPID_LOG_INFO);
    assert_false(cfg->pseudonymize);
    assert_string_equal(cfg->pseudonym_key_file, "/etc/kpid/pseudonym.key");
    assert_null(cfg->pseudonym_key);
    assert_int_equal(cfg->pseudonym_key_len, 0);
    assert_string_equal(cfg->warehouse.pg.conninfo, "");
    assert_null(cfg->warehouse.pg.password_file);
    assert_int_equal(cfg->warehouse.batch_max_rows, 50000);
    assert_int_equal(cfg->warehouse.flush_interval_ms, 0);
    assert_int_equal(cfg->warehouse.pg.statement_timeout_ms, 600000);
    assert_int_equal(cfg->warehouse.pg.lock_timeout_ms, 60000);
    assert_int_equal(cfg->warehouse.pg.idle_in_transaction_ms, 600000);
    assert_int_equal(cfg->warehouse.pg.connect_timeout_ms, 10000);
    assert_int_equal(cfg->warehouse.wait_notice_ms, 10000);
    assert_int_equal(cfg->queue.max_events, 100000);
    assert_int_equal(cfg->queue.max_bytes, 33554432);
    assert_int_equal(cfg->n_sources, 0);
    assert_null(cfg->sources);
    assert_null(kpid_config_free(cfg));
}

/* The warehouse's session settings: 0 switches a timeout off; the connect timeout and
 * the wait notice have a floor; a day at most. */
static void test_warehouse_session(void **state)
{
    static const char ok[] =
        "pseudonymize = false;\n"
        "warehouse = { conninfo = \"x\"; statement_timeout = 0; lock_timeout = \"5s\";\n"
        "  idle_in_transaction_session_timeout = \"1d\"; connect_timeout = \"1s\";\n"
        "  wait_notice = 2500; };\n";
    kpid_config *cfg = fixture_expect_ok_with(ok, NULL);

    (void)state;
    assert_int_equal(cfg->warehouse.pg.statement_timeout_ms, 0);
    assert_int_equal(cfg->warehouse.pg.lock_timeout_ms, 5000);
    assert_int_equal(cfg->warehouse.pg.idle_in_transaction_ms, 86400000);
    assert_int_equal(cfg->warehouse.pg.connect_timeout_ms, 1000);
    assert_int_equal(cfg->warehouse.wait_notice_ms, 2500);
    kpid_config_free(cfg);
    fixture_expect_errors(
        "pseudonymize = false;\n"
        "warehouse = { conninfo = \"x\"; connect_timeout = \"10ms\";\n"
        "  statement_timeout = \"2d\"; lock_timeout = \"soon\"; };\n",
        "@:2: \"connect_timeout\" in warehouse must be between 1s and 1d, not 10ms\n"
        "@:3: \"statement_timeout\" in warehouse must be between 0ms and 1d, not 2d\n"
        "@:3: invalid duration \"soon\" for \"lock_timeout\" in warehouse: use an integer "
        "with a unit ms, s, m, h or d (\"250ms\", \"5s\") or an integer of milliseconds\n");
}

static void test_free_null(void **state)
{
    assert_null(kpid_config_free(NULL));
}

static void test_boundaries_accepted(void **state)
{
    static const char text[] =
        "pseudonym_key_file = \"key\";\n"
        "warehouse = { conninfo = \"x\"; batch_max_rows = 1000000; flush_interval_ms = 60000; };\n"
        "queue = { max_events = 1; max_bytes = 65536; };\n"
        "sources = (\n"
        "  { name = \"a234567890123456789012345678901234567890123456789012345678901234\";\n"
        "    plugin = \"testsrc\"; path = \"/a\"; interval = \"10ms\"; batch = 1; },\n"
        "  { name = \"b\"; plugin = \"testsrc\"; path = \"/a\"; interval = \"1d\"; batch = 1000;\n"
        "    mapping = ( \"a list\" ); timeout = 0; ratio = 1L; }\n"
        ");\n";
    kpid_config *cfg = fixture_expect_ok(text);

    assert_int_equal(cfg->warehouse.batch_max_rows, 1000000);
    assert_int_equal(cfg->warehouse.flush_interval_ms, 60000);
    assert_int_equal(cfg->queue.max_events, 1);
    assert_int_equal(cfg->queue.max_bytes, 65536);
    assert_int_equal(cfg->sources[0].interval_ms, 10);
    assert_int_equal(((const testsrc_config *)cfg->sources[0].plugin_config)->batch, 1);
    assert_int_equal(cfg->sources[1].interval_ms, 86400000);
    assert_int_equal(((const testsrc_config *)cfg->sources[1].plugin_config)->batch, 1000);
    assert_int_equal(((const testsrc_config *)cfg->sources[1].plugin_config)->timeout_ms, 0);
    assert_true(((const testsrc_config *)cfg->sources[1].plugin_config)->ratio == 1.0);
    kpid_config_free(cfg);
}

/* rejected_retention: 14 days unless set (the default the purge uses for a source it
 * knows nothing of, too), 1s to 365d; there is no "forever". */
static void test_rejected_retention(void **state)
{
    static const char ok[] =
        "pseudonym_key_file = \"key\";\n"
        "warehouse = { conninfo = \"x\"; };\n"
        "sources = (\n"
        "  { name = \"a\"; plugin = \"testsrc\"; path = \"/a\"; },\n"
        "  { name = \"b\"; plugin = \"testsrc\"; path = \"/a\"; rejected_retention = \"1s\"; },\n"
        "  { name = \"c\"; plugin = \"testsrc\"; path = \"/a\"; rejected_retention = \"365d\"; },\n"
        "  { name = \"d\"; plugin = \"testsrc\"; path = \"/a\"; rejected_retention = \"36h\"; }\n"
        ");\n";
    kpid_config *cfg = fixture_expect_ok(ok);

    (void)state;
    assert_int_equal(cfg->sources[0].rejected_retention_ms, INT64_C(14) * 86400000);
    assert_int_equal(cfg->sources[0].rejected_retention_ms, KPID_RETENTION_DEFAULT_MS);
    assert_int_equal(cfg->sources[1].rejected_retention_ms, 1000);
    assert_int_equal(cfg->sources[2].rejected_retention_ms, INT64_C(365) * 86400000);
    assert_int_equal(cfg->sources[3].rejected_retention_ms, 36 * 3600000);
    kpid_config_free(cfg);

    fixture_expect_errors(
        "pseudonym_key_file = \"key\";\n"      /* 1 */
        "warehouse = { conninfo = \"x\"; };\n" /* 2 */
        "sources = (\n"                        /* 3 */
        "  { name = \"a\"; plugin = \"testsrc\"; path = \"/a\"; rejected_retention = 0; },\n" /* 4 */
        "  { name = \"b\"; plugin = \"testsrc\"; path = \"/a\";\n" /* 5 */
        "    rejected_retention = \"999ms\"; },\n"                 /* 6 */
        "  { name = \"c\"; plugin = \"testsrc\"; path = \"/a\";\n" /* 7 */
        "    rejected_retention = \"366d\"; },\n"                  /* 8 */
        "  { name = \"d\"; plugin = \"testsrc\"; path = \"/a\";\n" /* 9 */
        "    rejected_retention = \"forever\"; }\n"                /* 10 */
        ");\n",
        "@:4: \"rejected_retention\" in source \"a\" must be between 1s and 365d, not 0ms\n"
        "@:6: \"rejected_retention\" in source \"b\" must be between 1s and 365d, not 999ms\n"
        "@:8: \"rejected_retention\" in source \"c\" must be between 1s and 365d, not 366d\n"
        "@:10: invalid duration \"forever\" for \"rejected_retention\" in source \"d\": " USE_DURATION
        "\n");
}

static void test_log_levels(void **state)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {
        {"err", KPID_LOG_ERR},   {"warning", KPID_LOG_WARNING}, {"notice", KPID_LOG_NOTICE},
        {"info", KPID_LOG_INFO}, {"debug", KPID_LOG_DEBUG},
    };

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        char *text;
        assert_true(asprintf(&text,
                             "log_level = \"%s\";\npseudonymize = false;\n"
                             "warehouse = { conninfo = \"x\"; };\n",
                             levels[i].name) > 0);
        kpid_config *cfg = fixture_expect_ok(text);
        assert_int_equal(cfg->log_level, levels[i].level);
        kpid_config_free(cfg);
        free(text);
    }
}

/* Relative paths are resolved against the file's folder, also when the file itself is
 * named relatively, and the result is absolute. */
static void test_relative_paths(void **state)
{
    static const char text[] = "plugin_dir = \"rel/plugins\";\n"
                               "pseudonym_key_file = \"key\";\n"
                               "warehouse = { conninfo = \"x\"; password_file = \"../pw\"; };\n";
    char cwd[PATH_MAX], dir[PATH_MAX];
    kpid_config *cfg = NULL;
    char *errors = NULL, *expected;
    int r;

    cfg = fixture_expect_ok_with(text, NULL);
    expected = fixture_path("rel/plugins");
    assert_string_equal(cfg->plugin_dir, expected);
    free(expected);
    expected = fixture_path("../pw");
    assert_string_equal(cfg->warehouse.pg.password_file, expected);
    free(expected);
    kpid_config_free(cfg);

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(fixture_dir), 0);
    assert_non_null(getcwd(dir, sizeof(dir)));
    r = kpid_config_load("test.conf", NULL, &cfg, &errors);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(r, 0);
    assert_string_equal(cfg->path, "test.conf");
    assert_true(asprintf(&expected, "%s/rel/plugins", dir) > 0);
    assert_string_equal(cfg->plugin_dir, expected);
    free(expected);
    assert_true(asprintf(&expected, "%s/key", dir) > 0);
    assert_string_equal(cfg->pseudonym_key_file, expected);
    free(expected);
    kpid_config_free(cfg);
}

/* @include is read from the configuration file's folder; errors name the included file. */
static void test_include(void **state)
{
    char *inc = fixture_path("warehouse.inc");

    fixture_write_file(inc, "\nwarehouse = { conninfo = \"from-include\"; };\n");
    kpid_config *cfg = fixture_expect_ok("pseudonymize = false;\n@include \"warehouse.inc\"\n");
    assert_string_equal(cfg->warehouse.pg.conninfo, "from-include");
    kpid_config_free(cfg);

    fixture_write_file(inc, "\nwarehouse = { conninfo = 5; };\n");
    fixture_expect_errors(
        "pseudonymize = false;\n@include \"warehouse.inc\"\n",
        "$T/warehouse.inc:2: wrong type for \"conninfo\" in warehouse: expected a "
        "string, got an integer\n");
    free(inc);
}

/* ---- errors -------------------------------------------------------------------------- */

static void test_missing_file(void **state)
{
    kpid_config sentinel, *cfg = &sentinel;
    char *errors = NULL, *path = fixture_path("nosuch.conf"), *expected;
    int r = kpid_config_load(path, NULL, &cfg, &errors);

    assert_int_equal(r, -ENOENT);
    assert_ptr_equal(cfg, &sentinel);
    assert_true(asprintf(&expected,
                         "%s: cannot read the configuration file: No such file or directory\n",
                         path) > 0);
    assert_string_equal(errors, expected);
    free(expected);
    free(errors);
    free(path);
}

static void test_syntax_error(void **state)
{
    fixture_expect_errors("pseudonymize = false;\nwarehouse = { conninfo = ; };\n",
                          "@:2: syntax error\n");
    /* libconfig refuses a key given twice in one group */
    fixture_expect_errors("pseudonymize = false;\npseudonymize = true;\n",
                          "@:2: duplicate setting name\n");
}

/* A source whose section "mapping" holds lists nested lists deep, one '(' per line from
 * line 5 on: the source's list and group are levels 1 and 2, so the whole nests
 * lists + 2 deep. The caller frees the text. */
static char *nested_mapping(int lists)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);

    assert_non_null(f);
    fputs("pseudonym_key_file = \"key\";\n"      /* 1 */
          "warehouse = { conninfo = \"x\"; };\n" /* 2 */
          "sources = (\n"                        /* 3 */
          "  { name = \"a\"; plugin = \"testsrc\"; path = \"/a\"; mapping =\n",
          f); /* 4 */
    for (int i = 0; i < lists; i++)
        fputs("(\n", f);
    fputs("1", f);
    for (int i = 0; i < lists; i++)
        fputs(")", f);
    fputs("; } );\n", f);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Nesting deeper than 100 levels is refused at the line where it goes beyond, whether
 * libconfig parses it or runs out of its parser's stack ("memory exhausted", from about
 * 2000 nested groups in libconfig 1.5). */
static void test_nesting_too_deep(void **state)
{
    char *text = nested_mapping(98); /* 100 levels */
    kpid_config *cfg = fixture_expect_ok(text);
    kpid_config_free(cfg);
    free(text);

    /* The mapping is level 3 on line 4, its k-th list level k + 2 on line 4 + k. */
    text = nested_mapping(99);
    fixture_expect_errors(text, "@:103: nesting too deep: at most 100 levels of groups, "
                                "lists and arrays\n");
    free(text);
    text = nested_mapping(3000);
    fixture_expect_errors(text, "@:103: nesting too deep: at most 100 levels of groups, "
                                "lists and arrays\n");
    free(text);

    /* Groups, beyond the parser's stack; brackets in comments and strings do not count. */
    char *big = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&big, &size);
    assert_non_null(f);
    fputs("# a comment { ( [\n"                              /* 1 */
          "s = \"a string { ( [ \\\" [ and \\\\ ( more\";\n" /* 2 */
          "/* a block { ( [\n"                               /* 3 */
          "   comment */ // and a line comment { ( [\n"      /* 4 */
          "x =\n",
          f); /* 5 */
    for (int i = 0; i < 2500; i++)
        fputs("{ a =\n", f); /* 6 ... */
    fputs("1;", f);
    for (int i = 0; i < 2500; i++)
        fputs("};", f);
    fputs("\n", f);
    assert_int_equal(fclose(f), 0);
    fixture_expect_errors(big, "@:106: nesting too deep: at most 100 levels of groups, "
                               "lists and arrays\n");
    free(big);

    /* In an included file, the error names it. */
    char *inc = fixture_path("deep.inc");
    text = nested_mapping(99);
    fixture_write_file(inc, text);
    fixture_expect_errors("@include \"deep.inc\"\n",
                          "$T/deep.inc:103: nesting too deep: at "
                          "most 100 levels of groups, lists and arrays\n");
    free(text);

    /* The parser runs out in an included file that is not deep itself: the error is
     * where the main file goes beyond the limit. */
    fixture_write_file(inc, "{ b = { b = { b = { b = { b = { b = { b = { b = { c = 1; }; }; "
                            "}; }; }; }; }; }; };\n");
    f = open_memstream(&big, &size);
    assert_non_null(f);
    fputs("x =\n", f);
    for (int i = 0; i < 1995; i++)
        fputs("{ a =\n", f);
    fputs("@include \"deep.inc\"\n", f);
    for (int i = 0; i < 1995; i++)
        fputs("};", f);
    fputs("\n", f);
    assert_int_equal(fclose(f), 0);
    fixture_expect_errors(big, "@:102: nesting too deep: at most 100 levels of groups, "
                               "lists and arrays\n");
    free(big);
    free(inc);
}

static void test_unknown_keys(void **state)
{
    static const char text[] =
        "pseudonym_key_file = \"key\";\n"                                 /* 1 */
        "warehouse = { conninfo = \"dbname=kpid\"; conninf = \"x\"; };\n" /* 2 */
        "queue = { max_event = 5; };\n"                                   /* 3 */
        "plugin_dirr = \"x\";\n"                                          /* 4 */
        "objectives = ();\n"                                              /* 5 */
        "processes = ();\n"                                               /* 6 */
        "sources = ( {\n"                                                 /* 7 */
        "  name = \"events\"; plugin = \"testsrc\"; path = \"/x\";\n"     /* 8 */
        "  pth = \"/y\";\n"                                               /* 9 */
        "  intervall = \"5s\";\n"                                         /* 10 */
        "  zzz = 1; Batch = 5; mappnig = {};\n"                           /* 11 */
        "} );\n";
    fixture_expect_errors(
        text, "@:2: unknown key \"conninf\" in warehouse; did you mean \"conninfo\"?\n"
              "@:3: unknown key \"max_event\" in queue; did you mean \"max_events\"?\n"
              "@:4: unknown key \"plugin_dirr\"; did you mean \"plugin_dir\"?\n"
              "@:9: unknown key \"pth\" in source \"events\"; did you mean \"path\"?\n"
              "@:10: unknown key \"intervall\" in source \"events\"; did you mean "
              "\"interval\"?\n"
              "@:11: unknown key \"zzz\" in source \"events\"\n"
              "@:11: unknown key \"Batch\" in source \"events\"; did you mean \"batch\"?\n"
              "@:11: unknown key \"mappnig\" in source \"events\"; did you mean "
              "\"mapping\"?\n");
}

static void test_wrong_types(void **state)
{
    static const char text[] =
        "plugin_dir = 5;\n"                                            /* 1 */
        "log_level = 1;\n"                                             /* 2 */
        "pseudonymize = \"yes\";\n"                                    /* 3 */
        "pseudonym_key_file = \"key\";\n"                              /* 4 */
        "warehouse = { conninfo = 5; batch_max_rows = \"10\"; };\n"    /* 5 */
        "queue = { max_events = 1.5; };\n"                             /* 6 */
        "sources = ( {\n"                                              /* 7 */
        "  name = \"events\"; plugin = \"testsrc\"; interval = 1.5;\n" /* 8 */
        "  pseudonymize_case_id = \"no\";\n"                           /* 9 */
        "  path = 3; batch = \"7\"; follow = 1;\n"                     /* 10 */
        "  ratio = \"x\"; timeout = true; mapping = 5;\n"              /* 11 */
        "}, \"not a group\" );\n";                                     /* 12 */
    fixture_expect_errors(
        text, "@:1: wrong type for \"plugin_dir\": expected a string, got an integer\n"
              "@:2: wrong type for \"log_level\": expected a string, got an integer\n"
              "@:3: wrong type for \"pseudonymize\": expected a boolean (true or false), got a "
              "string\n"
              "@:5: wrong type for \"conninfo\" in warehouse: expected a string, got an integer\n"
              "@:5: wrong type for \"batch_max_rows\" in warehouse: expected an integer, got a "
              "string\n"
              "@:6: wrong type for \"max_events\" in queue: expected an integer, got a "
              "floating-point number\n"
              "@:8: wrong type for \"interval\" in source \"events\": expected a duration (\"5s\" "
              "or milliseconds), got a floating-point number\n"
              "@:9: wrong type for \"pseudonymize_case_id\" in source \"events\": expected a "
              "boolean (true or false), got a string\n"
              "@:10: wrong type for \"path\" in source \"events\": expected a string, got an "
              "integer\n"
              "@:10: wrong type for \"batch\" in source \"events\": expected an integer, got a "
              "string\n"
              "@:10: wrong type for \"follow\" in source \"events\": expected a boolean (true or "
              "false), got an integer\n"
              "@:11: wrong type for \"ratio\" in source \"events\": expected a number, got a "
              "string\n"
              "@:11: wrong type for \"timeout\" in source \"events\": expected a duration (\"5s\" "
              "or milliseconds), got a boolean\n"
              "@:11: wrong type for \"mapping\" in source \"events\": expected a group or a list, "
              "got an integer\n"
              "@:12: wrong type for sources[1]: expected a group, got a string\n");
}

static void test_wrong_section_types(void **state)
{
    fixture_expect_errors(
        "pseudonym_key_file = \"key\";\n"
        "warehouse = 5;\n"
        "queue = ( 1 );\n"
        "sources = { name = \"x\"; };\n",
        "@:2: wrong type for \"warehouse\": expected a group, got an integer\n"
        "@:3: wrong type for \"queue\": expected a group, got a list\n"
        "@:4: wrong type for \"sources\": expected a list of groups, got a group\n");
    fixture_expect_errors(
        "pseudonym_key_file = \"key\";\n"
        "warehouse = { conninfo = \"x\"; };\n"
        "sources = [ \"a\", \"b\" ];\n",
        "@:3: wrong type for \"sources\": expected a list of groups, got an array\n");
}

static void test_missing_required(void **state)
{
    fixture_expect_errors("pseudonym_key_file = \"key\";\n",
                          "@: missing required group \"warehouse\"\n");
    fixture_expect_errors("pseudonym_key_file = \"key\";\n"                  /* 1 */
                          "warehouse = {\n"                                  /* 2 */
                          "  batch_max_rows = 5;\n"                          /* 3 */
                          "};\n"                                             /* 4 */
                          "sources = (\n"                                    /* 5 */
                          "  { plugin = \"testsrc\"; path = \"/x\"; },\n"    /* 6 */
                          "  { name = \"noplugin\"; },\n"                    /* 7 */
                          "  { name = \"nopath\"; plugin = \"testsrc\"; }\n" /* 8 */
                          ");\n",
                          "@:2: missing required key \"conninfo\" in warehouse\n"
                          "@:6: missing required key \"name\" in sources[0]\n"
                          "@:7: missing required key \"plugin\" in source \"noplugin\"\n"
                          "@:8: missing required key \"path\" in source \"nopath\"\n");
}

static void test_duplicate_source_names(void **state)
{
    fixture_expect_errors("pseudonym_key_file = \"key\";\n"                                  /* 1 */
                          "warehouse = { conninfo = \"x\"; };\n"                             /* 2 */
                          "sources = (\n"                                                    /* 3 */
                          "  { name = \"events\"; plugin = \"testsrc\"; path = \"/a\"; },\n" /* 4 */
                          "  { name = \"other\"; plugin = \"testsrc\"; path = \"/b\"; },\n"  /* 5 */
                          "  {\n"                                                            /* 6 */
                          "    name = \"events\"; plugin = \"testsrc\"; path = \"/c\"; },\n" /* 7 */
                          "  { name = \"events\"; plugin = \"testsrc\"; path = \"/d\"; }\n"  /* 8 */
                          ");\n",
                          "@:7: duplicate source name \"events\"; it is first defined at @:4\n"
                          "@:8: duplicate source name \"events\"; it is first defined at @:4\n");
}

static void test_unknown_plugin(void **state)
{
    fixture_expect_errors(
        "pseudonym_key_file = \"key\";\n"                                       /* 1 */
        "warehouse = { conninfo = \"x\"; };\n"                                  /* 2 */
        "sources = (\n"                                                         /* 3 */
        "  { name = \"a\"; plugin = \"nosuch\"; path = \"/a\"; bogus = 1; },\n" /* 4 */
        "  { name = \"b\"; plugin = \"No Such\"; }\n"                           /* 5 */
        ");\n",
        "@:4: cannot load plugin \"nosuch\": $P/nosuch.so: cannot open shared "
        "object file: No such file or directory\n"
        "@:5: invalid plugin name \"No Such\": use [a-z0-9_-], at most 64\n");
}

static void test_abi_mismatch(void **state)
{
    char *tmpl;

    assert_true(asprintf(&tmpl,
                         "@:4: incompatible plugin \"$P/badabi.so\": ABI mismatch; kpid speaks "
                         "ABI %d.%d, the plugin was built for ABI %d.0; rebuild the plugin "
                         "against this kpid's SDK\n",
                         KPID_ABI_MAJOR, KPID_ABI_MINOR, KPID_ABI_MAJOR + 1) > 0);
    fixture_expect_errors("pseudonym_key_file = \"key\";\n"
                          "warehouse = { conninfo = \"x\"; };\n"
                          "sources = (\n"
                          "  { name = \"a\"; plugin = \"badabi\"; }\n"
                          ");\n",
                          tmpl);
    free(tmpl);
}

static void test_pseudonym_key(void **state)
{
    kpid_config *cfg;
    char *nokey = fixture_path("nokey");

    fixture_expect_errors("pseudonym_key_file = \"nokey\";\n"
                          "warehouse = { conninfo = \"x\"; };\n",
                          "@:1: cannot read pseudonym key file \"$T/nokey\": No such file or "
                          "directory\n");
    fixture_expect_errors("warehouse = { conninfo = \"x\"; };\n"
                          "pseudonymize = true;\n"
                          "pseudonym_key_file = \"short.key\";\n",
                          "@:3: pseudonym key in \"$T/short.key\" has 5 bytes; it needs 32 to 1024 "
                          "(generate one with: openssl rand -hex 32 > $T/short.key)\n");

    /* Without pseudonymization no key is read, whatever the file says. */
    cfg = fixture_expect_ok("pseudonymize = false;\n"
                            "pseudonym_key_file = \"nokey\";\n"
                            "warehouse = { conninfo = \"x\"; };\n");
    assert_false(cfg->pseudonymize);
    assert_null(cfg->pseudonym_key);
    assert_int_equal(cfg->pseudonym_key_len, 0);
    assert_string_equal(cfg->pseudonym_key_file, nokey);
    kpid_config_free(cfg);
    free(nokey);
}

/* The default key file is reported where pseudonymize is set, or without a line. */
static void test_pseudonym_default_key_missing(void **state)
{
    if (access("/etc/kpid/pseudonym.key", F_OK) == 0 || errno != ENOENT)
        skip();
    fixture_expect_errors(
        "pseudonymize = true;\n"
        "warehouse = { conninfo = \"x\"; };\n",
        "@:1: cannot read pseudonym key file \"/etc/kpid/pseudonym.key\": No such "
        "file or directory\n");
    fixture_expect_errors("warehouse = { conninfo = \"x\"; };\n",
                          "@: cannot read pseudonym key file \"/etc/kpid/pseudonym.key\": No such "
                          "file or directory\n");
}

/*
 * A value that cannot be read leaves a number or a boolean at its default (pseudonymize
 * stays true, so the key is still read), and a path unset: an invalid plugin_dir loads
 * no plugin, not even from the default folder.
 */
static void test_unreadable_values(void **state)
{
    fixture_expect_errors("pseudonymize = \"yes\";\n"         /* 1 */
                          "pseudonym_key_file = \"nokey\";\n" /* 2 */
                          "warehouse = { conninfo = \"x\"; };\n",
                          "@:1: wrong type for \"pseudonymize\": expected a boolean (true or "
                          "false), got a string\n"
                          "@:2: cannot read pseudonym key file \"$T/nokey\": No such file or "
                          "directory\n");
    fixture_expect_errors_with(
        "plugin_dir = 1;\n"                                                    /* 1 */
        "pseudonym_key_file = \"key\";\n"                                      /* 2 */
        "warehouse = { conninfo = \"x\"; };\n"                                 /* 3 */
        "sources = ( { name = \"a\"; plugin = \"testsrc\"; bogus = 1; } );\n", /* 4 */
        NULL, "@:1: wrong type for \"plugin_dir\": expected a string, got an integer\n");
}

static void test_invalid_durations(void **state)
{
    static const char text[] =
        "pseudonym_key_file = \"key\";\n"                                                   /* 1 */
        "warehouse = { conninfo = \"x\"; };\n"                                              /* 2 */
        "sources = (\n"                                                                     /* 3 */
        "  { name = \"s1\"; plugin = \"testsrc\"; path = \"/a\"; interval = \"5x\"; },\n"   /* 4 */
        "  { name = \"s2\"; plugin = \"testsrc\"; path = \"/a\"; interval = \" 5s\"; },\n"  /* 5 */
        "  { name = \"s3\"; plugin = \"testsrc\"; path = \"/a\"; interval = \"-1s\"; },\n"  /* 6 */
        "  { name = \"s4\"; plugin = \"testsrc\"; path = \"/a\"; interval = \"\"; },\n"     /* 7 */
        "  { name = \"s5\"; plugin = \"testsrc\"; path = \"/a\";\n"                         /* 8 */
        "    interval = \"99999999999999999999s\"; },\n"                                    /* 9 */
        "  { name = \"s6\"; plugin = \"testsrc\"; path = \"/a\"; interval = -5; },\n"       /* 10 */
        "  { name = \"s7\"; plugin = \"testsrc\"; path = \"/a\"; interval = 5; },\n"        /* 11 */
        "  { name = \"s8\"; plugin = \"testsrc\"; path = \"/a\"; interval = \"2d\"; },\n"   /* 12 */
        "  { name = \"s9\"; plugin = \"testsrc\"; path = \"/a\"; timeout = \"soon\"; },\n"  /* 13 */
        "  { name = \"t1\"; plugin = \"testsrc\"; path = \"/a\"; interval = \"1.5s\"; },\n" /* 14 */
        "  { name = \"t2\"; plugin = \"testsrc\"; path = \"/a\"; timeout = -1L; }\n"        /* 15 */
        ");\n";
    fixture_expect_errors(
        text,
        "@:4: invalid duration \"5x\" for \"interval\" in source \"s1\": " USE_DURATION "\n"
        "@:5: invalid duration \" 5s\" for \"interval\" in source \"s2\": " USE_DURATION "\n"
        "@:6: invalid duration \"-1s\" for \"interval\" in source \"s3\": " USE_DURATION "\n"
        "@:7: invalid duration \"\" for \"interval\" in source \"s4\": " USE_DURATION "\n"
        "@:9: invalid duration \"99999999999999999999s\" for \"interval\" in source "
        "\"s5\": it is too large\n"
        "@:10: invalid duration -5 for \"interval\" in source \"s6\": it must not be "
        "negative\n"
        "@:11: \"interval\" in source \"s7\" must be between 10ms and 1d, not 5ms\n"
        "@:12: \"interval\" in source \"s8\" must be between 10ms and 1d, not 2d\n"
        "@:13: invalid duration \"soon\" for \"timeout\" in source \"s9\": " USE_DURATION "\n"
        "@:14: invalid duration \"1.5s\" for \"interval\" in source \"t1\": " USE_DURATION "\n"
        "@:15: invalid duration -1 for \"timeout\" in source \"t2\": it must not be "
        "negative\n");
}

static void test_out_of_range(void **state)
{
    static const char text[] =
        "pseudonym_key_file = \"key\";\n"                                            /* 1 */
        "warehouse = { conninfo = \"x\"; batch_max_rows = 0;\n"                      /* 2 */
        "  flush_interval_ms = 60001; };\n"                                          /* 3 */
        "queue = { max_events = 0;\n"                                                /* 4 */
        "  max_bytes = 65535; };\n"                                                  /* 5 */
        "sources = (\n"                                                              /* 6 */
        "  { name = \"s1\"; plugin = \"testsrc\"; path = \"/a\"; batch = 0; },\n"    /* 7 */
        "  { name = \"s2\"; plugin = \"testsrc\"; path = \"/a\"; batch = 1001L; }\n" /* 8 */
        ");\n";
    fixture_expect_errors(
        text, "@:2: \"batch_max_rows\" in warehouse must be between 1 and 1000000, not 0\n"
              "@:3: \"flush_interval_ms\" in warehouse must be between 0 and 60000, not "
              "60001\n"
              "@:4: \"max_events\" in queue must be between 1 and 10000000, not 0\n"
              "@:5: \"max_bytes\" in queue must be between 65536 and 4294967296, not 65535\n"
              "@:7: \"batch\" in source \"s1\" must be between 1 and 1000, not 0\n"
              "@:8: \"batch\" in source \"s2\" must be between 1 and 1000, not 1001\n");
}

/* The queue's bounds have upper bounds of their own: a huge one would switch the memory
 * bound off. */
static void test_queue_upper_bounds(void **state)
{
    kpid_config *cfg =
        fixture_expect_ok("pseudonym_key_file = \"key\";\n"
                          "warehouse = { conninfo = \"x\"; };\n"
                          "queue = { max_events = 10000000; max_bytes = 4294967296L; };\n");
    assert_int_equal(cfg->queue.max_events, 10000000);
    assert_int_equal(cfg->queue.max_bytes, INT64_C(4294967296));
    kpid_config_free(cfg);

    fixture_expect_errors(
        "pseudonym_key_file = \"key\";\n"      /* 1 */
        "warehouse = { conninfo = \"x\"; };\n" /* 2 */
        "queue = { max_events = 10000001;\n"   /* 3 */
        "  max_bytes = 4294967297L; };\n",     /* 4 */
        "@:3: \"max_events\" in queue must be between 1 and 10000000, not 10000001\n"
        "@:4: \"max_bytes\" in queue must be between 65536 and 4294967296, not 4294967297\n");
    fixture_expect_errors("pseudonym_key_file = \"key\";\n"                /* 1 */
                          "warehouse = { conninfo = \"x\"; };\n"           /* 2 */
                          "queue = { max_events = 9223372036854775807L;\n" /* 3 */
                          "  max_bytes = 9223372036854775807L; };\n",      /* 4 */
                          "@:3: \"max_events\" in queue must be between 1 and 10000000, not "
                          "9223372036854775807\n"
                          "@:4: \"max_bytes\" in queue must be between 65536 and 4294967296, not "
                          "9223372036854775807\n");
}

static void test_invalid_source_names(void **state)
{
    static const char text[] =
        "pseudonym_key_file = \"key\";\n"                               /* 1 */
        "warehouse = { conninfo = \"x\"; };\n"                          /* 2 */
        "sources = (\n"                                                 /* 3 */
        "  { name = \"a b\"; plugin = \"testsrc\"; path = \"/a\"; },\n" /* 4 */
        "  { name = \"\"; plugin = \"testsrc\"; path = \"/a\"; },\n"    /* 5 */
        "  { name = \"a2345678901234567890123456789012345678901234567890123456789012345\";\n"
        "    plugin = \"testsrc\"; path = \"/a\"; },\n"                       /* 7 */
        "  { name = \"caf\xc3\xa9\"; plugin = \"testsrc\"; pth = \"/a\"; }\n" /* 8 */
        ");\n";
    fixture_expect_errors(
        text, "@:4: invalid source name \"a b\": use 1 to 64 characters of A-Z a-z 0-9 _ . "
              "-\n"
              "@:5: invalid source name \"\": use 1 to 64 characters of A-Z a-z 0-9 _ . -\n"
              "@:6: invalid source name "
              "\"a2345678901234567890123456789012345678901234567890123456789012345\": use 1 "
              "to 64 characters of A-Z a-z 0-9 _ . -\n"
              "@:8: invalid source name \"caf\xc3\xa9\": use 1 to 64 characters of A-Z a-z "
              "0-9 _ . -\n"
              "@:8: unknown key \"pth\" in sources[3]; did you mean \"path\"?\n"
              "@:8: missing required key \"path\" in sources[3]\n");
}

static void test_invalid_log_level(void **state)
{
    fixture_expect_errors(
        "log_level = \"verbose\";\n"
        "pseudonymize = false;\n"
        "warehouse = { conninfo = \"x\"; };\n",
        "@:1: invalid log_level \"verbose\": use err, warning, notice, info or debug\n");
}

/* Problems of every kind in one file are all reported, in the order of their lines. */
static void test_many_errors(void **state)
{
    static const char text[] =
        "log_level = \"loud\";\n"                                                            /* 1 */
        "pseudonym_key_file = \"short.key\";\n"                                              /* 2 */
        "warehouse = { batch_max_rows = 0; };\n"                                             /* 3 */
        "queue = { max_bytes = \"big\"; };\n"                                                /* 4 */
        "sources = (\n"                                                                      /* 5 */
        "  { name = \"events\"; plugin = \"testsrc\"; pth = \"/a\"; interval = \"1y\"; },\n" /* 6 */
        "  { name = \"events\"; plugin = \"nosuch\"; }\n"                                    /* 7 */
        ");\n"                                                                               /* 8 */
        "extra = 1;\n";                                                                      /* 9 */
    fixture_expect_errors(
        text,
        "@:1: invalid log_level \"loud\": use err, warning, notice, info or debug\n"
        "@:2: pseudonym key in \"$T/short.key\" has 5 bytes; it needs 32 to 1024 (generate "
        "one with: openssl rand -hex 32 > $T/short.key)\n"
        "@:3: missing required key \"conninfo\" in warehouse\n"
        "@:3: \"batch_max_rows\" in warehouse must be between 1 and 1000000, not 0\n"
        "@:4: wrong type for \"max_bytes\" in queue: expected an integer, got a string\n"
        "@:6: invalid duration \"1y\" for \"interval\" in source \"events\": " USE_DURATION "\n"
        "@:6: unknown key \"pth\" in source \"events\"; did you mean \"path\"?\n"
        "@:6: missing required key \"path\" in source \"events\"\n"
        "@:7: cannot load plugin \"nosuch\": $P/nosuch.so: cannot open shared object file: No "
        "such file or directory\n"
        "@:7: duplicate source name \"events\"; it is first defined at @:6\n"
        "@:9: unknown key \"extra\"\n");
}

/* Every error path frees what it built: LeakSanitizer checks at exit. */
static void test_error_paths_free_everything(void **state)
{
    static const char *const texts[] = {
        "",
        "warehouse = ;",
        "pseudonym_key_file = \"key\";\nwarehouse = 5;\n",
        "pseudonym_key_file = \"short.key\";\nwarehouse = { conninfo = \"x\"; };\n",
        "pseudonym_key_file = \"key\";\nwarehouse = { conninfo = \"x\"; password_file = \"pw\";"
        " batch_max_rows = 0; };\nsources = ( { name = \"a\"; plugin = \"testsrc\"; path = "
        "\"/p\"; mapping = {}; }, { name = \"a\"; plugin = \"testsrc\"; path = \"/q\"; batch = "
        "0; } );\n",
        "pseudonym_key_file = \"key\";\nwarehouse = { conninfo = \"x\"; };\nsources = ( { name "
        "= \"a\"; plugin = \"badabi\"; }, { name = \"b\"; plugin = \"nosuch\"; }, 5 );\n",
        "pseudonym_key_file = \"key\";\nplugin_dir = 5;\nwarehouse = { conninfo = \"x\"; };\n"
        "sources = ( { name = \"a\"; plugin = \"testsrc\"; path = \"/p\"; } );\n",
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        fixture_expect_invalid(texts[i]);
}

/* ---- kpid_duration_parse ---------------------------------------------------------- */

static void test_duration_parse(void **state)
{
    static const struct {
        const char *text;
        int r;
        int64_t ms;
    } cases[] = {
        {"0", 0, 0},
        {"1", 0, 1},
        {"250", 0, 250},
        {"250ms", 0, 250},
        {"5s", 0, 5000},
        {"2m", 0, 120000},
        {"1h", 0, 3600000},
        {"1d", 0, 86400000},
        {"007s", 0, 7000},
        {"0d", 0, 0},
        {"9223372036854775807", 0, INT64_MAX},
        {"9223372036854775807ms", 0, INT64_MAX},
        {"106751991167d", 0, INT64_C(106751991167) * 86400000},
        {"", -EINVAL, 0},
        {" 5s", -EINVAL, 0},
        {"5s ", -EINVAL, 0},
        {"5 s", -EINVAL, 0},
        {"-5", -EINVAL, 0},
        {"+5", -EINVAL, 0},
        {"-5s", -EINVAL, 0},
        {"5x", -EINVAL, 0},
        {"s", -EINVAL, 0},
        {"ms", -EINVAL, 0},
        {"1.5s", -EINVAL, 0},
        {"5S", -EINVAL, 0},
        {"5sec", -EINVAL, 0},
        {"5ss", -EINVAL, 0},
        {"1h30m", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"99999999999999999999x", -EINVAL, 0},
        {"9223372036854775808", -ERANGE, 0},
        {"99999999999999999999", -ERANGE, 0},
        {"99999999999999999999ms", -ERANGE, 0},
        {"9223372036854775807s", -ERANGE, 0},
        {"106751991168d", -ERANGE, 0},
        {"153722867280913m", -ERANGE, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = -42;
        int r = kpid_duration_parse(cases[i].text, &ms);
        if (r != cases[i].r)
            print_error("\"%s\": got %d, expected %d\n", cases[i].text, r, cases[i].r);
        assert_int_equal(r, cases[i].r);
        assert_int_equal(ms, cases[i].r == 0 ? cases[i].ms : -42);
    }
}

/* The whole file at path; freshly allocated. */
static char *read_file_text(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    int c;

    assert_non_null(f);
    assert_non_null(out);
    while ((c = fgetc(f)) != EOF)
        fputc(c, out);
    fclose(f);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* ---- sources' activities and the warning about activities nobody produces -------- */

#define ACT_MODEL                                                                                 \
    "objectives = ( { id = \"o\"; name = \"O\"; perspective = \"patient\"; } );\n"                \
    "processes = ( { id = \"p\"; name = \"P\"; category = \"main\"; timezone = \"UTC\";\n"        \
    "  schedule = \"@daily\"; kpis = (\n"                                                         \
    "  { id = \"c\"; name = \"C\"; type = \"count\"; period = \"day\"; direction = \"higher\";\n" \
    "    objective = \"o\"; activity = \"ED_ARIVAL\"; },\n"                                       \
    "  { id = \"d\"; name = \"D\"; type = \"duration\"; period = \"day\"; target = 1.0;\n"        \
    "    direction = \"lower\"; objective = \"o\"; statistic = \"avg\";\n"                        \
    "    from = \"ED_ARRIVAL\";\n"                                                                \
    "    to = \"DISCHARGE\"; },\n"                                                                \
    "  { id = \"q\"; name = \"Q\"; type = \"proportion\"; period = \"day\"; target = 1.0;\n"      \
    "    direction = \"lower\"; objective = \"o\"; population = { activity = \"SEEN\"; };\n"      \
    "    numerator = {\n"                                                                         \
    "      activity = \"DEATH\"; }; },\n"                                                         \
    "  { id = \"s\"; name = \"S\"; type = \"sql\"; period = \"day\"; target = 1.0;\n"             \
    "    direction = \"lower\"; objective = \"o\"; query = \"SELECT 1 AS value\"; }\n"            \
    "  ); } );\n"
/* Lines 1-6: what every configuration needs and the sources; ACT_MODEL from line 7 (the
 * activities at lines 11, 14, 15, 17 and 19). */
#define ACT_HEAD "pseudonymize = false;\nwarehouse = { conninfo = \"x\"; };\nsources = (\n"
#define ACT_WHY_LISTS "every source lists its \"activities\" and none lists it"

/* Loads text (which must load) with stderr captured; *ret_log is what was logged. */
static kpid_config *load_capturing(const char *text, char **ret_log)
{
    char *path = fixture_path("stderr.txt");
    int saved = dup(STDERR_FILENO), fd;
    kpid_config *cfg;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    cfg = fixture_expect_ok(text);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    *ret_log = read_file_text(path);
    free(path);
    return cfg;
}

static void expect_warnings(const kpid_config *cfg, const char *tmpl)
{
    char *warnings = NULL, *expected = tmpl ? fixture_expand(tmpl) : NULL;

    assert_int_equal(kpid_model_check_activities(cfg->model, cfg->sources, cfg->n_sources,
                                                 config_root_setting(&cfg->lc), &warnings),
                     0);
    if (!expected) {
        if (warnings)
            print_error("unexpected warnings:\n%s", warnings);
        assert_null(warnings);
        return;
    }
    if (!warnings || strcmp(warnings, expected) != 0)
        fprintf(stderr, "got:\n%s\nexpected:\n%s", warnings ? warnings : "(none)", expected);
    assert_non_null(warnings);
    assert_string_equal(warnings, expected);
    free(warnings);
    free(expected);
}

static void test_activities_warning(void **state)
{
    static const char text[] = ACT_HEAD
        "  { name = \"a\"; plugin = \"testsrc\"; path = \"/a\"; activities = [ \"ED_ARRIVAL\", \"SEEN\" ]; },\n"
        "  { name = \"b\"; plugin = \"testsrc\"; path = \"/b\"; activities = [ ]; }\n"
        ");\n" ACT_MODEL;
    static const char want[] =
        "@:11: warning: KPI \"c\" uses activity \"ED_ARIVAL\", which no source produces: " ACT_WHY_LISTS
        "\n"
        "@:15: warning: KPI \"d\" uses activity \"DISCHARGE\", which no source produces: " ACT_WHY_LISTS
        "\n"
        "@:19: warning: KPI \"q\" uses activity \"DEATH\", which no source produces: " ACT_WHY_LISTS
        "\n";
    char *log = NULL, *expected = fixture_expand(want), *line, *save = NULL;
    kpid_config *cfg = load_capturing(text, &log);
    int n = 0;

    /* A warning, not a refusal: the configuration loaded, and each line was logged. */
    assert_true(cfg->sources[0].has_activities);
    assert_int_equal(cfg->sources[0].n_activities, 2);
    assert_string_equal(cfg->sources[0].activities[0], "ED_ARRIVAL");
    assert_string_equal(cfg->sources[0].activities[1], "SEEN");
    assert_true(cfg->sources[1].has_activities);
    assert_int_equal(cfg->sources[1].n_activities, 0);
    expect_warnings(cfg, want);
    for (line = strtok_r(expected, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        char *logged = NULL;
        assert_true(asprintf(&logged, "<4>%s\n", line) > 0);
        if (!strstr(log, logged))
            print_error("not logged: %s\nlog:\n%s", logged, log);
        assert_non_null(strstr(log, logged));
        free(logged);
    }
    assert_int_equal(n, 3);
    kpid_config_free(cfg);
    free(expected);
    free(log);
}

/* A source without "activities" may produce anything: no warning at all. */
static void test_activities_undeclared(void **state)
{
    static const char text[] = ACT_HEAD
        "  { name = \"a\"; plugin = \"testsrc\"; path = \"/a\"; activities = [ \"SEEN\" ]; },\n"
        "  { name = \"b\"; plugin = \"testsrc\"; path = \"/b\"; }\n"
        ");\n" ACT_MODEL;
    char *log = NULL;
    kpid_config *cfg = load_capturing(text, &log);

    assert_false(cfg->sources[1].has_activities);
    assert_null(cfg->sources[1].activities);
    expect_warnings(cfg, NULL);
    assert_null(strstr(log, "warning"));
    kpid_config_free(cfg);
    free(log);
}

/* Without any source nothing is produced. */
static void test_activities_no_source(void **state)
{
    static const char text[] = "pseudonymize = false;\nwarehouse = { conninfo = \"x\"; };\n"
                               "\n\n\n\n" ACT_MODEL;
    char *log = NULL;
    kpid_config *cfg = load_capturing(text, &log);

    expect_warnings(cfg, "@:11: warning: KPI \"c\" uses activity \"ED_ARIVAL\", which no source "
                         "produces: no source is configured\n"
                         "@:14: warning: KPI \"d\" uses activity \"ED_ARRIVAL\", which no source "
                         "produces: no source is configured\n"
                         "@:15: warning: KPI \"d\" uses activity \"DISCHARGE\", which no source "
                         "produces: no source is configured\n"
                         "@:17: warning: KPI \"q\" uses activity \"SEEN\", which no source "
                         "produces: no source is configured\n"
                         "@:19: warning: KPI \"q\" uses activity \"DEATH\", which no source "
                         "produces: no source is configured\n");
    kpid_config_free(cfg);
    free(log);
}

static void test_activities_invalid(void **state)
{
    fixture_expect_errors(
        "pseudonymize = false;\nwarehouse = { conninfo = \"x\"; };\nsources = (\n"
        "  { name = \"a\"; plugin = \"testsrc\"; path = \"/a\"; activities = \"SEEN\"; },\n"
        "  { name = \"b\"; plugin = \"testsrc\"; path = \"/b\";\n"
        "    activities = [ \"a b\", \"ED_ARRIVAL'--\" ]; },\n"
        "  { name = \"c\"; plugin = \"testsrc\"; path = \"/c\"; activities = ( 1 ); }\n"
        ");\n",
        "@:4: wrong type for \"activities\" in source \"a\": expected an array of "
        "strings, got a string\n"
        "@:6: invalid activity \"a b\" in activities[0] in source \"b\": use 1 to 64 "
        "characters of A-Z 0-9 _\n"
        "@:6: invalid activity \"ED_ARRIVAL'--\" in activities[1] in source \"b\": use "
        "1 to 64 characters of A-Z 0-9 _\n"
        "@:7: wrong type for activities[0] in source \"c\": expected a string, got an "
        "integer\n");
}

/* ---- etc/kpid.conf ----------------------------------------------------------------- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t size = 0;
    FILE *out;
    int c;

    assert_non_null(f);
    out = open_memstream(&text, &size);
    assert_non_null(out);
    while ((c = fgetc(f)) != EOF)
        fputc(c, out);
    fclose(f);
    assert_int_equal(fclose(out), 0);
    return text;
}

static bool line_sets(const char *line, const char *key)
{
    size_t n = strlen(key);

    while (*line == ' ' || *line == '\t')
        line++;
    return strncmp(line, key, n) == 0 && (line[n] == ' ' || line[n] == '=');
}

/*
 * The example configuration loads. Its key file is pointed at the test key. It is
 * checked against the real file plugin when that is built (build/plugins/file.so);
 * otherwise its source is loaded with testsrc, without the keys only the file plugin
 * has.
 */
static void test_example_config(void **state)
{
    char *text = read_all(KPID_SOURCE_DIR "/etc/kpid.conf");
    char *key = fixture_path("key");
    char *copy = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&copy, &size);
    bool have_file_plugin = access(KPID_PLUGIN_BUILD_DIR "/file.so", R_OK) == 0;
    int key_lines = 0, plugin_lines = 0;

    assert_non_null(out);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line_sets(line, "pseudonym_key_file")) {
            fprintf(out, "pseudonym_key_file = \"%s\";\n", key);
            key_lines++;
        } else if (!have_file_plugin && line_sets(line, "plugin")) {
            assert_non_null(strstr(line, "\"file\""));
            fputs("plugin = \"testsrc\";\n", out);
            plugin_lines++;
        } else if (!have_file_plugin &&
                   (line_sets(line, "batch_max_lines") || line_sets(line, "max_line_bytes") ||
                    line_sets(line, "rotate_wait") || line_sets(line, "max_open_files") ||
                    line_sets(line, "follow_symlinks") || line_sets(line, "rejected_raw")))
            fputs("\n", out); /* keeps the line numbers */
        else
            fprintf(out, "%s\n", line);
    }
    assert_int_equal(fclose(out), 0);
    assert_int_equal(key_lines, 1);
    if (!have_file_plugin)
        assert_int_equal(plugin_lines, 1);

    kpid_config *cfg = fixture_expect_ok_with(copy, have_file_plugin ? KPID_PLUGIN_BUILD_DIR
                                                                     : KPID_TEST_PLUGIN_DIR);
    assert_int_equal(cfg->log_level, KPID_LOG_INFO);
    assert_true(cfg->pseudonymize);
    assert_non_null(cfg->pseudonym_key);
    assert_string_equal(cfg->warehouse.pg.password_file, "/etc/kpid/warehouse.password");
    assert_int_equal(cfg->warehouse.batch_max_rows, 50000);
    assert_int_equal(cfg->warehouse.flush_interval_ms, 0);
    assert_int_equal(cfg->queue.max_events, 100000);
    assert_int_equal(cfg->queue.max_bytes, 33554432);
    assert_int_equal(cfg->n_sources, 1);
    assert_string_equal(cfg->sources[0].name, "events");
    assert_string_equal(cfg->sources[0].plugin->def->name, have_file_plugin ? "file" : "testsrc");
    assert_int_equal(cfg->sources[0].interval_ms, 1000);
    assert_false(cfg->sources[0].pseudonymize_case_id);
    if (!have_file_plugin)
        assert_string_equal(((const testsrc_config *)cfg->sources[0].plugin_config)->path,
                            "/var/spool/kpid/events/*.ndjson");
    kpid_config_free(cfg);

    free(copy);
    free(key);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_warehouse_session),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_boundaries_accepted),
        cmocka_unit_test(test_rejected_retention),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_nesting_too_deep),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_wrong_section_types),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_duplicate_source_names),
        cmocka_unit_test(test_unknown_plugin),
        cmocka_unit_test(test_abi_mismatch),
        cmocka_unit_test(test_pseudonym_key),
        cmocka_unit_test(test_pseudonym_default_key_missing),
        cmocka_unit_test(test_unreadable_values),
        cmocka_unit_test(test_invalid_durations),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_queue_upper_bounds),
        cmocka_unit_test(test_invalid_source_names),
        cmocka_unit_test(test_invalid_log_level),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_error_paths_free_everything),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_activities_warning),
        cmocka_unit_test(test_activities_undeclared),
        cmocka_unit_test(test_activities_no_source),
        cmocka_unit_test(test_activities_invalid),
        cmocka_unit_test(test_example_config),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
