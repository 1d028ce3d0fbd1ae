/*  fuzz_wf.c - libFuzzer entry point for workflow definitions.

    One input is tried both ways in: as a stored definition
    (shoal_wf_decode) and as a JSON file (shoal_wf_parse, with one plugin
    type allowed). Besides "does not crash", the target checks:
      - every error is one of the documented classes, with a
        NUL-terminated, non-empty text;
      - whatever is accepted encodes, decodes again, and encodes to the
        same bytes (the encoding is canonical), with the same counts.
    A broken invariant calls abort(). The corpus (tests/corpus/wf) holds
    the examples of examples/workflows as JSON and as their encodings.
*/
#include "shoal_wf.h"
#include "shoal_wr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_REQUIRE(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf (stderr, "fuzz_wf: %s:%d: invariant failed: %s\n",         \
                     __FILE__, __LINE__, #cond);                               \
            abort ();                                                          \
        }                                                                      \
    } while (0)

static const char *const s_types[] = {"plug", NULL};

/*  An accepted definition survives encode -> decode -> encode. */
static void
s_round_trip (const shoal_wf_t *wf)
{
    shoal_wr_t *a = shoal_wr_new (), *b = shoal_wr_new ();
    S_REQUIRE (a && b);
    shoal_wf_encode (wf, a);
    S_REQUIRE (shoal_wr_error (a) == SHOAL_OK);
    S_REQUIRE (shoal_wr_size (a) <= SHOAL_WF_SIZE_MAX);
    shoal_wf_t *back = NULL;
    char err[SHOAL_WF_ERR_MAX];
    shoal_err_t rc = shoal_wf_decode (shoal_wr_data (a), shoal_wr_size (a),
                                      NULL, &back, err, sizeof err);
    if (rc != SHOAL_OK) {
        fprintf (stderr, "fuzz_wf: re-decode: %s\n", err);
    }
    S_REQUIRE (rc == SHOAL_OK && back);
    S_REQUIRE (shoal_wf_node_count (back) == shoal_wf_node_count (wf));
    S_REQUIRE (shoal_wf_edge_count (back) == shoal_wf_edge_count (wf));
    S_REQUIRE (shoal_wf_entry_count (back) >= 1);
    shoal_wf_encode (back, b);
    S_REQUIRE (shoal_wr_size (a) == shoal_wr_size (b));
    S_REQUIRE (
        memcmp (shoal_wr_data (a), shoal_wr_data (b), shoal_wr_size (a)) == 0);
    shoal_wf_destroy (&back);
    shoal_wr_destroy (&a);
    shoal_wr_destroy (&b);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[SHOAL_WF_ERR_MAX];
    shoal_wf_t *wf = NULL;
    memset (err, 'x', sizeof err);
    shoal_err_t rc = shoal_wf_decode (data, size, NULL, &wf, err, sizeof err);
    S_REQUIRE (rc == SHOAL_OK || rc == SHOAL_ERR_MALFORMED ||
               rc == SHOAL_ERR_TOO_LARGE || rc == SHOAL_ERR_VERSION ||
               rc == SHOAL_ERR_INVALID || rc == SHOAL_ERR_NOMEM);
    S_REQUIRE ((rc == SHOAL_OK) == (wf != NULL));
    if (wf) {
        s_round_trip (wf);
        shoal_wf_destroy (&wf);
    } else {
        S_REQUIRE (memchr (err, 0, sizeof err) && err[0]);
    }

    memset (err, 'x', sizeof err);
    rc = shoal_wf_parse ((const char *) data, size, "fuzz.json", s_types, &wf,
                         err, sizeof err);
    S_REQUIRE (rc == SHOAL_OK || rc == SHOAL_ERR_INVALID ||
               rc == SHOAL_ERR_TOO_LARGE || rc == SHOAL_ERR_NOMEM);
    S_REQUIRE ((rc == SHOAL_OK) == (wf != NULL));
    if (wf) {
        s_round_trip (wf);
        shoal_wf_destroy (&wf);
    } else {
        S_REQUIRE (memchr (err, 0, sizeof err) &&
                   strncmp (err, "fuzz.json: ", 11) == 0);
    }
    return 0;
}
