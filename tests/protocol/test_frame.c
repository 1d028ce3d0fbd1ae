/*  test_frame.c - frame encode/parse/peek.

    Frames are built with the real encoder where possible and by hand
    (through s_build) where the encoder cannot produce the bytes: a bad
    version, extra header fields, wrong field types.
*/
#include "shoal_test.h"

#include "shoal_frame.h"
#include "shoal_mp.h"

static void
s_fill_name (char *out, char c, size_t len)
{
    memset (out, c, len);
    out[len] = '\0';
}

static shoal_hdr_t
s_sample_hdr (void)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.version = SHOAL_PROTO_VERSION;
    hdr.type = SHOAL_M_SUBMIT;
    strcpy (hdr.to, "control");
    strcpy (hdr.from, "cli@host-1");
    for (int i = 0; i < 16; i++) {
        hdr.id.b[i] = (uint8_t) (0xa0 + i);
        hdr.corr.b[i] = (uint8_t) (0x10 + i);
    }
    hdr.has_corr = false;
    hdr.ts_us = 1700000000123456ULL;
    hdr.attempt = 3;
    hdr.deadline_us = 1700000009000000ULL;
    return hdr;
}

/*  Encodes hdr with body {"k":"v","n":7} into wr. */
static shoal_err_t
s_encode (shoal_wr_t *wr, const shoal_hdr_t *hdr)
{
    shoal_err_t rc = shoal_frame_begin (wr, hdr);
    if (rc) {
        return rc;
    }
    shoal_wr_map (wr, 2);
    shoal_wr_kv_str (wr, "k", "v");
    shoal_wr_kv_uint (wr, "n", 7);
    return shoal_frame_end (wr, SHOAL_FRAME_MAX);
}

