/*  test_db.c - the checksummed LMDB layer: basic operations, cursor order
    of ready keys, persistence, sync modes, corruption detection, map-full
    handling, copies and the schema version. Each case works in its own
    mkdtemp folder. */
#include "shoal_test.h"
#include "shoal_db.h"
#include "shoal_job.h"
#include "rt_helpers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/*  Puts one record in its own transaction. */
static shoal_err_t
s_put (shoal_db_t *db, shoal_dbi_t dbi, const char *key, const void *val,
       size_t len)
{
    shoal_txn_t *txn;
    shoal_err_t rc = shoal_db_begin (db, true, &txn);
    if (rc) {
        return rc;
    }
    rc = shoal_txn_put (txn, dbi, key, strlen (key), val, len);
    if (rc) {
        shoal_txn_abort (&txn);
        return rc;
    }
    return shoal_txn_commit (&txn);
}

/*  Gets one record into buf (cap bytes) in a read transaction. */
static shoal_err_t
s_get (shoal_db_t *db, shoal_dbi_t dbi, const char *key, void *buf, size_t cap,
       size_t *len)
{
    shoal_txn_t *txn;
    shoal_err_t rc = shoal_db_begin (db, false, &txn);
    if (rc) {
        return rc;
    }
    const void *val;
    rc = shoal_txn_get (txn, dbi, key, strlen (key), &val, len);
    if (rc == SHOAL_OK) {
        if (*len > cap) {
            rc = SHOAL_ERR_TOO_LARGE;
        } else if (*len) {
            memcpy (buf, val, *len);
        }
    }
    shoal_txn_abort (&txn);
    return rc;
}

static uint64_t
s_count (shoal_db_t *db, shoal_dbi_t dbi)
{
    shoal_txn_t *txn;
    uint64_t n = UINT64_MAX;
    if (shoal_db_begin (db, false, &txn) == SHOAL_OK) {
        if (shoal_txn_count (txn, dbi, &n) != SHOAL_OK) {
            n = UINT64_MAX;
        }
        shoal_txn_abort (&txn);
    }
    return n;
}

/*  Checks that key holds exactly the string want. */
#define CHECK_VAL(db, dbi, key, want)                                          \
    do {                                                                       \
        char got_[256];                                                        \
        size_t len_ = 0;                                                       \
        CHECK_OK (s_get (db, dbi, key, got_, sizeof got_, &len_));             \
        CHECK_EQ (len_, strlen (want));                                        \
        CHECK (memcmp (got_, want, len_) == 0);                                \
    } while (0)

/*  Runs body(flag, dir) with a fresh folder that is removed afterwards,
    also when the body fails. */
#define DB_TEST(name)                                                          \
    static void name##_body (bool *shoal_test_failed_, const char *dir);       \
    SHOAL_TEST (name)                                                          \
    {                                                                          \
        char dir_[RT_PATH_MAX];                                                \
        CHECK (rt_tmpdir (dir_) == 0);                                         \
        name##_body (shoal_test_failed_, dir_);                                \
        rt_rmtree (dir_);                                                      \
    }                                                                          \
    static void name##_body (bool *shoal_test_failed_, const char *dir)

