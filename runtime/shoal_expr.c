/*  shoal_expr.c - conditions on workflow edges: compile, check, evaluate.

    A hand-written tokenizer and recursive-descent parser emit stack code
    in one pass; the parser's recursion is capped (S_NEST_MAX levels of
    "(" and "!") and it tracks the value-stack depth it generates, so a
    program it accepts always fits the evaluator's fixed stack.

    Code layout (all integers big-endian):

        byte 0         S_VERSION (1): the format of what follows
        then instructions, each an opcode byte and its operands:
        NULL FALSE TRUE                    push a constant
        UINT  u8 n, n bytes                push a number >= 0 (n 1..8)
        NINT  u8 n, n bytes                push minus that number (not 0,
                                           at most 2^63)
        FLOAT f64 (IEEE 754 bits)          push a number
        STR   u16 n, n bytes               push a string (any bytes)
        PATH  u8 root, u8 nsteps, steps    push the value at a path;
              root 0 = output, 1 = input;
              a step is KEY u16 n, n bytes (a map key)
                     or INDEX u32 i        (an array element)
        EQ NE LT GT LE GE                  pop b, pop a, push (a op b)
        NOT                                pop v, push !truthy(v)
        BOOL                               pop v, push truthy(v)
        ANDJ u16 off    pop v; if !truthy(v): push false, jump
        ORJ  u16 off    pop v; if truthy(v): push true, jump
                        (off counts from the end of the instruction,
                        so jumps only go forward)

    `a && b` is `a ANDJ L b BOOL L:`; `a || b` is `a ORJ L b BOOL L:`.
    No source byte costs more than three code bytes (a 1-digit number
    is 3, "0.1" is 9, "&&" is 4, ".a" is 4, "[0]" is 5), so with the
    version byte SHOAL_EXPR_CODE_MAX (8192) > 3 * SHOAL_EXPR_TEXT_MAX + 1
    holds any text that compiles. Both paths reach L with the same depth, the compiler nests jumps
    (a later jump never lands beyond an earlier pending one) and
    shoal_expr_check verifies all of this in one linear pass with two
    small fixed arrays, so eval can afford to check every program it is
    given rather than trust whoever stored it.

    Eval keeps values in a fixed array of S_STACK_MAX tagged values that
    point into the program (strings) or the documents (strings, and
    containers by the position of their head, which is their identity).
    Paths are resolved by walking the msgpack with the bounded reader
    from the root each time: documents are small, and this allocates
    nothing. A malformed document is noticed only where a path walks;
    the rest is never read.

    Float literals go through strtod after the JSON number grammar has
    been checked by hand (so no hex, "nan" or "inf" gets in); the '.' is
    swapped for the locale's decimal point in case someone set one.
*/
#include "shoal_expr.h"
#include "../protocol/shoal_mp.h"

#include <assert.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION    1
#define S_STACK_MAX  32  /* values on the evaluation stack */
#define S_NEST_MAX   64  /* "(" and "!" inside one another */
#define S_PENDING    160 /* jumps awaiting their target; >= 2 per level */
#define S_STEPS_MAX  255 /* steps of one path */
#define S_SKIP_DEPTH 64  /* nesting the document walk can skip over */

enum {
    OP_NULL = 0x01,
    OP_FALSE = 0x02,
    OP_TRUE = 0x03,
    OP_UINT = 0x04,
    OP_NINT = 0x05,
    OP_FLOAT = 0x06,
    OP_STR = 0x07,
    OP_PATH = 0x08,
    OP_EQ = 0x10,
    OP_NE = 0x11,
    OP_LT = 0x12,
    OP_GT = 0x13,
    OP_LE = 0x14,
    OP_GE = 0x15,
    OP_NOT = 0x18,
    OP_BOOL = 0x19,
    OP_ANDJ = 0x20,
    OP_ORJ = 0x21
};

enum { STEP_KEY = 1, STEP_INDEX = 2 };
enum { ROOT_OUTPUT = 0, ROOT_INPUT = 1 };

static inline uint16_t
s_get16 (const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
           (uint32_t) p[2] << 8 | p[3];
}

static inline uint64_t
s_get64 (const uint8_t *p)
{
    return (uint64_t) s_get32 (p) << 32 | s_get32 (p + 4);
}

/*  n (1..8) big-endian bytes. */
static inline uint64_t
s_getn (const uint8_t *p, uint8_t n)
{
    uint64_t v = 0;
    for (uint8_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

__attribute__ ((format (printf, 3, 4))) static void
s_errf (char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap > 0) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err, cap, fmt, ap);
        va_end (ap);
    }
}

/* ------------------------------------------------------------------ */
/*  Checking                                                            */

