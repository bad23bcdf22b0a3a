/* tensor.c - gates that mix elements: matmul, sums and means,
 * reshape, transpose, softmax and log-softmax (along the last axis, with
 * the kernels of axis.c). Reductions accumulate in double for both dtypes. */
#include <string.h>

#include "gates/gates.h"
#include "kernels/kernels.h"


static int64_t dim(const gg_node *n, int i) { return n->val.t->dims[i]; }

/* ---- matmul: NumPy's matmul, through the GEMM kernel ------------------------
 * [m,k] x [k,n] -> [m,n]. A 1-D operand is a matrix by a 1 prepended (a)
 * or appended (b), removed again from the result: [k] x [k] is the dot
 * product (rank 0), [k] x [k,n] -> [n], [m,k] x [k] -> [m]. Dimensions
 * before the last two are batches of matrices, broadcast as NumPy does:
 * [2,1,3,4] x [5,4,6] -> [2,5,3,6]. Every product, forward and backward,
 * is one ggk_gemm call per batch matrix, reading transposes in place. */

/* How the operands are read as batches of matrices: a's batch matrices
 * are m x k, b's k x n, the output's m x n; batch[] are the output's batch
 * dimensions (padded in front with 1), sa[] and sb[] the operands' batch
 * strides in elements (0 along a dimension they are broadcast over). */
typedef struct mm_plan {
    size_t m, k, n;
    size_t batch[2], sa[2], sb[2];
} mm_plan;

/* Fills *p from a's and b's shapes (both rank >= 1). Returns NULL, or the
 * reason they have no product. */
static const char *mm_plan_of(const gg_node *a, const gg_node *b, mm_plan *p)
{
    int ra = a->rank, rb = b->rank;
    p->m = ra >= 2 ? (size_t)dim(a, ra - 2) : 1;
    p->k = (size_t)dim(a, ra - 1);
    p->n = rb >= 2 ? (size_t)dim(b, rb - 1) : 1;
    if ((size_t)dim(b, rb >= 2 ? rb - 2 : 0) != p->k)
        return "inner dimensions differ";
    int na = ra > 2 ? ra - 2 : 0, nb = rb > 2 ? rb - 2 : 0;
    size_t stride_a = p->m * p->k, stride_b = p->k * p->n;
    for (int d = 1; d >= 0; d--) {
        int ia = d - (2 - na), ib = d - (2 - nb); /* indexes of a's and b's batch dimensions */
        size_t da = ia >= 0 ? (size_t)dim(a, ia) : 1, db = ib >= 0 ? (size_t)dim(b, ib) : 1;
        if (da != db && da != 1 && db != 1)
            return "batch dimensions do not broadcast";
        p->batch[d] = da > db ? da : db;
        p->sa[d] = da > 1 ? stride_a : 0;
        p->sb[d] = db > 1 ? stride_b : 0;
        stride_a *= da;
        stride_b *= db;
    }
    return NULL;
}

static bool matmul_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *a = z->in[0], *b = z->in[1];
    mm_plan p;
    const char *why = !a->rank || !b->rank ? "a rank-0 operand has no matrix product (use gg_mul)"
                                           : mm_plan_of(a, b, &p);
    if (why) {
        char sa[64], sb[64];
        ggc_fail(g, "matmul: %s x %s: %s", gg_shape_str(a, sa, sizeof sa), gg_shape_str(b, sb, sizeof sb), why);
        return false;
    }
    int batch_rank = a->rank > b->rank ? a->rank - 2 : b->rank - 2;
    out->rank = 0;
    for (int d = 2 - (batch_rank > 0 ? batch_rank : 0); d < 2; d++)
        out->dims[out->rank++] = (int64_t)p.batch[d];
    if (a->rank >= 2)
        out->dims[out->rank++] = (int64_t)p.m;
    if (b->rank >= 2)
        out->dims[out->rank++] = (int64_t)p.n;
    return true;
}

/* C = op(A) . op(B) (+ C when accumulate), in z's dtype; the pointers are
 * offset by the element counts oa, ob, oc. */
