/*  test_bus.c - the host bus and ports: exact forwarding, replies,
    unreachable names, malformed frames, ordering, ipc, name handover.

    Every case starts its own bus on an inproc endpoint named after its
    mkdtemp folder. Receives block with a 5 s timeout that only guards
    against a hang; nothing waits for time to pass.

    Routing is made deterministic without waiting: a ROUTER only routes to
    identities whose connection it has processed, and it processes
    connections in the order they were made. So a port is always connected
    before the port that will send to it (b before a), or it speaks first
    and the bus has read from it before anyone sends to it.
*/
#include "shoal_test.h"
#include "shoal_bus.h"
#include "shoal_actor.h"
#include "shoal_log.h"
#include "shoal_port.h"
#include "shoal_mp.h"
#include "rt_helpers.h"

#define S_GUARD_MS 5000

typedef struct {
    char dir[RT_PATH_MAX];
    char inproc[RT_PATH_MAX + 32];
    char ipc[RT_PATH_MAX + 32];
    zactor_t *bus;
    shoal_port_t *a; /* "alpha" */
    shoal_port_t *b; /* "beta" */
    shoal_clock_t clock;
} s_fx_t;

static shoal_port_t *
s_port (s_fx_t *fx, const char *endpoint, const char *name)
{
    shoal_port_t *p = shoal_port_new (endpoint, name, &fx->clock);
    if (p) {
        zsock_set_rcvtimeo (shoal_port_sock (p), S_GUARD_MS);
    }
    return p;
}

static shoal_err_t
s_fx_setup (s_fx_t *fx)
{
    memset (fx, 0, sizeof *fx);
    shoal_log_setup ("test_bus", false);
    if (rt_tmpdir (fx->dir)) {
        return SHOAL_ERR_IO;
    }
    rt_endpoint (fx->inproc, sizeof fx->inproc, fx->dir, "bus");
    snprintf (fx->ipc, sizeof fx->ipc, "ipc://%s/bus.ipc", fx->dir);
    fx->clock = shoal_clock_real ();
    shoal_bus_args_t args = {.inproc = fx->inproc, .ipc = fx->ipc};
    shoal_err_t rc = SHOAL_ERR_STATE;
    fx->bus = shoal_actor_start (shoal_bus_actor, &args, &rc);
    if (!fx->bus) {
        return rc;
    }
    zsock_set_rcvtimeo (fx->bus, S_GUARD_MS);
    /* b first: see the note at the top. */
    fx->b = s_port (fx, fx->inproc, "beta");
    fx->a = s_port (fx, fx->inproc, "alpha");
    return fx->a && fx->b ? SHOAL_OK : SHOAL_ERR_IO;
}

static void
s_fx_teardown (s_fx_t *fx)
{
    shoal_port_destroy (&fx->a);
    shoal_port_destroy (&fx->b);
    zactor_destroy (&fx->bus);
    rt_rmtree (fx->dir);
}

#define BUS_TEST(name)                                                         \
    static void name##_body (bool *shoal_test_failed_, s_fx_t *fx);            \
    SHOAL_TEST (name)                                                          \
    {                                                                          \
        s_fx_t fx;                                                             \
        shoal_err_t rc = s_fx_setup (&fx);                                     \
        if (rc == SHOAL_OK) {                                                  \
            name##_body (shoal_test_failed_, &fx);                             \
        }                                                                      \
        s_fx_teardown (&fx);                                                   \
        CHECK_OK (rc);                                                         \
    }                                                                          \
    static void name##_body (bool *shoal_test_failed_, s_fx_t *fx)

typedef struct {
    uint64_t forwarded, unroutable, malformed;
} s_stats_t;

