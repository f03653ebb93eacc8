#include "his_out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "his_priv.h"
#include "hl7_people.h"
#include "rng.h"
#include "time/civil.h"
#include "timefmt.h"
#include "vocab.h"

#define ROW_MAX 4096                            /* far above the longest row of any table */
#define SHARE_SALT UINT64_C(0x4849530000000000) /* "HIS": a hash apart from the HL7 streams' */

static const uint64_t pow10_u[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

/* Returns a fresh "dir/.his-<table>.tmp" (or "dir/his.sql" for t = HIS__COUNT), or NULL. */
static char *path_of(const char *dir, unsigned t)
{
    const char *name = t < HIS__COUNT ? his_tables[t].name : NULL;
    size_t len = strlen(dir) + (name ? strlen(name) : 0) + 16;
    char *p = malloc(len);

    if (p && name)
        snprintf(p, len, "%s/.his-%s.tmp", dir, name);
    else if (p)
        snprintf(p, len, "%s/his.sql", dir);
    return p;
}

int hg_his_open(struct hg_his **ret, const char *dir, unsigned share, int32_t off_sec,
                int64_t start)
{
    struct hg_his *h = calloc(1, sizeof(*h));
    int64_t y;
    int m, d;
    int r = 0;

    if (!h || !(h->dir = malloc(strlen(dir) + 1))) {
        free(h);
        return -ENOMEM;
    }
    strcpy(h->dir, dir);
    h->share = share;
    h->start = start;
    kpid_civil_from_days((start + (int64_t)off_sec * HG_SEC) / HG_DAY, &y, &m, &d);
    h->start_year = (int)y;
    for (unsigned t = 0; t < HIS__COUNT && r == 0; t++) {
        char *path = path_of(dir, t);
        r = path ? hg_wbuf_open(&h->tmp[t], path) : -ENOMEM;
        if (r < 0 && path)
            fprintf(stderr, "hospgen: cannot create \"%s\": %s\n", path, strerror(-r));
        free(path);
    }
    if (r < 0) {
        hg_his_close(h, /* complete= */ false, NULL);
        return r;
    }
    *ret = h;
    return 0;
}

bool hg_his_owns(const struct hg_his *h, const struct hg_journey *j)
{
    uint64_t x = hg_mix64(((uint64_t)j->type << 56 ^ j->case_no) + SHARE_SALT);

    return h->share > 0 && x % 100 < h->share;
}

void hg_his_journey(struct hg_his *h, const struct hg_journey *j)
{
    if (j->next > 0 && (h->share == 0 || hg_his_owns(h, j)))
        his_case(h, j);
}

void his_row_begin(struct hg_his *h, struct his_row *r, enum his_table t)
{
    r->h = h;
    r->t = t;
    r->start = r->p = hg_wbuf_reserve(&h->tmp[t], ROW_MAX);
    r->n = 0;
}

/* Starts the next field: a tab before every one but the first. */
static void field(struct his_row *r)
{
    if (r->n++)
        *r->p++ = '\t';
}

void his_text(struct his_row *r, const char *s)
{
    if (!s) {
        his_null(r);
        return;
    }
    field(r);
    for (; *s; s++) {
        char c = *s;
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            *r->p++ = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : c;
        }
        *r->p++ = c;
    }
}

void his_null(struct his_row *r)
{
    field(r);
    *r->p++ = '\\';
    *r->p++ = 'N';
}

void his_uint(struct his_row *r, uint64_t v)
{
    field(r);
    r->p += hg_fmt_uint(r->p, v, 0);
}

void his_bool(struct his_row *r, bool v)
{
    field(r);
    *r->p++ = v ? 't' : 'f';
}

void his_time(struct his_row *r, int64_t t)
{
    field(r);
    r->p += hg_fmt_utc(r->p, t);
}

void his_value(struct his_row *r, int64_t v, unsigned dec)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    field(r);
    if (v < 0)
        *r->p++ = '-';
    r->p += hg_fmt_uint(r->p, u / pow10_u[dec], 0);
    if (dec) {
        *r->p++ = '.';
        r->p += hg_fmt_uint(r->p, u % pow10_u[dec], dec);
    }
}

