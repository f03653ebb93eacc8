#include "pseudonym.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kpid_pseudonym_key_load(const char *path, uint8_t **ret_key, size_t *ret_len,
                            char **ret_error)
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

int kpid_pseudonymize(const uint8_t *key, size_t key_len, const char *in, size_t in_len,
                      char out[KPID_PSEUDONYM_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)in, in_len, mac,
              &mac_len) ||
        mac_len != 32)
        return -EIO;
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 0xf];
    }
    out[KPID_PSEUDONYM_HEX_LEN] = '\0';
    return 0;
}
