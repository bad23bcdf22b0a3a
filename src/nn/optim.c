/* optim.c - optimizers over parameter leaves and learning-rate schedules.
 * The update rules are written out in gategrad/nn.h. */
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "gategrad/nn.h"
#include "gategrad/threads.h"
#include "kernels/kernels.h"
#include "nn/nn.h"

/* One step's constants, hoisted out of the loops. */
typedef struct opt_coeffs {
    gg_opt_kind kind;
    double lr, wd, momentum, rho, beta1, beta2, eps;
    double adam_step;   /* lr / (1 - beta1^t) */
    double adam_unbias; /* 1 / sqrt(1 - beta2^t) */
} opt_coeffs;

#define OPT_CAT2(a, b) a##b
#define OPT_CAT(a, b) OPT_CAT2(a, b)
#define OT float
#define OS f32
#define OSQRT sqrtf
#include "nn/optim_step.inc"
#undef OT
#undef OS
#undef OSQRT
#define OT double
#define OS f64
#define OSQRT sqrt
#include "nn/optim_step.inc"
#undef OT
#undef OS
#undef OSQRT

/* A parameter, its gradient and its state (in the parameter's dtype). */
typedef struct opt_slot {
    gg_node *param;
    size_t numel;
    bool f64;
    void *w, *g, *m, *v;
} opt_slot;

struct gg_optimizer {
    gg_opt_config cfg;
    opt_slot *slots;
    size_t n, total;
    void *state; /* every slot's m and v, one block */
    /* How a step is shared out. A parameter of more than one block, big[b],
     * is dealt out block by block: spans[b * GG_MAX_THREADS + share] holds
     * share's blocks [lo, hi) not yet claimed, lo in the low 32 bits. The
     * others are claimed whole, in bundles of at least a block's elements:
     * bundle k is small[bundle[k] .. bundle[k + 1]). */
    size_t *big, *small, *bundle;
    size_t nbig, nbundles;
    _Atomic uint64_t *spans;
    atomic_size_t next_bundle;
    int nshares; /* shares of the step in progress */
    long t;      /* steps taken (adam's bias correction) */
    opt_coeffs k; /* the step in progress */
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
        ggb_errorf(err, "optimizer: %s", bad);
    return bad ? -1 : 0;
}

/* Bytes of one state array of a parameter, rounded up to a cache line. */
static size_t state_bytes(gg_node *p)
{
    return (gg_numel(p) * gg_dtype_size(gg_node_dtype(p)) + 63) / 64 * 64;
}

/* The slots over params, their m and v carved from one zeroed block. */
static bool make_slots(gg_optimizer *o, gg_node *const *params, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += 2 * state_bytes(params[i]);
    o->slots = ggb_calloc(n ? n : 1, sizeof *o->slots);
    o->state = ggb_aligned_alloc(64, bytes ? bytes : 64);
    if (!o->slots || !o->state)
        return false;
    memset(o->state, 0, bytes);
    char *at = o->state;
    for (size_t i = 0; i < n; i++) {
        gg_node *p = params[i];
        opt_slot *s = &o->slots[i];
        *s = (opt_slot){p, gg_numel(p), gg_node_dtype(p) == GG_F64, gg_data(p), gg_grad_data(p), at,
                        at + state_bytes(p)};
        at += 2 * state_bytes(p);
    }
    return true;
}

/* Elements of a parameter claimed at a time. Each thread works through its
 * share of every big parameter from the front, then claims bundles of the
 * small ones, then takes what is left of the other shares from their back
 * ends: a thread the machine delays holds the step back by one block at
 * most, and each share is mostly updated by the thread whose product wrote
 * its gradient. Which thread updates an element never changes its
 * arithmetic. */
#define OPT_BLOCK 4096

