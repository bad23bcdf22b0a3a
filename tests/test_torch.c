/* test_torch.c - gategrad against PyTorch: every elementwise gate's values
 * and gradients, on f64 tensors (same shape and broadcast) and on scalars;
 * where, clamp (f64 and f32) and cast (f64 <-> f32); and expressions and
 * programs of the expression language, compared with what PyTorch 1.13
 * computes (tests/fixtures/torch_gates.h, written by
 * tests/fixtures/make_torch_fixtures.py: torch is not needed here).
 *
 * Each case is sum(gate(...) * w) for a fixed weight tensor w: the values
 * of gate(...) and the gradients of every input are compared. A NaN in the
 * fixture must be NaN here, an infinity the same infinity; any other
 * number must agree to TOL relative + absolute. */
#include "testutil.h"

#include <stdio.h>

#include "core/core.h" /* the gate table: every elementwise gate must have a fixture */
#include "fixtures/torch_gates.h"
#include "gategrad.h"
#include "gategrad/expr.h"

#define TOL 1e-12
/* f32 gradients summed over a broadcast: the order of the float additions
 * may differ from torch's. */
#define TOL32 1e-6

typedef gg_node *(*unary_op)(gg_graph *, gg_node *);
typedef gg_node *(*param_op)(gg_graph *, gg_node *, double);
typedef gg_node *(*binary_op)(gg_graph *, gg_node *, gg_node *);

/* Every gate meets TOL against PyTorch; a gate that could not would get its
 * own tolerance here, with the reason. */
static const struct {
    const char *name;
    unary_op op;
    param_op pop;
} unary_gates[] = {
    {"neg", gg_neg, NULL},         {"sigmoid", gg_sigmoid, NULL}, {"tanh", gg_tanh, NULL},
    {"exp", gg_exp, NULL},         {"log", gg_log, NULL},         {"relu", gg_relu, NULL},
    {"leaky_relu", NULL, gg_leaky_relu}, {"elu", NULL, gg_elu},   {"abs", gg_abs, NULL},
    {"pow", NULL, gg_pow},         {"sqrt", gg_sqrt, NULL},       {"sin", gg_sin, NULL},
    {"cos", gg_cos, NULL},         {"softplus", gg_softplus, NULL}, {"silu", gg_silu, NULL},
    {"gelu", gg_gelu, NULL},       {"log1p", gg_log1p, NULL},
};

static const struct {
    const char *name;
    binary_op op;
} binary_gates[] = {
    {"add", gg_add}, {"sub", gg_sub}, {"mul", gg_mul}, {"div", gg_div},
    {"max", gg_max}, {"min", gg_min}, {"pow_node", gg_pow_node},
};

/* NaN matches NaN, an infinity the same infinity, anything else to tol
 * relative + absolute. */
static bool matches(double got, double want, double tol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= tol * (1 + fabs(want));
}

#define expect_match(got, want, what, ...) expect_match_tol(got, want, TOL, what, __VA_ARGS__)

/* tol 0: the same number exactly (NaN for NaN, and 0 and -0 alike). */
#define expect_match_tol(got, want, tol, what, ...)                                           \
    do {                                                                                      \
        double g_ = (got), w_ = (want);                                                       \
        if (!matches(g_, w_, tol))                                                            \
            fail_msg(what ": gategrad %.17g, torch %.17g (diff %.3g)", __VA_ARGS__, g_, w_,     \
                     fabs(g_ - w_));                                                          \
    } while (0)

static gg_node *apply_unary(gg_graph *g, const torch_unary *c, gg_node *x)
{
    for (size_t i = 0; i < sizeof unary_gates / sizeof *unary_gates; i++)
        if (!strcmp(unary_gates[i].name, c->gate))
            return unary_gates[i].op ? unary_gates[i].op(g, x) : unary_gates[i].pop(g, x, c->param);
    fail_msg("fixture gate '%s' has no gategrad function in this test", c->gate);
    return NULL;
}

