/*  shoal_db.h - Shoal's storage: the only file that includes <lmdb.h>.

    One LMDB environment per host, in a data folder, with named databases
    (shoal_dbi_t). Every stored value carries a CRC-32C that is checked on
    read: a mismatch is SHOAL_ERR_CORRUPT, never silently wrong data.

    Threading: a shoal_db_t may be shared by threads of one process for
    read transactions (MDB_NOTLS), but only one thread - the store actor -
    writes. Never use it across fork: a process actor opens its own.
    Memory returned from get/cursor calls is valid only until the
    transaction ends: copy out what must outlive it.

    Map full: shoal_txn_put returns SHOAL_ERR_MAP_FULL; the caller aborts
    the transaction, calls shoal_db_grow (no transaction open), and
    retries. When the map cannot grow any more, grow returns MAP_FULL too.
*/
#ifndef SHOAL_DB_H_INCLUDED
#define SHOAL_DB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"

typedef enum {
    SHOAL_SYNC_FULL, /* fsync at every commit (default) */
    SHOAL_SYNC_META, /* MDB_NOMETASYNC: data synced, meta page lazily */
    SHOAL_SYNC_NONE  /* MDB_NOSYNC: survives kill -9, not power loss */
} shoal_sync_t;

typedef enum {
    SHOAL_DBI_META,       /* schema version, counters */
    SHOAL_DBI_JOBS,       /* job id (16 bytes) -> job record */
    SHOAL_DBI_READY,      /* queue NUL priority seq(be64) -> job id */
    SHOAL_DBI_LEASES,     /* job id -> executor name */
    SHOAL_DBI_DELAYED,    /* run_at(be64) job id -> (empty): scheduled jobs */
    SHOAL_DBI_EXPIRY,     /* lease expiry(be64) job id -> executor name */
    SHOAL_DBI_IDEM,       /* idempotency key -> job id */
    SHOAL_DBI_DEAD,       /* dead_at(be64) job id -> (empty): the DLQ */
    SHOAL_DBI_QUEUES,     /* queue name ("*" = host) -> settings */
    SHOAL_DBI_SCHEDULES,  /* schedule name -> schedule record */
    SHOAL_DBI_SCHED_DUE,  /* next fire(be64) schedule id -> schedule name */
    SHOAL_DBI_FINISHED,   /* finished(be64) job id -> (empty): retention */
    SHOAL_DBI_WAITS,      /* parent id, child id -> (empty): continuations */
    SHOAL_DBI_BATCHES,    /* batch id -> batch record */
    SHOAL_DBI_BATCH_JOBS, /* batch id, job id -> outcome byte: members */
    SHOAL_DBI_FIN_QUEUE,  /* queue NUL finished(be64) job id -> (empty) */
    SHOAL_DBI_WF_DEFS,    /* name NUL revision(be32) -> workflow definition */
    SHOAL_DBI_RUNS,       /* run id -> run record */
    SHOAL_DBI_RUN_NODES,  /* run id, node index(be32) -> node record */
    SHOAL_DBI_RUN_DUE,    /* deadline(be64) run id -> (empty): run timeouts */
    SHOAL_DBI_RUN_GATE,   /* run id [, tag, ...] -> max_concurrency gate */
    SHOAL_DBI_RUN_FIN,    /* ended(be64) run id -> (empty): run retention */
    SHOAL_DBI__COUNT
} shoal_dbi_t;

#define SHOAL_DB_SCHEMA 1

typedef struct _shoal_db_t shoal_db_t;
typedef struct _shoal_txn_t shoal_txn_t;
typedef struct _shoal_cursor_t shoal_cursor_t;

typedef struct {
    const void *key;
    size_t key_len;
    const void *val;
    size_t val_len;
} shoal_kv_t;

/*  Parses "full" | "meta" | "none". SHOAL_ERR_CONFIG otherwise. */
shoal_err_t shoal_sync_parse (const char *text, shoal_sync_t *out);
const char *shoal_sync_name (shoal_sync_t sync);

