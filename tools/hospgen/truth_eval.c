#include "truth_eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a member is or has. */
enum {
    F_X = 1,    /* has x: a value (value), an end (duration) */
    F_D = 2,    /* proportion: in the denominator */
    F_DX = 4,   /* proportion: meets denominator_exclusion */
    F_N = 8,    /* proportion: meets numerator */
    F_NX = 16,  /* proportion: meets numerator_exclusion */
    F_IN = 32,  /* duration within: ended within the limit */
    F_INC = 64, /* incomplete: the case or subject a rule needs is missing; in no population */
};

/* One member of a KPI's population in a period: an event or a case. */
struct member {
    uint32_t s[HT_STRATIFY_MAX]; /* the anchor's stratum attribute values */
    uint32_t case_id, subject;
    double x;
    int64_t us; /* census: microseconds open within the period */
    uint8_t f;
};

struct members {
    struct member *m;
    size_t n, cap;
};

static int push(struct members *ms, const struct member *m)
{
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 256;
        struct member *a = realloc(ms->m, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        ms->m = a;
        ms->cap = cap;
    }
    ms->m[ms->n++] = *m;
    return 0;
}

/* ---- conditions on events ---------------------------------------------------------- */

static bool filters_pass(const struct ht_store *s, const struct ht_event *e,
                         const struct ht_filters *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        const struct ht_filter *f = &fs->f[i];
        uint32_t v = ht_event_attr(s, e, f->attr);
        bool found = false;
        for (size_t k = 0; v != HT_NONE && k < f->n_vals && !found; k++)
            found = f->vals[k] == v;
        if (f->op == HT_NOT_IN ? found : !found)
            return false;
    }
    return true;
}

/* A member row for anchor e with its stratum attributes. */
static struct member member_of(const struct ht_store *s, const struct ht_kpi *k,
                               const struct ht_event *e)
{
    struct member m = {.case_id = e->case_id, .subject = e->subject};

    for (size_t i = 0; i < k->n_strat; i++)
        m.s[i] = ht_event_attr(s, e, k->strat[i]);
    return m;
}

/* The first index of r whose event time is >= t (r sorted by time from lo). */
static size_t lower_bound(const struct ht_store *s, const uint32_t *idx, size_t lo, size_t hi,
                          int64_t t, bool strict)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t mt = s->ev[idx[mid]].time;
        if (strict ? mt <= t : mt < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The run of activity act in r, a range of the subject index ((activity, time) order):
 * [*ret_lo, *ret_hi). */
static void activity_run(const struct ht_store *s, struct ht_range r, uint32_t act, size_t *ret_lo,
                         size_t *ret_hi)
{
    size_t lo = 0, hi = r.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ev[r.idx[mid]].act < act)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ret_lo = lo;
    while (hi < r.n && s->ev[r.idx[hi]].act == act)
        hi++;
    *ret_hi = hi;
}

/* Whether condition c holds for member event m (before negate). */
static bool cond_exists(const struct ht_store *s, const struct ht_cond *c, const struct ht_event *m)
{
    if (!c->link_subject) {
        struct ht_range r = ht_by_case(s, m->case_id);
        for (size_t i = 0; i < r.n; i++) {
            const struct ht_event *x = &s->ev[r.idx[i]];
            if (x->act != c->act)
                continue;
            if (c->within_us > 0 && (x->time < m->time || x->time > m->time + c->within_us))
                continue;
            if (filters_pass(s, x, &c->filters))
                return true;
        }
        return false;
    }
    /* The subject index is in (activity, time) order: find the activity's run, then
     * the first event after m. */
    struct ht_range r = ht_by_subject(s, m->subject);
    size_t lo, end;
    activity_run(s, r, c->act, &lo, &end);
    for (size_t i = lower_bound(s, r.idx, lo, end, m->time, /* strict= */ true); i < end; i++) {
        const struct ht_event *x = &s->ev[r.idx[i]];
        if (c->within_us > 0 && x->time > m->time + c->within_us)
            break;
        if (filters_pass(s, x, &c->filters))
            return true;
    }
    return false;
}

static bool cond_holds(const struct ht_store *s, const struct ht_cond *c, const struct ht_event *m)
{
    return cond_exists(s, c, m) != c->negate;
}

