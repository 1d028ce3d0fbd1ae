/*  shoal_store_queues.c - durable queue settings: pause/resume (a queue
    or the whole host, "*"), concurrency limit, rate limit (GCRA interval
    and burst). The store keeps them in LMDB and tells the scheduler,
    which enforces them; a restarted scheduler gets them all with FILL.

    Record (msgpack array): [paused bool, concurrency uint, interval_us
    uint, burst uint, retry map|nil, keep uint, policy uint]; 0 means no
    limit; retry is the queue's default retry policy (a map,
    shoal_retry_encode) for jobs submitted without one; keep is how many
    finished jobs the queue keeps (retention by count); policy is how the
    scheduler chooses executors for its jobs (shoal_policy_t). Records of
    4 to 6 items from before still load (policy least-loaded); a policy
    this code does not know loads as least-loaded.
*/
#include "shoal_store_int.h"
#include "shoal_gcra.h"
#include "shoal_place.h"
#include "shoal_retry.h"

typedef struct {
    bool paused;
    uint64_t limit;
    uint64_t interval_us;
    uint64_t burst;
    bool has_retry;
    shoal_retry_t retry;
    uint64_t keep;  /* finished jobs kept; 0 = no count limit */
    uint8_t policy; /* shoal_policy_t */
} s_conf_t;

static shoal_err_t
s_conf_get (self_t *self, const char *name, s_conf_t *c)
{
    memset (c, 0, sizeof *c);
    const void *v;
    size_t len;
    shoal_err_t rc = shoal_txn_get (self->txn, SHOAL_DBI_QUEUES, name,
                                    strlen (name), &v, &len);
    if (rc) {
        return rc;
    }
    shoal_rd_t rd;
    shoal_rd_init (&rd, v, len);
    uint32_t n;
    shoal_mp_val_t paused;
    if (shoal_rd_array (&rd, &n) || n < 4 || n > 7 ||
        shoal_rd_next (&rd, &paused) || paused.type != SHOAL_MP_BOOL ||
        shoal_rd_uint (&rd, &c->limit) ||
        shoal_rd_uint (&rd, &c->interval_us) ||
        shoal_rd_uint (&rd, &c->burst)) {
        return SHOAL_ERR_CORRUPT;
    }
    if (n >= 5) {
        const uint8_t *p = rd.p;
        shoal_rd_t peek = rd;
        shoal_mp_val_t first;
        if (shoal_rd_next (&peek, &first) ||
            shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
            return SHOAL_ERR_CORRUPT;
        }
        if (first.type != SHOAL_MP_NIL) {
            if (shoal_retry_decode (p, (size_t) (rd.p - p), &c->retry)) {
                return SHOAL_ERR_CORRUPT;
            }
            c->has_retry = true;
        }
    }
    if (n >= 6 && shoal_rd_uint (&rd, &c->keep)) {
        return SHOAL_ERR_CORRUPT;
    }
    uint64_t policy = SHOAL_POLICY_LEAST_LOADED;
    if (n == 7 && shoal_rd_uint (&rd, &policy)) {
        return SHOAL_ERR_CORRUPT;
    }
    c->policy = policy < SHOAL_POLICY__COUNT ? (uint8_t) policy
                                             : SHOAL_POLICY_LEAST_LOADED;
    c->paused = paused.b;
    return SHOAL_OK;
}

static void
s_conf_write (shoal_wr_t *w, const char *name, const s_conf_t *c)
{
    shoal_wr_array (w, 6);
    shoal_wr_str (w, name);
    shoal_wr_bool (w, c->paused);
    shoal_wr_uint (w, c->limit);
    shoal_wr_uint (w, c->interval_us);
    shoal_wr_uint (w, c->burst);
    shoal_wr_uint (w, c->policy);
}