static void mm_gemm(const gg_node *z, int ta, int tb, size_t M, size_t N, size_t K, const void *A,
                    size_t oa, size_t lda, const void *B, size_t ob, size_t ldb, int accumulate, void *C,
                    size_t oc, size_t ldc)
{
    if (z->dtype == GG_F32)
        ggk_gemm_f32(ta, tb, M, N, K, (const float *)A + oa, lda, (const float *)B + ob, ldb,
                     accumulate ? 1.0f : 0.0f, (float *)C + oc, ldc);
    else
        ggk_gemm_f64(ta, tb, M, N, K, (const double *)A + oa, lda, (const double *)B + ob, ldb,
                     accumulate ? 1.0 : 0.0, (double *)C + oc, ldc);
}

/* Both operands 2-D: one product, the calls the MLP's layers make. */
static void matmul2_forward(gg_node *z)
{
    gg_node *a = z->in[0], *b = z->in[1];
    size_t m = (size_t)dim(a, 0), k = (size_t)dim(a, 1), n = (size_t)dim(b, 1);
    if (z->dtype == GG_F32)
        ggk_gemm_f32(0, 0, m, n, k, ggc_val(a), k, ggc_val(b), n, 0.0f, ggc_val(z), n);
    else
        ggk_gemm_f64(0, 0, m, n, k, ggc_val(a), k, ggc_val(b), n, 0.0, ggc_val(z), n);
}

/* dA += dZ . B^T and dB += A^T . dZ, with no transposed copies. */
static void matmul2_backward(gg_node *z)
{
    gg_node *a = z->in[0], *b = z->in[1];
    size_t m = (size_t)dim(a, 0), k = (size_t)dim(a, 1), n = (size_t)dim(b, 1);
    /* beta 0 over a stale gradient: the product is its first contribution */
    if (z->dtype == GG_F32) {
        if (ggc_needs_grad(a))
            ggk_gemm_f32(0, 1, m, k, n, ggc_grad(z), n, ggc_val(b), n, ggc_grad_claim(a) ? 0.0f : 1.0f,
                         ggc_grad(a), k);
        if (ggc_needs_grad(b))
            ggk_gemm_f32(1, 0, k, n, m, ggc_val(a), k, ggc_grad(z), n, ggc_grad_claim(b) ? 0.0f : 1.0f,
                         ggc_grad(b), n);
    } else {
        if (ggc_needs_grad(a))
            ggk_gemm_f64(0, 1, m, k, n, ggc_grad(z), n, ggc_val(b), n, ggc_grad_claim(a) ? 0.0 : 1.0,
                         ggc_grad(a), k);
        if (ggc_needs_grad(b))
            ggk_gemm_f64(1, 0, k, n, m, ggc_val(a), k, ggc_grad(z), n, ggc_grad_claim(b) ? 0.0 : 1.0,
                         ggc_grad(b), n);
    }
}

static void matmul_forward(gg_node *z)
{
    gg_node *a = z->in[0], *b = z->in[1];
    if (a->rank == 2 && b->rank == 2) {
        matmul2_forward(z);
        return;
    }
    mm_plan p;
    mm_plan_of(a, b, &p);
    size_t oc = 0;
    for (size_t i = 0; i < p.batch[0]; i++)
        for (size_t j = 0; j < p.batch[1]; j++, oc += p.m * p.n)
            mm_gemm(z, 0, 0, p.m, p.n, p.k, ggc_val(a), i * p.sa[0] + j * p.sa[1], p.k, ggc_val(b),
                    i * p.sb[0] + j * p.sb[1], p.n, 0, ggc_val(z), oc, p.n);
}

/* Per batch matrix, dA += dZ . B^T and dB += A^T . dZ; an operand broadcast
 * over a batch dimension receives the sum over it, one product after the
 * other accumulating into the same gradient matrix. */
