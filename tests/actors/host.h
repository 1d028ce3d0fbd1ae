/*  host.h - an in-process Shoal host for actor tests, on a fake clock.

    Starts the bus and the store, scheduler, monitor, control and N
    executor actors the way shoald does, in a fresh temporary data folder
    with ipc:// endpoints, with time read from a fake clock the test
    advances (host_advance). A test then talks to control with a client
    port exactly as the CLI does (host_call), and may join the bus itself
    (host_port) to play an executor it fully controls.

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
#include "shoal_monitor.h"
#include "shoal_mp.h"
#include "shoal_node.h"
#include "shoal_port.h"
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
    zactor_t *actors[4 + HOST_NODES_MAX];
    int nactors;
    shoal_port_t *client;
    shoal_port_t *prober; /* on the bus, for host_poke */
} host_t;

/*  kv: NULL-terminated list of "key=value" overrides. */
static inline host_t *
host_new (int nodes, const char *const *kv)
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
    shoal_bus_args_t bargs = {h->bus, NULL, false};
    h->busa = shoal_actor_start (shoal_bus_actor, &bargs, NULL);
    struct {
        const char *name;
        zactor_fn *fn;
    } kinds[] = {{"monitor", shoal_monitor_actor},
                 {"store", shoal_store_actor},
                 {"scheduler", shoal_scheduler_actor}};
    for (int i = 0; i < 3 + nodes; i++) {
        char name[32];
        if (i < 3) {
            snprintf (name, sizeof name, "%s", kinds[i].name);
        } else {
            snprintf (name, sizeof name, "node.%d", i - 3);
        }
        shoal_actor_args_t args = {name, h->bus, h->clock, h->cfg, false, NULL};
        h->actors[h->nactors] = shoal_actor_start (
            i < 3 ? kinds[i].fn : shoal_node_actor, &args, NULL);
        if (h->actors[h->nactors]) {
            h->nactors++;
        }
    }
    shoal_actor_args_t cargs = {"control", h->bus, h->clock,
                                h->cfg,    false,  NULL};
    h->actors[h->nactors] =
        shoal_actor_start (shoal_control_actor, &cargs, NULL);
    if (h->actors[h->nactors]) {
        h->nactors++;
    }
    h->client = shoal_port_new_client (h->control, "test", &h->clock);
    h->prober = shoal_port_new (h->bus, "prober", &h->clock);
    return h;
}

static inline void
host_destroy (host_t **hp)
{
    host_t *h = *hp;
    if (!h) {
        return;
    }
    shoal_port_destroy (&h->client);
    shoal_port_destroy (&h->prober);
    for (int i = h->nactors - 1; i >= 0; i--) {
        zactor_destroy (&h->actors[i]);
    }
    zactor_destroy (&h->busa);
    shoal_config_destroy (&h->cfg);
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

/*  Makes the store run a pass (timers included) and waits for it: a PING
    is answered in the pass that applies it. */
static inline bool
host_poke (host_t *h)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_PING;
    strcpy (hdr.to, "store");
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

static inline bool
host_call (host_t *h, const shoal_id_t *id, shoal_in_t *in)
{
    return shoal_port_send (h->client) == SHOAL_OK &&
           host_recv (h->client, id, in);
}

/*  Reads one field of a job's STATUS view: a string into out, or (out
    NULL) an unsigned number into num. */
static inline bool
host_job_field (host_t *h, const char *jid, const char *field, char *out,
                size_t cap, uint64_t *num)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_STATUS, &id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "id", jid);
    shoal_in_t in;
    if (!host_call (h, &id, &in)) {
        return false;
    }
    bool ok = false;
    shoal_mp_val_t v;
    const uint8_t *job;
    size_t len;
    if (in.hdr.type == SHOAL_M_OK &&
        shoal_map_find (in.body, in.body_len, "job", &v, &job, &len) ==
            SHOAL_OK) {
        ok = out ? shoal_map_strcpy (job, len, field, out, cap) == SHOAL_OK
                 : shoal_map_uint (job, len, field, num) == SHOAL_OK;
    }
    shoal_in_close (&in);
    return ok;
}

static inline bool
host_state_is (host_t *h, const char *jid, const char *want)
{
    char state[32];
    return host_job_field (h, jid, "state", state, sizeof state, NULL) &&
           strcmp (state, want) == 0;
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

#endif
