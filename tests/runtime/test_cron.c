/*  test_cron.c - cron expressions against a calendar: known schedules
    across weekends, month ends, leap years and year ends, the Vixie
    day-of-month/day-of-week rule, the seconds field, macros, error
    messages, and next() against a brute-force scan. Expected times come
    from libc's timegm, an implementation independent of the module's. */
#include "shoal_test.h"
#include "shoal_cron.h"

#include <time.h>

#define US 1000000ull

/*  "YYYY-MM-DD HH:MM:SS" (UTC) -> microseconds. */
static uint64_t
s_at (const char *text)
{
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    if (sscanf (text, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
        abort ();
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (uint64_t) timegm (&tm) * US;
}

/*  Microseconds -> "YYYY-MM-DD HH:MM:SS" in a static buffer (one of a few,
    so two may appear in one CHECK). */
static const char *
s_fmt (uint64_t us)
{
    static char bufs[4][32];
    static int next;
    char *b = bufs[next++ % 4];
    time_t t = (time_t) (us / US);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (b, 32, "%Y-%m-%d %H:%M:%S", &tm);
    return b;
}

/*  The next fire time of expr after `after`, formatted, or "none". */
static const char *
s_next (const char *expr, const char *after)
{
    shoal_cron_t c;
    char err[128];
    if (shoal_cron_parse (expr, &c, err, sizeof err) != SHOAL_OK) {
        fprintf (stderr, "  parse \"%s\": %s\n", expr, err);
        return "parse error";
    }
    uint64_t next;
    if (!shoal_cron_next (&c, s_at (after), &next)) {
        return "none";
    }
    return s_fmt (next);
}

static shoal_cron_t
s_cron (const char *expr)
{
    shoal_cron_t c;
    memset (&c, 0xee, sizeof c);
    if (shoal_cron_parse (expr, &c, NULL, 0) != SHOAL_OK) {
        fprintf (stderr, "  parse \"%s\" failed\n", expr);
        abort ();
    }
    return c;
}

SHOAL_TEST (cron_every_5_minutes)
{
    const char *e = "*/5 * * * *";
    CHECK_STR (s_next (e, "2024-01-01 00:00:00"), "2024-01-01 00:05:00");
    CHECK_STR (s_next (e, "2024-01-01 00:04:59"), "2024-01-01 00:05:00");
    CHECK_STR (s_next (e, "2024-01-01 00:05:00"), "2024-01-01 00:10:00");
    CHECK_STR (s_next (e, "2024-01-01 00:57:00"), "2024-01-01 01:00:00");
    CHECK_STR (s_next (e, "2024-01-01 23:55:00"), "2024-01-02 00:00:00");
    /* Strictly after, at whole seconds: 00:04:59.999999 -> 00:05:00, and
       00:05:00.000001 is past 00:05:00. */
    shoal_cron_t c = s_cron (e);
    uint64_t next;
    CHECK (shoal_cron_next (&c, s_at ("2024-01-01 00:05:00") - 1, &next));
    CHECK_STR (s_fmt (next), "2024-01-01 00:05:00");
    CHECK (shoal_cron_next (&c, s_at ("2024-01-01 00:05:00") + 1, &next));
    CHECK_STR (s_fmt (next), "2024-01-01 00:10:00");
    CHECK_EQ (next % US, 0);
}

SHOAL_TEST (cron_weekdays_across_weekend)
{
    const char *e = "0 9 * * MON-FRI";
    /* 2024-01-05 is a Friday. */
    CHECK_STR (s_next (e, "2024-01-05 08:59:59"), "2024-01-05 09:00:00");
    CHECK_STR (s_next (e, "2024-01-05 09:00:00"), "2024-01-08 09:00:00");
    CHECK_STR (s_next (e, "2024-01-06 12:00:00"), "2024-01-08 09:00:00");
    CHECK_STR (s_next (e, "2024-01-07 23:59:59"), "2024-01-08 09:00:00");
    CHECK_STR (s_next (e, "2024-01-08 09:00:00"), "2024-01-09 09:00:00");
    /* The same in numbers, and a range ending in 7 (Sunday). */
    CHECK_STR (s_next ("0 9 * * 1-5", "2024-01-05 09:00:00"),
               "2024-01-08 09:00:00");
    CHECK_STR (s_next ("0 0 * * 6-7", "2024-01-01 00:00:00"),
               "2024-01-06 00:00:00");
    CHECK_STR (s_next ("0 0 * * 6-7", "2024-01-06 00:00:00"),
               "2024-01-07 00:00:00");
    CHECK_STR (s_next ("0 0 * * 6-7", "2024-01-07 00:00:00"),
               "2024-01-13 00:00:00");
}

SHOAL_TEST (cron_month_ends)
{
    CHECK_STR (s_next ("0 0 31 * *", "2024-01-01 00:00:00"),
               "2024-01-31 00:00:00");
    CHECK_STR (s_next ("0 0 31 * *", "2024-01-31 00:00:00"),
               "2024-03-31 00:00:00");
    CHECK_STR (s_next ("0 0 31 * *", "2024-05-31 00:00:00"),
               "2024-07-31 00:00:00");
    CHECK_STR (s_next ("0 0 31 * *", "2024-08-31 00:00:00"),
               "2024-10-31 00:00:00");
    CHECK_STR (s_next ("0 0 30 * *", "2024-01-30 00:00:00"),
               "2024-03-30 00:00:00");
    CHECK_STR (s_next ("0 0 29 * *", "2023-01-29 00:00:00"),
               "2023-03-29 00:00:00");
    CHECK_STR (s_next ("0 0 29 * *", "2024-01-29 00:00:00"),
               "2024-02-29 00:00:00");
    /* "Last day of the month" the Vixie way: 28-31 on any day. */
    CHECK_STR (s_next ("59 23 28-31 * *", "2023-02-28 23:59:00"),
               "2023-03-28 23:59:00");
}

SHOAL_TEST (cron_leap_day)
{
    const char *e = "0 0 29 2 *";
    CHECK_STR (s_next (e, "2023-01-01 00:00:00"), "2024-02-29 00:00:00");
    CHECK_STR (s_next (e, "2024-02-29 00:00:00"), "2028-02-29 00:00:00");
    CHECK_STR (s_next (e, "2024-03-01 00:00:00"), "2028-02-29 00:00:00");
    CHECK_STR (s_next (e, "2096-01-01 00:00:00"), "2096-02-29 00:00:00");
    /* 2000 was a leap year (divisible by 400). */
    CHECK_STR (s_next (e, "1997-01-01 00:00:00"), "2000-02-29 00:00:00");
    /* 2100 is not: the next is 2104, beyond the horizon. */
    CHECK_STR (s_next (e, "2096-03-01 00:00:00"), "none");
    CHECK_STR (s_next ("0 0 28 2 *", "2024-02-28 00:00:00"),
               "2025-02-28 00:00:00");
}

SHOAL_TEST (cron_impossible_dates)
{
    CHECK_STR (s_next ("0 0 30 2 *", "2024-01-01 00:00:00"), "none");
    CHECK_STR (s_next ("0 0 31 4 *", "2024-01-01 00:00:00"), "none");
    CHECK_STR (s_next ("0 0 31 2,4,6,9,11 *", "2024-01-01 00:00:00"), "none");
    CHECK_STR (s_next ("* * 30,31 FEB *", "2024-01-01 00:00:00"), "none");
    /* But not when day-of-week is restricted too: OR. */
    CHECK_STR (s_next ("0 0 30 2 MON", "2024-01-01 00:00:00"),
               "2024-02-05 00:00:00");
    shoal_cron_t c = s_cron ("0 0 30 2 *");
    uint64_t next = 42;
    CHECK (!shoal_cron_next (&c, 0, &next));
    CHECK_EQ (next, 42);
}

SHOAL_TEST (cron_dom_dow_either_matches)
{
    /* Both restricted: the 13th OR a Friday. 2024-01-12 is a Friday,
       2024-01-13 a Saturday. */
    const char *e = "0 0 13 * FRI";
    CHECK_STR (s_next (e, "2024-01-01 00:00:00"), "2024-01-05 00:00:00");
    CHECK_STR (s_next (e, "2024-01-05 00:00:00"), "2024-01-12 00:00:00");
    CHECK_STR (s_next (e, "2024-01-12 00:00:00"), "2024-01-13 00:00:00");
    CHECK_STR (s_next (e, "2024-01-13 00:00:00"), "2024-01-19 00:00:00");
    /* The first of the month or any Monday. 2024-02-01 is a Thursday. */
    CHECK_STR (s_next ("0 0 1 * MON", "2024-01-29 00:00:00"),
               "2024-02-01 00:00:00");
    CHECK_STR (s_next ("0 0 1 * MON", "2024-02-01 00:00:00"),
               "2024-02-05 00:00:00");
    shoal_cron_t c = s_cron (e);
    CHECK_EQ (c.flags, 0);
}

SHOAL_TEST (cron_dom_dow_star_means_both)
{
    /* "*" in either field: a day must match both fields. */
    CHECK_STR (s_next ("0 0 * * MON", "2024-01-01 00:00:00"),
               "2024-01-08 00:00:00");
    CHECK_STR (s_next ("0 0 13 * *", "2024-01-01 00:00:00"),
               "2024-01-13 00:00:00");
    /* "*" + "/2" counts as a star (Vixie): odd days that are Mondays.
       January 2024's Mondays are 1, 8, 15, 22, 29. */
    const char *e = "0 0 */2 * MON";
    shoal_cron_t c = s_cron (e);
    CHECK_EQ (c.flags, SHOAL_CRON_DOM_STAR);
    CHECK_STR (s_next (e, "2024-01-01 00:00:00"), "2024-01-15 00:00:00");
    CHECK_STR (s_next (e, "2024-01-15 00:00:00"), "2024-01-29 00:00:00");
    c = s_cron ("0 0 1 * */2");
    CHECK_EQ (c.flags, SHOAL_CRON_DOW_STAR);
    c = s_cron ("0 0 * * *");
    CHECK_EQ (c.flags, SHOAL_CRON_DOM_STAR | SHOAL_CRON_DOW_STAR);
    /* A list that covers every day is not a star: 1-31 OR Monday. */
    CHECK_STR (s_next ("0 0 1-31 * MON", "2024-01-01 00:00:00"),
               "2024-01-02 00:00:00");
}

SHOAL_TEST (cron_seconds_field)
{
    CHECK_STR (s_next ("*/15 * * * * *", "2024-01-01 00:00:00"),
               "2024-01-01 00:00:15");
    CHECK_STR (s_next ("*/15 * * * * *", "2024-01-01 00:00:45"),
               "2024-01-01 00:01:00");
    CHECK_STR (s_next ("30 0 12 * * *", "2024-01-01 00:00:00"),
               "2024-01-01 12:00:30");
    CHECK_STR (s_next ("30 0 12 * * *", "2024-01-01 12:00:30"),
               "2024-01-02 12:00:30");
    CHECK_STR (s_next ("* * * * * *", "2024-01-01 23:59:59"),
               "2024-01-02 00:00:00");
    CHECK_STR (s_next ("59 59 23 31 12 *", "2024-06-01 00:00:00"),
               "2024-12-31 23:59:59");
    shoal_cron_t c5 = s_cron ("0 12 * * *");
    shoal_cron_t c6 = s_cron ("0 0 12 * * *");
    CHECK (memcmp (&c5, &c6, sizeof c5) == 0);
    /* Every second: the next whole second. */
    shoal_cron_t c = s_cron ("* * * * * *");
    uint64_t next;
    CHECK (shoal_cron_next (&c, 1000 * US + 500000, &next));
    CHECK_EQ (next, 1001 * US);
}

SHOAL_TEST (cron_year_rollover)
{
    CHECK_STR (s_next ("0 0 1 1 *", "2023-12-31 23:59:59"),
               "2024-01-01 00:00:00");
    CHECK_STR (s_next ("0 0 1 1 *", "2024-01-01 00:00:00"),
               "2025-01-01 00:00:00");
    CHECK_STR (s_next ("59 23 31 12 *", "2024-12-31 23:59:00"),
               "2025-12-31 23:59:00");
    CHECK_STR (s_next ("0 * * * *", "2024-12-31 23:30:00"),
               "2025-01-01 00:00:00");
    /* Day-of-month is "*": Mondays of January only. */
    CHECK_STR (s_next ("0 0 * JAN MON", "2024-12-01 00:00:00"),
               "2025-01-06 00:00:00");
    /* From the epoch itself: strictly after 1970-01-01 00:00:00. */
    shoal_cron_t c = s_cron ("0 0 1 1 *");
    uint64_t next;
    CHECK (shoal_cron_next (&c, 0, &next));
    CHECK_STR (s_fmt (next), "1971-01-01 00:00:00");
}

SHOAL_TEST (cron_utc_has_no_dst)
{
    /* 2024-03-10 (US) and 2024-03-31, 2024-10-27 (EU) change clocks in
       local time; in UTC 02:30 comes every day, 86400 s apart. */
    shoal_cron_t c = s_cron ("30 2 * * *");
    const char *starts[] = {"2024-03-08 00:00:00", "2024-03-29 00:00:00",
                            "2024-10-25 00:00:00", "2024-11-01 00:00:00"};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        uint64_t t = s_at (starts[i]), prev = 0;
        for (int day = 0; day < 5; day++) {
            CHECK (shoal_cron_next (&c, t, &t));
            CHECK_EQ (t / US % 86400, 2 * 3600 + 30 * 60);
            if (prev) {
                CHECK_EQ (t - prev, 86400 * US);
            }
            prev = t;
        }
    }
}

SHOAL_TEST (cron_macros)
{
    static const char *const pairs[][2] = {
        {"@yearly", "0 0 1 1 *"},    {"@annually", "0 0 1 1 *"},
        {"@monthly", "0 0 1 * *"},   {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},    {"@DAILY", "0 0 * * *"},
        {" @Hourly\t", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        shoal_cron_t a = s_cron (pairs[i][0]), b = s_cron (pairs[i][1]);
        if (memcmp (&a, &b, sizeof a) != 0) {
            SHOAL_FAIL_ ("%s != %s", pairs[i][0], pairs[i][1]);
        }
    }
    /* 2024-01-07 is a Sunday. */
    CHECK_STR (s_next ("@weekly", "2024-01-01 00:00:00"),
               "2024-01-07 00:00:00");
    CHECK_STR (s_next ("@monthly", "2024-01-01 00:00:00"),
               "2024-02-01 00:00:00");
    CHECK_STR (s_next ("@hourly", "2024-01-01 00:00:00"),
               "2024-01-01 01:00:00");
}

SHOAL_TEST (cron_names_and_sunday)
{
    shoal_cron_t a = s_cron ("0 0 * jan,Mar,DEC sun");
    CHECK_EQ (a.mon, (1u << 1) | (1u << 3) | (1u << 12));
    CHECK_EQ (a.dow, 1);
    shoal_cron_t b = s_cron ("0 0 * 1,3,12 0");
    shoal_cron_t c = s_cron ("0 0 * 1,3,12 7");
    CHECK (memcmp (&a, &b, sizeof a) == 0);
    CHECK (memcmp (&a, &c, sizeof a) == 0);
    CHECK_EQ (s_cron ("0 0 * * 5-7").dow, (1u << 5) | (1u << 6) | 1u);
    CHECK_EQ (s_cron ("0 0 * * SUN-SAT").dow, 0x7f);
    CHECK_EQ (s_cron ("0 0 * * *").dow, 0x7f);
    CHECK_EQ (s_cron ("0 0 * * */2").dow, 0x55);
    CHECK_EQ (s_cron ("0 0 * jun-AUG *").mon, 0x7u << 6);
    CHECK_EQ (s_cron ("0 0 * * mOn-fRi").dow, 0x3e);
}

SHOAL_TEST (cron_lists_ranges_steps)
{
    shoal_cron_t c = s_cron ("0,30 9-17/2 * * *");
    CHECK (c.min == ((1ull << 0) | (1ull << 30)));
    CHECK_EQ (c.hour,
              (1u << 9) | (1u << 11) | (1u << 13) | (1u << 15) | (1u << 17));
    CHECK (c.sec == 1);
    c = s_cron ("5/15 * * * *");
    CHECK (c.min == ((1ull << 5) | (1ull << 20) | (1ull << 35) | (1ull << 50)));
    c = s_cron ("1-10/3,59 * * * *");
    CHECK (c.min == ((1ull << 1) | (1ull << 4) | (1ull << 7) | (1ull << 10) |
                     (1ull << 59)));
    c = s_cron ("* * * * *");
    CHECK (c.min == (1ull << 60) - 1);
    CHECK_EQ (c.hour, (1u << 24) - 1);
    CHECK_EQ (c.dom, 0xfffffffeu);
    CHECK_EQ (c.mon, 0x1ffe);
    c = s_cron ("*/59 * * * *"); /* a step up to the field's maximum */
    CHECK (c.min == ((1ull << 0) | (1ull << 59)));
    c = s_cron ("3,3,3 * * * *");
    CHECK (c.min == 8);
    c = s_cron ("  0   0\t * *  * ");
    CHECK (c.min == 1 && c.hour == 1);
    CHECK_STR (s_next ("0,30 9-17/2 * * *", "2024-01-01 09:30:00"),
               "2024-01-01 11:00:00");
    CHECK_STR (s_next ("0,30 9-17/2 * * *", "2024-01-01 17:30:00"),
               "2024-01-02 09:00:00");
}

SHOAL_TEST (cron_invalid_with_messages)
{
    static const char *const cases[][2] = {
        {"", "expected 5 or 6 fields, got 0"},
        {"   ", "expected 5 or 6 fields, got 0"},
        {"* * * *", "expected 5 or 6 fields, got 4"},
        {"* * * * * * *", "expected 5 or 6 fields, got 7"},
        {"60 * * * *", "minute: 60 is out of range 0-59"},
        {"61 * * * * *", "second: 61 is out of range 0-59"},
        {"* 24 * * *", "hour: 24 is out of range 0-23"},
        {"* * 0 * *", "day-of-month: 0 is out of range 1-31"},
        {"* * 32 * *", "day-of-month: 32 is out of range 1-31"},
        {"* * * 0 *", "month: 0 is out of range 1-12"},
        {"* * * 13 *", "month: 13 is out of range 1-12"},
        {"* * * * 8", "day-of-week: 8 is out of range 0-7"},
        {"99999999999999 * * * *",
         "minute: 99999999999999 is out of range 0-59"},
        {"* * * FOO *", "month: unknown name \"FOO\""},
        {"* * * * FUN", "day-of-week: unknown name \"FUN\""},
        {"* * * * MONDAY", "day-of-week: unknown name \"MONDAY\""},
        {"* * * JAN-MON *", "month: unknown name \"MON\""},
        {"* * * * JAN", "day-of-week: unknown name \"JAN\""},
        {"MON * * * *", "minute: names like \"MON\" are not allowed"},
        {"* * L * *", "day-of-month: names like \"L\" are not allowed"},
        {"*/0 * * * *", "minute: step 0 is out of range 1-59"},
        {"*/60 * * * *", "minute: step 60 is out of range 1-59"},
        {"*/ * * * *", "minute: a step needs a number after '/'"},
        {"5-1 * * * *", "minute: range 5-1 is backwards"},
        {"* * * * FRI-MON", "day-of-week: range 5-1 is backwards"},
        {"1,,2 * * * *", "minute: empty item in list"},
        {"1, * * * *", "minute: empty item in list"},
        {",1 * * * *", "minute: empty item in list"},
        {"1- * * * *", "minute: a value is missing"},
        {"-1 * * * *", "minute: unexpected \"-\""},
        {"* * * * 5#2", "day-of-week: unexpected \"#\""},
        {"? * * * *", "minute: unexpected \"?\""},
        {"* * ? * *", "day-of-month: unexpected \"?\""},
        {"1x * * * *", "minute: unexpected \"x\""},
        {"*5 * * * *", "minute: unexpected \"5\""},
        {"1-5-7 * * * *", "minute: unexpected \"-\""},
        {"@reboot", "unknown macro \"@reboot\""},
        {"@daily *", "a macro like \"@daily\" stands alone"},
        {"@ * * * *", "a macro like \"@\" stands alone"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_cron_t c;
        memset (&c, 0x5a, sizeof c);
        char err[160];
        CHECK_RC (shoal_cron_parse (cases[i][0], &c, err, sizeof err),
                  SHOAL_ERR_INVALID);
        if (strncmp (err, cases[i][1], strlen (cases[i][1])) != 0) {
            SHOAL_FAIL_ ("\"%s\": got \"%s\", want \"%s...\"", cases[i][0], err,
                         cases[i][1]);
        }
        /* *out is untouched on failure. */
        CHECK_EQ (c.dow, 0x5a5a);
    }
    /* err may be NULL, or too small: truncated, NUL-terminated. */
    shoal_cron_t c;
    CHECK_RC (shoal_cron_parse ("* * *", &c, NULL, 0), SHOAL_ERR_INVALID);
    char small[9];
    CHECK_RC (shoal_cron_parse ("* * *", &c, small, sizeof small),
              SHOAL_ERR_INVALID);
    CHECK_STR (small, "expected");
    /* And cleared on success. */
    char err[32] = "stale";
    CHECK_OK (shoal_cron_parse ("* * * * *", &c, err, sizeof err));
    CHECK_STR (err, "");
}

SHOAL_TEST (cron_matches)
{
    shoal_cron_t c = s_cron ("30 9 * * MON-FRI");
    CHECK (shoal_cron_matches (&c, s_at ("2024-01-08 09:30:00")));
    CHECK (shoal_cron_matches (&c, s_at ("2024-01-08 09:30:00") + 999999));
    CHECK (!shoal_cron_matches (&c, s_at ("2024-01-08 09:30:01")));
    CHECK (!shoal_cron_matches (&c, s_at ("2024-01-06 09:30:00")));
    CHECK (!shoal_cron_matches (&c, s_at ("2024-01-08 10:30:00")));
    c = s_cron ("0 0 29 2 *");
    CHECK (shoal_cron_matches (&c, s_at ("2024-02-29 00:00:00")));
    CHECK (!shoal_cron_matches (&c, s_at ("2024-03-01 00:00:00")));
}

/*  A tiny PRNG for the brute-force comparison. */
static uint64_t
s_rand (uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*  next() must equal the first matching second found by stepping: by
    minutes for five-field expressions (second 0), by seconds for
    six-field ones, over a bounded window. */
SHOAL_TEST (cron_next_equals_brute_force)
{
    static const char *const exprs[] = {
        "*/5 * * * *",       "0 9 * * MON-FRI",   "15,45 */3 * * *",
        "0 0 13 * FRI",      "0 0 */2 * MON",     "0 12 1,15 * *",
        "30 23 28-31 * *",   "0 0 * * 0",         "7 7 7 * *",
        "0 4 8-14 * 2",      "59 23 * * SAT,SUN", "0 0 1 */3 *",
        "*/20 8-10 * * 1-5", "5/17 3 * * *",      "0 0 31 * *",
    };
    static const char *const exprs6[] = {
        "*/7 * * * * *",
        "0,30 */13 * * * *",
        "59 59 * * * *",
        "10-20/5 0 12 * * MON",
    };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint64_t t0 = s_at ("2023-11-01 00:00:00");
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        shoal_cron_t c = s_cron (exprs[i]);
        for (int k = 0; k < 4; k++) {
            /* Anywhere within ~ a year and a half, with sub-seconds. */
            uint64_t after = t0 + s_rand (&seed) % (500ull * 86400 * US);
            uint64_t got = 0, want = 0;
            bool found = shoal_cron_next (&c, after, &got);
            uint64_t m = (after / US / 60 + 1) * 60 * US;
            for (int step = 0; step < 100 * 24 * 60; step++, m += 60 * US) {
                if (shoal_cron_matches (&c, m)) {
                    want = m;
                    break;
                }
            }
            if (!found || got != want) {
                SHOAL_FAIL_ ("\"%s\" after %s: got %s, want %s", exprs[i],
                             s_fmt (after), found ? s_fmt (got) : "none",
                             s_fmt (want));
            }
        }
    }
    for (size_t i = 0; i < sizeof exprs6 / sizeof exprs6[0]; i++) {
        shoal_cron_t c = s_cron (exprs6[i]);
        for (int k = 0; k < 4; k++) {
            uint64_t after = t0 + s_rand (&seed) % (60ull * 86400 * US);
            uint64_t got = 0, want = 0;
            bool found = shoal_cron_next (&c, after, &got);
            uint64_t t = (after / US + 1) * US;
            for (int step = 0; step < 8 * 86400; step++, t += US) {
                if (shoal_cron_matches (&c, t)) {
                    want = t;
                    break;
                }
            }
            if (!found || got != want) {
                SHOAL_FAIL_ ("\"%s\" after %s: got %s, want %s", exprs6[i],
                             s_fmt (after), found ? s_fmt (got) : "none",
                             s_fmt (want));
            }
        }
    }
}

SHOAL_TEST (cron_next_is_a_matching_time)
{
    /* Chained next() over a year always lands on matching seconds and
       never goes backwards. */
    shoal_cron_t c = s_cron ("0 0,12 */3 * WED");
    uint64_t t = s_at ("2024-01-01 00:00:00"), prev = t;
    for (int i = 0; i < 200; i++) {
        CHECK (shoal_cron_next (&c, t, &t));
        CHECK (t > prev);
        CHECK (shoal_cron_matches (&c, t));
        prev = t;
    }
}

SHOAL_TEST (cron_value_type)
{
    CHECK_EQ (sizeof (shoal_cron_t), 32);
    shoal_cron_t a = s_cron ("0 9 * * MON-FRI");
    shoal_cron_t b = a; /* a copy is a full schedule */
    CHECK_STR (s_fmt (0), "1970-01-01 00:00:00");
    uint64_t na, nb;
    CHECK (shoal_cron_next (&a, s_at ("2024-01-05 10:00:00"), &na));
    CHECK (shoal_cron_next (&b, s_at ("2024-01-05 10:00:00"), &nb));
    CHECK_EQ (na, nb);
}

SHOAL_TEST (cron_far_times)
{
    shoal_cron_t c = s_cron ("* * * * * *");
    uint64_t next = 7;
    /* No representable second after the last one. */
    CHECK (!shoal_cron_next (&c, UINT64_MAX, &next));
    CHECK_EQ (next, 7);
    CHECK (!shoal_cron_next (&c, UINT64_MAX / US * US, &next));
    CHECK (shoal_cron_next (&c, (UINT64_MAX / US - 1) * US, &next));
    CHECK (next == UINT64_MAX / US * US);
    /* Year 2400 (a leap year by the 400 rule). */
    CHECK_STR (s_next ("0 0 29 2 *", "2399-06-01 00:00:00"),
               "2400-02-29 00:00:00");
}

SHOAL_TEST_MAIN (cron_every_5_minutes, cron_weekdays_across_weekend,
                 cron_month_ends, cron_leap_day, cron_impossible_dates,
                 cron_dom_dow_either_matches, cron_dom_dow_star_means_both,
                 cron_seconds_field, cron_year_rollover, cron_utc_has_no_dst,
                 cron_macros, cron_names_and_sunday, cron_lists_ranges_steps,
                 cron_invalid_with_messages, cron_matches,
                 cron_next_equals_brute_force, cron_next_is_a_matching_time,
                 cron_value_type, cron_far_times)
