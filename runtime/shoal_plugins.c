/*  shoal_plugins.c - loading job handler plugins and running a handler.

    dlopen with RTLD_NOW so that a plugin with an unresolved symbol fails
    at start, not in the middle of a job; RTLD_LOCAL so that two plugins
    cannot see (or clash over) each other's symbols. The handler context
    is a table of function pointers (shoal_plugin.h): a plugin links
    against nothing of Shoal's, so it cannot break when the daemon's own
    symbols change, and the daemon need not export any.

    Deliberately not done: unloading or reloading while running (plugins
    live as long as their executor), and sandboxing (process mode is the
    isolation on offer).
*/
#include "shoal_plugins.h"
#include "shoal_job.h"
#include "shoal_json.h"
#include "shoal_limits.h"
#include "shoal_log.h"
#include "shoal_mp.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Results are nested in RESULT {items:[{r: ...}]}: three levels fewer
    than a frame may have. */
#define S_RESULT_DEPTH (SHOAL_DEPTH_MAX - 4)

typedef struct {
    void *dl;
    char *path;
    shoal_plugin_info_t info;
} s_plugin_t;

typedef struct {
    const shoal_plugin_handler_t *handler;
    const s_plugin_t *plugin;
} s_type_t;

struct _shoal_plugins_t {
    s_plugin_t plugins[SHOAL_PLUGINS_MAX];
    size_t nplugins;
    s_type_t *types;
    size_t ntypes;
};

static void SHOAL_PRINTF (3, 4)
    s_say (char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (out, cap, fmt, ap);
    va_end (ap);
}

void
shoal_plugins_destroy (shoal_plugins_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    shoal_plugins_t *self = *self_p;
    for (size_t i = 0; i < self->nplugins; i++) {
        if (self->plugins[i].dl) {
            dlclose (self->plugins[i].dl);
        }
        free (self->plugins[i].path);
    }
    free (self->types);
    free (self);
    *self_p = NULL;
}

static bool
s_reserved (const char *const *reserved, const char *type)
{
    for (; reserved && *reserved; reserved++) {
        if (strcmp (*reserved, type) == 0) {
            return true;
        }
    }
    return false;
}

/*  Loads one file into p and checks what it declares against the types
    taken so far. CONFIG with why on any problem. */
static shoal_err_t
s_load_one (shoal_plugins_t *self, s_plugin_t *p, const char *const *reserved,
            char *why, size_t cap)
{
    dlerror ();
    p->dl = dlopen (p->path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        const char *e = dlerror ();
        s_say (why, cap, "plugin %s: cannot load: %s", p->path,
               e ? e : "unknown error");
        return SHOAL_ERR_CONFIG;
    }
    shoal_plugin_init_fn init =
        (shoal_plugin_init_fn) dlsym (p->dl, SHOAL_PLUGIN_INIT_SYMBOL);
    if (!init) {
        s_say (why, cap, "plugin %s: no symbol %s (not a Shoal plugin?)",
               p->path, SHOAL_PLUGIN_INIT_SYMBOL);
        return SHOAL_ERR_CONFIG;
    }
    memset (&p->info, 0, sizeof p->info);
    int rc = init (SHOAL_PLUGIN_ABI, &p->info);
    if (rc != 0) {
        s_say (why, cap, "plugin %s: %s returned %d (refused to load)", p->path,
               SHOAL_PLUGIN_INIT_SYMBOL, rc);
        return SHOAL_ERR_CONFIG;
    }
    const shoal_plugin_info_t *info = &p->info;
    if (info->abi != SHOAL_PLUGIN_ABI) {
        s_say (why, cap,
               "plugin %s: built for plugin ABI %u, this shoald speaks %u",
               p->path, info->abi, SHOAL_PLUGIN_ABI);
        return SHOAL_ERR_CONFIG;
    }
    if (!info->name || !info->name[0]) {
        s_say (why, cap, "plugin %s: no name", p->path);
        return SHOAL_ERR_CONFIG;
    }
    if (!info->handlers || info->nhandlers == 0 ||
        info->nhandlers > SHOAL_PLUGINS_HANDLERS_MAX) {
        s_say (why, cap, "plugin %s: needs 1..%u handlers, declares %u",
               p->path, SHOAL_PLUGINS_HANDLERS_MAX, info->nhandlers);
        return SHOAL_ERR_CONFIG;
    }
    s_type_t *types =
        realloc (self->types, (self->ntypes + info->nhandlers) * sizeof *types);
    if (!types) {
        s_say (why, cap, "out of memory");
        return SHOAL_ERR_NOMEM;
    }
    self->types = types;
    for (uint32_t i = 0; i < info->nhandlers; i++) {
        const shoal_plugin_handler_t *h = &info->handlers[i];
        if (!h->type || !shoal_name_valid (h->type, strlen (h->type)) ||
            !h->run) {
            s_say (why, cap,
                   "plugin %s: handler %u needs a type (1..%u of "
                   "[A-Za-z0-9_.:-]) and a function",
                   p->path, i, SHOAL_NAME_MAX);
            return SHOAL_ERR_CONFIG;
        }
        if (s_reserved (reserved, h->type)) {
            s_say (why, cap, "plugin %s: type '%s' is built in", p->path,
                   h->type);
            return SHOAL_ERR_CONFIG;
        }
        if (shoal_plugins_find (self, h->type)) {
            s_say (why, cap, "plugin %s: type '%s' is already handled", p->path,
                   h->type);
            return SHOAL_ERR_CONFIG;
        }
        self->types[self->ntypes++] = (s_type_t){h, p};
    }
    return SHOAL_OK;
}

