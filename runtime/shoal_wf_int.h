/*  shoal_wf_int.h - what the workflow definition's three files share:
    the object (shoal_wf.c), the JSON parser (shoal_wf_json.c) and the
    msgpack codec (shoal_wf_codec.c). Not a public header.

    Both ways in build the object the same way: shoal_wf_alloc_ with the
    counts, fill nodes (ids first), shoal_wf_index_ (ids unique, lookup
    ready), fill edges with node indexes, then shoal_wf_link_ (every rule
    that spans nodes: references, handlers, duplicates, cycles) which also
    computes the derived tables.
*/
#ifndef SHOAL_WF_INT_H_INCLUDED
#define SHOAL_WF_INT_H_INCLUDED

#include "shoal_wf.h"

#define SHOAL_WF_FORMAT 1 /* encoding version ("fv") */

struct _shoal_wf_t {
    char name[SHOAL_NAME_MAX + 1];
    char *description; /* owned, or NULL */
    uint32_t version;
    uint32_t max_concurrency;
    uint64_t timeout_us;
    uint8_t compensation;
    uint32_t n_nodes;
    uint32_t n_edges;
    shoal_wf_node_t *nodes; /* config, retry: owned (malloc) */
    shoal_wf_edge_t *edges; /* cond_text, cond: owned (malloc) */
    uint32_t *by_id;        /* node indexes sorted by id */
    uint32_t *out_start;    /* n_nodes + 1: a node's slice of out */
    uint32_t *out;          /* edge indexes grouped by source */
    uint32_t n_entries;
    uint32_t *entries;
    uint32_t *topo;
};

/*  A new definition with room for the counts (nodes need at least 1);
    every node has fallback = compensate = -1, priority normal. NULL when
    out of memory. */
shoal_wf_t *shoal_wf_alloc_ (uint32_t n_nodes, uint32_t n_edges);

/*  Sorts the ids for lookup; SHOAL_ERR_INVALID (err set) on a duplicate. */
shoal_err_t shoal_wf_index_ (shoal_wf_t *self, const char *file, char *err,
                             size_t cap);

/*  Checks the rules that span nodes and computes the derived tables.
    SHOAL_ERR_INVALID or SHOAL_ERR_NOMEM, err set. */
shoal_err_t shoal_wf_link_ (shoal_wf_t *self, const char *file, char *err,
                            size_t cap);

/*  Writes "file: " (when file is not NULL) and the message into err;
    returns rc. */
__attribute__ ((format (printf, 5, 6))) shoal_err_t
shoal_wf_fail_ (char *err, size_t cap, const char *file, shoal_err_t rc,
                const char *fmt, ...);

/*  True if type is built in or listed in types (NULL-terminated; NULL is
    an empty list). */
bool shoal_wf_type_known_ (const char *type, const char *const *types);

#endif
