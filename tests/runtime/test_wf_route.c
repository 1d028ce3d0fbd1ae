/*  test_wf_route.c - the routing rules, pure (shoal_wf.h "Routing"):
    shoal_wf_fires over the whole truth table of trigger x outcome x port
    x condition (true, false, evaluation error), and shoal_wf_port_of
    over every shape of output. The router actor applies exactly these
    (actors/shoal_router.c); tests/actors/test_breaker.c runs them end to
    end. */
#include "wf_helpers.h"

#include "shoal_expr.h"
#include "shoal_json.h"
#include "shoal_wr.h"

/*  JSON text to msgpack in buf; aborts on bad JSON (a test bug). */
static size_t
s_mp (const char *json, uint8_t *buf, size_t cap)
{
    json_error_t jerr;
    json_t *j = json_loads (json, JSON_DECODE_ANY, &jerr);
    shoal_wr_t *wr = shoal_wr_new ();
    if (!j || !wr || shoal_json_to_mp (j, wr) || shoal_wr_size (wr) > cap) {
        fprintf (stderr, "  bad test JSON %s: %s\n", json, jerr.text);
        abort ();
    }
    size_t n = shoal_wr_size (wr);
    memcpy (buf, shoal_wr_data (wr), n);
    shoal_wr_destroy (&wr);
    json_decref (j);
    return n;
}

/*  An edge as the definition holds it: trigger on, port, condition text
    (NULL: unconditional) compiled into code. */
static shoal_wf_edge_t
s_edge (uint8_t on, const char *port, const char *cond, uint8_t *code,
        size_t cap)
{
    shoal_wf_edge_t e;
    memset (&e, 0, sizeof e);
    e.on = on;
    snprintf (e.port, sizeof e.port, "%s", port);
    if (cond) {
        size_t len = 0;
        char err[SHOAL_EXPR_ERR_MAX];
        if (shoal_expr_compile (cond, code, cap, &len, err, sizeof err)) {
            fprintf (stderr, "  bad test condition %s: %s\n", cond, err);
            abort ();
        }
        e.cond_text = cond;
        e.cond = code;
        e.cond_len = len;
    }
    return e;
}

enum { C_NONE, C_TRUE, C_FALSE, C_ERROR, C__COUNT };
enum { O_SUCCEEDED, O_DEAD, O_CANCELLED, O__COUNT };

SHOAL_TEST (fires_truth_table)
{
    /* the node's output: {"x": 1, "port": <port>}; a truncated map for
       the evaluation error (a path that walks it is an error) */
    uint8_t out[64], bad[] = {0x82, 0xa1, 'x'};
    size_t out_len = s_mp ("{\"x\": 1, \"port\": \"p\"}", out, sizeof out);
    uint8_t in[64];
    size_t in_len = s_mp ("{\"flag\": true}", in, sizeof in);
    /* true on out; false on out; and "output.x != 1", which would be
       true were an unreadable document taken as absent (null != 1) */
    static const char *const conds[C__COUNT] = {
        NULL, "output.x == 1 && input.flag", "output.x == 2", "output.x != 1"};
    int fired = 0, rows = 0;
    for (uint8_t on = 0; on < SHOAL_WF_ON__COUNT; on++) {
        for (int o = 0; o < O__COUNT; o++) {
            for (int pm = 0; pm < 2; pm++) {
                for (int c = 0; c < C__COUNT; c++) {
                    uint8_t code[SHOAL_EXPR_CODE_MAX];
                    /* only complete edges have ports (the parser refuses
                       others): fail and all edges are on "default", and
                       must ignore the node's port */
                    const char *eport =
                        on == SHOAL_WF_ON_COMPLETE ? "p" : "default";
                    shoal_wf_edge_t e =
                        s_edge (on, eport, conds[c], code, sizeof code);
                    bool ok = o == O_SUCCEEDED, dead = o == O_DEAD;
                    const char *port = pm ? "p" : "q";
                    const uint8_t *doc = c == C_ERROR ? bad : out;
                    size_t doc_len = c == C_ERROR ? sizeof bad : out_len;
                    bool got = shoal_wf_fires (&e, ok, dead, port, doc, doc_len,
                                               in, in_len);
                    bool trigger = on == SHOAL_WF_ON_COMPLETE ? ok
                                   : on == SHOAL_WF_ON_FAIL   ? dead
                                                              : ok || dead;
                    bool port_ok = on != SHOAL_WF_ON_COMPLETE || pm;
                    bool cond_ok = c == C_NONE || c == C_TRUE;
                    bool want = trigger && port_ok && cond_ok;
                    if (got != want) {
                        SHOAL_FAIL_ ("on %s, outcome %d, port %s, cond %d: "
                                     "fires %d, want %d",
                                     shoal_wf_trigger_name (on), o, port, c,
                                     got, want);
                    }
                    fired += got;
                    rows++;
                }
            }
        }
    }
    CHECK_EQ (rows, 3 * 3 * 2 * 4);
    /* complete: succeeded, matching port, no/true cond = 2; fail: dead,
       either port, 2 conds = 4; all: succeeded or dead, either port, 2
       conds = 8 */
    CHECK_EQ (fired, 2 + 4 + 8);
}

