/*
 * A table of the names of an enum's values, indexed by value, with the lookups both
 * ways: kpid_name_of (the name of a value, for output) and kpid_name_find (the value of
 * a name, for parsing), and the list of the names for messages ("a, b or c").
 *
 *   static const char *const color_names[] = {"red", "green", "blue"};
 *   const kpid_name_table colors = KPID_NAME_TABLE(color_names);
 *   kpid_name_of(&colors, COLOR_GREEN)  ->  "green"
 *
 * A table only points to its names, which must outlive it (string literals in static
 * arrays, normally). Tables are read-only: safe from any thread.
 */
#ifndef KPID_NAMES_H
#define KPID_NAMES_H

#include <stddef.h>

typedef struct kpid_name_table {
    const char *const *names; /* names[value]; NULL for a value without a name */
    size_t n;                 /* the number of entries of names */
} kpid_name_table;

/* The table of a static array of names (not a pointer: its size is taken). */
#define KPID_NAME_TABLE(array)                      \
    {                                               \
        (array), sizeof(array) / sizeof((array)[0]) \
    }

/* The name of value; "?" when the table has none for it. A static string. */
const char *kpid_name_of(const kpid_name_table *table, int value);

/* The value whose name is name, or -1 when no entry has that name. */
int kpid_name_find(const kpid_name_table *table, const char *name);

/*
 * Writes the names, in the order of their values, as "a, b or c" ("a" alone, "a or b")
 * into buf of size bytes, cut to fit. Returns buf.
 */
char *kpid_name_list(const kpid_name_table *table, char *buf, size_t size);

#endif
