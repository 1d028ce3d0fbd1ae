/*  test_breaker.c - the circuit breaker at exact microseconds: min_calls
    and the threshold, the sliding window's bucket edges, open, half-open
    after exactly open_for, trial slots, re-opening and closing, late
    results from earlier generations; and the policy text, its errors,
    checks and the msgpack round trip, including damaged records. */
#include "shoal_test.h"
#include "shoal_breaker.h"
#include "shoal_mp.h"
#include "shoal_wr.h"

#define MS 1000ull
#define S  1000000ull

/* An arbitrary origin far from zero, on a whole second like a real clock
   would rarely be; tests that care about bucket edges add offsets. */
#define T0 (1700000000ull * S)

/* Not a state: what s_call leaves in ch->to when nothing changed. */
#define NO_CHANGE ((shoal_breaker_state_t) 9)

static shoal_breaker_policy_t
s_policy (const char *text)
{
    shoal_breaker_policy_t p;
    char err[200];
    if (shoal_breaker_policy_parse (text, &p, err, sizeof err) != SHOAL_OK) {
        fprintf (stderr, "  parse \"%s\": %s\n", text, err);
        abort ();
    }
    return p;
}

static shoal_breaker_t
s_breaker (const char *text)
{
    shoal_breaker_policy_t p = s_policy (text);
    shoal_breaker_t b;
    shoal_breaker_init (&b, &p);
    return b;
}

static bool
s_same (const shoal_breaker_policy_t *a, const shoal_breaker_policy_t *b)
{
    return a->rate_ppm == b->rate_ppm && a->min_calls == b->min_calls &&
           a->window_us == b->window_us && a->open_us == b->open_us &&
           a->successes == b->successes && a->trials == b->trials;
}

/*  One call at now with outcome ok: allowed (or not) and recorded. The
    decision is returned; a change, if any, lands in *ch (ch->to is set
    to NO_CHANGE first so "no change" is visible). */
static shoal_breaker_decision_t
s_call (shoal_breaker_t *b, uint64_t now, bool ok, shoal_breaker_change_t *ch)
{
    shoal_breaker_ticket_t tk;
    shoal_breaker_change_t dummy;
    shoal_breaker_change_t *c = ch ? ch : &dummy;
    c->to = NO_CHANGE;
    shoal_breaker_allow (b, now, &tk, c);
    if (tk.decision != SHOAL_BREAKER_REJECT) {
        shoal_breaker_record (b, now, tk, ok, c);
    }
    return tk.decision;
}

static uint32_t
s_calls (const shoal_breaker_t *b, uint64_t now, uint32_t *failures)
{
    uint32_t c, f;
    shoal_breaker_counts (b, now, &c, &f);
    if (failures) {
        *failures = f;
    }
    return c;
}

SHOAL_TEST (breaker_policy_defaults)
{
    shoal_breaker_policy_t p, q;
    shoal_breaker_policy_init (&p);
    CHECK_EQ (p.rate_ppm, 500000);
    CHECK_EQ (p.min_calls, 20);
    CHECK_EQ (p.window_us, 60 * S);
    CHECK_EQ (p.open_us, 30 * S);
    CHECK_EQ (p.successes, 3);
    CHECK_EQ (p.trials, 0);
    CHECK_EQ (shoal_breaker_policy_trials (&p), 3);
    CHECK_OK (shoal_breaker_policy_check (&p, NULL, 0));
    q = s_policy ("rate=0.5,min=20,window=60s,open=30s,successes=3");
    CHECK (s_same (&p, &q));
    q = s_policy ("successes=5");
    CHECK_EQ (shoal_breaker_policy_trials (&q), 5); /* follows successes */
    q = s_policy ("successes=5,trials=2");
    CHECK_EQ (shoal_breaker_policy_trials (&q), 2);
    CHECK_EQ (sizeof (shoal_breaker_policy_t), 32);
}

SHOAL_TEST (breaker_policy_parse_values)
{
    static const struct {
        const char *rate;
        uint32_t ppm;
    } rates[] = {
        {"0.5", 500000},   {"1", 1000000},     {"1.0", 1000000},
        {"0.125", 125000}, {"0.000001", 1},    {"0.30000000", 300000},
        {"50%", 500000},   {"12.5%", 125000},  {"100%", 1000000},
        {"0.0001%", 1},    {"000.25", 250000}, {"33.3333%", 333333},
    };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        char text[64];
        snprintf (text, sizeof text, "rate=%s", rates[i].rate);
        shoal_breaker_policy_t p = s_policy (text);
        if (p.rate_ppm != rates[i].ppm) {
            SHOAL_FAIL_ ("\"%s\": %u ppm, want %u", text, p.rate_ppm,
                         rates[i].ppm);
        }
    }
    shoal_breaker_policy_t p =
        s_policy ("trials=7,open=1.5m,window=250,min=1,successes=10000");
    CHECK_EQ (p.trials, 7);
    CHECK_EQ (p.open_us, 90 * S);
    CHECK_EQ (p.window_us, 250 * MS); /* a bare number is milliseconds */
    CHECK_EQ (p.min_calls, 1);
    CHECK_EQ (p.successes, 10000);
    CHECK_EQ (p.rate_ppm, 500000); /* the default */
    p = s_policy ("window=10us,open=1us,min=1000000,trials=10000");
    CHECK_EQ (p.window_us, 10);
    CHECK_EQ (p.open_us, 1);
    CHECK_EQ (p.min_calls, 1000000);
    p = s_policy ("window=1d,open=24h");
    CHECK_EQ (p.window_us, 86400 * S);
    CHECK_EQ (p.open_us, 86400 * S);
}

