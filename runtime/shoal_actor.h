/*  shoal_actor.h - what every Shoal actor gets, and how it is started.

    An actor is a function `void fn (zsock_t *pipe, void *args)` run as a
    CZMQ zactor (thread actor) or, through shoal_proc, in a child process
    (process actor). Its args are a shoal_actor_args_t, valid only until
    the actor reports its start: copy what must be kept.

    Start handshake (both kinds):
        zsock_signal (pipe, 0);                  // consumed by zactor_new
        ... set up ...
        shoal_actor_ready (pipe, rc);            // SHOAL_OK or the error
    then loop until "$TERM" arrives on the pipe. An actor that hits an
    unrecoverable error returns from its function: the supervisor sees the
    exit on the pipe and restarts it.
*/
#ifndef SHOAL_ACTOR_H_INCLUDED
#define SHOAL_ACTOR_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#include "../protocol/shoal_err.h"
#include "shoal_clock.h"
#include "shoal_config.h"

typedef struct {
    const char *name;             /* actor name on the bus */
    const char *bus;              /* bus endpoint to connect to */
    shoal_clock_t clock;          /* time source */
    const shoal_config_t *config; /* read-only; copy values at start */
    bool verbose;
    void *extra; /* kind-specific, documented per actor */
} shoal_actor_args_t;

/*  Reports the result of setting up, after the initial signal. */
void shoal_actor_ready (zsock_t *pipe, shoal_err_t rc);

/*  Starts a thread actor and waits for its report. Returns NULL (and the
    actor's error in *err when err is not NULL) if it failed to start. */
zactor_t *shoal_actor_start (zactor_fn *fn, void *args, shoal_err_t *err);

/*  Reads one pipe command; returns true when the actor must stop ($TERM
    or a broken pipe). Other commands are logged and ignored. */
bool shoal_actor_pipe_term (zsock_t *pipe, const char *who);

#endif
