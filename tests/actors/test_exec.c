/*  test_exec.c - the exec job handler against real programs (sh, cat...).

    No test waits on a clock to pass: interruptions are triggered by the
    child itself through a FIFO, and the death of a grandchild is observed
    through a pidfd. Timeouts appear only as generous failure guards, or
    as the thing under test, checked by outcome rather than elapsed time.
    SIGPIPE keeps its default action on purpose: the handler must not need
    SIG_IGN.
*/
#include "shoal_exec.h"
#include "shoal_json.h"
#include "shoal_mp.h"
#include "shoal_test.h"

#include <czmq.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 60000 /* a timeout that only a broken handler reaches */

/*  --------------------------------------------------------------------
    Fixtures */

static int
s_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void) st;
    (void) flag;
    (void) f;
    return remove (path);
}

static void
s_rmtree (const char *dir)
{
    if (dir[0]) {
        nftw (dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static bool
s_tmpdir (char *dir, size_t cap)
{
    snprintf (dir, cap, "/tmp/shoal-exec-XXXXXX");
    return mkdtemp (dir) != NULL;
}

static bool
s_write_file (const char *path, const char *text, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return false;
    }
    size_t len = strlen (text);
    bool ok = write (fd, text, len) == (ssize_t) len;
    return close (fd) == 0 && ok;
}

/*  Appends the NULL-terminated strings of ap as an array. */
static void
s_wr_strv (shoal_wr_t *w, va_list ap)
{
    va_list count;
    va_copy (count, ap);
    uint32_t n = 0;
    while (va_arg (count, const char *)) {
        n++;
    }
    va_end (count);
    shoal_wr_array (w, n);
    const char *s;
    while ((s = va_arg (ap, const char *))) {
        shoal_wr_str (w, s);
    }
}

/*  Appends a NULL-terminated list of strings as an array. */
static void
s_wr_strs (shoal_wr_t *w, ...)
{
    va_list ap;
    va_start (ap, w);
    s_wr_strv (w, ap);
    va_end (ap);
}

/*  Begins a payload map of 1 + more pairs with argv, a NULL-terminated
    list of strings; the caller appends the more pairs. */
static void
s_argv (shoal_wr_t *w, uint32_t more, ...)
{
    shoal_wr_map (w, 1 + more);
    shoal_wr_str (w, "argv");
    va_list ap;
    va_start (ap, more);
    s_wr_strv (w, ap);
    va_end (ap);
}

/*  A payload {argv: ["sh", "-c", script]} plus `more` pairs the caller
    appends. */
static shoal_wr_t *
s_sh (const char *script, uint32_t more)
{
    shoal_wr_t *w = shoal_wr_new ();
    s_argv (w, more, "sh", "-c", script, NULL);
    return w;
}

typedef struct {
    shoal_wr_t *r;
    char er[512];
    char ec[65];
} run_t;

static shoal_exec_outcome_t
s_run_opts (run_t *run, shoal_wr_t *pl, const shoal_exec_opts_t *opts,
            zsock_t *pipe, zsock_t *cancel)
{
    if (!run->r) {
        run->r = shoal_wr_new ();
    }
    shoal_wr_reset (run->r);
    return shoal_exec_run (
        pl ? shoal_wr_data (pl) : NULL, pl ? shoal_wr_size (pl) : 0, opts, pipe,
        cancel, run->r, run->er, sizeof run->er, run->ec, sizeof run->ec);
}

static shoal_exec_outcome_t
s_run (run_t *run, shoal_wr_t *pl)
{
    return s_run_opts (run, pl, NULL, NULL, NULL);
}

static void
s_run_free (run_t *run, shoal_wr_t **pl)
{
    shoal_wr_destroy (&run->r);
    shoal_wr_destroy (pl);
}

/*  The result is one valid map of the documented shape. */
static bool
s_result_valid (const run_t *run)
{
    const uint8_t *r = shoal_wr_data (run->r);
    size_t n = shoal_wr_size (run->r);
    shoal_limits_t lim = shoal_limits_default ();
    size_t used = 0;
    bool b;
    uint64_t u;
    const char *s;
    uint32_t len;
    shoal_mp_val_t v;
    return n > 0 && shoal_mp_validate (r, n, &lim, &used) == SHOAL_OK &&
           used == n &&
           shoal_map_find (r, n, "exit_code", &v, NULL, NULL) == 0 &&
           shoal_map_str (r, n, "stdout", &s, &len) == 0 &&
           shoal_map_str (r, n, "stderr", &s, &len) == 0 &&
           shoal_map_bool (r, n, "stdout_truncated", &b) == 0 &&
           shoal_map_bool (r, n, "stderr_truncated", &b) == 0 &&
           shoal_map_uint (r, n, "stdout_bytes", &u) == 0 &&
           shoal_map_uint (r, n, "stderr_bytes", &u) == 0 &&
           shoal_map_uint (r, n, "duration_ms", &u) == 0;
}

/*  exit_code as a number, -1 for nil, -2 if absent or of another type. */
static long long
s_exit_code (const run_t *run)
{
    shoal_mp_val_t v;
    if (shoal_map_find (shoal_wr_data (run->r), shoal_wr_size (run->r),
                        "exit_code", &v, NULL, NULL)) {
        return -2;
    }
    return v.type == SHOAL_MP_NIL    ? -1
           : v.type == SHOAL_MP_UINT ? (long long) v.u
                                     : -2;
}

/*  signal, or -1 if absent. */
static long long
s_signal (const run_t *run)
{
    uint64_t sig;
    return shoal_map_uint (shoal_wr_data (run->r), shoal_wr_size (run->r),
                           "signal", &sig)
               ? -1
               : (long long) sig;
}

/*  A str field copied into buf (NUL-terminated, cut to fit). */
static const char *
s_field (const run_t *run, const char *key, char *buf, size_t cap)
{
    const char *s;
    uint32_t len;
    if (shoal_map_str (shoal_wr_data (run->r), shoal_wr_size (run->r), key, &s,
                       &len)) {
        return NULL;
    }
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy (buf, s, n);
    buf[n] = '\0';
    return buf;
}

static bool
s_flag (const run_t *run, const char *key)
{
    bool b = false;
    shoal_map_bool (shoal_wr_data (run->r), shoal_wr_size (run->r), key, &b);
    return b;
}

static uint64_t
s_uint (const run_t *run, const char *key)
{
    uint64_t u = UINT64_MAX;
    shoal_map_uint (shoal_wr_data (run->r), shoal_wr_size (run->r), key, &u);
    return u;
}

/*  The state letter of process pid, or 0 if there is no such process. */
static char
s_proc_state (pid_t pid)
{
    char path[64], line[512];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    char *paren =
        f && fgets (line, sizeof line, f) ? strrchr (line, ')') : NULL;
    if (f) {
        fclose (f);
    }
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

/*  Reads the pid a child wrote to path; false if there is none. */
static bool
s_read_pid (const char *path, int *pid)
{
    FILE *f = fopen (path, "r");
    bool got = f && fscanf (f, "%d", pid) == 1;
    if (f) {
        fclose (f);
    }
    return got;
}

/*  Waits (bounded) until process pid has died: a pidfd turns readable at
    its exit, zombie or not. True if it is dead. Where pidfds are missing
    (valgrind 3.19) it falls back to looking at /proc every 10 ms. */
static bool
s_process_dies (pid_t pid)
{
    int fd = pidfd_open (pid, 0);
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll (&p, 1, GUARD_MS);
        close (fd);
        return rc == 1;
    }
    if (errno == ESRCH) {
        return true; /* already gone and reaped */
    }
    for (int i = 0; i < GUARD_MS / 10; i++) {
        char state = s_proc_state (pid);
        if (state == 0 || state == 'Z' || state == 'X') {
            return true;
        }
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep (&tick, NULL);
    }
    return false;
}

/*  --------------------------------------------------------------------
    Runs that end by themselves */

SHOAL_TEST (json_stdout_becomes_json)
{
    run_t run = {0};
    shoal_wr_t *pl = s_sh (
        "printf '  {\"a\": [1, -2], \"b\": \"x\", \"c\": null}\\n\\n'", 0);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_OK);
    CHECK_STR (run.er, "");
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_exit_code (&run), 0);
    CHECK_EQ (s_signal (&run), -1);
    CHECK (!s_flag (&run, "stdout_truncated"));
    const uint8_t *raw;
    size_t raw_len;
    shoal_mp_val_t v;
    CHECK_OK (shoal_map_find (shoal_wr_data (run.r), shoal_wr_size (run.r),
                              "json", &v, &raw, &raw_len));
    CHECK_EQ (v.type, SHOAL_MP_MAP);
    shoal_err_t err;
    shoal_limits_t lim = shoal_limits_default ();
    json_t *got = shoal_mp_to_json (raw, raw_len, &lim, &err);
    json_t *want =
        json_loads ("{\"a\": [1, -2], \"b\": \"x\", \"c\": null}", 0, NULL);
    CHECK (got && want && json_equal (got, want));
    json_decref (got);
    json_decref (want);

    /* Not JSON, or JSON followed by more: no json field. */
    shoal_wr_destroy (&pl);
    pl = s_sh ("echo '{\"a\": 1} trailing'", 0);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_OK);
    CHECK_RC (shoal_map_find (shoal_wr_data (run.r), shoal_wr_size (run.r),
                              "json", &v, NULL, NULL),
              SHOAL_ERR_NOT_FOUND);
    /* A scalar is a JSON document too. */
    shoal_wr_destroy (&pl);
    pl = s_sh ("echo 42", 0);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_OK);
    uint64_t n = 0;
    CHECK_OK (shoal_map_uint (shoal_wr_data (run.r), shoal_wr_size (run.r),
                              "json", &n));
    CHECK_EQ (n, 42);
    s_run_free (&run, &pl);
}

