/*  bench_latency.c - per-job latency at a fixed offered rate.

    An in-process host (bench_host.h) with 4 thread executors and
    sync=full. One client thread submits noop jobs open loop: job i is
    due at t0 + i / rate, whatever the replies do, and its latencies are
    counted from that due time (a late send does not hide the wait that
    made it late). The same thread holds a SUB on the monitor's XPUB,
    subscribed to "job.", and notes when each job's events arrive.

    Per job, all on this process's monotonic clock:
      submit-to-ack    due time -> the SUBMIT's OK reply (after commit)
      enqueue-to-start job.enqueued event -> job.leased event, both as
                       received by the subscriber. The store publishes
                       job.enqueued right after the submit's commit and
                       job.leased right after the lease's commit, in the
                       same flush as the RUN it sends the executor; both
                       travel the same store -> monitor -> SUB path, so
                       the path's cost cancels. The executor begins the
                       job one bus hop after that commit: this is the
                       honest bound available without instrumenting the
                       executor.
      submit-to-done   due time -> job.succeeded event received (after
                       the result's commit): includes the monitor hop,
                       so it slightly overstates what a WAIT would see.

    The sender waits with ppoll on the sockets' ZMQ_FDs (nanosecond
    timeouts) after draining both sockets, so it neither spins nor
    rounds its schedule to milliseconds. Every loop is bounded by a time
    cap; a job whose events did not all arrive is counted as missing.
*/
#include "bench_util.h"
#include "bench_host.h"

#include "shoal_frame.h"
#include "shoal_id.h"
#include "shoal_mp.h"
#include "shoal_port.h"

#include <czmq.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_EXECUTORS  4
#define S_WARM_JOBS  100 /* of each run, not counted */
#define S_DRAIN_CAP  10  /* s after the last send */
#define S_SYNC_CAP_S 5   /* s to see the first event */

typedef struct {
    uint64_t due;   /* ns, when the job was due to be sent */
    uint64_t ack;   /* ns, OK received */
    uint64_t enq;   /* ns, job.enqueued received */
    uint64_t lease; /* ns, job.leased received */
    uint64_t done;  /* ns, job.succeeded received */
} s_rec_t;

typedef struct {
    shoal_port_t *port;
    zsock_t *sub;
    zhash_t *reqs;  /* request id hex -> s_rec_t * */
    zhash_t *jobs;  /* job id hex -> s_rec_t * */
    zhash_t *early; /* job id hex -> s_rec_t * (events before the ack) */
    uint64_t errors;
    uint64_t events;
    uint64_t done;          /* job.succeeded events of measured jobs */
    const s_rec_t *lo, *hi; /* the measured jobs' records */
    char error[256];
} s_client_t;

static void
s_merge (s_rec_t *into, const s_rec_t *ev)
{
    if (ev->enq && !into->enq) {
        into->enq = ev->enq;
    }
    if (ev->lease && !into->lease) {
        into->lease = ev->lease;
    }
    if (ev->done && !into->done) {
        into->done = ev->done;
    }
}

static int
s_submit (s_client_t *c, s_rec_t *rec)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_SUBMIT;
    strcpy (hdr.to, "control");
    shoal_port_new_id (c->port, &hdr.id);
    char key[SHOAL_ID_TEXT];
    shoal_id_format (&hdr.id, key);
    if (zhash_insert (c->reqs, key, rec)) {
        snprintf (c->error, sizeof c->error, "duplicate request id");
        return -1;
    }
    shoal_wr_t *w = shoal_port_begin_hdr (c->port, &hdr);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "type", "noop");
    if (shoal_port_send (c->port)) {
        snprintf (c->error, sizeof c->error, "send failed");
        return -1;
    }
    return 0;
}

