/* kernels/exp.c - e^x over an array of doubles in a loop the compiler
 * vectorizes. The gates that take an exponential per element of a row
 * (softmax cross-entropy, softmax) spent more on libm's exp, a call per
 * element, than on the rest of their work.
 *
 * x = k ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 in two parts, so k ln2
 * is exact to 2^-100), e^r by its Taylor polynomial to degree 13 (the
 * remainder under 2^-55 of the result), and 2^k written into the exponent
 * bits, in two factors where 2^k itself is not a normal double (results
 * past the overflow and into the subnormals then round once, as libm's
 * do). Within 1 ulp of e^x (the tests check samples against the long
 * double expl); NaN gives NaN, -inf 0 and +inf inf.
 *
 * Only exactly rounded operations, lane by lane, and no contraction into
 * FMAs (ISO C mode): the vectorized clone and the baseline one, and so
 * every CPU, give the same bits. */
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"

/* Past these, e^x is 0 or inf in double: clamping keeps k in range. */
#define EXP_LOW (-746.0)
#define EXP_HIGH 710.0

static inline double exp_lane(double x)
{
    const double log2e = 0x1.71547652b82fep0;
    const double ln2_hi = 0x1.62e42fefa3800p-1; /* k * ln2_hi is exact for |k| < 2^11 */
    const double ln2_lo = 0x1.ef35793c7673p-45;
    const double round_shift = 0x1.8p52; /* adding it rounds to an integer */
    double c = x < EXP_LOW ? EXP_LOW : x > EXP_HIGH ? EXP_HIGH : x; /* NaN stays NaN */
    double kd = c * log2e + round_shift;
    uint64_t kbits;
    memcpy(&kbits, &kd, sizeof kbits);
    int64_t k = (int64_t)(kbits & 0xfffffffffffffu) - (INT64_C(1) << 51); /* round(c log2e) */
    kd -= round_shift;
    double r = (c - kd * ln2_hi) - kd * ln2_lo;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = 1.0 + (r + r * r * p);
    /* 2^k = 2^(k - k2) * 2^k2, both factors normal. */
    int64_t k2 = k < -1000 ? -200 : k > 1000 ? 200 : 0;
    uint64_t b1 = (uint64_t)(k - k2 + 1023) << 52, b2 = (uint64_t)(k2 + 1023) << 52;
    double s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* Static, behind a plain function: GCC exports a target_clones function
 * and its resolver whatever the library's hidden visibility says. */
GGK_VEC static void exp_loop(const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = exp_lane(x[i]);
}

void ggk_exp_f64(const double *x, double *y, size_t n) { exp_loop(x, y, n); }
