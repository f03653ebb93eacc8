/*
 * The management model (model.h): parsing the top-level lists "objectives" and
 * "processes" of the configuration, checking the references between their entries,
 * lookups and freeing. The keys of one KPI are parsed in model_kpi.c.
 *
 * Parsing takes two passes over what libconfig read. The first reads every objective,
 * process and KPI on its own, reports each problem and keeps what it could read; the
 * model's arrays are parallel to the configuration's lists (objectives[i] is element i
 * of "objectives", processes[i].kpis[j] element j of its "kpis"), so the second pass
 * finds the setting of any entry again for its messages. The second pass checks what
 * needs the whole model: unique ids (KPI ids across all processes), the objective of
 * every KPI, and the numerator and denominator of every ratio: they exist, are not the
 * ratio itself, have its period in the same time zone, and no chain of ratios leads
 * back to where it started.
 */
#include "model/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "model/model_kpi.h"

#define ID_RULE "use a lowercase letter followed by up to 62 lowercase letters, digits or _"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const objective_keys[] = {"id", "name", "perspective", NULL};
static const char *const process_keys[] = {
    "id", "name", "category", "owner", "timezone", "schedule", "kpis", NULL,
};

/* Configuration names, indexed by enum value. */
static const char *const perspective_names[] = {"financial", "patient", "internal", "learning",
                                                NULL};
static const char *const category_names[] = {"main", "supporting", "development",
                                             "management", NULL};
static const char *const statistic_names[] = {"avg", "median", "p",      "min",
                                              "max", "sum",    "within", "case_days"};
const char *const kpid__model_type_names[] = {
    "count", "proportion", "duration", "value", "census", "ratio", "sql", NULL,
};
const char *const kpid__model_direction_names[] = {"higher", "lower", NULL};
const char *const kpid__model_status_names[] = {"green", "amber", "red", NULL};
const char *const kpid__model_count_names[] = {"events", "cases", "subjects", NULL};
const char *const kpid__model_link_names[] = {"case", "subject", NULL};
const char *const kpid__model_basis_names[] = {"case", "subject", "event", NULL};
const char *const kpid__model_population_keys[] = {
    "population", "denominator", "denominator_exclusion", "numerator", "numerator_exclusion",
    NULL,
};

_Static_assert(N_ELEMS(perspective_names) == KPID_PERSPECTIVE_LEARNING + 2, "perspectives");
_Static_assert(N_ELEMS(category_names) == KPID_CATEGORY_MANAGEMENT + 2, "categories");
_Static_assert(N_ELEMS(statistic_names) == KPID_STAT_CASE_DAYS + 1, "statistics");
_Static_assert(N_ELEMS(kpid__model_type_names) == KPID_KPI_SQL + 2, "types");
_Static_assert(N_ELEMS(kpid__model_direction_names) == KPID_DIRECTION_LOWER + 2, "directions");
_Static_assert(N_ELEMS(kpid__model_status_names) == KPID_STATUS_RED + 2, "statuses");
_Static_assert(N_ELEMS(kpid__model_count_names) == KPID_COUNT_SUBJECTS + 2, "count kinds");
_Static_assert(N_ELEMS(kpid__model_link_names) == KPID_LINK_SUBJECT + 2, "links");
_Static_assert(N_ELEMS(kpid__model_basis_names) == KPID_BASIS_EVENT + 2, "bases");
_Static_assert(N_ELEMS(kpid__model_population_keys) == KPID_POP_COUNT + 1, "populations");

/* ---- helpers shared with model_kpi.c ------------------------------------------------ */

