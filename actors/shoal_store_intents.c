/*  shoal_store_intents.c - what each message does to the data: submit,
    lease, result, requeue, fill, queries. Per-item problems are answered;
    a returned error fails the whole batch (storage trouble). */
#include "shoal_store_int.h"
#include "shoal_backup.h"

static bool
s_is (const shoal_mp_val_t *k, const char *name)
{
    size_t n = strlen (name);
    return k->len == n && memcmp (k->ptr, name, n) == 0;
}

/*  Copies a string value that fits (with its NUL) into buf. */
static bool
s_str (const shoal_mp_val_t *v, char *buf, size_t cap)
{
    if (v->type != SHOAL_MP_STR || v->len >= cap) {
        return false;
    }
    memcpy (buf, v->ptr, v->len);
    buf[v->len] = '\0';
    return true;
}

shoal_err_t
store_read_item (const uint8_t *item, size_t len, shoal_job_t *job)
{
    /* One pass over the item's keys (this runs for every submit). */
    memset (job, 0, sizeof *job);
    job->priority = SHOAL_PRIO_NORMAL;
    job->after_mode = SHOAL_AFTER_SUCCESS;
    shoal_rd_t rd;
    shoal_rd_init (&rd, item, len);
    uint32_t n;
    bool has_id = false, has_q = false, has_t = false;
    if (shoal_rd_map (&rd, &n)) {
        return SHOAL_ERR_INVALID;
    }
    for (uint32_t i = 0; i < n; i++) {
        shoal_mp_val_t k, v;
        if (shoal_rd_next (&rd, &k) || k.type != SHOAL_MP_STR) {
            return SHOAL_ERR_INVALID;
        }
        const uint8_t *start = rd.p;
        shoal_rd_t peek = rd;
        if (shoal_rd_next (&peek, &v) || shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
            return SHOAL_ERR_INVALID;
        }
        size_t raw_len = (size_t) (rd.p - start);
        bool ok = true;
        if (s_is (&k, "id")) {
            ok = v.type == SHOAL_MP_BIN && v.len == 16;
            if (ok) {
                memcpy (job->id.b, v.ptr, 16);
                has_id = true;
            }
        } else if (s_is (&k, "q")) {
            ok = has_q = s_str (&v, job->queue, sizeof job->queue);
        } else if (s_is (&k, "t")) {
            ok = has_t = s_str (&v, job->type, sizeof job->type);
        } else if (s_is (&k, "k")) {
            ok = s_str (&v, job->key, sizeof job->key);
        } else if (s_is (&k, "p")) {
            ok = v.type == SHOAL_MP_UINT && v.u < SHOAL_PRIO__COUNT;
            job->priority = (uint8_t) v.u;
        } else if (s_is (&k, "to")) {
            ok = v.type == SHOAL_MP_UINT && v.u <= UINT32_MAX;
            job->timeout_ms = (uint32_t) v.u;
        } else if (s_is (&k, "ra")) {
            job->run_at_us = v.type == SHOAL_MP_UINT ? v.u : 0;
        } else if (s_is (&k, "pl")) {
            job->payload = start;
            job->payload_len = raw_len;
        } else if (s_is (&k, "rp")) {
            if (v.type == SHOAL_MP_MAP) {
                job->retry = start;
                job->retry_len = raw_len;
            }
        } else if (s_is (&k, "af")) {
            ok = v.type == SHOAL_MP_BIN && v.len == 16;
            if (ok) {
                memcpy (job->after.b, v.ptr, 16);
                job->has_after = true;
            }
        } else if (s_is (&k, "am")) {
            ok = v.type == SHOAL_MP_UINT && v.u < SHOAL_AFTER__COUNT;
            job->after_mode = (uint8_t) v.u;
        } else if (s_is (&k, "rq")) {
            ok = s_str (&v, job->require, sizeof job->require);
        }
        if (!ok) {
            return SHOAL_ERR_INVALID;
        }
    }
    return has_id && has_q && has_t ? SHOAL_OK : SHOAL_ERR_INVALID;
}

