/*  shoal_port.h - an actor's connection to its host bus.

    A port is a DEALER whose routing identity is the actor's name,
    connected to the bus ROUTER (inproc:// for thread actors, ipc:// for
    process actors: the API is the same). It owns a reusable writer and an
    id generator, so sending a message does not allocate in steady state.

    Sending:
        shoal_wr_t *w = shoal_port_begin (port, SHOAL_M_RUN, "node.0", NULL);
        shoal_wr_map (w, 1); shoal_wr_kv_str (w, "k", "v");
        rc = shoal_port_send (port);

    Receiving:
        shoal_in_t in;
        if (shoal_port_recv (port, &in, 0) == SHOAL_OK) {
            ... in.hdr, in.body, in.body_len ...
            shoal_in_close (&in);
        }

    A port is used by one thread only.
*/
#ifndef SHOAL_PORT_H_INCLUDED
#define SHOAL_PORT_H_INCLUDED

#include <czmq.h>

#include "../protocol/shoal_frame.h"
#include "shoal_clock.h"

typedef struct _shoal_port_t shoal_port_t;

/*  An incoming message. Owns the ZeroMQ message until shoal_in_close;
    hdr/body point into it. */
typedef struct {
    zmq_msg_t msg;
    shoal_hdr_t hdr;
    const uint8_t *body;
    size_t body_len;
} shoal_in_t;

/*  Connects a new port named name to bus_endpoint. clock is copied.
    Returns NULL (logged) if the name is too long, the socket cannot be
    created or the connect fails. */
shoal_port_t *shoal_port_new (const char *bus_endpoint, const char *name,
                              const shoal_clock_t *clock);

/*  A client port: a DEALER connected to endpoint (a shoald control
    endpoint) with no fixed routing identity, so any number of clients may
    share the name from (which only fills the header's from field). Same
    send/recv calls as an actor port. */
shoal_port_t *shoal_port_new_client (const char *endpoint, const char *from,
                                     const shoal_clock_t *clock);

/*  The same over CURVE: cert (borrowed; its secret key must be loaded)
    is this client's, server_key the server's public key (Z85, 40
    characters). */
shoal_port_t *shoal_port_new_client_curve (const char *endpoint,
                                           const char *from,
                                           const shoal_clock_t *clock,
                                           zcert_t *cert,
                                           const char *server_key);

/*  Closes the port and sets *self_p to NULL. Accepts NULL. */
void shoal_port_destroy (shoal_port_t **self_p);

/*  The DEALER, for polling; borrowed. */
zsock_t *shoal_port_sock (shoal_port_t *self);
const char *shoal_port_name (const shoal_port_t *self);
const shoal_clock_t *shoal_port_clock (const shoal_port_t *self);
const shoal_limits_t *shoal_port_limits (const shoal_port_t *self);

/*  Next message id from this port's generator. */
void shoal_port_new_id (shoal_port_t *self, shoal_id_t *id);

/*  Starts a message to actor to, answering corr (may be NULL). Returns
    the port's writer, positioned for the body (one map); never NULL. */
shoal_wr_t *shoal_port_begin (shoal_port_t *self, uint32_t type, const char *to,
                              const shoal_id_t *corr);

/*  Same with full control over the header (id/ts filled if zero). */
shoal_wr_t *shoal_port_begin_hdr (shoal_port_t *self, shoal_hdr_t *hdr);

/*  Sends the message begun last. Errors: NOMEM or TOO_LARGE from
    encoding, IO when ZeroMQ refuses (logged), INTERRUPTED on EINTR. */
shoal_err_t shoal_port_send (shoal_port_t *self);

/*  Finishes the message begun last and keeps a copy in the port's outbox
    instead of sending it. Lets an actor prepare replies that may only go
    out after an event (the store: after its commit). NOMEM, TOO_LARGE. */
shoal_err_t shoal_port_defer (shoal_port_t *self);

/*  Sends everything in the outbox, in order. Returns the first error; the
    outbox is emptied either way. */
shoal_err_t shoal_port_flush (shoal_port_t *self);

/*  Drops everything in the outbox (e.g. the commit failed). */
void shoal_port_discard (shoal_port_t *self);

/*  Sends an ERROR {code, text} answering req (to req->from, corr =
    req->id). text is printf-style. */
shoal_err_t shoal_port_error (shoal_port_t *self, const shoal_hdr_t *req,
                              shoal_err_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/*  Same, but kept in the outbox (see shoal_port_defer). */
shoal_err_t shoal_port_defer_error (shoal_port_t *self, const shoal_hdr_t *req,
                                    shoal_err_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/*  Receives and parses one message. flags: 0 or ZMQ_DONTWAIT. Errors:
    BUSY when DONTWAIT and nothing waits, INTERRUPTED on EINTR or context
    termination, IO on other socket errors, or the frame's decode error
    (MALFORMED, TOO_LARGE, VERSION: the message is dropped and counted).
    On SHOAL_OK the caller must shoal_in_close(in). */
shoal_err_t shoal_port_recv (shoal_port_t *self, shoal_in_t *in, int flags);

/*  Drain helper: receives the next waiting message without blocking,
    skipping (and counting) undecodable ones. Returns true with *in to be
    closed by the caller, false when nothing decodable is waiting. */
bool shoal_port_next (shoal_port_t *self, shoal_in_t *in);

/*  Messages dropped as undecodable since the port opened. */
uint64_t shoal_port_dropped (const shoal_port_t *self);

void shoal_in_close (shoal_in_t *in);

#endif
