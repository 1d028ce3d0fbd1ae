/*  shoal_breaker.c - circuit breaker: policy text and codec, the machine.

    The window is a ring of buckets stamped with the period they count,
    as in shoal_rate.c: counting into a bucket with a stale stamp starts
    it over, and summing skips stale ones, so sliding needs neither a
    timer nor a loop over elapsed periods. The rate is kept in millionths
    so the threshold test is integer arithmetic: "opens exactly at 0.3"
    must not depend on how 0.3 rounds in binary.

    Every state change moves the generation on, and a result counts only
    with a ticket of the current generation (see the header). That one
    rule replaces the flags a breaker would otherwise need to tell a late
    result of a pre-open call or a trial of an earlier half-open period
    from a current one.

    Deliberately not here: the fallback routing, events on the bus and
    the timer, which belong to the actor that owns the breakers; and any
    notion of slow calls, which the caller can report as failures.
*/
#include "shoal_breaker.h"
#include "shoal_duration.h"
#include "../protocol/shoal_mp.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*  Depth allowed when skipping an unknown value in a stored policy. */
#define S_SKIP_DEPTH 16

static uint64_t
s_sat_add (uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow (a, b, &r) ? UINT64_MAX : r;
}

/*  Refusals with a reason (protocol/shoal_err.h). */
#define s_fail shoal_err_setf

/* Policies ---------------------------------------------------------------- */

enum { K_RATE, K_MIN, K_WINDOW, K_OPEN, K_SUCCESSES, K_TRIALS, K_COUNT };
static const char *const s_keys[K_COUNT] = {"rate", "min",       "window",
                                            "open", "successes", "trials"};
static const char *const s_ranges[K_COUNT] = {
    "above 0 and at most 1", "from 1 to 1000000", "from 10us to 1d",
    "from 1us to 1d",        "from 1 to 10000",   "from 1 to 10000"};

void
shoal_breaker_policy_init (shoal_breaker_policy_t *p)
{
    p->rate_ppm = SHOAL_BREAKER_PPM / 2;
    p->min_calls = 20;
    p->window_us = 60 * SHOAL_US_PER_SEC;
    p->open_us = 30 * SHOAL_US_PER_SEC;
    p->successes = 3;
    p->trials = 0;
}

uint32_t
shoal_breaker_policy_trials (const shoal_breaker_policy_t *p)
{
    return p->trials ? p->trials : p->successes;
}

/*  A rate in millionths as the shortest decimal: "0.5", "1", "1.25". */
static void
s_rate_text (uint64_t ppm, char *buf, size_t cap)
{
    uint64_t whole = ppm / SHOAL_BREAKER_PPM;
    unsigned frac = (unsigned) (ppm % SHOAL_BREAKER_PPM);
    if (frac == 0) {
        snprintf (buf, cap, "%llu", (unsigned long long) whole);
        return;
    }
    int digits = 6;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    snprintf (buf, cap, "%llu.%0*u", (unsigned long long) whole, digits, frac);
}

/*  "KEY must be RANGE (got VALUE)", VALUE formatted from the number. */
static shoal_err_t
s_range_fail (int key, uint64_t v, char *err, size_t cap)
{
    char got[SHOAL_DURATION_STRLEN];
    if (key == K_RATE) {
        s_rate_text (v, got, sizeof got);
    } else if (key == K_WINDOW || key == K_OPEN) {
        shoal_duration_format (v, got, sizeof got);
    } else {
        snprintf (got, sizeof got, "%llu", (unsigned long long) v);
    }
    return s_fail (err, cap, "%s must be %s (got %s)", s_keys[key],
                   s_ranges[key], got);
}

/*  Checks one option's value (trials_zero_ok: trials 0 means "as many
    as successes" in the value, but is not written in the text). */
