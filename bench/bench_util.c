/*  bench_util.c - timing, percentiles, temp folders and the summary.

    The summary is markdown so it can be pasted into docs/benchmarks.md
    as is; it carries the machine facts and library versions a reader
    needs to compare it with another run.
*/
#include "bench_util.h"

#include "shoal_version.h"

#include <czmq.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

const size_t bench_sizes[BENCH_SIZES] = {64, 1024};
const char *const bench_sync_names[BENCH_SYNCS] = {"full", "meta", "none"};

/* Targets stated in the issue. */
#define TARGET_TPUT_RATIO 0.8
#define TARGET_P99_RATIO  1.5
#define TARGET_DURABLE    200000.0
#define TARGET_DONE_P99   3000.0 /* us, submit-to-done at 500 jobs/s */
#define TARGET_RESTART_MS 1000.0
#define TARGET_JOB_BYTES  100.0
#define TARGET_EXPR_NS    1000.0  /* condition evaluation per edge */
#define TARGET_WF_STEPS   50000.0 /* workflow node steps/s, sync=full */

uint64_t
bench_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/*  Nearest rank: the smallest sample with at least p of all at or below. */
static double
s_rank (const uint64_t *sorted, size_t n, double p)
{
    size_t k = (size_t) (p * (double) n + 0.999999);
    if (k == 0) {
        k = 1;
    }
    if (k > n) {
        k = n;
    }
    return (double) sorted[k - 1] / 1000.0;
}

void
bench_percentiles (uint64_t *samples, size_t n, bench_pct_t *out)
{
    qsort (samples, n, sizeof *samples, s_cmp_u64);
    out->p50 = s_rank (samples, n, 0.50);
    out->p99 = s_rank (samples, n, 0.99);
    out->p999 = s_rank (samples, n, 0.999);
    out->max = (double) samples[n - 1] / 1000.0;
}

double
bench_median (double *v, size_t n)
{
    qsort (v, n, sizeof *v, s_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bench_spread_t
bench_spread (double *v, size_t n)
{
    bench_spread_t s = {0, 0, 0};
    if (n > 0) {
        s.med = bench_median (v, n); /* sorts */
        s.min = v[0];
        s.max = v[n - 1];
    }
    return s;
}

int
bench_tmpdir (char *path, size_t cap)
{
    if (snprintf (path, cap, "/tmp/shoal-bench-XXXXXX") >= (int) cap ||
        !mkdtemp (path)) {
        perror ("shoal_bench: mkdtemp");
        return -1;
    }
    return 0;
}

void
bench_pin_all (const cpu_set_t *mask)
{
    DIR *d = opendir ("/proc/self/task");
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] != '.') {
            sched_setaffinity ((pid_t) atoi (e->d_name), sizeof *mask, mask);
        }
    }
    closedir (d);
}

void
bench_rmdir (const char *path)
{
    DIR *d = opendir (path);
    if (d) {
        struct dirent *e;
        while ((e = readdir (d))) {
            if (streq (e->d_name, ".") || streq (e->d_name, "..")) {
                continue;
            }
            char file[512];
            snprintf (file, sizeof file, "%s/%s", path, e->d_name);
            unlink (file);
        }
        closedir (d);
    }
    rmdir (path);
}

void
bench_loadavg (char *out, size_t cap)
{
    snprintf (out, cap, "?");
    FILE *f = fopen ("/proc/loadavg", "r");
    if (f) {
        double a, b, c;
        if (fscanf (f, "%lf %lf %lf", &a, &b, &c) == 3) {
            snprintf (out, cap, "%.2f %.2f %.2f", a, b, c);
        }
        fclose (f);
    }
}

const char *
bench_fmt_count (double v, char *buf, size_t cap)
{
    char digits[32];
    snprintf (digits, sizeof digits, "%.0f", v < 0 ? 0 : v);
    size_t n = strlen (digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            buf[o++] = ',';
        }
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

void
bench_section (const char *title)
{
    printf ("\n== %s ==\n", title);
    fflush (stdout);
}

/*  "AMD EPYC 7B13" from /proc/cpuinfo, or "?". */
static void
s_cpu_model (char *out, size_t cap)
{
    snprintf (out, cap, "?");
    FILE *f = fopen ("/proc/cpuinfo", "r");
    if (!f) {
        return;
    }
    char line[512];
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, "model name", 10) == 0) {
            char *colon = strchr (line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t') {
                    colon++;
                }
                colon[strcspn (colon, "\n")] = '\0';
                snprintf (out, cap, "%s", colon);
            }
            break;
        }
    }
    fclose (f);
}

/*  The file system type of path, as fsync cost depends on it (tmpfs
    makes sync=full meaningless). */
static const char *
s_fs_name (const char *path)
{
    struct statfs st;
    if (statfs (path, &st) != 0) {
        return "file system unknown";
    }
    switch ((unsigned long) st.f_type) {
        case 0xEF53UL:
            return "ext2/3/4";
        case 0x01021994UL:
            return "tmpfs: fsync is free, sync modes mean nothing";
        case 0x58465342UL:
            return "xfs";
        case 0x9123683EUL:
            return "btrfs";
        case 0x794C7630UL:
            return "overlayfs";
        default:
            return "file system type not known to shoal_bench";
    }
}

static const char *
s_met (bool ok)
{
    return ok ? "yes" : "**NO**";
}

static void
s_print_tput_row (const char *what, const bench_tput_t *t)
{
    char a[32], b[32], c[32];
    double ratio = t->raw > 0 ? t->shoal / t->raw : 0;
    printf ("| %s | %s msgs/s (bus actor alone: %s, %.2fx) | %s msgs/s | "
            "%.2fx | >= %.1fx | %s |\n",
            what, bench_fmt_count (t->shoal, a, sizeof a),
            bench_fmt_count (t->bus_only, c, sizeof c),
            t->raw > 0 ? t->bus_only / t->raw : 0,
            bench_fmt_count (t->raw, b, sizeof b), ratio, TARGET_TPUT_RATIO,
            s_met (ratio >= TARGET_TPUT_RATIO));
}

static void
s_print_lat_row (const char *what, const bench_lat_t *l)
{
    double ratio = l->raw.p99 > 0 ? l->shoal.p99 / l->raw.p99 : 0;
    printf ("| %s | %.1f / %.1f / %.1f us | %.1f / %.1f / %.1f us | "
            "%.2fx (p99) | <= %.1fx | %s |\n",
            what, l->shoal.p50, l->shoal.p99, l->shoal.p999, l->raw.p50,
            l->raw.p99, l->raw.p999, ratio, TARGET_P99_RATIO,
            s_met (ratio <= TARGET_P99_RATIO));
}