SHOAL_TEST (fires_named_rows)
{
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    shoal_wf_edge_t e;
    /* the default port: an output without one, on a plain edge */
    e = s_edge (SHOAL_WF_ON_COMPLETE, "default", NULL, code, sizeof code);
    CHECK (shoal_wf_fires (&e, true, false, "default", NULL, 0, NULL, 0));
    CHECK (!shoal_wf_fires (&e, true, false, "p", NULL, 0, NULL, 0));
    CHECK (!shoal_wf_fires (&e, false, true, "default", NULL, 0, NULL, 0));
    CHECK (!shoal_wf_fires (&e, false, false, "default", NULL, 0, NULL, 0));
    /* a cancelled (or skipped) source fires no trigger at all */
    for (uint8_t on = 0; on < SHOAL_WF_ON__COUNT; on++) {
        e = s_edge (on, "default", NULL, code, sizeof code);
        CHECK (!shoal_wf_fires (&e, false, false, "default", NULL, 0, NULL, 0));
    }
    /* ports compare whole names, case and all */
    e = s_edge (SHOAL_WF_ON_COMPLETE, "Big", NULL, code, sizeof code);
    CHECK (shoal_wf_fires (&e, true, false, "Big", NULL, 0, NULL, 0));
    CHECK (!shoal_wf_fires (&e, true, false, "big", NULL, 0, NULL, 0));
    CHECK (!shoal_wf_fires (&e, true, false, "Bigger", NULL, 0, NULL, 0));
    CHECK (!shoal_wf_fires (&e, true, false, "Bi", NULL, 0, NULL, 0));
    /* no output at all: a path is null, not an error */
    e = s_edge (SHOAL_WF_ON_ALL, "default", "output == null", code,
                sizeof code);
    CHECK (shoal_wf_fires (&e, false, true, "default", NULL, 0, NULL, 0));
    e = s_edge (SHOAL_WF_ON_ALL, "default", "output.a.b", code, sizeof code);
    CHECK (!shoal_wf_fires (&e, true, false, "default", NULL, 0, NULL, 0));
    /* a path through a non-container is null too (no error) */
    uint8_t doc[64], in[64];
    size_t doc_len = s_mp ("{\"a\": 5}", doc, sizeof doc);
    e = s_edge (SHOAL_WF_ON_COMPLETE, "default", "output.a.b == null", code,
                sizeof code);
    CHECK (shoal_wf_fires (&e, true, false, "default", doc, doc_len, NULL, 0));
    /* comparing different types is false, not an error: its negation
       fires */
    e = s_edge (SHOAL_WF_ON_COMPLETE, "default", "!(output.a < \"x\")", code,
                sizeof code);
    CHECK (shoal_wf_fires (&e, true, false, "default", doc, doc_len, NULL, 0));
    /* the run's input is the second document */
    size_t in_len = s_mp ("{\"dry\": true}", in, sizeof in);
    e = s_edge (SHOAL_WF_ON_FAIL, "default", "input.dry", code, sizeof code);
    CHECK (
        shoal_wf_fires (&e, false, true, "default", doc, doc_len, in, in_len));
    CHECK (!shoal_wf_fires (&e, false, true, "default", doc, doc_len, NULL, 0));
    /* an unreadable input the condition reads: the edge does not fire,
       even where absent would make it true */
    uint8_t bad[] = {0x81, 0xa3, 'd', 'r', 'y'};
    e = s_edge (SHOAL_WF_ON_FAIL, "default", "input.dry != true", code,
                sizeof code);
    CHECK (shoal_wf_fires (&e, false, true, "default", doc, doc_len, NULL, 0));
    CHECK (!shoal_wf_fires (&e, false, true, "default", doc, doc_len, bad, 5));
    /* an unreadable output the condition never walks is not noticed */
    e = s_edge (SHOAL_WF_ON_COMPLETE, "default", "input.dry", code,
                sizeof code);
    CHECK (shoal_wf_fires (&e, true, false, "default", bad, 5, in, in_len));
    /* a malformed program (stored by someone else): does not fire */
    e = s_edge (SHOAL_WF_ON_COMPLETE, "default", "true", code, sizeof code);
    CHECK (shoal_wf_fires (&e, true, false, "default", NULL, 0, NULL, 0));
    code[0] = 0xee; /* an unknown format version */
    CHECK (!shoal_wf_fires (&e, true, false, "default", NULL, 0, NULL, 0));
}

