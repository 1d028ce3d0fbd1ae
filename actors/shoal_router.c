/*  shoal_router.c - decides which edges of an ended node fire, and hosts
    the breaker actors. See shoal_router.h. */
#include "shoal_router.h"
#include "shoal_breaker_actor.h"
#include "shoal_store.h"

#include "shoal_actor.h"
#include "shoal_event.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"
#include "shoal_wf.h"

#include <string.h>
#include <sys/random.h>

#define S_DEFS_MAX      64 /* definitions cached */
#define S_BREAKERS_MAX  1000
#define S_BOOT_RETRY_MS 500 /* ROUTER_BOOT again until the store confirms */

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    shoal_clock_t clock;
    const char *bus;
    bool terminated;
    uint64_t nonce;  /* this incarnation: tickets of another are stale */
    zhashx_t *defs;  /* "name\x01rev" -> shoal_wf_t * */
    zhashx_t *types; /* node type -> zactor_t * (its breaker) */
    zpoller_t *poller;
    uint8_t *bits;   /* scratch bitmap of fired edges */
    shoal_wr_t *acc; /* STEP items of the ROUTE at hand */
    bool acc_broken; /* an item could not be written */
    size_t bits_cap;
    uint64_t steps, gates;
    bool boot_pending;  /* the store has not confirmed our ROUTER_BOOT */
    shoal_id_t boot_id; /* the last ROUTER_BOOT sent */
    int64_t boot_next;  /* zclock_mono ms of the next one while pending */
} self_t;

static void
s_def_free (void **item)
{
    shoal_wf_destroy ((shoal_wf_t **) item);
}

static void
s_actor_free (void **item)
{
    zactor_destroy ((zactor_t **) item);
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self) {
        return;
    }
    zpoller_destroy (&self->poller);
    zhashx_destroy (&self->types);
    zhashx_destroy (&self->defs);
    shoal_port_destroy (&self->port);
    free (self->bits);
    shoal_wr_destroy (&self->acc);
    free (self);
    *self_p = NULL;
}

static shoal_err_t
s_self_new (zsock_t *pipe, const shoal_actor_args_t *args, self_t **out)
{
    self_t *self = calloc (1, sizeof *self);
    if (!self) {
        return SHOAL_ERR_NOMEM;
    }
    *out = self;
    self->pipe = pipe;
    self->clock = args->clock;
    self->bus = args->bus;
    if (getrandom (&self->nonce, sizeof self->nonce, 0) !=
        (ssize_t) sizeof self->nonce) {
        self->nonce = (uint64_t) zclock_time () ^ (uint64_t) getpid ();
    }
    self->defs = zhashx_new ();
    self->acc = shoal_wr_new ();
    self->types = zhashx_new ();
    self->port = shoal_port_new (
        args->bus, args->name ? args->name : SHOAL_ROUTER_NAME, &args->clock);
    self->poller = zpoller_new (pipe, NULL);
    if (!self->defs || !self->types || !self->acc || !self->port ||
        !self->poller ||
        zpoller_add (self->poller, shoal_port_sock (self->port))) {
        return SHOAL_ERR_NOMEM;
    }
    zhashx_set_destructor (self->defs, s_def_free);
    zhashx_set_destructor (self->types, s_actor_free);
    return SHOAL_OK;
}

/*  The breaker actor of node type type, started on first use; NULL if it
    cannot be started (logged). */
static zactor_t *
s_breaker (self_t *self, const char *type)
{
    zactor_t *a = zhashx_lookup (self->types, type);
    if (a || zhashx_size (self->types) >= S_BREAKERS_MAX) {
        return a;
    }
    char name[SHOAL_NAME_MAX + 1];
    snprintf (name, sizeof name, "breaker.%.56s", type);
    shoal_actor_args_t args = {.name = name,
                               .bus = self->bus,
                               .clock = self->clock,
                               .extra = (void *) type};
    shoal_err_t rc = SHOAL_OK;
    a = shoal_actor_start (shoal_breaker_actor, &args, &rc);
    if (!a) {
        shoal_error ("router: breaker for %s not started: %s", type,
                     shoal_strerror (rc));
        return NULL;
    }
    if (zhashx_insert (self->types, type, a) ||
        zpoller_add (self->poller, zactor_sock (a))) {
        zhashx_delete (self->types, type);
        return NULL;
    }
    shoal_info ("router: breaker actor for node type %s started", type);
    return a;
}

/*  Tells the node's breaker how an activation it let through ended
    (ROUTE's bt, bg, bd, bn; a ticket of another router is stale). */
