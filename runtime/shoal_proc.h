/*  shoal_proc.h - the child side of a process actor.

    shoald re-executes itself as `shoald --actor KIND --name NAME --bus
    ipc://... --parent PID --set k=v ...`; main then calls shoal_proc_run,
    which runs the same actor function a thread actor would (inside a
    zactor, so the message API is identical), connected to the host bus
    over ipc://. It sends HEARTBEAT {name, pid} to "supervisor" every
    supervisor/heartbeat ms from a second port "NAME!hb", exits when the
    parent dies (PR_SET_PDEATHSIG, checked at start too), stops the actor
    on SIGTERM/SIGINT, and exits non-zero when the actor returns by itself
    so that the supervisor restarts it.
*/
#ifndef SHOAL_PROC_H_INCLUDED
#define SHOAL_PROC_H_INCLUDED

#include <sys/types.h>

#include "shoal_actor.h"

/*  Runs the actor until told to stop. signal_fd: SIGTERM/SIGINT (and
    SIGCHLD, ignored) already blocked by main. Returns the process exit
    code: 0 after an orderly stop, 1 when the actor failed or exited. */
int shoal_proc_run (zactor_fn *fn, shoal_actor_args_t *args, pid_t parent,
                    int signal_fd);

#endif