static binary_op find_binary(const char *name)
{
    for (size_t i = 0; i < sizeof binary_gates / sizeof *binary_gates; i++)
        if (!strcmp(binary_gates[i].name, name))
            return binary_gates[i].op;
    fail_msg("fixture gate '%s' has no gategrad function in this test", name);
    return NULL;
}

static void check_gate_node(const gg_node *y, const char *gate, double param)
{
    assert_non_null(y);
    assert_string_equal(gg_gate_name(y), gate);
    if (param != 0)
        assert_true(gg_gate_param(y) == param);
}

/* Unary gates on one f64 tensor each. */
static void unary_tensors(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_unary_cases / sizeof *torch_unary_cases; c++) {
        const torch_unary *k = &torch_unary_cases[c];
        int64_t n = (int64_t)k->n;
        gg_graph *g = gg_graph_new();
        gg_node *x = gg_tensor(g, GG_F64, 1, &n, k->x);
        gg_node *w = gg_input(g, GG_F64, 1, &n, k->w);
        gg_node *y = apply_unary(g, k, x);
        check_gate_node(y, k->gate, k->param);
        gg_node *root = gg_sum(g, gg_mul(g, y, w));
        assert_int_equal(gg_backward(g, root), 0);
        for (size_t i = 0; i < k->n; i++) {
            expect_match(gg_value_at(y, i), k->y[i], "%s(p=%g) at x = %.17g: value", k->gate,
                         k->param, k->x[i]);
            expect_match(gg_grad_at(x, i), k->dx[i], "%s(p=%g) at x = %.17g: gradient", k->gate,
                         k->param, k->x[i]);
        }
        gg_graph_free(g);
    }
}

/* The same inputs one rank-0 scalar at a time (the scalar fast path), the
 * weight a gg_const. */
static void unary_scalars(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_unary_cases / sizeof *torch_unary_cases; c++) {
        const torch_unary *k = &torch_unary_cases[c];
        for (size_t i = 0; i < k->n; i++) {
            gg_graph *g = gg_graph_new();
            gg_node *x = gg_scalar(g, k->x[i]);
            gg_node *y = apply_unary(g, k, x);
            check_gate_node(y, k->gate, k->param);
            assert_int_equal(gg_backward(g, gg_mul(g, y, gg_const(g, k->w[i]))), 0);
            expect_match(gg_value(y), k->y[i], "scalar %s(p=%g) at x = %.17g: value", k->gate,
                         k->param, k->x[i]);
            expect_match(gg_grad(x), k->dx[i], "scalar %s(p=%g) at x = %.17g: gradient", k->gate,
                         k->param, k->x[i]);
            gg_graph_free(g);
        }
    }
}

/* Builds one binary case; *za, *zb receive the leaves. */
static gg_node *build_binary(gg_graph *g, const torch_binary *k, gg_node **a, gg_node **b)
{
    *a = gg_tensor(g, GG_F64, k->sa.rank, k->sa.dims, k->a);
    *b = gg_tensor(g, GG_F64, k->sb.rank, k->sb.dims, k->b);
    gg_node *z = find_binary(k->gate)(g, *a, *b);
    check_gate_node(z, k->gate, 0);
    int64_t dims[GG_MAX_DIMS];
    assert_int_equal(gg_shape(z, dims), k->sz.rank);
    for (int d = 0; d < k->sz.rank; d++)
        assert_int_equal(dims[d], k->sz.dims[d]);
    gg_node *w = gg_input(g, GG_F64, k->sz.rank, k->sz.dims, k->w);
    gg_node *root = gg_sum(g, gg_mul(g, z, w));
    assert_int_equal(gg_backward(g, root), 0);
    return z;
}

/* Binary gates, same shapes and broadcast ones (max/min without ties: see
 * max_min_ties). */
