/* The password_file of a HIS source (see password.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pull/password.h"
#include "text/logtext.h"

char *kpid_pull_password_read(const kpid_host *host, kpid_source *src, const char *path,
                              bool *warned)
{
    char *line = NULL, shown[256];
    size_t cap = 0;
    struct stat st;
    ssize_t n;
    FILE *f = fopen(path, "re");

    if (!f) {
        int e = errno;
        host->log(src, KPID_LOG_ERR, "cannot read password_file path=\"%s\" error=\"%s\"",
                  kpid_log_text(path, shown, sizeof(shown)), strerror(e));
        return NULL;
    }
    if (!*warned && fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
        host->log(src, KPID_LOG_WARNING,
                  "password_file is readable by every user path=\"%s\" hint=\"chmod 0600 it, "
                  "owned by the user kpid runs as\"",
                  kpid_log_text(path, shown, sizeof(shown)));
        *warned = true;
    }
    n = getline(&line, &cap, f);
    fclose(f);
    if (n < 0) {
        free(line);
        return strdup("");
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}
