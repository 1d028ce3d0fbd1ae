/*  shoal_scheduler.c - per-queue priority FIFOs, limits, fair dispatch.

    Every queue has four FIFOs of ready job ids (critical, high, normal,
    low), a pause flag, an optional concurrency limit and an optional rate
    limit (GCRA). Executors have slots: capacity - inflight. Each lease the
    scheduler asks for is remembered (job id -> executor, queue) until the
    store reports it over (LEASE_DONE), which frees both the executor slot
    and the queue's concurrency slot.

    Dispatch order. Priorities are weighted, not absolute: under
    contention the slots go 8:4:2:1 to critical:high:normal:low (among the
    priorities that are waiting, in the ratio of their weights), so a
    flood of critical work slows low work down but never starves it; with
    only one priority waiting it gets every slot. Within a priority, queues take
    turns (round robin), so one busy queue cannot starve another. FIFO
    within a queue and priority. Rate-limited queues that are not
    conforming wait; the actor wakes when the earliest becomes conforming.

    Memory. Queued jobs live in LMDB; each FIFO is a window of at most
    scheduler/window ids over the store's ready index for that queue and
    priority, which is in the order jobs became ready (seq). The window
    remembers the highest seq it admitted (cursor) and whether the store
    holds more after it; when it runs half empty it asks the store for the
    next ids after the cursor (FILL). New ready jobs announced by the store
    join the window only while nothing is waiting behind it, so order is
    kept and memory is bounded whatever the depth of the queue.
*/
#include "shoal_scheduler.h"
#include "shoal_store.h"

#include "shoal_actor.h"
#include "shoal_config.h"
#include "shoal_gcra.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"
#include "shoal_rate.h"

#include <string.h>

#define S_NODES_MAX  256
#define S_QUEUES_MAX 4096
#define S_LEASE_MAX  4096 /* leases per LEASE message */

/*  8:4:2:1, interleaved so no priority waits a whole cycle. */
static const uint8_t s_wheel[] = {0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0};
#define S_WHEEL (sizeof s_wheel / sizeof s_wheel[0])

typedef struct {
    shoal_id_t *ids;
    size_t cap, head, len;
    uint64_t cursor; /* highest seq admitted */
    bool more;       /* the store has ready ids after cursor */
    bool filling;    /* a FILL for this window is on its way */
    bool overflow;   /* a fill answer held more than fits */
} s_fifo_t;

typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    uint32_t capacity;
    uint32_t inflight;
    bool lost; /* declared dead by the registry until it speaks again */
} s_node_t;

typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    s_fifo_t ready[SHOAL_PRIO__COUNT];
    bool paused;
    uint32_t limit; /* concurrency; 0 = none */
    uint32_t inflight;
    uint64_t leased; /* leases asked for, since the scheduler started */
    uint64_t done;   /* leases ended */
    shoal_rate_t started_rate; /* leases per second, last 10 s */
    shoal_rate_t done_rate;
    bool rated;
    shoal_gcra_t rate;
} s_queue_t;

typedef struct {
    s_node_t *node;
    s_queue_t *queue;
} s_lease_t;

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    bool verbose;
    bool terminated;
    bool host_paused;
    s_node_t nodes[S_NODES_MAX];
    size_t nnodes;
    s_queue_t **queues;
    size_t nqueues;
    size_t rr[SHOAL_PRIO__COUNT]; /* round-robin position per priority */
    size_t wheel;
    zhashx_t *leases; /* job id (16 bytes) -> s_lease_t */
    uint64_t wake_us; /* earliest rate-limit wake-up, 0 = none */
    uint64_t leased;
    uint32_t window;  /* ids per queue and priority held in memory */
    uint64_t gen;     /* fill generation; a reset starts a new one */
    bool filling_all; /* the first FILL of this generation is pending */
    uint64_t fills;   /* FILL requests sent */
} self_t;

/*  ---------------------------------------------------------------------
    FIFOs */

