/*  test_plugin.c - handler plugins: loading the example plugin (path from
    CMake), refusing broken ones, running plugin jobs on an in-process
    host, heartbeats from a plugin keeping its lease (fake clock), and
    cancelling a running plugin job. */
#include "host.h"
#include "shoal_json.h"
#include "shoal_plugins.h"
#include "shoal_test.h"

#include <fcntl.h>

static const char *const s_builtins[] = {"noop", "echo", "sleep",
                                         "fail", "exec", NULL};

/*  Loads paths expecting a refusal whose text contains want. */
static bool
s_refused (const char *paths, const char *want)
{
    char why[512];
    shoal_err_t rc = SHOAL_OK;
    shoal_plugins_t *p =
        shoal_plugins_load (paths, s_builtins, why, sizeof why, &rc);
    bool ok = !p && rc == SHOAL_ERR_CONFIG && strstr (why, want);
    if (!ok) {
        fprintf (stderr, "  %s: rc %d why '%s'\n", paths, rc, why);
    }
    shoal_plugins_destroy (&p);
    return ok;
}

SHOAL_TEST (load_the_example_and_refuse_bad_plugins)
{
    char why[512];
    shoal_err_t rc;
    shoal_plugins_t *p =
        shoal_plugins_load (EXAMPLE_PLUGIN, s_builtins, why, sizeof why, &rc);
    CHECK (p);
    CHECK_OK (rc);
    CHECK_EQ (shoal_plugins_types (p), 4);
    CHECK (shoal_plugins_find (p, "upper"));
    CHECK (shoal_plugins_find (p, "crash"));
    CHECK (!shoal_plugins_find (p, "echo"));
    char list[256];
    shoal_plugins_describe (p, list, sizeof list);
    CHECK (strstr (list, "word_count (example)"));
    shoal_plugins_destroy (&p);
    shoal_plugins_destroy (&p); /* safe twice */
    /* none at all */
    p = shoal_plugins_load (" : ", s_builtins, why, sizeof why, &rc);
    CHECK (p);
    CHECK_EQ (shoal_plugins_types (p), 0);
    shoal_plugins_destroy (&p);
    CHECK (s_refused ("/nonexistent/plugin.so", "cannot load"));
    CHECK (s_refused (BAD_PLUGIN_DIR "/bad_plugin_nosym.so",
                      "no symbol shoal_plugin_init"));
    CHECK (s_refused (BAD_PLUGIN_DIR "/bad_plugin_abi.so",
                      "built for plugin ABI 999"));
    CHECK (s_refused (BAD_PLUGIN_DIR "/bad_plugin_builtin.so",
                      "type 'echo' is built in"));
    CHECK (s_refused (BAD_PLUGIN_DIR "/bad_plugin_refuse.so", "returned 7"));
    CHECK (s_refused (EXAMPLE_PLUGIN ":" EXAMPLE_PLUGIN,
                      "type 'upper' is already handled"));
}

SHOAL_TEST (node_with_a_bad_plugin_does_not_start)
{
    shoal_config_t *cfg = shoal_config_load (NULL, NULL);
    CHECK (cfg);
    CHECK_OK (shoal_config_set (cfg, "executors/plugins",
                                BAD_PLUGIN_DIR "/bad_plugin_abi.so"));
    shoal_clock_t clock = shoal_clock_real ();
    shoal_actor_args_t args = {"node.bad", "inproc://no-bus", clock, cfg, false,
                               NULL};
    shoal_err_t rc = SHOAL_OK;
    zactor_t *a = shoal_actor_start (shoal_node_actor, &args, &rc);
    CHECK (!a);
    CHECK_RC (rc, SHOAL_ERR_CONFIG);
    shoal_config_destroy (&cfg);
}

/*  Submits a job of type with payload (JSON text, or NULL). */
static bool
s_submit (host_t *h, const char *type, const char *json,
          char id_out[SHOAL_ID_TEXT])
{
    shoal_id_t id;
    shoal_wr_t *w = host_begin (h, SHOAL_M_SUBMIT, &id);
    shoal_wr_map (w, 1 + (json != NULL));
    shoal_wr_kv_str (w, "type", type);
    if (json) {
        json_t *v = json_loads (json, JSON_DECODE_ANY, NULL);
        shoal_wr_str (w, "payload");
        if (!v || shoal_json_to_mp (v, w)) {
            json_decref (v);
            return false;
        }
        json_decref (v);
    }
    return host_submitted (h, &id, id_out, NULL);
}

