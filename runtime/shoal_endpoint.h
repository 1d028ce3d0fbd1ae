/*  shoal_endpoint.h - checks on endpoints before binding them.

    Binding an ipc:// path that another process is serving silently
    replaces that process's socket file (libzmq unlinks it first), so a
    second shoald would take over the first one's clients. This check
    finds a live listener first. tcp:// endpoints fail to bind by
    themselves (EADDRINUSE) and need no check.
*/
#ifndef SHOAL_ENDPOINT_H_INCLUDED
#define SHOAL_ENDPOINT_H_INCLUDED

#include <stdbool.h>

/*  True if endpoint is ipc://PATH and something accepts connections on
    PATH right now. False for any other endpoint or a stale socket file. */
bool shoal_endpoint_in_use (const char *endpoint);

/*  True if endpoint can be reached from this host only: ipc://, inproc://,
    or tcp:// on a loopback address (127.0.0.0/8, [::1], localhost). False
    for every other tcp:// address, a wildcard (*, 0.0.0.0, [::]) or an
    interface name - which other hosts may reach - and for anything else. */
bool shoal_endpoint_local (const char *endpoint);

#endif
