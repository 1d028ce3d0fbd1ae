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
#include "shoal_store.h"
#include "shoal_scheduler.h"

#include "shoal_actor.h"
#include "shoal_db.h"
#include "shoal_event.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"

#include <string.h>

#define S_FILL_CHUNK 4096

/*  A WAIT query parked until its job is final. */
typedef struct {
    shoal_id_t job;
    shoal_id_t corr;
    char to[SHOAL_NAME_MAX + 1];
    uint64_t deadline_us;
} s_waiter_t;

/*  Credits to hand back to the scheduler, per node. */
typedef struct {
    char node[SHOAL_NAME_MAX + 1];
    uint32_t count;
} s_credit_t;

#define S_CREDITS_MAX 512

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    shoal_db_t *db;
    shoal_txn_t *txn; /* open only during an apply pass */
    shoal_wr_t *rec;  /* job record scratch */
    shoal_limits_t lim;
    bool verbose;
    bool terminated;
    size_t batch_max;
    shoal_in_t *batch;
    size_t nbatch;

    /* durable counters, committed with each batch */
    uint64_t next_seq;
    uint64_t count[SHOAL_JOB__COUNT];
    /* their values during an apply pass */
    uint64_t p_next_seq;
    uint64_t p_count[SHOAL_JOB__COUNT];

    /* accumulators of one apply pass */
    shoal_wr_t *ready; /* JOBS_READY items */
    uint32_t nready;
    shoal_wr_t *events; /* EVENT items */
    uint32_t nevents;
    s_credit_t credits[S_CREDITS_MAX];
    size_t ncredits;
    zlistx_t *new_waiters; /* s_waiter_t *, added after commit */
    zlistx_t *done_jobs;   /* shoal_id_t *, final this pass */

    zlistx_t *waiters; /* s_waiter_t *, parked */
    uint64_t stale_results;
    uint64_t commits;
} self_t;

static void
s_free_ptr (void **item)
{
    free (*item);
    *item = NULL;
}

static zlistx_t *
s_list_new (void)
{
    zlistx_t *l = zlistx_new ();
    if (l) {
        zlistx_set_destructor (l, s_free_ptr);
    }
    return l;
}

/*  ---------------------------------------------------------------------
    Counters and sequence in META */

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
    if (rc == SHOAL_OK && len == sizeof self->count) {
        memcpy (self->count, v, len);
    } else if (rc != SHOAL_ERR_NOT_FOUND && rc != SHOAL_OK) {
        goto done;
    }
    rc = SHOAL_OK;
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
s_move_state (self_t *self, shoal_job_t *job, int state)
{
    if (self->p_count[job->state] > 0) {
        self->p_count[job->state]--;
    }
    self->p_count[state]++;
    job->state = (uint8_t) state;
}

/*  ---------------------------------------------------------------------
    Records */

static shoal_err_t
s_get_job (self_t *self, const shoal_id_t *id, shoal_job_t *job)
{
    const void *v;
    size_t len;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_JOBS, id->b, 16, &v, &len);
    if (rc == SHOAL_OK) {
        rc = shoal_job_decode (v, len, &self->lim, job);
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
    until the next s_put_job. */
static shoal_err_t
s_put_job_ex (self_t *self, shoal_job_t *job, bool refresh)
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
        rc = shoal_job_decode (shoal_wr_data (self->rec),
                               shoal_wr_size (self->rec), &self->lim, job);
    }
    return rc;
}

static shoal_err_t
s_put_job (self_t *self, shoal_job_t *job)
{
    return s_put_job_ex (self, job, true);
}

static shoal_err_t
s_put_ready (self_t *self, const shoal_job_t *job)
{
    uint8_t key[SHOAL_READY_KEY_MAX];
    size_t klen = shoal_ready_key (job->queue, job->priority, job->seq, key);
    return shoal_txn_put (self->txn, SHOAL_DBI_READY, key, klen, job->id.b, 16);
}