/* The time of the first event of activity to in m's case at or after m's time; false
 * when there is none. */
static bool first_after(const struct ht_store *s, const struct ht_event *m, uint32_t to,
                        int64_t *ret)
{
    struct ht_range r = ht_by_case(s, m->case_id);

    for (size_t i = 0; i < r.n; i++) {
        const struct ht_event *x = &s->ev[r.idx[i]];
        if (x->act == to && x->time >= m->time) {
            *ret = x->time; /* case order is by time: the first met is the earliest */
            return true;
        }
    }
    return false;
}

/* The events of act in [start, end): a slice of the activity index. */
static struct ht_range in_period(const struct ht_store *s, uint32_t act, int64_t start, int64_t end)
{
    struct ht_range r = ht_by_act(s, act);
    size_t lo = lower_bound(s, r.idx, 0, r.n, start, false);
    size_t hi = lower_bound(s, r.idx, lo, r.n, end, false);

    return (struct ht_range){r.idx + lo, hi - lo};
}

/* ---- members of each type ---------------------------------------------------------- */

/* A population event of a proportion: of the population's activity, passing the KPI's
 * filters and the population's. */
static bool population_event(const struct ht_store *s, const struct ht_kpi *k,
                             const struct ht_event *e)
{
    return e->act == k->cond[HT_C_POPULATION].act && filters_pass(s, e, &k->filters) &&
           filters_pass(s, e, &k->cond[HT_C_POPULATION].filters);
}

/* Whether some present condition of k follows link (subject: true, case: false). */
static bool follows(const struct ht_kpi *k, bool subject)
{
    for (int c = HT_C_DEN; c < HT_C__COUNT; c++)
        if (k->cond[c].present && k->cond[c].link_subject == subject)
            return true;
    return false;
}

/*
 * Whether population event e is the first of its group: among the population events
 * of its case (at any time, basis case) or of its subject in [start, e] (basis
 * subject), none comes before it by (time, event_key).
 */
static bool first_of_group(const struct ht_store *s, const struct ht_kpi *k,
                           const struct ht_event *e, int64_t start)
{
    struct ht_range r =
        k->basis == HT_BASIS_CASE ? ht_by_case(s, e->case_id) : ht_by_subject(s, e->subject);
    size_t lo = 0, hi = r.n;

    /* A subject may have many events: only the run of the population's activity. */
    if (k->basis == HT_BASIS_SUBJECT)
        activity_run(s, r, k->cond[HT_C_POPULATION].act, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        const struct ht_event *x = &s->ev[r.idx[i]];
        if (x == e || !population_event(s, k, x))
            continue;
        if (k->basis == HT_BASIS_SUBJECT && x->time < start)
            continue;
        if (ht_event_order_cmp(s, x, e) < 0)
            return false;
    }
    return true;
}

/*
 * The members of a proportion (docs/kpi-semantics.md): every population event of the
 * period (basis event), or the first population event of each case, when it is in the
 * period (case), or of each subject in the period (subject). A population event without
 * what its basis groups by, and a member whose anchor lacks the case or subject a
 * condition follows, are incomplete: counted, in no population.
 */
static int collect_proportion(const struct ht_store *s, const struct ht_kpi *k, int64_t start,
                              int64_t end, struct members *ms)
{
    const struct ht_cond *c = k->cond;
    bool by_case = k->basis == HT_BASIS_CASE || follows(k, false);
    bool by_subject = k->basis == HT_BASIS_SUBJECT || follows(k, true);
    struct ht_range r = in_period(s, c[HT_C_POPULATION].act, start, end);
    int rc = 0;

    for (size_t i = 0; i < r.n && rc == 0; i++) {
        const struct ht_event *e = &s->ev[r.idx[i]];
        if (!population_event(s, k, e))
            continue;
        struct member m = member_of(s, k, e);
        bool grouped = k->basis == HT_BASIS_CASE      ? e->case_id != HT_NONE
                       : k->basis == HT_BASIS_SUBJECT ? e->subject != HT_NONE
                                                      : true;
        if (grouped && k->basis != HT_BASIS_EVENT && !first_of_group(s, k, e, start))
            continue;
        if ((by_case && e->case_id == HT_NONE) || (by_subject && e->subject == HT_NONE)) {
            m.f |= F_INC;
            rc = push(ms, &m);
            continue;
        }
        /* Absent conditions: everybody is in the denominator, nobody excluded. */
        if (!c[HT_C_DEN].present || cond_holds(s, &c[HT_C_DEN], e))
            m.f |= F_D;
        if (c[HT_C_DENX].present && cond_holds(s, &c[HT_C_DENX], e))
            m.f |= F_DX;
        if (c[HT_C_NUM].present && cond_holds(s, &c[HT_C_NUM], e))
            m.f |= F_N;
        if (c[HT_C_NUMX].present && cond_holds(s, &c[HT_C_NUMX], e))
            m.f |= F_NX;
        rc = push(ms, &m);
    }
    return rc;
}

