/*  shoal_store_deps.c - continuations and batches.

    A continuation is a job submitted with `after` (a job or a batch id)
    and a mode. While its parent has not ended it is `waiting`, with one
    entry parent||child in the `waits` index. In the transaction that ends
    the parent, each waiting child runs (mode any, or the parent
    succeeded: it joins its queue, or the delayed index if its run_at is
    still ahead) or is cancelled ("dependency X did not succeed"), and a
    cancelled child ends its own continuations the same way.

    A batch is a record in `batches` (total, succeeded, failed, state)
    plus one entry per member in `batch_jobs` (batch||job -> outcome
    byte), committed with all its jobs in one transaction or not at all.
    Each member's first end is counted once (the outcome byte says it was
    counted, so a member run again from the DLQ is not counted twice).
    The batch succeeds when every member has succeeded and fails at the
    first member that ends dead or cancelled; then the members that have
    not started (waiting, scheduled, enqueued) are cancelled, and running
    ones finish but cannot change the outcome. A batch that ended
    releases its own continuations like a job.

    The cascade runs on a work list, not by recursion, so a chain of many
    continuations costs no stack.

    Deliberately not here: continuations of several parents (fan-in),
    `after` on a job inside a batch, retention of batch records.
*/
#include "shoal_store_int.h"

typedef enum {
    S_BATCH_RUNNING = 0,
    S_BATCH_SUCCEEDED = 1,
    S_BATCH_FAILED = 2
} s_batch_state_t;

typedef enum {
    S_MEMBER_PENDING = 0,
    S_MEMBER_OK = 1,
    S_MEMBER_FAILED = 2
} s_member_t;

/*  Batch idempotency keys live in the `idem` table under a prefix no job
    key can have (job keys are non-empty strings without a leading NUL). */
#define S_BATCH_KEY_PREFIX     "\0batch:"
#define S_BATCH_KEY_PREFIX_LEN 7

typedef struct {
    shoal_id_t id;
    uint64_t total;
    uint64_t succeeded;
    uint64_t failed;
    uint8_t state;
    uint64_t created_us;
    uint64_t finished_us;
    char key[SHOAL_KEY_MAX + 1];
} s_batch_t;

/*  A job or batch that ended: its continuations are due. */
typedef struct {
    shoal_id_t id;
    bool ok;
} s_ended_t;

static const char *
s_batch_state_name (int state)
{
    return state == S_BATCH_RUNNING     ? "running"
           : state == S_BATCH_SUCCEEDED ? "succeeded"
                                        : "failed";
}

static void
s_pair_key (const shoal_id_t *a, const shoal_id_t *b, uint8_t key[32])
{
    memcpy (key, a->b, 16);
    memcpy (key + 16, b->b, 16);
}

static size_t
s_batch_idem_key (const char *key, uint8_t *buf)
{
    size_t klen = strlen (key);
    memcpy (buf, S_BATCH_KEY_PREFIX, S_BATCH_KEY_PREFIX_LEN);
    memcpy (buf + S_BATCH_KEY_PREFIX_LEN, key, klen);
    return S_BATCH_KEY_PREFIX_LEN + klen;
}

/*  ---------------------------------------------------------------------
    Batch records */

static shoal_err_t
s_batch_get (self_t *self, const shoal_id_t *id, s_batch_t *b)
{
    const void *v;
    size_t len;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_BATCHES, id->b, 16, &v, &len);
    if (rc) {
        return rc;
    }
    shoal_id_t copy = *id; /* id may point into *b */
    memset (b, 0, sizeof *b);
    b->id = copy;
    uint64_t state = 0;
    if (shoal_map_uint (v, len, "n", &b->total) ||
        shoal_map_uint (v, len, "ok", &b->succeeded) ||
        shoal_map_uint (v, len, "bad", &b->failed) ||
        shoal_map_uint (v, len, "s", &state) || state > S_BATCH_FAILED) {
        return SHOAL_ERR_CORRUPT;
    }
    b->state = (uint8_t) state;
    shoal_map_uint (v, len, "c", &b->created_us);
    shoal_map_uint (v, len, "f", &b->finished_us);
    rc = shoal_map_strcpy (v, len, "k", b->key, sizeof b->key);
    return rc == SHOAL_OK || rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK
                                                       : SHOAL_ERR_CORRUPT;
}

