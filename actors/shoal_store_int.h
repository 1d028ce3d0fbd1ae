/*  shoal_store_int.h - private to the store actor's files.

    The store is one actor in several files: shoal_store.c (the group-commit
    pipeline: batches, passes, commit, publish), shoal_store_records.c
    (job records, indexes, accumulated effects, replies),
    shoal_store_intents.c (what each message does to the data) and one
    file per feature (attempts, lists, queues, schedules, deps). They share
    self_t; nothing outside actors/shoal_store*.c includes this header.
*/
#ifndef SHOAL_STORE_INT_H_INCLUDED
#define SHOAL_STORE_INT_H_INCLUDED

#include "shoal_store.h"
#include "shoal_scheduler.h"

#include "shoal_actor.h"
#include "shoal_db.h"
#include "shoal_event.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"
#include "shoal_wf.h"

#include <string.h>

#define S_FILL_CHUNK 4096

/*  Ready jobs of one queue, per priority (shoal_store_depth.c). */
typedef struct _store_depth_t store_depth_t;

/*  A WAIT query parked until its job is final. */
typedef struct {
    shoal_id_t job;
    shoal_id_t corr;
    char to[SHOAL_NAME_MAX + 1];
    uint64_t deadline_us;
} s_waiter_t;

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    shoal_db_t *db;
    shoal_txn_t *txn;    /* open only during an apply pass */
    shoal_wr_t *rec;     /* job record scratch */
    shoal_wr_t *scratch; /* small encodings that must outlive a call */
    shoal_wr_t *brec;    /* batch record scratch (shoal_store_deps.c) */
    shoal_limits_t lim;
    bool verbose;
    bool terminated;
    size_t batch_max;
    shoal_in_t *batch;
    size_t nbatch;

    /* durable counters, committed with each batch */
    uint64_t next_seq;
    uint64_t count[SHOAL_JOB__COUNT];
    /* their values during an apply pass */
    uint64_t p_next_seq;
    uint64_t p_count[SHOAL_JOB__COUNT];

    /* accumulators of one apply pass */
    shoal_wr_t *ready;  /* JOBS_READY items */
    shoal_wr_t *routes; /* ROUTE items not yet in the outbox */
    uint32_t nroutes;
    uint32_t nready;
    shoal_wr_t *events; /* EVENT items */
    uint32_t nevents;
    shoal_wr_t *done; /* LEASE_DONE ids: leases that ended */
    uint32_t ndone;
    zlistx_t *new_waiters; /* s_waiter_t *, added after commit */
    zlistx_t *done_jobs;   /* shoal_id_t *, final this pass */

    zlistx_t *waiters;     /* s_waiter_t *, parked */
    zactor_t *backup;      /* a hot backup in progress (shoal_backup.h) */
    char bus[256];         /* our bus endpoint, for the backup actor */
    bool events_on;        /* a monitor subscriber may want job events */
    uint64_t progress_sec; /* run.progress events sent in this second */
    uint32_t progress_n;
    uint64_t stale_results;
    uint64_t stale_extends; /* EXTEND for a lease that is over */
    uint64_t lease_extends; /* EXTEND that moved a lease */
    uint64_t expired_leases;
    uint64_t lost_requeued; /* leases of executors the registry lost */
    uint64_t commits;

    /* time */
    uint64_t next_due_us;   /* earliest delayed run or lease expiry */
    uint64_t p_next_due_us; /* its value after the current pass */
    uint64_t lease_us;      /* lease of a job without a timeout */
    uint64_t lease_grace_us;
    uint64_t retention_us; /* finished jobs older than this go; 0 = keep */
    uint64_t rng;          /* jitter for retry backoff */

    /* ready jobs per queue and priority (shoal_store_depth.c) */
    zhashx_t *depth;    /* queue name -> store_depth_t */
    zhashx_t *wf_cache; /* "name\x01rev" -> shoal_wf_t *, decoded defs */
    store_depth_t **touched;
    size_t ntouched, touched_cap;
    bool depth_save_all;
    bool fin_migrate; /* build the per-queue retention index at recovery */
} self_t;

