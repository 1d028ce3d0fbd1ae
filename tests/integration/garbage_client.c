/*  garbage_client.c - throws malformed frames and garbage at a running
    shoald's control endpoint (argv[1]) and checks that every request gets
    exactly one ERROR reply with the right code, and that the daemon keeps
    serving valid requests afterwards. Run by test_garbage.sh.
*/
#include "shoal_frame.h"
#include "shoal_mp.h"
#include "shoal_test.h"
#include "shoal_wr.h"

#include <czmq.h>

static const char *s_ep;

/*  Sends one raw frame on a fresh DEALER and returns the reply frame
    (caller destroys), or NULL after 10 s. */
static zframe_t *
s_ask_on (zsock_t *s, const void *data, size_t size)
{
    zframe_t *f = zframe_new (data, size);
    if (zframe_send (&f, s, 0)) {
        return NULL;
    }
    zpoller_t *p = zpoller_new (s, NULL);
    zframe_t *reply = zpoller_wait (p, 10000) ? zframe_recv (s) : NULL;
    zpoller_destroy (&p);
    return reply;
}

static zsock_t *
s_connect (void)
{
    zsock_t *s = zsock_new (ZMQ_DEALER);
    if (s) {
        zsock_set_linger (s, 0);
        zsock_connect (s, "%s", s_ep);
    }
    return s;
}

/*  Parses a reply and returns its type and code (0 when none). */
static bool
s_decode (zframe_t *reply, shoal_hdr_t *hdr, uint64_t *code)
{
    shoal_limits_t lim = shoal_limits_default ();
    const uint8_t *body;
    size_t len;
    if (!reply || shoal_frame_parse (zframe_data (reply), zframe_size (reply),
                                     &lim, hdr, &body, &len)) {
        return false;
    }
    *code = 0;
    shoal_map_uint (body, len, "code", code);
    return true;
}

/*  Builds a request frame of type with body written by the caller. */
static shoal_wr_t *
s_request (uint32_t type, uint32_t version_hack)
{
    shoal_wr_t *w = shoal_wr_new ();
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = type;
    strcpy (hdr.to, "control");
    strcpy (hdr.from, "garbage");
    hdr.id.b[0] = 1;
    hdr.id.b[15] = (uint8_t) type;
    shoal_frame_begin (w, &hdr);
    if (version_hack) {
        /* header byte 3 is the version fixint (after 2-byte hlen and the
           array marker) */
        shoal_wr_data_mut (w)[3] = (uint8_t) version_hack;
    }
    return w;
}

static bool
s_expect_error (const void *data, size_t size, uint64_t want)
{
    zsock_t *s = s_connect ();
    zframe_t *r = s_ask_on (s, data, size);
    shoal_hdr_t hdr;
    uint64_t code = 0;
    bool ok =
        s_decode (r, &hdr, &code) && hdr.type == SHOAL_M_ERROR && code == want;
    if (!ok) {
        fprintf (stderr, "  want ERROR %llu, got %s code %llu\n",
                 (unsigned long long) want,
                 r ? shoal_mtype_name (hdr.type) : "no reply",
                 (unsigned long long) code);
    }
    zframe_destroy (&r);
    zsock_destroy (&s);
    return ok;
}

SHOAL_TEST (empty_frame_is_malformed)
{
    CHECK (s_expect_error ("", 0, SHOAL_ERR_MALFORMED));
}

SHOAL_TEST (huge_declared_lengths_are_malformed)
{
    static const uint8_t bodies[][5] = {{0xdd, 0xff, 0xff, 0xff, 0xff},
                                        {0xdb, 0xff, 0xff, 0xff, 0xff},
                                        {0xc6, 0xff, 0xff, 0xff, 0xff},
                                        {0xdf, 0xff, 0xff, 0xff, 0xff}};
    for (size_t i = 0; i < 4; i++) {
        shoal_wr_t *w = s_request (SHOAL_M_SUBMIT, 0);
        shoal_wr_raw (w, bodies[i], 5);
        bool ok = s_expect_error (shoal_wr_data (w), shoal_wr_size (w),
                                  SHOAL_ERR_MALFORMED);
        shoal_wr_destroy (&w);
        CHECK (ok);
    }
}

