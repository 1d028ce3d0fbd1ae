/*  fuzz_expr.c - libFuzzer entry point for the condition language.

    One input is tried three ways:
      - as condition text (up to the first NUL): it either compiles to a
        program that shoal_expr_check accepts and that evaluates without
        error against fixed documents, or fails with SHOAL_ERR_INVALID /
        SHOAL_ERR_TOO_LARGE and a "column N: " message;
      - as a stored program: eval against valid documents succeeds
        exactly when shoal_expr_check accepts it;
      - as an output and an input document under fixed programs: eval
        gives a result or SHOAL_ERR_MALFORMED, nothing else.
    A broken invariant calls abort() (assert is compiled out in release
    builds).
*/
#include "shoal_expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_REQUIRE(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf (stderr, "fuzz_expr: %s:%d: %s\n", __FILE__, __LINE__,     \
                     #cond);                                                   \
            abort ();                                                          \
        }                                                                      \
    } while (0)

/* {"s": "ok", "n": 5, "a": [1, {"k": null}], "m": {"x": -2.5}} */
static const uint8_t s_doc[] = {0x84, 0xa1, 's', 0xa2, 'o',  'k',  0xa1, 'n',
                                0x05, 0xa1, 'a', 0x92, 0x01, 0x81, 0xa1, 'k',
                                0xc0, 0xa1, 'm', 0x81, 0xa1, 'x',  0xcb, 0xc0,
                                0x04, 0,    0,   0,    0,    0,    0};

static const char *const s_texts[] = {
    "output.s == \"ok\" && output.n > 1 || input.a[1].k == null",
    "output == input || output[\"m\"].x < -1 && !input.s",
    "output.a[0][1].z >= output.a[1] || output.n != input.n",
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static char text[SHOAL_EXPR_TEXT_MAX + 2];
    static uint8_t code[SHOAL_EXPR_CODE_MAX];
    char err[SHOAL_EXPR_ERR_MAX];
    size_t len, n = size < sizeof text - 1 ? size : sizeof text - 1;
    bool r;

    memcpy (text, data, n);
    text[n] = '\0';
    shoal_err_t rc =
        shoal_expr_compile (text, code, sizeof code, &len, err, sizeof err);
    if (rc == SHOAL_OK) {
        S_REQUIRE (len <= 3 * strlen (text) + 1);
        S_REQUIRE (shoal_expr_check (code, len) == SHOAL_OK);
        S_REQUIRE (shoal_expr_eval (code, len, s_doc, sizeof s_doc, s_doc,
                                    sizeof s_doc, &r, err,
                                    sizeof err) == SHOAL_OK);
        rc = shoal_expr_eval (code, len, data, size, s_doc, sizeof s_doc, &r,
                              err, sizeof err);
        S_REQUIRE (rc == SHOAL_OK || rc == SHOAL_ERR_MALFORMED);
    } else if (rc == SHOAL_ERR_INVALID) {
        S_REQUIRE (strncmp (err, "column ", 7) == 0);
    } else {
        S_REQUIRE (rc == SHOAL_ERR_TOO_LARGE);
    }

    shoal_err_t ck = shoal_expr_check (data, size);
    S_REQUIRE (ck == SHOAL_OK || ck == SHOAL_ERR_MALFORMED);
    rc = shoal_expr_eval (data, size, s_doc, sizeof s_doc, NULL, 0, &r, err,
                          sizeof err);
    S_REQUIRE (rc == ck);

    for (size_t t = 0; t < sizeof s_texts / sizeof s_texts[0]; t++) {
        S_REQUIRE (shoal_expr_compile (s_texts[t], code, sizeof code, &len,
                                       NULL, 0) == SHOAL_OK);
        rc = shoal_expr_eval (code, len, data, size, data, size / 2, &r, NULL,
                              0);
        S_REQUIRE (rc == SHOAL_OK || rc == SHOAL_ERR_MALFORMED);
    }
    return 0;
}
