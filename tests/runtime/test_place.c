/*  test_place.c - labels and the executor selection policies: label
    rules and canonical lists, the label table and its limit, and each
    policy's choices counted over fixed sequences (never timed). */
#include "shoal_test.h"
#include "shoal_place.h"
#include "shoal_mp.h"

SHOAL_TEST (labels_valid)
{
    CHECK (shoal_label_valid ("gpu", 3));
    CHECK (shoal_label_valid ("zone-a.x_9", 10));
    CHECK (!shoal_label_valid ("", 0));
    CHECK (!shoal_label_valid ("a:b", 3));
    CHECK (!shoal_label_valid ("a b", 3));
    CHECK (!shoal_label_valid ("a,b", 3));
    char l33[34];
    memset (l33, 'x', 33);
    l33[33] = '\0';
    CHECK (shoal_label_valid (l33, 32));
    CHECK (!shoal_label_valid (l33, 33));
}

SHOAL_TEST (labels_parse_and_add)
{
    char out[SHOAL_LABELS_TEXT_MAX], why[128];
    CHECK_OK (shoal_labels_parse ("", 16, out, sizeof out, why, sizeof why));
    CHECK_STR (out, "");
    CHECK_OK (shoal_labels_parse (" gpu , ssd,gpu", 16, out, sizeof out, why,
                                  sizeof why));
    CHECK_STR (out, "gpu,ssd");
    CHECK_RC (
        shoal_labels_parse ("gpu,,ssd", 16, out, sizeof out, why, sizeof why),
        SHOAL_ERR_INVALID);
    CHECK_RC (shoal_labels_parse ("gpu,", 16, out, sizeof out, NULL, 0),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_labels_parse ("a,b,c", 2, out, sizeof out, why, sizeof why),
              SHOAL_ERR_TOO_LARGE);
    CHECK (strstr (why, "at most 2"));
    CHECK_RC (shoal_labels_parse ("x:y", 16, out, sizeof out, why, sizeof why),
              SHOAL_ERR_INVALID);
    CHECK (strstr (why, "x:y"));

    char list[SHOAL_REQUIRE_TEXT_MAX] = "";
    CHECK_OK (shoal_labels_add (list, sizeof list, "gpu", 3, 2));
    CHECK_OK (shoal_labels_add (list, sizeof list, "gpu", 3, 2));
    CHECK_OK (shoal_labels_add (list, sizeof list, "ssd", 3, 2));
    CHECK_RC (shoal_labels_add (list, sizeof list, "big", 3, 2),
              SHOAL_ERR_TOO_LARGE);
    CHECK_RC (shoal_labels_add (list, sizeof list, "b!g", 3, 8),
              SHOAL_ERR_INVALID);
    CHECK_STR (list, "gpu,ssd");
    CHECK (shoal_labels_has (list, strlen (list), "ssd", 3));
    CHECK (!shoal_labels_has (list, strlen (list), "ss", 2));
}

SHOAL_TEST (labels_from_map)
{
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_wr_map (w, 3);
    shoal_wr_str (w, "ok");
    shoal_wr_array (w, 2);
    shoal_wr_str (w, "gpu");
    shoal_wr_str (w, "fast");
    shoal_wr_kv_str (w, "text", "gpu");
    shoal_wr_str (w, "bad");
    shoal_wr_array (w, 1);
    shoal_wr_uint (w, 3);
    const uint8_t *m = shoal_wr_data (w);
    size_t len = shoal_wr_size (w);
    char out[SHOAL_REQUIRE_TEXT_MAX];
    CHECK_OK (shoal_labels_from_map (m, len, "ok", 8, out, sizeof out));
    CHECK_STR (out, "gpu,fast");
    CHECK_RC (shoal_labels_from_map (m, len, "ok", 1, out, sizeof out),
              SHOAL_ERR_TOO_LARGE);
    CHECK_RC (shoal_labels_from_map (m, len, "text", 8, out, sizeof out),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_labels_from_map (m, len, "bad", 8, out, sizeof out),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_labels_from_map (m, len, "none", 8, out, sizeof out),
              SHOAL_ERR_NOT_FOUND);
    CHECK_STR (out, "");
    shoal_wr_destroy (&w);
}

