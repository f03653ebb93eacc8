#include "report/measure_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpi/kpi_compile.h"

#define POPULATION_SYSTEM "http://terminology.hl7.org/CodeSystem/measure-population"
#define SCORING_SYSTEM "http://terminology.hl7.org/CodeSystem/measure-scoring"
#define POPULATION_BASIS_URL "http://hl7.org/fhir/uv/cqm/StructureDefinition/cqm-populationBasis"
#define CONTAINED_MEASURE_ID "measure"
#define IMPROVEMENT_SYSTEM "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
#define MEASURE_PREFIX "urn:kpid:measure:"
#define FHIR_ID_MAX 64

/* t in the local time of tz, RFC 3339 with its offset; out has 32 bytes. */
static int rfc3339(const kpid_tz *tz, int64_t t, char out[32])
{
    kpid_civil c;

    if (kpid_tz_to_local(tz, t, &c) < 0)
        return -1;
    int off = c.utc_offset < 0 ? -c.utc_offset : c.utc_offset;
    if (c.utc_offset == 0)
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour,
                 c.minute, c.second);
    else
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.month, c.day,
                 c.hour, c.minute, c.second, c.utc_offset < 0 ? '-' : '+', off / 3600,
                 off / 60 % 60);
    return 0;
}

/* A resource id, [A-Za-z0-9.-]{1,64}: the KPI id and the period's label, other bytes
 * as '-'. */
static void report_id(const kpid_kpi *kpi, const kpid_interval *iv, char out[FHIR_ID_MAX + 1])
{
    char label[KPID_PERIOD_LABEL_MAX] = "";

    (void)kpid_period_label(&kpi->period, kpi->process->tz, iv, label, sizeof(label));
    snprintf(out, FHIR_ID_MAX + 1, "%s-%s", kpi->id, label);
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-'))
            *p = '-';
}

static json_t *text_concept(const char *text)
{
    return json_pack("{s:s}", "text", text);
}

