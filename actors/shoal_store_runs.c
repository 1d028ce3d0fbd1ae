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
    final), the store asks the router actor which of the node's outgoing
    edges fire (its port: "default" unless its output is a map with a
    string "port", or an exec result whose json has one; ROUTE,
    shoal_router.h): an edge fires when its trigger matches the outcome
    (complete: succeeded, fail: dead, all: either), its port matches and
    its condition holds over the output and the run's input. The
    router's answer (STEP, a bitmap of the fired edges) commits the step
    in one transaction - the node's end (state, output, port), then
    each target learns of it: a target with join "any" starts on the first edge that
    fires; with "all" once every incoming edge is decided, if any fired
    (its message is the output of the one fired edge, or a map {source
    node id: output} when several did); a target none of whose edges
    fired is skipped (state cancelled, error "not reached"), and so are
    its successors; and the run ends when every node is decided: failed
    if some node died and none of its edges handled it (fired on
    fail/all), else succeeded. A node whose job ended but whose step is
    not committed yet is routed
    again whenever a router (re)starts (ROUTER_BOOT), so a crash can never
    leave a run half-advanced: a step either committed whole or is taken
    again.

    A node with a breaker policy asks first (GATE -> the router -> the
    breaker actor of its type -> ADMIT): let through, it runs and its end
    is reported to the breaker; rejected, its fallback node runs in its
    place (the job still belongs to the node, so its edges route the
    fallback's result), or, without one, it dies at once with the
    breaker's reason and is routed like any failure.

    Saga: when a run fails, the compensation nodes of its completed nodes
    run one by one, the last completed first - of every completed node
    (compensation "run") or of those an edge path leads from to a node
    that failed unhandled (compensation "branch").

    Limits (node concurrency and rate, the run's max_concurrency and
    timeout) are in shoal_store_runlimits.c; the hooks here are marked
    "LIMITS HOOK".
*/
#include "shoal_store_int.h"
#include "shoal_breaker.h"
#include "shoal_router.h"
#include "shoal_wf.h"

#define S_OUT_MAX        (1u << 20) /* output bytes kept per node */
#define S_NKEY           20         /* run id + node index */
#define S_ERROR_MAX      256
#define S_WF_CACHE_MAX   64           /* decoded definitions kept */
#define S_ROUTES_FLUSH   (256u << 10) /* ROUTE items per message, in bytes */
#define S_PROGRESS_US    100000 /* run.progress events at most this often */
#define S_PROGRESS_PER_S 1000   /* and at most this many a second, ends aside */
/*  Views stay well inside a client frame (1 MiB): an input or output
    bigger than this shows as its size; a listing stops at S_LIST_MAX. */
#define S_VIEW_VALUE_MAX  (16u << 10)
#define S_VIEW_TOTAL      (768u << 10)
#define S_VIEW_EDGES_MAX  (256u << 10) /* the edges array, else its size */
#define S_LIST_MAX        (512u << 10)
#define S_LIST_RUNS       1000 /* runs per page of a listing */
#define S_RUN_PRUNE_BATCH 64   /* ended runs deleted per commit, at most */
/*  Output, input and definition in one ROUTE item, at most (an internal
    frame is 4 MiB; each of them is bounded under 1 MiB, so this is a
    guard): beyond, conditions are not evaluated (ROUTE "big"). */
#define S_ROUTE_VALUES_MAX (SHOAL_BUS_FRAME_MAX - (512u << 10))

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
    uint32_t undecided;   /* nodes not yet ended or skipped */
    uint32_t unhandled;   /* nodes that died with no edge taking it */
    bool paused;          /* nodes reached now wait for resume */
    uint64_t progress_us; /* its last run.progress event */
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
    bool routed; /* ended, and its outgoing edges decided (STEP) */
    uint8_t *fo; /* routed: bitmap of the out-edges that fired */
    size_t fo_len;
    bool gating;     /* reached; waits for its breaker's ADMIT (msg) */
    uint64_t act;    /* the activation the GATE asked about */
    uint32_t via;    /* ran its fallback node: that index + 1, else 0 */
    bool has_ticket; /* its breaker let it run: report how it ended */
    uint8_t tk_d;    /* the ticket: decision, generation, router nonce */
    uint32_t tk_g;
    uint64_t tk_n;
    bool unhandled; /* ended badly and no edge took it: the run fails */
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
    free (n->fo);
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
    shoal_wr_map (w, 8 + (r->input != NULL) + (r->error[0] != '\0') +
                         r->paused + (r->progress_us != 0));
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
    if (r->progress_us) {
        shoal_wr_kv_uint (w, "pg", r->progress_us);
    }
    shoal_err_t rc = shoal_wr_error (w);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_RUNS, r->id.b, 16,
                            shoal_wr_data (w), shoal_wr_size (w));
    }
    shoal_wr_destroy (&w);
    if (rc == SHOAL_OK && s_final (r->state) && r->finished_us) {
        /* ended: retention deletes it store/retention later */
        uint8_t key[SHOAL_TIME_KEY];
        shoal_time_key (r->finished_us, r->id.b, key);
        rc = shoal_txn_put (self->txn, SHOAL_DBI_RUN_FIN, key, sizeof key, "",
                            0);
    }
    return rc;
}

/*  Reads a record key (a run's or a node's) and finds it in keys[0..n)
    (each of one or two characters): its index, n for a key this code does not
    know, SIZE_MAX for a bad or repeated one. By bytes, not a table
    search with strlen: records are read on every step. */
static size_t
s_key_index (shoal_rd_t *rd, const char *const *keys, size_t n, uint64_t *seen)
{
    const char *k = NULL;
    uint32_t len = 0;
    if (shoal_rd_str (rd, &k, &len) || len == 0) {
        return SIZE_MAX;
    }
    if (len > 2) {
        return n;
    }
    size_t idx = n;
    for (size_t i = 0; i < n; i++) {
        const char *c = keys[i]; /* one or two characters */
        uint32_t clen = c[1] ? 2 : 1;
        if (clen == len && c[0] == k[0] && (len == 1 || c[1] == k[1])) {
            idx = i;
            break;
        }
    }
    if (idx < n) {
        if (*seen & (1ull << idx)) {
            return SIZE_MAX;
        }
        *seen |= 1ull << idx;
    }
    return idx;
}

static const char *const s_run_keys[] = {"n",  "r", "s",  "c",  "f",  "u",
                                         "uh", "v", "in", "er", "pa", "pg"};
enum {
    RK_N,
    RK_R,
    RK_S,
    RK_C,
    RK_F,
    RK_U,
    RK_UH,
    RK_V,
    RK_IN,
    RK_ER,
    RK_PA,
    RK_PG,
    RK__COUNT
};

/*  Reads run id into *r (owned copies; s_run_clear). One pass, as for
    nodes (s_node_get): the get verified the record's checksum. */
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
    shoal_rd_t rd;
    shoal_rd_init (&rd, v, len);
    uint32_t pairs = 0, slen = 0;
    uint64_t seen = 0, u = 0;
    const char *str = NULL;
    const uint8_t *in = NULL;
    size_t in_len = 0;
    if (shoal_rd_map (&rd, &pairs)) {
        return SHOAL_ERR_CORRUPT;
    }
    for (uint32_t k = 0; k < pairs && rc == SHOAL_OK; k++) {
        size_t idx = s_key_index (&rd, s_run_keys, RK__COUNT, &seen);
        const uint8_t *at = rd.p;
        shoal_mp_val_t val;
        switch (idx) {
            case SIZE_MAX:
                rc = SHOAL_ERR_CORRUPT;
                break;
            case RK__COUNT:
            case RK_IN:
                rc = shoal_rd_skip (&rd, self->lim.depth_max);
                if (idx == RK_IN) {
                    in = at;
                    in_len = (size_t) (rd.p - at);
                }
                break;
            case RK_N:
            case RK_ER:
                if ((rc = shoal_rd_str (&rd, &str, &slen)) == SHOAL_OK) {
                    char *dst = idx == RK_N ? r->name : r->error;
                    size_t cap = idx == RK_N ? sizeof r->name : sizeof r->error;
                    if (idx == RK_N && slen >= cap) {
                        rc = SHOAL_ERR_CORRUPT;
                        break;
                    }
                    size_t m = slen < cap - 1 ? slen : cap - 1;
                    memcpy (dst, str, m);
                    dst[m] = '\0';
                }
                break;
            case RK_PA:
                if ((rc = shoal_rd_next (&rd, &val)) == SHOAL_OK &&
                    val.type != SHOAL_MP_BOOL) {
                    rc = SHOAL_ERR_CORRUPT;
                }
                r->paused = val.b;
                break;
            default:
                if ((rc = shoal_rd_uint (&rd, &u))) {
                    break;
                }
                switch (idx) {
                    case RK_R:
                    case RK_U:
                    case RK_UH:
                        rc = u <= UINT32_MAX ? SHOAL_OK : SHOAL_ERR_CORRUPT;
                        *(idx == RK_R   ? &r->rev
                          : idx == RK_U ? &r->undecided
                                        : &r->unhandled) = (uint32_t) u;
                        break;
                    case RK_S:
                        rc = u < R__COUNT ? SHOAL_OK : SHOAL_ERR_CORRUPT;
                        r->state = (uint8_t) u;
                        break;
                    case RK_C:
                        r->created_us = u;
                        break;
                    case RK_F:
                        r->finished_us = u;
                        break;
                    case RK_PG:
                        r->progress_us = u;
                        break;
                    default:
                        break;
                }
        }
    }
    const uint64_t need = 1u << RK_N | 1u << RK_R | 1u << RK_S | 1u << RK_C |
                          1u << RK_F | 1u << RK_U | 1u << RK_UH;
    if (rc || (seen & need) != need) {
        return SHOAL_ERR_CORRUPT;
    }
    r->id = *id;
    if (in && !(r->input = s_dup (in, in_len))) {
        return SHOAL_ERR_NOMEM;
    }
    r->input_len = r->input ? in_len : 0;
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
    bool keep_msg = (n->pending || n->gating) && n->msg;
    shoal_wr_map (w, 6 + n->has_job + (n->port[0] != '\0') +
                         (n->error[0] != '\0') + (n->output != NULL) +
                         n->pending + keep_msg + n->compensated + n->routed +
                         (n->fo != NULL) + 2 * n->gating + (n->via != 0) +
                         3 * n->has_ticket + n->unhandled);
    shoal_wr_kv_uint (w, "s", n->state);
    shoal_wr_kv_uint (w, "a", n->arrived);
    shoal_wr_kv_uint (w, "fi", n->fired);
    shoal_wr_kv_uint (w, "st", n->started_us);
    shoal_wr_kv_uint (w, "f", n->finished_us);
    shoal_wr_kv_uint (w, "v", 2);
    if (n->routed) {
        shoal_wr_kv_bool (w, "rt", true);
    }
    if (n->unhandled) {
        shoal_wr_kv_bool (w, "uh", true);
    }
    if (n->fo) {
        shoal_wr_kv_bin (w, "fo", n->fo, n->fo_len);
    }
    if (n->gating) {
        shoal_wr_kv_bool (w, "gt", true);
        shoal_wr_kv_uint (w, "ac", n->act);
    }
    if (n->via) {
        shoal_wr_kv_uint (w, "vi", n->via);
    }
    if (n->has_ticket) {
        shoal_wr_kv_uint (w, "td", n->tk_d);
        shoal_wr_kv_uint (w, "tg", n->tk_g);
        shoal_wr_kv_uint (w, "tn", n->tk_n);
    }
    if (keep_msg) {
        shoal_wr_kv_raw (w, "pm", n->msg, n->msg_len);
    }
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

