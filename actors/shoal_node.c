/*  shoal_node.c - executor: a FIFO of RUN messages, built-in handlers
    and plugin handlers.

    The node keeps the RUN messages it was sent (up to its capacity, the
    scheduler's credit) and runs them one by one. Handlers are functions
    over (payload, result writer, error buffer); they never block the
    actor beyond their own work except `sleep`, `exec` and plugins, which
    run as "blocking": nothing waits behind them, $TERM and CANCEL are
    watched (sleep, exec) or offered to the handler (plugins), and the
    job's lease is renewed with EXTEND heartbeats while they run.
    Heartbeats are paced on the port's clock (tests move it), checked at
    least every S_BEAT_TICK_MS of real time.
*/
#include "shoal_node.h"
#include "shoal_exec.h"
#include "shoal_scheduler.h"
#include "shoal_store.h"

#include "shoal_actor.h"
#include "shoal_event.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_place.h"
#include "shoal_plugins.h"
#include "shoal_port.h"

#include <string.h>

#define S_SLEEP_MAX_MS    (24ull * 3600 * 1000)
#define S_CREDIT_MS       1000
#define S_RESULTS_MAX     256
#define S_BEAT_TICK_MS    100 /* longest real wait between heartbeat checks */
#define S_STARTED_WAIT_MS 10000

/*  Types plugins may not take. */
static const char *const s_builtins[] = {"noop", "echo", "sleep",
                                         "fail", "exec", NULL};

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    bool verbose;
    bool terminated;
    uint32_t capacity;
    uint32_t weight;                    /* executors/weight */
    char labels[SHOAL_LABELS_TEXT_MAX]; /* executors/labels, canonical */
    zlistx_t *runs;                     /* shoal_in_t * (RUN messages) */
    shoal_wr_t *results;                /* RESULT items not yet sent */
    uint32_t nresults;
    uint64_t batch_started_us;
    uint64_t next_credit_ms;
    uint64_t done;
    shoal_exec_opts_t exec_opts;
    bool blocking; /* a handler that may take long is running */
    char bus[256];
    shoal_id_t running; /* the job being executed */
    uint64_t running_epoch;
    uint32_t running_attempt;
    char running_queue[SHOAL_NAME_MAX + 1];
    shoal_port_t *cancel;       /* "x.<job id>": CANCEL of the running job */
    uint64_t beat_us;           /* heartbeat period (port clock) */
    bool beat_set;              /* executors/heartbeat given: keep it */
    uint64_t run_beat_us;       /* the running job's: from the owner's lease */
    shoal_exec_opts_t run_opts; /* exec limits for the running job */
    uint64_t next_beat_us;      /* next EXTEND of the running job */
    int progress;               /* last progress published, -1 = none */
    shoal_plugins_t *plugins;
    shoal_id_t started_id; /* the last STARTED sent (the store answers OK) */
} self_t;

typedef enum { S_OK, S_FAIL, S_ABANDON, S_CANCELLED } s_outcome_t;

static void
s_in_free (void **item)
{
    shoal_in_t *in = *item;
    if (in) {
        shoal_in_close (in);
        free (in);
        *item = NULL;
    }
}

static void
s_send_credit (self_t *self, bool boot)
{
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_CREDIT,
                                      SHOAL_SCHEDULER_NAME, NULL);
    shoal_wr_map (w, 5);
    /* While a blocking handler runs, take no new work: 0 slots. */
    shoal_wr_kv_uint (w, "capacity", self->blocking ? 0 : self->capacity);
    shoal_wr_kv_uint (w, "busy", zlistx_size (self->runs));
    shoal_wr_kv_bool (w, "boot", boot);
    /* What the scheduler places by: labels jobs may require, and the
       share of the weighted policy. */
    shoal_wr_str (w, "labels");
    shoal_labels_write (w, self->labels);
    shoal_wr_kv_uint (w, "weight", self->weight);
    shoal_port_send (self->port);
    self->next_credit_ms = (uint64_t) zclock_mono () + S_CREDIT_MS;
}

