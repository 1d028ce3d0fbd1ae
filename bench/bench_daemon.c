/*  bench_daemon.c - a real shoald driven over its control socket, for
    the sections that need a process to kill (scale, workflows).

    Taken out of bench_scale.c so that every section starts, stops and
    restarts shoald the same way. It knows nothing about what a section
    measures: it spawns, kills by pid, sends requests (one at a time, or
    a bounded pipeline of them) and reads STATS.
*/
#include "bench_daemon.h"
#include "bench_util.h"

#include "shoal_frame.h"

#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_KIDS_MAX 64

uint64_t
bench_real_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/*  Children of pid, from /proc/N/stat. Returns how many (<= cap). */
static int
s_children (pid_t pid, pid_t *kids, int cap)
{
    int n = 0;
    DIR *d = opendir ("/proc");
    if (!d) {
        return 0;
    }
    struct dirent *e;
    while ((e = readdir (d)) && n < cap) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') {
            continue;
        }
        char path[300], buf[512];
        snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen (path, "r");
        if (!f) {
            continue;
        }
        size_t len = fread (buf, 1, sizeof buf - 1, f);
        fclose (f);
        buf[len] = '\0';
        char *rp = strrchr (buf, ')');
        int ppid = 0;
        char state;
        if (rp && sscanf (rp + 1, " %c %d", &state, &ppid) == 2 &&
            ppid == (int) pid) {
            kids[n++] = (pid_t) atoi (e->d_name);
        }
    }
    closedir (d);
    return n;
}

int
bench_daemon_init (bench_daemon_t *d, const char *exe, int executors,
                   uint32_t prefetch)
{
    memset (d, 0, sizeof *d);
    d->exe = exe;
    d->executors = executors;
    d->prefetch = prefetch;
    if (access (exe, X_OK) != 0) {
        fprintf (stderr, "shoal_bench: no shoald at %s (use --shoald PATH)\n",
                 exe);
        return -1;
    }
    if (bench_tmpdir (d->dir, sizeof d->dir)) {
        return -1;
    }
    snprintf (d->log, sizeof d->log, "%s/shoald.log", d->dir);
    snprintf (d->control, sizeof d->control, "ipc://%s/control.sock", d->dir);
    snprintf (d->monitor, sizeof d->monitor, "ipc://%s/monitor.sock", d->dir);
    snprintf (d->sock, sizeof d->sock, "%s/control.sock", d->dir);
    return 0;
}

void
bench_daemon_kill (bench_daemon_t *d)
{
    shoal_port_destroy (&d->port);
    if (d->pid <= 0) {
        return;
    }
    pid_t kids[S_KIDS_MAX];
    int n = s_children (d->pid, kids, S_KIDS_MAX);
    kill (d->pid, SIGKILL);
    for (int i = 0; i < n; i++) {
        kill (kids[i], SIGKILL);
    }
    waitpid (d->pid, NULL, 0);
    d->pid = 0;
}

/*  The end of shoald's log, to stderr (the folder goes away). */
static void
s_print_log_tail (const char *log)
{
    FILE *f = fopen (log, "r");
    if (!f) {
        return;
    }
    char buf[2048];
    fseek (f, 0, SEEK_END);
    long size = ftell (f);
    fseek (f, size > (long) sizeof buf - 1 ? size - (long) sizeof buf + 1 : 0,
           SEEK_SET);
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = '\0';
    fprintf (stderr, "shoal_bench: end of the shoald log:\n%s\n", buf);
}

void
bench_daemon_fini (bench_daemon_t *d, bool failed)
{
    bench_daemon_kill (d);
    if (d->dir[0]) {
        if (failed) {
            s_print_log_tail (d->log);
        }
        bench_rmdir (d->dir);
        d->dir[0] = '\0';
    }
}

static void
s_unlink_socks (const bench_daemon_t *d)
{
    static const char *const names[] = {"control.sock", "monitor.sock",
                                        "bus.sock"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[128];
        snprintf (path, sizeof path, "%s/%s", d->dir, names[i]);
        unlink (path);
    }
}