SHOAL_TEST (breaker_policy_parse_errors)
{
    static const char *const cases[][2] = {
        {"", "empty option"},
        {"rate=0.5,", "empty option"},
        {",rate=0.5", "empty option"},
        {"rate", "option \"rate\" needs a value (NAME=VALUE)"},
        {"rat=0.5", "unknown option \"rat\" (expected rate, min, window, "
                    "open, successes or trials)"},
        {"Rate=0.5", "unknown option \"Rate\" (expected rate, min, window, "
                     "open, successes or trials)"},
        {" rate=0.5", "unknown option \" rate\" (expected rate, min, "
                      "window, open, successes or trials)"},
        {"min=3,min=4", "min given twice"},
        {"rate=", "rate: \"\" is not a number like 0.5 or 50% (at most 6 "
                  "decimals)"},
        {"rate=.5", "rate: \".5\" is not a number like 0.5 or 50% (at most "
                    "6 decimals)"},
        {"rate=0.0000001", "rate: \"0.0000001\" is not a number like 0.5 "
                           "or 50% (at most 6 decimals)"},
        {"rate=0.00001%", "rate: \"0.00001%\" is not a number like 0.5 or "
                          "50% (at most 6 decimals)"},
        {"rate=1e-1", "rate: \"1e-1\" is not a number like 0.5 or 50% (at "
                      "most 6 decimals)"},
        {"rate=-0.5", "rate: \"-0.5\" is not a number like 0.5 or 50% (at "
                      "most 6 decimals)"},
        {"rate=0", "rate must be above 0 and at most 1 (got 0)"},
        {"rate=0%", "rate must be above 0 and at most 1 (got 0)"},
        {"rate=1.5", "rate must be above 0 and at most 1 (got 1.5)"},
        {"rate=100.01%", "rate must be above 0 and at most 1 (got 1.0001)"},
        {"min=0", "min must be from 1 to 1000000 (got 0)"},
        {"min=1000001", "min must be from 1 to 1000000 (got 1000001)"},
        {"min=20x", "min: \"20x\" is not a whole number"},
        {"min=99999999999999999999", "min: \"99999999999999999999\" is "
                                     "not a whole number"},
        {"window=1x", "window: \"1x\" is not a duration (like 500ms, 2s, "
                      "1.5m)"},
        {"window=5us", "window must be from 10us to 1d (got 5us)"},
        {"window=0", "window must be from 10us to 1d (got 0s)"},
        {"window=25h", "window must be from 10us to 1d (got 25h)"},
        {"window=65us", "window must be a multiple of 10us, one per bucket "
                        "(got 65us)"},
        {"open=0s", "open must be from 1us to 1d (got 0s)"},
        {"open=2d", "open must be from 1us to 1d (got 2d)"},
        {"open=", "open: \"\" is not a duration (like 500ms, 2s, 1.5m)"},
        {"successes=0", "successes must be from 1 to 10000 (got 0)"},
        {"successes=10001", "successes must be from 1 to 10000 (got 10001)"},
        {"trials=0", "trials must be from 1 to 10000 (got 0)"},
        {"trials=-1", "trials: \"-1\" is not a whole number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_breaker_policy_t p;
        memset (&p, 0x5a, sizeof p);
        char err[200];
        CHECK_RC (shoal_breaker_policy_parse (cases[i][0], &p, err, sizeof err),
                  SHOAL_ERR_INVALID);
        if (strcmp (err, cases[i][1]) != 0) {
            SHOAL_FAIL_ ("\"%s\": got \"%s\", want \"%s\"", cases[i][0], err,
                         cases[i][1]);
        }
        CHECK_EQ (p.min_calls, 0x5a5a5a5a); /* untouched */
    }
    /* No room for the message is fine; a short buffer truncates. */
    shoal_breaker_policy_t p;
    CHECK_RC (shoal_breaker_policy_parse ("min=0", &p, NULL, 0),
              SHOAL_ERR_INVALID);
    char err[8];
    CHECK_RC (shoal_breaker_policy_parse ("min=0", &p, err, sizeof err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "min mus");
    char ok[16] = "stale";
    CHECK_OK (shoal_breaker_policy_parse ("min=1", &p, ok, sizeof ok));
    CHECK_STR (ok, "");
}

SHOAL_TEST (breaker_policy_set_and_check)
{
    shoal_breaker_policy_t p;
    shoal_breaker_policy_init (&p);
    char err[200];
    CHECK_OK (shoal_breaker_policy_set (&p, "rate", "0.25", err, sizeof err));
    CHECK_OK (shoal_breaker_policy_set (&p, "window", "2m", err, sizeof err));
    CHECK_OK (shoal_breaker_policy_set (&p, "trials", "4", err, sizeof err));
    CHECK_EQ (p.rate_ppm, 250000);
    CHECK_EQ (p.window_us, 120 * S);
    CHECK_EQ (p.trials, 4);
    shoal_breaker_policy_t before = p;
    CHECK_RC (shoal_breaker_policy_set (&p, "open", "-1s", err, sizeof err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "open: \"-1s\" is not a duration (like 500ms, 2s, 1.5m)");
    CHECK_RC (shoal_breaker_policy_set (&p, "max", "3", err, sizeof err),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "unknown option \"max\" (expected rate, min, window, "
                    "open, successes or trials)");
    CHECK (s_same (&p, &before));

    /* Hand-built values: each field's first error, named as in text. */
    static const struct {
        int field;
        uint64_t value;
        const char *msg;
    } cases[] = {
        {0, 0, "rate must be above 0 and at most 1 (got 0)"},
        {0, 1000001, "rate must be above 0 and at most 1 (got 1.000001)"},
        {1, 0, "min must be from 1 to 1000000 (got 0)"},
        {2, 9, "window must be from 10us to 1d (got 9us)"},
        {2, 61 * S + 1,
         "window must be a multiple of 10us, one per bucket "
         "(got 61000.001ms)"},
        {3, 0, "open must be from 1us to 1d (got 0s)"},
        {3, UINT64_MAX,
         "open must be from 1us to 1d (got "
         "18446744073709551.615ms)"},
        {4, 0, "successes must be from 1 to 10000 (got 0)"},
        {5, 10001, "trials must be from 1 to 10000 (got 10001)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_breaker_policy_init (&p);
        switch (cases[i].field) {
            case 0:
                p.rate_ppm = (uint32_t) cases[i].value;
                break;
            case 1:
                p.min_calls = (uint32_t) cases[i].value;
                break;
            case 2:
                p.window_us = cases[i].value;
                break;
            case 3:
                p.open_us = cases[i].value;
                break;
            case 4:
                p.successes = (uint32_t) cases[i].value;
                break;
            default:
                p.trials = (uint32_t) cases[i].value;
                break;
        }
        CHECK_RC (shoal_breaker_policy_check (&p, err, sizeof err),
                  SHOAL_ERR_INVALID);
        CHECK_STR (err, cases[i].msg);
    }
    shoal_breaker_policy_init (&p);
    p.trials = 0; /* the value form allows 0: as many as successes */
    CHECK_OK (shoal_breaker_policy_check (&p, err, sizeof err));
    CHECK_STR (err, "");
}

SHOAL_TEST (breaker_policy_format_round_trip)
{
    static const char *const texts[][2] = {
        {"min=1", "rate=0.5,min=1,window=1m,open=30s,successes=3"},
        {"rate=12.5%,window=90s,open=250ms,successes=2,trials=9",
         "rate=0.125,min=20,window=1.5m,open=250ms,successes=2,trials=9"},
        {"rate=0.000001,min=1000000,window=86399999990us,open=1us,"
         "successes=10000,trials=10000",
         "rate=0.000001,min=1000000,window=86399999.99ms,open=1us,"
         "successes=10000,trials=10000"},
        {"rate=1", "rate=1,min=20,window=1m,open=30s,successes=3"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        shoal_breaker_policy_t p = s_policy (texts[i][0]);
        char buf[SHOAL_BREAKER_POLICY_STRLEN];
        size_t n = shoal_breaker_policy_format (&p, buf, sizeof buf);
        CHECK_EQ (n, strlen (texts[i][1]));
        CHECK_STR (buf, texts[i][1]);
        shoal_breaker_policy_t q = s_policy (buf);
        CHECK (s_same (&p, &q));
    }
    shoal_breaker_policy_t p = s_policy ("min=5");
    char small[10];
    size_t n = shoal_breaker_policy_format (&p, small, sizeof small);
    CHECK_EQ (n, strlen ("rate=0.5,min=5,window=1m,open=30s,successes=3"));
    CHECK_STR (small, "rate=0.5,");
}

SHOAL_TEST (breaker_policy_msgpack_round_trip)
{
    static const char *const texts[] = {
        "min=1",
        "rate=0.3,min=7,window=10s,open=1m,successes=2,trials=5",
        "rate=0.000001,min=1000000,window=1d,open=1d,successes=10000,"
        "trials=10000",
    };
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        shoal_breaker_policy_t p = s_policy (texts[i]), back;
        shoal_wr_reset (wr);
        shoal_breaker_policy_encode (&p, wr);
        CHECK_OK (shoal_wr_error (wr));
        memset (&back, 0, sizeof back);
        CHECK_OK (shoal_breaker_policy_decode (shoal_wr_data (wr),
                                               shoal_wr_size (wr), &back));
        CHECK (s_same (&p, &back));
    }
    /* The stored form, byte for byte: a fixmap of six. */
    shoal_breaker_policy_t p;
    shoal_breaker_policy_init (&p);
    shoal_wr_reset (wr);
    shoal_breaker_policy_encode (&p, wr);
    const uint8_t *d = shoal_wr_data (wr);
    size_t size = shoal_wr_size (wr);
    CHECK_EQ (d[0], 0x86);
    uint64_t v;
    CHECK_OK (shoal_map_uint (d, size, "rate_ppm", &v));
    CHECK_EQ (v, 500000);
    CHECK_OK (shoal_map_uint (d, size, "window_us", &v));
    CHECK_EQ (v, 60 * S);
    CHECK_OK (shoal_map_uint (d, size, "trials", &v));
    CHECK_EQ (v, 0);
    shoal_wr_destroy (&wr);
}

/*  A hand-made map for the decoder: {min_calls: 5} plus case extra. */
static void
s_map (shoal_wr_t *wr, int extra)
{
    shoal_wr_reset (wr);
    shoal_wr_map (wr, 2);
    shoal_wr_kv_uint (wr, "min_calls", 5);
    switch (extra) {
        case 0: /* rate 0 */
            shoal_wr_kv_uint (wr, "rate_ppm", 0);
            break;
        case 1: /* a rate over 1 */
            shoal_wr_kv_uint (wr, "rate_ppm", 1000001);
            break;
        case 2: /* a count over 32 bits */
            shoal_wr_kv_uint (wr, "successes", 1ull << 32);
            break;
        case 3: /* a window that is not a multiple of the buckets */
            shoal_wr_kv_uint (wr, "window_us", 15);
            break;
        case 4: /* a string value */
            shoal_wr_kv_str (wr, "open_us", "30s");
            break;
        case 5: /* a negative value */
            shoal_wr_str (wr, "open_us");
            shoal_wr_int (wr, -1);
            break;
        case 6: /* a float value */
            shoal_wr_str (wr, "rate_ppm");
            shoal_wr_double (wr, 0.5);
            break;
        case 7: /* repeated key */
            shoal_wr_kv_uint (wr, "min_calls", 5);
            break;
        case 8: /* an integer key */
            shoal_wr_uint (wr, 1);
            shoal_wr_uint (wr, 2);
            break;
        case 9: /* an unknown key with a nested value: skipped */
            shoal_wr_str (wr, "future");
            shoal_wr_map (wr, 1);
            shoal_wr_str (wr, "deep");
            shoal_wr_array (wr, 2);
            shoal_wr_uint (wr, 1);
            shoal_wr_nil (wr);
            break;
        default: /* trials 0 is the value form's default */
            shoal_wr_kv_uint (wr, "trials", 0);
            break;
    }
}

SHOAL_TEST (breaker_policy_decode_errors)
{
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    static const shoal_err_t want[] = {
        SHOAL_ERR_INVALID,
        SHOAL_ERR_INVALID,
        SHOAL_ERR_INVALID,
        SHOAL_ERR_INVALID,
        SHOAL_ERR_MALFORMED,
        SHOAL_ERR_MALFORMED,
        SHOAL_ERR_MALFORMED,
        SHOAL_ERR_MALFORMED,
        SHOAL_ERR_MALFORMED,
        SHOAL_OK,
        SHOAL_OK,
    };
    for (int i = 0; i < (int) (sizeof want / sizeof want[0]); i++) {
        s_map (wr, i);
        shoal_breaker_policy_t p;
        memset (&p, 0x5a, sizeof p);
        shoal_err_t rc = shoal_breaker_policy_decode (shoal_wr_data (wr),
                                                      shoal_wr_size (wr), &p);
        if (rc != want[i]) {
            SHOAL_FAIL_ ("case %d: %s, want %s", i, shoal_errname (rc),
                         shoal_errname (want[i]));
        }
        if (rc == SHOAL_OK) {
            CHECK_EQ (p.min_calls, 5);
            CHECK_EQ (p.rate_ppm, 500000); /* defaults for the rest */
            CHECK_EQ (p.open_us, 30 * S);
        } else {
            CHECK_EQ (p.min_calls, 0x5a5a5a5a);
        }
    }
    shoal_breaker_policy_t p;
    /* Empty map: all defaults. Not a map, empty, trailing bytes: no. */
    CHECK_OK (shoal_breaker_policy_decode ((const uint8_t *) "\x80", 1, &p));
    CHECK_EQ (p.min_calls, 20);
    CHECK_RC (shoal_breaker_policy_decode ((const uint8_t *) "\x91\x01", 2, &p),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (shoal_breaker_policy_decode ((const uint8_t *) "", 0, &p),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (shoal_breaker_policy_decode ((const uint8_t *) "\x80\xc0", 2, &p),
              SHOAL_ERR_MALFORMED);
    CHECK_RC (shoal_breaker_policy_decode ((const uint8_t *) "\xc1", 1, &p),
              SHOAL_ERR_MALFORMED);
    /* A map claiming four billion pairs in five bytes. */
    CHECK_RC (shoal_breaker_policy_decode (
                  (const uint8_t *) "\xdf\xff\xff\xff\xff", 5, &p),
              SHOAL_ERR_MALFORMED);
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (breaker_policy_decode_garbage)
{
    /* Every prefix of a full record fails cleanly (ASan watches the
       reads: each prefix sits in its own exact-size allocation). */
    shoal_breaker_policy_t p = s_policy ("rate=0.3,min=7,window=10s,open=1m,"
                                         "successes=2,trials=5");
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_breaker_policy_encode (&p, wr);
    size_t n = shoal_wr_size (wr);
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc (len ? len : 1);
        CHECK (copy);
        memcpy (copy, shoal_wr_data (wr), len);
        shoal_breaker_policy_t q;
        shoal_err_t rc = shoal_breaker_policy_decode (copy, len, &q);
        free (copy);
        if (rc == SHOAL_OK) {
            SHOAL_FAIL_ ("a %zu-byte prefix of %zu decoded", len, n);
        }
    }
    /* Every single-byte corruption, and pseudo-random bytes, either
       decode to a valid policy or fail; never crash. */
    uint8_t *buf = malloc (n);
    CHECK (buf);
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < 256; v++) {
            memcpy (buf, shoal_wr_data (wr), n);
            buf[i] = (uint8_t) v;
            shoal_breaker_policy_t q;
            if (shoal_breaker_policy_decode (buf, n, &q) == SHOAL_OK) {
                CHECK_OK (shoal_breaker_policy_check (&q, NULL, 0));
            }
        }
    }
    free (buf);
    uint64_t x = 42;
    for (int round = 0; round < 20000; round++) {
        uint8_t junk[24];
        size_t len = (size_t) (round % (int) sizeof junk);
        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            junk[i] = (uint8_t) (x >> 56);
        }
        if (round % 3 == 0 && len > 0) {
            junk[0] = (uint8_t) (0x80 | (junk[0] & 0x0f)); /* a fixmap */
        }
        uint8_t *copy = malloc (len ? len : 1);
        CHECK (copy);
        memcpy (copy, junk, len);
        shoal_breaker_policy_t q;
        shoal_err_t rc = shoal_breaker_policy_decode (copy, len, &q);
        free (copy);
        if (rc == SHOAL_OK) {
            CHECK_OK (shoal_breaker_policy_check (&q, NULL, 0));
        }
    }
    shoal_wr_destroy (&wr);
}

SHOAL_TEST (breaker_stays_closed_below_min_calls)
{
    shoal_breaker_t b = s_breaker ("rate=0.5,min=20,window=60s");
    shoal_breaker_change_t ch;
    uint64_t t = T0;
    for (int i = 0; i < 19; i++, t += MS) {
        CHECK_EQ (s_call (&b, t, false, &ch), SHOAL_BREAKER_ALLOW);
        CHECK_EQ (ch.to, NO_CHANGE);
        CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    }
    uint32_t f;
    CHECK_EQ (s_calls (&b, t, &f), 19);
    CHECK_EQ (f, 19); /* 100% failures, but under min_calls */
    CHECK (shoal_breaker_next_change_us (&b) == UINT64_MAX);
    CHECK_EQ (s_call (&b, t, false, &ch), SHOAL_BREAKER_ALLOW);
    CHECK_EQ (ch.from, SHOAL_BREAKER_CLOSED);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.calls, 20);
    CHECK_EQ (ch.failures, 20);
    CHECK (ch.at_us == t);
    CHECK (ch.until_us == t + 30 * S);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_OPEN);
    /* min=1: the very first failure opens. */
    b = s_breaker ("min=1,rate=1");
    CHECK_EQ (s_call (&b, T0, true, &ch), SHOAL_BREAKER_ALLOW);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    CHECK_EQ (s_call (&b, T0, false, &ch), SHOAL_BREAKER_ALLOW);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED); /* 1 of 2 */
    b = s_breaker ("min=1,rate=1");
    CHECK_EQ (s_call (&b, T0, false, &ch), SHOAL_BREAKER_ALLOW);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
}

