/* test_faults.c - allocation-failure injection (built with
 * -Dfault_injection=true): every scenario is run with its 1st, 2nd, ...
 * allocation failing, until a run completes without reaching the fault.
 * Each failure must come back as a clean error; LeakSanitizer (in the ASan
 * build) checks that none of them leaks. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "base/base.h"
#include "kernels/kernels.h"
#include "gategrad.h"
#include "gategrad/data.h"
#include "gategrad/io.h"
#include "gategrad/nn.h"
#include "gategrad/dist.h"
#include "gategrad/expr.h"
#include "nn/nn.h"

static char dir[64];

/* The distributed setup's allocations: the graph's leaves and gates, the
 * reducer and its copies. */
enum { DIST_POINTS = 8 };

static void path_in_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* A scenario returns 0 and a digest of what it computed (any number that
 * changes when a result does), or non-zero with a message in err. */
typedef int (*scenario_fn)(char *err, size_t errlen, double *digest);

/* What a scenario may do when an allocation fails: only report an error,
 * or also absorb it with a slower path that computes the same (the GEMM's
 * unblocked fallback when a packing workspace cannot be had, one thread
 * when the workers cannot be started). */
typedef enum { ERRORS_ONLY, MAY_ABSORB } absorbing;

/* Kernels keep workspaces and worker threads between calls; each run starts
 * without them, so that their allocations fail in turn too. */
static int run_cold(scenario_fn fn, char *err, size_t errlen, double *digest)
{
    ggk_threads_shutdown();
    ggk_gemm_free_workspaces();
    return fn(err, errlen, digest);
}

/* Runs fn with allocation n failing for n = 1, 2, ... Returns how many
 * failure points were exercised. */
static unsigned long exhaust(const char *name, scenario_fn fn, absorbing may)
{
    char err[GG_ERRLEN] = "";
    double want = 0;
    if (run_cold(fn, err, sizeof err, &want))
        fail_msg("%s: failed with no allocation failing: %s", name, err);
    unsigned long absorbed = 0;
    for (unsigned long n = 1;; n++) {
        double got = NAN;
        err[0] = '\0';
        ggb_fault_arm(n);
        int rc = run_cold(fn, err, sizeof err, &got);
        unsigned long reached = ggb_fault_count();
        ggb_fault_arm(0);
        if (reached < n) {
            if (rc != 0)
                fail_msg("%s: failed with no allocation failing: %s", name, err);
            print_message("%s: %lu allocation-failure points, %lu a clean error, %lu absorbed "
                          "with the same result\n", name, n - 1, n - 1 - absorbed, absorbed);
            return n - 1;
        }
        if (rc == 0) {
            if (may == ERRORS_ONLY)
                fail_msg("%s: allocation %lu failed but the scenario reported success", name, n);
            if (!(fabs(got - want) <= 1e-5 * (1 + fabs(want))))
                fail_msg("%s: allocation %lu failed and was absorbed, but the result is %.9g, not %.9g",
                         name, n, got, want);
            absorbed++;
            continue;
        }
        if (!err[0])
            fail_msg("%s: allocation %lu failed without an error message", name, n);
    }
}

static int graph_error(gg_graph *g, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", g && gg_error(g) ? gg_error(g) : "out of memory creating the graph");
    gg_graph_free(g);
    return -1;
}

/* Scalars, tensors, labels, every kind of gate, forward and backward. */
static int build_and_backprop(char *err, size_t errlen, double *digest)
{
    gg_graph *g = gg_graph_new();
    if (!g)
        return graph_error(g, err, errlen);
    gg_node *x = gg_scalar(g, 0.5), *y = gg_scalar(g, -1.5);
    if (!x || gg_set_label(g, x, "x") || gg_set_label(g, y, "y"))
        return graph_error(g, err, errlen);
    gg_node *s = gg_sigmoid(g, gg_add(g, gg_mul(g, x, y), gg_max(g, x, y)));
    gg_node *A = gg_tensor(g, GG_F32, 2, (int64_t[]){64, 300}, NULL);
    gg_node *B = gg_tensor(g, GG_F32, 2, (int64_t[]){300, 40}, NULL);
    gg_node *b = gg_tensor(g, GG_F32, 1, (int64_t[]){40}, NULL);
    gg_node *h = gg_relu(g, gg_add(g, gg_matmul(g, A, B), b));
    gg_node *l = gg_mean(g, gg_log_softmax(g, h));
    for (int i = 0; i < 2000 && s; i++) /* enough nodes to need a second chunk */
        s = gg_add(g, s, x);
    if (!s || !l || gg_backward(g, s) || gg_forward(g, l) || gg_backward(g, l) || gg_forward(g, s))
        return graph_error(g, err, errlen);
    *digest = gg_value(s) + gg_value(l) + gg_grad(x) + gg_grad_at(A, 4321) + gg_grad_at(B, 1234);
    gg_graph_free(g);
    return 0;
}

/* A graph big enough for its nodes to come from two huge-page slabs. */
static int build_big_graph(char *err, size_t errlen, double *digest)
{
    gg_graph *g = gg_graph_new();
    gg_node *x = g ? gg_scalar(g, 0.5) : NULL, *s = x;
    for (int i = 0; i < 80000 && s; i++)
        s = gg_add(g, s, x);
    if (!s || gg_backward(g, s))
        return graph_error(g, err, errlen);
    *digest = gg_grad(x);
    gg_graph_free(g);
    return 0;
}

/* Higher-order gradients: a gradient recorded as a graph, a Hessian-vector
 * product and a dense Hessian, every allocation of the sweep failing in turn
 * (the GEMM's workspaces may be absorbed, as in build_and_backprop). */
static int record_hvp(char *err, size_t errlen, double *digest)
{
    gg_graph *g = gg_graph_new();
    if (!g)
        return graph_error(g, err, errlen);
    gg_node *W = gg_tensor(g, GG_F64, 2, (int64_t[]){3, 2}, (double[]){0.1, -0.2, 0.3, 0.4, -0.5, 0.6});
    gg_node *X = gg_input(g, GG_F64, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, -1, 0.5, 2});
    gg_node *lab = gg_input(g, GG_F64, 1, (int64_t[]){2}, (double[]){1, 0});
    gg_node *l = gg_softmax_cross_entropy(g, gg_tanh(g, gg_matmul(g, X, W)), lab);
    gg_node *v = gg_input(g, GG_F64, 2, (int64_t[]){3, 2}, (double[]){1, 0, 0, 1, 1, 0});
    gg_node *hv, *gr;
    double H[36];
    if (!l || !v || gg_gradient(g, l, 1, &W, &gr) || gg_hvp(g, l, 1, &W, &v, &hv) ||
        gg_hessian(g, l, 1, &W, H, 6))
        return graph_error(g, err, errlen);
    *digest = gg_value_at(gr, 1) + gg_value_at(hv, 2) + H[7];
    gg_graph_free(g);
    return 0;
}

/* A user's gate, x^3, with a recording backward (3 x^2 up). */
static void cube_fwd(void *u, const gg_node *const *in, gg_node *out)
{
    (void)u;
    const double *x = gg_data_const(in[0]);
    double *y = gg_data(out);
    for (size_t i = 0; i < gg_numel(out); i++)
        y[i] = x[i] * x[i] * x[i];
}

static void cube_bwd(void *u, gg_node *const *in, const gg_node *out)
{
    (void)u;
    const double *x = gg_data_const(in[0]), *gy = gg_grad_data_const(out);
    double *gx = gg_grad_data(in[0]);
    for (size_t i = 0; gx && i < gg_numel(out); i++)
        gx[i] += 3 * x[i] * x[i] * gy[i];
}

static int cube_grad(void *u, gg_graph *g, gg_node *const *in, gg_node *out, gg_node *up, gg_node **din)
{
    (void)u, (void)out;
    din[0] = gg_mul(g, up, gg_mul(g, gg_constant(g, GG_F64, 3), gg_mul(g, in[0], in[0])));
    return din[0] ? 0 : -1;
}

