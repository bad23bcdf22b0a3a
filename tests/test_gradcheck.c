/* test_gradcheck.c - random compositions of every gate and broadcast shape,
 * each checked against finite differences; and gradcheck itself must catch
 * a gradient that is wrong. */
#include "testutil.h"

#include "gategrad.h"

/* Shapes that all broadcast against [2,3]. */
static const struct { int rank; int64_t dims[2]; } shapes[] = {
    {0, {0, 0}}, {1, {3, 0}}, {2, {2, 3}}, {2, {2, 1}}, {2, {1, 3}},
};
#define NSHAPES (sizeof shapes / sizeof *shapes)

static gg_node *random_leaf(gg_graph *g, gg_rng *r, bool variable)
{
    size_t s = (size_t)gg_rng_below(r, NSHAPES);
    gg_node *n = (variable ? gg_tensor : gg_input)(g, GG_F64, shapes[s].rank, shapes[s].dims, NULL);
    double *v = gg_data(n);
    for (size_t i = 0; i < gg_numel(n); i++)
        v[i] = 2.0 * gg_rng_uniform(r) - 1.0;
    return n;
}

static gg_node *positive(gg_graph *g, gg_node *x) /* x^2 + 0.5 > 0 */
{
    return gg_add(g, gg_mul(g, x, x), gg_constant(g, GG_F64, 0.5));
}

static bool is_23(const gg_node *n)
{
    int64_t d[GG_MAX_DIMS];
    return gg_shape(n, d) == 2 && d[0] == 2 && d[1] == 3;
}

/* One random gate applied to the pool; returns the new node. */
static gg_node *random_gate(gg_graph *g, gg_rng *r, gg_node **pool, size_t n)
{
    gg_node *a = pool[gg_rng_below(r, n)], *b = pool[gg_rng_below(r, n)];
    switch (gg_rng_below(r, 24)) {
    case 0: return gg_add(g, a, b);
    case 1: return gg_sub(g, a, b);
    case 2: return gg_mul(g, a, b);
    case 3: return gg_div(g, a, positive(g, b));
    case 4: return gg_max(g, a, b);
    case 5: return gg_min(g, a, b);
    case 6: return gg_copy(g, a);
    case 7: return gg_neg(g, a);
    case 8: return gg_sigmoid(g, a);
    case 9: return gg_tanh(g, a);
    case 10: return gg_exp(g, gg_tanh(g, a));
    case 11: return gg_log(g, positive(g, a));
    case 12: return gg_relu(g, a);
    case 13: return gg_leaky_relu(g, a, 0.1);
    case 14: return gg_elu(g, a, 0.7);
    case 15: return gg_abs(g, a);
    case 16: return gg_pow(g, positive(g, a), 1.5);
    case 17: return gg_softmax(g, a);
    case 18: return gg_log_softmax(g, a);
    case 19: return gg_mean(g, a);
    case 20: return gg_sum(g, a);
    default: break;
    }
    if (!is_23(a))
        return gg_tanh(g, a);
    switch (gg_rng_below(r, 5)) {
    case 0: return gg_sum_axis(g, a, (int)gg_rng_below(r, 2), 1);
    case 1: return gg_mean_axis(g, a, (int)gg_rng_below(r, 2), 1);
    case 2: return gg_transpose(g, gg_transpose(g, a));
    case 3: return gg_reshape(g, gg_reshape(g, a, 2, (int64_t[]){3, 2}), 2, (int64_t[]){2, 3});
    default: {
        gg_node *w = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 2}, NULL);
        gg_node *v = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 3}, NULL);
        for (size_t i = 0; i < 6; i++) {
            ((double *)gg_data(w))[i] = gg_rng_uniform(r) - 0.5;
            ((double *)gg_data(v))[i] = gg_rng_uniform(r) - 0.5;
        }
        return gg_matmul(g, gg_matmul(g, a, w), v);
    }
    }
}

static void random_compositions(void **state)
{
    (void)state;
    gg_rng r;
    gg_rng_seed(&r, 2024);
    size_t graphs = 5000, elements = 0, gates = 0;
    for (size_t k = 0; k < graphs; k++) {
        gg_graph *g = gg_graph_new();
        gg_node *pool[32];
        size_t n = 0;
        size_t leaves = 2 + gg_rng_below(&r, 3);
        for (size_t i = 0; i < leaves; i++)
            pool[n++] = random_leaf(g, &r, true);
        pool[n++] = random_leaf(g, &r, false);
        size_t ops = 3 + gg_rng_below(&r, 12);
        for (size_t i = 0; i < ops && n < 32; i++) {
            gg_node *next = random_gate(g, &r, pool, n);
            pool[n++] = next;
        }
        gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){2, 3}, NULL);
        for (size_t i = 0; i < 6; i++)
            ((double *)gg_data(w))[i] = gg_rng_uniform(&r) - 0.5;
        /* every pool node feeds the root, so every gate is exercised */
        gg_node *root = gg_sum(g, gg_mul(g, pool[n - 1], w));
        for (size_t i = 0; i + 1 < n; i++)
            root = gg_add(g, root, gg_mean(g, pool[i]));
        if (!root)
            fail_msg("graph %zu: %s", k, gg_error(g));
        gg_gradcheck_result res;
        int rc = gg_gradcheck(g, root, NULL, 0, 1e-6, 1e-5, &res);
        if (rc != 0)
            fail_msg("graph %zu: rc %d, %zu failures, worst at node %zu[%zu] (%s): analytic %.10g numeric %.10g",
                     k, rc, res.failures, gg_node_id(res.worst_leaf), res.worst_index,
                     gg_gate_name(res.worst_leaf), res.worst_analytic, res.worst_numeric);
        elements += res.checked;
        gates += gg_node_count(g);
        gg_graph_free(g);
    }
    print_message("%zu random graphs, %zu nodes, %zu gradient elements checked\n", graphs, gates, elements);
    assert_true(elements > 10000);
}

/* gradcheck is no test that cannot fail: at relu's kink the one-sided
 * derivatives differ and it must say so. */
static void gradcheck_catches_a_mismatch(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 0.0), *y = gg_relu(g, x);
    gg_gradcheck_result res;
    assert_int_equal(gg_gradcheck(g, y, &x, 1, 1e-6, 1e-6, &res), 1);
    assert_int_equal(res.failures, 1);
    assert_ptr_equal(res.worst_leaf, x);
    assert_true(res.worst_analytic == 0.0);
    assert_near(res.worst_numeric, 0.5, 1e-9);
    assert_true(gg_value(x) == 0.0); /* restored */
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradcheck_catches_a_mismatch),
        cmocka_unit_test(random_compositions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
