/*  gen_frame_corpus.c - writes the seed corpus of tests/corpus/frame.

    Usage: gen_frame_corpus DIR
    Valid frames come from the real encoder; broken ones are the valid
    ones cut, patched or written by hand, one file per idea, named after
    it. The committed corpus also holds inputs found by libFuzzer
    (fuzz-*), which this tool does not write. Not a test: run it by hand
    when the frame grammar changes, then replay the corpus.
*/
#include "shoal_frame.h"
#include "shoal_json.h"
#include "shoal_mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_dir;
static int s_written;

static void
s_write (const char *name, const void *data, size_t size)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen (path, "wb");
    if (!f || (size > 0 && fwrite (data, 1, size, f) != size)) {
        fprintf (stderr, "gen_frame_corpus: cannot write %s\n", path);
        exit (1);
    }
    fclose (f);
    s_written++;
}

static void
s_write_wr (const char *name, const shoal_wr_t *wr)
{
    s_write (name, shoal_wr_data (wr), shoal_wr_size (wr));
}

static shoal_hdr_t
s_hdr (uint32_t type)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = type;
    strcpy (hdr.to, "control");
    strcpy (hdr.from, "cli@host-1");
    for (int i = 0; i < 16; i++) {
        hdr.id.b[i] = (uint8_t) (0x01 + i);
        hdr.corr.b[i] = (uint8_t) (0xf0 - i);
    }
    hdr.ts_us = 1700000000123456ULL;
    hdr.attempt = 1;
    return hdr;
}

static void
s_check (shoal_err_t rc, const char *what)
{
    if (rc != SHOAL_OK) {
        fprintf (stderr, "gen_frame_corpus: %s: %s\n", what,
                 shoal_strerror (rc));
        exit (1);
    }
}

/*  Patches the 2-byte header length of the frame in wr. */
static void
s_patch_hlen (shoal_wr_t *wr, size_t hlen)
{
    shoal_wr_data_mut (wr)[0] = (uint8_t) (hlen >> 8);
    shoal_wr_data_mut (wr)[1] = (uint8_t) hlen;
}

/*  A hand-made frame: raw header bytes, then raw body bytes. */
static void
s_raw_frame (const char *name, const uint8_t *hdr, size_t hlen,
             const uint8_t *body, size_t blen)
{
    uint8_t buf[2048];
    if (2 + hlen + blen > sizeof buf) {
        exit (1);
    }
    buf[0] = (uint8_t) (hlen >> 8);
    buf[1] = (uint8_t) hlen;
    memcpy (buf + 2, hdr, hlen);
    memcpy (buf + 2 + hlen, body, blen);
    s_write (name, buf, 2 + hlen + blen);
}

/*  The encoded header of the default message, for hand-made frames. */
static size_t
s_header_bytes (uint8_t *out, size_t cap)
{
    shoal_wr_t *wr = shoal_wr_new ();
    shoal_hdr_t hdr = s_hdr (SHOAL_M_SUBMIT);
    s_check (shoal_frame_begin (wr, &hdr), "header");
    size_t hlen = shoal_wr_size (wr) - 2;
    if (hlen > cap) {
        exit (1);
    }
    memcpy (out, shoal_wr_data (wr) + 2, hlen);
    shoal_wr_destroy (&wr);
    return hlen;
}

