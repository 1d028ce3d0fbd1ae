/*  shoal_db.c - LMDB behind a small checksummed key/value API.

    Values are stored as crc32c(le32) || bytes, written in place with
    MDB_RESERVE so a put copies the value once. MDB_WRITEMAP is never used
    (a full disk would become SIGBUS). MDB_NOTLS lets read transactions
    move between threads of one actor's lifetime without pinning slots.
*/
#include "shoal_db.h"
#include "shoal_crc32c.h"
#include "shoal_log.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAP_DEFAULT ((size_t) 256 << 20)
#define S_MAP_MAX     ((size_t) 1 << 40)

static const char *const s_dbi_names[SHOAL_DBI__COUNT] = {
    "meta",      "jobs",    "ready",      "leases",    "delayed",   "expiry",
    "idem",      "dead",    "queues",     "schedules", "sched_due", "finished",
    "waits",     "batches", "batch_jobs", "fin_queue", "wf_defs",   "runs",
    "run_nodes", "run_due", "run_gate",   "run_fin"};

struct _shoal_db_t {
    MDB_env *env;
    MDB_dbi dbi[SHOAL_DBI__COUNT];
    size_t map_size;
    size_t map_max;
};

struct _shoal_txn_t {
    shoal_db_t *db;
    MDB_txn *txn;
};

struct _shoal_cursor_t {
    shoal_txn_t *txn;
    MDB_cursor *cur;
};

/*  Translates an LMDB or errno code at the boundary; logs the original. */
static shoal_err_t
s_err (int rc, const char *what)
{
    switch (rc) {
        case MDB_SUCCESS:
            return SHOAL_OK;
        case MDB_NOTFOUND:
            return SHOAL_ERR_NOT_FOUND;
        case MDB_MAP_FULL:
            return SHOAL_ERR_MAP_FULL;
        case MDB_BAD_VALSIZE:
            return SHOAL_ERR_TOO_LARGE;
        case ENOMEM:
            return SHOAL_ERR_NOMEM;
        default:
            shoal_error ("db: %s: %s", what, mdb_strerror (rc));
            return SHOAL_ERR_STORAGE;
    }
}

shoal_err_t
shoal_sync_parse (const char *text, shoal_sync_t *out)
{
    if (text && strcmp (text, "full") == 0) {
        *out = SHOAL_SYNC_FULL;
    } else if (text && strcmp (text, "meta") == 0) {
        *out = SHOAL_SYNC_META;
    } else if (text && strcmp (text, "none") == 0) {
        *out = SHOAL_SYNC_NONE;
    } else {
        return SHOAL_ERR_CONFIG;
    }
    return SHOAL_OK;
}

const char *
shoal_sync_name (shoal_sync_t sync)
{
    return sync == SHOAL_SYNC_FULL   ? "full"
           : sync == SHOAL_SYNC_META ? "meta"
                                     : "none";
}

static shoal_err_t
s_check_schema (shoal_db_t *self)
{
    shoal_txn_t *txn;
    shoal_err_t rc = shoal_db_begin (self, true, &txn);
    if (rc) {
        return rc;
    }
    const void *val;
    size_t len;
    rc = shoal_txn_get (txn, SHOAL_DBI_META, "schema", 6, &val, &len);
    if (rc == SHOAL_ERR_NOT_FOUND) {
        uint32_t v = SHOAL_DB_SCHEMA;
        rc = shoal_txn_put (txn, SHOAL_DBI_META, "schema", 6, &v, sizeof v);
        if (rc == SHOAL_OK) {
            return shoal_txn_commit (&txn);
        }
    } else if (rc == SHOAL_OK) {
        uint32_t v = 0;
        if (len != sizeof v) {
            rc = SHOAL_ERR_CORRUPT;
        } else {
            memcpy (&v, val, sizeof v);
            if (v > SHOAL_DB_SCHEMA) {
                shoal_error ("db: schema %u is newer than this build (%u)", v,
                             SHOAL_DB_SCHEMA);
                rc = SHOAL_ERR_VERSION;
            }
        }
    }
    shoal_txn_abort (&txn);
    return rc;
}