void his_date(struct his_row *r, int64_t days)
{
    int64_t y;
    int m, d;

    kpid_civil_from_days(days, &y, &m, &d);
    field(r);
    r->p += hg_fmt_uint(r->p, (uint64_t)y, 4);
    *r->p++ = '-';
    r->p += hg_fmt_uint(r->p, (uint64_t)m, 2);
    *r->p++ = '-';
    r->p += hg_fmt_uint(r->p, (uint64_t)d, 2);
}

void his_row_end(struct his_row *r, int64_t created, int64_t updated)
{
    his_time(r, created);
    his_time(r, updated);
    *r->p++ = '\n';
    if (r->n != his_tables[r->t].n_cols + 2 || r->p - r->start > ROW_MAX) {
        fprintf(stderr, "hospgen: his bug: a row of %s has %u fields, the table %u\n",
                his_tables[r->t].name, r->n, his_tables[r->t].n_cols + 2);
        abort();
    }
    hg_wbuf_commit(&r->h->tmp[r->t], (size_t)(r->p - r->start));
    r->h->rows++;
}

/* Grows *a (n elements of size sz) to hold index i, filling new bytes with fill. Returns 0
 * or -ENOMEM. */
static int grow(void **a, size_t *n, size_t sz, size_t i, int fill)
{
    if (i < *n)
        return 0;
    size_t m = *n ? *n : 1024;
    while (m <= i)
        m *= 2;
    char *p = realloc(*a, m * sz);
    if (!p)
        return -ENOMEM;
    memset(p + *n * sz, fill, (m - *n) * sz);
    *a = p;
    *n = m;
    return 0;
}

void his_patient(struct hg_his *h, uint32_t p, int64_t t)
{
    size_t n = h->n_patient;

    if (grow((void **)&h->patient_since, &h->n_patient, sizeof(int64_t), p, 0) < 0) {
        h->err = -ENOMEM;
        return;
    }
    for (size_t i = n; i < h->n_patient; i++)
        h->patient_since[i] = INT64_MAX;
    if (t < h->patient_since[p])
        h->patient_since[p] = t;
}

void his_staff(struct hg_his *h, uint32_t s)
{
    if (grow((void **)&h->staff_seen, &h->n_staff, 1, s, 0) < 0) {
        h->err = -ENOMEM;
        return;
    }
    h->staff_seen[s] = 1;
}

/* The rows that do not come from cases: departments, wards, and the patients and staff
 * that the cases named. */
static void reference_rows(struct hg_his *h)
{
    struct his_row r;
    char code[16];

    for (unsigned k = 0; k < hg_dom_size(HG_D_DEPARTMENT); k++) {
        his_row_begin(h, &r, HIS_DEPARTMENTS);
        his_uint(&r, k + 1);
        snprintf(code, sizeof(code), "dept-%02u", k);
        his_text(&r, code);
        his_text(&r, hg_str_at(hg_dom(HG_D_DEPARTMENT, k))->raw);
        his_row_end(&r, h->start, h->start);
    }
    for (unsigned k = 0; k < hg_dom_size(HG_D_WARD); k++) {
        his_row_begin(h, &r, HIS_WARDS);
        his_uint(&r, k + 1);
        his_text(&r, hg_str_at(hg_dom(HG_D_WARD, k))->raw);
        his_uint(&r, hg_ward_department(k) + 1);
        his_uint(&r, 12 + (k * 7) % 20);
        his_row_end(&r, h->start, h->start);
    }
    for (size_t p = 0; p < h->n_patient; p++) {
        struct hg_person who;
        char text[32];
        if (h->patient_since[p] == INT64_MAX)
            continue;
        int year = hg_people_birth_year(h->start_year, (uint32_t)p);
        hg_people_person(HG_PERSON_PATIENT, (uint32_t)p, year, &who);
        his_row_begin(h, &r, HIS_PATIENTS);
        his_uint(&r, p);
        text[0] = 'P';
        text[1 + hg_fmt_uint(text + 1, p, 7)] = '\0';
        his_text(&r, text);
        his_text(&r, who.national_id[0] ? who.national_id : NULL);
        his_text(&r, who.family);
        his_text(&r, who.given);
        his_date(&r, kpid_days_from_civil(year, (int)who.birth_month, (int)who.birth_day));
        text[0] = who.sex;
        text[1] = '\0';
        his_text(&r, text);
        his_text(&r, who.street);
        his_text(&r, who.city);
        snprintf(text, sizeof(text), "%u", who.postcode);
        his_text(&r, text);
        snprintf(text, sizeof(text), "+7 701 555 %u", who.phone);
        his_text(&r, text);
        his_row_end(&r, h->patient_since[p], h->patient_since[p]);
    }
    for (size_t s = 0; s < h->n_staff; s++) {
        struct hg_person who;
        char text[16];
        if (!h->staff_seen[s])
            continue;
        hg_people_person(HG_PERSON_STAFF, (uint32_t)s, h->start_year, &who);
        his_row_begin(h, &r, HIS_STAFF);
        his_uint(&r, s);
        snprintf(text, sizeof(text), "staff-%04u", (unsigned)s);
        his_text(&r, text);
        his_text(&r, who.family);
        his_text(&r, who.given);
        /* The role of TRAINING_HOURS (path_staff.c): fixed per employee. */
        his_text(&r, hg_str_at(hg_dom(HG_D_ROLE, (unsigned)(hg_mix64(s) % 4)))->raw);
        his_row_end(&r, h->start, h->start);
    }
}

