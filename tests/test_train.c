/* test_train.c - training end to end: XOR converges from random weights,
 * a classifier learns the Playground's gaussians, runs repeat bit for bit,
 * a training step allocates nothing, short batches are padded correctly,
 * early stopping keeps the best weights, and bad data are refused. */
#include "testutil.h"

#include <stdlib.h>

#include "gategrad.h"
#include "gategrad/data.h"

/* Counts heap allocations (not under AddressSanitizer, which owns malloc). */
#ifndef __SANITIZE_ADDRESS__
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static volatile size_t allocations;
void *malloc(size_t n)
{
    allocations++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    allocations++;
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    allocations++;
    return __libc_realloc(p, n);
}
#endif

static gg_mlp_spec parse(const char *text)
{
    gg_mlp_spec s;
    char err[GG_ERRLEN];
    if (gg_mlp_spec_parse(text, &s, err))
        fail_msg("%s", err);
    return s;
}

/* §8: a 2-4-1 sigmoid MLP learns XOR by backprop from random weights. */
static void xor_converges(void **state)
{
    (void)state;
    double in[] = {0, 0, 0, 1, 1, 0, 1, 1}, target[] = {0, 1, 1, 0};
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F64, 2, (int64_t[]){4, 2}, in);
    gg_node *t = gg_input(g, GG_F64, 2, (int64_t[]){4, 1}, target);
    gg_mlp_spec spec = parse("2-4-1:sigmoid:out=sigmoid");
    gg_mlp *m = gg_mlp_new(g, x, &spec, 3, NULL);
    gg_node *loss = gg_mse_loss(g, gg_mlp_output(m), t);
    size_t n;
    gg_node *const *p = gg_mlp_params(m, &n);
    gg_opt_config cfg = gg_opt_defaults(GG_OPT_MOMENTUM);
    cfg.lr = 0.5;
    gg_optimizer *opt = gg_optimizer_new(&cfg, p, n, NULL);
    double first = 0;
    for (int step = 0; step < 2000; step++) {
        assert_int_equal(gg_forward(g, loss), 0);
        if (step == 0)
            first = gg_value(loss);
        gg_optimizer_zero_grad(opt);
        assert_int_equal(gg_backward(g, loss), 0);
        gg_optimizer_step(opt);
    }
    gg_forward(g, loss);
    assert_true(gg_value(loss) < 0.01 && gg_value(loss) < first / 10);
    for (size_t i = 0; i < 4; i++)
        assert_true((gg_value_at(gg_mlp_output(m), i) > 0.5) == (target[i] > 0.5));
    gg_optimizer_free(opt);
    gg_mlp_free(m);
    gg_graph_free(g);
}

typedef struct history {
    double val_loss[64];
    size_t n;
} history;

static void record(void *ctx, const gg_epoch_stats *s)
{
    history *h = ctx;
    if (h->n < 64)
        h->val_loss[h->n++] = s->val_loss;
}

static gg_fit_config config(size_t epochs)
{
    gg_fit_config cfg = {.epochs = epochs, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = 5,
                         .schedule = {.kind = GG_SCHED_COSINE, .min_factor = 0.1}};
    cfg.opt.lr = 0.01;
    return cfg;
}

/* Trains 2-8-2 on the gaussians; returns the classifier (caller frees). */
static gg_classifier *train_gauss(const gg_dataset *train, const gg_dataset *val, gg_fit_config cfg,
                                  history *h, gg_fit_result *res)
{
    gg_mlp_spec spec = parse("2-8-2:tanh:dropout=0.1");
    char err[GG_ERRLEN];
    gg_classifier *c = gg_classifier_new(&spec, 32, 9, err);
    assert_non_null(c);
    gg_fit_callbacks cb = {.epoch = record, .ctx = h};
    if (gg_classifier_fit(c, train, val, &cfg, &cb, res, err))
        fail_msg("%s", err);
    return c;
}

