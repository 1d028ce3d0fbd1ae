/*  shoal_wf_codec.c - a workflow definition as msgpack, both ways.

    The encoding is one map with short keys; fields at their default are
    left out, unknown keys are skipped on the way in, so fields can be
    added without a new format version ("fv" changes only when old code
    could not read the new form safely):
        {fv: 1, n: name, d?: description, v: version,
         mc?: max_concurrency, to?: timeout_us, cs?: compensation,
         nodes: [{id, t: type, c?: config (any value), to?: timeout_ms,
                  p?: priority, rp?: retry map, mx?: max_concurrent,
                  ri?: rate_interval_us, rb?: burst,
                  br?: [failure_rate, min_calls, window_us, open_us,
                        half_open_successes],
                  fb?: fallback index, cp?: compensate index, j?: join,
                  rq?: required labels (a comma list)}],
         edges: [{f: from index, t: to index, pt?: port, on?: trigger,
                  if?: condition text, ic?: compiled condition (bin)}]}
    Nodes are referred to by index, so decoding needs no id lookups.

    The decoder trusts nothing: the whole value is validated against
    limits first (shoal_mp_validate), then every field is checked as the
    JSON parser would, condition code with shoal_expr_check, and the
    graph rules run again (shoal_wf_link_). It never recompiles.
*/
#include "shoal_wf_int.h"

#include "shoal_duration.h"
#include "shoal_expr.h"
#include "shoal_gcra.h"
#include "shoal_job.h"
#include "shoal_retry.h"
#include "../protocol/shoal_mp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Containers inside the definition: root, nodes, node, config. */
#define S_DEPTH (SHOAL_DEPTH_MAX + 3)

static uint32_t
s_count (bool a, bool b, bool c, bool d)
{
    return (uint32_t) a + (uint32_t) b + (uint32_t) c + (uint32_t) d;
}

static void
s_encode_node (const shoal_wf_node_t *n, shoal_wr_t *wr)
{
    uint32_t pairs = 2 +
                     s_count (n->config, n->timeout_ms,
                              n->priority != SHOAL_PRIO_NORMAL, n->retry) +
                     s_count (n->max_concurrent, n->rate_interval_us,
                              n->rate_interval_us, n->has_breaker) +
                     s_count (n->fallback >= 0, n->compensate >= 0, n->join,
                              n->require != NULL);
    shoal_wr_map (wr, pairs);
    shoal_wr_kv_str (wr, "id", n->id);
    shoal_wr_kv_str (wr, "t", n->type);
    if (n->config) {
        shoal_wr_kv_raw (wr, "c", n->config, n->config_len);
    }
    if (n->timeout_ms) {
        shoal_wr_kv_uint (wr, "to", n->timeout_ms);
    }
    if (n->priority != SHOAL_PRIO_NORMAL) {
        shoal_wr_kv_uint (wr, "p", n->priority);
    }
    if (n->retry) {
        shoal_wr_kv_raw (wr, "rp", n->retry, n->retry_len);
    }
    if (n->max_concurrent) {
        shoal_wr_kv_uint (wr, "mx", n->max_concurrent);
    }
    if (n->rate_interval_us) {
        shoal_wr_kv_uint (wr, "ri", n->rate_interval_us);
        shoal_wr_kv_uint (wr, "rb", n->burst);
    }
    if (n->has_breaker) {
        shoal_wr_str (wr, "br");
        shoal_wr_array (wr, 5);
        shoal_wr_double (wr, n->breaker.failure_rate);
        shoal_wr_uint (wr, n->breaker.min_calls);
        shoal_wr_uint (wr, n->breaker.window_us);
        shoal_wr_uint (wr, n->breaker.open_us);
        shoal_wr_uint (wr, n->breaker.half_open_successes);
    }
    if (n->fallback >= 0) {
        shoal_wr_kv_uint (wr, "fb", (uint64_t) n->fallback);
    }
    if (n->compensate >= 0) {
        shoal_wr_kv_uint (wr, "cp", (uint64_t) n->compensate);
    }
    if (n->join) {
        shoal_wr_kv_uint (wr, "j", n->join);
    }
    if (n->require) {
        shoal_wr_kv_str (wr, "rq", n->require);
    }
}

