/*  test_cluster.c - a whole cluster in one process (cluster_host.h): an
    owner host "alpha" with no executors of its own and member hosts
    "beta" and "gamma" with two one-slot executors each, linked over ipc
    and all on one fake clock.

    Work submitted to the owner runs on the members (jobs and workflow
    nodes); the cluster table lists the members. A member cut off by a
    partition is declared lost once the clock passes heartbeat x liveness:
    its leases are requeued at once and run elsewhere under a new epoch;
    after the partition heals its late results are refused as stale, it
    rejoins and takes work again, and until it has beaten again a RUN for
    it is handed straight back. A member that stops says bye and is lost
    at once. Every wait is bounded; liveness moves only with the clock. */
#include "cluster_host.h"
#include "wf_host.h" /* wh_define, wh_run, wh_await_run, wh_node_field */
#include "shoal_test.h"

static const char *const s_members[] = {"beta", "gamma", NULL};

/*  Polls until job jid runs (its executor confirmed the start) on one of
    member's executors; that executor into out. */
static bool
s_await_running_on (cluster_t *c, const char *jid, const char *member,
                    char *out, size_t cap)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        shoal_in_t in;
        if (host_status (c->h, jid, &in)) {
            bool running = false;
            shoal_mp_val_t v;
            const uint8_t *map;
            size_t len;
            out[0] = '\0';
            if (in.hdr.type == SHOAL_M_OK &&
                shoal_map_find (in.body, in.body_len, "job", &v, &map, &len) ==
                    SHOAL_OK) {
                shoal_map_bool (map, len, "running", &running);
                shoal_map_strcpy (map, len, "executor", out, cap);
            }
            shoal_in_close (&in);
            if (running && (!member || ch_on (out, member))) {
                return true;
            }
        }
        host_poke (c->h);
    }
    fprintf (stderr, "  job %s never ran on %s\n", jid, member ? member : "?");
    return false;
}

/*  Polls (with pokes) until the store's counter name is want. */
static bool
s_await_stat (cluster_t *c, const char *name, uint64_t want)
{
    int64_t until = zclock_mono () + 10000;
    uint64_t got = 0;
    while (zclock_mono () < until) {
        if ((got = host_stat (c->h, NULL, name)) == want) {
            return true;
        }
        host_poke (c->h);
    }
    fprintf (stderr, "  %s is %llu, want %llu\n", name,
             (unsigned long long) got, (unsigned long long) want);
    return false;
}

/*  Polls until the owner registry's counter name is above than. */
static bool
s_await_counter_above (cluster_t *c, const char *name, uint64_t than)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        uint64_t n = ch_counter (c, name);
        if (n != UINT64_MAX && n > than) {
            return true;
        }
        zclock_sleep (5);
    }
    fprintf (stderr, "  registry counter %s stayed at %llu\n", name,
             (unsigned long long) than);
    return false;
}

/*  Gate jobs ids[from..from+n) all run; how many of them on member. */
static int
s_running_on (cluster_t *c, char ids[][SHOAL_ID_TEXT], int from, int n,
              const char *member, char execs[][SHOAL_NAME_MAX + 1])
{
    int on = 0;
    for (int k = from; k < from + n; k++) {
        if (!s_await_running_on (c, ids[k], NULL, execs[k], sizeof execs[k])) {
            return -1;
        }
        on += ch_on (execs[k], member);
    }
    return on;
}

