/*  shoal_store_records.c - the store's job records, indexes, and the
    effects a pass accumulates (notifications, events, credits, replies).
    Everything here runs inside the pass's write transaction. */
#include "shoal_store_int.h"

void
store_move_state (self_t *self, shoal_job_t *job, int state)
{
    if (self->p_count[job->state] > 0) {
        self->p_count[job->state]--;
    }
    self->p_count[state]++;
    job->state = (uint8_t) state;
    if (state != SHOAL_JOB_LEASED) {
        job->running = false; /* only a leased job can be running */
    }
}

shoal_err_t
store_get_job (self_t *self, const shoal_id_t *id, shoal_job_t *job)
{
    const void *v;
    size_t len;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_JOBS, id->b, 16, &v, &len);
    if (rc == SHOAL_OK) {
        rc = shoal_job_decode_own (v, len, &self->lim, job);
        if (rc) {
            char text[SHOAL_ID_TEXT];
            shoal_id_format (id, text);
            shoal_error ("store: job %s record undecodable: %s", text,
                         shoal_strerror (rc));
            rc = SHOAL_ERR_CORRUPT;
        }
    }
    return rc;
}

/*  Writes job. The record is encoded into a scratch writer first because
    job's payload/result may borrow from the very page the put rewrites
    in place; afterwards they are re-pointed into the scratch copy, valid
    until the next store_put_job. */
shoal_err_t
store_put_job_ex (self_t *self, shoal_job_t *job, bool refresh)
{
    shoal_wr_reset (self->rec);
    shoal_job_encode (job, self->rec);
    shoal_err_t rc = shoal_wr_error (self->rec);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_JOBS, job->id.b, 16,
                            shoal_wr_data (self->rec),
                            shoal_wr_size (self->rec));
    }
    if (rc == SHOAL_OK && refresh && (job->payload || job->result)) {
        rc = shoal_job_decode_own (shoal_wr_data (self->rec),
                                   shoal_wr_size (self->rec), &self->lim, job);
    }
    return rc;
}

shoal_err_t
store_put_job (self_t *self, shoal_job_t *job)
{
    return store_put_job_ex (self, job, true);
}

shoal_err_t
store_put_ready (self_t *self, const shoal_job_t *job)
{
    uint8_t key[SHOAL_READY_KEY_MAX];
    size_t klen = shoal_ready_key (job->queue, job->priority, job->seq, key);
    /* The value is the id, then the labels the job requires (if any):
       the scheduler must know them before it leases the job. */
    uint8_t val[16 + SHOAL_REQUIRE_TEXT_MAX];
    size_t rlen = strnlen (job->require, SHOAL_REQUIRE_TEXT_MAX - 1);
    memcpy (val, job->id.b, 16);
    memcpy (val + 16, job->require, rlen);
    shoal_err_t rc =
        shoal_txn_put (self->txn, SHOAL_DBI_READY, key, klen, val, 16 + rlen);
    return rc ? rc : store_depth_add (self, job->queue, job->priority, 1);
}

