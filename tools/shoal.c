/*  shoal - the command-line client of a shoald control endpoint.

    Every command is one request and one reply over a DEALER socket (wait
    repeats bounded WAIT requests; monitor subscribes to the monitor's
    XPUB). Human output by default, --json for scripts. `workflow
    validate` is local: it reads a file and talks to nobody. Exit codes:
        0  success
        1  shoald answered with an error (the message says which), or a
           workflow file is invalid or cannot be read
        2  usage error
        3  no answer from shoald (not running, wrong endpoint, timeout)
        4  wait: the job finished but did not succeed
        5  wait: the job did not finish within --timeout
*/
#include "shoal_clock.h"
#include "shoal_cluster.h"
#include "shoal_curve.h"
#include "shoal_duration.h"
#include "shoal_graph.h"
#include "shoal_keygen.h"
#include "shoal_job.h"
#include "shoal_json.h"
#include "shoal_log.h"
#include "shoal_mp.h"
#include "shoal_place.h"
#include "shoal_port.h"
#include "shoal_retry.h"
#include "shoal_version.h"
#include "shoal_wf.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_REFUSED   1
#define EXIT_USAGE     2
#define EXIT_NOANSWER  3
#define EXIT_JOBFAILED 4
#define EXIT_WAITTIME  5

#define S_DEFAULT_EP     "tcp://127.0.0.1:5570"
#define S_REQ_TIMEOUT_MS 10000
#define S_WAIT_SLICE_MS  60000

typedef struct {
    const char *endpoint;
    shoal_port_t *port;
    shoal_clock_t clock;
    int timeout_ms;
    bool curve; /* a refused key looks like silence: say so */
} s_cli_t;

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: shoal [-e ENDPOINT] [--cert FILE --server-key KEY] COMMAND "
        "[ARGS]\n"
        "  -e, --endpoint EP   control endpoint (default $SHOAL_ENDPOINT "
        "or " S_DEFAULT_EP ")\n"
        "  --cert FILE         this client's secret certificate (CURVE; "
        "$SHOAL_CERT)\n"
        "  --server-key KEY    shoald's public key, Z85 or its .key file "
        "($SHOAL_SERVER_KEY)\n"
        "\n"
        "commands:\n"
        "  ping                          check that shoald answers\n"
        "  submit --type T [--queue Q] [--priority critical|high|normal|low]\n"
        "         [--payload JSON] [--key K] [--delay DUR | --at TIME]\n"
        "         [--timeout DUR] [--retry POLICY]\n"
        "         [--after ID [--after-mode success|any]] [--require "
        "LABEL]...\n"
        "                                submit a job; prints its id last,\n"
        "                                after it is committed; --after: a\n"
        "                                continuation of job or batch ID\n"
        "                                (runs when it succeeded, or with\n"
        "                                any: when it ended at all);\n"
        "                                --require: runs only on executors\n"
        "                                with that label (up to 8)\n"
        "         POLICY: none | fixed|linear|exponential:max=N,delay=D\n"
        "                 [,max_delay=D][,multiplier=X][,jitter=F]\n"
        "                 [,on=CLASS|..][,not_on=CLASS|..]\n"
        "         DUR: 500ms, 10s, 5m, 2h; TIME: 2026-12-01T09:30:00Z or "
        "@UNIX\n"
        "  status ID [--json]            show a job or batch (also: show ID)\n"
        "  batch submit FILE|- [--key K] [--json]\n"
        "                                submit jobs atomically as one batch:\n"
        "                                a JSON array or JSON lines of\n"
        "                                {type, queue, priority, payload,\n"
        "                                delay, at, timeout, retry,\n"
        "                                require}; prints\n"
        "                                the batch id, then the job ids\n"
        "  batch show ID [--json]        a batch: state, counts, its jobs\n"
        "  list [--state S] [--queue Q] [--type T] [--limit N] [--after C]\n"
        "       [--all] [--json]         list jobs, oldest first; --json: a\n"
        "                                line per job, then {\"next\": C}\n"
        "                                when there is more\n"
        "  dlq list|show ID|retry ID|purge ID|purge --all\n"
        "                                the dead-letter queue\n"
        "  pause [QUEUE] / resume [QUEUE] stop/restart leasing (a queue, or\n"
        "                                the whole host); durable\n"
        "  queue set QUEUE [--concurrency N] [--rate N/s|none] [--burst N]\n"
        "            [--retry POLICY] [--keep N] [--policy P]\n"
        "                                default retry policy; finished\n"
        "                                jobs kept (0 = by age only);\n"
        "                                P: how executors are chosen:\n"
        "                                least-loaded (default), round-robin,\n"
        "                                weighted, random\n"
        "  queue list                    per-queue limits, across executors\n"
        "  schedule add NAME --cron EXPR --type T [--queue Q] [--priority P]\n"
        "         [--payload JSON] [--retry POLICY] [--timeout DUR]\n"
        "                                a recurring job (cron, UTC; 5 fields\n"
        "                                or 6 with seconds; @daily, ...)\n"
        "  schedule list | schedule rm NAME\n"
        "  cancel ID                     cancel a job that has not ended\n"
        "  retry ID                      run a dead or cancelled job again\n"
        "                                (a running sleep/exec is stopped)\n"
        "  backup PATH                   hot, compacted copy of the data\n"
        "                                (PATH: a new or empty folder)\n"
        "  wait [--timeout S] [--json] ID\n"
        "                                wait until the job (or batch)\n"
        "                                finishes\n"
        "                                (exit 0 succeeded, 4 failed, 5 "
        "timeout)\n"
        "  stats [--queues] [--json]     job counts by state; per queue:\n"
        "                                ready by priority, in flight, "
        "totals;\n"
        "                                the executors and their labels\n"
        "  monitor [--topic PREFIX] [--json] [--count N] [--monitor EP]\n"
        "                                stream events\n"
        "  hosts [--json]                this host and the hosts that joined\n"
        "                                it: role, state, executors, slots,\n"
        "                                leases in flight, load, heartbeat\n"
        "  workers [--json]              the workers that joined it\n"
        "                                (shoal-worker, external workers)\n"
        "  shutdown                      stop shoald in order\n"
        "  keygen DIR [--name N] [--force]\n"
        "                                a CURVE certificate pair: "
        "DIR/N.key,\n"
        "                                DIR/N.key_secret (local)\n"
        "  workflow define [--types T,T...] FILE|-\n"
        "                                store a definition in shoald (the\n"
        "                                next revision of its name)\n"
        "  workflow defs [--json]        stored definitions, latest "
        "revisions\n"
        "  workflow run NAME|FILE [--input JSON] [--revision N]\n"
        "                                start a run (a FILE is defined\n"
        "                                first); prints the run id; then\n"
        "                                shoal wait RUN works as for jobs\n"
        "  workflow show RUN [--json] [--ascii|--utf8]\n"
        "         [--watch [--timeout S]]\n"
        "                                the run: its graph with each "
        "node's\n"
        "                                state and the path taken, then "
        "each\n"
        "                                node's attempts, timings, output;\n"
        "                                --watch: again as it changes, "
        "until\n"
        "                                the run ends (exit as wait) or S\n"
        "                                seconds (default 60) pass (exit 5)\n"
        "  workflow list [--after RUN] [--json]        runs, oldest first\n"
        "  workflow cancel RUN           stop a run (running nodes too)\n"
        "  workflow pause|resume RUN     nothing new starts while paused\n"
        "  workflow validate [--types T,T...] FILE|-\n"
        "                                check a workflow definition (no\n"
        "                                daemon needed); --types: plugin\n"
        "                                node types to allow\n"
        "\n"
        "exit codes: 0 ok, 1 refused by shoald (or an invalid workflow\n"
        "            file), 2 usage, 3 no answer,\n"
        "            4 job failed, 5 wait timed out\n"
        "environment: SHOAL_ENDPOINT (control endpoint), SHOAL_CERT,\n"
        "             SHOAL_SERVER_KEY (CURVE), SHOAL_TIMEOUT\n"
        "             (seconds to wait for an answer, default 10)\n");
}

static int s_usage_error (const char *fmt, ...) SHOAL_PRINTF (1, 2);

static int
s_usage_error (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fprintf (stderr, "shoal: ");
    vfprintf (stderr, fmt, ap);
    fprintf (stderr, "\n(run 'shoal --help' for usage)\n");
    va_end (ap);
    return EXIT_USAGE;
}

/*  ---------------------------------------------------------------------
    Request / reply */

static shoal_wr_t *
s_begin (s_cli_t *cli, uint32_t type, shoal_id_t *id, uint64_t deadline_us)
{
    shoal_hdr_t hdr;
    memset (&hdr, 0, sizeof hdr);
    hdr.type = type;
    strcpy (hdr.to, "control");
    hdr.deadline_us = deadline_us;
    shoal_port_new_id (cli->port, &hdr.id);
    *id = hdr.id;
    return shoal_port_begin_hdr (cli->port, &hdr);
}

/*  Sends the request begun last and waits for its reply. EXIT_NOANSWER
    (message printed) if none comes within timeout_ms. */
static int
s_call (s_cli_t *cli, const shoal_id_t *id, int timeout_ms, shoal_in_t *in)
{
    if (shoal_port_send (cli->port)) {
        fprintf (stderr, "shoal: cannot send to %s\n", cli->endpoint);
        return EXIT_NOANSWER;
    }
    zpoller_t *poller = zpoller_new (shoal_port_sock (cli->port), NULL);
    int64_t until = zclock_mono () + timeout_ms;
    int code = EXIT_NOANSWER;
    while (poller) {
        int64_t left = until - zclock_mono ();
        if (left <= 0 || !zpoller_wait (poller, (int) left)) {
            if (zpoller_terminated (poller)) {
                fprintf (stderr, "shoal: interrupted\n");
            } else {
                fprintf (stderr,
                         "shoal: no answer from shoald at %s within %d ms "
                         "(is it running?%s)\n",
                         cli->endpoint, timeout_ms,
                         cli->curve ? " is this client's key in its "
                                      "allowlist, and --server-key its key?"
                                    : "");
            }
            break;
        }
        if (shoal_port_recv (cli->port, in, ZMQ_DONTWAIT) != SHOAL_OK) {
            continue;
        }
        /* An ERROR without corr answers a request shoald could not even
           decode; with one request outstanding, it is ours. */
        if ((in->hdr.has_corr && memcmp (&in->hdr.corr, id, sizeof *id) == 0) ||
            (!in->hdr.has_corr && in->hdr.type == SHOAL_M_ERROR)) {
            code = 0;
            break;
        }
        shoal_in_close (in); /* an answer to an earlier, abandoned request */
    }
    zpoller_destroy (&poller);
    return code;
}

/*  Prints an ERROR reply; returns EXIT_REFUSED. */
static int
s_refused (const shoal_in_t *in)
{
    uint64_t code = 0;
    const char *text = "";
    uint32_t len = 0;
    shoal_map_uint (in->body, in->body_len, "code", &code);
    shoal_map_str (in->body, in->body_len, "text", &text, &len);
    fprintf (stderr, "shoal: error %s (%llu): %.*s\n",
             shoal_errname ((int) code), (unsigned long long) code, (int) len,
             text);
    return EXIT_REFUSED;
}

/*  s_call, then: an OK reply stays in *in (the caller closes it) and 0 is
    returned; an ERROR is printed, closed, and gives EXIT_REFUSED. */
static int
s_ask (s_cli_t *cli, const shoal_id_t *id, int timeout_ms, shoal_in_t *in)
{
    int rc = s_call (cli, id, timeout_ms, in);
    if (rc == 0 && in->hdr.type != SHOAL_M_OK) {
        rc = s_refused (in);
        shoal_in_close (in);
    }
    return rc;
}

/*  A request whose body is {id: jid}; see s_ask for the result. */
static int
s_ask_id (s_cli_t *cli, uint32_t type, const char *jid, shoal_in_t *in)
{
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, type, &id, 0);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "id", jid);
    return s_ask (cli, &id, cli->timeout_ms, in);
}

static void
s_print_json (const uint8_t *mp, size_t len)
{
    shoal_limits_t lim = shoal_limits_default ();
    json_t *j = shoal_mp_to_json (mp, len, &lim, NULL);
    if (j) {
        char *s = json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY |
                                     JSON_REAL_PRECISION (15));
        if (s) {
            puts (s);
            free (s);
        }
        json_decref (j);
    }
}

