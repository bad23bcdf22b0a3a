/* test_anomaly.c - gg_detect_anomaly names the first gate that made a NaN
 * or an Inf, in forward (at record time and when re-run) and in backward. */
#include "testutil.h"

#include "gategrad.h"

static void off_by_default(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *y = gg_log(g, gg_scalar(g, 0));
    assert_non_null(y);
    assert_true(isinf(gg_value(y)));
    assert_int_equal(gg_backward(g, y), 0);
    assert_null(gg_error(g));
    gg_graph_free(g);
}

static void forward_log_of_zero(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_detect_anomaly(g, 1);
    gg_node *x = gg_scalar(g, 0);
    gg_set_label(g, x, "x");
    gg_node *y = gg_log(g, x);
    assert_null(y);
    assert_contains(gg_error(g), "anomaly: forward of node 1 (log) produced -inf in its value (element 0); inputs: node 0 'x' (leaf) = 0");
    gg_graph_free(g);
}

static void forward_when_rerun(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_scalar(g, 1), *b = gg_scalar(g, 2);
    gg_node *q = gg_div(g, a, b), *f = gg_exp(g, q);
    gg_detect_anomaly(g, 1);
    assert_int_equal(gg_forward(g, f), 0);
    gg_set_value(g, b, 0); /* division by zero on the next run */
    assert_int_not_equal(gg_forward(g, f), 0);
    assert_contains(gg_error(g), "forward of node 2 (div) produced inf");
    assert_contains(gg_error(g), "node 1 (leaf) = 0");
    gg_set_value(g, b, 2);
    gg_set_value(g, a, 2000); /* exp overflow */
    assert_int_not_equal(gg_forward(g, f), 0);
    assert_contains(gg_error(g), "forward of node 3 (exp) produced inf");
    assert_contains(gg_error(g), "node 2 (div) = 1000");
    gg_graph_free(g);
}

static void backward_sqrt_at_zero(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_detect_anomaly(g, 1);
    gg_node *x = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){4, 0, 1});
    gg_node *s = gg_sum(g, gg_pow(g, x, 0.5));
    assert_non_null(s);
    assert_int_not_equal(gg_backward(g, s), 0);
    assert_contains(gg_error(g), "backward of node 1 (pow) produced inf in the gradient of input 1 (node 0) (element 1)");
    assert_contains(gg_error(g), "node 0 (leaf) [3], element 0 = 4");
    gg_detect_anomaly(g, 0);
    assert_int_equal(gg_backward(g, s), 0);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(off_by_default),
        cmocka_unit_test(forward_log_of_zero),
        cmocka_unit_test(forward_when_rerun),
        cmocka_unit_test(backward_sqrt_at_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