SHOAL_TEST (labeltab_bits_and_overflow)
{
    static shoal_labeltab_t t;
    memset (&t, 0, sizeof t);
    uint64_t a, b, m;
    CHECK_OK (shoal_labeltab_bit (&t, "gpu", 3, &a));
    CHECK_OK (shoal_labeltab_bit (&t, "ssd", 3, &b));
    CHECK_EQ (a, 1);
    CHECK_EQ (b, 2);
    CHECK_OK (shoal_labeltab_mask (&t, "ssd,gpu", 7, &m));
    CHECK_EQ (m, 3);
    CHECK_STR (shoal_labeltab_name (&t, 1), "ssd");
    CHECK (!shoal_labeltab_name (&t, 2));
    for (int i = 2; i < SHOAL_PLACE_LABELS_MAX; i++) {
        char name[16];
        int n = snprintf (name, sizeof name, "l%d", i);
        CHECK_OK (shoal_labeltab_bit (&t, name, (size_t) n, &a));
        CHECK_EQ (a, 1ull << i);
    }
    /* Full: known labels still have their bits, a new one gets none. */
    CHECK_RC (shoal_labeltab_bit (&t, "more", 4, &a), SHOAL_ERR_TOO_LARGE);
    CHECK_EQ (a, 0);
    CHECK_RC (shoal_labeltab_mask (&t, "gpu,more", 8, &m), SHOAL_ERR_TOO_LARGE);
    CHECK_EQ (m, 1);
    CHECK_OK (shoal_labeltab_bit (&t, "l63", 3, &a));
    CHECK_EQ (a, 1ull << 63);
    CHECK_RC (shoal_labeltab_bit (&t, "b d", 3, &a), SHOAL_ERR_INVALID);
}

SHOAL_TEST (policy_names)
{
    uint8_t p = 9;
    for (int i = 0; i < SHOAL_POLICY__COUNT; i++) {
        const char *name = shoal_policy_name (i);
        CHECK_OK (shoal_policy_parse (name, strlen (name), &p));
        CHECK_EQ (p, i);
    }
    CHECK_RC (shoal_policy_parse ("nonsense", 8, &p), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_policy_parse ("random", 5, &p), SHOAL_ERR_INVALID);
    CHECK_STR (shoal_policy_name (SHOAL_POLICY__COUNT), "?");
}

/*  Leases n jobs needing need with policy; counts[i] gets the choices of
    executor i. Each lease takes a slot, as the scheduler does. */
static int
s_lease (shoal_place_state_t *st, uint8_t policy, shoal_place_node_t *nodes,
         size_t nn, uint64_t need, int n, int *counts)
{
    for (int k = 0; k < n; k++) {
        int i = shoal_place_pick (st, policy, nodes, nn, need);
        if (i < 0) {
            return k;
        }
        if (nodes[i].inflight >= nodes[i].capacity ||
            (nodes[i].labels & need) != need) {
            return -1; /* a choice that does not fit */
        }
        nodes[i].inflight++;
        counts[i]++;
    }
    return n;
}

SHOAL_TEST (policy_least_loaded)
{
    shoal_place_state_t st = {0};
    shoal_place_node_t nodes[3] = {
        {.capacity = 10, .inflight = 5},
        {.capacity = 4, .inflight = 1},
        {.capacity = 8, .inflight = 2},
    };
    /* 1/4 = 2/8: the one with more free slots (6 > 3) */
    CHECK_EQ (shoal_place_pick (&st, SHOAL_POLICY_LEAST_LOADED, nodes, 3, 0),
              2);
    nodes[2].inflight = 3; /* 3/8 > 1/4 */
    CHECK_EQ (shoal_place_pick (&st, SHOAL_POLICY_LEAST_LOADED, nodes, 3, 0),
              1);
    /* The full executor is never chosen; 22 slots are left in all. */
    int counts[3] = {0};
    CHECK_EQ (s_lease (&st, SHOAL_POLICY_LEAST_LOADED, nodes, 3, 0, 30, counts),
              13);
    CHECK_EQ (counts[0], 5);
    CHECK_EQ (counts[1], 3);
    CHECK_EQ (counts[2], 5);
    CHECK_EQ (shoal_place_pick (&st, SHOAL_POLICY_LEAST_LOADED, nodes, 3, 0),
              -1);
}

