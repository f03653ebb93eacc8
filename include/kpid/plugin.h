/*
 * kpid plugin SDK: the ABI between the kpid daemon and its source plugins.
 *
 * A source plugin is a shared object that exports one function,
 *
 *     const kpid_plugin_def *kpid_plugin_entry(void);
 *
 * (declare it with KPID_PLUGIN_EXPORT). The definition it returns starts with the ABI
 * version the plugin was built for and the size of the struct it knows, like
 * PostgreSQL's module magic block. The daemon refuses another major version with a
 * message naming both; it reads callbacks added in later minor versions only when
 * struct_size covers them.
 *
 * The daemon hands the plugin a table of host functions (kpid_host) instead of letting
 * it link against daemon symbols. Plugins build with -fvisibility=hidden and are loaded
 * with RTLD_NOW | RTLD_LOCAL; a plugin is never unloaded while the daemon runs.
 *
 * Shapes of source
 *   poll    the host calls poll() on the source's interval (with jitter, and with capped
 *           exponential backoff after failures). poll() reads what is new since the
 *           cursor it is given, hands it to the host in batches and returns.
 *   stream  the host calls run() in the source's own thread; run() returns only when
 *           stop_requested() turns true (after request_stop()) or on failure.
 *
 * Batches and exactly-once effect
 *   A plugin begins a batch, adds events, retractions, origin replacements and rejected
 *   input to it, and submits it with the cursor that describes the source position
 *   *after* the batch. The host writes the whole batch and the cursor in one warehouse
 *   transaction. Only after COMMIT does it call committed(); only then may the plugin
 *   acknowledge upstream (HL7 ACK, Kafka offset commit, deleting a spool file). After a
 *   crash the plugin is started with the last committed cursor, so what was submitted
 *   but not committed is read again; event keys make the rewrite idempotent. A position
 *   too large for one cursor (one per file of a spool folder, per Kafka partition)
 *   goes into keyed source state (state_put, since ABI 1.1), which rides in the batch
 *   and commits with it.
 *
 * Back-pressure
 *   The host queues batches in a bounded queue, so memory stays bounded whatever the
 *   backlog. batch_submit() waits while the queue is full, which suits a poll source.
 *   A stream source that must keep serving its upstream while it pauses (a Kafka
 *   consumer keeps polling to stay in its group while its partitions are paused) submits
 *   with batch_try_submit() (since ABI 1.2), which returns -EAGAIN instead of waiting,
 *   and waits for room with wait_room() and a timeout of its own choosing in between.
 *
 * Threads
 *   Each source instance has its own thread: init, poll/run and fini are called from it.
 *   committed() is called from the writer thread and must be quick and thread-safe.
 *   request_stop() is called from the main thread and must only set a flag or wake the
 *   source (an eventfd, a pipe); it must be async with respect to poll/run. Metric
 *   updates (counter_add, ..., since ABI 1.2) may come from any thread of the plugin.
 *
 * Ownership
 *   After init() returns, the host owns the plugin's state whether init succeeded or
 *   not, and always calls fini() with whatever init stored in *ret_state (possibly
 *   NULL); fini() must accept half-initialized state. Every pointer the host passes is
 *   valid only during the call; the host copies whatever a plugin passes to it. The
 *   handles the host returns stay the host's: a batch until it is submitted or aborted,
 *   a metric (since ABI 1.2) until fini returns.
 *
 * Return values
 *   Callbacks and host functions return 0 (or a non-negative count) on success and a
 *   negative errno on failure.
 *
 * Minor versions
 *   A minor version only adds: members at the end of a struct, before its reserved
 *   fields, which grow struct_size. ABI 1.1 adds keyed source state (state_put,
 *   state_load) and two helpers for rejected input (pseudonymize, event_invalid) to
 *   kpid_host. ABI 1.2 adds back-pressure without blocking (batch_try_submit,
 *   wait_room) and typed metrics (metric_register and the updates counter_add,
 *   gauge_set, gauge_add, histogram_observe). A plugin built for an older minor version
 *   runs unchanged on a newer host; a plugin built for a newer one that may meet an
 *   older host tests each member it uses with KPID_HOST_HAS() first.
 *
 * Nested configuration
 *   Keys of the plugin's own table are validated and stored by the host. A nested section
 *   (a mapping table, a list of topics) is declared KPID_CONFIG_SECTION: the host checks
 *   that it is a group or a list, and the plugin reads it in init() from the raw setting,
 *   with libconfig's functions (#include <libconfig.h>; the pkg-config module kpid-plugin
 *   requires libconfig, so `pkg-config --cflags --libs kpid-plugin` brings it in). The
 *   plugin checks what it reads and names the place of a problem:
 *
 *       // mappings = ( { from = "A01"; to = "ADMISSION"; }, { from = "A03"; ... } );
 *       const config_setting_t *list = config_setting_get_member(setting, "mappings");
 *       for (int i = 0; list && i < config_setting_length(list); i++) {
 *           const config_setting_t *m = config_setting_get_elem(list, i);
 *           const char *from, *to;
 *           if (!config_setting_is_group(m) ||
 *               !config_setting_lookup_string(m, "from", &from) ||
 *               !config_setting_lookup_string(m, "to", &to)) {
 *               host->log(src, KPID_LOG_ERR, "%s:%d: a mapping needs from and to",
 *                         config_setting_source_file(m), config_setting_source_line(m));
 *               return -EINVAL;
 *           }
 *           ... // from and to are valid until fini returns; copy what must live longer
 *       }
 *
 *   The setting (and every string read from it) is valid until fini returns; the plugin
 *   never changes it.
 */
