/*  shoal_store_depth.c - per-queue counters: ready jobs per priority,
    finished jobs kept, and the queue's retention count.

    The scheduler holds only a window of each ready index, so it cannot
    say how deep a queue is; the store can, without scanning: it counts
    every entry it adds to or removes from the ready index, per queue and
    priority, and the entries of the per-queue retention index, and
    commits the touched counters with the batch (meta keys
    "depth:<queue>": five u64, ready per priority then finished). A data
    folder written before the counters existed (no "depthv" key) has its
    ready index counted at open; one from before the per-queue retention
    index (depthv 1) gets that index built by the recovery pass.

    The counters follow the batch pipeline: changes go to the pass values
    (p), which become the committed values (n) only after the commit.
*/
#include "shoal_store_int.h"

#define S_KEY_PREFIX "depth:"
#define S_KEY_MAX    (sizeof S_KEY_PREFIX + SHOAL_NAME_MAX)

#define S_VERSION 2 /* depthv: 1 ready counts, 2 + finished per queue */

/*  Slots of the counter arrays: ready per priority, then finished. */
#define S_FIN   SHOAL_PRIO__COUNT
#define S_SLOTS (SHOAL_PRIO__COUNT + 1)

struct _store_depth_t {
    char name[SHOAL_NAME_MAX + 1];
    uint64_t n[S_SLOTS]; /* committed */
    uint64_t p[S_SLOTS]; /* during the pass */
    uint64_t keep_n;     /* retention count (0 = none), committed */
    uint64_t keep_p;
    bool touched;
};

static void
s_depth_free (void **item)
{
    free (*item);
    *item = NULL;
}

static store_depth_t *
s_entry (self_t *self, const char *queue)
{
    store_depth_t *d = zhashx_lookup (self->depth, queue);
    if (d) {
        return d;
    }
    d = calloc (1, sizeof *d);
    if (!d) {
        return NULL;
    }
    snprintf (d->name, sizeof d->name, "%s", queue);
    if (zhashx_insert (self->depth, d->name, d) != 0) {
        free (d);
        return NULL;
    }
    return d;
}

/*  The queue's counters, marked as changed in this pass. */
static store_depth_t *
s_touch (self_t *self, const char *queue)
{
    store_depth_t *d = s_entry (self, queue);
    if (!d) {
        return NULL;
    }
    if (!d->touched) {
        if (self->ntouched == self->touched_cap) {
            size_t cap = self->touched_cap ? self->touched_cap * 2 : 16;
            store_depth_t **grown =
                realloc (self->touched, cap * sizeof *grown);
            if (!grown) {
                return NULL;
            }
            self->touched = grown;
            self->touched_cap = cap;
        }
        self->touched[self->ntouched++] = d;
        d->touched = true;
    }
    return d;
}

static shoal_err_t
s_add (self_t *self, const char *queue, int slot, int delta)
{
    store_depth_t *d = s_touch (self, queue);
    if (!d) {
        return SHOAL_ERR_NOMEM;
    }
    if (delta < 0 && d->p[slot] == 0) {
        return SHOAL_OK; /* never below zero, whatever the index says */
    }
    d->p[slot] = delta < 0 ? d->p[slot] - 1 : d->p[slot] + 1;
    return SHOAL_OK;
}

shoal_err_t
store_depth_add (self_t *self, const char *queue, uint8_t prio, int delta)
{
    return s_add (self, queue, prio, delta);
}

shoal_err_t
store_fin_add (self_t *self, const char *queue, int delta)
{
    return s_add (self, queue, S_FIN, delta);
}

uint64_t
store_fin_excess (self_t *self, const char *queue)
{
    store_depth_t *d = zhashx_lookup (self->depth, queue);
    return d && d->keep_p && d->p[S_FIN] > d->keep_p ? d->p[S_FIN] - d->keep_p
                                                     : 0;
}

shoal_err_t
store_keep_set (self_t *self, const char *queue, uint64_t keep, bool pass)
{
    store_depth_t *d = pass ? s_touch (self, queue) : s_entry (self, queue);
    if (!d) {
        return SHOAL_ERR_NOMEM;
    }
    d->keep_p = keep;
    if (!pass) {
        d->keep_n = keep;
    }
    return SHOAL_OK;
}

/*  Counts the ready index (a data folder from before the counters). */
static shoal_err_t
s_rebuild (self_t *self, shoal_txn_t *txn)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (txn, SHOAL_DBI_READY, &cur);
    if (rc) {
        return rc;
    }
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, NULL, 0, &kv); rc == SHOAL_OK;
         rc = shoal_cursor_next (cur, &kv)) {
        char queue[SHOAL_NAME_MAX + 1];
        uint8_t prio;
        uint64_t seq;
        if (shoal_ready_key_parse (kv.key, kv.key_len, queue, &prio, &seq)) {
            continue;
        }
        store_depth_t *d = s_entry (self, queue);
        if (!d) {
            rc = SHOAL_ERR_NOMEM;
            break;
        }
        d->n[prio]++;
        d->p[prio]++;
    }
    shoal_cursor_close (&cur);
    if (rc != SHOAL_ERR_NOT_FOUND) {
        return rc;
    }
    /* Have the next pass write them all, with the version key. */
    self->depth_save_all = true;
    return SHOAL_OK;
}

