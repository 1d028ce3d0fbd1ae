/*  shoal_control.c - validates client requests, batches them to the
    store, and answers each client once.

    Design: one drain loop over the client ROUTER collects up to S_DRAIN
    requests; SUBMITs among them become one STORE_SUBMIT (items in arrival
    order) and one pending entry that remembers each client envelope in
    the same order, so the store's STORE_ACKS maps back by position.
    Queries travel one per message. Store replies are passed to clients
    without re-encoding their bodies (the QUERY_REPLY body already has the
    reply's shape).

    Deliberately not here: durable state (the store has it) and any wait
    for the store inside the drain loop: the actor never blocks on a
    reply, so one slow request cannot stall others.
*/
#include "shoal_control.h"
#include "shoal_registry.h"
#include "shoal_scheduler.h"
#include "shoal_store.h"

#include "shoal_actor.h"
#include "shoal_curve.h"
#include "shoal_endpoint.h"
#include "shoal_event.h"
#include "shoal_job.h"
#include "shoal_json.h"
#include "shoal_labels.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"
#include "shoal_retry.h"
#include "shoal_version.h"

#include <errno.h>
#include <string.h>

#define S_DRAIN       1024
#define S_IDENT_MAX   255
#define S_SWEEP_MS    500
#define S_WAIT_MAX_MS (3600u * 1000u)

/*  Who asked: enough to send the reply back. */
typedef struct {
    uint8_t ident[S_IDENT_MAX];
    uint8_t ident_len;
    bool delim; /* REQ client: echo the empty delimiter */
    shoal_id_t req_id;
    char from[SHOAL_NAME_MAX + 1];
} s_env_t;

typedef struct {
    uint32_t type; /* SUBMIT or the query's request type */
    uint64_t expires_ms;
    uint32_t n;
    s_env_t *envs;       /* n envelopes, in item order */
    shoal_id_t *job_ids; /* SUBMIT: the ids given to the jobs */
} s_pending_t;

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    zsock_t *router;
    void *router_h;
    shoal_wr_t *reply; /* client replies */
    shoal_wr_t *items; /* STORE_SUBMIT items being collected */
    uint32_t nitems;
    s_env_t *batch_envs;
    shoal_id_t *batch_ids;
    zhashx_t *pending; /* hex(msg id) -> s_pending_t */
    shoal_idgen_t ids;
    shoal_limits_t lim;
    bool verbose;
    bool terminated;
    uint64_t started_ms;
    uint64_t pending_timeout_ms;
    uint64_t next_sweep_ms;
    char monitor[256];
    char endpoint[256]; /* our own, for the started event */
    char sync[8];
    uint64_t bad_frames;
} self_t;

static uint64_t
s_now_ms (void)
{
    return (uint64_t) zclock_mono ();
}

static void
s_pending_free (void **item)
{
    s_pending_t *p = *item;
    if (p) {
        free (p->envs);
        free (p->job_ids);
        free (p);
        *item = NULL;
    }
}

/*  ---------------------------------------------------------------------
    Replies to clients */

static shoal_wr_t *
s_reply_begin (self_t *self, const s_env_t *env, uint32_t type)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = type;
    snprintf (hdr.to, sizeof hdr.to, "%s", env->from);
    strcpy (hdr.from, "control");
    uint64_t now_us = shoal_clock_now_us (shoal_port_clock (self->port));
    shoal_idgen_next (&self->ids, now_us / 1000, &hdr.id);
    hdr.ts_us = now_us;
    hdr.has_corr = !shoal_id_is_zero (&env->req_id);
    hdr.corr = env->req_id;
    shoal_frame_begin (self->reply, &hdr);
    return self->reply;
}

