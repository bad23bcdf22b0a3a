/* train.c - a training epoch of gategrad train's default model
 * (784-256-128-10, relu, batch 128, Adam) timed beside the
 * same epoch's matrix products alone, run through the same GEMM in the same
 * process, with the heap allocations per step and the peak RSS. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "gategrad.h"
#include "gategrad/threads.h"
#include "kernels/kernels.h"

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

/* ---- The epoch's matrix products alone ------------------------------------ */

/* Per layer: input X [B,in], weight W [in,out], output Z [B,out] and their
 * gradients, as the matmul gate sees them. */
typedef struct layer_bufs {
    size_t in, out;
    float *x, *w, *z, *dx, *dw, *dz;
} layer_bufs;

typedef struct gemm_epoch {
    int nlayers;
    layer_bufs l[GG_MLP_MAX_LAYERS];
    float *block;
} gemm_epoch;

static int gemm_epoch_init(gemm_epoch *e, const gg_mlp_spec *spec)
{
    size_t total = 0;
    e->nlayers = spec->nlayers;
    for (int i = 0; i < e->nlayers; i++) {
        size_t in = (size_t)spec->sizes[i], out = (size_t)spec->sizes[i + 1];
        e->l[i] = (layer_bufs){.in = in, .out = out};
        total += 2 * (BATCH * in + in * out + BATCH * out);
    }
    if (!(e->block = malloc(total * sizeof(float))))
        return -1;
    gg_rng r;
    gg_rng_seed(&r, 5);
    for (size_t i = 0; i < total; i++)
        e->block[i] = (float)(0.1 * gg_rng_uniform(&r));
    float *p = e->block;
    for (int i = 0; i < e->nlayers; i++) {
        layer_bufs *b = &e->l[i];
        float **parts[] = {&b->x, &b->dx, &b->w, &b->dw, &b->z, &b->dz};
        size_t sizes[] = {BATCH * b->in, BATCH * b->in, b->in * b->out, b->in * b->out,
                          BATCH * b->out, BATCH * b->out};
        for (int k = 0; k < 6; k++) {
            *parts[k] = p;
            p += sizes[k];
        }
    }
    return 0;
}

/* Seconds for steps training steps' products: forward Z = X.W, backward
 * dW += X^T.dZ and (except for the first layer, whose input is data)
 * dX = dZ.W^T, exactly the calls the matmul gate makes (an intermediate's
 * gradient is written by its first contribution, a weight's added to). */
static double gemm_epoch_run(gemm_epoch *e, size_t steps)
{
    double t0 = bench_now();
    for (size_t s = 0; s < steps; s++) {
        for (int i = 0; i < e->nlayers; i++) {
            layer_bufs *b = &e->l[i];
            ggk_gemm_f32(0, 0, BATCH, b->out, b->in, b->x, b->in, b->w, b->out, 0.0f, b->z, b->out);
        }
        for (int i = e->nlayers; i-- > 0;) {
            layer_bufs *b = &e->l[i];
            if (i > 0)
                ggk_gemm_f32(0, 1, BATCH, b->in, b->out, b->dz, b->out, b->w, b->out, 0.0f, b->dx, b->in);
            ggk_gemm_f32(1, 0, b->in, b->out, BATCH, b->x, b->in, b->dz, b->out, 1.0f, b->dw, b->out);
        }
    }
    return bench_now() - t0;
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
static int timed_reps(gg_classifier *c, const gg_dataset *train, gemm_epoch *ge, bench_torch *torch,
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
        res->gemm_s = fmin(res->gemm_s, gemm_epoch_run(ge, w.steps));
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
    gemm_epoch ge = {0};
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
    if (gemm_epoch_init(&ge, &spec)) {
        snprintf(err, GG_ERRLEN, "bench: out of memory for the matrix products");
        goto done;
    }
    rc = timed_reps(c, train, &ge, torch, reps, res, err);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    res->peak_rss_bytes = (size_t)ru.ru_maxrss * 1024;
done:
    gg_set_num_threads(threads);
    gg_classifier_free(c);
    free(ge.block);
    return rc;
}
