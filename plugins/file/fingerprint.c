#include "fingerprint.h"

/* FNV-1a, 64 bits: h = (h ^ byte) * prime for each byte. */
#define FNV_PRIME UINT64_C(0x100000001b3)

uint64_t file_fp_update(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}
