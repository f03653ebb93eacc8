/*
 * Rejected input: a line that is malformed, too long, or an event the host would refuse
 * goes to kpid.rejected with its locator ("path:line") and reason. What of the line is
 * kept in raw is the source's rejected_raw:
 *
 *   pseudonymized  (the default) a line that is a JSON object is stored with the values
 *                  of its top-level subject_id (and case_id, where the source
 *                  pseudonymizes case ids) replaced by the pseudonyms the host would
 *                  store, compact, cut to FILE_RAW_HEAD bytes; any other line (not JSON,
 *                  or only the head of a line too long) is stored with raw NULL, its
 *                  locator pointing to it. When the daemon does not pseudonymize, this
 *                  is "full".
 *   full           the line's first FILE_RAW_HEAD bytes, as they are.
 *   none           raw NULL: locator and reason only.
 *
 * Outside "full", the reason does not quote the input either: jansson's "near '...'"
 * is cut off.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "file_source.h"

int file_reject_init(struct file_source *s)
{
    const char *mode = s->cfg->rejected_raw ? s->cfg->rejected_raw : "pseudonymized";
    char probe[KPID_PSEUDONYM_LEN + 1];

    if (strcmp(mode, "pseudonymized") == 0)
        s->raw_mode = FILE_RAW_PSEUDONYMIZED;
    else if (strcmp(mode, "full") == 0)
        s->raw_mode = FILE_RAW_FULL;
    else if (strcmp(mode, "none") == 0)
        s->raw_mode = FILE_RAW_NONE;
    else {
        flog(s, KPID_LOG_ERR,
             "rejected_raw must be \"pseudonymized\", \"full\" or \"none\": rejected_raw=\"%.64s\"",
             mode);
        return -EINVAL;
    }
    /* With len 0 the host says whether it pseudonymizes the field at all. */
    s->pseudo_subject =
        s->host->pseudonymize(s->src, KPID_ID_SUBJECT, "", 0, probe, sizeof(probe)) == 1;
    s->pseudo_case = s->host->pseudonymize(s->src, KPID_ID_CASE, "", 0, probe, sizeof(probe)) == 1;
    return 0;
}

/* The longest prefix of s[0..len) of at most max bytes that does not split a UTF-8
 * sequence (the host makes the rest valid). */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;

    if (n == len)
        return n;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Replaces root[name] (when present and not null) by the host's pseudonym of it: of the
 * string, or of the JSON text of another value (a number where a string belongs). */
static int pseudonymize_member(struct file_source *s, json_t *root, const char *name,
                               enum kpid_id_field field)
{
    char out[KPID_PSEUDONYM_LEN + 1], *text = NULL;
    const char *id;
    size_t len;
    json_t *v = json_object_get(root, name);
    int r;

    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        id = json_string_value(v);
        len = json_string_length(v);
    } else {
        text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return -ENOMEM;
        id = text;
        len = strlen(text);
    }
    r = s->host->pseudonymize(s->src, field, id, len, out, sizeof(out));
    free(text);
    if (r != 1)
        return r < 0 ? r : -EINVAL; /* the host said it pseudonymizes this field */
    return json_object_set_new(root, name, json_string(out)) < 0 ? -ENOMEM : 0;
}

/* The line as compact JSON with its identifiers pseudonymized, freshly allocated, or NULL
 * in *ret when it is not a JSON object. Returns 0 or a negative errno. */
static int pseudonymized_line(struct file_source *s, const char *data, size_t len, char **ret)
{
    json_error_t err;
    json_t *root = json_loadb(data, len, 0, &err);
    int r = 0;

    *ret = NULL;
    if (!root)
        return json_error_code(&err) == json_error_out_of_memory ? -ENOMEM : 0;
    if (json_is_object(root)) {
        r = pseudonymize_member(s, root, "subject_id", KPID_ID_SUBJECT);
        if (r == 0 && s->pseudo_case)
            r = pseudonymize_member(s, root, "case_id", KPID_ID_CASE);
        if (r == 0 && !(*ret = json_dumps(root, JSON_COMPACT)))
            r = -ENOMEM;
    }
    json_decref(root);
    return r;
}

int file_reject(struct file_source *s, const char *locator, const char *reason, const char *data,
                size_t len, bool complete)
{
    enum file_raw_mode mode = s->raw_mode;
    char *text = NULL, cut[NDJSON_REASON_MAX];
    const char *raw = NULL;
    size_t raw_len = 0;
    int r;

    if (mode == FILE_RAW_PSEUDONYMIZED && !s->pseudo_subject)
        mode = FILE_RAW_FULL; /* nothing is pseudonymized: keep what "full" keeps */
    if (mode == FILE_RAW_FULL) {
        raw = data;
        raw_len = utf8_cut(data, len, FILE_RAW_HEAD);
    } else if (mode == FILE_RAW_PSEUDONYMIZED && complete) {
        if ((r = pseudonymized_line(s, data, len, &text)) < 0)
            return r;
        if (text) {
            raw = text;
            raw_len = utf8_cut(text, strlen(text), FILE_RAW_HEAD);
        }
    }
    if (mode != FILE_RAW_FULL && reason) {
        const char *near = strstr(reason, " near '");
        if (near) {
            size_t n = (size_t)(near - reason) < sizeof(cut) - 1 ? (size_t)(near - reason)
                                                                 : sizeof(cut) - 1;
            memcpy(cut, reason, n);
            cut[n] = '\0';
            reason = cut;
        }
    }
    if ((r = file_batch_ensure(s)) == 0)
        r = s->host->reject(s->batch, locator, reason, raw, raw_len);
    free(text);
    return r;
}
