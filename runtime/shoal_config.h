/*  shoal_config.h - shoald configuration: a ZPL file (CZMQ zconfig) with
    command-line overrides and built-in defaults.

    Keys are paths like "store/sync". Lookup order: override, file,
    default. The whole tree is built before actors start and is read-only
    afterwards, so actors may read it from their threads.

    Known keys and defaults (docs/operations.md has the reference):
        shoald/data              ./shoal-data
        shoald/control           tcp://127.0.0.1:5570
        shoald/monitor           tcp://127.0.0.1:5571
        shoald/log               stderr        (stderr | syslog)
        shoald/verbose           0
        store/sync               full          (full | meta | none)
        store/map_size           268435456     bytes, grows on demand
        store/batch_max          4096          intents per transaction
        store/lease              300000        ms a job without a timeout
                                               may run before its lease
                                               is taken back
        store/lease_grace        10000         ms added to every lease
        store/retention          604800000     ms finished jobs are kept
                                               (succeeded, cancelled);
                                               0 = forever; the DLQ is kept
                                               until purged
        executors/count          4
        executors/mode           thread        (thread | process)
        executors/prefetch       64            jobs queued per executor
        executors/heartbeat      0             ms between lease renewals of
                                               a running job; 0 = store/lease
                                               / 3
        executors/plugins        (none)        handler plugins: .so paths
                                               separated by ':' or spaces
        supervisor/max_restarts  5
        supervisor/period        10000         milliseconds
        supervisor/heartbeat     1000          ms between process beats
        supervisor/liveness      5000          ms of silence = dead
        control/pending_timeout  30000         ms before a lost reply errs
*/
#ifndef SHOAL_CONFIG_H_INCLUDED
#define SHOAL_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "../protocol/shoal_err.h"

typedef struct _shoal_config_t shoal_config_t;

/*  Loads path (NULL: defaults only). On error returns NULL and logs why
    (missing file, ZPL syntax, unknown key). Owned by the caller. */
shoal_config_t *shoal_config_load (const char *path, shoal_err_t *err);
void shoal_config_destroy (shoal_config_t **self_p);

/*  Sets an override; key must be known. CONFIG if not. */
shoal_err_t shoal_config_set (shoal_config_t *self, const char *key,
                              const char *value);

/*  The effective value; never NULL for a known key, NULL otherwise.
    Borrowed until the config is destroyed or key is set again. */
const char *shoal_config_get (const shoal_config_t *self, const char *key);

/*  Integer value with a range check. CONFIG (logged) when it does not
    parse or is out of range. */
shoal_err_t shoal_config_int (const shoal_config_t *self, const char *key,
                              int64_t min, int64_t max, int64_t *out);

/*  Checks every known integer/enum key once; shoald calls this at start so
    that a bad value stops it with a clear message. */
shoal_err_t shoal_config_check (const shoal_config_t *self);

/*  Appends "--set" "key=value" pairs for every effective value to list
    (strings owned by the list, which must have autofree on), so a child
    process gets the same configuration as its parent. */
void shoal_config_to_args (const shoal_config_t *self, zlist_t *list);

/*  The path of the loaded file, or NULL. */
const char *shoal_config_path (const shoal_config_t *self);

#endif