static void binary_tensors(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_binary_cases / sizeof *torch_binary_cases; c++) {
        const torch_binary *k = &torch_binary_cases[c];
        gg_graph *g = gg_graph_new();
        gg_node *a, *b, *z = build_binary(g, k, &a, &b);
        char sa[64], sb[64];
        gg_shape_str(a, sa, sizeof sa);
        gg_shape_str(b, sb, sizeof sb);
        for (size_t i = 0; i < gg_numel(z); i++)
            expect_match(gg_value_at(z, i), k->z[i], "%s(%s, %s) element %zu: value", k->gate, sa,
                         sb, i);
        for (size_t i = 0; i < gg_numel(a); i++)
            expect_match(gg_grad_at(a, i), k->da[i], "%s(%s, %s): d/da at %.17g, b %s: element %zu",
                         k->gate, sa, sb, k->a[i], sb, i);
        for (size_t i = 0; i < gg_numel(b); i++)
            expect_match(gg_grad_at(b, i), k->db[i], "%s(%s, %s): d/db at %.17g, a %s: element %zu",
                         k->gate, sa, sb, k->b[i], sa, i);
        gg_graph_free(g);
    }
}

/* The same-shape cases one pair of scalars at a time. */
static void binary_scalars(void **state)
{
    (void)state;
    size_t done = 0;
    for (size_t c = 0; c < sizeof torch_binary_cases / sizeof *torch_binary_cases; c++) {
        const torch_binary *k = &torch_binary_cases[c];
        if (k->sa.rank != 1 || k->sb.rank != 1 || k->sa.dims[0] != k->sb.dims[0])
            continue;
        for (int64_t i = 0; i < k->sa.dims[0]; i++) {
            gg_graph *g = gg_graph_new();
            gg_node *a = gg_scalar(g, k->a[i]), *b = gg_scalar(g, k->b[i]);
            gg_node *z = find_binary(k->gate)(g, a, b);
            check_gate_node(z, k->gate, 0);
            assert_int_equal(gg_backward(g, gg_mul(g, z, gg_const(g, k->w[i]))), 0);
            expect_match(gg_value(z), k->z[i], "scalar %s(%.17g, %.17g): value", k->gate, k->a[i],
                         k->b[i]);
            expect_match(gg_grad(a), k->da[i], "scalar %s(%.17g, %.17g): d/da", k->gate, k->a[i],
                         k->b[i]);
            expect_match(gg_grad(b), k->db[i], "scalar %s(%.17g, %.17g): d/db", k->gate, k->a[i],
                         k->b[i]);
            gg_graph_free(g);
            done++;
        }
    }
    assert_true(done > 0);
}

/* Ties: gategrad's max and min are the lecture's router, which gives the
 * whole gradient to the first input (graph.h); torch.maximum/minimum split
 * it, w/2 to each. So at ties only the values and the total gradient are
 * compared with PyTorch, and the split is checked to be gategrad's own. */
static void max_min_ties(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_tie_cases / sizeof *torch_tie_cases; c++) {
        const torch_binary *k = &torch_tie_cases[c];
        gg_graph *g = gg_graph_new();
        gg_node *a, *b, *z = build_binary(g, k, &a, &b);
        for (size_t i = 0; i < gg_numel(z); i++) {
            assert_true(k->a[i] == k->b[i]);
            expect_match(gg_value_at(z, i), k->z[i], "%s tie at %.17g: value", k->gate, k->a[i]);
            expect_match(gg_grad_at(a, i) + gg_grad_at(b, i), k->da[i] + k->db[i],
                         "%s tie at %.17g: total gradient", k->gate, k->a[i]);
            assert_true(gg_grad_at(a, i) == k->w[i]); /* the first input takes it all */
            assert_true(gg_grad_at(b, i) == 0);
            assert_true(k->da[i] == k->db[i]);        /* torch's split, as recorded */
        }
        gg_graph_free(g);
    }
}

/* ---- where, clamp, cast ------------------------------------------------------ */

static size_t numel_of(const torch_shape *s)
{
    size_t n = 1;
    for (int d = 0; d < s->rank; d++)
        n *= (size_t)s->dims[d];
    return n;
}

