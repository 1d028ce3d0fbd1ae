/*  bench_scale.c - a real shoald with a million queued jobs: RAM per
    queued job, and restart-to-serving with leases outstanding.

    The bench starts the built shoald (--shoald, or ../tools/shoald next
    to this binary) on a fresh data folder, sync=full, with 10 process
    executors whose prefetch is leased/10, and talks to it only over its
    control and monitor sockets (ipc:// in the data folder):

    1. Pauses queue "bulk" (durable), reads /proc/PID/status, submits
       scale_jobs noop jobs to "bulk" through one DEALER keeping 4096 in
       flight, checks STATS counts them enqueued, reads the memory again.
       RssAnon growth / jobs is the RAM each queued job costs; RssFile is
       LMDB's mapped pages (page cache, shared, reclaimable).
    2. Stops the executor processes (SIGSTOP) and submits `leased` noop
       jobs to queue "held": the scheduler leases each executor its full
       prefetch, the store commits those leases, and the RUNs wait in the
       stopped executors' sockets. STATS must count exactly that many
       leased: real leases in LMDB.
    3. kill -9 shoald and its executors, starts it again, and measures
       from just before fork: the first STATS answer (needs the store:
       served only after recovery; the control socket file is polled
       every 200 us and STATS sent as soon as it exists), the first
       job.leased and job.succeeded event (a SUB connected before the
       exec, reconnecting every 1 ms; event ts is the store's clock, so
       this is exec -> the store writing the first lease/result), and
       checks the store's log line "recovery requeued N" against N.
       Steps 2-3 repeat; each restart's executors run the held jobs to
       the end, so the next round starts with none leased.

    Every wait has a time cap; shoald and its executors are killed by pid
    and the folder removed on every path out.
*/
#include "bench_daemon.h"
#include "bench_util.h"

#include "shoal_frame.h"
#include "shoal_mp.h"
#include "shoal_port.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_EXECUTORS  10
#define S_WINDOW     4096
#define S_SUBMIT_CAP 600 /* s for all the submits */
#define S_LEASE_CAP  120 /* s for the leases to be taken */
#define S_RUN_CAP    60  /* s for the first job to finish after that */

static void
s_body_pause (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) i;
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", "pause");
    shoal_wr_kv_str (w, "queue", (const char *) arg);
}

static void
s_body_submit (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) i;
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", "noop");
    shoal_wr_kv_str (w, "queue", (const char *) arg);
}

/*  Reads VmRSS, RssAnon and RssFile of pid (kB). */
static int
s_mem (pid_t pid, bench_mem_t *m)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f) {
        return -1;
    }
    memset (m, 0, sizeof *m);
    while (fgets (line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf (line, "VmRSS: %llu", &v) == 1) {
            m->rss = v;
        } else if (sscanf (line, "RssAnon: %llu", &v) == 1) {
            m->anon = v;
        } else if (sscanf (line, "RssFile: %llu", &v) == 1) {
            m->file = v;
        }
    }
    fclose (f);
    return 0;
}

static void
s_print_mem (const char *what, const bench_mem_t *m)
{
    printf ("  %-34s VmRSS %8llu kB  RssAnon %8llu kB  RssFile %8llu kB\n",
            what, (unsigned long long) m->rss, (unsigned long long) m->anon,
            (unsigned long long) m->file);
    fflush (stdout);
}

/*  Stops the executors, submits `leased` jobs to "held", waits until
    STATS counts them all leased. An executor whose boot credit had not
    reached the scheduler when it was stopped takes none: then fewer are
    leased, *got says how many (the round goes on with that count). */
