/*  test_endpoint.c - which endpoints are reachable from this host only,
    and the ipc listener probe. */
#include "shoal_test.h"
#include "shoal_endpoint.h"

#include <czmq.h>

SHOAL_TEST (local_endpoints_are_ipc_inproc_and_loopback)
{
    const char *local[] = {"ipc:///tmp/x.sock",    "inproc://bus",
                           "tcp://127.0.0.1:5570", "tcp://127.1.2.3:1",
                           "tcp://[::1]:5570",     "tcp://localhost:5570",
                           "ipc://@abstract"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        CHECK (shoal_endpoint_local (local[i]));
    }
    const char *remote[] = {"tcp://0.0.0.0:5570",
                            "tcp://*:5570",
                            "tcp://[::]:5570",
                            "tcp://192.0.2.1:5570",
                            "tcp://eth0:5570",
                            "tcp://example.com:5570",
                            "tcp://128.0.0.1:5570",
                            "tcp://[::2]:5570",
                            "tcp://127.0.0.1",
                            "tcp://[::1]",
                            "tcp://10.0.0.1;127.0.0.1:5570",
                            "tcp://:5570",
                            "pgm://eth0;239.192.1.1:5555",
                            "ws://127.0.0.1:80",
                            "",
                            "tcp://localhost.evil:5570"};
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
        CHECK (!shoal_endpoint_local (remote[i]));
    }
}

SHOAL_TEST (ipc_in_use_sees_a_live_listener_only)
{
    char path[64], ep[80];
    snprintf (path, sizeof path, "/tmp/shoal-ep-test-%d.sock", (int) getpid ());
    snprintf (ep, sizeof ep, "ipc://%s", path);
    CHECK (!shoal_endpoint_in_use (ep));
    zsock_t *s = zsock_new_rep (ep);
    CHECK (s);
    CHECK (shoal_endpoint_in_use (ep));
    zsock_destroy (&s); /* closed in the background: not asserted */
    unlink (path);
    CHECK (!shoal_endpoint_in_use ("tcp://127.0.0.1:1"));
}

SHOAL_TEST_MAIN (local_endpoints_are_ipc_inproc_and_loopback,
                 ipc_in_use_sees_a_live_listener_only)
