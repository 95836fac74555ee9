/* A minimal test harness for the C tests: counts checks, prints failures,
 * and ends with the "N passed, N failed" line the CI reads. */
#ifndef PUSHBUS_TEST_CHECK_H
#define PUSHBUS_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int checks_passed;
static int checks_failed;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            checks_passed++;                                                 \
        } else {                                                             \
            checks_failed++;                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

/* The call returns `status`. */
#define IS(call, status) CHECK((call) == (status))
#define OK(call) IS(call, PUSHBUS_OK)

/* A string literal as pointer and length. */
#define S(literal) literal, (sizeof(literal) - 1)

/* Bytes `ptr`/`len` equal the literal. */
#define SAME(ptr, len, literal)                                              \
    CHECK((len) == sizeof(literal) - 1 && memcmp((ptr), (literal), (len)) == 0)

static inline int checks_report(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif
