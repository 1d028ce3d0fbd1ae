/*  shoal_bench - Shoal against raw libzmq and raw LMDB, in one run.

    usage: shoal_bench [--quick] [--only bus|durable|latency|scale|expr|wf|cluster]
                       [--messages N] [--scale-jobs N] [--shoald PATH]
                       [--set KEY=VALUE]...

    Sections: bus forwarding (throughput, round trip; peer as a thread
    and as a process; one-frame vs two-frame wire format), durable
    acknowledged submits per sync mode with a raw LMDB baseline, latency
    per job at a fixed offered rate, and scale (a real shoald with a
    million queued jobs: RAM per job, restart-to-serving),
    conditions (ns per edge condition evaluated) and workflows (a real
    shoald: node steps/s of a 10-node DAG, recovery with runs in
    flight). Ends
    with a markdown summary with the targets. Not part of ctest: the
    numbers depend on the machine, so nothing here passes or fails a
    build; the exit code is non-zero only when a measurement could not
    be made (a lost reply, a refused submit).

    Hidden: `--child-peer FMT ENDPOINT` is the process peer of the bus
    section (this binary re-executed).
*/
#include "bench_util.h"

#include "shoal_log.h"

#include <czmq.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: shoal_bench [--quick]"
             " [--only bus|durable|latency|scale|expr|wf|cluster]"
             " [--messages N] [--scale-jobs N] [--shoald PATH]"
             " [--set KEY=VALUE]...\n"
             "  --quick         smaller counts, one run per cell\n"
             "  --only WHAT     run only one section\n"
             "  --messages N    messages per bus throughput run "
             "(default 200000)\n"
             "  --scale-jobs N  queued jobs of the scale section "
             "(default 1000000; --quick 100000)\n"
             "  --shoald PATH   the shoald the scale and wf sections start "
             "(default ../tools/shoald next to this binary)\n"
             "  --set K=V       a config override for the in-process hosts "
             "(durable,\n"
             "                  latency), e.g. executors/prefetch=256\n");
}

int
main (int argc, char **argv)
{
    if (argc >= 2 && streq (argv[1], "--child-peer")) {
        return bench_peer_main (argc, argv);
    }
    bench_opts_t opts = {
        .bus = true,
        .durable = true,
        .latency = true,
        .scale = true,
        .expr = true,
        .wf = true,
        .cluster = true,
        .wf_runs = 20000,
        .wf_inflight = 10000,
        .lat_jobs = 5000,
        .lat_rate = 500,
        .scale_jobs = 1000000,
        .scale_leased = 10000,
        .messages = 200000,
        .roundtrips = 20000,
        .repeats = 3,
        .jobs = {200000, 200000, 200000},
        .e2e_jobs = 50000,
    };
    bool messages_set = false, scale_set = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--quick")) {
            opts.quick = true;
        } else if (streq (argv[i], "--only") && i + 1 < argc) {
            const char *what = argv[++i];
            opts.bus = streq (what, "bus");
            opts.durable = streq (what, "durable");
            opts.latency = streq (what, "latency");
            opts.scale = streq (what, "scale");
            opts.expr = streq (what, "expr");
            opts.wf = streq (what, "wf");
            opts.cluster = streq (what, "cluster");
            if (!opts.bus && !opts.durable && !opts.latency && !opts.scale &&
                !opts.expr && !opts.wf && !opts.cluster) {
                s_usage (stderr);
                return 2;
            }
        } else if (streq (argv[i], "--messages") && i + 1 < argc) {
            char *end;
            long long n = strtoll (argv[++i], &end, 10);
            if (*end || n < 1000 || n > 100000000) {
                fprintf (stderr, "shoal_bench: --messages wants 1000 .. "
                                 "100000000\n");
                return 2;
            }
            opts.messages = (uint64_t) n;
            messages_set = true;
        } else if (streq (argv[i], "--set") && i + 1 < argc) {
            const char *kv = argv[++i];
            if (!strchr (kv, '=') || strchr (kv, '=') == kv ||
                opts.nset == (int) (sizeof opts.set / sizeof opts.set[0])) {
                fprintf (stderr, "shoal_bench: --set wants key=value (at "
                                 "most 16)\n");
                return 2;
            }
            opts.set[opts.nset++] = kv;
        } else if (streq (argv[i], "--scale-jobs") && i + 1 < argc) {
            char *end;
            long long n = strtoll (argv[++i], &end, 10);
            if (*end || n < 1000 || n > 100000000) {
                fprintf (stderr, "shoal_bench: --scale-jobs wants 1000 .. "
                                 "100000000\n");
                return 2;
            }
            opts.scale_jobs = (uint64_t) n;
            scale_set = true;
        } else if (streq (argv[i], "--shoald") && i + 1 < argc) {
            opts.shoald = argv[++i];
        } else if (streq (argv[i], "--help") || streq (argv[i], "-h")) {
            s_usage (stdout);
            return 0;
        } else {
            s_usage (stderr);
            return 2;
        }
    }
    if (opts.quick) {
        if (!messages_set) {
            opts.messages = 50000;
        }
        opts.roundtrips = 5000;
        opts.repeats = 1;
        for (int m = 0; m < BENCH_SYNCS; m++) {
            opts.jobs[m] = 50000;
        }
        opts.e2e_jobs = 10000;
        opts.lat_jobs = 1000;
        if (!scale_set) {
            opts.scale_jobs = 100000;
        }
        opts.scale_leased = 1000;
        opts.wf_runs = 5000;
        opts.wf_inflight = 2000;
    }
    static char exe[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    opts.exe = exe;
    static char shoald[PATH_MAX + 32];
    if (!opts.shoald) {
        /* the build tree: bench/shoal_bench and tools/shoald */
        snprintf (shoald, sizeof shoald, "%s", exe);
        char *slash = strrchr (shoald, '/');
        if (slash) {
            slash[0] = '\0';
            strcat (shoald, "/../tools/shoald");
        }
        opts.shoald = shoald;
    }

    /* No CZMQ signal handler: Ctrl-C kills the run, which is fine for a
       benchmark (temp folders are under /tmp/shoal-bench-*). */
    zsys_handler_set (NULL);
    signal (SIGPIPE, SIG_IGN);
    shoal_log_setup ("shoal_bench", false);

    bench_results_t res;
    memset (&res, 0, sizeof res);
    bench_loadavg (res.load_start, sizeof res.load_start);
    uint64_t t0 = bench_now_ns ();
    int rc = 0;
    if (opts.bus) {
        rc = bench_bus_run (&opts, &res);
    }
    if (rc == 0 && opts.durable) {
        rc = bench_durable_run (&opts, &res);
    }
    if (rc == 0 && opts.latency) {
        rc = bench_latency_run (&opts, &res);
    }
    if (rc == 0 && opts.scale) {
        rc = bench_scale_run (&opts, &res);
    }
    if (rc == 0 && opts.expr) {
        rc = bench_expr_run (&opts, &res);
    }
    if (rc == 0 && opts.wf) {
        rc = bench_wf_run (&opts, &res);
    }
    if (rc == 0 && opts.cluster) {
        rc = bench_cluster_run (&opts, &res);
    }
    bench_loadavg (res.load_end, sizeof res.load_end);
    bench_print_summary (&opts, &res);
    printf ("total time %.1f s%s\n", (double) (bench_now_ns () - t0) / 1e9,
            rc ? "; FAILED: see the messages above" : "");
    zsys_shutdown ();
    return rc ? 1 : 0;
}