static void classifier_learns_and_repeats(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset train = {0}, test = {0};
    assert_int_equal(gg_load_named_dataset("gauss", 1, &train, &test, err), 0);
    history h1 = {0}, h2 = {0};
    gg_fit_result r1, r2;
    gg_classifier *a = train_gauss(&train, &test, config(10), &h1, &r1);
    gg_classifier *b = train_gauss(&train, &test, config(10), &h2, &r2);
    assert_int_equal(r1.epochs, 10);
    assert_int_equal(h1.n, 10);
    assert_memory_equal(h1.val_loss, h2.val_loss, sizeof h1.val_loss);
    size_t n;
    gg_node *const *pa = gg_mlp_params(gg_classifier_model(a), &n), *const *pb = gg_mlp_params(gg_classifier_model(b), &n);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(gg_data(pa[i]), gg_data(pb[i]), gg_numel(pa[i]) * sizeof(float));
    double loss, acc;
    size_t conf[4];
    assert_int_equal(gg_classifier_evaluate(a, &test, &loss, &acc, conf, err), 0);
    assert_true(acc > 0.97);
    assert_true(loss < h1.val_loss[0]);
    assert_int_equal(conf[0] + conf[1] + conf[2] + conf[3], test.n);
    assert_near((double)(conf[0] + conf[3]) / (double)test.n, acc, 1e-12);

    float probs[2 * 8];
    assert_int_equal(gg_classifier_predict(a, test.x, 8, probs, err), 0);
    for (size_t i = 0; i < 8; i++)
        assert_near(probs[2 * i] + probs[2 * i + 1], 1, 1e-6);
    gg_classifier_free(a);
    gg_classifier_free(b);
    gg_dataset_free(&train);
    gg_dataset_free(&test);
}

/* Prediction reads whole batches of the caller's rows in place and copies
 * the last, partial one: 2.5 batches at once give the bits of one row at a
 * time (every call a copy), leave the rows untouched, and training after
 * it fills its batches into the classifier's own buffer, not the rows. */
static void predict_lends_rows_in_place(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset all = {0};
    assert_int_equal(gg_playground("circle", 10, 0, 3, &all, err), 0);
    gg_mlp_spec spec = parse("2-5-2:relu");
    gg_classifier *c = gg_classifier_new(&spec, 4, 2, err);
    assert_non_null(c);
    float rows[20], whole[20], one[20];
    memcpy(rows, all.x, sizeof rows);
    assert_int_equal(gg_classifier_predict(c, rows, 10, whole, err), 0);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(gg_classifier_predict(c, rows + 2 * i, 1, one + 2 * i, err), 0);
    assert_memory_equal(whole, one, sizeof whole);
    assert_memory_equal(rows, all.x, sizeof rows);
    assert_int_equal(gg_classifier_predict(c, rows, 8, whole, err), 0); /* ends on a lent batch */
    gg_fit_config cfg = {.epochs = 1, .opt = gg_opt_defaults(GG_OPT_SGD)};
    assert_int_equal(gg_classifier_fit(c, &all, NULL, &cfg, NULL, NULL, err), 0);
    assert_memory_equal(rows, all.x, sizeof rows);
    gg_classifier_free(c);
    gg_dataset_free(&all);
}

/* Evaluating 10 samples in batches of 4 (the last one padded with ignored
 * rows) gives the loss and accuracy of one batch of 10. */
static void short_batches_are_padded(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset all = {0};
    assert_int_equal(gg_playground("circle", 10, 0, 4, &all, err), 0);
    gg_mlp_spec spec = parse("2-5-2:relu");
    gg_classifier *c4 = gg_classifier_new(&spec, 4, 2, err), *c10 = gg_classifier_new(&spec, 10, 2, err);
    double l4, a4, l10, a10;
    assert_int_equal(gg_classifier_evaluate(c4, &all, &l4, &a4, NULL, err), 0);
    assert_int_equal(gg_classifier_evaluate(c10, &all, &l10, &a10, NULL, err), 0);
    assert_near(l4, l10, 1e-6);
    assert_near(a4, a10, 0);
    gg_fit_config cfg = config(3);
    gg_fit_result res;
    assert_int_equal(gg_classifier_fit(c4, &all, NULL, &cfg, NULL, &res, err), 0);
    assert_int_equal(res.epochs, 3);
    assert_int_equal(res.best_epoch, 0);
    gg_classifier_free(c4);
    gg_classifier_free(c10);
    gg_dataset_free(&all);
}

/* After the first step, a training step (set_data, forward, backward,
 * optimizer) makes no heap allocation. */
