/* test_higher.c - gradients recorded as graphs (gategrad/higher.h):
 * gg_gradient, gg_gradient_seed, gg_hvp, gg_hessian and gg_gradgradcheck.
 * Second derivatives of every gate by finite differences of the recorded
 * gradient, random compositions with broadcasting, Hessians against
 * PyTorch (tests/fixtures/torch_higher.h), symmetry, third derivatives,
 * re-running, custom gates, f32. */
#include "testutil.h"

#include <gategrad.h>

#include "core/core.h" /* the gate table: every gate must record its backward */

#include "fixtures/torch_higher.h"

static gg_rng rng;

static void fill(gg_node *n, double lo, double hi)
{
    for (size_t i = 0; i < gg_numel(n); i++) {
        double v = lo + (hi - lo) * gg_rng_uniform(&rng);
        if (gg_node_dtype(n) == GG_F64)
            ((double *)gg_data(n))[i] = v;
        else
            ((float *)gg_data(n))[i] = (float)v;
    }
}

static gg_node *var(gg_graph *g, int rank, const int64_t *dims, double lo, double hi)
{
    gg_node *x = gg_tensor(g, GG_F64, rank, dims, NULL);
    fill(x, lo, hi);
    return x;
}

static gg_node *weights_like(gg_graph *g, gg_node *y)
{
    int64_t d[4];
    int r = gg_shape(y, d);
    gg_node *w = gg_input(g, gg_node_dtype(y), r, d, NULL);
    fill(w, -1, 1);
    return w;
}

/* root = sum(w * y * y): nonlinear above the gate, so the gate's recorded
 * backward gets an upstream that depends on the inputs too. */
static gg_node *square_root(gg_graph *g, gg_node *y)
{
    return y ? gg_sum(g, gg_mul(g, weights_like(g, y), gg_mul(g, y, y))) : NULL;
}

static void expect_gradgrad(gg_graph *g, gg_node *root, const char *what)
{
    if (!root)
        fail_msg("%s: recording failed: %s", what, gg_error(g) ? gg_error(g) : "");
    gg_gradcheck_result r;
    int rc = gg_gradgradcheck(g, root, NULL, 0, 1e-5, 1e-6, &r);
    if (rc != 0)
        fail_msg("%s: gradgradcheck rc=%d (%s): %zu/%zu failures, worst |err| %g at node %zu[%zu]: "
                 "analytic %.12g numeric %.12g", what, rc, gg_error(g) ? gg_error(g) : "", r.failures,
                 r.checked, r.max_abs_err, r.worst_leaf ? gg_node_id(r.worst_leaf) : 0, r.worst_index,
                 r.worst_analytic, r.worst_numeric);
    assert_true(r.checked > 0);
}

/* ---- every gate ------------------------------------------------------------ */

typedef gg_node *(*unary_op)(gg_graph *, gg_node *);
static gg_node *leaky(gg_graph *g, gg_node *x) { return gg_leaky_relu(g, x, 0.1); }
static gg_node *elu(gg_graph *g, gg_node *x) { return gg_elu(g, x, 0.7); }
static gg_node *cube(gg_graph *g, gg_node *x) { return gg_pow(g, x, 3); }
static gg_node *pow_half(gg_graph *g, gg_node *x) { return gg_pow(g, x, 0.5); }
static gg_node *pow0(gg_graph *g, gg_node *x) { return gg_pow(g, x, 0); }
static gg_node *clamp(gg_graph *g, gg_node *x) { return gg_clamp(g, x, -0.5, 0.5); }
static gg_node *sum_ax0(gg_graph *g, gg_node *x) { return gg_sum_axis(g, x, 0, 0); }
static gg_node *sum_ax1k(gg_graph *g, gg_node *x) { return gg_sum_axis(g, x, -1, 1); }
static gg_node *mean_ax0k(gg_graph *g, gg_node *x) { return gg_mean_axis(g, x, 0, 1); }
static gg_node *mean_ax1(gg_graph *g, gg_node *x) { return gg_mean_axis(g, x, 1, 0); }
static gg_node *reshape(gg_graph *g, gg_node *x) { return gg_reshape(g, x, 3, (int64_t[]){2, 3, 2}); }
static gg_node *softmax0(gg_graph *g, gg_node *x) { return gg_softmax_axis(g, x, 0); }
static gg_node *log_softmax0(gg_graph *g, gg_node *x) { return gg_log_softmax_axis(g, x, 0); }
static gg_node *max_ax1(gg_graph *g, gg_node *x) { return gg_max_axis(g, x, 1, 0); }
static gg_node *min_ax0(gg_graph *g, gg_node *x) { return gg_min_axis(g, x, 0, 1); }
static gg_node *slice_mid(gg_graph *g, gg_node *x) { return gg_slice(g, x, 1, 1, 3); }
static gg_node *slice_head(gg_graph *g, gg_node *x) { return gg_slice(g, x, 0, 0, 2); }
static gg_node *bcast(gg_graph *g, gg_node *x) { return gg_broadcast_to(g, x, 3, (int64_t[]){2, 3, 4}); }
static gg_node *taxes(gg_graph *g, gg_node *x) { return gg_transpose_axes(g, x, 0, -1); }
static gg_node *cast64(gg_graph *g, gg_node *x) { return gg_cast(g, x, GG_F64); }
static gg_node *via_step(gg_graph *g, gg_node *x) { return gg_mul(g, gg_step(g, x), gg_exp(g, x)); }
static gg_node *sce(gg_graph *g, gg_node *x)
{
    gg_node *lab = gg_input(g, GG_F64, 1, (int64_t[]){3}, (double[]){2, -1, 0});
    return gg_softmax_cross_entropy(g, x, lab);
}
static gg_node *concat3(gg_graph *g, gg_node *x)
{
    gg_node *parts[3] = {x, gg_sin(g, x), x};
    return gg_concat(g, 3, parts, 1);
}
static gg_node *gather(gg_graph *g, gg_node *x)
{
    gg_node *ix = gg_input(g, GG_F64, 2, (int64_t[]){2, 2}, (double[]){2, 0, 2, 1});
    return gg_gather_rows(g, x, ix);
}
static gg_node *argmax_used(gg_graph *g, gg_node *x)
{   /* a constant inside the graph: the gradient goes around it */
    return gg_mul(g, x, gg_argmax_axis(g, x, 1, 1));
}