/*  ---------------------------------------------------------------------
    Commands */

static int
s_cmd_ping (s_cli_t *cli, int argc, char **argv)
{
    if (argc > 1) {
        return s_usage_error ("ping takes no arguments, got '%s'", argv[1]);
    }
    shoal_id_t id;
    shoal_wr_map (s_begin (cli, SHOAL_M_PING, &id, 0), 0);
    shoal_in_t in;
    int64_t t0 = zclock_usecs ();
    int rc = s_call (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    if (in.hdr.type != SHOAL_M_OK) {
        rc = s_refused (&in);
    } else {
        const char *v = "?";
        uint32_t vlen = 1;
        uint64_t up = 0;
        shoal_map_str (in.body, in.body_len, "version", &v, &vlen);
        shoal_map_uint (in.body, in.body_len, "uptime_ms", &up);
        printf ("shoald %.*s at %s: up %llu ms, round trip %lld us\n",
                (int) vlen, v, cli->endpoint, (unsigned long long) up,
                (long long) (zclock_usecs () - t0));
    }
    shoal_in_close (&in);
    return rc;
}

/*  "2026-12-01T09:30:00Z" (UTC; fractional seconds allowed) or
    "@1795600000" (Unix seconds) to microseconds since the epoch. */
static int
s_parse_time (const char *text, uint64_t *us)
{
    char *end;
    if (text[0] == '@') {
        errno = 0;
        double secs = strtod (text + 1, &end);
        if (errno || *end || secs < 0 || secs > 1e11) {
            return -1;
        }
        *us = (uint64_t) (secs * 1e6);
        return 0;
    }
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    end = strptime (text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) {
        return -1;
    }
    double frac = 0;
    if (*end == '.') {
        char *fend;
        frac = strtod (end, &fend);
        end = fend;
    }
    if (strcmp (end, "Z") != 0 && strcmp (end, "+00:00") != 0) {
        return -1; /* times are UTC: say so explicitly */
    }
    time_t t = timegm (&tm);
    if (t < 0) {
        return -1;
    }
    *us = (uint64_t) t * 1000000u + (uint64_t) (frac * 1e6);
    return 0;
}

/*  The job-template fields of SUBMIT and SCHEDULE add: queue, priority
    and payload (each when given; pj is consumed). Nonzero after saying
    why the payload cannot be sent. */
static int
s_write_template (shoal_wr_t *w, const char *queue, const char *prio,
                  json_t *pj)
{
    if (queue) {
        shoal_wr_kv_str (w, "queue", queue);
    }
    if (prio) {
        shoal_wr_kv_str (w, "priority", prio);
    }
    if (!pj) {
        return 0;
    }
    shoal_wr_str (w, "payload");
    shoal_err_t e = shoal_json_to_mp (pj, w);
    json_decref (pj);
    if (e) {
        fprintf (stderr, "shoal: --payload: %s\n", shoal_strerror (e));
        return 1;
    }
    return 0;
}

/*  Adds label to the --require list; nonzero after saying what is
    wrong. */
static int
s_require_add (char *list, size_t cap, const char *what, const char *label)
{
    shoal_err_t rc =
        shoal_labels_add (list, cap, label, strlen (label), SHOAL_REQUIRE_MAX);
    if (rc == SHOAL_ERR_INVALID) {
        fprintf (stderr,
                 "shoal: %s '%s': a label is 1-%d characters of A-Z a-z 0-9 "
                 ". _ -\n",
                 what, label, SHOAL_LABEL_MAX);
    } else if (rc) {
        fprintf (stderr, "shoal: %s: at most %d labels\n", what,
                 SHOAL_REQUIRE_MAX);
    }
    return rc != SHOAL_OK;
}

static int
s_cmd_submit (s_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"queue", required_argument, NULL, 'q'},
        {"priority", required_argument, NULL, 'p'},
        {"payload", required_argument, NULL, 'P'},
        {"key", required_argument, NULL, 'k'},
        {"delay", required_argument, NULL, 'd'},
        {"at", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 'T'},
        {"retry", required_argument, NULL, 'r'},
        {"after", required_argument, NULL, 'A'},
        {"after-mode", required_argument, NULL, 'M'},
        {"require", required_argument, NULL, 'R'},
        {NULL, 0, NULL, 0}};
    const char *type = NULL, *queue = NULL, *prio = NULL, *payload = NULL;
    const char *key = NULL, *retry = NULL, *after = NULL, *mode = NULL;
    char require[SHOAL_REQUIRE_TEXT_MAX] = "";
    uint64_t delay_us = 0, at_us = 0, timeout_us = 0;
    bool has_delay = false;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "t:q:p:P:k:", opts, NULL)) != -1) {
        switch (c) {
            case 't':
                type = optarg;
                break;
            case 'q':
                queue = optarg;
                break;
            case 'p':
                prio = optarg;
                break;
            case 'P':
                payload = optarg;
                break;
            case 'k':
                key = optarg;
                break;
            case 'r':
                retry = optarg;
                break;
            case 'A':
                after = optarg;
                break;
            case 'M':
                mode = optarg;
                break;
            case 'R':
                if (s_require_add (require, sizeof require, "--require",
                                   optarg)) {
                    return EXIT_USAGE;
                }
                break;
            case 'd':
                if (shoal_duration_parse (optarg, &delay_us)) {
                    return s_usage_error ("--delay '%s': a duration like "
                                          "500ms, 10s, 5m or 2h",
                                          optarg);
                }
                has_delay = true;
                break;
            case 'a':
                if (s_parse_time (optarg, &at_us)) {
                    return s_usage_error (
                        "--at '%s': a UTC time like 2026-12-01T09:30:00Z "
                        "or @UNIXSECONDS",
                        optarg);
                }
                break;
            case 'T':
                if (shoal_duration_parse (optarg, &timeout_us) ||
                    timeout_us < 1000 || timeout_us / 1000 > UINT32_MAX) {
                    return s_usage_error ("--timeout '%s': a duration like "
                                          "30s (at least 1ms)",
                                          optarg);
                }
                break;
            default:
                return s_usage_error ("bad option for %s", "submit");
        }
    }
    if (has_delay && at_us) {
        return s_usage_error ("use --delay or --at, not both%s", "");
    }
    if (key && (!*key || strlen (key) > SHOAL_KEY_MAX)) {
        return s_usage_error ("--key: 1 to %d bytes", SHOAL_KEY_MAX);
    }
    if (retry) {
        shoal_retry_t policy;
        char err[128];
        if (shoal_retry_parse (retry, &policy, err, sizeof err)) {
            return s_usage_error ("--retry '%s': %s", retry, err);
        }
    }
    shoal_id_t after_id;
    uint8_t after_mode;
    if (after && shoal_id_parse (after, strlen (after), &after_id)) {
        return s_usage_error ("--after '%s': a job or batch id (32 hex digits)",
                              after);
    }
    if (mode &&
        (!after || shoal_after_mode_parse (mode, strlen (mode), &after_mode))) {
        return s_usage_error ("--after-mode '%s': success or any, with --after",
                              mode);
    }
    if (optind < argc) {
        return s_usage_error ("submit: unexpected argument '%s'", argv[optind]);
    }
    if (!type) {
        return s_usage_error ("submit needs --type%s", "");
    }
    if (!shoal_name_valid (type, strlen (type))) {
        return s_usage_error ("--type '%s': use 1-64 of A-Z a-z 0-9 . _ : -",
                              type);
    }
    if (queue && !shoal_name_valid (queue, strlen (queue))) {
        return s_usage_error ("--queue '%s': use 1-64 of A-Z a-z 0-9 . _ : -",
                              queue);
    }
    uint8_t p;
    if (prio && shoal_prio_parse (prio, strlen (prio), &p)) {
        return s_usage_error (
            "--priority '%s': use critical, high, normal or low", prio);
    }
    json_t *pj = NULL;
    if (payload) {
        json_error_t err;
        pj = json_loads (payload, JSON_DECODE_ANY, &err);
        if (!pj) {
            fprintf (stderr, "shoal: --payload is not JSON: %s (column %d)\n",
                     err.text, err.column);
            return EXIT_USAGE;
        }
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_SUBMIT, &id, 0);
    shoal_wr_map (w, 1 + (queue != NULL) + (prio != NULL) + (pj != NULL) +
                         (key != NULL) + (retry != NULL) + has_delay +
                         (at_us != 0) + (timeout_us != 0) + (after != NULL) +
                         (mode != NULL) + (require[0] != '\0'));
    shoal_wr_kv_str (w, "type", type);
    if (require[0]) {
        shoal_wr_str (w, "require");
        shoal_labels_write (w, require);
    }
    if (after) {
        shoal_wr_kv_str (w, "after", after);
    }
    if (mode) {
        shoal_wr_kv_str (w, "after_mode", mode);
    }
    if (key) {
        shoal_wr_kv_str (w, "key", key);
    }
    if (retry) {
        shoal_wr_kv_str (w, "retry", retry);
    }
    if (has_delay) {
        shoal_wr_kv_uint (w, "delay_ms", delay_us / 1000);
    }
    if (at_us) {
        shoal_wr_kv_uint (w, "run_at_us", at_us);
    }
    if (timeout_us) {
        shoal_wr_kv_uint (w, "timeout_ms", timeout_us / 1000);
    }
    if (s_write_template (w, queue, prio, pj)) {
        return EXIT_USAGE;
    }
    shoal_in_t in;
    int rc = s_ask (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    const char *jid;
    uint32_t len;
    if (shoal_map_str (in.body, in.body_len, "id", &jid, &len) == SHOAL_OK) {
        printf ("%.*s\n", (int) len, jid);
    } else {
        fprintf (stderr, "shoal: reply without a job id\n");
        rc = EXIT_REFUSED;
    }
    shoal_in_close (&in);
    return 0;
}

static void
s_print_time (const char *label, const uint8_t *job, size_t len,
              const char *key)
{
    uint64_t us = 0;
    if (shoal_map_uint (job, len, key, &us) || us == 0) {
        return;
    }
    time_t secs = (time_t) (us / 1000000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char buf[32];
    strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    printf ("%-10s %s.%06lluZ\n", label, buf,
            (unsigned long long) (us % 1000000));
}

/*  Prints the "batch" map of a STATUS/WAIT reply. */
static void
s_print_batch (const uint8_t *b, size_t len, bool as_json)
{
    if (as_json) {
        s_print_json (b, len);
        return;
    }
    static const char *const text_keys[] = {"id", "state", "key"};
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++) {
        const char *s;
        uint32_t slen;
        if (shoal_map_str (b, len, text_keys[i], &s, &slen) == SHOAL_OK) {
            printf ("%-10s %.*s\n", text_keys[i], (int) slen, s);
        }
    }
    uint64_t total = 0, ok = 0, bad = 0;
    shoal_map_uint (b, len, "total", &total);
    shoal_map_uint (b, len, "succeeded", &ok);
    shoal_map_uint (b, len, "failed", &bad);
    printf ("%-10s %llu (succeeded %llu, failed or cancelled %llu, "
            "not ended %llu)\n",
            "jobs", (unsigned long long) total, (unsigned long long) ok,
            (unsigned long long) bad, (unsigned long long) (total - ok - bad));
    s_print_time ("created", b, len, "created_us");
    s_print_time ("finished", b, len, "finished_us");
    shoal_rd_t rd;
    uint32_t n;
    if (shoal_map_array (b, len, "jobs", &rd, &n) == SHOAL_OK) {
        for (uint32_t i = 0; i < n; i++) {
            const char *s;
            uint32_t slen;
            if (shoal_rd_str (&rd, &s, &slen)) {
                break;
            }
            printf ("%-10s %.*s\n", "job", (int) slen, s);
        }
    }
}

