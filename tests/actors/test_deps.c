/*  test_deps.c - continuations (after a job or a batch, success-only or
    any end) and batches (atomic submit, succeed or fail as one), on an
    in-process host with a fake clock, including a restart on the same
    data folder. No sleeps: the test moves the clock and pokes the store.
    Jobs that must stay pending while a test attaches continuations are
    delayed; advancing the clock releases them. */
#include "host.h"
#include "shoal_db.h"
#include "shoal_job.h"
#include "shoal_test.h"

typedef struct {
    const char *type;
    uint64_t delay_ms;
    const char *after;
    const char *mode;
} s_job_t;

/*  Writes one job's SUBMIT fields. */
static void
s_write_job (shoal_wr_t *w, const s_job_t *j)
{
    shoal_wr_map (w, 1 + (j->delay_ms != 0) + (j->after != NULL) +
                         (j->mode != NULL));
    shoal_wr_kv_str (w, "type", j->type);
    if (j->delay_ms) {
        shoal_wr_kv_uint (w, "delay_ms", j->delay_ms);
    }
    if (j->after) {
        shoal_wr_kv_str (w, "after", j->after);
    }
    if (j->mode) {
        shoal_wr_kv_str (w, "after_mode", j->mode);
    }
}

/*  Submits; returns the reply type (OK/ERROR), the id and the error
    code. */
static uint32_t
s_submit (host_t *h, const s_job_t *j, char id_out[SHOAL_ID_TEXT],
          uint64_t *code)
{
    shoal_id_t id;
    s_write_job (host_begin (h, SHOAL_M_SUBMIT, &id), j);
    shoal_in_t in;
    if (!host_call (h, &id, &in)) {
        return 0;
    }
    uint32_t type = in.hdr.type;
    if (id_out) {
        id_out[0] = '\0';
        shoal_map_strcpy (in.body, in.body_len, "id", id_out, SHOAL_ID_TEXT);
    }
    if (code) {
        *code = 0;
        shoal_map_uint (in.body, in.body_len, "code", code);
    }
    shoal_in_close (&in);
    return type;
}

static bool
s_submit_ok (host_t *h, const s_job_t *j, char id_out[SHOAL_ID_TEXT])
{
    return s_submit (h, j, id_out, NULL) == SHOAL_M_OK && id_out[0];
}

/*  Submits a batch of n jobs; on OK copies the batch id and job ids. */
static uint32_t
s_batch (host_t *h, const s_job_t *jobs, uint32_t n, char bid[SHOAL_ID_TEXT],
         char (*ids)[SHOAL_ID_TEXT], uint64_t *code)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_BATCH, &id);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "jobs");
    shoal_wr_array (w, n);
    for (uint32_t i = 0; i < n; i++) {
        s_write_job (w, &jobs[i]);
    }
    shoal_in_t in;
    if (!host_call (h, &id, &in)) {
        return 0;
    }
    uint32_t type = in.hdr.type;
    *code = 0;
    shoal_map_uint (in.body, in.body_len, "code", code);
    shoal_rd_t rd;
    uint32_t m;
    if (type == SHOAL_M_OK &&
        (shoal_map_strcpy (in.body, in.body_len, "id", bid, SHOAL_ID_TEXT) ||
         shoal_map_array (in.body, in.body_len, "jobs", &rd, &m) || m != n)) {
        type = 0;
    }
    for (uint32_t i = 0; type == SHOAL_M_OK && i < n; i++) {
        const char *s;
        uint32_t len;
        if (shoal_rd_str (&rd, &s, &len) || len != 32) {
            type = 0;
            break;
        }
        memcpy (ids[i], s, 32);
        ids[i][32] = '\0';
    }
    shoal_in_close (&in);
    return type;
}

/*  A number field of the batch view; UINT64_MAX when it cannot be read. */
static uint64_t
s_batch_num (host_t *h, const char *bid, const char *field)
{
    uint64_t n = UINT64_MAX;
    host_view_field (h, bid, "batch", field, NULL, 0, &n);
    return n;
}

static bool
s_error_has (host_t *h, const char *jid, const char *text)
{
    char err[SHOAL_ERRTEXT_MAX];
    return host_job_field (h, jid, "error", err, sizeof err, NULL) &&
           strstr (err, text) != NULL;
}

