/*  test_wf.c - workflow definitions from JSON: every field and its
    default, and every validation rule with the exact text it gives
    (file, node or edge, what is wrong). The msgpack codec, graph tables
    and hostile input are in test_wf_codec.c. */
#include "wf_helpers.h"

#include "shoal_expr.h"
#include "shoal_job.h"
#include "shoal_json.h"
#include "shoal_retry.h"

#define N(id, type) "{'id': '" id "', 'type': '" type "'}"
#define E(a, b)     "{'from': '" a "', 'to': '" b "'}"

SHOAL_TEST (wf_minimal_defaults)
{
    shoal_wf_t *wf = wf_ok ("{'name': 'one', 'nodes': [" N ("a", "noop") "]}");
    CHECK_STR (shoal_wf_name (wf), "one");
    CHECK_STR (shoal_wf_description (wf), "");
    CHECK_EQ (shoal_wf_version (wf), 1);
    CHECK_EQ (shoal_wf_max_concurrency (wf), 0);
    CHECK_EQ (shoal_wf_timeout_us (wf), 0);
    CHECK_EQ (shoal_wf_compensation (wf), SHOAL_WF_COMP_RUN);
    CHECK_EQ (shoal_wf_node_count (wf), 1);
    CHECK_EQ (shoal_wf_edge_count (wf), 0);
    const shoal_wf_node_t *n = shoal_wf_node (wf, 0);
    CHECK_STR (n->id, "a");
    CHECK_STR (n->type, "noop");
    CHECK (n->config == NULL && n->config_len == 0);
    CHECK (n->retry == NULL && n->retry_len == 0);
    CHECK_EQ (n->timeout_ms, 0);
    CHECK_EQ (n->priority, SHOAL_PRIO_NORMAL);
    CHECK_EQ (n->max_concurrent, 0);
    CHECK_EQ (n->rate_interval_us, 0);
    CHECK_EQ (n->burst, 0);
    CHECK (!n->has_breaker && !n->handler);
    CHECK_EQ (n->fallback, -1);
    CHECK_EQ (n->compensate, -1);
    CHECK_EQ (n->join, SHOAL_WF_JOIN_ALL);
    CHECK_EQ (shoal_wf_entry_count (wf), 1);
    CHECK_EQ (shoal_wf_entry (wf, 0), 0);
    CHECK_EQ (shoal_wf_topo_order (wf)[0], 0);
    shoal_wf_destroy (&wf);
    CHECK (wf == NULL);
    shoal_wf_destroy (&wf);
    shoal_wf_destroy (NULL);
}