/*  Asks the bus for its counters. */
static shoal_err_t
s_stats (zactor_t *bus, s_stats_t *st)
{
    if (zstr_send (bus, "STATS")) {
        return SHOAL_ERR_IO;
    }
    char *text = zstr_recv (bus);
    if (!text) {
        return SHOAL_ERR_TIMEOUT;
    }
    unsigned long long f, u, m;
    int n = sscanf (text, "forwarded=%llu unroutable=%llu malformed=%llu", &f,
                    &u, &m);
    zstr_free (&text);
    if (n != 3) {
        return SHOAL_ERR_MALFORMED;
    }
    st->forwarded = f;
    st->unroutable = u;
    st->malformed = m;
    return SHOAL_OK;
}

/*  Sends an empty-bodied message; its header (with the id the port gave
    it) is left in *hdr. */
static shoal_err_t
s_send (shoal_port_t *port, uint32_t type, const char *to, shoal_hdr_t *hdr)
{
    memset (hdr, 0, sizeof *hdr);
    hdr->type = type;
    snprintf (hdr->to, sizeof hdr->to, "%s", to);
    shoal_wr_map (shoal_port_begin_hdr (port, hdr), 0);
    return shoal_port_send (port);
}

static bool
s_id_eq (const shoal_id_t *x, const shoal_id_t *y)
{
    return memcmp (x->b, y->b, sizeof x->b) == 0;
}

BUS_TEST (bus_forwards_exact_bytes_and_header)
{
    shoal_hdr_t h;
    memset (&h, 0, sizeof h);
    h.type = SHOAL_M_RUN;
    snprintf (h.to, sizeof h.to, "beta");
    h.attempt = 7;
    h.deadline_us = 1700000000123456ull;
    h.has_corr = true;
    for (int i = 0; i < 16; i++) {
        h.corr.b[i] = (uint8_t) (i + 1);
    }
    shoal_wr_t *w = shoal_port_begin_hdr (fx->a, &h);
    size_t off = shoal_wr_size (w);
    uint8_t blob[300];
    for (size_t i = 0; i < sizeof blob; i++) {
        blob[i] = (uint8_t) i;
    }
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "k", "v");
    shoal_wr_kv_bin (w, "blob", blob, sizeof blob);
    shoal_wr_kv_uint (w, "n", UINT64_MAX);
    size_t body_len = shoal_wr_size (w) - off;
    uint8_t body[512];
    CHECK (body_len <= sizeof body);
    memcpy (body, shoal_wr_data (w) + off, body_len);
    CHECK (!shoal_id_is_zero (&h.id)); /* begin_hdr filled id, ts, from */
    CHECK (h.ts_us != 0);
    CHECK_STR (h.from, "alpha");
    CHECK_OK (shoal_port_send (fx->a));

    shoal_in_t in;
    CHECK_OK (shoal_port_recv (fx->b, &in, 0));
    bool body_ok =
        in.body_len == body_len && memcmp (in.body, body, body_len) == 0;
    shoal_hdr_t got = in.hdr;
    shoal_id_t req_id = in.hdr.id;
    shoal_in_close (&in);
    CHECK (body_ok);
    CHECK_EQ (got.version, SHOAL_PROTO_VERSION);
    CHECK_EQ (got.type, SHOAL_M_RUN);
    CHECK_STR (got.to, "beta");
    CHECK_STR (got.from, "alpha");
    CHECK (s_id_eq (&got.id, &h.id));
    CHECK (got.has_corr);
    CHECK (s_id_eq (&got.corr, &h.corr));
    CHECK (got.ts_us == h.ts_us);
    CHECK_EQ (got.attempt, 7);
    CHECK (got.deadline_us == h.deadline_us);

    /* And back: B answers A's message. */
    w = shoal_port_begin (fx->b, SHOAL_M_OK, got.from, &req_id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "echo", "pong");
    CHECK_OK (shoal_port_send (fx->b));
    CHECK_OK (shoal_port_recv (fx->a, &in, 0));
    got = in.hdr;
    char echo[16] = "";
    shoal_err_t rc =
        shoal_map_strcpy (in.body, in.body_len, "echo", echo, sizeof echo);
    shoal_in_close (&in);
    CHECK_OK (rc);
    CHECK_STR (echo, "pong");
    CHECK_EQ (got.type, SHOAL_M_OK);
    CHECK_STR (got.from, "beta");
    CHECK_STR (got.to, "alpha");
    CHECK (got.has_corr);
    CHECK (s_id_eq (&got.corr, &h.id));
    CHECK_EQ (got.attempt, 0);
    CHECK (got.deadline_us == 0);

    s_stats_t st;
    CHECK_OK (s_stats (fx->bus, &st));
    CHECK (st.forwarded == 2 && st.unroutable == 0 && st.malformed == 0);
    CHECK_EQ (shoal_port_dropped (fx->a), 0);
    CHECK_EQ (shoal_port_dropped (fx->b), 0);
}

