/*  shoald - the Shoal daemon: one host.

    Starts the bus, then under a supervisor the store (recovery runs
    before anything else is served), the scheduler, the monitor, the
    executors and last the control endpoint, so that a request can never
    arrive before the actors that serve it. Stops in reverse order on
    SIGINT, SIGTERM or a SHUTDOWN request.

    The same binary runs process actors: `shoald --actor node ...` is how
    the supervisor starts an executor in its own process.
*/
#include "shoal_actor.h"
#include "shoal_bus.h"
#include "shoal_config.h"
#include "shoal_control.h"
#include "shoal_endpoint.h"
#include "shoal_host.h"
#include "shoal_log.h"
#include "shoal_monitor.h"
#include "shoal_router.h"
#include "shoal_node.h"
#include "shoal_plugins.h"
#include "shoal_proc.h"
#include "shoal_registry.h"
#include "shoal_scheduler.h"
#include "shoal_store.h"
#include "shoal_supervisor.h"
#include "shoal_version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define EXIT_USAGE   2
#define EXIT_STARTUP SHOAL_HOST_EXIT_STARTUP

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: shoald [options]\n"
             "  -c, --config FILE      ZPL configuration file\n"
             "  -d, --data DIR         data folder (default ./shoal-data)\n"
             "  -e, --control EP       control endpoint "
             "(default tcp://127.0.0.1:5570)\n"
             "  -m, --monitor EP       monitor endpoint "
             "(default tcp://127.0.0.1:5571)\n"
             "  -s, --sync MODE        full | meta | none (default full)\n"
             "  -x, --executors N      executor actors (default 4)\n"
             "      --mode MODE        executors as thread | process\n"
             "      --plugin PATH      load a handler plugin (.so); "
             "repeatable\n"
             "      --bind EP          accept hosts and workers on EP "
             "(tcp://ADDR:PORT)\n"
             "      --join EP          serve the host at EP: run executors "
             "for its queues\n"
             "      --host-name NAME   this host's name in the cluster "
             "(default: hostname)\n"
             "      --set KEY=VALUE    any configuration key, e.g. "
             "store/batch_max=1024\n"
             "      --syslog           log to syslog instead of stderr\n"
             "  -v, --verbose          debug logging\n"
             "  -V, --version          print the version and exit\n"
             "  -h, --help             this help\n"
             "Command-line options override the file; see "
             "docs/operations.md.\n");
}

typedef struct {
    const char *config_path;
    const char *actor_kind; /* process actor mode */
    const char *actor_name;
    const char *actor_bus;
    pid_t parent;
} s_opts_t;

/*  Applies one KEY=VALUE override. */
static int
s_set (shoal_config_t *cfg, const char *kv)
{
    const char *eq = strchr (kv, '=');
    if (!eq || eq == kv) {
        fprintf (stderr, "shoald: --set wants KEY=VALUE, got '%s'\n", kv);
        return -1;
    }
    char key[128];
    size_t klen = (size_t) (eq - kv);
    if (klen >= sizeof key) {
        fprintf (stderr, "shoald: key too long in '%s'\n", kv);
        return -1;
    }
    memcpy (key, kv, klen);
    key[klen] = '\0';
    if (shoal_config_set (cfg, key, eq + 1)) {
        fprintf (stderr, "shoald: unknown configuration key '%s'\n", key);
        return -1;
    }
    return 0;
}

/*  Appends --plugin paths to executors/plugins. */
static int
s_add_plugins (shoal_config_t *cfg, const char *const *paths, int n)
{
    size_t len = strlen (shoal_config_get (cfg, "executors/plugins")) + 1;
    for (int i = 0; i < n; i++) {
        len += strlen (paths[i]) + 1;
    }
    char *all = malloc (len);
    if (!all) {
        fprintf (stderr, "shoald: out of memory\n");
        return -1;
    }
    size_t at = (size_t) snprintf (all, len, "%s",
                                   shoal_config_get (cfg, "executors/plugins"));
    for (int i = 0; i < n; i++) {
        at += (size_t) snprintf (all + at, len - at, "%s%s", at ? ":" : "",
                                 paths[i]);
    }
    int rc = shoal_config_set (cfg, "executors/plugins", all) ? -1 : 0;
    free (all);
    return rc;
}

static zactor_fn *
s_actor_fn (const char *kind)
{
    if (streq (kind, "node")) {
        return shoal_node_actor;
    }
    return NULL;
}

/*  The control and monitor endpoints are reachable from this host only
    (ipc, loopback) unless shoald/insecure_bind says otherwise: they carry
    no CURVE yet, and the control endpoint can cancel, purge and shut
    down. 0, or EXIT_USAGE with the reason on stderr. */