/*  shoal_store.c */
void store_free_ptr (void **item);
zlistx_t *store_list_new (void);

/*  shoal_store_depth.c: ready jobs per queue and priority */
/*  Loads the committed counters (counts the ready index if the folder has
    none yet). */
shoal_err_t store_depth_load (self_t *self, shoal_txn_t *txn);
/*  One ready entry added (+1) or removed (-1) in this pass. */
shoal_err_t store_depth_add (self_t *self, const char *queue, uint8_t prio,
                             int delta);
/*  Finished jobs kept by a queue (its retention index): +1 or -1. */
shoal_err_t store_fin_add (self_t *self, const char *queue, int delta);
/*  How many finished jobs queue keeps beyond its retention count. */
uint64_t store_fin_excess (self_t *self, const char *queue);
/*  The queue's retention count (0 = no limit): in this pass (pass) or
    as loaded at open. */
shoal_err_t store_keep_set (self_t *self, const char *queue, uint64_t keep,
                            bool pass);
/*  Writes the counters touched in this pass (inside self->txn). */
shoal_err_t store_depth_save (self_t *self);
/*  Adopts (committed) or drops the pass values. */
void store_depth_end_pass (self_t *self, bool committed);
/*  {queue: {critical: n, high: n, normal: n, low: n}} */
void store_depth_write (self_t *self, shoal_wr_t *w);
/*  {queue: finished jobs kept} */
void store_fin_write (self_t *self, shoal_wr_t *w);
void store_depth_destroy (self_t *self);

/*  shoal_store_records.c: records and indexes (inside self->txn) */
void store_move_state (self_t *self, shoal_job_t *job, int state);
shoal_err_t store_get_job (self_t *self, const shoal_id_t *id,
                           shoal_job_t *job);
shoal_err_t store_put_job_ex (self_t *self, shoal_job_t *job, bool refresh);
shoal_err_t store_put_job (self_t *self, shoal_job_t *job);
shoal_err_t store_put_ready (self_t *self, const shoal_job_t *job);
/*  Puts an existing job (back) into the ready index under a new sequence
    number: writes the record, the index entry and the notification. */
shoal_err_t store_make_ready (self_t *self, shoal_job_t *job);
shoal_err_t store_del_ready (self_t *self, const shoal_job_t *job);
shoal_err_t store_put_lease (self_t *self, const shoal_job_t *job);
shoal_err_t store_del_lease (self_t *self, const shoal_id_t *id);

/*  shoal_store_records.c: time indexes and idempotency keys */
shoal_err_t store_put_delayed (self_t *self, const shoal_job_t *job);
shoal_err_t store_del_delayed (self_t *self, const shoal_job_t *job);
shoal_err_t store_put_expiry (self_t *self, const shoal_job_t *job);
shoal_err_t store_del_expiry (self_t *self, const shoal_job_t *job);
shoal_err_t store_put_dead (self_t *self, const shoal_job_t *job);
/*  shoal_store_retain.c: the retention indexes of succeeded and
    cancelled jobs (by time, and per queue for the count limit). Putting
    one may prune the queue's oldest beyond its count. */
shoal_err_t store_put_finished (self_t *self, const shoal_job_t *job);
shoal_err_t store_del_finished (self_t *self, const shoal_job_t *job);
/*  Deletes a finished job for good: record, idempotency key, indexes. */
shoal_err_t store_forget_job (self_t *self, const shoal_job_t *job);
/*  Prunes queue's oldest finished jobs beyond its retention count. */
shoal_err_t store_retain_prune (self_t *self, const char *queue);
/*  Builds the per-queue index from the time index (an older folder). */
shoal_err_t store_retain_migrate (self_t *self);
shoal_err_t store_del_dead (self_t *self, const shoal_job_t *job);
shoal_err_t store_idem_get (self_t *self, const char *key, shoal_id_t *id);
shoal_err_t store_idem_put (self_t *self, const char *key,
                            const shoal_id_t *id);
