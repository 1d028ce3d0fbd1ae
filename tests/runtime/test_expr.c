/*  test_expr.c - the condition language: truth tables for every operator
    and coercion rule, paths, precedence, short-circuit, every compile
    error with its column, check() against corrupted programs, and
    garbage (random programs, text and documents) that must not crash. */
#include "shoal_test.h"
#include "shoal_expr.h"
#include "shoal_json.h"
#include "shoal_mp.h"
#include "shoal_wr.h"

#include <math.h>

/*  The document most cases read (as output). */
static const char *s_out_json =
    "{\"s\": \"ok\", \"n\": 5, \"neg\": -3, \"f\": 2.5, \"zero\": 0,"
    " \"fzero\": 0.0, \"empty\": \"\", \"t\": true, \"no\": false,"
    " \"nil\": null, \"m\": {\"k\": \"v\", \"deep\": {\"x\": 1}},"
    " \"e\": {}, \"a\": [], \"items\": [10, {\"name\": \"b\"}, [7]],"
    " \"a b\": 1, \"q\\\"\": 2, \"true\": 3, \"null\": 4, \"u\": \"\\u00e9\","
    " \"min\": -9223372036854775808}"; /* and big: UINT64_MAX */

static const char *s_in_json = "{\"region\": \"eu\", \"dry_run\": false}";

static uint8_t s_out[1024], s_in[256];
static size_t s_out_len, s_in_len;

/*  JSON text to msgpack in buf; aborts on bad JSON (a test bug). */
static size_t
s_mp (const char *json, uint8_t *buf, size_t cap)
{
    json_error_t jerr;
    json_t *j = json_loads (json, JSON_DECODE_ANY, &jerr);
    shoal_wr_t *wr = shoal_wr_new ();
    if (!j || !wr || shoal_json_to_mp (j, wr) || shoal_wr_size (wr) > cap) {
        fprintf (stderr, "  bad test JSON %s: %s\n", json, jerr.text);
        abort ();
    }
    size_t n = shoal_wr_size (wr);
    memcpy (buf, shoal_wr_data (wr), n);
    shoal_wr_destroy (&wr);
    json_decref (j);
    return n;
}

static void
s_docs (void)
{
    if (!s_out_len) {
        /* JSON has no uint64: add "big" to the map by hand. */
        uint8_t tmp[sizeof s_out];
        size_t n = s_mp (s_out_json, tmp, sizeof tmp);
        shoal_rd_t rd;
        uint32_t pairs;
        shoal_rd_init (&rd, tmp, n);
        shoal_wr_t *wr = shoal_wr_new ();
        if (!wr || shoal_rd_map (&rd, &pairs)) {
            abort ();
        }
        shoal_wr_map (wr, pairs + 1);
        shoal_wr_raw (wr, rd.p, shoal_rd_left (&rd));
        shoal_wr_kv_uint (wr, "big", UINT64_MAX);
        s_out_len = shoal_wr_size (wr);
        memcpy (s_out, shoal_wr_data (wr), s_out_len);
        shoal_wr_destroy (&wr);
        s_in_len = s_mp (s_in_json, s_in, sizeof s_in);
    }
}

/*  1 true, 0 false, -1 compile error, -2 eval error (both printed). */
static int
s_eval_docs (const char *text, const uint8_t *out, size_t out_len,
             const uint8_t *in, size_t in_len)
{
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    size_t len;
    char err[SHOAL_EXPR_ERR_MAX];
    if (shoal_expr_compile (text, code, sizeof code, &len, err, sizeof err)) {
        fprintf (stderr, "  compile %s: %s\n", text, err);
        return -1;
    }
    if (shoal_expr_check (code, len)) {
        fprintf (stderr, "  check refuses the compiled %s\n", text);
        return -1;
    }
    bool r;
    if (shoal_expr_eval (code, len, out, out_len, in, in_len, &r, err,
                         sizeof err)) {
        fprintf (stderr, "  eval %s: %s\n", text, err);
        return -2;
    }
    return r;
}

static int
s_eval (const char *text)
{
    s_docs ();
    return s_eval_docs (text, s_out, s_out_len, s_in, s_in_len);
}

/*  Each row: an expression and its expected result (1 or 0). */
typedef struct {
    const char *text;
    int want;
} s_row_t;

#define CHECK_TABLE(rows)                                                      \
    do {                                                                       \
        for (size_t r_ = 0; r_ < sizeof (rows) / sizeof (rows)[0]; r_++) {     \
            int got_ = s_eval ((rows)[r_].text);                               \
            if (got_ != (rows)[r_].want) {                                     \
                SHOAL_FAIL_ ("%s: got %d, want %d", (rows)[r_].text, got_,     \
                             (rows)[r_].want);                                 \
            }                                                                  \
        }                                                                      \
    } while (0)

SHOAL_TEST (expr_truthiness)
{
    static const s_row_t rows[] = {
        {"true", 1},
        {"false", 0},
        {"null", 0},
        {"0", 0},
        {"1", 1},
        {"-1", 1},
        {"0.0", 0},
        {"-0.0", 0},
        {"-0", 0},
        {"0e5", 0},
        {"0.001", 1},
        {"\"\"", 0},
        {"\"a\"", 1},
        {"\"0\"", 1},
        {"\"false\"", 1},
        {"output", 1},
        {"output.s", 1},
        {"output.n", 1},
        {"output.neg", 1},
        {"output.zero", 0},
        {"output.fzero", 0},
        {"output.empty", 0},
        {"output.t", 1},
        {"output.no", 0},
        {"output.nil", 0},
        {"output.missing", 0},
        {"output.e", 1},
        {"output.a", 1},
        {"input.dry_run", 0},
        {"!input.dry_run", 1},
        {"!output.e", 0},
        {"!output.nil", 1},
        {"!!output.s", 1},
        {"!\"\"", 1},
        {"!0", 1},
        {"!-0.5", 0},
    };
    CHECK_TABLE (rows);
}

