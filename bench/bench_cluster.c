/*  bench_cluster.c - executors on other hosts: throughput against all
    local, failover time, and what CURVE costs.

    Throughput: the same number of noop jobs (SUBMIT pipelined, 1024 in
    flight) through three setups of two executors each (prefetch 1024):
    (a) one shoald with both executors; (b) an owner with none and two
    members (`shoald --join`, one executor each) linked over tcp on
    127.0.0.1; (c) the same over CURVE. The time is from the first submit
    to the STATS answer that counts every job succeeded. Raw libzmq over
    the same kind of tcp link (DEALER -> ROUTER, 64 B, one direction),
    plain and CURVE, is measured in the same run for the ratios.

    Failover: an owner and a shoal-worker holding one long sleep job;
    kill -9 the worker. The time is from the worker's last heartbeat as
    the owner saw it (beat_us in cluster.peer.lost) to the job's requeue
    (the ts of its job.requeued event, sent after the commit), both on
    the owner's clock. Default settings: heartbeat 500 ms, liveness 4.

    Every loop is bounded by a count and a time cap.
*/
#include "bench_daemon.h"
#include "bench_util.h"

#include "shoal_frame.h"
#include "shoal_mp.h"
#include "shoal_port.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_WINDOW     1024
#define S_MEMBERS    2
#define S_CAP_S      300 /* s for one trial's jobs */
#define S_LINK_CAP_S 30  /* s for members to link */
#define S_RAW_MSGS   200000
#define S_RAW_SIZE   64

typedef enum { S_LOCAL, S_REMOTE, S_CURVE, S_MODES } s_mode_t;
static const char *const s_mode_name[] = {"all local", "2 other hosts",
                                          "2 other hosts, CURVE"};

typedef struct {
    char keys[64]; /* folder of certificates */
    char allow[96];
    char owner_secret[128], owner_public[128];
    char member_secret[128];
    char set_cert[160], set_allow[160], set_key[160];
} s_certs_t;

/*  A free tcp port on 127.0.0.1 (bound, read, closed). */
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind (fd, (struct sockaddr *) &a, sizeof a) == 0 &&
        getsockname (fd, (struct sockaddr *) &a, &len) == 0) {
        port = ntohs (a.sin_port);
    }
    if (fd >= 0) {
        close (fd);
    }
    return port;
}

static int
s_certs_make (s_certs_t *c)
{
    if (bench_tmpdir (c->keys, sizeof c->keys)) {
        return -1;
    }
    snprintf (c->allow, sizeof c->allow, "%s/allow", c->keys);
    if (mkdir (c->allow, 0700) < 0) {
        return -1;
    }
    const char *names[] = {"owner", "member", "bench"};
    for (size_t i = 0; i < 3; i++) {
        zcert_t *cert = zcert_new ();
        char path[160];
        snprintf (path, sizeof path, "%s/%s.key", c->keys, names[i]);
        if (!cert || zcert_save (cert, path)) {
            zcert_destroy (&cert);
            return -1;
        }
        if (i > 0) {
            snprintf (path, sizeof path, "%s/%s.key", c->allow, names[i]);
            zcert_save_public (cert, path);
        }
        zcert_destroy (&cert);
    }
    snprintf (c->owner_secret, sizeof c->owner_secret, "%s/owner.key_secret",
              c->keys);
    snprintf (c->owner_public, sizeof c->owner_public, "%s/owner.key", c->keys);
    snprintf (c->member_secret, sizeof c->member_secret, "%s/member.key_secret",
              c->keys);
    snprintf (c->set_cert, sizeof c->set_cert, "shoald/curve_cert=%s",
              c->owner_secret);
    snprintf (c->set_allow, sizeof c->set_allow, "shoald/curve_allow=%s",
              c->allow);
    snprintf (c->set_key, sizeof c->set_key, "cluster/server_key=%s",
              c->owner_public);
    return 0;
}

/*  fork + exec argv, output to log. Returns the pid or -1. */
static pid_t
s_spawn (const char *const *argv, const char *log)
{
    int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    pid_t pid = fork ();
    if (pid == 0) {
        dup2 (fd, 1);
        dup2 (fd, 2);
        execv (argv[0], (char *const *) argv);
        _exit (127);
    }
    close (fd);
    return pid;
}

static void
s_kill (pid_t *pid)
{
    if (*pid > 0) {
        kill (*pid, SIGKILL);
        waitpid (*pid, NULL, 0);
        *pid = 0;
    }
}

static void
s_body_cluster (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) i;
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "op", (const char *) arg);
}

