/* test_nn.c - models as graphs: specs, construction and initialization,
 * the summary counts of seed 004, every loss against hand values and by
 * gradcheck, the lecture's steps of sections 6-8 through the MLP and
 * optimizer API, dropout, and checkpoints. */
#define _GNU_SOURCE /* open_memstream */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gategrad.h"
#include "gategrad/io.h"
#include "io/io.h"
#include "kernels/kernels.h"
#include "fixtures/torch_bn.h"

#define TOL 1e-9

static gg_mlp_spec parse(const char *text)
{
    gg_mlp_spec s;
    char err[GG_ERRLEN];
    if (gg_mlp_spec_parse(text, &s, err))
        fail_msg("%s", err);
    return s;
}

/* A model over a [batch, in] f64 input leaf. */
static gg_mlp *model(gg_graph *g, const char *spec, int64_t batch, uint64_t seed, gg_node **x)
{
    gg_mlp_spec s = parse(spec);
    char err[GG_ERRLEN];
    *x = gg_input(g, GG_F64, 2, (int64_t[]){batch, s.sizes[0]}, NULL);
    gg_mlp *m = gg_mlp_new(g, *x, &s, seed, err);
    if (!m)
        fail_msg("%s", err);
    return m;
}

static void set(gg_graph *g, const char *label, const double *v)
{
    gg_node *n = gg_find(g, label);
    assert_non_null(n);
    assert_int_equal(gg_set_data(g, n, v), 0);
}

/* ---- Specs ------------------------------------------------------------------- */

static void spec_round_trip(void **state)
{
    (void)state;
    gg_mlp_spec s = parse("784-256-128-10:relu");
    assert_int_equal(s.nlayers, 3);
    assert_int_equal(s.sizes[1], 256);
    assert_int_equal(s.hidden, GG_ACT_RELU);
    assert_int_equal(s.output, GG_ACT_LINEAR);
    assert_int_equal(s.bias, 1);
    char buf[256];
    const char *texts[] = {"784-256-128-10:relu", "2-2-2:sigmoid:out=sigmoid:nobias",
                           "784-512-10:tanh:dropout=0.25:init=he", "3-1:step"};
    for (size_t i = 0; i < 4; i++) {
        gg_mlp_spec a = parse(texts[i]);
        assert_string_equal(gg_mlp_spec_format(&a, buf, sizeof buf), texts[i]);
    }
    assert_near(parse("4-3-2:elu:dropout=0.25").dropout, 0.25, 0);
}

static void spec_errors(void **state)
{
    (void)state;
    gg_mlp_spec s;
    char err[GG_ERRLEN];
    assert_int_not_equal(gg_mlp_spec_parse("784", &s, err), 0);
    assert_contains(err, "at least an input and an output");
    assert_int_not_equal(gg_mlp_spec_parse("784-x-10", &s, err), 0);
    assert_contains(err, "'784-x-10'");
    assert_int_not_equal(gg_mlp_spec_parse("784-0-10", &s, err), 0);
    assert_int_not_equal(gg_mlp_spec_parse("4-2:swish", &s, err), 0);
    assert_contains(err, "'swish'");
    assert_int_not_equal(gg_mlp_spec_parse("4-2:relu:dropout=1", &s, err), 0);
    assert_contains(err, "'dropout=1'");
    assert_int_not_equal(gg_mlp_spec_parse("1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1", &s, err), 0);
    assert_contains(err, "more than 16 layers");

    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F64, 2, (int64_t[]){4, 5}, NULL);
    s = parse("6-9-4");
    assert_null(gg_mlp_new(g, x, &s, 1, err));
    assert_contains(err, "input has shape [4,5], expected [batch,6]");
    gg_graph_free(g);
}

/* ---- Construction, initialization, summary ------------------------------------- */

static char *summary_text(const char *spec)
{
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, spec, 1, 1, &x);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(gg_summary(m, f), 0);
    fclose(f);
    gg_mlp_free(m);
    gg_graph_free(g);
    return text;
}

/* Seed 004: Dense 6->9->4 has 63 + 40 = 103 parameters, 8->9->9->9->4 has 301. */
static void summary_counts(void **state)
{
    (void)state;
    char *a = summary_text("6-9-4:linear");
    assert_contains(a, " fc1 (Dense)                 (None, 9)                 63\n");
    assert_contains(a, " fc2 (Dense)                 (None, 4)                 40\n");
    assert_contains(a, "Total params: 103\nTrainable params: 103\nNon-trainable params: 0\n");
    free(a);
    char *b = summary_text("8-9-9-9-4:linear");
    assert_contains(b, "(None, 9)                 81\n");
    assert_contains(b, "fc3 (Dense)                 (None, 9)                 90\n");
    assert_contains(b, "Total params: 301\n");
    free(b);
    char *c = summary_text("784-256-128-10:relu:dropout=0.2");
    assert_contains(c, " fc1.dropout (Dropout)       (None, 256)               0\n");
    assert_contains(c, "Total params: 235,146\n");
    free(c);
}

static void build_names_and_counts(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, "6-9-4:linear", 3, 1, &x);
    size_t n;
    gg_node *const *p = gg_mlp_params(m, &n);
    assert_int_equal(n, 4);
    assert_ptr_equal(p[0], gg_find(g, "fc1.weight"));
    assert_ptr_equal(p[1], gg_find(g, "fc1.bias"));
    assert_ptr_equal(p[3], gg_find(g, "fc2.bias"));
    int64_t d[GG_MAX_DIMS];
    assert_int_equal(gg_shape(p[0], d), 2);
    assert_int_equal(d[0], 6);
    assert_int_equal(d[1], 9);
    assert_int_equal(gg_shape(gg_mlp_output(m), d), 2);
    assert_int_equal(d[0], 3);
    assert_int_equal(d[1], 4);
    assert_int_equal(gg_mlp_param_count(m), 103);
    assert_near(gg_value_at(p[1], 4), 0, 0); /* biases start at 0 */
    gg_mlp_free(m);
    gg_graph_free(g);
}

/* Same seed, same weights; Xavier and He bounds; the first weights of seed
 * 42 pinned, so any change to the documented initialization shows. */
static void init_is_seeded(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x1, *x2, *x3;
    gg_mlp *a = model(g, "20-30-5:tanh", 1, 42, &x1);
    gg_graph *g2 = gg_graph_new();
    gg_mlp *b = model(g2, "20-30-5:tanh", 1, 42, &x2);
    gg_graph *g3 = gg_graph_new();
    gg_mlp *c = model(g3, "20-30-5:relu", 1, 43, &x3);
    gg_node *wa = gg_find(g, "fc1.weight"), *wb = gg_find(g2, "fc1.weight"), *wc = gg_find(g3, "fc1.weight");
    assert_memory_equal(gg_data(wa), gg_data(wb), 600 * sizeof(double));
    double xavier = sqrt(6.0 / 50), he = sqrt(6.0 / 20), max_a = 0, max_c = 0;
    for (size_t i = 0; i < 600; i++) {
        max_a = fmax(max_a, fabs(gg_value_at(wa, i)));
        max_c = fmax(max_c, fabs(gg_value_at(wc, i)));
    }
    assert_true(max_a <= xavier && max_a > 0.9 * xavier);
    assert_true(max_c <= he && max_c > 0.9 * he && max_c > xavier);
    gg_rng r;
    gg_rng_seed(&r, 42);
    assert_near(gg_value_at(wa, 0), xavier * (2 * gg_rng_uniform(&r) - 1), 0);
    assert_near(gg_value_at(wa, 1), xavier * (2 * gg_rng_uniform(&r) - 1), 0);
    gg_mlp_free(a), gg_mlp_free(b), gg_mlp_free(c);
    gg_graph_free(g), gg_graph_free(g2), gg_graph_free(g3);
}

