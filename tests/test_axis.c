/* test_axis.c - the gates along one axis: max_axis, min_axis, argmax_axis,
 * softmax_axis and log_softmax_axis. Values and routed gradients by hand
 * on a [2,3,4] tensor along every axis with and without keepdim, ties,
 * NaN, argmax as a constant, gradient checking in f64, f32 against f64,
 * softmax_axis and gg_softmax bit for bit against the formula, errors,
 * traces, and every gate against PyTorch 1.13 (tests/fixtures/torch_axis.h, written by
 * tests/fixtures/make_torch_axis.py: torch is not needed here). */
#include "testutil.h"

#include <stdio.h>

#include "fixtures/torch_axis.h"
#include "gategrad.h"

typedef gg_node *(*reduce_op)(gg_graph *, gg_node *, int, int);
typedef gg_node *(*softmax_op)(gg_graph *, gg_node *, int);

/* x[i][j][k] of the [2,3,4] tensor of the hand-written tests: no ties. */
static const double X[24] = {
    3, -1, 4, 1.5,   -5, 9, 2, 6,   5, -3, 5.5, -8,
    7, 0.5, -9, 3.5, -2, 8, -4, 1,  6.5, -6, 2.5, -7,
};

/* Along axis a (0, 1, 2) of X: the output's dims, the maximum / minimum
 * of each slice and where it is along the axis. */
static const struct {
    int rank;
    int64_t dims[2];
    int64_t kept[3];
    double max[12], min[12];
    int argmax[12], argmin[12];
} HAND[3] = {
    {2, {3, 4}, {1, 3, 4},
     {7, 0.5, 4, 3.5, -2, 9, 2, 6, 6.5, -3, 5.5, -7},
     {3, -1, -9, 1.5, -5, 8, -4, 1, 5, -6, 2.5, -8},
     {1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1},
     {0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0}},
    {2, {2, 4}, {2, 1, 4},
     {5, 9, 5.5, 6, 7, 8, 2.5, 3.5},
     {-5, -3, 2, -8, -2, -6, -9, -7},
     {2, 1, 2, 1, 0, 1, 2, 0},
     {1, 2, 1, 2, 1, 2, 0, 2}},
    {2, {2, 3}, {2, 3, 1},
     {4, 9, 5.5, 7, 8, 6.5},
     {-1, -5, -8, -9, -4, -7},
     {2, 1, 2, 0, 1, 0},
     {1, 0, 3, 2, 2, 3}},
};

static const int64_t D234[3] = {2, 3, 4};

/* Index in X of element l along axis a of the slice whose output index is o. */
static size_t along(int a, size_t o, int l)
{
    size_t inner = a == 0 ? 12 : a == 1 ? 4 : 1, len = (size_t)D234[a];
    return (o / inner) * len * inner + (size_t)l * inner + o % inner;
}

