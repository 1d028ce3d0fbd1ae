/*  shoal_store.c - group-commit pipeline over LMDB.

    What: the one writer of the host's LMDB environment. Why this shape:
    fsync dominates (0.2-0.7 ms each here) so throughput comes only from
    batch size; every wake-up takes all waiting intents into one
    transaction. Everything a batch produces (acks, notifications, RUN
    messages, events, wait replies) is prepared during the apply pass in
    the port's outbox and in accumulators, and sent only after the commit;
    if the commit fails the outbox is discarded and, for MAP_FULL, the map
    grows and the whole batch is applied again from its original messages.

    Deliberately not here: scheduling decisions (the scheduler actor),
    request validation for people (the control actor validates; the store
    still checks what it relies on).
*/
#include "shoal_store_int.h"

#include <sys/random.h>

void
store_free_ptr (void **item)
{
    free (*item);
    *item = NULL;
}

zlistx_t *
store_list_new (void)
{
    zlistx_t *l = zlistx_new ();
    if (l) {
        zlistx_set_destructor (l, store_free_ptr);
    }
    return l;
}

static shoal_err_t
s_load_meta (self_t *self)
{
    shoal_txn_t *txn;
    shoal_err_t rc = shoal_db_begin (self->db, false, &txn);
    if (rc) {
        return rc;
    }
    const void *v;
    size_t len;
    rc = shoal_txn_get (txn, SHOAL_DBI_META, "seq", 3, &v, &len);
    if (rc == SHOAL_OK && len == sizeof self->next_seq) {
        memcpy (&self->next_seq, v, len);
    } else if (rc != SHOAL_ERR_NOT_FOUND && rc != SHOAL_OK) {
        goto done;
    }
    rc = shoal_txn_get (txn, SHOAL_DBI_META, "counts", 6, &v, &len);
    /* A data folder written before a state was added has a shorter
       array: its counts stand, the new states start at zero. */
    if (rc == SHOAL_OK && len <= sizeof self->count &&
        len % sizeof self->count[0] == 0) {
        memcpy (self->count, v, len);
    } else if (rc != SHOAL_ERR_NOT_FOUND && rc != SHOAL_OK) {
        goto done;
    }
    rc = store_depth_load (self, txn);
done:
    shoal_txn_abort (&txn);
    if (self->next_seq == 0) {
        self->next_seq = 1;
    }
    return rc;
}

static shoal_err_t
s_save_meta (self_t *self)
{
    shoal_err_t rc = shoal_txn_put (self->txn, SHOAL_DBI_META, "seq", 3,
                                    &self->p_next_seq, sizeof self->p_next_seq);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_META, "counts", 6,
                            self->p_count, sizeof self->p_count);
    }
    return rc;
}

static void
s_pass_reset (self_t *self)
{
    shoal_port_discard (self->port);
    shoal_wr_reset (self->ready);
    shoal_wr_reset (self->events);
    self->nready = self->nevents = 0;
    shoal_wr_reset (self->routes);
    self->nroutes = 0;
    shoal_wr_reset (self->done);
    self->ndone = 0;
    zlistx_purge (self->new_waiters);
    zlistx_purge (self->done_jobs);
    store_depth_end_pass (self, false);
    self->p_next_seq = self->next_seq;
    self->p_next_due_us = self->next_due_us;
    memcpy (self->p_count, self->count, sizeof self->count);
}

