/*
 * The drill-down commands, run instead of the daemon (they only read the warehouse):
 *   kpid [-c FILE] cases --kpi ID --period START [--stratum JSON] [--population CODE]
 *   kpid [-c FILE] measure-report --kpi ID --period START
 * START is YYYY-MM-DD or YYYY-MM (its first day), local midnight in the KPI's process's
 * time zone; the period is the KPI's period containing it (a rolling window: the one
 * ending then). Each returns an exit status: 0, 1, 64 for usage (an unknown KPI or
 * population, a bad stratum, an sql KPI), 69 when the warehouse is out of reach.
 */
#ifndef KPID_DRILLDOWN_CLI_H
#define KPID_DRILLDOWN_CLI_H

#include "config/config.h"

int kpid_cli_cases(const kpid_config *cfg, int argc, char **argv);
int kpid_cli_measure_report(const kpid_config *cfg, int argc, char **argv);

#endif