SHOAL_TEST (expr_number_equality)
{
    static const s_row_t rows[] = {
        {"1 == 1", 1},
        {"1 == 1.0", 1},
        {"1.0 == 1", 1},
        {"1 == 1e0", 1},
        {"100 == 1e2", 1},
        {"-1 == -1.0", 1},
        {"-1 == 1", 0},
        {"1 != 1.5", 1},
        {"output.n == 5", 1},
        {"output.n == 5.0", 1},
        {"output.n != 5", 0},
        {"output.neg == -3", 1},
        {"output.neg == -3.0", 1},
        {"output.f == 2.5", 1},
        {"output.f == 25e-1", 1},
        {"output.zero == 0", 1},
        {"output.zero == -0.0", 1},
        {"output.fzero == 0", 1},
        {"output.big == 18446744073709551615", 1},
        {"output.big == 18446744073709551614", 0},
        /* 2^64 as a double is one more than the largest uint64 */
        {"output.big == 1.8446744073709552e19", 0},
        {"output.big != 1.8446744073709552e19", 1},
        {"output.min == -9223372036854775808", 1},
        {"output.min == -9223372036854775807", 0},
        {"output.min == -9.223372036854775808e18", 1},
        /* 2^53 + 1 has no double: the integers must not round */
        {"9007199254740993 == 9007199254740992.0", 0},
        {"9007199254740992 == 9007199254740992.0", 1},
        {"-9007199254740993 == -9007199254740992.0", 0},
        /* beyond 64 bits a literal is the nearest double */
        {"99999999999999999999 == 1e20", 1},
        {"-99999999999999999999 == -1e20", 1},
    };
    CHECK_TABLE (rows);
}

SHOAL_TEST (expr_number_order)
{
    static const s_row_t rows[] = {
        {"1 < 2", 1},
        {"2 < 1", 0},
        {"1 < 1", 0},
        {"1 <= 1", 1},
        {"1 >= 1", 1},
        {"2 > 1", 1},
        {"1 > 2", 0},
        {"-1 < 0", 1},
        {"-1 < 1", 1},
        {"1 > -1", 1},
        {"-2 < -1", 1},
        {"-1 > -2", 1},
        {"0.5 > 0", 1},
        {"0.5 < 1", 1},
        {"-0.5 < 0", 1},
        {"-0.5 > -1", 1},
        {"-1.5 < -1", 1},
        {"1.5 > 1", 1},
        {"1 < 1.5", 1},
        {"1 <= 1.0", 1},
        {"1 >= 1.0", 1},
        {"-1 >= -1.0", 1},
        {"-1 < -0.5", 1},
        {"output.big > 1e19", 1},
        {"output.big < 1.8446744073709552e19", 1},
        {"1.8446744073709552e19 > output.big", 1},
        {"output.big > -1", 1},
        {"output.min < -9.2e18", 1},
        {"output.min > -1e300", 1},
        {"output.min <= -9.223372036854775808e18", 1},
        {"output.min < output.big", 1},
        {"9007199254740993 > 9007199254740992.0", 1},
        {"-9007199254740993 < -9007199254740992.0", 1},
        {"1e300 > output.big", 1},
        {"-1e300 < output.min", 1},
        {"output.n > 4.99", 1},
        {"output.n < 5.01", 1},
        {"output.neg < -2.5", 1},
        {"output.f >= 2", 1},
        {"output.f <= 3", 1},
    };
    CHECK_TABLE (rows);
}

/*  NaN comes only from documents: unordered, unequal even to itself. */
SHOAL_TEST (expr_nan)
{
    uint8_t doc[32];
    shoal_wr_t *wr = shoal_wr_new ();
    CHECK (wr);
    shoal_wr_map (wr, 2);
    shoal_wr_kv_uint (wr, "one", 1);
    shoal_wr_str (wr, "nan");
    shoal_wr_double (wr, NAN);
    size_t n = shoal_wr_size (wr);
    memcpy (doc, shoal_wr_data (wr), n);
    shoal_wr_destroy (&wr);
    const char *no[] = {"output.nan == output.nan", "output.nan < 1",
                        "output.nan > 1",           "output.nan <= 1",
                        "output.nan >= 1",          "output.nan == 1",
                        "output.one < output.nan",  "output.nan >= -1"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        CHECK_EQ (s_eval_docs (no[i], doc, n, NULL, 0), 0);
    }
    CHECK_EQ (s_eval_docs ("output.nan != output.nan", doc, n, NULL, 0), 1);
    CHECK_EQ (s_eval_docs ("output.nan", doc, n, NULL, 0), 1);
    CHECK_EQ (s_eval_docs ("!(output.nan < 1)", doc, n, NULL, 0), 1);
}

SHOAL_TEST (expr_strings)
{
    static const s_row_t rows[] = {
        {"\"a\" == \"a\"", 1},
        {"\"a\" == \"b\"", 0},
        {"\"a\" != \"b\"", 1},
        {"\"a\" == \"A\"", 0},
        {"\"\" == \"\"", 1},
        {"\"a\" < \"b\"", 1},
        {"\"a\" < \"aa\"", 1},
        {"\"aa\" > \"a\"", 1},
        {"\"\" < \"a\"", 1},
        {"\"Z\" < \"a\"", 1},
        {"\"b\" >= \"b\"", 1},
        {"\"b\" <= \"a\"", 0},
        {"\"10\" < \"9\"", 1},   /* bytewise, not numeric */
        {"output.u > \"z\"", 1}, /* UTF-8 bytes */
        {"output.s == \"ok\"", 1},
        {"\"ok\" == output.s", 1},
        {"output.s != \"ok \"", 1},
        {"output.u == \"\\u00e9\"", 1},
        {"output.u == \"\\u00E9\"", 1},
        {"output.u == \"\xc3\xa9\"", 1},
        {"\"\\\"\\\\\" == \"\\u0022\\u005c\"", 1},
        {"\"\\n\\t\\r\\b\\f\\/\" == \"\\u000a\\u0009\\u000d\\u0008\\u000c/\"",
         1},
        {"\"\\ud83d\\ude00\" == \"\xf0\x9f\x98\x80\"", 1},
        {"\"\\u20ac\" == \"\xe2\x82\xac\"", 1},
        {"\"a\\u0000b\" != \"a\"", 1},
        {"\"a\\u0000b\" > \"a\"", 1},
        {"\"a\\u0000b\" < \"a\\u0000c\"", 1},
    };
    CHECK_TABLE (rows);
}

