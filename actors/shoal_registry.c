/*  shoal_registry.c - hosts, workers and links (see shoal_registry.h).

    One thread polls the pipe, the bus port and the link socket (a ROUTER
    on the owner, a DEALER on a member). Frames cross a link re-encoded
    only in the header (to/from); bodies pass untouched.
*/
#include "shoal_registry.h"
#include "shoal_scheduler.h"
#include "shoal_store.h"

#include "shoal_actor.h"
#include "shoal_curve.h"
#include "shoal_event.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_port.h"
#include "shoal_version.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define S_PEERS_MAX 1024
#define S_BURST     512
#define S_TICK_MS   50 /* longest real wait between clock checks */

typedef struct {
    char name[SHOAL_PEER_NAME_MAX + 1];
    char kind[8]; /* host | worker */
    char key[41]; /* CURVE public key it proved, "" without CURVE */
    char labels[512];
    char version[32];
    uint64_t capacity, cores, memory_mb, executors;
    uint64_t joined_us, beat_us;
    bool dead;
    uint64_t lost;    /* times declared dead */
    uint64_t in, out; /* frames carried */
    bool warned;      /* logged a refused frame of it */
} s_peer_t;

typedef struct {
    zsock_t *pipe;
    shoal_port_t *port;
    void *bus;     /* the port's socket, for frames relayed as they are */
    zsock_t *link; /* ROUTER (owner) or DEALER (member), or NULL */
    zsock_t *mon;  /* member: the link's handshake events, or NULL */
    bool owner;
    bool verbose;
    bool terminated;
    bool fault; /* FAULT drop: a partition made by a test */
    char name[SHOAL_PEER_NAME_MAX + 1];
    char kind[8];
    char bind[256], join[256];
    uint64_t hb_us;
    uint32_t liveness;
    shoal_limits_t lim;
    shoal_wr_t *wr;
    s_peer_t *peers[S_PEERS_MAX];
    size_t npeers;
    /* member side */
    char upstream[SHOAL_PEER_NAME_MAX + 1]; /* the owner's name, once known */
    uint64_t next_beat_us;
    uint64_t up_beat_us; /* last answer from the owner */
    bool up_alive;
    char cert[PATH_MAX];       /* shoald/curve_cert, "" without CURVE */
    char server_key[PATH_MAX]; /* cluster/server_key */
    unsigned link_gen;         /* link sockets made, for the monitor's name */
    uint64_t relink_us;        /* when to make the link again (0: no need) */
    bool refused_said;         /* the owner's refusal was logged */
    uint64_t capacity, executors;
    char labels[512];
    /* owner side: the scheduler's executor table, refreshed each beat */
    uint8_t *execs;
    size_t execs_len;
    uint64_t next_exec_us;
    /* counters */
    uint64_t refused;   /* frames from unknown peers or bad names */
    bool warned_self;   /* logged a peer that took this host's name */
    uint64_t malformed; /* undecodable frames from a link */
    uint64_t lost;      /* peers declared dead */
    uint64_t rejoined;
    uint64_t released; /* RUNs handed back for an unreachable peer */
} self_t;

void
shoal_registry_host_name (const char *configured, char *out)
{
    char h[256] = "";
    if (configured && configured[0]) {
        snprintf (h, sizeof h, "%s", configured);
    } else if (gethostname (h, sizeof h - 1) == 0) {
        h[strcspn (h, ".")] = '\0'; /* the short name */
    }
    size_t len = strlen (h);
    if (len == 0 || len > SHOAL_PEER_NAME_MAX || !shoal_name_valid (h, len)) {
        len = (size_t) snprintf (h, sizeof h, "host");
    }
    memcpy (out, h, len + 1); /* it fits: checked above */
}

static uint64_t
s_now (self_t *self)
{
    return shoal_clock_now_us (shoal_port_clock (self->port));
}

static s_peer_t *
s_peer (self_t *self, const char *name)
{
    for (size_t i = 0; i < self->npeers; i++) {
        if (streq (self->peers[i]->name, name)) {
            return self->peers[i];
        }
    }
    return NULL;
}

/*  Splits "local@host" in place: returns host (NULL if there is no '@'),
    leaves local in name. */
static char *
s_split (char *name)
{
    char *at = strrchr (name, '@');
    if (!at) {
        return NULL;
    }
    *at = '\0';
    return at + 1;
}

/*  out = "local@host" (a header name); false if it would not fit. */
static bool
s_qualify (char out[SHOAL_NAME_MAX + 1], const char *local, const char *host)
{
    size_t ll = strlen (local), hl = strlen (host);
    if (ll + 1 + hl > SHOAL_NAME_MAX) {
        return false;
    }
    memmove (out, local, ll);
    out[ll] = '@';
    memcpy (out + ll + 1, host, hl + 1);
    return true;
}

/*  Encodes hdr + body into self->wr; false if it does not fit. */
static bool
s_encode (self_t *self, const shoal_hdr_t *hdr, const uint8_t *body,
          size_t body_len)
{
    if (shoal_frame_begin (self->wr, hdr) != SHOAL_OK) {
        return false;
    }
    shoal_wr_raw (self->wr, body, body_len);
    return shoal_frame_end (self->wr, self->lim.frame_max) == SHOAL_OK;
}

