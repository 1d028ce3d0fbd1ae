/*  test_runlimits.c - limits of workflow runs on an in-process host with
    a fake clock: a node's max_concurrent and rate (its own queue, across
    runs), the run's max_concurrency (a durable line of waiting nodes),
    the run's timeout (durable, with the saga), and a node's timeout
    (retries, then its fail edge). The test plays the only executor
    (host_node_join), so it decides when each node job ends; nothing
    sleeps: it moves the clock and pokes the store and scheduler. */
#include "wf_host.h" /* wh_define, wh_run; WH_EXEC */

#define S_EXEC WH_EXEC

/*  Reads the run's view: its field (state, error) into out when field is
    not NULL; node i's field (state, job, error) into out otherwise. */
static bool
s_view (host_t *h, const char *run, const char *field, int i,
        const char *nfield, char *out, size_t cap)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_WORKFLOW, &id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", "show");
    shoal_wr_kv_str (w, "id", run);
    shoal_in_t in;
    if (!host_call (h, &id, &in)) {
        return false;
    }
    bool ok = false;
    shoal_mp_val_t v;
    const uint8_t *map;
    size_t len;
    shoal_rd_t rd;
    uint32_t n;
    out[0] = '\0';
    if (in.hdr.type == SHOAL_M_OK &&
        shoal_map_find (in.body, in.body_len, "run", &v, &map, &len) ==
            SHOAL_OK) {
        if (field) {
            ok = shoal_map_strcpy (map, len, field, out, cap) == SHOAL_OK;
        } else if (shoal_map_array (map, len, "nodes", &rd, &n) == SHOAL_OK &&
                   (uint32_t) i < n) {
            for (int k = 0; k <= i; k++) {
                const uint8_t *p = rd.p;
                if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
                    break;
                }
                if (k == i) {
                    ok = shoal_map_strcpy (p, (size_t) (rd.p - p), nfield, out,
                                           cap) == SHOAL_OK;
                }
            }
        }
    }
    shoal_in_close (&in);
    return ok;
}

static bool
s_run_is (host_t *h, const char *run, const char *field, const char *want)
{
    char got[256];
    return s_view (h, run, field, 0, NULL, got, sizeof got) &&
           streq (got, want);
}

static bool
s_node_is (host_t *h, const char *run, int i, const char *want)
{
    char got[64];
    return s_view (h, run, NULL, i, "state", got, sizeof got) &&
           streq (got, want);
}

/*  Polls (with pokes) until the run's state is want. */
static bool
s_await_run (host_t *h, const char *run, const char *want)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        if (s_run_is (h, run, "state", want)) {
            return true;
        }
        host_poke (h);
    }
    return false;
}

/*  Nodes 0..nodes-1 of the runs in state want. */
static int
s_count (host_t *h, char (*runs)[SHOAL_ID_TEXT], int nruns, int nodes,
         const char *want)
{
    int c = 0;
    for (int r = 0; r < nruns; r++) {
        for (int i = 0; i < nodes; i++) {
            c += s_node_is (h, runs[r], i, want);
        }
    }
    return c;
}

/*  Every effect of the last step has happened: store passes, scheduler
    dispatch (rate limits on the clock), the leases it asked for. */
static void
s_settle (host_t *h)
{
    host_settle (h);
    host_ping (h, "scheduler");
    host_settle (h);
}

/*  Node i's job id (text) of run. */
static bool
s_node_job (host_t *h, const char *run, int i, char job[SHOAL_ID_TEXT])
{
    return s_view (h, run, NULL, i, "job", job, SHOAL_ID_TEXT);
}

static bool
s_same (const shoal_id_t *id, const char *text)
{
    char t[SHOAL_ID_TEXT];
    shoal_id_format (id, t);
    return streq (t, text);
}