static shoal_err_t
s_batch_put (self_t *self, const s_batch_t *b)
{
    shoal_wr_t *w = self->brec;
    shoal_wr_reset (w);
    shoal_wr_map (w, 6 + (b->key[0] != '\0'));
    shoal_wr_kv_uint (w, "n", b->total);
    shoal_wr_kv_uint (w, "ok", b->succeeded);
    shoal_wr_kv_uint (w, "bad", b->failed);
    shoal_wr_kv_uint (w, "s", b->state);
    shoal_wr_kv_uint (w, "c", b->created_us);
    shoal_wr_kv_uint (w, "f", b->finished_us);
    if (b->key[0]) {
        shoal_wr_kv_str (w, "k", b->key);
    }
    shoal_err_t rc = shoal_wr_error (w);
    return rc ? rc
              : shoal_txn_put (self->txn, SHOAL_DBI_BATCHES, b->id.b, 16,
                               shoal_wr_data (w), shoal_wr_size (w));
}

/*  Collects the second ids of the 32-byte keys of dbi that start with
    prefix (and, for batch members, whose outcome byte is want; want < 0:
    any). */
static shoal_err_t
s_collect (self_t *self, shoal_dbi_t dbi, const shoal_id_t *prefix, int want,
           zlistx_t *out)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, dbi, &cur);
    if (rc) {
        return rc;
    }
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, prefix->b, 16, &kv); rc == SHOAL_OK;
         rc = shoal_cursor_next (cur, &kv)) {
        if (kv.key_len != 32 || memcmp (kv.key, prefix->b, 16) != 0) {
            break;
        }
        if (want >= 0 &&
            (kv.val_len != 1 || *(const uint8_t *) kv.val != want)) {
            continue;
        }
        shoal_id_t *id = malloc (sizeof *id);
        if (!id) {
            rc = SHOAL_ERR_NOMEM;
            break;
        }
        memcpy (id->b, (const uint8_t *) kv.key + 16, 16);
        zlistx_add_end (out, id);
    }
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  The public view of a batch: what STATUS, WAIT and BATCH show. */
static shoal_err_t
s_write_batch_view (self_t *self, shoal_wr_t *w, const s_batch_t *b)
{
    zlistx_t *ids = store_list_new ();
    if (!ids) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_err_t rc = s_collect (self, SHOAL_DBI_BATCH_JOBS, &b->id, -1, ids);
    if (rc == SHOAL_OK) {
        char text[SHOAL_ID_TEXT];
        shoal_id_format (&b->id, text);
        shoal_wr_map (w, 8 + (b->key[0] != '\0'));
        shoal_wr_kv_str (w, "id", text);
        shoal_wr_kv_str (w, "state", s_batch_state_name (b->state));
        shoal_wr_kv_uint (w, "total", b->total);
        shoal_wr_kv_uint (w, "succeeded", b->succeeded);
        shoal_wr_kv_uint (w, "failed", b->failed);
        shoal_wr_kv_uint (w, "created_us", b->created_us);
        shoal_wr_kv_uint (w, "finished_us", b->finished_us);
        if (b->key[0]) {
            shoal_wr_kv_str (w, "key", b->key);
        }
        shoal_wr_str (w, "jobs");
        shoal_wr_array (w, (uint32_t) zlistx_size (ids));
        for (shoal_id_t *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
            shoal_id_format (id, text);
            shoal_wr_str (w, text);
        }
    }
    zlistx_destroy (&ids);
    return rc;
}

/*  QUERY_REPLY {code: 0, batch: view}. */
static shoal_err_t
s_reply_batch (self_t *self, const char *to, const shoal_id_t *corr,
               const s_batch_t *b)
{
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY, to, corr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, "batch");
    shoal_err_t rc = s_write_batch_view (self, w, b);
    return rc ? rc : shoal_port_defer (self->port);
}

