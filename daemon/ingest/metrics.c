#include "ingest/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/ident.h"
#include "text/utf8.h"

struct kpid_metric {
    struct kpid_metric *next; /* the registry's list, guarded by its lock */
    const void *owner;
    char *owner_name;
    enum kpid_metric_type type;
    char *name;
    char *help;
    kpid_metric_label labels[KPID_METRIC_LABELS_MAX]; /* strings owned */
    size_t n_labels;
    double bounds[KPID_METRIC_BUCKETS_MAX];
    size_t n_buckets;
    /* Counter: the count. Gauge: the value's bits. Histogram: the sum's bits. */
    _Atomic uint64_t value;
    _Atomic uint64_t buckets[]; /* histogram: per bucket (not cumulative), +Inf last */
};

struct kpid_metrics {
    pthread_mutex_t lock; /* guards the list and its links, not the values */
    kpid_metric *head;    /* in registration order */
};

static kpid_metrics default_registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

kpid_metrics *kpid_metrics_default(void)
{
    return &default_registry;
}

int kpid_metrics_new(kpid_metrics **ret_registry)
{
    kpid_metrics *reg = calloc(1, sizeof(*reg));

    if (!reg)
        return -ENOMEM;
    pthread_mutex_init(&reg->lock, NULL);
    *ret_registry = reg;
    return 0;
}

static kpid_metric *metric_free(kpid_metric *m)
{
    if (!m)
        return NULL;
    for (size_t i = 0; i < m->n_labels; i++) {
        free((char *)m->labels[i].name);
        free((char *)m->labels[i].value);
    }
    free(m->owner_name);
    free(m->name);
    free(m->help);
    free(m);
    return NULL;
}

kpid_metrics *kpid_metrics_free(kpid_metrics *reg)
{
    if (!reg || reg == &default_registry)
        return NULL;
    while (reg->head) {
        kpid_metric *m = reg->head;
        reg->head = m->next;
        metric_free(m);
    }
    pthread_mutex_destroy(&reg->lock);
    free(reg);
    return NULL;
}

/* ---- the rules of a definition ------------------------------------------------------ */

/* Metric and label names follow the rule of attribute names: [A-Za-z_][A-Za-z0-9_]{0,62}. */
_Static_assert(KPID_METRIC_NAME_MAX == KPID_IDENT_ATTR_MAX, "the SDK's metric name length");

static bool name_valid(const char *s)
{
    return s && kpid_ident_attr_valid(s);
}

/* Valid UTF-8 of at most max bytes, without control characters, '"' or '\\'. */
static bool text_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    unsigned cp;

    return n <= max && kpid_utf8_valid(s, n) && kpid_utf8_find_control(s, n, &cp) < 0 &&
           !strpbrk(s, "\"\\");
}

/* Why def breaks the SDK's rules, or NULL. */
static const char *def_invalid(const kpid_metric_def *def)
{
    if (def->type != KPID_METRIC_COUNTER && def->type != KPID_METRIC_GAUGE &&
        def->type != KPID_METRIC_HISTOGRAM)
        return "unknown type";
    if (!name_valid(def->name))
        return "the name is not [a-zA-Z_][a-zA-Z0-9_]* of at most 63 bytes";
    if (strncmp(def->name, "kpid_", 5) == 0)
        return "names starting with kpid_ are the daemon's";
    if (def->help && !text_valid(def->help, KPID_METRIC_HELP_MAX))
        return "the help text is not one line of printable UTF-8 of at most 256 bytes "
               "without '\"' or '\\'";
    if (def->n_labels > KPID_METRIC_LABELS_MAX)
        return "more than 4 labels";
    if (def->n_labels > 0 && !def->labels)
        return "n_labels without labels";
    for (size_t i = 0; i < def->n_labels; i++) {
        const kpid_metric_label *l = &def->labels[i];
        if (!name_valid(l->name))
            return "a label name is not [a-zA-Z_][a-zA-Z0-9_]* of at most 63 bytes";
        if (strcmp(l->name, "source") == 0 || strcmp(l->name, "le") == 0 ||
            strncmp(l->name, "__", 2) == 0)
            return "the label names source, le and __* are reserved";
        for (size_t j = 0; j < i; j++)
            if (strcmp(def->labels[j].name, l->name) == 0)
                return "a label name is given twice";
        if (!l->value || !text_valid(l->value, KPID_METRIC_LABEL_VALUE_MAX))
            return "a label value is not printable UTF-8 of at most 128 bytes without '\"' "
                   "or '\\'";
    }
    if (def->type == KPID_METRIC_HISTOGRAM) {
        if (!def->buckets || def->n_buckets == 0 || def->n_buckets > KPID_METRIC_BUCKETS_MAX)
            return "a histogram needs 1 to 16 buckets";
        for (size_t i = 0; i < def->n_buckets; i++)
            if (!isfinite(def->buckets[i]) || (i > 0 && def->buckets[i] <= def->buckets[i - 1]))
                return "bucket bounds must be finite and increasing";
    } else if (def->buckets || def->n_buckets) {
        return "buckets are for histograms only";
    }
    for (size_t i = 0; i < sizeof(def->reserved) / sizeof(def->reserved[0]); i++)
        if (def->reserved[i])
            return "reserved fields are not zero";
    return NULL;
}

