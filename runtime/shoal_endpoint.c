/*  shoal_endpoint.c - a connect() probe of an ipc:// path; whether an
    endpoint is reachable from this host only. */
#include "shoal_endpoint.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool
shoal_endpoint_in_use (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) != 0) {
        return false;
    }
    const char *path = endpoint + 6;
    struct sockaddr_un addr;
    if (strlen (path) >= sizeof addr.sun_path || path[0] == '@') {
        return false; /* too long to be a path; abstract: bind will tell */
    }
    memset (&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy (addr.sun_path, path);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool live = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return live;
}

bool
shoal_endpoint_local (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 ||
        strncmp (endpoint, "inproc://", 9) == 0) {
        return true;
    }
    if (strncmp (endpoint, "tcp://", 6) != 0) {
        return false;
    }
    /* tcp://HOST:PORT or tcp://[V6]:PORT; a source part (src;dst) is
       not ours to judge */
    const char *host = endpoint + 6;
    if (strchr (host, ';')) {
        return false;
    }
    char buf[64];
    size_t len;
    if (host[0] == '[') {
        const char *end = strchr (host, ']');
        if (!end || end[1] != ':') {
            return false;
        }
        len = (size_t) (end - host - 1);
        host++;
    } else {
        const char *colon = strrchr (host, ':');
        if (!colon) {
            return false;
        }
        len = (size_t) (colon - host);
    }
    if (len == 0 || len >= sizeof buf) {
        return false;
    }
    memcpy (buf, host, len);
    buf[len] = '\0';
    if (strcmp (buf, "localhost") == 0) {
        return true;
    }
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton (AF_INET, buf, &v4) == 1) {
        return (ntohl (v4.s_addr) >> 24) == 127;
    }
    if (inet_pton (AF_INET6, buf, &v6) == 1) {
        return IN6_IS_ADDR_LOOPBACK (&v6);
    }
    return false; /* a wildcard, an interface or another host's name */
}
