/*  shoal_store_runs.c - workflow runs: nodes executed as jobs, results
    routed along the definition's edges, all inside the store's
    transactions.

    A run (runs: id -> record) names a stored definition revision and
    keeps its input; each node has a record (run_nodes: run id + node
    index) with its state (job state names: waiting until reached), its
    job, its output, the incoming edges decided and fired so far. A node
    runs as an ordinary job (queue "workflows", the node's type, priority,
    timeout, retry policy; payload the node's config, or the message that
    reached it when it has none) carrying the run id and node index.

    When a node's job ends (store_run_final, called where a job becomes
    final), in that same transaction: the node's state and output are
    recorded, each outgoing edge is decided - it fires when its trigger
    matches the outcome (complete: succeeded, fail: dead, all: either),
    its port matches (a node's port is "default" unless its output is a
    map with a string "port") and its condition holds over the output and
    the run's input - and its target learns of it. A target with join
    "any" starts on the first edge that fires; with "all" once every
    incoming edge is decided, if any fired (its message is the output of
    the one fired edge, or a map {source node id: output} when several
    did). A target none of whose edges fired is skipped (state cancelled,
    error "not reached"), and so are its successors. The run ends when
    every node is decided: failed if some node died and none of its edges
    handled it (fired on fail/all), else succeeded. So a crash can never
    leave a run half-advanced: the result, the routing and the next jobs
    commit together.

    Limits (node concurrency and rate, the run's max_concurrency and
    timeout) are in shoal_store_runlimits.c; the hooks here are marked
    "LIMITS HOOK".

    Not yet here: the router and breaker actors (routing runs inline in
    the store), fallback nodes.
*/
#include "shoal_store_int.h"
#include "shoal_expr.h"
#include "shoal_wf.h"

#define S_OUT_MAX   (1u << 20) /* output bytes kept per node */
#define S_NKEY      20         /* run id + node index */
#define S_ERROR_MAX 256
/*  Views stay well inside a client frame (1 MiB): an input or output
    bigger than this shows as its size; a listing stops at S_LIST_MAX. */
#define S_VIEW_VALUE_MAX (16u << 10)
#define S_VIEW_TOTAL     (768u << 10)
#define S_LIST_MAX       (512u << 10)

enum {
    R_RUNNING,
    R_SUCCEEDED,
    R_FAILED,
    R_CANCELLED,
    R_COMPENSATING, /* failed; undoing completed nodes before it ends */
    R__COUNT
};
static const char *const s_run_states[R__COUNT] = {
    "running", "succeeded", "failed", "cancelled", "compensating"};

static bool
s_final (int state)
{
    return state == R_SUCCEEDED || state == R_FAILED || state == R_CANCELLED;
}

typedef struct {
    shoal_id_t id;
    char name[SHOAL_NAME_MAX + 1];
    uint32_t rev;
    uint8_t state;
    uint64_t created_us, finished_us;
    uint32_t undecided; /* nodes not yet ended or skipped */
    uint32_t unhandled; /* nodes that died with no edge taking it */
    bool paused;        /* nodes reached now wait for resume */
    char error[S_ERROR_MAX];
    uint8_t *input; /* owned copy, or NULL */
    size_t input_len;
} s_run_t;

typedef struct {
    uint8_t state; /* shoal_job_state_t; WAITING until reached */
    bool has_job;
    shoal_id_t job;
    uint32_t arrived, fired; /* incoming edges decided / fired */
    uint64_t started_us, finished_us;
    char port[SHOAL_NAME_MAX + 1];
    char error[S_ERROR_MAX];
    uint8_t *output; /* owned copy, or NULL */
    size_t output_len;
    bool pending;     /* reached while the run was paused: starts on resume */
    bool compensated; /* its compensation node was started */
    uint8_t *msg;     /* its message (owned copy), or NULL */
    size_t msg_len;
} s_node_t;

static void
s_run_clear (s_run_t *r)
{
    free (r->input);
    memset (r, 0, sizeof *r);
}

static void
s_node_clear (s_node_t *n)
{
    free (n->output);
    free (n->msg);
    memset (n, 0, sizeof *n);
}

static uint8_t *
s_dup (const void *p, size_t len)
{
    uint8_t *copy = len ? malloc (len) : NULL;
    if (copy) {
        memcpy (copy, p, len);
    }
    return copy;
}

/*  ---------------------------------------------------------------------
    Records */

static shoal_err_t
s_run_put (self_t *self, const s_run_t *r)
{
    shoal_wr_t *w = shoal_wr_new ();
    if (!w) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_wr_map (w,
                  8 + (r->input != NULL) + (r->error[0] != '\0') + r->paused);
    shoal_wr_kv_str (w, "n", r->name);
    shoal_wr_kv_uint (w, "r", r->rev);
    shoal_wr_kv_uint (w, "s", r->state);
    shoal_wr_kv_uint (w, "c", r->created_us);
    shoal_wr_kv_uint (w, "f", r->finished_us);
    shoal_wr_kv_uint (w, "u", r->undecided);
    shoal_wr_kv_uint (w, "uh", r->unhandled);
    shoal_wr_kv_uint (w, "v", 1);
    if (r->input) {
        shoal_wr_kv_raw (w, "in", r->input, r->input_len);
    }
    if (r->error[0]) {
        shoal_wr_kv_str (w, "er", r->error);
    }
    if (r->paused) {
        shoal_wr_kv_bool (w, "pa", true);
    }
    shoal_err_t rc = shoal_wr_error (w);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_RUNS, r->id.b, 16,
                            shoal_wr_data (w), shoal_wr_size (w));
    }
    shoal_wr_destroy (&w);
    return rc;
}

