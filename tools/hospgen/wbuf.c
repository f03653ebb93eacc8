#include "wbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int hg_wbuf_open(struct hg_wbuf *wb, const char *path)
{
    memset(wb, 0, sizeof(*wb));
    wb->buf = malloc(HG_WBUF_SIZE);
    if (!wb->buf)
        return -ENOMEM;
    wb->f = fopen(path, "wb");
    if (!wb->f) {
        int r = -errno;
        free(wb->buf);
        wb->buf = NULL;
        return r;
    }
    /* Our own buffer does the batching; stdio's would only copy again. */
    setvbuf(wb->f, NULL, _IONBF, 0);
    return 0;
}

void hg_wbuf_flush(struct hg_wbuf *wb)
{
    if (wb->len && fwrite(wb->buf, 1, wb->len, wb->f) != wb->len && !wb->err)
        wb->err = errno ? -errno : -EIO;
    wb->len = 0;
}

void hg_wbuf_put(struct hg_wbuf *wb, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        size_t room = HG_WBUF_SIZE - wb->len;
        if (room == 0) {
            hg_wbuf_flush(wb);
            room = HG_WBUF_SIZE;
        }
        size_t k = n < room ? n : room;
        memcpy(wb->buf + wb->len, s, k);
        wb->len += k;
        s += k;
        n -= k;
    }
}

int hg_wbuf_close(struct hg_wbuf *wb)
{
    int r;

    if (!wb->f)
        return wb->err;
    hg_wbuf_flush(wb);
    if (fclose(wb->f) != 0 && !wb->err)
        wb->err = -errno;
    wb->f = NULL;
    free(wb->buf);
    wb->buf = NULL;
    r = wb->err;
    return r;
}