#ifndef KPID_PLUGIN_H
#define KPID_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KPID_ABI_MAJOR 1
#define KPID_ABI_MINOR 2

/* The name of the one function a plugin exports. */
#define KPID_PLUGIN_ENTRY "kpid_plugin_entry"
#define KPID_PLUGIN_EXPORT __attribute__((visibility("default")))

struct config_setting_t; /* libconfig's setting, for nested sections */

typedef struct kpid_source kpid_source; /* the host's handle of one source instance */
typedef struct kpid_batch kpid_batch;   /* a batch under construction */
typedef struct kpid_metric kpid_metric; /* the host's handle of one metric (since ABI 1.2) */

/* Limits of keyed source state (state_put, since ABI 1.1), in bytes. */
#define KPID_STATE_KEY_MAX 256
#define KPID_STATE_VALUE_MAX 4096

/* Length of a pseudonym (pseudonymize, since ABI 1.1): hex digits, without the NUL. */
#define KPID_PSEUDONYM_LEN 64

/* The identifier fields the host may pseudonymize (pseudonymize, since ABI 1.1). */
enum kpid_id_field {
    KPID_ID_SUBJECT = 1, /* subject_id: pseudonymized unless pseudonymize = false */
    KPID_ID_CASE = 2,    /* case_id: only where the source sets pseudonymize_case_id */
};

/* Kinds of typed metrics (metric_register, since ABI 1.2). */
enum kpid_metric_type {
    KPID_METRIC_COUNTER = 1,   /* a count that only goes up (events read, reconnects);
                                  by convention its name ends in _total */
    KPID_METRIC_GAUGE = 2,     /* a value that goes up and down (partitions paused,
                                  connections open, lag in seconds) */
    KPID_METRIC_HISTOGRAM = 3, /* observations counted in buckets (batch sizes, latencies in
                                  seconds), with their count and sum */
};

/* Limits of typed metrics (since ABI 1.2). */
#define KPID_METRIC_NAME_MAX 63         /* bytes of a metric or label name */
#define KPID_METRIC_HELP_MAX 256        /* bytes of a help text */
#define KPID_METRIC_LABELS_MAX 4        /* labels of one metric */
#define KPID_METRIC_LABEL_VALUE_MAX 128 /* bytes of a label value */
#define KPID_METRIC_BUCKETS_MAX 16      /* upper bounds of a histogram, +Inf not counted */
#define KPID_METRIC_MAX 256             /* metrics (name and label values) of one source */

/* One label of a metric: its name and its value, fixed at registration (since ABI 1.2). */
typedef struct kpid_metric_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*; not "source" or "le", not "__..." */
    const char *value; /* printable UTF-8 without '"' or '\\', at most
                          KPID_METRIC_LABEL_VALUE_MAX bytes */
} kpid_metric_label;

/*
 * A metric as a plugin registers it (metric_register, since ABI 1.2). The host copies
 * it and everything it points to.
 */