/*  Reads run id into *r (owned copies; s_run_clear). */
static shoal_err_t
s_run_get (self_t *self, const shoal_id_t *id, s_run_t *r)
{
    memset (r, 0, sizeof *r);
    const void *v;
    size_t len;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_RUNS, id->b, 16, &v, &len);
    if (rc) {
        return rc;
    }
    size_t used;
    uint64_t rev, state, undecided, unhandled;
    if (shoal_mp_validate (v, len, &self->lim, &used) ||
        shoal_map_strcpy (v, len, "n", r->name, sizeof r->name) ||
        shoal_map_uint (v, len, "r", &rev) ||
        shoal_map_uint (v, len, "s", &state) ||
        shoal_map_uint (v, len, "c", &r->created_us) ||
        shoal_map_uint (v, len, "f", &r->finished_us) ||
        shoal_map_uint (v, len, "u", &undecided) ||
        shoal_map_uint (v, len, "uh", &unhandled) || rev > UINT32_MAX ||
        state >= R__COUNT || undecided > UINT32_MAX || unhandled > UINT32_MAX) {
        return SHOAL_ERR_CORRUPT;
    }
    r->id = *id;
    r->rev = (uint32_t) rev;
    r->state = (uint8_t) state;
    r->undecided = (uint32_t) undecided;
    r->unhandled = (uint32_t) unhandled;
    shoal_map_strcpy (v, len, "er", r->error, sizeof r->error);
    shoal_map_bool (v, len, "pa", &r->paused);
    shoal_mp_val_t val;
    const uint8_t *in;
    size_t in_len;
    if (shoal_map_find (v, len, "in", &val, &in, &in_len) == SHOAL_OK) {
        if (!(r->input = s_dup (in, in_len))) {
            return SHOAL_ERR_NOMEM;
        }
        r->input_len = in_len;
    }
    return SHOAL_OK;
}

static size_t
s_node_key (const shoal_id_t *run, uint32_t i, uint8_t *key)
{
    memcpy (key, run->b, 16);
    for (int k = 0; k < 4; k++) {
        key[16 + k] = (uint8_t) (i >> (24 - 8 * k));
    }
    return S_NKEY;
}

static shoal_err_t
s_node_put (self_t *self, const shoal_id_t *run, uint32_t i, const s_node_t *n)
{
    shoal_wr_t *w = shoal_wr_new ();
    if (!w) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_wr_map (w, 6 + n->has_job + (n->port[0] != '\0') +
                         (n->error[0] != '\0') + (n->output != NULL) +
                         n->pending + (n->pending && n->msg) + n->compensated);
    shoal_wr_kv_uint (w, "s", n->state);
    shoal_wr_kv_uint (w, "a", n->arrived);
    shoal_wr_kv_uint (w, "fi", n->fired);
    shoal_wr_kv_uint (w, "st", n->started_us);
    shoal_wr_kv_uint (w, "f", n->finished_us);
    shoal_wr_kv_uint (w, "v", 1);
    if (n->has_job) {
        shoal_wr_kv_bin (w, "j", n->job.b, 16);
    }
    if (n->port[0]) {
        shoal_wr_kv_str (w, "p", n->port);
    }
    if (n->error[0]) {
        shoal_wr_kv_str (w, "er", n->error);
    }
    if (n->output) {
        shoal_wr_kv_raw (w, "o", n->output, n->output_len);
    }
    if (n->compensated) {
        shoal_wr_kv_bool (w, "cp", true);
    }
    if (n->pending) {
        shoal_wr_kv_bool (w, "pd", true);
        if (n->msg) {
            shoal_wr_kv_raw (w, "pm", n->msg, n->msg_len);
        }
    }
    uint8_t key[S_NKEY];
    shoal_err_t rc = shoal_wr_error (w);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_RUN_NODES, key,
                            s_node_key (run, i, key), shoal_wr_data (w),
                            shoal_wr_size (w));
    }
    shoal_wr_destroy (&w);
    return rc;
}

static shoal_err_t
s_node_get (self_t *self, const shoal_id_t *run, uint32_t i, s_node_t *n)
{
    memset (n, 0, sizeof *n);
    uint8_t key[S_NKEY];
    const void *v;
    size_t len;
    shoal_err_t rc = shoal_txn_get (self->txn, SHOAL_DBI_RUN_NODES, key,
                                    s_node_key (run, i, key), &v, &len);
    if (rc) {
        return rc;
    }
    size_t used;
    uint64_t state, arrived, fired;
    if (shoal_mp_validate (v, len, &self->lim, &used) ||
        shoal_map_uint (v, len, "s", &state) ||
        shoal_map_uint (v, len, "a", &arrived) ||
        shoal_map_uint (v, len, "fi", &fired) ||
        shoal_map_uint (v, len, "st", &n->started_us) ||
        shoal_map_uint (v, len, "f", &n->finished_us) ||
        state >= SHOAL_JOB__COUNT || arrived > UINT32_MAX ||
        fired > UINT32_MAX) {
        return SHOAL_ERR_CORRUPT;
    }
    n->state = (uint8_t) state;
    n->arrived = (uint32_t) arrived;
    n->fired = (uint32_t) fired;
    const uint8_t *jid;
    uint32_t jlen;
    if (shoal_map_bin (v, len, "j", &jid, &jlen) == SHOAL_OK && jlen == 16) {
        memcpy (n->job.b, jid, 16);
        n->has_job = true;
    }
    shoal_map_strcpy (v, len, "p", n->port, sizeof n->port);
    shoal_map_strcpy (v, len, "er", n->error, sizeof n->error);
    shoal_mp_val_t val;
    const uint8_t *out;
    size_t out_len;
    if (shoal_map_find (v, len, "o", &val, &out, &out_len) == SHOAL_OK) {
        if (!(n->output = s_dup (out, out_len))) {
            return SHOAL_ERR_NOMEM;
        }
        n->output_len = out_len;
    }
    shoal_map_bool (v, len, "pd", &n->pending);
    shoal_map_bool (v, len, "cp", &n->compensated);
    if (n->pending &&
        shoal_map_find (v, len, "pm", &val, &out, &out_len) == SHOAL_OK) {
        if (!(n->msg = s_dup (out, out_len))) {
            return SHOAL_ERR_NOMEM;
        }
        n->msg_len = out_len;
    }
    return SHOAL_OK;
}

