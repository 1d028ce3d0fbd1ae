/*  shoal_endpoint.c - a connect() probe of an ipc:// path. */
#include "shoal_endpoint.h"

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
