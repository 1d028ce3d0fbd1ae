/*  test_breaker.c - circuit breakers of workflow nodes and the router
    actor, on an in-process host with a fake clock. The test plays the
    only executor, so it decides how every node job ends, and watches the
    breaker.* events on the monitor:
    - closed -> open once the window holds min_calls results and the
      failed fraction reaches the rate; then the node's fallback runs in
      its place and the node's edges route the fallback's output;
    - open -> half-open only once the clock passes open_for; trial calls
      (at most half_open_successes at a time) close it, a failed trial
      opens it again;
    - without a fallback an open breaker fails the node at once with the
      breaker's reason, and the run takes its fail edge;
    - a router that restarts is sent again every unrouted end and every
      unanswered breaker question (ROUTER_BOOT), so runs complete. */
#include "wf_host.h"

#include "shoal_breaker.h"

/*  Node indexes and edges of the definitions below. */
enum { N_CALL, N_OK, N_ALT, N_FAILED, N_CACHED };
enum { E_OK, E_ALT, E_FAILED };

/*  call (type fail, no retries) with a breaker of rate 0.5, min_calls,
    window 60s, open_for 30s, 2 half-open successes, and (fallback) the
    fallback node "cached" (type echo, config {"from": "cache"}). call's
    edges: default port -> ok, port "cached" -> alt, on fail -> failed. */
static bool
s_define_brk (host_t *h, const char *name, int min_calls, bool fallback)
{
    char json[2048];
    snprintf (json, sizeof json,
              "{\"name\": \"%s\", \"nodes\": ["
              "{\"id\": \"call\", \"type\": \"fail\", \"retry\": \"none\", "
              "\"breaker\": {\"failure_rate\": 0.5, \"min_calls\": %d, "
              "\"window\": \"60s\", \"open_for\": \"30s\", "
              "\"half_open_successes\": 2}%s},"
              "{\"id\": \"ok\", \"type\": \"noop\"},"
              "{\"id\": \"alt\", \"type\": \"noop\"},"
              "{\"id\": \"failed\", \"type\": \"noop\"}%s],"
              "\"edges\": [{\"from\": \"call\", \"to\": \"ok\"},"
              "{\"from\": \"call\", \"to\": \"alt\", \"port\": \"cached\"},"
              "{\"from\": \"call\", \"to\": \"failed\", \"on\": \"fail\"}]}",
              name, min_calls, fallback ? ", \"fallback\": \"cached\"" : "",
              fallback ? ",{\"id\": \"cached\", \"type\": \"echo\", "
                         "\"retry\": \"none\", \"config\": {\"from\": "
                         "\"cache\"}}"
                       : "");
    return wh_define (h, json);
}

/*  One run of name: the RUN for call comes as type want ("fail": the
    node itself; "echo": its fallback; NULL: none, it failed fast) and is
    answered ok with output, or failed with "boom"; then the one
    successor that fires runs (type noop) and the run must succeed. The
    call's and the successor's RUNs into first and next when not NULL
    (the caller clears them). */
static bool
s_cycle (host_t *h, shoal_port_t *x, const char *name, const char *want,
         bool ok, const char *output, char run[SHOAL_ID_TEXT], wh_job_t *first,
         wh_job_t *next)
{
    if (!wh_run (h, name, NULL, run)) {
        fprintf (stderr, "  run of %s not started\n", name);
        return false;
    }
    wh_job_t j;
    if (want) {
        if (!wh_next (x, &j)) {
            return false;
        }
        if (!streq (j.type, want)) {
            fprintf (stderr, "  call ran as %s, want %s\n", j.type, want);
            wh_job_clear (&j);
            return false;
        }
        bool sent = wh_answer (x, &j, ok, output, "boom");
        if (first) {
            *first = j;
        } else {
            wh_job_clear (&j);
        }
        if (!sent) {
            return false;
        }
    }
    if (!wh_next (x, &j)) {
        return false;
    }
    if (!streq (j.type, "noop")) {
        fprintf (stderr, "  successor ran as %s\n", j.type);
        wh_job_clear (&j);
        return false;
    }
    bool sent = wh_answer (x, &j, true, NULL, NULL);
    if (next) {
        *next = j;
    } else {
        wh_job_clear (&j);
    }
    return sent && wh_await_run (h, run, "succeeded");
}

