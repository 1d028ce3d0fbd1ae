/*  test_retry.c - retry policies: the CLI syntax and its errors, each
    kind's delays and caps, attempts and classes, jitter bounds and
    reproducibility from a seed, format and msgpack round trips, and
    decoding of damaged or hostile records. */
#include "shoal_test.h"
#include "shoal_retry.h"
#include "shoal_wr.h"

#include <math.h>

#define MS 1000ull
#define S  1000000ull

static shoal_retry_t
s_policy (const char *text)
{
    shoal_retry_t p;
    char err[200];
    if (shoal_retry_parse (text, &p, err, sizeof err) != SHOAL_OK) {
        fprintf (stderr, "  parse \"%s\": %s\n", text, err);
        abort ();
    }
    return p;
}

/*  Field-by-field equality (struct padding makes memcmp unreliable). */
static bool
s_same (const shoal_retry_t *a, const shoal_retry_t *b)
{
    if (a->kind != b->kind || a->max_attempts != b->max_attempts ||
        a->delay_us != b->delay_us || a->max_delay_us != b->max_delay_us ||
        a->multiplier != b->multiplier || a->jitter != b->jitter ||
        a->n_on != b->n_on || a->n_not_on != b->n_not_on) {
        return false;
    }
    for (int i = 0; i < a->n_on; i++) {
        if (strcmp (a->on[i], b->on[i]) != 0) {
            return false;
        }
    }
    for (int i = 0; i < a->n_not_on; i++) {
        if (strcmp (a->not_on[i], b->not_on[i]) != 0) {
            return false;
        }
    }
    return true;
}

/*  The delay after attempt n, or UINT64_MAX when no retry is due. */
static uint64_t
s_delay (const shoal_retry_t *p, uint32_t n, const char *cls)
{
    uint64_t d = 0;
    return shoal_retry_next (p, n, cls, NULL, &d) ? d : UINT64_MAX;
}

SHOAL_TEST (retry_defaults)
{
    shoal_retry_t p = s_policy ("exponential");
    CHECK_EQ (p.kind, SHOAL_RETRY_EXPONENTIAL);
    CHECK_EQ (p.max_attempts, 3);
    CHECK_EQ (p.delay_us, 1 * S);
    CHECK_EQ (p.max_delay_us, 3600 * S);
    CHECK (p.multiplier == 2.0);
    CHECK (p.jitter == 0.0);
    CHECK_EQ (p.n_on, 0);
    CHECK_EQ (p.n_not_on, 0);
    shoal_retry_t q;
    shoal_retry_init (&q, SHOAL_RETRY_EXPONENTIAL);
    CHECK (s_same (&p, &q));
    CHECK_OK (shoal_retry_check (&q));
    p = s_policy ("none");
    CHECK_EQ (p.kind, SHOAL_RETRY_NONE);
    CHECK_EQ (s_policy ("fixed").kind, SHOAL_RETRY_FIXED);
    CHECK_EQ (s_policy ("linear").kind, SHOAL_RETRY_LINEAR);
    CHECK_STR (shoal_retry_kind_name (SHOAL_RETRY_LINEAR), "linear");
    CHECK_STR (shoal_retry_kind_name (9), "?");
    CHECK_STR (shoal_retry_kind_name (-1), "?");
}

