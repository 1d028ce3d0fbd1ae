/*  shoal_supervisor.c - one_for_one supervision of thread and process
    actors.

    Design: children live in a small array in start order. The run loop
    polls the signal fd, the supervisor's bus port and every thread
    child's pipe; a tick checks process heartbeats and retries restarts
    that failed. Restart times sit in a ring sized max_restarts + 1: when
    the oldest of them is within period_ms, intensity is exceeded.

    Process children (executors) are the fault domain for handlers that
    crash: their restarts do not count toward the intensity, or one job
    that kills its executor on every attempt would stop the whole host.
    Instead a process that dies within period_ms of its start waits before
    the restart, 100 ms doubling to S_BACKOFF_MAX_MS; one that ran longer
    restarts at once. The job's retry policy ends such a loop.

    Deliberately not done: one_for_all / rest_for_one strategies (nothing
    in a host needs them yet), and supervising the bus itself (a host
    without its bus is down; shoald exits and its service manager
    restarts it).
*/
#include "shoal_supervisor.h"
#include "shoal_event.h"
#include "shoal_log.h"
#include "shoal_port.h"
#include "../protocol/shoal_mp.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define S_CHILDREN_MAX   300
#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 5000

typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    char kind[SHOAL_NAME_MAX + 1];
    zactor_fn *fn; /* thread child */
    void *extra;
    zactor_t *actor; /* thread child, when running */
    pid_t pid;       /* process child, when running */
    bool is_process;
    bool down;           /* needs a (re)start */
    uint64_t last_beat;  /* monotonic ms */
    uint64_t started;    /* monotonic ms of the last start */
    uint64_t backoff;    /* ms: process restart delay, 0 = at once */
    uint64_t restart_at; /* monotonic ms: a delayed process restart */
    char why[64];        /* why it died, for the delayed restart */
} s_child_t;

struct _shoal_supervisor_t {
    shoal_supervisor_opts_t opts;
    shoal_port_t *port;
    s_child_t *children[S_CHILDREN_MAX];
    size_t nchildren;
    uint64_t *ring; /* restart times, monotonic ms */
    size_t ring_len;
    size_t ring_pos;
    uint64_t restarts;
    bool shutdown;
};

static uint64_t
s_now_ms (void)
{
    return shoal_mono_us () / 1000;
}

