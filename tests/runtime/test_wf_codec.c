/*  test_wf_codec.c - workflow definitions as msgpack and as graphs:
    encode/decode round trips (the examples and every field), the decoder
    against hand-made hostile records, truncation and random damage
    (bounded loops, fixed seed), topological order, entry nodes,
    outgoing edges, and the biggest graphs the limits allow. */
#include "wf_helpers.h"

#include "shoal_expr.h"
#include "shoal_mp.h"
#include "shoal_retry.h"
#include "shoal_wr.h"

#ifndef EXAMPLES_DIR
#error "EXAMPLES_DIR must name examples/workflows"
#endif

#define N(id, type) "{'id': '" id "', 'type': '" type "'}"
#define E(a, b)     "{'from': '" a "', 'to': '" b "'}"

/*  The definition's encoding in a new writer (destroy it). */
static shoal_wr_t *
s_encode (const shoal_wf_t *wf)
{
    shoal_wr_t *wr = shoal_wr_new ();
    if (!wr) {
        abort ();
    }
    shoal_wf_encode (wf, wr);
    return wr;
}

static shoal_err_t
s_decode (shoal_wr_t *wr, shoal_wf_t **out, char *err)
{
    return shoal_wf_decode (shoal_wr_data (wr), shoal_wr_size (wr), NULL, out,
                            err, SHOAL_WF_ERR_MAX);
}

static bool
s_bytes_eq (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp (a, b, alen) == 0);
}

/*  Every accessor gives the same on both. */
static bool
s_same (const shoal_wf_t *x, const shoal_wf_t *y)
{
    if (strcmp (shoal_wf_name (x), shoal_wf_name (y)) ||
        strcmp (shoal_wf_description (x), shoal_wf_description (y)) ||
        shoal_wf_version (x) != shoal_wf_version (y) ||
        shoal_wf_max_concurrency (x) != shoal_wf_max_concurrency (y) ||
        shoal_wf_timeout_us (x) != shoal_wf_timeout_us (y) ||
        shoal_wf_compensation (x) != shoal_wf_compensation (y) ||
        shoal_wf_node_count (x) != shoal_wf_node_count (y) ||
        shoal_wf_edge_count (x) != shoal_wf_edge_count (y) ||
        shoal_wf_entry_count (x) != shoal_wf_entry_count (y)) {
        return false;
    }
    for (uint32_t i = 0; i < shoal_wf_node_count (x); i++) {
        const shoal_wf_node_t *a = shoal_wf_node (x, i);
        const shoal_wf_node_t *b = shoal_wf_node (y, i);
        if (strcmp (a->id, b->id) || strcmp (a->type, b->type) ||
            !s_bytes_eq (a->config, a->config_len, b->config, b->config_len) ||
            !s_bytes_eq (a->retry, a->retry_len, b->retry, b->retry_len) ||
            a->timeout_ms != b->timeout_ms || a->priority != b->priority ||
            a->max_concurrent != b->max_concurrent ||
            a->rate_interval_us != b->rate_interval_us ||
            a->burst != b->burst || a->has_breaker != b->has_breaker ||
            a->breaker.failure_rate != b->breaker.failure_rate ||
            a->breaker.min_calls != b->breaker.min_calls ||
            a->breaker.window_us != b->breaker.window_us ||
            a->breaker.open_us != b->breaker.open_us ||
            a->breaker.half_open_successes != b->breaker.half_open_successes ||
            a->fallback != b->fallback || a->compensate != b->compensate ||
            a->join != b->join || a->handler != b->handler ||
            !a->require != !b->require ||
            (a->require && strcmp (a->require, b->require)) ||
            a->n_in != b->n_in || a->n_out != b->n_out ||
            shoal_wf_topo_order (x)[i] != shoal_wf_topo_order (y)[i]) {
            return false;
        }
    }
    for (uint32_t i = 0; i < shoal_wf_edge_count (x); i++) {
        const shoal_wf_edge_t *a = shoal_wf_edge (x, i);
        const shoal_wf_edge_t *b = shoal_wf_edge (y, i);
        if (a->index != b->index || a->from != b->from || a->to != b->to ||
            strcmp (a->port, b->port) || a->on != b->on ||
            !a->cond_text != !b->cond_text ||
            (a->cond_text && strcmp (a->cond_text, b->cond_text)) ||
            !s_bytes_eq (a->cond, a->cond_len, b->cond, b->cond_len)) {
            return false;
        }
    }
    return true;
}

