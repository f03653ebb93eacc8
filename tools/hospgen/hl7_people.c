#include "hl7_people.h"

#include <stdio.h>

#include "pathway.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ASCII, Latin-1 and Cyrillic/Kazakh names: Latin-1 ones go into 8859/1 messages,
 * Cyrillic ones force UTF-8. */
static const char *const family[] = {
    "Smith",   "O'Connor",    "Müller",   "Sørensen",   "Gonçalves",   "Núñez",
    "Lefèvre", "Weiß",        "Åberg",    "Иванова",    "Әбдіқадыров", "Нұрланов",
    "Петров",  "Сәрсенбаева", "Kowalski", "Þórsdóttir", "Ærø",         "Dubois-Nœl",
};
static const char *const given[] = {
    "Anna",  "José",  "Zoë",     "Jürgen", "Ólafur", "Mary-Jane", "Françoise", "Björn",
    "Айгүл", "Ерлан", "Дмитрий", "Ғалым",  "Chloé",  "Sean",      "Émile",     "Ingrid",
};
/* Streets with the characters HL7 must escape: | ~ & ^ \ */
static const char *const streets[] = {
    "Abay Ave 12|4",       "Dostyk St 5~7",     "Tole Bi & Sons Yard 3",
    "Kunaev St 1^2",       "Backslash Ln 3\\B", "Rue de l'Église 9",
    "Сейфуллин көшесі 40", "Hauptstraße 77",    "Baker St 221b",
};
static const char *const cities[] = {"Almaty", "Astana", "Zürich", "Шымкент", "Karaganda"};
static const char *const doctors[] = {
    "D1001^Bekova^Saule",
    "D1002^Schäfer^Lena",
    "D1003^Ахметов^Нұрлан",
    "D1004^Okafor^Chidi",
};

void hg_people_person(enum hg_person_kind kind, uint32_t number, int birth_year,
                      struct hg_person *ret)
{
    uint64_t h = hg_mix64((uint64_t)number * 4 + (uint64_t)kind);

    ret->family = family[h % N_OF(family)];
    ret->given = given[(h >> 5) % N_OF(given)];
    ret->street = streets[(h >> 32) % N_OF(streets)];
    ret->city = cities[(h >> 40) % N_OF(cities)];
    ret->sex = (h >> 28) & 1 ? 'F' : 'M';
    ret->birth_year = birth_year;
    ret->birth_month = (unsigned)(h >> 8) % 12 + 1;
    ret->birth_day = (unsigned)(h >> 16) % 28 + 1;
    ret->national_id[0] = '\0';
    /* A fictional national id: 12 digits, the birth date first as Kazakhstan's IIN. */
    if (kind == HG_PERSON_PATIENT && h % 10 != 0)
        snprintf(ret->national_id, sizeof(ret->national_id), "%02d%02u%02u%06u", birth_year % 100,
                 ret->birth_month, ret->birth_day, (unsigned)(h >> 24) % 1000000);
    ret->postcode = (unsigned)(h >> 44) % 90000 + 10000;
    ret->phone = (unsigned)(h >> 48) % 9000 + 1000;
}

int hg_people_birth_year(int start_year, uint32_t patient)
{
    static const int age_lo[5] = {0, 18, 40, 65, 80}, age_n[5] = {18, 22, 25, 15, 16};
    unsigned g = hg_age_group(patient);

    return start_year - age_lo[g] - (int)(hg_mix64(patient ^ 0xb17d) % (uint64_t)age_n[g]);
}

void hg_people_pid(struct hg_msg *m, struct hg_rng *r, enum hg_person_kind kind, const char *id,
                   uint32_t number, int birth_year, bool no_subject, const char *account,
                   const struct hg_dtm *death)
{
    const char *auth_type = kind == HG_PERSON_PATIENT ? "MR"
                            : kind == HG_PERSON_STAFF ? "EI"
                                                      : "XX";
    struct hg_person p;
    char dob[16];

    hg_people_person(kind, number, birth_year, &p);
    snprintf(dob, sizeof(dob), "%04d%02u%02u", birth_year, p.birth_month, p.birth_day);
    hg_msg_seg(m, "PID|1||");
    if (!no_subject) {
        bool with_nat = p.national_id[0] != '\0';
        bool nat_first = with_nat && hg_rng_chance(r, 0.5);
        if (nat_first)
            hg_msg_add(m, "%s^^^KZMOH^NI~", p.national_id);
        hg_msg_add(m, "%e^^^HOSP^%s", id, auth_type);
        if (with_nat && !nat_first)
            hg_msg_add(m, "~%s^^^KZMOH^NI", p.national_id);
    }
    if (kind == HG_PERSON_DEPT) {
        /* PID-3, then PID-18 */
        hg_msg_add(m, "|||||||||||||||%e", account);
        return;
    }
    /* PID-5 name, PID-7 birth date, PID-8 sex, PID-11 address, PID-13 phone, PID-18. */
    hg_msg_add(m, "||%e^%e||", p.family, p.given);
    if (kind == HG_PERSON_PATIENT)
        hg_msg_add(m, "%s|%s|||%e^^%e^^%u^KZ||+7 701 555 %u|||||%e", dob, p.sex == 'F' ? "F" : "M",
                   p.street, p.city, p.postcode, p.phone, account);
    else
        hg_msg_add(m, "|%s||||||||||%e", p.sex == 'F' ? "F" : "M", account);
    if (death) /* PID-29 death date/time, PID-30 death indicator */
        hg_msg_add(m, "|||||||||||%T|Y", death);
}

const char *hg_people_doctor(uint32_t n)
{
    return doctors[n % N_OF(doctors)];
}
