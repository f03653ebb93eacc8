/*
 * The fingerprint of a followed file: a 64-bit FNV-1a hash of its first fp_len bytes,
 * fp_len = min(size, FILE_FP_MAX), extended as the file grows. Files only grow, so the
 * first bytes of a file never change: a file whose first fp_len bytes hash differently,
 * or that is now shorter than fp_len, is another file (a new file that got a freed
 * inode, or the same file truncated by copytruncate and written again).
 *
 * FILE_FP_MAX is more than one NDJSON line, so that two files of one source differ in
 * it (their event keys do).
 */
#ifndef KPID_FILE_FINGERPRINT_H
#define KPID_FILE_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#define FILE_FP_MAX 4096
#define FILE_FP_INIT UINT64_C(0xcbf29ce484222325) /* the FNV-1a offset basis: no bytes */

/* Continues hash h over len bytes of data: file_fp_update(FILE_FP_INIT, b, n) is the
 * fingerprint of b, and hashing a prefix then the rest equals hashing the whole. */
uint64_t file_fp_update(uint64_t h, const void *data, size_t len);

#endif