SHOAL_TEST (nonzero_exit_keeps_output)
{
    run_t run = {0};
    shoal_wr_t *pl = s_sh ("echo out; echo err >&2; exit 3", 0);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "exit status 3");
    CHECK_STR (run.ec, "exit:3");
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_exit_code (&run), 3);
    char buf[64];
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf), "out\n");
    CHECK_STR (s_field (&run, "stderr", buf, sizeof buf), "err\n");
    CHECK_EQ (s_uint (&run, "stdout_bytes"), 4);
    s_run_free (&run, &pl);
}

SHOAL_TEST (killed_by_signal)
{
    run_t run = {0};
    shoal_wr_t *pl = s_sh ("echo before; kill -9 $$", 0);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "killed by signal 9");
    CHECK_STR (run.ec, "signal:9");
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_exit_code (&run), -1);
    CHECK_EQ (s_signal (&run), 9);
    char buf[64];
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf), "before\n");
    s_run_free (&run, &pl);
}

SHOAL_TEST (stdin_fed_to_cat)
{
    run_t run = {0};
    shoal_wr_t *pl = shoal_wr_new ();
    s_argv (pl, 1, "cat", NULL);
    shoal_wr_kv_bin (pl, "stdin", "hello\0world", 11);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_OK);
    const char *s;
    uint32_t len;
    CHECK_OK (shoal_map_str (shoal_wr_data (run.r), shoal_wr_size (run.r),
                             "stdout", &s, &len));
    CHECK (len == 11 && memcmp (s, "hello\0world", 11) == 0);

    /* More than a pipe holds, both ways at once: no deadlock. */
    size_t big = 300 * 1000;
    char *text = malloc (big);
    CHECK (text);
    for (size_t i = 0; i < big; i++) {
        text[i] = (char) ('a' + i % 26);
    }
    shoal_wr_reset (pl);
    s_argv (pl, 1, "cat", NULL);
    shoal_wr_kv_strn (pl, "stdin", text, big);
    shoal_exec_opts_t opts = shoal_exec_opts_default ();
    opts.out_cap = big;
    CHECK_EQ (s_run_opts (&run, pl, &opts, NULL, NULL), SHOAL_EXEC_OK);
    CHECK_OK (shoal_map_str (shoal_wr_data (run.r), shoal_wr_size (run.r),
                             "stdout", &s, &len));
    bool same = len == big && memcmp (s, text, big) == 0;
    free (text);
    CHECK (same);
    CHECK (!s_flag (&run, "stdout_truncated"));
    s_run_free (&run, &pl);
}