SHOAL_TEST (wf_every_field)
{
    shoal_wf_t *wf = wf_ok (
        "{'name': 'full', 'description': 'd', 'version': 7,"
        " 'max_concurrency': 9, 'timeout': '10m', 'compensation': 'branch',"
        " 'nodes': [{'id': 'a', 'type': 'echo', 'config': {'x': [1, 2]},"
        "   'timeout': '1500us', 'priority': 'critical',"
        "   'retry': 'exponential:max=5,delay=2s', 'max_concurrent': 3,"
        "   'rate': '10/s', 'burst': 4,"
        "   'breaker': {'failure_rate': 0.25, 'min_calls': 7,"
        "      'window': '2m', 'open_for': '45s', 'half_open_successes': 2},"
        "   'fallback': 'fb', 'compensate': 'undo', 'join': 'any'},"
        "  {'id': 'b', 'type': 'noop', 'breaker': {}},"
        "  {'id': 'fb', 'type': 'echo'}, {'id': 'undo', 'type': 'echo'}],"
        " 'edges': [{'from': 'a', 'to': 'b', 'port': 'p1', 'on': 'complete',"
        "   'if': 'output.ok == true'},"
        "  {'from': 'a', 'to': 'b', 'on': 'fail'}]}");
    CHECK_STR (shoal_wf_description (wf), "d");
    CHECK_EQ (shoal_wf_version (wf), 7);
    CHECK_EQ (shoal_wf_max_concurrency (wf), 9);
    CHECK_EQ (shoal_wf_timeout_us (wf), 600000000ull);
    CHECK_EQ (shoal_wf_compensation (wf), SHOAL_WF_COMP_BRANCH);
    const shoal_wf_node_t *a = shoal_wf_node (wf, 0);
    shoal_wr_t *wr = shoal_wr_new ();
    json_t *j = json_loads ("{\"x\": [1, 2]}", 0, NULL);
    CHECK_OK (shoal_json_to_mp (j, wr));
    json_decref (j);
    CHECK_EQ (a->config_len, shoal_wr_size (wr));
    CHECK (memcmp (a->config, shoal_wr_data (wr), a->config_len) == 0);
    shoal_wr_destroy (&wr);
    CHECK_EQ (a->timeout_ms, 2); /* rounded up to whole milliseconds */
    CHECK_EQ (a->priority, SHOAL_PRIO_CRITICAL);
    shoal_retry_t policy;
    CHECK_OK (shoal_retry_decode (a->retry, a->retry_len, &policy));
    CHECK_EQ (policy.kind, SHOAL_RETRY_EXPONENTIAL);
    CHECK_EQ (policy.max_attempts, 5);
    CHECK_EQ (policy.delay_us, 2000000);
    CHECK_EQ (a->max_concurrent, 3);
    CHECK_EQ (a->rate_interval_us, 100000);
    CHECK_EQ (a->burst, 4);
    CHECK (a->has_breaker && a->breaker.failure_rate == 0.25);
    CHECK_EQ (a->breaker.min_calls, 7);
    CHECK_EQ (a->breaker.window_us, 120000000ull);
    CHECK_EQ (a->breaker.open_us, 45000000ull);
    CHECK_EQ (a->breaker.half_open_successes, 2);
    CHECK_EQ (a->fallback, 2);
    CHECK_EQ (a->compensate, 3);
    CHECK_EQ (a->join, SHOAL_WF_JOIN_ANY);
    CHECK_EQ (a->n_out, 2);
    const shoal_wf_node_t *b = shoal_wf_node (wf, 1);
    CHECK (b->has_breaker && b->breaker.failure_rate == 0.5);
    CHECK_EQ (b->breaker.min_calls, 20);
    CHECK_EQ (b->breaker.window_us, 60000000ull);
    CHECK_EQ (b->breaker.open_us, 30000000ull);
    CHECK_EQ (b->breaker.half_open_successes, 3);
    CHECK_EQ (b->n_in, 2);
    CHECK (shoal_wf_node (wf, 2)->handler && shoal_wf_node (wf, 3)->handler);
    CHECK (!a->handler && !b->handler);
    const shoal_wf_edge_t *e = shoal_wf_edge (wf, 0);
    CHECK_EQ (e->index, 0);
    CHECK_EQ (e->from, 0);
    CHECK_EQ (e->to, 1);
    CHECK_STR (e->port, "p1");
    CHECK_EQ (e->on, SHOAL_WF_ON_COMPLETE);
    CHECK_STR (e->cond_text, "output.ok == true");
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    size_t len;
    char why[SHOAL_EXPR_ERR_MAX];
    CHECK_OK (shoal_expr_compile ("output.ok == true", code, sizeof code, &len,
                                  why, sizeof why));
    CHECK (e->cond_len == len && memcmp (e->cond, code, len) == 0);
    e = shoal_wf_edge (wf, 1);
    CHECK_STR (e->port, "default");
    CHECK_EQ (e->on, SHOAL_WF_ON_FAIL);
    CHECK (e->cond == NULL && e->cond_text == NULL && e->cond_len == 0);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (wf_document_shape)
{
    CHECK_STR (wf_err ("{'name': 'x',", SHOAL_ERR_INVALID),
               "t.json: line 1, column 13: not JSON: string or '}' expected "
               "near end of file");
    CHECK (strstr (
        wf_err ("{'name': 'x', 'name': 'y', 'nodes': []}", SHOAL_ERR_INVALID),
        "duplicate object key"));
    CHECK_STR (wf_err ("[1]", SHOAL_ERR_INVALID),
               "t.json: must be a JSON object {name, nodes, edges}");
    CHECK_STR (
        wf_err ("{'name': 'x', 'nodes': [], 'egdes': []}", SHOAL_ERR_INVALID),
        "t.json: unknown key \"egdes\"");
    CHECK_STR (wf_err ("{'name': 'x'}", SHOAL_ERR_INVALID),
               "t.json: missing \"nodes\"");
    CHECK_STR (wf_err ("{'name': 'x', 'nodes': {}}", SHOAL_ERR_INVALID),
               "t.json: nodes: must be an array of node objects");
    CHECK_STR (wf_err ("{'name': 'x', 'nodes': []}", SHOAL_ERR_INVALID),
               "t.json: nodes: must hold at least one");
    CHECK_STR (
        wf_err ("{'name': 'x', 'nodes': [" N ("a", "noop") "],"
                                                           " 'edges': 3}",
                SHOAL_ERR_INVALID),
        "t.json: edges: must be an array of edge objects");
    CHECK_STR (wf_err ("{'nodes': [" N ("a", "noop") "]}", SHOAL_ERR_INVALID),
               "t.json: missing \"name\"");
    CHECK_STR (wf_err ("{'name': 'a b', 'nodes': [" N ("a", "noop") "]}",
                       SHOAL_ERR_INVALID),
               "t.json: name: \"a b\" is not a name (1-64 characters of A-Z "
               "a-z 0-9 . _ : -)");
    CHECK_STR (wf_err ("{'name': 5, 'nodes': [" N ("a", "noop") "]}",
                       SHOAL_ERR_INVALID),
               "t.json: name: must be a string");
    CHECK_STR (
        wf_err ("{'name': 'x', 'version': 0, 'nodes': [" N ("a", "noop") "]}",
                SHOAL_ERR_INVALID),
        "t.json: version: must be an integer from 1 to 4294967295");
    CHECK_STR (wf_err ("{'name': 'x', 'max_concurrency': 1.5, 'nodes': [" N (
                           "a", "noop") "]}",
                       SHOAL_ERR_INVALID),
               "t.json: max_concurrency: must be an integer from 1 to 1000000");
    CHECK_STR (wf_err ("{'name': 'x', 'compensation': 'all', 'nodes': [" N (
                           "a", "noop") "]}",
                       SHOAL_ERR_INVALID),
               "t.json: compensation: \"all\" is not run or branch");
    CHECK_STR (wf_err ("{'name': 'x', 'timeout': '0s', 'nodes': [" N (
                           "a", "noop") "]}",
                       SHOAL_ERR_INVALID),
               "t.json: timeout: \"0s\" is out of range (1ms to 366d)");
}

SHOAL_TEST (wf_node_ids)
{
    CHECK_STR (wf_err (WF ("3", ""), SHOAL_ERR_INVALID),
               "t.json: node 0: must be an object");
    CHECK_STR (wf_err (WF ("{'type': 'noop'}", ""), SHOAL_ERR_INVALID),
               "t.json: node 0: missing \"id\"");
    CHECK_STR (wf_err (WF (N ("a", "noop") "," N ("b/c", "noop"), ""),
                       SHOAL_ERR_INVALID),
               "t.json: node 1: id: \"b/c\" is not a name (1-64 characters "
               "of A-Z a-z 0-9 . _ : -)");
    CHECK_STR (wf_err (WF (N ("", "noop"), ""), SHOAL_ERR_INVALID),
               "t.json: node 0: id: \"\" is not a name (1-64 characters of "
               "A-Z a-z 0-9 . _ : -)");
    const char *id65 = "x234567890123456789012345678901234567890123456789012"
                       "3456789012345";
    char text[512];
    snprintf (text, sizeof text, WF ("{'id': '%s', 'type': 'noop'}", ""), id65);
    CHECK (strstr (wf_err (text, SHOAL_ERR_INVALID), "...\" is not a name"));
    CHECK_STR (
        wf_err (
            WF (N ("a", "noop") "," N ("b", "noop") "," N ("a", "echo"), ""),
            SHOAL_ERR_INVALID),
        "t.json: node 2: duplicate id \"a\" (also node 0)");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'tmeout': '1s'}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": unknown key \"tmeout\"");
    CHECK_STR (wf_err (WF ("{'id': 'a'}", ""), SHOAL_ERR_INVALID),
               "t.json: node \"a\": missing \"type\"");
}

