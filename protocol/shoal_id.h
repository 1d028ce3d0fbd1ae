/*  shoal_id.h - 128-bit time-ordered identifiers.

    Layout (big-endian, so byte order is time order):
      48 bits  milliseconds since the Unix epoch
      16 bits  sequence within that millisecond
      64 bits  random (per-generator stream seeded from getrandom)
    Text form: 32 lowercase hex digits.

    A generator belongs to one actor; it is not thread safe and holds no
    global state. Ids from one generator are strictly increasing.
*/
#ifndef SHOAL_ID_H_INCLUDED
#define SHOAL_ID_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "shoal_err.h"

#define SHOAL_ID_TEXT 33 /* 32 hex digits and NUL */

typedef struct {
    uint8_t b[16];
} shoal_id_t;

typedef struct {
    uint64_t last_ms;
    uint32_t seq;
    uint64_t rng;
} shoal_idgen_t;

/*  Seeds gen from the kernel's random source. Returns SHOAL_ERR_IO if
    getrandom fails. */
shoal_err_t shoal_idgen_init (shoal_idgen_t *gen);

/*  Writes the next id for wall time now_ms. If the clock steps back or
    the sequence wraps, the previous millisecond is reused/advanced so ids
    stay increasing. */
void shoal_idgen_next (shoal_idgen_t *gen, uint64_t now_ms, shoal_id_t *id);

/*  Milliseconds part of an id. */
uint64_t shoal_id_ms (const shoal_id_t *id);

bool shoal_id_is_zero (const shoal_id_t *id);

/*  Formats id as 32 hex digits into out (SHOAL_ID_TEXT bytes). */
void shoal_id_format (const shoal_id_t *id, char out[SHOAL_ID_TEXT]);

/*  Parses exactly 32 hex digits (either case). SHOAL_ERR_INVALID
    otherwise. */
shoal_err_t shoal_id_parse (const char *text, size_t len, shoal_id_t *id);

#endif