/*  Peers alive with at least one executor known to the scheduler. */
static int
s_alive (bench_daemon_t *d, const char *peer, int *alive)
{
    shoal_in_t in;
    if (bench_daemon_call (d, SHOAL_M_CLUSTER, s_body_cluster, "hosts",
                           BENCH_DAEMON_REPLY_MS, &in)) {
        return -1;
    }
    *alive = 0;
    shoal_rd_t rd;
    uint32_t n;
    if (in.hdr.type == SHOAL_M_OK &&
        shoal_map_array (in.body, in.body_len, "peers", &rd, &n) == SHOAL_OK) {
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *item = rd.p;
            if (shoal_rd_skip (&rd, 16)) {
                break;
            }
            size_t len = (size_t) (rd.p - item);
            char state[16] = "", name[64] = "";
            uint64_t execs = 0;
            shoal_map_strcpy (item, len, "state", state, sizeof state);
            shoal_map_strcpy (item, len, "name", name, sizeof name);
            shoal_map_uint (item, len, "executors", &execs);
            if (streq (state, "alive") && execs > 0 &&
                (!peer || streq (name, peer))) {
                (*alive)++;
            }
        }
    }
    shoal_in_close (&in);
    return 0;
}

static int
s_wait_alive (bench_daemon_t *d, const char *peer, int want)
{
    uint64_t cap = bench_now_ns () + (uint64_t) S_LINK_CAP_S * 1000000000u;
    while (bench_now_ns () < cap) {
        int alive;
        if (s_alive (d, peer, &alive)) {
            return -1;
        }
        if (alive >= want) {
            return 0;
        }
        usleep (20000);
    }
    fprintf (stderr, "shoal_bench: members did not link within %d s\n",
             S_LINK_CAP_S);
    return -1;
}

static void
s_body_noop (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) arg;
    (void) i;
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "type", "noop");
}