/* Every unary gate and every one-input use of the tensor, axis, shape,
 * select, loss and step gates, on [3,4] inputs away from the kinks
 * (|x| >= 0.2, no ties, clamp's bounds not hit). */
static void every_unary_gate(void **state)
{
    (void)state;
    struct { const char *name; unary_op op; double lo, hi; } cases[] = {
        {"copy", gg_copy, -2, 2}, {"neg", gg_neg, -2, 2}, {"sigmoid", gg_sigmoid, -3, 3},
        {"tanh", gg_tanh, -2, 2}, {"exp", gg_exp, -1, 1}, {"log", gg_log, 0.3, 2},
        {"relu", gg_relu, 0.2, 2}, {"relu-", gg_relu, -2, -0.2}, {"leaky", leaky, -2, -0.2},
        {"elu", elu, -2, -0.2}, {"elu+", elu, 0.2, 2}, {"abs", gg_abs, -2, -0.2},
        {"abs+", gg_abs, 0.2, 2}, {"cube", cube, -2, 2}, {"pow0.5", pow_half, 0.3, 2},
        {"pow0", pow0, 0.3, 2}, {"sqrt", gg_sqrt, 0.3, 2}, {"sin", gg_sin, -2, 2},
        {"cos", gg_cos, -2, 2}, {"softplus", gg_softplus, -3, 3}, {"silu", gg_silu, -3, 3},
        {"gelu", gg_gelu, -3, 3}, {"normal_cdf", gg_normal_cdf, -2, 2},
        {"clamp", clamp, -0.45, 0.45}, {"clamp-out", clamp, 0.6, 2},
        {"sum", gg_sum, -1, 1}, {"mean", gg_mean, -1, 1}, {"sum_axis", sum_ax0, -1, 1},
        {"sum_axis keep", sum_ax1k, -1, 1}, {"mean_axis keep", mean_ax0k, -1, 1},
        {"mean_axis", mean_ax1, -1, 1}, {"reshape", reshape, -1, 1},
        {"transpose", gg_transpose, -1, 1}, {"softmax", gg_softmax, -2, 2},
        {"log_softmax", gg_log_softmax, -2, 2}, {"softmax_axis", softmax0, -2, 2},
        {"log_softmax_axis", log_softmax0, -2, 2}, {"max_axis", max_ax1, -2, 2},
        {"min_axis", min_ax0, -2, 2}, {"slice", slice_mid, -1, 1}, {"slice head", slice_head, -1, 1},
        {"broadcast_to", bcast, -1, 1}, {"transpose_axes", taxes, -1, 1}, {"cast", cast64, -1, 1},
        {"step", via_step, -1, 1}, {"softmax_cross_entropy", sce, -2, 2}, {"concat", concat3, -1, 1},
        {"gather_rows", gather, -1, 1}, {"argmax_axis", argmax_used, -1, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        gg_graph *g = gg_graph_new();
        gg_node *x = var(g, 2, (int64_t[]){3, 4}, cases[c].lo, cases[c].hi);
        expect_gradgrad(g, square_root(g, cases[c].op(g, x)), cases[c].name);
        gg_graph_free(g);
    }
}

typedef gg_node *(*binary_op)(gg_graph *, gg_node *, gg_node *);
static gg_node *bce(gg_graph *g, gg_node *a, gg_node *b) { return gg_bce_with_logits(g, a, gg_sigmoid(g, b)); }
static gg_node *where_pos(gg_graph *g, gg_node *a, gg_node *b)
{
    gg_node *c = gg_input(g, GG_F64, 1, (int64_t[]){4}, (double[]){1, 0, 0, 1});
    return gg_where(g, c, a, b);
}

/* Every binary gate, same shapes and broadcast both ways ([3,4] with [4] and
 * [3,1] with [3,4]); values keep max and min off ties, pow's base positive. */
static void every_binary_gate(void **state)
{
    (void)state;
    struct { const char *name; binary_op op; double lo, hi; } cases[] = {
        {"add", gg_add, -2, 2}, {"sub", gg_sub, -2, 2}, {"mul", gg_mul, -2, 2},
        {"div", gg_div, 0.5, 2}, {"max", gg_max, -2, 2}, {"min", gg_min, -2, 2},
        {"pow_node", gg_pow_node, 0.5, 1.5}, {"where", where_pos, -2, 2},
        {"matmul", gg_matmul, -1, 1},
    };
    const int64_t shapes[3][2][3] = {{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {1, 4, 0}}, {{2, 3, 1}, {2, 3, 4}}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int s = 0; s < 3; s++) {
            if (cases[c].op == gg_matmul)
                continue;
            gg_graph *g = gg_graph_new();
            gg_node *a = var(g, (int)shapes[s][0][0], shapes[s][0] + 1, cases[c].lo, cases[c].hi);
            gg_node *b = var(g, (int)shapes[s][1][0], shapes[s][1] + 1, cases[c].lo, cases[c].hi);
            char what[64];
            snprintf(what, sizeof what, "%s (shapes %d)", cases[c].name, s);
            expect_gradgrad(g, square_root(g, cases[c].op(g, a, b)), what);
            gg_graph_free(g);
        }
    /* matmul in every rank combination, batches broadcast */
    const int64_t mm[][2][4] = {
        {{2, 3, 4}, {2, 4, 2}}, {{1, 4}, {2, 4, 2}}, {{2, 3, 4}, {1, 4}}, {{1, 4}, {1, 4}},
        {{3, 2, 3, 4}, {2, 4, 2}}, {{2, 3, 4}, {3, 2, 4, 2}}, {{3, 1, 3, 4}, {3, 2, 4, 2}},
        {{1, 4}, {3, 2, 4, 2}},
    };
    for (size_t c = 0; c < sizeof mm / sizeof *mm; c++) {
        gg_graph *g = gg_graph_new();
        gg_node *a = var(g, (int)mm[c][0][0], mm[c][0] + 1, -1, 1);
        gg_node *b = var(g, (int)mm[c][1][0], mm[c][1] + 1, -1, 1);
        char what[64];
        snprintf(what, sizeof what, "matmul case %zu", c);
        expect_gradgrad(g, square_root(g, gg_matmul(g, a, b)), what);
        gg_graph_free(g);
    }
    gg_graph *g = gg_graph_new();
    gg_node *a = var(g, 2, (int64_t[]){3, 4}, -2, 2), *b = var(g, 2, (int64_t[]){3, 4}, -2, 2);
    expect_gradgrad(g, square_root(g, bce(g, a, b)), "bce_with_logits");
    gg_graph_free(g);
}

/* Random compositions of smooth gates over leaves of broadcasting shapes. */
static void random_compositions(void **state)
{
    (void)state;
    unary_op un[] = {gg_sin, gg_cos, gg_tanh, gg_sigmoid, gg_softplus, gg_silu, gg_gelu,
                     gg_normal_cdf, gg_softmax, gg_log_softmax};
    binary_op bin[] = {gg_add, gg_sub, gg_mul};
    const int64_t shapes[4][3] = {{2, 3, 4}, {1, 4, 0}, {2, 3, 1}, {0, 0, 0}};
    for (int trial = 0; trial < 25; trial++) {
        gg_graph *g = gg_graph_new();
        gg_node *pool[16];
        int np = 0;
        for (int s = 0; s < 4; s++)
            pool[np++] = var(g, (int)shapes[s][0], shapes[s] + 1, -1, 1);
        for (int step = 0; step < 8; step++) {
            gg_node *a = pool[gg_rng_below(&rng, (uint64_t)np)];
            gg_node *r = gg_rng_below(&rng, 2) ? un[gg_rng_below(&rng, 10)](g, a)
                                               : bin[gg_rng_below(&rng, 3)](g, a, pool[gg_rng_below(&rng, (uint64_t)np)]);
            assert_non_null(r);
            pool[np++] = r;
        }
        gg_node *y = pool[np - 1];
        for (int k = 4; k < np - 1; k++)
            if (gg_rng_below(&rng, 2))
                y = gg_add(g, y, pool[k]);
        char what[32];
        snprintf(what, sizeof what, "composition %d", trial);
        expect_gradgrad(g, square_root(g, y), what);
        gg_graph_free(g);
    }
}

/* Random pipelines over a [m, n] matrix through the tensor, shape, select
 * and axis gates, with parameters broadcast into it (a bias row, a scale
 * column), matrix products that change its width, and fan-out. */
static void random_pipelines(void **state)
{
    (void)state;
    unary_op smooth[] = {gg_sin, gg_tanh, gg_sigmoid, gg_softplus, gg_gelu, gg_silu};
    for (int trial = 0; trial < 20; trial++) {
        gg_graph *g = gg_graph_new();
        int64_t m = 3, n = 4;
        gg_node *h = var(g, 2, (int64_t[]){m, n}, -1, 1);
        for (int step = 0; step < 7; step++) {
            int64_t d[4];
            gg_shape(h, d);
            m = d[0], n = d[1];
            switch (gg_rng_below(&rng, 12)) {
            case 0: h = smooth[gg_rng_below(&rng, 6)](g, h); break;
            case 1: h = gg_add(g, h, var(g, 1, (int64_t[]){n}, -1, 1)); break;
            case 2: h = gg_mul(g, h, var(g, 2, (int64_t[]){m, 1}, -1, 1)); break;
            case 3: h = gg_matmul(g, h, var(g, 2, (int64_t[]){n, 2 + (int64_t)gg_rng_below(&rng, 3)}, -1, 1)); break;
            case 4: h = gg_transpose(g, h); break;
            case 5: h = gg_add(g, h, gg_sum_axis(g, gg_mul(g, h, h), 1, 1)); break;
            case 6: h = gg_softmax_axis(g, h, (int)gg_rng_below(&rng, 2)); break;
            case 7: {
                gg_node *parts[2] = {h, gg_cos(g, h)};
                h = gg_slice(g, gg_concat(g, 2, parts, 1), 1, 1, n + 2);
                break;
            }
            case 8: h = gg_div(g, h, gg_add(g, gg_const(g, 1), gg_mul(g, h, h))); break;
            case 9: {
                gg_node *mask = gg_input(g, GG_F64, 2, (int64_t[]){m, n}, NULL);
                for (size_t i = 0; i < gg_numel(mask); i++)
                    ((double *)gg_data(mask))[i] = (double)gg_rng_below(&rng, 2);
                h = gg_where(g, mask, h, gg_mul(g, h, gg_exp(g, h)));
                break;
            }
            case 10: {
                gg_node *ix = gg_input(g, GG_F64, 1, (int64_t[]){m + 1}, NULL);
                for (size_t i = 0; i < gg_numel(ix); i++)
                    ((double *)gg_data(ix))[i] = (double)gg_rng_below(&rng, (uint64_t)m);
                h = gg_gather_rows(g, h, ix);
                break;
            }
            default:
                h = gg_reshape(g, gg_log_softmax(g, gg_reshape(g, h, 1, (int64_t[]){m * n})), 2, (int64_t[]){n, m});
                break;
            }
            assert_non_null(h);
        }
        char what[32];
        snprintf(what, sizeof what, "pipeline %d", trial);
        expect_gradgrad(g, square_root(g, h), what);
        gg_graph_free(g);
    }
}

/* ---- exact derivatives ------------------------------------------------------ */

/* f = x^3 y + 2 x y^2 at (1.5, -2): every derivative up to the third by
 * hand, the third as the gradient of a gradient of a gradient. */
static void polynomial_third_derivatives(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 1.5), *y = gg_scalar(g, -2);
    gg_node *f = gg_add(g, gg_mul(g, gg_pow(g, x, 3), y),
                        gg_mul(g, gg_mul(g, gg_const(g, 2), x), gg_mul(g, y, y)));
    gg_node *wrt[2] = {x, y}, *d1[2], *dxx[2], *dxxx[2], *dxxy[2];
    assert_int_equal(gg_gradient(g, f, 2, wrt, d1), 0);
    double X = 1.5, Y = -2;
    assert_near(gg_value(d1[0]), 3 * X * X * Y + 2 * Y * Y, 1e-12);
    assert_near(gg_value(d1[1]), X * X * X + 4 * X * Y, 1e-12);
    assert_int_equal(gg_gradient(g, d1[0], 2, wrt, dxx), 0);
    assert_near(gg_value(dxx[0]), 6 * X * Y, 1e-12);
    assert_near(gg_value(dxx[1]), 3 * X * X + 4 * Y, 1e-12);
    assert_int_equal(gg_gradient(g, dxx[0], 2, wrt, dxxx), 0);
    assert_near(gg_value(dxxx[0]), 6 * Y, 1e-12);
    assert_near(gg_value(dxxx[1]), 6 * X, 1e-12);
    assert_int_equal(gg_gradient(g, dxx[1], 2, wrt, dxxy), 0);
    assert_near(gg_value(dxxy[0]), 6 * X, 1e-12);
    assert_near(gg_value(dxxy[1]), 4, 1e-12);
    /* the fourth in y is 0: an independent variable gets zeros, not NULL */
    gg_node *d4[2];
    assert_int_equal(gg_gradient(g, dxxy[1], 2, wrt, d4), 0);
    assert_non_null(d4[0]);
    assert_non_null(d4[1]);
    assert_near(gg_value(d4[0]), 0, 0);
    assert_near(gg_value(d4[1]), 0, 0);
    /* re-running the recorded graphs at a new point */
    gg_set_value(g, x, -0.5);
    gg_set_value(g, y, 3);
    X = -0.5, Y = 3;
    assert_int_equal(gg_forward(g, dxxx[0]), 0);
    assert_near(gg_value(dxxx[0]), 6 * Y, 1e-12);
    assert_int_equal(gg_forward(g, dxx[1]), 0);
    assert_near(gg_value(dxx[1]), 3 * X * X + 4 * Y, 1e-12);
    /* the first-order graph agrees with gg_backward */
    assert_int_equal(gg_forward(g, d1[0]), 0);
    gg_zero_grad(g);
    assert_int_equal(gg_backward(g, f), 0);
    assert_near(gg_value(d1[0]), gg_grad(x), 1e-12);
    gg_graph_free(g);
}

