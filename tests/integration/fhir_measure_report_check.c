/*
 * A structural check of a FHIR R4 MeasureReport, for the tests of `kpid measure-report`:
 * required elements with their cardinality and JSON types, codes in their value sets
 * (status, type, measure-population, measure-improvement-notation, measure-scoring),
 * counts integers >= 0, scores numbers, and no element at the top level that R4 does not
 * define. Contained resources have an id, unique, and are referred to from the report
 * (dom-3); a measure "#id" names a contained Measure, which has a status, an absolute
 * url, and at most one cqm-populationBasis extension with a valueCode of the FHIR type
 * shape ("boolean" or a resource type such as "Encounter"); every extension has a url
 * and one value. It is not a full FHIR validator (no profiles, no other invariants).
 *
 *   fhir_measure_report_check FILE   exit 0 when valid; 1 with one line per problem.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define POPULATION_SYSTEM "http://terminology.hl7.org/CodeSystem/measure-population"
#define IMPROVEMENT_SYSTEM "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
#define SCORING_SYSTEM "http://terminology.hl7.org/CodeSystem/measure-scoring"
#define POPULATION_BASIS_URL "http://hl7.org/fhir/uv/cqm/StructureDefinition/cqm-populationBasis"

static int problems;

static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    problems++;
}

static bool in_set(const char *s, const char *const *set)
{
    for (; s && *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* A required (or optional) string element of obj. */
static const char *string_at(json_t *obj, const char *key, bool required, const char *where)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            bad("%s.%s: required (1..1), missing", where, key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        bad("%s.%s: must be a non-empty string", where, key);
        return NULL;
    }
    return json_string_value(v);
}

/* An optional array element; NULL when absent or not an array (reported). */
static json_t *array_at(json_t *obj, const char *key, const char *where)
{
    json_t *v = json_object_get(obj, key);
    if (v && !json_is_array(v)) {
        bad("%s.%s: must be an array (0..*)", where, key);
        return NULL;
    }
    return v;
}

static bool datetime(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    return s && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 &&
           n == 19 &&
           (strcmp(s + n, "Z") == 0 ||
            ((s[n] == '+' || s[n] == '-') && strlen(s + n) == 6 && s[n + 3] == ':'));
}

static void codeable_concept(json_t *cc, const char *where)
{
    if (!json_is_object(cc)) {
        bad("%s: must be a CodeableConcept (object)", where);
        return;
    }
    json_t *text = json_object_get(cc, "text"), *coding = array_at(cc, "coding", where);
    if (text && !json_is_string(text))
        bad("%s.text: must be a string", where);
    if (!text && !coding)
        bad("%s: a CodeableConcept needs coding or text", where);
}

/* population[]: code with a measure-population coding, count integer >= 0. */
static void populations(json_t *list, const char *where)
{
    static const char *const codes[] = {"initial-population",    "numerator",
                                        "numerator-exclusion",   "denominator",
                                        "denominator-exclusion", "denominator-exception",
                                        "measure-population",    "measure-population-exclusion",
                                        "measure-observation",   NULL};
    size_t i;
    json_t *p;
    char at[200];

    json_array_foreach (list, i, p) {
        snprintf(at, sizeof(at), "%s.population[%zu]", where, i);
        if (!json_is_object(p)) {
            bad("%s: must be an object", at);
            continue;
        }
        json_t *code = json_object_get(p, "code"), *count = json_object_get(p, "count");
        json_t *coding = code ? json_object_get(code, "coding") : NULL, *c;
        size_t j;
        if (!code || !json_is_array(coding) || json_array_size(coding) == 0)
            bad("%s.code.coding: required here, a non-empty array", at);
        json_array_foreach (coding, j, c) {
            const char *system = json_string_value(json_object_get(c, "system"));
            const char *value = json_string_value(json_object_get(c, "code"));
            if (!system || strcmp(system, POPULATION_SYSTEM) != 0)
                bad("%s.code.coding[%zu].system: must be %s", at, j, POPULATION_SYSTEM);
            if (!in_set(value, codes))
                bad("%s.code.coding[%zu].code: \"%s\" is not a measure-population code", at, j,
                    value ? value : "(none)");
        }
        if (count && (!json_is_integer(count) || json_integer_value(count) < 0))
            bad("%s.count: must be an integer >= 0", at);
    }
}