static void dropout_modes(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, "4-1000-1:relu:dropout=0.25", 2, 7, &x);
    gg_node *mask = gg_find(g, "fc1.dropout");
    assert_non_null(mask);
    assert_false(gg_requires_grad(mask));
    gg_mlp_resample(m); /* eval mode: no effect */
    for (size_t i = 0; i < 2000; i++)
        assert_near(gg_value_at(mask, i), 1, 0);
    gg_mlp_set_training(m, 1);
    gg_mlp_resample(m);
    size_t zeros = 0;
    for (size_t i = 0; i < 2000; i++) {
        double v = gg_value_at(mask, i);
        assert_true(v == 0 || fabs(v - 1 / 0.75) < 1e-12);
        zeros += v == 0;
    }
    assert_true(zeros > 400 && zeros < 600);
    gg_mlp_set_training(m, 0);
    assert_near(gg_value_at(mask, 17), 1, 0);
    gg_mlp_free(m);
    gg_graph_free(g);
}

/* ---- Losses ---------------------------------------------------------------------- */

/* The loss and gradient of rows x classes logits against long double:
 * rows in blocks (short rows), one at a time in pieces (past 2048
 * classes), a row ignored. */
static void softmax_ce_against_long_double(size_t rows, size_t classes)
{
    gg_graph *g = gg_graph_new();
    double *lv = malloc(rows * classes * sizeof *lv), *yv = malloc(rows * sizeof *yv);
    assert_true(lv && yv);
    for (size_t k = 0; k < rows * classes; k++)
        lv[k] = 6 * sin(0.7 * (double)k) + 0.01 * (double)(k % 97);
    for (size_t r = 0; r < rows; r++)
        yv[r] = r % 5 == 2 ? -1 : (double)(classes - 1 - (r * 31) % classes);
    gg_node *logits = gg_tensor(g, GG_F64, 2, (int64_t[]){(int64_t)rows, (int64_t)classes}, lv);
    gg_node *y = gg_input(g, GG_F64, 1, (int64_t[]){(int64_t)rows}, yv);
    gg_node *loss = gg_softmax_cross_entropy(g, logits, y);
    assert_int_equal(gg_backward(g, loss), 0);
    long double total = 0;
    size_t counted = 0;
    for (size_t r = 0; r < rows; r++)
        counted += yv[r] >= 0;
    for (size_t r = 0; r < rows; r++) {
        const double *x = lv + r * classes;
        long double mx = x[0], s = 0;
        for (size_t j = 1; j < classes; j++)
            mx = fmaxl(mx, x[j]);
        for (size_t j = 0; j < classes; j++)
            s += expl(x[j] - mx);
        for (size_t j = 0; j < classes; j++) {
            long double want = yv[r] < 0 ? 0 : (expl(x[j] - mx) / s - (j == (size_t)yv[r])) / counted;
            assert_near(gg_grad_at(logits, r * classes + j), (double)want, 1e-14);
        }
        if (yv[r] >= 0)
            total += mx + logl(s) - x[(size_t)yv[r]];
    }
    assert_near(gg_value(loss), (double)(total / counted), 1e-12);
    gg_graph_free(g);
    free(lv);
    free(yv);
}

static void softmax_ce_short_and_long_rows(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{300, 1}, {300, 10}, {7, 2048}, {4, 2049}, {3, 5000}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        softmax_ce_against_long_double(shapes[i][0], shapes[i][1]);
}

/* The gate's loss and gradient have the bits of the definition taken a
 * row at a time, in double: the row's maximum, the exponentials of the
 * shifted logits (ggk_exp_f64, as the gate's), their sum in order, the
 * row's loss, then scale * (e / s - onehot); rows with label -1 ignored.
 * In f64, whose gradient keeps every bit of that, and in f32 (the
 * classifier's), where the results are rounded to float. */
static void sce_bits_of_the_row_loop(gg_dtype dt)
{
    enum { ROWS = 300, CLASSES = 10 };
    double *x = malloc(ROWS * CLASSES * sizeof *x), *y = malloc(ROWS * sizeof *y);
    double *want = calloc(ROWS * CLASSES, sizeof *want);
    float *xf = malloc(ROWS * CLASSES * sizeof *xf), *yf = malloc(ROWS * sizeof *yf);
    assert_true(x && y && want && xf && yf);
    gg_rng r;
    gg_rng_seed(&r, 11);
    for (size_t k = 0; k < ROWS * CLASSES; k++)
        x[k] = xf[k] = (float)(12 * gg_rng_uniform(&r) - 6);
    size_t counted = 0;
    for (size_t i = 0; i < ROWS; i++) {
        y[i] = yf[i] = i % 9 == 4 ? -1.0f : (float)gg_rng_below(&r, CLASSES);
        counted += y[i] >= 0;
    }
    double total = 0, e[CLASSES];
    for (size_t i = 0; i < ROWS; i++) {
        if (y[i] < 0)
            continue;
        const double *row = x + i * CLASSES;
        double m = -INFINITY, s = 0;
        for (size_t k = 0; k < CLASSES; k++)
            m = row[k] > m ? row[k] : m;
        for (size_t k = 0; k < CLASSES; k++)
            e[k] = row[k] - m;
        ggk_exp_f64(e, e, CLASSES);
        for (size_t k = 0; k < CLASSES; k++)
            s += e[k];
        total += m + log(s) - row[(size_t)y[i]];
        for (size_t k = 0; k < CLASSES; k++)
            want[i * CLASSES + k] = 1.0 / (double)counted * (e[k] / s - (k == (size_t)y[i]));
    }
    gg_graph *g = gg_graph_new();
    bool f64 = dt == GG_F64;
    gg_node *logits = gg_tensor(g, dt, 2, (int64_t[]){ROWS, CLASSES}, f64 ? (void *)x : (void *)xf);
    gg_node *labels = gg_input(g, dt, 1, (int64_t[]){ROWS}, f64 ? (void *)y : (void *)yf);
    gg_node *loss = gg_softmax_cross_entropy(g, logits, labels);
    assert_int_equal(gg_backward(g, loss), 0);
    double got = gg_value(loss), mean = total / (double)counted;
    if (!f64) /* the loss and the gradient have the logits' dtype */
        mean = (float)mean;
    assert_memory_equal(&got, &mean, sizeof got);
    for (size_t k = 0; k < ROWS * CLASSES; k++) {
        double gk = gg_grad_at(logits, k), wk = f64 ? want[k] : (float)want[k];
        if (memcmp(&gk, &wk, sizeof gk))
            fail_msg("element %zu: gradient %.17g, the row loop's %.17g", k, gk, wk);
    }
    gg_graph_free(g);
    free(x), free(y), free(want), free(xf), free(yf);
}

