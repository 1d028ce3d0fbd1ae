/*  shoal_cron.c - cron parsing and next-fire-time search.

    Each field becomes a bitmask, so matching a value is one shift and
    the search can jump straight to the next allowed value of a field
    (count trailing zeros) instead of stepping second by second. next()
    walks month -> day -> hour -> minute -> second; when a field has no
    allowed value left it carries into the field above and resets the
    ones below. Days are the only field that depends on the calendar, so
    a month's allowed days are worked out once per month visited (the
    dom/dow rule, the month's length). The horizon bounds the search for
    impossible dates such as Feb 30.

    Calendar arithmetic is Howard Hinnant's days_from_civil and
    civil_from_days (proleptic Gregorian, exact, no tables, no libc time
    functions: gmtime/timegm would bring in the process's TZ handling).
*/
#include "shoal_cron.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

_Static_assert(sizeof (shoal_cron_t) == 32 &&
                   offsetof (shoal_cron_t, flags) + sizeof (uint32_t) == 32,
               "shoal_cron_t is 32 bytes without padding");

#define S_SEC_PER_DAY 86400ull
#define S_US_PER_SEC  1000000ull

typedef struct {
    const char *name;
    int lo, hi;
    const char *const *names; /* three-letter names, or NULL */
    int names_count;
    int names_base; /* the value of names[0] */
} s_field_t;

static const char *const s_mon_names[] = {"JAN", "FEB", "MAR", "APR",
                                          "MAY", "JUN", "JUL", "AUG",
                                          "SEP", "OCT", "NOV", "DEC"};
static const char *const s_dow_names[] = {"SUN", "MON", "TUE", "WED",
                                          "THU", "FRI", "SAT"};

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F__COUNT };

static const s_field_t s_fields[F__COUNT] = {
    {"second", 0, 59, NULL, 0, 0},
    {"minute", 0, 59, NULL, 0, 0},
    {"hour", 0, 23, NULL, 0, 0},
    {"day-of-month", 1, 31, NULL, 0, 0},
    {"month", 1, 12, s_mon_names, 12, 1},
    {"day-of-week", 0, 7, s_dow_names, 7, 0},
};

static const struct {
    const char *name;
    const char *expr;
} s_macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/*  Refusals with a reason (protocol/shoal_err.h). */
#define s_fail shoal_err_setf

static bool
s_digit (char c)
{
    return c >= '0' && c <= '9';
}