/* A variable the root does not depend on gets zeros of its shape, and a
 * tensor root of one element works. */
static void zeros_for_independent(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, 1, (int64_t[]){3}, -1, 1), *u = var(g, 2, (int64_t[]){2, 2}, -1, 1);
    gg_node *root = gg_reshape(g, gg_sum(g, gg_exp(g, x)), 2, (int64_t[]){1, 1});
    gg_node *wrt[2] = {x, u}, *out[2];
    assert_int_equal(gg_gradient(g, root, 2, wrt, out), 0);
    int64_t d[4];
    assert_int_equal(gg_shape(out[1], d), 2);
    assert_int_equal(d[0], 2);
    assert_int_equal(gg_numel(out[1]), 4);
    for (size_t i = 0; i < 4; i++)
        assert_near(gg_value_at(out[1], i), 0, 0);
    for (size_t i = 0; i < 3; i++)
        assert_near(gg_value_at(out[0], i), exp(gg_value_at(x, i)), 1e-12);
    gg_node *h[2];
    assert_int_equal(gg_hvp(g, root, 2, wrt, (gg_node *[]){weights_like(g, x), weights_like(g, u)}, h), 0);
    assert_int_equal(gg_numel(h[1]), 4);
    gg_graph_free(g);
}

/* ---- Hessians ---------------------------------------------------------------- */

