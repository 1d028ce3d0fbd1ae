/*  shoal_wf.h - workflow definitions: parse, validate, encode, decode.

    A definition is a graph of nodes (each runs as a job of its type) and
    edges (when a node ends, which nodes get a message). People write it
    as JSON (docs/workflows.md, "Definition file"); Shoal stores and sends
    it as msgpack (shoal_wf_encode), with every edge condition compiled
    once (shoal_expr.h) so evaluators never compile again.

    Both ways in - shoal_wf_parse from JSON text, shoal_wf_decode from
    msgpack - give the same validated, immutable object, or an error text
    that names the file, the node ("node \"extract\"", "node 3" when it
    has no usable id) or edge ("edge 2 (a -> b)", counted from 0 as in the
    file), and what is wrong:
        etl.json: node "load": retry: delay: "2x" is not a duration
        etl.json: cycle: a -> b -> c -> a

    The model, in short:
    - Nodes are numbered in file order; every accessor uses that index.
    - A node used as another's fallback or compensation node is a handler:
      it runs only in that node's place (breaker open) or to undo it
      (saga), never from edges, so it may have no edges itself.
    - Entry nodes are the nodes with no incoming edges that are not
      handlers. The graph of edges, fallback and compensation links has
      no cycle, so there is always at least one entry node.
    - Node states at run time use the job state names (shoal_job.h).

    Pure: no sockets, no LMDB, no clock, no files. A definition is
    immutable once made, so any number of threads may read one.
*/
#ifndef SHOAL_WF_H_INCLUDED
#define SHOAL_WF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"
#include "../protocol/shoal_limits.h"
#include "../protocol/shoal_wr.h"

#define SHOAL_WF_NODES_MAX  1000  /* nodes in one definition */
#define SHOAL_WF_EDGES_MAX  10000 /* edges in one definition */
#define SHOAL_WF_CONFIG_MAX 65536 /* msgpack bytes of one node's config */
#define SHOAL_WF_DESC_MAX   1024  /* bytes of the description */
#define SHOAL_WF_LIMIT_MAX                                                     \
    1000000                         /* max_concurrency, max_concurrent,
                                        burst, breaker min_calls */
#define SHOAL_WF_HALF_OPEN_MAX 1000 /* breaker half_open_successes */
/*  An encoded definition fits in one request with room for the envelope. */
#define SHOAL_WF_SIZE_MAX (SHOAL_FRAME_MAX - 4096)
/*  A buffer this big always holds an error text (NUL included). */
#define SHOAL_WF_ERR_MAX 512

typedef enum {
    SHOAL_WF_ON_COMPLETE = 0, /* the source succeeded */
    SHOAL_WF_ON_FAIL = 1,     /* the source failed (retries used up) */
    SHOAL_WF_ON_ALL = 2,      /* the source ended either way */
    SHOAL_WF_ON__COUNT
} shoal_wf_trigger_t;

typedef enum {
    SHOAL_WF_JOIN_ALL = 0, /* waits until every incoming edge is decided
                              (fired, or skipped by its trigger or
                              condition) */
    SHOAL_WF_JOIN_ANY = 1, /* runs on the first incoming edge that fires */
    SHOAL_WF_JOIN__COUNT
} shoal_wf_join_t;

typedef enum {
    SHOAL_WF_COMP_RUN = 0,    /* a failure undoes the whole run */
    SHOAL_WF_COMP_BRANCH = 1, /* a failure undoes its own branch only */
    SHOAL_WF_COMP__COUNT
} shoal_wf_comp_t;

/*  A circuit breaker: closed -> open when, over the last window_us, at
    least min_calls ended and the failed fraction is over failure_rate;
    half-open after open_us; closed again after half_open_successes
    successes in a row (a failure while half-open opens it again). While
    open, activations go to the fallback node, or fail at once. */
typedef struct {
    double failure_rate;          /* (0, 1]; default 0.5 */
    uint32_t min_calls;           /* 1 - 1000000; default 20 */
    uint64_t window_us;           /* 1ms - 1d; default 60s */
    uint64_t open_us;             /* 1ms - 1d; default 30s */
    uint32_t half_open_successes; /* 1 - 1000; default 3 */
} shoal_wf_breaker_t;