SHOAL_TEST (breaker_opens_exactly_at_threshold)
{
    /* 0.3 is not exact in binary; the comparison is in millionths. 7
       successes and 2 failures: 2/9 < 0.3. The 10th call fails: 3/10. */
    shoal_breaker_t b = s_breaker ("rate=0.3,min=10");
    shoal_breaker_change_t ch;
    for (int i = 0; i < 7; i++) {
        s_call (&b, T0, true, NULL);
    }
    s_call (&b, T0, false, NULL);
    s_call (&b, T0, false, NULL);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    s_call (&b, T0, false, &ch);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.calls, 10);
    CHECK_EQ (ch.failures, 3);

    /* Just under: 29 of 100 at 0.3 stays closed; the next failure makes
       30 of 101 (< 0.3), still closed; one more makes 31 of 102. */
    b = s_breaker ("rate=0.3,min=100");
    for (int i = 0; i < 100; i++) {
        s_call (&b, T0, i >= 29, NULL);
    }
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    s_call (&b, T0, false, &ch);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    s_call (&b, T0, false, &ch);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.failures, 31);
    CHECK_EQ (ch.calls, 102);

    /* The rate is checked after every result, a success included: two
       failures then a success reaching min=3 is 2/3 >= 0.5. */
    b = s_breaker ("rate=0.5,min=3");
    s_call (&b, T0, false, NULL);
    s_call (&b, T0, false, NULL);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    s_call (&b, T0, true, &ch);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);

    /* rate=1 needs every call in the window to fail. */
    b = s_breaker ("rate=1,min=5");
    s_call (&b, T0, true, NULL);
    for (int i = 0; i < 1000; i++) {
        s_call (&b, T0, false, NULL);
    }
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
}