static void
s_reply_send (self_t *self, const s_env_t *env)
{
    if (shoal_frame_end (self->reply, SHOAL_BUS_FRAME_MAX) != SHOAL_OK) {
        /* An over-size answer (a huge result): say so instead. */
        shoal_wr_t *w = s_reply_begin (self, env, SHOAL_M_ERROR);
        shoal_wr_map (w, 2);
        shoal_wr_kv_uint (w, "code", SHOAL_ERR_TOO_LARGE);
        shoal_wr_kv_str (w, "text", "reply too large");
    }
    /* A vanished client makes these fail; its reply is simply dropped. */
    if (zmq_send (self->router_h, env->ident, env->ident_len,
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        return;
    }
    if (env->delim) {
        zmq_send (self->router_h, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    }
    zmq_send (self->router_h, shoal_wr_data (self->reply),
              shoal_wr_size (self->reply), ZMQ_DONTWAIT);
}

static void
s_reply_error (self_t *self, const s_env_t *env, shoal_err_t code,
               const char *text)
{
    shoal_wr_t *w = s_reply_begin (self, env, SHOAL_M_ERROR);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", (uint64_t) code);
    shoal_wr_kv_str (w, "text", text);
    s_reply_send (self, env);
}

/*  Replies with type and a body that is already msgpack. */
static void
s_reply_raw (self_t *self, const s_env_t *env, uint32_t type,
             const uint8_t *body, size_t len)
{
    shoal_wr_t *w = s_reply_begin (self, env, type);
    shoal_wr_raw (w, body, len);
    s_reply_send (self, env);
}

/*  ---------------------------------------------------------------------
    Pending requests */

static shoal_err_t
s_pending_add (self_t *self, const shoal_id_t *msg_id, uint32_t type,
               s_env_t *envs, shoal_id_t *job_ids, uint32_t n,
               uint64_t deadline_ms)
{
    s_pending_t *p = calloc (1, sizeof *p);
    if (!p) {
        return SHOAL_ERR_NOMEM;
    }
    p->type = type;
    p->n = n;
    p->envs = envs;
    p->job_ids = job_ids;
    p->expires_ms =
        (deadline_ms ? deadline_ms : s_now_ms ()) + self->pending_timeout_ms;
    char key[SHOAL_ID_TEXT];
    shoal_id_format (msg_id, key);
    if (zhashx_insert (self->pending, key, p) != 0) {
        p->envs = NULL;
        p->job_ids = NULL;
        free (p);
        return SHOAL_ERR_STATE;
    }
    return SHOAL_OK;
}

static s_pending_t *
s_pending_take (self_t *self, const shoal_id_t *corr)
{
    char key[SHOAL_ID_TEXT];
    shoal_id_format (corr, key);
    s_pending_t *p = zhashx_lookup (self->pending, key);
    if (p) {
        zhashx_delete (self->pending, key); /* no destructor: p is ours */
    }
    return p;
}

static void
s_sweep (self_t *self)
{
    uint64_t now = s_now_ms ();
    zlistx_t *keys = zhashx_keys (self->pending);
    if (!keys) {
        return;
    }
    for (char *key = zlistx_first (keys); key; key = zlistx_next (keys)) {
        s_pending_t *p = zhashx_lookup (self->pending, key);
        if (p && p->expires_ms <= now) {
            for (uint32_t i = 0; i < p->n; i++) {
                s_reply_error (self, &p->envs[i], SHOAL_ERR_TIMEOUT,
                               "no answer from the store in time; the "
                               "outcome is unknown");
            }
            zhashx_delete (self->pending, key);
            s_pending_free ((void **) &p);
        }
    }
    zlistx_destroy (&keys);
}

/*  ---------------------------------------------------------------------
    Requests */

static void
s_flush_submits (self_t *self)
{
    if (self->nitems == 0) {
        return;
    }
    shoal_id_t msg_id;
    shoal_port_new_id (self->port, &msg_id);
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_STORE_SUBMIT;
    hdr.id = msg_id;
    strcpy (hdr.to, SHOAL_STORE_NAME);
    shoal_wr_t *w = shoal_port_begin_hdr (self->port, &hdr);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, self->nitems);
    shoal_wr_raw (w, shoal_wr_data (self->items), shoal_wr_size (self->items));
    s_env_t *envs = self->batch_envs;
    uint32_t n = self->nitems;
    shoal_err_t rc = s_pending_add (self, &msg_id, SHOAL_M_SUBMIT, envs,
                                    self->batch_ids, n, 0);
    if (rc) {
        for (uint32_t i = 0; i < n; i++) {
            s_reply_error (self, &envs[i], rc, "control: out of memory");
        }
        free (envs);
        free (self->batch_ids);
    } else if ((rc = shoal_port_send (self->port))) {
        s_pending_t *p = s_pending_take (self, &msg_id);
        for (uint32_t i = 0; p && i < p->n; i++) {
            s_reply_error (self, &p->envs[i], SHOAL_ERR_UNREACHABLE,
                           "cannot reach the store");
        }
        s_pending_free ((void **) &p);
    }
    self->batch_envs = NULL;
    self->batch_ids = NULL;
    self->nitems = 0;
    shoal_wr_reset (self->items);
}

static bool
s_batch_room (self_t *self)
{
    if (!self->batch_envs) {
        self->batch_envs = malloc (S_DRAIN * sizeof *self->batch_envs);
        self->batch_ids = malloc (S_DRAIN * sizeof *self->batch_ids);
        if (!self->batch_envs || !self->batch_ids) {
            free (self->batch_envs);
            free (self->batch_ids);
            self->batch_envs = NULL;
            self->batch_ids = NULL;
            return false;
        }
    }
    return true;
}

/*  The optional parts of a SUBMIT: idempotency key, delay or start
    time, timeout, retry policy. */
typedef struct {
    char key[SHOAL_KEY_MAX + 1];
    uint64_t run_at_us;
    uint32_t timeout_ms;
    bool has_retry;
    shoal_retry_t retry;
    bool has_after; /* a continuation of job or batch `after` */
    shoal_id_t after;
    uint8_t after_mode;
} s_submit_opts_t;

static shoal_err_t
s_submit_opts (self_t *self, const uint8_t *body, size_t len,
               s_submit_opts_t *o, char *why, size_t why_cap)
{
    memset (o, 0, sizeof *o);
    shoal_err_t rc = shoal_map_strcpy (body, len, "key", o->key, sizeof o->key);
    if ((rc && rc != SHOAL_ERR_NOT_FOUND) || (rc == SHOAL_OK && !o->key[0])) {
        snprintf (why, why_cap, "\"key\" must be a string of 1-%d bytes",
                  SHOAL_KEY_MAX);
        return SHOAL_ERR_INVALID;
    }
    uint64_t delay_ms = 0, run_at = 0, timeout = 0;
    shoal_err_t d = shoal_map_uint (body, len, "delay_ms", &delay_ms);
    shoal_err_t a = shoal_map_uint (body, len, "run_at_us", &run_at);
    shoal_err_t t = shoal_map_uint (body, len, "timeout_ms", &timeout);
    if ((d && d != SHOAL_ERR_NOT_FOUND) || (a && a != SHOAL_ERR_NOT_FOUND) ||
        (d == SHOAL_OK && a == SHOAL_OK) ||
        delay_ms > 10ull * 365 * 86400 * 1000) {
        snprintf (why, why_cap,
                  "use either \"delay_ms\" or \"run_at_us\" "
                  "(unsigned integers)");
        return SHOAL_ERR_INVALID;
    }
    if ((t && t != SHOAL_ERR_NOT_FOUND) || timeout > UINT32_MAX) {
        snprintf (why, why_cap, "\"timeout_ms\" must be 1..%u", UINT32_MAX);
        return SHOAL_ERR_INVALID;
    }
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    o->run_at_us = d == SHOAL_OK ? now + delay_ms * 1000 : run_at;
    o->timeout_ms = (uint32_t) timeout;
    const char *rp;
    uint32_t rplen;
    rc = shoal_map_str (body, len, "retry", &rp, &rplen);
    if (rc == SHOAL_OK) {
        char text[256];
        if (rplen >= sizeof text) {
            snprintf (why, why_cap, "\"retry\" policy too long");
            return SHOAL_ERR_INVALID;
        }
        memcpy (text, rp, rplen);
        text[rplen] = '\0';
        char err[128];
        if (shoal_retry_parse (text, &o->retry, err, sizeof err)) {
            snprintf (why, why_cap, "\"retry\": %s", err);
            return SHOAL_ERR_INVALID;
        }
        o->has_retry = true;
    } else if (rc != SHOAL_ERR_NOT_FOUND) {
        snprintf (why, why_cap, "\"retry\" must be a policy string");
        return SHOAL_ERR_INVALID;
    }
    const char *af;
    uint32_t aflen;
    rc = shoal_map_str (body, len, "after", &af, &aflen);
    if (rc == SHOAL_OK && shoal_id_parse (af, aflen, &o->after) == SHOAL_OK) {
        o->has_after = true;
    } else if (rc != SHOAL_ERR_NOT_FOUND) {
        snprintf (why, why_cap,
                  "\"after\" must be a job or batch id (32 hex digits)");
        return SHOAL_ERR_INVALID;
    }
    const char *mode;
    uint32_t mlen;
    rc = shoal_map_str (body, len, "after_mode", &mode, &mlen);
    if ((rc && rc != SHOAL_ERR_NOT_FOUND) ||
        (rc == SHOAL_OK &&
         (!o->has_after ||
          shoal_after_mode_parse (mode, mlen, &o->after_mode)))) {
        snprintf (why, why_cap,
                  "\"after_mode\" must be \"success\" or \"any\", with "
                  "\"after\"");
        return SHOAL_ERR_INVALID;
    }
    return SHOAL_OK;
}

/*  Validates one job (a SUBMIT body, or one job of a BATCH) and appends
    its STORE_SUBMIT item with a new id to wr. INVALID with why on a bad
    job; a batch's jobs take no key or after (the batch has them). */
static shoal_err_t
s_encode_job (self_t *self, const uint8_t *body, size_t len, bool in_batch,
              shoal_wr_t *wr, shoal_id_t *id, char *why, size_t why_cap)
{
    char type[SHOAL_NAME_MAX + 1];
    char queue[SHOAL_NAME_MAX + 1] = "default";
    shoal_err_t rc = shoal_map_strcpy (body, len, "type", type, sizeof type);
    if (rc || !shoal_name_valid (type, strlen (type))) {
        snprintf (why, why_cap,
                  "submit needs \"type\": 1-64 characters of "
                  "A-Z a-z 0-9 . _ : -");
        return SHOAL_ERR_INVALID;
    }
    rc = shoal_map_strcpy (body, len, "queue", queue, sizeof queue);
    if ((rc && rc != SHOAL_ERR_NOT_FOUND) ||
        !shoal_name_valid (queue, strlen (queue))) {
        snprintf (why, why_cap,
                  "\"queue\" must be 1-64 characters of "
                  "A-Z a-z 0-9 . _ : -");
        return SHOAL_ERR_INVALID;
    }
    uint8_t prio = SHOAL_PRIO_NORMAL;
    shoal_mp_val_t v;
    if (shoal_map_find (body, len, "priority", &v, NULL, NULL) == SHOAL_OK) {
        bool ok = (v.type == SHOAL_MP_STR &&
                   shoal_prio_parse ((const char *) v.ptr, v.len, &prio) ==
                       SHOAL_OK) ||
                  (v.type == SHOAL_MP_UINT && v.u < SHOAL_PRIO__COUNT);
        if (!ok) {
            snprintf (why, why_cap,
                      "\"priority\" must be critical, high, normal or low");
            return SHOAL_ERR_INVALID;
        }
        if (v.type == SHOAL_MP_UINT) {
            prio = (uint8_t) v.u;
        }
    }
    const uint8_t *pl = NULL;
    size_t pl_len = 0;
    shoal_map_find (body, len, "payload", &v, &pl, &pl_len);
    s_submit_opts_t o;
    if (s_submit_opts (self, body, len, &o, why, why_cap)) {
        return SHOAL_ERR_INVALID;
    }
    /* Labels an executor must have to run the job: checked here, so the
       store and the scheduler see only canonical lists. */
    char require[SHOAL_REQUIRE_TEXT_MAX];
    rc = shoal_labels_from_map (body, len, "require", SHOAL_REQUIRE_MAX,
                                require, sizeof require);
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        snprintf (why, why_cap,
                  "\"require\" must be an array of at most %d labels, each "
                  "1-%d characters of A-Z a-z 0-9 . _ -",
                  SHOAL_REQUIRE_MAX, SHOAL_LABEL_MAX);
        return SHOAL_ERR_INVALID;
    }
    if (in_batch && (o.key[0] || o.has_after)) {
        snprintf (why, why_cap,
                  "a job in a batch takes no \"key\" or \"after\" (give the "
                  "batch its key; name the batch in a continuation)");
        return SHOAL_ERR_INVALID;
    }
    shoal_idgen_next (&self->ids,
                      shoal_clock_now_ms (shoal_port_clock (self->port)), id);
    shoal_wr_map (wr, 4 + (pl != NULL) + (o.key[0] != '\0') +
                          (o.run_at_us != 0) + (o.timeout_ms != 0) +
                          o.has_retry + 2 * o.has_after + (require[0] != '\0'));
    shoal_wr_kv_bin (wr, "id", id->b, 16);
    shoal_wr_kv_str (wr, "q", queue);
    shoal_wr_kv_str (wr, "t", type);
    shoal_wr_kv_uint (wr, "p", prio);
    if (pl) {
        shoal_wr_kv_raw (wr, "pl", pl, pl_len);
    }
    if (o.key[0]) {
        shoal_wr_kv_str (wr, "k", o.key);
    }
    if (o.run_at_us) {
        shoal_wr_kv_uint (wr, "ra", o.run_at_us);
    }
    if (o.timeout_ms) {
        shoal_wr_kv_uint (wr, "to", o.timeout_ms);
    }
    if (o.has_retry) {
        shoal_wr_str (wr, "rp");
        shoal_retry_encode (&o.retry, wr);
    }
    if (o.has_after) {
        shoal_wr_kv_bin (wr, "af", o.after.b, 16);
        shoal_wr_kv_uint (wr, "am", o.after_mode);
    }
    if (require[0]) {
        shoal_wr_kv_str (wr, "rq", require);
    }
    return SHOAL_OK;
}