static bool
s_fifo_push (s_fifo_t *f, const shoal_id_t *id)
{
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
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

/*  ---------------------------------------------------------------------
    Queues, executors, leases */

static s_queue_t *
s_queue (self_t *self, const char *name, size_t len, bool create)
{
    for (size_t i = 0; i < self->nqueues; i++) {
        s_queue_t *q = self->queues[i];
        if (strlen (q->name) == len && memcmp (q->name, name, len) == 0) {
            return q;
        }
    }
    if (!create || len > SHOAL_NAME_MAX || self->nqueues == S_QUEUES_MAX) {
        return NULL;
    }
    if (self->nqueues % 64 == 0) {
        s_queue_t **grown =
            realloc (self->queues, (self->nqueues + 64) * sizeof *grown);
        if (!grown) {
            return NULL;
        }
        self->queues = grown;
    }
    s_queue_t *q = calloc (1, sizeof *q);
    if (!q) {
        return NULL;
    }
    memcpy (q->name, name, len);
    self->queues[self->nqueues++] = q;
    return q;
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

static size_t
s_hash_id (const void *key)
{
    const uint8_t *b = key;
    size_t h;
    memcpy (&h, b + 8, sizeof h); /* the random half of the id */
    return h;
}

static int
s_cmp_id (const void *a, const void *b)
{
    return memcmp (a, b, 16);
}

static void *
s_dup_id (const void *key)
{
    void *copy = malloc (16);
    if (copy) {
        memcpy (copy, key, 16);
    }
    return copy;
}

static void
s_free_ptr (void **p)
{
    free (*p);
    *p = NULL;
}

/*  Asks the store for what it has ready, up to a window per queue and
    priority: a fresh start of every window. */
static shoal_err_t
s_fill_all (self_t *self)
{
    for (size_t i = 0; i < self->nqueues; i++) {
        for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
            s_fifo_t *f = &self->queues[i]->ready[p];
            f->head = f->len = 0;
            f->cursor = 0;
            f->more = f->filling = f->overflow = false;
        }
    }
    self->gen++;
    self->filling_all = true;
    self->fills++;
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_FILL, SHOAL_STORE_NAME, NULL);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "gen", self->gen);
    shoal_wr_kv_uint (w, "max", self->window);
    return shoal_port_send (self->port);
}

/*  Tops up one window from the store when it runs half empty. */
static void
s_maybe_fill (self_t *self, s_queue_t *q, int p)
{
    s_fifo_t *f = &q->ready[p];
    if (!f->more || f->filling || self->filling_all ||
        f->len > self->window / 2) {
        return;
    }
    f->filling = true;
    self->fills++;
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_FILL, SHOAL_STORE_NAME, NULL);
    shoal_wr_map (w, 5);
    shoal_wr_kv_uint (w, "gen", self->gen);
    shoal_wr_kv_uint (w, "max", self->window - f->len);
    shoal_wr_kv_str (w, "queue", q->name);
    shoal_wr_kv_uint (w, "prio", (uint64_t) p);
    shoal_wr_kv_uint (w, "after", f->cursor);
    shoal_port_send (self->port);
}

/*  Forgets every lease and every ready job (the store restarted). */
static void
s_reset (self_t *self)
{
    zhashx_purge (self->leases);
    for (size_t i = 0; i < self->nnodes; i++) {
        self->nodes[i].inflight = 0;
    }
    for (size_t i = 0; i < self->nqueues; i++) {
        self->queues[i]->inflight = 0;
    }
    s_fill_all (self);
}

/*  ---------------------------------------------------------------------
    Dispatch */

/*  Whether q may start one more job at now; sets *wake when a rate limit
    says later. Takes the rate token when it says yes. */
static bool
s_queue_may_start (self_t *self, s_queue_t *q, uint64_t now)
{
    if (q->paused || (q->limit && q->inflight >= q->limit)) {
        return false;
    }
    if (q->rated) {
        uint64_t after = 0;
        if (!shoal_gcra_take (&q->rate, now, &after)) {
            uint64_t at = now + (after ? after : 1);
            if (!self->wake_us || at < self->wake_us) {
                self->wake_us = at;
            }
            return false;
        }
    }
    return true;
}

/*  Picks the next job of priority p in round-robin order over queues. */
static s_queue_t *
s_pick (self_t *self, int p, uint64_t now)
{
    for (size_t k = 0; k < self->nqueues; k++) {
        size_t i = (self->rr[p] + k) % self->nqueues;
        s_queue_t *q = self->queues[i];
        if (q->ready[p].len > 0 && s_queue_may_start (self, q, now)) {
            self->rr[p] = i + 1;
            return q;
        }
    }
    return NULL;
}