/* A leaf of dtype dt holding v (rounded to f32 for GG_F32), a variable or
 * a constant input. */
static gg_node *leaf(gg_graph *g, gg_dtype dt, bool variable, const torch_shape *s, const double *v)
{
    gg_node *x = variable ? gg_tensor(g, dt, s->rank, s->dims, NULL) : gg_input(g, dt, s->rank, s->dims, NULL);
    assert_non_null(x);
    for (size_t i = 0, n = numel_of(s); i < n; i++) {
        if (dt == GG_F64)
            ((double *)gg_data(x))[i] = v[i];
        else
            ((float *)gg_data(x))[i] = (float)v[i];
    }
    return x;
}

static void expect_shape(const gg_node *z, const torch_shape *want)
{
    int64_t dims[GG_MAX_DIMS];
    assert_int_equal(gg_shape(z, dims), want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(dims[d], want->dims[d]);
}

/* where(cond, a, b) against torch.where(cond != 0, a, b): same shapes and
 * three-way broadcasts, cond with 0, -0, negative, positive, 1e-300 (0 in
 * f32) and NaN (not 0: picks a). In f64 to TOL, with cond a variable that
 * must receive no gradient; then in f32 against torch's float32 run: the
 * values exactly, the gradients (sums over broadcast dimensions) to TOL32. */
static void where_cases(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_where_cases / sizeof *torch_where_cases; c++) {
        const torch_where *k = &torch_where_cases[c];
        for (int run = 0; run < 2; run++) {
            gg_dtype dt = run == 0 ? GG_F64 : GG_F32;
            const double *w = run == 0 ? k->w : k->w32, *z = run == 0 ? k->z : k->z32;
            const double *da = run == 0 ? k->da : k->da32, *db = run == 0 ? k->db : k->db32;
            double tz = run == 0 ? TOL : 0, tg = run == 0 ? TOL : TOL32;
            gg_graph *g = gg_graph_new();
            gg_node *cond = leaf(g, dt, true, &k->sc, k->c);
            gg_node *a = leaf(g, dt, true, &k->sa, k->a), *b = leaf(g, dt, true, &k->sb, k->b);
            gg_node *y = gg_where(g, cond, a, b);
            check_gate_node(y, "where", 0);
            expect_shape(y, &k->sz);
            gg_node *wn = leaf(g, dt, false, &k->sz, w);
            assert_int_equal(gg_backward(g, gg_sum(g, gg_mul(g, y, wn))), 0);
            const char *dts = run == 0 ? "f64" : "f32";
            for (size_t i = 0; i < gg_numel(y); i++)
                expect_match_tol(gg_value_at(y, i), z[i], tz, "%s where case %zu element %zu: value", dts, c, i);
            for (size_t i = 0; i < gg_numel(a); i++)
                expect_match_tol(gg_grad_at(a, i), da[i], tg, "%s where case %zu: d/da element %zu", dts, c, i);
            for (size_t i = 0; i < gg_numel(b); i++)
                expect_match_tol(gg_grad_at(b, i), db[i], tg, "%s where case %zu: d/db element %zu", dts, c, i);
            for (size_t i = 0; i < gg_numel(cond); i++)
                assert_true(gg_grad_at(cond, i) == 0);
            gg_graph_free(g);
        }
    }
}