/*  Verifies code; on failure *why says what and *at where (byte). */
static shoal_err_t
s_check (const uint8_t *code, size_t len, const char **why, size_t *at)
{
    struct {
        uint16_t target;
        uint8_t depth;
    } pending[S_PENDING];
    size_t npending = 0;
    size_t depth = 0, pc = 1;
    *at = 0;
    if (!code || len < 2) {
        *why = "too short";
        return SHOAL_ERR_MALFORMED;
    }
    if (len > SHOAL_EXPR_CODE_MAX) {
        *why = "too long";
        return SHOAL_ERR_MALFORMED;
    }
    if (code[0] != S_VERSION) {
        *why = "unknown version";
        return SHOAL_ERR_MALFORMED;
    }
#define S_BAD(what)                                                            \
    do {                                                                       \
        *why = (what);                                                         \
        *at = start;                                                           \
        return SHOAL_ERR_MALFORMED;                                            \
    } while (0)
#define S_NEED(n)                                                              \
    do {                                                                       \
        if (len - pc < (size_t) (n)) {                                         \
            S_BAD ("truncated operand");                                       \
        }                                                                      \
    } while (0)
    while (true) {
        size_t start = pc;
        /* Jumps landing here must bring the depth that falls through. */
        while (npending > 0 && pending[npending - 1].target == pc) {
            if (pending[npending - 1].depth != depth) {
                S_BAD ("jump target with another stack depth");
            }
            npending--;
        }
        if (npending > 0 && pending[npending - 1].target < pc) {
            S_BAD ("jump into an instruction");
        }
        if (pc == len) {
            break;
        }
        uint8_t op = code[pc++];
        switch (op) {
            case OP_NULL:
            case OP_FALSE:
            case OP_TRUE:
                depth++;
                break;
            case OP_FLOAT:
                S_NEED (8);
                pc += 8;
                depth++;
                break;
            case OP_UINT:
            case OP_NINT: {
                S_NEED (1);
                uint8_t n = code[pc++];
                if (n < 1 || n > 8) {
                    S_BAD ("bad integer size");
                }
                S_NEED (n);
                uint64_t m = s_getn (code + pc, n);
                if (op == OP_NINT && (m == 0 || m > (uint64_t) INT64_MAX + 1)) {
                    S_BAD ("NINT out of range");
                }
                pc += n;
                depth++;
                break;
            }
            case OP_STR:
                S_NEED (2);
                pc += 2;
                S_NEED (s_get16 (code + pc - 2));
                pc += s_get16 (code + pc - 2);
                depth++;
                break;
            case OP_PATH: {
                S_NEED (2);
                if (code[pc] != ROOT_OUTPUT && code[pc] != ROOT_INPUT) {
                    S_BAD ("unknown path root");
                }
                uint8_t nsteps = code[pc + 1];
                pc += 2;
                for (uint8_t s = 0; s < nsteps; s++) {
                    S_NEED (1);
                    uint8_t kind = code[pc++];
                    if (kind == STEP_KEY) {
                        S_NEED (2);
                        pc += 2;
                        S_NEED (s_get16 (code + pc - 2));
                        pc += s_get16 (code + pc - 2);
                    } else if (kind == STEP_INDEX) {
                        S_NEED (4);
                        pc += 4;
                    } else {
                        S_BAD ("unknown path step");
                    }
                }
                depth++;
                break;
            }
            case OP_EQ:
            case OP_NE:
            case OP_LT:
            case OP_GT:
            case OP_LE:
            case OP_GE:
                if (depth < 2) {
                    S_BAD ("stack underflow");
                }
                depth--;
                break;
            case OP_NOT:
            case OP_BOOL:
                if (depth < 1) {
                    S_BAD ("stack underflow");
                }
                break;
            case OP_ANDJ:
            case OP_ORJ: {
                S_NEED (2);
                if (depth < 1) {
                    S_BAD ("stack underflow");
                }
                size_t target = pc + 2 + s_get16 (code + pc);
                pc += 2;
                if (target > len) {
                    S_BAD ("jump out of the program");
                }
                if (npending > 0 && pending[npending - 1].target < target) {
                    S_BAD ("jumps not nested");
                }
                if (npending == S_PENDING) {
                    S_BAD ("too many pending jumps");
                }
                /* The jumping path keeps a value, the other pops it. */
                pending[npending].target = (uint16_t) target;
                pending[npending].depth = (uint8_t) depth;
                npending++;
                depth--;
                break;
            }
            default:
                S_BAD ("unknown opcode");
        }
        if (depth > S_STACK_MAX) {
            S_BAD ("stack overflow");
        }
    }
    if (depth != 1) {
        *why = "does not end with one value";
        *at = len;
        return SHOAL_ERR_MALFORMED;
    }
#undef S_NEED
#undef S_BAD
    return SHOAL_OK;
}

shoal_err_t
shoal_expr_check (const uint8_t *code, size_t len)
{
    const char *why;
    size_t at;
    return s_check (code, len, &why, &at);
}

/* ------------------------------------------------------------------ */
/*  Tokenizer                                                           */

typedef enum {
    T_END,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_DOT,
    T_NOT,
    T_AND,
    T_OR,
    T_EQ,
    T_NE,
    T_LT,
    T_GT,
    T_LE,
    T_GE,
    T_NUM,
    T_STR,
    T_NAME
} s_tok_kind_t;

typedef struct {
    s_tok_kind_t kind;
    size_t pos; /* byte offset in the text; column = pos + 1 */
    size_t len;
} s_tok_t;

typedef struct {
    const char *text;
    size_t text_len;
    size_t pos;  /* next byte to tokenize */
    s_tok_t tok; /* the current token */
    uint8_t *code;
    size_t cap;
    size_t len;
    size_t depth; /* values the code so far leaves on the stack */
    int nest;
    bool too_large;
    char *err;
    size_t err_cap;
} s_parser_t;

static const char *
s_tok_name (s_tok_kind_t k)
{
    static const char *const names[] = {
        "the end", "'('",  "')'",  "'['",      "']'",      "'.'",
        "'!'",     "'&&'", "'||'", "'=='",     "'!='",     "'<'",
        "'>'",     "'<='", "'>='", "a number", "a string", "a name"};
    return names[k];
}

__attribute__ ((format (printf, 3, 4))) static bool
s_fail (s_parser_t *self, size_t pos, const char *fmt, ...)
{
    if (self->err && self->err_cap > 0) {
        int n = snprintf (self->err, self->err_cap, "column %zu: ", pos + 1);
        if (n >= 0 && (size_t) n < self->err_cap) {
            va_list ap;
            va_start (ap, fmt);
            vsnprintf (self->err + n, self->err_cap - (size_t) n, fmt, ap);
            va_end (ap);
        }
    }
    return false;
}

