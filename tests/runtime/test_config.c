/*  test_config.c - defaults, ZPL files, overrides and value checks. */
#include "shoal_test.h"
#include "shoal_config.h"
#include "shoal_log.h"
#include "rt_helpers.h"

/*  Writes text to <dir>/name and loads it. */
static shoal_config_t *
s_load_text (const char *dir, const char *name, const char *text,
             shoal_err_t *err)
{
    char path[RT_PATH_MAX];
    rt_path (path, dir, name);
    if (rt_write_file (path, text)) {
        *err = SHOAL_ERR_IO;
        return NULL;
    }
    return shoal_config_load (path, err);
}

SHOAL_TEST (config_defaults_without_file)
{
    shoal_err_t err = SHOAL_ERR_STATE;
    shoal_config_t *cfg = shoal_config_load (NULL, &err);
    CHECK (cfg);
    CHECK_OK (err);
    CHECK (shoal_config_path (cfg) == NULL);
    CHECK_STR (shoal_config_get (cfg, "shoald/data"), "./shoal-data");
    CHECK_STR (shoal_config_get (cfg, "shoald/control"),
               "tcp://127.0.0.1:5570");
    CHECK_STR (shoal_config_get (cfg, "shoald/log"), "stderr");
    CHECK_STR (shoal_config_get (cfg, "store/sync"), "full");
    CHECK_STR (shoal_config_get (cfg, "executors/mode"), "thread");
    CHECK (shoal_config_get (cfg, "store/nope") == NULL);
    CHECK (shoal_config_get (cfg, "store") == NULL);
    int64_t v = 0;
    CHECK_OK (shoal_config_int (cfg, "store/map_size", 0, INT64_MAX, &v));
    CHECK_EQ (v, 268435456);
    CHECK_OK (shoal_config_int (cfg, "store/batch_max", 1, 65536, &v));
    CHECK_EQ (v, 4096);
    CHECK_OK (shoal_config_int (cfg, "supervisor/max_restarts", 0, 100, &v));
    CHECK_EQ (v, 5);
    CHECK_OK (shoal_config_int (cfg, "supervisor/period", 1, 1 << 30, &v));
    CHECK_EQ (v, 10000);
    CHECK_OK (shoal_config_check (cfg));
    shoal_config_destroy (&cfg);
    CHECK (cfg == NULL);
    shoal_config_destroy (&cfg); /* safe twice */
    /* err may be NULL. */
    cfg = shoal_config_load (NULL, NULL);
    CHECK (cfg);
    shoal_config_destroy (&cfg);
}

static void
s_file_body (bool *shoal_test_failed_, const char *dir)
{
    char data[RT_PATH_MAX];
    rt_path (data, dir, "data");
    char text[1024];
    snprintf (text, sizeof text,
              "#   Shoal test configuration\n"
              "shoald\n"
              "    data = \"%s\"\n"
              "    verbose = 1\n"
              "store\n"
              "    sync = meta           # a comment\n"
              "    map_size = 64M\n"
              "supervisor\n"
              "    max_restarts = 2\n",
              data);
    shoal_err_t err = SHOAL_ERR_STATE;
    shoal_config_t *cfg = s_load_text (dir, "shoal.cfg", text, &err);
    CHECK (cfg);
    CHECK_OK (err);
    char path[RT_PATH_MAX];
    rt_path (path, dir, "shoal.cfg");
    CHECK_STR (shoal_config_path (cfg), path);
    CHECK_STR (shoal_config_get (cfg, "shoald/data"), data);
    CHECK_STR (shoal_config_get (cfg, "store/sync"), "meta");
    int64_t v = 0;
    CHECK_OK (shoal_config_int (cfg, "shoald/verbose", 0, 1, &v));
    CHECK_EQ (v, 1);
    CHECK_OK (shoal_config_int (cfg, "store/map_size", 1, INT64_MAX, &v));
    CHECK_EQ (v, 64 << 20);
    CHECK_OK (shoal_config_int (cfg, "supervisor/max_restarts", 0, 9, &v));
    CHECK_EQ (v, 2);
    /* Keys the file does not mention keep their defaults. */
    CHECK_STR (shoal_config_get (cfg, "executors/mode"), "thread");
    CHECK_OK (shoal_config_int (cfg, "supervisor/period", 1, INT64_MAX, &v));
    CHECK_EQ (v, 10000);
    CHECK_OK (shoal_config_check (cfg));
    shoal_config_destroy (&cfg);
}

