/*
 * Building the management model from the configuration (model_parse.h): the top-level
 * key recompute_horizon, the lists "objectives" and "processes", and each process's
 * list of KPIs, whose keys model_kpi.c reads.
 *
 * Parsing takes two passes over what libconfig read. The first reads every objective,
 * process and KPI on its own, reports each problem and keeps what it could read; the
 * model's arrays are parallel to the configuration's lists (objectives[i] is element i
 * of "objectives", processes[i].kpis[j] element j of its "kpis"), so the second pass
 * (model_resolve.c), which checks what needs the whole model, finds the setting of any
 * entry again for its messages.
 */
#include "model/model_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "model/model_kpi.h"
#include "model/model_parser.h"
#include "model/model_resolve.h"
#include "text/ident.h"

static const char *const objective_keys[] = {"id", "name", "perspective", NULL};
static const char *const process_keys[] = {
    "id", "name", "category", "owner", "timezone", "schedule", "kpis", NULL,
};

/* The model's keys of the top level (config.c lists them as parsed here). */
static const kpid__key model_keys[] = {
    {.name = "recompute_horizon",
     .type = KPID__KEY_DURATION,
     .default_value = "90d",
     .offset = offsetof(kpid_model, recompute_horizon_ms),
     .min = 0,
     .max = KPID_MODEL_RECOMPUTE_HORIZON_MAX_MS,
     .description = "a changed or new KPI recomputes its periods that end within this much "
                    "before now; 0: none"},
    {.name = NULL},
};

/* ---- objectives ------------------------------------------------------------------- */

static void parse_objective(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                            kpid_objective *o)
{
    char ctx[KPID__MODEL_WHERE_SIZE], q[KPID__CONFIG_QUOTE_SIZE];
    const config_setting_t *s;
    int v;

    kpid__model_place(p, group, &o->file, &o->line);
    kpid__model_phrase(ctx, sizeof(ctx), " in objectives[%u]", index);

    s = kpid__model_member(p, group, "id", ctx, true);
    if (s && kpid__model_get_text(p, s, ctx, false, &o->id) == 0) {
        if (!kpid_ident_id_valid(o->id)) {
            kpid__config_report(p->l, s, "invalid objective id \"%s\"%s: " KPID__MODEL_ID_RULE,
                                kpid__config_quote(o->id, q), ctx);
            free(o->id);
            o->id = NULL;
        } else
            kpid__model_phrase(ctx, sizeof(ctx), " in objective \"%s\"", o->id);
    }
    kpid__config_check_unknown_keys(p->l, group, objective_keys, ctx);

    s = kpid__model_member(p, group, "name", ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, ctx, true, &o->name);

    s = kpid__model_member(p, group, "perspective", ctx, true);
    if (s && kpid__model_get_enum(p, s, ctx, "perspective", &kpid_model_perspectives, &v) == 0)
        o->perspective = (kpid_perspective)v;
}

static void parse_objectives(kpid__model_parser *p, const config_setting_t *root)
{
    const config_setting_t *list = config_setting_get_member(root, "objectives");
    kpid_model *m = p->model;
    int n;

    if (!list || (n = kpid__model_list_length(p, list, "")) <= 0)
        return;
    m->objectives = calloc((size_t)n, sizeof(*m->objectives));
    if (!m->objectives) {
        kpid__config_oom(p->l);
        return;
    }
    m->n_objectives = (size_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(list, (unsigned)i);
        if (kpid__model_elem_is_group(p, group, "objectives", (unsigned)i, ""))
            parse_objective(p, group, (unsigned)i, &m->objectives[i]);
    }
}

/* ---- processes -------------------------------------------------------------------- */

static void parse_kpis(kpid__model_parser *p, const config_setting_t *list, const char *where,
                       kpid_process *pr)
{
    char ctx[KPID__MODEL_WHERE_SIZE + 8];
    int n;

    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);
    if ((n = kpid__model_list_length(p, list, ctx)) <= 0)
        return;
    pr->kpis = calloc((size_t)n, sizeof(*pr->kpis));
    if (!pr->kpis) {
        kpid__config_oom(p->l);
        return;
    }
    pr->n_kpis = (size_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(list, (unsigned)i);
        pr->kpis[i].process = pr;
        if (kpid__model_elem_is_group(p, group, "kpis", (unsigned)i, ctx))
            kpid__model_kpi_parse(p, group, (unsigned)i, where, &pr->kpis[i]);
    }
}