shoal_err_t
shoal_db_open (const char *dir, shoal_sync_t sync, size_t map_size,
               shoal_db_t **out)
{
    *out = NULL;
    if (mkdir (dir, 0700) < 0 && errno != EEXIST) {
        shoal_error ("db: cannot create %s: %s", dir, strerror (errno));
        return SHOAL_ERR_CONFIG;
    }
    shoal_db_t *self = calloc (1, sizeof *self);
    if (!self) {
        return SHOAL_ERR_NOMEM;
    }
    self->map_size = map_size ? map_size : S_MAP_DEFAULT;
    self->map_max = S_MAP_MAX;
    unsigned flags = MDB_NOTLS;
    if (sync == SHOAL_SYNC_META) {
        flags |= MDB_NOMETASYNC;
    } else if (sync == SHOAL_SYNC_NONE) {
        flags |= MDB_NOSYNC;
    }
    int rc = mdb_env_create (&self->env);
    if (rc) {
        free (self);
        return s_err (rc, "env_create");
    }
    if ((rc = mdb_env_set_maxdbs (self->env, 32)) ||
        (rc = mdb_env_set_maxreaders (self->env, 126)) ||
        (rc = mdb_env_set_mapsize (self->env, self->map_size))) {
        goto fail;
    }
    if ((rc = mdb_env_open (self->env, dir, flags, 0600))) {
        goto fail;
    }
    /* An existing file may be larger than asked: keep its real size. */
    MDB_envinfo info;
    if (mdb_env_info (self->env, &info) == 0) {
        self->map_size = info.me_mapsize;
    }
    int dead = 0;
    mdb_reader_check (self->env, &dead);
    if (dead > 0) {
        shoal_info ("db: cleared %d stale reader slot(s)", dead);
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin (self->env, NULL, 0, &txn))) {
        goto fail;
    }
    for (int i = 0; i < SHOAL_DBI__COUNT; i++) {
        if ((rc = mdb_dbi_open (txn, s_dbi_names[i], MDB_CREATE,
                                &self->dbi[i]))) {
            mdb_txn_abort (txn);
            goto fail;
        }
    }
    if ((rc = mdb_txn_commit (txn))) {
        goto fail;
    }
    shoal_err_t src = s_check_schema (self);
    if (src) {
        shoal_db_destroy (&self);
        return src;
    }
    *out = self;
    return SHOAL_OK;
fail:;
    shoal_err_t err = s_err (rc, dir);
    if (err != SHOAL_ERR_STORAGE) {
        shoal_error ("db: cannot open %s: %s", dir, mdb_strerror (rc));
    }
    mdb_env_close (self->env);
    free (self);
    return err == SHOAL_ERR_NOT_FOUND ? SHOAL_ERR_STORAGE : err;
}

void
shoal_db_destroy (shoal_db_t **self_p)
{
    if (self_p && *self_p) {
        mdb_env_close ((*self_p)->env);
        free (*self_p);
        *self_p = NULL;
    }
}

shoal_err_t
shoal_db_grow (shoal_db_t *self)
{
    if (self->map_size >= self->map_max) {
        return SHOAL_ERR_MAP_FULL;
    }
    size_t next = self->map_size * 2;
    if (next > self->map_max) {
        next = self->map_max;
    }
    int rc = mdb_env_set_mapsize (self->env, next);
    if (rc) {
        shoal_error ("db: cannot grow map to %zu bytes: %s", next,
                     mdb_strerror (rc));
        return SHOAL_ERR_MAP_FULL;
    }
    shoal_info ("db: map grown from %zu to %zu bytes", self->map_size, next);
    self->map_size = next;
    return SHOAL_OK;
}

size_t
shoal_db_map_size (const shoal_db_t *self)
{
    return self->map_size;
}

void
shoal_db_set_map_max (shoal_db_t *self, size_t map_max)
{
    self->map_max = map_max;
}

shoal_err_t
shoal_db_copy (shoal_db_t *self, const char *path)
{
    return s_err (mdb_env_copy2 (self->env, path, MDB_CP_COMPACT), "copy");
}

