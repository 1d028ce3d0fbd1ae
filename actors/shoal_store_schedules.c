/*  shoal_store_schedules.c - recurring jobs from cron expressions (UTC).

    A schedule is a named job template and a cron expression, stored in
    LMDB with its next fire time; a time index (sched_due) holds that time
    so the store's timer pass finds due schedules without scanning. When a
    schedule fires, its job is committed in the same transaction as the
    move to the next fire time, so a crash never loses or doubles a fire.

    Missed runs: if the host was down across one or more fire times, the
    schedule fires once when the host is back (the runs are coalesced,
    not replayed), then continues from the next time after now.

    Record: {cron: str, t: type, q: queue, p: prio, pl?: payload,
             rp?: retry policy map, to?: timeout_ms,
             sid: bin16, next: uint, last: uint, fired: uint}
    A schedule without its own retry policy fires jobs that take their
    queue's default, like any job submitted without one.
*/
#include "shoal_store_int.h"
#include "shoal_cron.h"
#include "shoal_retry.h"

#define S_DUE_MAX 1024 /* schedules fired per pass */

typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    char cron[256];
    char type[SHOAL_NAME_MAX + 1];
    char queue[SHOAL_NAME_MAX + 1];
    uint64_t prio;
    const uint8_t *payload; /* borrowed */
    size_t payload_len;
    const uint8_t *retry; /* borrowed retry policy map, or NULL */
    size_t retry_len;
    uint64_t timeout_ms; /* 0 = none */
    shoal_id_t sid;
    uint64_t next_us, last_us, fired;
} s_sched_t;

static shoal_err_t
s_decode (const uint8_t *v, size_t len, const shoal_limits_t *lim,
          s_sched_t *sc)
{
    size_t used;
    if (shoal_mp_validate (v, len, lim, &used)) {
        return SHOAL_ERR_CORRUPT;
    }
    const uint8_t *sid;
    uint32_t sidlen;
    shoal_mp_val_t pv;
    if (shoal_map_strcpy (v, len, "cron", sc->cron, sizeof sc->cron) ||
        shoal_map_strcpy (v, len, "t", sc->type, sizeof sc->type) ||
        shoal_map_strcpy (v, len, "q", sc->queue, sizeof sc->queue) ||
        shoal_map_uint (v, len, "p", &sc->prio) ||
        shoal_map_bin (v, len, "sid", &sid, &sidlen) || sidlen != 16 ||
        shoal_map_uint (v, len, "next", &sc->next_us) ||
        shoal_map_uint (v, len, "last", &sc->last_us) ||
        shoal_map_uint (v, len, "fired", &sc->fired) ||
        sc->prio >= SHOAL_PRIO__COUNT) {
        return SHOAL_ERR_CORRUPT;
    }
    memcpy (sc->sid.b, sid, 16);
    if (shoal_map_find (v, len, "pl", &pv, &sc->payload, &sc->payload_len)) {
        sc->payload = NULL;
    }
    if (shoal_map_find (v, len, "rp", &pv, &sc->retry, &sc->retry_len) ||
        pv.type != SHOAL_MP_MAP) {
        sc->retry = NULL;
    }
    sc->timeout_ms = 0;
    shoal_map_uint (v, len, "to", &sc->timeout_ms);
    return SHOAL_OK;
}

static void
s_encode (const s_sched_t *sc, shoal_wr_t *w)
{
    shoal_wr_map (w, 8 + (sc->payload != NULL) + (sc->retry != NULL) +
                         (sc->timeout_ms != 0));
    shoal_wr_kv_str (w, "cron", sc->cron);
    shoal_wr_kv_str (w, "t", sc->type);
    shoal_wr_kv_str (w, "q", sc->queue);
    shoal_wr_kv_uint (w, "p", sc->prio);
    shoal_wr_kv_bin (w, "sid", sc->sid.b, 16);
    shoal_wr_kv_uint (w, "next", sc->next_us);
    shoal_wr_kv_uint (w, "last", sc->last_us);
    shoal_wr_kv_uint (w, "fired", sc->fired);
    if (sc->payload) {
        shoal_wr_kv_raw (w, "pl", sc->payload, sc->payload_len);
    }
    if (sc->retry) {
        shoal_wr_kv_raw (w, "rp", sc->retry, sc->retry_len);
    }
    if (sc->timeout_ms) {
        shoal_wr_kv_uint (w, "to", sc->timeout_ms);
    }
}

