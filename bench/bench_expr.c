/*  bench_expr.c - the cost of one edge condition.

    Evaluates a realistic condition against a 10-key output document and
    a small input document, in a tight loop on one thread, and reports
    nanoseconds per evaluation (median of several runs). Each eval checks
    the stored program again and walks the msgpack from the root for
    every path, as a scheduler deciding an edge would. The raw baseline
    is the same test written by hand in C with the bounded reader's map
    lookups, which is the least a condition could cost on these bytes.
    Compiling (done once per definition) is timed too, for scale.
*/
#include "bench_util.h"

#include "shoal_expr.h"
#include "shoal_json.h"
#include "shoal_mp.h"

#include <stdio.h>
#include <string.h>

#define S_TEXT                                                                 \
    "output.status == \"ok\" && output.amount > 100 && "                       \
    "input.region != \"eu\""

static const char *s_output_json =
    "{\"id\": \"01HZX3K9Q2\", \"attempt\": 1, \"items\": [1, 2, 3],"
    " \"status\": \"ok\", \"currency\": \"EUR\","
    " \"customer\": {\"id\": \"c-42\", \"tier\": \"gold\"},"
    " \"amount\": 250, \"elapsed_ms\": 12.5, \"retry\": false,"
    " \"note\": \"settled by the nightly batch\"}";

static const char *s_input_json =
    "{\"tenant\": \"acme\", \"region\": \"us\", \"dry_run\": false}";

static volatile int s_sink;

static size_t
s_to_mp (const char *json, uint8_t *buf, size_t cap)
{
    json_t *j = json_loads (json, 0, NULL);
    shoal_wr_t *wr = shoal_wr_new ();
    size_t n = 0;
    if (j && wr && shoal_json_to_mp (j, wr) == SHOAL_OK &&
        shoal_wr_size (wr) <= cap) {
        n = shoal_wr_size (wr);
        memcpy (buf, shoal_wr_data (wr), n);
    }
    shoal_wr_destroy (&wr);
    json_decref (j);
    return n;
}

/*  The condition by hand: what a compiled-in C test would cost. */
static bool
s_by_hand (const uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
    const char *s;
    uint32_t n;
    uint64_t amount;
    if (shoal_map_str (out, out_len, "status", &s, &n) || n != 2 ||
        memcmp (s, "ok", 2) != 0) {
        return false;
    }
    if (shoal_map_uint (out, out_len, "amount", &amount) || amount <= 100) {
        return false;
    }
    if (shoal_map_str (in, in_len, "region", &s, &n)) {
        return true; /* absent != "eu" */
    }
    return !(n == 2 && memcmp (s, "eu", 2) == 0);
}

int
bench_expr_run (const bench_opts_t *opts, bench_results_t *res)
{
    bench_section ("Conditions: compile once, evaluate per edge");
    uint8_t out[512], in[128];
    size_t out_len = s_to_mp (s_output_json, out, sizeof out);
    size_t in_len = s_to_mp (s_input_json, in, sizeof in);
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    size_t len;
    char err[SHOAL_EXPR_ERR_MAX];
    bool r = false;
    if (!out_len || !in_len ||
        shoal_expr_compile (S_TEXT, code, sizeof code, &len, err, sizeof err) ||
        shoal_expr_eval (code, len, out, out_len, in, in_len, &r, err,
                         sizeof err) ||
        !r || !s_by_hand (out, out_len, in, in_len)) {
        fprintf (stderr, "bench expr: setup failed: %s\n", err);
        return -1;
    }
    uint64_t iters = opts->quick ? 200000 : 2000000;
    enum { RUNS = 5 };
    double eval_ns[RUNS], hand_ns[RUNS], compile_ns[RUNS];
    for (int run = 0; run < RUNS; run++) {
        int acc = 0;
        uint64_t t0 = bench_now_ns ();
        for (uint64_t i = 0; i < iters; i++) {
            shoal_expr_eval (code, len, out, out_len, in, in_len, &r, NULL, 0);
            acc += r;
        }
        uint64_t t1 = bench_now_ns ();
        for (uint64_t i = 0; i < iters; i++) {
            acc += s_by_hand (out, out_len, in, in_len);
        }
        uint64_t t2 = bench_now_ns ();
        uint64_t citers = iters / 10;
        for (uint64_t i = 0; i < citers; i++) {
            acc += shoal_expr_compile (S_TEXT, code, sizeof code, &len, NULL,
                                       0) == SHOAL_OK;
        }
        uint64_t t3 = bench_now_ns ();
        s_sink = acc;
        eval_ns[run] = (double) (t1 - t0) / (double) iters;
        hand_ns[run] = (double) (t2 - t1) / (double) iters;
        compile_ns[run] = (double) (t3 - t2) / (double) citers;
    }
    bench_expr_t *e = &res->expr;
    e->done = true;
    e->eval_ns = bench_median (eval_ns, RUNS);
    e->hand_ns = bench_median (hand_ns, RUNS);
    e->compile_ns = bench_median (compile_ns, RUNS);
    e->code_len = (uint32_t) len;
    e->out_len = (uint32_t) out_len;
    e->in_len = (uint32_t) in_len;
    e->text = S_TEXT;
    printf ("  %s\n  code %zu B, output %zu B (10 keys), input %zu B\n"
            "  eval %.0f ns, by hand %.0f ns, compile %.0f ns "
            "(median of %d x %llu)\n",
            S_TEXT, len, out_len, in_len, e->eval_ns, e->hand_ns, e->compile_ns,
            RUNS, (unsigned long long) iters);
    return 0;
}
