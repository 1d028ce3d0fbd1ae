/*  test_mp.c - shoal_mp_validate and the map lookups.

    The validator's contract is the one the bus relies on: any prefix of a
    valid value is MALFORMED (never a crash, never an over-read: each
    prefix is copied to a buffer of exactly its size so ASan sees the
    edge), a value over a limit is TOO_LARGE, and nothing is allocated.
    The allocation claim is checked through the linker's --wrap seam on
    malloc/calloc/realloc (see CMakeLists.txt).
*/
#include "shoal_test.h"

#include "shoal_mp.h"
#include "shoal_wr.h"

/*  Allocation counter: the protocol library is linked with
    -Wl,--wrap=malloc,... so its calls land here. */
static unsigned long s_allocs;

void *__real_malloc (size_t size);
void *__real_calloc (size_t n, size_t size);
void *__real_realloc (void *p, size_t size);
void *__wrap_malloc (size_t size);
void *__wrap_calloc (size_t n, size_t size);
void *__wrap_realloc (void *p, size_t size);

void *
__wrap_malloc (size_t size)
{
    s_allocs++;
    return __real_malloc (size);
}

void *
__wrap_calloc (size_t n, size_t size)
{
    s_allocs++;
    return __real_calloc (n, size);
}

void *
__wrap_realloc (void *p, size_t size)
{
    s_allocs++;
    return __real_realloc (p, size);
}

/*  Validates a private copy of exactly size bytes. The copy is taken with
    __real_malloc: the compiler treats a plain malloc() as touching no
    program state and may move the read of s_allocs above it, which would
    count the test's own allocation. */
static shoal_err_t
s_validate (const uint8_t *data, size_t size, const shoal_limits_t *lim,
            size_t *used)
{
    uint8_t *copy = __real_malloc (size ? size : 1);
    if (!copy) {
        return SHOAL_ERR_NOMEM;
    }
    memcpy (copy, data, size);
    unsigned long before = s_allocs;
    shoal_err_t rc = shoal_mp_validate (copy, size, lim, used);
    if (s_allocs != before) {
        fprintf (stderr, "  shoal_mp_validate allocated\n");
        rc = SHOAL_ERR__COUNT;
    }
    free (copy);
    return rc;
}

/*  A document that uses every format the reader knows, nested. */
static shoal_wr_t *
s_rich_doc (void)
{
    shoal_wr_t *wr = shoal_wr_new ();
    if (!wr) {
        return NULL;
    }
    static char big[300];
    memset (big, 'q', sizeof big);
    static const uint8_t ext[] = {0xd6, 0x01, 1, 2,    3,    4,    0xc7, 0x02,
                                  0x03, 9,    9, 0xca, 0x3f, 0xc0, 0,    0};
    shoal_wr_map (wr, 17);
    shoal_wr_kv_uint (wr, "fix", 7);
    shoal_wr_kv_uint (wr, "u8", 200);
    shoal_wr_kv_uint (wr, "u16", 60000);
    shoal_wr_kv_uint (wr, "u32", 4000000000u);
    shoal_wr_kv_uint (wr, "u64", UINT64_MAX);
    shoal_wr_str (wr, "neg");
    shoal_wr_array (wr, 5);
    shoal_wr_int (wr, -3);
    shoal_wr_int (wr, -100);
    shoal_wr_int (wr, -1000);
    shoal_wr_int (wr, -100000);
    shoal_wr_int (wr, INT64_MIN);
    shoal_wr_str (wr, "f");
    shoal_wr_double (wr, 2.5);
    shoal_wr_kv_str (wr, "s", "short");
    shoal_wr_kv_strn (wr, "s8", big, 40);
    shoal_wr_kv_strn (wr, "s16", big, sizeof big);
    shoal_wr_kv_bin (wr, "b8", big, 16);
    shoal_wr_kv_bin (wr, "b16", big, sizeof big);
    shoal_wr_str (wr, "nil");
    shoal_wr_nil (wr);
    shoal_wr_kv_bool (wr, "t", true);
    shoal_wr_str (wr, "ext");
    shoal_wr_array (wr, 3);
    shoal_wr_raw (wr, ext, sizeof ext);
    shoal_wr_str (wr, "arr16");
    shoal_wr_array (wr, 20);
    for (int i = 0; i < 20; i++) {
        shoal_wr_uint (wr, (uint64_t) i);
    }
    /* Integer keys are allowed. */
    shoal_wr_uint (wr, 5);
    shoal_wr_map (wr, 2);
    shoal_wr_int (wr, -1);
    shoal_wr_map (wr, 0);
    shoal_wr_str (wr, "deep");
    shoal_wr_array (wr, 1);
    shoal_wr_array (wr, 1);
    shoal_wr_map (wr, 1);
    shoal_wr_kv_str (wr, "x", "y");
    return wr;
}