static void
s_event (self_t *self, const char *topic, const s_peer_t *p)
{
    shoal_wr_t *w = shoal_event_begin (self->port, 1);
    shoal_event_head (w, self->port, topic, 3);
    shoal_wr_kv_str (w, "peer", p->name);
    shoal_wr_kv_str (w, "kind", p->kind);
    /* when it last beat, on this host's clock: failover is measured
       from there */
    shoal_wr_kv_uint (w, "beat_us", p->beat_us);
    shoal_port_send (self->port);
}

/*  Tells the store and the scheduler that every executor of p is gone. */
static void
s_lose (self_t *self, s_peer_t *p, const char *why)
{
    p->dead = true;
    p->lost++;
    self->lost++;
    const char *to[] = {SHOAL_STORE_NAME, SHOAL_SCHEDULER_NAME};
    for (size_t i = 0; i < 2; i++) {
        shoal_wr_t *w =
            shoal_port_begin (self->port, SHOAL_M_NODE_LOST, to[i], NULL);
        shoal_wr_map (w, 1);
        shoal_wr_kv_str (w, "host", p->name);
        shoal_port_send (self->port);
    }
    shoal_warn ("registry: %s %s is lost (%s); its leases are requeued",
                p->kind, p->name, why);
    s_event (self, "cluster.peer.lost", p);
}

/*  ---------------------------------------------------------------------
    Owner: frames from peers */

/*  LINK_HB from peer rid: registers, refreshes or revives it, answers. */
static void
s_peer_beat (self_t *self, const char *rid, const char *key,
             const shoal_hdr_t *hdr, const uint8_t *body, size_t len)
{
    if (streq (rid, self->name)) {
        /* "node.0@alpha" would be ours: such a peer could never work. */
        self->refused++;
        if (!self->warned_self) {
            self->warned_self = true;
            shoal_warn ("registry: refused a peer named '%s', this host's "
                        "own name: give it another (--name / --host-name)",
                        rid);
        }
        return;
    }
    s_peer_t *p = s_peer (self, rid);
    if (p && p->key[0] && !streq (p->key, key)) {
        self->refused++;
        shoal_warn ("registry: refused '%s': it joined with another key", rid);
        return;
    }
    bool bye = false;
    shoal_map_bool (body, len, "bye", &bye);
    uint64_t now = s_now (self);
    bool rejoin = false;
    if (!p) {
        if (bye) {
            return;
        }
        if (self->npeers == S_PEERS_MAX || !(p = calloc (1, sizeof *p))) {
            self->refused++;
            shoal_warn ("registry: no room for peer '%s'", rid);
            return;
        }
        snprintf (p->name, sizeof p->name, "%s", rid);
        p->joined_us = now;
        self->peers[self->npeers++] = p;
    } else if (p->dead && !bye) {
        rejoin = true;
    }
    snprintf (p->key, sizeof p->key, "%s", key);
    char kind[8] = "host";
    shoal_map_strcpy (body, len, "kind", kind, sizeof kind);
    snprintf (p->kind, sizeof p->kind, "%s",
              streq (kind, "worker") ? "worker" : "host");
    shoal_map_uint (body, len, "capacity", &p->capacity);
    shoal_map_uint (body, len, "cores", &p->cores);
    shoal_map_uint (body, len, "memory_mb", &p->memory_mb);
    shoal_map_uint (body, len, "executors", &p->executors);
    shoal_map_strcpy (body, len, "version", p->version, sizeof p->version);
    p->labels[0] = '\0';
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (body, len, "labels", &rd, &n) == SHOAL_OK) {
        size_t at = 0;
        for (uint32_t i = 0; i < n && i < 16; i++) {
            const char *s;
            uint32_t sl;
            if (shoal_rd_str (&rd, &s, &sl) || !shoal_name_valid (s, sl)) {
                break;
            }
            int w = snprintf (p->labels + at, sizeof p->labels - at, "%s%.*s",
                              at ? "," : "", (int) sl, s);
            if (w < 0 || (size_t) w >= sizeof p->labels - at) {
                break;
            }
            at += (size_t) w;
        }
    }
    if (bye) {
        if (!p->dead) {
            s_lose (self, p, "it left");
        }
        return;
    }
    bool fresh = p->beat_us == 0;
    p->beat_us = now;
    if (fresh) {
        p->dead = false;
        shoal_info ("registry: %s %s joined (capacity %llu%s%s)", p->kind,
                    p->name, (unsigned long long) p->capacity,
                    p->labels[0] ? ", labels " : "", p->labels);
        s_event (self, "cluster.peer.joined", p);
    } else if (rejoin) {
        p->dead = false;
        self->rejoined++;
        shoal_info ("registry: %s %s is back", p->kind, p->name);
        s_event (self, "cluster.peer.rejoined", p);
    }
    /* The answer proves the link to the peer (its own liveness view). */
    shoal_hdr_t h;
    memset (&h, 0, sizeof h);
    h.type = SHOAL_M_LINK_HB;
    snprintf (h.to, sizeof h.to, "%s", hdr->from);
    s_qualify (h.from, SHOAL_REGISTRY_NAME, self->name);
    shoal_port_new_id (self->port, &h.id);
    h.corr = hdr->id;
    h.has_corr = true;
    h.ts_us = now;
    shoal_wr_t *w = shoal_wr_new ();
    if (!w) {
        return;
    }
    shoal_wr_map (w, 4);
    shoal_wr_kv_str (w, "name", self->name);
    shoal_wr_kv_bool (w, "rejoin", rejoin);
    shoal_wr_kv_uint (w, "heartbeat_ms", self->hb_us / 1000);
    shoal_wr_kv_uint (w, "liveness", self->liveness);
    if (s_encode (self, &h, shoal_wr_data (w), shoal_wr_size (w))) {
        zmq_send (zsock_resolve (self->link), rid, strlen (rid),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send (zsock_resolve (self->link), shoal_wr_data (self->wr),
                  shoal_wr_size (self->wr), ZMQ_DONTWAIT);
    }
    shoal_wr_destroy (&w);
}