/*  The next (queue, priority) to serve, or NULL. The wheel's turns are
    8:4:2:1; a turn whose priority has nothing that may start goes to the
    next turn in wheel order, so whatever priorities are waiting share the
    slots in the ratio of their weights (critical and low alone: 8:1).
    The wheel moves only past the turn that leased: a dispatch that leases
    nothing (limits, pause) does not skip anyone's turn. */
static s_queue_t *
s_next (self_t *self, uint64_t now, int *prio)
{
    bool tried[SHOAL_PRIO__COUNT] = {false};
    for (size_t k = 0; k < S_WHEEL; k++) {
        size_t pos = (self->wheel + k) % S_WHEEL;
        int want = s_wheel[pos];
        if (tried[want]) {
            continue;
        }
        tried[want] = true;
        s_queue_t *q = s_pick (self, want, now);
        if (q) {
            self->wheel = (pos + 1) % S_WHEEL;
            *prio = want;
            return q;
        }
    }
    return NULL;
}

/*  Leases as many ready jobs as there are free slots, in batches. */
static void
s_dispatch (self_t *self)
{
    if (self->host_paused) {
        return;
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    self->wake_us = 0;
    shoal_wr_t *items = shoal_wr_new ();
    if (!items) {
        return;
    }
    for (bool more = true; more;) {
        uint32_t n = 0;
        shoal_wr_reset (items);
        s_node_t *nd;
        while (n < S_LEASE_MAX && (nd = s_freest (self))) {
            int p;
            s_queue_t *q = s_next (self, now, &p);
            if (!q) {
                break;
            }
            shoal_id_t id;
            s_fifo_pop (&q->ready[p], &id);
            s_maybe_fill (self, q, p);
            s_lease_t *l = malloc (sizeof *l);
            if (!l) {
                s_fifo_push (&q->ready[p], &id); /* try again later */
                break;
            }
            l->node = nd;
            l->queue = q;
            if (zhashx_insert (self->leases, id.b, l) != 0) {
                free (l); /* already leased: a duplicate notification */
                continue;
            }
            nd->inflight++;
            q->inflight++;
            q->leased++;
            shoal_rate_add (&q->started_rate, now);
            self->leased++;
            shoal_wr_array (items, 2);
            shoal_wr_bin (items, id.b, 16);
            shoal_wr_str (items, nd->name);
            n++;
        }
        if (n > 0) {
            shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_LEASE,
                                              SHOAL_STORE_NAME, NULL);
            shoal_wr_map (w, 1);
            shoal_wr_str (w, "items");
            shoal_wr_array (w, n);
            shoal_wr_raw (w, shoal_wr_data (items), shoal_wr_size (items));
            shoal_port_send (self->port);
        }
        more = n == S_LEASE_MAX;
    }
    shoal_wr_destroy (&items);
}

/*  ---------------------------------------------------------------------
    Messages */

/*  One ready id from the store: a fill answer (fill) or news of a job
    that just became ready. */
static void
s_admit (self_t *self, const char *qname, uint32_t qlen, uint8_t prio,
         uint64_t seq, const shoal_id_t *id, bool fill)
{
    if (!fill && self->filling_all) {
        return; /* the fill on its way has it, or a later message will */
    }
    s_queue_t *q = s_queue (self, qname, qlen, true);
    if (!q) {
        shoal_error ("scheduler: cannot track queue %.*s", (int) qlen, qname);
        return; /* the job stays in LMDB */
    }
    s_fifo_t *f = &q->ready[prio];
    if (seq <= f->cursor || (!fill && f->filling)) {
        return; /* seen already, or the fill on its way has it */
    }
    if (!fill && f->more) {
        return; /* older ids wait in the store: keep the order */
    }
    if (f->len >= self->window || !s_fifo_push (f, id)) {
        /* Full (or no memory): the store keeps it; fetch it later. */
        if (fill) {
            f->overflow = true;
        } else {
            f->more = true;
        }
        return;
    }
    f->cursor = seq;
}