/*  Commits one new job (ready now, or scheduled for run_at). */
shoal_err_t
store_insert_job (self_t *self, shoal_job_t *job, uint64_t now)
{
    job->created_us = job->updated_us = now;
    job->seq = self->p_next_seq++;
    if (!job->retry) {
        /* No policy of its own: the queue's default, if it has one. */
        bool found;
        shoal_err_t e =
            store_queue_retry (self, job->queue, self->scratch, &found);
        if (e) {
            return e;
        }
        if (found) {
            job->retry = shoal_wr_data (self->scratch);
            job->retry_len = shoal_wr_size (self->scratch);
        }
    }
    if (job->has_after) {
        /* A continuation may have to wait, or be cancelled already. */
        bool placed = false;
        shoal_err_t e = store_deps_admit (self, job, now, &placed);
        if (e == SHOAL_OK && placed && job->key[0]) {
            e = store_idem_put (self, job->key, &job->id);
        }
        if (e || placed) {
            return e;
        }
    }
    bool later = job->run_at_us > now;
    job->state = later ? SHOAL_JOB_SCHEDULED : SHOAL_JOB_ENQUEUED;
    if (!later) {
        job->run_at_us = 0;
    }
    self->p_count[job->state]++;
    /* the payload borrows from the request, not the map: no refresh */
    shoal_err_t rc = store_put_job_ex (self, job, false);
    if (rc == SHOAL_OK) {
        rc =
            later ? store_put_delayed (self, job) : store_put_ready (self, job);
    }
    if (rc == SHOAL_OK && job->key[0]) {
        rc = store_idem_put (self, job->key, &job->id);
    }
    if (rc == SHOAL_OK) {
        if (!later) {
            store_note_ready (self, job);
        }
        store_note_event (self, later ? "job.scheduled" : "job.enqueued", job);
    }
    return rc;
}

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
        shoal_job_t job;
        shoal_err_t code = store_read_item (item, (size_t) (rd.p - item), &job);
        bool existing = false;
        if (code == SHOAL_OK && job.key[0]) {
            /* Idempotency: the same key answers with the first job's id. */
            shoal_err_t e = store_idem_get (self, job.key, &job.id);
            if (e == SHOAL_OK) {
                existing = true;
            } else if (e != SHOAL_ERR_NOT_FOUND) {
                return e;
            }
        }
        if (code == SHOAL_OK && !existing && job.has_after) {
            store_parent_t parent;
            shoal_err_t e = store_deps_parent (self, &job.after, &parent);
            if (e) {
                return e;
            }
            if (parent == STORE_PARENT_NONE) {
                code = SHOAL_ERR_NOT_FOUND; /* nothing is committed */
            }
        }
        if (code == SHOAL_OK && !existing) {
            const void *old;
            size_t old_len;
            shoal_err_t e = shoal_txn_get (self->txn, SHOAL_DBI_JOBS, job.id.b,
                                           16, &old, &old_len);
            if (e == SHOAL_OK) {
                code = SHOAL_ERR_STATE; /* id already used */
            } else if (e != SHOAL_ERR_NOT_FOUND) {
                return e;
            } else if ((e = store_insert_job (self, &job, now))) {
                return e;
            }
        }
        shoal_wr_map (w, existing ? 3 : 2);
        shoal_wr_kv_uint (w, "code", (uint64_t) code);
        shoal_wr_kv_uint (w, "seq", code || existing ? 0 : job.seq);
        if (existing) {
            shoal_wr_kv_bin (w, "id", job.id.b, 16);
        }
    }
    return shoal_port_defer (self->port);
}

/*  When a lease taken or renewed at now runs out: store/lease from now
    (heartbeats renew it), but never past the run's own timeout, which
    the executor enforces; the grace lets that executor report first. */
