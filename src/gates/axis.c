/* axis.c - gates along one axis of a tensor, beside sum_axis and mean_axis
 * (tensor.c): the maximum and minimum with the index they come from,
 * argmax, and softmax / log-softmax along any axis (whose kernels the
 * last-axis softmax gates of tensor.c share). The input is viewed as
 * [outer, len, inner] around the axis (gates.h); arithmetic in double for
 * both dtypes, one element at a time (short contiguous f32 lines of
 * softmax, typed). */
#include <math.h>

#include "gates/gates.h"
#include "kernels/kernels.h"

/* Element l of the line (o, i) of the view, and the output element of the
 * line when the axis is reduced. */
static size_t at(ggg_axis_view v, size_t o, size_t l, size_t i) { return (o * v.len + l) * v.inner + i; }
static size_t line(ggg_axis_view v, size_t o, size_t i) { return o * v.inner + i; }

/* ---- max_axis, min_axis, argmax_axis ----------------------------------------
 * Which element of a line is its maximum (minimum): the first of equal ones
 * (-0 and 0 are equal), and the first NaN if there is one, because a NaN
 * is the maximum and the minimum of its line (torch.max/min/argmax(dim) on
 * the CPU in PyTorch 1.13, the same indices). */
static size_t pick(const gg_node *a, ggg_axis_view v, size_t o, size_t i, bool smallest)
{
    const void *x = ggc_val((gg_node *)a);
    size_t best = 0;
    double b = ggb_get(a->dtype, x, at(v, o, 0, i));
    for (size_t l = 1; l < v.len && !isnan(b); l++) {
        double e = ggb_get(a->dtype, x, at(v, o, l, i));
        if (isnan(e) || (smallest ? e < b : e > b))
            best = l, b = e;
    }
    return best;
}

static void extreme_forward(gg_node *z, bool smallest)
{
    const gg_node *a = z->in[0];
    ggg_axis_view v = ggg_axis_view_of(z);
    const void *x = ggc_val((gg_node *)a);
    void *y = ggc_val(z);
    for (size_t o = 0; o < v.outer; o++)
        for (size_t i = 0; i < v.inner; i++)
            ggb_put(z->dtype, y, line(v, o, i),
                    ggb_get(a->dtype, x, at(v, o, pick(a, v, o, i, smallest), i)));
}

/* The whole upstream gradient of a line goes to the element picked, as
 * torch.max(dim) / torch.min(dim) route it. torch.amax / amin split it
 * evenly between equal maxima instead (two tied: half each); gategrad
 * follows torch.max(dim), and the max gate's "a tie goes to the first". */
static void extreme_backward(gg_node *z, bool smallest)
{
    gg_node *a = z->in[0];
    void *gx = ggc_grad(a);
    if (!gx)
        return;
    ggg_axis_view v = ggg_axis_view_of(z);
    const void *gy = ggc_grad(z);
    for (size_t o = 0; o < v.outer; o++)
        for (size_t i = 0; i < v.inner; i++)
            ggb_add(a->dtype, gx, at(v, o, pick(a, v, o, i, smallest), i),
                    ggb_get(z->dtype, gy, line(v, o, i)));
}

static void max_axis_forward(gg_node *z) { extreme_forward(z, false); }
static void max_axis_backward(gg_node *z) { extreme_backward(z, false); }
static void min_axis_forward(gg_node *z) { extreme_forward(z, true); }
static void min_axis_backward(gg_node *z) { extreme_backward(z, true); }

static void argmax_axis_forward(gg_node *z)
{
    const gg_node *a = z->in[0];
    ggg_axis_view v = ggg_axis_view_of(z);
    void *y = ggc_val(z);
    for (size_t o = 0; o < v.outer; o++)
        for (size_t i = 0; i < v.inner; i++)
            ggb_put(z->dtype, y, line(v, o, i), (double)pick(a, v, o, i, false));
}

/* Never called: the node is a constant (.constant), like a gg_input. */
static void argmax_axis_backward(gg_node *z) { (void)z; }

/* Recorded: the upstream (the axis kept) where the element is the one
 * argmax picks (of -a for the minimum: the first of equal ones, the first
 * NaN), 0 elsewhere; a one-hot mask made by comparing the index with a
 * ramp 0..len-1 along the axis. */