SHOAL_TEST (members_run_jobs_and_workflow_nodes)
{
    cluster_t *c = ch_new (s_members, 2);
    CHECK (c);
    host_t *h = c->h;
    /* Four blocking jobs, four one-slot executors: one each. */
    char ids[4][SHOAL_ID_TEXT], execs[4][SHOAL_NAME_MAX + 1];
    for (int k = 0; k < 4; k++) {
        CHECK (ch_gate_submit (c, k, ids[k]));
    }
    CHECK_EQ (s_running_on (c, ids, 0, 4, "beta", execs), 2);
    for (int k = 0; k < 4; k++) {
        CHECK (ch_on (execs[k], "beta") || ch_on (execs[k], "gamma"));
        for (int j = 0; j < k; j++) {
            CHECK (!streq (execs[j], execs[k]));
        }
    }
    /* The cluster table (shoal hosts): both members alive, with their
       executors (the scheduler's, refreshed each heartbeat), slots and
       the leases they hold. */
    CHECK (ch_step (c));
    const char *names[] = {"beta", "gamma"};
    for (int i = 0; i < 2; i++) {
        int64_t until = zclock_mono () + 10000;
        while (ch_peer_num (c, names[i], "executors") != 2 &&
               zclock_mono () < until) {
            zclock_sleep (5);
        }
        CHECK (ch_peer_is (c, names[i], "alive"));
        char kind[16];
        CHECK (ch_peer_field (c, names[i], "kind", kind, sizeof kind, NULL));
        CHECK_STR (kind, "host");
        CHECK_EQ (ch_peer_num (c, names[i], "executors"), 2);
        CHECK_EQ (ch_peer_num (c, names[i], "capacity"), 2);
        CHECK_EQ (ch_peer_num (c, names[i], "inflight"), 2);
        CHECK_EQ (ch_peer_num (c, names[i], "lost"), 0);
    }
    shoal_in_t in;
    CHECK (ch_hosts (c, &in));
    char text[32] = "";
    shoal_map_strcpy (in.body, in.body_len, "name", text, sizeof text);
    bool named = streq (text, "alpha");
    shoal_map_strcpy (in.body, in.body_len, "role", text, sizeof text);
    bool owner = streq (text, "owner");
    shoal_rd_t rd;
    uint32_t npeers = 0;
    shoal_map_array (in.body, in.body_len, "peers", &rd, &npeers);
    shoal_in_close (&in);
    CHECK (named && owner);
    CHECK_EQ (npeers, 2);
    /* They end with the runs' own results. */
    for (int k = 0; k < 4; k++) {
        CHECK (ch_gate_open (c, k, 0));
    }
    for (int k = 0; k < 4; k++) {
        CHECK (host_await_state (h, ids[k], "succeeded"));
        CHECK_EQ (ch_result_run (c, ids[k]), 0);
        char x[SHOAL_NAME_MAX + 1];
        ch_executor (c, ids[k], x, sizeof x);
        CHECK_STR (x, execs[k]);
    }
    /* Instant jobs: results come back over the links. */
    char echo[8][SHOAL_ID_TEXT];
    for (int k = 0; k < 8; k++) {
        char pl[32];
        snprintf (pl, sizeof pl, "{\"n\": %d}", k);
        CHECK (ch_submit (c, "echo", pl, echo[k]));
    }
    for (int k = 0; k < 8; k++) {
        CHECK (host_await_state (h, echo[k], "succeeded"));
        char x[SHOAL_NAME_MAX + 1];
        ch_executor (c, echo[k], x, sizeof x);
        CHECK (ch_on (x, "beta") || ch_on (x, "gamma"));
        shoal_in_t st;
        CHECK (host_status (h, echo[k], &st));
        shoal_mp_val_t v;
        const uint8_t *job = NULL, *res = NULL;
        size_t jl = 0, rl = 0;
        uint64_t n = 99;
        if (shoal_map_find (st.body, st.body_len, "job", &v, &job, &jl) ==
                SHOAL_OK &&
            shoal_map_find (job, jl, "result", &v, &res, &rl) == SHOAL_OK) {
            shoal_map_uint (res, rl, "n", &n);
        }
        shoal_in_close (&st);
        CHECK_EQ (n, k);
    }
    /* A workflow run: every node's job runs on a member. */
    CHECK (wh_define (h, "{\"name\": \"spread\", \"nodes\": ["
                         "{\"id\": \"a\", \"type\": \"echo\"}, "
                         "{\"id\": \"b\", \"type\": \"echo\"}, "
                         "{\"id\": \"c\", \"type\": \"noop\"}], \"edges\": ["
                         "{\"from\": \"a\", \"to\": \"b\"}, "
                         "{\"from\": \"a\", \"to\": \"c\"}]}"));
    char run[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "spread", "{\"x\": 1}", run));
    CHECK (wh_await_run (h, run, "succeeded"));
    for (int i = 0; i < 3; i++) {
        char job[SHOAL_ID_TEXT], x[SHOAL_NAME_MAX + 1];
        CHECK (wh_node_field (h, run, i, "job", job, sizeof job));
        ch_executor (c, job, x, sizeof x);
        CHECK (ch_on (x, "beta") || ch_on (x, "gamma"));
    }
    CHECK_EQ (host_stat (h, NULL, "stale_results"), 0);
    CHECK_EQ (host_stat (h, NULL, "lost_requeued"), 0);
    ch_destroy (&c);
}

