/*  shoal_exec.h - the `exec` job handler: run a program, capture its output.

    Payload (a msgpack map; any other key is refused):
        argv        [str, ...]   REQUIRED; 1..1024 strings, no NUL, argv[0]
                                 not empty. argv[0] without '/' is looked up
                                 in PATH like execvp, using the child's
                                 PATH (env override, else the daemon's, else
                                 "/bin:/usr/bin"); a relative PATH entry or
                                 argv[0] is relative to cwd.
        env         {str: str|nil}  OPTIONAL; the child's environment is the
                                 daemon's plus these overrides; nil removes
                                 a variable. Keys non-empty, no '=' or NUL;
                                 values no NUL; at most 1024 entries.
        cwd         str          OPTIONAL; working directory (no NUL, <
                                 PATH_MAX bytes); relative to the daemon's.
        stdin       str|bin      OPTIONAL; written to the child's stdin,
                                 which is then closed (at most
                                 SHOAL_STR_MAX bytes, like any string).
                                 Without it stdin is /dev/null.
        timeout_ms  uint         OPTIONAL; 1..4294967295, counted from the
                                 spawn; default from opts, and never more
                                 than opts' max.

    Result (appended to the caller's writer as one map, also on failure so
    that the output of a failed run is kept):
        exit_code        int, or nil when killed by a signal or not run
        signal           int, only when killed by a signal
        stdout, stderr   str, the first out_cap bytes of each
        stdout_truncated, stderr_truncated   bool
        stdout_bytes, stderr_bytes           uint, all bytes produced
        json             any, only when stdout, trimmed of white space, is
                         one whole JSON value (not when truncated, nor when
                         nested deeper than 12 levels)
        duration_ms      uint, from spawn to exit

    The child runs in its own process group with an empty signal mask,
    default signal dispositions, no descriptors but 0, 1 and 2 (stdout and
    stderr are pipes), and the group is the job: at timeout, cancel or
    interrupt it gets SIGTERM, then SIGKILL after kill_grace_ms; when the
    command exits by itself whatever it left running in its group gets
    SIGKILL (processes that left the group are not tracked; output they
    write later than 1 s after the exit is not waited for).

    Requirements on the process: SIGCHLD must not be ignored (SIG_IGN makes
    children reap themselves) and nothing may reap children it does not
    own (waitpid (-1, ...)): the exit status would be lost (reported as
    "exit status lost"). SIGPIPE need not be ignored: writes to the child's
    stdin block it for the calling thread. The process environment must
    not change while a run reads it.
*/
#ifndef SHOAL_EXEC_H_INCLUDED
#define SHOAL_EXEC_H_INCLUDED

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal_limits.h"
#include "shoal_wr.h"

#define SHOAL_EXEC_OUT_CAP     (64u << 10) /* default bytes kept per stream */
#define SHOAL_EXEC_OUT_CAP_MAX SHOAL_STR_MAX
#define SHOAL_EXEC_GRACE_MS    2000u
#define SHOAL_EXEC_ARGV_MAX    1024u
#define SHOAL_EXEC_ENV_MAX     1024u
#define SHOAL_EXEC_BEAT_MS     100u /* longest wait between beat calls */

typedef struct {
    size_t out_cap;              /* bytes kept of stdout, and of stderr;
                                    over SHOAL_EXEC_OUT_CAP_MAX is clamped.
                                    A result can hold ~3 x out_cap (json
                                    repeats stdout) and a node refuses
                                    results over SHOAL_FRAME_MAX */
    uint32_t default_timeout_ms; /* when the payload has none; 0 = none */
    uint32_t max_timeout_ms;     /* cap on any timeout (e.g. the job's own
                                    timeout); 0 = none */
    uint32_t kill_grace_ms;      /* SIGTERM to SIGKILL; 0 = at once */
    void (*beat) (void *arg);    /* NULL, or called at least every
                                    SHOAL_EXEC_BEAT_MS while the child
                                    runs (the caller's heartbeats; it
                                    paces them itself) */
    void *beat_arg;
    const char *const *env; /* NULL, or "NAME=value" strings (NULL-ended,
                               borrowed) set for the child over the
                               daemon's environment; the payload's env
                               may override them (the node's job
                               context: SHOAL_JOB_ID and so on) */
} shoal_exec_opts_t;

typedef enum {
    SHOAL_EXEC_OK,          /* exit status 0 */
    SHOAL_EXEC_FAILED,      /* ran, or tried to, and failed; result written */
    SHOAL_EXEC_INVALID,     /* payload refused; nothing run or written */
    SHOAL_EXEC_INTERRUPTED, /* a message is waiting on pipe; result written */
    SHOAL_EXEC_CANCELLED    /* cancel became readable; result written */
} shoal_exec_outcome_t;

/*  The defaults: out_cap SHOAL_EXEC_OUT_CAP, no timeout and no cap,
    kill_grace_ms SHOAL_EXEC_GRACE_MS, no beat. */
shoal_exec_opts_t shoal_exec_opts_default (void);

/*  Runs the job described by payload (borrowed, a msgpack map; NULL is
    refused as INVALID) to its end and appends the result map to result.
    opts may be NULL for the defaults.

    Blocks the calling thread for the run, but never forever: it polls
    pipe and cancel (either may be NULL) and never reads from them. A
    message on pipe stops the child (TERM, grace, KILL) and gives
    INTERRUPTED, so that the actor can read its pipe afterwards; cancel
    readable does the same and gives CANCELLED. Any message counts, so
    cancel must be a socket for that purpose only (not a bus port, where
    the next RUN would cancel the job). Once the child is
    signalled, ending waits at most kill_grace_ms plus a few seconds for a
    child that ignores even SIGKILL (it is then left behind, logged).

    Unless the outcome is SHOAL_EXEC_OK, error (error_cap bytes,
    NUL-terminated, cap > 0) says why, and error_class (class_cap bytes;
    may be NULL) classifies it for retry rules:
        error text                                  class
        "exec payload: ..."                         invalid
        "cannot execute 'x': No such file or ..."   spawn
        "cannot change directory to 'd': ..."       spawn
        "exit status 3"                             exit:3
        "killed by signal 9"                        signal:9
        "timed out after 500 ms"                    timeout
        "interrupted"                               interrupted
        "cancelled"                                 cancelled
        "out of memory", "exit status lost ..."     error
    Out of memory may also leave result partly written; result's own
    sticky error reports it.

    Thread safe: each call uses only its arguments; one call per socket at
    a time. */
shoal_exec_outcome_t shoal_exec_run (const uint8_t *payload, size_t payload_len,
                                     const shoal_exec_opts_t *opts,
                                     zsock_t *pipe, zsock_t *cancel,
                                     shoal_wr_t *result, char *error,
                                     size_t error_cap, char *error_class,
                                     size_t class_cap);

/*  Short name of an outcome ("ok", "failed", "invalid", "interrupted",
    "cancelled"); never NULL. */
const char *shoal_exec_outcome_name (shoal_exec_outcome_t outcome);

#endif
