/*  bench_bus.c - bus forwarding: Shoal's bus actor against a raw libzmq
    forwarder doing the same work, in the same run.

    Three threads (or two and a child process) per measurement: sender A,
    the forwarder (Shoal: the real shoal_bus_actor; raw: a ROUTER thread
    that reads the destination and forwards the frame with zmq_msg_send,
    no decode), and receiver B.

    Rigs (formats in bench_link.h):
        raw             prefix format through the raw forwarder
        shoal           shoal_port at both ends, shoal_bus_actor
        bus actor only  pre-encoded Shoal frames from raw DEALERs through
                        shoal_bus_actor: tells the bus hop's cost from
                        the ports' encode/parse cost
        one / two       Shoal frames through the raw forwarder as one or
                        two ZeroMQ frames: the wire-format decision

    Throughput is a bounded pipeline: A keeps at most S_WINDOW messages
    ahead of B; B returns a credit every BENCH_CREDIT messages, through the
    same forwarder, so memory stays bounded and the rate is what A and B
    can sustain end to end. Latency is ping-pong A -> B -> A, one message
    at a time, raw and Shoal alternating in blocks. Every receive has a
    10 s timeout (ZMQ_RCVTIMEO), so a lost message fails the run instead
    of hanging it.

    With three threads on two CPUs, which two share a CPU, and whether
    the downstream threads run dry and sleep after every message, is up
    to the scheduler and changes the numbers by 2-4x from run to run, so
    the thread case is measured again with every thread on one CPU,
    where the rate is the CPU cost per message and is stable.

    A process peer is this binary re-executed (`--child-peer FMT EP`);
    it connects over ipc://, and so does the raw baseline's process peer.
*/
#include "bench_link.h"
#include "bench_util.h"

#include "shoal_actor.h"
#include "shoal_bus.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define S_WINDOW 1024

/*  ---------------------------------------------------------------------
    A rig: forwarder + A (inproc) + B (thread or process) */

typedef struct {
    bench_fmt_t fmt; /* of A and B */
    bool bus_actor;  /* forwarder: shoal_bus_actor, else a raw thread */
    bench_far_t far;
    bench_fwd_t fwd;
    zactor_t *bus;
    bench_link_t *a;
    bench_peer_args_t peer;
    pthread_t peer_thread;
    bool peer_live;
    pid_t pid;
} s_rig_t;

static int
s_handshake (bench_link_t *a)
{
    /* Until B is connected a message to it is dropped (raw) or answered
       with ERROR UNREACHABLE (Shoal): ping until it answers. */
    bool ok = false;
    for (int i = 0; i < 500 && !ok; i++) {
        if (bench_link_send (a, BENCH_OP_ECHO, "hello", 5)) {
            return -1;
        }
        bench_op_t op = BENCH_OP_OTHER;
        const uint8_t *p;
        size_t len;
        if (bench_link_recv (a, 10, &op, &p, &len) == 0 &&
            op == BENCH_OP_REPLY) {
            ok = true;
        }
    }
    if (!ok) {
        fprintf (stderr, "shoal_bench: peer did not answer within 5 s\n");
        return -1;
    }
    /* Swallow late answers to the earlier pings (at most 500). */
    bench_op_t op;
    const uint8_t *p;
    size_t len;
    while (bench_link_recv (a, 50, &op, &p, &len) == 0) {
    }
    return 0;
}

static void
s_rig_stop (s_rig_t *r)
{
    if (r->a && (r->peer_live || r->pid > 0)) {
        bench_link_send (r->a, BENCH_OP_STOP, "", 0);
    }
    if (r->peer_live) {
        pthread_join (r->peer_thread, NULL);
        r->peer_live = false;
    }
    if (r->pid > 0) {
        int status;
        pid_t got = 0;
        for (int i = 0; i < 500 && got == 0; i++) {
            got = waitpid (r->pid, &status, WNOHANG);
            if (got == 0) {
                usleep (10000);
            }
        }
        if (got == 0) {
            kill (r->pid, SIGKILL);
            waitpid (r->pid, &status, 0);
        }
        r->pid = 0;
    }
    bench_link_destroy (&r->a);
    if (r->fwd.running) {
        atomic_store (&r->fwd.stop, true);
        pthread_join (r->fwd.thread, NULL);
        r->fwd.running = false;
    }
    if (r->fwd.router) {
        zmq_close (r->fwd.router);
        r->fwd.router = NULL;
    }
    zactor_destroy (&r->bus);
}

