/*
 * A fake host for driving the file plugin (file.so) through its ABI, without a daemon:
 * batches are text records, keyed state is a table in memory that a submitted batch
 * updates in put order, and the cursor is the last submitted one. The host of ABI 1.1,
 * helpers included.
 *
 * Records of a batch, one per line:
 *   E LOCATOR KEY ACTIVITY TIME_US ATTRS|-   an event
 *   D KEY                                     a retraction
 *   R LOCATOR REASON [RAW_LEN|null]           rejected input (raw in H.raws)
 *   S KEY VALUE|-                             a state put (- = delete)
 */
#ifndef KPID_TEST_FILE_HOST_H
#define KPID_TEST_FILE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpid/plugin.h"

#define FAKE_STATE_MAX 200000

struct fake_host {
    bool stop;
    int submit_result;      /* returned by batch_submit when not 0 */
    int state_load_result;  /* returned by state_load when not 0 */
    bool pseudonymize;      /* the host pseudonymizes subject ids ... */
    bool pseudonymize_case; /* ... and case ids */
    int n_submits, n_aborts, n_begins, n_open_batches;
    char *cursor;  /* last submitted cursor, what cursor_load returns */
    char *records; /* all submitted records */
    size_t records_len;
    char *raws; /* "LOCATOR\tRAW\n" per rejected input with raw */
    size_t raws_len;
    char logs[262144];
    size_t logs_len;
    int64_t metric_lines;
    char *keys[FAKE_STATE_MAX], *values[FAKE_STATE_MAX]; /* committed state, unsorted */
    size_t n_state;
};
extern struct fake_host H;

/* The plugin's configuration struct, as file.c lays it out. */
struct cfg {
    char *path;
    int64_t batch_max_lines;
    int64_t max_line_bytes;
    int64_t rotate_wait_ms;
    int64_t max_open_files;
    bool follow_symlinks;
    char *rejected_raw;
};

extern const kpid_plugin_def *def;
extern char dir[256];
extern struct cfg cfg;
extern void *st;

/* The fake host's table. */
const kpid_host *fake_host_table(void);

/* Loads file.so (FILE_PLUGIN_PATH); returns 0 or prints why and returns 1. */
int fake_load_plugin(void);

void reset_host(void);
char *take_records(void); /* the records so far, freshly allocated; empties them */
void expect_records(const char *expected);
char *p(const char *name); /* dir/name, in one of 8 rotating buffers */
void write_at(const char *name, const char *mode, const char *data, size_t n);
void put(const char *name, const char *data);
void app(const char *name, const char *data);

/* Initializes the plugin with cfg as it is (start() fills cfg first: pattern DIR/NAME.ndjson,
 * rotate_wait 0, max_open_files 1024, no links, rejected_raw "full"). */
int start_cfg(void);
void start(int64_t batch, int64_t maxline);
void stop(void);
int poll1(void);

/* The committed state value of key, or NULL. */
const char *state_get(const char *key);
/* The state key of the file dir/name ("f:DEV:INO"), in a static buffer. */
const char *key_of(const char *name);
/* Occurrences of needle in the log. */
int log_count(const char *needle);

int fake_setup(void **state);
int fake_teardown(void **state);

#define EV(key) "{\"event_key\":\"" key "\",\"activity\":\"A\",\"time\":\"1970-01-01T00:00:01Z\"}\n"

#endif
