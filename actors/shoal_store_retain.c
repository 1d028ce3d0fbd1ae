/*  shoal_store_retain.c - retention of succeeded and cancelled jobs.

    Two indexes of finished jobs: `finished` by time (retention by age,
    store/retention, swept with the timers) and `fin_queue` by queue then
    time (retention by count, the queue's `keep`). A queue's finished
    count is a durable counter (shoal_store_depth.c), so a finish checks
    the limit without a scan and prunes the oldest at once, at most
    S_PRUNE_MAX per call (a lowered limit catches up over a few
    finishes). Dead jobs are in neither index: the DLQ is kept until
    purged.
*/
#include "shoal_store_int.h"

#define S_PRUNE_MAX 1024
#define S_FINQ_KEY  (SHOAL_NAME_MAX + 1 + 8 + 16)

static size_t
s_finq_key (const char *queue, uint64_t t, const shoal_id_t *id, uint8_t *buf)
{
    size_t qlen = strnlen (queue, SHOAL_NAME_MAX);
    memcpy (buf, queue, qlen);
    buf[qlen] = 0;
    shoal_time_key (t, id->b, buf + qlen + 1);
    return qlen + 1 + SHOAL_TIME_KEY;
}

static shoal_err_t
s_put_finq (self_t *self, const shoal_job_t *job)
{
    uint8_t key[S_FINQ_KEY];
    size_t klen = s_finq_key (job->queue, job->finished_us, &job->id, key);
    shoal_err_t rc =
        shoal_txn_put (self->txn, SHOAL_DBI_FIN_QUEUE, key, klen, NULL, 0);
    return rc ? rc : store_fin_add (self, job->queue, 1);
}

shoal_err_t
store_put_finished (self_t *self, const shoal_job_t *job)
{
    uint8_t key[SHOAL_TIME_KEY];
    shoal_time_key (job->finished_us, job->id.b, key);
    shoal_err_t rc =
        shoal_txn_put (self->txn, SHOAL_DBI_FINISHED, key, sizeof key, NULL, 0);
    if (rc == SHOAL_OK) {
        rc = s_put_finq (self, job);
    }
    if (rc == SHOAL_OK && store_fin_excess (self, job->queue) > 0) {
        rc = store_retain_prune (self, job->queue);
    }
    return rc;
}

shoal_err_t
store_del_finished (self_t *self, const shoal_job_t *job)
{
    uint8_t key[S_FINQ_KEY];
    shoal_time_key (job->finished_us, job->id.b, key);
    shoal_err_t rc =
        shoal_txn_del (self->txn, SHOAL_DBI_FINISHED, key, SHOAL_TIME_KEY);
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    size_t klen = s_finq_key (job->queue, job->finished_us, &job->id, key);
    rc = shoal_txn_del (self->txn, SHOAL_DBI_FIN_QUEUE, key, klen);
    if (rc == SHOAL_OK) {
        return store_fin_add (self, job->queue, -1);
    }
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

shoal_err_t
store_forget_job (self_t *self, const shoal_job_t *job)
{
    shoal_err_t rc = SHOAL_OK;
    if (job->key[0]) {
        rc = shoal_txn_del (self->txn, SHOAL_DBI_IDEM, job->key,
                            strlen (job->key));
        rc = rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    if (rc == SHOAL_OK) {
        rc = shoal_txn_del (self->txn, SHOAL_DBI_JOBS, job->id.b, 16);
        rc = rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    if (rc == SHOAL_OK && self->p_count[job->state] > 0) {
        self->p_count[job->state]--;
    }
    return rc ? rc : store_del_finished (self, job);
}

/*  Whether the record still is the finished job the index entry says. */
static bool
s_current (const shoal_job_t *job, uint64_t finished_us)
{
    return (job->state == SHOAL_JOB_SUCCEEDED ||
            job->state == SHOAL_JOB_CANCELLED) &&
           job->finished_us == finished_us;
}

shoal_err_t
store_retain_prune (self_t *self, const char *queue)
{
    uint64_t excess = store_fin_excess (self, queue);
    if (excess == 0) {
        return SHOAL_OK;
    }
    if (excess > S_PRUNE_MAX) {
        excess = S_PRUNE_MAX;
    }
    /* Read the oldest first, then delete: the cursor is not reused
       across the deletes. */
    uint8_t *keys = malloc ((size_t) excess * SHOAL_TIME_KEY);
    if (!keys) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_FIN_QUEUE, &cur);
    size_t n = 0, qlen = strlen (queue);
    if (rc == SHOAL_OK) {
        uint8_t prefix[SHOAL_NAME_MAX + 1];
        memcpy (prefix, queue, qlen + 1);
        shoal_kv_t kv;
        for (rc = shoal_cursor_seek (cur, prefix, qlen + 1, &kv);
             rc == SHOAL_OK && n < excess &&
             kv.key_len == qlen + 1 + SHOAL_TIME_KEY &&
             memcmp (kv.key, prefix, qlen + 1) == 0;
             rc = shoal_cursor_next (cur, &kv)) {
            memcpy (keys + n * SHOAL_TIME_KEY,
                    (const uint8_t *) kv.key + qlen + 1, SHOAL_TIME_KEY);
            n++;
        }
        shoal_cursor_close (&cur);
        rc = rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        const uint8_t *tk = keys + i * SHOAL_TIME_KEY;
        shoal_job_t job;
        memset (&job, 0, sizeof job);
        memcpy (job.id.b, tk + 8, 16);
        uint64_t t = shoal_time_key_time (tk);
        rc = store_get_job (self, &job.id, &job);
        if (rc == SHOAL_OK && s_current (&job, t)) {
            rc = store_forget_job (self, &job);
            continue;
        }
        if (rc && rc != SHOAL_ERR_NOT_FOUND) {
            break;
        }
        /* A stale entry: drop it alone. */
        snprintf (job.queue, sizeof job.queue, "%s", queue);
        job.finished_us = t;
        memcpy (job.id.b, tk + 8, 16);
        rc = store_del_finished (self, &job);
    }
    free (keys);
    return rc;
}

shoal_err_t
store_retain_migrate (self_t *self)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_FINISHED, &cur);
    if (rc) {
        return rc;
    }
    uint64_t n = 0;
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, NULL, 0, &kv); rc == SHOAL_OK;
         rc = shoal_cursor_next (cur, &kv)) {
        if (kv.key_len != SHOAL_TIME_KEY) {
            continue;
        }
        shoal_job_t job;
        shoal_id_t id;
        memcpy (id.b, (const uint8_t *) kv.key + 8, 16);
        shoal_err_t e = store_get_job (self, &id, &job);
        if (e == SHOAL_ERR_NOT_FOUND ||
            (e == SHOAL_OK &&
             !s_current (&job, shoal_time_key_time (kv.key)))) {
            continue;
        }
        if (e || (e = s_put_finq (self, &job))) {
            rc = e;
            break;
        }
        n++;
    }
    shoal_cursor_close (&cur);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        rc = SHOAL_OK;
        if (n) {
            shoal_info ("store: indexed %llu finished job(s) per queue",
                        (unsigned long long) n);
        }
    }
    return rc;
}
