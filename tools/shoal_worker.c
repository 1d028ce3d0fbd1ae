/*  shoal-worker - executors for another host's queues, on a host without
    a store.

    It joins an owner (shoald --bind) like `shoald --join` does, announces
    itself as a worker with its labels and capacity, and runs `capacity`
    executors of one slot each, so it never holds more leases than its
    capacity. Handlers: the built-in ones (exec among them) and plugins.
    Executors are threads here; for a process per executor, run
    `shoald --join ... --mode process`.
*/
#include "shoal_config.h"
#include "shoal_curve.h"
#include "shoal_host.h"
#include "shoal_job.h"
#include "shoal_log.h"
#include "shoal_node.h"
#include "shoal_plugins.h"
#include "shoal_version.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define EXIT_USAGE 2

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: shoal-worker --join tcp://HOST:PORT [options]\n"
             "  -j, --join EP          the owner's link endpoint (shoald "
             "--bind)\n"
             "  -n, --name NAME        this worker's name (default: the host "
             "name)\n"
             "  -l, --label L          a capability jobs may require; "
             "repeatable\n"
             "  -c, --capacity N       leases held at most, one executor "
             "each (default: cores)\n"
             "      --plugin PATH      load a handler plugin (.so); "
             "repeatable\n"
             "      --cert FILE        this worker's secret certificate "
             "(CURVE; $SHOAL_CERT)\n"
             "      --server-key KEY   the owner's public key, Z85 or its .key "
             "file ($SHOAL_SERVER_KEY)\n"
             "      --heartbeat MS     beat interval (default 500)\n"
             "      --liveness N       beats missed before a link is dead "
             "(default 4)\n"
             "      --set KEY=VALUE    any shoald configuration key\n"
             "  -v, --verbose          debug logging\n"
             "  -V, --version          print the version and exit\n"
             "  -h, --help             this help\n");
}

static int s_fail (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));

static int
s_fail (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fprintf (stderr, "shoal-worker: ");
    vfprintf (stderr, fmt, ap);
    fprintf (stderr, "\n(run 'shoal-worker --help' for usage)\n");
    va_end (ap);
    return EXIT_USAGE;
}