/*  Prints a run view: JSON, or a line for the run and one per node. */
static void
s_print_run (const uint8_t *run, size_t len, bool as_json)
{
    if (as_json) {
        s_print_json (run, len);
        return;
    }
    char id[SHOAL_ID_TEXT + 1] = "", name[SHOAL_NAME_MAX + 1] = "",
                            state[32] = "", error[256] = "";
    uint64_t rev = 0;
    shoal_map_strcpy (run, len, "id", id, sizeof id);
    shoal_map_strcpy (run, len, "workflow", name, sizeof name);
    shoal_map_strcpy (run, len, "state", state, sizeof state);
    shoal_map_strcpy (run, len, "error", error, sizeof error);
    shoal_map_uint (run, len, "revision", &rev);
    bool paused = false;
    shoal_map_bool (run, len, "paused", &paused);
    if (streq (error, state)) {
        error[0] = '\0'; /* "cancelled  cancelled" says it once */
    }
    printf ("run %s  %s rev %llu  %s%s%s%s\n", id, name,
            (unsigned long long) rev, state, paused ? " (paused)" : "",
            error[0] ? "  " : "", error);
    shoal_rd_t rd;
    uint32_t n = 0;
    if (shoal_map_array (run, len, "nodes", &rd, &n) == SHOAL_OK) {
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *nd = rd.p;
            if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
                break;
            }
            size_t nlen = (size_t) (rd.p - nd);
            char nid[SHOAL_NAME_MAX + 1] = "", type[SHOAL_NAME_MAX + 1] = "",
                                      nstate[32] = "", nerr[256] = "";
            uint64_t attempt = 0;
            shoal_map_strcpy (nd, nlen, "id", nid, sizeof nid);
            shoal_map_strcpy (nd, nlen, "type", type, sizeof type);
            shoal_map_strcpy (nd, nlen, "state", nstate, sizeof nstate);
            shoal_map_strcpy (nd, nlen, "error", nerr, sizeof nerr);
            shoal_map_uint (nd, nlen, "attempt", &attempt);
            printf ("  %-24s %-10s %-10s attempt %llu%s%s\n", nid, type, nstate,
                    (unsigned long long) attempt, nerr[0] ? "  " : "", nerr);
        }
    }
}

/*  Prints the "job" (or "batch") map of a STATUS/WAIT reply. */
static void
s_print_job (const shoal_in_t *in, bool as_json)
{
    shoal_mp_val_t v;
    const uint8_t *job;
    size_t len;
    if (shoal_map_find (in->body, in->body_len, "batch", &v, &job, &len) ==
            SHOAL_OK &&
        v.type == SHOAL_MP_MAP) {
        s_print_batch (job, len, as_json);
        return;
    }
    if (shoal_map_find (in->body, in->body_len, "run", &v, &job, &len) ==
            SHOAL_OK &&
        v.type == SHOAL_MP_MAP) {
        s_print_run (job, len, as_json);
        return;
    }
    if (shoal_map_find (in->body, in->body_len, "job", &v, &job, &len) ||
        v.type != SHOAL_MP_MAP) {
        fprintf (stderr, "shoal: reply without a job\n");
        return;
    }
    if (as_json) {
        s_print_json (job, len);
        return;
    }
    static const char *const text_keys[] = {
        "id",       "state", "type",  "queue",      "priority",
        "executor", "error", "after", "after_mode", "batch"};
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++) {
        const char *s;
        uint32_t slen;
        if (shoal_map_str (job, len, text_keys[i], &s, &slen) == SHOAL_OK) {
            printf ("%-10s %.*s\n", text_keys[i], (int) slen, s);
        }
    }
    shoal_rd_t rd;
    uint32_t nreq;
    if (shoal_map_array (job, len, "require", &rd, &nreq) == SHOAL_OK) {
        printf ("%-10s ", "require");
        for (uint32_t i = 0; i < nreq; i++) {
            const char *l;
            uint32_t llen;
            if (shoal_rd_str (&rd, &l, &llen) == SHOAL_OK) {
                printf ("%s%.*s", i ? "," : "", (int) llen, l);
            }
        }
        printf ("\n");
    }
    uint64_t attempt = 0;
    shoal_map_uint (job, len, "attempt", &attempt);
    printf ("%-10s %llu\n", "attempt", (unsigned long long) attempt);
    s_print_time ("created", job, len, "created_us");
    s_print_time ("started", job, len, "started_us");
    s_print_time ("finished", job, len, "finished_us");
    static const char *const json_keys[] = {"payload", "result"};
    for (size_t i = 0; i < 2; i++) {
        const uint8_t *raw;
        size_t rlen;
        if (shoal_map_find (job, len, json_keys[i], &v, &raw, &rlen) ==
            SHOAL_OK) {
            printf ("%-10s ", json_keys[i]);
            fflush (stdout);
            s_print_json (raw, rlen);
        }
    }
}

static int
s_parse_id_arg (int argc, char **argv, const char *cmd, const char **id)
{
    if (optind != argc - 1) {
        return s_usage_error ("%s needs exactly one job, batch or run id", cmd);
    }
    shoal_id_t tmp;
    *id = argv[optind];
    if (shoal_id_parse (*id, strlen (*id), &tmp)) {
        return s_usage_error ("'%s' is not an id (32 hex digits)", *id);
    }
    return 0;
}

static int
s_cmd_status (s_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "j", opts, NULL)) != -1) {
        if (c != 'j') {
            return s_usage_error ("bad option for %s", "status");
        }
        as_json = true;
    }
    const char *jid = NULL;
    int rc = s_parse_id_arg (argc, argv, "status", &jid);
    if (rc) {
        return rc;
    }
    shoal_in_t in;
    if ((rc = s_ask_id (cli, SHOAL_M_STATUS, jid, &in))) {
        return rc;
    }
    s_print_job (&in, as_json);
    shoal_in_close (&in);
    return rc;
}

static int
s_cmd_wait (s_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    double timeout_s = -1;
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "t:j", opts, NULL)) != -1) {
        if (c == 't') {
            char *end;
            errno = 0;
            timeout_s = strtod (optarg, &end);
            if (errno || *end || timeout_s < 0 || timeout_s > 31536000) {
                return s_usage_error ("--timeout '%s': seconds, 0 or more",
                                      optarg);
            }
        } else if (c == 'j') {
            as_json = true;
        } else {
            return s_usage_error ("bad option for %s", "wait");
        }
    }
    const char *jid = NULL;
    int rc = s_parse_id_arg (argc, argv, "wait", &jid);
    if (rc) {
        return rc;
    }
    int64_t until = timeout_s < 0
                        ? INT64_MAX
                        : zclock_mono () + (int64_t) (timeout_s * 1000);
    for (;;) {
        int64_t left = until - zclock_mono ();
        if (left < 0) {
            left = 0;
        }
        int64_t slice = left < S_WAIT_SLICE_MS ? left : S_WAIT_SLICE_MS;
        uint64_t deadline =
            shoal_clock_now_us (&cli->clock) + (uint64_t) slice * 1000;
        shoal_id_t id;
        shoal_wr_t *w = s_begin (cli, SHOAL_M_WAIT, &id, deadline);
        shoal_wr_map (w, 1);
        shoal_wr_kv_str (w, "id", jid);
        shoal_in_t in;
        /* The reply comes at the deadline at the latest; allow transit. */
        if ((rc = s_call (cli, &id, (int) slice + S_REQ_TIMEOUT_MS, &in))) {
            return rc;
        }
        uint64_t code = SHOAL_OK;
        shoal_map_uint (in.body, in.body_len, "code", &code);
        if (in.hdr.type == SHOAL_M_ERROR && code == SHOAL_ERR_TIMEOUT) {
            shoal_in_close (&in);
            if (zclock_mono () >= until) {
                fprintf (stderr, "shoal: job %s not finished after %g s\n", jid,
                         timeout_s);
                return EXIT_WAITTIME;
            }
            continue;
        }
        if (in.hdr.type != SHOAL_M_OK) {
            rc = s_refused (&in);
        } else {
            s_print_job (&in, as_json);
            const uint8_t *job;
            size_t len;
            shoal_mp_val_t v;
            char state[32] = "";
            if (shoal_map_find (in.body, in.body_len, "job", &v, &job, &len) ==
                    SHOAL_OK ||
                shoal_map_find (in.body, in.body_len, "batch", &v, &job,
                                &len) == SHOAL_OK ||
                shoal_map_find (in.body, in.body_len, "run", &v, &job, &len) ==
                    SHOAL_OK) {
                shoal_map_strcpy (job, len, "state", state, sizeof state);
            }
            rc = streq (state, "succeeded") ? 0 : EXIT_JOBFAILED;
        }
        shoal_in_close (&in);
        return rc;
    }
}

/*  Asks one STATS (queues: the scheduler's view) and returns it as JSON,
    or NULL with the exit code in *rc. */
static json_t *
s_stats_json (s_cli_t *cli, bool queues, int *rc)
{
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_STATS, &id, 0);
    shoal_wr_map (w, queues);
    if (queues) {
        shoal_wr_kv_bool (w, "queues", true);
    }
    shoal_in_t in;
    if ((*rc = s_ask (cli, &id, cli->timeout_ms, &in))) {
        return NULL;
    }
    shoal_limits_t lim = shoal_limits_default ();
    json_t *j = shoal_mp_to_json (in.body, in.body_len, &lim, NULL);
    shoal_in_close (&in);
    if (!j) {
        fprintf (stderr, "shoal: unreadable stats reply\n");
        *rc = EXIT_NOANSWER;
    }
    return j;
}

/*  stats --queues: the scheduler knows what runs and the limits, the
    store how many wait; one object per queue with both. */
static int
s_stats_queues (s_cli_t *cli, bool as_json)
{
    int rc;
    json_t *store = s_stats_json (cli, false, &rc);
    if (!store) {
        return rc;
    }
    json_t *sched = s_stats_json (cli, true, &rc);
    if (!sched) {
        json_decref (store);
        return rc;
    }
    json_t *depth = json_object_get (store, "ready");
    json_t *queues = json_object_get (sched, "queues");
    size_t i;
    json_t *q;
    json_array_foreach (queues, i, q)
    {
        const char *name = json_string_value (json_object_get (q, "name"));
        json_t *ready = name ? json_object_get (depth, name) : NULL;
        json_object_set (q, "ready", ready ? ready : json_object ());
    }
    /* Queues with jobs the scheduler has not seen (none ready now). */
    const char *name;
    json_t *ready;
    json_object_foreach (depth, name, ready)
    {
        bool seen = false;
        json_array_foreach (queues, i, q)
        {
            const char *n = json_string_value (json_object_get (q, "name"));
            seen = seen || (n && streq (n, name));
        }
        if (!seen && json_is_array (queues)) {
            json_array_append_new (
                queues,
                json_pack ("{s:s, s:O, s:i, s:i, s:i, s:b, s:i, s:i, s:f, s:f}",
                           "name", name, "ready", ready, "window", 0,
                           "inflight", 0, "concurrency", 0, "paused", 0,
                           "leased", 0, "done", 0, "started_per_s", 0.0,
                           "done_per_s", 0.0));
        }
    }
    if (as_json) {
        char *text =
            json_dumps (sched, JSON_COMPACT | JSON_REAL_PRECISION (10));
        if (text) {
            printf ("%s\n", text);
            free (text);
        }
    } else {
        printf ("%-20s %8s %8s %8s %8s %8s %6s %10s %10s %9s %9s\n", "QUEUE",
                "CRIT", "HIGH", "NORMAL", "LOW", "INFLIGHT", "PAUSED", "LEASED",
                "DONE", "START/S", "DONE/S");
        json_array_foreach (queues, i, q)
        {
            json_t *r = json_object_get (q, "ready");
            printf ("%-20s", json_string_value (json_object_get (q, "name")));
            for (int p = 0; p < SHOAL_PRIO__COUNT; p++) {
                printf (" %8lld",
                        (long long) json_integer_value (
                            json_object_get (r, shoal_prio_name (p))));
            }
            printf (
                " %8lld %6s %10lld %10lld %9.1f %9.1f\n",
                (long long) json_integer_value (
                    json_object_get (q, "inflight")),
                json_is_true (json_object_get (q, "paused")) ? "yes" : "no",
                (long long) json_integer_value (json_object_get (q, "leased")),
                (long long) json_integer_value (json_object_get (q, "done")),
                json_number_value (json_object_get (q, "started_per_s")),
                json_number_value (json_object_get (q, "done_per_s")));
        }
        json_t *execs = json_object_get (sched, "executors");
        if (json_array_size (execs) > 0) {
            printf ("\n%-20s %8s %8s %6s  %s\n", "EXECUTOR", "CAPACITY",
                    "INFLIGHT", "WEIGHT", "LABELS");
        }
        json_t *x;
        json_array_foreach (execs, i, x)
        {
            printf (
                "%-20s %8lld %8lld %6lld  ",
                json_string_value (json_object_get (x, "name")),
                (long long) json_integer_value (
                    json_object_get (x, "capacity")),
                (long long) json_integer_value (
                    json_object_get (x, "inflight")),
                (long long) json_integer_value (json_object_get (x, "weight")));
            size_t j;
            json_t *l;
            json_array_foreach (json_object_get (x, "labels"), j, l)
            {
                printf ("%s%s", j ? "," : "", json_string_value (l));
            }
            printf ("\n");
        }
    }
    json_decref (store);
    json_decref (sched);
    return 0;
}

