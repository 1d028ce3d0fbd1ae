/*  shoal_wf.c - the workflow definition object: the rules that span
    nodes, the derived tables, and the accessors.

    Nodes and edges are flat arrays in file order; everything the runtime
    asks often is computed once here (outgoing edges per node as slices
    of one array, incoming counts, entry nodes, a topological order), so
    the accessors are O(1) and the object never changes after it is made.

    Cycles are found with an iterative depth-first search (no recursion:
    a chain of 1000 nodes must not depend on the stack size) over edges,
    fallback and compensation links together, so the error can show the
    one cycle it met. The topological order picks the lowest ready index
    each step (O(n^2) scans, n <= 1000) so it is stable and easy to test.

    Deliberately not here: JSON (shoal_wf_json.c), msgpack
    (shoal_wf_codec.c), and the state of runs (the store). Routing rules
    are here (shoal_wf_fires) so the router and tests share them.
*/
#include "shoal_wf_int.h"

#include "shoal_expr.h"
#include "shoal_job.h"
#include "../protocol/shoal_mp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_builtin[] = {"noop", "echo", "sleep", "fail",
                                        "exec"};
static const char *const s_triggers[] = {"complete", "fail", "all"};
static const char *const s_joins[] = {"all", "any"};
static const char *const s_comps[] = {"run", "branch"};

#define S_COUNT(a) (sizeof (a) / sizeof (a)[0])

shoal_err_t
shoal_wf_fail_ (char *err, size_t cap, const char *file, shoal_err_t rc,
                const char *fmt, ...)
{
    if (err && cap > 0) {
        int n = file ? snprintf (err, cap, "%s: ", file) : 0;
        if (n < 0 || (size_t) n >= cap) {
            n = 0;
        }
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err + n, cap - (size_t) n, fmt, ap);
        va_end (ap);
    }
    return rc;
}

static const char *
s_name (const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t) v < n ? names[v] : "?";
}

static shoal_err_t
s_parse (const char *const *names, size_t n, const char *text, size_t len,
         uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen (names[i]) == len && memcmp (names[i], text, len) == 0) {
            *out = (uint8_t) i;
            return SHOAL_OK;
        }
    }
    return SHOAL_ERR_INVALID;
}

const char *
shoal_wf_trigger_name (int on)
{
    return s_name (s_triggers, S_COUNT (s_triggers), on);
}

const char *
shoal_wf_join_name (int join)
{
    return s_name (s_joins, S_COUNT (s_joins), join);
}

const char *
shoal_wf_comp_name (int scope)
{
    return s_name (s_comps, S_COUNT (s_comps), scope);
}

shoal_err_t
shoal_wf_trigger_parse (const char *text, size_t len, uint8_t *out)
{
    return s_parse (s_triggers, S_COUNT (s_triggers), text, len, out);
}

shoal_err_t
shoal_wf_join_parse (const char *text, size_t len, uint8_t *out)
{
    return s_parse (s_joins, S_COUNT (s_joins), text, len, out);
}

shoal_err_t
shoal_wf_comp_parse (const char *text, size_t len, uint8_t *out)
{
    return s_parse (s_comps, S_COUNT (s_comps), text, len, out);
}

bool
shoal_wf_builtin_type (const char *type)
{
    uint8_t unused;
    return s_parse (s_builtin, S_COUNT (s_builtin), type, strlen (type),
                    &unused) == SHOAL_OK;
}

bool
shoal_wf_type_known_ (const char *type, const char *const *types)
{
    if (shoal_wf_builtin_type (type)) {
        return true;
    }
    for (size_t i = 0; types && types[i]; i++) {
        if (strcmp (types[i], type) == 0) {
            return true;
        }
    }
    return false;
}

/*  ---------------------------------------------------------------------
    Lifecycle */