DB_TEST (db_put_get_del_count)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db = NULL;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 0, &db));
    CHECK (db);
    CHECK_EQ (shoal_db_map_size (db), 256 << 20); /* the default */
    /* A fresh environment holds only its schema version. */
    CHECK_EQ (s_count (db, SHOAL_DBI_META), 1);
    CHECK_EQ (s_count (db, SHOAL_DBI_JOBS), 0);

    shoal_txn_t *txn;
    CHECK_OK (shoal_db_begin (db, true, &txn));
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "k1", 2, "one", 3));
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "k2", 2, "two", 3));
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "k3", 2, "three", 5));
    /* The same key in another database is another record. */
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_LEASES, "k1", 2, "lease", 5));
    uint64_t n = 0;
    CHECK_OK (shoal_txn_count (txn, SHOAL_DBI_JOBS, &n));
    CHECK_EQ (n, 3);
    /* Reads inside the write transaction see its writes. */
    const void *val;
    size_t len;
    CHECK_OK (shoal_txn_get (txn, SHOAL_DBI_JOBS, "k3", 2, &val, &len));
    CHECK_EQ (len, 5);
    CHECK (memcmp (val, "three", 5) == 0);
    /* Overwrite, then delete. */
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "k2", 2, "TWO!", 4));
    CHECK_OK (shoal_txn_del (txn, SHOAL_DBI_JOBS, "k3", 2));
    CHECK_RC (shoal_txn_get (txn, SHOAL_DBI_JOBS, "k3", 2, &val, &len),
              SHOAL_ERR_NOT_FOUND);
    CHECK_RC (shoal_txn_del (txn, SHOAL_DBI_JOBS, "k3", 2),
              SHOAL_ERR_NOT_FOUND);
    CHECK_OK (shoal_txn_count (txn, SHOAL_DBI_JOBS, &n));
    CHECK_EQ (n, 2);
    CHECK_OK (shoal_txn_commit (&txn));
    CHECK (txn == NULL);

    CHECK_VAL (db, SHOAL_DBI_JOBS, "k1", "one");
    CHECK_VAL (db, SHOAL_DBI_JOBS, "k2", "TWO!");
    CHECK_VAL (db, SHOAL_DBI_LEASES, "k1", "lease");
    CHECK_EQ (s_count (db, SHOAL_DBI_JOBS), 2);
    CHECK_EQ (s_count (db, SHOAL_DBI_LEASES), 1);
    CHECK_EQ (s_count (db, SHOAL_DBI_READY), 0);

    /* Empty and binary values come back exactly. */
    static const uint8_t bin[] = {0, 1, 0, 0xff, 0, 0x80};
    CHECK_OK (s_put (db, SHOAL_DBI_META, "empty", "", 0));
    CHECK_OK (s_put (db, SHOAL_DBI_META, "bin", bin, sizeof bin));
    uint8_t buf[16];
    CHECK_OK (s_get (db, SHOAL_DBI_META, "empty", buf, sizeof buf, &len));
    CHECK_EQ (len, 0);
    CHECK_OK (s_get (db, SHOAL_DBI_META, "bin", buf, sizeof buf, &len));
    CHECK_EQ (len, sizeof bin);
    CHECK (memcmp (buf, bin, sizeof bin) == 0);

    /* Keys: 511 bytes is LMDB's limit, 512 is TOO_LARGE. */
    char key[512];
    memset (key, 'k', sizeof key);
    CHECK_OK (shoal_db_begin (db, true, &txn));
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, key, 511, "v", 1));
    CHECK_RC (shoal_txn_put (txn, SHOAL_DBI_JOBS, key, 512, "v", 1),
              SHOAL_ERR_TOO_LARGE);
    shoal_txn_abort (&txn);
    CHECK (txn == NULL);
    shoal_txn_abort (&txn); /* accepts NULL */
    shoal_txn_abort (NULL);

    shoal_db_destroy (&db);
    CHECK (db == NULL);
    shoal_db_destroy (&db); /* safe twice */
    shoal_db_destroy (NULL);
}

DB_TEST (db_not_found_and_abort)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    char buf[16];
    size_t len;
    CHECK_RC (s_get (db, SHOAL_DBI_JOBS, "absent", buf, sizeof buf, &len),
              SHOAL_ERR_NOT_FOUND);
    shoal_txn_t *txn;
    CHECK_OK (shoal_db_begin (db, true, &txn));
    CHECK_RC (shoal_txn_del (txn, SHOAL_DBI_JOBS, "absent", 6),
              SHOAL_ERR_NOT_FOUND);
    /* Cursors over an empty database find nothing. */
    shoal_cursor_t *cur;
    shoal_kv_t kv;
    CHECK_OK (shoal_cursor_open (txn, SHOAL_DBI_READY, &cur));
    CHECK_RC (shoal_cursor_seek (cur, NULL, 0, &kv), SHOAL_ERR_NOT_FOUND);
    CHECK_RC (shoal_cursor_seek (cur, "a", 1, &kv), SHOAL_ERR_NOT_FOUND);
    shoal_cursor_close (&cur);
    CHECK (cur == NULL);
    shoal_cursor_close (&cur);
    /* Aborted writes leave no trace. */
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "gone", 4, "x", 1));
    shoal_txn_abort (&txn);
    CHECK_RC (s_get (db, SHOAL_DBI_JOBS, "gone", buf, sizeof buf, &len),
              SHOAL_ERR_NOT_FOUND);
    CHECK_EQ (s_count (db, SHOAL_DBI_JOBS), 0);
    shoal_db_destroy (&db);
}

