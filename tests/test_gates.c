/* test_gates.c - every gate's forward value and backward gradient by hand
 * (PyTorch's conventions at the edges), then by gradient checking on
 * scalars, tensors, broadcast shapes and f32. */
#include "testutil.h"

#include "gategrad.h"
#include "core/core.h"

#define TOL 1e-12

typedef gg_node *(*unary_op)(gg_graph *, gg_node *);
typedef gg_node *(*binary_op)(gg_graph *, gg_node *, gg_node *);

/* Value and d/dx of a unary gate at x. */
static void unary_at(unary_op op, double x, double *value, double *grad)
{
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_scalar(g, x), *y = op(g, a);
    assert_non_null(y);
    assert_int_equal(gg_backward(g, y), 0);
    *value = gg_value(y);
    *grad = gg_grad(a);
    gg_graph_free(g);
}

/* Fails unless got is want to TOL relative + absolute; an expected NaN
 * wants NaN and an expected infinity the same infinity. what and the
 * arguments after it say which check it is. */
#define assert_gate(got, want, what, ...)                                               \
    do {                                                                                \
        double ga_ = (got), ge_ = (want);                                               \
        bool ok_ = isnan(ge_)   ? isnan(ga_)                                            \
                   : isinf(ge_) ? ga_ == ge_                                            \
                                : fabs(ga_ - ge_) <= TOL * (1 + fabs(ge_));             \
        if (!ok_)                                                                       \
            fail_msg(what ": %.17g, expected %.17g", __VA_ARGS__, ga_, ge_);            \
    } while (0)

static void check_unary(unary_op op, double x, double want_value, double want_grad)
{
    double v, d;
    unary_at(op, x, &v, &d);
    assert_gate(v, want_value, "value at x = %.17g", x);
    assert_gate(d, want_grad, "gradient at x = %.17g", x);
}

static gg_node *leaky01(gg_graph *g, gg_node *a) { return gg_leaky_relu(g, a, 0.1); }
static gg_node *elu1(gg_graph *g, gg_node *a) { return gg_elu(g, a, 1.0); }
static gg_node *cube(gg_graph *g, gg_node *a) { return gg_pow(g, a, 3.0); }
static gg_node *sqrt_pow(gg_graph *g, gg_node *a) { return gg_pow(g, a, 0.5); }
static gg_node *pow0(gg_graph *g, gg_node *a) { return gg_pow(g, a, 0.0); }

static void unary_gates_by_hand(void **state)
{
    (void)state;
    double s = 1 / (1 + exp(-0.5));
    check_unary(gg_sigmoid, 0.5, s, s * (1 - s));
    check_unary(gg_sigmoid, -800, 0, 0); /* stable far out: no NaN */
    check_unary(gg_sigmoid, 800, 1, 0);
    check_unary(gg_tanh, 0.3, tanh(0.3), 1 - tanh(0.3) * tanh(0.3));
    check_unary(gg_exp, 1.5, exp(1.5), exp(1.5));
    check_unary(gg_log, 2.0, log(2.0), 0.5);
    check_unary(gg_neg, 4.0, -4.0, -1.0);
    check_unary(gg_copy, 4.0, 4.0, 1.0);
    check_unary(gg_relu, 2.0, 2.0, 1.0);
    check_unary(gg_relu, -2.0, 0.0, 0.0);
    check_unary(leaky01, 2.0, 2.0, 1.0);
    check_unary(leaky01, -2.0, -0.2, 0.1);
    check_unary(elu1, 2.0, 2.0, 1.0);
    check_unary(elu1, -1.0, exp(-1.0) - 1, exp(-1.0));
    check_unary(gg_abs, -3.0, 3.0, -1.0);
    check_unary(gg_abs, 3.0, 3.0, 1.0);
    check_unary(gg_abs, 0.0, 0.0, 0.0);
    check_unary(cube, 2.0, 8.0, 12.0);
    check_unary(sqrt_pow, 4.0, 2.0, 0.25);
    check_unary(pow0, 2.0, 1.0, 0.0);
    check_unary(pow0, 0.0, 1.0, 0.0);  /* PyTorch's: 0, not 0 * 0^-1 = NaN */
    check_unary(pow0, -3.0, 1.0, 0.0);
}

