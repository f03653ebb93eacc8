/*
 * Building the management model (model.h) from the configuration: for the configuration
 * loader only (config/config.c).
 */
#ifndef KPID_MODEL_PARSE_H
#define KPID_MODEL_PARSE_H

#include <libconfig.h>

#include "config/reader.h"
#include "model/model.h"

/*
 * Parses the top-level lists "objectives" and "processes" of root (both optional) and
 * the key "recompute_horizon", and validates them, reporting every problem through the
 * loader. Returns the model, freshly allocated (the caller frees it with
 * kpid_model_free); it is complete and valid only when nothing was reported. Returns
 * NULL when out of memory, which it has noted in the loader.
 */
kpid_model *kpid__model_parse(kpid__loader *l, const config_setting_t *root);

#endif
