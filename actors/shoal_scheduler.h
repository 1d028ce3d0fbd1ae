/*  shoal_scheduler.h - the scheduler actor: ready queues and leases.

    Bus name "scheduler". Keeps the ready jobs of the host in priority
    FIFOs (critical, high, normal, low; FIFO within a priority) and the
    executors' capacity; whenever both a job and a free executor slot
    exist it asks the store to lease jobs to executors, in batches. The
    store commits each lease (attempt + 1, new epoch) before the executor
    sees the job.

    Messages it takes:
        JOBS_READY {jobs:[[id,queue,prio,seq]], done?}  from the store
        LEASE_DONE {nodes:[[node,count]]} | {reset:true} credits back
        CREDIT {capacity, busy}                          from executors
    It sends LEASE {items:[[id,node]]} and, at start, FILL to the store.

    Not yet: per-queue fairness, limits and a bounded window of the ready
    index (issue [jobs]); today every ready job's id (16 bytes) is held.

    args->extra: unused.
*/
#ifndef SHOAL_SCHEDULER_H_INCLUDED
#define SHOAL_SCHEDULER_H_INCLUDED

#include <czmq.h>

#define SHOAL_SCHEDULER_NAME "scheduler"

void shoal_scheduler_actor (zsock_t *pipe, void *args);

#endif