static void expect_shape(const gg_node *y, int rank, const int64_t *dims)
{
    int64_t got[4];
    assert_int_equal(gg_shape(y, got), rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(got[i], dims[i]);
}

/* max/min/argmax along 0, 1, 2, -1, -3, keepdim 0 and 1: the values, the
 * shapes, and the gradient of a seed 1, 2, 3, ... landing whole on the
 * element each value came from. */
static void reductions_by_hand(void **state)
{
    (void)state;
    const int axes[] = {0, 1, 2, -1, -3};
    for (size_t ai = 0; ai < 5; ai++)
        for (int keep = 0; keep < 2; keep++)
            for (int op = 0; op < 3; op++) {
                int axis = axes[ai], a = axis < 0 ? axis + 3 : axis;
                gg_graph *g = gg_graph_new();
                gg_node *x = gg_tensor(g, GG_F64, 3, D234, X);
                reduce_op f = op == 0 ? gg_max_axis : op == 1 ? gg_min_axis : gg_argmax_axis;
                gg_node *y = f(g, x, axis, keep);
                assert_non_null(y);
                assert_string_equal(gg_gate_name(y), op == 0 ? "max_axis" : op == 1 ? "min_axis" : "argmax_axis");
                assert_true(gg_gate_param(y) == a + 4 * keep); /* sum_axis's encoding */
                if (keep)
                    expect_shape(y, 3, HAND[a].kept);
                else
                    expect_shape(y, HAND[a].rank, HAND[a].dims);
                size_t n = gg_numel(y);
                assert_int_equal(n, 24 / D234[a]);
                double seed[12];
                for (size_t o = 0; o < n; o++) {
                    double want = op == 0 ? HAND[a].max[o] : op == 1 ? HAND[a].min[o] : HAND[a].argmax[o];
                    assert_true(gg_value_at(y, o) == want);
                    seed[o] = (double)o + 1;
                }
                if (op == 2) { /* a constant: nothing to seed */
                    assert_false(gg_requires_grad(y));
                    gg_graph_free(g);
                    continue;
                }
                assert_int_equal(gg_backward_seed(g, y, seed), 0);
                double want[24] = {0};
                for (size_t o = 0; o < n; o++)
                    want[along(a, o, op == 0 ? HAND[a].argmax[o] : HAND[a].argmin[o])] = seed[o];
                for (size_t k = 0; k < 24; k++)
                    if (gg_grad_at(x, k) != want[k])
                        fail_msg("%s axis %d keep %d: x.grad[%zu] = %g, want %g", gg_gate_name(y), axis,
                                 keep, k, gg_grad_at(x, k), want[k]);
                gg_graph_free(g);
            }
}

/* Softmax along each axis by the formula, straight from X; every slice sums
 * to 1; log_softmax is its log; and a case small enough to do in one's head. */
static void softmax_by_hand(void **state)
{
    (void)state;
    const int axes[] = {0, 1, 2, -1, -3};
    for (size_t ai = 0; ai < 5; ai++) {
        int axis = axes[ai], a = axis < 0 ? axis + 3 : axis;
        gg_graph *g = gg_graph_new();
        gg_node *x = gg_tensor(g, GG_F64, 3, D234, X);
        gg_node *s = gg_softmax_axis(g, x, axis), *ls = gg_log_softmax_axis(g, x, axis);
        assert_non_null(s);
        assert_non_null(ls);
        assert_string_equal(gg_gate_name(s), "softmax_axis");
        assert_string_equal(gg_gate_name(ls), "log_softmax_axis");
        assert_true(gg_gate_param(s) == a && gg_gate_param(ls) == a);
        expect_shape(s, 3, D234);
        expect_shape(ls, 3, D234);
        for (size_t o = 0; o < (size_t)(24 / D234[a]); o++) {
            double den = 0, total = 0;
            for (int l = 0; l < D234[a]; l++)
                den += exp(X[along(a, o, l)]);
            for (int l = 0; l < D234[a]; l++) {
                size_t k = along(a, o, l);
                assert_near(gg_value_at(s, k), exp(X[k]) / den, 1e-15);
                assert_near(gg_value_at(ls, k), X[k] - log(den), 1e-14);
                total += gg_value_at(s, k);
            }
            assert_near(total, 1.0, 1e-15);
        }
        gg_graph_free(g);
    }
    /* [[0, log 3], [log 3, 0]] along axis 0: columns [1/4, 3/4] and [3/4, 1/4];
     * the upstream [1, 0] of a column gives y0 * (1 - y0), -y0 * y1. */
    gg_graph *g = gg_graph_new();
    double l3 = log(3.0);
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 2}, (double[]){0, l3, l3, 0});
    gg_node *s = gg_softmax_axis(g, x, -2);
    assert_near(gg_value_at(s, 0), 0.25, 1e-15);
    assert_near(gg_value_at(s, 1), 0.75, 1e-15);
    assert_near(gg_value_at(s, 2), 0.75, 1e-15);
    assert_near(gg_value_at(s, 3), 0.25, 1e-15);
    assert_int_equal(gg_backward_seed(g, s, (double[]){1, 0, 0, 0}), 0);
    assert_near(gg_grad_at(x, 0), 0.25 * 0.75, 1e-15);
    assert_near(gg_grad_at(x, 2), -0.25 * 0.75, 1e-15);
    assert_true(gg_grad_at(x, 1) == 0 && gg_grad_at(x, 3) == 0);
    /* log_softmax: dx = upstream - softmax * sum(upstream) */
    gg_zero_grad(g);
    gg_node *ls = gg_log_softmax_axis(g, x, 0);
    assert_near(gg_value_at(ls, 0), log(0.25), 1e-15);
    assert_int_equal(gg_backward_seed(g, ls, (double[]){1, 0, 0, 0}), 0);
    assert_near(gg_grad_at(x, 0), 1 - 0.25, 1e-15);
    assert_near(gg_grad_at(x, 2), -0.75, 1e-15);
    gg_graph_free(g);
}

