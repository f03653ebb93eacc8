/*
 * hospgen: a synthetic hospital for kpid's tests and benchmarks. Writes NDJSON event
 * files with corrections, retractions, late and malformed lines, and the final state
 * they describe (expected.tsv, summary.tsv). Same arguments, same bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sim.h"
#include "time/civil.h"
#include "timefmt.h"
#include "truth_conf.h"
#include "truth_store.h"
#include "truth_write.h"
#include "vocab.h"

/* Prints the synopsis and the options to f. */
static void usage(FILE *f)
{
    fputs("usage: hospgen --seed S --events N --out DIR [--files K] [--start YYYY-MM-DD]\n"
          "               [--days D] [--malformed M] [--tz-offset +HH:MM]\n"
          "               [--truth CONF --truth-from YYYY-MM-DD --truth-to YYYY-MM-DD]\n"
          "               [--hl7 K [--hl7-split S]] [--his [--his-share P]]\n"
          "\n"
          "  --seed S         any 64-bit number; same arguments give the same bytes\n"
          "  --events N       event lines to write (events, corrections, retractions)\n"
          "  --out DIR        output folder, created if missing\n"
          "  --files K        split the event lines over K files (default 1)\n"
          "  --start DATE     the hospital opens at local midnight of DATE (default 2025-01-01)\n"
          "  --days D         scale the rates so that N lines span about D days\n"
          "                   (default: the rates of a 400-bed hospital, ~3000 lines a day)\n"
          "  --malformed M    add M malformed lines (not counted in N), see malformed.tsv\n"
          "  --tz-offset OFF  local UTC offset of the hospital (default +05:00)\n"
          "  --truth CONF     also write truth.tsv and truth_cases.tsv: the values of the KPIs\n"
          "                   of kpid configuration CONF computed from the final events, for\n"
          "                   the periods from the one containing --truth-from (local\n"
          "                   midnight) while the period starts before --truth-to\n"
          "  --hl7 K          also write the feed as HL7 v2 messages, MLLP-framed, in K files\n"
          "                   hl7-0001.hl7 ... (a case's messages in one file, in order);\n"
          "                   event times then have at most 4 fractional digits\n"
          "  --hl7-split S    with --hl7 K, S < K: the hospital of the run without --hl7,\n"
          "                   the cases of streams 1..S only as HL7 (their times cut to 4\n"
          "                   digits), the others only as NDJSON (HL7 files S+1..K not\n"
          "                   written); expected.tsv and the truth stay the whole hospital's\n"
          "  --his            also write his.sql: the hospital's final state as the tables of\n"
          "                   a hospital information system (schema his, for PostgreSQL)\n"
          "  --his-share P    with --his, 1 <= P <= 100: about P % of the cases only in the\n"
          "                   HIS, left out of the NDJSON and the HL7; expected.tsv and the\n"
          "                   truth stay the whole hospital's\n",
          f);
}

/* Parses a whole decimal (or 0x hex) unsigned number. Returns 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t *ret)
{
    int base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
    char *end;

    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* Creates dir and its missing parents, like mkdir -p. Returns 0 or -errno. */
static int mkdir_p(const char *dir)
{
    size_t len = strlen(dir);
    char *p = malloc(len + 1);
    int r = 0;

    if (!p)
        return -ENOMEM;
    memcpy(p, dir, len + 1);
    for (size_t i = 1; i <= len && r == 0; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST)
            r = -errno;
        p[i] = c;
    }
    free(p);
    if (r == 0) {
        struct stat st;
        if (stat(dir, &st) < 0)
            r = -errno;
        else if (!S_ISDIR(st.st_mode))
            r = -ENOTDIR;
    }
    return r;
}

/* The ground-truth options: all three or none. */
struct truth_args {
    const char *conf;
    int64_t from_day, to_day;
};

/*
 * Reads the command line into *o and *t. Returns 0, 1 for --help, or -EINVAL after a
 * message.
 */