SHOAL_TEST (policy_round_robin_spreads_evenly)
{
    shoal_place_state_t st = {0};
    shoal_place_node_t nodes[3] = {
        {.capacity = 100}, {.capacity = 100}, {.capacity = 100}};
    int counts[3] = {0};
    CHECK_EQ (s_lease (&st, SHOAL_POLICY_ROUND_ROBIN, nodes, 3, 0, 30, counts),
              30);
    CHECK_EQ (counts[0], 10);
    CHECK_EQ (counts[1], 10);
    CHECK_EQ (counts[2], 10);
    /* A full executor is skipped, the others take turns. */
    nodes[1].inflight = nodes[1].capacity;
    memset (counts, 0, sizeof counts);
    CHECK_EQ (s_lease (&st, SHOAL_POLICY_ROUND_ROBIN, nodes, 3, 0, 10, counts),
              10);
    CHECK_EQ (counts[0], 5);
    CHECK_EQ (counts[1], 0);
    CHECK_EQ (counts[2], 5);
}

SHOAL_TEST (policy_weighted_in_proportion)
{
    shoal_place_state_t st = {0};
    shoal_place_node_t nodes[2] = {{.capacity = 1000, .weight = 3},
                                   {.capacity = 1000, .weight = 1}};
    int counts[2] = {0};
    /* Smooth: a a b a, over and over. */
    int order[4];
    for (int k = 0; k < 4; k++) {
        order[k] = shoal_place_pick (&st, SHOAL_POLICY_WEIGHTED, nodes, 2, 0);
    }
    CHECK (order[0] == 0 && order[1] == 0 && order[2] == 1 && order[3] == 0);
    CHECK_EQ (s_lease (&st, SHOAL_POLICY_WEIGHTED, nodes, 2, 0, 400, counts),
              400);
    CHECK_EQ (counts[0], 300);
    CHECK_EQ (counts[1], 100);
    /* A third executor joins with weight 4: 3:1:4 from then on. */
    shoal_place_node_t three[3] = {
        nodes[0], nodes[1], {.capacity = 1000, .weight = 4}};
    int c3[3] = {0};
    CHECK_EQ (s_lease (&st, SHOAL_POLICY_WEIGHTED, three, 3, 0, 80, c3), 80);
    CHECK_EQ (c3[0], 30);
    CHECK_EQ (c3[1], 10);
    CHECK_EQ (c3[2], 40);
    shoal_place_state_clear (&st);
    CHECK (!st.current);
}

SHOAL_TEST (policy_random_only_fits)
{
    shoal_place_state_t st = {.rng = 42};
    shoal_place_node_t nodes[4] = {{.capacity = 100},
                                   {.capacity = 100, .labels = 1},
                                   {.capacity = 100, .labels = 3},
                                   {.capacity = 0, .labels = 1}};
    int counts[4] = {0};
    CHECK_EQ (s_lease (&st, SHOAL_POLICY_RANDOM, nodes, 4, 1, 100, counts),
              100);
    CHECK_EQ (counts[0], 0);
    CHECK_EQ (counts[3], 0);
    CHECK (counts[1] > 20 && counts[2] > 20);
    int more[4] = {0};
    CHECK_EQ (s_lease (&st, SHOAL_POLICY_RANDOM, nodes, 4, 1, 200, more), 100);
}

SHOAL_TEST (policy_needs_every_label)
{
    shoal_place_node_t nodes[3] = {{.capacity = 5, .labels = 1},
                                   {.capacity = 5, .labels = 2},
                                   {.capacity = 5, .labels = 4}};
    for (uint8_t p = 0; p < SHOAL_POLICY__COUNT; p++) {
        shoal_place_state_t st = {0};
        /* gpu|ssd: each is somewhere, both nowhere */
        CHECK_EQ (shoal_place_pick (&st, p, nodes, 3, 3), -1);
        CHECK_EQ (shoal_place_pick (&st, p, nodes, 3, 4), 2);
        CHECK_EQ (shoal_place_pick (&st, p, nodes, 0, 0), -1);
        shoal_place_state_clear (&st);
    }
    CHECK (shoal_place_fits (&nodes[0], 0));
    CHECK (!shoal_place_fits (&nodes[0], 2));
    shoal_place_node_t full = {.capacity = 1, .inflight = 1};
    CHECK (!shoal_place_fits (&full, 0));
}

SHOAL_TEST_MAIN (labels_valid, labels_parse_and_add, labels_from_map,
                 labeltab_bits_and_overflow, policy_names, policy_least_loaded,
                 policy_round_robin_spreads_evenly,
                 policy_weighted_in_proportion, policy_random_only_fits,
                 policy_needs_every_label)