shoal_wf_t *
shoal_wf_alloc_ (uint32_t n_nodes, uint32_t n_edges)
{
    shoal_wf_t *self = calloc (1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->version = 1;
    self->n_nodes = n_nodes;
    self->n_edges = n_edges;
    /* calloc (0) may return NULL: always ask for at least one */
    self->nodes = calloc (n_nodes + 1, sizeof *self->nodes);
    self->edges = calloc (n_edges + 1, sizeof *self->edges);
    self->by_id = calloc (n_nodes + 1, sizeof *self->by_id);
    self->out_start = calloc (n_nodes + 1, sizeof *self->out_start);
    self->out = calloc (n_edges + 1, sizeof *self->out);
    self->entries = calloc (n_nodes + 1, sizeof *self->entries);
    self->topo = calloc (n_nodes + 1, sizeof *self->topo);
    if (!self->nodes || !self->edges || !self->by_id || !self->out_start ||
        !self->out || !self->entries || !self->topo) {
        shoal_wf_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < n_nodes; i++) {
        self->nodes[i].fallback = -1;
        self->nodes[i].compensate = -1;
        self->nodes[i].priority = SHOAL_PRIO_NORMAL;
    }
    return self;
}

void
shoal_wf_destroy (shoal_wf_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    shoal_wf_t *self = *self_p;
    for (uint32_t i = 0; self->nodes && i < self->n_nodes; i++) {
        free ((void *) self->nodes[i].config);
        free ((void *) self->nodes[i].retry);
        free ((void *) self->nodes[i].require);
    }
    for (uint32_t i = 0; self->edges && i < self->n_edges; i++) {
        free ((void *) self->edges[i].cond_text);
        free ((void *) self->edges[i].cond);
    }
    free (self->description);
    free (self->nodes);
    free (self->edges);
    free (self->by_id);
    free (self->out_start);
    free (self->out);
    free (self->entries);
    free (self->topo);
    free (self);
    *self_p = NULL;
}

/*  ---------------------------------------------------------------------
    Ids */

static int
s_cmp_node_ptr (const void *a, const void *b)
{
    const shoal_wf_node_t *x = *(const shoal_wf_node_t *const *) a;
    const shoal_wf_node_t *y = *(const shoal_wf_node_t *const *) b;
    int c = strcmp (x->id, y->id);
    return c ? c : (x < y ? -1 : x > y);
}

shoal_err_t
shoal_wf_index_ (shoal_wf_t *self, const char *file, char *err, size_t cap)
{
    const shoal_wf_node_t **sorted = calloc (self->n_nodes + 1, sizeof *sorted);
    if (!sorted) {
        return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_NOMEM,
                               "out of memory");
    }
    for (uint32_t i = 0; i < self->n_nodes; i++) {
        sorted[i] = &self->nodes[i];
    }
    qsort (sorted, self->n_nodes, sizeof *sorted, s_cmp_node_ptr);
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 0; i < self->n_nodes; i++) {
        self->by_id[i] = (uint32_t) (sorted[i] - self->nodes);
        if (rc == SHOAL_OK && i > 0 &&
            strcmp (sorted[i]->id, sorted[i - 1]->id) == 0) {
            /* equal ids sort by position: i is the later one */
            rc = shoal_wf_fail_ (err, cap, file, SHOAL_ERR_INVALID,
                                 "node %u: duplicate id \"%s\" (also node %u)",
                                 self->by_id[i], sorted[i]->id,
                                 self->by_id[i - 1]);
        }
    }
    free (sorted);
    return rc;
}

