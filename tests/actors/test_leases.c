/*  test_leases.c - leases renewed by heartbeats (EXTEND), on an
    in-process host with a fake clock: a heartbeat keeps a lease past its
    first expiry, never past the job's own timeout; a heartbeat for a
    lease that is over is refused and counted; an executor that stops
    heartbeating loses the job, which runs again as the next attempt. */
#include "host.h"
#include "shoal_test.h"

static bool
s_submit (host_t *h, const char *type, const char *retry, uint32_t timeout_ms,
          uint64_t sleep_ms, char id_out[SHOAL_ID_TEXT])
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 1 + (retry != NULL) + (timeout_ms != 0) + (sleep_ms != 0));
    shoal_wr_kv_str (w, "type", type);
    if (retry) {
        shoal_wr_kv_str (w, "retry", retry);
    }
    if (timeout_ms) {
        shoal_wr_kv_uint (w, "timeout_ms", timeout_ms);
    }
    if (sleep_ms) {
        shoal_wr_str (w, "payload");
        shoal_wr_map (w, 1);
        shoal_wr_kv_uint (w, "ms", sleep_ms);
    }
    return host_submitted (h, &id, id_out, NULL);
}

/*  A heartbeat from a fake executor (host_node_join): EXTEND the lease of
    run (job, epoch). */
static void
s_fake_extend (shoal_port_t *port, const shoal_id_t *job, uint64_t epoch)
{
    shoal_wr_t *w = shoal_port_begin (port, SHOAL_M_EXTEND, "store", NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, 1);
    shoal_wr_map (w, 2);
    shoal_wr_kv_bin (w, "id", job->b, 16);
    shoal_wr_kv_uint (w, "e", epoch);
    shoal_port_send (port);
}

SHOAL_TEST (heartbeat_keeps_the_lease_past_its_first_expiry)
{
    const char *kv[] = {"store/lease=5000", "store/lease_grace=0", NULL};
    host_t *h = host_new (0, kv);
    CHECK (h);
    shoal_port_t *node = host_node_join (h, "node.fake", 4);
    CHECK (node);
    char jid[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "anything", NULL, 0, 0, jid));
    shoal_id_t job;
    uint64_t e = host_node_run (node, &job);
    CHECK_EQ (e, 1);
    uint64_t first = host_job_num (h, jid, "lease_expires_us");
    CHECK (first > 0);
    host_advance (h, 4000);
    s_fake_extend (node, &job, e);
    CHECK (host_poke (h));
    CHECK_EQ (host_job_num (h, jid, "lease_expires_us"), first + 4000 * 1000);
    CHECK_EQ (host_stat (h, NULL, "lease_extends"), 1);
    /* past the first expiry: still ours */
    host_advance (h, 4000);
    CHECK (host_poke (h));
    CHECK (host_state_is (h, jid, "leased"));
    /* silence: the renewed lease runs out in its turn */
    host_advance (h, 1001);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, jid, "dead"));
    char cls[32];
    CHECK (host_job_field (h, jid, "error_class", cls, sizeof cls, NULL));
    CHECK_STR (cls, "lease_expired");
    CHECK_EQ (host_stat (h, NULL, "stale_extends"), 0);
    shoal_port_destroy (&node);
    host_destroy (&h);
}

SHOAL_TEST (stale_heartbeat_is_refused_and_counted)
{
    const char *kv[] = {"store/lease=5000", "store/lease_grace=0", NULL};
    host_t *h = host_new (0, kv);
    CHECK (h);
    shoal_port_t *node = host_node_join (h, "node.fake", 4);
    shoal_port_t *other = shoal_port_new (h->bus, "node.other", &h->clock);
    CHECK (node && other);
    char jid[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "anything", "fixed:max=3,delay=1s", 0, 0, jid));
    shoal_id_t job;
    uint64_t e1 = host_node_run (node, &job);
    CHECK_EQ (e1, 1);
    /* let the first lease expire; the retry is leased with epoch 2 */
    host_advance (h, 5001);
    CHECK (host_poke (h));
    CHECK (host_state_is (h, jid, "scheduled"));
    host_advance (h, 1000);
    CHECK (host_poke (h));
    uint64_t e2 = host_node_run (node, &job);
    CHECK_EQ (e2, 2);
    uint64_t until = host_job_num (h, jid, "lease_expires_us");
    /* the first run's heartbeat, and one from an executor that does not
       hold the lease: both refused, the lease unchanged */
    host_advance (h, 1000);
    s_fake_extend (node, &job, e1);
    s_fake_extend (other, &job, e2);
    CHECK (host_poke (h));
    CHECK_EQ (host_stat (h, NULL, "stale_extends"), 2);
    CHECK_EQ (host_stat (h, NULL, "lease_extends"), 0);
    CHECK_EQ (host_job_num (h, jid, "lease_expires_us"), until);
    /* the current one is taken */
    s_fake_extend (node, &job, e2);
    CHECK (host_poke (h));
    CHECK_EQ (host_stat (h, NULL, "lease_extends"), 1);
    CHECK (host_job_num (h, jid, "lease_expires_us") > until);
    shoal_port_destroy (&other);
    shoal_port_destroy (&node);
    host_destroy (&h);
}

