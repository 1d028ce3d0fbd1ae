/*  test_rate.c - events per second over the last complete seconds, at
    exact microseconds. */
#include "shoal_test.h"
#include "shoal_rate.h"

#define S  1000000ull
#define T0 (1700000000ull * S)

SHOAL_TEST (rate_counts_complete_seconds_only)
{
    shoal_rate_t r = {0};
    for (int i = 0; i < 30; i++) {
        shoal_rate_add (&r, T0 + (uint64_t) i * 1000); /* 30 in second 0 */
    }
    CHECK (shoal_rate_per_s (&r, T0 + S / 2) == 0.0); /* not complete */
    CHECK (shoal_rate_per_s (&r, T0 + S) == 3.0);     /* 30 over 10 s */
    CHECK (shoal_rate_per_s (&r, T0 + 10 * S) == 3.0);
    CHECK (shoal_rate_per_s (&r, T0 + 11 * S) == 0.0); /* aged out */
}

SHOAL_TEST (rate_steady_stream_and_bucket_reuse)
{
    shoal_rate_t r = {0};
    /* 5 per second for 25 seconds: buckets are reused twice over */
    for (uint64_t s = 0; s < 25; s++) {
        for (int k = 0; k < 5; k++) {
            shoal_rate_add (&r, T0 + s * S + (uint64_t) k * 100000);
        }
    }
    CHECK (shoal_rate_per_s (&r, T0 + 25 * S) == 5.0);
    /* a pause of 4 s: 6 of the last 10 seconds had events */
    CHECK (shoal_rate_per_s (&r, T0 + 29 * S) == 3.0);
    CHECK (shoal_rate_per_s (&r, T0 + 60 * S) == 0.0);
}

/*  Read in the middle of a second that already has events: the ten
    complete seconds before it are all still counted. */
SHOAL_TEST (rate_mid_second_keeps_ten_full_seconds)
{
    shoal_rate_t r = {0};
    for (uint64_t s = 0; s <= 25; s++) {
        for (int k = 0; k < 5; k++) {
            shoal_rate_add (&r, T0 + s * S + (uint64_t) k * 100000);
        }
    }
    CHECK (shoal_rate_per_s (&r, T0 + 25 * S + S / 2) == 5.0);
}

SHOAL_TEST_MAIN (rate_counts_complete_seconds_only,
                 rate_steady_stream_and_bucket_reuse,
                 rate_mid_second_keeps_ten_full_seconds)