/* Sorts the slots into big and small, and the small ones into bundles. */
static bool plan_sharing(gg_optimizer *o)
{
    size_t n = o->n ? o->n : 1;
    o->big = ggb_malloc(n * sizeof *o->big);
    o->small = ggb_malloc(n * sizeof *o->small);
    o->bundle = ggb_malloc((n + 1) * sizeof *o->bundle);
    if (!o->big || !o->small || !o->bundle)
        return false;
    size_t nsmall = 0, in_bundle = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (o->slots[i].numel > OPT_BLOCK) {
            o->big[o->nbig++] = i;
            continue;
        }
        if (in_bundle == 0)
            o->bundle[o->nbundles++] = nsmall;
        o->small[nsmall++] = i;
        in_bundle += o->slots[i].numel;
        if (in_bundle >= OPT_BLOCK)
            in_bundle = 0;
    }
    o->bundle[o->nbundles] = nsmall;
    o->spans = ggb_calloc((o->nbig ? o->nbig : 1) * GG_MAX_THREADS, sizeof *o->spans);
    return o->spans != NULL;
}

gg_optimizer *gg_optimizer_new(const gg_opt_config *cfg, gg_node *const *params, size_t n, char *err)
{
    if (!cfg || (n && !params) || check_config(cfg, err)) {
        if (!cfg || (n && !params))
            ggb_errorf(err, "optimizer: NULL config or parameter list");
        return NULL;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!params[i] || !gg_is_leaf(params[i]) || !gg_requires_grad(params[i])) {
            ggb_errorf(err, "optimizer: parameter %zu is not a variable leaf", i);
            return NULL;
        }
        total += gg_numel(params[i]);
    }
    gg_optimizer *o = ggb_calloc(1, sizeof *o);
    if (o)
        o->n = n;
    if (!o || !make_slots(o, params, n) || !plan_sharing(o)) {
        gg_optimizer_free(o);
        ggb_errorf(err, "optimizer: out of memory for the state of %zu parameters", total);
        return NULL;
    }
    o->cfg = *cfg;
    o->total = total;
    return o;
}

void gg_optimizer_free(gg_optimizer *o)
{
    if (!o)
        return;
    ggb_free(o->slots);
    ggb_free(o->big);
    ggb_free(o->small);
    ggb_free(o->bundle);
    ggb_free(o->spans);
    ggb_free(o->state);
    ggb_free(o);
}

void gg_optimizer_set_lr(gg_optimizer *o, double lr) { o->cfg.lr = lr; }
double gg_optimizer_lr(const gg_optimizer *o) { return o->cfg.lr; }

/* Updates elements [lo, hi) of slot s. */
static void update_range(const gg_optimizer *o, const opt_slot *s, size_t lo, size_t hi)
{
    size_t n = hi - lo;
    if (s->f64)
        update_f64(&o->k, n, (double *)s->w + lo, (const double *)s->g + lo, (double *)s->m + lo,
                   (double *)s->v + lo);
    else
        update_f32(&o->k, n, (float *)s->w + lo, (const float *)s->g + lo, (float *)s->m + lo,
                   (float *)s->v + lo);
}

static _Atomic uint64_t *span_of(gg_optimizer *o, size_t b, int share)
{
    return &o->spans[b * GG_MAX_THREADS + (size_t)share];
}

