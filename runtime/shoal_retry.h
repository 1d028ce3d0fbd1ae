/*  shoal_retry.h - retry policies: when a failed job runs again.

    A policy is a plain value (no pointers, about 560 bytes) that a job
    carries; the store keeps it as a msgpack map (shoal_retry_encode) and
    the CLI takes it as text (shoal_retry_parse):

        none
        fixed|linear|exponential[:OPTION,OPTION...]

    with OPTIONs (each at most once; durations as in shoal_duration.h)
        max=N            total attempts, the first one included (1-1000000)
        delay=D          the base delay                       (default 1s)
        max_delay=D      cap on the computed delay; >= delay  (default 1h)
        multiplier=X     exponential only, 1-1000             (default 2)
        jitter=F         spread the delay by +-F of itself, 0-1 (default 0)
        on=a|b           retry only failures of these classes
        not_on=c|d       never retry failures of these classes
    Defaults: max=3, delay=1s, max_delay=1h, multiplier=2, jitter=0.
    "fixed" alone means fixed with all defaults.

    Attempts are numbered from 1. With max=3 a job runs at most three
    times: after attempt 1 or 2 fails it is retried, after attempt 3 it
    is not. The delay after attempt n has failed, before the cap, is
        fixed        delay
        linear       delay * n
        exponential  delay * multiplier^(n-1)
    then it is capped at max_delay, then jitter moves it uniformly within
    [d - d*F, d + d*F] (so jitter can take it past max_delay, never below
    zero).

    Failure classes are short strings a failed run reports ("timeout",
    "exit:3", "signal:9", "error"). A policy class matches a failure
    class equal to it or starting with it followed by ':' - so "exit"
    matches "exit:3" - or, if the policy class itself ends in ':',
    anything starting with it. "exit:1" does not match "exit:10". Classes
    are 1-31 characters of [A-Za-z0-9_.:/-], at most 8 per list. A
    failure is retried only if it matches no not_on class and, when the
    on list is not empty, matches an on class.

    Randomness (jitter) comes from a uint64_t state the caller owns and
    seeds, stepped with splitmix64, so tests are exact. Nothing here
    reads a clock or allocates; functions are thread safe on distinct
    states.
*/
#ifndef SHOAL_RETRY_H_INCLUDED
#define SHOAL_RETRY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"
#include "../protocol/shoal_wr.h"

#define SHOAL_RETRY_CLASSES        8  /* classes per list */
#define SHOAL_RETRY_CLASS_LEN      31 /* characters per class */
#define SHOAL_RETRY_MAX_ATTEMPTS   1000000u
#define SHOAL_RETRY_MAX_MULTIPLIER 1000.0
/*  A buffer this big always holds shoal_retry_format's output. */
#define SHOAL_RETRY_STRLEN 768

typedef enum {
    SHOAL_RETRY_NONE = 0,
    SHOAL_RETRY_FIXED = 1,
    SHOAL_RETRY_LINEAR = 2,
    SHOAL_RETRY_EXPONENTIAL = 3,
} shoal_retry_kind_t;

typedef struct {
    shoal_retry_kind_t kind;
    uint32_t max_attempts; /* total, including the first; >= 1 */
    uint64_t delay_us;     /* the base delay */
    uint64_t max_delay_us; /* the cap, >= delay_us */
    double multiplier;     /* exponential only; 1 - 1000 */
    double jitter;         /* 0 - 1: +-this fraction of the delay */
    uint8_t n_on;          /* classes in on[] */
    uint8_t n_not_on;      /* classes in not_on[] */
    char on[SHOAL_RETRY_CLASSES][SHOAL_RETRY_CLASS_LEN + 1];
    char not_on[SHOAL_RETRY_CLASSES][SHOAL_RETRY_CLASS_LEN + 1];
} shoal_retry_t;

/*  Sets *p to kind with every default (max=3, delay=1s, max_delay=1h,
    multiplier=2, jitter=0, no classes). For SHOAL_RETRY_NONE the numbers
    are the same defaults but unused. */