/* The fixtures' functions, built the same way as the script builds them. */
static gg_node *fixture_fn(gg_graph *g, int which, gg_node *x)
{
    switch (which) {
    case 0: { /* Rosenbrock in 2-D */
        gg_node *x0 = gg_slice(g, x, 0, 0, 1), *x1 = gg_slice(g, x, 0, 1, 2);
        gg_node *a = gg_sub(g, gg_const(g, 1), x0);
        gg_node *b = gg_sub(g, x1, gg_mul(g, x0, x0));
        return gg_sum(g, gg_add(g, gg_mul(g, a, a), gg_mul(g, gg_const(g, 100), gg_mul(g, b, b))));
    }
    case 1: { /* sum(tanh(A x)^2) + sum(sigmoid(x) * exp(sin(x))) */
        gg_node *A = gg_input(g, GG_F64, 2, (int64_t[]){2, 4}, torch_higher_A);
        gg_node *t = gg_tanh(g, gg_matmul(g, A, x));
        return gg_add(g, gg_sum(g, gg_mul(g, t, t)), gg_sum(g, gg_mul(g, gg_sigmoid(g, x), gg_exp(g, gg_sin(g, x)))));
    }
    case 2: { /* cross-entropy of reshape(x, [2, 2]) with labels [1, 0] + mean(gelu(x) * silu(x)) */
        gg_node *lab = gg_input(g, GG_F64, 1, (int64_t[]){2}, (double[]){1, 0});
        gg_node *l = gg_softmax_cross_entropy(g, gg_reshape(g, x, 2, (int64_t[]){2, 2}), lab);
        return gg_add(g, l, gg_mean(g, gg_mul(g, gg_gelu(g, x), gg_silu(g, x))));
    }
    default: { /* a tiny MLP: W = x[0:4] as [2,2], b = x[4:6]; log_softmax loss on fixed inputs */
        gg_node *W = gg_reshape(g, gg_slice(g, x, 0, 0, 4), 2, (int64_t[]){2, 2});
        gg_node *b = gg_slice(g, x, 0, 4, 6);
        gg_node *X = gg_input(g, GG_F64, 2, (int64_t[]){3, 2}, torch_higher_X);
        gg_node *h = gg_softplus(g, gg_add(g, gg_matmul(g, X, W), b));
        gg_node *ls = gg_log_softmax(g, h);
        gg_node *pick = gg_input(g, GG_F64, 2, (int64_t[]){3, 2}, (double[]){1, 0, 0, 1, 1, 0});
        return gg_neg(g, gg_sum(g, gg_mul(g, ls, pick)));
    }
    }
}

