/*  shoal_test.h - a tiny test harness (in the spirit of nng's nuts.h).

    A test file defines cases with SHOAL_TEST(name) { ... } and lists them
    in SHOAL_TEST_MAIN(case, case, ...). A failed check prints the
    expression, file:line and, for error codes, shoal_strerror, then ends
    that case. The program ends with "N passed, N failed" and exits
    non-zero if anything failed. Run one case: ./test_x name
*/
#ifndef SHOAL_TEST_H_INCLUDED
#define SHOAL_TEST_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal_err.h"

typedef struct {
    const char *name;
    void (*fn) (bool *failed);
} shoal_test_case_t;

#define SHOAL_TEST(name) static void name (bool *shoal_test_failed_)

#define SHOAL_FAIL_(...)                                                       \
    do {                                                                       \
        fprintf (stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);                \
        fprintf (stderr, __VA_ARGS__);                                         \
        fprintf (stderr, "\n");                                                \
        *shoal_test_failed_ = true;                                            \
        return;                                                                \
    } while (0)

#define CHECK(expr)                                                            \
    do {                                                                       \
        if (!(expr)) {                                                         \
            SHOAL_FAIL_ ("CHECK (%s)", #expr);                                 \
        }                                                                      \
    } while (0)

#define CHECK_RC(expr, want)                                                   \
    do {                                                                       \
        int rc_ = (int) (expr);                                                \
        int want_ = (int) (want);                                              \
        if (rc_ != want_) {                                                    \
            SHOAL_FAIL_ ("%s = %d (%s), want %d (%s)", #expr, rc_,             \
                         shoal_strerror (rc_), want_, shoal_strerror (want_)); \
        }                                                                      \
    } while (0)

#define CHECK_OK(expr) CHECK_RC (expr, SHOAL_OK)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long a_ = (long long) (a), b_ = (long long) (b);                  \
        if (a_ != b_) {                                                        \
            SHOAL_FAIL_ ("%s == %s: %lld != %lld", #a, #b, a_, b_);            \
        }                                                                      \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (!a_ || !b_ || strcmp (a_, b_) != 0) {                              \
            SHOAL_FAIL_ ("%s == %s: \"%s\" != \"%s\"", #a, #b,                 \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
        }                                                                      \
    } while (0)

static inline int
shoal_test_run (const shoal_test_case_t *cases, size_t n, int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp (argv[1], cases[i].name) != 0) {
            continue;
        }
        bool f = false;
        cases[i].fn (&f);
        fprintf (stderr, "%s %s\n", f ? "FAIL" : "ok  ", cases[i].name);
        if (f) {
            failed++;
        } else {
            passed++;
        }
    }
    printf ("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define SHOAL_TEST_ENTRY_(fn) {#fn, fn},
#define SHOAL_TEST_MAIN(...)                                                   \
    int main (int argc, char **argv)                                           \
    {                                                                          \
        static const shoal_test_case_t cases_[] = {                            \
            SHOAL_TEST_FOREACH_ (SHOAL_TEST_ENTRY_, __VA_ARGS__)};             \
        return shoal_test_run (cases_, sizeof cases_ / sizeof cases_[0], argc, \
                               argv);                                          \
    }

/* A bounded FOREACH over up to 24 arguments. */
#define SHOAL_TEST_FE_1(m, x)       m (x)
#define SHOAL_TEST_FE_2(m, x, ...)  m (x) SHOAL_TEST_FE_1 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_3(m, x, ...)  m (x) SHOAL_TEST_FE_2 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_4(m, x, ...)  m (x) SHOAL_TEST_FE_3 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_5(m, x, ...)  m (x) SHOAL_TEST_FE_4 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_6(m, x, ...)  m (x) SHOAL_TEST_FE_5 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_7(m, x, ...)  m (x) SHOAL_TEST_FE_6 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_8(m, x, ...)  m (x) SHOAL_TEST_FE_7 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_9(m, x, ...)  m (x) SHOAL_TEST_FE_8 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_10(m, x, ...) m (x) SHOAL_TEST_FE_9 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_11(m, x, ...) m (x) SHOAL_TEST_FE_10 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_12(m, x, ...) m (x) SHOAL_TEST_FE_11 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_13(m, x, ...) m (x) SHOAL_TEST_FE_12 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_14(m, x, ...) m (x) SHOAL_TEST_FE_13 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_15(m, x, ...) m (x) SHOAL_TEST_FE_14 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_16(m, x, ...) m (x) SHOAL_TEST_FE_15 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_17(m, x, ...) m (x) SHOAL_TEST_FE_16 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_18(m, x, ...) m (x) SHOAL_TEST_FE_17 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_19(m, x, ...) m (x) SHOAL_TEST_FE_18 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_20(m, x, ...) m (x) SHOAL_TEST_FE_19 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_21(m, x, ...) m (x) SHOAL_TEST_FE_20 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_22(m, x, ...) m (x) SHOAL_TEST_FE_21 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_23(m, x, ...) m (x) SHOAL_TEST_FE_22 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_24(m, x, ...) m (x) SHOAL_TEST_FE_23 (m, __VA_ARGS__)
#define SHOAL_TEST_FE_N_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12,    \
                         _13, _14, _15, _16, _17, _18, _19, _20, _21, _22,     \
                         _23, _24, N, ...)                                     \
    SHOAL_TEST_FE_##N
#define SHOAL_TEST_FOREACH_(m, ...)                                            \
    SHOAL_TEST_FE_N_ (__VA_ARGS__, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, \
                      13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)               \
    (m, __VA_ARGS__)

#endif