static const gg_gate_def cube = {.name = "cube", .rule = "dx = 3x^2 * upstream", .arity = 1,
                                 .forward = cube_fwd, .backward = cube_bwd, .gradient = cube_grad};

/* where, clamp, cast, the axis gates, the shape gates, batch_norm and a
 * custom gate: recorded, run backward, and their gradient recorded as a
 * graph (gg_gradient; gather's records a matmul, whose workspace may be
 * absorbed). */
static int new_gates(char *err, size_t errlen, double *digest)
{
    gg_graph *g = gg_graph_new();
    if (!g)
        return graph_error(g, err, errlen);
    double xv[12], gam[3] = {1, 0.5, 2}, bet[3] = {0, 0.1, -0.1};
    for (int i = 0; i < 12; i++)
        xv[i] = 0.3 * i - 1.4;
    gg_node *x = gg_tensor(g, GG_F64, 2, (int64_t[]){4, 3}, xv);
    gg_node *gamma = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, gam);
    gg_node *beta = gg_tensor(g, GG_F64, 1, (int64_t[]){3}, bet);
    gg_node *rm = gg_input(g, GG_F64, 1, (int64_t[]){3}, NULL);
    gg_node *rv = gg_input(g, GG_F64, 1, (int64_t[]){3}, (double[]){1, 1, 1});
    gg_node *rows = gg_input(g, GG_F64, 1, (int64_t[]){4}, (double[]){0, 1, -1, 2});
    gg_node *mode = gg_constant(g, GG_F64, 1);
    gg_node *bn = gg_batch_norm(g, x, gamma, beta, rm, rv, rows, mode, 1e-5, 0.1);
    gg_node *w = gg_where(g, gg_clamp(g, x, -0.5, 0.5), gg_custom(g, &cube, (gg_node *[]){x}), bn);
    gg_node *c = gg_cast(g, gg_cast(g, w, GG_F32), GG_F64);
    gg_node *sm = gg_softmax_axis(g, c, 0), *mx = gg_max_axis(g, c, 1, 1), *sa = gg_sum_axis(g, sm, 1, 0);
    gg_node *am = gg_argmax_axis(g, c, 1, 0);
    gg_node *parts[2] = {gg_slice(g, c, 0, 1, 3), gg_transpose_axes(g, gg_reshape(g, c, 2, (int64_t[]){3, 4}), 0, 1)};
    gg_node *cat = gg_concat(g, 2, parts, 0);
    gg_node *gath = gg_gather_rows(g, cat, gg_input(g, GG_F64, 1, (int64_t[]){3}, (double[]){0, 5, 2}));
    gg_node *b = gg_broadcast_to(g, mx, 2, (int64_t[]){4, 3});
    gg_node *loss = gg_add(g, gg_add(g, gg_sum(g, gath), gg_mean(g, gg_mul(g, b, c))),
                           gg_add(g, gg_sum(g, sa), gg_mul(g, gg_sum(g, am), gg_constant(g, GG_F64, 0))));
    gg_node *gx;
    if (!loss || gg_backward(g, loss) || gg_gradient(g, loss, 1, &x, &gx))
        return graph_error(g, err, errlen);
    *digest = gg_value(loss) + gg_grad_at(x, 4) + gg_value_at(gx, 7) + gg_grad_at(gamma, 1);
    gg_graph_free(g);
    return 0;
}

/* A loop that rebuilds its expression on top of its parameters every step,
 * truncating the graph back to them (gg_graph_truncate) and reusing the
 * memory; labels on the rebuilt nodes cost allocations every time. */
static int truncate_and_reuse(char *err, size_t errlen, double *digest)
{
    gg_graph *g = gg_graph_new();
    gg_node *w = g ? gg_scalar(g, 0.5) : NULL, *b = w ? gg_scalar(g, -0.25) : NULL;
    if (!b)
        return graph_error(g, err, errlen);
    size_t keep = gg_node_count(g);
    for (int step = 0; step < 4; step++) {
        if (gg_graph_truncate(g, keep))
            return graph_error(g, err, errlen);
        gg_node *y = gg_tanh(g, gg_add(g, gg_mul(g, w, gg_constant(g, GG_F64, step)), b));
        for (int i = 0; i < 300 && y; i++)
            y = gg_add(g, y, gg_mul(g, w, b));
        if (!y || gg_set_label(g, y, "loss") || gg_backward(g, y))
            return graph_error(g, err, errlen);
        gg_set_value(g, w, gg_value(w) - 0.01 * gg_grad(w));
        gg_zero_grad(g);
    }
    *digest = gg_value(w);
    gg_graph_free(g);
    return 0;
}

