/*
 * TLS for the MLLP listener: the OpenSSL server context built from the tls_* keys, once,
 * in init. TLS is on when tls_cert is set; every other tls_* key without it is an error
 * (a listener the operator meant to protect never falls back to plain text). With tls_ca
 * the senders' certificates are verified against it: required (tls_verify_client, the
 * default) or only when a sender offers one. Each failure names the key, its file and
 * the reason (errno, or OpenSSL's reason string); no key material reaches the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "hl7_source.h"

#define PATH_FMT "\"%.200s\""

/*
 * The reason of the oldest error in OpenSSL's queue of this thread ("no start line",
 * "key values mismatch"), or "unknown reason"; the queue is emptied. The result is a
 * static string, or buf.
 */
static const char *ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    if (e && !r) {
        ERR_error_string_n(e, buf, size);
        r = buf;
    }
    ERR_clear_error();
    return r ? r : "unknown reason";
}

/*
 * Checks that the file of key can be opened for reading and is a regular file, so that
 * the error names errno rather than OpenSSL's view of an empty read. Returns 0 or a
 * negative errno, logged.
 */
static int check_readable(hl7_source *s, const char *key, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;

    if (fd < 0 || fstat(fd, &st) < 0)
        r = -errno;
    else if (S_ISDIR(st.st_mode))
        r = -EISDIR;
    if (fd >= 0)
        close(fd);
    if (r < 0)
        s->host->log(s->src, KPID_LOG_ERR, "%s " PATH_FMT " cannot be read: %s", key, path,
                     strerror(-r));
    return r;
}

/* OpenSSL asks for the pass phrase of an encrypted key: there is none (and no terminal). */
static int no_pass_phrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf, (void)size, (void)rwflag, (void)userdata;
    return -1;
}

/* Refuses the keys that mean something only with TLS on, while tls_cert is not set. */
static int check_off(hl7_source *s, const struct config_setting_t *setting)
{
    static const char *const keys[] = {"tls_key",         "tls_ca",      "tls_verify_client",
                                       "tls_min_version", "tls_ciphers", NULL};

    for (size_t i = 0; keys[i]; i++)
        if (setting && config_setting_get_member(setting, keys[i])) {
            s->host->log(s->src, KPID_LOG_ERR,
                         "%s is set but tls_cert is not: TLS is on only with tls_cert (set "
                         "tls_cert to the server's certificate chain, or remove %s)",
                         keys[i], keys[i]);
            return -EINVAL;
        }
    return 0;
}

/* True when OpenSSL's error e says that a key is not the certificate's. */
static bool mismatch(unsigned long e)
{
    return ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                              ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

/* The certificate chain, its private key, and that they belong together. */
static int load_identity(hl7_source *s, SSL_CTX *ctx)
{
    const struct hl7_config *cfg = s->cfg;
    char buf[256];
    int r;

    if ((r = check_readable(s, "tls_cert", cfg->tls_cert)) < 0 ||
        (r = check_readable(s, "tls_key", cfg->tls_key)) < 0)
        return r;
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        s->host->log(s->src, KPID_LOG_ERR,
                     "tls_cert " PATH_FMT " is not a usable PEM certificate chain: %s",
                     cfg->tls_cert, ssl_reason(buf, sizeof(buf)));
        return -EINVAL;
    }
    /* OpenSSL checks the key against the certificate as it loads it; checked again for
     * an OpenSSL that does not. */
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        bool other = mismatch(ERR_peek_error());
        const char *reason = ssl_reason(buf, sizeof(buf));
        if (other)
            s->host->log(s->src, KPID_LOG_ERR,
                         "tls_key " PATH_FMT " does not belong to the certificate of "
                         "tls_cert " PATH_FMT ": %s",
                         cfg->tls_key, cfg->tls_cert, reason);
        else
            s->host->log(s->src, KPID_LOG_ERR,
                         "tls_key " PATH_FMT " is not a usable PEM private key: %s (a key "
                         "encrypted with a pass phrase is not supported)",
                         cfg->tls_key, reason);
        return -EINVAL;
    }
    return 0;
}

/* Sends the names of the CAs in path to senders, as those whose certificates are
 * accepted. Returns false when path holds none. */
static bool set_ca_names(SSL_CTX *ctx, const char *path)
{
    SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(path)); /* NULL: none */
    return SSL_CTX_get_client_CA_list(ctx) != NULL;
}

/*
 * The CA bundle that senders' certificates must chain to, also sent to senders as the
 * names of acceptable CAs, and the verification mode.
 */
