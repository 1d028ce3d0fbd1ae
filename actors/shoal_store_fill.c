/*  shoal_store_fill.c - the scheduler's window over the ready index.

    The scheduler keeps at most `max` ready ids per queue and priority in
    memory; the rest wait in LMDB. FILL asks for more:

        {gen, max, queue, prio, after}   the next max ids of that queue and
                                         priority with seq > after
        {gen, max}                       up to max ids of every queue and
                                         priority (a scheduler starting)

    The answer is one or more JOBS_READY {fill: true, gen, done, jobs:
    [[id, queue, prio, seq, require?]...], ends: [[queue, prio,
    more]...]}: each
    (queue, prio) read is ended in the message that carries its last ids,
    with more = whether the index holds further ids after them. It is read
    inside the batch's transaction, so it is exact as of the commit: any
    job that became ready in an earlier pass is either in it or already
    in the scheduler's hands, and any later one arrives after it as a
    plain JOBS_READY.
*/
#include "shoal_store_int.h"

typedef struct {
    self_t *self;
    shoal_in_t *in;
    uint64_t gen;
    shoal_wr_t *jobs; /* items of the message being built */
    uint32_t njobs;
    shoal_wr_t *ends;
    uint32_t nends;
} s_fill_t;

static shoal_err_t
s_flush (s_fill_t *f, bool done)
{
    shoal_wr_t *w = shoal_port_begin (f->self->port, SHOAL_M_JOBS_READY,
                                      f->in->hdr.from, &f->in->hdr.id);
    shoal_wr_map (w, 5);
    shoal_wr_kv_bool (w, "fill", true);
    shoal_wr_kv_uint (w, "gen", f->gen);
    shoal_wr_kv_bool (w, "done", done);
    shoal_wr_str (w, "jobs");
    shoal_wr_array (w, f->njobs);
    shoal_wr_raw (w, shoal_wr_data (f->jobs), shoal_wr_size (f->jobs));
    shoal_wr_str (w, "ends");
    shoal_wr_array (w, f->nends);
    shoal_wr_raw (w, shoal_wr_data (f->ends), shoal_wr_size (f->ends));
    shoal_wr_reset (f->jobs);
    shoal_wr_reset (f->ends);
    f->njobs = f->nends = 0;
    return shoal_port_defer (f->self->port);
}

static shoal_err_t
s_add_job (s_fill_t *f, const shoal_kv_t *kv, const char *queue, uint8_t prio,
           uint64_t seq)
{
    /* The value is the id and, since labels exist, what the job
       requires (a comma list; nothing for most jobs and older entries). */
    size_t rlen = kv->val_len - 16;
    shoal_wr_array (f->jobs, 4 + (rlen > 0));
    shoal_wr_bin (f->jobs, kv->val, 16);
    shoal_wr_str (f->jobs, queue);
    shoal_wr_uint (f->jobs, prio);
    shoal_wr_uint (f->jobs, seq);
    if (rlen > 0) {
        shoal_wr_strn (f->jobs, (const char *) kv->val + 16, rlen);
    }
    f->njobs++;
    return f->njobs == S_FILL_CHUNK ? s_flush (f, false) : SHOAL_OK;
}

static void
s_add_end (s_fill_t *f, const char *queue, uint8_t prio, bool more)
{
    shoal_wr_array (f->ends, 3);
    shoal_wr_str (f->ends, queue);
    shoal_wr_uint (f->ends, prio);
    shoal_wr_bool (f->ends, more);
    f->nends++;
}

/*  Reads up to max ids of one (queue, prio), the cursor on its first
    entry (rc from the seek); leaves the cursor past them, *rc_p the
    state of that position. */
static shoal_err_t
s_fill_one (s_fill_t *f, shoal_cursor_t *cur, shoal_kv_t *kv, shoal_err_t *rc_p,
            const char *queue, uint8_t prio, uint64_t max)
{
    uint64_t n = 0;
    shoal_err_t rc = *rc_p;
    bool more = false;
    while (rc == SHOAL_OK) {
        char q[SHOAL_NAME_MAX + 1];
        uint8_t p;
        uint64_t seq;
        if (shoal_ready_key_parse (kv->key, kv->key_len, q, &p, &seq) ||
            kv->val_len < 16 || kv->val_len >= 16 + SHOAL_REQUIRE_TEXT_MAX) {
            rc = shoal_cursor_next (cur, kv); /* not a ready entry */
            continue;
        }
        if (p != prio || !streq (q, queue)) {
            break;
        }
        if (n == max) {
            more = true;
            break;
        }
        shoal_err_t e = s_add_job (f, kv, queue, prio, seq);
        if (e) {
            return e;
        }
        n++;
        rc = shoal_cursor_next (cur, kv);
    }
    *rc_p = rc;
    s_add_end (f, queue, prio, more);
    return SHOAL_OK;
}