static uint64_t
s_lease_until (const self_t *self, const shoal_job_t *job, uint64_t now)
{
    uint64_t until = now + self->lease_us;
    if (job->timeout_ms) {
        uint64_t deadline = job->started_us + (uint64_t) job->timeout_ms * 1000;
        if (deadline < until) {
            until = deadline;
        }
    }
    return until + self->lease_grace_us;
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
        shoal_err_t rc = store_get_job (self, &id, &job);
        if (rc == SHOAL_ERR_NOT_FOUND ||
            (rc == SHOAL_OK && job.state != SHOAL_JOB_ENQUEUED)) {
            store_note_done (self, &id); /* taken already: refuse */
            continue;
        }
        if (rc) {
            return rc;
        }
        if ((rc = store_del_ready (self, &job))) {
            return rc;
        }
        store_move_state (self, &job, SHOAL_JOB_LEASED);
        job.attempt++;
        job.epoch++;
        job.running = false;
        job.started_us = job.updated_us = now;
        job.lease_expires_us = s_lease_until (self, &job, now);
        snprintf (job.executor, sizeof job.executor, "%s", nodename);
        if ((rc = store_put_job (self, &job)) ||
            (rc = store_put_lease (self, &job)) ||
            (rc = store_put_expiry (self, &job))) {
            return rc;
        }
        shoal_wr_t *w =
            shoal_port_begin (self->port, SHOAL_M_RUN, nodename, NULL);
        shoal_wr_map (w, 7 + (job.payload != NULL) + (job.timeout_ms != 0));
        if (job.timeout_ms) {
            shoal_wr_kv_uint (w, "to", job.timeout_ms);
        }
        shoal_wr_kv_bin (w, "id", job.id.b, 16);
        shoal_wr_kv_str (w, "t", job.type);
        shoal_wr_kv_str (w, "q", job.queue);
        shoal_wr_kv_uint (w, "a", job.attempt);
        shoal_wr_kv_uint (w, "e", job.epoch);
        shoal_wr_kv_uint (w, "p", job.priority);
        /* The lease an EXTEND renews (store/lease): an executor outside
           this host paces its heartbeats from it (lm / 3). */
        shoal_wr_kv_uint (w, "lm", self->lease_us / 1000);
        if (job.payload) {
            shoal_wr_kv_raw (w, "pl", job.payload, job.payload_len);
        }
        if ((rc = shoal_port_defer (self->port))) {
            return rc;
        }
        store_note_event (self, "job.leased", &job);
    }
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
    shoal_err_t rc = store_get_job (self, &id, &job);
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
                    "current %llu, job %s)",
                    text, from, (unsigned long long) epoch,
                    (unsigned long long) job.epoch,
                    shoal_job_state_name (job.state));
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
    job.error_class[0] = '\0';
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
        if (shoal_map_strcpy (item, item_len, "ec", job.error_class,
                              sizeof job.error_class)) {
            snprintf (job.error_class, sizeof job.error_class, "error");
        }
    }
    return store_end_attempt (self, &job, ok, now);
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

/*  Puts one leased job back in its queue (host recovery, executor
    restart, lost host). On an executor restart (crashed true) a run that
    had reported itself started is what crashed it: that is a failed
    attempt (class executor_lost), which follows the retry policy, so a
    job that always crashes its executor ends in the DLQ instead of
    looping. A lost host (lost true) is no fault of the job: the attempt
    its lease counted is given back, as for a RELEASE. */