/*  No implicit conversion: a pair of different types is unequal and
    unordered. */
SHOAL_TEST (expr_mixed_types)
{
    static const s_row_t rows[] = {
        {"\"1\" == 1", 0},
        {"\"1\" != 1", 1},
        {"1 == \"1\"", 0},
        {"true == 1", 0},
        {"false == 0", 0},
        {"false == null", 0},
        {"null == null", 1},
        {"null != null", 0},
        {"\"\" == null", 0},
        {"0 == null", 0},
        {"output.missing == null", 1},
        {"output.nil == null", 1},
        {"output.missing == output.nil", 1},
        {"true == true", 1},
        {"true != false", 1},
        {"output.t == true", 1},
        {"output.no == false", 1},
        {"\"a\" < 1", 0},
        {"\"a\" > 1", 0},
        {"\"a\" <= 1", 0},
        {"\"a\" >= 1", 0},
        {"!(\"a\" < 1)", 1},
        {"!(\"a\" >= 1)", 1},
        {"true > false", 0},
        {"true >= true", 0},
        {"null < 1", 0},
        {"null <= null", 0},
        {"null >= null", 0},
        {"output.missing < 1", 0},
        {"output.missing >= 0", 0},
        {"output.s > 1", 0},
    };
    CHECK_TABLE (rows);
}

SHOAL_TEST (expr_containers)
{
    static const s_row_t rows[] = {
        {"output.m == output.m", 1},
        {"output.m == output[\"m\"]", 1},
        {"output.m != output.m", 0},
        {"output.e == output.m", 0},
        {"output.items[2] == output.items[2]", 1},
        {"output.items[1] == output.items[2]", 0},
        {"output.e == null", 0},
        {"output.a == null", 0},
        {"output.e != null", 1},
        {"output.e == \"\"", 0},
        {"output.a == 0", 0},
        {"output.a == false", 0},
        {"output.e == output.a", 0},
        {"output.m > output.m", 0},
        {"output.m >= output.m", 0},
        {"output.a < 1", 0},
        {"output == output", 1},
        {"input == input", 1},
        {"output != input", 1},
    };
    CHECK_TABLE (rows);
}

SHOAL_TEST (expr_paths)
{
    static const s_row_t rows[] = {
        {"output.m.k == \"v\"", 1},
        {"output.m.deep.x == 1", 1},
        {"output[\"m\"][\"deep\"][\"x\"] == 1", 1},
        {"output.m[\"deep\"].x == 1", 1},
        {"output . m . k == \"v\"", 1},
        {"output.items[0] == 10", 1},
        {"output.items[1].name == \"b\"", 1},
        {"output.items[2][0] == 7", 1},
        {"output.items[3] == null", 1},
        {"output.items[4294967295] == null", 1},
        {"output.items.name == null", 1}, /* a key on an array */
        {"output.m[0] == null", 1},       /* an index on a map */
        {"output.s.x == null", 1},        /* through a string */
        {"output.n[0] == null", 1},       /* through a number */
        {"output.nil.x == null", 1},
        {"output.missing.x.y.z == null", 1},
        {"output[\"a b\"] == 1", 1},
        {"output[\"q\\\"\"] == 2", 1},
        {"output.true == 3", 1},
        {"output.null == 4", 1},
        {"output[\"true\"] == 3", 1},
        {"output[\"\"] == null", 1},
        {"output.S == null", 1}, /* keys are case-sensitive */
        {"input.region == \"eu\"", 1},
        {"input.region != \"us\"", 1},
        {"input.s == null", 1},
        {"input.dry_run == false", 1},
    };
    CHECK_TABLE (rows);
    /* Absent documents are null; a scalar document is a value. */
    uint8_t five = 0x05;
    CHECK_EQ (s_eval_docs ("output == null", NULL, 0, NULL, 0), 1);
    CHECK_EQ (s_eval_docs ("output.x == null", NULL, 0, NULL, 0), 1);
    CHECK_EQ (s_eval_docs ("input", s_out, s_out_len, &five, 0), 0);
    CHECK_EQ (s_eval_docs ("output == 5", &five, 1, NULL, 0), 1);
    CHECK_EQ (s_eval_docs ("input == 5", NULL, 0, &five, 1), 1);
    CHECK_EQ (s_eval_docs ("output.x == null", &five, 1, NULL, 0), 1);
    CHECK_EQ (s_eval_docs ("output[0] == null", &five, 1, NULL, 0), 1);
}

