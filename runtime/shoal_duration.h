/*  shoal_duration.h - durations as people write them: "250ms", "1.5s".

    A duration is a uint64_t count of microseconds. Text forms:
        <number><unit>[<number><unit>...]     e.g. "1.5s", "1h30m", "250us"
        <number>                              a bare number is milliseconds
    where <number> is decimal digits with an optional fraction ("1.5";
    neither "1." nor ".5") and <unit> is one of
        us  microseconds      ms  milliseconds      s  seconds
        m   minutes           h   hours             d  days (86400 s)
    Units are lower case. No sign, no spaces, no exponent. A fraction must
    come to a whole number of microseconds ("0.5us" is rejected) and has at
    most 9 digits after the point, trailing zeros aside. Segments of a
    compound ("1h30m") each need a unit and are summed; their order is not
    checked.

    Pure functions: no state, no allocation, thread safe.
*/
#ifndef SHOAL_DURATION_H_INCLUDED
#define SHOAL_DURATION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"

#define SHOAL_US_PER_MS  1000ull
#define SHOAL_US_PER_SEC 1000000ull
#define SHOAL_US_PER_MIN (60ull * SHOAL_US_PER_SEC)
#define SHOAL_US_PER_H   (60ull * SHOAL_US_PER_MIN)
#define SHOAL_US_PER_DAY (24ull * SHOAL_US_PER_H)

/*  A buffer this big always holds shoal_duration_format's output (the
    longest, "18446744073709551.615ms" plus NUL, is 24 bytes). */
#define SHOAL_DURATION_STRLEN 32

/*  Parses the NUL-terminated text s into *us (written only on success).
    SHOAL_ERR_INVALID for empty text, garbage, an unknown unit, a fraction
    finer than a microsecond, or a value over UINT64_MAX microseconds. */
shoal_err_t shoal_duration_parse (const char *s, uint64_t *us);

/*  As shoal_duration_parse, for the len bytes at s (no NUL needed); for
    parsing a duration out of a larger string such as "delay=2s,max=3". */
shoal_err_t shoal_duration_parsen (const char *s, size_t len, uint64_t *us);

/*  Formats us for humans, exactly: the largest unit in which the value is
    at least 1 and has at most three decimals, trailing zeros dropped:
    1500000 -> "1.5s", 250000 -> "250ms", 5400000000 -> "1.5h",
    1234567 -> "1234.567ms", 0 -> "0s". shoal_duration_parse gives back
    the same value. Writes at most cap bytes including the NUL (nothing if
    cap is 0) and returns the length the full text has, like snprintf; a
    SHOAL_DURATION_STRLEN buffer never truncates. */
size_t shoal_duration_format (uint64_t us, char *buf, size_t cap);

#endif