/* The predictions file is the one make_fixtures wrote, or the new one. */
static void assert_predictions_whole(void)
{
    char out[128];
    path_in_dir(out, sizeof out, "pred.csv");
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    char buf[512] = "";
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_true(!strcmp(buf, "old\n") || (len > 0 && buf[len - 1] == '\n' && !strncmp(buf, "class,p0,", 9)));
}

/* predict --input's rows (an IDX file, gzip, and a CSV) and its output,
 * written atomically over an old file that must stay whole on failure. */
static int predict_output(char *err, size_t errlen, double *digest)
{
    (void)errlen;
    assert_predictions_whole(); /* whatever the previous run's failure */
    char in[128], csv[128], out[128];
    path_in_dir(in, sizeof in, "train-images-idx3-ubyte.gz");
    path_in_dir(csv, sizeof csv, "data.csv");
    path_in_dir(out, sizeof out, "pred.csv");
    float *x = NULL, *rows = NULL;
    size_t n = 0, m = 0;
    if (gg_features_load(in, 4, &x, &n, err))
        return -1;
    int rc = gg_features_load(csv, 2, &rows, &m, err);
    if (!rc)
        rc = gg_predictions_save(out, x, n, 4, err);
    if (!rc)
        *digest = x[3] + rows[5];
    free(x);
    free(rows);
    return rc;
}

static int load_idx(char *err, size_t errlen, double *digest)
{
    (void)errlen, (void)digest;
    gg_dataset train, test;
    if (gg_mnist_load(dir, &train, &test, err))
        return -1;
    gg_dataset_free(&train);
    gg_dataset_free(&test);
    return 0;
}

static int load_csv(char *err, size_t errlen, double *digest)
{
    (void)errlen, (void)digest;
    char path[128];
    gg_dataset d;
    path_in_dir(path, sizeof path, "data.csv");
    if (gg_csv_load(path, -1, &d, err))
        return -1;
    gg_dataset_free(&d);
    return 0;
}

static const float weights[6] = {1, 2, 3, 4, 5, 6};
static const double bias[2] = {0.5, -0.5};

static int save_checkpoint(char *err, size_t errlen, double *digest)
{
    (void)errlen, (void)digest;
    char path[128];
    path_in_dir(path, sizeof path, "model.safetensors");
    gg_tensor_ref t[2] = {
        {.name = "fc.weight", .dtype = GG_F32, .rank = 2, .dims = {2, 3}, .data = (void *)weights},
        {.name = "fc.bias", .dtype = GG_F64, .rank = 1, .dims = {2}, .data = (void *)bias},
    };
    const char *meta[] = {"gategrad.model", "3-2", NULL};
    return gg_safetensors_save(path, t, 2, meta, err);
}

static int load_checkpoint(char *err, size_t errlen, double *digest)
{
    (void)errlen, (void)digest;
    char path[128];
    path_in_dir(path, sizeof path, "model.safetensors");
    float w[6];
    double b[2];
    gg_tensor_ref t[2] = {
        {.name = "fc.weight", .dtype = GG_F32, .rank = 2, .dims = {2, 3}, .data = w},
        {.name = "fc.bias", .dtype = GG_F64, .rank = 1, .dims = {2}, .data = b},
    };
    if (gg_safetensors_load(path, t, 2, 0, err))
        return -1;
    return memcmp(w, weights, sizeof w) || memcmp(b, bias, sizeof b);
}

