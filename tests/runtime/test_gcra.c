/*  test_gcra.c - the GCRA limiter at exact microseconds: a burst then
    refusal with the exact wait, a steady rate, idle time credited up to
    the burst and no further, multi-cell takes, and rate parsing. */
#include "shoal_test.h"
#include "shoal_gcra.h"

#define MS 1000ull
#define S  1000000ull

/* An arbitrary origin far from zero, like a real clock. */
#define T0 (1700000000ull * S)

static shoal_gcra_t
s_gcra (const char *rate, uint32_t burst)
{
    shoal_gcra_t g;
    if (shoal_gcra_parse (rate, burst, &g) != SHOAL_OK) {
        fprintf (stderr, "  parse \"%s\" failed\n", rate);
        abort ();
    }
    return g;
}

SHOAL_TEST (gcra_burst_then_deny)
{
    shoal_gcra_t g = s_gcra ("10/s", 5); /* one per 100 ms */
    uint64_t wait = 77;
    for (int i = 0; i < 5; i++) {
        CHECK (shoal_gcra_take (&g, T0, &wait));
        CHECK_EQ (wait, 0);
    }
    CHECK (!shoal_gcra_take (&g, T0, &wait));
    CHECK_EQ (wait, 100 * MS);
    CHECK (!shoal_gcra_take (&g, T0 + 99999, &wait));
    CHECK_EQ (wait, 1);
    CHECK (shoal_gcra_take (&g, T0 + 100 * MS, &wait));
    CHECK_EQ (wait, 0);
    CHECK (!shoal_gcra_take (&g, T0 + 100 * MS, &wait));
    CHECK_EQ (wait, 100 * MS);
    /* Half-way through the burst's refill: 2 cells back after 250 ms. */
    CHECK (shoal_gcra_take (&g, T0 + 350 * MS, NULL));
    CHECK (shoal_gcra_take (&g, T0 + 350 * MS, NULL));
    CHECK (!shoal_gcra_take (&g, T0 + 350 * MS, &wait));
    CHECK_EQ (wait, 50 * MS);
}

SHOAL_TEST (gcra_refusal_changes_nothing)
{
    shoal_gcra_t g = s_gcra ("1/s", 1);
    CHECK (shoal_gcra_take (&g, T0, NULL));
    shoal_gcra_t before = g;
    uint64_t wait;
    for (int i = 0; i < 1000; i++) {
        CHECK (!shoal_gcra_take (&g, T0 + (uint64_t) i * 999, &wait));
        CHECK_EQ (wait, 1 * S - (uint64_t) i * 999);
    }
    CHECK (g.tat_us == before.tat_us);
    CHECK (shoal_gcra_take (&g, T0 + 1 * S, &wait));
}

SHOAL_TEST (gcra_steady_rate)
{
    shoal_gcra_t g = s_gcra ("100/s", 1); /* one per 10 ms */
    uint64_t t = T0, wait;
    for (int i = 0; i < 10000; i++, t += 10 * MS) {
        /* One microsecond early is refused by exactly that much. */
        if (i > 0) {
            CHECK (!shoal_gcra_take (&g, t - 1, &wait));
            CHECK_EQ (wait, 1);
        }
        CHECK (shoal_gcra_take (&g, t, &wait));
        CHECK_EQ (wait, 0);
    }
    /* Over a long run exactly rate * time cells conform, burst aside. */
    g = s_gcra ("5/h", 2);
    int ok = 0;
    for (uint64_t m = 0; m < 10 * 3600; m++) {
        ok += shoal_gcra_take (&g, T0 + m * S, NULL);
    }
    CHECK_EQ (ok, 2 + 5 * 10 - 1); /* burst 2, then one per 12 minutes */
}

SHOAL_TEST (gcra_jittered_arrivals_keep_the_rate)
{
    /* Requests every 7 ms against 10/s with burst 3: over 60 s at most
       3 + 600 conform, and the limiter lets through at least 600. */
    shoal_gcra_t g = s_gcra ("10/s", 3);
    int ok = 0;
    for (uint64_t t = 0; t <= 60 * S; t += 7 * MS) {
        ok += shoal_gcra_take (&g, T0 + t, NULL);
    }
    CHECK (ok >= 600 && ok <= 603);
}