static shoal_err_t
s_check_key (int key, uint64_t v, bool trials_zero_ok, char *err, size_t cap)
{
    bool ok;
    switch (key) {
        case K_RATE:
            ok = v >= 1 && v <= SHOAL_BREAKER_PPM;
            break;
        case K_MIN:
            ok = v >= 1 && v <= SHOAL_BREAKER_MAX_MIN;
            break;
        case K_WINDOW:
            ok = v >= SHOAL_BREAKER_BUCKETS && v <= SHOAL_BREAKER_MAX_PERIOD;
            if (ok && v % SHOAL_BREAKER_BUCKETS != 0) {
                char got[SHOAL_DURATION_STRLEN];
                shoal_duration_format (v, got, sizeof got);
                return s_fail (err, cap,
                               "window must be a multiple of %dus, one per "
                               "bucket (got %s)",
                               SHOAL_BREAKER_BUCKETS, got);
            }
            break;
        case K_OPEN:
            ok = v >= 1 && v <= SHOAL_BREAKER_MAX_PERIOD;
            break;
        default: /* successes, trials */
            ok = (v >= 1 || (key == K_TRIALS && trials_zero_ok)) &&
                 v <= SHOAL_BREAKER_MAX_TRIALS;
            break;
    }
    return ok ? SHOAL_OK : s_range_fail (key, v, err, cap);
}

static uint64_t
s_field (const shoal_breaker_policy_t *p, int key)
{
    switch (key) {
        case K_RATE:
            return p->rate_ppm;
        case K_MIN:
            return p->min_calls;
        case K_WINDOW:
            return p->window_us;
        case K_OPEN:
            return p->open_us;
        case K_SUCCESSES:
            return p->successes;
        default:
            return p->trials;
    }
}

/*  Stores a value that passed s_check_key (so it fits its field). */
static void
s_store (shoal_breaker_policy_t *p, int key, uint64_t v)
{
    switch (key) {
        case K_RATE:
            p->rate_ppm = (uint32_t) v;
            break;
        case K_MIN:
            p->min_calls = (uint32_t) v;
            break;
        case K_WINDOW:
            p->window_us = v;
            break;
        case K_OPEN:
            p->open_us = v;
            break;
        case K_SUCCESSES:
            p->successes = (uint32_t) v;
            break;
        default:
            p->trials = (uint32_t) v;
            break;
    }
}

shoal_err_t
shoal_breaker_policy_check (const shoal_breaker_policy_t *p, char *err,
                            size_t err_cap)
{
    assert (p);
    if (err && err_cap > 0) {
        err[0] = '\0';
    }
    for (int key = 0; key < K_COUNT; key++) {
        shoal_err_t rc =
            s_check_key (key, s_field (p, key), true, err, err_cap);
        if (rc) {
            return rc;
        }
    }
    return SHOAL_OK;
}

/*  Decimal digits, at most 19 of them (so no overflow). */
static bool
s_whole (const char *s, size_t len, uint64_t *out)
{
    uint64_t n = 0;
    if (len == 0 || len > 19) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        n = n * 10 + (uint64_t) (s[i] - '0');
    }
    *out = n;
    return true;
}

/*  A rate in millionths from "0.5" (at most 6 decimals) or "50%" (at
    most 4), trailing zeros aside; at most 12 digits before the point. */
static bool
s_rate_ppm (const char *s, size_t len, uint64_t *out)
{
    bool pct = len > 0 && s[len - 1] == '%';
    size_t n = pct ? len - 1 : len;
    const char *dot = memchr (s, '.', n);
    size_t ilen = dot ? (size_t) (dot - s) : n;
    uint64_t whole, frac = 0;
    if (ilen > 12 || !s_whole (s, ilen, &whole)) {
        return false;
    }
    int places = pct ? 4 : 6, used = 0;
    if (dot) {
        const char *fs = dot + 1, *fe = s + n;
        if (fe == fs) {
            return false;
        }
        for (const char *q = fs; q < fe; q++) {
            if (*q < '0' || *q > '9') {
                return false;
            }
        }
        while (fe > fs && fe[-1] == '0') {
            fe--;
        }
        if (fe - fs > places ||
            (fe > fs && !s_whole (fs, (size_t) (fe - fs), &frac))) {
            return false;
        }
        used = (int) (fe - fs);
    }
    for (; used < places; used++) {
        frac *= 10;
    }
    *out = whole * (pct ? 10000 : SHOAL_BREAKER_PPM) + frac;
    return true;
}