SHOAL_TEST (stdin_refused_by_child)
{
    /* head reads a little and exits: the rest of 512 KiB meets EPIPE, which
       must neither kill this process (SIGPIPE is at its default here) nor
       fail the run. */
    run_t run = {0};
    size_t big = SHOAL_STR_MAX;
    char *text = calloc (1, big);
    CHECK (text);
    memset (text, 'z', big);
    shoal_wr_t *pl = shoal_wr_new ();
    s_argv (pl, 1, "head", "-c", "10", NULL);
    shoal_wr_kv_bin (pl, "stdin", text, big);
    free (text);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_OK);
    char buf[64];
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf), "zzzzzzzzzz");
    s_run_free (&run, &pl);
}

SHOAL_TEST (env_inherit_override_unset)
{
    run_t run = {0};
    setenv ("SHOAL_T_INHERIT", "inherited", 1);
    setenv ("SHOAL_T_OVERRIDE", "old", 1);
    setenv ("SHOAL_T_UNSET", "present", 1);
    shoal_wr_t *pl = s_sh ("echo \"$SHOAL_T_INHERIT $SHOAL_T_OVERRIDE "
                           "${SHOAL_T_UNSET-unset} $X\"",
                           1);
    shoal_wr_str (pl, "env");
    shoal_wr_map (pl, 3);
    shoal_wr_kv_str (pl, "SHOAL_T_OVERRIDE", "new");
    shoal_wr_str (pl, "SHOAL_T_UNSET");
    shoal_wr_nil (pl);
    shoal_wr_kv_str (pl, "X", "x=1");
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_OK);
    char buf[128];
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf),
               "inherited new unset x=1\n");
    unsetenv ("SHOAL_T_INHERIT");
    unsetenv ("SHOAL_T_OVERRIDE");
    unsetenv ("SHOAL_T_UNSET");
    s_run_free (&run, &pl);
}

