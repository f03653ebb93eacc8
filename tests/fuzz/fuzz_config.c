/*
 * Fuzz target of configuration loading: arbitrary bytes as kpid.conf. libconfig parses,
 * kpid validates; the result is a configuration or a list of FILE:LINE errors, never a
 * crash or a leak. Plugins are looked up in a folder that does not exist.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    kpid_config *cfg = NULL;
    char *errors = NULL;
    FILE *f;

    if (!path[0])
        snprintf(path, sizeof(path), "/tmp/kpid-fuzz-config-%d.conf", (int)getpid());
    f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if (kpid_config_load(path, "/nonexistent/kpid-plugins", &cfg, &errors) == 0) {
        if (errors)
            abort(); /* success reports no errors */
        kpid_config_free(cfg);
    } else {
        if (cfg)
            abort(); /* failure returns no configuration */
        /* Every error names the file. */
        if (errors && strncmp(errors, path, strlen(path)) != 0)
            abort();
        free(errors);
    }
    unlink(path);
    return 0;
}