SHOAL_TEST (unknown_version_is_refused)
{
    shoal_wr_t *w = s_request (SHOAL_M_PING, 2);
    shoal_wr_map (w, 0);
    bool ok = s_expect_error (shoal_wr_data (w), shoal_wr_size (w),
                              SHOAL_ERR_VERSION);
    shoal_wr_destroy (&w);
    CHECK (ok);
}

SHOAL_TEST (oversize_frame_is_too_large)
{
    size_t n = (size_t) 1536 * 1024;
    uint8_t *big = calloc (1, n);
    CHECK (big);
    big[1] = 4;
    bool ok = s_expect_error (big, n, SHOAL_ERR_TOO_LARGE);
    free (big);
    CHECK (ok);
}

SHOAL_TEST (deep_nesting_is_too_large)
{
    shoal_wr_t *w = s_request (SHOAL_M_SUBMIT, 0);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "payload");
    for (int i = 0; i < 200; i++) {
        shoal_wr_array (w, 1);
    }
    shoal_wr_nil (w);
    bool ok = s_expect_error (shoal_wr_data (w), shoal_wr_size (w),
                              SHOAL_ERR_TOO_LARGE);
    shoal_wr_destroy (&w);
    CHECK (ok);
}

SHOAL_TEST (multi_frame_request_is_malformed)
{
    zsock_t *s = s_connect ();
    zstr_sendm (s, "part one");
    zstr_send (s, "part two");
    zpoller_t *p = zpoller_new (s, NULL);
    zframe_t *r = zpoller_wait (p, 10000) ? zframe_recv (s) : NULL;
    zpoller_destroy (&p);
    shoal_hdr_t hdr;
    uint64_t code = 0;
    bool ok = s_decode (r, &hdr, &code) && code == SHOAL_ERR_MALFORMED;
    zframe_destroy (&r);
    zsock_destroy (&s);
    CHECK (ok);
}

SHOAL_TEST (unknown_and_internal_types_are_refused)
{
    uint32_t types[] = {999, SHOAL_M_STORE_SUBMIT, SHOAL_M_RESULT};
    for (size_t i = 0; i < 3; i++) {
        shoal_wr_t *w = s_request (types[i], 0);
        shoal_wr_map (w, 0);
        bool ok = s_expect_error (shoal_wr_data (w), shoal_wr_size (w),
                                  SHOAL_ERR_UNKNOWN_TYPE);
        shoal_wr_destroy (&w);
        CHECK (ok);
    }
}