static void
s_handle_submit (self_t *self, const s_env_t *env, const uint8_t *body,
                 size_t len)
{
    /* Keep a batch within one bus frame: flush before it would outgrow
       it (one client frame is at most a quarter of a bus frame). */
    if (shoal_wr_size (self->items) + len > SHOAL_BUS_FRAME_MAX - len - 1024) {
        s_flush_submits (self);
    }
    if (!s_batch_room (self)) {
        s_reply_error (self, env, SHOAL_ERR_NOMEM, "out of memory");
        return;
    }
    /* A refused job leaves nothing in items: the map is written last. */
    shoal_id_t id;
    char why[200];
    shoal_err_t rc = s_encode_job (self, body, len, false, self->items, &id,
                                   why, sizeof why);
    if (rc) {
        s_reply_error (self, env, rc, why);
        return;
    }
    self->batch_envs[self->nitems] = *env;
    self->batch_ids[self->nitems] = id;
    self->nitems++;
    if (self->nitems == S_DRAIN) {
        s_flush_submits (self);
    }
}

/*  BATCH {jobs: [job, ...], key?}: every job validated here, then one
    QUERY {op: "batch", bid, k?, items} that the store commits whole or
    not at all. */
static void
s_handle_batch (self_t *self, const s_env_t *env, const uint8_t *body,
                size_t len)
{
    shoal_rd_t rd;
    uint32_t n;
    char key[SHOAL_KEY_MAX + 1] = "";
    shoal_err_t k = shoal_map_strcpy (body, len, "key", key, sizeof key);
    if ((k && k != SHOAL_ERR_NOT_FOUND) || (k == SHOAL_OK && !key[0])) {
        char text[64];
        snprintf (text, sizeof text, "\"key\" must be a string of 1-%d bytes",
                  SHOAL_KEY_MAX);
        s_reply_error (self, env, SHOAL_ERR_INVALID, text);
        return;
    }
    if (shoal_map_array (body, len, "jobs", &rd, &n) || n == 0 ||
        n > SHOAL_BATCH_MAX) {
        char text[80];
        snprintf (text, sizeof text,
                  "batch needs \"jobs\": an array of 1-%d jobs",
                  SHOAL_BATCH_MAX);
        s_reply_error (self, env, SHOAL_ERR_INVALID, text);
        return;
    }
    shoal_wr_t *items = shoal_wr_new ();
    s_env_t *copy = malloc (sizeof *copy);
    if (!items || !copy) {
        shoal_wr_destroy (&items);
        free (copy);
        s_reply_error (self, env, SHOAL_ERR_NOMEM, "out of memory");
        return;
    }
    *copy = *env;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *job = rd.p;
        shoal_mp_val_t v;
        shoal_rd_t peek = rd;
        shoal_id_t id;
        char why[200], text[240];
        shoal_err_t rc = shoal_rd_next (&peek, &v);
        if (rc == SHOAL_OK && v.type != SHOAL_MP_MAP) {
            snprintf (why, sizeof why, "not a map");
            rc = SHOAL_ERR_INVALID;
        }
        if (rc == SHOAL_OK && shoal_rd_skip (&rd, self->lim.depth_max)) {
            snprintf (why, sizeof why, "malformed");
            rc = SHOAL_ERR_MALFORMED;
        }
        if (rc == SHOAL_OK) {
            rc = s_encode_job (self, job, (size_t) (rd.p - job), true, items,
                               &id, why, sizeof why);
        }
        if (rc) {
            snprintf (text, sizeof text, "job %u: %s", i, why);
            s_reply_error (self, env, rc, text);
            shoal_wr_destroy (&items);
            free (copy);
            return;
        }
    }
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_QUERY;
    shoal_port_new_id (self->port, &hdr.id);
    strcpy (hdr.to, SHOAL_STORE_NAME);
    shoal_id_t msg_id = hdr.id, bid;
    shoal_idgen_next (&self->ids,
                      shoal_clock_now_ms (shoal_port_clock (self->port)), &bid);
    shoal_wr_t *w = shoal_port_begin_hdr (self->port, &hdr);
    shoal_wr_map (w, 3 + (key[0] != '\0'));
    shoal_wr_kv_str (w, "op", "batch");
    shoal_wr_kv_bin (w, "bid", bid.b, 16);
    if (key[0]) {
        shoal_wr_kv_str (w, "k", key);
    }
    shoal_wr_str (w, "items");
    shoal_wr_array (w, n);
    shoal_wr_raw (w, shoal_wr_data (items), shoal_wr_size (items));
    shoal_wr_destroy (&items);
    if (s_pending_add (self, &msg_id, SHOAL_M_BATCH, copy, NULL, 1, 0)) {
        free (copy);
        s_reply_error (self, env, SHOAL_ERR_NOMEM, "out of memory");
        return;
    }
    shoal_err_t rc = shoal_port_send (self->port);
    if (rc) {
        s_pending_t *p = s_pending_take (self, &msg_id);
        s_reply_error (self, env,
                       rc == SHOAL_ERR_TOO_LARGE ? rc : SHOAL_ERR_UNREACHABLE,
                       rc == SHOAL_ERR_TOO_LARGE ? "batch too large"
                                                 : "store unreachable");
        s_pending_free ((void **) &p);
    }
}

