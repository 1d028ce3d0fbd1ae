/*  test_jobs.c - job semantics on an in-process host with a fake clock:
    delays, retries with backoff, the dead-letter queue, idempotency keys,
    lease expiry and fencing of stale results. No sleeps: the test moves
    the clock and pokes the store. */
#include "host.h"
#include "shoal_test.h"

typedef struct {
    const char *type;
    const char *key;
    uint64_t delay_ms;
    const char *retry;
    const char *fail_class; /* fail jobs: payload {message, class} */
    uint32_t timeout_ms;
} s_job_t;

static bool
s_submit (host_t *h, const s_job_t *j, char id_out[SHOAL_ID_TEXT],
          bool *existing)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 1 + (j->key != NULL) + (j->delay_ms != 0) +
                         (j->retry != NULL) + (j->fail_class != NULL) +
                         (j->timeout_ms != 0));
    shoal_wr_kv_str (w, "type", j->type);
    if (j->key) {
        shoal_wr_kv_str (w, "key", j->key);
    }
    if (j->delay_ms) {
        shoal_wr_kv_uint (w, "delay_ms", j->delay_ms);
    }
    if (j->retry) {
        shoal_wr_kv_str (w, "retry", j->retry);
    }
    if (j->timeout_ms) {
        shoal_wr_kv_uint (w, "timeout_ms", j->timeout_ms);
    }
    if (j->fail_class) {
        shoal_wr_str (w, "payload");
        shoal_wr_map (w, 2);
        shoal_wr_kv_str (w, "message", "boom");
        shoal_wr_kv_str (w, "class", j->fail_class);
    }
    return host_submitted (h, &id, id_out, existing);
}

SHOAL_TEST (delayed_job_waits_for_its_time)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char id[SHOAL_ID_TEXT];
    s_job_t j = {.type = "noop", .delay_ms = 60000};
    CHECK (s_submit (h, &j, id, NULL));
    CHECK (host_state_is (h, id, "scheduled"));
    host_advance (h, 59000);
    CHECK (host_poke (h));
    CHECK (host_state_is (h, id, "scheduled"));
    host_advance (h, 2000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, id, "succeeded"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 1);
    host_destroy (&h);
}

SHOAL_TEST (retries_back_off_then_dead_letter)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char id[SHOAL_ID_TEXT];
    s_job_t j = {.type = "fail",
                 .retry = "fixed:max=3,delay=10s",
                 .fail_class = "transient"};
    CHECK (s_submit (h, &j, id, NULL));
    CHECK (host_await_state (h, id, "scheduled"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 1);
    /* not before the backoff */
    host_advance (h, 9000);
    CHECK (host_poke (h));
    CHECK (host_state_is (h, id, "scheduled"));
    host_advance (h, 1000);
    CHECK (host_poke (h));
    for (int i = 0; i < 10000 && host_job_num (h, id, "attempt") < 2; i++) {
        host_poke (h);
    }
    CHECK (host_await_state (h, id, "scheduled"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 2);
    host_advance (h, 10000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, id, "dead"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 3);
    char cls[32];
    CHECK (host_job_field (h, id, "error_class", cls, sizeof cls, NULL));
    CHECK_STR (cls, "transient");
    host_destroy (&h);
}

SHOAL_TEST (excluded_class_is_not_retried)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char id[SHOAL_ID_TEXT];
    s_job_t j = {.type = "fail",
                 .retry = "exponential:max=5,delay=1s,not_on=fatal",
                 .fail_class = "fatal"};
    CHECK (s_submit (h, &j, id, NULL));
    CHECK (host_await_state (h, id, "dead"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 1);
    host_destroy (&h);
}

/*  Jobs LIST gives for one filter (key: "state", "queue"...). */
static uint32_t
s_list (host_t *h, const char *key, const char *value)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_LIST, &id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, key, value);
    shoal_in_t in;
    uint32_t n = UINT32_MAX;
    shoal_rd_t rd;
    if (host_call (h, &id, &in)) {
        if (in.hdr.type == SHOAL_M_OK &&
            shoal_map_array (in.body, in.body_len, "jobs", &rd, &n)) {
            n = UINT32_MAX;
        }
        shoal_in_close (&in);
    }
    return n;
}

