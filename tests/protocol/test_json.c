/*  test_json.c - the JSON <-> msgpack bridge used by the CLI. */
#include "shoal_test.h"

#include "shoal_json.h"
#include "shoal_mp.h"

#include <math.h>

static const char *s_doc =
    "{\"queue\": \"default\", \"n\": 42, \"neg\": -7, \"pi\": 3.25,"
    " \"ok\": true, \"no\": false, \"none\": null, \"empty\": {},"
    " \"list\": [1, \"two\", [3, [4, {\"five\": [5.5, null]}]], []],"
    " \"utf8\": \"h\\u00e9llo \\u2603\", \"big\": 9007199254740993,"
    " \"min\": -9223372036854775808}";

/*  JSON text -> msgpack -> JSON; the result must equal the input. */
SHOAL_TEST (test_json_roundtrip)
{
    json_error_t jerr;
    json_t *in = json_loads (s_doc, 0, &jerr);
    CHECK (in);
    shoal_wr_t *wr = shoal_wr_new ();
    if (!wr) {
        json_decref (in);
        SHOAL_FAIL_ ("shoal_wr_new");
    }
    shoal_err_t rc = shoal_json_to_mp (in, wr);
    shoal_limits_t lim = shoal_limits_default ();
    shoal_err_t vrc = SHOAL_ERR__COUNT, jrc = SHOAL_ERR__COUNT;
    json_t *out = NULL;
    size_t used = 0;
    uint64_t n = 0;
    if (rc == SHOAL_OK) {
        vrc = shoal_mp_validate (shoal_wr_data (wr), shoal_wr_size (wr), &lim,
                                 &used);
        out = shoal_mp_to_json (shoal_wr_data (wr), shoal_wr_size (wr), &lim,
                                &jrc);
        shoal_map_uint (shoal_wr_data (wr), shoal_wr_size (wr), "n", &n);
    }
    size_t size = shoal_wr_size (wr);
    shoal_wr_destroy (&wr);
    bool equal = out && json_equal (in, out);
    json_decref (in);
    json_decref (out);
    CHECK_OK (rc);
    CHECK_OK (vrc);
    CHECK_EQ (used, size);
    CHECK_OK (jrc);
    CHECK (equal);
    /* Positive integers are msgpack uints, so typed lookups work. */
    CHECK_EQ (n, 42);
}

static json_t *
s_nest (int levels)
{
    json_t *j = json_integer (1);
    for (int i = 0; i < levels && j; i++) {
        json_t *a = json_array ();
        if (!a || json_array_append_new (a, j)) {
            json_decref (a);
            return NULL;
        }
        j = a;
    }
    return j;
}

SHOAL_TEST (test_json_to_mp_depth)
{
    /* SHOAL_DEPTH_MAX arrays around a scalar fit; one more does not. */
    json_t *ok = s_nest (SHOAL_DEPTH_MAX);
    json_t *deep = s_nest (SHOAL_DEPTH_MAX + 1);
    json_t *deeper = s_nest (200);
    shoal_wr_t *wr = shoal_wr_new ();
    shoal_err_t r_ok = SHOAL_ERR__COUNT, r_deep = SHOAL_ERR__COUNT;
    shoal_err_t r_deeper = SHOAL_ERR__COUNT, r_valid = SHOAL_ERR__COUNT;
    if (ok && deep && deeper && wr) {
        r_ok = shoal_json_to_mp (ok, wr);
        shoal_limits_t lim = shoal_limits_default ();
        r_valid = shoal_mp_validate (shoal_wr_data (wr), shoal_wr_size (wr),
                                     &lim, NULL);
        shoal_wr_reset (wr);
        r_deep = shoal_json_to_mp (deep, wr);
        shoal_wr_reset (wr);
        r_deeper = shoal_json_to_mp (deeper, wr);
    }
    json_decref (ok);
    json_decref (deep);
    json_decref (deeper);
    shoal_wr_destroy (&wr);
    CHECK_OK (r_ok);
    CHECK_OK (r_valid);
    CHECK_RC (r_deep, SHOAL_ERR_TOO_LARGE);
    CHECK_RC (r_deeper, SHOAL_ERR_TOO_LARGE);
    CHECK_RC (shoal_json_to_mp (NULL, NULL), SHOAL_ERR_INVALID);
}

SHOAL_TEST (test_mp_to_json_depth)
{
    uint8_t buf[64];
    shoal_limits_t lim = shoal_limits_default ();
    shoal_err_t err = SHOAL_OK;
    memset (buf, 0x91, sizeof buf);
    buf[SHOAL_DEPTH_MAX + 1] = 0x01;
    json_t *j = shoal_mp_to_json (buf, SHOAL_DEPTH_MAX + 2, &lim, &err);
    CHECK (j == NULL);
    CHECK_RC (err, SHOAL_ERR_TOO_LARGE);
    buf[SHOAL_DEPTH_MAX] = 0x01;
    j = shoal_mp_to_json (buf, SHOAL_DEPTH_MAX + 1, &lim, &err);
    CHECK (j != NULL);
    CHECK_OK (err);
    json_decref (j);

    /* A caller's deeper limit is honoured, not clipped to the default. */
    lim.depth_max = 40;
    memset (buf, 0x91, sizeof buf);
    buf[40] = 0x01;
    j = shoal_mp_to_json (buf, 41, &lim, &err);
    bool ok = j != NULL && err == SHOAL_OK;
    json_t *walk = j;
    for (int i = 0; walk && i < 40; i++) {
        walk = json_array_get (walk, 0);
    }
    ok = ok && walk && json_integer_value (walk) == 1;
    json_decref (j);
    CHECK (ok);
}