SHOAL_TEST (breaker_window_slides)
{
    /* window 10s: ten buckets of 1s. A failure at T0 + 0.5s is in the
       bucket [T0, T0 + 1s) and counts until T0 + 10s exactly. */
    shoal_breaker_t b = s_breaker ("rate=0.5,min=4,window=10s");
    shoal_breaker_change_t ch;
    s_call (&b, T0 + 500 * MS, false, NULL);
    s_call (&b, T0 + 900 * MS, false, NULL);
    s_call (&b, T0 + 5 * S, false, NULL);
    uint32_t f;
    CHECK_EQ (s_calls (&b, T0 + 10 * S - 1, &f), 3);
    CHECK_EQ (f, 3);
    CHECK_EQ (s_calls (&b, T0 + 10 * S, &f), 1);
    CHECK_EQ (f, 1);
    CHECK_EQ (s_calls (&b, T0 + 15 * S - 1, NULL), 1);
    CHECK_EQ (s_calls (&b, T0 + 15 * S, NULL), 0);
    /* The two early failures have slid out: one more failure at
       T0 + 10s makes 2 of 2, under min. */
    s_call (&b, T0 + 10 * S, false, &ch);
    CHECK_EQ (ch.to, NO_CHANGE);
    CHECK_EQ (s_calls (&b, T0 + 10 * S, &f), 2);
    /* Had it come a microsecond earlier, 4 of 4 would have opened. */
    shoal_breaker_t c = s_breaker ("rate=0.5,min=4,window=10s");
    s_call (&c, T0 + 500 * MS, false, NULL);
    s_call (&c, T0 + 900 * MS, false, NULL);
    s_call (&c, T0 + 5 * S, false, NULL);
    s_call (&c, T0 + 10 * S - 1, false, &ch);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.calls, 4);

    /* A bucket reused a lap later starts from zero. */
    b = s_breaker ("rate=0.5,min=3,window=10s");
    s_call (&b, T0, false, NULL);
    s_call (&b, T0, false, NULL);
    s_call (&b, T0 + 20 * S, true, NULL); /* same slot, two laps on */
    CHECK_EQ (s_calls (&b, T0 + 20 * S, &f), 1);
    CHECK_EQ (f, 0);
    /* Failures spread over the window all count: one per bucket. */
    b = s_breaker ("rate=0.5,min=10,window=10s");
    for (int i = 0; i < 9; i++) {
        s_call (&b, T0 + (uint64_t) i * S, false, NULL);
    }
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    s_call (&b, T0 + 9 * S + 999999, false, &ch);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.calls, 10);
}