/*  What a link may carry to the owner: the executor side of the job
    protocol and events, nothing else (no SUBMIT, QUERY, SHUTDOWN, LEASE,
    NODE_LOST...). A member or worker is trusted to run jobs, not to
    drive the owner. */
static bool
s_peer_may (uint32_t type, const char *to)
{
    if (streq (to, SHOAL_STORE_NAME)) {
        return type == SHOAL_M_NODE_BOOT || type == SHOAL_M_RESULT ||
               type == SHOAL_M_RELEASE || type == SHOAL_M_STARTED ||
               type == SHOAL_M_EXTEND || type == SHOAL_M_PING ||
               type == SHOAL_M_OK || type == SHOAL_M_ERROR;
    }
    if (streq (to, SHOAL_SCHEDULER_NAME)) {
        return type == SHOAL_M_CREDIT || type == SHOAL_M_PING ||
               type == SHOAL_M_OK || type == SHOAL_M_ERROR;
    }
    if (streq (to, "monitor")) {
        return type == SHOAL_M_EVENT;
    }
    if (streq (to, SHOAL_REGISTRY_NAME)) {
        return type == SHOAL_M_PING;
    }
    return false;
}

/*  A frame from a peer that is not a beat: into the local bus, with
    "from" qualified by the peer's name. */
static void
s_from_peer (self_t *self, s_peer_t *p, shoal_hdr_t *hdr, const uint8_t *body,
             size_t len)
{
    char to[SHOAL_NAME_MAX + 1];
    memcpy (to, hdr->to, sizeof to);
    char *host = s_split (to);
    if (host && !streq (host, self->name)) {
        self->refused++; /* no relaying between peers */
        return;
    }
    char from[SHOAL_NAME_MAX + 1];
    memcpy (from, hdr->from, sizeof from);
    char *fhost = s_split (from);
    if (fhost && !streq (fhost, p->name)) {
        self->refused++; /* speaks for another host */
        return;
    }
    if (!from[0] || !s_qualify (hdr->from, from, p->name)) {
        self->refused++;
        return;
    }
    if (!s_peer_may (hdr->type, to)) {
        self->refused++;
        if (!p->warned) {
            shoal_warn ("registry: refused %s to '%s' from %s: a link "
                        "carries only the executor side of the job "
                        "protocol (counted in refused)",
                        shoal_mtype_name (hdr->type), to, p->name);
            p->warned = true;
        }
        return;
    }
    if (p->dead && hdr->type == SHOAL_M_CREDIT) {
        /* A lost peer's slots come back when it beats again (rejoin),
           not with credits it queued while cut off: those would make
           the scheduler lease to it only to have the RUN handed back. */
        return;
    }
    snprintf (hdr->to, sizeof hdr->to, "%s", to);
    if (s_encode (self, hdr, body, len)) {
        zmq_send (self->bus, shoal_wr_data (self->wr), shoal_wr_size (self->wr),
                  0);
        p->in++;
    }
}

/*  Receives one frame (and its envelope) from the link. false when
    nothing waits. rid: the peer's routing id on the owner. */
static bool
s_link_recv (self_t *self, zmq_msg_t *frame, char *rid, size_t rid_cap)
{
    void *h = zsock_resolve (self->link);
    zmq_msg_t env;
    zmq_msg_init (&env);
    rid[0] = '\0';
    if (self->owner) {
        if (zmq_msg_recv (&env, h, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&env);
            return false;
        }
        size_t n = zmq_msg_size (&env);
        if (n < rid_cap) {
            memcpy (rid, zmq_msg_data (&env), n);
            rid[n] = '\0';
        }
        bool more = zmq_msg_more (&env);
        zmq_msg_close (&env);
        if (!more) {
            self->malformed++;
            return true;
        }
        if (zmq_msg_recv (frame, h, 0) < 0) {
            return true;
        }
    } else if (zmq_msg_recv (frame, h, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&env);
        return false;
    }
    zmq_msg_close (&env);
    /* A Shoal message is one frame: one of more is dropped whole (the
       caller counts the empty frame left), every part read so that the
       next message starts where it should (and speaks for its sender). */
    if (zmq_msg_more (frame)) {
        while (zmq_msg_more (frame)) {
            zmq_msg_close (frame);
            zmq_msg_init (frame);
            if (zmq_msg_recv (frame, h, 0) < 0) {
                break;
            }
        }
        zmq_msg_close (frame);
        zmq_msg_init (frame);
    }
    return true;
}

