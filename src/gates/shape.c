/* shape.c - gates that move elements without arithmetic: slice, concat,
 * gather_rows (an embedding lookup), broadcast_to and transpose_axes.
 * Each forward copies elements to new places; each backward adds the
 * upstream gradient back to where the elements came from, so a value
 * copied to several places (broadcast, repeated indices) receives the sum.
 * (reshape and transpose, the two older ones, live in tensor.c.)
 *
 * Axes and bounds are kept as the caller gave them (negative counts from
 * the end) in the node's parameters and resolved by each pass, so traces
 * show the call as it was written. */
#include <math.h>
#include <string.h>

#include "gates/gates.h"

static int64_t dim(const gg_node *n, int i) { return n->val.t->dims[i]; }

/* Adds cnt elements of src (from soff) into dst (from doff), one dtype. */
static void add_run(gg_dtype dt, void *dst, size_t doff, const void *src, size_t soff, size_t cnt)
{
    if (dt == GG_F64) {
        double *d = (double *)dst + doff;
        const double *s = (const double *)src + soff;
        for (size_t i = 0; i < cnt; i++)
            d[i] += s[i];
    } else {
        float *d = (float *)dst + doff;
        const float *s = (const float *)src + soff;
        for (size_t i = 0; i < cnt; i++)
            d[i] += s[i];
    }
}

/* Copies cnt elements of src (from soff) to dst (from doff), one dtype. */
static void copy_run(gg_dtype dt, void *dst, size_t doff, const void *src, size_t soff, size_t cnt)
{
    size_t es = gg_dtype_size(dt);
    memcpy((char *)dst + doff * es, (const char *)src + soff * es, cnt * es);
}

/* Elements before and after axis in a row-major tensor of this shape. */
static size_t outer_of(const gg_node *n, int axis)
{
    size_t o = 1;
    for (int i = 0; i < axis; i++)
        o *= (size_t)dim(n, i);
    return o;
}
static size_t inner_of(const gg_node *n, int axis)
{
    size_t o = 1;
    for (int i = axis + 1; i < n->rank; i++)
        o *= (size_t)dim(n, i);
    return o;
}

/* axis (negative from the end) as 0..rank-1, or -1 when out of range. */
static int resolve_axis(double axis, int rank)
{
    if (axis < -rank || axis >= rank)
        return -1;
    return (int)axis + ((int)axis < 0 ? rank : 0);
}

/* Integers travel in a node's double parameters: exact up to 2^53. */
static bool exact(int64_t v) { return v >= -(INT64_C(1) << 53) && v <= INT64_C(1) << 53; }

/* ---- slice(a, axis, start, stop): Python's a[..., start:stop, ...] -------- */

typedef struct slice_view {
    int axis;
    size_t outer, len, inner; /* a viewed as [outer, len, inner] */
    size_t start, count;      /* the rows kept along the axis */
} slice_view;

/* Python's bounds for step 1: negative counts from the end, then clamped
 * into [0, len]. */
static int64_t clamp_bound(int64_t v, int64_t len)
{
    if (v < 0)
        v += len;
    return v < 0 ? 0 : v > len ? len : v;
}

/* The slice z takes; false when its axis is out of range or it is empty. */
static bool slice_resolve(const gg_node *z, slice_view *v)
{
    const gg_node *a = z->in[0];
    const double *p = z->param.aux->p;
    v->axis = resolve_axis(p[0], a->rank);
    if (v->axis < 0)
        return false;
    int64_t len = dim(a, v->axis);
    int64_t lo = clamp_bound((int64_t)p[1], len), hi = clamp_bound((int64_t)p[2], len);
    v->outer = outer_of(a, v->axis);
    v->len = (size_t)len;
    v->inner = inner_of(a, v->axis);
    v->start = (size_t)lo;
    v->count = hi > lo ? (size_t)(hi - lo) : 0;
    return v->count > 0;
}