SHOAL_TEST (heartbeat_never_extends_past_the_jobs_timeout)
{
    const char *kv[] = {"store/lease=5000", "store/lease_grace=0", NULL};
    host_t *h = host_new (0, kv);
    CHECK (h);
    shoal_port_t *node = host_node_join (h, "node.fake", 4);
    CHECK (node);
    char jid[SHOAL_ID_TEXT];
    /* a timeout longer than the lease: heartbeats carry it to the
       timeout, no further */
    CHECK (s_submit (h, "anything", NULL, 7000, 0, jid));
    shoal_id_t job;
    uint64_t e = host_node_run (node, &job);
    CHECK_EQ (e, 1);
    uint64_t started = host_job_num (h, jid, "lease_expires_us") - 5000 * 1000;
    host_advance (h, 4000);
    s_fake_extend (node, &job, e);
    CHECK (host_poke (h));
    CHECK_EQ (host_job_num (h, jid, "lease_expires_us"), started + 7000 * 1000);
    host_advance (h, 2000);
    s_fake_extend (node, &job, e);
    CHECK (host_poke (h));
    CHECK_EQ (host_job_num (h, jid, "lease_expires_us"), started + 7000 * 1000);
    CHECK_EQ (host_stat (h, NULL, "stale_extends"), 0);
    host_advance (h, 1001);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, jid, "dead"));
    shoal_port_destroy (&node);
    host_destroy (&h);
}

SHOAL_TEST (running_job_heartbeats_then_expires_when_its_node_stops)
{
    /* heartbeats every lease / 3 = 1 s of the fake clock */
    const char *kv[] = {"store/lease=3000", "store/lease_grace=0", NULL};
    host_t *h = host_new (1, kv);
    CHECK (h);
    char jid[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "sleep", "fixed:max=3,delay=1s", 0, 600000, jid));
    CHECK (host_await_state (h, jid, "leased"));
    CHECK (host_await_running (h, jid)); /* its beats are paced from now */
    uint64_t first = host_job_num (h, jid, "lease_expires_us");
    /* the node renews the lease as the clock moves */
    host_advance (h, 2000);
    CHECK (host_await_renewal (h, jid, first));
    host_advance (h, 2000);
    CHECK (host_await_renewal (h, jid, first + 2000 * 1000));
    CHECK (host_poke (h));
    CHECK (host_state_is (h, jid, "leased")); /* past the first expiry */
    CHECK_EQ (host_job_num (h, jid, "attempt"), 1);
    /* the executor stops: its run is abandoned, no more heartbeats */
    zactor_destroy (&h->actors[3]);
    host_advance (h, 3001);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, jid, "scheduled"));
    CHECK_EQ (host_job_num (h, jid, "attempt"), 1);
    char cls[32];
    CHECK (host_job_field (h, jid, "error_class", cls, sizeof cls, NULL));
    CHECK_STR (cls, "lease_expired");
    /* after the backoff it is leased again, as attempt 2 (wherever the
       scheduler sends it: the stopped node may still look free to it) */
    host_advance (h, 1000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, jid, "leased"));
    CHECK_EQ (host_job_num (h, jid, "attempt"), 2);
    host_destroy (&h);
}

