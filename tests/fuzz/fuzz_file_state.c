/*
 * Fuzz target for the file source's per-file state (plugins/file/state.h): the input is
 * a key, a newline and a value, as kpid.source_state hands them back; it is also read
 * whole as a cursor. What comes out is held to the header's promises: a decoded state
 * has consistent numbers and a non-empty path without NUL, encodes again within the
 * state's limits, and decodes back to the same fields. A broken promise aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"
#include "kpid/plugin.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[256], key[FILE_STATE_KEY_SIZE];
    file_state st, again;
    uint64_t dev, ino;
    int r;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    r = file_cursor_version(text, err, sizeof(err));
    CHECK(r == 1 || r == 2 || r == -ENOMEM ||
          (r == -EINVAL && err[0] && strlen(err) < sizeof(err)));

    char *nl = strchr(text, '\n');
    if (!nl)
        goto out;
    *nl = '\0';
    const char *value = nl + 1;

    if (file_state_parse_key(text, &dev, &ino) == 0) {
        /* Canonical: the key is what file_state_key writes. */
        file_state_key(dev, ino, key);
        CHECK(strcmp(key, text) == 0);
    }
    r = file_state_decode(text, value, &st, err, sizeof(err));
    CHECK(r == 0 || r == -ENOMEM || r == -EINVAL);
    if (r == -EINVAL)
        CHECK(err[0] && strlen(err) < sizeof(err));
    if (r != 0)
        goto out;
    CHECK(st.dev == dev && st.ino == ino);
    CHECK(st.off >= 0 && st.line >= 0 && st.line <= st.off && st.fp_len <= FILE_FP_MAX);
    CHECK(st.path && st.path[0] && strlen(st.path) <= FILE_STATE_PATH_MAX);

    char *encoded = NULL;
    r = file_state_encode(&st, &encoded);
    CHECK(r == 0 || r == -ENOMEM);
    if (r == 0) {
        CHECK(strlen(encoded) <= KPID_STATE_VALUE_MAX);
        file_state_key(st.dev, st.ino, key);
        CHECK(file_state_decode(key, encoded, &again, err, sizeof(err)) == 0);
        CHECK(again.dev == st.dev && again.ino == st.ino && again.off == st.off &&
              again.line == st.line && again.fp == st.fp && again.fp_len == st.fp_len);
        CHECK(printable(again.path));
        /* A printable path survives as it is. */
        if (printable(st.path))
            CHECK(strcmp(again.path, st.path) == 0);
        free(again.path);
        free(encoded);
    }
    free(st.path);
out:
    free(text);
    return 0;
}