/*  Parses a private copy of exactly size bytes, then peeks it too. */
/* GCC 12 at -O3 reports the offset computed before free() below as a
   use after free (a false positive once the function is inlined). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

static shoal_err_t
s_parse (const uint8_t *data, size_t size, const shoal_limits_t *lim,
         shoal_hdr_t *hdr, size_t *body_off, size_t *body_len)
{
    uint8_t *copy = malloc (size ? size : 1);
    if (!copy) {
        return SHOAL_ERR_NOMEM;
    }
    memcpy (copy, data, size);
    const uint8_t *body = NULL;
    size_t blen = 0;
    shoal_err_t rc = shoal_frame_parse (copy, size, lim, hdr, &body, &blen);
    if (rc == SHOAL_OK && body_off) {
        *body_off = (size_t) (body - copy);
    }
    if (rc == SHOAL_OK && body_len) {
        *body_len = blen;
    }
    free (copy);
    return rc;
}

static shoal_err_t
s_peek (const uint8_t *data, size_t size, uint32_t *type, char *to)
{
    uint8_t *copy = malloc (size ? size : 1);
    if (!copy) {
        return SHOAL_ERR_NOMEM;
    }
    memcpy (copy, data, size);
    const char *p = NULL;
    uint32_t len = 0;
    shoal_err_t rc = shoal_frame_peek (copy, size, type, &p, &len);
    if (rc == SHOAL_OK && to) {
        memcpy (to, p, len);
        to[len] = '\0';
    }
    free (copy);
    return rc;
}

static bool
s_hdr_equal (const shoal_hdr_t *a, const shoal_hdr_t *b)
{
    return a->version == b->version && a->type == b->type &&
           strcmp (a->to, b->to) == 0 && strcmp (a->from, b->from) == 0 &&
           memcmp (&a->id, &b->id, sizeof a->id) == 0 &&
           a->has_corr == b->has_corr &&
           (!a->has_corr || memcmp (&a->corr, &b->corr, sizeof a->corr) == 0) &&
           a->ts_us == b->ts_us && a->attempt == b->attempt &&
           a->deadline_us == b->deadline_us;
}

SHOAL_TEST (test_frame_roundtrip)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t in = s_sample_hdr ();
    for (int variant = 0; variant < 4; variant++) {
        if (variant == 1) {
            in.has_corr = true;
        } else if (variant == 2) {
            /* Longest names, extreme numbers. */
            s_fill_name (in.to, 't', SHOAL_NAME_MAX);
            s_fill_name (in.from, 'f', SHOAL_NAME_MAX);
            in.type = UINT32_MAX;
            in.ts_us = UINT64_MAX;
            in.attempt = UINT32_MAX;
            in.deadline_us = UINT64_MAX;
        } else if (variant == 3) {
            /* Empty names and zeroes. */
            in.to[0] = in.from[0] = '\0';
            in.type = 0;
            in.ts_us = in.deadline_us = 0;
            in.attempt = 0;
            in.has_corr = false;
            memset (&in.id, 0, sizeof in.id);
        }
        shoal_err_t rc = s_encode (wr, &in);
        shoal_hdr_t out;
        memset (&out, 0x55, sizeof out);
        size_t off = 0, blen = 0;
        if (rc == SHOAL_OK) {
            rc = s_parse (shoal_wr_data (wr), shoal_wr_size (wr), &lim, &out,
                          &off, &blen);
        }
        if (rc != SHOAL_OK) {
            shoal_wr_destroy (&wr);
            SHOAL_FAIL_ ("variant %d: %s", variant, shoal_errname (rc));
        }
        const uint8_t *f = shoal_wr_data (wr);
        size_t hlen = (size_t) f[0] << 8 | f[1];
        static const uint8_t body[] = {0x82, 0xa1, 'k', 0xa1,
                                       'v',  0xa1, 'n', 0x07};
        bool ok = s_hdr_equal (&in, &out) && out.version == 1 &&
                  off == 2 + hlen && blen == sizeof body &&
                  off + blen == shoal_wr_size (wr) &&
                  memcmp (f + off, body, sizeof body) == 0;
        if (!in.has_corr) {
            shoal_id_t zero;
            memset (&zero, 0, sizeof zero);
            ok = ok && memcmp (&out.corr, &zero, sizeof zero) == 0;
        }
        uint32_t type = 0;
        char to[SHOAL_NAME_MAX + 1];
        ok = ok && s_peek (f, shoal_wr_size (wr), &type, to) == SHOAL_OK &&
             type == in.type && strcmp (to, in.to) == 0;
        if (!ok) {
            shoal_wr_destroy (&wr);
            SHOAL_FAIL_ ("variant %d: header or body differs", variant);
        }
    }
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (test_frame_begin_name_too_long)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_hdr_t hdr = s_sample_hdr ();
    /* 65 characters fill the array with no terminator. */
    memset (hdr.to, 'a', sizeof hdr.to);
    shoal_err_t rc_to = shoal_frame_begin (wr, &hdr);
    hdr = s_sample_hdr ();
    memset (hdr.from, 'b', sizeof hdr.from);
    shoal_err_t rc_from = shoal_frame_begin (wr, &hdr);
    hdr = s_sample_hdr ();
    s_fill_name (hdr.from, 'b', SHOAL_NAME_MAX);
    shoal_err_t rc_64 = shoal_frame_begin (wr, &hdr);
    shoal_wr_destroy (&wr);
    CHECK_RC (rc_to, SHOAL_ERR_TOO_LARGE);
    CHECK_RC (rc_from, SHOAL_ERR_TOO_LARGE);
    CHECK_OK (rc_64);
}

SHOAL_TEST (test_frame_begin_resets)
{
    /* A reused writer starts over: a frame is never appended to junk. */
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_wr_str (wr, "leftover from the last message");
    shoal_hdr_t hdr = s_sample_hdr ();
    shoal_err_t rc = s_encode (wr, &hdr);
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t out;
    if (rc == SHOAL_OK) {
        rc = s_parse (shoal_wr_data (wr), shoal_wr_size (wr), &lim, &out, NULL,
                      NULL);
    }
    shoal_wr_destroy (&wr);
    CHECK_OK (rc);
    CHECK (s_hdr_equal (&hdr, &out));
}

/*  Hand-built frames: a header of `fields` elements whose first nine are
    the sample header unless overridden, then the body bytes. */
typedef struct {
    uint64_t version;
    uint32_t fields;
    int bad_field; /* 1-based index of a field to replace with junk, 0 none */
    const uint8_t *junk;
    size_t junk_len;
    const uint8_t *body;
    size_t body_len;
} s_spec_t;