/*  One throughput trial. */
static int
s_tput (const bench_opts_t *opts, s_mode_t mode, const s_certs_t *certs,
        uint64_t jobs, double *rate)
{
    bench_daemon_t d;
    if (bench_daemon_init (&d, opts->shoald, mode == S_LOCAL ? S_MEMBERS : 0,
                           1024)) {
        return -1;
    }
    char bind[64], join[64];
    int port = s_free_port ();
    snprintf (bind, sizeof bind, "tcp://127.0.0.1:%d", port);
    snprintf (join, sizeof join, "tcp://127.0.0.1:%d", port);
    int x = 0;
    if (mode != S_LOCAL) {
        d.extra[x++] = "--bind";
        d.extra[x++] = bind;
        d.extra[x++] = "--host-name";
        d.extra[x++] = "owner";
    }
    if (mode == S_CURVE) {
        d.extra[x++] = "--set";
        d.extra[x++] = certs->set_cert;
        d.extra[x++] = "--set";
        d.extra[x++] = certs->set_allow;
        /* the bench's own control client stays plain: ipc, no CURVE */
    }
    pid_t members[S_MEMBERS] = {0};
    bench_counts_t c0, c;
    int rc = 0;
    /* With a certificate the control endpoint is CURVE too: the bench's
       client then speaks CURVE with its own key from the allowlist. */
    rc = mode == S_CURVE ? 0 : bench_daemon_start (&d, false, &c0);
    if (mode == S_CURVE) {
        if (bench_daemon_spawn (&d)) {
            rc = -1;
        } else {
            uint64_t cap = bench_now_ns () + 60ull * 1000000000u;
            while (access (d.sock, F_OK) != 0 && bench_now_ns () < cap) {
                usleep (1000);
            }
            shoal_clock_t clock = shoal_clock_real ();
            char bench_secret[160];
            snprintf (bench_secret, sizeof bench_secret, "%s/bench.key_secret",
                      certs->keys);
            zcert_t *cert = zcert_load (bench_secret);
            char key[41] = "";
            zcert_t *srv = zcert_load (certs->owner_public);
            if (srv) {
                snprintf (key, sizeof key, "%s", zcert_public_txt (srv));
            }
            d.port = cert && srv
                         ? shoal_port_new_client_curve (
                               d.control, "bench.daemon", &clock, cert, key)
                         : NULL;
            zcert_destroy (&cert);
            zcert_destroy (&srv);
            rc = d.port && bench_daemon_stats (&d, &c0) == 0 ? 0 : -1;
        }
    }
    for (int m = 0; rc == 0 && mode != S_LOCAL && m < S_MEMBERS; m++) {
        char name[32], log[128];
        snprintf (name, sizeof name, "member%d", m);
        snprintf (log, sizeof log, "%s/%s.log", d.dir, name);
        const char *argv[] = {opts->shoald,
                              "--join",
                              join,
                              "--host-name",
                              name,
                              "-x",
                              "1",
                              mode == S_CURVE ? "--set" : NULL,
                              certs->set_cert,
                              "--set",
                              certs->set_key,
                              NULL};
        char member_cert[160];
        snprintf (member_cert, sizeof member_cert, "shoald/curve_cert=%s",
                  certs->member_secret);
        argv[8] = member_cert;
        members[m] = s_spawn (argv, log);
        rc = members[m] > 0 ? 0 : -1;
    }
    if (rc == 0 && mode != S_LOCAL) {
        rc = s_wait_alive (&d, NULL, S_MEMBERS);
    }
    double secs = 0;
    uint64_t t0 = bench_now_ns (), end = 0;
    if (rc == 0) {
        rc = bench_daemon_stats (&d, &c0);
    }
    if (rc == 0) {
        t0 = bench_now_ns ();
        rc = bench_daemon_pipeline (&d, SHOAL_M_SUBMIT, jobs, S_WINDOW,
                                    s_body_noop, NULL, NULL, NULL, S_CAP_S,
                                    &secs);
    }
    uint64_t cap = bench_now_ns () + (uint64_t) S_CAP_S * 1000000000u;
    while (rc == 0) {
        rc = bench_daemon_stats (&d, &c);
        if (rc == 0 && c.succeeded - c0.succeeded >= jobs) {
            end = bench_now_ns ();
            break;
        }
        if (bench_now_ns () > cap) {
            fprintf (stderr, "shoal_bench: %llu of %llu jobs done in %d s\n",
                     (unsigned long long) (c.succeeded - c0.succeeded),
                     (unsigned long long) jobs, S_CAP_S);
            rc = -1;
        }
        usleep (2000);
    }
    if (rc == 0) {
        *rate = (double) jobs / ((double) (end - t0) / 1e9);
        char a[32];
        printf ("  %-22s %llu jobs: %s jobs/s\n", s_mode_name[mode],
                (unsigned long long) jobs,
                bench_fmt_count (*rate, a, sizeof a));
        fflush (stdout);
    }
    for (int m = 0; m < S_MEMBERS; m++) {
        s_kill (&members[m]);
        char log[128], line[512];
        snprintf (log, sizeof log, "%s/member%d.log", d.dir, m);
        FILE *f = rc != 0 ? fopen (log, "r") : NULL;
        while (f && fgets (line, sizeof line, f)) {
            fprintf (stderr, "  member%d: %s", m, line);
        }
        if (f) {
            fclose (f);
        }
    }
    bench_daemon_fini (&d, rc != 0);
    return rc;
}

/*  ---------------------------------------------------------------------
    Raw libzmq over tcp: DEALER -> ROUTER, one direction */

typedef struct {
    const char *endpoint;
    const s_certs_t *certs; /* NULL: plain */
    uint64_t n;
} s_raw_t;

static void
s_raw_sender (zsock_t *pipe, void *arg)
{
    s_raw_t *r = arg;
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (d, 0);
    if (r->certs) {
        char secret[160];
        snprintf (secret, sizeof secret, "%s", r->certs->member_secret);
        zcert_t *c = zcert_load (secret);
        zcert_t *s = zcert_load (r->certs->owner_public);
        if (c && s) {
            zcert_apply (c, d);
            zsock_set_curve_serverkey (d, zcert_public_txt (s));
        }
        zcert_destroy (&c);
        zcert_destroy (&s);
    }
    zsock_connect (d, "%s", r->endpoint);
    zsock_signal (pipe, 0);
    char buf[S_RAW_SIZE];
    memset (buf, 'x', sizeof buf);
    for (uint64_t i = 0; i < r->n; i++) {
        zmq_send (zsock_resolve (d), buf, sizeof buf, 0);
    }
    zsock_wait (pipe); /* keep the socket until the receiver is done */
    zsock_destroy (&d);
}