#define PI 3.14159265358979323846
#define LN2 0.69314718055994530942
#define SQRT2 1.41421356237309504880
/* Phi and phi, the standard normal CDF and density, at 1 (to 21 digits). */
#define PHI1 0.841344746068542948585
#define PDF1 0.241970724519143349798

static void new_unary_gates_by_hand(void **state)
{
    (void)state;
    check_unary(gg_sqrt, 4.0, 2.0, 0.25);
    check_unary(gg_sqrt, 2.0, SQRT2, 0.25 * SQRT2);
    check_unary(gg_sqrt, 0.0, 0.0, INFINITY); /* +inf, as torch's */
    check_unary(gg_sqrt, -1.0, NAN, NAN);
    check_unary(gg_sin, 0.0, 0.0, 1.0);
    check_unary(gg_sin, PI / 6, 0.5, 0.5 * sqrt(3.0));
    check_unary(gg_sin, -PI / 2, -1.0, 0.0);
    check_unary(gg_cos, 0.0, 1.0, 0.0);
    check_unary(gg_cos, PI / 3, 0.5, -0.5 * sqrt(3.0));
    check_unary(gg_cos, 2.0, cos(2.0), -sin(2.0));
    check_unary(gg_softplus, 0.0, LN2, 0.5);
    check_unary(gg_softplus, 1.0, 1.3132616875182228, 0.7310585786300049);
    check_unary(gg_softplus, -1.0, 0.31326168751822286, 0.2689414213699951);
    check_unary(gg_softplus, 20.0, 20.000000002061153, 0.9999999979388463); /* not yet x */
    check_unary(gg_softplus, 20.5, 20.5, 1.0);      /* above 20: x itself, gradient 1 */
    check_unary(gg_softplus, 30.0, 30.0, 1.0);
    check_unary(gg_softplus, 1e6, 1e6, 1.0);        /* finite: no exp overflow */
    check_unary(gg_softplus, -50.0, 1.9287498479639178e-22, 1.9287498479639178e-22);
    check_unary(gg_softplus, -1000.0, 0.0, 0.0);
    check_unary(gg_silu, 0.0, 0.0, 0.5);
    check_unary(gg_silu, 1.0, 0.7310585786300049, 0.9276705118714869);  /* s + s(1-s) */
    check_unary(gg_silu, -2.0, -0.2384058440442351, -0.09078424878489547);
    check_unary(gg_silu, 50.0, 50.0, 1.0);
    check_unary(gg_silu, -50.0, -9.64374923981959e-21, -9.450874255023198e-21);
    check_unary(gg_silu, -800.0, 0.0, 0.0);         /* no NaN far out */
    check_unary(gg_silu, 800.0, 800.0, 1.0);
    check_unary(gg_gelu, 0.0, 0.0, 0.5);
    check_unary(gg_gelu, 1.0, PHI1, PHI1 + PDF1);
    check_unary(gg_gelu, -1.0, -(1 - PHI1), (1 - PHI1) - PDF1);
    check_unary(gg_gelu, 40.0, 40.0, 1.0);
    check_unary(gg_gelu, -40.0, 0.0, 0.0);
}

static void check_binary(binary_op op, double a, double b, double want, double da, double db)
{
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, a), *y = gg_scalar(g, b), *z = op(g, x, y);
    assert_int_equal(gg_backward(g, z), 0);
    assert_gate(gg_value(z), want, "%s(%.17g, %.17g)", gg_gate_name(z), a, b);
    assert_gate(gg_grad(x), da, "%s(%.17g, %.17g) d/da", gg_gate_name(z), a, b);
    assert_gate(gg_grad(y), db, "%s(%.17g, %.17g) d/db", gg_gate_name(z), a, b);
    gg_graph_free(g);
}