SHOAL_TEST (success_continuation_runs_after_its_parent_succeeds)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char parent[SHOAL_ID_TEXT], child[SHOAL_ID_TEXT];
    s_job_t p = {.type = "noop", .delay_ms = 60000};
    CHECK (s_submit_ok (h, &p, parent));
    s_job_t c = {.type = "noop", .after = parent};
    CHECK (s_submit_ok (h, &c, child));
    CHECK (host_state_is (h, child, "waiting"));
    CHECK_EQ (host_stat (h, "jobs", "waiting"), 1);
    char text[SHOAL_ID_TEXT];
    CHECK (host_job_field (h, child, "after", text, sizeof text, NULL));
    CHECK_STR (text, parent);
    CHECK (host_job_field (h, child, "after_mode", text, sizeof text, NULL));
    CHECK_STR (text, "success");
    host_advance (h, 61000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, parent, "succeeded"));
    CHECK (host_await_state (h, child, "succeeded"));
    CHECK_EQ (host_stat (h, "jobs", "waiting"), 0);
    host_destroy (&h);
}

SHOAL_TEST (success_continuation_is_cancelled_when_its_parent_dies)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char parent[SHOAL_ID_TEXT], child[SHOAL_ID_TEXT], grand[SHOAL_ID_TEXT],
        any[SHOAL_ID_TEXT];
    s_job_t p = {.type = "fail", .delay_ms = 60000};
    CHECK (s_submit_ok (h, &p, parent));
    s_job_t c = {.type = "noop", .after = parent};
    CHECK (s_submit_ok (h, &c, child));
    /* the cascade: the child's own continuations end with it */
    s_job_t g = {.type = "noop", .after = child};
    CHECK (s_submit_ok (h, &g, grand));
    s_job_t a = {.type = "noop", .after = child, .mode = "any"};
    CHECK (s_submit_ok (h, &a, any));
    CHECK_EQ (host_stat (h, "jobs", "waiting"), 3);
    host_advance (h, 61000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, parent, "dead"));
    CHECK (host_await_state (h, child, "cancelled"));
    CHECK (s_error_has (h, child, "dependency"));
    CHECK (s_error_has (h, child, parent));
    CHECK (host_await_state (h, grand, "cancelled"));
    CHECK (s_error_has (h, grand, child));
    CHECK (host_await_state (h, any, "succeeded"));
    CHECK_EQ (host_stat (h, "jobs", "waiting"), 0);
    host_destroy (&h);
}