static void
s_encode_edge (const shoal_wf_edge_t *e, shoal_wr_t *wr)
{
    bool port = strcmp (e->port, "default") != 0;
    shoal_wr_map (wr, 2 + s_count (port, e->on, e->cond, e->cond));
    shoal_wr_kv_uint (wr, "f", e->from);
    shoal_wr_kv_uint (wr, "t", e->to);
    if (port) {
        shoal_wr_kv_str (wr, "pt", e->port);
    }
    if (e->on) {
        shoal_wr_kv_uint (wr, "on", e->on);
    }
    if (e->cond) {
        shoal_wr_kv_str (wr, "if", e->cond_text);
        shoal_wr_kv_bin (wr, "ic", e->cond, e->cond_len);
    }
}

void
shoal_wf_encode (const shoal_wf_t *self, shoal_wr_t *wr)
{
    shoal_wr_map (wr, 5 + s_count (self->description, self->max_concurrency,
                                   self->timeout_us, self->compensation));
    shoal_wr_kv_uint (wr, "fv", SHOAL_WF_FORMAT);
    shoal_wr_kv_str (wr, "n", self->name);
    if (self->description) {
        shoal_wr_kv_str (wr, "d", self->description);
    }
    shoal_wr_kv_uint (wr, "v", self->version);
    if (self->max_concurrency) {
        shoal_wr_kv_uint (wr, "mc", self->max_concurrency);
    }
    if (self->timeout_us) {
        shoal_wr_kv_uint (wr, "to", self->timeout_us);
    }
    if (self->compensation) {
        shoal_wr_kv_uint (wr, "cs", self->compensation);
    }
    shoal_wr_str (wr, "nodes");
    shoal_wr_array (wr, self->n_nodes);
    for (uint32_t i = 0; i < self->n_nodes; i++) {
        s_encode_node (&self->nodes[i], wr);
    }
    shoal_wr_str (wr, "edges");
    shoal_wr_array (wr, self->n_edges);
    for (uint32_t i = 0; i < self->n_edges; i++) {
        s_encode_edge (&self->edges[i], wr);
    }
}

/*  ---------------------------------------------------------------------
    Decoding */

typedef struct {
    char *err;
    size_t cap;
    const char *const *types;
    shoal_wf_t *wf;
    char where[48]; /* "node 3: ", "edge 7: " or "" */
} s_dec_t;

__attribute__ ((format (printf, 3, 4))) static shoal_err_t
s_bad (s_dec_t *d, shoal_err_t rc, const char *fmt, ...)
{
    char msg[SHOAL_WF_ERR_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    return shoal_wf_fail_ (d->err, d->cap, NULL, rc, "%s%s", d->where, msg);
}

/*  Reads a map key into a NUL-terminated buffer (keys here are short;
    a longer one is unknown and skipped like any other). */
static shoal_err_t
s_key (s_dec_t *d, shoal_rd_t *rd, char *key, size_t cap)
{
    const char *s;
    uint32_t len;
    if (shoal_rd_str (rd, &s, &len)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "a map key is not a string");
    }
    if (len >= cap) {
        len = 0; /* no known key is empty */
    }
    memcpy (key, s, len);
    key[len] = '\0';
    return SHOAL_OK;
}

/*  Marks key number bit as seen; MALFORMED when it was already. */
static shoal_err_t
s_once (s_dec_t *d, uint32_t *seen, int bit, const char *key)
{
    if (*seen & (1u << bit)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "key \"%s\" repeated", key);
    }
    *seen |= 1u << bit;
    return SHOAL_OK;
}