static void softmax_ce_bits_of_the_row_loop(void **state)
{
    (void)state;
    sce_bits_of_the_row_loop(GG_F64);
    sce_bits_of_the_row_loop(GG_F32);
}

static void softmax_ce_values_and_gradient(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    double lv[] = {1, 2, 3, 0, 0, 0, 5, -5, 0.5}, yv[] = {2, 0, -1};
    gg_node *logits = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 3}, lv);
    gg_node *y = gg_input(g, GG_F64, 1, (int64_t[]){3}, yv);
    gg_node *loss = gg_softmax_cross_entropy(g, logits, y);
    /* Row 3 is ignored (label -1): the mean is over rows 1 and 2. */
    assert_near(gg_value(loss), 0.753109126556245, TOL);
    assert_int_equal(gg_backward(g, loss), 0);
    double e = exp(1) + exp(2) + exp(3);
    assert_near(gg_grad_at(logits, 0), exp(1) / e / 2, TOL);
    assert_near(gg_grad_at(logits, 2), (exp(3) / e - 1) / 2, TOL);
    assert_near(gg_grad_at(logits, 3), (1.0 / 3 - 1) / 2, TOL);
    assert_near(gg_grad_at(logits, 7), 0, 0);
    gg_gradcheck_result r;
    assert_int_equal(gg_gradcheck(g, loss, NULL, 0, 1e-6, 1e-6, &r), 0);

    /* Stable for huge logits; a label >= C makes the loss NaN. */
    double big[] = {1000, -1000, 0, 0, 0, 0, 0, 0, 0};
    gg_set_data(g, logits, big);
    gg_set_data(g, y, (double[]){1, 0, 0});
    assert_int_equal(gg_forward(g, loss), 0);
    assert_near(gg_value(loss), (2000 + log(3) + log(3)) / 3, 1e-9);
    gg_set_data(g, y, (double[]){3, 0, 0});
    gg_forward(g, loss);
    assert_true(isnan(gg_value(loss)));
    /* So does a label that is not a whole number, or NaN. */
    gg_set_data(g, y, (double[]){1, 0.5, 0});
    gg_forward(g, loss);
    assert_true(isnan(gg_value(loss)));
    gg_set_data(g, y, (double[]){1, 0, NAN});
    gg_forward(g, loss);
    assert_true(isnan(gg_value(loss)));
    gg_set_data(g, y, (double[]){1, 0, -0.0});
    assert_int_equal(gg_forward(g, loss), 0);
    assert_near(gg_value(loss), (2000 + log(3) + log(3)) / 3, 1e-9);

    gg_node *bad = gg_softmax_cross_entropy(g, logits, logits);
    assert_null(bad);
    assert_contains(gg_error(g), "softmax_cross_entropy: logits [3,3] and labels [3,3]");
    gg_graph_free(g);
}

static void bce_values_and_gradient(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){-3, 0.5, 2});
    gg_node *t = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, (double[]){0, 1, 1});
    gg_node *loss = gg_bce_with_logits(g, x, t);
    assert_near(gg_value(loss), 0.21653078226560707, TOL);
    assert_int_equal(gg_backward(g, loss), 0);
    assert_near(gg_grad_at(x, 1), (1 / (1 + exp(-0.5)) - 1) / 3, TOL);
    assert_near(gg_grad_at(t, 2), -2.0 / 3, TOL);
    assert_int_equal(gg_gradcheck(g, loss, NULL, 0, 1e-6, 1e-6, NULL), 0);
    gg_set_data(g, x, (double[]){800, -800, 0});
    gg_forward(g, loss);
    assert_near(gg_value(loss), (800 + 800 + log(2)) / 3, 1e-9); /* t = 0 at +800, t = 1 at -800 */
    gg_graph_free(g);
}

static void squared_losses(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *p = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4});
    gg_node *t = gg_input(g, GG_F64, 2, (int64_t[]){2, 2}, (double[]){0, 2, 5, 5});
    gg_node *mse = gg_mse_loss(g, p, t), *half = gg_half_sse_loss(g, p, t);
    assert_near(gg_value(mse), (1 + 0 + 4 + 1) / 4.0, TOL);
    assert_near(gg_value(half), 3, TOL);
    assert_int_equal(gg_backward(g, half), 0);
    assert_near(gg_grad_at(p, 2), -2, TOL);
    assert_int_equal(gg_gradcheck(g, mse, NULL, 0, 1e-6, 1e-6, NULL), 0);
    assert_int_equal(gg_gradcheck(g, half, NULL, 0, 1e-6, 1e-6, NULL), 0);
    gg_graph_free(g);
}

static void accuracy_metric(void **state)
{
    (void)state;
    float logits[] = {0.1f, 0.9f, 0.5f, 0.5f, 2, 1};
    int32_t labels[] = {1, 1, 0};
    assert_near(gg_accuracy_f32(logits, labels, 3, 2), 2.0 / 3, 1e-12); /* ties go to the first */
    assert_near(gg_accuracy_f32(logits, labels, 0, 2), 0, 0);
}

/* ---- The lecture through the MLP and optimizer API --------------------------------- */

/* §6 (seed 003): 2-2-2 sigmoid network without biases, E = 1/2 sum (t - o)^2,
 * one SGD step with learning rate 0.5. fcI.weight is [in, out]: row i holds
 * the weights leaving input i. */
static void backprop_step_section6(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, "2-2-2:sigmoid:out=sigmoid:nobias", 1, 1, &x);
    gg_set_data(g, x, (double[]){0.1, 0.2});
    set(g, "fc1.weight", (double[]){0.3, 0.4, 0.25, 0.35}); /* w1 w3 / w2 w4 */
    set(g, "fc2.weight", (double[]){0.45, 0.7, 0.4, 0.6});  /* w5 w7 / w6 w8 */
    gg_node *t = gg_input(g, GG_F64, 2, (int64_t[]){1, 2}, (double[]){0.4, 0.6});
    gg_node *o = gg_mlp_output(m), *e = gg_half_sse_loss(g, o, t);
    assert_int_equal(gg_forward(g, e), 0);
    assert_near(gg_value_at(o, 0), 0.60944600, 1e-8);
    assert_near(gg_value_at(o, 1), 0.66384491, 1e-8);
    assert_near(gg_value(e), 0.023971900751730026, 1e-12);

    size_t n;
    gg_node *const *p = gg_mlp_params(m, &n);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_SGD);
    cfg.lr = 0.5;
    char err[GG_ERRLEN];
    gg_optimizer *opt = gg_optimizer_new(&cfg, p, n, err);
    assert_non_null(opt);
    gg_optimizer_zero_grad(opt);
    assert_int_equal(gg_backward(g, e), 0);
    double dw[] = {0.00080888, 0.00071009, 0.00161775, 0.00142017, 0.02592286, 0.00740844, 0.02629590, 0.00751506};
    for (int i = 0; i < 4; i++) {
        assert_near(gg_grad_at(p[0], (size_t)i), dw[i], 5e-9);
        assert_near(gg_grad_at(p[1], (size_t)i), dw[4 + i], 5e-9);
    }
    gg_optimizer_step(opt);
    double w1[] = {0.29959556, 0.39964496, 0.24919112, 0.34928991};
    double w2[] = {0.43703857, 0.69629578, 0.38685205, 0.59624247};
    for (size_t i = 0; i < 4; i++) {
        assert_near(gg_value_at(p[0], i), w1[i], 5e-9);
        assert_near(gg_value_at(p[1], i), w2[i], 5e-9);
    }
    assert_int_equal(gg_forward(g, e), 0);
    assert_near(gg_value(e), 0.023236338872291772, 1e-12);
    gg_optimizer_free(opt);
    gg_mlp_free(m);
    gg_graph_free(g);
}