SHOAL_TEST (expr_precedence)
{
    static const s_row_t rows[] = {
        {"true || false && false", 1},
        {"(true || false) && false", 0},
        {"false && false || true", 1},
        {"false && (false || true)", 0},
        {"!false && false", 0},
        {"!(false && false)", 1},
        {"!true || true", 1},
        {"!(true || true)", 0},
        /* ! applies to the whole comparison after it */
        {"!output.n == 5", 0},
        {"!output.n == 4", 1},
        {"(!output.n) == false", 1},
        {"!!output.n == 5", 1},
        {"1 < 2 && 2 < 3", 1},
        {"1 < 2 && 3 < 2", 0},
        {"1 > 2 || 2 > 1", 1},
        {"(1 < 2) == true", 1},
        {"(1 < 2) == (2 < 3)", 1},
        {"((((true))))", 1},
        {"true && true && true && false", 0},
        {"false || false || false || true", 1},
        {"(true && false) || (false || true) && !false", 1},
        {"output.s == \"ok\" && output.n > 1 && input.region != \"us\"", 1},
        {"!(input.dry_run) || output.items[0] >= 1", 1},
    };
    CHECK_TABLE (rows);
}

/*  && || short-circuit (a malformed document is never read when the
    right side is skipped), and always give true or false. */
SHOAL_TEST (expr_short_circuit)
{
    static const s_row_t rows[] = {
        {"false && output.s.x.y", 0},
        {"true || output.s.x.y", 1},
        {"(output.s && output.n) == true", 1},
        {"(output.s && output.zero) == false", 1},
        {"(output.zero || \"x\") == true", 1},
        {"(output.zero || \"\") == false", 1},
        {"(output.s || output.nil) == true", 1},
        {"(output.nil && output.s) == false", 1},
        {"(output.s && output.n) == 5", 0},
        {"(output.s || output.n) == \"ok\"", 0},
    };
    CHECK_TABLE (rows);
    uint8_t bad[] = {0x81, 0xa1, 'x', 0xc1}; /* {x: <reserved byte>} */
    CHECK_EQ (s_eval_docs ("false && output.x", bad, sizeof bad, NULL, 0), 0);
    CHECK_EQ (s_eval_docs ("true || output.x", bad, sizeof bad, NULL, 0), 1);
    CHECK_EQ (s_eval_docs ("input.x || false", bad, sizeof bad, NULL, 0), 0);
    CHECK_EQ (s_eval_docs ("true && output.x", bad, sizeof bad, NULL, 0), -2);
}

SHOAL_TEST (expr_malformed_documents)
{
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    size_t len;
    char err[SHOAL_EXPR_ERR_MAX];
    bool r;
    CHECK_OK (shoal_expr_compile ("output.z == 1 || input.z == 1", code,
                                  sizeof code, &len, err, sizeof err));
    uint8_t reserved[] = {0x81, 0xa1, 'z', 0xc1};
    uint8_t truncated[] = {0x82, 0xa1, 'a', 0x01}; /* a second pair missing */
    uint8_t short_str[] = {0x81, 0xa5, 'z'};
    uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff}; /* 4G pairs */
    uint8_t map_key[] = {0x81, 0x80, 0x01};
    struct {
        const uint8_t *p;
        size_t n;
    } docs[] = {{reserved, sizeof reserved},   {truncated, sizeof truncated},
                {short_str, sizeof short_str}, {huge, sizeof huge},
                {map_key, sizeof map_key},     {reserved, 0 + 1}};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        err[0] = '\0';
        CHECK_RC (shoal_expr_eval (code, len, docs[i].p, docs[i].n, NULL, 0, &r,
                                   err, sizeof err),
                  SHOAL_ERR_MALFORMED);
        CHECK_STR (err, "output document: malformed msgpack");
        CHECK_RC (shoal_expr_eval (code, len, NULL, 0, docs[i].p, docs[i].n, &r,
                                   err, sizeof err),
                  SHOAL_ERR_MALFORMED);
        CHECK_STR (err, "input document: malformed msgpack");
    }
    /* A value nested past what the walk skips: [[[...]]] then z. */
    uint8_t deep[160];
    size_t n = 0;
    deep[n++] = 0x82;
    deep[n++] = 0xa1;
    deep[n++] = 'a';
    for (int i = 0; i < 100; i++) {
        deep[n++] = 0x91;
    }
    deep[n++] = 0x01;
    deep[n++] = 0xa1;
    deep[n++] = 'z';
    deep[n++] = 0x01;
    CHECK_RC (
        shoal_expr_eval (code, len, deep, n, NULL, 0, &r, err, sizeof err),
        SHOAL_ERR_MALFORMED);
    CHECK_STR (err, "output document: nested too deeply");
    /* Trailing bytes after the document's one value are not read. */
    uint8_t trailing[] = {0x81, 0xa1, 'z', 0x01, 0xc1};
    CHECK_OK (shoal_expr_eval (code, len, trailing, sizeof trailing, NULL, 0,
                               &r, err, sizeof err));
    CHECK (r);
}