static shoal_err_t
s_uint (s_dec_t *d, shoal_rd_t *rd, const char *key, uint64_t max,
        uint64_t *out)
{
    if (shoal_rd_uint (rd, out)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "%s: not an unsigned integer",
                      key);
    }
    if (*out > max) {
        return s_bad (d, SHOAL_ERR_INVALID, "%s: %llu is over %llu", key,
                      (unsigned long long) *out, (unsigned long long) max);
    }
    return SHOAL_OK;
}

/*  A name (shoal_name_valid) into buf. */
static shoal_err_t
s_name (s_dec_t *d, shoal_rd_t *rd, const char *key, char *buf)
{
    const char *s;
    uint32_t len;
    if (shoal_rd_str (rd, &s, &len)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "%s: not a string", key);
    }
    if (!shoal_name_valid (s, len)) {
        return s_bad (d, SHOAL_ERR_INVALID, "%s: not a valid name", key);
    }
    memcpy (buf, s, len);
    buf[len] = '\0';
    return SHOAL_OK;
}

/*  The raw bytes of the next value (validated already). */
static shoal_err_t
s_raw (s_dec_t *d, shoal_rd_t *rd, const char *key, const uint8_t **p,
       size_t *len)
{
    const uint8_t *start = rd->p;
    if (shoal_rd_skip (rd, S_DEPTH)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "%s: truncated", key);
    }
    *p = start;
    *len = (size_t) (rd->p - start);
    return SHOAL_OK;
}

static shoal_err_t
s_copy (s_dec_t *d, const uint8_t *p, size_t len, const uint8_t **out)
{
    uint8_t *copy = malloc (len ? len : 1);
    if (!copy) {
        return s_bad (d, SHOAL_ERR_NOMEM, "out of memory");
    }
    memcpy (copy, p, len);
    *out = copy;
    return SHOAL_OK;
}

static shoal_err_t
s_breaker (s_dec_t *d, shoal_rd_t *rd, shoal_wf_breaker_t *b)
{
    uint32_t count;
    shoal_mp_val_t v;
    if (shoal_rd_array (rd, &count) || count != 5 || shoal_rd_next (rd, &v) ||
        (v.type != SHOAL_MP_FLOAT && v.type != SHOAL_MP_UINT)) {
        return s_bad (d, SHOAL_ERR_MALFORMED,
                      "br: not [rate, calls, window, open, successes]");
    }
    b->failure_rate = v.type == SHOAL_MP_FLOAT ? v.f : (double) v.u;
    uint64_t calls, window, open, succ;
    shoal_err_t rc = s_uint (d, rd, "br calls", SHOAL_WF_LIMIT_MAX, &calls);
    if (rc == SHOAL_OK) {
        rc = s_uint (d, rd, "br window", SHOAL_US_PER_DAY, &window);
    }
    if (rc == SHOAL_OK) {
        rc = s_uint (d, rd, "br open", SHOAL_US_PER_DAY, &open);
    }
    if (rc == SHOAL_OK) {
        rc = s_uint (d, rd, "br successes", SHOAL_WF_HALF_OPEN_MAX, &succ);
    }
    if (rc) {
        return rc;
    }
    if (!(b->failure_rate > 0.0 && b->failure_rate <= 1.0) || calls < 1 ||
        window < SHOAL_US_PER_MS || open < SHOAL_US_PER_MS || succ < 1) {
        return s_bad (d, SHOAL_ERR_INVALID, "br: a value out of range");
    }
    b->min_calls = (uint32_t) calls;
    b->window_us = window;
    b->open_us = open;
    b->half_open_successes = (uint32_t) succ;
    return SHOAL_OK;
}

static const char *const s_node_keys[] = {"id", "t",  "c",  "to", "p",
                                          "rp", "mx", "ri", "rb", "br",
                                          "fb", "cp", "j",  "rq", NULL};

