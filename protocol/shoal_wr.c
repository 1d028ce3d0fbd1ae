/*  shoal_wr.c - msgpack-c packer over a reusable sbuffer. */
#include "shoal_wr.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct _shoal_wr_t {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    bool failed;
};

shoal_wr_t *
shoal_wr_new (void)
{
    shoal_wr_t *self = calloc (1, sizeof *self);
    if (!self) {
        return NULL;
    }
    msgpack_sbuffer_init (&self->buf);
    msgpack_packer_init (&self->pk, &self->buf, msgpack_sbuffer_write);
    return self;
}

void
shoal_wr_destroy (shoal_wr_t **self_p)
{
    if (self_p && *self_p) {
        msgpack_sbuffer_destroy (&(*self_p)->buf);
        free (*self_p);
        *self_p = NULL;
    }
}

void
shoal_wr_reset (shoal_wr_t *self)
{
    self->buf.size = 0;
    self->failed = false;
}

const uint8_t *
shoal_wr_data (const shoal_wr_t *self)
{
    return (const uint8_t *) self->buf.data;
}

uint8_t *
shoal_wr_data_mut (shoal_wr_t *self)
{
    return (uint8_t *) self->buf.data;
}

size_t
shoal_wr_size (const shoal_wr_t *self)
{
    return self->buf.size;
}

shoal_err_t
shoal_wr_error (const shoal_wr_t *self)
{
    return self->failed ? SHOAL_ERR_NOMEM : SHOAL_OK;
}

/*  msgpack-c returns non-zero when its write callback could not grow the
    buffer; remember it instead of checking at every call site. */
#define S_PACK(self, call)                                                     \
    do {                                                                       \
        if (!(self)->failed && (call) != 0) {                                  \
            (self)->failed = true;                                             \
        }                                                                      \
    } while (0)

void
shoal_wr_map (shoal_wr_t *self, uint32_t pairs)
{
    S_PACK (self, msgpack_pack_map (&self->pk, pairs));
}

void
shoal_wr_array (shoal_wr_t *self, uint32_t count)
{
    S_PACK (self, msgpack_pack_array (&self->pk, count));
}

void
shoal_wr_strn (shoal_wr_t *self, const char *s, size_t len)
{
    S_PACK (self, msgpack_pack_str_with_body (&self->pk, s, len));
}

void
shoal_wr_str (shoal_wr_t *self, const char *s)
{
    if (!s) {
        shoal_wr_nil (self);
    } else {
        shoal_wr_strn (self, s, strlen (s));
    }
}

void
shoal_wr_uint (shoal_wr_t *self, uint64_t v)
{
    S_PACK (self, msgpack_pack_uint64 (&self->pk, v));
}

void
shoal_wr_int (shoal_wr_t *self, int64_t v)
{
    S_PACK (self, msgpack_pack_int64 (&self->pk, v));
}

void
shoal_wr_double (shoal_wr_t *self, double v)
{
    S_PACK (self, msgpack_pack_double (&self->pk, v));
}

void
shoal_wr_bool (shoal_wr_t *self, bool v)
{
    S_PACK (self,
            v ? msgpack_pack_true (&self->pk) : msgpack_pack_false (&self->pk));
}

void
shoal_wr_nil (shoal_wr_t *self)
{
    S_PACK (self, msgpack_pack_nil (&self->pk));
}

void
shoal_wr_bin (shoal_wr_t *self, const void *p, size_t len)
{
    S_PACK (self, msgpack_pack_bin_with_body (&self->pk, p, len));
}

uint8_t *
shoal_wr_reserve (shoal_wr_t *self, size_t max)
{
    if (self->failed) {
        return NULL;
    }
    if (self->buf.alloc - self->buf.size < max) {
        size_t want = self->buf.alloc ? self->buf.alloc * 2 : 8192;
        while (want - self->buf.size < max) {
            want *= 2;
        }
        char *data = realloc (self->buf.data, want);
        if (!data) {
            self->failed = true;
            return NULL;
        }
        self->buf.data = data;
        self->buf.alloc = want;
    }
    return (uint8_t *) self->buf.data + self->buf.size;
}

void
shoal_wr_commit (shoal_wr_t *self, size_t used)
{
    self->buf.size += used;
}

void
shoal_wr_raw (shoal_wr_t *self, const void *p, size_t len)
{
    if (len > 0) {
        S_PACK (self, msgpack_sbuffer_write (&self->buf, p, len));
    }
}

void
shoal_wr_kv_str (shoal_wr_t *self, const char *key, const char *v)
{
    shoal_wr_str (self, key);
    shoal_wr_str (self, v);
}

void
shoal_wr_kv_strn (shoal_wr_t *self, const char *key, const char *v, size_t len)
{
    shoal_wr_str (self, key);
    shoal_wr_strn (self, v, len);
}

void
shoal_wr_kv_uint (shoal_wr_t *self, const char *key, uint64_t v)
{
    shoal_wr_str (self, key);
    shoal_wr_uint (self, v);
}

void
shoal_wr_kv_bool (shoal_wr_t *self, const char *key, bool v)
{
    shoal_wr_str (self, key);
    shoal_wr_bool (self, v);
}

void
shoal_wr_kv_bin (shoal_wr_t *self, const char *key, const void *p, size_t len)
{
    shoal_wr_str (self, key);
    shoal_wr_bin (self, p, len);
}

void
shoal_wr_kv_raw (shoal_wr_t *self, const char *key, const void *p, size_t len)
{
    shoal_wr_str (self, key);
    shoal_wr_raw (self, p, len);
}
