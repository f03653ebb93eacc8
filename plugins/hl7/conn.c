/*
 * One sender's connection: bytes read into the MLLP framer, each frame handed to
 * message.c, and the ACKs written back in the order the messages came, each once the
 * batch it waits for is committed. A connection that stays silent past idle_timeout, or
 * stops in the middle of a frame for read_timeout, is closed: a partial frame is never
 * passed on. A connection owed more than OWED_MAX bytes of ACKs is not read until it
 * takes them (choked), and closed when it has taken none for idle_timeout.
 *
 * With TLS (tls_io.c) the bytes go through the connection's SSL object instead of recv
 * and send, and the framing beneath is the same. The handshake comes first, bounded by
 * read_timeout like a frame; a connection whose handshake fails is closed alone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hl7_source.h"
#include "time/clock.h"

#define READ_CHUNK 65536
#define ALLOW_LOG_US (60 * INT64_C(1000000))
/* A connection owed more ACK bytes than this is not read until it owes half as much: a
 * sender that sends without reading its ACKs cannot make them fill the memory. */
#define OWED_MAX (1024 * 1024)
/* Reads per readable event while OpenSSL holds decrypted bytes (one record is at most
 * 16 KiB, READ_CHUNK takes it whole: a second read is rare, a fifth never needed). */
#define TLS_READS 4

static bool may_read(const hl7_source *s, const hl7_conn *c)
{
    return c->reading && !c->choked && !s->paused;
}

/*
 * EPOLLRDHUP only with EPOLLIN: a half-closed socket reports it for as long as it stays
 * open, so a connection that is not read (the peer closed its side while its ACK waits
 * for a commit, or the source is paused) would wake the loop at once on every turn.
 * EPOLLHUP and EPOLLERR still tell when such a connection is gone.
 *
 * TLS adds the other direction where an SSL call waits for it: EPOLLIN for a write that
 * must read first, EPOLLOUT for a read (or the handshake) that must write first, the
 * latter only while the connection may be read (else the loop would wake at once on
 * every turn for a read it does not make).
 */
static uint32_t wanted_events(const hl7_source *s, const hl7_conn *c)
{
    bool rd = may_read(s, c);

    return (rd ? EPOLLIN | EPOLLRDHUP : 0) | (c->tls_write_wants_read ? EPOLLIN : 0) |
           (c->writing || (rd && c->tls_read_wants_write) ? EPOLLOUT : 0);
}

/* Registers the interest of c, when it changed. */
static void update_events(hl7_source *s, hl7_conn *c)
{
    struct epoll_event ev = {.events = wanted_events(s, c), .data.ptr = c};

    if (c->dead || ev.events == c->events)
        return;
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = ev.events;
}

void hl7_conn_set_reading(hl7_source *s, hl7_conn *c, bool on)
{
    c->reading = on;
    update_events(s, c);
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, ss, sizeof(in));
        inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host));
        snprintf(out, size, "%s:%u", host, (unsigned)ntohs(in.sin_port));
    } else {
        struct sockaddr_in6 in6;
        memcpy(&in6, ss, sizeof(in6));
        inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host));
        snprintf(out, size, "[%s]:%u", host, (unsigned)ntohs(in6.sin6_port));
    }
}

/*
 * Logs a refusal by the allow-list at most once a minute, with the number refused since
 * the last line: a sender that reconnects in a loop must not flood the log.
 */
static void refused_by_allow(hl7_source *s, const char *peer)
{
    int64_t now = kpid_now_us();

    s->refused_allow++;
    if (s->allow_logged_us && now - s->allow_logged_us < ALLOW_LOG_US)
        return;
    s->host->log(s->src, KPID_LOG_WARNING,
                 "connection refused peer=%s: not in allow refused=%" PRIu64
                 " (logged at most once a minute)",
                 peer, s->refused_allow);
    s->allow_logged_us = now;
    s->refused_allow = 0;
}