/* Ties go to the first index: the value, argmax, and the whole gradient
 * (torch.max(dim)'s convention; torch.amax would give half to each). -0
 * and 0 are equal, so the first of them is the maximum. */
static void ties_go_to_the_first(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4},
                           (double[]){1, 3, 3, 2,   5, 5, 5, 0,   -0.0, 0.0, -1, -1});
    gg_node *mx = gg_max_axis(g, x, 1, 0), *mn = gg_min_axis(g, x, 1, 0), *am = gg_argmax_axis(g, x, 1, 0);
    const double vmax[] = {3, 5, 0}, vmin[] = {1, 0, -1}, amax[] = {1, 0, 0};
    for (int r = 0; r < 3; r++) {
        assert_true(gg_value_at(mx, (size_t)r) == vmax[r]);
        assert_true(gg_value_at(mn, (size_t)r) == vmin[r]);
        assert_true(gg_value_at(am, (size_t)r) == amax[r]);
    }
    assert_true(signbit(gg_value_at(mx, 2))); /* the -0 came first */
    assert_int_equal(gg_backward_seed(g, mx, (double[]){10, 20, 30}), 0);
    const double gmax[] = {0, 10, 0, 0,   20, 0, 0, 0,   30, 0, 0, 0};
    for (size_t k = 0; k < 12; k++)
        assert_true(gg_grad_at(x, k) == gmax[k]);
    gg_zero_grad(g);
    assert_int_equal(gg_backward_seed(g, mn, (double[]){10, 20, 30}), 0);
    const double gmin[] = {10, 0, 0, 0,   0, 0, 0, 20,   0, 0, 30, 0};
    for (size_t k = 0; k < 12; k++)
        assert_true(gg_grad_at(x, k) == gmin[k]);
    /* Along axis 0 too: a column of equal values routes to row 0. */
    gg_zero_grad(g);
    gg_node *c = gg_max_axis(g, gg_tensor(g, GG_F64, 2, (int64_t[]){3, 1}, (double[]){2, 2, 2}), 0, 1);
    assert_int_equal(gg_backward(g, gg_sum(g, c)), 0);
    gg_node *col = gg_node_input(c, 0);
    assert_true(gg_grad_at(col, 0) == 1 && gg_grad_at(col, 1) == 0 && gg_grad_at(col, 2) == 0);
    gg_graph_free(g);
}

/* A NaN is the maximum and the minimum of its slice (the first NaN, which
 * receives the gradient); softmax of a slice with a NaN is NaN throughout;
 * infinities are ordinary maxima. */
static void nan_propagates(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 4},
                           (double[]){1, NAN, 5, NAN,   -INFINITY, 2, INFINITY, -1});
    gg_node *mx = gg_max_axis(g, x, -1, 0), *mn = gg_min_axis(g, x, -1, 0);
    gg_node *am = gg_argmax_axis(g, x, -1, 0), *s = gg_softmax_axis(g, x, -1);
    assert_true(isnan(gg_value_at(mx, 0)) && isnan(gg_value_at(mn, 0)));
    assert_true(gg_value_at(mx, 1) == INFINITY && gg_value_at(mn, 1) == -INFINITY);
    assert_true(gg_value_at(am, 0) == 1 && gg_value_at(am, 1) == 2);
    for (size_t k = 0; k < 4; k++)
        assert_true(isnan(gg_value_at(s, k)));
    assert_int_equal(gg_backward_seed(g, mx, (double[]){10, 20}), 0);
    const double gmax[] = {0, 10, 0, 0,   0, 0, 20, 0};
    for (size_t k = 0; k < 8; k++)
        assert_true(gg_grad_at(x, k) == gmax[k]);
    gg_zero_grad(g);
    assert_int_equal(gg_backward_seed(g, mn, (double[]){10, 20}), 0);
    const double gmin[] = {0, 10, 0, 0,   20, 0, 0, 0};
    for (size_t k = 0; k < 8; k++)
        assert_true(gg_grad_at(x, k) == gmin[k]);
    /* a NaN first in its slice, and along axis 0 */
    gg_node *y = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 2}, (double[]){NAN, 1, 3, NAN});
    gg_node *m0 = gg_max_axis(g, y, 0, 0), *a0 = gg_argmax_axis(g, y, 0, 0), *n1 = gg_min_axis(g, y, 1, 0);
    assert_true(isnan(gg_value_at(m0, 0)) && isnan(gg_value_at(m0, 1)));
    assert_true(gg_value_at(a0, 0) == 0 && gg_value_at(a0, 1) == 1);
    assert_true(isnan(gg_value_at(n1, 0)) && isnan(gg_value_at(n1, 1)));
    gg_graph_free(g);
}