/*  Hands the RUNs waiting in our FIFO back to the store (they have not
    started: their attempt does not count), so other executors take them.
    keep_first keeps the one running at the head. */
static void
s_release_waiting (self_t *self, bool keep_first)
{
    size_t n = zlistx_size (self->runs);
    if (keep_first && n > 0) {
        n--;
    }
    if (n == 0) {
        return;
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_RELEASE, SHOAL_STORE_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, (uint32_t) n);
    shoal_in_t *in = zlistx_first (self->runs);
    if (keep_first) {
        in = zlistx_next (self->runs);
    }
    for (; in; in = zlistx_next (self->runs)) {
        const uint8_t *idp = NULL;
        uint32_t idlen = 0;
        uint64_t epoch = 0;
        shoal_map_bin (in->body, in->body_len, "id", &idp, &idlen);
        shoal_map_uint (in->body, in->body_len, "e", &epoch);
        shoal_wr_map (w, 2);
        shoal_wr_kv_bin (w, "id", idp ? idp : (const uint8_t *) "", idlen);
        shoal_wr_kv_uint (w, "e", epoch);
    }
    shoal_port_send (self->port);
    while (zlistx_size (self->runs) > (keep_first ? 1u : 0u)) {
        zlistx_last (self->runs);
        zlistx_delete (self->runs, zlistx_cursor (self->runs));
    }
}

static void s_flush_results (self_t *self);
static void s_await_started (self_t *self);

/*  Renews the running job's lease (EXTEND) when a heartbeat is due, and
    publishes a changed progress (percent >= 0) as a job.progress event.
    Called from every loop that waits for a blocking handler. */
static void
s_heartbeat (self_t *self, int percent)
{
    if (percent >= 0 && percent != self->progress) {
        self->progress = percent;
        shoal_wr_t *ev = shoal_event_begin (self->port, 1);
        shoal_event_head (ev, self->port, "job.progress", 4);
        shoal_wr_kv_bin (ev, "id", self->running.b, 16);
        shoal_wr_kv_str (ev, "queue", self->running_queue);
        shoal_wr_kv_uint (ev, "attempt", self->running_attempt);
        shoal_wr_kv_uint (ev, "percent", (uint64_t) percent);
        shoal_port_send (self->port);
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    if (now < self->next_beat_us) {
        return;
    }
    self->next_beat_us = now + self->run_beat_us;
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_EXTEND, SHOAL_STORE_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, 1);
    shoal_wr_map (w, 2);
    shoal_wr_kv_bin (w, "id", self->running.b, 16);
    shoal_wr_kv_uint (w, "e", self->running_epoch);
    shoal_port_send (self->port);
}

/*  Around a handler that may block (sleep, exec, plugins): no work
    queues up behind it, and the scheduler sees this executor as full. */
static void
s_blocking (self_t *self, bool on)
{
    if (on) {
        s_flush_results (self); /* don't hold finished results hostage */
        s_release_waiting (self, true);
        /* A port named after the job: the store sends CANCEL there, so a
           cancel can never stop any other run. */
        char name[SHOAL_NAME_MAX + 1] = "x.";
        shoal_id_format (&self->running, name + 2);
        self->cancel =
            shoal_port_new (self->bus, name, shoal_port_clock (self->port));
        /* Beats are paced from now, before the store hears of the start
           (a test moves its clock once the store shows it running). */
        self->progress = -1;
        self->next_beat_us =
            shoal_clock_now_us (shoal_port_clock (self->port)) +
            self->run_beat_us;
        /* The store notes the run as started: if this executor dies now,
           the run is what killed it (a failed attempt, not a requeue). */
        shoal_hdr_t hdr;
        memset (&hdr, 0, sizeof hdr);
        hdr.type = SHOAL_M_STARTED;
        shoal_port_new_id (self->port, &hdr.id);
        strcpy (hdr.to, SHOAL_STORE_NAME);
        self->started_id = hdr.id;
        shoal_wr_t *w = shoal_port_begin_hdr (self->port, &hdr);
        shoal_wr_map (w, 2);
        shoal_wr_kv_bin (w, "id", self->running.b, 16);
        shoal_wr_kv_uint (w, "e", self->running_epoch);
        shoal_port_send (self->port);
    } else {
        shoal_port_destroy (&self->cancel);
    }
    self->blocking = on;
    s_send_credit (self, false);
}

