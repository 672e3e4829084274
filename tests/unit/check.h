/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Minimal assertion helpers for unit tests: each CHECK counts, a failure prints
 * file:line and the expression, and check_done() prints the summary and exit code. */
#ifndef LBVM_CHECK_H
#define LBVM_CHECK_H
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) do { \
        if (cond) check_passed++; \
        else { check_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_EQ(a, b) do { \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
        if (a_ == b_) check_passed++; \
        else { check_failed++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %#" PRIx64 ", expected %s == %#" PRIx64 "\n", \
                                       __FILE__, __LINE__, #a, a_, #b, b_); } \
    } while (0)

#define CHECK_STR(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        if (a_ && !strcmp(a_, b_)) check_passed++; \
        else { check_failed++; fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", \
                                       __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_); } \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed || !check_passed ? 1 : 0;
}
#endif