int32_t
shoal_wf_find (const shoal_wf_t *self, const char *id)
{
    size_t lo = 0, hi = self->n_nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp (self->nodes[self->by_id[mid]].id, id);
        if (c == 0) {
            return (int32_t) self->by_id[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

/*  ---------------------------------------------------------------------
    Rules across nodes */

/*  An edge as error texts name it: edge 3 (a -> b). */
#define S_EDGE_FMT "edge %u (%s -> %s)"
#define S_EDGE_ARGS(self, e)                                                   \
    (e)->index, (self)->nodes[(e)->from].id, (self)->nodes[(e)->to].id

static int
s_cmp_edge_ptr (const void *a, const void *b)
{
    const shoal_wf_edge_t *x = *(const shoal_wf_edge_t *const *) a;
    const shoal_wf_edge_t *y = *(const shoal_wf_edge_t *const *) b;
    if (x->from != y->from) {
        return x->from < y->from ? -1 : 1;
    }
    if (x->to != y->to) {
        return x->to < y->to ? -1 : 1;
    }
    int c = strcmp (x->port, y->port);
    if (c) {
        return c;
    }
    if (x->on != y->on) {
        return x->on < y->on ? -1 : 1;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

static shoal_err_t
s_check_duplicates (shoal_wf_t *self, const char *file, char *err, size_t cap)
{
    if (self->n_edges < 2) {
        return SHOAL_OK;
    }
    const shoal_wf_edge_t **sorted = calloc (self->n_edges, sizeof *sorted);
    if (!sorted) {
        return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_NOMEM,
                               "out of memory");
    }
    for (uint32_t i = 0; i < self->n_edges; i++) {
        sorted[i] = &self->edges[i];
    }
    qsort (sorted, self->n_edges, sizeof *sorted, s_cmp_edge_ptr);
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t i = 1; i < self->n_edges && rc == SHOAL_OK; i++) {
        const shoal_wf_edge_t *a = sorted[i - 1], *b = sorted[i];
        if (a->from == b->from && a->to == b->to && a->on == b->on &&
            strcmp (a->port, b->port) == 0) {
            rc = shoal_wf_fail_ (err, cap, file, SHOAL_ERR_INVALID,
                                 S_EDGE_FMT ": repeats edge %u (same from, "
                                            "to, port and on)",
                                 S_EDGE_ARGS (self, b), a->index);
        }
    }
    free (sorted);
    return rc;
}

/*  Per node and edge, the rules that need only the node table. */
static shoal_err_t
s_check_refs (shoal_wf_t *self, const char *file, char *err, size_t cap)
{
    for (uint32_t i = 0; i < self->n_nodes; i++) {
        shoal_wf_node_t *n = &self->nodes[i];
        if (n->fallback == (int32_t) i || n->compensate == (int32_t) i) {
            return shoal_wf_fail_ (
                err, cap, file, SHOAL_ERR_INVALID,
                "node \"%s\": %s: a node cannot be its own %s", n->id,
                n->fallback == (int32_t) i ? "fallback" : "compensate",
                n->fallback == (int32_t) i ? "fallback" : "compensation");
        }
        if (n->fallback >= 0) {
            self->nodes[n->fallback].handler = true;
        }
        if (n->compensate >= 0) {
            self->nodes[n->compensate].handler = true;
        }
    }
    for (uint32_t i = 0; i < self->n_edges; i++) {
        const shoal_wf_edge_t *e = &self->edges[i];
        uint32_t ends[2] = {e->from, e->to};
        for (int k = 0; k < 2; k++) {
            if (!self->nodes[ends[k]].handler) {
                continue;
            }
            /* name the first node that makes it a handler */
            for (uint32_t j = 0; j < self->n_nodes; j++) {
                const shoal_wf_node_t *by = &self->nodes[j];
                bool fb = by->fallback == (int32_t) ends[k];
                if (fb || by->compensate == (int32_t) ends[k]) {
                    return shoal_wf_fail_ (
                        err, cap, file, SHOAL_ERR_INVALID,
                        S_EDGE_FMT ": node \"%s\" is the %s node of \"%s\", "
                                   "so it runs only in its place and cannot "
                                   "have edges",
                        S_EDGE_ARGS (self, e), self->nodes[ends[k]].id,
                        fb ? "fallback" : "compensation", by->id);
                }
            }
        }
        if (e->on != SHOAL_WF_ON_COMPLETE && strcmp (e->port, "default")) {
            return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_INVALID,
                                   S_EDGE_FMT ": port \"%s\" needs on "
                                              "\"complete\" (only an output "
                                              "has ports)",
                                   S_EDGE_ARGS (self, e), e->port);
        }
    }
    return s_check_duplicates (self, file, err, cap);
}

/*  The k-th successor of node u over edges, fallback and compensation
    links; false past the last. *via: 0 edge, 1 fallback, 2 compensate. */
static bool
s_succ (const shoal_wf_t *self, uint32_t u, uint32_t k, uint32_t *v, int *via)
{
    const shoal_wf_node_t *n = &self->nodes[u];
    if (k < n->n_out) {
        *v = self->edges[self->out[self->out_start[u] + k]].to;
        *via = 0;
        return true;
    }
    k -= n->n_out;
    int32_t links[2] = {n->fallback, n->compensate};
    for (int j = 0; j < 2; j++) {
        if (links[j] >= 0 && k-- == 0) {
            *v = (uint32_t) links[j];
            *via = j + 1;
            return true;
        }
    }
    return false;
}

static void
s_append (char *buf, size_t cap, const char *s)
{
    size_t n = strlen (buf);
    if (n + 1 < cap) {
        snprintf (buf + n, cap - n, "%s", s);
    }
}

static const char *const s_arrows[] = {" -> ", " -[fallback]-> ",
                                       " -[compensate]-> "};

typedef struct {
    uint32_t node;
    uint32_t next; /* successor to look at next */
    int via;       /* how the search came to node */
} s_frame_t;

static shoal_err_t
s_check_cycles (shoal_wf_t *self, const char *file, char *err, size_t cap)
{
    uint8_t *color = calloc (self->n_nodes, 1); /* 0 new, 1 open, 2 done */
    s_frame_t *stack = calloc (self->n_nodes, sizeof *stack);
    if (!color || !stack) {
        free (color);
        free (stack);
        return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_NOMEM,
                               "out of memory");
    }
    shoal_err_t rc = SHOAL_OK;
    for (uint32_t root = 0; root < self->n_nodes && rc == SHOAL_OK; root++) {
        if (color[root]) {
            continue;
        }
        size_t sp = 0;
        stack[sp++] = (s_frame_t){root, 0, 0};
        color[root] = 1;
        while (sp > 0 && rc == SHOAL_OK) {
            s_frame_t *f = &stack[sp - 1];
            uint32_t v;
            int via;
            if (!s_succ (self, f->node, f->next++, &v, &via)) {
                color[f->node] = 2;
                sp--;
            } else if (color[v] == 0) {
                color[v] = 1;
                stack[sp++] = (s_frame_t){v, 0, via};
            } else if (color[v] == 1) {
                /* v is open: the cycle is the stack from v, then v */
                char path[SHOAL_WF_ERR_MAX] = "";
                size_t j = sp - 1;
                while (stack[j].node != v) {
                    j--;
                }
                s_append (path, sizeof path, self->nodes[v].id);
                for (size_t i = j + 1; i < sp; i++) {
                    s_append (path, sizeof path, s_arrows[stack[i].via]);
                    s_append (path, sizeof path, self->nodes[stack[i].node].id);
                }
                s_append (path, sizeof path, s_arrows[via]);
                s_append (path, sizeof path, self->nodes[v].id);
                rc = shoal_wf_fail_ (err, cap, file, SHOAL_ERR_INVALID,
                                     "cycle: %s", path);
            }
        }
    }
    free (color);
    free (stack);
    return rc;
}

/*  Topological order, lowest ready index first. The graph is acyclic. */
static shoal_err_t
s_topo (shoal_wf_t *self, const char *file, char *err, size_t cap)
{
    uint32_t *indeg = calloc (self->n_nodes, sizeof *indeg);
    bool *done = calloc (self->n_nodes, sizeof *done);
    if (!indeg || !done) {
        free (indeg);
        free (done);
        return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_NOMEM,
                               "out of memory");
    }
    uint32_t v;
    int via;
    for (uint32_t u = 0; u < self->n_nodes; u++) {
        for (uint32_t k = 0; s_succ (self, u, k, &v, &via); k++) {
            indeg[v]++;
        }
    }
    uint32_t placed = 0;
    while (placed < self->n_nodes) {
        uint32_t u = 0;
        while (u < self->n_nodes && (done[u] || indeg[u])) {
            u++;
        }
        if (u == self->n_nodes) {
            break; /* a cycle: s_check_cycles runs first, so never */
        }
        done[u] = true;
        self->topo[placed++] = u;
        for (uint32_t k = 0; s_succ (self, u, k, &v, &via); k++) {
            indeg[v]--;
        }
    }
    free (indeg);
    free (done);
    if (placed < self->n_nodes) {
        return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_INVALID,
                               "the graph has a cycle");
    }
    return SHOAL_OK;
}

