/* test_lecture.c - every worked example of the lecture notes that the
 * engine's gates express (shared/lecture-examples.md, sections 1-7), to 1e-9. */
#include "testutil.h"

#include "gategrad.h"

#define TOL 1e-9

/* §1: f = (x + y) * z at x = -2, y = 5, z = -4. */
static void circuit(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, -2), *y = gg_scalar(g, 5), *z = gg_scalar(g, -4);
    gg_node *q = gg_add(g, x, y), *f = gg_mul(g, q, z);
    assert_int_equal(gg_backward(g, f), 0);
    assert_near(gg_value(q), 3, TOL);
    assert_near(gg_value(f), -12, TOL);
    assert_near(gg_grad(q), -4, TOL);
    assert_near(gg_grad(x), -4, TOL);
    assert_near(gg_grad(y), -4, TOL);
    assert_near(gg_grad(z), 3, TOL);
    gg_graph_free(g);
}

/* §2: f = 2 * (x*y + max(z, w)) at x = 3, y = -4, z = 2, w = -1. */
static void four_gates(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 3), *y = gg_scalar(g, -4), *z = gg_scalar(g, 2), *w = gg_scalar(g, -1);
    gg_node *two = gg_constant(g, GG_F64, 2);
    gg_node *f = gg_mul(g, two, gg_add(g, gg_mul(g, x, y), gg_max(g, z, w)));
    assert_int_equal(gg_backward(g, f), 0);
    assert_near(gg_value(f), -20, TOL);
    assert_near(gg_grad(x), -8, TOL);
    assert_near(gg_grad(y), 6, TOL);
    assert_near(gg_grad(z), 2, TOL);
    assert_near(gg_grad(w), 0, TOL);
    assert_near(gg_grad(two), 0, TOL); /* a constant carries no gradient */
    gg_graph_free(g);
}

/* §2, the copy gate: a value used twice receives the sum of both gradients,
 * with or without an explicit copy node. */
static void copy_gate_adds(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 3);
    gg_node *c = gg_copy(g, x);
    gg_node *f = gg_add(g, gg_mul(g, c, gg_scalar(g, 2)), gg_mul(g, c, gg_scalar(g, 5)));
    assert_int_equal(gg_backward(g, f), 0);
    assert_near(gg_grad(c), 7, TOL);
    assert_near(gg_grad(x), 7, TOL);

    gg_node *y = gg_scalar(g, 3);
    gg_node *h = gg_add(g, gg_mul(g, y, gg_scalar(g, 2)), gg_mul(g, y, gg_scalar(g, 5)));
    assert_int_equal(gg_backward(g, h), 0);
    assert_near(gg_grad(y), 7, TOL);
    gg_graph_free(g);
}

/* §3: f = sigmoid(w0*x0 + w1*x1 + w2). */
static void sigmoid_neuron(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *w0 = gg_scalar(g, 2), *w1 = gg_scalar(g, -3), *w2 = gg_scalar(g, -3);
    gg_node *x0 = gg_scalar(g, -1), *x1 = gg_scalar(g, -2);
    gg_node *dot = gg_add(g, gg_add(g, gg_mul(g, w0, x0), gg_mul(g, w1, x1)), w2);
    gg_node *f = gg_sigmoid(g, dot);
    assert_int_equal(gg_backward(g, f), 0);
    assert_near(gg_value(dot), 1, TOL);
    assert_near(gg_value(f), 0.7310585786300049, TOL);
    assert_near(gg_grad(dot), 0.19661193324148185, TOL);
    assert_near(gg_grad(x0), 0.3932238664829637, TOL);
    assert_near(gg_grad(x1), -0.5898357997244456, TOL);
    assert_near(gg_grad(w0), -0.19661193324148185, TOL);
    assert_near(gg_grad(w1), -0.3932238664829637, TOL);
    assert_near(gg_grad(w2), 0.19661193324148185, TOL);
    gg_graph_free(g);
}

