/*
 * systemd's watchdog, pinged from a thread of its own: every third of WatchdogSec it
 * sends WATCHDOG=1 when every watched thread (liveness.h) beat within the last half of
 * WatchdogSec or waits on a peer on purpose. A stalled thread stops the pings, so that
 * systemd restarts the daemon; the watchdog says so once, and again when it resumes.
 */
#ifndef KPID_WATCHDOG_H
#define KPID_WATCHDOG_H

#include <stdint.h>

typedef struct kpid_watchdog kpid_watchdog;

/*
 * Starts pinging when systemd asked for a watchdog (WATCHDOG_USEC for this process).
 * Returns 0 and *ret_watchdog (NULL when systemd asked for none), or -errno.
 */
int kpid_watchdog_start(kpid_watchdog **ret_watchdog);

/* Stops the thread and frees the watchdog. Accepts NULL; returns NULL. */
kpid_watchdog *kpid_watchdog_stop(kpid_watchdog *wd);

#endif