shoal_err_t
store_depth_load (self_t *self, shoal_txn_t *txn)
{
    self->depth = zhashx_new ();
    if (!self->depth) {
        return SHOAL_ERR_NOMEM;
    }
    zhashx_set_destructor (self->depth, s_depth_free);
    const void *v;
    size_t len;
    uint64_t version = 0;
    shoal_err_t rc = shoal_txn_get (txn, SHOAL_DBI_META, "depthv", 6, &v, &len);
    if (rc == SHOAL_OK && len == sizeof version) {
        memcpy (&version, v, len);
    } else if (rc != SHOAL_ERR_NOT_FOUND && rc != SHOAL_OK) {
        return rc;
    }
    /* The per-queue retention index is built by the recovery pass. */
    self->fin_migrate = version < 2;
    self->depth_save_all = version < S_VERSION; /* with the new version */
    if (version == 0) {
        return s_rebuild (self, txn);
    }
    shoal_cursor_t *cur;
    if ((rc = shoal_cursor_open (txn, SHOAL_DBI_META, &cur))) {
        return rc;
    }
    size_t plen = strlen (S_KEY_PREFIX);
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, S_KEY_PREFIX, plen, &kv);
         rc == SHOAL_OK && kv.key_len > plen &&
         memcmp (kv.key, S_KEY_PREFIX, plen) == 0;
         rc = shoal_cursor_next (cur, &kv)) {
        size_t qlen = kv.key_len - plen;
        if (qlen > SHOAL_NAME_MAX || (kv.val_len != sizeof (uint64_t[4]) &&
                                      kv.val_len != sizeof (uint64_t[5]))) {
            continue;
        }
        char queue[SHOAL_NAME_MAX + 1];
        memcpy (queue, (const char *) kv.key + plen, qlen);
        queue[qlen] = '\0';
        store_depth_t *d = s_entry (self, queue);
        if (!d) {
            rc = SHOAL_ERR_NOMEM;
            break;
        }
        memcpy (d->n, kv.val, kv.val_len);
        memcpy (d->p, d->n, sizeof d->p);
    }
    shoal_cursor_close (&cur);
    return rc == SHOAL_ERR_NOMEM ? rc : SHOAL_OK;
}

static shoal_err_t
s_save_one (self_t *self, store_depth_t *d)
{
    char key[S_KEY_MAX];
    int klen = snprintf (key, sizeof key, S_KEY_PREFIX "%s", d->name);
    return shoal_txn_put (self->txn, SHOAL_DBI_META, key, (size_t) klen, d->p,
                          sizeof d->p);
}

shoal_err_t
store_depth_save (self_t *self)
{
    shoal_err_t rc = SHOAL_OK;
    if (self->depth_save_all) {
        for (store_depth_t *d = zhashx_first (self->depth); d && !rc;
             d = zhashx_next (self->depth)) {
            rc = s_save_one (self, d);
        }
        uint64_t version = S_VERSION;
        if (!rc) {
            rc = shoal_txn_put (self->txn, SHOAL_DBI_META, "depthv", 6,
                                &version, sizeof version);
        }
        return rc;
    }
    for (size_t i = 0; i < self->ntouched && !rc; i++) {
        rc = s_save_one (self, self->touched[i]);
    }
    return rc;
}

void
store_depth_end_pass (self_t *self, bool committed)
{
    for (size_t i = 0; i < self->ntouched; i++) {
        store_depth_t *d = self->touched[i];
        if (committed) {
            memcpy (d->n, d->p, sizeof d->n);
            d->keep_n = d->keep_p;
        } else {
            memcpy (d->p, d->n, sizeof d->p);
            d->keep_p = d->keep_n;
        }
        d->touched = false;
    }
    self->ntouched = 0;
    if (committed) {
        self->depth_save_all = false;
        self->fin_migrate = false;
    }
}

void
store_depth_write (self_t *self, shoal_wr_t *w)
{
    shoal_wr_map (w, (uint32_t) zhashx_size (self->depth));
    for (store_depth_t *d = zhashx_first (self->depth); d;
         d = zhashx_next (self->depth)) {
        shoal_wr_str (w, d->name);
        shoal_wr_map (w, SHOAL_PRIO__COUNT);
        for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
            shoal_wr_kv_uint (w, shoal_prio_name (p), d->p[p]);
        }
    }
}

void
store_fin_write (self_t *self, shoal_wr_t *w)
{
    shoal_wr_map (w, (uint32_t) zhashx_size (self->depth));
    for (store_depth_t *d = zhashx_first (self->depth); d;
         d = zhashx_next (self->depth)) {
        shoal_wr_kv_uint (w, d->name, d->p[S_FIN]);
    }
}

void
store_depth_destroy (self_t *self)
{
    zhashx_destroy (&self->depth);
    free (self->touched);
    self->touched = NULL;
    self->ntouched = self->touched_cap = 0;
}