static void hessians_against_torch(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_higher_cases / sizeof *torch_higher_cases; c++) {
        const torch_higher_case *tc = &torch_higher_cases[c];
        gg_graph *g = gg_graph_new();
        gg_node *x = gg_tensor(g, GG_F64, 1, (int64_t[]){tc->n}, tc->x);
        gg_node *f = fixture_fn(g, tc->fn, x);
        assert_non_null(f);
        assert_near(gg_value(f), tc->value, 1e-12 * (1 + fabs(tc->value)));
        gg_node *gr;
        assert_int_equal(gg_gradient(g, f, 1, &x, &gr), 0);
        for (int i = 0; i < tc->n; i++)
            assert_near(gg_value_at(gr, (size_t)i), tc->grad[i], 1e-10 * (1 + fabs(tc->grad[i])));
        double H[64];
        assert_int_equal(gg_hessian(g, f, 1, &x, H, (size_t)tc->n), 0);
        for (int i = 0; i < tc->n * tc->n; i++)
            assert_near(H[i], tc->hess[i], 1e-9 * (1 + fabs(tc->hess[i])));
        /* the wrong element count is refused */
        assert_int_equal(gg_hessian(g, f, 1, &x, H, (size_t)tc->n + 1), -1);
        assert_contains(gg_error(g), "hessian");
        gg_graph_free(g);
    }
}

/* A small MLP-like function of two parameter tensors. */
static gg_node *mlp_loss(gg_graph *g, gg_node *W1, gg_node *W2, gg_dtype dt)
{
    gg_node *X = gg_input(g, dt, 2, (int64_t[]){5, 3}, NULL);
    fill(X, -1, 1);
    gg_node *lab = gg_input(g, dt, 1, (int64_t[]){5}, NULL);
    for (size_t i = 0; i < 5; i++) {
        if (dt == GG_F64)
            ((double *)gg_data(lab))[i] = (double)(i % 2);
        else
            ((float *)gg_data(lab))[i] = (float)(i % 2);
    }
    gg_node *h = gg_tanh(g, gg_matmul(g, X, W1));
    return gg_softmax_cross_entropy(g, gg_matmul(g, h, W2), lab);
}

static double dot2(gg_node *const *a, gg_node *const *b)
{
    double s = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < gg_numel(a[k]); i++)
            s += gg_value_at(a[k], i) * gg_value_at(b[k], i);
    return s;
}

/* u.(H v) = v.(H u), H v matches the dense Hessian, and new values in v
 * give the new H v through gg_forward alone. */
static void hvp_symmetry_and_rerun(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *W1 = var(g, 2, (int64_t[]){3, 4}, -1, 1), *W2 = var(g, 2, (int64_t[]){4, 2}, -1, 1);
    gg_node *f = mlp_loss(g, W1, W2, GG_F64);
    gg_node *wrt[2] = {W1, W2};
    gg_node *u[2] = {weights_like(g, W1), weights_like(g, W2)};
    gg_node *v[2] = {weights_like(g, W1), weights_like(g, W2)};
    gg_node *Hu[2], *Hv[2];
    assert_int_equal(gg_hvp(g, f, 2, wrt, u, Hu), 0);
    assert_int_equal(gg_hvp(g, f, 2, wrt, v, Hv), 0);
    double a = dot2(u, Hv), b = dot2(v, Hu);
    assert_true(fabs(a) > 1e-3);
    assert_near(a, b, 1e-12 * (1 + fabs(a)));
    /* against the dense Hessian */
    double H[20 * 20];
    assert_int_equal(gg_hessian(g, f, 2, wrt, H, 20), 0);
    for (int r = 0; r < 20; r++) {
        double s = 0;
        for (int c = 0; c < 20; c++) {
            assert_near(H[r * 20 + c], H[c * 20 + r], 1e-12);
            s += H[r * 20 + c] * (c < 12 ? gg_value_at(v[0], (size_t)c) : gg_value_at(v[1], (size_t)c - 12));
        }
        double hv = r < 12 ? gg_value_at(Hv[0], (size_t)r) : gg_value_at(Hv[1], (size_t)r - 12);
        assert_near(hv, s, 1e-12);
    }
    /* new v, gg_forward: the new H v, as recording afresh */
    fill(v[0], -1, 1);
    fill(v[1], -1, 1);
    assert_int_equal(gg_forward(g, Hv[0]), 0);
    assert_int_equal(gg_forward(g, Hv[1]), 0);
    gg_node *fresh[2];
    assert_int_equal(gg_hvp(g, f, 2, wrt, v, fresh), 0);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < gg_numel(Hv[k]); i++)
            assert_near(gg_value_at(Hv[k], i), gg_value_at(fresh[k], i), 1e-14);
    gg_graph_free(g);
}

/* Re-running a recorded gradient graph with new leaf values gives the
 * numbers of a graph recorded afresh at those values. */