static bool
s_is_name_start (char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
s_is_name_char (char c)
{
    return s_is_name_start (c) || (c >= '0' && c <= '9');
}

static bool
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

static int
s_hex (char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool
s_hex4 (const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = s_hex (p[i]);
        if (h < 0) {
            return false;
        }
        v = v << 4 | (uint32_t) h;
    }
    *out = v;
    return true;
}

/*  Scans the string literal starting at the quote at pos; when out is
    not NULL writes its decoded bytes there (the caller made room: never
    more than the literal's own length). Sets *end past the closing quote
    and *n to the decoded length. */
static bool
s_string (s_parser_t *self, size_t pos, uint8_t *out, size_t *end, size_t *n)
{
    const char *t = self->text;
    size_t i = pos + 1, w = 0;
    while (true) {
        if (i >= self->text_len) {
            return s_fail (self, pos, "unterminated string");
        }
        unsigned char c = (unsigned char) t[i];
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            return s_fail (self, i,
                           "control character in a string"
                           " (write \\n, \\t or \\u00XX)");
        }
        if (c != '\\') {
            if (out) {
                out[w] = c;
            }
            w++;
            i++;
            continue;
        }
        char e = i + 1 < self->text_len ? t[i + 1] : '\0';
        if (!e) {
            return s_fail (self, pos, "unterminated string");
        }
        const char *simple = "\"\\/bfnrt";
        const char *sv = "\"\\/\b\f\n\r\t";
        const char *hit = strchr (simple, e);
        if (hit) {
            if (out) {
                out[w] = (uint8_t) sv[hit - simple];
            }
            w++;
            i += 2;
            continue;
        }
        if (e != 'u') {
            if ((unsigned char) e >= 0x20 && (unsigned char) e < 0x7f) {
                return s_fail (self, i, "unknown escape '\\%c' in a string", e);
            }
            return s_fail (self, i, "unknown escape in a string");
        }
        uint32_t cp;
        if (i + 6 > self->text_len || !s_hex4 (t + i + 2, &cp)) {
            return s_fail (self, i, "'\\u' needs four hex digits");
        }
        size_t esc = i;
        i += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            return s_fail (self, esc, "'\\u' escape is a lone surrogate");
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (i + 6 > self->text_len || t[i] != '\\' || t[i + 1] != 'u' ||
                !s_hex4 (t + i + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                return s_fail (self, esc, "'\\u' escape is a lone surrogate");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
        }
        uint8_t u[4];
        size_t un;
        if (cp < 0x80) {
            u[0] = (uint8_t) cp;
            un = 1;
        } else if (cp < 0x800) {
            u[0] = (uint8_t) (0xc0 | cp >> 6);
            u[1] = (uint8_t) (0x80 | (cp & 0x3f));
            un = 2;
        } else if (cp < 0x10000) {
            u[0] = (uint8_t) (0xe0 | cp >> 12);
            u[1] = (uint8_t) (0x80 | (cp >> 6 & 0x3f));
            u[2] = (uint8_t) (0x80 | (cp & 0x3f));
            un = 3;
        } else {
            u[0] = (uint8_t) (0xf0 | cp >> 18);
            u[1] = (uint8_t) (0x80 | (cp >> 12 & 0x3f));
            u[2] = (uint8_t) (0x80 | (cp >> 6 & 0x3f));
            u[3] = (uint8_t) (0x80 | (cp & 0x3f));
            un = 4;
        }
        if (out) {
            memcpy (out + w, u, un);
        }
        w += un;
    }
    *end = i + 1;
    *n = w;
    return true;
}

/*  Scans a JSON number at pos; false if it does not follow the grammar
    or runs into letters, digits or dots ("01", "1.", "1e", "2x"). */
static bool
s_number (s_parser_t *self, size_t pos, size_t *end)
{
    const char *t = self->text;
    size_t i = pos;
    bool ok = true;
    if (t[i] == '-') {
        i++;
    }
    if (t[i] == '0') {
        i++;
    } else if (s_is_digit (t[i])) {
        while (s_is_digit (t[i])) {
            i++;
        }
    } else {
        ok = false;
    }
    if (ok && t[i] == '.') {
        i++;
        ok = s_is_digit (t[i]);
        while (s_is_digit (t[i])) {
            i++;
        }
    }
    if (ok && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (t[i] == '+' || t[i] == '-') {
            i++;
        }
        ok = s_is_digit (t[i]);
        while (s_is_digit (t[i])) {
            i++;
        }
    }
    if (!ok || s_is_name_char (t[i]) || t[i] == '.') {
        size_t j = pos + 1;
        while (s_is_name_char (t[j]) || t[j] == '.' ||
               ((t[j] == '+' || t[j] == '-') &&
                (t[j - 1] == 'e' || t[j - 1] == 'E'))) {
            j++;
        }
        return s_fail (self, pos, "bad number '%.*s'",
                       (int) (j - pos > 32 ? 32 : j - pos), t + pos);
    }
    *end = i;
    return true;
}

/*  Reads the next token into self->tok. */
static bool
s_next (s_parser_t *self)
{
    const char *t = self->text;
    size_t i = self->pos;
    while (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r') {
        i++;
    }
    s_tok_t tok = {T_END, i, 0};
    char c = t[i], d = c ? t[i + 1] : '\0';
    size_t end = i + 1;
    if (i >= self->text_len) {
        end = i;
    } else if (c == '(') {
        tok.kind = T_LP;
    } else if (c == ')') {
        tok.kind = T_RP;
    } else if (c == '[') {
        tok.kind = T_LB;
    } else if (c == ']') {
        tok.kind = T_RB;
    } else if (c == '.') {
        tok.kind = T_DOT;
    } else if (c == '&' && d == '&') {
        tok.kind = T_AND;
        end++;
    } else if (c == '|' && d == '|') {
        tok.kind = T_OR;
        end++;
    } else if (c == '=' && d == '=') {
        tok.kind = T_EQ;
        end++;
    } else if (c == '!' && d == '=') {
        tok.kind = T_NE;
        end++;
    } else if (c == '!') {
        tok.kind = T_NOT;
    } else if (c == '<') {
        tok.kind = d == '=' ? T_LE : T_LT;
        end += d == '=';
    } else if (c == '>') {
        tok.kind = d == '=' ? T_GE : T_GT;
        end += d == '=';
    } else if (c == '=' || c == '&' || c == '|') {
        return s_fail (
            self, i, "'%c' is not an operator (did you mean '%c%c'?)", c, c, c);
    } else if (c == '"') {
        size_t n;
        if (!s_string (self, i, NULL, &end, &n)) {
            return false;
        }
        tok.kind = T_STR;
    } else if (c == '-' || s_is_digit (c)) {
        if (!s_number (self, i, &end)) {
            return false;
        }
        tok.kind = T_NUM;
    } else if (s_is_name_start (c)) {
        while (s_is_name_char (t[end])) {
            end++;
        }
        tok.kind = T_NAME;
    } else if ((unsigned char) c > 0x20 && (unsigned char) c < 0x7f) {
        return s_fail (self, i, "unexpected character '%c'", c);
    } else {
        return s_fail (self, i, "unexpected byte 0x%02x",
                       (unsigned) (unsigned char) c);
    }
    tok.len = end - i;
    self->tok = tok;
    self->pos = end;
    return true;
}

static bool
s_tok_is (const s_parser_t *self, const char *word)
{
    size_t n = strlen (word);
    return self->tok.kind == T_NAME && self->tok.len == n &&
           memcmp (self->text + self->tok.pos, word, n) == 0;
}

/* ------------------------------------------------------------------ */
/*  Emitting                                                            */

/*  Room for n more bytes of code, or NULL (and too_large) if none. */
static uint8_t *
s_room (s_parser_t *self, size_t n)
{
    if (self->cap - self->len < n) {
        self->too_large = true;
        return NULL;
    }
    uint8_t *p = self->code + self->len;
    self->len += n;
    return p;
}

static bool
s_code_full (s_parser_t *self)
{
    return s_fail (self, self->tok.pos,
                   "the compiled program is over %zu bytes", self->cap);
}

static bool
s_emit_op (s_parser_t *self, uint8_t op)
{
    uint8_t *p = s_room (self, 1);
    if (!p) {
        return s_code_full (self);
    }
    *p = op;
    return true;
}

static bool
s_emit_u64 (s_parser_t *self, uint8_t op, uint64_t v)
{
    uint8_t *p = s_room (self, 9);
    if (!p) {
        return s_code_full (self);
    }
    p[0] = op;
    for (int i = 0; i < 8; i++) {
        p[1 + i] = (uint8_t) (v >> (56 - 8 * i));
    }
    return true;
}

/*  op, the byte count of v, then v's significant bytes. */
static bool
s_emit_int (s_parser_t *self, uint8_t op, uint64_t v)
{
    uint8_t n = 1;
    while (n < 8 && v >> (8 * n)) {
        n++;
    }
    uint8_t *p = s_room (self, 2 + (size_t) n);
    if (!p) {
        return s_code_full (self);
    }
    p[0] = op;
    p[1] = n;
    for (uint8_t i = 0; i < n; i++) {
        p[2 + i] = (uint8_t) (v >> (8 * (n - 1 - i)));
    }
    return true;
}

/*  One more value on the stack; the compiler refuses what eval's fixed
    stack could not hold. */
static bool
s_push (s_parser_t *self, size_t pos)
{
    if (++self->depth > S_STACK_MAX) {
        return s_fail (self, pos, "expression too deeply nested");
    }
    return true;
}

/*  Emits the current string token's decoded bytes as u16 length + bytes
    (the caller wrote any opcode before). */
static bool
s_emit_string (s_parser_t *self)
{
    size_t raw = self->tok.len; /* decoded never exceeds the literal */
    if (self->cap - self->len < 2 + raw) {
        self->too_large = true;
        return s_code_full (self);
    }
    uint8_t *p = self->code + self->len;
    size_t end, n;
    if (!s_string (self, self->tok.pos, p + 2, &end, &n)) {
        return false;
    }
    p[0] = (uint8_t) (n >> 8);
    p[1] = (uint8_t) n;
    self->len += 2 + n;
    return true;
}

static bool
s_emit_number (s_parser_t *self)
{
    const char *s = self->text + self->tok.pos;
    size_t n = self->tok.len;
    bool neg = s[0] == '-';
    bool integral =
        !memchr (s, '.', n) && !memchr (s, 'e', n) && !memchr (s, 'E', n);
    if (integral) {
        uint64_t v = 0;
        bool fits = true;
        for (size_t i = neg; i < n && fits; i++) {
            fits = !__builtin_mul_overflow (v, 10, &v) &&
                   !__builtin_add_overflow (v, (uint64_t) (s[i] - '0'), &v);
        }
        if (fits && (!neg || v == 0 || v <= (uint64_t) INT64_MAX + 1)) {
            /* -0 is 0 */
            return s_emit_int (self, neg && v ? OP_NINT : OP_UINT, v);
        }
    }
    /* A float, or an integer beyond 64 bits: the nearest double. */
    char buf[SHOAL_EXPR_TEXT_MAX + 8];
    memcpy (buf, s, n);
    buf[n] = '\0';
    const char *dp = localeconv ()->decimal_point;
    char *dot = strchr (buf, '.');
    if (dot && dp && dp[0] && dp[0] != '.' && !dp[1]) {
        *dot = dp[0];
    }
    errno = 0;
    double d = strtod (buf, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)) {
        return s_fail (self, self->tok.pos, "number '%.*s' is out of range",
                       (int) (n > 32 ? 32 : n), s);
    }
    uint64_t bits;
    memcpy (&bits, &d, sizeof bits);
    return s_emit_u64 (self, OP_FLOAT, bits);
}