static void matmul_backward(gg_node *z)
{
    gg_node *a = z->in[0], *b = z->in[1];
    if (a->rank == 2 && b->rank == 2) {
        matmul2_backward(z);
        return;
    }
    mm_plan p;
    mm_plan_of(a, b, &p);
    size_t oc = 0;
    for (int i = 0; i < 2; i++) /* a batch may add into one operand twice */
        if (ggc_needs_grad(z->in[i]))
            ggc_grad_settle(z->in[i]);
    for (size_t i = 0; i < p.batch[0]; i++)
        for (size_t j = 0; j < p.batch[1]; j++, oc += p.m * p.n) {
            size_t oa = i * p.sa[0] + j * p.sa[1], ob = i * p.sb[0] + j * p.sb[1];
            if (ggc_needs_grad(a))
                mm_gemm(z, 0, 1, p.m, p.k, p.n, ggc_grad(z), oc, p.n, ggc_val(b), ob, p.n, 1, ggc_grad(a), oa, p.k);
            if (ggc_needs_grad(b))
                mm_gemm(z, 1, 0, p.k, p.n, p.m, ggc_val(a), oa, p.k, ggc_grad(z), oc, p.n, 1, ggc_grad(b), ob, p.n);
        }
}

/* x^T as a node: the input of x when x is itself a transpose (no copy of
 * a copy), else a new transpose. */
static gg_node *transposed(gg_graph *g, gg_node *x)
{
    if (x && x->gate == GG_GATE_transpose)
        return x->in[0];
    return gg_transpose(g, x);
}

/* Recorded: d a = upstream . b^T, d b = a^T . upstream, with a 1-D operand
 * made a matrix ([1,k] or [k,1]) and the upstream reshaped to match, then
 * summed back over the batches an operand was broadcast to. */
static bool matmul_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    gg_node *a = z->in[0], *b = z->in[1];
    gg_node *A = a, *B = b;
    if (a->rank == 1)
        A = gg_reshape(g, a, 2, (const int64_t[]){1, dim(a, 0)});
    if (b->rank == 1)
        B = gg_reshape(g, b, 2, (const int64_t[]){dim(b, 0), 1});
    int64_t ud[GG_MAX_DIMS + 2] = {0};
    int ur = z->rank;
    for (int i = 0; i < ur; i++)
        ud[i] = dim(z, i);
    if (b->rank == 1)
        ud[ur++] = 1;
    if (a->rank == 1) { /* ur >= 1 here: the 1 goes before the last dimension */
        ud[ur] = ud[ur - 1];
        ud[ur - 1] = 1;
        ur++;
    }
    gg_node *U = (ur == z->rank) ? up : gg_reshape(g, up, ur, ud);
    if (want[0] && !(din[0] = ggg_reshape_like(g, ggg_sum_to(g, gg_matmul(g, U, transposed(g, B)), A), a)))
        return false;
    if (want[1] && !(din[1] = ggg_reshape_like(g, ggg_sum_to(g, gg_matmul(g, transposed(g, A), U), B), b)))
        return false;
    return true;
}

const ggc_gate ggg_gate_matmul = {
    .name = "matmul",
    .arity = 2,
    .ordered = true,
    .rule = "matrix swap multiplier: the left matrix receives upstream . right^T, the right one left^T . upstream (per batch matrix, summed "
            "over the batches an operand is broadcast to)",
    .rule_ko = "행렬 \"swap multiplier\": 왼쪽 행렬은 upstream gradient · 오른쪽 행렬^T을, 오른쪽 행렬은 왼쪽 행렬^T · upstream gradient를 받는다 (gradient는 언제나 변수와 같은 shape)",
    .shape = matmul_shape,
    .forward = matmul_forward,
    .backward = matmul_backward,
    .writes_first = true,
    .grad = matmul_grad,
};

/* ---- sum and mean of all elements ------------------------------------------- */

static bool scalar_shape(gg_graph *g, const gg_node *n, ggc_shape *out)
{
    (void)g, (void)n;
    out->rank = 0;
    return true;
}

static double total(gg_node *a)
{
    const void *x = ggc_val(a);
    size_t cnt = ggc_numel(a);
    double s = 0;
    for (size_t i = 0; i < cnt; i++)
        s += ggb_get(a->dtype, x, i);
    return s;
}