/*  Opens (creating if needed) the environment in folder dir with an
    initial map of map_size bytes (0 = 256 MiB), clears stale reader slots,
    and checks or writes the schema version. *out is owned by the caller.
    Errors: STORAGE (logged with LMDB's text), VERSION (schema newer than
    this build), CONFIG (dir unusable). */
shoal_err_t shoal_db_open (const char *dir, shoal_sync_t sync, size_t map_size,
                           shoal_db_t **out);

/*  Closes the environment; no transaction may be open. Nulls *self_p. */
void shoal_db_destroy (shoal_db_t **self_p);

/*  Doubles the map (up to map_max, default 1 TiB). No transaction may be
    open in this process. MAP_FULL when already at the limit. */
shoal_err_t shoal_db_grow (shoal_db_t *self);
size_t shoal_db_map_size (const shoal_db_t *self);
void shoal_db_set_map_max (shoal_db_t *self, size_t map_max);

/*  Writes a compacted copy of the environment to folder path (which must
    exist and be empty) while others keep using it. */
shoal_err_t shoal_db_copy (shoal_db_t *self, const char *path);

/*  Begins a transaction; *txn is owned until commit or abort. */
shoal_err_t shoal_db_begin (shoal_db_t *self, bool write, shoal_txn_t **txn);

/*  Commits and frees *txn_p (also on failure). MAP_FULL or STORAGE. */
shoal_err_t shoal_txn_commit (shoal_txn_t **txn_p);

/*  Aborts and frees *txn_p. Accepts NULL. */
void shoal_txn_abort (shoal_txn_t **txn_p);

/*  Stores val under key, checksummed. MAP_FULL, TOO_LARGE (key over
    511 bytes), STORAGE. */
shoal_err_t shoal_txn_put (shoal_txn_t *txn, shoal_dbi_t dbi, const void *key,
                           size_t key_len, const void *val, size_t val_len);

/*  Looks key up; *val borrows from the map until the txn ends.
    NOT_FOUND, CORRUPT (checksum), STORAGE. */
shoal_err_t shoal_txn_get (shoal_txn_t *txn, shoal_dbi_t dbi, const void *key,
                           size_t key_len, const void **val, size_t *val_len);

/*  Deletes key. NOT_FOUND if it was absent. */
shoal_err_t shoal_txn_del (shoal_txn_t *txn, shoal_dbi_t dbi, const void *key,
                           size_t key_len);

/*  Time-index keys: time(be64) followed by a job id, so a cursor walks
    them in time order. buf holds SHOAL_TIME_KEY bytes. */
#define SHOAL_TIME_KEY 24
void shoal_time_key (uint64_t time_us, const void *id16,
                     uint8_t buf[SHOAL_TIME_KEY]);
uint64_t shoal_time_key_time (const void *key);

/*  Number of entries in dbi. */
shoal_err_t shoal_txn_count (shoal_txn_t *txn, shoal_dbi_t dbi,
                             uint64_t *count);

/*  Cursors walk keys in byte order. seek positions at the first key >=
    key (key NULL: the first key). NOT_FOUND past the end. The entry's
    value is checksum-verified (CORRUPT). The cursor belongs to txn and
    must be closed before it ends. */
shoal_err_t shoal_cursor_open (shoal_txn_t *txn, shoal_dbi_t dbi,
                               shoal_cursor_t **out);
shoal_err_t shoal_cursor_seek (shoal_cursor_t *cur, const void *key,
                               size_t key_len, shoal_kv_t *kv);
shoal_err_t shoal_cursor_next (shoal_cursor_t *cur, shoal_kv_t *kv);
/*  Deletes the entry under the cursor. */
shoal_err_t shoal_cursor_del (shoal_cursor_t *cur);
void shoal_cursor_close (shoal_cursor_t **cur_p);

#endif