static shoal_err_t
s_set (shoal_breaker_policy_t *p, int key, const char *v, size_t len, char *err,
       size_t cap)
{
    uint64_t x;
    const char *name = s_keys[key];
    if (key == K_RATE) {
        if (!s_rate_ppm (v, len, &x)) {
            return s_fail (err, cap,
                           "rate: \"%.*s\" is not a number like 0.5 or 50%% "
                           "(at most 6 decimals)",
                           (int) len, v);
        }
    } else if (key == K_WINDOW || key == K_OPEN) {
        if (shoal_duration_parsen (v, len, &x)) {
            return s_fail (err, cap,
                           "%s: \"%.*s\" is not a duration (like 500ms, 2s, "
                           "1.5m)",
                           name, (int) len, v);
        }
    } else if (!s_whole (v, len, &x)) {
        return s_fail (err, cap, "%s: \"%.*s\" is not a whole number", name,
                       (int) len, v);
    }
    shoal_err_t rc = s_check_key (key, x, false, err, cap);
    if (rc == SHOAL_OK) {
        s_store (p, key, x);
    }
    return rc;
}

static int
s_key (const char *k, size_t len)
{
    for (int key = 0; key < K_COUNT; key++) {
        if (strlen (s_keys[key]) == len && memcmp (k, s_keys[key], len) == 0) {
            return key;
        }
    }
    return -1;
}

static shoal_err_t
s_unknown (const char *k, size_t len, char *err, size_t cap)
{
    return s_fail (err, cap,
                   "unknown option \"%.*s\" (expected rate, min, window, "
                   "open, successes or trials)",
                   (int) len, k);
}

shoal_err_t
shoal_breaker_policy_set (shoal_breaker_policy_t *p, const char *key,
                          const char *value, char *err, size_t err_cap)
{
    assert (p && key && value);
    if (err && err_cap > 0) {
        err[0] = '\0';
    }
    int k = s_key (key, strlen (key));
    if (k < 0) {
        return s_unknown (key, strlen (key), err, err_cap);
    }
    return s_set (p, k, value, strlen (value), err, err_cap);
}

shoal_err_t
shoal_breaker_policy_parse (const char *s, shoal_breaker_policy_t *out,
                            char *err, size_t err_cap)
{
    assert (s && out);
    if (err && err_cap > 0) {
        err[0] = '\0';
    }
    shoal_breaker_policy_t p;
    shoal_breaker_policy_init (&p);
    unsigned seen = 0;
    const char *o = s;
    for (;;) {
        const char *comma = strchr (o, ',');
        size_t olen = comma ? (size_t) (comma - o) : strlen (o);
        const char *eq = memchr (o, '=', olen);
        if (olen == 0) {
            return s_fail (err, err_cap, "empty option");
        }
        if (!eq) {
            return s_fail (err, err_cap,
                           "option \"%.*s\" needs a value (NAME=VALUE)",
                           (int) olen, o);
        }
        size_t nlen = (size_t) (eq - o);
        int key = s_key (o, nlen);
        if (key < 0) {
            return s_unknown (o, nlen, err, err_cap);
        }
        if (seen & (1u << key)) {
            return s_fail (err, err_cap, "%s given twice", s_keys[key]);
        }
        seen |= 1u << key;
        shoal_err_t rc = s_set (&p, key, eq + 1, olen - nlen - 1, err, err_cap);
        if (rc) {
            return rc;
        }
        if (!comma) {
            break;
        }
        o = comma + 1;
    }
    *out = p;
    return SHOAL_OK;
}

size_t
shoal_breaker_policy_format (const shoal_breaker_policy_t *p, char *buf,
                             size_t cap)
{
    char r[SHOAL_DURATION_STRLEN], w[SHOAL_DURATION_STRLEN],
        o[SHOAL_DURATION_STRLEN], t[24] = "";
    s_rate_text (p->rate_ppm, r, sizeof r);
    shoal_duration_format (p->window_us, w, sizeof w);
    shoal_duration_format (p->open_us, o, sizeof o);
    if (p->trials) {
        snprintf (t, sizeof t, ",trials=%u", p->trials);
    }
    int n =
        snprintf (buf, cap, "rate=%s,min=%u,window=%s,open=%s,successes=%u%s",
                  r, p->min_calls, w, o, p->successes, t);
    return n > 0 ? (size_t) n : 0;
}