static shoal_wr_t *
s_build (const s_spec_t *spec)
{
    static const uint8_t default_body[] = {0x81, 0xa1, 'a', 0x01};
    shoal_wr_t *wr = shoal_wr_new ();
    if (!wr) {
        return NULL;
    }
    shoal_hdr_t h = s_sample_hdr ();
    static const uint8_t zero2[2] = {0, 0};
    shoal_wr_raw (wr, zero2, 2);
    shoal_wr_array (wr, spec->fields);
    for (uint32_t i = 1; i <= spec->fields; i++) {
        if ((int) i == spec->bad_field) {
            shoal_wr_raw (wr, spec->junk, spec->junk_len);
            continue;
        }
        switch (i) {
            case 1:
                shoal_wr_uint (wr, spec->version);
                break;
            case 2:
                shoal_wr_uint (wr, h.type);
                break;
            case 3:
                shoal_wr_str (wr, h.to);
                break;
            case 4:
                shoal_wr_str (wr, h.from);
                break;
            case 5:
                shoal_wr_bin (wr, h.id.b, 16);
                break;
            case 6:
                shoal_wr_nil (wr);
                break;
            case 7:
                shoal_wr_uint (wr, h.ts_us);
                break;
            case 8:
                shoal_wr_uint (wr, h.attempt);
                break;
            case 9:
                shoal_wr_uint (wr, h.deadline_us);
                break;
            default:
                /* Extra fields of assorted shapes. */
                if (i % 3 == 1) {
                    shoal_wr_map (wr, 1);
                    shoal_wr_kv_str (wr, "future", "field");
                } else if (i % 3 == 2) {
                    shoal_wr_array (wr, 2);
                    shoal_wr_array (wr, 1);
                    shoal_wr_double (wr, 1.25);
                    shoal_wr_bin (wr, "xy", 2);
                } else {
                    shoal_wr_int (wr, -77);
                }
                break;
        }
    }
    size_t hlen = shoal_wr_size (wr) - 2;
    shoal_wr_data_mut (wr)[0] = (uint8_t) (hlen >> 8);
    shoal_wr_data_mut (wr)[1] = (uint8_t) hlen;
    if (spec->body) {
        shoal_wr_raw (wr, spec->body, spec->body_len);
    } else {
        shoal_wr_raw (wr, default_body, sizeof default_body);
    }
    return wr;
}

/*  Builds spec and checks what parse and peek say about it. */
static void
s_expect (bool *shoal_test_failed_, const char *what, const s_spec_t *spec,
          shoal_err_t want_parse, shoal_err_t want_peek)
{
    shoal_wr_t *wr = s_build (spec);
    CHECK (wr);
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t hdr;
    uint32_t type;
    shoal_err_t rp = s_parse (shoal_wr_data (wr), shoal_wr_size (wr), &lim,
                              &hdr, NULL, NULL);
    shoal_err_t rk =
        s_peek (shoal_wr_data (wr), shoal_wr_size (wr), &type, NULL);
    shoal_wr_destroy (&wr);
    if (rp != want_parse || rk != want_peek) {
        SHOAL_FAIL_ ("%s: parse %s peek %s, want %s %s", what,
                     shoal_errname (rp), shoal_errname (rk),
                     shoal_errname (want_parse), shoal_errname (want_peek));
    }
}

#define EXPECT(what, spec, want_parse, want_peek)                              \
    do {                                                                       \
        s_expect (shoal_test_failed_, what, spec, want_parse, want_peek);      \
        if (*shoal_test_failed_) {                                             \
            return;                                                            \
        }                                                                      \
    } while (0)

