/*  host.h - an in-process Shoal host for actor tests, on a fake clock.

    Starts the bus and the store, scheduler, monitor, control and N
    executor actors the way shoald does, in a fresh temporary data folder
    with ipc:// endpoints, with time read from a fake clock the test
    advances (host_advance). A test then talks to control with a client
    port exactly as the CLI does (host_call), and may join the bus itself
    (host_node_join, host_node_run, host_node_result) to play an executor
    it fully controls, or start more real executors with settings of
    their own (host_node_start: labels, weight). host_stop and
    host_start_again restart the actors on the same data folder.

    Time-based behaviour (delays, lease expiry, retry backoff) happens in
    the store's passes; host_poke makes the store run one pass and waits
    for it, so a test that advanced the clock sees the effects at once.
*/
#ifndef SHOAL_TEST_HOST_H_INCLUDED
#define SHOAL_TEST_HOST_H_INCLUDED

#include "shoal_actor.h"
#include "shoal_bus.h"
#include "shoal_config.h"
#include "shoal_control.h"
#include "shoal_labels.h"
#include "shoal_monitor.h"
#include "shoal_mp.h"
#include "shoal_node.h"
#include "shoal_port.h"
#include "shoal_router.h"
#include "shoal_scheduler.h"
#include "shoal_store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_NODES_MAX 8

typedef struct {
    char dir[64];
    char bus[96];
    char control[128];
    char monitor[128];
    _Atomic uint64_t now;
    shoal_clock_t clock;
    shoal_config_t *cfg;
    zactor_t *busa;
    /* + control and router, and executors of host_node_start */
    zactor_t *actors[5 + 2 * HOST_NODES_MAX];
    int nactors;
    shoal_config_t *node_cfg[HOST_NODES_MAX]; /* of host_node_start */
    int nnode_cfg;
    int generation; /* of the control and monitor endpoints */
    shoal_port_t *client;
    shoal_port_t *prober; /* on the bus, for host_poke */
} host_t;

/*  Starts monitor, store, scheduler, nodes executors (node.0 ...) and
    control and the workflow router, in that order (node.0 is actors[3]),
    then the client and
    prober ports. An actor that does not start is left out; false if any
    did not, or a port could not be made. */
static inline bool
host_start (host_t *h, int nodes)
{
    struct {
        const char *name;
        zactor_fn *fn;
    } kinds[] = {{"monitor", shoal_monitor_actor},
                 {"store", shoal_store_actor},
                 {"scheduler", shoal_scheduler_actor}};
    bool all = true;
    for (int i = 0; i < 3 + nodes + 1; i++) {
        char name[32];
        zactor_fn *fn;
        if (i < 3) {
            snprintf (name, sizeof name, "%s", kinds[i].name);
            fn = kinds[i].fn;
        } else if (i < 3 + nodes) {
            snprintf (name, sizeof name, "node.%d", i - 3);
            fn = shoal_node_actor;
        } else {
            snprintf (name, sizeof name, "control");
            fn = shoal_control_actor;
        }
        shoal_actor_args_t args = {name, h->bus, h->clock, h->cfg, false, NULL};
        h->actors[h->nactors] = shoal_actor_start (fn, &args, NULL);
        if (h->actors[h->nactors]) {
            h->nactors++;
        } else {
            all = false;
        }
    }
    /* The workflow router last, so the indexes above stay put. */
    shoal_actor_args_t rargs = {"router", h->bus, h->clock,
                                h->cfg,   false,  NULL};
    h->actors[h->nactors] =
        shoal_actor_start (shoal_router_actor, &rargs, NULL);
    if (h->actors[h->nactors]) {
        h->nactors++;
    } else {
        all = false;
    }
    h->client = shoal_port_new_client (h->control, "test", &h->clock);
    h->prober = shoal_port_new (h->bus, "prober", &h->clock);
    return all && h->client && h->prober;
}

/*  Stops the ports and every actor but the bus; the data folder stays. */
static inline void
host_stop (host_t *h)
{
    shoal_port_destroy (&h->client);
    shoal_port_destroy (&h->prober);
    for (int i = h->nactors - 1; i >= 0; i--) {
        zactor_destroy (&h->actors[i]);
    }
    h->nactors = 0;
}

/*  Starts the actors again after host_stop, on the same data folder,
    with new control and monitor endpoints (a closed ipc endpoint may
    linger for a moment). */