static void write_file(const char *name, const void *data, size_t size, bool gzip)
{
    char path[128];
    path_in_dir(path, sizeof path, name);
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, data, (unsigned)size), (int)size);
        assert_int_equal(gzclose(f), Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

/* Two 2x2 images with labels, as raw and gzip IDX; a small CSV. */
static int make_fixtures(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gg-faults-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    const unsigned char images[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 64, 128, 255, 1, 2, 3, 4};
    const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 9};
    write_file("train-images-idx3-ubyte.gz", images, sizeof images, true);
    write_file("train-labels-idx1-ubyte", labels, sizeof labels, false);
    write_file("t10k-images-idx3-ubyte", images, sizeof images, false);
    write_file("t10k-labels-idx1-ubyte.gz", labels, sizeof labels, true);
    const char csv[] = "a,b,label\n1,2,0\n3,4,1\n5,6,2\n";
    write_file("data.csv", csv, sizeof csv - 1, false);
    write_file("pred.csv", "old\n", 4, false);
    char err[GG_ERRLEN];
    double digest;
    return save_checkpoint(err, sizeof err, &digest);
}

static int remove_fixtures(void **state)
{
    (void)state;
    const char *names[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte.gz", "data.csv", "model.safetensors", "report.html",
                           "pred.csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[128];
        path_in_dir(path, sizeof path, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

static void file_allocation_failures(void **state)
{
    (void)state;
    exhaust("load IDX files (raw and gzip)", load_idx, ERRORS_ONLY);
    exhaust("load a CSV file", load_csv, ERRORS_ONLY);
    exhaust("load a safetensors checkpoint", load_checkpoint, ERRORS_ONLY);
    /* Saving over the checkpoint with each allocation failing leaves the old
     * file whole: load_checkpoint compares it bit for bit afterwards. */
    exhaust("save a safetensors checkpoint", save_checkpoint, ERRORS_ONLY);
    char err[GG_ERRLEN];
    double digest;
    assert_int_equal(load_checkpoint(err, sizeof err, &digest), 0);
    assert_true(exhaust("read predict's input (IDX gzip, CSV) and write its output", predict_output,
                        ERRORS_ONLY) >= 10);
    assert_predictions_whole();
}

/* The expression language: variables, every operator and function. */
static int parse_expression(char *err, size_t errlen, double *digest)
{
    gg_graph *g = gg_graph_new();
    gg_expr_vars *vars = NULL;
    gg_expr_error e = {0};
    gg_node *root = NULL;
    if (g && gg_expr_vars_add(&vars, g, "x=0.5", &e) == 0 && gg_expr_vars_add(&vars, g, "y=-2", &e) == 0)
        root = gg_expr_build(g, "2 * (x*y + max(x, y)) - sigmoid(x)^2 / abs(min(y, 1)) + log(exp(tanh(relu(-x))) + 1)",
                          vars, &e);
    int rc = root && gg_backward(g, root) == 0 ? 0 : -1;
    if (!rc)
        *digest = gg_value(root) + gg_grad(gg_expr_var_find(vars, "x"));
    if (rc)
        snprintf(err, errlen, "%s", e.message[0] ? e.message : g ? gg_error(g) : "no graph");
    gg_expr_vars_free(vars);
    gg_graph_free(g);
    return rc;
}

/* Generate a small data set, build an MLP classifier, train it one epoch. */
static int train_small_mlp(char *err, size_t errlen, double *digest)
{
    (void)errlen;
    gg_dataset d = {0};
    gg_mlp_spec spec;
    if (gg_playground("xor", 40, 0.1, 3, &d, err) || gg_mlp_spec_parse("2-4-2:tanh:dropout=0.1", &spec, err))
        return -1;
    gg_classifier *c = gg_classifier_new(&spec, 16, 5, err);
    gg_fit_config cfg = {.epochs = 1, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = 1};
    double loss, accuracy;
    int rc = c ? gg_classifier_fit(c, &d, NULL, &cfg, NULL, NULL, err) : -1;
    if (!rc && !(rc = gg_classifier_evaluate(c, &d, &loss, &accuracy, NULL, err)))
        *digest = loss;
    gg_classifier_free(c);
    gg_dataset_free(&d);
    return rc;
}

/* The same, as rank 0 of two ranks in a process that is one rank: the
 * data-parallel path of the fit (the parameters broadcast, the reducer
 * averaging every step's gradients) without a launcher. */
static int train_small_mlp_as_rank(char *err, size_t errlen, double *digest)
{
    (void)errlen;
    gg_dataset d = {0};
    gg_mlp_spec spec;
    if (gg_playground("xor", 40, 0.1, 3, &d, err) || gg_mlp_spec_parse("2-4-2:tanh", &spec, err))
        return -1;
    gg_classifier *c = gg_classifier_new(&spec, 8, 5, err);
    gg_fit_config cfg = {.epochs = 1, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = 1};
    double loss, accuracy;
    int rc = c ? ggn_classifier_fit_ranks(c, &d, NULL, &cfg, NULL, NULL, 0, 2, err) : -1;
    if (!rc && !(rc = gg_classifier_evaluate(c, &d, &loss, &accuracy, NULL, err)))
        *digest = loss;
    gg_classifier_free(c);
    gg_dataset_free(&d);
    return rc;
}

/* The reducer's averaging steps with accumulate = 2: nothing, then the
 * reduction; then one reduction by hand. */
static int reduce_twice(gg_dist_grads *r, double *value, char *err)
{
    int first = gg_dist_grads_step(r, value, err), second = first ? -1 : gg_dist_grads_step(r, value, err);
    if (first < 0 || second < 0)
        return first ? first : second;
    if (second != 1)
        return ggb_errorf(err, "gg_dist_grads_step returned %d then %d, not 0 then 1", first, second);
    return gg_dist_grads_reduce(r, 0.5, value, err);
}

/* The distributed setup of one rank (no launcher; MPI built in or not):
 * init, parameters with gradients broadcast, a reducer over them stepping
 * and reducing, an epoch's shard, freeing. */
static int dist_one_rank(char *err, size_t errlen, double *digest)
{
    if (gg_dist_init(0, err))
        return -1;
    gg_graph *g = gg_graph_new();
    if (!g)
        return graph_error(g, err, errlen);
    /* Elementwise gates: a product would reach the GEMM, whose workspace
     * failures are absorbed (gemm_without_workspace). */
    gg_node *W = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 3}, (double[]){0.1, -0.2, 0.3, 0.4, -0.5, 0.6});
    gg_node *b = gg_tensor(g, GG_F64, 2, (int64_t[]){2, 3}, (double[]){0.05, -0.05, 0, 0.1, 0.2, -0.1});
    gg_node *X = gg_input(g, GG_F64, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, -1, 0.5, 2});
    gg_node *loss = gg_mean(g, gg_sigmoid(g, gg_add(g, gg_mul(g, X, W), b)));
    if (!loss || gg_backward(g, loss))
        return graph_error(g, err, errlen);
    gg_node *params[2] = {W, b};
    gg_dist_grads *r = NULL;
    double value = gg_value(loss);
    int rc = gg_dist_broadcast_params(params, 2, err);
    if (!rc && !(r = gg_dist_grads_new(params, 2, 2, err)))
        rc = -1;
    if (!rc)
        rc = reduce_twice(r, &value, err);
    uint32_t shard[10];
    size_t k = rc ? 0 : gg_dist_shard(10, 4, 7, 1, gg_dist_rank(), gg_dist_size(), shard, err);
    if (!rc && k != 10)
        rc = k ? ggb_errorf(err, "one rank's shard holds %zu of 10 samples", k) : -1;
    if (!rc) {
        *digest = value + gg_grad_at(W, 3) + gg_grad_at(b, 1) + (double)gg_dist_grads_bytes(r);
        for (size_t i = 0; i < k; i++)
            *digest += (double)(shard[i] * (i + 1));
    }
    gg_dist_grads_free(r);
    gg_graph_free(g);
    gg_dist_finalize();
    return rc;
}