static void
s_valid_frames (shoal_wr_t *wr)
{
    shoal_hdr_t hdr = s_hdr (SHOAL_M_SUBMIT);
    s_check (shoal_frame_begin (wr, &hdr), "submit");
    shoal_wr_map (wr, 3);
    shoal_wr_kv_str (wr, "queue", "default");
    shoal_wr_str (wr, "args");
    shoal_wr_array (wr, 3);
    shoal_wr_uint (wr, 1);
    shoal_wr_str (wr, "two");
    shoal_wr_map (wr, 1);
    shoal_wr_kv_bin (wr, "k", "\x00\x01", 2);
    shoal_wr_kv_uint (wr, "n", 300);
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "submit end");
    s_write_wr ("valid-submit", wr);

    /* The same message cut at interesting places. */
    size_t size = shoal_wr_size (wr);
    size_t hlen = (size_t) shoal_wr_data (wr)[0] << 8 | shoal_wr_data (wr)[1];
    static const char *const cut_names[] = {
        "trunc-1-byte",     "trunc-hlen-only", "trunc-mid-header",
        "trunc-header-end", "trunc-mid-body",  "trunc-last-byte"};
    size_t cuts[] = {1, 2, 2 + hlen / 2, 2 + hlen, 2 + hlen + 7, size - 1};
    for (size_t i = 0; i < 6; i++) {
        s_write (cut_names[i], shoal_wr_data (wr), cuts[i]);
    }
    /* Wrong header lengths on the valid frame. */
    s_patch_hlen (wr, hlen - 1);
    s_write_wr ("hlen-short", wr);
    s_patch_hlen (wr, hlen + 1);
    s_write_wr ("hlen-long", wr);
    s_patch_hlen (wr, 0);
    s_write_wr ("hlen-zero", wr);
    s_patch_hlen (wr, 0xffff);
    s_write_wr ("hlen-ffff", wr);
    s_patch_hlen (wr, size - 2);
    s_write_wr ("hlen-whole-frame", wr);
    s_patch_hlen (wr, hlen);
    /* Trailing junk after the body. */
    shoal_wr_uint (wr, 0);
    s_write_wr ("body-trailing-byte", wr);

    /* A reply: corr set, empty body. */
    hdr = s_hdr (SHOAL_M_OK);
    hdr.has_corr = true;
    s_check (shoal_frame_begin (wr, &hdr), "ok");
    shoal_wr_map (wr, 0);
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "ok end");
    s_write_wr ("valid-ok-corr", wr);

    /* Longest names, largest numbers. */
    hdr = s_hdr (UINT32_MAX);
    memset (hdr.to, 't', SHOAL_NAME_MAX);
    memset (hdr.from, 'f', SHOAL_NAME_MAX);
    hdr.ts_us = UINT64_MAX;
    hdr.attempt = UINT32_MAX;
    hdr.deadline_us = UINT64_MAX;
    s_check (shoal_frame_begin (wr, &hdr), "max");
    shoal_wr_map (wr, 1);
    shoal_wr_kv_str (wr, "a", "b");
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "max end");
    s_write_wr ("valid-max-fields", wr);

    /* An error reply. */
    hdr = s_hdr (SHOAL_M_ERROR);
    hdr.has_corr = true;
    s_check (shoal_frame_begin (wr, &hdr), "error");
    shoal_wr_map (wr, 2);
    shoal_wr_kv_uint (wr, "code", SHOAL_ERR_NOT_FOUND);
    shoal_wr_kv_str (wr, "text", "no such job");
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "error end");
    s_write_wr ("valid-error", wr);

    /* A body with every msgpack format. */
    static const uint8_t odd[] = {
        0xa3, 'e',  'x', 't',  0xd4, 0x01, 0x02,             /* fixext1 */
        0xa2, 'e',  '8', 0xc7, 0x02, 0x05, 0x01, 0x02,       /* ext8 */
        0xa3, 'f',  '3', '2',  0xca, 0x3f, 0xc0, 0x00, 0x00, /* float32 */
        0x07, 0xa3, 'i', 'n',  't',                          /* int key */
        0xff, 0xc2,                                          /* -1: false */
        0xa2, 'i',  '8', 0xd0, 0x80,                         /* int8 */
        0xa3, 'i',  '1', '6',  0xd1, 0x80, 0x00,             /* int16 */
    };
    hdr = s_hdr (SHOAL_M_RESULT);
    s_check (shoal_frame_begin (wr, &hdr), "all");
    shoal_wr_map (wr, 12 + 7);
    shoal_wr_kv_uint (wr, "u8", 200);
    shoal_wr_kv_uint (wr, "u16", 60000);
    shoal_wr_kv_uint (wr, "u32", 4000000000u);
    shoal_wr_kv_uint (wr, "u64", UINT64_MAX);
    shoal_wr_str (wr, "i64");
    shoal_wr_int (wr, INT64_MIN);
    shoal_wr_str (wr, "f64");
    shoal_wr_double (wr, -2.5);
    shoal_wr_kv_strn (wr, "s8", "0123456789012345678901234567890123456789", 40);
    shoal_wr_kv_bin (wr, "b8", "0123456789abcdef", 16);
    shoal_wr_kv_bool (wr, "ok", true);
    shoal_wr_str (wr, "nil");
    shoal_wr_nil (wr);
    shoal_wr_str (wr, "arr16");
    shoal_wr_array (wr, 16);
    for (int i = 0; i < 16; i++) {
        shoal_wr_int (wr, -i);
    }
    shoal_wr_str (wr, "map");
    shoal_wr_map (wr, 1);
    shoal_wr_kv_str (wr, "k", "v");
    shoal_wr_raw (wr, odd, sizeof odd);
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "all end");
    s_write_wr ("valid-every-type", wr);

    /* The deepest body the default limits allow: map + 15 arrays. */
    hdr = s_hdr (SHOAL_M_EVENT);
    s_check (shoal_frame_begin (wr, &hdr), "deep");
    shoal_wr_map (wr, 1);
    shoal_wr_str (wr, "d");
    for (int i = 0; i < SHOAL_DEPTH_MAX - 1; i++) {
        shoal_wr_array (wr, 1);
    }
    shoal_wr_nil (wr);
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "deep end");
    s_write_wr ("valid-depth-16", wr);
    /* ... and one level more. */
    hdr = s_hdr (SHOAL_M_EVENT);
    s_check (shoal_frame_begin (wr, &hdr), "deeper");
    shoal_wr_map (wr, 1);
    shoal_wr_str (wr, "d");
    for (int i = 0; i < SHOAL_DEPTH_MAX; i++) {
        shoal_wr_array (wr, 1);
    }
    shoal_wr_nil (wr);
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "deeper end");
    s_write_wr ("body-depth-17", wr);

    /* A body written from JSON by the CLI's path. */
    json_t *j = json_loads ("{\"queue\":\"mail\",\"args\":{\"to\":[\"a@b\"],"
                            "\"retry\":{\"max\":5,\"backoff\":1.5}},"
                            "\"delay_ms\":0,\"tags\":[]}",
                            0, NULL);
    hdr = s_hdr (SHOAL_M_SUBMIT);
    s_check (shoal_frame_begin (wr, &hdr), "json");
    s_check (shoal_json_to_mp (j, wr), "json body");
    json_decref (j);
    s_check (shoal_frame_end (wr, SHOAL_FRAME_MAX), "json end");
    s_write_wr ("valid-json-body", wr);
}