/*  STATUS, WAIT, STATS: one QUERY to the store each. */
static void
s_handle_query (self_t *self, const s_env_t *env, uint32_t type,
                const uint8_t *body, size_t len, uint64_t deadline_us)
{
    const char *op = type == SHOAL_M_STATS    ? "stats"
                     : type == SHOAL_M_STATUS ? "status"
                                              : "wait";
    shoal_id_t job;
    if (type != SHOAL_M_STATS) {
        const char *text;
        uint32_t tlen;
        if (shoal_map_str (body, len, "id", &text, &tlen) ||
            shoal_id_parse (text, tlen, &job)) {
            s_reply_error (self, env, SHOAL_ERR_INVALID,
                           "\"id\" must be a job or batch id (32 hex "
                           "digits)");
            return;
        }
    }
    uint64_t now_us = shoal_clock_now_us (shoal_port_clock (self->port));
    uint64_t deadline_ms = 0;
    if (type == SHOAL_M_WAIT) {
        /* A wait is bounded: the client's deadline, capped at an hour. */
        uint64_t cap = now_us + (uint64_t) S_WAIT_MAX_MS * 1000;
        if (deadline_us == 0 || deadline_us > cap) {
            deadline_us = cap;
        }
        deadline_ms =
            s_now_ms () +
            (deadline_us > now_us ? (deadline_us - now_us) / 1000 : 0);
    } else {
        deadline_us = 0;
    }
    s_env_t *copy = malloc (sizeof *copy);
    if (!copy) {
        s_reply_error (self, env, SHOAL_ERR_NOMEM, "out of memory");
        return;
    }
    *copy = *env;
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_QUERY;
    shoal_port_new_id (self->port, &hdr.id);
    hdr.deadline_us = deadline_us;
    /* STATS {queues: true}: the scheduler knows depths and in-flight. */
    bool queues = false;
    if (type == SHOAL_M_STATS) {
        shoal_map_bool (body, len, "queues", &queues);
    }
    strcpy (hdr.to, queues ? SHOAL_SCHEDULER_NAME : SHOAL_STORE_NAME);
    shoal_id_t msg_id = hdr.id;
    shoal_wr_t *w = shoal_port_begin_hdr (self->port, &hdr);
    shoal_wr_map (w, type == SHOAL_M_STATS ? 1 : 2);
    shoal_wr_kv_str (w, "op", queues ? "queues" : op);
    if (type != SHOAL_M_STATS) {
        shoal_wr_kv_bin (w, "id", job.b, 16);
    }
    if (s_pending_add (self, &msg_id, type, copy, NULL, 1, deadline_ms)) {
        free (copy);
        s_reply_error (self, env, SHOAL_ERR_NOMEM, "out of memory");
        return;
    }
    if (shoal_port_send (self->port)) {
        s_pending_t *p = s_pending_take (self, &msg_id);
        s_reply_error (self, env, SHOAL_ERR_UNREACHABLE, "store unreachable");
        s_pending_free ((void **) &p);
    }
}