DB_TEST (db_read_txn_is_a_snapshot)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "a", "old", 3));
    shoal_txn_t *r1;
    CHECK_OK (shoal_db_begin (db, false, &r1));
    CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "a", "new", 3));
    CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "b", "b", 1));
    const void *val;
    size_t len;
    CHECK_OK (shoal_txn_get (r1, SHOAL_DBI_JOBS, "a", 1, &val, &len));
    CHECK (len == 3 && memcmp (val, "old", 3) == 0);
    CHECK_RC (shoal_txn_get (r1, SHOAL_DBI_JOBS, "b", 1, &val, &len),
              SHOAL_ERR_NOT_FOUND);
    /* A second reader in the same thread (MDB_NOTLS) sees the new data. */
    shoal_txn_t *r2;
    CHECK_OK (shoal_db_begin (db, false, &r2));
    CHECK_OK (shoal_txn_get (r2, SHOAL_DBI_JOBS, "a", 1, &val, &len));
    CHECK (len == 3 && memcmp (val, "new", 3) == 0);
    shoal_txn_abort (&r2);
    shoal_txn_abort (&r1);
    shoal_db_destroy (&db);
}

/*  A ready-index entry for the order tests. */
typedef struct {
    const char *queue;
    uint8_t prio;
    uint64_t seq;
} s_ready_t;

static int
s_ready_cmp (const void *a_, const void *b_)
{
    const s_ready_t *a = a_, *b = b_;
    int c = strcmp (a->queue, b->queue);
    if (c) {
        return c;
    }
    if (a->prio != b->prio) {
        return a->prio < b->prio ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static const char *const s_queues[] = {"b", "a", "ab", "a.b", "B"};
static const uint8_t s_prios[] = {3, 0, 2, 1};
static const uint64_t s_seqs[] = {
    1, 255, 256, 65536, (uint64_t) 1 << 40, UINT64_MAX - 1, 0};
#define S_NQ     (sizeof s_queues / sizeof s_queues[0])
#define S_NP     (sizeof s_prios / sizeof s_prios[0])
#define S_NS     (sizeof s_seqs / sizeof s_seqs[0])
#define S_NREADY (S_NQ * S_NP * S_NS)

static void
s_ready_all (s_ready_t *out)
{
    size_t n = 0;
    for (size_t q = 0; q < S_NQ; q++) {
        for (size_t p = 0; p < S_NP; p++) {
            for (size_t s = 0; s < S_NS; s++) {
                out[n].queue = s_queues[q];
                out[n].prio = s_prios[p];
                out[n].seq = s_seqs[s];
                n++;
            }
        }
    }
}

/*  The value stored under an entry: its seq and prio, as a fake job id. */
static void
s_ready_val (const s_ready_t *e, uint8_t val[16])
{
    memset (val, 0, 16);
    memcpy (val, &e->seq, 8);
    val[8] = e->prio;
    memcpy (val + 9, e->queue, strlen (e->queue) < 7 ? strlen (e->queue) : 7);
}

/*  Fills the ready index in a scrambled order. */
static shoal_err_t
s_ready_fill (shoal_db_t *db)
{
    s_ready_t all[S_NREADY];
    s_ready_all (all);
    shoal_txn_t *txn;
    shoal_err_t rc = shoal_db_begin (db, true, &txn);
    if (rc) {
        return rc;
    }
    /* 53 is prime to 140: a stride that visits every entry once. */
    for (size_t i = 0, j = 0; i < S_NREADY && rc == SHOAL_OK; i++) {
        j = (j + 53) % S_NREADY;
        uint8_t key[SHOAL_READY_KEY_MAX], val[16];
        size_t klen =
            shoal_ready_key (all[j].queue, all[j].prio, all[j].seq, key);
        s_ready_val (&all[j], val);
        rc = shoal_txn_put (txn, SHOAL_DBI_READY, key, klen, val, 16);
    }
    if (rc) {
        shoal_txn_abort (&txn);
        return rc;
    }
    return shoal_txn_commit (&txn);
}

DB_TEST (db_cursor_walks_ready_keys_in_dispatch_order)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_NONE, 1 << 20, &db));
    CHECK_OK (s_ready_fill (db));
    CHECK_EQ (s_count (db, SHOAL_DBI_READY), S_NREADY);

    s_ready_t want[S_NREADY];
    s_ready_all (want);
    qsort (want, S_NREADY, sizeof want[0], s_ready_cmp);

    shoal_txn_t *txn;
    shoal_cursor_t *cur;
    shoal_kv_t kv;
    CHECK_OK (shoal_db_begin (db, false, &txn));
    CHECK_OK (shoal_cursor_open (txn, SHOAL_DBI_READY, &cur));
    shoal_err_t rc = shoal_cursor_seek (cur, NULL, 0, &kv);
    size_t i = 0;
    bool order_ok = true;
    for (; rc == SHOAL_OK; rc = shoal_cursor_next (cur, &kv), i++) {
        char queue[SHOAL_NAME_MAX + 1];
        uint8_t prio, val[16];
        uint64_t seq;
        if (i >= S_NREADY ||
            shoal_ready_key_parse (kv.key, kv.key_len, queue, &prio, &seq) ||
            strcmp (queue, want[i].queue) != 0 || prio != want[i].prio ||
            seq != want[i].seq || kv.val_len != 16) {
            order_ok = false;
            break;
        }
        s_ready_val (&want[i], val);
        if (memcmp (kv.val, val, 16) != 0) {
            order_ok = false;
            break;
        }
    }
    shoal_cursor_close (&cur);
    shoal_txn_abort (&txn);
    CHECK (order_ok);
    CHECK_RC (rc, SHOAL_ERR_NOT_FOUND); /* ran off the end */
    CHECK_EQ (i, S_NREADY);
    /* Queue "B" sorts before "a" (byte order), "a" before "a.b". */
    CHECK_STR (want[0].queue, "B");
    CHECK_STR (want[S_NP * S_NS].queue, "a");
    CHECK_STR (want[2 * S_NP * S_NS].queue, "a.b");
    shoal_db_destroy (&db);
}