void hl7_conn_accept(hl7_source *s, int listen_fd)
{
    /* A bounded number per wake, so that one busy listener does not starve the rest. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer = {0};
        socklen_t len = sizeof(peer);
        int fd = accept4(listen_fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        char name[64];
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* The connection stays in the backlog; the listeners are watched again when a
             * connection closes, or at the next sweep. Said once, and once the backlog is
             * served (EAGAIN), however often a freed descriptor lets one more in between. */
            if (!s->fd_short)
                s->host->log(s->src, KPID_LOG_WARNING,
                             "out of file descriptors (%s): not accepting connections until "
                             "some are free",
                             strerror(errno));
            s->fd_short = true;
            hl7_listen_watch(s, /* on= */ false);
            return;
        }
        if (fd < 0) {
            if (s->fd_short && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                s->host->log(s->src, KPID_LOG_NOTICE, "accepting connections again");
                s->fd_short = false;
            }
            return; /* EAGAIN, or a connection already gone: nothing to do */
        }
        peer_name(&peer, name, sizeof(name));
        if (!hl7_allowed(s, &peer)) {
            refused_by_allow(s, name);
            close(fd);
            continue;
        }
        if (s->n_conns >= (size_t)s->cfg->max_connections) {
            /* Said once when the limit is reached, and once when it no longer is. */
            if (!s->refused_full++)
                s->host->log(s->src, KPID_LOG_WARNING,
                             "connection refused peer=%s: max_connections=%lld reached, "
                             "refusing connections until one closes",
                             name, (long long)s->cfg->max_connections);
            close(fd);
            continue;
        }
        if (s->refused_full) {
            s->host->log(s->src, KPID_LOG_NOTICE, "accepting connections again refused=%" PRIu64,
                         s->refused_full);
            s->refused_full = 0;
        }
        hl7_conn *c = calloc(1, sizeof(*c));
        struct epoll_event ev = {0};
        if (!c || kpid_mllp_framer_init(&c->framer, (size_t)s->cfg->max_message_bytes) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        if (s->tls && hl7_tls_conn_new(s, c) < 0) {
            kpid_mllp_framer_free(&c->framer);
            free(c);
            close(fd);
            continue;
        }
        /* An ACK is one small write that the sender waits for: without this, Nagle holds
         * it until the sender's next segment (up to its delayed-ACK time). */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->id = ++s->next_conn_id;
        c->reading = true;
        c->last_read_us = kpid_now_us();
        if (c->ssl) /* read_timeout bounds the handshake as it bounds a frame */
            c->frame_start_us = c->last_read_us;
        memcpy(c->peer, name, sizeof(c->peer));
        ev.data.ptr = c;
        ev.events = c->events = wanted_events(s, c);
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            hl7_tls_close(c);
            kpid_mllp_framer_free(&c->framer);
            free(c);
            close(fd);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        s->host->gauge_set(s->m_connections, (double)s->n_conns);
        s->host->log(s->src, KPID_LOG_DEBUG, "connection opened peer=%s", c->peer);
    }
}

void hl7_conn_close(hl7_source *s, hl7_conn *c, const char *why)
{
    size_t waiting = c->n - c->head;

    if (c->dead)
        return;
    s->host->log(s->src, waiting ? KPID_LOG_NOTICE : KPID_LOG_DEBUG,
                 "connection closed peer=%s reason=\"%s\" acks_not_sent=%zu", c->peer, why,
                 waiting);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    hl7_tls_close(c);
    close(c->fd);
    c->fd = -1;
    c->dead = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    s->host->gauge_set(s->m_connections, (double)s->n_conns);
    if (s->fd_short) /* a descriptor is free: try the backlog again */
        hl7_listen_watch(s, /* on= */ true);
    /* Events of this loop turn may still name it: freed at the turn's end. */
    c->prev = NULL;
    c->next = s->graveyard;
    s->graveyard = c;
}

static void conn_free(hl7_conn *c)
{
    for (size_t i = c->head; i < c->n; i++)
        kpid_buf_free(&c->acks[i].bytes);
    free(c->acks);
    kpid_buf_free(&c->out);
    kpid_mllp_framer_free(&c->framer);
    free(c);
}

void hl7_conn_bury(hl7_source *s)
{
    while (s->graveyard) {
        hl7_conn *c = s->graveyard;
        s->graveyard = c->next;
        conn_free(c);
    }
}

int hl7_conn_queue_ack(hl7_conn *c, uint64_t batch, const kpid_buf *ack)
{
    if (c->head > 0 && c->head == c->n)
        c->head = c->n = 0;
    if (c->n == c->cap) {
        if (c->head > 0) { /* slide the waiting ones to the front */
            memmove(c->acks, c->acks + c->head, (c->n - c->head) * sizeof(*c->acks));
            c->n -= c->head;
            c->head = 0;
        } else {
            hl7_ack *v = kpid_array_grow(c->acks, &c->cap, sizeof(*v));
            if (!v)
                return -ENOMEM;
            c->acks = v;
        }
    }
    hl7_ack *a = &c->acks[c->n];
    *a = (hl7_ack){.batch = batch};
    if (kpid_mllp_encode(ack->data, ack->len, &a->bytes) < 0) {
        kpid_buf_free(&a->bytes);
        return -ENOMEM;
    }
    c->n++;
    c->owed += a->bytes.len;
    return 0;
}