SHOAL_TEST (dead_letter_queue_list_retry_purge)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char a[SHOAL_ID_TEXT], b[SHOAL_ID_TEXT];
    s_job_t j = {.type = "fail"};
    CHECK (s_submit (h, &j, a, NULL));
    CHECK (s_submit (h, &j, b, NULL));
    CHECK (host_await_state (h, a, "dead"));
    CHECK (host_await_state (h, b, "dead"));
    CHECK_EQ (s_list (h, "state", "dead"), 2);
    uint32_t type;
    /* retry from the DLQ: runs again with fresh attempts, dies again */
    host_dlq (h, "retry", a, &type);
    CHECK_EQ (type, SHOAL_M_OK);
    CHECK (host_await_state (h, a, "dead"));
    CHECK_EQ (host_job_num (h, a, "attempt"), 1);
    /* a job that is not dead cannot be retried from the DLQ */
    char c[SHOAL_ID_TEXT];
    s_job_t ok = {.type = "noop"};
    CHECK (s_submit (h, &ok, c, NULL));
    CHECK (host_await_state (h, c, "succeeded"));
    host_dlq (h, "retry", c, &type);
    CHECK_EQ (type, SHOAL_M_ERROR);
    /* purge one, then all */
    CHECK_EQ (host_dlq (h, "purge", a, &type), 1);
    CHECK (!host_state_is (h, a, "dead")); /* gone */
    CHECK_EQ (host_dlq (h, "purge", NULL, &type), 1);
    CHECK_EQ (s_list (h, "state", "dead"), 0);
    CHECK (host_state_is (h, c, "succeeded")); /* untouched */
    host_destroy (&h);
}

SHOAL_TEST (idempotency_key_returns_the_first_job)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char a[SHOAL_ID_TEXT], b[SHOAL_ID_TEXT], c[SHOAL_ID_TEXT];
    bool existing = true;
    s_job_t j = {.type = "noop", .key = "order-42"};
    CHECK (s_submit (h, &j, a, &existing));
    CHECK (!existing);
    CHECK (s_submit (h, &j, b, &existing));
    CHECK (existing);
    CHECK_STR (a, b);
    j.key = "order-43";
    CHECK (s_submit (h, &j, c, &existing));
    CHECK (!existing);
    CHECK (strcmp (a, c) != 0);
    CHECK (host_await_state (h, a, "succeeded"));
    CHECK (host_await_state (h, c, "succeeded"));
    CHECK_EQ (s_list (h, "state", "succeeded"), 2);
    host_destroy (&h);
}

SHOAL_TEST (expired_lease_is_retried_and_late_result_fenced)
{
    const char *kv[] = {"store/lease=5000", "store/lease_grace=0", NULL};
    host_t *h = host_new (0, kv);
    CHECK (h);
    shoal_port_t *n = host_node_join (h, "node.fake", 4);
    CHECK (n);
    char jid[SHOAL_ID_TEXT];
    s_job_t j = {.type = "anything", .retry = "fixed:max=3,delay=1s"};
    CHECK (s_submit (h, &j, jid, NULL));
    shoal_id_t job;
    uint64_t e1 = host_node_run (n, &job);
    CHECK_EQ (e1, 1);
    /* the executor goes quiet; the lease runs out */
    host_advance (h, 4999);
    CHECK (host_poke (h));
    CHECK (host_state_is (h, jid, "leased"));
    host_advance (h, 2);
    CHECK (host_poke (h));
    CHECK (host_state_is (h, jid, "scheduled"));
    char cls[32];
    CHECK (host_job_field (h, jid, "error_class", cls, sizeof cls, NULL));
    CHECK_STR (cls, "lease_expired");
    /* backoff, then a second lease with a new epoch */
    host_advance (h, 1000);
    CHECK (host_poke (h));
    uint64_t e2 = host_node_run (n, &job);
    CHECK_EQ (e2, 2);
    /* the first run's late answer is refused and counted */
    host_node_result (n, &job, e1, true);
    CHECK (host_poke (h));
    CHECK_EQ (host_stat (h, NULL, "stale_results"), 1);
    CHECK (host_state_is (h, jid, "leased"));
    host_node_result (n, &job, e2, true);
    CHECK (host_await_state (h, jid, "succeeded"));
    CHECK_EQ (host_job_num (h, jid, "attempt"), 2);
    shoal_port_destroy (&n);
    host_destroy (&h);
}