/* argmax is a constant: no gradient of its own, none through it, and a
 * product with it trains only the other factor. Its indices are numbers of
 * the input's dtype. */
static void argmax_is_a_constant(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 3, D234, X);
    gg_node *am = gg_argmax_axis(g, x, 2, 1);
    assert_non_null(am);
    assert_false(gg_requires_grad(am));
    assert_null(gg_grad_data(am));
    assert_int_equal(gg_node_dtype(am), GG_F64);
    gg_node *alone = gg_sum(g, am);
    assert_false(gg_requires_grad(alone));
    assert_int_equal(gg_backward(g, alone), 0); /* nothing upstream wants a gradient */
    for (size_t k = 0; k < 24; k++)
        assert_true(gg_grad_at(x, k) == 0);
    /* sum(x * argmax): x receives the indices (broadcast along the axis) */
    assert_int_equal(gg_backward(g, gg_sum(g, gg_mul(g, x, am))), 0);
    for (size_t k = 0; k < 24; k++)
        assert_true(gg_grad_at(x, k) == HAND[2].argmax[k / 4]);
    /* recomputed by gg_forward when x changes */
    double *xd = gg_data(x);
    xd[0] = 100;
    gg_node *root = gg_sum(g, am);
    assert_int_equal(gg_forward(g, root), 0);
    assert_true(gg_value_at(am, 0) == 0);
    /* f32 in, f32 indices out */
    float xf[24];
    for (int k = 0; k < 24; k++)
        xf[k] = (float)X[k];
    gg_node *amf = gg_argmax_axis(g, gg_tensor(g, GG_F32, 3, D234, xf), 1, 0);
    assert_int_equal(gg_node_dtype(amf), GG_F32);
    for (size_t o = 0; o < 8; o++)
        assert_true(((const float *)gg_data_const(amf))[o] == (float)HAND[1].argmax[o]);
    gg_graph_free(g);
}

static void fill(gg_node *x, gg_rng *r, double lo, double hi)
{
    double *d = gg_data(x);
    for (size_t i = 0; i < gg_numel(x); i++)
        d[i] = lo + (hi - lo) * gg_rng_uniform(r);
}

static void expect_gradcheck(gg_graph *g, gg_node *root, const char *what, int axis, int keep)
{
    gg_gradcheck_result r;
    int rc = gg_gradcheck(g, root, NULL, 0, 1e-6, 1e-6, &r);
    if (rc != 0)
        fail_msg("%s axis %d keep %d: gradcheck rc=%d (%s): %zu/%zu failures, worst |err| %g at [%zu]: "
                 "analytic %.12g numeric %.12g",
                 what, axis, keep, rc, gg_error(g) ? gg_error(g) : "", r.failures, r.checked,
                 r.max_abs_err, r.worst_index, r.worst_analytic, r.worst_numeric);
    assert_true(r.checked == 24);
}

/* Finite differences in f64 of sum(gate(x) * w) for random x (no ties)
 * and w, along every axis of a [2,3,4] tensor. */