SHOAL_TEST (breaker_rejects_while_open)
{
    shoal_breaker_t b = s_breaker ("min=2,open=30s,window=1m");
    s_call (&b, T0, false, NULL);
    s_call (&b, T0 + 1500 * MS, false, NULL);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_OPEN);
    uint64_t opened = T0 + 1500 * MS;
    CHECK (shoal_breaker_next_change_us (&b) == opened + 30 * S);
    char why[128];
    size_t n = shoal_breaker_explain (&b, opened + 17500 * MS, why, sizeof why);
    CHECK_STR (why, "circuit open: 2 of 2 calls failed within 1m; half-open "
                    "in 12.5s");
    CHECK_EQ (n, strlen (why));
    shoal_breaker_ticket_t tk;
    shoal_breaker_change_t ch;
    for (uint64_t t = opened; t < opened + 30 * S; t += 997 * MS) {
        CHECK (!shoal_breaker_allow (&b, t, &tk, &ch));
        CHECK_EQ (tk.decision, SHOAL_BREAKER_REJECT);
    }
    /* Recording a rejection is ignored; counts are not kept while open. */
    CHECK (!shoal_breaker_record (&b, opened, tk, false, &ch));
    CHECK_EQ (b.stale, 0);
    CHECK_EQ (s_calls (&b, opened, NULL), 0);
    /* The breaker's time is the latest seen (opened + 29.91s here). */
    shoal_breaker_explain (&b, opened, why, sizeof why);
    CHECK_STR (why, "circuit open: 2 of 2 calls failed within 1m; half-open "
                    "in 90ms");
    CHECK (!shoal_breaker_tick (&b, opened + 30 * S - 1, &ch));
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_OPEN);
    shoal_breaker_explain (&b, opened + 30 * S - 1, why, sizeof why);
    CHECK_STR (why, "circuit open: 2 of 2 calls failed within 1m; half-open "
                    "in 1us");
}

