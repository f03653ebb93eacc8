/*
 * The hl7 source: HL7 v2 messages received over MLLP, mapped to events, acknowledged
 * only after the warehouse committed them.
 *
 *   hl7.c       the plugin: configuration keys, init, fini, committed, request_stop
 *   listen.c    listening addresses (IPv4, IPv6) and the sender allow-list
 *   conn.c      one connection: reading frames, its ACKs in order, timeouts
 *   message.c   one message: parse, deduplicate, map into the batch, its ACK
 *   dedup.c     control ids already committed (keyed source state), and their expiry
 *   loop.c      run(): the event loop, batches, commits, back-pressure
 *   tls.c       TLS (optional): the server context from the tls_* keys
 *   tls_io.c    one connection's TLS: handshake, records in and out, shutdown
 *
 * Threads: everything here belongs to the source thread (run) except the commit ring,
 * which committed() fills from the writer thread under commit_lock, and the wake
 * eventfd, which request_stop() and committed() write.
 */
#ifndef KPID_HL7_SOURCE_H
#define KPID_HL7_SOURCE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <kpid/plugin.h>

#include "buf/buf.h"
#include "hl7/hl7.h"
#include "hl7/map.h"
#include "mllp_frame.h"
#include "time/tz.h"

/* The configuration, filled by the host from the key table in hl7.c. */
struct hl7_config {
    char *listen; /* "127.0.0.1:2575, [::1]:2575" */
    char *allow;  /* "10.1.0.0/16, 127.0.0.1" or NULL: every sender */
    int64_t max_message_bytes;
    int64_t max_connections;
    int64_t idle_timeout_ms;
    int64_t read_timeout_ms;
    char *timezone;
    char *charset;
    char *subject_authority;
    char *subject_type;
    bool strict;
    int64_t dedup_window_ms;
    int64_t dedup_max_ids;
    char *rejected_raw; /* "full" or "none" */
    int64_t batch_max_messages;
    char *tls_cert; /* PEM chain; TLS is on when set */
    char *tls_key;  /* PEM private key */
    char *tls_ca;   /* PEM CA bundle for client certificates, or NULL */
    bool tls_verify_client;
    char *tls_min_version; /* "1.2" or "1.3" */
    char *tls_ciphers;     /* OpenSSL cipher list for TLS 1.2, or NULL */
};

/* OpenSSL's types, without its headers outside tls.c and tls_io.c. */
struct ssl_ctx_st;
struct ssl_st;
struct bio_method_st;

/* One listening socket. */
typedef struct hl7_listener {
    int fd;
    char *name; /* as configured */
} hl7_listener;

/* One allowed network: addr/prefix, IPv4 mapped into IPv6. */
typedef struct hl7_net {
    uint8_t addr[16];
    unsigned prefix;
} hl7_net;

/* An ACK waiting for its turn on a connection. */
typedef struct hl7_ack {
    uint64_t batch; /* the local batch number it waits for; 0: ready now */
    kpid_buf bytes; /* framed */
} hl7_ack;

typedef struct hl7_conn hl7_conn;
struct hl7_conn {
    int fd;
    uint64_t id;
    char peer[64];
    kpid_mllp_framer framer;
    hl7_ack *acks; /* FIFO: acks[head..n) wait, in the order the messages came */
    size_t head, n, cap;
    kpid_buf out;          /* framed ACKs being written */
    size_t out_done;       /* bytes of out already written */
    size_t owed;           /* bytes of the framed ACKs queued or in out, not yet written */
    int64_t last_write_us; /* when out last shrank, or began to fill */
    int64_t last_read_us;
    int64_t frame_start_us;    /* when the frame being received began, 0 between frames */
    uint64_t frames;           /* frames received, for the locators of unparsable ones */
    bool reading;              /* EPOLLIN wanted */
    bool writing;              /* EPOLLOUT wanted */
    bool choked;               /* too many ACKs not written: not reading until some are */
    bool closing;              /* peer closed its side: close once the ACKs are out */
    bool dead;                 /* closed: freed at the end of the loop's turn */
    uint32_t events;           /* the epoll interest registered for fd */
    struct ssl_st *ssl;        /* TLS, or NULL: plain MLLP */
    bool handshaking;          /* TLS: the handshake is not done */
    bool tls_peeked;           /* TLS: the first byte was seen to begin a handshake */
    bool tls_read_wants_write; /* TLS: reading (or the handshake) waits for EPOLLOUT */
    bool tls_write_wants_read; /* TLS: writing waits for EPOLLIN */
    bool tls_more;             /* TLS: decrypted bytes left unread (see hl7_conn_readable) */
    bool tls_broken;           /* TLS: a fatal error: no close_notify, only SSL_free */
    hl7_conn *prev, *next;     /* all connections */
};

