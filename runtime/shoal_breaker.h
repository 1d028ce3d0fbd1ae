/*  shoal_breaker.h - a circuit breaker: the state machine, no actor.

    A breaker guards one node type against cascading failure. It is

        closed     calls go through; their results are counted in a
                   sliding window. When, after a result, the window holds
                   at least min_calls calls and failures / calls >= rate,
                   it opens.
        open       calls are rejected (the caller sends them to the node's
                   fallback node or fails them fast). After open_for it
                   turns half-open.
        half_open  up to `trials` calls at a time go through as trials.
                   A failed trial opens it again for a fresh open_for;
                   `successes` successful trials close it with an empty
                   window.

    The window is SHOAL_BREAKER_BUCKETS buckets of window/10 each, stamped
    with the bucket period they count, in a ring: constant memory, no
    allocation and no timer. A result at time t lands in bucket
    floor(t / width); the window at now is the bucket of now and the nine
    before it, so a result counts from when it is recorded until the end
    of the ninth bucket period after its own: at least window - width and
    less than window. The rate is compared exactly, in integers:
    failures * 1000000 >= rate_ppm * calls.

    Tickets and late results. shoal_breaker_allow hands out a ticket that
    the caller gives back to shoal_breaker_record with the outcome. The
    ticket carries the breaker's generation, which moves on at every
    state change, and a result counts only if its ticket is of the
    current generation. So results of calls let through before the
    breaker opened, or trials that were still running when another trial
    re-opened it or enough of them closed it, are dropped (and counted
    in `stale`): they cannot leak into a later window or be mistaken for
    the trials of a later half-open period. A call that will never report
    (cancelled, lost) gives its ticket back with shoal_breaker_cancel so
    its trial slot is not held forever.

    Time is a parameter (microseconds, any origin, the same on every
    call); nothing here reads a clock or allocates. The breaker's time
    never goes back: a now_us earlier than one already seen is taken as
    that one. Open turns half-open only in shoal_breaker_allow and
    shoal_breaker_tick, never in shoal_breaker_record. A plain value
    (248 bytes): embed it, one per node type. Not thread safe: one
    owner, or a lock around it.

    The actor that hosts breakers does, per activation of node type T:

        shoal_breaker_ticket_t tk;
        shoal_breaker_change_t ch;
        if (shoal_breaker_allow (&b, now, &tk, &ch))
            emit shoal_breaker_topic (ch.to) with shoal_breaker_change_encode
        if (tk.decision == SHOAL_BREAKER_REJECT)
            activate T's fallback node, or fail the activation with the
            text of shoal_breaker_explain
        else
            run it, keep tk with the activation; when it ends:
            if (shoal_breaker_record (&b, now, tk, ok, &ch)) emit ...

    and keeps one timer for shoal_breaker_next_change_us, on which it
    calls shoal_breaker_tick (to emit breaker.half_open on time even when
    no activation comes).

    Policies as text, for the CLI and workflow files (each option at most
    once, in any order, none required):

        rate=R        failure rate that opens: above 0, at most 1, at most
                      6 decimals ("0.5", "0.125") or a percentage with at
                      most 4 ("50%", "12.5%")                  default 0.5
        min=N         calls the window must hold before the rate counts,
                      1-1000000                                default 20
        window=D      the sliding window, a multiple of 10us, 10us-1d
                                                               default 60s
        open=D        how long it stays open, 1us-1d           default 30s
        successes=N   trial successes that close it, 1-10000   default 3
        trials=N      trials at a time while half-open, 1-10000
                                                   default: = successes

    e.g. "rate=0.5,min=20,window=60s,open=30s,successes=3". Durations as
    in shoal_duration.h (a bare number is milliseconds).
*/
#ifndef SHOAL_BREAKER_H_INCLUDED
#define SHOAL_BREAKER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"
#include "../protocol/shoal_wr.h"

#define SHOAL_BREAKER_BUCKETS    10
#define SHOAL_BREAKER_PPM        1000000u /* rate_ppm of a rate of 1 */
#define SHOAL_BREAKER_MAX_MIN    1000000u
#define SHOAL_BREAKER_MAX_TRIALS 10000u         /* successes and trials */
#define SHOAL_BREAKER_MAX_PERIOD 86400000000ull /* window, open: 1 day */
/*  A buffer this big always holds shoal_breaker_policy_format's output. */
#define SHOAL_BREAKER_POLICY_STRLEN 128
/*  Key/value pairs shoal_breaker_change_encode writes. */
#define SHOAL_BREAKER_EVENT_PAIRS 5

typedef struct {
    uint32_t rate_ppm;  /* opening failure rate in millionths, 1-1000000 */
    uint32_t min_calls; /* 1-1000000 */
    uint64_t window_us; /* a multiple of 10, 10 - 1 day */
    uint64_t open_us;   /* 1 - 1 day */
    uint32_t successes; /* 1-10000 */
    uint32_t trials;    /* 1-10000, or 0: the same as successes */
} shoal_breaker_policy_t;

