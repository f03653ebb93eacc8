/*
 * The command-line tools of the KPI engine, run instead of the daemon:
 *   kpid [-c FILE] --explain KPI_ID     the KPI's SQL and its parameters
 *   kpid [-c FILE] backfill --from DATE --to DATE [--process ID] [--kpi ID]
 * Each returns an exit status (0, 1, 64 for usage, 69 when the warehouse is out of reach).
 */
#ifndef KPID_KPI_CLI_H
#define KPID_KPI_CLI_H

#include "config/config.h"

int kpid_cli_explain(const kpid_config *cfg, const char *kpi_id);
int kpid_cli_backfill(const kpid_config *cfg, int argc, char **argv);

#endif
