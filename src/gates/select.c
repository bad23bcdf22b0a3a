/* select.c - gates that pick, element by element, which input the value
 * (and so the gradient) comes from: where and clamp; and cast, which
 * passes values and gradients between dtypes. Arithmetic in double, one
 * element at a time: these are not the hot loops of training. */
#include <math.h>

#include "gates/gates.h"

/* ---- where(cond, a, b): cond != 0 picks a, else b; three-way broadcast --- */

static void where_forward(gg_node *z)
{
    const gg_node *c = ggc_in(z, 0), *a = ggc_in(z, 1), *b = ggc_in(z, 2);
    const void *pc = ggc_val((gg_node *)c), *pa = ggc_val((gg_node *)a), *pb = ggc_val((gg_node *)b);
    void *pz = ggc_val(z);
    for (size_t k = 0, n = ggc_numel(z); k < n; k++) {
        bool pick_a = ggb_get(c->dtype, pc, ggg_bcast_index(z, 0, k)) != 0;
        double v = pick_a ? ggb_get(a->dtype, pa, ggg_bcast_index(z, 1, k))
                          : ggb_get(b->dtype, pb, ggg_bcast_index(z, 2, k));
        ggb_put(z->dtype, pz, k, v);
    }
}

/* The condition receives nothing: the selection is flat almost everywhere. */
static void where_backward(gg_node *z)
{
    const gg_node *c = ggc_in(z, 0);
    gg_node *a = ggc_in(z, 1), *b = ggc_in(z, 2);
    const void *pc = ggc_val((gg_node *)c), *gz = ggc_grad(z);
    void *ga = ggc_grad(a), *gb = ggc_grad(b);
    for (size_t k = 0, n = ggc_numel(z); k < n; k++) {
        double up = ggb_get(z->dtype, gz, k);
        if (ggb_get(c->dtype, pc, ggg_bcast_index(z, 0, k)) != 0) {
            if (ga)
                ggb_add(a->dtype, ga, ggg_bcast_index(z, 1, k), up);
        } else if (gb) {
            ggb_add(b->dtype, gb, ggg_bcast_index(z, 2, k), up);
        }
    }
}

static double where_local(const gg_node *z, int i, size_t k)
{
    const gg_node *c = ggc_in(z, 0);
    bool pick_a = ggb_get(c->dtype, ggc_val((gg_node *)c), ggg_bcast_index(z, 0, k)) != 0;
    return i == 0 ? 0.0 : (i == 1) == pick_a ? 1.0 : 0.0;
}

/* Recorded: a and b receive where(cond, upstream, 0) and where(cond, 0,
 * upstream), summed back to their shapes. */
static bool where_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    gg_node *c = ggc_in(z, 0), *zero = ggg_k(g, z, 0);
    if (want[1] && !(din[1] = ggg_sum_to(g, gg_where(g, c, up, zero), ggc_in(z, 1))))
        return false;
    if (want[2] && !(din[2] = ggg_sum_to(g, gg_where(g, c, zero, up), ggc_in(z, 2))))
        return false;
    return true;
}

const ggc_gate ggg_gate_where = {
    .name = "where",
    .arity = 3,
    .ordered = true,
    .wire = {"cond", "a", "b"},
    .routes = true,
    .formula = {"0 (the condition only chooses)", "upstream (cond != 0)", "upstream (cond = 0)"},
    .expr = "where",
    .rule = "router by the condition: the second input receives the upstream gradient where the "
            "condition is not 0, the third where it is 0; the condition receives none",
    .shape = ggg_broadcast_shape,
    .forward = where_forward,
    .backward = where_backward,
    .local = where_local,
    .grad = where_grad,
};

gg_node *gg_where(gg_graph *g, gg_node *cond, gg_node *a, gg_node *b)
{
    gg_node *in[3] = {cond, a, b};
    return ggc_record_n(g, GG_GATE_where, 3, in, NULL, 0, NULL);
}

/* ---- clamp(a, lo, hi) ------------------------------------------------------ */

/* NaN stays NaN, as PyTorch's clamp keeps it (fmin and fmax would drop it). */
static double clamp_of(const gg_node *z, double x)
{
    const double *p = z->param.aux->p;
    return isnan(x) ? x : fmin(fmax(x, p[0]), p[1]);
}

/* PyTorch's convention: the gradient passes where lo <= x <= hi, bounds
 * included, compared in the input's dtype (an f32 input against the
 * bounds rounded to f32, as PyTorch compares them). */
static bool clamp_passes(const gg_node *z, double x)
{
    const double *p = z->param.aux->p;
    if (z->dtype == GG_F32)
        return (float)x >= (float)p[0] && (float)x <= (float)p[1];
    return x >= p[0] && x <= p[1];
}

