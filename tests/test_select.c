/* test_select.c - the gates that pick (where, clamp) and cast: values and
 * gradients by hand, at the bounds, three-way broadcasting, gradient
 * checking, dtypes, errors, and their traces. */
#include "testutil.h"

#include <stdio.h>

#include "gategrad.h"

static gg_node *vec(gg_graph *g, gg_dtype dt, int n, const double *v, bool variable)
{
    gg_node *x = variable ? gg_tensor(g, dt, 1, (int64_t[]){n}, NULL) : gg_input(g, dt, 1, (int64_t[]){n}, NULL);
    for (int i = 0; i < n; i++) {
        if (dt == GG_F64)
            ((double *)gg_data(x))[i] = v[i];
        else
            ((float *)gg_data(x))[i] = (float)v[i];
    }
    return x;
}

/* PyTorch's clamp: the gradient passes on [lo, hi], bounds included. */
static void clamp_values_and_bounds(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = vec(g, GG_F64, 6, (double[]){-2, -1, -0.5, 0.5, 1, 3}, true);
    gg_node *c = gg_clamp(g, x, -1, 1);
    assert_non_null(c);
    assert_int_equal(gg_backward_seed(g, c, (double[]){1, 2, 3, 4, 5, 6}), 0);
    const double want[] = {-1, -1, -0.5, 0.5, 1, 1}, grad[] = {0, 2, 3, 4, 5, 0};
    for (int i = 0; i < 6; i++) {
        assert_true(gg_value_at(c, i) == want[i]);
        assert_true(gg_grad_at(x, i) == grad[i]);
    }
    /* One-sided bounds, and lo > hi gives hi everywhere with no gradient. */
    gg_node *low = gg_clamp(g, x, 0, INFINITY);
    assert_true(gg_value_at(low, 0) == 0 && gg_value_at(low, 5) == 3);
    gg_node *inverted = gg_clamp(g, x, 2, 1);
    assert_true(gg_value_at(inverted, 0) == 1 && gg_value_at(inverted, 5) == 1);
    assert_null(gg_clamp(g, x, NAN, 1));
    assert_contains(gg_error(g), "clamp: the bounds must be numbers");
    /* NaN stays NaN with no gradient; an f32 input meets its bounds rounded
     * to f32 (0.7f passes at lo = 0.7, as in PyTorch). */
    gg_node *nan = gg_tensor(g, GG_F64, 1, (int64_t[]){1}, (double[]){NAN});
    gg_node *cn = gg_clamp(g, nan, -1, 1);
    assert_true(isnan(gg_value(cn)));
    gg_node *f = gg_tensor(g, GG_F32, 1, (int64_t[]){1}, (float[]){0.7f});
    gg_node *cf = gg_clamp(g, f, 0.7, 2.3);
    assert_int_equal(gg_backward(g, gg_sum(g, cf)), 0);
    assert_true(gg_grad(f) == 1 && gg_value(cf) == (double)0.7f);
    gg_graph_free(g);
}

/* cond != 0 picks a; a and b get the gradient where picked, cond none. */
static void where_values_and_gradients(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *cond = vec(g, GG_F64, 4, (double[]){1, 0, -3, 0}, true);
    gg_node *a = vec(g, GG_F64, 4, (double[]){10, 20, 30, 40}, true);
    gg_node *b = vec(g, GG_F64, 4, (double[]){-1, -2, -3, -4}, true);
    gg_node *w = gg_where(g, cond, a, b);
    assert_non_null(w);
    assert_int_equal(gg_backward(g, gg_sum(g, w)), 0);
    const double want[] = {10, -2, 30, -4};
    for (int i = 0; i < 4; i++) {
        assert_true(gg_value_at(w, i) == want[i]);
        assert_true(gg_grad_at(a, i) == (i % 2 == 0));
        assert_true(gg_grad_at(b, i) == (i % 2 == 1));
        assert_true(gg_grad_at(cond, i) == 0);
    }
    gg_node *in[2];
    assert_int_equal(gg_inputs(w, in), 3);
    assert_ptr_equal(in[0], cond);
    assert_ptr_equal(in[1], a);
    assert_ptr_equal(gg_node_input(w, 2), b);
    assert_null(gg_node_input(w, 3));
    assert_null(gg_node_input(w, -1));
    gg_graph_free(g);
}

/* cond [3,1], a [1,4], b a scalar: the output is [3,4] and each input's
 * gradient comes back summed to its own shape. */