/*  Just node i's state: the record's first pair (s_node_put). */
static shoal_err_t
s_node_state (self_t *self, const shoal_id_t *run, uint32_t i, uint8_t *state)
{
    uint8_t key[S_NKEY];
    const void *v;
    size_t len;
    shoal_err_t rc = shoal_txn_get (self->txn, SHOAL_DBI_RUN_NODES, key,
                                    s_node_key (run, i, key), &v, &len);
    if (rc) {
        return rc;
    }
    shoal_rd_t rd;
    shoal_rd_init (&rd, v, len);
    uint32_t pairs = 0, klen = 0;
    const char *k = NULL;
    uint64_t u = 0;
    if (shoal_rd_map (&rd, &pairs) || pairs == 0 ||
        shoal_rd_str (&rd, &k, &klen) || klen != 1 || k[0] != 's' ||
        shoal_rd_uint (&rd, &u) || u >= SHOAL_JOB__COUNT) {
        return SHOAL_ERR_CORRUPT;
    }
    *state = (uint8_t) u;
    return SHOAL_OK;
}

/*  Node record keys, in the order s_node_get's switch takes them. */
static const char *const s_node_keys[] = {
    "s",  "a",  "fi", "st", "f",  "v",  "j",  "p",  "er", "o",  "cp",
    "pd", "pm", "rt", "uh", "fo", "gt", "ac", "vi", "td", "tg", "tn"};
enum {
    K_S,
    K_A,
    K_FI,
    K_ST,
    K_F,
    K_V,
    K_J,
    K_P,
    K_ER,
    K_O,
    K_CP,
    K_PD,
    K_PM,
    K_RT,
    K_UH,
    K_FO,
    K_GT,
    K_AC,
    K_VI,
    K_TD,
    K_TG,
    K_TN,
    K__COUNT
};

/*  Reads node i of run into *n (owned copies; s_node_clear). One pass
    over the record (read on every routing step, for every neighbour):
    the record's checksum was verified by the get, and every read is
    bounds-checked. */
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
    shoal_rd_t rd;
    shoal_rd_init (&rd, v, len);
    uint32_t pairs = 0;
    uint64_t seen = 0, u = 0, version = 1;
    const uint8_t *out = NULL, *msg = NULL, *fo = NULL, *jid = NULL;
    size_t out_len = 0, msg_len = 0;
    uint32_t fo_len = 0, jlen = 0, slen = 0;
    const char *str = NULL;
    bool has_td = false, has_tg = false, has_tn = false;
    if (shoal_rd_map (&rd, &pairs)) {
        return SHOAL_ERR_CORRUPT;
    }
    for (uint32_t k = 0; k < pairs && rc == SHOAL_OK; k++) {
        size_t idx = s_key_index (&rd, s_node_keys, K__COUNT, &seen);
        if (idx == SIZE_MAX) {
            return SHOAL_ERR_CORRUPT;
        }
        if (idx == K__COUNT && shoal_rd_skip (&rd, self->lim.depth_max)) {
            return SHOAL_ERR_CORRUPT; /* a key of a newer version */
        }
        const uint8_t *at = rd.p;
        shoal_mp_val_t val;
        switch (idx) {
            case K_J:
                rc = shoal_rd_bin (&rd, &jid, &jlen);
                break;
            case K_FO:
                rc = shoal_rd_bin (&rd, &fo, &fo_len);
                break;
            case K_P:
            case K_ER:
                if ((rc = shoal_rd_str (&rd, &str, &slen)) == SHOAL_OK) {
                    char *dst = idx == K_P ? n->port : n->error;
                    size_t cap = idx == K_P ? sizeof n->port : sizeof n->error;
                    size_t m = slen < cap - 1 ? slen : cap - 1;
                    memcpy (dst, str, m);
                    dst[m] = '\0';
                }
                break;
            case K_O:
            case K_PM:
                rc = shoal_rd_skip (&rd, self->lim.depth_max);
                if (idx == K_O) {
                    out = at;
                    out_len = (size_t) (rd.p - at);
                } else {
                    msg = at;
                    msg_len = (size_t) (rd.p - at);
                }
                break;
            case K_CP:
            case K_PD:
            case K_RT:
            case K_UH:
            case K_GT:
                if ((rc = shoal_rd_next (&rd, &val)) == SHOAL_OK &&
                    val.type != SHOAL_MP_BOOL) {
                    rc = SHOAL_ERR_CORRUPT;
                }
                *(idx == K_CP   ? &n->compensated
                  : idx == K_PD ? &n->pending
                  : idx == K_RT ? &n->routed
                  : idx == K_UH ? &n->unhandled
                                : &n->gating) = val.b;
                break;
            case K__COUNT:
                break; /* unknown key: skipped above */
            default:
                if ((rc = shoal_rd_uint (&rd, &u))) {
                    break;
                }
                switch (idx) {
                    case K_S:
                        rc =
                            u < SHOAL_JOB__COUNT ? SHOAL_OK : SHOAL_ERR_CORRUPT;
                        n->state = (uint8_t) u;
                        break;
                    case K_A:
                    case K_FI:
                    case K_VI:
                    case K_TG:
                        rc = u <= UINT32_MAX ? SHOAL_OK : SHOAL_ERR_CORRUPT;
                        *(idx == K_A    ? &n->arrived
                          : idx == K_FI ? &n->fired
                          : idx == K_VI ? &n->via
                                        : &n->tk_g) = (uint32_t) u;
                        has_tg = has_tg || idx == K_TG;
                        break;
                    case K_ST:
                        n->started_us = u;
                        break;
                    case K_F:
                        n->finished_us = u;
                        break;
                    case K_V:
                        version = u;
                        break;
                    case K_AC:
                        n->act = u;
                        break;
                    case K_TD:
                        n->tk_d = (uint8_t) u;
                        has_td = u < 256;
                        break;
                    case K_TN:
                        n->tk_n = u;
                        has_tn = true;
                        break;
                    default:
                        break;
                }
        }
    }
    const uint64_t need =
        1u << K_S | 1u << K_A | 1u << K_FI | 1u << K_ST | 1u << K_F;
    if (rc || (seen & need) != need) {
        return SHOAL_ERR_CORRUPT;
    }
    if (jid && jlen == 16) {
        memcpy (n->job.b, jid, 16);
        n->has_job = true;
    }
    if (version < 2 && shoal_job_state_final (n->state)) {
        n->routed = true; /* routed inline when it ended */
    }
    n->has_ticket = has_td && has_tg && has_tn;
    if (out && !(n->output = s_dup (out, out_len))) {
        return SHOAL_ERR_NOMEM;
    }
    n->output_len = out ? out_len : 0;
    if (fo_len && !(n->fo = s_dup (fo, fo_len))) {
        return SHOAL_ERR_NOMEM;
    }
    n->fo_len = n->fo ? fo_len : 0;
    if ((n->pending || n->gating) && msg && !(n->msg = s_dup (msg, msg_len))) {
        return SHOAL_ERR_NOMEM;
    }
    n->msg_len = n->msg ? msg_len : 0;
    return SHOAL_OK;
}

