/*  test_supervisor.c - one_for_one supervision of thread actors.

    Design: shoal_supervisor_run blocks, and shoald runs it in main's
    thread, so the test does too. The scenario is driven from a helper
    zactor (the "driver") that connects to the bus under the name
    "monitor": that way it receives the supervisor's host.actor.restarted
    event, which is sent only after the restarted child has reported its
    start. The driver waits for events instead of waiting for time to
    pass, then talks to the new child.

    The restarted event alone does not make routing to the new child
    certain (the bus may not yet have processed its connection when it
    reads the driver's next message), so each incarnation also announces
    itself with an event: once that has reached the driver, the bus has
    read from the new child's connection, and "echo" routes to it.

    A driver that fails sends SHUTDOWN to "supervisor", so run returns and
    the test reports the failure instead of hanging; if run still does not
    return, the driver raises SIGTERM. Receives in the driver block at
    most 5 s, as a guard only.

    Signals are blocked before any thread exists and handed to the
    supervisor as a signalfd, as shoald does.
*/
#include "shoal_test.h"
#include "shoal_supervisor.h"
#include "shoal_event.h"
#include "shoal_bus.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "rt_helpers.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define S_GUARD_MS 5000

/*  Shared with the echo actor through args->extra. */
typedef struct {
    atomic_int starts; /* setups that reported SHOAL_OK */
    atomic_int stops;  /* orderly exits on $TERM */
} s_counts_t;

/*  The supervised test actor: answers PING with OK {gen}, where gen
    counts its incarnations, and "crashes" (returns) on SHUTDOWN. Once
    started it announces itself to the monitor with a test.echo.up event:
    after that has been forwarded, the bus routes "echo" to this
    incarnation (not to the pipe of the one that crashed). */
static void
s_echo_actor (zsock_t *pipe, void *args_)
{
    const shoal_actor_args_t *args = (const shoal_actor_args_t *) args_;
    zsock_signal (pipe, 0);
    /* args is only valid until ready: copy what is kept. */
    char name[SHOAL_NAME_MAX + 1];
    snprintf (name, sizeof name, "%s", args->name);
    s_counts_t *counts = (s_counts_t *) args->extra;
    shoal_port_t *port = shoal_port_new (args->bus, name, &args->clock);
    int gen = port ? atomic_fetch_add (&counts->starts, 1) + 1 : 0;
    shoal_actor_ready (pipe, port ? SHOAL_OK : SHOAL_ERR_IO);
    if (!port) {
        return;
    }
    shoal_wr_t *w = shoal_event_begin (port, 1);
    shoal_event_head (w, port, "test.echo.up", 1);
    shoal_wr_kv_uint (w, "gen", (uint64_t) gen);
    shoal_port_send (port); /* unreachable until a monitor is up: fine */
    zpoller_t *poller = zpoller_new (pipe, shoal_port_sock (port), NULL);
    bool crash = false, term = poller == NULL;
    while (!crash && !term) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            term = shoal_actor_pipe_term (pipe, name);
        } else if (which == shoal_port_sock (port)) {
            shoal_in_t in;
            if (shoal_port_recv (port, &in, ZMQ_DONTWAIT) != SHOAL_OK) {
                continue;
            }
            if (in.hdr.type == SHOAL_M_PING) {
                w = shoal_port_begin (port, SHOAL_M_OK, in.hdr.from,
                                      &in.hdr.id);
                shoal_wr_map (w, 1);
                shoal_wr_kv_uint (w, "gen", (uint64_t) gen);
                shoal_port_send (port);
            } else if (in.hdr.type == SHOAL_M_SHUTDOWN) {
                crash = true;
            }
            shoal_in_close (&in);
        } else {
            term = true; /* interrupted */
        }
    }
    if (term) {
        atomic_fetch_add (&counts->stops, 1);
    }
    zpoller_destroy (&poller);
    shoal_port_destroy (&port);
}

