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
    Strings are double-quoted with \" \\ \n \t \uXXXX escapes (and JSON's
    \/ \b \f \r; surrogate pairs become one UTF-8 character); numbers are
    JSON numbers (an integer beyond 64 bits is the nearest double). Names
    are [A-Za-z_][A-Za-z0-9_]*; a property whose key is not such a name
    is reached with ["key"]; an index is a whole number 0 .. 2^32-1. A
    "." name or ["key"] step reads a map's string key, an [index] step an
    array's element. Note that ! applies to a whole comparison:
    !output.n == 5 is !(output.n == 5). Comparisons do not chain.
    Limits: 64 levels of ( and ! nesting, 32 values held at once (e.g.
    1 == (1 == (...)) 31 deep), 255 steps per path.

    Values and coercion (no implicit string <-> number conversion):
    - A path to something absent (missing key, index out of range, a step
      through a non-container) is null.
    - == and != compare type and value; all numbers (unsigned, negative,
      float) are one type compared by value (1 == 1.0); maps and arrays
      are only ever equal to themselves by being the same path (they
      compare unequal to every literal); so are bin and ext values.
    - < > <= >= are defined between two numbers (by value) and between two
      strings (bytewise); any other pair is false (and the negation of
      such a comparison with ! is true).
    - In a boolean position (the whole expression, an operand of && || !)
      a value is true unless it is false, null, absent, 0, or "".
    - && and || short-circuit, and give true or false (not an operand):
      (output.s || 1) == true.
    - NaN (from a document) is unequal to everything, itself included,
      and unordered.

    The compiled form is a byte string (stack code) that can be stored in
    a definition and evaluated later, by another process, without being
    compiled again; evaluation allocates nothing and is bounded by the
    program's length and the documents' size. Its layout is described in
    shoal_expr.c; byte 0 is a format version (1). Eval costs ~200 ns for
    a three-comparison condition over a 10-key document (shoal_bench
    --only expr).
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
    value after '&&'"; the column counts bytes from 1); SHOAL_ERR_TOO_LARGE
    if text or code is too big. err may be NULL (err_cap 0) and is
    truncated to err_cap; code and *len are meaningful on success only.
    Thread safe. */
shoal_err_t shoal_expr_compile (const char *text, uint8_t *code, size_t cap,
                                size_t *len, char *err, size_t err_cap);

/*  Checks that code (as stored, possibly by another process) is a
    well-formed program: known version and opcodes, every operand in
    bounds, jumps forward, nested and landing on an instruction with the
    stack depth that falls through, the stack never under- or overflowing
    and ending with one value. SHOAL_OK or SHOAL_ERR_MALFORMED (also for
    NULL or len over SHOAL_EXPR_CODE_MAX). O(len), no allocation.
    shoal_expr_eval runs this first, so it refuses what this refuses. */
shoal_err_t shoal_expr_check (const uint8_t *code, size_t len);

/*  Evaluates code against the output and input documents (msgpack, any
    value; NULL or length 0 = absent) into *result. A malformed document
    or program is SHOAL_ERR_MALFORMED with err set ("malformed program:
    stack underflow at byte 7", "output document: malformed msgpack");
    err may be NULL. Documents are not validated up front: only the bytes
    a path walks are read, so a document broken elsewhere (or one that a
    short-circuit skips) is not noticed. Nothing is allocated. Thread
    safe. */
shoal_err_t shoal_expr_eval (const uint8_t *code, size_t len,
                             const uint8_t *output, size_t output_len,
                             const uint8_t *input, size_t input_len,
                             bool *result, char *err, size_t err_cap);

#endif