SHOAL_TEST (wf_node_types)
{
    static const char *const builtin[] = {"noop", "echo", "sleep", "fail",
                                          "exec"};
    for (size_t i = 0; i < 5; i++) {
        char text[256];
        snprintf (text, sizeof text, WF ("{'id': 'a', 'type': '%s'}", ""),
                  builtin[i]);
        shoal_wf_t *wf = wf_ok (text);
        CHECK (wf != NULL);
        shoal_wf_destroy (&wf);
        CHECK (shoal_wf_builtin_type (builtin[i]));
    }
    CHECK (!shoal_wf_builtin_type ("resize"));
    CHECK_STR (wf_err (WF (N ("a", "resize"), ""), SHOAL_ERR_INVALID),
               "t.json: node \"a\": unknown type \"resize\" (built in: noop, "
               "echo, sleep, fail, exec)");
    static const char *const plugins[] = {"resize", "thumb", NULL};
    char err[SHOAL_WF_ERR_MAX];
    shoal_wf_t *wf = NULL;
    CHECK_OK (wf_try (WF (N ("a", "resize") "," N ("b", "thumb"), E ("a", "b")),
                      plugins, &wf, err));
    shoal_wf_destroy (&wf);
    CHECK_RC (wf_try (WF (N ("a", "crop"), ""), plugins, NULL, err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "t.json: node \"a\": unknown type \"crop\" (built in: "
                    "noop, echo, sleep, fail, exec; or a plugin type given)");
    CHECK_STR (wf_err (WF (N ("a", "no op"), ""), SHOAL_ERR_INVALID),
               "t.json: node \"a\": type: \"no op\" is not a name (1-64 "
               "characters of A-Z a-z 0-9 . _ : -)");
}

SHOAL_TEST (wf_dangling_references)
{
    CHECK_STR (wf_err (WF (N ("a", "noop"), E ("a", "zz")), SHOAL_ERR_INVALID),
               "t.json: edge 0 (a -> zz): to: no node \"zz\"");
    CHECK_STR (wf_err (WF (N ("a", "noop") "," N ("b", "noop"),
                           E ("a", "b") "," E ("q", "b")),
                       SHOAL_ERR_INVALID),
               "t.json: edge 1 (q -> b): from: no node \"q\"");
    CHECK_STR (wf_err (WF (N ("a", "noop"), "{'to': 'a'}"), SHOAL_ERR_INVALID),
               "t.json: edge 0: missing \"from\"");
    CHECK_STR (wf_err (WF (N ("a", "noop"), "{'from': 'a', 'to': 7}"),
                       SHOAL_ERR_INVALID),
               "t.json: edge 0: to: must be a string");
    CHECK_STR (wf_err (WF (N ("a", "noop"), "[]"), SHOAL_ERR_INVALID),
               "t.json: edge 0: must be an object");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'fallback': 'b'}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": fallback: no node \"b\"");
    CHECK_STR (
        wf_err (WF ("{'id': 'a', 'type': 'noop', 'compensate': 'u'}", ""),
                SHOAL_ERR_INVALID),
        "t.json: node \"a\": compensate: no node \"u\"");
}

