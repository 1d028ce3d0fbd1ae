/*  test_crc32c.c - CRC-32C against published vectors and a bitwise
    reference, whole and in pieces. The hardware path reads 8 bytes at a
    time, so lengths and offsets around multiples of 8 are what matter. */
#include "shoal_test.h"
#include "shoal_crc32c.h"

/*  An independent bitwise CRC-32C (reflected polynomial 0x82f63b78). */
static uint32_t
s_ref (const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = crc & 1u ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
        }
    }
    return ~crc;
}

static void
s_fill (uint8_t *buf, size_t n)
{
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        buf[i] = (uint8_t) (x >> 24);
    }
}

SHOAL_TEST (crc32c_check_value)
{
    CHECK_EQ (shoal_crc32c (0, "123456789", 9), 0xe3069283u);
    CHECK_EQ (shoal_crc32c (0, "a", 1), 0xc1d04330u);
}

SHOAL_TEST (crc32c_empty)
{
    CHECK_EQ (shoal_crc32c (0, "", 0), 0);
    CHECK_EQ (shoal_crc32c (0, NULL, 0), 0);
    /* An empty piece leaves a running CRC unchanged. */
    uint32_t c = shoal_crc32c (0, "123456789", 9);
    CHECK_EQ (shoal_crc32c (c, "", 0), c);
}

/*  RFC 3720 (iSCSI) appendix B.4. */
SHOAL_TEST (crc32c_rfc3720_vectors)
{
    uint8_t buf[32];
    memset (buf, 0, sizeof buf);
    CHECK_EQ (shoal_crc32c (0, buf, sizeof buf), 0x8a9136aau);
    memset (buf, 0xff, sizeof buf);
    CHECK_EQ (shoal_crc32c (0, buf, sizeof buf), 0x62a8ab43u);
    for (int i = 0; i < 32; i++) {
        buf[i] = (uint8_t) i;
    }
    CHECK_EQ (shoal_crc32c (0, buf, sizeof buf), 0x46dd794eu);
    for (int i = 0; i < 32; i++) {
        buf[i] = (uint8_t) (31 - i);
    }
    CHECK_EQ (shoal_crc32c (0, buf, sizeof buf), 0x113fdb5cu);
}

SHOAL_TEST (crc32c_matches_reference)
{
    static uint8_t buf[600];
    s_fill (buf, sizeof buf);
    /* Every length and every misalignment of the start. */
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n + off <= 300; n++) {
            uint32_t got = shoal_crc32c (0, buf + off, n);
            uint32_t want = s_ref (buf + off, n);
            if (got != want) {
                SHOAL_FAIL_ ("off=%zu n=%zu: %08x != %08x", off, n, got, want);
            }
        }
    }
    CHECK_EQ (shoal_crc32c (0, buf, sizeof buf), s_ref (buf, sizeof buf));
}

SHOAL_TEST (crc32c_incremental)
{
    static uint8_t buf[257];
    s_fill (buf, sizeof buf);
    uint32_t whole = shoal_crc32c (0, buf, sizeof buf);
    CHECK_EQ (whole, s_ref (buf, sizeof buf));
    for (size_t a = 0; a <= sizeof buf; a++) {
        uint32_t c = shoal_crc32c (0, buf, a);
        c = shoal_crc32c (c, buf + a, sizeof buf - a);
        if (c != whole) {
            SHOAL_FAIL_ ("split at %zu: %08x != %08x", a, c, whole);
        }
    }
    /* Three pieces, including empty and unaligned ones. */
    for (size_t a = 0; a <= 40; a += 3) {
        for (size_t b = a; b <= 80; b += 5) {
            uint32_t c = shoal_crc32c (0, buf, a);
            c = shoal_crc32c (c, buf + a, b - a);
            c = shoal_crc32c (c, buf + b, sizeof buf - b);
            if (c != whole) {
                SHOAL_FAIL_ ("split at %zu,%zu: %08x != %08x", a, b, c, whole);
            }
        }
    }
    /* Byte at a time. */
    uint32_t c = 0;
    for (size_t i = 0; i < sizeof buf; i++) {
        c = shoal_crc32c (c, buf + i, 1);
    }
    CHECK_EQ (c, whole);
}

SHOAL_TEST (crc32c_detects_one_bit)
{
    uint8_t buf[64];
    s_fill (buf, sizeof buf);
    uint32_t good = shoal_crc32c (0, buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf * 8; i++) {
        buf[i / 8] ^= (uint8_t) (1u << (i % 8));
        uint32_t bad = shoal_crc32c (0, buf, sizeof buf);
        buf[i / 8] ^= (uint8_t) (1u << (i % 8));
        if (bad == good) {
            SHOAL_FAIL_ ("flipping bit %zu went unnoticed", i);
        }
    }
}

SHOAL_TEST_MAIN (crc32c_check_value, crc32c_empty, crc32c_rfc3720_vectors,
                 crc32c_matches_reference, crc32c_incremental,
                 crc32c_detects_one_bit)