static shoal_err_t
s_del_ready (self_t *self, const shoal_job_t *job)
{
    uint8_t key[SHOAL_READY_KEY_MAX];
    size_t klen = shoal_ready_key (job->queue, job->priority, job->seq, key);
    shoal_err_t rc = shoal_txn_del (self->txn, SHOAL_DBI_READY, key, klen);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

static shoal_err_t
s_put_lease (self_t *self, const shoal_job_t *job)
{
    return shoal_txn_put (self->txn, SHOAL_DBI_LEASES, job->id.b, 16,
                          job->executor, strlen (job->executor));
}

static shoal_err_t
s_del_lease (self_t *self, const shoal_id_t *id)
{
    shoal_err_t rc = shoal_txn_del (self->txn, SHOAL_DBI_LEASES, id->b, 16);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  ---------------------------------------------------------------------
    Accumulated effects */

static void
s_note_ready (self_t *self, const shoal_job_t *job)
{
    shoal_wr_array (self->ready, 4);
    shoal_wr_bin (self->ready, job->id.b, 16);
    shoal_wr_str (self->ready, job->queue);
    shoal_wr_uint (self->ready, job->priority);
    shoal_wr_uint (self->ready, job->seq);
    self->nready++;
}

static void
s_note_event (self_t *self, const char *topic, const shoal_job_t *job)
{
    bool with_error = job->error[0] != '\0' && (job->state == SHOAL_JOB_FAILED);
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

static void
s_note_credit (self_t *self, const char *node)
{
    for (size_t i = 0; i < self->ncredits; i++) {
        if (streq (self->credits[i].node, node)) {
            self->credits[i].count++;
            return;
        }
    }
    if (self->ncredits < S_CREDITS_MAX) {
        s_credit_t *c = &self->credits[self->ncredits++];
        snprintf (c->node, sizeof c->node, "%s", node);
        c->count = 1;
    }
}

/*  Writes the public view of a job: what STATUS and WAIT return. */
static void
s_write_job_view (shoal_wr_t *w, const shoal_job_t *job)
{
    char id[SHOAL_ID_TEXT];
    shoal_id_format (&job->id, id);
    uint32_t n = 11 + (job->payload != NULL) + (job->result != NULL) +
                 (job->error[0] != '\0') + (job->executor[0] != '\0');
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
    if (job->payload) {
        shoal_wr_kv_raw (w, "payload", job->payload, job->payload_len);
    }
    if (job->result) {
        shoal_wr_kv_raw (w, "result", job->result, job->result_len);
    }
    if (job->error[0]) {
        shoal_wr_kv_str (w, "error", job->error);
    }
    if (job->executor[0]) {
        shoal_wr_kv_str (w, "executor", job->executor);
    }
}

static shoal_err_t s_reply_code (self_t *self, const char *to,
                                 const shoal_id_t *corr, shoal_err_t code,
                                 const char *text);

static shoal_err_t
s_reply_job (self_t *self, const char *to, const shoal_id_t *corr,
             const shoal_job_t *job)
{
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY, to, corr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, "job");
    s_write_job_view (w, job);
    shoal_err_t rc = shoal_port_defer (self->port);
    if (rc == SHOAL_ERR_TOO_LARGE) {
        /* Payload and result together exceed one frame: say so, and let
           the rest of the batch commit. */
        rc = s_reply_code (self, to, corr, SHOAL_ERR_TOO_LARGE,
                           "job record too large for one reply");
    }
    return rc;
}

static shoal_err_t
s_reply_code (self_t *self, const char *to, const shoal_id_t *corr,
              shoal_err_t code, const char *text)
{
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY, to, corr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", (uint64_t) code);
    shoal_wr_kv_str (w, "text", text);
    return shoal_port_defer (self->port);
}

/*  ---------------------------------------------------------------------
    Intents. Each returns SHOAL_OK, or an error that fails the whole batch
    (storage trouble); per-item problems are answered, not returned. */

static shoal_err_t
s_apply_submit (self_t *self, shoal_in_t *in)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "items", &rd, &n)) {
        return shoal_port_defer_error (self->port, &in->hdr,
                                       SHOAL_ERR_MALFORMED,
                                       "STORE_SUBMIT needs items");
    }
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_STORE_ACKS,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, n);
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, self->lim.depth_max)) {
            return SHOAL_ERR_MALFORMED; /* validated on receipt: unreachable */
        }
        size_t item_len = (size_t) (rd.p - item);
        shoal_job_t job;
        memset (&job, 0, sizeof job);
        const uint8_t *idp;
        uint32_t idlen;
        uint64_t prio = SHOAL_PRIO_NORMAL;
        shoal_err_t code = SHOAL_OK;
        if (shoal_map_bin (item, item_len, "id", &idp, &idlen) || idlen != 16 ||
            shoal_map_strcpy (item, item_len, "q", job.queue,
                              sizeof job.queue) ||
            shoal_map_strcpy (item, item_len, "t", job.type, sizeof job.type) ||
            (shoal_map_uint (item, item_len, "p", &prio) == SHOAL_OK &&
             prio >= SHOAL_PRIO__COUNT)) {
            code = SHOAL_ERR_INVALID;
        }
        if (code == SHOAL_OK) {
            memcpy (job.id.b, idp, 16);
            const void *old;
            size_t old_len;
            shoal_err_t e = shoal_txn_get (self->txn, SHOAL_DBI_JOBS, job.id.b,
                                           16, &old, &old_len);
            if (e == SHOAL_OK) {
                code = SHOAL_ERR_STATE; /* id already used */
            } else if (e != SHOAL_ERR_NOT_FOUND) {
                return e;
            }
        }
        if (code == SHOAL_OK) {
            shoal_mp_val_t pv;
            shoal_map_find (item, item_len, "pl", &pv, &job.payload,
                            &job.payload_len);
            job.priority = (uint8_t) prio;
            job.state = SHOAL_JOB_ENQUEUED;
            self->p_count[SHOAL_JOB_ENQUEUED]++;
            job.seq = self->p_next_seq++;
            job.created_us = job.updated_us = now;
            /* the payload borrows from the request, not the map: no
               refresh needed */
            shoal_err_t e = s_put_job_ex (self, &job, false);
            if (e == SHOAL_OK) {
                e = s_put_ready (self, &job);
            }
            if (e) {
                return e;
            }
            s_note_ready (self, &job);
            s_note_event (self, "job.enqueued", &job);
        }
        shoal_wr_map (w, 2);
        shoal_wr_kv_uint (w, "code", (uint64_t) code);
        shoal_wr_kv_uint (w, "seq", code ? 0 : job.seq);
    }
    return shoal_port_defer (self->port);
}