static void spread(gg_node *z, double scale)
{
    gg_node *a = z->in[0];
    if (!ggc_needs_grad(a))
        return;
    double up = ggb_get(z->dtype, ggc_grad(z), 0) * scale;
    void *ga = ggc_grad(a);
    size_t cnt = ggc_numel(a);
    for (size_t i = 0; i < cnt; i++)
        ggb_add(a->dtype, ga, i, up);
}

static void sum_forward(gg_node *z) { ggb_put(z->dtype, ggc_val(z), 0, total(z->in[0])); }
static void sum_backward(gg_node *z) { spread(z, 1.0); }
static void mean_forward(gg_node *z)
{
    ggb_put(z->dtype, ggc_val(z), 0, total(z->in[0]) / (double)ggc_numel(z->in[0]));
}
static void mean_backward(gg_node *z) { spread(z, 1.0 / (double)ggc_numel(z->in[0])); }

/* Recorded: the upstream broadcast back over the input (times 1/count). */
static bool spread_grad(gg_graph *g, gg_node *z, gg_node *up, gg_node **din, double scale)
{
    gg_node *a = z->in[0];
    if (scale != 1.0)
        up = gg_mul(g, up, ggg_k(g, up, scale));
    return (din[0] = a->rank ? gg_broadcast_to(g, up, a->rank, ggc_dims(a)) : up) != NULL;
}
static bool sum_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return spread_grad(g, z, up, din, 1.0);
}
static bool mean_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return spread_grad(g, z, up, din, 1.0 / (double)ggc_numel(z->in[0]));
}

const ggc_gate ggg_gate_sum = {
    .name = "sum",
    .arity = 1,
    .rule = "distributor: every element receives the upstream gradient",
    .rule_ko = "gradient distributor: 모든 원소가 upstream gradient를 받는다",
    .shape = scalar_shape,
    .forward = sum_forward,
    .backward = sum_backward,
    .grad = sum_grad,
};
const ggc_gate ggg_gate_mean = {
    .name = "mean",
    .arity = 1,
    .rule = "distributor: every element receives the upstream gradient / count",
    .rule_ko = "gradient distributor: 모든 원소가 upstream gradient / 원소 수를 받는다",
    .shape = scalar_shape,
    .forward = mean_forward,
    .backward = mean_backward,
    .grad = mean_grad,
};

/* ---- sum and mean along one axis -------------------------------------------
 * The input is viewed as [outer, len, inner] around the axis (gates.h). */

static void reduce_axis_forward(gg_node *z, double scale)
{
    gg_node *a = z->in[0];
    ggg_axis_view v = ggg_axis_view_of(z);
    const void *x = ggc_val(a);
    void *y = ggc_val(z);
    for (size_t o = 0; o < v.outer; o++)
        for (size_t i = 0; i < v.inner; i++) {
            double s = 0;
            for (size_t l = 0; l < v.len; l++)
                s += ggb_get(a->dtype, x, (o * v.len + l) * v.inner + i);
            ggb_put(z->dtype, y, o * v.inner + i, s * scale);
        }
}

static void reduce_axis_backward(gg_node *z, double scale)
{
    gg_node *a = z->in[0];
    if (!ggc_needs_grad(a))
        return;
    ggg_axis_view v = ggg_axis_view_of(z);
    const void *gy = ggc_grad(z);
    void *gx = ggc_grad(a);
    for (size_t o = 0; o < v.outer; o++)
        for (size_t l = 0; l < v.len; l++)
            for (size_t i = 0; i < v.inner; i++)
                ggb_add(a->dtype, gx, (o * v.len + l) * v.inner + i, ggb_get(z->dtype, gy, o * v.inner + i) * scale);
}

static double axis_len(const gg_node *z) { return (double)ggg_axis_view_of(z).len; }
static void sum_axis_forward(gg_node *z) { reduce_axis_forward(z, 1.0); }
static void sum_axis_backward(gg_node *z) { reduce_axis_backward(z, 1.0); }
static void mean_axis_forward(gg_node *z) { reduce_axis_forward(z, 1.0 / axis_len(z)); }
static void mean_axis_backward(gg_node *z) { reduce_axis_backward(z, 1.0 / axis_len(z)); }