/*  rq: a list of labels; *out a new canonical copy, NULL when empty. */
static shoal_err_t
s_require (s_dec_t *d, shoal_rd_t *rd, const char **out)
{
    const char *s;
    uint32_t len;
    char text[SHOAL_REQUIRE_TEXT_MAX], list[SHOAL_REQUIRE_TEXT_MAX];
    if (shoal_rd_str (rd, &s, &len)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "rq: not a string");
    }
    if (len >= sizeof text) {
        return s_bad (d, SHOAL_ERR_INVALID, "rq: too many labels");
    }
    memcpy (text, s, len);
    text[len] = '\0';
    if (memchr (text, '\0', len) ||
        shoal_labels_parse (text, SHOAL_REQUIRE_MAX, list, sizeof list, NULL,
                            0)) {
        return s_bad (d, SHOAL_ERR_INVALID, "rq: not a list of labels");
    }
    if (!list[0]) {
        return SHOAL_OK;
    }
    return s_copy (d, (const uint8_t *) list, strlen (list) + 1,
                   (const uint8_t **) out);
}

static shoal_err_t
s_node_field (s_dec_t *d, shoal_rd_t *rd, int k, shoal_wf_node_t *n)
{
    const uint8_t *p = NULL;
    size_t len = 0;
    uint64_t u = 0;
    shoal_err_t rc = SHOAL_OK;
    uint32_t limit = d->wf->n_nodes - 1;
    switch (k) {
        case 0:
            return s_name (d, rd, "id", n->id);
        case 1:
            if ((rc = s_name (d, rd, "t", n->type))) {
                return rc;
            }
            if (d->types && !shoal_wf_type_known_ (n->type, d->types)) {
                return s_bad (d, SHOAL_ERR_INVALID, "unknown type \"%s\"",
                              n->type);
            }
            return SHOAL_OK;
        case 2:
            if ((rc = s_raw (d, rd, "c", &p, &len))) {
                return rc;
            }
            if (len > SHOAL_WF_CONFIG_MAX) {
                return s_bad (d, SHOAL_ERR_TOO_LARGE, "c: %zu bytes", len);
            }
            shoal_limits_t lim = shoal_limits_default ();
            size_t used;
            if ((rc = shoal_mp_validate (p, len, &lim, &used))) {
                return s_bad (d, rc, "c: over the payload limits");
            }
            n->config_len = len;
            return s_copy (d, p, len, &n->config);
        case 3:
            rc = s_uint (d, rd, "to", UINT32_MAX, &u);
            n->timeout_ms = (uint32_t) u;
            return rc;
        case 4:
            rc = s_uint (d, rd, "p", SHOAL_PRIO__COUNT - 1, &u);
            n->priority = (uint8_t) u;
            return rc;
        case 5: {
            shoal_retry_t policy;
            if ((rc = s_raw (d, rd, "rp", &p, &len))) {
                return rc;
            }
            if ((rc = shoal_retry_decode (p, len, &policy))) {
                return s_bad (d, rc, "rp: not a retry policy (%s)",
                              shoal_strerror (rc));
            }
            n->retry_len = len;
            return s_copy (d, p, len, &n->retry);
        }
        case 6:
            rc = s_uint (d, rd, "mx", SHOAL_WF_LIMIT_MAX, &u);
            n->max_concurrent = (uint32_t) u;
            return rc;
        case 7:
            return s_uint (d, rd, "ri", UINT64_MAX, &n->rate_interval_us);
        case 8:
            rc = s_uint (d, rd, "rb", SHOAL_WF_LIMIT_MAX, &u);
            n->burst = (uint32_t) u;
            return rc;
        case 9:
            n->has_breaker = true;
            return s_breaker (d, rd, &n->breaker);
        case 10:
        case 11:
            rc = s_uint (d, rd, k == 10 ? "fb" : "cp", limit, &u);
            *(k == 10 ? &n->fallback : &n->compensate) = (int32_t) u;
            return rc;
        case 12:
            rc = s_uint (d, rd, "j", SHOAL_WF_JOIN__COUNT - 1, &u);
            n->join = (uint8_t) u;
            return rc;
        default:
            return s_require (d, rd, &n->require);
    }
}

