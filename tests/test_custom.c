/* test_custom.c - users' own gates (gg_custom): values and gradients, fan-out
 * through them, gradient checking, shape callbacks and their errors,
 * traces and pictures that name them, and definitions found again. */
#include "testutil.h"

#include <stdio.h>

#include "gategrad.h"

/* cube: y = x^3, elementwise, f64. */
static void cube_forward(void *user, const gg_node *const *in, gg_node *out)
{
    (void)user;
    const double *x = gg_data_const(in[0]);
    double *y = gg_data(out);
    for (size_t i = 0; i < gg_numel(out); i++)
        y[i] = x[i] * x[i] * x[i];
}

static void cube_backward(void *user, gg_node *const *in, const gg_node *out)
{
    (void)user;
    const double *x = gg_data_const(in[0]), *gy = gg_grad_data_const(out);
    double *gx = gg_grad_data(in[0]);
    if (gx)
        for (size_t i = 0; i < gg_numel(out); i++)
            gx[i] += 3 * x[i] * x[i] * gy[i];
}

static double cube_local(void *user, const gg_node *const *in, const gg_node *out, int i, size_t k)
{
    (void)user, (void)out, (void)i;
    double x = gg_value_at(in[0], k);
    return 3 * x * x;
}

static const gg_gate_def cube = {
    .name = "cube",
    .rule = "dx = 3x^2 * upstream",
    .arity = 1,
    .forward = cube_forward,
    .backward = cube_backward,
    .local = cube_local,
};

/* outer(a [m], b [n]) = [m, n]: a shape of its own, two inputs, user data
 * (a scale). */
static int outer_shape(void *user, const gg_node *const *in, int *rank, int64_t *dims, char *err)
{
    (void)user;
    int64_t da[GG_MAX_DIMS], db[GG_MAX_DIMS];
    if (gg_shape(in[0], da) != 1 || gg_shape(in[1], db) != 1) {
        snprintf(err, GG_ERRLEN, "needs two vectors");
        return -1;
    }
    *rank = 2;
    dims[0] = da[0];
    dims[1] = db[0];
    return 0;
}

static void outer_forward(void *user, const gg_node *const *in, gg_node *out)
{
    double s = *(const double *)user;
    size_t m = gg_numel(in[0]), n = gg_numel(in[1]);
    const double *a = gg_data_const(in[0]), *b = gg_data_const(in[1]);
    double *y = gg_data(out);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            y[i * n + j] = s * a[i] * b[j];
}

static void outer_backward(void *user, gg_node *const *in, const gg_node *out)
{
    double s = *(const double *)user;
    size_t m = gg_numel(in[0]), n = gg_numel(in[1]);
    const double *a = gg_data_const(in[0]), *b = gg_data_const(in[1]), *gy = gg_grad_data_const(out);
    double *ga = gg_grad_data(in[0]), *gb = gg_grad_data(in[1]);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            if (ga)
                ga[i] += s * b[j] * gy[i * n + j];
            if (gb)
                gb[j] += s * a[i] * gy[i * n + j];
        }
}

static double two = 2.0;
static const gg_gate_def outer = {
    .name = "outer",
    .rule = "da = s * upstream . b, db = s * a . upstream",
    .arity = 2,
    .shape = outer_shape,
    .forward = outer_forward,
    .backward = outer_backward,
    .user = &two,
};

static void scalar_values_and_fan_out(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, -2);
    gg_node *y = gg_custom(g, &cube, (gg_node *[]){x});
    assert_non_null(y);
    assert_string_equal(gg_gate_name(y), "cube");
    assert_string_equal(gg_gate_rule(y), "dx = 3x^2 * upstream");
    gg_node *f = gg_add(g, y, gg_mul(g, x, y)); /* x^3 + x^4: x used three times */
    assert_int_equal(gg_backward(g, f), 0);
    assert_true(gg_value(f) == -8 + 16);
    assert_true(gg_grad(x) == 3 * 4 + 4 * -8); /* 3x^2 + 4x^3 */
    gg_node *in[2];
    assert_int_equal(gg_inputs(y, in), 1);
    assert_ptr_equal(in[0], x);
    gg_graph_free(g);
}