shoal_supervisor_t *
shoal_supervisor_new (const shoal_supervisor_opts_t *opts)
{
    shoal_supervisor_t *self = calloc (1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->opts = *opts;
    self->ring_len = opts->max_restarts ? (size_t) opts->max_restarts : 1;
    self->ring = calloc (self->ring_len, sizeof *self->ring);
    self->port = shoal_port_new (opts->bus, "supervisor", &opts->clock);
    if (!self->ring || !self->port) {
        shoal_supervisor_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_publish (shoal_supervisor_t *self, const char *topic, const s_child_t *c,
           const char *reason)
{
    shoal_wr_t *w = shoal_event_begin (self->port, 1);
    shoal_event_head (w, self->port, topic, 3);
    shoal_wr_kv_str (w, "actor", c->name);
    shoal_wr_kv_str (w, "kind", c->is_process ? "process" : "thread");
    shoal_wr_kv_str (w, "reason", reason);
    shoal_port_send (self->port); /* best effort */
}

static void
s_stop_process (s_child_t *c)
{
    if (c->pid <= 0) {
        return;
    }
    kill (c->pid, SIGTERM);
    for (int i = 0; i < 500; i++) { /* 5 s grace, then SIGKILL */
        if (waitpid (c->pid, NULL, WNOHANG) == c->pid) {
            c->pid = 0;
            return;
        }
        zclock_sleep (10);
    }
    kill (c->pid, SIGKILL);
    waitpid (c->pid, NULL, 0);
    c->pid = 0;
}

void
shoal_supervisor_destroy (shoal_supervisor_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    shoal_supervisor_t *self = *self_p;
    for (size_t i = self->nchildren; i-- > 0;) {
        s_child_t *c = self->children[i];
        if (c->actor) {
            if (c->down) {
                /* It already exited: don't wait forever for an answer. */
                zsock_set_rcvtimeo (c->actor, 100);
            }
            zactor_destroy (&c->actor);
        }
        s_stop_process (c);
        shoal_debug (self->opts.verbose, "supervisor: stopped %s", c->name);
        free (c);
    }
    shoal_port_destroy (&self->port);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

static shoal_err_t
s_start_thread (shoal_supervisor_t *self, s_child_t *c)
{
    shoal_actor_args_t args = {
        .name = c->name,
        .bus = self->opts.bus,
        .clock = self->opts.clock,
        .config = self->opts.config,
        .verbose = self->opts.verbose,
        .extra = c->extra,
    };
    shoal_err_t rc;
    c->actor = shoal_actor_start (c->fn, &args, &rc);
    c->down = c->actor == NULL;
    if (rc) {
        shoal_error ("supervisor: %s failed to start: %s", c->name,
                     shoal_strerror (rc));
    }
    return rc;
}

static shoal_err_t
s_spawn (shoal_supervisor_t *self, s_child_t *c)
{
    zlist_t *args = zlist_new ();
    if (!args) {
        return SHOAL_ERR_NOMEM;
    }
    zlist_autofree (args);
    char ppid[32];
    snprintf (ppid, sizeof ppid, "%d", (int) getpid ());
    const char *fixed[] = {
        self->opts.exe, "--actor",           c->kind,    "--name", c->name,
        "--bus",        self->opts.proc_bus, "--parent", ppid};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        zlist_append (args, (void *) fixed[i]);
    }
    shoal_config_to_args (self->opts.config, args);
    size_t n = zlist_size (args);
    char **argv = calloc (n + 1, sizeof *argv);
    shoal_err_t rc = SHOAL_ERR_NOMEM;
    if (argv) {
        size_t i = 0;
        for (char *s = zlist_first (args); s; s = zlist_next (args)) {
            argv[i++] = s;
        }
        pid_t pid;
        int e = posix_spawn (&pid, self->opts.exe, NULL, NULL, argv, environ);
        if (e == 0) {
            c->pid = pid;
            c->started = s_now_ms ();
            c->down = false;
            c->last_beat = s_now_ms ();
            rc = SHOAL_OK;
        } else {
            shoal_error ("supervisor: cannot spawn %s: %s", c->name,
                         strerror (e));
            rc = SHOAL_ERR_IO;
        }
        free (argv);
    }
    zlist_destroy (&args);
    return rc;
}

static s_child_t *
s_child_new (shoal_supervisor_t *self, const char *name)
{
    if (self->nchildren >= S_CHILDREN_MAX || strlen (name) > SHOAL_NAME_MAX) {
        return NULL;
    }
    s_child_t *c = calloc (1, sizeof *c);
    if (c) {
        snprintf (c->name, sizeof c->name, "%s", name);
        self->children[self->nchildren++] = c;
    }
    return c;
}

shoal_err_t
shoal_supervisor_add_thread (shoal_supervisor_t *self, const char *name,
                             zactor_fn *fn, void *extra)
{
    s_child_t *c = s_child_new (self, name);
    if (!c) {
        return SHOAL_ERR_INVALID;
    }
    c->fn = fn;
    c->extra = extra;
    shoal_err_t rc = s_start_thread (self, c);
    if (rc == SHOAL_OK) {
        s_publish (self, "host.actor.started", c, "start");
    }
    return rc;
}

/*  Handles one message on the supervisor's port. */
static void
s_handle_port (shoal_supervisor_t *self)
{
    shoal_in_t in;
    if (shoal_port_recv (self->port, &in, ZMQ_DONTWAIT) != SHOAL_OK) {
        return;
    }
    if (in.hdr.type == SHOAL_M_HEARTBEAT) {
        char name[SHOAL_NAME_MAX + 1];
        if (shoal_map_strcpy (in.body, in.body_len, "name", name,
                              sizeof name) == SHOAL_OK) {
            for (size_t i = 0; i < self->nchildren; i++) {
                if (streq (self->children[i]->name, name)) {
                    self->children[i]->last_beat = s_now_ms ();
                }
            }
        }
    } else if (in.hdr.type == SHOAL_M_SHUTDOWN) {
        shoal_info ("supervisor: shutdown requested by %s", in.hdr.from);
        self->shutdown = true;
    }
    shoal_in_close (&in);
}

shoal_err_t
shoal_supervisor_add_process (shoal_supervisor_t *self, const char *name,
                              const char *kind)
{
    s_child_t *c = s_child_new (self, name);
    if (!c || strlen (kind) > SHOAL_NAME_MAX) {
        return SHOAL_ERR_INVALID;
    }
    c->is_process = true;
    snprintf (c->kind, sizeof c->kind, "%s", kind);
    shoal_err_t rc = s_spawn (self, c);
    if (rc) {
        return rc;
    }
    /* Wait for the first heartbeat: the child is connected and running. */
    uint64_t start = s_now_ms ();
    uint64_t first = c->last_beat;
    zpoller_t *poller = zpoller_new (shoal_port_sock (self->port), NULL);
    while (c->last_beat == first &&
           s_now_ms () - start < self->opts.liveness_ms) {
        if (zpoller_wait (poller, 50)) {
            s_handle_port (self);
        }
        if (waitpid (c->pid, NULL, WNOHANG) == c->pid) {
            c->pid = 0;
            c->down = true;
            break;
        }
    }
    zpoller_destroy (&poller);
    if (c->last_beat == first) {
        shoal_error ("supervisor: process %s did not start", name);
        s_stop_process (c);
        c->down = true;
        return SHOAL_ERR_TIMEOUT;
    }
    s_publish (self, "host.actor.started", c, "start");
    return SHOAL_OK;
}

/*  Records a restart; false (and nothing recorded) when one more would
    exceed the intensity: max_restarts within period_ms. */
static bool
s_intensity_ok (shoal_supervisor_t *self)
{
    uint64_t now = s_now_ms ();
    if (self->opts.max_restarts == 0) {
        return false;
    }
    /* The ring holds the last max_restarts restart times; the slot about
       to be overwritten is the oldest of them. If it is inside the period,
       this restart would be one too many. */
    uint64_t oldest = self->ring[self->ring_pos];
    if (self->restarts >= self->ring_len &&
        now - oldest < self->opts.period_ms) {
        return false;
    }
    self->ring[self->ring_pos] = now;
    self->ring_pos = (self->ring_pos + 1) % self->ring_len;
    self->restarts++;
    return true;
}

static shoal_err_t
s_restart (shoal_supervisor_t *self, s_child_t *c, const char *reason)
{
    if (c->restart_at) {
        shoal_info ("supervisor: restarting %s after back-off", c->name);
    } else {
        shoal_warn ("supervisor: %s %s (%s); restarting", c->name,
                    c->is_process ? "process died" : "actor exited", reason);
    }
    if (!c->is_process && !s_intensity_ok (self)) {
        shoal_error ("supervisor: more than %u restarts in %u ms; giving up",
                     self->opts.max_restarts, self->opts.period_ms);
        return SHOAL_ERR_STATE;
    }
    if (c->actor) {
        zsock_set_rcvtimeo (c->actor, 100);
        zactor_destroy (&c->actor);
    }
    c->restart_at = 0;
    shoal_err_t rc =
        c->is_process ? s_spawn (self, c) : s_start_thread (self, c);
    if (rc == SHOAL_OK) {
        s_publish (self, "host.actor.restarted", c, reason);
    } else {
        c->down = true; /* retried on the next tick */
    }
    return SHOAL_OK;
}

static shoal_err_t
s_reap (shoal_supervisor_t *self)
{
    /* Only our own children: waitpid (-1) would also reap the processes
       other threads start (the exec handler) and lose their status. */
    for (size_t i = 0; i < self->nchildren; i++) {
        s_child_t *c = self->children[i];
        int status;
        if (!c->is_process || c->pid <= 0 ||
            waitpid (c->pid, &status, WNOHANG) != c->pid) {
            continue;
        }
        char why[64];
        if (WIFSIGNALED (status)) {
            snprintf (why, sizeof why, "signal %d", WTERMSIG (status));
        } else {
            snprintf (why, sizeof why, "exit %d", WEXITSTATUS (status));
        }
        c->pid = 0;
        c->down = true;
        uint64_t now = s_now_ms ();
        if (now - c->started < self->opts.period_ms) {
            c->backoff = c->backoff ? c->backoff * 2 : S_BACKOFF_MIN_MS;
            c->backoff =
                c->backoff > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : c->backoff;
        } else {
            c->backoff = 0;
        }
        if (c->backoff) {
            shoal_warn ("supervisor: %s process died (%s) %llu ms after its "
                        "start; restarting in %llu ms",
                        c->name, why, (unsigned long long) (now - c->started),
                        (unsigned long long) c->backoff);
            c->restart_at = now + c->backoff;
            snprintf (c->why, sizeof c->why, "%s", why);
            self->restarts++;
            continue; /* the tick restarts it */
        }
        if (s_restart (self, c, why)) {
            return SHOAL_ERR_STATE;
        }
    }
    return SHOAL_OK;
}

static shoal_err_t
s_tick (shoal_supervisor_t *self)
{
    uint64_t now = s_now_ms ();
    for (size_t i = 0; i < self->nchildren; i++) {
        s_child_t *c = self->children[i];
        if (c->is_process && c->pid > 0 &&
            now - c->last_beat > self->opts.liveness_ms) {
            shoal_warn ("supervisor: %s silent for %llu ms; killing it",
                        c->name, (unsigned long long) (now - c->last_beat));
            kill (c->pid, SIGKILL); /* SIGCHLD brings the restart */
            c->last_beat = now;
        } else if (c->down && !c->actor && c->pid == 0 &&
                   now >= c->restart_at) {
            if (s_restart (self, c,
                           c->restart_at ? c->why : "earlier start failed")) {
                return SHOAL_ERR_STATE;
            }
        }
    }
    return SHOAL_OK;
}

shoal_err_t
shoal_supervisor_run (shoal_supervisor_t *self, int signal_fd)
{
    zmq_pollitem_t items[S_CHILDREN_MAX + 2];
    uint64_t tick_ms =
        self->opts.heartbeat_ms / 2 ? self->opts.heartbeat_ms / 2 : 1;
    uint64_t next_tick = s_now_ms () + tick_ms;
    while (!self->shutdown) {
        items[0] = (zmq_pollitem_t){NULL, signal_fd, ZMQ_POLLIN, 0};
        items[1] = (zmq_pollitem_t){
            zsock_resolve (shoal_port_sock (self->port)), 0, ZMQ_POLLIN, 0};
        size_t n = 2;
        s_child_t *owner[S_CHILDREN_MAX + 2] = {NULL};
        for (size_t i = 0; i < self->nchildren; i++) {
            s_child_t *c = self->children[i];
            if (c->actor) {
                owner[n] = c;
                items[n++] = (zmq_pollitem_t){zactor_resolve (c->actor), 0,
                                              ZMQ_POLLIN, 0};
            }
        }
        uint64_t now = s_now_ms ();
        long timeout = next_tick > now ? (long) (next_tick - now) : 0;
        if (zmq_poll (items, (int) n, timeout) < 0 && zmq_errno () != EINTR) {
            shoal_error ("supervisor: poll failed: %s",
                         zmq_strerror (zmq_errno ()));
            return SHOAL_ERR_IO;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;
            if (read (signal_fd, &si, sizeof si) == (ssize_t) sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    if (s_reap (self)) {
                        return SHOAL_ERR_STATE;
                    }
                } else {
                    shoal_info ("supervisor: signal %u, shutting down",
                                si.ssi_signo);
                    return SHOAL_OK;
                }
            }
        }
        if (items[1].revents & ZMQ_POLLIN) {
            for (int i = 0; i < 64; i++) {
                s_handle_port (self);
            }
        }
        for (size_t i = 2; i < n; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) {
                continue;
            }
            s_child_t *c = owner[i];
            zmsg_t *msg = zmsg_recv (c->actor);
            bool got = msg != NULL;
            int sig = got ? zmsg_signal (msg) : -1;
            zmsg_destroy (&msg);
            if (got && sig < 0) {
                continue; /* a stray command, not a death */
            }
            c->down = true;
            if (s_restart (self, c, "returned")) {
                return SHOAL_ERR_STATE;
            }
        }
        if (s_now_ms () >= next_tick) {
            next_tick = s_now_ms () + tick_ms;
            if (s_tick (self)) {
                return SHOAL_ERR_STATE;
            }
        }
    }
    return SHOAL_OK;
}

uint64_t
shoal_supervisor_restarts (const shoal_supervisor_t *self)
{
    return self->restarts;
}