/*  Answers the WAITs parked on a batch that just ended. */
static shoal_err_t
s_wake_batch (self_t *self, const s_batch_t *b)
{
    zlistx_t *lists[] = {self->waiters, self->new_waiters};
    for (int i = 0; i < 2; i++) {
        for (s_waiter_t *w = zlistx_first (lists[i]); w;
             w = zlistx_next (lists[i])) {
            if (memcmp (&w->job, &b->id, sizeof b->id) == 0) {
                shoal_err_t rc = s_reply_batch (self, w->to, &w->corr, b);
                if (rc) {
                    return rc;
                }
            }
        }
    }
    shoal_id_t *done = malloc (sizeof *done);
    if (!done) {
        return SHOAL_ERR_NOMEM;
    }
    *done = b->id; /* its waiters leave after the commit */
    zlistx_add_end (self->done_jobs, done);
    return SHOAL_OK;
}

static void
s_note_batch_event (self_t *self, const char *topic, const s_batch_t *b)
{
    if (!self->events_on) {
        return; /* nobody subscribed (shoal_store_records.c) */
    }
    shoal_event_head (self->events, self->port, topic, 5);
    shoal_wr_kv_bin (self->events, "id", b->id.b, 16);
    shoal_wr_kv_str (self->events, "state", s_batch_state_name (b->state));
    shoal_wr_kv_uint (self->events, "total", b->total);
    shoal_wr_kv_uint (self->events, "succeeded", b->succeeded);
    shoal_wr_kv_uint (self->events, "failed", b->failed);
    self->nevents++;
}

/*  ---------------------------------------------------------------------
    Parents and children */

shoal_err_t
store_deps_parent (self_t *self, const shoal_id_t *id, store_parent_t *out)
{
    shoal_job_t job;
    shoal_err_t rc = store_get_job (self, id, &job);
    if (rc == SHOAL_OK) {
        *out = !shoal_job_state_final (job.state) ? STORE_PARENT_PENDING
               : job.state == SHOAL_JOB_SUCCEEDED ? STORE_PARENT_SUCCEEDED
                                                  : STORE_PARENT_FAILED;
        return SHOAL_OK;
    }
    if (rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    s_batch_t b;
    rc = s_batch_get (self, id, &b);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        *out = STORE_PARENT_NONE;
        return SHOAL_OK;
    }
    if (rc == SHOAL_OK) {
        *out = b.state == S_BATCH_RUNNING     ? STORE_PARENT_PENDING
               : b.state == S_BATCH_SUCCEEDED ? STORE_PARENT_SUCCEEDED
                                              : STORE_PARENT_FAILED;
    }
    return rc;
}

static void
s_dependency_error (shoal_job_t *job)
{
    char parent[SHOAL_ID_TEXT];
    shoal_id_format (&job->after, parent);
    snprintf (job->error, sizeof job->error, "dependency %s did not succeed",
              parent);
    snprintf (job->error_class, sizeof job->error_class, "dependency");
}

shoal_err_t
store_deps_admit (self_t *self, shoal_job_t *job, uint64_t now, bool *placed)
{
    store_parent_t parent;
    shoal_err_t rc = store_deps_parent (self, &job->after, &parent);
    *placed = false;
    if (rc || parent == STORE_PARENT_SUCCEEDED ||
        (parent == STORE_PARENT_FAILED && job->after_mode == SHOAL_AFTER_ANY)) {
        return rc; /* it may run now: the caller queues it */
    }
    *placed = true;
    if (parent == STORE_PARENT_PENDING) {
        job->state = SHOAL_JOB_WAITING;
        self->p_count[job->state]++;
        uint8_t key[32];
        s_pair_key (&job->after, &job->id, key);
        if ((rc = store_put_job_ex (self, job, false)) == SHOAL_OK &&
            (rc = shoal_txn_put (self->txn, SHOAL_DBI_WAITS, key, sizeof key,
                                 NULL, 0)) == SHOAL_OK) {
            store_note_event (self, "job.waiting", job);
        }
        return rc;
    }
    /* The parent already ended without success: this is decided now. */
    job->state = SHOAL_JOB_CANCELLED;
    self->p_count[job->state]++;
    job->run_at_us = 0;
    job->finished_us = now;
    s_dependency_error (job);
    if ((rc = store_put_job_ex (self, job, false)) == SHOAL_OK &&
        (rc = store_put_finished (self, job)) == SHOAL_OK) {
        store_note_event (self, "job.cancelled", job);
    }
    return rc;
}

