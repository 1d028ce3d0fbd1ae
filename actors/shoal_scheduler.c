/*  shoal_scheduler.c - priority FIFOs, executor credit, batched leases.

    Each priority is a ring buffer of job ids that grows by doubling. An
    executor's free slots are capacity - inflight; inflight goes up when a
    lease is asked for and down when the store reports the lease done
    (result committed, or lease refused because the job was taken). Jobs
    are handed to the executor with the most free slots, so a slow
    executor does not collect a backlog while others idle.
*/
#include "shoal_scheduler.h"
#include "shoal_store.h"

#include "shoal_actor.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"

#include <string.h>

#define S_NODES_MAX 256
#define S_LEASE_MAX 4096 /* leases per LEASE message */

typedef struct {
    shoal_id_t *ids;
    size_t cap, head, len;
} s_fifo_t;

typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    uint32_t capacity;
    uint32_t inflight;
} s_node_t;

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    bool verbose;
    bool terminated;
    s_fifo_t ready[SHOAL_PRIO__COUNT];
    s_node_t nodes[S_NODES_MAX];
    size_t nnodes;
    uint64_t leased;
} self_t;

static bool
s_fifo_push (s_fifo_t *f, const shoal_id_t *id)
{
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        shoal_id_t *ids = malloc (cap * sizeof *ids);
        if (!ids) {
            return false;
        }
        for (size_t i = 0; i < f->len; i++) {
            ids[i] = f->ids[(f->head + i) % f->cap];
        }
        free (f->ids);
        f->ids = ids;
        f->cap = cap;
        f->head = 0;
    }
    f->ids[(f->head + f->len) % f->cap] = *id;
    f->len++;
    return true;
}

static void
s_fifo_pop (s_fifo_t *f, shoal_id_t *id)
{
    *id = f->ids[f->head];
    f->head = (f->head + 1) % f->cap;
    f->len--;
}

static void
s_fifo_clear (s_fifo_t *f)
{
    f->head = f->len = 0;
}

static s_node_t *
s_node (self_t *self, const char *name, bool create)
{
    for (size_t i = 0; i < self->nnodes; i++) {
        if (streq (self->nodes[i].name, name)) {
            return &self->nodes[i];
        }
    }
    if (!create || self->nnodes == S_NODES_MAX) {
        return NULL;
    }
    s_node_t *n = &self->nodes[self->nnodes++];
    memset (n, 0, sizeof *n);
    snprintf (n->name, sizeof n->name, "%s", name);
    return n;
}

static s_node_t *
s_freest (self_t *self)
{
    s_node_t *best = NULL;
    uint32_t best_free = 0;
    for (size_t i = 0; i < self->nnodes; i++) {
        s_node_t *n = &self->nodes[i];
        uint32_t free_slots =
            n->capacity > n->inflight ? n->capacity - n->inflight : 0;
        if (free_slots > best_free) {
            best = n;
            best_free = free_slots;
        }
    }
    return best;
}

static bool
s_pop_ready (self_t *self, shoal_id_t *id)
{
    for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
        if (self->ready[p].len > 0) {
            s_fifo_pop (&self->ready[p], id);
            return true;
        }
    }
    return false;
}

/*  Leases as many ready jobs as there are free slots, in one message. */
static void
s_dispatch (self_t *self)
{
    for (;;) {
        /* count first: msgpack arrays carry their length up front */
        uint32_t total = 0;
        for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
            total += (uint32_t) self->ready[p].len;
        }
        uint32_t slots = 0;
        for (size_t i = 0; i < self->nnodes; i++) {
            s_node_t *nd = &self->nodes[i];
            slots +=
                nd->capacity > nd->inflight ? nd->capacity - nd->inflight : 0;
        }
        uint32_t batch = total < slots ? total : slots;
        if (batch > S_LEASE_MAX) {
            batch = S_LEASE_MAX;
        }
        if (batch == 0) {
            return;
        }
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_LEASE,
                                          SHOAL_STORE_NAME, NULL);
        shoal_wr_map (w, 1);
        shoal_wr_str (w, "items");
        shoal_wr_array (w, batch);
        for (uint32_t i = 0; i < batch; i++) {
            s_node_t *nd = s_freest (self);
            shoal_id_t id;
            if (!nd || !s_pop_ready (self, &id)) {
                break; /* cannot happen: batch <= slots, total */
            }
            nd->inflight++;
            self->leased++;
            shoal_wr_array (w, 2);
            shoal_wr_bin (w, id.b, 16);
            shoal_wr_str (w, nd->name);
        }
        shoal_port_send (self->port);
        if (batch < S_LEASE_MAX) {
            return;
        }
    }
}