static bool slice_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *a = z->in[0];
    const double *p = z->param.aux->p;
    char sa[64];
    slice_view v;
    if (!slice_resolve(z, &v)) {
        if (v.axis < 0)
            ggc_fail(g, "slice: axis %.0f is out of range for %s", p[0], gg_shape_str(a, sa, sizeof sa));
        else
            ggc_fail(g, "slice: axis %d, start %.0f, stop %.0f of %s: the slice is empty "
                     "(tensors have no zero-length dimension)",
                     (int)p[0], p[1], p[2], gg_shape_str(a, sa, sizeof sa));
        return false;
    }
    ggg_same_shape(g, z, out);
    out->dims[v.axis] = (int64_t)v.count;
    return true;
}

static void slice_forward(gg_node *z)
{
    slice_view v;
    slice_resolve(z, &v);
    const void *x = ggc_val(z->in[0]);
    void *y = ggc_val(z);
    size_t run = v.count * v.inner;
    for (size_t o = 0; o < v.outer; o++)
        copy_run(z->dtype, y, o * run, x, (o * v.len + v.start) * v.inner, run);
}

static void slice_backward(gg_node *z)
{
    gg_node *a = z->in[0];
    void *ga = ggc_grad(a);
    if (!ga)
        return;
    slice_view v;
    slice_resolve(z, &v);
    size_t run = v.count * v.inner;
    for (size_t o = 0; o < v.outer; o++)
        add_run(a->dtype, ga, (o * v.len + v.start) * v.inner, ggc_grad(z), o * run, run);
}

/* Recorded: the upstream between zeros before and after the range, joined
 * along the axis. */
static bool slice_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    gg_node *a = z->in[0];
    slice_view v;
    slice_resolve(z, &v);
    gg_node *parts[3];
    int np = 0;
    int64_t d[GG_MAX_DIMS];
    memcpy(d, a->val.t->dims, (size_t)a->rank * sizeof *d);
    if (v.start > 0) {
        d[v.axis] = (int64_t)v.start;
        parts[np++] = gg_input(g, (gg_dtype)a->dtype, a->rank, d, NULL);
    }
    parts[np++] = up;
    if (v.start + v.count < v.len) {
        d[v.axis] = (int64_t)(v.len - v.start - v.count);
        parts[np++] = gg_input(g, (gg_dtype)a->dtype, a->rank, d, NULL);
    }
    return (din[0] = np == 1 ? up : gg_concat(g, np, parts, v.axis)) != NULL;
}

const ggc_gate ggg_gate_slice = {
    .name = "slice",
    .arity = 1,
    .param = GGC_PARAM_NUMBER,
    .nparams = 3, /* axis, start, stop */
    .rule = "passes the upstream gradient back into the sliced range; the rest of the input "
            "receives 0",
    .shape = slice_shape,
    .forward = slice_forward,
    .backward = slice_backward,
    .grad = slice_grad,
};

gg_node *gg_slice(gg_graph *g, gg_node *a, int axis, int64_t start, int64_t stop)
{
    if (!g || !a)
        return NULL;
    if (!exact(start) || !exact(stop))
        return ggc_fail(g, "slice: start %lld or stop %lld is beyond +-2^53 (pass the dimension "
                        "instead of a larger bound)", (long long)start, (long long)stop);
    return ggc_record_n(g, GG_GATE_slice, 1, &a, (const double[]){axis, (double)start, (double)stop},
                        3, NULL);
}

/* ---- concat(parts, axis): torch.cat ----------------------------------------- */

