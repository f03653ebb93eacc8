/*
 * The events behind the KPI ground truth (--truth): compact copies of the final events,
 * with strings interned, and the indexes the evaluator reads (by activity, by case, by
 * subject). Single-threaded; the store owns everything it holds.
 */
#ifndef HG_TRUTH_STORE_H
#define HG_TRUTH_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* qsort, for arrays that may be empty (and then NULL, which qsort must not be given). */
static inline void ht_sort(void *base, size_t n, size_t size,
                           int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

#define HT_NONE 0u    /* string id of "no string" (a missing case, subject or attribute) */
#define HT_ATTR_MAX 8 /* attributes per event */

/* Interned strings: equal strings have equal ids, ids start at 1. */
struct ht_pool {
    char **str;      /* str[id], NUL-terminated; str[0] unused */
    uint32_t n, cap; /* ids in use + 1, allocated */
    uint32_t *slot;  /* open addressing: id or 0 */
    uint32_t mask;   /* slots - 1 */
};

struct ht_attr {
    uint32_t key, val; /* string ids */
};

struct ht_event {
    int64_t time;      /* UTC microseconds, as written */
    double value;      /* NAN: no value */
    uint32_t case_id;  /* string id or HT_NONE */
    uint32_t subject;  /* string id or HT_NONE */
    uint32_t act;      /* string id */
    uint32_t seq;      /* the n of the event_key <case>/<ACTIVITY>/<n>: breaks time ties */
    uint32_t key_case; /* string id of the <case> of the event_key (also without case_id) */
    uint32_t attr;     /* index of the first attribute in ht_store.attr */
    uint8_t n_attr;
    uint8_t first; /* 1: the first event of its activity in its case */
};

/* A range of an index: idx[lo..hi) */
struct ht_range {
    const uint32_t *idx;
    size_t n;
};

struct ht_store {
    struct ht_pool pool;
    struct ht_event *ev;
    size_t n_ev, cap_ev;
    struct ht_attr *attr;
    size_t n_attr, cap_attr;
    int err; /* first error of ht_store_add (a negative errno), sticky */
    /* Built by ht_store_index: CSR by string id (off has pool.n + 1 entries). */
    uint32_t *by_act, *by_case, *by_subj;
    size_t *act_off, *case_off, *subj_off;
    uint32_t n_indexed; /* pool.n when indexed: ids from here on have no events */
};

/* One event to add; strings are copied (interned). NULL case/subject: none. key_case is
 * the <case> of its event_key <case>/<ACTIVITY>/<seq> (NULL: case_id, or "" without). */
struct ht_input {
    const char *case_id, *subject_id, *activity, *key_case;
    int64_t time;
    double value; /* NAN: none */
    uint32_t seq;
    unsigned n_attr;
    const char *key[HT_ATTR_MAX], *val[HT_ATTR_MAX];
};

void ht_store_init(struct ht_store *s);
/* Frees everything the store holds; the store may be initialized again. */
void ht_store_fini(struct ht_store *s);

/*
 * Interns s (len bytes, no NUL needed) and stores its id in *ret_id. Returns 0 or
 * -ENOMEM.
 */
int ht_pool_intern(struct ht_pool *p, const char *s, size_t len, uint32_t *ret_id);
/* Returns the text of id; NULL for HT_NONE. */
const char *ht_pool_str(const struct ht_pool *p, uint32_t id);

/* Adds one event. Returns 0 or -ENOMEM (also remembered in s->err). */
int ht_store_add(struct ht_store *s, const struct ht_input *in);
/*
 * Sorts the events into the indexes: by activity in time order, by case in (time,
 * activity, key) order with the first event of each activity marked, by subject in
 * (activity, time) order. Call once after the last ht_store_add. Returns 0 or -ENOMEM.
 */
int ht_store_index(struct ht_store *s);

/* The events of activity act (a string id), by time. */
struct ht_range ht_by_act(const struct ht_store *s, uint32_t act);
/* The events of a case, by (time, activity, key). */
struct ht_range ht_by_case(const struct ht_store *s, uint32_t case_id);
/* The events of a subject, by (activity, time). */
struct ht_range ht_by_subject(const struct ht_store *s, uint32_t subject);

/* The value id of attribute key of event e, or HT_NONE when e lacks it. */
uint32_t ht_event_attr(const struct ht_store *s, const struct ht_event *e, uint32_t key);
/* Compares the event_key tie-breaks of a and b (same case and activity): <0, 0, >0. */
int ht_seq_cmp(uint32_t a, uint32_t b);
/* Compares a and b as kpid orders the first of several events: by time, then by
 * event_key in byte order (all events are of one source): <0, 0, >0. */
int ht_event_order_cmp(const struct ht_store *s, const struct ht_event *a,
                       const struct ht_event *b);

#endif