static void
s_handle_link (self_t *self)
{
    for (int i = 0; i < S_BURST; i++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        char rid[SHOAL_PEER_NAME_MAX + 2];
        if (!s_link_recv (self, &frame, rid, sizeof rid)) {
            zmq_msg_close (&frame);
            return;
        }
        shoal_hdr_t hdr;
        const uint8_t *body;
        size_t len;
        if (zmq_msg_size (&frame) == 0 ||
            shoal_frame_parse (zmq_msg_data (&frame), zmq_msg_size (&frame),
                               &self->lim, &hdr, &body, &len) != SHOAL_OK) {
            self->malformed++;
            zmq_msg_close (&frame);
            continue;
        }
        if (self->fault) {
            zmq_msg_close (&frame); /* a test's partition */
            continue;
        }
        if (!self->owner) {
            if (hdr.type == SHOAL_M_LINK_HB) {
                bool rejoin = false;
                shoal_map_strcpy (body, len, "name", self->upstream,
                                  sizeof self->upstream);
                shoal_map_bool (body, len, "rejoin", &rejoin);
                if (!self->up_alive || rejoin) {
                    shoal_info ("registry: linked to %s (%s)%s", self->upstream,
                                self->join,
                                rejoin ? "; it had declared us lost" : "");
                }
                self->up_alive = true;
                self->up_beat_us = s_now (self);
            } else if (!strchr (hdr.to, '@')) {
                /* From the owner, "from" already names its host. */
                zmq_send (self->bus, zmq_msg_data (&frame),
                          zmq_msg_size (&frame), 0);
            } else {
                self->refused++;
            }
            zmq_msg_close (&frame);
            continue;
        }
        size_t rl = strlen (rid);
        if (rl == 0 || rl > SHOAL_PEER_NAME_MAX ||
            !shoal_name_valid (rid, rl)) {
            self->refused++;
            zmq_msg_close (&frame);
            continue;
        }
        const char *key = zmq_msg_gets (&frame, "User-Id");
        char keytxt[41] = "";
        if (key && strlen (key) == 40) {
            memcpy (keytxt, key, 41);
        }
        if (hdr.type == SHOAL_M_LINK_HB) {
            s_peer_beat (self, rid, keytxt, &hdr, body, len);
        } else {
            s_peer_t *p = s_peer (self, rid);
            if (!p || (p->key[0] && !streq (p->key, keytxt))) {
                self->refused++; /* say LINK_HB first */
            } else {
                s_from_peer (self, p, &hdr, body, len);
            }
        }
        zmq_msg_close (&frame);
    }
}

/*  ---------------------------------------------------------------------
    Frames from the local bus for other hosts */

/*  A RUN that cannot reach its executor goes back to its queue at once:
    RELEASE in the executor's name (it never started). The scheduler is
    told first that the executor is gone (NODE_LOST {executors}), so that
    it does not hand the job straight back to it: an executor of a peer
    declared lost comes back with its next CREDIT, which may arrive
    before the peer's next beat. */
static void
s_release_run (self_t *self, const shoal_in_t *in)
{
    const uint8_t *idp;
    uint32_t idlen;
    uint64_t epoch;
    if (shoal_map_bin (in->body, in->body_len, "id", &idp, &idlen) ||
        idlen != 16 || shoal_map_uint (in->body, in->body_len, "e", &epoch)) {
        return;
    }
    shoal_wr_t *lost = shoal_port_begin (self->port, SHOAL_M_NODE_LOST,
                                         SHOAL_SCHEDULER_NAME, NULL);
    shoal_wr_map (lost, 1);
    shoal_wr_str (lost, "executors");
    shoal_wr_array (lost, 1);
    shoal_wr_str (lost, in->hdr.to);
    shoal_port_send (self->port);
    shoal_hdr_t h;
    memset (&h, 0, sizeof h);
    h.type = SHOAL_M_RELEASE;
    snprintf (h.to, sizeof h.to, "%s", in->hdr.from);
    snprintf (h.from, sizeof h.from, "%s", in->hdr.to);
    shoal_wr_t *w = shoal_port_begin_hdr (self->port, &h);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "items");
    shoal_wr_array (w, 1);
    shoal_wr_map (w, 2);
    shoal_wr_kv_bin (w, "id", idp, 16);
    shoal_wr_kv_uint (w, "e", epoch);
    shoal_port_send (self->port);
    self->released++;
}

static void
s_unreachable (self_t *self, const shoal_in_t *in, const char *host)
{
    if (in->hdr.type == SHOAL_M_RUN) {
        s_release_run (self, in);
    } else if (in->hdr.type != SHOAL_M_ERROR && in->hdr.type != SHOAL_M_OK &&
               in->hdr.type != SHOAL_M_EVENT) {
        shoal_port_error (self->port, &in->hdr, SHOAL_ERR_UNREACHABLE,
                          "host '%s' is not linked", host ? host : "?");
    }
}