SHOAL_TEST (breaker_half_open_after_exactly_open_for)
{
    shoal_breaker_t b = s_breaker ("min=1,open=30s,successes=2");
    shoal_breaker_change_t ch;
    s_call (&b, T0, false, NULL);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_OPEN);
    shoal_breaker_ticket_t tk;
    CHECK (!shoal_breaker_allow (&b, T0 + 30 * S - 1, &tk, &ch));
    CHECK_EQ (tk.decision, SHOAL_BREAKER_REJECT);
    CHECK (shoal_breaker_allow (&b, T0 + 30 * S, &tk, &ch));
    CHECK_EQ (tk.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    CHECK_EQ (ch.from, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.to, SHOAL_BREAKER_HALF_OPEN);
    CHECK (ch.at_us == T0 + 30 * S);
    CHECK_EQ (ch.until_us, 0);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_HALF_OPEN);
    CHECK (shoal_breaker_next_change_us (&b) == UINT64_MAX);

    /* The timer's way: tick at the due time, no call needed. */
    b = s_breaker ("min=1,open=30s");
    s_call (&b, T0, false, NULL);
    CHECK (!shoal_breaker_tick (&b, T0 + 30 * S - 1, &ch));
    CHECK (shoal_breaker_tick (&b, T0 + 30 * S, &ch));
    CHECK_EQ (ch.to, SHOAL_BREAKER_HALF_OPEN);
    CHECK (!shoal_breaker_tick (&b, T0 + 30 * S, &ch)); /* once */
    CHECK (!shoal_breaker_allow (&b, T0 + 31 * S, &tk, NULL));
    CHECK_EQ (tk.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    /* A late allow long after: still one change, straight to half-open. */
    b = s_breaker ("min=1,open=30s");
    s_call (&b, T0, false, NULL);
    CHECK (shoal_breaker_allow (&b, T0 + 3600 * S, &tk, &ch));
    CHECK_EQ (ch.to, SHOAL_BREAKER_HALF_OPEN);
    /* record never makes the time-driven change. */
    b = s_breaker ("min=1,open=1s");
    s_call (&b, T0, false, NULL);
    CHECK (!shoal_breaker_record (&b, T0 + 5 * S, tk, true, &ch));
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_OPEN);
}

SHOAL_TEST (breaker_trial_limit)
{
    shoal_breaker_t b = s_breaker ("min=1,open=10s,successes=3,trials=2");
    shoal_breaker_change_t ch;
    s_call (&b, T0, false, NULL);
    uint64_t t = T0 + 10 * S;
    shoal_breaker_ticket_t a, c, d;
    shoal_breaker_allow (&b, t, &a, NULL);
    shoal_breaker_allow (&b, t, &c, NULL);
    shoal_breaker_allow (&b, t, &d, NULL);
    CHECK_EQ (a.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    CHECK_EQ (c.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    CHECK_EQ (d.decision, SHOAL_BREAKER_REJECT);
    char why[128];
    shoal_breaker_explain (&b, t, why, sizeof why);
    CHECK_STR (why, "circuit half-open: all 2 trial calls are in flight");
    /* A success frees its slot (and counts 1 of 3). */
    CHECK (!shoal_breaker_record (&b, t + 1, a, true, &ch));
    CHECK_EQ (b.succeeded, 1);
    shoal_breaker_allow (&b, t + 2, &a, NULL);
    CHECK_EQ (a.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    shoal_breaker_allow (&b, t + 2, &d, NULL);
    CHECK_EQ (d.decision, SHOAL_BREAKER_REJECT);
    CHECK_EQ (b.in_flight, 2);
    /* Default trials = successes: three at a time. */
    b = s_breaker ("min=1,open=10s,successes=3");
    s_call (&b, T0, false, NULL);
    for (int i = 0; i < 3; i++) {
        shoal_breaker_allow (&b, t, &a, NULL);
        CHECK_EQ (a.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    }
    shoal_breaker_allow (&b, t, &a, NULL);
    CHECK_EQ (a.decision, SHOAL_BREAKER_REJECT);
}

SHOAL_TEST (breaker_trial_failure_reopens)
{
    shoal_breaker_t b = s_breaker ("min=1,open=30s,successes=3");
    shoal_breaker_change_t ch;
    s_call (&b, T0, false, NULL);
    uint64_t t = T0 + 30 * S;
    shoal_breaker_ticket_t a, c;
    shoal_breaker_allow (&b, t, &a, NULL);
    shoal_breaker_allow (&b, t, &c, NULL);
    CHECK (!shoal_breaker_record (&b, t + 1 * S, a, true, &ch));
    /* The failure comes 4s into half-open: the new open period runs
       30s from then, not from the first opening. */
    CHECK (shoal_breaker_record (&b, t + 4 * S, c, false, &ch));
    CHECK_EQ (ch.from, SHOAL_BREAKER_HALF_OPEN);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.calls, 2); /* one success, then the failure */
    CHECK_EQ (ch.failures, 1);
    CHECK (ch.at_us == t + 4 * S);
    CHECK (ch.until_us == t + 34 * S);
    CHECK (shoal_breaker_next_change_us (&b) == t + 34 * S);
    char why[128];
    shoal_breaker_explain (&b, t + 5 * S, why, sizeof why);
    CHECK_STR (why, "circuit open: a trial call failed; half-open in 29s");
    shoal_breaker_ticket_t tk;
    shoal_breaker_allow (&b, t + 34 * S - 1, &tk, NULL);
    CHECK_EQ (tk.decision, SHOAL_BREAKER_REJECT);
    CHECK (shoal_breaker_allow (&b, t + 34 * S, &tk, &ch));
    CHECK_EQ (tk.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    /* The success of the earlier half-open period does not carry over. */
    CHECK_EQ (b.succeeded, 0);
    CHECK_EQ (b.in_flight, 1);
}

SHOAL_TEST (breaker_successes_close_and_reset)
{
    shoal_breaker_t b = s_breaker ("rate=0.5,min=4,window=10s,open=5s,"
                                   "successes=3");
    shoal_breaker_change_t ch;
    for (int i = 0; i < 4; i++) {
        s_call (&b, T0, false, NULL);
    }
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_OPEN);
    uint64_t t = T0 + 5 * S;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ (s_call (&b, t + (uint64_t) i, true, &ch),
                  SHOAL_BREAKER_ALLOW_TRIAL);
        CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_HALF_OPEN);
    }
    CHECK_EQ (s_call (&b, t + 2, true, &ch), SHOAL_BREAKER_ALLOW_TRIAL);
    CHECK_EQ (ch.from, SHOAL_BREAKER_HALF_OPEN);
    CHECK_EQ (ch.to, SHOAL_BREAKER_CLOSED);
    CHECK_EQ (ch.calls, 3);
    CHECK_EQ (ch.failures, 0);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    /* An empty window: the four failures at T0, still within 10s, are
       gone, so three new failures (under min) do not open it. */
    CHECK_EQ (s_calls (&b, t + 2, NULL), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ (s_call (&b, t + 3, false, NULL), SHOAL_BREAKER_ALLOW);
    }
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    s_call (&b, t + 3, false, &ch);
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.calls, 4);
}