/*  The stored (encoded) definition name at revision *rev (0: the latest,
    and *rev is set to it). *v and *len point into the transaction. */
static shoal_err_t
s_def_raw (self_t *self, const char *name, uint32_t *rev, const void **v,
           size_t *len, char *err, size_t cap)
{
    if (*rev == 0) {
        char key[SHOAL_NAME_MAX + 8];
        int klen = snprintf (key, sizeof key, "wfrev:%s", name);
        shoal_err_t rc = shoal_txn_get (self->txn, SHOAL_DBI_META, key,
                                        (size_t) klen, v, len);
        if (rc == SHOAL_OK && *len == sizeof *rev) {
            memcpy (rev, *v, sizeof *rev);
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
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_WF_DEFS, key, n + 5, v, len);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        snprintf (err, cap, "workflow %s has no revision %u", name, *rev);
    }
    return rc;
}

static void
s_wf_free (void **item)
{
    shoal_wf_destroy ((shoal_wf_t **) item);
}

/*  The definition name at revision *rev (0: the latest), decoded once and
    cached (a revision never changes): *wf is borrowed, valid until the
    next s_def_load. */
static shoal_err_t
s_def_load (self_t *self, const char *name, uint32_t *rev,
            const shoal_wf_t **wf, char *err, size_t cap)
{
    *wf = NULL;
    const void *v;
    size_t len;
    shoal_err_t rc = SHOAL_OK;
    if (*rev == 0 && (rc = s_def_raw (self, name, rev, &v, &len, err, cap))) {
        return rc;
    }
    char key[SHOAL_NAME_MAX + 16];
    snprintf (key, sizeof key, "%s\x01%u", name, *rev);
    if (!self->wf_cache) {
        if (!(self->wf_cache = zhashx_new ())) {
            return SHOAL_ERR_NOMEM;
        }
        zhashx_set_destructor (self->wf_cache, s_wf_free);
    }
    if ((*wf = zhashx_lookup (self->wf_cache, key))) {
        return SHOAL_OK;
    }
    if ((rc = s_def_raw (self, name, rev, &v, &len, err, cap))) {
        return rc;
    }
    /* Decoding borrows only during the call: v may move on a write. */
    shoal_wf_t *dec = NULL;
    if (shoal_wf_decode (v, len, NULL, &dec, err, cap)) {
        return SHOAL_ERR_CORRUPT;
    }
    if (zhashx_size (self->wf_cache) >= S_WF_CACHE_MAX) {
        zhashx_purge (self->wf_cache);
    }
    if (zhashx_insert (self->wf_cache, key, dec)) {
        shoal_wf_destroy (&dec);
        return SHOAL_ERR_NOMEM;
    }
    *wf = dec;
    return SHOAL_OK;
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

/*  run.node.<what> {run, workflow, node, state, job?, port?, fired?,
    error?}: a run's node started (run.node.started), ended and was routed
    (run.node.succeeded, .dead, .cancelled, with how many out-edges
    fired) or was skipped (run.node.skipped). ("node." is the executors'.) */
static void
s_note_node_event (self_t *self, const char *what, const s_run_t *r,
                   const shoal_wf_t *wf, uint32_t i, const s_node_t *n,
                   int fired)
{
    if (!self->events_on) {
        return;
    }
    char topic[32];
    snprintf (topic, sizeof topic, "run.node.%s", what);
    shoal_event_head (self->events, self->port, topic,
                      4 + n->has_job + (n->port[0] != '\0') + (fired >= 0) +
                          (n->error[0] != '\0'));
    shoal_wr_kv_bin (self->events, "run", r->id.b, 16);
    shoal_wr_kv_str (self->events, "workflow", r->name);
    shoal_wr_kv_str (self->events, "node", shoal_wf_node (wf, i)->id);
    shoal_wr_kv_str (self->events, "state", shoal_job_state_name (n->state));
    if (n->has_job) {
        shoal_wr_kv_bin (self->events, "job", n->job.b, 16);
    }
    if (n->port[0]) {
        shoal_wr_kv_str (self->events, "port", n->port);
    }
    if (fired >= 0) {
        shoal_wr_kv_uint (self->events, "fired", (uint64_t) fired);
    }
    if (n->error[0]) {
        shoal_wr_kv_str (self->events, "error", n->error);
    }
    self->nevents++;
}

/*  run.progress {id, workflow, done, total, percent, counts: {state: n},
    eta_ms?}: after every step, for whoever watches (built only when the
    monitor has a subscriber). eta_ms extrapolates the time per decided
    node so far. */
static shoal_err_t
s_note_progress (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint64_t now)
{
    /* At most one every S_PROGRESS_US per run, and its end: counting
       means reading every node of the run. A run shorter than that has
       just its end. */
    uint64_t last = r->progress_us ? r->progress_us : r->created_us;
    bool end = r->undecided == 0 || s_final (r->state);
    if (!self->events_on || (!end && now - last < S_PROGRESS_US)) {
        return SHOAL_OK;
    }
    /* Under load every run is older than that at every step: the
       host-wide budget keeps the cost bounded (ends always count). */
    if (now / 1000000 != self->progress_sec) {
        self->progress_sec = now / 1000000;
        self->progress_n = 0;
    }
    if (!end && self->progress_n >= S_PROGRESS_PER_S) {
        return SHOAL_OK;
    }
    self->progress_n++;
    r->progress_us = now;
    uint32_t nn = shoal_wf_node_count (wf), total = 0;
    uint32_t counts[SHOAL_JOB__COUNT] = {0};
    for (uint32_t i = 0; i < nn; i++) {
        if (shoal_wf_node (wf, i)->handler) {
            continue;
        }
        uint8_t state = SHOAL_JOB_WAITING;
        shoal_err_t rc = s_node_state (self, &r->id, i, &state);
        if (rc) {
            return rc;
        }
        counts[state]++;
        total++;
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

/*  Whether out-edge k of a routed node fired (its STEP's bitmap). */
static bool
s_fired (const s_node_t *src, uint32_t k)
{
    return src->routed && src->fo && k / 8 < src->fo_len &&
           (src->fo[k / 8] >> (k % 8) & 1u);
}

/*  The message for target node t of a join-all, whose fired incoming
    edges number fired (>= 1): that one output, or {source id: output}
    for several (in the order of the sources). Written to w. */
static shoal_err_t
s_join_message (self_t *self, const shoal_wf_t *wf, const s_run_t *r,
                uint32_t t, uint32_t fired, shoal_wr_t *w)
{
    if (fired > 1) {
        shoal_wr_map (w, fired);
    }
    uint32_t nn = shoal_wf_node_count (wf), seen = 0;
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < nn && seen < fired && rc == SHOAL_OK; i++) {
        const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
        bool feeds = false;
        for (uint32_t k = 0; k < nd->n_out && !feeds; k++) {
            feeds = shoal_wf_out (wf, i, k)->to == t;
        }
        if (!feeds) {
            continue;
        }
        s_node_t src;
        if ((rc = s_node_get (self, &r->id, i, &src))) {
            break;
        }
        for (uint32_t k = 0; k < nd->n_out && seen < fired; k++) {
            if (shoal_wf_out (wf, i, k)->to != t || !s_fired (&src, k)) {
                continue;
            }
            seen++;
            if (fired > 1) {
                shoal_wr_str (w, nd->id);
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

/*  Runs node i of run r as a job: its own (x == i) or, when its breaker
    is open, its fallback node x's type and config in its place (the job
    still belongs to node i, so its end routes i's edges). tk: the
    breaker's ticket to report at the end, or NULL. cur as for
    s_activate. */
static shoal_err_t
s_start_job (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint32_t i,
             uint32_t x, const uint8_t *msg, size_t msg_len, uint64_t now,
             const s_node_t *tk, s_node_t *cur)
{
    const shoal_wf_node_t *nd = shoal_wf_node (wf, x);
    shoal_job_t job;
    memset (&job, 0, sizeof job);
    shoal_port_new_id (self->port, &job.id);
    /* LIMITS HOOK: a node with max_concurrent or rate has its own queue */
    shoal_err_t rc =
        store_runlim_job_queue (self, wf, x, job.queue, sizeof job.queue);
    if (rc) {
        return rc;
    }
    snprintf (job.type, sizeof job.type, "%s", nd->type);
    job.priority = nd->priority;
    job.timeout_ms = nd->timeout_ms;
    if (nd->require) {
        snprintf (job.require, sizeof job.require, "%s", nd->require);
    }
    job.retry = nd->retry;
    job.retry_len = nd->retry_len;
    job.payload = nd->config ? nd->config : msg;
    job.payload_len = nd->config ? nd->config_len : msg_len;
    /* An exec node's program needs its config and still gets the message
       (exec: "message", read as JSON on its stdin). */
    shoal_wr_t *pl = NULL;
    shoal_mp_val_t mv;
    if (nd->config && msg && strcmp (nd->type, "exec") == 0 &&
        shoal_map_find (nd->config, nd->config_len, "message", &mv, NULL,
                        NULL) == SHOAL_ERR_NOT_FOUND) {
        shoal_rd_t rd;
        uint32_t pairs = 0;
        shoal_rd_init (&rd, nd->config, nd->config_len);
        if (!(pl = shoal_wr_new ())) {
            return SHOAL_ERR_NOMEM;
        }
        if (shoal_rd_map (&rd, &pairs) == SHOAL_OK) {
            shoal_wr_map (pl, pairs + 1);
            shoal_wr_raw (pl, rd.p, shoal_rd_left (&rd));
            shoal_wr_kv_raw (pl, "message", msg, msg_len);
            if (shoal_wr_error (pl) == SHOAL_OK) {
                job.payload = shoal_wr_data (pl);
                job.payload_len = shoal_wr_size (pl);
            }
        }
    }
    job.in_run = true;
    job.run = r->id;
    job.node = i;
    rc = store_insert_job (self, &job, now);
    shoal_wr_destroy (&pl);
    if (rc) {
        return rc;
    }
    s_node_t own, *n = cur ? cur : &own;
    if (cur || (rc = s_node_get (self, &r->id, i, &own)) == SHOAL_OK) {
        n->state = job.state;
        n->pending = n->gating = false;
        free (n->msg);
        n->msg = NULL;
        n->msg_len = 0;
        n->has_job = true;
        n->job = job.id;
        n->started_us = now;
        n->via = x != i ? x + 1 : 0;
        n->has_ticket = tk && tk->has_ticket;
        if (n->has_ticket) {
            n->tk_d = tk->tk_d;
            n->tk_g = tk->tk_g;
            n->tk_n = tk->tk_n;
        }
        if (x != i) {
            snprintf (n->error, sizeof n->error,
                      "breaker open: ran fallback %s", nd->id);
        }
        rc = s_node_put (self, &r->id, i, n);
        if (rc == SHOAL_OK) {
            s_note_node_event (self, "started", r, wf, i, n, -1);
        }
    }
    if (!cur) {
        s_node_clear (&own);
    }
    if (rc == SHOAL_OK && x != i) {
        /* The fallback node shows the run it did in i's place. */
        s_node_t f;
        if ((rc = s_node_get (self, &r->id, x, &f)) == SHOAL_OK) {
            f.state = job.state;
            f.has_job = true;
            f.job = job.id;
            f.started_us = now;
            rc = s_node_put (self, &r->id, x, &f);
        }
        s_node_clear (&f);
    }
    return rc;
}

/*  GATE {run, node, ac, t, pol}: asks node i's breaker (via the router)
    whether it may start; sent after the commit. */
static shoal_err_t
s_send_gate (self_t *self, const s_run_t *r, const shoal_wf_t *wf, uint32_t i,
             uint64_t act)
{
    const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
    shoal_breaker_policy_t p;
    shoal_breaker_policy_init (&p);
    p.rate_ppm =
        (uint32_t) (nd->breaker.failure_rate * SHOAL_BREAKER_PPM + 0.5);
    p.rate_ppm = p.rate_ppm ? p.rate_ppm : 1;
    p.min_calls = nd->breaker.min_calls;
    p.window_us = nd->breaker.window_us / 10 * 10;
    p.window_us = p.window_us ? p.window_us : 10;
    p.open_us = nd->breaker.open_us;
    p.successes = nd->breaker.half_open_successes;
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_GATE, SHOAL_ROUTER_NAME, NULL);
    shoal_wr_map (w, 5);
    shoal_wr_kv_bin (w, "run", r->id.b, 16);
    shoal_wr_kv_uint (w, "node", i);
    shoal_wr_kv_uint (w, "ac", act);
    shoal_wr_kv_str (w, "t", nd->type);
    shoal_wr_str (w, "pol");
    shoal_breaker_policy_encode (&p, w);
    return shoal_port_defer (self->port);
}

/*  Starts node i of run r with message msg (NULL: none): it waits while
    the run is paused; a node with a breaker first asks it (GATE, then
    ADMIT decides); others run at once. cur: node i's record as the
    caller holds it (updated and written here; the caller keeps and clears
    it), or NULL to read it. */
static shoal_err_t
s_activate (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint32_t i,
            const uint8_t *msg, size_t msg_len, uint64_t now, s_node_t *cur)
{
    /* LIMITS HOOK: the run's max_concurrency gate (shoal_store_runlimits.c)
       decides "start now" (taking a slot) or "wait in line". */
    bool go = !r->paused;
    shoal_err_t rc = SHOAL_OK;
    if (go && (rc = store_runlim_admit (self, &r->id, wf, i, &go))) {
        return rc;
    }
    bool gate = shoal_wf_node (wf, i)->has_breaker;
    if (go && !gate) {
        return s_start_job (self, r, wf, i, i, msg, msg_len, now, NULL, cur);
    }
    /* The node keeps its message: it starts on resume, when a slot
       frees (s_start_waiting), or on ADMIT. */
    s_node_t own, *n = cur ? cur : &own;
    if (!cur) {
        rc = s_node_get (self, &r->id, i, &own);
    }
    if (rc == SHOAL_OK) {
        free (n->msg);
        n->msg = msg ? s_dup (msg, msg_len) : NULL;
        n->msg_len = n->msg ? msg_len : 0;
        if (!go) {
            n->pending = true;
        } else {
            n->gating = true;
            n->state = SHOAL_JOB_ENQUEUED;
            n->act = now;
            n->started_us = now;
        }
        rc = msg && !n->msg ? SHOAL_ERR_NOMEM : s_node_put (self, &r->id, i, n);
    }
    if (rc == SHOAL_OK && n->gating) {
        rc = s_send_gate (self, r, wf, i, n->act);
    }
    if (!cur) {
        s_node_clear (&own);
    }
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
                rc = s_activate (self, r, wf, i, n.msg, n.msg_len, now, NULL);
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

/*  Compensation "branch": the nodes a failure came through - every node
    from which an edge path leads to a node that failed unhandled (and
    those nodes). *scope: nn flags, owned by the caller (free). */
static shoal_err_t
s_failed_branches (self_t *self, const s_run_t *r, const shoal_wf_t *wf,
                   bool **scope)
{
    uint32_t nn = shoal_wf_node_count (wf), ne = shoal_wf_edge_count (wf);
    bool *in = calloc (nn ? nn : 1, sizeof *in);
    if (!in) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        s_node_t n;
        if ((rc = s_node_get (self, &r->id, i, &n)) == SHOAL_OK) {
            in[i] = n.unhandled;
        }
        s_node_clear (&n);
    }
    /* Backwards along edges until nothing changes (a DAG: at most nn
       rounds, each over the edges). */
    for (bool grew = true; grew && rc == SHOAL_OK;) {
        grew = false;
        for (uint32_t k = 0; k < ne; k++) {
            const shoal_wf_edge_t *e = shoal_wf_edge (wf, k);
            if (in[e->to] && !in[e->from]) {
                in[e->from] = grew = true;
            }
        }
    }
    if (rc) {
        free (in);
        return rc;
    }
    *scope = in;
    return SHOAL_OK;
}

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
    bool *scope = NULL;
    shoal_err_t rc = SHOAL_OK;
    if (shoal_wf_compensation (wf) == SHOAL_WF_COMP_BRANCH &&
        (rc = s_failed_branches (self, r, wf, &scope))) {
        return rc;
    }
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
        if (nd->compensate < 0 || (scope && !scope[i])) {
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
    free (scope);
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
        rc = s_activate (self, r, wf, comp, n.output, n.output_len, now, NULL);
        *started = rc == SHOAL_OK;
    }
    s_node_clear (&n);
    return rc;
}

/*  A run ended: its fallback and compensation nodes that never ran are
    "cancelled" ("not needed"), so an ended run shows no waiting node. */
static shoal_err_t
s_close_handlers (self_t *self, const s_run_t *r, const shoal_wf_t *wf,
                  uint64_t now)
{
    uint32_t nn = shoal_wf_node_count (wf);
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        if (!shoal_wf_node (wf, i)->handler) {
            continue;
        }
        s_node_t n;
        if ((rc = s_node_get (self, &r->id, i, &n)) == SHOAL_OK &&
            n.state == SHOAL_JOB_WAITING && !n.has_job) {
            n.state = SHOAL_JOB_CANCELLED;
            n.finished_us = now;
            n.pending = n.gating = false;
            n.routed = true;
            snprintf (n.error, sizeof n.error, "not needed");
            rc = s_node_put (self, &r->id, i, &n);
        }
        s_node_clear (&n);
    }
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
    return s_close_handlers (self, r, wf, now);
}

/*  Decides the outgoing edges of the nodes in work, node by node: each
    target learns whether its edge fired, and starts, waits or is skipped
    (skipping pushes the target in turn). first: the first work node's
    record as the caller holds it (taken over), or NULL. */
static shoal_err_t
s_route (self_t *self, s_run_t *r, const shoal_wf_t *wf, zlistx_t *work,
         uint64_t now, s_node_t *first)
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
        if (first) {
            src = *first; /* taken over: the caller's copy is emptied */
            memset (first, 0, sizeof *first);
            first = NULL;
        } else if ((rc = s_node_get (self, &r->id, from, &src))) {
            break;
        }
        bool handled = false;
        uint32_t nout = shoal_wf_node (wf, from)->n_out;
        for (uint32_t k = 0; k < nout && rc == SHOAL_OK; k++) {
            const shoal_wf_edge_t *e = shoal_wf_out (wf, from, k);
            bool fired = s_fired (&src, k);
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
                t.routed = true; /* no edge of a skipped node fires */
                snprintf (t.error, sizeof t.error, "not reached");
            }
            /* A node that starts is written once, by its activation. */
            if (!start) {
                rc = s_node_put (self, &r->id, e->to, &t);
            }
            uint32_t fired_in = t.fired;
            if (rc == SHOAL_OK && skip) {
                s_note_node_event (self, "skipped", r, wf, e->to, &t, -1);
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
                                     shoal_wr_size (msg), now, &t);
                }
            }
            s_node_clear (&t);
        }
        if (rc == SHOAL_OK && src.state == SHOAL_JOB_DEAD && !handled) {
            src.unhandled = true; /* where a branch failed (compensation) */
            rc = s_node_put (self, &r->id, from, &src);
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

/*  ROUTE {run, node, j?, n, r, s, o?, in?, def?, bt?, bg?, bd?, bn?,
    only?} to the router for node i of run r, which ended (n); sent after
    the commit. only: just report the end to the node's breaker (the run
    is over). with_def: the router does not know the definition. */
static shoal_err_t
s_send_route (self_t *self, const s_run_t *r, const shoal_wf_t *wf, uint32_t i,
              const s_node_t *n, bool only, bool with_def)
{
    const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
    bool cond = false;
    for (uint32_t k = 0; k < nd->n_out && !cond; k++) {
        cond = shoal_wf_out (wf, i, k)->cond != NULL;
    }
    bool tk = n->has_ticket && !n->via;
    const void *def = NULL;
    size_t def_len = 0;
    if (with_def && !only) {
        char err[SHOAL_WF_ERR_MAX];
        uint32_t rev = r->rev;
        shoal_err_t rc =
            s_def_raw (self, r->name, &rev, &def, &def_len, err, sizeof err);
        if (rc) {
            return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
        }
    }
    /* The port goes as a name; the output and input only when a
       condition reads them (an item stays small, whatever the output),
       and only when they fit a frame with the rest: if not, "big" and
       the conditions cannot be evaluated (their edges do not fire). */
    size_t values = (n->output ? n->output_len : 0) +
                    (r->input ? r->input_len : 0) + def_len;
    bool big = cond && values > S_ROUTE_VALUES_MAX;
    cond = cond && !big;
    if (self->nroutes > 0 &&
        shoal_wr_size (self->routes) + values > S_ROUTES_FLUSH) {
        shoal_err_t rc = store_run_flush_routes (self); /* a big one alone */
        if (rc) {
            return rc;
        }
    }
    shoal_wr_t *w = self->routes;
    shoal_wr_map (w, 7 + n->has_job + (cond && n->output) + (cond && r->input) +
                         (def != NULL) + 4 * tk + only + big);
    if (big) {
        shoal_wr_kv_bool (w, "big", true);
    }
    shoal_wr_kv_bin (w, "run", r->id.b, 16);
    shoal_wr_kv_uint (w, "node", i);
    shoal_wr_kv_str (w, "n", r->name);
    shoal_wr_kv_uint (w, "r", r->rev);
    shoal_wr_kv_uint (w, "s", n->state);
    shoal_wr_kv_uint (w, "v", 1);
    if (n->has_job) {
        shoal_wr_kv_bin (w, "j", n->job.b, 16);
    }
    shoal_wr_kv_str (w, "p", n->port); /* "" matches no edge */
    if (cond && n->output) {
        shoal_wr_kv_raw (w, "o", n->output, n->output_len);
    }
    if (cond && r->input) {
        shoal_wr_kv_raw (w, "in", r->input, r->input_len);
    }
    if (def) {
        shoal_wr_kv_raw (w, "def", def, def_len);
    }
    if (tk) {
        shoal_wr_kv_str (w, "bt", nd->type);
        shoal_wr_kv_uint (w, "bd", n->tk_d);
        shoal_wr_kv_uint (w, "bg", n->tk_g);
        shoal_wr_kv_uint (w, "bn", n->tk_n);
    }
    if (only) {
        shoal_wr_kv_bool (w, "only", true);
    }
    self->nroutes++;
    shoal_err_t rc = shoal_wr_error (w);
    if (rc == SHOAL_OK && shoal_wr_size (w) >= S_ROUTES_FLUSH) {
        rc = store_run_flush_routes (self); /* keep each message small */
    }
    return rc;
}

shoal_err_t
store_run_flush_routes (self_t *self)
{
    if (self->nroutes == 0) {
        return SHOAL_OK;
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_ROUTE, SHOAL_ROUTER_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, self->nroutes);
    shoal_wr_raw (w, shoal_wr_data (self->routes),
                  shoal_wr_size (self->routes));
    shoal_wr_reset (self->routes);
    self->nroutes = 0;
    return shoal_port_defer (self->port);
}

/*  After the routing of a step: the run may end, and watchers hear. */
static shoal_err_t
s_after_step (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint64_t now)
{
    /* progress first: its last event comes before run.succeeded */
    shoal_err_t rc = s_note_progress (self, r, wf, now);
    if (rc == SHOAL_OK) {
        rc = s_maybe_finish (self, r, wf, now);
    }
    if (rc == SHOAL_OK) {
        rc = s_run_put (self, r);
    }
    if (rc == SHOAL_OK) {
        rc = s_wake_run (self, r);
    }
    return rc;
}

/*  Sets node n's end from its final job (in memory): state, output (up
    to S_OUT_MAX), port, error (a node that ran its fallback keeps "ran
    fallback X" unless the job has an error), when. */
static shoal_err_t
s_end_set (s_node_t *n, const shoal_job_t *job, uint64_t now)
{
    n->state = job->state;
    n->finished_us = job->finished_us ? job->finished_us : now;
    if (job->started_us) {
        n->started_us = job->started_us; /* when it ran, not was reached */
    }
    free (n->output);
    n->output = NULL;
    n->output_len = 0;
    if (job->result && job->result_len <= S_OUT_MAX) {
        if (!(n->output = s_dup (job->result, job->result_len))) {
            return SHOAL_ERR_NOMEM;
        }
        n->output_len = job->result_len;
    }
    shoal_wf_port_of (n->output, n->output_len, n->port, sizeof n->port);
    if (job->error[0] || !n->via) {
        snprintf (n->error, sizeof n->error, "%.*s", (int) sizeof n->error - 1,
                  job->error);
    }
    return SHOAL_OK;
}

/*  Writes node i's end (s_end_set) and, when it ran its fallback, shows
    the same end on the fallback node. */
static shoal_err_t
s_end_put (self_t *self, const s_run_t *r, uint32_t i, const s_node_t *n)
{
    shoal_err_t rc = s_node_put (self, &r->id, i, n);
    if (rc == SHOAL_OK && n->via) {
        s_node_t f;
        if ((rc = s_node_get (self, &r->id, n->via - 1, &f)) == SHOAL_OK) {
            f.state = n->state;
            f.started_us = n->started_us;
            f.finished_us = n->finished_us;
            free (f.output);
            f.output = n->output ? s_dup (n->output, n->output_len) : NULL;
            f.output_len = f.output ? n->output_len : 0;
            snprintf (f.port, sizeof f.port, "%s", n->port);
            /* its own error, not the "ran fallback" note */
            if (strncmp (n->error, "breaker open: ran fallback", 26) == 0) {
                f.error[0] = '\0';
            } else {
                snprintf (f.error, sizeof f.error, "%s", n->error);
            }
            rc = n->output && !f.output
                     ? SHOAL_ERR_NOMEM
                     : s_node_put (self, &r->id, n->via - 1, &f);
        }
        s_node_clear (&f);
    }
    return rc;
}

/*  Node n (record as read) has ended when its record says so (failed at
    once by its breaker, or an end written by an older version), or when
    its job is final: then its end is set from the job (s_end_set, in
    memory). */
static shoal_err_t
s_end_of (self_t *self, s_node_t *n, uint64_t now, bool *ended)
{
    *ended = shoal_job_state_final (n->state);
    if (*ended || !n->has_job) {
        return SHOAL_OK;
    }
    shoal_job_t job;
    shoal_err_t rc = store_get_job (self, &n->job, &job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        /* its record is gone (retention): it cannot have succeeded here */
        n->state = SHOAL_JOB_DEAD;
        n->finished_us = now;
        snprintf (n->error, sizeof n->error, "its job record is gone");
        *ended = true;
        return SHOAL_OK;
    }
    if (rc || !shoal_job_state_final (job.state)) {
        return rc;
    }
    *ended = true;
    return s_end_set (n, &job, now);
}

/*  A node's job ended: asks the router which edges fire (ROUTE); the
    node's end and its routing commit together with the answer (STEP). A
    compensation node has no edges: its end is written and the saga goes
    on at once. */
shoal_err_t
store_run_final (self_t *self, const shoal_job_t *job, uint64_t now)
{
    if (!job->in_run) {
        return SHOAL_OK;
    }
    s_run_t r;
    shoal_err_t rc = s_run_get (self, &job->run, &r);
    if (rc) {
        s_run_clear (&r);
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    const shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r.rev;
    if ((rc = s_def_load (self, r.name, &rev, &wf, err, sizeof err)) ||
        job->node >= shoal_wf_node_count (wf)) {
        s_run_clear (&r);
        return rc == SHOAL_ERR_NOMEM ? rc : SHOAL_OK; /* nothing to route */
    }
    s_node_t n;
    rc = s_node_get (self, &r.id, job->node, &n);
    if (rc == SHOAL_OK && !n.routed && !shoal_job_state_final (n.state) &&
        memcmp (&n.job, &job->id, 16) == 0) {
        rc = s_end_set (&n, job, now);
        bool handler = shoal_wf_node (wf, job->node)->handler;
        /* A compensation node has no edges: its end is written here and
           the saga goes on. So is a node ending in a run that is over.
           Any other node's end is written by its step (STEP), with the
           routing it causes: one transaction. */
        bool here = handler || s_final (r.state);
        if (rc == SHOAL_OK && here) {
            rc = s_end_put (self, &r, job->node, &n);
        }
        /* LIMITS HOOK: the node's slot is free; nodes waiting for one
           start before those this node reaches (at its STEP) */
        if (rc == SHOAL_OK) {
            rc = store_runlim_end (self, &r.id, wf);
        }
        if (rc == SHOAL_OK && !s_final (r.state)) {
            rc = s_start_waiting (self, &r, wf, now);
        }
        if (rc == SHOAL_OK && here) {
            if (n.has_ticket && !n.via) {
                rc = s_send_route (self, &r, wf, job->node, &n, true, false);
            }
            if (rc == SHOAL_OK && !s_final (r.state)) {
                rc = s_after_step (self, &r, wf, now); /* saga goes on */
            }
        } else if (rc == SHOAL_OK) {
            rc = s_send_route (self, &r, wf, job->node, &n, false, false);
        }
    }
    s_node_clear (&n);
    s_run_clear (&r);
    return rc;
}

/*  Reads {run, node} of a router message into r (owned) and *node, with
    the run's definition; SHOAL_ERR_NOT_FOUND when there is nothing to do
    (no such run, over, or a node out of range). */
static shoal_err_t
s_router_msg (self_t *self, const uint8_t *body, size_t len, s_run_t *r,
              uint32_t *node, const shoal_wf_t **wf)
{
    memset (r, 0, sizeof *r);
    const uint8_t *id;
    uint32_t id_len = 0;
    uint64_t i = 0;
    if (shoal_map_bin (body, len, "run", &id, &id_len) || id_len != 16 ||
        shoal_map_uint (body, len, "node", &i) || i > UINT32_MAX) {
        shoal_warn ("store: malformed item from the router");
        return SHOAL_ERR_NOT_FOUND;
    }
    shoal_id_t rid;
    memcpy (rid.b, id, 16);
    shoal_err_t rc = s_run_get (self, &rid, r);
    if (rc == SHOAL_OK && s_final (r->state)) {
        rc = SHOAL_ERR_NOT_FOUND;
    }
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r->rev;
    if (rc == SHOAL_OK &&
        (rc = s_def_load (self, r->name, &rev, wf, err, sizeof err)) ==
            SHOAL_OK &&
        i >= shoal_wf_node_count (*wf)) {
        rc = SHOAL_ERR_NOT_FOUND;
    }
    *node = (uint32_t) i;
    return rc == SHOAL_ERR_CORRUPT ? SHOAL_ERR_NOT_FOUND : rc;
}

/*  One STEP item {run, node, j?, fo | need}: the router decided node's edges. In
    this one transaction: the node is routed, its targets learn of it and
    start, wait or are skipped (and so on down skipped paths), and the run
    may end. A STEP for a node already routed (sent twice) changes
    nothing. */
static shoal_err_t
s_step_item (self_t *self, const uint8_t *body, size_t body_len, uint64_t now)
{
    s_run_t r;
    uint32_t i = 0;
    const shoal_wf_t *wf = NULL;
    shoal_err_t rc = s_router_msg (self, body, body_len, &r, &i, &wf);
    s_node_t n;
    memset (&n, 0, sizeof n);
    if (rc == SHOAL_OK) {
        rc = s_node_get (self, &r.id, i, &n);
    }
    const uint8_t *jid = NULL, *fo = NULL;
    uint32_t jlen = 0, fo_len = 0;
    bool need = false;
    shoal_map_bin (body, body_len, "j", &jid, &jlen);
    shoal_map_bin (body, body_len, "fo", &fo, &fo_len);
    shoal_map_bool (body, body_len, "need", &need);
    bool ended = false;
    if (rc == SHOAL_OK && !n.routed) {
        rc = s_end_of (self, &n, now, &ended);
    }
    bool mine =
        rc == SHOAL_OK && !n.routed && ended &&
        (n.has_job ? jlen == 16 && memcmp (jid, n.job.b, 16) == 0 : jlen == 0);
    if (mine && need) {
        rc = s_send_route (self, &r, wf, i, &n, false, true);
    } else if (mine) {
        /* The step: the node's end, its routing, its targets' starts and
           the events, in this one transaction. */
        free (n.fo);
        n.fo = fo_len ? s_dup (fo, fo_len) : NULL;
        n.fo_len = n.fo ? fo_len : 0;
        n.routed = true;
        n.unhandled = n.state == SHOAL_JOB_CANCELLED;
        rc = fo_len && !n.fo ? SHOAL_ERR_NOMEM : s_end_put (self, &r, i, &n);
        if (rc == SHOAL_OK && self->events_on) {
            int fired = 0;
            for (uint32_t k = 0; k < shoal_wf_node (wf, i)->n_out; k++) {
                fired += s_fired (&n, k);
            }
            s_note_node_event (self, shoal_job_state_name (n.state), &r, wf, i,
                               &n, fired);
        }
        if (rc == SHOAL_OK && n.state == SHOAL_JOB_CANCELLED) {
            /* someone cancelled the node's job: the run cannot succeed */
            r.unhandled++;
            if (!r.error[0]) {
                snprintf (r.error, sizeof r.error, "node %.63s: cancelled",
                          shoal_wf_node (wf, i)->id);
            }
        }
        zlistx_t *work = rc ? NULL : store_list_new ();
        if (rc == SHOAL_OK && !work) {
            rc = SHOAL_ERR_NOMEM;
        }
        if (rc == SHOAL_OK) {
            r.undecided -= r.undecided > 0;
            if ((rc = s_push (work, i)) == SHOAL_OK) {
                rc = s_route (self, &r, wf, work, now, &n);
            }
        }
        zlistx_destroy (&work);
        if (rc == SHOAL_OK) {
            rc = s_after_step (self, &r, wf, now);
        }
    }
    s_node_clear (&n);
    s_run_clear (&r);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  STEP {items: [...]}: one router answer per ROUTE message. */
shoal_err_t
store_run_step (self_t *self, shoal_in_t *in)
{
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    shoal_rd_t rd;
    uint32_t count = 0;
    if (shoal_map_array (in->body, in->body_len, "items", &rd, &count)) {
        shoal_warn ("store: malformed STEP from %s", in->hdr.from);
        return SHOAL_OK;
    }
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t k = 0; k < count && rc == SHOAL_OK; k++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, self->lim.depth_max)) {
            break;
        }
        rc = s_step_item (self, item, (size_t) (rd.p - item), now);
    }
    return rc;
}