static void measure_score(json_t *obj, const char *where)
{
    json_t *q = json_object_get(obj, "measureScore");
    if (!q)
        return;
    if (!json_is_object(q) || !json_is_number(json_object_get(q, "value")))
        bad("%s.measureScore.value: must be a number", where);
    json_t *unit = json_object_get(q, "unit");
    if (unit && !json_is_string(unit))
        bad("%s.measureScore.unit: must be a string", where);
}

static void stratifiers(json_t *list, const char *where)
{
    size_t i, j, k;
    json_t *s, *st, *comp;
    char at[200], sat[240], cat[280];

    json_array_foreach (list, i, s) {
        snprintf(at, sizeof(at), "%s.stratifier[%zu]", where, i);
        json_t *code = array_at(s, "code", at), *c; /* R4: 0..* CodeableConcept */
        json_array_foreach (code, j, c) {
            snprintf(cat, sizeof(cat), "%s.code[%zu]", at, j);
            codeable_concept(c, cat);
        }
        json_array_foreach (array_at(s, "stratum", at), j, st) {
            snprintf(sat, sizeof(sat), "%s.stratum[%zu]", at, j);
            json_t *value = json_object_get(st, "value");
            json_t *components = array_at(st, "component", sat);
            if (value) {
                snprintf(cat, sizeof(cat), "%s.value", sat);
                codeable_concept(value, cat);
            }
            json_array_foreach (components, k, comp) {
                snprintf(cat, sizeof(cat), "%s.component[%zu].code", sat, k);
                if (!json_object_get(comp, "code"))
                    bad("%s: required (1..1), missing", cat);
                else
                    codeable_concept(json_object_get(comp, "code"), cat);
                snprintf(cat, sizeof(cat), "%s.component[%zu].value", sat, k);
                if (!json_object_get(comp, "value"))
                    bad("%s: required (1..1), missing", cat);
                else
                    codeable_concept(json_object_get(comp, "value"), cat);
            }
            populations(array_at(st, "population", sat), sat);
            measure_score(st, sat);
        }
    }
}

/* A FHIR id: [A-Za-z0-9-.]{1,64}. */
static bool fhir_id(const char *s)
{
    return s && *s && strlen(s) <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.") ==
               strlen(s);
}

/* extension[]: objects with a url and exactly one value[x]; returns the valueCode of the
 * extension with url want (NULL when there is none), reporting a second one. */
static const char *extensions(json_t *obj, const char *want, const char *where)
{
    const char *found = NULL, *key;
    size_t i;
    json_t *e, *v;
    char at[300];

    json_array_foreach (array_at(obj, "extension", where), i, e) {
        snprintf(at, sizeof(at), "%s.extension[%zu]", where, i);
        if (!json_is_object(e)) {
            bad("%s: must be an object", at);
            continue;
        }
        const char *url = string_at(e, "url", true, at);
        int values = 0;
        json_object_foreach (e, key, v)
            values += strncmp(key, "value", 5) == 0;
        if (values != 1)
            bad("%s: must have exactly one value[x], has %d", at, values);
        if (!url || strcmp(url, want) != 0)
            continue;
        json_t *code = json_object_get(e, "valueCode");
        if (!json_is_string(code)) {
            bad("%s: %s takes a valueCode", at, want);
            continue;
        }
        if (found)
            bad("%s: a second %s (0..1)", at, want);
        found = json_string_value(code);
    }
    return found;
}