/*  The stored definition name at revision rev (0: the latest). */
static shoal_err_t
s_def_load (self_t *self, const char *name, uint32_t *rev, shoal_wf_t **wf,
            char *err, size_t cap)
{
    if (*rev == 0) {
        char key[SHOAL_NAME_MAX + 8];
        int klen = snprintf (key, sizeof key, "wfrev:%s", name);
        const void *v;
        size_t len;
        shoal_err_t rc = shoal_txn_get (self->txn, SHOAL_DBI_META, key,
                                        (size_t) klen, &v, &len);
        if (rc == SHOAL_OK && len == sizeof *rev) {
            memcpy (rev, v, sizeof *rev);
        } else if (rc == SHOAL_ERR_NOT_FOUND) {
            snprintf (err, cap, "no workflow named %s (shoal workflow define)",
                      name);
            return SHOAL_ERR_NOT_FOUND;
        } else {
            return rc ? rc : SHOAL_ERR_CORRUPT;
        }
    }
    uint8_t key[SHOAL_NAME_MAX + 5];
    size_t n = strlen (name);
    memcpy (key, name, n);
    key[n] = 0;
    for (int i = 0; i < 4; i++) {
        key[n + 1 + (size_t) i] = (uint8_t) (*rev >> (24 - 8 * i));
    }
    const void *v;
    size_t len;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_WF_DEFS, key, n + 5, &v, &len);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        snprintf (err, cap, "workflow %s has no revision %u", name, *rev);
        return rc;
    }
    if (rc) {
        return rc;
    }
    /* Decoding borrows only during the call: v may move on a write. */
    return shoal_wf_decode (v, len, NULL, wf, err, cap) ? SHOAL_ERR_CORRUPT
                                                        : SHOAL_OK;
}

/*  ---------------------------------------------------------------------
    Events */

static void
s_note_run_event (self_t *self, const char *topic, const s_run_t *r)
{
    if (!self->events_on) {
        return;
    }
    shoal_event_head (self->events, self->port, topic, 4 + (r->error[0] != 0));
    shoal_wr_kv_bin (self->events, "id", r->id.b, 16);
    shoal_wr_kv_str (self->events, "workflow", r->name);
    shoal_wr_kv_uint (self->events, "revision", r->rev);
    shoal_wr_kv_str (self->events, "state", s_run_states[r->state]);
    if (r->error[0]) {
        shoal_wr_kv_str (self->events, "error", r->error);
    }
    self->nevents++;
}

/*  run.progress {id, workflow, done, total, percent, counts: {state: n},
    eta_ms?}: after every step, for whoever watches (built only when the
    monitor has a subscriber). eta_ms extrapolates the time per decided
    node so far. */
static shoal_err_t
s_note_progress (self_t *self, const s_run_t *r, const shoal_wf_t *wf,
                 uint64_t now)
{
    if (!self->events_on) {
        return SHOAL_OK;
    }
    uint32_t nn = shoal_wf_node_count (wf), total = 0;
    uint32_t counts[SHOAL_JOB__COUNT] = {0};
    for (uint32_t i = 0; i < nn; i++) {
        if (shoal_wf_node (wf, i)->handler) {
            continue;
        }
        s_node_t n;
        shoal_err_t rc = s_node_get (self, &r->id, i, &n);
        if (rc) {
            return rc;
        }
        counts[n.state < SHOAL_JOB__COUNT ? n.state : SHOAL_JOB_WAITING]++;
        total++;
        s_node_clear (&n);
    }
    uint32_t done = total > r->undecided ? total - r->undecided : 0;
    uint64_t elapsed = now > r->created_us ? now - r->created_us : 0;
    bool eta = done > 0 && done < total;
    uint32_t kinds = 0;
    for (int s = 0; s < SHOAL_JOB__COUNT; s++) {
        kinds += counts[s] > 0;
    }
    shoal_event_head (self->events, self->port, "run.progress", 6 + eta);
    shoal_wr_kv_bin (self->events, "id", r->id.b, 16);
    shoal_wr_kv_str (self->events, "workflow", r->name);
    shoal_wr_kv_uint (self->events, "done", done);
    shoal_wr_kv_uint (self->events, "total", total);
    shoal_wr_kv_uint (self->events, "percent",
                      total ? (uint64_t) done * 100 / total : 100);
    shoal_wr_str (self->events, "counts");
    shoal_wr_map (self->events, kinds);
    for (int s = 0; s < SHOAL_JOB__COUNT; s++) {
        if (counts[s]) {
            shoal_wr_kv_uint (self->events, shoal_job_state_name (s),
                              counts[s]);
        }
    }
    if (eta) {
        shoal_wr_kv_uint (self->events, "eta_ms",
                          elapsed / done * (total - done) / 1000);
    }
    self->nevents++;
    return SHOAL_OK;
}

/*  ---------------------------------------------------------------------
    Routing */

/*  A node's port: "default", or its output's string field "port". */
static void
s_port_of (const uint8_t *out, size_t len, char *port, size_t cap)
{
    if (!out || shoal_map_strcpy (out, len, "port", port, cap) != SHOAL_OK ||
        !port[0]) {
        snprintf (port, cap, "default");
    }
}

/*  Whether edge e fires, given its source node's end. */
static bool
s_fires (const shoal_wf_edge_t *e, const s_node_t *src, const s_run_t *r)
{
    bool ok = src->state == SHOAL_JOB_SUCCEEDED;
    bool dead = src->state == SHOAL_JOB_DEAD;
    if ((e->on == SHOAL_WF_ON_COMPLETE && !ok) ||
        (e->on == SHOAL_WF_ON_FAIL && !dead) ||
        (e->on == SHOAL_WF_ON_ALL && !ok && !dead)) {
        return false;
    }
    if (e->on == SHOAL_WF_ON_COMPLETE && !streq (e->port, src->port)) {
        return false;
    }
    if (!e->cond) {
        return true;
    }
    bool result = false;
    char err[SHOAL_EXPR_ERR_MAX];
    if (shoal_expr_eval (e->cond, e->cond_len, src->output, src->output_len,
                         r->input, r->input_len, &result, err, sizeof err)) {
        return false; /* an evaluation error fails the edge, not the run */
    }
    return result;
}

/*  The message for target node t of a join-all, whose fired incoming
    edges number fired (>= 1): that one output, or {source id: output}
    for several. Written to w. */
static shoal_err_t
s_join_message (self_t *self, const shoal_wf_t *wf, const s_run_t *r,
                uint32_t t, uint32_t fired, shoal_wr_t *w)
{
    if (fired > 1) {
        shoal_wr_map (w, fired);
    }
    uint32_t ne = shoal_wf_edge_count (wf), seen = 0;
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t k = 0; k < ne && seen < fired && rc == SHOAL_OK; k++) {
        const shoal_wf_edge_t *e = shoal_wf_edge (wf, k);
        if (e->to != t) {
            continue;
        }
        s_node_t src;
        rc = s_node_get (self, &r->id, e->from, &src);
        if (rc == SHOAL_OK && s_fires (e, &src, r)) {
            seen++;
            if (fired > 1) {
                shoal_wr_str (w, shoal_wf_node (wf, e->from)->id);
            }
            if (src.output) {
                shoal_wr_raw (w, src.output, src.output_len);
            } else {
                shoal_wr_nil (w);
            }
        }
        s_node_clear (&src);
    }
    if (rc == SHOAL_OK && seen != fired) {
        rc = SHOAL_ERR_CORRUPT; /* the record's count and the edges differ */
    }
    return rc ? rc : shoal_wr_error (w);
}