static int
s_take_leases (bench_daemon_t *d, uint64_t leased, uint64_t queued,
               uint64_t *got)
{
    if (bench_daemon_stop_executors (d)) {
        return -1;
    }
    double secs;
    if (bench_daemon_pipeline (d, SHOAL_M_SUBMIT, leased, S_WINDOW,
                               s_body_submit, "held", NULL, NULL, S_SUBMIT_CAP,
                               &secs)) {
        return -1;
    }
    uint64_t cap = bench_now_ns () + (uint64_t) S_LEASE_CAP * 1000000000u;
    uint64_t last = 0, since = bench_now_ns ();
    bench_counts_t c;
    while (bench_now_ns () < cap) {
        if (bench_daemon_stats (d, &c)) {
            return -1;
        }
        if (c.leased == leased && c.enqueued == queued) {
            *got = leased;
            return 0;
        }
        if (c.leased != last) {
            last = c.leased;
            since = bench_now_ns ();
        } else if (c.leased > 0 && bench_now_ns () - since > 2000000000u &&
                   c.leased + c.enqueued == queued + leased) {
            printf ("  (only %llu of %llu leased: an executor was stopped "
                    "before its credit arrived)\n",
                    (unsigned long long) c.leased, (unsigned long long) leased);
            *got = c.leased;
            return 0;
        }
        usleep (20000);
    }
    fprintf (stderr,
             "shoal_bench: %llu leased and %llu enqueued, expected "
             "%llu and %llu\n",
             (unsigned long long) c.leased, (unsigned long long) c.enqueued,
             (unsigned long long) leased, (unsigned long long) queued);
    return -1;
}

/*  kill -9, restart with process or thread executors, time it. */
static int
s_restart (bench_daemon_t *d, bool process, bench_restart_t *out,
           uint64_t succeeded_before)
{
    bench_daemon_kill (d);
    d->process = process;
    long log_at = bench_daemon_log_size (d);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub) {
        return -1;
    }
    zsock_set_reconnect_ivl (sub, 1);
    zsock_set_subscribe (sub, "job.leased");
    zsock_set_subscribe (sub, "job.succeeded");
    zsock_set_subscribe (sub, "job.requeued");
    zsock_connect (sub, "%s", d->monitor);
    shoal_clock_t clock = shoal_clock_real ();
    uint64_t t0 = bench_now_ns ();
    uint64_t t0_us = bench_real_us ();
    int rc = -1;
    if (bench_daemon_spawn (d)) {
        goto done;
    }
    uint64_t serve = 0, lease_seen = 0, done_seen = 0;
    uint64_t lease_ev = 0, done_ev = 0, requeued_ev = 0;
    uint64_t cap = t0 + (uint64_t) BENCH_DAEMON_START_S * 1000000000u;
    bool asked = false;
    shoal_id_t ask;
    /* until served and a job done (the event, or 200 ms after STATS
       showed it without one) */
    while (bench_now_ns () < cap &&
           (!serve || !done_seen ||
            (!done_ev && bench_now_ns () < done_seen + 200000000u))) {
        /* events first: nothing else waits on them */
        while (zsock_events (sub) & ZMQ_POLLIN) {
            zmsg_t *m = zmsg_recv (sub);
            if (!m) {
                break;
            }
            char *topic = zmsg_popstr (m);
            zframe_t *body = zmsg_first (m);
            uint64_t ts = 0;
            if (topic && body) {
                shoal_map_uint (zframe_data (body), zframe_size (body), "ts",
                                &ts);
            }
            if (topic && streq (topic, "job.requeued")) {
                requeued_ev++;
            } else if (topic && streq (topic, "job.leased") && !lease_ev) {
                lease_ev = ts;
            } else if (topic && streq (topic, "job.succeeded") && !done_ev) {
                done_ev = ts;
            }
            free (topic);
            zmsg_destroy (&m);
        }
        if (!d->port) {
            if (access (d->sock, F_OK) == 0) {
                d->port =
                    shoal_port_new_client (d->control, "bench.scale", &clock);
            }
            if (!d->port) {
                usleep (200);
                continue;
            }
        }
        if (!asked) {
            shoal_hdr_t hdr;
            memset (&hdr, 0, sizeof hdr);
            hdr.type = SHOAL_M_STATS;
            strcpy (hdr.to, "control");
            shoal_port_new_id (d->port, &hdr.id);
            ask = hdr.id;
            shoal_wr_map (shoal_port_begin_hdr (d->port, &hdr), 0);
            if (shoal_port_send (d->port)) {
                goto done;
            }
            asked = true;
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
            goto done;
        }
        if (!serve) {
            serve = now;
        }
        if (!lease_seen && (c.leased > 0 || c.succeeded > succeeded_before)) {
            lease_seen = now;
        }
        if (!done_seen && c.succeeded > succeeded_before) {
            done_seen = now;
        }
        if (!done_seen) {
            usleep (1000);
        }
        if (now > serve + (uint64_t) S_RUN_CAP * 1000000000u) {
            break;
        }
    }
    if (!serve) {
        fprintf (stderr,
                 "shoal_bench: shoald did not answer within %d s "
                 "of its restart (log: %s)\n",
                 BENCH_DAEMON_START_S, d->log);
        goto done;
    }
    out->serve_ms = (double) (serve - t0) / 1e6;
    /* the store's own clock when it wrote the first lease/result, if the
       subscriber saw it; else when STATS first showed it */
    out->lease_ms = lease_ev > t0_us  ? (double) (lease_ev - t0_us) / 1000.0
                    : lease_seen > t0 ? (double) (lease_seen - t0) / 1e6
                                      : -1;
    out->done_ms = done_ev > t0_us  ? (double) (done_ev - t0_us) / 1000.0
                   : done_seen > t0 ? (double) (done_seen - t0) / 1e6
                                    : -1;
    long long req = bench_daemon_log_requeued (d, log_at);
    out->requeued = req < 0 ? 0 : (uint64_t) req;
    printf ("    restart (%s executors): exec -> first STATS answer %.1f "
            "ms; -> first lease %.1f ms%s; -> first job done %.1f ms%s; "
            "log: recovery requeued %lld; job.requeued events seen: %llu\n",
            process ? "process" : "thread", out->serve_ms, out->lease_ms,
            lease_ev > t0_us ? " (event ts)" : " (STATS poll)", out->done_ms,
            done_ev > t0_us ? " (event ts)" : " (STATS poll)", req,
            (unsigned long long) requeued_ev);
    fflush (stdout);
    rc = 0;