SHOAL_TEST (config_file_values)
{
    char dir[RT_PATH_MAX];
    CHECK (rt_tmpdir (dir) == 0);
    s_file_body (shoal_test_failed_, dir);
    rt_rmtree (dir);
}

static void
s_override_body (bool *shoal_test_failed_, const char *dir)
{
    shoal_err_t err;
    shoal_config_t *cfg = s_load_text (dir, "o.cfg",
                                       "store\n"
                                       "    sync = meta\n"
                                       "    batch_max = 100\n",
                                       &err);
    CHECK (cfg);
    CHECK_STR (shoal_config_get (cfg, "store/sync"), "meta");
    CHECK_OK (shoal_config_set (cfg, "store/sync", "none"));
    CHECK_STR (shoal_config_get (cfg, "store/sync"), "none");
    /* Setting again replaces the earlier override. */
    CHECK_OK (shoal_config_set (cfg, "store/sync", "full"));
    CHECK_STR (shoal_config_get (cfg, "store/sync"), "full");
    /* An override of a key the file does not have beats the default. */
    CHECK_OK (shoal_config_set (cfg, "executors/count", "9"));
    int64_t v = 0;
    CHECK_OK (shoal_config_int (cfg, "executors/count", 0, 256, &v));
    CHECK_EQ (v, 9);
    CHECK_OK (shoal_config_int (cfg, "store/batch_max", 1, 65536, &v));
    CHECK_EQ (v, 100);
    /* The caller's string is copied. */
    char value[8];
    snprintf (value, sizeof value, "%s", "77");
    CHECK_OK (shoal_config_set (cfg, "store/batch_max", value));
    snprintf (value, sizeof value, "%s", "xx");
    CHECK_OK (shoal_config_int (cfg, "store/batch_max", 1, 65536, &v));
    CHECK_EQ (v, 77);
    /* Unknown keys cannot be set, and change nothing. */
    CHECK_RC (shoal_config_set (cfg, "store/snyc", "none"), SHOAL_ERR_CONFIG);
    CHECK_RC (shoal_config_set (cfg, "store", "none"), SHOAL_ERR_CONFIG);
    CHECK (shoal_config_get (cfg, "store/snyc") == NULL);
    CHECK_OK (shoal_config_check (cfg));

    /* to_args carries the effective values, overrides included. */
    zlist_t *args = zlist_new ();
    CHECK (args);
    zlist_autofree (args);
    shoal_config_to_args (cfg, args);
    /* one --set pair per known key (the list grows with new keys) */
    CHECK (zlist_size (args) >= 2 * 16 && zlist_size (args) % 2 == 0);
    bool saw_sync = false, saw_batch = false, pairs_ok = true;
    size_t i = 0;
    for (char *s = zlist_first (args); s; s = zlist_next (args), i++) {
        if (i % 2 == 0) {
            pairs_ok = pairs_ok && streq (s, "--set");
        } else {
            pairs_ok = pairs_ok && strchr (s, '=') != NULL;
            saw_sync = saw_sync || streq (s, "store/sync=full");
            saw_batch = saw_batch || streq (s, "store/batch_max=77");
        }
    }
    zlist_destroy (&args);
    CHECK (pairs_ok);
    CHECK (saw_sync);
    CHECK (saw_batch);
    shoal_config_destroy (&cfg);
}

