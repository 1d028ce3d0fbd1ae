/*  bench_durable.c - acknowledged durable submits, per sync mode, against
    raw LMDB committing the same records in the same batches.

    A host is assembled in-process the way shoald does it: the bus, then
    store, scheduler, monitor (and executors for the end-to-end run), and
    last the control actor on a fresh ipc:// endpoint, with a fresh data
    folder. 16 client threads, each with its own DEALER
    (shoal_port_new_client), keep 64 SUBMITs in flight: send 64, then one
    more per reply, until their share of the total is acknowledged. Every
    reply must be OK and answer one of the client's outstanding requests,
    or the run fails loudly.

    The store's commit count (STATS before and after) gives the average
    batch; the raw LMDB baseline then commits the same number of records
    of the store's record size in transactions of that size, with the
    same sync flags, so the ratio isolates what Shoal adds around LMDB.
*/
#include "bench_util.h"
#include "bench_host.h"

#include "shoal_actor.h"
#include "shoal_bus.h"
#include "shoal_config.h"
#include "shoal_control.h"
#include "shoal_job.h"
#include "shoal_monitor.h"
#include "shoal_mp.h"
#include "shoal_node.h"
#include "shoal_port.h"
#include "shoal_router.h"
#include "shoal_scheduler.h"
#include "shoal_store.h"

#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_CLIENTS       16
#define S_INFLIGHT      64
#define S_EXECUTORS     4 /* the summary's end-to-end run */
#define S_EXECUTORS_MAX BENCH_HOST_EXECUTORS_MAX
#define S_RCVTIMEO_MS   10000
#define S_TIME_CAP_S    20
#define S_E2E_CAP_S     30

/*  ---------------------------------------------------------------------
    An in-process host */

void
bench_host_stop (bench_host_t *h)
{
    shoal_port_destroy (&h->stats);
    while (h->nactors > 0) {
        zactor_destroy (&h->actors[--h->nactors]);
    }
    zactor_destroy (&h->bus);
    shoal_config_destroy (&h->cfg);
    if (h->dir[0]) {
        bench_rmdir (h->dir);
        h->dir[0] = '\0';
    }
}

static int
s_host_add (bench_host_t *h, const char *name, zactor_fn *fn,
            const char *inproc)
{
    shoal_actor_args_t args = {
        .name = name,
        .bus = inproc,
        .clock = shoal_clock_real (),
        .config = h->cfg,
        .verbose = false,
    };
    shoal_err_t rc;
    zactor_t *a = shoal_actor_start (fn, &args, &rc);
    if (!a) {
        fprintf (stderr, "shoal_bench: actor %s did not start: %s\n", name,
                 shoal_strerror (rc));
        return -1;
    }
    h->actors[h->nactors++] = a;
    return 0;
}

int
bench_host_start (bench_host_t *h, const char *sync, int executors, int tag,
                  const bench_opts_t *opts)
{
    if (executors > S_EXECUTORS_MAX) {
        return -1;
    }
    memset (h, 0, sizeof *h);
    if (bench_tmpdir (h->dir, sizeof h->dir)) {
        return -1;
    }
    shoal_err_t rc;
    h->cfg = shoal_config_load (NULL, &rc);
    if (!h->cfg) {
        goto fail;
    }
    char inproc[64];
    snprintf (h->control, sizeof h->control, "ipc://%s/control.sock", h->dir);
    snprintf (h->monitor, sizeof h->monitor, "ipc://%s/monitor.sock", h->dir);
    snprintf (inproc, sizeof inproc, "inproc://bench-host-%d-%d",
              (int) getpid (), tag);
    if (shoal_config_set (h->cfg, "shoald/data", h->dir) ||
        shoal_config_set (h->cfg, "store/sync", sync) ||
        shoal_config_set (h->cfg, "shoald/control", h->control) ||
        shoal_config_set (h->cfg, "shoald/monitor", h->monitor)) {
        fprintf (stderr, "shoal_bench: configuration refused\n");
        goto fail;
    }
    for (int i = 0; i < opts->nset; i++) {
        char key[64];
        const char *eq = strchr (opts->set[i], '=');
        snprintf (key, sizeof key, "%.*s", (int) (eq - opts->set[i]),
                  opts->set[i]);
        if (shoal_config_set (h->cfg, key, eq + 1)) {
            fprintf (stderr, "shoal_bench: --set %s refused\n", opts->set[i]);
            goto fail;
        }
    }
    if (shoal_config_check (h->cfg)) {
        fprintf (stderr, "shoal_bench: configuration refused\n");
        goto fail;
    }
    shoal_bus_args_t bus_args = {.inproc = inproc, .ipc = NULL};
    h->bus = shoal_actor_start (shoal_bus_actor, &bus_args, &rc);
    if (!h->bus) {
        fprintf (stderr, "shoal_bench: bus did not start\n");
        goto fail;
    }
    if (s_host_add (h, SHOAL_STORE_NAME, shoal_store_actor, inproc) ||
        s_host_add (h, SHOAL_SCHEDULER_NAME, shoal_scheduler_actor, inproc) ||
        s_host_add (h, SHOAL_ROUTER_NAME, shoal_router_actor, inproc) ||
        s_host_add (h, "monitor", shoal_monitor_actor, inproc)) {
        goto fail;
    }
    for (int i = 0; i < executors; i++) {
        char name[16];
        snprintf (name, sizeof name, "node.%d", i);
        if (s_host_add (h, name, shoal_node_actor, inproc)) {
            goto fail;
        }
    }
    if (s_host_add (h, "control", shoal_control_actor, inproc)) {
        goto fail;
    }
    shoal_clock_t clock = shoal_clock_real ();
    h->stats = shoal_port_new_client (h->control, "bench.stats", &clock);
    if (!h->stats) {
        goto fail;
    }
    zsock_set_rcvtimeo (shoal_port_sock (h->stats), S_RCVTIMEO_MS);
    return 0;
fail:
    bench_host_stop (h);
    return -1;
}