void
bench_print_summary (const bench_opts_t *opts, const bench_results_t *res)
{
    static const char *const row_name[BENCH_ROWS] = {
        "thread peer, inproc", "thread peer, inproc, all threads on one CPU",
        "process peer, ipc"};
    char cpu[256], a[32], b[32];
    s_cpu_model (cpu, sizeof cpu);
    struct utsname u;
    if (uname (&u) != 0) {
        memset (&u, 0, sizeof u);
    }
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    time_t now = time (NULL);
    char date[32];
    strftime (date, sizeof date, "%Y-%m-%d", gmtime (&now));

    bench_section ("Summary (markdown for docs/benchmarks.md)");
    printf ("\n### shoal_bench %s%s (%s)\n\n", SHOAL_VERSION_STRING,
            opts->quick ? " --quick" : "", date);
    printf ("- Machine: %ld CPUs (nproc), %s, Linux %s %s\n",
            sysconf (_SC_NPROCESSORS_ONLN), cpu, u.release, u.machine);
    printf ("- Load average (1/5/15 min) at start: %s, at end: %s%s\n",
            res->load_start, res->load_end,
            atof (res->load_start) > 0.5
                ? " (the machine was busy before the run: expect noise)"
                : "");
    printf ("- Libraries: libzmq %d.%d.%d, CZMQ %d.%d.%d, %s\n", major, minor,
            patch, CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR, CZMQ_VERSION_PATCH,
            bench_lmdb_version ());
    if (opts->bus) {
        printf ("- Bus: %llu messages per throughput run, median of %u "
                "runs interleaved with the baseline; window %u messages, "
                "receiver returns a credit every %u (credits cross the same "
                "forwarder); %u round trips per latency run, alternating "
                "with the baseline in 10 blocks. \"bus actor alone\": "
                "shoal_bus_actor between raw DEALERs (pre-encoded frames, "
                "no port encode/parse). Thread-peer rows are repeated with "
                "every thread on one CPU because with 3 threads on 2 CPUs "
                "the OS-scheduled numbers vary 2-4x from run to run; the "
                "one-CPU rows are stable (rate = 1 / CPU cost per "
                "message)\n",
                (unsigned long long) opts->messages, opts->repeats, res->window,
                res->credit_every, opts->roundtrips);
    }
    if (opts->durable) {
        printf ("- Durable: 16 client DEALERs x 64 SUBMITs in flight over "
                "ipc:// to an in-process host (bus, store, scheduler, "
                "monitor, control; no executors); median of %u runs, each "
                "on a fresh host and data folder (/tmp, %s); raw LMDB "
                "commits the same number of records of the store's record "
                "size at the median run's jobs per commit\n",
                opts->repeats, s_fs_name ("/tmp"));
    }
    printf ("\n| Measurement | Shoal | Raw baseline | Shoal/raw | Target | "
            "Met |\n|---|---|---|---|---|---|\n");
    for (int row = 0; row < BENCH_ROWS; row++) {
        for (int s = 0; s < BENCH_SIZES; s++) {
            if (res->tput[row][s].done) {
                char what[128];
                snprintf (what, sizeof what, "Bus throughput, %s, %zu B",
                          row_name[row], bench_sizes[s]);
                s_print_tput_row (what, &res->tput[row][s]);
            }
        }
    }
    for (int row = 0; row < BENCH_ROWS; row++) {
        for (int s = 0; s < BENCH_SIZES; s++) {
            if (res->lat[row][s].done) {
                char what[128];
                snprintf (what, sizeof what,
                          "Round trip p50/p99/p99.9, %s, %zu B", row_name[row],
                          bench_sizes[s]);
                s_print_lat_row (what, &res->lat[row][s]);
            }
        }
    }
    for (int k = 0; k < 2 * BENCH_SIZES; k++) {
        int s = k % BENCH_SIZES;
        const bench_tput_t *t = &res->frames[k / BENCH_SIZES][s];
        if (t->done) {
            printf ("| Wire format, raw forwarder, %zu B%s: two frames "
                    "[header][body] vs one frame (chosen) | %s msgs/s "
                    "(two) | %s msgs/s (one) | %.2fx | - | - |\n",
                    bench_sizes[s], k < BENCH_SIZES ? "" : ", one CPU",
                    bench_fmt_count (t->shoal, a, sizeof a),
                    bench_fmt_count (t->raw, b, sizeof b),
                    t->raw > 0 ? t->shoal / t->raw : 0);
        }
    }
    for (int m = 0; m < BENCH_SYNCS; m++) {
        const bench_dur_t *d = &res->dur[m];
        if (!d->done) {
            continue;
        }
        char target[64] = "-", met[16] = "-";
        if (m == BENCH_SYNC_FULL) {
            snprintf (target, sizeof target, ">= %s/s",
                      bench_fmt_count (TARGET_DURABLE, a, sizeof a));
            snprintf (met, sizeof met, "%s",
                      s_met (d->complete && d->rate >= TARGET_DURABLE));
        }
        printf ("| Durable acked submits, sync=%s (raw: LMDB, %u-byte "
                "records, %.0f per txn) | %s/s%s | %s records/s | %.2fx | "
                "%s | %s |\n",
                bench_sync_names[m], d->value_len, d->batch,
                bench_fmt_count (d->rate, a, sizeof a),
                d->complete ? "" : " (time cap hit)",
                bench_fmt_count (d->lmdb_rate, b, sizeof b),
                d->lmdb_rate > 0 ? d->rate / d->lmdb_rate : 0, target, met);
    }
    if (res->e2e.done) {
        printf ("| End to end, sync=full, 4 thread executors, noop jobs "
                "(%llu jobs) | %s submits/s acked, %s jobs/s done%s | - | - "
                "| - | - |\n",
                (unsigned long long) res->e2e.jobs,
                bench_fmt_count (res->e2e.submit_rate, a, sizeof a),
                bench_fmt_count (res->e2e.done_rate, b, sizeof b),
                res->e2e.complete ? "" : " (time cap hit)");
    }
    const bench_lat_sum_t *l = &res->latency;
    if (l->done_flag) {
        static const char *const what[] = {"submit-to-ack", "enqueue-to-start",
                                           "submit-to-start", "submit-to-done"};
        const bench_pct_t *p[] = {&l->ack, &l->start, &l->sub_start, &l->done};
        for (int i = 0; i < 4; i++) {
            bool last = i == 3;
            char target[32] = "-", met[16] = "-";
            if (last) {
                snprintf (target, sizeof target, "p99 < %.0f ms",
                          TARGET_DONE_P99 / 1000);
                snprintf (
                    met, sizeof met, "%s",
                    s_met (l->missing == 0 && p[i]->p99 < TARGET_DONE_P99));
            }
            printf ("| Latency at %u jobs/s offered, sync=full, 4 executors, "
                    "%s p50/p99/p99.9/max (%u jobs x %u runs, median) | %.0f "
                    "/ %.0f / %.0f / %.0f us%s | - | - | %s | %s |\n",
                    l->rate, what[i], l->jobs, l->nruns, p[i]->p50, p[i]->p99,
                    p[i]->p999, p[i]->max,
                    l->missing ? " (jobs missing events)" : "", target, met);
        }
    }
    const bench_scale_t *sc = &res->scale;
    if (sc->done) {
        double anon = ((double) sc->full.anon - (double) sc->idle.anon) *
                      1024.0 / (double) sc->queued;
        double rss = ((double) sc->full.rss - (double) sc->idle.rss) * 1024.0 /
                     (double) sc->queued;
        printf ("| RAM per queued job, shoald with %s noop jobs queued "
                "(RssAnon growth / jobs; VmRSS growth / jobs) | %.0f B "
                "(%.0f B) | - | - | < %.0f B | %s |\n",
                bench_fmt_count ((double) sc->queued, a, sizeof a), anon, rss,
                TARGET_JOB_BYTES, s_met (anon < TARGET_JOB_BYTES));
        printf ("| shoald memory: started / %s queued / + %s leased | VmRSS "
                "%.1f / %.1f / %.1f MiB (RssAnon %.1f / %.1f / %.1f MiB) | - "
                "| - | - | - |\n",
                bench_fmt_count ((double) sc->queued, a, sizeof a),
                bench_fmt_count ((double) sc->leased, b, sizeof b),
                (double) sc->idle.rss / 1024, (double) sc->full.rss / 1024,
                (double) sc->with_leases.rss / 1024,
                (double) sc->idle.anon / 1024, (double) sc->full.anon / 1024,
                (double) sc->with_leases.anon / 1024);
        printf ("| Restart to serving after kill -9, %s queued + %s leased, "
                "thread executors: exec -> first STATS answer (median of "
                "%u) | %.0f ms | - | - | < %.0f ms | %s |\n",
                bench_fmt_count ((double) sc->queued, a, sizeof a),
                bench_fmt_count ((double) sc->leased, b, sizeof b),
                sc->restarts, sc->med.serve_ms, TARGET_RESTART_MS,
                s_met (sc->med.serve_ms < TARGET_RESTART_MS));
        printf ("| Restart, thread executors: exec -> first lease / first "
                "job done (median) | %.0f / %.0f ms | - | - | - | - |\n",
                sc->med.lease_ms, sc->med.done_ms);
        printf ("| Restart, same, process executors (one run): exec -> "
                "first STATS answer / first lease / first job done | %.0f / "
                "%.0f / %.0f ms | - | - | < %.0f ms | %s |\n",
                sc->proc.serve_ms, sc->proc.lease_ms, sc->proc.done_ms,
                TARGET_RESTART_MS,
                s_met (sc->proc.serve_ms < TARGET_RESTART_MS));
        printf ("| Leases requeued by recovery (log line = leased, every "
                "restart) | %s | - | - | - | - |\n",
                sc->verified ? "yes" : "**NO**");
    }
    const bench_expr_t *e = &res->expr;
    if (e->done) {
        printf ("| Condition evaluation per edge, `%s` (%u B of code; "
                "output %u B, 10 keys; input %u B; check included; raw: the "
                "same test by hand with shoal_map_*) | %.0f ns | %.0f ns | "
                "%.2fx | < %.0f ns | %s |\n",
                e->text, e->code_len, e->out_len, e->in_len, e->eval_ns,
                e->hand_ns, e->hand_ns > 0 ? e->eval_ns / e->hand_ns : 0,
                TARGET_EXPR_NS, s_met (e->eval_ns < TARGET_EXPR_NS));
        printf ("| Condition compile, same text (once per definition) | "
                "%.0f ns | - | - | - | - |\n",
                e->compile_ns);
    }
    const bench_wf_t *w = &res->wf;
    if (w->done) {
        char c[32], d[32], t[32];
        printf ("| Workflow node steps/s end to end, sync=full, real shoald, "
                "4 thread executors: %u-node fan-out/fan-in DAG of noop, %u "
                "runs per trial, first run request to all committed (median "
                "of %u; min-max) | %s (%s-%s) steps/s, %.0f runs/s | %s "
                "msgs/s (raw libzmq forwarding, 64 B) | %.3fx | >= %s "
                "steps/s | %s |\n",
                w->nodes, w->runs, w->trials,
                bench_fmt_count (w->steps.med, a, sizeof a),
                bench_fmt_count (w->steps.min, b, sizeof b),
                bench_fmt_count (w->steps.max, c, sizeof c), w->runs_s.med,
                bench_fmt_count (w->raw, d, sizeof d),
                w->raw > 0 ? w->steps.med / w->raw : 0,
                bench_fmt_count (TARGET_WF_STEPS, t, sizeof t),
                s_met (w->steps.med >= TARGET_WF_STEPS));
        printf ("| Same DAG, a condition on each of its %u edges (median; "
                "min-max) | %s (%s-%s) steps/s; %+.2f us per edge | - | - | "
                "- | - |\n",
                w->edges, bench_fmt_count (w->steps_cond.med, a, sizeof a),
                bench_fmt_count (w->steps_cond.min, b, sizeof b),
                bench_fmt_count (w->steps_cond.max, c, sizeof c), w->edge_us);
    }
    if (res->cluster.done) {
        char c[32], d[32], r[32], q[32];
        printf ("| Jobs/s, 2 executors on 2 member hosts over tcp vs both in "
                "one shoald (sync=full, noop; median of %u) | %s vs %s "
                "jobs/s | - | %.2fx local | - | - |\n",
                res->cluster.trials,
                bench_fmt_count (res->cluster.remote, a, sizeof a),
                bench_fmt_count (res->cluster.local, b, sizeof b),
                res->cluster.remote / res->cluster.local);
        printf ("| Same over CURVE | %s jobs/s | raw libzmq tcp 64 B: %s "
                "plain, %s CURVE msgs/s | %.2fx plain tcp (raw: %.2fx) | - | "
                "- |\n",
                bench_fmt_count (res->cluster.curve, c, sizeof c),
                bench_fmt_count (res->cluster.raw, d, sizeof d),
                bench_fmt_count (res->cluster.raw_curve, r, sizeof r),
                res->cluster.curve / res->cluster.remote,
                res->cluster.raw_curve / res->cluster.raw);
        snprintf (q, sizeof q, "%.0f ms", res->cluster.fo.p99 / 1000);
        printf ("| Failover: last heartbeat -> lease requeued, kill -9 of a "
                "worker, defaults (%u trials) | p50 %.0f ms, p99 %s | - | - | "
                "< 3000 ms | %s |\n",
                res->cluster.fo_trials, res->cluster.fo.p50 / 1000, q,
                s_met (res->cluster.fo.p99 < 3000000));
    }
    if (w->rec_done) {
        printf ("| Workflow recovery after kill -9 with %u runs in flight "
                "(%llu entry nodes leased): exec -> first STATS / every run "
                "progressing / every run finished (median of %u) | %.0f / "
                "%.0f / %.0f ms | - | - | - | - |\n",
                w->rec_runs, (unsigned long long) w->rec_leased, w->rec_trials,
                w->rec_serve.med, w->rec_all.med, w->rec_done_ms.med);
        printf ("| Workflow recovery verified (requeued = leased, every run "
                "progressed and succeeded) | %s | - | - | - | - |\n",
                w->rec_verified ? "yes" : "**NO**");
    }
    printf ("\n");
    fflush (stdout);
}
