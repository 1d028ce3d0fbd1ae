/*  shoal_retry.c - retry policy: parse, check, format, codec, next delay.

    The policy is a fixed-size value so a job record can embed it and a
    scheduler can copy it without allocating; classes are short, so fixed
    arrays cost less than pointers would. Delays are integers; only the
    exponential power is computed in double (by squaring, no libm), then
    capped before it goes back to an integer, so huge attempt numbers
    saturate at max_delay instead of overflowing. Jitter draws an integer
    uniformly (rejection sampling, no modulo bias) from the caller's
    splitmix64 state, so a seed gives the same delays everywhere.

    Decimal numbers (multiplier, jitter) are parsed by hand rather than
    with strtod, which follows the locale and accepts "nan" and hex; at
    most 15 significant digits, so formatting back with 15 digits
    reproduces the same double.
*/
#include "shoal_retry.h"
#include "shoal_duration.h"
#include "../protocol/shoal_mp.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const s_kinds[] = {"none", "fixed", "linear", "exponential"};
#define S_NKINDS (sizeof s_kinds / sizeof s_kinds[0])

/*  Depth allowed when skipping an unknown value in a stored policy. */
#define S_SKIP_DEPTH 16

void
shoal_retry_init (shoal_retry_t *p, shoal_retry_kind_t kind)
{
    memset (p, 0, sizeof *p);
    p->kind = kind;
    p->max_attempts = 3;
    p->delay_us = SHOAL_US_PER_SEC;
    p->max_delay_us = SHOAL_US_PER_H;
    p->multiplier = 2.0;
    p->jitter = 0.0;
}

const char *
shoal_retry_kind_name (int kind)
{
    return kind >= 0 && (size_t) kind < S_NKINDS ? s_kinds[kind] : "?";
}

/*  Refusals with a reason (protocol/shoal_err.h). */
#define s_fail shoal_err_setf

static bool
s_class_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
           c == '/' || c == '-';
}

static bool
s_class_ok (const char *s, size_t len)
{
    if (len == 0 || len > SHOAL_RETRY_CLASS_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!s_class_char (s[i])) {
            return false;
        }
    }
    return true;
}

static bool
s_jitter_ok (double j)
{
    return j >= 0.0 && j <= 1.0; /* false for NaN */
}

static bool
s_multiplier_ok (double m)
{
    return m >= 1.0 && m <= SHOAL_RETRY_MAX_MULTIPLIER;
}

shoal_err_t
shoal_retry_check (const shoal_retry_t *p)
{
    if ((unsigned) p->kind >= S_NKINDS || p->max_attempts < 1 ||
        p->max_attempts > SHOAL_RETRY_MAX_ATTEMPTS ||
        p->delay_us > p->max_delay_us || !s_multiplier_ok (p->multiplier) ||
        !s_jitter_ok (p->jitter) || p->n_on > SHOAL_RETRY_CLASSES ||
        p->n_not_on > SHOAL_RETRY_CLASSES) {
        return SHOAL_ERR_INVALID;
    }
    for (int i = 0; i < p->n_on + p->n_not_on; i++) {
        const char *c = i < p->n_on ? p->on[i] : p->not_on[i - p->n_on];
        size_t len = strnlen (c, SHOAL_RETRY_CLASS_LEN + 1);
        if (!s_class_ok (c, len)) {
            return SHOAL_ERR_INVALID;
        }
    }
    return SHOAL_OK;
}

/* Parsing ---------------------------------------------------------------- */