/*  STATS through control. */
int
bench_host_stats (bench_host_t *h, bench_stats_t *st)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_STATS;
    strcpy (hdr.to, "control");
    shoal_port_new_id (h->stats, &hdr.id);
    shoal_id_t id = hdr.id;
    shoal_wr_map (shoal_port_begin_hdr (h->stats, &hdr), 0);
    if (shoal_port_send (h->stats)) {
        return -1;
    }
    for (int i = 0; i < 16; i++) {
        shoal_in_t in;
        shoal_err_t rc = shoal_port_recv (h->stats, &in, 0);
        if (rc == SHOAL_ERR_BUSY || rc == SHOAL_ERR_INTERRUPTED ||
            rc == SHOAL_ERR_IO) {
            break;
        }
        if (rc) {
            continue;
        }
        bool mine = in.hdr.has_corr && memcmp (&in.hdr.corr, &id, 16) == 0;
        int out = -1;
        if (mine && in.hdr.type == SHOAL_M_OK) {
            shoal_mp_val_t v;
            const uint8_t *jobs;
            size_t len;
            memset (st, 0, sizeof *st);
            if (shoal_map_find (in.body, in.body_len, "jobs", &v, &jobs,
                                &len) == SHOAL_OK) {
                shoal_map_uint (jobs, len, "enqueued", &st->enqueued);
                shoal_map_uint (jobs, len, "succeeded", &st->succeeded);
            }
            if (shoal_map_uint (in.body, in.body_len, "commits",
                                &st->commits) == SHOAL_OK) {
                out = 0;
            }
        }
        shoal_in_close (&in);
        if (mine) {
            if (out) {
                fprintf (stderr, "shoal_bench: STATS refused\n");
            }
            return out;
        }
    }
    fprintf (stderr, "shoal_bench: no STATS answer\n");
    return -1;
}

/*  ---------------------------------------------------------------------
    Clients */

typedef struct {
    const char *endpoint;
    uint64_t quota;
    uint64_t deadline_ns;
    pthread_barrier_t *start;
    uint64_t sent;
    uint64_t acked;
    char error[256]; /* empty when all went well */
} s_client_t;

static int
s_client_send (s_client_t *c, shoal_port_t *port, shoal_id_t *slot)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_SUBMIT;
    strcpy (hdr.to, "control");
    shoal_port_new_id (port, &hdr.id);
    *slot = hdr.id;
    shoal_wr_t *w = shoal_port_begin_hdr (port, &hdr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", "noop");
    shoal_wr_str (w, "payload");
    shoal_wr_map (w, 1);
    shoal_wr_kv_uint (w, "i", c->sent);
    if (shoal_port_send (port)) {
        snprintf (c->error, sizeof c->error, "send failed");
        return -1;
    }
    c->sent++;
    return 0;
}

