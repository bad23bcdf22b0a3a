/* test_threads.c - two classifiers trained on two threads at once, each
 * with the threaded matrix products, give exactly the weights a lone run
 * gives; so do two threads that each record a gradient and a
 * Hessian-vector product as graphs and then train; elementwise gates and
 * the softmax cross-entropy over tensors large enough to be shared among
 * the threads give the bits of one thread (run under ThreadSanitizer in CI
 * to check the threaded paths). */
#include <pthread.h>

#include "testutil.h"

#include "gategrad.h"
#include "gategrad/data.h"
#include "gategrad/higher.h"
#include "gategrad/nn.h"
#include "gategrad/rng.h"
#include "gategrad/threads.h"

typedef struct job {
    const gg_dataset *data;
    uint64_t seed;
    float *weights; /* the trained parameters, concatenated */
    size_t count;
    int rc;
    char err[GG_ERRLEN];
} job;

/* Big enough layers that the products are split across the pool. */
static void *train(void *arg)
{
    job *j = arg;
    gg_mlp_spec spec;
    j->rc = -1;
    if (gg_mlp_spec_parse("2-384-384-2:relu", &spec, j->err))
        return NULL;
    gg_classifier *c = gg_classifier_new(&spec, 128, j->seed, j->err);
    gg_fit_config cfg = {.epochs = 1, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = j->seed};
    if (c && gg_classifier_fit(c, j->data, NULL, &cfg, NULL, NULL, j->err) == 0) {
        size_t n;
        gg_node *const *params = gg_mlp_params(gg_classifier_model(c), &n);
        j->count = 0;
        for (size_t i = 0; i < n; i++)
            j->count += gg_numel(params[i]);
        j->weights = malloc(j->count * sizeof *j->weights);
        for (size_t i = 0, k = 0; j->weights && i < n; k += gg_numel(params[i]), i++)
            memcpy(j->weights + k, gg_data(params[i]), gg_numel(params[i]) * sizeof(float));
        j->rc = j->weights ? 0 : -1;
    }
    gg_classifier_free(c);
    return NULL;
}

/* The elementwise test's leaves: x of an odd shape (its rows do not split
 * evenly) and operands broadcast every way the loops tell apart. */
enum { D0 = 131, D1 = 29, D2 = 37, NLEAF = 6 };
static const int leaf_rank[NLEAF] = {3, 3, 1, 3, 2, 0};
static const int64_t leaf_dims[NLEAF][3] = {
    {D0, D1, D2}, /* x */
    {D0, D1, D2}, /* same shape: the flat loop */
    {D2},         /* a bias: its gradient sums columns, the threads split them */
    {D0, 1, D2},  /* stretched in the middle: the same, with outer rows */
    {D1, 1},      /* stretched along the innermost: one thread adds into it */
    {0},          /* a scalar */
};

/* Every leaf's value and gradient and the root's value after one forward
 * and backward of a graph of unary and binary gates, on `threads`. */
static double *elementwise_run(gg_dtype dt, int threads, size_t *count)
{
    assert_int_equal(gg_set_num_threads(threads), 0);
    gg_graph *g = gg_graph_new();
    gg_node *leaf[NLEAF];
    gg_rng r;
    gg_rng_seed(&r, 11);
    double *vals = malloc((size_t)D0 * D1 * D2 * sizeof *vals);
    float *fvals = (float *)vals;
    assert_non_null(vals);
    for (int i = 0; i < NLEAF; i++) {
        size_t n = 1;
        for (int d = 0; d < leaf_rank[i]; d++)
            n *= (size_t)leaf_dims[i][d];
        for (size_t k = 0; k < n; k++) {
            double v = 2 * gg_rng_uniform(&r) - 1;
            if (dt == GG_F64)
                vals[k] = v;
            else
                fvals[k] = (float)v;
        }
        leaf[i] = gg_tensor(g, dt, leaf_rank[i], leaf_dims[i], vals);
        assert_non_null(leaf[i]);
    }
    free(vals);
    gg_node *x = leaf[0];
    gg_node *h = gg_relu(g, gg_add(g, gg_mul(g, x, leaf[1]), leaf[2]));
    h = gg_max(g, gg_sigmoid(g, gg_sub(g, h, leaf[3])), gg_tanh(g, gg_mul(g, x, leaf[4])));
    gg_node *root = gg_sum(g, gg_mul(g, gg_add(g, h, x), gg_div(g, leaf[5], gg_add(g, x, leaf[5]))));
    assert_non_null(root);
    assert_int_equal(gg_forward(g, root), 0);
    assert_int_equal(gg_backward(g, root), 0);
    size_t n = 1;
    for (int i = 0; i < NLEAF; i++)
        n += 2 * gg_numel(leaf[i]);
    double *out = malloc(n * sizeof *out), *at = out;
    assert_non_null(out);
    *at++ = gg_value(root);
    for (int i = 0; i < NLEAF; i++)
        for (size_t k = 0; k < gg_numel(leaf[i]); k++) {
            *at++ = gg_value_at(leaf[i], k);
            *at++ = gg_grad_at(leaf[i], k);
        }
    gg_graph_free(g);
    *count = n;
    return out;
}