SHOAL_TEST (bad_submit_fields_are_invalid)
{
    const char *cases[][3] = {
        /* type, queue, priority */
        {NULL, NULL, NULL},
        {"has space", NULL, NULL},
        {"a-type-name-that-is-much-longer-than-sixty-four-characters-in-all",
         NULL, NULL},
        {"noop", "bad/queue", NULL},
        {"noop", NULL, "urgent"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_wr_t *w = s_request (SHOAL_M_SUBMIT, 0);
        uint32_t n = (cases[i][0] != NULL) + (cases[i][1] != NULL) +
                     (cases[i][2] != NULL);
        shoal_wr_map (w, n);
        if (cases[i][0]) {
            shoal_wr_kv_str (w, "type", cases[i][0]);
        }
        if (cases[i][1]) {
            shoal_wr_kv_str (w, "queue", cases[i][1]);
        }
        if (cases[i][2]) {
            shoal_wr_kv_str (w, "priority", cases[i][2]);
        }
        bool ok = s_expect_error (shoal_wr_data (w), shoal_wr_size (w),
                                  SHOAL_ERR_INVALID);
        shoal_wr_destroy (&w);
        CHECK (ok);
    }
}

SHOAL_TEST (random_garbage_always_gets_an_error)
{
    /* Deterministic: a fixed-seed generator, 500 frames up to 300 bytes,
       half of them starting with a valid-looking header length. */
    uint64_t x = 0x5eed5eed5eedULL;
    zsock_t *s = s_connect ();
    int answered = 0;
    for (int i = 0; i < 500; i++) {
        uint8_t buf[300];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = (size_t) (x % sizeof buf);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[k] = (uint8_t) x;
        }
        if (n > 3 && (i & 1)) {
            buf[0] = 0;
            buf[1] = (uint8_t) (n / 2);
            buf[2] = 0x99;
            buf[3] = 1;
        }
        zframe_t *r = s_ask_on (s, buf, n);
        shoal_hdr_t hdr;
        uint64_t code = 0;
        if (s_decode (r, &hdr, &code) && hdr.type == SHOAL_M_ERROR &&
            code != SHOAL_OK) {
            answered++;
        }
        zframe_destroy (&r);
    }
    zsock_destroy (&s);
    CHECK_EQ (answered, 500);
}

SHOAL_TEST (still_serving_after_garbage)
{
    zsock_t *s = s_connect ();
    shoal_wr_t *w = s_request (SHOAL_M_SUBMIT, 0);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", "echo");
    shoal_wr_str (w, "payload");
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "after", "garbage");
    zframe_t *r = s_ask_on (s, shoal_wr_data (w), shoal_wr_size (w));
    shoal_wr_destroy (&w);
    shoal_hdr_t hdr;
    uint64_t code = 0;
    CHECK (s_decode (r, &hdr, &code));
    CHECK_EQ (hdr.type, SHOAL_M_OK);
    CHECK (hdr.has_corr && hdr.corr.b[15] == SHOAL_M_SUBMIT);
    zframe_destroy (&r);
    zsock_destroy (&s);
}

SHOAL_TEST (req_socket_clients_are_served)
{
    zsock_t *s = zsock_new (ZMQ_REQ);
    CHECK (s);
    zsock_set_linger (s, 0);
    zsock_connect (s, "%s", s_ep);
    shoal_wr_t *w = s_request (SHOAL_M_PING, 0);
    shoal_wr_map (w, 0);
    zframe_t *r = s_ask_on (s, shoal_wr_data (w), shoal_wr_size (w));
    shoal_wr_destroy (&w);
    shoal_hdr_t hdr;
    uint64_t code = 0;
    bool ok = s_decode (r, &hdr, &code) && hdr.type == SHOAL_M_OK;
    zframe_destroy (&r);
    zsock_destroy (&s);
    CHECK (ok);
}

static const shoal_test_case_t s_cases[] = {
    {"empty_frame_is_malformed", empty_frame_is_malformed},
    {"huge_declared_lengths_are_malformed",
     huge_declared_lengths_are_malformed},
    {"unknown_version_is_refused", unknown_version_is_refused},
    {"oversize_frame_is_too_large", oversize_frame_is_too_large},
    {"deep_nesting_is_too_large", deep_nesting_is_too_large},
    {"multi_frame_request_is_malformed", multi_frame_request_is_malformed},
    {"unknown_and_internal_types_are_refused",
     unknown_and_internal_types_are_refused},
    {"bad_submit_fields_are_invalid", bad_submit_fields_are_invalid},
    {"random_garbage_always_gets_an_error",
     random_garbage_always_gets_an_error},
    {"still_serving_after_garbage", still_serving_after_garbage},
    {"req_socket_clients_are_served", req_socket_clients_are_served},
};

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: garbage_client ENDPOINT [case]\n");
        return 2;
    }
    s_ep = argv[1];
    zsys_init ();
    return shoal_test_run (s_cases, sizeof s_cases / sizeof s_cases[0],
                           argc - 1, argv + 1);
}
