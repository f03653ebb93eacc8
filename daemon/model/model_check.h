/*
 * Checks of a loaded configuration that warn and never refuse: a KPI that uses an
 * activity no configured source can produce computes on nothing, which is most often a
 * typing error ("ED_ARIVAL"), but may be meant (a source still to come).
 *
 * A source that declares "activities" produces only those; a source without it may
 * produce anything. So a warning comes only when every source declares its activities
 * (or there is no source) and none lists the activity.
 *
 * Whoever loads the configuration calls this once model and sources are read and valid
 * (config/config.c logs the warnings).
 */
#ifndef KPID_MODEL_CHECK_H
#define KPID_MODEL_CHECK_H

#include <libconfig.h>
#include <stddef.h>

#include "config/source_config.h"
#include "model/model.h"

/*
 * Checks every activity a KPI of model uses (count and value activity, the activities
 * of a proportion's populations, duration and census from and to) against the n_sources
 * sources. root is the root setting of the configuration the model was read from, where
 * the lines of the keys are found. Returns 0 and *ret_warnings: NULL when all is well,
 * else freshly allocated text of one "FILE:LINE: warning: ..." per line (the line of the
 * activity's key), for the caller to log and free. Returns -ENOMEM when out of memory.
 */
int kpid_model_check_activities(const kpid_model *model, const kpid_source_config *sources,
                                size_t n_sources, const config_setting_t *root,
                                char **ret_warnings);

#endif