typedef struct kpid_metric_def {
    enum kpid_metric_type type;
    const char *name;                /* [a-zA-Z_][a-zA-Z0-9_]*, at most KPID_METRIC_NAME_MAX
                                        bytes, not starting with "kpid_" (the daemon's own) */
    const char *help;                /* printable UTF-8 without '"' or '\\', at most
                                        KPID_METRIC_HELP_MAX bytes, or NULL */
    const kpid_metric_label *labels; /* n_labels labels with distinct names, or NULL */
    size_t n_labels;                 /* at most KPID_METRIC_LABELS_MAX */
    const double *buckets;           /* histogram: upper bounds, finite and increasing;
                                        the host adds +Inf. NULL for the other types */
    size_t n_buckets;                /* histogram: 1 to KPID_METRIC_BUCKETS_MAX; else 0 */
    void *reserved[4];               /* must be zero */
} kpid_metric_def;

/* Log levels: the syslog / sd-daemon priorities. */
enum kpid_log_level {
    KPID_LOG_ERR = 3,
    KPID_LOG_WARNING = 4,
    KPID_LOG_NOTICE = 5,
    KPID_LOG_INFO = 6,
    KPID_LOG_DEBUG = 7,
};

/* What poll() returns besides a negative errno. */
enum kpid_poll_result {
    KPID_POLL_IDLE = 0, /* nothing new: call me again after the interval */
    KPID_POLL_MORE = 1, /* there may be more right now: call me again soon */
};

enum kpid_source_shape {
    KPID_SOURCE_POLL = 1,
    KPID_SOURCE_STREAM = 2,
};

/*
 * One normalized event, as a plugin hands it to the host. The host validates it,
 * pseudonymizes subject_id (and case_id where configured) and copies it.
 */
typedef struct kpid_event {
    const char *event_key;  /* required: identity within the source, at most 512 bytes of
                               UTF-8 without control characters */
    const char *case_id;    /* process instance (encounter, order, visit) or NULL */
    const char *subject_id; /* the patient, in clear; the host pseudonymizes it; or NULL */
    const char *activity;   /* required: [A-Z0-9_]{1,64}, e.g. "ED_ARRIVAL" */
    int64_t time_us;        /* microseconds since 1970-01-01T00:00:00Z */
    double value;           /* used only when has_value */
    bool has_value;
    const char *attrs_json; /* a JSON object as text, or NULL for {} */
    const char *origin;     /* the source record this event derives from, or NULL; at
                               most 512 bytes of UTF-8 without control characters */
    void *reserved[4];      /* must be zero */
} kpid_event;

/* Types of declared configuration keys, and the C type each is stored as. */
enum kpid_config_type {
    KPID_CONFIG_STRING = 1,   /* char *: owned by the host, NULL when unset */
    KPID_CONFIG_INT = 2,      /* int64_t */
    KPID_CONFIG_BOOL = 3,     /* bool */
    KPID_CONFIG_DOUBLE = 4,   /* double */
    KPID_CONFIG_DURATION = 5, /* int64_t milliseconds; "250ms", "5s", "2m", "1h", "1d" or ms */
    KPID_CONFIG_SECTION = 6,  /* not stored: a group or list the plugin reads from raw */
};

/*
 * One declared configuration key. A plugin lists its keys in an array ending with an
 * entry whose name is NULL. The host validates a source's settings against the table
 * (unknown keys, wrong types, missing required keys are FILE:LINE errors), fills a
 * config struct of config_size bytes at the given offsets, starting from the defaults,
 * and prints the table as the plugin's documentation.
 */
typedef struct kpid_config_key {
    const char *name;
    enum kpid_config_type type;
    bool required;
    const char *default_value; /* in configuration syntax ("5s", "true", "100"), or NULL */
    size_t offset;             /* offsetof() into the plugin's config struct */
    const char *description;
    int64_t min, max; /* inclusive bounds for INT and DURATION; both 0 = none */
    void *reserved[2];
} kpid_config_key;

/*
 * The host functions. Every function takes the source handle the host passed to init.
 * A plugin reads fields added in later minor versions only when struct_size covers them.
 */
