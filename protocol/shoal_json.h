/*  shoal_json.h - JSON (jansson) <-> msgpack at the edges.

    The CLI speaks JSON to people and msgpack to Shoal; these two calls are
    the only bridge, so the mapping is defined once:
      null, true/false, integer, real, string, array, object
      <-> nil, bool, int/uint, float64, str, array, map (string keys).
    bin becomes a base64-free hex string, ext becomes null.
*/
#ifndef SHOAL_JSON_H_INCLUDED
#define SHOAL_JSON_H_INCLUDED

#include <jansson.h>

#include "shoal_err.h"
#include "shoal_limits.h"
#include "shoal_wr.h"

/*  Appends json as one msgpack value to wr. Borrows json. Nesting deeper
    than SHOAL_DEPTH_MAX gives SHOAL_ERR_TOO_LARGE. */
shoal_err_t shoal_json_to_mp (const json_t *json, shoal_wr_t *wr);

/*  Decodes one msgpack value (validated within lim) into a new JSON value
    owned by the caller (json_decref). Returns NULL on malformed input or
    allocation failure; *err says which when err is not NULL. */
json_t *shoal_mp_to_json (const uint8_t *data, size_t size,
                          const shoal_limits_t *lim, shoal_err_t *err);

#endif
