/*
 * Internal to the model's parser (model_parse.c, model_resolve.c, model_kpi.c,
 * model_kpi_type.c, model_filter.c): the state of one parse and the helpers they share.
 * Nothing else includes this header.
 *
 * Every function reports the problems it finds through the configuration's loader
 * (config/reader.h) with "FILE:LINE: message"; ctx arguments are phrases such as
 * " in KPI \"x\"" that end the messages, where arguments are phrases such as "KPI \"x\""
 * that are composed into them.
 */
#ifndef KPID_MODEL_PARSER_H
#define KPID_MODEL_PARSER_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/reader.h"
#include "model/model.h"
#include "names/names.h"

#define KPID__MODEL_WHERE_SIZE 192 /* a "where" phrase, NUL included */

#define KPID__MODEL_ID_RULE "use " KPID_IDENT_ID_RULE

/* The state of one parse of the model. */
typedef struct kpid__model_parser {
    kpid__loader *l;
    kpid_model *model;
} kpid__model_parser;

/* snprintf for the phrases of messages. They are bounded (ids have at most 63 bytes, the
 * buffers are sized for the longest), so truncation cannot happen in practice and would
 * only shorten a message. */
void kpid__model_phrase(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records where s was defined into *ret_file (the model's copy of the file name) and
 * *ret_line. On out of memory *ret_file is NULL and the loader knows. */
void kpid__model_place(kpid__model_parser *p, const config_setting_t *s, const char **ret_file,
                       int *ret_line);

/* The member key of group; NULL when absent, reported as missing when required. */
const config_setting_t *kpid__model_member(kpid__model_parser *p, const config_setting_t *group,
                                           const char *key, const char *ctx, bool required);

/* A string, copied into *ret (replacing nothing: *ret must be NULL); with nonempty, the
 * empty string is refused. Returns 0, -EINVAL (reported) or -ENOMEM (noted). */
int kpid__model_get_text(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         bool nonempty, char **ret);

/* A string that must be one of the names of table; *ret is its value. what names the
 * value in the message: "invalid WHAT \"x\"CTX: use a, b or c". */
int kpid__model_get_enum(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         const char *what, const kpid_name_table *table, int *ret);

/* A finite number. */
int kpid__model_get_number(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                           double *ret);

/* The optional number > 0 at key of group into *ret (which keeps its default when the
 * key is absent or wrong). */
void kpid__model_get_positive(kpid__model_parser *p, const config_setting_t *group, const char *key,
                              const char *ctx, double *ret);

/* The activity at key of group (required) into *ret, freshly allocated. */
void kpid__model_get_activity(kpid__model_parser *p, const config_setting_t *group, const char *key,
                              const char *ctx, char **ret);

/* An attribute name into *ret, freshly allocated. Returns 0 or -EINVAL (reported). */
int kpid__model_get_attr(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         char **ret);

/* Checks that s is a list of groups (an empty array passes too) and returns its length;
 * -1 when it is not (reported). */
int kpid__model_list_length(kpid__model_parser *p, const config_setting_t *s, const char *ctx);

/* Element i of a list is a group; reports "wrong type for NAME[i]CTX" otherwise. */
bool kpid__model_elem_is_group(kpid__model_parser *p, const config_setting_t *elem,
                               const char *name, unsigned i, const char *ctx);

#endif
