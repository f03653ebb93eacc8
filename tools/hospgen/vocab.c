#include "vocab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *const hg_activity_name[HG_A__COUNT] = {
    "ADMISSION",
    "APPOINTMENT_BOOKED",
    "APPOINTMENT_SEEN",
    "COST",
    "DEATH",
    "DISCHARGE",
    "ED_ARRIVAL",
    "ED_DEPARTURE",
    "ED_LEFT_WITHOUT_BEING_SEEN",
    "HOSPITAL_ACQUIRED_INFECTION",
    "LAB_ORDER",
    "LAB_RESULT",
    "PHYSICIAN_SEEN",
    "SATISFACTION_SURVEY",
    "STAFF_HEADCOUNT",
    "SURGERY_CANCELLED",
    "SURGERY_PERFORMED",
    "SURGERY_SCHEDULED",
    "TRAINING_HOURS",
    "TRANSFER",
    "TRIAGE",
};

uint8_t hg_activity_len[HG_A__COUNT];

const char *const hg_attr_key_name[HG_K__COUNT] = {
    "ward",      "from_ward",    "department",  "patient_class",  "triage_level",
    "age_group", "arrival_mode", "disposition", "specialty",      "test",
    "unit",      "priority",     "site",        "reason",         "theatre",
    "course",    "role",         "response",    "admission_type",
};

uint8_t hg_attr_key_len[HG_K__COUNT];

const uint8_t hg_attr_key_domain[HG_K__COUNT] = {
    HG_D_WARD,      HG_D_WARD,         HG_D_DEPARTMENT,  HG_D_PATIENT_CLASS,  HG_D_TRIAGE_LEVEL,
    HG_D_AGE_GROUP, HG_D_ARRIVAL_MODE, HG_D_DISPOSITION, HG_D_SPECIALTY,      HG_D_TEST,
    HG_D_UNIT,      HG_D_PRIORITY,     HG_D_SITE,        HG_D_REASON,         HG_D_THEATRE,
    HG_D_COURSE,    HG_D_ROLE,         HG_D_RESPONSE,    HG_D_ADMISSION_TYPE,
};

/* Wards, each followed in ward_dept by the department it belongs to. */
static const char *const wards[] = {
    "W1",           "W2",
    "W3",           "W4 Geriatrics",
    "W5",           "Хирургия-2",
    "W7 \"Annex\"", "CCU",
    "W8",           "W9",
    "W10",          "P1",
    "P2 Neonatal",  "M1",
    "M2",           "W11",
    "Stroke Unit",  "W12",
    "W13",          "ICU\\A",
    "ICU-B",        "Қабылдау бөлімі",
};
static const uint8_t ward_dept[N_OF(wards)] = {
    HG_DEPT_INTERNAL,   HG_DEPT_INTERNAL,    HG_DEPT_INTERNAL,    HG_DEPT_INTERNAL,
    HG_DEPT_SURGERY,    HG_DEPT_SURGERY,     HG_DEPT_SURGERY,     HG_DEPT_CARDIOLOGY,
    HG_DEPT_CARDIOLOGY, HG_DEPT_ORTHOPEDICS, HG_DEPT_ORTHOPEDICS, HG_DEPT_PEDIATRICS,
    HG_DEPT_PEDIATRICS, HG_DEPT_OBSTETRICS,  HG_DEPT_OBSTETRICS,  HG_DEPT_NEUROLOGY,
    HG_DEPT_NEUROLOGY,  HG_DEPT_ONCOLOGY,    HG_DEPT_ONCOLOGY,    HG_DEPT_ICU,
    HG_DEPT_ICU,        HG_DEPT_EMERGENCY,
};
static const char *const departments[HG_DEPT__COUNT] = {
    "internal medicine",       "surgery",   "cardiology", "orthopedics",    "pediatrics",
    "obstetrics & gynecology", "neurology", "oncology",   "intensive care", "emergency",
};
static const char *const patient_classes[] = {"emergency", "elective", "day_case"};
static const char *const triage_levels[] = {"1", "2", "3", "4", "5"};
static const char *const age_groups[] = {"0-17", "18-39", "40-64", "65-79", "80+"};
static const char *const arrival_modes[] = {"ambulance", "walk-in", "referral"};
static const char *const dispositions[] = {
    "home", "home with care", "nursing home", "other hospital", "admitted", "left", "died"};
