/* train.c - a training epoch of gategrad train's default model
 * (784-256-128-10, relu, batch 128, Adam) timed beside the
 * same epoch's matrix products alone (products.c) in the same
 * process, with the heap allocations per step and the peak RSS. */
#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench.h"
#include "gategrad.h"
#include "gategrad/threads.h"

#define BATCH 128
#define MAX_REPS 9
static const char model_spec[] = "784-256-128-10:relu"; /* the model */

/* n samples of Fashion-MNIST's shape with pixels uniform in [0, 1) (drawn
 * from seed) and each label the argmax of a fixed random projection, so
 * that a model can learn it. */
static int synthetic(size_t n, uint64_t seed, gg_dataset *d)
{
    enum { DIM = 784, CLASSES = 10 };
    float *proj = malloc(DIM * CLASSES * sizeof *proj);
    *d = (gg_dataset){.n = n, .dim = DIM, .classes = CLASSES, .x = malloc(n * DIM * sizeof(float)),
                      .y = malloc(n * sizeof(int32_t))};
    if (!proj || !d->x || !d->y) {
        free(proj);
        gg_dataset_free(d);
        return -1;
    }
    gg_rng r;
    gg_rng_seed(&r, 99); /* one projection for every split, the samples by seed */
    for (size_t i = 0; i < DIM * CLASSES; i++)
        proj[i] = gg_rng_uniform(&r) < 0.5 ? -1.0f : 1.0f;
    gg_rng_seed(&r, seed);
    for (size_t s = 0; s < n; s++) {
        float *x = d->x + s * DIM, score[CLASSES] = {0};
        for (size_t i = 0; i < DIM; i++) {
            x[i] = (float)gg_rng_uniform(&r);
            for (size_t c = 0; c < CLASSES; c++)
                score[c] += x[i] * proj[i * CLASSES + c];
        }
        d->y[s] = 0;
        for (int c = 1; c < CLASSES; c++)
            if (score[c] > score[d->y[s]])
                d->y[s] = c;
    }
    free(proj);
    return 0;
}

/* Fashion-MNIST's two halves, or synthetic data of their shape when it is
 * absent (and always in quick mode, to stay fast). */
int bench_load_data(int quick, gg_dataset *train, gg_dataset *test, const char **name)
{
    if (!quick && gg_load_named_dataset("fashion-mnist", 1, train, test, NULL) == 0) {
        *name = "fashion-mnist";
        return 0;
    }
    *name = "synthetic";
    if (synthetic(quick ? 1024 : 60000, 99, train) || synthetic(quick ? 512 : 10000, 98, test)) {
        gg_dataset_free(train);
        return -1;
    }
    return 0;
}

/* ---- Training ------------------------------------------------------------------ */

/* What the fit callbacks record: allocations after the first step and
 * after the last, the epoch's time and loss. */
typedef struct watch {
    size_t steps;
    long after_first, at_end;
    double seconds, loss;
} watch;

static void on_batch(void *ctx, size_t done, size_t total)
{
    (void)done, (void)total;
    watch *w = ctx;
    long n = bench_alloc_count();
    if (w->steps++ == 0)
        w->after_first = n;
    w->at_end = n;
}

static void on_epoch(void *ctx, const gg_epoch_stats *s)
{
    watch *w = ctx;
    w->seconds = s->seconds;
    w->loss = s->train_loss;
}

/* One epoch of training (watched) and one of products alone, reps times,
 * interleaved so that both see the same machine load; the fastest of each
 * is kept (interference on a shared machine only ever adds time). */
static int timed_reps(gg_classifier *c, const gg_dataset *train, bench_products *products, bench_torch *torch,
                      int reps, bench_train_result *res, char *err)
{
    gg_fit_config cfg = {.epochs = 1, .opt = gg_opt_defaults(GG_OPT_ADAM)};
    res->allocs_per_step = bench_alloc_count() < 0 ? -1 : 0;
    res->epoch_s = res->gemm_s = INFINITY;
    res->torch_s = torch ? INFINITY : NAN;
    for (int r = 0; r < reps; r++) {
        if (torch) {
            double s, loss;
            if (bench_torch_train(torch, model_spec, BATCH, 0, &s, &loss))
                torch = NULL, res->torch_s = NAN;
            else
                res->torch_s = fmin(res->torch_s, s), res->torch_loss = loss;
            bench_settle();
        }
        watch w = {0};
        gg_fit_callbacks cb = {on_batch, on_epoch, &w};
        cfg.seed = (uint64_t)r + 1;
        if (gg_classifier_fit(c, train, NULL, &cfg, &cb, NULL, err))
            return -1;
        res->epoch_s = fmin(res->epoch_s, w.seconds);
        res->gemm_s = fmin(res->gemm_s, bench_products_train(products, w.steps));
        res->steps = w.steps;
        if (r == 0)
            res->first_loss = w.loss;
        res->last_loss = w.loss;
        double per_step = w.steps > 1 ? (double)(w.at_end - w.after_first) / (double)(w.steps - 1) : 0;
        res->allocs_last_epoch = bench_alloc_count() < 0 ? -1 : per_step;
        res->allocs_per_step = fmax(res->allocs_per_step, res->allocs_last_epoch);
    }
    return 0;
}

int bench_train(int quick, int reps, const gg_dataset *train, bench_torch *torch, bench_train_result *res,
                char *err)
{
    gg_mlp_spec spec;
    bench_products products = {0};
    gg_classifier *c = NULL;
    int rc = -1;
    /* Quick mode (CI) trains on one thread: the GEMM's packing workspaces
     * are then all sized in the first step, so an allocation later is the
     * step's own, every time (with more threads, which thread first meets
     * the largest product varies: see the full run's worst epoch). */
    int threads = gg_num_threads();
    if (quick)
        gg_set_num_threads(1);
    *res = (bench_train_result){.model = model_spec, .batch = BATCH, .threads = gg_num_threads()};
    reps = reps < 1 ? 1 : reps > MAX_REPS ? MAX_REPS : reps;
    res->samples = train->n;
    if (gg_mlp_spec_parse(model_spec, &spec, err) || !(c = gg_classifier_new(&spec, BATCH, 1, err)))
        goto done;
    if (bench_products_init(&products, model_spec, BATCH)) {
        snprintf(err, GG_ERRLEN, "bench: out of memory for the matrix products");
        goto done;
    }
    rc = timed_reps(c, train, &products, torch, reps, res, err);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    res->peak_rss_bytes = (size_t)ru.ru_maxrss * 1024;
done:
    gg_set_num_threads(threads);
    gg_classifier_free(c);
    bench_products_free(&products);
    return rc;
}
