/*  bad_plugin.c - plugins that shoald must refuse, one per build flag:
    BAD_NOSYM (no shoal_plugin_init), BAD_ABI (declares ABI 999),
    BAD_BUILTIN (takes the built-in type "echo"), BAD_REFUSE (init
    returns non-zero). */
#include "shoal_plugin.h"

static int
s_run (const shoal_plugin_job_t *job, shoal_plugin_ctx_t *ctx)
{
    (void) job;
    (void) ctx;
    return SHOAL_PLUGIN_OK;
}

#ifdef BAD_BUILTIN
static const shoal_plugin_handler_t s_handlers[] = {{"echo", s_run}};
#else
static const shoal_plugin_handler_t s_handlers[] = {{"bad_type", s_run}};
#endif

#ifdef BAD_NOSYM
int
not_the_init (uint32_t host_abi, shoal_plugin_info_t *info)
#else
int
shoal_plugin_init (uint32_t host_abi, shoal_plugin_info_t *info)
#endif
{
    (void) host_abi;
#ifdef BAD_REFUSE
    return 7;
#endif
#ifdef BAD_ABI
    info->abi = 999;
#else
    info->abi = SHOAL_PLUGIN_ABI;
#endif
    info->name = "bad";
    info->handlers = s_handlers;
    info->nhandlers = 1;
    return 0;
}