static const char *const specialties[] = {
    "general surgery", "orthopedics",       "cardiac surgery", "ENT",
    "gynecology",      "urology",           "neurosurgery",    "ophthalmology",
    "cardiology",      "dermatology",       "endocrinology",   "neurology",
    "oncology",        "internal medicine", "pain\tclinic",    "Кардиология",
};
static const char *const tests[] = {"CRP", "K", "HB", "NA", "GLU", "CREA", "WBC", "TROP"};
static const char *const units[] = {"mg/L", "mmol/L", "g/L", "µmol/L", "10^9/L", "ng/L"};
static const char *const priorities[] = {"routine", "stat"};
static const char *const sites[] = {"CLABSI", "CAUTI", "SSI", "VAP", "CDI"};
static const char *const reasons[] = {"patient unfit", "no bed", "patient request",
                                      "theatre overrun", "equipment failure"};
static const char *const theatres[] = {"OR1", "OR2", "OR3", "OR4", "OR5", "OR6", "OR7", "OR8"};
static const char *const courses[] = {"BLS",
                                      "ACLS",
                                      "hand hygiene",
                                      "fire safety",
                                      "IT security",
                                      "sepsis recognition",
                                      "manual handling",
                                      "Инфекционный контроль"};
static const char *const roles[] = {"nurse", "physician", "technician", "admin"};
/* A survey answered (with a score) or declined (without one). */
static const char *const responses[] = {"answered", "declined"};
/* Only administrative admissions, stays closed at the moment they open, carry it. */
static const char *const admission_types[] = {"administrative"};

static const struct {
    const char *const *list;
    unsigned n;
} domains[HG_D__COUNT] = {
    [HG_D_WARD] = {wards, N_OF(wards)},
    [HG_D_DEPARTMENT] = {departments, N_OF(departments)},
    [HG_D_PATIENT_CLASS] = {patient_classes, N_OF(patient_classes)},
    [HG_D_TRIAGE_LEVEL] = {triage_levels, N_OF(triage_levels)},
    [HG_D_AGE_GROUP] = {age_groups, N_OF(age_groups)},
    [HG_D_ARRIVAL_MODE] = {arrival_modes, N_OF(arrival_modes)},
    [HG_D_DISPOSITION] = {dispositions, N_OF(dispositions)},
    [HG_D_SPECIALTY] = {specialties, N_OF(specialties)},
    [HG_D_TEST] = {tests, N_OF(tests)},
    [HG_D_UNIT] = {units, N_OF(units)},
    [HG_D_PRIORITY] = {priorities, N_OF(priorities)},
    [HG_D_SITE] = {sites, N_OF(sites)},
    [HG_D_REASON] = {reasons, N_OF(reasons)},
    [HG_D_THEATRE] = {theatres, N_OF(theatres)},
    [HG_D_COURSE] = {courses, N_OF(courses)},
    [HG_D_ROLE] = {roles, N_OF(roles)},
    [HG_D_RESPONSE] = {responses, N_OF(responses)},
    [HG_D_ADMISSION_TYPE] = {admission_types, N_OF(admission_types)},
};

static struct hg_str *table;
static unsigned table_n;
static unsigned dom_first[HG_D__COUNT];
static uint8_t *table_dom;

/*
 * Decodes one UTF-8 sequence at s (the table holds only valid UTF-8); returns the code
 * point and stores the sequence length in *len.
 */
