/* test_graph.c - the graph itself: re-running, accumulation, the cached
 * order, deep chains, labels, leaves and constants. */
#include "testutil.h"

#include "gategrad.h"

/* f = sigmoid(x*y + max(x, z)) * tanh(z), with x used three times. */
static gg_node *build_f(gg_graph *g, gg_node *x, gg_node *y, gg_node *z)
{
    gg_node *s = gg_sigmoid(g, gg_add(g, gg_mul(g, x, y), gg_max(g, x, z)));
    return gg_mul(g, gg_mul(g, s, gg_tanh(g, z)), x);
}

static void rerun_equals_fresh_build(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 0.3), *y = gg_scalar(g, -1.2), *z = gg_scalar(g, 0.7);
    gg_node *f = build_f(g, x, y, z);
    const double pts[][3] = {{1.5, 0.2, -0.4}, {-0.3, 2.0, 0.1}, {0.3, -1.2, 0.7}};
    size_t nodes = gg_node_count(g);
    for (int p = 0; p < 3; p++) {
        gg_set_value(g, x, pts[p][0]);
        gg_set_value(g, y, pts[p][1]);
        gg_set_value(g, z, pts[p][2]);
        assert_int_equal(gg_forward(g, f), 0);
        gg_zero_grad(g);
        assert_int_equal(gg_backward(g, f), 0);

        gg_graph *h = gg_graph_new();
        gg_node *x2 = gg_scalar(h, pts[p][0]), *y2 = gg_scalar(h, pts[p][1]), *z2 = gg_scalar(h, pts[p][2]);
        gg_node *f2 = build_f(h, x2, y2, z2);
        assert_int_equal(gg_backward(h, f2), 0);
        assert_true(gg_value(f) == gg_value(f2)); /* bit for bit */
        assert_true(gg_grad(x) == gg_grad(x2));
        assert_true(gg_grad(y) == gg_grad(y2));
        assert_true(gg_grad(z) == gg_grad(z2));
        gg_graph_free(h);
    }
    assert_int_equal(gg_node_count(g), nodes); /* re-running records nothing */
    gg_graph_free(g);
}

static void backward_twice_accumulates_leaves_only(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 2), *y = gg_scalar(g, 3);
    gg_node *q = gg_mul(g, x, y), *f = gg_add(g, q, q);
    assert_int_equal(gg_backward(g, f), 0);
    assert_int_equal(gg_backward(g, f), 0);
    assert_true(gg_grad(x) == 12); /* 2 * (2y), accumulated */
    assert_true(gg_grad(y) == 8);
    assert_true(gg_grad(q) == 2);  /* intermediate: this pass only, never 4 */
    gg_zero_grad(g);
    assert_true(gg_grad(x) == 0 && gg_grad(q) == 0);
    assert_int_equal(gg_backward(g, f), 0);
    assert_true(gg_grad(x) == 6);
    gg_graph_free(g);
}

/* loss = sum(tanh(X.W + b)) over a variable W [3,2] and bias b [2]. */
typedef struct linear_case {
    gg_graph *g;
    gg_node *w, *b, *loss;
} linear_case;

static linear_case linear_new(void)
{
    static const double x[] = {0.5, -1, 2, 1.5, 0.25, -0.75};
    static const double w[] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6};
    linear_case c = {gg_graph_new(), NULL, NULL, NULL};
    c.w = gg_tensor(c.g, GG_F64, 2, (const int64_t[]){3, 2}, w);
    c.b = gg_tensor(c.g, GG_F64, 1, (const int64_t[]){2}, (const double[]){0.05, -0.1});
    gg_node *xn = gg_input(c.g, GG_F64, 2, (const int64_t[]){2, 3}, x);
    c.loss = gg_sum(c.g, gg_tanh(c.g, gg_add(c.g, gg_matmul(c.g, xn, c.w), c.b)));
    assert_non_null(c.loss);
    return c;
}

/* w's and b's gradients are times the ones of a fresh graph, bit for bit. */
static void assert_grads_times(const linear_case *c, const linear_case *fresh, double times)
{
    for (size_t i = 0; i < 6; i++)
        assert_true(gg_grad_at(c->w, i) == times * gg_grad_at(fresh->w, i));
    for (size_t i = 0; i < 2; i++)
        assert_true(gg_grad_at(c->b, i) == times * gg_grad_at(fresh->b, i));
}

