/* test_deep.c - gradients recorded as graphs on deep and large graphs, each
 * run on a thread with an 8 MiB stack (the default main-thread stack), so
 * any recursion over the graph's depth would overflow it: a chain of a
 * million sin gates to second order, a random graph of a million nodes, and
 * a Hessian-vector product through the Fashion-MNIST MLP (784-256-128-10). */
#include "testutil.h"

#include <pthread.h>

#include "gategrad.h"
#include "gategrad/higher.h"

enum { MILLION = 1000000 };

static void on_small_stack(void *(*fn)(void *))
{
    pthread_attr_t attr;
    pthread_t t;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 8u << 20), 0);
    assert_int_equal(pthread_create(&t, &attr, fn, NULL), 0);
    void *failed = NULL;
    assert_int_equal(pthread_join(t, &failed), 0);
    pthread_attr_destroy(&attr);
    if (failed)
        fail_msg("%s", (const char *)failed);
}

/* y_0 = x, y_{k+1} = sin(y_k), k < MILLION: the first and second
 * derivatives of y_MILLION by x, from gg_gradient applied twice, equal
 * those the forward recurrences y' <- cos(y) y', y'' <- cos(y) y'' -
 * sin(y) y'^2 give. */
static void *sin_chain(void *arg)
{
    (void)arg;
    const double x0 = 1.0;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, x0), *y = x;
    double v = x0, d1 = 1, d2 = 0;
    for (int k = 0; k < MILLION; k++) {
        y = gg_sin(g, y);
        d2 = cos(v) * d2 - sin(v) * d1 * d1;
        d1 = cos(v) * d1;
        v = sin(v);
    }
    gg_node *dy, *ddy;
    if (!y || gg_gradient(g, y, 1, &x, &dy) || gg_gradient(g, dy, 1, &x, &ddy))
        return "recording the chain's gradients failed";
    print_message("sin chain: %u nodes in all (%d in the chain), y = %.9g, dy/dx = %.9g, d2y/dx2 = %.9g\n",
                  (unsigned)gg_node_count(g), MILLION + 1, gg_value(y), gg_value(dy), gg_value(ddy));
    bool ok = fabs(gg_value(y) - v) <= 1e-12 && fabs(gg_value(dy) - d1) <= 1e-9 * fabs(d1) &&
              fabs(gg_value(ddy) - d2) <= 1e-9 * fabs(d2) && d1 != 0 && d2 != 0;
    gg_graph_free(g);
    return ok ? NULL : "the chain's derivatives differ from the forward recurrences";
}