/* ------------------------------------------------------------------ */
/*  Parser                                                              */

static bool s_or (s_parser_t *self, const char *after);

/*  path := ( "output" | "input" ) ( "." name | "[" index "]" )* */
static bool
s_path (s_parser_t *self, uint8_t root)
{
    size_t head = self->len;
    uint8_t *p = s_room (self, 3);
    if (!p) {
        return s_code_full (self);
    }
    p[0] = OP_PATH;
    p[1] = root;
    unsigned nsteps = 0;
    size_t pos = self->tok.pos;
    if (!s_next (self)) {
        return false;
    }
    while (self->tok.kind == T_DOT || self->tok.kind == T_LB) {
        if (++nsteps > S_STEPS_MAX) {
            return s_fail (self, self->tok.pos, "path longer than %d steps",
                           S_STEPS_MAX);
        }
        if (self->tok.kind == T_DOT) {
            if (!s_next (self)) {
                return false;
            }
            if (self->tok.kind != T_NAME) {
                return s_fail (self, self->tok.pos,
                               "expected a name after '.', got %s",
                               s_tok_name (self->tok.kind));
            }
            uint8_t *q = s_room (self, 3 + self->tok.len);
            if (!q) {
                return s_code_full (self);
            }
            q[0] = STEP_KEY;
            q[1] = (uint8_t) (self->tok.len >> 8);
            q[2] = (uint8_t) self->tok.len;
            memcpy (q + 3, self->text + self->tok.pos, self->tok.len);
        } else {
            size_t lb = self->tok.pos;
            if (!s_next (self)) {
                return false;
            }
            if (self->tok.kind == T_STR) {
                if (!s_emit_op (self, STEP_KEY) || !s_emit_string (self)) {
                    return false;
                }
            } else if (self->tok.kind == T_NUM) {
                const char *s = self->text + self->tok.pos;
                uint64_t v = 0;
                for (size_t i = 0; i < self->tok.len; i++) {
                    if (!s_is_digit (s[i])) {
                        return s_fail (self, self->tok.pos,
                                       "an index is a whole number >= 0");
                    }
                    v = v * 10 + (uint64_t) (s[i] - '0');
                    if (v > UINT32_MAX) {
                        return s_fail (self, self->tok.pos,
                                       "index is too large");
                    }
                }
                uint8_t *q = s_room (self, 5);
                if (!q) {
                    return s_code_full (self);
                }
                q[0] = STEP_INDEX;
                for (int i = 0; i < 4; i++) {
                    q[1 + i] = (uint8_t) (v >> (24 - 8 * i));
                }
            } else {
                return s_fail (self, self->tok.pos,
                               "expected an index or a quoted key after '['");
            }
            if (!s_next (self)) {
                return false;
            }
            if (self->tok.kind != T_RB) {
                return s_fail (self, self->tok.pos,
                               "expected ']' to close '[' at column %zu",
                               lb + 1);
            }
        }
        if (!s_next (self)) {
            return false;
        }
    }
    self->code[head + 2] = (uint8_t) nsteps;
    return s_push (self, pos);
}

