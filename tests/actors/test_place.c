/*  test_place.c - placement on an in-process host: a job that requires
    labels runs only on an executor that has them all, waits (queued,
    not holding up the jobs behind it) while none has, and runs when one
    appears, also after a restart; queue policies spread jobs by count
    (round-robin evenly, weighted 3:1); an executor never holds more than
    its capacity; bad requirements and policies are refused; workflow
    nodes carry their requirement; a full label table warns, never
    crashes. Executors are real ones with labels of their own
    (host_node_start) or ports the test plays (host_node_join_ex), whose
    RUNs it counts. Everything is counted, nothing is timed. */
#include "host.h"
#include "wf_host.h"
#include "shoal_test.h"

/*  SUBMIT {type, queue, require?} (require: a comma list, NULL: none);
    the job id into jid. */
static bool
s_submit (host_t *h, const char *type, const char *queue, const char *require,
          char jid[SHOAL_ID_TEXT])
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 2 + (require != NULL));
    shoal_wr_kv_str (w, "type", type);
    shoal_wr_kv_str (w, "queue", queue);
    if (require) {
        shoal_wr_str (w, "require");
        shoal_labels_write (w, require);
    }
    return host_submitted (h, &id, jid, NULL);
}

/*  QUEUE {op: set, queue, policy}; the reply's type. */
static uint32_t
s_policy (host_t *h, const char *queue, const char *policy)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_QUEUE, &id);
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "op", "set");
    shoal_wr_kv_str (w, "queue", queue);
    shoal_wr_kv_str (w, "policy", policy);
    return host_call_type (h, &id);
}

static bool
s_executor_is (host_t *h, const char *jid, const char *want)
{
    char x[SHOAL_NAME_MAX + 1] = "";
    host_job_field (h, jid, "executor", x, sizeof x, NULL);
    if (strcmp (x, want) != 0) {
        fprintf (stderr, "  job %s ran on '%s', want '%s'\n", jid, x, want);
        return false;
    }
    return true;
}

/*  What the test sees of one executor it plays: RUNs counted, those
    not yet answered (held, last first out), its capacity (0: not
    checked). */
typedef struct {
    int count;
    int cap;
    int nheld;
    shoal_id_t held[8];
    uint64_t epoch[8];
} s_exec_t;

/*  Waits for RUNs on any of ports until total more have come (10 s
    without one: false). A RUN that takes an executor with a capacity
    past it is an error. */
static bool
s_collect (shoal_port_t **ports, s_exec_t *ex, int n, int total)
{
    zpoller_t *p = zpoller_new (NULL);
    for (int i = 0; i < n; i++) {
        zpoller_add (p, shoal_port_sock (ports[i]));
    }
    bool ok = true;
    for (int got = 0; ok && got < total;) {
        void *which = zpoller_wait (p, 10000);
        if (!which) {
            fprintf (stderr, "  %d of %d RUNs came\n", got, total);
            ok = false;
        }
        for (int i = 0; ok && i < n; i++) {
            shoal_in_t in;
            if (which != shoal_port_sock (ports[i]) ||
                shoal_port_recv (ports[i], &in, ZMQ_DONTWAIT) != SHOAL_OK) {
                continue;
            }
            if (in.hdr.type == SHOAL_M_RUN) {
                s_exec_t *e = &ex[i];
                got++;
                e->count++;
                if (e->cap && e->nheld == e->cap) {
                    fprintf (stderr, "  executor %d: over its %d slots\n", i,
                             e->cap);
                    ok = false;
                } else if (e->cap) {
                    const uint8_t *idp;
                    uint32_t len;
                    if (shoal_map_bin (in.body, in.body_len, "id", &idp,
                                       &len) == SHOAL_OK &&
                        len == 16) {
                        memcpy (e->held[e->nheld].b, idp, 16);
                    }
                    shoal_map_uint (in.body, in.body_len, "e",
                                    &e->epoch[e->nheld]);
                    e->nheld++;
                }
            }
            shoal_in_close (&in);
        }
    }
    zpoller_destroy (&p);
    return ok;
}