SHOAL_TEST (wf_handlers)
{
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'fallback': 'a'}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": fallback: a node cannot be its own "
               "fallback");
    CHECK_STR (
        wf_err (WF ("{'id': 'a', 'type': 'noop', 'compensate': 'a'}", ""),
                SHOAL_ERR_INVALID),
        "t.json: node \"a\": compensate: a node cannot be its own "
        "compensation");
    CHECK_STR (
        wf_err (WF ("{'id': 'a', 'type': 'noop', 'fallback': 'f'},"
                    "{'id': 'b', 'type': 'noop', 'compensate': 'u'}," N (
                        "f", "echo") "," N ("u", "echo"),
                    E ("a", "b") "," E ("b", "u")),
                SHOAL_ERR_INVALID),
        "t.json: edge 1 (b -> u): node \"u\" is the compensation node of "
        "\"b\", so it runs only in its place and cannot have edges");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'fallback': 'f'}," N (
                               "f", "echo"),
                           E ("f", "a")),
                       SHOAL_ERR_INVALID),
               "t.json: edge 0 (f -> a): node \"f\" is the fallback node of "
               "\"a\", so it runs only in its place and cannot have edges");
    /* links between handlers must not loop either */
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'fallback': 'f'},"
                           "{'id': 'f', 'type': 'noop', 'fallback': 'g'},"
                           "{'id': 'g', 'type': 'noop', 'compensate': 'f'}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: cycle: f -[fallback]-> g -[compensate]-> f");
    /* a chain of handlers is fine; handlers are never entry nodes */
    shoal_wf_t *wf = wf_ok (WF ("{'id': 'a', 'type': 'noop', 'fallback': 'f',"
                                " 'compensate': 'u'},"
                                "{'id': 'f', 'type': 'noop', 'fallback': 'g'},"
                                "{'id': 'g', 'type': 'echo'}," N ("u", "echo"),
                                ""));
    CHECK_EQ (shoal_wf_entry_count (wf), 1);
    CHECK_EQ (shoal_wf_entry (wf, 0), 0);
    CHECK (shoal_wf_node (wf, 1)->handler && shoal_wf_node (wf, 2)->handler);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (wf_cycles)
{
    CHECK_STR (wf_err (WF (N ("a", "noop"), E ("a", "a")), SHOAL_ERR_INVALID),
               "t.json: cycle: a -> a");
    CHECK_STR (
        wf_err (WF (N ("a", "noop") "," N ("b", "noop") "," N ("c", "noop"),
                    E ("a", "b") "," E ("b", "c") "," E ("c", "a")),
                SHOAL_ERR_INVALID),
        "t.json: cycle: a -> b -> c -> a");
    /* a loop behind an entry node is named from where it closes */
    CHECK_STR (wf_err (WF (N ("s", "noop") "," N ("b", "noop") "," N (
                               "c", "noop") "," N ("d", "noop"),
                           E ("s", "b") "," E ("b", "c") "," E (
                               "c", "d") "," E ("d", "b")),
                       SHOAL_ERR_INVALID),
               "t.json: cycle: b -> c -> d -> b");
    /* a diamond is not a cycle */
    shoal_wf_t *wf = wf_ok (
        WF (N ("a", "noop") "," N ("b", "noop") "," N ("c", "noop") "," N (
                "d", "noop"),
            E ("a", "b") "," E ("a", "c") "," E ("b", "d") "," E ("c", "d")));
    CHECK_EQ (shoal_wf_node (wf, 3)->n_in, 2);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (wf_durations_priorities)
{
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'timeout': '3x'}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": timeout: \"3x\" is not a duration (like "
               "500ms, 30s, 5m, 1h30m)");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'timeout': '50d'}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": timeout: \"50d\" is out of range (1ms to "
               "49d)");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'timeout': 30}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": timeout: must be a string");
    CHECK_STR (wf_err ("{'name': 'x', 'timeout': 'soon', 'nodes': [" N (
                           "a", "noop") "]}",
                       SHOAL_ERR_INVALID),
               "t.json: timeout: \"soon\" is not a duration (like 500ms, 30s, "
               "5m, 1h30m)");
    CHECK_STR (
        wf_err (WF ("{'id': 'a', 'type': 'noop', 'priority': 'urgent'}", ""),
                SHOAL_ERR_INVALID),
        "t.json: node \"a\": priority: \"urgent\" is not critical, high, "
        "normal or low");
    shoal_wf_t *wf = wf_ok (WF ("{'id': 'a', 'type': 'noop', 'priority':"
                                " 'low', 'timeout': '49d'}",
                                ""));
    CHECK_EQ (shoal_wf_node (wf, 0)->priority, SHOAL_PRIO_LOW);
    CHECK_EQ (shoal_wf_node (wf, 0)->timeout_ms, 49ull * 86400000);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (wf_require)
{
    shoal_wf_t *wf = wf_ok (WF ("{'id': 'a', 'type': 'noop', 'require':"
                                " ['gpu', 'zone-a', 'gpu']},"
                                "{'id': 'b', 'type': 'noop', 'require': []}",
                                ""));
    CHECK_STR (shoal_wf_node (wf, 0)->require, "gpu,zone-a");
    CHECK (!shoal_wf_node (wf, 1)->require);
    shoal_wf_destroy (&wf);
    CHECK_STR (
        wf_err (WF ("{'id': 'a', 'type': 'noop', 'require': 'gpu'}", ""),
                SHOAL_ERR_INVALID),
        "t.json: node \"a\": require: must be an array of at most 8 labels");
    CHECK_STR (
        wf_err (WF ("{'id': 'a', 'type': 'noop', 'require': ['a:b']}", ""),
                SHOAL_ERR_INVALID),
        "t.json: node \"a\": require: \"a:b\" is not a label (1-32 "
        "characters of A-Z a-z 0-9 . _ -)");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'require':"
                           " ['a','b','c','d','e','f','g','h','i']}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": require: must be an array of at most 8 "
               "labels");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'require': [3]}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": require: \"(not a string)\" is not a label "
               "(1-32 characters of A-Z a-z 0-9 . _ -)");
}