static void
s_to_link (self_t *self, shoal_in_t *in)
{
    char to[SHOAL_NAME_MAX + 1];
    memcpy (to, in->hdr.to, sizeof to);
    char *host = s_split (to);
    if (host && streq (host, self->name)) {
        /* Ours after all: deliver locally. */
        shoal_hdr_t h = in->hdr;
        snprintf (h.to, sizeof h.to, "%s", to);
        if (s_encode (self, &h, in->body, in->body_len)) {
            zmq_send (self->bus, shoal_wr_data (self->wr),
                      shoal_wr_size (self->wr), 0);
        }
        return;
    }
    shoal_hdr_t h = in->hdr;
    snprintf (h.to, sizeof h.to, "%s", to);
    if (!strchr (in->hdr.from, '@') &&
        !s_qualify (h.from, in->hdr.from, self->name)) {
        return;
    }
    if (self->owner) {
        s_peer_t *p = host ? s_peer (self, host) : NULL;
        if (!p || p->dead || self->fault) {
            s_unreachable (self, in, host);
            return;
        }
        if (!s_encode (self, &h, in->body, in->body_len)) {
            return;
        }
        void *lh = zsock_resolve (self->link);
        if (zmq_send (lh, p->name, strlen (p->name),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send (lh, shoal_wr_data (self->wr), shoal_wr_size (self->wr),
                      ZMQ_DONTWAIT) < 0) {
            /* Not connected right now (ROUTER_MANDATORY) or full. */
            s_unreachable (self, in, host);
            return;
        }
        p->out++;
        return;
    }
    if (!self->link) {
        s_unreachable (self, in, host);
        return;
    }
    if (self->fault) {
        return; /* a test's partition: lost like on a cut cable */
    }
    if (s_encode (self, &h, in->body, in->body_len)) {
        /* Queued by the DEALER while the owner is away, sent on
           reconnection (a late result is then refused as stale). */
        zmq_send (zsock_resolve (self->link), shoal_wr_data (self->wr),
                  shoal_wr_size (self->wr), ZMQ_DONTWAIT);
    }
}

/*  ---------------------------------------------------------------------
    Queries */

/*  cores, memory_mb, version: three pairs describing this machine. */
static void
s_write_machine (shoal_wr_t *w)
{
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    long pages = sysconf (_SC_PHYS_PAGES), psize = sysconf (_SC_PAGESIZE);
    shoal_wr_kv_uint (w, "cores", cores > 0 ? (uint64_t) cores : 0);
    shoal_wr_kv_uint (
        w, "memory_mb",
        pages > 0 && psize > 0 ? (uint64_t) pages * (uint64_t) psize >> 20 : 0);
    shoal_wr_kv_str (w, "version", SHOAL_VERSION_STRING);
}

/*  Executors of peer p (this host's own when p is NULL) in the
    scheduler's last table: how many, and their leases in flight. */
static void
s_peer_load (self_t *self, const s_peer_t *p, uint64_t *inflight,
             uint64_t *count)
{
    *inflight = *count = 0;
    shoal_rd_t rd;
    uint32_t n;
    if (!self->execs ||
        shoal_map_array (self->execs, self->execs_len, "executors", &rd, &n)) {
        return;
    }
    size_t pl = p ? strlen (p->name) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *item = rd.p;
        if (shoal_rd_skip (&rd, self->lim.depth_max)) {
            return;
        }
        size_t ilen = (size_t) (rd.p - item);
        const char *name;
        uint32_t nl;
        uint64_t inf = 0;
        bool lost = false;
        if (shoal_map_str (item, ilen, "name", &name, &nl)) {
            continue;
        }
        bool ours = p ? nl > pl + 1 && name[nl - pl - 1] == '@' &&
                            memcmp (name + nl - pl, p->name, pl) == 0
                      : !memchr (name, '@', nl);
        if (!ours) {
            continue;
        }
        shoal_map_uint (item, ilen, "inflight", &inf);
        shoal_map_bool (item, ilen, "lost", &lost);
        if (!lost) {
            *inflight += inf;
            (*count)++;
        }
    }
}

static void
s_query (self_t *self, shoal_in_t *in)
{
    uint64_t now = s_now (self);
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 11);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_kv_str (w, "name", self->name);
    uint64_t inflight, count;
    s_peer_load (self, NULL, &inflight, &count);
    shoal_wr_str (w, "local");
    shoal_wr_map (w, 6);
    shoal_wr_kv_uint (w, "executors", count);
    shoal_wr_kv_uint (w, "capacity", self->capacity);
    shoal_wr_kv_uint (w, "inflight", inflight);
    s_write_machine (w);
    shoal_wr_kv_str (w, "role",
                     self->owner  ? "owner"
                     : self->link ? "member"
                                  : "alone");
    shoal_wr_kv_str (w, "bind", self->bind);
    shoal_wr_kv_str (w, "join", self->join);
    shoal_wr_kv_str (w, "upstream", self->upstream);
    shoal_wr_kv_bool (w, "upstream_alive", self->up_alive);
    shoal_wr_kv_uint (w, "heartbeat_ms", self->hb_us / 1000);
    shoal_wr_str (w, "counters");
    shoal_wr_map (w, 5);
    shoal_wr_kv_uint (w, "lost", self->lost);
    shoal_wr_kv_uint (w, "rejoined", self->rejoined);
    shoal_wr_kv_uint (w, "refused", self->refused);
    shoal_wr_kv_uint (w, "malformed", self->malformed);
    shoal_wr_kv_uint (w, "released", self->released);
    shoal_wr_str (w, "peers");
    shoal_wr_array (w, (uint32_t) self->npeers);
    for (size_t i = 0; i < self->npeers; i++) {
        const s_peer_t *p = self->peers[i];
        s_peer_load (self, p, &inflight, &count);
        shoal_wr_map (w, 14);
        shoal_wr_kv_str (w, "name", p->name);
        shoal_wr_kv_str (w, "kind", p->kind);
        shoal_wr_kv_str (w, "state", p->dead ? "lost" : "alive");
        shoal_wr_kv_str (w, "labels", p->labels);
        shoal_wr_kv_uint (w, "capacity", p->capacity);
        shoal_wr_kv_uint (w, "cores", p->cores);
        shoal_wr_kv_uint (w, "memory_mb", p->memory_mb);
        shoal_wr_kv_str (w, "version", p->version);
        shoal_wr_kv_uint (w, "beat_age_ms",
                          now > p->beat_us ? (now - p->beat_us) / 1000 : 0);
        shoal_wr_kv_uint (w, "executors", count);
        shoal_wr_kv_uint (w, "inflight", inflight);
        shoal_wr_kv_uint (w, "lost", p->lost);
        shoal_wr_kv_str (w, "key", p->key);
        shoal_wr_kv_uint (w, "frames", p->in + p->out);
    }
    shoal_port_send (self->port);
}

