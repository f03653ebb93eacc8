/* The file plugin (file.so) driven through its ABI by a fake host (file_host.h):
 * following files, batches, renames, truncation, long lines, cancellation, positions. */
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

#include "file_host.h"

/* ---- tests ---- */

static void test_definition(void **state)
{
    static const struct {
        const char *name;
        size_t offset;
        enum kpid_config_type type;
    } keys[] = {
        {"path", offsetof(struct cfg, path), KPID_CONFIG_STRING},
        {"batch_max_lines", offsetof(struct cfg, batch_max_lines), KPID_CONFIG_INT},
        {"max_line_bytes", offsetof(struct cfg, max_line_bytes), KPID_CONFIG_INT},
        {"rotate_wait", offsetof(struct cfg, rotate_wait_ms), KPID_CONFIG_DURATION},
        {"max_open_files", offsetof(struct cfg, max_open_files), KPID_CONFIG_INT},
        {"follow_symlinks", offsetof(struct cfg, follow_symlinks), KPID_CONFIG_BOOL},
        {"rejected_raw", offsetof(struct cfg, rejected_raw), KPID_CONFIG_STRING},
    };
    size_t n = sizeof(keys) / sizeof(keys[0]);

    assert_int_equal(def->abi_major, KPID_ABI_MAJOR);
    assert_int_equal(def->struct_size, sizeof(kpid_plugin_def));
    assert_string_equal(def->name, "file");
    assert_int_equal(def->shape, KPID_SOURCE_POLL);
    assert_int_equal(def->config_size, sizeof(struct cfg));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(def->config_keys[i].name, keys[i].name);
        assert_int_equal(def->config_keys[i].offset, keys[i].offset);
        assert_int_equal(def->config_keys[i].type, keys[i].type);
    }
    assert_null(def->config_keys[n].name);
    assert_string_equal(def->config_keys[3].default_value, "5s");
    assert_string_equal(def->config_keys[4].default_value, "1024");
    assert_string_equal(def->config_keys[5].default_value, "false");
    assert_string_equal(def->config_keys[6].default_value, "pseudonymized");
    def->fini(NULL);

    /* Half-initialized state: init fails, fini still frees. */
    struct cfg bad = {.path = "relative/*.ndjson",
                      .batch_max_lines = 1,
                      .max_line_bytes = 1024,
                      .max_open_files = 8,
                      .rejected_raw = "full"};
    void *s = (void *)0x1;
    assert_int_equal(def->init(&(kpid_host){0}, NULL, &bad, NULL, &s), -EPROTO);
    assert_ptr_equal(s, (void *)0x1); /* refused before it allocated anything */
    /* A host of ABI 1.0 (its table ends at metric_add) is refused with a message. */
    kpid_host old = *fake_host_table();
    old.abi_minor = 0;
    old.struct_size = (uint32_t)offsetof(kpid_host, state_put);
    assert_int_equal(def->init(&old, NULL, &bad, NULL, &s), -EPROTO);
    assert_non_null(strstr(H.logs, "needs a kpid of plugin ABI 1.1 or later: host_abi=1.0"));
    cfg = bad;
    assert_int_equal(start_cfg(), -EINVAL);
    def->fini(st);
    st = NULL;
    /* An unknown rejected_raw is an error with the accepted values. */
    cfg.path = "/tmp/*.ndjson";
    cfg.rejected_raw = "some";
    assert_int_equal(start_cfg(), -EINVAL);
    def->fini(st);
    st = NULL;
    assert_non_null(strstr(H.logs, "rejected_raw must be \"pseudonymized\", \"full\" or \"none\""));
}