/* Recorded: the upstream with the axis kept (as 1), broadcast back along it. */
static bool axis_spread_grad(gg_graph *g, gg_node *z, gg_node *up, gg_node **din, double scale)
{
    gg_node *a = z->in[0];
    if (!ggg_keepdim(z)) {
        int64_t d[GG_MAX_DIMS];
        for (int i = 0; i < a->rank; i++)
            d[i] = i == ggg_axis(z) ? 1 : dim(a, i);
        up = gg_reshape(g, up, a->rank, d);
    }
    if (scale != 1.0)
        up = gg_mul(g, up, ggg_k(g, z, scale));
    return (din[0] = gg_broadcast_to(g, up, a->rank, ggc_dims(a))) != NULL;
}
static bool sum_axis_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return axis_spread_grad(g, z, up, din, 1.0);
}
static bool mean_axis_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return axis_spread_grad(g, z, up, din, 1.0 / axis_len(z));
}

const ggc_gate ggg_gate_sum_axis = {
    .name = "sum_axis",
    .arity = 1,
    .param = GGC_PARAM_AXIS,
    .rule = "distributor along the axis: each element receives its slice's upstream gradient",
    .shape = ggg_axis_shape,
    .forward = sum_axis_forward,
    .backward = sum_axis_backward,
    .grad = sum_axis_grad,
};
const ggc_gate ggg_gate_mean_axis = {
    .name = "mean_axis",
    .arity = 1,
    .param = GGC_PARAM_AXIS,
    .rule = "distributor along the axis: each element receives its slice's upstream gradient / length",
    .shape = ggg_axis_shape,
    .forward = mean_axis_forward,
    .backward = mean_axis_backward,
    .grad = mean_axis_grad,
};

/* ---- reshape and transpose -------------------------------------------------- */

/* One dimension of -1 is inferred: the element count over the others'
 * product (left as it is when another dimension is invalid, for
 * reshape_shape to refuse). */
static bool reshape_infer(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    int at = -1, unknown = 0;
    size_t rest = 1;
    for (int i = 0; i < out->rank; i++) {
        if (out->dims[i] == -1)
            at = i, unknown++;
        else if (out->dims[i] < 1 || (size_t)out->dims[i] > SIZE_MAX / rest)
            return true;
        else
            rest *= (size_t)out->dims[i];
    }
    if (unknown == 0)
        return true;
    size_t numel = ggc_numel(z->in[0]);
    if (unknown > 1 || numel % rest) {
        char sa[64], sb[64];
        ggc_fail(g, "reshape: %s to %s: %s", gg_shape_str(z->in[0], sa, sizeof sa),
                 ggc_dims_str(out->rank, out->dims, sb, sizeof sb),
                 unknown > 1 ? "only one dimension may be -1 (inferred from the others)"
                             : "the element count is not a multiple of the other dimensions' product");
        return false;
    }
    out->dims[at] = (int64_t)(numel / rest);
    return true;
}

static bool reshape_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    if (!reshape_infer(g, z, out))
        return false;
    size_t numel = 1;
    for (int i = 0; i < out->rank; i++) {
        if (out->dims[i] < 1 || (size_t)out->dims[i] > SIZE_MAX / numel) {
            numel = 0;
            break;
        }
        numel *= (size_t)out->dims[i];
    }
    if (numel != ggc_numel(z->in[0])) {
        char sa[64], sb[64];
        ggc_fail(g, "reshape: %s to %s: element counts differ", gg_shape_str(z->in[0], sa, sizeof sa),
                 ggc_dims_str(out->rank, out->dims, sb, sizeof sb));
        return false;
    }
    return true;
}

static void reshape_forward(gg_node *z)
{
    memcpy(ggc_val(z), ggc_val(z->in[0]), ggc_numel(z) * gg_dtype_size(z->dtype));
}

static void reshape_backward(gg_node *z)
{
    gg_node *a = z->in[0];
    if (!ggc_needs_grad(a))
        return;
    const void *gy = ggc_grad(z);
    void *gx = ggc_grad(a);
    for (size_t i = 0, n = ggc_numel(z); i < n; i++)
        ggb_add(a->dtype, gx, i, ggb_get(z->dtype, gy, i));
}

