/*  bench_daemon.h - a real shoald for shoal_bench sections (scale,
    workflows): start it, talk to it over its control socket, stop its
    executor processes, kill -9 it and start it again.

    The daemon runs on a fresh data folder under /tmp with its control
    and monitor sockets as ipc:// files in that folder, sync=full,
    supervisor/liveness=600000 (stopped executors are not restarted),
    store/lease=3600000 and store/map_size 4 GiB (no map growth while
    measuring). The bench talks to it only through the public control
    protocol. Every wait has a time cap; shoald and its executors are
    killed by pid, never by name.
*/
#ifndef BENCH_DAEMON_H_INCLUDED
#define BENCH_DAEMON_H_INCLUDED

#include "shoal_mp.h"
#include "shoal_port.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_DAEMON_REPLY_MS 10000 /* one request's answer */
#define BENCH_DAEMON_START_S  120   /* a (re)started shoald answering */

typedef struct {
    char dir[64];
    char log[128];
    char control[128];
    char monitor[128];
    char sock[128]; /* control socket file */
    const char *exe;
    int executors;
    uint32_t prefetch;
    bool process;          /* executors as processes (else threads) */
    const char *extra[16]; /* more shoald arguments, NULL-terminated */
    pid_t pid;
    shoal_port_t *port;
} bench_daemon_t;

/*  Job counts from a STATS answer (total: every state). */
typedef struct {
    uint64_t enqueued, leased, succeeded, dead, cancelled, total;
} bench_counts_t;

/*  Writes a request body; arg and i (the request's number, for
    bench_daemon_pipeline) are the caller's. */
typedef void (bench_body_fn) (shoal_wr_t *w, const void *arg, uint64_t i);

/*  Takes an OK reply of bench_daemon_pipeline. Returns 0, or -1 to stop
    (the caller printed why). */
typedef int (bench_reply_fn) (const shoal_in_t *in, void *arg);

/*  Fills d for shoald exe with executors executors of prefetch each and
    creates its data folder. Returns 0, or -1 (printed). */
int bench_daemon_init (bench_daemon_t *d, const char *exe, int executors,
                       uint32_t prefetch);

/*  Kills shoald, removes its folder; on failed, first prints the end of
    its log to stderr. */
void bench_daemon_fini (bench_daemon_t *d, bool failed);

/*  kill -9 shoald and (by pid) its executor processes; reaps shoald;
    closes the port. Safe when not running. */
void bench_daemon_kill (bench_daemon_t *d);

/*  Removes the socket files a killed shoald left, then fork + exec
    shoald with d->process executors (output appended to d->log). Does
    not wait. Returns 0, or -1 (printed). */
int bench_daemon_spawn (bench_daemon_t *d);

/*  (Re)starts shoald untimed with process executors if process, and
    waits until it answers STATS (c). Returns 0, or -1 (printed). */
int bench_daemon_start (bench_daemon_t *d, bool process, bench_counts_t *c);

/*  Sends a request of type to control with body(w, arg, 0) and waits (at
    most ms) for the reply that answers it. Returns 0 with *in open (the
    caller closes it), or -1. */
int bench_daemon_call (bench_daemon_t *d, uint32_t type, bench_body_fn *body,
                       const void *arg, int ms, shoal_in_t *in);

/*  STATS: the job counts. Returns 0, or -1 (printed). */
int bench_daemon_stats (bench_daemon_t *d, bench_counts_t *c);

/*  Reads the job counts of a STATS answer. Returns 0, or -1. */
int bench_counts_read (const shoal_in_t *in, bench_counts_t *c);

/*  n requests of type, body(w, arg, i) for i = 0..n-1, at most window
    unanswered; each OK reply goes to on_reply (may be NULL). Any other
    reply, a silence of BENCH_DAEMON_REPLY_MS or cap_s seconds in all
    fails. *secs: first send to last reply. Returns 0, or -1 (printed). */
int bench_daemon_pipeline (bench_daemon_t *d, uint32_t type, uint64_t n,
                           uint32_t window, bench_body_fn *body,
                           const void *arg, bench_reply_fn *on_reply,
                           void *reply_arg, int cap_s, double *secs);

/*  Waits half a second (the executors' boot credits reach the
    scheduler), then SIGSTOPs shoald's d->executors executor processes.
    Returns 0, or -1 when shoald has another number of children. */
int bench_daemon_stop_executors (bench_daemon_t *d);

/*  The N of the last "recovery requeued N" in the log after byte
    offset, or -1. */
long long bench_daemon_log_requeued (const bench_daemon_t *d, long offset);

/*  The log's size in bytes (0 when absent). */
long bench_daemon_log_size (const bench_daemon_t *d);

/*  Wall-clock microseconds (event ts and record times are wall clock). */
uint64_t bench_real_us (void);

#endif