static void
s_handle_port (self_t *self)
{
    shoal_in_t in;
    for (int i = 0; i < S_BURST && shoal_port_next (self->port, &in); i++) {
        if (strchr (in.hdr.to, '@') ||
            !streq (in.hdr.to, SHOAL_REGISTRY_NAME)) {
            s_to_link (self, &in); /* for another host */
        } else if (in.hdr.type == SHOAL_M_QUERY) {
            s_query (self, &in);
        } else if (in.hdr.type == SHOAL_M_QUERY_REPLY) {
            /* The scheduler's executor table: kept for the listings. */
            uint8_t *copy = malloc (in.body_len ? in.body_len : 1);
            if (copy) {
                memcpy (copy, in.body, in.body_len);
                free (self->execs);
                self->execs = copy;
                self->execs_len = in.body_len;
            }
        } else if (in.hdr.type == SHOAL_M_PING) {
            shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_OK,
                                              in.hdr.from, &in.hdr.id);
            shoal_wr_map (w, 0);
            shoal_port_send (self->port);
        } else if (in.hdr.type != SHOAL_M_ERROR && in.hdr.type != SHOAL_M_OK) {
            shoal_port_error (self->port, &in.hdr, SHOAL_ERR_UNKNOWN_TYPE,
                              "registry does not handle %s",
                              shoal_mtype_name (in.hdr.type));
        }
        shoal_in_close (&in);
    }
}

/*  ---------------------------------------------------------------------
    The link */

/*  Member: watches the link's CURVE handshakes. An owner that refuses
    our key (ZAP) makes libzmq give the connection up for good, silently:
    that is said, and the link is made again later (s_tick), so a key
    allowed again gets in without a restart. */
static void
s_monitor_link (self_t *self)
{
    char ep[96];
    snprintf (ep, sizeof ep, "inproc://shoal-registry-link-%p-%u",
              (void *) self, self->link_gen);
    if (zmq_socket_monitor (zsock_resolve (self->link), ep,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) == 0 &&
        (self->mon = zsock_new (ZMQ_PAIR)) != NULL) {
        zsock_set_linger (self->mon, 0);
        if (zsock_connect (self->mon, "%s", ep) == 0) {
            return;
        }
        zsock_destroy (&self->mon);
    }
    shoal_warn ("registry: cannot watch the link's handshakes: a refusal "
                "by %s will not be reported",
                self->join);
}

/*  Makes the link socket from the settings in self: binds (owner) or
    connects (member). */
static shoal_err_t
s_link_open (self_t *self)
{
    bool curve = self->cert[0] != '\0';
    self->link = zsock_new (self->owner ? ZMQ_ROUTER : ZMQ_DEALER);
    if (!self->link) {
        return SHOAL_ERR_NOMEM;
    }
    self->link_gen++;
    zsock_t *s = self->link;
    int ivl = (int) (self->hb_us / 1000);
    int dead = ivl * (int) self->liveness;
    zsock_set_heartbeat_ivl (s, ivl);
    zsock_set_heartbeat_ttl (s, dead);
    zsock_set_heartbeat_timeout (s, dead);
    zsock_set_maxmsgsize (s, (int64_t) self->lim.frame_max * 2);
    zsock_set_sndhwm (s, 100000);
    zsock_set_rcvhwm (s, 100000);
    zsock_set_linger (s, self->owner ? 0 : 2000);
    zsock_set_reconnect_ivl (s, 100);
    zsock_set_reconnect_ivl_max (s, 1000);
    if (self->owner) {
        zsock_set_router_mandatory (s, 1);
        /* No ROUTER_HANDOVER: with heartbeats on, libzmq 4.3.4 aborts
           (stream_engine_base.cpp:331) when a second connection takes
           a name over. Without it a second peer of that name is turned
           away, and a reconnecting peer gets in once its old connection
           is closed (at once on a reset, after the ZMTP timeout on a
           partition). */
        if (curve && shoal_curve_server (s, self->cert, "registry")) {
            return SHOAL_ERR_CONFIG;
        }
        if (zsock_bind (s, "%s", self->bind) < 0) {
            shoal_error ("registry: cannot bind %s: %s", self->bind,
                         zmq_strerror (zmq_errno ()));
            return SHOAL_ERR_CONFIG;
        }
        /* A port given as '*' was chosen by the system: keep the real
           one, for the log and the cluster table (shoal hosts). */
        char *ep = zsock_last_endpoint (s);
        if (ep && ep[0]) {
            snprintf (self->bind, sizeof self->bind, "%s", ep);
        }
        zstr_free (&ep);
        shoal_info ("registry: host %s accepts links on %s%s", self->name,
                    self->bind, curve ? " (CURVE)" : "");
        return SHOAL_OK;
    }
    zsock_set_identity (s, self->name);
    if (curve) {
        if (shoal_curve_client (s, self->cert, self->server_key, "registry")) {
            return SHOAL_ERR_CONFIG;
        }
        s_monitor_link (self);
    }
    if (zsock_connect (s, "%s", self->join) < 0) {
        shoal_error ("registry: cannot connect to %s: %s", self->join,
                     zmq_strerror (zmq_errno ()));
        return SHOAL_ERR_CONFIG;
    }
    return SHOAL_OK;
}