static void gradcheck_and_shapes(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){0.5, -1, 2});
    gg_node *b = gg_tensor(g, GG_F64, 1, (int64_t[]){2}, (double[]){-0.25, 1.5});
    gg_node *o = gg_custom(g, &outer, (gg_node *[]){gg_custom(g, &cube, (gg_node *[]){a}), b});
    assert_non_null(o);
    int64_t dims[GG_MAX_DIMS];
    assert_int_equal(gg_shape(o, dims), 2);
    assert_true(dims[0] == 3 && dims[1] == 2);
    assert_true(gg_value_at(o, 5) == 2 * 8 * 1.5);
    gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){3, 2}, (double[]){1, -2, 0.5, 3, -1, 0.25});
    gg_gradcheck_result r;
    assert_int_equal(gg_gradcheck(g, gg_sum(g, gg_mul(g, o, w)), NULL, 0, 1e-6, 1e-7, &r), 0);
    assert_int_equal(r.checked, 5);

    assert_null(gg_custom(g, &outer, (gg_node *[]){o, b}));
    assert_string_equal(gg_error(g), "outer: needs two vectors");
    gg_node *f32 = gg_tensor(g, GG_F32, 1, (int64_t[]){2}, NULL);
    assert_null(gg_custom(g, &outer, (gg_node *[]){a, f32}));
    assert_contains(gg_error(g), "dtypes differ");
    gg_gate_def bad = cube;
    bad.arity = 9;
    assert_null(gg_custom(g, &bad, (gg_node *[]){a}));
    assert_string_equal(gg_error(g), "cube: arity 9 is out of range 1..8");
    bad = cube;
    bad.backward = NULL;
    assert_null(gg_custom(g, &bad, (gg_node *[]){a}));
    assert_contains(gg_error(g), "needs a name, a rule, forward and backward");
    gg_graph_free(g);
}

/* A trace and a picture name the user's gate, and explain goes through
 * its local derivative. */
static void traced_and_drawn(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 3);
    gg_set_label(g, x, "x");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    gg_tracer *t = gg_trace_file(g, out, NULL);
    gg_node *y = gg_custom(g, &cube, (gg_node *[]){x});
    gg_set_label(g, y, "y");
    assert_int_equal(gg_backward(g, y), 0);
    gg_trace_end(t);
    assert_int_equal(gg_explain(g, y, x, out, NULL), 0);
    assert_int_equal(gg_dot(g, y, out, NULL), 0);
    fclose(out);
    assert_contains(text, "forward  n1 = cube(x = 3) = 27"); /* labelled after it ran */
    assert_contains(text, "cube gate, dx = 3x^2 * upstream: dx = local * upstream = 27 * 1 = 27");
    assert_contains(text, "= 27.000000");
    assert_contains(text, "label=\"cube\"");
    assert_null(strstr(text, "[label=\"a\"]")); /* one input: no wire names */
    free(text);
    gg_graph_free(g);
}

/* The same definition is kept once however often it is used. */
static void definitions_found_again(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 1.5);
    size_t bytes = 0;
    for (int i = 0; i < 50; i++) {
        x = gg_custom(g, &cube, (gg_node *[]){gg_mul(g, x, gg_const(g, 0.9))});
        if (i == 0)
            bytes = gg_graph_bytes(g);
    }
    assert_non_null(x);
    assert_int_equal(gg_graph_bytes(g), bytes); /* nodes and extras from already allocated blocks */
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalar_values_and_fan_out),
        cmocka_unit_test(gradcheck_and_shapes),
        cmocka_unit_test(traced_and_drawn),
        cmocka_unit_test(definitions_found_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
