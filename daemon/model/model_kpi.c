/*
 * The keys of one KPI (model_kpi.h): the keys every KPI has, its bands and stratifiers;
 * its filters are read by model_filter.c, the keys of its type by model_kpi_type.c. A
 * key is known exactly when it is listed in common_keys or among the keys of the KPI's
 * type; the others are reported with the closest known key. References to the objective
 * and to other KPIs are kept as ids here and resolved by model_resolve.c once every KPI
 * is read. Attribute names are checked against their pattern, so that the compiler may
 * treat them as identifiers of a known shape.
 */
#include "model/model_kpi.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_filter.h"
#include "model/model_kpi_type.h"
#include "text/ident.h"

#define COMMON_KEYS 12
#define KEYS_MAX (COMMON_KEYS + KPID__MODEL_TYPE_KEYS_MAX + 1) /* NULL included */

static const char *const common_keys[COMMON_KEYS + 1] = {
    "id",        "name",   "unit",  "type",    "period",   "target", "direction",
    "objective", "weight", "bands", "filters", "stratify", NULL,
};
static const char *const band_keys[] = {"from", "to", "status", NULL};

/* What a KPI is called in messages while it is parsed. */
typedef struct kpi_names {
    char where[KPID__MODEL_WHERE_SIZE];   /* KPI "x" */
    char ctx[KPID__MODEL_WHERE_SIZE + 8]; /* " in KPI \"x\"" */
} kpi_names;

static void names_set(kpi_names *names, const char *where)
{
    kpid__model_phrase(names->where, sizeof(names->where), "%s", where);
    kpid__model_phrase(names->ctx, sizeof(names->ctx), " in %s", names->where);
}

/* ---- bands and stratifiers -------------------------------------------------------- */

/* One band; returns whether from and to are usable for the contiguity checks. */
static bool parse_band(kpid__model_parser *p, const config_setting_t *group, const char *where,
                       kpid_band *b)
{
    char ctx[KPID__MODEL_WHERE_SIZE + 24];
    const config_setting_t *s;
    bool ok = true;
    int v;

    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);
    kpid__model_place(p, group, &b->file, &b->line);
    kpid__config_check_unknown_keys(p->l, group, band_keys, ctx);
    b->from = -INFINITY;
    b->to = INFINITY;
    if ((s = config_setting_get_member(group, "from")) &&
        kpid__model_get_number(p, s, ctx, &b->from) < 0)
        ok = false;
    if ((s = config_setting_get_member(group, "to")) &&
        kpid__model_get_number(p, s, ctx, &b->to) < 0)
        ok = false;
    s = kpid__model_member(p, group, "status", ctx, true);
    if (s && kpid__model_get_enum(p, s, ctx, "status", &kpid_model_statuses, &v) == 0)
        b->status = (kpid_status)v;
    if (ok && b->from >= b->to) {
        kpid__config_report(p->l, group, "%s runs from %g to %g: \"from\" must be less than \"to\"",
                            where, b->from, b->to);
        ok = false;
    }
    return ok;
}

/*
 * The bands must be sorted by from and contiguous: the first may start at -infinity,
 * the last end at +infinity, and every other band starts where the previous one ends.
 * When they are out of order only that is reported: gaps and overlaps would follow
 * from it.
 */
