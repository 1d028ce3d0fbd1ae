/*  shoal_host.c - assembling a host (see shoal_host.h). */
#include "shoal_host.h"

#include "shoal_actor.h"
#include "shoal_bus.h"
#include "shoal_control.h"
#include "shoal_log.h"
#include "shoal_monitor.h"
#include "shoal_node.h"
#include "shoal_registry.h"
#include "shoal_router.h"
#include "shoal_scheduler.h"
#include "shoal_store.h"
#include "shoal_supervisor.h"
#include "shoal_version.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

int
shoal_host_signals (void)
{
    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGINT);
    sigaddset (&mask, SIGTERM);
    sigaddset (&mask, SIGCHLD);
    pthread_sigmask (SIG_BLOCK, &mask, NULL);
    signal (SIGPIPE, SIG_IGN);
    int fd = signalfd (-1, &mask, SFD_CLOEXEC);
    zsys_handler_set (NULL);
    return fd;
}

/*  Takes an exclusive lock on DATA/shoald.lock so that two daemons never
    write one data folder. Returns the fd (kept open) or -1. */
static int
s_lock_data (const char *dir)
{
    if (mkdir (dir, 0700) < 0 && errno != EEXIST) {
        fprintf (stderr, "shoald: cannot create data folder %s: %s\n", dir,
                 strerror (errno));
        return -1;
    }
    char path[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/shoald.lock", dir) >=
        (int) sizeof path) {
        fprintf (stderr, "shoald: data folder path too long\n");
        return -1;
    }
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf (stderr, "shoald: cannot open %s: %s\n", path,
                 strerror (errno));
        return -1;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = pread (fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn (pid, "\n")] = '\0';
        fprintf (stderr,
                 "shoald: data folder %s is in use by another shoald "
                 "(pid %s)\n",
                 dir, pid[0] ? pid : "?");
        close (fd);
        return -1;
    }
    char pid[32];
    int len = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
    if (ftruncate (fd, 0) < 0 || pwrite (fd, pid, (size_t) len, 0) < 0) {
        fprintf (stderr, "shoald: cannot write %s: %s\n", path,
                 strerror (errno));
    }
    return fd;
}

