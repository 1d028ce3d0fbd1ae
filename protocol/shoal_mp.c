/*  shoal_mp.c - bounded msgpack reader and validator.

    Every length is compared with the bytes left before it is used, so no
    input can make this code read out of bounds or allocate. Validation is
    iterative with an explicit stack of remaining element counts: a depth
    limit bounds the stack, not the C call stack.
*/
#include "shoal_mp.h"

#include <string.h>

static inline uint16_t
s_be16 (const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
s_be32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
           (uint32_t) p[2] << 8 | p[3];
}

static inline uint64_t
s_be64 (const uint8_t *p)
{
    return (uint64_t) s_be32 (p) << 32 | s_be32 (p + 4);
}

/*  Takes n bytes of payload (ptr is set) after a head of hlen bytes. */
static shoal_err_t
s_take (shoal_rd_t *rd, size_t hlen, uint32_t n, shoal_mp_val_t *val)
{
    if (shoal_rd_left (rd) < hlen || shoal_rd_left (rd) - hlen < n) {
        return SHOAL_ERR_MALFORMED;
    }
    val->ptr = rd->p + hlen;
    val->len = n;
    rd->p += hlen + n;
    return SHOAL_OK;
}

static shoal_err_t
s_need (const shoal_rd_t *rd, size_t n)
{
    return shoal_rd_left (rd) < n ? SHOAL_ERR_MALFORMED : SHOAL_OK;
}

shoal_err_t
shoal_rd_next (shoal_rd_t *rd, shoal_mp_val_t *val)
{
    if (rd->p >= rd->end) {
        return SHOAL_ERR_MALFORMED;
    }
    const uint8_t *p = rd->p;
    uint8_t c = p[0];
    if (c <= 0x7f) {
        val->type = SHOAL_MP_UINT;
        val->u = c;
        rd->p++;
        return SHOAL_OK;
    }
    if (c >= 0xe0) {
        val->type = SHOAL_MP_INT;
        val->i = (int8_t) c;
        rd->p++;
        return SHOAL_OK;
    }
    if ((c & 0xf0) == 0x80 || (c & 0xf0) == 0x90) {
        val->type = (c & 0xf0) == 0x80 ? SHOAL_MP_MAP : SHOAL_MP_ARRAY;
        val->len = c & 0x0f;
        rd->p++;
        return SHOAL_OK;
    }
    if ((c & 0xe0) == 0xa0) {
        val->type = SHOAL_MP_STR;
        return s_take (rd, 1, c & 0x1f, val);
    }
    shoal_err_t rc;
    switch (c) {
        case 0xc0:
            val->type = SHOAL_MP_NIL;
            rd->p++;
            return SHOAL_OK;
        case 0xc2:
        case 0xc3:
            val->type = SHOAL_MP_BOOL;
            val->b = c == 0xc3;
            rd->p++;
            return SHOAL_OK;
        case 0xc4:
        case 0xd9:
            if ((rc = s_need (rd, 2))) {
                return rc;
            }
            val->type = c == 0xc4 ? SHOAL_MP_BIN : SHOAL_MP_STR;
            return s_take (rd, 2, p[1], val);
        case 0xc5:
        case 0xda:
            if ((rc = s_need (rd, 3))) {
                return rc;
            }
            val->type = c == 0xc5 ? SHOAL_MP_BIN : SHOAL_MP_STR;
            return s_take (rd, 3, s_be16 (p + 1), val);
        case 0xc6:
        case 0xdb:
            if ((rc = s_need (rd, 5))) {
                return rc;
            }
            val->type = c == 0xc6 ? SHOAL_MP_BIN : SHOAL_MP_STR;
            return s_take (rd, 5, s_be32 (p + 1), val);
        case 0xc7:
        case 0xc8:
        case 0xc9: {
            size_t lsize = c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4;
            if ((rc = s_need (rd, 2 + lsize))) {
                return rc;
            }
            uint32_t n = lsize == 1   ? p[1]
                         : lsize == 2 ? s_be16 (p + 1)
                                      : s_be32 (p + 1);
            val->type = SHOAL_MP_EXT;
            val->ext_type = (int8_t) p[1 + lsize];
            return s_take (rd, 2 + lsize, n, val);
        }
        case 0xca:
        case 0xcb: {
            size_t n = c == 0xca ? 4 : 8;
            if ((rc = s_need (rd, 1 + n))) {
                return rc;
            }
            val->type = SHOAL_MP_FLOAT;
            if (n == 4) {
                uint32_t u = s_be32 (p + 1);
                float fl;
                memcpy (&fl, &u, sizeof fl);
                val->f = fl;
            } else {
                uint64_t u = s_be64 (p + 1);
                memcpy (&val->f, &u, sizeof val->f);
            }
            rd->p += 1 + n;
            return SHOAL_OK;
        }
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf: {
            size_t n = (size_t) 1 << (c - 0xcc);
            if ((rc = s_need (rd, 1 + n))) {
                return rc;
            }
            val->type = SHOAL_MP_UINT;
            val->u = n == 1   ? p[1]
                     : n == 2 ? s_be16 (p + 1)
                     : n == 4 ? s_be32 (p + 1)
                              : s_be64 (p + 1);
            rd->p += 1 + n;
            return SHOAL_OK;
        }
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            size_t n = (size_t) 1 << (c - 0xd0);
            if ((rc = s_need (rd, 1 + n))) {
                return rc;
            }
            int64_t v = n == 1   ? (int8_t) p[1]
                        : n == 2 ? (int16_t) s_be16 (p + 1)
                        : n == 4 ? (int32_t) s_be32 (p + 1)
                                 : (int64_t) s_be64 (p + 1);
            /* Normalise: non-negative values are UINT whatever the width */
            if (v >= 0) {
                val->type = SHOAL_MP_UINT;
                val->u = (uint64_t) v;
            } else {
                val->type = SHOAL_MP_INT;
                val->i = v;
            }
            rd->p += 1 + n;
            return SHOAL_OK;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
            if ((rc = s_need (rd, 2))) {
                return rc;
            }
            val->type = SHOAL_MP_EXT;
            val->ext_type = (int8_t) p[1];
            return s_take (rd, 2, 1u << (c - 0xd4), val);
        }
        case 0xdc:
        case 0xde:
            if ((rc = s_need (rd, 3))) {
                return rc;
            }
            val->type = c == 0xdc ? SHOAL_MP_ARRAY : SHOAL_MP_MAP;
            val->len = s_be16 (p + 1);
            rd->p += 3;
            return SHOAL_OK;
        case 0xdd:
        case 0xdf:
            if ((rc = s_need (rd, 5))) {
                return rc;
            }
            val->type = c == 0xdd ? SHOAL_MP_ARRAY : SHOAL_MP_MAP;
            val->len = s_be32 (p + 1);
            rd->p += 5;
            return SHOAL_OK;
        default: /* 0xc1 is never used */
            return SHOAL_ERR_MALFORMED;
    }
}

