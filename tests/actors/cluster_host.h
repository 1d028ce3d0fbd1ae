/*  cluster_host.h - a whole Shoal cluster in one process, on one fake
    clock.

    The owner is host.h's host (store, scheduler, router, monitor,
    control; no executors of its own) with a bus that hands "name@host"
    frames to its registry, and the registry bound to a fresh ipc://
    endpoint in the host's temporary folder (cluster/name "alpha"). Each
    member is what `shoald --join` runs: its own bus (remote "registry",
    uplink: "store" and the like go upstream), a registry joined to the
    owner under its own cluster/name, and K executors node.0 ... with one
    slot each (executors/prefetch 1, so a member holds exactly K leases).

    Every registry reads the owner's fake clock: members beat when it
    passes their next beat time, and the owner declares a peer lost when
    it has not beaten for heartbeat x liveness. ch_step moves the clock
    one heartbeat and waits until every member that should beat has been
    heard, so that nobody is declared lost by a clock that ran ahead of
    the beats. Link faults: ch_fault (the registry's FAULT drop|pass).

    Blocking jobs the test ends when it chooses: ch_gate_submit submits an
    exec job whose every run claims the next free run number n (0, 1, ...)
    in the job's folder, waits on a FIFO there and prints {"run": n};
    ch_gate_open lets run n of job k finish. A job run twice (once on a
    member that was declared lost, once elsewhere) thus has two runs the
    test ends separately, and the job's result says which run it kept.
    (A `sleep` job would not do for that: it sleeps on the real clock, so
    whether its late result came after the partition healed, or was lost
    in it, would be a race between the sleep and the test.) Nothing
    sleeps to let time pass: every wait is bounded and polls. */
#ifndef SHOAL_TEST_CLUSTER_HOST_H_INCLUDED
#define SHOAL_TEST_CLUSTER_HOST_H_INCLUDED

#include "host.h"
#include "shoal_json.h"
#include "shoal_registry.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define CH_MEMBERS_MAX 4
#define CH_HB_MS       500 /* cluster/heartbeat */
#define CH_LIVENESS    4   /* cluster/liveness */

typedef struct {
    char name[SHOAL_PEER_NAME_MAX + 1];
    char bus[128];
    shoal_config_t *cfg;
    zactor_t *busa;
    zactor_t *registry;
    zactor_t *nodes[HOST_NODES_MAX];
    int nnodes;
    bool quiet; /* partitioned or stopped: ch_step does not wait for it */
} ch_member_t;

typedef struct {
    host_t *h; /* the owner */
    zactor_t *registry;
    char link[160];
    ch_member_t members[CH_MEMBERS_MAX];
    int nmembers;
} cluster_t;

/*  Starts member name with nodes executors, joined to the owner. */
static inline bool
ch_member_start (cluster_t *c, const char *name, int nodes)
{
    if (c->nmembers == CH_MEMBERS_MAX || nodes > HOST_NODES_MAX) {
        return false;
    }
    ch_member_t *m = &c->members[c->nmembers++];
    memset (m, 0, sizeof *m);
    snprintf (m->name, sizeof m->name, "%s", name);
    snprintf (m->bus, sizeof m->bus, "%s-%s", c->h->bus, name);
    m->cfg = shoal_config_load (NULL, NULL);
    if (!m->cfg) {
        return false;
    }
    char count[16], hb[16], live[16];
    snprintf (count, sizeof count, "%d", nodes);
    snprintf (hb, sizeof hb, "%d", CH_HB_MS);
    snprintf (live, sizeof live, "%d", CH_LIVENESS);
    shoal_config_set (m->cfg, "cluster/heartbeat", hb);
    shoal_config_set (m->cfg, "cluster/liveness", live);
    shoal_config_set (m->cfg, "cluster/join", c->link);
    shoal_config_set (m->cfg, "cluster/name", name);
    shoal_config_set (m->cfg, "executors/count", count);
    shoal_config_set (m->cfg, "executors/prefetch", "1");
    shoal_bus_args_t bargs = {
        .inproc = m->bus, .remote = SHOAL_REGISTRY_NAME, .uplink = true};
    m->busa = shoal_actor_start (shoal_bus_actor, &bargs, NULL);
    shoal_actor_args_t rargs = {
        SHOAL_REGISTRY_NAME, m->bus, c->h->clock, m->cfg, false, NULL};
    m->registry =
        m->busa ? shoal_actor_start (shoal_registry_actor, &rargs, NULL) : NULL;
    if (!m->registry) {
        return false;
    }
    for (int i = 0; i < nodes; i++) {
        char node[32];
        snprintf (node, sizeof node, "node.%d", i);
        shoal_actor_args_t nargs = {node,   m->bus, c->h->clock,
                                    m->cfg, false,  NULL};
        m->nodes[m->nnodes] =
            shoal_actor_start (shoal_node_actor, &nargs, NULL);
        if (!m->nodes[m->nnodes]) {
            return false;
        }
        m->nnodes++;
    }
    return true;
}

