/*  shoal_exec.c - the `exec` job handler.

    posix_spawn rather than fork: glibc spawns with CLONE_VM|CLONE_VFORK,
    so the cost does not grow with the daemon's memory, nothing but the
    exec runs in the child of a multi-threaded process, and exec errors
    come back as a return value. The spawn attributes give the child its
    own process group, an empty signal mask and default dispositions (the
    daemon blocks SIGCHLD, SIGINT and SIGTERM in every thread); the file
    actions wire the pipes, change directory and close every other
    descriptor.

    One loop watches everything with zmq_poll: the caller's pipe and
    cancel sockets (never read here), stdout and stderr (non-blocking,
    kept up to a cap and counted beyond), stdin (fed non-blocking until
    written or refused) and a pidfd that becomes readable when the child
    exits. SIGCHLD is not used: it belongs to main. Exit is observed with
    waitid (WNOWAIT) first so that the group can still be signalled by its
    id (the zombie leader holds it) before the child is reaped. Without a
    pidfd (old kernel, seccomp) the loop polls the exit every 50 ms.

    Deliberately not done: resource limits, user switching, a pty, and
    tracking processes that leave the process group.
*/
#include "shoal_exec.h"

#include "shoal_json.h"
#include "shoal_limits.h"
#include "shoal_log.h"
#include "shoal_mp.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_PREFIX         "exec payload: "
#define S_DRAIN_MS       1000 /* output read after the command exits */
#define S_KILL_WAIT_MS   5000 /* wait for the exit after SIGKILL */
#define S_TICK_MS        1000 /* longest sleep with a pidfd */
#define S_TICK_NOPIDF_MS 50   /* longest sleep without one */
#define S_READ_BURST     16   /* reads per stream per wake-up */
#define S_JSON_DEPTH     12   /* the result map is one more level */
#define S_DEFAULT_PATH   "/bin:/usr/bin"

typedef struct {
    char *kv;        /* "NAME=VALUE", or "NAME" when unset; owned */
    size_t name_len; /* bytes of NAME */
    bool unset;
} s_envvar_t;

/*  A validated payload. Strings are NUL-terminated copies. */
typedef struct {
    char **argv; /* argc + 1 entries, NULL-terminated */
    uint32_t argc;
    s_envvar_t *env;
    uint32_t nenv;
    char *cwd; /* NULL: the daemon's */
    bool has_in;
    const uint8_t *in; /* borrowed from the payload */
    size_t in_len;
    uint32_t timeout_ms; /* 0: none */
    bool oom;            /* parsing failed for want of memory */
    const uint8_t *msg;  /* "message" (borrowed msgpack), or NULL */
    size_t msg_len;
    char *in_json; /* stdin made from msg, owned */
} s_spec_t;

typedef struct {
    int fd;        /* -1 once closed */
    uint8_t *data; /* the first cap bytes */
    size_t len;
    size_t alloc;
    size_t cap;
    uint64_t total; /* all bytes read */
} s_stream_t;

typedef enum {
    S_STOP_NONE,
    S_STOP_TIMEOUT,
    S_STOP_PIPE,
    S_STOP_CANCEL
} s_stop_t;

typedef struct {
    pid_t pid;
    int pidfd;
    int in_fd;
    size_t in_off;
    s_stream_t out;
    s_stream_t err;
    s_stop_t stop;
    bool killed;    /* SIGKILL sent */
    bool exited;    /* the child is a zombie (or gone) */
    bool lost;      /* reaped by someone else: status unknown */
    bool abandoned; /* did not exit even after SIGKILL */
    int status;     /* from waitpid, when exited && !lost */
    int64_t started_ms;
    int64_t ended_ms;
} s_child_t;

/*  --------------------------------------------------------------------
    Payload */

static void SHOAL_PRINTF (3, 4)
    s_say (char *er, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (er, cap, fmt, ap);
    va_end (ap);
}

/*  Text fit to quote in an error: printable ASCII only, cut at 64. */
static int
s_quotable (const char *s, size_t len)
{
    size_t n = len < 64 ? len : 64;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return (int) i;
        }
    }
    return (int) n;
}