/*  Starts node i of run r with message msg (NULL: none). */
static shoal_err_t
s_activate (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint32_t i,
            const uint8_t *msg, size_t msg_len, uint64_t now)
{
    /* LIMITS HOOK: the run's max_concurrency gate (shoal_store_runlimits.c)
       decides "start now" or "wait in line". */
    bool go = !r->paused;
    if (go) {
        shoal_err_t rc = store_runlim_admit (self, &r->id, wf, i, &go);
        if (rc) {
            return rc;
        }
    }
    if (!go) {
        /* Paused, or over max_concurrency: the node keeps its message and
           starts on resume, or when a slot frees (s_start_waiting). */
        s_node_t n;
        shoal_err_t rc = s_node_get (self, &r->id, i, &n);
        if (rc == SHOAL_OK) {
            n.pending = true;
            free (n.msg);
            n.msg = msg ? s_dup (msg, msg_len) : NULL;
            n.msg_len = n.msg ? msg_len : 0;
            rc = msg && !n.msg ? SHOAL_ERR_NOMEM
                               : s_node_put (self, &r->id, i, &n);
        }
        s_node_clear (&n);
        return rc;
    }
    const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
    shoal_job_t job;
    memset (&job, 0, sizeof job);
    shoal_port_new_id (self->port, &job.id);
    /* LIMITS HOOK: a node with max_concurrent or rate has its own queue */
    shoal_err_t rc =
        store_runlim_job_queue (self, wf, i, job.queue, sizeof job.queue);
    if (rc) {
        return rc;
    }
    snprintf (job.type, sizeof job.type, "%s", nd->type);
    job.priority = nd->priority;
    job.timeout_ms = nd->timeout_ms;
    job.retry = nd->retry;
    job.retry_len = nd->retry_len;
    job.payload = nd->config ? nd->config : msg;
    job.payload_len = nd->config ? nd->config_len : msg_len;
    job.in_run = true;
    job.run = r->id;
    job.node = i;
    rc = store_insert_job (self, &job, now);
    if (rc) {
        return rc;
    }
    s_node_t n;
    if ((rc = s_node_get (self, &r->id, i, &n)) == SHOAL_OK) {
        n.state = job.state;
        n.pending = false;
        free (n.msg);
        n.msg = NULL;
        n.msg_len = 0;
        n.has_job = true;
        n.job = job.id;
        n.started_us = now;
        rc = s_node_put (self, &r->id, i, &n);
    }
    s_node_clear (&n);
    return rc;
}

/*  LIMITS HOOK: starts the nodes waiting in the run's max_concurrency
    line, first reached first, while slots are free (not while paused). */
static shoal_err_t
s_start_waiting (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint64_t now)
{
    shoal_err_t rc = SHOAL_OK;
    bool found = true;
    while (rc == SHOAL_OK && found && !r->paused && !s_final (r->state)) {
        uint32_t i = 0;
        rc = store_runlim_next (self, &r->id, wf, &i, &found);
        if (rc == SHOAL_OK && found) {
            s_node_t n;
            if ((rc = s_node_get (self, &r->id, i, &n)) == SHOAL_OK) {
                rc = s_activate (self, r, wf, i, n.msg, n.msg_len, now);
            }
            s_node_clear (&n);
        }
    }
    return rc;
}

static shoal_err_t s_wake_run (self_t *self, const s_run_t *r);

/*  Work list items: a node whose outgoing edges must be decided. */
typedef struct {
    uint32_t node;
} s_work_t;

static shoal_err_t
s_push (zlistx_t *work, uint32_t node)
{
    s_work_t *w = malloc (sizeof *w);
    if (!w) {
        return SHOAL_ERR_NOMEM;
    }
    w->node = node;
    return zlistx_add_end (work, w) ? SHOAL_OK : SHOAL_ERR_NOMEM;
}

static shoal_err_t s_activate (self_t *self, s_run_t *r, const shoal_wf_t *wf,
                               uint32_t i, const uint8_t *msg, size_t msg_len,
                               uint64_t now);

/*  Saga: starts the compensation node of the completed node that
    finished last and is not compensated yet (its output is the message),
    one at a time; *started false when none is left. */
static shoal_err_t
s_compensate_next (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint64_t now,
                   bool *started)
{
    *started = false;
    uint32_t nn = shoal_wf_node_count (wf), best = UINT32_MAX;
    uint64_t best_at = 0;
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
        if (nd->compensate < 0) {
            continue;
        }
        s_node_t n;
        if ((rc = s_node_get (self, &r->id, i, &n)) == SHOAL_OK &&
            n.state == SHOAL_JOB_SUCCEEDED && !n.compensated &&
            (best == UINT32_MAX || n.finished_us >= best_at)) {
            best = i;
            best_at = n.finished_us;
        }
        s_node_clear (&n);
    }
    if (rc || best == UINT32_MAX) {
        return rc;
    }
    s_node_t n;
    if ((rc = s_node_get (self, &r->id, best, &n)) == SHOAL_OK) {
        n.compensated = true;
        rc = s_node_put (self, &r->id, best, &n);
    }
    uint32_t comp = (uint32_t) shoal_wf_node (wf, best)->compensate;
    s_node_t c;
    memset (&c, 0, sizeof c);
    if (rc == SHOAL_OK &&
        (rc = s_node_get (self, &r->id, comp, &c)) == SHOAL_OK) {
        c.state = SHOAL_JOB_WAITING; /* may undo several nodes in turn */
        c.pending = false;
        rc = s_node_put (self, &r->id, comp, &c);
    }
    s_node_clear (&c);
    if (rc == SHOAL_OK) {
        rc = s_activate (self, r, wf, comp, n.output, n.output_len, now);
        *started = rc == SHOAL_OK;
    }
    s_node_clear (&n);
    return rc;
}

/*  Ends the run when every node is decided: succeeded; or failed, after
    the compensation nodes of the completed nodes ran (in the reverse of
    the order those finished). */