static void
s_handle_ready (self_t *self, shoal_in_t *in)
{
    bool fill = false, done = false;
    uint64_t gen = 0;
    shoal_map_bool (in->body, in->body_len, "fill", &fill);
    if (fill) {
        shoal_map_uint (in->body, in->body_len, "gen", &gen);
        shoal_map_bool (in->body, in->body_len, "done", &done);
        if (gen != self->gen) {
            return; /* answers a FILL from before a reset */
        }
    }
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "jobs", &rd, &n)) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t four, idlen, qlen;
        const uint8_t *idp;
        const char *qname;
        uint64_t prio, seq;
        if (shoal_rd_array (&rd, &four) || four != 4 ||
            shoal_rd_bin (&rd, &idp, &idlen) || idlen != 16 ||
            shoal_rd_str (&rd, &qname, &qlen) || shoal_rd_uint (&rd, &prio) ||
            shoal_rd_uint (&rd, &seq) || prio >= SHOAL_PRIO__COUNT) {
            shoal_warn ("scheduler: malformed JOBS_READY from %s",
                        in->hdr.from);
            return;
        }
        shoal_id_t id;
        memcpy (id.b, idp, 16);
        s_admit (self, qname, qlen, (uint8_t) prio, seq, &id, fill);
    }
    if (!fill) {
        return;
    }
    /* Windows this answer completes: whether the store has more. */
    if (shoal_map_array (in->body, in->body_len, "ends", &rd, &n) == SHOAL_OK) {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t three, qlen;
            const char *qname;
            uint64_t prio;
            shoal_mp_val_t more;
            if (shoal_rd_array (&rd, &three) || three != 3 ||
                shoal_rd_str (&rd, &qname, &qlen) ||
                shoal_rd_uint (&rd, &prio) || prio >= SHOAL_PRIO__COUNT ||
                shoal_rd_next (&rd, &more) || more.type != SHOAL_MP_BOOL) {
                shoal_warn ("scheduler: malformed fill answer");
                break;
            }
            s_queue_t *q = s_queue (self, qname, qlen, true);
            if (!q) {
                continue;
            }
            s_fifo_t *f = &q->ready[prio];
            f->filling = false;
            f->more = more.b || f->overflow;
            f->overflow = false;
        }
    }
    if (done) {
        self->filling_all = false;
    }
    for (size_t i = 0; i < self->nqueues; i++) {
        for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
            s_maybe_fill (self, self->queues[i], p);
        }
    }
}

/*  Settings of queues: [[name, paused, concurrency, interval_us, burst]]
    ("*" = the whole host). */
static void
s_handle_queue_conf (self_t *self, shoal_in_t *in)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "queues", &rd, &n)) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t five, len;
        const char *name;
        shoal_mp_val_t paused;
        uint64_t limit, interval, burst;
        if (shoal_rd_array (&rd, &five) || five != 5 ||
            shoal_rd_str (&rd, &name, &len) || shoal_rd_next (&rd, &paused) ||
            paused.type != SHOAL_MP_BOOL || shoal_rd_uint (&rd, &limit) ||
            shoal_rd_uint (&rd, &interval) || shoal_rd_uint (&rd, &burst) ||
            limit > UINT32_MAX || burst > UINT32_MAX) {
            shoal_warn ("scheduler: malformed QUEUE_CONF");
            return;
        }
        if (len == 1 && name[0] == '*') {
            self->host_paused = paused.b;
            continue;
        }
        s_queue_t *q = s_queue (self, name, len, true);
        if (!q) {
            continue;
        }
        q->paused = paused.b;
        q->limit = (uint32_t) limit;
        bool rated = interval > 0;
        if (rated && (!q->rated || q->rate.interval_us != interval ||
                      q->rate.burst != burst)) {
            shoal_gcra_init (&q->rate, interval, (uint32_t) burst);
        }
        q->rated = rated;
    }
}

