/*  shoal_graph.c - prints a workflow run view for people: header, graph
    with the path taken, node table. See shoal_graph.h.
*/
#include "shoal_graph.h"

#include "shoal_json.h"
#include "shoal_limits.h"
#include "shoal_mp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define S_TREE_NODES_MAX 40   /* more nodes: the adjacency list */
#define S_PREFIX_MAX     1024 /* bytes of tree indentation */
#define S_ID_COLS        64   /* a node id in the graph, at most */
#define S_COND_COLS      28   /* a condition in the graph, at most */
#define S_ERR_COLS       40   /* an error in a graph label, at most */
#define S_STATES_MAX     16   /* distinct node states counted */

typedef struct {
    const char *p; /* borrowed from the view copy; not NUL-terminated */
    uint32_t len;
} s_str_t;

typedef struct {
    s_str_t id, type, state, port, error;
    uint64_t attempt, started_us, finished_us, output_bytes;
    const uint8_t *output; /* raw msgpack in the view copy, or NULL */
    size_t output_len;
    uint32_t level; /* topological level: longest path from an entry */
    uint32_t home;  /* the incoming edge it is drawn under, or none */
    uint32_t n_in, n_out, first_out;
} s_node_t;

typedef struct {
    uint32_t from, to; /* node indices */
    s_str_t on, port, cond;
    int8_t fired; /* -1 not decided yet, 0 did not fire, 1 fired */
} s_edge_t;

struct _shoal_graph_t {
    uint8_t *view; /* owned copy: every s_str_t points into it */
    size_t len;
    s_str_t id, workflow, state, error;
    uint64_t revision, created_us, finished_us;
    bool paused;
    s_node_t *nodes;
    uint32_t nn;
    s_edge_t *edges;
    uint32_t ne;
    bool has_edges;       /* the view carried them */
    uint64_t edges_bytes; /* when it did not: their size, or 0 */
    uint32_t *out;        /* edge indices by source node, file order */
    uint32_t max_level;
    bool acyclic;
};

/*  Glyphs by edge state: [0] not decided yet, [1] did not fire, [2]
    fired. */
typedef struct {
    const char *tee, *elbow, *pipe, *blank, *ellipsis;
    const char *line[3], *head[3];
} s_glyphs_t;

static const s_glyphs_t s_utf8 = {
    "├", "└", "│  ", "   ", "…", {"─", "┄", "─"}, {"▷", "▷", "▶"}};
static const s_glyphs_t s_ascii = {
    "+", "`", "|  ", "   ", "...", {"-", ".", "="}, {">", ">", ">"}};

typedef struct {
    const shoal_graph_t *g;
    FILE *out;
    const s_glyphs_t *gl;
    bool utf8;
    uint32_t width;
    uint64_t now_us;
    bool *drawn; /* tree: nodes drawn so far */
} s_ctx_t;

#define S_NONE UINT32_MAX

/*  ---------------------------------------------------------------------
    Reading the view */

static s_str_t
s_cstr (const char *text)
{
    s_str_t s = {text, (uint32_t) strlen (text)};
    return s;
}

static bool
s_eq (s_str_t s, const char *text)
{
    return s.len == strlen (text) && memcmp (s.p, text, s.len) == 0;
}

