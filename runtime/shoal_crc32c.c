/*  shoal_crc32c.c - hardware CRC32C with a bitwise software fallback.
    The fallback is slow but only runs on CPUs without SSE4.2; a table
    would be global state for no measured need. */
#include "shoal_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
__attribute__ ((target ("sse4.2"))) static uint32_t
s_hw (uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy (&v, p, 8);
        c = __builtin_ia32_crc32di (c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t) c;
    while (n--) {
        c32 = __builtin_ia32_crc32qi (c32, *p++);
    }
    return c32;
}
#endif

static uint32_t
s_sw (uint32_t crc, const uint8_t *p, size_t n)
{
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
        }
    }
    return crc;
}

uint32_t
shoal_crc32c (uint32_t crc, const void *data, size_t size)
{
    crc = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports ("sse4.2")) {
        return ~s_hw (crc, (const uint8_t *) data, size);
    }
#endif
    return ~s_sw (crc, (const uint8_t *) data, size);
}
