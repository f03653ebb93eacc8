/*
 * Output: the NDJSON event files (split evenly by event line), the malformed lines
 * interleaved into them with malformed.tsv, and the rows of expected.tsv.
 *
 * File f (1-based) of K holds event lines [(f-1)*N/K, f*N/K) in output order, plus the
 * malformed lines planned before them. Every file is created, even an empty one. A line
 * skipped (hg_emit_skip: sent as HL7 only) counts toward N and its file's range but is
 * not written.
 */
#ifndef HG_EMIT_H
#define HG_EMIT_H

#include <stdint.h>

#include "journey.h"
#include "malformed.h"
#include "wbuf.h"

struct hg_emitter {
    char *dir;
    unsigned n_files;
    unsigned file;     /* open events file, 1-based */
    uint64_t n_events; /* N */
    uint64_t written;  /* event lines written */
    uint64_t file_end; /* first event line of the next file */
    uint64_t line_no;  /* lines written to the open file */
    uint64_t n_bad;    /* malformed lines written */
    int64_t last_emit; /* emit time of the last event line: dates late malformed lines */
    struct hg_bad_plan *plan;
    int32_t off_sec;
    char off_text[8];
    struct hg_wbuf nd, expected, bad;
};

/*
 * Creates the output files in dir (which must exist): events-0001.ndjson,
 * expected.tsv, malformed.tsv. plan is borrowed and must outlive the emitter. Returns 0
 * or a negative errno (and a message on stderr); on failure the emitter holds nothing.
 */
int hg_emitter_open(struct hg_emitter *em, const char *dir, unsigned n_files, uint64_t n_events,
                    struct hg_bad_plan *plan, int32_t off_sec, const char *off_text);
/*
 * Writes line l of journey j as the next event line, after any malformed lines due
 * before it, switching to the next file when this one is full. Returns 0, or a negative
 * errno when the next file cannot be created (write errors show at hg_emitter_close).
 */
int hg_emit_line(struct hg_emitter *em, const struct hg_journey *j, const struct hg_line *l);
/*
 * Counts line l as the next event line without writing it (its case goes out as HL7
 * only): the malformed lines due before it are written, and the file boundaries stay
 * where they are without skipping. Returns 0 or a negative errno, as hg_emit_line.
 */
int hg_emit_skip(struct hg_emitter *em, const struct hg_line *l);
/* Writes the expected.tsv row of the event keyed by original key_slot, with content e. */
void hg_emit_expected(struct hg_emitter *em, const struct hg_journey *j, unsigned key_slot,
                      const struct hg_event *e);
/*
 * Writes malformed lines still due, creates the remaining (empty) event files and
 * closes everything. Returns 0 or the first write error as a negative errno.
 */
int hg_emitter_close(struct hg_emitter *em);

#endif
