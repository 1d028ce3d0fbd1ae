/*  shoal_gcra.c - GCRA, the virtual-scheduling form.

    One timestamp instead of a token count plus a refill time: TAT
    advances by the interval for each cell taken and idle time is
    credited by comparing with now, so there is no refill loop, no
    division on the hot path and no drift. A refused request leaves the
    state alone, so asking again is free. Sums saturate rather than wrap;
    they only get near UINT64_MAX some 580,000 years after the epoch.
*/
#include "shoal_gcra.h"
#include "shoal_duration.h"

#include <assert.h>
#include <string.h>

static uint64_t
s_sat_add (uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow (a, b, &r) ? UINT64_MAX : r;
}

shoal_err_t
shoal_gcra_init (shoal_gcra_t *g, uint64_t interval_us, uint32_t burst)
{
    if (interval_us == 0 || burst == 0 ||
        interval_us > (UINT64_MAX >> 2) / burst) {
        return SHOAL_ERR_INVALID;
    }
    g->interval_us = interval_us;
    g->burst = burst;
    g->tat_us = 0;
    return SHOAL_OK;
}

shoal_err_t
shoal_gcra_parse_rate (const char *rate, uint64_t *interval_us)
{
    const char *slash = strchr (rate, '/');
    if (!slash || slash == rate) {
        return SHOAL_ERR_INVALID;
    }
    uint64_t count = 0;
    for (const char *p = rate; p < slash; p++) {
        if (*p < '0' || *p > '9' ||
            __builtin_mul_overflow (count, 10, &count) ||
            __builtin_add_overflow (count, (uint64_t) (*p - '0'), &count)) {
            return SHOAL_ERR_INVALID;
        }
    }
    const char *u = slash + 1;
    size_t ulen = strlen (u);
    uint64_t period;
    if (ulen == 0 || ulen > 30) {
        return SHOAL_ERR_INVALID;
    }
    if (u[0] >= '0' && u[0] <= '9') {
        /* "3/10s": a duration, which must carry its unit here. */
        char last = u[ulen - 1];
        if (last < 'a' || last > 'z' || shoal_duration_parse (u, &period)) {
            return SHOAL_ERR_INVALID;
        }
    } else {
        /* "100/s": one of the unit. */
        char one[32] = "1";
        memcpy (one + 1, u, ulen + 1);
        if (shoal_duration_parse (one, &period)) {
            return SHOAL_ERR_INVALID;
        }
    }
    if (count == 0 || period == 0) {
        return SHOAL_ERR_INVALID;
    }
    uint64_t rem = period % count; /* round half up: rem * 2 >= count */
    uint64_t t = period / count + (rem >= count - rem);
    if (t == 0) {
        return SHOAL_ERR_INVALID;
    }
    *interval_us = t;
    return SHOAL_OK;
}

shoal_err_t
shoal_gcra_parse (const char *rate, uint32_t burst, shoal_gcra_t *g)
{
    uint64_t t;
    shoal_gcra_t tmp;
    if (shoal_gcra_parse_rate (rate, &t) || shoal_gcra_init (&tmp, t, burst)) {
        return SHOAL_ERR_INVALID;
    }
    *g = tmp;
    return SHOAL_OK;
}

bool
shoal_gcra_take_n (shoal_gcra_t *g, uint64_t now_us, uint32_t n,
                   uint64_t *retry_after_us)
{
    assert (g && g->interval_us > 0 && g->burst > 0);
    if (n > g->burst) {
        if (retry_after_us) {
            *retry_after_us = UINT64_MAX;
        }
        return false;
    }
    uint64_t base = g->tat_us > now_us ? g->tat_us : now_us;
    uint64_t new_tat = s_sat_add (base, (uint64_t) n * g->interval_us);
    uint64_t limit = s_sat_add (now_us, (uint64_t) g->burst * g->interval_us);
    if (new_tat > limit) {
        if (retry_after_us) {
            *retry_after_us = new_tat - limit;
        }
        return false;
    }
    if (n > 0) {
        g->tat_us = new_tat;
    }
    if (retry_after_us) {
        *retry_after_us = 0;
    }
    return true;
}

bool
shoal_gcra_take (shoal_gcra_t *g, uint64_t now_us, uint64_t *retry_after_us)
{
    return shoal_gcra_take_n (g, now_us, 1, retry_after_us);
}

uint32_t
shoal_gcra_available (const shoal_gcra_t *g, uint64_t now_us)
{
    uint64_t base = g->tat_us > now_us ? g->tat_us : now_us;
    uint64_t limit = s_sat_add (now_us, (uint64_t) g->burst * g->interval_us);
    return base >= limit ? 0 : (uint32_t) ((limit - base) / g->interval_us);
}

void
shoal_gcra_reset (shoal_gcra_t *g)
{
    g->tat_us = 0;
}