done:
    zsock_destroy (&sub);
    return rc;
}

/*  Waits until every held job has succeeded (the restarted executors
    run them), so that the next round starts with none leased. */
static int
s_drain_held (bench_daemon_t *d, uint64_t want_succeeded, uint64_t queued)
{
    uint64_t cap = bench_now_ns () + (uint64_t) S_LEASE_CAP * 1000000000u;
    bench_counts_t c;
    while (bench_now_ns () < cap) {
        if (bench_daemon_stats (d, &c)) {
            return -1;
        }
        if (c.succeeded >= want_succeeded && c.leased == 0) {
            if (c.enqueued != queued) {
                fprintf (stderr,
                         "shoal_bench: %llu jobs enqueued after the restart, "
                         "expected %llu\n",
                         (unsigned long long) c.enqueued,
                         (unsigned long long) queued);
                return -1;
            }
            return 0;
        }
        usleep (20000);
    }
    fprintf (stderr, "shoal_bench: held jobs not all done within %d s\n",
             S_LEASE_CAP);
    return -1;
}

static int
s_med_restart (const bench_restart_t *r, uint32_t n, bench_restart_t *out)
{
    double a[BENCH_LAT_RUNS_MAX], b[BENCH_LAT_RUNS_MAX], c[BENCH_LAT_RUNS_MAX];
    for (uint32_t i = 0; i < n; i++) {
        a[i] = r[i].serve_ms;
        b[i] = r[i].lease_ms;
        c[i] = r[i].done_ms;
    }
    out->serve_ms = bench_median (a, n);
    out->lease_ms = bench_median (b, n);
    out->done_ms = bench_median (c, n);
    return 0;
}

