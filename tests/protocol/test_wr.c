/*  test_wr.c - every msgpack format written by shoal_wr_* (or, for the
    formats the writer never emits, by hand) and read back by
    shoal_rd_next. Each case pins the format byte too, so a change in how
    the encoder picks widths cannot silently skip a reader branch.
*/
#include "shoal_test.h"

#include "shoal_mp.h"
#include "shoal_wr.h"

#include <math.h>

/*  Checks that wr holds exactly one item with the given first byte and
    reads it into *val; the reader must end exactly at the end. */
#define READ_ONE(wr, byte0, val)                                               \
    do {                                                                       \
        CHECK (shoal_wr_size (wr) > 0);                                        \
        CHECK_EQ (shoal_wr_data (wr)[0], (byte0));                             \
        shoal_rd_t rd_;                                                        \
        shoal_rd_init (&rd_, shoal_wr_data (wr), shoal_wr_size (wr));          \
        CHECK_OK (shoal_rd_next (&rd_, (val)));                                \
        CHECK_EQ (shoal_rd_left (&rd_), 0);                                    \
        shoal_limits_t lim_ = shoal_limits_default ();                         \
        size_t used_ = 0;                                                      \
        CHECK_OK (shoal_mp_validate (shoal_wr_data (wr), shoal_wr_size (wr),   \
                                     &lim_, &used_));                          \
        CHECK_EQ (used_, shoal_wr_size (wr));                                  \
    } while (0)

typedef struct {
    uint64_t v;
    uint8_t byte0;
    size_t size;
} s_uint_case_t;

SHOAL_TEST (test_wr_uint)
{
    static const s_uint_case_t cases[] = {
        {0, 0x00, 1},
        {1, 0x01, 1},
        {0x7f, 0x7f, 1},
        {0x80, 0xcc, 2},
        {0xff, 0xcc, 2},
        {0x100, 0xcd, 3},
        {0xffff, 0xcd, 3},
        {0x10000, 0xce, 5},
        {0xffffffffULL, 0xce, 5},
        {0x100000000ULL, 0xcf, 9},
        {0x0123456789abcdefULL, 0xcf, 9},
        {UINT64_MAX, 0xcf, 9},
    };
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_wr_reset (wr);
        shoal_wr_uint (wr, cases[i].v);
        CHECK_OK (shoal_wr_error (wr));
        CHECK_EQ (shoal_wr_size (wr), cases[i].size);
        shoal_mp_val_t v;
        READ_ONE (wr, cases[i].byte0, &v);
        CHECK_EQ (v.type, SHOAL_MP_UINT);
        CHECK (v.u == cases[i].v);

        shoal_rd_t rd;
        uint64_t u = 0;
        shoal_rd_init (&rd, shoal_wr_data (wr), shoal_wr_size (wr));
        CHECK_OK (shoal_rd_uint (&rd, &u));
        CHECK (u == cases[i].v);
    }
    shoal_wr_destroy (&wr);
    CHECK (wr == NULL);
    shoal_wr_destroy (&wr); /* safe twice */
}

typedef struct {
    int64_t v;
    uint8_t byte0;
    size_t size;
} s_int_case_t;