/* The populations of one stratum, every code of the KPI, 0 where counts has none. */
static json_t *populations(const kpid_mr_input *in, const char *stratum)
{
    json_t *list = json_array();

    for (size_t i = 0; list && i < kpid_kpi_population_count(in->kpi); i++) {
        const char *code = kpid_kpi_population_code(in->kpi, i);
        json_int_t count = 0;
        for (size_t j = 0; j < in->n_counts; j++)
            if (strcmp(in->counts[j].population, code) == 0 &&
                strcmp(in->counts[j].stratum, stratum) == 0)
                count = in->counts[j].count;
        if (json_array_append_new(list,
                                  json_pack("{s:{s:[{s:s, s:s}]}, s:I}", "code", "coding", "system",
                                            POPULATION_SYSTEM, "code", code, "count", count)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* Adds measureScore to obj when the stratum has a value. */
static int add_score(const kpid_mr_input *in, const char *stratum, json_t *obj)
{
    for (size_t i = 0; i < in->n_scores; i++) {
        if (strcmp(in->scores[i].stratum, stratum) != 0 || !in->scores[i].has_value)
            continue;
        json_t *q = json_pack("{s:f}", "value", in->scores[i].value);
        if (q && in->kpi->unit && json_object_set_new(q, "unit", json_string(in->kpi->unit)) < 0) {
            json_decref(q);
            q = NULL;
        }
        return q ? json_object_set_new(obj, "measureScore", q) : -1;
    }
    return 0;
}

/* The text of a stratum attribute's value; a missing attribute (JSON null) or a
 * non-string shows as "(missing)". */
static const char *attr_text(json_t *stratum, const char *attr)
{
    const char *s = json_string_value(json_object_get(stratum, attr));
    return s ? s : "(missing)";
}

/* One stratum: value (one attribute) or component[] (several), populations, score. */
static json_t *stratum_json(const kpid_mr_input *in, const char *text)
{
    const kpid_kpi *kpi = in->kpi;
    json_t *parsed = json_loads(text, 0, NULL), *out = json_object();
    int r = json_is_object(parsed) && out ? 0 : -1;

    if (r == 0 && kpi->n_stratify == 1)
        r = json_object_set_new(out, "value", text_concept(attr_text(parsed, kpi->stratify[0])));
    else if (r == 0) {
        json_t *comps = json_array();
        for (size_t i = 0; comps && i < kpi->n_stratify && r == 0; i++)
            r = json_array_append_new(
                comps, json_pack("{s:o, s:o}", "code", text_concept(kpi->stratify[i]), "value",
                                 text_concept(attr_text(parsed, kpi->stratify[i]))));
        r = r == 0 && comps ? json_object_set_new(out, "component", comps) : -1;
    }
    if (r == 0)
        r = json_object_set_new(out, "population", populations(in, text));
    if (r == 0)
        r = add_score(in, text, out);
    json_decref(parsed);
    if (r < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The stratifier: every stratum but {} of the counts and scores, sorted, once each. */
static json_t *stratifier(const kpid_mr_input *in)
{
    const kpid_kpi *kpi = in->kpi;
    size_t n = 0, cap = in->n_counts + in->n_scores;
    const char **strata = calloc(cap ? cap : 1, sizeof(*strata));
    json_t *list = json_array(), *out = NULL;
    char names[KPID_MODEL_STRATIFY_MAX * (KPID_MODEL_ATTR_MAX + 2) + 1] = "";

    if (!strata || !list)
        goto out;
    for (size_t i = 0; i < in->n_counts; i++)
        strata[n++] = in->counts[i].stratum;
    for (size_t i = 0; i < in->n_scores; i++)
        strata[n++] = in->scores[i].stratum;
    qsort(strata, n, sizeof(*strata), cmp_text);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(strata[i], "{}") == 0 || (i > 0 && strcmp(strata[i], strata[i - 1]) == 0))
            continue;
        if (json_array_append_new(list, stratum_json(in, strata[i])) < 0)
            goto out;
    }
    for (size_t i = 0; i < kpi->n_stratify; i++) {
        if (i)
            strcat(names, ", ");
        strcat(names, kpi->stratify[i]);
    }
    /* R4: stratifier.code is 0..*, a list of CodeableConcepts. */
    out = json_pack("{s:[o], s:O}", "code", text_concept(names), "stratum", list);
out:
    json_decref(list);
    free(strata);
    return out;
}

/*
 * The FHIR type of the KPI's members, the code of cqm-populationBasis: "Encounter" for
 * cases, "boolean" for subjects (a subject-based measure: its subject, the patient, is
 * the member), "Resource" for events (of any kind); NULL for a ratio, whose two
 * populations are other KPIs'.
 */
static const char *population_basis(const kpid_kpi *kpi)
{
    switch (kpi->type) {
    case KPID_KPI_PROPORTION:
        switch (kpi->u.proportion.basis) {
        case KPID_BASIS_CASE: return "Encounter";
        case KPID_BASIS_SUBJECT: return "boolean";
        case KPID_BASIS_EVENT: return "Resource";
        }
        return NULL;
    case KPID_KPI_DURATION:
    case KPID_KPI_CENSUS: return "Encounter";
    case KPID_KPI_COUNT:
    case KPID_KPI_VALUE: return "Resource";
    case KPID_KPI_RATIO:
    case KPID_KPI_SQL: return NULL;
    }
    return NULL;
}

/* The measure-scoring code of the KPI's type (docs/kpi-semantics.md). */
static const char *scoring(const kpid_kpi *kpi)
{
    switch (kpi->type) {
    case KPID_KPI_COUNT: return "cohort";
    case KPID_KPI_PROPORTION: return "proportion";
    case KPID_KPI_DURATION:
        return kpi->u.duration.statistic == KPID_STAT_WITHIN ? "proportion" : "continuous-variable";
    case KPID_KPI_VALUE:
    case KPID_KPI_CENSUS:
    case KPID_KPI_SQL: return "continuous-variable";
    case KPID_KPI_RATIO: return "ratio";
    }
    return "continuous-variable";
}

/*
 * The Measure the report is of, to be contained in it: R4 has no populationBasis
 * element, and the extension that states it (cqm-populationBasis) may stand on a
 * Measure, not on a MeasureReport; the report's measure refers to it as "#measure".
 */
static json_t *measure_resource(const kpid_kpi *kpi, const char *url)
{
    const char *basis = population_basis(kpi);
    json_t *m =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:[{s:s, s:s}]}}", "resourceType", "Measure", "id",
                  CONTAINED_MEASURE_ID, "url", url, "status", "active", "title", kpi->name,
                  "scoring", "coding", "system", SCORING_SYSTEM, "code", scoring(kpi));

    if (m && basis &&
        json_object_set_new(
            m, "extension",
            json_pack("[{s:s, s:s}]", "url", POPULATION_BASIS_URL, "valueCode", basis)) < 0) {
        json_decref(m);
        m = NULL;
    }
    return m;
}

json_t *kpid_measure_report(const kpid_mr_input *in)
{
    const kpid_kpi *kpi = in->kpi;
    const kpid_tz *tz = kpi->process->tz;
    char id[FHIR_ID_MAX + 1], start[32], end[32], date[32], *measure = NULL;
    json_t *report = NULL, *group = NULL;

    report_id(kpi, &in->period, id);
    if (rfc3339(tz, in->period.start, start) < 0 || rfc3339(tz, in->period.end, end) < 0 ||
        rfc3339(tz, in->now, date) < 0 || asprintf(&measure, MEASURE_PREFIX "%s", kpi->id) < 0)
        return NULL;
    group = json_pack("{s:o}", "population", populations(in, "{}"));
    if (!group || add_score(in, "{}", group) < 0)
        goto fail;
    if (kpi->n_stratify &&
        json_object_set_new(group, "stratifier", json_pack("[o]", stratifier(in))) < 0)
        goto fail;
    report = json_pack(
        "{s:s, s:s, s:[o], s:s, s:s, s:s, s:s, s:{s:s, s:s},"
        " s:{s:[{s:s, s:s}]}, s:[O]}",
        "resourceType", "MeasureReport", "id", id, "contained", measure_resource(kpi, measure),
        "status", in->now >= in->period.end ? "complete" : "pending", "type", "summary", "measure",
        "#" CONTAINED_MEASURE_ID, "date", date, "period", "start", start, "end", end,
        "improvementNotation", "coding", "system", IMPROVEMENT_SYSTEM, "code",
        kpi->direction == KPID_DIRECTION_HIGHER ? "increase" : "decrease", "group", group);
fail:
    json_decref(group);
    free(measure);
    return report;
}