/*  One level of the validation stack: elements still to read, and whether
    the next element is a map key. */
typedef struct {
    uint64_t left;
    bool is_map;
    bool want_key;
} s_level_t;

#define S_STACK_MAX 64

static shoal_err_t
s_walk (shoal_rd_t *rd, uint32_t depth_max, const shoal_limits_t *lim)
{
    s_level_t stack[S_STACK_MAX];
    uint32_t depth = 0;
    if (depth_max > S_STACK_MAX) {
        depth_max = S_STACK_MAX;
    }
    do {
        shoal_mp_val_t v;
        bool is_key = false;
        if (depth > 0) {
            s_level_t *top = &stack[depth - 1];
            is_key = top->is_map && top->want_key;
            if (top->is_map) {
                top->want_key = !top->want_key;
            }
            top->left--;
        }
        shoal_err_t rc = shoal_rd_next (rd, &v);
        if (rc) {
            return rc;
        }
        if (is_key && v.type != SHOAL_MP_STR && v.type != SHOAL_MP_UINT &&
            v.type != SHOAL_MP_INT) {
            return SHOAL_ERR_MALFORMED;
        }
        if (lim &&
            (v.type == SHOAL_MP_STR || v.type == SHOAL_MP_BIN ||
             v.type == SHOAL_MP_EXT) &&
            v.len > lim->str_max) {
            return SHOAL_ERR_TOO_LARGE;
        }
        if (v.type == SHOAL_MP_ARRAY || v.type == SHOAL_MP_MAP) {
            uint64_t items = v.type == SHOAL_MP_MAP ? 2 * (uint64_t) v.len
                                                    : (uint64_t) v.len;
            /* each element takes at least one byte */
            if (items > shoal_rd_left (rd)) {
                return SHOAL_ERR_MALFORMED;
            }
            if (lim && v.len > lim->count_max) {
                return SHOAL_ERR_TOO_LARGE;
            }
            if (items > 0) {
                if (depth >= depth_max) {
                    return SHOAL_ERR_TOO_LARGE;
                }
                stack[depth].left = items;
                stack[depth].is_map = v.type == SHOAL_MP_MAP;
                stack[depth].want_key = true;
                depth++;
            }
        }
        while (depth > 0 && stack[depth - 1].left == 0) {
            depth--;
        }
    } while (depth > 0);
    return SHOAL_OK;
}

