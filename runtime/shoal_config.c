/*  shoal_config.c - ZPL via zconfig, plus a table of known keys.

    Unknown keys in a file are an error, not a silent no-op: a misspelt
    "store/snyc" would otherwise leave fsync settings other than intended.
*/
#include "shoal_config.h"
#include "shoal_job.h"
#include "shoal_labels.h"
#include "shoal_log.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;
    const char *def;
    int64_t min, max; /* min > max: not an integer */
} s_key_t;

static const s_key_t s_keys[] = {
    {"shoald/data", "./shoal-data", 1, 0},
    {"shoald/control", "tcp://127.0.0.1:5570", 1, 0},
    {"shoald/monitor", "tcp://127.0.0.1:5571", 1, 0},
    {"shoald/log", "stderr", 1, 0},
    {"shoald/verbose", "0", 0, 1},
    {"shoald/insecure_bind", "0", 0, 1},
    {"shoald/curve_cert", "", 1, 0},
    {"shoald/curve_allow", "", 1, 0},
    {"store/sync", "full", 1, 0},
    {"store/map_size", "268435456", 1 << 20, (int64_t) 1 << 40},
    {"store/batch_max", "4096", 1, 65536},
    {"store/lease", "300000", 1, 86400000},
    {"store/lease_grace", "10000", 0, 3600000},
    {"store/retention", "604800000", 0, (int64_t) 1 << 40},
    {"scheduler/window", "8192", 16, 1 << 20},
    {"executors/count", "4", 0, 256},
    {"executors/mode", "thread", 1, 0},
    {"executors/prefetch", "1024", 1, 65536},
    {"executors/heartbeat", "0", 0, 86400000},
    {"executors/plugins", "", 1, 0},
    {"executors/labels", "", 1, 0},
    {"executors/weight", "1", 1, 1000},
    {"cluster/name", "", 1, 0},
    {"cluster/bind", "", 1, 0},
    {"cluster/join", "", 1, 0},
    {"cluster/server_key", "", 1, 0},
    {"cluster/heartbeat", "500", 10, 60000},
    {"cluster/liveness", "4", 2, 100},
    {"supervisor/max_restarts", "5", 0, 1000},
    {"supervisor/period", "10000", 1, 3600000},
    {"supervisor/heartbeat", "1000", 10, 60000},
    {"supervisor/liveness", "5000", 50, 600000},
    {"control/pending_timeout", "30000", 100, 3600000},
};
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

struct _shoal_config_t {
    zconfig_t *file; /* NULL when running on defaults */
    /* One slot per known key (strdup'd). A plain array, not a zhash:
       zhash_lookup writes a cursor, and actor threads read the config
       concurrently. */
    char *override[sizeof s_keys / sizeof s_keys[0]];
    char *path;
};

static const s_key_t *
s_find (const char *key)
{
    for (size_t i = 0; i < S_NKEYS; i++) {
        if (streq (s_keys[i].key, key)) {
            return &s_keys[i];
        }
    }
    return NULL;
}

/*  Walks the file tree and reports leaf paths that are not known keys. */
static shoal_err_t
s_check_tree (zconfig_t *node, const char *prefix)
{
    shoal_err_t rc = SHOAL_OK;
    for (zconfig_t *c = zconfig_child (node); c; c = zconfig_next (c)) {
        char path[256];
        snprintf (path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "",
                  zconfig_name (c));
        if (zconfig_child (c)) {
            if (s_check_tree (c, path)) {
                rc = SHOAL_ERR_CONFIG;
            }
        } else if (!s_find (path)) {
            shoal_error ("config: unknown key '%s'", path);
            rc = SHOAL_ERR_CONFIG;
        }
    }
    return rc;
}

shoal_config_t *
shoal_config_load (const char *path, shoal_err_t *err)
{
    shoal_config_t *self = calloc (1, sizeof *self);
    shoal_err_t rc = SHOAL_ERR_NOMEM;
    if (!self) {
        goto fail;
    }
    if (path) {
        rc = SHOAL_ERR_CONFIG;
        if (!zsys_file_exists (path)) {
            shoal_error ("config: cannot read %s", path);
            goto fail;
        }
        self->file = zconfig_load (path);
        if (!self->file) {
            shoal_error ("config: %s is not valid ZPL", path);
            goto fail;
        }
        if (s_check_tree (self->file, "")) {
            goto fail;
        }
        self->path = strdup (path);
    }
    if (err) {
        *err = SHOAL_OK;
    }
    return self;
fail:
    if (err) {
        *err = rc;
    }
    shoal_config_destroy (&self);
    return NULL;
}

