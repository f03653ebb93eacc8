#include "cursor.h"
#include "path.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int file_cursor_add(file_cursor *c, uint64_t dev, uint64_t ino, int64_t off, int64_t line,
                    const char *path)
{
    if (c->n_files == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        file_cursor_entry *files = realloc(c->files, cap * sizeof(*files));
        if (!files)
            return -ENOMEM;
        c->files = files;
        c->cap = cap;
    }
    char *copy = file_path_printable(path, FILE_CURSOR_PATH_MAX);
    if (!copy)
        return -ENOMEM;
    c->files[c->n_files++] =
        (file_cursor_entry){.dev = dev, .ino = ino, .off = off, .line = line, .path = copy};
    return 0;
}

file_cursor_entry *file_cursor_find(const file_cursor *c, uint64_t dev, uint64_t ino, size_t *hint)
{
    size_t start = hint && *hint < c->n_files ? *hint : 0;

    for (size_t k = 0; k < c->n_files; k++) {
        size_t i = (start + k) % c->n_files;
        if (c->files[i].dev == dev && c->files[i].ino == ino) {
            if (hint)
                *hint = i + 1;
            return &c->files[i];
        }
    }
    return NULL;
}

void file_cursor_clear(file_cursor *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_files; i++)
        free(c->files[i].path);
    free(c->files);
    *c = (file_cursor){0};
}

void file_cursor_swap(file_cursor *a, file_cursor *b)
{
    file_cursor t = *a;
    *a = *b;
    *b = t;
}

int file_cursor_encode(const file_cursor *c, char **ret_text)
{
    json_t *root = NULL, *files;
    char *text = NULL;
    int r = -ENOMEM;

    root = json_object();
    files = json_array();
    if (!root || !files || json_object_set_new(root, "v", json_integer(FILE_CURSOR_VERSION))) {
        json_decref(files);
        goto out;
    }
    if (json_object_set_new(root, "files", files)) /* takes files in every case */
        goto out;
    for (size_t i = 0; i < c->n_files; i++) {
        const file_cursor_entry *e = &c->files[i];
        char dev[24], ino[24];

        if (e->off < 0 || e->line < 0 || e->line > e->off) {
            r = -EINVAL;
            goto out;
        }
        snprintf(dev, sizeof(dev), "%" PRIu64, e->dev);
        snprintf(ino, sizeof(ino), "%" PRIu64, e->ino);
        /* Keys in this order; jansson keeps insertion order. */
        json_t *f = json_pack("{s:s,s:s,s:I,s:I,s:s}", "dev", dev, "ino", ino, "off",
                              (json_int_t)e->off, "line", (json_int_t)e->line, "path", e->path);
        if (!f) {
            /* Only an allocation failure or a path that is not UTF-8, which _add()
             * rules out. */
            goto out;
        }
        if (json_array_append_new(files, f))
            goto out;
    }
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        goto out;
    if (strlen(text) > FILE_CURSOR_MAX) {
        r = -E2BIG;
        goto out;
    }
    *ret_text = text;
    text = NULL;
    r = 0;
out:
    free(text);
    json_decref(root);
    return r;
}

/* Writes a message (printf-style) into err (err_size bytes) and is -EINVAL. An
 * expression macro, not a variadic function: clang-analyzer misreads the va_list of
 * those. */
#define INVALID(err, err_size, ...) \
    ((err_size) > 0 ? (void)snprintf((err), (err_size), __VA_ARGS__) : (void)0, -EINVAL)

/* A uint64 written as a canonical decimal string ("0", "17", no sign, no zeros ahead). */
static bool parse_u64(const json_t *v, uint64_t *ret)
{
    const char *s;
    size_t n;
    uint64_t x = 0;

    if (!json_is_string(v))
        return false;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *ret = x;
    return true;
}

