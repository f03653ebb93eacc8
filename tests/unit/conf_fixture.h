/*
 * A fixture for the tests that load configuration text with kpid_config_load: a
 * temporary folder holding the file "test.conf", helpers that write the text there and
 * load it, and a comparison of the reported errors with an expected text.
 *
 * In expected texts (fixture_expand) "@:" stands for the configuration file's path and
 * a colon, "$T" for the temporary folder and "$P" for the plugin folder given to
 * fixture_setup.
 *
 * Use it from a cmocka group: fixture_setup() in the group setup, fixture_teardown() in
 * the group teardown. The helpers fail the running test through cmocka's assertions.
 * Single-threaded, one fixture per test program.
 */
#ifndef KPID_TEST_CONF_FIXTURE_H
#define KPID_TEST_CONF_FIXTURE_H

#include <limits.h>

#include "config/config.h"

/* The temporary folder and the configuration file in it; set by fixture_setup(). */
extern char fixture_dir[PATH_MAX];
extern char fixture_conf_path[PATH_MAX + 16];

/*
 * Creates the temporary folder /tmp/kpid-test-NAME.XXXXXX. plugin_dir (NULL for none)
 * is the plugin folder of fixture_expect_ok(), fixture_expect_invalid() and
 * fixture_expect_errors(), and what "$P" stands for; it is not copied and must outlive
 * the fixture. Returns 0, or -errno when the folder cannot be created.
 */
int fixture_setup(const char *name, const char *plugin_dir);

/* Removes the temporary folder with everything in it. Returns 0, or -1 on failure. */
int fixture_teardown(void);

/* Writes text to path, replacing the file; fails the test on error. */
void fixture_write_file(const char *path, const char *text);

/* The path of name in the temporary folder. The result is freshly allocated; the caller
 * frees it. */
char *fixture_path(const char *name);

/* tmpl with "@:", "$T" and "$P" replaced (see above). The result is freshly allocated;
 * the caller frees it. */
char *fixture_expand(const char *tmpl);

/* Loads text with plugins from plugin_dir (NULL: the file's own plugin_dir), which must
 * load without errors; fails the test otherwise. The caller frees the configuration. */
kpid_config *fixture_expect_ok_with(const char *text, const char *plugin_dir);

/* fixture_expect_ok_with() with the fixture's plugin folder. */
kpid_config *fixture_expect_ok(const char *text);

/* Loads text, which must fail with -EINVAL, leave the configuration unwritten and report
 * exactly the errors of tmpl (expanded by fixture_expand); fails the test otherwise. */
void fixture_expect_errors(const char *text, const char *tmpl);

/* fixture_expect_errors() with plugins from plugin_dir (NULL: the file's own plugin_dir). */
void fixture_expect_errors_with(const char *text, const char *plugin_dir, const char *tmpl);

/* Loads text, which must fail with -EINVAL, leave the configuration unwritten and report
 * errors (any); fails the test otherwise. */
void fixture_expect_invalid(const char *text);

#endif