SHOAL_TEST (required_labels_pick_the_executor)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    const char *gpu[] = {"executors/labels=gpu, ssd", NULL};
    CHECK (host_node_start (h, "node.0@alpha", NULL));
    CHECK (host_node_start (h, "node.0@beta", gpu));
    CHECK (host_await_executors (h, 2));
    char plain[10][SHOAL_ID_TEXT], need[10][SHOAL_ID_TEXT];
    for (int i = 0; i < 10; i++) {
        CHECK (s_submit (h, "noop", "default", i % 2 ? "gpu" : "ssd,gpu",
                         need[i]));
        CHECK (s_submit (h, "noop", "default", NULL, plain[i]));
    }
    for (int i = 0; i < 10; i++) {
        CHECK (host_await_state (h, need[i], "succeeded"));
        CHECK (s_executor_is (h, need[i], "node.0@beta"));
        CHECK (host_await_state (h, plain[i], "succeeded"));
    }
    /* The requirement is part of the job's view. */
    shoal_in_t in;
    CHECK (host_status (h, need[0], &in));
    shoal_mp_val_t v;
    const uint8_t *job;
    size_t len;
    char list[SHOAL_REQUIRE_TEXT_MAX] = "";
    if (shoal_map_find (in.body, in.body_len, "job", &v, &job, &len) ==
        SHOAL_OK) {
        shoal_labels_from_map (job, len, "require", 8, list, sizeof list);
    }
    shoal_in_close (&in);
    CHECK_STR (list, "ssd,gpu");
    host_destroy (&h);
}

SHOAL_TEST (unmet_requirement_waits_without_blocking)
{
    host_t *h = host_new (1, NULL); /* node.0, no labels */
    CHECK (h);
    CHECK (host_await_executors (h, 1));
    /* Blocked jobs at the head of the queue; plain ones behind them. */
    char gpu[3][SHOAL_ID_TEXT], plain[5][SHOAL_ID_TEXT];
    for (int i = 0; i < 3; i++) {
        CHECK (s_submit (h, "noop", "mixed", "gpu", gpu[i]));
    }
    for (int i = 0; i < 5; i++) {
        CHECK (s_submit (h, "noop", "mixed", NULL, plain[i]));
    }
    for (int i = 0; i < 5; i++) {
        CHECK (host_await_state (h, plain[i], "succeeded"));
    }
    for (int i = 0; i < 3; i++) {
        CHECK (host_state_is (h, gpu[i], "enqueued"));
    }
    CHECK_EQ (host_stat (h, "jobs", "enqueued"), 3);
    /* After a restart the scheduler fills its window from the ready
       index: the requirement comes with it. */
    host_stop (h);
    CHECK (host_start_again (h, 1));
    CHECK (host_await_executors (h, 1));
    char after[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "noop", "mixed", NULL, after));
    CHECK (host_await_state (h, after, "succeeded"));
    for (int i = 0; i < 3; i++) {
        CHECK (host_state_is (h, gpu[i], "enqueued"));
    }
    /* A matching executor appears: they run there. */
    const char *kv[] = {"executors/labels=gpu", NULL};
    CHECK (host_node_start (h, "node.gpu", kv));
    for (int i = 0; i < 3; i++) {
        CHECK (host_await_state (h, gpu[i], "succeeded"));
        CHECK (s_executor_is (h, gpu[i], "node.gpu"));
    }
    host_destroy (&h);
}