static shoal_err_t
s_maybe_finish (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint64_t now)
{
    if (r->undecided > 0 || s_final (r->state)) {
        return SHOAL_OK;
    }
    if (r->unhandled) {
        bool started = false;
        shoal_err_t rc = s_compensate_next (self, r, wf, now, &started);
        if (rc || started) {
            if (!rc && r->state != R_COMPENSATING) {
                r->state = R_COMPENSATING;
                s_note_run_event (self, "run.compensating", r);
            }
            return rc;
        }
    }
    r->state = r->unhandled ? R_FAILED : R_SUCCEEDED;
    r->finished_us = now;
    s_note_run_event (
        self, r->state == R_SUCCEEDED ? "run.succeeded" : "run.failed", r);
    return SHOAL_OK;
}

/*  Decides the outgoing edges of the nodes in work, node by node: each
    target learns whether its edge fired, and starts, waits or is skipped
    (skipping pushes the target in turn). */
static shoal_err_t
s_route (self_t *self, s_run_t *r, const shoal_wf_t *wf, zlistx_t *work,
         uint64_t now)
{
    shoal_err_t rc = SHOAL_OK;
    s_work_t *w;
    shoal_wr_t *msg = shoal_wr_new ();
    if (!msg) {
        return SHOAL_ERR_NOMEM;
    }
    while (rc == SHOAL_OK && (w = zlistx_detach (work, NULL))) {
        uint32_t from = w->node;
        free (w);
        s_node_t src;
        if ((rc = s_node_get (self, &r->id, from, &src))) {
            break;
        }
        bool handled = false;
        uint32_t nout = shoal_wf_node (wf, from)->n_out;
        for (uint32_t k = 0; k < nout && rc == SHOAL_OK; k++) {
            const shoal_wf_edge_t *e = shoal_wf_out (wf, from, k);
            bool fired = s_fires (e, &src, r);
            handled = handled || (fired && e->on != SHOAL_WF_ON_COMPLETE);
            s_node_t t;
            if ((rc = s_node_get (self, &r->id, e->to, &t))) {
                break;
            }
            const shoal_wf_node_t *tn = shoal_wf_node (wf, e->to);
            t.arrived++;
            t.fired += fired;
            bool waiting = t.state == SHOAL_JOB_WAITING && !t.pending;
            bool all_in = t.arrived >= tn->n_in;
            bool start = false, skip = false;
            if (waiting && tn->join == SHOAL_WF_JOIN_ANY) {
                start = fired;
                skip = !fired && all_in && t.fired == 0;
            } else if (waiting && all_in) {
                start = t.fired > 0;
                skip = t.fired == 0;
            }
            if (skip) {
                t.state = SHOAL_JOB_CANCELLED;
                t.finished_us = now;
                snprintf (t.error, sizeof t.error, "not reached");
            }
            rc = s_node_put (self, &r->id, e->to, &t);
            uint32_t fired_in = t.fired;
            s_node_clear (&t);
            if (rc == SHOAL_OK && skip) {
                r->undecided -= r->undecided > 0;
                rc = s_push (work, e->to);
            } else if (rc == SHOAL_OK && start) {
                shoal_wr_reset (msg);
                if (tn->join == SHOAL_WF_JOIN_ANY) {
                    if (src.output) {
                        shoal_wr_raw (msg, src.output, src.output_len);
                    } else {
                        shoal_wr_nil (msg);
                    }
                    rc = shoal_wr_error (msg);
                } else {
                    rc = s_join_message (self, wf, r, e->to, fired_in, msg);
                }
                if (rc == SHOAL_OK) {
                    rc = s_activate (self, r, wf, e->to, shoal_wr_data (msg),
                                     shoal_wr_size (msg), now);
                }
            }
        }
        if (rc == SHOAL_OK && src.state == SHOAL_JOB_DEAD && !handled) {
            r->unhandled++;
            if (!r->error[0]) {
                snprintf (r->error, sizeof r->error, "node %.63s: %.180s",
                          shoal_wf_node (wf, from)->id,
                          src.error[0] ? src.error : "failed");
            }
        }
        s_node_clear (&src);
    }
    shoal_wr_destroy (&msg);
    return rc;
}