SHOAL_TEST (timeout_fails_the_run_with_class_timeout)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    char id[SHOAL_ID_TEXT];
    /* the executor cuts a 10 minute sleep at its 50 ms timeout (real
       time: the node's sleep is real, the class is what is checked) */
    shoal_id_t rid;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &rid);
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "type", "sleep");
    shoal_wr_kv_uint (w, "timeout_ms", 50);
    shoal_wr_str (w, "payload");
    shoal_wr_map (w, 1);
    shoal_wr_kv_uint (w, "ms", 600000);
    CHECK (host_submitted (h, &rid, id, NULL));
    CHECK (host_await_state (h, id, "dead"));
    char cls[32];
    CHECK (host_job_field (h, id, "error_class", cls, sizeof cls, NULL));
    CHECK_STR (cls, "timeout");
    host_destroy (&h);
}

static bool
s_queue_op (host_t *h, const char *op, const char *queue, int64_t limit,
            const char *rate, int64_t burst)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_QUEUE, &id);
    shoal_wr_map (w, 1 + (queue != NULL) + (limit >= 0) + (rate != NULL) +
                         (burst >= 0));
    shoal_wr_kv_str (w, "op", op);
    if (queue) {
        shoal_wr_kv_str (w, "queue", queue);
    }
    if (limit >= 0) {
        shoal_wr_kv_uint (w, "concurrency", (uint64_t) limit);
    }
    if (rate) {
        shoal_wr_kv_str (w, "rate", rate);
    }
    if (burst >= 0) {
        shoal_wr_kv_uint (w, "burst", (uint64_t) burst);
    }
    return host_call_type (h, &id) == SHOAL_M_OK;
}

static bool
s_submit_q (host_t *h, const char *type, const char *queue,
            char id_out[SHOAL_ID_TEXT])
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", type);
    shoal_wr_kv_str (w, "queue", queue);
    return host_submitted (h, &id, id_out, NULL);
}

SHOAL_TEST (paused_queue_holds_its_jobs_until_resumed)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    CHECK (s_queue_op (h, "pause", "mail", -1, NULL, -1));
    char a[SHOAL_ID_TEXT], b[SHOAL_ID_TEXT];
    CHECK (s_submit_q (h, "noop", "mail", a));
    CHECK (s_submit_q (h, "noop", "other", b));
    CHECK (host_await_state (h, b, "succeeded")); /* other queues run */
    host_settle (h);
    CHECK (host_state_is (h, a, "enqueued"));
    CHECK (s_queue_op (h, "resume", "mail", -1, NULL, -1));
    CHECK (host_await_state (h, a, "succeeded"));
    /* the whole host */
    CHECK (s_queue_op (h, "pause", NULL, -1, NULL, -1));
    CHECK (s_submit_q (h, "noop", "other", b));
    host_settle (h);
    CHECK (host_state_is (h, b, "enqueued"));
    CHECK (s_queue_op (h, "resume", NULL, -1, NULL, -1));
    CHECK (host_await_state (h, b, "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST (concurrency_limit_holds_across_executors)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *n = host_node_join (h, "node.fake", 4);
    CHECK (n); /* 4 slots */
    CHECK (s_queue_op (h, "set", "one", 1, NULL, -1));
    char a[SHOAL_ID_TEXT], b[SHOAL_ID_TEXT];
    CHECK (s_submit_q (h, "x", "one", a));
    CHECK (s_submit_q (h, "x", "one", b));
    shoal_id_t job;
    uint64_t e = host_node_run (n, &job);
    CHECK_EQ (e, 1);
    host_settle (h);
    /* one leased, the other waits although the executor has room */
    int leased =
        host_state_is (h, a, "leased") + host_state_is (h, b, "leased");
    CHECK_EQ (leased, 1);
    host_node_result (n, &job, e, true);
    shoal_id_t job2;
    CHECK_EQ (host_node_run (n, &job2), 1);
    CHECK (memcmp (&job, &job2, 16) != 0);
    host_node_result (n, &job2, 1, true);
    CHECK (host_await_state (h, a, "succeeded"));
    CHECK (host_await_state (h, b, "succeeded"));
    shoal_port_destroy (&n);
    host_destroy (&h);
}

SHOAL_TEST (rate_limit_spaces_starts_on_the_clock)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    CHECK (s_queue_op (h, "set", "slow", 0, "1/m", 1));
    char ids[3][SHOAL_ID_TEXT];
    for (int i = 0; i < 3; i++) {
        CHECK (s_submit_q (h, "noop", "slow", ids[i]));
    }
    CHECK (host_await_state (h, ids[0], "succeeded"));
    host_settle (h);
    host_ping (h, "scheduler");
    CHECK (host_state_is (h, ids[1], "enqueued")); /* within the minute */
    host_advance (h, 60000);
    host_ping (h, "scheduler");
    CHECK (host_await_state (h, ids[1], "succeeded"));
    host_ping (h, "scheduler");
    CHECK (host_state_is (h, ids[2], "enqueued"));
    host_advance (h, 60000);
    host_ping (h, "scheduler");
    CHECK (host_await_state (h, ids[2], "succeeded"));
    host_destroy (&h);
}

