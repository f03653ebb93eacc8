/* The warnings about activities no source produces (model_check.h). */
#include "model/model_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a check looks at. */
typedef struct check_ctx {
    const kpid_source_config *sources;
    size_t n_sources;
} check_ctx;

/* True when some source may produce activity. */
static bool produced(const check_ctx *cx, const char *activity)
{
    for (size_t i = 0; i < cx->n_sources; i++) {
        const kpid_source_config *sc = &cx->sources[i];
        if (!sc->has_activities)
            return true;
        for (size_t j = 0; j < sc->n_activities; j++)
            if (strcmp(sc->activities[j], activity) == 0)
                return true;
    }
    return false;
}

/* The group of KPI k of process p in the configuration, or NULL. A loaded model holds
 * every process and KPI in configuration order, so the indexes are the same. */
static const config_setting_t *kpi_group(const config_setting_t *root, size_t p, size_t k)
{
    const config_setting_t *s = config_setting_get_member(root, "processes");
    s = s ? config_setting_get_elem(s, (unsigned)p) : NULL;
    s = s ? config_setting_get_member(s, "kpis") : NULL;
    return s ? config_setting_get_elem(s, (unsigned)k) : NULL;
}

/* Writes one warning when activity, at key of group (line fallback when not found), is
 * produced by no source. */
static void check(FILE *out, const check_ctx *cx, const kpid_kpi *kpi,
                  const config_setting_t *group, const char *key, const char *activity,
                  const char *file, int fallback)
{
    const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;

    if (!activity || produced(cx, activity))
        return;
    fprintf(out, "%s:%d: warning: KPI \"%s\" uses activity \"%s\", which no source produces: %s\n",
            file, s ? (int)config_setting_source_line(s) : fallback, kpi->id, activity,
            cx->n_sources == 0 ? "no source is configured"
                               : "every source lists its \"activities\" and none lists it");
}

static void check_kpi(FILE *out, const check_ctx *cx, const kpid_kpi *kpi,
                      const config_setting_t *g)
{
    switch (kpi->type) {
    case KPID_KPI_COUNT:
        check(out, cx, kpi, g, "activity", kpi->u.count.activity, kpi->file, kpi->line);
        break;
    case KPID_KPI_VALUE:
        check(out, cx, kpi, g, "activity", kpi->u.value.activity, kpi->file, kpi->line);
        break;
    case KPID_KPI_DURATION:
        check(out, cx, kpi, g, "from", kpi->u.duration.from, kpi->file, kpi->line);
        check(out, cx, kpi, g, "to", kpi->u.duration.to, kpi->file, kpi->line);
        break;
    case KPID_KPI_CENSUS:
        check(out, cx, kpi, g, "from", kpi->u.census.from, kpi->file, kpi->line);
        check(out, cx, kpi, g, "to", kpi->u.census.to, kpi->file, kpi->line);
        break;
    case KPID_KPI_PROPORTION:
        for (int pop = 0; pop < KPID_POP_COUNT; pop++) {
            const kpid_condition *c = &kpi->u.proportion.populations[pop];
            const config_setting_t *cg =
                g ? config_setting_get_member(g, kpid_population_name((kpid_population)pop)) : NULL;
            if (c->present)
                check(out, cx, kpi, cg, "activity", c->activity, c->file, c->line);
        }
        break;
    case KPID_KPI_RATIO: /* other KPIs' activities are checked there */
    case KPID_KPI_SQL: /* the operator's query: its activities are not known */ break;
    }
}

int kpid_model_check_activities(const kpid_model *model, const kpid_source_config *sources,
                                size_t n_sources, const config_setting_t *root, char **ret_warnings)
{
    const check_ctx ctx = {.sources = sources, .n_sources = n_sources};
    const kpid_model *m = model;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);

    if (!out)
        return -ENOMEM;
    for (size_t p = 0; m && p < m->n_processes; p++)
        for (size_t k = 0; k < m->processes[p].n_kpis; k++)
            check_kpi(out, &ctx, &m->processes[p].kpis[k], kpi_group(root, p, k));
    if (fclose(out) != 0) {
        free(text);
        return -ENOMEM;
    }
    if (size == 0) {
        free(text);
        text = NULL;
    }
    *ret_warnings = text;
    return 0;
}
