/*
 * One connection's TLS over its non-blocking socket: the handshake, plaintext in and out,
 * close_notify. conn.c calls these in place of recv and send and keeps its MLLP framing
 * unchanged: the framer sees plaintext.
 *
 * Readiness: an SSL call that cannot go on says whether it waits for the socket to be
 * readable or writable. Waiting for its own direction is the usual case (-EAGAIN, and
 * conn.c's epoll interest already covers it); waiting for the other direction sets
 * c->tls_read_wants_write or c->tls_write_wants_read, which conn.c adds to the interest.
 * Renegotiation is off (tls.c), so after the handshake only a TLS 1.3 key update can
 * make a read write.
 *
 * OpenSSL reads one record at a time, and a read returns at most what is left of one:
 * bytes it holds after SSL_read (hl7_tls_pending) are not seen by epoll, so conn.c reads
 * on while there are some.
 *
 * The socket is reached through a BIO of our own, sending with MSG_NOSIGNAL: a sender
 * that resets its connection must not raise SIGPIPE in whatever process loaded us.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "hl7_source.h"
#include "time/clock.h"

#define TLS_LOG_BURST 10
#define TLS_LOG_WINDOW_US (60 * INT64_C(1000000))
#define TLS_RECORD_HANDSHAKE 0x16
#define MLLP_START_BLOCK 0x0b

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#define SSL_get1_peer_certificate SSL_get_peer_certificate
#endif
#ifndef BIO_FLAGS_IN_EOF
#define BIO_FLAGS_IN_EOF 0x800
#endif

/* The BIO's data is the connection's fd (a pointer to c->fd, which outlives c->ssl). */
static int bio_write(BIO *b, const char *data, int len)
{
    const int *fd = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    n = send(*fd, data, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *data, int len)
{
    const int *fd = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    n = recv(*fd, data, (size_t)len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    else if (n == 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* OpenSSL asks BIO_eof to tell an end */
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num, (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; /* nothing is buffered here */
    case BIO_CTRL_EOF: return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    default: return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

int hl7_tls_bio_setup(struct bio_method_st *m)
{
    if (BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
        BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1)
        return -ENOMEM;
    return 0;
}

int hl7_tls_conn_new(hl7_source *s, hl7_conn *c)
{
    SSL *ssl = SSL_new(s->tls);
    BIO *bio = ssl ? BIO_new(s->tls_bio) : NULL;

    if (!bio) {
        SSL_free(ssl);
        ERR_clear_error();
        return -ENOMEM;
    }
    BIO_set_data(bio, &c->fd);
    SSL_set_bio(ssl, bio, bio); /* the SSL owns the BIO */
    SSL_set_accept_state(ssl);
    c->ssl = ssl;
    c->handshaking = true;
    return 0;
}

void hl7_tls_failed(hl7_source *s, const hl7_conn *c, const char *why, const char *detail)
{
    int64_t now = kpid_now_us();

    s->host->counter_add(s->m_tls_failed, 1);
    if (!s->tls_log_window_us || now - s->tls_log_window_us >= TLS_LOG_WINDOW_US) {
        s->tls_log_window_us = now;
        s->tls_logged = 0;
    }
    if (s->tls_logged >= TLS_LOG_BURST) {
        s->tls_unlogged++;
        return;
    }
    s->tls_logged++;
    if (s->tls_unlogged)
        s->host->log(s->src, KPID_LOG_NOTICE,
                     "%s peer=%s reason=\"%s\" not_logged=%" PRIu64
                     " (at most %d such lines a minute)",
                     why, c->peer, detail, s->tls_unlogged, TLS_LOG_BURST);
    else
        s->host->log(s->src, KPID_LOG_NOTICE, "%s peer=%s reason=\"%s\"", why, c->peer, detail);
    s->tls_unlogged = 0;
}

/* Why the handshake failed, into buf: OpenSSL's reason, and the certificate's fault. */
static void describe_failure(const hl7_conn *c, int err, int saved_errno, char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    long verify = SSL_get_verify_result(c->ssl);

    if (err == SSL_ERROR_SYSCALL && !e)
        snprintf(buf, size, "%s",
                 saved_errno ? strerror(saved_errno) : "connection closed during the handshake");
    else if (err == SSL_ERROR_ZERO_RETURN)
        snprintf(buf, size, "connection closed during the handshake");
    else if (verify != X509_V_OK)
        snprintf(buf, size, "%s: %s", reason ? reason : "certificate verify failed",
                 X509_verify_cert_error_string(verify));
    else
        snprintf(buf, size, "%s", reason ? reason : "TLS protocol error");
    ERR_clear_error();
}

/* Copies a certificate subject for a log line: no quotes, no controls. */
static void subject_of(SSL *ssl, char *buf, size_t size)
{
    X509 *peer = SSL_get1_peer_certificate(ssl);

    snprintf(buf, size, "none");
    if (!peer)
        return;
    X509_NAME_oneline(X509_get_subject_name(peer), buf, (int)size);
    X509_free(peer);
    for (char *p = buf; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
}

/*
 * Looks at the first byte before OpenSSL does: a connection closed before sending one (a
 * TCP health check) is not a failure worth a line, and a plain-text MLLP sender gets a
 * reason that says so. Returns 1 when a TLS handshake begins, 0 to wait, or a negative
 * errno.
 */
static int peek_first(hl7_source *s, hl7_conn *c)
{
    unsigned char b = 0;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
    if (n == 0)
        return -ECONNRESET;
    if (b != TLS_RECORD_HANDSHAKE) {
        hl7_tls_failed(s, c, "TLS handshake failed",
                       b == MLLP_START_BLOCK ? "not TLS: plain-text MLLP on a TLS port"
                                             : "not TLS: the first byte is no TLS record");
        return -EPROTO;
    }
    c->tls_peeked = true;
    return 1;
}

int hl7_tls_handshake(hl7_source *s, hl7_conn *c)
{
    char why[256];
    int r, err, saved_errno;

    if (!c->tls_peeked && (r = peek_first(s, c)) <= 0)
        return r;
    ERR_clear_error();
    errno = 0;
    c->tls_read_wants_write = false;
    r = SSL_do_handshake(c->ssl);
    saved_errno = errno;
    if (r == 1) {
        char subject[256];
        subject_of(c->ssl, subject, sizeof(subject));
        c->handshaking = false;
        s->host->log(s->src, KPID_LOG_DEBUG,
                     "TLS established peer=%s version=%s cipher=%s client=\"%s\"", c->peer,
                     SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), subject);
        return 1;
    }
    err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ)
        return 0;
    if (err == SSL_ERROR_WANT_WRITE) {
        c->tls_read_wants_write = true;
        return 0;
    }
    c->tls_broken = true;
    describe_failure(c, err, saved_errno, why, sizeof(why));
    hl7_tls_failed(s, c, "TLS handshake failed", why);
    return -EPROTO;
}

/*
 * What an SSL_read or SSL_write that returned r <= 0 means, as hl7_source.h says; sets
 * the flag for a wait on the other direction (*other).
 */
static ssize_t io_end(hl7_source *s, hl7_conn *c, int r, int saved_errno, int other_want,
                      bool *other)
{
    int err = SSL_get_error(c->ssl, r);
    unsigned long e;

    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        *other = err == other_want;
        return -EAGAIN;
    }
    if (err == SSL_ERROR_ZERO_RETURN)
        return 0; /* close_notify (or, with SSL_OP_IGNORE_UNEXPECTED_EOF, a FIN) */
    c->tls_broken = true;
    if (err == SSL_ERROR_SYSCALL && !ERR_peek_error())
        return saved_errno ? -saved_errno : -EIO;
    e = ERR_get_error();
    hl7_tls_failed(s, c, "TLS error",
                   e && ERR_reason_error_string(e) ? ERR_reason_error_string(e)
                                                   : "TLS protocol error");
    ERR_clear_error();
    return -EPROTO;
}

ssize_t hl7_tls_read(hl7_source *s, hl7_conn *c, void *buf, size_t len)
{
    int r;

    ERR_clear_error();
    errno = 0;
    c->tls_read_wants_write = false;
    r = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    return r > 0 ? r : io_end(s, c, r, errno, SSL_ERROR_WANT_WRITE, &c->tls_read_wants_write);
}

ssize_t hl7_tls_write(hl7_source *s, hl7_conn *c, const void *buf, size_t len)
{
    int r;

    ERR_clear_error();
    errno = 0;
    c->tls_write_wants_read = false;
    r = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    return r > 0 ? r : io_end(s, c, r, errno, SSL_ERROR_WANT_READ, &c->tls_write_wants_read);
}

bool hl7_tls_pending(const hl7_conn *c)
{
    return c->ssl && SSL_has_pending(c->ssl);
}

void hl7_tls_close(hl7_conn *c)
{
    if (!c->ssl)
        return;
    /* One try: close_notify goes out if the socket takes it; the peer's is not awaited.
     * Not after a fatal error, nor before the handshake is done (OpenSSL refuses). */
    ERR_clear_error();
    if (!c->tls_broken && !c->handshaking)
        (void)SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    ERR_clear_error();
    c->ssl = NULL;
}
