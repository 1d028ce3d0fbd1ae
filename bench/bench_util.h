/*  bench_util.h - shared pieces of shoal_bench: options, timing,
    percentiles, the results record and its printing.

    The benchmark is one executable that measures Shoal and its raw
    baselines in the same run (ARCHITECTURE.md section 8): every number
    it prints has its baseline next to it. Results are collected in one
    bench_results_t that main prints at the end as a markdown summary.
*/
#ifndef BENCH_UTIL_H_INCLUDED
#define BENCH_UTIL_H_INCLUDED

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Message sizes of the bus section (payload bytes). */
#define BENCH_SIZES 2
extern const size_t bench_sizes[BENCH_SIZES];

/*  Transports of the far side of the bus section. */
typedef enum {
    BENCH_THREAD = 0, /* peer B is a thread, inproc:// */
    BENCH_PROCESS = 1 /* peer B is a child process, ipc:// */
} bench_far_t;

typedef enum { BENCH_SYNC_FULL, BENCH_SYNC_META, BENCH_SYNC_NONE } bench_sync_t;
#define BENCH_SYNCS 3
extern const char *const bench_sync_names[BENCH_SYNCS];

typedef struct {
    bool quick;
    bool bus;
    bool durable;
    bool latency;
    bool scale;
    bool expr;
    bool wf;
    bool cluster;
    uint64_t messages;   /* per throughput run */
    uint32_t roundtrips; /* per latency run */
    uint32_t repeats;    /* throughput runs per cell (median taken) */
    uint64_t jobs[BENCH_SYNCS];
    uint64_t e2e_jobs;     /* end-to-end run with executors (0 = skip) */
    const char *exe;       /* this binary, for process peers */
    uint32_t lat_jobs;     /* latency: jobs per run */
    uint32_t lat_rate;     /* latency: offered jobs/s */
    uint64_t scale_jobs;   /* scale: queued jobs */
    uint32_t scale_leased; /* scale: leased jobs at the kill */
    const char *shoald;    /* scale: the shoald binary */
    uint32_t wf_runs;      /* workflows: runs per throughput trial */
    uint32_t wf_inflight;  /* workflows: runs kept in flight at the kill */
    const char *set[16];   /* --set key=value for in-process hosts */
    int nset;
} bench_opts_t;

/*  Latency percentiles in microseconds. */
typedef struct {
    double p50, p99, p999, max;
} bench_pct_t;

typedef struct {
    bool done;
    double raw, shoal; /* msgs/s */
    double bus_only;   /* bus actor between raw endpoints, msgs/s */
} bench_tput_t;

/*  Rows of bus throughput results. */
typedef enum {
    BENCH_ROW_THREAD,  /* B a thread, OS scheduling */
    BENCH_ROW_ONECORE, /* B a thread, every thread on one CPU */
    BENCH_ROW_PROCESS, /* B a process, OS scheduling */
    BENCH_ROWS
} bench_row_t;

typedef struct {
    bool done;
    bench_pct_t raw, shoal;
} bench_lat_t;

typedef struct {
    bool done;
    bool complete;      /* every job acknowledged before the time cap */
    uint64_t jobs;      /* acknowledged submits */
    double secs;        /* first send to last reply */
    double rate;        /* acknowledged submits/s */
    uint64_t commits;   /* store commits during the run */
    double batch;       /* average jobs per commit */
    uint32_t value_len; /* bytes of one stored job record */
    double lmdb_rate;   /* raw LMDB records/s, same batch and sync */
    double lmdb_secs;
} bench_dur_t;

typedef struct {
    bool done;
    uint64_t jobs;
    double submit_rate; /* acknowledged submits/s while executing */
    double done_rate;   /* jobs succeeded/s, first submit to last success */
    bool complete;
} bench_e2e_t;

/*  One latency run: percentiles of each measured interval. */
typedef struct {
    double secs;       /* first due time to last send */
    double lag_max_us; /* latest send after its due time */
    uint64_t counted;  /* jobs in the distributions (warm-up left out) */
    uint64_t missing;  /* counted jobs missing an ack or an event */
    uint64_t errors;   /* error replies */
    bench_pct_t ack, start, sub_start, done;
} bench_latrun_t;

#define BENCH_LAT_RUNS_MAX 8

typedef struct {
    bool done_flag;
    uint32_t jobs, rate, nruns;
    uint64_t missing, errors;
    bench_latrun_t runs[BENCH_LAT_RUNS_MAX];
    bench_pct_t ack, start, sub_start, done; /* medians over runs */
} bench_lat_sum_t;

/*  One kill -9 and restart: ms from just before the exec. */
typedef struct {
    double serve_ms;   /* first STATS answer */
    double lease_ms;   /* first lease written (event ts, or STATS poll) */
    double done_ms;    /* first job finished (event ts, or STATS poll) */
    uint64_t requeued; /* "recovery requeued N" in shoald's log */
} bench_restart_t;

/*  /proc/PID/status memory fields, kB. */
typedef struct {
    uint64_t rss, anon, file;
} bench_mem_t;

typedef struct {
    bool done;
    uint64_t queued;         /* noop jobs submitted (and counted) */
    uint64_t leased;         /* leased jobs at the kill (STATS) */
    double submit_rate;      /* acked submits/s into shoald */
    bench_mem_t idle;        /* after start, before any submit */
    bench_mem_t full;        /* with every job queued */
    bench_mem_t with_leases; /* with the leases taken */
    bench_restart_t thread[BENCH_LAT_RUNS_MAX]; /* thread executors */
    uint32_t restarts;
    bench_restart_t med;  /* medians of thread[] */
    bench_restart_t proc; /* one restart with process executors */
    bool verified;        /* every restart requeued exactly the leased jobs */
} bench_scale_t;