static void
s_flush_results (self_t *self)
{
    if (self->nresults == 0) {
        return;
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_RESULT, SHOAL_STORE_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, self->nresults);
    shoal_wr_raw (w, shoal_wr_data (self->results),
                  shoal_wr_size (self->results));
    shoal_port_send (self->port);
    shoal_wr_reset (self->results);
    self->nresults = 0;
}

/*  Sleeps ms, watching the pipe ($TERM: S_ABANDON) and the run's cancel
    port (S_CANCELLED). */
static s_outcome_t
s_sleep (self_t *self, uint64_t ms)
{
    uint64_t until = (uint64_t) zclock_mono () + ms;
    zmq_pollitem_t items[] = {
        {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0},
        {self->cancel ? zsock_resolve (shoal_port_sock (self->cancel)) : NULL,
         0, ZMQ_POLLIN, 0},
    };
    for (;;) {
        uint64_t now = (uint64_t) zclock_mono ();
        if (now >= until) {
            return S_OK;
        }
        s_heartbeat (self, -1);
        uint64_t wait = until - now;
        if (wait > S_BEAT_TICK_MS) {
            wait = S_BEAT_TICK_MS;
        }
        if (zmq_poll (items, self->cancel ? 2 : 1, (long) wait) <= 0) {
            continue;
        }
        if ((items[0].revents & ZMQ_POLLIN) &&
            shoal_actor_pipe_term (self->pipe, "node")) {
            self->terminated = true;
            return S_ABANDON;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            return S_CANCELLED;
        }
    }
}

static void
s_exec_beat (void *arg)
{
    s_heartbeat (arg, -1);
}

/*  Plugin hooks. The handler is told to stop on a CANCEL of its run or
    any message on the pipe (read once the handler has returned). */
static bool
s_plugin_stop (void *arg)
{
    self_t *self = arg;
    zmq_pollitem_t items[] = {
        {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0},
        {self->cancel ? zsock_resolve (shoal_port_sock (self->cancel)) : NULL,
         0, ZMQ_POLLIN, 0},
    };
    return zmq_poll (items, self->cancel ? 2 : 1, 0) > 0;
}

static bool
s_plugin_beat (void *arg, int percent)
{
    s_heartbeat (arg, percent);
    return s_plugin_stop (arg);
}

static s_outcome_t
s_run_plugin (self_t *self, const shoal_plugin_handler_t *h, const char *type,
              const uint8_t *pl, size_t pl_len, uint32_t timeout_ms,
              shoal_wr_t *r, char *er, size_t er_cap, char *ec, size_t ec_cap)
{
    char id[SHOAL_ID_TEXT];
    shoal_id_format (&self->running, id);
    shoal_plugin_job_t job = {
        .id = id,
        .type = type,
        .queue = self->running_queue,
        .attempt = self->running_attempt,
        .timeout_ms = timeout_ms,
    };
    shoal_plugins_hooks_t hooks = {s_plugin_beat, s_plugin_stop, self};
    s_blocking (self, true);
    s_await_started (self);
    bool ok = shoal_plugins_run (h, &job, pl, pl_len, &hooks, r, er, er_cap, ec,
                                 ec_cap);
    zmq_pollitem_t cancel = {
        self->cancel ? zsock_resolve (shoal_port_sock (self->cancel)) : NULL, 0,
        ZMQ_POLLIN, 0};
    bool cancelled = self->cancel && zmq_poll (&cancel, 1, 0) > 0;
    s_blocking (self, false);
    if (cancelled) {
        snprintf (er, er_cap, "cancelled");
        snprintf (ec, ec_cap, "cancelled");
        return S_CANCELLED;
    }
    zmq_pollitem_t pipe = {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&pipe, 1, 0) > 0 &&
        shoal_actor_pipe_term (self->pipe, "node")) {
        self->terminated = true;
        if (!ok) {
            return S_ABANDON; /* told to stop: stays leased */
        }
    }
    return ok ? S_OK : S_FAIL;
}