static int
s_cmd_stats (s_cli_t *cli, int argc, char **argv)
{
    bool as_json = false, queues = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--json")) {
            as_json = true;
        } else if (streq (argv[i], "--queues")) {
            queues = true;
        } else {
            return s_usage_error ("stats takes --json and --queues, got '%s'",
                                  argv[i]);
        }
    }
    if (queues) {
        return s_stats_queues (cli, as_json);
    }
    shoal_id_t id;
    shoal_wr_map (s_begin (cli, SHOAL_M_STATS, &id, 0), 0);
    shoal_in_t in;
    int rc = s_call (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    if (in.hdr.type != SHOAL_M_OK) {
        rc = s_refused (&in);
    } else if (as_json) {
        s_print_json (in.body, in.body_len);
    } else {
        shoal_mp_val_t v;
        const uint8_t *jobs;
        size_t len;
        if (shoal_map_find (in.body, in.body_len, "jobs", &v, &jobs, &len) ==
            SHOAL_OK) {
            for (int s = 0; s < SHOAL_JOB__COUNT; s++) {
                uint64_t n = 0;
                shoal_map_uint (jobs, len, shoal_job_state_name (s), &n);
                printf ("%-10s %llu\n", shoal_job_state_name (s),
                        (unsigned long long) n);
            }
        }
        /* Lease health: fenced results and heartbeats, renewals, expiries */
        static const char *const counters[] = {
            "stale_results", "stale_extends", "lease_extends", "expired_leases",
            "lost_requeued"};
        for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
            uint64_t n;
            if (shoal_map_uint (in.body, in.body_len, counters[i], &n) ==
                SHOAL_OK) {
                printf ("%-14s %llu\n", counters[i], (unsigned long long) n);
            }
        }
    }
    shoal_in_close (&in);
    return rc;
}

/*  hosts / workers: the registry's cluster table. */
static int
s_cmd_cluster (s_cli_t *cli, int argc, char **argv)
{
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--json")) {
            as_json = true;
        } else {
            return s_usage_error ("%s takes --json, got '%s'", argv[0],
                                  argv[i]);
        }
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_CLUSTER, &id, 0);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "op", argv[0]);
    shoal_in_t in;
    int rc = s_call (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    if (in.hdr.type != SHOAL_M_OK) {
        rc = s_refused (&in);
    } else {
        rc = shoal_cluster_print (in.body, in.body_len,
                                  streq (argv[0], "workers"), as_json);
    }
    shoal_in_close (&in);
    return rc;
}

static int
s_cmd_shutdown (s_cli_t *cli, int argc, char **argv)
{
    if (argc > 1) {
        return s_usage_error ("shutdown takes no arguments, got '%s'", argv[1]);
    }
    shoal_id_t id;
    shoal_wr_map (s_begin (cli, SHOAL_M_SHUTDOWN, &id, 0), 0);
    shoal_in_t in;
    int rc = s_call (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    rc = in.hdr.type == SHOAL_M_OK ? 0 : s_refused (&in);
    if (rc == 0) {
        printf ("shoald at %s is shutting down\n", cli->endpoint);
    }
    shoal_in_close (&in);
    return rc;
}

/*  Prints one event as a line. */
static void
s_print_event (const char *topic, size_t tlen, const uint8_t *ev, size_t len,
               bool as_json)
{
    if (as_json) {
        s_print_json (ev, len);
        return;
    }
    shoal_limits_t lim = shoal_limits_default ();
    json_t *j = shoal_mp_to_json (ev, len, &lim, NULL);
    if (!j) {
        return;
    }
    json_int_t ts = json_integer_value (json_object_get (j, "ts"));
    time_t secs = (time_t) (ts / 1000000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char when[32];
    strftime (when, sizeof when, "%H:%M:%S", &tm);
    printf ("%s.%06lld %-.*s", when, (long long) (ts % 1000000), (int) tlen,
            topic);
    const char *key;
    json_t *val;
    json_object_foreach (j, key, val)
    {
        if (streq (key, "topic") || streq (key, "ts")) {
            continue;
        }
        char *s = json_dumps (val, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) {
            printf (" %s=%s", key, s);
            free (s);
        }
    }
    printf ("\n");
    json_decref (j);
}

static int
s_cmd_monitor (s_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},
        {"monitor", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0}};
    const char *topic = "";
    const char *ep = NULL;
    bool as_json = false;
    long count = -1;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "t:jn:m:", opts, NULL)) != -1) {
        switch (c) {
            case 't':
                topic = optarg;
                break;
            case 'j':
                as_json = true;
                break;
            case 'm':
                ep = optarg;
                break;
            case 'n': {
                char *end;
                count = strtol (optarg, &end, 10);
                if (*end || count < 1) {
                    return s_usage_error ("--count '%s': a number >= 1",
                                          optarg);
                }
                break;
            }
            default:
                return s_usage_error ("bad option for %s", "monitor");
        }
    }
    if (optind < argc) {
        return s_usage_error ("monitor: unexpected argument '%s'",
                              argv[optind]);
    }
    char found[256];
    if (!ep) {
        /* Ask shoald where its monitor is. */
        shoal_id_t id;
        shoal_wr_map (s_begin (cli, SHOAL_M_PING, &id, 0), 0);
        shoal_in_t in;
        int rc = s_call (cli, &id, cli->timeout_ms, &in);
        if (rc) {
            return rc;
        }
        rc = shoal_map_strcpy (in.body, in.body_len, "monitor", found,
                               sizeof found);
        shoal_in_close (&in);
        if (rc) {
            fprintf (stderr, "shoal: shoald did not say where its monitor "
                             "is; use --monitor\n");
            return EXIT_REFUSED;
        }
        /* A wildcard bind is reached on loopback. */
        char *star = strstr (found, "://*:");
        if (star) {
            char rest[200];
            snprintf (rest, sizeof rest, "%s", star + 4);
            snprintf (star, sizeof found - (size_t) (star - found),
                      "://127.0.0.1%s", rest);
        }
        ep = found;
    }
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub || zsock_connect (sub, "%s", ep) < 0) {
        fprintf (stderr, "shoal: cannot connect to monitor %s\n", ep);
        zsock_destroy (&sub);
        return EXIT_NOANSWER;
    }
    zsock_set_subscribe (sub, topic);
    fprintf (stderr, "shoal: monitoring %s (topic '%s'); Ctrl-C to stop\n", ep,
             topic);
    int rc = 0;
    long seen = 0;
    while (count < 0 || seen < count) {
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg) {
            break; /* interrupted */
        }
        zframe_t *t = zmsg_first (msg);
        zframe_t *e = zmsg_next (msg);
        if (t && e) {
            s_print_event ((const char *) zframe_data (t), zframe_size (t),
                           zframe_data (e), zframe_size (e), as_json);
            fflush (stdout);
            seen++;
        }
        zmsg_destroy (&msg);
    }
    zsock_destroy (&sub);
    return rc;
}

/*  Prints the value of the first of keys found in the reply body as JSON;
    false when none is there. */
static bool
s_print_field (const shoal_in_t *in, const char *key, const char *key2)
{
    shoal_mp_val_t v;
    const uint8_t *raw;
    size_t len;
    if (shoal_map_find (in->body, in->body_len, key, &v, &raw, &len) ==
            SHOAL_OK ||
        shoal_map_find (in->body, in->body_len, key2, &v, &raw, &len) ==
            SHOAL_OK) {
        s_print_json (raw, len);
        return true;
    }
    return false;
}

/*  One line of a job list. */
static void
s_print_row (const uint8_t *job, size_t len)
{
    char id[40] = "", state[16] = "", queue[72] = "", type[72] = "",
         prio[16] = "";
    uint64_t attempt = 0, created = 0;
    shoal_map_strcpy (job, len, "id", id, sizeof id);
    shoal_map_strcpy (job, len, "state", state, sizeof state);
    shoal_map_strcpy (job, len, "queue", queue, sizeof queue);
    shoal_map_strcpy (job, len, "type", type, sizeof type);
    shoal_map_strcpy (job, len, "priority", prio, sizeof prio);
    shoal_map_uint (job, len, "attempt", &attempt);
    shoal_map_uint (job, len, "created_us", &created);
    time_t secs = (time_t) (created / 1000000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char when[32];
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char error[80] = "";
    shoal_map_strcpy (job, len, "error", error, sizeof error);
    printf ("%-32s  %-9s  %-12s  %-12s  %-8s  %7llu  %s  %s\n", id, state,
            queue, type, prio, (unsigned long long) attempt, when, error);
}

/*  list and dlq list: pages through LIST replies. */
static int
s_list (s_cli_t *cli, int argc, char **argv, const char *force_state)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},
        {"queue", required_argument, NULL, 'q'},
        {"type", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'n'},
        {"after", required_argument, NULL, 'a'},
        {"all", no_argument, NULL, 'A'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    const char *state = force_state, *queue = NULL, *type = NULL;
    char after[80] = "";
    long limit = 50;
    bool all = false, as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "s:q:t:n:a:Aj", opts, NULL)) != -1) {
        switch (c) {
            case 's':
                if (force_state) {
                    return s_usage_error ("dlq list lists dead jobs only%s",
                                          "");
                }
                state = optarg;
                break;
            case 'q':
                queue = optarg;
                break;
            case 't':
                type = optarg;
                break;
            case 'a':
                snprintf (after, sizeof after, "%s", optarg);
                break;
            case 'A':
                all = true;
                break;
            case 'j':
                as_json = true;
                break;
            case 'n': {
                char *end;
                limit = strtol (optarg, &end, 10);
                if (*end || limit < 1 || limit > 1000) {
                    return s_usage_error ("--limit '%s': 1 to 1000", optarg);
                }
                break;
            }
            default:
                return s_usage_error ("bad option for %s", "list");
        }
    }
    if (optind < argc) {
        return s_usage_error ("list: unexpected argument '%s'", argv[optind]);
    }
    if (!as_json) {
        printf ("%-32s  %-9s  %-12s  %-12s  %-8s  %7s  %-20s  %s\n", "ID",
                "STATE", "QUEUE", "TYPE", "PRIORITY", "ATTEMPT", "CREATED",
                "ERROR");
    }
    for (;;) {
        shoal_id_t id;
        shoal_wr_t *w = s_begin (cli, SHOAL_M_LIST, &id, 0);
        shoal_wr_map (w, 1 + (state != NULL) + (queue != NULL) +
                             (type != NULL) + (after[0] != '\0'));
        shoal_wr_kv_uint (w, "limit", (uint64_t) limit);
        if (state) {
            shoal_wr_kv_str (w, "state", state);
        }
        if (queue) {
            shoal_wr_kv_str (w, "queue", queue);
        }
        if (type) {
            shoal_wr_kv_str (w, "type", type);
        }
        if (after[0]) {
            shoal_wr_kv_str (w, "after", after);
        }
        shoal_in_t in;
        int rc = s_call (cli, &id, cli->timeout_ms, &in);
        if (rc) {
            return rc;
        }
        if (in.hdr.type != SHOAL_M_OK) {
            rc = s_refused (&in);
            shoal_in_close (&in);
            return rc;
        }
        shoal_rd_t rd;
        uint32_t n = 0;
        if (shoal_map_array (in.body, in.body_len, "jobs", &rd, &n) ==
            SHOAL_OK) {
            for (uint32_t i = 0; i < n; i++) {
                const uint8_t *job = rd.p;
                if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
                    break;
                }
                size_t jlen = (size_t) (rd.p - job);
                if (as_json) {
                    s_print_json (job, jlen);
                } else {
                    s_print_row (job, jlen);
                }
            }
        }
        char next[80] = "";
        shoal_map_strcpy (in.body, in.body_len, "next", next, sizeof next);
        shoal_in_close (&in);
        if (!next[0]) {
            return 0;
        }
        if (!all) {
            if (as_json) {
                printf ("{\"next\":\"%s\"}\n", next); /* the cursor, last */
            }
            fprintf (stderr, "shoal: more: --after %s (or --all)\n", next);
            return 0;
        }
        snprintf (after, sizeof after, "%s", next);
    }
}

