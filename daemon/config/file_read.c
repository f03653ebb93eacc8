/*
 * Reading the configuration file (file_read.h). @include directives are resolved from
 * the directory of the main configuration file, as its relative paths are.
 */
#include "config/file_read.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NESTING_TOO_DEEP "nesting too deep: at most %d levels of groups, lists and arrays"

/*
 * The first group, list or array nested deeper than KPID_CONFIG_MAX_DEPTH below group
 * (itself at level), or NULL. The recursion stops at the limit.
 */
static const config_setting_t *first_too_deep(const config_setting_t *group, int level)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *e = config_setting_get_elem(group, i), *deep;
        if (!config_setting_is_aggregate(e))
            continue;
        if (level + 1 > KPID_CONFIG_MAX_DEPTH)
            return e;
        if ((deep = first_too_deep(e, level + 1)))
            return deep;
    }
    return NULL;
}

/*
 * The line of the first '{', '(' or '[' of the file at path that opens a level deeper
 * than KPID_CONFIG_MAX_DEPTH, reading the file as libconfig's scanner does (strings with
 * backslash escapes, # and // comments to the end of the line, block comments); 0 when
 * there is none or the file cannot be read. For the case where libconfig's parser ran
 * out of memory ("memory exhausted") and built no settings to look at.
 */
static unsigned deep_line_of(const char *path)
{
    enum { CODE, STRING, LINE_COMMENT, BLOCK_COMMENT } state = CODE;
    FILE *f = fopen(path, "re");
    unsigned line = 1, found = 0;
    int depth = 0, c, next;

    if (!f)
        return 0;
    while (!found && (c = getc(f)) != EOF) {
        if (c == '\n')
            line++;
        switch (state) {
        case CODE:
            if (c == '"')
                state = STRING;
            else if (c == '#')
                state = LINE_COMMENT;
            else if (c == '/') {
                next = getc(f);
                if (next == '/')
                    state = LINE_COMMENT;
                else if (next == '*')
                    state = BLOCK_COMMENT;
                else if (next != EOF)
                    ungetc(next, f);
            } else if (c == '{' || c == '(' || c == '[') {
                if (++depth > KPID_CONFIG_MAX_DEPTH)
                    found = line;
            } else if ((c == '}' || c == ')' || c == ']') && depth > 0)
                depth--;
            break;
        case STRING:
            if (c == '\\') {
                next = getc(f); /* the escaped character, whatever it is */
                if (next == '\n')
                    line++;
            } else if (c == '"')
                state = CODE;
            break;
        case LINE_COMMENT:
            if (c == '\n')
                state = CODE;
            break;
        case BLOCK_COMMENT:
            if (c == '*') {
                next = getc(f);
                if (next == '/')
                    state = CODE;
                else if (next != EOF)
                    ungetc(next, f);
            }
            break;
        }
    }
    fclose(f);
    return found;
}

/*
 * The text of libconfig's syntax error in *ret_errors. When its parser's stack ran out,
 * it says that the nesting is too deep, and where it first goes beyond the limit (in
 * the file the parser stopped in, or else in the main file, which may include it at
 * depth); a real lack of memory is left as libconfig says it. Returns -EINVAL, or
 * -ENOMEM.
 */
static int syntax_error(kpid__loader *l, const config_t *lc, char **ret_errors)
{
    const char *path = kpid__loader_path(l);
    char *file = kpid__config_file_name(l, config_error_file(lc)), *errors = NULL;
    unsigned deep = 0;
    int r;

    if (file && strcmp(config_error_text(lc), "memory exhausted") == 0) {
        deep = deep_line_of(file);
        if (!deep && strcmp(file, path) != 0 && (deep = deep_line_of(path))) {
            free(file);
            file = strdup(path);
        }
    }
    if (!file || (deep ? asprintf(&errors, "%s:%u: " NESTING_TOO_DEEP "\n", file, deep,
                                  KPID_CONFIG_MAX_DEPTH)
                       : asprintf(&errors, "%s:%d: %s\n", file, config_error_line(lc),
                                  config_error_text(lc))) < 0) {
        errors = NULL;
        r = -ENOMEM;
    } else
        r = -EINVAL;
    free(file);
    *ret_errors = errors;
    return r;
}

int kpid__config_file_read(kpid__loader *l, config_t *lc, char **ret_errors)
{
    const config_setting_t *too_deep;
    FILE *probe;
    int r;

    /* libconfig says only "file I/O error"; the reason comes from errno here. */
    probe = fopen(kpid__loader_path(l), "re");
    if (!probe) {
        r = errno > 0 ? -errno : -EIO;
        kpid__config_report(l, NULL, "cannot read the configuration file: %s", strerror(-r));
        return r;
    }
    fclose(probe);

    config_set_include_dir(lc, kpid__loader_dir(l));
    if (!config_get_include_dir(lc))
        return -ENOMEM;
    if (!config_read_file(lc, kpid__loader_path(l))) {
        if (config_error_type(lc) == CONFIG_ERR_FILE_IO) { /* gone since the probe */
            kpid__config_report(l, NULL, "cannot read the configuration file");
            return -EIO;
        }
        return syntax_error(l, lc, ret_errors);
    }
    /* Too deep for the parser's stack is refused above, too deep for the limit here:
     * nothing is read from such a file. */
    too_deep = first_too_deep(config_root_setting(lc), 0);
    if (too_deep) {
        kpid__config_report(l, too_deep, NESTING_TOO_DEEP, KPID_CONFIG_MAX_DEPTH);
        return kpid__loader_oom(l) ? -ENOMEM : -EINVAL;
    }
    return 0;
}