static shoal_err_t
s_fill (s_fill_t *f, shoal_cursor_t *cur, uint64_t max, const char *queue,
        uint64_t prio, uint64_t after)
{
    shoal_kv_t kv;
    shoal_err_t rc;
    if (queue) {
        uint8_t key[SHOAL_READY_KEY_MAX];
        size_t klen =
            shoal_ready_key (queue, (uint8_t) prio,
                             after == UINT64_MAX ? after : after + 1, key);
        rc = shoal_cursor_seek (cur, key, klen, &kv);
        shoal_err_t e =
            s_fill_one (f, cur, &kv, &rc, queue, (uint8_t) prio, max);
        if (e) {
            return e;
        }
    } else {
        rc = shoal_cursor_seek (cur, NULL, 0, &kv);
        while (rc == SHOAL_OK) {
            char q[SHOAL_NAME_MAX + 1];
            uint8_t p;
            uint64_t seq;
            if (shoal_ready_key_parse (kv.key, kv.key_len, q, &p, &seq)) {
                rc = shoal_cursor_next (cur, &kv);
                continue;
            }
            shoal_err_t e = s_fill_one (f, cur, &kv, &rc, q, p, max);
            if (e) {
                return e;
            }
            if (rc == SHOAL_OK) {
                /* Skip the rest of this (queue, prio) in one seek. */
                char nq[SHOAL_NAME_MAX + 1];
                uint8_t np;
                if (shoal_ready_key_parse (kv.key, kv.key_len, nq, &np, &seq) ==
                        SHOAL_OK &&
                    np == p && streq (nq, q)) {
                    uint8_t key[SHOAL_READY_KEY_MAX];
                    size_t klen = shoal_ready_key (q, p, UINT64_MAX, key);
                    rc = shoal_cursor_seek (cur, key, klen, &kv);
                    if (rc == SHOAL_OK && kv.key_len == klen &&
                        memcmp (kv.key, key, klen) == 0) {
                        rc = shoal_cursor_next (cur, &kv);
                    }
                }
            }
        }
    }
    if (rc != SHOAL_ERR_NOT_FOUND && rc != SHOAL_OK) {
        return rc;
    }
    return s_flush (f, true);
}

shoal_err_t
store_apply_fill (self_t *self, shoal_in_t *in)
{
    uint64_t gen = 0, max = 0, prio = 0, after = 0;
    const char *qname = NULL;
    uint32_t qlen = 0;
    shoal_map_uint (in->body, in->body_len, "gen", &gen);
    if (shoal_map_uint (in->body, in->body_len, "max", &max) || max == 0 ||
        max > UINT32_MAX) {
        max = UINT32_MAX; /* an old scheduler: everything */
    }
    char queue[SHOAL_NAME_MAX + 1];
    bool one = shoal_map_str (in->body, in->body_len, "queue", &qname, &qlen) ==
               SHOAL_OK;
    if (one) {
        if (qlen == 0 || qlen > SHOAL_NAME_MAX ||
            shoal_map_uint (in->body, in->body_len, "prio", &prio) ||
            prio >= SHOAL_PRIO__COUNT ||
            shoal_map_uint (in->body, in->body_len, "after", &after) ||
            memchr (qname, 0, qlen)) {
            shoal_warn ("store: malformed FILL from %s", in->hdr.from);
            return SHOAL_OK;
        }
        memcpy (queue, qname, qlen);
        queue[qlen] = '\0';
    } else {
        /* Settings first: the scheduler must not lease from a paused
           queue. */
        shoal_err_t rc = store_queue_conf_all (self, in->hdr.from);
        if (rc) {
            return rc;
        }
    }
    s_fill_t f = {.self = self, .in = in, .gen = gen};
    f.jobs = shoal_wr_new ();
    f.ends = shoal_wr_new ();
    shoal_cursor_t *cur = NULL;
    shoal_err_t rc = f.jobs && f.ends ? SHOAL_OK : SHOAL_ERR_NOMEM;
    if (rc == SHOAL_OK) {
        rc = shoal_cursor_open (self->txn, SHOAL_DBI_READY, &cur);
    }
    if (rc == SHOAL_OK) {
        rc = s_fill (&f, cur, max, one ? queue : NULL, prio, after);
    }
    shoal_cursor_close (&cur);
    shoal_wr_destroy (&f.jobs);
    shoal_wr_destroy (&f.ends);
    return rc;
}