static shoal_err_t
s_apply_lease (self_t *self, shoal_in_t *in)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "items", &rd, &n)) {
        return SHOAL_OK; /* internal sender bug: logged by nobody else */
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t two, idlen, nlen;
        const uint8_t *idp;
        const char *node;
        if (shoal_rd_array (&rd, &two) || two != 2 ||
            shoal_rd_bin (&rd, &idp, &idlen) || idlen != 16 ||
            shoal_rd_str (&rd, &node, &nlen) || nlen > SHOAL_NAME_MAX) {
            shoal_warn ("store: malformed LEASE item from %s", in->hdr.from);
            return SHOAL_OK;
        }
        char nodename[SHOAL_NAME_MAX + 1];
        memcpy (nodename, node, nlen);
        nodename[nlen] = '\0';
        shoal_id_t id;
        memcpy (id.b, idp, 16);
        shoal_job_t job;
        shoal_err_t rc = s_get_job (self, &id, &job);
        if (rc == SHOAL_ERR_NOT_FOUND ||
            (rc == SHOAL_OK && job.state != SHOAL_JOB_ENQUEUED)) {
            s_note_credit (self, nodename); /* taken already: refuse */
            continue;
        }
        if (rc) {
            return rc;
        }
        if ((rc = s_del_ready (self, &job))) {
            return rc;
        }
        s_move_state (self, &job, SHOAL_JOB_LEASED);
        job.attempt++;
        job.epoch++;
        job.started_us = job.updated_us = now;
        snprintf (job.executor, sizeof job.executor, "%s", nodename);
        if ((rc = s_put_job (self, &job)) || (rc = s_put_lease (self, &job))) {
            return rc;
        }
        shoal_wr_t *w =
            shoal_port_begin (self->port, SHOAL_M_RUN, nodename, NULL);
        shoal_wr_map (w, 6 + (job.payload != NULL));
        shoal_wr_kv_bin (w, "id", job.id.b, 16);
        shoal_wr_kv_str (w, "t", job.type);
        shoal_wr_kv_str (w, "q", job.queue);
        shoal_wr_kv_uint (w, "a", job.attempt);
        shoal_wr_kv_uint (w, "e", job.epoch);
        shoal_wr_kv_uint (w, "p", job.priority);
        if (job.payload) {
            shoal_wr_kv_raw (w, "pl", job.payload, job.payload_len);
        }
        if ((rc = shoal_port_defer (self->port))) {
            return rc;
        }
        s_note_event (self, "job.leased", &job);
    }
    return SHOAL_OK;
}