static int
s_scale (const bench_opts_t *opts, bench_daemon_t *d, bench_scale_t *s)
{
    bench_counts_t c;
    if (bench_daemon_start (d, true, &c)) {
        return -1;
    }
    shoal_in_t in;
    if (bench_daemon_call (d, SHOAL_M_QUEUE, s_body_pause, "bulk",
                           BENCH_DAEMON_REPLY_MS, &in)) {
        fprintf (stderr, "shoal_bench: no answer to QUEUE pause\n");
        return -1;
    }
    bool ok = in.hdr.type == SHOAL_M_OK;
    shoal_in_close (&in);
    if (!ok) {
        fprintf (stderr, "shoal_bench: QUEUE pause refused\n");
        return -1;
    }
    usleep (500000); /* let the executors and the allocator settle */
    s_mem (d->pid, &s->idle);
    s_print_mem ("started, nothing queued:", &s->idle);
    double secs;
    if (bench_daemon_pipeline (d, SHOAL_M_SUBMIT, opts->scale_jobs, S_WINDOW,
                               s_body_submit, "bulk", NULL, NULL, S_SUBMIT_CAP,
                               &secs) ||
        bench_daemon_stats (d, &c)) {
        return -1;
    }
    if (c.enqueued != opts->scale_jobs) {
        fprintf (stderr, "shoal_bench: %llu jobs acknowledged, %llu enqueued\n",
                 (unsigned long long) opts->scale_jobs,
                 (unsigned long long) c.enqueued);
        return -1;
    }
    s->queued = c.enqueued;
    s->submit_rate = (double) opts->scale_jobs / secs;
    char a[32], b[32];
    printf ("  submitted %s noop jobs to paused queue bulk in %.1f s (%s "
            "acked/s); STATS: %llu enqueued\n",
            bench_fmt_count ((double) opts->scale_jobs, a, sizeof a), secs,
            bench_fmt_count (s->submit_rate, b, sizeof b),
            (unsigned long long) c.enqueued);
    usleep (500000);
    s_mem (d->pid, &s->full);
    s_print_mem ("with the jobs queued:", &s->full);
    printf ("  per queued job: RssAnon %+.1f B, VmRSS %+.1f B, RssFile "
            "%+.1f B\n",
            ((double) s->full.anon - (double) s->idle.anon) * 1024.0 /
                (double) s->queued,
            ((double) s->full.rss - (double) s->idle.rss) * 1024.0 /
                (double) s->queued,
            ((double) s->full.file - (double) s->idle.file) * 1024.0 /
                (double) s->queued);
    fflush (stdout);

    uint32_t rounds = opts->repeats < 1                    ? 1
                      : opts->repeats > BENCH_LAT_RUNS_MAX ? BENCH_LAT_RUNS_MAX
                                                           : opts->repeats;
    /* Rounds with thread executors (shoald's default), then one with
       process executors. The leases are always taken by stopped process
       executors; a thread-executor round ends with an untimed restart
       back to process executors. */
    s->verified = true;
    uint64_t succeeded = 0;
    for (uint32_t r = 0; r <= rounds; r++) {
        bool process = r == rounds;
        uint64_t got = 0;
        if (s_take_leases (d, opts->scale_leased, s->queued, &got)) {
            return -1;
        }
        if (r == 0 || got < s->leased) {
            s->leased = got; /* the fewest of any round */
        }
        if (r == 0) {
            s_mem (d->pid, &s->with_leases);
            s_print_mem ("with the leases taken:", &s->with_leases);
        }
        printf ("  round %u: %llu jobs leased to %d stopped executors, %llu "
                "queued; kill -9\n",
                r + 1, (unsigned long long) got, S_EXECUTORS,
                (unsigned long long) s->queued);
        fflush (stdout);
        bench_restart_t *out = process ? &s->proc : &s->thread[r];
        if (s_restart (d, process, out, succeeded)) {
            return -1;
        }
        if (out->requeued != got) {
            s->verified = false;
        }
        succeeded += opts->scale_leased;
        if (s_drain_held (d, succeeded, s->queued)) {
            return -1;
        }
        if (!process) {
            s->restarts++;
            if (bench_daemon_start (d, true, &c)) {
                return -1;
            }
        }
    }
    s_med_restart (s->thread, s->restarts, &s->med);
    s->done = true;
    return 0;
}

int
bench_scale_run (const bench_opts_t *opts, bench_results_t *res)
{
    char a[32];
    bench_section ("Scale: a real shoald with queued and leased jobs");
    bench_daemon_t d;
    if (bench_daemon_init (&d, opts->shoald, S_EXECUTORS,
                           opts->scale_leased / S_EXECUTORS)) {
        return -1;
    }
    printf ("  %s, sync=full, %d process executors x prefetch %u; %s noop "
            "jobs in paused queue bulk; %u leased; %u restart(s)\n",
            d.exe, S_EXECUTORS, d.prefetch,
            bench_fmt_count ((double) opts->scale_jobs, a, sizeof a),
            opts->scale_leased, opts->repeats);
    fflush (stdout);
    int rc = s_scale (opts, &d, &res->scale);
    bench_daemon_fini (&d, rc != 0);
    return rc;
}