static shoal_err_t
s_requeue (self_t *self, const shoal_id_t *id, bool crashed, bool lost)
{
    shoal_job_t job;
    shoal_err_t rc = store_get_job (self, id, &job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return store_del_lease (self, id);
    }
    if (rc) {
        return rc;
    }
    if (job.state == SHOAL_JOB_LEASED && crashed && job.running) {
        snprintf (job.error, sizeof job.error,
                  "executor %s died while running it", job.executor);
        snprintf (job.error_class, sizeof job.error_class, "executor_lost");
        job.result = NULL;
        return store_end_attempt (
            self, &job, false,
            shoal_clock_now_us (shoal_port_clock (self->port)));
    }
    if (job.state == SHOAL_JOB_LEASED) {
        job.running = false;
        if ((rc = store_del_expiry (self, &job))) {
            return rc;
        }
        if (lost && job.attempt > 0) {
            job.attempt--;
        }
        store_move_state (self, &job, SHOAL_JOB_ENQUEUED);
        job.updated_us = shoal_clock_now_us (shoal_port_clock (self->port));
        job.lease_expires_us = 0;
        job.executor[0] = '\0';
        if ((rc = store_make_ready (self, &job))) {
            return rc;
        }
        store_note_done (self, &job.id); /* the old lease is over */
        store_note_event (self, "job.requeued", &job);
    }
    return store_del_lease (self, id);
}

/*  Requeues every lease held by node (all of them when node is NULL;
    every executor of host H when node is "@H": a lost host). */
shoal_err_t
store_requeue_leases (self_t *self, const char *node, uint64_t *count)
{
    size_t nlen = node ? strlen (node) : 0;
    bool host = node && node[0] == '@';
    zlistx_t *ids = store_list_new ();
    if (!ids) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_LEASES, &cur);
    if (rc == SHOAL_OK) {
        shoal_kv_t kv;
        for (rc = shoal_cursor_seek (cur, NULL, 0, &kv); rc == SHOAL_OK;
             rc = shoal_cursor_next (cur, &kv)) {
            bool mine =
                !node ||
                (host ? kv.val_len > nlen &&
                            memcmp ((const char *) kv.val + kv.val_len - nlen,
                                    node, nlen) == 0
                      : kv.val_len == nlen && memcmp (kv.val, node, nlen) == 0);
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
        /* A lost host is no fault of the job: no attempt is charged. */
        rc = s_requeue (self, id, node != NULL && !host, host);
    }
    *count = zlistx_size (ids);
    zlistx_destroy (&ids);
    return rc;
}

/*  Calls fn for every {id, e} item of in's items: with the job and
    whether its lease still is the sender's (state, epoch, executor); a job
    that does not exist comes zeroed but for its id, not current.
    Malformed items are skipped. */
typedef shoal_err_t (s_lease_item_fn) (self_t *self, shoal_in_t *in,
                                       shoal_job_t *job, bool current,
                                       uint64_t epoch, uint64_t now);

static shoal_err_t
s_each_lease_item (self_t *self, shoal_in_t *in, s_lease_item_fn *fn)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "items", &rd, &n)) {
        shoal_warn ("store: malformed %s from %s",
                    shoal_mtype_name (in->hdr.type), in->hdr.from);
        return SHOAL_OK;
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, self->lim.depth_max)) {
            return SHOAL_OK;
        }
        size_t len = (size_t) (rd.p - item);
        const uint8_t *idp;
        uint32_t idlen;
        uint64_t epoch;
        if (shoal_map_bin (item, len, "id", &idp, &idlen) || idlen != 16 ||
            shoal_map_uint (item, len, "e", &epoch)) {
            shoal_warn ("store: malformed %s item from %s",
                        shoal_mtype_name (in->hdr.type), in->hdr.from);
            continue;
        }
        shoal_id_t id;
        memcpy (id.b, idp, 16);
        shoal_job_t job;
        shoal_err_t rc = store_get_job (self, &id, &job);
        if (rc && rc != SHOAL_ERR_NOT_FOUND) {
            return rc;
        }
        bool found = rc == SHOAL_OK;
        if (!found) {
            memset (&job, 0, sizeof job);
            job.id = id;
        }
        bool current = found && job.state == SHOAL_JOB_LEASED &&
                       job.epoch == epoch && streq (job.executor, in->hdr.from);
        if ((rc = fn (self, in, &job, current, epoch, now))) {
            return rc;
        }
    }
    return SHOAL_OK;
}

/*  RELEASE {items:[{id, e}]}: leases an executor gives back before
    starting them (it is stopping, or about to block). The job returns to
    its queue and the attempt it never ran is not counted. */
