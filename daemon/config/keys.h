/*
 * Key tables: how a section of the configuration declares its keys, as a plugin does
 * with its kpid_config_key table (kpid/plugin.h): name, type, default, bounds, where the
 * value is stored and what it means. One table validates the section (known keys, types,
 * bounds, required keys), fills the struct it describes, starting from the defaults, and
 * documents it. The core's own sections (top level, warehouse, queue: config.c), the
 * common keys of every source (sources.c), the plugins' keys (plugin_keys.c) and the
 * model's top-level keys (model/model_parse.c) are read through these tables.
 *
 * Problems are reported through the loader (reader.h) in the same words as the typed
 * readers there.
 */
#ifndef KPID_CONFIG_KEYS_H
#define KPID_CONFIG_KEYS_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/reader.h"

/* How a key's value is read, and the C type it is stored as. */
typedef enum kpid__key_type {
    KPID__KEY_STRING,   /* char *, owned by the struct; NULL when unset */
    KPID__KEY_PATH,     /* char *, owned: a non-empty path made absolute against the
                           configuration file's directory (a default is taken as it is) */
    KPID__KEY_INT,      /* int64_t, between min and max */
    KPID__KEY_DURATION, /* int64_t milliseconds, between min and max (duration.h) */
    KPID__KEY_BOOL,     /* bool */
    KPID__KEY_DOUBLE,   /* double */
    KPID__KEY_ENUM,     /* int: a string that parse turns into a value */
    KPID__KEY_SECTION,  /* not stored: a group or list its owner reads from the setting
                           (a plugin's KPID_CONFIG_SECTION); only its type is checked */
    KPID__KEY_PARSED,   /* not read here: a section or key that its own parser reads
                           (the warehouse group, the sources, the model's lists); listed
                           so that it is a known key, and documented */
} kpid__key_type;

/* One key of a section. A table is an array of them ending with an entry whose name is
 * NULL. */
typedef struct kpid__key {
    const char *name;
    kpid__key_type type;
    bool required;             /* absent: "missing required key" (PARSED: its parser says
                                  so; the flag only documents it) */
    const char *default_value; /* in configuration syntax ("5s", "true", "100"), or NULL */
    size_t offset;             /* offsetof() into the struct the table fills */
    int64_t min, max;          /* inclusive bounds of INT and DURATION (INT64_MIN,
                                  INT64_MAX: no bound that way) */
    /* ENUM: turns a name into its value (0 and *ret, or -EINVAL), and the names to use,
     * for the message "invalid KEY \"x\"CTX: use USE". */
    int (*parse)(const char *text, int *ret);
    const char *use;
    const char *description;
} kpid__key;

/* The key of keys named name, or NULL. */
const kpid__key *kpid__keys_find(const kpid__key *keys, const char *name);

/*
 * Reports every member of group that no key of keys, nor of more (a second table, or
 * NULL), names; suggests the closest known key, looking at keys first.
 */
void kpid__keys_check_unknown(kpid__loader *l, const config_setting_t *group, const kpid__key *keys,
                              const kpid__key *more, const char *ctx);

/*
 * Reads the keys of keys from group into the struct at base, in the order of the table:
 * a present key is read and checked, an absent one takes its default, a required one
 * without a default is reported missing at group. A present value that cannot be read
 * is reported, and leaves a number, boolean or enum at its default, a string or path
 * unset (NULL). PARSED keys are skipped. Unknown keys are not looked at (see
 * kpid__keys_check_unknown).
 *
 * A default that does not read as its key's type is the table's fault, reported at group
 * as "plugin \"OWNER\" declares an invalid default ...; fix the plugin" (owner: the
 * plugin's name), or as kpid's own when owner is NULL.
 */
void kpid__keys_read(kpid__loader *l, const config_setting_t *group, const kpid__key *keys,
                     void *base, const char *ctx, const char *owner);

/* Stores the default of every key of keys that has one into the struct at base (for a
 * section that is absent). An invalid default is reported without a line. */
void kpid__keys_defaults(kpid__loader *l, const kpid__key *keys, void *base);

/* Frees the strings (STRING and PATH) that keys stored in the struct at base, and sets
 * them to NULL. */
void kpid__keys_free(const kpid__key *keys, void *base);

#endif