/*  Receives the next message on port and checks it is an UNREACHABLE
    error from the bus answering req. */
static shoal_err_t
s_expect_unreachable (shoal_port_t *port, const shoal_hdr_t *req)
{
    shoal_in_t in;
    shoal_err_t rc = shoal_port_recv (port, &in, 0);
    if (rc) {
        return rc;
    }
    uint64_t code = 0;
    const char *text = NULL;
    uint32_t text_len = 0;
    bool ok =
        in.hdr.type == SHOAL_M_ERROR && streq (in.hdr.from, "bus") &&
        streq (in.hdr.to, req->from) && in.hdr.has_corr &&
        s_id_eq (&in.hdr.corr, &req->id) &&
        shoal_map_uint (in.body, in.body_len, "code", &code) == 0 &&
        code == SHOAL_ERR_UNREACHABLE &&
        shoal_map_str (in.body, in.body_len, "text", &text, &text_len) == 0 &&
        memmem (text, text_len, req->to, strlen (req->to)) != NULL;
    shoal_in_close (&in);
    return ok ? SHOAL_OK : SHOAL_ERR_STATE;
}

BUS_TEST (bus_unreachable_gets_error_reply)
{
    shoal_hdr_t req;
    CHECK_OK (s_send (fx->a, SHOAL_M_PING, "nobody", &req));
    CHECK_OK (s_expect_unreachable (fx->a, &req));

    /* An ERROR that cannot be delivered is dropped, not answered: the
       next reply A sees is for the PING sent after it. */
    shoal_hdr_t err, ping;
    CHECK_OK (s_send (fx->a, SHOAL_M_ERROR, "nobody2", &err));
    CHECK_OK (s_send (fx->a, SHOAL_M_PING, "nobody3", &ping));
    CHECK_OK (s_expect_unreachable (fx->a, &ping));

    s_stats_t st;
    CHECK_OK (s_stats (fx->bus, &st));
    CHECK_EQ (st.unroutable, 3);
    CHECK_EQ (st.forwarded, 0);
    CHECK_EQ (st.malformed, 0);

    /* B is unaffected and reachable. */
    shoal_hdr_t h;
    shoal_in_t in;
    CHECK_OK (s_send (fx->a, SHOAL_M_PING, "beta", &h));
    CHECK_OK (shoal_port_recv (fx->b, &in, 0));
    bool same = s_id_eq (&in.hdr.id, &h.id);
    shoal_in_close (&in);
    CHECK (same);
}

/*  B's next message must be the one with id want. */
static shoal_err_t
s_expect_id (shoal_port_t *port, const shoal_id_t *want)
{
    shoal_in_t in;
    shoal_err_t rc = shoal_port_recv (port, &in, 0);
    if (rc) {
        return rc;
    }
    bool same = s_id_eq (&in.hdr.id, want);
    shoal_in_close (&in);
    return same ? SHOAL_OK : SHOAL_ERR_STATE;
}