SHOAL_TEST (any_continuation_runs_after_a_failure)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char parent[SHOAL_ID_TEXT], child[SHOAL_ID_TEXT];
    s_job_t p = {.type = "fail", .delay_ms = 60000};
    CHECK (s_submit_ok (h, &p, parent));
    s_job_t c = {.type = "noop", .after = parent, .mode = "any"};
    CHECK (s_submit_ok (h, &c, child));
    CHECK (host_state_is (h, child, "waiting"));
    host_advance (h, 61000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, parent, "dead"));
    CHECK (host_await_state (h, child, "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST (continuation_of_a_finished_parent_is_decided_at_once)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char ok[SHOAL_ID_TEXT], bad[SHOAL_ID_TEXT], c1[SHOAL_ID_TEXT],
        c2[SHOAL_ID_TEXT], c3[SHOAL_ID_TEXT], c4[SHOAL_ID_TEXT];
    s_job_t j = {.type = "noop"};
    CHECK (s_submit_ok (h, &j, ok));
    j.type = "fail";
    CHECK (s_submit_ok (h, &j, bad));
    CHECK (host_await_state (h, ok, "succeeded"));
    CHECK (host_await_state (h, bad, "dead"));
    s_job_t c = {.type = "noop", .after = ok};
    CHECK (s_submit_ok (h, &c, c1));
    CHECK (host_await_state (h, c1, "succeeded"));
    c.after = bad;
    CHECK (s_submit_ok (h, &c, c2));
    CHECK (host_state_is (h, c2, "cancelled")); /* in the submit's commit */
    CHECK (s_error_has (h, c2, bad));
    c.mode = "any";
    CHECK (s_submit_ok (h, &c, c3));
    CHECK (host_await_state (h, c3, "succeeded"));
    /* a delayed continuation keeps its own start time */
    s_job_t d = {.type = "noop", .after = ok, .delay_ms = 30000};
    CHECK (s_submit_ok (h, &d, c4));
    CHECK (host_state_is (h, c4, "scheduled"));
    host_advance (h, 31000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, c4, "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST (unknown_parent_or_bad_mode_is_refused)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char id[SHOAL_ID_TEXT];
    uint64_t code;
    s_job_t c = {.type = "noop", .after = "0123456789abcdef0123456789abcdef"};
    CHECK_EQ (s_submit (h, &c, id, &code), SHOAL_M_ERROR);
    CHECK_EQ (code, SHOAL_ERR_NOT_FOUND);
    c.after = "not-an-id";
    CHECK_EQ (s_submit (h, &c, id, &code), SHOAL_M_ERROR);
    CHECK_EQ (code, SHOAL_ERR_INVALID);
    char ok[SHOAL_ID_TEXT];
    s_job_t j = {.type = "noop"};
    CHECK (s_submit_ok (h, &j, ok));
    s_job_t m = {.type = "noop", .after = ok, .mode = "sometimes"};
    CHECK_EQ (s_submit (h, &m, id, &code), SHOAL_M_ERROR);
    CHECK_EQ (code, SHOAL_ERR_INVALID);
    s_job_t n = {.type = "noop", .mode = "any"}; /* mode without after */
    CHECK_EQ (s_submit (h, &n, id, &code), SHOAL_M_ERROR);
    CHECK_EQ (code, SHOAL_ERR_INVALID);
    CHECK (host_await_state (h, ok, "succeeded"));
    /* nothing else was committed */
    CHECK_EQ (host_stat (h, "jobs", "succeeded") +
                  host_stat (h, "jobs", "waiting") +
                  host_stat (h, "jobs", "cancelled") +
                  host_stat (h, "jobs", "enqueued"),
              1);
    host_destroy (&h);
}

SHOAL_TEST (batch_with_an_invalid_job_commits_nothing)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char bid[SHOAL_ID_TEXT], ids[3][SHOAL_ID_TEXT];
    uint64_t code;
    s_job_t jobs[3] = {
        {.type = "noop"}, {.type = "no spaces allowed"}, {.type = "noop"}};
    CHECK_EQ (s_batch (h, jobs, 3, bid, ids, &code), SHOAL_M_ERROR);
    CHECK_EQ (code, SHOAL_ERR_INVALID);
    /* a job of a batch takes no after of its own */
    s_job_t after[2] = {
        {.type = "noop"},
        {.type = "noop", .after = "0123456789abcdef0123456789abcdef"}};
    CHECK_EQ (s_batch (h, after, 2, bid, ids, &code), SHOAL_M_ERROR);
    CHECK_EQ (code, SHOAL_ERR_INVALID);
    CHECK_EQ (s_batch (h, jobs, 0, bid, ids, &code), SHOAL_M_ERROR);
    CHECK (host_poke (h));
    CHECK_EQ (host_stat (h, "jobs", "enqueued") +
                  host_stat (h, "jobs", "succeeded") +
                  host_stat (h, "jobs", "leased"),
              0);
    host_destroy (&h);
}

SHOAL_TEST (batch_succeeds_as_one_then_its_continuation_runs)
{
    host_t *h = host_new (2, NULL);
    CHECK (h);
    char bid[SHOAL_ID_TEXT], ids[3][SHOAL_ID_TEXT], child[SHOAL_ID_TEXT];
    uint64_t code;
    s_job_t jobs[3] = {{.type = "noop", .delay_ms = 60000},
                       {.type = "echo", .delay_ms = 60000},
                       {.type = "noop", .delay_ms = 60000}};
    CHECK_EQ (s_batch (h, jobs, 3, bid, ids, &code), SHOAL_M_OK);
    CHECK (host_view_is (h, bid, "batch", "running"));
    CHECK_EQ (s_batch_num (h, bid, "total"), 3);
    char text[SHOAL_ID_TEXT];
    CHECK (host_job_field (h, ids[1], "batch", text, sizeof text, NULL));
    CHECK_STR (text, bid);
    s_job_t c = {.type = "noop", .after = bid};
    CHECK (s_submit_ok (h, &c, child));
    CHECK (host_state_is (h, child, "waiting"));
    /* a WAIT on the batch is answered when it ends */
    shoal_id_t wid;
    shoal_wr_t *w = host_begin (h, SHOAL_M_WAIT, &wid);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "id", bid);
    CHECK_OK (shoal_port_send (h->client));
    host_advance (h, 61000);
    CHECK (host_poke (h));
    shoal_in_t in;
    CHECK (host_recv (h->client, &wid, &in));
    CHECK_EQ (in.hdr.type, SHOAL_M_OK);
    shoal_mp_val_t v;
    const uint8_t *view;
    size_t len;
    CHECK_OK (shoal_map_find (in.body, in.body_len, "batch", &v, &view, &len));
    char state[16] = "";
    shoal_map_strcpy (view, len, "state", state, sizeof state);
    CHECK_STR (state, "succeeded");
    shoal_in_close (&in);
    CHECK_EQ (s_batch_num (h, bid, "succeeded"), 3);
    CHECK_EQ (s_batch_num (h, bid, "failed"), 0);
    CHECK (host_await_state (h, child, "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST (batch_fails_as_one_and_cancels_what_has_not_started)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char bid[SHOAL_ID_TEXT], ids[3][SHOAL_ID_TEXT], on_ok[SHOAL_ID_TEXT],
        on_any[SHOAL_ID_TEXT];
    uint64_t code;
    s_job_t jobs[3] = {{.type = "fail", .delay_ms = 10000},
                       {.type = "noop", .delay_ms = 60000},
                       {.type = "noop", .delay_ms = 60000}};
    CHECK_EQ (s_batch (h, jobs, 3, bid, ids, &code), SHOAL_M_OK);
    s_job_t c = {.type = "noop", .after = bid};
    CHECK (s_submit_ok (h, &c, on_ok));
    c.mode = "any";
    CHECK (s_submit_ok (h, &c, on_any));
    host_advance (h, 11000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, ids[0], "dead"));
    CHECK (host_view_is (h, bid, "batch", "failed"));
    CHECK (host_state_is (h, ids[1], "cancelled"));
    CHECK (host_state_is (h, ids[2], "cancelled"));
    CHECK (s_error_has (h, ids[1], bid));
    CHECK_EQ (s_batch_num (h, bid, "failed"), 3);
    CHECK_EQ (s_batch_num (h, bid, "succeeded"), 0);
    CHECK (host_await_state (h, on_ok, "cancelled"));
    CHECK (s_error_has (h, on_ok, bid));
    CHECK (host_await_state (h, on_any, "succeeded"));
    /* a member run again from the DLQ is not counted twice */
    uint32_t type;
    host_dlq (h, "retry", ids[1], &type);
    CHECK_EQ (type, SHOAL_M_OK);
    CHECK (host_await_state (h, ids[1], "succeeded"));
    CHECK_EQ (s_batch_num (h, bid, "failed"), 3);
    CHECK_EQ (s_batch_num (h, bid, "succeeded"), 0);
    CHECK (host_view_is (h, bid, "batch", "failed"));
    host_destroy (&h);
}

SHOAL_TEST (cancelling_a_waiting_job_cancels_its_continuations)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char parent[SHOAL_ID_TEXT], child[SHOAL_ID_TEXT], grand[SHOAL_ID_TEXT];
    s_job_t p = {.type = "noop", .delay_ms = 60000};
    CHECK (s_submit_ok (h, &p, parent));
    s_job_t c = {.type = "noop", .after = parent};
    CHECK (s_submit_ok (h, &c, child));
    c.after = child;
    CHECK (s_submit_ok (h, &c, grand));
    CHECK_EQ (host_cancel (h, child), SHOAL_M_OK);
    CHECK (host_state_is (h, child, "cancelled"));
    CHECK (host_state_is (h, grand, "cancelled"));
    host_advance (h, 61000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, parent, "succeeded"));
    CHECK (host_state_is (h, child, "cancelled")); /* not revived */
    CHECK_EQ (host_stat (h, "jobs", "waiting"), 0);
    host_destroy (&h);
}