SHOAL_TEST (partition_requeues_then_heal_refuses_late_results)
{
    cluster_t *c = ch_new (s_members, 2);
    CHECK (c);
    host_t *h = c->h;
    ch_member_t *beta = ch_member (c, "beta");
    /* Every executor holds one blocking run. */
    char ids[10][SHOAL_ID_TEXT], execs[10][SHOAL_NAME_MAX + 1];
    for (int k = 0; k < 4; k++) {
        CHECK (ch_gate_submit (c, k, ids[k]));
    }
    CHECK_EQ (s_running_on (c, ids, 0, 4, "beta", execs), 2);
    int onb[2], ong[2], nb = 0, ng = 0;
    uint64_t epoch[4];
    for (int k = 0; k < 4; k++) {
        if (ch_on (execs[k], "beta")) {
            onb[nb++] = k;
        } else {
            ong[ng++] = k;
        }
        epoch[k] = host_job_num (h, ids[k], "epoch");
        CHECK_EQ (host_job_num (h, ids[k], "attempt"), 1);
    }
    CHECK (nb == 2 && ng == 2);

    /* Partition: beta hears nothing and is not heard. Lost only once its
       silence is longer than heartbeat x liveness (4 x 500 ms). */
    CHECK (ch_fault (beta, true));
    for (int s = 1; s <= CH_LIVENESS; s++) {
        CHECK (ch_step (c));
        CHECK (ch_peer_is (c, "beta", "alive"));
    }
    CHECK (ch_step (c));
    CHECK (ch_peer_is (c, "beta", "lost"));
    CHECK (ch_peer_is (c, "gamma", "alive"));
    CHECK_EQ (ch_peer_num (c, "beta", "lost"), 1);
    /* Its two leases go back at once (gamma is full: they wait). */
    CHECK (s_await_stat (c, "lost_requeued", 2));
    for (int i = 0; i < 2; i++) {
        CHECK (host_state_is (h, ids[onb[i]], "enqueued"));
        CHECK_EQ (host_job_num (h, ids[onb[i]], "attempt"), 0);
    }
    /* Gamma's own runs end; beta's jobs run there under a new epoch, as
       run 1 of each, and end with its result. */
    for (int i = 0; i < 2; i++) {
        CHECK (ch_gate_open (c, ong[i], 0));
    }
    for (int i = 0; i < 2; i++) {
        int k = onb[i];
        char x[SHOAL_NAME_MAX + 1];
        CHECK (s_await_running_on (c, ids[k], "gamma", x, sizeof x));
        CHECK_EQ (host_job_num (h, ids[k], "epoch"), epoch[k] + 1);
        CHECK_EQ (host_job_num (h, ids[k], "attempt"), 1);
    }
    uint64_t finished[4];
    for (int i = 0; i < 2; i++) {
        int k = onb[i];
        CHECK (ch_gate_open (c, k, 1));
        CHECK (host_await_state (h, ids[k], "succeeded"));
        CHECK_EQ (ch_result_run (c, ids[k]), 1);
        finished[k] = host_job_num (h, ids[k], "finished_us");
    }
    for (int i = 0; i < 2; i++) {
        CHECK (host_await_state (h, ids[ong[i]], "succeeded"));
    }
    CHECK_EQ (host_stat (h, NULL, "stale_results"), 0);

    /* Heal. Beta's first runs end now: their results cross the link
       late and are refused; each job keeps the run that completed it. */
    CHECK (ch_fault (beta, false));
    for (int i = 0; i < 2; i++) {
        CHECK (ch_gate_open (c, onb[i], 0));
    }
    CHECK (s_await_stat (c, "stale_results", 2));
    for (int i = 0; i < 2; i++) {
        int k = onb[i];
        char x[SHOAL_NAME_MAX + 1];
        CHECK (host_state_is (h, ids[k], "succeeded"));
        CHECK_EQ (ch_result_run (c, ids[k]), 1);
        ch_executor (c, ids[k], x, sizeof x);
        CHECK (ch_on (x, "gamma"));
        CHECK_EQ (host_job_num (h, ids[k], "finished_us"), finished[k]);
        CHECK_EQ (host_job_num (h, ids[k], "attempt"), 1);
    }
    CHECK_EQ (host_stat (h, "jobs", "succeeded"), 4);
    CHECK_EQ (host_stat (h, "jobs", "failed"), 0);
    CHECK_EQ (host_stat (h, "jobs", "dead"), 0);
    CHECK_EQ (host_stat (h, NULL, "lost_requeued"), 2);

    /* Beta has not beaten since: still lost. The credits its executors
       send do not bring it back (only a beat does), so a job submitted
       now waits for a gamma slot instead of being leased to beta and
       handed back. */
    CHECK (ch_peer_is (c, "beta", "lost"));
    for (int k = 4; k < 6; k++) { /* gamma is full again */
        CHECK (ch_gate_submit (c, k, ids[k]));
    }
    for (int k = 4; k < 6; k++) {
        CHECK (
            s_await_running_on (c, ids[k], "gamma", execs[k], sizeof execs[k]));
    }
    uint64_t released = ch_counter (c, "released");
    char jid[SHOAL_ID_TEXT];
    CHECK (ch_submit (c, "echo", "{\"late\": true}", jid));
    CHECK (host_state_is (h, jid, "enqueued"));
    CHECK (ch_gate_open (c, 4, 0)); /* a gamma slot frees */
    CHECK (host_await_state (h, jid, "succeeded"));
    CHECK_EQ (ch_counter (c, "released"), released);
    char x[SHOAL_NAME_MAX + 1];
    ch_executor (c, jid, x, sizeof x);
    CHECK (ch_on (x, "gamma"));
    CHECK_EQ (host_job_num (h, jid, "attempt"), 1);
    CHECK (ch_gate_open (c, 5, 0));
    CHECK (host_await_state (h, ids[4], "succeeded"));
    CHECK (host_await_state (h, ids[5], "succeeded"));

    /* Beta beats again: it rejoins, and takes work again. */
    uint64_t rejoined = ch_counter (c, "rejoined");
    CHECK (ch_step (c));
    CHECK (ch_peer_is (c, "beta", "alive"));
    CHECK_EQ (ch_counter (c, "rejoined"), rejoined + 1);
    for (int k = 6; k < 10; k++) {
        CHECK (ch_gate_submit (c, k, ids[k]));
    }
    CHECK_EQ (s_running_on (c, ids, 6, 4, "beta", execs), 2);
    for (int k = 6; k < 10; k++) {
        CHECK (ch_gate_open (c, k, 0));
    }
    for (int k = 6; k < 10; k++) {
        CHECK (host_await_state (h, ids[k], "succeeded"));
        CHECK_EQ (ch_result_run (c, ids[k]), 0);
    }
    CHECK_EQ (host_stat (h, "jobs", "succeeded"), 4 + 2 + 1 + 4);
    CHECK_EQ (host_stat (h, NULL, "stale_results"), 2);
    CHECK_EQ (host_stat (h, NULL, "lost_requeued"), 2);
    ch_destroy (&c);
}

