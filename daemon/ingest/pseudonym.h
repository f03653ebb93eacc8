/*
 * Pseudonymization of identifiers: HMAC-SHA256 under a secret key, as lowercase hex.
 * The same identifier under the same key always gives the same pseudonym, so cases and
 * patients can be followed across sources without storing who they are.
 */
#ifndef KPID_PSEUDONYM_H
#define KPID_PSEUDONYM_H

#include <stddef.h>
#include <stdint.h>

#define KPID_PSEUDONYM_KEY_MIN 32 /* bytes */
#define KPID_PSEUDONYM_KEY_MAX 1024
#define KPID_PSEUDONYM_HEX_LEN 64

/*
 * Reads the key file: its content without trailing white space is the key, which must
 * hold at least KPID_PSEUDONYM_KEY_MIN bytes. On success *ret_key is freshly allocated
 * (the caller frees it with kpid_pseudonym_key_free) and *ret_len is its length. On
 * failure returns a negative errno and *ret_error is a freshly allocated message.
 */
int kpid_pseudonym_key_load(const char *path, uint8_t **ret_key, size_t *ret_len, char **ret_error);
/* Wipes and frees a key; accepts NULL; returns NULL. */
uint8_t *kpid_pseudonym_key_free(uint8_t *key, size_t len);

/* Writes HMAC-SHA256(key, in) as 64 hex digits and a NUL into out. Returns 0 or -EIO. */
int kpid_pseudonymize(const uint8_t *key, size_t key_len, const char *in, size_t in_len,
                      char out[KPID_PSEUDONYM_HEX_LEN + 1]);

#endif