static int
s_rig_start (s_rig_t *r, bench_fmt_t fmt, bool bus_actor, bench_far_t far,
             void *ctx, const char *tmpdir, int tag, const char *exe)
{
    memset (r, 0, sizeof *r);
    r->fmt = fmt;
    r->bus_actor = bus_actor;
    r->far = far;
    char inproc[64], ipc[300];
    snprintf (inproc, sizeof inproc, "inproc://bench-%d-%d", (int) getpid (),
              tag);
    snprintf (ipc, sizeof ipc, "ipc://%s/fwd-%d.sock", tmpdir, tag);
    bool use_ipc = far == BENCH_PROCESS;
    if (bus_actor) {
        shoal_bus_args_t args = {.inproc = inproc, .ipc = use_ipc ? ipc : NULL};
        shoal_err_t rc;
        r->bus = shoal_actor_start (shoal_bus_actor, &args, &rc);
        if (!r->bus) {
            fprintf (stderr, "shoal_bench: bus did not start: %s\n",
                     shoal_strerror (rc));
            return -1;
        }
    } else {
        r->fwd.fmt = fmt;
        r->fwd.router = zmq_socket (ctx, ZMQ_ROUTER);
        int one = 1, zero = 0, timeo = 100;
        zmq_setsockopt (r->fwd.router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        zmq_setsockopt (r->fwd.router, ZMQ_SNDHWM, &zero, sizeof zero);
        zmq_setsockopt (r->fwd.router, ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt (r->fwd.router, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt (r->fwd.router, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
        if (zmq_bind (r->fwd.router, inproc) < 0 ||
            (use_ipc && zmq_bind (r->fwd.router, ipc) < 0)) {
            fprintf (stderr, "shoal_bench: bind: %s\n",
                     zmq_strerror (zmq_errno ()));
            goto fail;
        }
        if (pthread_create (&r->fwd.thread, NULL, bench_fwd_run, &r->fwd)) {
            goto fail;
        }
        r->fwd.running = true;
    }
    /* A Shoal port lives in CZMQ's context; raw links in ours. The bus
       actor's inproc endpoint is in CZMQ's context too, so raw-format
       links to it must connect there. */
    void *link_ctx = bus_actor ? zsys_init () : ctx;
    r->a = bench_link_new (fmt, link_ctx, inproc, BENCH_NAME_A, BENCH_NAME_B);
    if (!r->a) {
        goto fail;
    }
    r->peer.fmt = fmt;
    r->peer.ctx = link_ctx;
    snprintf (r->peer.endpoint, sizeof r->peer.endpoint, "%s",
              use_ipc ? ipc : inproc);
    if (far == BENCH_THREAD) {
        if (pthread_create (&r->peer_thread, NULL, bench_peer_thread,
                            &r->peer)) {
            goto fail;
        }
        r->peer_live = true;
    } else {
        char *argv[] = {(char *) exe, "--child-peer",
                        (char *) bench_fmt_name (fmt), r->peer.endpoint, NULL};
        if (posix_spawn (&r->pid, exe, NULL, NULL, argv, environ) != 0) {
            perror ("shoal_bench: posix_spawn");
            r->pid = 0;
            goto fail;
        }
    }
    if (s_handshake (r->a)) {
        goto fail;
    }
    return 0;
fail:
    s_rig_stop (r);
    return -1;
}

/*  ---------------------------------------------------------------------
    Measurements */

/* Payload bytes: their value does not matter to any hop. */
static const uint8_t s_payload[BENCH_PAYLOAD_MAX];

/*  n data messages A -> B under the credit window; returns msgs/s or a
    negative number on failure. */
static double
s_throughput (bench_link_t *a, size_t size, uint64_t n)
{
    uint64_t sent = 0, acked = 0;
    uint64_t t0 = bench_now_ns ();
    while (acked < n) {
        while (sent < n && sent - acked < S_WINDOW) {
            if (bench_link_send (a, BENCH_OP_DATA, s_payload, size)) {
                fprintf (stderr, "shoal_bench: send failed\n");
                return -1;
            }
            sent++;
        }
        bench_op_t op;
        const uint8_t *p;
        size_t len;
        if (bench_link_recv (a, -1, &op, &p, &len)) {
            fprintf (stderr,
                     "shoal_bench: no credit within %d ms (%s, sent %llu, "
                     "credited %llu)\n",
                     BENCH_RCVTIMEO_MS, bench_fmt_name (bench_link_fmt (a)),
                     (unsigned long long) sent, (unsigned long long) acked);
            return -1;
        }
        if (op == BENCH_OP_CREDIT && len == sizeof (uint32_t)) {
            uint32_t c;
            memcpy (&c, p, sizeof c);
            acked += c;
        }
    }
    bench_link_release (a);
    double secs = (double) (bench_now_ns () - t0) / 1e9;
    return (double) n / secs;
}

/*  n round trips; samples in ns (NULL: warm-up, not recorded). */
static int
s_latency (bench_link_t *a, size_t size, uint32_t n, uint64_t *samples)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t0 = bench_now_ns ();
        if (bench_link_send (a, BENCH_OP_ECHO, s_payload, size)) {
            return -1;
        }
        bench_op_t op = BENCH_OP_OTHER;
        const uint8_t *p;
        size_t len;
        for (int k = 0; k < 4 && op != BENCH_OP_REPLY; k++) {
            if (bench_link_recv (a, -1, &op, &p, &len)) {
                fprintf (stderr, "shoal_bench: no echo within %d ms\n",
                         BENCH_RCVTIMEO_MS);
                return -1;
            }
        }
        if (op != BENCH_OP_REPLY || len != size) {
            fprintf (stderr, "shoal_bench: bad echo\n");
            return -1;
        }
        if (samples) {
            samples[i] = bench_now_ns () - t0;
        }
    }
    bench_link_release (a);
    return 0;
}

/*  Throughput of several rigs, interleaved run by run so that they share
    the machine's conditions; medians into rates[]. */
static int
s_tput_set (const bench_opts_t *opts, s_rig_t **rigs, int nrigs, size_t size,
            uint64_t n, double *rates)
{
    double runs[8][16];
    uint32_t reps = opts->repeats > 16 ? 16 : opts->repeats;
    for (uint32_t i = 0; i < reps; i++) {
        for (int k = 0; k < nrigs; k++) {
            runs[k][i] = s_throughput (rigs[k]->a, size, n);
            if (runs[k][i] < 0) {
                return -1;
            }
        }
    }
    for (int k = 0; k < nrigs; k++) {
        rates[k] = bench_median (runs[k], reps);
    }
    return 0;
}

/*  Round trips of raw and Shoal in alternating blocks after a warm-up. */
static int
s_lat_pair (const bench_opts_t *opts, s_rig_t *raw, s_rig_t *sh, size_t size,
            bench_lat_t *l)
{
    uint32_t blocks = 10, per = opts->roundtrips / blocks;
    uint32_t n = per * blocks, warm = n / 10 < 100 ? 100 : n / 10;
    uint64_t *xs = malloc (n * sizeof *xs), *ys = malloc (n * sizeof *ys);
    int rc = xs && ys ? 0 : -1;
    if (rc == 0) {
        rc = s_latency (raw->a, size, warm, NULL) ||
             s_latency (sh->a, size, warm, NULL);
    }
    for (uint32_t b = 0; b < blocks && rc == 0; b++) {
        rc = s_latency (raw->a, size, per, xs + b * per) ||
             s_latency (sh->a, size, per, ys + b * per);
    }
    if (rc == 0) {
        bench_percentiles (xs, n, &l->raw);
        bench_percentiles (ys, n, &l->shoal);
        l->done = true;
    }
    free (xs);
    free (ys);
    return rc ? -1 : 0;
}

static void
s_print_tput (const char *what, size_t size, const bench_tput_t *t)
{
    char a[32], b[32], c[32];
    printf ("  %-17s %4zu B  raw %11s/s   shoal %11s/s %5.2fx   bus "
            "actor only %11s/s %5.2fx\n",
            what, size, bench_fmt_count (t->raw, a, sizeof a),
            bench_fmt_count (t->shoal, b, sizeof b),
            t->raw > 0 ? t->shoal / t->raw : 0,
            bench_fmt_count (t->bus_only, c, sizeof c),
            t->raw > 0 ? t->bus_only / t->raw : 0);
    fflush (stdout);
}

static void
s_print_lat (size_t size, const bench_lat_t *l)
{
    printf ("  round trip (us)   %4zu B  raw p50 %6.1f p99 %6.1f p99.9 %6.1f"
            "   shoal p50 %6.1f p99 %6.1f p99.9 %6.1f   p99 %.2fx\n",
            size, l->raw.p50, l->raw.p99, l->raw.p999, l->shoal.p50,
            l->shoal.p99, l->shoal.p999,
            l->raw.p99 > 0 ? l->shoal.p99 / l->raw.p99 : 0);
    fflush (stdout);
}

/*  One transport: raw baseline, Shoal, and the bus actor between raw
    endpoints (which tells the bus hop from the ports' encode/parse). */
static int
s_bus_far (const bench_opts_t *opts, bench_far_t far, void *ctx,
           const char *tmp, int *tag, uint64_t n, bench_results_t *res)
{
    s_rig_t raw, sh, bus;
    s_rig_t *rigs[3] = {&raw, &sh, &bus};
    if (s_rig_start (&raw, BENCH_FMT_PREFIX, false, far, ctx, tmp, (*tag)++,
                     opts->exe)) {
        return -1;
    }
    if (s_rig_start (&sh, BENCH_FMT_SHOAL, true, far, ctx, tmp, (*tag)++,
                     opts->exe)) {
        s_rig_stop (&raw);
        return -1;
    }
    if (s_rig_start (&bus, BENCH_FMT_ONE, true, far, ctx, tmp, (*tag)++,
                     opts->exe)) {
        s_rig_stop (&sh);
        s_rig_stop (&raw);
        return -1;
    }
    /* The thread case runs twice: with OS scheduling (what a host gets;
       with 3 threads on 2 CPUs, which two share a CPU and whether the
       receivers run dry and sleep after each message varies from run to
       run, and so do the numbers, by 2-4x), then with every thread on
       one CPU: no cross-CPU hand-offs, so a rate is the CPU cost per
       message (1e9 / rate ns), stable from run to run. */
    cpu_set_t saved;
    sched_getaffinity (0, sizeof saved, &saved);
    int passes = far == BENCH_THREAD && CPU_COUNT (&saved) > 1 ? 2 : 1;
    int rc = 0;
    for (int pass = 0; pass < passes && rc == 0; pass++) {
        int row = far == BENCH_PROCESS ? BENCH_ROW_PROCESS
                  : pass == 0          ? BENCH_ROW_THREAD
                                       : BENCH_ROW_ONECORE;
        if (pass == 1) {
            cpu_set_t one;
            CPU_ZERO (&one);
            CPU_SET (sched_getcpu () < 0 ? 0 : sched_getcpu (), &one);
            bench_pin_all (&one);
            printf ("  -- again with all threads on one CPU --\n");
        }
        for (int s = 0; s < BENCH_SIZES && rc == 0; s++) {
            double rates[3];
            bench_tput_t *t = &res->tput[row][s];
            rc = s_tput_set (opts, rigs, 3, bench_sizes[s], n, rates);
            if (rc == 0) {
                t->raw = rates[0];
                t->shoal = rates[1];
                t->bus_only = rates[2];
                t->done = true;
                s_print_tput ("throughput", bench_sizes[s], t);
            }
            if (rc == 0 && row == BENCH_ROW_ONECORE) {
                printf ("  %-17s %4s    raw %8.0f ns   shoal %8.0f ns"
                        "         bus actor only %8.0f ns\n",
                        "CPU per message", "", 1e9 / t->raw, 1e9 / t->shoal,
                        1e9 / t->bus_only);
            }
        }
        for (int s = 0; s < BENCH_SIZES && rc == 0; s++) {
            bench_lat_t *l = &res->lat[row][s];
            rc = s_lat_pair (opts, &raw, &sh, bench_sizes[s], l);
            if (rc == 0) {
                s_print_lat (bench_sizes[s], l);
            }
        }
    }
    bench_pin_all (&saved);
    s_rig_stop (&bus);
    s_rig_stop (&sh);
    s_rig_stop (&raw);
    return rc;
}

/*  One frame vs two frames through the raw forwarder, with OS
    scheduling and on one CPU. */
static int
s_frames (const bench_opts_t *opts, s_rig_t **rigs, uint64_t n,
          bench_results_t *res)
{
    cpu_set_t saved, one;
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        if (pass == 1) {
            sched_getaffinity (0, sizeof saved, &saved);
            CPU_ZERO (&one);
            CPU_SET (sched_getcpu () < 0 ? 0 : sched_getcpu (), &one);
            bench_pin_all (&one);
        }
        for (int s = 0; s < BENCH_SIZES && rc == 0; s++) {
            double rates[2];
            bench_tput_t *t = &res->frames[pass][s];
            rc = s_tput_set (opts, rigs, 2, bench_sizes[s], n, rates);
            if (rc == 0) {
                t->raw = rates[0];
                t->shoal = rates[1];
                t->done = true;
                char a[32], b[32];
                printf ("  %-17s %4zu B  one frame %11s/s   two frames "
                        "%11s/s   two/one %.2fx\n",
                        pass ? "on one CPU" : "forwarding", bench_sizes[s],
                        bench_fmt_count (t->raw, a, sizeof a),
                        bench_fmt_count (t->shoal, b, sizeof b),
                        t->raw > 0 ? t->shoal / t->raw : 0);
                fflush (stdout);
            }
        }
        if (pass == 1) {
            bench_pin_all (&saved);
        }
    }
    return rc;
}

int
bench_bus_run (const bench_opts_t *opts, bench_results_t *res)
{
    res->window = S_WINDOW;
    res->credit_every = BENCH_CREDIT;
    uint64_t n =
        (opts->messages + BENCH_CREDIT - 1) / BENCH_CREDIT * BENCH_CREDIT;
    char tmp[64];
    if (bench_tmpdir (tmp, sizeof tmp)) {
        return -1;
    }
    void *ctx = zmq_ctx_new ();
    int rc = 0, tag = 0;
    static const char *const titles[2] = {
        "Bus: A -> forwarder -> B, B a thread (inproc)",
        "Bus: A -> forwarder -> B, B a child process (ipc)"};
    for (int far = 0; far < 2 && rc == 0; far++) {
        bench_section (titles[far]);
        if (far == 0) {
            printf ("  raw: libzmq ROUTER thread reading [dest len][dest] and "
                    "forwarding with zmq_msg_send\n"
                    "  shoal: shoal_bus_actor, shoal_port_begin/send at A, "
                    "shoal_port_recv (full parse) at B\n"
                    "  bus actor only: shoal_bus_actor between raw DEALERs "
                    "sending a pre-encoded Shoal frame\n"
                    "  throughput: %llu msgs per run, median of %u; window "
                    "%d, a credit per %d through the forwarder\n",
                    (unsigned long long) n, opts->repeats, S_WINDOW,
                    BENCH_CREDIT);
        }
        rc = s_bus_far (opts, (bench_far_t) far, ctx, tmp, &tag, n, res);
    }
    if (rc == 0) {
        bench_section ("Wire format: raw forwarder, Shoal frames, B a thread");
        printf ("  one = [hlen header body] (Shoal's choice), two = "
                "[hlen header][body]; the forwarder reads \"to\" with "
                "shoal_frame_peek\n");
        s_rig_t one, two;
        s_rig_t *rigs[2] = {&one, &two};
        if (s_rig_start (&one, BENCH_FMT_ONE, false, BENCH_THREAD, ctx, tmp,
                         tag++, opts->exe)) {
            rc = -1;
        } else if (s_rig_start (&two, BENCH_FMT_TWO, false, BENCH_THREAD, ctx,
                                tmp, tag++, opts->exe)) {
            s_rig_stop (&one);
            rc = -1;
        } else {
            rc = s_frames (opts, rigs, n, res);
            s_rig_stop (&two);
            s_rig_stop (&one);
        }
    }
    zmq_ctx_term (ctx);
    bench_rmdir (tmp);
    return rc;
}

double
bench_bus_raw_rate (const bench_opts_t *opts, size_t size)
{
    uint64_t n =
        (opts->messages + BENCH_CREDIT - 1) / BENCH_CREDIT * BENCH_CREDIT;
    char tmp[64];
    if (bench_tmpdir (tmp, sizeof tmp)) {
        return -1;
    }
    void *ctx = zmq_ctx_new ();
    s_rig_t raw;
    s_rig_t *rigs[1] = {&raw};
    double rate = -1;
    if (s_rig_start (&raw, BENCH_FMT_PREFIX, false, BENCH_THREAD, ctx, tmp, 0,
                     opts->exe) == 0) {
        if (s_tput_set (opts, rigs, 1, size, n, &rate)) {
            rate = -1;
        }
        s_rig_stop (&raw);
    }
    zmq_ctx_term (ctx);
    bench_rmdir (tmp);
    return rate;
}