/*  One node, as the accessors show it. Everything is owned by the
    definition and valid until it is destroyed. */
typedef struct {
    char id[SHOAL_NAME_MAX + 1];
    char type[SHOAL_NAME_MAX + 1];
    const uint8_t *config;     /* the job payload: one msgpack value; NULL */
    size_t config_len;         /* (and 0) when the node has no config */
    uint32_t timeout_ms;       /* per-run execution timeout, 0 = none */
    uint8_t priority;          /* shoal_prio_t; default normal */
    const uint8_t *retry;      /* a shoal_retry_encode map; NULL (and 0) */
    size_t retry_len;          /* when the queue's default applies */
    uint32_t max_concurrent;   /* runs at once, 0 = no limit */
    uint64_t rate_interval_us; /* one start per this (shoal_gcra.h), 0 = */
    uint32_t burst;            /* no rate limit; burst >= 1 with a rate */
    bool has_breaker;
    shoal_wf_breaker_t breaker;
    int32_t fallback;    /* node index, or -1 */
    int32_t compensate;  /* node index, or -1 */
    uint8_t join;        /* shoal_wf_join_t */
    const char *require; /* labels an executor must have to run the
                            node's jobs: a canonical comma list
                            (shoal_labels.h); NULL when none */
    bool handler;        /* some node's fallback or compensation node */
    uint32_t n_in;       /* incoming edges */
    uint32_t n_out;      /* outgoing edges */
} shoal_wf_node_t;

/*  One edge. Owned by the definition, like nodes. */
typedef struct {
    uint32_t index;                /* position in the file's edges array */
    uint32_t from;                 /* node index */
    uint32_t to;                   /* node index */
    char port[SHOAL_NAME_MAX + 1]; /* source port; "default" */
    uint8_t on;                    /* shoal_wf_trigger_t */
    const char *cond_text;         /* NULL when unconditional */
    const uint8_t *cond;           /* compiled (shoal_expr_eval); NULL */
    size_t cond_len;               /* when unconditional */
} shoal_wf_edge_t;

typedef struct _shoal_wf_t shoal_wf_t;

/*  Parses and validates a JSON definition: text is len bytes (no NUL
    needed). file names the source in error texts (NULL: no prefix).
    types is a NULL-terminated list of node types allowed besides the
    built-in noop, echo, sleep, fail and exec (the daemon's plugin types),
    or NULL for none. On success *out is a new definition owned by the
    caller (shoal_wf_destroy). Errors, with a one-line text in err
    (NUL-terminated, truncated to err_cap; err may be NULL when err_cap is
    0; SHOAL_WF_ERR_MAX always suffices):
        SHOAL_ERR_INVALID    not JSON, or a definition that breaks a rule
        SHOAL_ERR_TOO_LARGE  over a limit (nodes, edges, config, total)
        SHOAL_ERR_NOMEM      out of memory */
shoal_err_t shoal_wf_parse (const char *text, size_t len, const char *file,
                            const char *const *types, shoal_wf_t **out,
                            char *err, size_t err_cap);

/*  Decodes what shoal_wf_encode wrote (borrowed during the call) and
    validates it again: structure, ranges, names, references, condition
    code (shoal_expr_check), cycles. types as for shoal_wf_parse, except
    that NULL means type names are not checked against any list (a store
    reading back what it accepted earlier). On success *out is a new
    definition owned by the caller. Errors, text in err as above:
        SHOAL_ERR_MALFORMED  bytes that are not a definition
        SHOAL_ERR_TOO_LARGE  over a limit
        SHOAL_ERR_VERSION    an encoding newer than this code
        SHOAL_ERR_INVALID    well formed, but breaks a rule
        SHOAL_ERR_NOMEM      out of memory */
shoal_err_t shoal_wf_decode (const uint8_t *data, size_t size,
                             const char *const *types, shoal_wf_t **out,
                             char *err, size_t err_cap);

/*  Appends the definition to wr as one msgpack map (at most
    SHOAL_WF_SIZE_MAX bytes; parse and decode refuse bigger ones). Errors
    are the writer's (sticky; check shoal_wr_error). */
