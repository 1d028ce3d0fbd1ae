/*  shoal_store_runlimits.c - the limits of workflow runs: per-node
    concurrency and rate (through queues), the run's max_concurrency (a
    durable gate), and the run's timeout (a deadline index).

    Node limits (max_concurrent, rate/burst) reuse the queues: a node
    with a limit runs its jobs in a queue of its own, named after the
    workflow and the node ("wf:etl:enrich", or "wfh:<hash>:<node>" when
    that does not fit or is ambiguous), whose stored settings carry the
    limit, so the scheduler enforces it across executors and across all
    runs of the workflow exactly as for any queue. Nodes without a limit
    stay in queue "workflows". The queue is named by workflow and node,
    not by revision: its settings follow the latest definition. Defining a
    revision sets them for every limited node of it, and clears (no limit)
    those of nodes that had a limit in the previous revision and have none
    now; runs of older revisions share the same queues and so the latest
    limits. A run activating a limited node whose queue has no settings at
    all (a definition stored by an older version) writes them from its own
    revision. `shoal queue set` may change them until the next define.

    The run's max_concurrency is a gate in run_gate, keyed by run id:
        run id                  -> {a: node jobs active, s: next seq}
        run id 'q' seq(be64)    -> node index(be32): waiting, in order
        run id 'n' node(be32)   -> seq(be64): the same entry by node
    Every activation of a run with a limit passes the gate (admit): it
    starts when a slot is free and nobody waits before it, else it waits
    (the run keeps its message, as for a pause). A node job that ends
    frees its slot (end); the run then starts the first waiting nodes
    while slots are free (next), before it routes what the ending node
    reached, so nodes start in the order they were reached. It is all in
    LMDB records, so restarts keep it; at most one entry per node waits.

    The run's timeout is an index run_due: deadline(be64) run id. The
    store's timer pass takes due entries (store_runlim_timers) and times
    out runs still running (store_run_expire, shoal_store_runs.c). The
    entry of a run that ended before its deadline is just dropped then.
*/
#include "shoal_store_int.h"
#include "shoal_wf.h"

#define S_QUEUE     "workflows"
#define S_GATE_KEY  16
#define S_GATE_QKEY (16 + 1 + 8)
#define S_GATE_NKEY (16 + 1 + 4)
#define S_DUE_BATCH 256 /* runs timed out per pass */

/*  ---------------------------------------------------------------------
    Node queues */

static bool
s_limited (const shoal_wf_node_t *nd)
{
    return nd->max_concurrent > 0 || nd->rate_interval_us > 0;
}

/*  FNV-1a, 64 bits: a stable name for a pair that does not fit. */
static uint64_t
s_fnv (uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t) s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void
store_runlim_queue_name (const char *wf, const char *node,
                         char out[SHOAL_NAME_MAX + 1])
{
    size_t wl = strlen (wf), nl = strlen (node);
    if (3 + wl + 1 + nl <= SHOAL_NAME_MAX && !strchr (wf, ':') &&
        !strchr (node, ':')) {
        /* exactly two colons: the pair reads back unambiguously */
        memcpy (out, "wf:", 3);
        memcpy (out + 3, wf, wl);
        out[3 + wl] = ':';
        memcpy (out + 4 + wl, node, nl + 1);
        return;
    }
    uint64_t h = s_fnv (14695981039346656037ULL, wf, wl + 1); /* NUL too */
    h = s_fnv (h, node, nl);
    snprintf (out, SHOAL_NAME_MAX + 1, "wfh:%016llx:%.43s",
              (unsigned long long) h, node);
}

/*  Writes node nd's limits into its queue's settings. */
static shoal_err_t
s_queue_set (self_t *self, const char *wf, const shoal_wf_node_t *nd,
             bool if_absent)
{
    char queue[SHOAL_NAME_MAX + 1];
    store_runlim_queue_name (wf, nd->id, queue);
    return store_queue_limits_set (self, queue, nd->max_concurrent,
                                   nd->rate_interval_us,
                                   nd->burst ? nd->burst : 1, if_absent);
}

shoal_err_t
store_runlim_define (self_t *self, const shoal_wf_t *wf, const shoal_wf_t *prev)
{
    const char *name = shoal_wf_name (wf);
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < shoal_wf_node_count (wf) && rc == SHOAL_OK; i++) {
        const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
        if (s_limited (nd)) {
            rc = s_queue_set (self, name, nd, false);
        }
    }
    uint32_t np = prev ? shoal_wf_node_count (prev) : 0;
    for (uint32_t i = 0; i < np && rc == SHOAL_OK; i++) {
        const shoal_wf_node_t *old = shoal_wf_node (prev, i);
        int32_t k = shoal_wf_find (wf, old->id);
        if (s_limited (old) &&
            (k < 0 || !s_limited (shoal_wf_node (wf, (uint32_t) k)))) {
            /* the limit was dropped: its queue (still used by runs of
               the older revision) no longer limits */
            char queue[SHOAL_NAME_MAX + 1];
            store_runlim_queue_name (name, old->id, queue);
            rc = store_queue_limits_set (self, queue, 0, 0, 1, false);
        }
    }
    return rc;
}