static double
s_raw_rate (const s_certs_t *certs)
{
    zactor_t *auth = NULL;
    zsock_t *r = zsock_new (ZMQ_ROUTER);
    zsock_set_rcvhwm (r, 0);
    if (certs) {
        auth = zactor_new (zauth, NULL);
        zstr_sendx (auth, "CURVE", certs->allow, NULL);
        zsock_wait (auth);
        zcert_t *c = zcert_load (certs->owner_secret);
        zcert_apply (c, r);
        zcert_destroy (&c);
        zsock_set_curve_server (r, 1);
        zsock_set_zap_domain (r, "shoal");
    }
    int port = zsock_bind (r, "tcp://127.0.0.1:*");
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    s_raw_t arg = {ep, certs, S_RAW_MSGS};
    zactor_t *sender = zactor_new (s_raw_sender, &arg);
    uint64_t t0 = 0;
    uint64_t got = 0;
    zsock_set_rcvtimeo (r, 10000);
    while (got < arg.n) {
        zmsg_t *m = zmsg_recv (r);
        if (!m) {
            break;
        }
        if (got == 0) {
            t0 = bench_now_ns ();
        }
        got++;
        zmsg_destroy (&m);
    }
    uint64_t t1 = bench_now_ns ();
    zsock_signal (zactor_sock (sender), 0);
    zactor_destroy (&sender);
    zsock_destroy (&r);
    zactor_destroy (&auth);
    return got == arg.n && t1 > t0
               ? (double) (got - 1) / ((double) (t1 - t0) / 1e9)
               : -1;
}

/*  ---------------------------------------------------------------------
    Failover */

static void
s_body_sleep (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) arg;
    (void) i;
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", "sleep");
    shoal_wr_str (w, "payload");
    shoal_wr_map (w, 1);
    shoal_wr_kv_uint (w, "ms", 600000);
}

/*  Reads events until both the peer's loss and a requeue were seen (or
    the cap): *ms = requeue ts - last beat. */
static int
s_failover_events (zsock_t *sub, const char *peer, double *ms)
{
    uint64_t beat = 0, requeued = 0;
    uint64_t cap = bench_now_ns () + 30ull * 1000000000u;
    zsock_set_rcvtimeo (sub, 200);
    while ((!beat || !requeued) && bench_now_ns () < cap) {
        zmsg_t *m = zmsg_recv (sub);
        if (!m) {
            continue;
        }
        zframe_t *topic = zmsg_first (m);
        zframe_t *body = zmsg_next (m);
        if (topic && body) {
            const uint8_t *b = zframe_data (body);
            size_t len = zframe_size (body);
            char name[64] = "";
            uint64_t ts = 0;
            shoal_map_uint (b, len, "ts", &ts);
            if (zframe_streq (topic, "cluster.peer.lost") &&
                shoal_map_strcpy (b, len, "peer", name, sizeof name) == 0 &&
                streq (name, peer)) {
                shoal_map_uint (b, len, "beat_us", &beat);
            } else if (zframe_streq (topic, "job.requeued") && !requeued) {
                requeued = ts;
            }
        }
        zmsg_destroy (&m);
    }
    if (!beat || !requeued) {
        fprintf (stderr, "shoal_bench: no loss/requeue seen for %s\n", peer);
        return -1;
    }
    *ms = requeued > beat ? (double) (requeued - beat) / 1000 : 0;
    return 0;
}

static int
s_failover (const bench_opts_t *opts, uint32_t trials, bench_pct_t *pct)
{
    bench_daemon_t d;
    if (bench_daemon_init (&d, opts->shoald, 0, 1024)) {
        return -1;
    }
    char bind[64], worker[PATH_MAX + 32];
    snprintf (bind, sizeof bind, "tcp://127.0.0.1:%d", s_free_port ());
    d.extra[0] = "--bind";
    d.extra[1] = bind;
    snprintf (worker, sizeof worker, "%s", opts->shoald);
    char *slash = strrchr (worker, '/');
    if (slash) {
        strcpy (slash + 1, "shoal-worker");
    }
    bench_counts_t c0;
    uint64_t *samples = calloc (trials, sizeof *samples);
    zsock_t *sub = NULL;
    int rc = samples ? bench_daemon_start (&d, false, &c0) : -1;
    if (rc == 0) {
        sub = zsock_new_sub (d.monitor, "cluster.peer.lost");
        zsock_set_subscribe (sub, "job.requeued");
        rc = sub ? 0 : -1;
        usleep (200000); /* the subscription reaches the monitor */
    }
    for (uint32_t t = 0; rc == 0 && t < trials; t++) {
        char name[32], log[128];
        snprintf (name, sizeof name, "w%u", t);
        snprintf (log, sizeof log, "%s/%s.log", d.dir, name);
        const char *argv[] = {worker, "--join",     bind, "--name",
                              name,   "--capacity", "1",  NULL};
        pid_t pid = s_spawn (argv, log);
        rc = pid > 0 ? s_wait_alive (&d, name, 1) : -1;
        shoal_in_t in;
        if (rc == 0) {
            rc = bench_daemon_call (&d, SHOAL_M_SUBMIT, s_body_sleep, NULL,
                                    BENCH_DAEMON_REPLY_MS, &in);
            if (rc == 0) {
                shoal_in_close (&in);
            }
        }
        /* wait until it is leased (to this worker: the only executor) */
        uint64_t cap = bench_now_ns () + 30ull * 1000000000u;
        bench_counts_t c;
        while (rc == 0 && bench_now_ns () < cap) {
            rc = bench_daemon_stats (&d, &c);
            if (c.leased >= 1) {
                break;
            }
            usleep (5000);
        }
        usleep (100000); /* it runs; a beat or two pass */
        s_kill (&pid);
        double ms = 0;
        if (rc == 0) {
            rc = s_failover_events (sub, name, &ms);
        }
        if (rc == 0) {
            samples[t] =
                (uint64_t) (ms * 1e6); /* ns, as bench_percentiles takes */
        }
    }
    if (rc == 0) {
        bench_percentiles (samples, trials, pct);
    }
    zsock_destroy (&sub);
    free (samples);
    bench_daemon_fini (&d, rc != 0);
    return rc;
}