SHOAL_TEST (test_wr_int)
{
    static const s_int_case_t cases[] = {
        {-1, 0xff, 1},
        {-32, 0xe0, 1},
        {-33, 0xd0, 2},
        {-128, 0xd0, 2},
        {-129, 0xd1, 3},
        {-32768, 0xd1, 3},
        {-32769, 0xd2, 5},
        {INT32_MIN, 0xd2, 5},
        {(int64_t) INT32_MIN - 1, 0xd3, 9},
        {INT64_MIN, 0xd3, 9},
    };
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_wr_reset (wr);
        shoal_wr_int (wr, cases[i].v);
        CHECK_OK (shoal_wr_error (wr));
        CHECK_EQ (shoal_wr_size (wr), cases[i].size);
        shoal_mp_val_t v;
        READ_ONE (wr, cases[i].byte0, &v);
        CHECK_EQ (v.type, SHOAL_MP_INT);
        CHECK (v.i == cases[i].v);

        /* A negative number is not a uint. */
        shoal_rd_t rd;
        uint64_t u;
        shoal_rd_init (&rd, shoal_wr_data (wr), shoal_wr_size (wr));
        CHECK_RC (shoal_rd_uint (&rd, &u), SHOAL_ERR_INVALID);
    }
    /* Non-negative values through wr_int come out as UINT. */
    shoal_wr_reset (wr);
    shoal_wr_int (wr, 300);
    shoal_mp_val_t v;
    READ_ONE (wr, 0xcd, &v);
    CHECK_EQ (v.type, SHOAL_MP_UINT);
    CHECK_EQ (v.u, 300);
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (test_rd_signed_non_negative)
{
    /* int8..int64 holding a non-negative value read as UINT: other
       encoders (Python, Go) may emit these. */
    static const uint8_t enc[][9] = {
        {0xd0, 0x05},
        {0xd1, 0x01, 0x00},
        {0xd2, 0x00, 0x01, 0x00, 0x00},
        {0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
    };
    static const size_t sizes[] = {2, 3, 5, 9};
    static const uint64_t want[] = {5, 256, 65536, INT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        shoal_rd_t rd;
        shoal_mp_val_t v;
        shoal_rd_init (&rd, enc[i], sizes[i]);
        CHECK_OK (shoal_rd_next (&rd, &v));
        CHECK_EQ (v.type, SHOAL_MP_UINT);
        CHECK (v.u == want[i]);
        CHECK_EQ (shoal_rd_left (&rd), 0);
    }
}

SHOAL_TEST (test_wr_float)
{
    static const double values[] = {
        0.0, -0.0, 1.5, -2.25, 3.141592653589793, 1e300, -1e-300, INFINITY};
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        shoal_wr_reset (wr);
        shoal_wr_double (wr, values[i]);
        CHECK_EQ (shoal_wr_size (wr), 9);
        shoal_mp_val_t v;
        READ_ONE (wr, 0xcb, &v);
        CHECK_EQ (v.type, SHOAL_MP_FLOAT);
        CHECK (memcmp (&v.f, &values[i], sizeof v.f) == 0);
    }
    shoal_wr_reset (wr);
    shoal_wr_double (wr, NAN);
    shoal_mp_val_t v;
    READ_ONE (wr, 0xcb, &v);
    CHECK (isnan (v.f));

    /* float32 is never written by Shoal but must be read: 1.5f, -0.25f. */
    static const uint8_t f32[] = {0xca, 0x3f, 0xc0, 0x00, 0x00};
    static const uint8_t f32n[] = {0xca, 0xbe, 0x80, 0x00, 0x00};
    shoal_wr_reset (wr);
    shoal_wr_raw (wr, f32, sizeof f32);
    READ_ONE (wr, 0xca, &v);
    CHECK_EQ (v.type, SHOAL_MP_FLOAT);
    CHECK (v.f == 1.5);
    shoal_wr_reset (wr);
    shoal_wr_raw (wr, f32n, sizeof f32n);
    READ_ONE (wr, 0xca, &v);
    CHECK (v.f == -0.25);
    shoal_wr_destroy (&wr);
}

