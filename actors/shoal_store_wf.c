/*  shoal_store_wf.c - workflow definitions kept by the store.

    WORKFLOW {op: "define", def: bin} stores a definition (the msgpack of
    shoal_wf_encode, as `shoal workflow define` sends it) under its name
    and the next revision: key name NUL revision(be32) in wf_defs, with
    the latest revision of each name in meta ("wfrev:<name>", u32). The
    definition is decoded and checked again here: the store trusts no
    client. Defining what the latest revision already holds (the encoding
    is canonical, so same bytes) returns that revision instead of a new
    one, so scripts may define on every deploy.

    WORKFLOW {op: "defs"} lists every name with its latest revision.

    Defining a revision also sets the limits of its nodes' queues
    (store_runlim_define, shoal_store_runlimits.c).
*/
#include "shoal_store_int.h"
#include "shoal_wf.h"

#define S_REV_PREFIX "wfrev:"
#define S_KEY_MAX    (SHOAL_NAME_MAX + 1 + 4)

static size_t
s_def_key (const char *name, uint32_t rev, uint8_t *key)
{
    size_t n = strlen (name);
    memcpy (key, name, n);
    key[n] = 0;
    for (int i = 0; i < 4; i++) {
        key[n + 1 + (size_t) i] = (uint8_t) (rev >> (24 - 8 * i));
    }
    return n + 5;
}

/*  The latest revision of name (0: none). */
static shoal_err_t
s_latest (self_t *self, const char *name, uint32_t *rev)
{
    char key[sizeof S_REV_PREFIX + SHOAL_NAME_MAX];
    int klen = snprintf (key, sizeof key, S_REV_PREFIX "%s", name);
    const void *v;
    size_t len;
    *rev = 0;
    shoal_err_t rc =
        shoal_txn_get (self->txn, SHOAL_DBI_META, key, (size_t) klen, &v, &len);
    if (rc == SHOAL_OK && len == sizeof *rev) {
        memcpy (rev, v, sizeof *rev);
    }
    return rc == SHOAL_ERR_NOT_FOUND ? SHOAL_OK : rc;
}

static shoal_err_t
s_reply_def (self_t *self, shoal_in_t *in, const shoal_wf_t *wf, uint32_t rev,
             bool existing)
{
    shoal_wr_t *w = shoal_port_begin (self->port, SHOAL_M_QUERY_REPLY,
                                      in->hdr.from, &in->hdr.id);
    shoal_wr_map (w, 6);
    shoal_wr_kv_uint (w, "code", SHOAL_OK);
    shoal_wr_kv_str (w, "name", shoal_wf_name (wf));
    shoal_wr_kv_uint (w, "revision", rev);
    shoal_wr_kv_bool (w, "existing", existing);
    shoal_wr_kv_uint (w, "nodes", shoal_wf_node_count (wf));
    shoal_wr_kv_uint (w, "edges", shoal_wf_edge_count (wf));
    return shoal_port_defer (self->port);
}

static shoal_err_t
s_define (self_t *self, shoal_in_t *in, const uint8_t *args, size_t len)
{
    const uint8_t *def;
    uint32_t dlen;
    if (shoal_map_bin (args, len, "def", &def, &dlen)) {
        return store_reply_code (self, in->hdr.from, &in->hdr.id,
                                 SHOAL_ERR_INVALID,
                                 "define needs \"def\": the encoded "
                                 "definition (bin)");
    }
    char err[SHOAL_WF_ERR_MAX];
    shoal_wf_t *wf = NULL;
    shoal_err_t rc = shoal_wf_decode (def, dlen, NULL, &wf, err, sizeof err);
    if (rc) {
        shoal_wf_destroy (&wf);
        return rc == SHOAL_ERR_NOMEM
                   ? rc
                   : store_reply_code (self, in->hdr.from, &in->hdr.id,
                                       rc == SHOAL_ERR_INVALID
                                           ? SHOAL_ERR_INVALID
                                           : SHOAL_ERR_MALFORMED,
                                       err);
    }
    const char *name = shoal_wf_name (wf);
    uint32_t rev = 0;
    uint8_t key[S_KEY_MAX];
    if ((rc = s_latest (self, name, &rev))) {
        shoal_wf_destroy (&wf);
        return rc;
    }
    /* The same definition again: its revision, nothing new. */
    const void *v;
    size_t vlen;
    if (rev > 0 &&
        shoal_txn_get (self->txn, SHOAL_DBI_WF_DEFS, key,
                       s_def_key (name, rev, key), &v, &vlen) == SHOAL_OK &&
        vlen == dlen && memcmp (v, def, dlen) == 0) {
        rc = s_reply_def (self, in, wf, rev, true);
        shoal_wf_destroy (&wf);
        return rc;
    }
    /* The node queues' limits follow the latest revision. */
    shoal_wf_t *prev = NULL;
    if (rev > 0 &&
        shoal_txn_get (self->txn, SHOAL_DBI_WF_DEFS, key,
                       s_def_key (name, rev, key), &v, &vlen) == SHOAL_OK &&
        shoal_wf_decode (v, vlen, NULL, &prev, err, sizeof err) != SHOAL_OK) {
        shoal_wf_destroy (&prev); /* unreadable: nothing to clear */
    }
    rc = store_runlim_define (self, wf, prev);
    shoal_wf_destroy (&prev);
    if (rc) {
        shoal_wf_destroy (&wf);
        return rc;
    }
    rev++;
    char rkey[sizeof S_REV_PREFIX + SHOAL_NAME_MAX];
    int rlen = snprintf (rkey, sizeof rkey, S_REV_PREFIX "%s", name);
    if ((rc = shoal_txn_put (self->txn, SHOAL_DBI_WF_DEFS, key,
                             s_def_key (name, rev, key), def, dlen)) ||
        (rc = shoal_txn_put (self->txn, SHOAL_DBI_META, rkey, (size_t) rlen,
                             &rev, sizeof rev))) {
        shoal_wf_destroy (&wf);
        return rc;
    }
    rc = s_reply_def (self, in, wf, rev, false);
    shoal_wf_destroy (&wf);
    return rc;
}