/* The stepping page of a small circuit (gg_html), into memory. */
static int html_page(char *err, size_t errlen, double *digest)
{
    gg_expr_vars *vars = NULL;
    gg_expr_error e = {0};
    gg_graph *g = gg_graph_new();
    gg_node *root = NULL;
    if (g && gg_expr_vars_add(&vars, g, "x=0.5", &e) == 0 && gg_expr_vars_add(&vars, g, "y=-2", &e) == 0)
        root = gg_expr_build(g, "q = x*y + x; f = sigmoid(q) * max(x, y)", vars, &e);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = root ? open_memstream(&buf, &len) : NULL;
    int rc = f && gg_html(g, root, f, NULL) == 0 ? 0 : -1;
    if (f)
        fclose(f);
    if (!rc)
        *digest = (double)len + gg_grad(gg_expr_var_find(vars, "x"));
    else
        snprintf(err, errlen, "%s", e.message[0] ? e.message : g ? gg_error(g) : "no graph");
    free(buf);
    gg_expr_vars_free(vars);
    gg_graph_free(g);
    return rc;
}

/* The page of a training run (gg_train_report_html), to a file. */
static int train_report(char *err, size_t errlen, double *digest)
{
    (void)errlen;
    static const double norms[2][2] = {{0.01, 0.5}, {0.02, 0.4}};
    static const float pts[4] = {0, 0, 1, 1}, probs[4 * 2] = {0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f, 0.3f, 0.7f};
    static const int32_t labels[2] = {0, 1};
    gg_report_epoch ep[2] = {{1, 0.7, 0.6, 0.5, 0.01, norms[0], probs}, {2, 0.5, 0.4, 1, 0.01, norms[1], NULL}};
    gg_train_report r = {.data = "xor", .epochs = ep, .nepochs = 2, .nlayers = 2, .test_loss = 0.4,
                         .test_accuracy = 1, .classes = 2, .points = pts, .labels = labels, .npoints = 2};
    gg_train_report_view(&r, 2, NULL);
    char path[128];
    path_in_dir(path, sizeof path, "report.html");
    if (gg_train_report_html(&r, path, err))
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END)) {
        snprintf(err, GG_ERRLEN, "%s: not written", path);
        if (f)
            fclose(f);
        return -1;
    }
    *digest = (double)ftell(f);
    fclose(f);
    return 0;
}

