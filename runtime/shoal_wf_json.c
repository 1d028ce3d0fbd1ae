/*  shoal_wf_json.c - a workflow definition from its JSON file.

    jansson reads the text (duplicate keys refused); then one pass over
    the nodes (ids first, so every later message can name its node), the
    id index, a pass over the edges, and the checks that span nodes
    (shoal_wf_link_). Every object refuses keys it does not know: a typo
    such as "tmeout" would otherwise silently mean "no timeout".

    Values reuse the parsers and their error texts: durations
    (shoal_duration.h), retry policies (shoal_retry.h), rates
    (shoal_gcra.h), priorities and names (shoal_job.h), conditions
    (shoal_expr.h). The first error wins; there are no warnings.
*/
#include "shoal_wf_int.h"

#include "shoal_duration.h"
#include "shoal_expr.h"
#include "shoal_gcra.h"
#include "shoal_job.h"
#include "shoal_retry.h"
#include "../protocol/shoal_json.h"
#include "../protocol/shoal_mp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WHERE_MAX (2 * SHOAL_NAME_MAX + 48)
#define S_NAME_RULE "1-64 characters of A-Z a-z 0-9 . _ : -"
/*  Node timeouts are job timeouts: whole milliseconds in 32 bits. */
#define S_NODE_TIMEOUT_MAX (49 * SHOAL_US_PER_DAY)
#define S_RUN_TIMEOUT_MAX  (366ull * 24 * 3600 * 1000000) /* a year */
#define S_BREAKER_TIME_MAX SHOAL_US_PER_DAY

typedef struct {
    const char *file;
    char *err;
    size_t cap;
    const char *const *types;
    shoal_wf_t *wf;
    shoal_wr_t *wr;          /* scratch for msgpack values */
    char where[S_WHERE_MAX]; /* "node \"x\"", "edge 2 (a -> b)" or "" */
} s_ctx_t;

__attribute__ ((format (printf, 3, 4))) static shoal_err_t
s_fail (s_ctx_t *c, shoal_err_t rc, const char *fmt, ...)
{
    char msg[SHOAL_WF_ERR_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    return shoal_wf_fail_ (c->err, c->cap, c->file, rc, "%s%s%s", c->where,
                           *c->where ? ": " : "", msg);
}

/*  Refuses keys of obj that are not in keys (NULL-terminated). */
static shoal_err_t
s_keys (s_ctx_t *c, const json_t *obj, const char *prefix,
        const char *const *keys)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) obj, key, value)
    {
        size_t i = 0;
        while (keys[i] && strcmp (keys[i], key) != 0) {
            i++;
        }
        if (!keys[i]) {
            return s_fail (c, SHOAL_ERR_INVALID, "%sunknown key \"%.64s\"",
                           prefix, key);
        }
    }
    return SHOAL_OK;
}

/*  A string member: NULL in *s when absent (an error if required). */
static shoal_err_t
s_str (s_ctx_t *c, const json_t *obj, const char *key, bool required,
       const char **s)
{
    json_t *v = json_object_get (obj, key);
    *s = NULL;
    if (!v) {
        return required ? s_fail (c, SHOAL_ERR_INVALID, "missing \"%s\"", key)
                        : SHOAL_OK;
    }
    if (!json_is_string (v)) {
        return s_fail (c, SHOAL_ERR_INVALID, "%s: must be a string", key);
    }
    *s = json_string_value (v);
    if (strlen (*s) != json_string_length (v)) {
        return s_fail (c, SHOAL_ERR_INVALID, "%s: contains a NUL", key);
    }
    return SHOAL_OK;
}

/*  A name member (shoal_name_valid) copied into buf. */
static shoal_err_t
s_name (s_ctx_t *c, const json_t *obj, const char *key, bool required,
        char *buf)
{
    const char *s;
    shoal_err_t rc = s_str (c, obj, key, required, &s);
    if (rc || !s) {
        return rc;
    }
    if (!shoal_name_valid (s, strlen (s))) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "%s: \"%.64s%s\" is not a name (%s)", key, s,
                       strlen (s) > 64 ? "..." : "", S_NAME_RULE);
    }
    strcpy (buf, s);
    return SHOAL_OK;
}