/*  primary := "(" expr ")" | literal | path */
static bool
s_primary (s_parser_t *self, const char *after)
{
    s_tok_t tok = self->tok;
    const char *t = self->text + tok.pos;
    switch (tok.kind) {
        case T_LP: {
            if (++self->nest > S_NEST_MAX) {
                return s_fail (self, tok.pos, "nesting too deep (over %d)",
                               S_NEST_MAX);
            }
            if (!s_next (self) || !s_or (self, "'('")) {
                return false;
            }
            if (self->tok.kind != T_RP) {
                return s_fail (self, self->tok.pos,
                               "expected ')' to close '(' at column %zu, "
                               "got %s",
                               tok.pos + 1, s_tok_name (self->tok.kind));
            }
            self->nest--;
            return s_next (self);
        }
        case T_NUM:
            if (!s_emit_number (self) || !s_push (self, tok.pos)) {
                return false;
            }
            return s_next (self);
        case T_STR:
            if (!s_emit_op (self, OP_STR) || !s_emit_string (self) ||
                !s_push (self, tok.pos)) {
                return false;
            }
            return s_next (self);
        case T_NAME: {
            if (s_tok_is (self, "output")) {
                return s_path (self, ROOT_OUTPUT);
            }
            if (s_tok_is (self, "input")) {
                return s_path (self, ROOT_INPUT);
            }
            uint8_t op = s_tok_is (self, "true")    ? OP_TRUE
                         : s_tok_is (self, "false") ? OP_FALSE
                         : s_tok_is (self, "null")  ? OP_NULL
                                                    : 0;
            if (!op) {
                return s_fail (self, tok.pos,
                               "unknown name '%.*s' (paths start with "
                               "output or input)",
                               (int) (tok.len > 40 ? 40 : tok.len), t);
            }
            if (!s_emit_op (self, op) || !s_push (self, tok.pos)) {
                return false;
            }
            return s_next (self);
        }
        default:
            if (after) {
                return s_fail (self, tok.pos, "expected a value after %s",
                               after);
            }
            return s_fail (self, tok.pos, "expected a value, got %s",
                           s_tok_name (tok.kind));
    }
}