static char *
s_read (const char *name, size_t *len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", EXAMPLES_DIR, name);
    FILE *f = fopen (path, "r");
    char *text = calloc (1, 1 << 16);
    *len = f && text ? fread (text, 1, (1 << 16) - 1, f) : 0;
    if (f) {
        fclose (f);
    }
    if (*len == 0) {
        fprintf (stderr, "  cannot read %s\n", path);
        abort ();
    }
    return text;
}

SHOAL_TEST (codec_examples_round_trip)
{
    static const char *const files[] = {"etl.json", "payment_saga.json",
                                        "flaky_service.json",
                                        "shell_pipeline.json"};
    for (size_t f = 0; f < 4; f++) {
        size_t len;
        char *text = s_read (files[f], &len);
        char err[SHOAL_WF_ERR_MAX];
        shoal_wf_t *wf = NULL, *back = NULL;
        CHECK_OK (
            shoal_wf_parse (text, len, files[f], NULL, &wf, err, sizeof err));
        free (text);
        shoal_wr_t *wr = s_encode (wf);
        CHECK_OK (shoal_wr_error (wr));
        CHECK_OK (s_decode (wr, &back, err));
        CHECK (s_same (wf, back));
        /* encoding is canonical: the decoded definition encodes the same */
        shoal_wr_t *again = s_encode (back);
        CHECK (s_bytes_eq (shoal_wr_data (wr), shoal_wr_size (wr),
                           shoal_wr_data (again), shoal_wr_size (again)));
        shoal_wr_destroy (&again);
        shoal_wr_destroy (&wr);
        shoal_wf_destroy (&back);
        shoal_wf_destroy (&wf);
    }
}

static const char *s_full =
    "{'name': 'full', 'description': 'every field', 'version': 3,"
    " 'max_concurrency': 9, 'timeout': '10m', 'compensation': 'branch',"
    " 'nodes': [{'id': 'a', 'type': 'echo', 'config': {'x': [1, 2.5, null]},"
    "   'timeout': '2s', 'priority': 'low',"
    "   'retry': 'exponential:max=5,delay=2s,jitter=0.1,on=exit|timeout',"
    "   'max_concurrent': 3, 'rate': '7/s', 'burst': 4,"
    "   'breaker': {'failure_rate': 0.3, 'min_calls': 7, 'window': '2m',"
    "     'open_for': '45s', 'half_open_successes': 2},"
    "   'fallback': 'fb', 'compensate': 'undo'},"
    "  {'id': 'b', 'type': 'plug', 'join': 'any', 'require': ['gpu', 'ssd']},"
    "  {'id': 'fb', 'type': 'echo'}, {'id': 'undo', 'type': 'echo'}],"
    " 'edges': [{'from': 'a', 'to': 'b', 'port': 'p1',"
    "   'if': 'output.x[0] == 1 && input.y != \\'z\\''},"
    "  {'from': 'a', 'to': 'b', 'on': 'all'}]}";

SHOAL_TEST (codec_every_field)
{
    static const char *const types[] = {"plug", NULL};
    char err[SHOAL_WF_ERR_MAX];
    shoal_wf_t *wf = NULL, *back = NULL;
    CHECK_OK (wf_try (s_full, types, &wf, err));
    shoal_wr_t *wr = s_encode (wf);
    CHECK_OK (s_decode (wr, &back, err));
    CHECK (s_same (wf, back));
    CHECK_STR (shoal_wf_edge (back, 0)->cond_text,
               "output.x[0] == 1 && input.y != \"z\"");
    CHECK_STR (shoal_wf_node (back, 1)->require, "gpu,ssd");
    CHECK (!shoal_wf_node (back, 0)->require);
    shoal_wf_destroy (&back);
    /* with a type list, types are checked again */
    CHECK_OK (shoal_wf_decode (shoal_wr_data (wr), shoal_wr_size (wr), types,
                               &back, err, sizeof err));
    shoal_wf_destroy (&back);
    static const char *const other[] = {"thumb", NULL};
    CHECK_RC (shoal_wf_decode (shoal_wr_data (wr), shoal_wr_size (wr), other,
                               &back, err, sizeof err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "node 1: unknown type \"plug\"");
    CHECK (back == NULL);
    shoal_wr_destroy (&wr);
    shoal_wf_destroy (&wf);
}

/*  Every prefix of a valid encoding is refused, without a crash. */
SHOAL_TEST (codec_truncated)
{
    static const char *const types[] = {"plug", NULL};
    char err[SHOAL_WF_ERR_MAX];
    shoal_wf_t *wf = NULL, *back = NULL;
    CHECK_OK (wf_try (s_full, types, &wf, err));
    shoal_wr_t *wr = s_encode (wf);
    size_t size = shoal_wr_size (wr);
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy =
            malloc (n ? n : 1); /* exact size: ASan sees overreads */
        memcpy (copy, shoal_wr_data (wr), n);
        shoal_err_t rc =
            shoal_wf_decode (copy, n, NULL, &back, err, sizeof err);
        free (copy);
        CHECK (rc != SHOAL_OK);
        CHECK (back == NULL);
    }
    /* and trailing bytes */
    shoal_wr_nil (wr);
    CHECK_RC (s_decode (wr, &back, err), SHOAL_ERR_MALFORMED);
    shoal_wr_destroy (&wr);
    shoal_wf_destroy (&wf);
}