/*  Wakes the waiters parked on a job that just became final. */
static shoal_err_t
s_wake_list (self_t *self, zlistx_t *list, const shoal_job_t *job)
{
    for (s_waiter_t *w = zlistx_first (list); w; w = zlistx_next (list)) {
        if (memcmp (&w->job, &job->id, sizeof job->id) == 0) {
            shoal_err_t rc = s_reply_job (self, w->to, &w->corr, job);
            if (rc) {
                return rc;
            }
        }
    }
    return SHOAL_OK;
}

static shoal_err_t
s_wake_waiters (self_t *self, const shoal_job_t *job)
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

/*  One result: item is a validated map {id, e, ok, r?, er?}. */
static shoal_err_t
s_apply_result (self_t *self, const char *from, const uint8_t *item,
                size_t item_len)
{
    const uint8_t *idp;
    uint32_t idlen;
    uint64_t epoch;
    bool ok;
    if (shoal_map_bin (item, item_len, "id", &idp, &idlen) || idlen != 16 ||
        shoal_map_uint (item, item_len, "e", &epoch) ||
        shoal_map_bool (item, item_len, "ok", &ok)) {
        shoal_warn ("store: malformed RESULT from %s", from);
        return SHOAL_OK;
    }
    shoal_id_t id;
    memcpy (id.b, idp, 16);
    shoal_job_t job;
    shoal_err_t rc = s_get_job (self, &id, &job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return SHOAL_OK;
    }
    if (rc) {
        return rc;
    }
    if (job.state != SHOAL_JOB_LEASED || job.epoch != epoch ||
        !streq (job.executor, from)) {
        /* Fencing: a late result from a lease that was taken back. */
        self->stale_results++;
        char text[SHOAL_ID_TEXT];
        shoal_id_format (&id, text);
        shoal_warn ("store: stale result for job %s from %s (epoch %llu, "
                    "current %llu)",
                    text, from, (unsigned long long) epoch,
                    (unsigned long long) job.epoch);
        return SHOAL_OK;
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    shoal_mp_val_t v;
    job.result = NULL;
    if (shoal_map_find (item, item_len, "r", &v, &job.result,
                        &job.result_len)) {
        job.result = NULL;
    }
    job.error[0] = '\0';
    if (!ok) {
        const char *er;
        uint32_t erlen;
        if (shoal_map_str (item, item_len, "er", &er, &erlen) == SHOAL_OK) {
            size_t n =
                erlen < sizeof job.error - 1 ? erlen : sizeof job.error - 1;
            memcpy (job.error, er, n);
            job.error[n] = '\0';
        } else {
            snprintf (job.error, sizeof job.error, "failed");
        }
    }
    s_move_state (self, &job, ok ? SHOAL_JOB_SUCCEEDED : SHOAL_JOB_FAILED);
    job.finished_us = job.updated_us = now;
    if ((rc = s_put_job (self, &job)) || (rc = s_del_lease (self, &id))) {
        return rc;
    }
    s_note_credit (self, job.executor);
    s_note_event (self, ok ? "job.succeeded" : "job.failed", &job);
    return s_wake_waiters (self, &job);
}

static shoal_err_t
s_apply_results (self_t *self, shoal_in_t *in)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "items", &rd, &n)) {
        shoal_warn ("store: malformed RESULT from %s", in->hdr.from);
        return SHOAL_OK;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, self->lim.depth_max)) {
            return SHOAL_OK;
        }
        shoal_err_t rc =
            s_apply_result (self, in->hdr.from, item, (size_t) (rd.p - item));
        if (rc) {
            return rc;
        }
    }
    return SHOAL_OK;
}