SHOAL_TEST (wf_retry_policies)
{
    /* the retry parser's own text, after the node and field */
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'retry': 'exp'}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": retry: unknown kind \"exp\" (expected "
               "none, fixed, linear or exponential)");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'retry':"
                           " 'fixed:delay=2x'}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": retry: delay: \"2x\" is not a duration "
               "(like 500ms, 2s, 1.5m)");
    shoal_wf_t *wf =
        wf_ok (WF ("{'id': 'a', 'type': 'noop', 'retry': 'none'}", ""));
    shoal_retry_t p;
    CHECK_OK (shoal_retry_decode (shoal_wf_node (wf, 0)->retry,
                                  shoal_wf_node (wf, 0)->retry_len, &p));
    CHECK_EQ (p.kind, SHOAL_RETRY_NONE);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (wf_rates)
{
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'rate': 'fast'}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": rate: \"fast\" is not a rate (N/UNIT like "
               "100/s, or N/DURATION like 3/10s; at most 1000000/s)");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'burst': 5}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": burst: needs a rate");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'rate': '1/s',"
                           " 'burst': 0}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": burst: must be an integer from 1 to "
               "1000000");
    CHECK_STR (
        wf_err (WF ("{'id': 'a', 'type': 'noop', 'max_concurrent': -1}", ""),
                SHOAL_ERR_INVALID),
        "t.json: node \"a\": max_concurrent: must be an integer from 1 "
        "to 1000000");
    shoal_wf_t *wf =
        wf_ok (WF ("{'id': 'a', 'type': 'noop', 'rate': '3/10s'}", ""));
    CHECK_EQ (shoal_wf_node (wf, 0)->rate_interval_us, 3333333);
    CHECK_EQ (shoal_wf_node (wf, 0)->burst, 1);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (wf_breakers)
{
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'breaker': true}", ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": breaker: must be an object {failure_rate, "
               "min_calls, window, open_for, half_open_successes}");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'breaker':"
                           " {'threshold': 1}}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": breaker: unknown key \"threshold\"");
    static const char *const rates[] = {"0", "0.0", "1.5", "-1", "'half'"};
    for (size_t i = 0; i < 5; i++) {
        char text[256];
        snprintf (text, sizeof text,
                  WF ("{'id': 'a', 'type': 'noop', 'breaker':"
                      " {'failure_rate': %s}}",
                      ""),
                  rates[i]);
        CHECK_STR (wf_err (text, SHOAL_ERR_INVALID),
                   "t.json: node \"a\": breaker: failure_rate: must be a "
                   "number over 0 and at most 1");
    }
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'breaker':"
                           " {'min_calls': 0}}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": breaker: min_calls: must be an integer "
               "from 1 to 1000000");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'breaker':"
                           " {'half_open_successes': 1001}}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": breaker: half_open_successes: must be an "
               "integer from 1 to 1000");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'breaker':"
                           " {'window': '2d'}}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": breaker: window: \"2d\" is out of range "
               "(1ms to 1d)");
    CHECK_STR (wf_err (WF ("{'id': 'a', 'type': 'noop', 'breaker':"
                           " {'open_for': 'x'}}",
                           ""),
                       SHOAL_ERR_INVALID),
               "t.json: node \"a\": breaker: open_for: \"x\" is not a "
               "duration (like 500ms, 30s, 5m, 1h30m)");
    shoal_wf_t *wf = wf_ok (WF ("{'id': 'a', 'type': 'noop', 'breaker':"
                                " {'failure_rate': 1}}",
                                ""));
    CHECK (shoal_wf_node (wf, 0)->breaker.failure_rate == 1.0);
    shoal_wf_destroy (&wf);
}