static bool
s_alpha (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
s_space (char c)
{
    return c == ' ' || c == '\t';
}

static char
s_upper (char c)
{
    return c >= 'a' && c <= 'z' ? (char) (c - 'a' + 'A') : c;
}

/*  Reads a number or (where the field has names) a name at *p, before
    end, into *v, checked against the field's range. */
static shoal_err_t
s_value (const s_field_t *f, const char **p, const char *end, int *v, char *err,
         size_t cap)
{
    const char *q = *p;
    if (q < end && s_digit (*q)) {
        long n = 0;
        while (q < end && s_digit (*q)) {
            if (n < 100000) {
                n = n * 10 + (*q - '0');
            }
            q++;
        }
        if (n < f->lo || n > f->hi) {
            return s_fail (err, cap, "%s: %.*s is out of range %d-%d", f->name,
                           (int) (q - *p), *p, f->lo, f->hi);
        }
        *v = (int) n;
        *p = q;
        return SHOAL_OK;
    }
    if (q < end && s_alpha (*q)) {
        while (q < end && s_alpha (*q)) {
            q++;
        }
        int len = (int) (q - *p);
        if (!f->names) {
            return s_fail (err, cap, "%s: names like \"%.*s\" are not allowed",
                           f->name, len, *p);
        }
        for (int i = 0; len == 3 && i < f->names_count; i++) {
            const char *nm = f->names[i];
            if (s_upper ((*p)[0]) == nm[0] && s_upper ((*p)[1]) == nm[1] &&
                s_upper ((*p)[2]) == nm[2]) {
                *v = f->names_base + i;
                *p = q;
                return SHOAL_OK;
            }
        }
        return s_fail (err, cap, "%s: unknown name \"%.*s\"", f->name, len, *p);
    }
    if (q == end) {
        return s_fail (err, cap, "%s: a value is missing", f->name);
    }
    return s_fail (err, cap, "%s: unexpected \"%c\"", f->name, *q);
}

/*  One list item: "*", "n", "a-b", each optionally followed by "/step". */
static shoal_err_t
s_item (const s_field_t *f, const char *p, const char *end, uint64_t *mask,
        char *err, size_t cap)
{
    int lo, hi, step = 1;
    bool single = false;
    shoal_err_t rc;
    if (p < end && *p == '*') {
        lo = f->lo;
        hi = f->hi;
        p++;
    } else {
        if ((rc = s_value (f, &p, end, &lo, err, cap))) {
            return rc;
        }
        hi = lo;
        single = true;
        if (p < end && *p == '-') {
            p++;
            if ((rc = s_value (f, &p, end, &hi, err, cap))) {
                return rc;
            }
            single = false;
            if (hi < lo) {
                return s_fail (err, cap,
                               "%s: range %d-%d is backwards (ranges do "
                               "not wrap)",
                               f->name, lo, hi);
            }
        }
    }
    if (p < end && *p == '/') {
        p++;
        if (p == end || !s_digit (*p)) {
            return s_fail (err, cap, "%s: a step needs a number after '/'",
                           f->name);
        }
        long n = 0;
        while (p < end && s_digit (*p)) {
            if (n < 100000) {
                n = n * 10 + (*p - '0');
            }
            p++;
        }
        if (n < 1 || n > f->hi) {
            return s_fail (err, cap, "%s: step %ld is out of range 1-%d",
                           f->name, n, f->hi);
        }
        step = (int) n;
        if (single) {
            hi = f->hi; /* "5/15" is "5-max/15" */
        }
    }
    if (p < end) {
        return s_fail (err, cap, "%s: unexpected \"%c\"", f->name, *p);
    }
    for (int v = lo; v <= hi; v += step) {
        *mask |= 1ull << v;
    }
    return SHOAL_OK;
}

static shoal_err_t
s_field (const s_field_t *f, const char *p, const char *end, uint64_t *mask,
         char *err, size_t cap)
{
    *mask = 0;
    for (;;) {
        const char *comma = memchr (p, ',', (size_t) (end - p));
        const char *ie = comma ? comma : end;
        if (ie == p) {
            return s_fail (err, cap, "%s: empty item in list", f->name);
        }
        shoal_err_t rc = s_item (f, p, ie, mask, err, cap);
        if (rc) {
            return rc;
        }
        if (!comma) {
            return SHOAL_OK;
        }
        p = comma + 1;
    }
}

shoal_err_t
shoal_cron_parse (const char *expr, shoal_cron_t *out, char *err,
                  size_t err_cap)
{
    assert (expr && out);
    if (err && err_cap > 0) {
        err[0] = '\0';
    }
    /* Split into fields without copying: up to 6 (start, end) spans. */
    const char *start[F__COUNT], *stop[F__COUNT];
    int nf = 0;
    for (const char *p = expr; *p;) {
        while (s_space (*p)) {
            p++;
        }
        if (!*p) {
            break;
        }
        const char *s = p;
        while (*p && !s_space (*p)) {
            p++;
        }
        if (nf < F__COUNT) {
            start[nf] = s;
            stop[nf] = p;
        }
        nf++;
    }
    if (nf == 1 && start[0][0] == '@') {
        size_t len = (size_t) (stop[0] - start[0]);
        for (size_t i = 0; i < sizeof s_macros / sizeof s_macros[0]; i++) {
            if (strlen (s_macros[i].name) == len &&
                strncasecmp (start[0], s_macros[i].name, len) == 0) {
                return shoal_cron_parse (s_macros[i].expr, out, err, err_cap);
            }
        }
        return s_fail (err, err_cap,
                       "unknown macro \"%.*s\" (expected @yearly, @annually, "
                       "@monthly, @weekly, @daily, @midnight or @hourly)",
                       (int) len, start[0]);
    }
    if (nf > 0 && start[0][0] == '@') {
        return s_fail (err, err_cap, "a macro like \"%.*s\" stands alone",
                       (int) (stop[0] - start[0]), start[0]);
    }
    if (nf != 5 && nf != 6) {
        return s_fail (err, err_cap, "expected 5 or 6 fields, got %d", nf);
    }
    uint64_t m[F__COUNT];
    int first = nf == 5 ? F_MIN : F_SEC;
    m[F_SEC] = 1; /* five fields: at second 0 */
    for (int i = first; i < F__COUNT; i++) {
        int k = i - first;
        shoal_err_t rc =
            s_field (&s_fields[i], start[k], stop[k], &m[i], err, err_cap);
        if (rc) {
            return rc;
        }
    }
    if (m[F_DOW] & (1ull << 7)) {
        m[F_DOW] |= 1; /* 7 is Sunday too */
    }
    shoal_cron_t c = {
        .sec = m[F_SEC],
        .min = m[F_MIN],
        .hour = (uint32_t) m[F_HOUR],
        .dom = (uint32_t) m[F_DOM],
        .mon = (uint16_t) m[F_MON],
        .dow = (uint16_t) (m[F_DOW] & 0x7f),
        .flags = 0,
    };
    if (start[F_DOM - first][0] == '*') {
        c.flags |= SHOAL_CRON_DOM_STAR;
    }
    if (start[F_DOW - first][0] == '*') {
        c.flags |= SHOAL_CRON_DOW_STAR;
    }
    *out = c;
    return SHOAL_OK;
}

/* Calendar (days since 1970-01-01; y/m/d proleptic Gregorian). */

static int64_t
s_days_from_civil (int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static void
s_civil_from_days (int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

static bool
s_leap (int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
s_days_in_month (int64_t y, unsigned m)
{
    static const unsigned dim[13] = {0,  31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    return m == 2 && s_leap (y) ? 29 : dim[m];
}

/*  0 = Sunday; day 0 (1970-01-01) was a Thursday. */
static unsigned
s_weekday (int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (unsigned) (w < 0 ? w + 7 : w);
}

static bool
s_day_ok (const shoal_cron_t *c, unsigned dom, unsigned dow)
{
    bool dom_ok = (c->dom >> dom) & 1u;
    bool dow_ok = (c->dow >> dow) & 1u;
    if (c->flags & (SHOAL_CRON_DOM_STAR | SHOAL_CRON_DOW_STAR)) {
        return dom_ok && dow_ok;
    }
    return dom_ok || dow_ok;
}

/*  The days (bits 1-31) of month m of year y on which c may fire. */
static uint64_t
s_day_mask (const shoal_cron_t *c, int64_t y, unsigned m)
{
    unsigned dim = s_days_in_month (y, m);
    unsigned wd = s_weekday (s_days_from_civil (y, m, 1));
    uint64_t mask = 0;
    for (unsigned d = 1; d <= dim; d++, wd = wd == 6 ? 0 : wd + 1) {
        if (s_day_ok (c, d, wd)) {
            mask |= 1ull << d;
        }
    }
    return mask;
}

/*  The lowest set bit of mask at or above from, or -1. */
static int
s_next_bit (uint64_t mask, unsigned from)
{
    if (from >= 64) {
        return -1;
    }
    mask &= ~0ull << from;
    return mask ? __builtin_ctzll (mask) : -1;
}

bool
shoal_cron_next (const shoal_cron_t *c, uint64_t after_us, uint64_t *next_us)
{
    assert (c && next_us);
    uint64_t t = after_us / S_US_PER_SEC + 1;
    int64_t days = (int64_t) (t / S_SEC_PER_DAY);
    unsigned sod = (unsigned) (t % S_SEC_PER_DAY);
    int64_t y;
    unsigned mo, d, h = sod / 3600, mi = sod / 60 % 60, s = sod % 60;
    s_civil_from_days (days, &y, &mo, &d);
    int64_t y_last = y + SHOAL_CRON_HORIZON_YEARS;

    /*  Each pass moves at least one field forward; a field that has to
        move resets every field below it to its first value. */
    for (;;) {
        if (y > y_last) {
            return false;
        }
        int v = s_next_bit (c->mon, mo);
        if (v < 0) {
            y++;
            mo = 1, d = 1, h = 0, mi = 0, s = 0;
            continue;
        }
        if ((unsigned) v != mo) {
            mo = (unsigned) v, d = 1, h = 0, mi = 0, s = 0;
        }
        v = s_next_bit (s_day_mask (c, y, mo), d);
        if (v < 0) {
            mo++, d = 1, h = 0, mi = 0, s = 0;
            continue;
        }
        if ((unsigned) v != d) {
            d = (unsigned) v, h = 0, mi = 0, s = 0;
        }
        v = s_next_bit (c->hour, h);
        if (v < 0) {
            d++, h = 0, mi = 0, s = 0;
            continue;
        }
        if ((unsigned) v != h) {
            h = (unsigned) v, mi = 0, s = 0;
        }
        v = s_next_bit (c->min, mi);
        if (v < 0) {
            h++, mi = 0, s = 0;
            continue;
        }
        if ((unsigned) v != mi) {
            mi = (unsigned) v, s = 0;
        }
        v = s_next_bit (c->sec, s);
        if (v < 0) {
            mi++, s = 0;
            continue;
        }
        s = (unsigned) v;
        break;
    }
    uint64_t secs = (uint64_t) s_days_from_civil (y, mo, d) * S_SEC_PER_DAY +
                    h * 3600u + mi * 60u + s;
    if (secs > UINT64_MAX / S_US_PER_SEC) {
        return false;
    }
    *next_us = secs * S_US_PER_SEC;
    return true;
}

bool
shoal_cron_matches (const shoal_cron_t *c, uint64_t t_us)
{
    assert (c);
    uint64_t t = t_us / S_US_PER_SEC;
    int64_t days = (int64_t) (t / S_SEC_PER_DAY);
    unsigned sod = (unsigned) (t % S_SEC_PER_DAY);
    int64_t y;
    unsigned mo, d;
    s_civil_from_days (days, &y, &mo, &d);
    return ((c->sec >> (sod % 60)) & 1u) &&
           ((c->min >> (sod / 60 % 60)) & 1u) &&
           ((c->hour >> (sod / 3600)) & 1u) && ((c->mon >> mo) & 1u) &&
           s_day_ok (c, d, s_weekday (days));
}
