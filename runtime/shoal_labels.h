/*  shoal_labels.h - labels: what an executor offers and a job requires.

    A label is 1 to SHOAL_LABEL_MAX bytes of [A-Za-z0-9_.-] ("gpu",
    "zone-a", "avx512"). An executor advertises up to SHOAL_LABELS_MAX of
    them (executors/labels); a job may require up to SHOAL_REQUIRE_MAX and
    runs only on an executor that has every one of them.

    Inside Shoal a set of labels travels and is stored as one canonical
    comma list: labels in the order first given, each once, no spaces
    ("gpu,ssd"); "" is the empty set. Public interfaces (SUBMIT, CREDIT,
    workflow definitions) use arrays of strings; the config key takes the
    comma list ("gpu, ssd" with spaces is fine there).

    Pure: no allocation, no I/O.
*/
#ifndef SHOAL_LABELS_H_INCLUDED
#define SHOAL_LABELS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"
#include "../protocol/shoal_wr.h"

#define SHOAL_LABEL_MAX   32 /* bytes of one label */
#define SHOAL_LABELS_MAX  16 /* labels of one executor */
#define SHOAL_REQUIRE_MAX 8  /* labels one job requires */
/*  A buffer this big holds any job's requirement list with its NUL. */
#define SHOAL_REQUIRE_TEXT_MAX (SHOAL_REQUIRE_MAX * (SHOAL_LABEL_MAX + 1))
/*  ... and any executor's label list with its NUL. */
#define SHOAL_LABELS_TEXT_MAX (SHOAL_LABELS_MAX * (SHOAL_LABEL_MAX + 1))

/*  True if label (len bytes, no NUL needed) is a valid label. */
bool shoal_label_valid (const char *label, size_t len);

/*  Adds label (len bytes) to the comma list in list (cap bytes, a
    NUL-terminated list, "" when empty) unless it is there already.
    SHOAL_ERR_INVALID if label is not a valid label; SHOAL_ERR_TOO_LARGE
    if the list would then hold more than max labels or not fit in cap.
    On error list is unchanged. */
shoal_err_t shoal_labels_add (char *list, size_t cap, const char *label,
                              size_t len, size_t max);

/*  Parses a comma list as people write it (spaces and tabs around labels
    are ignored, "" is no labels) into a canonical list in out (cap
    bytes). SHOAL_ERR_INVALID for an empty or bad label (why names it,
    when why is not NULL), SHOAL_ERR_TOO_LARGE for more than max labels
    or a list that does not fit in cap. */
shoal_err_t shoal_labels_parse (const char *text, size_t max, char *out,
                                size_t cap, char *why, size_t why_cap);

/*  Reads the array of label strings under key in map (a validated
    msgpack map of size bytes) into a canonical list in out (cap bytes).
    SHOAL_ERR_NOT_FOUND when key is absent (out is then ""),
    SHOAL_ERR_INVALID when it is not an array of valid labels,
    SHOAL_ERR_TOO_LARGE when it has more than max elements or the list
    does not fit in cap. */
shoal_err_t shoal_labels_from_map (const uint8_t *map, size_t size,
                                   const char *key, size_t max, char *out,
                                   size_t cap);

/*  Appends the labels of a canonical list as a msgpack array of
    strings to w (errors are the writer's, sticky). */
void shoal_labels_write (shoal_wr_t *w, const char *list);

/*  Iterates a canonical list of len bytes: *pos starts at 0; each call
    returns the next label (not NUL-terminated, *label_len bytes) and
    moves *pos past it, or NULL at the end. */
const char *shoal_labels_next (const char *list, size_t len, size_t *pos,
                               size_t *label_len);

/*  True if the canonical list (len bytes) holds label (label_len bytes). */
bool shoal_labels_has (const char *list, size_t len, const char *label,
                       size_t label_len);

#endif