/*  Checks one reply; returns the slot it answers, or -1 (error set). */
static int
s_client_check (s_client_t *c, const shoal_in_t *in, const shoal_id_t *slots,
                const bool *busy)
{
    if (in->hdr.type != SHOAL_M_OK) {
        uint64_t code = 0;
        const char *text = "";
        uint32_t len = 0;
        shoal_map_uint (in->body, in->body_len, "code", &code);
        shoal_map_str (in->body, in->body_len, "text", &text, &len);
        snprintf (c->error, sizeof c->error, "%s reply: %s (%llu): %.*s",
                  shoal_mtype_name (in->hdr.type), shoal_errname ((int) code),
                  (unsigned long long) code, (int) len, text);
        return -1;
    }
    const char *jid;
    uint32_t jlen;
    uint64_t seq;
    if (shoal_map_str (in->body, in->body_len, "id", &jid, &jlen) ||
        jlen != 32 || shoal_map_uint (in->body, in->body_len, "seq", &seq)) {
        snprintf (c->error, sizeof c->error, "OK reply without id and seq");
        return -1;
    }
    if (in->hdr.has_corr) {
        for (int i = 0; i < S_INFLIGHT; i++) {
            if (busy[i] && memcmp (&slots[i], &in->hdr.corr, 16) == 0) {
                return i;
            }
        }
    }
    snprintf (c->error, sizeof c->error,
              "reply answers no outstanding request");
    return -1;
}

static void *
s_client_run (void *arg)
{
    s_client_t *c = arg;
    shoal_clock_t clock = shoal_clock_real ();
    shoal_port_t *port =
        shoal_port_new_client (c->endpoint, "bench.client", &clock);
    if (port) {
        zsock_set_rcvtimeo (shoal_port_sock (port), S_RCVTIMEO_MS);
    }
    pthread_barrier_wait (c->start);
    if (!port) {
        snprintf (c->error, sizeof c->error, "cannot connect");
        return NULL;
    }
    shoal_id_t slots[S_INFLIGHT];
    bool busy[S_INFLIGHT] = {false};
    uint32_t inflight = 0;
    for (int i = 0; i < S_INFLIGHT && c->sent < c->quota; i++) {
        if (s_client_send (c, port, &slots[i])) {
            goto done;
        }
        busy[i] = true;
        inflight++;
    }
    while (inflight > 0) {
        shoal_in_t in;
        shoal_err_t rc = shoal_port_recv (port, &in, 0);
        if (rc) {
            snprintf (c->error, sizeof c->error,
                      rc == SHOAL_ERR_BUSY ? "no reply within 10 s"
                                           : "receive failed: %s",
                      shoal_strerror (rc));
            goto done;
        }
        int k = s_client_check (c, &in, slots, busy);
        shoal_in_close (&in);
        if (k < 0) {
            goto done;
        }
        busy[k] = false;
        inflight--;
        c->acked++;
        if (c->sent < c->quota && bench_now_ns () < c->deadline_ns) {
            if (s_client_send (c, port, &slots[k])) {
                goto done;
            }
            busy[k] = true;
            inflight++;
        }
    }
done:
    shoal_port_destroy (&port);
    return NULL;
}

/*  Runs the clients against endpoint; fills acked, *secs (first send to
    last reply) and *t0 (monotonic ns at start). Returns 0, or -1 after
    printing the first client error. */
static int
s_run_clients (const char *endpoint, uint64_t total, int cap_s, uint64_t *acked,
               double *secs, uint64_t *t0_out)
{
    s_client_t clients[S_CLIENTS];
    pthread_t threads[S_CLIENTS];
    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, S_CLIENTS + 1);
    uint64_t deadline = bench_now_ns () + (uint64_t) cap_s * 1000000000u;
    int started = 0;
    for (int i = 0; i < S_CLIENTS; i++) {
        memset (&clients[i], 0, sizeof clients[i]);
        clients[i].endpoint = endpoint;
        clients[i].quota = total / S_CLIENTS + (i < (int) (total % S_CLIENTS));
        clients[i].deadline_ns = deadline;
        clients[i].start = &start;
        if (pthread_create (&threads[i], NULL, s_client_run, &clients[i])) {
            fprintf (stderr, "shoal_bench: cannot start client threads\n");
            abort (); /* the barrier would never open */
        }
        started++;
    }
    pthread_barrier_wait (&start);
    uint64_t t0 = bench_now_ns ();
    *t0_out = t0;
    int rc = 0;
    *acked = 0;
    for (int i = 0; i < started; i++) {
        pthread_join (threads[i], NULL);
    }
    *secs = (double) (bench_now_ns () - t0) / 1e9;
    for (int i = 0; i < started; i++) {
        *acked += clients[i].acked;
        if (clients[i].error[0] && rc == 0) {
            fprintf (stderr, "shoal_bench: client %d FAILED: %s\n", i,
                     clients[i].error);
            rc = -1;
        }
    }
    pthread_barrier_destroy (&start);
    return rc;
}