static void
s_hand_frames (void)
{
    uint8_t h[600];
    size_t hlen = s_header_bytes (h, sizeof h);
    static const uint8_t body[] = {0x81, 0xa1, 'a', 0x01};

    /* Header field 0 is the array head, field 1 the version. */
    uint8_t v[600];
    memcpy (v, h, hlen);
    v[1] = 0x02;
    s_raw_frame ("version-2", v, hlen, body, sizeof body);
    v[1] = 0x00;
    s_raw_frame ("version-0", v, hlen, body, sizeof body);
    static const uint8_t v2_junk[] = {0x99, 0x02, 0xc1, 0xdd, 0xff};
    s_raw_frame ("version-2-junk-header", v2_junk, sizeof v2_junk, body,
                 sizeof body);
    static const uint8_t v_str[] = {0x91, 0xa1, '1'};
    s_raw_frame ("version-not-uint", v_str, sizeof v_str, body, sizeof body);

    memcpy (v, h, hlen);
    v[0] = 0x98; /* 8 fields declared */
    s_raw_frame ("header-8-fields", v, hlen, body, sizeof body);

    /* Twelve fields: three extras of other shapes. */
    static const uint8_t extra[] = {0x81, 0xa1, 'x', 0x92, 0x01, 0xc0,
                                    0xcb, 0,    0,   0,    0,    0,
                                    0,    0,    0,   0xc4, 0x01, 0x00};
    memcpy (v, h, hlen);
    v[0] = 0x9c;
    memcpy (v + hlen, extra, sizeof extra);
    s_raw_frame ("valid-extra-fields", v, hlen + sizeof extra, body,
                 sizeof body);
    v[0] = 0x9d; /* one more declared than present */
    s_raw_frame ("header-extra-missing", v, hlen + sizeof extra, body,
                 sizeof body);

    /* A well-formed header over SHOAL_HEADER_MAX. */
    memcpy (v, h, hlen);
    v[0] = 0x9a;
    v[hlen] = 0xc5;
    v[hlen + 1] = 0x02;
    v[hlen + 2] = 0x00;
    memset (v + hlen + 3, 'p', 0x200);
    s_raw_frame ("header-too-large", v, hlen + 3 + 0x200, body, sizeof body);

    /* The header fields in order: version, type, to ("control"), ... */
    size_t to_at = 3, from_at = to_at + 8;
    size_t id_at = from_at + 11;
    memcpy (v, h, hlen);
    v[to_at + 3] = 0x00; /* NUL inside "control" */
    s_raw_frame ("name-with-nul", v, hlen, body, sizeof body);
    memcpy (v, h, hlen);
    v[id_at + 1] = 15; /* id bin of 15 bytes: the header shifts */
    s_raw_frame ("id-bin15", v, hlen, body, sizeof body);
    memcpy (v, h, hlen);
    v[id_at + 18] = 0xa0; /* corr: empty str instead of nil */
    s_raw_frame ("corr-str", v, hlen, body, sizeof body);
    memcpy (v, h, hlen);
    v[2] = 0xc1; /* type */
    s_raw_frame ("type-c1", v, hlen, body, sizeof body);

    /* A 65-byte name as the wire could carry it. */
    uint8_t n65[200];
    size_t k = 0;
    static const uint8_t pre[] = {0x99, 0x01, 0x0a, 0xd9, 65};
    memcpy (n65, pre, sizeof pre);
    k = sizeof pre;
    memset (n65 + k, 'n', 65);
    k += 65;
    memcpy (n65 + k, h + from_at, hlen - from_at);
    k += hlen - from_at;
    s_raw_frame ("name-65", n65, k, body, sizeof body);

    /* Type beyond 32 bits. */
    uint8_t big[600];
    static const uint8_t t64[] = {0x99, 0x01, 0xcf, 1, 0, 0, 0, 0, 0, 0, 0};
    memcpy (big, t64, sizeof t64);
    memcpy (big + sizeof t64, h + to_at, hlen - to_at);
    s_raw_frame ("type-64bit", big, sizeof t64 + hlen - to_at, body,
                 sizeof body);

    /* Bodies that are not one map. */
    static const uint8_t b_arr[] = {0x91, 0x01};
    static const uint8_t b_nil[] = {0xc0};
    static const uint8_t b_c1[] = {0x81, 0xa1, 'a', 0xc1};
    static const uint8_t b_arrkey[] = {0x81, 0x91, 0x01, 0x01};
    static const uint8_t b_short[] = {0x83, 0xa1, 'a', 0x01};
    s_raw_frame ("body-array", h, hlen, b_arr, sizeof b_arr);
    s_raw_frame ("body-nil", h, hlen, b_nil, sizeof b_nil);
    s_raw_frame ("body-c1", h, hlen, b_c1, sizeof b_c1);
    s_raw_frame ("body-array-key", h, hlen, b_arrkey, sizeof b_arrkey);
    s_raw_frame ("body-short-map", h, hlen, b_short, sizeof b_short);
    s_raw_frame ("body-missing", h, hlen, body, 0);

    /* Huge declared lengths inside an otherwise valid frame. */
    static const uint8_t b_str32[] = {0x81, 0xa1, 's',  0xdb, 0xff,
                                      0xff, 0xff, 0xff, 'x'};
    static const uint8_t b_bin32[] = {0x81, 0xa1, 'b',  0xc6, 0xff,
                                      0xff, 0xff, 0xff, 0x00};
    static const uint8_t b_map32[] = {0xdf, 0xff, 0xff, 0xff,
                                      0xff, 0xa1, 'a',  0x01};
    static const uint8_t b_arr32[] = {0x81, 0xa1, 'a',  0xdd, 0xff,
                                      0xff, 0xff, 0xff, 0x01};
    s_raw_frame ("body-str32-huge", h, hlen, b_str32, sizeof b_str32);
    s_raw_frame ("body-bin32-huge", h, hlen, b_bin32, sizeof b_bin32);
    s_raw_frame ("body-map32-huge", h, hlen, b_map32, sizeof b_map32);
    s_raw_frame ("body-array32-huge", h, hlen, b_arr32, sizeof b_arr32);
    static const uint8_t h_arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    s_raw_frame ("header-array32-huge", h_arr32, sizeof h_arr32, body,
                 sizeof body);

    /* 1000 nested arrays as a body value. */
    uint8_t deep[1100];
    static const uint8_t deep_pre[] = {0x81, 0xa1, 'd'};
    memcpy (deep, deep_pre, sizeof deep_pre);
    memset (deep + sizeof deep_pre, 0x91, 1000);
    deep[sizeof deep_pre + 1000] = 0xc0;
    s_raw_frame ("body-nest-1000", h, hlen, deep, sizeof deep_pre + 1001);
}