/*  Seeks key and checks that the entry found is (queue, prio, seq). */
static shoal_err_t
s_seek_expect (shoal_cursor_t *cur, const void *key, size_t key_len,
               const char *queue, uint8_t prio, uint64_t seq)
{
    shoal_kv_t kv;
    shoal_err_t rc = shoal_cursor_seek (cur, key, key_len, &kv);
    if (rc) {
        return rc;
    }
    char q[SHOAL_NAME_MAX + 1];
    uint8_t p;
    uint64_t s;
    if (shoal_ready_key_parse (kv.key, kv.key_len, q, &p, &s)) {
        return SHOAL_ERR_INVALID;
    }
    return strcmp (q, queue) == 0 && p == prio && s == seq ? SHOAL_OK
                                                           : SHOAL_ERR_STATE;
}

DB_TEST (db_cursor_seek_next_del)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_NONE, 1 << 20, &db));
    CHECK_OK (s_ready_fill (db));

    shoal_txn_t *txn;
    shoal_cursor_t *cur;
    shoal_kv_t kv;
    uint8_t key[SHOAL_READY_KEY_MAX];
    CHECK_OK (shoal_db_begin (db, true, &txn));
    CHECK_OK (shoal_cursor_open (txn, SHOAL_DBI_READY, &cur));
    /* Exact key. */
    size_t klen = shoal_ready_key ("ab", 0, 0, key);
    CHECK_OK (s_seek_expect (cur, key, klen, "ab", 0, 0));
    /* Between keys: the next one up, across a byte boundary of seq. */
    klen = shoal_ready_key ("ab", 1, 257, key);
    CHECK_OK (s_seek_expect (cur, key, klen, "ab", 1, 65536));
    /* Past the last seq of a priority: the next priority. */
    klen = shoal_ready_key ("ab", 1, UINT64_MAX, key);
    CHECK_OK (s_seek_expect (cur, key, klen, "ab", 2, 0));
    /* A queue prefix "a\0" finds the head of queue "a". */
    CHECK_OK (s_seek_expect (cur, "a", 2, "a", 0, 0));
    /* Beyond the last key. */
    klen = shoal_ready_key ("b", 3, UINT64_MAX, key);
    CHECK_RC (shoal_cursor_seek (cur, key, klen, &kv), SHOAL_ERR_NOT_FOUND);
    CHECK_RC (shoal_cursor_seek (cur, "c", 1, &kv), SHOAL_ERR_NOT_FOUND);
    /* The last entry, then nothing. */
    klen = shoal_ready_key ("b", 3, UINT64_MAX - 1, key);
    CHECK_OK (s_seek_expect (cur, key, klen, "b", 3, UINT64_MAX - 1));
    CHECK_RC (shoal_cursor_next (cur, &kv), SHOAL_ERR_NOT_FOUND);

    /* Drain queue "a" through the cursor, as a dispatcher would. */
    size_t deleted = 0;
    shoal_err_t rc = shoal_cursor_seek (cur, "a", 2, &kv);
    while (rc == SHOAL_OK) {
        char q[SHOAL_NAME_MAX + 1];
        uint8_t p;
        uint64_t s;
        CHECK_OK (shoal_ready_key_parse (kv.key, kv.key_len, q, &p, &s));
        if (strcmp (q, "a") != 0) {
            break;
        }
        CHECK_OK (shoal_cursor_del (cur));
        deleted++;
        rc = shoal_cursor_next (cur, &kv);
    }
    CHECK_EQ (deleted, S_NP * S_NS);
    uint64_t n = 0;
    CHECK_OK (shoal_txn_count (txn, SHOAL_DBI_READY, &n));
    CHECK_EQ (n, S_NREADY - S_NP * S_NS);
    shoal_cursor_close (&cur);
    CHECK_OK (shoal_txn_commit (&txn));

    /* Committed: queue "a" is gone, "a.b" follows "B". */
    CHECK_OK (shoal_db_begin (db, false, &txn));
    CHECK_OK (shoal_cursor_open (txn, SHOAL_DBI_READY, &cur));
    rc = s_seek_expect (cur, "a", 2, "a.b", 0, 0);
    shoal_cursor_close (&cur);
    shoal_txn_abort (&txn);
    CHECK_OK (rc);
    CHECK_EQ (s_count (db, SHOAL_DBI_READY), S_NREADY - S_NP * S_NS);
    shoal_db_destroy (&db);
}