SHOAL_TEST (fires_on_parsed_edges)
{
    /* the same rules on edges as the parser makes them */
    shoal_wf_t *wf = wf_ok (
        WF ("{'id': 'a', 'type': 'echo'}, {'id': 'b', 'type': 'noop'},"
            "{'id': 'c', 'type': 'noop'}, {'id': 'd', 'type': 'noop'},"
            "{'id': 'e', 'type': 'noop'}",
            "{'from': 'a', 'to': 'b'},"
            "{'from': 'a', 'to': 'c', 'port': 'big', 'if': 'output.n > 10'},"
            "{'from': 'a', 'to': 'd', 'on': 'fail'},"
            "{'from': 'a', 'to': 'e', 'on': 'all', 'if': 'input.always'}"));
    uint8_t big[64], small[64], in[64];
    size_t big_len = s_mp ("{\"port\": \"big\", \"n\": 11}", big, sizeof big);
    size_t small_len =
        s_mp ("{\"port\": \"big\", \"n\": 10}", small, sizeof small);
    size_t in_len = s_mp ("{\"always\": 1}", in, sizeof in);
    char port[SHOAL_NAME_MAX + 1];
    shoal_wf_port_of (big, big_len, port, sizeof port);
    CHECK_STR (port, "big");
    const shoal_wf_edge_t *ab = shoal_wf_out (wf, 0, 0),
                          *ac = shoal_wf_out (wf, 0, 1),
                          *ad = shoal_wf_out (wf, 0, 2),
                          *ae = shoal_wf_out (wf, 0, 3);
    CHECK (ab && ac && ad && ae);
    /* succeeded on port big with n 11: a -> c and a -> e only */
    CHECK (!shoal_wf_fires (ab, true, false, port, big, big_len, in, in_len));
    CHECK (shoal_wf_fires (ac, true, false, port, big, big_len, in, in_len));
    CHECK (!shoal_wf_fires (ad, true, false, port, big, big_len, in, in_len));
    CHECK (shoal_wf_fires (ae, true, false, port, big, big_len, in, in_len));
    /* n 10: the condition fails, nothing on the big port fires */
    CHECK (
        !shoal_wf_fires (ac, true, false, port, small, small_len, in, in_len));
    /* dead: a -> d and a -> e; without the input a -> e does not */
    CHECK (shoal_wf_fires (ad, false, true, "default", NULL, 0, in, in_len));
    CHECK (shoal_wf_fires (ae, false, true, "default", NULL, 0, in, in_len));
    CHECK (!shoal_wf_fires (ae, false, true, "default", NULL, 0, NULL, 0));
    CHECK (!shoal_wf_fires (ab, false, true, "default", NULL, 0, in, in_len));
    shoal_wf_destroy (&wf);
}

/*  The port of the output written as JSON (NULL: no output). */
static const char *
s_port (const char *json)
{
    static char port[SHOAL_NAME_MAX + 1];
    uint8_t buf[512];
    size_t len = json ? s_mp (json, buf, sizeof buf) : 0;
    memset (port, 'Z', sizeof port);
    shoal_wf_port_of (json ? buf : NULL, len, port, sizeof port);
    return port;
}