static uint8_t
s_cmp_op (s_tok_kind_t k)
{
    switch (k) {
        case T_EQ:
            return OP_EQ;
        case T_NE:
            return OP_NE;
        case T_LT:
            return OP_LT;
        case T_GT:
            return OP_GT;
        case T_LE:
            return OP_LE;
        case T_GE:
            return OP_GE;
        default:
            return 0;
    }
}

/*  cmp := primary ( op primary )? */
static bool
s_cmp (s_parser_t *self, const char *after)
{
    if (!s_primary (self, after)) {
        return false;
    }
    uint8_t op = s_cmp_op (self->tok.kind);
    if (!op) {
        return true;
    }
    const char *name = s_tok_name (self->tok.kind);
    if (!s_next (self) || !s_primary (self, name) || !s_emit_op (self, op)) {
        return false;
    }
    self->depth--;
    if (s_cmp_op (self->tok.kind)) {
        return s_fail (self, self->tok.pos,
                       "comparisons do not chain; use parentheses or '&&'");
    }
    return true;
}

/*  not := "!" not | cmp */
static bool
s_not (s_parser_t *self, const char *after)
{
    if (self->tok.kind != T_NOT) {
        return s_cmp (self, after);
    }
    if (++self->nest > S_NEST_MAX) {
        return s_fail (self, self->tok.pos, "nesting too deep (over %d)",
                       S_NEST_MAX);
    }
    if (!s_next (self) || !s_not (self, "'!'") || !s_emit_op (self, OP_NOT)) {
        return false;
    }
    self->nest--;
    return true;
}

/*  Parses "left (op right)*" for && (ANDJ) and || (ORJ). */
static bool
s_chain (s_parser_t *self, const char *after, s_tok_kind_t tok, uint8_t jump,
         bool (*operand) (s_parser_t *, const char *))
{
    if (!operand (self, after)) {
        return false;
    }
    while (self->tok.kind == tok) {
        size_t at = self->len;
        if (!s_emit_op (self, jump) || !s_room (self, 2)) {
            return s_code_full (self);
        }
        self->depth--;
        if (!s_next (self) || !operand (self, s_tok_name (tok)) ||
            !s_emit_op (self, OP_BOOL)) {
            return false;
        }
        size_t off = self->len - (at + 3);
        if (off > UINT16_MAX) {
            return s_code_full (self);
        }
        self->code[at + 1] = (uint8_t) (off >> 8);
        self->code[at + 2] = (uint8_t) off;
    }
    return true;
}

static bool
s_and (s_parser_t *self, const char *after)
{
    return s_chain (self, after, T_AND, OP_ANDJ, s_not);
}

static bool
s_or (s_parser_t *self, const char *after)
{
    return s_chain (self, after, T_OR, OP_ORJ, s_and);
}

shoal_err_t
shoal_expr_compile (const char *text, uint8_t *code, size_t cap, size_t *len,
                    char *err, size_t err_cap)
{
    assert (text && code && len);
    if (err && err_cap > 0) {
        err[0] = '\0';
    }
    size_t text_len = strnlen (text, SHOAL_EXPR_TEXT_MAX + 1);
    if (text_len > SHOAL_EXPR_TEXT_MAX) {
        s_errf (err, err_cap, "expression is over %d bytes",
                SHOAL_EXPR_TEXT_MAX);
        return SHOAL_ERR_TOO_LARGE;
    }
    s_parser_t self = {
        .text = text,
        .text_len = text_len,
        .code = code,
        .cap = cap < SHOAL_EXPR_CODE_MAX ? cap : SHOAL_EXPR_CODE_MAX,
        .err = err,
        .err_cap = err_cap,
    };
    uint8_t *v = s_room (&self, 1);
    if (!v) {
        s_errf (err, err_cap, "no room for the compiled program");
        return SHOAL_ERR_TOO_LARGE;
    }
    *v = S_VERSION;
    if (!s_next (&self)) {
        return SHOAL_ERR_INVALID;
    }
    if (self.tok.kind == T_END) {
        s_fail (&self, self.tok.pos, "empty expression");
        return SHOAL_ERR_INVALID;
    }
    if (!s_or (&self, NULL)) {
        return self.too_large ? SHOAL_ERR_TOO_LARGE : SHOAL_ERR_INVALID;
    }
    if (self.tok.kind == T_RP) {
        s_fail (&self, self.tok.pos, "unmatched ')'");
        return SHOAL_ERR_INVALID;
    }
    if (self.tok.kind != T_END) {
        s_fail (&self, self.tok.pos, "unexpected '%.*s' after the expression",
                (int) (self.tok.len > 20 ? 20 : self.tok.len),
                text + self.tok.pos);
        return SHOAL_ERR_INVALID;
    }
    assert (self.depth == 1);
    assert (shoal_expr_check (code, self.len) == SHOAL_OK);
    *len = self.len;
    return SHOAL_OK;
}

/* ------------------------------------------------------------------ */
/*  Evaluation                                                          */

typedef enum {
    V_NULL,
    V_BOOL,
    V_UINT,  /* u */
    V_NINT,  /* i < 0 */
    V_FLOAT, /* f */
    V_STR,   /* p, len */
    V_MAP,   /* p: the head in the document, its identity */
    V_ARRAY, /* p */
    V_OTHER  /* bin, ext: p */
} s_vtype_t;

typedef struct {
    s_vtype_t t;
    union {
        bool b;
        uint64_t u;
        int64_t i;
        double f;
    };
    const uint8_t *p;
    uint32_t len;
} s_val_t;