DB_TEST (db_persists_across_reopen)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "job-1", "payload one", 11));
    CHECK_OK (s_put (db, SHOAL_DBI_LEASES, "job-1", "lease", 5));
    shoal_txn_t *txn;
    CHECK_OK (shoal_db_begin (db, true, &txn));
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "uncommitted", 11, "x", 1));
    shoal_txn_abort (&txn);
    shoal_db_destroy (&db);

    for (int round = 0; round < 2; round++) {
        CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
        CHECK_VAL (db, SHOAL_DBI_JOBS, "job-1", "payload one");
        CHECK_VAL (db, SHOAL_DBI_LEASES, "job-1", "lease");
        char buf[8];
        size_t len;
        CHECK_RC (
            s_get (db, SHOAL_DBI_JOBS, "uncommitted", buf, sizeof buf, &len),
            SHOAL_ERR_NOT_FOUND);
        CHECK_EQ (s_count (db, SHOAL_DBI_JOBS), 1);
        CHECK_EQ (s_count (db, SHOAL_DBI_META), 1); /* schema written once */
        shoal_db_destroy (&db);
    }
}

DB_TEST (db_each_sync_mode)
{
    static const char *names[] = {"full", "meta", "none"};
    for (int i = 0; i < 3; i++) {
        shoal_sync_t sync = SHOAL_SYNC_FULL;
        CHECK_OK (shoal_sync_parse (names[i], &sync));
        CHECK_EQ (sync, i);
        CHECK_STR (shoal_sync_name (sync), names[i]);
        char path[RT_PATH_MAX];
        rt_path (path, dir, names[i]);
        shoal_db_t *db;
        CHECK_OK (shoal_db_open (path, sync, 1 << 20, &db));
        CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "k", names[i], strlen (names[i])));
        shoal_db_destroy (&db);
        /* Reopened in another mode: the data does not depend on it. */
        CHECK_OK (
            shoal_db_open (path, (shoal_sync_t) ((i + 1) % 3), 1 << 20, &db));
        CHECK_VAL (db, SHOAL_DBI_JOBS, "k", names[i]);
        shoal_db_destroy (&db);
    }
    shoal_sync_t sync = SHOAL_SYNC_META;
    CHECK_RC (shoal_sync_parse ("FULL", &sync), SHOAL_ERR_CONFIG);
    CHECK_RC (shoal_sync_parse ("", &sync), SHOAL_ERR_CONFIG);
    CHECK_RC (shoal_sync_parse ("fsync", &sync), SHOAL_ERR_CONFIG);
    CHECK_RC (shoal_sync_parse (NULL, &sync), SHOAL_ERR_CONFIG);
    CHECK_EQ (sync, SHOAL_SYNC_META);
}

/*  Flips one bit in the middle of every occurrence of marker in file.
    Returns how many were found, or -1 on an I/O error. */
static int
s_flip_marker (const char *file, const char *marker)
{
    int fd = open (file, O_RDWR);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    uint8_t *data = NULL;
    int found = -1;
    if (fstat (fd, &st) == 0 && (data = malloc ((size_t) st.st_size)) &&
        pread (fd, data, (size_t) st.st_size, 0) == st.st_size) {
        found = 0;
        size_t mlen = strlen (marker);
        uint8_t *p = data, *end = data + st.st_size;
        while ((p = memmem (p, (size_t) (end - p), marker, mlen))) {
            off_t at = (off_t) (p - data) + (off_t) mlen / 2;
            uint8_t b = p[mlen / 2] ^ 0x04;
            if (pwrite (fd, &b, 1, at) != 1) {
                found = -1;
                break;
            }
            found++;
            p += mlen;
        }
    }
    free (data);
    if (close (fd) != 0) {
        found = -1;
    }
    return found;
}