static void parse_timezone(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                           kpid_process *pr)
{
    const char *text;
    char *error = NULL;
    int r;

    if (kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return;
    r = kpid_tz_load(text, &pr->tz, &error);
    if (r == -ENOMEM || (r < 0 && !error))
        kpid__config_oom(p->l);
    else if (r < 0)
        kpid__config_report(p->l, s, "%s%s", error, ctx);
    free(error);
}

static void parse_schedule(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                           kpid_process *pr)
{
    char q[KPID__CONFIG_QUOTE_SIZE], error[256];
    const char *text;

    if (kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return;
    if (kpid_cron_parse(text, &pr->schedule, error, sizeof(error)) < 0) {
        kpid__config_report(p->l, s, "invalid schedule \"%s\"%s: %s", kpid__config_quote(text, q),
                            ctx, error);
        return;
    }
    if (kpid_cron_check(&pr->schedule, error, sizeof(error)) < 0) {
        kpid__config_report(p->l, s, "schedule never fires: \"%s\"%s: %s",
                            kpid__config_quote(text, q), ctx, error);
        return;
    }
    pr->schedule_text = strdup(text);
    if (!pr->schedule_text)
        kpid__config_oom(p->l);
}

static void parse_process(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                          kpid_process *pr)
{
    char ctx[KPID__MODEL_WHERE_SIZE], where[KPID__MODEL_WHERE_SIZE], q[KPID__CONFIG_QUOTE_SIZE];
    const config_setting_t *s;
    int v;

    kpid__model_place(p, group, &pr->file, &pr->line);
    kpid__model_phrase(where, sizeof(where), "processes[%u]", index);
    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);

    s = kpid__model_member(p, group, "id", ctx, true);
    if (s && kpid__model_get_text(p, s, ctx, false, &pr->id) == 0) {
        if (!kpid_ident_id_valid(pr->id)) {
            kpid__config_report(p->l, s, "invalid process id \"%s\"%s: " KPID__MODEL_ID_RULE,
                                kpid__config_quote(pr->id, q), ctx);
            free(pr->id);
            pr->id = NULL;
        } else {
            kpid__model_phrase(where, sizeof(where), "process \"%s\"", pr->id);
            kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);
        }
    }
    kpid__config_check_unknown_keys(p->l, group, process_keys, ctx);

    s = kpid__model_member(p, group, "name", ctx, true);
    if (s)
        (void)kpid__model_get_text(p, s, ctx, true, &pr->name);

    s = kpid__model_member(p, group, "category", ctx, true);
    if (s && kpid__model_get_enum(p, s, ctx, "category", &kpid_model_categories, &v) == 0)
        pr->category = (kpid_process_category)v;

    s = kpid__model_member(p, group, "owner", ctx, false);
    if (s)
        (void)kpid__model_get_text(p, s, ctx, false, &pr->owner);

    s = kpid__model_member(p, group, "timezone", ctx, true);
    if (s)
        parse_timezone(p, s, ctx, pr);

    s = kpid__model_member(p, group, "schedule", ctx, true);
    if (s)
        parse_schedule(p, s, ctx, pr);

    s = kpid__model_member(p, group, "kpis", ctx, false);
    if (s)
        parse_kpis(p, s, where, pr);
}

static void parse_processes(kpid__model_parser *p, const config_setting_t *root)
{
    const config_setting_t *list = config_setting_get_member(root, "processes");
    kpid_model *m = p->model;
    size_t n_kpis = 0;
    int n;

    if (!list || (n = kpid__model_list_length(p, list, "")) <= 0)
        return;
    m->processes = calloc((size_t)n, sizeof(*m->processes));
    if (!m->processes) {
        kpid__config_oom(p->l);
        return;
    }
    m->n_processes = (size_t)n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *group = config_setting_get_elem(list, (unsigned)i);
        if (kpid__model_elem_is_group(p, group, "processes", (unsigned)i, ""))
            parse_process(p, group, (unsigned)i, &m->processes[i]);
        n_kpis += m->processes[i].n_kpis;
    }

    if (n_kpis == 0)
        return;
    m->kpis = calloc(n_kpis, sizeof(kpid_kpi *));
    if (!m->kpis) {
        kpid__config_oom(p->l);
        return;
    }
    for (size_t i = 0; i < m->n_processes; i++)
        for (size_t j = 0; j < m->processes[i].n_kpis; j++)
            m->kpis[m->n_kpis++] = &m->processes[i].kpis[j];
}

/* ---- the model -------------------------------------------------------------------- */

kpid_model *kpid__model_parse(kpid__loader *l, const config_setting_t *root)
{
    kpid__model_parser p = {.l = l};

    p.model = calloc(1, sizeof(*p.model));
    if (!p.model) {
        kpid__config_oom(l);
        return NULL;
    }
    kpid__keys_read(l, root, model_keys, p.model, "", NULL);
    parse_objectives(&p, root);
    parse_processes(&p, root);
    kpid__model_resolve(&p, root);
    return p.model;
}