void shoal_retry_init (shoal_retry_t *p, shoal_retry_kind_t kind);

/*  "none", "fixed", "linear", "exponential"; "?" for anything else. */
const char *shoal_retry_kind_name (int kind);

/*  Parses the NUL-terminated CLI text s (see above) into *out, written
    only on success. SHOAL_ERR_INVALID on any error, with a one-line
    message in err (NUL-terminated, truncated to err_cap; err may be NULL
    when err_cap is 0), e.g.
        "unknown kind \"exp\" (expected none, fixed, linear or exponential)"
        "delay: \"2x\" is not a duration"
        "multiplier applies only to exponential" */
shoal_err_t shoal_retry_parse (const char *s, shoal_retry_t *out, char *err,
                               size_t err_cap);

/*  Checks that *p holds a usable policy (known kind, ranges above, valid
    classes): SHOAL_OK or SHOAL_ERR_INVALID. parse and decode only ever
    produce valid policies; use this on one built by hand. */
shoal_err_t shoal_retry_check (const shoal_retry_t *p);

/*  Formats *p back to the CLI syntax, in a fixed order; parsing it gives
    the same policy (multiplier and jitter to 15 significant digits).
    max, delay and max_delay are always written, multiplier only for
    exponential, jitter, on and not_on only when set. Returns SHOAL_OK, or
    SHOAL_ERR_TOO_LARGE when the text does not fit in cap bytes (buf then
    holds a truncated, NUL-terminated prefix). p must be valid. */
shoal_err_t shoal_retry_format (const shoal_retry_t *p, char *buf, size_t cap);

/*  Decides on a retry after attempt attempt_just_failed (1 = the first
    run; 0 is taken as 1) failed with failure_class (NULL or "" when the
    failure has no class: then it matches no class). Returns false when
    no retry is due: a none policy, attempts used up (attempt_just_failed
    >= max_attempts), a class in not_on, or on not empty and no class in
    it matching. Otherwise returns true and sets *delay_us to the wait
    before the next attempt (see above for the formula). When p->jitter >
    0 and rng_state is not NULL, one or more draws are taken from
    *rng_state; with rng_state NULL the delay is not jittered. p must be
    valid. */
bool shoal_retry_next (const shoal_retry_t *p, uint32_t attempt_just_failed,
                       const char *failure_class, uint64_t *rng_state,
                       uint64_t *delay_us);

/*  True if the policy class cls matches failure class failure (see the
    matching rule above). Exposed for tests and for the CLI's --explain. */
bool shoal_retry_class_matches (const char *cls, const char *failure);

/*  One splitmix64 step: advances *state and returns the next 64 random
    bits. The generator jitter uses; seed *state with anything. */
uint64_t shoal_retry_rand (uint64_t *state);

/*  Appends *p to wr as one msgpack map:
        {kind: str, max: uint, delay_us: uint, max_delay_us: uint,
         multiplier: float64, jitter: float64, on: [str], not_on: [str]}
    Errors are the writer's (sticky; check shoal_wr_error). p must be
    valid. */
void shoal_retry_encode (const shoal_retry_t *p, shoal_wr_t *wr);

/*  Decodes the one msgpack map that fills data/size (as encode writes it)
    into *out, written only on success. "kind" is required; other missing
    keys take the defaults, unknown keys are skipped, multiplier and
    jitter may also be integers. Errors: SHOAL_ERR_MALFORMED for
    truncated bytes, trailing bytes, a non-map, no kind, a repeated key or
    a value of the wrong type;
    SHOAL_ERR_TOO_LARGE for more than 8 classes in a list or a class over
    31 characters; SHOAL_ERR_INVALID for an unknown kind or a value out of
    range (as shoal_retry_check). The bytes are only borrowed during the
    call. */
shoal_err_t shoal_retry_decode (const uint8_t *data, size_t size,
                                shoal_retry_t *out);

#endif