static bool
s_truthy (const s_val_t *v)
{
    switch (v->t) {
        case V_NULL:
            return false;
        case V_BOOL:
            return v->b;
        case V_UINT:
            return v->u != 0;
        case V_FLOAT:
            return v->f != 0.0;
        case V_STR:
            return v->len != 0;
        default:
            return true; /* negative numbers, containers, bin, ext */
    }
}

/*  -1, 0, 1, or 2 when unordered (NaN). */
#define S_UNORDERED 2

static int
s_cmp_f_u (double f, uint64_t u)
{
    if (isnan (f)) {
        return S_UNORDERED;
    }
    if (f < 0) {
        return -1;
    }
    if (f >= 18446744073709551616.0) { /* 2^64 */
        return 1;
    }
    uint64_t t = (uint64_t) f; /* exact truncation: 0 <= f < 2^64 */
    if (t != u) {
        return t < u ? -1 : 1;
    }
    return f > (double) t ? 1 : 0; /* t < 2^53 when f has a fraction */
}

static int
s_cmp_f_i (double f, int64_t i)
{
    if (isnan (f)) {
        return S_UNORDERED;
    }
    if (f >= 0) {
        return 1;
    }
    if (f < -9223372036854775808.0) { /* -2^63 */
        return -1;
    }
    int64_t t = (int64_t) f; /* toward zero: f <= t */
    if (t != i) {
        return t < i ? -1 : 1;
    }
    return f < (double) t ? -1 : 0;
}

static int
s_num_cmp (const s_val_t *a, const s_val_t *b)
{
    switch (a->t * 16 + b->t) {
        case V_UINT * 16 + V_UINT:
            return a->u < b->u ? -1 : a->u > b->u;
        case V_NINT * 16 + V_NINT:
            return a->i < b->i ? -1 : a->i > b->i;
        case V_UINT * 16 + V_NINT:
            return 1;
        case V_NINT * 16 + V_UINT:
            return -1;
        case V_FLOAT * 16 + V_UINT:
            return s_cmp_f_u (a->f, b->u);
        case V_FLOAT * 16 + V_NINT:
            return s_cmp_f_i (a->f, b->i);
        case V_UINT * 16 + V_FLOAT: {
            int r = s_cmp_f_u (b->f, a->u);
            return r == S_UNORDERED ? r : -r;
        }
        case V_NINT * 16 + V_FLOAT: {
            int r = s_cmp_f_i (b->f, a->i);
            return r == S_UNORDERED ? r : -r;
        }
        default: /* two floats */
            if (isnan (a->f) || isnan (b->f)) {
                return S_UNORDERED;
            }
            return a->f < b->f ? -1 : a->f > b->f;
    }
}

static bool
s_is_num (const s_val_t *v)
{
    return v->t == V_UINT || v->t == V_NINT || v->t == V_FLOAT;
}

static int
s_str_cmp (const s_val_t *a, const s_val_t *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int r = n ? memcmp (a->p, b->p, n) : 0;
    if (r) {
        return r < 0 ? -1 : 1;
    }
    return a->len < b->len ? -1 : a->len > b->len;
}

static bool
s_equal (const s_val_t *a, const s_val_t *b)
{
    if (s_is_num (a) && s_is_num (b)) {
        return s_num_cmp (a, b) == 0;
    }
    if (a->t != b->t) {
        return false;
    }
    switch (a->t) {
        case V_NULL:
            return true;
        case V_BOOL:
            return a->b == b->b;
        case V_STR:
            return s_str_cmp (a, b) == 0;
        default: /* containers, bin, ext: the same value in a document */
            return a->p == b->p;
    }
}

/*  The comparison of op (LT GT LE GE) between a and b: defined between
    two numbers and between two strings, false otherwise. */
static bool
s_order (uint8_t op, const s_val_t *a, const s_val_t *b)
{
    int r;
    if (s_is_num (a) && s_is_num (b)) {
        r = s_num_cmp (a, b);
        if (r == S_UNORDERED) {
            return false;
        }
    } else if (a->t == V_STR && b->t == V_STR) {
        r = s_str_cmp (a, b);
    } else {
        return false;
    }
    switch (op) {
        case OP_LT:
            return r < 0;
        case OP_GT:
            return r > 0;
        case OP_LE:
            return r <= 0;
        default:
            return r >= 0;
    }
}

/*  Walks the path at code (after OP_PATH) through doc into *out; absent
    is null. Sets *next past the path. MALFORMED if the walk meets bytes
    that are not msgpack. */