/*  An actor whose setup fails. */
static void
s_failing_actor (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal (pipe, 0);
    shoal_actor_ready (pipe, SHOAL_ERR_CONFIG);
}

typedef struct {
    char dir[RT_PATH_MAX];
    char bus_ep[RT_PATH_MAX + 32];
    char proc_bus[RT_PATH_MAX + 32];
    int sfd;
    zactor_t *bus;
    shoal_config_t *config;
    shoal_supervisor_t *sup;
    s_counts_t counts;
} s_fx_t;

/*  Blocks the signals shoald's main owns (in this thread, before any
    other exists, so every thread inherits the mask) and returns a
    signalfd for them. */
static int
s_signal_fd (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGCHLD);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    if (pthread_sigmask (SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }
    return signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static shoal_err_t
s_fx_setup (s_fx_t *fx, uint32_t max_restarts, uint32_t period_ms)
{
    memset (fx, 0, sizeof *fx);
    fx->sfd = s_signal_fd ();
    if (fx->sfd < 0) {
        return SHOAL_ERR_IO;
    }
    zsys_handler_set (NULL);
    shoal_log_setup ("test_supervisor", false);
    if (rt_tmpdir (fx->dir)) {
        return SHOAL_ERR_IO;
    }
    rt_endpoint (fx->bus_ep, sizeof fx->bus_ep, fx->dir, "bus");
    snprintf (fx->proc_bus, sizeof fx->proc_bus, "ipc://%s/bus.ipc", fx->dir);
    shoal_bus_args_t bargs = {.inproc = fx->bus_ep, .ipc = NULL};
    shoal_err_t rc = SHOAL_ERR_STATE;
    fx->bus = shoal_actor_start (shoal_bus_actor, &bargs, &rc);
    if (!fx->bus) {
        return rc;
    }
    fx->config = shoal_config_load (NULL, &rc);
    if (!fx->config) {
        return rc;
    }
    shoal_supervisor_opts_t opts = {
        .bus = fx->bus_ep,
        .proc_bus = fx->proc_bus,
        .exe = "/bin/false",
        .config = fx->config,
        .clock = shoal_clock_real (),
        .max_restarts = max_restarts,
        .period_ms = period_ms,
        .heartbeat_ms = 1000,
        .liveness_ms = 5000,
        .verbose = false,
    };
    fx->sup = shoal_supervisor_new (&opts);
    return fx->sup ? SHOAL_OK : SHOAL_ERR_IO;
}

static void
s_fx_teardown (s_fx_t *fx)
{
    shoal_supervisor_destroy (&fx->sup);
    shoal_config_destroy (&fx->config);
    zactor_destroy (&fx->bus);
    if (fx->sfd >= 0) {
        close (fx->sfd);
    }
    rt_rmtree (fx->dir);
}

#define SUP_TEST(name, max_restarts, period_ms)                                \
    static void name##_body (bool *shoal_test_failed_, s_fx_t *fx);            \
    SHOAL_TEST (name)                                                          \
    {                                                                          \
        s_fx_t fx;                                                             \
        shoal_err_t rc = s_fx_setup (&fx, max_restarts, period_ms);            \
        if (rc == SHOAL_OK) {                                                  \
            name##_body (shoal_test_failed_, &fx);                             \
        }                                                                      \
        s_fx_teardown (&fx);                                                   \
        CHECK_OK (rc);                                                         \
    }                                                                          \
    static void name##_body (bool *shoal_test_failed_, s_fx_t *fx)

/*  --- the driver ------------------------------------------------------ */

/*  A scenario, run in the driver's thread; fails like a test case. */
typedef void (s_script_fn) (bool *shoal_test_failed_, shoal_port_t *port);

typedef struct {
    const char *bus;
    s_script_fn *script;
    bool shutdown_after; /* send SHUTDOWN to the supervisor when done */
    bool failed;         /* written by the driver; read after it ends */
} s_driver_t;

static shoal_err_t
s_send (shoal_port_t *port, uint32_t type, const char *to, shoal_id_t *id)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = type;
    snprintf (hdr.to, sizeof hdr.to, "%s", to);
    shoal_wr_map (shoal_port_begin_hdr (port, &hdr), 0);
    if (id) {
        *id = hdr.id;
    }
    return shoal_port_send (port);
}

