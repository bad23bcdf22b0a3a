/* testutil.h - what every cmocka test program here includes. */
#ifndef GG_TESTUTIL_H
#define GG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Fails with both numbers printed unless |actual - expected| <= tol. */
#define assert_near(actual, expected, tol)                                              \
    do {                                                                                \
        double a_ = (actual), e_ = (expected);                                          \
        if (!(fabs(a_ - e_) <= (tol)))                                                  \
            fail_msg("%s = %.17g, expected %.17g (tol %g)", #actual, a_, e_, (double)(tol)); \
    } while (0)

/* Fails unless haystack contains needle, printing both. */
#define assert_contains(haystack, needle)                                               \
    do {                                                                                \
        const char *h_ = (haystack), *n_ = (needle);                                    \
        if (!h_ || !strstr(h_, n_))                                                     \
            fail_msg("'%s' does not contain '%s'", h_ ? h_ : "(null)", n_);             \
    } while (0)

#endif