/*  One attempt at applying and committing the whole batch. */
static shoal_err_t
s_pass (self_t *self, bool recovery)
{
    s_pass_reset (self);
    shoal_err_t rc = shoal_db_begin (self->db, true, &self->txn);
    if (rc) {
        return rc;
    }
    if (recovery) {
        uint64_t n = 0;
        rc = store_queues_load (self);
        if (rc == SHOAL_OK && self->fin_migrate) {
            rc = store_retain_migrate (self);
        }
        if (rc == SHOAL_OK) {
            rc = store_requeue_leases (self, NULL, &n);
        }
        if (rc == SHOAL_OK && n > 0) {
            shoal_info ("store: recovery requeued %llu leased job(s)",
                        (unsigned long long) n);
        }
    }
    if (rc == SHOAL_OK) {
        rc = store_run_timers (
            self, shoal_clock_now_us (shoal_port_clock (self->port)));
    }
    for (size_t i = 0; i < self->nbatch && rc == SHOAL_OK; i++) {
        rc = store_apply (self, &self->batch[i]);
    }
    if (rc == SHOAL_OK) {
        rc = store_run_flush_routes (self);
    }
    if (rc == SHOAL_OK) {
        rc = store_next_due (self, &self->p_next_due_us);
    }
    if (rc == SHOAL_OK) {
        rc = store_depth_save (self);
    }
    if (rc == SHOAL_OK) {
        rc = s_save_meta (self);
    }
    if (rc) {
        shoal_txn_abort (&self->txn);
        return rc;
    }
    return shoal_txn_commit (&self->txn);
}

/*  Sends what the committed pass produced and adopts its counters. */
static void
s_publish (self_t *self)
{
    self->commits++;
    self->next_seq = self->p_next_seq;
    self->next_due_us = self->p_next_due_us;
    memcpy (self->count, self->p_count, sizeof self->count);
    store_depth_end_pass (self, true);
    shoal_port_flush (self->port);
    /* Leases that ended go first: a job whose lease ended may be ready
       again in this very pass, and the scheduler must free the old lease
       before it sees the job (one pipe: order is kept). */
    if (self->ndone > 0) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_LEASE_DONE,
                                          SHOAL_SCHEDULER_NAME, NULL);
        shoal_wr_map (w, 1);
        shoal_wr_str (w, "ids");
        shoal_wr_array (w, self->ndone);
        shoal_wr_raw (w, shoal_wr_data (self->done),
                      shoal_wr_size (self->done));
        shoal_port_send (self->port);
    }
    if (self->nready > 0) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_JOBS_READY,
                                          SHOAL_SCHEDULER_NAME, NULL);
        shoal_wr_map (w, 1);
        shoal_wr_str (w, "jobs");
        shoal_wr_array (w, self->nready);
        shoal_wr_raw (w, shoal_wr_data (self->ready),
                      shoal_wr_size (self->ready));
        shoal_port_send (self->port);
    }
    if (self->nevents > 0) {
        shoal_wr_t *w = shoal_event_begin (self->port, self->nevents);
        shoal_wr_raw (w, shoal_wr_data (self->events),
                      shoal_wr_size (self->events));
        shoal_port_send (self->port);
    }
    /* New waiters park; those whose job became final this pass leave
       (they were answered in the outbox just flushed). */
    s_waiter_t *nw;
    while ((nw = zlistx_detach (self->new_waiters, NULL))) {
        zlistx_add_end (self->waiters, nw);
    }
    for (shoal_id_t *id = zlistx_first (self->done_jobs); id;
         id = zlistx_next (self->done_jobs)) {
        s_waiter_t *w = zlistx_first (self->waiters);
        while (w) {
            void *handle = zlistx_cursor (self->waiters);
            s_waiter_t *next = zlistx_next (self->waiters);
            if (memcmp (&w->job, id, sizeof *id) == 0) {
                zlistx_delete (self->waiters, handle);
            }
            w = next;
        }
    }
    zlistx_purge (self->done_jobs);
}

/*  Answers every intent of a batch that could not be committed. */
static void
s_fail_batch (self_t *self, shoal_err_t rc)
{
    shoal_port_discard (self->port);
    if (self->wf_cache) {
        zhashx_purge (self->wf_cache); /* may hold an uncommitted revision */
    }
    for (size_t i = 0; i < self->nbatch; i++) {
        shoal_in_t *in = &self->batch[i];
        if (in->hdr.type == SHOAL_M_STORE_SUBMIT ||
            in->hdr.type == SHOAL_M_QUERY) {
            shoal_port_error (self->port, &in->hdr, rc, "store: %s",
                              shoal_strerror (rc));
        }
    }
}

