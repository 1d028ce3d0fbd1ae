/*  shoal_job.c - job record codec and small job vocabulary. */
#include "shoal_job.h"
#include "../protocol/shoal_mp.h"

#include <string.h>

static const char *const s_prio[SHOAL_PRIO__COUNT] = {"critical", "high",
                                                      "normal", "low"};
static const char *const s_state[SHOAL_JOB__COUNT] = {
    "scheduled", "enqueued", "leased",    "succeeded",
    "failed",    "dead",     "cancelled", "waiting"};
static const char *const s_after_mode[SHOAL_AFTER__COUNT] = {"success", "any"};

shoal_err_t
shoal_after_mode_parse (const char *text, size_t len, uint8_t *out)
{
    for (int i = 0; i < SHOAL_AFTER__COUNT; i++) {
        if (strlen (s_after_mode[i]) == len &&
            memcmp (text, s_after_mode[i], len) == 0) {
            *out = (uint8_t) i;
            return SHOAL_OK;
        }
    }
    return SHOAL_ERR_INVALID;
}

const char *
shoal_after_mode_name (int mode)
{
    return mode >= 0 && mode < SHOAL_AFTER__COUNT ? s_after_mode[mode] : "?";
}

const char *
shoal_prio_name (int prio)
{
    return prio >= 0 && prio < SHOAL_PRIO__COUNT ? s_prio[prio] : "?";
}

shoal_err_t
shoal_prio_parse (const char *text, size_t len, uint8_t *out)
{
    for (int i = 0; i < SHOAL_PRIO__COUNT; i++) {
        if (strlen (s_prio[i]) == len && memcmp (text, s_prio[i], len) == 0) {
            *out = (uint8_t) i;
            return SHOAL_OK;
        }
    }
    return SHOAL_ERR_INVALID;
}

const char *
shoal_job_state_name (int state)
{
    return state >= 0 && state < SHOAL_JOB__COUNT ? s_state[state] : "?";
}

bool
shoal_job_state_final (int state)
{
    return state == SHOAL_JOB_SUCCEEDED || state == SHOAL_JOB_FAILED ||
           state == SHOAL_JOB_DEAD || state == SHOAL_JOB_CANCELLED;
}

