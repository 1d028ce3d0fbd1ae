/*  test_duration.c - duration text: every unit, fractions done exactly,
    garbage and overflow rejected, and formatting that parses back. */
#include "shoal_test.h"
#include "shoal_duration.h"

typedef struct {
    const char *text;
    uint64_t us;
} s_case_t;

SHOAL_TEST (duration_units)
{
    static const s_case_t cases[] = {
        {"250us", 250},
        {"10ms", 10000},
        {"2s", 2000000},
        {"3m", 180000000},
        {"1h", 3600000000ull},
        {"1d", 86400000000ull},
        {"0s", 0},
        {"0us", 0},
        {"007s", 7000000},
        {"1us", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t us = 12345;
        CHECK_OK (shoal_duration_parse (cases[i].text, &us));
        CHECK_EQ (us, cases[i].us);
    }
}

SHOAL_TEST (duration_bare_number_is_ms)
{
    uint64_t us;
    CHECK_OK (shoal_duration_parse ("250", &us));
    CHECK_EQ (us, 250000);
    CHECK_OK (shoal_duration_parse ("0", &us));
    CHECK_EQ (us, 0);
    CHECK_OK (shoal_duration_parse ("1.5", &us));
    CHECK_EQ (us, 1500);
    CHECK_OK (shoal_duration_parse ("0.001", &us));
    CHECK_EQ (us, 1);
}

SHOAL_TEST (duration_fractions_exact)
{
    static const s_case_t cases[] = {
        {"1.5s", 1500000},         {"1.1s", 1100000},
        {"0.1s", 100000},          {"2.50s", 2500000},
        {"1.000000s", 1000000},    {"0.000001s", 1},
        {"1.5m", 90000000},        {"0.5h", 1800000000ull},
        {"1.5d", 129600000000ull}, {"0.001ms", 1},
        {"1.25ms", 1250},          {"1.5000000000000s", 1500000},
        {"0.000000005d", 432},     {"0.00000125d", 108000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t us = 0;
        CHECK_OK (shoal_duration_parse (cases[i].text, &us));
        CHECK_EQ (us, cases[i].us);
    }
}

SHOAL_TEST (duration_compound)
{
    uint64_t us;
    CHECK_OK (shoal_duration_parse ("1h30m", &us));
    CHECK_EQ (us, 5400000000ull);
    CHECK_OK (shoal_duration_parse ("1m30s", &us));
    CHECK_EQ (us, 90000000);
    CHECK_OK (shoal_duration_parse ("1s500ms", &us));
    CHECK_EQ (us, 1500000);
    CHECK_OK (shoal_duration_parse ("1d2h3m4s5ms6us", &us));
    CHECK_EQ (us, 86400000000ull + 7200000000ull + 180000000ull + 4000000 +
                      5000 + 6);
    /* A bare number only stands alone. */
    CHECK_RC (shoal_duration_parse ("1h30", &us), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_duration_parse ("30 1h", &us), SHOAL_ERR_INVALID);
}

SHOAL_TEST (duration_garbage)
{
    static const char *const bad[] = {
        "",
        "s",
        "ms",
        "-1s",
        "+1s",
        " 1s",
        "1s ",
        "1.s",
        ".5s",
        "1x",
        "1S",
        "1sec",
        "1e3",
        "1,5s",
        "1..5s",
        "nan",
        "inf",
        "1ss",
        "1 s",
        "0x10s",
        "1.5.5s",
        "0.5us",
        "1.1us",
        "1.0000001s",
        "0.0000000001d",
        "1s-1s",
        "0.000000001d",
        "1hh",
        "h1",
        "1µs",
        "1mn",
        "1.5e3",
        "٣s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t us = 777;
        if (shoal_duration_parse (bad[i], &us) != SHOAL_ERR_INVALID) {
            SHOAL_FAIL_ ("\"%s\" was accepted as %llu", bad[i],
                         (unsigned long long) us);
        }
        CHECK_EQ (us, 777); /* untouched on failure */
    }
}

SHOAL_TEST (duration_overflow)
{
    uint64_t us;
    CHECK_OK (shoal_duration_parse ("18446744073709551615us", &us));
    CHECK (us == UINT64_MAX);
    CHECK_RC (shoal_duration_parse ("18446744073709551616us", &us),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_duration_parse ("99999999999999999999999s", &us),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_duration_parse ("18446744073709551615ms", &us),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_duration_parse ("18446744073709551615", &us),
              SHOAL_ERR_INVALID);
    CHECK_OK (shoal_duration_parse ("213503982d", &us));
    CHECK (us == 213503982ull * 86400000000ull);
    CHECK_RC (shoal_duration_parse ("213503983d", &us), SHOAL_ERR_INVALID);
    /* The fraction carries the sum over. */
    CHECK_RC (shoal_duration_parse ("18446744073709.551616s", &us),
              SHOAL_ERR_INVALID);
    CHECK_OK (shoal_duration_parse ("18446744073709.551615s", &us));
    CHECK (us == UINT64_MAX);
    /* So does a compound. */
    CHECK_RC (shoal_duration_parse ("18446744073709551615us1us", &us),
              SHOAL_ERR_INVALID);
}

SHOAL_TEST (duration_parsen_takes_a_slice)
{
    const char *s = "2s,max=3";
    uint64_t us = 0;
    CHECK_OK (shoal_duration_parsen (s, 2, &us));
    CHECK_EQ (us, 2000000);
    CHECK_RC (shoal_duration_parsen (s, 3, &us), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_duration_parsen (s, 0, &us), SHOAL_ERR_INVALID);
    /* "1m" out of "1ms": the slice ends before the 's'. */
    CHECK_OK (shoal_duration_parsen ("1ms", 2, &us));
    CHECK_EQ (us, 60000000);
}

SHOAL_TEST (duration_format_units)
{
    static const s_case_t cases[] = {
        {"0s", 0},
        {"1us", 1},
        {"999us", 999},
        {"1ms", 1000},
        {"1.001ms", 1001},
        {"1.5ms", 1500},
        {"250ms", 250000},
        {"999.999ms", 999999},
        {"1s", 1000000},
        {"1.5s", 1500000},
        {"1.001s", 1001000},
        {"1234.567ms", 1234567},
        {"1000.001ms", 1000001},
        {"1m", 60000000},
        {"1.5m", 90000000},
        {"100s", 100000000},
        {"1h", 3600000000ull},
        {"1.5h", 5400000000ull},
        {"61m", 3660000000ull},
        {"1d", 86400000000ull},
        {"1.5d", 129600000000ull},
        {"7d", 604800000000ull},
        {"18446744073709551.615ms", UINT64_MAX},
        {"18446744073709551.614ms", UINT64_MAX - 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[SHOAL_DURATION_STRLEN];
        size_t n = shoal_duration_format (cases[i].us, buf, sizeof buf);
        CHECK_STR (buf, cases[i].text);
        CHECK_EQ (n, strlen (cases[i].text));
    }
}

SHOAL_TEST (duration_format_truncates_like_snprintf)
{
    char buf[8];
    memset (buf, 'x', sizeof buf);
    CHECK_EQ (shoal_duration_format (250000, buf, 4), 5);
    CHECK_STR (buf, "250");
    CHECK_EQ (buf[4], 'x');
    CHECK_EQ (shoal_duration_format (250000, buf, 1), 5);
    CHECK_STR (buf, "");
    buf[0] = 'x';
    CHECK_EQ (shoal_duration_format (250000, buf, 0), 5);
    CHECK_EQ (buf[0], 'x');
    CHECK_EQ (shoal_duration_format (250000, buf, 6), 5);
    CHECK_STR (buf, "250ms");
}

SHOAL_TEST (duration_format_round_trips)
{
    uint64_t x = 0x243f6a8885a308d3ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Spread over every magnitude, and hit round values often. */
        uint64_t v = x >> (x % 64);
        if (i % 3 == 0) {
            v = (v % 100000) * (i % 2 ? 1000 : 60000000);
        }
        char buf[SHOAL_DURATION_STRLEN];
        size_t n = shoal_duration_format (v, buf, sizeof buf);
        CHECK (n < sizeof buf);
        uint64_t back = 0;
        CHECK_OK (shoal_duration_parse (buf, &back));
        if (back != v) {
            SHOAL_FAIL_ ("%llu -> \"%s\" -> %llu", (unsigned long long) v, buf,
                         (unsigned long long) back);
        }
    }
}

SHOAL_TEST_MAIN (duration_units, duration_bare_number_is_ms,
                 duration_fractions_exact, duration_compound, duration_garbage,
                 duration_overflow, duration_parsen_takes_a_slice,
                 duration_format_units, duration_format_truncates_like_snprintf,
                 duration_format_round_trips)