/* The contained Measure (docs: measure_report.h): status, url, scoring, populationBasis. */
static void measure(json_t *m, const char *where)
{
    static const char *const statuses[] = {"draft", "active", "retired", "unknown", NULL};
    static const char *const scorings[] = {"proportion", "ratio", "continuous-variable", "cohort",
                                           NULL};
    const char *s = string_at(m, "status", true, where), *basis;

    if (s && !in_set(s, statuses))
        bad("%s.status: \"%s\" is not draft | active | retired | unknown", where, s);
    s = string_at(m, "url", false, where);
    if (s && !strchr(s, ':'))
        bad("%s.url: \"%s\" is not an absolute URI (a contained canonical must be)", where, s);
    json_t *sc = json_object_get(m, "scoring"), *c;
    size_t i;
    json_array_foreach (sc ? json_object_get(sc, "coding") : NULL, i, c) {
        const char *system = json_string_value(json_object_get(c, "system"));
        const char *code = json_string_value(json_object_get(c, "code"));
        if (!system || strcmp(system, SCORING_SYSTEM) != 0 || !in_set(code, scorings))
            bad("%s.scoring.coding[%zu]: not a code of %s", where, i, SCORING_SYSTEM);
    }
    basis = extensions(m, POPULATION_BASIS_URL, where);
    /* all-types: "boolean" or a type name, which begins with an uppercase letter. */
    if (basis && strcmp(basis, "boolean") != 0 &&
        !(basis[0] >= 'A' && basis[0] <= 'Z' &&
          strspn(basis, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == strlen(basis)))
        bad("%s: populationBasis \"%s\" is not a FHIR type", where, basis);
}

/* contained[]: resources with unique ids; returns the array (NULL when absent). */
static json_t *contained(json_t *r)
{
    json_t *list = array_at(r, "contained", "MeasureReport"), *c;
    size_t i, j;
    char at[64];

    json_array_foreach (list, i, c) {
        snprintf(at, sizeof(at), "MeasureReport.contained[%zu]", i);
        if (!json_is_object(c)) {
            bad("%s: must be a resource (object)", at);
            continue;
        }
        const char *type = string_at(c, "resourceType", true, at);
        const char *id = string_at(c, "id", true, at);
        if (id && !fhir_id(id))
            bad("%s.id: \"%s\" is not [A-Za-z0-9-.]{1,64}", at, id);
        for (j = 0; id && j < i; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(list, j), "id"));
            if (other && strcmp(id, other) == 0)
                bad("%s.id: \"%s\" is used twice", at, id);
        }
        if (type && strcmp(type, "Measure") == 0)
            measure(c, at);
    }
    return list;
}

