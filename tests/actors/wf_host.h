/*  wf_host.h - workflow runs on the in-process host (host.h): define and
    run workflows through control as the CLI does, read run views, and
    play the only executor with full control of every node job's answer
    (its output or error), seeing each RUN's type and payload. Nothing
    sleeps: every wait is bounded (10 s) and pokes the store. */
#ifndef SHOAL_TEST_WF_HOST_H_INCLUDED
#define SHOAL_TEST_WF_HOST_H_INCLUDED

#include "host.h"
#include "shoal_job.h"
#include "shoal_json.h"
#include "shoal_test.h"
#include "shoal_wf.h"

#define WH_EXEC "fake"

/*  JSON text as msgpack in a new writer (the caller destroys it); aborts
    on bad JSON (a test bug). */
static inline shoal_wr_t *
wh_mp (const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads (json, JSON_DECODE_ANY, &jerr);
    shoal_wr_t *wr = shoal_wr_new ();
    if (!j || !wr || shoal_json_to_mp (j, wr)) {
        fprintf (stderr, "  bad test JSON %s: %s\n", json, jerr.text);
        abort ();
    }
    json_decref (j);
    return wr;
}

/*  Whether the msgpack value data/len (NULL: none) is the JSON value json
    (NULL: none), compared as JSON (key order aside). */
static inline bool
wh_mp_is (const uint8_t *data, size_t len, const char *json)
{
    if (!data || !json) {
        if (data || json) {
            fprintf (stderr, "  value %s, want %s\n", data ? "present" : "none",
                     json ? json : "none");
        }
        return !data && !json;
    }
    shoal_limits_t lim = shoal_limits_default ();
    json_t *got = shoal_mp_to_json (data, len, &lim, NULL);
    json_t *want = json_loads (json, JSON_DECODE_ANY, NULL);
    bool same = got && want && json_equal (got, want);
    if (!same) {
        char *g = got ? json_dumps (got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        fprintf (stderr, "  value %s, want %s\n", g ? g : "?", json);
        free (g);
    }
    json_decref (got);
    json_decref (want);
    return same;
}

/*  Defines the workflow written as JSON; true when stored. */
static inline bool
wh_define (host_t *h, const char *json)
{
    shoal_wf_t *wf = NULL;
    char err[SHOAL_WF_ERR_MAX];
    if (shoal_wf_parse (json, strlen (json), "test", NULL, &wf, err,
                        sizeof err)) {
        fprintf (stderr, "  %s\n", err);
        return false;
    }
    shoal_wr_t *enc = shoal_wr_new ();
    shoal_wf_encode (wf, enc);
    shoal_wf_destroy (&wf);
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_WORKFLOW, &id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", "define");
    shoal_wr_kv_bin (w, "def", shoal_wr_data (enc),
                     (uint32_t) shoal_wr_size (enc));
    shoal_wr_destroy (&enc);
    return host_call_type (h, &id) == SHOAL_M_OK;
}

/*  Starts a run of name with input (JSON, NULL: none); its id into run. */
static inline bool
wh_run (host_t *h, const char *name, const char *input, char run[SHOAL_ID_TEXT])
{
    shoal_wr_t *in_mp = input ? wh_mp (input) : NULL;
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_WORKFLOW, &id);
    shoal_wr_map (w, 2 + (input != NULL));
    shoal_wr_kv_str (w, "op", "run");
    shoal_wr_kv_str (w, "name", name);
    if (in_mp) {
        shoal_wr_kv_raw (w, "input", shoal_wr_data (in_mp),
                         shoal_wr_size (in_mp));
        shoal_wr_destroy (&in_mp);
    }
    shoal_in_t in;
    if (!host_call (h, &id, &in)) {
        return false;
    }
    bool ok = in.hdr.type == SHOAL_M_OK &&
              shoal_map_strcpy (in.body, in.body_len, "id", run,
                                SHOAL_ID_TEXT) == SHOAL_OK;
    shoal_in_close (&in);
    return ok;
}