SHOAL_TEST (wf_conditions)
{
    CHECK_STR (
        wf_err (WF (N ("a", "noop") "," N ("b", "noop"),
                    "{'from': 'a', 'to': 'b', 'if': 'output.x == && 1'}"),
                SHOAL_ERR_INVALID),
        "t.json: edge 0 (a -> b): if: column 13: expected a value "
        "after '=='");
    CHECK_STR (wf_err (WF (N ("a", "noop") "," N ("b", "noop"),
                           "{'from': 'a', 'to': 'b', 'if': true}"),
                       SHOAL_ERR_INVALID),
               "t.json: edge 0 (a -> b): if: must be a string");
    char *big = malloc (SHOAL_EXPR_TEXT_MAX + 200);
    int n = snprintf (big, 200,
                      WF (N ("a", "noop") "," N ("b", "noop"),
                          "{'from': 'a', 'to': 'b', 'if': '"));
    memset (big + n, '1', SHOAL_EXPR_TEXT_MAX + 1);
    strcpy (big + n + SHOAL_EXPR_TEXT_MAX + 1, "'}]}");
    CHECK (strstr (wf_err (big, SHOAL_ERR_TOO_LARGE),
                   "t.json: edge 0 (a -> b): if: the condition is too long"));
    free (big);
}

