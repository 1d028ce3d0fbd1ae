/*  shoal_port.c - actor side of the bus.

    Frames are sent with zmq_send (one copy out of the writer); frames are
    received into a zmq_msg_t and parsed in place, so a received body is
    never copied.
*/
#include "shoal_port.h"
#include "shoal_log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

struct _shoal_port_t {
    zsock_t *sock;
    char name[SHOAL_NAME_MAX + 1];
    shoal_clock_t clock;
    shoal_idgen_t ids;
    shoal_wr_t *wr;
    shoal_limits_t lim;
    uint64_t dropped;
    bool bad_begin;  /* the message begun last could not be encoded */
    zlist_t *outbox; /* zframe_t *, deferred messages */
};

static shoal_port_t *
s_port_new (const char *bus_endpoint, const char *name,
            const shoal_clock_t *clock, bool identity, zcert_t *cert,
            const char *server_key)
{
    if (strlen (name) > SHOAL_NAME_MAX) {
        shoal_error ("port: name too long: %s", name);
        return NULL;
    }
    shoal_port_t *self = calloc (1, sizeof *self);
    if (!self) {
        return NULL;
    }
    strcpy (self->name, name);
    self->clock = *clock;
    self->lim = shoal_limits_bus ();
    if (shoal_idgen_init (&self->ids)) {
        shoal_error ("port %s: getrandom failed", name);
        goto fail;
    }
    self->wr = shoal_wr_new ();
    self->sock = zsock_new (ZMQ_DEALER);
    self->outbox = zlist_new ();
    if (!self->wr || !self->sock || !self->outbox) {
        goto fail;
    }
    if (identity) {
        zsock_set_identity (self->sock, name);
    }
    if (cert && server_key) {
        /* CURVE client: set before connecting */
        zcert_apply (cert, self->sock);
        zsock_set_curve_serverkey (self->sock, server_key);
    }
    zsock_set_sndhwm (self->sock, 0);
    zsock_set_rcvhwm (self->sock, 0);
    /* Messages sent just before closing (a stopping actor hands work
       back) must still leave: wait up to 2 s for them at close. */
    zsock_set_linger (self->sock, 2000);
    if (zsock_connect (self->sock, "%s", bus_endpoint)) {
        shoal_error ("port %s: cannot connect to %s: %s", name, bus_endpoint,
                     zmq_strerror (zmq_errno ()));
        goto fail;
    }
    return self;
fail:
    zsock_destroy (&self->sock);
    shoal_wr_destroy (&self->wr);
    zlist_destroy (&self->outbox);
    free (self);
    return NULL;
}

shoal_port_t *
shoal_port_new (const char *bus_endpoint, const char *name,
                const shoal_clock_t *clock)
{
    return s_port_new (bus_endpoint, name, clock, true, NULL, NULL);
}

shoal_port_t *
shoal_port_new_client (const char *endpoint, const char *from,
                       const shoal_clock_t *clock)
{
    shoal_port_t *self = s_port_new (endpoint, from, clock, false, NULL, NULL);
    if (self) {
        /* A client that gave up on an answer must not hang at exit
           trying to deliver a request nobody takes. */
        zsock_set_linger (self->sock, 0);
    }
    return self;
}

shoal_port_t *
shoal_port_new_client_curve (const char *endpoint, const char *from,
                             const shoal_clock_t *clock, zcert_t *cert,
                             const char *server_key)
{
    shoal_port_t *self =
        s_port_new (endpoint, from, clock, false, cert, server_key);
    if (self) {
        zsock_set_linger (self->sock, 0);
    }
    return self;
}