static int collect(const struct ht_store *s, const struct ht_kpi *k, int64_t start, int64_t end,
                   struct members *ms)
{
    struct ht_range r;
    int rc = 0;

    switch (k->type) {
    case HT_COUNT:
    case HT_VALUE:
        r = in_period(s, k->act, start, end);
        for (size_t i = 0; i < r.n && rc == 0; i++) {
            const struct ht_event *e = &s->ev[r.idx[i]];
            if (!filters_pass(s, e, &k->filters))
                continue;
            struct member m = member_of(s, k, e);
            if (!isnan(e->value)) {
                m.f |= F_X;
                m.x = e->value;
            }
            rc = push(ms, &m);
        }
        break;
    case HT_PROPORTION: rc = collect_proportion(s, k, start, end, ms); break;
    case HT_DURATION: {
        /* The limit in the KPI's unit, computed as kpid binds it. */
        double limit = (double)(k->within_us / 1000) / 1000.0 / k->unit_s;
        r = in_period(s, k->from, start, end);
        for (size_t i = 0; i < r.n && rc == 0; i++) {
            const struct ht_event *e = &s->ev[r.idx[i]];
            int64_t t;
            if ((e->case_id != HT_NONE && !e->first) || !filters_pass(s, e, &k->filters))
                continue;
            struct member m = member_of(s, k, e);
            if (e->case_id == HT_NONE) /* an anchor without its case */
                m.f |= F_INC;
            else if (first_after(s, e, k->to, &t)) {
                m.f |= F_X;
                m.x = (double)(t - e->time) / 1e6 / k->unit_s;
                if (m.x <= limit)
                    m.f |= F_IN;
            }
            rc = push(ms, &m);
        }
        break;
    }
    case HT_CENSUS: {
        /* Cases opened in [start - lookback, end): scan the openings in that range; an
         * opening without a case counts as incomplete when it is in the period. */
        r = in_period(s, k->from, start - k->lookback_us, end);
        for (size_t i = 0; i < r.n && rc == 0; i++) {
            const struct ht_event *e = &s->ev[r.idx[i]];
            int64_t close;
            bool closed;
            if (!filters_pass(s, e, &k->filters))
                continue;
            if (e->case_id == HT_NONE) {
                if (e->time >= start) {
                    struct member m = member_of(s, k, e);
                    m.f |= F_INC;
                    rc = push(ms, &m);
                }
                continue;
            }
            if (!e->first)
                continue;
            closed = first_after(s, e, k->to, &close);
            /* Open during [open, close): closed before the period, or at its opening
             * (a stay of zero length), it is never open in the period. */
            if (closed && (close <= start || close == e->time))
                continue;
            struct member m = member_of(s, k, e);
            int64_t hi = closed && close < end ? close : end;
            int64_t lo = e->time > start ? e->time : start;
            m.us = hi - lo;
            rc = push(ms, &m);
        }
        break;
    }
    case HT_RATIO:
    case HT_SQL: break;
    }
    return rc;
}

/* ---- aggregation ------------------------------------------------------------------- */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;

    return a < b ? -1 : a > b;
}

