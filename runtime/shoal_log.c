/*  shoal_log.c - log routing. */
#include "shoal_log.h"

void
shoal_log_setup (const char *ident, bool use_syslog)
{
    zsys_set_logident (ident);
    zsys_set_logsystem (use_syslog);
    zsys_set_logstream (use_syslog ? NULL : stderr);
}
