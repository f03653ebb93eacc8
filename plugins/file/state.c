#include "state.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "kpid/plugin.h"
#include "path.h"

int file_state_key(uint64_t dev, uint64_t ino, char out[FILE_STATE_KEY_SIZE])
{
    return snprintf(out, FILE_STATE_KEY_SIZE, "f:%" PRIu64 ":%" PRIu64, dev, ino);
}

/* A canonical decimal uint64 at *p, up to the first byte not a digit; advances *p. */
static bool parse_decimal(const char **p, uint64_t *ret)
{
    const char *s = *p;
    uint64_t x = 0;
    size_t n = 0;

    while (s[n] >= '0' && s[n] <= '9') {
        unsigned d = (unsigned)(s[n] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0'))
        return false;
    *p = s + n;
    *ret = x;
    return true;
}

int file_state_parse_key(const char *key, uint64_t *ret_dev, uint64_t *ret_ino)
{
    const char *p = key;
    uint64_t dev, ino;

    if (strncmp(p, "f:", 2) != 0)
        return -EINVAL;
    p += 2;
    if (!parse_decimal(&p, &dev) || *p++ != ':' || !parse_decimal(&p, &ino) || *p != '\0')
        return -EINVAL;
    *ret_dev = dev;
    *ret_ino = ino;
    return 0;
}

int file_state_encode(const file_state *st, char **ret_text)
{
    char fp[17], *path = NULL, *text = NULL;
    json_t *root = NULL;
    int r = -ENOMEM;

    if (st->off < 0 || st->line < 0 || st->line > st->off || st->fp_len > FILE_FP_MAX ||
        !st->path || !st->path[0])
        return -EINVAL;
    snprintf(fp, sizeof(fp), "%016" PRIx64, st->fp);
    path = file_path_printable(st->path, FILE_STATE_PATH_MAX);
    if (!path)
        goto out;
    /* Keys in this order; jansson keeps insertion order. */
    root = json_pack("{s:I,s:I,s:s,s:I,s:s}", "off", (json_int_t)st->off, "line",
                     (json_int_t)st->line, "fp", fp, "fplen", (json_int_t)st->fp_len, "path", path);
    if (!root)
        goto out; /* only an allocation failure: the path is valid UTF-8 */
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        goto out;
    if (strlen(text) > KPID_STATE_VALUE_MAX) {
        r = -E2BIG; /* cannot be: the path is bounded */
        goto out;
    }
    *ret_text = text;
    text = NULL;
    r = 0;
out:
    free(text);
    free(path);
    json_decref(root);
    return r;
}

/* Writes a message (printf-style) into err (err_size bytes) and is -EINVAL. An
 * expression macro, not a variadic function: clang-analyzer misreads the va_list of
 * those. */
#define INVALID(err, err_size, ...) \
    ((err_size) > 0 ? (void)snprintf((err), (err_size), __VA_ARGS__) : (void)0, -EINVAL)

/* A non-negative JSON integer. */
static bool get_count(const json_t *root, const char *name, int64_t *ret)
{
    const json_t *v = json_object_get(root, name);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *ret = (int64_t)json_integer_value(v);
    return true;
}

/* Exactly 16 lowercase hex digits. */
static bool get_fp(const json_t *root, uint64_t *ret)
{
    const json_t *v = json_object_get(root, "fp");
    const char *s;
    uint64_t x = 0;

    if (!json_is_string(v) || json_string_length(v) != 16)
        return false;
    s = json_string_value(v);
    for (size_t i = 0; i < 16; i++) {
        unsigned d;
        if (s[i] >= '0' && s[i] <= '9')
            d = (unsigned)(s[i] - '0');
        else if (s[i] >= 'a' && s[i] <= 'f')
            d = (unsigned)(s[i] - 'a' + 10);
        else
            return false;
        x = x << 4 | d;
    }
    *ret = x;
    return true;
}

int file_state_decode(const char *key, const char *value, file_state *ret, char *err,
                      size_t err_size)
{
    static const char *const names[] = {"off", "line", "fp", "fplen", "path"};
    file_state st = {0};
    json_error_t jerr;
    json_t *root, *v;
    const char *name;
    int64_t fp_len;
    int r;

    if (err_size > 0)
        err[0] = '\0';
    if (file_state_parse_key(key, &st.dev, &st.ino) < 0)
        return INVALID(err, err_size, "the key is not \"f:DEV:INO\" in canonical decimals");
    if (strlen(value) > KPID_STATE_VALUE_MAX)
        return INVALID(err, err_size, "longer than %d bytes", KPID_STATE_VALUE_MAX);
    root = json_loads(value, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return -ENOMEM;
        if (json_error_code(&jerr) == json_error_duplicate_key)
            return INVALID(err, err_size, "a key is repeated");
        /* jerr.text may quote the value, which holds a path: say where only. */
        return INVALID(err, err_size, "not JSON at column %d", jerr.column);
    }
    if (!json_is_object(root)) {
        r = INVALID(err, err_size, "not a JSON object");
        goto out;
    }
    json_object_foreach (root, name, v) {
        bool known = false;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            known = known || strcmp(name, names[k]) == 0;
        if (!known) {
            r = INVALID(err, err_size, "unknown key");
            goto out;
        }
    }
    if (!get_count(root, "off", &st.off)) {
        r = INVALID(err, err_size, "off must be a non-negative integer");
        goto out;
    }
    if (!get_count(root, "line", &st.line)) {
        r = INVALID(err, err_size, "line must be a non-negative integer");
        goto out;
    }
    if (st.line > st.off) {
        r = INVALID(err, err_size, "counts more lines (%" PRId64 ") than bytes (%" PRId64 ")",
                    st.line, st.off);
        goto out;
    }
    if (!get_fp(root, &st.fp)) {
        r = INVALID(err, err_size, "fp must be 16 lowercase hex digits");
        goto out;
    }
    if (!get_count(root, "fplen", &fp_len) || fp_len > FILE_FP_MAX) {
        r = INVALID(err, err_size, "fplen must be an integer from 0 to %d", FILE_FP_MAX);
        goto out;
    }
    st.fp_len = (uint32_t)fp_len;
    v = json_object_get(root, "path");
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > FILE_STATE_PATH_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        r = INVALID(err, err_size, "path must be a non-empty string of at most %d bytes",
                    FILE_STATE_PATH_MAX);
        goto out;
    }
    st.path = strdup(json_string_value(v));
    if (!st.path) {
        r = -ENOMEM;
        goto out;
    }
    *ret = st;
    r = 0;
out:
    json_decref(root);
    return r;
}

int file_cursor_version(const char *text, char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *root, *v;
    int r;

    if (err_size > 0)
        err[0] = '\0';
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return -ENOMEM;
        return INVALID(err, err_size, "not JSON at column %d", jerr.column);
    }
    v = json_object_get(root, "v");
    if (!json_is_object(root) || !json_is_integer(v)) {
        r = INVALID(err, err_size, "no version (\"v\")");
    } else if (json_integer_value(v) == 1) {
        r = 1;
    } else if (json_integer_value(v) == 2) {
        r = json_object_size(root) == 1 ? 2 : INVALID(err, err_size, "unknown top-level key");
    } else {
        r = INVALID(err, err_size,
                    "version %" JSON_INTEGER_FORMAT " is not supported; this plugin reads "
                    "versions 1 and 2",
                    json_integer_value(v));
    }
    json_decref(root);
    return r;
}