BUS_TEST (bus_drops_malformed_frames)
{
    void *raw = zsock_resolve (shoal_port_sock (fx->a));
    shoal_hdr_t h1, h2;
    s_stats_t st;

    /* Garbage, then a good message: B gets only the good one. */
    CHECK_EQ (zmq_send (raw, "garbage", 7, 0), 7);
    CHECK_OK (s_send (fx->a, SHOAL_M_PING, "beta", &h1));
    CHECK_OK (s_expect_id (fx->b, &h1.id));
    CHECK_OK (s_stats (fx->bus, &st));
    CHECK_EQ (st.malformed, 1);
    CHECK_EQ (st.forwarded, 1);
    CHECK_EQ (st.unroutable, 0);

    /* A well-formed frame to B, sent three ways it must not pass: with a
       second frame, with protocol version 2, and empty. */
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_hdr_t fh;
    memset (&fh, 0, sizeof fh);
    fh.type = SHOAL_M_PING;
    snprintf (fh.to, sizeof fh.to, "beta");
    snprintf (fh.from, sizeof fh.from, "alpha");
    fh.id.b[15] = 1;
    shoal_err_t rc = shoal_frame_begin (w, &fh);
    shoal_wr_map (w, 0);
    if (rc == SHOAL_OK) {
        rc = shoal_frame_end (w, SHOAL_FRAME_MAX);
    }
    uint8_t frame[128];
    size_t size = shoal_wr_size (w);
    if (size <= sizeof frame) {
        memcpy (frame, shoal_wr_data (w), size);
    }
    shoal_wr_destroy (&w);
    CHECK_OK (rc);
    CHECK (size <= sizeof frame);
    CHECK_EQ (frame[3], SHOAL_PROTO_VERSION); /* [hlen:2][array][version] */
    CHECK_EQ (zmq_send (raw, frame, size, ZMQ_SNDMORE), (int) size);
    CHECK_EQ (zmq_send (raw, "tail", 4, 0), 4);
    frame[3] = 2;
    CHECK_EQ (zmq_send (raw, frame, size, 0), (int) size);
    CHECK_EQ (zmq_send (raw, "", 0, 0), 0);
    CHECK_OK (s_send (fx->a, SHOAL_M_PING, "beta", &h2));
    CHECK_OK (s_expect_id (fx->b, &h2.id));
    CHECK_OK (s_stats (fx->bus, &st));
    CHECK_EQ (st.malformed, 4);
    CHECK_EQ (st.forwarded, 2);
    CHECK_EQ (shoal_port_dropped (fx->b), 0);

    /* Still forwarding both ways. */
    shoal_hdr_t back;
    CHECK_OK (s_send (fx->b, SHOAL_M_OK, "alpha", &back));
    CHECK_OK (s_expect_id (fx->a, &back.id));
}

BUS_TEST (bus_keeps_order_of_10000)
{
    enum { N = 10000 };
    for (uint32_t i = 0; i < N; i++) {
        shoal_wr_t *w = shoal_port_begin (fx->a, SHOAL_M_RUN, "beta", NULL);
        shoal_wr_map (w, 1);
        shoal_wr_kv_uint (w, "i", i);
        shoal_err_t rc = shoal_port_send (fx->a);
        if (rc) {
            SHOAL_FAIL_ ("send %u: %s", i, shoal_strerror (rc));
        }
    }
    shoal_id_t last;
    memset (&last, 0, sizeof last);
    for (uint32_t i = 0; i < N; i++) {
        shoal_in_t in;
        shoal_err_t rc = shoal_port_recv (fx->b, &in, 0);
        if (rc) {
            SHOAL_FAIL_ ("message %u of %u: %s", i, N, shoal_strerror (rc));
        }
        uint64_t got = UINT64_MAX;
        shoal_map_uint (in.body, in.body_len, "i", &got);
        bool later = memcmp (in.hdr.id.b, last.b, 16) > 0;
        last = in.hdr.id;
        shoal_in_close (&in);
        if (got != i || !later) {
            SHOAL_FAIL_ ("message %u arrived as %llu (id later: %d)", i,
                         (unsigned long long) got, later);
        }
    }
    shoal_in_t in;
    CHECK_RC (shoal_port_recv (fx->b, &in, ZMQ_DONTWAIT), SHOAL_ERR_BUSY);
    s_stats_t st;
    CHECK_OK (s_stats (fx->bus, &st));
    CHECK_EQ (st.forwarded, N);
    CHECK_EQ (st.malformed, 0);
}

