/*  shoal_cron.h - cron expressions and their next fire time, in UTC.

    Syntax: five fields
        minute hour day-of-month month day-of-week
    or six, with a leading seconds field
        second minute hour day-of-month month day-of-week
    separated by spaces or tabs. Ranges: second and minute 0-59, hour
    0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or
    SUN-SAT (0 and 7 are both Sunday); names are three letters, any case.
    Each field is a comma list of items, an item being
        *            every value            a-b      a range (a <= b)
        n            one value              a-b/s    every s-th of a range
        * /s         every s-th value (no space: it is there only because
                     the pair would end this comment)
        n/s          every s-th from n to the field's maximum (as cronie)
    A step is 1 to the field's maximum.
    With five fields the second is 0. Macros: @yearly (@annually),
    @monthly, @weekly, @daily (@midnight), @hourly; @reboot is rejected.
    Not supported (rejected with a message): L, W, #, ?, ranges that
    wrap ("FRI-MON"), a year field.

    Day-of-month and day-of-week follow Vixie cron: when both fields are
    restricted a day matches if EITHER matches ("0 0 13 * FRI" fires on
    every 13th and every Friday); when either field starts with '*'
    (including "* /2") a day must match both.

    All times are UTC, in microseconds since the Unix epoch: there is no
    time zone and so no daylight-saving gap or repeat. Nothing here reads
    a clock; the caller passes the time. Pure functions, no allocation,
    thread safe.
*/
#ifndef SHOAL_CRON_H_INCLUDED
#define SHOAL_CRON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol/shoal_err.h"

/*  shoal_cron_t.flags: the day field began with '*'. */
#define SHOAL_CRON_DOM_STAR 0x01
#define SHOAL_CRON_DOW_STAR 0x02

/*  How far shoal_cron_next looks: the year of the first candidate and
    the next SHOAL_CRON_HORIZON_YEARS. */
#define SHOAL_CRON_HORIZON_YEARS 5

/*  A parsed expression: one bit per allowed value, bit n = value n.
    A plain value type of 32 bytes with no pointers and no padding: copy
    it, compare it with memcmp, keep it in memory. Its layout is this
    host's, so a store keeps the expression text and parses it again on
    load. */
typedef struct {
    uint64_t sec;   /* bits 0-59 */
    uint64_t min;   /* bits 0-59 */
    uint32_t hour;  /* bits 0-23 */
    uint32_t dom;   /* bits 1-31 */
    uint16_t mon;   /* bits 1-12 */
    uint16_t dow;   /* bits 0-6, 0 = Sunday (7 is folded into 0) */
    uint32_t flags; /* SHOAL_CRON_DOM_STAR | SHOAL_CRON_DOW_STAR */
} shoal_cron_t;

/*  Parses the NUL-terminated expr into *out (written only on success).
    SHOAL_ERR_INVALID on any error, with a one-line message naming the
    field written to err (NUL-terminated, truncated to err_cap; err may be
    NULL when err_cap is 0), e.g.
        "hour: 24 is out of range 0-23"
        "day-of-week: unknown name \"FUN\""
        "expected 5 or 6 fields, got 4" */
shoal_err_t shoal_cron_parse (const char *expr, shoal_cron_t *out, char *err,
                              size_t err_cap);

/*  The first fire time strictly after after_us, at whole seconds: sets
    *next_us and returns true. Returns false (leaving *next_us alone) when
    nothing matches before the end of the horizon, which is at least five
    years: "0 0 30 2 *" never fires. Note that a Feb 29 schedule looked up
    from 2097-03 finds nothing, 2100 not being a leap year. Cost: a few
    steps per field, not per second. */
bool shoal_cron_next (const shoal_cron_t *c, uint64_t after_us,
                      uint64_t *next_us);

/*  True if the second that contains t_us matches c. */
bool shoal_cron_matches (const shoal_cron_t *c, uint64_t t_us);

#endif