static void where_broadcasts_three_ways(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *cond = gg_input(g, GG_F64, 2, (int64_t[]){3, 1}, (double[]){1, 0, 1});
    gg_node *a = gg_tensor(g, GG_F64, 2, (int64_t[]){1, 4}, (double[]){1, 2, 3, 4});
    gg_node *b = gg_scalar(g, -7);
    gg_node *w = gg_where(g, cond, a, b);
    int64_t dims[GG_MAX_DIMS];
    assert_int_equal(gg_shape(w, dims), 2);
    assert_true(dims[0] == 3 && dims[1] == 4);
    assert_true(gg_value_at(w, 1) == 2 && gg_value_at(w, 5) == -7 && gg_value_at(w, 11) == 4);
    assert_int_equal(gg_backward(g, gg_sum(g, w)), 0);
    for (int j = 0; j < 4; j++)
        assert_true(gg_grad_at(a, j) == 2); /* rows 0 and 2 */
    assert_true(gg_grad(b) == 4);             /* row 1, four columns */

    gg_node *bad = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 4}, NULL);
    assert_null(gg_where(g, cond, a, bad));
    assert_contains(gg_error(g), "where: [3,4] and [2,4]: shapes do not broadcast");
    gg_graph_free(g);
}

static void expect_gradcheck(gg_graph *g, gg_node *root)
{
    gg_gradcheck_result r;
    int rc = gg_gradcheck(g, root, NULL, 0, 1e-6, 1e-6, &r);
    if (rc != 0)
        fail_msg("gradcheck rc=%d (%s): %zu/%zu failures, worst analytic %.12g numeric %.12g", rc,
                 gg_error(g) ? gg_error(g) : "", r.failures, r.checked, r.worst_analytic, r.worst_numeric);
    assert_true(r.checked > 0);
}

/* Finite differences on compositions, inputs away from clamp's bounds. */
static void gradcheck_compositions(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = vec(g, GG_F64, 6, (double[]){-2.5, -0.7, -0.2, 0.3, 0.9, 2.2}, true);
    gg_node *y = vec(g, GG_F64, 6, (double[]){0.5, -1.5, 2.0, -0.25, 1.25, -3.0}, true);
    gg_node *mask = vec(g, GG_F64, 6, (double[]){1, 0, 0, 1, 1, 0}, false);
    gg_node *w = vec(g, GG_F64, 6, (double[]){0.3, -1.1, 0.7, 2.0, -0.4, 1.3}, false);
    gg_node *e = gg_add(g, gg_mul(g, gg_clamp(g, x, -1, 1), y), gg_where(g, mask, gg_mul(g, x, x), gg_sin(g, y)));
    expect_gradcheck(g, gg_sum(g, gg_mul(g, gg_cast(g, gg_cast(g, e, GG_F64), GG_F64), w)));
    gg_graph_free(g);
}

/* cast: values rounded to f32, the gradient flows back in the input's
 * dtype; a cast of a cast is two gates. */
static void cast_between_dtypes(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = vec(g, GG_F64, 2, (double[]){0.1, 1e300}, true);
    gg_node *f = gg_cast(g, x, GG_F32);
    assert_int_equal(gg_node_dtype(f), GG_F32);
    assert_true(gg_value_at(f, 0) == (double)0.1f);
    assert_true(isinf(gg_value_at(f, 1)));
    gg_node *h = gg_mul(g, f, vec(g, GG_F32, 2, (double[]){3, 0}, false));
    gg_node *back = gg_cast(g, h, GG_F64);
    assert_int_equal(gg_backward(g, gg_sum(g, back)), 0);
    assert_true(gg_grad_at(x, 0) == 3 && gg_grad_at(x, 1) == 0);
    assert_string_equal(gg_gate_name(f), "cast");

    assert_null(gg_mul(g, f, x));
    assert_contains(gg_error(g), "dtypes differ");
    assert_null(gg_cast(g, x, (gg_dtype)7));
    assert_contains(gg_error(g), "cast: unknown dtype");
    gg_graph_free(g);
}

/* The new gates in a trace: where names its inputs and says the condition
 * receives nothing; clamp shows its bounds. */
static void traced(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *c = gg_scalar(g, 1), *a = gg_scalar(g, 0.5), *b = gg_scalar(g, -2);
    gg_set_label(g, c, "c");
    gg_set_label(g, a, "a");
    gg_set_label(g, b, "b");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    gg_tracer *t = gg_trace_file(g, out, NULL);
    gg_node *f = gg_add(g, gg_where(g, c, a, b), gg_clamp(g, b, -1, 1));
    assert_int_equal(gg_backward(g, f), 0);
    gg_trace_end(t);
    fclose(out);
    assert_contains(text, "= clamp(b = -2, -1, 1) = -1");
    assert_contains(text, "dc = 0 (the condition only chooses), da = upstream (cond != 0) = 1, db = 0 (routed to the other input)");
    assert_contains(text, "db = local * upstream = 0 * 1 = 0");
    free(text);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clamp_values_and_bounds),
        cmocka_unit_test(where_values_and_gradients),
        cmocka_unit_test(where_broadcasts_three_ways),
        cmocka_unit_test(gradcheck_compositions),
        cmocka_unit_test(cast_between_dtypes),
        cmocka_unit_test(traced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
