/* The file plugin (file.so) driven through its ABI by a fake host. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kpid/plugin.h"

#ifndef FILE_PLUGIN_PATH
#error "FILE_PLUGIN_PATH"
#endif

/* ---- fake host ---- */

struct kpid_batch {
    char *text; /* records, one per line */
    size_t len, rows, bytes;
};

static struct {
    bool stop;
    int submit_result; /* returned by batch_submit when not 0 */
    int n_submits, n_aborts, n_begins, n_open_batches;
    char *cursor;      /* last submitted cursor */
    char *records;     /* all submitted records */
    size_t records_len;
    char logs[65536];
    size_t logs_len;
    int64_t metric_lines;
} H;

static void h_log(kpid_source *src, enum kpid_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(H.logs + H.logs_len, sizeof(H.logs) - H.logs_len - 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        H.logs_len += (size_t)n < sizeof(H.logs) - H.logs_len - 2 ? (size_t)n
                                                                  : sizeof(H.logs) - H.logs_len - 2;
    H.logs[H.logs_len++] = '\n';
    H.logs[H.logs_len] = '\0';
}
static const char *h_name(kpid_source *src) { return "t"; }
static bool h_stop(kpid_source *src) { return H.stop; }
static int h_cursor_load(kpid_source *src, char **ret) { *ret = NULL; return 0; }
static int h_begin(kpid_source *src, kpid_batch **ret)
{
    *ret = calloc(1, sizeof(kpid_batch));
    H.n_begins++;
    H.n_open_batches++;
    return 0;
}
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
    if (strcmp(e->activity, "HOSTREFUSES") == 0) {
        add(b, "R %s host refused", loc);
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
static int h_replace(kpid_batch *b, const char *o) { return -ENOTSUP; }
static int h_reject(kpid_batch *b, const char *loc, const char *reason, const char *raw,
                    size_t raw_len)
{
    add(b, "R %s %s [%zu]", loc, reason, raw_len);
    return 0;
}
static size_t h_rows(const kpid_batch *b) { return b->rows; }
static size_t h_bytes(const kpid_batch *b) { return b->bytes; }
static int h_submit(kpid_batch *b, const char *cursor, uint64_t *ret_id)
{
    int r = H.submit_result;
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
    }
    free(b->text);
    free(b);
    return r;
}
static void h_abort(kpid_batch *b)
{
    H.n_aborts++;
    H.n_open_batches--;
    free(b->text);
    free(b);
}
static void h_metric(kpid_source *src, const char *name, int64_t d)
{
    if (strcmp(name, "lines") == 0)
        H.metric_lines += d;
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
};

/* ---- helpers ---- */

struct cfg {
    char *path;
    int64_t batch_max_lines;
    int64_t max_line_bytes;
};

static const kpid_plugin_def *def;
static char dir[256];
static struct cfg cfg;
static void *st;

static void reset_host(void)
{
    free(H.cursor);
    free(H.records);
    memset(&H, 0, sizeof(H));
}

static char *take_records(void)
{
    char *r = H.records ? H.records : strdup("");
    H.records = NULL;
    H.records_len = 0;
    return r;
}

static void expect_records(const char *expected)
{
    char *r = take_records();
    if (strcmp(r, expected) != 0)
        fail_msg("records:\n%s\nexpected:\n%s\nlogs:\n%s", r, expected, H.logs);
    free(r);
}

static char *p(const char *name)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

static void write_at(const char *name, const char *mode, const char *data, size_t n)
{
    FILE *f = fopen(p(name), mode);
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}
static void put(const char *name, const char *data) { write_at(name, "w", data, strlen(data)); }
static void app(const char *name, const char *data) { write_at(name, "a", data, strlen(data)); }

static void start(int64_t batch, int64_t maxline)
{
    static char pattern[512];
    snprintf(pattern, sizeof(pattern), "%s/*.ndjson", dir);
    cfg.path = pattern;
    cfg.batch_max_lines = batch;
    cfg.max_line_bytes = maxline;
    st = NULL;
    assert_int_equal(def->init(&host, (kpid_source *)0x1, &cfg, NULL, &st), 0);
}

static void stop(void)
{
    def->fini(st);
    st = NULL;
    assert_int_equal(H.n_open_batches, 0);
}

static int poll1(const char *cursor)
{
    return def->poll(st, cursor);
}

#define EV(key) "{\"event_key\":\"" key "\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n"

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/kpid-file-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    reset_host();
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];
    if (st)
        stop();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    reset_host();
    return 0;
}

