/*
 * Which threads make progress, for the watchdog (watchdog.h). A watched thread owns a
 * kpid_beat, registers it, and beats it each time its loop turns; while it waits on a
 * peer on purpose in a way that cannot beat (a bounded blocking call) it says so with
 * kpid_beat_wait. Thread-safe: the registry has one lock, the beats are atomics.
 */
#ifndef KPID_LIVENESS_H
#define KPID_LIVENESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct kpid_beat {
    const char *name;      /* "main", "writer": for the log; static text */
    _Atomic int64_t at_us; /* monotonic time of the last beat */
    _Atomic int waiting;   /* > 0: waiting on a peer on purpose (nesting counts) */
} kpid_beat;

/* Beats now. */
void kpid_beat_now(kpid_beat *b);

/* Begins (waiting = true) or ends (false, which also beats) a wait on a peer. */
void kpid_beat_wait(kpid_beat *b, bool waiting);

/* Registers b (beating it now) or removes it; b must stay valid while registered. Up to
 * 16 beats are watched; more are not (the call logs it). */
void kpid_liveness_add(kpid_beat *b);
void kpid_liveness_remove(kpid_beat *b);

/*
 * The name of a registered thread that neither beat since since_us nor waits on a peer,
 * or NULL when every one is alive; *ret_silent_us says how long it has been silent.
 */
const char *kpid_liveness_stalled(int64_t since_us, int64_t *ret_silent_us);

#endif