/*  LIST and DLQ: the client's body travels to the store as the query's
    args, untouched (the store validates it). */
static void
s_handle_passthrough (self_t *self, const s_env_t *env, uint32_t type,
                      const uint8_t *body, size_t len)
{
    char op[24] = "list";
    if (type == SHOAL_M_QUEUE || type == SHOAL_M_BACKUP ||
        type == SHOAL_M_CANCEL || type == SHOAL_M_SCHEDULE ||
        type == SHOAL_M_WORKFLOW || type == SHOAL_M_CLUSTER) {
        snprintf (op, sizeof op, "%s",
                  type == SHOAL_M_QUEUE      ? "queue"
                  : type == SHOAL_M_BACKUP   ? "backup"
                  : type == SHOAL_M_CANCEL   ? "cancel"
                  : type == SHOAL_M_WORKFLOW ? "workflow"
                  : type == SHOAL_M_CLUSTER  ? "cluster"
                                             : "schedule");
    } else if (type == SHOAL_M_DLQ) {
        char sub[16];
        if (shoal_map_strcpy (body, len, "op", sub, sizeof sub) ||
            (!streq (sub, "retry") && !streq (sub, "purge"))) {
            s_reply_error (self, env, SHOAL_ERR_INVALID,
                           "DLQ needs \"op\": \"retry\" or \"purge\"");
            return;
        }
        snprintf (op, sizeof op, "dlq_%s", sub);
    }
    s_env_t *copy = malloc (sizeof *copy);
    if (!copy) {
        s_reply_error (self, env, SHOAL_ERR_NOMEM, "out of memory");
        return;
    }
    *copy = *env;
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_QUERY;
    shoal_port_new_id (self->port, &hdr.id);
    /* The cluster table is the registry's; everything else the store's. */
    strcpy (hdr.to,
            type == SHOAL_M_CLUSTER ? SHOAL_REGISTRY_NAME : SHOAL_STORE_NAME);
    shoal_id_t msg_id = hdr.id;
    shoal_wr_t *w = shoal_port_begin_hdr (self->port, &hdr);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", op);
    shoal_wr_kv_raw (w, "args", body, len);
    /* A backup may take long: it waits up to an hour, not the usual
       pending timeout. */
    uint64_t expires = type == SHOAL_M_BACKUP ? s_now_ms () + S_WAIT_MAX_MS : 0;
    if (s_pending_add (self, &msg_id, type, copy, NULL, 1, expires)) {
        free (copy);
        s_reply_error (self, env, SHOAL_ERR_NOMEM, "out of memory");
        return;
    }
    if (shoal_port_send (self->port)) {
        s_pending_t *p = s_pending_take (self, &msg_id);
        s_reply_error (self, env, SHOAL_ERR_UNREACHABLE, "store unreachable");
        s_pending_free ((void **) &p);
    }
}