shoal_err_t
shoal_wf_link_ (shoal_wf_t *self, const char *file, char *err, size_t cap)
{
    /* degrees and the outgoing slices (a counting sort by source,
       stable, so each slice keeps file order) */
    for (uint32_t i = 0; i < self->n_edges; i++) {
        self->nodes[self->edges[i].from].n_out++;
        self->nodes[self->edges[i].to].n_in++;
    }
    self->out_start[0] = 0;
    for (uint32_t i = 0; i < self->n_nodes; i++) {
        self->out_start[i + 1] = self->out_start[i] + self->nodes[i].n_out;
    }
    uint32_t *fill = calloc (self->n_nodes + 1, sizeof *fill);
    if (!fill) {
        return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_NOMEM,
                               "out of memory");
    }
    for (uint32_t i = 0; i < self->n_edges; i++) {
        uint32_t u = self->edges[i].from;
        self->out[self->out_start[u] + fill[u]++] = i;
    }
    free (fill);

    shoal_err_t rc = s_check_refs (self, file, err, cap);
    if (rc == SHOAL_OK) {
        rc = s_check_cycles (self, file, err, cap);
    }
    if (rc == SHOAL_OK) {
        rc = s_topo (self, file, err, cap);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    self->n_entries = 0;
    for (uint32_t i = 0; i < self->n_nodes; i++) {
        if (self->nodes[i].n_in == 0 && !self->nodes[i].handler) {
            self->entries[self->n_entries++] = i;
        }
    }
    if (self->n_entries == 0) {
        /* unreachable after the cycle check; kept as the rule itself */
        return shoal_wf_fail_ (err, cap, file, SHOAL_ERR_INVALID,
                               "no entry node (every node has an incoming "
                               "edge or is a fallback or compensation "
                               "node)");
    }
    return SHOAL_OK;
}