/*  The job's result as compact JSON into out ("" when none). */
static bool
s_result (host_t *h, const char *jid, char *out, size_t cap)
{
    shoal_in_t in;
    if (!host_status (h, jid, &in)) {
        return false;
    }
    out[0] = '\0';
    shoal_mp_val_t v;
    const uint8_t *job, *r;
    size_t len, rlen;
    if (shoal_map_find (in.body, in.body_len, "job", &v, &job, &len) ==
            SHOAL_OK &&
        shoal_map_find (job, len, "result", &v, &r, &rlen) == SHOAL_OK) {
        shoal_limits_t lim = shoal_limits_default ();
        json_t *j = shoal_mp_to_json (r, rlen, &lim, NULL);
        char *text = j ? json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        snprintf (out, cap, "%s", text ? text : "");
        free (text);
        json_decref (j);
    }
    shoal_in_close (&in);
    return true;
}

SHOAL_TEST (plugin_jobs_run_with_json_payloads_and_results)
{
    const char *kv[] = {"executors/plugins=" EXAMPLE_PLUGIN, NULL};
    host_t *h = host_new (2, kv);
    CHECK (h);
    char a[SHOAL_ID_TEXT], b[SHOAL_ID_TEXT], c[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "upper", "{\"text\":\"hello plugin\"}", a));
    CHECK (s_submit (h, "word_count", "{\"text\":\" one two  three \"}", b));
    CHECK (s_submit (h, "word_count", NULL, c));
    CHECK (host_await_state (h, a, "succeeded"));
    char r[256];
    CHECK (s_result (h, a, r, sizeof r));
    CHECK_STR (r, "{\"text\":\"HELLO PLUGIN\"}");
    CHECK (host_await_state (h, b, "succeeded"));
    CHECK (s_result (h, b, r, sizeof r));
    CHECK_STR (r, "{\"chars\":16,\"words\":3}");
    /* the plugin's error class reaches the job (no retry policy: dead) */
    CHECK (host_await_state (h, c, "dead"));
    char cls[32], er[128];
    CHECK (host_job_field (h, c, "error_class", cls, sizeof cls, NULL));
    CHECK_STR (cls, "invalid");
    CHECK (host_job_field (h, c, "error", er, sizeof er, NULL));
    CHECK_STR (er, "word_count needs {\"text\": str}");
    /* built-ins still work beside plugins */
    char d[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "echo", "{\"x\":1}", d));
    CHECK (host_await_state (h, d, "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST (plugin_heartbeats_keep_its_lease_and_cancel_stops_it)
{
    const char *kv[] = {"executors/plugins=" EXAMPLE_PLUGIN, "store/lease=3000",
                        "store/lease_grace=0", NULL};
    host_t *h = host_new (1, kv);
    CHECK (h);
    char flag[128], payload[256];
    snprintf (flag, sizeof flag, "%s/done", h->dir);
    snprintf (payload, sizeof payload, "{\"until_file\":\"%s\"}", flag);
    char a[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "wait", payload, a));
    CHECK (host_await_state (h, a, "leased"));
    uint64_t first = host_job_num (h, a, "lease_expires_us");
    host_advance (h, 2000);
    CHECK (host_await_renewal (h, a, first));
    host_advance (h, 2000);
    CHECK (host_await_renewal (h, a, first + 2000 * 1000));
    CHECK (host_poke (h));
    CHECK (host_state_is (h, a, "leased")); /* past the first expiry */
    /* the handler ends when told to: its result comes back */
    int fd = open (flag, O_CREAT | O_WRONLY, 0600);
    CHECK (fd >= 0);
    close (fd);
    CHECK (host_await_state (h, a, "succeeded"));
    char r[128];
    CHECK (s_result (h, a, r, sizeof r));
    CHECK (strncmp (r, "{\"beats\":", 9) == 0);
    /* a second one is cancelled while it runs: the handler sees it */
    snprintf (flag, sizeof flag, "%s/never", h->dir);
    snprintf (payload, sizeof payload, "{\"until_file\":\"%s\"}", flag);
    char b[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "wait", payload, b));
    CHECK (host_await_state (h, b, "leased"));
    CHECK_EQ (host_cancel (h, b), SHOAL_M_OK);
    CHECK (host_state_is (h, b, "cancelled"));
    /* the executor is free again */
    char c[SHOAL_ID_TEXT];
    CHECK (s_submit (h, "upper", "{\"text\":\"x\"}", c));
    CHECK (host_await_state (h, c, "succeeded"));
    host_destroy (&h);
}

SHOAL_TEST_MAIN (load_the_example_and_refuse_bad_plugins,
                 node_with_a_bad_plugin_does_not_start,
                 plugin_jobs_run_with_json_payloads_and_results,
                 plugin_heartbeats_keep_its_lease_and_cancel_stops_it)