SHOAL_TEST (run_that_cannot_reach_its_peer_is_handed_back)
{
    cluster_t *c = ch_new (s_members, 2);
    CHECK (c);
    host_t *h = c->h;
    /* The owner's own link drops everything: a RUN for any member is
       handed straight back (RELEASE in the executor's name) and that
       executor leaves the scheduler until it speaks again. First the
       scheduler must know the members' executors (their credits would
       not pass the fault). */
    const char *names[] = {"node.0@beta", "node.1@beta", "node.0@gamma",
                           "node.1@gamma"};
    for (size_t i = 0; i < 4; i++) {
        uint64_t cap = 0;
        bool lost = true;
        int64_t until = zclock_mono () + 10000;
        while (
            (!ch_sched_node (c, names[i], &cap, &lost) || cap == 0 || lost) &&
            zclock_mono () < until) {
            zclock_sleep (5);
        }
        CHECK (cap > 0 && !lost);
    }
    uint64_t released = ch_counter (c, "released");
    CHECK_EQ (zstr_sendx (c->registry, "FAULT", "drop", NULL), 0);
    char jid[SHOAL_ID_TEXT];
    CHECK (ch_submit (c, "echo", "{\"n\": 1}", jid));
    CHECK (s_await_counter_above (c, "released", released));
    /* (it may be on its way to another member's executor: each is
       handed back in turn until none is left in the scheduler) */
    CHECK (!host_state_is (h, jid, "succeeded"));
    /* The link carries again: the executors' next credits bring them
       back and the job runs, its handed-back lease not counted as a
       failure. */
    CHECK_EQ (zstr_sendx (c->registry, "FAULT", "pass", NULL), 0);
    CHECK (host_await_state (h, jid, "succeeded"));
    char x[SHOAL_NAME_MAX + 1];
    ch_executor (c, jid, x, sizeof x);
    CHECK (ch_on (x, "beta") || ch_on (x, "gamma"));
    CHECK_EQ (host_job_num (h, jid, "attempt"), 1);
    CHECK_EQ (host_stat (h, "jobs", "failed"), 0);
    ch_destroy (&c);
}