SHOAL_TEST (test_mp_to_json_errors)
{
    shoal_limits_t lim = shoal_limits_default ();
    shoal_err_t err = SHOAL_OK;
    static const uint8_t c1[] = {0xc1};
    static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t short_map[] = {0x82, 0xa1, 'a', 0x01};
    CHECK (shoal_mp_to_json (c1, sizeof c1, &lim, &err) == NULL);
    CHECK_RC (err, SHOAL_ERR_MALFORMED);
    err = SHOAL_OK;
    CHECK (shoal_mp_to_json (huge, sizeof huge, &lim, &err) == NULL);
    CHECK_RC (err, SHOAL_ERR_MALFORMED);
    err = SHOAL_OK;
    CHECK (shoal_mp_to_json (short_map, sizeof short_map, &lim, &err) == NULL);
    CHECK_RC (err, SHOAL_ERR_MALFORMED);
    CHECK (shoal_mp_to_json (c1, 0, &lim, NULL) == NULL);
    lim.str_max = 0;
    static const uint8_t str[] = {0xa1, 'x'};
    err = SHOAL_OK;
    CHECK (shoal_mp_to_json (str, sizeof str, &lim, &err) == NULL);
    CHECK_RC (err, SHOAL_ERR_TOO_LARGE);
}

/*  Decodes bytes and compares with the JSON text want. */
static bool
s_decodes_to (const uint8_t *data, size_t size, const char *want)
{
    shoal_limits_t lim = shoal_limits_default ();
    shoal_err_t err = SHOAL_ERR__COUNT;
    json_t *got = shoal_mp_to_json (data, size, &lim, &err);
    json_t *expect = json_loads (want, JSON_DECODE_ANY, NULL);
    bool equal = got && expect && err == SHOAL_OK && json_equal (got, expect);
    if (!equal) {
        char *text = got ? json_dumps (got, JSON_ENCODE_ANY) : NULL;
        fprintf (stderr, "  got %s (%s), want %s\n", text ? text : "NULL",
                 shoal_errname (err), want);
        free (text);
    }
    json_decref (got);
    json_decref (expect);
    return equal;
}

SHOAL_TEST (test_mp_to_json_mapping)
{
    /* bin -> hex, ext -> null, integer keys -> their decimal text */
    static const uint8_t bin[] = {0xc4, 0x03, 0x00, 0xab, 0xff};
    CHECK (s_decodes_to (bin, sizeof bin, "\"00abff\""));
    static const uint8_t ext[] = {0xd4, 0x01, 0x02};
    CHECK (s_decodes_to (ext, sizeof ext, "null"));
    static const uint8_t int_keys[] = {0x82, 0x07, 0xa1, 'a', 0xfe, 0xc3};
    CHECK (
        s_decodes_to (int_keys, sizeof int_keys, "{\"7\":\"a\",\"-2\":true}"));
    static const uint8_t f32[] = {0xca, 0x3f, 0xc0, 0x00, 0x00};
    CHECK (s_decodes_to (f32, sizeof f32, "1.5"));
    /* A str that is not UTF-8 keeps its bytes visible as hex. */
    static const uint8_t bad_utf8[] = {0xa2, 0xc3, 0x28};
    CHECK (s_decodes_to (bad_utf8, sizeof bad_utf8, "\"c328\""));
    /* Trailing bytes after the first value are not decoded. */
    static const uint8_t two[] = {0x01, 0x02};
    CHECK (s_decodes_to (two, sizeof two, "1"));
}

SHOAL_TEST (test_mp_to_json_odd_values)
{
    /* Values valid msgpack but outside JSON: a non-UTF-8 map key and
       non-finite floats. They decode (keys as hex, floats as null)
       rather than failing as if memory had run out. */
    static const uint8_t bad_key[] = {0x81, 0xa2, 0xc3, 0x28, 0x01};
    CHECK (s_decodes_to (bad_key, sizeof bad_key, "{\"c328\":1}"));
    static const uint8_t nan64[] = {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    CHECK (s_decodes_to (nan64, sizeof nan64, "null"));
    static const uint8_t inf32[] = {0xca, 0x7f, 0x80, 0x00, 0x00};
    CHECK (s_decodes_to (inf32, sizeof inf32, "null"));
    static const uint8_t ninf_in_map[] = {0x81, 0xa1, 'x',  0xca,
                                          0xff, 0x80, 0x00, 0x00};
    CHECK (s_decodes_to (ninf_in_map, sizeof ninf_in_map, "{\"x\":null}"));

    /* A long key of two-byte characters is cut to fit, on a character
       boundary: 127 bytes would split one. */
    uint8_t long_key[3 + 200 + 1] = {0x81, 0xd9, 200};
    for (int i = 0; i < 100; i++) {
        long_key[3 + 2 * i] = 0xc3;
        long_key[4 + 2 * i] = 0xa9; /* e acute */
    }
    long_key[203] = 0x01;
    shoal_limits_t lim = shoal_limits_default ();
    shoal_err_t err = SHOAL_ERR__COUNT;
    json_t *j = shoal_mp_to_json (long_key, sizeof long_key, &lim, &err);
    const char *key = j ? json_object_iter_key (json_object_iter (j)) : NULL;
    bool ok = key && strlen (key) == 126 &&
              memcmp (key, long_key + 3, 126) == 0 && json_object_size (j) == 1;
    json_decref (j);
    CHECK_OK (err);
    CHECK (ok);
}

SHOAL_TEST_MAIN (test_json_roundtrip, test_json_to_mp_depth,
                 test_mp_to_json_depth, test_mp_to_json_errors,
                 test_mp_to_json_mapping, test_mp_to_json_odd_values)