static int
s_cmp (s_str_t a, s_str_t b)
{
    int c = memcmp (a.p, b.p, a.len < b.len ? a.len : b.len);
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static s_str_t
s_get_str (const uint8_t *m, size_t len, const char *key)
{
    s_str_t s = {"", 0};
    const char *p;
    uint32_t n;
    if (shoal_map_str (m, len, key, &p, &n) == SHOAL_OK) {
        s.p = p;
        s.len = n;
    }
    return s;
}

static uint64_t
s_get_uint (const uint8_t *m, size_t len, const char *key)
{
    uint64_t v = 0;
    return shoal_map_uint (m, len, key, &v) == SHOAL_OK ? v : 0;
}

/*  Walks the array under key: *items positioned, *n elements. */
static bool
s_get_array (const uint8_t *m, size_t len, const char *key, shoal_rd_t *rd,
             uint32_t *n)
{
    *n = 0;
    return shoal_map_array (m, len, key, rd, n) == SHOAL_OK;
}

/*  One element of an array being walked: its bounds, rd moved past. */
static bool
s_next_item (shoal_rd_t *rd, const uint8_t **item, size_t *len)
{
    *item = rd->p;
    if (shoal_rd_skip (rd, SHOAL_DEPTH_MAX)) {
        return false;
    }
    *len = (size_t) (rd->p - *item);
    return true;
}

static shoal_err_t
s_read_nodes (shoal_graph_t *self)
{
    shoal_rd_t rd;
    uint32_t n;
    if (!s_get_array (self->view, self->len, "nodes", &rd, &n)) {
        n = 0; /* the store could not read the run's definition */
    }
    if (!(self->nodes = calloc (n ? n : 1, sizeof *self->nodes))) {
        return SHOAL_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *m;
        size_t len;
        if (!s_next_item (&rd, &m, &len)) {
            return SHOAL_ERR_MALFORMED;
        }
        s_node_t *nd = &self->nodes[i];
        nd->id = s_get_str (m, len, "id");
        nd->type = s_get_str (m, len, "type");
        nd->state = s_get_str (m, len, "state");
        nd->port = s_get_str (m, len, "port");
        nd->error = s_get_str (m, len, "error");
        nd->attempt = s_get_uint (m, len, "attempt");
        nd->started_us = s_get_uint (m, len, "started_us");
        nd->finished_us = s_get_uint (m, len, "finished_us");
        nd->output_bytes = s_get_uint (m, len, "output_bytes");
        shoal_mp_val_t v;
        if (shoal_map_find (m, len, "output", &v, &nd->output,
                            &nd->output_len) != SHOAL_OK) {
            nd->output = NULL;
            nd->output_len = 0;
        }
        nd->home = S_NONE;
        if (!nd->id.len) {
            return SHOAL_ERR_MALFORMED;
        }
    }
    self->nn = n;
    return SHOAL_OK;
}

typedef struct {
    s_str_t id;
    uint32_t index;
} s_key_t;

static int
s_key_cmp (const void *a, const void *b)
{
    return s_cmp (((const s_key_t *) a)->id, ((const s_key_t *) b)->id);
}

static uint32_t
s_find (const s_key_t *keys, uint32_t n, s_str_t id)
{
    s_key_t want = {id, 0};
    const s_key_t *k = bsearch (&want, keys, n, sizeof *keys, s_key_cmp);
    return k ? k->index : S_NONE;
}

/*  The edges, when the view has them; an edge naming no node of the
    view leaves the graph out (has_edges false) rather than guessing. */
static shoal_err_t
s_read_edges (shoal_graph_t *self)
{
    self->edges_bytes = s_get_uint (self->view, self->len, "edges_bytes");
    shoal_rd_t rd;
    uint32_t n;
    if (!s_get_array (self->view, self->len, "edges", &rd, &n)) {
        return SHOAL_OK;
    }
    s_key_t *keys = malloc ((self->nn ? self->nn : 1) * sizeof *keys);
    self->edges = calloc (n ? n : 1, sizeof *self->edges);
    if (!keys || !self->edges) {
        free (keys);
        return SHOAL_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < self->nn; i++) {
        keys[i].id = self->nodes[i].id;
        keys[i].index = i;
    }
    qsort (keys, self->nn, sizeof *keys, s_key_cmp);
    bool ok = true;
    for (uint32_t k = 0; k < n && ok; k++) {
        const uint8_t *m;
        size_t len;
        if (!(ok = s_next_item (&rd, &m, &len))) {
            break;
        }
        s_edge_t *e = &self->edges[k];
        e->from = s_find (keys, self->nn, s_get_str (m, len, "from"));
        e->to = s_find (keys, self->nn, s_get_str (m, len, "to"));
        e->on = s_get_str (m, len, "on");
        e->port = s_get_str (m, len, "port");
        e->cond = s_get_str (m, len, "if");
        bool fired = false;
        e->fired = -1;
        if (shoal_map_bool (m, len, "fired", &fired) == SHOAL_OK) {
            e->fired = fired ? 1 : 0;
        }
        ok = e->from != S_NONE && e->to != S_NONE;
    }
    free (keys);
    self->ne = ok ? n : 0;
    self->has_edges = ok;
    return SHOAL_OK;
}

/*  Out-edge lists, topological levels (longest path from a node without
    incoming edges: Kahn's order, so a node comes after all its parents)
    and each node's home edge: the first incoming edge from a parent one
    level up, under which the tree draws it. */
static shoal_err_t
s_layout (shoal_graph_t *self)
{
    uint32_t nn = self->nn, ne = self->ne;
    self->out = malloc ((ne ? ne : 1) * sizeof *self->out);
    uint32_t *queue = malloc ((nn ? nn : 1) * 2 * sizeof *queue);
    if (!self->out || !queue) {
        free (queue);
        return SHOAL_ERR_NOMEM;
    }
    uint32_t *indeg = queue + nn;
    for (uint32_t k = 0; k < ne; k++) {
        self->nodes[self->edges[k].from].n_out++;
        self->nodes[self->edges[k].to].n_in++;
    }
    uint32_t at = 0, head = 0, tail = 0;
    for (uint32_t i = 0; i < nn; i++) {
        self->nodes[i].first_out = at;
        at += self->nodes[i].n_out;
        self->nodes[i].n_out = 0; /* refilled below, in edge order */
        indeg[i] = self->nodes[i].n_in;
        if (indeg[i] == 0) {
            queue[tail++] = i;
        }
    }
    for (uint32_t k = 0; k < ne; k++) {
        s_node_t *src = &self->nodes[self->edges[k].from];
        self->out[src->first_out + src->n_out++] = k;
    }
    while (head < tail) {
        const s_node_t *u = &self->nodes[queue[head++]];
        for (uint32_t k = 0; k < u->n_out; k++) {
            s_node_t *v =
                &self->nodes[self->edges[self->out[u->first_out + k]].to];
            if (u->level + 1 > v->level) {
                v->level = u->level + 1;
            }
            if (--indeg[v - self->nodes] == 0) {
                queue[tail++] = (uint32_t) (v - self->nodes);
            }
        }
    }
    self->acyclic = tail == nn;
    for (uint32_t i = 0; i < nn; i++) {
        if (self->nodes[i].level > self->max_level) {
            self->max_level = self->nodes[i].level;
        }
    }
    for (uint32_t k = 0; k < ne && self->acyclic; k++) {
        const s_edge_t *e = &self->edges[k];
        s_node_t *t = &self->nodes[e->to];
        if (t->home == S_NONE && self->nodes[e->from].level + 1 == t->level) {
            t->home = k;
        }
    }
    free (queue);
    return SHOAL_OK;
}

shoal_err_t
shoal_graph_new (const uint8_t *view, size_t len, shoal_graph_t **out)
{
    *out = NULL;
    shoal_limits_t lim = shoal_limits_default ();
    size_t used;
    if (!view || shoal_mp_validate (view, len, &lim, &used)) {
        return SHOAL_ERR_MALFORMED;
    }
    shoal_graph_t *self = calloc (1, sizeof *self);
    if (!self || !(self->view = malloc (len ? len : 1))) {
        free (self);
        return SHOAL_ERR_NOMEM;
    }
    memcpy (self->view, view, len);
    self->len = len;
    self->id = s_get_str (self->view, len, "id");
    self->workflow = s_get_str (self->view, len, "workflow");
    self->state = s_get_str (self->view, len, "state");
    self->error = s_get_str (self->view, len, "error");
    self->revision = s_get_uint (self->view, len, "revision");
    self->created_us = s_get_uint (self->view, len, "created_us");
    self->finished_us = s_get_uint (self->view, len, "finished_us");
    shoal_map_bool (self->view, len, "paused", &self->paused);
    shoal_err_t rc = s_read_nodes (self);
    if (rc == SHOAL_OK) {
        rc = s_read_edges (self);
    }
    if (rc == SHOAL_OK) {
        rc = s_layout (self);
    }
    if (rc) {
        shoal_graph_destroy (&self);
    }
    *out = self;
    return rc;
}

void
shoal_graph_destroy (shoal_graph_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    shoal_graph_t *self = *self_p;
    free (self->view);
    free (self->nodes);
    free (self->edges);
    free (self->out);
    free (self);
    *self_p = NULL;
}

bool
shoal_graph_final (const shoal_graph_t *self)
{
    return s_eq (self->state, "succeeded") || s_eq (self->state, "failed") ||
           s_eq (self->state, "cancelled");
}

bool
shoal_graph_succeeded (const shoal_graph_t *self)
{
    return s_eq (self->state, "succeeded");
}

/*  ---------------------------------------------------------------------
    Printing */

/*  Bytes of the character at s[0..left): a well-formed UTF-8 sequence's
    length, or 0 for a byte that starts none. */
static uint32_t
s_utf8_len (const unsigned char *s, uint32_t left)
{
    uint32_t n = s[0] < 0x80   ? 1
                 : s[0] < 0xc2 ? 0
                 : s[0] < 0xe0 ? 2
                 : s[0] < 0xf0 ? 3
                 : s[0] < 0xf5 ? 4
                               : 0;
    if (n == 0 || n > left) {
        return 0;
    }
    for (uint32_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) {
            return 0;
        }
    }
    /* C1 controls (U+0080 - U+009F) act on terminals too */
    return n == 2 && s[0] == 0xc2 && s[1] < 0xa0 ? 0 : n;
}

