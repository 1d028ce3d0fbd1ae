/*  shoal_expr.h - conditions on workflow edges.

    A small, safe expression language over two msgpack documents: the
    upstream node's output and the run's input.

        output.status == "ok" && output.amount > 100
        !(input.dry_run) || output.items.count >= 1

    Grammar (precedence low to high):
        expr    := or
        or      := and ( "||" and )*
        and     := not ( "&&" not )*
        not     := "!" not | cmp
        cmp     := primary ( ( "==" | "!=" | "<" | ">" | "<=" | ">=" )
                   primary )?
        primary := "(" expr ")" | literal | path
        literal := number | string | "true" | "false" | "null"
        path    := ( "output" | "input" ) ( "." name | "[" index "]" )*
    Strings are double-quoted with \" \\ \n \t \uXXXX escapes; numbers are
    JSON numbers. Names are [A-Za-z_][A-Za-z0-9_]*; a property whose key
    is not such a name is reached with ["key"].

    Values and coercion (no implicit string <-> number conversion):
    - A path to something absent (missing key, index out of range, a step
      through a non-container) is null.
    - == and != compare type and value; all numbers (unsigned, negative,
      float) are one type compared by value (1 == 1.0); maps and arrays
      are only ever equal to themselves by being the same path (they
      compare unequal to every literal).
    - < > <= >= are defined between two numbers (by value) and between two
      strings (bytewise); any other pair is false (and the negation of
      such a comparison with ! is true).
    - In a boolean position (the whole expression, an operand of && || !)
      a value is true unless it is false, null, absent, 0, or "".
    - && and || short-circuit.

    The compiled form is a byte string (stack code) that can be stored in
    a definition and evaluated later, by another process, without being
    compiled again; evaluation allocates nothing and is bounded by the
    program's length and the documents' size.
*/
#ifndef SHOAL_EXPR_H_INCLUDED
#define SHOAL_EXPR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"

#define SHOAL_EXPR_TEXT_MAX 2048 /* source bytes */
#define SHOAL_EXPR_CODE_MAX 8192 /* compiled bytes: > 3 per text byte */
#define SHOAL_EXPR_ERR_MAX  160  /* error text, NUL included */

/*  Compiles text (NUL-terminated, at most SHOAL_EXPR_TEXT_MAX bytes) into
    code (cap bytes; SHOAL_EXPR_CODE_MAX always suffices), setting *len.
    On SHOAL_ERR_INVALID err says what and where ("column 12: expected a
    value after '&&'"); SHOAL_ERR_TOO_LARGE if text or code is too big. */
shoal_err_t shoal_expr_compile (const char *text, uint8_t *code, size_t cap,
                                size_t *len, char *err, size_t err_cap);

/*  Checks that code (as stored, possibly by another process) is a
    well-formed program: every operand in bounds, the stack balanced.
    shoal_expr_eval refuses what this refuses. */
shoal_err_t shoal_expr_check (const uint8_t *code, size_t len);

/*  Evaluates code against the output and input documents (msgpack, any
    value; NULL or length 0 = absent) into *result. A malformed document
    or program is SHOAL_ERR_MALFORMED with err set; nothing is allocated.
    Thread safe. */
shoal_err_t shoal_expr_eval (const uint8_t *code, size_t len,
                             const uint8_t *output, size_t output_len,
                             const uint8_t *input, size_t input_len,
                             bool *result, char *err, size_t err_cap);

#endif
