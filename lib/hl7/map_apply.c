/* Applies the compiled mapping rules to one parsed message (docs/hl7-mapping.md). */
#include "hl7/map.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7/map_private.h"
#include "json/json.h"
#include "time/timestamp.h"

#define NO_VISIT UINT_MAX
#define NO_STRING SIZE_MAX

/* The strings of one result, as offsets into out->text until the results are final. */
enum { S_KEY, S_CASE, S_SUBJECT, S_ACTIVITY, S_ATTRS, S__COUNT };

/* What one application needs besides the rule: the message, scratch space, the error. */
typedef struct apply_ctx {
    const kpid_hl7_map_options *opt;
    const kpid_hl7_msg *m;
    kpid_hl7_mapped *out;
    const kpid__hl7_map_rule *rule;
    unsigned visit; /* the foreach occurrence's segment index, or NO_VISIT */
    kpid_buf tmp;   /* one value at a time */
    kpid_buf part;  /* the key or the attrs being built */
    char *why;
    size_t why_size;
} apply_ctx;

__attribute__((format(printf, 2, 3))) static int fail(apply_ctx *c, const char *fmt, ...)
{
    int n = snprintf(c->why, c->why_size, "rule %u (%s): ", c->rule->number, c->rule->label);
    va_list ap;

    if (n >= 0 && (size_t)n < c->why_size) {
        va_start(ap, fmt);
        vsnprintf(c->why + n, c->why_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/*
 * The decoded value at p into c->tmp (NUL-terminated). Returns 1 when it has one, 0 when
 * it is absent, empty or HL7's null, or a negative errno (with why for invalid text).
 */
static int get(apply_ctx *c, const kpid__hl7_map_path *p)
{
    int r;

    c->tmp.len = 0;
    r = p->at_visit && c->visit != NO_VISIT ? kpid_hl7_get_at(c->m, c->visit, &p->path, &c->tmp)
                                            : kpid_hl7_get(c->m, &p->path, &c->tmp);
    if (r == 0)
        return 1;
    if (r == -ENOENT || r == -ENODATA)
        return 0;
    if (r == -EILSEQ)
        return fail(c, "%s holds text kpid does not store (a control character)", p->text);
    if (r == -ENOMEM)
        return r;
    return fail(c, "%s cannot be read", p->text);
}

/* Copies c->tmp's value (or s) into out->text; returns its offset or NO_STRING. */
static size_t keep(apply_ctx *c, const char *s, size_t len)
{
    size_t off = c->out->text.len;

    if (kpid_buf_append(&c->out->text, s, len) < 0 || kpid_buf_putc(&c->out->text, '\0') < 0)
        return NO_STRING;
    return off;
}

static bool cond_holds(apply_ctx *c, const kpid__hl7_map_cond *cond, int *ret_err)
{
    int r = get(c, &cond->path);

    *ret_err = r < 0 ? r : 0;
    for (size_t i = 0; r >= 0 && i < cond->n_values; i++)
        if (r == 0 ? cond->values[i][0] == '\0' : strcmp(cond->values[i], c->tmp.data) == 0)
            return true;
    return false;
}

/* The event time: the first path of the rule's list with a value. 1 found, 0 none. */
static int event_time(apply_ctx *c, int64_t *ret_us)
{
    for (size_t i = 0; i < c->rule->n_times; i++) {
        const kpid__hl7_map_path *p = &c->rule->times[i];
        kpid_hl7_time t;
        const char *why = NULL;
        int r = get(c, p);
        if (r < 0)
            return r;
        if (r == 0)
            continue;
        if (kpid_hl7_dtm_parse(c->tmp.data, c->tmp.len, c->opt->tz, &t, &why) < 0)
            return fail(c, "%s is not an HL7 date/time: %s", p->text, why ? why : "invalid");
        *ret_us = t.us;
        return 1;
    }
    return 0;
}

/* The subject: with an authority or type configured and a path naming a whole field,
 * the repetition of PID-3 that the authority (component 4) or type (5) names. */
static int subject(apply_ctx *c, size_t *ret_off)
{
    const kpid__hl7_map_path *p = &c->rule->subject_id;
    kpid__hl7_map_path pick = *p;
    unsigned n = 0, chosen = 0, by_type = 0;
    int r;

    *ret_off = NO_STRING;
    if (p->path.level == KPID_HL7_FIELD && (c->opt->subject_authority || c->opt->subject_type) &&
        (p->at_visit && c->visit != NO_VISIT
             ? kpid_hl7_count_at(c->m, c->visit, &p->path, KPID_HL7_REPETITION, &n)
             : kpid_hl7_count(c->m, &p->path, KPID_HL7_REPETITION, &n)) == 0) {
        for (unsigned rep = 1; rep <= n && !chosen; rep++) {
            pick.path.repetition = rep;
            pick.path.component = 4;
            if (c->opt->subject_authority) {
                if ((r = get(c, &pick)) < 0)
                    return r;
                if (r > 0 && strcmp(c->tmp.data, c->opt->subject_authority) == 0)
                    chosen = rep;
            }
            pick.path.component = 5;
            if (!by_type && c->opt->subject_type) {
                if ((r = get(c, &pick)) < 0)
                    return r;
                if (r > 0 && strcmp(c->tmp.data, c->opt->subject_type) == 0)
                    by_type = rep;
            }
        }
        pick.path.repetition = chosen ? chosen : by_type ? by_type : 1;
        pick.path.component = 1;
        pick.path.subcomponent = 1;
    }
    if ((r = get(c, &pick)) <= 0)
        return r;
    if ((*ret_off = keep(c, c->tmp.data, c->tmp.len)) == NO_STRING)
        return -ENOMEM;
    return 1;
}

/* An HL7 NM value ([+-]digits[.digits], or .digits) as a double, whatever the locale. */
static int number(apply_ctx *c, const char *s, double *ret)
{
    char norm[64];
    size_t n = 0, i = 0, digits = 0;

    if (s[i] == '+' || s[i] == '-')
        if (s[i++] == '-')
            norm[n++] = '-';
    while (s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9')
        i++; /* leading zeros: JSON has none */
    if (s[i] == '.')
        norm[n++] = '0';
    for (; s[i] >= '0' && s[i] <= '9' && n < sizeof(norm) - 2; i++, digits++)
        norm[n++] = s[i];
    if (s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        norm[n++] = s[i++];
        for (; s[i] >= '0' && s[i] <= '9' && n < sizeof(norm) - 1; i++, digits++)
            norm[n++] = s[i];
    } else if (s[i] == '.')
        i++;
    if (s[i] != '\0' || digits == 0)
        return fail(c, "%s is not a number", c->rule->value.text);
    norm[n] = '\0';
    if (kpid_json_number_to_double(norm, n, ret) < 0)
        return -ENOMEM;
    return 0;
}

/* {"name":"value",...} of the attributes that have a value. */
static int attrs(apply_ctx *c, size_t *ret_off)
{
    const kpid__hl7_map_rule *rule = c->rule;
    bool first = true;
    int r;

    c->part.len = 0;
    if (kpid_buf_putc(&c->part, '{') < 0)
        return -ENOMEM;
    for (size_t i = 0; i < rule->n_attrs; i++) {
        if ((r = get(c, &rule->attrs[i].path)) < 0)
            return r;
        if (r == 0)
            continue;
        if ((!first && kpid_buf_putc(&c->part, ',') < 0) ||
            kpid_json_put_string(&c->part, rule->attrs[i].name, strlen(rule->attrs[i].name)) < 0 ||
            kpid_buf_putc(&c->part, ':') < 0 ||
            kpid_json_put_string(&c->part, c->tmp.data, c->tmp.len) < 0)
            return -ENOMEM;
        first = false;
    }
    if (kpid_buf_putc(&c->part, '}') < 0)
        return -ENOMEM;
    *ret_off = keep(c, c->part.data, c->part.len);
    return *ret_off == NO_STRING ? -ENOMEM : 0;
}

/* The key's parts joined by '/'; strings[] holds the offsets known so far. */
static int key(apply_ctx *c, const size_t *strings, bool has_time, int64_t time_us, size_t *ret_off)
{
    const kpid__hl7_map_rule *rule = c->rule;
    int r;

    c->part.len = 0;
    for (size_t i = 0; i < rule->n_key; i++) {
        const kpid__hl7_key_part *k = &rule->key[i];
        const char *s = NULL;
        char t[40];
        if (i > 0 && kpid_buf_putc(&c->part, '/') < 0)
            return -ENOMEM;
        switch (k->kind) {
        case KPID__KEY_CASE:
        case KPID__KEY_SUBJECT: {
            size_t off = strings[k->kind == KPID__KEY_CASE ? S_CASE : S_SUBJECT];
            if (off == NO_STRING)
                return fail(c, "the key needs %s, which the message does not have",
                            k->kind == KPID__KEY_CASE ? "case_id" : "subject_id");
            s = c->out->text.data + off;
            break;
        }
        case KPID__KEY_ACTIVITY: s = rule->activity; break;
        case KPID__KEY_TIME:
            if (!has_time)
                return fail(c, "the key needs the time, which the message does not have");
            if (kpid_format_time(time_us, t) < 0)
                return fail(c, "the time is out of range");
            /* "YYYY-MM-DD HH:MM:SS.ffffff+00" as RFC 3339 UTC. */
            t[10] = 'T';
            memcpy(t + 26, "Z", 2);
            s = t;
            break;
        case KPID__KEY_PATH:
            if ((r = get(c, &k->path)) < 0)
                return r;
            if (r == 0)
                return fail(c, "the key needs %s, which is empty", k->path.text);
            s = c->tmp.data;
            break;
        }
        if (kpid_buf_append(&c->part, s, strlen(s)) < 0)
            return -ENOMEM;
    }
    *ret_off = keep(c, c->part.data, c->part.len);
    return *ret_off == NO_STRING ? -ENOMEM : 0;
}

static int push(apply_ctx *c, const kpid_hl7_mapped_event *e, const size_t *strings)
{
    kpid_hl7_mapped *out = c->out;

    if (out->n == out->cap) {
        size_t cap = out->cap;
        kpid_hl7_mapped_event *v = kpid_array_grow(out->v, &cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        out->v = v;
        size_t *o = realloc(out->offsets, cap * S__COUNT * sizeof(*o));
        if (!o)
            return -ENOMEM;
        out->offsets = o;
        out->cap = cap;
    }
    out->v[out->n] = *e;
    memcpy(out->offsets + out->n * S__COUNT, strings, S__COUNT * sizeof(*strings));
    out->n++;
    return 0;
}

/* One rule on the message (at one foreach occurrence): 1 event added, 0 none, or <0. */
static int apply_one(apply_ctx *c)
{
    const kpid__hl7_map_rule *rule = c->rule;
    kpid_hl7_mapped_event e = {.retract = rule->retract};
    size_t strings[S__COUNT] = {NO_STRING, NO_STRING, NO_STRING, NO_STRING, NO_STRING};
    int64_t time_us = 0;
    int r, has_time;

    for (size_t i = 0; i < rule->n_when; i++)
        if (!cond_holds(c, &rule->when[i], &r))
            return r;
    if ((has_time = event_time(c, &time_us)) < 0)
        return has_time;
    if (!has_time && !rule->retract)
        return fail(c, "no time: every path of its time list is empty");
    if (rule->has_case_id) {
        if ((r = get(c, &rule->case_id)) < 0)
            return r;
        if (r > 0 && (strings[S_CASE] = keep(c, c->tmp.data, c->tmp.len)) == NO_STRING)
            return -ENOMEM;
    }
    if (rule->has_subject_id && (r = subject(c, &strings[S_SUBJECT])) < 0)
        return r;
    if ((strings[S_ACTIVITY] = keep(c, rule->activity, strlen(rule->activity))) == NO_STRING)
        return -ENOMEM;
    if (!rule->retract) {
        e.ev.time_us = time_us;
        if (rule->has_value) {
            if ((r = get(c, &rule->value)) < 0)
                return r;
            if (r > 0) {
                if ((r = number(c, c->tmp.data, &e.ev.value)) < 0)
                    return r;
                e.ev.has_value = true;
            }
        }
        if ((r = attrs(c, &strings[S_ATTRS])) < 0)
            return r;
    }
    if ((r = key(c, strings, has_time > 0, time_us, &strings[S_KEY])) < 0)
        return r;
    if ((r = push(c, &e, strings)) < 0)
        return r;
    return 1;
}

static bool rule_matches(const kpid__hl7_map_rule *rule, const char *type, const char *trigger)
{
    for (size_t i = 0; i < rule->n_messages; i++) {
        const char *m = rule->messages[i];
        if (strncmp(m, type, 3) == 0 && type[3] == '\0' &&
            (strcmp(m + 4, "*") == 0 || strcmp(m + 4, trigger) == 0))
            return true;
    }
    return false;
}

/* Turns the string offsets of every result into pointers, now that text is final. */
static void finish(kpid_hl7_mapped *out)
{
    for (size_t i = 0; i < out->n; i++) {
        const size_t *o = out->offsets + i * S__COUNT;
        kpid_event *ev = &out->v[i].ev;
#define AT(k) (o[k] == NO_STRING ? NULL : out->text.data + o[k])
        ev->event_key = AT(S_KEY);
        ev->case_id = AT(S_CASE);
        ev->subject_id = AT(S_SUBJECT);
        ev->activity = AT(S_ACTIVITY);
        ev->attrs_json = AT(S_ATTRS);
#undef AT
    }
}

int kpid_hl7_map_apply(const kpid_hl7_map *map, const kpid_hl7_map_options *opt,
                       const kpid_hl7_msg *m, kpid_hl7_mapped *out, char *why, size_t why_size)
{
    static const kpid_hl7_map_options defaults = {0};
    const kpid_hl7_header *h = kpid_hl7_msg_header(m);
    apply_ctx c = {
        .opt = opt ? opt : &defaults, .m = m, .out = out, .why = why, .why_size = why_size};
    bool matched = false;
    int r = 0;

    if (why_size > 0)
        why[0] = '\0';
    out->n = 0;
    out->text.len = 0;
    for (size_t i = 0; i < map->n_rules && r >= 0; i++) {
        c.rule = &map->rules[i];
        if (!rule_matches(c.rule, h->message_type, h->trigger_event))
            continue;
        matched = true;
        c.visit = NO_VISIT;
        if (!c.rule->foreach[0]) {
            r = apply_one(&c);
            continue;
        }
        unsigned seg;
        for (int s = kpid_hl7_segment_next(m, c.rule->foreach, 0, &seg); s == 0 && r >= 0;
             s = kpid_hl7_segment_next(m, c.rule->foreach, seg + 1, &seg)) {
            c.visit = seg;
            r = apply_one(&c);
        }
    }
    kpid_buf_free(&c.tmp);
    kpid_buf_free(&c.part);
    if (r < 0) {
        out->n = 0;
        return r;
    }
    if (!matched)
        return -ENOENT;
    finish(out);
    return (int)out->n;
}

void kpid_hl7_mapped_free(kpid_hl7_mapped *out)
{
    if (!out)
        return;
    free(out->v);
    free(out->offsets);
    kpid_buf_free(&out->text);
    memset(out, 0, sizeof(*out));
}
