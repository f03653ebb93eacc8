/* The compiled form of the HL7 mapping rules, shared by map_compile.c and map_apply.c. */
#ifndef KPID_HL7_MAP_PRIVATE_H
#define KPID_HL7_MAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "hl7/hl7.h"

#define KPID__HL7_MAP_TIMES 8 /* paths of one rule's time list */
#define KPID__HL7_MAP_PARTS 8 /* parts of one rule's key */

/* A path of a rule; at_visit: it reads the segment occurrence that foreach visits. */
typedef struct kpid__hl7_map_path {
    kpid_hl7_path path;
    bool at_visit;
    char *text; /* as configured, for messages */
} kpid__hl7_map_path;

typedef struct kpid__hl7_map_attr {
    char *name;
    kpid__hl7_map_path path;
} kpid__hl7_map_attr;

typedef struct kpid__hl7_map_cond {
    kpid__hl7_map_path path;
    char **values; /* accepted values; "" accepts a path without a value */
    size_t n_values;
} kpid__hl7_map_cond;

typedef enum kpid__hl7_key_kind {
    KPID__KEY_CASE = 1,
    KPID__KEY_SUBJECT,
    KPID__KEY_ACTIVITY,
    KPID__KEY_TIME,
    KPID__KEY_PATH,
} kpid__hl7_key_kind;

typedef struct kpid__hl7_key_part {
    kpid__hl7_key_kind kind;
    kpid__hl7_map_path path; /* KPID__KEY_PATH */
} kpid__hl7_key_part;

/* One rule. Strings and arrays are owned by the rule. */
typedef struct kpid__hl7_map_rule {
    unsigned number; /* 1-based, for messages */
    char *label;     /* "ORU^R01 LAB_RESULT", for messages */
    char **messages; /* "TYPE^TRIGGER" or "TYPE^*" */
    size_t n_messages;
    char *activity; /* the activity emitted, or retracted */
    bool retract;
    char foreach[4]; /* "" or a segment name */
    kpid__hl7_map_path times[KPID__HL7_MAP_TIMES];
    size_t n_times;
    kpid__hl7_map_path case_id, subject_id;
    bool has_case_id, has_subject_id; /* false: "case_id = \"\"", none */
    kpid__hl7_map_path value;
    bool has_value;
    kpid__hl7_map_attr *attrs;
    size_t n_attrs;
    kpid__hl7_map_cond *when;
    size_t n_when;
    kpid__hl7_key_part key[KPID__HL7_MAP_PARTS];
    size_t n_key;
} kpid__hl7_map_rule;

struct kpid_hl7_map {
    kpid__hl7_map_rule *rules;
    size_t n_rules;
};

#endif
