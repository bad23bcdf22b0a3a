/* optim.c - optimizers over parameter leaves and learning-rate schedules.
 * The update rules are written out in gategrad/nn.h. */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "gategrad/nn.h"
#include "nn/nn_internal.h"

struct gg_optimizer {
    gg_opt_config cfg;
    gg_node **params;
    size_t n;
    double *m, *v; /* per element of all params together: moments / accumulators */
    size_t total;
    long t;        /* steps taken (adam's bias correction) */
};

static const char *const opt_names[] = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"};
#define NOPT (sizeof opt_names / sizeof *opt_names)

const char *gg_opt_name(gg_opt_kind kind) { return (unsigned)kind < NOPT ? opt_names[kind] : "?"; }

int gg_opt_parse(const char *name, gg_opt_kind *kind)
{
    for (size_t i = 0; name && i < NOPT; i++)
        if (!strcmp(name, opt_names[i])) {
            *kind = (gg_opt_kind)i;
            return 0;
        }
    return -1;
}

gg_opt_config gg_opt_defaults(gg_opt_kind kind)
{
    return (gg_opt_config){
        .kind = kind,
        .lr = kind == GG_OPT_ADAM ? 1e-3 : 1e-2,
        .momentum = 0.9,
        .rho = 0.9,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .eps = kind == GG_OPT_ADAGRAD ? 1e-10 : 1e-8,
    };
}

static int check_config(const gg_opt_config *c, char *err)
{
    const char *bad = (unsigned)c->kind >= NOPT ? "unknown kind"
                      : !(c->lr >= 0) ? "lr must be >= 0"
                      : !(c->momentum >= 0 && c->momentum < 1) ? "momentum must be in [0,1)"
                      : !(c->rho >= 0 && c->rho < 1) ? "rho must be in [0,1)"
                      : !(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1) ? "betas must be in [0,1)"
                      : !(c->eps >= 0) ? "eps must be >= 0"
                      : !(c->weight_decay >= 0) ? "weight_decay must be >= 0" : NULL;
    if (bad)
        gg__nn_err(err, "optimizer: %s", bad);
    return bad ? -1 : 0;
}

gg_optimizer *gg_optimizer_new(const gg_opt_config *cfg, gg_node *const *params, size_t n, char *err)
{
    if (!cfg || (n && !params) || check_config(cfg, err)) {
        if (!cfg || (n && !params))
            gg__nn_err(err, "optimizer: NULL config or parameter list");
        return NULL;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!params[i] || !gg_is_leaf(params[i]) || !gg_requires_grad(params[i])) {
            gg__nn_err(err, "optimizer: parameter %zu is not a variable leaf", i);
            return NULL;
        }
        total += gg_numel(params[i]);
    }
    gg_optimizer *o = gg__calloc(1, sizeof *o);
    if (o) {
        o->params = gg__malloc((n ? n : 1) * sizeof *o->params);
        o->m = gg__calloc(total ? total : 1, sizeof *o->m);
        o->v = gg__calloc(total ? total : 1, sizeof *o->v);
    }
    if (!o || !o->params || !o->m || !o->v) {
        gg_optimizer_free(o);
        gg__nn_err(err, "optimizer: out of memory for the state of %zu parameters", total);
        return NULL;
    }
    memcpy(o->params, params, n * sizeof *params);
    o->cfg = *cfg;
    o->n = n;
    o->total = total;
    return o;
}

void gg_optimizer_free(gg_optimizer *o)
{
    if (!o)
        return;
    gg__free(o->params);
    gg__free(o->m);
    gg__free(o->v);
    gg__free(o);
}

void gg_optimizer_set_lr(gg_optimizer *o, double lr) { o->cfg.lr = lr; }
double gg_optimizer_lr(const gg_optimizer *o) { return o->cfg.lr; }

/* The change to one element w with gradient g and state m, v. */
static double delta(const gg_optimizer *o, double w, double g, double *m, double *v, double c1, double c2)
{
    const gg_opt_config *c = &o->cfg;
    g += c->weight_decay * w;
    switch (c->kind) {
    case GG_OPT_SGD:
        return -c->lr * g;
    case GG_OPT_MOMENTUM:
        *m = c->momentum * *m + g;
        return -c->lr * *m;
    case GG_OPT_NESTEROV:
        *m = c->momentum * *m + g;
        return -c->lr * (g + c->momentum * *m);
    case GG_OPT_ADAGRAD:
        *v += g * g;
        return -c->lr * g / (sqrt(*v) + c->eps);
    case GG_OPT_RMSPROP:
        *v = c->rho * *v + (1 - c->rho) * g * g;
        return -c->lr * g / (sqrt(*v) + c->eps);
    case GG_OPT_ADAM:
        *m = c->beta1 * *m + (1 - c->beta1) * g;
        *v = c->beta2 * *v + (1 - c->beta2) * g * g;
        return -c->lr * (*m / c1) / (sqrt(*v / c2) + c->eps);
    }
    return 0;
}

void gg_optimizer_step(gg_optimizer *o)
{
    o->t++;
    double c1 = 1 - pow(o->cfg.beta1, (double)o->t), c2 = 1 - pow(o->cfg.beta2, (double)o->t);
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++) {
        gg_node *p = o->params[i];
        size_t cnt = gg_numel(p);
        if (gg_node_dtype(p) == GG_F64) {
            double *w = gg_data(p), *g = gg_grad_data(p);
            for (size_t j = 0; j < cnt; j++, k++)
                w[j] += delta(o, w[j], g[j], &o->m[k], &o->v[k], c1, c2);
        } else {
            float *w = gg_data(p), *g = gg_grad_data(p);
            for (size_t j = 0; j < cnt; j++, k++)
                w[j] = (float)(w[j] + delta(o, w[j], g[j], &o->m[k], &o->v[k], c1, c2));
        }
    }
}

void gg_optimizer_zero_grad(gg_optimizer *o)
{
    for (size_t i = 0; i < o->n; i++)
        memset(gg_grad_data(o->params[i]), 0, gg_numel(o->params[i]) * gg_dtype_size(gg_node_dtype(o->params[i])));
}

double gg_schedule_lr(const gg_schedule *s, double base_lr, size_t t, size_t total)
{
    if (!s)
        return base_lr;
    switch (s->kind) {
    case GG_SCHED_STEP:
        return base_lr * pow(s->gamma, (double)(s->step_size ? t / s->step_size : 0));
    case GG_SCHED_COSINE: {
        double frac = total ? (double)(t < total ? t : total) / (double)total : 1.0;
        return base_lr * (s->min_factor + (1 - s->min_factor) * 0.5 * (1 + cos(3.14159265358979323846 * frac)));
    }
    case GG_SCHED_CONSTANT:
        break;
    }
    return base_lr;
}