/*  Columns s takes (a character each; wide characters are not told
    apart). */
static uint32_t
s_cols (const s_ctx_t *c, s_str_t s)
{
    uint32_t cols = 0;
    for (uint32_t i = 0; i < s.len; cols++) {
        uint32_t n = s_utf8_len ((const unsigned char *) s.p + i, s.len - i);
        i += c->utf8 && n ? n : 1;
    }
    return cols;
}

/*  Prints s in at most max columns (cut with an ellipsis), control
    characters (and in ASCII anything else not ASCII) as '?'. Returns the
    columns printed. */
static uint32_t
s_put (const s_ctx_t *c, s_str_t s, uint32_t max)
{
    uint32_t total = s_cols (c, s), ell = c->utf8 ? 1 : 3;
    uint32_t keep = total <= max ? total : max > ell ? max - ell : 0;
    uint32_t cols = 0;
    for (uint32_t i = 0; i < s.len && cols < keep; cols++) {
        const unsigned char *p = (const unsigned char *) s.p + i;
        uint32_t n = s_utf8_len (p, s.len - i);
        if (n == 1 && *p >= 0x20 && *p != 0x7f) {
            fputc (*p, c->out);
        } else if (n > 1 && c->utf8) {
            fwrite (p, 1, n, c->out);
        } else {
            fputc ('?', c->out);
        }
        i += c->utf8 && n ? n : 1;
    }
    if (keep < total) {
        fputs (c->gl->ellipsis, c->out);
        cols += ell;
    }
    return cols;
}

