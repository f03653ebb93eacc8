/*
 * Internal to the model's parser: the keys of a KPI's type (model.h, the union u of
 * kpid_kpi), read by model_kpi.c after the keys every KPI has.
 */
#ifndef KPID_MODEL_KPI_TYPE_H
#define KPID_MODEL_KPI_TYPE_H

#include <libconfig.h>
#include <stddef.h>

#include "model/model_parser.h"

#define KPID__MODEL_TYPE_KEYS_MAX 32 /* the keys of all types together */

/* Appends the keys of a KPI of type (-1: of every type, in the order of the types) to
 * keys from *n on, counting them in *n; keys has room for KPID__MODEL_TYPE_KEYS_MAX more. */
void kpid__model_type_keys(int type, const char **keys, size_t *n);

/*
 * Parses the keys of type (a kpid_kpi_type, or -1 when the type is not known: nothing is
 * read then) of the KPI group into *kpi; where and ctx name the KPI ("KPI \"x\"" and
 * " in KPI \"x\""). Problems are reported; the fields that could be read are set.
 */
void kpid__model_kpi_type_parse(kpid__model_parser *p, const config_setting_t *group, int type,
                                const char *where, const char *ctx, kpid_kpi *kpi);

#endif