DB_TEST (db_corrupt_value_detected)
{
    static const char marker[] = "SHOAL-TEST-MARKER-5f1c0e77";
    char path[RT_PATH_MAX], file[RT_PATH_MAX];
    rt_path (path, dir, "db");
    CHECK (rt_path (file, path, "data.mdb") == 0);
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    char val[128];
    snprintf (val, sizeof val, "before|%s|after", marker);
    shoal_txn_t *txn;
    CHECK_OK (shoal_db_begin (db, true, &txn));
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "a-good", 6, "intact", 6));
    CHECK_OK (
        shoal_txn_put (txn, SHOAL_DBI_JOBS, "b-bad", 5, val, strlen (val)));
    CHECK_OK (shoal_txn_put (txn, SHOAL_DBI_JOBS, "c-good", 6, "intact", 6));
    CHECK_OK (shoal_txn_commit (&txn));
    CHECK_VAL (db, SHOAL_DBI_JOBS, "b-bad", val);
    shoal_db_destroy (&db);

    CHECK (s_flip_marker (file, marker) >= 1);

    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    char buf[128];
    size_t len;
    CHECK_RC (s_get (db, SHOAL_DBI_JOBS, "b-bad", buf, sizeof buf, &len),
              SHOAL_ERR_CORRUPT);
    /* Its neighbours on the same page are fine. */
    CHECK_VAL (db, SHOAL_DBI_JOBS, "a-good", "intact");
    CHECK_VAL (db, SHOAL_DBI_JOBS, "c-good", "intact");
    /* A cursor reports the bad entry too, and can step past it. */
    shoal_cursor_t *cur;
    shoal_kv_t kv;
    CHECK_OK (shoal_db_begin (db, false, &txn));
    CHECK_OK (shoal_cursor_open (txn, SHOAL_DBI_JOBS, &cur));
    shoal_err_t r1 = shoal_cursor_seek (cur, NULL, 0, &kv);
    shoal_err_t r2 = shoal_cursor_next (cur, &kv);
    shoal_err_t r3 = shoal_cursor_next (cur, &kv);
    bool last_ok =
        r3 == SHOAL_OK && kv.key_len == 6 && memcmp (kv.key, "c-good", 6) == 0;
    shoal_cursor_close (&cur);
    shoal_txn_abort (&txn);
    CHECK_OK (r1);
    CHECK_RC (r2, SHOAL_ERR_CORRUPT);
    CHECK (last_ok);
    /* Rewriting the record repairs it. */
    CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "b-bad", "fresh", 5));
    CHECK_VAL (db, SHOAL_DBI_JOBS, "b-bad", "fresh");
    shoal_db_destroy (&db);
}

/*  Record i of a series: 1000 bytes that depend on prefix and i. */
#define S_BIG 1000
static void
s_big_val (uint8_t *val, int i)
{
    for (int k = 0; k < S_BIG; k++) {
        val[k] = (uint8_t) (i * 31 + k * 7);
    }
}

static void
s_big_key (char *key, size_t cap, const char *prefix, int i)
{
    snprintf (key, cap, "%s-%06d", prefix, i);
}

/*  Puts prefix-0..prefix-(n-1) in txn; returns the first error and the
    number put before it in *done. n < 0: until an error. */
static shoal_err_t
s_put_series (shoal_txn_t *txn, const char *prefix, int n, int *done)
{
    uint8_t val[S_BIG];
    char key[64];
    shoal_err_t rc = SHOAL_OK;
    int i = 0;
    for (; (n < 0 && i < 100000) || i < n; i++) {
        s_big_key (key, sizeof key, prefix, i);
        s_big_val (val, i);
        rc = shoal_txn_put (txn, SHOAL_DBI_JOBS, key, strlen (key), val, S_BIG);
        if (rc) {
            break;
        }
    }
    *done = i;
    return rc;
}

/*  Checks that prefix-0..prefix-(n-1) hold their values. */
static shoal_err_t
s_verify_series (shoal_db_t *db, const char *prefix, int n)
{
    shoal_txn_t *txn;
    shoal_err_t rc = shoal_db_begin (db, false, &txn);
    for (int i = 0; i < n && rc == SHOAL_OK; i++) {
        uint8_t want[S_BIG];
        char key[64];
        const void *val;
        size_t len;
        s_big_key (key, sizeof key, prefix, i);
        s_big_val (want, i);
        rc = shoal_txn_get (txn, SHOAL_DBI_JOBS, key, strlen (key), &val, &len);
        if (rc == SHOAL_OK && (len != S_BIG || memcmp (val, want, S_BIG))) {
            rc = SHOAL_ERR_STATE;
        }
    }
    shoal_txn_abort (&txn);
    return rc;
}