SHOAL_TEST (wf_edge_fields)
{
    const char *nodes = N ("a", "noop") "," N ("b", "noop");
    char text[512];
    snprintf (text, sizeof text,
              WF ("%s", "{'from': 'a', 'to': 'b', 'on': 'done'}"), nodes);
    CHECK_STR (wf_err (text, SHOAL_ERR_INVALID),
               "t.json: edge 0 (a -> b): on: \"done\" is not complete, fail "
               "or all");
    snprintf (text, sizeof text,
              WF ("%s", "{'from': 'a', 'to': 'b', 'port': 'x y'}"), nodes);
    CHECK_STR (wf_err (text, SHOAL_ERR_INVALID),
               "t.json: edge 0 (a -> b): port: \"x y\" is not a name (1-64 "
               "characters of A-Z a-z 0-9 . _ : -)");
    snprintf (text, sizeof text,
              WF ("%s", "{'from': 'a', 'to': 'b', 'port': 'hi', 'on': 'fail'}"),
              nodes);
    CHECK_STR (wf_err (text, SHOAL_ERR_INVALID),
               "t.json: edge 0 (a -> b): port \"hi\" needs on \"complete\" "
               "(only an output has ports)");
    snprintf (text, sizeof text,
              WF ("%s", "{'from': 'a', 'to': 'b', 'when': 'x'}"), nodes);
    CHECK_STR (wf_err (text, SHOAL_ERR_INVALID),
               "t.json: edge 0 (a -> b): unknown key \"when\"");
    snprintf (text, sizeof text,
              WF ("%s", E ("a", "b") ", {'from': 'a', 'to': 'b', 'if': "
                                     "'output.x'}"),
              nodes);
    CHECK_STR (wf_err (text, SHOAL_ERR_INVALID),
               "t.json: edge 1 (a -> b): repeats edge 0 (same from, to, port "
               "and on)");
    /* the same pair on another trigger or port is another edge */
    snprintf (text, sizeof text,
              WF ("%s", E ("a", "b") ", {'from': 'a', 'to': 'b', 'on': 'fail'},"
                                     "{'from': 'a', 'to': 'b', 'port': 'p'}"),
              nodes);
    shoal_wf_t *wf = wf_ok (text);
    CHECK_EQ (shoal_wf_node (wf, 1)->n_in, 3);
    shoal_wf_destroy (&wf);
    snprintf (text, sizeof text,
              WF ("{'id': 'a', 'type': 'noop', 'join': 'some'}", ""));
    CHECK_STR (wf_err (text, SHOAL_ERR_INVALID),
               "t.json: node \"a\": join: \"some\" is not all or any");
}

SHOAL_TEST (wf_limits)
{
    /* 1001 nodes */
    size_t cap = 64 * 1024;
    char *text = malloc (cap);
    size_t n = (size_t) snprintf (text, cap, "{'name': 'w', 'nodes': [");
    for (int i = 0; i <= SHOAL_WF_NODES_MAX; i++) {
        n += (size_t) snprintf (text + n, cap - n,
                                "%s{'id': 'n%d', 'type': "
                                "'noop'}",
                                i ? "," : "", i);
    }
    snprintf (text + n, cap - n, "]}");
    CHECK_STR (wf_err (text, SHOAL_ERR_TOO_LARGE),
               "t.json: nodes: 1001 nodes, over the limit of 1000");
    free (text);
    /* 10001 edges (their content is not looked at first) */
    cap = 128 * 1024;
    text = malloc (cap);
    n = (size_t) snprintf (text, cap, WF (N ("a", "noop"), ""));
    n -= 2; /* before "]}" */
    for (int i = 0; i <= SHOAL_WF_EDGES_MAX; i++) {
        n += (size_t) snprintf (text + n, cap - n, "%s{}", i ? "," : "");
    }
    snprintf (text + n, cap - n, "]}");
    CHECK_STR (wf_err (text, SHOAL_ERR_TOO_LARGE),
               "t.json: edges: 10001 edges, over the limit of 10000");
    free (text);
    /* a config over 64 KiB */
    cap = 128 * 1024;
    text = malloc (cap);
    n = (size_t) snprintf (text, cap,
                           WF ("{'id': 'a', 'type': 'echo', 'config': '", ""));
    n -= strlen ("], 'edges': []}");
    memset (text + n, 'x', SHOAL_WF_CONFIG_MAX);
    snprintf (text + n + SHOAL_WF_CONFIG_MAX, cap - n - SHOAL_WF_CONFIG_MAX,
              "'}], 'edges': []}");
    CHECK_STR (wf_err (text, SHOAL_ERR_TOO_LARGE),
               "t.json: node \"a\": config: 65541 bytes as msgpack, over the "
               "limit of 65536");
    free (text);
    /* a config nested too deep */
    char deep[512] = "";
    for (int i = 0; i < SHOAL_DEPTH_MAX + 1; i++) {
        strcat (deep, "[");
    }
    strcat (deep, "1");
    for (int i = 0; i < SHOAL_DEPTH_MAX + 1; i++) {
        strcat (deep, "]");
    }
    char doc[1024];
    snprintf (doc, sizeof doc,
              WF ("{'id': 'a', 'type': 'echo', 'config': %s}", ""), deep);
    CHECK_STR (wf_err (doc, SHOAL_ERR_TOO_LARGE),
               "t.json: node \"a\": config: nested deeper than 16 levels");
    /* a long description */
    char *desc = malloc (SHOAL_WF_DESC_MAX + 100);
    n = (size_t) snprintf (desc, 100, "{'description': '");
    memset (desc + n, 'd', SHOAL_WF_DESC_MAX + 1);
    strcpy (desc + n + SHOAL_WF_DESC_MAX + 1,
            "', 'name': 'w', 'nodes': [" N ("a", "noop") "]}");
    CHECK_STR (wf_err (desc, SHOAL_ERR_TOO_LARGE),
               "t.json: description: longer than 1024 bytes");
    free (desc);
}