static char *
s_strndup (const char *s, size_t len)
{
    char *copy = malloc (len + 1);
    if (copy) {
        memcpy (copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

static void
s_spec_free (s_spec_t *spec)
{
    if (spec->argv) {
        for (uint32_t i = 0; i < spec->argc; i++) {
            free (spec->argv[i]);
        }
        free (spec->argv);
    }
    if (spec->env) {
        for (uint32_t i = 0; i < spec->nenv; i++) {
            free (spec->env[i].kv);
        }
        free (spec->env);
    }
    free (spec->cwd);
    free (spec->in_json);
    memset (spec, 0, sizeof *spec);
}

static bool
s_oom (s_spec_t *spec, char *er, size_t cap)
{
    spec->oom = true;
    s_say (er, cap, "out of memory");
    return false;
}

/*  Each s_parse_* returns true, or false with er set. */
static bool
s_parse_argv (s_spec_t *spec, shoal_rd_t *rd, char *er, size_t cap)
{
    uint32_t n;
    if (shoal_rd_array (rd, &n)) {
        s_say (er, cap, S_PREFIX "argv must be an array of strings");
        return false;
    }
    if (n == 0) {
        s_say (er, cap, S_PREFIX "argv must not be empty");
        return false;
    }
    if (n > SHOAL_EXEC_ARGV_MAX) {
        s_say (er, cap, S_PREFIX "argv has more than %u entries",
               SHOAL_EXEC_ARGV_MAX);
        return false;
    }
    spec->argv = calloc ((size_t) n + 1, sizeof *spec->argv);
    if (!spec->argv) {
        return s_oom (spec, er, cap);
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint32_t len;
        if (shoal_rd_str (rd, &s, &len)) {
            s_say (er, cap, S_PREFIX "argv[%u] must be a string", i);
            return false;
        }
        if (memchr (s, '\0', len)) {
            s_say (er, cap, S_PREFIX "argv[%u] contains a NUL byte", i);
            return false;
        }
        if (i == 0 && len == 0) {
            s_say (er, cap, S_PREFIX "argv[0] must not be empty");
            return false;
        }
        if (!(spec->argv[i] = s_strndup (s, len))) {
            return s_oom (spec, er, cap);
        }
        spec->argc = i + 1;
    }
    return true;
}

static bool
s_parse_env (s_spec_t *spec, shoal_rd_t *rd, char *er, size_t cap)
{
    uint32_t n;
    if (shoal_rd_map (rd, &n)) {
        s_say (er, cap, S_PREFIX "env must be a map of strings");
        return false;
    }
    if (n > SHOAL_EXEC_ENV_MAX) {
        s_say (er, cap, S_PREFIX "env has more than %u entries",
               SHOAL_EXEC_ENV_MAX);
        return false;
    }
    spec->env = calloc (n ? n : 1, sizeof *spec->env);
    if (!spec->env) {
        return s_oom (spec, er, cap);
    }
    for (uint32_t i = 0; i < n; i++) {
        shoal_mp_val_t k, v;
        if (shoal_rd_next (rd, &k) || k.type != SHOAL_MP_STR) {
            s_say (er, cap, S_PREFIX "env keys must be strings");
            return false;
        }
        const char *name = (const char *) k.ptr;
        if (k.len == 0 || memchr (name, '=', k.len) ||
            memchr (name, '\0', k.len)) {
            s_say (er, cap,
                   S_PREFIX "env key '%.*s' is invalid (empty, '=' or NUL)",
                   s_quotable (name, k.len), name);
            return false;
        }
        for (uint32_t j = 0; j < spec->nenv; j++) {
            if (spec->env[j].name_len == k.len &&
                memcmp (spec->env[j].kv, name, k.len) == 0) {
                s_say (er, cap, S_PREFIX "env key '%.*s' is repeated",
                       s_quotable (name, k.len), name);
                return false;
            }
        }
        if (shoal_rd_next (rd, &v) ||
            (v.type != SHOAL_MP_STR && v.type != SHOAL_MP_NIL) ||
            (v.type == SHOAL_MP_STR && memchr (v.ptr, '\0', v.len))) {
            s_say (er, cap,
                   S_PREFIX "env value of '%.*s' must be a string without "
                            "NUL, or nil",
                   s_quotable (name, k.len), name);
            return false;
        }
        s_envvar_t *e = &spec->env[spec->nenv];
        e->name_len = k.len;
        e->unset = v.type == SHOAL_MP_NIL;
        size_t vlen = e->unset ? 0 : (size_t) v.len + 1;
        e->kv = malloc ((size_t) k.len + vlen + 1);
        if (!e->kv) {
            return s_oom (spec, er, cap);
        }
        memcpy (e->kv, name, k.len);
        if (!e->unset) {
            e->kv[k.len] = '=';
            memcpy (e->kv + k.len + 1, v.ptr, v.len);
        }
        e->kv[k.len + vlen] = '\0';
        spec->nenv++;
    }
    return true;
}

static bool
s_parse_cwd (s_spec_t *spec, shoal_rd_t *rd, char *er, size_t cap)
{
    const char *s;
    uint32_t len;
    if (shoal_rd_str (rd, &s, &len)) {
        s_say (er, cap, S_PREFIX "cwd must be a string");
        return false;
    }
    if (len == 0 || len >= PATH_MAX || memchr (s, '\0', len)) {
        s_say (er, cap, S_PREFIX "cwd must be 1..%d bytes without NUL",
               PATH_MAX - 1);
        return false;
    }
    if (!(spec->cwd = s_strndup (s, len))) {
        return s_oom (spec, er, cap);
    }
    return true;
}

static bool
s_parse_stdin (s_spec_t *spec, shoal_rd_t *rd, char *er, size_t cap)
{
    shoal_mp_val_t v;
    if (shoal_rd_next (rd, &v) ||
        (v.type != SHOAL_MP_STR && v.type != SHOAL_MP_BIN)) {
        s_say (er, cap, S_PREFIX "stdin must be a string or bin");
        return false;
    }
    spec->has_in = true;
    spec->in = v.ptr;
    spec->in_len = v.len;
    return true;
}

static bool
s_parse_timeout (s_spec_t *spec, shoal_rd_t *rd, char *er, size_t cap)
{
    uint64_t ms;
    if (shoal_rd_uint (rd, &ms) || ms == 0 || ms > UINT32_MAX) {
        s_say (er, cap, S_PREFIX "timeout_ms must be an integer 1..%u",
               UINT32_MAX);
        return false;
    }
    spec->timeout_ms = (uint32_t) ms;
    return true;
}

/*  "message": the message that reached a workflow node (any value). The
    program reads it as JSON on stdin, unless "stdin" is given too. */
static bool
s_parse_message (s_spec_t *spec, shoal_rd_t *rd, char *er, size_t cap)
{
    const uint8_t *at = rd->p;
    if (shoal_rd_skip (rd, SHOAL_DEPTH_MAX)) {
        s_say (er, cap, S_PREFIX "message is not a msgpack value");
        return false;
    }
    spec->msg = at;
    spec->msg_len = (size_t) (rd->p - at);
    return true;
}

typedef bool (s_field_fn) (s_spec_t *, shoal_rd_t *, char *, size_t);

static const struct {
    const char *name;
    s_field_fn *parse;
} s_fields[] = {
    {"argv", s_parse_argv},
    {"env", s_parse_env},
    {"cwd", s_parse_cwd},
    {"stdin", s_parse_stdin},
    {"timeout_ms", s_parse_timeout},
    {"message", s_parse_message},
};
#define S_NFIELDS (sizeof s_fields / sizeof s_fields[0])

/*  Validates the whole payload and fills spec (free with s_spec_free,
    also after a failure). Unknown and repeated keys are refused so that a
    misspelt "timeout" does not silently run without a limit. */
static bool
s_parse (const uint8_t *pl, size_t len, s_spec_t *spec, char *er, size_t cap)
{
    memset (spec, 0, sizeof *spec);
    if (!pl || len == 0) {
        s_say (er, cap, "exec needs a payload map {argv: [str, ...], ...}");
        return false;
    }
    shoal_limits_t lim = shoal_limits_bus ();
    size_t used = 0;
    shoal_err_t rc = shoal_mp_validate (pl, len, &lim, &used);
    if (rc == SHOAL_OK && used != len) {
        rc = SHOAL_ERR_MALFORMED;
    }
    if (rc == SHOAL_ERR_TOO_LARGE) {
        s_say (er, cap,
               S_PREFIX "too large (a string at most %u bytes, %u levels of "
                        "nesting)",
               lim.str_max, lim.depth_max);
        return false;
    }
    if (rc) {
        s_say (er, cap, S_PREFIX "%s", shoal_strerror (rc));
        return false;
    }
    shoal_rd_t rd;
    shoal_rd_init (&rd, pl, len);
    uint32_t n;
    if (shoal_rd_map (&rd, &n)) {
        s_say (er, cap, "exec payload must be a map {argv: [str, ...], ...}");
        return false;
    }
    shoal_rd_t at[S_NFIELDS];
    bool seen[S_NFIELDS] = {false};
    for (uint32_t i = 0; i < n; i++) {
        shoal_mp_val_t k;
        if (shoal_rd_next (&rd, &k) || k.type != SHOAL_MP_STR) {
            s_say (er, cap, S_PREFIX "keys must be strings");
            return false;
        }
        size_t f = 0;
        while (f < S_NFIELDS &&
               !(strlen (s_fields[f].name) == k.len &&
                 memcmp (s_fields[f].name, k.ptr, k.len) == 0)) {
            f++;
        }
        const char *key = (const char *) k.ptr;
        if (f == S_NFIELDS) {
            s_say (er, cap, S_PREFIX "unknown field '%.*s'",
                   s_quotable (key, k.len), key);
            return false;
        }
        if (seen[f]) {
            s_say (er, cap, S_PREFIX "field '%s' is repeated",
                   s_fields[f].name);
            return false;
        }
        seen[f] = true;
        at[f] = rd;
        if (shoal_rd_skip (&rd, lim.depth_max)) {
            s_say (er, cap, S_PREFIX "%s",
                   shoal_strerror (SHOAL_ERR_MALFORMED));
            return false;
        }
    }
    if (!seen[0]) {
        s_say (er, cap, S_PREFIX "argv is required");
        return false;
    }
    for (size_t f = 0; f < S_NFIELDS; f++) {
        if (seen[f] && !s_fields[f].parse (spec, &at[f], er, cap)) {
            return false;
        }
    }
    if (spec->msg && !spec->has_in) {
        shoal_err_t e = SHOAL_OK;
        json_t *j = shoal_mp_to_json (spec->msg, spec->msg_len, &lim, &e);
        bool converted = j != NULL;
        spec->in_json =
            j ? json_dumps (j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref (j);
        if (!spec->in_json) {
            if (e == SHOAL_ERR_NOMEM || converted) {
                return s_oom (spec, er, cap);
            }
            s_say (er, cap, S_PREFIX "message cannot be shown as JSON: %s",
                   shoal_strerror (e ? e : SHOAL_ERR_MALFORMED));
            return false;
        }
        spec->has_in = true;
        spec->in = (const uint8_t *) spec->in_json;
        spec->in_len = strlen (spec->in_json);
    }
    return true;
}

/*  --------------------------------------------------------------------
    Spawning */

/*  The child's value of PATH: its override, else ours, else the default
    of execvp. */
static const char *
s_search_path (const s_spec_t *spec)
{
    for (uint32_t i = 0; i < spec->nenv; i++) {
        const s_envvar_t *e = &spec->env[i];
        if (e->name_len == 4 && memcmp (e->kv, "PATH", 4) == 0) {
            return e->unset ? S_DEFAULT_PATH : e->kv + 5;
        }
    }
    const char *path = getenv ("PATH");
    return path ? path : S_DEFAULT_PATH;
}

/*  Whether file, as the child will see it from cwd, can be executed: 0
    or an errno. Checked here although posix_spawn reports exec errors
    too, because that report needs CLONE_VM, which valgrind lacks. */
static int
s_probe (const s_spec_t *spec, const char *file)
{
    char probe[PATH_MAX];
    bool relative = file[0] != '/' && spec->cwd;
    if (snprintf (probe, sizeof probe, "%s%s%s", relative ? spec->cwd : "",
                  relative ? "/" : "", file) >= (int) sizeof probe) {
        return ENAMETOOLONG;
    }
    struct stat st;
    if (stat (probe, &st) < 0) {
        return errno;
    }
    return S_ISREG (st.st_mode) && eaccess (probe, X_OK) == 0 ? 0 : EACCES;
}

/*  Finds argv[0] like execvp, but in the child's PATH and with relative
    entries taken from cwd. Fills exe with the name to exec after the
    chdir. Returns 0 or an errno (ENOENT, EACCES, ENAMETOOLONG...). */
static int
s_resolve (const s_spec_t *spec, char *exe, size_t cap)
{
    const char *name = spec->argv[0];
    if (strchr (name, '/')) {
        return snprintf (exe, cap, "%s", name) >= (int) cap
                   ? ENAMETOOLONG
                   : s_probe (spec, exe);
    }
    int err = ENOENT;
    const char *p = s_search_path (spec);
    for (;;) {
        const char *colon = strchrnul (p, ':');
        int dlen = (int) (colon - p);
        int rc = snprintf (exe, cap, "%.*s/%s", dlen ? dlen : 1, dlen ? p : ".",
                           name) >= (int) cap
                     ? ENAMETOOLONG
                     : s_probe (spec, exe);
        if (rc == 0) {
            return 0;
        }
        if (rc == EACCES) {
            err = EACCES; /* as execvp: reported if nothing else is found */
        }
        if (*colon == '\0') {
            return err;
        }
        p = colon + 1;
    }
}

/*  Whether "NAME=value" entry e names what the payload's env sets or
    unsets, or (extra not NULL) one of extra's names. */
static bool
s_overridden (const char *e, const s_spec_t *spec, const char *const *extra)
{
    for (uint32_t i = 0; i < spec->nenv; i++) {
        const s_envvar_t *o = &spec->env[i];
        if (strncmp (e, o->kv, o->name_len) == 0 && e[o->name_len] == '=') {
            return true;
        }
    }
    for (; extra && *extra; extra++) {
        const char *eq = strchr (*extra, '=');
        size_t len = eq ? (size_t) (eq - *extra) : strlen (*extra);
        if (strncmp (e, *extra, len) == 0 && e[len] == '=') {
            return true;
        }
    }
    return false;
}

/*  The daemon's environment with extra (the job's context) and the
    payload's overrides applied; the array is owned, its strings borrowed
    (from environ, extra and spec). */
static char **
s_environment (const s_spec_t *spec, const char *const *extra)
{
    size_t n = 0;
    for (char **e = environ; e && *e; e++) {
        n++;
    }
    for (const char *const *x = extra; x && *x; x++) {
        n++;
    }
    char **envp = malloc ((n + spec->nenv + 1) * sizeof *envp);
    if (!envp) {
        return NULL;
    }
    size_t k = 0;
    for (char **e = environ; e && *e; e++) {
        if (!s_overridden (*e, spec, extra)) {
            envp[k++] = *e;
        }
    }
    for (const char *const *x = extra; x && *x; x++) {
        if (!s_overridden (*x, spec, NULL)) {
            envp[k++] = (char *) *x;
        }
    }
    for (uint32_t i = 0; i < spec->nenv; i++) {
        if (!spec->env[i].unset) {
            envp[k++] = spec->env[i].kv;
        }
    }
    envp[k] = NULL;
    return envp;
}

static void
s_close (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

/*  A pipe with both ends close-on-exec and above 2, so that the dup2
    file actions always change the descriptor (and drop close-on-exec)
    even if the daemon runs with 0, 1 or 2 closed. 0 or an errno. */
static int
s_pipe (int fds[2])
{
    if (pipe2 (fds, O_CLOEXEC) < 0) {
        fds[0] = fds[1] = -1;
        return errno;
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i] <= 2) {
            int hi = fcntl (fds[i], F_DUPFD_CLOEXEC, 3);
            int e = errno;
            close (fds[i]);
            fds[i] = hi;
            if (hi < 0) {
                s_close (&fds[1 - i]);
                return e;
            }
        }
    }
    return 0;
}

static int
s_nonblock (int fd)
{
    int fl = fcntl (fd, F_GETFL);
    return fl < 0 || fcntl (fd, F_SETFL, fl | O_NONBLOCK) < 0 ? errno : 0;
}

/*  Starts the child. Returns true, or false with er set and nothing
    left open. */
static bool
s_spawn (const s_spec_t *spec, const char *const *extra, s_child_t *c, char *er,
         size_t cap)
{
    char exe[PATH_MAX];
    int rc = s_resolve (spec, exe, sizeof exe);
    const char *argv0 = spec->argv[0];
    int qlen = (int) strnlen (argv0, 200);
    if (rc) {
        s_say (er, cap, "cannot execute '%.*s': %s", qlen, argv0,
               strerror (rc));
        return false;
    }
    struct stat st;
    if (spec->cwd) {
        int cerr = stat (spec->cwd, &st) < 0 ? errno
                   : S_ISDIR (st.st_mode)    ? 0
                                             : ENOTDIR;
        if (cerr) {
            s_say (er, cap, "cannot change directory to '%.*s': %s",
                   (int) strnlen (spec->cwd, 200), spec->cwd, strerror (cerr));
            return false;
        }
    }
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    char **envp = s_environment (spec, extra);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_ok = false, attr_ok = false;
    if (!envp) {
        rc = ENOMEM;
        goto fail;
    }
    if ((rc = s_pipe (out)) || (rc = s_pipe (err)) ||
        (spec->has_in && (rc = s_pipe (in))) || (rc = s_nonblock (out[0])) ||
        (rc = s_nonblock (err[0])) ||
        (spec->has_in && (rc = s_nonblock (in[1])))) {
        goto fail;
    }
    if ((rc = posix_spawn_file_actions_init (&fa))) {
        goto fail;
    }
    fa_ok = true;
    if ((rc = spec->has_in ? posix_spawn_file_actions_adddup2 (&fa, in[0], 0)
                           : posix_spawn_file_actions_addopen (
                                 &fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (rc = posix_spawn_file_actions_adddup2 (&fa, out[1], 1)) ||
        (rc = posix_spawn_file_actions_adddup2 (&fa, err[1], 2)) ||
        (spec->cwd &&
         (rc = posix_spawn_file_actions_addchdir_np (&fa, spec->cwd))) ||
        (rc = posix_spawn_file_actions_addclosefrom_np (&fa, 3))) {
        goto fail;
    }
    if ((rc = posix_spawnattr_init (&attr))) {
        goto fail;
    }
    attr_ok = true;
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    if ((rc = posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP |
                                                   POSIX_SPAWN_SETSIGMASK |
                                                   POSIX_SPAWN_SETSIGDEF)) ||
        (rc = posix_spawnattr_setpgroup (&attr, 0)) ||
        (rc = posix_spawnattr_setsigmask (&attr, &none)) ||
        (rc = posix_spawnattr_setsigdefault (&attr, &all))) {
        goto fail;
    }
    c->started_ms = zclock_mono ();
    rc = posix_spawn (&c->pid, exe, &fa, &attr, spec->argv, envp);
    if (rc) {
        s_say (er, cap, "cannot execute '%.*s': %s", qlen, argv0,
               strerror (rc));
        c->pid = 0;
        goto cleanup;
    }
    c->pidfd = pidfd_open (c->pid, 0); /* -1: fall back to ticks */
    c->in_fd = in[1];
    c->out.fd = out[0];
    c->err.fd = err[0];
    in[1] = out[0] = err[0] = -1;
    goto cleanup;
fail:
    s_say (er, cap, "cannot execute '%.*s': %s", qlen, argv0, strerror (rc));
cleanup:
    if (attr_ok) {
        posix_spawnattr_destroy (&attr);
    }
    if (fa_ok) {
        posix_spawn_file_actions_destroy (&fa);
    }
    for (int i = 0; i < 2; i++) {
        s_close (&in[i]);
        s_close (&out[i]);
        s_close (&err[i]);
    }
    free (envp);
    return c->pid > 0;
}

/*  --------------------------------------------------------------------
    Running */

/*  Reads what is there, at most S_READ_BURST chunks so that one chatty
    stream cannot starve the loop. Closes the stream at EOF or error. */
static void
s_drain (s_stream_t *s)
{
    for (int i = 0; i < S_READ_BURST && s->fd >= 0; i++) {
        uint8_t sink[16384];
        /* Bytes are kept while none has been dropped, so that what is
           kept is always a prefix. */
        bool prefix = s->total == s->len;
        if (prefix && s->len < s->cap && s->len == s->alloc) {
            size_t want = s->alloc ? s->alloc * 2 : 4096;
            want = want < s->cap ? want : s->cap;
            uint8_t *grown = realloc (s->data, want);
            if (grown) {
                s->data = grown;
                s->alloc = want;
            } /* else: count the bytes without keeping them */
        }
        bool keep = prefix && s->len < s->alloc;
        uint8_t *to = keep ? s->data + s->len : sink;
        size_t room = keep ? s->alloc - s->len : sizeof sink;
        ssize_t n = read (s->fd, to, room);
        if (n > 0) {
            s->total += (uint64_t) n;
            if (keep) {
                s->len += (size_t) n;
            }
        } else if (n == 0) {
            s_close (&s->fd);
        } else if (errno == EAGAIN) {
            return;
        } else if (errno != EINTR) {
            shoal_warn ("exec: reading output: %s", strerror (errno));
            s_close (&s->fd);
        }
    }
}

/*  write () with SIGPIPE blocked for this thread; a SIGPIPE it raised is
    taken before the mask is restored, so the process needs no SIG_IGN. */
static ssize_t
s_write_nosigpipe (int fd, const void *p, size_t n)
{
    sigset_t pipe_set, old;
    sigemptyset (&pipe_set);
    sigaddset (&pipe_set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
    ssize_t rc = write (fd, p, n);
    int e = errno;
    if (rc < 0 && e == EPIPE && !sigismember (&old, SIGPIPE)) {
        struct timespec zero = {0, 0};
        int got;
        do {
            got = sigtimedwait (&pipe_set, NULL, &zero);
        } while (got < 0 && errno == EINTR);
    }
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    errno = e;
    return rc;
}

/*  Feeds stdin; closes it when all is written or the child refuses more
    (EPIPE: it closed its end, which is its right). */
static void
s_feed (s_child_t *c, const s_spec_t *spec)
{
    while (c->in_fd >= 0 && c->in_off < spec->in_len) {
        size_t left = spec->in_len - c->in_off;
        ssize_t n = s_write_nosigpipe (c->in_fd, spec->in + c->in_off,
                                       left < 65536 ? left : 65536);
        if (n > 0) {
            c->in_off += (size_t) n;
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else if (n < 0 && errno != EINTR) {
            if (errno != EPIPE) {
                shoal_warn ("exec: writing stdin: %s", strerror (errno));
            }
            break;
        }
    }
    s_close (&c->in_fd);
}

/*  Signals the child's process group; the child alone if it left it. */
static void
s_signal (const s_child_t *c, int sig)
{
    if (c->lost) {
        return; /* its pid may be someone else's by now */
    }
    if (kill (-c->pid, sig) < 0) {
        kill (c->pid, sig);
    }
}

/*  Notes an exit without reaping: the zombie keeps the group id valid
    for the SIGKILL that cleans up what the command left behind. */
static void
s_check_exit (s_child_t *c)
{
    siginfo_t si;
    memset (&si, 0, sizeof si);
    int rc = waitid (P_PID, (id_t) c->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && si.si_pid == c->pid) {
        c->exited = true;
    } else if (rc < 0 && errno == ECHILD) {
        c->exited = true;
        c->lost = true;
    }
    if (c->exited) {
        c->ended_ms = zclock_mono ();
        s_signal (c, SIGKILL);
        s_close (&c->in_fd);
        s_close (&c->pidfd);
    }
}

static void
s_begin_stop (s_child_t *c, s_stop_t why, int64_t now, uint32_t grace_ms,
              int64_t *kill_at)
{
    c->stop = why;
    s_signal (c, SIGTERM);
    *kill_at = now + grace_ms;
}

static int64_t
s_min (int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/*  Runs the loop until the child has exited and its output is read (or
    the bounds after exit or SIGKILL pass). */
static void
s_supervise (s_child_t *c, const s_spec_t *spec, const shoal_exec_opts_t *o,
             zsock_t *pipe, zsock_t *cancel)
{
    uint32_t grace_ms = o->kill_grace_ms;
    const int64_t never = INT64_MAX;
    int64_t deadline =
        spec->timeout_ms ? c->started_ms + spec->timeout_ms : never;
    int64_t kill_at = never; /* while stopping: when to SIGKILL */
    int64_t give_up = never; /* after exit or SIGKILL: stop waiting */
    s_feed (c, spec);
    for (;;) {
        if (!c->exited) {
            s_check_exit (c);
            if (c->exited) {
                give_up = zclock_mono () + S_DRAIN_MS;
            }
        }
        if (o->beat && !c->exited) {
            o->beat (o->beat_arg);
        }
        int64_t now = zclock_mono ();
        if (c->exited) {
            if ((c->out.fd < 0 && c->err.fd < 0) || now >= give_up) {
                return;
            }
        } else {
            if (c->stop == S_STOP_NONE && now >= deadline) {
                s_begin_stop (c, S_STOP_TIMEOUT, now, grace_ms, &kill_at);
            }
            if (c->stop != S_STOP_NONE && !c->killed && now >= kill_at) {
                s_signal (c, SIGKILL);
                c->killed = true;
                give_up = now + S_KILL_WAIT_MS;
            }
            if (c->killed && now >= give_up) {
                shoal_error ("exec: process %d did not exit after SIGKILL; "
                             "left behind",
                             (int) c->pid);
                c->abandoned = true;
                c->ended_ms = now;
                return;
            }
        }
        zmq_pollitem_t items[6];
        int n = 0, i_pipe = -1, i_cancel = -1;
        if (!c->exited && c->stop == S_STOP_NONE) {
            if (pipe) {
                i_pipe = n;
                items[n++] =
                    (zmq_pollitem_t){zsock_resolve (pipe), 0, ZMQ_POLLIN, 0};
            }
            if (cancel) {
                i_cancel = n;
                items[n++] =
                    (zmq_pollitem_t){zsock_resolve (cancel), 0, ZMQ_POLLIN, 0};
            }
        }
        if (c->pidfd >= 0) {
            items[n++] = (zmq_pollitem_t){NULL, c->pidfd, ZMQ_POLLIN, 0};
        }
        int i_out = -1, i_err = -1, i_in = -1;
        if (c->out.fd >= 0) {
            i_out = n;
            items[n++] = (zmq_pollitem_t){NULL, c->out.fd, ZMQ_POLLIN, 0};
        }
        if (c->err.fd >= 0) {
            i_err = n;
            items[n++] = (zmq_pollitem_t){NULL, c->err.fd, ZMQ_POLLIN, 0};
        }
        if (c->in_fd >= 0) {
            i_in = n;
            items[n++] = (zmq_pollitem_t){NULL, c->in_fd, ZMQ_POLLOUT, 0};
        }
        int64_t wake = give_up;
        if (!c->exited) {
            wake = s_min (wake, c->stop == S_STOP_NONE ? deadline
                                : c->killed            ? never
                                                       : kill_at);
        }
        int64_t tick =
            c->pidfd >= 0 || c->exited ? S_TICK_MS : S_TICK_NOPIDF_MS;
        if (o->beat && tick > SHOAL_EXEC_BEAT_MS) {
            tick = SHOAL_EXEC_BEAT_MS;
        }
        long timeout = (long) s_min (tick, wake > now ? wake - now : 0);
        if (zmq_poll (items, n, timeout) < 0) {
            if (zmq_errno () == EINTR) {
                continue;
            }
            /* Context terminated or worse: the actor is going away. */
            shoal_warn ("exec: poll failed: %s", zmq_strerror (zmq_errno ()));
            if (!c->exited && c->stop == S_STOP_NONE) {
                s_begin_stop (c, S_STOP_PIPE, now, grace_ms, &kill_at);
            }
            continue;
        }
        if (i_pipe >= 0 && items[i_pipe].revents) {
            s_begin_stop (c, S_STOP_PIPE, now, grace_ms, &kill_at);
        } else if (i_cancel >= 0 && items[i_cancel].revents) {
            s_begin_stop (c, S_STOP_CANCEL, now, grace_ms, &kill_at);
        }
        if (i_out >= 0 && items[i_out].revents) {
            s_drain (&c->out);
        }
        if (i_err >= 0 && items[i_err].revents) {
            s_drain (&c->err);
        }
        if (i_in >= 0 && items[i_in].revents) {
            s_feed (c, spec);
        }
    }
}

/*  Reaps the child (a zombie by now, so this does not wait). */
static void
s_reap (s_child_t *c)
{
    if (!c->exited || c->lost) {
        return;
    }
    pid_t got;
    do {
        got = waitpid (c->pid, &c->status, 0);
    } while (got < 0 && errno == EINTR);
    if (got != c->pid) {
        c->lost = true;
    }
}

/*  --------------------------------------------------------------------
    Result */

static bool
s_is_space (uint8_t ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/*  Appends stdout as the "json" pair when it is one JSON value that the
    result can carry. Returns whether it did. */
static bool
s_json_pair (const s_stream_t *out, shoal_wr_t *scratch)
{
    if (out->total > out->len || out->len == 0) {
        return false;
    }
    const uint8_t *p = out->data, *end = out->data + out->len;
    while (p < end && s_is_space (*p)) {
        p++;
    }
    while (end > p && s_is_space (end[-1])) {
        end--;
    }
    if (p == end) {
        return false;
    }
    json_error_t jerr;
    json_t *json = json_loadb ((const char *) p, (size_t) (end - p),
                               JSON_DECODE_ANY, &jerr);
    if (!json) {
        return false;
    }
    shoal_wr_str (scratch, "json");
    size_t at = shoal_wr_size (scratch);
    shoal_limits_t lim = shoal_limits_default ();
    lim.depth_max = S_JSON_DEPTH;
    lim.frame_max = SIZE_MAX;
    bool ok = shoal_json_to_mp (json, scratch) == SHOAL_OK &&
              shoal_mp_validate (shoal_wr_data (scratch) + at,
                                 shoal_wr_size (scratch) - at, &lim,
                                 NULL) == SHOAL_OK;
    json_decref (json);
    return ok;
}

static void
s_write_result (const s_child_t *c, bool ran, shoal_wr_t *w)
{
    bool known = ran && !c->lost && !c->abandoned;
    bool exited = known && WIFEXITED (c->status);
    bool signalled = known && WIFSIGNALED (c->status);
    shoal_wr_t *scratch = shoal_wr_new ();
    bool has_json = scratch && s_json_pair (&c->out, scratch);
    shoal_wr_map (w, 8 + signalled + has_json);
    shoal_wr_str (w, "exit_code");
    if (exited) {
        shoal_wr_int (w, WEXITSTATUS (c->status));
    } else {
        shoal_wr_nil (w);
    }
    if (signalled) {
        shoal_wr_str (w, "signal");
        shoal_wr_int (w, WTERMSIG (c->status));
    }
    shoal_wr_kv_strn (w, "stdout", c->out.len ? (char *) c->out.data : "",
                      c->out.len);
    shoal_wr_kv_strn (w, "stderr", c->err.len ? (char *) c->err.data : "",
                      c->err.len);
    shoal_wr_kv_bool (w, "stdout_truncated", c->out.total > c->out.len);
    shoal_wr_kv_bool (w, "stderr_truncated", c->err.total > c->err.len);
    shoal_wr_kv_uint (w, "stdout_bytes", c->out.total);
    shoal_wr_kv_uint (w, "stderr_bytes", c->err.total);
    if (has_json) {
        shoal_wr_raw (w, shoal_wr_data (scratch), shoal_wr_size (scratch));
    }
    int64_t ms = ran ? c->ended_ms - c->started_ms : 0;
    shoal_wr_kv_uint (w, "duration_ms", ms > 0 ? (uint64_t) ms : 0);
    shoal_wr_destroy (&scratch);
}

/*  The outcome, its words and its class, most telling cause first. */
static shoal_exec_outcome_t
s_outcome (const s_child_t *c, const s_spec_t *spec, char *er, size_t cap,
           char *ec, size_t ec_cap)
{
    switch (c->stop) {
        case S_STOP_PIPE:
            s_say (er, cap, "interrupted");
            s_say (ec, ec_cap, "interrupted");
            return SHOAL_EXEC_INTERRUPTED;
        case S_STOP_CANCEL:
            s_say (er, cap, "cancelled");
            s_say (ec, ec_cap, "cancelled");
            return SHOAL_EXEC_CANCELLED;
        case S_STOP_TIMEOUT:
            s_say (er, cap, "timed out after %u ms%s", spec->timeout_ms,
                   c->abandoned ? "; the process did not exit" : "");
            s_say (ec, ec_cap, "timeout");
            return SHOAL_EXEC_FAILED;
        case S_STOP_NONE:
            break;
    }
    if (c->abandoned) {
        s_say (er, cap, "process %d did not exit", (int) c->pid);
        s_say (ec, ec_cap, "error");
    } else if (c->lost) {
        s_say (er, cap, "exit status lost (the child was reaped elsewhere)");
        s_say (ec, ec_cap, "error");
    } else if (WIFSIGNALED (c->status)) {
        s_say (er, cap, "killed by signal %d", WTERMSIG (c->status));
        s_say (ec, ec_cap, "signal:%d", WTERMSIG (c->status));
    } else if (!WIFEXITED (c->status) || WEXITSTATUS (c->status) != 0) {
        s_say (er, cap, "exit status %d", WEXITSTATUS (c->status));
        s_say (ec, ec_cap, "exit:%d", WEXITSTATUS (c->status));
    } else {
        return SHOAL_EXEC_OK;
    }
    return SHOAL_EXEC_FAILED;
}

/*  --------------------------------------------------------------------
    Public */

shoal_exec_opts_t
shoal_exec_opts_default (void)
{
    shoal_exec_opts_t opts = {
        .out_cap = SHOAL_EXEC_OUT_CAP,
        .default_timeout_ms = 0,
        .max_timeout_ms = 0,
        .kill_grace_ms = SHOAL_EXEC_GRACE_MS,
        .beat = NULL,
        .beat_arg = NULL,
    };
    return opts;
}

const char *
shoal_exec_outcome_name (shoal_exec_outcome_t outcome)
{
    switch (outcome) {
        case SHOAL_EXEC_OK:
            return "ok";
        case SHOAL_EXEC_FAILED:
            return "failed";
        case SHOAL_EXEC_INVALID:
            return "invalid";
        case SHOAL_EXEC_INTERRUPTED:
            return "interrupted";
        case SHOAL_EXEC_CANCELLED:
            return "cancelled";
    }
    return "unknown";
}

shoal_exec_outcome_t
shoal_exec_run (const uint8_t *payload, size_t payload_len,
                const shoal_exec_opts_t *opts, zsock_t *pipe, zsock_t *cancel,
                shoal_wr_t *result, char *error, size_t error_cap,
                char *error_class, size_t class_cap)
{
    assert (result);
    assert (error && error_cap > 0);
    char ec_none[1];
    if (!error_class || class_cap == 0) {
        error_class = ec_none;
        class_cap = sizeof ec_none;
    }
    error[0] = error_class[0] = '\0';
    shoal_exec_opts_t o = opts ? *opts : shoal_exec_opts_default ();
    if (o.out_cap > SHOAL_EXEC_OUT_CAP_MAX) {
        o.out_cap = SHOAL_EXEC_OUT_CAP_MAX;
    }
    s_spec_t spec;
    if (!s_parse (payload, payload_len, &spec, error, error_cap)) {
        bool oom = spec.oom;
        s_spec_free (&spec);
        s_say (error_class, class_cap, oom ? "error" : "invalid");
        return oom ? SHOAL_EXEC_FAILED : SHOAL_EXEC_INVALID;
    }
    if (spec.timeout_ms == 0) {
        spec.timeout_ms = o.default_timeout_ms;
    }
    if (o.max_timeout_ms &&
        (spec.timeout_ms == 0 || spec.timeout_ms > o.max_timeout_ms)) {
        spec.timeout_ms = o.max_timeout_ms;
    }
    s_child_t c;
    memset (&c, 0, sizeof c);
    c.pidfd = c.in_fd = c.out.fd = c.err.fd = -1;
    c.out.cap = c.err.cap = o.out_cap;
    shoal_exec_outcome_t outcome = SHOAL_EXEC_FAILED;
    bool ran = s_spawn (&spec, o.env, &c, error, error_cap);
    if (ran) {
        s_supervise (&c, &spec, &o, pipe, cancel);
        s_reap (&c);
        outcome =
            s_outcome (&c, &spec, error, error_cap, error_class, class_cap);
    } else {
        s_say (error_class, class_cap, "spawn");
    }
    s_write_result (&c, ran, result);
    if (shoal_wr_error (result) && outcome == SHOAL_EXEC_OK) {
        s_say (error, error_cap, "out of memory");
        s_say (error_class, class_cap, "error");
        outcome = SHOAL_EXEC_FAILED;
    }
    s_close (&c.pidfd);
    s_close (&c.in_fd);
    s_close (&c.out.fd);
    s_close (&c.err.fd);
    free (c.out.data);
    free (c.err.data);
    s_spec_free (&spec);
    return outcome;
}
