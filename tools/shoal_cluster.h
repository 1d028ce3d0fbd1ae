/*  shoal_cluster.h - `shoal hosts` and `shoal workers`: the registry's
    cluster table, as a table for people or JSON for programs. */
#ifndef SHOAL_CLUSTER_H_INCLUDED
#define SHOAL_CLUSTER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Prints the table in body (a registry QUERY_REPLY: {name, role, local,
    peers, ...}) to stdout: the hosts (this one first, then the joined
    ones) or the workers. as_json: a JSON array of objects. Returns 0, or
    1 (with a message on stderr) if body cannot be read. */
int shoal_cluster_print (const uint8_t *body, size_t len, bool workers,
                         bool as_json);

#endif