SHOAL_TEST (path_lookup_uses_child_path)
{
    char dir[64];
    CHECK (s_tmpdir (dir, sizeof dir));
    char tool[128];
    snprintf (tool, sizeof tool, "%s/shoal-t-tool", dir);
    CHECK (s_write_file (tool, "#!/bin/sh\necho found \"$0\"\n", 0755));
    run_t run = {0};
    shoal_wr_t *pl = shoal_wr_new ();
    s_argv (pl, 1, "shoal-t-tool", NULL);
    shoal_wr_str (pl, "env");
    shoal_wr_map (pl, 1);
    shoal_wr_kv_str (pl, "PATH", dir);
    shoal_exec_outcome_t out = s_run (&run, pl);
    char want[160], buf[160];
    snprintf (want, sizeof want, "found %s\n", tool);
    s_rmtree (dir);
    CHECK_EQ (out, SHOAL_EXEC_OK);
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf), want);
    s_run_free (&run, &pl);
}

SHOAL_TEST (cwd_honoured)
{
    char dir[64], real[PATH_MAX];
    CHECK (s_tmpdir (dir, sizeof dir));
    CHECK (realpath (dir, real));
    char script[128];
    snprintf (script, sizeof script, "%s/local.sh", dir);
    CHECK (s_write_file (script, "#!/bin/sh\npwd\n", 0755));
    run_t run = {0};
    /* A relative argv[0] is relative to cwd. */
    shoal_wr_t *pl = shoal_wr_new ();
    s_argv (pl, 1, "./local.sh", NULL);
    shoal_wr_kv_str (pl, "cwd", dir);
    shoal_exec_outcome_t out = s_run (&run, pl);
    char want[PATH_MAX + 2], buf[PATH_MAX + 2];
    snprintf (want, sizeof want, "%s\n", real);
    s_rmtree (dir);
    CHECK_EQ (out, SHOAL_EXEC_OK);
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf), want);

    /* A missing folder fails before anything runs; a result is kept. */
    shoal_wr_reset (pl);
    s_argv (pl, 1, "pwd", NULL);
    shoal_wr_kv_str (pl, "cwd", dir);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_FAILED);
    snprintf (want, sizeof want,
              "cannot change directory to '%s': No such file or directory",
              dir);
    CHECK_STR (run.er, want);
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_exit_code (&run), -1);
    s_run_free (&run, &pl);
}

SHOAL_TEST (output_truncated_at_cap)
{
    run_t run = {0};
    shoal_wr_t *pl = s_sh ("yes 0123456789 | head -c 100000; echo tiny >&2", 0);
    shoal_exec_opts_t opts = shoal_exec_opts_default ();
    opts.out_cap = 1000;
    CHECK_EQ (s_run_opts (&run, pl, &opts, NULL, NULL), SHOAL_EXEC_OK);
    CHECK (s_result_valid (&run));
    const char *s;
    uint32_t len;
    CHECK_OK (shoal_map_str (shoal_wr_data (run.r), shoal_wr_size (run.r),
                             "stdout", &s, &len));
    CHECK_EQ (len, 1000);
    CHECK (memcmp (s, "0123456789\n0123", 15) == 0);
    CHECK (s_flag (&run, "stdout_truncated"));
    CHECK_EQ (s_uint (&run, "stdout_bytes"), 100000);
    CHECK (!s_flag (&run, "stderr_truncated"));
    CHECK_EQ (s_uint (&run, "stderr_bytes"), 5);

    /* The default cap is 64 KiB. */
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_OK);
    CHECK_OK (shoal_map_str (shoal_wr_data (run.r), shoal_wr_size (run.r),
                             "stdout", &s, &len));
    CHECK_EQ (len, SHOAL_EXEC_OUT_CAP);
    s_run_free (&run, &pl);
}