/*  Every compile error: code, column and wording. */
SHOAL_TEST (expr_compile_errors)
{
    static const struct {
        const char *text;
        const char *err;
    } rows[] = {
        {"", "column 1: empty expression"},
        {"   ", "column 4: empty expression"},
        {"output.s == \"ok\" &&", "column 20: expected a value after '&&'"},
        {"output.a ||  ", "column 14: expected a value after '||'"},
        {"output.a == ", "column 13: expected a value after '=='"},
        {"output.a != )", "column 13: expected a value after '!='"},
        {"1 <", "column 4: expected a value after '<'"},
        {"1 >=", "column 5: expected a value after '>='"},
        {"!", "column 2: expected a value after '!'"},
        {"()", "column 2: expected a value after '('"},
        {")", "column 1: expected a value, got ')'"},
        {"&& true", "column 1: expected a value, got '&&'"},
        {"outptu.status == 1",
         "column 1: unknown name 'outptu' (paths start with output or input)"},
        {"true && Output.x",
         "column 9: unknown name 'Output' (paths start with output or input)"},
        {"TRUE", "column 1: unknown name 'TRUE' (paths start with output or "
                 "input)"},
        {"output.s == \"ok", "column 13: unterminated string"},
        {"\"abc\\", "column 1: unterminated string"},
        {"\"a\nb\"", "column 3: control character in a string (write \\n, \\t "
                     "or \\u00XX)"},
        {"\"\\x41\"", "column 2: unknown escape '\\x' in a string"},
        {"\"\\u12\"", "column 2: '\\u' needs four hex digits"},
        {"\"\\u12g4\"", "column 2: '\\u' needs four hex digits"},
        {"\"ab\\udc00\"", "column 4: '\\u' escape is a lone surrogate"},
        {"\"\\ud800x\"", "column 2: '\\u' escape is a lone surrogate"},
        {"\"\\ud800\\u0041\"", "column 2: '\\u' escape is a lone surrogate"},
        {"output.n == 01", "column 13: bad number '01'"},
        {"output.n == 1.", "column 13: bad number '1.'"},
        {"output.n == 1.5.2", "column 13: bad number '1.5.2'"},
        {"output.n == 1e", "column 13: bad number '1e'"},
        {"output.n == 1e+", "column 13: bad number '1e+'"},
        {"output.n == 12abc", "column 13: bad number '12abc'"},
        {"output.n == -", "column 13: bad number '-'"},
        {"output.n == -x", "column 13: bad number '-x'"},
        {"output.n == .5", "column 13: expected a value after '=='"},
        {"output.n == 1e999", "column 13: number '1e999' is out of range"},
        {"output.n == -1e999", "column 13: number '-1e999' is out of range"},
        {"output.a == 1 output.b",
         "column 15: unexpected 'output' after the expression"},
        {"true false", "column 6: unexpected 'false' after the expression"},
        {"(true))", "column 7: unmatched ')'"},
        {"(true", "column 6: expected ')' to close '(' at column 1, got the "
                  "end"},
        {"((true) ]", "column 9: expected ')' to close '(' at column 1, got "
                      "']'"},
        {"1 == 2 == 3",
         "column 8: comparisons do not chain; use parentheses or '&&'"},
        {"output.a = 1", "column 10: '=' is not an operator (did you mean "
                         "'=='?)"},
        {"true & false", "column 6: '&' is not an operator (did you mean "
                         "'&&'?)"},
        {"true | false", "column 6: '|' is not an operator (did you mean "
                         "'||'?)"},
        {"output.", "column 8: expected a name after '.', got the end"},
        {"output.1", "column 8: expected a name after '.', got a number"},
        {"output.\"a\"", "column 8: expected a name after '.', got a string"},
        {"output[", "column 8: expected an index or a quoted key after '['"},
        {"output[x]", "column 8: expected an index or a quoted key after '['"},
        {"output[-1]", "column 8: an index is a whole number >= 0"},
        {"output[1.5]", "column 8: an index is a whole number >= 0"},
        {"output[1e3]", "column 8: an index is a whole number >= 0"},
        {"output[4294967296]", "column 8: index is too large"},
        {"output[0", "column 9: expected ']' to close '[' at column 7"},
        {"output[\"a\" 1]", "column 12: expected ']' to close '[' at column 7"},
        {"output.a # 1", "column 10: unexpected character '#'"},
        {"output.a == 'x'", "column 13: unexpected character '''"},
        {"output.a == \x01", "column 13: unexpected byte 0x01"},
        {"output.a == \xc3\xa9", "column 13: unexpected byte 0xc3"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t code[SHOAL_EXPR_CODE_MAX];
        size_t len = 77;
        char err[SHOAL_EXPR_ERR_MAX] = "";
        shoal_err_t rc = shoal_expr_compile (rows[i].text, code, sizeof code,
                                             &len, err, sizeof err);
        if (rc != SHOAL_ERR_INVALID || strcmp (err, rows[i].err) != 0) {
            SHOAL_FAIL_ ("%s: rc %d, err \"%s\", want \"%s\"", rows[i].text, rc,
                         err, rows[i].err);
        }
        CHECK_EQ (len, 77); /* untouched on failure */
    }
}

static shoal_err_t
s_compile (const char *text, char *err)
{
    uint8_t code[SHOAL_EXPR_CODE_MAX];
    size_t len;
    err[0] = '\0';
    return shoal_expr_compile (text, code, sizeof code, &len, err,
                               SHOAL_EXPR_ERR_MAX);
}

SHOAL_TEST (expr_compile_limits)
{
    static char text[SHOAL_EXPR_TEXT_MAX + 64];
    char err[SHOAL_EXPR_ERR_MAX];
    /* Text: exactly the maximum is fine, one more byte is too large. */
    memset (text, ' ', SHOAL_EXPR_TEXT_MAX);
    text[0] = '1';
    text[SHOAL_EXPR_TEXT_MAX] = '\0';
    CHECK_OK (s_compile (text, err));
    text[SHOAL_EXPR_TEXT_MAX] = ' ';
    text[SHOAL_EXPR_TEXT_MAX + 1] = '\0';
    CHECK_RC (s_compile (text, err), SHOAL_ERR_TOO_LARGE);
    CHECK_STR (err, "expression is over 2048 bytes");
    /* Nesting: 64 levels of "(" or "!" compile, 65 do not. */
    for (int deep = 64; deep <= 65; deep++) {
        size_t n = 0;
        for (int i = 0; i < deep; i++) {
            text[n++] = '(';
        }
        text[n++] = '1';
        for (int i = 0; i < deep; i++) {
            text[n++] = ')';
        }
        text[n] = '\0';
        CHECK_RC (s_compile (text, err),
                  deep == 64 ? SHOAL_OK : SHOAL_ERR_INVALID);
        memset (text, '!', (size_t) deep);
        text[deep] = '1';
        text[deep + 1] = '\0';
        CHECK_RC (s_compile (text, err),
                  deep == 64 ? SHOAL_OK : SHOAL_ERR_INVALID);
    }
    CHECK_STR (err, "column 65: nesting too deep (over 64)");
    /* The value stack: 1 == (1 == (...)) holds one value per level. */
    for (int deep = 31; deep <= 32; deep++) {
        size_t n = 0;
        for (int i = 0; i < deep; i++) {
            memcpy (text + n, "1 == (", 6);
            n += 6;
        }
        text[n++] = '1';
        memset (text + n, ')', (size_t) deep);
        text[n + (size_t) deep] = '\0';
        CHECK_RC (s_compile (text, err),
                  deep == 31 ? SHOAL_OK : SHOAL_ERR_INVALID);
    }
    CHECK_STR (err, "column 193: expression too deeply nested");
    /* A path of 255 steps compiles; 256 do not. */
    strcpy (text, "output");
    for (int i = 0; i < 256; i++) {
        strcat (text, "[0]");
    }
    CHECK_RC (s_compile (text, err), SHOAL_ERR_INVALID);
    CHECK_STR (err, "column 772: path longer than 255 steps");
    text[strlen (text) - 3] = '\0';
    CHECK_OK (s_compile (text, err));
    /* The code buffer: too small is TOO_LARGE. */
    uint8_t code[16];
    size_t len;
    CHECK_RC (shoal_expr_compile ("output.status == \"a long string\"", code,
                                  sizeof code, &len, err, sizeof err),
              SHOAL_ERR_TOO_LARGE);
    CHECK_STR (err, "column 18: the compiled program is over 16 bytes");
    CHECK_RC (shoal_expr_compile ("1", code, 0, &len, err, sizeof err),
              SHOAL_ERR_TOO_LARGE);
    CHECK_RC (shoal_expr_compile ("true", code, 2, &len, err, sizeof err),
              SHOAL_OK);
    CHECK_EQ (len, 2);
    /* A small err buffer is truncated, never overrun; NULL is fine. */
    char tiny[8];
    CHECK_RC (shoal_expr_compile ("outptu", code, sizeof code, &len, tiny,
                                  sizeof tiny),
              SHOAL_ERR_INVALID);
    CHECK_STR (tiny, "column ");
    CHECK_RC (shoal_expr_compile ("outptu", code, sizeof code, &len, NULL, 0),
              SHOAL_ERR_INVALID);
}

/*  Hand-made programs (byte 0 is the version, 1). */
SHOAL_TEST (expr_check_rejects)
{
    static const struct {
        uint8_t code[24];
        size_t len;
        const char *why;
    } bad[] = {
        {{0}, 0, "too short"},
        {{1}, 1, "too short"},
        {{2, 0x03}, 2, "unknown version"},
        {{1, 0x7f}, 2, "unknown opcode"},
        {{1, 0x00}, 2, "unknown opcode"},
        {{1, 0x04, 0, 0}, 4, "bad integer size"},
        {{1, 0x04, 9, 0}, 4, "bad integer size"},
        {{1, 0x04}, 2, "truncated operand"},
        {{1, 0x04, 2, 0}, 4, "truncated operand"},
        {{1, 0x05, 1, 0}, 4, "NINT out of range"},
        {{1, 0x05, 8, 0x80, 0, 0, 0, 0, 0, 0, 1}, 11, "NINT out of range"},
        {{1, 0x06, 0, 0, 0}, 5, "truncated operand"},
        {{1, 0x07, 0, 5, 'a', 'b'}, 6, "truncated operand"},
        {{1, 0x08, 2, 0}, 4, "unknown path root"},
        {{1, 0x08, 0, 1, 3, 0}, 6, "unknown path step"},
        {{1, 0x08, 0, 1, 1, 0, 9, 'a'}, 8, "truncated operand"},
        {{1, 0x08, 0, 2, 2, 0, 0, 0, 1}, 9, "truncated operand"},
        {{1, 0x10}, 2, "stack underflow"},
        {{1, 0x03, 0x10}, 3, "stack underflow"},
        {{1, 0x18}, 2, "stack underflow"},
        {{1, 0x20, 0, 0}, 4, "stack underflow"},
        {{1, 0x03, 0x03}, 3, "does not end with one value"},
        {{1, 0x03, 0x20, 0, 0}, 5, "jump target with another stack depth"},
        {{1, 0x03, 0x20, 0}, 4, "truncated operand"},
        {{1, 0x03, 0x20, 0, 9, 0x03, 0x19}, 7, "jump out of the program"},
        /* lands inside the UINT's operand */
        {{1, 0x03, 0x20, 0, 2, 0x04, 1, 7, 0x19},
         9,
         "jump into an instruction"},
        /* the jumping path arrives with one value more than the other */
        {{1, 0x03, 0x20, 0, 2, 0x03, 0x03, 0x10},
         8,
         "jump target with another stack depth"},
        /* an inner jump that lands beyond the outer one */
        {{1, 0x03, 0x20, 0, 4, 0x03, 0x21, 0, 2, 0x03, 0x19, 0x19},
         12,
         "jumps not nested"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC (shoal_expr_check (bad[i].code, bad[i].len),
                  SHOAL_ERR_MALFORMED);
        char err[SHOAL_EXPR_ERR_MAX] = "";
        bool r;
        CHECK_RC (shoal_expr_eval (bad[i].code, bad[i].len, NULL, 0, NULL, 0,
                                   &r, err, sizeof err),
                  SHOAL_ERR_MALFORMED);
        if (!strstr (err, bad[i].why)) {
            SHOAL_FAIL_ ("case %zu: err \"%s\", want \"%s\"", i, err,
                         bad[i].why);
        }
    }
    CHECK_RC (shoal_expr_check (NULL, 5), SHOAL_ERR_MALFORMED);
    static uint8_t huge[SHOAL_EXPR_CODE_MAX + 1];
    huge[0] = 1;
    CHECK_RC (shoal_expr_check (huge, sizeof huge), SHOAL_ERR_MALFORMED);
    /* 32 values fit the stack (then 31 comparisons), 33 do not. */
    uint8_t code[80];
    for (int values = 32; values <= 33; values++) {
        size_t n = 0;
        code[n++] = 1;
        for (int i = 0; i < values; i++) {
            code[n++] = 0x03;
        }
        for (int i = 1; i < values; i++) {
            code[n++] = 0x10;
        }
        CHECK_RC (shoal_expr_check (code, n),
                  values == 32 ? SHOAL_OK : SHOAL_ERR_MALFORMED);
    }
}

/*  The stored form is a format: these bytes must keep their meaning. */
SHOAL_TEST (expr_code_format)
{
    static const struct {
        const char *text;
        uint8_t code[32];
        size_t len;
    } rows[] = {
        {"true", {1, 0x03}, 2},
        {"output.a == 1", {1, 0x08, 0, 1, 1, 0, 1, 'a', 0x04, 1, 1, 0x10}, 12},
        {"input[2] != -300",
         {1, 0x08, 1, 1, 2, 0, 0, 0, 2, 0x05, 2, 0x01, 0x2c, 0x11},
         14},
        {"!(\"x\" < null)", {1, 0x07, 0, 1, 'x', 0x01, 0x12, 0x18}, 8},
        {"false && 0.5 || true",
         {1, 0x02, 0x20, 0, 10,   0x06, 0x3f, 0xe0, 0,    0,
          0, 0,    0,    0, 0x19, 0x21, 0,    2,    0x03, 0x19},
         20},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t code[SHOAL_EXPR_CODE_MAX];
        size_t len;
        CHECK_OK (shoal_expr_compile (rows[i].text, code, sizeof code, &len,
                                      NULL, 0));
        if (len != rows[i].len || memcmp (code, rows[i].code, len) != 0) {
            SHOAL_FAIL_ ("%s: compiled form differs (len %zu)", rows[i].text,
                         len);
        }
    }
}

/*  The worst texts per byte still fit SHOAL_EXPR_CODE_MAX. */
SHOAL_TEST (expr_code_max_suffices)
{
    static const char *const units[] = {"0.1&&",  "1&&",   "1||",      "-1||",
                                        "\"\"&&", "1<1&&", "1.5e300||"};
    static char text[SHOAL_EXPR_TEXT_MAX + 1];
    static uint8_t code[SHOAL_EXPR_CODE_MAX];
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t n = 0, ulen = strlen (units[u]);
        while (n + ulen + 3 <= SHOAL_EXPR_TEXT_MAX) {
            memcpy (text + n, units[u], ulen);
            n += ulen;
        }
        memcpy (text + n, "1", 2);
        size_t len;
        char err[SHOAL_EXPR_ERR_MAX] = "";
        shoal_err_t rc =
            shoal_expr_compile (text, code, sizeof code, &len, err, sizeof err);
        if (rc != SHOAL_OK) {
            SHOAL_FAIL_ ("%s...: %s", units[u], err);
        }
        CHECK (len <= 3 * strlen (text) + 1);
        bool r;
        CHECK_OK (shoal_expr_eval (code, len, NULL, 0, NULL, 0, &r, NULL, 0));
    }
}

/*  xorshift64*: a fixed seed, so a failure replays. */
static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/*  Random and mutated programs: check and eval agree, nothing crashes
    (the ASan build runs this too). */
SHOAL_TEST (expr_garbage_programs)
{
    s_docs ();
    static const uint8_t ops[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                  0x07, 0x08, 0x10, 0x13, 0x18, 0x19,
                                  0x20, 0x21, 0x00, 0xff};
    uint64_t seed = 0x5eed5eed12345678ull;
    uint8_t code[96];
    int accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = 1 + s_rand (&seed) % sizeof code;
        for (size_t i = 0; i < len; i++) {
            uint64_t r = s_rand (&seed);
            code[i] = r % 3 ? ops[(r >> 8) % sizeof ops] : (uint8_t) (r >> 16);
            if (r % 5 == 0) {
                code[i] = (uint8_t) (r >> 24) % 4; /* small operands */
            }
        }
        if (s_rand (&seed) % 8) {
            code[0] = 1;
        }
        shoal_err_t ck = shoal_expr_check (code, len);
        bool r;
        char err[SHOAL_EXPR_ERR_MAX];
        shoal_err_t ev = shoal_expr_eval (code, len, s_out, s_out_len, s_in,
                                          s_in_len, &r, err, sizeof err);
        CHECK_EQ (ck, ck ? SHOAL_ERR_MALFORMED : SHOAL_OK);
        CHECK_EQ (ev, ck);
        accepted += ck == SHOAL_OK;
    }
    CHECK (accepted > 100); /* the generator reaches valid programs */
    /* Every byte of real programs set to every value. */
    static const char *const texts[] = {
        "output.s == \"ok\" && output.n > 100 || !(input.region != \"eu\")",
        "output.items[1][\"name\"] >= -5 || output.f < 2.5 && null",
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        uint8_t good[SHOAL_EXPR_CODE_MAX];
        size_t len;
        CHECK_OK (
            shoal_expr_compile (texts[t], good, sizeof good, &len, NULL, 0));
        for (size_t i = 0; i < len; i++) {
            for (int b = 0; b < 256; b++) {
                uint8_t bad[SHOAL_EXPR_CODE_MAX];
                memcpy (bad, good, len);
                bad[i] = (uint8_t) b;
                bool r;
                shoal_err_t ck = shoal_expr_check (bad, len);
                shoal_err_t ev = shoal_expr_eval (bad, len, s_out, s_out_len,
                                                  s_in, s_in_len, &r, NULL, 0);
                CHECK_EQ (ev, ck);
            }
            bool r; /* and every prefix */
            CHECK_EQ (shoal_expr_eval (good, i, NULL, 0, NULL, 0, &r, NULL, 0),
                      shoal_expr_check (good, i));
        }
    }
}