double ht_percentile_cont(double *v, size_t n, double p)
{
    ht_sort(v, n, sizeof(*v), cmp_double);
    double pos = p * (double)(n - 1);
    double lo = floor(pos), hi = ceil(pos);
    if (lo == hi)
        return v[(size_t)lo];
    /* PostgreSQL: first + (pos - first_row) * (second - first) */
    return v[(size_t)lo] + ((pos - lo) * (v[(size_t)hi] - v[(size_t)lo]));
}

/* The statistic of the values x of the members with F_X into *ret; *ret_has is false
 * when there are none, except for a sum, which is then 0. */
static int statistic(const struct ht_kpi *k, const struct member *m, size_t n, double *ret,
                     bool *ret_has)
{
    double *v = malloc((n ? n : 1) * sizeof(*v));
    size_t c = 0;

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (m[i].f & F_X)
            v[c++] = m[i].x;
    *ret_has = c > 0 || k->stat == HT_SUM;
    if (c == 0)
        *ret = 0;
    if (c > 0) {
        double acc = v[0];
        switch (k->stat) {
        case HT_SUM:
        case HT_AVG:
            acc = 0;
            for (size_t i = 0; i < c; i++)
                acc += v[i];
            *ret = k->stat == HT_AVG ? acc / (double)c : acc;
            break;
        case HT_MIN:
            for (size_t i = 1; i < c; i++)
                acc = v[i] < acc ? v[i] : acc;
            *ret = acc;
            break;
        case HT_MAX:
            for (size_t i = 1; i < c; i++)
                acc = v[i] > acc ? v[i] : acc;
            *ret = acc;
            break;
        default: *ret = ht_percentile_cont(v, c, k->pct); break;
        }
    }
    free(v);
    return 0;
}

/* Sort order of pairs: by the text written (NULL as \N). Single-threaded: the pool is
 * passed to the comparator through this pointer. */
static const struct ht_pool *sort_pool;

static const char *pair_text(uint32_t id)
{
    const char *t = ht_pool_str(sort_pool, id);
    return t ? t : "\\N";
}

static int cmp_pair(const void *pa, const void *pb)
{
    const struct ht_pair *a = pa, *b = pb;
    int c;

    if (a->case_id != b->case_id && (c = strcmp(pair_text(a->case_id), pair_text(b->case_id))))
        return c;
    if (a->subject != b->subject)
        return strcmp(pair_text(a->subject), pair_text(b->subject));
    return 0;
}

/* Adds population code of the members whose flags have all of want and none of
 * refuse (0, 0: all); an incomplete member is in none. */
static int add_pop(const struct ht_store *s, struct ht_row *row, const char *code,
                   const struct member *m, size_t n, uint8_t want, uint8_t refuse)
{
    struct ht_pop *p = &row->pop[row->n_pop];
    size_t c = 0;

    p->code = code;
    p->p = malloc((n ? n : 1) * sizeof(*p->p));
    if (!p->p)
        return -ENOMEM;
    row->n_pop++;
    for (size_t i = 0; i < n; i++)
        if ((m[i].f & want) == want && !(m[i].f & (refuse | F_INC)))
            p->p[c++] = (struct ht_pair){m[i].case_id, m[i].subject};
    sort_pool = &s->pool;
    ht_sort(p->p, c, sizeof(*p->p), cmp_pair);
    p->n = 0;
    for (size_t i = 0; i < c; i++)
        if (p->n == 0 || cmp_pair(&p->p[p->n - 1], &p->p[i]) != 0)
            p->p[p->n++] = p->p[i];
    return 0;
}

static int cmp_u32(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : a > b;
}

/* The value, numerator, denominator, n, excluded and populations of members m[0..n)
 * into row. */