/*  ---------------------------------------------------------------------
    Accessors */

const char *
shoal_wf_name (const shoal_wf_t *self)
{
    return self->name;
}

const char *
shoal_wf_description (const shoal_wf_t *self)
{
    return self->description ? self->description : "";
}

uint32_t
shoal_wf_version (const shoal_wf_t *self)
{
    return self->version;
}

uint32_t
shoal_wf_max_concurrency (const shoal_wf_t *self)
{
    return self->max_concurrency;
}

uint64_t
shoal_wf_timeout_us (const shoal_wf_t *self)
{
    return self->timeout_us;
}

uint8_t
shoal_wf_compensation (const shoal_wf_t *self)
{
    return self->compensation;
}

uint32_t
shoal_wf_node_count (const shoal_wf_t *self)
{
    return self->n_nodes;
}

const shoal_wf_node_t *
shoal_wf_node (const shoal_wf_t *self, uint32_t i)
{
    return i < self->n_nodes ? &self->nodes[i] : NULL;
}

uint32_t
shoal_wf_edge_count (const shoal_wf_t *self)
{
    return self->n_edges;
}

const shoal_wf_edge_t *
shoal_wf_edge (const shoal_wf_t *self, uint32_t i)
{
    return i < self->n_edges ? &self->edges[i] : NULL;
}

const shoal_wf_edge_t *
shoal_wf_out (const shoal_wf_t *self, uint32_t node, uint32_t k)
{
    if (node >= self->n_nodes || k >= self->nodes[node].n_out) {
        return NULL;
    }
    return &self->edges[self->out[self->out_start[node] + k]];
}

uint32_t
shoal_wf_entry_count (const shoal_wf_t *self)
{
    return self->n_entries;
}

uint32_t
shoal_wf_entry (const shoal_wf_t *self, uint32_t k)
{
    return k < self->n_entries ? self->entries[k] : UINT32_MAX;
}

const uint32_t *
shoal_wf_topo_order (const shoal_wf_t *self)
{
    return self->topo;
}

/*  ---------------------------------------------------------------------
    Routing */

void
shoal_wf_port_of (const uint8_t *output, size_t len, char *port, size_t cap)
{
    const char *s = NULL;
    uint32_t n = 0;
    shoal_err_t rc = output ? shoal_map_str (output, len, "port", &s, &n)
                            : SHOAL_ERR_NOT_FOUND;
    shoal_mp_val_t v;
    const uint8_t *json;
    size_t json_len;
    if (rc == SHOAL_ERR_NOT_FOUND && output &&
        shoal_map_find (output, len, "json", &v, &json, &json_len) ==
            SHOAL_OK &&
        v.type == SHOAL_MP_MAP) {
        /* an exec node's program printed JSON: its "port" */
        rc = shoal_map_str (json, json_len, "port", &s, &n);
    }
    if (rc != SHOAL_OK || n == 0) {
        snprintf (port, cap, "default");
    } else if ((size_t) n >= cap || memchr (s, 0, n)) {
        /* A port no edge can have (too long for a name, a NUL in it):
           "", which matches no edge - not "default". */
        if (cap) {
            port[0] = '\0';
        }
    } else {
        memcpy (port, s, n);
        port[n] = '\0';
    }
}

bool
shoal_wf_fires (const shoal_wf_edge_t *e, bool ok, bool dead, const char *port,
                const uint8_t *output, size_t out_len, const uint8_t *input,
                size_t in_len)
{
    if ((e->on == SHOAL_WF_ON_COMPLETE && !ok) ||
        (e->on == SHOAL_WF_ON_FAIL && !dead) ||
        (e->on == SHOAL_WF_ON_ALL && !ok && !dead)) {
        return false;
    }
    if (e->on == SHOAL_WF_ON_COMPLETE && strcmp (e->port, port) != 0) {
        return false;
    }
    if (!e->cond) {
        return true;
    }
    bool result = false;
    char err[SHOAL_EXPR_ERR_MAX];
    if (shoal_expr_eval (e->cond, e->cond_len, output, out_len, input, in_len,
                         &result, err, sizeof err)) {
        return false; /* an evaluation error fails the edge, not the run */
    }
    return result;
}