/*  Earliest delayed run or lease expiry (0 = none), for the poll timer. */
shoal_err_t store_next_due (self_t *self, uint64_t *due_us);

/*  shoal_store_records.c: effects sent after the commit */
void store_note_ready (self_t *self, const shoal_job_t *job);
void store_note_event (self_t *self, const char *topic, const shoal_job_t *job);
/*  A lease ended (result, expiry, refusal, requeue): the scheduler frees
    the executor slot and the queue's concurrency slot it held. */
void store_note_done (self_t *self, const shoal_id_t *id);
shoal_err_t store_reply_code (self_t *self, const char *to,
                              const shoal_id_t *corr, shoal_err_t code,
                              const char *text);
/*  The public view of a job (what STATUS shows); full adds payload and
    result, list views leave them out. */
void store_write_job_view (shoal_wr_t *w, const shoal_job_t *job, bool full);
shoal_err_t store_reply_job (self_t *self, const char *to,
                             const shoal_id_t *corr, const shoal_job_t *job);
shoal_err_t store_wake_waiters (self_t *self, const shoal_job_t *job);
/*  Parks the WAIT in until id (a job, batch or run) is final. */
shoal_err_t store_park_waiter (self_t *self, const shoal_in_t *in,
                               const shoal_id_t *id);
/*  Answers in with {code: 0, key: [items...]} (n items, in the outbox). */
shoal_err_t store_reply_items (self_t *self, const shoal_in_t *in,
                               const char *key, const shoal_wr_t *items,
                               uint32_t n);

/*  shoal_store_attempts.c */
/*  Ends job's leased attempt: succeeded, retry scheduled, or dead. */
shoal_err_t store_end_attempt (self_t *self, shoal_job_t *job, bool ok,
                               uint64_t now);
/*  Releases due delayed jobs and takes back expired leases. */
shoal_err_t store_run_timers (self_t *self, uint64_t now);
/*  Up to max of dbi's time keys (SHOAL_TIME_KEY bytes each, into keys,
    which holds max) whose time is at or before now, in time order. */
shoal_err_t store_collect_due (self_t *self, shoal_dbi_t dbi, uint64_t now,
                               uint8_t *keys, size_t max, size_t *count);

/*  shoal_store_intents.c */
shoal_err_t store_apply (self_t *self, shoal_in_t *in);

/*  shoal_store_fill.c: FILL, the scheduler's window over the ready
    index (one queue and priority after a sequence number, or all). */
shoal_err_t store_apply_fill (self_t *self, shoal_in_t *in);
/*  shoal_store_lists.c: list, dlq retry, dlq purge (args: the client's
    request body) */
shoal_err_t store_query_list (self_t *self, shoal_in_t *in, const uint8_t *args,
                              size_t len);
shoal_err_t store_query_dlq_retry (self_t *self, shoal_in_t *in,
                                   const uint8_t *args, size_t len);
shoal_err_t store_query_dlq_purge (self_t *self, shoal_in_t *in,
                                   const uint8_t *args, size_t len);

/*  shoal_store_queues.c: queue settings (args: the client's body) */
shoal_err_t store_query_queue (self_t *self, shoal_in_t *in,
                               const uint8_t *args, size_t len);
shoal_err_t store_queue_conf_all (self_t *self, const char *to);
/*  Loads every queue's retention count (the recovery pass). */
shoal_err_t store_queues_load (self_t *self);
/*  The queue's default retry policy, encoded into out (*found false when
    the queue has none). */
shoal_err_t store_queue_retry (self_t *self, const char *queue, shoal_wr_t *out,
                               bool *found);