/*  A decimal "12", "1.5", "0.05" of at most 15 significant digits. */
static bool
s_decimal (const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    if (p == end || *p < '0' || *p > '9') {
        return false;
    }
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (mant > 0 || *p != '0') {
            digits++;
        }
        mant = mant * 10 + (uint64_t) (*p - '0');
        if (digits > 15) {
            return false;
        }
    }
    if (p < end && *p == '.') {
        p++;
        const char *fs = p;
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
        const char *fe = p;
        if (fe == fs) {
            return false;
        }
        while (fe > fs && fe[-1] == '0') {
            fe--;
        }
        for (const char *q = fs; q < fe; q++) {
            if (mant > 0 || *q != '0') {
                digits++;
            }
            mant = mant * 10 + (uint64_t) (*q - '0');
            frac++;
            if (digits > 15 || frac > 15) {
                return false;
            }
        }
    }
    if (p != end) {
        return false;
    }
    double scale = 1.0;
    for (int i = 0; i < frac; i++) {
        scale *= 10.0; /* exact up to 10^22 */
    }
    *out = (double) mant / scale; /* both exact: one correct rounding */
    return true;
}

static shoal_err_t
s_classes (const char *key, const char *v, size_t len,
           char (*list)[SHOAL_RETRY_CLASS_LEN + 1], uint8_t *count, char *err,
           size_t cap)
{
    const char *p = v, *end = v + len;
    uint8_t n = 0;
    for (;;) {
        const char *bar = memchr (p, '|', (size_t) (end - p));
        const char *ce = bar ? bar : end;
        size_t cl = (size_t) (ce - p);
        if (n == SHOAL_RETRY_CLASSES) {
            return s_fail (err, cap, "%s: more than %d classes", key,
                           SHOAL_RETRY_CLASSES);
        }
        if (!s_class_ok (p, cl)) {
            return s_fail (err, cap,
                           "%s: bad class \"%.*s\" (1-%d characters of "
                           "A-Z a-z 0-9 _ . : / -)",
                           key, (int) cl, p, SHOAL_RETRY_CLASS_LEN);
        }
        memcpy (list[n], p, cl);
        list[n][cl] = '\0';
        n++;
        if (!bar) {
            break;
        }
        p = bar + 1;
    }
    *count = n;
    return SHOAL_OK;
}

enum { K_MAX, K_DELAY, K_MAX_DELAY, K_MULTIPLIER, K_JITTER, K_ON, K_NOT_ON };
static const char *const s_keys[] = {
    "max", "delay", "max_delay", "multiplier", "jitter", "on", "not_on"};
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

static shoal_err_t
s_option (shoal_retry_t *p, int key, const char *v, size_t len, char *err,
          size_t cap)
{
    const char *name = s_keys[key];
    double x;
    switch (key) {
        case K_MAX: {
            uint64_t n = 0;
            bool ok = len > 0;
            for (size_t i = 0; ok && i < len; i++) {
                ok = v[i] >= '0' && v[i] <= '9';
                n = n * 10 + (uint64_t) (v[i] - '0');
                ok = ok && n <= SHOAL_RETRY_MAX_ATTEMPTS;
            }
            if (!ok || n < 1) {
                return s_fail (err, cap,
                               "max: \"%.*s\" is not a whole number from 1 "
                               "to %u",
                               (int) len, v, SHOAL_RETRY_MAX_ATTEMPTS);
            }
            p->max_attempts = (uint32_t) n;
            return SHOAL_OK;
        }
        case K_DELAY:
        case K_MAX_DELAY: {
            uint64_t us;
            if (shoal_duration_parsen (v, len, &us)) {
                return s_fail (err, cap,
                               "%s: \"%.*s\" is not a duration (like 500ms, "
                               "2s, 1.5m)",
                               name, (int) len, v);
            }
            *(key == K_DELAY ? &p->delay_us : &p->max_delay_us) = us;
            return SHOAL_OK;
        }
        case K_MULTIPLIER:
            if (p->kind != SHOAL_RETRY_EXPONENTIAL) {
                return s_fail (err, cap,
                               "multiplier applies only to exponential");
            }
            if (!s_decimal (v, len, &x) || !s_multiplier_ok (x)) {
                return s_fail (err, cap,
                               "multiplier: \"%.*s\" is not a number from 1 "
                               "to 1000",
                               (int) len, v);
            }
            p->multiplier = x;
            return SHOAL_OK;
        case K_JITTER:
            if (!s_decimal (v, len, &x) || !s_jitter_ok (x)) {
                return s_fail (err, cap,
                               "jitter: \"%.*s\" is not a fraction from 0 "
                               "to 1",
                               (int) len, v);
            }
            p->jitter = x;
            return SHOAL_OK;
        case K_ON:
            return s_classes (name, v, len, p->on, &p->n_on, err, cap);
        default:
            return s_classes (name, v, len, p->not_on, &p->n_not_on, err, cap);
    }
}