SHOAL_TEST (gcra_long_idle_resets_to_burst)
{
    shoal_gcra_t g = s_gcra ("10/s", 5);
    for (int i = 0; i < 5; i++) {
        CHECK (shoal_gcra_take (&g, T0, NULL));
    }
    CHECK_EQ (shoal_gcra_available (&g, T0), 0);
    /* An hour later: a full burst, and no more than that. */
    uint64_t later = T0 + 3600 * S, wait;
    CHECK_EQ (shoal_gcra_available (&g, later), 5);
    for (int i = 0; i < 5; i++) {
        CHECK (shoal_gcra_take (&g, later, NULL));
    }
    CHECK (!shoal_gcra_take (&g, later, &wait));
    CHECK_EQ (wait, 100 * MS);
    /* Exactly the refill time also restores the whole burst. */
    CHECK_EQ (shoal_gcra_available (&g, later + 500 * MS), 5);
    CHECK_EQ (shoal_gcra_available (&g, later + 500 * MS - 1), 4);
    shoal_gcra_reset (&g);
    CHECK_EQ (shoal_gcra_available (&g, later), 5);
}

SHOAL_TEST (gcra_available)
{
    shoal_gcra_t g = s_gcra ("1/s", 3);
    CHECK_EQ (shoal_gcra_available (&g, T0), 3);
    CHECK (shoal_gcra_take (&g, T0, NULL));
    CHECK_EQ (shoal_gcra_available (&g, T0), 2);
    CHECK (shoal_gcra_take (&g, T0, NULL));
    CHECK (shoal_gcra_take (&g, T0, NULL));
    CHECK_EQ (shoal_gcra_available (&g, T0), 0);
    CHECK_EQ (shoal_gcra_available (&g, T0 + 999999), 0);
    CHECK_EQ (shoal_gcra_available (&g, T0 + 1 * S), 1);
    CHECK_EQ (shoal_gcra_available (&g, T0 + 2 * S + 1), 2);
    CHECK_EQ (shoal_gcra_available (&g, T0 + 100 * S), 3);
}

SHOAL_TEST (gcra_take_n)
{
    shoal_gcra_t g = s_gcra ("10/s", 10);
    uint64_t wait;
    CHECK (shoal_gcra_take_n (&g, T0, 4, &wait));
    CHECK (shoal_gcra_take_n (&g, T0, 4, &wait));
    /* All or none: 4 more need 2 cells that are not there yet. */
    CHECK (!shoal_gcra_take_n (&g, T0, 4, &wait));
    CHECK_EQ (wait, 200 * MS);
    CHECK (shoal_gcra_take_n (&g, T0, 2, &wait));
    CHECK (!shoal_gcra_take_n (&g, T0, 11, &wait));
    CHECK (wait == UINT64_MAX);
    uint64_t tat = g.tat_us;
    CHECK (shoal_gcra_take_n (&g, T0, 0, &wait));
    CHECK_EQ (wait, 0);
    CHECK (g.tat_us == tat);
    CHECK (shoal_gcra_take_n (&g, T0 + 1 * S, 10, &wait));
}

SHOAL_TEST (gcra_clock_going_back)
{
    /* If the caller's clock steps back, the cells already taken look as
       if taken in its future: refused until the clock catches up, with
       the exact wait, and nothing underflows. */
    shoal_gcra_t g = s_gcra ("1/s", 2);
    uint64_t wait;
    CHECK (shoal_gcra_take (&g, T0, NULL));
    CHECK (!shoal_gcra_take (&g, T0 - 10 * S, &wait));
    CHECK_EQ (wait, 10 * S);
    CHECK (!shoal_gcra_take (&g, 0, &wait));
    CHECK (wait == T0);
    CHECK_EQ (shoal_gcra_available (&g, T0 - 10 * S), 0);
    CHECK (shoal_gcra_take (&g, T0, NULL)); /* the rest of the burst */
    CHECK (!shoal_gcra_take (&g, T0, &wait));
    CHECK_EQ (wait, 1 * S);
    /* Near the end of time: no wrap into "allowed". */
    shoal_gcra_t h = s_gcra ("1/s", 1);
    CHECK (shoal_gcra_take (&h, UINT64_MAX - 5 * S, NULL));
    CHECK (!shoal_gcra_take (&h, UINT64_MAX - 5 * S, &wait));
    CHECK_EQ (wait, 1 * S);
}