/*  Bytes of the record the store writes for one of our jobs (CRC
    included), so that the LMDB baseline writes values of the same size. */
static uint32_t
s_record_len (uint64_t i, uint64_t seq)
{
    shoal_wr_t *pl = shoal_wr_new ();
    shoal_wr_t *rec = shoal_wr_new ();
    uint32_t len = 0;
    if (pl && rec) {
        shoal_wr_map (pl, 1);
        shoal_wr_kv_uint (pl, "i", i);
        shoal_job_t job;
        memset (&job, 0, sizeof job);
        memset (job.id.b, 0xab, 16);
        strcpy (job.queue, "default");
        strcpy (job.type, "noop");
        job.priority = SHOAL_PRIO_NORMAL;
        job.state = SHOAL_JOB_ENQUEUED;
        job.seq = seq;
        job.created_us = job.updated_us = (uint64_t) zclock_time () * 1000;
        job.payload = shoal_wr_data (pl);
        job.payload_len = shoal_wr_size (pl);
        shoal_job_encode (&job, rec);
        len = (uint32_t) shoal_wr_size (rec) + 4;
    }
    shoal_wr_destroy (&pl);
    shoal_wr_destroy (&rec);
    return len;
}

/*  ---------------------------------------------------------------------
    The section */

/*  One run on a fresh host: fills jobs, secs, rate, complete, commits,
    batch. */
static int
s_durable_once (const bench_opts_t *opts, bench_sync_t m, int tag,
                bench_dur_t *d)
{
    bench_host_t host;
    if (bench_host_start (&host, bench_sync_names[m], 0, tag, opts)) {
        return -1;
    }
    bench_stats_t before, after;
    uint64_t t0 = 0;
    int rc = bench_host_stats (&host, &before);
    if (rc == 0) {
        rc = s_run_clients (host.control, opts->jobs[m], S_TIME_CAP_S, &d->jobs,
                            &d->secs, &t0);
    }
    if (rc == 0) {
        rc = bench_host_stats (&host, &after);
    }
    bench_host_stop (&host);
    if (rc) {
        return rc;
    }
    if (after.enqueued - before.enqueued != d->jobs) {
        fprintf (stderr,
                 "shoal_bench: %llu submits acknowledged but the store "
                 "counts %llu new jobs\n",
                 (unsigned long long) d->jobs,
                 (unsigned long long) (after.enqueued - before.enqueued));
        return -1;
    }
    d->complete = d->jobs == opts->jobs[m];
    d->rate = (double) d->jobs / d->secs;
    /* after.commits includes the commit of the first STATS query. */
    d->commits = after.commits - before.commits - 1;
    if (d->commits == 0) {
        d->commits = 1;
    }
    d->batch = (double) d->jobs / (double) d->commits;
    return 0;
}

static int
s_cmp_rate (const void *x, const void *y)
{
    double a = ((const bench_dur_t *) x)->rate;
    double b = ((const bench_dur_t *) y)->rate;
    return a < b ? -1 : a > b;
}

/*  opts->repeats runs (each on a fresh host); the median run, then the
    LMDB baseline at that run's batch size. */
