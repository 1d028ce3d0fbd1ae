/*  shoal_place.h - which executor a job goes to: label sets as bitmasks
    and the executor selection policies of queues.

    The scheduler turns label names into bits with a label table of its
    own (at most SHOAL_PLACE_LABELS_MAX distinct labels, added as they are
    first seen, by executors or jobs; never removed). An executor is then
    a shoal_place_node_t with a label mask, and a job fits an executor
    when (need & labels) == need.

    Policies choose among the eligible executors: those with a free slot
    (inflight < capacity) whose labels include the job's:
        least-loaded  the lowest inflight/capacity; ties go to the most
                      free slots, then the lowest index (the default)
        round-robin   the next eligible one after the last chosen
        weighted      smooth weighted round robin (as nginx): over any
                      stretch in which the same executors stay eligible,
                      each gets choices in proportion to its weight,
                      evenly interleaved; deterministic
        random        uniform among the eligible ones (xorshift)
    Each queue keeps its own shoal_place_state_t, so policies of one queue
    are not disturbed by another's choices.

    Pure: no I/O, no clock. Not thread safe: one owner.
*/
#ifndef SHOAL_PLACE_H_INCLUDED
#define SHOAL_PLACE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"
#include "shoal_labels.h"

#define SHOAL_PLACE_LABELS_MAX 64 /* distinct labels of one table */
#define SHOAL_WEIGHT_MAX       1000

typedef enum {
    SHOAL_POLICY_LEAST_LOADED = 0,
    SHOAL_POLICY_ROUND_ROBIN = 1,
    SHOAL_POLICY_WEIGHTED = 2,
    SHOAL_POLICY_RANDOM = 3,
    SHOAL_POLICY__COUNT
} shoal_policy_t;

/*  "least-loaded", "round-robin", "weighted", "random"; "?" for others. */
const char *shoal_policy_name (int policy);
/*  The reverse, for len bytes of text: SHOAL_OK or SHOAL_ERR_INVALID. */
shoal_err_t shoal_policy_parse (const char *text, size_t len, uint8_t *out);

/*  Label names -> bits. A plain value; zero it to start empty. */
typedef struct {
    char names[SHOAL_PLACE_LABELS_MAX][SHOAL_LABEL_MAX + 1];
    uint32_t n;
} shoal_labeltab_t;

/*  The bit of label (len bytes), added to the table when new.
    SHOAL_ERR_INVALID if it is not a valid label; SHOAL_ERR_TOO_LARGE if
    it is new and the table is full (*bit is then 0). */
shoal_err_t shoal_labeltab_bit (shoal_labeltab_t *t, const char *label,
                                size_t len, uint64_t *bit);

/*  The mask of a canonical comma list (len bytes). Every label gets its
    bit when it can; SHOAL_ERR_TOO_LARGE (or INVALID) when one could not,
    with the others' bits in *mask: a requirement with such a label must
    be treated as one no executor meets. */
shoal_err_t shoal_labeltab_mask (shoal_labeltab_t *t, const char *list,
                                 size_t len, uint64_t *mask);

/*  The name of bit i (0..63), or NULL when unused. */
const char *shoal_labeltab_name (const shoal_labeltab_t *t, uint32_t i);

/*  An executor as the policies see it. weight 0 counts as 1. */
typedef struct {
    uint32_t capacity;
    uint32_t inflight;
    uint32_t weight;
    uint64_t labels;
} shoal_place_node_t;

/*  A queue's memory of its choices: zero it to start; free its memory
    with shoal_place_state_clear. */
typedef struct {
    size_t next;      /* round-robin: where the next search starts */
    int64_t *current; /* weighted: current weights, one per executor */
    size_t ncurrent;
    uint64_t rng; /* random: xorshift state; 0 = a fixed seed */
} shoal_place_state_t;

/*  True if node has a free slot and every label of need. */
bool shoal_place_fits (const shoal_place_node_t *node, uint64_t need);

/*  Chooses by policy among nodes[0..n) an executor that fits need;
    returns its index, or -1 when none fits. Moves st on only when it
    chooses (a search that finds nothing changes nothing). When the
    weighted policy cannot get memory for its state it chooses as
    least-loaded does. Does not change nodes: the caller counts the
    lease. */
int shoal_place_pick (shoal_place_state_t *st, uint8_t policy,
                      const shoal_place_node_t *nodes, size_t n, uint64_t need);

/*  Frees what st holds and zeroes it. */
void shoal_place_state_clear (shoal_place_state_t *st);

#endif