/*  Random text: compile either succeeds with a program check accepts
    and eval runs, or fails with "column N: ...". */
SHOAL_TEST (expr_garbage_text)
{
    s_docs ();
    static const char *const toks[] = {
        "output", "input", ".",  "[",  "]", "(",    ")",    "!",
        "&&",     "||",    "==", "!=", "<", ">=",   "\"",   "\\",
        "0",      "1",     "-",  "e",  "a", "true", "null", " ",
        "2.5",    "\"s\"", "&",  "=",  "u", "\n",   "#",    "\xff"};
    uint64_t seed = 42;
    char text[256];
    int compiled = 0;
    for (int iter = 0; iter < 100000; iter++) {
        size_t n = 0, ntok = 1 + s_rand (&seed) % 24;
        for (size_t k = 0; k < ntok; k++) {
            const char *tk =
                toks[s_rand (&seed) % (sizeof toks / sizeof *toks)];
            size_t tl = strlen (tk);
            if (n + tl >= sizeof text) {
                break;
            }
            memcpy (text + n, tk, tl);
            n += tl;
        }
        if (iter % 4 == 0) { /* and raw bytes */
            n = s_rand (&seed) % 40;
            for (size_t k = 0; k < n; k++) {
                text[k] = (char) (1 + s_rand (&seed) % 255);
            }
        }
        text[n] = '\0';
        uint8_t code[SHOAL_EXPR_CODE_MAX];
        size_t len;
        char err[SHOAL_EXPR_ERR_MAX] = "";
        shoal_err_t rc =
            shoal_expr_compile (text, code, sizeof code, &len, err, sizeof err);
        if (rc == SHOAL_OK) {
            compiled++;
            CHECK_OK (shoal_expr_check (code, len));
            bool r;
            CHECK_OK (shoal_expr_eval (code, len, s_out, s_out_len, s_in,
                                       s_in_len, &r, err, sizeof err));
        } else {
            CHECK_RC (rc, SHOAL_ERR_INVALID);
            if (strncmp (err, "column ", 7) != 0) {
                SHOAL_FAIL_ ("\"%s\": err \"%s\"", text, err);
            }
        }
    }
    CHECK (compiled > 1000);
}