/*  Cuts the meta counts to the 7 states of a data folder from before
    the waiting state (the host stopped). */
static bool
s_cut_counts (host_t *h)
{
    char data[96];
    snprintf (data, sizeof data, "%s/data", h->dir);
    shoal_db_t *db;
    shoal_txn_t *txn;
    const void *v;
    size_t len;
    uint64_t counts[SHOAL_JOB__COUNT];
    if (shoal_db_open (data, SHOAL_SYNC_NONE, 0, &db)) {
        return false;
    }
    bool ok = shoal_db_begin (db, true, &txn) == SHOAL_OK &&
              shoal_txn_get (txn, SHOAL_DBI_META, "counts", 6, &v, &len) ==
                  SHOAL_OK &&
              len == sizeof counts;
    if (ok) {
        memcpy (counts, v, len);
        ok = shoal_txn_put (txn, SHOAL_DBI_META, "counts", 6, counts,
                            7 * sizeof counts[0]) == SHOAL_OK &&
             shoal_txn_commit (&txn) == SHOAL_OK;
    }
    shoal_txn_abort (&txn);
    shoal_db_destroy (&db);
    return ok;
}

/*  Stops every actor and starts them again on the same data folder,
    old_counts: with the meta counts cut to the old size in between. */
static bool
s_restart (host_t *h, int nodes, bool old_counts)
{
    host_stop (h);
    if (old_counts && !s_cut_counts (h)) {
        return false;
    }
    return host_start_again (h, nodes);
}

