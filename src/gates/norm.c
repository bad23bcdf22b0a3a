/* norm.c - batch normalization over the rows of a [batch, features]
 * matrix, as torch.nn.BatchNorm1d computes it, in both modes.
 *
 * Inputs: x [B, F], gamma [F], beta [F], running_mean [F], running_var [F],
 * rows [B] and mode (rank 0 or [1]); params eps, momentum.
 *   training (mode != 0): over the rows r whose rows[r] >= 0 (the others,
 *     a padded batch's filler or rows labelled -1, take no part), per
 *     feature mean m and biased variance v; y = gamma (x - m) / sqrt(v + eps)
 *     + beta for every row; and the running statistics move towards the
 *     batch's: rm = (1 - momentum) rm + momentum m, rv = (1 - momentum) rv +
 *     momentum v * n / (n - 1) (the unbiased variance, as PyTorch; n rows
 *     counted; v itself when n = 1). Every forward in this mode updates them.
 *     No counted row: the running statistics normalize, unchanged.
 *   evaluation (mode = 0): y = gamma (x - rm) / sqrt(rv + eps) + beta.
 * Gradients reach x, gamma and beta (the running statistics, rows and mode
 * are constants: they receive none). Arithmetic in double. */
#include <math.h>

#include "gates/gates.h"

typedef struct bn_view {
    gg_node *x, *gamma, *beta, *rm, *rv, *rows, *mode;
    size_t b, f;
    double eps, momentum;
    bool training;
} bn_view;

static bn_view bn_of(const gg_node *z)
{
    bn_view v = {ggc_in(z, 0), ggc_in(z, 1), ggc_in(z, 2), ggc_in(z, 3), ggc_in(z, 4), ggc_in(z, 5),
                 ggc_in(z, 6), 0, 0, z->param.aux->p[0], z->param.aux->p[1], false};
    const int64_t *d = ggc_dims(v.x);
    v.b = (size_t)d[0];
    v.f = (size_t)d[1];
    v.training = ggb_get(v.mode->dtype, ggc_val(v.mode), 0) != 0;
    return v;
}

static bool counted(const bn_view *v, size_t r)
{
    return ggb_get(v->rows->dtype, ggc_val(v->rows), r) >= 0;
}

/* Feature j's mean and biased variance over the counted rows; their count. */
static size_t batch_stats(const bn_view *v, size_t j, double *mean, double *var)
{
    const void *px = ggc_val(v->x);
    size_t n = 0;
    double s = 0, ss = 0;
    for (size_t r = 0; r < v->b; r++)
        if (counted(v, r)) {
            s += ggb_get(v->x->dtype, px, r * v->f + j);
            n++;
        }
    *mean = n ? s / (double)n : 0;
    for (size_t r = 0; r < v->b; r++)
        if (counted(v, r)) {
            double d = ggb_get(v->x->dtype, px, r * v->f + j) - *mean;
            ss += d * d;
        }
    *var = n ? ss / (double)n : 0;
    return n;
}

/* The mean and variance that normalize feature j in v's mode. */
static size_t used_stats(const bn_view *v, size_t j, double *mean, double *var)
{
    size_t n = v->training ? batch_stats(v, j, mean, var) : 0;
    if (!n) {
        *mean = ggb_get(v->rm->dtype, ggc_val(v->rm), j);
        *var = ggb_get(v->rv->dtype, ggc_val(v->rv), j);
    }
    return n;
}