DB_TEST (db_map_full_then_grow)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    CHECK_EQ (shoal_db_map_size (db), 1 << 20);
    shoal_db_set_map_max (db, 2 << 20);

    /* Committed before the map fills: must survive everything below. */
    shoal_txn_t *txn;
    int done;
    CHECK_OK (shoal_db_begin (db, true, &txn));
    CHECK_OK (s_put_series (txn, "base", 20, &done));
    CHECK_OK (shoal_txn_commit (&txn));

    /* Fill a transaction until the 1 MiB map is full, then abort. */
    CHECK_OK (shoal_db_begin (db, true, &txn));
    int fit = 0;
    shoal_err_t rc = s_put_series (txn, "fill", -1, &fit);
    shoal_txn_abort (&txn);
    CHECK_RC (rc, SHOAL_ERR_MAP_FULL);
    CHECK (fit > 100 && fit < 1100); /* a 1 MiB map of 1 KB records */
    CHECK_OK (s_verify_series (db, "base", 20));

    /* Grow (no transaction open) and retry the whole batch. */
    CHECK_OK (shoal_db_grow (db));
    CHECK_EQ (shoal_db_map_size (db), 2 << 20);
    CHECK_OK (shoal_db_begin (db, true, &txn));
    rc = s_put_series (txn, "fill", fit + 1, &done);
    if (rc) {
        shoal_txn_abort (&txn);
    }
    CHECK_OK (rc);
    CHECK_OK (shoal_txn_commit (&txn));

    /* Fill again: at the limit, grow refuses and nothing is lost. The map
       may run out on a put or at commit. */
    CHECK_OK (shoal_db_begin (db, true, &txn));
    rc = s_put_series (txn, "more", -1, &done);
    if (rc == SHOAL_OK) {
        rc = shoal_txn_commit (&txn);
    } else {
        shoal_txn_abort (&txn);
    }
    CHECK_RC (rc, SHOAL_ERR_MAP_FULL);
    CHECK_RC (shoal_db_grow (db), SHOAL_ERR_MAP_FULL);
    CHECK_EQ (shoal_db_map_size (db), 2 << 20);

    CHECK_OK (s_verify_series (db, "base", 20));
    CHECK_OK (s_verify_series (db, "fill", fit + 1));
    CHECK_RC (s_verify_series (db, "more", 1), SHOAL_ERR_NOT_FOUND);
    CHECK_EQ (s_count (db, SHOAL_DBI_JOBS), 20 + fit + 1);
    /* The failed transaction left nothing behind: the environment at its
       limit still takes deletes and small writes. */
    CHECK_OK (shoal_db_begin (db, true, &txn));
    char key[64];
    for (int i = 0; i < 100; i++) {
        s_big_key (key, sizeof key, "fill", i);
        CHECK_OK (shoal_txn_del (txn, SHOAL_DBI_JOBS, key, strlen (key)));
    }
    CHECK_OK (shoal_txn_commit (&txn));
    CHECK_OK (shoal_db_begin (db, true, &txn));
    rc = s_put_series (txn, "after", 10, &done);
    if (rc) {
        shoal_txn_abort (&txn);
    }
    CHECK_OK (rc);
    CHECK_OK (shoal_txn_commit (&txn));
    shoal_db_destroy (&db);

    /* And on disk. */
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    CHECK (shoal_db_map_size (db) > (1 << 20));
    CHECK_OK (s_verify_series (db, "base", 20));
    CHECK_RC (s_verify_series (db, "fill", 1), SHOAL_ERR_NOT_FOUND);
    CHECK_EQ (s_count (db, SHOAL_DBI_JOBS), 20 + fit + 1 - 100 + 10);
    shoal_db_destroy (&db);
}

