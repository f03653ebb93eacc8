/*
 * The config struct of the "testsrc" test plugin, shared with the tests that check how
 * the host fills it.
 */
#ifndef KPID_TEST_TESTSRC_H
#define KPID_TEST_TESTSRC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct testsrc_config {
    char *path;         /* STRING, required */
    int64_t batch;      /* INT, 1..1000, default 100 */
    bool follow;        /* BOOL, default true */
    double ratio;       /* DOUBLE, no default */
    int64_t timeout_ms; /* DURATION, default 5s */
} testsrc_config;

#endif