/* ---- tests ---- */

static void test_definition(void **state)
{
    assert_int_equal(def->abi_major, KPID_ABI_MAJOR);
    assert_int_equal(def->struct_size, sizeof(kpid_plugin_def));
    assert_string_equal(def->name, "file");
    assert_int_equal(def->shape, KPID_SOURCE_POLL);
    assert_int_equal(def->config_size, sizeof(struct cfg));
    assert_string_equal(def->config_keys[0].name, "path");
    assert_int_equal(def->config_keys[0].offset, offsetof(struct cfg, path));
    assert_string_equal(def->config_keys[1].name, "batch_max_lines");
    assert_int_equal(def->config_keys[1].offset, offsetof(struct cfg, batch_max_lines));
    assert_string_equal(def->config_keys[2].name, "max_line_bytes");
    assert_int_equal(def->config_keys[2].offset, offsetof(struct cfg, max_line_bytes));
    assert_null(def->config_keys[3].name);
    def->fini(NULL);

    /* Half-initialized state: init fails, fini still frees. */
    struct cfg bad = {.path = "relative/*.ndjson", .batch_max_lines = 1, .max_line_bytes = 1024};
    void *s = (void *)0x1;
    assert_int_equal(def->init(&host, NULL, &bad, NULL, &s), -EINVAL);
    def->fini(s);
}

static void test_basic(void **state)
{
    put("b.ndjson", EV("b1"));
    put("a.ndjson", EV("a1") "\n   \n" "{\"event_key\":\"a1\",\"retract\":true}\r\n"
                    "not json\n" "{\"event_key\":\"a5\",\"activity\":\"HOSTREFUSES\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
                    "{\"event_key\":\"a6\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\",\"attrs\":{\"z\":1,\"a\":2}}\n"
                    "{\"event_key\":\"partial\"");
    put("c.txt", EV("ignored"));
    assert_int_equal(mkdir(p("d.ndjson"), 0700), 0);
    start(100, 1024);
    assert_int_equal(poll1(NULL), KPID_POLL_IDLE);
    char exp[4096];
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson:1 a1 A 1000000 -\n"
             "D a1\n"
             "R %1$s/a.ndjson:5 invalid JSON at column 3: invalid token near 'not' [8]\n"
             "R %1$s/a.ndjson:6 host refused\n"
             "E %1$s/a.ndjson:7 a6 A 1000000 {\"z\":1,\"a\":2}\n"
             "E %1$s/b.ndjson:1 b1 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(H.n_submits, 1);
    assert_int_equal(H.metric_lines, 8);
    assert_non_null(strstr(H.cursor, "\"line\":7"));
    assert_non_null(strstr(H.cursor, "a.ndjson\""));

    /* Nothing new: no batch. */
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    assert_int_equal(H.n_submits, 1);
    assert_int_equal(H.n_begins, 1);

    /* The partial line completes; a new file appears. */
    app("a.ndjson", ",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:02Z\"}\n");
    put("a0.ndjson", EV("a0"));
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson:8 partial A 2000000 -\n"
             "E %1$s/a0.ndjson:1 a0 A 1000000 -\n",
             dir);
    expect_records(exp);

    /* Restart from the cursor: nothing again. */
    char *cursor = strdup(H.cursor);
    stop();
    start(100, 1024);
    assert_int_equal(poll1(cursor), KPID_POLL_IDLE);
    expect_records("");
    app("b.ndjson", EV("b2"));
    assert_int_equal(poll1(cursor), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp), "E %s/b.ndjson:2 b2 A 1000000 -\n", dir);
    expect_records(exp);
    free(cursor);
}