/*  A SUB socket on the host's monitor for topics under prefix, once the
    monitor has the subscription (asked with its STATS pipe command). */
static zsock_t *
s_watch (host_t *h, const char *prefix)
{
    zsock_t *sub = zsock_new_sub (h->monitor, prefix);
    if (!sub) {
        return NULL;
    }
    zactor_t *mon = h->actors[0]; /* host_start: the monitor first */
    zpoller_t *p = zpoller_new (zactor_sock (mon), NULL);
    bool seen = false;
    for (int64_t until = zclock_mono () + 10000;
         !seen && zclock_mono () < until;) {
        zstr_send (mon, "STATS");
        if (!zpoller_wait (p, 5000)) {
            break;
        }
        char *s = zstr_recv (mon);
        const char *n = s ? strstr (s, "subscribers=") : NULL;
        seen = n && atoi (n + strlen ("subscribers=")) >= 1;
        zstr_free (&s);
        if (!seen) {
            zclock_sleep (10); /* the subscription is on its way */
        }
    }
    zpoller_destroy (&p);
    if (!seen) {
        zsock_destroy (&sub);
    }
    return sub;
}

/*  The next event on sub (within 10 s), which must have topic; decoded
    into *ev (the caller json_decref's it). */
static bool
s_event (zsock_t *sub, const char *topic, json_t **ev)
{
    *ev = NULL;
    zpoller_t *p = zpoller_new (sub, NULL);
    zmsg_t *msg = zpoller_wait (p, 10000) ? zmsg_recv (sub) : NULL;
    zpoller_destroy (&p);
    char *t = msg ? zmsg_popstr (msg) : NULL;
    zframe_t *body = msg ? zmsg_pop (msg) : NULL;
    if (body) {
        shoal_limits_t lim = shoal_limits_default ();
        *ev = shoal_mp_to_json (zframe_data (body), zframe_size (body), &lim,
                                NULL);
    }
    bool ok = t && streq (t, topic) && *ev;
    if (!ok) {
        fprintf (stderr, "  event %s, want %s\n", t ? t : "(none)", topic);
    }
    zstr_free (&t);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
    return ok;
}

/*  Whether the event is the change from -> to of type fail with those
    calls and failures, and until_us (0 unless opened). */
static bool
s_change_is (json_t *ev, const char *from, const char *to, int calls,
             int failures, uint64_t until_us)
{
    const char *type = json_string_value (json_object_get (ev, "type"));
    const char *f = json_string_value (json_object_get (ev, "from"));
    const char *t = json_string_value (json_object_get (ev, "to"));
    json_int_t c = json_integer_value (json_object_get (ev, "calls"));
    json_int_t fl = json_integer_value (json_object_get (ev, "failures"));
    json_int_t u = json_integer_value (json_object_get (ev, "until_us"));
    bool ok = type && streq (type, "fail") && f && streq (f, from) && t &&
              streq (t, to) && c == calls && fl == failures &&
              (uint64_t) u == until_us;
    if (!ok) {
        char *s = json_dumps (ev, JSON_COMPACT);
        fprintf (stderr, "  event %s\n", s ? s : "?");
        free (s);
    }
    return ok;
}

static uint64_t
s_now (host_t *h)
{
    return atomic_load (&h->now);
}