/*  Stops member m the way shoald does: its executors (a blocking run is
    abandoned, still leased), then its registry, which says bye. */
static inline void
ch_member_stop (ch_member_t *m)
{
    for (int i = m->nnodes - 1; i >= 0; i--) {
        zactor_destroy (&m->nodes[i]);
    }
    m->nnodes = 0;
    zactor_destroy (&m->registry);
    m->quiet = true;
}

static inline void
ch_destroy (cluster_t **cp)
{
    cluster_t *c = *cp;
    if (!c) {
        return;
    }
    /* Members first, while the owner still takes their byes. */
    for (int i = 0; i < c->nmembers; i++) {
        ch_member_stop (&c->members[i]);
        zactor_destroy (&c->members[i].busa);
        shoal_config_destroy (&c->members[i].cfg);
    }
    zactor_destroy (&c->registry);
    host_destroy (&c->h);
    free (c);
    *cp = NULL;
}

/*  The owner and members named in names (NULL-terminated), each with
    nodes executors; the owner also gets the settings in owner_kv
    ("key=value", NULL-terminated; may be NULL). NULL when anything did
    not start. */
static inline cluster_t *
ch_new_with (const char *const *names, int nodes, const char *const *owner_kv)
{
    cluster_t *c = calloc (1, sizeof *c);
    if (!c) {
        return NULL;
    }
    char hb[32], live[32];
    snprintf (hb, sizeof hb, "cluster/heartbeat=%d", CH_HB_MS);
    snprintf (live, sizeof live, "cluster/liveness=%d", CH_LIVENESS);
    const char *kv[16] = {"cluster/name=alpha", hb, live, NULL};
    for (int i = 3; owner_kv && *owner_kv && i < 15; i++) {
        kv[i] = *owner_kv++;
        kv[i + 1] = NULL;
    }
    c->h = host_new_remote (0, kv, SHOAL_REGISTRY_NAME);
    if (!c->h || !c->h->busa || !c->h->client) {
        ch_destroy (&c);
        return NULL;
    }
    snprintf (c->link, sizeof c->link, "ipc://%s/link.sock", c->h->dir);
    shoal_config_set (c->h->cfg, "cluster/bind", c->link);
    shoal_actor_args_t rargs = {SHOAL_REGISTRY_NAME, c->h->bus, c->h->clock,
                                c->h->cfg,           false,     NULL};
    c->registry = shoal_actor_start (shoal_registry_actor, &rargs, NULL);
    bool ok = c->registry != NULL;
    for (; ok && *names; names++) {
        ok = ch_member_start (c, *names, nodes);
    }
    if (!ok) {
        ch_destroy (&c);
    }
    return c;
}

static inline cluster_t *
ch_new (const char *const *names, int nodes)
{
    return ch_new_with (names, nodes, NULL);
}

static inline ch_member_t *
ch_member (cluster_t *c, const char *name)
{
    for (int i = 0; i < c->nmembers; i++) {
        if (streq (c->members[i].name, name)) {
            return &c->members[i];
        }
    }
    return NULL;
}

/*  FAULT drop (true) or pass on member m's link, applied when this
    returns (the STATS answer comes after it on the same pipe). */
static inline bool
ch_fault (ch_member_t *m, bool drop)
{
    if (zstr_sendx (m->registry, "FAULT", drop ? "drop" : "pass", NULL)) {
        return false;
    }
    m->quiet = drop;
    zstr_send (m->registry, "STATS");
    char *stats = zstr_recv (m->registry);
    bool ok = stats != NULL;
    zstr_free (&stats);
    return ok;
}

/*  --------------------------------------------------------------------
    The cluster table, as `shoal hosts` asks for it. */

/*  CLUSTER {op: hosts}; when true the caller owns in and closes it. */
static inline bool
ch_hosts (cluster_t *c, shoal_in_t *in)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (c->h, SHOAL_M_CLUSTER, &id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "op", "hosts");
    if (!host_call (c->h, &id, in)) {
        return false;
    }
    if (in->hdr.type != SHOAL_M_OK) {
        shoal_in_close (in);
        return false;
    }
    return true;
}

/*  Peer name's entry in a CLUSTER reply. */
static inline bool
ch_peer_find (const shoal_in_t *in, const char *name, const uint8_t **map,
              size_t *len)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "peers", &rd, &n)) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = rd.p;
        if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
            return false;
        }
        char got[SHOAL_PEER_NAME_MAX + 1];
        if (shoal_map_strcpy (p, (size_t) (rd.p - p), "name", got,
                              sizeof got) == SHOAL_OK &&
            streq (got, name)) {
            *map = p;
            *len = (size_t) (rd.p - p);
            return true;
        }
    }
    return false;
}