static shoal_err_t
s_node (s_dec_t *d, shoal_rd_t *rd, uint32_t i)
{
    shoal_wf_node_t *n = &d->wf->nodes[i];
    uint32_t pairs, seen = 0;
    snprintf (d->where, sizeof d->where, "node %u: ", i);
    if (shoal_rd_map (rd, &pairs)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "not a map");
    }
    for (uint32_t j = 0; j < pairs; j++) {
        char key[8];
        shoal_err_t rc = s_key (d, rd, key, sizeof key);
        int k = 0;
        while (rc == SHOAL_OK && s_node_keys[k] &&
               strcmp (s_node_keys[k], key) != 0) {
            k++;
        }
        if (rc == SHOAL_OK && !s_node_keys[k]) {
            if (shoal_rd_skip (rd, S_DEPTH)) {
                return s_bad (d, SHOAL_ERR_MALFORMED, "truncated");
            }
            continue;
        }
        if (rc == SHOAL_OK) {
            rc = s_once (d, &seen, k, key);
        }
        if (rc == SHOAL_OK) {
            rc = s_node_field (d, rd, k, n);
        }
        if (rc) {
            return rc;
        }
    }
    if (!(seen & 1) || !(seen & 2)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "no %s", seen & 1 ? "t" : "id");
    }
    bool rate = n->rate_interval_us != 0;
    shoal_gcra_t g;
    if (rate != (n->burst != 0) ||
        (rate && shoal_gcra_init (&g, n->rate_interval_us, n->burst))) {
        return s_bad (d, SHOAL_ERR_INVALID, "ri/rb: not a usable rate");
    }
    return SHOAL_OK;
}

static shoal_err_t
s_edge (s_dec_t *d, shoal_rd_t *rd, uint32_t i)
{
    static const char *const keys[] = {"f", "t", "pt", "on", "if", "ic", NULL};
    shoal_wf_edge_t *e = &d->wf->edges[i];
    uint32_t pairs, seen = 0;
    const char *text = NULL;
    uint32_t text_len = 0;
    e->index = i;
    strcpy (e->port, "default");
    snprintf (d->where, sizeof d->where, "edge %u: ", i);
    if (shoal_rd_map (rd, &pairs)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "not a map");
    }
    for (uint32_t j = 0; j < pairs; j++) {
        char key[8];
        uint64_t u = 0;
        const uint8_t *p;
        uint32_t len;
        shoal_err_t rc = s_key (d, rd, key, sizeof key);
        int k = 0;
        while (rc == SHOAL_OK && keys[k] && strcmp (keys[k], key) != 0) {
            k++;
        }
        if (rc == SHOAL_OK && keys[k]) {
            rc = s_once (d, &seen, k, key);
        }
        if (rc) {
            return rc;
        }
        switch (k) {
            case 0:
            case 1:
                rc = s_uint (d, rd, key, d->wf->n_nodes - 1, &u);
                *(k == 0 ? &e->from : &e->to) = (uint32_t) u;
                break;
            case 2:
                rc = s_name (d, rd, "pt", e->port);
                break;
            case 3:
                rc = s_uint (d, rd, "on", SHOAL_WF_ON__COUNT - 1, &u);
                e->on = (uint8_t) u;
                break;
            case 4:
                if (shoal_rd_str (rd, &text, &text_len)) {
                    rc = s_bad (d, SHOAL_ERR_MALFORMED, "if: not a string");
                } else if (text_len > SHOAL_EXPR_TEXT_MAX ||
                           memchr (text, 0, text_len)) {
                    rc = s_bad (d, SHOAL_ERR_INVALID, "if: not a condition");
                }
                break;
            case 5:
                if (shoal_rd_bin (rd, &p, &len)) {
                    rc = s_bad (d, SHOAL_ERR_MALFORMED, "ic: not bin");
                } else if (len > SHOAL_EXPR_CODE_MAX ||
                           shoal_expr_check (p, len) != SHOAL_OK) {
                    rc = s_bad (d, SHOAL_ERR_INVALID,
                                "ic: not a well-formed condition program");
                } else {
                    e->cond_len = len;
                    rc = s_copy (d, p, len, &e->cond);
                }
                break;
            default:
                rc = shoal_rd_skip (rd, S_DEPTH)
                         ? s_bad (d, SHOAL_ERR_MALFORMED, "truncated")
                         : SHOAL_OK;
        }
        if (rc) {
            return rc;
        }
    }
    if ((seen & 3) != 3 || !text != !e->cond) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "%s",
                      (seen & 3) != 3 ? "no f or no t"
                                      : "if and ic come together");
    }
    if (text) {
        char *copy = malloc (text_len + 1);
        if (!copy) {
            return s_bad (d, SHOAL_ERR_NOMEM, "out of memory");
        }
        memcpy (copy, text, text_len);
        copy[text_len] = '\0';
        e->cond_text = copy;
    }
    return SHOAL_OK;
}

