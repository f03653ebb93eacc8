/* Reads and checks the mapping rules of a source's configuration (docs/hl7-mapping.md). */
#include "hl7/map.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "buf/buf.h"
#include "hl7/map_private.h"
#include "text/ident.h"

/* Failure with a FILE:LINE message about setting s; returns -EINVAL (or -ENOMEM). */
__attribute__((format(printf, 3, 4))) static int fail(char **ret_error, const config_setting_t *s,
                                                      const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *file = config_setting_source_file(s);
    int n = asprintf(ret_error, "%s:%u: %s", file ? file : "(config)",
                     config_setting_source_line(s), what);
    if (n < 0) {
        *ret_error = NULL;
        return -ENOMEM;
    }
    return -EINVAL;
}

static int compile_path(const config_setting_t *s, const char *text, const char *foreach,
                        kpid__hl7_map_path *ret, char **ret_error)
{
    const char *why = NULL;

    if (kpid_hl7_path_parse(text, &ret->path, &why) < 0)
        return fail(ret_error, s, "\"%.64s\" is not an HL7 path: %s (e.g. PV1-3.1, OBX[2]-5)", text,
                    why ? why : "invalid");
    /* A path names the visited occurrence when it names foreach's segment without [n]. */
    const char *bracket = strchr(text, '[');
    const char *dash = strchr(text, '-');
    ret->at_visit = foreach[0] && strcmp(ret->path.segment, foreach) == 0 &&
                    !(bracket && dash && bracket < dash);
    if (!(ret->text = strdup(text)))
        return -ENOMEM;
    return 0;
}

/* A string setting, or an array/list of strings, into a freshly allocated array. */
static int string_list(const config_setting_t *s, char ***ret, size_t *ret_n, size_t max,
                       char **ret_error)
{
    int type = config_setting_type(s);
    size_t n = type == CONFIG_TYPE_STRING ? 1 : (size_t)config_setting_length(s);
    char **v;

    if (type != CONFIG_TYPE_STRING && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return fail(ret_error, s, "%s must be a string or a list of strings",
                    config_setting_name(s) ? config_setting_name(s) : "value");
    if (n == 0 || n > max)
        return fail(ret_error, s, "%s needs 1 to %zu strings",
                    config_setting_name(s) ? config_setting_name(s) : "value", max);
    if (!(v = calloc(n, sizeof(*v))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *str = type == CONFIG_TYPE_STRING ? config_setting_get_string(s)
                                                     : config_setting_get_string_elem(s, (int)i);
        if (!str) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return fail(ret_error, s, "%s must hold strings only",
                        config_setting_name(s) ? config_setting_name(s) : "value");
        }
        if (!(v[i] = strdup(str))) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return -ENOMEM;
        }
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* "ADT^A01" or "ADT^*": a message type of 3 letters or digits, a trigger of 3 or '*'. */
static bool message_valid(const char *s)
{
    size_t n = strlen(s);

    if ((n != 7 && n != 5) || s[3] != '^')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i == 3)
            continue;
        if (n == 5 && i == 4)
            return s[4] == '*';
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    }
    return true;
}

static int compile_key(const config_setting_t *s, kpid__hl7_map_rule *rule, char **ret_error)
{
    int n = config_setting_length(s);

    if (!config_setting_is_aggregate(s) || n < 1 || n > KPID__HL7_MAP_PARTS)
        return fail(ret_error, s, "key must be a list of 1 to %d parts", KPID__HL7_MAP_PARTS);
    for (int i = 0; i < n; i++) {
        const char *part = config_setting_get_string_elem(s, i);
        kpid__hl7_key_part *k = &rule->key[i];
        if (!part)
            return fail(ret_error, s, "the parts of key are strings");
        if (strcmp(part, "case_id") == 0)
            k->kind = KPID__KEY_CASE;
        else if (strcmp(part, "subject_id") == 0)
            k->kind = KPID__KEY_SUBJECT;
        else if (strcmp(part, "activity") == 0)
            k->kind = KPID__KEY_ACTIVITY;
        else if (strcmp(part, "time") == 0)
            k->kind = KPID__KEY_TIME;
        else {
            int r = compile_path(s, part, rule->foreach, &k->path, ret_error);
            if (r < 0)
                return r;
            k->kind = KPID__KEY_PATH;
        }
        rule->n_key++;
    }
    return 0;
}

