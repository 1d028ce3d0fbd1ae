/*  shoal_breaker_actor.h - one circuit breaker actor per node type.

    The router starts one for each node type that has a breaker policy,
    the first time a node of that type asks to start, and talks to it over
    the actor pipe only (so a message can never reach it before it is
    ready, and it dies with the router). The state machine is
    runtime/shoal_breaker.h; this actor owns one, on its own clock, with a
    timer for the open -> half-open change.

    Every message on the pipe, either way, is the picture "sbb": a
    command and two byte frames (CZMQ receives a picture whole, so one
    picture for all keeps both ends simple). Router -> breaker:
        "GATE"    token, policy
            decides on one activation (shoal_breaker_allow); token is
            opaque and comes back as it was; policy is a
            shoal_breaker_policy_encode map - a policy other than the one
            in force replaces it and resets the breaker.
        "OUTCOME" shoal_breaker_outcome_t, -
            records how an admitted activation ended.
        "$TERM" (a plain string, as for every actor)
    Breaker -> router:
        "ADMIT"   token, shoal_breaker_admit_t (why: "" unless rejected,
                  then shoal_breaker_explain's text)
        "CHANGE"  shoal_breaker_change_t, -
            on every state change, for the router to publish.
    Structs travel as their bytes: both ends are threads of one process.

    args->extra: the node type (const char *), copied at start.
*/
#ifndef SHOAL_BREAKER_ACTOR_H_INCLUDED
#define SHOAL_BREAKER_ACTOR_H_INCLUDED

#include <czmq.h>

#include "shoal_breaker.h"

typedef struct {
    uint32_t gen;      /* the ticket's generation */
    uint32_t decision; /* the ticket's shoal_breaker_decision_t */
    uint32_t result;   /* 0 succeeded, 1 failed, 2 will never report */
} shoal_breaker_outcome_t;

typedef struct {
    uint32_t decision; /* shoal_breaker_decision_t */
    uint32_t gen;
    char why[200];
} shoal_breaker_admit_t;

void shoal_breaker_actor (zsock_t *pipe, void *args);

#endif
