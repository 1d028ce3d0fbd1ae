/*  bench_wf.c - workflows on a real shoald: end-to-end throughput of a
    fan-out/fan-in DAG, what edge conditions add, and recovery with runs
    in flight after kill -9.

    Everything goes through the public control protocol (WORKFLOW define
    and run, STATUS of a run, STATS) and the monitor's events, never the
    store's internals, so the section measures whatever actors shoald
    uses to route (today the store routes inline; a router actor later).

    The DAG has 10 noop nodes and 13 edges:

        a -> {b, c, d, e} -> f (join all) -> {g, h} -> i (join all) -> j

    Throughput: a fresh shoald per trial (sync=full, 4 thread executors,
    prefetch 1024: shoald's defaults), one DEALER keeping 1024 WORKFLOW
    run requests in flight until every run is started, then STATS every
    5 ms until the store counts all 10 node jobs of every run succeeded.
    The last node's result and its run's final state commit in one
    transaction, so that STATS answer is the moment every run is
    committed final; the time is from the first run request to it. Then
    STATUS of every run must say succeeded, and the runs' own times
    (first created_us to last finished_us, the store's clock) are printed
    as a cross-check. The same DAG with a condition on every edge
    (always true, so the same nodes run) tells what conditions add per
    edge; the two variants alternate trial by trial.

    Recovery: a fresh shoald with 10 process executors of prefetch
    runs/10, which are then stopped (SIGSTOP, as in bench_scale.c); runs
    are started until every run's entry node is leased to a stopped
    executor (real leases in LMDB). Then kill -9 shoald and its
    executors, start it again with thread executors, and time from just
    before the fork: the first STATS answer; every run progressing again
    (a run.node.succeeded event, sent after the commit of a node's step,
    seen for every run: a SUB with no receive limit connected before the
    fork);
    every run finished (STATS, as above). The log line "recovery
    requeued N" must say the leased count, and STATUS every run
    succeeded afterwards.

    Every loop is bounded: a count to reach, a time cap, a stall limit.
*/
#include "bench_daemon.h"
#include "bench_util.h"

#include "shoal_frame.h"
#include "shoal_id.h"
#include "shoal_mp.h"
#include "shoal_port.h"
#include "shoal_wf.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_NODES         10
#define S_EDGES         13
#define S_EXECUTORS     4    /* thread executors, shoald's default */
#define S_PREFETCH      1024 /* shoald's default */
#define S_REC_EXECUTORS 10   /* process executors holding the leases */
#define S_WINDOW        1024 /* run requests in flight */
#define S_STATUS_WINDOW 256
#define S_START_CAP     600   /* s to start every run */
#define S_DONE_CAP      600   /* s for every run to finish */
#define S_LEASE_CAP     120   /* s for the entry nodes to be leased */
#define S_STALL_MS      30000 /* no node finishing for this long fails */
#define S_POLL_US       5000  /* STATS poll interval */
#define S_NAME          "bench_dag"
#define S_NAME_IF       "bench_dag_if"
/* The condition on every edge of bench_dag_if, as text and in JSON; it
   is always true here (input {"region": "us"}, noop has no output). */
#define S_COND      "input.region != \"eu\" && output.skip == null"
#define S_COND_JSON "input.region != \\\"eu\\\" && output.skip == null"

static const char s_edges[S_EDGES][2] = {
    {'a', 'b'}, {'a', 'c'}, {'a', 'd'}, {'a', 'e'}, {'b', 'f'},
    {'c', 'f'}, {'d', 'f'}, {'e', 'f'}, {'f', 'g'}, {'f', 'h'},
    {'g', 'i'}, {'h', 'i'}, {'i', 'j'}};

/*  ---------------------------------------------------------------------
    Requests */