static int
s_cmd_list (s_cli_t *cli, int argc, char **argv)
{
    return s_list (cli, argc, argv, NULL);
}

/*  dlq retry ID, dlq purge ID|--all */
static int
s_dlq_op (s_cli_t *cli, const char *op, const char *jid)
{
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_DLQ, &id, 0);
    shoal_wr_map (w, 1 + (jid != NULL));
    shoal_wr_kv_str (w, "op", op);
    if (jid) {
        shoal_wr_kv_str (w, "id", jid);
    }
    shoal_in_t in;
    int rc = s_call (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    if (in.hdr.type != SHOAL_M_OK) {
        rc = s_refused (&in);
    } else if (streq (op, "purge")) {
        uint64_t purged = 0;
        bool more = false;
        shoal_map_uint (in.body, in.body_len, "purged", &purged);
        shoal_map_bool (in.body, in.body_len, "more", &more);
        printf ("purged %llu dead job(s)%s\n", (unsigned long long) purged,
                more ? "; more remain, run it again" : "");
    } else {
        printf ("%s requeued\n", jid);
    }
    shoal_in_close (&in);
    return rc;
}

/*  retry ID: a dead or cancelled job runs again with fresh attempts. */
static int
s_cmd_retry (s_cli_t *cli, int argc, char **argv)
{
    optind = 1;
    const char *jid = NULL;
    int rc = s_parse_id_arg (argc, argv, "retry", &jid);
    return rc ? rc : s_dlq_op (cli, "retry", jid);
}

static int
s_cmd_dlq (s_cli_t *cli, int argc, char **argv)
{
    if (argc < 2) {
        return s_usage_error ("dlq needs list, show, retry or purge%s", "");
    }
    const char *sub = argv[1];
    if (streq (sub, "list")) {
        return s_list (cli, argc - 1, argv + 1, "dead");
    }
    shoal_id_t tmp;
    bool one = argc == 3 &&
               shoal_id_parse (argv[2], strlen (argv[2]), &tmp) == SHOAL_OK;
    if (argc == 3 && !one && !streq (argv[2], "--all")) {
        return s_usage_error ("'%s' is not a job id (32 hex digits)", argv[2]);
    }
    if (streq (sub, "show")) {
        if (!one) {
            return s_usage_error ("dlq show needs one job id%s", "");
        }
        return s_cmd_status (cli, argc - 1, argv + 1);
    }
    if (streq (sub, "retry")) {
        if (!one) {
            return s_usage_error ("dlq retry needs one job id%s", "");
        }
        return s_dlq_op (cli, "retry", argv[2]);
    }
    if (streq (sub, "purge")) {
        if (argc == 3 && streq (argv[2], "--all")) {
            return s_dlq_op (cli, "purge", NULL);
        }
        if (!one) {
            return s_usage_error ("dlq purge needs a job id or --all%s", "");
        }
        return s_dlq_op (cli, "purge", argv[2]);
    }
    return s_usage_error ("unknown dlq command '%s'", sub);
}

/*  Sends a QUEUE request {op, queue?, ...}; prints the settings. */
static int
s_queue_call (s_cli_t *cli, const char *op, const char *queue, long concurrency,
              const char *rate, long burst, const char *retry, long keep,
              const char *policy)
{
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_QUEUE, &id, 0);
    shoal_wr_map (w, 1 + (queue != NULL) + (concurrency >= 0) + (rate != NULL) +
                         (burst >= 0) + (retry != NULL) + (keep >= 0) +
                         (policy != NULL));
    if (policy) {
        shoal_wr_kv_str (w, "policy", policy);
    }
    if (keep >= 0) {
        shoal_wr_kv_uint (w, "keep", (uint64_t) keep);
    }
    if (retry) {
        shoal_wr_kv_str (w, "retry", retry);
    }
    shoal_wr_kv_str (w, "op", op);
    if (queue) {
        shoal_wr_kv_str (w, "queue", queue);
    }
    if (concurrency >= 0) {
        shoal_wr_kv_uint (w, "concurrency", (uint64_t) concurrency);
    }
    if (rate) {
        shoal_wr_kv_str (w, "rate", rate);
    }
    if (burst >= 0) {
        shoal_wr_kv_uint (w, "burst", (uint64_t) burst);
    }
    shoal_in_t in;
    int rc = s_ask (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    s_print_field (&in, "queue", "queues");
    shoal_in_close (&in);
    return 0;
}

static int
s_cmd_pause (s_cli_t *cli, int argc, char **argv)
{
    if (argc > 2) {
        return s_usage_error ("%s takes at most a queue name", argv[0]);
    }
    if (argc == 2 && !shoal_name_valid (argv[1], strlen (argv[1]))) {
        return s_usage_error ("'%s' is not a queue name", argv[1]);
    }
    return s_queue_call (cli, argv[0], argc == 2 ? argv[1] : NULL, -1, NULL, -1,
                         NULL, -1, NULL);
}

static long
s_long_arg (const char *text, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol (text, &end, 10);
    return errno || *end || v < min || v > max ? -1 : v;
}

static int
s_cmd_queue (s_cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && streq (argv[1], "list") && argc == 2) {
        return s_queue_call (cli, "list", NULL, -1, NULL, -1, NULL, -1, NULL);
    }
    if (argc < 3 || !streq (argv[1], "set")) {
        return s_usage_error ("usage: queue list | queue set QUEUE "
                              "[--concurrency N] [--rate N/s|none] "
                              "[--burst N] [--retry POLICY] [--keep N] "
                              "[--policy P]%s",
                              "");
    }
    const char *queue = argv[2];
    if (!shoal_name_valid (queue, strlen (queue))) {
        return s_usage_error ("'%s' is not a queue name", queue);
    }
    long concurrency = -1, burst = -1, keep = -1;
    const char *rate = NULL, *retry = NULL, *placing = NULL;
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc) {
            return s_usage_error ("%s needs a value", argv[i]);
        }
        if (streq (argv[i], "--concurrency")) {
            if ((concurrency = s_long_arg (argv[i + 1], 0, 1000000)) < 0) {
                return s_usage_error ("--concurrency: 0 (none) to 1000000%s",
                                      "");
            }
        } else if (streq (argv[i], "--rate")) {
            rate = argv[i + 1];
        } else if (streq (argv[i], "--retry")) {
            retry = argv[i + 1];
            shoal_retry_t policy;
            char err[128];
            if (shoal_retry_parse (retry, &policy, err, sizeof err)) {
                return s_usage_error ("--retry '%s': %s", retry, err);
            }
        } else if (streq (argv[i], "--burst")) {
            if ((burst = s_long_arg (argv[i + 1], 1, 1000000)) < 0) {
                return s_usage_error ("--burst: 1 to 1000000%s", "");
            }
        } else if (streq (argv[i], "--policy")) {
            placing = argv[i + 1];
            uint8_t pol;
            if (shoal_policy_parse (placing, strlen (placing), &pol)) {
                return s_usage_error ("--policy '%s': least-loaded, "
                                      "round-robin, weighted or random",
                                      placing);
            }
        } else if (streq (argv[i], "--keep")) {
            if ((keep = s_long_arg (argv[i + 1], 0, 1000000000)) < 0) {
                return s_usage_error ("--keep: 0 (no limit) to 1000000000%s",
                                      "");
            }
        } else {
            return s_usage_error ("queue set: unknown option '%s'", argv[i]);
        }
    }
    return s_queue_call (cli, "set", queue, concurrency, rate, burst, retry,
                         keep, placing);
}

static int
s_cmd_cancel (s_cli_t *cli, int argc, char **argv)
{
    optind = 1;
    const char *jid = NULL;
    int rc = s_parse_id_arg (argc, argv, "cancel", &jid);
    if (rc) {
        return rc;
    }
    shoal_in_t in;
    if ((rc = s_ask_id (cli, SHOAL_M_CANCEL, jid, &in))) {
        return rc;
    }
    printf ("%s cancelled\n", jid);
    shoal_in_close (&in);
    return rc;
}