/*  An integer member in [min, max]; *out untouched when absent. */
static shoal_err_t
s_uint (s_ctx_t *c, const json_t *obj, const char *prefix, const char *key,
        uint64_t min, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get (obj, key);
    if (!v) {
        return SHOAL_OK;
    }
    if (!json_is_integer (v) || json_integer_value (v) < 0 ||
        (uint64_t) json_integer_value (v) < min ||
        (uint64_t) json_integer_value (v) > max) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "%s%s: must be an integer from %llu to %llu", prefix,
                       key, (unsigned long long) min, (unsigned long long) max);
    }
    *out = (uint64_t) json_integer_value (v);
    return SHOAL_OK;
}

/*  A duration member in [min_us, max_us]; *out untouched when absent. */
static shoal_err_t
s_duration (s_ctx_t *c, const json_t *obj, const char *prefix, const char *key,
            uint64_t min_us, uint64_t max_us, uint64_t *out)
{
    const char *s;
    shoal_err_t rc = s_str (c, obj, key, false, &s);
    if (rc || !s) {
        return rc;
    }
    uint64_t us;
    if (shoal_duration_parse (s, &us) != SHOAL_OK) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "%s%s: \"%.64s\" is not a duration (like 500ms, 30s, "
                       "5m, 1h30m)",
                       prefix, key, s);
    }
    if (us < min_us || us > max_us) {
        char lo[SHOAL_DURATION_STRLEN], hi[SHOAL_DURATION_STRLEN];
        shoal_duration_format (min_us, lo, sizeof lo);
        shoal_duration_format (max_us, hi, sizeof hi);
        return s_fail (c, SHOAL_ERR_INVALID,
                       "%s%s: \"%s\" is out of range (%s to %s)", prefix, key,
                       s, lo, hi);
    }
    *out = us;
    return SHOAL_OK;
}

/*  Copies the scratch writer's bytes into *p (owned by the node). */
static shoal_err_t
s_keep (s_ctx_t *c, const uint8_t **p, size_t *len)
{
    size_t n = shoal_wr_size (c->wr);
    uint8_t *copy = malloc (n ? n : 1);
    if (!copy) {
        return s_fail (c, SHOAL_ERR_NOMEM, "out of memory");
    }
    memcpy (copy, shoal_wr_data (c->wr), n);
    *p = copy;
    *len = n;
    return SHOAL_OK;
}

static shoal_err_t
s_breaker (s_ctx_t *c, const json_t *v, shoal_wf_breaker_t *b)
{
    static const char *const keys[] = {
        "failure_rate", "min_calls",           "window",
        "open_for",     "half_open_successes", NULL};
    if (!json_is_object (v)) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "breaker: must be an object {failure_rate, min_calls, "
                       "window, open_for, half_open_successes}");
    }
    *b = (shoal_wf_breaker_t){.failure_rate = 0.5,
                              .min_calls = 20,
                              .window_us = 60 * SHOAL_US_PER_SEC,
                              .open_us = 30 * SHOAL_US_PER_SEC,
                              .half_open_successes = 3};
    shoal_err_t rc = s_keys (c, v, "breaker: ", keys);
    json_t *rate = json_object_get (v, "failure_rate");
    if (rc == SHOAL_OK && rate) {
        double r = json_number_value (rate);
        if (!json_is_number (rate) || !(r > 0.0 && r <= 1.0)) {
            return s_fail (c, SHOAL_ERR_INVALID,
                           "breaker: failure_rate: must be a number over 0 "
                           "and at most 1");
        }
        b->failure_rate = r;
    }
    uint64_t min_calls = b->min_calls, successes = b->half_open_successes;
    if (rc == SHOAL_OK) {
        rc = s_uint (c, v, "breaker: ", "min_calls", 1, SHOAL_WF_LIMIT_MAX,
                     &min_calls);
    }
    if (rc == SHOAL_OK) {
        rc = s_uint (c, v, "breaker: ", "half_open_successes", 1,
                     SHOAL_WF_HALF_OPEN_MAX, &successes);
    }
    if (rc == SHOAL_OK) {
        rc = s_duration (c, v, "breaker: ", "window", SHOAL_US_PER_MS,
                         S_BREAKER_TIME_MAX, &b->window_us);
    }
    if (rc == SHOAL_OK) {
        rc = s_duration (c, v, "breaker: ", "open_for", SHOAL_US_PER_MS,
                         S_BREAKER_TIME_MAX, &b->open_us);
    }
    b->min_calls = (uint32_t) min_calls;
    b->half_open_successes = (uint32_t) successes;
    return rc;
}

/*  "require": an array of labels; *out a new canonical list, or NULL for
    an empty array. */