shoal_err_t
shoal_rd_skip (shoal_rd_t *rd, uint32_t depth_max)
{
    return s_walk (rd, depth_max, NULL);
}

shoal_err_t
shoal_mp_validate (const uint8_t *data, size_t size, const shoal_limits_t *lim,
                   size_t *used)
{
    shoal_rd_t rd;
    shoal_rd_init (&rd, data, size);
    shoal_err_t rc = s_walk (&rd, lim->depth_max, lim);
    if (rc == SHOAL_OK && used) {
        *used = (size_t) (rd.p - data);
    }
    return rc;
}

shoal_err_t
shoal_rd_uint (shoal_rd_t *rd, uint64_t *out)
{
    shoal_mp_val_t v;
    shoal_err_t rc = shoal_rd_next (rd, &v);
    if (rc) {
        return rc;
    }
    if (v.type != SHOAL_MP_UINT) {
        return SHOAL_ERR_INVALID;
    }
    *out = v.u;
    return SHOAL_OK;
}

shoal_err_t
shoal_rd_str (shoal_rd_t *rd, const char **s, uint32_t *len)
{
    shoal_mp_val_t v;
    shoal_err_t rc = shoal_rd_next (rd, &v);
    if (rc) {
        return rc;
    }
    if (v.type != SHOAL_MP_STR) {
        return SHOAL_ERR_INVALID;
    }
    *s = (const char *) v.ptr;
    *len = v.len;
    return SHOAL_OK;
}

shoal_err_t
shoal_rd_bin (shoal_rd_t *rd, const uint8_t **p, uint32_t *len)
{
    shoal_mp_val_t v;
    shoal_err_t rc = shoal_rd_next (rd, &v);
    if (rc) {
        return rc;
    }
    if (v.type != SHOAL_MP_BIN) {
        return SHOAL_ERR_INVALID;
    }
    *p = v.ptr;
    *len = v.len;
    return SHOAL_OK;
}

static shoal_err_t
s_rd_container (shoal_rd_t *rd, shoal_mp_type_t want, uint32_t *count)
{
    shoal_mp_val_t v;
    shoal_err_t rc = shoal_rd_next (rd, &v);
    if (rc) {
        return rc;
    }
    if (v.type != want) {
        return SHOAL_ERR_INVALID;
    }
    *count = v.len;
    return SHOAL_OK;
}

shoal_err_t
shoal_rd_array (shoal_rd_t *rd, uint32_t *count)
{
    return s_rd_container (rd, SHOAL_MP_ARRAY, count);
}

shoal_err_t
shoal_rd_map (shoal_rd_t *rd, uint32_t *count)
{
    return s_rd_container (rd, SHOAL_MP_MAP, count);
}

shoal_err_t
shoal_map_find (const uint8_t *map, size_t size, const char *key,
                shoal_mp_val_t *val, const uint8_t **raw, size_t *raw_len)
{
    shoal_rd_t rd;
    shoal_rd_init (&rd, map, size);
    uint32_t n;
    shoal_err_t rc = shoal_rd_map (&rd, &n);
    if (rc) {
        return rc == SHOAL_ERR_INVALID ? SHOAL_ERR_MALFORMED : rc;
    }
    size_t klen = strlen (key);
    for (uint32_t i = 0; i < n; i++) {
        shoal_mp_val_t k;
        if ((rc = shoal_rd_next (&rd, &k))) {
            return rc;
        }
        bool match = k.type == SHOAL_MP_STR && k.len == klen &&
                     memcmp (k.ptr, key, klen) == 0;
        if (k.type == SHOAL_MP_ARRAY || k.type == SHOAL_MP_MAP) {
            return SHOAL_ERR_MALFORMED;
        }
        const uint8_t *start = rd.p;
        if (match) {
            shoal_rd_t peek = rd;
            if ((rc = shoal_rd_next (&peek, val))) {
                return rc;
            }
        }
        if ((rc = shoal_rd_skip (&rd, S_STACK_MAX))) {
            return rc;
        }
        if (match) {
            if (raw) {
                *raw = start;
                *raw_len = (size_t) (rd.p - start);
            }
            return SHOAL_OK;
        }
    }
    return SHOAL_ERR_NOT_FOUND;
}