int
shoal_host_run (shoal_config_t *cfg, int sigfd, bool verbose, const char *kind)
{
    /* A member serves its owner's queues: it keeps no data of its own. */
    bool member = shoal_config_get (cfg, "cluster/join")[0] != '\0';
    const char *data = shoal_config_get (cfg, "shoald/data");
    int lock =
        member ? open ("/dev/null", O_RDONLY | O_CLOEXEC) : s_lock_data (data);
    if (lock < 0) {
        return SHOAL_HOST_EXIT_STARTUP;
    }
    int64_t executors, max_restarts, period, beat, liveness;
    shoal_config_int (cfg, "executors/count", 0, 256, &executors);
    shoal_config_int (cfg, "supervisor/max_restarts", 0, 1000, &max_restarts);
    shoal_config_int (cfg, "supervisor/period", 1, 3600000, &period);
    shoal_config_int (cfg, "supervisor/heartbeat", 10, 60000, &beat);
    shoal_config_int (cfg, "supervisor/liveness", 50, 600000, &liveness);
    bool process = streq (shoal_config_get (cfg, "executors/mode"), "process");

    char inproc[64], ipc[PATH_MAX + 8], abs[PATH_MAX], exe[PATH_MAX];
    snprintf (inproc, sizeof inproc, "inproc://shoal-bus-%d", (int) getpid ());
    if (!realpath (data, abs)) {
        snprintf (abs, sizeof abs, "%s", data);
    }
    /* ipc paths are limited to 107 bytes by sockaddr_un */
    if (strlen (abs) + 10 < 100) {
        snprintf (ipc, sizeof ipc, "ipc://%.100s/bus.sock", abs);
    } else {
        snprintf (ipc, sizeof ipc, "ipc:///tmp/shoal-bus-%d.sock",
                  (int) getpid ());
    }
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';

    /* The ZAP handler for a CURVE control endpoint: keys in the
       allowlist folder get in (it is read again when it changes). */
    zactor_t *auth = NULL;
    const char *allow = shoal_config_get (cfg, "shoald/curve_allow");
    const char *cert = shoal_config_get (cfg, "shoald/curve_cert");
    if (cert && cert[0] && !member) { /* a member binds nothing */
        auth = zactor_new (zauth, NULL);
        if (!auth || zstr_sendx (auth, "CURVE", allow, NULL) ||
            zsock_wait (auth) != 0) {
            fprintf (stderr, "shoald: the ZAP handler did not start\n");
            zactor_destroy (&auth);
            close (lock);
            return SHOAL_HOST_EXIT_STARTUP;
        }
        shoal_info ("shoald: control endpoint uses CURVE; keys allowed from %s",
                    allow);
    }
    if (member) {
        /* No data folder: the bus's ipc endpoint lives in /tmp. */
        snprintf (ipc, sizeof ipc, "ipc:///tmp/shoal-bus-%d.sock",
                  (int) getpid ());
    }
    shoal_bus_args_t bus_args = {.inproc = inproc,
                                 .ipc = process ? ipc : NULL,
                                 .remote = SHOAL_REGISTRY_NAME,
                                 .uplink = member,
                                 .verbose = verbose};
    shoal_err_t rc;
    zactor_t *bus = shoal_actor_start (shoal_bus_actor, &bus_args, &rc);
    if (!bus) {
        zactor_destroy (&auth);
        close (lock);
        return SHOAL_HOST_EXIT_STARTUP;
    }
    shoal_supervisor_opts_t opts = {
        .bus = inproc,
        .proc_bus = ipc,
        .exe = exe,
        .config = cfg,
        .clock = shoal_clock_real (),
        .max_restarts = (uint32_t) max_restarts,
        .period_ms = (uint32_t) period,
        .heartbeat_ms = (uint32_t) beat,
        .liveness_ms = (uint32_t) liveness,
        .verbose = verbose,
    };
    int code = SHOAL_HOST_EXIT_STARTUP;
    shoal_supervisor_t *sup = shoal_supervisor_new (&opts);
    if (!sup) {
        goto done;
    }
    /* The monitor first, so that it sees every other actor start; the
       registry before the executors, so that on a member it carries what
       they hand back when they stop. A member runs only the registry and
       executors: everything else is its owner's. */
    if (member) {
        if (shoal_supervisor_add_thread (sup, SHOAL_REGISTRY_NAME,
                                         shoal_registry_actor, (void *) kind)) {
            goto done;
        }
    } else if (shoal_supervisor_add_thread (sup, "monitor", shoal_monitor_actor,
                                            NULL) ||
               shoal_supervisor_add_thread (sup, "store", shoal_store_actor,
                                            NULL) ||
               shoal_supervisor_add_thread (sup, "scheduler",
                                            shoal_scheduler_actor, NULL) ||
               shoal_supervisor_add_thread (sup, SHOAL_ROUTER_NAME,
                                            shoal_router_actor, NULL) ||
               shoal_supervisor_add_thread (sup, SHOAL_REGISTRY_NAME,
                                            shoal_registry_actor, NULL)) {
        goto done;
    }
    for (int64_t i = 0; i < executors; i++) {
        char name[32];
        snprintf (name, sizeof name, "node.%lld", (long long) i);
        rc = process ? shoal_supervisor_add_process (sup, name, "node")
                     : shoal_supervisor_add_thread (sup, name, shoal_node_actor,
                                                    NULL);
        if (rc) {
            goto done;
        }
    }
    if (member) {
        shoal_info ("shoald %s ready: member of %s, executors=%lld (%s)",
                    SHOAL_VERSION_STRING,
                    shoal_config_get (cfg, "cluster/join"),
                    (long long) executors, process ? "process" : "thread");
    } else if (shoal_supervisor_add_thread (sup, "control", shoal_control_actor,
                                            NULL)) {
        goto done;
    }
    if (!member)
        shoal_info ("shoald %s ready: control=%s monitor=%s data=%s sync=%s "
                    "executors=%lld (%s)",
                    SHOAL_VERSION_STRING,
                    shoal_config_get (cfg, "shoald/control"),
                    shoal_config_get (cfg, "shoald/monitor"), data,
                    shoal_config_get (cfg, "store/sync"), (long long) executors,
                    process ? "process" : "thread");
    rc = shoal_supervisor_run (sup, sigfd);
    code = rc == SHOAL_OK ? 0 : SHOAL_HOST_EXIT_ESCALATE;
    shoal_info ("shoald: stopping");
done:
    shoal_supervisor_destroy (&sup);
    zactor_destroy (&bus);
    if (member && process) {
        unlink (ipc + strlen ("ipc://")); /* in /tmp: nobody else cleans it */
    }
    zactor_destroy (&auth);
    close (lock);
    if (code == SHOAL_HOST_EXIT_STARTUP) {
        shoal_error ("shoald: could not start; see the messages above");
    } else {
        shoal_info ("shoald: stopped");
    }
    return code;
}
