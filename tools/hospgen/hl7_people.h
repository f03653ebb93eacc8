/*
 * The people in HL7 messages (--hl7): PID segments with the fictional demographics a
 * real feed carries and kpid must never store. Everything is derived from the patient
 * number, so a patient keeps one name, birth date, address and national id in every
 * message. Names and streets come from the fixed lists in hl7_people.c (README.md shows
 * them) so that a test can search the warehouse and the logs for them.
 */
#ifndef HG_HL7_PEOPLE_H
#define HG_HL7_PEOPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "hl7_msg.h"
#include "rng.h"

enum hg_person_kind {
    HG_PERSON_PATIENT, /* P0001234: MRN with authority HOSP, national id, demographics */
    HG_PERSON_STAFF,   /* staff-0042: employee number with authority HOSP, a name */
    HG_PERSON_DEPT,    /* dept-03: a department as the subject of a headcount */
};

/*
 * Writes a PID segment: PID-3 (absent when no_subject; else the HOSP identifier and,
 * for patients, mostly a national id too, in random order), PID-5, PID-7, PID-8,
 * PID-11, PID-13, PID-18 = account (the case id), and for a death PID-29/PID-30.
 * id is the subject id text ("P0001234"), number the patient/staff/department number,
 * birth_year the year of the patient's birth date (from the age group).
 */
void hg_people_pid(struct hg_msg *m, struct hg_rng *r, enum hg_person_kind kind, const char *id,
                   uint32_t number, int birth_year, bool no_subject, const char *account,
                   const struct hg_dtm *death);

/* One person's fictional demographics, derived from the number alone (the same in the
 * HL7 form and in the HIS, --his). */
struct hg_person {
    const char *family, *given; /* from the fixed lists */
    const char *street, *city;  /* patients' address */
    char sex;                   /* 'F' or 'M' */
    int birth_year;             /* as given */
    unsigned birth_month, birth_day;
    char national_id[16]; /* 12 digits; "" for staff, departments and 1 patient in 10 */
    unsigned postcode;    /* 5 digits */
    unsigned phone;       /* the last four digits of +7 701 555 NNNN */
};

/* Fills *ret with the demographics of person number of kind, born in birth_year. */
void hg_people_person(enum hg_person_kind kind, uint32_t number, int birth_year,
                      struct hg_person *ret);
/* The birth year of patient number, from the year the hospital opens and the patient's
 * age group. */
int hg_people_birth_year(int start_year, uint32_t patient);

/* The attending physician XCN (id^family^given) for PV1-7, from a fixed list. */
const char *hg_people_doctor(uint32_t n);

#endif