/* §4: f = ||W x||^2 on tensor nodes; gradients have their variables' shapes. */
static void vectorized(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    const double wv[] = {0.1, 0.5, -0.3, 0.8}, xv[] = {0.2, 0.4};
    gg_node *W = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 2}, wv);
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 1}, xv);
    gg_node *q = gg_matmul(g, W, x);
    gg_node *f = gg_sum(g, gg_mul(g, q, q));
    assert_int_equal(gg_backward(g, f), 0);
    assert_near(gg_value_at(q, 0), 0.22, TOL);
    assert_near(gg_value_at(q, 1), 0.26, TOL);
    assert_near(gg_value(f), 0.116, TOL);
    const double dW[] = {0.088, 0.176, 0.104, 0.208}, dx[] = {-0.112, 0.636};
    for (int i = 0; i < 4; i++)
        assert_near(gg_grad_at(W, (size_t)i), dW[i], TOL);
    for (int i = 0; i < 2; i++)
        assert_near(gg_grad_at(x, (size_t)i), dx[i], TOL);
    int64_t dims[GG_MAX_DIMS];
    assert_int_equal(gg_shape(W, dims), 2);
    assert_int_equal(dims[0], 2);
    assert_int_equal(dims[1], 2);
    gg_graph_free(g);
}

/* §5: the shopping graphs. */
static void shopping(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *apple = gg_scalar(g, 100), *count = gg_scalar(g, 2), *tax = gg_scalar(g, 1.1);
    gg_node *price = gg_mul(g, gg_mul(g, apple, count), tax);
    assert_int_equal(gg_backward(g, price), 0);
    assert_near(gg_value(price), 220, TOL);
    assert_near(gg_grad(apple), 2.2, TOL);
    assert_near(gg_grad(count), 110, TOL);
    assert_near(gg_grad(tax), 200, TOL);
    gg_graph_free(g);

    g = gg_graph_new();
    gg_node *a = gg_scalar(g, 100), *ac = gg_scalar(g, 2);
    gg_node *o = gg_scalar(g, 150), *oc = gg_scalar(g, 3);
    tax = gg_scalar(g, 1.1);
    price = gg_mul(g, gg_add(g, gg_mul(g, a, ac), gg_mul(g, o, oc)), tax);
    assert_int_equal(gg_backward(g, price), 0);
    assert_near(gg_value(price), 715, TOL);
    assert_near(gg_grad(a), 2.2, TOL);
    assert_near(gg_grad(ac), 110, TOL);
    assert_near(gg_grad(o), 3.3, TOL);
    assert_near(gg_grad(oc), 165, TOL);
    assert_near(gg_grad(tax), 650, TOL);
    gg_graph_free(g);
}

/* §6: the two-layer sigmoid network of seed 003, built from scalar gates,
 * then one SGD step (lr 0.5) by re-running the same graph. */
typedef struct net6 {
    gg_graph *g;
    gg_node *w[8], *E, *h1, *h2, *o1, *o2;
} net6;

static gg_node *half_sq_err(gg_graph *g, double target, gg_node *o)
{
    gg_node *d = gg_sub(g, gg_constant(g, GG_F64, target), o);
    return gg_mul(g, gg_constant(g, GG_F64, 0.5), gg_mul(g, d, d));
}

static net6 build_net6(void)
{
    net6 n;
    n.g = gg_graph_new();
    gg_graph *g = n.g;
    const double w0[8] = {0.3, 0.25, 0.4, 0.35, 0.45, 0.4, 0.7, 0.6};
    for (int i = 0; i < 8; i++)
        n.w[i] = gg_scalar(g, w0[i]);
    gg_node *x1 = gg_constant(g, GG_F64, 0.1), *x2 = gg_constant(g, GG_F64, 0.2);
    n.h1 = gg_sigmoid(g, gg_add(g, gg_mul(g, n.w[0], x1), gg_mul(g, n.w[1], x2)));
    n.h2 = gg_sigmoid(g, gg_add(g, gg_mul(g, n.w[2], x1), gg_mul(g, n.w[3], x2)));
    n.o1 = gg_sigmoid(g, gg_add(g, gg_mul(g, n.w[4], n.h1), gg_mul(g, n.w[5], n.h2)));
    n.o2 = gg_sigmoid(g, gg_add(g, gg_mul(g, n.w[6], n.h1), gg_mul(g, n.w[7], n.h2)));
    n.E = gg_add(g, half_sq_err(g, 0.4, n.o1), half_sq_err(g, 0.6, n.o2));
    return n;
}