SHOAL_TEST (config_override_wins)
{
    char dir[RT_PATH_MAX];
    CHECK (rt_tmpdir (dir) == 0);
    s_override_body (shoal_test_failed_, dir);
    rt_rmtree (dir);
}

static void
s_bad_file_body (bool *shoal_test_failed_, const char *dir)
{
    static const char *bad[] = {
        /* a misspelt key */
        "store\n    snyc = none\n",
        /* an unknown section */
        "stroe\n    sync = none\n",
        /* an unknown top-level leaf */
        "verbose = 1\n",
        /* a known section used as a leaf */
        "store = full\n",
        /* one good key does not excuse one bad one */
        "store\n    sync = none\n    batch = 5\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shoal_err_t err = SHOAL_OK;
        shoal_config_t *cfg = s_load_text (dir, "bad.cfg", bad[i], &err);
        if (cfg || err != SHOAL_ERR_CONFIG) {
            shoal_config_destroy (&cfg);
            SHOAL_FAIL_ ("file %zu loaded (%s): %s", i, shoal_strerror (err),
                         bad[i]);
        }
    }
    /* Not ZPL at all: a three-space indent. */
    shoal_err_t err = SHOAL_OK;
    shoal_config_t *cfg =
        s_load_text (dir, "syntax.cfg", "store\n   sync = none\n", &err);
    CHECK (cfg == NULL);
    CHECK_RC (err, SHOAL_ERR_CONFIG);
}

SHOAL_TEST (config_unknown_key_in_file_fails)
{
    char dir[RT_PATH_MAX];
    CHECK (rt_tmpdir (dir) == 0);
    s_bad_file_body (shoal_test_failed_, dir);
    rt_rmtree (dir);
}

SHOAL_TEST (config_missing_file_fails)
{
    char dir[RT_PATH_MAX], path[RT_PATH_MAX];
    CHECK (rt_tmpdir (dir) == 0);
    rt_path (path, dir, "absent.cfg");
    shoal_err_t err = SHOAL_OK;
    shoal_config_t *cfg = shoal_config_load (path, &err);
    rt_rmtree (dir);
    CHECK (cfg == NULL);
    CHECK_RC (err, SHOAL_ERR_CONFIG);
}

SHOAL_TEST (config_int_checks)
{
    shoal_config_t *cfg = shoal_config_load (NULL, NULL);
    CHECK (cfg);
    static const char *bad[] = {
        "",     "abc",  "12x", "1.5", "0x10", "5 ",    "5\n",
        "M",    "64MB", "64m", "-1",  "0",    "65537", "99999999999999999999",
        "64K ", "1T",
    };
    int64_t v = 12345;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shoal_config_set (cfg, "store/batch_max", bad[i]);
        shoal_err_t rc =
            shoal_config_int (cfg, "store/batch_max", 1, 65536, &v);
        if (rc != SHOAL_ERR_CONFIG || v != 12345) {
            shoal_config_destroy (&cfg);
            SHOAL_FAIL_ ("batch_max = '%s' gave %s", bad[i],
                         shoal_strerror (rc));
        }
    }
    /* Bounds are inclusive. */
    CHECK_OK (shoal_config_set (cfg, "store/batch_max", "65536"));
    CHECK_OK (shoal_config_int (cfg, "store/batch_max", 1, 65536, &v));
    CHECK_EQ (v, 65536);
    CHECK_OK (shoal_config_set (cfg, "store/batch_max", "1"));
    CHECK_OK (shoal_config_int (cfg, "store/batch_max", 1, 65536, &v));
    CHECK_EQ (v, 1);
    /* Size suffixes. */
    CHECK_OK (shoal_config_set (cfg, "store/map_size", "64M"));
    CHECK_OK (shoal_config_int (cfg, "store/map_size", 1, INT64_MAX, &v));
    CHECK_EQ (v, 64ll << 20);
    CHECK_OK (shoal_config_set (cfg, "store/map_size", "2G"));
    CHECK_OK (shoal_config_int (cfg, "store/map_size", 1, INT64_MAX, &v));
    CHECK_EQ (v, 2ll << 30);
    CHECK_OK (shoal_config_set (cfg, "store/map_size", "8K"));
    CHECK_OK (shoal_config_int (cfg, "store/map_size", 1, INT64_MAX, &v));
    CHECK_EQ (v, 8192);
    /* A suffix does not escape the range check... */
    CHECK_RC (shoal_config_int (cfg, "store/map_size", 1 << 20, INT64_MAX, &v),
              SHOAL_ERR_CONFIG);
    /* ...nor overflow: these do not fit in 64 bits once multiplied. */
    CHECK_OK (shoal_config_set (cfg, "store/map_size", "9999999999999G"));
    CHECK_RC (shoal_config_int (cfg, "store/map_size", 1, INT64_MAX, &v),
              SHOAL_ERR_CONFIG);
    CHECK_OK (shoal_config_set (cfg, "store/map_size", "9223372036854775807K"));
    CHECK_RC (shoal_config_int (cfg, "store/map_size", 1, INT64_MAX, &v),
              SHOAL_ERR_CONFIG);
    CHECK_OK (shoal_config_set (cfg, "store/map_size", "-9999999999999G"));
    CHECK_RC (
        shoal_config_int (cfg, "store/map_size", INT64_MIN, INT64_MAX, &v),
        SHOAL_ERR_CONFIG);
    /* An unknown key is an error, not a zero. */
    CHECK_RC (shoal_config_int (cfg, "store/nope", 0, 10, &v),
              SHOAL_ERR_CONFIG);
    shoal_config_destroy (&cfg);
}