/*  A field of peer name in the cluster table: a string into out, or
    (out NULL) a number into num. false when the peer or field is not
    there. */
static inline bool
ch_peer_field (cluster_t *c, const char *name, const char *field, char *out,
               size_t cap, uint64_t *num)
{
    shoal_in_t in;
    if (!ch_hosts (c, &in)) {
        return false;
    }
    const uint8_t *map;
    size_t len;
    bool ok = ch_peer_find (&in, name, &map, &len) &&
              (out ? shoal_map_strcpy (map, len, field, out, cap)
                   : shoal_map_uint (map, len, field, num)) == SHOAL_OK;
    shoal_in_close (&in);
    return ok;
}

static inline uint64_t
ch_peer_num (cluster_t *c, const char *name, const char *field)
{
    uint64_t n = UINT64_MAX;
    ch_peer_field (c, name, field, NULL, 0, &n);
    return n;
}

static inline bool
ch_peer_is (cluster_t *c, const char *name, const char *want)
{
    char state[16];
    return ch_peer_field (c, name, "state", state, sizeof state, NULL) &&
           streq (state, want);
}

/*  Polls until peer name's state is want. */
static inline bool
ch_await_peer (cluster_t *c, const char *name, const char *want)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        if (ch_peer_is (c, name, want)) {
            return true;
        }
        zclock_sleep (5);
    }
    fprintf (stderr, "  peer %s is not %s\n", name, want);
    return false;
}

/*  One of the owner registry's counters (lost, rejoined, refused,
    released); UINT64_MAX when it cannot be read. */
static inline uint64_t
ch_counter (cluster_t *c, const char *name)
{
    shoal_in_t in;
    uint64_t n = UINT64_MAX;
    if (!ch_hosts (c, &in)) {
        return n;
    }
    shoal_mp_val_t v;
    const uint8_t *map;
    size_t len;
    if (shoal_map_find (in.body, in.body_len, "counters", &v, &map, &len) ==
        SHOAL_OK) {
        shoal_map_uint (map, len, name, &n);
    }
    shoal_in_close (&in);
    return n;
}

/*  Moves the clock one heartbeat, then waits until the owner has heard
    every member that is not quiet beat at the new time (its beat age is
    0): the owner's liveness check ran at that time too. */
static inline bool
ch_step (cluster_t *c)
{
    host_advance (c->h, CH_HB_MS);
    for (int i = 0; i < c->nmembers; i++) {
        ch_member_t *m = &c->members[i];
        int64_t until = zclock_mono () + 10000;
        while (!m->quiet && ch_peer_num (c, m->name, "beat_age_ms") != 0) {
            if (zclock_mono () > until) {
                fprintf (stderr, "  %s did not beat\n", m->name);
                return false;
            }
            zclock_sleep (2);
        }
    }
    return true;
}

/*  --------------------------------------------------------------------
    The owner scheduler's view of an executor (QUERY executors). */

/*  Executor name in the scheduler's table: capacity and lost. false
    when it is not there. */
static inline bool
ch_sched_node (cluster_t *c, const char *name, uint64_t *capacity, bool *lost)
{
    host_t *h = c->h;
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_QUERY;
    snprintf (hdr.to, sizeof hdr.to, "scheduler");
    shoal_port_new_id (h->prober, &hdr.id);
    shoal_id_t id = hdr.id;
    shoal_wr_t *w = shoal_port_begin_hdr (h->prober, &hdr);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "op", "executors");
    shoal_in_t in;
    if (shoal_port_send (h->prober) || !host_recv (h->prober, &id, &in)) {
        return false;
    }
    bool found = false;
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in.body, in.body_len, "executors", &rd, &n) ==
        SHOAL_OK) {
        for (uint32_t i = 0; i < n && !found; i++) {
            const uint8_t *p = rd.p;
            if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
                break;
            }
            size_t len = (size_t) (rd.p - p);
            char got[SHOAL_NAME_MAX + 1];
            if (shoal_map_strcpy (p, len, "name", got, sizeof got) ==
                    SHOAL_OK &&
                streq (got, name)) {
                found = true;
                *capacity = 0;
                *lost = false;
                shoal_map_uint (p, len, "capacity", capacity);
                shoal_map_bool (p, len, "lost", lost);
            }
        }
    }
    shoal_in_close (&in);
    return found;
}

/*  --------------------------------------------------------------------
    Jobs */

