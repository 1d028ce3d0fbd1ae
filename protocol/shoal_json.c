/*  shoal_json.c - recursive, depth-bounded conversion. Recursion is fine
    here: depth is limited before any call nests. */
#include "shoal_json.h"
#include "shoal_mp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static shoal_err_t
s_to_mp (const json_t *j, shoal_wr_t *wr, int depth)
{
    if (depth > SHOAL_DEPTH_MAX) {
        return SHOAL_ERR_TOO_LARGE;
    }
    switch (json_typeof (j)) {
        case JSON_NULL:
            shoal_wr_nil (wr);
            break;
        case JSON_TRUE:
            shoal_wr_bool (wr, true);
            break;
        case JSON_FALSE:
            shoal_wr_bool (wr, false);
            break;
        case JSON_INTEGER: {
            json_int_t v = json_integer_value (j);
            if (v >= 0) {
                shoal_wr_uint (wr, (uint64_t) v);
            } else {
                shoal_wr_int (wr, (int64_t) v);
            }
            break;
        }
        case JSON_REAL:
            shoal_wr_double (wr, json_real_value (j));
            break;
        case JSON_STRING:
            shoal_wr_strn (wr, json_string_value (j), json_string_length (j));
            break;
        case JSON_ARRAY: {
            size_t n = json_array_size (j);
            if (n > SHOAL_COUNT_MAX) {
                return SHOAL_ERR_TOO_LARGE;
            }
            shoal_wr_array (wr, (uint32_t) n);
            for (size_t i = 0; i < n; i++) {
                shoal_err_t rc = s_to_mp (json_array_get (j, i), wr, depth + 1);
                if (rc) {
                    return rc;
                }
            }
            break;
        }
        case JSON_OBJECT: {
            size_t n = json_object_size (j);
            if (n > SHOAL_COUNT_MAX) {
                return SHOAL_ERR_TOO_LARGE;
            }
            shoal_wr_map (wr, (uint32_t) n);
            const char *key;
            json_t *val;
            json_object_foreach ((json_t *) j, key, val)
            {
                shoal_wr_str (wr, key);
                shoal_err_t rc = s_to_mp (val, wr, depth + 1);
                if (rc) {
                    return rc;
                }
            }
            break;
        }
    }
    return shoal_wr_error (wr);
}

shoal_err_t
shoal_json_to_mp (const json_t *json, shoal_wr_t *wr)
{
    if (!json) {
        return SHOAL_ERR_INVALID;
    }
    return s_to_mp (json, wr, 0);
}

static json_t *
s_hex (const uint8_t *p, uint32_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *buf = malloc ((size_t) len * 2 + 1);
    if (!buf) {
        return NULL;
    }
    for (uint32_t i = 0; i < len; i++) {
        buf[2 * i] = hex[p[i] >> 4];
        buf[2 * i + 1] = hex[p[i] & 15];
    }
    json_t *s = json_stringn (buf, (size_t) len * 2);
    free (buf);
    return s;
}

/*  Map keys must be UTF-8 for jansson: other bytes become hex, as str
    values do. A key longer than cap-1 is cut on a character boundary. */
static void
s_key_text (const shoal_mp_val_t *k, char *key, size_t cap)
{
    json_t *probe = json_stringn ((const char *) k->ptr, k->len);
    if (probe) {
        json_decref (probe);
        size_t n = k->len;
        if (n > cap - 1) {
            n = cap - 1;
            while (n > 0 && (k->ptr[n] & 0xc0) == 0x80) {
                n--;
            }
        }
        memcpy (key, k->ptr, n);
        key[n] = '\0';
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (uint32_t i = 0; i < k->len && n + 2 < cap; i++) {
        key[n++] = hex[k->ptr[i] >> 4];
        key[n++] = hex[k->ptr[i] & 15];
    }
    key[n] = '\0';
}

static json_t *
s_to_json (shoal_rd_t *rd, uint32_t depth, uint32_t depth_max)
{
    shoal_mp_val_t v;
    if (depth > depth_max || shoal_rd_next (rd, &v) != SHOAL_OK) {
        return NULL;
    }
    switch (v.type) {
        case SHOAL_MP_NIL:
        case SHOAL_MP_EXT:
            return json_null ();
        case SHOAL_MP_BOOL:
            return json_boolean (v.b);
        case SHOAL_MP_UINT:
            return json_integer ((json_int_t) v.u);
        case SHOAL_MP_INT:
            return json_integer ((json_int_t) v.i);
        case SHOAL_MP_FLOAT:
            /* JSON has no NaN or infinity (jansson refuses them) */
            return isfinite (v.f) ? json_real (v.f) : json_null ();
        case SHOAL_MP_STR: {
            /* Not valid UTF-8: keep the bytes visible rather than fail. */
            json_t *s = json_stringn ((const char *) v.ptr, v.len);
            return s ? s : s_hex (v.ptr, v.len);
        }
        case SHOAL_MP_BIN:
            return s_hex (v.ptr, v.len);
        case SHOAL_MP_ARRAY: {
            json_t *a = json_array ();
            for (uint32_t i = 0; a && i < v.len; i++) {
                json_t *e = s_to_json (rd, depth + 1, depth_max);
                if (!e || json_array_append_new (a, e)) {
                    json_decref (a);
                    return NULL;
                }
            }
            return a;
        }
        case SHOAL_MP_MAP: {
            json_t *o = json_object ();
            for (uint32_t i = 0; o && i < v.len; i++) {
                shoal_mp_val_t k;
                char key[128];
                if (shoal_rd_next (rd, &k) != SHOAL_OK) {
                    json_decref (o);
                    return NULL;
                }
                if (k.type == SHOAL_MP_STR) {
                    s_key_text (&k, key, sizeof key);
                } else if (k.type == SHOAL_MP_UINT) {
                    snprintf (key, sizeof key, "%llu",
                              (unsigned long long) k.u);
                } else {
                    snprintf (key, sizeof key, "%lld", (long long) k.i);
                }
                json_t *e = s_to_json (rd, depth + 1, depth_max);
                if (!e || json_object_set_new (o, key, e)) {
                    json_decref (o);
                    return NULL;
                }
            }
            return o;
        }
    }
    return NULL;
}

json_t *
shoal_mp_to_json (const uint8_t *data, size_t size, const shoal_limits_t *lim,
                  shoal_err_t *err)
{
    size_t used;
    shoal_err_t rc = shoal_mp_validate (data, size, lim, &used);
    json_t *j = NULL;
    if (rc == SHOAL_OK) {
        shoal_rd_t rd;
        shoal_rd_init (&rd, data, used);
        /* validated: no value is nested deeper than lim allows */
        j = s_to_json (&rd, 0, lim->depth_max);
        if (!j) {
            rc = SHOAL_ERR_NOMEM;
        }
    }
    if (err) {
        *err = rc;
    }
    return j;
}