static shoal_err_t
s_require (s_ctx_t *c, const json_t *v, const char **out)
{
    char list[SHOAL_REQUIRE_TEXT_MAX] = "";
    size_t i;
    json_t *l;
    if (!json_is_array (v) || json_array_size (v) > SHOAL_REQUIRE_MAX) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "require: must be an array of at most %d labels",
                       SHOAL_REQUIRE_MAX);
    }
    json_array_foreach (v, i, l)
    {
        const char *t = json_string_value (l);
        if (!t || shoal_labels_add (list, sizeof list, t, strlen (t),
                                    SHOAL_REQUIRE_MAX)) {
            return s_fail (c, SHOAL_ERR_INVALID,
                           "require: \"%.40s\" is not a label (1-%d "
                           "characters of A-Z a-z 0-9 . _ -)",
                           t ? t : "(not a string)", SHOAL_LABEL_MAX);
        }
    }
    if (!list[0]) {
        return SHOAL_OK;
    }
    char *copy = strdup (list);
    if (!copy) {
        return s_fail (c, SHOAL_ERR_NOMEM, "out of memory");
    }
    *out = copy;
    return SHOAL_OK;
}

/*  The node's own fields. Fallback and compensate names are resolved
    later, once every id is known. */
static shoal_err_t
s_node (s_ctx_t *c, const json_t *v, shoal_wf_node_t *n)
{
    static const char *const keys[] = {
        "id",       "type",           "config", "timeout", "priority",
        "retry",    "max_concurrent", "rate",   "burst",   "breaker",
        "fallback", "compensate",     "join",   "require", NULL};
    shoal_err_t rc = s_keys (c, v, "", keys);
    const char *s;
    if (rc == SHOAL_OK) {
        rc = s_name (c, v, "type", true, n->type);
    }
    if (rc == SHOAL_OK && !shoal_wf_type_known_ (n->type, c->types)) {
        return s_fail (
            c, SHOAL_ERR_INVALID,
            "unknown type \"%s\" (built in: noop, echo, "
            "sleep, fail, exec%s)",
            n->type, c->types && c->types[0] ? "; or a plugin type given" : "");
    }
    json_t *config = json_object_get (v, "config");
    if (rc == SHOAL_OK && config && !json_is_null (config)) {
        shoal_wr_reset (c->wr);
        shoal_err_t e = shoal_json_to_mp (config, c->wr);
        if (e == SHOAL_OK) {
            e = shoal_wr_error (c->wr);
        }
        /* the limits every decoder applies to a payload (the converter
           counts empty containers as levels, the validator does not) */
        shoal_limits_t lim = shoal_limits_default ();
        size_t used;
        if (e == SHOAL_OK) {
            e = shoal_mp_validate (shoal_wr_data (c->wr), shoal_wr_size (c->wr),
                                   &lim, &used);
        }
        if (e == SHOAL_ERR_TOO_LARGE) {
            return s_fail (c, e, "config: nested deeper than %d levels",
                           SHOAL_DEPTH_MAX);
        }
        if (e) {
            return s_fail (c, e, "config: %s", shoal_strerror (e));
        }
        if (shoal_wr_size (c->wr) > SHOAL_WF_CONFIG_MAX) {
            return s_fail (c, SHOAL_ERR_TOO_LARGE,
                           "config: %zu bytes as msgpack, over the limit of "
                           "%d",
                           shoal_wr_size (c->wr), SHOAL_WF_CONFIG_MAX);
        }
        rc = s_keep (c, &n->config, &n->config_len);
    }
    uint64_t timeout_us = 0;
    if (rc == SHOAL_OK) {
        rc = s_duration (c, v, "", "timeout", SHOAL_US_PER_MS,
                         S_NODE_TIMEOUT_MAX, &timeout_us);
        /* whole milliseconds, rounded up */
        n->timeout_ms =
            (uint32_t) ((timeout_us + SHOAL_US_PER_MS - 1) / SHOAL_US_PER_MS);
    }
    if (rc == SHOAL_OK) {
        rc = s_str (c, v, "priority", false, &s);
    }
    if (rc == SHOAL_OK && s &&
        shoal_prio_parse (s, strlen (s), &n->priority) != SHOAL_OK) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "priority: \"%.64s\" is not critical, high, normal or "
                       "low",
                       s);
    }
    if (rc == SHOAL_OK) {
        rc = s_str (c, v, "retry", false, &s);
    }
    if (rc == SHOAL_OK && s) {
        shoal_retry_t policy;
        char why[SHOAL_WF_ERR_MAX];
        if (shoal_retry_parse (s, &policy, why, sizeof why) != SHOAL_OK) {
            return s_fail (c, SHOAL_ERR_INVALID, "retry: %s", why);
        }
        shoal_wr_reset (c->wr);
        shoal_retry_encode (&policy, c->wr);
        rc = shoal_wr_error (c->wr)
                 ? s_fail (c, SHOAL_ERR_NOMEM, "out of memory")
                 : s_keep (c, &n->retry, &n->retry_len);
    }
    uint64_t max_concurrent = 0, burst = 0;
    if (rc == SHOAL_OK) {
        rc = s_uint (c, v, "", "max_concurrent", 1, SHOAL_WF_LIMIT_MAX,
                     &max_concurrent);
        n->max_concurrent = (uint32_t) max_concurrent;
    }
    if (rc == SHOAL_OK) {
        rc = s_str (c, v, "rate", false, &s);
    }
    if (rc == SHOAL_OK && s &&
        shoal_gcra_parse_rate (s, &n->rate_interval_us) != SHOAL_OK) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "rate: \"%.64s\" is not a rate (N/UNIT like 100/s, or "
                       "N/DURATION like 3/10s; at most 1000000/s)",
                       s);
    }
    if (rc == SHOAL_OK) {
        rc = s_uint (c, v, "", "burst", 1, SHOAL_WF_LIMIT_MAX, &burst);
    }
    if (rc == SHOAL_OK && burst && !n->rate_interval_us) {
        return s_fail (c, SHOAL_ERR_INVALID, "burst: needs a rate");
    }
    if (rc == SHOAL_OK && n->rate_interval_us) {
        shoal_gcra_t g;
        n->burst = burst ? (uint32_t) burst : 1;
        if (shoal_gcra_init (&g, n->rate_interval_us, n->burst)) {
            return s_fail (c, SHOAL_ERR_INVALID,
                           "burst: %u is too large for this rate", n->burst);
        }
    }
    json_t *require = json_object_get (v, "require");
    if (rc == SHOAL_OK && require) {
        rc = s_require (c, require, &n->require);
    }
    json_t *breaker = json_object_get (v, "breaker");
    if (rc == SHOAL_OK && breaker) {
        n->has_breaker = true;
        rc = s_breaker (c, breaker, &n->breaker);
    }
    if (rc == SHOAL_OK) {
        rc = s_str (c, v, "join", false, &s);
    }
    if (rc == SHOAL_OK && s &&
        shoal_wf_join_parse (s, strlen (s), &n->join) != SHOAL_OK) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "join: \"%.64s\" is not all or any", s);
    }
    return rc;
}