static bool concat_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    double p[4] = {0};
    ggc_params(z, p);
    const gg_node *first = ggc_in(z, 0);
    char s0[64], si[64];
    int axis = resolve_axis(p[0], first->rank);
    if (axis < 0) {
        ggc_fail(g, "concat: axis %.0f is out of range for parts[0] %s", p[0],
                 gg_shape_str(first, s0, sizeof s0));
        return false;
    }
    ggg_same_shape(g, z, out);
    int64_t total = 0;
    for (int j = 0; j < ggc_nin(z); j++) {
        const gg_node *x = ggc_in(z, j);
        bool same = x->rank == first->rank;
        int bad = -1;
        for (int i = 0; same && i < x->rank; i++)
            if (i != axis && dim(x, i) != dim(first, i))
                same = false, bad = i;
        if (!same) {
            gg_shape_str(first, s0, sizeof s0);
            gg_shape_str(x, si, sizeof si);
            if (bad < 0)
                ggc_fail(g, "concat: parts[%d] %s and parts[0] %s: ranks differ", j, si, s0);
            else
                ggc_fail(g, "concat: parts[%d] %s and parts[0] %s differ in dimension %d "
                         "(only the concat axis, %d, may differ)", j, si, s0, bad, axis);
            return false;
        }
        if (dim(x, axis) > INT64_MAX - total) {
            ggc_fail(g, "concat: the parts' total along axis %d overflows", axis);
            return false;
        }
        total += dim(x, axis);
    }
    out->dims[axis] = total;
    return true;
}

/* Walks the parts of z, moving each one's stretch of the output: forward
 * copies part -> output, backward adds the output's gradient -> part's. */
static void concat_pass(gg_node *z, bool backward)
{
    double p[4] = {0};
    ggc_params(z, p);
    int axis = resolve_axis(p[0], z->rank);
    size_t outer = outer_of(z, axis), inner = inner_of(z, axis);
    size_t row = (size_t)dim(z, axis) * inner; /* one outer index of the output */
    size_t at = 0;                              /* where the part starts in a row */
    for (int j = 0; j < ggc_nin(z); j++) {
        gg_node *x = ggc_in(z, j);
        size_t run = (size_t)dim(x, axis) * inner;
        void *gx = backward ? ggc_grad(x) : NULL;
        for (size_t o = 0; (!backward || gx) && o < outer; o++) {
            if (backward)
                add_run(z->dtype, gx, o * run, ggc_grad(z), o * row + at, run);
            else
                copy_run(z->dtype, ggc_val(z), o * row + at, ggc_val(x), o * run, run);
        }
        at += run;
    }
}

static void concat_forward(gg_node *z) { concat_pass(z, false); }
static void concat_backward(gg_node *z) { concat_pass(z, true); }

/* Recorded: each part receives its stretch of the upstream, sliced out. */
static bool concat_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    double p[4] = {0};
    ggc_params(z, p);
    int axis = resolve_axis(p[0], z->rank);
    int64_t at = 0;
    for (int j = 0; j < ggc_nin(z); j++) {
        int64_t len = dim(ggc_in(z, j), axis);
        if (want[j] && !(din[j] = gg_slice(g, up, axis, at, at + len)))
            return false;
        at += len;
    }
    return true;
}

const ggc_gate ggg_gate_concat = {
    .name = "concat",
    .arity = GGC_VARIADIC,
    .param = GGC_PARAM_NUMBER, /* the axis */
    .ordered = true,
    .rule = "splits the upstream gradient back: each part receives its own stretch along the axis",
    .shape = concat_shape,
    .forward = concat_forward,
    .backward = concat_backward,
    .grad = concat_grad,
};

gg_node *gg_concat(gg_graph *g, int n, gg_node *const *parts, int axis)
{
    if (!g)
        return NULL;
    if (n < 1 || !parts)
        return ggc_fail(g, "concat: needs at least one part (n = %d%s)", n, parts ? "" : ", parts NULL");
    for (int j = 0; j < n; j++)
        if (!parts[j])
            return NULL;
    for (int j = 0; j < n; j++) {
        char s0[64], sj[64];
        if (!ggc_owns(g, parts[j]))
            return ggc_fail(g, "concat: parts[%d] (node %u) belongs to another graph", j, parts[j]->id);
        if (parts[j]->dtype != parts[0]->dtype)
            return ggc_fail(g, "concat: parts[%d] is %s %s but parts[0] %s %s: dtypes differ "
                            "(convert with gg_cast)", j, gg_dtype_name(parts[j]->dtype),
                            gg_shape_str(parts[j], sj, sizeof sj), gg_dtype_name(parts[0]->dtype),
                            gg_shape_str(parts[0], s0, sizeof s0));
        if (parts[j]->rank == 0)
            return ggc_fail(g, "concat: parts[%d] is a scalar (%s); concat joins tensors along an axis",
                            j, gg_shape_str(parts[j], sj, sizeof sj));
    }
    double p = axis;
    return ggc_record_n(g, GG_GATE_concat, n, parts, &p, 1, NULL);
}