static shoal_err_t
s_run_batch (self_t *self, bool recovery)
{
    shoal_err_t rc;
    for (;;) {
        rc = s_pass (self, recovery);
        if (rc != SHOAL_ERR_MAP_FULL) {
            break;
        }
        rc = shoal_db_grow (self->db);
        if (rc) {
            shoal_error ("store: storage full and the map cannot grow");
            break;
        }
    }
    if (rc == SHOAL_OK) {
        s_publish (self);
    } else {
        shoal_error ("store: batch of %zu not committed: %s", self->nbatch,
                     shoal_strerror (rc));
        s_fail_batch (self, rc);
    }
    return rc;
}

/*  Parks expire: a WAIT whose deadline passed gets TIMEOUT. */
static void
s_expire_waiters (self_t *self)
{
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    s_waiter_t *w = zlistx_first (self->waiters);
    while (w) {
        void *handle = zlistx_cursor (self->waiters);
        s_waiter_t *next = zlistx_next (self->waiters);
        if (w->deadline_us && w->deadline_us <= now) {
            store_reply_code (self, w->to, &w->corr, SHOAL_ERR_TIMEOUT,
                              "job not finished before the deadline");
            shoal_port_flush (self->port);
            zlistx_delete (self->waiters, handle);
        }
        w = next;
    }
}