static void binary_gates_by_hand(void **state)
{
    (void)state;
    check_binary(gg_add, 3, -4, -1, 1, 1);   /* distributor */
    check_binary(gg_sub, 3, -4, 7, 1, -1);
    check_binary(gg_mul, 3, -4, -12, -4, 3); /* swap multiplier */
    check_binary(gg_div, 3, -4, -0.75, -0.25, -3.0 / 16);
    check_binary(gg_max, 2, -1, 2, 1, 0);    /* router */
    check_binary(gg_max, -1, 2, 2, 0, 1);
    check_binary(gg_max, 2, 2, 2, 1, 0);     /* tie: the first input takes it */
    check_binary(gg_min, 2, -1, -1, 0, 1);
    check_binary(gg_min, 2, 2, 2, 1, 0);
}

/* pow_node: torch.pow's values and gradients, edges included. */
static void pow_node_by_hand(void **state)
{
    (void)state;
    check_binary(gg_pow_node, 2, 3, 8, 12, 8 * LN2);
    check_binary(gg_pow_node, 4, 0.5, 2, 0.25, 2 * log(4.0));
    check_binary(gg_pow_node, 3, 0, 1, 0, log(3.0));
    check_binary(gg_pow_node, 2, -1, 0.5, -0.25, 0.5 * LN2);
    /* a negative base with an integral exponent has a value; d/db = y log(a) is NaN */
    check_binary(gg_pow_node, -2, 3, -8, 12, NAN);
    check_binary(gg_pow_node, -2, 2, 4, -4, NAN);
    check_binary(gg_pow_node, -2, -1, -0.5, -0.25, NAN);
    check_binary(gg_pow_node, -8, 1.0 / 3, NAN, NAN, NAN); /* fractional: NaN */
    /* base 0: d/db is 0 for b >= 0 (not 0 * log 0 = NaN), d/da 0 at b = 0 */
    check_binary(gg_pow_node, 0, 0, 1, 0, 0);
    check_binary(gg_pow_node, 0, 1, 0, 1, 0);
    check_binary(gg_pow_node, 0, 2, 0, 0, 0);
    check_binary(gg_pow_node, 0, 0.5, 0, INFINITY, 0);
    check_binary(gg_pow_node, 0, -1, INFINITY, -INFINITY, -INFINITY); /* b < 0: inf * log 0 */
}

/* gg_const: an f64 rank-0 constant leaf, like gg_constant(g, GG_F64, v). */
static void const_leaf(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *c = gg_const(g, 2.5), *k = gg_constant(g, GG_F64, 2.5), *x = gg_scalar(g, 3);
    assert_non_null(c);
    assert_near(gg_value(c), 2.5, 0);
    assert_int_equal(gg_node_dtype(c), GG_F64);
    assert_int_equal(gg_shape(c, NULL), 0);
    assert_true(gg_is_leaf(c));
    assert_false(gg_requires_grad(c));
    assert_null(gg_grad_data(c));
    assert_string_equal(gg_gate_name(c), "leaf");
    assert_int_equal(gg_requires_grad(k), gg_requires_grad(c));
    assert_false(gg_requires_grad(gg_sin(g, c))); /* constants alone carry no gradient */
    gg_node *y = gg_add(g, gg_mul(g, x, c), gg_pow_node(g, c, x));
    assert_true(gg_requires_grad(y));
    assert_int_equal(gg_backward(g, y), 0);
    assert_near(gg_value(y), 7.5 + pow(2.5, 3), TOL);
    assert_near(gg_grad(x), 2.5 + pow(2.5, 3) * log(2.5), TOL);
    assert_near(gg_grad(c), 0, 0);
    assert_int_equal(gg_set_value(g, c, -1.0), 0); /* a leaf: its value can be written */
    assert_near(gg_value(c), -1.0, 0);
    assert_null(gg_const(NULL, 1.0));
    gg_graph_free(g);
}

static void same_node_twice(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 3), *y = gg_mul(g, x, x);
    assert_int_equal(gg_backward(g, y), 0);
    assert_near(gg_grad(x), 6, TOL);
    gg_graph_free(g);
}

/* Fills a leaf with values in [lo, hi) from a fixed stream. */
static void fill(gg_node *n, gg_rng *r, double lo, double hi)
{
    size_t cnt = gg_numel(n);
    for (size_t i = 0; i < cnt; i++) {
        double v = lo + (hi - lo) * gg_rng_uniform(r);
        if (gg_node_dtype(n) == GG_F64)
            ((double *)gg_data(n))[i] = v;
        else
            ((float *)gg_data(n))[i] = (float)v;
    }
}

