/*
 * One active instance per exclusive source (sql/013_source_lease.sql says the model).
 *
 * The lease keeper is a thread with a warehouse connection of its own, the lease
 * connection. For each exclusive source it holds, that connection holds the source's
 * session advisory lock; the keeper takes the lock of each source it does not hold yet
 * with pg_try_advisory_lock, raises the source's epoch in kpid.source_lease, and every
 * beat (takeover / 6) pings the connection and records its heartbeat. The connection's
 * idle_session_timeout (2/3 of takeover) and TCP keepalives make the server end a lease
 * connection whose instance stopped beating, or vanished, so another instance takes its
 * sources over within takeover. When the lease connection fails, every source it held
 * is lost at once: their sources stop reading, and the batches they read carry an epoch
 * that kpid.lease_check refuses once another instance has taken the source.
 *
 * Sources (source.c) claim a lease, wait until it is theirs, read under its epoch, and
 * stop reading when it is lost. The writer stamps nothing: each batch carries the epoch
 * its source read it under (batch.h).
 */
#ifndef KPID_LEASE_H
#define KPID_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "warehouse/pgconn.h"

typedef struct kpid_lease kpid_lease;

/* Starts the keeper for warehouse (which must outlive it). takeover_ms: see above. */
int kpid_lease_start(const kpid_pg_target *warehouse, int64_t takeover_ms, kpid_lease **ret_lease);

/* Ends the keeper: its connection closes, which frees every lock it held. Accepts NULL;
 * every claim must be released first. */
void kpid_lease_stop(kpid_lease *l);

/*
 * Claims source (the keeper copies the name); the keeper tries to take it at once and
 * at every beat until it holds it. on_lost(arg), if not NULL, is called from the
 * keeper's thread, under the keeper's lock, each time the claim, held, is lost: it must
 * only set a flag or wake someone, and never call the keeper. Returns a claim id >= 0, or -ENOMEM / -ENOSPC.
 */
int kpid_lease_claim(kpid_lease *l, const char *source, void (*on_lost)(void *arg), void *arg);

/* Gives the claim up: the source's lock is released if held. */
void kpid_lease_release(kpid_lease *l, int claim);

/*
 * Waits until the claim is held or *stop turns true, at most timeout_us (negative: no
 * limit). Returns the epoch (> 0) under which it is held, or 0.
 */
int64_t kpid_lease_wait(kpid_lease *l, int claim, const _Atomic bool *stop, int64_t timeout_us);

/* The epoch under which the claim is held now, or 0 when it is not. Any thread. */
int64_t kpid_lease_epoch(kpid_lease *l, int claim);

/* Starts the keeper's stop: every waiter returns 0 from now on. Any thread. */
void kpid_lease_wake(kpid_lease *l);

#endif