/*  s_put, then spaces up to width columns. */
static void
s_put_pad (const s_ctx_t *c, s_str_t s, uint32_t width)
{
    for (uint32_t n = s_put (c, s, width); n < width; n++) {
        fputc (' ', c->out);
    }
}

/*  A duration for people: 850us, 3.2ms, 41ms, 1.5s, 12s, 3m05s, 2h10m. */
static s_str_t
s_dur (uint64_t us, char *buf, size_t cap)
{
    unsigned long long v = us;
    if (v == 0) {
        snprintf (buf, cap, "0");
    } else if (v < 1000) {
        snprintf (buf, cap, "%lluus", v);
    } else if (v < 10000) {
        snprintf (buf, cap, "%llu.%llums", v / 1000, v / 100 % 10);
    } else if (v < 1000000) {
        snprintf (buf, cap, "%llums", v / 1000);
    } else if (v < 10000000) {
        snprintf (buf, cap, "%llu.%llus", v / 1000000, v / 100000 % 10);
    } else if (v < 60000000) {
        snprintf (buf, cap, "%llus", v / 1000000);
    } else if (v < 3600000000ull) {
        snprintf (buf, cap, "%llum%02llus", v / 60000000, v / 1000000 % 60);
    } else {
        snprintf (buf, cap, "%lluh%02llum", v / 3600000000ull,
                  v / 60000000 % 60);
    }
    return s_cstr (buf);
}

/*  A node's state in brief: "succeeded 3ms", "leased 1.2s so far,
    attempt 2", "scheduled 40ms so far, retry after attempt 1", "dead
    805ms, attempt 3: boom", "cancelled: not reached". */
