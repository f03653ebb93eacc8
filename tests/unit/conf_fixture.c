/* The configuration test fixture (conf_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf_fixture.h"

char fixture_dir[PATH_MAX];
char fixture_conf_path[PATH_MAX + 16];
static const char *fixture_plugin_dir;

int fixture_setup(const char *name, const char *plugin_dir)
{
    snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/kpid-test-%s.XXXXXX", name);
    if (!mkdtemp(fixture_dir))
        return -errno;
    snprintf(fixture_conf_path, sizeof(fixture_conf_path), "%s/test.conf", fixture_dir);
    fixture_plugin_dir = plugin_dir;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int fixture_teardown(void)
{
    return nftw(fixture_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void fixture_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

char *fixture_path(const char *name)
{
    char *p;

    assert_true(asprintf(&p, "%s/%s", fixture_dir, name) > 0);
    return p;
}

char *fixture_expand(const char *tmpl)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);

    assert_non_null(f);
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '@' && p[1] == ':')
            fputs(fixture_conf_path, f);
        else if (p[0] == '$' && p[1] == 'T') {
            fputs(fixture_dir, f);
            p++;
        } else if (p[0] == '$' && p[1] == 'P' && fixture_plugin_dir) {
            fputs(fixture_plugin_dir, f);
            p++;
        } else
            fputc(*p, f);
    }
    assert_int_equal(fclose(f), 0);
    return out;
}

/* Writes text to the configuration file and loads it with plugins from plugin_dir. */
static int load_with(const char *text, const char *plugin_dir, kpid_config **ret_config,
                     char **ret_errors)
{
    fixture_write_file(fixture_conf_path, text);
    return kpid_config_load(fixture_conf_path, plugin_dir, ret_config, ret_errors);
}

/* load_with() with the fixture's plugin folder. */
static int load(const char *text, kpid_config **ret_config, char **ret_errors)
{
    return load_with(text, fixture_plugin_dir, ret_config, ret_errors);
}

kpid_config *fixture_expect_ok_with(const char *text, const char *plugin_dir)
{
    kpid_config *cfg = NULL;
    char *errors = NULL;
    int r = load_with(text, plugin_dir, &cfg, &errors);

    if (r != 0) /* not print_error: it cuts long texts */
        fprintf(stderr, "unexpected errors (%d):\n%s", r, errors ? errors : "(none)");
    assert_int_equal(r, 0);
    assert_null(errors);
    assert_non_null(cfg);
    return cfg;
}

kpid_config *fixture_expect_ok(const char *text)
{
    return fixture_expect_ok_with(text, fixture_plugin_dir);
}

void fixture_expect_invalid(const char *text)
{
    kpid_config sentinel, *cfg = &sentinel;
    char *errors = NULL;
    int r = load(text, &cfg, &errors);

    if (r != -EINVAL)
        fprintf(stderr, "text:\n%s\ngot %d:\n%s", text, r, errors ? errors : "(none)");
    assert_int_equal(r, -EINVAL);
    assert_ptr_equal(cfg, &sentinel); /* not written on failure */
    assert_non_null(errors);
    free(errors);
}

void fixture_expect_errors(const char *text, const char *tmpl)
{
    fixture_expect_errors_with(text, fixture_plugin_dir, tmpl);
}

void fixture_expect_errors_with(const char *text, const char *plugin_dir, const char *tmpl)
{
    kpid_config sentinel, *cfg = &sentinel;
    char *errors = NULL;
    char *expected = fixture_expand(tmpl);
    int r = load_with(text, plugin_dir, &cfg, &errors);

    if (!errors || strcmp(errors, expected) != 0)
        fprintf(stderr, "got:\n%s\nexpected:\n%s", errors ? errors : "(none)", expected);
    assert_int_equal(r, -EINVAL);
    assert_ptr_equal(cfg, &sentinel); /* not written on failure */
    assert_non_null(errors);
    assert_string_equal(errors, expected);
    free(errors);
    free(expected);
}