/*  A fallback or compensate reference of node i, by id. */
static shoal_err_t
s_ref (s_ctx_t *c, const json_t *v, const char *key, int32_t *out)
{
    const char *s;
    shoal_err_t rc = s_str (c, v, key, false, &s);
    if (rc || !s) {
        return rc;
    }
    *out = shoal_wf_find (c->wf, s);
    if (*out < 0) {
        return s_fail (c, SHOAL_ERR_INVALID, "%s: no node \"%.64s\"", key, s);
    }
    return SHOAL_OK;
}

static shoal_err_t
s_nodes (s_ctx_t *c, const json_t *nodes)
{
    shoal_wf_t *wf = c->wf;
    for (uint32_t i = 0; i < wf->n_nodes; i++) {
        const json_t *v = json_array_get (nodes, i);
        snprintf (c->where, sizeof c->where, "node %u", i);
        if (!json_is_object (v)) {
            return s_fail (c, SHOAL_ERR_INVALID, "must be an object");
        }
        shoal_err_t rc = s_name (c, v, "id", true, wf->nodes[i].id);
        if (rc) {
            return rc;
        }
        snprintf (c->where, sizeof c->where, "node \"%s\"", wf->nodes[i].id);
        if ((rc = s_node (c, v, &wf->nodes[i]))) {
            return rc;
        }
    }
    *c->where = '\0';
    shoal_err_t rc = shoal_wf_index_ (wf, c->file, c->err, c->cap);
    for (uint32_t i = 0; i < wf->n_nodes && rc == SHOAL_OK; i++) {
        const json_t *v = json_array_get (nodes, i);
        snprintf (c->where, sizeof c->where, "node \"%s\"", wf->nodes[i].id);
        rc = s_ref (c, v, "fallback", &wf->nodes[i].fallback);
        if (rc == SHOAL_OK) {
            rc = s_ref (c, v, "compensate", &wf->nodes[i].compensate);
        }
    }
    return rc;
}