static uint32_t utf8_decode(const unsigned char *s, unsigned *len)
{
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xe0) {
        *len = 2;
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    }
    if (s[0] < 0xf0) {
        *len = 3;
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    }
    *len = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
           (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* Writes the JSON escape \uXXXX of UTF-16 unit u; returns the end. */
static char *put_u16(char *p, uint32_t u)
{
    static const char hex[] = "0123456789abcdef";

    *p++ = '\\';
    *p++ = 'u';
    for (int sh = 12; sh >= 0; sh -= 4)
        *p++ = hex[(u >> sh) & 0xf];
    return p;
}

/*
 * Returns s as a quoted JSON string, freshly allocated (the caller frees), or NULL on
 * allocation failure. With ascii, non-ASCII code points are written as \u escapes
 * (surrogate pairs above the BMP); otherwise they stay raw UTF-8.
 */
static char *json_quote(const char *s, int ascii)
{
    char *out = malloc(strlen(s) * 12 + 3);
    char *p = out;
    const unsigned char *u = (const unsigned char *)s;

    if (!out)
        return NULL;
    *p++ = '"';
    while (*u) {
        unsigned len;
        uint32_t cp = utf8_decode(u, &len);
        if (cp == '"' || cp == '\\') {
            *p++ = '\\';
            *p++ = (char)cp;
        } else if (cp == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (cp == '\t') {
            *p++ = '\\';
            *p++ = 't';
        } else if (cp < 0x20) {
            p = put_u16(p, cp);
        } else if (cp >= 0x80 && ascii) {
            if (cp >= 0x10000) {
                p = put_u16(p, 0xd800 + ((cp - 0x10000) >> 10));
                p = put_u16(p, 0xdc00 + ((cp - 0x10000) & 0x3ff));
            } else {
                p = put_u16(p, cp);
            }
        } else {
            memcpy(p, u, len);
            p += len;
        }
        u += len;
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

/* Returns s escaped for a COPY text field, freshly allocated, or NULL. */
static char *copy_escape(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1);
    char *p = out;

    if (!out)
        return NULL;
    for (; *s; s++) {
        switch (*s) {
        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;
        case '\t':
            *p++ = '\\';
            *p++ = 't';
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        case '\r':
            *p++ = '\\';
            *p++ = 'r';
            break;
        default: *p++ = *s;
        }
    }
    *p = '\0';
    return out;
}

int hg_vocab_init(void)
{
    unsigned n = 0;

    for (unsigned a = 0; a < HG_A__COUNT; a++)
        hg_activity_len[a] = (uint8_t)strlen(hg_activity_name[a]);
    for (unsigned k = 0; k < HG_K__COUNT; k++)
        hg_attr_key_len[k] = (uint8_t)strlen(hg_attr_key_name[k]);
    for (unsigned d = 0; d < HG_D__COUNT; d++) {
        dom_first[d] = n;
        n += domains[d].n;
    }
    table = calloc(n, sizeof(*table));
    table_dom = calloc(n, 1);
    if (!table || !table_dom)
        goto err;
    table_n = n;
    for (unsigned d = 0; d < HG_D__COUNT; d++) {
        for (unsigned k = 0; k < domains[d].n; k++) {
            struct hg_str *s = &table[dom_first[d] + k];
            table_dom[dom_first[d] + k] = (uint8_t)d;
            s->raw = domains[d].list[k];
            s->json = json_quote(s->raw, 0);
            s->json_u = json_quote(s->raw, 1);
            if (!s->json || !s->json_u)
                goto err;
            s->copy = copy_escape(s->json);
            if (!s->copy)
                goto err;
            s->json_len = (uint16_t)strlen(s->json);
            s->json_u_len = (uint16_t)strlen(s->json_u);
            s->copy_len = (uint16_t)strlen(s->copy);
        }
    }
    return 0;
err:
    hg_vocab_fini();
    return -ENOMEM;
}

void hg_vocab_fini(void)
{
    for (unsigned i = 0; table && i < table_n; i++) {
        free(table[i].json);
        free(table[i].json_u);
        free(table[i].copy);
    }
    free(table);
    free(table_dom);
    table = NULL;
    table_dom = NULL;
    table_n = 0;
}

const struct hg_str *hg_str_at(unsigned i)
{
    return &table[i];
}

unsigned hg_dom(enum hg_domain d, unsigned k)
{
    return dom_first[d] + k;
}

unsigned hg_dom_size(enum hg_domain d)
{
    return domains[d].n;
}

enum hg_domain hg_dom_of(unsigned i)
{
    return (enum hg_domain)table_dom[i];
}

unsigned hg_ward_department(unsigned ward_k)
{
    return ward_dept[ward_k];
}

unsigned hg_department_nwards(unsigned dept_k)
{
    unsigned n = 0;

    for (unsigned w = 0; w < N_OF(wards); w++)
        n += ward_dept[w] == dept_k;
    return n;
}

unsigned hg_department_ward(unsigned dept_k, unsigned n)
{
    for (unsigned w = 0; w < N_OF(wards); w++)
        if (ward_dept[w] == dept_k && n-- == 0)
            return w;
    return 0;
}