/*  ROUTE {run, node, s: cancelled, bt, bd, bg, bn, only} for the ticket
    of ADMIT in that no job took: its breaker frees the slot. */
static shoal_err_t
s_give_back (self_t *self, shoal_in_t *in)
{
    const uint8_t *b = in->body, *run = NULL;
    size_t len = in->body_len;
    uint32_t run_len = 0;
    uint64_t node = 0, d = 0, g = 0, bn = 0;
    char type[SHOAL_NAME_MAX + 1];
    if (shoal_map_bin (b, len, "run", &run, &run_len) || run_len != 16 ||
        shoal_map_uint (b, len, "node", &node) ||
        shoal_map_strcpy (b, len, "t", type, sizeof type) || !type[0] ||
        shoal_map_uint (b, len, "d", &d) || shoal_map_uint (b, len, "g", &g) ||
        shoal_map_uint (b, len, "bn", &bn)) {
        return SHOAL_OK; /* not ours to give back */
    }
    shoal_wr_t *w = self->routes;
    shoal_wr_map (w, 8);
    shoal_wr_kv_bin (w, "run", run, 16);
    shoal_wr_kv_uint (w, "node", node);
    shoal_wr_kv_uint (w, "s", SHOAL_JOB_CANCELLED);
    shoal_wr_kv_str (w, "bt", type);
    shoal_wr_kv_uint (w, "bd", d);
    shoal_wr_kv_uint (w, "bg", g);
    shoal_wr_kv_uint (w, "bn", bn);
    shoal_wr_kv_bool (w, "only", true);
    self->nroutes++;
    return shoal_wr_error (w);
}

