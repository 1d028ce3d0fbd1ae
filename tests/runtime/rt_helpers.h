/*  rt_helpers.h - small fixtures shared by the runtime tests.

    Every test gets a fresh folder from mkdtemp under /tmp (removed at the
    end, with whatever it holds) and derives its inproc endpoint names from
    that folder's unique name, so two tests - or two runs of the suite at
    once - never share a file or an endpoint.
*/
#ifndef RT_HELPERS_H_INCLUDED
#define RT_HELPERS_H_INCLUDED

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RT_PATH_MAX 256

/*  Creates a fresh folder; fills dir (RT_PATH_MAX bytes). 0 on success. */
static inline int
rt_tmpdir (char *dir)
{
    snprintf (dir, RT_PATH_MAX, "/tmp/shoal-rt-XXXXXX");
    return mkdtemp (dir) ? 0 : -1;
}

static inline int
rt_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove (path);
}

/*  Removes dir and everything under it. Accepts an empty string. */
static inline void
rt_rmtree (const char *dir)
{
    if (dir[0]) {
        nftw (dir, rt_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/*  "inproc://<folder name>-<what>": unique for as long as dir exists. */
static inline void
rt_endpoint (char *buf, size_t cap, const char *dir, const char *what)
{
    const char *base = strrchr (dir, '/');
    int n = snprintf (buf, cap, "inproc://%s-%s", base ? base + 1 : dir, what);
    (void) n;
}

/*  Joins dir and name into buf (RT_PATH_MAX bytes). -1 if it did not
    fit (the test folders are short, so that is a bug in the test). */
static inline int
rt_path (char *buf, const char *dir, const char *name)
{
    size_t d = strlen (dir), n = strlen (name);
    if (d + 1 + n >= RT_PATH_MAX) {
        buf[0] = '\0';
        return -1;
    }
    memcpy (buf, dir, d);
    buf[d] = '/';
    memcpy (buf + d + 1, name, n + 1);
    return 0;
}

/*  Writes text to path. 0 on success. */
static inline int
rt_write_file (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    if (!f) {
        return -1;
    }
    size_t n = strlen (text);
    int rc = fwrite (text, 1, n, f) == n ? 0 : -1;
    return fclose (f) == 0 ? rc : -1;
}

#endif