static bool
s_schedule_add (host_t *h, const char *name, const char *cron)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SCHEDULE, &id);
    shoal_wr_map (w, 5);
    shoal_wr_kv_str (w, "op", "add");
    shoal_wr_kv_str (w, "name", name);
    shoal_wr_kv_str (w, "cron", cron);
    shoal_wr_kv_str (w, "type", "noop");
    shoal_wr_kv_str (w, "queue", "cron");
    return host_call_type (h, &id) == SHOAL_M_OK;
}

SHOAL_TEST (cron_schedule_fires_and_coalesces_missed_runs)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    /* the fake clock starts on a whole hour: 1800000000 s is 08:00 UTC */
    CHECK (s_schedule_add (h, "every5", "*/5 * * * *"));
    CHECK (host_poke (h));
    CHECK_EQ (s_list (h, "queue", "cron"), 0);
    host_advance (h, 5 * 60 * 1000 - 1);
    CHECK (host_poke (h));
    CHECK_EQ (s_list (h, "queue", "cron"), 0);
    host_advance (h, 1);
    CHECK (host_poke (h));
    CHECK_EQ (s_list (h, "queue", "cron"), 1);
    /* an hour passes without a pass (the host was down): one run, not 12 */
    host_advance (h, 60 * 60 * 1000);
    CHECK (host_poke (h));
    CHECK_EQ (s_list (h, "queue", "cron"), 2);
    host_advance (h, 5 * 60 * 1000);
    CHECK (host_poke (h));
    CHECK_EQ (s_list (h, "queue", "cron"), 3);
    /* bad expressions are refused with a reason */
    CHECK (!s_schedule_add (h, "bad", "61 * * * *"));
    host_destroy (&h);
}

SHOAL_TEST (queue_default_retry_applies_to_jobs_without_one)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    shoal_id_t rid;
    shoal_wr_t *w = host_begin (h, SHOAL_M_QUEUE, &rid);
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "op", "set");
    shoal_wr_kv_str (w, "queue", "flaky");
    shoal_wr_kv_str (w, "retry", "fixed:max=2,delay=1s");
    CHECK_EQ (host_call_type (h, &rid), SHOAL_M_OK);
    char id[SHOAL_ID_TEXT];
    CHECK (s_submit_q (h, "fail", "flaky", id));
    CHECK (host_await_state (h, id, "scheduled")); /* the default applied */
    host_advance (h, 1000);
    CHECK (host_poke (h));
    CHECK (host_await_state (h, id, "dead"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 2);
    /* another queue: no default, one attempt */
    CHECK (s_submit_q (h, "fail", "plain", id));
    CHECK (host_await_state (h, id, "dead"));
    CHECK_EQ (host_job_num (h, id, "attempt"), 1);
    host_destroy (&h);
}