/*  Runs one job. Result value goes to r (msgpack), error text to er. */
static s_outcome_t
s_run (self_t *self, const char *type, const uint8_t *pl, size_t pl_len,
       uint32_t timeout_ms, shoal_wr_t *r, char *er, size_t er_cap, char *ec,
       size_t ec_cap)
{
    if (streq (type, "noop")) {
        return S_OK;
    }
    if (streq (type, "echo")) {
        if (pl) {
            shoal_wr_raw (r, pl, pl_len);
        }
        return S_OK;
    }
    if (streq (type, "fail")) {
        /* {"message": text, "class": error class for retry rules} */
        const char *m;
        uint32_t mlen;
        if (pl &&
            shoal_map_str (pl, pl_len, "message", &m, &mlen) == SHOAL_OK) {
            snprintf (er, er_cap, "%.*s", (int) mlen, m);
        } else {
            snprintf (er, er_cap, "failed");
        }
        if (pl && shoal_map_str (pl, pl_len, "class", &m, &mlen) == SHOAL_OK) {
            snprintf (ec, ec_cap, "%.*s", (int) mlen, m);
        }
        return S_FAIL;
    }
    if (streq (type, "sleep")) {
        uint64_t ms = 0;
        if (!pl || shoal_map_uint (pl, pl_len, "ms", &ms) ||
            ms > S_SLEEP_MAX_MS) {
            snprintf (er, er_cap, "sleep needs {\"ms\": 0..%llu}",
                      (unsigned long long) S_SLEEP_MAX_MS);
            return S_FAIL;
        }
        bool cut = timeout_ms && ms > timeout_ms;
        s_blocking (self, true);
        s_outcome_t slept = s_sleep (self, cut ? timeout_ms : ms);
        s_blocking (self, false);
        if (slept == S_CANCELLED) {
            snprintf (er, er_cap, "cancelled");
            snprintf (ec, ec_cap, "cancelled");
            return S_CANCELLED;
        }
        if (slept != S_OK) {
            return S_ABANDON;
        }
        if (cut) {
            snprintf (er, er_cap, "timed out after %u ms", timeout_ms);
            snprintf (ec, ec_cap, "timeout");
            return S_FAIL;
        }
        return S_OK;
    }
    if (streq (type, "exec")) {
        s_blocking (self, true);
        shoal_exec_opts_t opts = self->run_opts;
        opts.beat = s_exec_beat;
        opts.beat_arg = self;
        /* The job's context. Its id is the same for every attempt and
           every redelivery after a crash: the idempotency key of the
           work (for a workflow node, of that node's activation). */
        char id[SHOAL_ID_TEXT];
        shoal_id_format (&self->running, id);
        char env_id[16 + SHOAL_ID_TEXT], env_key[32 + SHOAL_ID_TEXT];
        char env_attempt[32], env_queue[16 + SHOAL_NAME_MAX];
        snprintf (env_id, sizeof env_id, "SHOAL_JOB_ID=%s", id);
        snprintf (env_key, sizeof env_key, "SHOAL_IDEMPOTENCY_KEY=%s", id);
        snprintf (env_attempt, sizeof env_attempt, "SHOAL_ATTEMPT=%u",
                  self->running_attempt);
        snprintf (env_queue, sizeof env_queue, "SHOAL_QUEUE=%s",
                  self->running_queue);
        const char *env[] = {env_id, env_key, env_attempt, env_queue, NULL};
        opts.env = env;
        if (timeout_ms) {
            opts.max_timeout_ms = timeout_ms; /* the job's own timeout */
        }
        shoal_exec_outcome_t o = shoal_exec_run (
            pl, pl_len, &opts, self->pipe,
            self->cancel ? shoal_port_sock (self->cancel) : NULL, r, er, er_cap,
            ec, ec_cap);
        s_blocking (self, false);
        if (o == SHOAL_EXEC_CANCELLED) {
            return S_CANCELLED;
        }
        if (o == SHOAL_EXEC_INTERRUPTED &&
            shoal_actor_pipe_term (self->pipe, "node")) {
            self->terminated = true;
            return S_ABANDON; /* stays leased, requeued at restart */
        }
        return o == SHOAL_EXEC_OK ? S_OK : S_FAIL;
    }
    const shoal_plugin_handler_t *h = shoal_plugins_find (self->plugins, type);
    if (h) {
        return s_run_plugin (self, h, type, pl, pl_len, timeout_ms, r, er,
                             er_cap, ec, ec_cap);
    }
    snprintf (er, er_cap, "no handler for type %s", type);
    return S_FAIL;
}