static int
s_cmd_schedule (s_cli_t *cli, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    shoal_id_t id;
    shoal_wr_t *w;
    if (streq (sub, "list") && argc == 2) {
        w = s_begin (cli, SHOAL_M_SCHEDULE, &id, 0);
        shoal_wr_map (w, 1);
        shoal_wr_kv_str (w, "op", "list");
    } else if (streq (sub, "rm") && argc == 3) {
        w = s_begin (cli, SHOAL_M_SCHEDULE, &id, 0);
        shoal_wr_map (w, 2);
        shoal_wr_kv_str (w, "op", "rm");
        shoal_wr_kv_str (w, "name", argv[2]);
    } else if (streq (sub, "add") && argc >= 3) {
        const char *cron = NULL, *type = NULL, *queue = NULL, *prio = NULL,
                   *payload = NULL, *retry = NULL;
        uint64_t timeout_us = 0;
        for (int i = 3; i < argc; i += 2) {
            if (i + 1 >= argc) {
                return s_usage_error ("%s needs a value", argv[i]);
            }
            const char *v = argv[i + 1];
            if (streq (argv[i], "--cron")) {
                cron = v;
            } else if (streq (argv[i], "--type")) {
                type = v;
            } else if (streq (argv[i], "--queue")) {
                queue = v;
            } else if (streq (argv[i], "--priority")) {
                prio = v;
            } else if (streq (argv[i], "--payload")) {
                payload = v;
            } else if (streq (argv[i], "--retry")) {
                shoal_retry_t policy;
                char err[160];
                if (shoal_retry_parse (v, &policy, err, sizeof err)) {
                    return s_usage_error ("--retry '%s': %s", v, err);
                }
                retry = v;
            } else if (streq (argv[i], "--timeout")) {
                if (shoal_duration_parse (v, &timeout_us) ||
                    timeout_us < 1000 || timeout_us / 1000 > UINT32_MAX) {
                    return s_usage_error ("--timeout '%s': a duration like "
                                          "30s (at least 1ms)",
                                          v);
                }
            } else {
                return s_usage_error ("schedule add: unknown option '%s'",
                                      argv[i]);
            }
        }
        if (!cron || !type) {
            return s_usage_error ("schedule add NAME needs --cron and "
                                  "--type%s",
                                  "");
        }
        json_t *pj = NULL;
        if (payload) {
            json_error_t err;
            if (!(pj = json_loads (payload, JSON_DECODE_ANY, &err))) {
                return s_usage_error ("--payload is not JSON: %s", err.text);
            }
        }
        w = s_begin (cli, SHOAL_M_SCHEDULE, &id, 0);
        shoal_wr_map (w, 4 + (queue != NULL) + (prio != NULL) + (pj != NULL) +
                             (retry != NULL) + (timeout_us != 0));
        if (retry) {
            shoal_wr_kv_str (w, "retry", retry);
        }
        if (timeout_us) {
            shoal_wr_kv_uint (w, "timeout_ms", timeout_us / 1000);
        }
        shoal_wr_kv_str (w, "op", "add");
        shoal_wr_kv_str (w, "name", argv[2]);
        shoal_wr_kv_str (w, "cron", cron);
        shoal_wr_kv_str (w, "type", type);
        if (s_write_template (w, queue, prio, pj)) {
            return EXIT_USAGE;
        }
    } else {
        return s_usage_error ("usage: schedule add NAME --cron EXPR --type T "
                              "[--queue Q] [--priority P] [--payload JSON] "
                              "[--retry POLICY] [--timeout DUR] | "
                              "schedule list | schedule rm NAME%s",
                              "");
    }
    shoal_in_t in;
    int rc = s_ask (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    if (!s_print_field (&in, "schedule", "schedules")) {
        printf ("%s removed\n", argv[2]);
    }
    shoal_in_close (&in);
    return 0;
}

static int
s_cmd_backup (s_cli_t *cli, int argc, char **argv)
{
    if (argc != 2) {
        return s_usage_error ("backup needs one folder path%s", "");
    }
    /* shoald has its own working directory: send an absolute path. */
    char path[1024];
    if (argv[1][0] == '/') {
        snprintf (path, sizeof path, "%s", argv[1]);
    } else {
        char cwd[800];
        if (!getcwd (cwd, sizeof cwd)) {
            return s_usage_error ("cannot read the current folder%s", "");
        }
        snprintf (path, sizeof path, "%s/%s", cwd, argv[1]);
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_BACKUP, &id, 0);
    shoal_wr_map (w, 1);
    shoal_wr_kv_str (w, "path", path);
    shoal_in_t in;
    /* a big data folder takes a while to copy */
    int rc = s_call (cli, &id, 3600 * 1000, &in);
    if (rc) {
        return rc;
    }
    if (in.hdr.type != SHOAL_M_OK) {
        rc = s_refused (&in);
    } else {
        char text[1200] = "";
        shoal_map_strcpy (in.body, in.body_len, "text", text, sizeof text);
        printf ("%s\n", text);
    }
    shoal_in_close (&in);
    return rc;
}

/*  ---------------------------------------------------------------------
    Batches */

#define S_BATCH_FILE_MAX (64u << 20) /* bytes of JSON read from FILE */

/*  Whether v is a JSON array of at most SHOAL_REQUIRE_MAX labels; when
    w is not NULL, writes "require" and them to it. */
static bool
s_require_json (json_t *v, shoal_wr_t *w)
{
    char list[SHOAL_REQUIRE_TEXT_MAX] = "";
    size_t i;
    json_t *l;
    if (!json_is_array (v) || json_array_size (v) > SHOAL_REQUIRE_MAX) {
        return false;
    }
    json_array_foreach (v, i, l)
    {
        const char *t = json_string_value (l);
        if (!t || shoal_labels_add (list, sizeof list, t, strlen (t),
                                    SHOAL_REQUIRE_MAX)) {
            return false;
        }
    }
    if (w) {
        shoal_wr_str (w, "require");
        shoal_labels_write (w, list);
    }
    return true;
}

/*  Appends one job spec (a JSON object with the submit fields) as a
    SUBMIT-shaped map to w. Returns false with why on a bad spec. */
static bool
s_batch_spec (json_t *spec, shoal_wr_t *w, char *why, size_t cap)
{
    if (!json_is_object (spec)) {
        snprintf (why, cap, "a job must be a JSON object");
        return false;
    }
    uint32_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach (spec, k, v)
    {
        bool text = json_is_string (v);
        const char *t = text ? json_string_value (v) : "";
        uint64_t us = 0;
        if (streq (k, "payload")) {
            n++;
        } else if (streq (k, "type") || streq (k, "queue")) {
            if (!text || !shoal_name_valid (t, strlen (t))) {
                snprintf (why, cap, "\"%s\": 1-64 of A-Z a-z 0-9 . _ : -", k);
                return false;
            }
            n++;
        } else if (streq (k, "priority")) {
            uint8_t p;
            if (!text || shoal_prio_parse (t, strlen (t), &p)) {
                snprintf (why, cap,
                          "\"priority\": critical, high, normal or low");
                return false;
            }
            n++;
        } else if (streq (k, "delay") || streq (k, "timeout")) {
            if (!text || shoal_duration_parse (t, &us) ||
                (streq (k, "timeout") &&
                 (us < 1000 || us / 1000 > UINT32_MAX))) {
                snprintf (why, cap, "\"%s\": a duration like 500ms, 10s, 5m",
                          k);
                return false;
            }
            n++;
        } else if (streq (k, "at")) {
            if (!text || s_parse_time (t, &us)) {
                snprintf (why, cap,
                          "\"at\": a UTC time like 2026-12-01T09:30:00Z");
                return false;
            }
            n++;
        } else if (streq (k, "retry")) {
            shoal_retry_t policy;
            char err[128];
            if (!text || shoal_retry_parse (t, &policy, err, sizeof err)) {
                snprintf (why, cap, "\"retry\": %s",
                          text ? err : "a policy string");
                return false;
            }
            n++;
        } else if (streq (k, "require")) {
            if (!s_require_json (v, NULL)) {
                snprintf (why, cap,
                          "\"require\": an array of at most %d labels (1-%d "
                          "of A-Z a-z 0-9 . _ -)",
                          SHOAL_REQUIRE_MAX, SHOAL_LABEL_MAX);
                return false;
            }
            n++;
        } else if (streq (k, "key") || streq (k, "after")) {
            snprintf (why, cap,
                      "\"%s\" is not allowed on a job in a batch (use "
                      "--key for the batch; name the batch in --after)",
                      k);
            return false;
        } else {
            snprintf (why, cap, "unknown field \"%s\"", k);
            return false;
        }
    }
    if (!json_is_string (json_object_get (spec, "type"))) {
        snprintf (why, cap, "a job needs \"type\"");
        return false;
    }
    if (json_object_get (spec, "delay") && json_object_get (spec, "at")) {
        snprintf (why, cap, "use \"delay\" or \"at\", not both");
        return false;
    }
    shoal_wr_map (w, n);
    json_object_foreach (spec, k, v)
    {
        const char *t = json_is_string (v) ? json_string_value (v) : "";
        uint64_t us = 0;
        if (streq (k, "payload")) {
            shoal_wr_str (w, "payload");
            if (shoal_json_to_mp (v, w)) {
                snprintf (why, cap, "\"payload\" nests too deep");
                return false;
            }
        } else if (streq (k, "delay")) {
            shoal_duration_parse (t, &us);
            shoal_wr_kv_uint (w, "delay_ms", us / 1000);
        } else if (streq (k, "timeout")) {
            shoal_duration_parse (t, &us);
            shoal_wr_kv_uint (w, "timeout_ms", us / 1000);
        } else if (streq (k, "at")) {
            s_parse_time (t, &us);
            shoal_wr_kv_uint (w, "run_at_us", us);
        } else if (streq (k, "require")) {
            s_require_json (v, w);
        } else {
            shoal_wr_kv_str (w, k, t); /* type, queue, priority, retry */
        }
    }
    return true;
}

/*  Reads FILE (or stdin for "-"): a JSON array of job specs, or JSON
    lines (one spec per line). Returns a new array, or NULL after saying
    why. */
static json_t *
s_batch_read (const char *path)
{
    FILE *f = streq (path, "-") ? stdin : fopen (path, "r");
    if (!f) {
        fprintf (stderr, "shoal: cannot read %s: %s\n", path, strerror (errno));
        return NULL;
    }
    char *text = malloc (S_BATCH_FILE_MAX + 1);
    size_t len = text ? fread (text, 1, S_BATCH_FILE_MAX + 1, f) : 0;
    bool too_big = len > S_BATCH_FILE_MAX, failed = ferror (f);
    if (f != stdin) {
        fclose (f);
    }
    if (!text || too_big || failed) {
        fprintf (stderr, "shoal: %s: %s\n", path,
                 !text     ? "out of memory"
                 : too_big ? "larger than 64 MiB"
                           : "read error");
        free (text);
        return NULL;
    }
    text[len] = '\0';
    json_error_t err;
    json_t *all = json_loads (text, JSON_DECODE_ANY, &err);
    if (all && json_is_array (all)) {
        free (text);
        return all;
    }
    json_decref (all);
    /* JSON lines: one object per non-blank line */
    json_t *jobs = json_array ();
    int line = 0;
    for (char *p = text, *nl; jobs && p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr (p, '\n');
        if (nl) {
            *nl = '\0';
        }
        line++;
        if (strspn (p, " \t\r") == strlen (p)) {
            continue;
        }
        json_t *one = json_loads (p, 0, &err);
        if (!one) {
            fprintf (stderr, "shoal: %s line %d: not JSON: %s\n", path, line,
                     err.text);
            json_decref (jobs);
            jobs = NULL;
        } else {
            json_array_append_new (jobs, one);
        }
    }
    free (text);
    return jobs;
}

static int
s_batch_submit (s_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *key = NULL;
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "k:j", opts, NULL)) != -1) {
        if (c == 'k') {
            key = optarg;
        } else if (c == 'j') {
            as_json = true;
        } else {
            return s_usage_error ("bad option for %s", "batch submit");
        }
    }
    if (optind != argc - 1) {
        return s_usage_error ("batch submit needs one FILE (or - for stdin)%s",
                              "");
    }
    if (key && (!*key || strlen (key) > SHOAL_KEY_MAX)) {
        return s_usage_error ("--key: 1 to %d bytes", SHOAL_KEY_MAX);
    }
    json_t *jobs = s_batch_read (argv[optind]);
    if (!jobs) {
        return EXIT_USAGE;
    }
    size_t n = json_array_size (jobs);
    if (n == 0 || n > SHOAL_BATCH_MAX) {
        json_decref (jobs);
        return s_usage_error ("a batch holds 1 to %d jobs, this one %zu",
                              SHOAL_BATCH_MAX, n);
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_BATCH, &id, 0);
    shoal_wr_map (w, 1 + (key != NULL));
    if (key) {
        shoal_wr_kv_str (w, "key", key);
    }
    shoal_wr_str (w, "jobs");
    shoal_wr_array (w, (uint32_t) n);
    for (size_t i = 0; i < n; i++) {
        char why[200];
        if (!s_batch_spec (json_array_get (jobs, i), w, why, sizeof why)) {
            json_decref (jobs);
            return s_usage_error (
                "batch job %zu (from 0, as shoald counts): %s", i, why);
        }
    }
    json_decref (jobs);
    if (shoal_wr_size (w) > SHOAL_FRAME_MAX - SHOAL_HEADER_MAX) {
        return s_usage_error ("the batch is over the 1 MiB request limit "
                              "(%zu bytes): split it",
                              shoal_wr_size (w));
    }
    shoal_in_t in;
    int rc = s_ask (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    if (as_json) {
        s_print_json (in.body, in.body_len);
    } else {
        const char *s;
        uint32_t len;
        shoal_rd_t rd;
        uint32_t m = 0;
        if (shoal_map_str (in.body, in.body_len, "id", &s, &len) == SHOAL_OK) {
            printf ("%.*s\n", (int) len, s);
        }
        if (shoal_map_array (in.body, in.body_len, "jobs", &rd, &m)) {
            m = 0;
        }
        for (uint32_t i = 0; i < m && shoal_rd_str (&rd, &s, &len) == SHOAL_OK;
             i++) {
            printf ("%.*s\n", (int) len, s);
        }
    }
    shoal_in_close (&in);
    return 0;
}

static int
s_cmd_batch (s_cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && streq (argv[1], "submit")) {
        return s_batch_submit (cli, argc - 1, argv + 1);
    }
    if (argc >= 2 && streq (argv[1], "show")) {
        return s_cmd_status (cli, argc - 1, argv + 1);
    }
    return s_usage_error ("batch needs submit FILE|- or show ID%s", "");
}

/*  ---------------------------------------------------------------------
    Workflows */

#define S_WF_FILE_MAX  (16u << 20) /* bytes of JSON read from FILE */
#define S_WF_TYPES_MAX 256         /* --types names */

/*  Reads all of path (stdin for "-") into a new NUL-terminated buffer;
    NULL after saying why. */
static char *
s_read_file (const char *path, size_t max, size_t *len)
{
    FILE *f = streq (path, "-") ? stdin : fopen (path, "r");
    if (!f) {
        fprintf (stderr, "shoal: cannot read %s: %s\n", path, strerror (errno));
        return NULL;
    }
    char *text = malloc (max + 1);
    *len = text ? fread (text, 1, max + 1, f) : 0;
    bool too_big = *len > max, failed = ferror (f);
    int saved = errno;
    if (f != stdin) {
        fclose (f);
    }
    if (!text || too_big || failed) {
        fprintf (stderr, "shoal: cannot read %s: %s\n", path,
                 !text     ? "out of memory"
                 : too_big ? "larger than the limit"
                           : strerror (saved));
        free (text);
        return NULL;
    }
    text[*len] = '\0';
    return text;
}

/*  Parses the [--types T,T...] FILE|- arguments of `workflow validate`
    and `workflow define` and the definition in FILE. Returns 0 with *out
    (the caller destroys it) and *file set, or an exit code after saying
    why. */