static void
s_handle_request (self_t *self, s_env_t *env, const uint8_t *data, size_t size)
{
    shoal_hdr_t hdr;
    const uint8_t *body;
    size_t len;
    shoal_err_t rc =
        shoal_frame_parse (data, size, &self->lim, &hdr, &body, &len);
    if (rc) {
        self->bad_frames++;
        char text[128];
        snprintf (text, sizeof text, "request rejected: %s (%zu bytes)",
                  shoal_strerror (rc), size);
        shoal_debug (self->verbose, "control: %s", text);
        strcpy (env->from, "client");
        s_reply_error (self, env, rc, text);
        return;
    }
    env->req_id = hdr.id;
    snprintf (env->from, sizeof env->from, "%s", hdr.from);
    switch (hdr.type) {
        case SHOAL_M_PING: {
            shoal_wr_t *w = s_reply_begin (self, env, SHOAL_M_OK);
            shoal_wr_map (w, 5);
            shoal_wr_kv_str (w, "version", SHOAL_VERSION_STRING);
            shoal_wr_kv_uint (w, "protocol", SHOAL_PROTO_VERSION);
            shoal_wr_kv_uint (w, "uptime_ms", s_now_ms () - self->started_ms);
            shoal_wr_kv_str (w, "monitor", self->monitor);
            shoal_wr_kv_str (w, "sync", self->sync);
            s_reply_send (self, env);
            break;
        }
        case SHOAL_M_SUBMIT:
            s_handle_submit (self, env, body, len);
            break;
        case SHOAL_M_BATCH:
            s_handle_batch (self, env, body, len);
            break;
        case SHOAL_M_STATUS:
        case SHOAL_M_WAIT:
        case SHOAL_M_STATS:
            s_handle_query (self, env, hdr.type, body, len, hdr.deadline_us);
            break;
        case SHOAL_M_LIST:
        case SHOAL_M_DLQ:
        case SHOAL_M_QUEUE:
        case SHOAL_M_BACKUP:
        case SHOAL_M_CANCEL:
        case SHOAL_M_SCHEDULE:
        case SHOAL_M_WORKFLOW:
        case SHOAL_M_CLUSTER:
            s_handle_passthrough (self, env, hdr.type, body, len);
            break;
        case SHOAL_M_SHUTDOWN: {
            shoal_wr_t *w = s_reply_begin (self, env, SHOAL_M_OK);
            shoal_wr_map (w, 0);
            s_reply_send (self, env);
            w = shoal_port_begin (self->port, SHOAL_M_SHUTDOWN, "supervisor",
                                  NULL);
            shoal_wr_map (w, 0);
            shoal_port_send (self->port);
            break;
        }
        default: {
            char text[96];
            snprintf (text, sizeof text, "unknown request type %u", hdr.type);
            s_reply_error (self, env, SHOAL_ERR_UNKNOWN_TYPE, text);
        }
    }
}