/*  Reads every waiting reply. */
static int
s_drain_acks (s_client_t *c)
{
    for (;;) {
        shoal_in_t in;
        shoal_err_t rc = shoal_port_recv (c->port, &in, ZMQ_DONTWAIT);
        if (rc == SHOAL_ERR_BUSY || rc == SHOAL_ERR_INTERRUPTED) {
            return 0;
        }
        if (rc) {
            snprintf (c->error, sizeof c->error, "receive failed: %s",
                      shoal_strerror (rc));
            return -1;
        }
        uint64_t now = bench_now_ns ();
        s_rec_t *rec = NULL;
        if (in.hdr.has_corr) {
            char key[SHOAL_ID_TEXT];
            shoal_id_format (&in.hdr.corr, key);
            rec = zhash_lookup (c->reqs, key);
        }
        const char *jid;
        uint32_t jlen;
        if (!rec || in.hdr.type != SHOAL_M_OK ||
            shoal_map_str (in.body, in.body_len, "id", &jid, &jlen) ||
            jlen != 32) {
            c->errors++;
            shoal_in_close (&in);
            continue;
        }
        char key[SHOAL_ID_TEXT];
        memcpy (key, jid, 32);
        key[32] = '\0';
        shoal_in_close (&in);
        rec->ack = now;
        s_rec_t *ev = zhash_lookup (c->early, key);
        if (ev) {
            s_merge (rec, ev);
            if (rec->done && rec >= c->lo && rec < c->hi) {
                c->done++;
            }
            zhash_delete (c->early, key);
        }
        zhash_insert (c->jobs, key, rec);
    }
}

/*  Reads every waiting event. */
static int
s_drain_events (s_client_t *c)
{
    void *sock = zsock_resolve (c->sub);
    for (;;) {
        zmq_msg_t topic, body;
        zmq_msg_init (&topic);
        if (zmq_msg_recv (&topic, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&topic);
            return 0;
        }
        uint64_t now = bench_now_ns ();
        zmq_msg_init (&body);
        bool two = zmq_msg_more (&topic) &&
                   zmq_msg_recv (&body, sock, ZMQ_DONTWAIT) >= 0;
        while (zmq_msg_more (two ? &body : &topic)) {
            /* unexpected extra frames: drop them */
            zmq_msg_t extra;
            zmq_msg_init (&extra);
            int n = zmq_msg_recv (&extra, sock, ZMQ_DONTWAIT);
            bool more = n >= 0 && zmq_msg_more (&extra);
            zmq_msg_close (&extra);
            if (!more) {
                break;
            }
        }
        const char *t = zmq_msg_data (&topic);
        size_t tlen = zmq_msg_size (&topic);
        int kind = -1;
        if (tlen == 12 && memcmp (t, "job.enqueued", 12) == 0) {
            kind = 0;
        } else if (tlen == 10 && memcmp (t, "job.leased", 10) == 0) {
            kind = 1;
        } else if (tlen == 13 && memcmp (t, "job.succeeded", 13) == 0) {
            kind = 2;
        }
        const uint8_t *idp;
        uint32_t idlen;
        if (two && kind >= 0 &&
            shoal_map_bin (zmq_msg_data (&body), zmq_msg_size (&body), "id",
                           &idp, &idlen) == SHOAL_OK &&
            idlen == 16) {
            c->events++;
            shoal_id_t id;
            memcpy (id.b, idp, 16);
            char key[SHOAL_ID_TEXT];
            shoal_id_format (&id, key);
            s_rec_t *rec = zhash_lookup (c->jobs, key);
            if (!rec) {
                rec = zhash_lookup (c->early, key);
            }
            if (!rec) {
                rec = calloc (1, sizeof *rec);
                if (!rec || zhash_insert (c->early, key, rec)) {
                    free (rec);
                    rec = NULL;
                } else {
                    zhash_freefn (c->early, key, free);
                }
            }
            if (rec) {
                uint64_t *slot = kind == 0   ? &rec->enq
                                 : kind == 1 ? &rec->lease
                                             : &rec->done;
                if (*slot == 0) {
                    *slot = now;
                    if (kind == 2 && rec >= c->lo && rec < c->hi) {
                        c->done++;
                    }
                }
            }
        }
        zmq_msg_close (&topic);
        zmq_msg_close (&body);
    }
}

/*  Drains both sockets, then sleeps until one is readable or until ns
    from now. */
static int
s_wait (s_client_t *c, uint64_t ns)
{
    if (s_drain_acks (c) || s_drain_events (c)) {
        return -1;
    }
    struct pollfd fds[2] = {
        {zsock_fd (shoal_port_sock (c->port)), POLLIN, 0},
        {zsock_fd (c->sub), POLLIN, 0},
    };
    struct timespec ts = {(time_t) (ns / 1000000000u),
                          (long) (ns % 1000000000u)};
    ppoll (fds, 2, &ts, NULL);
    return s_drain_acks (c) || s_drain_events (c) ? -1 : 0;
}

/*  Submits one job every 20 ms until its job.succeeded event comes back,
    so the subscription is known to be live. */