static shoal_err_t
s_release_one (self_t *self, shoal_in_t *in, shoal_job_t *job, bool current,
               uint64_t epoch, uint64_t now)
{
    (void) in;
    (void) epoch;
    if (!current) {
        return SHOAL_OK; /* that lease is already over */
    }
    shoal_err_t rc;
    if ((rc = store_del_expiry (self, job)) ||
        (rc = store_del_lease (self, &job->id))) {
        return rc;
    }
    store_move_state (self, job, SHOAL_JOB_ENQUEUED);
    if (job->attempt > 0) {
        job->attempt--;
    }
    job->lease_expires_us = 0;
    job->executor[0] = '\0';
    job->updated_us = now;
    store_note_done (self, &job->id);
    if ((rc = store_make_ready (self, job))) {
        return rc;
    }
    store_note_event (self, "job.requeued", job);
    return SHOAL_OK;
}

static shoal_err_t
s_apply_release (self_t *self, shoal_in_t *in)
{
    return s_each_lease_item (self, in, s_release_one);
}

/*  EXTEND {items:[{id, e}]}: heartbeats of runs under way. A lease that
    is still the sender's (state, epoch, executor) is renewed; any other
    is over (expired, cancelled, requeued): refused and counted, like a
    stale result. */
static shoal_err_t
s_extend_one (self_t *self, shoal_in_t *in, shoal_job_t *job, bool current,
              uint64_t epoch, uint64_t now)
{
    if (!current) {
        self->stale_extends++;
        char text[SHOAL_ID_TEXT];
        shoal_id_format (&job->id, text);
        shoal_warn ("store: stale heartbeat for job %s from %s (epoch %llu)",
                    text, in->hdr.from, (unsigned long long) epoch);
        return SHOAL_OK;
    }
    uint64_t until = s_lease_until (self, job, now);
    if (until <= job->lease_expires_us) {
        return SHOAL_OK; /* at the run's deadline already */
    }
    shoal_err_t rc;
    if ((rc = store_del_expiry (self, job))) {
        return rc;
    }
    job->lease_expires_us = until;
    if ((rc = store_put_expiry (self, job)) ||
        (rc = store_put_job (self, job))) {
        return rc;
    }
    self->lease_extends++;
    return SHOAL_OK;
}

static shoal_err_t
s_apply_extend (self_t *self, shoal_in_t *in)
{
    return s_each_lease_item (self, in, s_extend_one);
}

/*  STARTED {id, e}: a blocking run began on its executor. Answered with
    OK after the commit (also when the lease is over), so that an
    executor about to run a handler that may crash it can wait until the
    start is durable. */
static shoal_err_t
s_apply_started (self_t *self, shoal_in_t *in)
{
    const uint8_t *idp;
    uint32_t idlen;
    uint64_t epoch;
    shoal_err_t rc = SHOAL_OK;
    if (shoal_map_bin (in->body, in->body_len, "id", &idp, &idlen) ==
            SHOAL_OK &&
        idlen == 16 &&
        shoal_map_uint (in->body, in->body_len, "e", &epoch) == SHOAL_OK) {
        shoal_id_t id;
        memcpy (id.b, idp, 16);
        shoal_job_t job;
        rc = store_get_job (self, &id, &job);
        if (rc == SHOAL_ERR_NOT_FOUND) {
            rc = SHOAL_OK;
        } else if (rc == SHOAL_OK && job.state == SHOAL_JOB_LEASED &&
                   job.epoch == epoch && streq (job.executor, in->hdr.from)) {
            job.running = true;
            rc = store_put_job (self, &job);
        }
    }
    if (rc) {
        return rc;
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_OK, in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 0);
    return shoal_port_defer (self->port);
}