static void expect_gradcheck(gg_graph *g, gg_node *root)
{
    gg_gradcheck_result r;
    int rc = gg_gradcheck(g, root, NULL, 0, 1e-6, 1e-6, &r);
    if (rc != 0)
        fail_msg("gradcheck rc=%d (%s): %zu/%zu failures, worst |err| %g at leaf %zu[%zu]: analytic %.12g numeric %.12g",
                 rc, gg_error(g) ? gg_error(g) : "", r.failures, r.checked, r.max_abs_err,
                 gg_node_id(r.worst_leaf), r.worst_index, r.worst_analytic, r.worst_numeric);
    assert_true(r.checked > 0);
}

/* Every elementwise gate on tensors, checked by finite differences. Inputs
 * stay away from the kinks (0 for relu/abs, ties for max/min). */
static void elementwise_gradcheck(void **state)
{
    (void)state;
    unary_op unary[] = {gg_sigmoid, gg_tanh, gg_exp, gg_log, gg_neg, gg_copy, gg_relu,
                        leaky01, elu1, gg_abs, cube, sqrt_pow, pow0, gg_sqrt, gg_sin,
                        gg_cos, gg_softplus, gg_silu, gg_gelu, gg_log1p};
    binary_op binary[] = {gg_add, gg_sub, gg_mul, gg_div, gg_max, gg_min, gg_pow_node};
    gg_rng r;
    gg_rng_seed(&r, 11);
    for (size_t i = 0; i < sizeof unary / sizeof *unary; i++) {
        gg_graph *g = gg_graph_new();
        gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
        fill(x, &r, 0.2, 2.0);
        for (size_t k = 0; k < 12; k += 2) /* half negative, where defined */
            if (unary[i] != gg_log && unary[i] != sqrt_pow && unary[i] != gg_sqrt && unary[i] != gg_log1p)
                ((double *)gg_data(x))[k] *= -1;
        gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
        fill(w, &r, -1, 1);
        expect_gradcheck(g, gg_sum(g, gg_mul(g, unary[i](g, x), w)));
        gg_graph_free(g);
    }
    for (size_t i = 0; i < sizeof binary / sizeof *binary; i++) {
        gg_graph *g = gg_graph_new();
        gg_node *a = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
        gg_node *b = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
        fill(a, &r, 0.5, 2.0);
        fill(b, &r, -2.0, -0.5);
        for (size_t k = 0; k < 12; k += 3)
            ((double *)gg_data(b))[k] = 2.5 + (double)k; /* b wins some max/min */
        gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
        fill(w, &r, -1, 1);
        expect_gradcheck(g, gg_sum(g, gg_mul(g, binary[i](g, a, b), w)));
        gg_graph_free(g);
    }
    /* the smooth gates over a wider range, both sides of 0 (softplus stays
     * below its switch at 20) */
    unary_op smooth[] = {gg_sin, gg_cos, gg_softplus, gg_silu, gg_gelu, gg_sigmoid, gg_tanh};
    for (size_t i = 0; i < sizeof smooth / sizeof *smooth; i++) {
        gg_graph *g = gg_graph_new();
        gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){4, 5}, NULL);
        fill(x, &r, -8, 8);
        gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){4, 5}, NULL);
        fill(w, &r, -1, 1);
        expect_gradcheck(g, gg_sum(g, gg_mul(g, smooth[i](g, x), w)));
        gg_graph_free(g);
    }
    /* pow_node with negative bases and integral exponents: d/d base is
     * finite (d/d exponent is NaN there, so the exponent is a constant) */
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_tensor(g, GG_F64, 1, (int64_t[]){6}, NULL);
    fill(a, &r, -2.0, -0.5);
    gg_node *b = gg_input(g, GG_F64, 1, (int64_t[]){6}, (double[]){2, 3, -1, 4, -2, 1});
    gg_node *w = gg_input(g, GG_F64, 1, (int64_t[]){6}, NULL);
    fill(w, &r, -1, 1);
    gg_node *z = gg_pow_node(g, a, b);
    expect_gradcheck(g, gg_sum(g, gg_mul(g, z, w)));
    for (size_t k = 0; k < 6; k++)
        assert_true(isfinite(gg_value_at(z, k)));
    gg_graph_free(g);
}

