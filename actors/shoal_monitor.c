/*  shoal_monitor.c - EVENT batches to an XPUB socket.

    XPUB (not PUB) so the actor sees subscriptions and can skip events no
    subscriber wants: the prefixes are kept in a small list with counts.
    XPUB_VERBOSE is off: duplicates of one prefix arrive once, which is
    all the filter needs.

    The store encodes a job event for every state change; with nobody
    subscribed to job, batch or run events that is wasted work on the hot path,
    so the monitor tells the store (INTEREST {events}) when that changes,
    and every second in case the store restarted.
*/
#include "shoal_monitor.h"

#include "shoal_actor.h"
#include "shoal_endpoint.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"

#include <string.h>

#define S_PREFIX_MAX  256
#define S_INTEREST_MS 1000
#define S_STORE_NAME  "store"

typedef struct {
    char *prefix;
    size_t len;
} s_sub_t;

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    zsock_t *xpub;
    bool verbose;
    bool terminated;
    s_sub_t subs[S_PREFIX_MAX];
    size_t nsubs;
    uint64_t events;
    uint64_t published;
    int interest;          /* last INTEREST sent: -1 none, 0 off, 1 on */
    int64_t interest_next; /* zclock_mono ms of the next repeat */
} self_t;

/*  Whether a subscription prefix can match a topic starting with what. */
static bool
s_overlaps (const s_sub_t *sub, const char *what)
{
    size_t n = strlen (what);
    return memcmp (sub->prefix, what, sub->len < n ? sub->len : n) == 0;
}

/*  Tells the store whether anyone may want its job and batch events. */
static void
s_send_interest (self_t *self)
{
    bool on = false;
    for (size_t i = 0; i < self->nsubs && !on; i++) {
        on = s_overlaps (&self->subs[i], "job.") ||
             s_overlaps (&self->subs[i], "batch.") ||
             s_overlaps (&self->subs[i], "run.");
    }
    int64_t now = zclock_mono ();
    if (self->interest == (int) on && now < self->interest_next) {
        return;
    }
    shoal_wr_t *w =
        shoal_port_begin (self->port, SHOAL_M_INTEREST, S_STORE_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_kv_bool (w, "events", on);
    shoal_port_send (self->port); /* best effort: repeated every second */
    self->interest = on;
    self->interest_next = now + S_INTEREST_MS;
}

static bool
s_wanted (self_t *self, const char *topic, size_t len)
{
    for (size_t i = 0; i < self->nsubs; i++) {
        if (self->subs[i].len <= len &&
            memcmp (self->subs[i].prefix, topic, self->subs[i].len) == 0) {
            return true;
        }
    }
    return false;
}

static void
s_self_handle_xpub (self_t *self)
{
    zframe_t *f = zframe_recv (self->xpub);
    if (!f) {
        return;
    }
    size_t n = zframe_size (f);
    const uint8_t *d = zframe_data (f);
    if (n >= 1 && (d[0] == 0 || d[0] == 1)) {
        const char *p = (const char *) d + 1;
        size_t len = n - 1;
        size_t i;
        for (i = 0; i < self->nsubs; i++) {
            if (self->subs[i].len == len &&
                memcmp (self->subs[i].prefix, p, len) == 0) {
                break;
            }
        }
        if (d[0] == 1 && i == self->nsubs && self->nsubs < S_PREFIX_MAX) {
            char *copy = malloc (len + 1);
            if (copy) {
                memcpy (copy, p, len);
                copy[len] = '\0';
                self->subs[self->nsubs++] = (s_sub_t){copy, len};
            }
        } else if (d[0] == 0 && i < self->nsubs) {
            free (self->subs[i].prefix);
            self->subs[i] = self->subs[--self->nsubs];
        }
    }
    zframe_destroy (&f);
}

static void
s_publish_batch (self_t *self, shoal_in_t *in)
{
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (in->body, in->body_len, "events", &rd, &n)) {
        return;
    }
    void *xpub = zsock_resolve (self->xpub);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *ev = rd.p;
        if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
            return;
        }
        size_t ev_len = (size_t) (rd.p - ev);
        self->events++;
        if (self->nsubs == 0) {
            continue;
        }
        const char *topic;
        uint32_t tlen;
        if (shoal_map_str (ev, ev_len, "topic", &topic, &tlen) ||
            !s_wanted (self, topic, tlen)) {
            continue;
        }
        /* DONTWAIT: a slow subscriber loses events, the host never waits */
        if (zmq_send (xpub, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
            zmq_send (xpub, ev, ev_len, ZMQ_DONTWAIT) >= 0) {
            self->published++;
        }
    }
}