/*  Sets key to value; a usage error if the configuration refuses it. */
static int
s_put (shoal_config_t *cfg, const char *key, const char *value)
{
    if (shoal_config_set (cfg, key, value)) {
        fprintf (stderr, "shoal-worker: cannot set %s\n", key);
        return -1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        {"join", required_argument, NULL, 'j'},
        {"name", required_argument, NULL, 'n'},
        {"label", required_argument, NULL, 'l'},
        {"capacity", required_argument, NULL, 'c'},
        {"plugin", required_argument, NULL, 'p'},
        {"cert", required_argument, NULL, 'C'},
        {"server-key", required_argument, NULL, 'K'},
        {"heartbeat", required_argument, NULL, 'B'},
        {"liveness", required_argument, NULL, 'L'},
        {"set", required_argument, NULL, 'S'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    shoal_err_t rc;
    shoal_config_t *cfg = shoal_config_load (NULL, &rc);
    if (!cfg) {
        fprintf (stderr, "shoal-worker: out of memory\n");
        return EXIT_USAGE;
    }
    const char *cert = getenv ("SHOAL_CERT");
    const char *server_key = getenv ("SHOAL_SERVER_KEY");
    char labels[1024] = "", plugins[4096] = "";
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    char capacity[32];
    snprintf (capacity, sizeof capacity, "%ld", cores > 0 ? cores : 1);
    bool verbose = false;
    int code = 0;
    int c;
    while (code == 0 && (c = getopt_long (argc, argv, "j:n:l:c:vVh", longopts,
                                          NULL)) != -1) {
        switch (c) {
            case 'j':
                code = s_put (cfg, "cluster/join", optarg) ? EXIT_USAGE : 0;
                break;
            case 'n':
                code = s_put (cfg, "cluster/name", optarg) ? EXIT_USAGE : 0;
                break;
            case 'l': {
                size_t at = strlen (labels);
                if (at + strlen (optarg) + 2 > sizeof labels) {
                    code = s_fail ("too many labels at '%s'", optarg);
                } else {
                    snprintf (labels + at, sizeof labels - at, "%s%s",
                              at ? "," : "", optarg);
                }
                break;
            }
            case 'c': {
                char *end;
                long n = strtol (optarg, &end, 10);
                if (*end || n < 1 || n > 256) {
                    code = s_fail ("--capacity wants 1..256, got '%s'", optarg);
                } else {
                    snprintf (capacity, sizeof capacity, "%ld", n);
                }
                break;
            }
            case 'p': {
                size_t at = strlen (plugins);
                if (at + strlen (optarg) + 2 > sizeof plugins) {
                    code = s_fail ("too many plugins at '%s'", optarg);
                } else {
                    snprintf (plugins + at, sizeof plugins - at, "%s%s",
                              at ? ":" : "", optarg);
                }
                break;
            }
            case 'C':
                cert = optarg;
                break;
            case 'K':
                server_key = optarg;
                break;
            case 'B':
                code =
                    s_put (cfg, "cluster/heartbeat", optarg) ? EXIT_USAGE : 0;
                break;
            case 'L':
                code = s_put (cfg, "cluster/liveness", optarg) ? EXIT_USAGE : 0;
                break;
            case 'S': {
                const char *eq = strchr (optarg, '=');
                char key[128];
                if (!eq || eq == optarg ||
                    (size_t) (eq - optarg) >= sizeof key) {
                    code = s_fail ("--set wants KEY=VALUE, got '%s'", optarg);
                    break;
                }
                memcpy (key, optarg, (size_t) (eq - optarg));
                key[eq - optarg] = '\0';
                code = s_put (cfg, key, eq + 1) ? EXIT_USAGE : 0;
                break;
            }
            case 'v':
                verbose = true;
                break;
            case 'V':
                printf ("shoal-worker %s\n", SHOAL_VERSION_STRING);
                shoal_config_destroy (&cfg);
                return 0;
            case 'h':
                s_usage (stdout);
                shoal_config_destroy (&cfg);
                return 0;
            default:
                s_usage (stderr);
                code = EXIT_USAGE;
        }
    }
    if (code == 0 && optind < argc) {
        code = s_fail ("unexpected argument '%s'", argv[optind]);
    }
    if (code == 0 && !shoal_config_get (cfg, "cluster/join")[0]) {
        code = s_fail ("%s", "--join tcp://HOST:PORT is required");
    }
    if (code == 0 &&
        !streq (shoal_config_get (cfg, "executors/mode"), "thread")) {
        code = s_fail ("%s", "shoal-worker runs its executors as threads; for "
                             "a process per executor use shoald --join ... "
                             "--mode process");
    }
    if (code == 0 && (cert && cert[0]) != (server_key && server_key[0])) {
        code = s_fail ("%s", "CURVE needs both --cert and --server-key");
    }
    if (code == 0 && (s_put (cfg, "executors/labels", labels) ||
                      s_put (cfg, "executors/count", capacity) ||
                      s_put (cfg, "executors/prefetch", "1") ||
                      s_put (cfg, "executors/plugins", plugins) ||
                      (cert && cert[0] &&
                       (s_put (cfg, "shoald/curve_cert", cert) ||
                        s_put (cfg, "cluster/server_key", server_key))) ||
                      shoal_config_check (cfg))) {
        code = s_fail ("%s", "invalid settings (see above)");
    }
    if (code) {
        shoal_config_destroy (&cfg);
        return code;
    }
    /* Signals belong to main (see shoald). */
    int sigfd = shoal_host_signals ();
    if (sigfd < 0) {
        fprintf (stderr, "shoal-worker: signalfd: %s\n", strerror (errno));
        shoal_config_destroy (&cfg);
        return SHOAL_HOST_EXIT_STARTUP;
    }
    shoal_log_setup ("shoal-worker", false);
    char why[512];
    shoal_plugins_t *loaded = shoal_plugins_load (
        plugins, shoal_node_builtins (), why, sizeof why, &rc);
    if (!loaded) {
        fprintf (stderr, "shoal-worker: %s\n", why);
        code = EXIT_USAGE;
    } else {
        code = shoal_host_run (cfg, sigfd, verbose, "worker");
    }
    shoal_plugins_destroy (&loaded);
    shoal_config_destroy (&cfg);
    close (sigfd);
    zsys_shutdown ();
    return code;
}