static void zero_grad_lazy_reads_zero_and_is_overwritten(void **state)
{
    (void)state;
    linear_case fresh = linear_new(), c = linear_new();
    assert_int_equal(gg_backward(fresh.g, fresh.loss), 0);
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_grads_times(&c, &fresh, 2);

    /* Read: every element is 0, through either accessor. */
    assert_int_equal(gg_zero_grad_lazy(c.g, c.w), 0);
    assert_int_equal(gg_zero_grad_lazy(c.g, c.b), 0);
    assert_true(gg_grad_at(c.w, 4) == 0);
    const double *gw = gg_grad_data(c.b);
    assert_true(gw[0] == 0 && gw[1] == 0);
    assert_grads_times(&c, &fresh, 0);

    /* Not read: the next pass writes over the old numbers (matmul with
     * beta 0, the broadcast add's bias zeroed first), then accumulates. */
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_int_equal(gg_zero_grad_lazy(c.g, c.w), 0);
    assert_int_equal(gg_zero_grad_lazy(c.g, c.b), 0);
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_grads_times(&c, &fresh, 1);
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_grads_times(&c, &fresh, 2);

    /* An observed pass (anomaly detection) zeroes them before any gate. */
    assert_int_equal(gg_zero_grad_lazy(c.g, c.w), 0);
    assert_int_equal(gg_zero_grad_lazy(c.g, c.b), 0);
    assert_int_equal(gg_detect_anomaly(c.g, 1), 0);
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_int_equal(gg_detect_anomaly(c.g, 0), 0);
    assert_grads_times(&c, &fresh, 1);

    /* A pass that does not reach w leaves it reading 0. */
    gg_node *only_b = gg_sum(c.g, gg_mul(c.g, c.b, c.b));
    assert_int_equal(gg_zero_grad_lazy(c.g, c.w), 0);
    assert_int_equal(gg_zero_grad_lazy(c.g, c.b), 0);
    assert_int_equal(gg_backward(c.g, only_b), 0);
    for (size_t i = 0; i < 6; i++)
        assert_true(gg_grad_at(c.w, i) == 0);
    assert_true(gg_grad_at(c.b, 0) == 2 * 0.05 && gg_grad_at(c.b, 1) == 2 * -0.1);

    /* A gate that adds rather than writes (sum) gets it zeroed first, in a
     * graph with no tensor intermediate to make the pass a lazy one. */
    gg_graph *h = gg_graph_new();
    gg_node *v = gg_tensor(h, GG_F64, 1, (const int64_t[]){3}, (const double[]){1, 2, 3});
    gg_node *sum_v = gg_sum(h, v);
    assert_int_equal(gg_backward(h, sum_v), 0);
    assert_int_equal(gg_zero_grad_lazy(h, v), 0);
    assert_int_equal(gg_backward(h, sum_v), 0);
    for (size_t i = 0; i < 3; i++)
        assert_true(gg_grad_at(v, i) == 1);
    gg_graph_free(h);

    /* gg_zero_grad still clears a lazily zeroed leaf. */
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_int_equal(gg_zero_grad_lazy(c.g, c.w), 0);
    gg_zero_grad(c.g);
    assert_int_equal(gg_backward(c.g, c.loss), 0);
    assert_grads_times(&c, &fresh, 1);

    /* A scalar is zeroed at once; anything but a variable leaf of g is
     * refused, by name, and left as it was. */
    gg_node *s = gg_scalar(c.g, 2), *s2 = gg_mul(c.g, s, s);
    assert_int_equal(gg_backward(c.g, s2), 0);
    assert_int_equal(gg_zero_grad_lazy(c.g, s), 0);
    assert_true(gg_grad(s) == 0);
    assert_int_not_equal(gg_zero_grad_lazy(c.g, s2), 0);
    assert_non_null(strstr(gg_error(c.g), "not a leaf"));
    assert_true(gg_grad(s2) == 1);
    gg_node *k = gg_input(c.g, GG_F64, 1, (const int64_t[]){2}, NULL);
    assert_int_not_equal(gg_zero_grad_lazy(c.g, k), 0);
    assert_non_null(strstr(gg_error(c.g), "zero_grad_lazy: node"));
    assert_non_null(strstr(gg_error(c.g), "constant"));
    assert_int_not_equal(gg_zero_grad_lazy(c.g, fresh.w), 0);
    assert_non_null(strstr(gg_error(c.g), "another graph"));
    assert_int_not_equal(gg_zero_grad_lazy(c.g, NULL), 0);
    assert_non_null(strstr(gg_error(c.g), "NULL"));
    assert_int_not_equal(gg_zero_grad_lazy(NULL, c.w), 0);
    gg_graph_free(c.g);
    gg_graph_free(fresh.g);
}

static void ignore_line(const char *line, void *ctx) { (void)line, (void)ctx; }

/* Two hinge terms of a 2-2-1 ReLU net: one hidden unit off, one margin
 * met, so whole parts of the graph receive a zero gradient. */
static gg_node *hinge_net(gg_graph *g, gg_node *const *w)
{
    gg_node *loss = gg_const(g, 0);
    static const double pts[2][3] = {{1.0, 2.0, 1.0}, {-0.5, 0.25, 1.0}};
    for (int n = 0; n < 2; n++) {
        gg_node *x0 = gg_const(g, pts[n][0]), *x1 = gg_const(g, pts[n][1]), *h[2];
        for (int j = 0; j < 2; j++)
            h[j] = gg_relu(g, gg_add(g, gg_mul(g, w[2 * j], x0), gg_mul(g, w[2 * j + 1], x1)));
        gg_node *score = gg_add(g, gg_mul(g, w[4], h[0]), gg_mul(g, w[5], h[1]));
        gg_node *margin = gg_sub(g, gg_const(g, 1), gg_mul(g, gg_const(g, pts[n][2]), score));
        loss = gg_add(g, loss, gg_relu(g, margin));
    }
    return loss;
}

/* Without observers, backward skips a scalar node whose gradient is 0 (and
 * whose gate then passes nothing): the gradients are those of a traced pass,
 * which runs every gate; a zero upstream still meets an infinite local
 * derivative where the output is not finite, or the gate can have one. */