/* Adam over parameters of awkward sizes (one element, a block and one
 * short, a block and one over, many blocks, and small ones that make up
 * bundles) gives the same bits on 1, 2, 3 and 7 threads: the threads deal
 * the blocks and bundles out among themselves. */
static void optimizer_threads_bitwise(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 4095, 4097, 70001, 3000, 3000, 3000};
    enum { NP = 7 };
    float *ref[NP] = {0};
    int saved = gg_num_threads();
    static const int threads[] = {1, 2, 3, 7};
    for (size_t run = 0; run < 4; run++) {
        assert_int_equal(gg_set_num_threads(threads[run]), 0);
        gg_graph *g = gg_graph_new();
        gg_node *p[NP];
        for (int i = 0; i < NP; i++) {
            p[i] = gg_tensor(g, GG_F32, 1, &sizes[i], NULL);
            assert_non_null(p[i]);
        }
        gg_opt_config cfg = gg_opt_defaults(GG_OPT_ADAM);
        gg_optimizer *opt = gg_optimizer_new(&cfg, p, NP, NULL);
        assert_non_null(opt);
        for (int step = 0; step < 3; step++) {
            for (int i = 0; i < NP; i++) {
                float *gr = gg_grad_data(p[i]);
                for (int64_t j = 0; j < sizes[i]; j++)
                    gr[j] = (float)sin(0.37 * (double)(j + 11 * i + 101 * step));
            }
            gg_optimizer_step(opt);
        }
        for (int i = 0; i < NP; i++) {
            const float *w = gg_data(p[i]);
            if (run == 0) {
                ref[i] = malloc((size_t)sizes[i] * sizeof(float));
                assert_non_null(ref[i]);
                memcpy(ref[i], w, (size_t)sizes[i] * sizeof(float));
                for (int64_t j = 0; j < sizes[i]; j++)
                    assert_true(w[j] != 0); /* every element was updated */
            } else {
                assert_memory_equal(w, ref[i], (size_t)sizes[i] * sizeof(float));
            }
        }
        gg_optimizer_free(opt);
        gg_graph_free(g);
    }
    for (int i = 0; i < NP; i++)
        free(ref[i]);
    assert_int_equal(gg_set_num_threads(saved), 0);
}

/* §7 (seed 000): linear 2-2-1, input [2, 3], target 1, learning rate 0.05. */
static void linear_step_section7(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, "2-2-1:linear:nobias", 1, 1, &x);
    gg_set_data(g, x, (double[]){2, 3});
    set(g, "fc1.weight", (double[]){0.11, 0.12, 0.21, 0.08});
    set(g, "fc2.weight", (double[]){0.14, 0.15});
    gg_node *t = gg_input(g, GG_F64, 2, (int64_t[]){1, 1}, (double[]){1});
    gg_node *e = gg_half_sse_loss(g, gg_mlp_output(m), t);
    assert_int_equal(gg_forward(g, e), 0);
    assert_near(gg_value(gg_mlp_output(m)), 0.191, TOL);
    assert_near(gg_value(e), 0.3272405, TOL);
    size_t n;
    gg_node *const *p = gg_mlp_params(m, &n);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_SGD);
    cfg.lr = 0.05;
    gg_optimizer *opt = gg_optimizer_new(&cfg, p, n, NULL);
    gg_optimizer_zero_grad(opt);
    assert_int_equal(gg_backward(g, e), 0);
    gg_optimizer_step(opt);
    assert_near(gg_value_at(p[1], 0), 0.1743825, TOL);
    assert_near(gg_value_at(p[1], 1), 0.169416, TOL);
    assert_near(gg_value_at(p[0], 0), 0.121326, TOL);  /* i1 -> h1 */
    assert_near(gg_value_at(p[0], 2), 0.226989, TOL);  /* i2 -> h1 */
    assert_near(gg_value_at(p[0], 1), 0.132135, TOL);  /* i1 -> h2 */
    assert_near(gg_value_at(p[0], 3), 0.0982025, TOL); /* i2 -> h2 */

    /* Gradients gg_zero_grad_lazy left read as zero to the next step. */
    double w0[4], w1[2];
    for (size_t i = 0; i < 4; i++)
        w0[i] = gg_value_at(p[0], i);
    for (size_t i = 0; i < 2; i++)
        w1[i] = gg_value_at(p[1], i);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gg_zero_grad_lazy(g, p[i]), 0);
    gg_optimizer_step(opt);
    for (size_t i = 0; i < 4; i++)
        assert_true(gg_value_at(p[0], i) == w0[i]);
    for (size_t i = 0; i < 2; i++)
        assert_true(gg_value_at(p[1], i) == w1[i]);
    gg_optimizer_free(opt);
    gg_mlp_free(m);
    gg_graph_free(g);
}

/* §8: step perceptrons for AND, OR, NAND over the four inputs at once, and
 * the hand-wired 2-2-1 XOR = AND(OR, NAND). */
static void perceptrons_section8(void **state)
{
    (void)state;
    double inputs[] = {0, 0, 0, 1, 1, 0, 1, 1};
    struct { double w[2], b; double truth[4]; } gates[] = {
        {{1, 1}, -1.5, {0, 0, 0, 1}},  /* AND */
        {{1, 1}, -0.5, {0, 1, 1, 1}},  /* OR */
        {{-1, -1}, 1.5, {1, 1, 1, 0}}, /* NAND */
    };
    for (size_t k = 0; k < 3; k++) {
        gg_graph *g = gg_graph_new();
        gg_node *x;
        gg_mlp *m = model(g, "2-1:linear:out=step", 4, 1, &x);
        gg_set_data(g, x, inputs);
        set(g, "fc1.weight", gates[k].w);
        set(g, "fc1.bias", &gates[k].b);
        assert_int_equal(gg_forward(g, gg_mlp_output(m)), 0);
        for (size_t i = 0; i < 4; i++)
            assert_near(gg_value_at(gg_mlp_output(m), i), gates[k].truth[i], 0);
        gg_mlp_free(m);
        gg_graph_free(g);
    }
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, "2-2-1:step:out=step", 4, 1, &x);
    gg_set_data(g, x, inputs);
    set(g, "fc1.weight", (double[]){1, -1, 1, -1}); /* h1 = OR, h2 = NAND */
    set(g, "fc1.bias", (double[]){-0.5, 1.5});
    set(g, "fc2.weight", (double[]){1, 1});         /* y = AND(h1, h2) */
    set(g, "fc2.bias", (double[]){-1.5});
    gg_node *t = gg_input(g, GG_F64, 2, (int64_t[]){4, 1}, (double[]){0, 1, 1, 0});
    gg_node *e = gg_half_sse_loss(g, gg_mlp_output(m), t);
    assert_int_equal(gg_forward(g, e), 0);
    assert_near(gg_value(e), 0, 0);
    /* The step passes no gradient: a perceptron cannot learn by backprop. */
    gg_set_data(g, t, (double[]){1, 0, 0, 1});
    assert_int_equal(gg_forward(g, e), 0);
    assert_int_equal(gg_backward(g, e), 0);
    assert_near(gg_value(e), 2, 0);
    for (size_t i = 0; i < 4; i++)
        assert_near(gg_grad_at(gg_find(g, "fc1.weight"), i), 0, 0);
    assert_string_equal(gg_gate_name(gg_mlp_output(m)), "step");
    gg_mlp_free(m);
    gg_graph_free(g);
}