SHOAL_TEST (test_frame_version)
{
    static const uint8_t c1 = 0xc1;
    static const uint8_t arr[] = {0x91, 0x01};
    s_spec_t spec = {.version = 1, .fields = 9};
    EXPECT ("baseline", &spec, SHOAL_OK, SHOAL_OK);
    spec.version = 2;
    EXPECT ("version 2", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);
    spec.version = 0;
    EXPECT ("version 0", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);
    spec.version = UINT64_MAX;
    EXPECT ("version max", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);

    /* Version 2 wins over whatever follows it in the header. */
    spec.version = 2;
    spec.bad_field = 2;
    spec.junk = &c1;
    spec.junk_len = 1;
    EXPECT ("v2, 0xc1 type", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);
    spec.bad_field = 3;
    spec.junk = arr;
    spec.junk_len = sizeof arr;
    EXPECT ("v2, array to", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);
    spec.bad_field = 0;
    spec.fields = 1;
    EXPECT ("v2, one field", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);
    spec.fields = 3;
    EXPECT ("v2, three fields", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);
    /* and over a body that is not a map */
    static const uint8_t not_map[] = {0x93, 0xc1};
    spec.fields = 9;
    spec.body = not_map;
    spec.body_len = sizeof not_map;
    EXPECT ("v2, bad body", &spec, SHOAL_ERR_VERSION, SHOAL_ERR_VERSION);

    /* Raw: hlen 3, header [2, 0xc1] and nothing else. */
    static const uint8_t raw[] = {0x00, 0x03, 0x92, 0x02, 0xc1};
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t hdr;
    uint32_t type;
    CHECK_RC (s_parse (raw, sizeof raw, &lim, &hdr, NULL, NULL),
              SHOAL_ERR_VERSION);
    CHECK_RC (s_peek (raw, sizeof raw, &type, NULL), SHOAL_ERR_VERSION);
    /* A version that is not a uint is malformed, not a version error. */
    static const uint8_t neg[] = {0x00, 0x02, 0x91, 0xff, 0x80};
    CHECK_RC (s_parse (neg, sizeof neg, &lim, &hdr, NULL, NULL),
              SHOAL_ERR_MALFORMED);
    static const uint8_t str[] = {0x00, 0x03, 0x91, 0xa1, '1', 0x80};
    CHECK_RC (s_parse (str, sizeof str, &lim, &hdr, NULL, NULL),
              SHOAL_ERR_MALFORMED);
}

