/*  shoal_job.h - a job as stored and as carried between actors.

    The stored record is a msgpack map with short keys so that new fields
    can be added without a schema migration (unknown keys are skipped):
        id bin16, q queue, t type, p priority, s state, a attempt,
        e epoch, n seq, c created_us, u updated_us, st started_us,
        f finished_us, pl payload (any msgpack), r result (any msgpack),
        er error text, x executor, ra run_at_us, lx lease expiry (us),
        to timeout_ms, rp retry policy (msgpack map), k idempotency key,
        ec error class of the last failure, rn running (bool),
        af parent (job or batch) id of a continuation, am its mode
        (0 success, 1 any), b id of the batch the job belongs to,
        wr id of the workflow run the job is a node of, wn that node's
        index in the run's definition, rq the labels an executor must
        have to run it (a canonical comma list, shoal_labels.h)
    Decoding borrows payload/result/strings from the bytes it was given.
*/
#ifndef SHOAL_JOB_H_INCLUDED
#define SHOAL_JOB_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"
#include "../protocol/shoal_id.h"
#include "../protocol/shoal_limits.h"
#include "../protocol/shoal_wr.h"
#include "shoal_labels.h"

typedef enum {
    SHOAL_PRIO_CRITICAL = 0,
    SHOAL_PRIO_HIGH = 1,
    SHOAL_PRIO_NORMAL = 2,
    SHOAL_PRIO_LOW = 3,
    SHOAL_PRIO__COUNT
} shoal_prio_t;

typedef enum {
    SHOAL_JOB_SCHEDULED = 0,
    SHOAL_JOB_ENQUEUED = 1,
    SHOAL_JOB_LEASED = 2,
    SHOAL_JOB_SUCCEEDED = 3,
    SHOAL_JOB_FAILED = 4,
    SHOAL_JOB_DEAD = 5,
    SHOAL_JOB_CANCELLED = 6,
    SHOAL_JOB_WAITING = 7, /* continuation: waits for its parent to end */
    SHOAL_JOB__COUNT
} shoal_job_state_t;

#define SHOAL_ERRTEXT_MAX 512
#define SHOAL_KEY_MAX     256 /* idempotency keys */
#define SHOAL_CLASS_MAX   64  /* error classes: "error", "timeout", "exit:3" */
#define SHOAL_BATCH_MAX   10000 /* jobs in one batch */

typedef struct {
    shoal_id_t id;
    char queue[SHOAL_NAME_MAX + 1];
    char type[SHOAL_NAME_MAX + 1];
    char executor[SHOAL_NAME_MAX + 1];
    uint8_t priority;
    uint8_t state;
    uint32_t attempt;
    uint64_t epoch;
    uint64_t seq;
    uint64_t created_us;
    uint64_t updated_us;
    uint64_t started_us;
    uint64_t finished_us;
    const uint8_t *payload; /* borrowed msgpack value, or NULL */
    size_t payload_len;
    const uint8_t *result; /* borrowed msgpack value, or NULL */
    size_t result_len;
    char error[SHOAL_ERRTEXT_MAX];
    char error_class[SHOAL_CLASS_MAX + 1];
    char key[SHOAL_KEY_MAX + 1]; /* idempotency key, "" if none */
    uint64_t run_at_us;          /* scheduled: when it becomes ready */
    uint64_t lease_expires_us;   /* leased: when the lease runs out */
    uint32_t timeout_ms;         /* per-run execution timeout, 0 = none */
    bool running;                /* leased and reported started (blocking
                                    handlers): an executor crash now is
                                    this run's failure */
    const uint8_t *retry;        /* borrowed retry policy map, or NULL */
    size_t retry_len;
    bool has_after; /* a continuation of job or batch `after` */
    shoal_id_t after;
    uint8_t after_mode; /* shoal_after_mode_t */
    bool in_batch;      /* a member of batch `batch` */
    shoal_id_t batch;
    bool in_run; /* node `node` of workflow run `run` */
    shoal_id_t run;
    uint32_t node;
    char require[SHOAL_REQUIRE_TEXT_MAX]; /* labels it needs; "" = none */
} shoal_job_t;

/*  When a continuation runs: after its parent succeeded (the default;
    otherwise it is cancelled), or after any end. */
typedef enum {
    SHOAL_AFTER_SUCCESS = 0,
    SHOAL_AFTER_ANY = 1,
    SHOAL_AFTER__COUNT
} shoal_after_mode_t;

/*  "success" | "any" -> SHOAL_OK; else INVALID. */
shoal_err_t shoal_after_mode_parse (const char *text, size_t len, uint8_t *out);
const char *shoal_after_mode_name (int mode);

const char *shoal_prio_name (int prio);
/*  "critical"|"high"|"normal"|"low" -> SHOAL_OK; else INVALID. */
shoal_err_t shoal_prio_parse (const char *text, size_t len, uint8_t *out);

const char *shoal_job_state_name (int state);
bool shoal_job_state_final (int state);

/*  True if name is a valid queue/type name: 1..64 bytes of
    [A-Za-z0-9._:-]. */
bool shoal_name_valid (const char *name, size_t len);

/*  Appends the record (one map) to wr. */
void shoal_job_encode (const shoal_job_t *job, shoal_wr_t *wr);

/*  Decodes a record; borrows from data. MALFORMED or CORRUPT-free: the
    bytes are validated within lim first. */
shoal_err_t shoal_job_decode (const uint8_t *data, size_t size,
                              const shoal_limits_t *lim, shoal_job_t *job);

/*  The same for a record this code wrote (shoal_job_encode), e.g. read
    back from a checksummed store: no validation walk first (every read
    is still bounds-checked, so bad bytes give MALFORMED, never an
    overrun), and bytes after the record are an error. */
shoal_err_t shoal_job_decode_own (const uint8_t *data, size_t size,
                                  const shoal_limits_t *lim, shoal_job_t *job);

/*  Ready-index key: queue NUL priority seq(big-endian). Returns length;
    buf must hold SHOAL_READY_KEY_MAX bytes. */
#define SHOAL_READY_KEY_MAX (SHOAL_NAME_MAX + 1 + 1 + 8)
size_t shoal_ready_key (const char *queue, uint8_t prio, uint64_t seq,
                        uint8_t *buf);

/*  Splits a ready-index key. INVALID if it is not one. */
shoal_err_t shoal_ready_key_parse (const void *key, size_t len, char *queue,
                                   uint8_t *prio, uint64_t *seq);

#endif