typedef enum {
    SHOAL_BREAKER_CLOSED = 0,
    SHOAL_BREAKER_OPEN = 1,
    SHOAL_BREAKER_HALF_OPEN = 2,
} shoal_breaker_state_t;

typedef enum {
    SHOAL_BREAKER_ALLOW = 0,       /* closed: run it */
    SHOAL_BREAKER_ALLOW_TRIAL = 1, /* half-open: run it as a trial */
    SHOAL_BREAKER_REJECT = 2,      /* open, or no trial slot free */
} shoal_breaker_decision_t;

/*  What shoal_breaker_allow decided; give it back to shoal_breaker_record
    or shoal_breaker_cancel. Meaningful only to the breaker that issued
    it, and only since its last init or reset. */
typedef struct {
    shoal_breaker_decision_t decision;
    uint32_t gen; /* the breaker's generation when it was issued */
} shoal_breaker_ticket_t;

/*  A state change, for the event the owner emits. */
typedef struct {
    shoal_breaker_state_t from;
    shoal_breaker_state_t to;
    /*  The results that decided it: closed -> open, the window's calls
        and failures; half_open -> open, the trials finished in this
        half-open period including the failed one (failures 1); half_open
        -> closed, successes and 0; open -> half_open, 0 and 0. */
    uint32_t calls;
    uint32_t failures;
    uint64_t at_us;    /* the breaker's time of the change */
    uint64_t until_us; /* to open: when it turns half-open; otherwise 0 */
} shoal_breaker_change_t;

typedef struct {
    shoal_breaker_policy_t policy;
    shoal_breaker_state_t state;
    uint32_t gen;        /* moves on at every state change */
    uint64_t seen_us;    /* the latest now_us seen */
    uint64_t opened_us;  /* open: when it (re)opened */
    uint32_t in_flight;  /* half-open: trials allowed, not yet recorded */
    uint32_t succeeded;  /* half-open: trials that succeeded */
    uint32_t trip_calls; /* open: the change's calls and failures */
    uint32_t trip_failures;
    bool trip_trial; /* open: a failed trial opened it */
    uint64_t stale;  /* results dropped for an old generation */
    uint64_t stamp[SHOAL_BREAKER_BUCKETS]; /* the period each bucket counts */
    uint32_t calls[SHOAL_BREAKER_BUCKETS];
    uint32_t failures[SHOAL_BREAKER_BUCKETS];
} shoal_breaker_t;

/* Policies ---------------------------------------------------------------- */

/*  Sets *p to the defaults: rate 0.5, min 20, window 60s, open 30s,
    successes 3, trials 0 (as many as successes). */
void shoal_breaker_policy_init (shoal_breaker_policy_t *p);

/*  Parses the NUL-terminated text s (see above) over the defaults into
    *out, written only on success. SHOAL_ERR_INVALID on any error, with a
    one-line message in err (NUL-terminated, truncated to err_cap; err may
    be NULL when err_cap is 0), e.g.
        "unknown option \"rat\" (expected rate, min, window, open,
         successes or trials)"
        "window: \"1x\" is not a duration (like 500ms, 2s, 1.5m)"
        "min must be from 1 to 1000000 (got 0)" */
shoal_err_t shoal_breaker_policy_parse (const char *s,
                                        shoal_breaker_policy_t *out, char *err,
                                        size_t err_cap);

/*  Sets one option, key (rate, min, window, open, successes, trials)
    from its text value, as in the text form; for a workflow file's
    {"breaker": {"rate": 0.5, "window": "60s"}} map, given each value's
    text (a JSON number's own digits). Checks that value's range; *p is
    changed only on success. Errors as shoal_breaker_policy_parse. */
shoal_err_t shoal_breaker_policy_set (shoal_breaker_policy_t *p,
                                      const char *key, const char *value,
                                      char *err, size_t err_cap);

/*  Checks every field of *p against the ranges above: SHOAL_OK, or
    SHOAL_ERR_INVALID with a message naming the option as the text form
    does ("successes must be from 1 to 10000 (got 0)"). For policies built
    field by field; parse, set and decode only ever produce valid ones. */
shoal_err_t shoal_breaker_policy_check (const shoal_breaker_policy_t *p,
                                        char *err, size_t err_cap);

/*  The trials allowed at a time: p->trials, or p->successes when 0. */
uint32_t shoal_breaker_policy_trials (const shoal_breaker_policy_t *p);

/*  Formats *p in the text form, every option in the order above (trials
    only when not 0), e.g. "rate=0.5,min=20,window=1m,open=30s,
    successes=3"; parsing it gives *p back. Returns the length of the
    full text, like snprintf; a SHOAL_BREAKER_POLICY_STRLEN buffer never
    truncates. p must be valid. */
size_t shoal_breaker_policy_format (const shoal_breaker_policy_t *p, char *buf,
                                    size_t cap);

/*  Appends *p to wr as one msgpack map:
        {rate_ppm: uint, min_calls: uint, window_us: uint, open_us: uint,
         successes: uint, trials: uint}
    Errors are the writer's (sticky; check shoal_wr_error). */
