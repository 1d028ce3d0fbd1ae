/*  bench_link.h - the two ends and the raw forwarder of the bus section.

    A link is one end (A or B) of a measurement: a DEALER whose identity
    is its name, speaking one wire format. The same few calls send and
    receive in every format, so the measurements in bench_bus.c are
    written once for the raw baseline and for Shoal.

    Wire formats of one message (bench_fmt_t):
        prefix  raw baseline: [dest len][dest][op][payload], one frame
        one     a Shoal frame (2-byte hlen, header, body {d: bin}) sent
                pre-encoded by a raw DEALER; the receiver only peeks
        two     the same as two frames [hlen header][body]
        shoal   shoal_port_begin/send; shoal_port_recv (full parse and
                validation, as real actors do)
    In Shoal frames the op is the message type (DATA = EVENT, ECHO =
    PING, REPLY = OK, CREDIT = CREDIT, STOP = SHUTDOWN).

    Peer B (bench_peer_loop) counts DATA and returns a CREDIT {count}
    every BENCH_CREDIT of them, echoes ECHO as REPLY, and stops on STOP.
    Every receive is bounded by ZMQ_RCVTIMEO (BENCH_RCVTIMEO_MS).
*/
#ifndef BENCH_LINK_H_INCLUDED
#define BENCH_LINK_H_INCLUDED

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_NAME_A      "bench.a"
#define BENCH_NAME_B      "bench.b"
#define BENCH_CREDIT      256
#define BENCH_RCVTIMEO_MS 10000
#define BENCH_PAYLOAD_MAX 1024

typedef enum {
    BENCH_FMT_PREFIX,
    BENCH_FMT_ONE,
    BENCH_FMT_TWO,
    BENCH_FMT_SHOAL
} bench_fmt_t;

typedef enum {
    BENCH_OP_OTHER = 0,
    BENCH_OP_DATA,
    BENCH_OP_ECHO,
    BENCH_OP_REPLY,
    BENCH_OP_CREDIT,
    BENCH_OP_STOP
} bench_op_t;

typedef struct _bench_link_t bench_link_t;

/*  "prefix", "one", "two", "shoal"; and back (unknown: prefix). */
const char *bench_fmt_name (bench_fmt_t fmt);
bench_fmt_t bench_fmt_parse (const char *name);

/*  Connects a link named name, talking to peer, to endpoint. ctx is the
    ZeroMQ context for the raw formats (ignored for shoal, which uses
    CZMQ's). NULL on failure (printed). */
bench_link_t *bench_link_new (bench_fmt_t fmt, void *ctx, const char *endpoint,
                              const char *name, const char *peer);
void bench_link_destroy (bench_link_t **self_p);
bench_fmt_t bench_link_fmt (const bench_link_t *self);

/*  Sends op with payload p/len to the peer. 0 or -1. */
int bench_link_send (bench_link_t *self, bench_op_t op, const void *p,
                     size_t len);

/*  Receives one message. timeout_ms < 0 blocks (bounded by RCVTIMEO).
    Returns 0 (*op, *p, *len set; valid until the next call or release),
    1 on timeout, -1 on a socket error. */
int bench_link_recv (bench_link_t *self, int timeout_ms, bench_op_t *op,
                     const uint8_t **p, size_t *len);

/*  Frees the message received last. */
void bench_link_release (bench_link_t *self);

/*  Peer B until STOP (0) or an error or two minutes of silence (-1). */
int bench_peer_loop (bench_link_t *self);

/*  A peer thread running bench_peer_loop; args must outlive it. */
typedef struct {
    bench_fmt_t fmt;
    void *ctx;
    char endpoint[300];
} bench_peer_args_t;

void *bench_peer_thread (void *args);

/*  The raw forwarder: a ROUTER thread that reads the destination (the
    prefix byte, or "to" with shoal_frame_peek from the first frame) and
    forwards the frame(s) with zmq_msg_send. It polls stop every 100 ms
    (the router's ZMQ_RCVTIMEO). */
typedef struct {
    void *router;
    bench_fmt_t fmt;
    atomic_bool stop;
    pthread_t thread;
    bool running;
} bench_fwd_t;

void *bench_fwd_run (void *fwd);

#endif