static void
s_execute (self_t *self, shoal_in_t *in, shoal_wr_t *r)
{
    const uint8_t *idp;
    uint32_t idlen;
    uint64_t epoch;
    char type[SHOAL_NAME_MAX + 1];
    if (shoal_map_bin (in->body, in->body_len, "id", &idp, &idlen) ||
        idlen != 16 || shoal_map_uint (in->body, in->body_len, "e", &epoch) ||
        shoal_map_strcpy (in->body, in->body_len, "t", type, sizeof type)) {
        shoal_warn ("node: malformed RUN from %s", in->hdr.from);
        return;
    }
    const uint8_t *pl = NULL;
    size_t pl_len = 0;
    shoal_mp_val_t v;
    if (shoal_map_find (in->body, in->body_len, "pl", &v, &pl, &pl_len)) {
        pl = NULL;
    }
    if (pl && v.type != SHOAL_MP_MAP && !streq (type, "echo") &&
        !shoal_plugins_find (self->plugins, type)) {
        pl = NULL; /* handlers with parameters take a map */
    }
    uint64_t timeout_ms = 0;
    shoal_map_uint (in->body, in->body_len, "to", &timeout_ms);
    /* The lease is the owner's (RUN's lm): on another host this
       executor's own store/lease says nothing about it. */
    uint64_t lm = 0;
    self->run_beat_us = self->beat_us;
    self->run_opts = self->exec_opts;
    if (shoal_map_uint (in->body, in->body_len, "lm", &lm) == SHOAL_OK &&
        lm > 0 && lm <= 86400000) {
        if (!self->beat_set) {
            self->run_beat_us = lm / 3 > 0 ? lm / 3 * 1000 : 1000;
        }
        self->run_opts.default_timeout_ms = (uint32_t) lm;
        self->run_opts.max_timeout_ms = (uint32_t) lm;
    }
    char er[SHOAL_ERRTEXT_MAX] = "";
    char ec[SHOAL_CLASS_MAX + 1] = "error";
    memcpy (self->running.b, idp, 16);
    self->running_epoch = epoch;
    uint64_t attempt = 0;
    shoal_map_uint (in->body, in->body_len, "a", &attempt);
    self->running_attempt =
        attempt > UINT32_MAX ? UINT32_MAX : (uint32_t) attempt;
    if (shoal_map_strcpy (in->body, in->body_len, "q", self->running_queue,
                          sizeof self->running_queue)) {
        self->running_queue[0] = '\0';
    }
    shoal_wr_reset (r);
    s_outcome_t out =
        s_run (self, type, pl, pl_len,
               timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t) timeout_ms, r,
               er, sizeof er, ec, sizeof ec);
    if (out == S_ABANDON) {
        return;
    }
    if (out == S_CANCELLED) {
        out = S_FAIL; /* reported like a failure; the store ignores it */
    }
    if (self->nresults == 0) {
        self->batch_started_us = shoal_mono_us ();
    }
    if (shoal_wr_size (r) > SHOAL_FRAME_MAX) {
        if (out == S_OK) {
            snprintf (er, sizeof er, "result larger than %u bytes",
                      SHOAL_FRAME_MAX);
            out = S_FAIL;
        }
        shoal_wr_reset (r); /* too large to send either way */
    }
    /* A failed run may have a result too (exec: the captured output). */
    bool has_r = shoal_wr_size (r) > 0 && shoal_wr_error (r) == SHOAL_OK;
    shoal_wr_map (self->results, 3 + has_r + 2 * (out == S_FAIL));
    shoal_wr_kv_bin (self->results, "id", idp, 16);
    shoal_wr_kv_uint (self->results, "e", epoch);
    shoal_wr_kv_bool (self->results, "ok", out == S_OK);
    if (has_r) {
        shoal_wr_kv_raw (self->results, "r", shoal_wr_data (r),
                         shoal_wr_size (r));
    }
    if (out == S_FAIL) {
        shoal_wr_kv_str (self->results, "er", er);
        shoal_wr_kv_str (self->results, "ec", ec);
    }
    self->nresults++;
    self->done++;
    /* Flush at size, or when results have waited for more than 1 ms. */
    if (self->nresults >= S_RESULTS_MAX ||
        shoal_mono_us () - self->batch_started_us > 1000) {
        s_flush_results (self);
    }
}

