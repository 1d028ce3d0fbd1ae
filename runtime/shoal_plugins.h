/*  shoal_plugins.h - the host side of job handler plugins: loads the
    shared objects named by executors/plugins (ABI: shoal_plugin.h) and
    runs one of their handlers for one job.

    Loading checks everything a plugin declares before any job runs, so a
    bad plugin stops shoald at start with a message rather than failing
    jobs later: the file must load (dlopen RTLD_NOW: every symbol
    resolved), export shoal_plugin_init, accept this host's ABI and
    declare the same ABI version, and give valid, unique job types that
    are not reserved (the built-in handlers).

    Running converts between the wire and the plugin: the msgpack payload
    becomes JSON text, the JSON result becomes one msgpack value. The
    handler's heartbeats and cancel checks go to hooks the caller gives.
*/
#ifndef SHOAL_PLUGINS_H_INCLUDED
#define SHOAL_PLUGINS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"
#include "../protocol/shoal_wr.h"
#include "shoal_plugin.h"

#define SHOAL_PLUGINS_MAX          64  /* .so files */
#define SHOAL_PLUGINS_HANDLERS_MAX 256 /* per plugin */

typedef struct _shoal_plugins_t shoal_plugins_t;

/*  Loads every shared object in paths, separated by ':' or white space
    (NULL or blank: none; a path without '/' is searched like dlopen
    does). reserved is a NULL-terminated list of job types no plugin may
    take (may be NULL). Returns a new set owned by the caller
    (shoal_plugins_destroy), or NULL with *err set (CONFIG: a bad plugin;
    NOMEM) and why (why_cap bytes, NUL-terminated) saying which and why.
    Thread safe (dlopen is); each call loads its own references. */
shoal_plugins_t *shoal_plugins_load (const char *paths,
                                     const char *const *reserved, char *why,
                                     size_t why_cap, shoal_err_t *err);

/*  Unloads (dlclose) and frees; accepts NULL, nulls the pointer. No
    handler of the set may be running. */
void shoal_plugins_destroy (shoal_plugins_t **self_p);

/*  Number of job types the set handles. */
size_t shoal_plugins_types (const shoal_plugins_t *self);

/*  Writes "type (plugin name), ..." into out for logs; out_cap > 0. */
void shoal_plugins_describe (const shoal_plugins_t *self, char *out,
                             size_t out_cap);

/*  The handler of type, or NULL. Borrowed from the set. */
const shoal_plugin_handler_t *shoal_plugins_find (const shoal_plugins_t *self,
                                                  const char *type);

/*  What a running handler's heartbeats and cancel checks call. Both
    return true when the run should stop (cancelled, or the executor is
    stopping). */
typedef struct {
    bool (*beat) (void *arg, int percent);
    bool (*stop) (void *arg);
    void *arg;
} shoal_plugins_hooks_t;

/*  Runs handler for one job and blocks for as long as it does. job's
    payload fields are ignored: the payload is payload (msgpack, borrowed;
    NULL = none), handed over as JSON text. The handler's result, if it
    set one, is appended to result as one msgpack value (also on failure).
    Returns true when the handler succeeded; otherwise error and
    error_class (NUL-terminated, caps > 0) say why: the handler's own, or
    "payload cannot be given as JSON" (invalid), "out of memory" (error),
    "handler returned N" (error) for a code that is neither OK nor FAIL. */
bool shoal_plugins_run (const shoal_plugin_handler_t *handler,
                        const shoal_plugin_job_t *job, const uint8_t *payload,
                        size_t payload_len, const shoal_plugins_hooks_t *hooks,
                        shoal_wr_t *result, char *error, size_t error_cap,
                        char *error_class, size_t class_cap);

#endif