static void rerun_equals_fresh(void **state)
{
    (void)state;
    double w1a[12], w2a[8], w1b[12], w2b[8];
    for (int i = 0; i < 12; i++)
        w1a[i] = gg_rng_uniform(&rng) - 0.5, w1b[i] = gg_rng_uniform(&rng) - 0.5;
    for (int i = 0; i < 8; i++)
        w2a[i] = gg_rng_uniform(&rng) - 0.5, w2b[i] = gg_rng_uniform(&rng) - 0.5;
    gg_rng saved = rng;
    gg_graph *g = gg_graph_new();
    gg_node *W1 = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4}, w1a);
    gg_node *W2 = gg_tensor(g, GG_F64, 2, (int64_t[]){4, 2}, w2a);
    gg_node *f = mlp_loss(g, W1, W2, GG_F64);
    gg_node *wrt[2] = {W1, W2}, *gr[2], *gg2[2];
    assert_int_equal(gg_gradient(g, f, 2, wrt, gr), 0);
    gg_node *n2 = gg_add(g, gg_sum(g, gg_mul(g, gr[0], gr[0])), gg_sum(g, gg_mul(g, gr[1], gr[1])));
    assert_int_equal(gg_gradient(g, n2, 2, wrt, gg2), 0); /* a gradient penalty's gradient */
    gg_set_data(g, W1, w1b);
    gg_set_data(g, W2, w2b);
    for (int k = 0; k < 2; k++)
        assert_int_equal(gg_forward(g, gg2[k]), 0);
    rng = saved; /* the same inputs X */
    gg_graph *h = gg_graph_new();
    gg_node *V1 = gg_tensor(h, GG_F64, 2, (int64_t[]){3, 4}, w1b);
    gg_node *V2 = gg_tensor(h, GG_F64, 2, (int64_t[]){4, 2}, w2b);
    gg_node *f2 = mlp_loss(h, V1, V2, GG_F64);
    gg_node *wrt2[2] = {V1, V2}, *hr[2], *hh2[2];
    assert_int_equal(gg_gradient(h, f2, 2, wrt2, hr), 0);
    gg_node *m2 = gg_add(h, gg_sum(h, gg_mul(h, hr[0], hr[0])), gg_sum(h, gg_mul(h, hr[1], hr[1])));
    assert_int_equal(gg_gradient(h, m2, 2, wrt2, hh2), 0);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < gg_numel(gg2[k]); i++) {
            assert_near(gg_value_at(gg2[k], i), gg_value_at(hh2[k], i), 1e-14);
            assert_true(gg_value_at(gg2[k], i) != 0);
        }
    gg_graph_free(g);
    gg_graph_free(h);
}

/* ---- custom gates ------------------------------------------------------------- */

static void cube_fwd(void *u, const gg_node *const *in, gg_node *out)
{
    (void)u;
    const double *x = gg_data_const(in[0]);
    double *y = gg_data(out);
    for (size_t i = 0; i < gg_numel(out); i++)
        y[i] = x[i] * x[i] * x[i];
}
static void cube_bwd(void *u, gg_node *const *in, const gg_node *out)
{
    (void)u;
    const double *x = gg_data_const(in[0]), *gy = gg_grad_data_const(out);
    double *gx = gg_grad_data(in[0]);
    if (gx)
        for (size_t i = 0; i < gg_numel(out); i++)
            gx[i] += 3 * x[i] * x[i] * gy[i];
}
static int cube_grad(void *u, gg_graph *g, gg_node *const *in, gg_node *out, gg_node *up, gg_node **din)
{
    (void)u, (void)out;
    din[0] = gg_mul(g, up, gg_mul(g, gg_const(g, 3), gg_mul(g, in[0], in[0])));
    return din[0] == NULL;
}

static void custom_gates(void **state)
{
    (void)state;
    static const gg_gate_def plain = {.name = "mycube", .arity = 1, .rule = "dx = 3x^2 * upstream",
                                      .forward = cube_fwd, .backward = cube_bwd};
    static const gg_gate_def recorded = {.name = "mycube2", .arity = 1, .rule = "dx = 3x^2 * upstream",
                                         .forward = cube_fwd, .backward = cube_bwd,
                                         .gradient = cube_grad};
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, 1, (int64_t[]){3}, -1, 1);
    gg_node *y = gg_sum(g, gg_sin(g, gg_custom(g, &plain, (gg_node *[]){x})));
    gg_node *out = (gg_node *)1;
    assert_int_equal(gg_gradient(g, y, 1, &x, &out), -1);
    assert_null(out);
    assert_contains(gg_error(g), "'mycube'");
    assert_contains(gg_error(g), "gradient callback");
    /* gg_backward still runs it */
    gg_zero_grad(g);
    assert_int_equal(gg_backward(g, y), 0);
    /* a custom gate off the path to the variables asked for costs nothing */
    gg_node *z = gg_scalar(g, 0.5);
    gg_node *r = gg_add(g, gg_mul(g, z, z), y);
    assert_int_equal(gg_gradient(g, r, 1, &z, &out), 0);
    assert_near(gg_value(out), 1.0, 1e-15);
    /* with a gradient callback: differentiable twice */
    gg_node *y2 = gg_sum(g, gg_sin(g, gg_custom(g, &recorded, (gg_node *[]){x})));
    expect_gradgrad(g, y2, "custom with gradient");
    gg_graph_free(g);
}

/* ---- f32 ------------------------------------------------------------------------ */