/*  Puts one leased job back in its queue (crash recovery, node restart). */
static shoal_err_t
s_requeue (self_t *self, const shoal_id_t *id)
{
    shoal_job_t job;
    shoal_err_t rc = s_get_job (self, id, &job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return s_del_lease (self, id);
    }
    if (rc) {
        return rc;
    }
    if (job.state == SHOAL_JOB_LEASED) {
        s_move_state (self, &job, SHOAL_JOB_ENQUEUED);
        job.updated_us = shoal_clock_now_us (shoal_port_clock (self->port));
        job.executor[0] = '\0';
        if ((rc = s_put_job (self, &job)) || (rc = s_put_ready (self, &job))) {
            return rc;
        }
        s_note_ready (self, &job);
        s_note_event (self, "job.requeued", &job);
    }
    return s_del_lease (self, id);
}

/*  Requeues every lease held by node (all of them when node is NULL). */
static shoal_err_t
s_requeue_leases (self_t *self, const char *node, uint64_t *count)
{
    zlistx_t *ids = s_list_new ();
    if (!ids) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_LEASES, &cur);
    if (rc == SHOAL_OK) {
        shoal_kv_t kv;
        for (rc = shoal_cursor_seek (cur, NULL, 0, &kv); rc == SHOAL_OK;
             rc = shoal_cursor_next (cur, &kv)) {
            bool mine = !node || (kv.val_len == strlen (node) &&
                                  memcmp (kv.val, node, kv.val_len) == 0);
            if (mine && kv.key_len == 16) {
                shoal_id_t *id = malloc (sizeof *id);
                if (!id) {
                    rc = SHOAL_ERR_NOMEM;
                    break;
                }
                memcpy (id->b, kv.key, 16);
                zlistx_add_end (ids, id);
            }
        }
        shoal_cursor_close (&cur);
        if (rc == SHOAL_ERR_NOT_FOUND) {
            rc = SHOAL_OK;
        }
    }
    for (shoal_id_t *id = zlistx_first (ids); id && rc == SHOAL_OK;
         id = zlistx_next (ids)) {
        rc = s_requeue (self, id);
    }
    *count = zlistx_size (ids);
    zlistx_destroy (&ids);
    return rc;
}

static shoal_err_t
s_apply_node_boot (self_t *self, shoal_in_t *in)
{
    uint64_t n = 0;
    shoal_err_t rc = s_requeue_leases (self, in->hdr.from, &n);
    if (rc) {
        return rc;
    }
    if (n > 0) {
        shoal_info ("store: %s restarted; requeued %llu job(s)", in->hdr.from,
                    (unsigned long long) n);
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_OK, in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_uint (w, "requeued", n);
    return shoal_port_defer (self->port);
}

/*  FILL: every ready job, in index order, in chunks. */
static shoal_err_t
s_apply_fill (self_t *self, shoal_in_t *in)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_READY, &cur);
    if (rc) {
        return rc;
    }
    shoal_wr_t *chunk = shoal_wr_new ();
    if (!chunk) {
        shoal_cursor_close (&cur);
        return SHOAL_ERR_NOMEM;
    }
    uint32_t n = 0;
    shoal_kv_t kv;
    bool more = true;
    rc = shoal_cursor_seek (cur, NULL, 0, &kv);
    while (more) {
        if (rc == SHOAL_OK) {
            char queue[SHOAL_NAME_MAX + 1];
            uint8_t prio;
            uint64_t seq;
            if (kv.val_len == 16 &&
                shoal_ready_key_parse (kv.key, kv.key_len, queue, &prio,
                                       &seq) == SHOAL_OK) {
                shoal_wr_array (chunk, 4);
                shoal_wr_bin (chunk, kv.val, 16);
                shoal_wr_str (chunk, queue);
                shoal_wr_uint (chunk, prio);
                shoal_wr_uint (chunk, seq);
                n++;
            }
            rc = shoal_cursor_next (cur, &kv);
        }
        more = rc == SHOAL_OK;
        if (n == S_FILL_CHUNK || !more) {
            shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_JOBS_READY,
                                              in->hdr.from, &in->hdr.id);
            shoal_wr_map (w, 2);
            shoal_wr_kv_bool (w, "done", !more);
            shoal_wr_str (w, "jobs");
            shoal_wr_array (w, n);
            shoal_wr_raw (w, shoal_wr_data (chunk), shoal_wr_size (chunk));
            shoal_err_t e = shoal_port_defer (self->port);
            if (e) {
                rc = e;
                break;
            }
            shoal_wr_reset (chunk);
            n = 0;
        }
    }
    shoal_wr_destroy (&chunk);
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