static int load_ca(hl7_source *s, SSL_CTX *ctx, const struct config_setting_t *setting)
{
    const struct hl7_config *cfg = s->cfg;
    char buf[256];
    int r;

    if (!cfg->tls_ca) {
        if (setting && config_setting_get_member(setting, "tls_verify_client") &&
            cfg->tls_verify_client) {
            s->host->log(s->src, KPID_LOG_ERR,
                         "tls_verify_client is true but tls_ca is not set: set tls_ca to the "
                         "CA bundle that signs the senders' certificates");
            return -EINVAL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    if ((r = check_readable(s, "tls_ca", cfg->tls_ca)) < 0)
        return r;
    if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1 ||
        !set_ca_names(ctx, cfg->tls_ca)) {
        s->host->log(s->src, KPID_LOG_ERR,
                     "tls_ca " PATH_FMT " holds no usable PEM CA certificate: %s", cfg->tls_ca,
                     ssl_reason(buf, sizeof(buf)));
        return -EINVAL;
    }
    SSL_CTX_set_verify(ctx,
                       cfg->tls_verify_client ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                              : SSL_VERIFY_PEER,
                       NULL);
    return 0;
}

/* Protocol versions, ciphers, and the modes the event loop needs. */
static int set_protocol(hl7_source *s, SSL_CTX *ctx)
{
    const struct hl7_config *cfg = s->cfg;
    char buf[256];
    int min;

    if (strcmp(cfg->tls_min_version, "1.2") == 0)
        min = TLS1_2_VERSION;
    else if (strcmp(cfg->tls_min_version, "1.3") == 0)
        min = TLS1_3_VERSION;
    else {
        s->host->log(s->src, KPID_LOG_ERR,
                     "tls_min_version must be \"1.2\" or \"1.3\", not \"%.16s\"",
                     cfg->tls_min_version);
        return -EINVAL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1)
        return -EINVAL;
    if (cfg->tls_ciphers && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
        s->host->log(s->src, KPID_LOG_ERR,
                     "tls_ciphers \"%.200s\" names no cipher OpenSSL offers: %s", cfg->tls_ciphers,
                     ssl_reason(buf, sizeof(buf)));
        return -EINVAL;
    }
    /* No renegotiation (a reader then never has to write, nor a writer to read, after the
     * handshake); no sessions to resume (connections are long-lived, and a resumed one
     * would skip the certificate check of a CA since removed from tls_ca). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* Many senders end with a TCP FIN, no close_notify: an end like any other (a frame
     * cut short is dropped by the framer whatever ended it). */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    /* Writes from a buffer that moves and grows (conn.c's out), in parts; idle
     * connections give their record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_pass_phrase);
    return 0;
}

int hl7_tls_init(hl7_source *s, const struct config_setting_t *setting)
{
    const struct hl7_config *cfg = s->cfg;
    SSL_CTX *ctx;
    int r;

    if (!cfg->tls_cert)
        return check_off(s, setting);
    if (!cfg->tls_key) {
        s->host->log(s->src, KPID_LOG_ERR,
                     "tls_cert is set but tls_key is not: set tls_key to the PEM file of the "
                     "certificate's private key");
        return -EINVAL;
    }
    ERR_clear_error();
    if (!(ctx = SSL_CTX_new(TLS_server_method())))
        return -ENOMEM;
    s->tls = ctx; /* freed by hl7_tls_free, whatever follows */
    if ((r = set_protocol(s, ctx)) < 0 || (r = load_identity(s, ctx)) < 0 ||
        (r = load_ca(s, ctx, setting)) < 0)
        return r;
    if (!(s->tls_bio = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hl7 socket")))
        return -ENOMEM;
    if ((r = hl7_tls_bio_setup(s->tls_bio)) < 0)
        return r;
    if (!cfg->tls_ca)
        s->host->log(s->src, KPID_LOG_NOTICE,
                     "TLS without client certificates: any sender that reaches the port may "
                     "send (set tls_ca to verify senders)");
    s->host->log(s->src, KPID_LOG_INFO, "TLS on min_version=%s client_certificate=%s",
                 cfg->tls_min_version,
                 !cfg->tls_ca             ? "none"
                 : cfg->tls_verify_client ? "required"
                                          : "optional");
    return 0;
}

void hl7_tls_free(hl7_source *s)
{
    SSL_CTX_free(s->tls);
    s->tls = NULL;
    BIO_meth_free(s->tls_bio);
    s->tls_bio = NULL;
}