/*  One edge condition, compiled once and evaluated per edge. */
typedef struct {
    bool done;
    const char *text;  /* the condition */
    double eval_ns;    /* shoal_expr_eval, check included (median) */
    double hand_ns;    /* the same test in C with shoal_map_* (median) */
    double compile_ns; /* shoal_expr_compile (median) */
    uint32_t code_len, out_len, in_len;
} bench_expr_t;

/*  Workflows (bench_wf.c): min / median / max over trials. */
typedef struct {
    double min, med, max;
} bench_spread_t;

typedef struct {
    bool done;
    uint32_t nodes, edges; /* of the DAG */
    uint32_t runs;         /* per throughput trial */
    uint32_t trials;
    bench_spread_t steps;      /* node steps/s, conditions on no edge */
    bench_spread_t runs_s;     /* runs/s, same */
    bench_spread_t steps_cond; /* node steps/s, a condition on every edge */
    double raw;                /* raw libzmq forwarding, 64 B, msgs/s */
    double edge_us;            /* medians: (1/steps_cond - 1/steps) per edge */
    bool rec_done;
    uint32_t rec_runs;   /* runs in flight at the kill */
    uint64_t rec_leased; /* their nodes leased at the kill (fewest) */
    uint32_t rec_trials;
    bench_spread_t rec_serve;   /* ms, exec -> first STATS answer */
    bench_spread_t rec_all;     /* ms, exec -> every run progressed again */
    bench_spread_t rec_done_ms; /* ms, exec -> every run finished */
    bool rec_verified; /* recovery requeued = leased, all runs succeeded */
} bench_wf_t;

typedef struct {
    bench_tput_t tput[BENCH_ROWS][BENCH_SIZES];
    bench_lat_t lat[BENCH_ROWS][BENCH_SIZES];
    /* raw forwarder with Shoal frames: .raw = one frame, .shoal = two;
       [0] OS scheduling, [1] all threads on one CPU */
    bench_tput_t frames[2][BENCH_SIZES];
    bench_dur_t dur[BENCH_SYNCS];
    bench_e2e_t e2e;
    bench_lat_sum_t latency;
    bench_scale_t scale;
    bench_expr_t expr;
    bench_wf_t wf;
    struct {
        bool done;
        double local, remote, curve; /* jobs/s medians */
        double raw, raw_curve;       /* raw libzmq tcp msgs/s */
        uint32_t trials, fo_trials;
        bench_pct_t fo; /* failover, us */
    } cluster;
    uint32_t window, credit_every;
    char load_start[64], load_end[64]; /* /proc/loadavg */
} bench_results_t;

/*  Monotonic nanoseconds. */
uint64_t bench_now_ns (void);

/*  Sorts samples (nanoseconds) in place and fills out (microseconds),
    nearest-rank percentiles. n > 0. */
void bench_percentiles (uint64_t *samples, size_t n, bench_pct_t *out);

/*  Sets the CPU affinity of every thread of this process to mask
    (threads created later inherit their creator's). */
void bench_pin_all (const cpu_set_t *mask);

/*  Median of n values (sorted in place). */
double bench_median (double *v, size_t n);

/*  Creates a fresh folder /tmp/shoal-bench-XXXXXX; path gets it.
    Returns 0, or -1 (message printed). */
int bench_tmpdir (char *path, size_t cap);

/*  Removes the files of a flat folder, then the folder. */
void bench_rmdir (const char *path);

/*  The first three fields of /proc/loadavg ("0.12 0.30 0.41"). */
void bench_loadavg (char *out, size_t cap);

/*  "1,234,567" */
const char *bench_fmt_count (double v, char *buf, size_t cap);

/*  min, median and max of n values (sorted in place). */
bench_spread_t bench_spread (double *v, size_t n);

/*  Prints a section title. */
void bench_section (const char *title);

/*  Prints the summary (markdown) and machine facts. lmdb_version is
    filled in by the LMDB baseline file. */
void bench_print_summary (const bench_opts_t *opts, const bench_results_t *res);

/*  The sections (bench_bus.c, bench_durable.c, bench_latency.c,
    bench_scale.c, bench_expr.c, bench_wf.c) and the process peer of
    the bus section (bench_link.c). */
int bench_bus_run (const bench_opts_t *opts, bench_results_t *res);
int bench_peer_main (int argc, char **argv);
int bench_durable_run (const bench_opts_t *opts, bench_results_t *res);
int bench_latency_run (const bench_opts_t *opts, bench_results_t *res);
int bench_scale_run (const bench_opts_t *opts, bench_results_t *res);
int bench_expr_run (const bench_opts_t *opts, bench_results_t *res);
int bench_wf_run (const bench_opts_t *opts, bench_results_t *res);
int bench_cluster_run (const bench_opts_t *opts, bench_results_t *res);

/*  The raw libzmq baseline of the bus section alone (prefix format,
    forwarder and receiver threads, inproc): messages/s of size bytes,
    median of opts->repeats runs of opts->messages. Negative on failure
    (printed). For sections that quote a ratio to raw libzmq when the bus
    section did not run. */
double bench_bus_raw_rate (const bench_opts_t *opts, size_t size);

/*  Raw LMDB baseline: commits records (16-byte time-ordered keys, values
    of value_len bytes, plus a 17-byte ready-index key -> 16-byte id in a
    second database and two counter puts per transaction) in
    transactions of batch records each, under sync. Returns records/s,
    or a negative number on failure (printed). */
double bench_lmdb_commit (const char *dir, bench_sync_t sync, uint64_t records,
                          uint32_t batch, uint32_t value_len, double *secs);
const char *bench_lmdb_version (void);

#endif
