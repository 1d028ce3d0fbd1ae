/*  shoal_router.h - the workflow router actor.

    Bus name "router". The store tells it when a run's node has ended
    (ROUTE); it decides, from the definition's edges, which of the node's
    outgoing edges fire - trigger, port, condition over the node's output
    and the run's input - and answers STEP with that decision; the store
    then commits the step (the node's routing, the successors it starts
    or skips, the events) in one transaction. The router keeps no run
    state, so nothing is lost when it restarts: it announces itself with
    ROUTER_BOOT and the store sends again every ROUTE and GATE that has
    no answer yet.

    It also hosts the circuit breakers: one breaker actor
    (shoal_breaker_actor.h) per node type with a breaker policy, started
    on first use. GATE asks whether a node may start; the type's breaker
    decides and ADMIT carries the decision back. ROUTE reports how an
    admitted node ended so its breaker counts it. Breaker state changes
    are published as events (breaker.opened, breaker.half_open,
    breaker.closed, with the type).

    Definitions are decoded once and cached by name and revision (a
    revision never changes); on a miss STEP says "need" and the store
    sends the ROUTE again with the definition.

    Messages (bodies are msgpack maps; docs/protocol.md §"Workflow
    internals"):
        ROUTE  {run, node, j?, n, r, s, o?, in?, def?, bt?, bg?, bd?, bn?,
                only?}
        STEP   {run, node, j?, fo (bitmap of fired out-edges), need?}
        GATE   {run, node, ac, t, pol}
        ADMIT  {run, node, ac, d, g, bn, why?}
        ROUTER_BOOT {bn}
    Pipe commands: $TERM. args->extra: unused.
*/
#ifndef SHOAL_ROUTER_H_INCLUDED
#define SHOAL_ROUTER_H_INCLUDED

#include <czmq.h>

#define SHOAL_ROUTER_NAME "router"

void shoal_router_actor (zsock_t *pipe, void *args);

#endif