/* f32 variables and roots: the outputs are f32, and agree with f64. */
static void f32_roots_and_variables(void **state)
{
    (void)state;
    double a[12], b[8];
    for (int i = 0; i < 12; i++)
        a[i] = gg_rng_uniform(&rng) - 0.5;
    for (int i = 0; i < 8; i++)
        b[i] = gg_rng_uniform(&rng) - 0.5;
    float af[12], bf[8];
    for (int i = 0; i < 12; i++)
        af[i] = (float)a[i];
    for (int i = 0; i < 8; i++)
        bf[i] = (float)b[i];
    gg_rng saved = rng;
    gg_graph *g = gg_graph_new();
    gg_node *W1 = gg_tensor(g, GG_F32, 2, (int64_t[]){3, 4}, af), *W2 = gg_tensor(g, GG_F32, 2, (int64_t[]){4, 2}, bf);
    gg_node *f = mlp_loss(g, W1, W2, GG_F32);
    gg_node *wrt[2] = {W1, W2}, *h[2];
    gg_node *v[2] = {gg_input(g, GG_F32, 2, (int64_t[]){3, 4}, NULL), gg_input(g, GG_F32, 2, (int64_t[]){4, 2}, NULL)};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < gg_numel(v[k]); i++)
            ((float *)gg_data(v[k]))[i] = (float)(0.1 * (double)(i % 5) - 0.2);
    assert_int_equal(gg_hvp(g, f, 2, wrt, v, h), 0);
    assert_int_equal(gg_node_dtype(h[0]), GG_F32);
    rng = saved;
    gg_graph *d = gg_graph_new();
    gg_node *V1 = gg_tensor(d, GG_F64, 2, (int64_t[]){3, 4}, a), *V2 = gg_tensor(d, GG_F64, 2, (int64_t[]){4, 2}, b);
    gg_node *f64 = mlp_loss(d, V1, V2, GG_F64);
    gg_node *wrt2[2] = {V1, V2}, *h2[2];
    gg_node *v2[2] = {gg_input(d, GG_F64, 2, (int64_t[]){3, 4}, NULL), gg_input(d, GG_F64, 2, (int64_t[]){4, 2}, NULL)};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < gg_numel(v2[k]); i++)
            ((double *)gg_data(v2[k]))[i] = (double)(float)(0.1 * (double)(i % 5) - 0.2);
    assert_int_equal(gg_hvp(d, f64, 2, wrt2, v2, h2), 0);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < gg_numel(h[k]); i++)
            assert_near(gg_value_at(h[k], i), gg_value_at(h2[k], i), 1e-5);
    /* an f32 variable under an f64 root (through cast) gets an f32 gradient */
    gg_node *x = gg_tensor(g, GG_F32, 1, (int64_t[]){2}, (float[]){0.5f, -1.0f});
    gg_node *r = gg_sum(g, gg_exp(g, gg_cast(g, x, GG_F64)));
    gg_node *gx;
    assert_int_equal(gg_gradient(g, r, 1, &x, &gx), 0);
    assert_int_equal(gg_node_dtype(gx), GG_F32);
    assert_near(gg_value_at(gx, 1), exp(-1.0), 1e-7);
    /* second derivatives through a round trip f64 -> f32 -> f64, within f32's rounding */
    gg_node *z = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){0.3, -0.7, 1.1});
    gg_node *zz = gg_cast(g, gg_sin(g, gg_cast(g, z, GG_F32)), GG_F64);
    gg_node *root = gg_sum(g, gg_mul(g, zz, gg_mul(g, zz, z)));
    gg_gradcheck_result res;
    assert_int_equal(gg_gradgradcheck(g, root, &z, 1, 1e-2, 2e-3, &res), 0);
    assert_int_equal(res.checked, 6);
    gg_graph_free(g);
    gg_graph_free(d);
}

/* ---- errors ---------------------------------------------------------------------- */

static void errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new(), *other = gg_graph_new();
    gg_node *x = var(g, 1, (int64_t[]){3}, -1, 1), *c = gg_input(g, GG_F64, 1, (int64_t[]){3}, NULL);
    gg_node *y = gg_exp(g, x), *out[1];
    assert_int_equal(gg_gradient(g, y, 1, &x, out), -1);
    assert_contains(gg_error(g), "3 elements, not one");
    assert_int_equal(gg_gradient(g, gg_sum(g, y), 1, &c, out), -1);
    assert_contains(gg_error(g), "carries no gradient");
    gg_node *ox = gg_scalar(other, 1);
    assert_int_equal(gg_gradient(g, gg_sum(g, y), 1, &ox, out), -1);
    assert_contains(gg_error(g), "another graph");
    gg_node *bad = gg_input(g, GG_F64, 1, (int64_t[]){2}, NULL);
    assert_int_equal(gg_gradient_seed(g, y, bad, 1, &x, out), -1);
    assert_contains(gg_error(g), "does not match root");
    assert_int_equal(gg_hvp(g, gg_sum(g, y), 1, &x, &bad, out), -1);
    assert_contains(gg_error(g), "v[0]");
    /* a seed of the root's shape: a vector-Jacobian product */
    gg_node *seed = gg_input(g, GG_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    assert_int_equal(gg_gradient_seed(g, y, seed, 1, &x, out), 0);
    for (size_t i = 0; i < 3; i++)
        assert_near(gg_value_at(out[0], i), (double)(i + 1) * exp(gg_value_at(x, i)), 1e-12);
    gg_graph_free(g);
    gg_graph_free(other);
}


/* Kinks as PyTorch has them: relu'(0) = 0 and relu'' = 0, abs'(0) = 0 and
 * abs'' = 0, max and min route a tie to the first input, and the recorded
 * sce gradient follows labels rewritten with gg_set_data (an ignored row
 * included). gg_backward on a recorded gradient gives the next derivative. */
static void kinks_and_conventions(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){-1, 0, 2});
    gg_node *w[1] = {x}, *d1[1], *d2[1];
    gg_node *r = gg_sum(g, gg_mul(g, gg_relu(g, x), gg_const(g, 3)));
    assert_int_equal(gg_gradient(g, r, 1, w, d1), 0);
    assert_near(gg_value_at(d1[0], 0), 0, 0);
    assert_near(gg_value_at(d1[0], 1), 0, 0);
    assert_near(gg_value_at(d1[0], 2), 3, 0);
    assert_int_equal(gg_gradient(g, gg_sum(g, d1[0]), 1, w, d2), 0);
    for (size_t i = 0; i < 3; i++)
        assert_near(gg_value_at(d2[0], i), 0, 0);
    gg_node *a = gg_sum(g, gg_abs(g, x));
    assert_int_equal(gg_gradient(g, a, 1, w, d1), 0);
    assert_near(gg_value_at(d1[0], 0), -1, 0);
    assert_near(gg_value_at(d1[0], 1), 0, 0);
    assert_near(gg_value_at(d1[0], 2), 1, 0);
    assert_int_equal(gg_gradient(g, gg_sum(g, gg_mul(g, d1[0], x)), 1, w, d2), 0);
    assert_near(gg_value_at(d2[0], 0), -1, 0); /* d(x sign x)/dx = sign x: abs'' = 0 */
    /* ties: max(p, q) and min(p, q) at p = q route to p */
    gg_node *p = gg_scalar(g, 1.5), *q = gg_scalar(g, 1.5), *pq[2] = {p, q}, *o[2];
    assert_int_equal(gg_gradient(g, gg_max(g, p, q), 2, pq, o), 0);
    assert_near(gg_value(o[0]), 1, 0);
    assert_near(gg_value(o[1]), 0, 0);
    assert_int_equal(gg_gradient(g, gg_min(g, p, q), 2, pq, o), 0);
    assert_near(gg_value(o[0]), 1, 0);
    assert_near(gg_value(o[1]), 0, 0);
    /* sce: new labels, an ignored row, through gg_forward */
    gg_node *lg = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 3}, (double[]){0.1, 0.2, 0.3, -0.5, 0.5, 1});
    gg_node *lab = gg_input(g, GG_F64, 1, (int64_t[]){2}, (double[]){0, 2});
    gg_node *l = gg_softmax_cross_entropy(g, lg, lab), *gl;
    assert_int_equal(gg_gradient(g, l, 1, &lg, &gl), 0);
    gg_set_data(g, lab, (double[]){-1, 1});
    assert_int_equal(gg_forward(g, gl), 0);
    assert_int_equal(gg_forward(g, l), 0);
    gg_zero_grad(g);
    assert_int_equal(gg_backward(g, l), 0);
    for (size_t i = 0; i < 6; i++)
        assert_near(gg_value_at(gl, i), gg_grad_at(lg, i), 1e-15);
    assert_near(gg_value_at(gl, 0), 0, 0);
    /* gg_backward through a recorded gradient: d/dx of (d/dx sum x^3) = 6x */
    gg_node *c = gg_sum(g, gg_pow(g, x, 3)), *dc;
    assert_int_equal(gg_gradient(g, c, 1, w, &dc), 0);
    gg_zero_grad(g);
    assert_int_equal(gg_backward(g, gg_sum(g, dc)), 0);
    assert_near(gg_grad_at(x, 2), 12, 1e-12);
    assert_near(gg_grad_at(x, 0), -6, 1e-12);
    gg_graph_free(g);
}