shoal_err_t
store_deps_unwait (self_t *self, const shoal_job_t *job)
{
    if (!job->has_after) {
        return SHOAL_OK;
    }
    uint8_t key[32];
    s_pair_key (&job->after, &job->id, key);
    shoal_err_t rc =
        shoal_txn_del (self->txn, SHOAL_DBI_WAITS, key, sizeof key);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

static shoal_err_t
s_push (zlistx_t *work, const shoal_id_t *id, bool ok)
{
    s_ended_t *e = malloc (sizeof *e);
    if (!e) {
        return SHOAL_ERR_NOMEM;
    }
    e->id = *id;
    e->ok = ok;
    zlistx_add_end (work, e);
    return SHOAL_OK;
}

static shoal_err_t s_member_ended (self_t *self, const shoal_job_t *job,
                                   uint64_t now, zlistx_t *work);

/*  job became final: its continuations are due, its batch counts it. */
static shoal_err_t
s_ended (self_t *self, const shoal_job_t *job, uint64_t now, zlistx_t *work)
{
    shoal_err_t rc = s_push (work, &job->id, job->state == SHOAL_JOB_SUCCEEDED);
    if (rc == SHOAL_OK && job->in_batch) {
        rc = s_member_ended (self, job, now, work);
    }
    return rc;
}

/*  Cancels a job that has not started (error text already set). Leased
    and final jobs are left alone. */
static shoal_err_t
s_cancel (self_t *self, shoal_job_t *job, uint64_t now, zlistx_t *work)
{
    shoal_err_t rc;
    switch (job->state) {
        case SHOAL_JOB_WAITING:
            rc = store_deps_unwait (self, job);
            break;
        case SHOAL_JOB_SCHEDULED:
            rc = store_del_delayed (self, job);
            break;
        case SHOAL_JOB_ENQUEUED:
            rc = store_del_ready (self, job);
            break;
        default:
            return SHOAL_OK;
    }
    if (rc) {
        return rc;
    }
    store_move_state (self, job, SHOAL_JOB_CANCELLED);
    job->run_at_us = 0;
    job->finished_us = job->updated_us = now;
    if ((rc = store_put_finished (self, job)) ||
        (rc = store_put_job (self, job))) {
        return rc;
    }
    store_note_event (self, "job.cancelled", job);
    if ((rc = store_wake_waiters (self, job))) {
        return rc;
    }
    return s_ended (self, job, now, work);
}

/*  A failed batch: members that have not started are cancelled. */
static shoal_err_t
s_cancel_members (self_t *self, const s_batch_t *b, uint64_t now,
                  zlistx_t *work)
{
    zlistx_t *ids = store_list_new ();
    if (!ids) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_err_t rc =
        s_collect (self, SHOAL_DBI_BATCH_JOBS, &b->id, S_MEMBER_PENDING, ids);
    char text[SHOAL_ID_TEXT];
    shoal_id_format (&b->id, text);
    for (shoal_id_t *id = zlistx_first (ids); id && rc == SHOAL_OK;
         id = zlistx_next (ids)) {
        shoal_job_t job;
        rc = store_get_job (self, id, &job);
        if (rc == SHOAL_ERR_NOT_FOUND) {
            rc = SHOAL_OK;
            continue;
        }
        if (rc == SHOAL_OK && !shoal_job_state_final (job.state) &&
            job.state != SHOAL_JOB_LEASED) {
            snprintf (job.error, sizeof job.error, "batch %s failed", text);
            snprintf (job.error_class, sizeof job.error_class, "batch");
            rc = s_cancel (self, &job, now, work);
        }
    }
    zlistx_destroy (&ids);
    return rc;
}

/*  A member of a batch ended: count it once; the batch may end. */
static shoal_err_t
s_member_ended (self_t *self, const shoal_job_t *job, uint64_t now,
                zlistx_t *work)
{
    uint8_t key[32];
    s_pair_key (&job->batch, &job->id, key);
    const void *v;
    size_t len;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_BATCH_JOBS, key, 32, &v, &len);
    if (rc) {
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    if (len != 1 || *(const uint8_t *) v != S_MEMBER_PENDING) {
        return SHOAL_OK; /* counted when it first ended */
    }
    bool ok = job->state == SHOAL_JOB_SUCCEEDED;
    uint8_t outcome = ok ? S_MEMBER_OK : S_MEMBER_FAILED;
    if ((rc = shoal_txn_put (self->txn, SHOAL_DBI_BATCH_JOBS, key, 32, &outcome,
                             1))) {
        return rc;
    }
    s_batch_t b;
    if ((rc = s_batch_get (self, &job->batch, &b))) {
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    *(ok ? &b.succeeded : &b.failed) += 1;
    bool ends = b.state == S_BATCH_RUNNING && (!ok || b.succeeded == b.total);
    if (ends) {
        b.state = ok ? S_BATCH_SUCCEEDED : S_BATCH_FAILED;
        b.finished_us = now;
    }
    if ((rc = s_batch_put (self, &b)) || !ends) {
        return rc;
    }
    if (b.state == S_BATCH_FAILED) {
        /* the record already says failed: these cancels only count */
        if ((rc = s_cancel_members (self, &b, now, work)) ||
            (rc = s_batch_get (self, &b.id, &b))) {
            return rc;
        }
    }
    s_note_batch_event (
        self, b.state == S_BATCH_SUCCEEDED ? "batch.succeeded" : "batch.failed",
        &b);
    if ((rc = s_wake_batch (self, &b))) {
        return rc;
    }
    return s_push (work, &b.id, b.state == S_BATCH_SUCCEEDED);
}

/*  A waiting child whose parent allows it: to its queue, or to the
    delayed index if its own start time is still ahead. */
static shoal_err_t
s_run_child (self_t *self, shoal_job_t *job, uint64_t now)
{
    job->updated_us = now;
    shoal_err_t rc;
    if (job->run_at_us > now) {
        store_move_state (self, job, SHOAL_JOB_SCHEDULED);
        if ((rc = store_put_job (self, job)) == SHOAL_OK &&
            (rc = store_put_delayed (self, job)) == SHOAL_OK) {
            store_note_event (self, "job.scheduled", job);
        }
        return rc;
    }
    store_move_state (self, job, SHOAL_JOB_ENQUEUED);
    job->run_at_us = 0;
    if ((rc = store_make_ready (self, job)) == SHOAL_OK) {
        store_note_event (self, "job.enqueued", job);
    }
    return rc;
}

/*  The parent (a job or a batch) ended: every child waiting on it runs
    or is cancelled. */
static shoal_err_t
s_release (self_t *self, const s_ended_t *parent, uint64_t now, zlistx_t *work)
{
    zlistx_t *kids = store_list_new ();
    if (!kids) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_err_t rc = s_collect (self, SHOAL_DBI_WAITS, &parent->id, -1, kids);
    for (shoal_id_t *kid = zlistx_first (kids); kid && rc == SHOAL_OK;
         kid = zlistx_next (kids)) {
        uint8_t key[32];
        s_pair_key (&parent->id, kid, key);
        rc = shoal_txn_del (self->txn, SHOAL_DBI_WAITS, key, sizeof key);
        if (rc && rc != SHOAL_ERR_NOT_FOUND) {
            break;
        }
        shoal_job_t job;
        rc = store_get_job (self, kid, &job);
        if (rc == SHOAL_ERR_NOT_FOUND) {
            rc = SHOAL_OK;
            continue;
        }
        if (rc || job.state != SHOAL_JOB_WAITING) {
            continue; /* rc ends the loop; otherwise a stale entry */
        }
        if (parent->ok || job.after_mode == SHOAL_AFTER_ANY) {
            rc = s_run_child (self, &job, now);
        } else {
            s_dependency_error (&job);
            rc = s_cancel (self, &job, now, work);
        }
    }
    zlistx_destroy (&kids);
    return rc;
}

static shoal_err_t
s_has_children (self_t *self, const shoal_id_t *id, bool *any)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_WAITS, &cur);
    if (rc) {
        return rc;
    }
    shoal_kv_t kv;
    rc = shoal_cursor_seek (cur, id->b, 16, &kv);
    *any =
        rc == SHOAL_OK && kv.key_len == 32 && memcmp (kv.key, id->b, 16) == 0;
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

shoal_err_t
store_deps_final (self_t *self, const shoal_job_t *job, uint64_t now)
{
    if (!job->in_batch) {
        /* the common case: one index lookup, nothing to do */
        bool any = false;
        shoal_err_t rc = s_has_children (self, &job->id, &any);
        if (rc || !any) {
            return rc;
        }
    }
    zlistx_t *work = store_list_new ();
    if (!work) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_err_t rc = s_ended (self, job, now, work);
    s_ended_t *e;
    while (rc == SHOAL_OK && (e = zlistx_detach (work, NULL))) {
        rc = s_release (self, e, now, work);
        free (e);
    }
    zlistx_destroy (&work);
    return rc;
}

/*  ---------------------------------------------------------------------
    Queries */

shoal_err_t
store_batch_status (self_t *self, shoal_in_t *in, const shoal_id_t *id,
                    bool wait, bool *found)
{
    s_batch_t b;
    shoal_err_t rc = s_batch_get (self, id, &b);
    *found = rc != SHOAL_ERR_NOT_FOUND;
    if (rc) {
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    if (!wait || b.state != S_BATCH_RUNNING) {
        return s_reply_batch (self, in->hdr.from, &in->hdr.id, &b);
    }
    return store_park_waiter (self, in, id);
}

/*  The answer to a batch submit: {code, id, jobs, existing}. */
static shoal_err_t
s_reply_batch_ids (self_t *self, shoal_in_t *in, const s_batch_t *b,
                   bool existing)
{
    zlistx_t *ids = store_list_new ();
    if (!ids) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_err_t rc = s_collect (self, SHOAL_DBI_BATCH_JOBS, &b->id, -1, ids);
    if (rc == SHOAL_OK) {
        char text[SHOAL_ID_TEXT];
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                          in->hdr.from, &in->hdr.id);
        shoal_wr_map (w, 4);
        shoal_wr_kv_uint (w, "code", SHOAL_OK);
        shoal_id_format (&b->id, text);
        shoal_wr_kv_str (w, "id", text);
        shoal_wr_str (w, "jobs");
        shoal_wr_array (w, (uint32_t) zlistx_size (ids));
        for (shoal_id_t *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
            shoal_id_format (id, text);
            shoal_wr_str (w, text);
        }
        shoal_wr_kv_bool (w, "existing", existing);
        rc = shoal_port_defer (self->port);
    }
    zlistx_destroy (&ids);
    return rc;
}

/*  Checks every item before anything is written: a batch with one bad
    item commits nothing. Writes why into text on refusal. */
static shoal_err_t
s_batch_check (self_t *self, shoal_rd_t rd, uint32_t n, shoal_err_t *code,
               char *text, size_t cap)
{
    *code = SHOAL_OK;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, self->lim.depth_max)) {
            *code = SHOAL_ERR_MALFORMED;
            snprintf (text, cap, "job %u: malformed", i);
            return SHOAL_OK;
        }
        shoal_job_t job;
        if (store_read_item (item, (size_t) (rd.p - item), &job) ||
            job.has_after || job.key[0]) {
            *code = SHOAL_ERR_INVALID;
            snprintf (text, cap, "job %u: invalid batch item", i);
            return SHOAL_OK;
        }
        const void *v;
        size_t len;
        shoal_err_t rc =
            shoal_txn_get (self->txn, SHOAL_DBI_JOBS, job.id.b, 16, &v, &len);
        if (rc == SHOAL_OK) {
            *code = SHOAL_ERR_STATE;
            snprintf (text, cap, "job %u: job id already exists", i);
            return SHOAL_OK;
        }
        if (rc != SHOAL_ERR_NOT_FOUND) {
            return rc;
        }
    }
    return SHOAL_OK;
}