/* Broadcasting: shapes that stretch in every way; gradients come back in
 * each input's own shape (gradcheck compares each element). */
static void broadcast_gradcheck(void **state)
{
    (void)state;
    struct { int ra; int64_t a[4]; int rb; int64_t b[4]; int rz; int64_t z[4]; } cases[] = {
        {2, {3, 4}, 1, {4}, 2, {3, 4}},
        {2, {3, 4}, 2, {3, 1}, 2, {3, 4}},
        {2, {3, 1}, 2, {1, 4}, 2, {3, 4}},
        {0, {0}, 2, {2, 3}, 2, {2, 3}},
        {3, {2, 1, 4}, 2, {3, 1}, 3, {2, 3, 4}},
        {4, {2, 3, 1, 2}, 3, {3, 4, 1}, 4, {2, 3, 4, 2}},
        {1, {1}, 4, {1, 2, 1, 3}, 4, {1, 2, 1, 3}},
    };
    binary_op ops[] = {gg_add, gg_sub, gg_mul, gg_div, gg_max, gg_min, gg_pow_node};
    gg_rng r;
    gg_rng_seed(&r, 5);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
            gg_graph *g = gg_graph_new();
            gg_node *a = gg_tensor(g, GG_F64, cases[c].ra, cases[c].a, NULL);
            gg_node *b = gg_tensor(g, GG_F64, cases[c].rb, cases[c].b, NULL);
            fill(a, &r, 0.5, 1.5);
            fill(b, &r, 1.6, 2.5); /* no ties for max/min, no zero divisors; pow_node: positive bases */
            gg_node *z = ops[o](g, a, b);
            int64_t dims[GG_MAX_DIMS];
            assert_int_equal(gg_shape(z, dims), cases[c].rz);
            for (int d = 0; d < cases[c].rz; d++)
                assert_int_equal(dims[d], cases[c].z[d]);
            gg_node *w = gg_input(g, GG_F64, cases[c].rz, cases[c].z, NULL);
            fill(w, &r, -1, 1);
            expect_gradcheck(g, gg_sum(g, gg_mul(g, z, w)));
            gg_graph_free(g);
        }
}

/* Broadcast backward sums over the stretched dimension: d/db sum(a + b)
 * for a [3,4] and b [4] is 3 for every element of b. */
static void broadcast_sums_back(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
    gg_node *b = gg_tensor(g, GG_F64, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4});
    gg_node *s = gg_sum(g, gg_add(g, a, b));
    assert_int_equal(gg_backward(g, s), 0);
    assert_near(gg_value(s), 30, TOL);
    for (size_t i = 0; i < 4; i++)
        assert_near(gg_grad_at(b, i), 3, TOL);
    for (size_t i = 0; i < 12; i++)
        assert_near(gg_grad_at(a, i), 1, TOL);
    gg_graph_free(g);
}

static void tensor_gates_gradcheck(void **state)
{
    (void)state;
    gg_rng r;
    gg_rng_seed(&r, 9);
    gg_graph *g = gg_graph_new();
    gg_node *A = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 5}, NULL);
    gg_node *B = gg_tensor(g, GG_F64, 2, (int64_t[]){5, 4}, NULL);
    gg_node *X = gg_tensor(g, GG_F64, 3, (int64_t[]){2, 3, 4}, NULL);
    fill(A, &r, -1, 1);
    fill(B, &r, -1, 1);
    fill(X, &r, -3, 3);
    gg_node *W = gg_input(g, GG_F64, 3, (int64_t[]){2, 3, 4}, NULL);
    fill(W, &r, -1, 1);
    gg_node *roots[] = {
        gg_sum(g, gg_mul(g, gg_matmul(g, A, B), gg_matmul(g, A, B))),
        gg_mean(g, gg_mul(g, X, W)),
        gg_sum(g, gg_mul(g, gg_sum_axis(g, X, 1, 1), gg_sum_axis(g, W, 1, 1))),
        gg_sum(g, gg_pow(g, gg_mean_axis(g, X, -1, 0), 2)),
        gg_sum(g, gg_mul(g, gg_sum_axis(g, X, 0, 0), gg_mean_axis(g, W, 0, 0))),
        gg_sum(g, gg_mul(g, gg_softmax(g, X), W)),
        gg_sum(g, gg_mul(g, gg_log_softmax(g, X), W)),
        gg_sum(g, gg_mul(g, gg_transpose(g, X), gg_transpose(g, W))),
        gg_sum(g, gg_mul(g, gg_reshape(g, X, 2, (int64_t[]){6, 4}), gg_reshape(g, W, 2, (int64_t[]){6, 4}))),
        gg_sum(g, gg_pow(g, gg_matmul(g, gg_transpose(g, gg_matmul(g, A, B)), A), 2)),
    };
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        if (!roots[i])
            fail_msg("root %zu: %s", i, gg_error(g));
        expect_gradcheck(g, roots[i]);
    }
    gg_graph_free(g);
}