static void parse_bands(kpid__model_parser *p, const config_setting_t *s, const kpi_names *names,
                        kpid_kpi *kpi)
{
    char where[KPID__MODEL_WHERE_SIZE + 16];
    bool *ok, sorted = true;
    int n;

    if ((n = kpid__model_list_length(p, s, names->ctx)) <= 0)
        return;
    kpi->bands = calloc((size_t)n, sizeof(*kpi->bands));
    ok = calloc((size_t)n, sizeof(*ok));
    if (!kpi->bands || !ok) {
        free(ok);
        kpid__config_oom(p->l);
        return;
    }
    kpi->n_bands = (size_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(s, (unsigned)i);
        if (!kpid__model_elem_is_group(p, group, "bands", (unsigned)i, names->ctx))
            continue;
        kpid__model_phrase(where, sizeof(where), "bands[%d] of %s", i, names->where);
        ok[i] = parse_band(p, group, where, &kpi->bands[i]);
    }

    for (int i = 0, prev = -1; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(s, (unsigned)i);
        const kpid_band *b = &kpi->bands[i];
        if (!ok[i])
            continue;
        kpid__model_phrase(where, sizeof(where), "bands[%d] of %s", i, names->where);
        if (i > 0 && b->from == -INFINITY)
            kpid__config_report(p->l, group, "%s has no \"from\": only the first band may omit it",
                                where);
        if (i < n - 1 && b->to == INFINITY)
            kpid__config_report(p->l, group, "%s has no \"to\": only the last band may omit it",
                                where);
        if (prev >= 0 && b->from != -INFINITY && b->from < kpi->bands[prev].from) {
            kpid__config_report(p->l, group,
                                "%s starts at %g, before bands[%d], which starts at %g: list the "
                                "bands sorted by \"from\"",
                                where, b->from, prev, kpi->bands[prev].from);
            sorted = false;
        }
        if (b->from != -INFINITY)
            prev = i;
    }

    for (int i = 1; sorted && i < n; i++) {
        const kpid_band *a = &kpi->bands[i - 1], *b = &kpi->bands[i];
        if (!ok[i - 1] || !ok[i] || a->to == INFINITY || b->from == -INFINITY || b->from == a->to)
            continue;
        kpid__model_phrase(where, sizeof(where), "bands[%d] of %s", i, names->where);
        kpid__config_report(p->l, config_setting_get_elem(s, (unsigned)i),
                            "%s starts at %g, but bands[%d] ends at %g: %s", where, b->from, i - 1,
                            a->to, b->from > a->to ? "the bands leave a gap" : "the bands overlap");
    }
    free(ok);
}

static void parse_stratify(kpid__model_parser *p, const config_setting_t *s, const kpi_names *names,
                           kpid_kpi *kpi)
{
    char q[KPID__CONFIG_QUOTE_SIZE];
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        kpid__config_report_type(p->l, s, names->ctx, "an array of attribute names");
        return;
    }
    if (n > KPID_MODEL_STRATIFY_MAX) {
        kpid__config_report(p->l, s, "\"stratify\"%s lists %d attributes; at most %d are allowed",
                            names->ctx, n, KPID_MODEL_STRATIFY_MAX);
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char ctx[KPID__MODEL_WHERE_SIZE + 32];
        char *attr = NULL;
        bool duplicate = false;

        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            kpid__config_report(p->l, e, "wrong type for stratify[%d]%s: expected a string, got %s",
                                i, names->ctx, kpid__config_type_name(config_setting_type(e)));
            continue;
        }
        kpid__model_phrase(ctx, sizeof(ctx), " in stratify[%d] of %s", i, names->where);
        if (kpid__model_get_attr(p, e, ctx, &attr) < 0)
            continue;
        for (size_t j = 0; j < kpi->n_stratify; j++)
            duplicate = duplicate || strcmp(kpi->stratify[j], attr) == 0;
        if (duplicate) {
            kpid__config_report(p->l, e, "duplicate attribute \"%s\"%s",
                                kpid__config_quote(attr, q), ctx);
            free(attr);
            continue;
        }
        kpi->stratify[kpi->n_stratify++] = attr;
    }
}

/* ---- one KPI ---------------------------------------------------------------------- */

/* The known keys of a KPI of type (-1: of any type) into keys, NULL-terminated. */
static void known_keys(int type, const char *keys[KEYS_MAX])
{
    size_t n = 0;

    for (size_t i = 0; common_keys[i]; i++)
        keys[n++] = common_keys[i];
    kpid__model_type_keys(type, keys, &n);
    keys[n] = NULL;
}