/* Moves the ACKs whose batch is committed, from the head on, to the output, and writes. */
void hl7_conn_flush(hl7_source *s, hl7_conn *c)
{
    /* Nothing was waiting to be written: the wait for the sender to read begins now. */
    if (c->out_done == c->out.len)
        c->last_write_us = kpid_now_us();
    /* The written part is dropped before out grows, or it would only ever grow. */
    if (c->out_done > 0 && c->out_done >= c->out.len / 2) {
        memmove(c->out.data, c->out.data + c->out_done, c->out.len - c->out_done);
        c->out.len -= c->out_done;
        c->out_done = 0;
    }
    while (c->head < c->n && c->acks[c->head].batch <= s->committed_upto) {
        hl7_ack *a = &c->acks[c->head];
        if (kpid_buf_append(&c->out, a->bytes.data, a->bytes.len) < 0)
            break; /* tried again at the next flush */
        kpid_buf_free(&a->bytes);
        c->head++;
    }
    hl7_conn_writable(s, c);
}

/* Sends from buf: the bytes sent, -EAGAIN, or another negative errno. */
static ssize_t conn_send(hl7_source *s, hl7_conn *c, const char *buf, size_t len)
{
    ssize_t n;

    if (c->ssl)
        return hl7_tls_write(s, c, buf, len);
    n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    return n;
}

/* Receives into buf: the bytes received, 0 at the peer's end, -EAGAIN, or another
 * negative errno. */
static ssize_t conn_recv(hl7_source *s, hl7_conn *c, char *buf, size_t len)
{
    ssize_t n;

    if (c->ssl)
        return hl7_tls_read(s, c, buf, len);
    n = recv(c->fd, buf, len, MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    return n;
}

void hl7_conn_writable(hl7_source *s, hl7_conn *c)
{
    while (c->out_done < c->out.len && !c->handshaking) {
        ssize_t n = conn_send(s, c, c->out.data + c->out_done, c->out.len - c->out_done);
        if (n == -EAGAIN)
            break;
        if (n <= 0) {
            hl7_conn_close(s, c, "write failed");
            return;
        }
        c->out_done += (size_t)n;
        c->owed -= (size_t)n;
        c->last_write_us = kpid_now_us();
    }
    if (c->out_done == c->out.len) {
        c->out.len = c->out_done = 0;
        if (c->closing && c->head == c->n) {
            hl7_conn_close(s, c, "closed by peer");
            return;
        }
    }
    bool choke = c->owed > (c->choked ? OWED_MAX / 2 : OWED_MAX);
    if (c->choked && !choke && c->frame_start_us)
        c->frame_start_us = kpid_now_us(); /* the time not read is not the sender's */
    c->writing = c->out_done < c->out.len;
    c->choked = choke;
    update_events(s, c);
}

/* The peer ended its side (n == 0 from a read). */
static void peer_closed(hl7_source *s, hl7_conn *c)
{
    if (kpid_mllp_framer_in_frame(&c->framer))
        s->host->log(s->src, KPID_LOG_WARNING,
                     "connection closed in the middle of a message peer=%s: "
                     "the partial message is dropped",
                     c->peer);
    /* Dropped now, so that read_timeout cannot cut the ACKs it still owes. */
    kpid_mllp_framer_reset(&c->framer);
    c->frame_start_us = 0;
    /* The peer sends no more; it may still read the ACKs it waits for. */
    c->closing = true;
    c->reading = false;
    shutdown(c->fd, SHUT_RD);
    update_events(s, c);
    if (c->head == c->n && c->out.len == 0)
        hl7_conn_close(s, c, "closed by peer");
}

/* Feeds n bytes read to the framer and each whole frame to message.c. Returns false when
 * c was closed. */
static bool take(hl7_source *s, hl7_conn *c, const char *chunk, size_t n)
{
    int64_t now = kpid_now_us();
    uint64_t skipped = c->framer.stats.skipped_bytes;
    bool ended = false; /* a frame ended in this read */

    for (size_t off = 0; off < n;) {
        kpid_mllp_frame f;
        size_t used = 0;
        int r = kpid_mllp_framer_feed(&c->framer, chunk + off, n - off, &used, &f);
        off += used;
        if (r < 0) {
            hl7_conn_close(s, c, "framing failed");
            return false;
        }
        if (r == KPID_MLLP_NEED_MORE)
            break;
        ended = true;
        if (hl7_message(s, c, r, f.data, f.len) < 0) {
            hl7_conn_close(s, c, "out of memory");
            return false;
        }
    }
    /* A frame that is still open after a frame ended began in this read: read_timeout
     * counts from here, not from the start of the one before (a sender whose reads all
     * end inside a frame is never between frames). A frame restarted by a 0x0B keeps
     * the time of the one it replaced: restarting cannot stretch the timeout. */
    if (!kpid_mllp_framer_in_frame(&c->framer))
        c->frame_start_us = 0;
    else if (!c->frame_start_us || ended)
        c->frame_start_us = now;
    /* Bytes outside frames are not activity: a sender that trickles garbage between
     * frames is idle, or it would hold its connection for ever. */
    if (c->framer.stats.skipped_bytes - skipped < (uint64_t)n)
        c->last_read_us = now;
    if (c->framer.stats.skipped_bytes > skipped)
        s->host->counter_add(s->m_skipped, c->framer.stats.skipped_bytes - skipped);
    return true;
}

/* Takes the TLS handshake of c a step. Returns true when it is done and c may be read. */
static bool handshake(hl7_source *s, hl7_conn *c)
{
    int r = hl7_tls_handshake(s, c);

    if (r < 0) {
        hl7_conn_close(
            s, c, r == -ECONNRESET ? "closed before the TLS handshake" : "TLS handshake failed");
        return false;
    }
    if (r == 0) {
        update_events(s, c);
        return false;
    }
    c->frame_start_us = 0; /* from now on read_timeout counts per frame */
    return true;
}

/*
 * Reads what c sent: one read, and with TLS more while OpenSSL holds decrypted bytes that
 * epoll cannot see (at most TLS_READS reads; a connection left with some is marked
 * tls_more, and the loop comes back to it).
 */
void hl7_conn_readable(hl7_source *s, hl7_conn *c)
{
    char chunk[READ_CHUNK];

    c->tls_more = false;
    if (c->handshaking && !handshake(s, c))
        return;
    for (int i = 0; i < TLS_READS; i++) {
        ssize_t n = conn_recv(s, c, chunk, sizeof(chunk));
        if (n == -EAGAIN) {
            update_events(s, c); /* a TLS read may wait for EPOLLOUT */
            break;
        }
        if (n < 0) {
            hl7_conn_close(s, c, "read failed");
            return;
        }
        if (n == 0) {
            peer_closed(s, c);
            return;
        }
        if (!take(s, c, chunk, (size_t)n))
            return;
        if (!hl7_tls_pending(c))
            break;
        if (i + 1 == TLS_READS)
            c->tls_more = s->tls_more = true;
    }
    hl7_conn_flush(s, c);
}

bool hl7_conn_tls_more(hl7_source *s)
{
    hl7_conn *next;
    bool again = false;

    if (!s->tls_more)
        return false;
    s->tls_more = false;
    for (hl7_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (!c->tls_more)
            continue;
        if (may_read(s, c))
            hl7_conn_readable(s, c); /* marks it again if it must */
        else
            s->tls_more = true; /* for when it may be read again: a later turn */
        again = again || (!c->dead && c->tls_more && may_read(s, c));
    }
    return again;
}

void hl7_conn_event(hl7_source *s, hl7_conn *c, uint32_t events)
{
    bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);

    if (c->dead)
        return;
    if (in && may_read(s, c))
        hl7_conn_readable(s, c); /* writes too, at its end */
    else if (in && c->tls_write_wants_read)
        hl7_conn_writable(s, c);
    else if (events & (EPOLLHUP | EPOLLERR))
        hl7_conn_close(s, c, "connection lost");
    else if ((events & EPOLLOUT) && c->tls_read_wants_write && may_read(s, c))
        hl7_conn_readable(s, c);
    else if (events & EPOLLOUT)
        hl7_conn_writable(s, c);
}