/*  A node that took a max_concurrency slot will not run: free it. */
static shoal_err_t
s_free_slot (self_t *self, s_run_t *r, const shoal_wf_t *wf, uint64_t now)
{
    shoal_err_t rc = store_runlim_end (self, &r->id, wf);
    return rc ? rc : s_start_waiting (self, r, wf, now);
}

/*  ADMIT {run, node, ac, d, g, bn, why?}: the node's breaker decided.
    Let through: the node runs, keeping the ticket. Rejected: its
    fallback node runs in its place, or it fails at once with the
    breaker's reason (and is routed like any failure). */
shoal_err_t
store_run_admit (self_t *self, shoal_in_t *in)
{
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    s_run_t r;
    uint32_t i = 0;
    const shoal_wf_t *wf = NULL;
    shoal_err_t rc = s_router_msg (self, in->body, in->body_len, &r, &i, &wf);
    s_node_t n;
    memset (&n, 0, sizeof n);
    if (rc == SHOAL_OK) {
        rc = s_node_get (self, &r.id, i, &n);
    }
    uint64_t act = 0, d = SHOAL_BREAKER_REJECT, g = 0, bn = 0;
    const uint8_t *b = in->body;
    size_t len = in->body_len;
    shoal_map_uint (b, len, "ac", &act);
    shoal_map_uint (b, len, "d", &d);
    shoal_map_uint (b, len, "g", &g);
    shoal_map_uint (b, len, "bn", &bn);
    bool used = false; /* the breaker's ticket went to a job */
    if (rc == SHOAL_OK && n.gating && n.act == act && !r.paused) {
        const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
        used = d != SHOAL_BREAKER_REJECT;
        if (d != SHOAL_BREAKER_REJECT) {
            s_node_t tk;
            memset (&tk, 0, sizeof tk);
            tk.has_ticket = true;
            tk.tk_d = (uint8_t) d;
            tk.tk_g = (uint32_t) g;
            tk.tk_n = bn;
            rc = s_start_job (self, &r, wf, i, i, n.msg, n.msg_len, now, &tk,
                              NULL);
        } else if (nd->fallback >= 0) {
            rc = s_start_job (self, &r, wf, i, (uint32_t) nd->fallback, n.msg,
                              n.msg_len, now, NULL, NULL);
        } else {
            /* fail fast: the node is dead without running */
            char why[200] = "circuit open";
            shoal_map_strcpy (b, len, "why", why, sizeof why);
            n.gating = false;
            n.state = SHOAL_JOB_DEAD;
            n.finished_us = now;
            snprintf (n.error, sizeof n.error, "breaker %.63s: %.180s",
                      nd->type, why);
            shoal_wf_port_of (NULL, 0, n.port, sizeof n.port);
            free (n.msg);
            n.msg = NULL;
            n.msg_len = 0;
            n.routed = nd->handler; /* a handler has no edges to route */
            if ((rc = s_node_put (self, &r.id, i, &n)) == SHOAL_OK) {
                rc = s_free_slot (self, &r, wf, now);
            }
            if (rc == SHOAL_OK && nd->handler) {
                rc = s_after_step (self, &r, wf, now); /* saga goes on */
            } else if (rc == SHOAL_OK) {
                rc = s_send_route (self, &r, wf, i, &n, false, false);
            }
        }
        if (rc == SHOAL_OK) {
            rc = s_note_progress (self, &r, wf, now);
        }
    } else if (rc == SHOAL_OK && n.gating && n.act == act && r.paused) {
        /* paused meanwhile: wait for resume, asking again then */
        n.gating = false;
        n.pending = true;
        n.state = SHOAL_JOB_WAITING;
        if ((rc = s_node_put (self, &r.id, i, &n)) == SHOAL_OK) {
            rc = s_free_slot (self, &r, wf, now); /* resume asks again */
        }
    }
    if ((rc == SHOAL_OK || rc == SHOAL_ERR_NOT_FOUND) && !used &&
        d != SHOAL_BREAKER_REJECT) {
        /* Nothing runs on it (the run ended or paused meanwhile, or this
           ADMIT came twice): the breaker gets its trial slot back. */
        shoal_err_t e = s_give_back (self, in);
        rc = rc == SHOAL_OK ? e : rc;
    }
    s_node_clear (&n);
    s_run_clear (&r);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  ROUTER_BOOT: a router started (with the host, or restarted). Whatever
    it was asked and has not answered is lost with the old one: every
    running run's node that ended unrouted is routed again, and every
    node still waiting for its breaker asks again. */
shoal_err_t
store_run_router_boot (self_t *self, shoal_in_t *in)
{
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    shoal_cursor_t *c = NULL;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_RUNS, &c);
    shoal_kv_t kv;
    uint64_t routes = 0, gates = 0;
    zlistx_t *ids = rc ? NULL : store_list_new ();
    if (rc == SHOAL_OK && !ids) {
        rc = SHOAL_ERR_NOMEM;
    }
    /* Collect first: the cursor must not live across our writes. */
    for (shoal_err_t e = rc ? rc : shoal_cursor_seek (c, NULL, 0, &kv);
         e == SHOAL_OK && rc == SHOAL_OK; e = shoal_cursor_next (c, &kv)) {
        uint64_t state = R_SUCCEEDED;
        if (kv.key_len != 16 ||
            shoal_map_uint (kv.val, kv.val_len, "s", &state) ||
            s_final ((int) state)) {
            continue;
        }
        shoal_id_t *id = malloc (sizeof *id);
        if (!id) {
            rc = SHOAL_ERR_NOMEM;
            break;
        }
        memcpy (id->b, kv.key, 16);
        zlistx_add_end (ids, id);
    }
    shoal_cursor_close (&c);
    for (shoal_id_t *id = ids ? zlistx_first (ids) : NULL; id && rc == SHOAL_OK;
         id = zlistx_next (ids)) {
        s_run_t r;
        const shoal_wf_t *wf = NULL;
        char err[SHOAL_WF_ERR_MAX];
        uint32_t rev = 0;
        if ((rc = s_run_get (self, id, &r)) == SHOAL_OK) {
            rev = r.rev;
            if (s_def_load (self, r.name, &rev, &wf, err, sizeof err)) {
                wf = NULL;
            }
        }
        uint32_t nn = wf ? shoal_wf_node_count (wf) : 0;
        for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
            s_node_t n;
            if ((rc = s_node_get (self, &r.id, i, &n))) {
                break;
            }
            bool handler = shoal_wf_node (wf, i)->handler, ended = false;
            if (!handler && !n.routed &&
                (rc = s_end_of (self, &n, now, &ended)) == SHOAL_OK && ended) {
                rc = s_send_route (self, &r, wf, i, &n, false, false);
                routes++;
            } else if (rc == SHOAL_OK && n.gating) {
                rc = s_send_gate (self, &r, wf, i, n.act);
                gates++;
            }
            s_node_clear (&n);
        }
        s_run_clear (&r);
    }
    zlistx_destroy (&ids);
    if (rc == SHOAL_OK) {
        /* after the commit: the router stops announcing itself */
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_OK, in->hdr.from,
                                          &in->hdr.id);
        shoal_wr_map (w, 0);
        rc = shoal_port_defer (self->port);
    }
    if (rc == SHOAL_OK && routes + gates > 0) {
        shoal_info ("store: router started: %llu node end(s) routed again, "
                    "%llu breaker question(s) asked again",
                    (unsigned long long) routes, (unsigned long long) gates);
    }
    return rc;
}