static shoal_err_t
s_resolve (const uint8_t *code, const uint8_t *doc, size_t doc_len,
           s_val_t *out, const uint8_t **next)
{
    uint8_t nsteps = code[1];
    const uint8_t *step = code + 2;
    const uint8_t *end = step;
    for (uint8_t s = 0; s < nsteps; s++) {
        end += *end == STEP_KEY ? 3 + s_get16 (end + 1) : 5;
    }
    *next = end;
    out->t = V_NULL;
    if (!doc || doc_len == 0) {
        return SHOAL_OK;
    }
    shoal_rd_t rd;
    shoal_rd_init (&rd, doc, doc_len);
    shoal_mp_val_t v;
    shoal_err_t rc;
    const uint8_t *head = rd.p;
    if ((rc = shoal_rd_next (&rd, &v))) {
        return rc;
    }
    for (uint8_t s = 0; s < nsteps; s++) {
        bool found = false;
        if (*step == STEP_KEY && v.type == SHOAL_MP_MAP) {
            const uint8_t *key = step + 3;
            uint16_t klen = s_get16 (step + 1);
            for (uint32_t k = 0; k < v.len && !found; k++) {
                shoal_mp_val_t kv;
                if ((rc = shoal_rd_next (&rd, &kv))) {
                    return rc;
                }
                if (kv.type == SHOAL_MP_ARRAY || kv.type == SHOAL_MP_MAP) {
                    return SHOAL_ERR_MALFORMED; /* keys are scalars */
                }
                found = kv.type == SHOAL_MP_STR && kv.len == klen &&
                        memcmp (kv.ptr, key, klen) == 0;
                if (!found && (rc = shoal_rd_skip (&rd, S_SKIP_DEPTH))) {
                    return rc;
                }
            }
            step += 3 + klen;
        } else if (*step == STEP_INDEX && v.type == SHOAL_MP_ARRAY) {
            uint32_t idx = s_get32 (step + 1);
            if (idx < v.len) {
                for (uint32_t k = 0; k < idx; k++) {
                    if ((rc = shoal_rd_skip (&rd, S_SKIP_DEPTH))) {
                        return rc;
                    }
                }
                found = true;
            }
            step += 5;
        }
        if (!found) {
            return SHOAL_OK; /* absent: null */
        }
        head = rd.p;
        if ((rc = shoal_rd_next (&rd, &v))) {
            return rc;
        }
    }
    switch (v.type) {
        case SHOAL_MP_NIL:
            out->t = V_NULL;
            break;
        case SHOAL_MP_BOOL:
            out->t = V_BOOL;
            out->b = v.b;
            break;
        case SHOAL_MP_UINT:
            out->t = V_UINT;
            out->u = v.u;
            break;
        case SHOAL_MP_INT:
            out->t = V_NINT;
            out->i = v.i;
            break;
        case SHOAL_MP_FLOAT:
            out->t = V_FLOAT;
            out->f = v.f;
            break;
        case SHOAL_MP_STR:
            out->t = V_STR;
            out->p = v.ptr;
            out->len = v.len;
            break;
        case SHOAL_MP_MAP:
            out->t = V_MAP;
            out->p = head;
            break;
        case SHOAL_MP_ARRAY:
            out->t = V_ARRAY;
            out->p = head;
            break;
        default:
            out->t = V_OTHER;
            out->p = head;
            break;
    }
    return SHOAL_OK;
}

shoal_err_t
shoal_expr_eval (const uint8_t *code, size_t len, const uint8_t *output,
                 size_t output_len, const uint8_t *input, size_t input_len,
                 bool *result, char *err, size_t err_cap)
{
    assert (result);
    const char *why;
    size_t at;
    if (s_check (code, len, &why, &at)) {
        s_errf (err, err_cap, "malformed program: %s at byte %zu", why, at);
        return SHOAL_ERR_MALFORMED;
    }
    /* From here on s_check's guarantees hold: operands in bounds, the
       stack within S_STACK_MAX and never below what an op pops. */
    s_val_t stack[S_STACK_MAX];
    size_t sp = 0;
    const uint8_t *pc = code + 1, *end = code + len;
    while (pc < end) {
        uint8_t op = *pc++;
        s_val_t *top = sp ? &stack[sp - 1] : NULL;
        switch (op) {
            case OP_NULL:
                stack[sp++].t = V_NULL;
                break;
            case OP_FALSE:
            case OP_TRUE:
                stack[sp].t = V_BOOL;
                stack[sp++].b = op == OP_TRUE;
                break;
            case OP_UINT:
                stack[sp].t = V_UINT;
                stack[sp++].u = s_getn (pc + 1, pc[0]);
                pc += 1 + pc[0];
                break;
            case OP_NINT:
                stack[sp].t = V_NINT;
                stack[sp++].i = (int64_t) (0 - s_getn (pc + 1, pc[0]));
                pc += 1 + pc[0];
                break;
            case OP_FLOAT: {
                uint64_t bits = s_get64 (pc);
                stack[sp].t = V_FLOAT;
                memcpy (&stack[sp++].f, &bits, sizeof bits);
                pc += 8;
                break;
            }
            case OP_STR:
                stack[sp].t = V_STR;
                stack[sp].len = s_get16 (pc);
                stack[sp].p = pc + 2;
                pc += 2 + stack[sp++].len;
                break;
            case OP_PATH: {
                bool out = pc[0] == ROOT_OUTPUT;
                shoal_err_t rc =
                    s_resolve (pc, out ? output : input,
                               out ? output_len : input_len, &stack[sp++], &pc);
                if (rc) {
                    s_errf (err, err_cap, "%s document: %s",
                            out ? "output" : "input",
                            rc == SHOAL_ERR_TOO_LARGE ? "nested too deeply"
                                                      : "malformed msgpack");
                    return SHOAL_ERR_MALFORMED;
                }
                break;
            }
            case OP_EQ:
            case OP_NE: {
                bool eq = s_equal (top - 1, top);
                sp--;
                top[-1].t = V_BOOL;
                top[-1].b = op == OP_EQ ? eq : !eq;
                break;
            }
            case OP_LT:
            case OP_GT:
            case OP_LE:
            case OP_GE: {
                bool r = s_order (op, top - 1, top);
                sp--;
                top[-1].t = V_BOOL;
                top[-1].b = r;
                break;
            }
            case OP_NOT:
            case OP_BOOL: {
                bool t = s_truthy (top);
                top->t = V_BOOL;
                top->b = op == OP_NOT ? !t : t;
                break;
            }
            default: { /* OP_ANDJ, OP_ORJ */
                bool t = s_truthy (top);
                uint16_t off = s_get16 (pc);
                pc += 2;
                if (t == (op == OP_ORJ)) {
                    top->t = V_BOOL;
                    top->b = t;
                    pc += off;
                } else {
                    sp--;
                }
                break;
            }
        }
    }
    *result = s_truthy (&stack[0]);
    return SHOAL_OK;
}