SHOAL_TEST (port_of_every_shape)
{
    CHECK_STR (s_port (NULL), "default");
    CHECK_STR (s_port ("null"), "default");
    CHECK_STR (s_port ("\"port\""), "default");
    CHECK_STR (s_port ("7"), "default");
    CHECK_STR (s_port ("[\"port\", \"x\"]"), "default");
    CHECK_STR (s_port ("{}"), "default");
    CHECK_STR (s_port ("{\"Port\": \"x\"}"), "default");
    CHECK_STR (s_port ("{\"port\": \"\"}"), "default");
    CHECK_STR (s_port ("{\"port\": 5}"), "default");
    CHECK_STR (s_port ("{\"port\": true}"), "default");
    CHECK_STR (s_port ("{\"port\": null}"), "default");
    CHECK_STR (s_port ("{\"port\": [\"x\"]}"), "default");
    CHECK_STR (s_port ("{\"port\": {\"name\": \"x\"}}"), "default");
    CHECK_STR (s_port ("{\"port\": \"x\"}"), "x");
    CHECK_STR (s_port ("{\"a\": {\"port\": \"inner\"}, \"port\": \"outer\"}"),
               "outer");
    CHECK_STR (s_port ("{\"a\": {\"port\": \"inner\"}}"), "default");
    /* not checked as a name: matches no edge, as no edge has it */
    CHECK_STR (s_port ("{\"port\": \"a b\"}"), "a b");
    /* the longest a name can be (64) is kept whole */
    const char *p64 = "p234567890123456789012345678901234567890123456789012"
                      "345678901234";
    char json[256];
    snprintf (json, sizeof json, "{\"port\": \"%s\"}", p64);
    CHECK_EQ (strlen (p64), SHOAL_NAME_MAX);
    CHECK_STR (s_port (json), p64);
    /* a truncated document */
    uint8_t bad[] = {0x81, 0xa4, 'p', 'o', 'r', 't', 0xa3, 'x'};
    char port[16];
    shoal_wf_port_of (bad, sizeof bad, port, sizeof port);
    CHECK_STR (port, "default");
    /* a small buffer holds a truncated "default", still NUL-terminated */
    char tiny[4];
    shoal_wf_port_of (NULL, 0, tiny, sizeof tiny);
    CHECK_STR (tiny, "def");
}

SHOAL_TEST (port_of_too_long)
{
    /* A port longer than any name (65+ bytes, or past the caller's
       buffer) cannot be an edge's port, so no complete edge can match
       it: in particular not the "default" edges. */
    char json[256], p65[SHOAL_NAME_MAX + 2];
    memset (p65, 'q', SHOAL_NAME_MAX + 1);
    p65[SHOAL_NAME_MAX + 1] = '\0';
    snprintf (json, sizeof json, "{\"port\": \"%s\"}", p65);
    const char *port = s_port (json);
    CHECK (strcmp (port, "default") != 0);
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    shoal_wf_edge_t e =
        s_edge (SHOAL_WF_ON_COMPLETE, "default", NULL, code, sizeof code);
    CHECK (!shoal_wf_fires (&e, true, false, port, NULL, 0, NULL, 0));
    /* a port with a NUL byte in it ("x\0y" is no name either) */
    uint8_t nul[] = {0x81, 0xa4, 'p', 'o', 'r', 't', 0xa3, 'x', 0, 'y'};
    char p2[16];
    shoal_wf_port_of (nul, sizeof nul, p2, sizeof p2);
    CHECK (strcmp (p2, "default") != 0 && strcmp (p2, "x") != 0);
    CHECK (!shoal_wf_fires (&e, true, false, p2, NULL, 0, NULL, 0));
    /* the same through a buffer smaller than the port */
    uint8_t out[64];
    size_t len = s_mp ("{\"port\": \"longer\"}", out, sizeof out);
    char small[4];
    shoal_wf_port_of (out, len, small, sizeof small);
    CHECK (strcmp (small, "def") != 0);
}

SHOAL_TEST_MAIN (fires_truth_table, fires_named_rows, fires_on_parsed_edges,
                 port_of_every_shape, port_of_too_long)
