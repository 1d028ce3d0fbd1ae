/*  shoal_store_lists.c - listing jobs and working the dead-letter queue.

    Lists page with an opaque cursor ("next": the hex of the last key
    read), so a client walks any number of jobs in bounded requests. A
    plain list walks the jobs table in id order (ids are time-ordered:
    oldest first); a list of dead jobs walks the DLQ index in the order
    they died. Each request reads at most S_SCAN_MAX records, whatever the
    filters, so a filter that matches little cannot stall the store.
*/
#include "shoal_store_int.h"

#define S_LIMIT_DEFAULT 100
#define S_LIMIT_MAX     1000
#define S_SCAN_MAX      100000
#define S_KEY_MAX       32

typedef struct {
    int state; /* -1: any */
    char queue[SHOAL_NAME_MAX + 1];
    char type[SHOAL_NAME_MAX + 1];
    uint8_t after[S_KEY_MAX];
    size_t after_len;
    uint64_t limit;
} s_filter_t;

static int
s_hexval (char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static shoal_err_t
s_read_filter (const uint8_t *args, size_t len, s_filter_t *f, const char **why)
{
    memset (f, 0, sizeof *f);
    f->state = -1;
    f->limit = S_LIMIT_DEFAULT;
    char state[16];
    shoal_err_t rc = shoal_map_strcpy (args, len, "state", state, sizeof state);
    if (rc == SHOAL_OK) {
        for (int s = 0; s < SHOAL_JOB__COUNT; s++) {
            if (streq (state, shoal_job_state_name (s))) {
                f->state = s;
            }
        }
    }
    if ((rc && rc != SHOAL_ERR_NOT_FOUND) || (rc == SHOAL_OK && f->state < 0)) {
        *why = "\"state\" must be a job state (enqueued, leased, dead, ...)";
        return SHOAL_ERR_INVALID;
    }
    rc = shoal_map_strcpy (args, len, "queue", f->queue, sizeof f->queue);
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        *why = "\"queue\" must be a queue name";
        return SHOAL_ERR_INVALID;
    }
    rc = shoal_map_strcpy (args, len, "type", f->type, sizeof f->type);
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        *why = "\"type\" must be a job type";
        return SHOAL_ERR_INVALID;
    }
    rc = shoal_map_uint (args, len, "limit", &f->limit);
    if ((rc && rc != SHOAL_ERR_NOT_FOUND) || f->limit == 0 ||
        f->limit > S_LIMIT_MAX) {
        *why = "\"limit\" must be 1..1000";
        return SHOAL_ERR_INVALID;
    }
    const char *after;
    uint32_t alen;
    rc = shoal_map_str (args, len, "after", &after, &alen);
    if (rc == SHOAL_OK) {
        if (alen % 2 || alen / 2 > S_KEY_MAX) {
            *why = "\"after\" must be a cursor returned as \"next\"";
            return SHOAL_ERR_INVALID;
        }
        for (uint32_t i = 0; i < alen / 2; i++) {
            int hi = s_hexval (after[2 * i]), lo = s_hexval (after[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                *why = "\"after\" must be a cursor returned as \"next\"";
                return SHOAL_ERR_INVALID;
            }
            f->after[i] = (uint8_t) (hi << 4 | lo);
        }
        f->after_len = alen / 2;
    } else if (rc != SHOAL_ERR_NOT_FOUND) {
        *why = "\"after\" must be a string";
        return SHOAL_ERR_INVALID;
    }
    return SHOAL_OK;
}

static bool
s_matches (const s_filter_t *f, const shoal_job_t *job)
{
    return (f->state < 0 || job->state == f->state) &&
           (!f->queue[0] || streq (f->queue, job->queue)) &&
           (!f->type[0] || streq (f->type, job->type));
}