/* ---- Checkpoints ------------------------------------------------------------------ */

static char tmpdir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gg-nn-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

static void checkpoint_round_trip(void **state)
{
    (void)state;
    char path[128], err[GG_ERRLEN];
    snprintf(path, sizeof path, "%s/a.safetensors", tmpdir);
    gg_graph *g = gg_graph_new(), *g2 = gg_graph_new();
    gg_node *x, *x2;
    gg_mlp *a = model(g, "5-7-3:tanh:dropout=0.5", 2, 11, &x);
    gg_mlp *b = model(g2, "5-7-3:tanh:dropout=0.5", 2, 12, &x2);
    const char *meta[] = {"epochs", "3", NULL};
    assert_int_equal(gg_mlp_save(a, path, meta, err), 0);
    assert_int_equal(gg_mlp_load(b, path, err), 0);
    size_t n;
    gg_node *const *pa = gg_mlp_params(a, &n), *const *pb = gg_mlp_params(b, &n);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(gg_data(pa[i]), gg_data(pb[i]), gg_numel(pa[i]) * sizeof(double));
    gg_mlp_spec s;
    assert_int_equal(gg_mlp_read_spec(path, &s, err), 0);
    char buf[128];
    assert_string_equal(gg_mlp_spec_format(&s, buf, sizeof buf), "5-7-3:tanh:dropout=0.5");
    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(path, &f, err), 0);
    assert_string_equal(gg_safetensors_meta(f, "epochs"), "3");
    assert_int_equal(gg_safetensors_count(f), 4);
    assert_string_equal(gg_safetensors_meta(f, "gategrad.layout"), "2");
    gg_safetensors_close(f);
    gg_mlp_free(a), gg_mlp_free(b);
    gg_graph_free(g), gg_graph_free(g2);
}

static void checkpoint_mismatch_errors(void **state)
{
    (void)state;
    char path[128], err[GG_ERRLEN];
    snprintf(path, sizeof path, "%s/b.safetensors", tmpdir);
    gg_graph *g = gg_graph_new(), *g2 = gg_graph_new(), *g3 = gg_graph_new();
    gg_node *x;
    gg_mlp *a = model(g, "6-9-4", 1, 1, &x);
    gg_mlp *b = model(g2, "6-8-4", 1, 1, &x);
    gg_mlp *c = model(g3, "6-9-4:relu:nobias", 1, 1, &x);
    assert_int_equal(gg_mlp_save(a, path, NULL, err), 0);
    assert_int_not_equal(gg_mlp_load(b, path, err), 0);
    assert_contains(err, "fc1.weight");
    assert_contains(err, "expected [8, 6], found [9, 6]"); /* [out, in] in the file */
    assert_int_not_equal(gg_mlp_load(c, path, err), 0); /* the biases are extra */
    assert_contains(err, "fc1.bias");
    gg_mlp_spec s;
    assert_int_not_equal(gg_mlp_read_spec("/nonexistent/x.safetensors", &s, err), 0);
    assert_contains(err, "/nonexistent/x.safetensors");
    gg_tensor_ref t = {.name = "w", .dtype = GG_F32, .rank = 1, .dims = {1}, .data = (float[]){1}};
    assert_int_equal(gg_safetensors_save(path, &t, 1, NULL, err), 0);
    assert_int_not_equal(gg_mlp_read_spec(path, &s, err), 0);
    assert_contains(err, "not a gategrad model checkpoint");
    gg_mlp_free(a), gg_mlp_free(b), gg_mlp_free(c);
    gg_graph_free(g), gg_graph_free(g2), gg_graph_free(g3);
}

/* A save that fails half-way (simulated write error) leaves the previous
 * checkpoint as it was and no temporary file behind. */
static void interrupted_save_keeps_old(void **state)
{
    (void)state;
    char path[128], err[GG_ERRLEN];
    snprintf(path, sizeof path, "%s/c.safetensors", tmpdir);
    gg_graph *g = gg_graph_new(), *g2 = gg_graph_new();
    gg_node *x;
    gg_mlp *a = model(g, "3-4-2", 1, 1, &x);
    gg_mlp *b = model(g2, "3-4-2", 1, 2, &x);
    assert_int_equal(gg_mlp_save(a, path, NULL, err), 0);
    for (long at = 1; at <= 4; at++) {
        ggi_atomic_fail_at = at;
        assert_int_not_equal(gg_mlp_save(b, path, NULL, err), 0);
        ggi_atomic_fail_at = 0;
        gg_graph *g3 = gg_graph_new();
        gg_mlp *c = model(g3, "3-4-2", 1, 3, &x);
        assert_int_equal(gg_mlp_load(c, path, err), 0);
        assert_memory_equal(gg_data(gg_find(g3, "fc1.weight")), gg_data(gg_find(g, "fc1.weight")),
                            12 * sizeof(double));
        gg_mlp_free(c);
        gg_graph_free(g3);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", tmpdir);
    assert_int_not_equal(system(cmd), 0);
    gg_mlp_free(a), gg_mlp_free(b);
    gg_graph_free(g), gg_graph_free(g2);
}

/* The file keeps fcI.weight as torch.nn.Linear does, [out, in]: element
 * [o][i] of the file is element [i][o] of the graph's W. */
static void checkpoint_torch_layout(void **state)
{
    (void)state;
    char path[128], err[GG_ERRLEN];
    snprintf(path, sizeof path, "%s/t.safetensors", tmpdir);
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *a = model(g, "3-2-4:tanh", 1, 5, &x);
    assert_int_equal(gg_mlp_save(a, path, NULL, err), 0);
    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(path, &f, err), 0);
    size_t i;
    gg_safetensors_info info;
    assert_int_equal(gg_safetensors_find(f, "fc1.weight", &i), 0);
    assert_int_equal(gg_safetensors_tensor(f, i, &info), 0);
    assert_int_equal(info.rank, 2);
    assert_int_equal(info.dims[0], 2);
    assert_int_equal(info.dims[1], 3);
    double w[6];
    gg_tensor_ref t = {.name = "fc1.weight", .dtype = GG_F64, .rank = 2, .dims = {2, 3}, .data = w};
    assert_int_equal(gg_safetensors_read(f, &t, err), 0);
    gg_node *w1 = gg_find(g, "fc1.weight");
    for (int o = 0; o < 2; o++)
        for (int in = 0; in < 3; in++)
            assert_true(w[o * 3 + in] == gg_value_at(w1, (size_t)(in * 2 + o)));
    gg_safetensors_close(f);
    gg_mlp_free(a);
    gg_graph_free(g);
}