static shoal_err_t
s_get (self_t *self, const char *name, s_sched_t *sc)
{
    const void *v;
    size_t len;
    shoal_err_t rc = shoal_txn_get (self->txn, SHOAL_DBI_SCHEDULES, name,
                                    strlen (name), &v, &len);
    if (rc == SHOAL_OK) {
        rc = s_decode (v, len, &self->lim, sc);
        snprintf (sc->name, sizeof sc->name, "%s", name);
    }
    return rc;
}

/*  Writes the record and its due-index entry (encoded into scratch first:
    the payload may borrow from the page being replaced). */
static shoal_err_t
s_put (self_t *self, const s_sched_t *sc)
{
    shoal_wr_reset (self->rec);
    s_encode (sc, self->rec);
    shoal_err_t rc = shoal_wr_error (self->rec);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_put (self->txn, SHOAL_DBI_SCHEDULES, sc->name,
                            strlen (sc->name), shoal_wr_data (self->rec),
                            shoal_wr_size (self->rec));
    }
    if (rc == SHOAL_OK && sc->next_us) {
        uint8_t key[SHOAL_TIME_KEY];
        shoal_time_key (sc->next_us, sc->sid.b, key);
        rc = shoal_txn_put (self->txn, SHOAL_DBI_SCHED_DUE, key, sizeof key,
                            sc->name, strlen (sc->name));
    }
    return rc;
}

static shoal_err_t
s_del_due (self_t *self, const s_sched_t *sc)
{
    uint8_t key[SHOAL_TIME_KEY];
    shoal_time_key (sc->next_us, sc->sid.b, key);
    shoal_err_t rc =
        shoal_txn_del (self->txn, SHOAL_DBI_SCHED_DUE, key, sizeof key);
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

/*  The next fire time strictly after t, or 0 when the expression has none
    within five years. */
static uint64_t
s_next (const char *cron, uint64_t t)
{
    shoal_cron_t c;
    uint64_t next = 0;
    if (shoal_cron_parse (cron, &c, NULL, 0) == SHOAL_OK &&
        !shoal_cron_next (&c, t, &next)) {
        next = 0;
    }
    return next;
}

/*  Fires one due schedule: its job, then its next time. */
static shoal_err_t
s_fire (self_t *self, const uint8_t *key, const char *name, uint64_t now)
{
    s_sched_t sc;
    shoal_err_t rc = s_get (self, name, &sc);
    uint64_t due = shoal_time_key_time (key);
    bool current = rc == SHOAL_OK && sc.next_us == due &&
                   memcmp (sc.sid.b, key + 8, 16) == 0;
    if (rc && rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    rc = shoal_txn_del (self->txn, SHOAL_DBI_SCHED_DUE, key, SHOAL_TIME_KEY);
    if (rc || !current) {
        return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
    }
    shoal_job_t job;
    memset (&job, 0, sizeof job);
    shoal_port_new_id (self->port, &job.id);
    snprintf (job.queue, sizeof job.queue, "%s", sc.queue);
    snprintf (job.type, sizeof job.type, "%s", sc.type);
    job.priority = (uint8_t) sc.prio;
    job.payload = sc.payload;
    job.payload_len = sc.payload_len;
    job.retry = sc.retry;
    job.retry_len = sc.retry_len;
    job.timeout_ms = (uint32_t) sc.timeout_ms;
    if ((rc = store_insert_job (self, &job, now))) {
        return rc;
    }
    /* Coalesce missed times: the next one after now, not after due. */
    sc.last_us = due;
    sc.fired++;
    sc.next_us = s_next (sc.cron, now > due ? now : due);
    return s_put (self, &sc);
}

shoal_err_t
store_run_schedules (self_t *self, uint64_t now)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_SCHED_DUE, &cur);
    if (rc) {
        return rc;
    }
    /* Read first, fire after: firing rewrites this index. */
    uint8_t (*keys)[SHOAL_TIME_KEY] = malloc (S_DUE_MAX * sizeof *keys);
    char (*names)[SHOAL_NAME_MAX + 1] = malloc (S_DUE_MAX * sizeof *names);
    size_t n = 0;
    if (!keys || !names) {
        rc = SHOAL_ERR_NOMEM;
    }
    shoal_kv_t kv;
    for (rc = rc ? rc : shoal_cursor_seek (cur, NULL, 0, &kv);
         rc == SHOAL_OK && n < S_DUE_MAX; rc = shoal_cursor_next (cur, &kv)) {
        if (kv.key_len != SHOAL_TIME_KEY || kv.val_len > SHOAL_NAME_MAX) {
            continue;
        }
        if (shoal_time_key_time (kv.key) > now) {
            break;
        }
        memcpy (keys[n], kv.key, SHOAL_TIME_KEY);
        memcpy (names[n], kv.val, kv.val_len);
        names[n][kv.val_len] = '\0';
        n++;
    }
    shoal_cursor_close (&cur);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        rc = SHOAL_OK;
    }
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        rc = s_fire (self, keys[i], names[i], now);
    }
    free (keys);
    free (names);
    return rc;
}