SHOAL_TEST (waiting_jobs_and_batches_survive_a_restart)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char parent[SHOAL_ID_TEXT], child[SHOAL_ID_TEXT], done[SHOAL_ID_TEXT];
    char bid[SHOAL_ID_TEXT], ids[2][SHOAL_ID_TEXT], on_batch[SHOAL_ID_TEXT];
    uint64_t code;
    s_job_t d = {.type = "noop"};
    CHECK (s_submit_ok (h, &d, done));
    CHECK (host_await_state (h, done, "succeeded"));
    s_job_t p = {.type = "noop", .delay_ms = 60000};
    CHECK (s_submit_ok (h, &p, parent));
    s_job_t c = {.type = "noop", .after = parent};
    CHECK (s_submit_ok (h, &c, child));
    s_job_t jobs[2] = {{.type = "noop", .delay_ms = 60000},
                       {.type = "noop", .delay_ms = 60000}};
    CHECK_EQ (s_batch (h, jobs, 2, bid, ids, &code), SHOAL_M_OK);
    c.after = bid;
    CHECK (s_submit_ok (h, &c, on_batch));
    CHECK_EQ (host_stat (h, "jobs", "waiting"), 2);
    /* restart, with the meta counts cut to the old 7-state size */
    CHECK (s_restart (h, 1, true));
    CHECK_EQ (host_stat (h, "jobs", "succeeded"), 1); /* old counts kept */
    CHECK_EQ (host_stat (h, "jobs", "waiting"), 0); /* new state starts at 0 */
    CHECK (host_state_is (h, child, "waiting"));
    CHECK (host_state_is (h, on_batch, "waiting"));
    CHECK (host_view_is (h, bid, "batch", "running"));
    /* and a plain restart */
    CHECK (s_restart (h, 1, false));
    CHECK (host_state_is (h, child, "waiting"));
    host_advance (h, 61000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, parent, "succeeded"));
    CHECK (host_await_state (h, child, "succeeded"));
    CHECK (host_await_state (h, ids[0], "succeeded"));
    CHECK (host_await_state (h, ids[1], "succeeded"));
    CHECK (host_await_state (h, on_batch, "succeeded"));
    CHECK (host_view_is (h, bid, "batch", "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST_MAIN (success_continuation_runs_after_its_parent_succeeds,
                 success_continuation_is_cancelled_when_its_parent_dies,
                 any_continuation_runs_after_a_failure,
                 continuation_of_a_finished_parent_is_decided_at_once,
                 unknown_parent_or_bad_mode_is_refused,
                 batch_with_an_invalid_job_commits_nothing,
                 batch_succeeds_as_one_then_its_continuation_runs,
                 batch_fails_as_one_and_cancels_what_has_not_started,
                 cancelling_a_waiting_job_cancels_its_continuations,
                 waiting_jobs_and_batches_survive_a_restart)