/* msgpack ----------------------------------------------------------------- */

static const char *const s_dkeys[K_COUNT] = {
    "rate_ppm", "min_calls", "window_us", "open_us", "successes", "trials"};

void
shoal_breaker_policy_encode (const shoal_breaker_policy_t *p, shoal_wr_t *wr)
{
    shoal_wr_map (wr, K_COUNT);
    for (int key = 0; key < K_COUNT; key++) {
        shoal_wr_kv_uint (wr, s_dkeys[key], s_field (p, key));
    }
}

shoal_err_t
shoal_breaker_policy_decode (const uint8_t *data, size_t size,
                             shoal_breaker_policy_t *out)
{
    shoal_rd_t rd;
    shoal_rd_init (&rd, data, size);
    uint32_t pairs;
    shoal_err_t rc = shoal_rd_map (&rd, &pairs);
    if (rc) {
        return rc == SHOAL_ERR_INVALID ? SHOAL_ERR_MALFORMED : rc;
    }
    shoal_breaker_policy_t p;
    shoal_breaker_policy_init (&p);
    uint64_t seen = 0;
    bool out_of_range = false;
    for (uint32_t i = 0; i < pairs; i++) {
        size_t k;
        if ((rc = shoal_rd_key (&rd, s_dkeys, K_COUNT, &seen, &k,
                                S_SKIP_DEPTH))) {
            return rc;
        }
        if (k == K_COUNT) {
            continue; /* unknown key, skipped */
        }
        int key = (int) k;
        uint64_t v;
        if ((rc = shoal_rd_uint (&rd, &v))) {
            return rc == SHOAL_ERR_INVALID ? SHOAL_ERR_MALFORMED : rc;
        }
        /* Keep reading after a bad value so that damage later in the
           bytes still reads as MALFORMED rather than INVALID. */
        if (s_check_key (key, v, true, NULL, 0)) {
            out_of_range = true;
        } else {
            s_store (&p, key, v);
        }
    }
    if (shoal_rd_left (&rd) != 0) {
        return SHOAL_ERR_MALFORMED;
    }
    if (out_of_range) {
        return SHOAL_ERR_INVALID;
    }
    *out = p;
    return SHOAL_OK;
}

/* The state machine ------------------------------------------------------- */

static void
s_clear_window (shoal_breaker_t *b)
{
    memset (b->stamp, 0, sizeof b->stamp);
    memset (b->calls, 0, sizeof b->calls);
    memset (b->failures, 0, sizeof b->failures);
}

void
shoal_breaker_init (shoal_breaker_t *b, const shoal_breaker_policy_t *p)
{
    assert (b && p && shoal_breaker_policy_check (p, NULL, 0) == SHOAL_OK);
    memset (b, 0, sizeof *b);
    b->policy = *p;
    b->state = SHOAL_BREAKER_CLOSED;
}

/*  The breaker's time: now_us, or the latest seen if that is later. */
static uint64_t
s_clock (shoal_breaker_t *b, uint64_t now_us)
{
    if (now_us > b->seen_us) {
        b->seen_us = now_us;
    }
    return b->seen_us;
}

static uint64_t
s_width (const shoal_breaker_t *b)
{
    return b->policy.window_us / SHOAL_BREAKER_BUCKETS;
}

static void
s_sum (const shoal_breaker_t *b, uint64_t now_us, uint32_t *calls,
       uint32_t *failures)
{
    uint64_t period = now_us / s_width (b), c = 0, f = 0;
    for (int i = 0; i < SHOAL_BREAKER_BUCKETS; i++) {
        /* Stamps never pass the breaker's time, so only age matters. */
        if (b->stamp[i] <= period &&
            b->stamp[i] + SHOAL_BREAKER_BUCKETS > period) {
            c += b->calls[i];
            f += b->failures[i];
        }
    }
    *calls = c > UINT32_MAX ? UINT32_MAX : (uint32_t) c;
    *failures = f > UINT32_MAX ? UINT32_MAX : (uint32_t) f;
}

