/*  shoal_backup.h - hot backup of the store's LMDB environment.

    A short-lived actor the store starts for one `shoal backup PATH`: it
    writes a compacted copy of the environment (mdb_env_copy2 with
    MDB_CP_COMPACT, inside a read transaction, so the store keeps
    committing meanwhile) into PATH, then answers the client itself from
    its own bus port "store.backup" and tells the store "DONE" on its pipe.
    The store owns it and destroys it (waiting for a copy in progress)
    before closing the environment.
*/
#ifndef SHOAL_BACKUP_H_INCLUDED
#define SHOAL_BACKUP_H_INCLUDED

#include "shoal_db.h"
#include "shoal_actor.h"
#include "shoal_id.h"

typedef struct {
    shoal_db_t *db;   /* the store's environment (LMDB allows this) */
    const char *path; /* absolute path of an empty or missing folder */
    const char *to;   /* who gets the QUERY_REPLY (control) */
    shoal_id_t corr;  /* the QUERY it answers */
    const char *bus;
    shoal_clock_t clock;
} shoal_backup_args_t;

void shoal_backup_actor (zsock_t *pipe, void *args);

#endif