static void
s_view (shoal_wr_t *w, const s_sched_t *sc)
{
    const char *prio = shoal_prio_name ((int) sc->prio);
    char retry[SHOAL_RETRY_STRLEN] = "";
    shoal_retry_t policy;
    if (sc->retry && (shoal_retry_decode (sc->retry, sc->retry_len, &policy) ||
                      shoal_retry_format (&policy, retry, sizeof retry))) {
        retry[0] = '\0';
    }
    shoal_wr_map (w, 8 + (sc->payload != NULL) + (retry[0] != '\0') +
                         (sc->timeout_ms != 0));
    shoal_wr_kv_str (w, "name", sc->name);
    shoal_wr_kv_str (w, "cron", sc->cron);
    shoal_wr_kv_str (w, "type", sc->type);
    shoal_wr_kv_str (w, "queue", sc->queue);
    shoal_wr_kv_str (w, "priority", prio);
    shoal_wr_kv_uint (w, "next_us", sc->next_us);
    shoal_wr_kv_uint (w, "last_us", sc->last_us);
    shoal_wr_kv_uint (w, "fired", sc->fired);
    if (sc->payload) {
        shoal_wr_kv_raw (w, "payload", sc->payload, sc->payload_len);
    }
    if (retry[0]) {
        shoal_wr_kv_str (w, "retry", retry);
    }
    if (sc->timeout_ms) {
        shoal_wr_kv_uint (w, "timeout_ms", sc->timeout_ms);
    }
}

static shoal_err_t
s_add (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len,
       const char *name)
{
    s_sched_t sc;
    memset (&sc, 0, sizeof sc);
    snprintf (sc.name, sizeof sc.name, "%s", name);
    snprintf (sc.queue, sizeof sc.queue, "default");
    sc.prio = SHOAL_PRIO_NORMAL;
    char why[200] = "";
    shoal_cron_t c;
    shoal_mp_val_t v;
    shoal_err_t e;
    if (shoal_map_strcpy (args, len, "cron", sc.cron, sizeof sc.cron)) {
        snprintf (why, sizeof why, "\"cron\" must be a cron expression");
    } else if (shoal_cron_parse (sc.cron, &c, why + 6, sizeof why - 6)) {
        memcpy (why, "cron: ", 6);
    } else if (shoal_map_strcpy (args, len, "type", sc.type, sizeof sc.type) ||
               !shoal_name_valid (sc.type, strlen (sc.type))) {
        snprintf (why, sizeof why, "\"type\" must be a job type name");
    } else if ((e = shoal_map_strcpy (args, len, "queue", sc.queue,
                                      sizeof sc.queue)) != SHOAL_OK &&
               e != SHOAL_ERR_NOT_FOUND) {
        snprintf (why, sizeof why, "\"queue\" must be a queue name");
    } else if (!shoal_name_valid (sc.queue, strlen (sc.queue))) {
        snprintf (why, sizeof why, "\"queue\" must be a queue name");
    }
    if (!why[0] &&
        shoal_map_find (args, len, "priority", &v, NULL, NULL) == SHOAL_OK) {
        uint8_t p = 0;
        if (v.type != SHOAL_MP_STR ||
            shoal_prio_parse ((const char *) v.ptr, v.len, &p)) {
            snprintf (why, sizeof why,
                      "\"priority\" must be critical, high, normal or low");
        }
        sc.prio = p;
    }
    if (why[0]) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, why);
    }
    if (shoal_map_find (args, len, "payload", &v, &sc.payload,
                        &sc.payload_len)) {
        sc.payload = NULL;
    }
    /* The job template's own retry policy and timeout, if given. */
    const char *rtext;
    uint32_t rlen;
    if (shoal_map_str (args, len, "retry", &rtext, &rlen) == SHOAL_OK) {
        char text[256], err[160];
        shoal_retry_t policy;
        snprintf (text, sizeof text, "%.*s", (int) rlen, rtext);
        if (rlen >= sizeof text ||
            shoal_retry_parse (text, &policy, err, sizeof err)) {
            snprintf (why, sizeof why, "\"retry\": %s",
                      rlen >= sizeof text ? "too long" : err);
        } else if (policy.kind != SHOAL_RETRY_NONE) {
            shoal_wr_reset (self->scratch);
            shoal_retry_encode (&policy, self->scratch);
            sc.retry = shoal_wr_data (self->scratch);
            sc.retry_len = shoal_wr_size (self->scratch);
        }
    }
    shoal_err_t te = shoal_map_uint (args, len, "timeout_ms", &sc.timeout_ms);
    if (!why[0] &&
        ((te && te != SHOAL_ERR_NOT_FOUND) || sc.timeout_ms > UINT32_MAX)) {
        snprintf (why, sizeof why, "\"timeout_ms\" must be 0..4294967295");
    }
    if (why[0]) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID, why);
    }
    /* Replacing a schedule: drop its old due entry. */
    s_sched_t old;
    shoal_err_t rc = s_get (self, name, &old);
    if (rc == SHOAL_OK) {
        if ((rc = s_del_due (self, &old))) {
            return rc;
        }
    } else if (rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    shoal_port_new_id (self->port, &sc.sid);
    uint64_t now = shoal_clock_now_us (shoal_port_clock (self->port));
    sc.next_us = s_next (sc.cron, now);
    if (!sc.next_us) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "cron: the expression never fires");
    }
    if ((rc = s_put (self, &sc))) {
        return rc;
    }
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_str (w, "schedule");
    s_view (w, &sc);
    return shoal_port_defer (self->port);
}

