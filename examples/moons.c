/* moons.c - micrograd's demo, one scalar at a time: a 2-16-16-1 MLP
 * separates two interleaved half-moons.
 *
 * As in micrograd's demo.ipynb: 100 points of make_moons (noise 0.1) with
 * labels -1 and +1, ReLU hidden layers, a linear output whose sign is the
 * class, the SVM max-margin loss mean(relu(1 - y * score)) plus
 * 1e-4 * sum(p * p), and 100 steps of plain SGD whose learning rate decays
 * from 1.0 to 0.1. Every weight, every product and every sum is a scalar
 * node (gg_scalar, gg_mul, gg_add, gg_relu): about 65,000 of them. The
 * graph is recorded once; each step runs it again: forward, zero the
 * gradients, backward, and move every parameter against its gradient. */
#include <gategrad.h>
#include <math.h>
#include <stdio.h>

#include "moons_data.h"

enum { POINTS = 100, H = 16, STEPS = 100 };

/* The parameters, micrograd's way: weights uniform in [-1, 1], biases 0. */
typedef struct mlp {
    gg_node *w1[H][2], *b1[H], *w2[H][H], *b2[H], *w3[H], *b3;
    gg_node *params[H * 2 + H + H * H + H + H + 1];
    int nparams;
} mlp;

static gg_node *param(gg_graph *g, mlp *m, gg_rng *r, bool bias)
{
    return m->params[m->nparams++] = gg_scalar(g, bias ? 0 : 2 * gg_rng_uniform(r) - 1);
}

static void mlp_init(gg_graph *g, mlp *m, uint64_t seed)
{
    gg_rng r;
    gg_rng_seed(&r, seed);
    m->nparams = 0;
    for (int j = 0; j < H; j++) {
        for (int i = 0; i < 2; i++)
            m->w1[j][i] = param(g, m, &r, false);
        m->b1[j] = param(g, m, &r, true);
    }
    for (int j = 0; j < H; j++) {
        for (int i = 0; i < H; i++)
            m->w2[j][i] = param(g, m, &r, false);
        m->b2[j] = param(g, m, &r, true);
    }
    for (int i = 0; i < H; i++)
        m->w3[i] = param(g, m, &r, false);
    m->b3 = param(g, m, &r, true);
}

/* One neuron: b + w[0] * x[0] + ... + w[n-1] * x[n-1], through a ReLU or not. */
static gg_node *neuron(gg_graph *g, gg_node *const *w, gg_node *b, gg_node *const *x, int n, bool relu)
{
    gg_node *sum = b;
    for (int i = 0; i < n; i++)
        sum = gg_add(g, sum, gg_mul(g, w[i], x[i]));
    return relu ? gg_relu(g, sum) : sum;
}

static gg_node *score(gg_graph *g, const mlp *m, const double point[2])
{
    gg_node *x[2] = {gg_const(g, point[0]), gg_const(g, point[1])}, *h1[H], *h2[H];
    for (int j = 0; j < H; j++)
        h1[j] = neuron(g, m->w1[j], m->b1[j], x, 2, true);
    for (int j = 0; j < H; j++)
        h2[j] = neuron(g, m->w2[j], m->b2[j], h1, H, true);
    return neuron(g, m->w3, m->b3, h2, H, false);
}

/* mean(relu(1 - y * score)) + 1e-4 * sum(p * p); the scores into scores[]. */
static gg_node *loss(gg_graph *g, const mlp *m, double x[POINTS][2], const double *y, gg_node **scores)
{
    gg_node *data = gg_const(g, 0);
    for (int i = 0; i < POINTS; i++) {
        scores[i] = score(g, m, x[i]);
        gg_node *margin = gg_add(g, gg_const(g, 1), gg_mul(g, gg_const(g, -y[i]), scores[i]));
        data = gg_add(g, data, gg_relu(g, margin));
    }
    gg_node *reg = gg_const(g, 0);
    for (int k = 0; k < m->nparams; k++)
        reg = gg_add(g, reg, gg_mul(g, m->params[k], m->params[k]));
    return gg_add(g, gg_mul(g, data, gg_const(g, 1.0 / POINTS)), gg_mul(g, reg, gg_const(g, 1e-4)));
}

int main(void)
{
    double x[POINTS][2], y[POINTS];
    make_moons(POINTS, x, y, 0.1, 1);
    gg_graph *g = gg_graph_new();
    mlp m;
    mlp_init(g, &m, 1337);
    gg_node *scores[POINTS], *total = loss(g, &m, x, y, scores);
    if (!total) {
        fprintf(stderr, "moons: %s\n", gg_error(g));
        return 1;
    }
    printf("%d parameters, %zu nodes\n", m.nparams, gg_node_count(g));

    for (int step = 0; step < STEPS; step++) {
        if (gg_forward(g, total)) {
            fprintf(stderr, "moons: %s\n", gg_error(g));
            return 1;
        }
        gg_zero_grad(g);
        gg_backward(g, total);
        int right = 0;
        for (int i = 0; i < POINTS; i++)
            right += (gg_value(scores[i]) > 0) == (y[i] > 0);
        double lr = 1.0 - 0.9 * step / STEPS;
        for (int k = 0; k < m.nparams; k++)
            gg_set_value(g, m.params[k], gg_value(m.params[k]) - lr * gg_grad(m.params[k]));
        if (step % 10 == 0 || step == STEPS - 1)
            printf("step %2d  loss %.6f  accuracy %d%%\n", step, gg_value(total), right * 100 / POINTS);
    }
    gg_graph_free(g);
    return 0;
}
