/* Tables of the names of enum values (names.h). */
#include "names/names.h"

#include <stdio.h>
#include <string.h>

const char *kpid_name_of(const kpid_name_table *table, int value)
{
    if (value < 0 || (size_t)value >= table->n || !table->names[value])
        return "?";
    return table->names[value];
}

int kpid_name_find(const kpid_name_table *table, const char *name)
{
    for (size_t i = 0; i < table->n; i++)
        if (table->names[i] && strcmp(table->names[i], name) == 0)
            return (int)i;
    return -1;
}

char *kpid_name_list(const kpid_name_table *table, char *buf, size_t size)
{
    size_t len = 0, k = 0, count = 0;

    for (size_t i = 0; i < table->n; i++)
        count += table->names[i] != NULL;
    if (size > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < table->n && len < size; i++) {
        int w;

        if (!table->names[i])
            continue;
        k++;
        w = snprintf(buf + len, size - len, "%s%s",
                     k == 1       ? ""
                     : k == count ? " or "
                                  : ", ",
                     table->names[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}