/*  A run's view (WORKFLOW show): the reply, and its "run" map. */
typedef struct {
    shoal_in_t in;
    const uint8_t *run;
    size_t run_len;
} wh_view_t;

static inline bool
wh_view (host_t *h, const char *run, wh_view_t *v)
{
    memset (v, 0, sizeof *v);
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_WORKFLOW, &id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", "show");
    shoal_wr_kv_str (w, "id", run);
    if (!host_call (h, &id, &v->in)) {
        return false;
    }
    shoal_mp_val_t val;
    if (v->in.hdr.type != SHOAL_M_OK ||
        shoal_map_find (v->in.body, v->in.body_len, "run", &val, &v->run,
                        &v->run_len) != SHOAL_OK) {
        shoal_in_close (&v->in);
        return false;
    }
    return true;
}

static inline void
wh_view_close (wh_view_t *v)
{
    shoal_in_close (&v->in);
}

/*  Element i of the view's array key ("nodes", "edges"). */
static inline bool
wh_elem (const wh_view_t *v, const char *key, int i, const uint8_t **map,
         size_t *len)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (v->run, v->run_len, key, &rd, &n) != SHOAL_OK ||
        i < 0 || (uint32_t) i >= n) {
        return false;
    }
    for (int k = 0; k <= i; k++) {
        const uint8_t *p = rd.p;
        if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
            return false;
        }
        if (k == i) {
            *map = p;
            *len = (size_t) (rd.p - p);
        }
    }
    return true;
}

/*  A string field of node i ("state", "job", "error", "port"); "" and
    false when absent. */
static inline bool
wh_node_str (const wh_view_t *v, int i, const char *field, char *out,
             size_t cap)
{
    const uint8_t *m = NULL;
    size_t len = 0;
    out[0] = '\0';
    return wh_elem (v, "nodes", i, &m, &len) &&
           shoal_map_strcpy (m, len, field, out, cap) == SHOAL_OK;
}

/*  Whether node i's output is json (NULL: it has none). */
static inline bool
wh_node_output_is (const wh_view_t *v, int i, const char *json)
{
    const uint8_t *m = NULL, *raw = NULL;
    size_t len = 0, raw_len = 0;
    shoal_mp_val_t val;
    if (!wh_elem (v, "nodes", i, &m, &len)) {
        return false;
    }
    if (shoal_map_find (m, len, "output", &val, &raw, &raw_len) != SHOAL_OK) {
        raw = NULL;
    }
    return wh_mp_is (raw, raw_len, json);
}

/*  Edge k (file order): 1 fired, 0 decided not to, -1 not decided yet. */
static inline int
wh_edge_fired (const wh_view_t *v, int k)
{
    const uint8_t *m = NULL;
    size_t len = 0;
    bool fired = false;
    if (!wh_elem (v, "edges", k, &m, &len) ||
        shoal_map_bool (m, len, "fired", &fired) != SHOAL_OK) {
        return -1;
    }
    return fired;
}

/*  One-shot readers: a run field ("state", "error"), a node's field. */
static inline bool
wh_run_is (host_t *h, const char *run, const char *field, const char *want)
{
    wh_view_t v;
    char got[256] = "";
    if (!wh_view (h, run, &v)) {
        return false;
    }
    shoal_map_strcpy (v.run, v.run_len, field, got, sizeof got);
    wh_view_close (&v);
    return streq (got, want);
}

static inline bool
wh_node_field (host_t *h, const char *run, int i, const char *field, char *out,
               size_t cap)
{
    wh_view_t v;
    out[0] = '\0';
    if (!wh_view (h, run, &v)) {
        return false;
    }
    bool ok = wh_node_str (&v, i, field, out, cap);
    wh_view_close (&v);
    return ok;
}

static inline bool
wh_node_is (host_t *h, const char *run, int i, const char *want)
{
    char got[64];
    return wh_node_field (h, run, i, "state", got, sizeof got) &&
           streq (got, want);
}

