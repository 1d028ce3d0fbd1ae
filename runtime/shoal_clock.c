/*  shoal_clock.c - real and fake clocks. */
#include "shoal_clock.h"

#include <time.h>

static uint64_t
s_real_now (void *ctx)
{
    (void) ctx;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static uint64_t
s_fake_now (void *ctx)
{
    return atomic_load ((_Atomic uint64_t *) ctx);
}

shoal_clock_t
shoal_clock_real (void)
{
    shoal_clock_t c = {s_real_now, NULL};
    return c;
}

shoal_clock_t
shoal_clock_fake (_Atomic uint64_t *now)
{
    shoal_clock_t c = {s_fake_now, (void *) now};
    return c;
}

uint64_t
shoal_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}