shoal_err_t
store_run_final (self_t *self, const shoal_job_t *job, uint64_t now)
{
    if (!job->in_run) {
        return SHOAL_OK;
    }
    s_run_t r;
    shoal_err_t rc = s_run_get (self, &job->run, &r);
    if (rc || s_final (r.state)) {
        s_run_clear (&r);
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r.rev;
    if ((rc = s_def_load (self, r.name, &rev, &wf, err, sizeof err)) ||
        job->node >= shoal_wf_node_count (wf)) {
        shoal_wf_destroy (&wf);
        s_run_clear (&r);
        return rc == SHOAL_ERR_NOMEM ? rc : SHOAL_OK; /* nothing to route */
    }
    s_node_t n;
    zlistx_t *work = store_list_new ();
    rc = work ? s_node_get (self, &r.id, job->node, &n) : SHOAL_ERR_NOMEM;
    if (rc == SHOAL_OK && !shoal_job_state_final (n.state) &&
        memcmp (&n.job, &job->id, 16) == 0) {
        n.state = job->state;
        n.finished_us = now;
        free (n.output);
        n.output = NULL;
        n.output_len = 0;
        if (job->result && job->result_len <= S_OUT_MAX) {
            if (!(n.output = s_dup (job->result, job->result_len))) {
                rc = SHOAL_ERR_NOMEM;
            }
            n.output_len = job->result_len;
        }
        s_port_of (n.output, n.output_len, n.port, sizeof n.port);
        snprintf (n.error, sizeof n.error, "%.*s", (int) sizeof n.error - 1,
                  job->error);
        if (rc == SHOAL_OK) {
            rc = s_node_put (self, &r.id, job->node, &n);
        }
        bool handler = shoal_wf_node (wf, job->node)->handler;
        if (rc == SHOAL_OK && job->state == SHOAL_JOB_CANCELLED && !handler) {
            /* someone cancelled the node's job: the run cannot succeed */
            r.unhandled++;
            if (!r.error[0]) {
                snprintf (r.error, sizeof r.error, "node %.63s: cancelled",
                          shoal_wf_node (wf, job->node)->id);
            }
        }
        /* LIMITS HOOK: the node's slot is free; nodes waiting for one
           start before those this node reaches */
        if (rc == SHOAL_OK) {
            rc = store_runlim_end (self, &r.id, wf);
        }
        if (rc == SHOAL_OK) {
            rc = s_start_waiting (self, &r, wf, now);
        }
        if (rc == SHOAL_OK && !handler) {
            r.undecided -= r.undecided > 0;
            rc = s_push (work, job->node);
        }
        if (rc == SHOAL_OK && !handler) {
            rc = s_route (self, &r, wf, work, now);
        }
        if (rc == SHOAL_OK) {
            rc = s_maybe_finish (self, &r, wf, now);
        }
        if (rc == SHOAL_OK) {
            rc = s_run_put (self, &r);
        }
        if (rc == SHOAL_OK) {
            rc = s_note_progress (self, &r, wf, now);
        }
        if (rc == SHOAL_OK) {
            rc = s_wake_run (self, &r);
        }
    }
    s_node_clear (&n);
    zlistx_destroy (&work);
    shoal_wf_destroy (&wf);
    s_run_clear (&r);
    return rc;
}

/*  ---------------------------------------------------------------------
    Queries */

/*  {id, workflow, revision, state, created_us, finished_us, error?,
    input?, nodes?: [{id, type, state, attempt?, job?, started_us,
    finished_us, port?, output?, error?}]} */
/*  key: the value (raw msgpack) when it is small and the view has room,
    else key_bytes: its size. One pair either way. */
static void
s_kv_bounded (shoal_wr_t *w, const char *key, const char *key_bytes,
              const uint8_t *v, size_t len)
{
    if (len <= S_VIEW_VALUE_MAX && shoal_wr_size (w) + len < S_VIEW_TOTAL) {
        shoal_wr_kv_raw (w, key, v, len);
    } else {
        shoal_wr_kv_uint (w, key_bytes, len);
    }
}

static shoal_err_t
s_write_view (self_t *self, shoal_wr_t *w, const s_run_t *r,
              const shoal_wf_t *wf)
{
    char text[SHOAL_ID_TEXT];
    shoal_id_format (&r->id, text);
    shoal_wr_map (w, 7 + (r->error[0] != '\0') + (r->input != NULL) +
                         (wf != NULL));
    shoal_wr_kv_str (w, "id", text);
    shoal_wr_kv_str (w, "workflow", r->name);
    shoal_wr_kv_uint (w, "revision", r->rev);
    shoal_wr_kv_str (w, "state", s_run_states[r->state]);
    shoal_wr_kv_bool (w, "paused", r->paused);
    shoal_wr_kv_uint (w, "created_us", r->created_us);
    shoal_wr_kv_uint (w, "finished_us", r->finished_us);
    if (r->error[0]) {
        shoal_wr_kv_str (w, "error", r->error);
    }
    if (r->input) {
        s_kv_bounded (w, "input", "input_bytes", r->input, r->input_len);
    }
    if (!wf) {
        return SHOAL_OK;
    }
    uint32_t nn = shoal_wf_node_count (wf);
    shoal_wr_str (w, "nodes");
    shoal_wr_array (w, nn);
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
        s_node_t n;
        if ((rc = s_node_get (self, &r->id, i, &n))) {
            break;
        }
        /* a node under way shows its job's state (enqueued, leased...) */
        shoal_job_t job;
        uint32_t attempt = 0;
        if (n.has_job && store_get_job (self, &n.job, &job) == SHOAL_OK) {
            if (!shoal_job_state_final (n.state)) {
                n.state = job.state;
            }
            attempt = job.attempt;
        }
        shoal_wr_map (w, 6 + n.has_job + (n.port[0] != '\0') +
                             (n.output != NULL) + (n.error[0] != '\0'));
        shoal_wr_kv_str (w, "id", nd->id);
        shoal_wr_kv_str (w, "type", nd->type);
        shoal_wr_kv_str (w, "state", shoal_job_state_name (n.state));
        shoal_wr_kv_uint (w, "attempt", attempt);
        shoal_wr_kv_uint (w, "started_us", n.started_us);
        shoal_wr_kv_uint (w, "finished_us", n.finished_us);
        if (n.has_job) {
            shoal_id_format (&n.job, text);
            shoal_wr_kv_str (w, "job", text);
        }
        if (n.port[0]) {
            shoal_wr_kv_str (w, "port", n.port);
        }
        if (n.output) {
            s_kv_bounded (w, "output", "output_bytes", n.output, n.output_len);
        }
        if (n.error[0]) {
            shoal_wr_kv_str (w, "error", n.error);
        }
        s_node_clear (&n);
    }
    return rc;
}

static shoal_err_t
s_reply_run (self_t *self, const char *to, const shoal_id_t *corr,
             const s_run_t *r)
{
    shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r->rev;
    shoal_err_t rc = s_def_load (self, r->name, &rev, &wf, err, sizeof err);
    if (rc == SHOAL_ERR_NOMEM) {
        return rc;
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY, to, corr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, "run");
    rc = s_write_view (self, w, r, wf);
    shoal_wf_destroy (&wf);
    return rc ? rc : shoal_port_defer (self->port);
}

/*  Answers the WAITs parked on run r (stored, final); they leave after
    the commit like those of jobs. */
static shoal_err_t
s_wake_run (self_t *self, const s_run_t *r)
{
    if (!s_final (r->state)) {
        return SHOAL_OK;
    }
    zlistx_t *lists[] = {self->waiters, self->new_waiters};
    shoal_err_t rc = SHOAL_OK;
    for (int l = 0; l < 2 && rc == SHOAL_OK; l++) {
        for (s_waiter_t *w = zlistx_first (lists[l]); w && rc == SHOAL_OK;
             w = zlistx_next (lists[l])) {
            if (memcmp (&w->job, &r->id, 16) == 0) {
                rc = s_reply_run (self, w->to, &w->corr, r);
            }
        }
    }
    shoal_id_t *done = rc ? NULL : malloc (sizeof *done);
    if (!rc && !done) {
        rc = SHOAL_ERR_NOMEM;
    }
    if (done) {
        *done = r->id;
        zlistx_add_end (self->done_jobs, done);
    }
    return rc;
}

