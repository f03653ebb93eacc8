/* Text made fit for a log value (see logtext.h). */
#include "text/logtext.h"

char *kpid_log_text(const char *text, char *out, size_t out_size)
{
    size_t n = 0;

    if (out_size == 0)
        return out;
    for (const char *p = text ? text : ""; *p && *p != '\n' && *p != '\r' && n + 3 < out_size;
         p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            out[n++] = '\\';
        out[n++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    out[n] = '\0';
    return out;
}