static void zero_upstream_skips_change_nothing(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *w[6];
    static const double w0[6] = {0.5, 0.25, -1.0, -0.5, 0.75, 4.0};
    for (int i = 0; i < 6; i++)
        w[i] = gg_scalar(g, w0[i]);
    gg_node *loss = hinge_net(g, w);
    assert_int_equal(gg_backward(g, loss), 0);
    double plain[6];
    for (int i = 0; i < 6; i++)
        plain[i] = gg_grad(w[i]);
    /* Point 0: h = (1, 0), score 0.75, margin 0.25: d score = -1 reaches
     * w4 (-h0), w0 and w1 (-w4 * x), not the unit that is off. Point 1:
     * score 4 * 0.375 = 1.5, margin -0.5: nothing at all. */
    static const double want[6] = {-0.75, -1.5, 0, 0, -1, 0};
    for (int i = 0; i < 6; i++)
        assert_true(plain[i] == want[i]);
    gg_zero_grad(g);
    gg_tracer *t = gg_trace_callback(g, ignore_line, NULL, NULL);
    assert_non_null(t);
    assert_int_equal(gg_backward(g, loss), 0);
    gg_trace_end(t);
    for (int i = 0; i < 6; i++)
        assert_true(gg_grad(w[i]) == plain[i]);

    /* A non-finite output: exp(1000) is inf, so 0 * inf reaches x as NaN,
     * as in PyTorch; sqrt at 0 has an infinite derivative at a finite output. */
    gg_node *x = gg_scalar(g, 1000), *f = gg_mul(g, gg_const(g, 0), gg_exp(g, x));
    assert_int_equal(gg_backward(g, f), 0);
    assert_true(isnan(gg_grad(x)));
    gg_node *r = gg_scalar(g, 0), *q = gg_mul(g, gg_const(g, 0), gg_sqrt(g, r));
    assert_int_equal(gg_backward(g, q), 0);
    assert_true(isnan(gg_grad(r)));
    gg_graph_free(g);
}

/* Every node's gradient, element by element, is zero. */
static void assert_all_grads_zero(const gg_graph *g)
{
    for (size_t id = 0; id < gg_node_count(g); id++) {
        const gg_node *n = gg_node_at(g, id);
        for (size_t i = 0; i < gg_numel(n); i++)
            assert_true(gg_grad_at(n, i) == 0);
    }
}

/* A forward pass clears the gradients of the nodes it recomputes, and
 * gg_zero_grad then has only the leaves left to clear: but only where the
 * forward pass recomputed every gradient a backward pass wrote, scalars
 * all, which each case below breaks in turn. */
static void zero_grad_after_forward_clears_everything(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 0.3), *y = gg_scalar(g, -1.2), *z = gg_scalar(g, 0.7);
    gg_node *f = build_f(g, x, y, z), *q = gg_node_input(f, 0);
    assert_int_equal(gg_backward(g, f), 0);
    double gq = gg_grad(q), gx = gg_grad(x);
    assert_true(gq != 0 && gx != 0);
    assert_int_equal(gg_forward(g, f), 0);
    assert_true(gg_grad(q) == 0); /* recomputed: its old gradient is gone */
    assert_true(gg_grad(x) == gx); /* a leaf keeps accumulating */
    assert_int_equal(gg_backward(g, f), 0);
    assert_true(gg_grad(q) == gq);
    assert_near(gg_grad(x), 2 * gx, 1e-15);
    assert_int_equal(gg_forward(g, f), 0);
    gg_zero_grad(g);
    assert_all_grads_zero(g);

    /* A root past f: its backward writes gradients f's forward never reaches. */
    gg_node *h = gg_mul(g, f, gg_exp(g, x));
    assert_int_equal(gg_backward(g, h), 0);
    assert_true(gg_grad(h) == 1 && gg_grad(f) != 0);
    assert_int_equal(gg_forward(g, f), 0);
    gg_zero_grad(g);
    assert_all_grads_zero(g);

    /* A tensor intermediate: the forward pass leaves its gradient. */
    gg_node *v = gg_tensor(g, GG_F64, 1, (const int64_t[]){3}, (const double[]){1, -2, 0.5});
    gg_node *vv = gg_mul(g, v, v), *t = gg_mul(g, gg_sum(g, vv), h);
    assert_int_equal(gg_backward(g, t), 0);
    assert_true(gg_grad_at(vv, 2) != 0);
    assert_int_equal(gg_forward(g, t), 0);
    gg_zero_grad(g);
    assert_all_grads_zero(g);

    /* Variable leaves dropped by a truncation and recorded again, in
     * memory that stays the same. */
    size_t bytes = 0;
    for (int step = 0; step < 100; step++) {
        assert_int_equal(gg_graph_truncate(g, 3), 0);
        gg_node *w = gg_scalar(g, 1.5 + step), *u = gg_mul(g, gg_mul(g, w, x), w);
        assert_int_equal(gg_backward(g, u), 0);
        assert_true(gg_grad(w) == 2 * (1.5 + step) * 0.3);
        assert_int_equal(gg_forward(g, u), 0);
        gg_zero_grad(g);
        assert_all_grads_zero(g);
        if (step == 0)
            bytes = gg_graph_bytes(g);
        assert_int_equal(gg_graph_bytes(g), bytes);
    }
    gg_graph_free(g);
}