DB_TEST (db_copy_to_empty_folder)
{
    char path[RT_PATH_MAX], copy[RT_PATH_MAX], absent[RT_PATH_MAX];
    rt_path (path, dir, "db");
    rt_path (copy, dir, "copy");
    rt_path (absent, dir, "absent");
    CHECK (mkdir (copy, 0700) == 0);
    shoal_db_t *db, *db2;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    CHECK_OK (s_ready_fill (db));
    CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "j", "job", 3));
    /* A read transaction stays open while the copy runs. */
    shoal_txn_t *reader;
    CHECK_OK (shoal_db_begin (db, false, &reader));
    CHECK_OK (shoal_db_copy (db, copy));
    shoal_txn_abort (&reader);
    /* The folder must exist, and must not hold an environment yet. */
    CHECK_RC (shoal_db_copy (db, absent), SHOAL_ERR_STORAGE);
    CHECK_RC (shoal_db_copy (db, copy), SHOAL_ERR_STORAGE);
    /* Written after the copy: only in the original. */
    CHECK_OK (s_put (db, SHOAL_DBI_JOBS, "late", "x", 1));
    shoal_db_destroy (&db);

    CHECK_OK (shoal_db_open (copy, SHOAL_SYNC_FULL, 1 << 20, &db2));
    CHECK_VAL (db2, SHOAL_DBI_JOBS, "j", "job");
    CHECK_EQ (s_count (db2, SHOAL_DBI_JOBS), 1);
    CHECK_EQ (s_count (db2, SHOAL_DBI_READY), S_NREADY);
    CHECK_EQ (s_count (db2, SHOAL_DBI_META), 1);
    shoal_txn_t *txn;
    shoal_cursor_t *cur;
    shoal_kv_t kv;
    CHECK_OK (shoal_db_begin (db2, false, &txn));
    CHECK_OK (shoal_cursor_open (txn, SHOAL_DBI_READY, &cur));
    shoal_err_t rc = s_seek_expect (cur, NULL, 0, "B", 0, 0);
    shoal_err_t rc2 = shoal_cursor_next (cur, &kv);
    shoal_cursor_close (&cur);
    shoal_txn_abort (&txn);
    CHECK_OK (rc);
    CHECK_OK (rc2);
    shoal_db_destroy (&db2);
}

DB_TEST (db_schema_checks)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, "db");
    shoal_db_t *db;
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    uint32_t v = 0;
    size_t len = 0;
    CHECK_OK (s_get (db, SHOAL_DBI_META, "schema", &v, sizeof v, &len));
    CHECK_EQ (len, 4);
    CHECK_EQ (v, SHOAL_DB_SCHEMA);
    /* An older schema opens (migrations are the store's business). */
    v = 0;
    CHECK_OK (s_put (db, SHOAL_DBI_META, "schema", &v, sizeof v));
    shoal_db_destroy (&db);
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    /* A newer one is refused. */
    v = 99;
    CHECK_OK (s_put (db, SHOAL_DBI_META, "schema", &v, sizeof v));
    shoal_db_destroy (&db);
    db = (shoal_db_t *) &v; /* must be nulled on failure */
    CHECK_RC (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db),
              SHOAL_ERR_VERSION);
    CHECK (db == NULL);
    /* Still refused the second time: the failed open wrote nothing. */
    CHECK_RC (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db),
              SHOAL_ERR_VERSION);

    /* A schema record of the wrong size is corruption. */
    char path2[RT_PATH_MAX];
    rt_path (path2, dir, "db2");
    CHECK_OK (shoal_db_open (path2, SHOAL_SYNC_FULL, 1 << 20, &db));
    CHECK_OK (s_put (db, SHOAL_DBI_META, "schema", "\x01\x00", 2));
    shoal_db_destroy (&db);
    CHECK_RC (shoal_db_open (path2, SHOAL_SYNC_FULL, 1 << 20, &db),
              SHOAL_ERR_CORRUPT);
    CHECK (db == NULL);
}

DB_TEST (db_open_unusable_folder)
{
    char path[RT_PATH_MAX];
    CHECK (rt_path (path, dir, "no/such/parent") == 0);
    shoal_db_t *db = (shoal_db_t *) &path; /* must be nulled on failure */
    CHECK_RC (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db),
              SHOAL_ERR_CONFIG);
    CHECK (db == NULL);
    /* The folder is created when its parent exists. */
    rt_path (path, dir, "fresh");
    CHECK_OK (shoal_db_open (path, SHOAL_SYNC_FULL, 1 << 20, &db));
    struct stat st;
    char file[RT_PATH_MAX];
    CHECK (rt_path (file, path, "data.mdb") == 0);
    CHECK (stat (file, &st) == 0);
    shoal_db_destroy (&db);
}

SHOAL_TEST_MAIN (db_put_get_del_count, db_not_found_and_abort,
                 db_read_txn_is_a_snapshot,
                 db_cursor_walks_ready_keys_in_dispatch_order,
                 db_cursor_seek_next_del, db_persists_across_reopen,
                 db_each_sync_mode, db_corrupt_value_detected,
                 db_map_full_then_grow, db_copy_to_empty_folder,
                 db_schema_checks, db_open_unusable_folder)