static bool extreme_grad(gg_graph *g, gg_node *z, gg_node *up, gg_node **din, bool smallest)
{
    gg_node *a = z->in[0];
    int axis = ggg_axis(z);
    gg_node *idx = gg_argmax_axis(g, smallest ? gg_neg(g, a) : a, axis, 1);
    gg_node *iota = ggg_iota(g, (gg_dtype)a->dtype, a->rank, axis, a->val.t->dims[axis]);
    if (!ggg_keepdim(z)) {
        int64_t d[GG_MAX_DIMS];
        for (int i = 0; i < a->rank; i++)
            d[i] = i == axis ? 1 : a->val.t->dims[i];
        up = gg_reshape(g, up, a->rank, d);
    }
    gg_node *off = gg_sub(g, iota, idx);
    return (din[0] = gg_where(g, off, ggg_k(g, a, 0), up)) != NULL;
}
static bool max_axis_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return extreme_grad(g, z, up, din, false);
}
static bool min_axis_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return extreme_grad(g, z, up, din, true);
}
/* Never called either: a constant has no gradient to record. */
static bool argmax_axis_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)g, (void)z, (void)up, (void)want, (void)din;
    return true;
}

const ggc_gate ggg_gate_max_axis = {
    .name = "max_axis",
    .arity = 1,
    .param = GGC_PARAM_AXIS,
    .rule = "router along the axis: the maximum of each slice receives the slice's whole "
            "upstream gradient, the others 0 (a tie goes to the first)",
    .shape = ggg_axis_shape,
    .forward = max_axis_forward,
    .backward = max_axis_backward,
    .grad = max_axis_grad,
};
const ggc_gate ggg_gate_min_axis = {
    .name = "min_axis",
    .arity = 1,
    .param = GGC_PARAM_AXIS,
    .rule = "router along the axis: the minimum of each slice receives the slice's whole "
            "upstream gradient, the others 0 (a tie goes to the first)",
    .shape = ggg_axis_shape,
    .forward = min_axis_forward,
    .backward = min_axis_backward,
    .grad = min_axis_grad,
};
const ggc_gate ggg_gate_argmax_axis = {
    .name = "argmax_axis",
    .arity = 1,
    .param = GGC_PARAM_AXIS,
    .constant = true,
    .rule = "a constant: the index of each slice's maximum passes no gradient back",
    .shape = ggg_axis_shape,
    .forward = argmax_axis_forward,
    .backward = argmax_axis_backward,
    .grad = argmax_axis_grad,
};

/* ---- softmax_axis, log_softmax_axis -------------------------------------------- */

/* Lines this long or shorter, contiguous in f32 (a classifier's rows of
 * logits), are taken a block at a time: the block's exponentials in one
 * vectorized call, kept on the stack. */
#define SHORT_LINE 64
#define SHORT_BLOCK 2048

/* Softmax of lines [0, nl) of len contiguous f32 values (x into y; nl *
 * len <= SHORT_BLOCK), in double like the general loop below; the softmax
 * divides each exponential by the sum where that loop takes exp(d - log
 * s), so the last bits may differ. */
static void softmax_short_f32(const float *x, float *y, size_t nl, size_t len, bool take_log)
{
    double e[SHORT_BLOCK], mx[SHORT_BLOCK];
    for (size_t o = 0; o < nl; o++) {
        const float *xo = x + o * len;
        double m = -INFINITY;
        for (size_t l = 0; l < len; l++)
            m = fmax(m, xo[l]);
        for (size_t l = 0; l < len; l++)
            e[o * len + l] = xo[l] - m;
        mx[o] = m;
    }
    ggk_exp_f64(e, e, nl * len);
    for (size_t o = 0; o < nl; o++) {
        const double *eo = e + o * len;
        double s = 0;
        for (size_t l = 0; l < len; l++)
            s += eo[l];
        double log_s = log(s);
        for (size_t l = 0; l < len; l++)
            y[o * len + l] = (float)(take_log ? (x[o * len + l] - mx[o]) - log_s : eo[l] / s);
    }
}

void ggg_softmax_lines(gg_node *z, ggg_axis_view v, bool take_log)
{
    const gg_node *a = z->in[0];
    const void *x = ggc_val((gg_node *)a);
    void *y = ggc_val(z);
    if (v.inner == 1 && v.len <= SHORT_LINE && a->dtype == GG_F32 && z->dtype == GG_F32) {
        size_t per = SHORT_BLOCK / v.len;
        for (size_t o = 0; o < v.outer; o += per) {
            size_t nl = v.outer - o < per ? v.outer - o : per;
            softmax_short_f32((const float *)x + o * v.len, (float *)y + o * v.len, nl, v.len, take_log);
        }
        return;
    }
    for (size_t o = 0; o < v.outer; o++)
        for (size_t i = 0; i < v.inner; i++) {
            double mx = -INFINITY;
            for (size_t l = 0; l < v.len; l++)
                mx = fmax(mx, ggb_get(a->dtype, x, at(v, o, l, i)));
            double s = 0;
            for (size_t l = 0; l < v.len; l++)
                s += exp(ggb_get(a->dtype, x, at(v, o, l, i)) - mx);
            double log_s = log(s);
            for (size_t l = 0; l < v.len; l++) {
                double d = ggb_get(a->dtype, x, at(v, o, l, i)) - mx;
                ggb_put(z->dtype, y, at(v, o, l, i), take_log ? d - log_s : exp(d - log_s));
            }
        }
}

/* softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - e^y * sum(dy). */
void ggg_softmax_lines_backward(gg_node *z, ggg_axis_view v, bool from_log)
{
    gg_node *a = z->in[0];
    const void *y = ggc_val(z), *gy = ggc_grad(z);
    void *gx = ggc_grad(a);
    for (size_t o = 0; o < v.outer; o++)
        for (size_t i = 0; i < v.inner; i++) {
            double dot = 0;
            for (size_t l = 0; l < v.len; l++) {
                size_t k = at(v, o, l, i);
                dot += ggb_get(z->dtype, gy, k) * (from_log ? 1.0 : ggb_get(z->dtype, y, k));
            }
            for (size_t l = 0; l < v.len; l++) {
                size_t k = at(v, o, l, i);
                double yk = ggb_get(z->dtype, y, k), gk = ggb_get(z->dtype, gy, k);
                ggb_add(a->dtype, gx, k, from_log ? gk - exp(yk) * dot : yk * (gk - dot));
            }
        }
}

static void softmax_axis_forward(gg_node *z) { ggg_softmax_lines(z, ggg_axis_view_of(z), false); }
static void log_softmax_axis_forward(gg_node *z) { ggg_softmax_lines(z, ggg_axis_view_of(z), true); }

static void softmax_axis_backward(gg_node *z)
{
    if (ggc_needs_grad(z->in[0]))
        ggg_softmax_lines_backward(z, ggg_axis_view_of(z), false);
}
static void log_softmax_axis_backward(gg_node *z)
{
    if (ggc_needs_grad(z->in[0]))
        ggg_softmax_lines_backward(z, ggg_axis_view_of(z), true);
}

/* Recorded as softmax's and log_softmax's (tensor.c), along the axis. */
static bool softmax_axis_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    gg_node *s = gg_sum_axis(g, gg_mul(g, up, z), ggg_axis(z), 1);
    return (din[0] = gg_mul(g, z, gg_sub(g, up, s))) != NULL;
}
static bool log_softmax_axis_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want,
                                  gg_node **din)
{
    (void)want;
    gg_node *s = gg_sum_axis(g, up, ggg_axis(z), 1);
    return (din[0] = gg_sub(g, up, gg_mul(g, gg_exp(g, z), s))) != NULL;
}

const ggc_gate ggg_gate_softmax_axis = {
    .name = "softmax_axis",
    .arity = 1,
    .param = GGC_PARAM_AXIS,
    .rule = "from its own output: the input receives output * (upstream - sum(upstream * output)) along the axis",
    .shape = ggg_same_shape,
    .forward = softmax_axis_forward,
    .backward = softmax_axis_backward,
    .grad = softmax_axis_grad,
};
const ggc_gate ggg_gate_log_softmax_axis = {
    .name = "log_softmax_axis",
    .arity = 1,
    .param = GGC_PARAM_AXIS,
    .rule = "the input receives upstream - softmax * sum(upstream) along the axis",
    .shape = ggg_same_shape,
    .forward = log_softmax_axis_forward,
    .backward = log_softmax_axis_backward,
    .grad = log_softmax_axis_grad,
};

/* ---- Constructors ------------------------------------------------------------ */

gg_node *gg_max_axis(gg_graph *g, gg_node *a, int axis, int keepdim)
{
    return ggg_record_axis(g, GG_GATE_max_axis, a, axis, keepdim);
}
gg_node *gg_min_axis(gg_graph *g, gg_node *a, int axis, int keepdim)
{
    return ggg_record_axis(g, GG_GATE_min_axis, a, axis, keepdim);
}
gg_node *gg_argmax_axis(gg_graph *g, gg_node *a, int axis, int keepdim)
{
    return ggg_record_axis(g, GG_GATE_argmax_axis, a, axis, keepdim);
}
gg_node *gg_softmax_axis(gg_graph *g, gg_node *a, int axis)
{
    return ggg_record_axis(g, GG_GATE_softmax_axis, a, axis, 0);
}
gg_node *gg_log_softmax_axis(gg_graph *g, gg_node *a, int axis)
{
    return ggg_record_axis(g, GG_GATE_log_softmax_axis, a, axis, 0);
}