/*  ---------------------------------------------------------------------
    Queries */

/*  {id, workflow, revision, state, created_us, finished_us, error?,
    input?, edges?: [{from, to, on?, port?, if?, fired?}], nodes?: [{id,
    type, state, attempt?, job?, started_us, finished_us, port?, output?,
    error?}]} */
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

/*  edges: the definition's edges in file order, for displays: on when
    not complete, port when not default, if (the condition's text) when
    conditional, and fired (true or false) once the edge is decided, that
    is once its source node is routed: the bit its STEP recorded
    (s_fired). Written as one pair: the array when it fits
    S_VIEW_EDGES_MAX, else edges_bytes: its size. Written before the nodes
    so that outputs, not edges, give way to S_VIEW_TOTAL. */
static shoal_err_t
s_write_edges (self_t *self, shoal_wr_t *w, const s_run_t *r,
               const shoal_wf_t *wf)
{
    uint32_t nn = shoal_wf_node_count (wf), ne = shoal_wf_edge_count (wf);
    uint8_t *fired = calloc (ne + 1, 1); /* 0 undecided, 1 no, 2 yes */
    shoal_wr_t *ew = shoal_wr_new ();
    shoal_err_t rc = fired && ew ? SHOAL_OK : SHOAL_ERR_NOMEM;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        uint32_t nout = shoal_wf_node (wf, i)->n_out;
        if (nout == 0) {
            continue;
        }
        s_node_t n;
        rc = s_node_get (self, &r->id, i, &n);
        for (uint32_t k = 0; rc == SHOAL_OK && n.routed && k < nout; k++) {
            const shoal_wf_edge_t *e = shoal_wf_out (wf, i, k);
            fired[e->index] = (uint8_t) (1 + s_fired (&n, k));
        }
        s_node_clear (&n);
    }
    if (rc == SHOAL_OK) {
        shoal_wr_array (ew, ne);
    }
    for (uint32_t k = 0; k < ne && rc == SHOAL_OK; k++) {
        const shoal_wf_edge_t *e = shoal_wf_edge (wf, k);
        bool on = e->on != SHOAL_WF_ON_COMPLETE;
        bool port = !streq (e->port, "default");
        shoal_wr_map (ew, 2u + on + port + (e->cond_text != NULL) +
                              (fired[k] != 0));
        shoal_wr_kv_str (ew, "from", shoal_wf_node (wf, e->from)->id);
        shoal_wr_kv_str (ew, "to", shoal_wf_node (wf, e->to)->id);
        if (on) {
            shoal_wr_kv_str (ew, "on", shoal_wf_trigger_name (e->on));
        }
        if (port) {
            shoal_wr_kv_str (ew, "port", e->port);
        }
        if (e->cond_text) {
            shoal_wr_kv_str (ew, "if", e->cond_text);
        }
        if (fired[k]) {
            shoal_wr_kv_bool (ew, "fired", fired[k] == 2);
        }
    }
    if (rc == SHOAL_OK && !(rc = shoal_wr_error (ew))) {
        if (shoal_wr_size (ew) <= S_VIEW_EDGES_MAX) {
            shoal_wr_kv_raw (w, "edges", shoal_wr_data (ew),
                             shoal_wr_size (ew));
        } else {
            shoal_wr_kv_uint (w, "edges_bytes", shoal_wr_size (ew));
        }
    }
    shoal_wr_destroy (&ew);
    free (fired);
    return rc;
}