shoal_err_t
shoal_retry_parse (const char *s, shoal_retry_t *out, char *err, size_t err_cap)
{
    assert (s && out);
    if (err && err_cap > 0) {
        err[0] = '\0';
    }
    const char *colon = strchr (s, ':');
    size_t klen = colon ? (size_t) (colon - s) : strlen (s);
    size_t kind = 0;
    while (kind < S_NKINDS && (strlen (s_kinds[kind]) != klen ||
                               memcmp (s, s_kinds[kind], klen) != 0)) {
        kind++;
    }
    if (kind == S_NKINDS) {
        return s_fail (err, err_cap,
                       "unknown kind \"%.*s\" (expected none, fixed, linear "
                       "or exponential)",
                       (int) klen, s);
    }
    shoal_retry_t p;
    shoal_retry_init (&p, (shoal_retry_kind_t) kind);
    if (colon && kind == SHOAL_RETRY_NONE) {
        return s_fail (err, err_cap, "none takes no options");
    }
    if (colon) {
        const char *o = colon + 1;
        unsigned seen = 0;
        bool max_delay_given = false;
        if (!*o) {
            return s_fail (err, err_cap, "expected OPTION=VALUE after ':'");
        }
        for (;;) {
            const char *comma = strchr (o, ',');
            size_t olen = comma ? (size_t) (comma - o) : strlen (o);
            const char *eq = memchr (o, '=', olen);
            if (olen == 0) {
                return s_fail (err, err_cap, "empty option");
            }
            if (!eq) {
                return s_fail (err, err_cap,
                               "option \"%.*s\" needs a value (NAME=VALUE)",
                               (int) olen, o);
            }
            size_t nlen = (size_t) (eq - o);
            int key = 0;
            while ((size_t) key < S_NKEYS &&
                   (strlen (s_keys[key]) != nlen ||
                    memcmp (o, s_keys[key], nlen) != 0)) {
                key++;
            }
            if ((size_t) key == S_NKEYS) {
                return s_fail (err, err_cap,
                               "unknown option \"%.*s\" (expected max, "
                               "delay, max_delay, multiplier, jitter, on or "
                               "not_on)",
                               (int) nlen, o);
            }
            if (seen & (1u << key)) {
                return s_fail (err, err_cap, "%s given twice", s_keys[key]);
            }
            seen |= 1u << key;
            max_delay_given = max_delay_given || key == K_MAX_DELAY;
            shoal_err_t rc =
                s_option (&p, key, eq + 1, olen - nlen - 1, err, err_cap);
            if (rc) {
                return rc;
            }
            if (!comma) {
                break;
            }
            o = comma + 1;
        }
        if (p.delay_us > p.max_delay_us) {
            char d[SHOAL_DURATION_STRLEN], m[SHOAL_DURATION_STRLEN];
            shoal_duration_format (p.delay_us, d, sizeof d);
            shoal_duration_format (p.max_delay_us, m, sizeof m);
            return s_fail (err, err_cap,
                           "delay (%s) is more than max_delay (%s%s)", d, m,
                           max_delay_given ? "" : ", the default");
        }
    }
    *out = p;
    return SHOAL_OK;
}

/* Formatting -------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap, len;
} s_out_t;

__attribute__ ((format (printf, 2, 3))) static void
s_add (s_out_t *o, const char *fmt, ...)
{
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end (ap);
    o->len += n > 0 ? (size_t) n : 0;
}

/*  v in [0, 1000] with 15 significant digits, trailing zeros dropped:
    the same text s_decimal read it from. */