SHOAL_TEST (test_validate_ok)
{
    shoal_wr_t *wr = s_rich_doc ();
    CHECK (wr);
    CHECK_OK (shoal_wr_error (wr));
    shoal_limits_t lim = shoal_limits_default ();
    size_t used = 0;
    shoal_err_t rc =
        s_validate (shoal_wr_data (wr), shoal_wr_size (wr), &lim, &used);
    size_t size = shoal_wr_size (wr);
    shoal_wr_destroy (&wr);
    CHECK_OK (rc);
    CHECK_EQ (used, size);

    /* used stops at the end of the first value; trailing bytes are the
       caller's business (frame_parse refuses them). */
    static const uint8_t two[] = {0x92, 0x01, 0x02, 0xc0, 0xc0};
    CHECK_OK (s_validate (two, sizeof two, &lim, &used));
    CHECK_EQ (used, 3);
    /* used may be NULL. */
    CHECK_OK (shoal_mp_validate (two, sizeof two, &lim, NULL));
}

SHOAL_TEST (test_validate_every_truncation)
{
    shoal_wr_t *wr = s_rich_doc ();
    CHECK (wr);
    shoal_limits_t lim = shoal_limits_default ();
    size_t size = shoal_wr_size (wr);
    for (size_t n = 0; n < size; n++) {
        size_t used = 12345;
        shoal_err_t rc = s_validate (shoal_wr_data (wr), n, &lim, &used);
        if (rc != SHOAL_ERR_MALFORMED || used != 12345) {
            shoal_wr_destroy (&wr);
            SHOAL_FAIL_ ("prefix of %zu/%zu bytes gave %s", n, size,
                         shoal_errname (rc));
        }
    }
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (test_alloc_seam)
{
    /* The counter sees the library's allocations; otherwise every "did
       not allocate" check below would pass vacuously. */
    unsigned long before = s_allocs;
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_wr_str (wr, "grow the buffer");
    unsigned long after = s_allocs;
    shoal_wr_destroy (&wr);
    CHECK (after >= before + 2);
}

SHOAL_TEST (test_validate_huge_declared)
{
    /* Declared lengths far beyond the input: MALFORMED, no allocation. */
    static const uint8_t cases[][5] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff}, /* array32 */
        {0xdf, 0xff, 0xff, 0xff, 0xff}, /* map32 */
        {0xdb, 0xff, 0xff, 0xff, 0xff}, /* str32 */
        {0xc6, 0xff, 0xff, 0xff, 0xff}, /* bin32 */
        {0xc9, 0xff, 0xff, 0xff, 0xff}, /* ext32, type missing */
        {0xdc, 0xff, 0xff, 0x00, 0x00}, /* array16 */
        {0xde, 0x00, 0x03, 0x01, 0x01}, /* map16 of 3 pairs, 2 bytes left */
    };
    shoal_limits_t lim = shoal_limits_default ();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t used;
        if (s_validate (cases[i], 5, &lim, &used) != SHOAL_ERR_MALFORMED) {
            SHOAL_FAIL_ ("case %zu (0x%02x) not MALFORMED", i, cases[i][0]);
        }
    }
    /* Also when limits are disabled-large. */
    lim.str_max = UINT32_MAX;
    lim.count_max = UINT32_MAX;
    CHECK_RC (s_validate (cases[0], 5, &lim, NULL), SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (cases[2], 5, &lim, NULL), SHOAL_ERR_MALFORMED);
}

