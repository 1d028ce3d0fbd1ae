/*  bench_host.h - an in-process Shoal host for shoal_bench sections.

    Assembled the way shoald does it (bench_durable.c): the bus, then
    store, scheduler, monitor, executors, and last the control actor on
    a fresh ipc:// endpoint, with a fresh data folder under /tmp. The
    monitor's XPUB is on ipc:// too (monitor).
*/
#ifndef BENCH_HOST_H_INCLUDED
#define BENCH_HOST_H_INCLUDED

#include "shoal_config.h"
#include "shoal_port.h"

#include <czmq.h>
#include <stdint.h>

#define BENCH_HOST_EXECUTORS_MAX 16

typedef struct {
    char dir[64];
    char control[128];
    char monitor[128];
    shoal_config_t *cfg;
    zactor_t *bus;
    zactor_t *actors[5 + BENCH_HOST_EXECUTORS_MAX]; /* store, scheduler,
                                                       router, monitor,
                                                       executors, control */
    int nactors;
    shoal_port_t *stats; /* a client port for STATS */
} bench_host_t;

typedef struct {
    uint64_t enqueued;
    uint64_t succeeded;
    uint64_t commits;
} bench_stats_t;

/*  Starts a host with sync mode sync and executors thread executors;
    tag makes the inproc bus name unique. Returns 0, or -1 (printed; the
    host is stopped and its folder removed). */
int bench_host_start (bench_host_t *h, const char *sync, int executors, int tag,
                      const bench_opts_t *opts);

/*  Stops the actors in reverse order and removes the data folder. */
void bench_host_stop (bench_host_t *h);

/*  STATS through control. Returns 0, or -1 (printed). */
int bench_host_stats (bench_host_t *h, bench_stats_t *st);

#endif
