/*  shoal_scheduler.h - the scheduler actor: ready queues and leases.

    Bus name "scheduler". Keeps a window of the host's ready jobs in
    priority FIFOs per queue (critical, high, normal, low; FIFO within a
    priority) and the executors' free slots, labels and weights; whenever
    a job and a free executor slot that fits it exist it asks the store
    to lease jobs to executors, in batches. The store commits each lease
    (attempt + 1, new epoch) before the executor sees the job. A job that
    requires labels goes only to an executor that has them all, chosen by
    its queue's policy (shoal_place.h).

    Messages it takes:
        JOBS_READY {jobs:[[id,queue,prio,seq,require?]], fill?, gen?,
                    done?, ends?}                        from the store
        LEASE_DONE {ids:[id]} | {reset:true}             leases over
        QUEUE_CONF {queues:[[name,paused,concurrency,interval_us,burst,
                    policy?]]}                           from the store
        CREDIT {capacity, busy, boot, labels?, weight?}  from executors
        QUERY {op:"queues"}     queues and executors, for STATS
    It sends LEASE {items:[[id,node]]} and FILL to the store.

    args->extra: unused.
*/
#ifndef SHOAL_SCHEDULER_H_INCLUDED
#define SHOAL_SCHEDULER_H_INCLUDED

#include <czmq.h>

#define SHOAL_SCHEDULER_NAME "scheduler"

void shoal_scheduler_actor (zsock_t *pipe, void *args);

#endif