/* The same-shape where case one triple of scalars at a time. */
static void where_scalars(void **state)
{
    (void)state;
    const torch_where *k = &torch_where_cases[0];
    assert_true(k->sc.rank == 1 && k->sa.rank == 1 && k->sb.rank == 1);
    for (int64_t i = 0; i < k->sc.dims[0]; i++) {
        gg_graph *g = gg_graph_new();
        gg_node *cond = gg_scalar(g, k->c[i]), *a = gg_scalar(g, k->a[i]), *b = gg_scalar(g, k->b[i]);
        gg_node *y = gg_where(g, cond, a, b);
        check_gate_node(y, "where", 0);
        assert_int_equal(gg_backward(g, gg_mul(g, y, gg_const(g, k->w[i]))), 0);
        expect_match(gg_value(y), k->z[i], "scalar where(%g, %g, %g): value", k->c[i], k->a[i], k->b[i]);
        expect_match(gg_grad(a), k->da[i], "scalar where(%g, %g, %g): d/da", k->c[i], k->a[i], k->b[i]);
        expect_match(gg_grad(b), k->db[i], "scalar where(%g, %g, %g): d/db", k->c[i], k->a[i], k->b[i]);
        assert_true(gg_grad(cond) == 0);
        gg_graph_free(g);
    }
}

/* clamp(x, lo, hi) against torch.clamp: below, at, between and above the
 * bounds, infinite bounds, lo == hi, lo > hi (hi everywhere, no gradient),
 * in f64 (tensors to TOL, and each point as a scalar) and in f32 (exactly:
 * the values are x or a bound, the gradients w or 0). */
static void clamp_cases(void **state)
{
    (void)state;
    size_t f32_runs = 0;
    for (size_t c = 0; c < sizeof torch_clamp_cases / sizeof *torch_clamp_cases; c++) {
        const torch_clamp *k = &torch_clamp_cases[c];
        torch_shape s = {1, {(int64_t)k->n}};
        for (int run = 0; run < 2; run++) {
            if (run == 1 && !k->y32)
                continue; /* a bound f32 cannot hold: see make_torch_fixtures.py */
            gg_dtype dt = run == 0 ? GG_F64 : GG_F32;
            const double *w = run == 0 ? k->w : k->w32, *yw = run == 0 ? k->y : k->y32;
            const double *dx = run == 0 ? k->dx : k->dx32;
            double tol = run == 0 ? TOL : 0;
            gg_graph *g = gg_graph_new();
            gg_node *x = leaf(g, dt, true, &s, k->x);
            gg_node *y = gg_clamp(g, x, k->lo, k->hi);
            check_gate_node(y, "clamp", 0);
            assert_int_equal(gg_node_dtype(y), dt);
            assert_int_equal(gg_backward(g, gg_sum(g, gg_mul(g, y, leaf(g, dt, false, &s, w)))), 0);
            for (size_t i = 0; i < k->n; i++) {
                expect_match_tol(gg_value_at(y, i), yw[i], tol, "%s clamp(%.17g, %g, %g): value",
                                 run ? "f32" : "f64", k->x[i], k->lo, k->hi);
                expect_match_tol(gg_grad_at(x, i), dx[i], tol, "%s clamp(%.17g, %g, %g): gradient",
                                 run ? "f32" : "f64", k->x[i], k->lo, k->hi);
            }
            f32_runs += (size_t)run;
            gg_graph_free(g);
        }
        for (size_t i = 0; i < k->n; i++) {
            gg_graph *g = gg_graph_new();
            gg_node *x = gg_scalar(g, k->x[i]);
            gg_node *y = gg_clamp(g, x, k->lo, k->hi);
            assert_int_equal(gg_backward(g, gg_mul(g, y, gg_const(g, k->w[i]))), 0);
            expect_match(gg_value(y), k->y[i], "scalar clamp(%.17g, %g, %g): value", k->x[i], k->lo, k->hi);
            expect_match(gg_grad(x), k->dx[i], "scalar clamp(%.17g, %g, %g): gradient", k->x[i], k->lo, k->hi);
            gg_graph_free(g);
        }
    }
    assert_true(f32_runs >= 6);
}

/* cast against x.to(float32) and x.to(float64): the values exactly (round
 * to nearest even, overflow to inf, subnormals, underflow to 0, the sign of
 * -0), the gradient of sum(cast(x) * w) exactly, in x's dtype: w rounded to
 * f32 for f64 -> f32, to f32 on the way back for f32 -> f64. */