static void
s_handle_lease_done (self_t *self, shoal_in_t *in)
{
    bool reset = false;
    if (shoal_map_bool (in->body, in->body_len, "reset", &reset) == SHOAL_OK &&
        reset) {
        /* The store restarted and requeued every lease: start over. */
        s_reset (self);
        return;
    }
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "ids", &rd, &n)) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *idp;
        uint32_t len;
        if (shoal_rd_bin (&rd, &idp, &len) || len != 16) {
            return;
        }
        s_lease_t *l = zhashx_lookup (self->leases, idp);
        if (!l) {
            continue; /* not ours (a restarted scheduler): nothing held */
        }
        if (l->node->inflight > 0) {
            l->node->inflight--;
        }
        if (l->queue->inflight > 0) {
            l->queue->inflight--;
        }
        l->queue->done++;
        shoal_rate_add (&l->queue->done_rate,
                        shoal_clock_now_us (shoal_port_clock (self->port)));
        zhashx_delete (self->leases, idp);
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
    s_node_t *nd = s_node (self, in->hdr.from, false);
    bool known = nd && !nd->lost, back = nd && nd->lost;
    nd = nd ? nd : s_node (self, in->hdr.from, true);
    if (!nd) {
        shoal_warn ("scheduler: too many executors; ignoring %s", in->hdr.from);
        return;
    }
    nd->capacity = (uint32_t) capacity;
    nd->lost = false;
    if (back) {
        /* Back from NODE_LOST: every lease it held was taken away then
           (requeued, new epoch), so whatever it still runs is stale and
           no LEASE_DONE will ever free a slot for it. Its busy count is
           no use: a CREDIT sent while it was cut off (busy, capacity 0)
           may be the first to arrive, and counting it would keep those
           slots taken for good. */
        nd->inflight = 0;
    } else if (!known || boot) {
        nd->inflight = (uint32_t) busy;
        shoal_debug (self->verbose, "scheduler: executor %s capacity %u",
                     nd->name, nd->capacity);
    }
}

/*  NODE_LOST {executors: [name...], host?}: the registry declared these
    executors (or every "*@host") dead. Their slots are gone and their
    leases are no longer counted: the store requeues them. A lost
    executor that speaks again (CREDIT) starts afresh. */
static bool
s_lost_match (const s_node_t *n, const char *host, const shoal_in_t *in)
{
    size_t hl = strlen (host), nl = strlen (n->name);
    if (hl && nl > hl + 1 && n->name[nl - hl - 1] == '@' &&
        streq (n->name + nl - hl, host)) {
        return true;
    }
    shoal_rd_t rd;
    uint32_t count;
    if (shoal_map_array (in->body, in->body_len, "executors", &rd, &count)) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const char *s;
        uint32_t len;
        if (shoal_rd_str (&rd, &s, &len)) {
            return false;
        }
        if (len == nl && memcmp (s, n->name, len) == 0) {
            return true;
        }
    }
    return false;
}

static void
s_handle_node_lost (self_t *self, shoal_in_t *in)
{
    char host[SHOAL_NAME_MAX + 1] = "";
    shoal_map_strcpy (in->body, in->body_len, "host", host, sizeof host);
    for (size_t i = 0; i < self->nnodes; i++) {
        s_node_t *n = &self->nodes[i];
        if (n->lost || !s_lost_match (n, host, in)) {
            continue;
        }
        n->lost = true;
        n->capacity = 0;
        n->inflight = 0;
        /* Collect first: the table may not change while walked. */
        size_t nkeys = 0, cap = zhashx_size (self->leases);
        shoal_id_t *keys = cap ? malloc (cap * sizeof *keys) : NULL;
        for (s_lease_t *l = zhashx_first (self->leases); l && keys;
             l = zhashx_next (self->leases)) {
            if (l->node == n) {
                memcpy (keys[nkeys++].b, zhashx_cursor (self->leases), 16);
                if (l->queue->inflight > 0) {
                    l->queue->inflight--;
                }
            }
        }
        for (size_t k = 0; k < nkeys; k++) {
            zhashx_delete (self->leases, keys[k].b);
        }
        free (keys);
        shoal_info ("scheduler: executor %s lost", n->name);
    }
}

/*  QUERY {op: "executors"}: every executor's slots, for the registry. */
static void
s_query_executors (self_t *self, shoal_in_t *in)
{
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, "executors");
    shoal_wr_array (w, (uint32_t) self->nnodes);
    for (size_t i = 0; i < self->nnodes; i++) {
        const s_node_t *n = &self->nodes[i];
        shoal_wr_map (w, 4);
        shoal_wr_kv_str (w, "name", n->name);
        shoal_wr_kv_uint (w, "capacity", n->capacity);
        shoal_wr_kv_uint (w, "inflight", n->inflight);
        shoal_wr_kv_bool (w, "lost", n->lost);
    }
    shoal_port_send (self->port);
}