/*  Finds the first event with topic in an EVENT message; *ev and *len
    span that event's map. */
static bool
s_event_find (const shoal_in_t *in, const char *topic, const uint8_t **ev,
              size_t *len)
{
    shoal_mp_val_t v;
    const uint8_t *raw;
    size_t raw_len;
    if (in->hdr.type != SHOAL_M_EVENT ||
        shoal_map_find (in->body, in->body_len, "events", &v, &raw, &raw_len) !=
            SHOAL_OK) {
        return false;
    }
    shoal_rd_t rd;
    shoal_rd_init (&rd, raw, raw_len);
    uint32_t n;
    if (shoal_rd_array (&rd, &n) != SHOAL_OK) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *start = rd.p;
        if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX) != SHOAL_OK) {
            return false;
        }
        char t[128];
        *ev = start;
        *len = (size_t) (rd.p - start);
        if (shoal_map_strcpy (*ev, *len, "topic", t, sizeof t) == SHOAL_OK &&
            streq (t, topic)) {
            return true;
        }
    }
    return false;
}

/*  PINGs to and returns the incarnation number it answers with, or -1.
    Events that arrive meanwhile are skipped. */
static int
s_ping (shoal_port_t *port, const char *to)
{
    shoal_id_t id;
    if (s_send (port, SHOAL_M_PING, to, &id) != SHOAL_OK) {
        return -1;
    }
    for (;;) {
        shoal_in_t in;
        if (shoal_port_recv (port, &in, 0) != SHOAL_OK) {
            return -1; /* the guard expired */
        }
        if (in.hdr.type == SHOAL_M_EVENT) {
            shoal_in_close (&in);
            continue;
        }
        uint64_t gen = 0;
        bool ok = in.hdr.type == SHOAL_M_OK && streq (in.hdr.from, to) &&
                  in.hdr.has_corr && memcmp (in.hdr.corr.b, id.b, 16) == 0 &&
                  shoal_map_uint (in.body, in.body_len, "gen", &gen) == 0;
        shoal_in_close (&in);
        return ok ? (int) gen : -1;
    }
}

/*  Waits until both the supervisor's host.actor.restarted event about
    "echo" and the new incarnation's test.echo.up {gen} have arrived (in
    either order). Any other message is a failure. */
static shoal_err_t
s_wait_restarted (shoal_port_t *port, uint64_t gen)
{
    bool restarted = false, up = false;
    while (!restarted || !up) {
        shoal_in_t in;
        shoal_err_t rc = shoal_port_recv (port, &in, 0);
        if (rc) {
            return rc;
        }
        const uint8_t *ev;
        size_t len;
        char actor[SHOAL_NAME_MAX + 1];
        uint64_t g = 0;
        if (s_event_find (&in, "host.actor.restarted", &ev, &len)) {
            restarted = restarted || (shoal_map_strcpy (ev, len, "actor", actor,
                                                        sizeof actor) == 0 &&
                                      streq (actor, "echo"));
        } else if (s_event_find (&in, "test.echo.up", &ev, &len) &&
                   shoal_map_uint (ev, len, "gen", &g) == 0 && g <= gen) {
            /* An earlier incarnation's may arrive late: the first one
               announces itself while the driver is connecting. */
            up = up || g == gen;
        } else {
            rc = SHOAL_ERR_STATE;
        }
        shoal_in_close (&in);
        if (rc) {
            return rc;
        }
    }
    return SHOAL_OK;
}

