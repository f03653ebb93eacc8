/*
 * The registry of typed plugin metrics (SDK ABI 1.2): the counters, gauges and
 * histograms that sources register through the host's metric_register, kept for whoever
 * reports them. Today a source logs its own at debug level when it stops; a metrics
 * endpoint walks the registry with kpid_metrics_walk.
 *
 * Ownership. A registry owns its metrics; each metric belongs to an owner (a source
 * instance, compared by pointer) and carries a copy of the owner's name. The owner's
 * metrics live until kpid_metrics_drop(owner) or kpid_metrics_free; handles given out
 * stay valid until then.
 *
 * Threads. Registration, walks and drops take the registry's one lock. Updates
 * (kpid_metric_counter_add, ...) take no lock: each is one or a few relaxed atomic
 * operations on the metric, safe from any thread while the metric lives. A walk reads
 * every value atomically; a histogram's buckets are read one after the other, so a walk
 * that runs during observations may see a sum that is a few observations apart from the
 * buckets (its count is the sum of the buckets it read, so those two always agree).
 */
#ifndef KPID_METRICS_H
#define KPID_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kpid/plugin.h"

typedef struct kpid_metrics kpid_metrics;

/* Creates an empty registry. Returns 0 or -ENOMEM. */
int kpid_metrics_new(kpid_metrics **ret_registry);

/* Frees the registry and every metric in it. Accepts NULL; returns NULL. The process-wide
 * registry (kpid_metrics_default) is never freed: it is passed over. */
kpid_metrics *kpid_metrics_free(kpid_metrics *reg);

/* The process-wide registry, where sources register unless given another. Lives until
 * exit. */
kpid_metrics *kpid_metrics_default(void);

/*
 * Registers the metric def (the SDK's rules: see kpid_metric_def in kpid/plugin.h) for
 * owner, named owner_name, and returns its handle in *ret_metric. The registry copies def
 * and everything it points to. When owner already has a metric of this name and these
 * label values, that one is returned, values kept. Returns 0; -EINVAL when def breaks
 * the rules; -EEXIST when owner has a metric of this name with another type, help text,
 * label names (in order) or buckets; -ENOSPC when owner has KPID_METRIC_MAX metrics;
 * -ENOMEM. On an error other than -ENOMEM, *ret_reason (if not NULL) is set to a static
 * text saying why.
 */
int kpid_metrics_register(kpid_metrics *reg, const void *owner, const char *owner_name,
                          const kpid_metric_def *def, kpid_metric **ret_metric,
                          const char **ret_reason);

/* Removes and frees every metric of owner. Call it when nothing can update them any more
 * (the owner's plugin has returned from fini). */
void kpid_metrics_drop(kpid_metrics *reg, const void *owner);

/* Updates: see the SDK (counter_add, gauge_set, gauge_add, histogram_observe). Each
 * accepts NULL and a metric of another type, and then does nothing. No lock. */
void kpid_metric_counter_add(kpid_metric *m, uint64_t delta);
void kpid_metric_gauge_set(kpid_metric *m, double value);
void kpid_metric_gauge_add(kpid_metric *m, double delta);
void kpid_metric_observe(kpid_metric *m, double value);

/* One metric as a walk sees it. Pointers are valid during the callback only. */
typedef struct kpid_metric_sample {
    const char *owner_name; /* the source's name: the exported label source="..." */
    enum kpid_metric_type type;
    const char *name;
    const char *help;                /* "" when none was given */
    const kpid_metric_label *labels; /* the plugin's labels, in registration order */
    size_t n_labels;
    uint64_t counter; /* COUNTER */
    double gauge;     /* GAUGE */
    /* HISTOGRAM: n_buckets upper bounds (+Inf not among them) and the cumulative counts
     * of observations at most each bound; cumulative[n_buckets] is the +Inf bucket, equal
     * to count. */
    size_t n_buckets;
    const double *bounds;
    uint64_t cumulative[KPID_METRIC_BUCKETS_MAX + 1];
    uint64_t count;
    double sum;
} kpid_metric_sample;

/*
 * Calls fn(arg, sample) for every metric of owner (NULL: of every owner), in the order
 * they were registered, under the registry's lock: fn must not call kpid_metrics_*
 * functions of this registry (updates are fine). Returns 0, or the first negative value
 * fn returned (the walk stops there).
 */
int kpid_metrics_walk(kpid_metrics *reg, const void *owner,
                      int (*fn)(void *arg, const kpid_metric_sample *sample), void *arg);

/* Bytes kpid_metric_format writes at most, NUL included. */
#define KPID_METRIC_LINE_MAX 2048

/*
 * Writes the sample as key=value log fields into out (KPID_METRIC_LINE_MAX bytes):
 *   metric=NAME type=counter label.L1="V1" value=12
 *   metric=NAME type=gauge value=0.5
 *   metric=NAME type=histogram count=50 sum=1000 le.10=0 le.50=50 le.+Inf=50
 * Numbers are written in the shortest form that reads back exactly (at most 17 digits).
 * Returns out.
 */
const char *kpid_metric_format(const kpid_metric_sample *s, char *out);

#endif