static void cast_cases(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_cast_cases / sizeof *torch_cast_cases; c++) {
        const torch_cast *k = &torch_cast_cases[c];
        gg_dtype from = k->from32 ? GG_F32 : GG_F64, to = k->from32 ? GG_F64 : GG_F32;
        torch_shape s = {1, {(int64_t)k->n}};
        gg_graph *g = gg_graph_new();
        gg_node *x = leaf(g, from, true, &s, k->x);
        gg_node *y = gg_cast(g, x, to);
        check_gate_node(y, "cast", 0);
        assert_int_equal(gg_node_dtype(y), to);
        assert_int_equal(gg_backward(g, gg_sum(g, gg_mul(g, y, leaf(g, to, false, &s, k->w)))), 0);
        for (size_t i = 0; i < k->n; i++) {
            expect_match_tol(gg_value_at(y, i), k->y[i], 0, "cast case %zu of %.17g: value", c, k->x[i]);
            assert_true(signbit(gg_value_at(y, i)) == signbit(k->y[i]) || isnan(k->y[i]));
            expect_match_tol(gg_grad_at(x, i), k->dx[i], 0, "cast case %zu of %.17g: gradient", c, k->x[i]);
        }
        gg_graph_free(g);
    }
}

/* Expressions built by gg_expr_build, gradients by gg_backward. */
static void expressions(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_expr_cases / sizeof *torch_expr_cases; c++) {
        const torch_expr *k = &torch_expr_cases[c];
        gg_graph *g = gg_graph_new();
        gg_expr_vars *vars = NULL;
        gg_expr_error err;
        for (size_t v = 0; v < k->nvars; v++)
            if (gg_expr_vars_put(&vars, g, k->names[v], k->values[v], &err))
                fail_msg("%s: %s", k->names[v], err.message);
        gg_node *root = gg_expr_build(g, k->text, vars, &err);
        if (!root)
            fail_msg("%s: column %zu: %s", k->text, err.column, err.message);
        assert_int_equal(gg_backward(g, root), 0);
        expect_match(gg_value(root), k->value, "'%s' at case %zu: value", k->text, c);
        for (size_t v = 0; v < k->nvars; v++)
            expect_match(gg_grad(gg_expr_var_find(vars, k->names[v])), k->grads[v],
                         "'%s' at case %zu: d/d%s", k->text, c, k->names[v]);
        gg_expr_vars_free(vars);
        gg_graph_free(g);
    }
}

/* Whether a unary fixture exists for gate, with the given param unless any. */
static bool has_unary(const char *gate, bool any, double param)
{
    for (size_t c = 0; c < sizeof torch_unary_cases / sizeof *torch_unary_cases; c++)
        if (!strcmp(torch_unary_cases[c].gate, gate) && (any || torch_unary_cases[c].param == param))
            return true;
    return false;
}

static size_t count_binary(const char *gate, bool broadcast)
{
    size_t n = 0;
    for (size_t c = 0; c < sizeof torch_binary_cases / sizeof *torch_binary_cases; c++) {
        const torch_binary *k = &torch_binary_cases[c];
        bool same = k->sa.rank == k->sb.rank &&
                    !memcmp(k->sa.dims, k->sb.dims, sizeof(int64_t) * (size_t)k->sa.rank);
        if (!strcmp(k->gate, gate) && same != broadcast)
            n++;
    }
    return n;
}

/* The fixtures cover every elementwise gate in gategrad's gate table (copy
 * is the identity and step has no gradient: neither has a torch
 * counterpart worth a fixture), pow at the exponents that matter, and
 * every binary gate broadcast. */