/*  Random documents under real programs: OK or MALFORMED, no crash. */
SHOAL_TEST (expr_garbage_documents)
{
    static const char *const texts[] = {
        "output.a.b[1] == 1 || output[0] || output.x > \"s\"",
        "output == input || input.m.k != output.m.k",
        "output[\"a\"][0][1][2].z >= -1.5 && output.z",
    };
    uint64_t seed = 7;
    uint8_t doc[64], doc2[64];
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        uint8_t code[SHOAL_EXPR_CODE_MAX];
        size_t len;
        CHECK_OK (
            shoal_expr_compile (texts[t], code, sizeof code, &len, NULL, 0));
        for (int iter = 0; iter < 50000; iter++) {
            size_t n = s_rand (&seed) % sizeof doc;
            for (size_t k = 0; k < n; k++) {
                uint64_t r = s_rand (&seed);
                /* bias toward small maps, arrays, 'a' 'b' 'z' keys */
                static const uint8_t common[] = {0x81, 0x82, 0x91, 0x92, 0xa1,
                                                 'a',  'b',  'z',  0x01, 0xc0};
                doc[k] = r % 2 ? common[(r >> 8) % sizeof common]
                               : (uint8_t) (r >> 16);
                doc2[k] = (uint8_t) (r >> 32);
            }
            bool r;
            shoal_err_t rc =
                shoal_expr_eval (code, len, doc, n, doc2, n / 2, &r, NULL, 0);
            CHECK (rc == SHOAL_OK || rc == SHOAL_ERR_MALFORMED);
        }
    }
}