static void
s_outcome (self_t *self, const uint8_t *b, size_t len, uint64_t state)
{
    char type[SHOAL_NAME_MAX + 1];
    uint64_t nonce = 0, gen = 0, dec = SHOAL_BREAKER_REJECT;
    if (shoal_map_strcpy (b, len, "bt", type, sizeof type) != SHOAL_OK ||
        shoal_map_uint (b, len, "bn", &nonce) != SHOAL_OK ||
        nonce != self->nonce) {
        return;
    }
    shoal_map_uint (b, len, "bg", &gen);
    shoal_map_uint (b, len, "bd", &dec);
    shoal_breaker_outcome_t o = {(uint32_t) gen, (uint32_t) dec,
                                 state == SHOAL_JOB_SUCCEEDED ? 0u
                                 : state == SHOAL_JOB_DEAD    ? 1u
                                                              : 2u};
    zactor_t *a = zhashx_lookup (self->types, type);
    if (a) {
        zsock_send (a, "sbb", "OUTCOME", &o, sizeof o, "", (size_t) 0);
    }
}

/*  One ROUTE item: decides the node's edges, and reports the node's end
    to its breaker. Appends the STEP item to self->acc (*n counts them). */
static void
s_route_item (self_t *self, const uint8_t *b, size_t len, uint32_t *n)
{
    const uint8_t *run = NULL, *job = NULL;
    uint32_t run_len = 0, job_len = 0;
    uint64_t node = 0, rev = 0, state = 0;
    char name[SHOAL_NAME_MAX + 1];
    if (shoal_map_bin (b, len, "run", &run, &run_len) || run_len != 16 ||
        shoal_map_uint (b, len, "node", &node) || node > UINT32_MAX) {
        shoal_warn ("router: malformed ROUTE item");
        return;
    }
    shoal_map_uint (b, len, "s", &state);
    bool only = false;
    shoal_map_bool (b, len, "only", &only);
    if (only) {
        s_outcome (self, b, len, state);
        return;
    }
    if (shoal_map_strcpy (b, len, "n", name, sizeof name) ||
        shoal_map_uint (b, len, "r", &rev) || rev > UINT32_MAX) {
        shoal_warn ("router: ROUTE without a definition name");
        return;
    }
    char key[SHOAL_NAME_MAX + 16];
    snprintf (key, sizeof key, "%s\x01%u", name, (unsigned) rev);
    shoal_wf_t *wf = zhashx_lookup (self->defs, key);
    shoal_mp_val_t val;
    const uint8_t *raw;
    size_t raw_len;
    if (!wf &&
        shoal_map_find (b, len, "def", &val, &raw, &raw_len) == SHOAL_OK) {
        char err[SHOAL_WF_ERR_MAX];
        if (shoal_wf_decode (raw, raw_len, NULL, &wf, err, sizeof err)) {
            shoal_error ("router: definition %s rev %u: %s", name,
                         (unsigned) rev, err);
            return;
        }
        if (zhashx_size (self->defs) >= S_DEFS_MAX) {
            zhashx_purge (self->defs);
        }
        if (zhashx_insert (self->defs, key, wf)) {
            shoal_wf_destroy (&wf);
            return;
        }
    }
    shoal_wr_t *w = self->acc;
    shoal_map_bin (b, len, "j", &job, &job_len);
    shoal_wr_map (w, 3 + (job_len == 16));
    shoal_wr_kv_bin (w, "run", run, 16);
    shoal_wr_kv_uint (w, "node", node);
    if (job_len == 16) {
        shoal_wr_kv_bin (w, "j", job, 16);
    }
    if (!wf || node >= shoal_wf_node_count (wf)) {
        shoal_wr_kv_bool (w, "need", true); /* send it with the definition */
        (*n)++;
        return;
    }
    s_outcome (self, b, len, state); /* once: not with a "need" answer */
    const uint8_t *out = NULL, *input = NULL;
    size_t out_len = 0, in_len = 0;
    if (shoal_map_find (b, len, "o", &val, &raw, &raw_len) == SHOAL_OK) {
        out = raw;
        out_len = raw_len;
    }
    if (shoal_map_find (b, len, "in", &val, &raw, &raw_len) == SHOAL_OK) {
        input = raw;
        in_len = raw_len;
    }
    char port[SHOAL_NAME_MAX + 1];
    if (shoal_map_strcpy (b, len, "p", port, sizeof port) != SHOAL_OK) {
        shoal_wf_port_of (out, out_len, port, sizeof port);
    }
    uint32_t n_out = shoal_wf_node (wf, (uint32_t) node)->n_out;
    size_t nbytes = (n_out + 7) / 8;
    if (nbytes > self->bits_cap || !self->bits) {
        /* at least one byte: a node without edges must not leave bits
           NULL for memset and the writer (undefined even for 0 bytes) */
        size_t cap = nbytes ? nbytes : 1;
        uint8_t *bits = realloc (self->bits, cap);
        if (!bits) {
            /* the item is left half written: answer none of this batch;
               the store sends it all again once we announce ourselves */
            self->boot_pending = true;
            self->acc_broken = true;
            return;
        }
        self->bits = bits;
        self->bits_cap = cap;
    }
    memset (self->bits, 0, nbytes);
    bool ok = state == SHOAL_JOB_SUCCEEDED, dead = state == SHOAL_JOB_DEAD;
    bool big = false; /* output and input too big to send: conditions */
    shoal_map_bool (b, len, "big", &big); /* cannot be evaluated */
    for (uint32_t k = 0; k < n_out; k++) {
        const shoal_wf_edge_t *e = shoal_wf_out (wf, (uint32_t) node, k);
        if ((!big || !e->cond) &&
            shoal_wf_fires (e, ok, dead, port, out, out_len, input, in_len)) {
            self->bits[k / 8] |= (uint8_t) (1u << (k % 8));
        }
    }
    shoal_wr_kv_bin (w, "fo", self->bits, nbytes);
    (*n)++;
    self->steps++;
}

