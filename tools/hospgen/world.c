#include "world.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

int hg_world_init(struct hg_world *w, uint64_t seed, uint64_t stream, int64_t start,
                  int32_t off_sec, const char *off_text)
{
    memset(w, 0, sizeof(*w));
    hg_rng_seed(&w->rng, seed, stream);
    w->start = start;
    w->off_sec = off_sec;
    memcpy(w->off_text, off_text, 7);
    w->next_patient = 1;
    w->b.max_digits = 6;
    w->spawns.cap = 1024;
    w->spawns.a = malloc(w->spawns.cap * sizeof(*w->spawns.a));
    if (!w->spawns.a)
        return -ENOMEM;
    return 0;
}

void hg_world_fini(struct hg_world *w)
{
    free(w->spawns.a);
    w->spawns.a = NULL;
}

/* Heap order of spawns: earlier time first, then earlier spawn. */
static int spawn_less(const struct hg_spawn *a, const struct hg_spawn *b)
{
    return a->time < b->time || (a->time == b->time && a->order < b->order);
}

void hg_world_spawn(struct hg_world *w, const struct hg_spawn *sp)
{
    struct hg_spawnq *q = &w->spawns;

    if (q->n == q->cap) {
        struct hg_spawn *a = realloc(q->a, 2 * q->cap * sizeof(*a));
        if (!a) {
            w->error = -ENOMEM;
            return;
        }
        q->a = a;
        q->cap *= 2;
    }
    struct hg_spawn x = *sp;
    x.order = w->next_spawn++;
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!spawn_less(&x, &q->a[p]))
            break;
        q->a[i] = q->a[p];
        i = p;
    }
    q->a[i] = x;
}

const struct hg_spawn *hg_world_peek_spawn(const struct hg_world *w)
{
    return w->spawns.n ? &w->spawns.a[0] : NULL;
}

void hg_world_pop_spawn(struct hg_world *w, struct hg_spawn *ret)
{
    struct hg_spawnq *q = &w->spawns;

    *ret = q->a[0];
    struct hg_spawn x = q->a[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && spawn_less(&q->a[c + 1], &q->a[c]))
            c++;
        if (!spawn_less(&q->a[c], &x))
            break;
        q->a[i] = q->a[c];
        i = c;
    }
    if (q->n)
        q->a[i] = x;
}

uint32_t hg_world_patient(struct hg_world *w)
{
    if (w->next_patient > 1 && hg_rng_chance(&w->rng, 0.35))
        return 1 + (uint32_t)hg_rng_below(&w->rng, w->next_patient - 1);
    return w->next_patient++;
}

uint64_t hg_world_case(struct hg_world *w, enum hg_jtype type)
{
    return ++w->next_case[type];
}

int64_t hg_world_local(const struct hg_world *w, int64_t utc)
{
    return utc + (int64_t)w->off_sec * HG_SEC;
}

int64_t hg_world_utc(const struct hg_world *w, int64_t local)
{
    return local - (int64_t)w->off_sec * HG_SEC;
}

int64_t hg_world_workday_time(struct hg_world *w, int64_t t, unsigned from_hour, unsigned to_hour)
{
    int64_t day = hg_day_start(hg_world_local(w, t));

    while (hg_weekday(day) >= 5)
        day += HG_DAY;
    int64_t local = day + from_hour * HG_HOUR +
                    hg_rng_range(&w->rng, 0, (int64_t)(to_hour - from_hour) * HG_HOUR - 1);
    return hg_world_utc(w, local);
}