/* ---- gather_rows(table, indices): table[indices], an embedding lookup ---- */

static bool gather_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *t = z->in[0], *ix = z->in[1];
    char st[64], si[64];
    gg_shape_str(t, st, sizeof st);
    gg_shape_str(ix, si, sizeof si);
    if (t->rank != 2) {
        ggc_fail(g, "gather_rows: table %s must be 2-D [V, D]", st);
        return false;
    }
    if (ggc_needs_grad(ix)) {
        ggc_fail(g, "gather_rows: indices %s require a gradient; they must be a constant "
                 "(gg_input, gg_constant) holding row numbers", si);
        return false;
    }
    if (ix->rank > GG_MAX_DIMS - 1) {
        ggc_fail(g, "gather_rows: indices %s have rank %d, at most %d (the output %s + [D] has "
                 "at most %d dimensions)", si, ix->rank, GG_MAX_DIMS - 1, si, GG_MAX_DIMS);
        return false;
    }
    out->rank = ix->rank + 1;
    for (int i = 0; i < ix->rank; i++)
        out->dims[i] = dim(ix, i);
    out->dims[ix->rank] = dim(t, 1);
    return true;
}

/* Every index a whole number in [0, V): run when the node is recorded and
 * before every forward, as the indices may have been rewritten. */
static bool gather_check(gg_graph *g, const gg_node *z)
{
    const gg_node *t = z->in[0], *ix = z->in[1];
    const void *pi = ggc_val((gg_node *)ix);
    double rows = (double)dim(t, 0);
    for (size_t k = 0, n = ggc_numel(ix); k < n; k++) {
        double v = ggb_get(ix->dtype, pi, k);
        if (v >= 0 && v < rows && v == floor(v))
            continue;
        char st[64];
        ggc_fail(g, "gather_rows: indices element %zu is %.10g: %s (table %s, V = %.0f)", k, v,
                 v == floor(v) ? "out of range [0, V)" : "not a whole number",
                 gg_shape_str(t, st, sizeof st), rows);
        return false;
    }
    return true;
}

static void gather_forward(gg_node *z)
{
    gg_node *t = z->in[0], *ix = z->in[1];
    size_t d = (size_t)dim(t, 1);
    const void *pi = ggc_val(ix);
    for (size_t k = 0, n = ggc_numel(ix); k < n; k++)
        copy_run(z->dtype, ggc_val(z), k * d, ggc_val(t), (size_t)ggb_get(ix->dtype, pi, k) * d, d);
}

/* Scatter-add: a row picked several times receives every pick's gradient. */
static void gather_backward(gg_node *z)
{
    gg_node *t = z->in[0], *ix = z->in[1];
    void *gt = ggc_grad(t);
    if (!gt)
        return;
    size_t d = (size_t)dim(t, 1);
    const void *pi = ggc_val(ix);
    for (size_t k = 0, n = ggc_numel(ix); k < n; k++)
        add_run(t->dtype, gt, (size_t)ggb_get(ix->dtype, pi, k) * d, ggc_grad(z), k * d, d);
}

/* Recorded: onehot(indices)^T . upstream rows, the one-hot matrix [N, V]
 * made by comparing the indices with 0..V-1 (so new indices written with
 * gg_set_data route the recorded gradient anew). */
static bool gather_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    gg_node *t = z->in[0], *ix = z->in[1];
    int64_t cnt = (int64_t)ggc_numel(ix), v = dim(t, 0), d = dim(t, 1);
    gg_node *col = gg_reshape(g, ix, 2, (const int64_t[]){cnt, 1});
    gg_node *oh = ggg_onehot(g, col, ggg_iota(g, (gg_dtype)t->dtype, 2, 1, v));
    gg_node *rows = gg_reshape(g, up, 2, (const int64_t[]){cnt, d});
    return (din[0] = gg_matmul(g, gg_transpose(g, oh), rows)) != NULL;
}

