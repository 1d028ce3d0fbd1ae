/*  shoal_id.c - time-ordered ids. The random tail comes from splitmix64
    over a seed from getrandom: ids must be unique, not unguessable. */
#include "shoal_id.h"

#include <string.h>
#include <sys/random.h>

shoal_err_t
shoal_idgen_init (shoal_idgen_t *gen)
{
    memset (gen, 0, sizeof *gen);
    if (getrandom (&gen->rng, sizeof gen->rng, 0) !=
        (ssize_t) sizeof gen->rng) {
        return SHOAL_ERR_IO;
    }
    return SHOAL_OK;
}

static uint64_t
s_splitmix (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
shoal_idgen_next (shoal_idgen_t *gen, uint64_t now_ms, shoal_id_t *id)
{
    if (now_ms > gen->last_ms) {
        gen->last_ms = now_ms;
        gen->seq = 0;
    } else if (++gen->seq > 0xffff) {
        gen->last_ms++; /* borrow from the future rather than repeat */
        gen->seq = 0;
    }
    uint64_t ms = gen->last_ms & 0xffffffffffffULL;
    uint64_t r = s_splitmix (&gen->rng);
    for (int i = 0; i < 6; i++) {
        id->b[i] = (uint8_t) (ms >> (40 - 8 * i));
    }
    id->b[6] = (uint8_t) (gen->seq >> 8);
    id->b[7] = (uint8_t) gen->seq;
    for (int i = 0; i < 8; i++) {
        id->b[8 + i] = (uint8_t) (r >> (56 - 8 * i));
    }
}

uint64_t
shoal_id_ms (const shoal_id_t *id)
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++) {
        ms = (ms << 8) | id->b[i];
    }
    return ms;
}

bool
shoal_id_is_zero (const shoal_id_t *id)
{
    static const shoal_id_t zero;
    return memcmp (id, &zero, sizeof zero) == 0;
}

void
shoal_id_format (const shoal_id_t *id, char out[SHOAL_ID_TEXT])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id->b[i] >> 4];
        out[2 * i + 1] = hex[id->b[i] & 15];
    }
    out[32] = '\0';
}

static int
s_hexval (char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

shoal_err_t
shoal_id_parse (const char *text, size_t len, shoal_id_t *id)
{
    if (!text || len != 32) {
        return SHOAL_ERR_INVALID;
    }
    for (int i = 0; i < 16; i++) {
        int hi = s_hexval (text[2 * i]);
        int lo = s_hexval (text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return SHOAL_ERR_INVALID;
        }
        id->b[i] = (uint8_t) (hi << 4 | lo);
    }
    return SHOAL_OK;
}
