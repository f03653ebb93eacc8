#include "hl7_out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7_people.h"
#include "hl7_priv.h"
#include "pathway.h"
#include "time/civil.h"
#include "timefmt.h"

#define STREAM_HL7 4 /* random stream of the HL7 form (sim.c uses 1 to 3) */

static const char *const versions[] = {"2.3", "2.3.1", "2.4",   "2.5", "2.5.1",
                                       "2.6", "2.7",   "2.7.1", "2.8"};
#define N_VERSIONS 9

int hg_hl7_open(struct hg_hl7 **ret, const char *dir, unsigned k, unsigned written, uint64_t seed,
                int32_t off_sec, int64_t start)
{
    struct hg_hl7 *h = calloc(1, sizeof(*h));
    size_t len = strlen(dir) + 32;
    char *path = malloc(len);
    int64_t y;
    int mo, d;
    int r = 0;

    if (!h || !path || !(h->out = calloc(written, sizeof(*h->out)))) {
        free(path);
        if (h)
            free(h->out);
        free(h);
        return -ENOMEM;
    }
    h->n = k;
    h->written = written;
    hg_rng_seed(&h->rng, seed, STREAM_HL7);
    h->off_sec = off_sec;
    h->implied_ok = off_sec % 3600 == 0;
    kpid_civil_from_days((start + (int64_t)off_sec * HG_SEC) / HG_DAY, &y, &mo, &d);
    h->start_year = (int)y;
    for (unsigned i = 0; i < written && r == 0; i++) {
        snprintf(path, len, "%s/hl7-%04u.hl7", dir, i + 1);
        r = hg_wbuf_open(&h->out[i], path);
        if (r < 0)
            fprintf(stderr, "hospgen: cannot create \"%s\": %s\n", path, strerror(-r));
    }
    free(path);
    if (r < 0) {
        hg_hl7_close(h);
        return r;
    }
    *ret = h;
    return 0;
}

int hg_hl7_close(struct hg_hl7 *h)
{
    int r = 0;

    if (!h)
        return 0;
    for (unsigned i = 0; i < h->written; i++) {
        int r2 = hg_wbuf_close(&h->out[i]);
        if (r == 0)
            r = r2;
    }
    free(h->out);
    free(h);
    return r;
}

uint64_t hg_hl7_count(const struct hg_hl7 *h)
{
    return h->control;
}

unsigned hg_hl7_stream(const struct hg_hl7 *h, const struct hg_journey *j)
{
    return (unsigned)(hg_mix64((uint64_t)j->type << 56 ^ j->case_no) % h->n);
}

bool hg_chance(struct hg_ctx *c, double p)
{
    return hg_rng_chance(&c->h->rng, p);
}

unsigned hg_version_index(const struct hg_ctx *c)
{
    for (unsigned i = 0; i < N_VERSIONS; i++)
        if (!strcmp(c->msh.version, versions[i]))
            return i;
    return 0;
}

struct hg_dtm hg_time(struct hg_ctx *c, int64_t t)
{
    static const double w_implied[3] = {45, 30, 25}, w_offset[3] = {70, 0, 30};
    struct hg_dtm d = {.t = t};
    unsigned digits = c->e->tfmt & HG_TF_DIGITS;

    d.digits = (uint8_t)(digits > 4 ? 4 : digits);
    d.form = (uint8_t)hg_rng_pick(&c->h->rng, c->h->implied_ok ? w_implied : w_offset, 3);
    d.trim = hg_chance(c, 0.4);
    return d;
}

struct hg_dtm hg_etime(struct hg_ctx *c)
{
    return hg_time(c, c->e->time);
}

const char *hg_attr(const struct hg_event *e, unsigned k)
{
    for (unsigned i = 0; i < e->n_attr; i++)
        if (e->attr[i].key == k)
            return hg_str_at(e->attr[i].val)->raw;
    return NULL;
}

const char *hg_value_text(const struct hg_event *e, char *out, bool neg)
{
    static const uint64_t p10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    int64_t v = neg ? -e->value : e->value;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    unsigned dec = e->value_dec;
    char *p = out;

    if (v < 0)
        *p++ = '-';
    p += hg_fmt_uint(p, u / p10[dec], 0);
    if (dec) {
        *p++ = '.';
        p += hg_fmt_uint(p, u % p10[dec], dec);
    }
    *p = '\0';
    return out;
}

void hg_begin(struct hg_ctx *c, const char *app, const char *type, const char *trigger,
              const char *structure, unsigned min_version)
{
    unsigned v = min_version + (unsigned)hg_rng_below(&c->h->rng, N_VERSIONS - min_version);

    memset(&c->msh, 0, sizeof(c->msh));
    c->msh.app = app;
    c->msh.facility = hg_chance(c, 0.2) ? "CITYHOSP^1.2.398.7.1^ISO" : "CITYHOSP";
    c->msh.type = type;
    c->msh.trigger = trigger;
    c->msh.structure = v > 0 ? structure : NULL; /* MSH-9.3 from 2.3.1 on */
    c->msh.version = versions[v];
    /* MSH-7: when the message was made; whole seconds. */
    c->msh.time = hg_time(c, hg_time_trunc(c->emit, 0));
    c->msh.time.digits = 0;
    hg_msg_reset(&c->h->m, v >= 6 && hg_chance(c, 0.25), c->h->off_sec);
    c->field = 0;
}