static shoal_err_t
s_find_typed (const uint8_t *map, size_t size, const char *key,
              shoal_mp_type_t want, shoal_mp_val_t *v)
{
    shoal_err_t rc = shoal_map_find (map, size, key, v, NULL, NULL);
    if (rc) {
        return rc;
    }
    return v->type == want ? SHOAL_OK : SHOAL_ERR_INVALID;
}

shoal_err_t
shoal_map_str (const uint8_t *map, size_t size, const char *key, const char **s,
               uint32_t *len)
{
    shoal_mp_val_t v;
    shoal_err_t rc = s_find_typed (map, size, key, SHOAL_MP_STR, &v);
    if (rc == SHOAL_OK) {
        *s = (const char *) v.ptr;
        *len = v.len;
    }
    return rc;
}

shoal_err_t
shoal_map_uint (const uint8_t *map, size_t size, const char *key, uint64_t *out)
{
    shoal_mp_val_t v;
    shoal_err_t rc = s_find_typed (map, size, key, SHOAL_MP_UINT, &v);
    if (rc == SHOAL_OK) {
        *out = v.u;
    }
    return rc;
}

shoal_err_t
shoal_map_bin (const uint8_t *map, size_t size, const char *key,
               const uint8_t **p, uint32_t *len)
{
    shoal_mp_val_t v;
    shoal_err_t rc = s_find_typed (map, size, key, SHOAL_MP_BIN, &v);
    if (rc == SHOAL_OK) {
        *p = v.ptr;
        *len = v.len;
    }
    return rc;
}

shoal_err_t
shoal_map_bool (const uint8_t *map, size_t size, const char *key, bool *out)
{
    shoal_mp_val_t v;
    shoal_err_t rc = s_find_typed (map, size, key, SHOAL_MP_BOOL, &v);
    if (rc == SHOAL_OK) {
        *out = v.b;
    }
    return rc;
}

shoal_err_t
shoal_map_array (const uint8_t *map, size_t size, const char *key,
                 shoal_rd_t *rd, uint32_t *count)
{
    shoal_mp_val_t v;
    const uint8_t *raw;
    size_t raw_len;
    shoal_err_t rc = shoal_map_find (map, size, key, &v, &raw, &raw_len);
    if (rc) {
        return rc;
    }
    if (v.type != SHOAL_MP_ARRAY) {
        return SHOAL_ERR_INVALID;
    }
    shoal_rd_init (rd, raw, raw_len);
    return shoal_rd_array (rd, count);
}

shoal_err_t
shoal_map_strcpy (const uint8_t *map, size_t size, const char *key, char *buf,
                  size_t cap)
{
    const char *s;
    uint32_t len;
    shoal_err_t rc = shoal_map_str (map, size, key, &s, &len);
    if (rc) {
        return rc;
    }
    if ((size_t) len + 1 > cap) {
        return SHOAL_ERR_TOO_LARGE;
    }
    if (memchr (s, 0, len)) {
        return SHOAL_ERR_INVALID;
    }
    memcpy (buf, s, len);
    buf[len] = '\0';
    return SHOAL_OK;
}

shoal_err_t
shoal_rd_key (shoal_rd_t *rd, const char *const *keys, size_t n, uint64_t *seen,
              size_t *index, uint32_t depth_max)
{
    const char *k;
    uint32_t klen;
    shoal_err_t rc = shoal_rd_str (rd, &k, &klen);
    if (rc) {
        return rc == SHOAL_ERR_INVALID ? SHOAL_ERR_MALFORMED : rc;
    }
    size_t i = 0;
    while (i < n && (strlen (keys[i]) != klen || memcmp (k, keys[i], klen))) {
        i++;
    }
    *index = i;
    if (i == n) {
        return shoal_rd_skip (rd, depth_max);
    }
    if (i >= 64 || (*seen & ((uint64_t) 1 << i))) {
        return SHOAL_ERR_MALFORMED;
    }
    *seen |= (uint64_t) 1 << i;
    return SHOAL_OK;
}
