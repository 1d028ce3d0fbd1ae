/*  test_err.c - shoal_strerror and shoal_errname.

    The numbers are wire values, so the test pins each one to its name:
    a renumbering or a missing table entry fails here first.
*/
#include "shoal_test.h"

#include "shoal_err.h"

typedef struct {
    int code;
    const char *name;
} s_code_t;

static const s_code_t s_codes[] = {
    {SHOAL_OK, "OK"},
    {SHOAL_ERR_MALFORMED, "MALFORMED"},
    {SHOAL_ERR_TOO_LARGE, "TOO_LARGE"},
    {SHOAL_ERR_VERSION, "VERSION"},
    {SHOAL_ERR_INTERRUPTED, "INTERRUPTED"},
    {SHOAL_ERR_NOMEM, "NOMEM"},
    {SHOAL_ERR_INVALID, "INVALID"},
    {SHOAL_ERR_UNKNOWN_TYPE, "UNKNOWN_TYPE"},
    {SHOAL_ERR_NOT_FOUND, "NOT_FOUND"},
    {SHOAL_ERR_UNREACHABLE, "UNREACHABLE"},
    {SHOAL_ERR_TIMEOUT, "TIMEOUT"},
    {SHOAL_ERR_STORAGE, "STORAGE"},
    {SHOAL_ERR_MAP_FULL, "MAP_FULL"},
    {SHOAL_ERR_CORRUPT, "CORRUPT"},
    {SHOAL_ERR_BUSY, "BUSY"},
    {SHOAL_ERR_IO, "IO"},
    {SHOAL_ERR_STATE, "STATE"},
    {SHOAL_ERR_STALE, "STALE"},
    {SHOAL_ERR_CONFIG, "CONFIG"},
    {SHOAL_ERR_HANDLER, "HANDLER"},
};

#define S_NCODES (sizeof s_codes / sizeof s_codes[0])

SHOAL_TEST (test_err_wire_numbers)
{
    /* Appending a code must not move the others. */
    CHECK_EQ (S_NCODES, SHOAL_ERR__COUNT);
    for (size_t i = 0; i < S_NCODES; i++) {
        CHECK_EQ (s_codes[i].code, i);
    }
    CHECK_EQ (SHOAL_ERR_MALFORMED, 1);
    CHECK_EQ (SHOAL_ERR_NOT_FOUND, 8);
    CHECK_EQ (SHOAL_ERR_HANDLER, 19);
}

SHOAL_TEST (test_err_names)
{
    for (size_t i = 0; i < S_NCODES; i++) {
        CHECK_STR (shoal_errname (s_codes[i].code), s_codes[i].name);
    }
}

SHOAL_TEST (test_err_texts)
{
    for (size_t i = 0; i < S_NCODES; i++) {
        const char *text = shoal_strerror (s_codes[i].code);
        CHECK (text != NULL);
        CHECK (text[0] != '\0');
        CHECK (strcmp (text, "unknown error") != 0);
        /* Each code has its own text, so logs can tell them apart. */
        for (size_t j = 0; j < i; j++) {
            CHECK (strcmp (text, shoal_strerror (s_codes[j].code)) != 0);
        }
    }
    CHECK_STR (shoal_strerror (SHOAL_OK), "success");
    CHECK_STR (shoal_strerror (SHOAL_ERR_MALFORMED), "malformed message");
}

SHOAL_TEST (test_err_unknown)
{
    static const int unknown[] = {
        -1, -1000, SHOAL_ERR__COUNT, SHOAL_ERR__COUNT + 1, 1000, 0x7fffffff};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_STR (shoal_strerror (unknown[i]), "unknown error");
        CHECK_STR (shoal_errname (unknown[i]), "UNKNOWN");
    }
}

SHOAL_TEST (test_err_setf)
{
    char err[16] = "untouched";
    CHECK_EQ (shoal_err_setf (err, sizeof err, "bad %s at %d", "value", 7),
              SHOAL_ERR_INVALID);
    CHECK_STR (err, "bad value at 7");
    /* truncated to the buffer, always terminated */
    shoal_err_setf (err, 5, "%s", "abcdefgh");
    CHECK_STR (err, "abcd");
    /* no buffer: still the code */
    CHECK_EQ (shoal_err_setf (NULL, 0, "x"), SHOAL_ERR_INVALID);
}

SHOAL_TEST_MAIN (test_err_wire_numbers, test_err_names, test_err_texts,
                 test_err_unknown, test_err_setf)