static void
s_handle_ready (self_t *self, shoal_in_t *in)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "jobs", &rd, &n)) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t four, idlen, qlen;
        const uint8_t *idp;
        const char *q;
        uint64_t prio, seq;
        if (shoal_rd_array (&rd, &four) || four != 4 ||
            shoal_rd_bin (&rd, &idp, &idlen) || idlen != 16 ||
            shoal_rd_str (&rd, &q, &qlen) || shoal_rd_uint (&rd, &prio) ||
            shoal_rd_uint (&rd, &seq) || prio >= SHOAL_PRIO__COUNT) {
            shoal_warn ("scheduler: malformed JOBS_READY from %s",
                        in->hdr.from);
            return;
        }
        shoal_id_t id;
        memcpy (id.b, idp, 16);
        if (!s_fifo_push (&self->ready[prio], &id)) {
            /* Out of memory: the job stays in LMDB; a later FILL finds it. */
            shoal_error ("scheduler: out of memory for the ready window");
            return;
        }
    }
}

static void
s_handle_lease_done (self_t *self, shoal_in_t *in)
{
    bool reset = false;
    if (shoal_map_bool (in->body, in->body_len, "reset", &reset) == SHOAL_OK &&
        reset) {
        /* The store restarted and requeued every lease: start over. */
        for (size_t i = 0; i < self->nnodes; i++) {
            self->nodes[i].inflight = 0;
        }
        for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
            s_fifo_clear (&self->ready[p]);
        }
        shoal_wr_t *w =
            shoal_port_begin (self->port, SHOAL_M_FILL, SHOAL_STORE_NAME, NULL);
        shoal_wr_map (w, 0);
        shoal_port_send (self->port);
        return;
    }
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "nodes", &rd, &n)) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t two, len;
        const char *name;
        uint64_t count;
        if (shoal_rd_array (&rd, &two) || two != 2 ||
            shoal_rd_str (&rd, &name, &len) || len > SHOAL_NAME_MAX ||
            shoal_rd_uint (&rd, &count)) {
            return;
        }
        char buf[SHOAL_NAME_MAX + 1];
        memcpy (buf, name, len);
        buf[len] = '\0';
        s_node_t *nd = s_node (self, buf, false);
        if (nd) {
            nd->inflight =
                nd->inflight > count ? nd->inflight - (uint32_t) count : 0;
        }
    }
}

static void
s_handle_credit (self_t *self, shoal_in_t *in)
{
    uint64_t capacity = 0, busy = 0;
    bool boot = false;
    if (shoal_map_uint (in->body, in->body_len, "capacity", &capacity) ||
        capacity > 65536) {
        return;
    }
    shoal_map_uint (in->body, in->body_len, "busy", &busy);
    shoal_map_bool (in->body, in->body_len, "boot", &boot);
    bool known = s_node (self, in->hdr.from, false) != NULL;
    s_node_t *nd = s_node (self, in->hdr.from, true);
    if (!nd) {
        shoal_warn ("scheduler: too many executors; ignoring %s", in->hdr.from);
        return;
    }
    nd->capacity = (uint32_t) capacity;
    if (!known || boot) {
        nd->inflight = (uint32_t) busy;
        shoal_debug (self->verbose, "scheduler: executor %s capacity %u",
                     nd->name, nd->capacity);
    }
}

static void
s_self_handle_port (self_t *self)
{
    shoal_in_t in;
    for (int i = 0; i < 256 && shoal_port_next (self->port, &in); i++) {
        switch (in.hdr.type) {
            case SHOAL_M_JOBS_READY:
                s_handle_ready (self, &in);
                break;
            case SHOAL_M_LEASE_DONE:
                s_handle_lease_done (self, &in);
                break;
            case SHOAL_M_CREDIT:
                s_handle_credit (self, &in);
                break;
            case SHOAL_M_ERROR:
                break; /* e.g. store restarting */
            default:
                shoal_port_error (self->port, &in.hdr, SHOAL_ERR_UNKNOWN_TYPE,
                                  "scheduler does not handle %s",
                                  shoal_mtype_name (in.hdr.type));
        }
        shoal_in_close (&in);
    }
    s_dispatch (self);
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
            free (self->ready[p].ids);
        }
        shoal_port_destroy (&self->port);
        free (self);
        *self_p = NULL;
    }
}

void
shoal_scheduler_actor (zsock_t *pipe, void *args_)
{
    const shoal_actor_args_t *args = args_;
    zsock_signal (pipe, 0);
    self_t *self = calloc (1, sizeof *self);
    shoal_err_t rc = SHOAL_ERR_NOMEM;
    if (self) {
        self->pipe = pipe;
        self->verbose = args->verbose;
        self->port = shoal_port_new (args->bus, args->name, &args->clock);
        rc = self->port ? SHOAL_OK : SHOAL_ERR_IO;
    }
    if (rc == SHOAL_OK) {
        shoal_wr_t *w =
            shoal_port_begin (self->port, SHOAL_M_FILL, SHOAL_STORE_NAME, NULL);
        shoal_wr_map (w, 0);
        rc = shoal_port_send (self->port);
    }
    shoal_actor_ready (pipe, rc);
    if (rc) {
        s_self_destroy (&self);
        return;
    }
    zmq_pollitem_t items[] = {
        {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (shoal_port_sock (self->port)), 0, ZMQ_POLLIN, 0},
    };
    while (!self->terminated) {
        if (zmq_poll (items, 2, -1) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            self->terminated = shoal_actor_pipe_term (pipe, "scheduler");
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_self_handle_port (self);
        }
    }
    s_self_destroy (&self);
}