/* Every gate of the table has a recording backward (the leaf is never run;
 * users' gates have theirs through their definitions). */
static void every_gate_has_a_builder(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t id = 0; id < ggc_gate_count; id++) {
        if (id == GGC_GATE_LEAF)
            continue;
        if (!ggc_gates[id]->grad)
            fail_msg("gate '%s' has no recording backward (ggc_gate.grad)", ggc_gates[id]->name);
        n++;
    }
    assert_true(n >= 50);

}

/* batch_norm's recording backward in both modes, a row left out of the
 * statistics: its gradient equals gg_backward's, and finite differences
 * of it agree (second order through the batch statistics). */
static void batch_norm_second_order(void **state)
{
    (void)state;
    for (int training = 0; training < 2; training++) {
        gg_graph *g = gg_graph_new();
        gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){4, 2}, (double[]){1, 2, -1, 0.5, 3, -2, 0.25, 1.5});
        gg_node *gamma = gg_tensor(g, GG_F64, 1, (int64_t[]){2}, (double[]){1.5, -0.5});
        gg_node *beta = gg_tensor(g, GG_F64, 1, (int64_t[]){2}, (double[]){0.1, 0.2});
        gg_node *rm = gg_input(g, GG_F64, 1, (int64_t[]){2}, (double[]){0.3, -0.2});
        gg_node *rv = gg_input(g, GG_F64, 1, (int64_t[]){2}, (double[]){1.2, 0.8});
        gg_node *rows = gg_input(g, GG_F64, 1, (int64_t[]){4}, (double[]){0, 3, -1, 1});
        gg_node *bn = gg_batch_norm(g, x, gamma, beta, rm, rv, rows, gg_const(g, training), 1e-5, 0.1);
        gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){4, 2}, (double[]){0.3, -1, 2, 0.5, -0.7, 1.1, 0.9, -0.4});
        gg_node *f = gg_sum(g, gg_mul(g, gg_mul(g, bn, bn), w));
        gg_node *wrt[3] = {x, gamma, beta}, *d[3];
        assert_int_equal(gg_gradient(g, f, 3, wrt, d), 0);
        assert_int_equal(gg_backward(g, f), 0);
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < gg_numel(wrt[k]); i++)
                assert_near(gg_value_at(d[k], i), gg_grad_at(wrt[k], i), 1e-12);
        gg_gradcheck_result r;
        assert_int_equal(gg_gradgradcheck(g, f, wrt, 3, 1e-5, 1e-5, &r), 0);
        assert_true(r.checked > 0);
        gg_graph_free(g);
    }
}

/* A seed that is a variable itself: the vector-Jacobian product is
 * differentiable in the seed too. */
static void seed_is_differentiable(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, 1, (int64_t[]){3}, -1, 1), *s = var(g, 1, (int64_t[]){3}, -1, 1);
    gg_node *y = gg_exp(g, x), *vjp, *ds;
    assert_int_equal(gg_gradient_seed(g, y, s, 1, &x, &vjp), 0);
    assert_int_equal(gg_gradient(g, gg_sum(g, vjp), 1, &s, &ds), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_near(gg_value_at(vjp, i), gg_value_at(s, i) * exp(gg_value_at(x, i)), 1e-14);
        assert_near(gg_value_at(ds, i), exp(gg_value_at(x, i)), 1e-14);
    }
    expect_gradgrad(g, gg_sum(g, gg_mul(g, vjp, vjp)), "vjp with a variable seed");
    gg_graph_free(g);
}

int main(void)
{
    gg_rng_seed(&rng, 12);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_unary_gate),
        cmocka_unit_test(every_binary_gate),
        cmocka_unit_test(random_compositions),
        cmocka_unit_test(random_pipelines),
        cmocka_unit_test(polynomial_third_derivatives),
        cmocka_unit_test(zeros_for_independent),
        cmocka_unit_test(hessians_against_torch),
        cmocka_unit_test(hvp_symmetry_and_rerun),
        cmocka_unit_test(rerun_equals_fresh),
        cmocka_unit_test(custom_gates),
        cmocka_unit_test(f32_roots_and_variables),
        cmocka_unit_test(errors),
        cmocka_unit_test(kinks_and_conventions),
        cmocka_unit_test(every_gate_has_a_builder),
        cmocka_unit_test(batch_norm_second_order),
        cmocka_unit_test(seed_is_differentiable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