SHOAL_TEST (child_gets_clean_process_state)
{
    /* Like shoald: signals blocked, one ignored, a descriptor without
       close-on-exec. The child must see none of it. */
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGTERM);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGCHLD);
    pthread_sigmask (SIG_BLOCK, &block, &old);
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_usr1;
    sigaction (SIGUSR1, &ign, &old_usr1);
    int leak = open ("/dev/null", O_RDONLY);
    run_t run = {0};
    shoal_wr_t *pl =
        s_sh ("grep -E '^Sig(Blk|Ign)' /proc/self/status; "
              "ls /proc/self/fd | tr '\\n' ' '; "
              "test $(cut -d' ' -f5 /proc/$$/stat) -eq $$ && echo leader",
              0);
    shoal_exec_outcome_t out = s_run (&run, pl);
    close (leak);
    sigaction (SIGUSR1, &old_usr1, NULL);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    CHECK_EQ (out, SHOAL_EXEC_OK);
    char buf[512];
    CHECK (s_field (&run, "stdout", buf, sizeof buf));
    CHECK (strstr (buf, "SigBlk:\t0000000000000000\n"));
    /* sh itself may ignore a few signals; SIGUSR1 (bit 10) is not one. */
    char *ignl = strstr (buf, "SigIgn:\t");
    CHECK (ignl);
    unsigned long long ignored = strtoull (ignl + 8, NULL, 16);
    CHECK ((ignored & (1ull << (SIGUSR1 - 1))) == 0);
    /* ls sees 0, 1, 2 and the folder it reads: nothing of ours. */
    CHECK (strstr (buf, "\n0 1 2 3 leader\n"));
    s_run_free (&run, &pl);
}

/*  --------------------------------------------------------------------
    Runs that are stopped */

SHOAL_TEST (timeout_kills_child)
{
    run_t run = {0};
    shoal_wr_t *pl = shoal_wr_new ();
    s_argv (pl, 1, "sleep", "30", NULL);
    shoal_wr_kv_uint (pl, "timeout_ms", 200);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "timed out after 200 ms");
    CHECK_STR (run.ec, "timeout");
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_exit_code (&run), -1);
    CHECK_EQ (s_signal (&run), SIGTERM);

    /* The caller's default applies when the payload has none. */
    shoal_wr_reset (pl);
    s_argv (pl, 0, "sleep", "30", NULL);
    shoal_exec_opts_t opts = shoal_exec_opts_default ();
    opts.default_timeout_ms = 100;
    CHECK_EQ (s_run_opts (&run, pl, &opts, NULL, NULL), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "timed out after 100 ms");

    /* The caller's cap wins over a longer (or no) timeout. */
    shoal_wr_reset (pl);
    s_argv (pl, 1, "sleep", "30", NULL);
    shoal_wr_kv_uint (pl, "timeout_ms", 3000000);
    opts.max_timeout_ms = 150;
    CHECK_EQ (s_run_opts (&run, pl, &opts, NULL, NULL), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "timed out after 150 ms");
    s_run_free (&run, &pl);
}

SHOAL_TEST (timeout_kills_grandchild)
{
    char dir[64], pidfile[128];
    CHECK (s_tmpdir (dir, sizeof dir));
    snprintf (pidfile, sizeof pidfile, "%s/pid", dir);
    char script[256];
    snprintf (script, sizeof script, "sleep 30 & echo $! > %s; wait", pidfile);
    run_t run = {0};
    shoal_wr_t *pl = s_sh (script, 1);
    shoal_wr_kv_uint (pl, "timeout_ms", 200);
    shoal_exec_outcome_t out = s_run (&run, pl);
    int pid = 0;
    bool got = s_read_pid (pidfile, &pid);
    s_rmtree (dir);
    CHECK_EQ (out, SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "timed out after 200 ms");
    CHECK (got && pid > 0);
    CHECK (s_process_dies (pid));
    s_run_free (&run, &pl);
}

SHOAL_TEST (term_ignored_then_killed)
{
    /* An ignored signal stays ignored across exec: sh and sleep both
       ignore SIGTERM, so only SIGKILL after the grace ends them. */
    run_t run = {0};
    shoal_wr_t *pl = s_sh ("trap '' TERM; sleep 30", 1);
    shoal_wr_kv_uint (pl, "timeout_ms", 100);
    shoal_exec_opts_t opts = shoal_exec_opts_default ();
    opts.kill_grace_ms = 100;
    CHECK_EQ (s_run_opts (&run, pl, &opts, NULL, NULL), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "timed out after 100 ms");
    CHECK_EQ (s_signal (&run), SIGKILL);
    s_run_free (&run, &pl);
}