shoal_err_t
store_del_ready (self_t *self, const shoal_job_t *job)
{
    uint8_t key[SHOAL_READY_KEY_MAX];
    size_t klen = shoal_ready_key (job->queue, job->priority, job->seq, key);
    shoal_err_t rc = shoal_txn_del (self->txn, SHOAL_DBI_READY, key, klen);
    if (rc == SHOAL_OK) {
        return store_depth_add (self, job->queue, job->priority, -1);
    }
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

shoal_err_t
store_put_lease (self_t *self, const shoal_job_t *job)
{
    return shoal_txn_put (self->txn, SHOAL_DBI_LEASES, job->id.b, 16,
                          job->executor, strlen (job->executor));
}

shoal_err_t
store_del_lease (self_t *self, const shoal_id_t *id)
{
    shoal_err_t rc = shoal_txn_del (self->txn, SHOAL_DBI_LEASES, id->b, 16);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

shoal_err_t
store_make_ready (self_t *self, shoal_job_t *job)
{
    /* A fresh sequence number: the ready index is in the order jobs
       became ready, so the scheduler's window over it only moves forward
       (a job that comes back is never behind the window's cursor). */
    job->seq = self->p_next_seq++;
    shoal_err_t rc = store_put_job (self, job);
    if (rc == SHOAL_OK) {
        rc = store_put_ready (self, job);
    }
    if (rc == SHOAL_OK) {
        store_note_ready (self, job);
    }
    return rc;
}

void
store_note_ready (self_t *self, const shoal_job_t *job)
{
    bool req = job->require[0] != '\0';
    shoal_wr_array (self->ready, 4 + req);
    shoal_wr_bin (self->ready, job->id.b, 16);
    shoal_wr_str (self->ready, job->queue);
    shoal_wr_uint (self->ready, job->priority);
    shoal_wr_uint (self->ready, job->seq);
    if (req) {
        shoal_wr_str (self->ready, job->require);
    }
    self->nready++;
}

void
store_note_event (self_t *self, const char *topic, const shoal_job_t *job)
{
    if (!self->events_on) {
        return; /* nobody subscribed: events are best effort */
    }
    /* The last run's error goes with the events that end a run badly:
       job.retry (scheduled again), job.dead, job.cancelled. */
    bool with_error =
        job->error[0] != '\0' &&
        (job->state == SHOAL_JOB_SCHEDULED || job->state == SHOAL_JOB_DEAD ||
         job->state == SHOAL_JOB_CANCELLED);
    shoal_event_head (self->events, self->port, topic, 6 + with_error);
    shoal_wr_kv_bin (self->events, "id", job->id.b, 16);
    shoal_wr_kv_str (self->events, "queue", job->queue);
    shoal_wr_kv_str (self->events, "type", job->type);
    shoal_wr_kv_str (self->events, "priority", shoal_prio_name (job->priority));
    shoal_wr_kv_uint (self->events, "attempt", job->attempt);
    shoal_wr_kv_str (self->events, "state", shoal_job_state_name (job->state));
    if (with_error) {
        shoal_wr_kv_str (self->events, "error", job->error);
    }
    self->nevents++;
}

void
store_note_done (self_t *self, const shoal_id_t *id)
{
    shoal_wr_bin (self->done, id->b, 16);
    self->ndone++;
}

/*  Writes the public view of a job: what STATUS and WAIT return. */
void
store_write_job_view (shoal_wr_t *w, const shoal_job_t *job, bool full)
{
    char id[SHOAL_ID_TEXT];
    shoal_id_format (&job->id, id);
    bool pl = full && job->payload, res = full && job->result;
    uint32_t n = 11 + pl + res + (job->error[0] != '\0') +
                 (job->executor[0] != '\0') + (job->run_at_us != 0) +
                 (job->timeout_ms != 0) + (job->key[0] != '\0') +
                 (job->error_class[0] != '\0') + (job->lease_expires_us != 0) +
                 job->running + 2 * job->has_after + job->in_batch +
                 (job->require[0] != '\0');
    shoal_wr_map (w, n);
    shoal_wr_kv_str (w, "id", id);
    shoal_wr_kv_str (w, "queue", job->queue);
    shoal_wr_kv_str (w, "type", job->type);
    shoal_wr_kv_str (w, "priority", shoal_prio_name (job->priority));
    shoal_wr_kv_str (w, "state", shoal_job_state_name (job->state));
    shoal_wr_kv_uint (w, "attempt", job->attempt);
    shoal_wr_kv_uint (w, "epoch", job->epoch);
    shoal_wr_kv_uint (w, "created_us", job->created_us);
    shoal_wr_kv_uint (w, "updated_us", job->updated_us);
    shoal_wr_kv_uint (w, "started_us", job->started_us);
    shoal_wr_kv_uint (w, "finished_us", job->finished_us);
    if (pl) {
        shoal_wr_kv_raw (w, "payload", job->payload, job->payload_len);
    }
    if (res) {
        shoal_wr_kv_raw (w, "result", job->result, job->result_len);
    }
    if (job->run_at_us) {
        shoal_wr_kv_uint (w, "run_at_us", job->run_at_us);
    }
    if (job->lease_expires_us) {
        shoal_wr_kv_uint (w, "lease_expires_us", job->lease_expires_us);
    }
    if (job->timeout_ms) {
        shoal_wr_kv_uint (w, "timeout_ms", job->timeout_ms);
    }
    if (job->key[0]) {
        shoal_wr_kv_str (w, "key", job->key);
    }
    if (job->error_class[0]) {
        shoal_wr_kv_str (w, "error_class", job->error_class);
    }
    if (job->running) {
        shoal_wr_kv_bool (w, "running", true);
    }
    if (job->error[0]) {
        shoal_wr_kv_str (w, "error", job->error);
    }
    if (job->executor[0]) {
        shoal_wr_kv_str (w, "executor", job->executor);
    }
    if (job->has_after) {
        shoal_id_format (&job->after, id);
        shoal_wr_kv_str (w, "after", id);
        shoal_wr_kv_str (w, "after_mode",
                         shoal_after_mode_name (job->after_mode));
    }
    if (job->require[0]) {
        shoal_wr_str (w, "require");
        shoal_labels_write (w, job->require);
    }
    if (job->in_batch) {
        shoal_id_format (&job->batch, id);
        shoal_wr_kv_str (w, "batch", id);
    }
}

shoal_err_t
store_reply_code (self_t *self, const char *to, const shoal_id_t *corr,
                  shoal_err_t code, const char *text)
{
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY, to, corr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", (uint64_t) code);
    shoal_wr_kv_str (w, "text", text);
    return shoal_port_defer (self->port);
}

shoal_err_t
store_reply_job (self_t *self, const char *to, const shoal_id_t *corr,
                 const shoal_job_t *job)
{
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY, to, corr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, "job");
    store_write_job_view (w, job, true);
    shoal_err_t rc = shoal_port_defer (self->port);
    if (rc == SHOAL_ERR_TOO_LARGE) {
        /* Payload and result together exceed one frame: say so, and let
           the rest of the batch commit. */
        rc = store_reply_code (self, to, corr, SHOAL_ERR_TOO_LARGE,
                               "job record too large for one reply");
    }
    return rc;
}

/*  Wakes the waiters parked on a job that just became final. */
static shoal_err_t
s_wake_list (self_t *self, zlistx_t *list, const shoal_job_t *job)
{
    for (s_waiter_t *w = zlistx_first (list); w; w = zlistx_next (list)) {
        if (memcmp (&w->job, &job->id, sizeof job->id) == 0) {
            shoal_err_t rc = store_reply_job (self, w->to, &w->corr, job);
            if (rc) {
                return rc;
            }
        }
    }
    return SHOAL_OK;
}

shoal_err_t
store_wake_waiters (self_t *self, const shoal_job_t *job)
{
    shoal_err_t rc = s_wake_list (self, self->waiters, job);
    if (rc == SHOAL_OK) {
        rc = s_wake_list (self, self->new_waiters, job);
    }
    if (rc) {
        return rc;
    }
    shoal_id_t *done = malloc (sizeof *done);
    if (!done) {
        return SHOAL_ERR_NOMEM;
    }
    *done = job->id;
    zlistx_add_end (self->done_jobs, done);
    return SHOAL_OK;
}

/*  ---------------------------------------------------------------------
    Time indexes: delayed jobs, lease expiry, the dead-letter queue */

static shoal_err_t
s_put_time (self_t *self, shoal_dbi_t dbi, uint64_t t, const shoal_id_t *id,
            const char *val)
{
    uint8_t key[SHOAL_TIME_KEY];
    shoal_time_key (t, id->b, key);
    return shoal_txn_put (self->txn, dbi, key, sizeof key, val,
                          val ? strlen (val) : 0);
}

static shoal_err_t
s_del_time (self_t *self, shoal_dbi_t dbi, uint64_t t, const shoal_id_t *id)
{
    uint8_t key[SHOAL_TIME_KEY];
    shoal_time_key (t, id->b, key);
    shoal_err_t rc = shoal_txn_del (self->txn, dbi, key, sizeof key);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

shoal_err_t
store_put_delayed (self_t *self, const shoal_job_t *job)
{
    return s_put_time (self, SHOAL_DBI_DELAYED, job->run_at_us, &job->id, NULL);
}

shoal_err_t
store_del_delayed (self_t *self, const shoal_job_t *job)
{
    return s_del_time (self, SHOAL_DBI_DELAYED, job->run_at_us, &job->id);
}

shoal_err_t
store_put_expiry (self_t *self, const shoal_job_t *job)
{
    return s_put_time (self, SHOAL_DBI_EXPIRY, job->lease_expires_us, &job->id,
                       job->executor);
}

shoal_err_t
store_del_expiry (self_t *self, const shoal_job_t *job)
{
    return s_del_time (self, SHOAL_DBI_EXPIRY, job->lease_expires_us, &job->id);
}

shoal_err_t
store_put_dead (self_t *self, const shoal_job_t *job)
{
    return s_put_time (self, SHOAL_DBI_DEAD, job->finished_us, &job->id, NULL);
}

shoal_err_t
store_del_dead (self_t *self, const shoal_job_t *job)
{
    return s_del_time (self, SHOAL_DBI_DEAD, job->finished_us, &job->id);
}

shoal_err_t
store_idem_get (self_t *self, const char *key, shoal_id_t *id)
{
    const void *v;
    size_t len;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_IDEM, key, strlen (key), &v, &len);
    if (rc == SHOAL_OK) {
        if (len != 16) {
            return SHOAL_ERR_CORRUPT;
        }
        memcpy (id->b, v, 16);
    }
    return rc;
}

shoal_err_t
store_idem_put (self_t *self, const char *key, const shoal_id_t *id)
{
    return shoal_txn_put (self->txn, SHOAL_DBI_IDEM, key, strlen (key), id->b,
                          16);
}

/*  The first time in a time index, or 0 if it is empty. */
static shoal_err_t
s_first_time (self_t *self, shoal_dbi_t dbi, uint64_t *t)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, dbi, &cur);
    if (rc) {
        return rc;
    }
    shoal_kv_t kv;
    rc = shoal_cursor_seek (cur, NULL, 0, &kv);
    *t = 0;
    if (rc == SHOAL_OK && kv.key_len == SHOAL_TIME_KEY) {
        *t = shoal_time_key_time (kv.key);
    }
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