/* Takes the first (front) or last block left in *span; false when none is. */
static bool claim(_Atomic uint64_t *span, bool front, size_t *block)
{
    uint64_t cur = atomic_load_explicit(span, memory_order_relaxed);
    for (;;) {
        uint32_t lo = (uint32_t)cur, hi = (uint32_t)(cur >> 32);
        if (lo >= hi)
            return false;
        uint64_t next = front ? cur + 1 : cur - ((uint64_t)1 << 32);
        if (atomic_compare_exchange_weak_explicit(span, &cur, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *block = front ? lo : hi - 1;
            return true;
        }
    }
}

/* Updates the blocks of big parameter b's share that are left, taken from
 * its front (the share's own thread) or its back. */
static void drain(gg_optimizer *o, size_t b, int share, bool front)
{
    const opt_slot *s = &o->slots[o->big[b]];
    size_t k;
    while (claim(span_of(o, b, share), front, &k)) {
        size_t lo = k * OPT_BLOCK, hi = lo + OPT_BLOCK < s->numel ? lo + OPT_BLOCK : s->numel;
        update_range(o, s, lo, hi);
    }
}

/* Updates the bundles of small parameters that no thread has claimed. */
static void drain_bundles(gg_optimizer *o)
{
    size_t k;
    while ((k = atomic_fetch_add_explicit(&o->next_bundle, 1, memory_order_relaxed)) < o->nbundles)
        for (size_t j = o->bundle[k]; j < o->bundle[k + 1]; j++)
            update_range(o, &o->slots[o->small[j]], 0, o->slots[o->small[j]].numel);
}

/* Deals every big parameter's blocks into nshares contiguous shares. */
static void deal_blocks(gg_optimizer *o, int nshares)
{
    o->nshares = nshares;
    atomic_store_explicit(&o->next_bundle, 0, memory_order_relaxed);
    for (size_t b = 0; b < o->nbig; b++) {
        size_t blocks = (o->slots[o->big[b]].numel + OPT_BLOCK - 1) / OPT_BLOCK;
        for (int t = 0; t < nshares; t++) {
            size_t lo, hi;
            ggk_share(blocks, 1, t, nshares, &lo, &hi);
            atomic_store_explicit(span_of(o, b, t), (uint64_t)lo | (uint64_t)hi << 32, memory_order_relaxed);
        }
    }
}

/* Thread tid's part of the step: its own shares, the small parameters'
 * bundles, then what is left of the others' shares (all of them if the
 * pool ran fewer threads than shares). */
static void step_task(void *arg, int tid, int nthreads)
{
    (void)nthreads;
    gg_optimizer *o = arg;
    for (size_t b = 0; b < o->nbig; b++)
        drain(o, b, tid, true);
    drain_bundles(o);
    for (int k = 1; k < o->nshares; k++)
        for (size_t b = 0; b < o->nbig; b++)
            drain(o, b, (tid + k) % o->nshares, false);
}

/* Below this many elements a step is not worth waking the worker threads. */
#define OPT_PARALLEL_MIN 65536

void gg_optimizer_step(gg_optimizer *o)
{
    const gg_opt_config *c = &o->cfg;
    for (size_t i = 0; i < o->n; i++)
        gg_grad_data(o->slots[i].param); /* a gradient gg_zero_grad_lazy left is zeroed first */
    o->t++;
    o->k = (opt_coeffs){c->kind, c->lr, c->weight_decay, c->momentum, c->rho, c->beta1, c->beta2, c->eps,
                        c->lr / (1 - pow(c->beta1, (double)o->t)), 1 / sqrt(1 - pow(c->beta2, (double)o->t))};
    int threads = o->total >= OPT_PARALLEL_MIN ? gg_num_threads() : 1;
    deal_blocks(o, threads);
    ggk_parallel_run(step_task, o, threads);
}

static void zero_slot_grad(const opt_slot *s)
{
    memset(s->g, 0, s->numel * (s->f64 ? sizeof(double) : sizeof(float)));
}

/* The gradients are left stale rather than zeroed: the next backward pass
 * writes its products over them instead of adding into zeros. A parameter
 * of another graph than g is zeroed at once. */
void ggn_optimizer_step_zero(gg_optimizer *o, gg_graph *g)
{
    gg_optimizer_step(o);
    for (size_t i = 0; i < o->n; i++)
        if (gg_zero_grad_lazy(g, o->slots[i].param))
            zero_slot_grad(&o->slots[i]);
}

void gg_optimizer_zero_grad(gg_optimizer *o)
{
    for (size_t i = 0; i < o->n; i++)
        zero_slot_grad(&o->slots[i]);
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