static void
s_status (const s_ctx_t *c, const s_node_t *n)
{
    s_put (c, n->state, 16);
    bool waiting = s_eq (n->state, "waiting");
    uint64_t end = n->finished_us ? n->finished_us : c->now_us;
    char buf[32];
    if (n->started_us && !waiting && end >= n->started_us) {
        fputc (' ', c->out);
        s_put (c, s_dur (end - n->started_us, buf, sizeof buf), 16);
        if (!n->finished_us) {
            fputs (" so far", c->out);
        }
    }
    if (s_eq (n->state, "scheduled") && n->attempt > 0) {
        fprintf (c->out, ", retry after attempt %llu",
                 (unsigned long long) n->attempt);
    } else if (n->attempt > 1 && !waiting) {
        fprintf (c->out, ", attempt %llu", (unsigned long long) n->attempt);
    }
    if (n->error.len) {
        /* a succeeded node's error is a note: "breaker open: ran
           fallback X" */
        fputs (s_eq (n->state, "succeeded") ? ", " : ": ", c->out);
        s_put (c, n->error, S_ERR_COLS);
    }
}

static void
s_label (const s_ctx_t *c, uint32_t i)
{
    const s_node_t *n = &c->g->nodes[i];
    s_put (c, n->id, S_ID_COLS);
    fputs (" [", c->out);
    s_status (c, n);
    fputc (']', c->out);
}

/*  An edge's arrow, after branch: its line style says fired, did not
    fire or not decided yet; trigger, port and condition ride on it in
    brackets: ├─[if output.rows > 0]─▶ */
static void
s_arrow (const s_ctx_t *c, const s_edge_t *e, const char *branch)
{
    int f = e->fired + 1;
    if (f == 0 && shoal_graph_final (c->g)) {
        f = 1; /* never decided (the run was cancelled): never fired */
    }
    const char *line = c->gl->line[f];
    fputs (branch, c->out);
    fputs (line, c->out);
    if (e->on.len || e->port.len || e->cond.len) {
        const char *sep = "";
        fputc ('[', c->out);
        if (e->on.len) {
            fputs ("on ", c->out);
            s_put (c, e->on, 16);
            sep = ", ";
        }
        if (e->port.len) {
            fprintf (c->out, "%sport ", sep);
            s_put (c, e->port, 24);
            sep = ", ";
        }
        if (e->cond.len) {
            fprintf (c->out, "%sif ", sep);
            s_put (c, e->cond, S_COND_COLS);
        }
        fputc (']', c->out);
    }
    fputs (line, c->out);
    fputs (c->gl->head[f], c->out);
    fputc (' ', c->out);
}

/*  The tree below node v: one line per outgoing edge; a target whose
    home is this edge is drawn here with its own subtree, others point to
    where it is drawn. prefix holds len bytes of indentation. */
static void
s_tree (const s_ctx_t *c, uint32_t v, char *prefix, size_t len)
{
    const shoal_graph_t *g = c->g;
    const s_node_t *n = &g->nodes[v];
    for (uint32_t k = 0; k < n->n_out; k++) {
        uint32_t ei = g->out[n->first_out + k];
        const s_edge_t *e = &g->edges[ei];
        bool last = k + 1 == n->n_out;
        fputs (prefix, c->out);
        s_arrow (c, e, last ? c->gl->elbow : c->gl->tee);
        if (g->nodes[e->to].home != ei) {
            s_put (c, g->nodes[e->to].id, S_ID_COLS);
            fputs (c->drawn[e->to] ? " (see above)\n" : " (see below)\n",
                   c->out);
            continue;
        }
        s_label (c, e->to);
        fputc ('\n', c->out);
        c->drawn[e->to] = true;
        const char *more = last ? c->gl->blank : c->gl->pipe;
        size_t mlen = strlen (more);
        if (len + mlen < S_PREFIX_MAX) {
            memcpy (prefix + len, more, mlen + 1);
            s_tree (c, e->to, prefix, len + mlen);
            prefix[len] = '\0';
        }
    }
}

/*  Layer by layer: each node, then its outgoing edges. */
static void
s_layers (const s_ctx_t *c)
{
    const shoal_graph_t *g = c->g;
    for (uint32_t l = 0; l <= g->max_level; l++) {
        fprintf (c->out, "layer %u\n", l);
        for (uint32_t i = 0; i < g->nn; i++) {
            const s_node_t *n = &g->nodes[i];
            if (n->level != l) {
                continue;
            }
            fputs ("  ", c->out);
            s_label (c, i);
            fputc ('\n', c->out);
            for (uint32_t k = 0; k < n->n_out; k++) {
                const s_edge_t *e = &g->edges[g->out[n->first_out + k]];
                s_arrow (c, e, "     ");
                s_put (c, g->nodes[e->to].id, S_ID_COLS);
                fputc ('\n', c->out);
            }
        }
    }
    if (!g->acyclic) {
        fprintf (c->out, "(the edges form a cycle: layers are partial)\n");
    }
}