static int
s_durable_mode (const bench_opts_t *opts, bench_sync_t m, int *tag,
                bench_dur_t *d)
{
    bench_dur_t runs[8];
    uint32_t reps = opts->repeats < 1   ? 1
                    : opts->repeats > 8 ? 8
                                        : opts->repeats;
    memset (runs, 0, sizeof runs);
    for (uint32_t r = 0; r < reps; r++) {
        if (s_durable_once (opts, m, (*tag)++, &runs[r])) {
            return -1;
        }
    }
    char a[32], b[32];
    printf ("  sync=%-4s  shoal: %u x %s jobs:", bench_sync_names[m], reps,
            bench_fmt_count ((double) opts->jobs[m], a, sizeof a));
    for (uint32_t r = 0; r < reps; r++) {
        printf (" %s/s%s", bench_fmt_count (runs[r].rate, a, sizeof a),
                runs[r].complete ? "" : " (TIME CAP HIT)");
    }
    qsort (runs, reps, sizeof runs[0], s_cmp_rate);
    *d = runs[reps / 2];
    printf ("; median %s/s, %llu commits, %.0f jobs/commit\n",
            bench_fmt_count (d->rate, a, sizeof a),
            (unsigned long long) d->commits, d->batch);
    fflush (stdout);

    /* a typical job: payload {i} half way through a client's share */
    d->value_len = s_record_len (d->jobs / S_CLIENTS / 2, d->jobs / 2);
    char dir[64];
    if (bench_tmpdir (dir, sizeof dir)) {
        return -1;
    }
    uint32_t batch = d->batch < 1 ? 1 : (uint32_t) (d->batch + 0.5);
    d->lmdb_rate =
        bench_lmdb_commit (dir, m, d->jobs, batch, d->value_len, &d->lmdb_secs);
    bench_rmdir (dir);
    if (d->lmdb_rate < 0) {
        return -1;
    }
    printf ("             raw LMDB: %s records (%u B) at %u/txn in %.2f s = "
            "%s/s; shoal/raw %.2fx\n",
            bench_fmt_count ((double) d->jobs, a, sizeof a), d->value_len,
            batch, d->lmdb_secs, bench_fmt_count (d->lmdb_rate, b, sizeof b),
            d->rate / d->lmdb_rate);
    fflush (stdout);
    d->done = true;
    return 0;
}

/*  Submits with executors running noop jobs: acked submits/s and jobs
    finished/s from the first submit to the last success. */
static int
s_end_to_end (const bench_opts_t *opts, int tag, int executors,
              const char *sync, bench_e2e_t *e)
{
    bench_host_t host;
    if (bench_host_start (&host, sync, executors, tag, opts)) {
        return -1;
    }
    bench_stats_t before, st;
    uint64_t t0 = 0, acked = 0;
    double secs = 0;
    int rc = bench_host_stats (&host, &before);
    if (rc == 0) {
        rc = s_run_clients (host.control, opts->e2e_jobs, S_TIME_CAP_S, &acked,
                            &secs, &t0);
    }
    uint64_t deadline = t0 + (uint64_t) S_E2E_CAP_S * 1000000000u;
    uint64_t done_ns = 0;
    while (rc == 0 && (rc = bench_host_stats (&host, &st)) == 0) {
        uint64_t now = bench_now_ns ();
        if (st.succeeded - before.succeeded >= acked) {
            done_ns = now;
            break;
        }
        if (now > deadline) {
            break;
        }
        usleep (10000);
    }
    bench_host_stop (&host);
    if (rc) {
        return rc;
    }
    e->jobs = acked;
    e->submit_rate = (double) acked / secs;
    e->complete = done_ns != 0 && acked == opts->e2e_jobs;
    e->done_rate =
        done_ns ? (double) acked / ((double) (done_ns - t0) / 1e9) : 0;
    e->done = true;
    char a[32], b[32], c[32];
    printf ("  end to end (sync=%s, %2d executors, noop): %s jobs; acked "
            "%s submits/s; all succeeded at %s jobs/s%s\n",
            sync, executors, bench_fmt_count ((double) acked, a, sizeof a),
            bench_fmt_count (e->submit_rate, b, sizeof b),
            bench_fmt_count (e->done_rate, c, sizeof c),
            e->complete ? "" : " (NOT ALL FINISHED IN TIME)");
    fflush (stdout);
    return 0;
}

int
bench_durable_run (const bench_opts_t *opts, bench_results_t *res)
{
    bench_section ("Durable acknowledged submits (16 clients x 64 in flight "
                   "-> control -> store)");
    printf ("  in-process host: bus, store, scheduler, monitor, control on "
            "ipc://; no executors; raw = LMDB alone, same records, batch "
            "and sync flags\n");
    fflush (stdout);
    int tag = 0;
    for (int m = 0; m < BENCH_SYNCS; m++) {
        if (s_durable_mode (opts, (bench_sync_t) m, &tag, &res->dur[m])) {
            return -1;
        }
    }
    if (opts->e2e_jobs > 0) {
        /* The summary keeps the 4-executor sync=full run; the others show
           how executors and sync modes change it. */
        if (s_end_to_end (opts, tag++, S_EXECUTORS, "full", &res->e2e)) {
            return -1;
        }
        static const struct {
            int executors;
            const char *sync;
        } more[] = {{1, "full"}, {16, "full"}, {4, "meta"}, {4, "none"}};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
            bench_e2e_t other = {0};
            if (s_end_to_end (opts, tag++, more[i].executors, more[i].sync,
                              &other)) {
                return -1;
            }
        }
    }
    return 0;
}