static int
s_check_binds (const shoal_config_t *cfg)
{
    int64_t insecure = 0;
    shoal_config_int (cfg, "shoald/insecure_bind", 0, 1, &insecure);
    const char *cert = shoal_config_get (cfg, "shoald/curve_cert");
    const char *allow = shoal_config_get (cfg, "shoald/curve_allow");
    bool curve = cert && cert[0];
    bool member = shoal_config_get (cfg, "cluster/join")[0] != '\0';
    if (curve) {
        struct stat st;
        /* A member accepts nothing: it needs no allowlist. */
        if (!member && (!allow || !allow[0] || stat (allow, &st) != 0 ||
                        !S_ISDIR (st.st_mode))) {
            fprintf (stderr,
                     "shoald: shoald/curve_cert needs shoald/curve_allow, a "
                     "folder of the public certificates let in (got '%s')\n",
                     allow ? allow : "");
            return EXIT_USAGE;
        }
        zcert_t *c = zcert_load (cert);
        bool secret = c && !streq (zcert_secret_txt (c),
                                   "0000000000000000000000000000000000000000");
        zcert_destroy (&c);
        if (!secret) {
            fprintf (stderr,
                     "shoald: shoald/curve_cert %s is not a secret "
                     "certificate (shoal keygen writes NAME.key_secret)\n",
                     cert);
            return EXIT_USAGE;
        }
    }
    const char *join = shoal_config_get (cfg, "cluster/join");
    if (curve && member && !shoal_config_get (cfg, "cluster/server_key")[0]) {
        fprintf (stderr,
                 "shoald: joining %s over CURVE needs "
                 "cluster/server_key, the owner's public key (its "
                 "NAME.key file or the 40 characters in it)\n",
                 join);
        return EXIT_USAGE;
    }
    const char *key = shoal_config_get (cfg, "cluster/server_key");
    if (!curve && member && key[0]) {
        fprintf (stderr,
                 "shoald: cluster/server_key is set but shoald/curve_cert is "
                 "not: a member speaks CURVE with its own secret certificate "
                 "(shoal keygen) and the owner's public key\n");
        return EXIT_USAGE;
    }
    const char *links[] = {"cluster/bind", "cluster/join"};
    for (size_t i = 0; i < 2; i++) {
        const char *ep = shoal_config_get (cfg, links[i]);
        const char *colon = strrchr (ep, ':');
        long port =
            colon && strncmp (ep, "tcp://", 6) == 0 &&
                    strspn (colon + 1, "0123456789") == strlen (colon + 1) &&
                    colon[1]
                ? strtol (colon + 1, NULL, 10)
                : 0;
        if (ep[0] && ((strncmp (ep, "tcp://", 6) != 0 &&
                       strncmp (ep, "ipc://", 6) != 0) ||
                      port > 65535)) {
            fprintf (stderr,
                     "shoald: %s '%s': want tcp://ADDR:PORT (or "
                     "ipc://PATH on one machine)\n",
                     links[i], ep);
            return EXIT_USAGE;
        }
    }
    const char *keys[] = {"shoald/control", "shoald/monitor", "cluster/bind"};
    const char *what[] = {"control", "monitor", "link"};
    for (size_t i = member ? 2 : 0; i < 3; i++) {
        const char *ep = shoal_config_get (cfg, keys[i]);
        if (!ep[0] || shoal_endpoint_local (ep) || (i != 1 && curve)) {
            continue; /* CURVE guards the control and link endpoints */
        }
        if (!insecure) {
            fprintf (stderr,
                     "shoald: refusing to bind %s %s: it is reachable from "
                     "other hosts and has no CURVE security; use ipc:// or a "
                     "loopback address (127.0.0.1, [::1]), or force it with "
                     "--set shoald/insecure_bind=1\n",
                     what[i], ep);
            return EXIT_USAGE;
        }
        shoal_warn ("shoald: %s %s is reachable from other hosts without "
                    "security (shoald/insecure_bind=1)",
                    what[i], ep);
    }
    return 0;
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"control", required_argument, NULL, 'e'},
        {"monitor", required_argument, NULL, 'm'},
        {"sync", required_argument, NULL, 's'},
        {"executors", required_argument, NULL, 'x'},
        {"mode", required_argument, NULL, 'M'},
        {"set", required_argument, NULL, 'S'},
        {"plugin", required_argument, NULL, 'p'},
        {"syslog", no_argument, NULL, 'L'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"actor", required_argument, NULL, 'A'},
        {"name", required_argument, NULL, 'N'},
        {"bus", required_argument, NULL, 'B'},
        {"parent", required_argument, NULL, 'P'},
        {"bind", required_argument, NULL, 'b'},
        {"join", required_argument, NULL, 'j'},
        {"host-name", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0}};
    s_opts_t o = {0};
    /* Overrides are applied after the file is loaded: remember them. */
    const char *sets[64][2];
    int nsets = 0;
    const char *plugins[SHOAL_PLUGINS_MAX];
    int nplugins = 0;
    bool use_syslog = false, verbose = false;
    int c;
    while ((c = getopt_long (argc, argv, "c:d:e:m:s:x:vVh", longopts, NULL)) !=
           -1) {
        const char *key = NULL;
        switch (c) {
            case 'c':
                o.config_path = optarg;
                break;
            case 'd':
                key = "shoald/data";
                break;
            case 'e':
                key = "shoald/control";
                break;
            case 'm':
                key = "shoald/monitor";
                break;
            case 's':
                key = "store/sync";
                break;
            case 'x':
                key = "executors/count";
                break;
            case 'M':
                key = "executors/mode";
                break;
            case 'b':
                key = "cluster/bind";
                break;
            case 'j':
                key = "cluster/join";
                break;
            case 'H':
                key = "cluster/name";
                break;
            case 'S':
                key = "";
                break;
            case 'p':
                if (nplugins == SHOAL_PLUGINS_MAX) {
                    fprintf (stderr, "shoald: too many --plugin options\n");
                    return EXIT_USAGE;
                }
                plugins[nplugins++] = optarg;
                break;
            case 'L':
                use_syslog = true;
                break;
            case 'v':
                verbose = true;
                break;
            case 'V':
                printf ("shoald %s\n", SHOAL_VERSION_STRING);
                return 0;
            case 'h':
                s_usage (stdout);
                return 0;
            case 'A':
                o.actor_kind = optarg;
                break;
            case 'N':
                o.actor_name = optarg;
                break;
            case 'B':
                o.actor_bus = optarg;
                break;
            case 'P':
                o.parent = (pid_t) atoi (optarg);
                break;
            default:
                s_usage (stderr);
                return EXIT_USAGE;
        }
        if (key) {
            if (nsets == 64) {
                fprintf (stderr, "shoald: too many options\n");
                return EXIT_USAGE;
            }
            sets[nsets][0] = key;
            sets[nsets][1] = optarg;
            nsets++;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "shoald: unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr);
        return EXIT_USAGE;
    }
    /* Signals belong to main: blocked in every thread to come, read from
       a signalfd in the supervisor's loop. */
    int sigfd = shoal_host_signals ();
    if (sigfd < 0) {
        fprintf (stderr, "shoald: signalfd: %s\n", strerror (errno));
        return EXIT_STARTUP;
    }
    char ident[96];
    snprintf (ident, sizeof ident, "shoald%s%s", o.actor_name ? "/" : "",
              o.actor_name ? o.actor_name : "");
    shoal_log_setup (ident, use_syslog);

    shoal_err_t rc;
    shoal_config_t *cfg = shoal_config_load (o.config_path, &rc);
    if (!cfg) {
        fprintf (stderr, "shoald: cannot load configuration %s\n",
                 o.config_path);
        return EXIT_USAGE;
    }
    for (int i = 0; i < nsets; i++) {
        int bad = sets[i][0][0]
                      ? (shoal_config_set (cfg, sets[i][0], sets[i][1]) != 0)
                      : s_set (cfg, sets[i][1]);
        if (bad) {
            shoal_config_destroy (&cfg);
            return EXIT_USAGE;
        }
    }
    if (nplugins > 0 && s_add_plugins (cfg, plugins, nplugins)) {
        shoal_config_destroy (&cfg);
        return EXIT_USAGE;
    }
    if (shoal_config_check (cfg)) {
        fprintf (stderr, "shoald: invalid configuration (see above)\n");
        shoal_config_destroy (&cfg);
        return EXIT_USAGE;
    }
    if (streq (shoal_config_get (cfg, "shoald/log"), "syslog")) {
        shoal_log_setup (ident, true);
    }
    verbose = verbose || streq (shoal_config_get (cfg, "shoald/verbose"), "1");

    /* A plugin that cannot load stops the host before anything starts;
       kept loaded until exit (executors take their own references). A
       process actor loads its own and reports a failure at its start. */
    shoal_plugins_t *loaded = NULL;
    if (!o.actor_kind) {
        char why[512];
        loaded =
            shoal_plugins_load (shoal_config_get (cfg, "executors/plugins"),
                                shoal_node_builtins (), why, sizeof why, &rc);
        if (!loaded) {
            fprintf (stderr, "shoald: %s\n", why);
            shoal_config_destroy (&cfg);
            return EXIT_USAGE;
        }
        if (shoal_plugins_types (loaded) > 0) {
            char list[1024];
            shoal_plugins_describe (loaded, list, sizeof list);
            shoal_info ("shoald: plugin job types: %s", list);
        }
    }
    int code;
    if (o.actor_kind) {
        zactor_fn *fn = s_actor_fn (o.actor_kind);
        if (!fn || !o.actor_name || !o.actor_bus) {
            fprintf (stderr, "shoald: --actor needs a known kind, --name and "
                             "--bus\n");
            code = EXIT_USAGE;
        } else {
            shoal_actor_args_t args = {
                .name = o.actor_name,
                .bus = o.actor_bus,
                .clock = shoal_clock_real (),
                .config = cfg,
                .verbose = verbose,
            };
            code = shoal_proc_run (fn, &args, o.parent, sigfd);
        }
    } else if ((code = s_check_binds (cfg)) == 0) {
        code = shoal_host_run (cfg, sigfd, verbose, "host");
    }
    shoal_plugins_destroy (&loaded);
    shoal_config_destroy (&cfg);
    close (sigfd);
    zsys_shutdown ();
    return code;
}
