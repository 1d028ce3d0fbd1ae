/*  shoal_actor.c - the two-step start handshake. zactor_new swallows the
    first signal without reading its status, so the real result travels in
    a second one. */
#include "shoal_actor.h"
#include "shoal_log.h"

void
shoal_actor_ready (zsock_t *pipe, shoal_err_t rc)
{
    zsock_signal (pipe, (byte) rc);
}

zactor_t *
shoal_actor_start (zactor_fn *fn, void *args, shoal_err_t *err)
{
    zactor_t *actor = zactor_new (fn, args);
    if (!actor) {
        if (err) {
            *err = SHOAL_ERR_NOMEM;
        }
        return NULL;
    }
    int status = zsock_wait (actor);
    if (status != 0) {
        /* The actor has returned (or is returning): collect it. */
        zactor_destroy (&actor);
        if (err) {
            *err = status < 0 ? SHOAL_ERR_INTERRUPTED : (shoal_err_t) status;
        }
        return NULL;
    }
    if (err) {
        *err = SHOAL_OK;
    }
    return actor;
}

bool
shoal_actor_pipe_term (zsock_t *pipe, const char *who)
{
    char *cmd = zstr_recv (pipe);
    if (!cmd) {
        return true;
    }
    bool term = streq (cmd, "$TERM");
    if (!term) {
        shoal_warn ("%s: unknown pipe command '%s'", who, cmd);
    }
    zstr_free (&cmd);
    return term;
}