shoal_err_t
store_query_batch (self_t *self, shoal_in_t *in)
{
    const uint8_t *body = in->body, *bidp;
    size_t blen = in->body_len;
    uint32_t bidlen, n;
    shoal_rd_t rd;
    s_batch_t b;
    memset (&b, 0, sizeof b);
    shoal_err_t k = shoal_map_strcpy (body, blen, "k", b.key, sizeof b.key);
    if (shoal_map_bin (body, blen, "bid", &bidp, &bidlen) || bidlen != 16 ||
        shoal_map_array (body, blen, "items", &rd, &n) || n == 0 ||
        n > SHOAL_BATCH_MAX || (k && k != SHOAL_ERR_NOT_FOUND) ||
        (k == SHOAL_OK && !b.key[0])) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "batch needs bid and 1-10000 items");
    }
    memcpy (b.id.b, bidp, 16);
    shoal_err_t rc;
    if (b.key[0]) {
        /* Idempotency: the same key answers with the first batch. */
        uint8_t ikey[S_BATCH_KEY_PREFIX_LEN + SHOAL_KEY_MAX];
        size_t ilen = s_batch_idem_key (b.key, ikey);
        const void *v;
        size_t len;
        rc = shoal_txn_get (self->txn, SHOAL_DBI_IDEM, ikey, ilen, &v, &len);
        if (rc == SHOAL_OK && len == 16) {
            shoal_id_t first;
            memcpy (first.b, v, 16);
            s_batch_t old;
            if ((rc = s_batch_get (self, &first, &old)) == SHOAL_OK) {
                return s_reply_batch_ids (self, in, &old, true);
            }
        }
        if (rc != SHOAL_ERR_NOT_FOUND) {
            return rc == SHOAL_OK ? SHOAL_ERR_CORRUPT : rc;
        }
    }
    const void *v;
    size_t len;
    if ((rc = shoal_txn_get (self->txn, SHOAL_DBI_BATCHES, b.id.b, 16, &v,
                             &len)) != SHOAL_ERR_NOT_FOUND) {
        return rc ? rc
                  : store_reply_code (self, in->hdr.from, &in->hdr.id,
                                      SHOAL_ERR_STATE,
                                      "batch id already exists");
    }
    shoal_err_t code;
    char why[96];
    if ((rc = s_batch_check (self, rd, n, &code, why, sizeof why))) {
        return rc;
    }
    if (code) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id, code, why);
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    b.total = n;
    b.created_us = now;
    b.state = S_BATCH_RUNNING;
    if ((rc = s_batch_put (self, &b))) {
        return rc;
    }
    if (b.key[0]) {
        uint8_t ikey[S_BATCH_KEY_PREFIX_LEN + SHOAL_KEY_MAX];
        size_t ilen = s_batch_idem_key (b.key, ikey);
        if ((rc = shoal_txn_put (self->txn, SHOAL_DBI_IDEM, ikey, ilen, b.id.b,
                                 16))) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, self->lim.depth_max)) {
            return SHOAL_ERR_MALFORMED; /* checked above: unreachable */
        }
        shoal_job_t job;
        if ((rc = store_read_item (item, (size_t) (rd.p - item), &job))) {
            return rc;
        }
        job.in_batch = true;
        job.batch = b.id;
        uint8_t key[32];
        uint8_t pending = S_MEMBER_PENDING;
        s_pair_key (&b.id, &job.id, key);
        if ((rc = store_insert_job (self, &job, now)) ||
            (rc = shoal_txn_put (self->txn, SHOAL_DBI_BATCH_JOBS, key, 32,
                                 &pending, 1))) {
            return rc;
        }
    }
    s_note_batch_event (self, "batch.submitted", &b);
    return s_reply_batch_ids (self, in, &b, false);
}
