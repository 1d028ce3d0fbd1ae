/*  test_id.c - time-ordered ids: ordering under a frozen or stepping-back
    clock, the text form and its parser. The clock is a plain argument, so
    no test waits for time to pass.
*/
#include "shoal_test.h"

#include "shoal_id.h"

#define S_MANY 100000

/*  Byte order is time order: memcmp is the ordering the store relies on. */
static int
s_cmp (const shoal_id_t *a, const shoal_id_t *b)
{
    return memcmp (a->b, b->b, sizeof a->b);
}

static unsigned
s_seq (const shoal_id_t *id)
{
    return (unsigned) id->b[6] << 8 | id->b[7];
}

SHOAL_TEST (test_id_same_ms)
{
    shoal_idgen_t gen;
    CHECK_OK (shoal_idgen_init (&gen));
    const uint64_t ms = 1700000000000ULL;
    shoal_id_t prev, id;
    shoal_idgen_next (&gen, ms, &prev);
    CHECK_EQ (shoal_id_ms (&prev), ms);
    CHECK_EQ (s_seq (&prev), 0);
    CHECK (!shoal_id_is_zero (&prev));
    for (int i = 1; i < S_MANY; i++) {
        shoal_idgen_next (&gen, ms, &id);
        if (s_cmp (&prev, &id) >= 0) {
            SHOAL_FAIL_ ("id %d not greater than id %d", i, i - 1);
        }
        prev = id;
    }
    /* 65536 per millisecond, then the generator borrows the next one. */
    CHECK_EQ (shoal_id_ms (&prev), ms + 1);
    CHECK_EQ (s_seq (&prev), (S_MANY - 1) - 65536);
}

SHOAL_TEST (test_id_clock_steps_back)
{
    shoal_idgen_t gen;
    CHECK_OK (shoal_idgen_init (&gen));
    const uint64_t ms = 1700000000000ULL;
    shoal_id_t prev, id;
    shoal_idgen_next (&gen, ms, &prev);
    /* Back by a second, then back and forth below the high mark. */
    static const int64_t steps[] = {-1000, -1, -5000, 0, -1, -2, 0, -999};
    for (int round = 0; round < S_MANY / 8; round++) {
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            shoal_idgen_next (&gen, (uint64_t) ((int64_t) ms + steps[i]), &id);
            if (s_cmp (&prev, &id) >= 0) {
                SHOAL_FAIL_ ("round %d step %zu: id not increasing", round, i);
            }
            CHECK (shoal_id_ms (&id) >= ms);
            prev = id;
        }
    }
    /* Going forward again resets the sequence at the new millisecond. */
    shoal_idgen_next (&gen, ms + 10, &id);
    CHECK (s_cmp (&prev, &id) < 0);
    CHECK_EQ (shoal_id_ms (&id), ms + 10);
    CHECK_EQ (s_seq (&id), 0);
}

SHOAL_TEST (test_id_generators_differ)
{
    /* Two generators at the same instant differ in the random tail. */
    shoal_idgen_t a, b;
    CHECK_OK (shoal_idgen_init (&a));
    CHECK_OK (shoal_idgen_init (&b));
    shoal_id_t ia, ib;
    shoal_idgen_next (&a, 42, &ia);
    shoal_idgen_next (&b, 42, &ib);
    CHECK (memcmp (ia.b, ib.b, 8) == 0);
    CHECK (memcmp (ia.b + 8, ib.b + 8, 8) != 0);
}

SHOAL_TEST (test_id_format_parse)
{
    shoal_idgen_t gen;
    CHECK_OK (shoal_idgen_init (&gen));
    for (int i = 0; i < 1000; i++) {
        shoal_id_t id, back;
        char text[SHOAL_ID_TEXT];
        shoal_idgen_next (&gen, 1700000000000ULL + (uint64_t) i, &id);
        memset (text, 'x', sizeof text);
        shoal_id_format (&id, text);
        CHECK_EQ (strlen (text), 32);
        for (int k = 0; k < 32; k++) {
            CHECK ((text[k] >= '0' && text[k] <= '9') ||
                   (text[k] >= 'a' && text[k] <= 'f'));
        }
        memset (&back, 0, sizeof back);
        CHECK_OK (shoal_id_parse (text, 32, &back));
        CHECK (s_cmp (&id, &back) == 0);
    }
}

SHOAL_TEST (test_id_known_value)
{
    shoal_id_t id;
    for (int i = 0; i < 16; i++) {
        id.b[i] = (uint8_t) (i * 17);
    }
    char text[SHOAL_ID_TEXT];
    shoal_id_format (&id, text);
    CHECK_STR (text, "00112233445566778899aabbccddeeff");
    CHECK_EQ (shoal_id_ms (&id), 0x001122334455ULL);

    shoal_id_t up;
    CHECK_OK (shoal_id_parse ("00112233445566778899AABBCCDDEEFF", 32, &up));
    CHECK (s_cmp (&id, &up) == 0);

    shoal_id_t zero;
    CHECK_OK (shoal_id_parse ("00000000000000000000000000000000", 32, &zero));
    CHECK (shoal_id_is_zero (&zero));
    CHECK (!shoal_id_is_zero (&id));
}

SHOAL_TEST (test_id_parse_rejects)
{
    const char *good = "0123456789abcdef0123456789abcdef";
    shoal_id_t id;
    /* Wrong lengths, whatever the text holds. */
    CHECK_RC (shoal_id_parse (good, 31, &id), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_id_parse ("0123456789abcdef0123456789abcdef0", 33, &id),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_id_parse ("0123456789abcdef0123456789abcde", 31, &id),
              SHOAL_ERR_INVALID);
    CHECK_RC (shoal_id_parse ("", 0, &id), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_id_parse (NULL, 32, &id), SHOAL_ERR_INVALID);
    CHECK_OK (shoal_id_parse (good, 32, &id));

    /* One bad character at every position. */
    static const char bad[] = {'g',  'G', 'z', ' ', '-', 'x',
                               '\0', '/', ':', '@', '`', (char) 0xff};
    for (int pos = 0; pos < 32; pos++) {
        for (size_t b = 0; b < sizeof bad; b++) {
            char text[33];
            memcpy (text, good, 33);
            text[pos] = bad[b];
            if (shoal_id_parse (text, 32, &id) != SHOAL_ERR_INVALID) {
                SHOAL_FAIL_ ("accepted 0x%02x at %d", (unsigned char) bad[b],
                             pos);
            }
        }
    }
}

SHOAL_TEST_MAIN (test_id_same_ms, test_id_clock_steps_back,
                 test_id_generators_differ, test_id_format_parse,
                 test_id_known_value, test_id_parse_rejects)