/*  Sets queue name's concurrency limit and GCRA rate (interval_us 0:
    none; burst) in its stored settings, keeping the rest (pause, retry,
    keep), and tells the scheduler after the commit. if_absent: only when
    the queue has no stored settings yet. Unchanged settings write
    nothing. */
shoal_err_t store_queue_limits_set (self_t *self, const char *name,
                                    uint64_t limit, uint64_t interval_us,
                                    uint64_t burst, bool if_absent);

/*  shoal_store_intents.c: starts a hot backup (args {path}) */
shoal_err_t store_query_backup (self_t *self, shoal_in_t *in,
                                const uint8_t *args, size_t len);
/*  Commits a new job: ready now, or scheduled for job->run_at_us. */
shoal_err_t store_insert_job (self_t *self, shoal_job_t *job, uint64_t now);

/*  shoal_store_schedules.c: recurring jobs from cron expressions */
shoal_err_t store_query_schedule (self_t *self, shoal_in_t *in,
                                  const uint8_t *args, size_t len);
/*  Creates the jobs of schedules due at now; moves them to their next
    time. */
shoal_err_t store_run_schedules (self_t *self, uint64_t now);

/*  shoal_store_runs.c: workflow runs */
/*  A job became final: if it is a run's node, route its outcome. */
shoal_err_t store_run_final (self_t *self, const shoal_job_t *job,
                             uint64_t now);
/*  The router's answers: STEP (a node's edges decided), ADMIT (a
    breaker's decision), ROUTER_BOOT (send again what it has not
    answered; confirmed with OK). */
shoal_err_t store_run_step (self_t *self, shoal_in_t *in);
shoal_err_t store_run_admit (self_t *self, shoal_in_t *in);
shoal_err_t store_run_router_boot (self_t *self, shoal_in_t *in);
/*  Puts the ROUTE items this pass gathered into the outbox (one message;
    sent after the commit). Called once the batch is applied. */
shoal_err_t store_run_flush_routes (self_t *self);
/*  Deletes the runs that ended at or before cutoff (retention): record,
    node records, gate; a timer batch at a time. */
shoal_err_t store_run_prune (self_t *self, uint64_t cutoff);
/*  STATUS/WAIT of a run id (*found false when id is no run). */
shoal_err_t store_run_status (self_t *self, shoal_in_t *in,
                              const shoal_id_t *id, bool wait, bool *found);
/*  WORKFLOW run|show|runs (args: the client's body). */
shoal_err_t store_query_runs (self_t *self, shoal_in_t *in, const char *op,
                              const uint8_t *args, size_t len);

/*  Times out run id (its deadline passed at now) if it is still running:
    its nodes not ended are cancelled (jobs under way stopped), and it
    fails with error "timeout" after the saga compensation. A run that
    ended (or is compensating already) is left alone. */
shoal_err_t store_run_expire (self_t *self, const shoal_id_t *id, uint64_t now);

/*  shoal_store_runlimits.c: limits of runs (see its design note) */
/*  The queue of (workflow wf, node) for a node with a limit: "wf:WF:NODE"
    when that fits and holds no other ':', else "wfh:<hash>:<node...>". */
void store_runlim_queue_name (const char *wf, const char *node,
                              char out[SHOAL_NAME_MAX + 1]);
/*  A definition revision is being stored (prev: the latest before it, or
    NULL): the queues of its limited nodes get their limits; those of
    nodes limited in prev and not in wf lose theirs. */
shoal_err_t store_runlim_define (self_t *self, const shoal_wf_t *wf,
                                 const shoal_wf_t *prev);
/*  The queue for node i's job into queue (cap bytes): "workflows", or
    the node's own queue when it has a limit (whose settings are written
    from wf if the queue has none). */
shoal_err_t store_runlim_job_queue (self_t *self, const shoal_wf_t *wf,
                                    uint32_t i, char *queue, size_t cap);
/*  Whether node may start now in run (*go), under wf's max_concurrency:
    true takes a slot; false leaves it waiting in line (once) and the run
    keeps its message. Always true without a limit. */