SHOAL_TEST (wf_error_buffers)
{
    const char *bad = "{'name': 'x', 'nodes': [" N ("a", "exce") "]}";
    char *json = wf_q (bad);
    shoal_wf_t *wf = NULL;
    char small[12];
    CHECK_RC (shoal_wf_parse (json, strlen (json), "t.json", NULL, &wf, small,
                              sizeof small),
              SHOAL_ERR_INVALID);
    CHECK_STR (small, "t.json: nod");
    CHECK (wf == NULL);
    CHECK_RC (
        shoal_wf_parse (json, strlen (json), "t.json", NULL, &wf, NULL, 0),
        SHOAL_ERR_INVALID);
    char err[SHOAL_WF_ERR_MAX];
    CHECK_RC (
        shoal_wf_parse (json, strlen (json), NULL, NULL, &wf, err, sizeof err),
        SHOAL_ERR_INVALID);
    CHECK_STR (err, "node \"a\": unknown type \"exce\" (built in: noop, echo, "
                    "sleep, fail, exec)");
    /* the text need not be NUL-terminated: only len bytes are read */
    const char *good = "{\"name\": \"x\", \"nodes\": [{\"id\": \"a\", "
                       "\"type\": \"noop\"}]}garbage";
    CHECK_OK (shoal_wf_parse (good, strlen (good) - 7, "t.json", NULL, &wf, err,
                              sizeof err));
    shoal_wf_destroy (&wf);
    free (json);
}

SHOAL_TEST (wf_lookups_and_names)
{
    shoal_wf_t *wf =
        wf_ok (WF (N ("m", "noop") "," N ("a", "noop") "," N ("z", "noop"),
                   E ("m", "z") "," E ("a", "z")));
    CHECK_EQ (shoal_wf_find (wf, "m"), 0);
    CHECK_EQ (shoal_wf_find (wf, "a"), 1);
    CHECK_EQ (shoal_wf_find (wf, "z"), 2);
    CHECK_EQ (shoal_wf_find (wf, "q"), -1);
    CHECK_EQ (shoal_wf_find (wf, ""), -1);
    CHECK (shoal_wf_node (wf, 3) == NULL);
    CHECK (shoal_wf_edge (wf, 2) == NULL);
    CHECK (shoal_wf_out (wf, 0, 1) == NULL);
    CHECK (shoal_wf_out (wf, 9, 0) == NULL);
    CHECK_EQ (shoal_wf_out (wf, 1, 0)->index, 1);
    CHECK_EQ (shoal_wf_entry (wf, 2), UINT32_MAX);
    shoal_wf_destroy (&wf);
    CHECK_STR (shoal_wf_trigger_name (SHOAL_WF_ON_ALL), "all");
    CHECK_STR (shoal_wf_trigger_name (3), "?");
    CHECK_STR (shoal_wf_join_name (SHOAL_WF_JOIN_ANY), "any");
    CHECK_STR (shoal_wf_join_name (-1), "?");
    CHECK_STR (shoal_wf_comp_name (SHOAL_WF_COMP_BRANCH), "branch");
    uint8_t v = 9;
    CHECK_OK (shoal_wf_trigger_parse ("fail", 4, &v));
    CHECK_EQ (v, SHOAL_WF_ON_FAIL);
    CHECK_RC (shoal_wf_trigger_parse ("failed", 6, &v), SHOAL_ERR_INVALID);
    CHECK_OK (shoal_wf_join_parse ("any", 3, &v));
    CHECK_EQ (v, SHOAL_WF_JOIN_ANY);
    CHECK_OK (shoal_wf_comp_parse ("run", 3, &v));
    CHECK_EQ (v, SHOAL_WF_COMP_RUN);
    CHECK_RC (shoal_wf_comp_parse ("ru", 2, &v), SHOAL_ERR_INVALID);
}

SHOAL_TEST_MAIN (wf_minimal_defaults, wf_every_field, wf_document_shape,
                 wf_require, wf_node_ids, wf_node_types, wf_dangling_references,
                 wf_handlers, wf_cycles, wf_durations_priorities,
                 wf_retry_policies, wf_rates, wf_breakers, wf_conditions,
                 wf_edge_fields, wf_limits, wf_error_buffers,
                 wf_lookups_and_names)