/* A control id seen: committed (batch 0) or in a batch not yet committed. */
typedef struct hl7_seen {
    char *key;
    uint64_t batch;
    int64_t time_us; /* when it was received, for expiry */
    int code;        /* the kpid_hl7_ack_code it was answered with */
} hl7_seen;

typedef struct hl7_dedup {
    hl7_seen *slots; /* open addressing; key NULL: empty; key == TOMB: deleted */
    size_t cap, n, used;
    char **fifo; /* the live keys (the slots' strings) oldest first: a ring */
    size_t fifo_head, fifo_n, fifo_cap;
} hl7_dedup;

/* A submitted batch and the local number its ACKs wait for. */
typedef struct hl7_inflight {
    uint64_t host_id, local;
} hl7_inflight;

typedef struct hl7_source {
    const kpid_host *host;
    kpid_source *src;
    const struct hl7_config *cfg;
    kpid_hl7_map *map;
    kpid_tz *tz;
    kpid_hl7_map_options map_opt;
    kpid_hl7_options parse_opt;
    bool keep_raw;

    hl7_listener *listeners;
    size_t n_listeners;
    hl7_net *allow;
    size_t n_allow;

    int epfd, wakefd;
    hl7_conn *conns;
    size_t n_conns;
    hl7_conn *graveyard; /* closed this turn, freed at its end */
    uint64_t next_conn_id;
    bool paused;             /* the queue is full: not reading */
    uint64_t pauses;         /* pauses since the last one logged */
    int64_t pause_logged_us; /* when a pause was last logged (monotonic), 0: never */
    uint64_t refused_full;   /* refused at max_connections since it was reached, 0: not */
    uint64_t refused_allow;  /* refused by allow since the last such log line */
    int64_t allow_logged_us; /* when that line was logged, 0: never */
    bool fd_short;           /* out of descriptors: listeners not watched, logged once */

    struct ssl_ctx_st *tls;        /* the TLS server context, or NULL: plain MLLP */
    struct bio_method_st *tls_bio; /* sockets for OpenSSL, without SIGPIPE */
    bool tls_more;                 /* some connection has tls_more set */
    int64_t tls_log_window_us;     /* when the current minute of TLS refusals began */
    unsigned tls_logged;           /* refusals logged in that minute */
    uint64_t tls_unlogged;         /* refusals not logged since the last line */

    kpid_batch *batch;      /* being filled, or NULL */
    uint64_t batch_local;   /* its local number (counting from 1) */
    size_t batch_messages;  /* messages in it */
    hl7_inflight *inflight; /* submitted, in order */
    size_t n_inflight, cap_inflight;
    uint64_t committed_upto; /* every local batch <= this is committed */

    pthread_mutex_t commit_lock; /* guards ring */
    uint64_t *ring;              /* host batch ids committed, not yet seen by run */
    size_t ring_n, ring_cap;

    hl7_dedup seen;
    int64_t next_expiry_us;
    uint64_t ack_seq;

    kpid_hl7_mapped mapped; /* scratch */
    kpid_buf scratch;

    kpid_metric *m_messages, *m_rejected, *m_duplicates, *m_connections, *m_skipped;
    kpid_metric *m_tls_failed;
} hl7_source;

/* listen.c */
int hl7_listen_open(hl7_source *s);
void hl7_listen_close(hl7_source *s);
void hl7_listen_watch(hl7_source *s, bool on);
int hl7_allow_parse(hl7_source *s);
bool hl7_allowed(const hl7_source *s, const struct sockaddr_storage *peer);