static shoal_err_t
s_apply_query (self_t *self, shoal_in_t *in)
{
    char op[16];
    if (shoal_map_strcpy (in->body, in->body_len, "op", op, sizeof op)) {
        return s_reply_code (self, in->hdr.from, &in->hdr.id, SHOAL_ERR_INVALID,
                             "query needs op");
    }
    if (streq (op, "stats")) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                          in->hdr.from, &in->hdr.id);
        shoal_wr_map (w, 5);
        shoal_wr_kv_uint (w, "code", SHOAL_OK);
        shoal_wr_str (w, "jobs");
        shoal_wr_map (w, SHOAL_JOB__COUNT);
        for (int s = 0; s < SHOAL_JOB__COUNT; s++) {
            shoal_wr_kv_uint (w, shoal_job_state_name (s), self->p_count[s]);
        }
        shoal_wr_kv_uint (w, "stale_results", self->stale_results);
        shoal_wr_kv_uint (w, "commits", self->commits);
        shoal_wr_kv_uint (w, "map_size", shoal_db_map_size (self->db));
        return shoal_port_defer (self->port);
    }
    const uint8_t *idp;
    uint32_t idlen;
    if (!streq (op, "status") && !streq (op, "wait")) {
        return s_reply_code (self, in->hdr.from, &in->hdr.id, SHOAL_ERR_INVALID,
                             "unknown query op");
    }
    if (shoal_map_bin (in->body, in->body_len, "id", &idp, &idlen) ||
        idlen != 16) {
        return s_reply_code (self, in->hdr.from, &in->hdr.id, SHOAL_ERR_INVALID,
                             "query needs a job id");
    }
    shoal_id_t id;
    memcpy (id.b, idp, 16);
    shoal_job_t job;
    shoal_err_t rc = s_get_job (self, &id, &job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return s_reply_code (self, in->hdr.from, &in->hdr.id,
                             SHOAL_ERR_NOT_FOUND, "no such job");
    }
    if (rc) {
        return s_reply_code (self, in->hdr.from, &in->hdr.id, rc,
                             shoal_strerror (rc));
    }
    if (streq (op, "status") || shoal_job_state_final (job.state)) {
        return s_reply_job (self, in->hdr.from, &in->hdr.id, &job);
    }
    s_waiter_t *w = calloc (1, sizeof *w);
    if (!w) {
        return SHOAL_ERR_NOMEM;
    }
    w->job = id;
    w->corr = in->hdr.id;
    snprintf (w->to, sizeof w->to, "%s", in->hdr.from);
    w->deadline_us = in->hdr.deadline_us;
    zlistx_add_end (self->new_waiters, w);
    return SHOAL_OK;
}

static shoal_err_t
s_apply (self_t *self, shoal_in_t *in)
{
    switch (in->hdr.type) {
        case SHOAL_M_STORE_SUBMIT:
            return s_apply_submit (self, in);
        case SHOAL_M_LEASE:
            return s_apply_lease (self, in);
        case SHOAL_M_RESULT:
            return s_apply_results (self, in);
        case SHOAL_M_FILL:
            return s_apply_fill (self, in);
        case SHOAL_M_QUERY:
            return s_apply_query (self, in);
        case SHOAL_M_NODE_BOOT:
            return s_apply_node_boot (self, in);
        case SHOAL_M_PING: {
            shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_OK,
                                              in->hdr.from, &in->hdr.id);
            shoal_wr_map (w, 0);
            return shoal_port_defer (self->port);
        }
        case SHOAL_M_ERROR:
            return SHOAL_OK; /* e.g. a RUN to a node that is gone */
        default:
            return shoal_port_error (
                self->port, &in->hdr, SHOAL_ERR_UNKNOWN_TYPE,
                "store does not handle %s", shoal_mtype_name (in->hdr.type));
    }
}