static void gradients_check(void **state)
{
    (void)state;
    const int axes[] = {0, 1, 2, -1, -3};
    const reduce_op reduce[] = {gg_max_axis, gg_min_axis};
    const softmax_op soft[] = {gg_softmax_axis, gg_log_softmax_axis};
    const char *names[] = {"max_axis", "min_axis", "softmax_axis", "log_softmax_axis"};
    gg_rng r;
    gg_rng_seed(&r, 5);
    for (size_t ai = 0; ai < 5; ai++)
        for (int op = 0; op < 4; op++)
            for (int keep = 0; keep < (op < 2 ? 2 : 1); keep++) {
                gg_graph *g = gg_graph_new();
                gg_node *x = gg_tensor(g, GG_F64, 3, D234, NULL);
                fill(x, &r, -3, 3);
                gg_node *y = op < 2 ? reduce[op](g, x, axes[ai], keep) : soft[op - 2](g, x, axes[ai]);
                int64_t dims[4];
                int rank = gg_shape(y, dims);
                gg_node *w = gg_input(g, GG_F64, rank, dims, NULL);
                fill(w, &r, -1, 1);
                expect_gradcheck(g, gg_sum(g, gg_mul(g, y, w)), names[op], axes[ai], keep);
                gg_graph_free(g);
            }
}

/* The same graph in f32 and f64: max, min and argmax pick the same elements
 * (identical values and gradients, every f32 input being exact in f64);
 * softmax agrees to f32 rounding. */
static void f32_against_f64(void **state)
{
    (void)state;
    gg_rng r;
    gg_rng_seed(&r, 9);
    float xf[24], wf[24];
    double xd[24], wd[24];
    for (int k = 0; k < 24; k++) {
        xf[k] = (float)(6 * gg_rng_uniform(&r) - 3);
        wf[k] = (float)(2 * gg_rng_uniform(&r) - 1);
        xd[k] = xf[k];
        wd[k] = wf[k];
    }
    for (int axis = -3; axis < 3; axis++)
        for (int op = 0; op < 5; op++) {
            gg_graph *g = gg_graph_new();
            gg_node *x32 = gg_tensor(g, GG_F32, 3, D234, xf), *x64 = gg_tensor(g, GG_F64, 3, D234, xd);
            gg_node *y[2];
            for (int d = 0; d < 2; d++) {
                gg_node *x = d ? x64 : x32;
                y[d] = op == 0 ? gg_max_axis(g, x, axis, 1)
                     : op == 1 ? gg_min_axis(g, x, axis, 0)
                     : op == 2 ? gg_argmax_axis(g, x, axis, 0)
                     : op == 3 ? gg_softmax_axis(g, x, axis)
                               : gg_log_softmax_axis(g, x, axis);
                assert_non_null(y[d]);
                int64_t dims[4];
                int rank = gg_shape(y[d], dims);
                gg_node *w = gg_input(g, d ? GG_F64 : GG_F32, rank, dims, d ? (const void *)wd : (const void *)wf);
                if (op != 2)
                    assert_int_equal(gg_backward(g, gg_sum(g, gg_mul(g, y[d], w))), 0);
            }
            assert_int_equal(gg_node_dtype(y[0]), GG_F32);
            double tol = op < 3 ? 0 : 1e-6;
            for (size_t k = 0; k < gg_numel(y[1]); k++) {
                double v64 = gg_value_at(y[1], k);
                if (!(fabs(gg_value_at(y[0], k) - v64) <= tol * (1 + fabs(v64))))
                    fail_msg("op %d axis %d: value [%zu] f32 %.9g f64 %.17g", op, axis, k,
                             gg_value_at(y[0], k), v64);
            }
            for (size_t k = 0; op != 2 && k < 24; k++) {
                double g64 = gg_grad_at(x64, k);
                if (!(fabs(gg_grad_at(x32, k) - g64) <= tol * (1 + fabs(g64))))
                    fail_msg("op %d axis %d: grad [%zu] f32 %.9g f64 %.17g", op, axis, k,
                             gg_grad_at(x32, k), g64);
            }
            gg_graph_free(g);
        }
}

/* Softmax of line (o, i) of a [outer, len, inner] view, written out as
 * gg_softmax computed it before the axis family shared its kernel: the
 * maximum folded with fmax from -inf, the sum of exp(x - max) in order,
 * then exp(x - max - log(sum)) (x - max - log(sum) for log_softmax); the
 * backward from the output y and the upstream w. All in double, rounded
 * to the dtype where the graph stores a number (f32: y and dx). */