/* Backward from a different root reuses nothing stale from the first. */
static void switching_roots(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 2);
    gg_node *a = gg_mul(g, x, x), *b = gg_exp(g, a), *c = gg_add(g, a, x);
    assert_int_equal(gg_backward(g, b), 0);
    assert_true(fabs(gg_grad(x) - exp(4) * 4) < 1e-9);
    gg_zero_grad(g);
    assert_int_equal(gg_backward(g, c), 0);
    assert_true(gg_grad(x) == 5);
    assert_true(gg_grad(b) == 0);
    gg_zero_grad(g);
    assert_int_equal(gg_backward(g, b), 0);
    assert_true(fabs(gg_grad(x) - exp(4) * 4) < 1e-9);
    gg_graph_free(g);
}

/* A tensor graph with every way a gradient is reached: a matmul chain, a
 * broadcast bias, relu, a node used twice by one gate and by two gates,
 * matmul(h, h^T-shaped h), a sum. Fills nodes[] with its intermediates. */
static gg_node *build_tensor_net(gg_graph *g, gg_node **leaf, gg_node **mid)
{
    const float xw[] = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.75f}, bw[] = {0.1f, -0.2f};
    const float ww[] = {0.3f, -0.6f, 0.9f, 0.2f, -0.4f, 0.8f};
    leaf[0] = gg_tensor(g, GG_F32, 2, (const int64_t[]){2, 3}, xw);
    leaf[1] = gg_tensor(g, GG_F32, 2, (const int64_t[]){3, 2}, ww);
    leaf[2] = gg_tensor(g, GG_F32, 1, (const int64_t[]){2}, bw);
    mid[0] = gg_matmul(g, leaf[0], leaf[1]);     /* [2,2] */
    mid[1] = gg_add(g, mid[0], leaf[2]);         /* bias broadcast over rows */
    mid[2] = gg_relu(g, mid[1]);
    mid[3] = gg_mul(g, mid[2], mid[2]);          /* one gate, the same input twice */
    mid[4] = gg_matmul(g, mid[3], mid[3]);       /* again, through the product */
    mid[5] = gg_add(g, mid[4], mid[2]);          /* mid[2] reached by two gates */
    return gg_sum(g, mid[5]);
}

/* Repeated passes over tensors give every intermediate the same gradient
 * as the first pass (the engine clears them lazily, and the first gate to
 * reach one writes instead of adding) and add up in the leaves, exactly as
 * the eager path that anomaly detection takes. */
static void tensor_passes_repeat_exactly(void **state)
{
    (void)state;
    enum { LEAVES = 3, MIDS = 6 };
    float first[2][MIDS + LEAVES][6];
    for (int eager = 0; eager < 2; eager++) {
        gg_graph *g = gg_graph_new();
        gg_node *leaf[LEAVES], *mid[MIDS], *f = build_tensor_net(g, leaf, mid);
        assert_non_null(f);
        assert_int_equal(gg_detect_anomaly(g, eager), 0);
        for (int pass = 1; pass <= 3; pass++) {
            assert_int_equal(gg_forward(g, f), 0);
            assert_int_equal(gg_backward(g, f), 0);
            for (int i = 0; i < MIDS + LEAVES; i++) {
                gg_node *n = i < MIDS ? mid[i] : leaf[i - MIDS];
                const float *gr = gg_grad_data(n);
                for (size_t k = 0; k < gg_numel(n); k++) {
                    if (pass == 1)
                        first[eager][i][k] = gr[k];
                    float want = i < MIDS ? first[eager][i][k] : (float)pass * first[eager][i][k];
                    assert_true(gr[k] == want);
                    assert_true(gr[k] == first[0][i][k] * (i < MIDS ? 1.0f : (float)pass));
                }
            }
        }
        gg_graph_free(g);
    }
}

/* A tensor gradient that no gate reaches in a pass reads zero after it,
 * whatever an earlier pass from another root left there: t is an
 * ancestor of r2 only through argmax, which passes nothing back, and no
 * ancestor of r3 at all (a pass from a root with no cached order clears
 * every gradient recorded before the root). */
static void unreached_tensor_gradient_reads_zero(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    const float av[] = {1.0f, -2.0f, 3.0f};
    gg_node *a = gg_tensor(g, GG_F32, 1, (const int64_t[]){3}, av);
    gg_node *t = gg_mul(g, a, a);
    gg_node *r1 = gg_sum(g, t);
    gg_node *r2 = gg_add(g, gg_sum(g, a), gg_sum(g, gg_argmax_axis(g, t, 0, 0)));
    gg_node *r3 = gg_sum(g, gg_exp(g, a));
    assert_non_null(r2);
    assert_non_null(r3);
    gg_node *second[] = {r2, r3};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gg_backward(g, r1), 0);
        assert_true(((const float *)gg_grad_data(t))[1] == 1.0f);
        assert_int_equal(gg_backward(g, second[i]), 0);
        for (int k = 0; k < 3; k++)
            assert_true(((const float *)gg_grad_data(t))[k] == 0.0f);
    }
    gg_graph_free(g);
}