/*  Moves to state `to` at now_us, reporting in *change. */
static bool
s_move (shoal_breaker_t *b, shoal_breaker_state_t to, uint64_t now_us,
        uint32_t calls, uint32_t failures, shoal_breaker_change_t *change)
{
    shoal_breaker_change_t ch = {b->state, to, calls, failures, now_us, 0};
    b->state = to;
    b->gen++;
    b->in_flight = 0;
    b->succeeded = 0;
    if (to == SHOAL_BREAKER_OPEN) {
        b->opened_us = now_us;
        b->trip_calls = calls;
        b->trip_failures = failures;
        b->trip_trial = ch.from == SHOAL_BREAKER_HALF_OPEN;
        ch.until_us = shoal_breaker_next_change_us (b);
    } else if (to == SHOAL_BREAKER_CLOSED) {
        s_clear_window (b);
    }
    if (change) {
        *change = ch;
    }
    return true;
}

uint64_t
shoal_breaker_next_change_us (const shoal_breaker_t *b)
{
    return b->state == SHOAL_BREAKER_OPEN
               ? s_sat_add (b->opened_us, b->policy.open_us)
               : UINT64_MAX;
}

static bool
s_advance (shoal_breaker_t *b, uint64_t now_us, shoal_breaker_change_t *change)
{
    if (b->state == SHOAL_BREAKER_OPEN &&
        now_us >= shoal_breaker_next_change_us (b)) {
        return s_move (b, SHOAL_BREAKER_HALF_OPEN, now_us, 0, 0, change);
    }
    return false;
}

bool
shoal_breaker_tick (shoal_breaker_t *b, uint64_t now_us,
                    shoal_breaker_change_t *change)
{
    return s_advance (b, s_clock (b, now_us), change);
}

bool
shoal_breaker_allow (shoal_breaker_t *b, uint64_t now_us,
                     shoal_breaker_ticket_t *ticket,
                     shoal_breaker_change_t *change)
{
    assert (b && ticket);
    bool changed = s_advance (b, s_clock (b, now_us), change);
    ticket->gen = b->gen;
    ticket->decision = SHOAL_BREAKER_REJECT;
    if (b->state == SHOAL_BREAKER_CLOSED) {
        ticket->decision = SHOAL_BREAKER_ALLOW;
    } else if (b->state == SHOAL_BREAKER_HALF_OPEN &&
               b->in_flight < shoal_breaker_policy_trials (&b->policy)) {
        b->in_flight++;
        ticket->decision = SHOAL_BREAKER_ALLOW_TRIAL;
    }
    return changed;
}

/*  True if ticket is of the current generation and let a call through
    in the current state. */
static bool
s_current (const shoal_breaker_t *b, shoal_breaker_ticket_t ticket)
{
    return ticket.gen == b->gen &&
           ((b->state == SHOAL_BREAKER_CLOSED &&
             ticket.decision == SHOAL_BREAKER_ALLOW) ||
            (b->state == SHOAL_BREAKER_HALF_OPEN &&
             ticket.decision == SHOAL_BREAKER_ALLOW_TRIAL && b->in_flight > 0));
}

bool
shoal_breaker_record (shoal_breaker_t *b, uint64_t now_us,
                      shoal_breaker_ticket_t ticket, bool ok,
                      shoal_breaker_change_t *change)
{
    assert (b);
    uint64_t now = s_clock (b, now_us);
    if (ticket.decision == SHOAL_BREAKER_REJECT) {
        return false;
    }
    if (!s_current (b, ticket)) {
        b->stale++;
        return false;
    }
    if (b->state == SHOAL_BREAKER_HALF_OPEN) {
        b->in_flight--;
        if (!ok) {
            return s_move (b, SHOAL_BREAKER_OPEN, now, b->succeeded + 1, 1,
                           change);
        }
        if (++b->succeeded >= b->policy.successes) {
            return s_move (b, SHOAL_BREAKER_CLOSED, now, b->succeeded, 0,
                           change);
        }
        return false;
    }
    uint64_t period = now / s_width (b);
    int i = (int) (period % SHOAL_BREAKER_BUCKETS);
    if (b->stamp[i] != period) {
        b->stamp[i] = period;
        b->calls[i] = 0;
        b->failures[i] = 0;
    }
    if (b->calls[i] < UINT32_MAX) {
        b->calls[i]++;
        b->failures[i] += !ok;
    }
    uint32_t calls, failures;
    s_sum (b, now, &calls, &failures);
    if (calls >= b->policy.min_calls &&
        (uint64_t) failures * SHOAL_BREAKER_PPM >=
            (uint64_t) b->policy.rate_ppm * calls) {
        return s_move (b, SHOAL_BREAKER_OPEN, now, calls, failures, change);
    }
    return false;
}