void shoal_wf_encode (const shoal_wf_t *self, shoal_wr_t *wr);

/*  Frees the definition and sets *self_p to NULL. Accepts NULL and a
    NULL *self_p. */
void shoal_wf_destroy (shoal_wf_t **self_p);

/*  Workflow-level values. Strings are borrowed from self. */
const char *shoal_wf_name (const shoal_wf_t *self);
const char *shoal_wf_description (const shoal_wf_t *self);  /* "" if none */
uint32_t shoal_wf_version (const shoal_wf_t *self);         /* >= 1 */
uint32_t shoal_wf_max_concurrency (const shoal_wf_t *self); /* 0 = none */
uint64_t shoal_wf_timeout_us (const shoal_wf_t *self);      /* 0 = none */
uint8_t shoal_wf_compensation (const shoal_wf_t *self); /* shoal_wf_comp_t */

/*  Nodes by index (0 to count-1), in file order; NULL out of range.
    shoal_wf_find returns the index of the node with id, or -1. */
uint32_t shoal_wf_node_count (const shoal_wf_t *self);
const shoal_wf_node_t *shoal_wf_node (const shoal_wf_t *self, uint32_t i);
int32_t shoal_wf_find (const shoal_wf_t *self, const char *id);

/*  Edges by index (0 to count-1), in file order; NULL out of range. */
uint32_t shoal_wf_edge_count (const shoal_wf_t *self);
const shoal_wf_edge_t *shoal_wf_edge (const shoal_wf_t *self, uint32_t i);

/*  The k-th outgoing edge of node (0 to its n_out-1), in file order;
    NULL out of range. */
const shoal_wf_edge_t *shoal_wf_out (const shoal_wf_t *self, uint32_t node,
                                     uint32_t k);

/*  Entry nodes (see above), in index order: the k-th, or UINT32_MAX out
    of range. There is always at least one. */
uint32_t shoal_wf_entry_count (const shoal_wf_t *self);
uint32_t shoal_wf_entry (const shoal_wf_t *self, uint32_t k);

/*  Every node index once, in a topological order of edges, fallback and
    compensation links (a node before every node it leads to): count =
    shoal_wf_node_count entries, borrowed. Among nodes that could go
    either way, the lower index comes first. */
const uint32_t *shoal_wf_topo_order (const shoal_wf_t *self);

/*  Names of enum values ("complete", "all", "branch"...); "?" for others.
    The _parse calls take len bytes of text and return SHOAL_OK or
    SHOAL_ERR_INVALID. */
const char *shoal_wf_trigger_name (int on);
const char *shoal_wf_join_name (int join);
const char *shoal_wf_comp_name (int scope);
shoal_err_t shoal_wf_trigger_parse (const char *text, size_t len, uint8_t *out);
shoal_err_t shoal_wf_join_parse (const char *text, size_t len, uint8_t *out);
shoal_err_t shoal_wf_comp_parse (const char *text, size_t len, uint8_t *out);

/*  Routing, pure (the router actor's rules). A node's port: the string
    field "port" of its output when the output is a map that has one;
    else, for a map without "port" whose "json" is a map (an exec node's
    result: the JSON its program printed), that map's "port"; else
    "default" (also for ""). Writes a NUL-terminated name to port
    (cap bytes); a port string that does not fit cap or holds a NUL gives
    "", which matches no edge (edge ports are names). */
void shoal_wf_port_of (const uint8_t *output, size_t len, char *port,
                       size_t cap);

/*  Whether edge e fires for its source's end: ok (succeeded) or dead
    (failed for good; neither: cancelled or skipped), on the port named
    port, with the source's output and the run's input (msgpack values or
    NULL). The trigger must match (complete: ok on e's port; fail: dead;
    all: either), then the condition, if any, must hold; an evaluation
    error makes the edge not fire. Allocates nothing. */
bool shoal_wf_fires (const shoal_wf_edge_t *e, bool ok, bool dead,
                     const char *port, const uint8_t *output, size_t out_len,
                     const uint8_t *input, size_t in_len);

/*  True if type is one of the built-in node types. */
bool shoal_wf_builtin_type (const char *type);

#endif
