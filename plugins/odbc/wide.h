/*
 * Text across an ODBC driver: kpid's text is UTF-8, the driver's wide functions and
 * SQL_C_WCHAR data are UTF-16 in SQLWCHAR units (two bytes with unixODBC), which every
 * driver supports whatever its own encoding and whatever the process's locale.
 *
 * Plain functions of their arguments: no state, thread-safe.
 */
#ifndef KPID_ODBC_WIDE_H
#define KPID_ODBC_WIDE_H

#include <stddef.h>

#include <sqltypes.h>

#include "buf/buf.h"

/*
 * Appends the len bytes of UTF-8 at s to out as UTF-16 units and a terminating 0 unit
 * (not counted in the result). Returns the number of units, -EINVAL when s is not valid
 * UTF-8 without NUL (out unchanged), or -ENOMEM.
 */
long odbc_wide_from_utf8(kpid_buf *out, const char *s, size_t len);

/*
 * Appends the n UTF-16 units at w to out as UTF-8, without a terminator: an unpaired
 * surrogate and U+0000 become U+FFFD (so that the text neither ends early nor is invalid).
 * Returns 0 or -ENOMEM (out unchanged).
 */
int odbc_utf8_from_wide(kpid_buf *out, const SQLWCHAR *w, size_t n);

/* The length of a 0-terminated UTF-16 text in units, at most max. */
size_t odbc_wide_len(const SQLWCHAR *w, size_t max);

#endif