/*  ROUTE {items: [...]}: one STEP {items: [...]} back. */
static void
s_route (self_t *self, shoal_in_t *in)
{
    shoal_rd_t rd;
    uint32_t count = 0, n = 0;
    if (shoal_map_array (in->body, in->body_len, "items", &rd, &count)) {
        shoal_warn ("router: malformed ROUTE from %s", in->hdr.from);
        return;
    }
    shoal_wr_reset (self->acc);
    self->acc_broken = false;
    for (uint32_t k = 0; k < count && !self->acc_broken; k++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
            break;
        }
        s_route_item (self, item, (size_t) (rd.p - item), &n);
    }
    if (n == 0 || self->acc_broken || shoal_wr_error (self->acc)) {
        return;
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_STEP, SHOAL_STORE_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, n);
    shoal_wr_raw (w, shoal_wr_data (self->acc), shoal_wr_size (self->acc));
    shoal_port_send (self->port);
}

/*  GATE: hands the question to the type's breaker actor. */
static void
s_gate (self_t *self, shoal_in_t *in)
{
    char type[SHOAL_NAME_MAX + 1];
    shoal_mp_val_t val;
    const uint8_t *pol = NULL;
    size_t pol_len = 0;
    if (shoal_map_strcpy (in->body, in->body_len, "t", type, sizeof type) ||
        shoal_map_find (in->body, in->body_len, "pol", &val, &pol, &pol_len)) {
        shoal_warn ("router: malformed GATE from %s", in->hdr.from);
        return;
    }
    zactor_t *a = s_breaker (self, type);
    if (!a) {
        return; /* asked again at our next boot */
    }
    self->gates++;
    zsock_send (a, "sbb", "GATE", in->body, in->body_len, pol, pol_len);
}

/*  A breaker's answer or state change. */
static void
s_breaker_msg (self_t *self, zsock_t *sock)
{
    char *cmd = NULL;
    zframe_t *a = NULL, *b = NULL;
    zmsg_t *msg = zmsg_recv (sock);
    if (msg) {
        cmd = zmsg_popstr (msg);
        a = zmsg_pop (msg);
        b = zmsg_pop (msg);
    }
    const char *type = "?";
    for (zactor_t *act = zhashx_first (self->types); act;
         act = zhashx_next (self->types)) {
        if (zactor_sock (act) == sock) {
            type = zhashx_cursor (self->types);
        }
    }
    if (cmd && streq (cmd, "ADMIT") && a && b &&
        zframe_size (b) == sizeof (shoal_breaker_admit_t)) {
        shoal_breaker_admit_t ad;
        memcpy (&ad, zframe_data (b), sizeof ad);
        ad.why[sizeof ad.why - 1] = '\0';
        const uint8_t *t = zframe_data (a);
        size_t tlen = zframe_size (a);
        const uint8_t *run = NULL;
        uint32_t run_len = 0;
        uint64_t node = 0, act = 0;
        if (shoal_map_bin (t, tlen, "run", &run, &run_len) == SHOAL_OK &&
            run_len == 16 && shoal_map_uint (t, tlen, "node", &node) == 0 &&
            shoal_map_uint (t, tlen, "ac", &act) == SHOAL_OK) {
            shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_ADMIT,
                                              SHOAL_STORE_NAME, NULL);
            char type_[SHOAL_NAME_MAX + 1];
            if (shoal_map_strcpy (t, tlen, "t", type_, sizeof type_)) {
                type_[0] = '\0';
            }
            shoal_wr_map (w, 7 + (ad.why[0] != '\0'));
            shoal_wr_kv_str (w, "t", type_);
            shoal_wr_kv_bin (w, "run", run, 16);
            shoal_wr_kv_uint (w, "node", node);
            shoal_wr_kv_uint (w, "ac", act);
            shoal_wr_kv_uint (w, "d", ad.decision);
            shoal_wr_kv_uint (w, "g", ad.gen);
            shoal_wr_kv_uint (w, "bn", self->nonce);
            if (ad.why[0]) {
                shoal_wr_kv_str (w, "why", ad.why);
            }
            shoal_port_send (self->port);
        }
    } else if (cmd && streq (cmd, "CHANGE") && a &&
               zframe_size (a) == sizeof (shoal_breaker_change_t)) {
        shoal_breaker_change_t ch;
        memcpy (&ch, zframe_data (a), sizeof ch);
        shoal_info ("breaker %s: %s -> %s", type,
                    shoal_breaker_state_name ((int) ch.from),
                    shoal_breaker_state_name ((int) ch.to));
        shoal_wr_t *ev = shoal_event_begin (self->port, 1);
        shoal_event_head (ev, self->port, shoal_breaker_topic ((int) ch.to),
                          1 + SHOAL_BREAKER_EVENT_PAIRS);
        shoal_wr_kv_str (ev, "type", type);
        shoal_breaker_change_encode (&ch, ev);
        shoal_port_send (self->port);
    }
    zstr_free (&cmd);
    zframe_destroy (&a);
    zframe_destroy (&b);
    zmsg_destroy (&msg);
}

/*  ROUTER_BOOT {bn}: the store sends again whatever it asked us and has
    no answer for (after our start, or after answers of ours bounced off
    a store that was restarting); it confirms with OK. */
static void
s_announce (self_t *self)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_ROUTER_BOOT;
    shoal_port_new_id (self->port, &hdr.id);
    snprintf (hdr.to, sizeof hdr.to, "%s", SHOAL_STORE_NAME);
    self->boot_id = hdr.id;
    shoal_wr_t *w = shoal_port_begin_hdr (self->port, &hdr);
    shoal_wr_map (w, 1);
    shoal_wr_kv_uint (w, "bn", self->nonce);
    shoal_port_send (self->port);
    self->boot_next = zclock_mono () + S_BOOT_RETRY_MS;
}

static void
s_handle_port (self_t *self)
{
    shoal_in_t in;
    while (shoal_port_recv (self->port, &in, ZMQ_DONTWAIT) == SHOAL_OK) {
        switch (in.hdr.type) {
            case SHOAL_M_ROUTE:
                s_route (self, &in);
                break;
            case SHOAL_M_GATE:
                s_gate (self, &in);
                break;
            case SHOAL_M_ERROR:
                /* A STEP or ADMIT bounced: the store is (re)starting.
                   Announce ourselves until it confirms, so it sends
                   again what it has no answer for. */
                if (!self->boot_pending) {
                    shoal_warn ("router: a message to the store bounced; "
                                "asking it to send again");
                }
                self->boot_pending = true;
                break;
            case SHOAL_M_OK:
                if (memcmp (&in.hdr.corr, &self->boot_id,
                            sizeof self->boot_id) == 0) {
                    self->boot_pending = false;
                }
                break;
            case SHOAL_M_PING: {
                shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_OK,
                                                  in.hdr.from, &in.hdr.id);
                shoal_wr_map (w, 0);
                shoal_port_send (self->port);
                break;
            }
            default:
                shoal_warn ("router: unexpected %s from %s",
                            shoal_mtype_name (in.hdr.type), in.hdr.from);
        }
        shoal_in_close (&in);
    }
}

void
shoal_router_actor (zsock_t *pipe, void *args_)
{
    zsock_signal (pipe, 0);
    self_t *self = NULL;
    shoal_err_t rc = s_self_new (pipe, args_, &self);
    shoal_actor_ready (pipe, rc);
    if (rc) {
        s_self_destroy (&self);
        return;
    }
    self->boot_pending = true;
    s_announce (self);
    while (!self->terminated) {
        int timeout = -1;
        if (self->boot_pending) {
            int64_t left = self->boot_next - zclock_mono ();
            if (left <= 0) {
                s_announce (self);
                left = S_BOOT_RETRY_MS;
            }
            timeout = (int) left;
        }
        void *which = zpoller_wait (self->poller, timeout);
        if (!which) {
            if (zpoller_terminated (self->poller)) {
                break;
            }
            continue;
        }
        if (which == pipe) {
            self->terminated = shoal_actor_pipe_term (pipe, "router");
        } else if (which == shoal_port_sock (self->port)) {
            s_handle_port (self);
        } else {
            s_breaker_msg (self, which);
        }
    }
    s_self_destroy (&self);
}
