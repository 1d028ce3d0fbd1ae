/*  example_plugin.c - a Shoal handler plugin, built by the project as
    example_plugin.so (docs/operations.md, "Plugin handlers").

    Job types:
        upper       {"text": str}  -> {"text": STR}
        word_count  {"text": str}  -> {"words": n, "chars": n}; fails with
                    class "invalid" without a text
        wait        {"until_file": path, "fail_class"?: str}: works until
                    path exists, heartbeating with progress, or until
                    cancelled; then succeeds ({"beats": n}) or, with
                    fail_class, fails with that class
        crash       {} : crashes its process (SIGSEGV), for tests of
                    process isolation

    It parses payloads with jansson because the project has it at hand;
    a plugin may use any JSON parser, or none.
*/
#include "shoal_plugin.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*  The payload's "text" string, or NULL (root owned by the caller). */
static const char *
s_text (const shoal_plugin_job_t *job, json_t **root)
{
    *root = json_loadb (job->payload, job->payload_len, JSON_DECODE_ANY, NULL);
    return json_string_value (json_object_get (*root, "text"));
}

static int
s_result (shoal_plugin_ctx_t *ctx, json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    int rc = text ? shoal_plugin_set_result (ctx, text, strlen (text)) : -1;
    free (text);
    json_decref (value);
    if (rc != 0) {
        shoal_plugin_set_error (ctx, "error", "cannot set the result");
        return SHOAL_PLUGIN_FAIL;
    }
    return SHOAL_PLUGIN_OK;
}

static int
s_upper (const shoal_plugin_job_t *job, shoal_plugin_ctx_t *ctx)
{
    json_t *root;
    const char *text = s_text (job, &root);
    if (!text) {
        json_decref (root);
        shoal_plugin_set_error (ctx, "invalid", "upper needs {\"text\": str}");
        return SHOAL_PLUGIN_FAIL;
    }
    char *up = strdup (text);
    for (char *p = up; p && *p; p++) {
        if (*p >= 'a' && *p <= 'z') {
            *p = (char) (*p - 'a' + 'A');
        }
    }
    json_decref (root);
    if (!up) {
        shoal_plugin_set_error (ctx, "error", "out of memory");
        return SHOAL_PLUGIN_FAIL;
    }
    json_t *out = json_pack ("{s:s}", "text", up);
    free (up);
    return s_result (ctx, out);
}

static int
s_word_count (const shoal_plugin_job_t *job, shoal_plugin_ctx_t *ctx)
{
    json_t *root;
    const char *text = s_text (job, &root);
    if (!text) {
        json_decref (root);
        shoal_plugin_set_error (ctx, "invalid",
                                "word_count needs {\"text\": str}");
        return SHOAL_PLUGIN_FAIL;
    }
    json_int_t words = 0;
    int in_word = 0;
    for (const char *p = text; *p; p++) {
        int space = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
        words += !space && !in_word;
        in_word = !space;
    }
    json_t *out = json_pack ("{s:I,s:I}", "words", words, "chars",
                             (json_int_t) strlen (text));
    json_decref (root);
    return s_result (ctx, out);
}

static int
s_wait (const shoal_plugin_job_t *job, shoal_plugin_ctx_t *ctx)
{
    json_t *root =
        json_loadb (job->payload, job->payload_len, JSON_DECODE_ANY, NULL);
    const char *path = json_string_value (json_object_get (root, "until_file"));
    const char *fail = json_string_value (json_object_get (root, "fail_class"));
    if (!path) {
        json_decref (root);
        shoal_plugin_set_error (ctx, "invalid",
                                "wait needs {\"until_file\": path}");
        return SHOAL_PLUGIN_FAIL;
    }
    json_int_t beats = 0;
    int stop = 0;
    while (access (path, F_OK) != 0) {
        stop = shoal_plugin_heartbeat (ctx, (int) (beats % 100));
        if (stop) {
            break;
        }
        beats++;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep (&ts, NULL);
    }
    int rc = SHOAL_PLUGIN_OK;
    if (stop) {
        shoal_plugin_set_error (ctx, "cancelled", "stopped");
        rc = SHOAL_PLUGIN_FAIL;
    } else if (fail) {
        shoal_plugin_set_error (ctx, fail, "failed on request");
        rc = SHOAL_PLUGIN_FAIL;
    }
    json_decref (root);
    if (rc == SHOAL_PLUGIN_OK) {
        return s_result (ctx, json_pack ("{s:I}", "beats", beats));
    }
    return rc;
}

static int
s_crash (const shoal_plugin_job_t *job, shoal_plugin_ctx_t *ctx)
{
    (void) job;
    (void) ctx;
    raise (SIGSEGV);
    return SHOAL_PLUGIN_FAIL; /* not reached unless SIGSEGV is ignored */
}

static const shoal_plugin_handler_t s_handlers[] = {
    {"upper", s_upper},
    {"word_count", s_word_count},
    {"wait", s_wait},
    {"crash", s_crash},
};

int
shoal_plugin_init (uint32_t host_abi, shoal_plugin_info_t *info)
{
    if (host_abi != SHOAL_PLUGIN_ABI) {
        return -1;
    }
    info->abi = SHOAL_PLUGIN_ABI;
    info->name = "example";
    info->version = "1.0";
    info->handlers = s_handlers;
    info->nhandlers = sizeof s_handlers / sizeof s_handlers[0];
    return 0;
}