bool
shoal_name_valid (const char *name, size_t len)
{
    if (len == 0 || len > SHOAL_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
                  c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

void
shoal_job_encode (const shoal_job_t *job, shoal_wr_t *wr)
{
    uint32_t n = 13 + (job->payload ? 1 : 0) + (job->result ? 1 : 0) +
                 (job->error[0] ? 1 : 0) + (job->executor[0] ? 1 : 0) +
                 (job->error_class[0] ? 1 : 0) + (job->key[0] ? 1 : 0) +
                 (job->run_at_us ? 1 : 0) + (job->lease_expires_us ? 1 : 0) +
                 (job->timeout_ms ? 1 : 0) + (job->retry ? 1 : 0) +
                 (job->running ? 1 : 0) + (job->has_after ? 2 : 0) +
                 (job->in_batch ? 1 : 0) + (job->in_run ? 2 : 0) +
                 (job->require[0] ? 1 : 0);
    shoal_wr_map (wr, n);
    shoal_wr_kv_bin (wr, "id", job->id.b, 16);
    shoal_wr_kv_str (wr, "q", job->queue);
    shoal_wr_kv_str (wr, "t", job->type);
    shoal_wr_kv_uint (wr, "p", job->priority);
    shoal_wr_kv_uint (wr, "s", job->state);
    shoal_wr_kv_uint (wr, "a", job->attempt);
    shoal_wr_kv_uint (wr, "e", job->epoch);
    shoal_wr_kv_uint (wr, "n", job->seq);
    shoal_wr_kv_uint (wr, "c", job->created_us);
    shoal_wr_kv_uint (wr, "u", job->updated_us);
    shoal_wr_kv_uint (wr, "st", job->started_us);
    shoal_wr_kv_uint (wr, "f", job->finished_us);
    shoal_wr_kv_uint (wr, "v", 1); /* record version */
    if (job->payload) {
        shoal_wr_kv_raw (wr, "pl", job->payload, job->payload_len);
    }
    if (job->result) {
        shoal_wr_kv_raw (wr, "r", job->result, job->result_len);
    }
    if (job->error[0]) {
        shoal_wr_kv_str (wr, "er", job->error);
    }
    if (job->executor[0]) {
        shoal_wr_kv_str (wr, "x", job->executor);
    }
    if (job->error_class[0]) {
        shoal_wr_kv_str (wr, "ec", job->error_class);
    }
    if (job->key[0]) {
        shoal_wr_kv_str (wr, "k", job->key);
    }
    if (job->run_at_us) {
        shoal_wr_kv_uint (wr, "ra", job->run_at_us);
    }
    if (job->lease_expires_us) {
        shoal_wr_kv_uint (wr, "lx", job->lease_expires_us);
    }
    if (job->timeout_ms) {
        shoal_wr_kv_uint (wr, "to", job->timeout_ms);
    }
    if (job->retry) {
        shoal_wr_kv_raw (wr, "rp", job->retry, job->retry_len);
    }
    if (job->running) {
        shoal_wr_kv_bool (wr, "rn", true);
    }
    if (job->has_after) {
        shoal_wr_kv_bin (wr, "af", job->after.b, 16);
        shoal_wr_kv_uint (wr, "am", job->after_mode);
    }
    if (job->in_batch) {
        shoal_wr_kv_bin (wr, "b", job->batch.b, 16);
    }
    if (job->in_run) {
        shoal_wr_kv_bin (wr, "wr", job->run.b, 16);
        shoal_wr_kv_uint (wr, "wn", job->node);
    }
    if (job->require[0]) {
        shoal_wr_kv_str (wr, "rq", job->require);
    }
}

/*  Whether key k is want, a record key of one or two characters: by
    bytes (every record read runs this chain of keys). */
static inline bool
s_key (const shoal_mp_val_t *k, const char *want)
{
    uint32_t n = want[1] ? 2u : 1u;
    return k->len == n && k->ptr[0] == (uint8_t) want[0] &&
           (n == 1 || k->ptr[1] == (uint8_t) want[1]);
}

static shoal_err_t
s_copy_str (const shoal_mp_val_t *v, char *buf, size_t cap)
{
    if (v->type != SHOAL_MP_STR || v->len >= cap) {
        return SHOAL_ERR_MALFORMED;
    }
    memcpy (buf, v->ptr, v->len);
    buf[v->len] = '\0';
    return SHOAL_OK;
}

static shoal_err_t s_decode (const uint8_t *data, size_t used,
                             const shoal_limits_t *lim, shoal_job_t *job);

shoal_err_t
shoal_job_decode (const uint8_t *data, size_t size, const shoal_limits_t *lim,
                  shoal_job_t *job)
{
    size_t used;
    shoal_err_t rc = shoal_mp_validate (data, size, lim, &used);
    return rc ? rc : s_decode (data, used, lim, job);
}

shoal_err_t
shoal_job_decode_own (const uint8_t *data, size_t size,
                      const shoal_limits_t *lim, shoal_job_t *job)
{
    return s_decode (data, size, lim, job);
}

/*  The decoding proper: every read is bounds-checked, skips go at most
    lim->depth_max deep. */
static shoal_err_t
s_decode (const uint8_t *data, size_t used, const shoal_limits_t *lim,
          shoal_job_t *job)
{
    shoal_err_t rc = SHOAL_OK;
    memset (job, 0, sizeof *job);
    shoal_rd_t rd;
    shoal_rd_init (&rd, data, used);
    uint32_t n;
    if (shoal_rd_map (&rd, &n)) {
        return SHOAL_ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < n; i++) {
        shoal_mp_val_t k, v;
        if (shoal_rd_next (&rd, &k) || k.type != SHOAL_MP_STR) {
            return SHOAL_ERR_MALFORMED;
        }
        const uint8_t *start = rd.p;
        shoal_rd_t peek = rd;
        if (shoal_rd_next (&peek, &v) || shoal_rd_skip (&rd, lim->depth_max)) {
            return SHOAL_ERR_MALFORMED;
        }
        size_t raw_len = (size_t) (rd.p - start);
        bool is_uint = v.type == SHOAL_MP_UINT;
        if (s_key (&k, "id")) {
            if (v.type != SHOAL_MP_BIN || v.len != 16) {
                return SHOAL_ERR_MALFORMED;
            }
            memcpy (job->id.b, v.ptr, 16);
        } else if (s_key (&k, "q")) {
            rc = s_copy_str (&v, job->queue, sizeof job->queue);
        } else if (s_key (&k, "t")) {
            rc = s_copy_str (&v, job->type, sizeof job->type);
        } else if (s_key (&k, "x")) {
            rc = s_copy_str (&v, job->executor, sizeof job->executor);
        } else if (s_key (&k, "er")) {
            if (v.type != SHOAL_MP_STR) {
                return SHOAL_ERR_MALFORMED;
            }
            size_t len =
                v.len < sizeof job->error - 1 ? v.len : sizeof job->error - 1;
            memcpy (job->error, v.ptr, len);
            job->error[len] = '\0';
        } else if (s_key (&k, "pl")) {
            job->payload = start;
            job->payload_len = raw_len;
        } else if (s_key (&k, "r")) {
            job->result = start;
            job->result_len = raw_len;
        } else if (is_uint && s_key (&k, "p") && v.u < SHOAL_PRIO__COUNT) {
            job->priority = (uint8_t) v.u;
        } else if (is_uint && s_key (&k, "s") && v.u < SHOAL_JOB__COUNT) {
            job->state = (uint8_t) v.u;
        } else if (is_uint && s_key (&k, "a") && v.u <= UINT32_MAX) {
            job->attempt = (uint32_t) v.u;
        } else if (is_uint && s_key (&k, "e")) {
            job->epoch = v.u;
        } else if (is_uint && s_key (&k, "n")) {
            job->seq = v.u;
        } else if (is_uint && s_key (&k, "c")) {
            job->created_us = v.u;
        } else if (is_uint && s_key (&k, "u")) {
            job->updated_us = v.u;
        } else if (is_uint && s_key (&k, "st")) {
            job->started_us = v.u;
        } else if (is_uint && s_key (&k, "f")) {
            job->finished_us = v.u;
        } else if (is_uint && s_key (&k, "ra")) {
            job->run_at_us = v.u;
        } else if (is_uint && s_key (&k, "lx")) {
            job->lease_expires_us = v.u;
        } else if (is_uint && s_key (&k, "to") && v.u <= UINT32_MAX) {
            job->timeout_ms = (uint32_t) v.u;
        } else if (s_key (&k, "af") || s_key (&k, "b")) {
            if (v.type != SHOAL_MP_BIN || v.len != 16) {
                return SHOAL_ERR_MALFORMED;
            }
            bool af = s_key (&k, "af");
            memcpy (af ? job->after.b : job->batch.b, v.ptr, 16);
            *(af ? &job->has_after : &job->in_batch) = true;
        } else if (s_key (&k, "wr")) {
            if (v.type != SHOAL_MP_BIN || v.len != 16) {
                return SHOAL_ERR_MALFORMED;
            }
            memcpy (job->run.b, v.ptr, 16);
            job->in_run = true;
        } else if (is_uint && s_key (&k, "wn") && v.u <= UINT32_MAX) {
            job->node = (uint32_t) v.u;
        } else if (is_uint && s_key (&k, "am") && v.u < SHOAL_AFTER__COUNT) {
            job->after_mode = (uint8_t) v.u;
        } else if (s_key (&k, "rn") && v.type == SHOAL_MP_BOOL) {
            job->running = v.b;
        } else if (s_key (&k, "ec")) {
            rc = s_copy_str (&v, job->error_class, sizeof job->error_class);
        } else if (s_key (&k, "k")) {
            rc = s_copy_str (&v, job->key, sizeof job->key);
        } else if (s_key (&k, "rq")) {
            rc = s_copy_str (&v, job->require, sizeof job->require);
        } else if (s_key (&k, "rp")) {
            if (v.type != SHOAL_MP_MAP) {
                return SHOAL_ERR_MALFORMED;
            }
            job->retry = start;
            job->retry_len = raw_len;
        } else if (s_key (&k, "p") || s_key (&k, "s") || s_key (&k, "a") ||
                   s_key (&k, "e") || s_key (&k, "n") || s_key (&k, "c") ||
                   s_key (&k, "u") || s_key (&k, "st") || s_key (&k, "f") ||
                   s_key (&k, "ra") || s_key (&k, "lx") || s_key (&k, "to") ||
                   s_key (&k, "am")) {
            return SHOAL_ERR_MALFORMED; /* known key, wrong type/range */
        }
        if (rc) {
            return rc;
        }
    }
    return job->queue[0] && job->type[0] && rd.p == rd.end
               ? SHOAL_OK
               : SHOAL_ERR_MALFORMED;
}

size_t
shoal_ready_key (const char *queue, uint8_t prio, uint64_t seq, uint8_t *buf)
{
    size_t qlen = strnlen (queue, SHOAL_NAME_MAX);
    memcpy (buf, queue, qlen);
    buf[qlen] = 0;
    buf[qlen + 1] = prio;
    for (int i = 0; i < 8; i++) {
        buf[qlen + 2 + (size_t) i] = (uint8_t) (seq >> (56 - 8 * i));
    }
    return qlen + 10;
}

shoal_err_t
shoal_ready_key_parse (const void *key, size_t len, char *queue, uint8_t *prio,
                       uint64_t *seq)
{
    const uint8_t *p = key;
    if (len < 11 || len > SHOAL_READY_KEY_MAX) {
        return SHOAL_ERR_INVALID;
    }
    size_t qlen = len - 10;
    if (p[qlen] != 0 || memchr (p, 0, qlen)) {
        return SHOAL_ERR_INVALID;
    }
    if (p[qlen + 1] >= SHOAL_PRIO__COUNT) {
        return SHOAL_ERR_INVALID;
    }
    memcpy (queue, p, qlen);
    queue[qlen] = '\0';
    *prio = p[qlen + 1];
    uint64_t s = 0;
    for (int i = 0; i < 8; i++) {
        s = (s << 8) | p[qlen + 2 + (size_t) i];
    }
    *seq = s;
    return SHOAL_OK;
}
