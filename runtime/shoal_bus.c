/*  shoal_bus.c - header-only forwarding between actors.

    Design: one thread, zmq_poll on the pipe and the ROUTER; after each
    wake-up drain up to S_BURST messages without polling again, because a
    poll per message costs more than the forwarding itself. Messages move
    as zmq_msg_t (no copy): identity frame in, body frame out unchanged.
*/
#include "shoal_bus.h"
#include "shoal_actor.h"
#include "shoal_log.h"
#include "../protocol/shoal_frame.h"

#include <errno.h>
#include <string.h>

#define S_BURST 1024

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    void *handle;
    bool verbose;
    bool terminated;
    uint64_t forwarded;
    uint64_t unroutable;
    uint64_t malformed;
    uint64_t remote;                      /* frames handed to the registry */
    char remote_name[SHOAL_NAME_MAX + 1]; /* "" = one host */
    size_t remote_len;
    bool uplink;
    shoal_wr_t *wr;
    shoal_idgen_t ids;
} self_t;

static self_t *
s_self_new (zsock_t *pipe, const shoal_bus_args_t *args)
{
    self_t *self = calloc (1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->pipe = pipe;
    self->verbose = args->verbose;
    if (args->remote) {
        snprintf (self->remote_name, sizeof self->remote_name, "%s",
                  args->remote);
        self->remote_len = strlen (self->remote_name);
        self->uplink = args->uplink;
    }
    self->router = zsock_new (ZMQ_ROUTER);
    self->wr = shoal_wr_new ();
    if (!self->router || !self->wr || shoal_idgen_init (&self->ids)) {
        goto fail;
    }
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_router_handover (self->router, 1);
    zsock_set_sndhwm (self->router, 0);
    zsock_set_rcvhwm (self->router, 0);
    zsock_set_linger (self->router, 0);
    if (zsock_bind (self->router, "%s", args->inproc) < 0) {
        shoal_error ("bus: cannot bind %s: %s", args->inproc,
                     zmq_strerror (zmq_errno ()));
        goto fail;
    }
    if (args->ipc && zsock_bind (self->router, "%s", args->ipc) < 0) {
        shoal_error ("bus: cannot bind %s: %s", args->ipc,
                     zmq_strerror (zmq_errno ()));
        goto fail;
    }
    self->handle = zsock_resolve (self->router);
    return self;
fail:
    zsock_destroy (&self->router);
    shoal_wr_destroy (&self->wr);
    free (self);
    return NULL;
}

static void
s_self_destroy (self_t **self_p)
{
    if (*self_p) {
        zsock_destroy (&(*self_p)->router);
        shoal_wr_destroy (&(*self_p)->wr);
        free (*self_p);
        *self_p = NULL;
    }
}

/*  Tells the sender (identity ident) that its message could not be
    delivered. Parses the header fully: this is the rare path. */
static void
s_reply_unreachable (self_t *self, zmq_msg_t *ident, zmq_msg_t *frame)
{
    shoal_limits_t lim = shoal_limits_default ();
    shoal_hdr_t req, hdr;
    const uint8_t *body;
    size_t blen;
    if (shoal_frame_parse (zmq_msg_data (frame), zmq_msg_size (frame), &lim,
                           &req, &body, &blen) != SHOAL_OK ||
        req.type == SHOAL_M_ERROR) {
        return;
    }
    memset (&hdr, 0, sizeof hdr);
    hdr.type = SHOAL_M_ERROR;
    size_t ilen = zmq_msg_size (ident);
    if (ilen > SHOAL_NAME_MAX) {
        return;
    }
    memcpy (hdr.to, zmq_msg_data (ident), ilen);
    strcpy (hdr.from, "bus");
    shoal_idgen_next (&self->ids, (uint64_t) zclock_time (), &hdr.id);
    hdr.corr = req.id;
    hdr.has_corr = true;
    hdr.ts_us = (uint64_t) zclock_time () * 1000;
    if (shoal_frame_begin (self->wr, &hdr) != SHOAL_OK) {
        return;
    }
    char text[128];
    snprintf (text, sizeof text, "no actor named '%s'", req.to);
    shoal_wr_map (self->wr, 2);
    shoal_wr_kv_uint (self->wr, "code", SHOAL_ERR_UNREACHABLE);
    shoal_wr_kv_str (self->wr, "text", text);
    if (shoal_frame_end (self->wr, lim.frame_max) != SHOAL_OK) {
        return;
    }
    /* The sender may be gone too; then this is dropped, which is fine. */
    if (zmq_send (self->handle, zmq_msg_data (ident), ilen, ZMQ_SNDMORE) >= 0) {
        zmq_send (self->handle, shoal_wr_data (self->wr),
                  shoal_wr_size (self->wr), 0);
    }
}

/*  Forwards one message. Returns false when nothing was waiting. */
static bool
s_forward_one (self_t *self, int flags)
{
    zmq_msg_t ident, frame;
    zmq_msg_init (&ident);
    zmq_msg_init (&frame);
    bool got = false;
    if (zmq_msg_recv (&ident, self->handle, flags) < 0) {
        goto done;
    }
    got = true;
    if (!zmq_msg_more (&ident) || zmq_msg_recv (&frame, self->handle, 0) < 0) {
        self->malformed++;
        goto done;
    }
    /* Swallow extra frames: a Shoal message is exactly one frame. */
    bool extra = false;
    while (zmq_msg_more (&frame)) {
        extra = true;
        zmq_msg_close (&frame);
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->handle, 0) < 0) {
            goto done;
        }
    }
    uint32_t type;
    const char *to;
    uint32_t to_len;
    if (extra || shoal_frame_peek (zmq_msg_data (&frame), zmq_msg_size (&frame),
                                   &type, &to, &to_len) != SHOAL_OK) {
        self->malformed++;
        shoal_debug (self->verbose, "bus: dropped malformed frame");
        goto done;
    }
    if (self->remote_len && memchr (to, '@', to_len)) {
        /* Another host's actor: the registry carries it over a link. */
        to = self->remote_name;
        to_len = (uint32_t) self->remote_len;
        self->remote++;
    }
    int sent = zmq_send (self->handle, to, to_len, ZMQ_SNDMORE);
    if (sent < 0 && zmq_errno () == EHOSTUNREACH && self->uplink &&
        to != self->remote_name) {
        /* Not here: the host this one joined serves it (e.g. "store"). */
        self->remote++;
        sent = zmq_send (self->handle, self->remote_name, self->remote_len,
                         ZMQ_SNDMORE);
    }
    if (sent < 0) {
        if (zmq_errno () == EHOSTUNREACH) {
            self->unroutable++;
            shoal_debug (self->verbose, "bus: no route to %.*s", (int) to_len,
                         to);
            s_reply_unreachable (self, &ident, &frame);
        }
        goto done;
    }
    if (zmq_msg_send (&frame, self->handle, 0) >= 0) {
        self->forwarded++;
    }