static void sin_chain_to_second_order(void **state)
{
    (void)state;
    on_small_stack(sin_chain);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum { LEAVES = 64 };

/* A million nodes: LEAVES scalars, then gates (sin of a sum, a product, tanh
 * of a difference) of the previous node and a random earlier one, so the
 * graph is a million deep and every node has random fan-out. Values stay in
 * [-1, 1]. */
static gg_node *random_graph(gg_graph *g, gg_node **leaves, gg_node ***all_out)
{
    gg_node **all = malloc(MILLION * sizeof *all);
    size_t n = 0;
    for (int i = 0; i < LEAVES; i++)
        all[n++] = leaves[i] = gg_scalar(g, (double)(next_random() % 2001) / 1000.0 - 1.0);
    while (n < MILLION - 1) {
        gg_node *a = all[n - 1], *b = all[next_random() % n];
        switch (next_random() % 3) {
        case 0: all[n++] = gg_add(g, a, b); all[n] = gg_sin(g, all[n - 1]); n++; break;
        case 1: all[n++] = gg_mul(g, a, b); break;
        default: all[n++] = gg_sub(g, a, b); all[n] = gg_tanh(g, all[n - 1]); n++; break;
        }
    }
    *all_out = all;
    return all[n - 1];
}

/* gg_gradient's recorded gradients of the random graph equal gg_backward's,
 * and a Hessian-vector product along the first leaf equals the central
 * difference of gg_backward's gradients. */
static void *random_million(void *arg)
{
    (void)arg;
    gg_graph *g = gg_graph_new();
    gg_node *leaves[LEAVES], **all, *grads[LEAVES], *hv[LEAVES], *v[LEAVES];
    gg_node *root = random_graph(g, leaves, &all);
    free(all);
    if (!root || gg_node_count(g) < MILLION - 1)
        return "building the random graph failed";
    uint32_t built = (uint32_t)gg_node_count(g);
    if (gg_backward(g, root))
        return "gg_backward failed";
    double back[LEAVES];
    for (int i = 0; i < LEAVES; i++) {
        back[i] = gg_grad(leaves[i]);
        v[i] = gg_constant(g, GG_F64, i == 0);
    }
    if (gg_gradient(g, root, LEAVES, leaves, grads) || gg_hvp(g, root, LEAVES, leaves, v, hv))
        return "recording the random graph's gradients failed";
    int nonzero = 0;
    for (int i = 0; i < LEAVES; i++) {
        if (fabs(gg_value(grads[i]) - back[i]) > 1e-12 * (1 + fabs(back[i])))
            return "gg_gradient and gg_backward disagree on the random graph";
        nonzero += back[i] != 0;
    }
    /* Central difference in leaf 0 of the gradient, through gg_backward. */
    const double h = 1e-5, x0 = gg_value(leaves[0]);
    double plus[LEAVES], minus[LEAVES];
    for (int side = 0; side < 2; side++) {
        gg_set_value(g, leaves[0], side ? x0 - h : x0 + h);
        gg_zero_grad(g);
        if (gg_forward(g, root) || gg_backward(g, root))
            return "re-running the random graph failed";
        for (int i = 0; i < LEAVES; i++)
            (side ? minus : plus)[i] = gg_grad(leaves[i]);
    }
    double worst = 0;
    for (int i = 0; i < LEAVES; i++) {
        double fd = (plus[i] - minus[i]) / (2 * h), got = gg_value(hv[i]);
        double e = fabs(got - fd) / (1e-6 + fabs(fd));
        worst = e > worst ? e : worst;
    }
    print_message("random graph: %u nodes built, %u after the gradient and the Hessian-vector product; "
                  "%d of %d leaves with a nonzero gradient; Hv vs central differences: worst relative error "
                  "%.2g\n", built, (unsigned)gg_node_count(g), nonzero, LEAVES, worst);
    gg_graph_free(g);
    if (nonzero < LEAVES / 2)
        return "too few leaves reach the root: the graph is not the one meant";
    return worst <= 1e-4 ? NULL : "the Hessian-vector product differs from central differences";
}

static void random_million_to_second_order(void **state)
{
    (void)state;
    on_small_stack(random_million);
}

/* ---- a Hessian-vector product through the Fashion-MNIST MLP ---- */

enum { BATCH = 8, LAYERS = 3 };
static const int64_t widths[LAYERS + 1] = {784, 256, 128, 10};

static double uniform(double scale)
{
    return scale * ((double)(next_random() % 2000001) / 1e6 - 1.0);
}

/* A tensor leaf of uniform values in [-scale, scale]. */
static gg_node *random_leaf(gg_graph *g, bool variable, int rank, const int64_t *dims, double scale)
{
    size_t n = (size_t)dims[0] * (rank > 1 ? (size_t)dims[1] : 1);
    double *data = malloc(n * sizeof *data);
    for (size_t i = 0; i < n; i++)
        data[i] = uniform(scale);
    gg_node *t = variable ? gg_tensor(g, GG_F64, rank, dims, data) : gg_input(g, GG_F64, rank, dims, data);
    free(data);
    return t;
}

/* 784-256-128-10 with tanh, softmax cross-entropy over a synthetic batch,
 * in f64; params[2l] and params[2l + 1] are layer l's weight and bias. */
static gg_node *mlp_loss(gg_graph *g, gg_node **params)
{
    gg_node *h = random_leaf(g, false, 2, (int64_t[]){BATCH, 784}, 1.0);
    for (int l = 0; l < LAYERS; l++) {
        params[2 * l] = random_leaf(g, true, 2, (int64_t[]){widths[l], widths[l + 1]}, 1.0 / sqrt((double)widths[l]));
        params[2 * l + 1] = random_leaf(g, true, 1, (int64_t[]){widths[l + 1]}, 0.1);
        h = gg_add(g, gg_matmul(g, h, params[2 * l]), params[2 * l + 1]);
        if (l < LAYERS - 1)
            h = gg_tanh(g, h);
    }
    double labels[BATCH];
    for (int i = 0; i < BATCH; i++)
        labels[i] = (double)(next_random() % 10);
    return gg_softmax_cross_entropy(g, h, gg_input(g, GG_F64, 1, (int64_t[]){BATCH}, labels));
}

/* sum over params of <a, b> for nodes of params' shapes. */
static double dot_all(gg_node *const *a, gg_node *const *b)
{
    double s = 0;
    for (int p = 0; p < 2 * LAYERS; p++)
        for (size_t i = 0; i < gg_numel(a[p]); i++)
            s += gg_value_at(a[p], i) * gg_value_at(b[p], i);
    return s;
}

/* Moves every parameter by t * v (t = 0 puts them back). */
static void move_params(gg_node *const *params, gg_node *const *v, const double *const *origin, double t)
{
    for (int p = 0; p < 2 * LAYERS; p++) {
        double *x = gg_data(params[p]);
        for (size_t i = 0; i < gg_numel(params[p]); i++)
            x[i] = origin[p][i] + t * gg_value_at(v[p], i);
    }
}

/* u.(Hv) = v.(Hu) (H is symmetric), and v.(Hv) equals the second central
 * difference of the loss along v. */
static void *mlp_hvp(void *arg)
{
    (void)arg;
    gg_graph *g = gg_graph_new();
    gg_node *params[2 * LAYERS], *u[2 * LAYERS], *v[2 * LAYERS], *hu[2 * LAYERS], *hv[2 * LAYERS];
    gg_node *loss = mlp_loss(g, params);
    for (int p = 0; p < 2 * LAYERS && loss; p++) {
        int64_t dims[GG_MAX_DIMS];
        int rank = gg_shape(params[p], dims);
        u[p] = random_leaf(g, false, rank, dims, 1.0);
        v[p] = random_leaf(g, false, rank, dims, 1.0);
    }
    if (!loss || gg_hvp(g, loss, 2 * LAYERS, params, u, hu) || gg_hvp(g, loss, 2 * LAYERS, params, v, hv))
        return "recording the MLP's Hessian-vector products failed";
    double uhv = dot_all(u, hv), vhu = dot_all(v, hu), vhv = dot_all(v, hv);
    double *origin[2 * LAYERS];
    for (int p = 0; p < 2 * LAYERS; p++) {
        origin[p] = malloc(gg_numel(params[p]) * sizeof(double));
        memcpy(origin[p], gg_data(params[p]), gg_numel(params[p]) * sizeof(double));
    }
    const double h = 1e-5;
    double f[3];
    for (int side = -1; side <= 1; side++) {
        move_params(params, v, (const double *const *)origin, side * h);
        if (gg_forward(g, loss))
            return "re-running the MLP failed";
        f[side + 1] = gg_value(loss);
    }
    move_params(params, v, (const double *const *)origin, 0);
    for (int p = 0; p < 2 * LAYERS; p++)
        free(origin[p]);
    double fd = (f[2] - 2 * f[1] + f[0]) / (h * h);
    print_message("MLP 784-256-128-10, batch %d: %u nodes; u.Hv = %.12g, v.Hu = %.12g, v.Hv = %.9g, second "
                  "difference %.9g\n", BATCH, (unsigned)gg_node_count(g), uhv, vhu, vhv, fd);
    gg_graph_free(g);
    if (!(fabs(uhv - vhu) <= 1e-9 * (fabs(uhv) + fabs(vhu))) || uhv == 0)
        return "the Hessian-vector products are not symmetric";
    return fabs(vhv - fd) <= 1e-4 * fabs(fd) ? NULL : "v.Hv differs from the second difference";
}

static void fashion_mnist_mlp_hvp(void **state)
{
    (void)state;
    on_small_stack(mlp_hvp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sin_chain_to_second_order),
        cmocka_unit_test(random_million_to_second_order),
        cmocka_unit_test(fashion_mnist_mlp_hvp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