SHOAL_TEST (node_max_concurrent_holds_across_runs)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, S_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (h, "{\"name\": \"lim\", \"nodes\": [{\"id\": \"a\", "
                         "\"type\": \"noop\", \"max_concurrent\": 2}]}"));
    char runs[5][SHOAL_ID_TEXT];
    for (int r = 0; r < 5; r++) {
        CHECK (wh_run (h, "lim", NULL, runs[r]));
    }
    shoal_id_t jobs[5];
    uint64_t epochs[5];
    for (int k = 0; k < 2; k++) {
        CHECK ((epochs[k] = host_node_run (x, &jobs[k])) > 0);
    }
    s_settle (h);
    CHECK_EQ (s_count (h, runs, 5, 1, "leased"), 2);
    CHECK_EQ (s_count (h, runs, 5, 1, "enqueued"), 3);
    char job[SHOAL_ID_TEXT];
    CHECK (s_node_job (h, runs[0], 0, job));
    CHECK (host_job_field (h, job, "queue", job, sizeof job, NULL));
    CHECK_STR (job, "wf:lim:a");
    /* each end lets exactly one more start */
    for (int k = 0; k < 5; k++) {
        CHECK (host_node_result (x, &jobs[k], epochs[k], true));
        if (k + 2 < 5) {
            CHECK ((epochs[k + 2] = host_node_run (x, &jobs[k + 2])) > 0);
        }
        s_settle (h);
        CHECK (s_count (h, runs, 5, 1, "leased") <= 2);
    }
    for (int r = 0; r < 5; r++) {
        CHECK (s_await_run (h, runs[r], "succeeded"));
    }
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (node_rate_limit_follows_the_clock)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, S_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (h, "{\"name\": \"rl\", \"nodes\": [{\"id\": \"a\", "
                         "\"type\": \"noop\", \"rate\": \"1/10s\"}]}"));
    char runs[3][SHOAL_ID_TEXT];
    for (int r = 0; r < 3; r++) {
        CHECK (wh_run (h, "rl", NULL, runs[r]));
    }
    shoal_id_t job;
    uint64_t epoch;
    CHECK ((epoch = host_node_run (x, &job)) > 0);
    CHECK (host_node_result (x, &job, epoch, true)); /* not a slot limit */
    s_settle (h);
    CHECK_EQ (s_count (h, runs, 3, 1, "succeeded"), 1);
    CHECK_EQ (s_count (h, runs, 3, 1, "enqueued"), 2);
    host_advance (h, 5000);
    s_settle (h);
    CHECK_EQ (s_count (h, runs, 3, 1, "enqueued"), 2);
    host_advance (h, 5000); /* 10 s after the first start */
    s_settle (h);
    CHECK ((epoch = host_node_run (x, &job)) > 0);
    s_settle (h);
    CHECK_EQ (s_count (h, runs, 3, 1, "leased"), 1);
    CHECK_EQ (s_count (h, runs, 3, 1, "enqueued"), 1);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

/*  Receives RUNs until one for text's job; answers the others ok
    (they belong to nodes the test does not watch) - at most 16. */
static uint64_t
s_run_of (shoal_port_t *x, const char *text, shoal_id_t *job)
{
    for (int k = 0; k < 16; k++) {
        uint64_t e = host_node_run (x, job);
        if (e == 0 || s_same (job, text)) {
            return e;
        }
    }
    return 0;
}

