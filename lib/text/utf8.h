/*
 * UTF-8 as kpid accepts it (RFC 3629): no overlong forms, no surrogates (U+D800 to
 * U+DFFF), nothing above U+10FFFF. Every text kpid stores (event fields, state keys,
 * configuration values bound as parameters) passes kpid_utf8_valid, which refuses NUL
 * too: PostgreSQL's text cannot hold it.
 *
 * Plain functions of their arguments: no state, safe from any thread. Nothing here
 * depends on the daemon; plugins link this library as well.
 */
#ifndef KPID_TEXT_UTF8_H
#define KPID_TEXT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Decodes the character that starts at s, of which n > 0 bytes are available. Returns
 * its length, 1 for an ASCII byte (NUL included), 2 to 4 for a valid multi-byte
 * sequence, and stores its code point in *ret_cp (when ret_cp is not NULL); returns 0
 * when s starts no valid character (a stray continuation byte, an invalid lead byte, a
 * sequence cut short by n, an overlong form, a surrogate, a code point above U+10FFFF).
 */
size_t kpid_utf8_decode(const char *s, size_t n, uint32_t *ret_cp);

/* Whether the len bytes at s are valid UTF-8 without NUL. */
bool kpid_utf8_valid(const char *s, size_t len);

/*
 * The first control character in the len bytes of valid UTF-8 at s: C0 (U+0000 to
 * U+001F), DEL (U+007F) or C1 (U+0080 to U+009F). Returns its byte offset and stores
 * its code point in *ret_cp, or returns -1 (and leaves *ret_cp alone) when there is none.
 */
ssize_t kpid_utf8_find_control(const char *s, size_t len, unsigned *ret_cp);

#endif