static void ref_softmax(const double *x, const double *w, size_t len, size_t inner, bool take_log,
                        bool f32, double *y, double *dx)
{
    size_t outer = 24 / (len * inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            double mx = -INFINITY, s = 0, dot = 0;
            for (size_t l = 0; l < len; l++)
                mx = fmax(mx, x[base + l * inner]);
            for (size_t l = 0; l < len; l++)
                s += exp(x[base + l * inner] - mx);
            double log_s = log(s);
            for (size_t l = 0; l < len; l++) {
                size_t k = base + l * inner;
                double d = x[k] - mx;
                y[k] = take_log ? d - log_s : exp(d - log_s);
                if (f32)
                    y[k] = (float)y[k];
            }
            for (size_t l = 0; l < len; l++)
                dot += w[base + l * inner] * (take_log ? 1.0 : y[base + l * inner]);
            for (size_t l = 0; l < len; l++) {
                size_t k = base + l * inner;
                double v = take_log ? w[k] - exp(y[k]) * dot : y[k] * (w[k] - dot);
                dx[k] = 0.0 + (f32 ? (float)v : v); /* added into a zeroed gradient: -0 becomes 0 */
            }
        }
}

static void expect_bits(const gg_node *n, const double *want, bool grad, const char *what, int axis)
{
    for (size_t k = 0; k < 24; k++) {
        double got = grad ? gg_grad_at(n, k) : gg_value_at(n, k);
        if (memcmp(&got, &want[k], sizeof got))
            fail_msg("%s axis %d: %s[%zu] = %a, want %a", what, axis, grad ? "dx" : "y", k, got, want[k]);
    }
}

/* softmax_axis / log_softmax_axis along every axis, and gg_softmax /
 * gg_log_softmax along the last, compute the reference's bits, values and
 * gradients, in both dtypes: gg_softmax's results are what they were
 * before it shared its kernel, and softmax_axis(x, -1) gives the same. */
static void softmax_bit_for_bit(void **state)
{
    (void)state;
    gg_rng r;
    gg_rng_seed(&r, 3);
    double x[24], w[24], y[24], dx[24];
    for (int k = 0; k < 24; k++) {
        x[k] = 20 * X[k] + 0.37 * k; /* exp of these overflows without the max */
        w[k] = 2 * gg_rng_uniform(&r) - 1;
    }
    for (int dt = 0; dt < 2; dt++) {
        gg_dtype dtype = dt ? GG_F64 : GG_F32;
        float xf[24], wf[24];
        double xr[24], wr[24]; /* the values as the graph holds them */
        for (int k = 0; k < 24; k++) {
            xf[k] = (float)x[k], wf[k] = (float)w[k];
            xr[k] = dt ? x[k] : xf[k], wr[k] = dt ? w[k] : wf[k];
        }
        const void *xdata = dt ? (const void *)x : (const void *)xf;
        const void *wdata = dt ? (const void *)w : (const void *)wf;
        for (int take_log = 0; take_log < 2; take_log++)
            for (int axis = -4; axis < 3; axis++) { /* -4: gg_softmax itself */
                int a = axis < 0 ? axis + 3 : axis;
                size_t inner = a == 0 ? 12 : a == 1 ? 4 : 1;
                ref_softmax(xr, wr, (size_t)D234[a < 0 ? 2 : a], a < 0 ? 1 : inner, take_log, !dt, y, dx);
                gg_graph *g = gg_graph_new();
                gg_node *xn = gg_tensor(g, dtype, 3, D234, xdata), *wn = gg_input(g, dtype, 3, D234, wdata);
                gg_node *yn = axis == -4 ? (take_log ? gg_log_softmax(g, xn) : gg_softmax(g, xn))
                            : take_log ? gg_log_softmax_axis(g, xn, axis) : gg_softmax_axis(g, xn, axis);
                assert_int_equal(gg_backward(g, gg_sum(g, gg_mul(g, yn, wn))), 0);
                expect_bits(yn, y, false, gg_gate_name(yn), axis);
                expect_bits(xn, dx, true, gg_gate_name(yn), axis);
                gg_graph_free(g);
            }
    }
}

static void expect_error(gg_graph *g, const gg_node *result, const char *needle)
{
    assert_null(result);
    assert_contains(gg_error(g), needle);
    gg_clear_error(g);
}