/*  Takes one message (owned): RUNs are queued, others answered. */
static void
s_take (self_t *self, shoal_in_t *in)
{
    if (in->hdr.type == SHOAL_M_RUN) {
        zlistx_add_end (self->runs, in);
        return;
    }
    if (in->hdr.type == SHOAL_M_CANCEL) {
        /* Between runs nothing is executing: drop it if it waits. */
        const uint8_t *cid;
        uint32_t clen;
        if (shoal_map_bin (in->body, in->body_len, "id", &cid, &clen) ==
                SHOAL_OK &&
            clen == 16) {
            /* the head may be running: only a RUN behind it is dropped */
            shoal_in_t *q = zlistx_first (self->runs);
            if (q && self->blocking) {
                q = zlistx_next (self->runs);
            }
            for (; q; q = zlistx_next (self->runs)) {
                const uint8_t *qid;
                uint32_t qlen;
                if (shoal_map_bin (q->body, q->body_len, "id", &qid, &qlen) ==
                        SHOAL_OK &&
                    qlen == 16 && memcmp (qid, cid, 16) == 0) {
                    zlistx_delete (self->runs, zlistx_cursor (self->runs));
                    break;
                }
            }
        }
    } else if (in->hdr.type == SHOAL_M_PING) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_OK, in->hdr.from,
                                          &in->hdr.id);
        shoal_wr_map (w, 0);
        shoal_port_send (self->port);
    } else if (in->hdr.type != SHOAL_M_ERROR && in->hdr.type != SHOAL_M_OK) {
        /* OK: the store's answer to a STARTED nobody waits for */
        shoal_port_error (self->port, &in->hdr, SHOAL_ERR_UNKNOWN_TYPE,
                          "executor does not handle %s",
                          shoal_mtype_name (in->hdr.type));
    }
    shoal_in_close (in);
    free (in);
}

/*  Takes every waiting message. */
static void
s_self_handle_port (self_t *self)
{
    for (;;) {
        shoal_in_t *in = malloc (sizeof *in);
        if (!in) {
            return;
        }
        shoal_err_t rc = shoal_port_recv (self->port, in, ZMQ_DONTWAIT);
        if (rc) {
            free (in);
            if (rc == SHOAL_ERR_BUSY || rc == SHOAL_ERR_INTERRUPTED ||
                rc == SHOAL_ERR_IO) {
                return;
            }
            continue;
        }
        s_take (self, in);
    }
}

/*  Waits (at most S_STARTED_WAIT_MS, or until the pipe speaks) for the
    store to have committed the last STARTED: a handler that may crash
    the process must not run before that, or the crash would look like
    an interrupted run (requeued, not counted) and loop forever. The
    crash of a process can lose what it sent last (libzmq), so the
    answer, not the send, is what counts. Other messages are taken as
    usual meanwhile. */