SHOAL_TEST (retention_prunes_finished_jobs_but_keeps_the_dlq)
{
    const char *kv[] = {"store/retention=3600000", NULL}; /* one hour */
    host_t *h = host_new (1, kv);
    CHECK (h);
    char ok[SHOAL_ID_TEXT], dead[SHOAL_ID_TEXT], later[SHOAL_ID_TEXT];
    s_job_t j = {.type = "noop", .key = "once"};
    CHECK (s_submit (h, &j, ok, NULL));
    s_job_t f = {.type = "fail"};
    CHECK (s_submit (h, &f, dead, NULL));
    CHECK (host_await_state (h, ok, "succeeded"));
    CHECK (host_await_state (h, dead, "dead"));
    host_advance (h, 30 * 60 * 1000);
    s_job_t n = {.type = "noop"};
    CHECK (s_submit (h, &n, later, NULL));
    CHECK (host_await_state (h, later, "succeeded"));
    host_advance (h, 31 * 60 * 1000); /* ok is 61 min old, later 31 */
    CHECK (host_poke (h));
    CHECK (!host_state_is (h, ok, "succeeded"));   /* pruned */
    CHECK (host_state_is (h, later, "succeeded")); /* too young */
    CHECK (host_state_is (h, dead, "dead"));       /* the DLQ stays */
    /* its idempotency key went with it: the key makes a new job now */
    char again[SHOAL_ID_TEXT];
    bool existing = true;
    CHECK (s_submit (h, &j, again, &existing));
    CHECK (!existing);
    host_destroy (&h);
}

/*  QUEUE set {queue, keep}. */
static bool
s_queue_keep (host_t *h, const char *queue, uint64_t keep)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_QUEUE, &id);
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "op", "set");
    shoal_wr_kv_str (w, "queue", queue);
    shoal_wr_kv_uint (w, "keep", keep);
    return host_call_type (h, &id) == SHOAL_M_OK;
}

SHOAL_TEST (retention_by_count_keeps_the_newest_per_queue)
{
    host_t *h = host_new (1, NULL);
    CHECK (h);
    CHECK (s_queue_keep (h, "few", 3));
    enum { N = 8 };
    char ids[N][SHOAL_ID_TEXT], other[SHOAL_ID_TEXT], dead[SHOAL_ID_TEXT];
    CHECK (s_submit_q (h, "noop", "other", other)); /* no limit there */
    CHECK (host_await_state (h, other, "succeeded"));
    CHECK (s_submit_q (h, "fail", "few", dead)); /* the DLQ is not counted */
    CHECK (host_await_state (h, dead, "dead"));
    for (int i = 0; i < N; i++) {
        CHECK (s_submit_q (h, "noop", "few", ids[i]));
        CHECK (host_await_state (h, ids[i], "succeeded"));
        host_advance (h, 1); /* distinct finish times */
    }
    for (int i = 0; i < N - 3; i++) {
        CHECK (!host_state_is (h, ids[i], "succeeded")); /* pruned */
    }
    for (int i = N - 3; i < N; i++) {
        CHECK (host_state_is (h, ids[i], "succeeded"));
    }
    CHECK (host_state_is (h, dead, "dead"));
    CHECK (host_state_is (h, other, "succeeded"));
    CHECK_EQ (s_list (h, "state", "succeeded"), 4);
    /* A lower limit prunes at once; 0 removes the limit. */
    CHECK (s_queue_keep (h, "few", 1));
    CHECK (!host_state_is (h, ids[N - 2], "succeeded"));
    CHECK (host_state_is (h, ids[N - 1], "succeeded"));
    CHECK (s_queue_keep (h, "few", 0));
    char more[SHOAL_ID_TEXT];
    CHECK (s_submit_q (h, "noop", "few", more));
    CHECK (host_await_state (h, more, "succeeded"));
    CHECK (host_state_is (h, ids[N - 1], "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST_MAIN (delayed_job_waits_for_its_time,
                 retries_back_off_then_dead_letter,
                 excluded_class_is_not_retried,
                 dead_letter_queue_list_retry_purge,
                 idempotency_key_returns_the_first_job,
                 expired_lease_is_retried_and_late_result_fenced,
                 timeout_fails_the_run_with_class_timeout,
                 paused_queue_holds_its_jobs_until_resumed,
                 concurrency_limit_holds_across_executors,
                 rate_limit_spaces_starts_on_the_clock,
                 cron_schedule_fires_and_coalesces_missed_runs,
                 queue_default_retry_applies_to_jobs_without_one,
                 retention_prunes_finished_jobs_but_keeps_the_dlq,
                 retention_by_count_keeps_the_newest_per_queue)