static void test_batches(void **state)
{
    char *data = malloc(1 << 20);
    size_t n = 0;
    for (int i = 1; i <= 1000; i++)
        n += (size_t)sprintf(data + n, "{\"event_key\":\"k%d\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n", i);
    put("a.ndjson", data);
    put("b.ndjson", EV("b1") EV("b2"));
    start(7, 1024);
    int polls = 0, r;
    while ((r = poll1(H.cursor)) == KPID_POLL_MORE)
        polls++;
    assert_int_equal(r, KPID_POLL_IDLE);
    assert_int_equal(polls, 1002 / 7);
    char *recs = take_records();
    /* Every line once, in order. */
    char *q = recs;
    for (int i = 1; i <= 1000; i++) {
        char want[512];
        snprintf(want, sizeof(want), "E %s/a.ndjson:%d k%d ", dir, i, i);
        if (strncmp(q, want, strlen(want)) != 0)
            fail_msg("line %d: %.80s", i, q);
        q = strchr(q, '\n') + 1;
    }
    assert_non_null(strstr(q, "b.ndjson:1 b1"));
    assert_non_null(strstr(q, "b.ndjson:2 b2"));
    free(recs);
    assert_non_null(strstr(H.cursor, "\"line\":1000"));
    free(data);
}

static void test_rename_and_drop(void **state)
{
    put("a.ndjson", EV("a1"));
    put("b.ndjson", EV("b1"));
    start(100, 1024);
    assert_int_equal(poll1(NULL), KPID_POLL_IDLE);
    free(take_records());
    /* Renamed within the pattern: same position. */
    assert_int_equal(rename(p("a.ndjson"), p("z.ndjson")), 0);
    app("z.ndjson", EV("a2"));
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp), "E %s/z.ndjson:2 a2 A 1000000 -\n", dir);
    expect_records(exp);
    assert_non_null(strstr(H.cursor, "z.ndjson"));
    /* Moved out of the pattern: dropped with the next batch. */
    assert_int_equal(rename(p("b.ndjson"), p("b.done")), 0);
    app("z.ndjson", EV("a3"));
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    free(take_records());
    assert_null(strstr(H.cursor, "b.ndjson"));
    assert_null(strstr(H.cursor, "b.done"));
    /* No file matches: the cursor is kept as it is. */
    assert_int_equal(rename(p("z.ndjson"), p("z.done")), 0);
    int submits = H.n_submits;
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    assert_int_equal(H.n_submits, submits);
    assert_non_null(strstr(H.logs, "no file matches"));
    assert_int_equal(rename(p("z.done"), p("z.ndjson")), 0);
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    expect_records("");
}

static void test_truncation(void **state)
{
    put("a.ndjson", EV("a1") EV("a2"));
    start(100, 1024);
    assert_int_equal(poll1(NULL), KPID_POLL_IDLE);
    free(take_records());
    put("a.ndjson", EV("n1"));
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp), "E %s/a.ndjson:1 n1 A 1000000 -\n", dir);
    expect_records(exp);
    assert_non_null(strstr(H.logs, "truncated"));
    /* Truncated to nothing: the cursor moves to 0 once, with one warning. */
    put("a.ndjson", "");
    H.logs_len = 0;
    H.logs[0] = 0;
    int submits = H.n_submits;
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    assert_int_equal(H.n_submits, submits + 1);
    assert_non_null(strstr(H.cursor, "\"off\":0"));
    assert_non_null(strstr(H.logs, "truncated"));
    assert_null(strstr(strstr(H.logs, "truncated") + 1, "truncated"));
}