static shoal_err_t
s_apply_node_boot (self_t *self, shoal_in_t *in)
{
    uint64_t n = 0;
    shoal_err_t rc = store_requeue_leases (self, in->hdr.from, &n);
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

/*  NODE_LOST {executors: [name...], host?}: the registry declared them
    (or every executor "*@host") dead. Their leases go back to their
    queues now; the next lease of each job has a new epoch, so a result
    the lost executor sends later is refused as stale. */
static shoal_err_t
s_apply_node_lost (self_t *self, shoal_in_t *in)
{
    uint64_t total = 0, n = 0;
    char name[SHOAL_NAME_MAX + 2];
    shoal_err_t rc = SHOAL_OK;
    if (shoal_map_strcpy (in->body, in->body_len, "host", name + 1,
                          sizeof name - 1) == SHOAL_OK &&
        name[1]) {
        name[0] = '@';
        rc = store_requeue_leases (self, name, &n);
        total += n;
    }
    shoal_rd_t rd;
    uint32_t count = 0;
    if (rc == SHOAL_OK && shoal_map_array (in->body, in->body_len, "executors",
                                           &rd, &count) == SHOAL_OK) {
        for (uint32_t i = 0; i < count && rc == SHOAL_OK; i++) {
            const char *s;
            uint32_t len;
            if (shoal_rd_str (&rd, &s, &len) || len == 0 ||
                len > SHOAL_NAME_MAX) {
                break;
            }
            memcpy (name, s, len);
            name[len] = '\0';
            rc = store_requeue_leases (self, name, &n);
            total += n;
        }
    }
    if (rc) {
        return rc;
    }
    self->lost_requeued += total;
    if (total > 0) {
        shoal_info ("store: %llu lease(s) of lost executors requeued",
                    (unsigned long long) total);
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_OK, in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_uint (w, "requeued", total);
    return shoal_port_defer (self->port);
}

static shoal_err_t
s_apply_query (self_t *self, shoal_in_t *in)
{
    char op[16];
    if (shoal_map_strcpy (in->body, in->body_len, "op", op, sizeof op)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, "query needs op");
    }
    if (streq (op, "stats")) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                          in->hdr.from, &in->hdr.id);
        shoal_wr_map (w, 11);
        shoal_wr_kv_uint (w, "code", SHOAL_OK);
        shoal_wr_str (w, "ready");
        store_depth_write (self, w);
        shoal_wr_str (w, "kept");
        store_fin_write (self, w);
        shoal_wr_str (w, "jobs");
        shoal_wr_map (w, SHOAL_JOB__COUNT);
        for (int s = 0; s < SHOAL_JOB__COUNT; s++) {
            shoal_wr_kv_uint (w, shoal_job_state_name (s), self->p_count[s]);
        }
        shoal_wr_kv_uint (w, "stale_results", self->stale_results);
        shoal_wr_kv_uint (w, "stale_extends", self->stale_extends);
        shoal_wr_kv_uint (w, "lease_extends", self->lease_extends);
        shoal_wr_kv_uint (w, "expired_leases", self->expired_leases);
        shoal_wr_kv_uint (w, "lost_requeued", self->lost_requeued);
        shoal_wr_kv_uint (w, "commits", self->commits);
        shoal_wr_kv_uint (w, "map_size", shoal_db_map_size (self->db));
        return shoal_port_defer (self->port);
    }
    if (streq (op, "batch")) {
        return store_query_batch (self, in);
    }
    if (streq (op, "list") || streq (op, "dlq_retry") ||
        streq (op, "dlq_purge") || streq (op, "queue") ||
        streq (op, "backup") || streq (op, "cancel") ||
        streq (op, "schedule") || streq (op, "workflow")) {
        shoal_mp_val_t v;
        const uint8_t *args = (const uint8_t *) "\x80"; /* {} */
        size_t alen = 1;
        if (shoal_map_find (in->body, in->body_len, "args", &v, &args, &alen) ==
                SHOAL_OK &&
            v.type != SHOAL_MP_MAP) {
            return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                     SHOAL_ERR_INVALID, "args must be a map");
        }
        if (streq (op, "queue")) {
            return store_query_queue (self, in, args, alen);
        }
        if (streq (op, "backup")) {
            return store_query_backup (self, in, args, alen);
        }
        if (streq (op, "cancel")) {
            return store_query_cancel (self, in, args, alen);
        }
        if (streq (op, "schedule")) {
            return store_query_schedule (self, in, args, alen);
        }
        if (streq (op, "workflow")) {
            return store_query_workflow (self, in, args, alen);
        }
        return streq (op, "list") ? store_query_list (self, in, args, alen)
               : streq (op, "dlq_retry")
                   ? store_query_dlq_retry (self, in, args, alen)
                   : store_query_dlq_purge (self, in, args, alen);
    }
    const uint8_t *idp;
    uint32_t idlen;
    if (!streq (op, "status") && !streq (op, "wait")) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, "unknown query op");
    }
    if (shoal_map_bin (in->body, in->body_len, "id", &idp, &idlen) ||
        idlen != 16) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, "query needs a job id");
    }
    shoal_id_t id;
    memcpy (id.b, idp, 16);
    shoal_job_t job;
    shoal_err_t rc = store_get_job (self, &id, &job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        bool found = false;
        rc = store_batch_status (self, in, &id, streq (op, "wait"), &found);
        if (rc || found) {
            return rc;
        }
        rc = store_run_status (self, in, &id, streq (op, "wait"), &found);
        if (rc || found) {
            return rc;
        }
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_NOT_FOUND,
                                 "no such job, batch or run");
    }
    if (rc) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id, rc,
                                 shoal_strerror (rc));
    }
    if (streq (op, "status") || shoal_job_state_final (job.state)) {
        return store_reply_job (self, in->hdr.from, &in->hdr.id, &job);
    }
    return store_park_waiter (self, in, &id);
}

