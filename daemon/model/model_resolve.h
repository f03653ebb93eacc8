/*
 * Internal to the model's parser: the second pass, which checks what needs the whole
 * model once every objective, process and KPI is read (model_parse.c).
 */
#ifndef KPID_MODEL_RESOLVE_H
#define KPID_MODEL_RESOLVE_H

#include <libconfig.h>

#include "model/model_parser.h"

/*
 * Checks that ids are unique (KPI ids across all processes), resolves the objective of
 * every KPI and the numerator and denominator of every ratio (they exist, are not the
 * ratio itself, have its period in the same time zone, and no chain of ratios leads back
 * to where it started). root is the configuration's root, where the settings of the
 * model's entries are found again for the messages. Problems are reported.
 */
void kpid__model_resolve(kpid__model_parser *p, const config_setting_t *root);

#endif
