/*  replay_main.c - runs a libFuzzer target over saved inputs without
    libFuzzer, so the corpus is a plain ctest case under gcc and under
    every sanitizer build.

    Usage: fuzz_frame_replay DIR|FILE...
    Each file is copied into a buffer of exactly its size (so ASan sees
    any over-read) and passed to LLVMFuzzerTestOneInput once, in name
    order. An input that crashes or trips an invariant aborts the run;
    otherwise the program ends with "N passed, 0 failed". No input at all
    is a failure, so a missing corpus cannot pass.
*/
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/*  Reads the whole file at path into a new buffer of exactly its size.
    Returns 0, or -1 with a message. */
static int
s_replay_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
        return -1;
    }
    int rc = -1;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat (fileno (f), &st) != 0 || st.st_size < 0) {
        fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
        goto fail;
    }
    size_t size = (size_t) st.st_size;
    buf = malloc (size ? size : 1);
    if (!buf) {
        fprintf (stderr, "replay: %s: out of memory\n", path);
        goto fail;
    }
    if (size > 0 && fread (buf, 1, size, f) != size) {
        fprintf (stderr, "replay: %s: short read\n", path);
        goto fail;
    }
    /* zero-length inputs are passed as a pointer to nothing, as libFuzzer
       does */
    LLVMFuzzerTestOneInput (buf, size);
    rc = 0;
fail:
    free (buf);
    fclose (f);
    return rc;
}

static int
s_skip_dot (const struct dirent *entry)
{
    return entry->d_name[0] != '.';
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    unsigned passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st) != 0) {
            fprintf (stderr, "replay: %s: %s\n", argv[i], strerror (errno));
            failed++;
            continue;
        }
        if (!S_ISDIR (st.st_mode)) {
            if (s_replay_file (argv[i]) == 0) {
                passed++;
            } else {
                failed++;
            }
            continue;
        }
        struct dirent **names;
        int n = scandir (argv[i], &names, s_skip_dot, alphasort);
        if (n < 0) {
            fprintf (stderr, "replay: %s: %s\n", argv[i], strerror (errno));
            failed++;
            continue;
        }
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
            struct stat fst;
            if (stat (path, &fst) == 0 && S_ISREG (fst.st_mode)) {
                if (s_replay_file (path) == 0) {
                    passed++;
                } else {
                    failed++;
                }
            }
            free (names[k]);
        }
        free (names);
    }
    if (passed + failed == 0) {
        fprintf (stderr, "replay: no inputs found\n");
        failed = 1;
    }
    printf ("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