static inline bool
host_start_again (host_t *h, int nodes)
{
    h->generation++;
    snprintf (h->control, sizeof h->control, "ipc://%s/control%d.sock", h->dir,
              h->generation);
    snprintf (h->monitor, sizeof h->monitor, "ipc://%s/monitor%d.sock", h->dir,
              h->generation);
    shoal_config_set (h->cfg, "shoald/control", h->control);
    shoal_config_set (h->cfg, "shoald/monitor", h->monitor);
    return host_start (h, nodes);
}

/*  kv: NULL-terminated list of "key=value" overrides. remote: the bus's
    actor for "name@host" frames (a cluster owner's "registry"; see
    cluster_host.h), NULL for a host alone. */
static inline host_t *
host_new_remote (int nodes, const char *const *kv, const char *remote)
{
    host_t *h = calloc (1, sizeof *h);
    if (!h) {
        return NULL;
    }
    strcpy (h->dir, "/tmp/shoal-host-XXXXXX");
    if (!mkdtemp (h->dir)) {
        free (h);
        return NULL;
    }
    snprintf (h->bus, sizeof h->bus, "inproc://%s", h->dir + 5);
    snprintf (h->control, sizeof h->control, "ipc://%s/control.sock", h->dir);
    snprintf (h->monitor, sizeof h->monitor, "ipc://%s/monitor.sock", h->dir);
    atomic_store (&h->now, (uint64_t) 1800000000 * 1000000); /* 2027 */
    h->clock = shoal_clock_fake (&h->now);
    h->cfg = shoal_config_load (NULL, NULL);
    char data[96];
    snprintf (data, sizeof data, "%s/data", h->dir);
    shoal_config_set (h->cfg, "shoald/data", data);
    shoal_config_set (h->cfg, "shoald/control", h->control);
    shoal_config_set (h->cfg, "shoald/monitor", h->monitor);
    shoal_config_set (h->cfg, "store/sync", "none");
    for (; kv && *kv; kv++) {
        char key[64];
        const char *eq = strchr (*kv, '=');
        snprintf (key, sizeof key, "%.*s", (int) (eq - *kv), *kv);
        shoal_config_set (h->cfg, key, eq + 1);
    }
    shoal_bus_args_t bargs = {.inproc = h->bus, .ipc = NULL, .remote = remote};
    h->busa = shoal_actor_start (shoal_bus_actor, &bargs, NULL);
    host_start (h, nodes);
    return h;
}

/*  kv: NULL-terminated list of "key=value" overrides. */
static inline host_t *
host_new (int nodes, const char *const *kv)
{
    return host_new_remote (nodes, kv, NULL);
}

static inline void
host_destroy (host_t **hp)
{
    host_t *h = *hp;
    if (!h) {
        return;
    }
    host_stop (h);
    zactor_destroy (&h->busa);
    shoal_config_destroy (&h->cfg);
    for (int i = 0; i < h->nnode_cfg; i++) {
        shoal_config_destroy (&h->node_cfg[i]);
    }
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", h->dir);
    if (system (cmd) != 0) {
        fprintf (stderr, "could not remove %s\n", h->dir);
    }
    free (h);
    *hp = NULL;
}

static inline void
host_advance (host_t *h, uint64_t ms)
{
    atomic_fetch_add (&h->now, ms * 1000);
}

/*  Waits up to 10 s for a message on port matching corr (any when NULL). */
static inline bool
host_recv (shoal_port_t *port, const shoal_id_t *corr, shoal_in_t *in)
{
    zpoller_t *p = zpoller_new (shoal_port_sock (port), NULL);
    int64_t until = zclock_mono () + 10000;
    bool got = false;
    while (!got && zclock_mono () < until) {
        if (!zpoller_wait (p, 100)) {
            continue;
        }
        if (shoal_port_recv (port, in, ZMQ_DONTWAIT) != SHOAL_OK) {
            continue;
        }
        if (!corr ||
            (in->hdr.has_corr && memcmp (&in->hdr.corr, corr, 16) == 0)) {
            got = true;
        } else {
            shoal_in_close (in);
        }
    }
    zpoller_destroy (&p);
    return got;
}

/*  PINGs actor to and waits for the answer: the store answers in the pass
    that applies it (timers included), the scheduler re-runs dispatch
    (rate limits on the clock). */
static inline bool
host_ping (host_t *h, const char *to)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_PING;
    snprintf (hdr.to, sizeof hdr.to, "%s", to);
    shoal_port_new_id (h->prober, &hdr.id);
    shoal_id_t id = hdr.id;
    shoal_wr_map (shoal_port_begin_hdr (h->prober, &hdr), 0);
    if (shoal_port_send (h->prober)) {
        return false;
    }
    shoal_in_t in;
    if (!host_recv (h->prober, &id, &in)) {
        return false;
    }
    shoal_in_close (&in);
    return true;
}

