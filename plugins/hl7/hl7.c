/* The hl7 plugin: its configuration keys, init, fini, committed and request_stop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libconfig.h>

#include "hl7_source.h"

#define KEY(field) offsetof(struct hl7_config, field)

static const kpid_config_key hl7_config_keys[] = {
    {
        .name = "listen",
        .type = KPID_CONFIG_STRING,
        .required = true,
        .offset = KEY(listen),
        .description = "addresses to listen on for MLLP, separated by commas: "
                       "\"127.0.0.1:2575\", \"[::1]:2575\", \"*:2575\"",
    },
    {
        .name = "allow",
        .type = KPID_CONFIG_STRING,
        .offset = KEY(allow),
        .description = "senders allowed to connect, addresses or ADDRESS/PREFIX separated by "
                       "commas (\"10.1.0.0/16, ::1\"); unset: every sender",
    },
    {
        .name = "mapping",
        .type = KPID_CONFIG_SECTION,
        .required = true,
        .description = "the list of mapping rules from messages to events "
                       "(docs/hl7-mapping.md; etc/hl7-mapping.conf is a ready one)",
    },
    {
        .name = "timezone",
        .type = KPID_CONFIG_STRING,
        .default_value = "UTC",
        .offset = KEY(timezone),
        .description = "the zone of HL7 times written without an offset (the senders' "
                       "local time), an IANA name such as \"Europe/Berlin\"",
    },
    {
        .name = "charset",
        .type = KPID_CONFIG_STRING,
        .default_value = "UNICODE UTF-8",
        .offset = KEY(charset),
        .description = "the character set of messages without MSH-18: \"UNICODE UTF-8\", "
                       "\"8859/1\", \"8859/15\" or \"ASCII\"",
    },
    {
        .name = "subject_authority",
        .type = KPID_CONFIG_STRING,
        .offset = KEY(subject_authority),
        .description = "the assigning authority (PID-3.4) of the patient identifier to use "
                       "when PID-3 repeats; unset: by subject_type, else the first",
    },
    {
        .name = "subject_type",
        .type = KPID_CONFIG_STRING,
        .offset = KEY(subject_type),
        .description = "the identifier type code (PID-3.5, e.g. \"MR\") of the patient "
                       "identifier to use when no repetition has subject_authority",
    },
    {
        .name = "strict",
        .type = KPID_CONFIG_BOOL,
        .default_value = "false",
        .offset = KEY(strict),
        .description = "refuse (AR) message types no rule maps; when false they are "
                       "acknowledged (AA) and ignored",
    },
    {
        .name = "dedup_window",
        .type = KPID_CONFIG_DURATION,
        .default_value = "1h",
        .offset = KEY(dedup_window_ms),
        .description = "how long a committed control id (MSH-3, MSH-4, MSH-10) is kept, "
                       "so that a resend within it changes nothing and gets the same ACK",
        .min = 60000,
        .max = 2592000000,
    },
    {
        .name = "dedup_max_ids",
        .type = KPID_CONFIG_INT,
        .default_value = "200000",
        .offset = KEY(dedup_max_ids),
        .description = "most control ids kept (about 200 bytes of memory each); beyond it "
                       "the oldest go first, even within dedup_window",
        .min = 1000,
        .max = 100000000,
    },
    {
        .name = "max_message_bytes",
        .type = KPID_CONFIG_INT,
        .default_value = "1048576",
        .offset = KEY(max_message_bytes),
        .description = "the largest message accepted; a larger one is discarded and "
                       "answered AR",
        .min = 1024,
        .max = 67108864,
    },
    {
        .name = "max_connections",
        .type = KPID_CONFIG_INT,
        .default_value = "1024",
        .offset = KEY(max_connections),
        .description = "connections served at once; more are closed as they come",
        .min = 1,
        .max = 100000,
    },
    {
        .name = "idle_timeout",
        .type = KPID_CONFIG_DURATION,
        .default_value = "10m",
        .offset = KEY(idle_timeout_ms),
        .description = "a connection that sends no message this long (bytes outside frames "
                       "do not count), with no ACK owed, is closed",
        .min = 1000,
        .max = 86400000,
    },
    {
        .name = "read_timeout",
        .type = KPID_CONFIG_DURATION,
        .default_value = "30s",
        .offset = KEY(read_timeout_ms),
        .description = "the longest one message may take to arrive from its first byte; a "
                       "connection past it is closed and the partial message dropped",
        .min = 100,
        .max = 3600000,
    },
    {
        .name = "rejected_raw",
        .type = KPID_CONFIG_STRING,
        .default_value = "full",
        .offset = KEY(rejected_raw),
        .description = "what kpid.rejected keeps of a refused message: \"full\" (the message, "
                       "which holds patient data, for rejected_retention) or \"none\" "
                       "(only where it came from and why)",
    },
    {
        .name = "batch_max_messages",
        .type = KPID_CONFIG_INT,
        .default_value = "5000",
        .offset = KEY(batch_max_messages),
        .description = "messages gathered in one batch before reading pauses for its "
                       "submission",
        .min = 1,
        .max = 1000000,
    },
    {
        .name = "tls_cert",
        .type = KPID_CONFIG_STRING,
        .offset = KEY(tls_cert),
        .description = "PEM file of the server's certificate chain (its certificate first, "
                       "then the intermediates); set, every connection speaks TLS (MLLP over "
                       "TLS); unset, plain MLLP and no other tls_* key may be set",
    },
    {
        .name = "tls_key",
        .type = KPID_CONFIG_STRING,
        .offset = KEY(tls_key),
        .description = "PEM file of tls_cert's private key, not encrypted (readable by kpid "
                       "only); required with tls_cert",
    },
    {
        .name = "tls_ca",
        .type = KPID_CONFIG_STRING,
        .offset = KEY(tls_ca),
        .description = "PEM file of the CA certificates that sign the senders' client "
                       "certificates; unset: no client certificate is asked for",
    },
    {
        .name = "tls_verify_client",
        .type = KPID_CONFIG_BOOL,
        .default_value = "true",
        .offset = KEY(tls_verify_client),
        .description = "with tls_ca, refuse a sender without a certificate signed by tls_ca; "
                       "false: a sender may connect without a certificate, but one it "
                       "presents must still verify (true without tls_ca is an error)",
    },
    {
        .name = "tls_min_version",
        .type = KPID_CONFIG_STRING,
        .default_value = "1.2",
        .offset = KEY(tls_min_version),
        .description = "the oldest TLS version accepted: \"1.2\" or \"1.3\"",
    },
    {
        .name = "tls_ciphers",
        .type = KPID_CONFIG_STRING,
        .offset = KEY(tls_ciphers),
        .description = "OpenSSL cipher list for TLS 1.2 (\"ECDHE+AESGCM\"); unset: OpenSSL's "
                       "defaults; TLS 1.3's suites are always OpenSSL's defaults",
    },
    {.name = NULL},
};

static int parse_charset(const char *name, kpid_hl7_charset *ret)
{
    return kpid_hl7_charset_lookup(name, strlen(name), ret);
}

/* Room for many connections: the soft descriptor limit raised to the hard one. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void register_metrics(hl7_source *s)
{
    static const struct {
        enum kpid_metric_type type;
        const char *name, *help;
        size_t offset;
    } defs[] = {
        {KPID_METRIC_COUNTER, "hl7_messages_total", "HL7 messages received and handled",
         offsetof(hl7_source, m_messages)},
        {KPID_METRIC_COUNTER, "hl7_rejected_total", "HL7 messages refused (AE, AR)",
         offsetof(hl7_source, m_rejected)},
        {KPID_METRIC_COUNTER, "hl7_duplicates_total",
         "HL7 messages whose control id was received before", offsetof(hl7_source, m_duplicates)},
        {KPID_METRIC_GAUGE, "hl7_connections", "MLLP connections open",
         offsetof(hl7_source, m_connections)},
        {KPID_METRIC_COUNTER, "hl7_skipped_bytes_total", "bytes outside MLLP frames, skipped",
         offsetof(hl7_source, m_skipped)},
        {KPID_METRIC_COUNTER, "hl7_tls_failed_total",
         "TLS connections refused (handshake failed or timed out) or broken by a TLS error",
         offsetof(hl7_source, m_tls_failed)},
    };

    if (!KPID_HOST_HAS(s->host, metric_register))
        return;
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        kpid_metric_def d = {.type = defs[i].type, .name = defs[i].name, .help = defs[i].help};
        kpid_metric **slot = (kpid_metric **)((char *)s + defs[i].offset);
        if (s->host->metric_register(s->src, &d, slot) < 0)
            *slot = NULL;
    }
}

static int hl7_init(const kpid_host *host, kpid_source *src, const void *config,
                    const struct config_setting_t *setting, void **ret_state)
{
    const struct hl7_config *cfg = config;
    hl7_source *s;
    char *error = NULL;
    int r;

    if (!KPID_HOST_HAS(host, wait_room)) {
        host->log(src, KPID_LOG_ERR, "the hl7 plugin needs a kpid of ABI 1.2 or later");
        return -ENOTSUP;
    }
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    *ret_state = s;
    s->host = host;
    s->src = src;
    s->cfg = cfg;
    s->epfd = s->wakefd = -1;
    pthread_mutex_init(&s->commit_lock, NULL);
    register_metrics(s);

    if (strcmp(cfg->rejected_raw, "full") != 0 && strcmp(cfg->rejected_raw, "none") != 0) {
        host->log(src, KPID_LOG_ERR, "rejected_raw must be \"full\" or \"none\", not \"%.32s\"",
                  cfg->rejected_raw);
        return -EINVAL;
    }
    s->keep_raw = strcmp(cfg->rejected_raw, "full") == 0;
    if (parse_charset(cfg->charset, &s->parse_opt.default_charset) < 0) {
        host->log(src, KPID_LOG_ERR,
                  "charset \"%.32s\" is not one of \"UNICODE UTF-8\", \"8859/1\", \"8859/15\", "
                  "\"ASCII\"",
                  cfg->charset);
        return -EINVAL;
    }
    if ((r = kpid_tz_load(cfg->timezone, &s->tz, &error)) < 0) {
        host->log(src, KPID_LOG_ERR, "timezone: %s", error ? error : "cannot be loaded");
        free(error);
        return r;
    }
    s->map_opt = (kpid_hl7_map_options){.tz = s->tz,
                                        .subject_authority = cfg->subject_authority,
                                        .subject_type = cfg->subject_type};
    if ((r = kpid_hl7_map_compile(config_setting_get_member(setting, "mapping"), &s->map, &error)) <
        0) {
        host->log(src, KPID_LOG_ERR, "mapping: %s", error ? error : "out of memory");
        free(error);
        return r;
    }
    if ((r = hl7_allow_parse(s)) < 0 || (r = hl7_tls_init(s, setting)) < 0)
        return r;
    raise_nofile();
    if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -errno;
    if ((r = hl7_listen_open(s)) < 0)
        return r;
    host->log(src, KPID_LOG_INFO, "hl7 source ready rules=%zu timezone=%s tls=%s",
              kpid_hl7_map_rules(s->map), cfg->timezone, s->tls ? "on" : "off");
    return 0;
}

static void hl7_committed(void *state, uint64_t batch_id, const char *cursor)
{
    hl7_source *s = state;
    uint64_t one = 1;

    (void)cursor;
    pthread_mutex_lock(&s->commit_lock);
    if (s->ring_n == s->ring_cap) {
        size_t cap = s->ring_cap;
        uint64_t *v = kpid_array_grow(s->ring, &cap, sizeof(*v));
        if (v) {
            s->ring = v;
            s->ring_cap = cap;
        }
    }
    /* Out of memory: the ACKs of this batch wait for the next commit's (committed_upto
     * moves past it once later batches commit and it is no longer in flight). */
    if (s->ring_n < s->ring_cap)
        s->ring[s->ring_n++] = batch_id;
    pthread_mutex_unlock(&s->commit_lock);
    ssize_t n = write(s->wakefd, &one, sizeof(one));
    (void)n;
}

