/*  shoal_duration.c - parse and format durations in microseconds.

    Parsing is integer-only: a fraction is kept as digits F over 10^k and
    multiplied into the unit exactly, so "1.1s" is 1100000 and not
    1099999 as a double would give. strtod is not used (locale, rounding,
    it accepts "inf"). Formatting picks the unit so that the text parses
    back to the same value; it deliberately doesn't round ("1.234567s"
    prints as "1234.567ms", never "1.23s").
*/
#include "shoal_duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    uint64_t us;
} s_unit_t;

/*  Largest first: shoal_duration_format walks it in this order. Parsing
    takes the longest name that matches ("ms" over "m"). */
static const s_unit_t s_units[] = {
    {"d", SHOAL_US_PER_DAY}, {"h", SHOAL_US_PER_H},   {"m", SHOAL_US_PER_MIN},
    {"s", SHOAL_US_PER_SEC}, {"ms", SHOAL_US_PER_MS}, {"us", 1},
};
#define S_NUNITS (sizeof s_units / sizeof s_units[0])

static bool
s_digit (char c)
{
    return c >= '0' && c <= '9';
}

/*  a * b + c with overflow detection. */
static bool
s_muladd (uint64_t a, uint64_t b, uint64_t c, uint64_t *out)
{
    uint64_t m;
    if (__builtin_mul_overflow (a, b, &m) ||
        __builtin_add_overflow (m, c, &m)) {
        return false;
    }
    *out = m;
    return true;
}

/*  One <number>[<unit>] segment at *p (before end). *unit is 0 when no
    unit followed the number; the caller decides whether that is allowed. */
static shoal_err_t
s_segment (const char **p, const char *end, uint64_t *value, uint64_t *unit)
{
    const char *q = *p;
    uint64_t whole = 0;
    if (q == end || !s_digit (*q)) {
        return SHOAL_ERR_INVALID;
    }
    while (q < end && s_digit (*q)) {
        if (!s_muladd (whole, 10, (uint64_t) (*q - '0'), &whole)) {
            return SHOAL_ERR_INVALID;
        }
        q++;
    }
    uint64_t frac = 0, scale = 1; /* the fraction is frac / scale */
    if (q < end && *q == '.') {
        q++;
        if (q == end || !s_digit (*q)) {
            return SHOAL_ERR_INVALID;
        }
        const char *fs = q;
        while (q < end && s_digit (*q)) {
            q++;
        }
        const char *fe = q;
        while (fe > fs && fe[-1] == '0') {
            fe--; /* "1.50" is "1.5" */
        }
        if (fe - fs > 9) {
            return SHOAL_ERR_INVALID;
        }
        for (const char *d = fs; d < fe; d++) {
            frac = frac * 10 + (uint64_t) (*d - '0');
            scale *= 10;
        }
    }
    *unit = 0;
    size_t best = 0;
    for (size_t i = 0; i < S_NUNITS; i++) {
        size_t n = strlen (s_units[i].name);
        if (n > best && (size_t) (end - q) >= n &&
            memcmp (q, s_units[i].name, n) == 0) {
            *unit = s_units[i].us;
            best = n;
        }
    }
    q += best;
    uint64_t u = *unit ? *unit : SHOAL_US_PER_MS;
    /*  frac * u / scale, exactly: split u = a * scale + b so that both
        products stay small (frac, b < scale <= 10^9). */
    uint64_t a = u / scale, b = u % scale;
    if ((frac * b) % scale != 0) {
        return SHOAL_ERR_INVALID; /* finer than a microsecond */
    }
    uint64_t part = frac * a + frac * b / scale;
    if (!s_muladd (whole, u, part, value)) {
        return SHOAL_ERR_INVALID;
    }
    *p = q;
    return SHOAL_OK;
}

shoal_err_t
shoal_duration_parsen (const char *s, size_t len, uint64_t *us)
{
    const char *p = s, *end = s + len;
    uint64_t total = 0;
    int segments = 0;
    bool unitless = false;
    while (p < end) {
        uint64_t value, unit;
        shoal_err_t rc = s_segment (&p, end, &value, &unit);
        if (rc) {
            return rc;
        }
        segments++;
        unitless = unitless || unit == 0;
        if (__builtin_add_overflow (total, value, &total)) {
            return SHOAL_ERR_INVALID;
        }
    }
    /* A bare number only stands alone: "1h30" is a mistake, not 1h30ms. */
    if (segments == 0 || (unitless && segments > 1)) {
        return SHOAL_ERR_INVALID;
    }
    *us = total;
    return SHOAL_OK;
}

shoal_err_t
shoal_duration_parse (const char *s, uint64_t *us)
{
    return shoal_duration_parsen (s, strlen (s), us);
}

size_t
shoal_duration_format (uint64_t us, char *buf, size_t cap)
{
    char tmp[SHOAL_DURATION_STRLEN];
    int n = 0;
    if (us == 0) {
        n = snprintf (tmp, sizeof tmp, "0s");
    }
    for (size_t i = 0; n == 0 && i < S_NUNITS; i++) {
        uint64_t u = s_units[i].us;
        if (us < u) {
            continue;
        }
        uint64_t whole = us / u, rem = us % u;
        if (rem == 0) {
            n = snprintf (tmp, sizeof tmp, "%llu%s", (unsigned long long) whole,
                          s_units[i].name);
        } else if (rem * 1000 % u == 0) {
            /* rem < u <= 8.64e10, so rem * 1000 cannot overflow. */
            unsigned milli = (unsigned) (rem * 1000 / u);
            char frac[4];
            snprintf (frac, sizeof frac, "%03u", milli);
            int fl = 3;
            while (frac[fl - 1] == '0') {
                fl--;
            }
            n = snprintf (tmp, sizeof tmp, "%llu.%.*s%s",
                          (unsigned long long) whole, fl, frac,
                          s_units[i].name);
        }
    }
    if (cap > 0) {
        size_t c = (size_t) n < cap ? (size_t) n : cap - 1;
        memcpy (buf, tmp, c);
        buf[c] = '\0';
    }
    return (size_t) n;
}