static void tensor_values(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    const double v[6] = {1, 2, 3, 4, 5, 6};
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 3}, v);
    gg_node *s0 = gg_sum_axis(g, x, 0, 0), *s1 = gg_mean_axis(g, x, 1, 1);
    gg_node *t = gg_transpose(g, x);
    int64_t d[GG_MAX_DIMS];
    assert_int_equal(gg_shape(s0, d), 1);
    assert_int_equal(d[0], 3);
    assert_near(gg_value_at(s0, 0), 5, TOL);
    assert_near(gg_value_at(s0, 2), 9, TOL);
    assert_int_equal(gg_shape(s1, d), 2);
    assert_int_equal(d[1], 1);
    assert_near(gg_value_at(s1, 1), 5, TOL);
    assert_int_equal(gg_shape(t, d), 2);
    assert_int_equal(d[0], 3);
    assert_near(gg_value_at(t, 1), 4, TOL); /* t[0][1] = x[1][0] */
    /* softmax of huge logits stays finite and sums to 1 */
    gg_node *big = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){1000, 1001, 1002});
    gg_node *sm = gg_softmax(g, big), *lsm = gg_log_softmax(g, big);
    double z = exp(-2) + exp(-1) + 1;
    assert_near(gg_value_at(sm, 2), 1 / z, 1e-12);
    assert_near(gg_value_at(lsm, 0), -2 - log(z), 1e-12);
    assert_near(gg_value(gg_sum(g, sm)), 1, 1e-12);
    gg_graph_free(g);
}

/* The same computation in f32 follows f64 to f32 precision. */
static void f32_matches_f64(void **state)
{
    (void)state;
    gg_rng r;
    gg_rng_seed(&r, 21);
    double a64[24], b64[8];
    float a32[24], b32[8];
    for (int i = 0; i < 24; i++)
        a32[i] = (float)(a64[i] = gg_rng_uniform(&r) - 0.5);
    for (int i = 0; i < 8; i++)
        b32[i] = (float)(b64[i] = gg_rng_uniform(&r) - 0.5);
    gg_graph *g = gg_graph_new();
    gg_node *A[2] = {gg_tensor(g, GG_F64, 2, (int64_t[]){6, 4}, a64),
                     gg_tensor(g, GG_F32, 2, (int64_t[]){6, 4}, a32)};
    gg_node *B[2] = {gg_tensor(g, GG_F64, 2, (int64_t[]){4, 2}, b64),
                     gg_tensor(g, GG_F32, 2, (int64_t[]){4, 2}, b32)};
    gg_node *L[2];
    for (int k = 0; k < 2; k++) {
        gg_node *h = gg_tanh(g, gg_matmul(g, A[k], B[k]));
        L[k] = gg_mean(g, gg_log_softmax(g, gg_add(g, h, gg_sigmoid(g, gg_sum_axis(g, B[k], 0, 0)))));
        assert_int_equal(gg_backward(g, L[k]), 0);
    }
    assert_int_equal(gg_node_dtype(L[1]), GG_F32);
    assert_near(gg_value(L[1]), gg_value(L[0]), 1e-6);
    for (size_t i = 0; i < 24; i++)
        assert_near(gg_grad_at(A[1], i), gg_grad_at(A[0], i), 1e-6);
    for (size_t i = 0; i < 8; i++)
        assert_near(gg_grad_at(B[1], i), gg_grad_at(B[0], i), 1e-6);
    gg_graph_free(g);
}