SHOAL_TEST (test_frame_header_fields)
{
    static const uint8_t c1 = 0xc1;
    static const uint8_t nil = 0xc0;
    static const uint8_t str_v[] = {0xa1, 'x'};
    static const uint8_t neg[] = {0xff};
    static const uint8_t big[] = {0xcf, 1, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t bin15[17] = {0xc4, 15};
    static const uint8_t bin17[19] = {0xc4, 17};
    static const uint8_t str16[17] = {0xb0};
    static const uint8_t nul_name[] = {0xa3, 'a', 0, 'b'};
    static const struct {
        int field;
        const uint8_t *junk;
        size_t len;
        shoal_err_t parse, peek;
    } cases[] = {
        {2, str_v, sizeof str_v, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED},
        {2, neg, sizeof neg, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED},
        {2, big, sizeof big, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED},
        {2, &c1, 1, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED},
        {3, &nil, 1, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED},
        {3, neg, sizeof neg, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED},
        {3, nul_name, sizeof nul_name, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {4, &nil, 1, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {4, nul_name, sizeof nul_name, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {5, &nil, 1, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {5, bin15, sizeof bin15, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {5, bin17, sizeof bin17, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {5, str16, sizeof str16, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {6, bin15, sizeof bin15, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {6, str_v, sizeof str_v, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {7, neg, sizeof neg, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {7, &nil, 1, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {8, big, sizeof big, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {8, str_v, sizeof str_v, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {9, &c1, 1, SHOAL_ERR_MALFORMED, SHOAL_OK},
        {9, neg, sizeof neg, SHOAL_ERR_MALFORMED, SHOAL_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_spec_t spec = {.version = 1,
                         .fields = 9,
                         .bad_field = cases[i].field,
                         .junk = cases[i].junk,
                         .junk_len = cases[i].len};
        char what[32];
        snprintf (what, sizeof what, "case %zu field %d", i, cases[i].field);
        EXPECT (what, &spec, cases[i].parse, cases[i].peek);
    }
    /* Fewer than nine fields with version 1. */
    s_spec_t spec = {.version = 1, .fields = 8};
    EXPECT ("8 fields", &spec, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED);
    spec.fields = 0;
    EXPECT ("0 fields", &spec, SHOAL_ERR_MALFORMED, SHOAL_ERR_MALFORMED);
}

SHOAL_TEST (test_frame_extra_fields)
{
    /* Fields past the ninth are skipped, whatever their shape. */
    for (uint32_t fields = 10; fields <= 16; fields++) {
        s_spec_t spec = {.version = 1, .fields = fields};
        shoal_wr_t *wr = s_build (&spec);
        CHECK (wr);
        shoal_limits_t lim = shoal_limits_default ();
        shoal_hdr_t out;
        size_t off = 0, blen = 0;
        shoal_err_t rc = s_parse (shoal_wr_data (wr), shoal_wr_size (wr), &lim,
                                  &out, &off, &blen);
        size_t size = shoal_wr_size (wr);
        shoal_wr_destroy (&wr);
        if (rc != SHOAL_OK) {
            SHOAL_FAIL_ ("%u fields: %s", fields, shoal_errname (rc));
        }
        shoal_hdr_t want = s_sample_hdr ();
        CHECK (s_hdr_equal (&want, &out));
        CHECK_EQ (blen, 4);
        CHECK_EQ (off + blen, size);
    }
    /* A truncated extra field is still malformed. */
    static const uint8_t c1 = 0xc1;
    s_spec_t spec = {.version = 1,
                     .fields = 10,
                     .bad_field = 10,
                     .junk = &c1,
                     .junk_len = 1};
    EXPECT ("bad extra", &spec, SHOAL_ERR_MALFORMED, SHOAL_OK);
    /* An extra field nested deeper than the header allows. */
    static const uint8_t deep[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x01};
    spec.junk = deep;
    spec.junk_len = sizeof deep;
    EXPECT ("deep extra", &spec, SHOAL_ERR_MALFORMED, SHOAL_OK);
    /* Header declares more fields than it holds. */
    spec.fields = 12;
    spec.bad_field = 0;
    shoal_wr_t *wr = s_build (&spec);
    CHECK (wr);
    uint8_t buf[512];
    size_t size = shoal_wr_size (wr);
    memcpy (buf, shoal_wr_data (wr), size);
    shoal_wr_destroy (&wr);
    CHECK_EQ (buf[2], 0x9c);
    buf[2] = 0x9d; /* 13 declared, 12 present */
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t out;
    CHECK_RC (s_parse (buf, size, &lim, &out, NULL, NULL), SHOAL_ERR_MALFORMED);
    buf[2] = 0x9b; /* 11 declared, 12 present: a byte left in the header */
    CHECK_RC (s_parse (buf, size, &lim, &out, NULL, NULL), SHOAL_ERR_MALFORMED);
}

SHOAL_TEST (test_frame_body)
{
    static const uint8_t trailing[] = {0x80, 0x00};
    static const uint8_t arr[] = {0x91, 0x01};
    static const uint8_t str[] = {0xa1, 'x'};
    static const uint8_t nil[] = {0xc0};
    static const uint8_t c1[] = {0xc1};
    static const uint8_t map_short[] = {0x82, 0xa1, 'a', 0x01};
    static const uint8_t map16[] = {0xde, 0x00, 0x01, 0xa1, 'a', 0x01};
    static const uint8_t map32[] = {0xdf, 0, 0, 0, 1, 0xa1, 'a', 0x01};
    static const uint8_t empty[] = {0x80};
    static const uint8_t bad_key[] = {0x81, 0x90, 0x01};
    static const struct {
        const char *what;
        const uint8_t *body;
        size_t len;
        shoal_err_t want;
    } cases[] = {
        {"trailing byte", trailing, sizeof trailing, SHOAL_ERR_MALFORMED},
        {"array", arr, sizeof arr, SHOAL_ERR_MALFORMED},
        {"str", str, sizeof str, SHOAL_ERR_MALFORMED},
        {"nil", nil, sizeof nil, SHOAL_ERR_MALFORMED},
        {"0xc1", c1, sizeof c1, SHOAL_ERR_MALFORMED},
        {"short map", map_short, sizeof map_short, SHOAL_ERR_MALFORMED},
        {"array key", bad_key, sizeof bad_key, SHOAL_ERR_MALFORMED},
        {"missing", c1, 0, SHOAL_ERR_MALFORMED},
        {"map16", map16, sizeof map16, SHOAL_OK},
        {"map32", map32, sizeof map32, SHOAL_OK},
        {"empty map", empty, sizeof empty, SHOAL_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_spec_t spec = {.version = 1,
                         .fields = 9,
                         .body = cases[i].body,
                         .body_len = cases[i].len};
        /* The bus's peek never looks at the body. */
        EXPECT (cases[i].what, &spec, cases[i].want, SHOAL_OK);
    }
    /* A body over the string limit is TOO_LARGE, not malformed. */
    shoal_hdr_t hdr = s_sample_hdr ();
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    static char big[200];
    memset (big, 'b', sizeof big);
    shoal_err_t rc = shoal_frame_begin (wr, &hdr);
    shoal_wr_map (wr, 1);
    shoal_wr_kv_strn (wr, "s", big, sizeof big);
    if (rc == SHOAL_OK) {
        rc = shoal_frame_end (wr, SHOAL_FRAME_MAX);
    }
    shoal_limits_t lim = shoal_limits_default ();
    lim.str_max = 199;
    shoal_hdr_t out;
    shoal_err_t small = SHOAL_ERR__COUNT, fits = SHOAL_ERR__COUNT;
    if (rc == SHOAL_OK) {
        small = s_parse (shoal_wr_data (wr), shoal_wr_size (wr), &lim, &out,
                         NULL, NULL);
        lim.str_max = 200;
        fits = s_parse (shoal_wr_data (wr), shoal_wr_size (wr), &lim, &out,
                        NULL, NULL);
    }
    shoal_wr_destroy (&wr);
    CHECK_OK (rc);
    CHECK_RC (small, SHOAL_ERR_TOO_LARGE);
    CHECK_OK (fits);
}

SHOAL_TEST (test_frame_hlen)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_hdr_t hdr = s_sample_hdr ();
    shoal_err_t rc = s_encode (wr, &hdr);
    uint8_t buf[256];
    size_t size = shoal_wr_size (wr);
    if (rc == SHOAL_OK && size <= sizeof buf) {
        memcpy (buf, shoal_wr_data (wr), size);
    }
    shoal_wr_destroy (&wr);
    CHECK_OK (rc);
    CHECK (size <= sizeof buf);
    size_t hlen = (size_t) buf[0] << 8 | buf[1];
    CHECK (hlen > 0 && hlen < size - 2);
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t out;
    uint32_t type;

    /* One short, one long, zero, a lone array head, far past the end. */
    const size_t bad_hlen[] = {hlen - 1, hlen + 1, 0, 1, 0xffff};
    for (size_t i = 0; i < sizeof bad_hlen / sizeof bad_hlen[0]; i++) {
        uint8_t bad[256];
        memcpy (bad, buf, size);
        bad[0] = (uint8_t) (bad_hlen[i] >> 8);
        bad[1] = (uint8_t) bad_hlen[i];
        shoal_err_t rp = s_parse (bad, size, &lim, &out, NULL, NULL);
        if (rp != SHOAL_ERR_MALFORMED) {
            SHOAL_FAIL_ ("hlen %zu (true %zu): %s", bad_hlen[i], hlen,
                         shoal_errname (rp));
        }
    }
    /* hlen beyond the frame: both calls refuse it. */
    buf[0] = 0x7f;
    CHECK_RC (s_parse (buf, size, &lim, &out, NULL, NULL), SHOAL_ERR_MALFORMED);
    CHECK_RC (s_peek (buf, size, &type, NULL), SHOAL_ERR_MALFORMED);
    /* hlen that takes the whole frame: the body becomes header junk. */
    buf[0] = (uint8_t) ((size - 2) >> 8);
    buf[1] = (uint8_t) (size - 2);
    CHECK_RC (s_parse (buf, size, &lim, &out, NULL, NULL), SHOAL_ERR_MALFORMED);
    /* Frames shorter than the length prefix. */
    CHECK_RC (s_parse (buf, 0, &lim, &out, NULL, NULL), SHOAL_ERR_MALFORMED);
    CHECK_RC (s_parse (buf, 1, &lim, &out, NULL, NULL), SHOAL_ERR_MALFORMED);
    CHECK_RC (s_peek (buf, 1, &type, NULL), SHOAL_ERR_MALFORMED);
}

SHOAL_TEST (test_frame_header_too_large)
{
    /* A header over SHOAL_HEADER_MAX is refused even if well formed. */
    static const uint8_t pad[600] = {0xc5, 0x02, 0x54};
    s_spec_t spec = {.version = 1,
                     .fields = 10,
                     .bad_field = 10,
                     .junk = pad,
                     .junk_len = 3 + 0x254};
    EXPECT ("big header", &spec, SHOAL_ERR_TOO_LARGE, SHOAL_ERR_TOO_LARGE);
    /* A name over SHOAL_NAME_MAX on the wire. */
    uint8_t name[2 + SHOAL_NAME_MAX + 1] = {0xd9, SHOAL_NAME_MAX + 1};
    memset (name + 2, 'n', SHOAL_NAME_MAX + 1);
    spec.fields = 9;
    spec.bad_field = 3;
    spec.junk = name;
    spec.junk_len = sizeof name;
    EXPECT ("long to", &spec, SHOAL_ERR_TOO_LARGE, SHOAL_ERR_TOO_LARGE);
    spec.bad_field = 4;
    EXPECT ("long from", &spec, SHOAL_ERR_TOO_LARGE, SHOAL_OK);
    /* Exactly SHOAL_NAME_MAX is fine. */
    name[1] = SHOAL_NAME_MAX;
    spec.junk_len = sizeof name - 1;
    EXPECT ("64 from", &spec, SHOAL_OK, SHOAL_OK);
    spec.bad_field = 3;
    EXPECT ("64 to", &spec, SHOAL_OK, SHOAL_OK);
}

SHOAL_TEST (test_frame_every_truncation)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_hdr_t hdr = s_sample_hdr ();
    hdr.has_corr = true;
    shoal_err_t rc = shoal_frame_begin (wr, &hdr);
    shoal_wr_map (wr, 3);
    shoal_wr_kv_str (wr, "queue", "default");
    shoal_wr_str (wr, "args");
    shoal_wr_array (wr, 3);
    shoal_wr_uint (wr, 1);
    shoal_wr_str (wr, "two");
    shoal_wr_map (wr, 1);
    shoal_wr_kv_bin (wr, "three", "333", 3);
    shoal_wr_kv_uint (wr, "n", 100000);
    if (rc == SHOAL_OK) {
        rc = shoal_frame_end (wr, SHOAL_FRAME_MAX);
    }
    uint8_t buf[512];
    size_t size = shoal_wr_size (wr);
    if (size <= sizeof buf) {
        memcpy (buf, shoal_wr_data (wr), size);
    }
    shoal_wr_destroy (&wr);
    CHECK_OK (rc);
    CHECK (size <= sizeof buf);
    size_t hlen = (size_t) buf[0] << 8 | buf[1];
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t out;
    CHECK_OK (s_parse (buf, size, &lim, &out, NULL, NULL));
    for (size_t n = 0; n < size; n++) {
        uint32_t type;
        shoal_err_t rp = s_parse (buf, n, &lim, &out, NULL, NULL);
        shoal_err_t rk = s_peek (buf, n, &type, NULL);
        /* peek reads only the header, so it succeeds once that is whole */
        shoal_err_t want_peek = n >= 2 + hlen ? SHOAL_OK : SHOAL_ERR_MALFORMED;
        if (rp != SHOAL_ERR_MALFORMED || rk != want_peek) {
            SHOAL_FAIL_ ("%zu/%zu bytes: parse %s peek %s", n, size,
                         shoal_errname (rp), shoal_errname (rk));
        }
    }
}

SHOAL_TEST (test_frame_max)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_hdr_t hdr = s_sample_hdr ();
    shoal_err_t rc = s_encode (wr, &hdr);
    size_t size = shoal_wr_size (wr);
    shoal_err_t end_at = shoal_frame_end (wr, size);
    shoal_err_t end_below = shoal_frame_end (wr, size - 1);
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t out;
    lim.frame_max = size;
    shoal_err_t parse_at =
        s_parse (shoal_wr_data (wr), size, &lim, &out, NULL, NULL);
    lim.frame_max = size - 1;
    shoal_err_t parse_below =
        s_parse (shoal_wr_data (wr), size, &lim, &out, NULL, NULL);
    shoal_wr_destroy (&wr);
    CHECK_OK (rc);
    CHECK_OK (end_at);
    CHECK_RC (end_below, SHOAL_ERR_TOO_LARGE);
    CHECK_OK (parse_at);
    CHECK_RC (parse_below, SHOAL_ERR_TOO_LARGE);

    /* A body that pushes the frame past the default limit. */
    wr = shoal_wr_new ();
    CHECK (wr);
    char *big = malloc (SHOAL_STR_MAX);
    if (!big) {
        shoal_wr_destroy (&wr);
        SHOAL_FAIL_ ("malloc");
    }
    memset (big, 'x', SHOAL_STR_MAX);
    rc = shoal_frame_begin (wr, &hdr);
    shoal_wr_map (wr, 2);
    shoal_wr_kv_strn (wr, "a", big, SHOAL_STR_MAX);
    shoal_wr_kv_strn (wr, "b", big, SHOAL_STR_MAX);
    free (big);
    shoal_err_t end = shoal_frame_end (wr, SHOAL_FRAME_MAX);
    lim = shoal_limits_default ();
    shoal_err_t parse = s_parse (shoal_wr_data (wr), shoal_wr_size (wr), &lim,
                                 &out, NULL, NULL);
    size = shoal_wr_size (wr);
    shoal_wr_destroy (&wr);
    CHECK_OK (rc);
    CHECK (size > SHOAL_FRAME_MAX);
    CHECK_RC (end, SHOAL_ERR_TOO_LARGE);
    CHECK_RC (parse, SHOAL_ERR_TOO_LARGE);
}

SHOAL_TEST (test_mtype_name)
{
    static const struct {
        uint32_t type;
        const char *name;
    } known[] = {
        {SHOAL_M_OK, "OK"},
        {SHOAL_M_ERROR, "ERROR"},
        {SHOAL_M_PING, "PING"},
        {SHOAL_M_SUBMIT, "SUBMIT"},
        {SHOAL_M_STATUS, "STATUS"},
        {SHOAL_M_WAIT, "WAIT"},
        {SHOAL_M_SHUTDOWN, "SHUTDOWN"},
        {SHOAL_M_STATS, "STATS"},
        {SHOAL_M_STORE_SUBMIT, "STORE_SUBMIT"},
        {SHOAL_M_STORE_ACKS, "STORE_ACKS"},
        {SHOAL_M_JOBS_READY, "JOBS_READY"},
        {SHOAL_M_LEASE, "LEASE"},
        {SHOAL_M_RUN, "RUN"},
        {SHOAL_M_RESULT, "RESULT"},
        {SHOAL_M_CREDIT, "CREDIT"},
        {SHOAL_M_FILL, "FILL"},
        {SHOAL_M_EVENT, "EVENT"},
        {SHOAL_M_QUERY, "QUERY"},
        {SHOAL_M_QUERY_REPLY, "QUERY_REPLY"},
        {SHOAL_M_LEASE_DONE, "LEASE_DONE"},
        {SHOAL_M_HEARTBEAT, "HEARTBEAT"},
    };
    /* Wire numbers never move. */
    CHECK_EQ (SHOAL_M_OK, 1);
    CHECK_EQ (SHOAL_M_SUBMIT, 10);
    CHECK_EQ (SHOAL_M_STORE_SUBMIT, 40);
    CHECK_EQ (SHOAL_M_HEARTBEAT, 52);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        CHECK_STR (shoal_mtype_name (known[i].type), known[i].name);
    }
    CHECK_STR (shoal_mtype_name (0), "?");
    CHECK_STR (shoal_mtype_name (4), "?");
    CHECK_STR (shoal_mtype_name (SHOAL_M__MAX), "?");
    CHECK_STR (shoal_mtype_name (UINT32_MAX), "?");
    /* The newest type got a name, and no two types share one. */
    CHECK (strcmp (shoal_mtype_name (SHOAL_M__MAX - 1), "?") != 0);
    for (uint32_t a = 0; a < SHOAL_M__MAX; a++) {
        const char *na = shoal_mtype_name (a);
        for (uint32_t b = 0; b < a && strcmp (na, "?") != 0; b++) {
            if (strcmp (na, shoal_mtype_name (b)) == 0) {
                SHOAL_FAIL_ ("types %u and %u are both %s", a, b, na);
            }
        }
    }
}

SHOAL_TEST_MAIN (test_frame_roundtrip, test_frame_begin_name_too_long,
                 test_frame_begin_resets, test_frame_version,
                 test_frame_header_fields, test_frame_extra_fields,
                 test_frame_body, test_frame_hlen, test_frame_header_too_large,
                 test_frame_every_truncation, test_frame_max, test_mtype_name)
