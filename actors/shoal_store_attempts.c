/*  shoal_store_attempts.c - how a run ends and what time does to jobs.

    A leased attempt ends with a result (success, or failure with an error
    class) or with its lease running out. A failure consults the job's
    retry policy: another attempt is scheduled after the backoff, or the
    job is dead and goes to the dead-letter queue. Timers are not threads:
    every pass of the store first moves due delayed jobs to their queues
    and takes back expired leases, reading time from the injectable clock,
    so tests drive them exactly.
*/
#include "shoal_store_int.h"
#include "shoal_retry.h"

#define S_TIMER_BATCH 4096 /* due entries handled per pass */

/*  Whether a failed attempt gets another one, and after how long. */
static bool
s_retry_due (self_t *self, const shoal_job_t *job, uint64_t *delay_us)
{
    shoal_retry_t policy;
    if (!job->retry ||
        shoal_retry_decode (job->retry, job->retry_len, &policy) != SHOAL_OK) {
        return false; /* no policy: one attempt */
    }
    return shoal_retry_next (&policy, job->attempt, job->error_class,
                             &self->rng, delay_us);
}

shoal_err_t
store_end_attempt (self_t *self, shoal_job_t *job, bool ok, uint64_t now)
{
    shoal_err_t rc = store_del_expiry (self, job);
    if (rc == SHOAL_OK) {
        rc = store_del_lease (self, &job->id);
    }
    if (rc) {
        return rc;
    }
    job->lease_expires_us = 0;
    job->running = false;
    job->updated_us = now;
    store_note_done (self, &job->id);
    uint64_t delay = 0;
    if (ok) {
        store_move_state (self, job, SHOAL_JOB_SUCCEEDED);
        job->finished_us = now;
        if ((rc = store_put_finished (self, job))) {
            return rc;
        }
    } else if (s_retry_due (self, job, &delay)) {
        store_move_state (self, job, SHOAL_JOB_SCHEDULED);
        job->run_at_us = now + delay;
        if ((rc = store_put_delayed (self, job))) {
            return rc;
        }
    } else {
        store_move_state (self, job, SHOAL_JOB_DEAD);
        job->finished_us = now;
        if ((rc = store_put_dead (self, job))) {
            return rc;
        }
    }
    if ((rc = store_put_job (self, job))) {
        return rc;
    }
    store_note_event (self,
                      ok                                  ? "job.succeeded"
                      : job->state == SHOAL_JOB_SCHEDULED ? "job.retry"
                                                          : "job.dead",
                      job);
    if (job->state == SHOAL_JOB_SCHEDULED) {
        return SHOAL_OK;
    }
    if ((rc = store_wake_waiters (self, job))) {
        return rc;
    }
    shoal_err_t rc2 = store_deps_final (self, job, now);
    return rc2 ? rc2 : store_run_final (self, job, now);
}

/*  Collects up to S_TIMER_BATCH (time, id) entries due at now from a time
    index. The caller changes that index, so it reads first, acts after. */
