/* lib/hl7's mapper: rules from configuration text applied to parsed messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libconfig.h>

#include "hl7/hl7.h"
#include "hl7/map.h"

/* Compiles the rules of "mapping = ( ... );" text; NULL with *ret_error on failure. */
static kpid_hl7_map *compile(const char *text, char **ret_error)
{
    config_t cfg;
    kpid_hl7_map *map = NULL;

    config_init(&cfg);
    assert_int_equal(config_read_string(&cfg, text), CONFIG_TRUE);
    if (kpid_hl7_map_compile(config_lookup(&cfg, "mapping"), &map, ret_error) < 0)
        map = NULL;
    config_destroy(&cfg);
    return map;
}

/* Segments joined by CR. */
static kpid_hl7_msg *parse(const char *const *segs)
{
    char text[4096];
    size_t n = 0;
    kpid_hl7_msg *m = NULL;
    kpid_hl7_error err = {0};

    for (size_t i = 0; segs[i]; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\r", segs[i]);
    assert_int_equal(kpid_hl7_parse(text, n, NULL, &m, &err), 0);
    return m;
}

static const char *const adt_a01[] = {
    "MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301081500+0500||ADT^A01^ADT_A01|MSG0001|P|2.5.1",
    "EVN|A01|20250301081500+0500||||20250301081000+0500",
    "PID|1||9988776^^^NATION^NI~P0001234^^^HOSP^MR||Zhumabayeva^Aigerim||19800101|F|||"
    "Abay Ave 1^^Almaty",
    "PV1|1|I|W3^12^1^HOSP|||ER^1|||||||||||||I00000042|||||||||||||||||||||||||"
    "20250301080000+0500",
    NULL,
};

static const char rules[] =
    "mapping = (\n"
    "  { message = \"ADT^A01\"; activity = \"ADMISSION\"; time = [ \"PV1-44\", \"EVN-6\" ];\n"
    "    attrs = { ward = \"PV1-3.1\"; class = \"PV1-2\"; bed = \"PV1-3.2\"; none = \"PV1-7\"; };"
    " },\n"
    "  { message = [ \"ADT^A01\", \"ADT^A04\" ]; activity = \"REGISTRATION\";\n"
    "    subject_id = \"PID-3\"; key = [ \"subject_id\", \"activity\", \"time\" ]; },\n"
    "  { message = \"ADT^A11\"; retract = \"ADMISSION\"; },\n"
    "  { message = \"ORU^R01\"; activity = \"LAB_RESULT\"; foreach = \"OBX\";\n"
    "    time = \"OBX-14\"; value = \"OBX-5\"; attrs = { test = \"OBX-3.1\"; unit = \"OBX-6\"; };\n"
    "    when = ( ( \"OBX-11\", [ \"F\", \"C\" ] ) );\n"
    "    key = [ \"case_id\", \"activity\", \"OBX-3.1\", \"time\" ]; }\n"
    ");\n";

static void test_admission(void **state)
{
    char *error = NULL, why[200];
    kpid_hl7_map *map = compile(rules, &error);
    kpid_hl7_msg *m = parse(adt_a01);
    kpid_hl7_mapped out = {0};
    kpid_hl7_map_options opt = {.subject_authority = "HOSP"};

    (void)state;
    assert_non_null(map);
    assert_int_equal(kpid_hl7_map_rules(map), 4);
    assert_int_equal(kpid_hl7_map_apply(map, &opt, m, &out, why, sizeof(why)), 2);

    const kpid_event *ev = &out.v[0].ev;
    assert_false(out.v[0].retract);
    assert_string_equal(ev->activity, "ADMISSION");
    assert_string_equal(ev->event_key, "I00000042/ADMISSION");
    assert_string_equal(ev->case_id, "I00000042");
    assert_string_equal(ev->subject_id, "P0001234"); /* the HOSP repetition, not the first */
    /* PV1-44 first: 2025-03-01 08:00 +05:00 = 03:00Z. */
    assert_int_equal(ev->time_us, INT64_C(1740798000) * 1000000);
    assert_false(ev->has_value);
    assert_string_equal(ev->attrs_json, "{\"ward\":\"W3\",\"class\":\"I\",\"bed\":\"12\"}");

    ev = &out.v[1].ev;
    assert_string_equal(ev->activity, "REGISTRATION");
    /* Default time list EVN-6, EVN-2, MSH-7: EVN-6 = 08:10 +05:00. */
    assert_int_equal(ev->time_us, (INT64_C(1740798000) + 600) * 1000000);
    assert_string_equal(ev->event_key, "P0001234/REGISTRATION/2025-03-01T03:10:00.000000Z");

    /* Nothing else of the message is in what the mapper keeps: no name, no address, no
     * birth date. */
    assert_null(memmem(out.text.data, out.text.len, "Zhumabayeva", 11));
    assert_null(memmem(out.text.data, out.text.len, "Abay", 4));
    assert_null(memmem(out.text.data, out.text.len, "19800101", 8));

    /* Without an authority: the first repetition. */
    opt.subject_authority = NULL;
    assert_int_equal(kpid_hl7_map_apply(map, &opt, m, &out, why, sizeof(why)), 2);
    assert_string_equal(out.v[0].ev.subject_id, "9988776");
    /* By identifier type code. */
    opt.subject_type = "MR";
    assert_int_equal(kpid_hl7_map_apply(map, &opt, m, &out, why, sizeof(why)), 2);
    assert_string_equal(out.v[0].ev.subject_id, "P0001234");

    kpid_hl7_mapped_free(&out);
    kpid_hl7_free(m);
    kpid_hl7_map_free(map);
}

static void test_results_foreach(void **state)
{
    static const char *const oru[] = {
        "MSH|^~\\&|LAB|HOSP|KPID|HOSP|20250301090000||ORU^R01|MSG0002|P|2.4",
        "PID|1||P0001234^^^HOSP^MR",
        "PV1|1|I|W3||||||||||||||||L00000917",
        "OBR|1|ORD1||K^Potassium",
        "OBX|1|NM|K^Potassium||+4.10|mmol/L|||||F|||20250301084012+0000",
        "OBX|2|NM|NA^Sodium||140|mmol/L|||||P|||20250301084012+0000",
        "OBX|3|NM|CL^Chloride||.5|mmol/L|||||C|||20250301084013+0000",
        "OBX|4|NM|CR^Creatinine||007|umol/L|||||F|||20250301084014+0000",
        NULL,
    };
    char *error = NULL, why[200];
    kpid_hl7_map *map = compile(rules, &error);
    kpid_hl7_msg *m = parse(oru);
    kpid_hl7_mapped out = {0};

    (void)state;
    assert_non_null(map);
    /* OBX 2 is preliminary (P): not mapped. */
    assert_int_equal(kpid_hl7_map_apply(map, NULL, m, &out, why, sizeof(why)), 3);
    assert_string_equal(out.v[0].ev.event_key,
                        "L00000917/LAB_RESULT/K/2025-03-01T08:40:12.000000Z");
    assert_true(out.v[0].ev.has_value);
    assert_true(out.v[0].ev.value == 4.1);
    assert_string_equal(out.v[0].ev.attrs_json, "{\"test\":\"K\",\"unit\":\"mmol/L\"}");
    assert_string_equal(out.v[1].ev.event_key,
                        "L00000917/LAB_RESULT/CL/2025-03-01T08:40:13.000000Z");
    assert_true(out.v[1].ev.value == 0.5);
    assert_true(out.v[2].ev.value == 7.0);
    assert_int_equal(out.v[2].ev.time_us, INT64_C(1740818414) * 1000000);

    kpid_hl7_mapped_free(&out);
    kpid_hl7_free(m);
    kpid_hl7_map_free(map);
}

static void test_retract_and_unmatched(void **state)
{
    static const char *const a11[] = {
        "MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301100000||ADT^A11|MSG0003|P|2.3",
        "EVN|A11|20250301100000",
        "PID|1||P0001234^^^HOSP^MR",
        "PV1|1|I|W3||||||||||||||||I00000042",
        NULL,
    };
    static const char *const a08[] = {
        "MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301100000||ADT^A08|MSG0004|P|2.3",
        NULL,
    };
    char *error = NULL, why[200];
    kpid_hl7_map *map = compile(rules, &error);
    kpid_hl7_msg *m = parse(a11), *m2 = parse(a08);
    kpid_hl7_mapped out = {0};

    (void)state;
    assert_int_equal(kpid_hl7_map_apply(map, NULL, m, &out, why, sizeof(why)), 1);
    assert_true(out.v[0].retract);
    assert_string_equal(out.v[0].ev.event_key, "I00000042/ADMISSION");
    assert_int_equal(kpid_hl7_map_apply(map, NULL, m2, &out, why, sizeof(why)), -ENOENT);

    kpid_hl7_mapped_free(&out);
    kpid_hl7_free(m);
    kpid_hl7_free(m2);
    kpid_hl7_map_free(map);
}

/* A rule that fails fails the whole message, and says which rule and path, never the
 * value. */
static void test_failures(void **state)
{
    static const char *const bad_value[] = {
        "MSH|^~\\&|LAB|HOSP|KPID|HOSP|20250301090000||ORU^R01|MSG0005|P|2.5",
        "PV1|1|I|W3||||||||||||||||L1",
        "OBX|1|NM|K||4.1|mmol/L|||||F|||20250301084012",
        "OBX|2|NM|NA||SECRET-7|mmol/L|||||F|||20250301084012",
        NULL,
    };
    static const char *const no_time[] = {
        "MSH|^~\\&|ADT|HOSP|KPID|HOSP|||ADT^A01|MSG0006|P|2.5",
        "PV1|1|I|W3||||||||||||||||I1",
        NULL,
    };
    static const char *const no_case[] = {
        "MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301090000||ADT^A11|MSG0007|P|2.5",
        NULL,
    };
    char *error = NULL, why[200];
    kpid_hl7_map *map = compile(rules, &error);
    kpid_hl7_msg *m;
    kpid_hl7_mapped out = {0};

    (void)state;
    m = parse(bad_value);
    assert_int_equal(kpid_hl7_map_apply(map, NULL, m, &out, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "rule 4 (ORU^R01 LAB_RESULT): OBX-5 is not a number");
    assert_int_equal(out.n, 0);
    kpid_hl7_free(m);

    m = parse(no_time);
    assert_int_equal(kpid_hl7_map_apply(map, NULL, m, &out, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "rule 1 (ADT^A01 ADMISSION): no time: every path of its time "
                             "list is empty");
    kpid_hl7_free(m);

    m = parse(no_case);
    assert_int_equal(kpid_hl7_map_apply(map, NULL, m, &out, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "the key needs case_id"));
    kpid_hl7_free(m);

    kpid_hl7_mapped_free(&out);
    kpid_hl7_map_free(map);
}

/* Times without an offset are read in the configured zone. */
static void test_zone(void **state)
{
    static const char *const a01[] = {
        "MSH|^~\\&|ADT|HOSP|KPID|HOSP|20250301081500||ADT^A01|MSG0008|P|2.5",
        "EVN|A01|20250301081500||||20250715120000",
        "PID|1||P7^^^HOSP^MR",
        "PV1|1|I|W3||||||||||||||||I7",
        NULL,
    };
    char *error = NULL, why[200];
    kpid_hl7_map *map = compile(rules, &error);
    kpid_hl7_msg *m = parse(a01);
    kpid_hl7_mapped out = {0};
    kpid_tz *berlin = NULL;
    char *tz_error = NULL;

    (void)state;
    assert_int_equal(kpid_tz_load("Europe/Berlin", &berlin, &tz_error), 0);
    kpid_hl7_map_options opt = {.tz = berlin};
    int n = kpid_hl7_map_apply(map, &opt, m, &out, why, sizeof(why));
    if (n != 2)
        fail_msg("%d: %s", n, why);
    /* 12:00 CEST = 10:00Z. */
    assert_int_equal(out.v[0].ev.time_us, INT64_C(1752573600) * 1000000);
    kpid_hl7_mapped_free(&out);
    kpid_hl7_free(m);
    kpid_hl7_map_free(map);
    kpid_tz_free(berlin);
}

static void expect_compile_error(const char *text, const char *expect)
{
    char *error = NULL;
    kpid_hl7_map *map = compile(text, &error);

    if (map)
        fail_msg("compiled: %s", text);
    assert_non_null(error);
    if (!strstr(error, expect))
        fail_msg("error \"%s\" does not say \"%s\"", error, expect);
    assert_non_null(strstr(error, ":1: ") ? error : strstr(error, ":2: "));
    free(error);
}

static void test_compile_errors(void **state)
{
    (void)state;
    expect_compile_error("mapping = ( { message = \"ADT^A01\"; activity = \"A\"; colour = 1; } );",
                         "unknown key \"colour\"");
    expect_compile_error(
        "mapping = ( { message = \"ADT^A01\"; activity = \"A\"; time = \"PV1\"; } );",
        "\"PV1\" is not an HL7 path");
    expect_compile_error("mapping = ( { message = \"ADT^A01\"; activity = \"admission\"; } );",
                         "activity \"admission\" is not valid");
    expect_compile_error(
        "mapping = ( { message = \"ADT^A01\"; activity = \"A\"; retract = \"B\"; } "
        ");",
        "activity or retract (one of them)");
    expect_compile_error("mapping = ( { message = \"ADT-A01\"; activity = \"A\"; } );",
                         "is not TYPE^TRIGGER");
    expect_compile_error("mapping = ( { activity = \"A\"; } );", "needs message");
    expect_compile_error("mapping = ( { message = \"ADT^A01\"; activity = \"A\";\n"
                         " attrs = { ward-x = \"PV1-3\"; }; } );",
                         "attribute name \"ward-x\" is not valid");
    expect_compile_error("mapping = ( { message = \"ORU^R01\"; activity = \"A\";\n"
                         " when = ( \"OBX-11\" ); } );",
                         "a condition of when");
    expect_compile_error(
        "mapping = ( { message = \"ORU^R01\"; activity = \"A\"; foreach = \"obx\"; "
        "} );",
        "foreach must name a segment");
    expect_compile_error("mapping = ( );", "mapping must be a list of rules");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admission),
        cmocka_unit_test(test_results_foreach),
        cmocka_unit_test(test_retract_and_unmatched),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_zone),
        cmocka_unit_test(test_compile_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
