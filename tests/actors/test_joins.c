/*  test_joins.c - how a node's end reaches its targets, on an in-process
    host (the router decides the edges, the store commits each step): a
    join "all" target waits for every incoming edge and gets the output of
    the one that fired, or a map {source id: output} when several did; a
    join "any" target starts once, on the first edge that fires; a target
    none of whose edges fire is skipped, and so are its successors, down
    to a join that is reached another way. The test plays the executor,
    answering each node job with the output it chooses. */
#include "wf_host.h"

/*  Serves the next RUN, which must be of type want, with output. */
static bool
s_serve (shoal_port_t *x, const char *want, const char *output, wh_job_t *out)
{
    wh_job_t j;
    if (!wh_next (x, &j)) {
        return false;
    }
    if (!streq (j.type, want)) {
        fprintf (stderr, "  RUN of type %s, want %s\n", j.type, want);
        wh_job_clear (&j);
        return false;
    }
    bool sent = wh_answer (x, &j, true, output, NULL);
    if (out) {
        *out = j;
    } else {
        wh_job_clear (&j);
    }
    return sent;
}

/*  Node types say which node a RUN is for: each node its own type. */
SHOAL_TEST (join_all_waits_and_takes_the_one_fired_output)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    /* a (echo) and b (sleep) -> j (noop, join all); b's edge only if
       output.go */
    CHECK (wh_define (
        h,
        "{\"name\": \"j1\", \"nodes\": [{\"id\": \"a\", \"type\": \"echo\"}, "
        "{\"id\": \"b\", \"type\": \"sleep\"}, {\"id\": \"j\", \"type\": "
        "\"noop\"}], \"edges\": [{\"from\": \"a\", \"to\": \"j\"}, "
        "{\"from\": \"b\", \"to\": \"j\", \"if\": \"output.go\"}]}"));
    char run[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "j1", "{\"in\": 1}", run));
    /* both entry nodes start with the run's input */
    wh_job_t e1, e2;
    CHECK (wh_next (x, &e1));
    CHECK (wh_next (x, &e2));
    wh_job_t *a = streq (e1.type, "echo") ? &e1 : &e2;
    wh_job_t *b = a == &e1 ? &e2 : &e1;
    CHECK (streq (a->type, "echo") && streq (b->type, "sleep"));
    CHECK (wh_mp_is (a->pl, a->pl_len, "{\"in\": 1}"));
    CHECK (wh_mp_is (b->pl, b->pl_len, "{\"in\": 1}"));
    CHECK (wh_answer (x, a, true, "{\"from\": \"a\"}", NULL));
    /* a's edge is decided (fired) but j waits for b's */
    CHECK_EQ (wh_await_edge (h, run, 0), 1);
    CHECK (wh_node_is (h, run, 2, "waiting"));
    CHECK (wh_answer (x, b, true, "{\"go\": false}", NULL));
    wh_job_clear (&e1);
    wh_job_clear (&e2);
    wh_job_t j;
    CHECK (s_serve (x, "noop", NULL, &j));
    bool one = wh_mp_is (j.pl, j.pl_len, "{\"from\": \"a\"}"); /* not a map */
    wh_job_clear (&j);
    CHECK (one);
    CHECK (wh_await_run (h, run, "succeeded"));
    CHECK_EQ (wh_await_edge (h, run, 1), 0);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (join_all_of_several_is_a_map_by_source)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    /* s (noop) fans out to a (echo), b (sleep), c (exec), which join in j
       (fail: only a label here, the test answers it); b's edge to j only
       if output.go */
    CHECK (wh_define (
        h,
        "{\"name\": \"j2\", \"nodes\": [{\"id\": \"s\", \"type\": \"noop\"}, "
        "{\"id\": \"a\", \"type\": \"echo\"}, {\"id\": \"b\", \"type\": "
        "\"sleep\"}, {\"id\": \"c\", \"type\": \"exec\"}, {\"id\": \"j\", "
        "\"type\": \"fail\", \"join\": \"all\"}], \"edges\": ["
        "{\"from\": \"s\", \"to\": \"a\"}, {\"from\": \"s\", \"to\": \"b\"},"
        "{\"from\": \"s\", \"to\": \"c\"}, {\"from\": \"a\", \"to\": \"j\"},"
        "{\"from\": \"b\", \"to\": \"j\", \"if\": \"output.go\"},"
        "{\"from\": \"c\", \"to\": \"j\"}]}"));
    char run[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "j2", NULL, run));
    CHECK (s_serve (x, "noop", "{\"s\": 1}", NULL));
    /* a, b and c get s's output; answer them in the order c, a, b */
    wh_job_t got[3];
    for (int k = 0; k < 3; k++) {
        CHECK (wh_next (x, &got[k]));
        CHECK (wh_mp_is (got[k].pl, got[k].pl_len, "{\"s\": 1}"));
    }
    static const char *const order[] = {"exec", "echo", "sleep"};
    static const char *const outs[] = {"[3]", "{\"x\": \"a\"}",
                                       "{\"go\": false}"};
    for (int o = 0; o < 3; o++) {
        for (int k = 0; k < 3; k++) {
            if (streq (got[k].type, order[o])) {
                CHECK (wh_answer (x, &got[k], true, outs[o], NULL));
            }
        }
    }
    for (int k = 0; k < 3; k++) {
        wh_job_clear (&got[k]);
    }
    wh_job_t j;
    CHECK (s_serve (x, "fail", NULL, &j));
    /* a and c fired, b did not: {a: ..., c: ...} in source order */
    bool map = wh_mp_is (j.pl, j.pl_len, "{\"a\": {\"x\": \"a\"}, \"c\": [3]}");
    shoal_wr_t *want = wh_mp ("{\"a\": {\"x\": \"a\"}, \"c\": [3]}");
    bool bytes = j.pl && j.pl_len == shoal_wr_size (want) &&
                 memcmp (j.pl, shoal_wr_data (want), j.pl_len) == 0;
    shoal_wr_destroy (&want);
    wh_job_clear (&j);
    CHECK (map);
    CHECK (bytes);
    CHECK (wh_await_run (h, run, "succeeded"));
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (join_any_starts_once_on_the_first_that_fires)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    /* a (echo), b (sleep), c (exec) -> j (noop, join any); a's edge only
       if output.go: a ends first without firing, then b fires, then c */
    CHECK (wh_define (
        h,
        "{\"name\": \"j3\", \"nodes\": [{\"id\": \"a\", \"type\": \"echo\"}, "
        "{\"id\": \"b\", \"type\": \"sleep\"}, {\"id\": \"c\", \"type\": "
        "\"exec\"}, {\"id\": \"j\", \"type\": \"noop\", \"join\": "
        "\"any\"}], \"edges\": [{\"from\": \"a\", \"to\": \"j\", \"if\": "
        "\"output.go\"}, {\"from\": \"b\", \"to\": \"j\"}, {\"from\": "
        "\"c\", \"to\": \"j\"}]}"));
    char run[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "j3", NULL, run));
    wh_job_t got[3];
    for (int k = 0; k < 3; k++) {
        CHECK (wh_next (x, &got[k]));
    }
    static const char *const order[] = {"echo", "sleep", "exec"};
    static const char *const outs[] = {"{\"go\": false}", "{\"first\": \"b\"}",
                                       "{\"late\": \"c\"}"};
    wh_job_t j;
    char jjob[SHOAL_ID_TEXT] = "";
    for (int o = 0; o < 3; o++) {
        for (int k = 0; k < 3; k++) {
            if (streq (got[k].type, order[o])) {
                CHECK (wh_answer (x, &got[k], true, outs[o], NULL));
            }
        }
        CHECK_EQ (wh_await_edge (h, run, o), o > 0);
        if (o == 0) {
            CHECK (wh_node_is (h, run, 3, "waiting"));
        } else if (o == 1) {
            /* started by b's edge, with b's output */
            CHECK (wh_next (x, &j));
            CHECK_STR (j.type, "noop");
            CHECK (wh_mp_is (j.pl, j.pl_len, "{\"first\": \"b\"}"));
            CHECK (wh_node_field (h, run, 3, "job", jjob, sizeof jjob));
            CHECK (wh_is_job (&j, jjob));
        } else {
            /* c's edge fired too: j is not started again */
            char now[SHOAL_ID_TEXT];
            CHECK (wh_node_field (h, run, 3, "job", now, sizeof now));
            CHECK_STR (now, jjob);
            CHECK (wh_node_is (h, run, 3, "leased"));
        }
    }
    for (int k = 0; k < 3; k++) {
        wh_job_clear (&got[k]);
    }
    CHECK (wh_answer (x, &j, true, NULL, NULL));
    wh_job_clear (&j);
    CHECK (wh_await_run (h, run, "succeeded"));
    char att[32];
    CHECK (host_job_field (h, jjob, "state", att, sizeof att, NULL));
    CHECK_STR (att, "succeeded");
    CHECK_EQ (host_job_num (h, jjob, "attempt"), 1);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (skipped_targets_skip_their_successors)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    /* a -> b only if output.go (it is not); b -> c -> d; a -> d (d
       join all: reached through a, so it runs); b -> e -> f (e and f
       skipped); g join any from c and, on a's port "p", from a (neither
       fires: skipped) */
    CHECK (wh_define (
        h, "{\"name\": \"sk\", \"nodes\": [{\"id\": \"a\", \"type\": \"echo\"},"
           "{\"id\": \"b\", \"type\": \"noop\"}, {\"id\": \"c\", \"type\": "
           "\"noop\"}, {\"id\": \"d\", \"type\": \"sleep\"}, {\"id\": \"e\", "
           "\"type\": \"noop\"}, {\"id\": \"f\", \"type\": \"noop\"}, {\"id\": "
           "\"g\", \"type\": \"noop\", \"join\": \"any\"}], \"edges\": ["
           "{\"from\": \"a\", \"to\": \"b\", \"if\": \"output.go\"},"
           "{\"from\": \"b\", \"to\": \"c\"}, {\"from\": \"c\", \"to\": \"d\"},"
           "{\"from\": \"a\", \"to\": \"d\"}, {\"from\": \"b\", \"to\": \"e\"},"
           "{\"from\": \"e\", \"to\": \"f\"}, {\"from\": \"c\", \"to\": \"g\"},"
           "{\"from\": \"a\", \"to\": \"g\", \"port\": \"p\"}]}"));
    char run[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "sk", NULL, run));
    CHECK (s_serve (x, "echo", "{\"go\": false, \"v\": 7}", NULL));
    /* the only other node to run is d, with a's output (one fired) */
    wh_job_t d;
    CHECK (s_serve (x, "sleep", NULL, &d));
    bool msg = wh_mp_is (d.pl, d.pl_len, "{\"go\": false, \"v\": 7}");
    wh_job_clear (&d);
    CHECK (msg);
    CHECK (wh_await_run (h, run, "succeeded"));
    wh_view_t v;
    CHECK (wh_view (h, run, &v));
    char s[64];
    static const int skipped[] = {1, 2, 4, 5, 6};
    for (size_t k = 0; k < sizeof skipped / sizeof skipped[0]; k++) {
        CHECK (wh_node_str (&v, skipped[k], "state", s, sizeof s));
        CHECK_STR (s, "cancelled");
        CHECK (wh_node_str (&v, skipped[k], "error", s, sizeof s));
        CHECK_STR (s, "not reached");
        CHECK (!wh_node_str (&v, skipped[k], "job", s, sizeof s));
    }
    CHECK (wh_node_str (&v, 3, "state", s, sizeof s));
    CHECK_STR (s, "succeeded");
    /* every edge is decided; only a -> d fired */
    for (int k = 0; k < 8; k++) {
        CHECK_EQ (wh_edge_fired (&v, k), k == 3);
    }
    wh_view_close (&v);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (ports_and_conditions_pick_the_branch)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    /* a's port picks hi or lo; hi only when the run's input allows */
    CHECK (wh_define (
        h, "{\"name\": \"pt\", \"nodes\": [{\"id\": \"a\", \"type\": \"echo\"},"
           "{\"id\": \"hi\", \"type\": \"sleep\"}, {\"id\": \"lo\", \"type\": "
           "\"exec\"}, {\"id\": \"dflt\", \"type\": \"noop\"}], \"edges\": ["
           "{\"from\": \"a\", \"to\": \"hi\", \"port\": \"hi\", \"if\": "
           "\"input.allow == true\"},"
           "{\"from\": \"a\", \"to\": \"lo\", \"port\": \"lo\"},"
           "{\"from\": \"a\", \"to\": \"dflt\"}]}"));
    struct {
        const char *input, *output, *runs; /* type of the one that runs */
        int fired[3];
    } rows[] = {
        {"{\"allow\": true}", "{\"port\": \"hi\"}", "sleep", {1, 0, 0}},
        {"{\"allow\": false}", "{\"port\": \"hi\"}", NULL, {0, 0, 0}},
        {"{\"allow\": true}", "{\"port\": \"lo\"}", "exec", {0, 1, 0}},
        {"{\"allow\": true}", "{\"port\": \"\"}", "noop", {0, 0, 1}},
        {"{\"allow\": true}", "{\"port\": 3}", "noop", {0, 0, 1}},
        {"{\"allow\": true}", "{\"port\": \"HI\"}", NULL, {0, 0, 0}},
        {"{\"allow\": true}", "[\"hi\"]", "noop", {0, 0, 1}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        char run[SHOAL_ID_TEXT];
        CHECK (wh_run (h, "pt", rows[r].input, run));
        CHECK (s_serve (x, "echo", rows[r].output, NULL));
        if (rows[r].runs) {
            CHECK (s_serve (x, rows[r].runs, NULL, NULL));
        }
        CHECK (wh_await_run (h, run, "succeeded"));
        wh_view_t v;
        CHECK (wh_view (h, run, &v));
        int f[3];
        for (int k = 0; k < 3; k++) {
            f[k] = wh_edge_fired (&v, k);
        }
        wh_view_close (&v);
        for (int k = 0; k < 3; k++) {
            if (f[k] != rows[r].fired[k]) {
                SHOAL_FAIL_ ("row %zu edge %d: fired %d, want %d", r, k, f[k],
                             rows[r].fired[k]);
            }
        }
    }
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (a_node_without_edges_is_routed_and_ends_the_run)
{
    /* the router's first ROUTE is for a node with no out-edges (an empty
       bitmap); then a node with edges, then one without again */
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (h, "{\"name\": \"solo\", \"nodes\": [{\"id\": "
                         "\"a\", \"type\": \"echo\"}]}"));
    CHECK (wh_define (h, "{\"name\": \"two\", \"nodes\": [{\"id\": \"a\", "
                         "\"type\": \"echo\"}, {\"id\": \"b\", \"type\": "
                         "\"noop\"}], \"edges\": [{\"from\": \"a\", "
                         "\"to\": \"b\"}]}"));
    char run[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "solo", NULL, run));
    CHECK (s_serve (x, "echo", "{\"port\": \"x\"}", NULL));
    CHECK (wh_await_run (h, run, "succeeded"));
    char port[16];
    CHECK (wh_node_field (h, run, 0, "port", port, sizeof port));
    CHECK_STR (port, "x");
    CHECK (wh_run (h, "two", NULL, run));
    CHECK (s_serve (x, "echo", NULL, NULL));
    CHECK (s_serve (x, "noop", NULL, NULL));
    CHECK (wh_await_run (h, run, "succeeded"));
    CHECK (wh_run (h, "solo", NULL, run));
    CHECK (s_serve (x, "echo", NULL, NULL));
    CHECK (wh_await_run (h, run, "succeeded"));
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST_MAIN (a_node_without_edges_is_routed_and_ends_the_run,
                 join_all_waits_and_takes_the_one_fired_output,
                 join_all_of_several_is_a_map_by_source,
                 join_any_starts_once_on_the_first_that_fires,
                 skipped_targets_skip_their_successors,
                 ports_and_conditions_pick_the_branch)