/*  Random damage: flipped bytes in a valid record and pure noise. Either
    refused, or accepted as a definition that encodes and decodes again. */
SHOAL_TEST (codec_garbage)
{
    static const char *const types[] = {"plug", NULL};
    char err[SHOAL_WF_ERR_MAX];
    shoal_wf_t *wf = NULL, *back = NULL;
    CHECK_OK (wf_try (s_full, types, &wf, err));
    shoal_wr_t *wr = s_encode (wf);
    size_t size = shoal_wr_size (wr);
    uint64_t seed = 0x5eed;
    uint8_t *buf = malloc (size);
    int accepted = 0;
    for (int round = 0; round < 4000; round++) {
        memcpy (buf, shoal_wr_data (wr), size);
        int flips = 1 + (int) (shoal_retry_rand (&seed) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = shoal_retry_rand (&seed) % size;
            buf[at] = (uint8_t) shoal_retry_rand (&seed);
        }
        if (shoal_wf_decode (buf, size, NULL, &back, err, sizeof err) ==
            SHOAL_OK) {
            accepted++;
            shoal_wr_t *again = s_encode (back);
            shoal_wf_t *third = NULL;
            CHECK_OK (s_decode (again, &third, err));
            CHECK (s_same (back, third));
            shoal_wf_destroy (&third);
            shoal_wr_destroy (&again);
            shoal_wf_destroy (&back);
        }
        CHECK (back == NULL);
    }
    for (int round = 0; round < 2000; round++) {
        size_t n = shoal_retry_rand (&seed) % size;
        for (size_t k = 0; k < n; k++) {
            buf[k] = (uint8_t) shoal_retry_rand (&seed);
        }
        if (round % 2) {
            buf[0] = 0x80 | (buf[0] & 0x0f); /* a fixmap: go deeper */
        }
        CHECK (shoal_wf_decode (buf, n, NULL, &back, err, sizeof err) !=
                   SHOAL_OK ||
               back != NULL);
        shoal_wf_destroy (&back);
    }
    fprintf (stderr, "  %d damaged records still decoded\n", accepted);
    free (buf);
    shoal_wr_destroy (&wr);
    shoal_wf_destroy (&wf);
}

/*  A hand-made record: root with nodes a, b (noop) and the given edges
    array body written by the caller. */
typedef void (s_edges_fn) (shoal_wr_t *wr);

static shoal_err_t
s_hand (uint64_t fv, uint32_t extra_node_pairs, s_edges_fn *edges,
        void (*node_extra) (shoal_wr_t *), char *err)
{
    shoal_wr_t *wr = shoal_wr_new ();
    shoal_wr_map (wr, 4);
    shoal_wr_kv_uint (wr, "fv", fv);
    shoal_wr_kv_str (wr, "n", "hand");
    shoal_wr_str (wr, "nodes");
    shoal_wr_array (wr, 2);
    shoal_wr_map (wr, 2 + extra_node_pairs);
    shoal_wr_kv_str (wr, "id", "a");
    shoal_wr_kv_str (wr, "t", "noop");
    if (node_extra) {
        node_extra (wr);
    }
    shoal_wr_map (wr, 2);
    shoal_wr_kv_str (wr, "id", "b");
    shoal_wr_kv_str (wr, "t", "noop");
    shoal_wr_str (wr, "edges");
    edges (wr);
    shoal_wf_t *wf = NULL;
    shoal_err_t rc = s_decode (wr, &wf, err);
    shoal_wf_destroy (&wf);
    shoal_wr_destroy (&wr);
    return rc;
}

