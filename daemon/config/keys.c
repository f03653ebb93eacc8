/* Key tables: reading a section by its table (keys.h). */
#include "config/keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/duration.h"

const kpid__key *kpid__keys_find(const kpid__key *keys, const char *name)
{
    for (size_t i = 0; keys && keys[i].name; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static size_t keys_count(const kpid__key *keys)
{
    size_t n = 0;

    while (keys && keys[n].name)
        n++;
    return n;
}

void kpid__keys_check_unknown(kpid__loader *l, const config_setting_t *group, const kpid__key *keys,
                              const kpid__key *more, const char *ctx)
{
    size_t n = keys_count(keys), m = keys_count(more);
    const char **names = calloc(n + m + 1, sizeof(*names));

    if (!names) {
        kpid__config_oom(l);
        return;
    }
    for (size_t i = 0; i < n; i++)
        names[i] = keys[i].name;
    for (size_t i = 0; i < m; i++)
        names[n + i] = more[i].name;
    kpid__config_check_unknown_keys(l, group, names, ctx);
    free(names);
}

/* The field of key k in the struct at base. */
static void *field(void *base, const kpid__key *k)
{
    return (char *)base + k->offset;
}

/* Replaces the string stored for k with value, which it takes (NULL clears it). */
static void string_put(void *base, const kpid__key *k, char *value)
{
    char *old;

    memcpy(&old, field(base, k), sizeof(old));
    free(old);
    memcpy(field(base, k), &value, sizeof(value));
}

/* Stores a key's default, given in configuration syntax. Returns 0, -EINVAL when it does
 * not read as the key's type, or -ENOMEM (noted). */
static int default_set(kpid__loader *l, void *base, const kpid__key *k)
{
    const char *text = k->default_value;
    char *end, *copy;
    int64_t i;
    double d;
    bool b;
    int e;

    switch (k->type) {
    case KPID__KEY_STRING:
    case KPID__KEY_PATH:
        if (!(copy = kpid__config_strdup(l, text)))
            return -ENOMEM;
        string_put(base, k, copy);
        return 0;
    case KPID__KEY_INT:
        errno = 0;
        i = strtoll(text, &end, 0);
        if (errno != 0 || end == text || *end != '\0')
            return -EINVAL;
        memcpy(field(base, k), &i, sizeof(i));
        return 0;
    case KPID__KEY_DURATION:
        if (kpid_duration_parse(text, &i) < 0)
            return -EINVAL;
        memcpy(field(base, k), &i, sizeof(i));
        return 0;
    case KPID__KEY_BOOL:
        if (strcasecmp(text, "true") == 0)
            b = true;
        else if (strcasecmp(text, "false") == 0)
            b = false;
        else
            return -EINVAL;
        memcpy(field(base, k), &b, sizeof(b));
        return 0;
    case KPID__KEY_DOUBLE:
        errno = 0;
        d = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0')
            return -EINVAL;
        memcpy(field(base, k), &d, sizeof(d));
        return 0;
    case KPID__KEY_ENUM:
        if (!k->parse || k->parse(text, &e) < 0)
            return -EINVAL;
        memcpy(field(base, k), &e, sizeof(e));
        return 0;
    case KPID__KEY_SECTION:
    case KPID__KEY_PARSED: return 0;
    }
    return -EINVAL;
}

/* Reads a given value after checking its type and range. Returns 0, or -EINVAL when it
 * cannot be read (reported; the field is left alone) or -ENOMEM (noted). */
static int value_set(kpid__loader *l, void *base, const kpid__key *k, const config_setting_t *s,
                     const char *ctx)
{
    const char *text;
    char *copy;
    int64_t i;
    double d;
    bool b;
    int e, r;

    switch (k->type) {
    case KPID__KEY_STRING:
        if ((r = kpid__config_get_string(l, s, ctx, &text)) < 0)
            return r;
        if (!(copy = kpid__config_strdup(l, text)))
            return -ENOMEM;
        string_put(base, k, copy);
        return 0;
    case KPID__KEY_PATH:
        if ((r = kpid__config_get_path(l, s, ctx, &copy)) < 0)
            return r;
        string_put(base, k, copy);
        return 0;
    case KPID__KEY_INT:
        if ((r = kpid__config_get_int(l, s, ctx, k->min, k->max, &i)) < 0)
            return r;
        memcpy(field(base, k), &i, sizeof(i));
        return 0;
    case KPID__KEY_DURATION:
        if ((r = kpid__config_get_duration(l, s, ctx, k->min, k->max, &i)) < 0)
            return r;
        memcpy(field(base, k), &i, sizeof(i));
        return 0;
    case KPID__KEY_BOOL:
        if ((r = kpid__config_get_bool(l, s, ctx, &b)) < 0)
            return r;
        memcpy(field(base, k), &b, sizeof(b));
        return 0;
    case KPID__KEY_DOUBLE:
        if ((r = kpid__config_get_double(l, s, ctx, &d)) < 0)
            return r;
        memcpy(field(base, k), &d, sizeof(d));
        return 0;
    case KPID__KEY_ENUM:
        if ((r = kpid__config_get_string(l, s, ctx, &text)) < 0)
            return r;
        if (k->parse(text, &e) < 0) {
            kpid__config_report(l, s, "invalid %s \"%s\"%s: use %s", k->name, text, ctx, k->use);
            return -EINVAL;
        }
        memcpy(field(base, k), &e, sizeof(e));
        return 0;
    case KPID__KEY_SECTION:
        if (config_setting_type(s) != CONFIG_TYPE_GROUP &&
            config_setting_type(s) != CONFIG_TYPE_LIST) {
            kpid__config_report_type(l, s, ctx, "a group or a list");
            return -EINVAL;
        }
        return 0;
    case KPID__KEY_PARSED: return 0;
    }
    return -EINVAL;
}

static void report_bad_default(kpid__loader *l, const config_setting_t *at, const kpid__key *k,
                               const char *owner)
{
    if (owner)
        kpid__config_report(l, at,
                            "plugin \"%s\" declares an invalid default \"%s\" for key \"%s\"; "
                            "fix the plugin",
                            owner, k->default_value, k->name);
    else
        kpid__config_report(l, at, "kpid's default \"%s\" for key \"%s\" is invalid",
                            k->default_value, k->name);
}

void kpid__keys_read(kpid__loader *l, const config_setting_t *group, const kpid__key *keys,
                     void *base, const char *ctx, const char *owner)
{
    for (size_t i = 0; keys[i].name; i++) {
        const kpid__key *k = &keys[i];
        const config_setting_t *s;

        if (k->type == KPID__KEY_PARSED)
            continue;
        s = config_setting_get_member(group, k->name);
        if (s) {
            /* A value that cannot be read leaves a number, boolean or enum at its
             * default; a string or path stays unset, so that nothing uses a file the
             * operator did not name (an invalid plugin_dir loads no plugins). */
            if (value_set(l, base, k, s, ctx) < 0 && k->default_value &&
                k->type != KPID__KEY_STRING && k->type != KPID__KEY_PATH)
                (void)default_set(l, base, k);
        } else if (k->default_value) {
            if (default_set(l, base, k) == -EINVAL)
                report_bad_default(l, group, k, owner);
        } else if (k->required)
            kpid__config_report(l, group, "missing required key \"%s\"%s", k->name, ctx);
    }
}

void kpid__keys_defaults(kpid__loader *l, const kpid__key *keys, void *base)
{
    for (size_t i = 0; keys[i].name; i++)
        if (keys[i].default_value && default_set(l, base, &keys[i]) == -EINVAL)
            report_bad_default(l, NULL, &keys[i], NULL);
}

void kpid__keys_free(const kpid__key *keys, void *base)
{
    for (size_t i = 0; keys[i].name; i++)
        if (keys[i].type == KPID__KEY_STRING || keys[i].type == KPID__KEY_PATH)
            string_put(base, &keys[i], NULL);
}
