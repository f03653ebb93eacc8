/*
 * The run: journeys start in time order (arrivals and scheduled follow-ups), their
 * lines go out in emit-time order across all open journeys, and the run stops after
 * exactly N event lines.
 *
 * Memory: only open journeys are held (those with lines still to write, in a heap
 * keyed by their next line), each as one small allocation with its events as data.
 * A journey's expected.tsv rows are written when its last line is out, or at the end
 * for journeys cut short, so expected.tsv describes exactly what was written, after
 * corrections and retractions, without keeping the events of finished journeys.
 */
#ifndef HG_SIM_H
#define HG_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ht_store;

struct hg_options {
    uint64_t seed;
    uint64_t events;     /* N: event lines to write */
    const char *out_dir; /* must exist */
    unsigned files;      /* K >= 1 */
    int64_t start;       /* first instant: local midnight of --start, in UTC microseconds */
    double days;         /* > 0: scale the rates so N lines span about this many days */
    uint64_t malformed;  /* M */
    int32_t off_sec;
    char off_text[8];
    struct ht_store *truth; /* borrowed; not NULL: collect the final events (--truth) */
    unsigned hl7_streams;   /* > 0: also write the feed as HL7 v2 in this many files (--hl7) */
    unsigned hl7_split;     /* > 0 (< hl7_streams): the cases of streams 1..hl7_split only as
                             * HL7, the others only as NDJSON (--hl7-split) */
    bool his;               /* also write the HIS database, his.sql (--his) */
    unsigned his_share;     /* 0, or 1..100: that percentage of cases only in the HIS, left out
                             * of the NDJSON and the HL7 (--his-share) */
};

struct hg_stats {
    uint64_t journeys;  /* journeys started */
    uint64_t final;     /* rows of expected.tsv */
    uint64_t malformed; /* malformed lines written */
    int64_t last_emit;  /* emit time of the last event line */
    double scale;       /* rate factor used */
    size_t open_high;   /* most journeys open at once */
    uint64_t hl7;       /* HL7 messages written */
    uint64_t hl7_lines; /* event lines written as HL7 only (--hl7-split) */
    uint64_t his_rows;  /* rows of his.sql's tables (--his) */
    uint64_t his_lines; /* event lines whose cases are in the HIS only (--his-share) */
};

/*
 * Generates everything into o->out_dir. Returns 0 and fills *ret_stats, or a negative
 * errno after a message on stderr.
 */
int hg_sim_run(const struct hg_options *o, struct hg_stats *ret_stats);

#endif