static void elementwise_gates_shared_among_threads(void **state)
{
    (void)state;
    assert_true((size_t)D0 * D1 * D2 >= 131072); /* past the gates' threshold */
    for (int dt = 0; dt < 2; dt++) {
        size_t n1, n2;
        double *one = elementwise_run(dt ? GG_F64 : GG_F32, 1, &n1);
        double *two = elementwise_run(dt ? GG_F64 : GG_F32, 2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(one, two, n1 * sizeof *one);
        assert_true(one[0] != 0 && isfinite(one[0]));
        free(one);
        free(two);
    }
}

/* Softmax cross-entropy over 1100 rows (three passes of its row buffer)
 * with some rows ignored (label -1), on `threads`: the loss, and the
 * logits' gradient after it. */
static double *sce_run(gg_dtype dt, int threads, size_t rows, size_t classes)
{
    assert_int_equal(gg_set_num_threads(threads), 0);
    gg_graph *g = gg_graph_new();
    double *v = malloc(rows * classes * sizeof *v), *lab = malloc(rows * sizeof *lab);
    float *fv = malloc(rows * classes * sizeof *fv), *flab = malloc(rows * sizeof *flab);
    assert_true(v && lab && fv && flab);
    gg_rng r;
    gg_rng_seed(&r, 5);
    for (size_t i = 0; i < rows * classes; i++)
        fv[i] = (float)(v[i] = 8 * gg_rng_uniform(&r) - 4);
    for (size_t i = 0; i < rows; i++)
        flab[i] = (float)(lab[i] = i % 7 == 3 ? -1.0 : (double)(i % classes));
    int64_t dims[] = {(int64_t)rows, (int64_t)classes};
    gg_node *x = gg_tensor(g, dt, 2, dims, dt == GG_F64 ? (void *)v : (void *)fv);
    gg_node *y = gg_input(g, dt, 1, dims, dt == GG_F64 ? (void *)lab : (void *)flab);
    gg_node *loss = gg_softmax_cross_entropy(g, x, y);
    assert_non_null(loss);
    assert_int_equal(gg_backward(g, loss), 0);
    double *out = malloc((1 + rows * classes) * sizeof *out);
    assert_non_null(out);
    out[0] = gg_value(loss);
    for (size_t k = 0; k < rows * classes; k++)
        out[1 + k] = gg_grad_at(x, k);
    gg_graph_free(g);
    free(v), free(lab), free(fv), free(flab);
    return out;
}

static void softmax_cross_entropy_shared_among_threads(void **state)
{
    (void)state;
    enum { ROWS = 1100, CLASSES = 10 };
    for (int dt = 0; dt < 2; dt++) {
        double *one = sce_run(dt ? GG_F64 : GG_F32, 1, ROWS, CLASSES);
        double *two = sce_run(dt ? GG_F64 : GG_F32, 2, ROWS, CLASSES);
        assert_memory_equal(one, two, (1 + ROWS * CLASSES) * sizeof *one);
        assert_true(one[0] > 0 && isfinite(one[0]));
        assert_true(one[1 + 3 * CLASSES] == 0); /* row 3 is ignored */
        free(one);
        free(two);
    }
}

static void two_trainings_at_once(void **state)
{
    (void)state;
    gg_dataset d;
    char err[GG_ERRLEN];
    assert_int_equal(gg_playground("spiral", 512, 0.1, 7, &d, err), 0);
    assert_int_equal(gg_set_num_threads(2), 0);

    job alone[2] = {{.data = &d, .seed = 1}, {.data = &d, .seed = 2}};
    for (int i = 0; i < 2; i++) {
        train(&alone[i]);
        assert_int_equal(alone[i].rc, 0);
    }
    job together[2] = {{.data = &d, .seed = 1}, {.data = &d, .seed = 2}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, train, &together[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        if (together[i].rc)
            fail_msg("thread %d: %s", i, together[i].err);
        assert_int_equal(together[i].count, alone[i].count);
        assert_memory_equal(together[i].weights, alone[i].weights, alone[i].count * sizeof(float));
    }
    assert_true(memcmp(alone[0].weights, alone[1].weights, alone[0].count * sizeof(float)) != 0);
    for (int i = 0; i < 2; i++) {
        free(alone[i].weights);
        free(together[i].weights);
    }
    gg_dataset_free(&d);
}

/* A layer big enough for the pool, its loss, the gradient and a
 * Hessian-vector product recorded as graphs; their values kept. */
typedef struct higher_job {
    job training;
    uint64_t seed;
    float *values; /* the gradient, then H.v, both ROWS x COLS */
    int rc;
} higher_job;

enum { ROWS = 256, COLS = 192, BATCH = 96 };

static void fill(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        x[i] = (float)((double)(seed >> 40) / (double)(1u << 24) - 0.5);
    }
}

static int record_higher(higher_job *h)
{
    float *x = malloc(BATCH * ROWS * sizeof *x), *w = malloc(ROWS * COLS * sizeof *w), *v = malloc(ROWS * COLS * sizeof *v);
    h->values = malloc(2 * ROWS * COLS * sizeof *h->values);
    fill(x, BATCH * ROWS, h->seed);
    fill(w, ROWS * COLS, h->seed + 1);
    fill(v, ROWS * COLS, h->seed + 2);
    gg_graph *g = gg_graph_new();
    gg_node *X = gg_input(g, GG_F32, 2, (int64_t[]){BATCH, ROWS}, x);
    gg_node *W = gg_tensor(g, GG_F32, 2, (int64_t[]){ROWS, COLS}, w);
    gg_node *V = gg_input(g, GG_F32, 2, (int64_t[]){ROWS, COLS}, v);
    gg_node *loss = gg_mean(g, gg_mul(g, gg_tanh(g, gg_matmul(g, X, W)), gg_tanh(g, gg_matmul(g, X, W))));
    gg_node *grad, *hv;
    int rc = !loss || !h->values || gg_gradient(g, loss, 1, &W, &grad) || gg_hvp(g, loss, 1, &W, &V, &hv);
    if (!rc) {
        memcpy(h->values, gg_data(grad), ROWS * COLS * sizeof(float));
        memcpy(h->values + ROWS * COLS, gg_data(hv), ROWS * COLS * sizeof(float));
    }
    gg_graph_free(g);
    free(x);
    free(w);
    free(v);
    return rc ? -1 : 0;
}

static void *record_and_train(void *arg)
{
    higher_job *h = arg;
    h->rc = record_higher(h);
    train(&h->training);
    return NULL;
}

static void two_gradient_graphs_and_trainings_at_once(void **state)
{
    (void)state;
    gg_dataset d;
    char err[GG_ERRLEN];
    assert_int_equal(gg_playground("spiral", 512, 0.1, 7, &d, err), 0);
    assert_int_equal(gg_set_num_threads(2), 0);
    higher_job alone[2] = {{.training = {.data = &d, .seed = 3}, .seed = 11},
                           {.training = {.data = &d, .seed = 4}, .seed = 12}};
    higher_job together[2] = {alone[0], alone[1]};
    for (int i = 0; i < 2; i++) {
        record_and_train(&alone[i]);
        assert_int_equal(alone[i].rc, 0);
        assert_int_equal(alone[i].training.rc, 0);
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, record_and_train, &together[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(together[i].rc, 0);
        if (together[i].training.rc)
            fail_msg("thread %d: %s", i, together[i].training.err);
        assert_memory_equal(together[i].values, alone[i].values, 2 * ROWS * COLS * sizeof(float));
        assert_int_equal(together[i].training.count, alone[i].training.count);
        assert_memory_equal(together[i].training.weights, alone[i].training.weights,
                            alone[i].training.count * sizeof(float));
    }
    assert_true(memcmp(alone[0].values, alone[1].values, 2 * ROWS * COLS * sizeof(float)) != 0);
    double hv_norm = 0;
    for (size_t k = 0; k < ROWS * COLS; k++)
        hv_norm += fabs(alone[0].values[ROWS * COLS + k]);
    assert_true(hv_norm > 0);
    for (int i = 0; i < 2; i++) {
        free(alone[i].values);
        free(together[i].values);
        free(alone[i].training.weights);
        free(together[i].training.weights);
    }
    gg_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_trainings_at_once),
        cmocka_unit_test(two_gradient_graphs_and_trainings_at_once),
        cmocka_unit_test(elementwise_gates_shared_among_threads),
        cmocka_unit_test(softmax_cross_entropy_shared_among_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