shoal_err_t
store_apply (self_t *self, shoal_in_t *in)
{
    switch (in->hdr.type) {
        case SHOAL_M_STORE_SUBMIT:
            return s_apply_submit (self, in);
        case SHOAL_M_LEASE:
            return s_apply_lease (self, in);
        case SHOAL_M_RESULT:
            return s_apply_results (self, in);
        case SHOAL_M_FILL:
            return store_apply_fill (self, in);
        case SHOAL_M_QUERY:
            return s_apply_query (self, in);
        case SHOAL_M_RELEASE:
            return s_apply_release (self, in);
        case SHOAL_M_STARTED:
            return s_apply_started (self, in);
        case SHOAL_M_EXTEND:
            return s_apply_extend (self, in);
        case SHOAL_M_INTEREST: {
            /* Whether anyone subscribes to job events (the monitor). */
            bool on = true;
            shoal_map_bool (in->body, in->body_len, "events", &on);
            self->events_on = on;
            return SHOAL_OK;
        }
        case SHOAL_M_NODE_BOOT:
            return s_apply_node_boot (self, in);
        case SHOAL_M_NODE_LOST:
            return s_apply_node_lost (self, in);
        case SHOAL_M_STEP:
            return store_run_step (self, in);
        case SHOAL_M_ADMIT:
            return store_run_admit (self, in);
        case SHOAL_M_ROUTER_BOOT:
            return store_run_router_boot (self, in);
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

shoal_err_t
store_query_backup (self_t *self, shoal_in_t *in, const uint8_t *args,
                    size_t len)
{
    char path[1024];
    if (shoal_map_strcpy (args, len, "path", path, sizeof path) ||
        path[0] != '/') {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "\"path\" must be an absolute folder path");
    }
    if (self->backup) {
        /* One at a time: collect the last one if it is done. */
        zsock_set_rcvtimeo (self->backup, 0);
        char *done = zstr_recv (self->backup);
        bool finished = done && streq (done, "DONE");
        zstr_free (&done);
        if (!finished) {
            return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                     SHOAL_ERR_BUSY,
                                     "a backup is already running");
        }
        zactor_destroy (&self->backup);
    }
    shoal_backup_args_t a = {self->db,     path,
                             in->hdr.from, in->hdr.id,
                             self->bus,    *shoal_port_clock (self->port)};
    shoal_err_t rc;
    self->backup = shoal_actor_start (shoal_backup_actor, &a, &rc);
    if (!self->backup) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id, rc,
                                 "cannot start the backup");
    }
    return SHOAL_OK; /* the backup actor answers when it is done */
}