shoal_plugins_t *
shoal_plugins_load (const char *paths, const char *const *reserved, char *why,
                    size_t why_cap, shoal_err_t *err)
{
    why[0] = '\0';
    shoal_plugins_t *self = calloc (1, sizeof *self);
    shoal_err_t rc = SHOAL_ERR_NOMEM;
    if (!self) {
        s_say (why, why_cap, "out of memory");
        goto fail;
    }
    const char *p = paths ? paths : "";
    for (;;) {
        while (*p == ':' || isspace ((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            break;
        }
        size_t len = 0;
        while (p[len] && p[len] != ':' && !isspace ((unsigned char) p[len])) {
            len++;
        }
        if (self->nplugins == SHOAL_PLUGINS_MAX) {
            s_say (why, why_cap, "more than %d plugins", SHOAL_PLUGINS_MAX);
            rc = SHOAL_ERR_CONFIG;
            goto fail;
        }
        s_plugin_t *pl = &self->plugins[self->nplugins++];
        pl->path = strndup (p, len);
        if (!pl->path) {
            s_say (why, why_cap, "out of memory");
            rc = SHOAL_ERR_NOMEM;
            goto fail;
        }
        rc = s_load_one (self, pl, reserved, why, why_cap);
        if (rc) {
            goto fail;
        }
        p += len;
    }
    if (err) {
        *err = SHOAL_OK;
    }
    return self;
fail:
    if (err) {
        *err = rc;
    }
    shoal_plugins_destroy (&self);
    return NULL;
}

size_t
shoal_plugins_types (const shoal_plugins_t *self)
{
    return self ? self->ntypes : 0;
}

void
shoal_plugins_describe (const shoal_plugins_t *self, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; self && i < self->ntypes && at < cap; i++) {
        int n = snprintf (out + at, cap - at, "%s%s (%s)", i ? ", " : "",
                          self->types[i].handler->type,
                          self->types[i].plugin->info.name);
        if (n < 0) {
            break;
        }
        at += (size_t) n;
    }
}

const shoal_plugin_handler_t *
shoal_plugins_find (const shoal_plugins_t *self, const char *type)
{
    for (size_t i = 0; self && i < self->ntypes; i++) {
        if (strcmp (self->types[i].handler->type, type) == 0) {
            return self->types[i].handler;
        }
    }
    return NULL;
}

/*  --------------------------------------------------------------------
    Running: the context a handler sees */

typedef struct {
    shoal_plugin_ctx_t ctx; /* first: a ctx pointer is a s_run_t pointer */
    const shoal_plugins_hooks_t *hooks;
    shoal_wr_t *result;  /* the handler's result, encoded */
    shoal_wr_t *scratch; /* a result being converted */
    bool has_result;
    bool stop; /* a hook said stop: sticky */
    char error[SHOAL_ERRTEXT_MAX];
    char error_class[SHOAL_CLASS_MAX + 1];
} s_run_t;

static int
s_set_result (shoal_plugin_ctx_t *ctx, const char *json, size_t len)
{
    s_run_t *run = (s_run_t *) ctx;
    if (!json || !run->scratch) {
        return -1;
    }
    json_error_t jerr;
    json_t *value = json_loadb (json, len, JSON_DECODE_ANY, &jerr);
    if (!value) {
        return -1;
    }
    shoal_wr_reset (run->scratch);
    shoal_limits_t lim = shoal_limits_default ();
    lim.depth_max = S_RESULT_DEPTH;
    bool ok = shoal_json_to_mp (value, run->scratch) == SHOAL_OK &&
              shoal_wr_size (run->scratch) <= SHOAL_FRAME_MAX &&
              shoal_mp_validate (shoal_wr_data (run->scratch),
                                 shoal_wr_size (run->scratch), &lim,
                                 NULL) == SHOAL_OK;
    json_decref (value);
    if (!ok) {
        return -1;
    }
    shoal_wr_reset (run->result);
    shoal_wr_raw (run->result, shoal_wr_data (run->scratch),
                  shoal_wr_size (run->scratch));
    run->has_result = shoal_wr_error (run->result) == SHOAL_OK;
    return run->has_result ? 0 : -1;
}

static void
s_set_error (shoal_plugin_ctx_t *ctx, const char *error_class,
             const char *message)
{
    s_run_t *run = (s_run_t *) ctx;
    if (error_class && error_class[0]) {
        snprintf (run->error_class, sizeof run->error_class, "%s", error_class);
    }
    if (message && message[0]) {
        snprintf (run->error, sizeof run->error, "%s", message);
    }
}

static int
s_heartbeat (shoal_plugin_ctx_t *ctx, int percent)
{
    s_run_t *run = (s_run_t *) ctx;
    if (percent < -1 || percent > 100) {
        percent = -1;
    }
    if (run->hooks && run->hooks->beat &&
        run->hooks->beat (run->hooks->arg, percent)) {
        run->stop = true;
    }
    return run->stop;
}

static int
s_cancelled (shoal_plugin_ctx_t *ctx)
{
    s_run_t *run = (s_run_t *) ctx;
    if (!run->stop && run->hooks && run->hooks->stop &&
        run->hooks->stop (run->hooks->arg)) {
        run->stop = true;
    }
    return run->stop;
}

bool
shoal_plugins_run (const shoal_plugin_handler_t *handler,
                   const shoal_plugin_job_t *job, const uint8_t *payload,
                   size_t payload_len, const shoal_plugins_hooks_t *hooks,
                   shoal_wr_t *result, char *error, size_t error_cap,
                   char *error_class, size_t class_cap)
{
    error[0] = error_class[0] = '\0';
    char *text = NULL;
    if (payload) {
        shoal_limits_t lim = shoal_limits_default ();
        lim.frame_max = SIZE_MAX;
        json_t *value = shoal_mp_to_json (payload, payload_len, &lim, NULL);
        if (!value) {
            snprintf (error, error_cap, "payload cannot be given as JSON");
            snprintf (error_class, class_cap, "invalid");
            return false;
        }
        text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref (value);
    } else {
        text = strdup ("null");
    }
    s_run_t *run = calloc (1, sizeof *run);
    shoal_wr_t *mine = shoal_wr_new ();
    shoal_wr_t *scratch = shoal_wr_new ();
    if (!text || !run || !mine || !scratch) {
        free (text);
        free (run);
        shoal_wr_destroy (&mine);
        shoal_wr_destroy (&scratch);
        snprintf (error, error_cap, "out of memory");
        snprintf (error_class, class_cap, "error");
        return false;
    }
    run->ctx = (shoal_plugin_ctx_t){
        .abi = SHOAL_PLUGIN_ABI,
        .set_result = s_set_result,
        .set_error = s_set_error,
        .heartbeat = s_heartbeat,
        .cancelled = s_cancelled,
        .host = run,
    };
    run->hooks = hooks;
    run->result = mine;
    run->scratch = scratch;
    shoal_plugin_job_t j = *job;
    j.payload = text;
    j.payload_len = strlen (text);
    int rc = handler->run (&j, &run->ctx);
    bool ok = rc == SHOAL_PLUGIN_OK;
    if (run->has_result) {
        shoal_wr_raw (result, shoal_wr_data (mine), shoal_wr_size (mine));
    }
    if (!ok) {
        if (rc != SHOAL_PLUGIN_FAIL) {
            snprintf (error, error_cap, "handler returned %d", rc);
            snprintf (error_class, class_cap, "error");
        } else {
            snprintf (error, error_cap, "%s",
                      run->error[0] ? run->error : "failed");
            snprintf (error_class, class_cap, "%s",
                      run->error_class[0] ? run->error_class : "error");
        }
    }
    shoal_wr_destroy (&mine);
    shoal_wr_destroy (&scratch);
    free (run);
    free (text);
    return ok;
}