static void
s_graph (s_ctx_t *c)
{
    const shoal_graph_t *g = c->g;
    if (g->nn == 0) {
        fprintf (c->out, "(no nodes: shoald could not read the run's "
                         "definition)\n");
        return;
    }
    if (!g->has_edges) {
        if (g->edges_bytes) {
            fprintf (c->out,
                     "(graph not shown: its edges take %llu bytes, over "
                     "what a view carries; see the table)\n",
                     (unsigned long long) g->edges_bytes);
        } else {
            fprintf (c->out, "(graph not shown: the view has no usable "
                             "edges; see the table)\n");
        }
        return;
    }
    bool tree = g->acyclic && g->nn <= S_TREE_NODES_MAX &&
                (g->max_level + 1) * 3 + 24 <= c->width &&
                (g->max_level + 1) * 8 < S_PREFIX_MAX;
    c->drawn = tree ? calloc (g->nn, sizeof *c->drawn) : NULL;
    if (!c->drawn) {
        s_layers (c);
    } else {
        char prefix[S_PREFIX_MAX] = "";
        for (uint32_t i = 0; i < g->nn; i++) {
            if (g->nodes[i].n_in == 0) {
                s_label (c, i);
                fputc ('\n', c->out);
                c->drawn[i] = true;
                s_tree (c, i, prefix, 0);
            }
        }
        free (c->drawn);
        c->drawn = NULL;
    }
    if (g->ne > 0) {
        const s_glyphs_t *gl = c->gl;
        fprintf (c->out,
                 "%s%s%s fired   %s%s%s did not fire   %s%s%s not "
                 "decided yet\n",
                 gl->line[2], gl->line[2], gl->head[2], gl->line[1],
                 gl->line[1], gl->head[1], gl->line[0], gl->line[0],
                 gl->head[0]);
    }
}

static void
s_header (const s_ctx_t *c)
{
    const shoal_graph_t *g = c->g;
    char buf[32];
    fputs ("run ", c->out);
    s_put (c, g->id, 40);
    fputs ("  ", c->out);
    s_put (c, g->workflow, S_ID_COLS);
    fprintf (c->out, " rev %llu  ", (unsigned long long) g->revision);
    s_put (c, g->state, 16);
    if (g->paused) {
        fputs (" (paused)", c->out);
    }
    uint64_t end = g->finished_us ? g->finished_us : c->now_us;
    if (g->created_us && end >= g->created_us) {
        fprintf (c->out, g->finished_us ? " in " : " for ");
        s_put (c, s_dur (end - g->created_us, buf, sizeof buf), 16);
        if (!g->finished_us) {
            fputs (" so far", c->out);
        }
    }
    fputc ('\n', c->out);
    s_str_t states[S_STATES_MAX];
    uint32_t counts[S_STATES_MAX], ns = 0;
    for (uint32_t i = 0; i < g->nn; i++) {
        uint32_t s = 0;
        while (s < ns && s_cmp (states[s], g->nodes[i].state) != 0) {
            s++;
        }
        if (s == ns && ns < S_STATES_MAX) {
            states[ns] = g->nodes[i].state;
            counts[ns++] = 0;
        }
        if (s < ns) {
            counts[s]++;
        }
    }
    fprintf (c->out, "%u node%s:", g->nn, g->nn == 1 ? "" : "s");
    for (uint32_t s = 0; s < ns; s++) {
        fprintf (c->out, "%s %u ", s ? "," : "", counts[s]);
        s_put (c, states[s], 16);
    }
    fputc ('\n', c->out);
    if (g->error.len) {
        fputs ("error: ", c->out);
        s_put (c, g->error, 1024);
        fputc ('\n', c->out);
    }
}

/*  The output (or error) of node n in at most max columns, after two
    spaces; nothing when it has neither. */