/*  Writes a str or bin of len bytes (a pattern) and reads it back. */
static void
s_check_blob (bool *shoal_test_failed_, bool is_bin, size_t len, uint8_t byte0,
              size_t head)
{
    uint8_t *data = malloc (len ? len : 1);
    CHECK (data);
    for (size_t i = 0; i < len; i++) {
        data[i] = (uint8_t) ('a' + i % 26);
    }
    shoal_wr_t *wr = shoal_wr_new ();
    if (!wr) {
        free (data);
        SHOAL_FAIL_ ("shoal_wr_new");
    }
    if (is_bin) {
        shoal_wr_bin (wr, data, len);
    } else {
        shoal_wr_strn (wr, (const char *) data, len);
    }
    bool ok = shoal_wr_error (wr) == SHOAL_OK &&
              shoal_wr_size (wr) == head + len &&
              shoal_wr_data (wr)[0] == byte0;
    shoal_rd_t rd;
    shoal_mp_val_t v;
    shoal_rd_init (&rd, shoal_wr_data (wr), shoal_wr_size (wr));
    ok = ok && shoal_rd_next (&rd, &v) == SHOAL_OK &&
         v.type == (is_bin ? SHOAL_MP_BIN : SHOAL_MP_STR) && v.len == len &&
         memcmp (v.ptr, data, len) == 0 && shoal_rd_left (&rd) == 0;
    /* The typed reader agrees, and refuses the other kind. */
    const uint8_t *p = NULL;
    const char *s = NULL;
    uint32_t n = 0;
    shoal_rd_init (&rd, shoal_wr_data (wr), shoal_wr_size (wr));
    if (is_bin) {
        ok = ok && shoal_rd_bin (&rd, &p, &n) == SHOAL_OK && n == len;
        shoal_rd_init (&rd, shoal_wr_data (wr), shoal_wr_size (wr));
        ok = ok && shoal_rd_str (&rd, &s, &n) == SHOAL_ERR_INVALID;
    } else {
        ok = ok && shoal_rd_str (&rd, &s, &n) == SHOAL_OK && n == len;
        shoal_rd_init (&rd, shoal_wr_data (wr), shoal_wr_size (wr));
        ok = ok && shoal_rd_bin (&rd, &p, &n) == SHOAL_ERR_INVALID;
    }
    shoal_wr_destroy (&wr);
    free (data);
    if (!ok) {
        SHOAL_FAIL_ ("%s of %zu bytes (want 0x%02x) did not round-trip",
                     is_bin ? "bin" : "str", len, byte0);
    }
}

#define CHECK_BLOB(is_bin, len, byte0, head)                                   \
    do {                                                                       \
        s_check_blob (shoal_test_failed_, is_bin, len, byte0, head);           \
        if (*shoal_test_failed_) {                                             \
            return;                                                            \
        }                                                                      \
    } while (0)

SHOAL_TEST (test_wr_str)
{
    CHECK_BLOB (false, 0, 0xa0, 1);
    CHECK_BLOB (false, 31, 0xbf, 1);
    CHECK_BLOB (false, 32, 0xd9, 2);
    CHECK_BLOB (false, 255, 0xd9, 2);
    CHECK_BLOB (false, 256, 0xda, 3);
    CHECK_BLOB (false, 65535, 0xda, 3);
    CHECK_BLOB (false, 65536, 0xdb, 5);
    CHECK_BLOB (false, 70000, 0xdb, 5);

    /* NUL-terminated helper, and NULL as nil. */
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_wr_str (wr, "queue");
    shoal_mp_val_t v;
    READ_ONE (wr, 0xa5, &v);
    CHECK_EQ (v.type, SHOAL_MP_STR);
    CHECK (v.len == 5 && memcmp (v.ptr, "queue", 5) == 0);
    shoal_wr_reset (wr);
    shoal_wr_str (wr, NULL);
    READ_ONE (wr, 0xc0, &v);
    CHECK_EQ (v.type, SHOAL_MP_NIL);
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (test_wr_bin)
{
    CHECK_BLOB (true, 0, 0xc4, 2);
    CHECK_BLOB (true, 16, 0xc4, 2);
    CHECK_BLOB (true, 255, 0xc4, 2);
    CHECK_BLOB (true, 256, 0xc5, 3);
    CHECK_BLOB (true, 65535, 0xc5, 3);
    CHECK_BLOB (true, 65536, 0xc6, 5);
}

SHOAL_TEST (test_wr_nil_bool)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_mp_val_t v;
    shoal_wr_nil (wr);
    READ_ONE (wr, 0xc0, &v);
    CHECK_EQ (v.type, SHOAL_MP_NIL);
    shoal_wr_reset (wr);
    shoal_wr_bool (wr, true);
    READ_ONE (wr, 0xc3, &v);
    CHECK_EQ (v.type, SHOAL_MP_BOOL);
    CHECK (v.b);
    shoal_wr_reset (wr);
    shoal_wr_bool (wr, false);
    READ_ONE (wr, 0xc2, &v);
    CHECK_EQ (v.type, SHOAL_MP_BOOL);
    CHECK (!v.b);
    shoal_wr_destroy (&wr);
}