static void
s_add_decimal (s_out_t *o, double v)
{
    int idigits = v >= 1000.0 ? 4 : v >= 100.0 ? 3 : v >= 10.0 ? 2 : 1;
    if (v < 1.0) {
        idigits = 0;
    }
    char tmp[48];
    int n = snprintf (tmp, sizeof tmp, "%.*f", 15 - idigits, v);
    if (n <= 0 || (size_t) n >= sizeof tmp) {
        return;
    }
    if (strchr (tmp, '.')) {
        while (n > 0 && tmp[n - 1] == '0') {
            tmp[--n] = '\0';
        }
        if (n > 0 && tmp[n - 1] == '.') {
            tmp[--n] = '\0';
        }
    }
    s_add (o, "%s", tmp);
}

static void
s_add_classes (s_out_t *o, const char *key,
               const char (*list)[SHOAL_RETRY_CLASS_LEN + 1], int n)
{
    for (int i = 0; i < n; i++) {
        s_add (o, "%s%s", i == 0 ? key : "|", list[i]);
    }
}

shoal_err_t
shoal_retry_format (const shoal_retry_t *p, char *buf, size_t cap)
{
    s_out_t o = {buf, cap, 0};
    if (cap > 0) {
        buf[0] = '\0';
    }
    if (p->kind == SHOAL_RETRY_NONE) {
        s_add (&o, "none");
    } else {
        char d[SHOAL_DURATION_STRLEN], m[SHOAL_DURATION_STRLEN];
        shoal_duration_format (p->delay_us, d, sizeof d);
        shoal_duration_format (p->max_delay_us, m, sizeof m);
        s_add (&o, "%s:max=%u,delay=%s,max_delay=%s",
               shoal_retry_kind_name (p->kind), p->max_attempts, d, m);
        if (p->kind == SHOAL_RETRY_EXPONENTIAL) {
            s_add (&o, ",multiplier=");
            s_add_decimal (&o, p->multiplier);
        }
        if (p->jitter > 0) {
            s_add (&o, ",jitter=");
            s_add_decimal (&o, p->jitter);
        }
        s_add_classes (&o, ",on=", p->on, p->n_on);
        s_add_classes (&o, ",not_on=", p->not_on, p->n_not_on);
    }
    return o.len < cap ? SHOAL_OK : SHOAL_ERR_TOO_LARGE;
}

/* Deciding --------------------------------------------------------------- */

uint64_t
shoal_retry_rand (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/*  Uniform in [0, range], without modulo bias. */
static uint64_t
s_uniform (uint64_t *state, uint64_t range)
{
    if (range == UINT64_MAX) {
        return shoal_retry_rand (state);
    }
    uint64_t n = range + 1;
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = shoal_retry_rand (state);
        if (x >= threshold) {
            return x % n;
        }
    }
}

bool
shoal_retry_class_matches (const char *cls, const char *failure)
{
    if (!cls || !failure || !*cls) {
        return false;
    }
    size_t n = strlen (cls);
    if (strncmp (failure, cls, n) != 0) {
        return false;
    }
    return failure[n] == '\0' || failure[n] == ':' || cls[n - 1] == ':';
}

static bool
s_any (const char (*list)[SHOAL_RETRY_CLASS_LEN + 1], int n,
       const char *failure)
{
    for (int i = 0; i < n; i++) {
        if (shoal_retry_class_matches (list[i], failure)) {
            return true;
        }
    }
    return false;
}

/*  b^e by squaring; overflows to +inf, which the caller caps. */
static double
s_pow (double b, uint32_t e)
{
    double r = 1.0;
    while (e) {
        if (e & 1u) {
            r *= b;
        }
        b *= b;
        e >>= 1;
    }
    return r;
}

