/*  shoal_place.c - label masks and executor selection policies.

    Every policy is one pass over the executors (at most a few hundred):
    no index by label, no sorting. Smooth weighted round robin keeps one
    current weight per executor: each choice adds every eligible
    executor's weight to its current weight, takes the highest and takes
    the eligible total off the one chosen; with a constant eligible set
    the sequence repeats every sum-of-weights choices, each executor
    chosen exactly its weight times, interleaved (3:1 gives a a b a).
*/
#include "shoal_place.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_policy[SHOAL_POLICY__COUNT] = {
    "least-loaded", "round-robin", "weighted", "random"};

const char *
shoal_policy_name (int policy)
{
    return policy >= 0 && policy < SHOAL_POLICY__COUNT ? s_policy[policy] : "?";
}

shoal_err_t
shoal_policy_parse (const char *text, size_t len, uint8_t *out)
{
    for (int i = 0; i < SHOAL_POLICY__COUNT; i++) {
        if (strlen (s_policy[i]) == len &&
            memcmp (text, s_policy[i], len) == 0) {
            *out = (uint8_t) i;
            return SHOAL_OK;
        }
    }
    return SHOAL_ERR_INVALID;
}

shoal_err_t
shoal_labeltab_bit (shoal_labeltab_t *t, const char *label, size_t len,
                    uint64_t *bit)
{
    *bit = 0;
    if (!shoal_label_valid (label, len)) {
        return SHOAL_ERR_INVALID;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (strlen (t->names[i]) == len &&
            memcmp (t->names[i], label, len) == 0) {
            *bit = 1ull << i;
            return SHOAL_OK;
        }
    }
    if (t->n == SHOAL_PLACE_LABELS_MAX) {
        return SHOAL_ERR_TOO_LARGE;
    }
    memcpy (t->names[t->n], label, len);
    t->names[t->n][len] = '\0';
    *bit = 1ull << t->n++;
    return SHOAL_OK;
}

shoal_err_t
shoal_labeltab_mask (shoal_labeltab_t *t, const char *list, size_t len,
                     uint64_t *mask)
{
    shoal_err_t rc = SHOAL_OK;
    *mask = 0;
    size_t pos = 0, n;
    for (const char *l; (l = shoal_labels_next (list, len, &pos, &n));) {
        uint64_t bit;
        shoal_err_t e = shoal_labeltab_bit (t, l, n, &bit);
        if (e && rc == SHOAL_OK) {
            rc = e;
        }
        *mask |= bit;
    }
    return rc;
}

const char *
shoal_labeltab_name (const shoal_labeltab_t *t, uint32_t i)
{
    return i < t->n ? t->names[i] : NULL;
}

bool
shoal_place_fits (const shoal_place_node_t *node, uint64_t need)
{
    return node->inflight < node->capacity && (node->labels & need) == need;
}

static int
s_least_loaded (const shoal_place_node_t *nodes, size_t n, uint64_t need)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        const shoal_place_node_t *a = &nodes[i];
        if (!shoal_place_fits (a, need)) {
            continue;
        }
        if (best < 0) {
            best = (int) i;
            continue;
        }
        const shoal_place_node_t *b = &nodes[best];
        /* a.inflight / a.capacity < b.inflight / b.capacity, exactly */
        uint64_t la = (uint64_t) a->inflight * b->capacity;
        uint64_t lb = (uint64_t) b->inflight * a->capacity;
        if (la < lb || (la == lb && a->capacity - a->inflight >
                                        b->capacity - b->inflight)) {
            best = (int) i;
        }
    }
    return best;
}

static int
s_round_robin (shoal_place_state_t *st, const shoal_place_node_t *nodes,
               size_t n, uint64_t need)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = (st->next + k) % n;
        if (shoal_place_fits (&nodes[i], need)) {
            st->next = i + 1;
            return (int) i;
        }
    }
    return -1;
}

static int
s_weighted (shoal_place_state_t *st, const shoal_place_node_t *nodes, size_t n,
            uint64_t need)
{
    if (st->ncurrent < n) {
        /* New executors start at 0, as if they had always been there and
           never been eligible. */
        int64_t *grown = realloc (st->current, n * sizeof *grown);
        if (!grown) {
            return s_least_loaded (nodes, n, need);
        }
        memset (grown + st->ncurrent, 0, (n - st->ncurrent) * sizeof *grown);
        st->current = grown;
        st->ncurrent = n;
    }
    int best = -1;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!shoal_place_fits (&nodes[i], need)) {
            continue;
        }
        int64_t w = nodes[i].weight ? nodes[i].weight : 1;
        total += w;
        if (best < 0 || st->current[i] + w > st->current[best]) {
            best = (int) i;
        }
        st->current[i] += w;
    }
    if (best < 0) {
        return -1; /* nobody was eligible: nothing was added */
    }
    st->current[best] -= total;
    return best;
}

static uint64_t
s_xorshift (uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static int
s_random (shoal_place_state_t *st, const shoal_place_node_t *nodes, size_t n,
          uint64_t need)
{
    size_t eligible = 0;
    for (size_t i = 0; i < n; i++) {
        eligible += shoal_place_fits (&nodes[i], need);
    }
    if (eligible == 0) {
        return -1;
    }
    size_t r = (size_t) (s_xorshift (&st->rng) % eligible);
    for (size_t i = 0; i < n; i++) {
        if (shoal_place_fits (&nodes[i], need) && r-- == 0) {
            return (int) i;
        }
    }
    return -1; /* unreachable */
}

int
shoal_place_pick (shoal_place_state_t *st, uint8_t policy,
                  const shoal_place_node_t *nodes, size_t n, uint64_t need)
{
    switch (policy) {
        case SHOAL_POLICY_ROUND_ROBIN:
            return s_round_robin (st, nodes, n, need);
        case SHOAL_POLICY_WEIGHTED:
            return s_weighted (st, nodes, n, need);
        case SHOAL_POLICY_RANDOM:
            return s_random (st, nodes, n, need);
        default:
            return s_least_loaded (nodes, n, need);
    }
}

void
shoal_place_state_clear (shoal_place_state_t *st)
{
    free (st->current);
    memset (st, 0, sizeof *st);
}