static int
s_sync_events (s_client_t *c, s_rec_t *probes, int nprobes)
{
    uint64_t end = bench_now_ns () + (uint64_t) S_SYNC_CAP_S * 1000000000u;
    for (int i = 0; i < nprobes && bench_now_ns () < end; i++) {
        if (s_submit (c, &probes[i])) {
            return -1;
        }
        probes[i].due = bench_now_ns ();
        uint64_t until = probes[i].due + 20000000u;
        for (uint64_t now = bench_now_ns (); now < until;
             now = bench_now_ns ()) {
            if (s_wait (c, until - now)) {
                return -1;
            }
            for (int j = 0; j <= i; j++) {
                if (probes[j].done) {
                    return 0;
                }
            }
        }
    }
    snprintf (c->error, sizeof c->error, "no job.succeeded event within %d s",
              S_SYNC_CAP_S);
    return -1;
}

static void
s_pct (uint64_t *v, size_t n, bench_pct_t *out)
{
    if (n > 0) {
        bench_percentiles (v, n, out);
    } else {
        memset (out, 0, sizeof *out);
    }
}

/*  One run on a fresh host. */
static int
s_latency_once (const bench_opts_t *opts, int tag, bench_latrun_t *r)
{
    bench_host_t host;
    if (bench_host_start (&host, "full", S_EXECUTORS, 1000 + tag, opts)) {
        return -1;
    }
    uint32_t n = opts->lat_jobs;
    s_client_t c;
    memset (&c, 0, sizeof c);
    s_rec_t *recs = calloc (n, sizeof *recs);
    s_rec_t *probes = calloc (250, sizeof *probes);
    uint64_t *v = calloc (n, sizeof *v);
    shoal_clock_t clock = shoal_clock_real ();
    c.port = shoal_port_new_client (host.control, "bench.latency", &clock);
    c.sub = zsock_new_sub (host.monitor, "job.");
    c.reqs = zhash_new ();
    c.jobs = zhash_new ();
    c.early = zhash_new ();
    int rc = -1;
    if (!recs || !probes || !v || !c.port || !c.sub || !c.reqs || !c.jobs ||
        !c.early) {
        snprintf (c.error, sizeof c.error, "out of memory or no sockets");
        goto done;
    }
    if (s_sync_events (&c, probes, 250)) {
        goto done;
    }
    c.lo = recs;
    c.hi = recs + n;
    uint64_t period = 1000000000u / opts->lat_rate;
    uint64_t t0 = bench_now_ns () + 10000000u;
    uint64_t lag_max = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t due = t0 + (uint64_t) i * period;
        for (uint64_t now = bench_now_ns (); now < due; now = bench_now_ns ()) {
            if (s_wait (&c, due - now)) {
                goto done;
            }
        }
        uint64_t now = bench_now_ns ();
        if (now - due > lag_max) {
            lag_max = now - due;
        }
        recs[i].due = due;
        if (s_submit (&c, &recs[i])) {
            goto done;
        }
    }
    uint64_t last = bench_now_ns ();
    uint64_t cap = last + (uint64_t) S_DRAIN_CAP * 1000000000u;
    for (uint64_t now = last; c.done < n && now < cap; now = bench_now_ns ()) {
        if (s_wait (&c, 50000000u)) {
            goto done;
        }
    }
    r->secs = (double) (last - t0) / 1e9;
    r->lag_max_us = (double) lag_max / 1000.0;
    r->errors = c.errors;
    /* the four distributions, warm-up jobs left out */
    uint32_t first = n > 2 * S_WARM_JOBS ? S_WARM_JOBS : 0;
    size_t k;
    r->counted = n - first;
    r->missing = 0;
    for (uint32_t i = first; i < n; i++) {
        if (!recs[i].ack || !recs[i].enq || !recs[i].lease || !recs[i].done) {
            r->missing++;
        }
    }
    k = 0;
    for (uint32_t i = first; i < n; i++) {
        if (recs[i].ack) {
            v[k++] = recs[i].ack - recs[i].due;
        }
    }
    s_pct (v, k, &r->ack);
    k = 0;
    for (uint32_t i = first; i < n; i++) {
        if (recs[i].enq && recs[i].lease) {
            v[k++] =
                recs[i].lease > recs[i].enq ? recs[i].lease - recs[i].enq : 0;
        }
    }
    s_pct (v, k, &r->start);
    k = 0;
    for (uint32_t i = first; i < n; i++) {
        if (recs[i].lease) {
            v[k++] = recs[i].lease - recs[i].due;
        }
    }
    s_pct (v, k, &r->sub_start);
    k = 0;
    for (uint32_t i = first; i < n; i++) {
        if (recs[i].done) {
            v[k++] = recs[i].done - recs[i].due;
        }
    }
    s_pct (v, k, &r->done);
    rc = 0;