/* Every elementwise gate in f32 follows f64 to f32 precision: the inputs
 * are f32 numbers in both, so only the rounding of results differs. */
static void elementwise_f32_matches_f64(void **state)
{
    (void)state;
    unary_op unary[] = {gg_sigmoid, gg_tanh, gg_exp, gg_log, gg_neg, gg_copy, gg_relu,
                        leaky01, elu1, gg_abs, cube, sqrt_pow, pow0, gg_sqrt, gg_sin,
                        gg_cos, gg_softplus, gg_silu, gg_gelu, gg_log1p};
    binary_op binary[] = {gg_add, gg_sub, gg_mul, gg_div, gg_max, gg_min, gg_pow_node};
    gg_rng r;
    gg_rng_seed(&r, 33);
    enum { N = 16 };
    float a32[N], b32[N], w32[N];
    double a64[N], b64[N], w64[N];
    for (int i = 0; i < N; i++) {
        a32[i] = (float)(0.1 + 2.9 * gg_rng_uniform(&r)); /* positive: log, sqrt, bases */
        b32[i] = (float)(4 * gg_rng_uniform(&r) - 2);
        w32[i] = (float)(2 * gg_rng_uniform(&r) - 1);
        a64[i] = a32[i], b64[i] = b32[i], w64[i] = w32[i];
    }
    const int64_t n = N;
    for (size_t o = 0; o < sizeof unary / sizeof *unary + sizeof binary / sizeof *binary; o++) {
        bool is_unary = o < sizeof unary / sizeof *unary;
        gg_graph *g = gg_graph_new();
        gg_node *x[2], *y[2], *z[2];
        for (int k = 0; k < 2; k++) {
            gg_dtype dt = k ? GG_F32 : GG_F64;
            x[k] = gg_tensor(g, dt, 1, &n, k ? (const void *)a32 : a64);
            y[k] = gg_tensor(g, dt, 1, &n, k ? (const void *)b32 : b64);
            gg_node *w = gg_input(g, dt, 1, &n, k ? (const void *)w32 : w64);
            z[k] = is_unary ? unary[o](g, x[k]) : binary[o - sizeof unary / sizeof *unary](g, x[k], y[k]);
            gg_node *s = gg_sum(g, gg_mul(g, z[k], w));
            assert_int_equal(gg_node_dtype(s), dt);
            assert_int_equal(gg_backward(g, s), 0);
        }
        for (size_t i = 0; i < N; i++) {
            double want = gg_value_at(z[0], i);
            if (fabs(gg_value_at(z[1], i) - want) > 1e-6 * (1 + fabs(want)))
                fail_msg("%s element %zu: f32 %.9g, f64 %.17g", gg_gate_name(z[0]), i,
                         gg_value_at(z[1], i), want);
            for (int v = 0; v < (is_unary ? 1 : 2); v++) {
                gg_node *l32 = v ? y[1] : x[1], *l64 = v ? y[0] : x[0];
                double gw = gg_grad_at(l64, i);
                if (fabs(gg_grad_at(l32, i) - gw) > 1e-6 * (1 + fabs(gw)))
                    fail_msg("%s element %zu, input %d: f32 gradient %.9g, f64 %.17g",
                             gg_gate_name(z[0]), i, v, gg_grad_at(l32, i), gw);
            }
        }
        gg_graph_free(g);
    }
}