static void
s_no_edges (shoal_wr_t *wr)
{
    shoal_wr_array (wr, 0);
}

static void
s_cycle (shoal_wr_t *wr)
{
    shoal_wr_array (wr, 2);
    shoal_wr_map (wr, 2);
    shoal_wr_kv_uint (wr, "f", 0);
    shoal_wr_kv_uint (wr, "t", 1);
    shoal_wr_map (wr, 2);
    shoal_wr_kv_uint (wr, "f", 1);
    shoal_wr_kv_uint (wr, "t", 0);
}

static void
s_out_of_range (shoal_wr_t *wr)
{
    shoal_wr_array (wr, 1);
    shoal_wr_map (wr, 2);
    shoal_wr_kv_uint (wr, "f", 0);
    shoal_wr_kv_uint (wr, "t", 2);
}

static void
s_bad_code (shoal_wr_t *wr)
{
    shoal_wr_array (wr, 1);
    shoal_wr_map (wr, 4);
    shoal_wr_kv_uint (wr, "f", 0);
    shoal_wr_kv_uint (wr, "t", 1);
    shoal_wr_kv_str (wr, "if", "output.x");
    shoal_wr_kv_bin (wr, "ic", "\xff\xff\xff", 3);
}

static void
s_text_only (shoal_wr_t *wr)
{
    shoal_wr_array (wr, 1);
    shoal_wr_map (wr, 3);
    shoal_wr_kv_uint (wr, "f", 0);
    shoal_wr_kv_uint (wr, "t", 1);
    shoal_wr_kv_str (wr, "if", "output.x");
}

static void
s_repeated_key (shoal_wr_t *wr)
{
    shoal_wr_array (wr, 1);
    shoal_wr_map (wr, 3);
    shoal_wr_kv_uint (wr, "f", 0);
    shoal_wr_kv_uint (wr, "t", 1);
    shoal_wr_kv_uint (wr, "t", 1);
}

static void
s_unknown_key (shoal_wr_t *wr)
{
    shoal_wr_array (wr, 1);
    shoal_wr_map (wr, 3);
    shoal_wr_kv_uint (wr, "f", 0);
    shoal_wr_str (wr, "future");
    shoal_wr_map (wr, 1);
    shoal_wr_kv_str (wr, "k", "v");
    shoal_wr_kv_uint (wr, "t", 1);
}

static void
s_fallback_far (shoal_wr_t *wr)
{
    shoal_wr_kv_uint (wr, "fb", 5);
}

static void
s_fallback_self (shoal_wr_t *wr)
{
    shoal_wr_kv_uint (wr, "fb", 0);
}

static void
s_bad_retry (shoal_wr_t *wr)
{
    shoal_wr_str (wr, "rp");
    shoal_wr_map (wr, 1);
    shoal_wr_kv_str (wr, "kind", "sometimes");
}

static void
s_rate_no_burst (shoal_wr_t *wr)
{
    shoal_wr_kv_uint (wr, "ri", 1000);
}

static void
s_bad_breaker (shoal_wr_t *wr)
{
    shoal_wr_str (wr, "br");
    shoal_wr_array (wr, 5);
    shoal_wr_double (wr, 1.5);
    for (int i = 0; i < 4; i++) {
        shoal_wr_uint (wr, 1000);
    }
}

