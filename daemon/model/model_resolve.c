/*
 * The second pass of the model's parser (model_resolve.h): unique ids, the objective of
 * every KPI, the numerator and denominator of every ratio, and cycles of ratios. It finds
 * the setting of an entry again from its index (see model_parse.c) for its messages.
 */
#include "model/model_resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- references ------------------------------------------------------------------- */

/* The setting an entry was parsed from, found again (see the comment at the top). */
static const config_setting_t *objective_setting(const config_setting_t *root, size_t i)
{
    return config_setting_get_elem(config_setting_get_member(root, "objectives"), (unsigned)i);
}

static const config_setting_t *process_setting(const config_setting_t *root, size_t i)
{
    return config_setting_get_elem(config_setting_get_member(root, "processes"), (unsigned)i);
}

static const config_setting_t *kpi_setting(const kpid_model *m, const config_setting_t *root,
                                           const kpid_kpi *k)
{
    size_t i = (size_t)(k->process - m->processes), j = (size_t)(k - k->process->kpis);
    const config_setting_t *process = process_setting(root, i);

    return config_setting_get_elem(config_setting_get_member(process, "kpis"), (unsigned)j);
}

/* The phrase that names a KPI in messages, as model_kpi.c names it. */
static void kpi_where(const kpid_model *m, const kpid_kpi *k, char where[KPID__MODEL_WHERE_SIZE])
{
    const kpid_process *pr = k->process;

    if (k->id)
        kpid__model_phrase(where, KPID__MODEL_WHERE_SIZE, "KPI \"%s\"", k->id);
    else if (pr->id)
        kpid__model_phrase(where, KPID__MODEL_WHERE_SIZE, "kpis[%zu] of process \"%s\"",
                           (size_t)(k - pr->kpis), pr->id);
    else
        kpid__model_phrase(where, KPID__MODEL_WHERE_SIZE, "kpis[%zu] of processes[%zu]",
                           (size_t)(k - pr->kpis), (size_t)(pr - m->processes));
}

/* Reports that the id of `second` was already used by `first` (both "id" settings). */
static void report_duplicate(kpid__model_parser *p, const char *what, const char *id,
                             const config_setting_t *first, const config_setting_t *second)
{
    char *file = kpid__config_file_name(p->l, config_setting_source_file(first));

    if (!file) {
        kpid__config_oom(p->l);
        return;
    }
    kpid__config_report(p->l, second, "duplicate %s id \"%s\"; it is first defined at %s:%d", what,
                        id, file, config_setting_source_line(first));
    free(file);
}

static void check_duplicates(kpid__model_parser *p, const config_setting_t *root)
{
    const kpid_model *m = p->model;

    for (size_t j = 1; j < m->n_objectives; j++)
        for (size_t i = 0; m->objectives[j].id && i < j; i++)
            if (m->objectives[i].id && strcmp(m->objectives[i].id, m->objectives[j].id) == 0) {
                report_duplicate(p, "objective", m->objectives[j].id,
                                 config_setting_get_member(objective_setting(root, i), "id"),
                                 config_setting_get_member(objective_setting(root, j), "id"));
                break;
            }
    for (size_t j = 1; j < m->n_processes; j++)
        for (size_t i = 0; m->processes[j].id && i < j; i++)
            if (m->processes[i].id && strcmp(m->processes[i].id, m->processes[j].id) == 0) {
                report_duplicate(p, "process", m->processes[j].id,
                                 config_setting_get_member(process_setting(root, i), "id"),
                                 config_setting_get_member(process_setting(root, j), "id"));
                break;
            }
    for (size_t j = 1; j < m->n_kpis; j++)
        for (size_t i = 0; m->kpis[j]->id && i < j; i++)
            if (m->kpis[i]->id && strcmp(m->kpis[i]->id, m->kpis[j]->id) == 0) {
                report_duplicate(p, "KPI", m->kpis[j]->id,
                                 config_setting_get_member(kpi_setting(m, root, m->kpis[i]), "id"),
                                 config_setting_get_member(kpi_setting(m, root, m->kpis[j]), "id"));
                break;
            }
}