static void
s_result (const s_ctx_t *c, const s_node_t *n, uint32_t max)
{
    char buf[48];
    if (n->output || n->error.len || n->output_bytes) {
        fputs ("  ", c->out);
    }
    if (n->output) {
        shoal_limits_t lim = shoal_limits_default ();
        json_t *j = shoal_mp_to_json (n->output, n->output_len, &lim, NULL);
        char *text = j ? json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY |
                                            JSON_REAL_PRECISION (15) |
                                            (c->utf8 ? 0 : JSON_ENSURE_ASCII))
                       : NULL;
        s_put (c, s_cstr (text ? text : "?"), max);
        free (text);
        json_decref (j);
    } else if (n->error.len) {
        s_put (c, n->error, max);
    } else if (n->output_bytes) {
        snprintf (buf, sizeof buf, "(%llu bytes, not shown)",
                  (unsigned long long) n->output_bytes);
        s_put (c, s_cstr (buf), max);
    }
}

static uint32_t
s_widest (const shoal_graph_t *g, size_t field, uint32_t min, uint32_t max)
{
    uint32_t w = min;
    for (uint32_t i = 0; i < g->nn; i++) {
        const s_str_t *s =
            (const s_str_t *) ((const char *) &g->nodes[i] + field);
        w = s->len > w ? s->len : w;
    }
    return w < max ? w : max;
}

static void
s_table (const s_ctx_t *c)
{
    const shoal_graph_t *g = c->g;
    uint32_t wid = s_widest (g, offsetof (s_node_t, id), 4, 24);
    uint32_t wtype = s_widest (g, offsetof (s_node_t, type), 4, 12);
    uint32_t wstate = s_widest (g, offsetof (s_node_t, state), 5, 12);
    uint32_t used =
        2 + wid + 2 + wtype + 2 + wstate + 2 + 3 + 2 + 7 + 2 + 7 + 2;
    uint32_t rest = c->width > used + 16 ? c->width - used : 16;
    fprintf (c->out, "  %-*s  %-*s  %-*s  %3s  %7s  %7s  %s\n", (int) wid,
             "node", (int) wtype, "type", (int) wstate, "state", "try", "start",
             "took", "output or error");
    char start[32], took[32], buf[32];
    for (uint32_t i = 0; i < g->nn; i++) {
        const s_node_t *n = &g->nodes[i];
        fputs ("  ", c->out);
        s_put_pad (c, n->id, wid);
        fputs ("  ", c->out);
        s_put_pad (c, n->type, wtype);
        fputs ("  ", c->out);
        s_put_pad (c, n->state, wstate);
        snprintf (start, sizeof start, "-");
        snprintf (took, sizeof took, "-");
        if (n->started_us && n->started_us >= g->created_us) {
            snprintf (start, sizeof start, "+%s",
                      s_dur (n->started_us - g->created_us, buf, sizeof buf).p);
            uint64_t end = n->finished_us ? n->finished_us : c->now_us;
            if (!s_eq (n->state, "waiting") && end >= n->started_us) {
                snprintf (took, sizeof took, "%s%s",
                          s_dur (end - n->started_us, buf, sizeof buf).p,
                          n->finished_us ? "" : "+");
            }
        }
        fprintf (c->out, "  %3llu  %7s  %7s", (unsigned long long) n->attempt,
                 start, took);
        s_result (c, n, rest);
        fputc ('\n', c->out);
    }
}

void
shoal_graph_print (const shoal_graph_t *self, FILE *out,
                   const shoal_graph_opts_t *opts)
{
    s_ctx_t c = {.g = self,
                 .out = out,
                 .gl = opts->utf8 ? &s_utf8 : &s_ascii,
                 .utf8 = opts->utf8,
                 .width = opts->width < 40 ? 40 : opts->width,
                 .now_us = opts->now_us};
    s_header (&c);
    fputc ('\n', out);
    s_graph (&c);
    if (self->nn > 0) {
        fputc ('\n', out);
        s_table (&c);
    }
}

shoal_graph_opts_t
shoal_graph_opts_for (int fd)
{
    shoal_graph_opts_t o = {.utf8 = false, .width = 80, .now_us = 0};
    struct timespec ts;
    if (clock_gettime (CLOCK_REALTIME, &ts) == 0) {
        o.now_us =
            (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
    }
    if (!isatty (fd)) {
        return o;
    }
    struct winsize ws;
    if (ioctl (fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        o.width = ws.ws_col;
    }
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv (vars[i]);
        if (v && *v) {
            o.utf8 = strcasestr (v, "utf-8") || strcasestr (v, "utf8");
            break;
        }
    }
    return o;
}
