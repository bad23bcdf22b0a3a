/* moons.c - micrograd's moons demo (examples/moons.c: a 2-16-16-1 ReLU
 * MLP of scalar nodes, max-margin loss, SGD on 100 points) timed per
 * training step, the graph recorded once and re-run, against the same
 * forward and backward written by hand over C arrays. */
#include <math.h>
#include <string.h>

#include "bench.h"
#include "gategrad.h"
#include "moons_data.h"

enum { POINTS = 100, H = 16, STEPS = 100, NPARAMS = H * 2 + H + H * H + H + H + 1 };

/* The parameters in the example's order: per hidden unit of layer 1 its
 * two weights and bias, then layer 2's sixteen weights and bias per unit,
 * then the output's weights and bias. */
typedef struct moons_params {
    double w1[H][2], b1[H], w2[H][H], b2[H], w3[H], b3;
} moons_params;

static void init_params(moons_params *p)
{
    gg_rng r;
    gg_rng_seed(&r, 1337);
    for (int j = 0; j < H; j++) {
        for (int i = 0; i < 2; i++)
            p->w1[j][i] = 2 * gg_rng_uniform(&r) - 1;
        p->b1[j] = 0;
    }
    for (int j = 0; j < H; j++) {
        for (int i = 0; i < H; i++)
            p->w2[j][i] = 2 * gg_rng_uniform(&r) - 1;
        p->b2[j] = 0;
    }
    for (int i = 0; i < H; i++)
        p->w3[i] = 2 * gg_rng_uniform(&r) - 1;
    p->b3 = 0;
}

/* Views moons_params as its NPARAMS numbers, in the example's order. */
static double *param_at(moons_params *p, int k)
{
    if (k < 3 * H)
        return k % 3 < 2 ? &p->w1[k / 3][k % 3] : &p->b1[k / 3];
    k -= 3 * H;
    if (k < (H + 1) * H)
        return k % (H + 1) < H ? &p->w2[k / (H + 1)][k % (H + 1)] : &p->b2[k / (H + 1)];
    k -= (H + 1) * H;
    return k < H ? &p->w3[k] : &p->b3;
}

/* ---- The reference: the same arithmetic over arrays ---------------------- */

typedef struct moons_ref {
    moons_params p, grad;
    double z1[POINTS][H], z2[POINTS][H], score[POINTS]; /* pre-activations */
} moons_ref;

static double ref_forward(moons_ref *m, double x[POINTS][2], const double *y)
{
    const moons_params *p = &m->p;
    double data = 0;
    for (int n = 0; n < POINTS; n++) {
        double h1[H], h2[H];
        for (int j = 0; j < H; j++) {
            double s = p->b1[j] + p->w1[j][0] * x[n][0];
            s = s + p->w1[j][1] * x[n][1];
            m->z1[n][j] = s;
            h1[j] = s > 0 ? s : 0;
        }
        for (int j = 0; j < H; j++) {
            double s = p->b2[j];
            for (int i = 0; i < H; i++)
                s = s + p->w2[j][i] * h1[i];
            m->z2[n][j] = s;
            h2[j] = s > 0 ? s : 0;
        }
        double s = p->b3;
        for (int i = 0; i < H; i++)
            s = s + p->w3[i] * h2[i];
        m->score[n] = s;
        double margin = 1 + -y[n] * s;
        data = data + (margin > 0 ? margin : 0);
    }
    double reg = 0;
    for (int k = 0; k < NPARAMS; k++) {
        double v = *param_at(&m->p, k);
        reg = reg + v * v;
    }
    return data * (1.0 / POINTS) + reg * 1e-4;
}

static void ref_backward(moons_ref *m, double x[POINTS][2], const double *y)
{
    const moons_params *p = &m->p;
    moons_params *g = &m->grad;
    memset(g, 0, sizeof *g);
    for (int k = 0; k < NPARAMS; k++)
        *param_at(g, k) = 2e-4 * *param_at(&m->p, k);
    for (int n = 0; n < POINTS; n++) {
        if (1 + -y[n] * m->score[n] <= 0)
            continue;
        double ds = -y[n] * (1.0 / POINTS), dh2[H], dh1[H] = {0};
        for (int i = 0; i < H; i++) {
            double h2 = m->z2[n][i] > 0 ? m->z2[n][i] : 0;
            g->w3[i] += ds * h2;
            dh2[i] = m->z2[n][i] > 0 ? ds * p->w3[i] : 0;
        }
        g->b3 += ds;
        for (int j = 0; j < H; j++) {
            if (dh2[j] == 0)
                continue;
            for (int i = 0; i < H; i++) {
                double h1 = m->z1[n][i] > 0 ? m->z1[n][i] : 0;
                g->w2[j][i] += dh2[j] * h1;
                dh1[i] += dh2[j] * p->w2[j][i];
            }
            g->b2[j] += dh2[j];
        }
        for (int j = 0; j < H; j++) {
            if (m->z1[n][j] <= 0)
                continue;
            g->w1[j][0] += dh1[j] * x[n][0];
            g->w1[j][1] += dh1[j] * x[n][1];
            g->b1[j] += dh1[j];
        }
    }
}

static int accuracy(const double *score, const double *y)
{
    int right = 0;
    for (int n = 0; n < POINTS; n++)
        right += (score[n] > 0) == (y[n] > 0);
    return right;
}

