/*  test_window.c - the scheduler holds a bounded window of each ready
    index; the rest of the queue waits in LMDB and comes in order. A fake
    executor takes one job at a time so the order of RUNs is the dispatch
    order. */
#include "host.h"
#include "shoal_test.h"

#define S_WINDOW "16"

static const char *const s_kv[] = {"scheduler/window=" S_WINDOW, NULL};

static bool
s_submit (host_t *h, const char *queue, const char *retry, shoal_id_t *out)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 2 + (retry != NULL));
    shoal_wr_kv_str (w, "type", "x");
    shoal_wr_kv_str (w, "queue", queue);
    if (retry) {
        shoal_wr_kv_str (w, "retry", retry);
    }
    char text[SHOAL_ID_TEXT];
    return host_submitted (h, &id, text, NULL) &&
           shoal_id_parse (text, strlen (text), out) == SHOAL_OK;
}

/*  Ready jobs of queue at priority normal, as the store counts them. */
static uint64_t
s_depth (host_t *h, const char *queue)
{
    shoal_in_t in;
    uint64_t n = UINT64_MAX;
    if (host_stats (h, false, &in)) {
        shoal_mp_val_t v;
        const uint8_t *ready, *q;
        size_t rlen, qlen;
        if (shoal_map_find (in.body, in.body_len, "ready", &v, &ready, &rlen) ==
                SHOAL_OK &&
            shoal_map_find (ready, rlen, queue, &v, &q, &qlen) == SHOAL_OK) {
            shoal_map_uint (q, qlen, "normal", &n);
        }
        shoal_in_close (&in);
    } else {
        n = UINT64_MAX - 1;
    }
    return n;
}

/*  Finds queue's map in the scheduler's STATS (queues) reply and calls
    fn on it; fn's result, or fallback when there is no such queue. */
typedef double (s_queue_fn) (const uint8_t *q, size_t len);

static double
s_sched_queue (host_t *h, const char *queue, s_queue_fn *fn, double fallback)
{
    shoal_in_t in;
    double out = fallback;
    if (!host_stats (h, true, &in)) {
        return out;
    }
    shoal_rd_t rd;
    uint32_t count;
    if (shoal_map_array (in.body, in.body_len, "queues", &rd, &count) ==
        SHOAL_OK) {
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *q = rd.p;
            if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
                break;
            }
            size_t qlen = (size_t) (rd.p - q);
            char name[SHOAL_NAME_MAX + 1] = "";
            shoal_map_strcpy (q, qlen, "name", name, sizeof name);
            if (streq (name, queue)) {
                out = fn (q, qlen);
            }
        }
    }
    shoal_in_close (&in);
    return out;
}

static double
s_window_normal (const uint8_t *q, size_t len)
{
    shoal_mp_val_t v;
    const uint8_t *win;
    size_t wlen;
    uint64_t n = 0;
    if (shoal_map_find (q, len, "window", &v, &win, &wlen) ||
        shoal_map_uint (win, wlen, "normal", &n)) {
        return -1;
    }
    return (double) n;
}

static double
s_started (const uint8_t *q, size_t len)
{
    shoal_mp_val_t v;
    return shoal_map_find (q, len, "started_per_s", &v, NULL, NULL) ==
                       SHOAL_OK &&
                   v.type == SHOAL_MP_FLOAT
               ? v.f
               : -1;
}

/*  Ids the scheduler holds for queue at priority normal. */
static uint64_t
s_window (host_t *h, const char *queue)
{
    double n = s_sched_queue (h, queue, s_window_normal, -1);
    return n >= 0 && n < 1e18 ? (uint64_t) n : UINT64_MAX;
}

/*  Leases started per second for queue (-1: no answer). */
static double
s_started_per_s (host_t *h, const char *queue)
{
    return s_sched_queue (h, queue, s_started, -1);
}

#define S_JOBS 200

SHOAL_TEST (window_is_bounded_and_the_queue_drains_in_order)
{
    host_t *h = host_new (0, s_kv);
    CHECK (h);
    shoal_id_t *ids = calloc (S_JOBS, sizeof *ids);
    CHECK (ids);
    for (int i = 0; i < S_JOBS; i++) {
        CHECK (s_submit (h, "w", NULL, &ids[i]));
    }
    host_poke (h);
    /* All of them wait in the store; the scheduler holds one window. */
    CHECK_EQ (s_depth (h, "w"), S_JOBS);
    CHECK_EQ (s_window (h, "w"), atoi (S_WINDOW));
    shoal_port_t *node = host_node_join (h, "node.fake", 1); /* one slot */
    CHECK (node);
    for (int i = 0; i < S_JOBS; i++) {
        shoal_id_t job;
        uint64_t e = host_node_run (node, &job);
        CHECK (e == 1);
        if (memcmp (&job, &ids[i], 16) != 0) {
            fprintf (stderr, "run %d is not the job submitted %d-th\n", i, i);
        }
        CHECK (memcmp (&job, &ids[i], 16) == 0);
        CHECK (host_node_result (node, &job, e, true));
    }
    char text[SHOAL_ID_TEXT];
    shoal_id_format (&ids[S_JOBS - 1], text);
    CHECK (host_await_state (h, text, "succeeded"));
    CHECK_EQ (s_depth (h, "w"), 0);
    CHECK_EQ (s_window (h, "w"), 0);
    /* All 200 started within one second of the fake clock: over the
       last 10 complete seconds that is 20 per second, and 0 once that
       second is more than 10 s old. */
    CHECK (s_started_per_s (h, "w") == 0.0); /* the second is not over */
    host_advance (h, 1000);
    CHECK (s_started_per_s (h, "w") == 20.0);
    host_advance (h, 10000);
    CHECK (s_started_per_s (h, "w") == 0.0);
    shoal_port_destroy (&node);
    free (ids);
    host_destroy (&h);
}

