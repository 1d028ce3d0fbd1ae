/*  shoal_plugin.h - the C ABI of Shoal job handler plugins.

    A plugin is a shared object (.so) that shoald loads at start
    (executors/plugins, or shoald --plugin PATH). It exports one function,

        int shoal_plugin_init (uint32_t host_abi, shoal_plugin_info_t *info);

    which fills *info: the ABI version it was built for (SHOAL_PLUGIN_ABI),
    its name, and a table of handlers, one per job type. It returns 0, or
    non-zero to refuse to load (e.g. host_abi is one it does not speak);
    shoald then refuses to start. init may be called more than once (once
    per executor that loads the plugin) and from any thread: fill info,
    keep no per-call state. Everything info points to must stay valid
    while the plugin is loaded (static data is the simple way).

    A handler runs one attempt of one job:

        int handler (const shoal_plugin_job_t *job, shoal_plugin_ctx_t *ctx);

    It returns SHOAL_PLUGIN_OK (the job succeeded; its result is what it
    set with shoal_plugin_set_result, or none) or SHOAL_PLUGIN_FAIL (the
    attempt failed with what it set with shoal_plugin_set_error, else
    class "error", text "failed"; the job's retry policy decides what
    follows, and can retry on, or not on, that class). job and ctx are
    valid only during the call.

    Threads: several executors may call handlers of one plugin at once,
    each from its own thread (executors/mode = thread), so handlers must be
    thread safe. A handler may block as long as it needs: its executor
    takes no other job meanwhile. A run longer than store/lease must call
    shoal_plugin_heartbeat at least every store/lease / 3 (its lease is
    taken back otherwise, and the job run again elsewhere); every
    heartbeat also says whether the run should stop.

    Crashes: a handler that crashes takes its process with it. Run
    untrusted or fragile plugins with executors/mode = process: the crash
    then ends one executor process, the supervisor restarts it, and the
    attempt counts as failed (class "executor_lost").

    This header is self-contained (C99, no Shoal or CZMQ types); a plugin
    needs nothing else to build: cc -shared -fPIC -o p.so p.c
*/
#ifndef SHOAL_PLUGIN_H_INCLUDED
#define SHOAL_PLUGIN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  The ABI version; bumped on any incompatible change of this header. */
#define SHOAL_PLUGIN_ABI 1

/*  The symbol shoald looks up. */
#define SHOAL_PLUGIN_INIT_SYMBOL "shoal_plugin_init"

/*  Handler return codes. */
#define SHOAL_PLUGIN_OK   0
#define SHOAL_PLUGIN_FAIL 1

/*  One attempt of one job. Strings are NUL-terminated. */
typedef struct {
    const char *id;      /* job id, 32 lowercase hex digits */
    const char *type;    /* the job type (a name from the handler table) */
    const char *queue;   /* the job's queue */
    uint32_t attempt;    /* 1 for the first run, 2 for the first retry... */
    uint32_t timeout_ms; /* the job's own timeout, 0 = none; the host does
                            not stop a plugin at its timeout (it cannot):
                            the handler should, and the lease ends then */
    const char *payload; /* the payload as JSON text ("null" if none) */
    size_t payload_len;  /* strlen (payload) */
} shoal_plugin_job_t;

typedef struct shoal_plugin_ctx shoal_plugin_ctx_t;

/*  What a handler can do during its call: use the inline wrappers below
    rather than the members. */
struct shoal_plugin_ctx {
    uint32_t abi; /* SHOAL_PLUGIN_ABI of the host */
    int (*set_result) (shoal_plugin_ctx_t *ctx, const char *json, size_t len);
    void (*set_error) (shoal_plugin_ctx_t *ctx, const char *error_class,
                       const char *message);
    int (*heartbeat) (shoal_plugin_ctx_t *ctx, int percent);
    int (*cancelled) (shoal_plugin_ctx_t *ctx);
    void *host; /* the host's; do not touch */
};

/*  Sets the result: len bytes of one JSON value (any: object, array,
    string, number...). Called again, it replaces the previous result.
    Returns 0, or -1 if json is not one JSON value or is too large (the
    result is then unchanged). The result is kept on failure too. */
static inline int
shoal_plugin_set_result (shoal_plugin_ctx_t *ctx, const char *json, size_t len)
{
    return ctx->set_result (ctx, json, len);
}

/*  Sets why the attempt failed (used when the handler returns
    SHOAL_PLUGIN_FAIL): error_class (a short word such as "transient" or
    "invalid", matched by retry policies' on=/not_on=; NULL keeps "error";
    cut at 64 bytes) and message (NULL keeps "failed"; cut at 511 bytes).
*/
static inline void
shoal_plugin_set_error (shoal_plugin_ctx_t *ctx, const char *error_class,
                        const char *message)
{
    ctx->set_error (ctx, error_class, message);
}

/*  Says the run is alive, and how far it is (percent 0..100, or -1 when
    unknown). Cheap: call it as often as convenient; the host renews the
    job's lease at its own pace and publishes progress as a job.progress
    event. Returns 1 when the run should stop (the job was cancelled or
    the executor is stopping), else 0. */
static inline int
shoal_plugin_heartbeat (shoal_plugin_ctx_t *ctx, int percent)
{
    return ctx->heartbeat (ctx, percent);
}

/*  Returns 1 when the run should stop (the job was cancelled or the
    executor is stopping), else 0. A handler that sees 1 should return
    soon; what it returns is then ignored. */
static inline int
shoal_plugin_cancelled (shoal_plugin_ctx_t *ctx)
{
    return ctx->cancelled (ctx);
}

typedef int (*shoal_plugin_fn) (const shoal_plugin_job_t *job,
                                shoal_plugin_ctx_t *ctx);

typedef struct {
    const char *type;    /* job type: 1..64 bytes of [A-Za-z0-9_.:-]; not a
                            built-in (noop, echo, sleep, fail, exec) nor a
                            type of another loaded plugin */
    shoal_plugin_fn run; /* not NULL */
} shoal_plugin_handler_t;

typedef struct {
    uint32_t abi;        /* set to SHOAL_PLUGIN_ABI */
    const char *name;    /* the plugin's name, for logs; not NULL */
    const char *version; /* free text for logs, or NULL */
    const shoal_plugin_handler_t *handlers; /* nhandlers entries */
    uint32_t nhandlers;                     /* 1..256 */
} shoal_plugin_info_t;

typedef int (*shoal_plugin_init_fn) (uint32_t host_abi,
                                     shoal_plugin_info_t *info);

#ifdef __cplusplus
}
#endif

#endif
