/*  shoal_monitor.h - the monitor actor: one XPUB endpoint for events.

    Bus name "monitor". Takes EVENT {events:[{topic, ts, ...}]} from any
    actor and publishes each event as two frames:
        [topic (string)] [event (msgpack map, topic included)]
    so subscribers filter by topic prefix ("job.", "host.actor.", ...).
    Events nobody subscribed to are counted and not re-sent: the cost of
    an unwatched host is one parse per batch.

    Pipe commands: $TERM; STATS -> "events=N published=N subscribers=N".
    Config: shoald/monitor (bind endpoint). args->extra: unused.
*/
#ifndef SHOAL_MONITOR_H_INCLUDED
#define SHOAL_MONITOR_H_INCLUDED

#include <czmq.h>

void shoal_monitor_actor (zsock_t *pipe, void *args);

#endif