static void rules_and_names(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_scalar(g, 1), *b = gg_scalar(g, 2);
    assert_string_equal(gg_gate_name(gg_add(g, a, b)), "add");
    assert_contains(gg_gate_rule(gg_add(g, a, b)), "distributor");
    assert_contains(gg_gate_rule(gg_mul(g, a, b)), "swap");
    assert_contains(gg_gate_rule(gg_max(g, a, b)), "router");
    assert_contains(gg_gate_rule(gg_copy(g, a)), "adder");
    assert_contains(gg_gate_rule(gg_sigmoid(g, a)), "own output");
    assert_string_equal(gg_gate_name(a), "leaf");
    assert_near(gg_gate_param(gg_leaky_relu(g, a, 0.01)), 0.01, 0);
    assert_near(gg_gate_param(gg_pow(g, a, 0)), 0, 0);
    const struct { gg_node *n; const char *name; } named[] = {
        {gg_sqrt(g, a), "sqrt"}, {gg_sin(g, a), "sin"}, {gg_cos(g, a), "cos"},
        {gg_softplus(g, a), "softplus"}, {gg_silu(g, a), "silu"}, {gg_gelu(g, a), "gelu"},
        {gg_pow_node(g, a, b), "pow_node"},
    };
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        assert_non_null(named[i].n);
        assert_string_equal(gg_gate_name(named[i].n), named[i].name);
        assert_non_null(gg_gate_rule(named[i].n));
    }
    gg_node *in[2];
    assert_int_equal(gg_inputs(named[6].n, in), 2); /* base, then exponent */
    assert_ptr_equal(in[0], a);
    assert_ptr_equal(in[1], b);
    gg_graph_free(g);
}

/* A gate marked zero_skips (backward skips its scalar nodes when their
 * upstream gradient is 0) has finite local derivatives wherever its output
 * is finite: at zero, denormals, the edges of exp and of the range. */
static void zero_skips_only_where_derivatives_stay_finite(void **state)
{
    (void)state;
    static const double pts[] = {0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1, -1, 0.5,
                                 20, -20, 700, -700, 710, -745, 1e300, -1e300};
    enum { NPTS = sizeof pts / sizeof *pts };
    size_t marked = 0;
    for (size_t id = 2; id < ggc_gate_count; id++) {
        const ggc_gate *gate = ggc_gates[id];
        if (!gate->zero_skips)
            continue;
        assert_true(gate->elementwise && gate->local && (gate->arity == 1 || gate->arity == 2));
        marked++;
        gg_graph *g = gg_graph_new();
        for (size_t i = 0; i < NPTS; i++)
            for (size_t j = 0; j < (gate->arity == 2 ? NPTS : 1); j++) {
                gg_node *a = gg_scalar(g, pts[i]), *b = gate->arity == 2 ? gg_scalar(g, pts[j]) : NULL;
                gg_node *n = ggc_record(g, (int)id, a, b, 0.1, NULL);
                assert_non_null(n);
                if (!isfinite(gg_value(n)))
                    continue;
                for (int k = 0; k < gate->arity; k++)
                    if (!isfinite(gate->local(n, k, 0)))
                        fail_msg("%s(%g, %g): output %g, local derivative %d not finite", gate->name,
                                 pts[i], b ? pts[j] : 0.0, gg_value(n), k);
            }
        gg_graph_free(g);
    }
    assert_true(marked >= 19);
    /* The gates whose derivative can be infinite at a finite output. */
    static const char *const unsafe[] = {"div", "log", "pow", "sqrt", "pow_node"};
    for (size_t id = 2; id < ggc_gate_count; id++)
        for (size_t u = 0; u < sizeof unsafe / sizeof *unsafe; u++)
            if (!strcmp(ggc_gates[id]->name, unsafe[u]))
                assert_false(ggc_gates[id]->zero_skips);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unary_gates_by_hand),
        cmocka_unit_test(new_unary_gates_by_hand),
        cmocka_unit_test(binary_gates_by_hand),
        cmocka_unit_test(pow_node_by_hand),
        cmocka_unit_test(const_leaf),
        cmocka_unit_test(same_node_twice),
        cmocka_unit_test(elementwise_gradcheck),
        cmocka_unit_test(broadcast_gradcheck),
        cmocka_unit_test(broadcast_sums_back),
        cmocka_unit_test(tensor_gates_gradcheck),
        cmocka_unit_test(tensor_values),
        cmocka_unit_test(f32_matches_f64),
        cmocka_unit_test(elementwise_f32_matches_f64),
        cmocka_unit_test(rules_and_names),
        cmocka_unit_test(zero_skips_only_where_derivatives_stay_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