void
shoal_port_destroy (shoal_port_t **self_p)
{
    if (self_p && *self_p) {
        shoal_port_t *self = *self_p;
        if (self->outbox) {
            shoal_port_discard (self);
            zlist_destroy (&self->outbox);
        }
        zsock_destroy (&self->sock);
        shoal_wr_destroy (&self->wr);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
shoal_port_sock (shoal_port_t *self)
{
    return self->sock;
}

const char *
shoal_port_name (const shoal_port_t *self)
{
    return self->name;
}

const shoal_clock_t *
shoal_port_clock (const shoal_port_t *self)
{
    return &self->clock;
}

const shoal_limits_t *
shoal_port_limits (const shoal_port_t *self)
{
    return &self->lim;
}

void
shoal_port_new_id (shoal_port_t *self, shoal_id_t *id)
{
    shoal_idgen_next (&self->ids, shoal_clock_now_ms (&self->clock), id);
}

shoal_wr_t *
shoal_port_begin_hdr (shoal_port_t *self, shoal_hdr_t *hdr)
{
    /* One clock read serves both the id and the timestamp. */
    uint64_t now_us = 0;
    if (shoal_id_is_zero (&hdr->id) || hdr->ts_us == 0) {
        now_us = shoal_clock_now_us (&self->clock);
    }
    if (shoal_id_is_zero (&hdr->id)) {
        shoal_idgen_next (&self->ids, now_us / 1000, &hdr->id);
    }
    if (hdr->ts_us == 0) {
        hdr->ts_us = now_us;
    }
    if (hdr->from[0] == '\0') {
        memcpy (hdr->from, self->name, sizeof hdr->from);
    }
    /* An over-long name fails the message; send reports it. */
    self->bad_begin = shoal_frame_begin (self->wr, hdr) != SHOAL_OK;
    return self->wr;
}

shoal_wr_t *
shoal_port_begin (shoal_port_t *self, uint32_t type, const char *to,
                  const shoal_id_t *corr)
{
    shoal_hdr_t hdr;
    hdr.type = type;
    hdr.id = (shoal_id_t){{0}};
    hdr.ts_us = 0;
    hdr.attempt = 0;
    hdr.deadline_us = 0;
    hdr.from[0] = '\0';
    hdr.has_corr = false;
    size_t n = strnlen (to, sizeof hdr.to);
    memcpy (hdr.to, to, n);
    hdr.to[n < sizeof hdr.to ? n : sizeof hdr.to - 1] = '\0';
    if (corr) {
        hdr.corr = *corr;
        hdr.has_corr = true;
    }
    shoal_wr_t *w = shoal_port_begin_hdr (self, &hdr);
    if (n >= sizeof hdr.to) {
        self->bad_begin = true; /* name too long: refuse, don't truncate */
    }
    return w;
}

static shoal_err_t
s_finish (shoal_port_t *self)
{
    shoal_err_t rc = shoal_frame_end (self->wr, self->lim.frame_max);
    if (rc == SHOAL_OK && self->bad_begin) {
        rc = SHOAL_ERR_TOO_LARGE;
    }
    if (rc) {
        shoal_error ("port %s: cannot encode message: %s", self->name,
                     shoal_strerror (rc));
    }
    return rc;
}

shoal_err_t
shoal_port_defer (shoal_port_t *self)
{
    shoal_err_t rc = s_finish (self);
    if (rc) {
        return rc;
    }
    zframe_t *f =
        zframe_new (shoal_wr_data (self->wr), shoal_wr_size (self->wr));
    if (!f || zlist_append (self->outbox, f)) {
        zframe_destroy (&f);
        return SHOAL_ERR_NOMEM;
    }
    return SHOAL_OK;
}

static shoal_err_t
s_send_bytes (shoal_port_t *self, const void *data, size_t size)
{
    void *handle = zsock_resolve (self->sock);
    while (zmq_send (handle, data, size, 0) < 0) {
        if (zmq_errno () == EINTR) {
            continue;
        }
        if (zmq_errno () == ETERM) {
            return SHOAL_ERR_INTERRUPTED;
        }
        shoal_error ("port %s: send failed: %s", self->name,
                     zmq_strerror (zmq_errno ()));
        return SHOAL_ERR_IO;
    }
    return SHOAL_OK;
}

shoal_err_t
shoal_port_flush (shoal_port_t *self)
{
    shoal_err_t first = SHOAL_OK;
    zframe_t *f;
    while ((f = zlist_pop (self->outbox))) {
        shoal_err_t rc = s_send_bytes (self, zframe_data (f), zframe_size (f));
        if (rc && !first) {
            first = rc;
        }
        zframe_destroy (&f);
    }
    return first;
}

void
shoal_port_discard (shoal_port_t *self)
{
    zframe_t *f;
    while ((f = zlist_pop (self->outbox))) {
        zframe_destroy (&f);
    }
}

shoal_err_t
shoal_port_send (shoal_port_t *self)
{
    shoal_err_t rc = s_finish (self);
    if (rc) {
        return rc;
    }
    return s_send_bytes (self, shoal_wr_data (self->wr),
                         shoal_wr_size (self->wr));
}

static void s_begin_error (shoal_port_t *self, const shoal_hdr_t *req,
                           shoal_err_t code, const char *fmt, va_list ap)
    __attribute__ ((format (printf, 4, 0)));

static void
s_begin_error (shoal_port_t *self, const shoal_hdr_t *req, shoal_err_t code,
               const char *fmt, va_list ap)
{
    char text[256];
    vsnprintf (text, sizeof text, fmt, ap);
    shoal_wr_t *w = shoal_port_begin (self, SHOAL_M_ERROR, req->from, &req->id);
    shoal_wr_map (w, 2);
    shoal_wr_kv_uint (w, "code", (uint64_t) code);
    shoal_wr_kv_str (w, "text", text);
}

shoal_err_t
shoal_port_defer_error (shoal_port_t *self, const shoal_hdr_t *req,
                        shoal_err_t code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_begin_error (self, req, code, fmt, ap);
    va_end (ap);
    return shoal_port_defer (self);
}

shoal_err_t
shoal_port_error (shoal_port_t *self, const shoal_hdr_t *req, shoal_err_t code,
                  const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_begin_error (self, req, code, fmt, ap);
    va_end (ap);
    return shoal_port_send (self);
}

shoal_err_t
shoal_port_recv (shoal_port_t *self, shoal_in_t *in, int flags)
{
    void *handle = zsock_resolve (self->sock);
    zmq_msg_init (&in->msg);
    for (;;) {
        if (zmq_msg_recv (&in->msg, handle, flags) >= 0) {
            break;
        }
        int e = zmq_errno ();
        if (e == EINTR && !(flags & ZMQ_DONTWAIT)) {
            zmq_msg_close (&in->msg);
            return SHOAL_ERR_INTERRUPTED;
        }
        zmq_msg_close (&in->msg);
        if (e == EAGAIN) {
            return SHOAL_ERR_BUSY;
        }
        return e == ETERM || e == EINTR ? SHOAL_ERR_INTERRUPTED : SHOAL_ERR_IO;
    }
    shoal_err_t rc =
        shoal_frame_parse (zmq_msg_data (&in->msg), zmq_msg_size (&in->msg),
                           &self->lim, &in->hdr, &in->body, &in->body_len);
    if (rc) {
        self->dropped++;
        shoal_warn ("port %s: dropped undecodable message (%zu bytes): %s",
                    self->name, zmq_msg_size (&in->msg), shoal_strerror (rc));
        zmq_msg_close (&in->msg);
    }
    return rc;
}

bool
shoal_port_next (shoal_port_t *self, shoal_in_t *in)
{
    for (;;) {
        shoal_err_t rc = shoal_port_recv (self, in, ZMQ_DONTWAIT);
        if (rc == SHOAL_OK) {
            return true;
        }
        if (rc == SHOAL_ERR_BUSY || rc == SHOAL_ERR_INTERRUPTED ||
            rc == SHOAL_ERR_IO) {
            return false;
        }
    }
}

uint64_t
shoal_port_dropped (const shoal_port_t *self)
{
    return self->dropped;
}

void
shoal_in_close (shoal_in_t *in)
{
    zmq_msg_close (&in->msg);
}