static void
s_conf_map (shoal_wr_t *w, const char *name, const s_conf_t *c)
{
    char retry[SHOAL_RETRY_STRLEN];
    bool with_retry =
        c->has_retry &&
        shoal_retry_format (&c->retry, retry, sizeof retry) == SHOAL_OK;
    shoal_wr_map (w, 7 + with_retry);
    if (with_retry) {
        shoal_wr_kv_str (w, "retry", retry);
    }
    shoal_wr_kv_str (w, "policy", shoal_policy_name (c->policy));
    shoal_wr_kv_uint (w, "keep", c->keep);
    shoal_wr_kv_str (w, "name", name);
    shoal_wr_kv_bool (w, "paused", c->paused);
    shoal_wr_kv_uint (w, "concurrency", c->limit);
    shoal_wr_kv_uint (w, "rate_interval_us", c->interval_us);
    shoal_wr_kv_uint (w, "burst", c->burst);
}

static shoal_err_t
s_conf_put (self_t *self, const char *name, const s_conf_t *c)
{
    shoal_wr_t *w = shoal_wr_new ();
    if (!w) {
        return SHOAL_ERR_NOMEM;
    }
    shoal_wr_array (w, 7);
    shoal_wr_bool (w, c->paused);
    shoal_wr_uint (w, c->limit);
    shoal_wr_uint (w, c->interval_us);
    shoal_wr_uint (w, c->burst);
    if (c->has_retry) {
        shoal_retry_encode (&c->retry, w);
    } else {
        shoal_wr_nil (w);
    }
    shoal_wr_uint (w, c->keep);
    shoal_wr_uint (w, c->policy);
    shoal_err_t rc = shoal_wr_error (w);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_QUEUES, name, strlen (name),
                            shoal_wr_data (w), shoal_wr_size (w));
    }
    shoal_wr_destroy (&w);
    return rc;
}

/*  Calls fn for every stored queue's settings (unreadable ones are
    skipped); stops at the first error fn returns. */
typedef shoal_err_t (s_conf_fn) (self_t *self, const char *name,
                                 const s_conf_t *c, void *arg);

static shoal_err_t
s_each_conf (self_t *self, s_conf_fn *fn, void *arg)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_QUEUES, &cur);
    if (rc) {
        return rc;
    }
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, NULL, 0, &kv); rc == SHOAL_OK;
         rc = shoal_cursor_next (cur, &kv)) {
        char name[SHOAL_NAME_MAX + 1];
        s_conf_t c;
        if (kv.key_len > SHOAL_NAME_MAX) {
            continue;
        }
        memcpy (name, kv.key, kv.key_len);
        name[kv.key_len] = '\0';
        if (s_conf_get (self, name, &c) != SHOAL_OK) {
            continue;
        }
        shoal_err_t e = fn (self, name, &c, arg);
        if (e) {
            rc = e;
            break;
        }
    }
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

typedef struct {
    shoal_wr_t *items;
    bool as_maps;
    uint32_t n;
} s_write_t;

static shoal_err_t
s_write_one (self_t *self, const char *name, const s_conf_t *c, void *arg)
{
    (void) self;
    s_write_t *wa = arg;
    if (wa->as_maps) {
        s_conf_map (wa->items, name, c);
    } else {
        s_conf_write (wa->items, name, c);
    }
    wa->n++;
    return SHOAL_OK;
}

/*  Writes every stored queue's settings into items, as the scheduler's
    arrays or (for people) as maps; *n counts them. */
static shoal_err_t
s_write_all (self_t *self, shoal_wr_t *items, bool as_maps, uint32_t *n)
{
    s_write_t wa = {items, as_maps, 0};
    shoal_err_t rc = s_each_conf (self, s_write_one, &wa);
    *n = wa.n;
    return rc;
}