/* A checkpoint of the first layout (fcI.weight [in, out], no
 * "gategrad.layout") loads into the same values; a file without gategrad's
 * keys (as PyTorch writes) is read as [out, in]; an unknown layout is
 * refused. */
static void checkpoint_old_and_foreign_files(void **state)
{
    (void)state;
    char path[128], err[GG_ERRLEN];
    snprintf(path, sizeof path, "%s/old.safetensors", tmpdir);
    double w1[6] = {1, 2, 3, 4, 5, 6}, b1[2] = {0.5, -0.5}; /* [in 3, out 2] */
    double w1t[6] = {1, 3, 5, 2, 4, 6};                     /* [out 2, in 3] */
    gg_tensor_ref t[2] = {
        {.name = "fc1.weight", .dtype = GG_F64, .rank = 2, .dims = {3, 2}, .data = w1},
        {.name = "fc1.bias", .dtype = GG_F64, .rank = 1, .dims = {2}, .data = b1},
    };
    const char *meta[] = {"gategrad.spec", "3-2:relu", NULL};
    assert_int_equal(gg_safetensors_save(path, t, 2, meta, err), 0);
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *a = model(g, "3-2", 1, 9, &x);
    assert_int_equal(gg_mlp_load(a, path, err), 0);
    gg_node *w = gg_find(g, "fc1.weight");
    for (size_t i = 0; i < 6; i++)
        assert_true(gg_value_at(w, i) == w1[i]);
    assert_true(gg_value_at(gg_find(g, "fc1.bias"), 1) == -0.5);

    t[0].dims[0] = 2, t[0].dims[1] = 3, t[0].data = w1t; /* PyTorch's file: no metadata */
    assert_int_equal(gg_safetensors_save(path, t, 2, (const char *[]){"format", "pt", NULL}, err), 0);
    gg_graph *g2 = gg_graph_new();
    gg_mlp *b = model(g2, "3-2", 1, 9, &x);
    assert_int_equal(gg_mlp_load(b, path, err), 0);
    gg_node *wb = gg_mlp_params(b, &(size_t){0})[0];
    for (size_t i = 0; i < 6; i++)
        assert_true(gg_value_at(wb, i) == w1[i]);

    assert_int_equal(gg_safetensors_save(path, t, 2, (const char *[]){"gategrad.layout", "3", NULL}, err), 0);
    assert_int_not_equal(gg_mlp_load(b, path, err), 0);
    assert_contains(err, "layout \"3\"");
    gg_mlp_free(a), gg_mlp_free(b);
    gg_graph_free(g), gg_graph_free(g2);
}

/* ---- Batch normalization, PReLU, maxout ------------------------------------------- */

static void expect_gradcheck(gg_graph *g, gg_node *root)
{
    gg_gradcheck_result r;
    int rc = gg_gradcheck(g, root, NULL, 0, 1e-6, 1e-6, &r);
    if (rc != 0)
        fail_msg("gradcheck rc=%d (%s): %zu/%zu failures, worst |err| %g: analytic %.12g numeric %.12g", rc,
                 gg_error(g) ? gg_error(g) : "", r.failures, r.checked, r.max_abs_err, r.worst_analytic,
                 r.worst_numeric);
    assert_true(r.checked > 0);
}

typedef struct bn_parts {
    gg_node *x, *gamma, *beta, *rm, *rv, *rows, *mode, *y;
} bn_parts;

/* batch_norm over x [b, f] with every input given; recorded in eval mode
 * (recording runs a forward), then switched to mode. */
static bn_parts bn_graph(gg_graph *g, int64_t b, int64_t f, const double *x, const double *gamma,
                         const double *beta, const double *rm, const double *rv, const double *rows, double mode)
{
    bn_parts p;
    p.x = gg_tensor(g, GG_F64, 2, (int64_t[]){b, f}, x);
    p.gamma = gg_tensor(g, GG_F64, 1, &f, gamma);
    p.beta = gg_tensor(g, GG_F64, 1, &f, beta);
    p.rm = gg_input(g, GG_F64, 1, &f, rm);
    p.rv = gg_input(g, GG_F64, 1, &f, rv);
    p.rows = gg_input(g, GG_F64, 1, &b, rows);
    p.mode = gg_input(g, GG_F64, 1, (int64_t[]){1}, (double[]){0});
    p.y = gg_batch_norm(g, p.x, p.gamma, p.beta, p.rm, p.rv, p.rows, p.mode, 1e-5, 0.1);
    assert_non_null(p.y);
    assert_int_equal(gg_set_data(g, p.mode, &mode), 0);
    return p;
}

/* Two counted rows 1 and 3 and a padded 100: mean 2, variance 1 (unbiased
 * 2); y = 2 (x - 2) / sqrt(1 + 1e-5) + 0.5 for all three; the running
 * statistics move 0.1 of the way: 0.2 and 1.1. Evaluation then uses them. */
static void bn_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    bn_parts p = bn_graph(g, 3, 1, (double[]){1, 3, 100}, (double[]){2}, (double[]){0.5}, (double[]){0},
                          (double[]){1}, (double[]){0, 1, -1}, 1);
    assert_int_equal(gg_forward(g, p.y), 0);
    double s = sqrt(1 + 1e-5);
    assert_near(gg_value_at(p.y, 0), 2 * -1 / s + 0.5, TOL);
    assert_near(gg_value_at(p.y, 1), 2 * 1 / s + 0.5, TOL);
    assert_near(gg_value_at(p.y, 2), 2 * 98 / s + 0.5, 1e-7);
    assert_near(gg_value_at(p.rm, 0), 0.2, TOL);
    assert_near(gg_value_at(p.rv, 0), 1.1, TOL);
    assert_int_equal(gg_set_data(g, p.mode, (double[]){0}), 0);
    assert_int_equal(gg_forward(g, p.y), 0);
    assert_near(gg_value_at(p.y, 1), 2 * (3 - 0.2) / sqrt(1.1 + 1e-5) + 0.5, TOL);
    assert_near(gg_value_at(p.rm, 0), 0.2, TOL); /* eval leaves them */
    /* In training, the gradient of y0 + y1 (the counted rows) is 0 for
     * every x (the mean absorbs a shift, and y0 + y1 = 2 beta), and that of
     * the padded y2 reaches x2 as gamma / std. */
    assert_int_equal(gg_set_data(g, p.mode, (double[]){1}), 0);
    gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){3, 1}, (double[]){1, 1, 0});
    gg_node *loss = gg_sum(g, gg_mul(g, p.y, w));
    assert_int_equal(gg_forward(g, loss), 0);
    assert_int_equal(gg_backward(g, loss), 0);
    for (size_t k = 0; k < 3; k++)
        assert_near(gg_grad_at(p.x, k), 0, TOL);
    assert_near(gg_grad_at(p.beta, 0), 2, TOL);
    assert_near(gg_grad_at(p.gamma, 0), 0, TOL); /* xh0 + xh1 = 0 */
    gg_zero_grad(g);
    assert_int_equal(gg_set_data(g, w, (double[]){0, 0, 1}), 0);
    assert_int_equal(gg_forward(g, loss), 0);
    assert_int_equal(gg_backward(g, loss), 0);
    assert_near(gg_grad_at(p.x, 2), 2 / s, TOL);
    assert_near(gg_grad_at(p.gamma, 0), 98 / s, 1e-7);
    gg_graph_free(g);
}