shoal_err_t
store_collect_due (self_t *self, shoal_dbi_t dbi, uint64_t now, uint8_t *keys,
                   size_t max, size_t *count)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, dbi, &cur);
    if (rc) {
        return rc;
    }
    *count = 0;
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, NULL, 0, &kv);
         rc == SHOAL_OK && *count < max; rc = shoal_cursor_next (cur, &kv)) {
        if (kv.key_len != SHOAL_TIME_KEY) {
            continue;
        }
        if (shoal_time_key_time (kv.key) > now) {
            break;
        }
        memcpy (keys + *count * SHOAL_TIME_KEY, kv.key, SHOAL_TIME_KEY);
        (*count)++;
    }
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  A delayed job whose time has come joins its queue. */
static shoal_err_t
s_release (self_t *self, const uint8_t *key, uint64_t now)
{
    shoal_id_t id;
    memcpy (id.b, key + 8, 16);
    shoal_job_t job;
    shoal_err_t rc = store_get_job (self, &id, &job);
    bool current = rc == SHOAL_OK && job.state == SHOAL_JOB_SCHEDULED &&
                   job.run_at_us == shoal_time_key_time (key);
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    rc = shoal_txn_del (self->txn, SHOAL_DBI_DELAYED, key, SHOAL_TIME_KEY);
    if (rc || !current) {
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    store_move_state (self, &job, SHOAL_JOB_ENQUEUED);
    job.run_at_us = 0;
    job.updated_us = now;
    if ((rc = store_make_ready (self, &job))) {
        return rc;
    }
    store_note_event (self, "job.enqueued", &job);
    return SHOAL_OK;
}

/*  An expired lease: the executor did not report in time. */
static shoal_err_t
s_expire (self_t *self, const uint8_t *key, uint64_t now)
{
    shoal_id_t id;
    memcpy (id.b, key + 8, 16);
    shoal_job_t job;
    shoal_err_t rc = store_get_job (self, &id, &job);
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    if (rc == SHOAL_ERR_NOT_FOUND || job.state != SHOAL_JOB_LEASED ||
        job.lease_expires_us != shoal_time_key_time (key)) {
        rc = shoal_txn_del (self->txn, SHOAL_DBI_EXPIRY, key, SHOAL_TIME_KEY);
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    char text[SHOAL_ID_TEXT];
    shoal_id_format (&id, text);
    shoal_warn ("store: lease of job %s on %s expired (attempt %u)", text,
                job.executor, job.attempt);
    snprintf (job.error, sizeof job.error,
              "lease expired: %s did not report in time", job.executor);
    snprintf (job.error_class, sizeof job.error_class, "lease_expired");
    job.result = NULL;
    self->expired_leases++;
    return store_end_attempt (self, &job, false, now);
}

/*  Retention: succeeded and cancelled jobs that finished before cutoff are
    deleted (record, retention entry, idempotency key), a bounded number
    per pass. Dead jobs stay in the DLQ until purged. */
static shoal_err_t
s_prune (self_t *self, uint64_t cutoff)
{
    uint8_t *keys = malloc ((size_t) S_TIMER_BATCH * SHOAL_TIME_KEY);
    if (!keys) {
        return SHOAL_ERR_NOMEM;
    }
    size_t n = 0;
    shoal_err_t rc = store_collect_due (self, SHOAL_DBI_FINISHED, cutoff, keys,
                                        S_TIMER_BATCH, &n);
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        const uint8_t *key = keys + i * SHOAL_TIME_KEY;
        shoal_id_t id;
        memcpy (id.b, key + 8, 16);
        shoal_job_t job;
        rc = store_get_job (self, &id, &job);
        bool current = rc == SHOAL_OK &&
                       (job.state == SHOAL_JOB_SUCCEEDED ||
                        job.state == SHOAL_JOB_CANCELLED) &&
                       job.finished_us == shoal_time_key_time (key);
        if (rc == SHOAL_ERR_NOT_FOUND) {
            rc = SHOAL_OK;
        }
        if (rc == SHOAL_OK && current) {
            rc = store_forget_job (self, &job); /* and its index entries */
        } else if (rc == SHOAL_OK) {
            rc = shoal_txn_del (self->txn, SHOAL_DBI_FINISHED, key,
                                SHOAL_TIME_KEY); /* a stale entry */
        }
    }
    free (keys);
    return rc;
}

shoal_err_t
store_run_timers (self_t *self, uint64_t now)
{
    if (self->next_due_us == 0 || self->next_due_us > now) {
        return SHOAL_OK; /* nothing due: no cursor walk */
    }
    uint8_t *keys = malloc ((size_t) S_TIMER_BATCH * SHOAL_TIME_KEY);
    if (!keys) {
        return SHOAL_ERR_NOMEM;
    }
    size_t n = 0;
    shoal_err_t rc = store_collect_due (self, SHOAL_DBI_DELAYED, now, keys,
                                        S_TIMER_BATCH, &n);
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        rc = s_release (self, keys + i * SHOAL_TIME_KEY, now);
    }
    if (rc == SHOAL_OK) {
        rc = store_collect_due (self, SHOAL_DBI_EXPIRY, now, keys,
                                S_TIMER_BATCH, &n);
    }
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        rc = s_expire (self, keys + i * SHOAL_TIME_KEY, now);
    }
    free (keys);
    if (rc == SHOAL_OK) {
        rc = store_run_schedules (self, now);
    }
    if (rc == SHOAL_OK) {
        rc = store_runlim_timers (self, now); /* workflow run timeouts */
    }
    if (rc == SHOAL_OK && self->retention_us && now > self->retention_us) {
        rc = s_prune (self, now - self->retention_us);
    }
    if (rc == SHOAL_OK && self->retention_us && now > self->retention_us) {
        rc = store_run_prune (self, now - self->retention_us);
    }
    return rc;
}
