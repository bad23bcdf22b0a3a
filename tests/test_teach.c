/* test_teach.c - traces, explain and DOT pictures of the lecture's
 * examples: the numbers a student checks by hand must be in the text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gategrad/teach.h"

/* ---- Capturing output ------------------------------------------------------------ */

typedef struct capture {
    char *text;
    size_t len;
    FILE *f;
    size_t lines;
} capture;

static void capture_open(capture *c)
{
    *c = (capture){0};
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

static const char *capture_text(capture *c)
{
    fflush(c->f);
    return c->text;
}

static void capture_close(capture *c)
{
    fclose(c->f);
    free(c->text);
}

static void on_line(const char *line, void *ctx)
{
    capture *c = ctx;
    fprintf(c->f, "%s\n", line);
    c->lines++;
}

#define assert_has(text, needle)                                                        \
    do {                                                                                \
        if (!strstr((text), (needle)))                                                  \
            fail_msg("missing \"%s\" in:\n%s", (needle), (text));                       \
    } while (0)

static gg_node *var(gg_graph *g, const char *name, double value)
{
    gg_node *n = gg_scalar(g, value);
    assert_int_equal(gg_set_label(g, n, name), 0);
    return n;
}

static gg_node *named(gg_graph *g, gg_node *n, const char *name)
{
    assert_non_null(n);
    assert_int_equal(gg_set_label(g, n, name), 0);
    return n;
}

/* Runs forward and backward of root with a trace into c. */
static void traced(gg_graph *g, gg_node *root, capture *c, const gg_view_opts *opts)
{
    gg_tracer *t = gg_trace_callback(g, on_line, c, opts);
    assert_non_null(t);
    assert_int_equal(gg_forward(g, root), 0);
    assert_int_equal(gg_backward(g, root), 0);
    gg_trace_end(t);
}

/* ---- §1 The circuit (x + y) * z ------------------------------------------------------- */

static gg_node *circuit(gg_graph *g, gg_node **x)
{
    *x = var(g, "x", -2);
    gg_node *y = var(g, "y", 5), *z = var(g, "z", -4);
    gg_node *q = named(g, gg_add(g, *x, y), "q");
    return named(g, gg_mul(g, q, z), "f");
}

static void trace_circuit(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x, *f = circuit(g, &x);
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    assert_int_equal(c.lines, 4);
    assert_has(t, "forward  q #3 = add(x = -2, y = 5) = 3\n");
    assert_has(t, "forward  f #4 = mul(q = 3, z = -4) = -12\n");
    assert_has(t, "backward f #4 = mul(q, z): upstream 1; mul gate, swap multiplier");
    assert_has(t, "dq = z * upstream = -4 * 1 = -4, dz = q * upstream = 3 * 1 = 3");
    assert_has(t, "backward q #3 = add(x, y): upstream -4; add gate, distributor");
    assert_has(t, "dx = upstream = -4, dy = upstream = -4; now x.grad = -4, y.grad = -4\n");
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_at_record_time(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    capture c;
    capture_open(&c);
    gg_tracer *t = gg_trace_callback(g, on_line, &c, NULL);
    gg_node *x, *f = circuit(g, &x);
    assert_non_null(f);
    gg_trace_end(t);
    /* Labels set after a gate ran are not known yet when it is recorded. */
    assert_has(capture_text(&c), "= add(x = -2, y = 5) = 3\n");
    assert_int_equal(c.lines, 2);
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_to_file(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x, *f = circuit(g, &x);
    capture c;
    capture_open(&c);
    gg_tracer *t = gg_trace_file(g, c.f, NULL);
    assert_non_null(t);
    assert_int_equal(gg_backward(g, f), 0);
    gg_trace_end(t);
    assert_has(capture_text(&c), "now x.grad = -4, y.grad = -4\n");
    capture_close(&c);
    gg_graph_free(g);
}

/* ---- §2 The four gate patterns ------------------------------------------------------------ */

static void trace_four_gates(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 3), *y = var(g, "y", -4), *z = var(g, "z", 2), *w = var(g, "w", -1);
    gg_node *s = named(g, gg_add(g, named(g, gg_mul(g, x, y), "xy"),
                                 named(g, gg_max(g, z, w), "m")), "s");
    gg_node *f = named(g, gg_mul(g, gg_constant(g, GG_F64, 2), s), "f");
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    assert_has(t, "forward  f #8 = mul(2, s = -10) = -20\n");
    assert_has(t, "ds = 2 * upstream = 2 * 1 = 2; now s.grad = 2\n");
    assert_has(t, "max gate, router");
    assert_has(t, "dz = upstream (2 >= -1) = 2, dw = 0 (routed to the other input); now z.grad = 2, w.grad = 0\n");
    assert_has(t, "dx = y * upstream = -4 * 2 = -8, dy = x * upstream = 3 * 2 = 6");
    assert_true(gg_value(f) == -20 && gg_grad(x) == -8 && gg_grad(y) == 6);
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_fan_out_sum(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 3), *y = var(g, "y", 4);
    gg_node *p = named(g, gg_mul(g, x, y), "p");
    gg_node *f = named(g, gg_add(g, gg_add(g, p, x), x), "f");
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    assert_has(t, "backward x #0 is used by 3 gates: copy gate, gradient adder: "
                  "dx = 1 (from f) + 1 (from n3) + 4 (from p) = 6\n");
    assert_true(gg_grad(x) == 6);
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_square_counts_once(void **state)
{
    /* x * x: one gate passes gradient into x (through both inputs). */
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 3);
    gg_node *f = named(g, gg_add(g, gg_mul(g, x, x), x), "f");
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    assert_has(t, "dx = x * upstream = 3 * 1 = 3, dx = x * upstream = 3 * 1 = 3; now x.grad = 7");
    assert_has(t, "x #0 is used by 2 gates: copy gate, gradient adder: dx = 1 (from f) + 6 (from n1) = 7\n");
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_two_passes(void **state)
{
    /* Leaf gradients accumulate; each pass shows its own contributions. */
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 3), *y = var(g, "y", 4);
    gg_node *f = named(g, gg_add(g, gg_mul(g, x, y), x), "f");
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    const char *second = strstr(strstr(t, "gradient adder") + 1, "gradient adder");
    assert_non_null(second);
    assert_has(second, "dx = 1 (from f) + 4 (from n2) = 5\n");
    assert_true(gg_grad(x) == 10);
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_unary_gates(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = var(g, "a", 0.5);
    gg_node *f = gg_add(g, gg_tanh(g, a), gg_exp(g, a));
    f = gg_add(g, f, gg_log(g, a));
    f = gg_add(g, f, gg_pow(g, a, 3));
    f = gg_add(g, f, gg_div(g, a, gg_constant(g, GG_F64, 4)));
    f = gg_add(g, f, gg_sub(g, gg_neg(g, a), gg_relu(g, a)));
    f = named(g, gg_add(g, f, gg_abs(g, gg_min(g, a, gg_constant(g, GG_F64, -1)))), "f");
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    /* Formulas name the operands by their nodes ("a"; the gates' own
     * outputs are unlabelled here, "n<id>"), never by letters of their own. */
    assert_has(t, "^2) * upstream = (1 - 0.46211716^2) * 1 = 0.78644773");
    assert_has(t, " * upstream = 1.6487213 * 1 = 1.6487213");
    assert_has(t, "da = upstream / a = 1 / 0.5 * 1 = 2");
    assert_has(t, "da = 3 * a^2 * upstream = 3 * 0.5^2 * 1 = 0.75");
    assert_has(t, "da = upstream / 4 = 1 / 4 * 1 = 0.25");
    assert_has(t, "= -upstream = -1");
    assert_has(t, "relu gate");
    assert_has(t, "da = 0 (routed to the other input)");
    assert_has(t, "abs gate");
    capture_close(&c);
    gg_graph_free(g);
}

/* ---- §3 The sigmoid neuron ---------------------------------------------------------------- */

static void trace_neuron(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *w0 = var(g, "w0", 2), *x0 = var(g, "x0", -1), *w1 = var(g, "w1", -3);
    gg_node *x1 = var(g, "x1", -2), *w2 = var(g, "w2", -3);
    gg_node *dot = gg_add(g, gg_add(g, gg_mul(g, w0, x0), gg_mul(g, w1, x1)), w2);
    gg_node *f = named(g, gg_sigmoid(g, named(g, dot, "dot")), "f");
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    assert_has(t, "forward  f #9 = sigmoid(dot = 1) = 0.73105858\n");
    assert_has(t, "ddot = f * (1 - f) * upstream = 0.73105858 * (1 - 0.73105858) * 1 = 0.19661193");
    assert_has(t, "dx0 = w0 * upstream = 2 * 0.19661193 = 0.39322387");
    assert_has(t, "dx1 = w1 * upstream = -3 * 0.19661193 = -0.5898358");
    assert_true(fabs(gg_grad(x1) - -0.5898357997244456) < 1e-15);
    capture_close(&c);
    gg_graph_free(g);
}

/* ---- §4 Tensors: shapes and summaries ------------------------------------------------------- */

static void trace_vectorized(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *W = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 2}, (const double[]){0.1, 0.5, -0.3, 0.8});
    gg_node *x = gg_tensor(g, GG_F64, 2, (const int64_t[]){2, 1}, (const double[]){0.2, 0.4});
    gg_set_label(g, W, "W");
    gg_set_label(g, x, "x");
    gg_node *q = named(g, gg_matmul(g, W, x), "q");
    gg_node *f = named(g, gg_sum(g, gg_mul(g, q, q)), "f");
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    assert_has(t, "forward  q #2 = matmul(W = [2,2] {0.1, 0.5, -0.3, 0.8}, x = [2,1] {0.2, 0.4}) = [2,1] {0.22, 0.26}\n");
    assert_has(t, "= 0.116\n");
    assert_has(t, "W.grad = [2,2] {0.088, 0.176, 0.104, 0.208}, x.grad = [2,1] {-0.112, 0.636}\n");
    assert_has(t, "now q.grad = [2,1] {0.44, 0.52}\n");
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_summary_and_full(void **state)
{
    (void)state;
    double data[100];
    for (int i = 0; i < 100; i++)
        data[i] = i - 50;
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_tensor(g, GG_F64, 2, (const int64_t[]){10, 10}, data);
    gg_set_label(g, a, "fc1.weight");
    gg_node *f = gg_sum(g, gg_relu(g, a));
    capture c;
    capture_open(&c);
    traced(g, f, &c, NULL);
    const char *t = capture_text(&c);
    assert_has(t, "relu(fc1.weight = [10,10] {-50, -49, -48, -47, ... 96 more} min -50 max 49 norm ");
    assert_true(strstr(t, "{-50, -49, -48, -47, -46,") == NULL);
    capture_close(&c);

    capture_open(&c);
    traced(g, f, &c, &(gg_view_opts){.full_values = 1});
    t = capture_text(&c);
    assert_has(t, "{-50, -49, -48, -47, -46,");
    assert_has(t, ", 48, 49}");
    capture_close(&c);
    gg_graph_free(g);
}

/* ---- §6 The two-layer sigmoid network of seed 003 ---------------------------------------------- */

typedef struct net {
    gg_node *w[9], *E, *h1, *o1;
} net;

/* z1 = w1x1 + w2x2, ..., E = 1/2 ((t1 - o1)^2 + (t2 - o2)^2), all scalar gates. */
static net build_net(gg_graph *g)
{
    static const double w0[9] = {0, 0.3, 0.25, 0.4, 0.35, 0.45, 0.4, 0.7, 0.6};
    static const char *names[9] = {"", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"};
    net n = {0};
    for (int i = 1; i <= 8; i++)
        n.w[i] = var(g, names[i], w0[i]);
    gg_node *x1 = gg_constant(g, GG_F64, 0.1), *x2 = gg_constant(g, GG_F64, 0.2);
    gg_node *t1 = gg_constant(g, GG_F64, 0.4), *t2 = gg_constant(g, GG_F64, 0.6);
    gg_node *z1 = named(g, gg_add(g, gg_mul(g, n.w[1], x1), gg_mul(g, n.w[2], x2)), "z1");
    gg_node *z2 = named(g, gg_add(g, gg_mul(g, n.w[3], x1), gg_mul(g, n.w[4], x2)), "z2");
    n.h1 = named(g, gg_sigmoid(g, z1), "h1");
    gg_node *h2 = named(g, gg_sigmoid(g, z2), "h2");
    gg_node *z3 = named(g, gg_add(g, gg_mul(g, n.w[5], n.h1), gg_mul(g, n.w[6], h2)), "z3");
    gg_node *z4 = named(g, gg_add(g, gg_mul(g, n.w[7], n.h1), gg_mul(g, n.w[8], h2)), "z4");
    n.o1 = named(g, gg_sigmoid(g, z3), "o1");
    gg_node *o2 = named(g, gg_sigmoid(g, z4), "o2");
    gg_node *e1 = gg_pow(g, gg_sub(g, t1, n.o1), 2), *e2 = gg_pow(g, gg_sub(g, t2, o2), 2);
    n.E = named(g, gg_mul(g, gg_constant(g, GG_F64, 0.5), gg_add(g, e1, e2)), "E");
    return n;
}

static void trace_network(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    net n = build_net(g);
    capture c;
    capture_open(&c);
    traced(g, n.E, &c, NULL);
    const char *t = capture_text(&c);
    assert_has(t, "forward  h1 #18 = sigmoid(z1 = 0.08) = 0.51998934\n");
    assert_has(t, "forward  h2 #19 = sigmoid(z2 = 0.11) = 0.5274723\n");
    assert_has(t, "forward  o1 #26 = sigmoid(z3 = 0.44498412) = 0.609446\n");
    assert_has(t, "= 0.023971901\n");
    assert_has(t, "backward h1 #18 is used by 2 gates: copy gate, gradient adder");
    assert_has(t, "now w5.grad = 0.025922856");
    assert_true(fabs(gg_grad(n.w[5]) - 0.02592286) < 5e-9);
    assert_true(fabs(gg_grad(n.w[1]) - 0.00080888) < 5e-9);
    capture_close(&c);
    gg_graph_free(g);
}

static void explain_network_w5(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    net n = build_net(g);
    capture c;
    capture_open(&c);
    assert_int_equal(gg_explain(g, n.E, n.w[5], c.f, NULL), 0);
    const char *t = capture_text(&c);
    /* Every gate's factor: E = 0.5 * (e1 + e2), e1 = (t1 - o1)^2, ... */
    assert_has(t, "path 1 of 1: \u2202E/\u2202n");
    assert_has(t, "= 0.50000000 \u00b7 1.00000000 \u00b7 -0.41889201 \u00b7 -1.00000000 \u00b7 "
                  "0.23802157 \u00b7 1.00000000 \u00b7 0.51998934\n");
    /* Grouped as the slide writes it. */
    assert_has(t, "grouped at labelled nodes: \u2202E/\u2202o1 \u00b7 \u2202o1/\u2202z3 \u00b7 \u2202z3/\u2202w5\n");
    assert_has(t, "= 0.20944600 \u00b7 0.23802157 \u00b7 0.51998934\n      = 0.02592286\n");
    assert_has(t, "\u2202E/\u2202w5 = the product along its one path = 0.02592286\n");
    capture_close(&c);

    /* w1 reaches E through h1 along two paths (o1 and o2). */
    capture_open(&c);
    assert_int_equal(gg_explain(g, n.E, n.w[1], c.f, NULL), 0);
    t = capture_text(&c);
    assert_has(t, "path 2 of 2:");
    assert_has(t, "\u2202E/\u2202w1 = the sum over its 2 paths = 0.00080888\n");
    capture_close(&c);
    gg_graph_free(g);
}

static void explain_circuit(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x, *f = circuit(g, &x);
    capture c;
    capture_open(&c);
    assert_int_equal(gg_explain(g, f, x, c.f, NULL), 0);
    const char *t = capture_text(&c);
    assert_has(t, "path 1 of 1: \u2202f/\u2202q \u00b7 \u2202q/\u2202x\n      = -4.00000000 \u00b7 1.00000000\n");
    assert_has(t, "\u2202f/\u2202x = the product along its one path = -4.00000000\n");
    /* Gradients are left alone. */
    assert_true(gg_grad(x) == 0);
    capture_close(&c);
    gg_graph_free(g);
}

static void explain_bounds_paths(void **state)
{
    /* 2^40 paths: a doubling chain. Must print 3, count the rest, not hang. */
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 1), *a = x;
    for (int i = 0; i < 40; i++)
        a = gg_add(g, a, a);
    capture c;
    capture_open(&c);
    gg_explain_opts opts = {.max_paths = 3, .max_factors = 5};
    assert_int_equal(gg_explain(g, a, x, c.f, &opts), 0);
    const char *t = capture_text(&c);
    assert_has(t, "path 3 of 1099511627776:");
    assert_null(strstr(t, "path 4 of"));
    assert_has(t, "\u00b7 ... (35 more factors)");
    assert_has(t, "the sum over its 1099511627776 paths (1099511627773 not shown) = 1.09951163e+12\n");
    capture_close(&c);
    gg_graph_free(g);
}

static void explain_deep_chain(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 2), *a = x;
    for (int i = 0; i < 100000; i++)
        a = gg_neg(g, a);
    capture c;
    capture_open(&c);
    assert_int_equal(gg_explain(g, a, x, c.f, NULL), 0);
    assert_has(capture_text(&c), "= the product along its one path = 1.00000000\n");
    capture_close(&c);
    gg_graph_free(g);
}

static void explain_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 1), *y = var(g, "y", 2);
    gg_node *f = gg_mul(g, x, x);
    capture c;
    capture_open(&c);
    /* Not an ancestor: 0, said so. */
    assert_int_equal(gg_explain(g, f, y, c.f, NULL), 0);
    assert_has(capture_text(&c), "= 0: no path leads from the root down to this leaf");
    gg_node *later = gg_scalar(g, 3);
    assert_int_equal(gg_explain(g, f, later, c.f, NULL), 0);
    assert_has(capture_text(&c), "\u2202n2/\u2202n3 = 0: no path");
    assert_int_not_equal(gg_explain(g, f, NULL, c.f, NULL), 0);
    assert_int_not_equal(gg_explain(g, f, x, NULL, NULL), 0);
    gg_node *t = gg_tensor(g, GG_F64, 1, (const int64_t[]){3}, NULL);
    gg_node *s = gg_sum(g, gg_mul(g, t, x));
    assert_int_not_equal(gg_explain(g, s, x, c.f, NULL), 0);
    assert_has(gg_error(g), "not a scalar elementwise gate");
    capture_close(&c);
    gg_graph_free(g);
}