/* 10 million nodes, one chain: the order is built and walked without
 * recursion, under the default 8 MiB stack. */
static void ten_million_chain(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 1.0), *one = gg_constant(g, GG_F64, 1e-7), *n = x;
    for (int i = 0; i < 10000000 - 2; i++)
        n = gg_add(g, n, one);
    assert_non_null(n);
    assert_int_equal(gg_node_count(g), 10000000);
    assert_int_equal(gg_backward(g, n), 0);
    assert_true(fabs(gg_value(n) - (1.0 + 0.99999998)) < 1e-6);
    assert_true(gg_grad(x) == 1.0);
    assert_int_equal(gg_forward(g, n), 0);
    gg_graph_free(g);
}

static void node_pointers_stay_put(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *first = gg_scalar(g, 42);
    for (int i = 0; i < 100000; i++)
        gg_scalar(g, i);
    assert_ptr_equal(gg_node_at(g, 0), first);
    assert_true(gg_value(first) == 42);
    assert_true(gg_value(gg_node_at(g, 99999)) == 99998);
    assert_null(gg_node_at(g, 100001));
    gg_graph_free(g);
}

static void constants_and_inputs(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *c = gg_constant(g, GG_F64, 3);
    gg_node *in = gg_input(g, GG_F64, 1, (int64_t[]){2}, (double[]){1, 2});
    gg_node *w = gg_tensor(g, GG_F64, 1, (int64_t[]){2}, (double[]){0.5, -1});
    gg_node *only_const = gg_mul(g, c, in);
    assert_false(gg_requires_grad(only_const));
    assert_null(gg_grad_data(in));
    assert_null(gg_grad_data(only_const));
    gg_node *f = gg_sum(g, gg_mul(g, only_const, w));
    assert_true(gg_requires_grad(f));
    assert_int_equal(gg_backward(g, f), 0);
    assert_true(gg_grad_at(w, 0) == 3 && gg_grad_at(w, 1) == 6);
    assert_true(gg_grad_at(in, 0) == 0);
    /* backward from a root that needs no gradient succeeds and does nothing */
    assert_int_equal(gg_backward(g, gg_sum(g, only_const)), 0);
    gg_graph_free(g);
}

static void set_data_and_reforward_tensors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F32, 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
    gg_node *w = gg_tensor(g, GG_F32, 2, (int64_t[]){2, 1}, (float[]){1, -1});
    gg_node *loss = gg_mean(g, gg_relu(g, gg_matmul(g, x, w)));
    assert_true(gg_value(loss) == 0);
    assert_int_equal(gg_set_data(g, x, (float[]){4, 3, 2, 1}), 0);
    assert_int_equal(gg_forward(g, loss), 0);
    assert_true(gg_value(loss) == 1.0);
    assert_int_equal(gg_backward(g, loss), 0);
    assert_true(gg_grad_at(w, 0) == 3 && gg_grad_at(w, 1) == 2);
    gg_graph_free(g);
}

/* A constant leaf borrowing the caller's rows reads them in place (a change
 * there is seen by the next forward), gg_set_data or NULL ends it with the
 * leaf's own buffer as it was, the caller's memory is never written, and a
 * graph truncated while a leaf borrows gives its own buffer back to the
 * arena, for the next tensor to reuse. Variables, scalars, computed nodes
 * and misaligned data are refused with a reason. */
static void borrowed_leaf_reads_callers_memory(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F32, 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
    gg_node *w = gg_tensor(g, GG_F32, 2, (int64_t[]){2, 1}, (float[]){1, -1});
    gg_node *loss = gg_mean(g, gg_relu(g, gg_matmul(g, x, w)));
    float rows[4] = {4, 3, 2, 1};
    assert_int_equal(gg_borrow_data(g, x, rows), 0);
    assert_true(gg_data(x) == rows && gg_value_at(x, 0) == 4);
    assert_int_equal(gg_forward(g, loss), 0);
    assert_true(gg_value(loss) == 1.0);
    rows[0] = 8;
    assert_int_equal(gg_forward(g, loss), 0);
    assert_true(gg_value(loss) == 3.0);
    assert_int_equal(gg_backward(g, loss), 0);
    assert_true(gg_grad_at(w, 0) == 5 && gg_grad_at(w, 1) == 2);
    assert_int_equal(gg_borrow_data(g, x, NULL), 0);
    assert_true(gg_value_at(x, 0) == 1 && gg_value_at(x, 3) == 4); /* its own values, as they were */
    assert_int_equal(gg_borrow_data(g, x, rows), 0);
    assert_int_equal(gg_set_data(g, x, (float[]){5, 6, 7, 8}), 0);
    assert_true(gg_data(x) != rows && gg_value_at(x, 0) == 5);
    assert_true(rows[0] == 8 && rows[1] == 3 && rows[2] == 2 && rows[3] == 1);

    assert_int_not_equal(gg_borrow_data(g, w, rows), 0);
    assert_contains(gg_error(g), "variable");
    assert_int_not_equal(gg_borrow_data(g, loss, rows), 0);
    assert_contains(gg_error(g), "not a leaf");
    assert_int_not_equal(gg_borrow_data(g, gg_scalar(g, 1), rows), 0);
    assert_contains(gg_error(g), "only a constant tensor");
    assert_int_not_equal(gg_borrow_data(g, x, (char *)rows + 1), 0);
    assert_contains(gg_error(g), "not aligned");

    gg_node *big = gg_input(g, GG_F64, 1, (int64_t[]){1 << 16}, NULL); /* a buffer of its own block */
    double *lent = calloc(1 << 16, sizeof *lent);
    assert_non_null(lent);
    assert_int_equal(gg_borrow_data(g, big, lent), 0);
    size_t bytes = gg_graph_bytes(g);
    assert_int_equal(gg_graph_truncate(g, gg_node_id(big)), 0);
    big = gg_input(g, GG_F64, 1, (int64_t[]){1 << 16}, NULL);
    assert_non_null(big);
    assert_true(gg_data(big) != lent);
    assert_int_equal(gg_graph_bytes(g), bytes); /* the same block again */
    gg_graph_free(g);
    free(lent);
}