#define BN_CASE(name)                                                                                  \
    {bn_##name##_training, bn_##name##_x, bn_##name##_gamma, bn_##name##_beta, bn_##name##_rm0,         \
     bn_##name##_rv0, bn_##name##_w, bn_##name##_rows, bn_##name##_out, bn_##name##_dx,                 \
     bn_##name##_dgamma, bn_##name##_dbeta, bn_##name##_rm, bn_##name##_rv}

/* torch.nn.BatchNorm1d's numbers (tests/fixtures/torch_bn.h) in training,
 * in training with two rows left out, and in evaluation; then gradcheck. */
static void bn_matches_torch(void **state)
{
    (void)state;
    struct {
        int training;
        const double *x, *gamma, *beta, *rm0, *rv0, *w, *rows, *out, *dx, *dgamma, *dbeta, *rm, *rv;
    } cases[] = {BN_CASE(train), BN_CASE(train_rows), BN_CASE(eval)};
    for (size_t c = 0; c < 3; c++) {
        gg_graph *g = gg_graph_new();
        bn_parts p = bn_graph(g, 5, 3, cases[c].x, cases[c].gamma, cases[c].beta, cases[c].rm0, cases[c].rv0,
                              cases[c].rows, cases[c].training);
        gg_node *w = gg_input(g, GG_F64, 2, (int64_t[]){5, 3}, cases[c].w);
        gg_node *loss = gg_sum(g, gg_mul(g, p.y, w));
        assert_int_equal(gg_forward(g, loss), 0);
        assert_int_equal(gg_backward(g, loss), 0);
        for (size_t k = 0; k < 15; k++) {
            assert_near(gg_value_at(p.y, k), cases[c].out[k], 1e-12);
            assert_near(gg_grad_at(p.x, k), cases[c].dx[k], 1e-12);
        }
        for (size_t k = 0; k < 3; k++) {
            assert_near(gg_grad_at(p.gamma, k), cases[c].dgamma[k], 1e-12);
            assert_near(gg_grad_at(p.beta, k), cases[c].dbeta[k], 1e-12);
            assert_near(gg_value_at(p.rm, k), cases[c].rm[k], 1e-12);
            assert_near(gg_value_at(p.rv, k), cases[c].rv[k], 1e-12);
        }
        expect_gradcheck(g, loss);
        gg_graph_free(g);
    }
}

/* Shapes and parameters batch_norm refuses, with the message. */
static void bn_errors(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){4, 3}, NULL);
    gg_node *v3 = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, NULL), *c3 = gg_input(g, GG_F64, 1, (int64_t[]){3}, NULL);
    gg_node *r4 = gg_input(g, GG_F64, 1, (int64_t[]){4}, NULL), *mode = gg_input(g, GG_F64, 1, (int64_t[]){1}, NULL);
    assert_null(gg_batch_norm(g, x, v3, v3, c3, c3, c3, mode, 1e-5, 0.1));
    assert_contains(gg_error(g), "batch_norm: x [4,3], gamma [3], beta [3], running_mean [3], running_var [3], rows [3]");
    gg_graph_free(g);
    g = gg_graph_new();
    x = gg_tensor(g, GG_F64, 2, (int64_t[]){4, 3}, NULL);
    v3 = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, NULL), c3 = gg_input(g, GG_F64, 1, (int64_t[]){3}, NULL);
    r4 = gg_input(g, GG_F64, 1, (int64_t[]){4}, NULL), mode = gg_input(g, GG_F64, 1, (int64_t[]){1}, NULL);
    assert_null(gg_batch_norm(g, x, v3, v3, c3, c3, r4, mode, 0, 0.1));
    assert_contains(gg_error(g), "eps 0 must be > 0");
    gg_graph_free(g);
    g = gg_graph_new();
    x = gg_tensor(g, GG_F64, 2, (int64_t[]){4, 3}, NULL);
    v3 = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, NULL), c3 = gg_input(g, GG_F64, 1, (int64_t[]){3}, NULL);
    r4 = gg_input(g, GG_F64, 1, (int64_t[]){4}, NULL), mode = gg_input(g, GG_F64, 1, (int64_t[]){1}, NULL);
    assert_null(gg_batch_norm(g, x, v3, v3, v3, c3, r4, mode, 1e-5, 0.1));
    assert_contains(gg_error(g), "running statistics must be constants");
    gg_graph_free(g);
}

static void fill_uniform(gg_node *n, gg_rng *r, double lo, double hi)
{
    double *p = gg_data(n);
    for (size_t i = 0; i < gg_numel(n); i++)
        p[i] = lo + (hi - lo) * gg_rng_uniform(r);
}

/* sum(out * w) of a model over random inputs, checked by finite differences
 * through every parameter (training mode for :bn). */
static void model_gradcheck(const char *spec, int training)
{
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, spec, 6, 3, &x);
    gg_rng r;
    gg_rng_seed(&r, 21);
    fill_uniform(x, &r, -2, 2);
    gg_mlp_set_training(m, training);
    int64_t d[GG_MAX_DIMS];
    gg_shape(gg_mlp_output(m), d);
    gg_node *w = gg_input(g, GG_F64, 2, d, NULL);
    fill_uniform(w, &r, -1, 1);
    gg_node *loss = gg_sum(g, gg_mul(g, gg_mlp_output(m), w));
    assert_int_equal(gg_forward(g, loss), 0);
    expect_gradcheck(g, loss);
    gg_mlp_free(m);
    gg_graph_free(g);
}

static void layers_gradcheck(void **state)
{
    (void)state;
    model_gradcheck("3-5-4-2:prelu", 0);
    model_gradcheck("3-5-4-2:relu:maxout=3", 0);
    model_gradcheck("3-5-4-2:tanh:bn", 1);
    model_gradcheck("3-5-4-2:tanh:bn", 0);
    model_gradcheck("3-4-2:prelu:bn:maxout=2", 1);
}

/* PReLU and maxout by hand: 2-2-1:prelu with W1 = I, x = (1, -2): hidden
 * (1, -0.5), out 0.5; 1-2-1:maxout=2 with pieces (1, -1 | 2, 3): x = 2 gives
 * units (2, 6), x = -1 gives (1, -2). */
