/*  shoal_graph.h - a workflow run as `shoal workflow show` prints it for
    people.

    The input is the run view shoald answers to WORKFLOW show (msgpack:
    the run, its definition's edges, its nodes; s_write_view in
    actors/shoal_store_runs.c). The output is:

      - a header: the run, its state, how long it has taken, node counts;
      - the graph, each node with its state, and the path taken: every
        edge drawn as fired, did not fire, or not decided yet, with its
        trigger, port and condition in brief. Up to 40 nodes (and when
        the depth fits the width) it is a tree whose depth is each node's
        topological level: a node is drawn under the parent on its
        longest path from an entry node, and its other incoming edges
        point to it ("see above", "see below"). Larger graphs are drawn
        as an adjacency list, layer by layer;
      - a table of the nodes: type, state, attempt, start (from the
        run's start), duration, output or error (truncated to the width).

    UTF-8 box drawing and arrows, or plain ASCII. Strings from the view
    are printed with control characters replaced (and, in ASCII, every
    non-ASCII character), so a node's error cannot drive the terminal.
*/
#ifndef SHOAL_GRAPH_H_INCLUDED
#define SHOAL_GRAPH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shoal_err.h"

typedef struct _shoal_graph_t shoal_graph_t;

typedef struct {
    bool utf8;       /* box drawing and arrows; false: plain ASCII */
    uint32_t width;  /* columns to fit (at least 40 is used) */
    uint64_t now_us; /* the time (us since the epoch), for work under way */
} shoal_graph_opts_t;

/*  Reads a run view (len bytes, copied) into *out, owned by the caller.
    SHOAL_ERR_MALFORMED when it is not msgpack or a node has no id,
    SHOAL_ERR_NOMEM. A view without nodes (the store could not read the
    run's definition) prints its header only. */
shoal_err_t shoal_graph_new (const uint8_t *view, size_t len,
                             shoal_graph_t **out);

/*  Frees it and sets *self_p to NULL; accepts NULL. */
void shoal_graph_destroy (shoal_graph_t **self_p);

/*  Whether the run has ended (succeeded, failed or cancelled), and
    whether it succeeded. */
bool shoal_graph_final (const shoal_graph_t *self);
bool shoal_graph_succeeded (const shoal_graph_t *self);

/*  Prints header, graph and table to out. */
void shoal_graph_print (const shoal_graph_t *self, FILE *out,
                        const shoal_graph_opts_t *opts);

/*  Options for printing to the terminal (or file) fd: UTF-8 when fd is a
    terminal and the locale (LC_ALL, LC_CTYPE or LANG) names UTF-8; the
    terminal's width, else 80; now. */
shoal_graph_opts_t shoal_graph_opts_for (int fd);

#endif