SHOAL_TEST (leftovers_killed_at_exit)
{
    /* The command exits at once, leaving a background job that holds
       stdout open: the run must end anyway, and take the job with it. */
    char dir[64], pidfile[128];
    CHECK (s_tmpdir (dir, sizeof dir));
    snprintf (pidfile, sizeof pidfile, "%s/pid", dir);
    char script[256];
    snprintf (script, sizeof script, "sleep 30 & echo $! > %s; echo bye",
              pidfile);
    run_t run = {0};
    shoal_wr_t *pl = s_sh (script, 1);
    shoal_wr_kv_uint (pl, "timeout_ms", GUARD_MS);
    shoal_exec_outcome_t out = s_run (&run, pl);
    int pid = 0;
    bool got = s_read_pid (pidfile, &pid);
    s_rmtree (dir);
    CHECK_EQ (out, SHOAL_EXEC_OK);
    char buf[64];
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf), "bye\n");
    CHECK (got && pid > 0);
    CHECK (s_process_dies (pid));
    s_run_free (&run, &pl);
}

typedef struct {
    const char *fifo;
    zsock_t *sender;
    bool ok;
} waker_t;

/*  Waits until the child writes a line to the FIFO (it is running), then
    sends one message. Bounded so that a broken run cannot hang the test. */
static void *
s_waker (void *arg)
{
    waker_t *w = arg;
    int fd = open (w->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        char line[16];
        w->ok = poll (&p, 1, GUARD_MS) == 1 && read (fd, line, sizeof line) > 0;
        close (fd);
    }
    zstr_send (w->sender, "$TERM");
    return NULL;
}

/*  Runs a long child that says it started through a FIFO; a thread then
    sends a message on the other end of pipe or cancel. */
static shoal_exec_outcome_t
s_run_stopped (run_t *run, bool use_cancel, bool *waker_ok, char *left,
               size_t left_cap)
{
    static int seq;
    char dir[64], fifo[128], script[256], ep[128];
    if (!s_tmpdir (dir, sizeof dir)) {
        return SHOAL_EXEC_INVALID;
    }
    snprintf (fifo, sizeof fifo, "%s/ready", dir);
    mkfifo (fifo, 0600);
    snprintf (script, sizeof script, "echo started; echo up > %s; sleep 30",
              fifo);
    snprintf (ep, sizeof ep, "inproc://exec-stop-%d", seq++);
    zsock_t *rx = zsock_new (ZMQ_PAIR);
    zsock_t *tx = zsock_new (ZMQ_PAIR);
    if (!rx || !tx || zsock_bind (rx, "%s", ep) < 0 ||
        zsock_connect (tx, "%s", ep) < 0) {
        zsock_destroy (&rx);
        zsock_destroy (&tx);
        s_rmtree (dir);
        return SHOAL_EXEC_INVALID;
    }
    shoal_wr_t *pl = s_sh (script, 1);
    shoal_wr_kv_uint (pl, "timeout_ms", GUARD_MS);
    waker_t w = {fifo, tx, false};
    pthread_t th;
    pthread_create (&th, NULL, s_waker, &w);
    shoal_exec_outcome_t out = s_run_opts (
        run, pl, NULL, use_cancel ? NULL : rx, use_cancel ? rx : NULL);
    pthread_join (th, NULL);
    *waker_ok = w.ok;
    /* The message was left for the caller to read. */
    zsock_set_rcvtimeo (rx, GUARD_MS);
    char *msg = zstr_recv (rx);
    snprintf (left, left_cap, "%s", msg ? msg : "(none)");
    zstr_free (&msg);
    zsock_destroy (&tx);
    zsock_destroy (&rx);
    shoal_wr_destroy (&pl);
    s_rmtree (dir);
    return out;
}

SHOAL_TEST (pipe_message_interrupts)
{
    run_t run = {0};
    bool waker_ok;
    char left[32];
    CHECK_EQ (s_run_stopped (&run, false, &waker_ok, left, sizeof left),
              SHOAL_EXEC_INTERRUPTED);
    CHECK (waker_ok);
    CHECK_STR (run.er, "interrupted");
    CHECK_STR (run.ec, "interrupted");
    CHECK_STR (left, "$TERM");
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_signal (&run), SIGTERM);
    char buf[64];
    CHECK_STR (s_field (&run, "stdout", buf, sizeof buf), "started\n");
    shoal_wr_destroy (&run.r);
}

SHOAL_TEST (cancel_socket_cancels)
{
    run_t run = {0};
    bool waker_ok;
    char left[32];
    CHECK_EQ (s_run_stopped (&run, true, &waker_ok, left, sizeof left),
              SHOAL_EXEC_CANCELLED);
    CHECK (waker_ok);
    CHECK_STR (run.er, "cancelled");
    CHECK_STR (run.ec, "cancelled");
    CHECK_STR (left, "$TERM");
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_signal (&run), SIGTERM);
    shoal_wr_destroy (&run.r);
}