void
shoal_config_destroy (shoal_config_t **self_p)
{
    if (self_p && *self_p) {
        shoal_config_t *self = *self_p;
        zconfig_destroy (&self->file);
        for (size_t i = 0; i < S_NKEYS; i++) {
            free (self->override[i]);
        }
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

shoal_err_t
shoal_config_set (shoal_config_t *self, const char *key, const char *value)
{
    const s_key_t *k = s_find (key);
    if (!k) {
        shoal_error ("config: unknown key '%s'", key);
        return SHOAL_ERR_CONFIG;
    }
    char *copy = strdup (value);
    if (!copy) {
        return SHOAL_ERR_NOMEM;
    }
    size_t i = (size_t) (k - s_keys);
    free (self->override[i]);
    self->override[i] = copy;
    return SHOAL_OK;
}

const char *
shoal_config_get (const shoal_config_t *self, const char *key)
{
    const s_key_t *k = s_find (key);
    if (!k) {
        return NULL;
    }
    const char *v = self->override[k - s_keys];
    if (v) {
        return v;
    }
    if (self->file) {
        char *fv = zconfig_get (self->file, key, NULL);
        if (fv) {
            return fv;
        }
    }
    return k->def;
}

shoal_err_t
shoal_config_int (const shoal_config_t *self, const char *key, int64_t min,
                  int64_t max, int64_t *out)
{
    const char *v = shoal_config_get (self, key);
    if (!v) {
        return SHOAL_ERR_CONFIG;
    }
    errno = 0;
    char *end;
    long long n = strtoll (v, &end, 10);
    /* Size suffixes for byte counts: 64M, 1G. */
    if (end != v && (*end == 'K' || *end == 'M' || *end == 'G') &&
        end[1] == '\0') {
        long long mult = *end == 'K'   ? 1024LL
                         : *end == 'M' ? 1048576LL
                                       : 1073741824LL;
        if (n > LLONG_MAX / mult || n < LLONG_MIN / mult) {
            errno = ERANGE; /* "9999999999999G" must not wrap around */
        } else {
            n *= mult;
        }
        end++;
    }
    if (errno || end == v || *end != '\0' || n < min || n > max) {
        shoal_error ("config: %s = '%s' is not a whole number in %lld..%lld",
                     key, v, (long long) min, (long long) max);
        return SHOAL_ERR_CONFIG;
    }
    *out = n;
    return SHOAL_OK;
}

static bool
s_one_of (const char *v, const char *a, const char *b, const char *c)
{
    return streq (v, a) || streq (v, b) || (c && streq (v, c));
}

shoal_err_t
shoal_config_check (const shoal_config_t *self)
{
    shoal_err_t rc = SHOAL_OK;
    for (size_t i = 0; i < S_NKEYS; i++) {
        int64_t n;
        if (s_keys[i].min <= s_keys[i].max &&
            shoal_config_int (self, s_keys[i].key, s_keys[i].min, s_keys[i].max,
                              &n)) {
            rc = SHOAL_ERR_CONFIG;
        }
    }
    const char *v = shoal_config_get (self, "store/sync");
    if (!s_one_of (v, "full", "meta", "none")) {
        shoal_error ("config: store/sync = '%s': use full, meta or none", v);
        rc = SHOAL_ERR_CONFIG;
    }
    v = shoal_config_get (self, "executors/mode");
    if (!s_one_of (v, "thread", "process", NULL)) {
        shoal_error ("config: executors/mode = '%s': use thread or process", v);
        rc = SHOAL_ERR_CONFIG;
    }
    v = shoal_config_get (self, "cluster/name");
    if (v[0] && (strlen (v) > 32 || !shoal_name_valid (v, strlen (v)))) {
        shoal_error ("config: cluster/name = '%s': 1..32 characters of "
                     "[A-Za-z0-9._:-]",
                     v);
        rc = SHOAL_ERR_CONFIG;
    }
    if (shoal_config_get (self, "cluster/bind")[0] &&
        shoal_config_get (self, "cluster/join")[0]) {
        shoal_error ("config: cluster/bind and cluster/join are exclusive: a "
                     "host either owns the queues or serves the owner's");
        rc = SHOAL_ERR_CONFIG;
    }
    v = shoal_config_get (self, "executors/labels");
    char labels[SHOAL_LABELS_TEXT_MAX], why[128];
    if (shoal_labels_parse (v, SHOAL_LABELS_MAX, labels, sizeof labels, why,
                            sizeof why)) {
        shoal_error ("config: executors/labels = '%s': %s", v, why);
        rc = SHOAL_ERR_CONFIG;
    }
    v = shoal_config_get (self, "shoald/log");
    if (!s_one_of (v, "stderr", "syslog", NULL)) {
        shoal_error ("config: shoald/log = '%s': use stderr or syslog", v);
        rc = SHOAL_ERR_CONFIG;
    }
    return rc;
}

const char *
shoal_config_path (const shoal_config_t *self)
{
    return self->path;
}

void
shoal_config_to_args (const shoal_config_t *self, zlist_t *list)
{
    for (size_t i = 0; i < S_NKEYS; i++) {
        char buf[1024];
        snprintf (buf, sizeof buf, "%s=%s", s_keys[i].key,
                  shoal_config_get (self, s_keys[i].key));
        zlist_append (list, "--set");
        zlist_append (list, buf);
    }
}
