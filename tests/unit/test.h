/*
 * test.h — a tiny assertion harness for the unit tests.
 *
 * Each unit test is one executable registered with ctest. CHECK records a
 * failure with file and line and keeps going; TEST_MAIN_END prints
 * "N passed, N failed" and returns non-zero if anything failed.
 */
#ifndef CHORUS_TEST_H
#define CHORUS_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond) do { \
    if (cond) test_passed++; \
    else { test_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
    long long _a = (long long)(a), _b = (long long)(b); \
    if (_a == _b) test_passed++; \
    else { test_failed++; fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
                                  __FILE__, __LINE__, #a, _a, #b, _b); } \
} while (0)

#define CHECK_EQ_STR(a, b) do { \
    const char *_a = (a), *_b = (b); \
    if (_a && _b && strcmp(_a, _b) == 0) test_passed++; \
    else { test_failed++; fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
                                  __FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)"); } \
} while (0)

#define TEST_MAIN_END() do { \
    printf("%d passed, %d failed\n", test_passed, test_failed); \
    return test_failed ? 1 : 0; \
} while (0)

#endif