static void prelu_maxout_by_hand(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *x;
    gg_mlp *m = model(g, "2-2-1:prelu:nobias", 1, 1, &x);
    assert_near(gg_value_at(gg_find(g, "prelu1.weight"), 1), 0.25, 0);
    set(g, "fc1.weight", (double[]){1, 0, 0, 1});
    set(g, "fc2.weight", (double[]){1, 1});
    set(g, "prelu1.weight", (double[]){0.25, 0.25});
    assert_int_equal(gg_set_data(g, x, (double[]){1, -2}), 0);
    assert_int_equal(gg_forward(g, gg_mlp_output(m)), 0);
    assert_near(gg_value(gg_mlp_output(m)), 0.5, TOL);
    gg_mlp_free(m);
    gg_graph_free(g);

    g = gg_graph_new();
    m = model(g, "1-2-1:maxout=2:nobias", 1, 1, &x);
    int64_t d[GG_MAX_DIMS];
    assert_int_equal(gg_shape(gg_find(g, "fc1.weight"), d), 2);
    assert_true(d[0] == 1 && d[1] == 4); /* [in, K * out] in the graph */
    set(g, "fc1.weight", (double[]){1, -1, 2, 3});
    set(g, "fc2.weight", (double[]){1, 10});
    assert_int_equal(gg_set_data(g, x, (double[]){2}), 0);
    assert_int_equal(gg_forward(g, gg_mlp_output(m)), 0);
    assert_near(gg_value(gg_mlp_output(m)), 2 + 60, TOL);
    assert_int_equal(gg_set_data(g, x, (double[]){-1}), 0);
    assert_int_equal(gg_forward(g, gg_mlp_output(m)), 0);
    assert_near(gg_value(gg_mlp_output(m)), 1 - 20, TOL);
    gg_mlp_free(m);
    gg_graph_free(g);
}

/* The new layers' names and shapes in a checkpoint (PyTorch's), their
 * summary rows, and a round trip of the running statistics. */
static void layers_in_checkpoints_and_summary(void **state)
{
    (void)state;
    char path[128], err[GG_ERRLEN];
    snprintf(path, sizeof path, "%s/layers.safetensors", tmpdir);
    gg_graph *g = gg_graph_new(), *g2 = gg_graph_new();
    gg_node *x, *x2;
    gg_mlp *a = model(g, "4-3-2:prelu:bn:maxout=2", 2, 1, &x);
    set(g, "bn1.running_mean", (double[]){1, 2, 3, 4, 5, 6});
    assert_int_equal(gg_mlp_save(a, path, NULL, err), 0);
    gg_safetensors *f;
    assert_int_equal(gg_safetensors_open(path, &f, err), 0);
    const char *names[] = {"fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean",
                           "bn1.running_var", "fc2.weight", "fc2.bias"};
    const int64_t dims[][2] = {{6, 4}, {6, 0}, {6, 0}, {6, 0}, {6, 0}, {6, 0}, {2, 3}, {2, 0}};
    assert_int_equal(gg_safetensors_count(f), 8); /* maxout: no prelu slopes */
    for (size_t k = 0; k < 8; k++) {
        size_t i;
        gg_safetensors_info info;
        assert_int_equal(gg_safetensors_find(f, names[k], &i), 0);
        assert_int_equal(gg_safetensors_tensor(f, i, &info), 0);
        assert_int_equal(info.dims[0], dims[k][0]);
        if (dims[k][1])
            assert_int_equal(info.dims[1], dims[k][1]);
        else
            assert_int_equal(info.rank, 1);
    }
    gg_safetensors_close(f);
    gg_mlp *b = model(g2, "4-3-2:prelu:bn:maxout=2", 2, 2, &x2);
    assert_int_equal(gg_mlp_load(b, path, err), 0);
    assert_near(gg_value_at(gg_find(g2, "bn1.running_mean"), 5), 6, 0);
    gg_mlp_free(a), gg_mlp_free(b);
    gg_graph_free(g), gg_graph_free(g2);

    char *s = summary_text("4-3-2:relu:bn");
    assert_contains(s, " bn1 (BatchNormalization)    (None, 3)                 12\n");
    assert_contains(s, "Total params: 35\nTrainable params: 29\nNon-trainable params: 6\n");
    free(s);
    s = summary_text("4-3-2:prelu");
    assert_contains(s, " prelu1 (PReLU)              (None, 3)                 3\n");
    assert_contains(s, "Total params: 26\n");
    free(s);
    s = summary_text("4-3-2:maxout=2");
    assert_contains(s, " fc1 (Dense)                 (None, 6)                 30\n");
    assert_contains(s, " fc1.maxout (Maxout)         (None, 3)                 0\n");
    free(s);
    gg_mlp_spec sp;
    assert_int_not_equal(gg_mlp_spec_parse("4-3-2:maxout=1", &sp, err), 0);
    assert_int_equal(gg_mlp_spec_parse("4-3-2:tanh:bn:maxout=4", &sp, err), 0);
    char buf[64];
    assert_string_equal(gg_mlp_spec_format(&sp, buf, sizeof buf), "4-3-2:tanh:bn:maxout=4");
}

/* Predictions as CSV, to a stream and atomically to a file (an old file
 * stays whole when the save fails). */
static void predictions_csv(void **state)
{
    (void)state;
    const float probs[6] = {0.25f, 0.75f, 0.5f, 0.5f, 1, 0};
    const char want[] = "class,p0,p1\n1,0.25,0.75\n0,0.5,0.5\n0,1,0\n";
    char *buf = NULL, err[GG_ERRLEN];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(gg_predictions_write(f, probs, 3, 2, err), 0);
    fclose(f);
    assert_string_equal(buf, want);
    free(buf);
    char path[] = "/tmp/gg_pred_XXXXXX.csv";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(gg_predictions_save(path, probs, 3, 2, err), 0);
    FILE *r = fopen(path, "rb");
    char got[128] = "";
    assert_int_equal(fread(got, 1, sizeof got - 1, r), strlen(want));
    fclose(r);
    assert_string_equal(got, want);
    ggi_atomic_fail_at = 4; /* a write fails */
    assert_int_not_equal(gg_predictions_save(path, probs, 1, 2, err), 0);
    ggi_atomic_fail_at = 0;
    assert_contains(err, path);
    r = fopen(path, "rb");
    memset(got, 0, sizeof got);
    assert_int_equal(fread(got, 1, sizeof got - 1, r), strlen(want));
    fclose(r);
    assert_string_equal(got, want);
    assert_int_not_equal(gg_predictions_write(stdout, probs, 1, 0, err), 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(predictions_csv),
        cmocka_unit_test(spec_round_trip),
        cmocka_unit_test(spec_errors),
        cmocka_unit_test(summary_counts),
        cmocka_unit_test(build_names_and_counts),
        cmocka_unit_test(init_is_seeded),
        cmocka_unit_test(dropout_modes),
        cmocka_unit_test(softmax_ce_values_and_gradient),
        cmocka_unit_test(softmax_ce_short_and_long_rows),
        cmocka_unit_test(softmax_ce_bits_of_the_row_loop),
        cmocka_unit_test(bce_values_and_gradient),
        cmocka_unit_test(squared_losses),
        cmocka_unit_test(accuracy_metric),
        cmocka_unit_test(backprop_step_section6),
        cmocka_unit_test(linear_step_section7),
        cmocka_unit_test(optimizer_threads_bitwise),
        cmocka_unit_test(perceptrons_section8),
        cmocka_unit_test(checkpoint_round_trip),
        cmocka_unit_test(checkpoint_mismatch_errors),
        cmocka_unit_test(checkpoint_torch_layout),
        cmocka_unit_test(bn_by_hand),
        cmocka_unit_test(bn_matches_torch),
        cmocka_unit_test(bn_errors),
        cmocka_unit_test(layers_gradcheck),
        cmocka_unit_test(prelu_maxout_by_hand),
        cmocka_unit_test(layers_in_checkpoints_and_summary),
        cmocka_unit_test(checkpoint_old_and_foreign_files),
        cmocka_unit_test(interrupted_save_keeps_old),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
