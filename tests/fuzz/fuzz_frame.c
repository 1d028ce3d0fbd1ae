/*  fuzz_frame.c - libFuzzer entry point for every decoder in protocol/.

    One input is tried as a frame (parse and peek), as a bare msgpack
    value (validate, the raw reader, map lookups) and as a JSON source
    (shoal_mp_to_json), all with the default limits. Besides "does not
    crash", the target checks the decoders against each other, so a wrong
    answer is a finding too:
      - every error is one of the documented classes;
      - a frame parse accepts, peek accepts with the same type and "to",
        the body validates in full, and re-encoding the header gives a
        frame that parses to the same header and body;
      - a value that validates decodes to JSON, and that JSON encodes and
        decodes back to itself; one that does not gives the same error.
    A broken invariant calls abort(), which libFuzzer and the corpus
    replay both report. assert() is not used: release builds define
    NDEBUG.
*/
#include "shoal_frame.h"
#include "shoal_json.h"
#include "shoal_mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_REQUIRE(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf (stderr, "fuzz_frame: %s:%d: invariant failed: %s\n",      \
                     __FILE__, __LINE__, #cond);                               \
            abort ();                                                          \
        }                                                                      \
    } while (0)

/*  Keys looked up in every map: header-like names, body fields, and the
    empty key. */
static const char *const s_keys[] = {"to", "id", "type", "queue", "args",
                                     "a",  "",   "k",    "n"};
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

static bool
s_is_decode_error (shoal_err_t rc)
{
    return rc == SHOAL_ERR_MALFORMED || rc == SHOAL_ERR_TOO_LARGE;
}

/*  Map lookups over bytes that validated (or, with validated false, over
    anything: the reads are bounds-checked, so they must fail cleanly). */
static void
s_lookups (const uint8_t *map, size_t size, bool validated)
{
    bool is_map = size > 0 &&
                  ((map[0] & 0xf0) == 0x80 || map[0] == 0xde || map[0] == 0xdf);
    for (size_t i = 0; i < S_NKEYS; i++) {
        shoal_mp_val_t v;
        const uint8_t *raw = NULL;
        size_t raw_len = 0;
        shoal_err_t rc =
            shoal_map_find (map, size, s_keys[i], &v, &raw, &raw_len);
        if (!validated) {
            S_REQUIRE (rc == SHOAL_OK || rc == SHOAL_ERR_NOT_FOUND ||
                       s_is_decode_error (rc));
            continue;
        }
        S_REQUIRE (rc == SHOAL_OK || rc == SHOAL_ERR_NOT_FOUND ||
                   (rc == SHOAL_ERR_MALFORMED && !is_map));
        if (rc == SHOAL_OK) {
            /* raw spans exactly one value whose head is *val */
            S_REQUIRE (raw > map && raw_len > 0 && raw + raw_len <= map + size);
            shoal_rd_t rd;
            shoal_mp_val_t head;
            shoal_rd_init (&rd, raw, raw_len);
            S_REQUIRE (shoal_rd_next (&rd, &head) == SHOAL_OK);
            S_REQUIRE (head.type == v.type);
            shoal_rd_init (&rd, raw, raw_len);
            S_REQUIRE (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX) == SHOAL_OK);
            S_REQUIRE (shoal_rd_left (&rd) == 0);
        }
        const char *s;
        uint32_t len;
        uint64_t u;
        char buf[SHOAL_NAME_MAX + 1];
        shoal_err_t rs = shoal_map_str (map, size, s_keys[i], &s, &len);
        shoal_err_t ru = shoal_map_uint (map, size, s_keys[i], &u);
        shoal_err_t rb =
            shoal_map_strcpy (map, size, s_keys[i], buf, sizeof buf);
        if (rc == SHOAL_OK) {
            S_REQUIRE (rs ==
                       (v.type == SHOAL_MP_STR ? SHOAL_OK : SHOAL_ERR_INVALID));
            S_REQUIRE (
                ru == (v.type == SHOAL_MP_UINT ? SHOAL_OK : SHOAL_ERR_INVALID));
            S_REQUIRE (rb == SHOAL_OK || rb == SHOAL_ERR_INVALID ||
                       rb == SHOAL_ERR_TOO_LARGE);
            if (rb == SHOAL_OK) {
                S_REQUIRE (rs == SHOAL_OK && strlen (buf) == len &&
                           memcmp (buf, s, len) == 0);
            }
        } else {
            S_REQUIRE (rs == rc && ru == rc && rb == rc);
        }
    }
}