static void resolve_objectives(kpid__model_parser *p, const config_setting_t *root)
{
    const kpid_model *m = p->model;

    for (size_t i = 0; i < m->n_kpis; i++) {
        kpid_kpi *k = m->kpis[i];
        char where[KPID__MODEL_WHERE_SIZE], q[KPID__CONFIG_QUOTE_SIZE];
        const char *best = NULL;
        size_t best_distance = SIZE_MAX;

        if (!k->objective_id)
            continue;
        k->objective = kpid_model_find_objective(m, k->objective_id);
        if (k->objective)
            continue;
        for (size_t j = 0; j < m->n_objectives; j++)
            if (m->objectives[j].id)
                kpid__config_suggest(k->objective_id, m->objectives[j].id, &best, &best_distance);
        kpi_where(m, k, where);
        kpid__config_report(p->l, config_setting_get_member(kpi_setting(m, root, k), "objective"),
                            "unknown objective \"%s\" in %s%s%s%s",
                            kpid__config_quote(k->objective_id, q), where,
                            best ? "; did you mean \"" : "", best ? best : "", best ? "\"?" : "");
    }
}

/* Whether two period specs name the same periods (given the same time zone). */
static bool period_equal(const kpid_period_spec *a, const kpid_period_spec *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case KPID_PERIOD_WEEK: return a->first_weekday == b->first_weekday;
    case KPID_PERIOD_FISCAL_YEAR: return a->first_month == b->first_month;
    case KPID_PERIOD_ROLLING: return a->seconds == b->seconds;
    default: return true;
    }
}

/* Resolves one side ("numerator" or "denominator") of ratio k to *ret. */
static void resolve_ratio_side(kpid__model_parser *p, const config_setting_t *root, kpid_kpi *k,
                               const char *key, const char *id, const kpid_kpi **ret)
{
    const kpid_model *m = p->model;
    const config_setting_t *s = config_setting_get_member(kpi_setting(m, root, k), key);
    char where[KPID__MODEL_WHERE_SIZE], q[KPID__CONFIG_QUOTE_SIZE];
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    const kpid_kpi *t;

    if (!id)
        return;
    kpi_where(m, k, where);
    if (k->id && strcmp(id, k->id) == 0) {
        kpid__config_report(p->l, s,
                            "\"%s\" in %s names the KPI itself; a ratio divides two "
                            "other KPIs",
                            key, where);
        return;
    }
    t = kpid_model_find_kpi(m, id);
    if (!t) {
        for (size_t j = 0; j < m->n_kpis; j++)
            if (m->kpis[j]->id && m->kpis[j] != k)
                kpid__config_suggest(id, m->kpis[j]->id, &best, &best_distance);
        kpid__config_report(p->l, s, "unknown KPI \"%s\" for \"%s\" in %s%s%s%s",
                            kpid__config_quote(id, q), key, where, best ? "; did you mean \"" : "",
                            best ? best : "", best ? "\"?" : "");
        return;
    }
    *ret = t;
    if (!k->period_text || !t->period_text)
        return;
    if (!period_equal(&k->period, &t->period))
        kpid__config_report(p->l, s,
                            "the period \"%s\" of %s differs from the period \"%s\" of its %s "
                            "\"%s\"; a ratio and the two KPIs it divides need the same period",
                            k->period_text, where, t->period_text, key, t->id);
    else if (k->period.kind != KPID_PERIOD_ROLLING && k->process->tz && t->process->tz &&
             strcmp(kpid_tz_name(k->process->tz), kpid_tz_name(t->process->tz)) != 0)
        kpid__config_report(p->l, s,
                            "the periods of %s are in time zone \"%s\", those of its %s \"%s\" "
                            "in \"%s\"; a ratio and the two KPIs it divides need the same "
                            "periods, in one time zone",
                            where, kpid_tz_name(k->process->tz), key, t->id,
                            kpid_tz_name(t->process->tz));
}