static void
s_await_started (self_t *self)
{
    zmq_pollitem_t items[] = {
        {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (shoal_port_sock (self->port)), 0, ZMQ_POLLIN, 0},
    };
    int64_t until = zclock_mono () + S_STARTED_WAIT_MS;
    while (zclock_mono () < until) {
        if (zmq_poll (items, 2, 100) < 0 || (items[0].revents & ZMQ_POLLIN)) {
            return; /* stopping: the handler is told at once */
        }
        if (!(items[1].revents & ZMQ_POLLIN)) {
            continue;
        }
        for (;;) {
            shoal_in_t *in = malloc (sizeof *in);
            if (!in) {
                return;
            }
            if (shoal_port_recv (self->port, in, ZMQ_DONTWAIT) != SHOAL_OK) {
                free (in);
                break;
            }
            bool answer = in->hdr.type == SHOAL_M_OK && in->hdr.has_corr &&
                          memcmp (&in->hdr.corr, &self->started_id,
                                  sizeof self->started_id) == 0;
            s_take (self, in);
            if (answer) {
                return;
            }
        }
    }
    shoal_warn ("%s: the store did not confirm a run's start",
                shoal_port_name (self->port));
}

/*  NODE_BOOT handshake: the store must have requeued our old leases
    before the scheduler gives us new ones. Retries until answered. */
static shoal_err_t
s_boot (self_t *self)
{
    zmq_pollitem_t items[] = {
        {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (shoal_port_sock (self->port)), 0, ZMQ_POLLIN, 0},
    };
    for (;;) {
        shoal_id_t id;
        shoal_port_new_id (self->port, &id);
        shoal_hdr_t hdr;
        memset (&hdr, 0, sizeof hdr);
        hdr.type = SHOAL_M_NODE_BOOT;
        hdr.id = id;
        strcpy (hdr.to, SHOAL_STORE_NAME);
        shoal_wr_t *w = shoal_port_begin_hdr (self->port, &hdr);
        shoal_wr_map (w, 0);
        shoal_err_t rc = shoal_port_send (self->port);
        if (rc) {
            return rc;
        }
        uint64_t until = (uint64_t) zclock_mono () + 1000;
        while ((uint64_t) zclock_mono () < until) {
            if (zmq_poll (items, 2, 100) < 0) {
                return SHOAL_ERR_INTERRUPTED;
            }
            if ((items[0].revents & ZMQ_POLLIN) &&
                shoal_actor_pipe_term (self->pipe, "node")) {
                self->terminated = true;
                return SHOAL_OK;
            }
            shoal_in_t in;
            while (shoal_port_recv (self->port, &in, ZMQ_DONTWAIT) ==
                   SHOAL_OK) {
                bool answered = in.hdr.has_corr &&
                                memcmp (&in.hdr.corr, &id, sizeof id) == 0 &&
                                in.hdr.type == SHOAL_M_OK;
                shoal_in_close (&in);
                if (answered) {
                    return SHOAL_OK;
                }
            }
        }
    }
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->runs);
        shoal_port_destroy (&self->cancel);
        shoal_plugins_destroy (&self->plugins);
        shoal_wr_destroy (&self->results);
        shoal_port_destroy (&self->port);
        free (self);
        *self_p = NULL;
    }
}