/*  Reads one client message: identity, [empty], frame. */
static bool
s_recv_client (self_t *self)
{
    s_env_t env;
    memset (&env, 0, sizeof env);
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, self->router_h, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&part);
        return false;
    }
    size_t ilen = zmq_msg_size (&part);
    if (ilen > S_IDENT_MAX) {
        ilen = S_IDENT_MAX; /* libzmq identities are at most 255 bytes */
    }
    memcpy (env.ident, zmq_msg_data (&part), ilen);
    env.ident_len = (uint8_t) ilen;
    int frames = 0;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    bool more = zmq_msg_more (&part);
    while (more) {
        zmq_msg_close (&frame);
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->router_h, 0) < 0) {
            break;
        }
        more = zmq_msg_more (&frame);
        frames++;
        if (frames == 1 && zmq_msg_size (&frame) == 0 && more && !env.delim) {
            env.delim = true; /* REQ envelope: one empty delimiter */
            frames = 0;
        } else if (more) {
            frames = 99; /* keep reading, then refuse */
        }
    }
    if (frames == 1) {
        s_handle_request (self, &env, zmq_msg_data (&frame),
                          zmq_msg_size (&frame));
    } else {
        self->bad_frames++;
        strcpy (env.from, "client");
        s_reply_error (self, &env, SHOAL_ERR_MALFORMED,
                       "a request is exactly one frame");
    }
    zmq_msg_close (&frame);
    zmq_msg_close (&part);
    return true;
}

/*  ---------------------------------------------------------------------
    Store replies */

static void
s_handle_acks (self_t *self, shoal_in_t *in, s_pending_t *p)
{
    uint32_t n = 0;
    shoal_rd_t rd;
    if (shoal_map_array (in->body, in->body_len, "items", &rd, &n)) {
        n = 0; /* every client gets an error below */
    }
    for (uint32_t i = 0; i < p->n; i++) {
        uint64_t code = SHOAL_ERR_STORAGE, seq = 0;
        bool existing = false;
        if (i < n) {
            const uint8_t *item = rd.p;
            if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX) == SHOAL_OK) {
                size_t ilen = (size_t) (rd.p - item);
                const uint8_t *idp;
                uint32_t idlen;
                shoal_map_uint (item, ilen, "code", &code);
                shoal_map_uint (item, ilen, "seq", &seq);
                /* An idempotency key matched: the first job's id. */
                if (shoal_map_bin (item, ilen, "id", &idp, &idlen) ==
                        SHOAL_OK &&
                    idlen == 16) {
                    memcpy (p->job_ids[i].b, idp, 16);
                    existing = true;
                }
            }
        }
        if (code != SHOAL_OK) {
            s_reply_error (self, &p->envs[i], (shoal_err_t) code,
                           code == SHOAL_ERR_STATE ? "job id already exists"
                           : code == SHOAL_ERR_NOT_FOUND
                               ? "\"after\": no such job or batch"
                               : shoal_strerror ((int) code));
            continue;
        }
        char id[SHOAL_ID_TEXT];
        shoal_id_format (&p->job_ids[i], id);
        shoal_wr_t *w = s_reply_begin (self, &p->envs[i], SHOAL_M_OK);
        shoal_wr_map (w, 3);
        shoal_wr_kv_str (w, "id", id);
        shoal_wr_kv_uint (w, "seq", seq);
        shoal_wr_kv_bool (w, "existing", existing);
        s_reply_send (self, &p->envs[i]);
    }
}

