#include "file_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef FILE_PLUGIN_PATH
#error "FILE_PLUGIN_PATH"
#endif

struct fake_host H;
const kpid_plugin_def *def;
char dir[256];
struct cfg cfg;
void *st;

struct kpid_batch {
    char *text; /* records, one per line */
    size_t len, rows, bytes;
    char **put_keys, **put_values; /* state puts in order; value NULL = delete */
    size_t n_puts;
};

static void h_log(kpid_source *src, enum kpid_log_level level, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof(H.logs) - H.logs_len;

    (void)src;
    (void)level;
    if (room < 2)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(H.logs + H.logs_len, room - 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        H.logs_len += (size_t)n < room - 2 ? (size_t)n : room - 2;
    H.logs[H.logs_len++] = '\n';
    H.logs[H.logs_len] = '\0';
}
static const char *h_name(kpid_source *src)
{
    (void)src;
    return "t";
}
static bool h_stop(kpid_source *src)
{
    (void)src;
    return H.stop;
}
static int h_cursor_load(kpid_source *src, char **ret)
{
    (void)src;
    *ret = H.cursor ? strdup(H.cursor) : NULL;
    return 0;
}
static int h_begin(kpid_source *src, kpid_batch **ret)
{
    (void)src;
    *ret = calloc(1, sizeof(kpid_batch));
    H.n_begins++;
    H.n_open_batches++;
    return 0;
}
static void add(kpid_batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(kpid_batch *b, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    b->text = realloc(b->text, b->len + (size_t)n + 2);
    memcpy(b->text + b->len, s, (size_t)n);
    b->len += (size_t)n;
    b->text[b->len++] = '\n';
    b->text[b->len] = '\0';
    b->rows++;
    b->bytes += (size_t)n;
    free(s);
}
static int h_emit(kpid_batch *b, const kpid_event *e, const char *loc)
{
    if (strcmp(e->activity, "EMITREFUSES") == 0) {
        add(b, "R %s emit refused [null]", loc);
        return -EINVAL;
    }
    add(b, "E %s %s %s %lld %s", loc, e->event_key, e->activity, (long long)e->time_us,
        e->attrs_json ? e->attrs_json : "-");
    return 0;
}
static int h_retract(kpid_batch *b, const char *key)
{
    add(b, "D %s", key);
    return 0;
}
static int h_replace(kpid_batch *b, const char *o)
{
    (void)b;
    (void)o;
    return -ENOTSUP;
}
static int h_reject(kpid_batch *b, const char *loc, const char *reason, const char *raw,
                    size_t raw_len)
{
    if (raw) {
        add(b, "R %s %s [%zu]", loc, reason, raw_len);
        size_t n = strlen(loc) + raw_len + 2;
        H.raws = realloc(H.raws, H.raws_len + n + 1);
        H.raws_len += (size_t)sprintf(H.raws + H.raws_len, "%s\t%.*s\n", loc, (int)raw_len, raw);
    } else {
        add(b, "R %s %s [null]", loc, reason);
    }
    return 0;
}
static size_t h_rows(const kpid_batch *b)
{
    return b->rows + b->n_puts;
}
static size_t h_bytes(const kpid_batch *b)
{
    return b->bytes;
}

static void free_batch(kpid_batch *b)
{
    for (size_t i = 0; i < b->n_puts; i++) {
        free(b->put_keys[i]);
        free(b->put_values[i]);
    }
    free(b->put_keys);
    free(b->put_values);
    free(b->text);
    free(b);
}

static size_t state_find(const char *key)
{
    for (size_t i = 0; i < H.n_state; i++)
        if (strcmp(H.keys[i], key) == 0)
            return i;
    return SIZE_MAX;
}

/* Applies a put to the committed state (a linear table: the tests hold few keys, except
 * the test of many files, which puts each key once). */
static void state_apply(char *key, char *value, size_t *hint)
{
    size_t i = *hint < H.n_state && strcmp(H.keys[*hint], key) == 0 ? *hint : state_find(key);

    if (i == SIZE_MAX && value && H.n_state < FAKE_STATE_MAX) {
        H.keys[H.n_state] = key;
        H.values[H.n_state++] = value;
        return;
    }
    if (i != SIZE_MAX && value) {
        free(H.values[i]);
        H.values[i] = value;
        free(key);
        *hint = i;
        return;
    }
    if (i != SIZE_MAX) {
        free(H.keys[i]);
        free(H.values[i]);
        H.keys[i] = H.keys[--H.n_state];
        H.values[i] = H.values[H.n_state];
    }
    free(key);
    free(value);
}

static int h_submit(kpid_batch *b, const char *cursor, uint64_t *ret_id)
{
    int r = H.submit_result;
    size_t hint = 0;

    (void)ret_id;
    H.n_open_batches--;
    if (r == 0) {
        H.n_submits++;
        free(H.cursor);
        H.cursor = strdup(cursor);
        if (b->len) {
            H.records = realloc(H.records, H.records_len + b->len + 1);
            memcpy(H.records + H.records_len, b->text, b->len + 1);
            H.records_len += b->len;
        }
        for (size_t i = 0; i < b->n_puts; i++) {
            state_apply(b->put_keys[i], b->put_values[i], &hint);
            b->put_keys[i] = b->put_values[i] = NULL;
        }
    }
    free_batch(b);
    return r;
}
static void h_abort(kpid_batch *b)
{
    H.n_aborts++;
    H.n_open_batches--;
    free_batch(b);
}
static void h_metric(kpid_source *src, const char *name, int64_t d)
{
    (void)src;
    if (strcmp(name, "lines") == 0)
        H.metric_lines += d;
}
static int h_state_put(kpid_batch *b, const char *key, const char *value)
{
    if (!key || !*key || strlen(key) > KPID_STATE_KEY_MAX ||
        (value && strlen(value) > KPID_STATE_VALUE_MAX))
        return -EINVAL;
    b->put_keys = realloc(b->put_keys, (b->n_puts + 1) * sizeof(char *));
    b->put_values = realloc(b->put_values, (b->n_puts + 1) * sizeof(char *));
    b->put_keys[b->n_puts] = strdup(key);
    b->put_values[b->n_puts] = value ? strdup(value) : NULL;
    b->n_puts++;
    return 0;
}
static int cmp_index(const void *a, const void *b)
{
    return strcmp(H.keys[*(const size_t *)a], H.keys[*(const size_t *)b]);
}
static int h_state_load(kpid_source *src, int (*fn)(void *, const char *, const char *), void *arg)
{
    size_t *order = malloc((H.n_state + 1) * sizeof(*order));
    int r = H.state_load_result;

    (void)src;
    for (size_t i = 0; i < H.n_state; i++)
        order[i] = i;
    qsort(order, H.n_state, sizeof(*order), cmp_index);
    for (size_t i = 0; i < H.n_state && r == 0; i++)
        r = fn(arg, H.keys[order[i]], H.values[order[i]]);
    free(order);
    return r;
}
static int h_pseudonymize(kpid_source *src, enum kpid_id_field field, const char *id, size_t len,
                          char *out, size_t out_size)
{
    bool on = field == KPID_ID_SUBJECT ? H.pseudonymize : H.pseudonymize && H.pseudonymize_case;

    (void)src;
    if (!on) {
        snprintf(out, out_size, "%.*s", (int)len, id);
        return 0;
    }
    if (out_size < KPID_PSEUDONYM_LEN + 1)
        return -ENOBUFS;
    snprintf(out, out_size, "pseudo(%.*s)", (int)len, id);
    return 1;
}
static const char *h_event_invalid(kpid_source *src, const kpid_event *ev)
{
    (void)src;
    if (strcmp(ev->activity, "HOSTREFUSES") == 0)
        return "host refused";
    if (ev->time_us > 253402300799999999LL)
        return "time outside years 0001-9999";
    return NULL;
}

static const kpid_host host = {
    .abi_major = KPID_ABI_MAJOR,
    .abi_minor = KPID_ABI_MINOR,
    .struct_size = sizeof(kpid_host),
    .log = h_log,
    .source_name = h_name,
    .stop_requested = h_stop,
    .cursor_load = h_cursor_load,
    .batch_begin = h_begin,
    .emit = h_emit,
    .retract = h_retract,
    .replace_origin = h_replace,
    .reject = h_reject,
    .batch_rows = h_rows,
    .batch_bytes = h_bytes,
    .batch_submit = h_submit,
    .batch_abort = h_abort,
    .metric_add = h_metric,
    .state_put = h_state_put,
    .state_load = h_state_load,
    .pseudonymize = h_pseudonymize,
    .event_invalid = h_event_invalid,
};

const kpid_host *fake_host_table(void)
{
    return &host;
}

int fake_load_plugin(void)
{
    void *h = dlopen(FILE_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    kpid_plugin_entry_fn entry = (kpid_plugin_entry_fn)dlsym(h, KPID_PLUGIN_ENTRY);
    def = entry();
    return 0;
}

void reset_host(void)
{
    free(H.cursor);
    free(H.records);
    free(H.raws);
    for (size_t i = 0; i < H.n_state; i++) {
        free(H.keys[i]);
        free(H.values[i]);
    }
    memset(&H, 0, sizeof(H));
}

char *take_records(void)
{
    char *r = H.records ? H.records : strdup("");
    H.records = NULL;
    H.records_len = 0;
    return r;
}

void expect_records(const char *expected)
{
    char *r = take_records();
    if (strcmp(r, expected) != 0)
        fail_msg("records:\n%s\nexpected:\n%s\nlogs:\n%s", r, expected, H.logs);
    free(r);
}

char *p(const char *name)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

void write_at(const char *name, const char *mode, const char *data, size_t n)
{
    FILE *f = fopen(p(name), mode);
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}
void put(const char *name, const char *data)
{
    write_at(name, "w", data, strlen(data));
}
void app(const char *name, const char *data)
{
    write_at(name, "a", data, strlen(data));
}

int start_cfg(void)
{
    st = NULL;
    return def->init(&host, (kpid_source *)0x1, &cfg, NULL, &st);
}

void start(int64_t batch, int64_t maxline)
{
    static char pattern[512];
    snprintf(pattern, sizeof(pattern), "%s/*.ndjson", dir);
    cfg = (struct cfg){.path = pattern,
                       .batch_max_lines = batch,
                       .max_line_bytes = maxline,
                       .rotate_wait_ms = 0,
                       .max_open_files = 1024,
                       .rejected_raw = "full"};
    assert_int_equal(start_cfg(), 0);
}

void stop(void)
{
    def->fini(st);
    st = NULL;
    assert_int_equal(H.n_open_batches, 0);
}

int poll1(void)
{
    return def->poll(st, H.cursor);
}

const char *state_get(const char *key)
{
    size_t i = state_find(key);
    return i == SIZE_MAX ? NULL : H.values[i];
}

const char *key_of(const char *name)
{
    static char key[64];
    struct stat sb;
    assert_int_equal(stat(p(name), &sb), 0);
    snprintf(key, sizeof(key), "f:%llu:%llu", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino);
    return key;
}

int log_count(const char *needle)
{
    int n = 0;
    for (const char *q = H.logs; (q = strstr(q, needle)); q += strlen(needle))
        n++;
    return n;
}

int fake_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/kpid-file-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    reset_host();
    return 0;
}

int fake_teardown(void **state)
{
    char cmd[600];
    (void)state;
    if (st)
        stop();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    reset_host();
    return 0;
}