static void backward_seed_for_tensor_roots(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    gg_node *y = gg_mul(g, x, x);
    assert_int_equal(gg_backward_seed(g, y, (double[]){1, 10, 100}), 0);
    assert_true(gg_grad_at(x, 0) == 2 && gg_grad_at(x, 1) == 40 && gg_grad_at(x, 2) == 600);
    gg_graph_free(g);
}

static void labels(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *w1 = gg_scalar(g, 1), *w2 = gg_scalar(g, 2);
    assert_int_equal(gg_set_label(g, w1, "w1"), 0);
    assert_int_equal(gg_set_label(g, w2, "fc1.weight"), 0);
    assert_ptr_equal(gg_find(g, "w1"), w1);
    assert_ptr_equal(gg_find(g, "fc1.weight"), w2);
    assert_string_equal(gg_label(g, w1), "w1");
    assert_null(gg_find(g, "w3"));
    assert_int_not_equal(gg_set_label(g, w2, "w1"), 0);
    assert_contains(gg_error(g), "already names node 0");
    assert_int_equal(gg_set_label(g, w1, "renamed"), 0);
    assert_null(gg_find(g, "w1"));
    assert_ptr_equal(gg_find(g, "renamed"), w1);
    assert_string_equal(gg_label(g, w1), "renamed");
    assert_null(gg_label(g, gg_add(g, w1, w2)));
    gg_graph_free(g);
}

static void shape_queries(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *t = gg_tensor(g, GG_F32, 3, (int64_t[]){2, 3, 4}, NULL);
    char buf[32];
    assert_string_equal(gg_shape_str(t, buf, sizeof buf), "[2,3,4]");
    assert_int_equal(gg_numel(t), 24);
    assert_string_equal(gg_shape_str(gg_scalar(g, 1), buf, sizeof buf), "[]");
    assert_string_equal(gg_shape_str(t, buf, 5), "[2,3");
    gg_node *in[2];
    gg_node *s = gg_add(g, t, t);
    assert_int_equal(gg_inputs(s, in), 2);
    assert_ptr_equal(in[0], t);
    assert_true(gg_is_leaf(t) && !gg_is_leaf(s));
    gg_graph_free(g);
}

/* One micrograd-style step over the parameters W (big: its own arena
 * block) and b: the expression is recorded anew, labelled, and back-
 * propagated. Returns the loss node. */
static gg_node *rebuild_step(gg_graph *g, gg_node *W, gg_node *b, gg_node *x)
{
    gg_node *h = gg_tanh(g, gg_add(g, gg_matmul(g, x, W), b));
    gg_node *decay = gg_mean(g, gg_mul(g, W, W)); /* big buffers, from the pool after a truncation */
    gg_node *loss = gg_add(g, gg_mean(g, gg_mul(g, h, h)), decay);
    assert_int_equal(gg_set_label(g, h, "h"), 0);
    assert_int_equal(gg_backward(g, loss), 0);
    return loss;
}

/* gg_graph_truncate: the rebuilt nodes take the dropped nodes' slots and
 * memory, so after the first step nothing grows; the parameters keep their
 * values, gradients and labels. */