static void
s_self_handle_port (self_t *self)
{
    shoal_in_t in;
    for (int i = 0; i < 256 && shoal_port_next (self->port, &in); i++) {
        if (in.hdr.type == SHOAL_M_EVENT) {
            s_publish_batch (self, &in);
        } else if (in.hdr.type == SHOAL_M_ERROR) {
            /* e.g. the store is restarting: INTEREST is repeated anyway */
        } else {
            shoal_port_error (self->port, &in.hdr, SHOAL_ERR_UNKNOWN_TYPE,
                              "monitor does not handle %s",
                              shoal_mtype_name (in.hdr.type));
        }
        shoal_in_close (&in);
    }
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->nsubs; i++) {
            free (self->subs[i].prefix);
        }
        zsock_destroy (&self->xpub);
        shoal_port_destroy (&self->port);
        free (self);
        *self_p = NULL;
    }
}

static shoal_err_t
s_self_new (zsock_t *pipe, const shoal_actor_args_t *args, self_t **out)
{
    self_t *self = calloc (1, sizeof *self);
    *out = self;
    if (!self) {
        return SHOAL_ERR_NOMEM;
    }
    self->pipe = pipe;
    self->verbose = args->verbose;
    self->xpub = zsock_new (ZMQ_XPUB);
    if (!self->xpub) {
        return SHOAL_ERR_IO;
    }
    zsock_set_linger (self->xpub, 0);
    zsock_set_sndhwm (self->xpub, 100000);
    const char *ep = shoal_config_get (args->config, "shoald/monitor");
    if (shoal_endpoint_in_use (ep)) {
        shoal_error ("monitor: %s is in use by another process", ep);
        return SHOAL_ERR_CONFIG;
    }
    if (zsock_bind (self->xpub, "%s", ep) < 0) {
        shoal_error ("monitor: cannot bind %s: %s", ep,
                     zmq_strerror (zmq_errno ()));
        return SHOAL_ERR_CONFIG;
    }
    self->port = shoal_port_new (args->bus, args->name, &args->clock);
    return self->port ? SHOAL_OK : SHOAL_ERR_IO;
}

void
shoal_monitor_actor (zsock_t *pipe, void *args_)
{
    zsock_signal (pipe, 0);
    self_t *self = NULL;
    shoal_err_t rc = s_self_new (pipe, args_, &self);
    shoal_actor_ready (pipe, rc);
    if (rc) {
        s_self_destroy (&self);
        return;
    }
    zmq_pollitem_t items[] = {
        {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (shoal_port_sock (self->port)), 0, ZMQ_POLLIN, 0},
        {zsock_resolve (self->xpub), 0, ZMQ_POLLIN, 0},
    };
    self->interest = -1;
    while (!self->terminated) {
        s_send_interest (self);
        long timeout = (long) (self->interest_next - zclock_mono ());
        if (zmq_poll (items, 3, timeout > 0 ? timeout : 0) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv (pipe);
            if (!cmd || streq (cmd, "$TERM")) {
                self->terminated = true;
            } else if (streq (cmd, "STATS")) {
                zstr_sendf (pipe, "events=%llu published=%llu subscribers=%zu",
                            (unsigned long long) self->events,
                            (unsigned long long) self->published, self->nsubs);
            }
            zstr_free (&cmd);
        }
        if (items[2].revents & ZMQ_POLLIN) {
            s_self_handle_xpub (self);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_self_handle_port (self);
        }
    }
    s_self_destroy (&self);
}