/* A bad axis names the gate, the axis and the shape; a rank-0 input has no
 * axis (gg_softmax accepts one, softmax_axis does not); a NULL input gives
 * NULL without a message. */
static void errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 3, D234, X);
    expect_error(g, gg_max_axis(g, x, 3, 0), "max_axis: axis 3 is out of range for a rank-3 tensor [2,3,4]");
    expect_error(g, gg_min_axis(g, x, -4, 1), "min_axis: axis -4 is out of range for a rank-3 tensor [2,3,4]");
    expect_error(g, gg_argmax_axis(g, x, 7, 0), "argmax_axis: axis 7 is out of range for a rank-3 tensor [2,3,4]");
    expect_error(g, gg_softmax_axis(g, x, -4), "softmax_axis: axis -4 is out of range for a rank-3 tensor [2,3,4]");
    expect_error(g, gg_log_softmax_axis(g, x, 3), "log_softmax_axis: axis 3 is out of range for a rank-3 tensor [2,3,4]");
    gg_node *s = gg_scalar(g, 2);
    expect_error(g, gg_max_axis(g, s, 0, 0), "max_axis: axis 0 is out of range for a rank-0 tensor []");
    expect_error(g, gg_argmax_axis(g, s, -1, 1), "argmax_axis: axis -1 is out of range for a rank-0 tensor []");
    expect_error(g, gg_softmax_axis(g, s, 0), "softmax_axis: axis 0 is out of range for a rank-0 tensor []");
    expect_error(g, gg_log_softmax_axis(g, s, 0), "log_softmax_axis: axis 0 is out of range for a rank-0 tensor []");
    assert_true(gg_value(gg_softmax(g, s)) == 1);
    /* sum_axis goes through the same check */
    expect_error(g, gg_sum_axis(g, x, 3, 0), "sum_axis: axis 3 is out of range for a rank-3 tensor [2,3,4]");
    size_t count = gg_node_count(g);
    assert_null(gg_max_axis(g, NULL, 0, 0));
    assert_null(gg_softmax_axis(g, NULL, 0));
    assert_null(gg_error(g));
    assert_int_equal(gg_node_count(g), count);
    assert_null(gg_argmax_axis(NULL, x, 0, 0));
    gg_graph_free(g);
}

/* ---- against PyTorch ------------------------------------------------------- */

#define TOL 1e-12

/* NaN matches NaN, an infinity the same infinity, anything else to TOL
 * relative + absolute. */
static bool matches(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= TOL * (1 + fabs(want));
}

static gg_node *apply(gg_graph *g, const torch_axis_case *c, gg_node *x)
{
    if (!strcmp(c->gate, "max_axis"))
        return gg_max_axis(g, x, c->axis, c->keepdim);
    if (!strcmp(c->gate, "min_axis"))
        return gg_min_axis(g, x, c->axis, c->keepdim);
    if (!strcmp(c->gate, "argmax_axis"))
        return gg_argmax_axis(g, x, c->axis, c->keepdim);
    if (!strcmp(c->gate, "softmax_axis"))
        return gg_softmax_axis(g, x, c->axis);
    if (!strcmp(c->gate, "log_softmax_axis"))
        return gg_log_softmax_axis(g, x, c->axis);
    fail_msg("fixture gate '%s' has no gategrad function in this test", c->gate);
    return NULL;
}

