/* hvp.c - a Hessian-vector product of the MLP's loss (784-256-128-10, relu,
 * batch 128, f32, softmax cross-entropy) with respect to all six parameter
 * tensors, timed beside one first-order gradient (gg_forward + gg_zero_grad
 * + gg_backward) of the same loss in the same run. The HVP graph is
 * recorded once with gg_hvp and re-run with gg_forward, as a Newton-CG loop
 * re-runs it; its time includes the loss's forward and the recorded
 * gradient. */
#include <math.h>
#include <stdlib.h>

#include "bench.h"
#include "gategrad.h"

#define BATCH 128

static void fill(gg_node *n, gg_rng *r, double scale)
{
    float *p = gg_data(n);
    for (size_t i = 0; i < gg_numel(n); i++)
        p[i] = (float)(scale * (2 * gg_rng_uniform(r) - 1));
}

int bench_hvp(int quick, bench_hvp_result *res)
{
    static const int64_t sizes[4] = {784, 256, 128, 10};
    gg_rng r;
    gg_rng_seed(&r, 2026);
    gg_graph *g = gg_graph_new();
    if (!g)
        return -1;
    gg_node *x = gg_input(g, GG_F32, 2, (int64_t[]){BATCH, 784}, NULL);
    gg_node *lab = gg_input(g, GG_F32, 1, (int64_t[]){BATCH}, NULL);
    fill(x, &r, 1.0);
    for (size_t i = 0; i < BATCH; i++)
        ((float *)gg_data(lab))[i] = (float)gg_rng_below(&r, 10);
    gg_node *params[6], *v[6], *hv[6], *h = x;
    for (int l = 0; l < 3; l++) {
        gg_node *W = gg_tensor(g, GG_F32, 2, (int64_t[]){sizes[l], sizes[l + 1]}, NULL);
        gg_node *b = gg_tensor(g, GG_F32, 1, (int64_t[]){sizes[l + 1]}, NULL);
        fill(W, &r, sqrt(6.0 / (double)sizes[l]));
        fill(b, &r, 0.01);
        params[2 * l] = W, params[2 * l + 1] = b;
        h = gg_add(g, gg_matmul(g, h, W), b);
        if (l < 2)
            h = gg_relu(g, h);
    }
    gg_node *loss = gg_softmax_cross_entropy(g, h, lab);
    for (int i = 0; i < 6; i++) {
        int64_t d[4];
        int rank = gg_shape(params[i], d);
        v[i] = gg_input(g, GG_F32, rank, d, NULL);
        if (v[i])
            fill(v[i], &r, 1.0);
    }
    if (!loss || gg_hvp(g, loss, 6, params, v, hv)) {
        gg_graph_free(g);
        return -1;
    }
    gg_node *all = NULL; /* one root whose forward runs every H.v */
    for (int i = 0; i < 6; i++) {
        gg_node *s = gg_sum(g, hv[i]);
        all = all ? gg_add(g, all, s) : s;
    }
    res->nodes_loss = gg_node_id(loss) + 1;
    res->nodes_hvp = gg_node_count(g);
    int reps = quick ? 5 : 15;
    res->gradient_s = res->hvp_s = INFINITY;
    for (int k = 0; k < reps && all; k++) {
        double t0 = bench_now();
        gg_forward(g, loss);
        gg_zero_grad(g);
        gg_backward(g, loss);
        double t1 = bench_now();
        gg_forward(g, all);
        double t2 = bench_now();
        res->gradient_s = fmin(res->gradient_s, t1 - t0);
        res->hvp_s = fmin(res->hvp_s, t2 - t1);
    }
    res->checksum = all ? gg_value(all) : NAN;
    gg_graph_free(g);
    return all ? 0 : -1;
}