BUS_TEST (bus_ipc_port_talks_to_inproc_port)
{
    /* A process actor's port comes in over the bus's ipc endpoint. */
    shoal_port_t *c = s_port (fx, fx->ipc, "gamma");
    CHECK (c);
    shoal_hdr_t ping;
    shoal_in_t in;
    shoal_err_t rc = s_send (c, SHOAL_M_PING, "alpha", &ping);
    if (rc == SHOAL_OK) {
        rc = shoal_port_recv (fx->a, &in, 0);
    }
    if (rc == SHOAL_OK) {
        bool ok =
            streq (in.hdr.from, "gamma") && s_id_eq (&in.hdr.id, &ping.id);
        shoal_in_close (&in);
        rc = ok ? SHOAL_OK : SHOAL_ERR_STATE;
    }
    if (rc == SHOAL_OK) {
        shoal_wr_t *w = shoal_port_begin (fx->a, SHOAL_M_OK, "gamma", &ping.id);
        shoal_wr_map (w, 0);
        rc = shoal_port_send (fx->a);
    }
    if (rc == SHOAL_OK) {
        rc = shoal_port_recv (c, &in, 0);
    }
    if (rc == SHOAL_OK) {
        bool ok = in.hdr.type == SHOAL_M_OK && streq (in.hdr.from, "alpha") &&
                  in.hdr.has_corr && s_id_eq (&in.hdr.corr, &ping.id);
        shoal_in_close (&in);
        rc = ok ? SHOAL_OK : SHOAL_ERR_STATE;
    }
    shoal_port_destroy (&c);
    CHECK_OK (rc);
}

BUS_TEST (bus_restarted_port_takes_its_name_back)
{
    shoal_hdr_t h;
    CHECK_OK (s_send (fx->a, SHOAL_M_PING, "beta", &h));
    CHECK_OK (s_expect_id (fx->b, &h.id));
    /* "beta" dies and a new "beta" connects (ROUTER_HANDOVER). The new
       one speaks first, as a restarted actor does: until the bus has read
       from it, it may still route "beta" to the dead pipe, and a message
       sent there is lost (connections and closes are asynchronous). */
    shoal_port_destroy (&fx->b);
    fx->b = s_port (fx, fx->inproc, "beta");
    CHECK (fx->b);
    shoal_hdr_t hello;
    CHECK_OK (s_send (fx->b, SHOAL_M_PING, "alpha", &hello));
    CHECK_OK (s_expect_id (fx->a, &hello.id));
    for (int i = 0; i < 3; i++) {
        CHECK_OK (s_send (fx->a, SHOAL_M_PING, "beta", &h));
        CHECK_OK (s_expect_id (fx->b, &h.id));
    }
    s_stats_t st;
    CHECK_OK (s_stats (fx->bus, &st));
    CHECK_EQ (st.forwarded, 5);
    CHECK_EQ (st.unroutable, 0);
}

BUS_TEST (bus_second_bind_fails_to_start)
{
    /* A second bus on the same endpoint reports its error at start. */
    shoal_bus_args_t args = {.inproc = fx->inproc, .ipc = NULL};
    shoal_err_t rc = SHOAL_OK;
    zactor_t *again = shoal_actor_start (shoal_bus_actor, &args, &rc);
    CHECK (again == NULL);
    CHECK_RC (rc, SHOAL_ERR_IO);
    /* The first one is unaffected; unknown pipe commands are ignored. */
    CHECK_EQ (zstr_send (fx->bus, "NONSENSE"), 0);
    s_stats_t st;
    CHECK_OK (s_stats (fx->bus, &st));
    CHECK_EQ (st.forwarded, 0);
}

SHOAL_TEST_MAIN (bus_forwards_exact_bytes_and_header,
                 bus_unreachable_gets_error_reply, bus_drops_malformed_frames,
                 bus_keeps_order_of_10000, bus_ipc_port_talks_to_inproc_port,
                 bus_restarted_port_takes_its_name_back,
                 bus_second_bind_fails_to_start)
