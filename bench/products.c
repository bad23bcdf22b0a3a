/* products.c - an MLP's matrix products alone, through the library's GEMM
 * with the shapes and flags the matmul gate uses: the floor under a
 * training step or a forward pass, which tells how far a whole step is
 * from it and how far the products alone are from PyTorch's whole step. */
#include <stdlib.h>

#include "bench.h"
#include "gategrad.h"
#include "kernels/kernels.h"

static int products_init(bench_products *p, const gg_mlp_spec *spec, size_t batch)
{
    size_t total = 0;
    *p = (bench_products){.nlayers = spec->nlayers, .batch = batch};
    for (int i = 0; i < p->nlayers; i++) {
        size_t in = (size_t)spec->sizes[i], out = (size_t)spec->sizes[i + 1];
        p->l[i] = (bench_layer_bufs){.in = in, .out = out};
        total += 2 * (batch * in + in * out + batch * out);
    }
    if (!(p->block = malloc(total * sizeof(float))))
        return -1;
    gg_rng r;
    gg_rng_seed(&r, 5);
    for (size_t i = 0; i < total; i++)
        p->block[i] = (float)(0.1 * gg_rng_uniform(&r));
    float *at = p->block;
    for (int i = 0; i < p->nlayers; i++) {
        bench_layer_bufs *b = &p->l[i];
        float **parts[] = {&b->x, &b->dx, &b->w, &b->dw, &b->z, &b->dz};
        size_t sizes[] = {batch * b->in, batch * b->in, b->in * b->out, b->in * b->out, batch * b->out,
                          batch * b->out};
        for (int k = 0; k < 6; k++) {
            *parts[k] = at;
            at += sizes[k];
        }
    }
    return 0;
}

int bench_products_init(bench_products *p, const char *model, size_t batch)
{
    gg_mlp_spec spec;
    char err[GG_ERRLEN];
    return gg_mlp_spec_parse(model, &spec, err) ? -1 : products_init(p, &spec, batch);
}

void bench_products_free(bench_products *p)
{
    free(p->block);
    p->block = NULL;
}

/* The forward products of rows samples: Z = X.W for every layer. */
static void forward(bench_products *p, size_t rows)
{
    for (int i = 0; i < p->nlayers; i++) {
        bench_layer_bufs *b = &p->l[i];
        ggk_gemm_f32(0, 0, rows, b->out, b->in, b->x, b->in, b->w, b->out, 0.0f, b->z, b->out);
    }
}

/* Backward: dW = X^T.dZ and (except for the first layer, whose input is
 * data) dX = dZ.W^T, exactly the calls the matmul gate makes in
 * gg_classifier_fit's steps: each is its gradient's first contribution (a
 * weight's gradient is left stale by the previous step's update, not
 * zeroed), so the product writes it instead of adding to it. */
static void backward(bench_products *p)
{
    size_t rows = p->batch;
    for (int i = p->nlayers; i-- > 0;) {
        bench_layer_bufs *b = &p->l[i];
        if (i > 0)
            ggk_gemm_f32(0, 1, rows, b->in, b->out, b->dz, b->out, b->w, b->out, 0.0f, b->dx, b->in);
        ggk_gemm_f32(1, 0, b->in, b->out, rows, b->x, b->in, b->dz, b->out, 0.0f, b->dw, b->out);
    }
}

double bench_products_train(bench_products *p, size_t steps)
{
    double t0 = bench_now();
    for (size_t s = 0; s < steps; s++) {
        forward(p, p->batch);
        backward(p);
    }
    return bench_now() - t0;
}

double bench_products_infer(bench_products *p, size_t samples)
{
    double t0 = bench_now();
    for (size_t done = 0; done < samples; done += p->batch)
        forward(p, samples - done < p->batch ? samples - done : p->batch);
    return bench_now() - t0;
}
