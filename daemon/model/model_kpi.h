/*
 * Internal to the model's parser: the interface between model.c (the model, its
 * objectives and processes, and the references between them) and model_kpi.c (the keys
 * of one KPI). Nothing else includes this header.
 *
 * Every function reports the problems it finds through the loader (config.h) with
 * "FILE:LINE: message"; ctx arguments are phrases such as " in KPI \"x\"" that end the
 * messages, where arguments are phrases such as "KPI \"x\"" that are composed into
 * them.
 */
#ifndef KPID_MODEL_KPI_H
#define KPID_MODEL_KPI_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "model/model.h"

#define KPID__MODEL_QUOTE_SIZE 72  /* a quoted string for messages, NUL included */
#define KPID__MODEL_WHERE_SIZE 192 /* a "where" phrase, NUL included */

/* The state of one parse of the model. */
typedef struct kpid__model_parser {
    kpid__loader *l;
    kpid_model *model;
} kpid__model_parser;

/* The configuration names of the enums, indexed by value, NULL-terminated. */
extern const char *const kpid__model_type_names[];
extern const char *const kpid__model_direction_names[];
extern const char *const kpid__model_status_names[];
extern const char *const kpid__model_count_names[];
extern const char *const kpid__model_link_names[];
extern const char *const kpid__model_basis_names[];
extern const char *const kpid__model_population_keys[]; /* "population", "numerator", ... */

/* ---- helpers, in model.c ----------------------------------------------------------- */

/* A printable copy of s for messages: at most 64 characters, others than printable ASCII
 * (and '"') shown as '?', "..." when cut. Returns out. */
const char *kpid__model_quote(const char *s, char out[KPID__MODEL_QUOTE_SIZE]);

/* snprintf for the phrases of messages. They are bounded (ids have at most 63 bytes, the
 * buffers are sized for the longest), so truncation cannot happen in practice and would
 * only shorten a message. */
void kpid__model_phrase(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* [a-z][a-z0-9_]{0,62}: objective, process and KPI ids. */
bool kpid__model_id_valid(const char *s);

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

/* A string that must be one of names (NULL-terminated); *ret is its index. what names
 * the value in the message: "invalid WHAT \"x\"CTX: use a, b or c". */
int kpid__model_get_enum(kpid__model_parser *p, const config_setting_t *s, const char *ctx,
                         const char *what, const char *const *names, int *ret);

/* Checks that s is a list of groups (an empty array passes too) and returns its length;
 * -1 when it is not (reported). */
int kpid__model_list_length(kpid__model_parser *p, const config_setting_t *s, const char *ctx);

/* Element i of a list is a group; reports "wrong type for NAME[i]CTX" otherwise. */
bool kpid__model_elem_is_group(kpid__model_parser *p, const config_setting_t *elem,
                               const char *name, unsigned i, const char *ctx);

/* ---- one KPI, in model_kpi.c ------------------------------------------------------- */

/*
 * Parses the KPI group (element index of the kpis of a process that where names, e.g.
 * "process \"emergency\"") into *kpi, which must be zeroed. Problems are reported; the
 * fields that could be read are set. References to objectives and other KPIs are
 * stored as ids and resolved later by model.c.
 */
void kpid__model_kpi_parse(kpid__model_parser *p, const config_setting_t *group, unsigned index,
                           const char *where, kpid_kpi *kpi);

/* Frees what *kpi owns (not kpi itself); leaves it zeroed. */
void kpid__model_kpi_clear(kpid_kpi *kpi);

#endif