static shoal_err_t
s_edge (s_ctx_t *c, const json_t *v, uint32_t i)
{
    static const char *const keys[] = {"from", "to", "port", "on", "if", NULL};
    shoal_wf_edge_t *e = &c->wf->edges[i];
    e->index = i;
    snprintf (c->where, sizeof c->where, "edge %u", i);
    if (!json_is_object (v)) {
        return s_fail (c, SHOAL_ERR_INVALID, "must be an object");
    }
    const char *from, *to, *s;
    shoal_err_t rc = s_str (c, v, "from", true, &from);
    if (rc == SHOAL_OK) {
        rc = s_str (c, v, "to", true, &to);
    }
    if (rc) {
        return rc;
    }
    snprintf (c->where, sizeof c->where, "edge %u (%.64s -> %.64s)", i, from,
              to);
    if ((rc = s_keys (c, v, "", keys))) {
        return rc;
    }
    int32_t a = shoal_wf_find (c->wf, from), b = shoal_wf_find (c->wf, to);
    if (a < 0 || b < 0) {
        return s_fail (c, SHOAL_ERR_INVALID, "%s: no node \"%.64s\"",
                       a < 0 ? "from" : "to", a < 0 ? from : to);
    }
    e->from = (uint32_t) a;
    e->to = (uint32_t) b;
    strcpy (e->port, "default");
    if ((rc = s_name (c, v, "port", false, e->port))) {
        return rc;
    }
    if ((rc = s_str (c, v, "on", false, &s))) {
        return rc;
    }
    if (s && shoal_wf_trigger_parse (s, strlen (s), &e->on)) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "on: \"%.64s\" is not complete, fail or all", s);
    }
    if ((rc = s_str (c, v, "if", false, &s)) || !s) {
        return rc;
    }
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    size_t len = 0;
    char why[SHOAL_EXPR_ERR_MAX] = "";
    rc = shoal_expr_compile (s, code, sizeof code, &len, why, sizeof why);
    if (rc == SHOAL_ERR_TOO_LARGE) {
        return s_fail (c, rc,
                       "if: the condition is too long (at most %d "
                       "bytes, and as much code as fits in %d)",
                       SHOAL_EXPR_TEXT_MAX, SHOAL_EXPR_CODE_MAX);
    }
    if (rc) {
        return s_fail (c, SHOAL_ERR_INVALID, "if: %s", why);
    }
    char *text = strdup (s);
    uint8_t *copy = malloc (len ? len : 1);
    if (!text || !copy) {
        free (text);
        free (copy);
        return s_fail (c, SHOAL_ERR_NOMEM, "out of memory");
    }
    memcpy (copy, code, len);
    e->cond_text = text;
    e->cond = copy;
    e->cond_len = len;
    return SHOAL_OK;
}