/*  Makes the store run a pass and waits for it. */
static inline bool
host_poke (host_t *h)
{
    return host_ping (h, "store");
}

/*  Pokes a few times: every effect of the last clock step has happened. */
static inline void
host_settle (host_t *h)
{
    for (int i = 0; i < 5; i++) {
        host_poke (h);
    }
}

/*  Begins a request to control; send and wait with host_call. */
static inline shoal_wr_t *
host_begin (host_t *h, uint32_t type, shoal_id_t *id)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = type;
    strcpy (hdr.to, "control");
    shoal_port_new_id (h->client, &hdr.id);
    *id = hdr.id;
    return shoal_port_begin_hdr (h->client, &hdr);
}

/*  Sends the request and waits for its reply; when true the caller owns
    in and closes it (shoal_in_close). */
static inline bool
host_call (host_t *h, const shoal_id_t *id, shoal_in_t *in)
{
    return shoal_port_send (h->client) == SHOAL_OK &&
           host_recv (h->client, id, in);
}

/*  Sends the request; returns the reply's type (0: none came). */
static inline uint32_t
host_call_type (host_t *h, const shoal_id_t *id)
{
    shoal_in_t in;
    if (!host_call (h, id, &in)) {
        return 0;
    }
    uint32_t type = in.hdr.type;
    shoal_in_close (&in);
    return type;
}

/*  Sends a SUBMIT begun with host_begin; true when it was accepted, with
    the job's id in id_out. existing (may be NULL): whether the job's
    idempotency key returned an earlier job. */
static inline bool
host_submitted (host_t *h, const shoal_id_t *id, char id_out[SHOAL_ID_TEXT],
                bool *existing)
{
    shoal_in_t in;
    if (!host_call (h, id, &in)) {
        return false;
    }
    bool ok = in.hdr.type == SHOAL_M_OK &&
              shoal_map_strcpy (in.body, in.body_len, "id", id_out,
                                SHOAL_ID_TEXT) == SHOAL_OK;
    if (existing) {
        *existing = false;
        shoal_map_bool (in.body, in.body_len, "existing", existing);
    }
    shoal_in_close (&in);
    return ok;
}

/*  CANCEL {id}; returns the reply's type (0: none came). */
static inline uint32_t
host_cancel (host_t *h, const char *jid)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_CANCEL, &id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "id", jid);
    return host_call_type (h, &id);
}

/*  DLQ {op, id} (jid NULL: the whole DLQ); returns the number purged and
    the reply's type in reply_type (0: none came). */
static inline uint64_t
host_dlq (host_t *h, const char *op, const char *jid, uint32_t *reply_type)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_DLQ, &id);
    shoal_wr_map (w, 1 + (jid != NULL));
    shoal_wr_kv_str (w, "op", op);
    if (jid) {
        shoal_wr_kv_str (w, "id", jid);
    }
    shoal_in_t in;
    uint64_t purged = 0;
    *reply_type = 0;
    if (host_call (h, &id, &in)) {
        *reply_type = in.hdr.type;
        shoal_map_uint (in.body, in.body_len, "purged", &purged);
        shoal_in_close (&in);
    }
    return purged;
}

/*  STATUS {id} of a job or batch; when true the caller owns the reply
    and closes it (shoal_in_close). */
static inline bool
host_status (host_t *h, const char *jid, shoal_in_t *in)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_STATUS, &id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "id", jid);
    return host_call (h, &id, in);
}

/*  Reads one field of the map view ("job", "batch") of a STATUS reply for
    id: a string into out, or (out NULL) an unsigned number into num. */
static inline bool
host_view_field (host_t *h, const char *id, const char *view, const char *field,
                 char *out, size_t cap, uint64_t *num)
{
    shoal_in_t in;
    if (!host_status (h, id, &in)) {
        return false;
    }
    bool ok = false;
    shoal_mp_val_t v;
    const uint8_t *map;
    size_t len;
    if (in.hdr.type == SHOAL_M_OK &&
        shoal_map_find (in.body, in.body_len, view, &v, &map, &len) ==
            SHOAL_OK) {
        ok = out ? shoal_map_strcpy (map, len, field, out, cap) == SHOAL_OK
                 : shoal_map_uint (map, len, field, num) == SHOAL_OK;
    }
    shoal_in_close (&in);
    return ok;
}