shoal_err_t
store_query_list (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len)
{
    s_filter_t f;
    const char *why = "";
    if (s_read_filter (args, len, &f, &why)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, why);
    }
    /* Dead jobs have their own index, in the order they died. */
    bool dlq = f.state == SHOAL_JOB_DEAD;
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (
        self->txn, dlq ? SHOAL_DBI_DEAD : SHOAL_DBI_JOBS, &cur);
    if (rc) {
        return rc;
    }
    shoal_wr_t *items = shoal_wr_new ();
    if (!items) {
        shoal_cursor_close (&cur);
        return SHOAL_ERR_NOMEM;
    }
    uint32_t n = 0, scanned = 0;
    uint8_t last[S_KEY_MAX];
    size_t last_len = 0;
    bool more = false;
    shoal_kv_t kv;
    rc =
        shoal_cursor_seek (cur, f.after_len ? f.after : NULL, f.after_len, &kv);
    for (; rc == SHOAL_OK; rc = shoal_cursor_next (cur, &kv)) {
        if (f.after_len && kv.key_len == f.after_len &&
            memcmp (kv.key, f.after, f.after_len) == 0) {
            continue; /* the cursor is exclusive */
        }
        if (n == f.limit || scanned == S_SCAN_MAX) {
            more = true;
            break;
        }
        scanned++;
        if (kv.key_len > S_KEY_MAX) {
            continue;
        }
        memcpy (last, kv.key, kv.key_len);
        last_len = kv.key_len;
        shoal_job_t job;
        shoal_id_t id;
        memcpy (id.b, dlq ? (const uint8_t *) kv.key + 8 : kv.key, 16);
        shoal_err_t e =
            dlq ? store_get_job (self, &id, &job)
                : shoal_job_decode (kv.val, kv.val_len, &self->lim, &job);
        if (e == SHOAL_OK && s_matches (&f, &job)) {
            store_write_job_view (items, &job, false);
            n++;
        }
    }
    shoal_cursor_close (&cur);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        rc = SHOAL_OK;
    }
    if (rc == SHOAL_OK) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                          in->hdr.from, &in->hdr.id);
        shoal_wr_map (w, 3);
        shoal_wr_kv_uint (w, "code", SHOAL_OK);
        shoal_wr_str (w, "jobs");
        shoal_wr_array (w, n);
        shoal_wr_raw (w, shoal_wr_data (items), shoal_wr_size (items));
        shoal_wr_str (w, "next");
        if (more && last_len) {
            char hex[2 * S_KEY_MAX + 1];
            for (size_t i = 0; i < last_len; i++) {
                snprintf (hex + 2 * i, 3, "%02x", last[i]);
            }
            shoal_wr_str (w, hex);
        } else {
            shoal_wr_nil (w);
        }
        rc = shoal_port_defer (self->port);
    }
    shoal_wr_destroy (&items);
    return rc;
}

/*  Reads args.id and the dead job it names; answers the error itself. */
static shoal_err_t
s_dead_job (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len,
            shoal_job_t *job, bool *found, bool or_cancelled)
{
    *found = false;
    const char *text;
    uint32_t tlen;
    shoal_id_t id;
    if (shoal_map_str (args, len, "id", &text, &tlen) ||
        shoal_id_parse (text, tlen, &id)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "\"id\" must be a job id (32 hex digits)");
    }
    shoal_err_t rc = store_get_job (self, &id, job);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_NOT_FOUND, "no such job");
    }
    if (rc) {
        return rc;
    }
    if (job->state != SHOAL_JOB_DEAD &&
        !(or_cancelled && job->state == SHOAL_JOB_CANCELLED)) {
        return store_reply_code (
            self, in->hdr.from, &in->hdr.id, SHOAL_ERR_STATE,
            or_cancelled ? "only dead or cancelled jobs can be "
                           "retried"
                         : "the job is not in the dead-letter "
                           "queue");
    }
    *found = true;
    return SHOAL_OK;
}