static void steps_do_not_allocate(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip();
#else
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload"))
        skip(); /* valgrind replaces malloc in every object, the counter's too */
    char err[GG_ERRLEN];
    gg_dataset d = {0};
    assert_int_equal(gg_playground("spiral", 300, 0, 1, &d, err), 0);
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_input(g, GG_F32, 2, (int64_t[]){32, 2}, NULL);
    gg_node *y = gg_input(g, GG_F32, 1, (int64_t[]){32}, NULL);
    gg_mlp_spec spec = parse("2-64-64-2:relu:dropout=0.2");
    gg_mlp *m = gg_mlp_new(g, x, &spec, 1, err);
    gg_node *loss = gg_softmax_cross_entropy(g, gg_mlp_output(m), y);
    size_t n;
    gg_node *const *p = gg_mlp_params(m, &n);
    gg_opt_config oc = gg_opt_defaults(GG_OPT_ADAM);
    gg_optimizer *opt = gg_optimizer_new(&oc, p, n, err);
    gg_batcher b;
    assert_int_equal(gg_batcher_init(&b, &d, 32, 1, 1, err), 0);
    int32_t labels[32];
    gg_mlp_set_training(m, 1);
    size_t before = 0;
    for (int step = 0; step < 40; step++) {
        if (step == 1)
            before = allocations;
        if (gg_batcher_next(&b, gg_data(x), labels) < 32)
            continue;
        float *yf = gg_data(y);
        for (int i = 0; i < 32; i++)
            yf[i] = (float)labels[i];
        gg_mlp_resample(m);
        assert_int_equal(gg_forward(g, loss), 0);
        gg_optimizer_zero_grad(opt);
        assert_int_equal(gg_backward(g, loss), 0);
        gg_optimizer_step(opt);
    }
    assert_true(before > 0); /* the counter sees the library's allocations */
    assert_int_equal(allocations - before, 0);
    gg_batcher_free(&b);
    gg_optimizer_free(opt);
    gg_mlp_free(m);
    gg_graph_free(g);
    gg_dataset_free(&d);
#endif
}

/* With patience, training stops after that many epochs without a better
 * validation loss and the weights of the best epoch come back. */
static void early_stopping_restores_best(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset all = {0}, train = {0}, val = {0};
    assert_int_equal(gg_playground("xor", 200, 0.5, 3, &all, err), 0);
    assert_int_equal(gg_dataset_split(&all, 0.5, 7, &train, &val, err), 0);
    gg_fit_config cfg = config(60);
    cfg.patience = 3;
    cfg.opt.lr = 0.05;
    cfg.schedule.kind = GG_SCHED_CONSTANT;
    history h = {0};
    gg_fit_result res;
    gg_mlp_spec spec = parse("2-32-32-2:relu");
    gg_classifier *c = gg_classifier_new(&spec, 16, 1, err);
    gg_fit_callbacks cb = {.epoch = record, .ctx = &h};
    assert_int_equal(gg_classifier_fit(c, &train, &val, &cfg, &cb, &res, err), 0);
    assert_true(res.epochs < 60); /* noisy labels: it overfits and stops */
    assert_int_equal(res.epochs, res.best_epoch + 3);
    for (size_t i = 0; i < h.n; i++)
        assert_true(h.val_loss[i] >= h.val_loss[res.best_epoch - 1]);
    double loss;
    assert_int_equal(gg_classifier_evaluate(c, &val, &loss, NULL, NULL, err), 0);
    assert_near(loss, h.val_loss[res.best_epoch - 1], 0);
    gg_classifier_free(c);
    gg_dataset_free(&all), gg_dataset_free(&train), gg_dataset_free(&val);
}

static void bad_data_is_refused(void **state)
{
    (void)state;
    char err[GG_ERRLEN];
    gg_dataset d = {0};
    assert_int_equal(gg_playground("gauss", 20, 0, 1, &d, err), 0);
    gg_mlp_spec spec = parse("3-4-2");
    gg_classifier *c = gg_classifier_new(&spec, 8, 1, err);
    gg_fit_config cfg = config(1);
    assert_int_not_equal(gg_classifier_fit(c, &d, NULL, &cfg, NULL, NULL, err), 0);
    assert_contains(err, "data has 2 features and 2 classes, the model expects 3 and 2");
    assert_int_not_equal(gg_classifier_evaluate(c, &d, NULL, NULL, NULL, err), 0);
    gg_classifier_free(c);
    assert_null(gg_classifier_new(&spec, 0, 1, err));
    assert_contains(err, "batch size");
    gg_dataset tr, te;
    assert_int_not_equal(gg_load_named_dataset("nope", 1, &tr, &te, err), 0);
    assert_contains(err, "nope: not a known data set");
    assert_int_not_equal(gg_load_named_dataset("/nonexistent/x.csv", 1, &tr, &te, err), 0);
    assert_contains(err, "/nonexistent/x.csv");
    gg_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xor_converges),
        cmocka_unit_test(classifier_learns_and_repeats),
        cmocka_unit_test(short_batches_are_padded),
        cmocka_unit_test(predict_lends_rows_in_place),
        cmocka_unit_test(steps_do_not_allocate),
        cmocka_unit_test(early_stopping_restores_best),
        cmocka_unit_test(bad_data_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