/*  Begins a message of type to `to` with {key: [items]} and defers it. */
static shoal_err_t
s_defer_all (self_t *self, uint32_t type, const char *to,
             const shoal_id_t *corr, const char *key, bool as_maps)
{
    shoal_wr_t *items = shoal_wr_new ();
    if (!items) {
        return SHOAL_ERR_NOMEM;
    }
    uint32_t n;
    shoal_err_t rc = s_write_all (self, items, as_maps, &n);
    if (rc == SHOAL_OK) {
        shoal_wr_t *w = shoal_port_begin (self->port, type, to, corr);
        shoal_wr_map (w, corr ? 2 : 1);
        if (corr) {
            shoal_wr_kv_uint (w, "code", SHOAL_OK);
        }
        shoal_wr_str (w, key);
        shoal_wr_array (w, n);
        shoal_wr_raw (w, shoal_wr_data (items), shoal_wr_size (items));
        rc = shoal_port_defer (self->port);
    }
    shoal_wr_destroy (&items);
    return rc;
}

/*  Every queue's settings to the scheduler (FILL), in the outbox. */
shoal_err_t
store_queue_conf_all (self_t *self, const char *to)
{
    return s_defer_all (self, SHOAL_M_QUEUE_CONF, to, NULL, "queues", false);
}

/*  One queue's settings to the scheduler, in the outbox (sent after the
    commit). */
static shoal_err_t
s_tell_scheduler (self_t *self, const char *name, const s_conf_t *c)
{
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUEUE_CONF,
                                      SHOAL_SCHEDULER_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "queues");
    shoal_wr_array (w, 1);
    s_conf_write (w, name, c);
    return shoal_port_defer (self->port);
}

static shoal_err_t
s_reply_conf (self_t *self, shoal_in_t *in, const char *name, const s_conf_t *c)
{
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, "queue");
    s_conf_map (w, name, c);
    shoal_err_t rc = shoal_port_defer (self->port);
    /* and the scheduler enforces it from the next dispatch on */
    return rc ? rc : s_tell_scheduler (self, name, c);
}