SHOAL_TEST (message_waiting_before_start)
{
    /* A message already waiting stops the run at once; with no timeout
       at all, only the pipe can end `sleep 30` early. */
    zsock_t *rx = zsock_new_pair ("@inproc://exec-early");
    zsock_t *tx = zsock_new_pair (">inproc://exec-early");
    CHECK (rx && tx);
    zstr_send (tx, "$TERM");
    run_t run = {0};
    shoal_wr_t *pl = shoal_wr_new ();
    s_argv (pl, 0, "sleep", "30", NULL);
    zsock_t *cancel = zsock_new_pair ("@inproc://exec-early-cancel");
    CHECK_EQ (s_run_opts (&run, pl, NULL, rx, cancel), SHOAL_EXEC_INTERRUPTED);
    char *msg = zstr_recv (rx);
    CHECK_STR (msg, "$TERM");
    zstr_free (&msg);
    zsock_destroy (&cancel);
    zsock_destroy (&tx);
    zsock_destroy (&rx);
    s_run_free (&run, &pl);
}

/*  --------------------------------------------------------------------
    Refusals */

SHOAL_TEST (missing_executable)
{
    run_t run = {0};
    shoal_wr_t *pl = shoal_wr_new ();
    s_argv (pl, 0, "shoal-no-such-program", "x", NULL);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, "cannot execute 'shoal-no-such-program': No such "
                       "file or directory");
    CHECK_STR (run.ec, "spawn");
    CHECK (s_result_valid (&run));
    CHECK_EQ (s_exit_code (&run), -1);

    shoal_wr_reset (pl);
    s_argv (pl, 0, "/nonexistent/prog", NULL);
    CHECK_EQ (s_run (&run, pl), SHOAL_EXEC_FAILED);
    CHECK_STR (run.er,
               "cannot execute '/nonexistent/prog': No such file or directory");

    /* A file without execute permission (refused even to root). */
    char dir[64], file[128];
    CHECK (s_tmpdir (dir, sizeof dir));
    snprintf (file, sizeof file, "%s/plain", dir);
    CHECK (s_write_file (file, "#!/bin/sh\necho no\n", 0644));
    shoal_wr_reset (pl);
    s_argv (pl, 0, file, NULL);
    shoal_exec_outcome_t out = s_run (&run, pl);
    char want[256];
    snprintf (want, sizeof want, "cannot execute '%s': Permission denied",
              file);
    s_rmtree (dir);
    CHECK_EQ (out, SHOAL_EXEC_FAILED);
    CHECK_STR (run.er, want);
    s_run_free (&run, &pl);
}

/*  One refused payload: INVALID, the expected words, nothing written. */
#define CHECK_REFUSED(pl, words)                                               \
    do {                                                                       \
        CHECK_EQ (s_run (&run, (pl)), SHOAL_EXEC_INVALID);                     \
        CHECK_STR (run.er, (words));                                           \
        CHECK_STR (run.ec, "invalid");                                         \
        CHECK_EQ (shoal_wr_size (run.r), 0);                                   \
        shoal_wr_reset (pl);                                                   \
    } while (0)