/*  Polls (with pokes) until the run's state is want. */
static inline bool
wh_await_run (host_t *h, const char *run, const char *want)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        if (wh_run_is (h, run, "state", want)) {
            return true;
        }
        host_poke (h);
    }
    char got[64] = "?";
    wh_view_t v;
    if (wh_view (h, run, &v)) {
        shoal_map_strcpy (v.run, v.run_len, "state", got, sizeof got);
        wh_view_close (&v);
    }
    fprintf (stderr, "  run %s is %s, want %s\n", run, got, want);
    return false;
}

/*  Polls (with pokes) until edge k is decided; its fired bit, or -1. */
static inline int
wh_await_edge (host_t *h, const char *run, int k)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        wh_view_t v;
        if (wh_view (h, run, &v)) {
            int f = wh_edge_fired (&v, k);
            wh_view_close (&v);
            if (f >= 0) {
                return f;
            }
        }
        host_poke (h);
    }
    return -1;
}

/*  --------------------------------------------------------------------
    The executor: one RUN at a time, answered as the test says. */

typedef struct {
    shoal_id_t id;
    uint64_t epoch;
    char type[SHOAL_NAME_MAX + 1];
    uint8_t *pl; /* the payload (owned copy), NULL when none */
    size_t pl_len;
} wh_job_t;

static inline void
wh_job_clear (wh_job_t *j)
{
    free (j->pl);
    memset (j, 0, sizeof *j);
}

/*  Waits (10 s at most) for the next RUN; other messages are dropped. */
static inline bool
wh_next (shoal_port_t *x, wh_job_t *j)
{
    memset (j, 0, sizeof *j);
    shoal_in_t in;
    while (host_recv (x, NULL, &in)) {
        if (in.hdr.type != SHOAL_M_RUN) {
            shoal_in_close (&in);
            continue;
        }
        const uint8_t *idp, *raw;
        uint32_t len;
        size_t raw_len;
        shoal_mp_val_t val;
        bool ok =
            shoal_map_bin (in.body, in.body_len, "id", &idp, &len) ==
                SHOAL_OK &&
            len == 16 &&
            shoal_map_uint (in.body, in.body_len, "e", &j->epoch) == SHOAL_OK &&
            shoal_map_strcpy (in.body, in.body_len, "t", j->type,
                              sizeof j->type) == SHOAL_OK;
        if (ok) {
            memcpy (j->id.b, idp, 16);
        }
        if (ok && shoal_map_find (in.body, in.body_len, "pl", &val, &raw,
                                  &raw_len) == SHOAL_OK) {
            j->pl = malloc (raw_len);
            if (j->pl) {
                memcpy (j->pl, raw, raw_len);
                j->pl_len = raw_len;
            }
            ok = j->pl != NULL;
        }
        shoal_in_close (&in);
        return ok;
    }
    fprintf (stderr, "  no RUN came\n");
    return false;
}

/*  Answers j: success with output (JSON, NULL: none), or failure with
    error. */
static inline bool
wh_answer (shoal_port_t *x, const wh_job_t *j, bool ok, const char *output,
           const char *error)
{
    shoal_wr_t *out = ok && output ? wh_mp (output) : NULL;
    shoal_wr_t *w = shoal_port_begin (x, SHOAL_M_RESULT, "store", NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, 1);
    shoal_wr_map (w, 3 + (out != NULL) + (!ok && error));
    shoal_wr_kv_bin (w, "id", j->id.b, 16);
    shoal_wr_kv_uint (w, "e", j->epoch);
    shoal_wr_kv_bool (w, "ok", ok);
    if (out) {
        shoal_wr_kv_raw (w, "r", shoal_wr_data (out), shoal_wr_size (out));
        shoal_wr_destroy (&out);
    }
    if (!ok && error) {
        shoal_wr_kv_str (w, "er", error);
    }
    return shoal_port_send (x) == SHOAL_OK;
}

/*  Whether j is the job whose id is text. */
static inline bool
wh_is_job (const wh_job_t *j, const char *text)
{
    char t[SHOAL_ID_TEXT];
    shoal_id_format (&j->id, t);
    return streq (t, text);
}

#endif