SHOAL_TEST (a_job_that_comes_back_queues_behind_the_window)
{
    host_t *h = host_new (0, s_kv);
    CHECK (h);
    enum { N = 40 };
    shoal_id_t ids[N];
    for (int i = 0; i < N; i++) {
        CHECK (s_submit (h, "w", "fixed:max=2,delay=1ms,jitter=0", &ids[i]));
    }
    shoal_port_t *node = host_node_join (h, "node.fake", 1); /* one slot */
    CHECK (node);
    /* The first one fails and is retried 1 ms later (no jitter): by then
       39 others wait, most of them only in the store. */
    shoal_id_t job;
    uint64_t e = host_node_run (node, &job);
    CHECK (e == 1 && memcmp (&job, &ids[0], 16) == 0);
    CHECK (host_node_result (node, &job, e, false));
    char first[SHOAL_ID_TEXT];
    shoal_id_format (&ids[0], first);
    CHECK (host_await_state (h, first, "scheduled"));
    host_advance (h, 1);
    CHECK (host_await_state (h, first, "enqueued"));
    for (int i = 1; i <= N; i++) {
        e = host_node_run (node, &job);
        CHECK (e >= 1);
        int want = i < N ? i : 0;
        if (memcmp (&job, &ids[want], 16) != 0) {
            fprintf (stderr, "run %d is not job %d\n", i, want);
        }
        CHECK (memcmp (&job, &ids[want], 16) == 0);
        CHECK (host_node_result (node, &job, e, true));
    }
    CHECK (host_await_state (h, first, "succeeded"));
    CHECK_EQ (s_depth (h, "w"), 0);
    shoal_port_destroy (&node);
    host_destroy (&h);
}

static bool
s_queue_op (host_t *h, const char *op, const char *queue, int64_t limit)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_QUEUE, &id);
    shoal_wr_map (w, 2 + (limit >= 0));
    shoal_wr_kv_str (w, "op", op);
    shoal_wr_kv_str (w, "queue", queue);
    if (limit >= 0) {
        shoal_wr_kv_uint (w, "concurrency", (uint64_t) limit);
    }
    return host_call_type (h, &id) == SHOAL_M_OK;
}

static bool
s_submit_p (host_t *h, const char *queue, const char *prio, shoal_id_t *out)
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "type", "x");
    shoal_wr_kv_str (w, "queue", queue);
    shoal_wr_kv_str (w, "priority", prio);
    char text[SHOAL_ID_TEXT];
    return host_submitted (h, &id, text, NULL) &&
           shoal_id_parse (text, strlen (text), out) == SHOAL_OK;
}

/*  Critical and low both waiting share starts 8:1, also when a
    concurrency limit makes most dispatch rounds lease nothing. */
SHOAL_TEST (priorities_share_starts_by_weight_under_a_limit)
{
    host_t *h = host_new (0, s_kv);
    CHECK (h);
    CHECK (s_queue_op (h, "set", "p", 1));
    CHECK (s_queue_op (h, "pause", "p", -1));
    enum { N = 12, C = 20 };
    shoal_id_t low[N], crit[C];
    for (int i = 0; i < N; i++) {
        CHECK (s_submit_p (h, "p", "low", &low[i]));
    }
    for (int i = 0; i < C; i++) {
        CHECK (s_submit_p (h, "p", "critical", &crit[i]));
    }
    shoal_port_t *node = host_node_join (h, "node.fake", 4);
    CHECK (node);
    CHECK (s_queue_op (h, "resume", "p", -1));
    int lows = 0, crits = 0, lows_in_9 = -1;
    for (int i = 0; i < 18; i++) {
        shoal_id_t job;
        uint64_t e = host_node_run (node, &job);
        CHECK (e == 1);
        /* Dispatch rounds that lease nothing (the limit is reached) must
           not cost anyone a turn. */
        CHECK (host_ping (h, "scheduler"));
        CHECK (host_ping (h, "scheduler"));
        bool is_low = false;
        for (int k = 0; k < N; k++) {
            is_low = is_low || memcmp (&job, &low[k], 16) == 0;
        }
        /* FIFO within a priority */
        if (is_low) {
            CHECK (memcmp (&job, &low[lows], 16) == 0);
            lows++;
        } else {
            CHECK (memcmp (&job, &crit[crits], 16) == 0);
            crits++;
        }
        if (i == 8) {
            lows_in_9 = lows;
        }
        CHECK (host_node_result (node, &job, e, true));
    }
    CHECK_EQ (lows_in_9, 1);
    CHECK_EQ (lows, 2);
    shoal_port_destroy (&node);
    host_destroy (&h);
}

SHOAL_TEST_MAIN (window_is_bounded_and_the_queue_drains_in_order,
                 a_job_that_comes_back_queues_behind_the_window,
                 priorities_share_starts_by_weight_under_a_limit)