/*  The DAG as a definition file. */
static void
s_def_json (const char *name, bool cond, char *buf, size_t cap)
{
    size_t o = 0;
    o += (size_t) snprintf (buf + o, cap - o, "{\"name\": \"%s\", \"nodes\": [",
                            name);
    for (int i = 0; i < S_NODES && o < cap; i++) {
        o += (size_t) snprintf (buf + o, cap - o,
                                "%s{\"id\": \"%c\", \"type\": \"noop\"}",
                                i ? ", " : "", 'a' + i);
    }
    if (o < cap) {
        o += (size_t) snprintf (buf + o, cap - o, "], \"edges\": [");
    }
    for (int e = 0; e < S_EDGES && o < cap; e++) {
        o += (size_t) snprintf (buf + o, cap - o,
                                "%s{\"from\": \"%c\", \"to\": \"%c\"%s}",
                                e ? ", " : "", s_edges[e][0], s_edges[e][1],
                                cond ? ", \"if\": \"" S_COND_JSON "\"" : "");
    }
    if (o < cap) {
        snprintf (buf + o, cap - o, "]}");
    }
}

static void
s_body_define (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) i;
    shoal_wr_t *def = (shoal_wr_t *) arg;
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", "define");
    shoal_wr_kv_bin (w, "def", shoal_wr_data (def), shoal_wr_size (def));
}

/*  Defines the DAG (with a condition on every edge if cond) as name:
    parsed and encoded as `shoal workflow define` does. */
static int
s_define (bench_daemon_t *d, const char *name, bool cond)
{
    char json[4096], err[SHOAL_WF_ERR_MAX];
    s_def_json (name, cond, json, sizeof json);
    shoal_wf_t *wf = NULL;
    if (shoal_wf_parse (json, strlen (json), name, NULL, &wf, err,
                        sizeof err)) {
        fprintf (stderr, "shoal_bench: workflow refused: %s\n", err);
        return -1;
    }
    shoal_wr_t *def = shoal_wr_new ();
    if (def) {
        shoal_wf_encode (wf, def);
    }
    shoal_wf_destroy (&wf);
    if (!def || shoal_wr_error (def)) {
        shoal_wr_destroy (&def);
        fprintf (stderr, "shoal_bench: cannot encode the workflow\n");
        return -1;
    }
    shoal_in_t in;
    int rc = bench_daemon_call (d, SHOAL_M_WORKFLOW, s_body_define, def,
                                BENCH_DAEMON_REPLY_MS, &in);
    shoal_wr_destroy (&def);
    if (rc) {
        fprintf (stderr, "shoal_bench: no answer to WORKFLOW define\n");
        return -1;
    }
    bool ok = in.hdr.type == SHOAL_M_OK;
    shoal_in_close (&in);
    if (!ok) {
        fprintf (stderr, "shoal_bench: WORKFLOW define refused\n");
        return -1;
    }
    return 0;
}

static void
s_body_run (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) i;
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "op", "run");
    shoal_wr_kv_str (w, "name", (const char *) arg);
    shoal_wr_str (w, "input");
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "region", "us");
}

/*  Run ids, as the run replies gave them. */
typedef struct {
    shoal_id_t *ids;
    uint32_t n, cap;
} s_ids_t;

static int
s_on_run (const shoal_in_t *in, void *arg)
{
    s_ids_t *r = arg;
    const char *text;
    uint32_t len;
    if (r->n == r->cap ||
        shoal_map_str (in->body, in->body_len, "id", &text, &len) ||
        shoal_id_parse (text, len, &r->ids[r->n])) {
        fprintf (stderr, "shoal_bench: a run reply without a run id\n");
        return -1;
    }
    r->n++;
    return 0;
}

static void
s_body_status (shoal_wr_t *w, const void *arg, uint64_t i)
{
    const s_ids_t *r = arg;
    char text[SHOAL_ID_TEXT];
    shoal_id_format (&r->ids[i], text);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "id", text);
}

/*  What STATUS says of the runs. */
typedef struct {
    uint32_t succeeded, other;
    uint64_t first_created, last_finished; /* store clock, us */
} s_check_t;

