/*  shoal_breaker_actor.c - a breaker state machine behind an actor pipe.
    See shoal_breaker_actor.h for the commands. */
#include "shoal_breaker_actor.h"

#include "shoal_actor.h"
#include "shoal_log.h"
#include "shoal_limits.h"

#include <string.h>

#define S_TICK_MS 100 /* longest real wait: the clock may be a test's */

typedef struct {
    zsock_t *pipe;
    shoal_clock_t clock;
    char type[SHOAL_NAME_MAX + 1];
    shoal_breaker_t b;
    bool terminated;
} self_t;

static void
s_change (self_t *self, const shoal_breaker_change_t *ch)
{
    zsock_send (self->pipe, "sbb", "CHANGE", ch, sizeof *ch, "", (size_t) 0);
}

static void
s_gate (self_t *self, const byte *token, size_t token_len, const byte *pol,
        size_t pol_len)
{
    uint64_t now = shoal_clock_now_us (&self->clock);
    shoal_breaker_policy_t p;
    shoal_breaker_change_t ch;
    if (pol_len && shoal_breaker_policy_decode (pol, pol_len, &p) == SHOAL_OK &&
        memcmp (&p, &self->b.policy, sizeof p) != 0) {
        /* A definition with another policy for this type: it wins. */
        char text[SHOAL_BREAKER_POLICY_STRLEN];
        shoal_breaker_policy_format (&p, text, sizeof text);
        shoal_info ("breaker %s: policy %s", self->type, text);
        if (shoal_breaker_reset (&self->b, now, &ch)) {
            s_change (self, &ch);
        }
        uint32_t gen = self->b.gen;
        shoal_breaker_init (&self->b, &p);
        self->b.gen = gen + 1; /* tickets of the old policy are stale */
    }
    shoal_breaker_ticket_t tk;
    if (shoal_breaker_allow (&self->b, now, &tk, &ch)) {
        s_change (self, &ch);
    }
    shoal_breaker_admit_t a;
    memset (&a, 0, sizeof a);
    a.decision = (uint32_t) tk.decision;
    a.gen = tk.gen;
    if (tk.decision == SHOAL_BREAKER_REJECT) {
        shoal_breaker_explain (&self->b, now, a.why, sizeof a.why);
    }
    zsock_send (self->pipe, "sbb", "ADMIT", token, token_len, &a, sizeof a);
}

static void
s_outcome (self_t *self, const byte *data, size_t len)
{
    shoal_breaker_outcome_t o;
    if (len != sizeof o) {
        return;
    }
    memcpy (&o, data, sizeof o);
    if (o.decision >= SHOAL_BREAKER_REJECT) {
        return; /* nothing was let through */
    }
    shoal_breaker_ticket_t tk = {(shoal_breaker_decision_t) o.decision, o.gen};
    if (o.result == 2) {
        shoal_breaker_cancel (&self->b, tk);
        return;
    }
    shoal_breaker_change_t ch;
    if (shoal_breaker_record (&self->b, shoal_clock_now_us (&self->clock), tk,
                              o.result == 0, &ch)) {
        s_change (self, &ch);
    }
}

void
shoal_breaker_actor (zsock_t *pipe, void *args_)
{
    zsock_signal (pipe, 0);
    const shoal_actor_args_t *args = args_;
    self_t self;
    memset (&self, 0, sizeof self);
    self.pipe = pipe;
    self.clock = args->clock;
    snprintf (self.type, sizeof self.type, "%s",
              args->extra ? (const char *) args->extra : "?");
    shoal_breaker_policy_t p;
    shoal_breaker_policy_init (&p);
    shoal_breaker_init (&self.b, &p);
    shoal_actor_ready (pipe, SHOAL_OK);
    while (!self.terminated) {
        /* Wake for the open -> half-open change (on our clock, which a
           test may move: never wait longer than a tick then). */
        uint64_t now = shoal_clock_now_us (&self.clock);
        uint64_t next = shoal_breaker_next_change_us (&self.b);
        long wait = -1;
        if (next != UINT64_MAX) {
            uint64_t ms = next > now ? (next - now) / 1000 + 1 : 0;
            wait = ms < S_TICK_MS ? (long) ms : S_TICK_MS;
        }
        zmq_pollitem_t item = {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0};
        int n = zmq_poll (&item, 1, wait);
        if (n < 0 && zmq_errno () != EINTR) {
            break;
        }
        shoal_breaker_change_t ch;
        if (shoal_breaker_tick (&self.b, shoal_clock_now_us (&self.clock),
                                &ch)) {
            s_change (&self, &ch);
        }
        if (n <= 0) {
            continue;
        }
        zmsg_t *msg = zmsg_recv (pipe);
        char *cmd = msg ? zmsg_popstr (msg) : NULL;
        zframe_t *a = msg ? zmsg_pop (msg) : NULL;
        zframe_t *b = msg ? zmsg_pop (msg) : NULL;
        if (!cmd || streq (cmd, "$TERM")) {
            self.terminated = true;
        } else if (streq (cmd, "GATE") && a && b) {
            s_gate (&self, zframe_data (a), zframe_size (a), zframe_data (b),
                    zframe_size (b));
        } else if (streq (cmd, "OUTCOME") && a) {
            s_outcome (&self, zframe_data (a), zframe_size (a));
        } else {
            shoal_warn ("breaker %s: bad command %s", self.type,
                        cmd ? cmd : "?");
        }
        zstr_free (&cmd);
        zframe_destroy (&a);
        zframe_destroy (&b);
        zmsg_destroy (&msg);
    }
}