done:
    zmq_msg_close (&ident);
    zmq_msg_close (&frame);
    return got;
}

static void
s_self_handle_pipe (self_t *self)
{
    char *cmd = zstr_recv (self->pipe);
    if (!cmd) {
        self->terminated = true;
        return;
    }
    if (streq (cmd, "$TERM")) {
        self->terminated = true;
    } else if (streq (cmd, "STATS")) {
        zstr_sendf (self->pipe,
                    "forwarded=%llu unroutable=%llu malformed=%llu remote=%llu",
                    (unsigned long long) self->forwarded,
                    (unsigned long long) self->unroutable,
                    (unsigned long long) self->malformed,
                    (unsigned long long) self->remote);
    } else {
        shoal_warn ("bus: unknown pipe command %s", cmd);
    }
    zstr_free (&cmd);
}

void
shoal_bus_actor (zsock_t *pipe, void *args)
{
    zsock_signal (pipe, 0);
    self_t *self = s_self_new (pipe, (const shoal_bus_args_t *) args);
    shoal_actor_ready (pipe, self ? SHOAL_OK : SHOAL_ERR_IO);
    if (!self) {
        return;
    }
    zmq_pollitem_t items[] = {
        {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
        {self->handle, 0, ZMQ_POLLIN, 0},
    };
    while (!self->terminated) {
        if (zmq_poll (items, 2, -1) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            s_self_handle_pipe (self);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            for (int i = 0; i < S_BURST; i++) {
                if (!s_forward_one (self, ZMQ_DONTWAIT)) {
                    break;
                }
            }
        }
    }
    s_self_destroy (&self);
}