void
shoal_breaker_cancel (shoal_breaker_t *b, shoal_breaker_ticket_t ticket)
{
    if (b->state == SHOAL_BREAKER_HALF_OPEN && s_current (b, ticket)) {
        b->in_flight--;
    }
}

void
shoal_breaker_counts (const shoal_breaker_t *b, uint64_t now_us,
                      uint32_t *calls, uint32_t *failures)
{
    uint32_t c = 0, f = 0;
    if (b->state == SHOAL_BREAKER_CLOSED) {
        s_sum (b, now_us > b->seen_us ? now_us : b->seen_us, &c, &f);
    }
    if (calls) {
        *calls = c;
    }
    if (failures) {
        *failures = f;
    }
}

bool
shoal_breaker_reset (shoal_breaker_t *b, uint64_t now_us,
                     shoal_breaker_change_t *change)
{
    uint64_t now = s_clock (b, now_us);
    if (b->state != SHOAL_BREAKER_CLOSED) {
        return s_move (b, SHOAL_BREAKER_CLOSED, now, 0, 0, change);
    }
    b->gen++;
    s_clear_window (b);
    return false;
}

size_t
shoal_breaker_explain (const shoal_breaker_t *b, uint64_t now_us, char *buf,
                       size_t cap)
{
    int n;
    if (b->state == SHOAL_BREAKER_OPEN) {
        uint64_t due = shoal_breaker_next_change_us (b);
        uint64_t now = now_us > b->seen_us ? now_us : b->seen_us;
        char left[SHOAL_DURATION_STRLEN], win[SHOAL_DURATION_STRLEN];
        shoal_duration_format (due > now ? due - now : 0, left, sizeof left);
        if (!b->trip_trial) {
            shoal_duration_format (b->policy.window_us, win, sizeof win);
            n = snprintf (buf, cap,
                          "circuit open: %u of %u calls failed within %s; "
                          "half-open in %s",
                          b->trip_failures, b->trip_calls, win, left);
        } else {
            n = snprintf (buf, cap,
                          "circuit open: a trial call failed; half-open in %s",
                          left);
        }
    } else if (b->state == SHOAL_BREAKER_HALF_OPEN) {
        n = snprintf (buf, cap,
                      "circuit half-open: all %u trial calls are in flight",
                      shoal_breaker_policy_trials (&b->policy));
    } else {
        n = snprintf (buf, cap, "circuit closed");
    }
    return n > 0 ? (size_t) n : 0;
}

/* Names and events -------------------------------------------------------- */

const char *
shoal_breaker_state_name (int state)
{
    static const char *const names[] = {"closed", "open", "half_open"};
    return state >= 0 && state < 3 ? names[state] : "?";
}

const char *
shoal_breaker_decision_name (int decision)
{
    static const char *const names[] = {"allow", "trial", "reject"};
    return decision >= 0 && decision < 3 ? names[decision] : "?";
}

const char *
shoal_breaker_topic (int state)
{
    static const char *const topics[] = {"breaker.closed", "breaker.opened",
                                         "breaker.half_open"};
    return state >= 0 && state < 3 ? topics[state] : "breaker.?";
}

void
shoal_breaker_change_encode (const shoal_breaker_change_t *change,
                             shoal_wr_t *wr)
{
    shoal_wr_kv_str (wr, "from", shoal_breaker_state_name (change->from));
    shoal_wr_kv_str (wr, "to", shoal_breaker_state_name (change->to));
    shoal_wr_kv_uint (wr, "calls", change->calls);
    shoal_wr_kv_uint (wr, "failures", change->failures);
    shoal_wr_kv_uint (wr, "until_us", change->until_us);
}