shoal_err_t
store_next_due (self_t *self, uint64_t *due_us)
{
    static const shoal_dbi_t dbis[] = {SHOAL_DBI_DELAYED, SHOAL_DBI_EXPIRY,
                                       SHOAL_DBI_SCHED_DUE, SHOAL_DBI_RUN_DUE};
    *due_us = 0;
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        uint64_t t;
        shoal_err_t rc = s_first_time (self, dbis[i], &t);
        if (rc) {
            return rc;
        }
        if (t && (!*due_us || t < *due_us)) {
            *due_us = t;
        }
    }
    shoal_dbi_t kept[] = {SHOAL_DBI_FINISHED, SHOAL_DBI_RUN_FIN};
    for (size_t i = 0; self->retention_us && i < 2; i++) {
        uint64_t t;
        shoal_err_t rc = s_first_time (self, kept[i], &t);
        if (rc) {
            return rc;
        }
        t = t ? t + self->retention_us : 0;
        if (t && (!*due_us || t < *due_us)) {
            *due_us = t;
        }
    }
    return SHOAL_OK;
}

shoal_err_t
store_park_waiter (self_t *self, const shoal_in_t *in, const shoal_id_t *id)
{
    s_waiter_t *w = calloc (1, sizeof *w);
    if (!w) {
        return SHOAL_ERR_NOMEM;
    }
    w->job = *id;
    w->corr = in->hdr.id;
    snprintf (w->to, sizeof w->to, "%s", in->hdr.from);
    w->deadline_us = in->hdr.deadline_us;
    zlistx_add_end (self->new_waiters, w);
    return SHOAL_OK;
}

shoal_err_t
store_reply_items (self_t *self, const shoal_in_t *in, const char *key,
                   const shoal_wr_t *items, uint32_t n)
{
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, key);
    shoal_wr_array (w, n);
    shoal_wr_raw (w, shoal_wr_data (items), shoal_wr_size (items));
    return shoal_port_defer (self->port);
}