/*  The root's scalar fields, and where the two arrays start. */
typedef struct {
    uint64_t fv, version, mc, timeout_us, cs;
    const char *name, *desc;
    uint32_t name_len, desc_len;
    shoal_rd_t nodes, edges;
    uint32_t n_nodes, n_edges;
    uint32_t seen;
} s_root_t;

static shoal_err_t
s_root (s_dec_t *d, shoal_rd_t *rd, s_root_t *r)
{
    static const char *const keys[] = {"fv", "n",  "d",     "v",     "mc",
                                       "to", "cs", "nodes", "edges", NULL};
    uint32_t pairs;
    if (shoal_rd_map (rd, &pairs)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "not a map");
    }
    for (uint32_t j = 0; j < pairs; j++) {
        char key[8];
        shoal_err_t rc = s_key (d, rd, key, sizeof key);
        int k = 0;
        while (rc == SHOAL_OK && keys[k] && strcmp (keys[k], key) != 0) {
            k++;
        }
        if (rc == SHOAL_OK && keys[k]) {
            rc = s_once (d, &r->seen, k, key);
        }
        if (rc) {
            return rc;
        }
        uint64_t *nums[] = {&r->fv, NULL,           NULL,   &r->version,
                            &r->mc, &r->timeout_us, &r->cs, NULL};
        uint64_t max[] = {UINT64_MAX,
                          0,
                          0,
                          UINT32_MAX,
                          SHOAL_WF_LIMIT_MAX,
                          UINT64_MAX,
                          SHOAL_WF_COMP__COUNT - 1};
        if (k < 7 && nums[k]) {
            rc = s_uint (d, rd, key, max[k], nums[k]);
        } else if (k == 1 || k == 2) {
            const char **s = k == 1 ? &r->name : &r->desc;
            uint32_t *len = k == 1 ? &r->name_len : &r->desc_len;
            if (shoal_rd_str (rd, s, len)) {
                rc = s_bad (d, SHOAL_ERR_MALFORMED, "%s: not a string", key);
            }
        } else if (k == 7 || k == 8) {
            shoal_rd_t *at = k == 7 ? &r->nodes : &r->edges;
            uint32_t *count = k == 7 ? &r->n_nodes : &r->n_edges;
            if (shoal_rd_array (rd, count)) {
                rc = s_bad (d, SHOAL_ERR_MALFORMED, "%s: not an array", key);
            }
            *at = *rd;
            for (uint32_t i = 0; rc == SHOAL_OK && i < *count; i++) {
                if (shoal_rd_skip (rd, S_DEPTH)) {
                    rc = s_bad (d, SHOAL_ERR_MALFORMED, "%s: truncated", key);
                }
            }
        } else if (shoal_rd_skip (rd, S_DEPTH)) {
            rc = s_bad (d, SHOAL_ERR_MALFORMED, "truncated");
        }
        if (rc) {
            return rc;
        }
    }
    return SHOAL_OK;
}