/*  QUERY {op: "queues"}: per-queue depth and activity, from memory. */
static void
s_handle_query (self_t *self, shoal_in_t *in)
{
    char op[16] = "";
    shoal_map_strcpy (in->body, in->body_len, "op", op, sizeof op);
    if (streq (op, "executors")) {
        s_query_executors (self, in);
        return;
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 5);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_kv_bool (w, "host_paused", self->host_paused);
    shoal_wr_kv_uint (w, "window", self->window);
    shoal_wr_kv_uint (w, "fills", self->fills);
    shoal_wr_str (w, "queues");
    shoal_wr_array (w, (uint32_t) self->nqueues);
    for (size_t i = 0; i < self->nqueues; i++) {
        s_queue_t *q = self->queues[i];
        shoal_wr_map (w, 9);
        shoal_wr_kv_str (w, "name", q->name);
        shoal_wr_str (w, "started_per_s");
        shoal_wr_double (w, shoal_rate_per_s (&q->started_rate, now));
        shoal_wr_str (w, "done_per_s");
        shoal_wr_double (w, shoal_rate_per_s (&q->done_rate, now));
        /* ids held in memory: the queue's depth is the store's to say */
        shoal_wr_str (w, "window");
        shoal_wr_map (w, SHOAL_PRIO__COUNT);
        for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
            shoal_wr_kv_uint (w, shoal_prio_name (p), q->ready[p].len);
        }
        shoal_wr_kv_uint (w, "inflight", q->inflight);
        shoal_wr_kv_uint (w, "concurrency", q->limit);
        shoal_wr_kv_bool (w, "paused", q->paused);
        shoal_wr_kv_uint (w, "leased", q->leased);
        shoal_wr_kv_uint (w, "done", q->done);
    }
    shoal_port_send (self->port);
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
            case SHOAL_M_NODE_LOST:
                s_handle_node_lost (self, &in);
                break;
            case SHOAL_M_QUEUE_CONF:
                s_handle_queue_conf (self, &in);
                break;
            case SHOAL_M_QUERY:
                s_handle_query (self, &in);
                break;
            case SHOAL_M_PING: {
                shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_OK,
                                                  in.hdr.from, &in.hdr.id);
                shoal_wr_map (w, 0);
                shoal_port_send (self->port);
                break;
            }
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
        for (size_t i = 0; i < self->nqueues; i++) {
            for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
                free (self->queues[i]->ready[p].ids);
            }
            free (self->queues[i]);
        }
        free (self->queues);
        zhashx_destroy (&self->leases);
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
    if (self && (self->leases = zhashx_new ())) {
        zhashx_set_key_hasher (self->leases, s_hash_id);
        zhashx_set_key_comparator (self->leases, s_cmp_id);
        zhashx_set_key_duplicator (self->leases, s_dup_id);
        zhashx_set_key_destructor (self->leases, s_free_ptr);
        zhashx_set_destructor (self->leases, s_free_ptr);
        self->pipe = pipe;
        self->verbose = args->verbose;
        int64_t window = 0;
        rc = shoal_config_int (args->config, "scheduler/window", 16, 1 << 20,
                               &window)
                 ? SHOAL_ERR_CONFIG
                 : SHOAL_OK;
        self->window = (uint32_t) window;
        if (rc == SHOAL_OK) {
            self->port = shoal_port_new (args->bus, args->name, &args->clock);
            rc = self->port ? SHOAL_OK : SHOAL_ERR_IO;
        }
    }
    if (rc == SHOAL_OK) {
        rc = s_fill_all (self);
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
        long timeout = -1;
        if (self->wake_us) {
            uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
            timeout = self->wake_us > now
                          ? (long) ((self->wake_us - now) / 1000) + 1
                          : 0;
        }
        int n = zmq_poll (items, 2, timeout);
        if (n < 0) {
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
        } else if (n == 0) {
            s_dispatch (self); /* a rate limit allows more now */
        }
    }
    s_self_destroy (&self);
}
