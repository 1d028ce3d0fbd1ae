/*  bench_link.c - links, peer B and the raw forwarder of the bus section
    (see bench_link.h). A process peer is this binary re-executed as
    `shoal_bench --child-peer FMT ENDPOINT` before it creates any ZeroMQ
    context (bench_peer_main).
*/
#include "bench_link.h"
#include "bench_util.h"

#include "shoal_frame.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define S_PEER_IDLE_MAX 12 /* x 10 s of silence and a peer gives up */

static const char *const s_fmt_names[] = {"prefix", "one", "two", "shoal"};

const char *
bench_fmt_name (bench_fmt_t fmt)
{
    return s_fmt_names[fmt];
}

bench_fmt_t
bench_fmt_parse (const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (streq (name, s_fmt_names[i])) {
            return (bench_fmt_t) i;
        }
    }
    return BENCH_FMT_PREFIX;
}

/*  Message types standing for the ops in Shoal frames. */
static uint32_t
s_op_type (bench_op_t op)
{
    switch (op) {
        case BENCH_OP_DATA:
            return SHOAL_M_EVENT;
        case BENCH_OP_ECHO:
            return SHOAL_M_PING;
        case BENCH_OP_REPLY:
            return SHOAL_M_OK;
        case BENCH_OP_CREDIT:
            return SHOAL_M_CREDIT;
        case BENCH_OP_STOP:
            return SHOAL_M_SHUTDOWN;
        default:
            return SHOAL_M_ERROR;
    }
}

static bench_op_t
s_type_op (uint32_t type)
{
    switch (type) {
        case SHOAL_M_EVENT:
            return BENCH_OP_DATA;
        case SHOAL_M_PING:
            return BENCH_OP_ECHO;
        case SHOAL_M_OK:
            return BENCH_OP_REPLY;
        case SHOAL_M_CREDIT:
            return BENCH_OP_CREDIT;
        case SHOAL_M_SHUTDOWN:
            return BENCH_OP_STOP;
        default:
            return BENCH_OP_OTHER;
    }
}

/*  ---------------------------------------------------------------------
    A link: one end (A or B) in one of the formats */

struct _bench_link_t {
    bench_fmt_t fmt;
    void *sock;         /* raw formats */
    shoal_port_t *port; /* BENCH_FMT_SHOAL */
    shoal_wr_t *wr;     /* BENCH_FMT_ONE, BENCH_FMT_TWO: encoded frame */
    shoal_idgen_t ids;
    char name[16];
    char peer[16];
    uint8_t buf[BENCH_PAYLOAD_MAX + 64]; /* BENCH_FMT_PREFIX send buffer */
    bench_op_t enc_op;                   /* what wr holds */
    size_t enc_len;
    zmq_msg_t msg, msg2; /* received; msg2 is BENCH_FMT_TWO's body */
    shoal_in_t in;
    bool held;
};

void
bench_link_release (bench_link_t *l)
{
    if (!l->held) {
        return;
    }
    if (l->fmt == BENCH_FMT_SHOAL) {
        shoal_in_close (&l->in);
    } else {
        zmq_msg_close (&l->msg);
        zmq_msg_close (&l->msg2);
    }
    l->held = false;
}

bench_fmt_t
bench_link_fmt (const bench_link_t *l)
{
    return l->fmt;
}

void
bench_link_destroy (bench_link_t **lp)
{
    bench_link_t *l = *lp;
    if (l) {
        bench_link_release (l);
        if (l->sock) {
            zmq_close (l->sock);
        }
        shoal_port_destroy (&l->port);
        shoal_wr_destroy (&l->wr);
        free (l);
        *lp = NULL;
    }
}

/*  Connects a link named name to endpoint; ctx is the raw context (raw
    formats only). NULL on failure (printed). */