shoal_err_t
shoal_db_begin (shoal_db_t *self, bool write, shoal_txn_t **txn)
{
    shoal_txn_t *t = malloc (sizeof *t);
    if (!t) {
        return SHOAL_ERR_NOMEM;
    }
    t->db = self;
    int rc = mdb_txn_begin (self->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry once. */
        mdb_env_set_mapsize (self->env, 0);
        rc = mdb_txn_begin (self->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    }
    if (rc) {
        free (t);
        return s_err (rc, "txn_begin");
    }
    *txn = t;
    return SHOAL_OK;
}

shoal_err_t
shoal_txn_commit (shoal_txn_t **txn_p)
{
    shoal_txn_t *t = *txn_p;
    int rc = mdb_txn_commit (t->txn);
    free (t);
    *txn_p = NULL;
    return s_err (rc, "commit");
}

void
shoal_txn_abort (shoal_txn_t **txn_p)
{
    if (txn_p && *txn_p) {
        mdb_txn_abort ((*txn_p)->txn);
        free (*txn_p);
        *txn_p = NULL;
    }
}

shoal_err_t
shoal_txn_put (shoal_txn_t *txn, shoal_dbi_t dbi, const void *key,
               size_t key_len, const void *val, size_t val_len)
{
    MDB_val k = {key_len, (void *) key};
    MDB_val v = {val_len + 4, NULL};
    int rc = mdb_put (txn->txn, txn->db->dbi[dbi], &k, &v, MDB_RESERVE);
    if (rc) {
        return s_err (rc, "put");
    }
    uint32_t crc = shoal_crc32c (0, val, val_len);
    uint8_t *p = v.mv_data;
    p[0] = (uint8_t) crc;
    p[1] = (uint8_t) (crc >> 8);
    p[2] = (uint8_t) (crc >> 16);
    p[3] = (uint8_t) (crc >> 24);
    if (val_len) {
        memcpy (p + 4, val, val_len);
    }
    return SHOAL_OK;
}

/*  Checks a stored value's checksum and strips it. */
static shoal_err_t
s_unwrap (const MDB_val *v, const void **val, size_t *val_len)
{
    if (v->mv_size < 4) {
        return SHOAL_ERR_CORRUPT;
    }
    const uint8_t *p = v->mv_data;
    uint32_t want = (uint32_t) p[0] | (uint32_t) p[1] << 8 |
                    (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
    if (shoal_crc32c (0, p + 4, v->mv_size - 4) != want) {
        return SHOAL_ERR_CORRUPT;
    }
    *val = p + 4;
    *val_len = v->mv_size - 4;
    return SHOAL_OK;
}

shoal_err_t
shoal_txn_get (shoal_txn_t *txn, shoal_dbi_t dbi, const void *key,
               size_t key_len, const void **val, size_t *val_len)
{
    MDB_val k = {key_len, (void *) key}, v;
    int rc = mdb_get (txn->txn, txn->db->dbi[dbi], &k, &v);
    if (rc) {
        return s_err (rc, "get");
    }
    shoal_err_t err = s_unwrap (&v, val, val_len);
    if (err) {
        shoal_error ("db: checksum mismatch in %s", s_dbi_names[dbi]);
    }
    return err;
}

shoal_err_t
shoal_txn_del (shoal_txn_t *txn, shoal_dbi_t dbi, const void *key,
               size_t key_len)
{
    MDB_val k = {key_len, (void *) key};
    return s_err (mdb_del (txn->txn, txn->db->dbi[dbi], &k, NULL), "del");
}

void
shoal_time_key (uint64_t time_us, const void *id16, uint8_t buf[SHOAL_TIME_KEY])
{
    for (int i = 0; i < 8; i++) {
        buf[i] = (uint8_t) (time_us >> (56 - 8 * i));
    }
    memcpy (buf + 8, id16, 16);
}

uint64_t
shoal_time_key_time (const void *key)
{
    const uint8_t *p = key;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) {
        t = (t << 8) | p[i];
    }
    return t;
}

shoal_err_t
shoal_txn_count (shoal_txn_t *txn, shoal_dbi_t dbi, uint64_t *count)
{
    MDB_stat st;
    int rc = mdb_stat (txn->txn, txn->db->dbi[dbi], &st);
    if (rc == 0) {
        *count = st.ms_entries;
    }
    return s_err (rc, "stat");
}

shoal_err_t
shoal_cursor_open (shoal_txn_t *txn, shoal_dbi_t dbi, shoal_cursor_t **out)
{
    shoal_cursor_t *c = malloc (sizeof *c);
    if (!c) {
        return SHOAL_ERR_NOMEM;
    }
    c->txn = txn;
    int rc = mdb_cursor_open (txn->txn, txn->db->dbi[dbi], &c->cur);
    if (rc) {
        free (c);
        return s_err (rc, "cursor_open");
    }
    *out = c;
    return SHOAL_OK;
}

static shoal_err_t
s_cursor_get (shoal_cursor_t *cur, MDB_val *k, MDB_cursor_op op, shoal_kv_t *kv)
{
    MDB_val v;
    int rc = mdb_cursor_get (cur->cur, k, &v, op);
    if (rc) {
        return s_err (rc, "cursor_get");
    }
    kv->key = k->mv_data;
    kv->key_len = k->mv_size;
    shoal_err_t err = s_unwrap (&v, &kv->val, &kv->val_len);
    if (err) {
        shoal_error ("db: checksum mismatch under cursor");
    }
    return err;
}

shoal_err_t
shoal_cursor_seek (shoal_cursor_t *cur, const void *key, size_t key_len,
                   shoal_kv_t *kv)
{
    MDB_val k = {key_len, (void *) key};
    return s_cursor_get (cur, &k, key ? MDB_SET_RANGE : MDB_FIRST, kv);
}

shoal_err_t
shoal_cursor_next (shoal_cursor_t *cur, shoal_kv_t *kv)
{
    MDB_val k;
    return s_cursor_get (cur, &k, MDB_NEXT, kv);
}

shoal_err_t
shoal_cursor_del (shoal_cursor_t *cur)
{
    return s_err (mdb_cursor_del (cur->cur, 0), "cursor_del");
}

void
shoal_cursor_close (shoal_cursor_t **cur_p)
{
    if (cur_p && *cur_p) {
        mdb_cursor_close ((*cur_p)->cur);
        free (*cur_p);
        *cur_p = NULL;
    }
}