SHOAL_TEST (breaker_opens_at_min_calls_and_rate_then_runs_the_fallback)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    zsock_t *sub = s_watch (h, "breaker.");
    CHECK (sub);
    CHECK (s_define_brk (h, "brk", 3, true));
    char run[SHOAL_ID_TEXT];
    wh_view_t v;
    char s[256];
    /* 1: a failure; call's fail edge takes it */
    CHECK (s_cycle (h, x, "brk", "fail", false, NULL, run, NULL, NULL));
    CHECK (wh_view (h, run, &v));
    CHECK (wh_node_str (&v, N_CALL, "state", s, sizeof s));
    CHECK_STR (s, "dead");
    CHECK (wh_node_str (&v, N_CALL, "error", s, sizeof s));
    CHECK_STR (s, "boom");
    CHECK (wh_node_str (&v, N_FAILED, "state", s, sizeof s));
    CHECK_STR (s, "succeeded");
    CHECK (wh_node_str (&v, N_OK, "state", s, sizeof s));
    CHECK_STR (s, "cancelled");
    CHECK (wh_node_str (&v, N_OK, "error", s, sizeof s));
    CHECK_STR (s, "not reached");
    CHECK_EQ (wh_edge_fired (&v, E_OK), 0);
    CHECK_EQ (wh_edge_fired (&v, E_ALT), 0);
    CHECK_EQ (wh_edge_fired (&v, E_FAILED), 1);
    wh_view_close (&v);
    /* 2, 3: successes; 3 results, 1 failed: under the rate, closed */
    CHECK (s_cycle (h, x, "brk", "fail", true, "{\"n\": 2}", run, NULL, NULL));
    wh_job_t a, b;
    CHECK (s_cycle (h, x, "brk", "fail", true, "{\"n\": 3}", run, &a, &b));
    CHECK (wh_mp_is (b.pl, b.pl_len, "{\"n\": 3}")); /* ok's message */
    wh_job_clear (&a);
    wh_job_clear (&b);
    /* 4: a failure; 4 results, 2 failed: the rate (0.5) is reached */
    uint64_t at = s_now (h);
    CHECK (s_cycle (h, x, "brk", "fail", false, NULL, run, NULL, NULL));
    json_t *ev;
    CHECK (s_event (sub, "breaker.opened", &ev));
    bool change = s_change_is (ev, "closed", "open", 4, 2, at + 30000000);
    json_decref (ev);
    CHECK (change);
    /* 5: open; the fallback runs in call's place: its type and config,
       and call's edges route its output (port "cached" -> alt) */
    CHECK (s_cycle (h, x, "brk", "echo", true,
                    "{\"port\": \"cached\", \"v\": 1}", run, &a, &b));
    bool cfg = wh_mp_is (a.pl, a.pl_len, "{\"from\": \"cache\"}");
    bool msg = wh_mp_is (b.pl, b.pl_len, "{\"port\": \"cached\", \"v\": 1}");
    char fjob[SHOAL_ID_TEXT];
    shoal_id_format (&a.id, fjob);
    wh_job_clear (&a);
    wh_job_clear (&b);
    CHECK (cfg);
    CHECK (msg);
    CHECK (wh_view (h, run, &v));
    CHECK (wh_node_str (&v, N_CALL, "state", s, sizeof s));
    CHECK_STR (s, "succeeded");
    CHECK (wh_node_str (&v, N_CALL, "error", s, sizeof s));
    CHECK_STR (s, "breaker open: ran fallback cached");
    CHECK (wh_node_str (&v, N_CALL, "port", s, sizeof s));
    CHECK_STR (s, "cached");
    CHECK (wh_node_output_is (&v, N_CALL, "{\"port\": \"cached\", \"v\": 1}"));
    CHECK (wh_node_str (&v, N_CALL, "job", s, sizeof s));
    CHECK_STR (s, fjob);
    CHECK (wh_node_str (&v, N_CACHED, "state", s, sizeof s));
    CHECK_STR (s, "succeeded");
    CHECK (wh_node_str (&v, N_CACHED, "job", s, sizeof s));
    CHECK_STR (s, fjob);
    CHECK (
        wh_node_output_is (&v, N_CACHED, "{\"port\": \"cached\", \"v\": 1}"));
    CHECK (wh_node_str (&v, N_ALT, "state", s, sizeof s));
    CHECK_STR (s, "succeeded");
    CHECK (wh_node_str (&v, N_OK, "state", s, sizeof s));
    CHECK_STR (s, "cancelled");
    CHECK (wh_node_str (&v, N_FAILED, "state", s, sizeof s));
    CHECK_STR (s, "cancelled");
    CHECK_EQ (wh_edge_fired (&v, E_OK), 0);
    CHECK_EQ (wh_edge_fired (&v, E_ALT), 1);
    CHECK_EQ (wh_edge_fired (&v, E_FAILED), 0);
    wh_view_close (&v);
    CHECK (host_job_field (h, fjob, "type", s, sizeof s, NULL));
    CHECK_STR (s, "echo");
    /* 6: the fallback fails: call died, and its fail edge fires */
    CHECK (s_cycle (h, x, "brk", "echo", false, NULL, run, NULL, NULL));
    CHECK (wh_view (h, run, &v));
    CHECK (wh_node_str (&v, N_CALL, "state", s, sizeof s));
    CHECK_STR (s, "dead");
    CHECK (wh_node_str (&v, N_CACHED, "state", s, sizeof s));
    CHECK_STR (s, "dead");
    CHECK_EQ (wh_edge_fired (&v, E_FAILED), 1);
    CHECK_EQ (wh_edge_fired (&v, E_OK), 0);
    wh_view_close (&v);
    zsock_destroy (&sub);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