static void hl7_request_stop(void *state)
{
    hl7_source *s = state;
    uint64_t one = 1;

    if (s && s->wakefd >= 0) {
        ssize_t n = write(s->wakefd, &one, sizeof(one));
        (void)n;
    }
}

static void hl7_fini(void *state)
{
    hl7_source *s = state;

    if (!s)
        return;
    if (s->batch)
        s->host->batch_abort(s->batch);
    while (s->conns)
        hl7_conn_close(s, s->conns, "source stopped");
    hl7_conn_bury(s);
    hl7_listen_close(s);
    hl7_tls_free(s);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->wakefd >= 0)
        close(s->wakefd);
    hl7_dedup_free(&s->seen);
    kpid_hl7_mapped_free(&s->mapped);
    kpid_buf_free(&s->scratch);
    kpid_hl7_map_free(s->map);
    kpid_tz_free(s->tz);
    free(s->allow);
    free(s->inflight);
    free(s->ring);
    pthread_mutex_destroy(&s->commit_lock);
    free(s);
}

static const kpid_plugin_def hl7_plugin = {
    KPID_PLUGIN_DEF_HEADER,
    .name = "hl7",
    .version = "1.0.0",
    .description = "HL7 v2 messages over MLLP, mapped to events, acknowledged after commit",
    .shape = KPID_SOURCE_STREAM,
    .config_keys = hl7_config_keys,
    .config_size = sizeof(struct hl7_config),
    .init = hl7_init,
    .run = hl7_run,
    .committed = hl7_committed,
    .request_stop = hl7_request_stop,
    .fini = hl7_fini,
};

KPID_PLUGIN_EXPORT const kpid_plugin_def *kpid_plugin_entry(void)
{
    return &hl7_plugin;
}