static int
s_on_status (const shoal_in_t *in, void *arg)
{
    s_check_t *c = arg;
    shoal_mp_val_t v;
    const uint8_t *run;
    size_t len;
    const char *state;
    uint32_t slen;
    uint64_t created = 0, finished = 0;
    if (shoal_map_find (in->body, in->body_len, "run", &v, &run, &len) ||
        shoal_map_str (run, len, "state", &state, &slen)) {
        fprintf (stderr, "shoal_bench: a STATUS answer without a run\n");
        return -1;
    }
    shoal_map_uint (run, len, "created_us", &created);
    shoal_map_uint (run, len, "finished_us", &finished);
    if (slen == 9 && memcmp (state, "succeeded", 9) == 0) {
        c->succeeded++;
    } else {
        c->other++;
    }
    if (!c->first_created || created < c->first_created) {
        c->first_created = created;
    }
    if (finished > c->last_finished) {
        c->last_finished = finished;
    }
    return 0;
}

/*  STATUS of every run; fails unless every one succeeded. */
static int
s_check_runs (bench_daemon_t *d, s_ids_t *ids, s_check_t *c)
{
    memset (c, 0, sizeof *c);
    double secs;
    if (bench_daemon_pipeline (d, SHOAL_M_STATUS, ids->n, S_STATUS_WINDOW,
                               s_body_status, ids, s_on_status, c, S_DONE_CAP,
                               &secs)) {
        return -1;
    }
    if (c->succeeded != ids->n) {
        fprintf (stderr,
                 "shoal_bench: %u of %u runs succeeded (%u in another "
                 "state)\n",
                 c->succeeded, ids->n, c->other);
        return -1;
    }
    return 0;
}

/*  Polls STATS until want more node jobs succeeded than in c0; *end_ns
    is the time of that answer. Fails when a node job fails or nothing
    finishes for S_STALL_MS. */
static int
s_wait_done (bench_daemon_t *d, uint64_t want, const bench_counts_t *c0,
             uint64_t *end_ns)
{
    uint64_t last = c0->succeeded, since = bench_now_ns ();
    uint64_t cap = since + (uint64_t) S_DONE_CAP * 1000000000u;
    for (;;) {
        bench_counts_t c;
        if (bench_daemon_stats (d, &c)) {
            return -1;
        }
        uint64_t now = bench_now_ns ();
        if (c.succeeded - c0->succeeded >= want) {
            *end_ns = now;
            return 0;
        }
        if (c.dead + c.cancelled != c0->dead + c0->cancelled) {
            fprintf (stderr,
                     "shoal_bench: node jobs failed (dead %llu, "
                     "cancelled %llu)\n",
                     (unsigned long long) c.dead,
                     (unsigned long long) c.cancelled);
            return -1;
        }
        if (c.succeeded != last) {
            last = c.succeeded;
            since = now;
        } else if (now - since > (uint64_t) S_STALL_MS * 1000000u ||
                   now > cap) {
            fprintf (stderr,
                     "shoal_bench: %llu of %llu node jobs succeeded, no "
                     "progress for %d ms\n",
                     (unsigned long long) (c.succeeded - c0->succeeded),
                     (unsigned long long) want, S_STALL_MS);
            return -1;
        }
        usleep (S_POLL_US);
    }
}

/*  ---------------------------------------------------------------------
    Throughput */

/*  One trial on a fresh shoald: runs runs of name; node steps/s and
    runs/s from the first run request to the STATS answer that counts
    every node done, or over the store's own span from the first run
    created to the last run finished when that is longer. */