typedef struct kpid_host {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size;

    /* One log line, printf-style, without newline. No patient data, no secrets. */
    void (*log)(kpid_source *src, enum kpid_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* The configured name of this source instance. Valid until fini returns. */
    const char *(*source_name)(kpid_source *src);

    /* True once the daemon wants the source to stop (shutdown or reload). */
    bool (*stop_requested)(kpid_source *src);

    /*
     * The last committed cursor of this source, freshly allocated (the caller frees it
     * with free()), or NULL in *ret_cursor when the source has never committed one.
     * Stream sources call it at the start of run(); poll() receives it as an argument.
     */
    int (*cursor_load)(kpid_source *src, char **ret_cursor);

    /* Starts a batch. The result is owned by the host: pass it to batch_submit or
     * batch_abort exactly once. */
    int (*batch_begin)(kpid_source *src, kpid_batch **ret_batch);

    /*
     * Adds an event. An event the host refuses (missing key, bad activity, invalid
     * UTF-8, ...) is recorded as rejected input, with locator as the place it came from
     * (or NULL), and -EINVAL is returned; the batch stays usable.
     */
    int (*emit)(kpid_batch *batch, const kpid_event *event, const char *locator);

    /* Deletes the event with this key (HL7 A11 cancel admit, a retraction line). */
    int (*retract)(kpid_batch *batch, const char *event_key);

    /*
     * Replaces every event derived from origin: all stored events of this source with
     * this origin are deleted, and the events of the batch with this origin emitted
     * after this call take their place. Used for one FHIR resource version, one HL7
     * message that restates a whole encounter, ...
     */
    int (*replace_origin)(kpid_batch *batch, const char *origin);

    /*
     * Records input that cannot become events in kpid.rejected: locator says where
     * (for a file "path:line"), reason why, raw is the input (truncated and made valid
     * UTF-8 by the host; may be NULL). It is stored in the batch's transaction.
     *
     * raw may be patient data. A plugin that passes raw input offers its operator the
     * source key rejected_raw, as the file plugin does: "pseudonymized" (the default:
     * identifiers replaced by what pseudonymize() returns, or raw NULL where the input
     * cannot be so rewritten), "full" (the input as it is) or "none" (raw always NULL);
     * outside "full", reason quotes nothing of the input either. Whatever the plugin
     * keeps, the host sets raw to NULL after the source's rejected_retention (a key of
     * every source, read by the host; a plugin cannot declare it).
     */
    int (*reject)(kpid_batch *batch, const char *locator, const char *reason, const char *raw,
                  size_t raw_len);

    /* Number of events and bytes in the batch so far, to size batches. */
    size_t (*batch_rows)(const kpid_batch *batch);
    size_t (*batch_bytes)(const kpid_batch *batch);

    /*
     * Hands the batch to the host with the cursor after it (a NUL-terminated string of
     * the plugin's own format, at most 64 KiB; NULL keeps the previous cursor). Blocks
     * while the queue is full (back-pressure) and returns -ECANCELED without queueing
     * if the source is asked to stop while it waits. On success *ret_batch_id (if not
     * NULL) identifies the batch in committed(). The batch is consumed in every case.
     * A source that must not block uses batch_try_submit (since ABI 1.2).
     */
    int (*batch_submit)(kpid_batch *batch, const char *cursor, uint64_t *ret_batch_id);

    /* Drops the batch. */
    void (*batch_abort)(kpid_batch *batch);

    /* Adds delta to a named counter of this source: the host logs it at debug level.
     * Since ABI 1.2 a plugin registers typed metrics instead (metric_register). */
    void (*metric_add)(kpid_source *src, const char *name, int64_t delta);

    /* ---- since ABI 1.1: test with KPID_HOST_HAS(host, member) before use ---- */

    /*
     * Keyed source state: small values a plugin keeps per key (a file's position, the
     * last committed HL7 control id, a Kafka partition's offset), stored in
     * kpid.source_state under the source's name.
     *
     * state_put() records, in the batch, that key now holds value, or that key is
     * deleted when value is NULL. The host writes the batch's puts in the batch's own
     * transaction, with its events and its cursor: state is exactly as durable as the
     * cursor, never ahead of the events and never behind them. Within a batch,
     * and across the batches written in one transaction, the last put of a key wins, in
     * the order the puts were made and the batches submitted. key is 1 to
     * KPID_STATE_KEY_MAX bytes of valid UTF-8 without control characters (C0, DEL, C1);
     * value is at most KPID_STATE_VALUE_MAX bytes of valid UTF-8 without NUL. Anything
     * else returns -EINVAL and records nothing (it is a bug of the plugin, not rejected
     * input); the batch stays usable. Puts count in batch_rows() and batch_bytes().
     */
    int (*state_put)(kpid_batch *batch, const char *key, const char *value);

    /*
     * Calls fn(arg, key, value) for every committed key of this source, in bytewise
     * (strcmp) order of the keys; key and value are valid only during the call. Reads
     * the warehouse in pages, over a connection of its own that is closed before it
     * returns, so that any number of keys may be loaded in bounded memory; call it from
     * the source thread (in init, or at the start of poll or run), when none of the
     * source's batches is in flight: what it sees then belongs with the cursor that
     * cursor_load() returns. Returns 0; the first negative value fn returned (the load
     * stops there); or -EIO when the warehouse cannot be read (logged): a plugin then
     * fails init, and the host restarts it with backoff.
     */
    int (*state_load)(kpid_source *src, int (*fn)(void *arg, const char *key, const char *value),
                      void *arg);

    /*
     * Writes into out (out_size bytes, always NUL-terminated) what the host would store
     * in kpid.event for the identifier id (len bytes) of the given field: its pseudonym
     * (KPID_PSEUDONYM_LEN lowercase hex digits) and returns 1, or, when the host stores
     * that field of this source in clear (pseudonymization off; case_id without
     * pseudonymize_case_id), id itself, cut to out_size - 1 bytes, and returns 0. For
     * rejected input that must not keep clear identifiers. Calling it with len 0 tells
     * whether the field is pseudonymized at all. Returns -EINVAL for an unknown field
     * or out_size 0, -ENOBUFS when a pseudonym does not fit in out, -EIO when the
     * hash cannot be computed.
     */
    int (*pseudonymize)(kpid_source *src, enum kpid_id_field field, const char *id, size_t len,
                        char *out, size_t out_size);

    /*
     * The reason, one printable line, why emit() would refuse ev (a missing key, a bad
     * activity, a time outside years 0001-9999, invalid UTF-8, ...), or NULL when it
     * would accept it. A plugin that asks first can reject a refused event with its own
     * locator and raw input (reject()), instead of the host recording it without its
     * raw input. The text is valid until the next call from the same thread.
     */
    const char *(*event_invalid)(kpid_source *src, const kpid_event *ev);

    /* ---- since ABI 1.2: test with KPID_HOST_HAS(host, member) before use ---- */

    /*
     * batch_submit() that never waits. When the queue has no room for the batch now, it
     * returns -EAGAIN and the batch stays the plugin's, exactly as it was: nothing is
     * queued and nothing lost, the cursor is not taken, and the plugin may add to the
     * batch, submit it again (wait_room() tells when to) or abort it. On every other
     * return the batch is consumed, as by batch_submit(): 0 when it is queued (then
     * *ret_batch_id, if not NULL, identifies it in committed()), -ECANCELED when the
     * source is asked to stop, -EINVAL for an invalid cursor, -ENOMEM.
     */
    int (*batch_try_submit)(kpid_batch *batch, const char *cursor, uint64_t *ret_batch_id);

    /*
     * Waits until the queue has room for batch (NULL: for one small event), at most
     * timeout_ms milliseconds (0: only looks; negative: no limit). Returns 0 when there is
     * room, -ETIMEDOUT when the time is up, or -ECANCELED as soon as the source is asked
     * to stop (the plugin then aborts what it holds and returns; the next start reads it
     * again from the committed cursor). The batch stays the plugin's in every case. Room
     * is not reserved: another source may take it first, and the batch_try_submit() that
     * follows may return -EAGAIN again. Call it from the source thread.
     *
     * A stream source pauses with it instead of blocking in batch_submit(): a Kafka
     * consumer pauses its partitions and calls wait_room() with a short timeout between
     * its consumer polls (it must keep polling to stay in its group), and resumes them
     * once it returns 0; an MLLP listener stops reading its sockets until it returns 0.
     */
    int (*wait_room)(kpid_source *src, const kpid_batch *batch, int64_t timeout_ms);

    /*
     * Typed metrics. A plugin registers each metric once, typically in init(), and
     * updates it through the handle it gets, from any of its threads, without a lock: an
     * update is a few atomic operations. The host keeps the metrics of every source in
     * its registry, where the daemon reads them with the label source="<source name>"
     * added (for a metrics endpoint; today it logs them at debug level when the source
     * stops). They live as long as the source instance: across restarts of the plugin
     * after failures, but not across a reload, which starts every source anew with its
     * metrics at zero (as a restart of the daemon would).
     *
     * Registering the same name and label values again in the same source (init after a
     * restart) returns the same handle with its values kept. All metrics of one name in a
     * source have the same type, help text, label names and buckets: another one is
     * -EEXIST. Returns 0; -EINVAL for a definition outside the rules of kpid_metric_def;
     * -EEXIST; -ENOSPC beyond KPID_METRIC_MAX metrics in the source (these three logged
     * with the reason); -ENOMEM. *ret_metric is set only on success. The handle is owned by the
     * host and valid until fini returns; the plugin never frees it. Call it from the
     * source thread.
     */
    int (*metric_register)(kpid_source *src, const kpid_metric_def *def, kpid_metric **ret_metric);

    /*
     * Updates of a metric: a counter grows by delta; a gauge is set to value or grows by
     * delta (which may be negative); a histogram counts value in the first bucket whose
     * upper bound is at least value (NaN is ignored). Each accepts NULL and does nothing,
     * so a plugin may run on without a metric it could not register; on a metric of
     * another type it does nothing either. Any thread; never blocks, never fails.
     */
    void (*counter_add)(kpid_metric *metric, uint64_t delta);
    void (*gauge_set)(kpid_metric *metric, double value);
    void (*gauge_add)(kpid_metric *metric, double delta);
    void (*histogram_observe)(kpid_metric *metric, double value);

    void *reserved[8];
} kpid_host;

/*
 * True when the host's table covers member: a plugin built against a newer minor version
 * than the daemon it runs in tests the members it needs, e.g.
 * KPID_HOST_HAS(host, state_put), and fails init (or does without) when one is missing.
 */
#define KPID_HOST_HAS(host, member) \
    ((host)->struct_size >= offsetof(kpid_host, member) + sizeof((host)->member))

/*
 * What a plugin exports. Fields are read only when struct_size covers them.
 */
typedef struct kpid_plugin_def {
    uint16_t abi_major;   /* KPID_ABI_MAJOR at build time */
    uint16_t abi_minor;   /* KPID_ABI_MINOR at build time */
    uint32_t struct_size; /* sizeof(kpid_plugin_def) at build time */

    const char *name;        /* the plugin's name, equal to its file name without .so */
    const char *version;     /* the plugin's own version */
    const char *description; /* one line */
    enum kpid_source_shape shape;

    const kpid_config_key *config_keys; /* NULL-terminated by name; may be NULL */
    size_t config_size;                 /* bytes of the config struct the keys fill */

    /*
     * Creates the source state. config is the filled config struct (owned by the host,
     * valid until fini returns); setting is the source's raw libconfig group. Whatever
     * init stores in *ret_state is later passed to fini, also when init fails.
     */
    int (*init)(const kpid_host *host, kpid_source *src, const void *config,
                const struct config_setting_t *setting, void **ret_state);

    /* Poll sources: reads what is new after cursor (NULL = from the beginning), submits
     * batches, returns a kpid_poll_result or a negative errno. */
    int (*poll)(void *state, const char *cursor);

    /* Stream sources: runs until stop_requested() or failure; returns 0 or -errno. */
    int (*run)(void *state);

    /* A submitted batch is durable. Called from the writer thread. May be NULL. */
    void (*committed)(void *state, uint64_t batch_id, const char *cursor);

    /* Asks run() or poll() to return soon. Called from another thread. May be NULL. */
    void (*request_stop)(void *state);

    /* Frees the state; accepts NULL and half-initialized state. */
    void (*fini)(void *state);

    void *reserved[8];
} kpid_plugin_def;

/* Convenience for plugins: the header of a definition. */
#define KPID_PLUGIN_DEF_HEADER \
    .abi_major = KPID_ABI_MAJOR, .abi_minor = KPID_ABI_MINOR, .struct_size = sizeof(kpid_plugin_def)

typedef const kpid_plugin_def *(*kpid_plugin_entry_fn)(void);

/* The one function a plugin defines and exports (declared here so that it is). */
KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* KPID_PLUGIN_H */