/* Closes connections idle past idle_timeout, in one frame for longer than read_timeout
 * (a sender that stalls, or trickles a byte at a time), or that take no ACK for
 * idle_timeout (a sender that does not read them). */
void hl7_conn_sweep(hl7_source *s, int64_t now)
{
    hl7_conn *next;

    if (s->fd_short) /* descriptors may have been freed elsewhere in the process */
        hl7_listen_watch(s, /* on= */ true);
    for (hl7_conn *c = s->conns; c; c = next) {
        int64_t quiet_ms = (now - c->last_read_us) / 1000;
        next = c->next;
        /* Not while choked: the source is not reading it then, the sender is not slow. */
        if (c->handshaking && (now - c->frame_start_us) / 1000 > s->cfg->read_timeout_ms) {
            hl7_tls_failed(s, c, "TLS handshake failed", "not done within read_timeout");
            hl7_conn_close(s, c, "TLS handshake timeout");
        } else if (c->frame_start_us && !c->choked &&
                   (now - c->frame_start_us) / 1000 > s->cfg->read_timeout_ms) {
            s->host->log(s->src, KPID_LOG_WARNING,
                         "read timeout in the middle of a message peer=%s: the partial "
                         "message is dropped",
                         c->peer);
            hl7_conn_close(s, c, "read timeout");
        } else if (quiet_ms > s->cfg->idle_timeout_ms && c->head == c->n && c->out.len == 0)
            hl7_conn_close(s, c, "idle timeout");
        else if (c->out_done < c->out.len &&
                 (now - c->last_write_us) / 1000 > s->cfg->idle_timeout_ms)
            hl7_conn_close(s, c, "ACKs not read for idle_timeout");
    }
}