static void hook_slot_is_checked(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    capture c;
    capture_open(&c);
    gg_tracer *t = gg_trace_callback(g, on_line, &c, NULL);
    assert_non_null(t);
    assert_null(gg_trace_file(g, c.f, NULL));
    assert_has(gg_error(g), "already in use");
    assert_null(gg_trace_file(g, NULL, NULL));
    assert_null(gg_trace_callback(NULL, on_line, &c, NULL));
    gg_trace_end(t);
    gg_trace_end(NULL);
    t = gg_trace_callback(g, on_line, &c, NULL); /* free again */
    assert_non_null(t);
    gg_trace_end(t);
    capture_close(&c);
    gg_graph_free(g);
}

static void trace_long_sum(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 2), *a = x;
    for (int i = 1; i < 50000; i++)
        a = gg_add(g, a, x);
    capture c;
    capture_open(&c);
    traced(g, a, &c, NULL);
    assert_int_equal(c.lines, 2 * 49999 + 1);
    assert_has(capture_text(&c), "x #0 is used by 49999 gates");
    assert_true(gg_grad(x) == 50000);
    capture_close(&c);
    gg_graph_free(g);
}

/* ---- Pictures ---------------------------------------------------------------------------- */

/* Renders text with Graphviz when it is installed: 0 when dot accepts it. */
static int dot_accepts(const char *text)
{
    if (system("command -v dot >/dev/null 2>&1") != 0)
        return 0;
    FILE *p = popen("dot -Tsvg >/dev/null 2>&1", "w");
    assert_non_null(p);
    fputs(text, p);
    return pclose(p);
}