/*  Reads one field of a job's STATUS view (see host_view_field). */
static inline bool
host_job_field (host_t *h, const char *jid, const char *field, char *out,
                size_t cap, uint64_t *num)
{
    return host_view_field (h, jid, "job", field, out, cap, num);
}

/*  A number field of a job's STATUS view; 0 when it cannot be read. */
static inline uint64_t
host_job_num (host_t *h, const char *jid, const char *field)
{
    uint64_t n = 0;
    host_job_field (h, jid, field, NULL, 0, &n);
    return n;
}

/*  Whether the view's (job, batch) state is want. */
static inline bool
host_view_is (host_t *h, const char *id, const char *view, const char *want)
{
    char state[32];
    return host_view_field (h, id, view, "state", state, sizeof state, NULL) &&
           strcmp (state, want) == 0;
}

static inline bool
host_state_is (host_t *h, const char *jid, const char *want)
{
    return host_view_is (h, jid, "job", want);
}

/*  Polls (with pokes, no sleeps) until the job is in state want. */
static inline bool
host_await_state (host_t *h, const char *jid, const char *want)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        if (host_state_is (h, jid, want)) {
            return true;
        }
        host_poke (h);
    }
    return false;
}

/*  Polls (with pokes) until the job's view says running: its executor
    began a blocking handler (STARTED), so its heartbeats are paced from
    the clock as it is now. Move the fake clock only after this. */
static inline bool
host_await_running (host_t *h, const char *jid)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        shoal_in_t in;
        if (host_status (h, jid, &in)) {
            bool running = false;
            shoal_mp_val_t v;
            const uint8_t *map;
            size_t len;
            if (in.hdr.type == SHOAL_M_OK &&
                shoal_map_find (in.body, in.body_len, "job", &v, &map, &len) ==
                    SHOAL_OK) {
                shoal_map_bool (map, len, "running", &running);
            }
            shoal_in_close (&in);
            if (running) {
                return true;
            }
        }
        host_poke (h);
    }
    return false;
}

/*  Polls (with pokes) until the job's lease ends later than after (us). */
static inline bool
host_await_renewal (host_t *h, const char *jid, uint64_t after)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        if (host_job_num (h, jid, "lease_expires_us") > after) {
            return true;
        }
        host_poke (h);
    }
    return false;
}

/*  STATS (queues: the scheduler's per-queue answer); true when the reply
    is OK, and the caller then owns in and closes it (shoal_in_close). */
static inline bool
host_stats (host_t *h, bool queues, shoal_in_t *in)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_STATS, &id);
    shoal_wr_map (w, queues);
    if (queues) {
        shoal_wr_kv_bool (w, "queues", true);
    }
    if (!host_call (h, &id, in)) {
        return false;
    }
    if (in->hdr.type != SHOAL_M_OK) {
        shoal_in_close (in);
        return false;
    }
    return true;
}

/*  A number of the STATS reply: field name, inside the map field map when
    map is not NULL ("jobs": counts by state). UINT64_MAX when missing. */
static inline uint64_t
host_stat (host_t *h, const char *map, const char *name)
{
    shoal_in_t in;
    uint64_t n = UINT64_MAX;
    if (!host_stats (h, false, &in)) {
        return n;
    }
    const uint8_t *body = in.body;
    size_t len = in.body_len;
    shoal_mp_val_t v;
    if (!map || shoal_map_find (in.body, in.body_len, map, &v, &body, &len) ==
                    SHOAL_OK) {
        shoal_map_uint (body, len, name, &n);
    }
    shoal_in_close (&in);
    return n;
}

/*  --------------------------------------------------------------------
    A test-driven executor: a port on the bus that offers capacity slots
    to the scheduler, takes RUNs and answers when the test says. */

/*  Joins the bus as executor name with capacity free slots, the labels
    of a comma list (NULL: none) and weight (0: not said). Returns the
    port (the caller destroys it with shoal_port_destroy), NULL on
    failure. */
static inline shoal_port_t *
host_node_join_ex (host_t *h, const char *name, uint64_t capacity,
                   const char *labels, uint64_t weight)
{
    shoal_port_t *port = shoal_port_new (h->bus, name, &h->clock);
    if (!port) {
        return NULL;
    }
    shoal_wr_t *w = shoal_port_begin (port, SHOAL_M_CREDIT, "scheduler", NULL);
    shoal_wr_map (w, 3 + (labels != NULL) + (weight != 0));
    shoal_wr_kv_uint (w, "capacity", capacity);
    shoal_wr_kv_uint (w, "busy", 0);
    shoal_wr_kv_bool (w, "boot", true);
    if (labels) {
        shoal_wr_str (w, "labels");
        shoal_labels_write (w, labels);
    }
    if (weight) {
        shoal_wr_kv_uint (w, "weight", weight);
    }
    if (shoal_port_send (port)) {
        shoal_port_destroy (&port);
    }
    return port;
}

