/*
 * Internal to the model's parser: one KPI, an element of the list "kpis" of a process
 * (model_parse.c reads the lists; this reads the keys of one KPI).
 */
#ifndef KPID_MODEL_KPI_H
#define KPID_MODEL_KPI_H

#include <libconfig.h>

#include "model/model_parser.h"

/*
 * Parses the KPI group (element index of the kpis of a process that where names, e.g.
 * "process \"emergency\"") into *kpi, which must be zeroed but for its process.
 * Problems are reported; the fields that could be read are set. References to
 * objectives and other KPIs are stored as ids and resolved later (model_resolve.h).
 */
void kpid__model_kpi_parse(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                           const char *where, kpid_kpi *kpi);

#endif