/*  CREDIT {capacity, busy} as an executor sends it (not at boot). */
static bool
s_credit (shoal_port_t *node, uint64_t capacity, uint64_t busy)
{
    shoal_wr_t *w = shoal_port_begin (node, SHOAL_M_CREDIT, "scheduler", NULL);
    shoal_wr_map (w, 3);
    shoal_wr_kv_uint (w, "capacity", capacity);
    shoal_wr_kv_uint (w, "busy", busy);
    shoal_wr_kv_bool (w, "boot", false);
    return shoal_port_send (node) == SHOAL_OK;
}

/*  An executor declared lost (NODE_LOST, as the registry sends it for a
    host that stopped beating) loses its lease: the job is requeued with a
    new epoch. When the link heals, what the executor sent while cut off
    arrives first, in order: a CREDIT from while it ran the job (busy 1,
    capacity 0), the job's result (stale: refused and counted), then a
    CREDIT with its slot free. Its slot must be free again: the job runs
    there as its next lease. */
SHOAL_TEST (a_lost_executor_that_comes_back_gets_work_again)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    char jid[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "x", NULL, 0, 0, jid));
    shoal_port_t *node = host_node_join (h, "node.far", 1);
    CHECK (node);
    shoal_id_t job;
    uint64_t e = host_node_run (node, &job);
    CHECK (e == 1);
    shoal_port_t *reg = shoal_port_new (h->bus, "registry", &h->clock);
    CHECK (reg);
    const char *to[] = {"store", "scheduler"};
    for (int i = 0; i < 2; i++) {
        shoal_wr_t *w = shoal_port_begin (reg, SHOAL_M_NODE_LOST, to[i], NULL);
        shoal_wr_map (w, 1);
        shoal_wr_str (w, "executors");
        shoal_wr_array (w, 1);
        shoal_wr_str (w, "node.far");
        CHECK (shoal_port_send (reg) == SHOAL_OK);
    }
    CHECK (host_await_state (h, jid, "enqueued"));
    CHECK_EQ (host_job_num (h, jid, "attempt"), 1);
    CHECK (s_credit (node, 0, 1));
    CHECK (host_node_result (node, &job, e, true));
    CHECK (s_credit (node, 1, 0));
    shoal_id_t again;
    uint64_t e2 = host_node_run (node, &again);
    CHECK (e2 == 2 && memcmp (&again, &job, 16) == 0);
    CHECK (host_node_result (node, &again, e2, true));
    CHECK (host_await_state (h, jid, "succeeded"));
    CHECK_EQ (host_stat (h, NULL, "stale_results"), 1);
    /* no failed attempt: attempt counts the leases that may have run it */
    CHECK_EQ (host_job_num (h, jid, "attempt"), 2);
    shoal_port_destroy (&reg);
    shoal_port_destroy (&node);
    host_destroy (&h);
}

/*  A RUN tells its executor the lease an EXTEND renews (store/lease, in
    "lm"), so an executor outside this host can pace its heartbeats. */
SHOAL_TEST (run_carries_the_lease_length)
{
    const char *kv[] = {"store/lease=4500", NULL};
    host_t *h = host_new (0, kv);
    CHECK (h);
    shoal_port_t *node = host_node_join (h, "node.fake", 1);
    CHECK (node);
    char jid[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "anything", NULL, 0, 0, jid));
    shoal_in_t in;
    bool run = false;
    while (!run && host_recv (node, NULL, &in)) {
        run = in.hdr.type == SHOAL_M_RUN;
        if (run) {
            uint64_t lm = 0, e = 0;
            CHECK_EQ (shoal_map_uint (in.body, in.body_len, "lm", &lm),
                      SHOAL_OK);
            CHECK_EQ (lm, 4500);
            CHECK_EQ (shoal_map_uint (in.body, in.body_len, "e", &e), SHOAL_OK);
            CHECK_EQ (e, 1);
        }
        shoal_in_close (&in);
    }
    CHECK (run);
    shoal_port_destroy (&node);
    host_destroy (&h);
}

SHOAL_TEST_MAIN (run_carries_the_lease_length,
                 heartbeat_keeps_the_lease_past_its_first_expiry,
                 stale_heartbeat_is_refused_and_counted,
                 heartbeat_never_extends_past_the_jobs_timeout,
                 running_job_heartbeats_then_expires_when_its_node_stops,
                 a_lost_executor_that_comes_back_gets_work_again)
