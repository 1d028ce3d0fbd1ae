/*  shoal_rate.c - events per second, see shoal_rate.h. */
#include "shoal_rate.h"

void
shoal_rate_add (shoal_rate_t *r, uint64_t now_us)
{
    uint64_t s = now_us / 1000000;
    int i = (int) (s % (SHOAL_RATE_SECS + 1));
    if (r->sec[i] != s) {
        r->sec[i] = s;
        r->n[i] = 0;
    }
    if (r->n[i] < UINT32_MAX) {
        r->n[i]++;
    }
}

double
shoal_rate_per_s (const shoal_rate_t *r, uint64_t now_us)
{
    uint64_t s = now_us / 1000000;
    uint64_t sum = 0;
    for (int i = 0; i < SHOAL_RATE_SECS + 1; i++) {
        /* complete seconds only: [s - SECS, s - 1] */
        if (r->sec[i] < s && r->sec[i] + SHOAL_RATE_SECS >= s) {
            sum += r->n[i];
        }
    }
    return (double) sum / SHOAL_RATE_SECS;
}
