#include "emit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define LINE_MAX_BYTES 4096 /* far above the longest event line or row */

static const uint64_t pow10_u[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

/* Copies n bytes of s to p; returns the end. */
static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_str((p), (lit), sizeof(lit) - 1)

/* Writes v / 10^dec with exactly dec decimals. */
static char *put_value(char *p, int64_t v, unsigned dec)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    if (v < 0)
        *p++ = '-';
    p += hg_fmt_uint(p, u / pow10_u[dec], 0);
    if (dec) {
        uint64_t f = u % pow10_u[dec];
        *p++ = '.';
        for (unsigned i = dec; i-- > 0;) {
            p[i] = (char)('0' + f % 10);
            f /= 10;
        }
        p += dec;
    }
    return p;
}

/* Writes "<case>/<ACTIVITY>/<seq>" (no quotes) for original o. */
static char *put_key(char *p, const struct hg_event *o, const char *case_id, size_t case_len)
{
    p = put_str(p, case_id, case_len);
    *p++ = '/';
    p = put_str(p, hg_activity_name[o->act], hg_activity_len[o->act]);
    *p++ = '/';
    return p + hg_fmt_uint(p, o->seq, 0);
}

/* Whether s is a run of digits without a leading zero, which JSON may write as a number
 * ("3" and 3 are the same attribute value to kpid, which compares text). */