static int decode_entry(const json_t *f, size_t i, file_cursor *c, char *err, size_t err_size)
{
    static const char *const keys[] = {"dev", "ino", "off", "line", "path"};
    const json_t *v;
    const char *key;
    uint64_t dev, ino;
    json_int_t off, line;
    const char *path;

    if (!json_is_object(f))
        return INVALID(err, err_size, "files[%zu] is not an object", i);
    json_object_foreach ((json_t *)f, key, v) {
        bool known = false;
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            known = known || strcmp(key, keys[k]) == 0;
        if (!known)
            return INVALID(err, err_size, "files[%zu] has an unknown key", i);
    }
    if (!parse_u64(json_object_get(f, "dev"), &dev))
        return INVALID(err, err_size, "files[%zu].dev must be a decimal string", i);
    if (!parse_u64(json_object_get(f, "ino"), &ino))
        return INVALID(err, err_size, "files[%zu].ino must be a decimal string", i);
    v = json_object_get(f, "off");
    if (!json_is_integer(v) || (off = json_integer_value(v)) < 0)
        return INVALID(err, err_size, "files[%zu].off must be a non-negative integer", i);
    v = json_object_get(f, "line");
    if (!json_is_integer(v) || (line = json_integer_value(v)) < 0)
        return INVALID(err, err_size, "files[%zu].line must be a non-negative integer", i);
    if (line > off)
        return INVALID(err, err_size,
                       "files[%zu] counts more lines (%" JSON_INTEGER_FORMAT
                       ") than bytes (%" JSON_INTEGER_FORMAT ")",
                       i, line, off);
    v = json_object_get(f, "path");
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > FILE_CURSOR_PATH_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return INVALID(err, err_size, "files[%zu].path must be a non-empty string", i);
    path = json_string_value(v);
    if (file_cursor_find(c, dev, ino, NULL))
        return INVALID(err, err_size, "files[%zu] repeats dev %" PRIu64 " ino %" PRIu64, i, dev,
                       ino);
    return file_cursor_add(c, dev, ino, off, line, path);
}

int file_cursor_decode(const char *text, file_cursor *ret, char *err, size_t err_size)
{
    file_cursor c = {0};
    json_error_t jerr;
    json_t *root, *v, *files;
    const char *key;
    size_t i;
    int r;

    if (err_size > 0)
        err[0] = '\0';
    if (strlen(text) > FILE_CURSOR_MAX)
        return INVALID(err, err_size, "longer than %d bytes", FILE_CURSOR_MAX);
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return -ENOMEM;
        /* jerr.text quotes the input; the cursor is ours and holds no patient data. */
        for (char *p = jerr.text; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
                *p = '?';
        return INVALID(err, err_size, "not JSON: %s at column %d", jerr.text, jerr.column);
    }
    if (!json_is_object(root)) {
        r = INVALID(err, err_size, "not a JSON object");
        goto out;
    }
    json_object_foreach (root, key, v) {
        if (strcmp(key, "v") != 0 && strcmp(key, "files") != 0) {
            r = INVALID(err, err_size, "unknown top-level key");
            goto out;
        }
    }
    v = json_object_get(root, "v");
    if (!json_is_integer(v)) {
        r = INVALID(err, err_size, "no version (\"v\")");
        goto out;
    }
    if (json_integer_value(v) != FILE_CURSOR_VERSION) {
        r = INVALID(err, err_size,
                    "version %" JSON_INTEGER_FORMAT " is not supported; this plugin reads "
                    "version %d",
                    json_integer_value(v), FILE_CURSOR_VERSION);
        goto out;
    }
    files = json_object_get(root, "files");
    if (!json_is_array(files)) {
        r = INVALID(err, err_size, "\"files\" must be an array");
        goto out;
    }
    json_array_foreach (files, i, v) {
        r = decode_entry(v, i, &c, err, err_size);
        if (r == -ENOMEM && err_size > 0)
            snprintf(err, err_size, "out of memory");
        if (r < 0)
            goto out;
    }
    *ret = c;
    c = (file_cursor){0};
    r = 0;
out:
    file_cursor_clear(&c);
    json_decref(root);
    return r;
}