/* Every fixture case: y = gate(x) and the gradient of sum(y * w). */
static void against_torch(void **state)
{
    (void)state;
    size_t n_cases = sizeof torch_axis_cases / sizeof *torch_axis_cases, amax_cases = 0;
    bool seen[5] = {false};
    const char *gates[5] = {"max_axis", "min_axis", "argmax_axis", "softmax_axis", "log_softmax_axis"};
    for (size_t ci = 0; ci < n_cases; ci++) {
        const torch_axis_case *c = &torch_axis_cases[ci];
        for (int i = 0; i < 5; i++)
            seen[i] = seen[i] || !strcmp(c->gate, gates[i]);
        gg_graph *g = gg_graph_new();
        gg_node *x = gg_tensor(g, GG_F64, c->sx.rank, c->sx.dims, c->x);
        gg_node *y = apply(g, c, x);
        if (!y)
            fail_msg("%s(%s, %d, %d): %s", c->gate, c->input, c->axis, c->keepdim, gg_error(g));
        assert_string_equal(gg_gate_name(y), c->gate);
        expect_shape(y, c->sy.rank, c->sy.dims);
        gg_node *w = gg_input(g, GG_F64, c->sy.rank, c->sy.dims, c->w);
        gg_node *root = gg_sum(g, gg_mul(g, y, w));
        assert_int_equal(gg_backward(g, root), 0);
        size_t nx = gg_numel(x), differs = 0;
        for (size_t k = 0; k < gg_numel(y); k++)
            if (!matches(gg_value_at(y, k), c->y[k]))
                fail_msg("%s(%s, axis %d, keepdim %d): y[%zu] gategrad %.17g, torch %.17g", c->gate,
                         c->input, c->axis, c->keepdim, k, gg_value_at(y, k), c->y[k]);
        for (size_t k = 0; k < nx; k++) {
            double want = c->dx ? c->dx[k] : 0; /* argmax: nothing flows back */
            if (!matches(gg_grad_at(x, k), want))
                fail_msg("%s(%s, axis %d, keepdim %d): dx[%zu] gategrad %.17g, torch %.17g", c->gate,
                         c->input, c->axis, c->keepdim, k, gg_grad_at(x, k), want);
            if (c->dx_amax && !matches(gg_grad_at(x, k), c->dx_amax[k]))
                differs++;
        }
        if (!c->dx)
            assert_false(gg_requires_grad(root));
        /* Where torch.amax/amin give another gradient, gategrad's is
         * torch.max(dim)'s, not theirs. */
        if (c->dx_amax) {
            assert_true(differs > 0);
            amax_cases++;
        }
        gg_graph_free(g);
    }
    for (int i = 0; i < 5; i++)
        if (!seen[i])
            fail_msg("no fixture for %s", gates[i]);
    assert_true(n_cases >= 100);
    assert_true(amax_cases > 0);
}

/* A trace of a small graph with every one of these gates runs and names
 * them; argmax, a constant, has a forward line and no backward step. */
static void traces_name_the_gates(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    gg_tracer *t = gg_trace_file(g, out, NULL);
    assert_non_null(t);
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 3}, (double[]){1, -2, 3, 0.5, 4, -1});
    gg_set_label(g, x, "x");
    gg_node *mx = gg_max_axis(g, x, 1, 1), *mn = gg_min_axis(g, x, 0, 0);
    gg_node *am = gg_argmax_axis(g, x, -1, 1);
    gg_node *s = gg_softmax_axis(g, x, 0), *ls = gg_log_softmax_axis(g, x, -1);
    gg_node *f = gg_add(g, gg_sum(g, gg_mul(g, gg_mul(g, s, mx), am)), gg_sum(g, gg_add(g, ls, mn)));
    assert_non_null(f);
    assert_int_equal(gg_backward(g, f), 0);
    gg_trace_end(t);
    fclose(out);
    assert_contains(text, "= max_axis(x = ");
    assert_contains(text, "= min_axis(x = ");
    assert_contains(text, "= argmax_axis(x = ");
    assert_contains(text, "= softmax_axis(x = ");
    assert_contains(text, "= log_softmax_axis(x = ");
    assert_contains(text, "; max_axis gate, router along the axis: the maximum of each slice");
    assert_contains(text, "; min_axis gate, router along the axis: the minimum of each slice");
    assert_contains(text, "; softmax_axis gate, from its own output");
    assert_contains(text, "; log_softmax_axis gate, the input receives upstream - softmax");
    assert_null(strstr(text, "; argmax_axis gate"));
    assert_contains(text, "x #0 is used by 4 gates"); /* argmax takes no part in backward */
    free(text);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reductions_by_hand),
        cmocka_unit_test(softmax_by_hand),
        cmocka_unit_test(ties_go_to_the_first),
        cmocka_unit_test(nan_propagates),
        cmocka_unit_test(argmax_is_a_constant),
        cmocka_unit_test(gradients_check),
        cmocka_unit_test(f32_against_f64),
        cmocka_unit_test(softmax_bit_for_bit),
        cmocka_unit_test(errors),
        cmocka_unit_test(against_torch),
        cmocka_unit_test(traces_name_the_gates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