static int aggregate(const struct ht_store *s, const struct ht_kpi *k, int64_t start, int64_t end,
                     const struct member *m, size_t n, struct ht_row *row)
{
    int64_t c = 0, inc = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        inc += (m[i].f & F_INC) != 0;
    if (k->type == HT_PROPORTION || k->type == HT_DURATION || k->type == HT_CENSUS) {
        row->has_excl = true;
        row->excluded = inc;
    }

    switch (k->type) {
    case HT_COUNT:
        row->has_value = row->has_n = true;
        row->n = (int64_t)n;
        if (k->count == HT_EVENTS)
            row->value = (double)n;
        else {
            uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
            if (!ids)
                return -ENOMEM;
            for (size_t i = 0; i < n; i++)
                ids[i] = k->count == HT_CASES ? m[i].case_id : m[i].subject;
            ht_sort(ids, n, sizeof(*ids), cmp_u32);
            size_t d = 0; /* distinct non-null ids */
            for (size_t i = 0; i < n; i++)
                d += ids[i] != HT_NONE && (i == 0 || ids[i] != ids[i - 1]);
            row->value = (double)d;
            free(ids);
        }
        rc = add_pop(s, row, "initial-population", m, n, 0, 0);
        break;
    case HT_VALUE:
        for (size_t i = 0; i < n; i++)
            c += (m[i].f & F_X) != 0;
        row->has_n = true;
        row->n = c;
        rc = statistic(k, m, n, &row->value, &row->has_value);
        if (rc == 0)
            rc = add_pop(s, row, "initial-population", m, n, 0, 0);
        if (rc == 0)
            rc = add_pop(s, row, "measure-population", m, n, F_X, 0);
        break;
    case HT_DURATION:
        row->has_n = true;
        rc = add_pop(s, row, "initial-population", m, n, 0, 0);
        if (k->stat == HT_WITHIN) {
            int64_t cases = (int64_t)n - inc;
            for (size_t i = 0; i < n; i++)
                c += (m[i].f & F_IN) != 0;
            row->n = cases;
            row->has_num = row->has_den = true;
            row->num = (double)c;
            row->den = (double)cases;
            row->has_value = cases > 0;
            row->value = cases > 0 ? (double)c / (double)cases : 0;
            if (rc == 0)
                rc = add_pop(s, row, "denominator", m, n, 0, 0);
            if (rc == 0)
                rc = add_pop(s, row, "numerator", m, n, F_IN, 0);
        } else {
            for (size_t i = 0; i < n; i++)
                c += (m[i].f & F_X) != 0;
            row->n = c;
            if (rc == 0)
                rc = statistic(k, m, n, &row->value, &row->has_value);
            if (rc == 0)
                rc = add_pop(s, row, "measure-population", m, n, F_X, 0);
        }
        break;
    case HT_PROPORTION: {
        int64_t num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t f = m[i].f;
            if ((f & F_D) && !(f & F_DX) && !(f & F_INC)) {
                den++;
                num += (f & F_N) && !(f & F_NX);
            }
        }
        row->has_n = row->has_num = row->has_den = true;
        row->n = (int64_t)n - inc;
        row->num = (double)num;
        row->den = (double)den;
        row->has_value = den > 0;
        row->value = den > 0 ? (double)num / (double)den : 0;
        rc = add_pop(s, row, "initial-population", m, n, 0, 0);
        if (rc == 0)
            rc = add_pop(s, row, "denominator", m, n, F_D, 0);
        if (rc == 0)
            rc = add_pop(s, row, "denominator-exclusion", m, n, F_D | F_DX, 0);
        if (rc == 0)
            rc = add_pop(s, row, "numerator", m, n, F_D | F_N, F_DX);
        if (rc == 0)
            rc = add_pop(s, row, "numerator-exclusion", m, n, F_D | F_N | F_NX, F_DX);
        break;
    }
    case HT_CENSUS: {
        int64_t us = 0;
        for (size_t i = 0; i < n; i++)
            us += m[i].us;
        /* As the warehouse: exact sum of seconds, then float8 arithmetic left to right. */
        double open_s = (double)us / 1e6, len_s = (double)(end - start) / 1e6;
        row->has_value = row->has_n = true;
        row->n = (int64_t)n - inc;
        if (k->stat == HT_CASE_DAYS)
            row->value = open_s / 86400;
        else if (k->capacity > 0) {
            row->value = open_s / len_s / k->capacity;
            row->has_num = row->has_den = true;
            row->num = open_s / len_s;
            row->den = k->capacity;
        } else
            row->value = open_s / len_s;
        rc = add_pop(s, row, "initial-population", m, n, 0, 0);
        break;
    }
    case HT_RATIO:
    case HT_SQL: break;
    }
    return rc;
}

/* ---- strata ------------------------------------------------------------------------ */