static void truncate_and_rebuild(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_rng r;
    gg_rng_seed(&r, 5);
    gg_node *W = gg_tensor(g, GG_F64, 2, (int64_t[]){300, 200}, NULL); /* 480 KB */
    gg_node *b = gg_tensor(g, GG_F64, 1, (int64_t[]){200}, NULL);
    gg_node *x = gg_input(g, GG_F64, 2, (int64_t[]){4, 300}, NULL);
    for (size_t i = 0; i < gg_numel(W); i++)
        ((double *)gg_data(W))[i] = 0.1 * (gg_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < gg_numel(x); i++)
        ((double *)gg_data(x))[i] = gg_rng_uniform(&r);
    assert_int_equal(gg_set_label(g, W, "W"), 0);
    size_t params = gg_node_count(g);

    gg_node *loss = rebuild_step(g, W, b, x);
    double first = gg_value(loss), grad0 = gg_grad_at(W, 7);
    size_t bytes = gg_graph_bytes(g), count = gg_node_count(g);
    const void *hdata = gg_data(gg_find(g, "h"));
    for (int step = 0; step < 5; step++) {
        assert_int_equal(gg_graph_truncate(g, params), 0);
        assert_int_equal(gg_node_count(g), params);
        assert_null(gg_find(g, "h"));
        assert_ptr_equal(gg_find(g, "W"), W);
        gg_node *again = rebuild_step(g, W, b, x);
        assert_ptr_equal(again, loss);                    /* the same slot */
        assert_ptr_equal(gg_data(gg_find(g, "h")), hdata); /* the same buffer */
        assert_int_equal(gg_node_count(g), count);
        assert_int_equal(gg_graph_bytes(g), bytes);
        assert_true(gg_value(again) == first);
        assert_near(gg_grad_at(W, 7), (step + 2) * grad0, 1e-15); /* leaves accumulate */
    }

    assert_int_equal(gg_graph_truncate(g, gg_node_count(g)), 0);
    assert_int_equal(gg_graph_truncate(g, gg_node_count(g) + 1), -1);
    assert_contains(gg_error(g), "truncate: the graph has");
    assert_int_equal(gg_graph_truncate(g, 0), 0);
    assert_int_equal(gg_node_count(g), 0);
    assert_null(gg_find(g, "W"));
    assert_non_null(gg_scalar(g, 1.0));
    assert_int_equal(gg_graph_truncate(NULL, 0), -1);
    gg_graph_free(g);
}

/* A truncation that keeps a node a backward pass wrote a gradient into:
 * the next pass clears that gradient before adding to it; one that keeps
 * only leaves leaves nothing for the next pass to clear. */
static void truncate_keeps_a_written_gradient(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 2.0);
    gg_node *h = gg_mul(g, x, x);
    assert_int_equal(gg_backward(g, gg_mul(g, h, gg_const(g, 3.0))), 0);
    assert_true(gg_grad(h) == 3.0 && gg_grad(x) == 12.0);

    assert_int_equal(gg_graph_truncate(g, 2), 0); /* x and h stay */
    assert_int_equal(gg_backward(g, gg_mul(g, h, gg_const(g, 5.0))), 0);
    assert_true(gg_grad(h) == 5.0);          /* not 3 + 5 */
    assert_true(gg_grad(x) == 12.0 + 20.0); /* a leaf accumulates */

    assert_int_equal(gg_graph_truncate(g, 1), 0); /* x alone */
    gg_zero_grad(g);
    h = gg_mul(g, x, x);
    assert_int_equal(gg_backward(g, gg_add(g, h, x)), 0);
    assert_true(gg_grad(h) == 1.0 && gg_grad(x) == 5.0);
    gg_graph_free(g);
}

/* A backward pass runs no gate the root cannot reach: here log(x - x) =
 * -inf, whose gate would give x 0 * (1 / 0) = NaN. Recorded before the
 * root and read by nothing, it keeps the first pass off its path that
 * takes every node as an ancestor; read by a node that a truncation then
 * drops, it is unread again. */
static void backward_runs_only_what_the_root_reaches(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, 3.0);
    gg_node *dead = gg_log(g, gg_sub(g, x, x));
    assert_true(isinf(gg_value(dead)));
    gg_node *y = gg_mul(g, x, x);
    assert_int_equal(gg_backward(g, y), 0);
    assert_true(gg_grad(x) == 6.0);

    /* dead is read, by the node the truncation drops */
    assert_int_equal(gg_graph_truncate(g, 3), 0);
    gg_zero_grad(g);
    assert_non_null(gg_mul(g, dead, x));
    assert_int_equal(gg_graph_truncate(g, 3), 0);
    y = gg_mul(g, x, x);
    assert_int_equal(gg_backward(g, y), 0);
    assert_true(gg_grad(x) == 6.0);

    /* every node read: the pass over all of them gives the same numbers */
    assert_int_equal(gg_graph_truncate(g, 1), 0);
    gg_zero_grad(g);
    gg_node *z = gg_add(g, gg_mul(g, x, x), gg_sin(g, x));
    assert_int_equal(gg_backward(g, z), 0);
    assert_true(gg_grad(x) == 6.0 + cos(3.0));
    gg_graph_free(g);
}

/* One random scalar graph: leaves (variables, constants, an f32 constant
 * whose consumers take the general path) and 2000 nodes of the gates with a
 * scalar recording path, each over a recent node and a leaf. */
static gg_node *random_scalar_graph(gg_graph *g, gg_node **nodes, size_t n, uint64_t seed)
{
    enum { LEAVES = 16 };
    gg_rng r;
    gg_rng_seed(&r, seed);
    for (size_t k = 0; k < LEAVES; k++) {
        double v = 2 * gg_rng_uniform(&r) - 1;
        nodes[k] = k == 3 ? gg_constant(g, GG_F32, v) : k % 4 == 1 ? gg_const(g, v) : gg_scalar(g, v);
    }
    for (size_t k = LEAVES; k < n; k++) {
        gg_node *a = nodes[k - 1 - gg_rng_below(&r, k - 1 < 32 ? k - 1 : 32)];
        gg_node *b = nodes[gg_rng_below(&r, LEAVES)];
        if (gg_node_dtype(a) != gg_node_dtype(b))
            b = a;
        switch (gg_rng_below(&r, 16)) {
        case 0: nodes[k] = gg_add(g, a, b); break;
        case 1: nodes[k] = gg_sub(g, a, b); break;
        case 2: nodes[k] = gg_mul(g, a, b); break;
        case 3: nodes[k] = gg_max(g, a, b); break;
        case 4: nodes[k] = gg_min(g, a, b); break;
        case 5: nodes[k] = gg_copy(g, a); break;
        case 6: nodes[k] = gg_neg(g, a); break;
        case 7: nodes[k] = gg_sigmoid(g, a); break;
        case 8: nodes[k] = gg_tanh(g, a); break;
        case 9: nodes[k] = gg_relu(g, a); break;
        case 10: nodes[k] = gg_abs(g, a); break;
        case 11: nodes[k] = gg_leaky_relu(g, a, 0.1); break;
        case 12: nodes[k] = gg_elu(g, a, 0.5); break;
        case 13: nodes[k] = gg_sin(g, a); break;
        case 14: nodes[k] = gg_silu(g, a); break;
        default: nodes[k] = gg_add(g, gg_mul(g, a, b), a); break;
        }
    }
    return nodes[n - 1];
}