static shoal_err_t
s_link_new (self_t *self, const shoal_config_t *cfg)
{
    const char *cert = shoal_config_get (cfg, "shoald/curve_cert");
    const char *key = shoal_config_get (cfg, "cluster/server_key");
    if (snprintf (self->cert, sizeof self->cert, "%s", cert ? cert : "") >=
            (int) sizeof self->cert ||
        snprintf (self->server_key, sizeof self->server_key, "%s",
                  key ? key : "") >= (int) sizeof self->server_key) {
        shoal_error ("registry: shoald/curve_cert or cluster/server_key is "
                     "too long");
        return SHOAL_ERR_CONFIG;
    }
    shoal_err_t rc = s_link_open (self);
    if (rc == SHOAL_OK && !self->owner) {
        shoal_info ("registry: %s %s joins %s%s", self->kind, self->name,
                    self->join, self->cert[0] ? " (CURVE)" : "");
    }
    return rc;
}

static void
s_link_close (self_t *self)
{
    zsock_destroy (&self->link); /* stops its monitor */
    zsock_destroy (&self->mon);
}

/*  Member: a handshake event of the link (see s_monitor_link). */
static void
s_handle_monitor (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->mon);
    zframe_t *f = msg ? zmsg_first (msg) : NULL;
    if (!f || zframe_size (f) != 6) {
        zmsg_destroy (&msg);
        return;
    }
    uint16_t event;
    uint32_t value;
    memcpy (&event, zframe_data (f), 2);
    memcpy (&value, zframe_data (f) + 2, 4);
    zmsg_destroy (&msg);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        self->refused_said = false;
        return;
    }
    uint64_t again = self->hb_us * self->liveness;
    if (!self->refused_said) {
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            shoal_error ("registry: %s refused this host's key (CURVE, ZAP "
                         "status %u): is its public certificate in the "
                         "owner's shoald/curve_allow folder? Trying again "
                         "every %llu ms",
                         self->join, (unsigned) value,
                         (unsigned long long) again / 1000);
        } else {
            shoal_error ("registry: the handshake with %s failed (CURVE; "
                         "cluster/server_key is the owner's key?); trying "
                         "again every %llu ms",
                         self->join, (unsigned long long) again / 1000);
        }
        self->refused_said = true;
    }
    /* libzmq gave this connection up: make the link again later. */
    self->relink_us = s_now (self) + again;
}

/*  ---------------------------------------------------------------------
    Time: beats, liveness */

static void
s_send_beat (self_t *self, bool bye)
{
    shoal_hdr_t h;
    memset (&h, 0, sizeof h);
    h.type = SHOAL_M_LINK_HB;
    snprintf (h.to, sizeof h.to, "%s", SHOAL_REGISTRY_NAME);
    s_qualify (h.from, SHOAL_REGISTRY_NAME, self->name);
    shoal_port_new_id (self->port, &h.id);
    h.ts_us = s_now (self);
    shoal_wr_t *w = shoal_wr_new ();
    if (!w) {
        return;
    }
    shoal_wr_map (w, 9);
    shoal_wr_kv_str (w, "name", self->name);
    shoal_wr_kv_str (w, "kind", self->kind);
    shoal_wr_str (w, "labels");
    char labels[sizeof self->labels];
    memcpy (labels, self->labels, sizeof labels);
    uint32_t nl = 0;
    for (char *s = labels; *s; s++) {
        nl += *s == ',';
    }
    shoal_wr_array (w, labels[0] ? nl + 1 : 0);
    char *save = NULL;
    for (char *t = strtok_r (labels, ",", &save); t;
         t = strtok_r (NULL, ",", &save)) {
        shoal_wr_str (w, t);
    }
    shoal_wr_kv_uint (w, "capacity", self->capacity);
    shoal_wr_kv_uint (w, "executors", self->executors);
    s_write_machine (w);
    shoal_wr_kv_bool (w, "bye", bye);
    if (!self->fault &&
        s_encode (self, &h, shoal_wr_data (w), shoal_wr_size (w))) {
        zmq_send (zsock_resolve (self->link), shoal_wr_data (self->wr),
                  shoal_wr_size (self->wr), ZMQ_DONTWAIT);
    }
    shoal_wr_destroy (&w);
}

static void
s_tick (self_t *self)
{
    uint64_t now = s_now (self);
    uint64_t dead_after = self->hb_us * self->liveness;
    if (!self->owner && self->join[0]) {
        if (self->relink_us && now >= self->relink_us) {
            self->relink_us = 0;
            s_link_close (self); /* what it queued goes too: never sent */
            if (s_link_open (self) != SHOAL_OK) {
                s_link_close (self);
                self->relink_us = now + dead_after; /* and again */
            }
        }
        if (!self->link) {
            return;
        }
        if (now >= self->next_beat_us) {
            s_send_beat (self, false);
            self->next_beat_us = now + self->hb_us;
        }
        if (self->up_alive && now - self->up_beat_us > dead_after) {
            self->up_alive = false;
            shoal_warn ("registry: no answer from %s (%s) for %llu ms; "
                        "still trying",
                        self->upstream[0] ? self->upstream : "the owner",
                        self->join, (unsigned long long) dead_after / 1000);
        }
        return;
    }
    for (size_t i = 0; i < self->npeers; i++) {
        s_peer_t *p = self->peers[i];
        if (!p->dead && now > p->beat_us && now - p->beat_us > dead_after) {
            char why[64];
            snprintf (why, sizeof why, "no heartbeat for %llu ms",
                      (unsigned long long) (now - p->beat_us) / 1000);
            s_lose (self, p, why);
        }
    }
    if (now >= self->next_exec_us) {
        shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY,
                                          SHOAL_SCHEDULER_NAME, NULL);
        shoal_wr_map (w, 1);
        shoal_wr_kv_str (w, "op", "executors");
        shoal_port_send (self->port);
        self->next_exec_us = now + self->hb_us;
    }
}