static inline shoal_port_t *
host_node_join (host_t *h, const char *name, uint64_t capacity)
{
    return host_node_join_ex (h, name, capacity, NULL, 0);
}

/*  Starts one more real executor called name, with the host's settings
    and the "key=value" overrides of kv (NULL-terminated, may be NULL),
    e.g. executors/labels=gpu. It stops with the host (host_stop). */
static inline bool
host_node_start (host_t *h, const char *name, const char *const *kv)
{
    int cap = (int) (sizeof h->actors / sizeof h->actors[0]);
    if (h->nnode_cfg == HOST_NODES_MAX || h->nactors == cap) {
        return false;
    }
    shoal_config_t *cfg = shoal_config_load (NULL, NULL);
    zlist_t *args = zlist_new ();
    if (!cfg || !args) {
        shoal_config_destroy (&cfg);
        zlist_destroy (&args);
        return false;
    }
    zlist_autofree (args);
    shoal_config_to_args (h->cfg, args); /* "--set", "key=value", ... */
    for (char *a = zlist_first (args); a; a = zlist_next (args)) {
        char *eq = strchr (a, '=');
        if (eq) {
            *eq = '\0';
            shoal_config_set (cfg, a, eq + 1);
        }
    }
    zlist_destroy (&args);
    for (; kv && *kv; kv++) {
        char key[64];
        const char *eq = strchr (*kv, '=');
        snprintf (key, sizeof key, "%.*s", (int) (eq - *kv), *kv);
        shoal_config_set (cfg, key, eq + 1);
    }
    h->node_cfg[h->nnode_cfg++] = cfg;
    shoal_actor_args_t args_ = {name, h->bus, h->clock, cfg, false, NULL};
    h->actors[h->nactors] = shoal_actor_start (shoal_node_actor, &args_, NULL);
    if (!h->actors[h->nactors]) {
        return false;
    }
    h->nactors++;
    return true;
}

/*  How many executors the scheduler knows (STATS queues); -1 when it
    does not answer. */
static inline int
host_executors (host_t *h)
{
    shoal_in_t in;
    if (!host_stats (h, true, &in)) {
        return -1;
    }
    shoal_rd_t rd;
    uint32_t n = 0;
    int known = shoal_map_array (in.body, in.body_len, "executors", &rd, &n)
                    ? -1
                    : (int) n;
    shoal_in_close (&in);
    return known;
}

/*  Polls (no sleeps) until the scheduler knows at least n executors. */
static inline bool
host_await_executors (host_t *h, int n)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        if (host_executors (h) >= n) {
            return true;
        }
        host_ping (h, "scheduler");
    }
    return false;
}

/*  Waits for the next RUN (other messages are dropped); copies its job id
    into job and returns its epoch (0: none came, or it had no id). */
static inline uint64_t
host_node_run (shoal_port_t *port, shoal_id_t *job)
{
    shoal_in_t in;
    uint64_t epoch = 0;
    while (host_recv (port, NULL, &in)) {
        bool run = in.hdr.type == SHOAL_M_RUN;
        const uint8_t *idp;
        uint32_t len;
        if (run &&
            shoal_map_bin (in.body, in.body_len, "id", &idp, &len) ==
                SHOAL_OK &&
            len == 16) {
            memcpy (job->b, idp, 16);
            shoal_map_uint (in.body, in.body_len, "e", &epoch);
        }
        shoal_in_close (&in);
        if (run) {
            break;
        }
    }
    return epoch;
}

/*  Sends the RESULT of run (job, epoch): success, or a failure with the
    error "try again". */
static inline bool
host_node_result (shoal_port_t *port, const shoal_id_t *job, uint64_t epoch,
                  bool ok)
{
    shoal_wr_t *w = shoal_port_begin (port, SHOAL_M_RESULT, "store", NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, 1);
    shoal_wr_map (w, 3 + !ok);
    shoal_wr_kv_bin (w, "id", job->b, 16);
    shoal_wr_kv_uint (w, "e", epoch);
    shoal_wr_kv_bool (w, "ok", ok);
    if (!ok) {
        shoal_wr_kv_str (w, "error", "try again");
    }
    return shoal_port_send (port) == SHOAL_OK;
}

#endif
