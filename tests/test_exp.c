/* test_exp.c - the vectorized exponential (kernels/exp.c) against the
 * long double expl: its error over the whole finite range and at the
 * reduction's interval ends, the values at the edges (0, the subnormals,
 * overflow, the infinities, NaN), and arrays of every length and in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gategrad/rng.h"
#include "kernels/kernels.h"

/* |y - e^x| in units of the last place of e^x (the subnormals' ulp below
 * them). */
static double ulps(double y, double x)
{
    long double ref = expl((long double)x);
    int e;
    frexpl(ref, &e);
    long double ulp = fmaxl(ldexpl(1.0L, e - 53), ldexpl(1.0L, -1074));
    return (double)(fabsl((long double)y - ref) / ulp);
}

/* The largest error over n inputs from draw. */
static double max_error(double (*draw)(gg_rng *), size_t n)
{
    gg_rng r;
    gg_rng_seed(&r, 42);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), worst = 0;
    assert_non_null(x);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        x[i] = draw(&r);
    ggk_exp_f64(x, y, n);
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, ulps(y[i], x[i]));
    free(x);
    free(y);
    return worst;
}

/* Uniform over every x whose e^x is finite and not 0. */
static double whole_range(gg_rng *r) { return -745.0 + 1454.78 * gg_rng_uniform(r); }
/* Near the ends of the reduction's intervals, (k + 1/2) ln2. */
static double interval_ends(gg_rng *r)
{
    double k = (double)gg_rng_below(r, 2000) - 1000.0;
    return (k + 0.5) * 0.69314718055994531 + (gg_rng_uniform(r) - 0.5) * 1e-9;
}
/* Where softmax takes them: x - max, in [-30, 0]. */
static double softmax_range(gg_rng *r) { return -30.0 * gg_rng_uniform(r); }

static void within_one_ulp(void **state)
{
    (void)state;
    assert_true(max_error(whole_range, 1u << 20) < 1.0);
    assert_true(max_error(interval_ends, 1u << 18) < 1.0);
    assert_true(max_error(softmax_range, 1u << 18) < 1.0);
}

static void edges(void **state)
{
    (void)state;
    const double x[] = {0.0, -0.0, -INFINITY, INFINITY, NAN, -1e-300, 1e-300,
                        -744.44, -745.14, -708.4, 709.78, 709.79, -1e6, 1e6, 1.0};
    enum { N = sizeof x / sizeof x[0] };
    double y[N];
    ggk_exp_f64(x, y, N);
    assert_true(y[0] == 1.0 && y[1] == 1.0);
    assert_true(y[2] == 0.0 && signbit(y[2]) == 0);
    assert_true(isinf(y[3]) && y[3] > 0);
    assert_true(isnan(y[4]));
    assert_true(y[5] == 1.0 && y[6] == 1.0);
    assert_true(y[7] == 0x1p-1074); /* e^-744.44 rounds to the least subnormal */
    assert_true(y[8] == 0.0);       /* under half of it */
    assert_true(ulps(y[9], x[9]) < 1.0 && y[9] < 0x1p-1022); /* a subnormal */
    assert_true(ulps(y[10], x[10]) < 1.0 && isfinite(y[10]));
    assert_true(isinf(y[11]));
    assert_true(y[12] == 0.0 && isinf(y[13]));
    assert_true(ulps(y[14], 1.0) < 1.0);
}

/* Every length around the vector width gives each element's own value,
 * in place or not, and writes nothing past n. */
static void lengths_and_in_place(void **state)
{
    (void)state;
    double x[40], y[41], z[40];
    for (size_t i = 0; i < 40; i++)
        x[i] = -0.37 * (double)i + 3.0;
    for (size_t n = 0; n <= 40; n++) {
        y[n] = -1.0;
        ggk_exp_f64(x, y, n);
        memcpy(z, x, sizeof z);
        ggk_exp_f64(z, z, n);
        for (size_t i = 0; i < n; i++) {
            double one;
            ggk_exp_f64(&x[i], &one, 1);
            assert_true(y[i] == one && z[i] == one);
        }
        assert_true(y[n] == -1.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(within_one_ulp),
        cmocka_unit_test(edges),
        cmocka_unit_test(lengths_and_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
