/*  shoal_gcra.h - a rate limiter: the Generic Cell Rate Algorithm.

    GCRA is a token bucket kept as one timestamp. Cells conform at one
    every interval_us on average, and up to burst of them may come at
    once after a quiet spell. The state is the theoretical arrival time
    (TAT): when the bucket would be empty again if nothing more came. A
    request at now conforms if, after adding it, TAT - now is at most
    burst * interval; otherwise it is refused with the time until it
    would conform, and the state does not change.

    The limiter is a plain value (24 bytes); the caller passes the time
    (microseconds since the epoch or any monotonic origin, the same one
    on every call) and never anything from a clock here. No allocation.
    Not thread safe: one owner, or a lock around it.

    Rates as text: "N/UNIT" with UNIT one of us, ms, s, m, h, d ("100/s",
    "10/m", "5/h"), or "N/DURATION" ("3/10s", "1/1.5s"). The interval is
    rounded to the nearest microsecond ("3/s" is one per 333333 us), so
    at most 1000000/s. The burst is given separately.
*/
#ifndef SHOAL_GCRA_H_INCLUDED
#define SHOAL_GCRA_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"

typedef struct {
    uint64_t interval_us; /* emission interval: one cell per this */
    uint64_t tat_us;      /* theoretical arrival time; 0 before any use */
    uint32_t burst;       /* cells allowed at once, >= 1 */
} shoal_gcra_t;

/*  Sets *g to allow one cell per interval_us with bursts of up to burst
    cells, idle (a full burst available). SHOAL_ERR_INVALID (and *g left
    alone) if interval_us or burst is 0, or burst * interval_us does not
    fit in 62 bits. */
shoal_err_t shoal_gcra_init (shoal_gcra_t *g, uint64_t interval_us,
                             uint32_t burst);

/*  Parses a rate ("100/s", see above) into the emission interval in
    microseconds. SHOAL_ERR_INVALID for garbage, a zero count or period,
    or a rate over one per microsecond. */
shoal_err_t shoal_gcra_parse_rate (const char *rate, uint64_t *interval_us);

/*  shoal_gcra_parse_rate then shoal_gcra_init; SHOAL_ERR_INVALID if
    either fails. */
shoal_err_t shoal_gcra_parse (const char *rate, uint32_t burst,
                              shoal_gcra_t *g);

/*  Takes one cell at now_us. Returns true when it conforms (TAT moves on
    and *retry_after_us, if not NULL, is 0). Returns false when it does
    not: *retry_after_us is then how long after now_us one cell will
    conform, and *g is unchanged. */
bool shoal_gcra_take (shoal_gcra_t *g, uint64_t now_us,
                      uint64_t *retry_after_us);

/*  As shoal_gcra_take for n cells at once, all or none. n = 0 always
    conforms and changes nothing. n > burst never conforms:
    *retry_after_us is then UINT64_MAX. */
bool shoal_gcra_take_n (shoal_gcra_t *g, uint64_t now_us, uint32_t n,
                        uint64_t *retry_after_us);

/*  How many cells could be taken at now_us (0 to burst), without taking
    them: for "remaining" headers and metrics. */
uint32_t shoal_gcra_available (const shoal_gcra_t *g, uint64_t now_us);

/*  Forgets the history: a full burst is available again. */
void shoal_gcra_reset (shoal_gcra_t *g);

#endif