static void clamp_forward(gg_node *z)
{
    const gg_node *a = z->in[0];
    const void *pa = ggc_val((gg_node *)a);
    void *pz = ggc_val(z);
    for (size_t k = 0, n = ggc_numel(z); k < n; k++)
        ggb_put(z->dtype, pz, k, clamp_of(z, ggb_get(a->dtype, pa, k)));
}

static void clamp_backward(gg_node *z)
{
    gg_node *a = z->in[0];
    void *ga = ggc_grad(a);
    if (!ga)
        return;
    const void *pa = ggc_val(a), *gz = ggc_grad(z);
    for (size_t k = 0, n = ggc_numel(z); k < n; k++)
        if (clamp_passes(z, ggb_get(a->dtype, pa, k)))
            ggb_add(a->dtype, ga, k, ggb_get(z->dtype, gz, k));
}

static bool clamp_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const double *p = z->param.aux->p;
    if (isnan(p[0]) || isnan(p[1])) {
        ggc_fail(g, "clamp: the bounds must be numbers (lo %g, hi %g); use +-INFINITY for none", p[0], p[1]);
        return false;
    }
    return ggg_same_shape(g, z, out);
}

static double clamp_local(const gg_node *z, int i, size_t k)
{
    (void)i;
    return clamp_passes(z, gg_value_at(z->in[0], k)) ? 1.0 : 0.0;
}

/* Recorded: the upstream where lo <= input <= hi, 0 outside. */
static bool clamp_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    gg_node *x = z->in[0], *zero = ggg_k(g, z, 0);
    double p[4] = {0};
    ggc_params(z, p);
    gg_node *inside = gg_where(g, gg_step(g, gg_sub(g, x, ggg_k(g, z, p[1]))), zero, up);
    return (din[0] = gg_where(g, gg_step(g, gg_sub(g, ggg_k(g, z, p[0]), x)), zero, inside)) != NULL;
}

const ggc_gate ggg_gate_clamp = {
    .name = "clamp",
    .arity = 1,
    .param = GGC_PARAM_NUMBER,
    .nparams = 2,
    .rule = "switch: passes the upstream gradient where lo <= input <= hi, blocks it outside",
    .expr = "clamp",
    .shape = clamp_shape,
    .forward = clamp_forward,
    .backward = clamp_backward,
    .local = clamp_local,
    .grad = clamp_grad,
};

gg_node *gg_clamp(gg_graph *g, gg_node *a, double lo, double hi)
{
    return ggc_record_n(g, GG_GATE_clamp, 1, &a, (const double[]){lo, hi}, 2, NULL);
}

/* ---- cast(a, dtype) -------------------------------------------------------- */

static void cast_forward(gg_node *z)
{
    const gg_node *a = z->in[0];
    const void *pa = ggc_val((gg_node *)a);
    void *pz = ggc_val(z);
    for (size_t k = 0, n = ggc_numel(z); k < n; k++)
        ggb_put(z->dtype, pz, k, ggb_get(a->dtype, pa, k));
}

static void cast_backward(gg_node *z)
{
    gg_node *a = z->in[0];
    void *ga = ggc_grad(a);
    if (!ga)
        return;
    const void *gz = ggc_grad(z);
    for (size_t k = 0, n = ggc_numel(z); k < n; k++)
        ggb_add(a->dtype, ga, k, ggb_get(z->dtype, gz, k));
}

static bool cast_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    if (z->dtype > GG_F64) {
        ggc_fail(g, "cast: unknown dtype %d", (int)z->dtype);
        return false;
    }
    return ggg_same_shape(g, z, out);
}

static double cast_local(const gg_node *z, int i, size_t k)
{
    (void)z, (void)i, (void)k;
    return 1.0;
}

static bool cast_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return (din[0] = gg_cast(g, up, (gg_dtype)z->in[0]->dtype)) != NULL;
}

const ggc_gate ggg_gate_cast = {
    .name = "cast",
    .arity = 1,
    .param = GGC_PARAM_DTYPE,
    .rule = "passes the upstream gradient back, converted to the input's dtype",
    .formula = {"upstream"},
    .shape = cast_shape,
    .forward = cast_forward,
    .backward = cast_backward,
    .local = cast_local,
    .grad = cast_grad,
};

gg_node *gg_cast(gg_graph *g, gg_node *a, gg_dtype dtype)
{
    double d = (unsigned)dtype <= GG_F64 ? (double)dtype : 255; /* refused by cast_shape */
    return ggc_record_n(g, GG_GATE_cast, 1, &a, &d, 1, NULL);
}