SHOAL_TEST (gcra_parse_rates)
{
    static const struct {
        const char *text;
        uint64_t interval;
    } cases[] = {
        {"100/s", 10 * MS},    {"10/m", 6 * S},
        {"5/h", 720 * S},      {"1/d", 86400 * S},
        {"2/s", 500 * MS},     {"3/s", 333333},
        {"2/3s", 1500 * MS},   {"3/10s", 3333333},
        {"1/1.5s", 1500 * MS}, {"1/250ms", 250 * MS},
        {"1000/ms", 1},        {"1000000/s", 1},
        {"1999999/s", 1},      {"2000000/s", 1}, /* 0.5 us rounds up */
        {"6/us", 0}, /* 0.17 us rounds to 0: refused */
        {"007/s", 142857},     {"1/18446744073709551615us", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t t = 42;
        shoal_err_t rc = shoal_gcra_parse_rate (cases[i].text, &t);
        if (cases[i].interval == 0) {
            CHECK_RC (rc, SHOAL_ERR_INVALID);
            CHECK_EQ (t, 42);
        } else {
            CHECK_OK (rc);
            if (t != cases[i].interval) {
                SHOAL_FAIL_ ("\"%s\": %llu us, want %llu", cases[i].text,
                             (unsigned long long) t,
                             (unsigned long long) cases[i].interval);
            }
        }
    }
}

SHOAL_TEST (gcra_parse_errors)
{
    static const char *const bad[] = {
        "",          "/s",
        "100",       "100/",
        "0/s",       "100/x",
        "100/0s",    "-1/s",
        "1.5/s",     "100/10",
        "100/S",     "100 /s",
        "100/s ",    "100/ s",
        "100//s",    "100/s/s",
        "a/s",       "100/1",
        "3000000/s", "18446744073709551616/s",
        "1/0.5us",   "100/sssssssssssssssssssssssssssssssssss",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t t = 42;
        if (shoal_gcra_parse_rate (bad[i], &t) != SHOAL_ERR_INVALID) {
            SHOAL_FAIL_ ("\"%s\" was accepted as %llu us", bad[i],
                         (unsigned long long) t);
        }
        CHECK_EQ (t, 42);
    }
    shoal_gcra_t g;
    memset (&g, 0x5a, sizeof g);
    CHECK_RC (shoal_gcra_parse ("100/s", 0, &g), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_gcra_parse ("nope", 5, &g), SHOAL_ERR_INVALID);
    CHECK_EQ (g.burst, 0x5a5a5a5a);
    CHECK_OK (shoal_gcra_parse ("100/s", 7, &g));
    CHECK_EQ (g.burst, 7);
    CHECK_EQ (g.interval_us, 10 * MS);
    CHECK_EQ (g.tat_us, 0);
}

SHOAL_TEST (gcra_init_limits)
{
    shoal_gcra_t g;
    CHECK_RC (shoal_gcra_init (&g, 0, 1), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_gcra_init (&g, 1, 0), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_gcra_init (&g, UINT64_MAX, 1), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_gcra_init (&g, 1ull << 40, 1u << 22), SHOAL_ERR_INVALID);
    CHECK_OK (shoal_gcra_init (&g, 1ull << 40, 1u << 21));
    CHECK_OK (shoal_gcra_init (&g, 1, UINT32_MAX));
    CHECK_EQ (shoal_gcra_available (&g, T0), UINT32_MAX);
    CHECK_EQ (sizeof (shoal_gcra_t), 24);
}

SHOAL_TEST_MAIN (gcra_burst_then_deny, gcra_refusal_changes_nothing,
                 gcra_steady_rate, gcra_jittered_arrivals_keep_the_rate,
                 gcra_long_idle_resets_to_burst, gcra_available, gcra_take_n,
                 gcra_clock_going_back, gcra_parse_rates, gcra_parse_errors,
                 gcra_init_limits)