/*  Opens the breaker of "brk" (min_calls 2) with two failed runs and
    checks the breaker.opened event. */
static bool
s_open (host_t *h, shoal_port_t *x, zsock_t *sub)
{
    char run[SHOAL_ID_TEXT];
    uint64_t at = s_now (h);
    for (int k = 0; k < 2; k++) {
        if (!s_cycle (h, x, "brk", "fail", false, NULL, run, NULL, NULL)) {
            return false;
        }
    }
    json_t *ev;
    bool ok = s_event (sub, "breaker.opened", &ev) &&
              s_change_is (ev, "closed", "open", 2, 2, at + 30000000);
    json_decref (ev);
    return ok;
}

SHOAL_TEST (breaker_half_opens_after_open_for_and_trials_close_it)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    zsock_t *sub = s_watch (h, "breaker.");
    CHECK (sub);
    CHECK (s_define_brk (h, "brk", 2, true));
    CHECK (s_open (h, x, sub));
    char run[SHOAL_ID_TEXT];
    /* 1 ms before open_for has passed: still open, the fallback runs */
    host_advance (h, 29999);
    CHECK (s_cycle (h, x, "brk", "echo", true, "{}", run, NULL, NULL));
    /* open_for passed: half-open (the actor looks at the clock at least
       every 100 ms of real time) */
    host_advance (h, 1);
    json_t *ev;
    CHECK (s_event (sub, "breaker.half_open", &ev));
    bool change = s_change_is (ev, "open", "half_open", 0, 0, 0);
    json_decref (ev);
    CHECK (change);
    /* three runs at once: two trials (half_open_successes 2), the third
       finds every trial slot taken and runs the fallback */
    char runs[3][SHOAL_ID_TEXT];
    for (int r = 0; r < 3; r++) {
        CHECK (wh_run (h, "brk", NULL, runs[r]));
    }
    int trials = 0, fallbacks = 0;
    for (int k = 0; k < 6; k++) { /* 3 calls, 3 successors */
        wh_job_t j;
        CHECK (wh_next (x, &j));
        trials += streq (j.type, "fail");
        fallbacks += streq (j.type, "echo");
        bool sent = wh_answer (x, &j, true, "{}", NULL);
        wh_job_clear (&j);
        CHECK (sent);
    }
    CHECK_EQ (trials, 2);
    CHECK_EQ (fallbacks, 1);
    char err[256];
    for (int r = 0; r < 3; r++) {
        CHECK (wh_await_run (h, runs[r], "succeeded"));
        wh_node_field (h, runs[r], N_CALL, "error", err, sizeof err);
        /* the GATEs went in run order: the third is the fallback */
        CHECK_STR (err, r == 2 ? "breaker open: ran fallback cached" : "");
    }
    /* two trial successes closed it */
    CHECK (s_event (sub, "breaker.closed", &ev));
    change = s_change_is (ev, "half_open", "closed", 2, 0, 0);
    json_decref (ev);
    CHECK (change);
    /* closed: the node runs itself again */
    CHECK (s_cycle (h, x, "brk", "fail", true, "{}", run, NULL, NULL));
    zsock_destroy (&sub);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (breaker_failed_trial_opens_it_again)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    zsock_t *sub = s_watch (h, "breaker.");
    CHECK (sub);
    CHECK (s_define_brk (h, "brk", 2, true));
    CHECK (s_open (h, x, sub));
    host_advance (h, 30000);
    json_t *ev;
    CHECK (s_event (sub, "breaker.half_open", &ev));
    json_decref (ev);
    /* the trial fails: open again, for a fresh open_for from now */
    char run[SHOAL_ID_TEXT];
    uint64_t at = s_now (h);
    CHECK (s_cycle (h, x, "brk", "fail", false, NULL, run, NULL, NULL));
    CHECK (wh_node_is (h, run, N_CALL, "dead"));
    CHECK (wh_node_is (h, run, N_FAILED, "succeeded"));
    CHECK (s_event (sub, "breaker.opened", &ev));
    bool change = s_change_is (ev, "half_open", "open", 1, 1, at + 30000000);
    json_decref (ev);
    CHECK (change);
    CHECK (s_cycle (h, x, "brk", "echo", true, "{}", run, NULL, NULL));
    host_advance (h, 29999);
    CHECK (s_cycle (h, x, "brk", "echo", true, "{}", run, NULL, NULL));
    host_advance (h, 1);
    CHECK (s_event (sub, "breaker.half_open", &ev));
    json_decref (ev);
    CHECK (s_cycle (h, x, "brk", "fail", true, "{}", run, NULL, NULL));
    zsock_destroy (&sub);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST (breaker_open_without_fallback_fails_fast)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    zsock_t *sub = s_watch (h, "breaker.");
    CHECK (sub);
    CHECK (s_define_brk (h, "brk", 2, false));
    CHECK (s_open (h, x, sub));
    /* open, no fallback: call dies without running (no RUN for it, no
       job), with the breaker's reason; its fail edge fires */
    char run[SHOAL_ID_TEXT];
    wh_job_t a, b;
    memset (&a, 0, sizeof a);
    CHECK (s_cycle (h, x, "brk", NULL, false, NULL, run, &a, &b));
    bool nil_msg =
        wh_mp_is (b.pl, b.pl_len, "null") || wh_mp_is (b.pl, b.pl_len, NULL);
    wh_job_clear (&b);
    CHECK (nil_msg);
    wh_view_t v;
    char s[256];
    CHECK (wh_view (h, run, &v));
    CHECK (wh_node_str (&v, N_CALL, "state", s, sizeof s));
    CHECK_STR (s, "dead");
    CHECK (wh_node_str (&v, N_CALL, "error", s, sizeof s));
    CHECK (strncmp (s, "breaker fail: circuit open: 2 of 2 calls failed", 47) ==
           0);
    CHECK (!wh_node_str (&v, N_CALL, "job", s, sizeof s));
    CHECK (wh_node_str (&v, N_FAILED, "state", s, sizeof s));
    CHECK_STR (s, "succeeded");
    CHECK (wh_node_str (&v, N_OK, "state", s, sizeof s));
    CHECK_STR (s, "cancelled");
    CHECK_EQ (wh_edge_fired (&v, E_FAILED), 1);
    CHECK_EQ (wh_edge_fired (&v, E_OK), 0);
    wh_view_close (&v);
    /* a node of the same type and policy in another workflow shares the
       breaker; with no edge to take its failure the run fails, naming
       it and the breaker's reason */
    CHECK (wh_define (
        h, "{\"name\": \"lone\", \"nodes\": [{\"id\": \"call\", \"type\": "
           "\"fail\", \"retry\": \"none\", \"breaker\": {\"failure_rate\": "
           "0.5, \"min_calls\": 2, \"window\": \"60s\", \"open_for\": "
           "\"30s\", \"half_open_successes\": 2}}]}"));
    CHECK (wh_run (h, "lone", NULL, run));
    CHECK (wh_await_run (h, run, "failed"));
    char err[256];
    CHECK (wh_node_field (h, run, 0, "error", err, sizeof err));
    CHECK (strncmp (err, "breaker fail: circuit open", 26) == 0);
    wh_view_t lv;
    CHECK (wh_view (h, run, &lv));
    shoal_map_strcpy (lv.run, lv.run_len, "error", s, sizeof s);
    wh_view_close (&lv);
    CHECK (strncmp (s, "node call: breaker fail: circuit open", 37) == 0);
    zsock_destroy (&sub);
    shoal_port_destroy (&x);
    host_destroy (&h);
}