static int
s_trial (const bench_opts_t *opts, const char *name, bool cond, uint32_t runs,
         double *steps_s, double *runs_s)
{
    bench_daemon_t d;
    if (bench_daemon_init (&d, opts->shoald, S_EXECUTORS, S_PREFETCH)) {
        return -1;
    }
    s_ids_t ids = {calloc (runs, sizeof (shoal_id_t)), 0, runs};
    bench_counts_t c0;
    s_check_t chk;
    uint64_t t0 = 0, end = 0;
    double start_secs = 0;
    int rc = ids.ids ? 0 : -1;
    if (rc == 0) {
        rc = bench_daemon_start (&d, false, &c0);
    }
    if (rc == 0) {
        rc = s_define (&d, name, cond);
    }
    if (rc == 0) {
        rc = bench_daemon_stats (&d, &c0);
    }
    if (rc == 0) {
        t0 = bench_now_ns ();
        rc = bench_daemon_pipeline (&d, SHOAL_M_WORKFLOW, runs, S_WINDOW,
                                    s_body_run, name, s_on_run, &ids,
                                    S_START_CAP, &start_secs);
    }
    if (rc == 0) {
        rc = s_wait_done (&d, (uint64_t) runs * S_NODES, &c0, &end);
    }
    if (rc == 0) {
        rc = s_check_runs (&d, &ids, &chk);
    }
    if (rc == 0) {
        double secs = (double) (end - t0) / 1e9;
        double store = (double) (chk.last_finished - chk.first_created) / 1e6;
        /* The last node job ends one commit before its run does (the
           router's step): take the longer of the two spans. */
        secs = store > secs ? store : secs;
        *runs_s = runs / secs;
        *steps_s = (double) runs * S_NODES / secs;
        char a[32], b[32];
        printf ("  %-12s %u runs started in %.2f s; all %u node steps "
                "committed after %.2f s: %s runs/s, %s steps/s (store "
                "clock, first run created to last finished: %.2f s)\n",
                name, runs, start_secs, runs * S_NODES, secs,
                bench_fmt_count (*runs_s, a, sizeof a),
                bench_fmt_count (*steps_s, b, sizeof b), store);
        fflush (stdout);
    }
    bench_daemon_fini (&d, rc != 0);
    free (ids.ids);
    return rc;
}

static int
s_throughput (const bench_opts_t *opts, bench_results_t *res)
{
    bench_wf_t *w = &res->wf;
    uint32_t trials = opts->repeats < 1                    ? 1
                      : opts->repeats > BENCH_LAT_RUNS_MAX ? BENCH_LAT_RUNS_MAX
                                                           : opts->repeats;
    double plain[BENCH_LAT_RUNS_MAX], runs_s[BENCH_LAT_RUNS_MAX];
    double cond[BENCH_LAT_RUNS_MAX], unused;
    for (uint32_t t = 0; t < trials; t++) {
        if (s_trial (opts, S_NAME, false, opts->wf_runs, &plain[t],
                     &runs_s[t]) ||
            s_trial (opts, S_NAME_IF, true, opts->wf_runs, &cond[t], &unused)) {
            return -1;
        }
    }
    w->nodes = S_NODES;
    w->edges = S_EDGES;
    w->runs = opts->wf_runs;
    w->trials = trials;
    w->steps = bench_spread (plain, trials);
    w->runs_s = bench_spread (runs_s, trials);
    w->steps_cond = bench_spread (cond, trials);
    /* time per run with conditions minus without, per edge */
    w->edge_us =
        (S_NODES / w->steps_cond.med - S_NODES / w->steps.med) * 1e6 / S_EDGES;
    if (res->tput[BENCH_ROW_THREAD][0].done) {
        w->raw = res->tput[BENCH_ROW_THREAD][0].raw;
    } else {
        w->raw = bench_bus_raw_rate (opts, bench_sizes[0]);
        if (w->raw < 0) {
            return -1;
        }
    }
    char a[32], b[32], c[32], r[32];
    printf ("  node steps/s, no conditions:   median %s (%s-%s) over %u "
            "trials; runs/s median %s\n",
            bench_fmt_count (w->steps.med, a, sizeof a),
            bench_fmt_count (w->steps.min, b, sizeof b),
            bench_fmt_count (w->steps.max, c, sizeof c), trials,
            bench_fmt_count (w->runs_s.med, r, sizeof r));
    printf ("  node steps/s, %d conditions: median %s (%s-%s); %+.2f us "
            "per edge",
            S_EDGES, bench_fmt_count (w->steps_cond.med, a, sizeof a),
            bench_fmt_count (w->steps_cond.min, b, sizeof b),
            bench_fmt_count (w->steps_cond.max, c, sizeof c), w->edge_us);
    if (res->expr.done) {
        printf (" (expr section: %.2f us per evaluation)\n",
                res->expr.eval_ns / 1000);
    } else {
        printf (" (one evaluation alone: see --only expr)\n");
    }
    printf ("  raw libzmq forwarding (64 B, thread peer, inproc): %s msgs/s; "
            "steps/raw %.3fx (%.0f raw forwards per node step)\n",
            bench_fmt_count (w->raw, a, sizeof a), w->steps.med / w->raw,
            w->raw / w->steps.med);
    fflush (stdout);
    w->done = true;
    return 0;
}