static void
s_driver_actor (zsock_t *pipe, void *args)
{
    s_driver_t *d = (s_driver_t *) args;
    zsock_signal (pipe, 0);
    shoal_clock_t clock = shoal_clock_real ();
    shoal_port_t *port = shoal_port_new (d->bus, SHOAL_MONITOR_NAME, &clock);
    shoal_actor_ready (pipe, port ? SHOAL_OK : SHOAL_ERR_IO);
    if (!port) {
        return;
    }
    zsock_set_rcvtimeo (shoal_port_sock (port), S_GUARD_MS);
    d->script (&d->failed, port);
    if (d->failed || d->shutdown_after) {
        s_send (port, SHOAL_M_SHUTDOWN, "supervisor", NULL);
    }
    /* main sends $TERM once run has returned. If it does not come, run
       is stuck (SHUTDOWN ignored, intensity not enforced): fail, and
       stop it the other way it knows. */
    zpoller_t *poller = zpoller_new (pipe, NULL);
    if (poller && !zpoller_wait (poller, S_GUARD_MS)) {
        fprintf (stderr, "  FAIL %s:%d: supervisor run did not return\n",
                 __FILE__, __LINE__);
        d->failed = true;
        kill (getpid (), SIGTERM);
    }
    zpoller_destroy (&poller);
    while (!shoal_actor_pipe_term (pipe, "driver")) {
    }
    shoal_port_destroy (&port);
}

/*  Runs the supervisor in this thread while script drives it. Returns
    run's result; *driver_failed tells whether the script failed. */
static shoal_err_t
s_run_with (s_fx_t *fx, s_script_fn *script, bool shutdown_after,
            bool *driver_failed)
{
    s_driver_t d = {fx->bus_ep, script, shutdown_after, false};
    shoal_err_t rc = SHOAL_ERR_STATE;
    zactor_t *driver = shoal_actor_start (s_driver_actor, &d, &rc);
    if (!driver) {
        *driver_failed = true;
        return rc;
    }
    rc = shoal_supervisor_run (fx->sup, fx->sfd);
    zactor_destroy (&driver);
    *driver_failed = d.failed;
    return rc;
}

/*  --- scripts (run in the driver's thread) ------------------------------ */

static void
s_script_crash_once (bool *shoal_test_failed_, shoal_port_t *port)
{
    CHECK_EQ (s_ping (port, "echo"), 1);
    CHECK_OK (s_send (port, SHOAL_M_SHUTDOWN, "echo", NULL));
    CHECK_OK (s_wait_restarted (port, 2));
    /* The same name answers, from a new incarnation. */
    CHECK_EQ (s_ping (port, "echo"), 2);
    CHECK_EQ (s_ping (port, "echo"), 2);
}

static void
s_script_crash_three_times (bool *shoal_test_failed_, shoal_port_t *port)
{
    CHECK_EQ (s_ping (port, "echo"), 1);
    CHECK_OK (s_send (port, SHOAL_M_SHUTDOWN, "echo", NULL));
    CHECK_OK (s_wait_restarted (port, 2));
    CHECK_OK (s_send (port, SHOAL_M_SHUTDOWN, "echo", NULL));
    CHECK_OK (s_wait_restarted (port, 3));
    CHECK_EQ (s_ping (port, "echo"), 3);
    /* The third crash within the period exceeds max_restarts = 2. */
    CHECK_OK (s_send (port, SHOAL_M_SHUTDOWN, "echo", NULL));
}

static void
s_script_ping_only (bool *shoal_test_failed_, shoal_port_t *port)
{
    CHECK_EQ (s_ping (port, "echo"), 1);
}

/*  --- cases ------------------------------------------------------------- */