static int compile_attrs(const config_setting_t *s, kpid__hl7_map_rule *rule, char **ret_error)
{
    int n = config_setting_length(s);

    if (!config_setting_is_group(s))
        return fail(ret_error, s, "attrs must be a group: { ward = \"PV1-3.1\"; }");
    if (n > 0 && !(rule->attrs = calloc((size_t)n, sizeof(*rule->attrs))))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *a = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(a), *path = config_setting_get_string(a);
        kpid__hl7_map_attr *attr = &rule->attrs[rule->n_attrs];
        if (!path)
            return fail(ret_error, a, "attribute %s must be an HL7 path in a string", name);
        if (!kpid_ident_attr_valid(name))
            return fail(ret_error, a, "attribute name \"%s\" is not valid ([A-Za-z_][A-Za-z0-9_]*)",
                        name);
        if (!(attr->name = strdup(name)))
            return -ENOMEM;
        rule->n_attrs++;
        int r = compile_path(a, path, rule->foreach, &attr->path, ret_error);
        if (r < 0)
            return r;
    }
    return 0;
}

/* when = ( ( "OBX-11", [ "F", "C" ] ), ( "PV1-2", "I" ) ); */
static int compile_when(const config_setting_t *s, kpid__hl7_map_rule *rule, char **ret_error)
{
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_LIST || n < 1)
        return fail(ret_error, s, "when must be a list of ( \"PATH\", [ \"VALUE\", ... ] )");
    if (!(rule->when = calloc((size_t)n, sizeof(*rule->when))))
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *c = config_setting_get_elem(s, (unsigned)i);
        kpid__hl7_map_cond *cond = &rule->when[rule->n_when];
        const char *path;
        if (!c || config_setting_length(c) != 2 || config_setting_is_group(c) ||
            !(path = config_setting_get_string_elem(c, 0)))
            return fail(ret_error, c ? c : s,
                        "a condition of when is ( \"PATH\", [ \"VALUE\", ... ] )");
        rule->n_when++;
        int r = compile_path(c, path, rule->foreach, &cond->path, ret_error);
        if (r == 0)
            r = string_list(config_setting_get_elem(c, 1), &cond->values, &cond->n_values, 64,
                            ret_error);
        if (r < 0)
            return r;
    }
    return 0;
}

static const char *const rule_keys[] = {
    "message", "activity", "retract", "repeats", "time", "case_id", "subject_id",
    "value",   "attrs",    "key",     "foreach", "when", NULL,
};

static int compile_optional_path(const config_setting_t *g, const char *name, const char *def,
                                 kpid__hl7_map_rule *rule, kpid__hl7_map_path *ret, bool *ret_has,
                                 char **ret_error)
{
    const config_setting_t *s = config_setting_get_member(g, name);
    const char *text = def;

    if (s && !(text = config_setting_get_string(s)))
        return fail(ret_error, s, "%s must be an HL7 path in a string", name);
    *ret_has = text && text[0];
    if (!*ret_has)
        return 0;
    return compile_path(s ? s : g, text, rule->foreach, ret, ret_error);
}