/*  SUBMIT {type, payload}; payload (taken; NULL: none) is JSON. */
static inline bool
ch_submit_json (cluster_t *c, const char *type, json_t *payload,
                char id_out[SHOAL_ID_TEXT])
{
    shoal_wr_t *pl = NULL;
    if (payload) {
        pl = shoal_wr_new ();
        bool ok = pl && shoal_json_to_mp (payload, pl) == SHOAL_OK;
        json_decref (payload);
        if (!ok) {
            shoal_wr_destroy (&pl);
            return false;
        }
    }
    shoal_id_t id;
    shoal_wr_t *w = host_begin (c->h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 1 + (pl != NULL));
    shoal_wr_kv_str (w, "type", type);
    if (pl) {
        shoal_wr_kv_raw (w, "payload", shoal_wr_data (pl), shoal_wr_size (pl));
        shoal_wr_destroy (&pl);
    }
    return host_submitted (c->h, &id, id_out, NULL);
}

/*  SUBMIT {type, payload} with payload written as JSON (NULL: none). */
static inline bool
ch_submit (cluster_t *c, const char *type, const char *payload,
           char id_out[SHOAL_ID_TEXT])
{
    json_t *pl = NULL;
    if (payload && !(pl = json_loads (payload, JSON_DECODE_ANY, NULL))) {
        return false;
    }
    return ch_submit_json (c, type, pl, id_out);
}

/*  The folder of gate job k. */
static inline void
ch_gate_dir (cluster_t *c, int k, char *out, size_t cap)
{
    snprintf (out, cap, "%s/gate%d", c->h->dir, k);
}

/*  Submits gate job k (see the top of this file). */
static inline bool
ch_gate_submit (cluster_t *c, int k, char id_out[SHOAL_ID_TEXT])
{
    char dir[128];
    ch_gate_dir (c, k, dir, sizeof dir);
    if (mkdir (dir, 0700) < 0) {
        return false;
    }
    /* mkdir claims a run number atomically; `read` blocks in the FIFO's
       open until the test opens it to write. */
    const char *script =
        "d=$1; n=0; while ! mkdir \"$d/$n\" 2>/dev/null; do n=$((n+1)); "
        "done; mkfifo \"$d/$n/go\" && read x < \"$d/$n/go\"; "
        "echo \"{\\\"run\\\": $n}\"";
    return ch_submit_json (c, "exec",
                           json_pack ("{s:[s,s,s,s,s]}", "argv", "/bin/sh",
                                      "-c", script, "gate", dir),
                           id_out);
}

/*  Lets run n of gate job k finish: waits (10 s at most) for the run to
    wait on its FIFO, then writes to it. */
static inline bool
ch_gate_open (cluster_t *c, int k, int n)
{
    char dir[128], fifo[160];
    ch_gate_dir (c, k, dir, sizeof dir);
    snprintf (fifo, sizeof fifo, "%s/%d/go", dir, n);
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        /* ENOENT: not made yet; ENXIO: nobody reads it yet. */
        int fd = open (fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            bool ok = write (fd, "go\n", 3) == 3;
            close (fd);
            return ok;
        }
        if (errno != ENOENT && errno != ENXIO) {
            break;
        }
        zclock_sleep (2);
    }
    fprintf (stderr, "  run %d of gate job %d never waited\n", n, k);
    return false;
}

/*  The "run" number in the result of job jid (an exec result's json);
    -1 when it has none. */
static inline int
ch_result_run (cluster_t *c, const char *jid)
{
    shoal_in_t in;
    if (!host_status (c->h, jid, &in)) {
        return -1;
    }
    int run = -1;
    shoal_mp_val_t v;
    const uint8_t *job, *res, *json;
    size_t jl, rl, nl;
    uint64_t n;
    if (in.hdr.type == SHOAL_M_OK &&
        shoal_map_find (in.body, in.body_len, "job", &v, &job, &jl) ==
            SHOAL_OK &&
        shoal_map_find (job, jl, "result", &v, &res, &rl) == SHOAL_OK &&
        shoal_map_find (res, rl, "json", &v, &json, &nl) == SHOAL_OK &&
        shoal_map_uint (json, nl, "run", &n) == SHOAL_OK) {
        run = (int) n;
    }
    shoal_in_close (&in);
    return run;
}

/*  The job's executor ("node.0@beta"); "" when it has none. */
static inline void
ch_executor (cluster_t *c, const char *jid, char *out, size_t cap)
{
    out[0] = '\0';
    host_job_field (c->h, jid, "executor", out, cap, NULL);
}

/*  Whether executor (a name as the owner knows it) is one of member's. */
static inline bool
ch_on (const char *executor, const char *member)
{
    const char *at = strrchr (executor, '@');
    return at && streq (at + 1, member) && strncmp (executor, "node.", 5) == 0;
}

#endif