/* Trains from the first weights; the last step's loss and right answers. */
static double ref_train(moons_ref *m, double x[POINTS][2], const double *y, int *right)
{
    init_params(&m->p);
    double loss = 0;
    for (int step = 0; step < STEPS; step++) {
        loss = ref_forward(m, x, y);
        *right = accuracy(m->score, y);
        ref_backward(m, x, y);
        double lr = 1.0 - 0.9 * step / STEPS;
        for (int k = 0; k < NPARAMS; k++)
            *param_at(&m->p, k) -= lr * *param_at(&m->grad, k);
    }
    return loss;
}

/* ---- The engine: the example's graph ------------------------------------ */

typedef struct moons_graph {
    gg_graph *g;
    gg_node *params[NPARAMS], *scores[POINTS], *total;
} moons_graph;

static gg_node *neuron(gg_graph *g, gg_node *const *w, gg_node *b, gg_node *const *x, int n, bool relu)
{
    gg_node *sum = b;
    for (int i = 0; i < n; i++)
        sum = gg_add(g, sum, gg_mul(g, w[i], x[i]));
    return relu ? gg_relu(g, sum) : sum;
}

static int build_graph(moons_graph *m, double x[POINTS][2], const double *y)
{
    gg_graph *g = m->g = gg_graph_new();
    moons_params first;
    init_params(&first);
    for (int k = 0; k < NPARAMS; k++)
        m->params[k] = gg_scalar(g, *param_at(&first, k));
    gg_node **w1 = m->params, **w2 = m->params + 3 * H, **w3 = w2 + (H + 1) * H;
    gg_node *data = gg_const(g, 0);
    for (int n = 0; n < POINTS; n++) {
        gg_node *in[2] = {gg_const(g, x[n][0]), gg_const(g, x[n][1])}, *h1[H], *h2[H];
        for (int j = 0; j < H; j++)
            h1[j] = neuron(g, w1 + 3 * j, w1[3 * j + 2], in, 2, true);
        for (int j = 0; j < H; j++)
            h2[j] = neuron(g, w2 + (H + 1) * j, w2[(H + 1) * j + H], h1, H, true);
        m->scores[n] = neuron(g, w3, w3[H], h2, H, false);
        gg_node *margin = gg_add(g, gg_const(g, 1), gg_mul(g, gg_const(g, -y[n]), m->scores[n]));
        data = gg_add(g, data, gg_relu(g, margin));
    }
    gg_node *reg = gg_const(g, 0);
    for (int k = 0; k < NPARAMS; k++)
        reg = gg_add(g, reg, gg_mul(g, m->params[k], m->params[k]));
    m->total = gg_add(g, gg_mul(g, data, gg_const(g, 1.0 / POINTS)), gg_mul(g, reg, gg_const(g, 1e-4)));
    return m->total ? 0 : -1;
}

static int engine_step(moons_graph *m, int step)
{
    if (gg_forward(m->g, m->total))
        return -1;
    gg_zero_grad(m->g);
    if (gg_backward(m->g, m->total))
        return -1;
    double lr = 1.0 - 0.9 * step / STEPS;
    for (int k = 0; k < NPARAMS; k++)
        gg_set_value(m->g, m->params[k], gg_value(m->params[k]) - lr * gg_grad(m->params[k]));
    return 0;
}

/* Trains from the first weights, counting the allocations of the steps
 * after the first into *allocs; the last step's loss and right answers. */
static double engine_train(moons_graph *m, const double *y, int *right, long *allocs)
{
    moons_params first;
    init_params(&first);
    for (int k = 0; k < NPARAMS; k++)
        gg_set_value(m->g, m->params[k], *param_at(&first, k));
    double loss = NAN, score[POINTS];
    long before = 0;
    for (int step = 0; step < STEPS; step++) {
        if (step == 1)
            before = bench_alloc_count();
        if (engine_step(m, step))
            return NAN;
        loss = gg_value(m->total);
        if (step == STEPS - 1)
            for (int n = 0; n < POINTS; n++)
                score[n] = gg_value(m->scores[n]);
    }
    *allocs = before < 0 ? -1 : bench_alloc_count() - before;
    *right = accuracy(score, y);
    return loss;
}

int bench_moons(int reps, bench_moons_result *res)
{
    double x[POINTS][2], y[POINTS];
    make_moons(POINTS, x, y, 0.1, 1); /* the example's points */
    static moons_ref ref;
    moons_graph m = {0};
    *res = (bench_moons_result){.points = POINTS, .steps = STEPS, .engine_s = INFINITY, .ref_s = INFINITY};
    int rc = -1;
    if (build_graph(&m, x, y))
        goto done;
    res->nodes = gg_node_count(m.g);
    for (int r = 0; r < reps; r++) {
        long allocs = 0;
        double t0 = bench_now();
        res->engine_loss = engine_train(&m, y, &res->engine_right, &allocs);
        double t1 = bench_now();
        res->ref_loss = ref_train(&ref, x, y, &res->ref_right);
        double t2 = bench_now();
        if (isnan(res->engine_loss))
            goto done;
        res->engine_s = fmin(res->engine_s, (t1 - t0) / STEPS);
        res->ref_s = fmin(res->ref_s, (t2 - t1) / STEPS);
        res->allocs = r == 0 || allocs < 0 || res->allocs < 0 ? allocs : res->allocs + allocs;
    }
    rc = 0;
done:
    gg_graph_free(m.g);
    return rc;
}
