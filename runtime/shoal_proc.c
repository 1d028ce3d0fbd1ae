/*  shoal_proc.c - process actor shim: heartbeats, parent watch, stop. */
#include "shoal_proc.h"
#include "shoal_log.h"
#include "shoal_port.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void
s_beat (shoal_port_t *hb, const char *name)
{
    shoal_wr_t *w =
        shoal_port_begin (hb, SHOAL_M_HEARTBEAT, "supervisor", NULL);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "name", name);
    shoal_wr_kv_uint (w, "pid", (uint64_t) getpid ());
    shoal_port_send (hb);
}

int
shoal_proc_run (zactor_fn *fn, shoal_actor_args_t *args, pid_t parent,
                int signal_fd)
{
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (parent > 0 && getppid () != parent) {
        shoal_error ("%s: parent %d already gone", args->name, (int) parent);
        return 1;
    }
    int64_t beat_ms = 1000;
    shoal_config_int (args->config, "supervisor/heartbeat", 10, 60000,
                      &beat_ms);
    char hbname[SHOAL_NAME_MAX + 4];
    snprintf (hbname, sizeof hbname, "%s!hb", args->name);
    shoal_port_t *hb = shoal_port_new (args->bus, hbname, &args->clock);
    if (!hb) {
        return 1;
    }
    shoal_err_t rc;
    zactor_t *actor = shoal_actor_start (fn, args, &rc);
    if (!actor) {
        shoal_error ("%s: failed to start: %s", args->name,
                     shoal_strerror (rc));
        shoal_port_destroy (&hb);
        return 1;
    }
    s_beat (hb, args->name);
    /* The first beats go every 50 ms for a second: one sent before the
       ipc:// connection is up can be lost, and the supervisor starts the
       next actor only after this one's first beat arrived. */
    int fast = 20;
    int code = 0;
    zmq_pollitem_t items[] = {
        {NULL, signal_fd, ZMQ_POLLIN, 0},
        {zactor_resolve (actor), 0, ZMQ_POLLIN, 0},
    };
    for (;;) {
        long wait_ms = fast > 0 && beat_ms > 50 ? 50 : (long) beat_ms;
        fast = fast > 0 ? fast - 1 : 0;
        if (zmq_poll (items, 2, wait_ms) < 0 && zmq_errno () != EINTR) {
            code = 1;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;
            if (read (signal_fd, &si, sizeof si) == (ssize_t) sizeof si &&
                si.ssi_signo != SIGCHLD) {
                break; /* orderly stop */
            }
        }
        if (items[1].revents & ZMQ_POLLIN) {
            shoal_error ("%s: actor exited; process ends", args->name);
            zsock_set_rcvtimeo (actor, 100);
            code = 1;
            break;
        }
        s_beat (hb, args->name);
    }
    zactor_destroy (&actor);
    shoal_port_destroy (&hb);
    return code;
}