static void two_layer_network(void **state)
{
    (void)state;
    net6 n = build_net6();
    assert_non_null(n.E);
    assert_int_equal(gg_backward(n.g, n.E), 0);
    assert_near(gg_value(n.h1), 0.51998934, 1e-8);
    assert_near(gg_value(n.h2), 0.52747230, 1e-8);
    assert_near(gg_value(n.o1), 0.60944600, 1e-8);
    assert_near(gg_value(n.o2), 0.66384491, 1e-8);
    assert_near(gg_value(n.E), 0.023971900751730026, TOL);
    /* The slides print 8 decimals. */
    const double grads[8] = {0.00080888, 0.00161775, 0.00071009, 0.00142017,
                             0.02592286, 0.02629590, 0.00740844, 0.00751506};
    for (int i = 0; i < 8; i++)
        assert_near(gg_grad(n.w[i]), grads[i], 5e-9);

    const double after[8] = {0.29959556, 0.24919112, 0.39964496, 0.34928991,
                             0.43703857, 0.38685205, 0.69629578, 0.59624247};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(gg_set_value(n.g, n.w[i], gg_value(n.w[i]) - 0.5 * gg_grad(n.w[i])), 0);
        assert_near(gg_value(n.w[i]), after[i], 5e-9);
    }
    assert_int_equal(gg_forward(n.g, n.E), 0);
    assert_near(gg_value(n.E), 0.023236338872291772, TOL);
    gg_graph_free(n.g);
}

/* §7: the linear 2-2-1 network of seed 000, one step with lr 0.05. */
static void linear_network(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *i1 = gg_constant(g, GG_F64, 2), *i2 = gg_constant(g, GG_F64, 3);
    gg_node *w1 = gg_scalar(g, 0.11), *w2 = gg_scalar(g, 0.21);
    gg_node *w3 = gg_scalar(g, 0.12), *w4 = gg_scalar(g, 0.08);
    gg_node *w5 = gg_scalar(g, 0.14), *w6 = gg_scalar(g, 0.15);
    gg_node *h1 = gg_add(g, gg_mul(g, i1, w1), gg_mul(g, i2, w2));
    gg_node *h2 = gg_add(g, gg_mul(g, i1, w3), gg_mul(g, i2, w4));
    gg_node *out = gg_add(g, gg_mul(g, h1, w5), gg_mul(g, h2, w6));
    gg_node *err = half_sq_err(g, 1.0, out);
    assert_int_equal(gg_backward(g, err), 0);
    assert_near(gg_value(h1), 0.85, TOL);
    assert_near(gg_value(h2), 0.48, TOL);
    assert_near(gg_value(out), 0.191, TOL);
    assert_near(gg_value(err), 0.3272405, TOL);
    assert_near(gg_grad(out), -0.809, TOL);
    gg_node *w[6] = {w1, w2, w3, w4, w5, w6};
    const double after[6] = {0.121326, 0.226989, 0.132135, 0.0982025, 0.1743825, 0.169416};
    for (int i = 0; i < 6; i++)
        assert_near(gg_value(w[i]) - 0.05 * gg_grad(w[i]), after[i], TOL);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(circuit),
        cmocka_unit_test(four_gates),
        cmocka_unit_test(copy_gate_adds),
        cmocka_unit_test(sigmoid_neuron),
        cmocka_unit_test(vectorized),
        cmocka_unit_test(shopping),
        cmocka_unit_test(two_layer_network),
        cmocka_unit_test(linear_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
