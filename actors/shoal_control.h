/*  shoal_control.h - the control actor: the host's front door.

    Bus name "control". Binds a ROUTER at shoald/control; clients connect
    a DEALER (or REQ: the empty delimiter is kept and echoed) and send one
    Shoal frame per request. Every request gets exactly one reply: OK
    (corr = request id) or ERROR {code, text}. Undecodable frames get
    ERROR with the decode error (MALFORMED, TOO_LARGE, VERSION) and no
    corr; the socket keeps serving. Frames over 4 x frame_max are cut by
    libzmq (ZMQ_MAXMSGSIZE), which drops that connection.

    Requests (docs/protocol.md has the bodies):
        PING      -> OK {version, uptime_ms, monitor, sync}
        SUBMIT    -> OK {id, seq} after the job is committed
        STATUS    -> OK {code:0, job:{...}}
        WAIT      -> OK {code:0, job:{...}} once the job is final, or
                     ERROR TIMEOUT at the header deadline
        STATS     -> OK {code:0, jobs:{state: count}, ...}
        SHUTDOWN  -> OK {}, then the host stops in order

    Submits are batched: all requests waiting on the socket (up to 1024)
    go to the store as one STORE_SUBMIT, so a commit covers many clients.
    A request the store does not answer within control/pending_timeout ms
    gets ERROR TIMEOUT ("outcome unknown": the job may exist; resubmit
    with an idempotency key once [jobs] lands).
*/
#ifndef SHOAL_CONTROL_H_INCLUDED
#define SHOAL_CONTROL_H_INCLUDED

#include <czmq.h>

void shoal_control_actor (zsock_t *pipe, void *args);

#endif
