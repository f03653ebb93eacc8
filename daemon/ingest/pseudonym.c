#include "ingest/pseudonym.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kpid_pseudonym_key_load(const char *path, uint8_t **ret_key, size_t *ret_len, char **ret_error)
{
    uint8_t buf[KPID_PSEUDONYM_KEY_MAX + 1];
    size_t len = 0;
    uint8_t *key;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        if (asprintf(ret_error, "cannot read pseudonym key file \"%s\": %s", path,
                     strerror(errno)) < 0)
            *ret_error = NULL;
        return r;
    }
    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            close(fd);
            OPENSSL_cleanse(buf, sizeof(buf));
            if (asprintf(ret_error, "cannot read pseudonym key file \"%s\": %s", path,
                         strerror(-r)) < 0)
                *ret_error = NULL;
            return r;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        len--;
    if (len < KPID_PSEUDONYM_KEY_MIN || len > KPID_PSEUDONYM_KEY_MAX) {
        OPENSSL_cleanse(buf, sizeof(buf));
        if (asprintf(ret_error,
                     "pseudonym key in \"%s\" has %zu bytes; it needs %d to %d (generate one "
                     "with: openssl rand -hex 32 > %s)",
                     path, len, KPID_PSEUDONYM_KEY_MIN, KPID_PSEUDONYM_KEY_MAX, path) < 0)
            *ret_error = NULL;
        return -EINVAL;
    }
    key = malloc(len);
    if (!key) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return -ENOMEM;
    }
    memcpy(key, buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    *ret_key = key;
    *ret_len = len;
    return 0;
}

uint8_t *kpid_pseudonym_key_free(uint8_t *key, size_t len)
{
    if (key) {
        OPENSSL_cleanse(key, len);
        free(key);
    }
    return NULL;
}

/*
 * One HMAC context per thread, keyed once: a one-shot HMAC() fetches the digest and
 * sets the key up again for every identifier, most of the cost of a short one. The
 * thread's context remembers a copy of its key, so a reload's new key (even at the old
 * one's address) starts a new context; the thread's end frees it.
 */
typedef struct hmac_state {
    EVP_MAC_CTX *ctx;
    uint8_t key[KPID_PSEUDONYM_KEY_MAX];
    size_t key_len;
} hmac_state;

static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static pthread_key_t state_key;
static EVP_MAC *hmac_mac; /* fetched once, for the life of the process */

static void state_free(void *arg)
{
    hmac_state *st = arg;
    EVP_MAC_CTX_free(st->ctx);
    OPENSSL_cleanse(st->key, sizeof(st->key));
    free(st);
}

static void state_init(void)
{
    if (pthread_key_create(&state_key, state_free) != 0)
        return;
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* This thread's context, keyed with key; NULL when OpenSSL failed. */
static EVP_MAC_CTX *thread_context(const uint8_t *key, size_t key_len)
{
    hmac_state *st;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };

    if (pthread_once(&state_once, state_init) != 0 || !hmac_mac || key_len > KPID_PSEUDONYM_KEY_MAX)
        return NULL;
    st = pthread_getspecific(state_key);
    if (st && st->key_len == key_len && CRYPTO_memcmp(st->key, key, key_len) == 0)
        return EVP_MAC_init(st->ctx, NULL, 0, NULL) ? st->ctx : NULL; /* same key again */
    if (!st) {
        if (!(st = calloc(1, sizeof(*st))))
            return NULL;
        if (!(st->ctx = EVP_MAC_CTX_new(hmac_mac)) || pthread_setspecific(state_key, st) != 0) {
            state_free(st);
            return NULL;
        }
    }
    st->key_len = 0;
    if (!EVP_MAC_init(st->ctx, key, key_len, params))
        return NULL;
    memcpy(st->key, key, key_len);
    st->key_len = key_len;
    return st->ctx;
}

int kpid_pseudonymize(const uint8_t *key, size_t key_len, const char *in, size_t in_len,
                      char out[KPID_PSEUDONYM_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    EVP_MAC_CTX *ctx = thread_context(key, key_len);

    if (!ctx || !EVP_MAC_update(ctx, (const unsigned char *)in, in_len) ||
        !EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) || mac_len != 32)
        return -EIO;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 0xf];
    }
    out[KPID_PSEUDONYM_HEX_LEN] = '\0';
    return 0;
}