shoal_err_t
store_query_dlq_retry (self_t *self, shoal_in_t *in, const uint8_t *args,
                       size_t len)
{
    shoal_job_t job;
    bool found;
    shoal_err_t rc = s_dead_job (self, in, args, len, &job, &found, true);
    if (rc || !found) {
        return rc;
    }
    if (job.state == SHOAL_JOB_DEAD && (rc = store_del_dead (self, &job))) {
        return rc;
    }
    if (job.state == SHOAL_JOB_CANCELLED &&
        (rc = store_del_finished (self, &job))) {
        return rc;
    }
    /* A fresh set of attempts; the last error stays visible until the
       next run ends. Cancelled jobs may be retried this way too. */
    store_move_state (self, &job, SHOAL_JOB_ENQUEUED);
    job.attempt = 0;
    job.finished_us = 0;
    job.updated_us = shoal_clock_now_us (shoal_port_clock (self->port));
    if ((rc = store_make_ready (self, &job))) {
        return rc;
    }
    store_note_event (self, "job.enqueued", &job);
    return store_reply_job (self, in->hdr.from, &in->hdr.id, &job);
}

/*  Deletes a dead job for good: record, DLQ entry, idempotency key. */
static shoal_err_t
s_purge_one (self_t *self, shoal_job_t *job)
{
    shoal_err_t rc = store_del_dead (self, job);
    if (rc == SHOAL_OK && job->key[0]) {
        rc = shoal_txn_del (self->txn, SHOAL_DBI_IDEM, job->key,
                            strlen (job->key));
        rc = rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    if (rc == SHOAL_OK) {
        rc = shoal_txn_del (self->txn, SHOAL_DBI_JOBS, job->id.b, 16);
    }
    if (rc == SHOAL_OK && self->p_count[SHOAL_JOB_DEAD] > 0) {
        self->p_count[SHOAL_JOB_DEAD]--;
    }
    return rc;
}

shoal_err_t
store_query_dlq_purge (self_t *self, shoal_in_t *in, const uint8_t *args,
                       size_t len)
{
    uint64_t purged = 0;
    bool more = false;
    shoal_err_t rc;
    shoal_mp_val_t v;
    if (shoal_map_find (args, len, "id", &v, NULL, NULL) == SHOAL_OK) {
        shoal_job_t job;
        bool found;
        rc = s_dead_job (self, in, args, len, &job, &found, false);
        if (rc || !found) {
            return rc;
        }
        if ((rc = s_purge_one (self, &job))) {
            return rc;
        }
        purged = 1;
    } else {
        /* All of them, S_SCAN_MAX per request: "more" says to ask again. */
        uint8_t *keys = malloc ((size_t) S_LIMIT_MAX * SHOAL_TIME_KEY);
        if (!keys) {
            return SHOAL_ERR_NOMEM;
        }
        for (;;) {
            shoal_cursor_t *cur;
            if ((rc = shoal_cursor_open (self->txn, SHOAL_DBI_DEAD, &cur))) {
                break;
            }
            size_t n = 0;
            shoal_kv_t kv;
            for (rc = shoal_cursor_seek (cur, NULL, 0, &kv);
                 rc == SHOAL_OK && n < S_LIMIT_MAX;
                 rc = shoal_cursor_next (cur, &kv)) {
                if (kv.key_len == SHOAL_TIME_KEY) {
                    memcpy (keys + n++ * SHOAL_TIME_KEY, kv.key,
                            SHOAL_TIME_KEY);
                }
            }
            shoal_cursor_close (&cur);
            rc = rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
            for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
                shoal_id_t id;
                shoal_job_t job;
                memcpy (id.b, keys + i * SHOAL_TIME_KEY + 8, 16);
                rc = store_get_job (self, &id, &job);
                if (rc == SHOAL_OK && job.state == SHOAL_JOB_DEAD) {
                    rc = s_purge_one (self, &job);
                    purged++;
                } else if (rc == SHOAL_OK || rc == SHOAL_ERR_NOT_FOUND) {
                    rc = shoal_txn_del (self->txn, SHOAL_DBI_DEAD,
                                        keys + i * SHOAL_TIME_KEY,
                                        SHOAL_TIME_KEY);
                }
            }
            if (rc || n < S_LIMIT_MAX) {
                break;
            }
            if (purged >= S_SCAN_MAX) {
                more = true;
                break;
            }
        }
        free (keys);
        if (rc) {
            return rc;
        }
    }
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 3);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_kv_uint (w, "purged", purged);
    shoal_wr_kv_bool (w, "more", more);
    return shoal_port_defer (self->port);
}
