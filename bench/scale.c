/* scale.c - the training step's cost as the model grows (784-1024-1024-10
 * and 784-4096-4096-10 at batch 256), and eval-mode inference over the
 * test images, each beside PyTorch in the same run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gategrad.h"

#define SCALE_BATCH 256
#define PREDICT_BATCH 256 /* gategrad predict's default */

/* Multiply-adds x 2 of one training step: every layer's forward and weight
 * gradient product, and the input gradient of all but the first. */
static double step_flops(const gg_mlp_spec *s, size_t batch)
{
    double macs = 0;
    for (int i = 0; i < s->nlayers; i++)
        macs += (i ? 3.0 : 2.0) * (double)s->sizes[i] * (double)s->sizes[i + 1];
    return 2.0 * macs * (double)batch;
}

/* Multiply-adds x 2 of one forward pass over samples rows. */
static double pass_flops(const gg_mlp_spec *s, size_t samples)
{
    double macs = 0;
    for (int i = 0; i < s->nlayers; i++)
        macs += (double)s->sizes[i] * (double)s->sizes[i + 1];
    return 2.0 * macs * (double)samples;
}

static void on_epoch(void *ctx, const gg_epoch_stats *s) { *(double *)ctx = s->seconds; }

/* Seconds of one pass of gg_classifier_fit over view (steps batches). */
static int fit_once(gg_classifier *c, const gg_dataset *view, uint64_t seed, double *seconds, char *err)
{
    gg_fit_config cfg = {.epochs = 1, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = seed};
    gg_fit_callbacks cb = {NULL, on_epoch, seconds};
    return gg_classifier_fit(c, view, NULL, &cfg, &cb, NULL, err);
}

static int scale_one(const char *model, size_t steps, int reps, const gg_dataset *train, bench_torch *torch,
                     bench_scale_row *row, char *err)
{
    gg_mlp_spec spec;
    if (gg_mlp_spec_parse(model, &spec, err))
        return -1;
    gg_classifier *c = gg_classifier_new(&spec, SCALE_BATCH, 1, err);
    if (!c)
        return -1;
    gg_dataset view = *train; /* the first steps batches: a view, not owned */
    view.n = steps * SCALE_BATCH < train->n ? steps * SCALE_BATCH : train->n;
    *row = (bench_scale_row){.model = model, .batch = SCALE_BATCH, .steps = (view.n + SCALE_BATCH - 1) / SCALE_BATCH,
                             .flops_per_step = step_flops(&spec, SCALE_BATCH), .ours_s = INFINITY,
                             .products_s = INFINITY, .torch_s = torch ? INFINITY : NAN};
    bench_products products = {0};
    double s, loss;
    int rc = fit_once(c, &view, 1, &s, err); /* warm-up: workspaces, pages */
    if (!rc && bench_products_init(&products, model, SCALE_BATCH)) {
        snprintf(err, GG_ERRLEN, "bench: out of memory for the matrix products");
        rc = -1;
    }
    if (!rc && torch && bench_torch_train(torch, model, SCALE_BATCH, 2, &s, &loss))
        torch = NULL, row->torch_s = NAN;
    for (int r = 0; r < reps && !rc; r++) {
        if (torch)
            bench_settle();
        rc = fit_once(c, &view, (uint64_t)r + 2, &s, err);
        row->ours_s = fmin(row->ours_s, s);
        row->products_s = fmin(row->products_s, bench_products_train(&products, row->steps));
        if (torch) {
            if (bench_torch_train(torch, model, SCALE_BATCH, row->steps, &s, &loss))
                torch = NULL, row->torch_s = NAN;
            else
                row->torch_s = fmin(row->torch_s, s);
            bench_settle();
        }
    }
    bench_products_free(&products);
    gg_classifier_free(c);
    return rc;
}

int bench_scale(int quick, const gg_dataset *train, bench_torch *torch, bench_scale_row rows[2], char *err)
{
    static const char *const models[2] = {"784-1024-1024-10:relu", "784-4096-4096-10:relu"};
    static const size_t steps[2][2] = {{60, 6}, {1, 0}}; /* [quick][model]; 0: skipped */
    for (int i = 0; i < 2; i++) {
        rows[i] = (bench_scale_row){.model = models[i], .batch = SCALE_BATCH, .ours_s = NAN, .products_s = NAN,
                                    .torch_s = NAN};
        if (steps[quick != 0][i] && scale_one(models[i], steps[quick != 0][i], quick ? 1 : 3, train, quick ? NULL : torch, &rows[i], err))
            return -1;
    }
    return 0;
}

/* ---- Inference ----------------------------------------------------------- */

/* The test images as floats (a view of ours, xb bytes / 255 like the loader). */
static float *test_floats(const gg_dataset *test)
{
    float *x = malloc(test->n * test->dim * sizeof *x);
    for (size_t i = 0; x && i < test->n; i++)
        gg_dataset_row(test, i, x + i * test->dim);
    return x;
}

int bench_predict(int quick, const gg_dataset *test, bench_torch *torch, bench_predict_result *res, char *err)
{
    static const char model[] = "784-256-128-10:relu";
    gg_mlp_spec spec;
    *res = (bench_predict_result){.samples = test->n, .batch = PREDICT_BATCH, .ours_s = INFINITY,
                                  .products_s = INFINITY, .torch_s = torch ? INFINITY : NAN};
    if (gg_mlp_spec_parse(model, &spec, err))
        return -1;
    res->flops = pass_flops(&spec, test->n);
    gg_classifier *c = gg_classifier_new(&spec, PREDICT_BATCH, 1, err);
    float *x = test_floats(test), *probs = malloc(test->n * 10 * sizeof *probs);
    bench_products products = {0};
    int rc = c && x && probs && !bench_products_init(&products, model, PREDICT_BATCH) ? 0 : -1;
    if (rc && c)
        snprintf(err, GG_ERRLEN, "bench: out of memory for the test images and their products");
    if (!rc)
        rc = gg_classifier_predict(c, x, test->n, probs, err); /* warm-up */
    for (int r = 0; r < (quick ? 1 : 7) && !rc; r++) {
        if (torch)
            bench_settle();
        double t0 = bench_now();
        rc = gg_classifier_predict(c, x, test->n, probs, err);
        res->ours_s = fmin(res->ours_s, bench_now() - t0);
        res->products_s = fmin(res->products_s, bench_products_infer(&products, test->n));
        double s;
        if (torch) {
            bench_settle();
            if (bench_torch_predict(torch, PREDICT_BATCH, &s))
                torch = NULL, res->torch_s = NAN;
            else
                res->torch_s = fmin(res->torch_s, s);
        }
    }
    double sum = 0; /* each row of probabilities sums to 1 */
    for (size_t i = 0; !rc && i < test->n * 10; i++)
        sum += probs[i];
    res->prob_sum_error = rc ? INFINITY : fabs(sum - (double)test->n) / (double)test->n;
    gg_classifier_free(c);
    bench_products_free(&products);
    free(x);
    free(probs);
    return rc;
}