SHOAL_TEST (malformed_payloads)
{
    run_t run = {0};
    CHECK_EQ (s_run (&run, NULL), SHOAL_EXEC_INVALID);
    CHECK_STR (run.er, "exec needs a payload map {argv: [str, ...], ...}");

    shoal_wr_t *pl = shoal_wr_new ();
    s_wr_strs (pl, "ls", NULL);
    CHECK_REFUSED (pl, "exec payload must be a map {argv: [str, ...], ...}");

    shoal_wr_map (pl, 0);
    CHECK_REFUSED (pl, "exec payload: argv is required");

    shoal_wr_map (pl, 1);
    shoal_wr_kv_str (pl, "argv", "ls");
    CHECK_REFUSED (pl, "exec payload: argv must be an array of strings");

    shoal_wr_map (pl, 1);
    shoal_wr_str (pl, "argv");
    shoal_wr_array (pl, 0);
    CHECK_REFUSED (pl, "exec payload: argv must not be empty");

    shoal_wr_map (pl, 1);
    shoal_wr_str (pl, "argv");
    shoal_wr_array (pl, 2);
    shoal_wr_str (pl, "ls");
    shoal_wr_uint (pl, 3);
    CHECK_REFUSED (pl, "exec payload: argv[1] must be a string");

    shoal_wr_map (pl, 1);
    shoal_wr_str (pl, "argv");
    shoal_wr_array (pl, 1);
    shoal_wr_strn (pl, "l\0s", 3);
    CHECK_REFUSED (pl, "exec payload: argv[0] contains a NUL byte");

    s_argv (pl, 0, "", NULL);
    CHECK_REFUSED (pl, "exec payload: argv[0] must not be empty");

    shoal_wr_map (pl, 1);
    shoal_wr_str (pl, "argv");
    shoal_wr_array (pl, SHOAL_EXEC_ARGV_MAX + 1);
    for (uint32_t i = 0; i <= SHOAL_EXEC_ARGV_MAX; i++) {
        shoal_wr_str (pl, "a");
    }
    CHECK_REFUSED (pl, "exec payload: argv has more than 1024 entries");

    const char *bad_keys[] = {"A=B", ""};
    const char *bad_words[] = {
        "exec payload: env key 'A=B' is invalid (empty, '=' or NUL)",
        "exec payload: env key '' is invalid (empty, '=' or NUL)"};
    for (int i = 0; i < 2; i++) {
        s_argv (pl, 1, "true", NULL);
        shoal_wr_str (pl, "env");
        shoal_wr_map (pl, 1);
        shoal_wr_kv_str (pl, bad_keys[i], "x");
        CHECK_REFUSED (pl, bad_words[i]);
    }

    s_argv (pl, 1, "true", NULL);
    shoal_wr_str (pl, "env");
    shoal_wr_map (pl, 1);
    shoal_wr_kv_uint (pl, "X", 3);
    CHECK_REFUSED (pl, "exec payload: env value of 'X' must be a string "
                       "without NUL, or nil");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_str (pl, "env");
    shoal_wr_map (pl, 2);
    shoal_wr_kv_str (pl, "X", "1");
    shoal_wr_kv_str (pl, "X", "2");
    CHECK_REFUSED (pl, "exec payload: env key 'X' is repeated");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_str (pl, "env");
    s_wr_strs (pl, "X=1", NULL);
    CHECK_REFUSED (pl, "exec payload: env must be a map of strings");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_kv_uint (pl, "cwd", 5);
    CHECK_REFUSED (pl, "exec payload: cwd must be a string");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_kv_uint (pl, "stdin", 5);
    CHECK_REFUSED (pl, "exec payload: stdin must be a string or bin");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_kv_uint (pl, "timeout_ms", 0);
    CHECK_REFUSED (pl, "exec payload: timeout_ms must be an integer "
                       "1..4294967295");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_str (pl, "timeout_ms");
    shoal_wr_int (pl, -5);
    CHECK_REFUSED (pl, "exec payload: timeout_ms must be an integer "
                       "1..4294967295");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_kv_uint (pl, "timeout", 10);
    CHECK_REFUSED (pl, "exec payload: unknown field 'timeout'");

    s_argv (pl, 1, "true", NULL);
    shoal_wr_str (pl, "argv");
    s_wr_strs (pl, "false", NULL);
    CHECK_REFUSED (pl, "exec payload: field 'argv' is repeated");

    shoal_wr_map (pl, 1);
    shoal_wr_uint (pl, 1);
    s_wr_strs (pl, "true", NULL);
    CHECK_REFUSED (pl, "exec payload: keys must be strings");

    /* Truncated msgpack: the map announces a pair that is not there. */
    const uint8_t cut[] = {0x81, 0xa4, 'a', 'r', 'g', 'v'};
    shoal_wr_raw (pl, cut, sizeof cut);
    CHECK_REFUSED (pl, "exec payload: malformed message");

    /* Over the string limit. */
    char *huge = calloc (1, SHOAL_STR_MAX + 1);
    CHECK (huge);
    s_argv (pl, 1, "cat", NULL);
    shoal_wr_kv_bin (pl, "stdin", huge, SHOAL_STR_MAX + 1);
    free (huge);
    CHECK_REFUSED (pl, "exec payload: too large (a string at most 524288 "
                       "bytes, 20 levels of nesting)");
    s_run_free (&run, &pl);
}

SHOAL_TEST (outcome_names)
{
    CHECK_STR (shoal_exec_outcome_name (SHOAL_EXEC_OK), "ok");
    CHECK_STR (shoal_exec_outcome_name (SHOAL_EXEC_INTERRUPTED), "interrupted");
    CHECK_STR (shoal_exec_outcome_name ((shoal_exec_outcome_t) 99), "unknown");
}

SHOAL_TEST_MAIN (json_stdout_becomes_json, nonzero_exit_keeps_output,
                 killed_by_signal, stdin_fed_to_cat, stdin_refused_by_child,
                 env_inherit_override_unset, path_lookup_uses_child_path,
                 cwd_honoured, output_truncated_at_cap,
                 child_gets_clean_process_state, timeout_kills_child,
                 timeout_kills_grandchild, term_ignored_then_killed,
                 leftovers_killed_at_exit, pipe_message_interrupts,
                 cancel_socket_cancels, message_waiting_before_start,
                 missing_executable, malformed_payloads, outcome_names)