static shoal_err_t
s_decode (s_dec_t *d, const uint8_t *data, size_t size)
{
    shoal_limits_t lim = {.frame_max = SHOAL_WF_SIZE_MAX,
                          .depth_max = S_DEPTH,
                          .str_max = SHOAL_STR_MAX,
                          .count_max = SHOAL_COUNT_MAX};
    size_t used = 0;
    shoal_err_t rc = size > SHOAL_WF_SIZE_MAX
                         ? SHOAL_ERR_TOO_LARGE
                         : shoal_mp_validate (data, size, &lim, &used);
    if (rc == SHOAL_OK && used != size) {
        rc = SHOAL_ERR_MALFORMED;
    }
    if (rc) {
        return s_bad (d, rc, "not a definition (%s)", shoal_strerror (rc));
    }
    shoal_rd_t rd;
    shoal_rd_init (&rd, data, size);
    s_root_t r = {.version = 1};
    if ((rc = s_root (d, &rd, &r))) {
        return rc;
    }
    if (!(r.seen & 1)) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "no format version");
    }
    if (r.fv != SHOAL_WF_FORMAT) {
        return s_bad (d, SHOAL_ERR_VERSION, "format %llu, this code reads %d",
                      (unsigned long long) r.fv, SHOAL_WF_FORMAT);
    }
    if ((r.seen & 0x182) != 0x182) {
        return s_bad (d, SHOAL_ERR_MALFORMED, "no name, nodes or edges");
    }
    if (r.n_nodes > SHOAL_WF_NODES_MAX || r.n_edges > SHOAL_WF_EDGES_MAX ||
        r.desc_len > SHOAL_WF_DESC_MAX) {
        return s_bad (d, SHOAL_ERR_TOO_LARGE, "%u nodes, %u edges", r.n_nodes,
                      r.n_edges);
    }
    if (r.n_nodes == 0 || r.version == 0 ||
        !shoal_name_valid (r.name, r.name_len)) {
        return s_bad (d, SHOAL_ERR_INVALID,
                      "no nodes, version 0 or a bad name");
    }
    shoal_wf_t *wf = d->wf = shoal_wf_alloc_ (r.n_nodes, r.n_edges);
    if (!wf) {
        return s_bad (d, SHOAL_ERR_NOMEM, "out of memory");
    }
    memcpy (wf->name, r.name, r.name_len);
    wf->version = (uint32_t) r.version;
    wf->max_concurrency = (uint32_t) r.mc;
    wf->timeout_us = r.timeout_us;
    wf->compensation = (uint8_t) r.cs;
    if (r.desc) {
        if (!(wf->description = malloc (r.desc_len + 1))) {
            return s_bad (d, SHOAL_ERR_NOMEM, "out of memory");
        }
        memcpy (wf->description, r.desc, r.desc_len);
        wf->description[r.desc_len] = '\0';
    }
    for (uint32_t i = 0; i < r.n_nodes && rc == SHOAL_OK; i++) {
        rc = s_node (d, &r.nodes, i);
    }
    for (uint32_t i = 0; i < r.n_edges && rc == SHOAL_OK; i++) {
        rc = s_edge (d, &r.edges, i);
    }
    *d->where = '\0';
    if (rc == SHOAL_OK) {
        rc = shoal_wf_index_ (wf, NULL, d->err, d->cap);
    }
    if (rc == SHOAL_OK) {
        rc = shoal_wf_link_ (wf, NULL, d->err, d->cap);
    }
    return rc;
}

shoal_err_t
shoal_wf_decode (const uint8_t *data, size_t size, const char *const *types,
                 shoal_wf_t **out, char *err, size_t err_cap)
{
    s_dec_t d = {.err = err, .cap = err_cap, .types = types};
    shoal_err_t rc = s_decode (&d, data, size);
    if (rc != SHOAL_OK) {
        shoal_wf_destroy (&d.wf);
        return rc;
    }
    *out = d.wf;
    return SHOAL_OK;
}