/* conn.c */
void hl7_conn_accept(hl7_source *s, int listen_fd);
void hl7_conn_readable(hl7_source *s, hl7_conn *c);
void hl7_conn_writable(hl7_source *s, hl7_conn *c);
void hl7_conn_flush(hl7_source *s, hl7_conn *c);
void hl7_conn_close(hl7_source *s, hl7_conn *c, const char *why);
void hl7_conn_sweep(hl7_source *s, int64_t now_us);
void hl7_conn_bury(hl7_source *s);
void hl7_conn_set_reading(hl7_source *s, hl7_conn *c, bool on);
int hl7_conn_queue_ack(hl7_conn *c, uint64_t batch, const kpid_buf *ack);

/* What an epoll event of c asks: read, write, or close. */
void hl7_conn_event(hl7_source *s, hl7_conn *c, uint32_t events);
/* Reads the connections that stopped with decrypted bytes in OpenSSL (s->tls_more) and
 * may be read now. Returns true when one still has some: the loop should not sleep. */
bool hl7_conn_tls_more(hl7_source *s);

/* tls.c: the server context (s->tls) from the tls_* keys, or none when tls_cert is not
 * set. Returns 0, or a negative errno after logging which key and file failed. */
int hl7_tls_init(hl7_source *s, const struct config_setting_t *setting);
void hl7_tls_free(hl7_source *s);

/*
 * tls_io.c. hl7_tls_conn_new gives c (fd set) its SSL object in accept state: 0 or
 * -ENOMEM. hl7_tls_handshake takes the handshake one step: 1 done, 0 waiting for the
 * socket (c->tls_read_wants_write says which way), or a negative errno when it failed,
 * which it logged (hl7_tls_failed): the caller closes c, and -ECONNRESET (not
 * logged) when the peer closed before sending a byte. hl7_tls_read and hl7_tls_write
 * move plaintext: the bytes moved, 0 when the peer ended its side (read), -EAGAIN when
 * the socket is not ready (the tls_*_wants_* flags say for what), or another negative
 * errno (the connection is unusable). hl7_tls_close sends close_notify where TLS is
 * still sound (best effort, not waiting) and frees the SSL object; c->ssl is NULL after.
 */
/* Fills m, a BIO method new from BIO_meth_new, with the socket functions: 0 or -ENOMEM. */
int hl7_tls_bio_setup(struct bio_method_st *m);
int hl7_tls_conn_new(hl7_source *s, hl7_conn *c);
int hl7_tls_handshake(hl7_source *s, hl7_conn *c);
ssize_t hl7_tls_read(hl7_source *s, hl7_conn *c, void *buf, size_t len);
ssize_t hl7_tls_write(hl7_source *s, hl7_conn *c, const void *buf, size_t len);
/* True when OpenSSL holds bytes of c read from the socket and not yet returned. */
bool hl7_tls_pending(const hl7_conn *c);
/* Logs a refused or broken TLS connection at notice level, at most TLS_LOG_BURST lines a
 * minute (then the next line says how many were not logged). */
void hl7_tls_failed(hl7_source *s, const hl7_conn *c, const char *why, const char *detail);
void hl7_tls_close(hl7_conn *c);

/* loop.c */
int hl7_run(void *state);

/* message.c: handles one frame of c; returns 0 or -ENOMEM (fatal for the source). */
int hl7_message(hl7_source *s, hl7_conn *c, int kind, const char *data, size_t len);
/* The batch being filled, begun when there is none. */
int hl7_batch(hl7_source *s, kpid_batch **ret);

/* dedup.c */
int hl7_dedup_load(hl7_source *s);
/* The state value of an id: "<second> <AA|AE|AR>". */
void hl7_dedup_value(int64_t time_us, int code, char out[32]);
hl7_seen *hl7_dedup_find(hl7_dedup *d, const char *key);
int hl7_dedup_add(hl7_dedup *d, const char *key, uint64_t batch, int64_t time_us, int code);
void hl7_dedup_committed(hl7_dedup *d, uint64_t upto);
int hl7_dedup_expire(hl7_source *s, int64_t now_us);
void hl7_dedup_free(hl7_dedup *d);
int hl7_dedup_key(const kpid_hl7_header *h, kpid_buf *out);

#endif