/* Appends the file at path to out. Returns 0 or a negative errno. */
static int append_file(struct hg_wbuf *out, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *chunk = malloc(1u << 20);
    size_t n;
    int r = 0;

    if (!f || !chunk) {
        r = f ? -ENOMEM : -errno;
        goto out;
    }
    while ((n = fread(chunk, 1, 1u << 20, f)) > 0)
        hg_wbuf_put(out, chunk, n);
    if (ferror(f))
        r = -EIO;
out:
    if (f)
        fclose(f);
    free(chunk);
    return r;
}

/* Writes dir/his.sql from the closed temporary files. Returns 0 or a negative errno. */
static int write_sql(struct hg_his *h)
{
    struct hg_wbuf out;
    char *path = path_of(h->dir, HIS__COUNT);
    int r = path ? hg_wbuf_open(&out, path) : -ENOMEM;

    if (r < 0)
        goto out;
    his_schema_head(&out);
    for (unsigned t = 0; t < HIS__COUNT && r == 0; t++) {
        char *tmp = path_of(h->dir, t);
        his_schema_copy(&out, t);
        r = tmp ? append_file(&out, tmp) : -ENOMEM;
        hg_wbuf_put(&out, "\\.\n", 3);
        free(tmp);
    }
    his_schema_tail(&out);
    int r2 = hg_wbuf_close(&out);
    r = r < 0 ? r : r2;
out:
    if (r < 0)
        fprintf(stderr, "hospgen: cannot write \"%s\": %s\n", path ? path : "his.sql",
                strerror(-r));
    free(path);
    return r;
}

int hg_his_close(struct hg_his *h, bool complete, uint64_t *ret_rows)
{
    int r;

    if (!h)
        return 0;
    r = h->err;
    if (r < 0)
        fprintf(stderr, "hospgen: his: %s\n", strerror(-r));
    if (complete && r == 0)
        reference_rows(h);
    if (h->err < 0 && r == 0)
        r = h->err;
    for (unsigned t = 0; t < HIS__COUNT; t++) {
        int r2 = hg_wbuf_close(&h->tmp[t]);
        if (r2 < 0 && r == 0) {
            fprintf(stderr, "hospgen: writing a temporary file of his.sql failed: %s\n",
                    strerror(-r2));
            r = r2;
        }
    }
    if (complete && r == 0)
        r = write_sql(h);
    if (r == 0 && ret_rows)
        *ret_rows = h->rows;
    for (unsigned t = 0; t < HIS__COUNT; t++) {
        char *tmp = path_of(h->dir, t);
        if (tmp)
            unlink(tmp);
        free(tmp);
    }
    free(h->patient_since);
    free(h->staff_seen);
    free(h->dir);
    free(h);
    return r;
}
