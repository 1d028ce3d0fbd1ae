/*  shoal_clock.h - an injectable wall clock.

    Everything time-based (ids, timestamps, leases, deadlines, backoff)
    reads time through a shoal_clock_t so tests can drive a fake clock
    exactly, without sleeping. The clock is a value: a function and its
    context; the real one has no context. The fake clock's state must
    only be advanced while no actor reads it, or be atomic (it is).
*/
#ifndef SHOAL_CLOCK_H_INCLUDED
#define SHOAL_CLOCK_H_INCLUDED

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    uint64_t (*now_us) (void *ctx);
    void *ctx;
} shoal_clock_t;

/*  The real clock: CLOCK_REALTIME in microseconds. */
shoal_clock_t shoal_clock_real (void);

/*  A fake clock reading *now (microseconds), which the test advances. */
shoal_clock_t shoal_clock_fake (_Atomic uint64_t *now);

static inline uint64_t
shoal_clock_now_us (const shoal_clock_t *clock)
{
    return clock->now_us (clock->ctx);
}

static inline uint64_t
shoal_clock_now_ms (const shoal_clock_t *clock)
{
    return clock->now_us (clock->ctx) / 1000;
}

/*  Monotonic microseconds, for measuring durations (not injectable). */
uint64_t shoal_mono_us (void);

#endif
