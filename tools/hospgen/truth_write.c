#define _POSIX_C_SOURCE 200809L

#include "truth_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "truth_eval.h"

/* "YYYY-MM-DD HH:MM:SS+00" of t (UTC microseconds, whole seconds at period bounds). */
static void fmt_utc(char out[32], int64_t t)
{
    time_t sec = (time_t)(t / 1000000);
    struct tm tm;

    gmtime_r(&sec, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S+00", &tm);
}

/* Writes text as one COPY text field: backslash, tab, newline, CR escaped. */
static void put_field(FILE *f, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '\\': fputs("\\\\", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        default: fputc(*p, f); break;
        }
    }
}

static void put_num(FILE *f, bool has, double v)
{
    if (has)
        fprintf(f, "\t%.17g", v);
    else
        fputs("\t\\N", f);
}

/* Population rows are written in code order: index order of the codes by strcmp. */
static int cmp_pop(const void *pa, const void *pb)
{
    return strcmp(((const struct ht_pop *)pa)->code, ((const struct ht_pop *)pb)->code);
}

static void write_rows(FILE *tf, FILE *cf, const struct ht_store *s, const char *id, int64_t start,
                       int64_t end, struct ht_result *res)
{
    char ts[32], te[32];

    fmt_utc(ts, start);
    fmt_utc(te, end);
    for (size_t i = 0; i < res->n; i++) {
        struct ht_row *row = &res->row[i];
        fprintf(tf, "%s\t%s\t%s\t", id, ts, te);
        put_field(tf, row->stratum);
        put_num(tf, row->has_value, row->value);
        put_num(tf, row->has_num, row->num);
        put_num(tf, row->has_den, row->den);
        if (row->has_n)
            fprintf(tf, "\t%lld", (long long)row->n);
        else
            fputs("\t\\N", tf);
        if (row->has_excl)
            fprintf(tf, "\t%lld\n", (long long)row->excluded);
        else
            fputs("\t\\N\n", tf);
        ht_sort(row->pop, row->n_pop, sizeof(row->pop[0]), cmp_pop);
        for (size_t p = 0; p < row->n_pop; p++)
            for (size_t k = 0; k < row->pop[p].n; k++) {
                const struct ht_pair *pr = &row->pop[p].p[k];
                const char *c = ht_pool_str(&s->pool, pr->case_id);
                const char *subj = ht_pool_str(&s->pool, pr->subject);
                fprintf(cf, "%s\t%s\t", id, ts);
                put_field(cf, row->stratum);
                fprintf(cf, "\t%s\t", row->pop[p].code);
                if (c)
                    put_field(cf, c);
                else
                    fputs("\\N", cf);
                fputc('\t', cf);
                if (subj)
                    put_field(cf, subj);
                else
                    fputs("\\N", cf);
                fputc('\n', cf);
            }
    }
}

static int cmp_kpi_id(const void *pa, const void *pb)
{
    return strcmp((*(const struct ht_kpi *const *)pa)->id, (*(const struct ht_kpi *const *)pb)->id);
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "hospgen: cannot create \"%s\": %s\n", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *dir, const char *name, int r)
{
    bool bad = ferror(f) != 0;

    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "hospgen: writing \"%s/%s\" failed\n", dir, name);
        return r < 0 ? r : -EIO;
    }
    return r;
}

int ht_write_truth(const struct ht_store *s, const struct ht_model *m, int64_t from_day,
                   int64_t to_day, const char *dir)
{
    const struct ht_kpi **order = malloc((m->n ? m->n : 1) * sizeof(*order));
    FILE *tf = NULL, *cf = NULL;
    int r = 0;

    if (!order)
        return -ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        order[i] = &m->kpi[i];
    ht_sort(order, m->n, sizeof(*order), cmp_kpi_id);
    tf = open_out(dir, "truth.tsv");
    cf = tf ? open_out(dir, "truth_cases.tsv") : NULL;
    if (!tf || !cf)
        r = -EIO;
    for (size_t i = 0; r == 0 && i < m->n; i++) {
        const struct ht_kpi *k = order[i];
        int64_t *b = NULL;
        size_t n = 0;

        if (k->type == HT_SQL || k->period.kind == HT_P_ROLLING)
            continue;
        r = ht_periods(&k->period, k->tz, from_day, to_day, &b, &n);
        if (r == -EINVAL)
            fprintf(stderr, "hospgen: KPI \"%s\": unknown time zone \"%s\"\n", k->id, k->tz);
        for (size_t p = 0; r == 0 && p < n; p++) {
            struct ht_result res = {0};
            r = ht_eval(s, m, (size_t)(k - m->kpi), b[p], b[p + 1], &res);
            if (r == 0)
                write_rows(tf, cf, s, k->id, b[p], b[p + 1], &res);
            ht_result_clear(&res);
        }
        if (r < 0 && r != -EINVAL)
            fprintf(stderr, "hospgen: KPI \"%s\": %s\n", k->id, strerror(-r));
        free(b);
    }
    if (tf)
        r = close_out(tf, dir, "truth.tsv", r);
    if (cf)
        r = close_out(cf, dir, "truth_cases.tsv", r);
    free(order);
    return r;
}