/*  ---------------------------------------------------------------------
    Recovery */

typedef struct {
    double serve_ms, all_ms, done_ms;
    uint64_t leased;
    long long requeued;
    uint32_t progressed; /* runs with a node step after the restart */
} s_rec_t;

static int
s_cmp_id (const void *a, const void *b)
{
    return memcmp (a, b, 16);
}

/*  Starts runs with every executor stopped and waits until their entry
    nodes are leased (*leased: how many; fewer when an executor was
    stopped before its credit reached the scheduler). */
static int
s_take_leases (bench_daemon_t *d, uint32_t runs, s_ids_t *ids, uint64_t *leased)
{
    double secs;
    if (bench_daemon_stop_executors (d) ||
        bench_daemon_pipeline (d, SHOAL_M_WORKFLOW, runs, S_WINDOW, s_body_run,
                               S_NAME, s_on_run, ids, S_START_CAP, &secs)) {
        return -1;
    }
    uint64_t cap = bench_now_ns () + (uint64_t) S_LEASE_CAP * 1000000000u;
    uint64_t last = 0, since = bench_now_ns ();
    bench_counts_t c;
    while (bench_now_ns () < cap) {
        if (bench_daemon_stats (d, &c)) {
            return -1;
        }
        if (c.leased == runs) {
            *leased = runs;
            return 0;
        }
        if (c.leased != last) {
            last = c.leased;
            since = bench_now_ns ();
        } else if (c.leased > 0 && bench_now_ns () - since > 2000000000u &&
                   c.leased + c.enqueued == runs) {
            printf ("  (only %llu of %u entry nodes leased: an executor "
                    "was stopped before its credit arrived)\n",
                    (unsigned long long) c.leased, runs);
            *leased = c.leased;
            return 0;
        }
        usleep (20000);
    }
    fprintf (stderr, "shoal_bench: %llu of %u entry nodes leased\n",
             (unsigned long long) c.leased, runs);
    return -1;
}

/*  Takes the run.node.succeeded events waiting on sub: marks their
    runs. */
static void
s_read_progress (zsock_t *sub, const s_ids_t *ids, bool *seen, s_rec_t *out)
{
    while (zsock_events (sub) & ZMQ_POLLIN) {
        zmsg_t *m = zmsg_recv (sub);
        if (!m) {
            break;
        }
        zframe_t *topic = zmsg_first (m);
        zframe_t *body = zmsg_next (m);
        const uint8_t *id;
        uint32_t len;
        if (topic && body &&
            shoal_map_bin (zframe_data (body), zframe_size (body), "run", &id,
                           &len) == SHOAL_OK &&
            len == 16) {
            shoal_id_t *k =
                bsearch (id, ids->ids, ids->n, sizeof *ids->ids, s_cmp_id);
            if (k && !seen[k - ids->ids]) {
                seen[k - ids->ids] = true;
                out->progressed++;
            }
        }
        zmsg_destroy (&m);
    }
}

/*  kill -9, restart with thread executors; times the first STATS
    answer, every run progressing, every run finished. */