/* True when m is of the family def describes: type, help, label names, buckets. */
static bool same_family(const kpid_metric *m, const kpid_metric_def *def)
{
    if (m->type != def->type || strcmp(m->help, def->help ? def->help : "") != 0 ||
        m->n_labels != def->n_labels || m->n_buckets != def->n_buckets)
        return false;
    for (size_t i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i].name, def->labels[i].name) != 0)
            return false;
    for (size_t i = 0; i < m->n_buckets; i++)
        if (m->bounds[i] != def->buckets[i])
            return false;
    return true;
}

static bool same_label_values(const kpid_metric *m, const kpid_metric_def *def)
{
    for (size_t i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i].value, def->labels[i].value) != 0)
            return false;
    return true;
}

/* A new metric, a copy of def; NULL when out of memory. */
static kpid_metric *metric_new(const void *owner, const char *owner_name,
                               const kpid_metric_def *def)
{
    size_t n_slots = def->type == KPID_METRIC_HISTOGRAM ? def->n_buckets + 1 : 0;
    kpid_metric *m = calloc(1, sizeof(*m) + n_slots * sizeof(m->buckets[0]));

    if (!m)
        return NULL;
    m->owner = owner;
    m->type = def->type;
    m->owner_name = strdup(owner_name);
    m->name = strdup(def->name);
    m->help = strdup(def->help ? def->help : "");
    if (!m->owner_name || !m->name || !m->help)
        return metric_free(m);
    for (size_t i = 0; i < def->n_labels; i++) {
        m->labels[i].name = strdup(def->labels[i].name);
        m->labels[i].value = strdup(def->labels[i].value);
        m->n_labels++;
        if (!m->labels[i].name || !m->labels[i].value)
            return metric_free(m);
    }
    m->n_buckets = def->type == KPID_METRIC_HISTOGRAM ? def->n_buckets : 0;
    if (m->n_buckets)
        memcpy(m->bounds, def->buckets, m->n_buckets * sizeof(double));
    atomic_init(&m->value, 0); /* counter 0; the bits of +0.0 for gauge and sum */
    for (size_t i = 0; i < n_slots; i++)
        atomic_init(&m->buckets[i], 0);
    return m;
}

int kpid_metrics_register(kpid_metrics *reg, const void *owner, const char *owner_name,
                          const kpid_metric_def *def, kpid_metric **ret_metric,
                          const char **ret_reason)
{
    const char *reason;
    kpid_metric **tail, *m = NULL;
    size_t owned = 0;
    int r;

    reason = def ? def_invalid(def) : "no definition";
    if (reason) {
        if (ret_reason)
            *ret_reason = reason;
        return -EINVAL;
    }
    pthread_mutex_lock(&reg->lock);
    for (tail = &reg->head; *tail; tail = &(*tail)->next) {
        kpid_metric *o = *tail;
        if (o->owner != owner)
            continue;
        owned++;
        if (strcmp(o->name, def->name) != 0)
            continue;
        if (!same_family(o, def)) {
            reason = "the name is registered with another type, help text, label names or "
                     "buckets";
            r = -EEXIST;
            goto out;
        }
        if (same_label_values(o, def)) {
            m = o;
            r = 0;
            goto out;
        }
    }
    if (owned >= KPID_METRIC_MAX) {
        reason = "the source has 256 metrics already";
        r = -ENOSPC;
        goto out;
    }
    m = metric_new(owner, owner_name, def);
    if (!m) {
        r = -ENOMEM;
        goto out;
    }
    *tail = m;
    r = 0;
out:
    pthread_mutex_unlock(&reg->lock);
    if (r == 0)
        *ret_metric = m;
    else if (reason && ret_reason)
        *ret_reason = reason;
    return r;
}