SHOAL_TEST (breaker_late_results_are_stale)
{
    /* Calls let through while closed finish after it opened: they are
       dropped, not counted, and cannot pass for trials. */
    shoal_breaker_t b = s_breaker ("min=2,open=10s,successes=2");
    shoal_breaker_change_t ch;
    shoal_breaker_ticket_t early[5];
    for (int i = 0; i < 5; i++) {
        shoal_breaker_allow (&b, T0, &early[i], NULL);
        CHECK_EQ (early[i].decision, SHOAL_BREAKER_ALLOW);
    }
    shoal_breaker_record (&b, T0 + 1, early[0], false, NULL);
    CHECK (shoal_breaker_record (&b, T0 + 2, early[1], false, &ch));
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK (!shoal_breaker_record (&b, T0 + 3, early[2], true, &ch));
    CHECK_EQ (b.stale, 1);
    /* Half-open now; an early success arriving must not close it. */
    shoal_breaker_ticket_t t1;
    CHECK (shoal_breaker_allow (&b, T0 + 10 * S + 2, &t1, NULL));
    CHECK_EQ (t1.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    CHECK (!shoal_breaker_record (&b, T0 + 10 * S + 3, early[3], true, &ch));
    CHECK (!shoal_breaker_record (&b, T0 + 10 * S + 3, early[4], true, &ch));
    CHECK_EQ (b.stale, 3);
    CHECK_EQ (b.succeeded, 0);
    CHECK_EQ (b.in_flight, 1);
    /* A second trial fails and re-opens; trial t1, still running, ends
       in the next half-open period: stale, not a success of that one. */
    shoal_breaker_ticket_t t2, t3;
    shoal_breaker_allow (&b, T0 + 10 * S + 4, &t2, NULL);
    CHECK (shoal_breaker_record (&b, T0 + 10 * S + 5, t2, false, &ch));
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK (shoal_breaker_allow (&b, T0 + 20 * S + 5, &t3, &ch));
    CHECK_EQ (ch.to, SHOAL_BREAKER_HALF_OPEN);
    CHECK (!shoal_breaker_record (&b, T0 + 20 * S + 6, t1, true, &ch));
    CHECK_EQ (b.stale, 4);
    CHECK_EQ (b.succeeded, 0);
    CHECK_EQ (b.in_flight, 1); /* t3's slot only */
    /* Close with two successes while a third trial runs; its failure
       afterwards does not re-open or count in the fresh window. */
    shoal_breaker_ticket_t t4, t5;
    shoal_breaker_allow (&b, T0 + 20 * S + 6, &t4, NULL);
    CHECK_EQ (t4.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    shoal_breaker_record (&b, T0 + 20 * S + 7, t3, true, NULL);
    shoal_breaker_allow (&b, T0 + 20 * S + 7, &t5, NULL);
    CHECK (shoal_breaker_record (&b, T0 + 20 * S + 8, t4, true, &ch));
    CHECK_EQ (ch.to, SHOAL_BREAKER_CLOSED);
    CHECK (!shoal_breaker_record (&b, T0 + 20 * S + 9, t5, false, &ch));
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_CLOSED);
    CHECK_EQ (s_calls (&b, T0 + 20 * S + 9, NULL), 0);
    CHECK_EQ (b.stale, 5);
    /* A ticket from before the opening stays stale in the new closed
       period too (a generation, not a state, is compared). */
    CHECK (!shoal_breaker_record (&b, T0 + 20 * S + 9, early[4], false, &ch));
    CHECK_EQ (s_calls (&b, T0 + 20 * S + 9, NULL), 0);
    CHECK_EQ (b.stale, 6);
    /* A forged ticket (right generation, wrong decision) is stale too. */
    shoal_breaker_ticket_t forged = {SHOAL_BREAKER_ALLOW_TRIAL, b.gen};
    CHECK (!shoal_breaker_record (&b, T0 + 20 * S + 9, forged, false, &ch));
    CHECK_EQ (s_calls (&b, T0 + 20 * S + 9, NULL), 0);
}

SHOAL_TEST (breaker_cancel_frees_a_trial_slot)
{
    shoal_breaker_t b = s_breaker ("min=1,open=1s,successes=1,trials=1");
    s_call (&b, T0, false, NULL);
    shoal_breaker_ticket_t a, c;
    shoal_breaker_allow (&b, T0 + 1 * S, &a, NULL);
    CHECK_EQ (a.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    shoal_breaker_allow (&b, T0 + 1 * S, &c, NULL);
    CHECK_EQ (c.decision, SHOAL_BREAKER_REJECT);
    shoal_breaker_cancel (&b, c); /* a rejection holds nothing */
    CHECK_EQ (b.in_flight, 1);
    shoal_breaker_cancel (&b, a);
    CHECK_EQ (b.in_flight, 0);
    shoal_breaker_cancel (&b, a); /* twice: no underflow */
    CHECK_EQ (b.in_flight, 0);
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_HALF_OPEN);
    shoal_breaker_allow (&b, T0 + 1 * S, &c, NULL);
    CHECK_EQ (c.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    /* The cancelled ticket's result, if it comes anyway, is not c's. */
    shoal_breaker_change_t ch;
    CHECK (shoal_breaker_record (&b, T0 + 2 * S, c, true, &ch));
    CHECK_EQ (ch.to, SHOAL_BREAKER_CLOSED);
    /* Cancelling a closed ticket changes nothing. */
    shoal_breaker_allow (&b, T0 + 2 * S, &a, NULL);
    shoal_breaker_cancel (&b, a);
    CHECK_EQ (s_calls (&b, T0 + 2 * S, NULL), 0);
}

SHOAL_TEST (breaker_clock_going_back)
{
    /* Time never goes back: an earlier now is the latest seen. */
    shoal_breaker_t b = s_breaker ("min=2,window=10s,open=30s");
    shoal_breaker_change_t ch;
    s_call (&b, T0 + 20 * S, false, NULL);
    s_call (&b, T0, false, &ch); /* counted at T0 + 20s, not 20s ago */
    CHECK_EQ (ch.to, SHOAL_BREAKER_OPEN);
    CHECK (ch.at_us == T0 + 20 * S);
    CHECK (shoal_breaker_next_change_us (&b) == T0 + 50 * S);
    CHECK (!shoal_breaker_tick (&b, 0, &ch));
    shoal_breaker_ticket_t tk;
    shoal_breaker_allow (&b, T0 + 49 * S, &tk, NULL);
    CHECK_EQ (tk.decision, SHOAL_BREAKER_REJECT);
    /* Near the end of time: the open period saturates, no wrap. */
    b = s_breaker ("min=1,open=1d");
    s_call (&b, UINT64_MAX - 5, false, &ch);
    CHECK (ch.until_us == UINT64_MAX);
    shoal_breaker_allow (&b, UINT64_MAX - 1, &tk, NULL);
    CHECK_EQ (tk.decision, SHOAL_BREAKER_REJECT);
    shoal_breaker_allow (&b, UINT64_MAX, &tk, NULL);
    CHECK_EQ (tk.decision, SHOAL_BREAKER_ALLOW_TRIAL);
    /* And at time 0 the window works from the start. */
    b = s_breaker ("min=2,window=10us");
    s_call (&b, 0, false, NULL);
    CHECK_EQ (s_calls (&b, 9, NULL), 1);
    CHECK_EQ (s_calls (&b, 10, NULL), 0);
}

SHOAL_TEST (breaker_reset)
{
    shoal_breaker_t b = s_breaker ("min=3");
    shoal_breaker_change_t ch;
    shoal_breaker_ticket_t tk;
    shoal_breaker_allow (&b, T0, &tk, NULL);
    s_call (&b, T0, false, NULL);
    s_call (&b, T0, false, NULL);
    CHECK (!shoal_breaker_reset (&b, T0, &ch));
    CHECK_EQ (s_calls (&b, T0, NULL), 0);
    CHECK (!shoal_breaker_record (&b, T0, tk, false, NULL)); /* stale */
    CHECK_EQ (s_calls (&b, T0, NULL), 0);
    for (int i = 0; i < 3; i++) {
        s_call (&b, T0, false, NULL);
    }
    CHECK_EQ (shoal_breaker_state (&b), SHOAL_BREAKER_OPEN);
    CHECK (shoal_breaker_reset (&b, T0 + 1, &ch));
    CHECK_EQ (ch.from, SHOAL_BREAKER_OPEN);
    CHECK_EQ (ch.to, SHOAL_BREAKER_CLOSED);
    CHECK_EQ (s_call (&b, T0 + 1, true, NULL), SHOAL_BREAKER_ALLOW);
    char why[32];
    shoal_breaker_explain (&b, T0, why, sizeof why);
    CHECK_STR (why, "circuit closed");
}

SHOAL_TEST (breaker_names_and_events)
{
    CHECK_STR (shoal_breaker_state_name (SHOAL_BREAKER_CLOSED), "closed");
    CHECK_STR (shoal_breaker_state_name (SHOAL_BREAKER_OPEN), "open");
    CHECK_STR (shoal_breaker_state_name (SHOAL_BREAKER_HALF_OPEN), "half_open");
    CHECK_STR (shoal_breaker_state_name (3), "?");
    CHECK_STR (shoal_breaker_state_name (-1), "?");
    CHECK_STR (shoal_breaker_topic (SHOAL_BREAKER_OPEN), "breaker.opened");
    CHECK_STR (shoal_breaker_topic (SHOAL_BREAKER_HALF_OPEN),
               "breaker.half_open");
    CHECK_STR (shoal_breaker_topic (SHOAL_BREAKER_CLOSED), "breaker.closed");
    CHECK_STR (shoal_breaker_topic (7), "breaker.?");
    CHECK_STR (shoal_breaker_decision_name (SHOAL_BREAKER_ALLOW), "allow");
    CHECK_STR (shoal_breaker_decision_name (SHOAL_BREAKER_ALLOW_TRIAL),
               "trial");
    CHECK_STR (shoal_breaker_decision_name (SHOAL_BREAKER_REJECT), "reject");
    CHECK_STR (shoal_breaker_decision_name (3), "?");

    /* The event fields, as the actor would append them. */
    shoal_breaker_t b = s_breaker ("min=2,open=30s");
    shoal_breaker_change_t ch;
    s_call (&b, T0, false, NULL);
    s_call (&b, T0, false, &ch);
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_wr_map (wr, SHOAL_BREAKER_EVENT_PAIRS);
    shoal_breaker_change_encode (&ch, wr);
    CHECK_OK (shoal_wr_error (wr));
    const uint8_t *d = shoal_wr_data (wr);
    size_t n = shoal_wr_size (wr), used;
    shoal_limits_t lim = shoal_limits_default ();
    CHECK_OK (shoal_mp_validate (d, n, &lim, &used));
    CHECK_EQ (used, n);
    char s[16];
    uint64_t v;
    CHECK_OK (shoal_map_strcpy (d, n, "from", s, sizeof s));
    CHECK_STR (s, "closed");
    CHECK_OK (shoal_map_strcpy (d, n, "to", s, sizeof s));
    CHECK_STR (s, "open");
    CHECK_OK (shoal_map_uint (d, n, "calls", &v));
    CHECK_EQ (v, 2);
    CHECK_OK (shoal_map_uint (d, n, "failures", &v));
    CHECK_EQ (v, 2);
    CHECK_OK (shoal_map_uint (d, n, "until_us", &v));
    CHECK (v == T0 + 30 * S);
    shoal_wr_destroy (&wr);
    CHECK (sizeof (shoal_breaker_t) <= 320);
}

SHOAL_TEST_MAIN (
    breaker_policy_defaults, breaker_policy_parse_values,
    breaker_policy_parse_errors, breaker_policy_set_and_check,
    breaker_policy_format_round_trip, breaker_policy_msgpack_round_trip,
    breaker_policy_decode_errors, breaker_policy_decode_garbage,
    breaker_stays_closed_below_min_calls, breaker_opens_exactly_at_threshold,
    breaker_window_slides, breaker_rejects_while_open,
    breaker_half_open_after_exactly_open_for, breaker_trial_limit,
    breaker_trial_failure_reopens, breaker_successes_close_and_reset,
    breaker_late_results_are_stale, breaker_cancel_frees_a_trial_slot,
    breaker_clock_going_back, breaker_reset, breaker_names_and_events)