shoal_err_t
store_query_queue (self_t *self, shoal_in_t *in, const uint8_t *args,
                   size_t len)
{
    char op[16], name[SHOAL_NAME_MAX + 1] = "*";
    if (shoal_map_strcpy (args, len, "op", op, sizeof op)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "\"op\" must be pause, resume, set or list");
    }
    if (streq (op, "list")) {
        return s_defer_all (self, SHOAL_M_QUERY_REPLY, in->hdr.from,
                            &in->hdr.id, "queues", true);
    }
    shoal_err_t rc = shoal_map_strcpy (args, len, "queue", name, sizeof name);
    if ((rc && rc != SHOAL_ERR_NOT_FOUND) ||
        (rc == SHOAL_OK && !shoal_name_valid (name, strlen (name)))) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "\"queue\" must be a queue name");
    }
    bool host = rc == SHOAL_ERR_NOT_FOUND;
    s_conf_t c;
    rc = s_conf_get (self, name, &c);
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    if (streq (op, "pause") || streq (op, "resume")) {
        c.paused = streq (op, "pause");
    } else if (streq (op, "set") && !host) {
        uint64_t limit = c.limit, burst = c.burst ? c.burst : 1;
        const char *rate;
        uint32_t rlen;
        shoal_err_t e = shoal_map_uint (args, len, "concurrency", &limit);
        if ((e && e != SHOAL_ERR_NOT_FOUND) || limit > 1000000) {
            return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                     SHOAL_ERR_INVALID,
                                     "\"concurrency\" must be 0..1000000");
        }
        e = shoal_map_uint (args, len, "burst", &burst);
        if ((e && e != SHOAL_ERR_NOT_FOUND) || burst < 1 || burst > 1000000) {
            return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                     SHOAL_ERR_INVALID,
                                     "\"burst\" must be 1..1000000");
        }
        uint64_t keep = c.keep;
        e = shoal_map_uint (args, len, "keep", &keep);
        if ((e && e != SHOAL_ERR_NOT_FOUND) || keep > 1000000000) {
            return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                     SHOAL_ERR_INVALID,
                                     "\"keep\" must be 0..1000000000");
        }
        const char *pol;
        uint32_t plen;
        e = shoal_map_str (args, len, "policy", &pol, &plen);
        if ((e && e != SHOAL_ERR_NOT_FOUND) ||
            (e == SHOAL_OK && shoal_policy_parse (pol, plen, &c.policy))) {
            return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                     SHOAL_ERR_INVALID,
                                     "\"policy\" must be least-loaded, "
                                     "round-robin, weighted or random");
        }
        c.limit = limit;
        c.burst = burst;
        c.keep = keep;
        if (shoal_map_str (args, len, "retry", &rate, &rlen) == SHOAL_OK) {
            char text[256], err[160];
            snprintf (text, sizeof text, "%.*s", (int) rlen, rate);
            shoal_retry_t policy;
            if (shoal_retry_parse (text, &policy, err, sizeof err)) {
                char why[200];
                snprintf (why, sizeof why, "\"retry\": %s", err);
                return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                         SHOAL_ERR_INVALID, why);
            }
            c.has_retry = policy.kind != SHOAL_RETRY_NONE;
            c.retry = policy;
        }
        if (shoal_map_str (args, len, "rate", &rate, &rlen) == SHOAL_OK) {
            char text[32];
            snprintf (text, sizeof text, "%.*s", (int) rlen, rate);
            uint64_t interval = 0;
            if (!streq (text, "none") &&
                shoal_gcra_parse_rate (text, &interval)) {
                return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                         SHOAL_ERR_INVALID,
                                         "\"rate\" must be like 100/s, 10/m, "
                                         "5/h or none");
            }
            c.interval_us = interval;
        }
    } else {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 host ? "set needs a queue"
                                      : "\"op\" must be pause, resume, set "
                                        "or list");
    }
    if ((rc = s_conf_put (self, name, &c)) ||
        (!host && (rc = store_keep_set (self, name, c.keep, true)))) {
        return rc;
    }
    if (!host && (rc = store_retain_prune (self, name))) {
        return rc; /* a lower count takes effect at once */
    }
    return s_reply_conf (self, in, name, &c);
}

shoal_err_t
store_queue_retry (self_t *self, const char *queue, shoal_wr_t *out,
                   bool *found)
{
    s_conf_t c;
    *found = false;
    shoal_err_t rc = s_conf_get (self, queue, &c);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return SHOAL_OK;
    }
    if (rc == SHOAL_OK && c.has_retry) {
        shoal_wr_reset (out);
        shoal_retry_encode (&c.retry, out);
        rc = shoal_wr_error (out);
        *found = rc == SHOAL_OK;
    }
    return rc;
}

static shoal_err_t
s_load_keep (self_t *self, const char *name, const s_conf_t *c, void *arg)
{
    (void) arg;
    return c->keep ? store_keep_set (self, name, c->keep, true) : SHOAL_OK;
}

shoal_err_t
store_queues_load (self_t *self)
{
    return s_each_conf (self, s_load_keep, NULL);
}

shoal_err_t
store_queue_limits_set (self_t *self, const char *name, uint64_t limit,
                        uint64_t interval_us, uint64_t burst, bool if_absent)
{
    s_conf_t c;
    shoal_err_t rc = s_conf_get (self, name, &c);
    if (rc == SHOAL_OK && if_absent) {
        return SHOAL_OK;
    }
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    if (rc == SHOAL_OK && c.limit == limit && c.interval_us == interval_us &&
        c.burst == burst) {
        return SHOAL_OK; /* unchanged: nothing to write or tell */
    }
    c.limit = limit;
    c.interval_us = interval_us;
    c.burst = burst;
    if ((rc = s_conf_put (self, name, &c))) {
        return rc;
    }
    return s_tell_scheduler (self, name, &c);
}