/*  ---------------------------------------------------------------------
    Setup */

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->npeers; i++) {
            free (self->peers[i]);
        }
        free (self->execs);
        s_link_close (self);
        shoal_wr_destroy (&self->wr);
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
    const shoal_config_t *cfg = args->config;
    self->pipe = pipe;
    self->verbose = args->verbose;
    self->lim = shoal_limits_bus ();
    snprintf (self->kind, sizeof self->kind, "%s",
              args->extra ? (const char *) args->extra : "host");
    shoal_registry_host_name (shoal_config_get (cfg, "cluster/name"),
                              self->name);
    snprintf (self->bind, sizeof self->bind, "%s",
              shoal_config_get (cfg, "cluster/bind"));
    snprintf (self->join, sizeof self->join, "%s",
              shoal_config_get (cfg, "cluster/join"));
    snprintf (self->labels, sizeof self->labels, "%s",
              shoal_config_get (cfg, "executors/labels"));
    int64_t hb, live, count, prefetch;
    if (shoal_config_int (cfg, "cluster/heartbeat", 10, 60000, &hb) ||
        shoal_config_int (cfg, "cluster/liveness", 2, 100, &live) ||
        shoal_config_int (cfg, "executors/count", 0, 256, &count) ||
        shoal_config_int (cfg, "executors/prefetch", 1, 65536, &prefetch)) {
        return SHOAL_ERR_CONFIG;
    }
    self->hb_us = (uint64_t) hb * 1000;
    self->liveness = (uint32_t) live;
    self->executors = (uint64_t) count;
    self->capacity = (uint64_t) count * (uint64_t) prefetch;
    self->wr = shoal_wr_new ();
    self->port = shoal_port_new (args->bus, args->name, &args->clock);
    if (!self->wr || !self->port) {
        return SHOAL_ERR_IO;
    }
    self->bus = zsock_resolve (shoal_port_sock (self->port));
    if (self->bind[0] && self->join[0]) {
        shoal_error ("registry: cluster/bind and cluster/join are exclusive: "
                     "a host owns its queues or serves another's");
        return SHOAL_ERR_CONFIG;
    }
    self->owner = self->bind[0] != '\0';
    if (self->bind[0] || self->join[0]) {
        return s_link_new (self, cfg);
    }
    return SHOAL_OK;
}

static void
s_handle_pipe (self_t *self)
{
    char *cmd = zstr_recv (self->pipe);
    if (!cmd || streq (cmd, "$TERM")) {
        self->terminated = true;
    } else if (streq (cmd, "FAULT")) {
        char *mode = zstr_recv (self->pipe);
        self->fault = mode && streq (mode, "drop");
        zstr_free (&mode);
    } else if (streq (cmd, "STATS")) {
        size_t alive = 0;
        for (size_t i = 0; i < self->npeers; i++) {
            alive += !self->peers[i]->dead;
        }
        zstr_sendf (self->pipe, "peers=%zu alive=%zu lost=%llu refused=%llu",
                    self->npeers, alive, (unsigned long long) self->lost,
                    (unsigned long long) self->refused);
    } else {
        shoal_warn ("registry: unknown pipe command %s", cmd);
    }
    zstr_free (&cmd);
}

void
shoal_registry_actor (zsock_t *pipe, void *args_)
{
    zsock_signal (pipe, 0);
    self_t *self = NULL;
    shoal_err_t rc = s_self_new (pipe, args_, &self);
    shoal_actor_ready (pipe, rc);
    if (rc) {
        s_self_destroy (&self);
        return;
    }
    if (self->link && !self->owner) {
        s_send_beat (self, false);
        self->next_beat_us = s_now (self) + self->hb_us;
    }
    while (!self->terminated) {
        /* A member may make its link again (s_tick): taken afresh. */
        zmq_pollitem_t items[4] = {
            {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
            {self->bus, 0, ZMQ_POLLIN, 0},
            {self->link ? zsock_resolve (self->link) : NULL, 0, ZMQ_POLLIN, 0},
            {self->mon ? zsock_resolve (self->mon) : NULL, 0, ZMQ_POLLIN, 0},
        };
        int nitems = self->link ? (self->mon ? 4 : 3) : 2;
        long wait = (long) (self->hb_us / 1000);
        if (wait > S_TICK_MS) {
            wait = S_TICK_MS;
        }
        if (!self->link) {
            wait = (long) (self->hb_us / 1000); /* only the table to refresh */
        }
        if (zmq_poll (items, nitems, wait) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            s_handle_pipe (self);
            continue;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_handle_port (self);
        }
        if (nitems >= 3 && (items[2].revents & ZMQ_POLLIN)) {
            s_handle_link (self);
        }
        if (nitems == 4 && (items[3].revents & ZMQ_POLLIN)) {
            s_handle_monitor (self);
        }
        s_tick (self);
    }
    if (self->link && !self->owner) {
        s_send_beat (self, true); /* leaving: the owner requeues at once */
    }
    s_self_destroy (&self);
}