void hg_finish(struct hg_ctx *c)
{
    static const double w[4] = {10, 45, 35, 10};

    c->msh.control = ++c->h->control;
    c->msh.charset = (uint8_t)hg_rng_pick(&c->h->rng, w, 4);
    hg_msg_write(&c->h->m, &c->msh, &c->h->out[c->stream]);
}

void hg_seg(struct hg_ctx *c, unsigned field, const char *text)
{
    hg_msg_seg(&c->h->m, "%s", text);
    c->field = field;
}

void hg_at(struct hg_ctx *c, unsigned n, const char *fmt, ...)
{
    va_list ap;

    while (c->field < n) {
        hg_msg_add(&c->h->m, "|");
        c->field++;
    }
    va_start(ap, fmt);
    /* hg_msg_add has no va_list form: one argument at most, of the type fmt names. */
    const char *pct = strchr(fmt, '%');
    if (!pct) {
        hg_msg_add(&c->h->m, fmt);
    } else if (pct[1] == 'T') {
        hg_msg_add(&c->h->m, fmt, va_arg(ap, const struct hg_dtm *));
    } else if (pct[1] == 'u') {
        hg_msg_add(&c->h->m, fmt, va_arg(ap, unsigned));
    } else {
        hg_msg_add(&c->h->m, fmt, va_arg(ap, const char *));
    }
    va_end(ap);
}

void hg_pid(struct hg_ctx *c, bool death)
{
    const struct hg_journey *j = c->j;
    const struct hg_event *e = c->e;
    enum hg_person_kind kind = j->type == HG_J_TRAINING    ? HG_PERSON_STAFF
                               : j->type == HG_J_HEADCOUNT ? HG_PERSON_DEPT
                                                           : HG_PERSON_PATIENT;
    int year = kind == HG_PERSON_PATIENT ? hg_people_birth_year(c->h->start_year, e->subject)
                                         : c->h->start_year;
    struct hg_dtm dt;

    if (death)
        dt = hg_etime(c);
    hg_people_pid(&c->h->m, &c->h->rng, kind, c->subject, e->subject, year,
                  (e->flags & HG_EF_NO_SUBJECT) != 0, c->case_id, death ? &dt : NULL);
    c->field = 0; /* hg_at is not used on PID */
}

/* Writes the message(s) of content e for operation op. */
static void write_msg(struct hg_hl7 *h, const struct hg_journey *j, const struct hg_event *e,
                      enum hg_op op, int64_t emit)
{
    struct hg_ctx c = {.h = h, .j = j, .e = e, .op = op, .emit = emit};

    c.case_id[hg_case_id(j, c.case_id)] = '\0';
    c.subject[hg_subject_id(j, e, c.subject)] = '\0';
    c.stream = hg_hl7_stream(h, j);
    switch (e->act) {
    case HG_A_LAB_ORDER: hg_order(&c); break;
    case HG_A_LAB_RESULT:
    case HG_A_HOSPITAL_ACQUIRED_INFECTION:
    case HG_A_SATISFACTION_SURVEY:
    case HG_A_TRAINING_HOURS:
    case HG_A_STAFF_HEADCOUNT: hg_oru(&c); break;
    case HG_A_COST: hg_dft(&c); break;
    case HG_A_SURGERY_SCHEDULED:
    case HG_A_SURGERY_CANCELLED:
    case HG_A_SURGERY_PERFORMED:
    case HG_A_APPOINTMENT_BOOKED:
    case HG_A_APPOINTMENT_SEEN: hg_siu(&c); break;
    default: hg_adt(&c); break;
    }
}

/* Whether the mapping's key of a and b (two contents of one event) is the same: only
 * the keys of ED registrations (time, arrival mode) and transfers (time) hold content. */
static bool same_key(const struct hg_event *a, const struct hg_event *b)
{
    if (a->act == HG_A_ED_ARRIVAL)
        return a->time == b->time && hg_attr(a, HG_K_ARRIVAL_MODE) == hg_attr(b, HG_K_ARRIVAL_MODE);
    if (a->act == HG_A_TRANSFER)
        return a->time == b->time;
    return true;
}

void hg_hl7_line(struct hg_hl7 *h, const struct hg_journey *j, const struct hg_line *l,
                 unsigned prev)
{
    const struct hg_event *e = &j->ev[l->slot];
    const struct hg_event *cur = prev < HG_FINAL_GONE ? &j->ev[prev] : NULL;

    if (l->kind == HG_L_RETRACT) {
        if (cur)
            write_msg(h, j, cur, HG_OP_RETRACT, l->emit);
    } else if (!cur) {
        write_msg(h, j, e, HG_OP_NEW, l->emit);
    } else if (same_key(cur, e)) {
        write_msg(h, j, e, HG_OP_UPDATE, l->emit);
    } else {
        /* The key moves with the content: cancel the old, send the new (A12 + A02). */
        write_msg(h, j, cur, HG_OP_RETRACT, l->emit);
        write_msg(h, j, e, HG_OP_NEW, l->emit);
    }
}