SHOAL_TEST (config_check_catches_bad_values)
{
    shoal_config_t *cfg = shoal_config_load (NULL, NULL);
    CHECK (cfg);
    static const struct {
        const char *key, *bad, *good;
    } cases[] = {
        {"store/sync", "fsync", "none"},
        {"store/sync", "", "meta"},
        {"store/sync", "FULL", "full"},
        {"executors/mode", "fork", "process"},
        {"shoald/log", "file", "syslog"},
        {"shoald/verbose", "2", "1"},
        {"store/map_size", "1K", "1M"},
        {"store/batch_max", "0", "65536"},
        {"executors/count", "257", "0"},
        {"executors/prefetch", "x", "1024"},
        {"supervisor/max_restarts", "-1", "1000"},
        {"supervisor/period", "3600001", "1"},
        {"supervisor/heartbeat", "9", "10"},
        {"supervisor/liveness", "49", "600000"},
        {"control/pending_timeout", "99", "100"},
        {"executors/labels", "gpu,bad label", "gpu, ssd"},
        {"executors/labels", "gpu,", ""},
        {"executors/labels", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "a,b,c,d"},
        {"executors/labels", "x:y", "zone-a,x.y,Z_9"},
        {"executors/weight", "0", "1"},
        {"executors/weight", "1001", "1000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_OK (shoal_config_set (cfg, cases[i].key, cases[i].bad));
        if (shoal_config_check (cfg) != SHOAL_ERR_CONFIG) {
            shoal_config_destroy (&cfg);
            SHOAL_FAIL_ ("check accepted %s = '%s'", cases[i].key,
                         cases[i].bad);
        }
        CHECK_OK (shoal_config_set (cfg, cases[i].key, cases[i].good));
        if (shoal_config_check (cfg) != SHOAL_OK) {
            shoal_config_destroy (&cfg);
            SHOAL_FAIL_ ("check refused %s = '%s'", cases[i].key,
                         cases[i].good);
        }
    }
    shoal_config_destroy (&cfg);
}

SHOAL_TEST_MAIN (config_defaults_without_file, config_file_values,
                 config_override_wins, config_unknown_key_in_file_fails,
                 config_missing_file_fails, config_int_checks,
                 config_check_catches_bad_values)