static void parse_and_train_allocation_failures(void **state)
{
    (void)state;
    assert_true(exhaust("parse an expression", parse_expression, ERRORS_ONLY) >= 5);
    assert_true(exhaust("write the stepping page", html_page, ERRORS_ONLY) >= 10);
    assert_true(exhaust("write a training report", train_report, ERRORS_ONLY) >= 2);
    assert_true(exhaust("build and train a small MLP", train_small_mlp, MAY_ABSORB) >= 10);
    assert_true(exhaust("train a small MLP as one of two ranks", train_small_mlp_as_rank, MAY_ABSORB) >= 10);
    assert_true(exhaust("the distributed setup of one rank", dist_one_rank, ERRORS_ONLY) >= DIST_POINTS);
}

/* The promise the README makes for the GEMM: when a packing workspace (or
 * a worker thread) cannot be allocated, the product is still computed, by
 * the unblocked loop, equal to the blocked one up to rounding, and no error
 * is reported. Every allocation of a cold product fails in turn. */
static void gemm_without_workspace(void **state)
{
    (void)state;
    enum { M = 150, N = 130, K = 170 };
    double *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B), *C = malloc(M * N * sizeof *C);
    double *want = malloc(M * N * sizeof *want);
    for (size_t i = 0; i < M * K; i++)
        A[i] = sin(0.1 * (double)i);
    for (size_t i = 0; i < K * N; i++)
        B[i] = cos(0.07 * (double)i);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double acc = 0;
            for (size_t p = 0; p < K; p++)
                acc += A[i * K + p] * B[p * N + j];
            want[i * N + j] = acc;
        }
    unsigned long n = 1;
    for (;; n++) {
        ggk_threads_shutdown();
        ggk_gemm_free_workspaces();
        memset(C, 0, M * N * sizeof *C);
        ggb_fault_arm(n);
        ggk_gemm_f64(0, 0, M, N, K, A, K, B, N, 0, C, N);
        unsigned long reached = ggb_fault_count();
        ggb_fault_arm(0);
        for (size_t i = 0; i < M * N; i++)
            if (!(fabs(C[i] - want[i]) <= 1e-12 * (1 + fabs(want[i]))))
                fail_msg("allocation %lu failed: C[%zu] = %.17g, not %.17g", n, i, C[i], want[i]);
        if (reached < n)
            break;
    }
    print_message("GEMM: %lu allocation-failure points, each absorbed with the same product\n", n - 1);
    assert_true(n - 1 >= 1);
    free(A);
    free(B);
    free(C);
    free(want);
}