static int
s_workflow_load (int argc, char **argv, const char *what, shoal_wf_t **out,
                 const char **file)
{
    static const struct option opts[] = {
        {"types", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
    const char *types[S_WF_TYPES_MAX + 1] = {NULL};
    char *lists[S_WF_TYPES_MAX] = {NULL}; /* strdup'ed --types values */
    size_t n_types = 0, n_lists = 0;
    int rc = 0, c;
    optind = 1;
    while (rc == 0 && (c = getopt_long (argc, argv, "t:", opts, NULL)) != -1) {
        if (c != 't') {
            rc = s_usage_error ("bad option for workflow %s", what);
        } else if (n_lists == S_WF_TYPES_MAX ||
                   !(lists[n_lists] = strdup (optarg))) {
            rc = s_usage_error ("too many --types%s", "");
        } else {
            char *save = NULL;
            for (char *t = strtok_r (lists[n_lists++], ",", &save);
                 t && rc == 0; t = strtok_r (NULL, ",", &save)) {
                if (!shoal_name_valid (t, strlen (t))) {
                    rc = s_usage_error ("--types: '%s' is not a type name", t);
                } else if (n_types == S_WF_TYPES_MAX) {
                    rc = s_usage_error ("--types: at most %d", S_WF_TYPES_MAX);
                } else {
                    types[n_types++] = t;
                }
            }
        }
    }
    if (rc == 0 && optind != argc - 1) {
        rc =
            s_usage_error ("workflow %s needs one FILE (or - for stdin)", what);
    }
    size_t len = 0;
    char *text = rc ? NULL : s_read_file (argv[optind], S_WF_FILE_MAX, &len);
    if (rc == 0 && !text) {
        rc = EXIT_REFUSED;
    }
    if (rc == 0) {
        *file = streq (argv[optind], "-") ? "stdin" : argv[optind];
        char err[SHOAL_WF_ERR_MAX];
        if (shoal_wf_parse (text, len, *file, types, out, err, sizeof err)) {
            fprintf (stderr, "%s\n", err);
            rc = EXIT_REFUSED;
        }
    }
    /* Valid, but likely not what was meant: said, not refused. */
    for (uint32_t i = 0; rc == 0 && i < shoal_wf_node_count (*out); i++) {
        const shoal_wf_node_t *nd = shoal_wf_node (*out, i);
        if (nd->fallback >= 0 && !nd->has_breaker) {
            fprintf (stderr,
                     "%s: warning: node \"%s\": fallback \"%s\" never runs: "
                     "the node has no breaker\n",
                     *file, nd->id,
                     shoal_wf_node (*out, (uint32_t) nd->fallback)->id);
        }
    }
    free (text);
    for (size_t i = 0; i < n_lists; i++) {
        free (lists[i]);
    }
    return rc;
}

static int
s_workflow_validate (s_cli_t *cli, int argc, char **argv)
{
    (void) cli;
    shoal_wf_t *wf = NULL;
    const char *file = NULL;
    int rc = s_workflow_load (argc, argv, "validate", &wf, &file);
    if (rc == 0) {
        printf ("%s: ok (%u nodes, %u edges)\n", file, shoal_wf_node_count (wf),
                shoal_wf_edge_count (wf));
    }
    shoal_wf_destroy (&wf);
    return rc;
}

/*  workflow define FILE: checks it here, stores it in shoald under its
    name and the next revision (or the latest, if unchanged). */
static int
s_workflow_define (s_cli_t *cli, int argc, char **argv)
{
    shoal_wf_t *wf = NULL;
    const char *file = NULL;
    int rc = s_workflow_load (argc, argv, "define", &wf, &file);
    if (rc) {
        shoal_wf_destroy (&wf);
        return rc;
    }
    shoal_wr_t *def = shoal_wr_new ();
    if (def) {
        shoal_wf_encode (wf, def);
    }
    shoal_wf_destroy (&wf);
    if (!def || shoal_wr_error (def)) {
        shoal_wr_destroy (&def);
        fprintf (stderr, "shoal: cannot encode the definition\n");
        return EXIT_REFUSED;
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_WORKFLOW, &id, 0);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", "define");
    shoal_wr_kv_bin (w, "def", shoal_wr_data (def), shoal_wr_size (def));
    shoal_wr_destroy (&def);
    shoal_in_t in;
    if ((rc = s_ask (cli, &id, cli->timeout_ms, &in))) {
        return rc;
    }
    char name[SHOAL_NAME_MAX + 1] = "?";
    uint64_t rev = 0;
    bool existing = false;
    shoal_map_strcpy (in.body, in.body_len, "name", name, sizeof name);
    shoal_map_uint (in.body, in.body_len, "revision", &rev);
    shoal_map_bool (in.body, in.body_len, "existing", &existing);
    printf ("%s: %s revision %llu%s\n", file, name, (unsigned long long) rev,
            existing ? " (unchanged)" : "");
    shoal_in_close (&in);
    return 0;
}

/*  Sends WORKFLOW body w (begun by the caller) and prints its "run". */
static int
s_workflow_ask_run (s_cli_t *cli, const shoal_id_t *id, bool as_json)
{
    shoal_in_t in;
    int rc = s_ask (cli, id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    s_print_job (&in, as_json);
    shoal_in_close (&in);
    return 0;
}

/*  workflow run NAME|FILE [--input JSON] [--revision N]: a FILE is
    defined first. Prints the run id as the last line. */
static int
s_workflow_run (s_cli_t *cli, int argc, char **argv)
{
    const char *input = NULL, *target = NULL;
    long rev = 0;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--input") && i + 1 < argc) {
            input = argv[++i];
        } else if (streq (argv[i], "--revision") && i + 1 < argc) {
            if ((rev = s_long_arg (argv[++i], 1, UINT32_MAX)) < 0) {
                return s_usage_error ("--revision: a number from 1%s", "");
            }
        } else if (argv[i][0] == '-' || target) {
            return s_usage_error ("usage: workflow run NAME|FILE [--input "
                                  "JSON] [--revision N]%s",
                                  "");
        } else {
            target = argv[i];
        }
    }
    if (!target) {
        return s_usage_error ("workflow run needs a NAME or a FILE%s", "");
    }
    json_t *ij = NULL;
    if (input) {
        json_error_t err;
        if (!(ij = json_loads (input, JSON_DECODE_ANY, &err))) {
            return s_usage_error ("--input is not JSON: %s", err.text);
        }
    }
    char name[SHOAL_NAME_MAX + 1];
    snprintf (name, sizeof name, "%s", target);
    if (access (target, R_OK) == 0) {
        /* a file: define it (or find it unchanged), run that revision */
        shoal_wf_t *wf = NULL;
        const char *file = NULL;
        char *args[] = {"define", (char *) target, NULL};
        int rc = s_workflow_load (2, args, "run", &wf, &file);
        if (rc == 0) {
            snprintf (name, sizeof name, "%s", shoal_wf_name (wf));
        }
        shoal_wf_destroy (&wf);
        if (rc == 0) {
            rc = s_workflow_define (cli, 2, args);
        }
        if (rc) {
            json_decref (ij);
            return rc;
        }
        rev = 0; /* the latest: what was just defined */
    } else if (!shoal_name_valid (target, strlen (target))) {
        json_decref (ij);
        return s_usage_error ("'%s' is neither a readable file nor a "
                              "workflow name",
                              target);
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_WORKFLOW, &id, 0);
    shoal_wr_map (w, 2 + (rev > 0) + (ij != NULL));
    shoal_wr_kv_str (w, "op", "run");
    shoal_wr_kv_str (w, "name", name);
    if (rev > 0) {
        shoal_wr_kv_uint (w, "revision", (uint64_t) rev);
    }
    if (ij) {
        shoal_wr_str (w, "input");
        shoal_err_t e = shoal_json_to_mp (ij, w);
        json_decref (ij);
        if (e) {
            return s_usage_error ("--input: %s", shoal_strerror (e));
        }
    }
    shoal_in_t in;
    int rc = s_ask (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    char run[SHOAL_ID_TEXT + 1] = "";
    shoal_map_strcpy (in.body, in.body_len, "id", run, sizeof run);
    printf ("%s\n", run);
    shoal_in_close (&in);
    return 0;
}

/*  Asks WORKFLOW show for run; on success the reply stays in *in (the
    caller closes it) and *view, *len span its run view. */
static int
s_workflow_fetch (s_cli_t *cli, const char *run, shoal_in_t *in,
                  const uint8_t **view, size_t *len)
{
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_WORKFLOW, &id, 0);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", "show");
    shoal_wr_kv_str (w, "id", run);
    int rc = s_ask (cli, &id, cli->timeout_ms, in);
    if (rc) {
        return rc;
    }
    shoal_mp_val_t v;
    if (shoal_map_find (in->body, in->body_len, "run", &v, view, len) ||
        v.type != SHOAL_MP_MAP) {
        fprintf (stderr, "shoal: reply without a run\n");
        shoal_in_close (in);
        return EXIT_REFUSED;
    }
    return 0;
}

/*  Renders a run view into *text (malloc'd, NUL-terminated): its JSON
    line, or the graph and table. *final: the run has ended; *ok: it
    succeeded. */
static int
s_workflow_render (const uint8_t *view, size_t len, bool as_json,
                   const shoal_graph_opts_t *opts, char **text, bool *final,
                   bool *ok)
{
    shoal_graph_t *g = NULL;
    shoal_err_t e = shoal_graph_new (view, len, &g);
    if (e) {
        fprintf (stderr, "shoal: cannot read the run view: %s\n",
                 shoal_strerror (e));
        return EXIT_REFUSED;
    }
    *final = shoal_graph_final (g);
    *ok = shoal_graph_succeeded (g);
    size_t size = 0;
    *text = NULL;
    FILE *mem = open_memstream (text, &size);
    if (mem) {
        if (as_json) {
            shoal_limits_t lim = shoal_limits_default ();
            json_t *j = shoal_mp_to_json (view, len, &lim, NULL);
            char *s = j ? json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY |
                                             JSON_REAL_PRECISION (15))
                        : NULL;
            fprintf (mem, "%s\n", s ? s : "null");
            free (s);
            json_decref (j);
        } else {
            shoal_graph_print (g, mem, opts);
        }
        fclose (mem);
    }
    shoal_graph_destroy (&g);
    if (!mem || !*text) {
        free (*text);
        *text = NULL;
        fprintf (stderr, "shoal: out of memory\n");
        return EXIT_REFUSED;
    }
    return 0;
}

/*  workflow show RUN [--json] [--ascii|--utf8] [--watch [--timeout S]]:
    the run view once, or (--watch) again whenever it changes until the
    run ends (exit 0 succeeded, 4 failed or cancelled) or S seconds pass
    (exit 5). On a terminal each refresh replaces the last. */
static int
s_workflow_show (s_cli_t *cli, int argc, char **argv)
{
    bool as_json = false, watch = false;
    int glyphs = 0; /* 1 ascii, 2 utf8, 0 by the terminal */
    double timeout_s = 60;
    const char *run = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--json")) {
            as_json = true;
        } else if (streq (argv[i], "--ascii") || streq (argv[i], "--utf8")) {
            glyphs = streq (argv[i], "--ascii") ? 1 : 2;
        } else if (streq (argv[i], "--watch")) {
            watch = true;
        } else if (streq (argv[i], "--timeout") && i + 1 < argc) {
            char *end;
            errno = 0;
            timeout_s = strtod (argv[++i], &end);
            if (errno || *end || end == argv[i] || timeout_s < 0 ||
                timeout_s > 31536000) {
                return s_usage_error ("--timeout '%s': seconds, 0 or more",
                                      argv[i]);
            }
        } else if (argv[i][0] != '-' && !run) {
            run = argv[i];
        } else {
            return s_usage_error ("usage: workflow show RUN [--json] "
                                  "[--ascii|--utf8] [--watch [--timeout "
                                  "S]]%s",
                                  "");
        }
    }
    shoal_id_t tmp;
    if (!run || shoal_id_parse (run, strlen (run), &tmp)) {
        return s_usage_error ("workflow show needs a run id (32 hex "
                              "digits)%s",
                              "");
    }
    bool tty = isatty (STDOUT_FILENO);
    int64_t until = zclock_mono () + (int64_t) (timeout_s * 1000);
    char *last = NULL;
    int rc = 0;
    for (int round = 0;; round++) {
        shoal_in_t in;
        const uint8_t *view;
        size_t len;
        if ((rc = s_workflow_fetch (cli, run, &in, &view, &len))) {
            break;
        }
        shoal_graph_opts_t opts = shoal_graph_opts_for (STDOUT_FILENO);
        opts.utf8 = glyphs ? glyphs == 2 : opts.utf8;
        shoal_graph_opts_t still = opts;
        still.now_us = 0; /* no times "so far": what changed, not the clock */
        char *text = NULL, *key = NULL;
        bool final = false, ok = false;
        rc = s_workflow_render (view, len, as_json, &opts, &text, &final, &ok);
        if (rc == 0 && watch) {
            rc = s_workflow_render (view, len, as_json, &still, &key, &final,
                                    &ok);
        }
        shoal_in_close (&in);
        if (rc) {
            free (text);
            break;
        }
        /* a terminal shows the times going; a file or pipe gets a new
           rendering only when something changed */
        if (!watch || (tty && !as_json) || !last || !streq (last, key)) {
            if (watch && tty && !as_json) {
                fputs ("\033[H\033[2J", stdout);
            } else if (watch && round > 0 && !as_json) {
                fputc ('\n', stdout);
            }
            fputs (text, stdout);
            fflush (stdout);
        }
        free (text);
        free (last);
        last = key;
        if (!watch) {
            break;
        }
        if (final) {
            rc = ok ? 0 : EXIT_JOBFAILED;
            break;
        }
        for (int slice = 0;
             slice < 5 && zclock_mono () < until && !zsys_interrupted;
             slice++) {
            zclock_sleep (100);
        }
        if (zsys_interrupted) {
            fprintf (stderr, "shoal: interrupted\n");
            rc = EXIT_WAITTIME;
            break;
        }
        if (zclock_mono () >= until) {
            fprintf (stderr, "shoal: run %s not finished after %g s\n", run,
                     timeout_s);
            rc = EXIT_WAITTIME;
            break;
        }
    }
    free (last);
    return rc;
}

