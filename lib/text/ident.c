/* The identifier rules (ident.h). */
#include "text/ident.h"

#include <string.h>

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool activity_char(char c)
{
    return is_upper(c) || is_digit(c) || c == '_';
}

bool kpid_ident_activity_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (n >= KPID_IDENT_ACTIVITY_MAX || !activity_char(s[n]))
            return false;
    return n > 0;
}

bool kpid_ident_activity_valid_n(const char *s, size_t len)
{
    if (len == 0 || len > KPID_IDENT_ACTIVITY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!activity_char(s[i]))
            return false;
    return true;
}

bool kpid_ident_attr_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KPID_IDENT_ATTR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(is_upper(s[i]) || is_lower(s[i]) || s[i] == '_' || (i > 0 && is_digit(s[i]))))
            return false;
    return true;
}

bool kpid_ident_id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KPID_IDENT_ID_MAX || !is_lower(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(is_lower(s[i]) || is_digit(s[i]) || s[i] == '_'))
            return false;
    return true;
}

bool kpid_ident_source_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KPID_IDENT_SOURCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(is_upper(s[i]) || is_lower(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '.' ||
              s[i] == '-'))
            return false;
    return true;
}

bool kpid_ident_plugin_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KPID_IDENT_PLUGIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(is_lower(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}