SHOAL_TEST (run_max_concurrency_lines_nodes_up_across_a_restart)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, S_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (h, "{\"name\": \"mc\", \"max_concurrency\": 2, "
                         "\"nodes\": [{\"id\": \"a\", \"type\": \"noop\"}, "
                         "{\"id\": \"b\", \"type\": \"noop\"}, "
                         "{\"id\": \"c\", \"type\": \"noop\"}, "
                         "{\"id\": \"d\", \"type\": \"noop\"}]}"));
    char runs[2][SHOAL_ID_TEXT];
    CHECK (wh_run (h, "mc", NULL, runs[0]));
    CHECK (wh_run (h, "mc", NULL, runs[1])); /* the limit is per run */
    shoal_id_t job;
    for (int k = 0; k < 4; k++) {
        CHECK (host_node_run (x, &job) > 0);
    }
    s_settle (h);
    for (int r = 0; r < 2; r++) {
        CHECK (s_node_is (h, runs[r], 0, "leased"));
        CHECK (s_node_is (h, runs[r], 1, "leased"));
        CHECK (s_node_is (h, runs[r], 2, "waiting"));
        CHECK (s_node_is (h, runs[r], 3, "waiting"));
    }
    /* the line is in LMDB: a restart keeps it */
    shoal_port_destroy (&x);
    host_stop (h);
    CHECK (host_start_again (h, 0));
    CHECK (x = host_node_join (h, S_EXEC, 16));
    s_settle (h);
    CHECK (s_node_is (h, runs[0], 2, "waiting"));
    CHECK (s_node_is (h, runs[0], 3, "waiting"));
    /* the requeued leases come again; end run 0's node a */
    char a0[SHOAL_ID_TEXT];
    CHECK (s_node_job (h, runs[0], 0, a0));
    uint64_t e = s_run_of (x, a0, &job);
    CHECK (e > 0);
    CHECK (host_node_result (x, &job, e, true));
    s_settle (h);
    /* c was reached before d: c takes the slot */
    CHECK (s_node_is (h, runs[0], 0, "succeeded"));
    CHECK (!s_node_is (h, runs[0], 2, "waiting"));
    CHECK (s_node_is (h, runs[0], 3, "waiting"));
    CHECK (s_node_is (h, runs[1], 2, "waiting"));
    CHECK (s_node_is (h, runs[1], 3, "waiting"));
    /* the rest: answer every RUN; never more than 2 under way per run */
    for (int k = 0; k < 16 && !(s_run_is (h, runs[0], "state", "succeeded") &&
                                s_run_is (h, runs[1], "state", "succeeded"));
         k++) {
        e = host_node_run (x, &job);
        CHECK (e > 0);
        CHECK (host_node_result (x, &job, e, true));
        s_settle (h);
        for (int r = 0; r < 2; r++) {
            char (*one)[SHOAL_ID_TEXT] = &runs[r];
            CHECK (s_count (h, one, 1, 4, "leased") +
                       s_count (h, one, 1, 4, "enqueued") <=
                   2);
        }
    }
    CHECK (s_await_run (h, runs[0], "succeeded"));
    CHECK (s_await_run (h, runs[1], "succeeded"));
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (run_timeout_cancels_then_compensates)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, S_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (
        h, "{\"name\": \"to\", \"timeout\": \"10s\", \"nodes\": ["
           "{\"id\": \"a\", \"type\": \"noop\", \"compensate\": \"undo\"},"
           "{\"id\": \"b\", \"type\": \"noop\"},"
           "{\"id\": \"c\", \"type\": \"noop\"},"
           "{\"id\": \"undo\", \"type\": \"noop\"}], \"edges\": ["
           "{\"from\": \"a\", \"to\": \"b\"}, {\"from\": \"b\", \"to\": "
           "\"c\"}]}"));
    char run[SHOAL_ID_TEXT], bjob[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "to", NULL, run));
    shoal_id_t job;
    uint64_t e = host_node_run (x, &job);
    CHECK (e > 0);
    CHECK (host_node_result (x, &job, e, true)); /* a */
    CHECK (host_node_run (x, &job) > 0);         /* b: held */
    s_settle (h);
    CHECK (s_node_job (h, run, 1, bjob));
    host_advance (h, 9000);
    s_settle (h);
    CHECK (s_run_is (h, run, "state", "running"));
    host_advance (h, 1000); /* the deadline */
    s_settle (h);
    CHECK (s_run_is (h, run, "state", "compensating"));
    CHECK (host_state_is (h, bjob, "cancelled"));
    CHECK (s_node_is (h, run, 1, "cancelled"));
    CHECK (s_node_is (h, run, 2, "cancelled"));
    char err[64];
    CHECK (s_view (h, run, NULL, 2, "error", err, sizeof err));
    CHECK_STR (err, "run timed out");
    CHECK ((e = host_node_run (x, &job)) > 0); /* undo */
    CHECK (host_node_result (x, &job, e, true));
    CHECK (s_await_run (h, run, "failed"));
    CHECK (s_run_is (h, run, "error", "timeout"));
    CHECK (s_node_is (h, run, 3, "succeeded"));
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (run_timeout_holds_across_a_restart)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, S_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (h, "{\"name\": \"to2\", \"timeout\": \"5s\", "
                         "\"nodes\": [{\"id\": \"a\", \"type\": \"noop\"}]}"));
    char run[SHOAL_ID_TEXT], other[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "to2", NULL, run));
    shoal_id_t job;
    uint64_t e = host_node_run (x, &job);
    CHECK (e > 0);
    CHECK (
        wh_run (h, "to2", NULL, other)); /* ends in time: its entry is moot */
    shoal_id_t job2;
    uint64_t e2 = host_node_run (x, &job2);
    CHECK (e2 > 0);
    char ojob[SHOAL_ID_TEXT];
    CHECK (s_node_job (h, other, 0, ojob));
    if (s_same (&job, ojob)) {
        CHECK (host_node_result (x, &job, e, true));
    } else {
        CHECK (host_node_result (x, &job2, e2, true));
    }
    CHECK (s_await_run (h, other, "succeeded"));
    shoal_port_destroy (&x);
    host_stop (h);
    host_advance (h, 60000); /* down past the deadline */
    CHECK (host_start_again (h, 0));
    s_settle (h);
    CHECK (s_await_run (h, run, "failed"));
    CHECK (s_run_is (h, run, "error", "timeout"));
    CHECK (s_node_is (h, run, 0, "cancelled"));
    CHECK (s_run_is (h, other, "state", "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST (node_timeout_retries_then_takes_its_fail_edge)
{
    const char *kv[] = {"store/lease_grace=0", NULL};
    host_t *h = host_new (0, kv);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, S_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (
        h, "{\"name\": \"nt\", \"nodes\": ["
           "{\"id\": \"a\", \"type\": \"noop\", \"timeout\": \"2s\", "
           "\"retry\": \"fixed:max=2,delay=1s\"},"
           "{\"id\": \"alert\", \"type\": \"noop\"}], \"edges\": ["
           "{\"from\": \"a\", \"to\": \"alert\", \"on\": \"fail\"}]}"));
    char run[SHOAL_ID_TEXT], ajob[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "nt", NULL, run));
    shoal_id_t job;
    int attempts = 0;
    uint64_t e = 0;
    CHECK (s_node_job (h, run, 0, ajob));
    /* never answer a: each attempt times out, then it is retried */
    for (int k = 0; k < 8; k++) {
        e = host_node_run (x, &job);
        CHECK (e > 0);
        if (!s_same (&job, ajob)) {
            break; /* alert: a's retries are used up */
        }
        attempts++;
        host_advance (h, 2000); /* its timeout */
        s_settle (h);
        host_advance (h, 1000); /* the retry delay */
        s_settle (h);
    }
    CHECK (attempts >= 2);
    CHECK (s_node_is (h, run, 0, "dead"));
    CHECK (host_state_is (h, ajob, "dead"));
    CHECK (host_node_result (x, &job, e, true)); /* alert */
    CHECK (s_await_run (h, run, "succeeded"));   /* the fail edge handled */
    CHECK (s_node_is (h, run, 1, "succeeded"));
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (queue_names_fit_and_do_not_collide)
{
    /* the naming is the store's (store_runlim_queue_name), checked
       through the queue a limited node's job gets */
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, S_EXEC, 16);
    CHECK (x);
    char json[512];
    snprintf (json, sizeof json,
              "{\"name\": \"%s\", \"nodes\": [{\"id\": \"%s\", \"type\": "
              "\"noop\", \"max_concurrent\": 1}]}",
              "a-very-long-workflow-name-that-goes-on-and-on-for-sixty-chars",
              "node:with:colons");
    CHECK (wh_define (h, json));
    char run[SHOAL_ID_TEXT], job[SHOAL_ID_TEXT], queue[SHOAL_NAME_MAX + 1];
    CHECK (wh_run (h,
                   "a-very-long-workflow-name-that-goes-on-and-on-for-sixty-"
                   "chars",
                   NULL, run));
    shoal_id_t id;
    CHECK (host_node_run (x, &id) > 0);
    CHECK (s_node_job (h, run, 0, job));
    CHECK (host_job_field (h, job, "queue", queue, sizeof queue, NULL));
    CHECK (strncmp (queue, "wfh:", 4) == 0);
    CHECK (shoal_name_valid (queue, strlen (queue)));
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST_MAIN (node_max_concurrent_holds_across_runs,
                 node_rate_limit_follows_the_clock,
                 run_max_concurrency_lines_nodes_up_across_a_restart,
                 run_timeout_cancels_then_compensates,
                 run_timeout_holds_across_a_restart,
                 node_timeout_retries_then_takes_its_fail_edge,
                 queue_names_fit_and_do_not_collide)