/*  workflow cancel|pause|resume RUN [--json] */
static int
s_workflow_run_op (s_cli_t *cli, int argc, char **argv)
{
    bool as_json = argc == 3 && streq (argv[2], "--json");
    shoal_id_t tmp;
    if ((argc != 2 && !as_json) ||
        shoal_id_parse (argv[1], strlen (argv[1]), &tmp)) {
        return s_usage_error ("workflow %s needs a run id (32 hex digits)",
                              argv[0]);
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_WORKFLOW, &id, 0);
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "op", argv[0]);
    shoal_wr_kv_str (w, "id", argv[1]);
    return s_workflow_ask_run (cli, &id, as_json);
}

/*  Prints one stored definition: JSON, or a line. */
static void
s_print_def (const uint8_t *item, size_t len, bool as_json)
{
    if (as_json) {
        s_print_json (item, len);
        return;
    }
    char name[SHOAL_NAME_MAX + 1] = "", desc[128] = "";
    uint64_t rev = 0, nodes = 0, edges = 0;
    shoal_map_strcpy (item, len, "name", name, sizeof name);
    shoal_map_strcpy (item, len, "description", desc, sizeof desc);
    shoal_map_uint (item, len, "revision", &rev);
    shoal_map_uint (item, len, "nodes", &nodes);
    shoal_map_uint (item, len, "edges", &edges);
    printf ("%-24s rev %-4llu %4llu nodes %5llu edges  %s\n", name,
            (unsigned long long) rev, (unsigned long long) nodes,
            (unsigned long long) edges, desc);
}

/*  workflow list|defs [--json]: asks WORKFLOW {op} and prints each item
    of the reply's array key. */
static int
s_workflow_listing (s_cli_t *cli, int argc, char **argv, const char *op,
                    const char *key,
                    void (*print) (const uint8_t *, size_t, bool))
{
    bool as_json = false;
    const char *after = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--json")) {
            as_json = true;
        } else if (streq (argv[i], "--after") && i + 1 < argc &&
                   streq (op, "runs")) {
            after = argv[++i];
        } else {
            return s_usage_error ("workflow %s takes --json%s", argv[0],
                                  streq (op, "runs") ? " and --after RUN" : "");
        }
    }
    shoal_id_t id;
    shoal_wr_t *w = s_begin (cli, SHOAL_M_WORKFLOW, &id, 0);
    shoal_wr_map (w, 1 + (after != NULL));
    shoal_wr_kv_str (w, "op", op);
    if (after) {
        shoal_wr_kv_str (w, "after", after);
    }
    shoal_in_t in;
    int rc = s_ask (cli, &id, cli->timeout_ms, &in);
    if (rc) {
        return rc;
    }
    shoal_rd_t rd;
    uint32_t n = 0;
    if (shoal_map_array (in.body, in.body_len, key, &rd, &n) == SHOAL_OK) {
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *item = rd.p;
            if (shoal_rd_skip (&rd, SHOAL_DEPTH_MAX)) {
                break;
            }
            print (item, (size_t) (rd.p - item), as_json);
        }
    }
    char next[SHOAL_ID_TEXT + 1];
    if (shoal_map_strcpy (in.body, in.body_len, "next", next, sizeof next) ==
        SHOAL_OK) {
        /* a page: say how to get the next one */
        if (as_json) {
            printf ("{\"next\":\"%s\"}\n", next);
        } else {
            fprintf (stderr, "more: shoal workflow %s --after %s\n", argv[0],
                     next);
        }
    }
    shoal_in_close (&in);
    return 0;
}

/*  workflow list [--json]: runs, oldest first. */
static int
s_workflow_list (s_cli_t *cli, int argc, char **argv)
{
    return s_workflow_listing (cli, argc, argv, "runs", "runs", s_print_run);
}

/*  workflow defs [--json]: the stored definitions, latest revisions. */
static int
s_workflow_defs (s_cli_t *cli, int argc, char **argv)
{
    return s_workflow_listing (cli, argc, argv, "defs", "workflows",
                               s_print_def);
}

typedef struct {
    const char *name;
    int (*fn) (s_cli_t *, int, char **);
} s_cmd_t;

/*  shoal workflow SUB ...: more subcommands come with the runtime. */
static const s_cmd_t s_workflow_cmds[] = {
    {"validate", s_workflow_validate}, {"define", s_workflow_define},
    {"defs", s_workflow_defs},         {"run", s_workflow_run},
    {"show", s_workflow_show},         {"list", s_workflow_list},
    {"cancel", s_workflow_run_op},     {"pause", s_workflow_run_op},
    {"resume", s_workflow_run_op},
};

static int
s_cmd_workflow (s_cli_t *cli, int argc, char **argv)
{
    for (size_t k = 0;
         argc >= 2 && k < sizeof s_workflow_cmds / sizeof s_workflow_cmds[0];
         k++) {
        if (streq (argv[1], s_workflow_cmds[k].name)) {
            return s_workflow_cmds[k].fn (cli, argc - 1, argv + 1);
        }
    }
    if (argc >= 2) {
        return s_usage_error ("unknown workflow command '%s' (try "
                              "validate, define, defs, run, show, list, "
                              "cancel, pause or resume)",
                              argv[1]);
    }
    return s_usage_error ("workflow needs a command: validate FILE, define "
                          "FILE, defs, run NAME|FILE, show RUN, list, "
                          "cancel RUN, pause RUN or resume RUN%s",
                          "");
}

/*  keygen DIR [--name NAME] [--force]: local (shoal_keygen.h). */
static int
s_cmd_keygen (s_cli_t *cli, int argc, char **argv)
{
    (void) cli;
    return shoal_keygen_main (argc, argv);
}

static const s_cmd_t s_cmds[] = {
    {"list", s_cmd_list},         {"dlq", s_cmd_dlq},
    {"pause", s_cmd_pause},       {"resume", s_cmd_pause},
    {"queue", s_cmd_queue},       {"backup", s_cmd_backup},
    {"cancel", s_cmd_cancel},     {"schedule", s_cmd_schedule},
    {"retry", s_cmd_retry},       {"show", s_cmd_status},
    {"ping", s_cmd_ping},         {"submit", s_cmd_submit},
    {"status", s_cmd_status},     {"wait", s_cmd_wait},
    {"stats", s_cmd_stats},       {"monitor", s_cmd_monitor},
    {"shutdown", s_cmd_shutdown}, {"batch", s_cmd_batch},
    {"workflow", s_cmd_workflow}, {"keygen", s_cmd_keygen},
    {"hosts", s_cmd_cluster},     {"workers", s_cmd_cluster},
};

/*  Commands that work on local files only: no endpoint, no socket. */
static bool
s_cmd_local (const s_cmd_t *cmd, int argc, char **argv)
{
    return cmd->fn == s_cmd_keygen ||
           (cmd->fn == s_cmd_workflow &&
            (argc < 2 || streq (argv[1], "validate")));
}

int
main (int argc, char **argv)
{
    const char *cert_path = getenv ("SHOAL_CERT"),
               *server_key = getenv ("SHOAL_SERVER_KEY");
    s_cli_t cli = {.endpoint = getenv ("SHOAL_ENDPOINT"),
                   .clock = shoal_clock_real (),
                   .timeout_ms = S_REQ_TIMEOUT_MS};
    if (!cli.endpoint || !*cli.endpoint) {
        cli.endpoint = S_DEFAULT_EP;
    }
    const char *t = getenv ("SHOAL_TIMEOUT");
    if (t && *t) {
        char *end;
        double secs = strtod (t, &end);
        if (*end || secs <= 0 || secs > 86400) {
            return s_usage_error ("SHOAL_TIMEOUT='%s': seconds, > 0", t);
        }
        cli.timeout_ms = (int) (secs * 1000);
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (streq (argv[i], "-h") || streq (argv[i], "--help")) {
            s_usage (stdout);
            return 0;
        }
        if (streq (argv[i], "-V") || streq (argv[i], "--version")) {
            printf ("shoal %s\n", SHOAL_VERSION_STRING);
            return 0;
        }
        if (strncmp (argv[i], "--endpoint=", 11) == 0) {
            cli.endpoint = argv[i] + 11;
        } else if ((streq (argv[i], "--cert") ||
                    streq (argv[i], "--server-key")) &&
                   i + 1 < argc) {
            *(streq (argv[i], "--cert") ? &cert_path : &server_key) =
                argv[i + 1];
            i++;
        } else if (streq (argv[i], "-e") || streq (argv[i], "--endpoint")) {
            if (i + 1 >= argc) {
                return s_usage_error ("%s needs an endpoint", argv[i]);
            }
            cli.endpoint = argv[++i];
        } else {
            return s_usage_error ("unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc) {
        s_usage (stderr);
        return EXIT_USAGE;
    }
    const s_cmd_t *cmd = NULL;
    for (size_t k = 0; k < sizeof s_cmds / sizeof s_cmds[0]; k++) {
        if (streq (argv[i], s_cmds[k].name)) {
            cmd = &s_cmds[k];
        }
    }
    if (!cmd) {
        return s_usage_error ("unknown command '%s'", argv[i]);
    }
    if (s_cmd_local (cmd, argc - i, argv + i)) {
        return cmd->fn (&cli, argc - i, argv + i);
    }
    zsys_init ();
    shoal_log_setup ("shoal", false);
    if ((cert_path && cert_path[0]) != (server_key && server_key[0])) {
        return s_usage_error ("CURVE needs both --cert and --server-key%s", "");
    }
    if (cert_path && cert_path[0]) {
        zcert_t *cert = zcert_load (cert_path);
        if (!cert || streq (zcert_secret_txt (cert),
                            "0000000000000000000000000000000000000000")) {
            zcert_destroy (&cert);
            return s_usage_error ("--cert %s is not a secret certificate "
                                  "(shoal keygen writes NAME.key_secret)",
                                  cert_path);
        }
        char key[41];
        if (shoal_curve_public_key (server_key, key)) {
            zcert_destroy (&cert);
            return s_usage_error ("--server-key: '%s' is neither a 40 "
                                  "character Z85 key nor a certificate file",
                                  server_key);
        }
        cli.curve = true;
        cli.port = shoal_port_new_client_curve (cli.endpoint, "shoal-cli",
                                                &cli.clock, cert, key);
        zcert_destroy (&cert);
    } else {
        cli.port =
            shoal_port_new_client (cli.endpoint, "shoal-cli", &cli.clock);
    }
    if (cli.port) {
        /* Nothing to flush at exit: a request without an answer has an
           unknown outcome whether or not it left, and waiting for a
           peer that never completes a handshake could hold the exit. */
        zsock_set_linger (shoal_port_sock (cli.port), 0);
    }
    if (!cli.port) {
        fprintf (stderr, "shoal: bad endpoint '%s'\n", cli.endpoint);
        return EXIT_USAGE;
    }
    int rc = cmd->fn (&cli, argc - i, argv + i);
    shoal_port_destroy (&cli.port);
    return rc;
}