/*  {code, workflows: [{name, revision, nodes, edges, description}]} */
static shoal_err_t
s_defs (self_t *self, shoal_in_t *in)
{
    shoal_cursor_t *cur;
    shoal_err_t rc = shoal_cursor_open (self->txn, SHOAL_DBI_META, &cur);
    if (rc) {
        return rc;
    }
    shoal_wr_t *items = shoal_wr_new ();
    if (!items) {
        shoal_cursor_close (&cur);
        return SHOAL_ERR_NOMEM;
    }
    uint32_t n = 0;
    size_t plen = strlen (S_REV_PREFIX);
    shoal_kv_t kv;
    for (rc = shoal_cursor_seek (cur, S_REV_PREFIX, plen, &kv);
         rc == SHOAL_OK && kv.key_len > plen &&
         memcmp (kv.key, S_REV_PREFIX, plen) == 0;
         rc = shoal_cursor_next (cur, &kv)) {
        char name[SHOAL_NAME_MAX + 1];
        uint32_t rev;
        size_t nlen = kv.key_len - plen;
        if (nlen > SHOAL_NAME_MAX || kv.val_len != sizeof rev) {
            continue;
        }
        memcpy (name, (const char *) kv.key + plen, nlen);
        name[nlen] = '\0';
        memcpy (&rev, kv.val, sizeof rev);
        uint8_t key[S_KEY_MAX];
        const void *v;
        size_t vlen;
        shoal_wf_t *wf = NULL;
        char err[SHOAL_WF_ERR_MAX];
        if (shoal_txn_get (self->txn, SHOAL_DBI_WF_DEFS, key,
                           s_def_key (name, rev, key), &v, &vlen) ||
            shoal_wf_decode (v, vlen, NULL, &wf, err, sizeof err)) {
            shoal_wf_destroy (&wf);
            continue; /* unreadable: left out of the list */
        }
        shoal_wr_map (items, 5);
        shoal_wr_kv_str (items, "name", name);
        shoal_wr_kv_uint (items, "revision", rev);
        shoal_wr_kv_uint (items, "nodes", shoal_wf_node_count (wf));
        shoal_wr_kv_uint (items, "edges", shoal_wf_edge_count (wf));
        shoal_wr_kv_str (items, "description", shoal_wf_description (wf));
        shoal_wf_destroy (&wf);
        n++;
    }
    shoal_cursor_close (&cur);
    if (rc == SHOAL_ERR_NOT_FOUND || rc == SHOAL_OK) {
        rc = store_reply_items (self, in, "workflows", items, n);
    }
    shoal_wr_destroy (&items);
    return rc;
}

shoal_err_t
store_query_workflow (self_t *self, shoal_in_t *in, const uint8_t *args,
                      size_t len)
{
    char op[16];
    if (shoal_map_strcpy (args, len, "op", op, sizeof op) == SHOAL_OK) {
        if (streq (op, "define")) {
            return s_define (self, in, args, len);
        }
        if (streq (op, "defs")) {
            return s_defs (self, in);
        }
        if (streq (op, "run") || streq (op, "show") || streq (op, "runs") ||
            streq (op, "cancel") || streq (op, "pause") ||
            streq (op, "resume")) {
            return store_query_runs (self, in, op, args, len);
        }
    }
    return store_reply_code (self, in->hdr.from, &in->hdr.id, SHOAL_ERR_INVALID,
                             "\"op\" must be define, defs, run, show, runs, "
                             "cancel, pause or resume");
}