/*  Sends CANCEL {id} to name (an executor, or a running job's port). */
static shoal_err_t
s_send_cancel (self_t *self, const char *name, const shoal_id_t *id)
{
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_CANCEL, name, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_kv_bin (w, "id", id->b, 16);
    return shoal_port_defer (self->port);
}

shoal_err_t
store_cancel_job (self_t *self, shoal_job_t *job, uint64_t now)
{
    shoal_err_t rc = SHOAL_OK;
    if (job->state == SHOAL_JOB_SCHEDULED) {
        rc = store_del_delayed (self, job);
    } else if (job->state == SHOAL_JOB_ENQUEUED) {
        rc = store_del_ready (self, job);
    } else if (job->state == SHOAL_JOB_WAITING) {
        rc = store_deps_unwait (self, job);
    } else if (job->state == SHOAL_JOB_LEASED) {
        /* The executor is told twice: its own port drops the job if it
           waits there; the run's port ("x.<id>") stops it if it runs. A
           result that comes later is stale and ignored. */
        char run_port[SHOAL_NAME_MAX + 1] = "x.";
        shoal_id_format (&job->id, run_port + 2);
        /* An executor of another host ("node.0@beta") has the run's
           port on that host's bus: "x.<id>@beta". */
        const char *at = strrchr (job->executor, '@');
        if (at && strlen (run_port) + strlen (at) <= SHOAL_NAME_MAX) {
            strcat (run_port, at);
        } else if (at) {
            shoal_warn ("store: cannot stop the run of job %s on %s: the "
                        "host name is too long for its port",
                        run_port + 2, job->executor);
        }
        if ((rc = store_del_expiry (self, job)) == SHOAL_OK &&
            (rc = store_del_lease (self, &job->id)) == SHOAL_OK &&
            (rc = s_send_cancel (self, job->executor, &job->id)) == SHOAL_OK) {
            rc = s_send_cancel (self, run_port, &job->id);
        }
        store_note_done (self, &job->id);
        job->lease_expires_us = 0;
    }
    if (rc) {
        return rc;
    }
    store_move_state (self, job, SHOAL_JOB_CANCELLED);
    job->run_at_us = 0;
    job->finished_us = job->updated_us = now;
    if ((rc = store_put_finished (self, job))) {
        return rc;
    }
    snprintf (job->error, sizeof job->error, "cancelled");
    snprintf (job->error_class, sizeof job->error_class, "cancelled");
    if ((rc = store_put_job (self, job))) {
        return rc;
    }
    store_note_event (self, "job.cancelled", job);
    return store_wake_waiters (self, job);
}

shoal_err_t
store_query_cancel (self_t *self, shoal_in_t *in, const uint8_t *args,
                    size_t len)
{
    const char *text;
    uint32_t tlen;
    shoal_id_t id;
    if (shoal_map_str (args, len, "id", &text, &tlen) ||
        shoal_id_parse (text, tlen, &id)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "\"id\" must be a job id (32 hex digits)");
    }
    shoal_job_t job;
    shoal_err_t rc = store_get_job (self, &id, &job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_NOT_FOUND, "no such job");
    }
    if (rc) {
        return rc;
    }
    if (shoal_job_state_final (job.state)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_STATE, "the job has already ended");
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    if ((rc = store_cancel_job (self, &job, now)) ||
        (rc = store_reply_job (self, in->hdr.from, &in->hdr.id, &job))) {
        return rc;
    }
    /* after the reply: this rewrites the record scratch job borrows */
    shoal_err_t e = store_deps_final (self, &job, now);
    return e ? e : store_run_final (self, &job, now);
}