static void same_bits(double x, double y)
{
    assert_memory_equal(&x, &y, sizeof x);
}

/* Rank-0 f64 nodes take a recording path of their own (ggc_record_scalar);
 * an anomaly check sends every node through the general one. Both must
 * build the same nodes, with the same values and gradients to the bit. */
static void scalar_recording_matches_the_general_path(void **state)
{
    (void)state;
    enum { N = 2000 };
    static gg_node *fast[N], *slow[N];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        gg_graph *g = gg_graph_new(), *h = gg_graph_new();
        assert_int_equal(gg_detect_anomaly(h, 1), 0);
        gg_node *rf = random_scalar_graph(g, fast, N, seed), *rs = random_scalar_graph(h, slow, N, seed);
        assert_non_null(rf);
        assert_non_null(rs);
        assert_int_equal(gg_node_count(g), gg_node_count(h));
        assert_int_equal(gg_backward(g, rf), 0);
        assert_int_equal(gg_backward(h, rs), 0);
        for (size_t id = 0; id < gg_node_count(g); id++) {
            gg_node *x = gg_node_at(g, id), *y = gg_node_at(h, id);
            assert_string_equal(gg_gate_name(x), gg_gate_name(y));
            assert_int_equal(gg_node_dtype(x), gg_node_dtype(y));
            assert_int_equal(gg_requires_grad(x), gg_requires_grad(y));
            for (int i = 0; i < 2; i++) {
                gg_node *ix = gg_node_input(x, i), *iy = gg_node_input(y, i);
                assert_int_equal(ix ? (long)gg_node_id(ix) : -1, iy ? (long)gg_node_id(iy) : -1);
            }
            same_bits(gg_value(x), gg_value(y));
            if (gg_requires_grad(x))
                same_bits(gg_grad(x), gg_grad(y));
        }
        gg_graph_free(g);
        gg_graph_free(h);
    }
}

/* The scalar path's refusals are the general path's. */
static void scalar_recording_refuses_as_the_general_path(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new(), *h = gg_graph_new();
    gg_node *x = gg_scalar(g, 1.0), *y = gg_scalar(h, 2.0), *f = gg_constant(g, GG_F32, 1.0);
    assert_null(gg_add(g, x, y));
    assert_contains(gg_error(g), "add: input 2 (node 0) belongs to another graph");
    assert_null(gg_sigmoid(g, y));
    assert_contains(gg_error(g), "sigmoid: input 1 (node 0) belongs to another graph");
    assert_null(gg_mul(g, x, f));
    assert_contains(gg_error(g), "dtypes differ");
    assert_null(gg_mul(g, x, NULL));
    assert_null(gg_relu(NULL, x));
    gg_node *z = gg_add(g, f, f);
    assert_non_null(z);
    assert_int_equal(gg_node_dtype(z), GG_F32);
    assert_true(gg_value(z) == 2.0);
    gg_graph_free(g);
    gg_graph_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rerun_equals_fresh_build),
        cmocka_unit_test(backward_twice_accumulates_leaves_only),
        cmocka_unit_test(zero_grad_after_forward_clears_everything),
        cmocka_unit_test(switching_roots),
        cmocka_unit_test(tensor_passes_repeat_exactly),
        cmocka_unit_test(borrowed_leaf_reads_callers_memory),
        cmocka_unit_test(unreached_tensor_gradient_reads_zero),
        cmocka_unit_test(ten_million_chain),
        cmocka_unit_test(node_pointers_stay_put),
        cmocka_unit_test(constants_and_inputs),
        cmocka_unit_test(set_data_and_reforward_tensors),
        cmocka_unit_test(backward_seed_for_tensor_roots),
        cmocka_unit_test(labels),
        cmocka_unit_test(shape_queries),
        cmocka_unit_test(truncate_and_rebuild),
        cmocka_unit_test(truncate_keeps_a_written_gradient),
        cmocka_unit_test(backward_runs_only_what_the_root_reaches),
        cmocka_unit_test(zero_grad_lazy_reads_zero_and_is_overwritten),
        cmocka_unit_test(zero_upstream_skips_change_nothing),
        cmocka_unit_test(scalar_recording_matches_the_general_path),
        cmocka_unit_test(scalar_recording_refuses_as_the_general_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