shoal_err_t
store_runlim_job_queue (self_t *self, const shoal_wf_t *wf, uint32_t i,
                        char *queue, size_t cap)
{
    const shoal_wf_node_t *nd = shoal_wf_node (wf, i);
    if (!nd || !s_limited (nd)) {
        snprintf (queue, cap, S_QUEUE);
        return SHOAL_OK;
    }
    char name[SHOAL_NAME_MAX + 1];
    store_runlim_queue_name (shoal_wf_name (wf), nd->id, name);
    snprintf (queue, cap, "%s", name);
    return s_queue_set (self, shoal_wf_name (wf), nd, true);
}

/*  ---------------------------------------------------------------------
    The run's max_concurrency gate */

typedef struct {
    uint64_t active; /* node jobs of the run under way */
    uint64_t seq;    /* the next waiting entry's number */
} s_gate_t;

static void
s_be (uint8_t *p, uint64_t v, int bytes)
{
    for (int k = 0; k < bytes; k++) {
        p[k] = (uint8_t) (v >> (8 * (bytes - 1 - k)));
    }
}

static uint64_t
s_unbe (const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++) {
        v = v << 8 | p[k];
    }
    return v;
}

static shoal_err_t
s_gate_get (self_t *self, const shoal_id_t *run, s_gate_t *g)
{
    memset (g, 0, sizeof *g);
    const void *v;
    size_t len, used;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_RUN_GATE, run->b, 16, &v, &len);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return SHOAL_OK; /* nothing active, nobody waiting */
    }
    if (rc == SHOAL_OK && (shoal_mp_validate (v, len, &self->lim, &used) ||
                           shoal_map_uint (v, len, "a", &g->active) ||
                           shoal_map_uint (v, len, "s", &g->seq))) {
        rc = SHOAL_ERR_CORRUPT;
    }
    return rc;
}

static shoal_err_t
s_gate_put (self_t *self, const shoal_id_t *run, const s_gate_t *g)
{
    shoal_wr_t *w = shoal_wr_new ();
    if (!w) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_wr_map (w, 3);
    shoal_wr_kv_uint (w, "a", g->active);
    shoal_wr_kv_uint (w, "s", g->seq);
    shoal_wr_kv_uint (w, "v", 1);
    shoal_err_t rc = shoal_wr_error (w);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_RUN_GATE, run->b, S_GATE_KEY,
                            shoal_wr_data (w), shoal_wr_size (w));
    }
    shoal_wr_destroy (&w);
    return rc;
}

/*  The first waiting entry of run: *found, its node and its seq. */
static shoal_err_t
s_gate_head (self_t *self, const shoal_id_t *run, bool *found, uint32_t *node,
             uint64_t *seq)
{
    *found = false;
    uint8_t key[S_GATE_QKEY];
    memcpy (key, run->b, 16);
    key[16] = 'q';
    s_be (key + 17, 0, 8);
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_RUN_GATE, &cur);
    if (rc) {
        return rc;
    }
    shoal_kv_t kv;
    rc = shoal_cursor_seek (cur, key, sizeof key, &kv);
    if (rc == SHOAL_OK && kv.key_len == S_GATE_QKEY &&
        memcmp (kv.key, key, 17) == 0) {
        if (kv.val_len != 4) {
            rc = SHOAL_ERR_CORRUPT;
        } else {
            *found = true;
            *node = (uint32_t) s_unbe (kv.val, 4);
            *seq = s_unbe ((const uint8_t *) kv.key + 17, 8);
        }
    }
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

static void
s_nkey (const shoal_id_t *run, uint32_t node, uint8_t key[S_GATE_NKEY])
{
    memcpy (key, run->b, 16);
    key[16] = 'n';
    s_be (key + 17, node, 4);
}

static void
s_qkey (const shoal_id_t *run, uint64_t seq, uint8_t key[S_GATE_QKEY])
{
    memcpy (key, run->b, 16);
    key[16] = 'q';
    s_be (key + 17, seq, 8);
}

