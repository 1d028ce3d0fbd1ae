/*  shoal_supervisor.h - starts a host's actors and keeps them running.

    Strategy one_for_one: a child that dies is restarted alone, in place.
    Restart intensity as in OTP: more than max_restarts restarts within
    period_ms and the supervisor gives up (escalates): shoal_supervisor_run
    returns SHOAL_ERR_STATE and shoald exits non-zero, so the service
    manager above it decides.

    Thread children die by returning from their actor function (the pipe
    then carries CZMQ's exit signal). Process children are watched with
    SIGCHLD (through the signal fd main hands in) and heartbeats: a child
    silent for liveness_ms is killed with SIGKILL and restarted.

    The supervisor has its own bus port named "supervisor": it takes
    HEARTBEAT from process children and SHUTDOWN from the control actor,
    and publishes host.actor.* events to the monitor.

    Runs in main's thread; it owns the signals (main blocks them in every
    thread and passes a signalfd).
*/
#ifndef SHOAL_SUPERVISOR_H_INCLUDED
#define SHOAL_SUPERVISOR_H_INCLUDED

#include <czmq.h>
#include <sys/types.h>

#include "shoal_actor.h"

typedef struct {
    const char *bus;      /* inproc bus endpoint */
    const char *proc_bus; /* ipc bus endpoint for process children */
    const char *exe;      /* executable for process children */
    const shoal_config_t *config;
    shoal_clock_t clock;
    uint32_t max_restarts;
    uint32_t period_ms;
    uint32_t heartbeat_ms;
    uint32_t liveness_ms;
    bool verbose;
} shoal_supervisor_opts_t;

typedef struct _shoal_supervisor_t shoal_supervisor_t;

/*  Creates a supervisor (opts copied; strings must outlive it). NULL on
    failure (logged). */
shoal_supervisor_t *shoal_supervisor_new (const shoal_supervisor_opts_t *opts);

/*  Stops every child in reverse start order ($TERM to threads, SIGTERM
    then SIGKILL after 5 s to processes) and frees. Nulls *self_p. */
void shoal_supervisor_destroy (shoal_supervisor_t **self_p);

/*  Starts a thread child now. extra is passed in args->extra. Returns the
    actor's start error. */
shoal_err_t shoal_supervisor_add_thread (shoal_supervisor_t *self,
                                         const char *name, zactor_fn *fn,
                                         void *extra);

/*  Starts a process child: exe --actor kind --name name --bus proc_bus
    --parent PID and the configuration as --set pairs. Waits until its
    first heartbeat arrives (or liveness_ms passes: TIMEOUT). */
shoal_err_t shoal_supervisor_add_process (shoal_supervisor_t *self,
                                          const char *name, const char *kind);

/*  Supervises until SIGINT/SIGTERM on signal_fd or a SHUTDOWN message
    (SHOAL_OK), or escalation (SHOAL_ERR_STATE). */
shoal_err_t shoal_supervisor_run (shoal_supervisor_t *self, int signal_fd);

/*  Restarts performed so far (for tests). */
uint64_t shoal_supervisor_restarts (const shoal_supervisor_t *self);

#endif
