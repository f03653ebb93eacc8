/*
 * Internal to the model's parser: the filters of a KPI or of one of a proportion's
 * populations, conditions on one attribute of an event each (model.h, kpid_filter).
 */
#ifndef KPID_MODEL_FILTER_H
#define KPID_MODEL_FILTER_H

#include <libconfig.h>
#include <stddef.h>

#include "model/model_parser.h"

/*
 * Parses the list s of filters of what where names ("KPI \"x\"", "numerator of KPI
 * \"x\"") into *ret (freshly allocated, parallel to the list) and *ret_n. Problems are
 * reported; the filters that could be read are set. Freed with the model.
 */
void kpid__model_filters_parse(kpid__model_parser *p, const config_setting_t *s, const char *where,
                               kpid_filter **ret, size_t *ret_n);

#endif