static shoal_err_t
s_write_view (self_t *self, shoal_wr_t *w, const s_run_t *r,
              const shoal_wf_t *wf)
{
    char text[SHOAL_ID_TEXT];
    shoal_id_format (&r->id, text);
    shoal_wr_map (w, 7 + (r->error[0] != '\0') + (r->input != NULL) +
                         2 * (wf != NULL));
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
    shoal_err_t rc = s_write_edges (self, w, r, wf);
    uint32_t nn = shoal_wf_node_count (wf);
    shoal_wr_str (w, "nodes");
    shoal_wr_array (w, nn);
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
    const shoal_wf_t *wf = NULL;
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
    const shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX] = "";
    shoal_err_t rc = s_def_load (self, r.name, &r.rev, &wf, err, sizeof err);
    if (rc) {
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
    if (rc == SHOAL_OK) {
        s_note_run_event (self, "run.started", &r); /* before its nodes' */
    }
    for (uint32_t k = 0; k < shoal_wf_entry_count (wf) && rc == SHOAL_OK; k++) {
        rc = s_activate (self, &r, wf, shoal_wf_entry (wf, k), r.input,
                         r.input_len, now, NULL);
    }
    if (rc == SHOAL_OK) {
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
s_list (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len)
{
    /* In id order (ids grow with time: oldest first), a page at a time:
       after: the last id of the previous page. */
    char after_text[SHOAL_ID_TEXT + 1] = "";
    shoal_id_t after;
    shoal_err_t e =
        shoal_map_strcpy (args, len, "after", after_text, sizeof after_text);
    bool paged = e != SHOAL_ERR_NOT_FOUND;
    if (paged &&
        (e || shoal_id_parse (after_text, strlen (after_text), &after))) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, "after: not a run id");
    }
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_RUNS, &cur);
    if (rc) {
        return rc;
    }
    shoal_wr_t *items = shoal_wr_new ();
    uint32_t n = 0;
    shoal_kv_t kv;
    shoal_id_t last;
    bool more = false;
    for (rc = shoal_cursor_seek (cur, paged ? after.b : NULL, paged ? 16 : 0,
                                 &kv);
         items && rc == SHOAL_OK; rc = shoal_cursor_next (cur, &kv)) {
        if (kv.key_len != 16 || (paged && memcmp (kv.key, after.b, 16) == 0)) {
            continue;
        }
        if (n >= S_LIST_RUNS || shoal_wr_size (items) >= S_LIST_MAX) {
            more = true; /* a next page exists */
            break;
        }
        s_run_t r;
        memcpy (last.b, kv.key, 16);
        if (s_run_get (self, &last, &r) == SHOAL_OK) {
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
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                          in->hdr.from, &in->hdr.id);
        shoal_wr_map (w, 2 + more);
        shoal_wr_kv_uint (w, "code", SHOAL_OK);
        shoal_wr_str (w, "runs");
        shoal_wr_array (w, n);
        shoal_wr_raw (w, shoal_wr_data (items), shoal_wr_size (items));
        if (more) {
            char text[SHOAL_ID_TEXT];
            shoal_id_format (&last, text);
            shoal_wr_kv_str (w, "next", text);
        }
        rc = shoal_port_defer (self->port);
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

/*  A run ends before its nodes do (cancel: timed_out false; timeout:
    true): every node not ended is cancelled - its job stopped if it is
    under way - and decided here (no router step comes for it); a breaker
    ticket it holds is given back. A timeout leaves the fallback and
    compensation nodes to the saga, and marks the nodes that were under
    way as where their branches failed (compensation "branch"). */
static shoal_err_t
s_stop_nodes (self_t *self, const s_run_t *r, const shoal_wf_t *wf,
              uint64_t now, bool timed_out)
{
    uint32_t nn = shoal_wf_node_count (wf);
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < nn && rc == SHOAL_OK; i++) {
        if (timed_out && shoal_wf_node (wf, i)->handler) {
            continue;
        }
        s_node_t n;
        if ((rc = s_node_get (self, &r->id, i, &n))) {
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
            n.unhandled = timed_out && n.has_job;
            n.pending = n.gating = false;
            n.routed = true;
            snprintf (n.error, sizeof n.error, "%s",
                      timed_out ? "run timed out" : "run cancelled");
            if (rc == SHOAL_OK) {
                rc = s_node_put (self, &r->id, i, &n);
            }
            if (rc == SHOAL_OK && n.has_ticket && !n.via) {
                rc = s_send_route (self, r, wf, i, &n, true, false);
            }
        }
        s_node_clear (&n);
    }
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
    const shoal_wf_t *wf = NULL;
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
    if (rc == SHOAL_OK && wf) {
        rc = s_stop_nodes (self, &r, wf, now, false);
    }
    if (rc == SHOAL_OK) {
        s_note_run_event (self, "run.cancelled", &r);
        rc = s_wake_run (self, &r);
    }
    if (rc == SHOAL_OK) {
        rc = s_reply_run (self, in->hdr.from, &in->hdr.id, &r);
    }
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
    const shoal_wf_t *wf = NULL;
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
            rc = s_activate (self, &r, wf, i, n.msg, n.msg_len, now, NULL);
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
    return s_list (self, in, args, len);
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
    const shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    uint32_t rev = r.rev;
    if ((rc = s_def_load (self, r.name, &rev, &wf, err, sizeof err))) {
        s_run_clear (&r);
        return rc == SHOAL_ERR_NOMEM ? rc : SHOAL_OK;
    }
    /* Nodes waiting in the gate's line are cancelled below with the rest;
       the compensation nodes start with every slot free. */
    rc = store_runlim_forget (self, &r.id);
    if (rc == SHOAL_OK) {
        rc = s_stop_nodes (self, &r, wf, now, true);
    }
    if (rc == SHOAL_OK) {
        r.undecided = 0;
        r.unhandled++;
        snprintf (r.error, sizeof r.error, "timeout");
        rc = s_after_step (self, &r, wf, now); /* saga, then failed */
    }
    s_run_clear (&r);
    return rc;
}