static void test_long_lines(void **state)
{
    size_t big = 3u << 20;
    char *line = malloc(big + 200);
    /* 5000 bytes (over 1024 but within the read buffer), then 3 MiB (beyond it). */
    memset(line, 'x', 5000);
    line[5000] = '\n';
    write_at("a.ndjson", "w", line, 5001);
    app("a.ndjson", EV("ok1"));
    memset(line, 'y', big);
    line[big] = '\n';
    write_at("a.ndjson", "a", line, big + 1);
    app("a.ndjson", EV("ok2"));
    /* A long one still being written: it waits. */
    write_at("a.ndjson", "a", line, 2000);
    start(100, 1024);
    assert_int_equal(poll1(NULL), KPID_POLL_IDLE);
    char exp[2048];
    snprintf(exp, sizeof(exp),
             "R %1$s/a.ndjson:1 line longer than 1024 bytes [1024]\n"
             "E %1$s/a.ndjson:2 ok1 A 1000000 -\n"
             "R %1$s/a.ndjson:3 line longer than 1024 bytes [1024]\n"
             "E %1$s/a.ndjson:4 ok2 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    expect_records("");
    app("a.ndjson", "\n" EV("ok3"));
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp),
             "R %1$s/a.ndjson:5 line longer than 1024 bytes [1024]\n"
             "E %1$s/a.ndjson:6 ok3 A 1000000 -\n",
             dir);
    expect_records(exp);
    stop();

    /* 2.5 MiB within max_line_bytes of 4 MiB: the buffer grows; it is valid JSON. */
    size_t n = (5u << 20) / 2;
    char *p0 = line + sprintf(line, "{\"event_key\":\"big\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\",\"attrs\":{\"s\":\"");
    memset(p0, 'z', n);
    strcpy(p0 + n, "\"}}\n");
    put("b.ndjson", line);
    start(100, 4 << 20);
    assert_int_equal(poll1(NULL), KPID_POLL_IDLE);
    char *recs = take_records();
    assert_non_null(strstr(recs, "b.ndjson:1 big A"));
    assert_non_null(strstr(recs, "a.ndjson:2 ok1"));
    assert_non_null(strstr(recs, "a.ndjson:3 invalid JSON")); /* 3 MiB, now within the limit */
    assert_non_null(strstr(recs, "a.ndjson:6 ok3"));
    free(recs);
    free(line);
}

static void test_cancel_and_errors(void **state)
{
    put("a.ndjson", EV("a1") EV("a2") EV("a3"));
    start(2, 1024);
    H.submit_result = -ECANCELED;
    assert_int_equal(poll1(NULL), 0);
    assert_int_equal(H.n_submits, 0);
    H.submit_result = 0;
    assert_int_equal(poll1(NULL), KPID_POLL_MORE);
    H.submit_result = -ECANCELED;
    assert_int_equal(poll1(H.cursor), 0);
    H.submit_result = -EIO;
    assert_int_equal(poll1(H.cursor), -EIO);
    H.submit_result = 0;
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson:1 a1 A 1000000 -\nE %1$s/a.ndjson:2 a2 A 1000000 -\n"
             "E %1$s/a.ndjson:3 a3 A 1000000 -\n",
             dir);
    expect_records(exp);

    /* Stop requested: nothing is read. */
    app("a.ndjson", EV("a4"));
    H.stop = true;
    assert_int_equal(poll1(H.cursor), KPID_POLL_IDLE);
    expect_records("");
    H.stop = false;
    stop();

    /* A corrupt cursor is an error with a message. */
    start(2, 1024);
    assert_int_equal(poll1("{\"v\":1,\"files\":[{}]}"), -EINVAL);
    assert_non_null(strstr(H.logs, "corrupt cursor: files[0].dev"));
}


int main(void)
{
    void *h = dlopen(FILE_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    kpid_plugin_entry_fn entry = (kpid_plugin_entry_fn)dlsym(h, KPID_PLUGIN_ENTRY);
    def = entry();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definition),
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