SHOAL_TEST (member_heartbeats_follow_the_owners_lease)
{
    /* The owner's lease is 3 s; the members' own store/lease is the
       default 300 s. A member's executor must renew a long run by the
       owner's lease (RUN carries lm), or the owner takes the job back. */
    const char *kv[] = {"store/lease=3000", "store/lease_grace=0", NULL};
    cluster_t *c = ch_new_with (s_members, 1, kv);
    CHECK (c);
    host_t *h = c->h;
    char id[SHOAL_ID_TEXT], exec[SHOAL_NAME_MAX + 1];
    CHECK (ch_gate_submit (c, 0, id));
    CHECK (s_await_running_on (c, id, NULL, exec, sizeof exec));
    uint64_t extends = host_stat (h, NULL, "lease_extends");
    for (int i = 0; i < 16; i++) { /* 8 s of the owner's clock */
        CHECK (ch_step (c));
        CHECK (host_state_is (h, id, "leased"));
    }
    CHECK (host_stat (h, NULL, "lease_extends") > extends);
    CHECK_EQ (host_stat (h, NULL, "expired_leases"), 0);
    CHECK (ch_gate_open (c, 0, 0));
    CHECK (host_await_state (h, id, "succeeded"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 1);
    ch_destroy (&c);
}

SHOAL_TEST (link_carries_only_the_executor_protocol)
{
    cluster_t *c = ch_new (s_members, 1);
    CHECK (c);
    /* Something on beta's bus sends what no executor may: a SHUTDOWN to
       the owner's control and supervisor, a SUBMIT, a NODE_LOST and a
       QUERY to its store. Names beta does not have go up the link; the
       owner refuses each and counts it. */
    ch_member_t *m = ch_member (c, "beta");
    shoal_port_t *p = shoal_port_new (m->bus, "intruder", &c->h->clock);
    CHECK (p);
    uint64_t refused = ch_counter (c, "refused");
    const struct {
        uint32_t type;
        const char *to;
    } bad[] = {{SHOAL_M_SHUTDOWN, "control"},
               {SHOAL_M_SHUTDOWN, "supervisor"},
               {SHOAL_M_SUBMIT, "control"},
               {SHOAL_M_NODE_LOST, "store"},
               {SHOAL_M_QUERY, "store"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shoal_wr_t *w = shoal_port_begin (p, bad[i].type, bad[i].to, NULL);
        shoal_wr_map (w, 1);
        shoal_wr_kv_str (w, "host", "gamma");
        CHECK_EQ (shoal_port_send (p), SHOAL_OK);
    }
    CHECK (s_await_counter_above (c, "refused", refused + 4));
    /* The owner serves as before, and beta still runs its jobs. */
    char jid[SHOAL_ID_TEXT];
    CHECK (ch_submit (c, "echo", "{\"still\": true}", jid));
    CHECK (host_await_state (c->h, jid, "succeeded"));
    CHECK (ch_peer_is (c, "beta", "alive"));
    shoal_port_destroy (&p);
    ch_destroy (&c);
}

SHOAL_TEST (member_that_stops_is_lost_at_once)
{
    cluster_t *c = ch_new (s_members, 2);
    CHECK (c);
    host_t *h = c->h;
    /* Four long sleeps, one per executor. */
    char ids[4][SHOAL_ID_TEXT], execs[4][SHOAL_NAME_MAX + 1];
    for (int k = 0; k < 4; k++) {
        CHECK (ch_submit (c, "sleep", "{\"ms\": 600000}", ids[k]));
    }
    CHECK_EQ (s_running_on (c, ids, 0, 4, "beta", execs), 2);
    uint64_t now = atomic_load (&h->now);
    /* Beta stops as shoald does: executors, then the registry, whose bye
       makes the owner requeue its leases at once. The clock stays put. */
    ch_member_stop (ch_member (c, "beta"));
    CHECK (ch_await_peer (c, "beta", "lost"));
    CHECK (s_await_stat (c, "lost_requeued", 2));
    CHECK_EQ (ch_counter (c, "lost"), 1);
    CHECK_EQ (atomic_load (&h->now), now);
    for (int k = 0; k < 4; k++) {
        if (ch_on (execs[k], "beta")) {
            CHECK (host_state_is (h, ids[k], "enqueued"));
            CHECK_EQ (host_job_num (h, ids[k], "attempt"), 0);
        } else {
            CHECK (host_state_is (h, ids[k], "leased"));
        }
    }
    /* Cancelling stops the sleeps running on gamma (the run's port is on
       gamma's bus): its executors are free for new work. */
    for (int k = 0; k < 4; k++) {
        CHECK_EQ (host_cancel (h, ids[k]), SHOAL_M_OK);
    }
    char jid[SHOAL_ID_TEXT];
    CHECK (ch_submit (c, "noop", NULL, jid));
    CHECK (host_await_state (h, jid, "succeeded"));
    char x[SHOAL_NAME_MAX + 1];
    ch_executor (c, jid, x, sizeof x);
    CHECK (ch_on (x, "gamma"));
    for (int k = 0; k < 4; k++) {
        CHECK (host_state_is (h, ids[k], "cancelled"));
    }
    ch_destroy (&c);
}

SHOAL_TEST_MAIN (members_run_jobs_and_workflow_nodes,
                 partition_requeues_then_heal_refuses_late_results,
                 run_that_cannot_reach_its_peer_is_handed_back,
                 link_carries_only_the_executor_protocol,
                 member_heartbeats_follow_the_owners_lease,
                 member_that_stops_is_lost_at_once)