SHOAL_TEST (codec_hostile_records)
{
    char err[SHOAL_WF_ERR_MAX];
    CHECK_OK (s_hand (1, 0, s_no_edges, NULL, err));
    CHECK_OK (s_hand (1, 0, s_unknown_key, NULL, err));
    CHECK_RC (s_hand (2, 0, s_no_edges, NULL, err), SHOAL_ERR_VERSION);
    CHECK_STR (err, "format 2, this code reads 1");
    CHECK_RC (s_hand (1, 0, s_cycle, NULL, err), SHOAL_ERR_INVALID);
    CHECK_STR (err, "cycle: a -> b -> a");
    CHECK_RC (s_hand (1, 0, s_out_of_range, NULL, err), SHOAL_ERR_INVALID);
    CHECK_STR (err, "edge 0: t: 2 is over 1");
    CHECK_RC (s_hand (1, 0, s_bad_code, NULL, err), SHOAL_ERR_INVALID);
    CHECK_STR (err, "edge 0: ic: not a well-formed condition program");
    CHECK_RC (s_hand (1, 0, s_text_only, NULL, err), SHOAL_ERR_MALFORMED);
    CHECK_STR (err, "edge 0: if and ic come together");
    CHECK_RC (s_hand (1, 0, s_repeated_key, NULL, err), SHOAL_ERR_MALFORMED);
    CHECK_STR (err, "edge 0: key \"t\" repeated");
    CHECK_RC (s_hand (1, 1, s_no_edges, s_fallback_far, err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "node 0: fb: 5 is over 1");
    CHECK_RC (s_hand (1, 1, s_no_edges, s_fallback_self, err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "node \"a\": fallback: a node cannot be its own fallback");
    CHECK_RC (s_hand (1, 1, s_no_edges, s_bad_retry, err), SHOAL_ERR_INVALID);
    CHECK_RC (s_hand (1, 1, s_no_edges, s_rate_no_burst, err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "node 0: ri/rb: not a usable rate");
    CHECK_RC (s_hand (1, 1, s_no_edges, s_bad_breaker, err), SHOAL_ERR_INVALID);
    /* not a map; missing fields; too big */
    shoal_wf_t *wf = NULL;
    CHECK_RC (shoal_wf_decode ((const uint8_t *) "\x91\x01", 2, NULL, &wf, err,
                               sizeof err),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (shoal_wf_decode ((const uint8_t *) "\x81\xa2"
                                                 "fv\x01",
                               5, NULL, &wf, err, sizeof err),
              SHOAL_ERR_MALFORMED);
    CHECK_STR (err, "no name, nodes or edges");
    CHECK_RC (
        shoal_wf_decode ((const uint8_t *) "", 0, NULL, &wf, err, sizeof err),
        SHOAL_ERR_MALFORMED);
    static uint8_t big[SHOAL_WF_SIZE_MAX + 1];
    CHECK_RC (shoal_wf_decode (big, sizeof big, NULL, &wf, err, sizeof err),
              SHOAL_ERR_TOO_LARGE);
    CHECK (wf == NULL);
}

SHOAL_TEST (graph_topo_order)
{
    /* e -> c, a -> c -> d, b -> d: c waits for a and e; lower index
       first among the ready ones */
    shoal_wf_t *wf = wf_ok (
        WF (N ("d", "noop") "," N ("c", "noop") "," N ("e", "noop") "," N (
                "a", "noop") "," N ("b", "noop"),
            E ("e", "c") "," E ("a", "c") "," E ("c", "d") "," E ("b", "d")));
    const uint32_t *t = shoal_wf_topo_order (wf);
    uint32_t want[] = {2, 3, 1, 4, 0}; /* e a c b d */
    for (int i = 0; i < 5; i++) {
        CHECK_EQ (t[i], want[i]);
    }
    /* every edge goes forward */
    uint32_t pos[5];
    for (uint32_t i = 0; i < 5; i++) {
        pos[t[i]] = i;
    }
    for (uint32_t i = 0; i < shoal_wf_edge_count (wf); i++) {
        const shoal_wf_edge_t *e = shoal_wf_edge (wf, i);
        CHECK (pos[e->from] < pos[e->to]);
    }
    shoal_wf_destroy (&wf);
    /* handlers come after the nodes that name them */
    wf = wf_ok (WF (N ("f", "echo") ",{'id': 'a', 'type': 'noop', "
                                    "'fallback': 'f'}",
                    ""));
    CHECK_EQ (shoal_wf_topo_order (wf)[0], 1);
    CHECK_EQ (shoal_wf_topo_order (wf)[1], 0);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (graph_entries_and_edges)
{
    shoal_wf_t *wf = wf_ok (
        WF (N ("join", "noop") "," N (
                "x", "noop") ",{'id': 'y', 'type': "
                             "'noop', 'compensate': "
                             "'u'}," N ("u", "echo") "," N ("lone", "noop"),
            E ("x", "join") ",{'from': 'y', 'to': 'join', 'on': 'fail'},"
                            "{'from': 'x', 'to': 'join', 'on': 'fail'}"));
    CHECK_EQ (shoal_wf_entry_count (wf), 3); /* x, y, lone; not u */
    CHECK_EQ (shoal_wf_entry (wf, 0), 1);
    CHECK_EQ (shoal_wf_entry (wf, 1), 2);
    CHECK_EQ (shoal_wf_entry (wf, 2), 4);
    CHECK_EQ (shoal_wf_node (wf, 0)->n_in, 3);
    CHECK_EQ (shoal_wf_node (wf, 1)->n_out, 2);
    /* outgoing edges of x, in file order */
    CHECK_EQ (shoal_wf_out (wf, 1, 0)->index, 0);
    CHECK_EQ (shoal_wf_out (wf, 1, 1)->index, 2);
    CHECK_EQ (shoal_wf_out (wf, 1, 1)->on, SHOAL_WF_ON_FAIL);
    CHECK_EQ (shoal_wf_out (wf, 2, 0)->index, 1);
    CHECK (shoal_wf_out (wf, 4, 0) == NULL);
    shoal_wf_destroy (&wf);
}

/*  The biggest graphs: a 1000-node chain (deep search, no recursion),
    a 1000-node ring (the cycle text is cut to the buffer), 10000 edges. */
SHOAL_TEST (graph_limits)
{
    size_t cap = 1 << 20;
    char *text = malloc (cap);
    size_t n = (size_t) snprintf (text, cap, "{'name': 'w', 'nodes': [");
    for (int i = 0; i < SHOAL_WF_NODES_MAX; i++) {
        n += (size_t) snprintf (text + n, cap - n,
                                "%s{'id': 'n%d', 'type': 'noop'}", i ? "," : "",
                                i);
    }
    n += (size_t) snprintf (text + n, cap - n, "], 'edges': [");
    size_t mark = n;
    for (int i = 0; i + 1 < SHOAL_WF_NODES_MAX; i++) {
        n += (size_t) snprintf (text + n, cap - n,
                                "{'from': 'n%d', 'to': 'n%d'},", i, i + 1);
    }
    snprintf (text + n - 1, cap - n + 1, "]}");
    shoal_wf_t *wf = wf_ok (text);
    CHECK_EQ (shoal_wf_entry_count (wf), 1);
    CHECK_EQ (shoal_wf_topo_order (wf)[999], 999);
    shoal_wf_destroy (&wf);
    /* close the ring */
    text[n - 1] = ',';
    snprintf (text + n, cap - n, "{'from': 'n999', 'to': 'n0'}]}");
    const char *err = wf_err (text, SHOAL_ERR_INVALID);
    CHECK (strncmp (err, "t.json: cycle: n0 -> n1 -> n2 -> ", 33) == 0);
    CHECK (strlen (err) < SHOAL_WF_ERR_MAX);
    /* 10000 edges: every pair i < j among the first 142 nodes (10011
       pairs, trimmed) */
    n = mark;
    int edges = 0;
    for (int i = 0; i < 142 && edges < SHOAL_WF_EDGES_MAX; i++) {
        for (int j = i + 1; j < 142 && edges < SHOAL_WF_EDGES_MAX; j++) {
            n += (size_t) snprintf (text + n, cap - n,
                                    "{'from': 'n%d', 'to': 'n%d'},", i, j);
            edges++;
        }
    }
    snprintf (text + n - 1, cap - n + 1, "]}");
    wf = wf_ok (text);
    CHECK_EQ (shoal_wf_edge_count (wf), SHOAL_WF_EDGES_MAX);
    CHECK_EQ (shoal_wf_node (wf, 0)->n_out, 141);
    shoal_wr_t *wr = s_encode (wf);
    shoal_wf_t *back = NULL;
    char why[SHOAL_WF_ERR_MAX];
    CHECK_OK (s_decode (wr, &back, why));
    CHECK (s_same (wf, back));
    shoal_wf_destroy (&back);
    shoal_wr_destroy (&wr);
    shoal_wf_destroy (&wf);
    free (text);
}

SHOAL_TEST_MAIN (codec_examples_round_trip, codec_every_field, codec_truncated,
                 codec_garbage, codec_hostile_records, graph_topo_order,
                 graph_entries_and_edges, graph_limits)
