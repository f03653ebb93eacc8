/*
 * The generator's vocabulary: activities, attribute keys and attribute values.
 *
 * Attribute values live in one table of strings, grouped in domains (wards,
 * departments, triage levels, ...); events store a domain-free index into it. Each
 * string is escaped once at start-up, in the three forms the output needs: JSON with
 * raw UTF-8, JSON with \uXXXX escapes for non-ASCII (the same JSON value), and the raw
 * UTF-8 JSON form escaped again for a PostgreSQL COPY text field. Some values carry a
 * quote, a backslash or non-ASCII letters on purpose.
 */
#ifndef HG_VOCAB_H
#define HG_VOCAB_H

#include <stddef.h>
#include <stdint.h>

/* Activities, in strcmp order of their names (summary.tsv relies on it). */
enum hg_activity {
    HG_A_ADMISSION,
    HG_A_APPOINTMENT_BOOKED,
    HG_A_APPOINTMENT_SEEN,
    HG_A_COST,
    HG_A_DEATH,
    HG_A_DISCHARGE,
    HG_A_ED_ARRIVAL,
    HG_A_ED_DEPARTURE,
    HG_A_ED_LEFT_WITHOUT_BEING_SEEN,
    HG_A_HOSPITAL_ACQUIRED_INFECTION,
    HG_A_LAB_ORDER,
    HG_A_LAB_RESULT,
    HG_A_PHYSICIAN_SEEN,
    HG_A_SATISFACTION_SURVEY,
    HG_A_STAFF_HEADCOUNT,
    HG_A_SURGERY_CANCELLED,
    HG_A_SURGERY_PERFORMED,
    HG_A_SURGERY_SCHEDULED,
    HG_A_TRAINING_HOURS,
    HG_A_TRANSFER,
    HG_A_TRIAGE,
    HG_A__COUNT
};

/* Attribute keys. */
enum hg_attr_key {
    HG_K_WARD,
    HG_K_FROM_WARD,
    HG_K_DEPARTMENT,
    HG_K_PATIENT_CLASS,
    HG_K_TRIAGE_LEVEL,
    HG_K_AGE_GROUP,
    HG_K_ARRIVAL_MODE,
    HG_K_DISPOSITION,
    HG_K_SPECIALTY,
    HG_K_TEST,
    HG_K_UNIT,
    HG_K_PRIORITY,
    HG_K_SITE,
    HG_K_REASON,
    HG_K_THEATRE,
    HG_K_COURSE,
    HG_K_ROLE,
    HG_K_RESPONSE,
    HG_K_ADMISSION_TYPE,
    HG_K__COUNT
};

/* Value domains: each is a contiguous run of the string table. */
enum hg_domain {
    HG_D_WARD,
    HG_D_DEPARTMENT,
    HG_D_PATIENT_CLASS,
    HG_D_TRIAGE_LEVEL,
    HG_D_AGE_GROUP,
    HG_D_ARRIVAL_MODE,
    HG_D_DISPOSITION,
    HG_D_SPECIALTY,
    HG_D_TEST,
    HG_D_UNIT,
    HG_D_PRIORITY,
    HG_D_SITE,
    HG_D_REASON,
    HG_D_THEATRE,
    HG_D_COURSE,
    HG_D_ROLE,
    HG_D_RESPONSE,
    HG_D_ADMISSION_TYPE,
    HG_D__COUNT
};

/* One attribute value in its output forms; all strings are NUL-terminated. */
struct hg_str {
    const char *raw; /* UTF-8 text */
    char *json;      /* quoted JSON string, raw UTF-8 */
    char *json_u;    /* quoted JSON string, non-ASCII as \uXXXX */
    char *copy;      /* json, COPY-escaped */
    uint16_t json_len, json_u_len, copy_len;
};

extern const char *const hg_activity_name[HG_A__COUNT];
extern uint8_t hg_activity_len[HG_A__COUNT]; /* filled by hg_vocab_init */
extern const char *const hg_attr_key_name[HG_K__COUNT];
extern uint8_t hg_attr_key_len[HG_K__COUNT]; /* filled by hg_vocab_init */
/* The domain each attribute key draws its values from. */
extern const uint8_t hg_attr_key_domain[HG_K__COUNT];

/* Builds the escaped forms. Returns 0 or -ENOMEM; call once before anything else. */
int hg_vocab_init(void);
/* Frees what hg_vocab_init allocated. */
void hg_vocab_fini(void);

/* Returns the string with table index i. */
const struct hg_str *hg_str_at(unsigned i);
/* Returns the table index of value k (0-based) of domain d. */
unsigned hg_dom(enum hg_domain d, unsigned k);
/* Returns the number of values of domain d. */
unsigned hg_dom_size(enum hg_domain d);
/* Returns the domain of table index i. */
enum hg_domain hg_dom_of(unsigned i);

/* Wards: which department a ward belongs to, and the wards of a department. */
unsigned hg_ward_department(unsigned ward_k);
unsigned hg_department_nwards(unsigned dept_k);
unsigned hg_department_ward(unsigned dept_k, unsigned n);

/* Departments the pathways name (values of HG_D_DEPARTMENT). */
enum hg_dept {
    HG_DEPT_INTERNAL,
    HG_DEPT_SURGERY,
    HG_DEPT_CARDIOLOGY,
    HG_DEPT_ORTHOPEDICS,
    HG_DEPT_PEDIATRICS,
    HG_DEPT_OBSTETRICS,
    HG_DEPT_NEUROLOGY,
    HG_DEPT_ONCOLOGY,
    HG_DEPT_ICU,
    HG_DEPT_EMERGENCY,
    HG_DEPT__COUNT
};

#endif
