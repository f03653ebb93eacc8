/*
 * run(): one thread, one epoll set. Each turn accepts connections, reads what senders
 * sent (every message into the batch being filled), submits that batch without waiting
 * (the writer commits it at once when idle, or with the next group while a commit is in
 * flight), and sends the ACKs whose batches committed() reported.
 *
 * Back-pressure: when the queue has no room (batch_try_submit returns -EAGAIN) or the
 * batch holds batch_max_messages, the loop stops reading every socket (TCP then pushes
 * back on the senders) and keeps serving ACKs until wait_room() says there is room. It
 * never drops a message it read: what it read is in the batch.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hl7_source.h"
#include "time/clock.h"

#define EVENTS 256
#define SWEEP_US 1000000
#define EXPIRE_US (60 * INT64_C(1000000))

/*
 * Stops or resumes reading every connection. The time not read is the source's, not the
 * senders': on resuming, idle_timeout and read_timeout count again from now (a sender
 * whose message waits unread is neither idle nor slow; hl7_conn_sweep is not run while
 * paused).
 */
static void set_paused(hl7_source *s, bool paused)
{
    int64_t now = kpid_now_us();

    if (s->paused == paused)
        return;
    s->paused = paused;
    /* Under sustained back-pressure the loop pauses and resumes many times a second:
     * a pause is told at most once a minute, with how many there were meanwhile. */
    if (paused) {
        s->pauses++;
        if (now - s->pause_logged_us >= 60 * INT64_C(1000000)) {
            s->host->log(s->src, KPID_LOG_NOTICE,
                         "queue full: not reading from senders until there is room "
                         "pauses=%" PRIu64,
                         s->pauses);
            s->pause_logged_us = now;
            s->pauses = 0;
        }
    } else
        s->host->log(s->src, KPID_LOG_DEBUG, "room in the queue: reading from senders again");
    for (hl7_conn *c = s->conns; c; c = c->next) {
        if (!paused) {
            c->last_read_us = now;
            if (c->frame_start_us)
                c->frame_start_us = now;
        }
        hl7_conn_set_reading(s, c, c->reading);
    }
}

/* Takes the batch ids committed() reported; advances committed_upto; sends ACKs. */
static void take_commits(hl7_source *s)
{
    uint64_t ids[256];
    size_t n;
    bool any = false;

    do {
        pthread_mutex_lock(&s->commit_lock);
        n = s->ring_n < 256 ? s->ring_n : 256;
        if (n > 0) { /* ring is NULL before the first commit: no memcpy from NULL */
            memcpy(ids, s->ring, n * sizeof(*ids));
            memmove(s->ring, s->ring + n, (s->ring_n - n) * sizeof(*ids));
            s->ring_n -= n;
        }
        pthread_mutex_unlock(&s->commit_lock);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < s->n_inflight; j++)
                if (s->inflight[j].host_id == ids[i]) {
                    s->inflight[j] = s->inflight[--s->n_inflight];
                    any = true;
                    break;
                }
    } while (n == 256);
    if (!any)
        return;
    /* Every local batch below the oldest still in flight is committed. */
    uint64_t upto = s->batch ? s->batch_local - 1 : s->batch_local;
    for (size_t j = 0; j < s->n_inflight; j++)
        if (s->inflight[j].local - 1 < upto)
            upto = s->inflight[j].local - 1;
    s->committed_upto = upto;
    hl7_conn *next;
    for (hl7_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->head < c->n)
            hl7_conn_flush(s, c);
    }
}

/* Submits the batch being filled, if any; 0, or a negative errno that ends run(). */
static int submit(hl7_source *s)
{
    uint64_t id = 0;
    int r;

    if (!s->batch)
        return 0;
    if (s->n_inflight == s->cap_inflight) {
        hl7_inflight *v = kpid_array_grow(s->inflight, &s->cap_inflight, sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->inflight = v;
    }
    r = s->host->batch_try_submit(s->batch, NULL, &id);
    if (r == -EAGAIN) {
        set_paused(s, true);
        return 0;
    }
    s->batch = NULL;
    if (r < 0)
        return r;
    s->inflight[s->n_inflight++] = (hl7_inflight){.host_id = id, .local = s->batch_local};
    set_paused(s, false);
    return 0;
}

static int wake_add(hl7_source *s)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->wakefd};

    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) < 0)
        return -errno;
    for (size_t i = 0; i < s->n_listeners; i++) {
        struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s->listeners[i]};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listeners[i].fd, &lev) < 0)
            return -errno;
    }
    return 0;
}

static void handle(hl7_source *s, const struct epoll_event *ev)
{
    void *p = ev->data.ptr;

    if (p == &s->wakefd) {
        uint64_t v;
        ssize_t n = read(s->wakefd, &v, sizeof(v));
        (void)n;
        return;
    }
    for (size_t i = 0; i < s->n_listeners; i++)
        if (p == &s->listeners[i]) {
            hl7_conn_accept(s, s->listeners[i].fd);
            return;
        }
    hl7_conn_event(s, p, ev->events);
}

int hl7_run(void *state)
{
    hl7_source *s = state;
    struct epoll_event evs[EVENTS];
    int64_t next_sweep = kpid_now_us() + SWEEP_US;
    bool again = false; /* decrypted bytes wait in OpenSSL: no sleep in epoll_wait */
    int r;

    if ((r = hl7_dedup_load(s)) < 0 || (r = wake_add(s)) < 0)
        return r;
    s->next_expiry_us = kpid_now_us(); /* the first turn trims what was loaded */
    while (!s->host->stop_requested(s->src)) {
        int n = epoll_wait(s->epfd, evs, EVENTS, again ? 0 : s->paused ? 20 : 500);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++)
            handle(s, &evs[i]);
        again = hl7_conn_tls_more(s);
        take_commits(s);
        int64_t now = kpid_now_us();
        if (now >= s->next_expiry_us) {
            s->next_expiry_us = now + EXPIRE_US;
            if ((r = hl7_dedup_expire(s, kpid_wall_now_us())) < 0)
                return r;
        }
        if (now >= next_sweep && !s->paused) {
            next_sweep = now + SWEEP_US;
            hl7_conn_sweep(s, now);
        }
        if (s->paused && s->batch && s->host->wait_room(s->src, s->batch, 0) != 0 &&
            !s->host->stop_requested(s->src)) {
            hl7_conn_bury(s);
            continue;
        }
        if ((r = submit(s)) < 0)
            return r == -ECANCELED ? 0 : r;
        if (s->batch && s->batch_messages >= (size_t)s->cfg->batch_max_messages)
            set_paused(s, true);
        hl7_conn_bury(s);
    }
    return 0;
}
