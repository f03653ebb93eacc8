/*
 * Keyed source state (plugin SDK ABI 1.1): reading a source's committed keys back from
 * kpid.source_state for the host's state_load(). Writing them is the writer's job: the
 * puts ride in batches (batch.h) and commit with them (writer.c).
 */
#ifndef KPID_SOURCE_STATE_H
#define KPID_SOURCE_STATE_H

#include <stddef.h>

#include "warehouse/pgconn.h"

/* Rows fetched per round trip: a page, never the whole table in one PGresult. */
#define KPID_STATE_PAGE_ROWS 10000

/*
 * Connects to the warehouse,
 * reads every key of source in bytewise key order through a cursor, KPID_STATE_PAGE_ROWS
 * rows at a time, in one read-only transaction, and calls fn(arg, key, value) for each;
 * closes the connection before it returns. Returns 0; the first negative value fn
 * returned (the walk stops there); or -EIO with *ret_error freshly allocated (one line;
 * the caller frees it) when the warehouse cannot be read; -ENOMEM. *ret_error is NULL
 * unless -EIO (or -EACCES: the warehouse refused kpid's role, pgconn.h) is returned.
 */
int kpid_source_state_load(const kpid_pg_target *warehouse, const char *source,
                           int (*fn)(void *arg, const char *key, const char *value), void *arg,
                           char **ret_error);

#endif