static bool reshape_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return (din[0] = ggg_reshape_like(g, up, z->in[0])) != NULL;
}

const ggc_gate ggg_gate_reshape = {
    .name = "reshape",
    .arity = 1,
    .rule = "passes the upstream gradient through, reshaped back",
    .shape = reshape_shape,
    .forward = reshape_forward,
    .backward = reshape_backward,
    .grad = reshape_grad,
};

static bool transpose_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *a = z->in[0];
    if (a->rank < 2) {
        char sa[64];
        ggc_fail(g, "transpose: %s: needs at least 2 dimensions", gg_shape_str(a, sa, sizeof sa));
        return false;
    }
    ggg_same_shape(g, z, out);
    out->dims[a->rank - 2] = dim(a, a->rank - 1);
    out->dims[a->rank - 1] = dim(a, a->rank - 2);
    return true;
}

/* Moves element (b, i, j) of src [.., r, c] to (b, j, i) of dst, or back. */
static void transpose_pass(gg_node *z, bool backward)
{
    gg_node *a = z->in[0];
    size_t r = (size_t)dim(a, a->rank - 2), c = (size_t)dim(a, a->rank - 1);
    size_t batch = ggc_numel(a) / (r * c);
    const void *src = backward ? ggc_grad(z) : ggc_val(a);
    void *dst = backward ? ggc_grad(a) : ggc_val(z);
    for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++) {
                size_t ia = b * r * c + i * c + j, iz = b * r * c + j * r + i;
                if (backward)
                    ggb_add(a->dtype, dst, ia, ggb_get(z->dtype, src, iz));
                else
                    ggb_put(z->dtype, dst, iz, ggb_get(a->dtype, src, ia));
            }
}

/* The forward in typed loops, tiled so that both sides stay in cache (a
 * matrix product's recorded backward transposes whole activations). */
#define TRANSPOSE_TILE 32
#define TRANSPOSE_LOOP(T)                                                                \
    for (size_t b = 0; b < batch; b++) {                                                 \
        const T *s = (const T *)src + b * r * c;                                         \
        T *d = (T *)dst + b * r * c;                                                     \
        for (size_t i0 = 0; i0 < r; i0 += TRANSPOSE_TILE)                                \
            for (size_t j0 = 0; j0 < c; j0 += TRANSPOSE_TILE)                            \
                for (size_t i = i0; i < r && i < i0 + TRANSPOSE_TILE; i++)               \
                    for (size_t j = j0; j < c && j < j0 + TRANSPOSE_TILE; j++)           \
                        d[j * r + i] = s[i * c + j];                                     \
    }
static void transpose_forward(gg_node *z)
{
    gg_node *a = z->in[0];
    size_t r = (size_t)dim(a, a->rank - 2), c = (size_t)dim(a, a->rank - 1);
    size_t batch = ggc_numel(a) / (r * c);
    const void *src = ggc_val(a);
    void *dst = ggc_val(z);
    if (z->dtype == GG_F32)
        TRANSPOSE_LOOP(float)
    else
        TRANSPOSE_LOOP(double)
}
#undef TRANSPOSE_LOOP
static void transpose_backward(gg_node *z)
{
    if (ggc_needs_grad(z->in[0]))
        transpose_pass(z, true);
}

static bool transpose_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)z, (void)want;
    return (din[0] = gg_transpose(g, up)) != NULL;
}

const ggc_gate ggg_gate_transpose = {
    .name = "transpose",
    .arity = 1,
    .rule = "passes the upstream gradient through, transposed back",
    .shape = transpose_shape,
    .forward = transpose_forward,
    .backward = transpose_backward,
    .grad = transpose_grad,
};

/* ---- softmax and log-softmax along the last axis ------------------------------ */

static size_t last_dim(const gg_node *n) { return n->rank ? (size_t)dim(n, n->rank - 1) : 1; }

/* The rows of the last axis: the axis view with inner = 1 (a rank-0 input
 * is one row of one). The kernels are the axis family's (axis.c). */