SHOAL_TEST (retry_parse_every_option)
{
    shoal_retry_t p = s_policy ("exponential:max=5,delay=500ms,max_delay=30s,"
                                "multiplier=1.5,jitter=0.25,on=timeout|exit:3,"
                                "not_on=exit:3:fatal");
    CHECK_EQ (p.kind, SHOAL_RETRY_EXPONENTIAL);
    CHECK_EQ (p.max_attempts, 5);
    CHECK_EQ (p.delay_us, 500 * MS);
    CHECK_EQ (p.max_delay_us, 30 * S);
    CHECK (p.multiplier == 1.5);
    CHECK (p.jitter == 0.25);
    CHECK_EQ (p.n_on, 2);
    CHECK_STR (p.on[0], "timeout");
    CHECK_STR (p.on[1], "exit:3");
    CHECK_EQ (p.n_not_on, 1);
    CHECK_STR (p.not_on[0], "exit:3:fatal");
    /* Any order; a bare number is milliseconds. */
    p = s_policy ("fixed:delay=250,max=10");
    CHECK_EQ (p.delay_us, 250 * MS);
    CHECK_EQ (p.max_attempts, 10);
    p = s_policy ("linear:max_delay=2h,delay=1.5m");
    CHECK_EQ (p.delay_us, 90 * S);
    CHECK_EQ (p.max_delay_us, 7200 * S);
    p = s_policy ("fixed:on=a|b|c|d|e|f|g|h");
    CHECK_EQ (p.n_on, 8);
    CHECK_STR (p.on[7], "h");
    p = s_policy ("fixed:on=abcdefghijklmnopqrstuvwxyz01234");
    CHECK_STR (p.on[0], "abcdefghijklmnopqrstuvwxyz01234");
    p = s_policy ("fixed:jitter=1,max=1000000,delay=0,max_delay=0");
    CHECK (p.jitter == 1.0);
    CHECK_EQ (p.max_attempts, 1000000);
    p = s_policy ("exponential:multiplier=1000,jitter=0.000000000000001");
    CHECK (p.multiplier == 1000.0);
    CHECK (p.jitter == 1e-15);
    p = s_policy ("exponential:multiplier=2.50,jitter=0.10");
    CHECK (p.multiplier == 2.5);
    CHECK (p.jitter == 0.1);
}

