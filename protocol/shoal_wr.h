/*  shoal_wr.h - msgpack writer (a thin owner of msgpack-c's packer).

    A writer is a growable buffer an actor keeps and reuses: reset() keeps
    the allocation, so steady-state encoding does not allocate. Errors are
    sticky: after an allocation failure every call is a no-op and
    shoal_wr_error() reports SHOAL_ERR_NOMEM, so encoders can write a whole
    message and check once.
*/
#ifndef SHOAL_WR_H_INCLUDED
#define SHOAL_WR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_err.h"

typedef struct _shoal_wr_t shoal_wr_t;

/*  Returns a new, empty writer, or NULL when out of memory. Owned by the
    caller; free with shoal_wr_destroy. */
shoal_wr_t *shoal_wr_new (void);

/*  Frees the writer and sets *self_p to NULL. Accepts NULL. */
void shoal_wr_destroy (shoal_wr_t **self_p);

/*  Empties the buffer (keeps its capacity) and clears the error. */
void shoal_wr_reset (shoal_wr_t *self);

/*  The bytes written so far; borrowed, valid until the next write. */
const uint8_t *shoal_wr_data (const shoal_wr_t *self);
uint8_t *shoal_wr_data_mut (shoal_wr_t *self);
size_t shoal_wr_size (const shoal_wr_t *self);

/*  SHOAL_OK, or SHOAL_ERR_NOMEM if any write failed since reset. */
shoal_err_t shoal_wr_error (const shoal_wr_t *self);

void shoal_wr_map (shoal_wr_t *self, uint32_t pairs);
void shoal_wr_array (shoal_wr_t *self, uint32_t count);
void shoal_wr_str (shoal_wr_t *self, const char *s); /* NULL writes nil */
void shoal_wr_strn (shoal_wr_t *self, const char *s, size_t len);
void shoal_wr_uint (shoal_wr_t *self, uint64_t v);
void shoal_wr_int (shoal_wr_t *self, int64_t v);
void shoal_wr_double (shoal_wr_t *self, double v);
void shoal_wr_bool (shoal_wr_t *self, bool v);
void shoal_wr_nil (shoal_wr_t *self);
void shoal_wr_bin (shoal_wr_t *self, const void *p, size_t len);

/*  Reserves max bytes at the end for a caller that encodes in place;
    returns where to write (valid until the next call on the writer), or
    NULL when out of memory (the writer then fails). Follow with
    shoal_wr_commit (used <= max) to keep what was written. */
uint8_t *shoal_wr_reserve (shoal_wr_t *self, size_t max);
void shoal_wr_commit (shoal_wr_t *self, size_t used);

/*  Appends bytes that are already msgpack (or, for framing, raw). */
void shoal_wr_raw (shoal_wr_t *self, const void *p, size_t len);

/*  Key/value helpers for maps with string keys. */
void shoal_wr_kv_str (shoal_wr_t *self, const char *key, const char *v);
void shoal_wr_kv_strn (shoal_wr_t *self, const char *key, const char *v,
                       size_t len);
void shoal_wr_kv_uint (shoal_wr_t *self, const char *key, uint64_t v);
void shoal_wr_kv_bool (shoal_wr_t *self, const char *key, bool v);
void shoal_wr_kv_bin (shoal_wr_t *self, const char *key, const void *p,
                      size_t len);
void shoal_wr_kv_raw (shoal_wr_t *self, const char *key, const void *p,
                      size_t len);

#endif