static void
s_self_handle_port (self_t *self)
{
    shoal_in_t in;
    for (int i = 0; i < 256 && shoal_port_next (self->port, &in); i++) {
        s_pending_t *p =
            in.hdr.has_corr ? s_pending_take (self, &in.hdr.corr) : NULL;
        if (p) {
            if (in.hdr.type == SHOAL_M_STORE_ACKS) {
                s_handle_acks (self, &in, p);
            } else if (in.hdr.type == SHOAL_M_ERROR) {
                for (uint32_t k = 0; k < p->n; k++) {
                    s_reply_raw (self, &p->envs[k], SHOAL_M_ERROR, in.body,
                                 in.body_len);
                }
            } else {
                uint64_t code = SHOAL_ERR_STORAGE;
                shoal_map_uint (in.body, in.body_len, "code", &code);
                s_reply_raw (self, &p->envs[0],
                             code == SHOAL_OK ? SHOAL_M_OK : SHOAL_M_ERROR,
                             in.body, in.body_len);
            }
            s_pending_free ((void **) &p);
        } else if (in.hdr.type != SHOAL_M_ERROR) {
            shoal_debug (self->verbose, "control: unexpected %s from %s",
                         shoal_mtype_name (in.hdr.type), in.hdr.from);
        }
        shoal_in_close (&in);
    }
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        if (self->pending) {
            for (s_pending_t *p = zhashx_first (self->pending); p;
                 p = zhashx_next (self->pending)) {
                s_pending_free ((void **) &p);
            }
            zhashx_destroy (&self->pending);
        }
        zsock_destroy (&self->router);
        shoal_port_destroy (&self->port);
        shoal_wr_destroy (&self->reply);
        shoal_wr_destroy (&self->items);
        free (self->batch_envs);
        free (self->batch_ids);
        free (self);
        *self_p = NULL;
    }
}

static shoal_err_t
s_self_new (zsock_t *pipe, const shoal_actor_args_t *args, self_t **out)
{
    self_t *self = calloc (1, sizeof *self);
    *out = self;
    if (!self) {
        return SHOAL_ERR_NOMEM;
    }
    self->pipe = pipe;
    self->verbose = args->verbose;
    self->lim = shoal_limits_default ();
    self->started_ms = s_now_ms ();
    int64_t timeout;
    if (shoal_config_int (args->config, "control/pending_timeout", 100, 3600000,
                          &timeout)) {
        return SHOAL_ERR_CONFIG;
    }
    self->pending_timeout_ms = (uint64_t) timeout;
    snprintf (self->monitor, sizeof self->monitor, "%s",
              shoal_config_get (args->config, "shoald/monitor"));
    snprintf (self->sync, sizeof self->sync, "%s",
              shoal_config_get (args->config, "store/sync"));
    self->reply = shoal_wr_new ();
    self->items = shoal_wr_new ();
    self->pending = zhashx_new ();
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->reply || !self->items || !self->pending || !self->router) {
        return SHOAL_ERR_NOMEM;
    }
    if (shoal_idgen_init (&self->ids)) {
        return SHOAL_ERR_IO;
    }
    zsock_set_linger (self->router, 0);
    zsock_set_maxmsgsize (self->router, (int64_t) self->lim.frame_max * 4);
    zsock_set_sndhwm (self->router, 100000);
    zsock_set_rcvhwm (self->router, 100000);
    const char *ep = shoal_config_get (args->config, "shoald/control");
    snprintf (self->endpoint, sizeof self->endpoint, "%s", ep);
    const char *cert_path =
        shoal_config_get (args->config, "shoald/curve_cert");
    if (cert_path && cert_path[0]) {
        /* CURVE server: only keys in the allowlist (the zauth actor
           shoald runs) get in; with no answer from ZAP, nobody does. */
        shoal_err_t crc =
            shoal_curve_server (self->router, cert_path, "control");
        if (crc) {
            return crc;
        }
    }
    if (shoal_endpoint_in_use (ep)) {
        shoal_error ("control: %s is in use by another process", ep);
        return SHOAL_ERR_CONFIG;
    }
    if (zsock_bind (self->router, "%s", ep) < 0) {
        shoal_error ("control: cannot bind %s: %s", ep,
                     zmq_strerror (zmq_errno ()));
        return SHOAL_ERR_CONFIG;
    }
    self->router_h = zsock_resolve (self->router);
    self->port = shoal_port_new (args->bus, args->name, &args->clock);
    return self->port ? SHOAL_OK : SHOAL_ERR_IO;
}

void
shoal_control_actor (zsock_t *pipe, void *args_)
{
    zsock_signal (pipe, 0);
    self_t *self = NULL;
    shoal_err_t rc = s_self_new (pipe, args_, &self);
    shoal_actor_ready (pipe, rc);
    if (rc) {
        s_self_destroy (&self);
        return;
    }
    shoal_wr_t *ev = shoal_event_begin (self->port, 1);
    shoal_event_head (ev, self->port, "host.control.up", 2);
    shoal_wr_kv_str (ev, "control", self->endpoint);
    shoal_wr_kv_str (ev, "version", SHOAL_VERSION_STRING);
    shoal_port_send (self->port);
    zmq_pollitem_t items[] = {
        {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (shoal_port_sock (self->port)), 0, ZMQ_POLLIN, 0},
        {self->router_h, 0, ZMQ_POLLIN, 0},
    };
    self->next_sweep_ms = s_now_ms () + S_SWEEP_MS;
    while (!self->terminated) {
        if (zmq_poll (items, 3, S_SWEEP_MS) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            self->terminated = shoal_actor_pipe_term (pipe, "control");
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_self_handle_port (self);
        }
        if (items[2].revents & ZMQ_POLLIN) {
            for (int i = 0; i < S_DRAIN && s_recv_client (self); i++) {
            }
            s_flush_submits (self);
        }
        if (s_now_ms () >= self->next_sweep_ms) {
            s_sweep (self);
            self->next_sweep_ms = s_now_ms () + S_SWEEP_MS;
        }
    }
    s_self_destroy (&self);
}