static void fixtures_cover_every_gate(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t id = 1; id < ggc_gate_count; id++) {
        const ggc_gate *gate = ggc_gates[id];
        if (!gate->elementwise || !strcmp(gate->name, "copy") || !strcmp(gate->name, "step"))
            continue;
        if (gate->arity == 1 && !has_unary(gate->name, true, 0))
            fail_msg("no torch fixture for unary gate '%s'", gate->name);
        if (gate->arity == 2 && (count_binary(gate->name, false) == 0 ||
                                 count_binary(gate->name, true) == 0))
            fail_msg("no torch fixture (same shape and broadcast) for binary gate '%s'",
                     gate->name);
        checked++;
    }
    assert_true(checked >= 23);
    const double exponents[] = {0, 0.5, 2, 3, -1};
    for (size_t i = 0; i < sizeof exponents / sizeof *exponents; i++)
        if (!has_unary("pow", false, exponents[i]))
            fail_msg("no torch fixture for pow(x, %g)", exponents[i]);
    assert_true(count_binary("pow_node", true) >= 4);
    bool all_functions = false;
    for (size_t c = 0; c < sizeof torch_expr_cases / sizeof *torch_expr_cases; c++) {
        const char *t = torch_expr_cases[c].text;
        if (strstr(t, "^") && strstr(t, "sqrt(") && strstr(t, "sin(") && strstr(t, "cos(") &&
            strstr(t, "softplus(") && strstr(t, "silu(") && strstr(t, "gelu(") && strstr(t, "pow("))
            all_functions = true;
    }
    assert_true(all_functions);

    /* where, clamp and cast: broadcast where cases, f32 runs, the clamp
     * bounds that matter, both cast directions. */
    size_t where_bcast = 0;
    for (size_t c = 0; c < sizeof torch_where_cases / sizeof *torch_where_cases; c++) {
        const torch_where *k = &torch_where_cases[c];
        where_bcast += numel_of(&k->sc) != numel_of(&k->sz) || numel_of(&k->sa) != numel_of(&k->sz) ||
                       numel_of(&k->sb) != numel_of(&k->sz);
    }
    assert_true(where_bcast >= 8);
    bool inverted = false, one_sided = false, unbounded = false;
    for (size_t c = 0; c < sizeof torch_clamp_cases / sizeof *torch_clamp_cases; c++) {
        const torch_clamp *k = &torch_clamp_cases[c];
        inverted |= k->lo > k->hi;
        one_sided |= isinf(k->lo) != isinf(k->hi);
        unbounded |= isinf(k->lo) && isinf(k->hi);
    }
    assert_true(inverted && one_sided && unbounded);
    assert_int_equal(sizeof torch_cast_cases / sizeof *torch_cast_cases, 2);
    assert_true(torch_cast_cases[0].from32 == 0 && torch_cast_cases[1].from32 == 1);

    /* Every function of the expression language is in some expression, and
     * so are programs: ';', newlines and assignments. */
    for (size_t id = 1; id < ggc_gate_count; id++) {
        const char *e = ggc_gates[id]->expr;
        bool found = false;
        char call[64];
        if (!e)
            continue;
        snprintf(call, sizeof call, "%s(", e);
        for (size_t c = 0; c < sizeof torch_expr_cases / sizeof *torch_expr_cases && !found; c++)
            found = strstr(torch_expr_cases[c].text, call) != NULL;
        if (!found)
            fail_msg("no torch expression calls %s", call);
    }
    bool semicolon = false, newline = false;
    for (size_t c = 0; c < sizeof torch_expr_cases / sizeof *torch_expr_cases; c++) {
        const char *t = torch_expr_cases[c].text;
        semicolon |= strchr(t, ';') && strchr(t, '=');
        newline |= strchr(t, '\n') && strchr(t, '=');
    }
    assert_true(semicolon && newline);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_cover_every_gate),
        cmocka_unit_test(unary_tensors),
        cmocka_unit_test(unary_scalars),
        cmocka_unit_test(binary_tensors),
        cmocka_unit_test(binary_scalars),
        cmocka_unit_test(max_min_ties),
        cmocka_unit_test(where_cases),
        cmocka_unit_test(where_scalars),
        cmocka_unit_test(clamp_cases),
        cmocka_unit_test(cast_cases),
        cmocka_unit_test(expressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
