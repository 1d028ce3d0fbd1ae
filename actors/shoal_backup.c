/*  shoal_backup.c - one hot backup, off the store's thread. */
#include "shoal_backup.h"
#include "shoal_log.h"
#include "shoal_port.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

void
shoal_backup_actor (zsock_t *pipe, void *args_)
{
    const shoal_backup_args_t *a = args_;
    zsock_signal (pipe, 0);
    /* Copy what is needed before reporting ready: args die with it. */
    char path[1024], to[SHOAL_NAME_MAX + 1];
    snprintf (path, sizeof path, "%s", a->path);
    snprintf (to, sizeof to, "%s", a->to);
    shoal_id_t corr = a->corr;
    shoal_db_t *db = a->db;
    shoal_port_t *port = shoal_port_new (a->bus, "store.backup", &a->clock);
    shoal_actor_ready (pipe, port ? SHOAL_OK : SHOAL_ERR_IO);
    if (!port) {
        return;
    }
    char text[1200];
    uint64_t t0 = shoal_mono_us ();
    shoal_err_t rc = SHOAL_OK;
    if (mkdir (path, 0700) < 0 && errno != EEXIST) {
        snprintf (text, sizeof text, "cannot create %s: %s", path,
                  strerror (errno));
        rc = SHOAL_ERR_IO;
    } else if ((rc = shoal_db_copy (db, path))) {
        snprintf (text, sizeof text,
                  "backup to %s failed (is the folder empty and writable?)",
                  path);
    } else {
        snprintf (text, sizeof text, "backup written to %s in %llu ms", path,
                  (unsigned long long) ((shoal_mono_us () - t0) / 1000));
        shoal_info ("store: %s", text);
    }
    shoal_wr_t *w = shoal_port_begin (port, SHOAL_M_QUERY_REPLY, to, &corr);
    shoal_wr_map (w, 3);
    shoal_wr_kv_uint (w, "code", (uint64_t) rc);
    shoal_wr_kv_str (w, "text", text);
    shoal_wr_kv_str (w, "path", path);
    shoal_port_send (port);
    zstr_send (pipe, "DONE");
    /* Wait for the store to collect us. */
    while (!shoal_actor_pipe_term (pipe, "backup")) {
    }
    shoal_port_destroy (&port);
}