static int parse_args(int argc, char **argv, struct hg_options *o, struct truth_args *t)
{
    const char *truth_from = NULL, *truth_to = NULL;
    bool have_seed = false, have_events = false;
    const char *start = "2025-01-01", *tz = "+05:00";
    uint64_t files = 1, hl7 = 0, hl7_split = 0, his_share = 0;

    memset(o, 0, sizeof(*o));
    memset(t, 0, sizeof(*t));
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = NULL;
        const char *eq = strchr(opt, '=');
        char name[32];

        if (!strcmp(opt, "--help") || !strcmp(opt, "-h"))
            return 1;
        if (!strcmp(opt, "--his")) { /* the one option without a value */
            o->his = true;
            continue;
        }
        if (strncmp(opt, "--", 2) != 0 || (eq ? (size_t)(eq - opt) : strlen(opt)) >= sizeof(name)) {
            fprintf(stderr, "hospgen: unexpected argument \"%s\"\n", opt);
            return -EINVAL;
        }
        if (eq) {
            memcpy(name, opt, (size_t)(eq - opt));
            name[eq - opt] = '\0';
            val = eq + 1;
        } else {
            strcpy(name, opt);
            if (i + 1 >= argc) {
                fprintf(stderr, "hospgen: option %s needs a value\n", name);
                return -EINVAL;
            }
            val = argv[++i];
        }

        int r = 0;
        if (!strcmp(name, "--seed")) {
            r = parse_u64(val, &o->seed);
            have_seed = true;
        } else if (!strcmp(name, "--events")) {
            r = parse_u64(val, &o->events);
            have_events = true;
        } else if (!strcmp(name, "--out")) {
            o->out_dir = val;
        } else if (!strcmp(name, "--files")) {
            r = parse_u64(val, &files);
            if (r == 0 && (files < 1 || files > 1000000))
                r = -EINVAL;
        } else if (!strcmp(name, "--start")) {
            start = val;
        } else if (!strcmp(name, "--days")) {
            char *end;
            o->days = strtod(val, &end);
            if (*end || !(o->days > 0 && o->days < 1e6))
                r = -EINVAL;
        } else if (!strcmp(name, "--malformed")) {
            r = parse_u64(val, &o->malformed);
        } else if (!strcmp(name, "--tz-offset")) {
            tz = val;
        } else if (!strcmp(name, "--hl7")) {
            r = parse_u64(val, &hl7);
            if (r == 0 && (hl7 < 1 || hl7 > 1000))
                r = -EINVAL;
        } else if (!strcmp(name, "--hl7-split")) {
            r = parse_u64(val, &hl7_split);
            if (r == 0 && (hl7_split < 1 || hl7_split > 1000))
                r = -EINVAL;
        } else if (!strcmp(name, "--his-share")) {
            r = parse_u64(val, &his_share);
            if (r == 0 && (his_share < 1 || his_share > 100))
                r = -EINVAL;
        } else if (!strcmp(name, "--truth")) {
            t->conf = val;
        } else if (!strcmp(name, "--truth-from")) {
            truth_from = val;
            r = ht_parse_day(val, &t->from_day);
        } else if (!strcmp(name, "--truth-to")) {
            truth_to = val;
            r = ht_parse_day(val, &t->to_day);
        } else {
            fprintf(stderr, "hospgen: unknown option %s\n", name);
            return -EINVAL;
        }
        if (r < 0) {
            fprintf(stderr, "hospgen: bad value \"%s\" for %s\n", val, name);
            return -EINVAL;
        }
    }
    if (!have_seed || !have_events || !o->out_dir || !*o->out_dir) {
        fprintf(stderr, "hospgen: --seed, --events and --out are required\n");
        return -EINVAL;
    }
    if ((t->conf || truth_from || truth_to) && !(t->conf && truth_from && truth_to)) {
        fprintf(stderr, "hospgen: --truth, --truth-from and --truth-to go together\n");
        return -EINVAL;
    }
    if (hl7_split && hl7_split >= hl7) {
        fprintf(stderr,
                "hospgen: --hl7-split %llu needs --hl7 K with K > %llu\n"
                "streams 1..S go out as HL7 only, the others as NDJSON only\n",
                (unsigned long long)hl7_split, (unsigned long long)hl7_split);
        return -EINVAL;
    }
    if (his_share && !o->his) {
        fprintf(stderr, "hospgen: --his-share needs --his\n"
                        "the share of cases goes to the HIS (his.sql) only\n");
        return -EINVAL;
    }
    o->his_share = (unsigned)his_share;
    o->files = (unsigned)files;
    o->hl7_streams = (unsigned)hl7;
    o->hl7_split = (unsigned)hl7_split;
    if (hg_parse_offset(tz, &o->off_sec) < 0) {
        fprintf(stderr,
                "hospgen: bad --tz-offset \"%s\"\n"
                "the offset is +HH:MM or -HH:MM, for example +05:00\n",
                tz);
        return -EINVAL;
    }
    memcpy(o->off_text, tz, 7);
    if (hg_parse_date(start, &o->start) < 0 ||
        o->start > kpid_days_from_civil(9000, 1, 1) * HG_DAY) {
        fprintf(stderr,
                "hospgen: bad --start \"%s\"\n"
                "the date is YYYY-MM-DD, from 1970 on\n",
                start);
        return -EINVAL;
    }
    o->start -= (int64_t)o->off_sec * HG_SEC;
    if (o->start < 0)
        o->start = 0;
    return 0;
}