static void
s_check_frame (const uint8_t *data, size_t size, const shoal_limits_t *lim)
{
    shoal_hdr_t hdr;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    shoal_err_t rc =
        shoal_frame_parse (data, size, lim, &hdr, &body, &body_len);
    uint32_t type = 0;
    const char *to = NULL;
    uint32_t to_len = 0;
    shoal_err_t rp = shoal_frame_peek (data, size, &type, &to, &to_len);
    S_REQUIRE (rc == SHOAL_OK || rc == SHOAL_ERR_VERSION ||
               s_is_decode_error (rc));
    S_REQUIRE (rp == SHOAL_OK || rp == SHOAL_ERR_VERSION ||
               s_is_decode_error (rp));
    /* Both read the version the same way, before anything else; only
       parse knows frame_max. */
    if (size <= lim->frame_max) {
        S_REQUIRE ((rp == SHOAL_ERR_VERSION) == (rc == SHOAL_ERR_VERSION));
    }
    if (rc != SHOAL_OK) {
        return;
    }
    S_REQUIRE (rp == SHOAL_OK && type == hdr.type);
    S_REQUIRE (to_len == strlen (hdr.to) && memcmp (to, hdr.to, to_len) == 0);
    S_REQUIRE (strlen (hdr.from) <= SHOAL_NAME_MAX);
    S_REQUIRE (hdr.version == SHOAL_PROTO_VERSION);
    S_REQUIRE (hdr.has_corr || shoal_id_is_zero (&hdr.corr));
    S_REQUIRE (body > data + 2 && body_len > 0 &&
               body + body_len == data + size);
    size_t used = 0;
    S_REQUIRE (shoal_mp_validate (body, body_len, lim, &used) == SHOAL_OK);
    S_REQUIRE (used == body_len);
    s_lookups (body, body_len, true);

    /* Re-encode: the canonical header and the same body parse back to
       the same message. */
    shoal_wr_t *wr = shoal_wr_new ();
    S_REQUIRE (wr);
    S_REQUIRE (shoal_frame_begin (wr, &hdr) == SHOAL_OK);
    shoal_wr_raw (wr, body, body_len);
    S_REQUIRE (shoal_frame_end (wr, lim->frame_max) == SHOAL_OK);
    S_REQUIRE (shoal_wr_size (wr) <= size);
    shoal_hdr_t again;
    const uint8_t *body2 = NULL;
    size_t body2_len = 0;
    S_REQUIRE (shoal_frame_parse (shoal_wr_data (wr), shoal_wr_size (wr), lim,
                                  &again, &body2, &body2_len) == SHOAL_OK);
    S_REQUIRE (again.type == hdr.type && strcmp (again.to, hdr.to) == 0 &&
               strcmp (again.from, hdr.from) == 0 &&
               memcmp (&again.id, &hdr.id, sizeof hdr.id) == 0 &&
               again.has_corr == hdr.has_corr &&
               memcmp (&again.corr, &hdr.corr, sizeof hdr.corr) == 0 &&
               again.ts_us == hdr.ts_us && again.attempt == hdr.attempt &&
               again.deadline_us == hdr.deadline_us);
    S_REQUIRE (body2_len == body_len && memcmp (body2, body, body_len) == 0);
    shoal_wr_destroy (&wr);
}

static void
s_check_value (const uint8_t *data, size_t size, const shoal_limits_t *lim)
{
    /* The raw reader walks anything without overrunning, always moving
       forward while it succeeds; a payload it returns lies inside data. */
    shoal_rd_t rd;
    shoal_rd_init (&rd, data, size);
    while (shoal_rd_left (&rd) > 0) {
        const uint8_t *before = rd.p;
        shoal_mp_val_t v;
        shoal_err_t rn = shoal_rd_next (&rd, &v);
        S_REQUIRE (rd.p >= before && rd.p <= rd.end);
        if (rn != SHOAL_OK) {
            S_REQUIRE (rn == SHOAL_ERR_MALFORMED);
            break;
        }
        S_REQUIRE (rd.p > before);
        if (v.type == SHOAL_MP_STR || v.type == SHOAL_MP_BIN ||
            v.type == SHOAL_MP_EXT) {
            S_REQUIRE (v.ptr > before && v.ptr + v.len == rd.p);
        }
    }

    size_t used = 0;
    shoal_err_t rc = shoal_mp_validate (data, size, lim, &used);
    S_REQUIRE (rc == SHOAL_OK || s_is_decode_error (rc));
    s_lookups (data, size, false);
    if (rc == SHOAL_OK) {
        S_REQUIRE (used > 0 && used <= size);
        /* skip agrees with validate on where the value ends */
        shoal_rd_init (&rd, data, size);
        S_REQUIRE (shoal_rd_skip (&rd, lim->depth_max) == SHOAL_OK);
        S_REQUIRE ((size_t) (rd.p - data) == used);
        s_lookups (data, used, true);
    }

    shoal_err_t err = SHOAL_ERR__COUNT;
    json_t *j = shoal_mp_to_json (data, size, lim, &err);
    S_REQUIRE (err == rc);
    S_REQUIRE ((j != NULL) == (rc == SHOAL_OK));
    if (!j) {
        return;
    }
    /* JSON -> msgpack -> JSON is stable once a value is JSON. Hex text
       doubles bin sizes, so very large inputs may rightly hit str_max. */
    shoal_wr_t *wr = shoal_wr_new ();
    S_REQUIRE (wr);
    S_REQUIRE (shoal_json_to_mp (j, wr) == SHOAL_OK);
    json_t *j2 = NULL;
    if (size <= lim->str_max / 2) {
        j2 = shoal_mp_to_json (shoal_wr_data (wr), shoal_wr_size (wr), lim,
                               &err);
        S_REQUIRE (j2 && err == SHOAL_OK);
        S_REQUIRE (json_equal (j, j2));
    }
    json_decref (j2);
    json_decref (j);
    shoal_wr_destroy (&wr);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    shoal_limits_t lim = shoal_limits_default ();
    s_check_frame (data, size, &lim);
    s_check_value (data, size, &lim);
    /* The body of a frame-shaped input is also a value of its own. */
    if (size > 2) {
        size_t hlen = (size_t) data[0] << 8 | data[1];
        if (hlen < size - 2) {
            s_check_value (data + 2 + hlen, size - 2 - hlen, &lim);
        }
    }
    return 0;
}