shoal_err_t
store_runlim_admit (self_t *self, const shoal_id_t *run, const shoal_wf_t *wf,
                    uint32_t node, bool *go)
{
    uint32_t max = shoal_wf_max_concurrency (wf);
    *go = true;
    if (max == 0) {
        return SHOAL_OK;
    }
    s_gate_t g;
    shoal_err_t rc = s_gate_get (self, run, &g);
    bool found = false;
    uint32_t head = 0;
    uint64_t head_seq = 0;
    if (rc == SHOAL_OK) {
        rc = s_gate_head (self, run, &found, &head, &head_seq);
    }
    if (rc) {
        return rc;
    }
    uint8_t nkey[S_GATE_NKEY], qkey[S_GATE_QKEY];
    s_nkey (run, node, nkey);
    const void *v;
    size_t len;
    rc = shoal_txn_get (self->txn, SHOAL_DBI_RUN_GATE, nkey, sizeof nkey, &v,
                        &len);
    bool queued = rc == SHOAL_OK;
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    bool free_slot = g.active < max;
    if (queued) {
        /* already waiting: it goes only when it is first in line */
        *go = free_slot && found && head == node;
        if (*go) {
            s_qkey (run, head_seq, qkey);
            if ((rc = shoal_txn_del (self->txn, SHOAL_DBI_RUN_GATE, qkey,
                                     sizeof qkey)) ||
                (rc = shoal_txn_del (self->txn, SHOAL_DBI_RUN_GATE, nkey,
                                     sizeof nkey))) {
                return rc;
            }
        }
    } else {
        *go = free_slot && !found;
        if (!*go) {
            uint8_t seq[8], idx[4];
            s_qkey (run, g.seq, qkey);
            s_be (seq, g.seq, 8);
            s_be (idx, node, 4);
            g.seq++;
            if ((rc = shoal_txn_put (self->txn, SHOAL_DBI_RUN_GATE, qkey,
                                     sizeof qkey, idx, sizeof idx)) ||
                (rc = shoal_txn_put (self->txn, SHOAL_DBI_RUN_GATE, nkey,
                                     sizeof nkey, seq, sizeof seq))) {
                return rc;
            }
        }
    }
    g.active += *go;
    return s_gate_put (self, run, &g);
}

shoal_err_t
store_runlim_end (self_t *self, const shoal_id_t *run, const shoal_wf_t *wf)
{
    if (shoal_wf_max_concurrency (wf) == 0) {
        return SHOAL_OK;
    }
    s_gate_t g;
    shoal_err_t rc = s_gate_get (self, run, &g);
    if (rc == SHOAL_OK && g.active > 0) {
        g.active--;
        rc = s_gate_put (self, run, &g);
    }
    return rc;
}

shoal_err_t
store_runlim_next (self_t *self, const shoal_id_t *run, const shoal_wf_t *wf,
                   uint32_t *node, bool *found)
{
    uint32_t max = shoal_wf_max_concurrency (wf);
    *found = false;
    if (max == 0) {
        return SHOAL_OK;
    }
    s_gate_t g;
    uint64_t seq;
    shoal_err_t rc = s_gate_get (self, run, &g);
    if (rc == SHOAL_OK && g.active < max) {
        rc = s_gate_head (self, run, found, node, &seq);
    }
    return rc;
}

shoal_err_t
store_runlim_forget (self_t *self, const shoal_id_t *run)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_RUN_GATE, &cur);
    if (rc) {
        return rc;
    }
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, run->b, 16, &kv);
         rc == SHOAL_OK && kv.key_len >= 16 && memcmp (kv.key, run->b, 16) == 0;
         rc = shoal_cursor_next (cur, &kv)) {
        if ((rc = shoal_cursor_del (cur))) {
            break;
        }
    }
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  ---------------------------------------------------------------------
    The run's timeout */

shoal_err_t
store_runlim_deadline (self_t *self, const shoal_id_t *run,
                       const shoal_wf_t *wf, uint64_t created_us)
{
    uint64_t timeout = shoal_wf_timeout_us (wf);
    if (timeout == 0) {
        return SHOAL_OK;
    }
    uint8_t key[SHOAL_TIME_KEY];
    shoal_time_key (created_us + timeout, run->b, key);
    return shoal_txn_put (self->txn, SHOAL_DBI_RUN_DUE, key, sizeof key, NULL,
                          0);
}

shoal_err_t
store_runlim_timers (self_t *self, uint64_t now)
{
    uint8_t (*keys)[SHOAL_TIME_KEY] = malloc (S_DUE_BATCH * sizeof *keys);
    if (!keys) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_RUN_DUE, &cur);
    size_t n = 0;
    shoal_kv_t kv;
    if (rc == SHOAL_OK) {
        for (rc = shoal_cursor_seek (cur, NULL, 0, &kv);
             rc == SHOAL_OK && n < S_DUE_BATCH &&
             kv.key_len == SHOAL_TIME_KEY &&
             shoal_time_key_time (kv.key) <= now;
             rc = shoal_cursor_next (cur, &kv)) {
            memcpy (keys[n++], kv.key, SHOAL_TIME_KEY);
        }
        shoal_cursor_close (&cur);
        rc = rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    /* collected first: expiring a run writes other DBIs under the walk */
    for (size_t i = 0; i < n && rc == SHOAL_OK; i++) {
        shoal_id_t id;
        memcpy (id.b, keys[i] + 8, 16);
        rc = shoal_txn_del (self->txn, SHOAL_DBI_RUN_DUE, keys[i],
                            SHOAL_TIME_KEY);
        if (rc == SHOAL_OK) {
            rc = store_run_expire (self, &id, now);
        }
    }
    free (keys);
    return rc;
}