int main(int argc, char **argv)
{
    static const char *const elements[] = {"resourceType",
                                           "id",
                                           "meta",
                                           "implicitRules",
                                           "language",
                                           "text",
                                           "contained",
                                           "extension",
                                           "modifierExtension",
                                           "identifier",
                                           "status",
                                           "type",
                                           "measure",
                                           "subject",
                                           "date",
                                           "reporter",
                                           "period",
                                           "improvementNotation",
                                           "group",
                                           "evaluatedResource",
                                           NULL};
    static const char *const statuses[] = {"complete", "pending", "error", NULL};
    static const char *const types[] = {"individual", "subject-list", "summary", "data-collection",
                                        NULL};
    json_error_t err;
    json_t *r, *v, *g;
    const char *key, *s;
    size_t i;
    char at[64];

    if (argc != 2) {
        fprintf(stderr, "usage: fhir_measure_report_check FILE\n");
        return 2;
    }
    r = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &err);
    if (!r || !json_is_object(r)) {
        fprintf(stderr, "%s: not a JSON object: %s\n", argv[1], r ? "" : err.text);
        return 1;
    }
    json_object_foreach (r, key, v)
        if (!in_set(key, elements))
            bad("MeasureReport.%s: not an element of an R4 MeasureReport", key);
    s = string_at(r, "resourceType", true, "MeasureReport");
    if (s && strcmp(s, "MeasureReport") != 0)
        bad("MeasureReport.resourceType: \"%s\", not MeasureReport", s);
    s = string_at(r, "id", false, "MeasureReport");
    if (s && (strlen(s) > 64 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789-.") != strlen(s)))
        bad("MeasureReport.id: \"%s\" is not [A-Za-z0-9-.]{1,64}", s);
    s = string_at(r, "status", true, "MeasureReport");
    if (s && !in_set(s, statuses))
        bad("MeasureReport.status: \"%s\" is not complete | pending | error", s);
    s = string_at(r, "type", true, "MeasureReport");
    if (s && !in_set(s, types))
        bad("MeasureReport.type: \"%s\" is not in the measure-report-type value set", s);
    json_t *inner = contained(r), *res;
    s = string_at(r, "measure", true, "MeasureReport");
    if (s && s[0] == '#') {
        /* A canonical to a contained resource: it must be there, and be a Measure. */
        json_t *found = NULL;
        json_array_foreach (inner, i, res)
            if (json_is_object(res) && json_string_value(json_object_get(res, "id")) &&
                strcmp(json_string_value(json_object_get(res, "id")), s + 1) == 0)
                found = res;
        if (!found)
            bad("MeasureReport.measure: \"%s\" names no contained resource", s);
        else if (!json_is_string(json_object_get(found, "resourceType")) ||
                 strcmp(json_string_value(json_object_get(found, "resourceType")), "Measure") != 0)
            bad("MeasureReport.measure: \"%s\" is not a Measure", s);
    } else if (s && !strchr(s, ':'))
        bad("MeasureReport.measure: \"%s\" is neither a canonical URL nor \"#id\"", s);
    /* dom-3: every contained resource is referred to from the report (only measure can). */
    json_array_foreach (inner, i, res) {
        const char *id = json_string_value(json_object_get(res, "id"));
        if (id && !(s && s[0] == '#' && strcmp(s + 1, id) == 0))
            bad("MeasureReport.contained[%zu]: \"%s\" is not referred to from the report (dom-3)",
                i, id);
    }
    s = string_at(r, "date", false, "MeasureReport");
    if (s && !datetime(s))
        bad("MeasureReport.date: \"%s\" is not a dateTime with seconds and zone", s);
    v = json_object_get(r, "period");
    if (!json_is_object(v))
        bad("MeasureReport.period: required (1..1), a Period object");
    else {
        const char *start = string_at(v, "start", true, "MeasureReport.period");
        const char *end = string_at(v, "end", true, "MeasureReport.period");
        if (start && !datetime(start))
            bad("MeasureReport.period.start: \"%s\" is not a dateTime", start);
        if (end && !datetime(end))
            bad("MeasureReport.period.end: \"%s\" is not a dateTime", end);
    }
    v = json_object_get(r, "improvementNotation");
    if (v) {
        json_t *coding = json_object_get(v, "coding"), *c;
        if (!json_is_array(coding) || json_array_size(coding) == 0)
            bad("MeasureReport.improvementNotation.coding: a non-empty array");
        json_array_foreach (coding, i, c) {
            const char *system = json_string_value(json_object_get(c, "system"));
            const char *code = json_string_value(json_object_get(c, "code"));
            if (!system || strcmp(system, IMPROVEMENT_SYSTEM) != 0 ||
                !in_set(code, (const char *const[]){"increase", "decrease", NULL}))
                bad("MeasureReport.improvementNotation.coding[%zu]: not increase | decrease of %s",
                    i, IMPROVEMENT_SYSTEM);
        }
    }
    json_array_foreach (array_at(r, "group", "MeasureReport"), i, g) {
        snprintf(at, sizeof(at), "MeasureReport.group[%zu]", i);
        if (!json_is_object(g)) {
            bad("%s: must be an object", at);
            continue;
        }
        populations(array_at(g, "population", at), at);
        measure_score(g, at);
        stratifiers(array_at(g, "stratifier", at), at);
    }
    json_decref(r);
    return problems ? 1 : 0;
}