/* Returns a monotonic clock reading in seconds. */
static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Loads the KPIs of t->conf before the run (so that a bad file fails at once) and
 * points o at store. Returns 0 or a negative errno after a message.
 */
static int truth_begin(const struct truth_args *t, struct ht_store *store, struct ht_model *m,
                       struct hg_options *o)
{
    int r = ht_model_load(t->conf, &store->pool, m);

    if (r == -ENOMEM)
        fprintf(stderr, "hospgen: out of memory\n");
    if (r == 0)
        o->truth = store;
    return r;
}

/* Indexes the collected events and writes the ground truth. Returns 0 or -errno. */
static int truth_end(const struct truth_args *t, struct ht_store *store, const struct ht_model *m,
                     const char *dir)
{
    int r = store->err;

    if (r == 0)
        r = ht_store_index(store);
    if (r < 0) {
        fprintf(stderr, "hospgen: ground truth: %s\n", strerror(-r));
        return r;
    }
    return ht_write_truth(store, m, t->from_day, t->to_day, dir);
}

int main(int argc, char **argv)
{
    struct hg_options o;
    struct hg_stats st;
    struct truth_args ta;
    struct ht_store store;
    struct ht_model model = {0};
    double t0 = now_seconds();
    int r;

    ht_store_init(&store);
    r = parse_args(argc, argv, &o, &ta);
    if (r > 0) {
        usage(stdout);
        return 0;
    }
    if (r < 0) {
        fputs("try 'hospgen --help'\n", stderr);
        return 2;
    }
    r = mkdir_p(o.out_dir);
    if (r < 0) {
        fprintf(stderr, "hospgen: cannot create folder \"%s\": %s\n", o.out_dir, strerror(-r));
        return 1;
    }
    if (hg_vocab_init() < 0) {
        fprintf(stderr, "hospgen: out of memory\n");
        return 1;
    }
    if (ta.conf && truth_begin(&ta, &store, &model, &o) < 0) {
        hg_vocab_fini();
        return 1;
    }
    r = hg_sim_run(&o, &st);
    hg_vocab_fini();
    if (r == 0 && ta.conf)
        r = truth_end(&ta, &store, &model, o.out_dir);
    ht_model_free(&model);
    ht_store_fini(&store);
    if (r < 0)
        return 1;
    char hl7[96] = "";
    if (o.hl7_split)
        snprintf(hl7, sizeof(hl7), " hl7=%llu/%u/%u hl7_lines=%llu", (unsigned long long)st.hl7,
                 o.hl7_split, o.hl7_streams, (unsigned long long)st.hl7_lines);
    else if (o.hl7_streams)
        snprintf(hl7, sizeof(hl7), " hl7=%llu/%u", (unsigned long long)st.hl7, o.hl7_streams);
    char his[80] = "";
    if (o.his_share)
        snprintf(his, sizeof(his), " his_rows=%llu his_share=%u his_lines=%llu",
                 (unsigned long long)st.his_rows, o.his_share, (unsigned long long)st.his_lines);
    else if (o.his)
        snprintf(his, sizeof(his), " his_rows=%llu", (unsigned long long)st.his_rows);
    fprintf(stderr,
            "hospgen: events=%llu malformed=%llu files=%u final=%llu journeys=%llu "
            "days=%.1f open_max=%zu%s%s seconds=%.2f\n",
            (unsigned long long)o.events, (unsigned long long)st.malformed, o.files,
            (unsigned long long)st.final, (unsigned long long)st.journeys,
            (double)(st.last_emit - o.start) / (double)HG_DAY, st.open_high, hl7, his,
            now_seconds() - t0);
    return 0;
}
