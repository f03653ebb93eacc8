#include "truth_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int pool_grow(struct ht_pool *p)
{
    uint32_t slots = p->mask ? (p->mask + 1) * 2 : 1024;
    uint32_t *slot = calloc(slots, sizeof(*slot));

    if (!slot)
        return -ENOMEM;
    for (uint32_t id = 1; id < p->n; id++) {
        uint32_t i = hash(p->str[id], strlen(p->str[id])) & (slots - 1);
        while (slot[i])
            i = (i + 1) & (slots - 1);
        slot[i] = id;
    }
    free(p->slot);
    p->slot = slot;
    p->mask = slots - 1;
    return 0;
}

int ht_pool_intern(struct ht_pool *p, const char *s, size_t len, uint32_t *ret_id)
{
    uint32_t i;

    /* Load factor at most 1/2. */
    if ((p->n + 1) * 2 > p->mask + 1 && pool_grow(p) < 0)
        return -ENOMEM;
    if (p->n == 0)
        p->n = 1; /* id 0 is HT_NONE */
    for (i = hash(s, len) & p->mask; p->slot[i]; i = (i + 1) & p->mask) {
        const char *t = p->str[p->slot[i]];
        if (strncmp(t, s, len) == 0 && t[len] == '\0') {
            *ret_id = p->slot[i];
            return 0;
        }
    }
    if (p->n >= p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 1024;
        char **str = realloc(p->str, cap * sizeof(*str));
        if (!str)
            return -ENOMEM;
        p->str = str;
        p->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    p->str[p->n] = copy;
    p->slot[i] = p->n;
    *ret_id = p->n++;
    return 0;
}

const char *ht_pool_str(const struct ht_pool *p, uint32_t id)
{
    return id == HT_NONE || id >= p->n ? NULL : p->str[id];
}

void ht_store_init(struct ht_store *s)
{
    memset(s, 0, sizeof(*s));
}

void ht_store_fini(struct ht_store *s)
{
    for (uint32_t id = 1; id < s->pool.n; id++)
        free(s->pool.str[id]);
    free(s->pool.str);
    free(s->pool.slot);
    free(s->ev);
    free(s->attr);
    free(s->by_act);
    free(s->by_case);
    free(s->by_subj);
    free(s->act_off);
    free(s->case_off);
    free(s->subj_off);
    memset(s, 0, sizeof(*s));
}

/* Interns s (NULL: HT_NONE). */
static int intern_opt(struct ht_pool *p, const char *s, uint32_t *ret_id)
{
    if (!s) {
        *ret_id = HT_NONE;
        return 0;
    }
    return ht_pool_intern(p, s, strlen(s), ret_id);
}

static int store_add(struct ht_store *s, const struct ht_input *in)
{
    struct ht_event e = {.time = in->time, .value = in->value, .seq = in->seq};

    if (in->n_attr > HT_ATTR_MAX || !in->activity)
        return -EINVAL;
    if (s->n_ev == s->cap_ev) {
        size_t cap = s->cap_ev ? s->cap_ev * 2 : 4096;
        struct ht_event *ev = realloc(s->ev, cap * sizeof(*ev));
        if (!ev)
            return -ENOMEM;
        s->ev = ev;
        s->cap_ev = cap;
    }
    if (s->n_attr + in->n_attr > s->cap_attr) {
        size_t cap = s->cap_attr ? s->cap_attr * 2 : 8192;
        struct ht_attr *a = realloc(s->attr, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        s->attr = a;
        s->cap_attr = cap;
    }
    const char *key_case = in->key_case ? in->key_case : in->case_id ? in->case_id : "";
    if (intern_opt(&s->pool, in->case_id, &e.case_id) < 0 ||
        intern_opt(&s->pool, in->subject_id, &e.subject) < 0 ||
        intern_opt(&s->pool, in->activity, &e.act) < 0 ||
        ht_pool_intern(&s->pool, key_case, strlen(key_case), &e.key_case) < 0)
        return -ENOMEM;
    e.attr = (uint32_t)s->n_attr;
    for (unsigned i = 0; i < in->n_attr; i++) {
        struct ht_attr *a = &s->attr[s->n_attr + i];
        if (intern_opt(&s->pool, in->key[i], &a->key) < 0 ||
            intern_opt(&s->pool, in->val[i], &a->val) < 0)
            return -ENOMEM;
    }
    s->n_attr += in->n_attr;
    e.n_attr = (uint8_t)in->n_attr;
    s->ev[s->n_ev++] = e;
    return 0;
}

int ht_store_add(struct ht_store *s, const struct ht_input *in)
{
    int r = s->err ? s->err : store_add(s, in);

    if (r < 0 && s->err == 0)
        s->err = r;
    return r;
}

int ht_seq_cmp(uint32_t a, uint32_t b)
{
    char ta[16], tb[16];

    /* event_key order is text order: ".../10" < ".../2". */
    snprintf(ta, sizeof(ta), "%u", a);
    snprintf(tb, sizeof(tb), "%u", b);
    return strcmp(ta, tb);
}

/* Writes e's event_key, <case>/<ACTIVITY>/<seq>, into out (len bytes). */
static void event_key(const struct ht_store *s, const struct ht_event *e, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/%u", ht_pool_str(&s->pool, e->key_case),
             ht_pool_str(&s->pool, e->act), e->seq);
}

int ht_event_order_cmp(const struct ht_store *s, const struct ht_event *a, const struct ht_event *b)
{
    char ka[256], kb[256];

    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    event_key(s, a, ka, sizeof(ka));
    event_key(s, b, kb, sizeof(kb));
    return strcmp(ka, kb);
}

/* A sort record: the index entry with the keys it is sorted by. */
struct rec {
    uint32_t group; /* the CSR key: activity, case or subject id */
    uint32_t k1;    /* activity (case and subject order), or 0 */
    int64_t time;
    uint32_t seq;
    uint32_t ev;
};

static int rec_cmp_case(const void *pa, const void *pb)
{
    const struct rec *a = pa, *b = pb;

    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? -1 : 1;
    int c = ht_seq_cmp(a->seq, b->seq);
    if (c)
        return c;
    return a->ev < b->ev ? -1 : a->ev > b->ev;
}

static int rec_cmp_subject(const void *pa, const void *pb)
{
    const struct rec *a = pa, *b = pb;

    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? -1 : 1;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return a->ev < b->ev ? -1 : a->ev > b->ev;
}

/*
 * Builds one CSR index: for each event with a non-NONE group (group_of), sorted by cmp.
 * ret_idx gets n entries, ret_off pool.n + 1 offsets. Returns 0 or -ENOMEM.
 */
static int build(const struct ht_store *s, int which, int (*cmp)(const void *, const void *),
                 uint32_t **ret_idx, size_t **ret_off)
{
    size_t n_groups = (size_t)s->pool.n + 1, n = 0;
    struct rec *r = malloc((s->n_ev ? s->n_ev : 1) * sizeof(*r));
    size_t *off = calloc(n_groups + 1, sizeof(*off));
    uint32_t *idx = malloc((s->n_ev ? s->n_ev : 1) * sizeof(*idx));
    int ret = -ENOMEM;

    if (!r || !off || !idx)
        goto out;
    for (size_t i = 0; i < s->n_ev; i++) {
        const struct ht_event *e = &s->ev[i];
        uint32_t g = which == 0 ? e->act : which == 1 ? e->case_id : e->subject;
        if (g == HT_NONE)
            continue;
        r[n++] = (struct rec){.group = g,
                              .k1 = which == 0 ? 0 : e->act,
                              .time = e->time,
                              .seq = e->seq,
                              .ev = (uint32_t)i};
        off[g + 1]++;
    }
    ht_sort(r, n, sizeof(*r), cmp);
    for (size_t g = 1; g <= n_groups; g++)
        off[g] += off[g - 1];
    for (size_t i = 0; i < n; i++)
        idx[i] = r[i].ev;
    *ret_idx = idx;
    *ret_off = off;
    idx = NULL;
    off = NULL;
    ret = 0;
out:
    free(r);
    free(off);
    free(idx);
    return ret;
}

int ht_store_index(struct ht_store *s)
{
    if (s->err)
        return s->err;
    /* Activity order: time, then case order keys (a stable, deterministic order). */
    if (build(s, 0, rec_cmp_case, &s->by_act, &s->act_off) < 0 ||
        build(s, 1, rec_cmp_case, &s->by_case, &s->case_off) < 0 ||
        build(s, 2, rec_cmp_subject, &s->by_subj, &s->subj_off) < 0)
        return -ENOMEM;
    s->n_indexed = s->pool.n;
    /* The first event of each activity of a case: the case index is in (time, activity,
     * key) order, so it is the first one met. Cases are short (a few dozen events). */
    for (uint32_t c = 1; c < s->pool.n; c++) {
        struct ht_range r = ht_by_case(s, c);
        for (size_t i = 0; i < r.n; i++) {
            struct ht_event *e = &s->ev[r.idx[i]];
            e->first = 1;
            for (size_t k = 0; k < i; k++)
                if (s->ev[r.idx[k]].act == e->act) {
                    e->first = 0;
                    break;
                }
        }
    }
    return 0;
}

static struct ht_range range(const uint32_t *idx, const size_t *off, const struct ht_store *s,
                             uint32_t id)
{
    if (!idx || id == HT_NONE || id >= s->n_indexed)
        return (struct ht_range){NULL, 0};
    return (struct ht_range){idx + off[id], off[id + 1] - off[id]};
}

struct ht_range ht_by_act(const struct ht_store *s, uint32_t act)
{
    return range(s->by_act, s->act_off, s, act);
}

struct ht_range ht_by_case(const struct ht_store *s, uint32_t case_id)
{
    return range(s->by_case, s->case_off, s, case_id);
}

struct ht_range ht_by_subject(const struct ht_store *s, uint32_t subject)
{
    return range(s->by_subj, s->subj_off, s, subject);
}

uint32_t ht_event_attr(const struct ht_store *s, const struct ht_event *e, uint32_t key)
{
    for (unsigned i = 0; i < e->n_attr; i++)
        if (s->attr[e->attr + i].key == key)
            return s->attr[e->attr + i].val;
    return HT_NONE;
}