const ggc_gate ggg_gate_gather_rows = {
    .name = "gather_rows",
    .arity = 2,
    .ordered = true,
    .wire = {"table", "indices"},
    .rule = "scatter-adder: each table row receives the sum of the upstream gradient rows of every "
            "position that picked it; the indices receive none",
    .shape = gather_shape,
    .check = gather_check,
    .forward = gather_forward,
    .backward = gather_backward,
    .grad = gather_grad,
};

gg_node *gg_gather_rows(gg_graph *g, gg_node *table, gg_node *indices)
{
    return ggc_record(g, GG_GATE_gather_rows, table, indices, 0, NULL);
}

/* ---- broadcast_to(a, shape): NumPy's broadcasting, made explicit ------------ */

static bool broadcast_to_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *a = z->in[0];
    int pad = out->rank - a->rank;
    char sa[64], sb[64];
    gg_shape_str(a, sa, sizeof sa);
    ggc_dims_str(out->rank, out->dims, sb, sizeof sb);
    for (int i = 0; i < out->rank; i++)
        if (out->dims[i] < 1) {
            ggc_fail(g, "broadcast_to: %s to %s: every dimension must be >= 1", sa, sb);
            return false;
        }
    if (pad < 0) {
        ggc_fail(g, "broadcast_to: %s to %s: the target has fewer dimensions than the input", sa, sb);
        return false;
    }
    for (int i = 0; i < a->rank; i++)
        if (dim(a, i) != 1 && dim(a, i) != out->dims[pad + i]) {
            ggc_fail(g, "broadcast_to: %s to %s: not broadcastable (dimension %d of the input is "
                     "%lld, the target's %lld; only 1 stretches)",
                     sa, sb, i, (long long)dim(a, i), (long long)out->dims[pad + i]);
            return false;
        }
    return true;
}

static void broadcast_to_forward(gg_node *z)
{
    gg_node *a = z->in[0];
    const void *x = ggc_val(a);
    void *y = ggc_val(z);
    size_t n = ggc_numel(z);
    if (ggc_numel(a) == 1) { /* one value everywhere (a sum's gradient): a fill */
        double v = ggb_get(a->dtype, x, 0);
        if (z->dtype == GG_F32)
            for (size_t k = 0; k < n; k++)
                ((float *)y)[k] = (float)v;
        else
            for (size_t k = 0; k < n; k++)
                ((double *)y)[k] = v;
        return;
    }
    for (size_t k = 0; k < n; k++)
        ggb_put(z->dtype, y, k, ggb_get(a->dtype, x, ggg_bcast_index(z, 0, k)));
}

static void broadcast_to_backward(gg_node *z)
{
    gg_node *a = z->in[0];
    void *ga = ggc_grad(a);
    if (!ga)
        return;
    const void *gz = ggc_grad(z);
    for (size_t k = 0, n = ggc_numel(z); k < n; k++)
        ggb_add(a->dtype, ga, ggg_bcast_index(z, 0, k), ggb_get(z->dtype, gz, k));
}

static bool broadcast_to_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return (din[0] = ggg_sum_to(g, up, z->in[0])) != NULL;
}

const ggc_gate ggg_gate_broadcast_to = {
    .name = "broadcast_to",
    .arity = 1,
    .rule = "sums the upstream gradient back over the stretched dimensions, to the input's shape",
    .shape = broadcast_to_shape,
    .forward = broadcast_to_forward,
    .backward = broadcast_to_backward,
    .grad = broadcast_to_grad,
};

gg_node *gg_broadcast_to(gg_graph *g, gg_node *a, int rank, const int64_t *dims)
{
    if (!g || !a)
        return NULL;
    if (rank < 0 || rank > GG_MAX_DIMS)
        return ggc_fail(g, "broadcast_to: rank %d is out of range 0..%d", rank, GG_MAX_DIMS);
    if (rank && !dims)
        return ggc_fail(g, "broadcast_to: dims is NULL for rank %d", rank);
    ggc_shape want = {.rank = rank};
    if (rank)
        memcpy(want.dims, dims, (size_t)rank * sizeof *dims);
    return ggc_record(g, GG_GATE_broadcast_to, a, NULL, 0, &want);
}