/*  ---------------------------------------------------------------------
    The batch */

static void
s_pass_reset (self_t *self)
{
    shoal_port_discard (self->port);
    shoal_wr_reset (self->ready);
    shoal_wr_reset (self->events);
    self->nready = self->nevents = 0;
    self->ncredits = 0;
    zlistx_purge (self->new_waiters);
    zlistx_purge (self->done_jobs);
    self->p_next_seq = self->next_seq;
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
        rc = s_requeue_leases (self, NULL, &n);
        if (rc == SHOAL_OK && n > 0) {
            shoal_info ("store: recovery requeued %llu leased job(s)",
                        (unsigned long long) n);
        }
    }
    for (size_t i = 0; i < self->nbatch && rc == SHOAL_OK; i++) {
        rc = s_apply (self, &self->batch[i]);
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
    memcpy (self->count, self->p_count, sizeof self->count);
    shoal_port_flush (self->port);
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
    if (self->ncredits > 0) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_LEASE_DONE,
                                          SHOAL_SCHEDULER_NAME, NULL);
        shoal_wr_map (w, 1);
        shoal_wr_str (w, "nodes");
        shoal_wr_array (w, (uint32_t) self->ncredits);
        for (size_t i = 0; i < self->ncredits; i++) {
            shoal_wr_array (w, 2);
            shoal_wr_str (w, self->credits[i].node);
            shoal_wr_uint (w, self->credits[i].count);
        }
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
            s_reply_code (self, w->to, &w->corr, SHOAL_ERR_TIMEOUT,
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
    if (self->nbatch > 0) {
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
    shoal_db_destroy (&self->db);
    shoal_port_destroy (&self->port);
    shoal_wr_destroy (&self->rec);
    shoal_wr_destroy (&self->ready);
    shoal_wr_destroy (&self->events);
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
    self->lim = shoal_limits_bus ();
    int64_t batch_max, map_size;
    shoal_sync_t sync;
    shoal_err_t rc;
    if ((rc = shoal_config_int (args->config, "store/batch_max", 1, 65536,
                                &batch_max)) ||
        (rc = shoal_config_int (args->config, "store/map_size", 1 << 20,
                                (int64_t) 1 << 40, &map_size)) ||
        (rc = shoal_sync_parse (shoal_config_get (args->config, "store/sync"),
                                &sync))) {
        return SHOAL_ERR_CONFIG;
    }
    self->batch_max = (size_t) batch_max;
    self->batch = calloc (self->batch_max, sizeof *self->batch);
    self->rec = shoal_wr_new ();
    self->ready = shoal_wr_new ();
    self->events = shoal_wr_new ();
    self->waiters = s_list_new ();
    self->new_waiters = s_list_new ();
    self->done_jobs = s_list_new ();
    if (!self->batch || !self->rec || !self->ready || !self->events ||
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
        shoal_info ("store: %s open (sync=%s, %llu queued, %llu leased before "
                    "recovery)",
                    dir, shoal_sync_name (sync),
                    (unsigned long long) self->count[SHOAL_JOB_ENQUEUED],
                    (unsigned long long) self->count[SHOAL_JOB_LEASED]);
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
        long timeout = zlistx_size (self->waiters) ? 100 : -1;
        if (zmq_poll (items, 2, timeout) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            self->terminated = shoal_actor_pipe_term (pipe, "store");
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_self_handle_port (self);
        }
        if (zlistx_size (self->waiters)) {
            s_expire_waiters (self);
        }
    }
    /* Drain: intents already waiting are committed and answered. */
    s_self_handle_port (self);
    s_self_destroy (&self);
}