void kpid_metrics_drop(kpid_metrics *reg, const void *owner)
{
    kpid_metric **link, *dropped = NULL;

    pthread_mutex_lock(&reg->lock);
    link = &reg->head;
    while (*link) {
        kpid_metric *m = *link;
        if (m->owner == owner) {
            *link = m->next;
            m->next = dropped;
            dropped = m;
        } else {
            link = &m->next;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    while (dropped) {
        kpid_metric *m = dropped;
        dropped = m->next;
        metric_free(m);
    }
}

/* ---- updates: no lock ------------------------------------------------------------- */

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* Adds delta to the double held in *slot, with a compare-and-swap loop. */
static void atomic_add_double(_Atomic uint64_t *slot, double delta)
{
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(slot, &old, double_bits(bits_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void kpid_metric_counter_add(kpid_metric *m, uint64_t delta)
{
    if (m && m->type == KPID_METRIC_COUNTER)
        atomic_fetch_add_explicit(&m->value, delta, memory_order_relaxed);
}

void kpid_metric_gauge_set(kpid_metric *m, double value)
{
    if (m && m->type == KPID_METRIC_GAUGE)
        atomic_store_explicit(&m->value, double_bits(value), memory_order_relaxed);
}

void kpid_metric_gauge_add(kpid_metric *m, double delta)
{
    if (m && m->type == KPID_METRIC_GAUGE)
        atomic_add_double(&m->value, delta);
}

void kpid_metric_observe(kpid_metric *m, double value)
{
    size_t i = 0;

    if (!m || m->type != KPID_METRIC_HISTOGRAM || isnan(value))
        return;
    while (i < m->n_buckets && value > m->bounds[i])
        i++;
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&m->value, value);
}

/* ---- reading ------------------------------------------------------------------------ */

int kpid_metrics_walk(kpid_metrics *reg, const void *owner,
                      int (*fn)(void *arg, const kpid_metric_sample *sample), void *arg)
{
    kpid_metric_sample s;
    int r = 0;

    pthread_mutex_lock(&reg->lock);
    for (kpid_metric *m = reg->head; m && r >= 0; m = m->next) {
        if (owner && m->owner != owner)
            continue;
        memset(&s, 0, sizeof(s));
        s.owner_name = m->owner_name;
        s.type = m->type;
        s.name = m->name;
        s.help = m->help;
        s.labels = m->labels;
        s.n_labels = m->n_labels;
        uint64_t v = atomic_load_explicit(&m->value, memory_order_relaxed);
        if (m->type == KPID_METRIC_COUNTER) {
            s.counter = v;
        } else if (m->type == KPID_METRIC_GAUGE) {
            s.gauge = bits_double(v);
        } else {
            s.sum = bits_double(v);
            s.n_buckets = m->n_buckets;
            s.bounds = m->bounds;
            for (size_t i = 0; i <= m->n_buckets; i++) {
                s.count += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
                s.cumulative[i] = s.count;
            }
        }
        r = fn(arg, &s);
        if (r > 0)
            r = 0;
    }
    pthread_mutex_unlock(&reg->lock);
    return r;
}

/* Appends the strings up to NULL to out (KPID_METRIC_LINE_MAX bytes, NUL-terminated) at
 * *len; what does not fit is cut. */
static void append(char *out, size_t *len, const char *const *parts)
{
    for (; *parts; parts++) {
        size_t n = strlen(*parts), room = KPID_METRIC_LINE_MAX - 1 - *len;
        if (n > room)
            n = room;
        memcpy(out + *len, *parts, n);
        *len += n;
        out[*len] = '\0';
    }
}
#define APPEND(out, len, ...) append(out, len, (const char *const[]){__VA_ARGS__, NULL})

static const char *count(uint64_t n, char buf[24])
{
    snprintf(buf, 24, "%llu", (unsigned long long)n);
    return buf;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as d. */
static const char *number(double d, char buf[32])
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, 32, "%.*g", digits, d);
        if (strtod(buf, NULL) == d || isnan(d))
            break;
    }
    return buf;
}

static const char *const type_names[] = {
    [KPID_METRIC_COUNTER] = "counter",
    [KPID_METRIC_GAUGE] = "gauge",
    [KPID_METRIC_HISTOGRAM] = "histogram",
};

const char *kpid_metric_format(const kpid_metric_sample *s, char *out)
{
    char num[32], n1[24];
    size_t len = 0;

    out[0] = '\0';
    APPEND(out, &len, "metric=", s->name, " type=", type_names[s->type]);
    for (size_t i = 0; i < s->n_labels; i++)
        APPEND(out, &len, " label.", s->labels[i].name, "=\"", s->labels[i].value, "\"");
    if (s->type == KPID_METRIC_COUNTER) {
        APPEND(out, &len, " value=", count(s->counter, n1));
    } else if (s->type == KPID_METRIC_GAUGE) {
        APPEND(out, &len, " value=", number(s->gauge, num));
    } else {
        APPEND(out, &len, " count=", count(s->count, n1), " sum=", number(s->sum, num));
        for (size_t i = 0; i < s->n_buckets; i++)
            APPEND(out, &len, " le.", number(s->bounds[i], num), "=", count(s->cumulative[i], n1));
        APPEND(out, &len, " le.+Inf=", count(s->cumulative[s->n_buckets], n1));
    }
    return out;
}