SUP_TEST (sup_restarts_crashed_actor, 5, 60000)
{
    CHECK_OK (shoal_supervisor_add_thread (fx->sup, "echo", s_echo_actor,
                                           &fx->counts));
    CHECK_EQ (atomic_load (&fx->counts.starts), 1);
    bool driver_failed = true;
    CHECK_OK (s_run_with (fx, s_script_crash_once, true, &driver_failed));
    CHECK (!driver_failed);
    CHECK_EQ (shoal_supervisor_restarts (fx->sup), 1);
    CHECK_EQ (atomic_load (&fx->counts.starts), 2);
    CHECK_EQ (atomic_load (&fx->counts.stops), 0);
    /* Destroying the supervisor stops the running incarnation in order. */
    shoal_supervisor_destroy (&fx->sup);
    CHECK_EQ (atomic_load (&fx->counts.stops), 1);
}

SUP_TEST (sup_gives_up_past_intensity, 2, 600000)
{
    CHECK_OK (shoal_supervisor_add_thread (fx->sup, "echo", s_echo_actor,
                                           &fx->counts));
    bool driver_failed = true;
    CHECK_RC (
        s_run_with (fx, s_script_crash_three_times, false, &driver_failed),
        SHOAL_ERR_STATE);
    CHECK (!driver_failed);
    /* Started once and restarted twice; the third crash was not. */
    CHECK_EQ (atomic_load (&fx->counts.starts), 3);
    CHECK (shoal_supervisor_restarts (fx->sup) >= 2);
}

SUP_TEST (sup_shutdown_message_stops_run, 5, 60000)
{
    CHECK_OK (shoal_supervisor_add_thread (fx->sup, "echo", s_echo_actor,
                                           &fx->counts));
    bool driver_failed = true;
    CHECK_OK (s_run_with (fx, s_script_ping_only, true, &driver_failed));
    CHECK (!driver_failed);
    CHECK_EQ (shoal_supervisor_restarts (fx->sup), 0);
    CHECK_EQ (atomic_load (&fx->counts.starts), 1);
    shoal_supervisor_destroy (&fx->sup);
    CHECK_EQ (atomic_load (&fx->counts.stops), 1);
}

SUP_TEST (sup_sigterm_stops_run, 5, 60000)
{
    CHECK_OK (shoal_supervisor_add_thread (fx->sup, "echo", s_echo_actor,
                                           &fx->counts));
    /* Blocked, so it waits on the signalfd for run to read it. */
    CHECK (kill (getpid (), SIGTERM) == 0);
    CHECK_OK (shoal_supervisor_run (fx->sup, fx->sfd));
    CHECK_EQ (shoal_supervisor_restarts (fx->sup), 0);
    /* It was consumed. */
    struct signalfd_siginfo si;
    CHECK (read (fx->sfd, &si, sizeof si) < 0);
    CHECK (kill (getpid (), SIGINT) == 0);
    CHECK_OK (shoal_supervisor_run (fx->sup, fx->sfd));
}

SUP_TEST (sup_failed_start_is_reported, 5, 60000)
{
    CHECK_RC (
        shoal_supervisor_add_thread (fx->sup, "bad", s_failing_actor, NULL),
        SHOAL_ERR_CONFIG);
    char longname[SHOAL_NAME_MAX + 2];
    memset (longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_RC (shoal_supervisor_add_thread (fx->sup, longname, s_echo_actor,
                                           &fx->counts),
              SHOAL_ERR_INVALID);
    CHECK_EQ (atomic_load (&fx->counts.starts), 0);
    /* Good children still start next to a failed one. */
    CHECK_OK (shoal_supervisor_add_thread (fx->sup, "echo", s_echo_actor,
                                           &fx->counts));
    CHECK_EQ (atomic_load (&fx->counts.starts), 1);
}

SHOAL_TEST_MAIN (sup_restarts_crashed_actor, sup_gives_up_past_intensity,
                 sup_shutdown_message_stops_run, sup_sigterm_stops_run,
                 sup_failed_start_is_reported)