const char *kpid__model_quote(const char *s, char out[KPID__MODEL_QUOTE_SIZE])
{
    size_t i = 0;

    for (; i < 64 && s[i]; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    strcpy(out + i, s[i] ? "..." : "");
    return out;
}

void kpid__model_phrase(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

bool kpid__model_id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KPID_MODEL_ID_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

void kpid__model_place(kpid__model_parser *p, const config_setting_t *s, const char **ret_file,
                       int *ret_line)
{
    kpid_model *m = p->model;
    char *name = kpid__config_file_name(p->l, config_setting_source_file(s));
    char **grown;

    *ret_line = config_setting_source_line(s);
    *ret_file = NULL;
    if (!name) {
        kpid__config_oom(p->l);
        return;
    }
    for (size_t i = 0; i < m->n_files; i++)
        if (strcmp(m->files[i], name) == 0) {
            free(name);
            *ret_file = m->files[i];
            return;
        }
    grown = realloc(m->files, (m->n_files + 1) * sizeof(*grown));
    if (!grown) {
        free(name);
        kpid__config_oom(p->l);
        return;
    }
    m->files = grown;
    m->files[m->n_files++] = name;
    *ret_file = name;
}

const config_setting_t *kpid__model_member(kpid__model_parser *p, const config_setting_t *group,
                                           const char *key, const char *ctx, bool required)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (!s && required)
        kpid__config_report(p->l, group, "missing required key \"%s\"%s", key, ctx);
    return s;
}

int kpid__model_get_text(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         bool nonempty, char **ret)
{
    const char *text;
    int r = kpid__config_get_string(p->l, s, ctx, &text);

    if (r < 0)
        return r;
    if (nonempty && text[0] == '\0') {
        kpid__config_report(p->l, s, "\"%s\"%s must not be empty", config_setting_name(s), ctx);
        return -EINVAL;
    }
    *ret = strdup(text);
    if (!*ret) {
        kpid__config_oom(p->l);
        return -ENOMEM;
    }
    return 0;
}

int kpid__model_get_enum(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         const char *what, const char *const *names, int *ret)
{
    char q[KPID__MODEL_QUOTE_SIZE], use[256];
    const char *text;
    size_t n = 0, len = 0;

    if (kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return -EINVAL;
    for (n = 0; names[n]; n++)
        if (strcmp(text, names[n]) == 0) {
            *ret = (int)n;
            return 0;
        }
    use[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof(use); i++)
        len += (size_t)snprintf(use + len, sizeof(use) - len, "%s%s",
                                i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
    kpid__config_report(p->l, s, "invalid %s \"%s\"%s: use %s", what, kpid__model_quote(text, q),
                        ctx, use);
    return -EINVAL;
}

int kpid__model_list_length(kpid__model_parser *p, const config_setting_t *s, const char *ctx)
{
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_LIST &&
        !(config_setting_type(s) == CONFIG_TYPE_ARRAY && n == 0)) {
        kpid__config_report_type(p->l, s, ctx, "a list of groups");
        return -1;
    }
    return n;
}

bool kpid__model_elem_is_group(kpid__model_parser *p, const config_setting_t *elem,
                               const char *name, unsigned i, const char *ctx)
{
    if (config_setting_type(elem) == CONFIG_TYPE_GROUP)
        return true;
    kpid__config_report(p->l, elem, "wrong type for %s[%u]%s: expected a group, got %s", name, i,
                        ctx, kpid__config_type_name(config_setting_type(elem)));
    return false;
}

/* ---- objectives ------------------------------------------------------------------- */

static void parse_objective(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                            kpid_objective *o)
{
    char ctx[KPID__MODEL_WHERE_SIZE], q[KPID__MODEL_QUOTE_SIZE];
    const config_setting_t *s;
    int v;

    kpid__model_place(p, group, &o->file, &o->line);
    kpid__model_phrase(ctx, sizeof(ctx), " in objectives[%u]", index);

    s = kpid__model_member(p, group, "id", ctx, true);
    if (s && kpid__model_get_text(p, s, ctx, false, &o->id) == 0) {
        if (!kpid__model_id_valid(o->id)) {
            kpid__config_report(p->l, s, "invalid objective id \"%s\"%s: " ID_RULE,
                                kpid__model_quote(o->id, q), ctx);
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
    if (s && kpid__model_get_enum(p, s, ctx, "perspective", perspective_names, &v) == 0)
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
    char q[KPID__MODEL_QUOTE_SIZE], error[256];
    const char *text;

    if (kpid__config_get_string(p->l, s, ctx, &text) < 0)
        return;
    if (kpid_cron_parse(text, &pr->schedule, error, sizeof(error)) < 0) {
        kpid__config_report(p->l, s, "invalid schedule \"%s\"%s: %s", kpid__model_quote(text, q),
                            ctx, error);
        return;
    }
    if (kpid_cron_check(&pr->schedule, error, sizeof(error)) < 0) {
        kpid__config_report(p->l, s, "schedule never fires: \"%s\"%s: %s",
                            kpid__model_quote(text, q), ctx, error);
        return;
    }
    pr->schedule_text = strdup(text);
    if (!pr->schedule_text)
        kpid__config_oom(p->l);
}

static void parse_process(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                          kpid_process *pr)
{
    char ctx[KPID__MODEL_WHERE_SIZE], where[KPID__MODEL_WHERE_SIZE], q[KPID__MODEL_QUOTE_SIZE];
    const config_setting_t *s;
    int v;

    kpid__model_place(p, group, &pr->file, &pr->line);
    kpid__model_phrase(where, sizeof(where), "processes[%u]", index);
    kpid__model_phrase(ctx, sizeof(ctx), " in %s", where);

    s = kpid__model_member(p, group, "id", ctx, true);
    if (s && kpid__model_get_text(p, s, ctx, false, &pr->id) == 0) {
        if (!kpid__model_id_valid(pr->id)) {
            kpid__config_report(p->l, s, "invalid process id \"%s\"%s: " ID_RULE,
                                kpid__model_quote(pr->id, q), ctx);
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
    if (s && kpid__model_get_enum(p, s, ctx, "category", category_names, &v) == 0)
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
    m->kpis = calloc(n_kpis, sizeof(*m->kpis));
    if (!m->kpis) {
        kpid__config_oom(p->l);
        return;
    }
    for (size_t i = 0; i < m->n_processes; i++)
        for (size_t j = 0; j < m->processes[i].n_kpis; j++)
            m->kpis[m->n_kpis++] = &m->processes[i].kpis[j];
}

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
    kpid__config_report(p->l, second, "duplicate %s id \"%s\"; it is first defined at %s:%d",
                        what, id, file, config_setting_source_line(first));
    free(file);
}

static void check_duplicates(kpid__model_parser *p, const config_setting_t *root)
{
    const kpid_model *m = p->model;

    for (size_t j = 1; j < m->n_objectives; j++)
        for (size_t i = 0; m->objectives[j].id && i < j; i++)
            if (m->objectives[i].id && strcmp(m->objectives[i].id, m->objectives[j].id) == 0) {
                report_duplicate(
                    p, "objective", m->objectives[j].id,
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
        char where[KPID__MODEL_WHERE_SIZE], q[KPID__MODEL_QUOTE_SIZE];
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
        kpid__config_report(p->l,
                            config_setting_get_member(kpi_setting(m, root, k), "objective"),
                            "unknown objective \"%s\" in %s%s%s%s",
                            kpid__model_quote(k->objective_id, q), where,
                            best ? "; did you mean \"" : "", best ? best : "", best ? "\"?" : "");
    }
}

/* Whether two period specs name the same periods (given the same time zone). */
static bool period_equal(const kpid_period_spec *a, const kpid_period_spec *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case KPID_PERIOD_WEEK:
        return a->first_weekday == b->first_weekday;
    case KPID_PERIOD_FISCAL_YEAR:
        return a->first_month == b->first_month;
    case KPID_PERIOD_ROLLING:
        return a->seconds == b->seconds;
    default:
        return true;
    }
}

/* Resolves one side ("numerator" or "denominator") of ratio k to *ret. */
static void resolve_ratio_side(kpid__model_parser *p, const config_setting_t *root, kpid_kpi *k,
                               const char *key, const char *id, const kpid_kpi **ret)
{
    const kpid_model *m = p->model;
    const config_setting_t *s = config_setting_get_member(kpi_setting(m, root, k), key);
    char where[KPID__MODEL_WHERE_SIZE], q[KPID__MODEL_QUOTE_SIZE];
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    const kpid_kpi *t;

    if (!id)
        return;
    kpi_where(m, k, where);
    if (k->id && strcmp(id, k->id) == 0) {
        kpid__config_report(p->l, s, "\"%s\" in %s names the KPI itself; a ratio divides two "
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
                            kpid__model_quote(id, q), key, where,
                            best ? "; did you mean \"" : "", best ? best : "", best ? "\"?" : "");
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

/* ---- the model ------------------------------------------------------------------- */

/* recompute_horizon: how far back a changed definition recomputes; default 90 days. */
static void parse_recompute_horizon(kpid__model_parser *p, const config_setting_t *root)
{
    const config_setting_t *s = config_setting_get_member(root, "recompute_horizon");

    p->model->recompute_horizon_ms = KPID_MODEL_RECOMPUTE_HORIZON_DEFAULT_MS;
    if (s)
        (void)kpid__config_get_duration(p->l, s, "", 0, KPID_MODEL_RECOMPUTE_HORIZON_MAX_MS,
                                        &p->model->recompute_horizon_ms);
}

kpid_model *kpid__model_parse(struct kpid__loader *l, const config_setting_t *root)
{
    kpid__model_parser p = {.l = l};

    p.model = calloc(1, sizeof(*p.model));
    if (!p.model) {
        kpid__config_oom(l);
        return NULL;
    }
    parse_recompute_horizon(&p, root);
    parse_objectives(&p, root);
    parse_processes(&p, root);
    check_duplicates(&p, root);
    resolve_objectives(&p, root);
    resolve_ratios(&p, root);
    return p.model;
}

kpid_model *kpid_model_free(kpid_model *model)
{
    if (!model)
        return NULL;
    for (size_t i = 0; i < model->n_objectives; i++) {
        free(model->objectives[i].id);
        free(model->objectives[i].name);
    }
    free(model->objectives);
    for (size_t i = 0; i < model->n_processes; i++) {
        kpid_process *pr = &model->processes[i];
        for (size_t j = 0; j < pr->n_kpis; j++)
            kpid__model_kpi_clear(&pr->kpis[j]);
        free(pr->kpis);
        free(pr->id);
        free(pr->name);
        free(pr->owner);
        kpid_tz_free(pr->tz);
        free(pr->schedule_text);
    }
    free(model->processes);
    free(model->kpis);
    for (size_t i = 0; i < model->n_files; i++)
        free(model->files[i]);
    free(model->files);
    free(model);
    return NULL;
}

const kpid_kpi *kpid_model_find_kpi(const kpid_model *model, const char *id)
{
    for (size_t i = 0; model && id && i < model->n_kpis; i++)
        if (model->kpis[i]->id && strcmp(model->kpis[i]->id, id) == 0)
            return model->kpis[i];
    return NULL;
}

const kpid_objective *kpid_model_find_objective(const kpid_model *model, const char *id)
{
    for (size_t i = 0; model && id && i < model->n_objectives; i++)
        if (model->objectives[i].id && strcmp(model->objectives[i].id, id) == 0)
            return &model->objectives[i];
    return NULL;
}

const kpid_process *kpid_model_find_process(const kpid_model *model, const char *id)
{
    for (size_t i = 0; model && id && i < model->n_processes; i++)
        if (model->processes[i].id && strcmp(model->processes[i].id, id) == 0)
            return &model->processes[i];
    return NULL;
}

static const char *name_of(const char *const *names, size_t n, int value)
{
    return value >= 0 && (size_t)value < n && names[value] ? names[value] : "?";
}

#define NAME_OF(names, value) name_of(names, N_ELEMS(names), (int)(value))

const char *kpid_perspective_name(kpid_perspective perspective)
{
    return NAME_OF(perspective_names, perspective);
}

const char *kpid_process_category_name(kpid_process_category category)
{
    return NAME_OF(category_names, category);
}

const char *kpid_kpi_type_name(kpid_kpi_type type)
{
    return NAME_OF(kpid__model_type_names, type);
}

const char *kpid_direction_name(kpid_direction direction)
{
    return NAME_OF(kpid__model_direction_names, direction);
}

const char *kpid_status_name(kpid_status status)
{
    return NAME_OF(kpid__model_status_names, status);
}

const char *kpid_count_kind_name(kpid_count_kind kind)
{
    return NAME_OF(kpid__model_count_names, kind);
}

const char *kpid_statistic_name(kpid_statistic statistic)
{
    return NAME_OF(statistic_names, statistic);
}

const char *kpid_link_name(kpid_link link)
{
    return NAME_OF(kpid__model_link_names, link);
}

const char *kpid_basis_name(kpid_basis basis)
{
    return NAME_OF(kpid__model_basis_names, basis);
}

const char *kpid_population_name(kpid_population population)
{
    return NAME_OF(kpid__model_population_keys, population);
}