SHOAL_TEST (retry_parse_errors)
{
    static const char *const cases[][2] = {
        {"", "unknown kind \"\""},
        {"exp", "unknown kind \"exp\" (expected none, fixed, linear or "
                "exponential)"},
        {"Fixed", "unknown kind \"Fixed\""},
        {"exponential ", "unknown kind \"exponential \""},
        {"none:max=3", "none takes no options"},
        {"fixed:", "expected OPTION=VALUE after ':'"},
        {"fixed:max=3,", "empty option"},
        {"fixed:,max=3", "empty option"},
        {"fixed:max", "option \"max\" needs a value"},
        {"fixed:retries=3", "unknown option \"retries\""},
        {"fixed: max=3", "unknown option \" max\""},
        {"fixed:max=3,max=4", "max given twice"},
        {"fixed:max=0", "max: \"0\" is not a whole number from 1 to 1000000"},
        {"fixed:max=", "max: \"\" is not a whole number"},
        {"fixed:max=-1", "max: \"-1\" is not"},
        {"fixed:max=3x", "max: \"3x\" is not"},
        {"fixed:max=1000001", "max: \"1000001\" is not"},
        {"fixed:max=99999999999999999999999", "max: \"9999"},
        {"fixed:delay=2x", "delay: \"2x\" is not a duration (like 500ms, "
                           "2s, 1.5m)"},
        {"fixed:delay=", "delay: \"\" is not a duration"},
        {"fixed:max_delay=-1s", "max_delay: \"-1s\" is not a duration"},
        {"fixed:delay=2h", "delay (2h) is more than max_delay (1h, the "
                           "default)"},
        {"fixed:delay=10s,max_delay=5s", "delay (10s) is more than "
                                         "max_delay (5s)"},
        {"fixed:multiplier=2", "multiplier applies only to exponential"},
        {"exponential:multiplier=0.5", "multiplier: \"0.5\" is not a number "
                                       "from 1 to 1000"},
        {"exponential:multiplier=1001", "multiplier: \"1001\" is not"},
        {"exponential:multiplier=1e3", "multiplier: \"1e3\" is not"},
        {"exponential:multiplier=nan", "multiplier: \"nan\" is not"},
        {"exponential:multiplier=.5", "multiplier: \".5\" is not"},
        {"exponential:multiplier=2.", "multiplier: \"2.\" is not"},
        {"exponential:multiplier=1.000000000000001", "multiplier: "},
        {"fixed:jitter=1.01", "jitter: \"1.01\" is not a fraction from 0 "
                              "to 1"},
        {"fixed:jitter=-0.1", "jitter: \"-0.1\" is not"},
        {"fixed:jitter=0.0000000000000001", "jitter: "},
        {"fixed:on=", "on: bad class \"\""},
        {"fixed:on=a||b", "on: bad class \"\""},
        {"fixed:on=a|", "on: bad class \"\""},
        {"fixed:on=time out", "on: bad class \"time out\""},
        {"fixed:not_on=a=b", "not_on: bad class \"a=b\""},
        {"fixed:on=abcdefghijklmnopqrstuvwxyz012345", "on: bad class"},
        {"fixed:on=a|b|c|d|e|f|g|h|i", "on: more than 8 classes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_retry_t p;
        memset (&p, 0x5a, sizeof p);
        char err[200];
        CHECK_RC (shoal_retry_parse (cases[i][0], &p, err, sizeof err),
                  SHOAL_ERR_INVALID);
        if (strncmp (err, cases[i][1], strlen (cases[i][1])) != 0) {
            SHOAL_FAIL_ ("\"%s\": got \"%s\", want \"%s...\"", cases[i][0], err,
                         cases[i][1]);
        }
        CHECK_EQ (p.max_attempts, 0x5a5a5a5a); /* untouched */
    }
    shoal_retry_t p;
    CHECK_RC (shoal_retry_parse ("bogus", &p, NULL, 0), SHOAL_ERR_INVALID);
    char err[16] = "stale";
    CHECK_OK (shoal_retry_parse ("none", &p, err, sizeof err));
    CHECK_STR (err, "");
}

SHOAL_TEST (retry_fixed)
{
    shoal_retry_t p = s_policy ("fixed:max=4,delay=2s");
    CHECK_EQ (s_delay (&p, 1, "error"), 2 * S);
    CHECK_EQ (s_delay (&p, 2, "error"), 2 * S);
    CHECK_EQ (s_delay (&p, 3, "error"), 2 * S);
    CHECK (s_delay (&p, 4, "error") == UINT64_MAX); /* four runs in all */
    CHECK (s_delay (&p, 5, "error") == UINT64_MAX);
    CHECK (s_delay (&p, UINT32_MAX, "error") == UINT64_MAX);
    CHECK_EQ (s_delay (&p, 0, "error"), 2 * S); /* 0 is taken as 1 */
    p = s_policy ("fixed:delay=0,max=2");
    CHECK_EQ (s_delay (&p, 1, NULL), 0);
}

SHOAL_TEST (retry_linear)
{
    shoal_retry_t p = s_policy ("linear:max=10,delay=3s,max_delay=20s");
    CHECK_EQ (s_delay (&p, 1, NULL), 3 * S);
    CHECK_EQ (s_delay (&p, 2, NULL), 6 * S);
    CHECK_EQ (s_delay (&p, 6, NULL), 18 * S);
    CHECK_EQ (s_delay (&p, 7, NULL), 20 * S); /* 21s, capped */
    CHECK_EQ (s_delay (&p, 9, NULL), 20 * S);
    CHECK (s_delay (&p, 10, NULL) == UINT64_MAX);
    /* The product overflowing 64 bits still caps. */
    p.delay_us = UINT64_MAX / 2;
    p.max_delay_us = UINT64_MAX;
    p.max_attempts = SHOAL_RETRY_MAX_ATTEMPTS;
    CHECK_OK (shoal_retry_check (&p));
    CHECK (s_delay (&p, 3, NULL) == UINT64_MAX);
}

SHOAL_TEST (retry_exponential)
{
    shoal_retry_t p = s_policy ("exponential:max=20,delay=1s,max_delay=60s");
    static const uint64_t want[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
    for (uint32_t n = 1; n <= 9; n++) {
        CHECK_EQ (s_delay (&p, n, "x"), want[n - 1] * S);
    }
    CHECK_EQ (s_delay (&p, 19, "x"), 60 * S);
    CHECK (s_delay (&p, 20, "x") == UINT64_MAX);
    p = s_policy ("exponential:max=10,delay=100ms,multiplier=1.5");
    CHECK_EQ (s_delay (&p, 1, NULL), 100 * MS);
    CHECK_EQ (s_delay (&p, 2, NULL), 150 * MS);
    CHECK_EQ (s_delay (&p, 3, NULL), 225 * MS);
    CHECK_EQ (s_delay (&p, 4, NULL), 337500);
    CHECK_EQ (s_delay (&p, 5, NULL), 506250);
    /* multiplier 1 is fixed; huge attempt numbers saturate at the cap
       without looping or overflowing. */
    p = s_policy ("exponential:max=1000000,delay=7s,multiplier=1");
    CHECK_EQ (s_delay (&p, 999999, NULL), 7 * S);
    p = s_policy ("exponential:max=1000000,delay=1us,multiplier=1000");
    CHECK_EQ (s_delay (&p, 999999, NULL), 3600 * S);
    p.max_delay_us = UINT64_MAX;
    CHECK (s_delay (&p, 999999, NULL) == UINT64_MAX);
    p = s_policy ("exponential:max=100,delay=0,max_delay=0");
    CHECK_EQ (s_delay (&p, 99, NULL), 0);
}

SHOAL_TEST (retry_none_and_single_attempt)
{
    shoal_retry_t p = s_policy ("none");
    CHECK (s_delay (&p, 1, NULL) == UINT64_MAX);
    CHECK (s_delay (&p, 0, "timeout") == UINT64_MAX);
    p = s_policy ("exponential:max=1");
    CHECK (s_delay (&p, 1, NULL) == UINT64_MAX);
    /* *delay_us is left alone when no retry is due. */
    uint64_t d = 99;
    CHECK (!shoal_retry_next (&p, 1, NULL, NULL, &d));
    CHECK_EQ (d, 99);
}

SHOAL_TEST (retry_class_matching)
{
    CHECK (shoal_retry_class_matches ("timeout", "timeout"));
    CHECK (shoal_retry_class_matches ("exit", "exit:3"));
    CHECK (shoal_retry_class_matches ("exit:3", "exit:3"));
    CHECK (shoal_retry_class_matches ("exit:3", "exit:3:oom"));
    CHECK (!shoal_retry_class_matches ("exit:1", "exit:10"));
    CHECK (shoal_retry_class_matches ("exit:", "exit:10"));
    CHECK (!shoal_retry_class_matches ("exit:", "exit"));
    CHECK (!shoal_retry_class_matches ("time", "timeout"));
    CHECK (!shoal_retry_class_matches ("timeout", "time"));
    CHECK (!shoal_retry_class_matches ("Timeout", "timeout"));
    CHECK (!shoal_retry_class_matches ("x", NULL));
    CHECK (!shoal_retry_class_matches ("x", ""));
    CHECK (!shoal_retry_class_matches ("", ""));
    CHECK (!shoal_retry_class_matches (NULL, "x"));
}

SHOAL_TEST (retry_on_and_not_on)
{
    shoal_retry_t p = s_policy ("fixed:max=5,on=timeout|exit");
    CHECK_EQ (s_delay (&p, 1, "timeout"), 1 * S);
    CHECK_EQ (s_delay (&p, 1, "exit:3"), 1 * S);
    CHECK (s_delay (&p, 1, "signal:9") == UINT64_MAX);
    CHECK (s_delay (&p, 1, NULL) == UINT64_MAX); /* no class: no match */
    CHECK (s_delay (&p, 1, "") == UINT64_MAX);
    p = s_policy ("fixed:max=5,not_on=exit:2|signal");
    CHECK_EQ (s_delay (&p, 1, "exit:3"), 1 * S);
    CHECK_EQ (s_delay (&p, 1, NULL), 1 * S);
    CHECK (s_delay (&p, 1, "exit:2") == UINT64_MAX);
    CHECK (s_delay (&p, 1, "signal:9") == UINT64_MAX);
    /* not_on wins over on. */
    p = s_policy ("fixed:max=5,on=exit,not_on=exit:2");
    CHECK_EQ (s_delay (&p, 1, "exit:1"), 1 * S);
    CHECK (s_delay (&p, 1, "exit:2") == UINT64_MAX);
    CHECK (s_delay (&p, 1, "timeout") == UINT64_MAX);
    /* Attempts are checked regardless of class. */
    CHECK (s_delay (&p, 5, "exit:1") == UINT64_MAX);
}

SHOAL_TEST (retry_rand_is_splitmix64)
{
    /* The reference sequence of splitmix64 seeded with 0. */
    uint64_t s = 0;
    CHECK (shoal_retry_rand (&s) == 0xe220a8397b1dcdafull);
    CHECK (shoal_retry_rand (&s) == 0x6e789e6aa1b965f4ull);
    CHECK (shoal_retry_rand (&s) == 0x06c45d188009454full);
    CHECK (s == 3 * 0x9e3779b97f4a7c15ull);
}

SHOAL_TEST (retry_jitter_bounds)
{
    shoal_retry_t p = s_policy ("fixed:max=5,delay=1s,jitter=0.5");
    uint64_t seed = 42, lo = UINT64_MAX, hi = 0;
    double sum = 0;
    int n = 100000, below = 0;
    for (int i = 0; i < n; i++) {
        uint64_t d;
        CHECK (shoal_retry_next (&p, 1, NULL, &seed, &d));
        CHECK (d >= 500 * MS && d <= 1500 * MS);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += (double) d;
        below += d < 1 * S;
    }
    /* Uniform over [0.5s, 1.5s]: the extremes are nearly reached, the
       mean is the delay, half fall below it. */
    CHECK (lo < 500 * MS + 1000);
    CHECK (hi > 1500 * MS - 1000);
    CHECK (fabs (sum / n - 1e6) < 3000);
    CHECK (abs (below - n / 2) < 1000);
    /* Jitter applies after the cap and may exceed it; never negative. */
    p = s_policy ("exponential:max=50,delay=1s,max_delay=10s,jitter=1");
    seed = 7;
    bool over = false;
    for (int i = 0; i < 10000; i++) {
        uint64_t d;
        CHECK (shoal_retry_next (&p, 30, NULL, &seed, &d));
        CHECK (d <= 20 * S);
        over = over || d > 10 * S;
    }
    CHECK (over);
}

SHOAL_TEST (retry_jitter_reproducible)
{
    shoal_retry_t p = s_policy ("exponential:max=9,delay=100ms,jitter=0.2");
    uint64_t a = 1234, b = 1234, c = 1235;
    bool differs = false;
    for (uint32_t n = 1; n < 9; n++) {
        uint64_t da, db, dc;
        CHECK (shoal_retry_next (&p, n, "x", &a, &da));
        CHECK (shoal_retry_next (&p, n, "x", &b, &db));
        CHECK (shoal_retry_next (&p, n, "x", &c, &dc));
        CHECK_EQ (da, db);
        differs = differs || da != dc;
    }
    CHECK (a == b);
    CHECK (differs);
    /* Exact values for a fixed seed: one draw per call here (the range is
       far from a power of two, so rejection almost never repeats). */
    uint64_t s = 0, d;
    shoal_retry_t f = s_policy ("fixed:delay=1s,jitter=0.5");
    CHECK (shoal_retry_next (&f, 1, NULL, &s, &d));
    CHECK_EQ (d, 500000 + 0xe220a8397b1dcdafull % 1000001);
    /* No jitter: the state is not touched; NULL state: no jitter. */
    shoal_retry_t z = s_policy ("fixed:delay=1s");
    s = 99;
    CHECK (shoal_retry_next (&z, 1, NULL, &s, &d));
    CHECK_EQ (d, 1 * S);
    CHECK_EQ (s, 99);
    CHECK (shoal_retry_next (&f, 1, NULL, NULL, &d));
    CHECK_EQ (d, 1 * S);
    /* Tiny delays with jitter stay whole and in range. */
    shoal_retry_t t = s_policy ("fixed:delay=1us,jitter=1");
    for (int i = 0; i < 100; i++) {
        CHECK (shoal_retry_next (&t, 1, NULL, &s, &d));
        CHECK (d <= 2);
    }
}

SHOAL_TEST (retry_format)
{
    static const char *const cases[][2] = {
        {"none", "none"},
        {"exponential", "exponential:max=3,delay=1s,max_delay=1h,"
                        "multiplier=2"},
        {"fixed:max=5,delay=250ms,jitter=0.1,on=timeout|exit:3",
         "fixed:max=5,delay=250ms,max_delay=1h,jitter=0.1,on=timeout|exit:3"},
        {"linear:not_on=a|b,on=c,delay=1.5s,max_delay=90m",
         "linear:max=3,delay=1.5s,max_delay=1.5h,on=c,not_on=a|b"},
        {"exponential:multiplier=1.25,jitter=0.05,delay=1234567us",
         "exponential:max=3,delay=1234.567ms,max_delay=1h,multiplier=1.25,"
         "jitter=0.05"},
        {"exponential:multiplier=999.123456789012,jitter=0.123456789012345",
         "exponential:max=3,delay=1s,max_delay=1h,"
         "multiplier=999.123456789012,jitter=0.123456789012345"},
        {"fixed:delay=0,max_delay=0", "fixed:max=3,delay=0s,max_delay=0s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_retry_t p = s_policy (cases[i][0]);
        char buf[SHOAL_RETRY_STRLEN];
        CHECK_OK (shoal_retry_format (&p, buf, sizeof buf));
        CHECK_STR (buf, cases[i][1]);
        shoal_retry_t back = s_policy (buf);
        CHECK (s_same (&p, &back));
    }
}

SHOAL_TEST (retry_format_round_trips)
{
    /* Random valid policies, including the longest text there is. */
    uint64_t seed = 5;
    for (int i = 0; i < 2000; i++) {
        shoal_retry_t p;
        shoal_retry_init (&p, (shoal_retry_kind_t) (1 + i % 3));
        p.max_attempts = 1 + (uint32_t) (shoal_retry_rand (&seed) % 1000000);
        p.max_delay_us = shoal_retry_rand (&seed) >> (i % 64);
        p.delay_us = p.max_delay_us >> (shoal_retry_rand (&seed) % 64);
        /* 15 significant digits, as the CLI allows. */
        p.multiplier = 1 + (double) (shoal_retry_rand (&seed) % 1000) / 7;
        p.multiplier = (double) (uint64_t) (p.multiplier * 1e12) / 1e12;
        if (p.kind != SHOAL_RETRY_EXPONENTIAL) {
            p.multiplier = 2.0; /* only exponential writes it */
        }
        p.jitter =
            (double) (shoal_retry_rand (&seed) % 1000000000000000ull) / 1e15;
        p.n_on = (uint8_t) (i % 9);
        p.n_not_on = (uint8_t) ((i / 9) % 9);
        for (int k = 0; k < 8; k++) {
            memset (p.on[k], 'a' + k, 31);
            p.on[k][31] = '\0';
            snprintf (p.not_on[k], sizeof p.not_on[k], "exit:%d", k);
        }
        CHECK_OK (shoal_retry_check (&p));
        char buf[SHOAL_RETRY_STRLEN];
        CHECK_OK (shoal_retry_format (&p, buf, sizeof buf));
        shoal_retry_t back;
        char err[200];
        if (shoal_retry_parse (buf, &back, err, sizeof err) != SHOAL_OK) {
            SHOAL_FAIL_ ("\"%s\": %s", buf, err);
        }
        if (!s_same (&p, &back)) {
            SHOAL_FAIL_ ("\"%s\" did not round-trip (multiplier %.17g -> "
                         "%.17g, jitter %.17g -> %.17g)",
                         buf, p.multiplier, back.multiplier, p.jitter,
                         back.jitter);
        }
    }
}

SHOAL_TEST (retry_format_too_small)
{
    shoal_retry_t p = s_policy ("exponential");
    char buf[12];
    memset (buf, 'x', sizeof buf);
    CHECK_RC (shoal_retry_format (&p, buf, sizeof buf), SHOAL_ERR_TOO_LARGE);
    CHECK_STR (buf, "exponential");
    CHECK_RC (shoal_retry_format (&p, buf, 0), SHOAL_ERR_TOO_LARGE);
    p = s_policy ("none");
    CHECK_RC (shoal_retry_format (&p, buf, 4), SHOAL_ERR_TOO_LARGE);
    CHECK_STR (buf, "non");
    CHECK_OK (shoal_retry_format (&p, buf, 5));
    CHECK_STR (buf, "none");
}

SHOAL_TEST (retry_msgpack_round_trip)
{
    static const char *const texts[] = {
        "none",
        "fixed",
        "linear:max=7,delay=2s,max_delay=1m,jitter=1",
        ("exponential:max=1000000,delay=1us,max_delay=0.5d,multiplier=1.7,"
         "jitter=0.3,on=a|b:c|d/e|f.g|h-i|j_k|l|m,not_on=x|y"),
    };
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        shoal_retry_t p = s_policy (texts[i]), back;
        shoal_wr_reset (wr);
        shoal_retry_encode (&p, wr);
        CHECK_OK (shoal_wr_error (wr));
        memset (&back, 0, sizeof back);
        CHECK_OK (
            shoal_retry_decode (shoal_wr_data (wr), shoal_wr_size (wr), &back));
        CHECK (s_same (&p, &back));
    }
    shoal_wr_destroy (&wr);
}

/*  Encodes a hand-made map for the decoder. */
static const uint8_t *
s_map (shoal_wr_t *wr, size_t *size, const char *kind, int extra)
{
    shoal_wr_reset (wr);
    shoal_wr_map (wr, (uint32_t) (1 + (extra >= 0)));
    shoal_wr_kv_str (wr, "kind", kind);
    switch (extra) {
        case 0: /* max 0 */
            shoal_wr_kv_uint (wr, "max", 0);
            break;
        case 1: /* jitter out of range */
            shoal_wr_str (wr, "jitter");
            shoal_wr_double (wr, 1.5);
            break;
        case 2: /* nine classes */
            shoal_wr_str (wr, "on");
            shoal_wr_array (wr, 9);
            for (int i = 0; i < 9; i++) {
                shoal_wr_str (wr, "a");
            }
            break;
        case 3: /* a 32-character class */
            shoal_wr_str (wr, "not_on");
            shoal_wr_array (wr, 1);
            shoal_wr_str (wr, "abcdefghijklmnopqrstuvwxyz012345");
            break;
        case 4: /* max as a string */
            shoal_wr_kv_str (wr, "max", "3");
            break;
        case 5: /* repeated kind */
            shoal_wr_kv_str (wr, "kind", kind);
            break;
        case 6: /* an unknown key with a nested value: skipped */
            shoal_wr_str (wr, "future");
            shoal_wr_map (wr, 1);
            shoal_wr_str (wr, "deep");
            shoal_wr_array (wr, 2);
            shoal_wr_uint (wr, 1);
            shoal_wr_nil (wr);
            break;
        case 7: /* integer multiplier */
            shoal_wr_kv_uint (wr, "multiplier", 3);
            break;
        case 8: /* max over 32 bits */
            shoal_wr_kv_uint (wr, "max", 1ull << 32);
            break;
        case 9: /* delay above max_delay */
            shoal_wr_kv_uint (wr, "delay_us", 7200 * S);
            break;
        case 10: /* a class with a space */
            shoal_wr_str (wr, "on");
            shoal_wr_array (wr, 1);
            shoal_wr_str (wr, "a b");
            break;
        case 11: /* NaN jitter */
            shoal_wr_str (wr, "jitter");
            shoal_wr_double (wr, NAN);
            break;
        case 12: /* classes not an array */
            shoal_wr_kv_str (wr, "on", "timeout");
            break;
        case 13: /* an integer key */
            shoal_wr_uint (wr, 1);
            shoal_wr_uint (wr, 2);
            break;
        default:
            break;
    }
    *size = shoal_wr_size (wr);
    return shoal_wr_data (wr);
}

SHOAL_TEST (retry_decode_errors)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    size_t n;
    const uint8_t *m;
    shoal_retry_t p;
    static const struct {
        int extra;
        shoal_err_t want;
    } cases[] = {
        {0, SHOAL_ERR_INVALID},
        {1, SHOAL_ERR_INVALID},
        {2, SHOAL_ERR_TOO_LARGE},
        {3, SHOAL_ERR_TOO_LARGE},
        {4, SHOAL_ERR_MALFORMED},
        {5, SHOAL_ERR_MALFORMED},
        {6, SHOAL_OK},
        {7, SHOAL_OK},
        {8, SHOAL_ERR_INVALID},
        {9, SHOAL_ERR_INVALID},
        {10, SHOAL_ERR_INVALID},
        {11, SHOAL_ERR_INVALID},
        {12, SHOAL_ERR_MALFORMED},
        {13, SHOAL_ERR_MALFORMED},
        {-1, SHOAL_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m = s_map (wr, &n, "exponential", cases[i].extra);
        memset (&p, 0x5a, sizeof p);
        shoal_err_t rc = shoal_retry_decode (m, n, &p);
        if (rc != cases[i].want) {
            SHOAL_FAIL_ ("case %d: %s, want %s", cases[i].extra,
                         shoal_errname (rc), shoal_errname (cases[i].want));
        }
        if (rc == SHOAL_OK) {
            CHECK_EQ (p.kind, SHOAL_RETRY_EXPONENTIAL);
            CHECK_EQ (p.max_attempts, 3); /* defaults for missing keys */
            CHECK (p.multiplier == (cases[i].extra == 7 ? 3.0 : 2.0));
        } else {
            CHECK_EQ (p.max_attempts, 0x5a5a5a5a);
        }
    }
    m = s_map (wr, &n, "bogus", -1);
    CHECK_RC (shoal_retry_decode (m, n, &p), SHOAL_ERR_INVALID);
    /* No kind at all; not a map; empty; trailing bytes. */
    CHECK_RC (shoal_retry_decode ((const uint8_t *) "\x80", 1, &p),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (shoal_retry_decode ((const uint8_t *) "\x91\x01", 2, &p),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (shoal_retry_decode ((const uint8_t *) "", 0, &p),
              SHOAL_ERR_MALFORMED);
    m = s_map (wr, &n, "fixed", -1);
    uint8_t buf[64];
    CHECK (n < sizeof buf);
    memcpy (buf, m, n);
    buf[n] = 0xc0;
    CHECK_RC (shoal_retry_decode (buf, n + 1, &p), SHOAL_ERR_MALFORMED);
    CHECK_OK (shoal_retry_decode (buf, n, &p));
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (retry_decode_every_truncation)
{
    /* Every prefix of a full record fails cleanly (ASan watches the
       reads: each prefix sits in its own exact-size allocation). */
    shoal_retry_t p = s_policy ("exponential:max=5,delay=1s,jitter=0.5,"
                                "on=timeout|exit:3,not_on=exit:3:fatal");
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_retry_encode (&p, wr);
    size_t n = shoal_wr_size (wr);
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc (len ? len : 1);
        CHECK (copy);
        memcpy (copy, shoal_wr_data (wr), len);
        shoal_retry_t q;
        shoal_err_t rc = shoal_retry_decode (copy, len, &q);
        free (copy);
        if (rc == SHOAL_OK) {
            SHOAL_FAIL_ ("a %zu-byte prefix of %zu decoded", len, n);
        }
    }
    /* And every single-byte corruption either decodes to a valid policy
       or fails; it never crashes. */
    uint8_t *buf = malloc (n);
    CHECK (buf);
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < 256; v += 17) {
            memcpy (buf, shoal_wr_data (wr), n);
            buf[i] = (uint8_t) v;
            shoal_retry_t q;
            if (shoal_retry_decode (buf, n, &q) == SHOAL_OK) {
                CHECK_OK (shoal_retry_check (&q));
            }
        }
    }
    free (buf);
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (retry_check)
{
    shoal_retry_t p;
    shoal_retry_init (&p, SHOAL_RETRY_FIXED);
    CHECK_OK (shoal_retry_check (&p));
    shoal_retry_t q = p;
    q.kind = (shoal_retry_kind_t) 4;
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
    q = p;
    q.max_attempts = 0;
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
    q = p;
    q.delay_us = q.max_delay_us + 1;
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
    q = p;
    q.multiplier = 0.5;
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
    q = p;
    q.jitter = -0.1;
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
    q = p;
    q.n_on = 9;
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
    q = p;
    q.n_on = 1; /* on[0] is "" */
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
    q = p;
    q.n_not_on = 1;
    memset (q.not_on[0], 'a', sizeof q.not_on[0]); /* no NUL */
    CHECK_RC (shoal_retry_check (&q), SHOAL_ERR_INVALID);
}

SHOAL_TEST_MAIN (retry_defaults, retry_parse_every_option, retry_parse_errors,
                 retry_fixed, retry_linear, retry_exponential,
                 retry_none_and_single_attempt, retry_class_matching,
                 retry_on_and_not_on, retry_rand_is_splitmix64,
                 retry_jitter_bounds, retry_jitter_reproducible, retry_format,
                 retry_format_round_trips, retry_format_too_small,
                 retry_msgpack_round_trip, retry_decode_errors,
                 retry_decode_every_truncation, retry_check)