bool
shoal_retry_next (const shoal_retry_t *p, uint32_t attempt_just_failed,
                  const char *failure_class, uint64_t *rng_state,
                  uint64_t *delay_us)
{
    assert (p && delay_us);
    uint32_t n = attempt_just_failed ? attempt_just_failed : 1;
    if (p->kind == SHOAL_RETRY_NONE || n >= p->max_attempts) {
        return false;
    }
    const char *fc = failure_class ? failure_class : "";
    if (s_any (p->not_on, p->n_not_on, fc) ||
        (p->n_on > 0 && !s_any (p->on, p->n_on, fc))) {
        return false;
    }
    uint64_t d = p->delay_us;
    if (p->kind == SHOAL_RETRY_LINEAR) {
        if (__builtin_mul_overflow (p->delay_us, (uint64_t) n, &d)) {
            d = UINT64_MAX;
        }
    } else if (p->kind == SHOAL_RETRY_EXPONENTIAL && d > 0) {
        double f = (double) p->delay_us * s_pow (p->multiplier, n - 1);
        d = f >= (double) p->max_delay_us ? p->max_delay_us
                                          : (uint64_t) (f + 0.5);
    }
    if (d > p->max_delay_us) {
        d = p->max_delay_us;
    }
    if (p->jitter > 0 && rng_state && d > 0) {
        double fs = (double) d * p->jitter;
        uint64_t span = fs >= (double) d ? d : (uint64_t) fs;
        uint64_t lo = d - span, hi;
        if (__builtin_add_overflow (d, span, &hi)) {
            hi = UINT64_MAX;
        }
        d = lo + s_uniform (rng_state, hi - lo);
    }
    *delay_us = d;
    return true;
}

/* msgpack ----------------------------------------------------------------- */

static void
s_wr_classes (shoal_wr_t *wr, const char *key,
              const char (*list)[SHOAL_RETRY_CLASS_LEN + 1], int n)
{
    shoal_wr_str (wr, key);
    shoal_wr_array (wr, (uint32_t) n);
    for (int i = 0; i < n; i++) {
        shoal_wr_str (wr, list[i]);
    }
}

void
shoal_retry_encode (const shoal_retry_t *p, shoal_wr_t *wr)
{
    shoal_wr_map (wr, 8);
    shoal_wr_kv_str (wr, "kind", shoal_retry_kind_name (p->kind));
    shoal_wr_kv_uint (wr, "max", p->max_attempts);
    shoal_wr_kv_uint (wr, "delay_us", p->delay_us);
    shoal_wr_kv_uint (wr, "max_delay_us", p->max_delay_us);
    shoal_wr_str (wr, "multiplier");
    shoal_wr_double (wr, p->multiplier);
    shoal_wr_str (wr, "jitter");
    shoal_wr_double (wr, p->jitter);
    s_wr_classes (wr, "on", p->on, p->n_on);
    s_wr_classes (wr, "not_on", p->not_on, p->n_not_on);
}

enum {
    D_KIND,
    D_MAX,
    D_DELAY,
    D_MAX_DELAY,
    D_MULTIPLIER,
    D_JITTER,
    D_ON,
    D_NOT_ON
};
static const char *const s_dkeys[] = {"kind",         "max",        "delay_us",
                                      "max_delay_us", "multiplier", "jitter",
                                      "on",           "not_on"};
#define S_NDKEYS (sizeof s_dkeys / sizeof s_dkeys[0])