static void test_basic(void **state)
{
    put("b.ndjson", EV("b1"));
    put("a.ndjson",
        EV("a1") "\n   \n"
                 "{\"event_key\":\"a1\",\"retract\":true}\r\n"
                 "not json\n"
                 "{\"event_key\":\"a5\",\"activity\":\"HOSTREFUSES\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
                 "{\"event_key\":\"a6\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\",\"attrs\":{\"z\":1,\"a\":2}}\n"
                 "{\"event_key\":\"a7\",\"activity\":\"EMITREFUSES\",\"time\":\"1970-01-01T00:00:01Z\"}\n"
                 "{\"event_key\":\"partial\"");
    put("c.txt", EV("ignored"));
    assert_int_equal(mkdir(p("d.ndjson"), 0700), 0);
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[4096];
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson:1 a1 A 1000000 -\n"
             "D a1\n"
             "R %1$s/a.ndjson:5 invalid JSON at column 3: invalid token near 'not' [8]\n"
             "R %1$s/a.ndjson:6 host refused [73]\n"
             "E %1$s/a.ndjson:7 a6 A 1000000 {\"z\":1,\"a\":2}\n"
             "R %1$s/a.ndjson:8 emit refused [null]\n"
             "E %1$s/b.ndjson:1 b1 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(H.n_submits, 1);
    assert_int_equal(H.metric_lines, 9);
    /* The cursor is the constant v2; the positions are state, one key per file. */
    assert_string_equal(H.cursor, "{\"v\":2}");
    assert_int_equal(H.n_state, 2);
    const char *a = state_get(key_of("a.ndjson"));
    assert_non_null(a);
    assert_non_null(strstr(a, "\"line\":8,"));
    assert_non_null(strstr(a, "a.ndjson\"}"));
    assert_non_null(strstr(state_get(key_of("b.ndjson")), "\"off\":64,\"line\":1,"));

    /* Nothing new: no batch. */
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(H.n_submits, 1);
    assert_int_equal(H.n_begins, 1);

    /* The partial line completes; a new file appears. */
    app("a.ndjson", ",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:02Z\"}\n");
    put("a0.ndjson", EV("a0"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson:9 partial A 2000000 -\n"
             "E %1$s/a0.ndjson:1 a0 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(H.n_state, 3);

    /* Restart from the committed state: nothing again. */
    stop();
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
    assert_int_equal(H.n_submits, 2);
    app("b.ndjson", EV("b2"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp), "E %s/b.ndjson:2 b2 A 1000000 -\n", dir);
    expect_records(exp);
    /* Only the file that moved is put. */
    assert_int_equal(H.n_state, 3);
    assert_non_null(strstr(state_get(key_of("b.ndjson")), "\"line\":2,"));
}

static void test_batches(void **state)
{
    char *data = malloc(1 << 20);
    size_t n = 0;
    for (int i = 1; i <= 1000; i++)
        n += (size_t)sprintf(
            data + n,
            "{\"event_key\":\"k%d\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n", i);
    put("a.ndjson", data);
    put("b.ndjson", EV("b1") EV("b2"));
    start(7, 1024);
    int polls = 0, r;
    while ((r = poll1()) == KPID_POLL_MORE)
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
    assert_non_null(strstr(state_get(key_of("a.ndjson")), "\"line\":1000,"));
    assert_non_null(strstr(state_get(key_of("b.ndjson")), "\"line\":2,"));
    free(data);
}

static void test_rename_and_drop(void **state)
{
    put("a.ndjson", EV("a1"));
    put("b.ndjson", EV("b1"));
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    char b_key[64];
    snprintf(b_key, sizeof(b_key), "%s", key_of("b.ndjson"));
    /* Renamed within the pattern: same position, new path in its state. */
    assert_int_equal(rename(p("a.ndjson"), p("z.ndjson")), 0);
    app("z.ndjson", EV("a2"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp), "E %s/z.ndjson:2 a2 A 1000000 -\n", dir);
    expect_records(exp);
    assert_non_null(strstr(state_get(key_of("z.ndjson")), "z.ndjson\"}"));
    /* Moved out of the pattern: read to its end, then released (rotate_wait 0) and its
     * state deleted with the next batch. */
    assert_int_equal(rename(p("b.ndjson"), p("b.done")), 0);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_null(state_get(b_key));
    assert_int_equal(H.n_state, 1);
    /* No file matches (the only file renamed away, within rotate_wait): nothing is
     * forgotten, nothing is submitted; back under its name, it goes on where it was. */
    cfg.rotate_wait_ms = 3600000;
    assert_int_equal(rename(p("z.ndjson"), p("z.done")), 0);
    int submits = H.n_submits;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(H.n_submits, submits);
    assert_non_null(strstr(H.logs, "no file matches"));
    assert_int_equal(rename(p("z.done"), p("z.ndjson")), 0);
    app("z.ndjson", EV("a3"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp), "E %s/z.ndjson:3 a3 A 1000000 -\n", dir);
    expect_records(exp);
    assert_non_null(strstr(H.logs, "files match the pattern again"));
    assert_non_null(strstr(state_get(key_of("z.ndjson")), "\"line\":3,"));
}

static void test_truncation(void **state)
{
    put("a.ndjson", EV("a1") EV("a2"));
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    put("a.ndjson", EV("n1"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp), "E %s/a.ndjson:1 n1 A 1000000 -\n", dir);
    expect_records(exp);
    assert_non_null(strstr(H.logs, "replaced or truncated"));
    /* Truncated to nothing: the position moves to 0 once, with one notice. */
    put("a.ndjson", "");
    H.logs_len = 0;
    H.logs[0] = 0;
    int submits = H.n_submits;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(H.n_submits, submits + 1);
    assert_non_null(strstr(state_get(key_of("a.ndjson")), "\"off\":0,"));
    assert_int_equal(log_count("replaced or truncated"), 1);
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
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[2048];
    snprintf(exp, sizeof(exp),
             "R %1$s/a.ndjson:1 line longer than 1024 bytes [1024]\n"
             "E %1$s/a.ndjson:2 ok1 A 1000000 -\n"
             "R %1$s/a.ndjson:3 line longer than 1024 bytes [1024]\n"
             "E %1$s/a.ndjson:4 ok2 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
    app("a.ndjson", "\n" EV("ok3"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    snprintf(exp, sizeof(exp),
             "R %1$s/a.ndjson:5 line longer than 1024 bytes [1024]\n"
             "E %1$s/a.ndjson:6 ok3 A 1000000 -\n",
             dir);
    expect_records(exp);
    stop();

    /* 2.5 MiB within max_line_bytes of 4 MiB: the buffer grows; it is valid JSON. */
    size_t n = (5u << 20) / 2;
    char *p0 =
        line +
        sprintf(
            line,
            "{\"event_key\":\"big\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\",\"attrs\":{\"s\":\"");
    memset(p0, 'z', n);
    strcpy(p0 + n, "\"}}\n");
    put("b.ndjson", line);
    reset_host(); /* from the start */
    start(100, 4 << 20);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
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
    assert_int_equal(poll1(), 0);
    assert_int_equal(H.n_submits, 0);
    H.submit_result = 0;
    assert_int_equal(poll1(), KPID_POLL_MORE);
    H.submit_result = -ECANCELED;
    assert_int_equal(poll1(), 0);
    H.submit_result = -EIO;
    assert_int_equal(poll1(), -EIO);
    H.submit_result = 0;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[1024];
    snprintf(exp, sizeof(exp),
             "E %1$s/a.ndjson:1 a1 A 1000000 -\nE %1$s/a.ndjson:2 a2 A 1000000 -\n"
             "E %1$s/a.ndjson:3 a3 A 1000000 -\n",
             dir);
    expect_records(exp);
    assert_non_null(strstr(state_get(key_of("a.ndjson")), "\"line\":3,"));

    /* Stop requested: nothing is read. */
    app("a.ndjson", EV("a4"));
    H.stop = true;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
    H.stop = false;
    stop();

    /* A corrupt cursor is an error with a message; so is a corrupt state entry, and a
     * warehouse that cannot be read fails init with the host's error. */
    free(H.cursor);
    H.cursor = strdup("{\"v\":1,\"files\":[{}]}");
    assert_int_equal(start_cfg(), -EINVAL);
    def->fini(st);
    st = NULL;
    assert_non_null(strstr(H.logs, "corrupt cursor: files[0].dev"));
    free(H.cursor);
    H.cursor = strdup("{\"v\":3}");
    assert_int_equal(start_cfg(), -EINVAL);
    def->fini(st);
    st = NULL;
    assert_non_null(strstr(H.logs, "corrupt cursor: version 3 is not supported"));
    free(H.cursor);
    H.cursor = strdup("{\"v\":2}");
    free(H.values[0]);
    H.values[0] = strdup("{\"off\":-1}");
    assert_int_equal(start_cfg(), -EINVAL);
    def->fini(st);
    st = NULL;
    assert_non_null(strstr(H.logs, "corrupt state: key=\"f:"));
    assert_non_null(strstr(H.logs, "error=\"off must be a non-negative integer\""));
    H.state_load_result = -EIO;
    assert_int_equal(start_cfg(), -EIO);
    def->fini(st);
    st = NULL;
}

/* A version 1 cursor is taken over: its positions become state with the next batch and
 * the cursor becomes {"v":2}. */
static void test_v1_takeover(void **state)
{
    char cursor[1024];
    struct stat sa, sb;

    put("a.ndjson", EV("a1") EV("a2"));
    put("b.ndjson", EV("b1"));
    assert_int_equal(stat(p("a.ndjson"), &sa), 0);
    assert_int_equal(stat(p("b.ndjson"), &sb), 0);
    /* a: its first line read; b: all of it. */
    snprintf(cursor, sizeof(cursor),
             "{\"v\":1,\"files\":[{\"dev\":\"%llu\",\"ino\":\"%llu\",\"off\":64,\"line\":1,"
             "\"path\":\"%s\"},{\"dev\":\"%llu\",\"ino\":\"%llu\",\"off\":64,\"line\":1,"
             "\"path\":\"%s\"}]}",
             (unsigned long long)sa.st_dev, (unsigned long long)sa.st_ino, p("a.ndjson"),
             (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino, p("b.ndjson"));
    H.cursor = strdup(cursor);
    start(100, 1024);
    assert_non_null(strstr(H.logs, "taking over the positions of a version 1 cursor: files=2"));
    /* The first batch is not accepted: the positions wait for the next one. */
    H.submit_result = -ECANCELED;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    assert_int_equal(H.n_submits, 0);
    H.submit_result = 0;
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[512];
    snprintf(exp, sizeof(exp), "E %s/a.ndjson:2 a2 A 1000000 -\n", dir);
    expect_records(exp);
    assert_string_equal(H.cursor, "{\"v\":2}");
    assert_int_equal(H.n_state, 2);
    assert_non_null(strstr(state_get(key_of("a.ndjson")), "{\"off\":128,\"line\":2,"));
    /* b was not read, but its position moved to the state all the same, with its
     * fingerprint taken at the first look. */
    const char *b = state_get(key_of("b.ndjson"));
    assert_non_null(strstr(b, "{\"off\":64,\"line\":1,\"fp\":\""));
    assert_non_null(strstr(b, "\"fplen\":64,"));
    /* From now on it is state: a restart reads nothing again. */
    stop();
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    expect_records("");
    assert_int_equal(log_count("version 1 cursor"), 1);
}

/* No cursor (its row was deleted to read everything again): the stale state goes with
 * the first batch, and every file is read from the start. */
static void test_no_cursor_reads_again(void **state)
{
    put("a.ndjson", EV("a1"));
    start(100, 1024);
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    free(take_records());
    stop();
    /* A position of a file that no longer exists, and the cursor gone. */
    H.keys[H.n_state] = strdup("f:1:2");
    H.values[H.n_state++] =
        strdup("{\"off\":5,\"line\":1,\"fp\":\"0000000000000000\",\"fplen\":5,\"path\":\"/x\"}");
    free(H.cursor);
    H.cursor = NULL;
    start(100, 1024);
    assert_non_null(strstr(H.logs, "no cursor: reading every file from the start and forgetting "
                                   "the positions of files=2"));
    assert_int_equal(poll1(), KPID_POLL_IDLE);
    char exp[512];
    snprintf(exp, sizeof(exp), "E %s/a.ndjson:1 a1 A 1000000 -\n", dir);
    expect_records(exp);
    assert_int_equal(H.n_state, 1);
    assert_null(state_get("f:1:2"));
    assert_non_null(strstr(state_get(key_of("a.ndjson")), "\"line\":1,"));
}

int main(void)
{
    if (fake_load_plugin())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_definition, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_basic, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_batches, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_rename_and_drop, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_truncation, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_long_lines, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_errors, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_takeover, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_no_cursor_reads_again, fake_setup, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