static shoal_err_t
s_list (self_t *self, shoal_in_t *in)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_SCHEDULES, &cur);
    if (rc) {
        return rc;
    }
    shoal_wr_t *items = shoal_wr_new ();
    uint32_t n = 0;
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, NULL, 0, &kv); items && rc == SHOAL_OK;
         rc = shoal_cursor_next (cur, &kv)) {
        s_sched_t sc;
        if (kv.key_len > SHOAL_NAME_MAX ||
            s_decode (kv.val, kv.val_len, &self->lim, &sc)) {
            continue;
        }
        memcpy (sc.name, kv.key, kv.key_len);
        sc.name[kv.key_len] = '\0';
        s_view (items, &sc);
        n++;
    }
    shoal_cursor_close (&cur);
    if (!items) {
        return SHOAL_ERR_NOMEM;
    }
    if (rc == SHOAL_ERR_NOT_FOUND) {
        rc = store_reply_items (self, in, "schedules", items, n);
    }
    shoal_wr_destroy (&items);
    return rc;
}

shoal_err_t
store_query_schedule (self_t *self, shoal_in_t *in, const uint8_t *args,
                      size_t len)
{
    char op[8], name[SHOAL_NAME_MAX + 1];
    if (shoal_map_strcpy (args, len, "op", op, sizeof op)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "\"op\" must be add, list or rm");
    }
    if (streq (op, "list")) {
        return s_list (self, in);
    }
    if (shoal_map_strcpy (args, len, "name", name, sizeof name) ||
        !shoal_name_valid (name, strlen (name))) {
        return store_reply_code (
            self, in->hdr.from, &in->hdr.id, SHOAL_ERR_INVALID,
            "\"name\" must be 1-64 of A-Z a-z 0-9 . _ : -");
    }
    if (streq (op, "add")) {
        return s_add (self, in, args, len, name);
    }
    if (!streq (op, "rm")) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "\"op\" must be add, list or rm");
    }
    s_sched_t sc;
    shoal_err_t rc = s_get (self, name, &sc);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_NOT_FOUND, "no such schedule");
    }
    if (rc || (rc = s_del_due (self, &sc)) ||
        (rc = shoal_txn_del (self->txn, SHOAL_DBI_SCHEDULES, name,
                             strlen (name)))) {
        return rc;
    }
    return store_reply_code (self, in->hdr.from, &in->hdr.id, SHOAL_OK,
                             "schedule removed");
}
