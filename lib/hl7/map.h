/*
 * The HL7 v2 mapper: rules from the configuration (docs/hl7-mapping.md) that turn one
 * parsed message into kpid events and retractions. The hl7 source and the Kafka source
 * (for HL7 payloads) share it.
 *
 * map_compile.c reads and checks the rules; map_apply.c applies them to a message. Only
 * the paths the rules name are read from a message: nothing else leaves the parser.
 */
#ifndef KPID_HL7_MAP_H
#define KPID_HL7_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kpid/plugin.h>

#include "buf/buf.h"
#include "hl7/hl7.h"
#include "time/tz.h"

struct config_setting_t;

typedef struct kpid_hl7_map kpid_hl7_map;

/*
 * Compiles the rules of list (a libconfig list of groups, the source's `mapping`).
 * Returns 0 and the mapping in *ret_map (freshly allocated; free it with
 * kpid_hl7_map_free), or -EINVAL with *ret_error, a freshly allocated "FILE:LINE: what"
 * message the caller frees, or -ENOMEM (*ret_error NULL). Strings of the setting are
 * copied: the mapping does not need the configuration afterwards.
 */
int kpid_hl7_map_compile(const struct config_setting_t *list, kpid_hl7_map **ret_map,
                         char **ret_error);

/* Frees a mapping. Accepts NULL; returns NULL. */
kpid_hl7_map *kpid_hl7_map_free(kpid_hl7_map *map);

/* The number of rules of a mapping. */
size_t kpid_hl7_map_rules(const kpid_hl7_map *map);

/* How a source reads what the rules leave to it. A zeroed struct: UTC, the first PID-3. */
typedef struct kpid_hl7_map_options {
    const kpid_tz *tz;             /* for times without an offset; NULL: UTC */
    const char *subject_authority; /* the subject's PID-3 repetition: its component 4 */
    const char *subject_type;      /* or its component 5 (identifier type code) */
} kpid_hl7_map_options;

/* One result of a message: an event to emit, or the key of an event to retract. */
typedef struct kpid_hl7_mapped_event {
    kpid_event ev; /* for a retraction only ev.event_key (and ev.activity) are set */
    bool retract;
} kpid_hl7_mapped_event;

/*
 * The results of one message. Its strings live in text and stay valid until the next
 * kpid_hl7_map_apply with the same struct or kpid_hl7_mapped_free. A zeroed struct is
 * empty; reuse it across messages.
 */
typedef struct kpid_hl7_mapped {
    kpid_hl7_mapped_event *v;
    size_t n, cap;
    kpid_buf text;
    size_t *offsets; /* string offsets into text while building (internal) */
    size_t n_offsets, cap_offsets;
} kpid_hl7_mapped;

/*
 * Applies the mapping to message m: every rule whose message type matches adds its
 * events (with foreach: one per occurrence that meets the rule's conditions). Returns
 * the number of results (0 when rules matched but yielded nothing, as when a `when`
 * condition failed), -ENOENT when no rule matches the message's type and trigger, or
 * -EINVAL with why (why_size bytes, NUL-terminated) saying which rule and path failed
 * ("rule 3 (ORU^R01 LAB_RESULT): OBX-5 is not a number"): never message content. The
 * results of a failed message are discarded: a message maps whole or not at all.
 */
int kpid_hl7_map_apply(const kpid_hl7_map *map, const kpid_hl7_map_options *opt,
                       const kpid_hl7_msg *m, kpid_hl7_mapped *out, char *why, size_t why_size);

/* Frees what a mapped struct holds and zeroes it. Accepts NULL. */
void kpid_hl7_mapped_free(kpid_hl7_mapped *out);

#endif