static shoal_err_t
s_self_new (zsock_t *pipe, const shoal_actor_args_t *args, self_t **out)
{
    self_t *self = calloc (1, sizeof *self);
    *out = self;
    if (!self) {
        return SHOAL_ERR_NOMEM;
    }
    self->pipe = pipe;
    self->verbose = args->verbose;
    int64_t prefetch;
    if (shoal_config_int (args->config, "executors/prefetch", 1, 65536,
                          &prefetch)) {
        return SHOAL_ERR_CONFIG;
    }
    self->capacity = (uint32_t) prefetch;
    int64_t weight;
    char why[512];
    if (shoal_config_int (args->config, "executors/weight", 1, SHOAL_WEIGHT_MAX,
                          &weight)) {
        return SHOAL_ERR_CONFIG;
    }
    self->weight = (uint32_t) weight;
    if (shoal_labels_parse (shoal_config_get (args->config, "executors/labels"),
                            SHOAL_LABELS_MAX, self->labels, sizeof self->labels,
                            why, sizeof why)) {
        shoal_error ("%s: executors/labels: %s", args->name, why);
        return SHOAL_ERR_CONFIG;
    }
    self->exec_opts = shoal_exec_opts_default ();
    /* A run without a timeout of its own ends before its lease does
       (store/lease), so it is never run twice while still running. */
    int64_t lease_ms;
    if (shoal_config_int (args->config, "store/lease", 1, 86400000,
                          &lease_ms)) {
        return SHOAL_ERR_CONFIG;
    }
    self->exec_opts.default_timeout_ms = (uint32_t) lease_ms;
    self->exec_opts.max_timeout_ms = (uint32_t) lease_ms;
    /* Heartbeats: three per lease unless configured, so that one or two
       lost on the way do not cost the lease. */
    int64_t beat_ms;
    if (shoal_config_int (args->config, "executors/heartbeat", 0, 86400000,
                          &beat_ms)) {
        return SHOAL_ERR_CONFIG;
    }
    self->beat_set = beat_ms != 0;
    if (beat_ms == 0) {
        beat_ms = lease_ms / 3 > 0 ? lease_ms / 3 : 1;
    }
    self->beat_us = (uint64_t) beat_ms * 1000;
    self->run_beat_us = self->beat_us;
    shoal_err_t rc;
    self->plugins = shoal_plugins_load (
        shoal_config_get (args->config, "executors/plugins"), s_builtins, why,
        sizeof why, &rc);
    if (!self->plugins) {
        shoal_error ("%s: %s", args->name, why);
        return rc;
    }
    self->runs = zlistx_new ();
    self->results = shoal_wr_new ();
    if (!self->runs || !self->results) {
        return SHOAL_ERR_NOMEM;
    }
    zlistx_set_destructor (self->runs, s_in_free);
    snprintf (self->bus, sizeof self->bus, "%s", args->bus);
    self->port = shoal_port_new (args->bus, args->name, &args->clock);
    return self->port ? SHOAL_OK : SHOAL_ERR_IO;
}

const char *const *
shoal_node_builtins (void)
{
    return s_builtins;
}

void
shoal_node_actor (zsock_t *pipe, void *args_)
{
    zsock_signal (pipe, 0);
    self_t *self = NULL;
    shoal_err_t rc = s_self_new (pipe, args_, &self);
    shoal_actor_ready (pipe, rc);
    if (rc) {
        s_self_destroy (&self);
        return;
    }
    rc = s_boot (self);
    if (rc || self->terminated) {
        s_self_destroy (&self);
        return;
    }
    s_send_credit (self, true);
    shoal_wr_t *ev = shoal_event_begin (self->port, 1);
    shoal_event_head (ev, self->port, "node.up", 2);
    shoal_wr_kv_str (ev, "actor", shoal_port_name (self->port));
    shoal_wr_kv_uint (ev, "capacity", self->capacity);
    shoal_port_send (self->port);
    shoal_wr_t *r = shoal_wr_new ();
    zmq_pollitem_t items[] = {
        {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (shoal_port_sock (self->port)), 0, ZMQ_POLLIN, 0},
    };
    while (r && !self->terminated) {
        /* With results held and no run waiting, only look for RUNs that
           already arrived (timeout 0), then send: holding a result while
           idle only adds latency. */
        long timeout =
            zlistx_size (self->runs) || self->nresults ? 0 : S_CREDIT_MS;
        if (zmq_poll (items, 2, timeout) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            self->terminated = shoal_actor_pipe_term (pipe, "node");
            continue;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_self_handle_port (self);
        }
        shoal_in_t *in = zlistx_first (self->runs);
        if (in) {
            s_execute (self, in, r);
            zlistx_delete (self->runs, NULL);
        } else {
            s_flush_results (self); /* idle: nothing more to batch */
        }
        if ((uint64_t) zclock_mono () >= self->next_credit_ms) {
            s_send_credit (self, false);
        }
    }
    if (!self->terminated) {
        shoal_error ("node %s: out of memory", shoal_port_name (self->port));
    }
    s_flush_results (self);
    /* Stopping: what waits here has not started; give it back so that
       its attempt is not counted (the store stops after us). */
    s_release_waiting (self, false);
    shoal_wr_destroy (&r);
    s_self_destroy (&self);
}