size_t ht_json_string(char *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;

    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':
            *p++ = '\\';
            *p++ = '"';
            break;
        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;
        case '\b':
            *p++ = '\\';
            *p++ = 'b';
            break;
        case '\f':
            *p++ = '\\';
            *p++ = 'f';
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        case '\r':
            *p++ = '\\';
            *p++ = 'r';
            break;
        case '\t':
            *p++ = '\\';
            *p++ = 't';
            break;
        default:
            if (c < 0x20) {
                memcpy(p, "\\u00", 4);
                p[4] = hex[c >> 4];
                p[5] = hex[c & 15];
                p += 6;
            } else
                *p++ = (char)c;
        }
    }
    *p++ = '"';
    return (size_t)(p - out);
}

/* The stratum of member m as a compact JSON object ("{}" when whole). Fresh. */
static char *stratum_json(const struct ht_store *s, const struct ht_kpi *k, const struct member *m)
{
    size_t len = 3;
    char *out, *p;

    for (size_t i = 0; m && i < k->n_strat; i++) {
        const char *v = ht_pool_str(&s->pool, m->s[i]);
        len += 6 * strlen(ht_pool_str(&s->pool, k->strat[i])) + 4 + (v ? 6 * strlen(v) + 2 : 4) + 2;
    }
    p = out = malloc(len);
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; m && i < k->n_strat; i++) {
        const char *v = ht_pool_str(&s->pool, m->s[i]);
        if (i)
            *p++ = ',';
        p += ht_json_string(p, ht_pool_str(&s->pool, k->strat[i]));
        *p++ = ':';
        if (v)
            p += ht_json_string(p, v);
        else {
            memcpy(p, "null", 4);
            p += 4;
        }
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static int cmp_stratum(const void *pa, const void *pb)
{
    const struct member *a = pa, *b = pb;

    for (size_t i = 0; i < HT_STRATIFY_MAX; i++)
        if (a->s[i] != b->s[i])
            return a->s[i] < b->s[i] ? -1 : 1;
    return 0;
}

static int cmp_row(const void *pa, const void *pb)
{
    return strcmp(((const struct ht_row *)pa)->stratum, ((const struct ht_row *)pb)->stratum);
}

static int add_row(const struct ht_store *s, const struct ht_kpi *k, int64_t start, int64_t end,
                   const struct member *m, size_t n, bool whole, struct ht_result *res)
{
    struct ht_row *row = &res->row[res->n];

    memset(row, 0, sizeof(*row));
    row->stratum = stratum_json(s, k, whole ? NULL : m);
    if (!row->stratum)
        return -ENOMEM;
    res->n++;
    return aggregate(s, k, start, end, m, n, row);
}

static int eval_members(const struct ht_store *s, const struct ht_kpi *k, int64_t start,
                        int64_t end, struct members *ms, struct ht_result *res)
{
    int rc;

    res->row = calloc(ms->n + 1, sizeof(*res->row));
    if (!res->row)
        return -ENOMEM;
    rc = add_row(s, k, start, end, ms->m, ms->n, /* whole= */ true, res);
    if (rc < 0 || k->n_strat == 0)
        return rc;
    /* Member order within a stratum stays the anchor order: stable by construction
     * is not needed, populations are sorted by text. */
    ht_sort(ms->m, ms->n, sizeof(*ms->m), cmp_stratum);
    /* A stratum has a row when it has members, or members left out as incomplete (a
     * value KPI's members are its events, with a value or not). */
    for (size_t i = 0, j; i < ms->n && rc == 0; i = j) {
        for (j = i; j < ms->n && cmp_stratum(&ms->m[i], &ms->m[j]) == 0; j++)
            ;
        rc = add_row(s, k, start, end, ms->m + i, j - i, /* whole= */ false, res);
    }
    if (rc == 0)
        ht_sort(res->row, res->n, sizeof(*res->row), cmp_row);
    return rc;
}

/* ---- ratio ------------------------------------------------------------------------- */

static int eval_depth(const struct ht_store *s, const struct ht_model *m, size_t k, int64_t start,
                      int64_t end, int depth, struct ht_result *ret);

/* Copies population src (the pairs) into row as code. */
static int copy_pop(struct ht_row *row, const char *code, const struct ht_pop *src)
{
    struct ht_pop *p = &row->pop[row->n_pop];

    p->code = code;
    p->n = src ? src->n : 0;
    p->p = malloc((p->n ? p->n : 1) * sizeof(*p->p));
    if (!p->p)
        return -ENOMEM;
    if (p->n)
        memcpy(p->p, src->p, p->n * sizeof(*p->p));
    row->n_pop++;
    return 0;
}

static const struct ht_pop *initial_pop(const struct ht_row *row)
{
    for (size_t i = 0; i < row->n_pop; i++)
        if (strcmp(row->pop[i].code, "initial-population") == 0)
            return &row->pop[i];
    return NULL;
}

static int eval_ratio(const struct ht_store *s, const struct ht_model *m, const struct ht_kpi *k,
                      int64_t start, int64_t end, int depth, struct ht_result *res)
{
    long ni = ht_model_find(m, k->num_id), di = ht_model_find(m, k->den_id);
    struct ht_result nr = {0}, dr = {0};
    int rc = 0;

    if (ni < 0 || di < 0)
        return 0; /* kpid refuses such a configuration */
    rc = eval_depth(s, m, (size_t)ni, start, end, depth + 1, &nr);
    if (rc == 0)
        rc = eval_depth(s, m, (size_t)di, start, end, depth + 1, &dr);
    if (rc == 0 && !(res->row = calloc(nr.n + 1, sizeof(*res->row))))
        rc = -ENOMEM;
    /* Both row lists are sorted by stratum: a merge join. */
    for (size_t i = 0, j = 0; rc == 0 && i < nr.n && j < dr.n;) {
        int c = strcmp(nr.row[i].stratum, dr.row[j].stratum);
        if (c) {
            c < 0 ? i++ : j++;
            continue;
        }
        const struct ht_row *a = &nr.row[i++], *b = &dr.row[j++];
        struct ht_row *row = &res->row[res->n];
        memset(row, 0, sizeof(*row));
        if (!(row->stratum = strdup(a->stratum))) {
            rc = -ENOMEM;
            break;
        }
        res->n++;
        row->has_num = a->has_value;
        row->num = a->value;
        row->has_den = b->has_value;
        row->den = b->value;
        /* nv.value / NULLIF(dv.value, 0) * factor */
        row->has_value = a->has_value && b->has_value && b->value != 0;
        row->value = row->has_value ? a->value / b->value * k->factor : 0;
        rc = copy_pop(row, "numerator", initial_pop(a));
        if (rc == 0)
            rc = copy_pop(row, "denominator", initial_pop(b));
    }
    ht_result_clear(&nr);
    ht_result_clear(&dr);
    return rc;
}

static int eval_depth(const struct ht_store *s, const struct ht_model *m, size_t k, int64_t start,
                      int64_t end, int depth, struct ht_result *ret)
{
    const struct ht_kpi *kpi = &m->kpi[k];
    struct ht_result res = {0};
    struct members ms = {0};
    int rc;

    if (depth > 16)
        return -ELOOP;
    if (kpi->type == HT_SQL || kpi->period.kind == HT_P_ROLLING)
        rc = 0;
    else if (kpi->type == HT_RATIO)
        rc = eval_ratio(s, m, kpi, start, end, depth, &res);
    else {
        rc = collect(s, kpi, start, end, &ms);
        if (rc == 0)
            rc = eval_members(s, kpi, start, end, &ms, &res);
    }
    free(ms.m);
    if (rc < 0) {
        ht_result_clear(&res);
        return rc;
    }
    *ret = res;
    return 0;
}

int ht_eval(const struct ht_store *s, const struct ht_model *m, size_t k, int64_t start,
            int64_t end, struct ht_result *ret)
{
    return eval_depth(s, m, k, start, end, 0, ret);
}

void ht_result_clear(struct ht_result *r)
{
    for (size_t i = 0; r->row && i < r->n; i++) {
        free(r->row[i].stratum);
        for (size_t p = 0; p < r->row[i].n_pop; p++)
            free(r->row[i].pop[p].p);
    }
    free(r->row);
    memset(r, 0, sizeof(*r));
}
