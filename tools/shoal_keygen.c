/*  shoal_keygen.c - `shoal keygen` (see shoal_keygen.h). */
#include "shoal_keygen.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NAME_MAX 64

static int
s_usage (const char *why)
{
    fprintf (stderr,
             "shoal: %s\nusage: shoal keygen DIR [--name NAME] "
             "[--force]\n",
             why);
    return 2;
}

/*  A certificate name becomes a file name: letters, digits, . _ - */
static bool
s_name_ok (const char *name)
{
    size_t n = strlen (name);
    if (n == 0 || n > S_NAME_MAX || name[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

int
shoal_keygen_main (int argc, char **argv)
{
    const char *dir = NULL, *name = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp (argv[i], "--force") == 0) {
            force = true;
        } else if (argv[i][0] == '-' || dir) {
            return s_usage ("keygen: unexpected argument");
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        return s_usage ("keygen needs a folder");
    }
    char host[S_NAME_MAX + 1] = "";
    if (!name) {
        if (gethostname (host, sizeof host) != 0 || !host[0]) {
            snprintf (host, sizeof host, "shoal");
        }
        host[S_NAME_MAX] = '\0';
        name = host;
    }
    if (!s_name_ok (name)) {
        return s_usage ("keygen: --name must be 1-64 of A-Z a-z 0-9 . _ - "
                        "(not starting with .)");
    }
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "shoal: keygen: cannot create %s: %s\n", dir,
                 strerror (errno));
        return 1;
    }
    char pub[PATH_MAX], sec[PATH_MAX];
    if ((size_t) snprintf (pub, sizeof pub, "%s/%s.key", dir, name) >=
            sizeof pub ||
        (size_t) snprintf (sec, sizeof sec, "%s/%s.key_secret", dir, name) >=
            sizeof sec) {
        fprintf (stderr, "shoal: keygen: path too long\n");
        return 1;
    }
    if (!force && (access (pub, F_OK) == 0 || access (sec, F_OK) == 0)) {
        fprintf (stderr,
                 "shoal: keygen: %s already has a certificate named %s "
                 "(--force replaces it)\n",
                 dir, name);
        return 1;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "shoal: keygen: cannot make a key pair\n");
        return 1;
    }
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "created-by", "shoal keygen");
    /* The secret file is created readable by its owner only, before the
       key is written into it. */
    mode_t old = umask (077);
    int rc = zcert_save (cert, pub);
    umask (old);
    if (rc == 0 && chmod (pub, 0644) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        fprintf (stderr, "shoal: keygen: cannot write %s: %s\n", pub,
                 strerror (errno));
        zcert_destroy (&cert);
        return 1;
    }
    printf ("public key  %s\npublic      %s\nsecret      %s\n",
            zcert_public_txt (cert), pub, sec);
    zcert_destroy (&cert);
    return 0;
}