/*  The router is the host's last actor (host_start). */
static void
s_router_stop (host_t *h)
{
    zactor_destroy (&h->actors[h->nactors - 1]);
}

static bool
s_router_start (host_t *h)
{
    shoal_actor_args_t args = {"router", h->bus, h->clock, h->cfg, false, NULL};
    h->actors[h->nactors - 1] =
        shoal_actor_start (shoal_router_actor, &args, NULL);
    return h->actors[h->nactors - 1] != NULL;
}

SHOAL_TEST (router_restart_routes_what_it_had_not)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x = host_node_join (h, WH_EXEC, 16);
    CHECK (x);
    CHECK (wh_define (h, "{\"name\": \"ab\", \"nodes\": [{\"id\": \"a\", "
                         "\"type\": \"echo\"}, {\"id\": \"b\", \"type\": "
                         "\"sleep\"}], \"edges\": [{\"from\": \"a\", \"to\": "
                         "\"b\", \"if\": \"output.go\"}]}"));
    CHECK (s_define_brk (h, "brk", 2, true));
    char r1[SHOAL_ID_TEXT], r2[SHOAL_ID_TEXT];
    CHECK (wh_run (h, "ab", NULL, r1));
    wh_job_t a;
    CHECK (wh_next (x, &a));
    CHECK_STR (a.type, "echo");
    /* the router goes away: a's end and call's breaker question wait */
    s_router_stop (h);
    bool sent = wh_answer (x, &a, true, "{\"go\": true}", NULL);
    wh_job_clear (&a);
    CHECK (sent);
    CHECK (wh_run (h, "brk", NULL, r2));
    host_settle (h);
    CHECK (wh_node_is (h, r1, 0, "succeeded"));
    CHECK (wh_node_is (h, r1, 1, "waiting"));
    wh_view_t v;
    CHECK (wh_view (h, r1, &v));
    CHECK_EQ (wh_edge_fired (&v, 0), -1); /* not routed */
    wh_view_close (&v);
    CHECK (wh_node_is (h, r2, N_CALL, "enqueued")); /* gating */
    CHECK (wh_run_is (h, r1, "state", "running"));
    /* a new router (ROUTER_BOOT): both are sent again */
    CHECK (s_router_start (h));
    CHECK_EQ (wh_await_edge (h, r1, 0), 1);
    int seen_b = 0, seen_call = 0;
    for (int k = 0; k < 3; k++) { /* b; call, then its successor ok */
        wh_job_t j;
        CHECK (wh_next (x, &j));
        seen_b += streq (j.type, "sleep") &&
                  wh_mp_is (j.pl, j.pl_len, "{\"go\": true}");
        seen_call += streq (j.type, "fail");
        sent = wh_answer (x, &j, true, "{}", NULL);
        wh_job_clear (&j);
        CHECK (sent);
    }
    CHECK_EQ (seen_b, 1);
    CHECK_EQ (seen_call, 1);
    CHECK (wh_await_run (h, r1, "succeeded"));
    CHECK (wh_await_run (h, r2, "succeeded"));
    CHECK (wh_node_is (h, r2, N_OK, "succeeded"));
    /* restarted again with nothing pending: nothing changes, runs go on */
    s_router_stop (h);
    CHECK (s_router_start (h));
    CHECK (s_cycle (h, x, "brk", "fail", true, "{}", r2, NULL, NULL));
    shoal_port_destroy (&x);
    host_destroy (&h);
}

SHOAL_TEST_MAIN (breaker_opens_at_min_calls_and_rate_then_runs_the_fallback,
                 breaker_half_opens_after_open_for_and_trials_close_it,
                 breaker_failed_trial_opens_it_again,
                 breaker_open_without_fallback_fails_fast,
                 router_restart_routes_what_it_had_not)