shoal_err_t store_runlim_admit (self_t *self, const shoal_id_t *run,
                                const shoal_wf_t *wf, uint32_t node, bool *go);
/*  A node job of run ended: its slot is free. */
shoal_err_t store_runlim_end (self_t *self, const shoal_id_t *run,
                              const shoal_wf_t *wf);
/*  The first node waiting in run's line (*found) when a slot is free;
    activating it (admit) takes it out of the line. */
shoal_err_t store_runlim_next (self_t *self, const shoal_id_t *run,
                               const shoal_wf_t *wf, uint32_t *node,
                               bool *found);
/*  Deletes run's gate: its line and its count of active nodes. */
shoal_err_t store_runlim_forget (self_t *self, const shoal_id_t *run);
/*  Indexes the deadline of a run created at created_us, if wf has a
    timeout. */
shoal_err_t store_runlim_deadline (self_t *self, const shoal_id_t *run,
                                   const shoal_wf_t *wf, uint64_t created_us);
/*  Times out the runs whose deadline is at or before now (a bounded
    number per pass; store_run_expire). */
shoal_err_t store_runlim_timers (self_t *self, uint64_t now);

/*  shoal_store_wf.c: workflow definitions (args: the client's body) */
shoal_err_t store_query_workflow (self_t *self, shoal_in_t *in,
                                  const uint8_t *args, size_t len);

/*  Cancels job (not ended): out of its index, its executor told, the
    record cancelled, its waiters answered. The caller replies and runs
    store_deps_final / store_run_final. */
shoal_err_t store_cancel_job (self_t *self, shoal_job_t *job, uint64_t now);
/*  Cancels a job that has not ended (args {id}). */
shoal_err_t store_query_cancel (self_t *self, shoal_in_t *in,
                                const uint8_t *args, size_t len);

shoal_err_t store_requeue_leases (self_t *self, const char *node,
                                  uint64_t *count);

/*  shoal_store_intents.c: reads one STORE_SUBMIT item (also a batch's)
    into job, borrowing from item. INVALID for a bad item. */
shoal_err_t store_read_item (const uint8_t *item, size_t len, shoal_job_t *job);

/*  shoal_store_deps.c: continuations and batches */
/*  What became of the job or batch a continuation names. */
typedef enum {
    STORE_PARENT_NONE,      /* no such job or batch */
    STORE_PARENT_PENDING,   /* not ended yet */
    STORE_PARENT_SUCCEEDED, /* ended well */
    STORE_PARENT_FAILED     /* dead, failed, cancelled; a failed batch */
} store_parent_t;
shoal_err_t store_deps_parent (self_t *self, const shoal_id_t *id,
                               store_parent_t *out);
/*  For a new job with has_after: stores it waiting (parent pending) or
    cancelled (parent did not succeed and mode is success) and sets
    *placed; leaves *placed false when it may run now. */
shoal_err_t store_deps_admit (self_t *self, shoal_job_t *job, uint64_t now,
                              bool *placed);
/*  job has just become final (record written, waiters woken): updates
    its batch and releases or cancels its continuations, and theirs, in
    this transaction. Rewrites the record scratch: job's payload/result
    must not be used afterwards. */
shoal_err_t store_deps_final (self_t *self, const shoal_job_t *job,
                              uint64_t now);
/*  A waiting job leaves its parent's list (it is being cancelled). */
shoal_err_t store_deps_unwait (self_t *self, const shoal_job_t *job);
/*  QUERY {op: "batch", bid, k?, items}: commits a batch atomically. */
shoal_err_t store_query_batch (self_t *self, shoal_in_t *in);
/*  STATUS/WAIT of an id that is not a job: answers with the batch, or
    parks the WAIT; *found false when there is no such batch either. */
shoal_err_t store_batch_status (self_t *self, shoal_in_t *in,
                                const shoal_id_t *id, bool wait, bool *found);

#endif