SHOAL_TEST (round_robin_spreads_evenly)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    CHECK_EQ (s_policy (h, "rr", "round-robin"), SHOAL_M_OK);
    shoal_port_t *x[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf (name, sizeof name, "x.%d", i);
        x[i] = host_node_join (h, name, 100);
        CHECK (x[i]);
    }
    CHECK (host_await_executors (h, 3));
    for (int i = 0; i < 30; i++) {
        char jid[SHOAL_ID_TEXT];
        CHECK (s_submit (h, "noop", "rr", NULL, jid));
    }
    s_exec_t ex[3] = {{0}};
    CHECK (s_collect (x, ex, 3, 30));
    CHECK_EQ (ex[0].count, 10);
    CHECK_EQ (ex[1].count, 10);
    CHECK_EQ (ex[2].count, 10);
    for (int i = 0; i < 3; i++) {
        shoal_port_destroy (&x[i]);
    }
    host_destroy (&h);
}

SHOAL_TEST (weighted_gives_three_to_one)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    CHECK_EQ (s_policy (h, "wq", "weighted"), SHOAL_M_OK);
    /* Both always have room: 40 jobs, capacity 100 each. */
    shoal_port_t *x[2] = {host_node_join_ex (h, "x.heavy", 100, NULL, 3),
                          host_node_join_ex (h, "x.light", 100, NULL, 1)};
    CHECK (x[0] && x[1]);
    CHECK (host_await_executors (h, 2));
    for (int i = 0; i < 40; i++) {
        char jid[SHOAL_ID_TEXT];
        CHECK (s_submit (h, "noop", "wq", NULL, jid));
    }
    s_exec_t ex[2] = {{0}};
    CHECK (s_collect (x, ex, 2, 40));
    CHECK_EQ (ex[0].count, 30);
    CHECK_EQ (ex[1].count, 10);
    shoal_port_destroy (&x[0]);
    shoal_port_destroy (&x[1]);
    host_destroy (&h);
}

SHOAL_TEST (random_keeps_to_labels)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    CHECK_EQ (s_policy (h, "rnd", "random"), SHOAL_M_OK);
    shoal_port_t *x[3] = {host_node_join_ex (h, "x.a", 100, "gpu", 0),
                          host_node_join_ex (h, "x.b", 100, NULL, 0),
                          host_node_join_ex (h, "x.c", 100, "gpu,ssd", 0)};
    CHECK (x[0] && x[1] && x[2]);
    CHECK (host_await_executors (h, 3));
    char jids[20][SHOAL_ID_TEXT];
    for (int i = 0; i < 20; i++) {
        CHECK (s_submit (h, "noop", "rnd", "gpu", jids[i]));
    }
    s_exec_t ex[3] = {{0}};
    CHECK (s_collect (x, ex, 3, 20));
    CHECK_EQ (ex[0].count + ex[2].count, 20);
    for (int i = 0; i < 20; i++) {
        char on[SHOAL_NAME_MAX + 1] = "";
        CHECK (host_job_field (h, jids[i], "executor", on, sizeof on, NULL));
        CHECK (streq (on, "x.a") || streq (on, "x.c"));
    }
    for (int i = 0; i < 3; i++) {
        shoal_port_destroy (&x[i]);
    }
    host_destroy (&h);
}

/*  Two executors with 2 and 3 slots, 30 jobs answered one at a time:
    every RUN is counted against its executor's capacity, and each answer
    frees exactly one slot, on the executor that answered, where the next
    job then goes. */
SHOAL_TEST (capacity_is_never_exceeded)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x[2] = {host_node_join (h, "x.two", 2),
                          host_node_join (h, "x.three", 3)};
    CHECK (x[0] && x[1]);
    CHECK (host_await_executors (h, 2));
    for (int i = 0; i < 30; i++) {
        char jid[SHOAL_ID_TEXT];
        CHECK (s_submit (h, "noop", "cap", NULL, jid));
    }
    s_exec_t ex[2] = {{.cap = 2}, {.cap = 3}};
    CHECK (s_collect (x, ex, 2, 5));
    CHECK_EQ (ex[0].nheld, 2);
    CHECK_EQ (ex[1].nheld, 3);
    for (int done = 0; done < 30; done++) {
        int i = ex[done % 2].nheld ? done % 2 : 1 - done % 2;
        s_exec_t *e = &ex[i];
        CHECK (e->nheld > 0);
        e->nheld--;
        CHECK (host_node_result (x[i], &e->held[e->nheld], e->epoch[e->nheld],
                                 true));
        if (ex[0].count + ex[1].count < 30) {
            int before = e->count;
            CHECK (s_collect (x, ex, 2, 1));
            CHECK_EQ (e->count, before + 1); /* where the slot was freed */
        }
    }
    CHECK_EQ (ex[0].count + ex[1].count, 30);
    CHECK_EQ (ex[0].nheld + ex[1].nheld, 0);
    /* The last answers may still be on their way to the store. */
    int64_t until = zclock_mono () + 10000;
    while (host_stat (h, "jobs", "succeeded") != 30 && zclock_mono () < until) {
        host_poke (h);
    }
    CHECK_EQ (host_stat (h, "jobs", "succeeded"), 30);
    for (int i = 0; i < 2; i++) {
        shoal_port_destroy (&x[i]);
    }
    host_destroy (&h);
}

