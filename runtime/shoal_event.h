/*  shoal_event.h - publishing events to the host's monitor actor.

    An EVENT message carries a batch: {events: [event, ...]} where each
    event is a map whose first key is "topic" (dotted, e.g.
    "job.succeeded") followed by "ts" (microseconds) and topic-specific
    fields. Batching matters: the store emits one EVENT per commit, not
    one per job. Events are best effort (not durable): a monitor that is
    down loses them; LMDB holds the truth.

        shoal_wr_t *w = shoal_event_begin (port, 1);
        shoal_event_head (w, port, "host.actor.restarted", 1);
        shoal_wr_kv_str (w, "actor", "node.1");
        shoal_port_send (port);
*/
#ifndef SHOAL_EVENT_H_INCLUDED
#define SHOAL_EVENT_H_INCLUDED

#include "shoal_port.h"

#define SHOAL_MONITOR_NAME "monitor"

/*  Begins an EVENT message to the monitor holding count events. */
shoal_wr_t *shoal_event_begin (shoal_port_t *port, uint32_t count);

/*  Writes the head of one event: a map of 2 + extra pairs, with topic and
    ts; the caller then writes exactly extra key/value pairs. */
void shoal_event_head (shoal_wr_t *wr, shoal_port_t *port, const char *topic,
                       uint32_t extra);

#endif