int
bench_daemon_spawn (bench_daemon_t *d)
{
    s_unlink_socks (d);
    char prefetch[64];
    snprintf (prefetch, sizeof prefetch, "executors/prefetch=%u", d->prefetch);
    char count[16];
    snprintf (count, sizeof count, "%d", d->executors);
    const char *argv[] = {d->exe,
                          "-d",
                          d->dir,
                          "-e",
                          d->control,
                          "-m",
                          d->monitor,
                          "-s",
                          "full",
                          "-x",
                          count,
                          "--mode",
                          d->process ? "process" : "thread",
                          "--set",
                          prefetch,
                          "--set",
                          "supervisor/liveness=600000",
                          "--set",
                          "store/lease=3600000",
                          "--set",
                          "store/map_size=4294967296",
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL};
    size_t at = 0;
    while (argv[at]) {
        at++;
    }
    for (size_t i = 0; i < 16 && d->extra[i]; i++) {
        argv[at++] = d->extra[i];
    }
    int fd = open (d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror ("shoal_bench: log file");
        return -1;
    }
    pid_t pid = fork ();
    if (pid < 0) {
        perror ("shoal_bench: fork");
        close (fd);
        return -1;
    }
    if (pid == 0) {
        dup2 (fd, 1);
        dup2 (fd, 2);
        execv (d->exe, (char *const *) argv);
        _exit (127);
    }
    close (fd);
    d->pid = pid;
    return 0;
}

int
bench_daemon_start (bench_daemon_t *d, bool process, bench_counts_t *c)
{
    bench_daemon_kill (d);
    d->process = process;
    if (bench_daemon_spawn (d)) {
        return -1;
    }
    /* the control socket appears after every actor runs */
    uint64_t cap =
        bench_now_ns () + (uint64_t) BENCH_DAEMON_START_S * 1000000000u;
    while (access (d->sock, F_OK) != 0 && bench_now_ns () < cap) {
        usleep (1000);
    }
    shoal_clock_t clock = shoal_clock_real ();
    d->port = shoal_port_new_client (d->control, "bench.daemon", &clock);
    if (!d->port || bench_daemon_stats (d, c)) {
        fprintf (stderr, "shoal_bench: shoald did not start\n");
        return -1;
    }
    return 0;
}

int
bench_daemon_call (bench_daemon_t *d, uint32_t type, bench_body_fn *body,
                   const void *arg, int ms, shoal_in_t *in)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = type;
    strcpy (hdr.to, "control");
    shoal_port_new_id (d->port, &hdr.id);
    shoal_id_t id = hdr.id;
    body (shoal_port_begin_hdr (d->port, &hdr), arg, 0);
    if (shoal_port_send (d->port)) {
        return -1;
    }
    uint64_t end = bench_now_ns () + (uint64_t) ms * 1000000u;
    zsock_t *sock = shoal_port_sock (d->port);
    while (bench_now_ns () < end) {
        zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLIN, 0};
        long left = (long) ((end - bench_now_ns ()) / 1000000u) + 1;
        if (zmq_poll (&item, 1, left) <= 0) {
            continue;
        }
        shoal_err_t rc = shoal_port_recv (d->port, in, ZMQ_DONTWAIT);
        if (rc) {
            continue;
        }
        if (in->hdr.has_corr && memcmp (&in->hdr.corr, &id, 16) == 0) {
            return 0;
        }
        shoal_in_close (in);
    }
    return -1;
}

int
bench_counts_read (const shoal_in_t *in, bench_counts_t *c)
{
    shoal_mp_val_t v;
    const uint8_t *jobs;
    size_t len;
    if (in->hdr.type != SHOAL_M_OK ||
        shoal_map_find (in->body, in->body_len, "jobs", &v, &jobs, &len)) {
        return -1;
    }
    memset (c, 0, sizeof *c);
    static const char *const states[] = {"scheduled", "enqueued", "leased",
                                         "succeeded", "failed",   "dead",
                                         "cancelled"};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        uint64_t n = 0;
        shoal_map_uint (jobs, len, states[i], &n);
        c->total += n;
    }
    shoal_map_uint (jobs, len, "enqueued", &c->enqueued);
    shoal_map_uint (jobs, len, "leased", &c->leased);
    shoal_map_uint (jobs, len, "succeeded", &c->succeeded);
    shoal_map_uint (jobs, len, "dead", &c->dead);
    shoal_map_uint (jobs, len, "cancelled", &c->cancelled);
    return 0;
}