static void dot_circuit(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x, *f = circuit(g, &x);
    assert_int_equal(gg_backward(g, f), 0);
    capture c;
    capture_open(&c);
    assert_int_equal(gg_dot(g, f, c.f, NULL), 0);
    const char *t = capture_text(&c);
    assert_has(t, "digraph gategrad {\n  rankdir=LR;\n");
    assert_has(t, "v0 [shape=record, label=\"{ x | value -2 | grad -4 }\"];\n");
    assert_has(t, "g3 [shape=ellipse, style=filled, fillcolor=\"#cfe2ff\", label=\"add\"];\n");
    assert_has(t, "v0 -> g3;\n");
    assert_has(t, "g4 -> v4;\n");
    assert_has(t, "label=\"{ f | value -12 | grad 1 }\"");
    assert_int_equal(dot_accepts(t), 0);
    capture_close(&c);
    gg_graph_free(g);
}

static void dot_tensors_and_constants(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *a = gg_tensor(g, GG_F64, 2, (const int64_t[]){30, 30}, NULL);
    gg_set_label(g, a, "fc1.weight");
    gg_node *b = gg_input(g, GG_F64, 2, (const int64_t[]){30, 30}, NULL);
    gg_node *f = gg_sum(g, gg_sub(g, gg_pow(g, a, 2), gg_div(g, b, gg_constant(g, GG_F64, 2))));
    assert_int_equal(gg_backward(g, f), 0);
    capture c;
    capture_open(&c);
    assert_int_equal(gg_dot(g, NULL, c.f, NULL), 0);
    const char *t = capture_text(&c);
    assert_has(t, "fc1.weight | value [30,30] \\{0, 0, 0, 0, ... 896 more\\} min 0 max 0 norm 0");
    assert_has(t, "label=\"pow 2\"");
    assert_has(t, "[label=\"a\"]");
    assert_has(t, "fillcolor=\"#eeeeee\"");
    assert_int_equal(dot_accepts(t), 0);
    capture_close(&c);
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trace_circuit),
        cmocka_unit_test(trace_at_record_time),
        cmocka_unit_test(trace_to_file),
        cmocka_unit_test(trace_four_gates),
        cmocka_unit_test(trace_fan_out_sum),
        cmocka_unit_test(trace_square_counts_once),
        cmocka_unit_test(trace_two_passes),
        cmocka_unit_test(trace_unary_gates),
        cmocka_unit_test(trace_neuron),
        cmocka_unit_test(trace_vectorized),
        cmocka_unit_test(trace_summary_and_full),
        cmocka_unit_test(trace_network),
        cmocka_unit_test(explain_network_w5),
        cmocka_unit_test(explain_circuit),
        cmocka_unit_test(explain_bounds_paths),
        cmocka_unit_test(explain_deep_chain),
        cmocka_unit_test(explain_errors),
        cmocka_unit_test(hook_slot_is_checked),
        cmocka_unit_test(trace_long_sum),
        cmocka_unit_test(dot_circuit),
        cmocka_unit_test(dot_tensors_and_constants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
