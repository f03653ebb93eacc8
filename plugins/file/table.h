/*
 * The set of files a file source knows, indexed by identity (st_dev, st_ino): an
 * open-addressing hash index beside a dense array for walking. Lookups, additions and
 * removals cost O(1) on average, so that a spool folder of 100,000 files costs the same
 * per file as one of ten.
 *
 * The table does not own its entries: it stores pointers, and the caller allocates and
 * frees what they point to. Thread ownership: one thread (the source's).
 */
#ifndef KPID_FILE_TABLE_H
#define KPID_FILE_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* What the table needs of an entry: its identity and its place in all[]. An entry type
 * starts with this struct. */
typedef struct file_table_item {
    uint64_t dev, ino;
    size_t index; /* in all[]; set by the table */
} file_table_item;

/* Zero-initialize (= {0}) for an empty table; free with file_table_clear(). */
typedef struct file_table {
    file_table_item **slots; /* hash index, cap slots, NULL = free */
    size_t cap;
    file_table_item **all; /* every item, in no particular order */
    size_t n, all_cap;
} file_table;

/* The item of (dev, ino), or NULL. */
file_table_item *file_table_get(const file_table *t, uint64_t dev, uint64_t ino);

/* Adds item (its dev and ino set). Returns 0, -EEXIST when (dev, ino) is there, or
 * -ENOMEM (the table is then unchanged). */
int file_table_add(file_table *t, file_table_item *item);

/* Removes item, which must be in the table. The last item of all[] takes its place, so
 * walk all[] from the end when removing while walking. */
void file_table_remove(file_table *t, file_table_item *item);

/* Frees the index and the array, not the items; empties t. Accepts NULL. */
void file_table_clear(file_table *t);

#endif
