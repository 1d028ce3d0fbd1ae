/*  shoal_node.h - an executor actor: runs job handlers.

    Bus name "node.N" (any name; the scheduler learns it from CREDIT). At
    start it sends NODE_BOOT to the store and waits for the answer (the
    store requeues jobs an earlier incarnation of this node held), then
    announces CREDIT {capacity, busy, boot:true} to the scheduler, and
    again every second so a restarted scheduler relearns it.

    It takes RUN {id, t, q, a, e, p, pl?} from the store, runs the handler
    for type t, and sends RESULT {items:[{id, e, ok, r?, er?}]} to the
    store (results of instant handlers are batched; a batch is flushed
    before anything that may take time).

    Built-in handlers:
        noop            succeeds with no result
        echo            succeeds with the payload as result
        sleep {ms}      sleeps ms milliseconds (max 24 h), stops early on $TERM
                        (the job stays leased and is requeued on restart)
        fail {message, class}  fails with message (default "failed") and
                        error class (default "error")
        exec {argv, env?, cwd?, stdin?, timeout_ms?}  runs a program
                        (actors/shoal_exec.h)
    Plugin handlers (executors/plugins; runtime/shoal_plugin.h) run the
    types they declare, with the payload as JSON. Any other type fails
    with "no handler for type T".

    While sleep, exec or a plugin handler runs, the node renews the job's
    lease with EXTEND {items:[{id, e}]} to the store every
    executors/heartbeat ms (default store/lease / 3), timed on the port's
    clock; plugin handlers' progress goes out as job.progress events.

    Runs as a thread actor or, with executors/mode = process, as a process
    actor (same code). Config: executors/prefetch = capacity,
    executors/heartbeat, executors/plugins (a plugin that does not load
    fails the actor's start with CONFIG).
*/
#ifndef SHOAL_NODE_H_INCLUDED
#define SHOAL_NODE_H_INCLUDED

#include <czmq.h>

void shoal_node_actor (zsock_t *pipe, void *args);

/*  The built-in job types (NULL-terminated; static): plugins may not
    take them. */
const char *const *shoal_node_builtins (void);

#endif
