/*  shoal_rate.h - events per second over the last complete seconds.

    A ring of one-second buckets, each stamped with its second, so no timer
    is needed: counting resets a bucket whose stamp is stale, and reading
    sums the buckets of the last SHOAL_RATE_SECS complete seconds. A value
    type: embed it, zero it to start.
*/
#ifndef SHOAL_RATE_H_INCLUDED
#define SHOAL_RATE_H_INCLUDED

#include <stdint.h>

#define SHOAL_RATE_SECS 10

/*  One bucket more than the seconds summed: the current second's. */
typedef struct {
    uint64_t sec[SHOAL_RATE_SECS + 1]; /* the second each bucket counts */
    uint32_t n[SHOAL_RATE_SECS + 1];
} shoal_rate_t;

/*  Counts one event at now_us. */
void shoal_rate_add (shoal_rate_t *r, uint64_t now_us);

/*  Events per second over the SHOAL_RATE_SECS complete seconds before
    now_us. */
double shoal_rate_per_s (const shoal_rate_t *r, uint64_t now_us);

#endif