static int
s_restart (bench_daemon_t *d, const s_ids_t *ids, const bench_counts_t *c0,
           s_rec_t *out)
{
    bool *seen = calloc (ids->n, sizeof *seen);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!seen || !sub) {
        free (seen);
        zsock_destroy (&sub);
        return -1;
    }
    zsock_set_rcvhwm (sub, 0); /* keep every event until read */
    zsock_set_reconnect_ivl (sub, 1);
    zsock_set_subscribe (sub, "run.node.succeeded");
    zsock_connect (sub, "%s", d->monitor);
    long log_at = bench_daemon_log_size (d);
    bench_daemon_kill (d);
    d->process = false;
    shoal_clock_t clock = shoal_clock_real ();
    uint64_t want = (uint64_t) ids->n * S_NODES;
    uint64_t t0 = bench_now_ns ();
    uint64_t serve = 0, all = 0, done = 0, asked_at = 0;
    uint64_t cap =
        t0 + (uint64_t) (BENCH_DAEMON_START_S + S_DONE_CAP) * 1000000000u;
    bool asked = false;
    shoal_id_t ask;
    int rc = bench_daemon_spawn (d);
    /* until every run finished and progressed (or 1 s after finishing:
       an event can only be missing if the monitor dropped it) */
    while (rc == 0 && bench_now_ns () < cap &&
           (!done || (!all && bench_now_ns () < done + 1000000000u))) {
        s_read_progress (sub, ids, seen, out);
        if (!all && out->progressed == ids->n) {
            all = bench_now_ns ();
        }
        if (!d->port) {
            if (access (d->sock, F_OK) == 0) {
                d->port =
                    shoal_port_new_client (d->control, "bench.wf", &clock);
            }
            if (!d->port) {
                usleep (200);
                continue;
            }
        }
        if (!asked && !done &&
            (!serve || bench_now_ns () >= asked_at + S_POLL_US * 1000u)) {
            shoal_hdr_t hdr;
            memset (&hdr, 0, sizeof hdr);
            hdr.type = SHOAL_M_STATS;
            strcpy (hdr.to, "control");
            shoal_port_new_id (d->port, &hdr.id);
            ask = hdr.id;
            shoal_wr_map (shoal_port_begin_hdr (d->port, &hdr), 0);
            rc = shoal_port_send (d->port) ? -1 : 0;
            asked = true;
            asked_at = bench_now_ns ();
        }
        zmq_pollitem_t items[2] = {
            {zsock_resolve (shoal_port_sock (d->port)), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (sub), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, 1) <= 0 || !(items[0].revents & ZMQ_POLLIN)) {
            continue;
        }
        shoal_in_t in;
        if (shoal_port_recv (d->port, &in, ZMQ_DONTWAIT)) {
            continue;
        }
        uint64_t now = bench_now_ns ();
        bool mine = in.hdr.has_corr && memcmp (&in.hdr.corr, &ask, 16) == 0;
        bench_counts_t c;
        int ok = mine ? bench_counts_read (&in, &c) : -1;
        shoal_in_close (&in);
        if (!mine) {
            continue;
        }
        asked = false;
        if (ok) {
            fprintf (stderr, "shoal_bench: STATS refused after restart\n");
            rc = -1;
            break;
        }
        if (!serve) {
            serve = now;
        }
        if (c.succeeded - c0->succeeded >= want) {
            done = now;
        }
    }
    s_read_progress (sub, ids, seen, out);
    if (!all && out->progressed == ids->n) {
        all = bench_now_ns ();
    }
    zsock_destroy (&sub);
    free (seen);
    if (rc == 0 && (!serve || !done)) {
        fprintf (stderr,
                 "shoal_bench: after the restart: %s within the time cap\n",
                 serve ? "runs not all finished" : "no STATS answer");
        rc = -1;
    }
    if (rc) {
        return rc;
    }
    out->serve_ms = (double) (serve - t0) / 1e6;
    out->done_ms = (double) (done - t0) / 1e6;
    out->all_ms = all ? (double) (all - t0) / 1e6 : -1;
    out->requeued = bench_daemon_log_requeued (d, log_at);
    return 0;
}

