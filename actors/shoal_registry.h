/*  shoal_registry.h - the registry: hosts, workers and the links to them.

    Every shoald runs one (bus name "registry"). It owns the links that
    carry the bus across hosts, and the table of who is in the cluster.

    Owner (cluster/bind = tcp://ADDR:PORT): a ROUTER that joined hosts
    and workers connect to. A peer speaks first with LINK_HB {name, kind,
    labels, capacity, cores, memory_mb, version, executors} and then
    every cluster/heartbeat ms; a peer silent for cluster/liveness beats
    is declared dead: NODE_LOST {host} to the store (its leases go back
    to their queues at once; the next lease has a new epoch, so a late
    result is refused and counted as stale) and to the scheduler (its
    executors' slots are gone). A dead peer that beats again rejoins.
    Frames from a peer enter the local bus with "from" qualified by the
    peer's name ("node.0@beta"); frames for "name@peer" leave over its
    link with "to" unqualified and "from" qualified by this host's name.
    A RUN that cannot reach its peer is handed back (RELEASE in the
    executor's name), so it is requeued without counting an attempt.

    Member (cluster/join = tcp://HOST:PORT): a DEALER to the owner with
    routing id = cluster/name, so a reconnection after a partition keeps
    its name. The local bus sends everything it cannot deliver here
    ("store", "scheduler", "monitor") to the registry, which carries it
    upstream.

    Both links run ZMTP heartbeats (ZMQ_HEARTBEAT_IVL/TTL/TIMEOUT from the
    same settings) and CURVE when shoald/curve_cert is set: the owner
    accepts only keys in shoald/curve_allow (zauth, ZAP enforced); a
    member needs cluster/server_key, the owner's public key. A member
    whose key the owner refuses says so (once) and makes its link again
    every liveness period (libzmq gives a refused connection up for
    good), so a key allowed later gets in without a restart.

    Clock: liveness and beats read the actor's clock (injectable), so a
    test can declare a peer dead by moving a fake clock.

    QUERY {op: "cluster"} answers the cluster table (shoal hosts,
    shoal workers). args->extra: the kind this host announces to its
    owner, "host" (shoald, the default when NULL) or "worker".
    Pipe commands:
        $TERM
        FAULT drop|pass   drop every frame on the links (a test's
                          partition) or carry them again
        STATS -> "peers=N alive=N lost=N refused=N"
*/
#ifndef SHOAL_REGISTRY_H_INCLUDED
#define SHOAL_REGISTRY_H_INCLUDED

#include <czmq.h>

#define SHOAL_REGISTRY_NAME "registry"
#define SHOAL_PEER_NAME_MAX 32 /* so "executor@peer" fits a name */

void shoal_registry_actor (zsock_t *pipe, void *args);

/*  This host's cluster name: cluster/name, else the system host name
    when it is a valid name, else "host". out has SHOAL_PEER_NAME_MAX+1
    bytes. */
void shoal_registry_host_name (const char *configured, char *out);

#endif
