#include "hl7_people.h"

#include <stdio.h>

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

void hg_people_pid(struct hg_msg *m, struct hg_rng *r, enum hg_person_kind kind, const char *id,
                   uint32_t number, int birth_year, bool no_subject, const char *account,
                   const struct hg_dtm *death)
{
    uint64_t h = hg_mix64((uint64_t)number * 4 + (uint64_t)kind);
    const char *auth_type = kind == HG_PERSON_PATIENT ? "MR"
                            : kind == HG_PERSON_STAFF ? "EI"
                                                      : "XX";
    unsigned month = (unsigned)(h >> 8) % 12 + 1, day = (unsigned)(h >> 16) % 28 + 1;
    char nat[16], dob[16];

    snprintf(dob, sizeof(dob), "%04d%02u%02u", birth_year, month, day);
    hg_msg_seg(m, "PID|1||");
    if (!no_subject) {
        bool with_nat = kind == HG_PERSON_PATIENT && h % 10 != 0;
        bool nat_first = with_nat && hg_rng_chance(r, 0.5);
        /* A fictional national id: 12 digits, the birth date first as Kazakhstan's IIN. */
        snprintf(nat, sizeof(nat), "%02d%02u%02u%06u", birth_year % 100, month, day,
                 (unsigned)(h >> 24) % 1000000);
        if (nat_first)
            hg_msg_add(m, "%s^^^KZMOH^NI~", nat);
        hg_msg_add(m, "%e^^^HOSP^%s", id, auth_type);
        if (with_nat && !nat_first)
            hg_msg_add(m, "~%s^^^KZMOH^NI", nat);
    }
    if (kind == HG_PERSON_DEPT) {
        /* PID-3, then PID-18 */
        hg_msg_add(m, "|||||||||||||||%e", account);
        return;
    }
    /* PID-5 name, PID-7 birth date, PID-8 sex, PID-11 address, PID-13 phone, PID-18. */
    hg_msg_add(m, "||%e^%e||", family[h % N_OF(family)], given[(h >> 5) % N_OF(given)]);
    if (kind == HG_PERSON_PATIENT)
        hg_msg_add(m, "%s|%s|||%e^^%e^^%u^KZ||+7 701 555 %u|||||%e", dob, (h >> 28) & 1 ? "F" : "M",
                   streets[(h >> 32) % N_OF(streets)], cities[(h >> 40) % N_OF(cities)],
                   (unsigned)(h >> 44) % 90000 + 10000, (unsigned)(h >> 48) % 9000 + 1000, account);
    else
        hg_msg_add(m, "|%s||||||||||%e", (h >> 28) & 1 ? "F" : "M", account);
    if (death) /* PID-29 death date/time, PID-30 death indicator */
        hg_msg_add(m, "|||||||||||%T|Y", death);
}

const char *hg_people_doctor(uint32_t n)
{
    return doctors[n % N_OF(doctors)];
}
