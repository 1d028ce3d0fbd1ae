/*  shoal_store.h - the store actor: the only LMDB writer of a host.

    Bus name "store". Group commit: every wake-up drains up to
    store/batch_max waiting messages, applies them all in one write
    transaction, commits (one fsync under sync=full), and only then sends
    the replies, notifications and events those messages produced. No
    acknowledgement ever precedes the commit that makes it true.

    Messages it takes (bodies are msgpack maps; see docs/protocol.md):
        STORE_SUBMIT {items:[{id,q,t,p,pl?}]}
            -> STORE_ACKS {items:[{code,seq}]}, JOBS_READY to the scheduler
        FILL {}
            -> JOBS_READY chunks (corr = the FILL), the last with done:true
        LEASE {items:[[id,node]]}
            -> RUN to each node; refused items -> LEASE_DONE credits
        RESULT {items:[{id,e,ok,r?,er?}]}
            -> LEASE_DONE credit, answers to parked WAITs
        NODE_BOOT {}
            -> requeues that node's old leases, then OK
        QUERY {op:"status"|"wait"|"stats", id?}
            -> QUERY_REPLY
    Events (to "monitor"): job.enqueued, job.leased, job.succeeded,
    job.retry, job.dead, job.requeued, job.cancelled, job.waiting.

    Start-up recovery: every job found leased goes back to its queue (at
    the end), its attempt already counting the interrupted run, so its
    next run is attempt + 1.

    args->extra: unused. Config: shoald/data, store/sync, store/map_size,
    store/batch_max.
*/
#ifndef SHOAL_STORE_H_INCLUDED
#define SHOAL_STORE_H_INCLUDED

#include <czmq.h>

#define SHOAL_STORE_NAME "store"

void shoal_store_actor (zsock_t *pipe, void *args);

#endif