/*  ---------------------------------------------------------------------
    Retention */

/*  Deletes run id's node records (keys: run id + index). */
static shoal_err_t
s_forget_nodes (self_t *self, const shoal_id_t *id)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_RUN_NODES, &cur);
    if (rc) {
        return rc;
    }
    uint8_t *keys = NULL;
    size_t n = 0, cap = 0;
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, id->b, 16, &kv); rc == SHOAL_OK;
         rc = shoal_cursor_next (cur, &kv)) {
        if (kv.key_len != S_NKEY || memcmp (kv.key, id->b, 16) != 0) {
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            uint8_t *more = realloc (keys, cap * S_NKEY);
            if (!more) {
                rc = SHOAL_ERR_NOMEM;
                break;
            }
            keys = more;
        }
        memcpy (keys + n * S_NKEY, kv.key, S_NKEY);
        n++;
    }
    shoal_cursor_close (&cur);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        rc = SHOAL_OK;
    }
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        rc = shoal_txn_del (self->txn, SHOAL_DBI_RUN_NODES, keys + i * S_NKEY,
                            S_NKEY);
    }
    free (keys);
    return rc;
}

shoal_err_t
store_run_prune (self_t *self, uint64_t cutoff)
{
    uint8_t *keys = malloc ((size_t) S_RUN_PRUNE_BATCH * SHOAL_TIME_KEY);
    if (!keys) {
        return SHOAL_ERR_NOMEM;
    }
    size_t n = 0;
    shoal_err_t rc = store_collect_due (self, SHOAL_DBI_RUN_FIN, cutoff, keys,
                                        S_RUN_PRUNE_BATCH, &n);
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        const uint8_t *key = keys + i * SHOAL_TIME_KEY;
        shoal_id_t id;
        memcpy (id.b, key + 8, 16);
        s_run_t r;
        shoal_err_t e = s_run_get (self, &id, &r);
        /* only a run that is still ended, at that time, goes */
        bool gone = e == SHOAL_OK && s_final (r.state) &&
                    r.finished_us == shoal_time_key_time (key);
        s_run_clear (&r);
        if (e && e != SHOAL_ERR_NOT_FOUND && e != SHOAL_ERR_CORRUPT) {
            rc = e;
            break;
        }
        if (gone) {
            rc = s_forget_nodes (self, &id);
            if (rc == SHOAL_OK) {
                rc = store_runlim_forget (self, &id);
            }
            if (rc == SHOAL_OK) {
                rc = shoal_txn_del (self->txn, SHOAL_DBI_RUNS, id.b, 16);
            }
        }
        if (rc == SHOAL_OK) {
            rc = shoal_txn_del (self->txn, SHOAL_DBI_RUN_FIN, key,
                                SHOAL_TIME_KEY);
        }
    }
    free (keys);
    return rc;
}