bench_link_t *
bench_link_new (bench_fmt_t fmt, void *ctx, const char *endpoint,
                const char *name, const char *peer)
{
    bench_link_t *l = calloc (1, sizeof *l);
    if (!l) {
        return NULL;
    }
    l->fmt = fmt;
    snprintf (l->name, sizeof l->name, "%s", name);
    snprintf (l->peer, sizeof l->peer, "%s", peer);
    shoal_idgen_init (&l->ids);
    if (fmt == BENCH_FMT_SHOAL) {
        shoal_clock_t clock = shoal_clock_real ();
        l->port = shoal_port_new (endpoint, name, &clock);
        if (!l->port) {
            goto fail;
        }
        zsock_set_rcvtimeo (shoal_port_sock (l->port), BENCH_RCVTIMEO_MS);
        return l;
    }
    l->wr = shoal_wr_new ();
    l->sock = zmq_socket (ctx, ZMQ_DEALER);
    if (!l->wr || !l->sock) {
        goto fail;
    }
    int zero = 0, timeo = BENCH_RCVTIMEO_MS;
    zmq_setsockopt (l->sock, ZMQ_ROUTING_ID, name, strlen (name));
    zmq_setsockopt (l->sock, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (l->sock, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (l->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (l->sock, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
    if (zmq_connect (l->sock, endpoint) < 0) {
        fprintf (stderr, "shoal_bench: connect %s: %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
        goto fail;
    }
    return l;
fail:
    bench_link_destroy (&l);
    return NULL;
}

/*  Encodes a Shoal frame (formats one and two) into l->wr. Data frames
    of the same size are encoded once and re-sent: the forwarder is what
    these formats measure, not the sender's encoder. */
static int
s_link_encode (bench_link_t *l, bench_op_t op, const void *p, size_t len)
{
    if (op == BENCH_OP_DATA && l->enc_op == BENCH_OP_DATA &&
        l->enc_len == len) {
        return 0;
    }
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = s_op_type (op);
    snprintf (hdr.to, sizeof hdr.to, "%s", l->peer);
    snprintf (hdr.from, sizeof hdr.from, "%s", l->name);
    uint64_t now_us = (uint64_t) zclock_time () * 1000;
    shoal_idgen_next (&l->ids, now_us / 1000, &hdr.id);
    hdr.ts_us = now_us;
    if (shoal_frame_begin (l->wr, &hdr) != SHOAL_OK) {
        return -1;
    }
    shoal_wr_map (l->wr, 1);
    shoal_wr_kv_bin (l->wr, "d", p, len);
    if (shoal_frame_end (l->wr, SHOAL_FRAME_MAX) != SHOAL_OK) {
        return -1;
    }
    l->enc_op = op;
    l->enc_len = len;
    return 0;
}

int
bench_link_send (bench_link_t *l, bench_op_t op, const void *p, size_t len)
{
    switch (l->fmt) {
        case BENCH_FMT_PREFIX: {
            size_t plen = strlen (l->peer);
            l->buf[0] = (uint8_t) plen;
            memcpy (l->buf + 1, l->peer, plen);
            l->buf[1 + plen] = (uint8_t) op;
            memcpy (l->buf + 2 + plen, p, len);
            return zmq_send (l->sock, l->buf, 2 + plen + len, 0) < 0 ? -1 : 0;
        }
        case BENCH_FMT_ONE:
            if (s_link_encode (l, op, p, len)) {
                return -1;
            }
            return zmq_send (l->sock, shoal_wr_data (l->wr),
                             shoal_wr_size (l->wr), 0) < 0
                       ? -1
                       : 0;
        case BENCH_FMT_TWO: {
            if (s_link_encode (l, op, p, len)) {
                return -1;
            }
            const uint8_t *d = shoal_wr_data (l->wr);
            size_t hsize = 2 + ((size_t) d[0] << 8 | d[1]);
            if (zmq_send (l->sock, d, hsize, ZMQ_SNDMORE) < 0) {
                return -1;
            }
            return zmq_send (l->sock, d + hsize, shoal_wr_size (l->wr) - hsize,
                             0) < 0
                       ? -1
                       : 0;
        }
        case BENCH_FMT_SHOAL: {
            shoal_wr_t *w =
                shoal_port_begin (l->port, s_op_type (op), l->peer, NULL);
            shoal_wr_map (w, 1);
            shoal_wr_kv_bin (w, "d", p, len);
            return shoal_port_send (l->port) == SHOAL_OK ? 0 : -1;
        }
    }
    return -1;
}

/*  The "d" field of a Shoal body. */
static void
s_body_payload (const uint8_t *body, size_t blen, const uint8_t **p,
                size_t *len)
{
    const uint8_t *d = NULL;
    uint32_t dlen = 0;
    shoal_map_bin (body, blen, "d", &d, &dlen);
    *p = d;
    *len = dlen;
}

/*  Receives one message. timeout_ms < 0 blocks (bounded by RCVTIMEO).
    Returns 0 (*op, *p, *len set; valid until the next call), 1 on
    timeout, -1 on a socket error. */
int
bench_link_recv (bench_link_t *l, int timeout_ms, bench_op_t *op,
                 const uint8_t **p, size_t *len)
{
    bench_link_release (l);
    *op = BENCH_OP_OTHER;
    *p = NULL;
    *len = 0;
    if (timeout_ms >= 0) {
        void *h = l->sock ? l->sock : zsock_resolve (shoal_port_sock (l->port));
        zmq_pollitem_t it = {h, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&it, 1, timeout_ms);
        if (rc <= 0) {
            return rc == 0 || zmq_errno () == EINTR ? 1 : -1;
        }
    }
    if (l->fmt == BENCH_FMT_SHOAL) {
        shoal_err_t rc = shoal_port_recv (l->port, &l->in, 0);
        if (rc == SHOAL_ERR_BUSY) {
            return 1;
        }
        if (rc != SHOAL_OK) {
            return rc == SHOAL_ERR_INTERRUPTED || rc == SHOAL_ERR_IO ? -1 : 1;
        }
        l->held = true;
        *op = s_type_op (l->in.hdr.type);
        s_body_payload (l->in.body, l->in.body_len, p, len);
        return 0;
    }
    zmq_msg_init (&l->msg);
    zmq_msg_init (&l->msg2);
    l->held = true;
    if (zmq_msg_recv (&l->msg, l->sock, 0) < 0) {
        return zmq_errno () == EAGAIN ? 1 : -1;
    }
    const uint8_t *d = zmq_msg_data (&l->msg);
    size_t size = zmq_msg_size (&l->msg);
    if (l->fmt == BENCH_FMT_PREFIX) {
        if (size >= 2 && (size_t) d[0] + 2 <= size) {
            *op = (bench_op_t) d[1 + d[0]];
            *p = d + 2 + d[0];
            *len = size - 2 - d[0];
        }
        return 0;
    }
    const uint8_t *body = NULL;
    size_t blen = 0;
    if (l->fmt == BENCH_FMT_TWO) {
        if (!zmq_msg_more (&l->msg) ||
            zmq_msg_recv (&l->msg2, l->sock, 0) < 0) {
            return 0;
        }
        body = zmq_msg_data (&l->msg2);
        blen = zmq_msg_size (&l->msg2);
    } else if (size >= 2) {
        size_t hsize = 2 + ((size_t) d[0] << 8 | d[1]);
        if (hsize <= size) {
            body = d + hsize;
            blen = size - hsize;
        }
    }
    uint32_t type, to_len;
    const char *to;
    if (shoal_frame_peek (d, size, &type, &to, &to_len) == SHOAL_OK) {
        *op = s_type_op (type);
        if (body) {
            s_body_payload (body, blen, p, len);
        }
    }
    return 0;
}

/*  ---------------------------------------------------------------------
    Peer B: counts data (credit every BENCH_CREDIT), echoes pings */

int
bench_peer_loop (bench_link_t *l)
{
    uint64_t count = 0;
    int idle = 0;
    uint32_t credit = BENCH_CREDIT;
    for (;;) {
        bench_op_t op;
        const uint8_t *p;
        size_t len;
        int rc = bench_link_recv (l, -1, &op, &p, &len);
        if (rc == 1) {
            if (++idle >= S_PEER_IDLE_MAX) {
                return -1;
            }
            continue;
        }
        if (rc < 0) {
            return -1;
        }
        idle = 0;
        if (op == BENCH_OP_DATA) {
            if (++count % BENCH_CREDIT == 0 &&
                bench_link_send (l, BENCH_OP_CREDIT, &credit, sizeof credit)) {
                return -1;
            }
        } else if (op == BENCH_OP_ECHO) {
            if (bench_link_send (l, BENCH_OP_REPLY, p, len)) {
                return -1;
            }
        } else if (op == BENCH_OP_STOP) {
            bench_link_release (l);
            return 0;
        }
    }
}

void *
bench_peer_thread (void *arg)
{
    bench_peer_args_t *a = arg;
    bench_link_t *l = bench_link_new (a->fmt, a->ctx, a->endpoint, BENCH_NAME_B,
                                      BENCH_NAME_A);
    if (l) {
        bench_peer_loop (l);
        bench_link_destroy (&l);
    }
    return NULL;
}

int
bench_peer_main (int argc, char **argv)
{
    /* argv: exe --child-peer FMT ENDPOINT */
    if (argc != 4) {
        fprintf (stderr, "shoal_bench: --child-peer FMT ENDPOINT\n");
        return 2;
    }
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () == 1) {
        return 1;
    }
    bench_fmt_t fmt = bench_fmt_parse (argv[2]);
    void *ctx = NULL;
    if (fmt == BENCH_FMT_SHOAL) {
        zsys_handler_set (NULL);
        shoal_log_setup ("shoal_bench/peer", false);
    } else {
        ctx = zmq_ctx_new ();
    }
    bench_link_t *l =
        bench_link_new (fmt, ctx, argv[3], BENCH_NAME_B, BENCH_NAME_A);
    int rc = l ? bench_peer_loop (l) : -1;
    bench_link_destroy (&l);
    if (ctx) {
        zmq_ctx_term (ctx);
    }
    return rc == 0 ? 0 : 1;
}

/*  ---------------------------------------------------------------------
    The raw forwarder */

void *
bench_fwd_run (void *arg)
{
    bench_fwd_t *f = arg;
    void *r = f->router;
    while (!atomic_load_explicit (&f->stop, memory_order_relaxed)) {
        zmq_msg_t ident, frame, body;
        zmq_msg_init (&ident);
        if (zmq_msg_recv (&ident, r, 0) < 0) {
            zmq_msg_close (&ident);
            if (zmq_errno () == ETERM) {
                break;
            }
            continue; /* RCVTIMEO: look at the stop flag */
        }
        zmq_msg_init (&frame);
        zmq_msg_init (&body);
        const char *to = NULL;
        uint32_t to_len = 0;
        bool ok = zmq_msg_more (&ident) && zmq_msg_recv (&frame, r, 0) >= 0;
        if (ok && f->fmt == BENCH_FMT_PREFIX) {
            const uint8_t *d = zmq_msg_data (&frame);
            size_t size = zmq_msg_size (&frame);
            ok = size >= 1 && (size_t) d[0] + 1 <= size;
            to = (const char *) d + 1;
            to_len = ok ? d[0] : 0;
        } else if (ok) {
            if (f->fmt == BENCH_FMT_TWO) {
                ok = zmq_msg_more (&frame) && zmq_msg_recv (&body, r, 0) >= 0;
            }
            uint32_t type;
            ok = ok &&
                 shoal_frame_peek (zmq_msg_data (&frame), zmq_msg_size (&frame),
                                   &type, &to, &to_len) == SHOAL_OK;
        }
        if (ok && zmq_send (r, to, to_len, ZMQ_SNDMORE) >= 0) {
            if (f->fmt == BENCH_FMT_TWO) {
                zmq_msg_send (&frame, r, ZMQ_SNDMORE);
                zmq_msg_send (&body, r, 0);
            } else {
                zmq_msg_send (&frame, r, 0);
            }
        }
        zmq_msg_close (&ident);
        zmq_msg_close (&frame);
        zmq_msg_close (&body);
    }
    return NULL;
}
