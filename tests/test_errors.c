/* test_errors.c - every bad call returns NULL or non-zero and leaves a
 * message that names the op and its operands; nothing aborts. */
#include "testutil.h"

#include "gategrad.h"

static void expect_error(gg_graph *g, const void *result_ptr, const char *needle)
{
    assert_null(result_ptr);
    assert_contains(gg_error(g), needle);
    gg_clear_error(g);
    assert_null(gg_error(g));
}

static void shape_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a34 = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
    gg_node *b52 = gg_tensor(g, GG_F64, 2, (int64_t[]){5, 2}, NULL);
    gg_node *v3 = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, NULL);
    expect_error(g, gg_matmul(g, a34, b52), "matmul: [3,4] x [5,2]: inner dimensions differ");
    expect_error(g, gg_matmul(g, a34, v3), "matmul: [3,4] x [3]: inner dimensions differ");
    expect_error(g, gg_add(g, a34, v3), "add: [3,4] and [3]: shapes do not broadcast");
    expect_error(g, gg_mul(g, a34, b52), "mul: [3,4] and [5,2]");
    expect_error(g, gg_reshape(g, a34, 2, (int64_t[]){5, 3}), "reshape: [3,4] to [5,3]: element counts differ");
    expect_error(g, gg_transpose(g, v3), "transpose: [3]: needs at least 2 dimensions");
    expect_error(g, gg_sum_axis(g, a34, 2, 0), "sum_axis: axis 2 is out of range for a rank-2 tensor");
    expect_error(g, gg_mean_axis(g, gg_scalar(g, 1), 0, 0), "mean_axis: axis 0 is out of range");
    gg_graph_free(g);
}

static void dtype_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *f = gg_tensor(g, GG_F32, 1, (int64_t[]){3}, NULL);
    gg_node *d = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, NULL);
    expect_error(g, gg_add(g, f, d), "add: f32 [3] and f64 [3]: dtypes differ");
    expect_error(g, gg_mul(g, f, gg_scalar(g, 2)), "mul: f32 [3] and f64 []: dtypes differ");
    assert_non_null(gg_mul(g, f, gg_constant(g, GG_F32, 2)));
    expect_error(g, gg_tensor(g, (gg_dtype)7, 1, (int64_t[]){3}, NULL), "unknown dtype 7");
    gg_graph_free(g);
}

static void leaf_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    expect_error(g, gg_tensor(g, GG_F64, 5, (int64_t[]){1, 1, 1, 1, 1}, NULL), "rank 5 is out of range 0..4");
    expect_error(g, gg_tensor(g, GG_F64, 2, (int64_t[]){3, 0}, NULL), "shape [3,0] is invalid");
    expect_error(g, gg_tensor(g, GG_F64, 2, (int64_t[]){-1, 2}, NULL), "shape [-1,2] is invalid");
    expect_error(g, gg_tensor(g, GG_F64, 4, (int64_t[]){1 << 20, 1 << 20, 1 << 20, 1 << 20}, NULL),
                 "size must fit in memory");
    expect_error(g, gg_tensor(g, GG_F64, 2, NULL, NULL), "dims is NULL");
    gg_node *x = gg_scalar(g, 1), *y = gg_add(g, x, x);
    assert_int_not_equal(gg_set_value(g, y, 3), 0);
    assert_contains(gg_error(g), "set_value: node 1 is computed by a add gate, not a leaf");
    gg_node *t = gg_tensor(g, GG_F64, 1, (int64_t[]){2}, NULL);
    assert_int_not_equal(gg_set_value(g, t, 3), 0);
    assert_contains(gg_error(g), "use gg_set_data for tensors");
    assert_int_not_equal(gg_set_data(g, t, NULL), 0);
    assert_contains(gg_error(g), "set_data: data is NULL");
    assert_int_not_equal(gg_set_label(g, x, ""), 0);
    assert_contains(gg_error(g), "label is empty");
    gg_graph_free(g);
}

/* A NULL input gives NULL without a new message: one check at the end of a
 * chain finds the first failure's message. */
static void null_propagates_quietly(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 4}, NULL);
    gg_node *b = gg_tensor(g, GG_F64, 2, (int64_t[]){5, 2}, NULL);
    gg_node *bad = gg_matmul(g, a, b);
    gg_node *f = gg_sum(g, gg_sigmoid(g, gg_add(g, bad, gg_scalar(g, 1))));
    assert_null(f);
    assert_contains(gg_error(g), "matmul: [3,4] x [5,2]");
    assert_null(gg_add(g, NULL, NULL));
    assert_null(gg_add(NULL, a, a)); /* no graph: nothing to write to, no crash */
    assert_int_not_equal(gg_backward(g, f), 0);
    assert_contains(gg_error(g), "backward: root is NULL (an earlier op failed: matmul");
    assert_int_not_equal(gg_forward(g, NULL), 0);
    assert_int_not_equal(gg_backward(NULL, a), 0);
    gg_graph_free(g);
    gg_graph_free(NULL);
}

static void backward_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *t = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 3}, NULL);
    assert_int_not_equal(gg_backward(g, gg_exp(g, t)), 0);
    assert_contains(gg_error(g), "has shape [2,3], not a single element; pass the upstream gradient with gg_backward_seed");
    assert_int_not_equal(gg_backward_seed(g, t, NULL), 0);
    assert_contains(gg_error(g), "seed gradient is NULL");
    gg_graph_free(g);
}

static void foreign_nodes(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new(), *h = gg_graph_new();
    gg_node *a = gg_scalar(g, 1), *b = gg_scalar(h, 2);
    gg_scalar(h, 3); /* b's id now exists in both graphs, yet b is still foreign to g */
    expect_error(g, gg_add(g, a, b), "add: input 2 (node 0) belongs to another graph");
    expect_error(g, gg_sigmoid(g, b), "sigmoid: input 1 (node 0) belongs to another graph");
    assert_int_not_equal(gg_backward(g, b), 0);
    assert_contains(gg_error(g), "backward: root (node 0) belongs to another graph");
    assert_int_not_equal(gg_set_value(g, b, 1), 0);
    assert_contains(gg_error(g), "belongs to another graph");
    assert_int_not_equal(gg_set_label(g, b, "b"), 0);
    gg_graph_free(g);
    gg_graph_free(h);
}

static void gradcheck_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 1), *y = gg_exp(g, x);
    assert_int_equal(gg_gradcheck(g, y, NULL, 0, 0, 1e-6, NULL), -1);
    assert_contains(gg_error(g), "eps (0) and tol (1e-06) must be positive");
    gg_node *leaves[] = {y};
    assert_int_equal(gg_gradcheck(g, y, leaves, 1, 1e-6, 1e-6, NULL), -1);
    assert_contains(gg_error(g), "leaves[0] is not a variable leaf");
    assert_int_equal(gg_gradcheck(g, NULL, NULL, 0, 1e-6, 1e-6, NULL), -1);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shape_errors),
        cmocka_unit_test(dtype_errors),
        cmocka_unit_test(leaf_errors),
        cmocka_unit_test(null_propagates_quietly),
        cmocka_unit_test(backward_errors),
        cmocka_unit_test(foreign_nodes),
        cmocka_unit_test(gradcheck_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