static int compile_rule(const config_setting_t *g, kpid__hl7_map_rule *rule, char **ret_error)
{
    const config_setting_t *s;
    const char *act = NULL, *ret_act = NULL, *foreach = NULL;
    int repeats = 0, r;

    if (!config_setting_is_group(g))
        return fail(ret_error, g, "a mapping rule is a group: { message = \"ADT^A01\"; ... }");
    for (int i = 0; i < config_setting_length(g); i++) {
        const char *name = config_setting_name(config_setting_get_elem(g, (unsigned)i));
        size_t k = 0;
        while (rule_keys[k] && strcmp(rule_keys[k], name) != 0)
            k++;
        if (!rule_keys[k])
            return fail(ret_error, config_setting_get_elem(g, (unsigned)i),
                        "unknown key \"%s\" in a mapping rule", name);
    }
    if (!(s = config_setting_get_member(g, "message")))
        return fail(ret_error, g, "a mapping rule needs message (\"ADT^A01\")");
    if ((r = string_list(s, &rule->messages, &rule->n_messages, 64, ret_error)) < 0)
        return r;
    if (!rule->messages) /* cannot be: string_list gives at least one */
        return -EINVAL;
    for (size_t i = 0; i < rule->n_messages; i++)
        if (!message_valid(rule->messages[i]))
            return fail(ret_error, s, "message \"%.16s\" is not TYPE^TRIGGER (ADT^A01, ORU^*)",
                        rule->messages[i]);
    config_setting_lookup_string(g, "activity", &act);
    config_setting_lookup_string(g, "retract", &ret_act);
    if (!act == !ret_act)
        return fail(ret_error, g, "a mapping rule needs activity or retract (one of them)");
    rule->retract = ret_act != NULL;
    if (!kpid_ident_activity_valid(rule->retract ? ret_act : act))
        return fail(ret_error, g, "activity \"%.64s\" is not valid ([A-Z0-9_]{1,64})",
                    rule->retract ? ret_act : act);
    if (!(rule->activity = strdup(rule->retract ? ret_act : act)))
        return -ENOMEM;
    if (asprintf(&rule->label, "%s%s %s", rule->messages[0], rule->n_messages > 1 ? ",..." : "",
                 rule->activity) < 0) {
        rule->label = NULL;
        return -ENOMEM;
    }
    if (config_setting_lookup_string(g, "foreach", &foreach)) {
        kpid_hl7_path p;
        char probe[16];
        snprintf(probe, sizeof(probe), "%.3s-1", foreach);
        if (strlen(foreach) != 3 || kpid_hl7_path_parse(probe, &p, NULL) < 0)
            return fail(ret_error, config_setting_get_member(g, "foreach"),
                        "foreach must name a segment (OBX)");
        memcpy(rule->foreach, foreach, 4);
    }
    config_setting_lookup_bool(g, "repeats", &repeats);

    if ((s = config_setting_get_member(g, "time"))) {
        char **texts = NULL;
        size_t n = 0;
        if ((r = string_list(s, &texts, &n, KPID__HL7_MAP_TIMES, ret_error)) < 0)
            return r;
        for (size_t i = 0; i < n && r == 0; i++, rule->n_times++)
            r = compile_path(s, texts[i], rule->foreach, &rule->times[i], ret_error);
        free_strings(texts, n);
        if (r < 0)
            return r;
    } else {
        static const char *const def[] = {"EVN-6", "EVN-2", "MSH-7"};
        for (size_t i = 0; i < 3; i++, rule->n_times++)
            if ((r = compile_path(g, def[i], rule->foreach, &rule->times[i], ret_error)) < 0)
                return r;
    }
    if ((r = compile_optional_path(g, "case_id", "PV1-19", rule, &rule->case_id, &rule->has_case_id,
                                   ret_error)) < 0 ||
        (r = compile_optional_path(g, "subject_id", "PID-3", rule, &rule->subject_id,
                                   &rule->has_subject_id, ret_error)) < 0 ||
        (r = compile_optional_path(g, "value", NULL, rule, &rule->value, &rule->has_value,
                                   ret_error)) < 0)
        return r;
    if ((s = config_setting_get_member(g, "attrs")) && (r = compile_attrs(s, rule, ret_error)) < 0)
        return r;
    if ((s = config_setting_get_member(g, "when")) && (r = compile_when(s, rule, ret_error)) < 0)
        return r;
    if ((s = config_setting_get_member(g, "key")))
        return compile_key(s, rule, ret_error);
    rule->key[rule->n_key++].kind = KPID__KEY_CASE;
    rule->key[rule->n_key++].kind = KPID__KEY_ACTIVITY;
    if (repeats)
        rule->key[rule->n_key++].kind = KPID__KEY_TIME;
    return 0;
}

static void free_path(kpid__hl7_map_path *p)
{
    free(p->text);
}

static void free_rule(kpid__hl7_map_rule *rule)
{
    free(rule->label);
    free_strings(rule->messages, rule->n_messages);
    free(rule->activity);
    for (size_t i = 0; i < rule->n_times; i++)
        free_path(&rule->times[i]);
    free_path(&rule->case_id);
    free_path(&rule->subject_id);
    free_path(&rule->value);
    for (size_t i = 0; i < rule->n_attrs; i++) {
        free(rule->attrs[i].name);
        free_path(&rule->attrs[i].path);
    }
    free(rule->attrs);
    for (size_t i = 0; i < rule->n_when; i++) {
        free_path(&rule->when[i].path);
        free_strings(rule->when[i].values, rule->when[i].n_values);
    }
    free(rule->when);
    for (size_t i = 0; i < rule->n_key; i++)
        if (rule->key[i].kind == KPID__KEY_PATH)
            free_path(&rule->key[i].path);
}

kpid_hl7_map *kpid_hl7_map_free(kpid_hl7_map *map)
{
    if (!map)
        return NULL;
    for (size_t i = 0; i < map->n_rules; i++)
        free_rule(&map->rules[i]);
    free(map->rules);
    free(map);
    return NULL;
}

size_t kpid_hl7_map_rules(const kpid_hl7_map *map)
{
    return map ? map->n_rules : 0;
}

int kpid_hl7_map_compile(const config_setting_t *list, kpid_hl7_map **ret_map, char **ret_error)
{
    kpid_hl7_map *map = NULL;
    int n, r;

    *ret_error = NULL;
    if (!list || config_setting_type(list) != CONFIG_TYPE_LIST ||
        (n = config_setting_length(list)) < 1)
        return list ? fail(ret_error, list, "mapping must be a list of rules: ( { ... }, ... )")
                    : -EINVAL;
    if (!(map = calloc(1, sizeof(*map))) ||
        !(map->rules = calloc((size_t)n, sizeof(*map->rules)))) {
        r = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        kpid__hl7_map_rule *rule = &map->rules[map->n_rules++];
        rule->number = (unsigned)i + 1;
        if ((r = compile_rule(config_setting_get_elem(list, (unsigned)i), rule, ret_error)) < 0)
            goto out;
    }
    *ret_map = map;
    map = NULL;
    r = 0;
out:
    kpid_hl7_map_free(map);
    return r;
}