shoal_err_t
store_run_status (self_t *self, shoal_in_t *in, const shoal_id_t *id, bool wait,
                  bool *found)
{
    s_run_t r;
    shoal_err_t rc = s_run_get (self, id, &r);
    *found = rc != SHOAL_ERR_NOT_FOUND;
    if (rc == SHOAL_OK && (!wait || s_final (r.state))) {
        rc = s_reply_run (self, in->hdr.from, &in->hdr.id, &r);
    } else if (rc == SHOAL_OK) {
        rc = store_park_waiter (self, in, id);
    }
    s_run_clear (&r);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  run {name, revision?, input?} */
static shoal_err_t
s_start (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len)
{
    s_run_t r;
    memset (&r, 0, sizeof r);
    uint64_t rev = 0;
    shoal_err_t e;
    if (shoal_map_strcpy (args, len, "name", r.name, sizeof r.name) ||
        ((e = shoal_map_uint (args, len, "revision", &rev)) &&
         e != SHOAL_ERR_NOT_FOUND) ||
        rev > UINT32_MAX) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "run needs \"name\" (and an optional "
                                 "\"revision\")");
    }
    r.rev = (uint32_t) rev;
    shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX] = "";
    shoal_err_t rc = s_def_load (self, r.name, &r.rev, &wf, err, sizeof err);
    if (rc) {
        shoal_wf_destroy (&wf);
        return rc == SHOAL_ERR_NOT_FOUND
                   ? store_reply_code (self, in->hdr.from, &in->hdr.id, rc, err)
                   : rc;
    }
    shoal_mp_val_t v;
    const uint8_t *input = NULL;
    size_t input_len = 0;
    if (shoal_map_find (args, len, "input", &v, &input, &input_len) ==
            SHOAL_OK &&
        !(r.input = s_dup (input, input_len))) {
        shoal_wf_destroy (&wf);
        return SHOAL_ERR_NOMEM;
    }
    r.input_len = r.input ? input_len : 0;
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    shoal_port_new_id (self->port, &r.id);
    r.created_us = now;
    r.state = R_RUNNING;
    uint32_t nn = shoal_wf_node_count (wf);
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        s_node_t n;
        memset (&n, 0, sizeof n);
        n.state = SHOAL_JOB_WAITING;
        r.undecided += !shoal_wf_node (wf, i)->handler;
        rc = s_node_put (self, &r.id, i, &n);
    }
    if (rc == SHOAL_OK) {
        rc = s_run_put (self, &r); /* the run exists before its jobs */
    }
    if (rc == SHOAL_OK) {
        rc = store_runlim_deadline (self, &r.id, wf, now); /* LIMITS HOOK */
    }
    for (uint32_t k = 0; k < shoal_wf_entry_count (wf) && rc == SHOAL_OK; k++) {
        rc = s_activate (self, &r, wf, shoal_wf_entry (wf, k), r.input,
                         r.input_len, now);
    }
    if (rc == SHOAL_OK) {
        s_note_run_event (self, "run.started", &r);
        rc = s_maybe_finish (self, &r, wf, now); /* nothing to run at all */
    }
    if (rc == SHOAL_OK) {
        rc = s_run_put (self, &r);
    }
    if (rc == SHOAL_OK) {
        rc = s_wake_run (self, &r);
    }
    if (rc == SHOAL_OK) {
        char text[SHOAL_ID_TEXT];
        shoal_id_format (&r.id, text);
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                          in->hdr.from, &in->hdr.id);
        shoal_wr_map (w, 4);
        shoal_wr_kv_uint (w, "code", SHOAL_OK);
        shoal_wr_kv_str (w, "id", text);
        shoal_wr_kv_str (w, "workflow", r.name);
        shoal_wr_kv_uint (w, "revision", r.rev);
        rc = shoal_port_defer (self->port);
    }
    shoal_wf_destroy (&wf);
    s_run_clear (&r);
    return rc;
}

/*  show {id} */
static shoal_err_t
s_show (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len)
{
    char text[SHOAL_ID_TEXT + 1];
    shoal_id_t id;
    if (shoal_map_strcpy (args, len, "id", text, sizeof text) ||
        shoal_id_parse (text, strlen (text), &id)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "show needs \"id\": a run id");
    }
    bool found = false;
    shoal_err_t rc = store_run_status (self, in, &id, false, &found);
    if (rc == SHOAL_OK && !found) {
        rc = store_reply_code (self, in->hdr.from, &in->hdr.id,
                               SHOAL_ERR_NOT_FOUND, "no such run");
    }
    return rc;
}

/*  runs {}: every run, oldest first (ids are time-ordered), without the
    nodes. */
static shoal_err_t
s_list (self_t *self, shoal_in_t *in)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_RUNS, &cur);
    if (rc) {
        return rc;
    }
    shoal_wr_t *items = shoal_wr_new ();
    uint32_t n = 0;
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, NULL, 0, &kv);
         items && rc == SHOAL_OK && n < 10000 &&
         shoal_wr_size (items) < S_LIST_MAX;
         rc = shoal_cursor_next (cur, &kv)) {
        s_run_t r;
        shoal_id_t id;
        if (kv.key_len != 16) {
            continue;
        }
        memcpy (id.b, kv.key, 16);
        if (s_run_get (self, &id, &r) == SHOAL_OK) {
            s_write_view (self, items, &r, NULL);
            n++;
        }
        s_run_clear (&r);
    }
    shoal_cursor_close (&cur);
    if (!items) {
        return SHOAL_ERR_NOMEM;
    }
    if (rc == SHOAL_OK || rc == SHOAL_ERR_NOT_FOUND) {
        rc = store_reply_items (self, in, "runs", items, n);
    }
    shoal_wr_destroy (&items);
    return rc;
}

/*  The run that args {id} names, into *r (s_run_clear it), when it has
    not ended; *go false when an answer was sent instead (a bad id, no
    such run, a run that ended). */
static shoal_err_t
s_run_open (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len,
            s_run_t *r, bool *go)
{
    char text[SHOAL_ID_TEXT + 1];
    shoal_id_t id;
    *go = false;
    memset (r, 0, sizeof *r);
    if (shoal_map_strcpy (args, len, "id", text, sizeof text) ||
        shoal_id_parse (text, strlen (text), &id)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, "needs \"id\": a run id");
    }
    shoal_err_t rc = s_run_get (self, &id, r);
    if (rc == SHOAL_ERR_NOT_FOUND || (rc == SHOAL_OK && s_final (r->state))) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 rc ? SHOAL_ERR_NOT_FOUND : SHOAL_ERR_STATE,
                                 rc ? "no such run" : "the run has ended");
    }
    *go = rc == SHOAL_OK;
    return rc;
}

