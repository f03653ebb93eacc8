/*
 * The identifier rules of kpid, one copy for the daemon and the plugins:
 *
 *   activity       [A-Z0-9_]{1,64}              "ED_ARRIVAL": events, KPIs, sources
 *   attribute      [A-Za-z_][A-Za-z0-9_]{0,62}  a key of an event's attrs in KPI filters
 *   id             [a-z][a-z0-9_]{0,62}         objective, process and KPI ids
 *   source name    [A-Za-z0-9_.-]{1,64}         the name of a configured source
 *   plugin name    [a-z0-9_-]{1,64}             a plugin's file name without ".so"
 *
 * Activities and attribute names may appear in SQL as literals of a known shape, ids
 * and names in file names, log lines and URLs. The _RULE texts say a rule to an operator
 * in messages ("use " KPID_IDENT_ACTIVITY_RULE).
 *
 * Plain functions of their arguments: no state, safe from any thread. Nothing here
 * depends on the daemon; plugins link this library as well.
 */
#ifndef KPID_TEXT_IDENT_H
#define KPID_TEXT_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define KPID_IDENT_ACTIVITY_MAX 64 /* bytes of an activity */
#define KPID_IDENT_ATTR_MAX 63     /* bytes of an attribute name */
#define KPID_IDENT_ID_MAX 63       /* bytes of an objective, process or KPI id */
#define KPID_IDENT_SOURCE_MAX 64   /* bytes of a source name */
#define KPID_IDENT_PLUGIN_MAX 64   /* bytes of a plugin name */

#define KPID_IDENT_ACTIVITY_PATTERN "[A-Z0-9_]{1,64}"
#define KPID_IDENT_ACTIVITY_RULE "1 to 64 characters of A-Z 0-9 _"
#define KPID_IDENT_ATTR_RULE "a letter or _ followed by up to 62 letters, digits or _"
#define KPID_IDENT_ID_RULE "a lowercase letter followed by up to 62 lowercase letters, digits or _"
#define KPID_IDENT_SOURCE_RULE "1 to 64 characters of A-Z a-z 0-9 _ . -"

/* Whether the NUL-terminated s is an activity; reads at most 65 bytes of it. */
bool kpid_ident_activity_valid(const char *s);

/* Whether the len bytes at s (no NUL needed) are an activity. */
bool kpid_ident_activity_valid_n(const char *s, size_t len);

/* Whether s is an attribute name. */
bool kpid_ident_attr_valid(const char *s);

/* Whether s is an objective, process or KPI id. */
bool kpid_ident_id_valid(const char *s);

/* Whether s is a source name. */
bool kpid_ident_source_valid(const char *s);

/* Whether s is a plugin name. */
bool kpid_ident_plugin_valid(const char *s);

#endif