SHOAL_TEST (bad_requirements_and_policies_are_refused)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_id_t id;
    /* "require" that is not an array, a bad label, too many labels */
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", "noop");
    shoal_wr_kv_str (w, "require", "gpu");
    shoal_in_t in;
    CHECK (host_call (h, &id, &in));
    CHECK_EQ (in.hdr.type, SHOAL_M_ERROR);
    char text[200] = "";
    uint64_t code = 0;
    shoal_map_uint (in.body, in.body_len, "code", &code);
    shoal_map_strcpy (in.body, in.body_len, "text", text, sizeof text);
    shoal_in_close (&in);
    CHECK_EQ (code, SHOAL_ERR_INVALID);
    CHECK (strstr (text, "\"require\" must be an array"));
    char jid[SHOAL_ID_TEXT];
    CHECK (!s_submit (h, "noop", "default", "gpu,bad label", jid));
    CHECK (!s_submit (h, "noop", "default", "a,b,c,d,e,f,g,h,i", jid));
    CHECK (s_submit (h, "noop", "default", "a,b,c,d,e,f,g,h", jid));
    /* an empty array: no requirement */
    w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", "noop");
    shoal_wr_str (w, "require");
    shoal_wr_array (w, 0);
    CHECK (host_submitted (h, &id, jid, NULL));
    CHECK_EQ (s_policy (h, "q", "nonsense"), SHOAL_M_ERROR);
    CHECK_EQ (s_policy (h, "q", "weighted"), SHOAL_M_OK);
    /* A batch member keeps its requirement. */
    w = host_begin (h, SHOAL_M_BATCH, &id);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "jobs");
    shoal_wr_array (w, 2);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "type", "noop");
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "type", "noop");
    shoal_wr_str (w, "require");
    shoal_labels_write (w, "tpu");
    CHECK (host_call (h, &id, &in));
    CHECK_EQ (in.hdr.type, SHOAL_M_OK);
    shoal_rd_t rd;
    uint32_t n = 0;
    int with_tpu = 0;
    CHECK_OK (shoal_map_array (in.body, in.body_len, "jobs", &rd, &n));
    CHECK_EQ (n, 2);
    for (uint32_t i = 0; i < n; i++) {
        char mid[SHOAL_ID_TEXT] = "";
        const char *member;
        uint32_t mlen;
        if (shoal_rd_str (&rd, &member, &mlen) == SHOAL_OK &&
            mlen < sizeof mid) {
            memcpy (mid, member, mlen);
        }
        shoal_in_t st;
        CHECK (host_status (h, mid, &st));
        shoal_mp_val_t v;
        const uint8_t *job;
        size_t len;
        char list[SHOAL_REQUIRE_TEXT_MAX] = "";
        if (shoal_map_find (st.body, st.body_len, "job", &v, &job, &len) ==
            SHOAL_OK) {
            shoal_labels_from_map (job, len, "require", 8, list, sizeof list);
        }
        shoal_in_close (&st);
        with_tpu += streq (list, "tpu");
    }
    shoal_in_close (&in);
    CHECK_EQ (with_tpu, 1);
    /* QUEUE list shows the policy. */
    w = host_begin (h, SHOAL_M_QUEUE, &id);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "op", "list");
    CHECK (host_call (h, &id, &in));
    bool weighted = false;
    if (shoal_map_array (in.body, in.body_len, "queues", &rd, &n) == SHOAL_OK) {
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *q = rd.p;
            shoal_rd_skip (&rd, 8);
            char name[32] = "", pol[32] = "";
            shoal_map_strcpy (q, (size_t) (rd.p - q), "name", name,
                              sizeof name);
            shoal_map_strcpy (q, (size_t) (rd.p - q), "policy", pol,
                              sizeof pol);
            weighted =
                weighted || (streq (name, "q") && streq (pol, "weighted"));
        }
    }
    shoal_in_close (&in);
    CHECK (weighted);
    host_destroy (&h);
}