int
bench_cluster_run (const bench_opts_t *opts, bench_results_t *res)
{
    bench_section ("Cluster: executors on other hosts, failover, CURVE");
    s_certs_t certs;
    if (s_certs_make (&certs)) {
        fprintf (stderr, "shoal_bench: cannot make certificates\n");
        return -1;
    }
    uint64_t jobs = opts->quick ? 20000 : 100000;
    uint32_t trials = opts->repeats < 1 ? 1 : opts->repeats;
    double rates[S_MODES][8];
    int rc = 0;
    for (uint32_t t = 0; rc == 0 && t < trials && t < 8; t++) {
        for (int m = 0; rc == 0 && m < S_MODES; m++) {
            rc = s_tput (opts, (s_mode_t) m, &certs, jobs, &rates[m][t]);
        }
    }
    double raw = -1, raw_curve = -1;
    if (rc == 0) {
        raw = s_raw_rate (NULL);
        raw_curve = s_raw_rate (&certs);
        rc = raw > 0 && raw_curve > 0 ? 0 : -1;
    }
    bench_pct_t fo;
    uint32_t fo_trials = opts->quick ? 5 : 20;
    if (rc == 0) {
        rc = s_failover (opts, fo_trials, &fo);
    }
    if (rc == 0) {
        double med[S_MODES];
        for (int m = 0; m < S_MODES; m++) {
            med[m] = bench_median (rates[m], trials);
        }
        char a[32], b[32], c[32], r1[32], r2[32];
        printf ("  jobs/s median over %u trials: all local %s; 2 other "
                "hosts %s (%.2fx local); over CURVE %s (%.2fx plain tcp)\n",
                trials, bench_fmt_count (med[S_LOCAL], a, sizeof a),
                bench_fmt_count (med[S_REMOTE], b, sizeof b),
                med[S_REMOTE] / med[S_LOCAL],
                bench_fmt_count (med[S_CURVE], c, sizeof c),
                med[S_CURVE] / med[S_REMOTE]);
        printf ("  raw libzmq tcp DEALER->ROUTER %d B: plain %s msgs/s, "
                "CURVE %s msgs/s (%.2fx); remote jobs/raw plain %.3fx\n",
                S_RAW_SIZE, bench_fmt_count (raw, r1, sizeof r1),
                bench_fmt_count (raw_curve, r2, sizeof r2), raw_curve / raw,
                med[S_REMOTE] / raw);
        res->cluster.done = true;
        res->cluster.local = med[S_LOCAL];
        res->cluster.remote = med[S_REMOTE];
        res->cluster.curve = med[S_CURVE];
        res->cluster.raw = raw;
        res->cluster.raw_curve = raw_curve;
        res->cluster.trials = trials;
        res->cluster.fo_trials = fo_trials;
        res->cluster.fo = fo;
        printf ("  failover (last heartbeat -> lease requeued), %u trials, "
                "heartbeat 500 ms x 4: p50 %.0f ms, p99 %.0f ms, max %.0f "
                "ms\n",
                fo_trials, fo.p50 / 1000, fo.p99 / 1000, fo.max / 1000);
        fflush (stdout);
    }
    bench_rmdir (certs.keys);
    return rc;
}