static void
s_bare_values (void)
{
    /* Inputs aimed at shoal_mp_validate and shoal_mp_to_json. */
    static const uint8_t dd[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t db[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t c6[] = {0xc6, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t df[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t c9[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t c1[] = {0xc1};
    static const uint8_t zero[] = {0x00};
    static const uint8_t count[] = {0xdd, 0x00, 0x01, 0x00, 0x01, 0xc0};
    static const uint8_t nan[] = {0x82, 0xa1, 'n',  0xcb, 0x7f, 0xf8, 0,
                                  0,    0,    0,    0,    0,    0xa1, 'i',
                                  0xca, 0x7f, 0x80, 0,    0};
    static const uint8_t key_utf8[] = {0x82, 0xa2, 0xc3, 0x28, 0x01,
                                       0xa2, 0xc3, 0xa9, 0x02};
    static const uint8_t str_utf8[] = {0x92, 0xa2, 0xff, 0xfe,
                                       0xa3, 'a',  0x00, 'b'};
    static const uint8_t int_keys[] = {
        0x83, 0x01, 0xc0, 0xff, 0xc3, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x90};
    static const uint8_t exts[] = {
        0x95, 0xd4, 0x01, 0x00, 0xd8, 0x02, 0, 0, 0,    0,    0,    0,
        0,    0,    0,    0,    0,    0,    0, 0, 0,    0,    0xc8, 0x00,
        0x01, 0x03, 0x09, 0xc9, 0,    0,    0, 0, 0x04, 0xc7, 0x00, 0x05};
    s_write ("bare-array32-huge", dd, sizeof dd);
    s_write ("bare-str32-huge", db, sizeof db);
    s_write ("bare-bin32-huge", c6, sizeof c6);
    s_write ("bare-map32-huge", df, sizeof df);
    s_write ("bare-ext32-huge", c9, sizeof c9);
    s_write ("bare-c1", c1, sizeof c1);
    s_write ("bare-fixint", zero, sizeof zero);
    s_write ("empty", zero, 0);
    s_write ("bare-count-65537", count, sizeof count);
    s_write ("bare-nan-inf", nan, sizeof nan);
    s_write ("bare-key-not-utf8", key_utf8, sizeof key_utf8);
    s_write ("bare-str-not-utf8", str_utf8, sizeof str_utf8);
    s_write ("bare-int-keys", int_keys, sizeof int_keys);
    s_write ("bare-exts", exts, sizeof exts);
    uint8_t nest[1000];
    memset (nest, 0x91, sizeof nest);
    s_write ("bare-nest-1000", nest, sizeof nest);
    /* A long key of two-byte characters: cut on a boundary by to_json. */
    uint8_t key[3 + 200 + 1] = {0x81, 0xd9, 200};
    for (int i = 0; i < 100; i++) {
        key[3 + 2 * i] = 0xc3;
        key[4 + 2 * i] = 0xa9;
    }
    key[203] = 0xc0;
    s_write ("bare-long-utf8-key", key, sizeof key);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    s_dir = argv[1];
    shoal_wr_t *wr = shoal_wr_new ();
    if (!wr) {
        return 1;
    }
    s_valid_frames (wr);
    shoal_wr_destroy (&wr);
    s_hand_frames ();
    s_bare_values ();
    printf ("%d files written to %s\n", s_written, s_dir);
    return 0;
}