static ggg_axis_view rows_of(const gg_node *a)
{
    size_t len = last_dim(a);
    return (ggg_axis_view){ggc_numel(a) / len, len, 1};
}

static void softmax_forward(gg_node *z) { ggg_softmax_lines(z, rows_of(z->in[0]), false); }
static void log_softmax_forward(gg_node *z) { ggg_softmax_lines(z, rows_of(z->in[0]), true); }

static void softmax_backward(gg_node *z)
{
    if (ggc_needs_grad(z->in[0]))
        ggg_softmax_lines_backward(z, rows_of(z->in[0]), false);
}
static void log_softmax_backward(gg_node *z)
{
    if (ggc_needs_grad(z->in[0]))
        ggg_softmax_lines_backward(z, rows_of(z->in[0]), true);
}

/* Recorded: softmax dx = y * (up - sum(up * y)), log_softmax dx = up -
 * e^y * sum(up), the sums along the last axis (a rank-0 input is a row of
 * one). */
static bool softmax_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    gg_node *uy = gg_mul(g, up, z);
    gg_node *s = z->rank ? gg_sum_axis(g, uy, -1, 1) : uy;
    return (din[0] = gg_mul(g, z, gg_sub(g, up, s))) != NULL;
}
static bool log_softmax_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    gg_node *s = z->rank ? gg_sum_axis(g, up, -1, 1) : up;
    return (din[0] = gg_sub(g, up, gg_mul(g, gg_exp(g, z), s))) != NULL;
}

const ggc_gate ggg_gate_softmax = {
    .name = "softmax",
    .arity = 1,
    .rule = "from its own output: the input receives output * (upstream - sum(upstream * output)) along the row",
    .shape = ggg_same_shape,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .grad = softmax_grad,
};
const ggc_gate ggg_gate_log_softmax = {
    .name = "log_softmax",
    .arity = 1,
    .rule = "the input receives upstream - softmax * sum(upstream) along the row",
    .shape = ggg_same_shape,
    .forward = log_softmax_forward,
    .backward = log_softmax_backward,
    .grad = log_softmax_grad,
};

/* ---- Constructors ------------------------------------------------------------ */

gg_node *gg_matmul(gg_graph *g, gg_node *a, gg_node *b)
{
    return ggc_record(g, GG_GATE_matmul, a, b, 0, NULL);
}
gg_node *gg_sum(gg_graph *g, gg_node *a) { return ggc_record(g, GG_GATE_sum, a, NULL, 0, NULL); }
gg_node *gg_mean(gg_graph *g, gg_node *a) { return ggc_record(g, GG_GATE_mean, a, NULL, 0, NULL); }
gg_node *gg_transpose(gg_graph *g, gg_node *a)
{
    return ggc_record(g, GG_GATE_transpose, a, NULL, 0, NULL);
}
gg_node *gg_softmax(gg_graph *g, gg_node *a)
{
    return ggc_record(g, GG_GATE_softmax, a, NULL, 0, NULL);
}
gg_node *gg_log_softmax(gg_graph *g, gg_node *a)
{
    return ggc_record(g, GG_GATE_log_softmax, a, NULL, 0, NULL);
}

gg_node *gg_sum_axis(gg_graph *g, gg_node *a, int axis, int keepdim)
{
    return ggg_record_axis(g, GG_GATE_sum_axis, a, axis, keepdim);
}

gg_node *gg_mean_axis(gg_graph *g, gg_node *a, int axis, int keepdim)
{
    return ggg_record_axis(g, GG_GATE_mean_axis, a, axis, keepdim);
}

gg_node *gg_reshape(gg_graph *g, gg_node *a, int rank, const int64_t *dims)
{
    if (!g || !a)
        return NULL;
    if (rank < 0 || rank > GG_MAX_DIMS || (rank && !dims))
        return ggc_fail(g, "reshape: rank %d is out of range 0..%d", rank, GG_MAX_DIMS);
    ggc_shape want = {.rank = rank};
    if (rank)
        memcpy(want.dims, dims, (size_t)rank * sizeof *dims);
    return ggc_record(g, GG_GATE_reshape, a, NULL, 0, &want);
}