static void
s_body_empty (shoal_wr_t *w, const void *arg, uint64_t i)
{
    (void) arg;
    (void) i;
    shoal_wr_map (w, 0);
}

int
bench_daemon_stats (bench_daemon_t *d, bench_counts_t *c)
{
    shoal_in_t in;
    if (bench_daemon_call (d, SHOAL_M_STATS, s_body_empty, NULL,
                           BENCH_DAEMON_REPLY_MS, &in)) {
        fprintf (stderr, "shoal_bench: no STATS answer from shoald\n");
        return -1;
    }
    int rc = bench_counts_read (&in, c);
    shoal_in_close (&in);
    if (rc) {
        fprintf (stderr, "shoal_bench: STATS refused\n");
    }
    return rc;
}

/*  An ERROR reply, printed with its code and text. */
static void
s_print_refusal (const shoal_in_t *in)
{
    uint64_t code = 0;
    const char *text = "";
    uint32_t len = 0;
    shoal_map_uint (in->body, in->body_len, "code", &code);
    shoal_map_str (in->body, in->body_len, "text", &text, &len);
    fprintf (stderr, "shoal_bench: request refused: %s: %.*s\n",
             shoal_errname ((int) code), (int) len, text);
}

int
bench_daemon_pipeline (bench_daemon_t *d, uint32_t type, uint64_t n,
                       uint32_t window, bench_body_fn *body, const void *arg,
                       bench_reply_fn *on_reply, void *reply_arg, int cap_s,
                       double *secs)
{
    uint64_t sent = 0, acked = 0, t0 = bench_now_ns ();
    uint64_t cap = t0 + (uint64_t) cap_s * 1000000000u;
    zsock_t *sock = shoal_port_sock (d->port);
    while (acked < n) {
        while (sent < n && sent - acked < window) {
            body (shoal_port_begin (d->port, type, "control", NULL), arg, sent);
            if (shoal_port_send (d->port)) {
                fprintf (stderr, "shoal_bench: send failed\n");
                return -1;
            }
            sent++;
        }
        zmq_pollitem_t item = {zsock_resolve (sock), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, BENCH_DAEMON_REPLY_MS) <= 0) {
            fprintf (stderr, "shoal_bench: no %s reply in %d ms\n",
                     shoal_mtype_name (type), BENCH_DAEMON_REPLY_MS);
            return -1;
        }
        shoal_in_t in;
        while (shoal_port_recv (d->port, &in, ZMQ_DONTWAIT) == SHOAL_OK) {
            int rc = 0;
            if (in.hdr.type != SHOAL_M_OK) {
                s_print_refusal (&in);
                rc = -1;
            } else if (on_reply) {
                rc = on_reply (&in, reply_arg);
            }
            shoal_in_close (&in);
            if (rc) {
                return -1;
            }
            acked++;
        }
        if (bench_now_ns () > cap) {
            fprintf (stderr, "shoal_bench: %s requests took over %d s\n",
                     shoal_mtype_name (type), cap_s);
            return -1;
        }
    }
    *secs = (double) (bench_now_ns () - t0) / 1e9;
    return 0;
}

int
bench_daemon_stop_executors (bench_daemon_t *d)
{
    usleep (500000); /* the executors' boot credits reach the scheduler */
    pid_t kids[S_KIDS_MAX];
    int n = s_children (d->pid, kids, S_KIDS_MAX);
    if (n != d->executors) {
        fprintf (stderr,
                 "shoal_bench: shoald has %d child processes, "
                 "expected %d executors\n",
                 n, d->executors);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        kill (kids[i], SIGSTOP);
    }
    return 0;
}

long long
bench_daemon_log_requeued (const bench_daemon_t *d, long offset)
{
    FILE *f = fopen (d->log, "r");
    if (!f) {
        return -1;
    }
    fseek (f, offset, SEEK_SET);
    char line[1024];
    long long n = -1;
    while (fgets (line, sizeof line, f)) {
        const char *p = strstr (line, "recovery requeued ");
        if (p) {
            n = atoll (p + strlen ("recovery requeued "));
        }
    }
    fclose (f);
    return n;
}

long
bench_daemon_log_size (const bench_daemon_t *d)
{
    struct stat st;
    return stat (d->log, &st) == 0 ? (long) st.st_size : 0;
}