SHOAL_TEST (test_validate_malformed_bytes)
{
    shoal_limits_t lim = shoal_limits_default ();
    static const uint8_t c1[] = {0xc1};
    static const uint8_t c1_inside[] = {0x92, 0x01, 0xc1};
    static const uint8_t arr_key[] = {0x81, 0x91, 0x01, 0x01};
    static const uint8_t map_key[] = {0x81, 0x80, 0x01};
    static const uint8_t nil_key[] = {0x81, 0xc0, 0x01};
    static const uint8_t bin_key[] = {0x81, 0xc4, 0x01, 'k', 0x01};
    static const uint8_t float_key[] = {0x81, 0xca, 0, 0, 0, 0, 0x01};
    static const uint8_t deep_arr_key[] = {0x91, 0x81, 0xa1, 'a', 0x81,
                                           0x92, 0x01, 0x02, 0x03};
    CHECK_RC (s_validate (c1, sizeof c1, &lim, NULL), SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (c1_inside, sizeof c1_inside, &lim, NULL),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (arr_key, sizeof arr_key, &lim, NULL),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (map_key, sizeof map_key, &lim, NULL),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (nil_key, sizeof nil_key, &lim, NULL),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (bin_key, sizeof bin_key, &lim, NULL),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (float_key, sizeof float_key, &lim, NULL),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (s_validate (deep_arr_key, sizeof deep_arr_key, &lim, NULL),
              SHOAL_ERR_MALFORMED);
    /* The same maps with string, uint and negative keys are fine. */
    static const uint8_t str_key[] = {0x81, 0xa1, 'k', 0x91, 0x01};
    static const uint8_t int_keys[] = {0x82, 0x05, 0x01, 0xff, 0x02};
    CHECK_OK (s_validate (str_key, sizeof str_key, &lim, NULL));
    CHECK_OK (s_validate (int_keys, sizeof int_keys, &lim, NULL));
    /* Empty input. */
    CHECK_RC (s_validate (c1, 0, &lim, NULL), SHOAL_ERR_MALFORMED);
}

SHOAL_TEST (test_validate_str_limit)
{
    shoal_limits_t lim = shoal_limits_default ();
    lim.str_max = 100;
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    char buf[101];
    memset (buf, 'z', sizeof buf);
    static const struct {
        int kind; /* 0 str, 1 bin, 2 str inside a map */
        size_t len;
        shoal_err_t want;
    } cases[] = {
        {0, 100, SHOAL_OK}, {0, 101, SHOAL_ERR_TOO_LARGE},
        {1, 100, SHOAL_OK}, {1, 101, SHOAL_ERR_TOO_LARGE},
        {2, 100, SHOAL_OK}, {2, 101, SHOAL_ERR_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_wr_reset (wr);
        if (cases[i].kind == 2) {
            shoal_wr_map (wr, 1);
            shoal_wr_str (wr, "k");
        }
        if (cases[i].kind == 1) {
            shoal_wr_bin (wr, buf, cases[i].len);
        } else {
            shoal_wr_strn (wr, buf, cases[i].len);
        }
        shoal_err_t rc =
            s_validate (shoal_wr_data (wr), shoal_wr_size (wr), &lim, NULL);
        if (rc != cases[i].want) {
            shoal_wr_destroy (&wr);
            SHOAL_FAIL_ ("case %zu: %s, want %s", i, shoal_errname (rc),
                         shoal_errname (cases[i].want));
        }
        /* Truncated, the same oversize string is MALFORMED instead. */
        rc =
            s_validate (shoal_wr_data (wr), shoal_wr_size (wr) - 1, &lim, NULL);
        if (rc != SHOAL_ERR_MALFORMED) {
            shoal_wr_destroy (&wr);
            SHOAL_FAIL_ ("case %zu truncated: %s", i, shoal_errname (rc));
        }
    }
    /* A map key is a string too. */
    shoal_wr_reset (wr);
    shoal_wr_map (wr, 1);
    shoal_wr_strn (wr, buf, 101);
    shoal_wr_nil (wr);
    shoal_err_t rc =
        s_validate (shoal_wr_data (wr), shoal_wr_size (wr), &lim, NULL);
    /* ext payloads count as well */
    static const uint8_t ext[] = {0xd8, 0x01, 1,  2,  3,  4,  5,  6,  7,
                                  8,    9,    10, 11, 12, 13, 14, 15, 16};
    shoal_wr_destroy (&wr);
    CHECK_RC (rc, SHOAL_ERR_TOO_LARGE);
    lim.str_max = 15;
    CHECK_RC (s_validate (ext, sizeof ext, &lim, NULL), SHOAL_ERR_TOO_LARGE);
    lim.str_max = 16;
    CHECK_OK (s_validate (ext, sizeof ext, &lim, NULL));
}

SHOAL_TEST (test_validate_count_limit)
{
    shoal_limits_t lim = shoal_limits_default ();
    lim.count_max = 3;
    static const uint8_t arr3[] = {0x93, 1, 2, 3};
    static const uint8_t arr4[] = {0x94, 1, 2, 3, 4};
    static const uint8_t map3[] = {0x83, 1, 1, 2, 2, 3, 3};
    static const uint8_t map4[] = {0x84, 1, 1, 2, 2, 3, 3, 4, 4};
    static const uint8_t arr16_4[] = {0xdc, 0, 4, 1, 2, 3, 4};
    static const uint8_t map32_4[] = {0xdf, 0, 0, 0, 4, 1, 1, 2, 2, 3, 3, 4, 4};
    static const uint8_t nested4[] = {0x91, 0x94, 1, 2, 3, 4};
    CHECK_OK (s_validate (arr3, sizeof arr3, &lim, NULL));
    CHECK_RC (s_validate (arr4, sizeof arr4, &lim, NULL), SHOAL_ERR_TOO_LARGE);
    CHECK_OK (s_validate (map3, sizeof map3, &lim, NULL));
    CHECK_RC (s_validate (map4, sizeof map4, &lim, NULL), SHOAL_ERR_TOO_LARGE);
    CHECK_RC (s_validate (arr16_4, sizeof arr16_4, &lim, NULL),
              SHOAL_ERR_TOO_LARGE);
    CHECK_RC (s_validate (map32_4, sizeof map32_4, &lim, NULL),
              SHOAL_ERR_TOO_LARGE);
    CHECK_RC (s_validate (nested4, sizeof nested4, &lim, NULL),
              SHOAL_ERR_TOO_LARGE);

    /* Default limit: 65536 elements pass, 65537 do not. */
    lim = shoal_limits_default ();
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_wr_array (wr, SHOAL_COUNT_MAX + 1);
    for (uint32_t i = 0; i < SHOAL_COUNT_MAX + 1; i++) {
        shoal_wr_nil (wr);
    }
    shoal_err_t big =
        s_validate (shoal_wr_data (wr), shoal_wr_size (wr), &lim, NULL);
    shoal_wr_reset (wr);
    shoal_wr_array (wr, SHOAL_COUNT_MAX);
    for (uint32_t i = 0; i < SHOAL_COUNT_MAX; i++) {
        shoal_wr_nil (wr);
    }
    shoal_err_t max =
        s_validate (shoal_wr_data (wr), shoal_wr_size (wr), &lim, NULL);
    shoal_wr_destroy (&wr);
    CHECK_RC (big, SHOAL_ERR_TOO_LARGE);
    CHECK_OK (max);
}

/*  n arrays nested, the innermost holding nil. */
static size_t
s_nest (uint8_t *buf, size_t n)
{
    memset (buf, 0x91, n);
    buf[n] = 0xc0;
    return n + 1;
}

SHOAL_TEST (test_validate_depth_limit)
{
    uint8_t buf[1100];
    shoal_limits_t lim = shoal_limits_default ();
    size_t n = s_nest (buf, SHOAL_DEPTH_MAX);
    CHECK_OK (s_validate (buf, n, &lim, NULL));
    n = s_nest (buf, SHOAL_DEPTH_MAX + 1);
    CHECK_RC (s_validate (buf, n, &lim, NULL), SHOAL_ERR_TOO_LARGE);

    /* 1000 x 0x91 with and without a final element: too deep either way,
       and reported before the truncation is reached. */
    n = s_nest (buf, 1000);
    CHECK_RC (s_validate (buf, n, &lim, NULL), SHOAL_ERR_TOO_LARGE);
    CHECK_RC (s_validate (buf, 1000, &lim, NULL), SHOAL_ERR_TOO_LARGE);

    /* Maps count as levels too. */
    static const uint8_t maps3[] = {0x81, 0xa1, 'a',  0x81, 0xa1,
                                    'b',  0x81, 0xa1, 'c',  0x01};
    lim.depth_max = 3;
    CHECK_OK (s_validate (maps3, sizeof maps3, &lim, NULL));
    lim.depth_max = 2;
    CHECK_RC (s_validate (maps3, sizeof maps3, &lim, NULL),
              SHOAL_ERR_TOO_LARGE);
    lim.depth_max = 0;
    CHECK_RC (s_validate (maps3, sizeof maps3, &lim, NULL),
              SHOAL_ERR_TOO_LARGE);
    static const uint8_t scalar[] = {0x01};
    CHECK_OK (s_validate (scalar, sizeof scalar, &lim, NULL));

    /* A limit above the validator's own stack is clamped, not trusted. */
    lim.depth_max = UINT32_MAX;
    n = s_nest (buf, 1000);
    CHECK_RC (s_validate (buf, n, &lim, NULL), SHOAL_ERR_TOO_LARGE);
    n = s_nest (buf, 40);
    CHECK_OK (s_validate (buf, n, &lim, NULL));
}

SHOAL_TEST (test_rd_skip)
{
    static const uint8_t doc[] = {0x92, 0x81, 0xa1, 'k', 0x91,
                                  0x01, 0xa2, 'h',  'i', 0x2a};
    shoal_rd_t rd;
    shoal_rd_init (&rd, doc, sizeof doc);
    CHECK_OK (shoal_rd_skip (&rd, 3));
    CHECK_EQ (shoal_rd_left (&rd), 1);
    uint64_t u;
    CHECK_OK (shoal_rd_uint (&rd, &u));
    CHECK_EQ (u, 42);
    shoal_rd_init (&rd, doc, sizeof doc);
    CHECK_RC (shoal_rd_skip (&rd, 2), SHOAL_ERR_TOO_LARGE);
    shoal_rd_init (&rd, doc, sizeof doc - 2);
    CHECK_RC (shoal_rd_skip (&rd, 3), SHOAL_ERR_MALFORMED);

    /* Typed reads advance past the head even on a type mismatch. */
    uint32_t count;
    const char *s;
    uint32_t len;
    shoal_rd_init (&rd, doc, sizeof doc);
    CHECK_RC (shoal_rd_map (&rd, &count), SHOAL_ERR_INVALID);
    CHECK_EQ (shoal_rd_left (&rd), sizeof doc - 1);
    CHECK_OK (shoal_rd_map (&rd, &count));
    CHECK_EQ (count, 1);
    CHECK_OK (shoal_rd_str (&rd, &s, &len));
    CHECK (len == 1 && s[0] == 'k');
    CHECK_RC (shoal_rd_uint (&rd, &u), SHOAL_ERR_INVALID);
    CHECK_OK (shoal_rd_uint (&rd, &u));
    CHECK_EQ (u, 1);
    CHECK_RC (shoal_rd_array (&rd, &count), SHOAL_ERR_INVALID);
    CHECK_OK (shoal_rd_uint (&rd, &u));
    CHECK_EQ (shoal_rd_left (&rd), 0);
    CHECK_RC (shoal_rd_uint (&rd, &u), SHOAL_ERR_MALFORMED);
}

/*  {"name":"worker-1", 7: "int key", "n":42, "neg":-5, "flag":true,
     "blob":bin(3), "nested":{"x":[1,[2]]}, "nul":"a\0b", "last":"end"} */
static shoal_wr_t *
s_lookup_doc (void)
{
    shoal_wr_t *wr = shoal_wr_new ();
    if (!wr) {
        return NULL;
    }
    shoal_wr_map (wr, 9);
    shoal_wr_kv_str (wr, "name", "worker-1");
    shoal_wr_uint (wr, 7);
    shoal_wr_str (wr, "int key");
    shoal_wr_kv_uint (wr, "n", 42);
    shoal_wr_str (wr, "neg");
    shoal_wr_int (wr, -5);
    shoal_wr_kv_bool (wr, "flag", true);
    shoal_wr_kv_bin (wr, "blob", "\x01\x02\x03", 3);
    shoal_wr_str (wr, "nested");
    shoal_wr_map (wr, 1);
    shoal_wr_str (wr, "x");
    shoal_wr_array (wr, 2);
    shoal_wr_uint (wr, 1);
    shoal_wr_array (wr, 1);
    shoal_wr_uint (wr, 2);
    shoal_wr_kv_strn (wr, "nul", "a\0b", 3);
    shoal_wr_kv_str (wr, "last", "end");
    return wr;
}

SHOAL_TEST (test_map_find)
{
    shoal_wr_t *wr = s_lookup_doc ();
    CHECK (wr);
    const uint8_t *m = shoal_wr_data (wr);
    size_t size = shoal_wr_size (wr);
    shoal_limits_t lim = shoal_limits_default ();
    CHECK_OK (shoal_mp_validate (m, size, &lim, NULL));

    shoal_mp_val_t v;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    CHECK_OK (shoal_map_find (m, size, "nested", &v, &raw, &raw_len));
    CHECK_EQ (v.type, SHOAL_MP_MAP);
    CHECK_EQ (v.len, 1);
    static const uint8_t nested[] = {0x81, 0xa1, 'x', 0x92, 0x01, 0x91, 0x02};
    CHECK_EQ (raw_len, sizeof nested);
    CHECK (memcmp (raw, nested, sizeof nested) == 0);
    /* Keys after a nested value are still found (skip is exact). */
    CHECK_OK (shoal_map_find (m, size, "last", &v, &raw, &raw_len));
    CHECK_EQ (v.type, SHOAL_MP_STR);
    CHECK (v.len == 3 && memcmp (v.ptr, "end", 3) == 0);
    CHECK_EQ (raw_len, 4);
    CHECK (raw + raw_len == m + size);
    CHECK_OK (shoal_map_find (m, size, "neg", &v, NULL, NULL));
    CHECK_EQ (v.type, SHOAL_MP_INT);
    CHECK_EQ (v.i, -5);

    /* Absent keys, including prefixes, the text of the integer key, a
       key that only appears as a value, and the empty key. */
    static const char *absent[] = {"nam", "names",    "7", "int key",
                                   "x",   "worker-1", "",  "LAST"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        shoal_err_t rc = shoal_map_find (m, size, absent[i], &v, NULL, NULL);
        if (rc != SHOAL_ERR_NOT_FOUND) {
            shoal_wr_destroy (&wr);
            SHOAL_FAIL_ ("\"%s\": %s, want NOT_FOUND", absent[i],
                         shoal_errname (rc));
        }
    }
    shoal_wr_destroy (&wr);

    /* Not a map at all. */
    static const uint8_t arr[] = {0x92, 0xa1, 'k', 0x01};
    CHECK_RC (shoal_map_find (arr, sizeof arr, "k", &v, NULL, NULL),
              SHOAL_ERR_MALFORMED);
    static const uint8_t empty[] = {0x80};
    CHECK_RC (shoal_map_find (empty, sizeof empty, "k", &v, NULL, NULL),
              SHOAL_ERR_NOT_FOUND);
}

SHOAL_TEST (test_map_typed)
{
    shoal_wr_t *wr = s_lookup_doc ();
    CHECK (wr);
    /* Copy so the writer can be freed before any CHECK returns. */
    uint8_t m[256];
    size_t size = shoal_wr_size (wr);
    CHECK (size <= sizeof m);
    memcpy (m, shoal_wr_data (wr), size);
    shoal_wr_destroy (&wr);

    const char *s;
    uint32_t len;
    uint64_t u;
    bool b;
    const uint8_t *p;
    CHECK_OK (shoal_map_str (m, size, "name", &s, &len));
    CHECK (len == 8 && memcmp (s, "worker-1", 8) == 0);
    CHECK_OK (shoal_map_uint (m, size, "n", &u));
    CHECK_EQ (u, 42);
    CHECK_OK (shoal_map_bool (m, size, "flag", &b));
    CHECK (b);
    CHECK_OK (shoal_map_bin (m, size, "blob", &p, &len));
    CHECK (len == 3 && memcmp (p, "\x01\x02\x03", 3) == 0);

    /* Wrong types. */
    CHECK_RC (shoal_map_str (m, size, "n", &s, &len), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_str (m, size, "blob", &s, &len), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_uint (m, size, "name", &u), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_uint (m, size, "neg", &u), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_uint (m, size, "flag", &u), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_bool (m, size, "n", &b), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_bin (m, size, "name", &p, &len), SHOAL_ERR_INVALID);

    /* Absent. */
    CHECK_RC (shoal_map_str (m, size, "nope", &s, &len), SHOAL_ERR_NOT_FOUND);
    CHECK_RC (shoal_map_uint (m, size, "nope", &u), SHOAL_ERR_NOT_FOUND);
    CHECK_RC (shoal_map_bool (m, size, "nope", &b), SHOAL_ERR_NOT_FOUND);
    CHECK_RC (shoal_map_bin (m, size, "nope", &p, &len), SHOAL_ERR_NOT_FOUND);
}

SHOAL_TEST (test_map_strcpy)
{
    shoal_wr_t *wr = s_lookup_doc ();
    CHECK (wr);
    uint8_t m[256];
    size_t size = shoal_wr_size (wr);
    CHECK (size <= sizeof m);
    memcpy (m, shoal_wr_data (wr), size);
    shoal_wr_destroy (&wr);

    char buf[16];
    memset (buf, 'X', sizeof buf);
    CHECK_OK (shoal_map_strcpy (m, size, "name", buf, sizeof buf));
    CHECK_STR (buf, "worker-1");
    /* Exactly fits: 8 bytes and the NUL. */
    char exact[9];
    CHECK_OK (shoal_map_strcpy (m, size, "name", exact, sizeof exact));
    CHECK_STR (exact, "worker-1");
    /* One short: refused, buffer untouched. */
    char small[8];
    memset (small, 'X', sizeof small);
    CHECK_RC (shoal_map_strcpy (m, size, "name", small, sizeof small),
              SHOAL_ERR_TOO_LARGE);
    CHECK_EQ (small[0], 'X');
    CHECK_RC (shoal_map_strcpy (m, size, "name", small, 0),
              SHOAL_ERR_TOO_LARGE);
    /* Embedded NUL, wrong type, absent. */
    CHECK_RC (shoal_map_strcpy (m, size, "nul", buf, sizeof buf),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_strcpy (m, size, "n", buf, sizeof buf),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_map_strcpy (m, size, "nope", buf, sizeof buf),
              SHOAL_ERR_NOT_FOUND);
}

SHOAL_TEST (test_limits_default)
{
    shoal_limits_t lim = shoal_limits_default ();
    CHECK_EQ (lim.frame_max, SHOAL_FRAME_MAX);
    CHECK_EQ (lim.depth_max, SHOAL_DEPTH_MAX);
    CHECK_EQ (lim.str_max, SHOAL_STR_MAX);
    CHECK_EQ (lim.count_max, SHOAL_COUNT_MAX);
    /* A string may never be bigger than the frame that carries it. */
    CHECK (lim.str_max < lim.frame_max);
}

SHOAL_TEST (test_rd_key)
{
    static const char *const keys[] = {"a", "bb", "c"};
    /* {"bb": 1, "zz": [1, 2], "a": 2, "bb": 3} */
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_wr_map (w, 4);
    shoal_wr_kv_uint (w, "bb", 1);
    shoal_wr_str (w, "zz");
    shoal_wr_array (w, 2);
    shoal_wr_uint (w, 1);
    shoal_wr_uint (w, 2);
    shoal_wr_kv_uint (w, "a", 2);
    shoal_wr_kv_uint (w, "bb", 3);
    shoal_rd_t rd;
    shoal_rd_init (&rd, shoal_wr_data (w), shoal_wr_size (w));
    uint32_t n;
    CHECK_OK (shoal_rd_map (&rd, &n));
    uint64_t seen = 0, v;
    size_t k;
    CHECK_OK (shoal_rd_key (&rd, keys, 3, &seen, &k, 4));
    CHECK_EQ (k, 1);
    CHECK_OK (shoal_rd_uint (&rd, &v));
    CHECK_OK (shoal_rd_key (&rd, keys, 3, &seen, &k, 4)); /* unknown */
    CHECK_EQ (k, 3);                                      /* value skipped */
    CHECK_OK (shoal_rd_key (&rd, keys, 3, &seen, &k, 4));
    CHECK_EQ (k, 0);
    CHECK_OK (shoal_rd_uint (&rd, &v));
    CHECK_EQ (v, 2);
    /* "bb" again: refused */
    CHECK_RC (shoal_rd_key (&rd, keys, 3, &seen, &k, 4), SHOAL_ERR_MALFORMED);
    /* a key that is not a string */
    shoal_wr_reset (w);
    shoal_wr_uint (w, 5);
    shoal_rd_init (&rd, shoal_wr_data (w), shoal_wr_size (w));
    seen = 0;
    CHECK_RC (shoal_rd_key (&rd, keys, 3, &seen, &k, 4), SHOAL_ERR_MALFORMED);
    shoal_wr_destroy (&w);
}

SHOAL_TEST_MAIN (test_alloc_seam, test_validate_ok,
                 test_validate_every_truncation, test_validate_huge_declared,
                 test_validate_malformed_bytes, test_validate_str_limit,
                 test_validate_count_limit, test_validate_depth_limit,
                 test_rd_skip, test_map_find, test_map_typed, test_map_strcpy,
                 test_limits_default, test_rd_key)