/* ---- transpose_axes(a, d0, d1): torch.transpose ------------------------------ */

static bool transpose_axes_resolve(const gg_node *z, int *d0, int *d1)
{
    const double *p = z->param.aux->p;
    *d0 = resolve_axis(p[0], z->in[0]->rank);
    *d1 = resolve_axis(p[1], z->in[0]->rank);
    return *d0 >= 0 && *d1 >= 0;
}

static bool transpose_axes_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *a = z->in[0];
    int d0, d1;
    if (!transpose_axes_resolve(z, &d0, &d1)) {
        char sa[64];
        const double *p = z->param.aux->p;
        ggc_fail(g, "transpose_axes: axes %.0f and %.0f: %s is out of range for %s", p[0], p[1],
                 d0 < 0 ? "the first" : "the second", gg_shape_str(a, sa, sizeof sa));
        return false;
    }
    ggg_same_shape(g, z, out);
    out->dims[d0] = dim(a, d1);
    out->dims[d1] = dim(a, d0);
    return true;
}

/* Visits every element of the output in order with the index of the same
 * element in the input: forward copies it, backward adds its gradient back. */
static void transpose_axes_pass(gg_node *z, bool backward)
{
    gg_node *a = z->in[0];
    int d0, d1;
    transpose_axes_resolve(z, &d0, &d1);
    size_t n[GG_MAX_DIMS], s[GG_MAX_DIMS], stride = 1, sa[GG_MAX_DIMS];
    for (int i = a->rank; i-- > 0;) {
        sa[i] = stride;
        stride *= (size_t)dim(a, i);
    }
    int pad = GG_MAX_DIMS - a->rank; /* the output's dims right-aligned into 4 */
    for (int i = 0; i < GG_MAX_DIMS; i++) {
        int j = i - pad, src = j == d0 ? d1 : j == d1 ? d0 : j;
        n[i] = j < 0 ? 1 : (size_t)dim(z, j);
        s[i] = j < 0 ? 0 : sa[src];
    }
    const void *from = backward ? ggc_grad(z) : ggc_val(a);
    void *to = backward ? ggc_grad(a) : ggc_val(z);
    size_t k = 0;
    for (size_t i0 = 0; i0 < n[0]; i0++)
        for (size_t i1 = 0; i1 < n[1]; i1++)
            for (size_t i2 = 0; i2 < n[2]; i2++)
                for (size_t i3 = 0; i3 < n[3]; i3++, k++) {
                    size_t ia = i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
                    if (backward)
                        ggb_add(a->dtype, to, ia, ggb_get(z->dtype, from, k));
                    else
                        ggb_put(z->dtype, to, k, ggb_get(a->dtype, from, ia));
                }
}

static void transpose_axes_forward(gg_node *z) { transpose_axes_pass(z, false); }
static void transpose_axes_backward(gg_node *z)
{
    if (ggc_needs_grad(z->in[0]))
        transpose_axes_pass(z, true);
}

static bool transpose_axes_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want,
                                gg_node **din)
{
    (void)want;
    int d0, d1;
    transpose_axes_resolve(z, &d0, &d1);
    return (din[0] = gg_transpose_axes(g, up, d0, d1)) != NULL;
}

const ggc_gate ggg_gate_transpose_axes = {
    .name = "transpose_axes",
    .arity = 1,
    .param = GGC_PARAM_NUMBER,
    .nparams = 2, /* the two axes */
    .rule = "passes the upstream gradient through, with the two axes swapped back",
    .shape = transpose_axes_shape,
    .forward = transpose_axes_forward,
    .backward = transpose_axes_backward,
    .grad = transpose_axes_grad,
};

gg_node *gg_transpose_axes(gg_graph *g, gg_node *a, int d0, int d1)
{
    return ggc_record_n(g, GG_GATE_transpose_axes, 1, &a, (const double[]){d0, d1}, 2, NULL);
}
