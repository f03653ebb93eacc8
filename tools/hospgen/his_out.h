/*
 * The hospital information system (--his): the hospital's cases in their final state as
 * the rows of a relational schema "his" (patients, encounters, transfers, lab orders and
 * results, ...), written to his.sql: the DDL, the data as COPY blocks, then the keys,
 * indexes and the row_xid triggers. etc/his-pgsql.conf maps the schema back to exactly
 * the events of expected.tsv; README.md describes the tables.
 *
 * Rows are made when a journey is done (sim.c's journey_done), from the lines of it that
 * were written: a corrected event shows as a row whose content and updated_at changed, a
 * retracted one as a status (cancelled, ruled out, reversed, entered in error) or, for
 * lab results and training records, as a row of his.deleted_rows. Each table's rows go
 * to a temporary file in the output folder (.his-TABLE.tmp); hg_his_close concatenates
 * them into his.sql. Touched by the generator thread only.
 */
#ifndef HG_HIS_OUT_H
#define HG_HIS_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "journey.h"

struct hg_his;

/*
 * Creates the temporary files in dir. share is 0 (the HIS holds every case, beside the
 * other forms) or 1..100: the percentage of cases that go to the HIS only (--his-share;
 * hg_his_owns says which). start is the hospital's first instant (UTC microseconds),
 * off_sec its UTC offset. Returns 0 and *ret, or a negative errno after a message.
 */
int hg_his_open(struct hg_his **ret, const char *dir, unsigned share, int32_t off_sec,
                int64_t start);
/* Whether j's case goes to the HIS only (--his-share); always false without a share. */
bool hg_his_owns(const struct hg_his *h, const struct hg_journey *j);
/*
 * Writes the rows of j's case as the lines j->line[0 .. j->next) left it, if the HIS
 * holds the case (every case without a share, else those hg_his_owns names). Call once
 * per journey, when it is done. A failure is kept and reported by hg_his_close.
 */
void hg_his_journey(struct hg_his *h, const struct hg_journey *j);
/*
 * With complete, writes dir/his.sql and stores its number of rows (all tables) in
 * *ret_rows (when not NULL); in any case removes the temporary files and frees h (NULL
 * is accepted). Returns 0 or the first error as a negative errno (after a message).
 */
int hg_his_close(struct hg_his *h, bool complete, uint64_t *ret_rows);

#endif
