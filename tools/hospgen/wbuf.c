#include "wbuf.h"

#include <errno.h>
#include <string.h>

int hg_wbuf_open(struct hg_wbuf *wb, const char *path)
{
    memset(wb, 0, sizeof(*wb));
    if (kpid_buf_reserve(&wb->b, HG_WBUF_SIZE) < 0)
        return -ENOMEM;
    wb->f = fopen(path, "wb");
    if (!wb->f) {
        int r = -errno;
        kpid_buf_free(&wb->b);
        return r;
    }
    /* Our own buffer does the batching; stdio's would only copy again. */
    setvbuf(wb->f, NULL, _IONBF, 0);
    return 0;
}

void hg_wbuf_flush(struct hg_wbuf *wb)
{
    if (wb->b.len && fwrite(wb->b.data, 1, wb->b.len, wb->f) != wb->b.len && !wb->err)
        wb->err = errno ? -errno : -EIO;
    wb->b.len = 0;
}

void hg_wbuf_put(struct hg_wbuf *wb, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        size_t room = HG_WBUF_SIZE - wb->b.len;
        if (room == 0) {
            hg_wbuf_flush(wb);
            room = HG_WBUF_SIZE;
        }
        size_t k = n < room ? n : room;
        /* Within the room reserved at open: never grows, never fails. */
        (void)kpid_buf_append(&wb->b, s, k);
        s += k;
        n -= k;
    }
}

int hg_wbuf_close(struct hg_wbuf *wb)
{
    if (!wb->f)
        return wb->err;
    hg_wbuf_flush(wb);
    if (fclose(wb->f) != 0 && !wb->err)
        wb->err = -errno;
    wb->f = NULL;
    kpid_buf_free(&wb->b);
    return wb->err;
}