void shoal_breaker_policy_encode (const shoal_breaker_policy_t *p,
                                  shoal_wr_t *wr);

/*  Decodes the one msgpack map that fills data/size into *out, written
    only on success. Missing keys take the defaults, unknown keys are
    skipped. SHOAL_ERR_MALFORMED for truncated or trailing bytes, a
    non-map, a non-string key, a repeated key or a value that is not an
    unsigned integer; SHOAL_ERR_INVALID for a value out of range (as
    shoal_breaker_policy_check). The bytes are only borrowed. */
shoal_err_t shoal_breaker_policy_decode (const uint8_t *data, size_t size,
                                         shoal_breaker_policy_t *out);

/* The state machine ------------------------------------------------------- */

/*  Sets *b to a closed breaker with an empty window and policy p, which
    must be valid (asserted) and is copied. */
void shoal_breaker_init (shoal_breaker_t *b, const shoal_breaker_policy_t *p);

/*  Decides on one call at now_us and writes it to *ticket: ALLOW when
    closed, ALLOW_TRIAL when half-open and fewer than the policy's trials
    are in flight (taking a slot), REJECT otherwise. An open breaker whose
    open_for has passed (now_us >= shoal_breaker_next_change_us) turns
    half-open first. Returns true when the state changed, with the change
    in *change (if not NULL); false otherwise. */
bool shoal_breaker_allow (shoal_breaker_t *b, uint64_t now_us,
                          shoal_breaker_ticket_t *ticket,
                          shoal_breaker_change_t *change);

/*  Records the outcome of the call ticket let through: ok is success.
    Closed: counts it in the window, then opens if the window holds at
    least min_calls calls and failures/calls >= rate. Half-open: frees
    the trial slot; a failure re-opens with a fresh open_for, the
    successes-th success closes with an empty window. A ticket of an
    older generation is dropped (b->stale counts it), a REJECT ticket
    ignored. Returns true when the state changed, with *change as for
    shoal_breaker_allow. */
bool shoal_breaker_record (shoal_breaker_t *b, uint64_t now_us,
                           shoal_breaker_ticket_t ticket, bool ok,
                           shoal_breaker_change_t *change);

/*  Gives back a ticket whose call will not report: frees its trial slot
    if it holds one of the current half-open period. Changes no state and
    counts nothing. */
void shoal_breaker_cancel (shoal_breaker_t *b, shoal_breaker_ticket_t ticket);

/*  Applies the time-driven change, open -> half-open when due, without
    deciding on a call. Returns true when the state changed, as above. For
    the owner's timer. */
bool shoal_breaker_tick (shoal_breaker_t *b, uint64_t now_us,
                         shoal_breaker_change_t *change);

/*  When an open breaker turns half-open (opened + open_for, saturating);
    UINT64_MAX in the other states, whose changes are all driven by
    results. */
uint64_t shoal_breaker_next_change_us (const shoal_breaker_t *b);

static inline shoal_breaker_state_t
shoal_breaker_state (const shoal_breaker_t *b)
{
    return b->state;
}

/*  The calls and failures the window holds at now_us (either pointer may
    be NULL); zero unless closed. For metrics and the live query. */
void shoal_breaker_counts (const shoal_breaker_t *b, uint64_t now_us,
                           uint32_t *calls, uint32_t *failures);

/*  Forgets everything: closed, empty window, same policy, a new
    generation (tickets issued before are stale). Returns true, with
    *change, if it was not closed. */
bool shoal_breaker_reset (shoal_breaker_t *b, uint64_t now_us,
                          shoal_breaker_change_t *change);

/*  Why a call at now_us is rejected, for the error of an activation that
    has no fallback; e.g.
        "circuit open: 12 of 20 calls failed within 1m; half-open in 12.5s"
        "circuit open: a trial call failed; half-open in 30s"
        "circuit half-open: all 3 trial calls are in flight"
    Writes at most cap bytes including the NUL and returns the full
    length, like snprintf. "circuit closed" when it is closed. */
size_t shoal_breaker_explain (const shoal_breaker_t *b, uint64_t now_us,
                              char *buf, size_t cap);

/* Names and events -------------------------------------------------------- */

/*  "closed", "open", "half_open"; "?" for anything else. */
const char *shoal_breaker_state_name (int state);

/*  "allow", "trial", "reject"; "?" for anything else. */
const char *shoal_breaker_decision_name (int decision);

/*  The event topic of entering state: "breaker.closed", "breaker.opened",
    "breaker.half_open"; "breaker.?" for anything else. */
const char *shoal_breaker_topic (int state);

/*  Appends the SHOAL_BREAKER_EVENT_PAIRS key/value pairs of an event for
    *change, after shoal_event_head (see shoal_event.h):
        from: str, to: str, calls: uint, failures: uint, until_us: uint
    (state names as shoal_breaker_state_name; until_us 0 unless opened). */
void shoal_breaker_change_encode (const shoal_breaker_change_t *change,
                                  shoal_wr_t *wr);

#endif
