/*
 * The host side of the plugin SDK: the table of host functions (kpid_host, see
 * include/kpid/plugin.h) that every plugin gets in init, filled for the ABI version this
 * daemon speaks. The ABI grows here: a new minor version adds its functions to this file
 * and its members to the end of the table.
 *
 * The host functions run in the plugin's threads (the source thread; metric updates in
 * any thread) and touch the source as source_internal.h describes.
 */
#ifndef KPID_HOST_H
#define KPID_HOST_H

#include "kpid/plugin.h"

/* The host table, the same for every source; lives until exit. */
const kpid_host *kpid_host_table(void);

/* One log line of the source, prefixed "source=NAME ". */
void kpid_host_log(kpid_source *src, enum kpid_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs every typed metric of the source at debug level, one line each (see
 * kpid_metric_format). Called when the source stops. */
void kpid_host_log_metrics(kpid_source *src);

#endif