static shoal_err_t
s_top (s_ctx_t *c, const json_t *root, const json_t *nodes, const json_t *edges)
{
    shoal_wf_t *wf = c->wf;
    const char *s;
    shoal_err_t rc = s_name (c, root, "name", true, wf->name);
    if (rc == SHOAL_OK) {
        rc = s_str (c, root, "description", false, &s);
    }
    if (rc == SHOAL_OK && s) {
        if (strlen (s) > SHOAL_WF_DESC_MAX) {
            return s_fail (c, SHOAL_ERR_TOO_LARGE,
                           "description: longer than %d bytes",
                           SHOAL_WF_DESC_MAX);
        }
        if (!(wf->description = strdup (s))) {
            return s_fail (c, SHOAL_ERR_NOMEM, "out of memory");
        }
    }
    uint64_t version = 1, max_concurrency = 0;
    if (rc == SHOAL_OK) {
        rc = s_uint (c, root, "", "version", 1, UINT32_MAX, &version);
        wf->version = (uint32_t) version;
    }
    if (rc == SHOAL_OK) {
        rc = s_uint (c, root, "", "max_concurrency", 1, SHOAL_WF_LIMIT_MAX,
                     &max_concurrency);
        wf->max_concurrency = (uint32_t) max_concurrency;
    }
    if (rc == SHOAL_OK) {
        rc = s_duration (c, root, "", "timeout", SHOAL_US_PER_MS,
                         S_RUN_TIMEOUT_MAX, &wf->timeout_us);
    }
    if (rc == SHOAL_OK) {
        rc = s_str (c, root, "compensation", false, &s);
    }
    if (rc == SHOAL_OK && s &&
        shoal_wf_comp_parse (s, strlen (s), &wf->compensation)) {
        return s_fail (c, SHOAL_ERR_INVALID,
                       "compensation: \"%.64s\" is not run or branch", s);
    }
    if (rc == SHOAL_OK) {
        rc = s_nodes (c, nodes);
    }
    for (uint32_t i = 0; i < wf->n_edges && rc == SHOAL_OK; i++) {
        rc = s_edge (c, json_array_get (edges, i), i);
    }
    *c->where = '\0';
    if (rc == SHOAL_OK) {
        rc = shoal_wf_link_ (wf, c->file, c->err, c->cap);
    }
    if (rc == SHOAL_OK) {
        shoal_wr_reset (c->wr);
        shoal_wf_encode (wf, c->wr);
        if (shoal_wr_error (c->wr)) {
            rc = s_fail (c, SHOAL_ERR_NOMEM, "out of memory");
        } else if (shoal_wr_size (c->wr) > SHOAL_WF_SIZE_MAX) {
            rc = s_fail (c, SHOAL_ERR_TOO_LARGE,
                         "%zu bytes encoded, over the limit of %d",
                         shoal_wr_size (c->wr), (int) SHOAL_WF_SIZE_MAX);
        }
    }
    return rc;
}

shoal_err_t
shoal_wf_parse (const char *text, size_t len, const char *file,
                const char *const *types, shoal_wf_t **out, char *err,
                size_t err_cap)
{
    static const char *const keys[] = {
        "name",    "description",  "version", "max_concurrency",
        "timeout", "compensation", "nodes",   "edges",
        NULL};
    s_ctx_t c = {.file = file, .err = err, .cap = err_cap, .types = types};
    json_error_t jerr;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return shoal_wf_fail_ (err, err_cap, file, SHOAL_ERR_INVALID,
                               "line %d, column %d: not JSON: %s", jerr.line,
                               jerr.column, jerr.text);
    }
    shoal_err_t rc = SHOAL_OK;
    const json_t *nodes = json_object_get (root, "nodes");
    const json_t *edges = json_object_get (root, "edges");
    if (!json_is_object (root)) {
        rc = s_fail (&c, SHOAL_ERR_INVALID,
                     "must be a JSON object {name, nodes, edges}");
    } else if ((rc = s_keys (&c, root, "", keys))) {
        ;
    } else if (!json_is_array (nodes)) {
        rc = s_fail (&c, SHOAL_ERR_INVALID, "%s",
                     nodes ? "nodes: must be an array of node objects"
                           : "missing \"nodes\"");
    } else if (json_array_size (nodes) == 0) {
        rc = s_fail (&c, SHOAL_ERR_INVALID, "nodes: must hold at least one");
    } else if (json_array_size (nodes) > SHOAL_WF_NODES_MAX) {
        rc = s_fail (&c, SHOAL_ERR_TOO_LARGE,
                     "nodes: %zu nodes, over the limit of %d",
                     json_array_size (nodes), SHOAL_WF_NODES_MAX);
    } else if (edges && !json_is_array (edges)) {
        rc = s_fail (&c, SHOAL_ERR_INVALID,
                     "edges: must be an array of edge objects");
    } else if (json_array_size (edges) > SHOAL_WF_EDGES_MAX) {
        rc = s_fail (&c, SHOAL_ERR_TOO_LARGE,
                     "edges: %zu edges, over the limit of %d",
                     json_array_size (edges), SHOAL_WF_EDGES_MAX);
    }
    if (rc == SHOAL_OK) {
        c.wf = shoal_wf_alloc_ ((uint32_t) json_array_size (nodes),
                                (uint32_t) json_array_size (edges));
        c.wr = shoal_wr_new ();
        rc = c.wf && c.wr ? s_top (&c, root, nodes, edges)
                          : s_fail (&c, SHOAL_ERR_NOMEM, "out of memory");
    }
    json_decref (root);
    shoal_wr_destroy (&c.wr);
    if (rc != SHOAL_OK) {
        shoal_wf_destroy (&c.wf);
        return rc;
    }
    *out = c.wf;
    return SHOAL_OK;
}