static void bn_forward(gg_node *z)
{
    bn_view v = bn_of(z);
    const void *px = ggc_val(v.x);
    void *pz = ggc_val(z);
    for (size_t j = 0; j < v.f; j++) {
        double mean, var;
        size_t n = used_stats(&v, j, &mean, &var);
        double istd = 1 / sqrt(var + v.eps);
        double gam = ggb_get(v.gamma->dtype, ggc_val(v.gamma), j);
        double bet = ggb_get(v.beta->dtype, ggc_val(v.beta), j);
        for (size_t r = 0; r < v.b; r++) {
            size_t k = r * v.f + j;
            ggb_put(z->dtype, pz, k, gam * (ggb_get(v.x->dtype, px, k) - mean) * istd + bet);
        }
        if (n) {
            double unbiased = n > 1 ? var * (double)n / (double)(n - 1) : var;
            void *prm = ggc_val(v.rm), *prv = ggc_val(v.rv);
            ggb_put(v.rm->dtype, prm, j, (1 - v.momentum) * ggb_get(v.rm->dtype, prm, j) + v.momentum * mean);
            ggb_put(v.rv->dtype, prv, j,
                    (1 - v.momentum) * ggb_get(v.rv->dtype, prv, j) + v.momentum * unbiased);
        }
    }
}

/* With xh = (x - m) istd and dy the upstream gradient, summed over all
 * rows: dgamma = sum dy xh, dbeta = sum dy; dx_r = gamma istd dy_r, plus
 * for counted rows in training (m and v depend on them)
 * (dmean + dvar 2 (x_r - m)) / n with dvar = -istd^3 / 2 sum gamma dy (x - m)
 * and dmean = -istd sum gamma dy (the variance term of dmean vanishes:
 * the deviations of counted rows sum to 0). */
static void bn_backward(gg_node *z)
{
    bn_view v = bn_of(z);
    const void *px = ggc_val(v.x), *gz = ggc_grad(z);
    void *gx = ggc_grad(v.x), *gg = ggc_grad(v.gamma), *gb = ggc_grad(v.beta);
    for (size_t j = 0; j < v.f; j++) {
        double mean, var;
        size_t n = v.training ? batch_stats(&v, j, &mean, &var) : 0;
        if (!n)
            used_stats(&v, j, &mean, &var);
        double istd = 1 / sqrt(var + v.eps);
        double gam = ggb_get(v.gamma->dtype, ggc_val(v.gamma), j);
        double sdy = 0, sdyxh = 0;
        for (size_t r = 0; r < v.b; r++) {
            size_t k = r * v.f + j;
            double dy = ggb_get(z->dtype, gz, k);
            sdy += dy;
            sdyxh += dy * (ggb_get(v.x->dtype, px, k) - mean) * istd;
        }
        if (gg)
            ggb_add(v.gamma->dtype, gg, j, sdyxh);
        if (gb)
            ggb_add(v.beta->dtype, gb, j, sdy);
        if (!gx)
            continue;
        double dmean = -istd * gam * sdy, dvar = -0.5 * istd * istd * gam * sdyxh;
        for (size_t r = 0; r < v.b; r++) {
            size_t k = r * v.f + j;
            double d = gam * istd * ggb_get(z->dtype, gz, k);
            if (n && counted(&v, r))
                d += (dmean + dvar * 2 * (ggb_get(v.x->dtype, px, k) - mean)) / (double)n;
            ggb_add(v.x->dtype, gx, k, d);
        }
    }
}

static bool bn_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *x = ggc_in(z, 0);
    char s[7][64];
    for (int i = 0; i < 7; i++)
        gg_shape_str(ggc_in(z, i), s[i], sizeof s[i]);
    const int64_t *d = ggc_dims(x);
    bool ok = x->rank == 2;
    for (int i = 1; ok && i <= 4; i++)
        ok = ggc_in(z, i)->rank == 1 && ggc_dims(ggc_in(z, i))[0] == d[1];
    ok = ok && ggc_in(z, 5)->rank == 1 && ggc_dims(ggc_in(z, 5))[0] == d[0] && ggc_numel(ggc_in(z, 6)) == 1;
    if (!ok) {
        ggc_fail(g, "batch_norm: x %s, gamma %s, beta %s, running_mean %s, running_var %s, rows %s, mode %s: "
                 "expected x [batch, features], the next four [features], rows [batch], mode one number",
                 s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
        return false;
    }
    const double *p = z->param.aux->p;
    if (!(p[0] > 0) || !(p[1] >= 0 && p[1] <= 1)) {
        ggc_fail(g, "batch_norm: eps %g must be > 0 and momentum %g in [0, 1]", p[0], p[1]);
        return false;
    }
    if (ggc_needs_grad(ggc_in(z, 3)) || ggc_needs_grad(ggc_in(z, 4))) {
        ggc_fail(g, "batch_norm: the running statistics must be constants (gg_input), not variables");
        return false;
    }
    return ggg_same_shape(g, z, out);
}