/*  The examples of docs/workflows.md, "Conditions". */
SHOAL_TEST (expr_doc_examples)
{
    uint8_t out[256], in[64];
    size_t out_len = s_mp ("{\"status\": \"ok\", \"amount\": 250, \"items\": "
                           "[{\"sku\": \"A1\"}], \"retry\": false}",
                           out, sizeof out);
    size_t in_len = s_mp ("{\"region\": \"us\"}", in, sizeof in);
    static const s_row_t rows[] = {
        {"output.status == \"ok\" && output.amount > 100", 1},
        {"output.amount >= 250.0", 1},
        {"output.amount == \"250\"", 0},
        {"output.items[0].sku == \"A1\"", 1},
        {"output.items[1].sku == null", 1},
        {"output.missing", 0},
        {"!output.retry", 1},
        {"output.items && input.region != \"eu\"", 1},
        {"output.status.code == null", 1},
        {"input.region < \"v\"", 1},
        {"(output.name || \"x\") == true", 1},
        {"!(\"a\" < 1)", 1},
        {"(!output.amount) == false", 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = s_eval_docs (rows[i].text, out, out_len, in, in_len);
        if (got != rows[i].want) {
            SHOAL_FAIL_ ("%s: got %d, want %d", rows[i].text, got,
                         rows[i].want);
        }
    }
}

SHOAL_TEST_MAIN (expr_truthiness, expr_number_equality, expr_number_order,
                 expr_nan, expr_strings, expr_mixed_types, expr_containers,
                 expr_paths, expr_precedence, expr_short_circuit,
                 expr_malformed_documents, expr_compile_errors,
                 expr_compile_limits, expr_check_rejects, expr_code_format,
                 expr_code_max_suffices, expr_garbage_programs,
                 expr_garbage_text, expr_garbage_documents, expr_doc_examples)