done:
    if (rc) {
        fprintf (stderr, "shoal_bench: latency run FAILED: %s\n", c.error);
    }
    zhash_destroy (&c.early);
    zhash_destroy (&c.jobs);
    zhash_destroy (&c.reqs);
    zsock_destroy (&c.sub);
    shoal_port_destroy (&c.port);
    free (v);
    free (probes);
    free (recs);
    bench_host_stop (&host);
    return rc;
}

static void
s_print_pct (const char *what, const bench_pct_t *p)
{
    printf ("    %-17s p50 %8.1f  p99 %8.1f  p99.9 %8.1f  max %8.1f us\n", what,
            p->p50, p->p99, p->p999, p->max);
}

/*  Median over runs of each percentile, field by field. */
static void
s_median_pct (const bench_latrun_t *runs, uint32_t n, size_t off,
              bench_pct_t *out)
{
    double a[BENCH_LAT_RUNS_MAX], b[BENCH_LAT_RUNS_MAX], c[BENCH_LAT_RUNS_MAX],
        d[BENCH_LAT_RUNS_MAX];
    for (uint32_t i = 0; i < n; i++) {
        const bench_pct_t *p =
            (const bench_pct_t *) ((const char *) &runs[i] + off);
        a[i] = p->p50;
        b[i] = p->p99;
        c[i] = p->p999;
        d[i] = p->max;
    }
    out->p50 = bench_median (a, n);
    out->p99 = bench_median (b, n);
    out->p999 = bench_median (c, n);
    out->max = bench_median (d, n);
}

int
bench_latency_run (const bench_opts_t *opts, bench_results_t *res)
{
    bench_section ("Latency at a fixed offered rate (open loop, noop jobs)");
    printf ("  in-process host: bus, store, scheduler, monitor, %d thread "
            "executors, control on ipc://; sync=full; %u jobs at %u jobs/s "
            "per run, the first %u not counted; times from each job's due "
            "time; events seen on the monitor's XPUB\n",
            S_EXECUTORS, opts->lat_jobs, opts->lat_rate,
            opts->lat_jobs > 2 * S_WARM_JOBS ? S_WARM_JOBS : 0);
    fflush (stdout);
    bench_lat_sum_t *l = &res->latency;
    uint32_t reps = opts->repeats < 1                    ? 1
                    : opts->repeats > BENCH_LAT_RUNS_MAX ? BENCH_LAT_RUNS_MAX
                                                         : opts->repeats;
    for (uint32_t i = 0; i < reps; i++) {
        bench_latrun_t *r = &l->runs[i];
        memset (r, 0, sizeof *r);
        if (s_latency_once (opts, (int) i, r)) {
            return -1;
        }
        printf ("  run %u: %u jobs sent in %.2f s (sender late by at most "
                "%.0f us), %llu counted, %llu missing an event, %llu error "
                "replies\n",
                i + 1, opts->lat_jobs, r->secs, r->lag_max_us,
                (unsigned long long) r->counted,
                (unsigned long long) r->missing,
                (unsigned long long) r->errors);
        s_print_pct ("submit-to-ack", &r->ack);
        s_print_pct ("enqueue-to-start", &r->start);
        s_print_pct ("submit-to-start", &r->sub_start);
        s_print_pct ("submit-to-done", &r->done);
        fflush (stdout);
        l->nruns++;
        l->missing += r->missing;
        l->errors += r->errors;
    }
    s_median_pct (l->runs, l->nruns, offsetof (bench_latrun_t, ack), &l->ack);
    s_median_pct (l->runs, l->nruns, offsetof (bench_latrun_t, start),
                  &l->start);
    s_median_pct (l->runs, l->nruns, offsetof (bench_latrun_t, sub_start),
                  &l->sub_start);
    s_median_pct (l->runs, l->nruns, offsetof (bench_latrun_t, done), &l->done);
    l->jobs = opts->lat_jobs;
    l->rate = opts->lat_rate;
    l->done_flag = true;
    if (l->nruns > 1) {
        printf ("  median of %u runs:\n", l->nruns);
        s_print_pct ("submit-to-ack", &l->ack);
        s_print_pct ("enqueue-to-start", &l->start);
        s_print_pct ("submit-to-start", &l->sub_start);
        s_print_pct ("submit-to-done", &l->done);
    }
    fflush (stdout);
    return l->errors ? -1 : 0;
}