static int digits_only(const char *s)
{
    if (!*s || (s[0] == '0' && s[1]))
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Writes e's attributes as a JSON object; for_copy selects the COPY-escaped forms. */
static char *put_attrs(char *p, const struct hg_event *e, int for_copy)
{
    *p++ = '{';
    for (unsigned k = 0; k < e->n_attr; k++) {
        const struct hg_str *s = hg_str_at(e->attr[k].val);
        unsigned key = e->attr[k].key;
        if (k)
            *p++ = ',';
        *p++ = '"';
        p = put_str(p, hg_attr_key_name[key], hg_attr_key_len[key]);
        *p++ = '"';
        *p++ = ':';
        if ((e->flags & HG_EF_NUMERIC) && digits_only(s->raw))
            p = put_str(p, s->raw, strlen(s->raw));
        else if (for_copy)
            p = put_str(p, s->copy, s->copy_len);
        else if (e->flags & HG_EF_UESC)
            p = put_str(p, s->json_u, s->json_u_len);
        else
            p = put_str(p, s->json, s->json_len);
    }
    *p++ = '}';
    return p;
}

/* Opens events file f (1-based) as em->nd. Returns 0 or a negative errno after a message. */
static int open_events_file(struct hg_emitter *em, unsigned f)
{
    size_t len = strlen(em->dir) + 32;
    char *path = malloc(len);
    int r;

    if (!path)
        return -ENOMEM;
    snprintf(path, len, "%s/events-%04u.ndjson", em->dir, f);
    r = hg_wbuf_open(&em->nd, path);
    if (r < 0)
        fprintf(stderr, "hospgen: cannot create \"%s\": %s\n", path, strerror(-r));
    free(path);
    if (r < 0)
        return r;
    em->file = f;
    em->line_no = 0;
    em->file_end = em->n_events * f / em->n_files;
    return 0;
}

/* Closes the open events file and opens the next. Returns 0 or a negative errno. */
static int next_file(struct hg_emitter *em)
{
    int r = hg_wbuf_close(&em->nd);
    int r2 = open_events_file(em, em->file + 1);

    return r < 0 ? r : r2;
}

/* Creates dir/name as wb. Returns 0 or a negative errno after a message. */
static int open_named(struct hg_wbuf *wb, const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    int r;

    if (!path)
        return -ENOMEM;
    snprintf(path, len, "%s/%s", dir, name);
    r = hg_wbuf_open(wb, path);
    if (r < 0)
        fprintf(stderr, "hospgen: cannot create \"%s\": %s\n", path, strerror(-r));
    free(path);
    return r;
}

int hg_emitter_open(struct hg_emitter *em, const char *dir, unsigned n_files, uint64_t n_events,
                    struct hg_bad_plan *plan, int32_t off_sec, const char *off_text)
{
    int r;

    memset(em, 0, sizeof(*em));
    em->dir = malloc(strlen(dir) + 1);
    if (!em->dir)
        return -ENOMEM;
    strcpy(em->dir, dir);
    em->n_files = n_files;
    em->n_events = n_events;
    em->plan = plan;
    em->off_sec = off_sec;
    memcpy(em->off_text, off_text, 7);
    r = open_named(&em->expected, dir, "expected.tsv");
    if (r >= 0)
        r = open_named(&em->bad, dir, "malformed.tsv");
    if (r >= 0)
        r = open_events_file(em, 1);
    if (r < 0) {
        hg_wbuf_close(&em->expected);
        hg_wbuf_close(&em->bad);
        free(em->dir);
        em->dir = NULL;
    }
    return r;
}

/* Writes one due malformed line to the open file and lists it in malformed.tsv. */
static void write_bad(struct hg_emitter *em, int64_t t)
{
    enum hg_bad_kind k = hg_bad_write_next(em->plan, &em->nd, t);
    char *p = hg_wbuf_reserve(&em->bad, 128);
    int n = snprintf(p, 128, "events-%04u.ndjson\t%llu\t%s\n", em->file,
                     (unsigned long long)++em->line_no, hg_bad_kind_name(k));

    hg_wbuf_commit(&em->bad, (size_t)n);
    em->n_bad++;
}

/* Moves to the file of the next event line and writes the malformed lines due before
 * it. Returns 0 or a negative errno. */
static int begin_line(struct hg_emitter *em, const struct hg_line *l)
{
    while (em->written >= em->file_end && em->file < em->n_files) {
        int r = next_file(em);
        if (r < 0)
            return r;
    }
    em->last_emit = l->emit;
    while (hg_bad_due(em->plan, em->written))
        write_bad(em, l->emit);
    return 0;
}

int hg_emit_skip(struct hg_emitter *em, const struct hg_line *l)
{
    int r = begin_line(em, l);

    if (r == 0)
        em->written++;
    return r;
}

int hg_emit_line(struct hg_emitter *em, const struct hg_journey *j, const struct hg_line *l)
{
    const struct hg_event *e = &j->ev[l->slot];
    const struct hg_event *o = &j->ev[e->key_of];
    char case_id[32];
    size_t case_len = hg_case_id(j, case_id);
    int r = begin_line(em, l);

    if (r < 0)
        return r;

    char *start = hg_wbuf_reserve(&em->nd, LINE_MAX_BYTES);
    char *p = start;
    p = PUT_LIT(p, "{\"event_key\":\"");
    p = put_key(p, o, case_id, case_len);
    if (l->kind == HG_L_RETRACT) {
        p = PUT_LIT(p, "\",\"retract\":true}\n");
    } else {
        *p++ = '"';
        if (!(e->flags & HG_EF_NO_CASE)) {
            p = PUT_LIT(p, ",\"case_id\":\"");
            p = put_str(p, case_id, case_len);
            *p++ = '"';
        }
        if (!(e->flags & HG_EF_NO_SUBJECT)) {
            p = PUT_LIT(p, ",\"subject_id\":\"");
            p += hg_subject_id(j, e, p);
            *p++ = '"';
        }
        p = PUT_LIT(p, ",\"activity\":\"");
        p = put_str(p, hg_activity_name[e->act], hg_activity_len[e->act]);
        p = PUT_LIT(p, "\",\"time\":\"");
        p += hg_fmt_rfc3339(p, e->time, e->tfmt & HG_TF_DIGITS, e->tfmt & HG_TF_ZULU, em->off_sec,
                            em->off_text);
        *p++ = '"';
        if (e->value_dec != HG_NO_VALUE) {
            p = PUT_LIT(p, ",\"value\":");
            p = put_value(p, e->value, e->value_dec);
        }
        if (e->form == HG_AF_OBJECT) {
            p = PUT_LIT(p, ",\"attrs\":");
            p = put_attrs(p, e, 0);
        }
        p = PUT_LIT(p, "}\n");
    }
    hg_wbuf_commit(&em->nd, (size_t)(p - start));
    em->line_no++;
    em->written++;
    return 0;
}

void hg_emit_expected(struct hg_emitter *em, const struct hg_journey *j, unsigned key_slot,
                      const struct hg_event *e)
{
    char case_id[32];
    size_t case_len = hg_case_id(j, case_id);
    char *start = hg_wbuf_reserve(&em->expected, LINE_MAX_BYTES);
    char *p = start;

    p = put_key(p, &j->ev[key_slot], case_id, case_len);
    *p++ = '\t';
    if (e->flags & HG_EF_NO_CASE)
        p = PUT_LIT(p, "\\N");
    else
        p = put_str(p, case_id, case_len);
    *p++ = '\t';
    if (e->flags & HG_EF_NO_SUBJECT)
        p = PUT_LIT(p, "\\N");
    else
        p += hg_subject_id(j, e, p);
    *p++ = '\t';
    p = put_str(p, hg_activity_name[e->act], hg_activity_len[e->act]);
    *p++ = '\t';
    p += hg_fmt_utc(p, e->time);
    *p++ = '\t';
    if (e->value_dec != HG_NO_VALUE)
        p = put_value(p, e->value, e->value_dec);
    else
        p = PUT_LIT(p, "\\N");
    *p++ = '\t';
    p = put_attrs(p, e, 1);
    *p++ = '\n';
    hg_wbuf_commit(&em->expected, (size_t)(p - start));
}

int hg_emitter_close(struct hg_emitter *em)
{
    int r = 0, r2;

    if (!em->dir)
        return 0;
    while (em->plan->next < em->plan->n)
        write_bad(em, em->last_emit);
    while (em->file < em->n_files && r == 0)
        r = next_file(em);
    r2 = hg_wbuf_close(&em->nd);
    r = r < 0 ? r : r2;
    r2 = hg_wbuf_close(&em->expected);
    r = r < 0 ? r : r2;
    r2 = hg_wbuf_close(&em->bad);
    r = r < 0 ? r : r2;
    free(em->dir);
    em->dir = NULL;
    return r;
}
