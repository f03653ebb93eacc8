/*
 * The HL7 v2 form of the feed (--hl7 K): every event line becomes one or two messages
 * (a correction whose content key changes is a cancel and a new message), written
 * MLLP-framed to hl7-0001.hl7 ... hl7-K.hl7. All messages of a case go to one stream,
 * in feed order; etc/hl7-mapping.conf turns them back into the final events of
 * expected.tsv. Its own random stream: the NDJSON does not depend on it. With
 * --hl7-split S only streams 1..S are written; sim.c writes the other cases as NDJSON.
 */
#ifndef HG_HL7_OUT_H
#define HG_HL7_OUT_H

#include <stdint.h>

#include "journey.h"

struct hg_hl7;

/*
 * Creates the files of streams 1..written (1 <= written <= k) of k in dir: a case's
 * stream is hg_hl7_stream() of k, and only the cases of the written streams may be
 * passed to hg_hl7_line (--hl7-split sends the others as NDJSON). off_sec is the
 * hospital's UTC offset; times without an offset are written only when it is a whole
 * number of hours (a zone Etc/GMT-N names it). Returns 0 and *ret, or a negative errno
 * after a message.
 */
int hg_hl7_open(struct hg_hl7 **ret, const char *dir, unsigned k, unsigned written, uint64_t seed,
                int32_t off_sec, int64_t start);
/* The stream (0-based) that holds every message of journey j's case. */
unsigned hg_hl7_stream(const struct hg_hl7 *h, const struct hg_journey *j);
/*
 * Writes the messages of line l of journey j. prev is the slot that held the event's
 * content before this line (the original's 'final' before the line is applied), or
 * HG_FINAL_NONE / HG_FINAL_GONE. j's stream must be one of the written ones.
 */
void hg_hl7_line(struct hg_hl7 *h, const struct hg_journey *j, const struct hg_line *l,
                 unsigned prev);
/* Closes the files and frees h. Returns 0 or the first write error as a negative errno. */
int hg_hl7_close(struct hg_hl7 *h);
/* Messages written so far. */
uint64_t hg_hl7_count(const struct hg_hl7 *h);

#endif