static void
s_self_handle_port (self_t *self)
{
    self->nbatch = 0;
    while (self->nbatch < self->batch_max &&
           shoal_port_next (self->port, &self->batch[self->nbatch])) {
        self->nbatch++;
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    bool due = self->next_due_us && self->next_due_us <= now;
    if (self->nbatch > 0 || due) {
        s_run_batch (self, false);
    }
    for (size_t i = 0; i < self->nbatch; i++) {
        shoal_in_close (&self->batch[i]);
    }
    self->nbatch = 0;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self) {
        return;
    }
    shoal_txn_abort (&self->txn);
    zactor_destroy (&self->backup); /* waits for a copy in progress */
    shoal_db_destroy (&self->db);
    shoal_port_destroy (&self->port);
    shoal_wr_destroy (&self->rec);
    shoal_wr_destroy (&self->ready);
    shoal_wr_destroy (&self->routes);
    shoal_wr_destroy (&self->events);
    shoal_wr_destroy (&self->done);
    shoal_wr_destroy (&self->scratch);
    store_depth_destroy (self);
    zhashx_destroy (&self->wf_cache);
    shoal_wr_destroy (&self->brec);
    zlistx_destroy (&self->waiters);
    zlistx_destroy (&self->new_waiters);
    zlistx_destroy (&self->done_jobs);
    free (self->batch);
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
    self->verbose = args->verbose;
    self->events_on = true; /* until the monitor says otherwise */
    self->lim = shoal_limits_bus ();
    int64_t batch_max = 0, map_size = 0, lease_ms = 0, grace_ms = 0,
            retention_ms = 0;
    shoal_sync_t sync;
    shoal_err_t rc;
    if ((rc = shoal_config_int (args->config, "store/lease", 1, 86400000,
                                &lease_ms)) ||
        (rc = shoal_config_int (args->config, "store/lease_grace", 0, 3600000,
                                &grace_ms)) ||
        (rc = shoal_config_int (args->config, "store/retention", 0,
                                (int64_t) 1 << 40, &retention_ms)) ||
        (rc = shoal_config_int (args->config, "store/batch_max", 1, 65536,
                                &batch_max)) ||
        (rc = shoal_config_int (args->config, "store/map_size", 1 << 20,
                                (int64_t) 1 << 40, &map_size)) ||
        (rc = shoal_sync_parse (shoal_config_get (args->config, "store/sync"),
                                &sync))) {
        return SHOAL_ERR_CONFIG;
    }
    self->batch_max = (size_t) batch_max;
    self->lease_us = (uint64_t) lease_ms * 1000;
    self->lease_grace_us = (uint64_t) grace_ms * 1000;
    self->retention_us = (uint64_t) retention_ms * 1000;
    if (getrandom (&self->rng, sizeof self->rng, 0) != sizeof self->rng) {
        return SHOAL_ERR_IO;
    }
    self->batch = calloc (self->batch_max, sizeof *self->batch);
    self->rec = shoal_wr_new ();
    self->ready = shoal_wr_new ();
    self->routes = shoal_wr_new ();
    self->events = shoal_wr_new ();
    self->done = shoal_wr_new ();
    self->scratch = shoal_wr_new ();
    self->brec = shoal_wr_new ();
    self->waiters = store_list_new ();
    self->new_waiters = store_list_new ();
    self->done_jobs = store_list_new ();
    if (!self->batch || !self->rec || !self->ready || !self->routes ||
        !self->events || !self->done || !self->scratch || !self->brec ||
        !self->waiters || !self->new_waiters || !self->done_jobs) {
        return SHOAL_ERR_NOMEM;
    }
    const char *dir = shoal_config_get (args->config, "shoald/data");
    if ((rc = shoal_db_open (dir, sync, (size_t) map_size, &self->db))) {
        shoal_error ("store: cannot open data folder %s: %s", dir,
                     shoal_strerror (rc));
        return rc;
    }
    if ((rc = s_load_meta (self))) {
        return rc;
    }
    snprintf (self->bus, sizeof self->bus, "%s", args->bus);
    self->port = shoal_port_new (args->bus, args->name, &args->clock);
    if (!self->port) {
        return SHOAL_ERR_IO;
    }
    /* Recovery: an empty batch with the lease sweep, committed before any
       request is served. Its notifications go to the scheduler if it is
       already up; a scheduler that starts later FILLs anyway. */
    rc = s_run_batch (self, true);
    if (rc == SHOAL_OK) {
        /* A scheduler that outlived us holds stale credits: reset it. */
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_LEASE_DONE,
                                          SHOAL_SCHEDULER_NAME, NULL);
        shoal_wr_map (w, 1);
        shoal_wr_kv_bool (w, "reset", true);
        shoal_port_send (self->port);
        shoal_info ("store: %s open (sync=%s; %llu ready, %llu scheduled, "
                    "%llu dead)",
                    dir, shoal_sync_name (sync),
                    (unsigned long long) self->count[SHOAL_JOB_ENQUEUED],
                    (unsigned long long) self->count[SHOAL_JOB_SCHEDULED],
                    (unsigned long long) self->count[SHOAL_JOB_DEAD]);
    }
    return rc;
}
void
shoal_store_actor (zsock_t *pipe, void *args)
{
    zsock_signal (pipe, 0);
    self_t *self = NULL;
    shoal_err_t rc =
        s_self_new (pipe, (const shoal_actor_args_t *) args, &self);
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
        /* Wake for parked WAITs (deadlines) and for the next timer. */
        long timeout = zlistx_size (self->waiters) ? 100 : -1;
        if (self->next_due_us) {
            uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
            long until = self->next_due_us > now
                             ? (long) ((self->next_due_us - now) / 1000) + 1
                             : 0;
            timeout = timeout < 0 || until < timeout ? until : timeout;
        }
        if (zmq_poll (items, 2, timeout) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            self->terminated = shoal_actor_pipe_term (pipe, "store");
        }
        s_self_handle_port (self); /* messages, or timers that fell due */
        if (zlistx_size (self->waiters)) {
            s_expire_waiters (self);
        }
    }
    /* Drain: intents already waiting are committed and answered. */
    s_self_handle_port (self);
    s_self_destroy (&self);
}