static void core_allocation_failures(void **state)
{
    (void)state;
    assert_true(exhaust("build and back-propagate a graph", build_and_backprop, MAY_ABSORB) >= 5);
    assert_true(exhaust("build a graph of 80,000 nodes", build_big_graph, ERRORS_ONLY) >= 36);
    assert_true(exhaust("record a gradient, a Hessian-vector product, a Hessian", record_hvp,
                        MAY_ABSORB) >= 10);
    assert_true(exhaust("where, clamp, cast, axis and shape gates, batch_norm, a custom gate, their "
                        "recorded gradient", new_gates, MAY_ABSORB) >= 10);
    assert_true(exhaust("truncate a graph and rebuild on its memory", truncate_and_reuse, ERRORS_ONLY) >= 4);
}

/* One step of a loop that rebuilds its graph: truncate to the leaves,
 * record 40,000 scalar nodes (past the chunks allocated one by one, into
 * the slabs) and a tensor product, back-propagate. Returns the leaves'
 * gradient sum. */
static double rebuild_step(gg_graph *g, gg_node **leaf, gg_node *w, gg_node *x)
{
    assert_int_equal(gg_graph_truncate(g, 66), 0);
    gg_node *acc = leaf[0];
    for (int k = 0; k < 20000; k++)
        acc = gg_sigmoid(g, gg_add(g, acc, gg_mul(g, leaf[k % 64], leaf[(k * 7) % 64])));
    gg_node *t = gg_sum(g, gg_mul(g, w, x));
    gg_node *root = gg_add(g, acc, t);
    assert_non_null(root);
    assert_int_equal(gg_backward(g, root), 0);
    double sum = 0;
    for (int i = 0; i < 64; i++)
        sum += gg_grad(leaf[i]);
    return sum + gg_grad_at(w, 0);
}

/* A rebuilt graph reuses its node storage and arena: no allocation after
 * the first step, and the same gradients every step. */
static void rebuild_allocates_once(void **state)
{
    (void)state;
    gg_graph *g = gg_graph_new();
    gg_node *leaf[64];
    for (int i = 0; i < 64; i++)
        leaf[i] = gg_scalar(g, 0.01 * i - 0.3);
    static double wv[100000], xv[100000];
    for (int i = 0; i < 100000; i++)
        wv[i] = 0.5, xv[i] = i % 7;
    int64_t dims[1] = {100000}; /* big enough for an arena block of its own */
    gg_node *w = gg_tensor(g, GG_F64, 1, dims, wv), *x = gg_input(g, GG_F64, 1, dims, xv);
    assert_int_equal(gg_node_count(g), 66);
    ggb_fault_arm(0);
    double first = rebuild_step(g, leaf, w, x);
    unsigned long after_first = ggb_fault_count();
    assert_true(after_first > 30); /* the first step did allocate: the count is live */
    for (int step = 1; step < 4; step++) {
        gg_zero_grad(g);
        unsigned long before = ggb_fault_count();
        double sum = rebuild_step(g, leaf, w, x);
        assert_int_equal(ggb_fault_count() - before, 0);
        assert_true(sum == first);
    }
    gg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(core_allocation_failures),
        cmocka_unit_test(gemm_without_workspace),
        cmocka_unit_test(rebuild_allocates_once),
        cmocka_unit_test(file_allocation_failures),
        cmocka_unit_test(parse_and_train_allocation_failures),
    };
    return cmocka_run_group_tests(tests, make_fixtures, remove_fixtures);
}
