/*  shoal_bus.h - the host bus: a ROUTER that forwards on the header alone.

    Every actor of a host connects a DEALER (identity = actor name) to the
    bus. A frame from A whose header says to = "B" is forwarded to B as is:
    the bus reads the 2-byte header length, the version, the type and the
    "to" string, nothing more, and never re-encodes a body.

    When B is not connected (ROUTER_MANDATORY reports EHOSTUNREACH) the bus
    answers A with ERROR {code: UNREACHABLE} unless the frame was itself an
    ERROR (no error storms). Undecodable frames are dropped and counted.
    ROUTER_HANDOVER lets a restarted actor take its name back at once.

    Across hosts: with args.remote set, a frame whose "to" names another
    host ("name@host") goes to the actor args.remote (the registry, which
    owns the links); with args.uplink also set, so does a frame for a name
    no local actor has (a joined host sends "store" upstream).

    Usage:
        bus = shoal_actor_start (shoal_bus_actor, &args, &rc);
    args is a shoal_bus_args_t (copied before the actor signals ready).
    Commands on the pipe:
        $TERM                      stop
        STATS -> "forwarded=N unroutable=N malformed=N remote=N"
*/
#ifndef SHOAL_BUS_H_INCLUDED
#define SHOAL_BUS_H_INCLUDED

#include <czmq.h>

typedef struct {
    const char *inproc; /* e.g. "inproc://shoal-bus" (required) */
    const char *ipc;    /* extra endpoint for process actors, or NULL */
    const char *remote; /* actor for "name@host", or NULL (one host) */
    bool uplink;        /* unknown local names go to remote too */
    bool verbose;
} shoal_bus_args_t;

void shoal_bus_actor (zsock_t *pipe, void *args);

#endif