/*  cancel {id}: the run ends cancelled; its nodes under way are
    cancelled (running ones are stopped), those not reached never run. */
static shoal_err_t
s_cancel (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len)
{
    s_run_t r;
    bool go;
    shoal_err_t rc = s_run_open (self, in, args, len, &r, &go);
    if (rc || !go) {
        s_run_clear (&r);
        return rc;
    }
    shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r.rev;
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    if (rc == SHOAL_OK) {
        /* Ended first: the node jobs cancelled below route nothing. */
        r.state = R_CANCELLED;
        r.finished_us = now;
        snprintf (r.error, sizeof r.error, "cancelled");
        rc = s_run_put (self, &r);
    }
    if (rc == SHOAL_OK) {
        rc = s_def_load (self, r.name, &rev, &wf, err, sizeof err);
    }
    uint32_t nn = wf ? shoal_wf_node_count (wf) : 0;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        s_node_t n;
        if ((rc = s_node_get (self, &r.id, i, &n))) {
            break;
        }
        if (!shoal_job_state_final (n.state)) {
            shoal_job_t job;
            if (n.has_job && store_get_job (self, &n.job, &job) == SHOAL_OK &&
                !shoal_job_state_final (job.state)) {
                rc = store_cancel_job (self, &job, now);
            }
            n.state = SHOAL_JOB_CANCELLED;
            n.finished_us = now;
            snprintf (n.error, sizeof n.error, "run cancelled");
            if (rc == SHOAL_OK) {
                rc = s_node_put (self, &r.id, i, &n);
            }
        }
        s_node_clear (&n);
    }
    if (rc == SHOAL_OK) {
        s_note_run_event (self, "run.cancelled", &r);
        rc = s_wake_run (self, &r);
    }
    if (rc == SHOAL_OK) {
        rc = s_reply_run (self, in->hdr.from, &in->hdr.id, &r);
    }
    shoal_wf_destroy (&wf);
    s_run_clear (&r);
    return rc;
}

/*  pause|resume {id}: nothing new starts while paused (nodes under way
    finish; the nodes they reach wait with their message); resume starts
    what waited. Durable: the flags are in the records. */
static shoal_err_t
s_pause (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len,
         bool pause)
{
    s_run_t r;
    bool go;
    shoal_err_t rc = s_run_open (self, in, args, len, &r, &go);
    if (rc || !go) {
        s_run_clear (&r);
        return rc;
    }
    shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r.rev;
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    if (rc == SHOAL_OK) {
        r.paused = pause;
        rc = s_def_load (self, r.name, &rev, &wf, err, sizeof err);
    }
    uint32_t nn = wf && !pause ? shoal_wf_node_count (wf) : 0;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        s_node_t n;
        if ((rc = s_node_get (self, &r.id, i, &n)) == SHOAL_OK && n.pending) {
            rc = s_activate (self, &r, wf, i, n.msg, n.msg_len, now);
        }
        s_node_clear (&n);
    }
    if (rc == SHOAL_OK && !pause) {
        rc = s_start_waiting (self, &r, wf, now); /* LIMITS HOOK */
    }
    if (rc == SHOAL_OK) {
        rc = s_run_put (self, &r);
    }
    if (rc == SHOAL_OK) {
        s_note_run_event (self, pause ? "run.paused" : "run.resumed", &r);
        rc = s_reply_run (self, in->hdr.from, &in->hdr.id, &r);
    }
    shoal_wf_destroy (&wf);
    s_run_clear (&r);
    return rc;
}

shoal_err_t
store_query_runs (self_t *self, shoal_in_t *in, const char *op,
                  const uint8_t *args, size_t len)
{
    if (streq (op, "pause") || streq (op, "resume")) {
        return s_pause (self, in, args, len, streq (op, "pause"));
    }
    if (streq (op, "cancel")) {
        return s_cancel (self, in, args, len);
    }
    if (streq (op, "run")) {
        return s_start (self, in, args, len);
    }
    if (streq (op, "show")) {
        return s_show (self, in, args, len);
    }
    return s_list (self, in);
}

/*  ---------------------------------------------------------------------
    LIMITS HOOK: the run's timeout (called by store_runlim_timers) */

shoal_err_t
store_run_expire (self_t *self, const shoal_id_t *id, uint64_t now)
{
    s_run_t r;
    shoal_err_t rc = s_run_get (self, id, &r);
    if (rc || r.state != R_RUNNING) {
        s_run_clear (&r); /* ended, or failed and compensating already */
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r.rev;
    if ((rc = s_def_load (self, r.name, &rev, &wf, err, sizeof err))) {
        s_run_clear (&r);
        return rc == SHOAL_ERR_NOMEM ? rc : SHOAL_OK;
    }
    /* Nodes waiting in the gate's line are cancelled below with the rest;
       the compensation nodes start with every slot free. */
    rc = store_runlim_forget (self, &r.id);
    uint32_t nn = shoal_wf_node_count (wf);
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        if (shoal_wf_node (wf, i)->handler) {
            continue; /* not reached while running: left for the saga */
        }
        s_node_t n;
        if ((rc = s_node_get (self, &r.id, i, &n))) {
            break;
        }
        if (!shoal_job_state_final (n.state)) {
            shoal_job_t job;
            if (n.has_job && store_get_job (self, &n.job, &job) == SHOAL_OK &&
                !shoal_job_state_final (job.state)) {
                rc = store_cancel_job (self, &job, now);
            }
            n.state = SHOAL_JOB_CANCELLED;
            n.finished_us = now;
            n.pending = false;
            snprintf (n.error, sizeof n.error, "run timed out");
            if (rc == SHOAL_OK) {
                rc = s_node_put (self, &r.id, i, &n);
            }
        }
        s_node_clear (&n);
    }
    if (rc == SHOAL_OK) {
        r.undecided = 0;
        r.unhandled++;
        snprintf (r.error, sizeof r.error, "timeout");
        rc = s_maybe_finish (self, &r, wf, now); /* saga, then failed */
    }
    if (rc == SHOAL_OK) {
        rc = s_run_put (self, &r);
    }
    if (rc == SHOAL_OK) {
        rc = s_note_progress (self, &r, wf, now);
    }
    if (rc == SHOAL_OK) {
        rc = s_wake_run (self, &r);
    }
    shoal_wf_destroy (&wf);
    s_run_clear (&r);
    return rc;
}