void kpid__model_kpi_parse(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                           const char *where, kpid_kpi *kpi)
{
    char q[KPID__CONFIG_QUOTE_SIZE], error[256], unknown_ctx[KPID__MODEL_WHERE_SIZE + 32];
    char phrase[KPID__MODEL_WHERE_SIZE];
    const char *keys[KEYS_MAX], *text;
    const config_setting_t *s;
    kpi_names names;
    int type = -1, v;

    kpid__model_place(p, group, &kpi->file, &kpi->line);
    kpid__model_phrase(phrase, sizeof(phrase), "kpis[%u] of %s", index, where);
    names_set(&names, phrase);

    s = kpid__model_member(p, group, "id", names.ctx, true);
    if (s && kpid__model_get_text(p, s, names.ctx, false, &kpi->id) == 0) {
        if (!kpid_ident_id_valid(kpi->id)) {
            kpid__config_report(p->l, s, "invalid KPI id \"%s\"%s: " KPID__MODEL_ID_RULE,
                                kpid__config_quote(kpi->id, q), names.ctx);
            free(kpi->id);
            kpi->id = NULL;
        } else {
            kpid__model_phrase(phrase, sizeof(phrase), "KPI \"%s\"", kpi->id);
            names_set(&names, phrase);
        }
    }

    s = kpid__model_member(p, group, "name", names.ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, names.ctx, true, &kpi->name);
    s = config_setting_get_member(group, "unit");
    if (s)
        (void)kpid__model_get_text(p, s, names.ctx, false, &kpi->unit);

    s = kpid__model_member(p, group, "type", names.ctx, true);
    if (s && kpid__model_get_enum(p, s, names.ctx, "type", &kpid_model_kpi_types, &v) == 0)
        kpi->type = (kpid_kpi_type)(type = v);
    known_keys(type, keys);
    kpid__model_phrase(
        unknown_ctx, sizeof(unknown_ctx), "%s%s%s%s", names.ctx, type >= 0 ? " of type \"" : "",
        type >= 0 ? kpid_name_of(&kpid_model_kpi_types, type) : "", type >= 0 ? "\"" : "");
    kpid__config_check_unknown_keys(p->l, group, keys, unknown_ctx);

    s = kpid__model_member(p, group, "period", names.ctx, true);
    if (s && kpid__config_get_string(p->l, s, names.ctx, &text) == 0) {
        if (kpid_period_parse(text, &kpi->period, error, sizeof(error)) < 0)
            kpid__config_report(p->l, s, "invalid period%s: %s", names.ctx, error);
        else if (!(kpi->period_text = strdup(text)))
            kpid__config_oom(p->l);
    }

    /* Without a known type nobody can tell whether the target is required. */
    s = kpid__model_member(p, group, "target", names.ctx, type >= 0 && type != KPID_KPI_COUNT);
    if (s && kpid__model_get_number(p, s, names.ctx, &kpi->target) == 0)
        kpi->has_target = true;

    s = kpid__model_member(p, group, "direction", names.ctx, true);
    if (s && kpid__model_get_enum(p, s, names.ctx, "direction", &kpid_model_directions, &v) == 0)
        kpi->direction = (kpid_direction)v;

    s = kpid__model_member(p, group, "objective", names.ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, names.ctx, false, &kpi->objective_id);

    kpi->weight = 1;
    kpid__model_get_positive(p, group, "weight", names.ctx, &kpi->weight);

    if ((s = config_setting_get_member(group, "bands")))
        parse_bands(p, s, &names, kpi);
    if ((s = config_setting_get_member(group, "filters")))
        kpid__model_filters_parse(p, s, names.where, &kpi->filters, &kpi->n_filters);
    if ((s = config_setting_get_member(group, "stratify")))
        parse_stratify(p, s, &names, kpi);

    kpid__model_kpi_type_parse(p, group, type, names.where, names.ctx, kpi);
}