static shoal_err_t
s_rd_classes (shoal_rd_t *rd, const shoal_mp_val_t *v,
              char (*list)[SHOAL_RETRY_CLASS_LEN + 1], uint8_t *count)
{
    if (v->type != SHOAL_MP_ARRAY) {
        return SHOAL_ERR_MALFORMED;
    }
    if (v->len > SHOAL_RETRY_CLASSES) {
        return SHOAL_ERR_TOO_LARGE;
    }
    for (uint32_t i = 0; i < v->len; i++) {
        const char *s;
        uint32_t len;
        shoal_err_t rc = shoal_rd_str (rd, &s, &len);
        if (rc) {
            return rc == SHOAL_ERR_INVALID ? SHOAL_ERR_MALFORMED : rc;
        }
        if (len > SHOAL_RETRY_CLASS_LEN) {
            return SHOAL_ERR_TOO_LARGE;
        }
        if (!s_class_ok (s, len)) {
            return SHOAL_ERR_INVALID;
        }
        memcpy (list[i], s, len);
        list[i][len] = '\0';
    }
    *count = (uint8_t) v->len;
    return SHOAL_OK;
}

static bool
s_number (const shoal_mp_val_t *v, double *out)
{
    if (v->type == SHOAL_MP_FLOAT) {
        *out = v->f;
    } else if (v->type == SHOAL_MP_UINT) {
        *out = (double) v->u;
    } else {
        return false;
    }
    return true;
}

shoal_err_t
shoal_retry_decode (const uint8_t *data, size_t size, shoal_retry_t *out)
{
    shoal_rd_t rd;
    shoal_rd_init (&rd, data, size);
    uint32_t pairs;
    shoal_err_t rc = shoal_rd_map (&rd, &pairs);
    if (rc) {
        return rc == SHOAL_ERR_INVALID ? SHOAL_ERR_MALFORMED : rc;
    }
    shoal_retry_t p;
    shoal_retry_init (&p, SHOAL_RETRY_NONE);
    uint64_t seen = 0;
    for (uint32_t i = 0; i < pairs; i++) {
        size_t key;
        if ((rc = shoal_rd_key (&rd, s_dkeys, S_NDKEYS, &seen, &key,
                                S_SKIP_DEPTH))) {
            return rc;
        }
        if (key == S_NDKEYS) {
            continue; /* unknown key, skipped */
        }
        shoal_mp_val_t v;
        if ((rc = shoal_rd_next (&rd, &v))) {
            return rc;
        }
        switch (key) {
            case D_KIND: {
                if (v.type != SHOAL_MP_STR) {
                    return SHOAL_ERR_MALFORMED;
                }
                size_t kind = 0;
                while (kind < S_NKINDS &&
                       (strlen (s_kinds[kind]) != v.len ||
                        memcmp (v.ptr, s_kinds[kind], v.len) != 0)) {
                    kind++;
                }
                if (kind == S_NKINDS) {
                    return SHOAL_ERR_INVALID;
                }
                p.kind = (shoal_retry_kind_t) kind;
                break;
            }
            case D_MAX:
                if (v.type != SHOAL_MP_UINT) {
                    return SHOAL_ERR_MALFORMED;
                }
                if (v.u > SHOAL_RETRY_MAX_ATTEMPTS) {
                    return SHOAL_ERR_INVALID;
                }
                p.max_attempts = (uint32_t) v.u;
                break;
            case D_DELAY:
            case D_MAX_DELAY:
                if (v.type != SHOAL_MP_UINT) {
                    return SHOAL_ERR_MALFORMED;
                }
                *(key == D_DELAY ? &p.delay_us : &p.max_delay_us) = v.u;
                break;
            case D_MULTIPLIER:
            case D_JITTER:
                if (!s_number (&v,
                               key == D_JITTER ? &p.jitter : &p.multiplier)) {
                    return SHOAL_ERR_MALFORMED;
                }
                break;
            case D_ON:
                rc = s_rd_classes (&rd, &v, p.on, &p.n_on);
                break;
            default:
                rc = s_rd_classes (&rd, &v, p.not_on, &p.n_not_on);
                break;
        }
        if (rc) {
            return rc;
        }
    }
    if (!(seen & (1u << D_KIND)) || shoal_rd_left (&rd) != 0) {
        return SHOAL_ERR_MALFORMED;
    }
    if (shoal_retry_check (&p)) {
        return SHOAL_ERR_INVALID;
    }
    *out = p;
    return SHOAL_OK;
}