SHOAL_TEST (workflow_node_requires_labels)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    const char *gpu[] = {"executors/labels=gpu", NULL};
    CHECK (host_node_start (h, "node.cpu", NULL));
    CHECK (host_node_start (h, "node.gpu", gpu));
    CHECK (host_await_executors (h, 2));
    CHECK (wh_define (h,
                      "{\"name\": \"train\", \"nodes\": ["
                      "{\"id\": \"prep\", \"type\": \"noop\"},"
                      "{\"id\": \"fit\", \"type\": \"noop\","
                      " \"require\": [\"gpu\"]}],"
                      " \"edges\": [{\"from\": \"prep\", \"to\": \"fit\"}]}"));
    for (int r = 0; r < 3; r++) {
        char run[SHOAL_ID_TEXT];
        CHECK (wh_run (h, "train", NULL, run));
        CHECK (wh_await_run (h, run, "succeeded"));
        char job[SHOAL_ID_TEXT];
        CHECK (wh_node_field (h, run, 1, "job", job, sizeof job));
        CHECK (s_executor_is (h, job, "node.gpu"));
    }
    host_destroy (&h);
}

/*  Four executors with 16 labels each fill the table of 64; a fifth's
    labels get no bits. Jobs that require a label with a bit run; one
    that requires a label without stays queued; nothing crashes. */
SHOAL_TEST (full_label_table_warns_and_holds)
{
    host_t *h = host_new (0, NULL);
    CHECK (h);
    shoal_port_t *x[5];
    for (int i = 0; i < 5; i++) {
        char name[16], labels[SHOAL_LABELS_TEXT_MAX] = "";
        snprintf (name, sizeof name, "x.%d", i);
        for (int k = 0; k < 16; k++) {
            char l[16];
            int n = snprintf (l, sizeof l, "l%d", i * 16 + k);
            shoal_labels_add (labels, sizeof labels, l, (size_t) n, 16);
        }
        x[i] = host_node_join_ex (h, name, 10, labels, 0);
        CHECK (x[i]);
        CHECK (host_await_executors (h, i + 1));
    }
    char ok[SHOAL_ID_TEXT], held[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "noop", "labels", "l70", held));
    CHECK (s_submit (h, "noop", "labels", "l17", ok));
    s_exec_t ex[5] = {{0}};
    CHECK (s_collect (x, ex, 5, 1));
    CHECK_EQ (ex[1].count, 1);
    CHECK (host_state_is (h, held, "enqueued"));
    CHECK (s_executor_is (h, ok, "x.1"));
    for (int i = 0; i < 5; i++) {
        shoal_port_destroy (&x[i]);
    }
    host_destroy (&h);
}

SHOAL_TEST_MAIN (required_labels_pick_the_executor,
                 unmet_requirement_waits_without_blocking,
                 round_robin_spreads_evenly, weighted_gives_three_to_one,
                 random_keeps_to_labels, capacity_is_never_exceeded,
                 bad_requirements_and_policies_are_refused,
                 workflow_node_requires_labels,
                 full_label_table_warns_and_holds)