/* Depth-first search for cycles of ratios; color: 0 unseen, 1 on the path, 2 done. */
typedef struct ratio_walk {
    kpid__model_parser *p;
    const config_setting_t *root;
    unsigned char *color;
    size_t *path;
    size_t depth;
} ratio_walk;

static size_t kpi_index(const kpid_model *m, const kpid_kpi *k)
{
    for (size_t i = 0; i < m->n_kpis; i++)
        if (m->kpis[i] == k)
            return i;
    return SIZE_MAX;
}

static void report_cycle(ratio_walk *w, size_t from, const char *key, size_t to)
{
    const kpid_model *m = w->p->model;
    const kpid_kpi *k = m->kpis[from];
    char where[KPID__MODEL_WHERE_SIZE];
    char *text = NULL;
    size_t size = 0, start = 0;
    FILE *f = open_memstream(&text, &size);

    if (!f) {
        kpid__config_oom(w->p->l);
        return;
    }
    while (w->path[start] != to)
        start++;
    for (size_t i = start; i < w->depth; i++)
        fprintf(f, "%s -> ", m->kpis[w->path[i]]->id);
    fputs(m->kpis[to]->id, f);
    if (fclose(f) != 0) {
        free(text);
        kpid__config_oom(w->p->l);
        return;
    }
    kpi_where(m, k, where);
    kpid__config_report(w->p->l, config_setting_get_member(kpi_setting(m, w->root, k), key),
                        "\"%s\" in %s closes a cycle of ratios: %s", key, where, text);
    free(text);
}

static void ratio_visit(ratio_walk *w, size_t i)
{
    const kpid_model *m = w->p->model;
    const kpid_kpi *k = m->kpis[i];
    const kpid_kpi *sides[2] = {k->u.ratio.numerator_kpi, k->u.ratio.denominator_kpi};
    static const char *const keys[2] = {"numerator", "denominator"};

    w->color[i] = 1;
    w->path[w->depth++] = i;
    for (size_t s = 0; s < 2; s++) {
        size_t j;
        if (!sides[s] || sides[s]->type != KPID_KPI_RATIO ||
            (j = kpi_index(m, sides[s])) == SIZE_MAX)
            continue;
        if (w->color[j] == 1)
            report_cycle(w, i, keys[s], j);
        else if (w->color[j] == 0)
            ratio_visit(w, j);
    }
    w->depth--;
    w->color[i] = 2;
}

static void resolve_ratios(kpid__model_parser *p, const config_setting_t *root)
{
    const kpid_model *m = p->model;
    ratio_walk w = {.p = p, .root = root};

    for (size_t i = 0; i < m->n_kpis; i++) {
        kpid_kpi *k = m->kpis[i];
        if (k->type != KPID_KPI_RATIO)
            continue;
        resolve_ratio_side(p, root, k, "numerator", k->u.ratio.numerator,
                           &k->u.ratio.numerator_kpi);
        resolve_ratio_side(p, root, k, "denominator", k->u.ratio.denominator,
                           &k->u.ratio.denominator_kpi);
    }

    if (m->n_kpis == 0)
        return;
    w.color = calloc(m->n_kpis, sizeof(*w.color));
    w.path = calloc(m->n_kpis, sizeof(*w.path));
    if (!w.color || !w.path)
        kpid__config_oom(p->l);
    else
        for (size_t i = 0; i < m->n_kpis; i++)
            if (m->kpis[i]->type == KPID_KPI_RATIO && w.color[i] == 0)
                ratio_visit(&w, i);
    free(w.color);
    free(w.path);
}

/* ---- the pass ---------------------------------------------------------------------- */

void kpid__model_resolve(kpid__model_parser *p, const config_setting_t *root)
{
    check_duplicates(p, root);
    resolve_objectives(p, root);
    resolve_ratios(p, root);
}