typedef struct {
    uint8_t bytes[24];
    size_t size;
    int8_t ext_type;
    uint32_t len;
} s_ext_case_t;

SHOAL_TEST (test_rd_ext)
{
    /* The writer has no ext call: Shoal never emits ext, but reads it
       (and shoal_json turns it into null). */
    static const s_ext_case_t cases[] = {
        {{0xd4, 0x01, 0xaa}, 3, 1, 1},
        {{0xd5, 0xff, 0xaa, 0xbb}, 4, -1, 2},
        {{0xd6, 0x05, 1, 2, 3, 4}, 6, 5, 4},
        {{0xd7, 0x80, 1, 2, 3, 4, 5, 6, 7, 8}, 10, -128, 8},
        {{0xd8, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
         18,
         127,
         16},
        {{0xc7, 0x03, 0x02, 9, 8, 7}, 6, 2, 3},
        {{0xc7, 0x00, 0x02}, 3, 2, 0},
        {{0xc8, 0x00, 0x02, 0x0a, 1, 2}, 6, 10, 2},
        {{0xc9, 0x00, 0x00, 0x00, 0x01, 0xfe, 0x42}, 7, -2, 1},
    };
    shoal_limits_t lim = shoal_limits_default ();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const s_ext_case_t *c = &cases[i];
        shoal_rd_t rd;
        shoal_mp_val_t v;
        shoal_rd_init (&rd, c->bytes, c->size);
        CHECK_OK (shoal_rd_next (&rd, &v));
        CHECK_EQ (v.type, SHOAL_MP_EXT);
        CHECK_EQ (v.ext_type, c->ext_type);
        CHECK_EQ (v.len, c->len);
        CHECK (v.ptr == c->bytes + c->size - c->len);
        CHECK_EQ (shoal_rd_left (&rd), 0);
        size_t used;
        CHECK_OK (shoal_mp_validate (c->bytes, c->size, &lim, &used));
        CHECK_EQ (used, c->size);
        /* One byte short of the payload is malformed. */
        shoal_rd_init (&rd, c->bytes, c->size - 1);
        CHECK_RC (shoal_rd_next (&rd, &v), SHOAL_ERR_MALFORMED);
    }
}

/*  Writes a container of n elements (fixints) and checks its head. */
static void
s_check_container (bool *shoal_test_failed_, bool is_map, uint32_t n,
                   uint8_t byte0, size_t head)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    if (is_map) {
        shoal_wr_map (wr, n);
    } else {
        shoal_wr_array (wr, n);
    }
    for (uint32_t i = 0; i < n * (is_map ? 2u : 1u); i++) {
        shoal_wr_uint (wr, i & 0x7f);
    }
    shoal_limits_t lim = shoal_limits_default ();
    size_t size = shoal_wr_size (wr);
    size_t used = 0;
    bool ok = shoal_wr_error (wr) == SHOAL_OK && size > 0 &&
              shoal_wr_data (wr)[0] == byte0 &&
              size == head + n * (is_map ? 2u : 1u);
    shoal_rd_t rd;
    shoal_mp_val_t v;
    shoal_rd_init (&rd, shoal_wr_data (wr), size);
    ok = ok && shoal_rd_next (&rd, &v) == SHOAL_OK &&
         v.type == (is_map ? SHOAL_MP_MAP : SHOAL_MP_ARRAY) && v.len == n &&
         shoal_rd_left (&rd) == size - head;
    uint32_t count = 0;
    shoal_rd_init (&rd, shoal_wr_data (wr), size);
    ok = ok &&
         (is_map ? shoal_rd_map (&rd, &count) : shoal_rd_array (&rd, &count)) ==
             SHOAL_OK &&
         count == n;
    ok =
        ok &&
        shoal_mp_validate (shoal_wr_data (wr), size, &lim, &used) == SHOAL_OK &&
        used == size;
    shoal_rd_init (&rd, shoal_wr_data (wr), size);
    ok = ok && shoal_rd_skip (&rd, 1) == SHOAL_OK && shoal_rd_left (&rd) == 0;
    shoal_wr_destroy (&wr);
    if (!ok) {
        SHOAL_FAIL_ ("%s of %u (want 0x%02x) did not round-trip",
                     is_map ? "map" : "array", n, byte0);
    }
}

