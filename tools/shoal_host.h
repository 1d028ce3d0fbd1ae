/*  shoal_host.h - assembling a host: what shoald and shoal-worker run.

    An owner (no cluster/join) takes its data folder's lock and runs the
    monitor, store, scheduler, router, registry, executors and control
    endpoint under a supervisor. A member (cluster/join) runs only the
    registry and its executors: they serve the owner's queues, and the
    bus sends what it cannot deliver locally to the owner.
*/
#ifndef SHOAL_HOST_H_INCLUDED
#define SHOAL_HOST_H_INCLUDED

#include "shoal_config.h"

#include <stdbool.h>

#define SHOAL_HOST_EXIT_STARTUP  3
#define SHOAL_HOST_EXIT_ESCALATE 4

/*  Blocks SIGINT, SIGTERM and SIGCHLD in this thread and every thread
    it starts (call it first in main), ignores SIGPIPE, turns CZMQ's
    handler off, and returns a signalfd that reads them: main drives an
    ordered stop. -1 (with errno) on failure. */
int shoal_host_signals (void);

/*  Runs the host until a signal on sigfd (SIGINT, SIGTERM) or a
    SHUTDOWN request stops it. kind: what a member announces to its owner,
    "host" or "worker". Returns the process exit status: 0 after an
    orderly stop, SHOAL_HOST_EXIT_STARTUP if it could not start,
    SHOAL_HOST_EXIT_ESCALATE if the supervisor gave up. */
int shoal_host_run (shoal_config_t *cfg, int sigfd, bool verbose,
                    const char *kind);

#endif