/* The recording backward, in the mode and with the counted rows of the
 * recording (a training recording with no counted row, like the forward,
 * uses the running statistics). With c the counted-row mask, n = sum(c),
 * xh the normalized x, istd = 1 / sqrt(var + eps) and dxh = up * gamma:
 *   training:   dx = istd (dxh - c sum(dxh) / n - c xh sum(dxh xh) / n)
 *   evaluation: dx = istd dxh
 * sums over the rows; dgamma = sum(up xh), dbeta = sum(up). m, var and xh
 * are recorded from x, so the result differentiates again. */
static bool bn_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    bn_view v = bn_of(z);
    int64_t col[2] = {(int64_t)v.b, 1};
    gg_node *c = gg_reshape(g, gg_step(g, gg_add(g, v.rows, ggg_k(g, v.rows, 0.5))), 2, col);
    double n = 0;
    for (size_t r = 0; r < v.b; r++)
        n += counted(&v, r);
    gg_node *x = v.x, *xh, *istd, *dxh = gg_mul(g, up, v.gamma), *dx;
    if (v.training && n > 0) {
        gg_node *inv_n = ggg_k(g, x, 1.0 / n);
        gg_node *m = gg_mul(g, gg_sum_axis(g, gg_mul(g, c, x), 0, 1), inv_n);
        gg_node *d = gg_sub(g, x, m);
        gg_node *var = gg_mul(g, gg_sum_axis(g, gg_mul(g, c, gg_mul(g, d, d)), 0, 1), inv_n);
        istd = gg_pow(g, gg_add(g, var, ggg_k(g, x, v.eps)), -0.5);
        xh = gg_mul(g, d, istd);
        gg_node *s1 = gg_mul(g, gg_sum_axis(g, dxh, 0, 1), inv_n);
        gg_node *s2 = gg_mul(g, gg_sum_axis(g, gg_mul(g, dxh, xh), 0, 1), inv_n);
        gg_node *shares = gg_mul(g, c, gg_add(g, s1, gg_mul(g, xh, s2)));
        dx = gg_mul(g, istd, gg_sub(g, dxh, shares));
    } else {
        istd = gg_pow(g, gg_add(g, v.rv, ggg_k(g, x, v.eps)), -0.5);
        xh = gg_mul(g, gg_sub(g, x, v.rm), istd);
        dx = gg_mul(g, istd, dxh);
    }
    din[0] = dx;
    din[1] = gg_sum_axis(g, gg_mul(g, up, xh), 0, 0);
    din[2] = gg_sum_axis(g, up, 0, 0);
    return din[0] && din[1] && din[2];
}

const ggc_gate ggg_gate_batch_norm = {
    .name = "batch_norm",
    .arity = 7,
    .param = GGC_PARAM_NUMBER,
    .nparams = 2,
    .ordered = true,
    .wire = {"x", "gamma", "beta"},
    .rule = "normalizer: each feature of x receives gamma / std times the upstream gradient, less (in "
            "training) its shares of the batch mean's and variance's gradients; gamma receives the "
            "upstream gradient times the normalized x, beta the upstream gradient, summed over the rows",
    .shape = bn_shape,
    .forward = bn_forward,
    .backward = bn_backward,
    .grad = bn_grad,
};

gg_node *gg_batch_norm(gg_graph *g, gg_node *x, gg_node *gamma, gg_node *beta, gg_node *running_mean,
                       gg_node *running_var, gg_node *rows, gg_node *mode, double eps, double momentum)
{
    gg_node *in[7] = {x, gamma, beta, running_mean, running_var, rows, mode};
    return ggc_record_n(g, GG_GATE_batch_norm, 7, in, (const double[]){eps, momentum}, 2, NULL);
}