#define CHECK_CONTAINER(is_map, n, byte0, head)                                \
    do {                                                                       \
        s_check_container (shoal_test_failed_, is_map, n, byte0, head);        \
        if (*shoal_test_failed_) {                                             \
            return;                                                            \
        }                                                                      \
    } while (0)

SHOAL_TEST (test_wr_array)
{
    CHECK_CONTAINER (false, 0, 0x90, 1);
    CHECK_CONTAINER (false, 15, 0x9f, 1);
    CHECK_CONTAINER (false, 16, 0xdc, 3);
    CHECK_CONTAINER (false, 65535, 0xdc, 3);
    CHECK_CONTAINER (false, 65536, 0xdd, 5);
}

SHOAL_TEST (test_wr_map)
{
    CHECK_CONTAINER (true, 0, 0x80, 1);
    CHECK_CONTAINER (true, 15, 0x8f, 1);
    CHECK_CONTAINER (true, 16, 0xde, 3);
    CHECK_CONTAINER (true, 65535, 0xde, 3);
    CHECK_CONTAINER (true, 65536, 0xdf, 5);
}

SHOAL_TEST (test_rd_reserved_byte)
{
    static const uint8_t c1[] = {0xc1};
    shoal_rd_t rd;
    shoal_mp_val_t v;
    shoal_rd_init (&rd, c1, sizeof c1);
    CHECK_RC (shoal_rd_next (&rd, &v), SHOAL_ERR_MALFORMED);
    shoal_rd_init (&rd, c1, 0);
    CHECK_RC (shoal_rd_next (&rd, &v), SHOAL_ERR_MALFORMED);
}

SHOAL_TEST (test_wr_reset_and_kv)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    CHECK_EQ (shoal_wr_size (wr), 0);
    shoal_wr_map (wr, 5);
    shoal_wr_kv_str (wr, "s", "v");
    shoal_wr_kv_strn (wr, "n", "abcdef", 3);
    shoal_wr_kv_uint (wr, "u", 1000);
    shoal_wr_kv_bool (wr, "b", true);
    shoal_wr_kv_bin (wr, "x", "\x01\x02", 2);
    CHECK_OK (shoal_wr_error (wr));
    static const uint8_t want[] = {0x85, 0xa1, 's',  0xa1, 'v',  0xa1, 'n',
                                   0xa3, 'a',  'b',  'c',  0xa1, 'u',  0xcd,
                                   0x03, 0xe8, 0xa1, 'b',  0xc3, 0xa1, 'x',
                                   0xc4, 0x02, 0x01, 0x02};
    CHECK_EQ (shoal_wr_size (wr), sizeof want);
    CHECK (memcmp (shoal_wr_data (wr), want, sizeof want) == 0);

    /* reset empties but keeps going; kv_raw splices encoded bytes. */
    shoal_wr_reset (wr);
    CHECK_EQ (shoal_wr_size (wr), 0);
    static const uint8_t inner[] = {0x92, 0x01, 0x02};
    shoal_wr_map (wr, 1);
    shoal_wr_kv_raw (wr, "a", inner, sizeof inner);
    static const uint8_t want2[] = {0x81, 0xa1, 'a', 0x92, 0x01, 0x02};
    CHECK_EQ (shoal_wr_size (wr), sizeof want2);
    CHECK (memcmp (shoal_wr_data (wr), want2, sizeof want2) == 0);
    /* The mutable view is the same buffer. */
    shoal_wr_data_mut (wr)[4] = 0x07;
    CHECK_EQ (shoal_wr_data (wr)[4], 0x07);
    shoal_wr_raw (wr, NULL, 0);
    CHECK_EQ (shoal_wr_size (wr), sizeof want2);
    shoal_wr_destroy (&wr);
    shoal_wr_destroy (NULL);
}

SHOAL_TEST_MAIN (test_wr_uint, test_wr_int, test_rd_signed_non_negative,
                 test_wr_float, test_wr_str, test_wr_bin, test_wr_nil_bool,
                 test_rd_ext, test_wr_array, test_wr_map, test_rd_reserved_byte,
                 test_wr_reset_and_kv)
