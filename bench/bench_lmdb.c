/*  bench_lmdb.c - the raw LMDB baseline for durable submits; the only
    bench file that includes <lmdb.h>.

    Writes what the store writes for a submit, minus Shoal: per record a
    16-byte time-ordered id -> value of the store's record size in a
    "jobs" database and a 17-byte ready key (queue NUL priority seq) ->
    id in a "ready" database; per transaction two small counter puts in
    "meta". Same environment flags as shoal_db (MDB_NOTLS plus the sync
    mode's flag), same batch size as the store achieved. Ids and values
    are prepared before the clock starts.
*/
#include "bench_util.h"

#include "shoal_id.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *
bench_lmdb_version (void)
{
    return mdb_version (NULL, NULL, NULL);
}

double
bench_lmdb_commit (const char *dir, bench_sync_t sync, uint64_t records,
                   uint32_t batch, uint32_t value_len, double *secs)
{
    MDB_env *env = NULL;
    MDB_dbi jobs, ready, meta;
    uint8_t *ids = malloc (records * 16 + 1);
    uint8_t *value = calloc (1, value_len + 1);
    double rate = -1;
    int rc;
    if (!ids || !value) {
        goto done;
    }
    shoal_idgen_t gen;
    shoal_idgen_init (&gen);
    uint64_t now_ms = (uint64_t) time (NULL) * 1000;
    for (uint64_t i = 0; i < records; i++) {
        shoal_idgen_next (&gen, now_ms, (shoal_id_t *) (ids + i * 16));
    }
    for (uint32_t i = 0; i < value_len; i++) {
        value[i] = (uint8_t) (i * 31 + 7);
    }
    unsigned flags = MDB_NOTLS;
    if (sync == BENCH_SYNC_META) {
        flags |= MDB_NOMETASYNC;
    } else if (sync == BENCH_SYNC_NONE) {
        flags |= MDB_NOSYNC;
    }
    if ((rc = mdb_env_create (&env)) || (rc = mdb_env_set_maxdbs (env, 16)) ||
        (rc = mdb_env_set_mapsize (env, (size_t) 1 << 30)) ||
        (rc = mdb_env_open (env, dir, flags, 0600))) {
        goto fail;
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin (env, NULL, 0, &txn))) {
        goto fail;
    }
    if ((rc = mdb_dbi_open (txn, "jobs", MDB_CREATE, &jobs)) ||
        (rc = mdb_dbi_open (txn, "ready", MDB_CREATE, &ready)) ||
        (rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &meta)) ||
        (rc = mdb_txn_commit (txn))) {
        goto fail;
    }
    uint64_t counts[7] = {0};
    uint64_t t0 = bench_now_ns ();
    for (uint64_t i = 0; i < records;) {
        if ((rc = mdb_txn_begin (env, NULL, 0, &txn))) {
            goto fail;
        }
        uint64_t end = i + batch < records ? i + batch : records;
        for (; i < end; i++) {
            uint8_t *id = ids + i * 16;
            if (value_len >= 4 + sizeof i) {
                memcpy (value + 4, &i, sizeof i); /* records differ */
            }
            MDB_val k = {16, id}, v = {value_len, value};
            if ((rc = mdb_put (txn, jobs, &k, &v, 0))) {
                break;
            }
            uint8_t rkey[17];
            memcpy (rkey, "default", 8);
            rkey[8] = 2;
            for (int b = 0; b < 8; b++) {
                rkey[9 + b] = (uint8_t) (i >> (56 - 8 * b));
            }
            MDB_val rk = {sizeof rkey, rkey}, rv = {16, id};
            if ((rc = mdb_put (txn, ready, &rk, &rv, 0))) {
                break;
            }
        }
        counts[1] = i;
        MDB_val sk = {3, "seq"}, sv = {sizeof i, &i};
        MDB_val ck = {6, "counts"}, cv = {sizeof counts, counts};
        if (rc || (rc = mdb_put (txn, meta, &sk, &sv, 0)) ||
            (rc = mdb_put (txn, meta, &ck, &cv, 0))) {
            mdb_txn_abort (txn);
            goto fail;
        }
        if ((rc = mdb_txn_commit (txn))) {
            goto fail;
        }
    }
    *secs = (double) (bench_now_ns () - t0) / 1e9;
    rate = (double) records / *secs;
    goto done;
fail:
    fprintf (stderr, "shoal_bench: LMDB baseline: %s\n", mdb_strerror (rc));
done:
    if (env) {
        mdb_env_close (env);
    }
    free (ids);
    free (value);
    return rate;
}