static int
s_recovery_once (const bench_opts_t *opts, uint32_t runs, s_rec_t *out)
{
    memset (out, 0, sizeof *out);
    bench_daemon_t d;
    if (bench_daemon_init (&d, opts->shoald, S_REC_EXECUTORS,
                           runs / S_REC_EXECUTORS)) {
        return -1;
    }
    s_ids_t ids = {calloc (runs, sizeof (shoal_id_t)), 0, runs};
    bench_counts_t c0;
    s_check_t chk;
    int rc = ids.ids ? 0 : -1;
    if (rc == 0) {
        rc = bench_daemon_start (&d, true, &c0);
    }
    if (rc == 0) {
        rc = s_define (&d, S_NAME, false);
    }
    if (rc == 0) {
        rc = s_take_leases (&d, runs, &ids, &out->leased);
    }
    if (rc == 0) {
        qsort (ids.ids, ids.n, sizeof *ids.ids, s_cmp_id);
        rc = s_restart (&d, &ids, &c0, out);
    }
    if (rc == 0) {
        rc = s_check_runs (&d, &ids, &chk);
    }
    if (rc == 0) {
        printf ("    %u runs, %llu entry nodes leased, kill -9: exec -> "
                "first STATS %.1f ms; -> every run progressing %.1f ms "
                "(%u of %u seen); -> every run finished %.1f ms; log: "
                "recovery requeued %lld\n",
                runs, (unsigned long long) out->leased, out->serve_ms,
                out->all_ms, out->progressed, runs, out->done_ms,
                out->requeued);
        fflush (stdout);
    }
    bench_daemon_fini (&d, rc != 0);
    free (ids.ids);
    return rc;
}

static int
s_recovery (const bench_opts_t *opts, bench_results_t *res)
{
    bench_wf_t *w = &res->wf;
    uint32_t trials = opts->repeats < 1                    ? 1
                      : opts->repeats > BENCH_LAT_RUNS_MAX ? BENCH_LAT_RUNS_MAX
                                                           : opts->repeats;
    double serve[BENCH_LAT_RUNS_MAX], all[BENCH_LAT_RUNS_MAX];
    double done[BENCH_LAT_RUNS_MAX];
    w->rec_verified = true;
    w->rec_leased = opts->wf_inflight;
    for (uint32_t t = 0; t < trials; t++) {
        s_rec_t r;
        if (s_recovery_once (opts, opts->wf_inflight, &r)) {
            return -1;
        }
        serve[t] = r.serve_ms;
        all[t] = r.all_ms;
        done[t] = r.done_ms;
        if (r.leased < w->rec_leased) {
            w->rec_leased = r.leased;
        }
        if (r.requeued < 0 || (uint64_t) r.requeued != r.leased ||
            r.progressed != opts->wf_inflight) {
            w->rec_verified = false;
        }
    }
    w->rec_runs = opts->wf_inflight;
    w->rec_trials = trials;
    w->rec_serve = bench_spread (serve, trials);
    w->rec_all = bench_spread (all, trials);
    w->rec_done_ms = bench_spread (done, trials);
    w->rec_done = true;
    printf ("  median of %u: first STATS %.1f ms, every run progressing "
            "%.1f ms, every run finished %.1f ms\n",
            trials, w->rec_serve.med, w->rec_all.med, w->rec_done_ms.med);
    fflush (stdout);
    return 0;
}

int
bench_wf_run (const bench_opts_t *opts, bench_results_t *res)
{
    char a[32];
    bench_section ("Workflows: a 10-node DAG on a real shoald (sync=full)");
    printf ("  %s; a -> {b,c,d,e} -> f (join all) -> {g,h} -> i (join "
            "all) -> j, all noop, %d edges\n"
            "  throughput: fresh shoald per trial, %d thread executors x "
            "prefetch %d, %d run requests in flight, %s runs per trial; "
            "variants alternate: no conditions / `%s` on every edge\n",
            opts->shoald, S_EDGES, S_EXECUTORS, S_PREFETCH, S_WINDOW,
            bench_fmt_count (opts->wf_runs, a, sizeof a), S_COND);
    fflush (stdout);
    if (s_throughput (opts, res)) {
        return -1;
    }
    printf ("  recovery: %s runs, entry nodes leased to %d stopped process "
            "executors, kill -9, restart with thread executors\n",
            bench_fmt_count (opts->wf_inflight, a, sizeof a), S_REC_EXECUTORS);
    fflush (stdout);
    return s_recovery (opts, res);
}
