/* loss.c - fused loss gates: softmax cross-entropy with integer
 * labels and binary cross-entropy on logits. Each is one gate rather than a
 * chain of exp / log / sum gates so that it stays finite for any logits
 * (log-sum-exp with the row maximum taken out) and its backward is the
 * short closed form. Arithmetic in double for both dtypes. */
#include <math.h>
#include <string.h>

#include "gates/gates.h"
#include "gategrad/threads.h"
#include "kernels/kernels.h"

/* ---- softmax cross-entropy: logits [B, C], labels [B] ------------------------ */

static bool sce_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *x = z->in[0], *y = z->in[1];
    if (x->rank != 2 || y->rank != 1 || y->val.t->dims[0] != x->val.t->dims[0]) {
        char sx[64], sy[64];
        ggc_fail(g, "softmax_cross_entropy: logits %s and labels %s: expected [B,C] and [B]",
                 gg_shape_str(x, sx, sizeof sx), gg_shape_str(y, sy, sizeof sy));
        return false;
    }
    out->rank = 0;
    return true;
}

typedef struct sce_dims {
    size_t rows, classes;
} sce_dims;

static sce_dims sce_view(const gg_node *z)
{
    const gg_node *x = z->in[0];
    return (sce_dims){(size_t)x->val.t->dims[0], (size_t)x->val.t->dims[1]};
}

/* The label of row r as an index; -1 ignores the row, -2 is invalid. */
static long row_label(const gg_node *y, size_t r, size_t classes)
{
    double v = ggb_get(y->dtype, ggc_val((gg_node *)y), r);
    if (v < 0)
        return -1;
    if (!(v < (double)classes) || (double)(long)v != v) /* NaN, too large or not whole */
        return -2;
    return (long)v;
}

/* fmax's answer (a NaN never wins), without its call. */
static inline double row_max(double mx, double v) { return v > mx ? v : mx; }

/* Exponentials a pass keeps on the stack (doubles): rows up to this long
 * are taken a block of rows at a time, every exponential of the block in
 * one vectorized call; longer rows a piece at a time. */
#define SCE_BUF 2048
/* Rows of a block at most (the per-row maxima and sums on the stack). */
#define SCE_BLOCK_ROWS 256

/* d[i] = logits[off + i] as a double, i < len. */
static void load_logits(const gg_node *x, size_t off, size_t len, double *d)
{
    const void *p = ggc_val((gg_node *)x);
    if (x->dtype == GG_F64) {
        memcpy(d, (const double *)p + off, len * sizeof *d);
        return;
    }
    const float *f = (const float *)p + off;
    for (size_t i = 0; i < len; i++)
        d[i] = f[i];
}

/* A block of rows [r, r + nr) of the logits, len each (nr * len <=
 * SCE_BUF), is kept with its rows side by side: e[k * nr + i] is element k
 * of row i. In one row, the maximum and the sum are chains of len steps;
 * side by side, each step runs over the block's rows at once (the vector
 * lanes), and each row's sum is still added in the order of its
 * elements. */
static void load_block(const gg_node *x, size_t r, size_t nr, size_t len, double *e)
{
    const void *p = ggc_val((gg_node *)x);
    if (x->dtype == GG_F64) {
        const double *d = (const double *)p + r * len;
        for (size_t i = 0; i < nr; i++)
            for (size_t k = 0; k < len; k++)
                e[k * nr + i] = d[i * len + k];
        return;
    }
    const float *f = (const float *)p + r * len;
    for (size_t i = 0; i < nr; i++)
        for (size_t k = 0; k < len; k++)
            e[k * nr + i] = f[i * len + k];
}

/* mx[i] = row i's maximum, subtracted from each of its elements. */
GGK_VEC static void shift_rows(double *restrict e, size_t nr, size_t len, double *restrict mx)
{
    for (size_t i = 0; i < nr; i++)
        mx[i] = -INFINITY;
    for (size_t k = 0; k < len; k++)
        for (size_t i = 0; i < nr; i++)
            mx[i] = row_max(mx[i], e[k * nr + i]);
    for (size_t k = 0; k < len; k++)
        for (size_t i = 0; i < nr; i++)
            e[k * nr + i] -= mx[i];
}

GGK_VEC static void sum_rows(const double *restrict e, size_t nr, size_t len, double *restrict s)
{
    for (size_t i = 0; i < nr; i++)
        s[i] = 0;
    for (size_t k = 0; k < len; k++)
        for (size_t i = 0; i < nr; i++)
            s[i] += e[k * nr + i];
}

/* The block's e gets exp(x - the row's maximum), mx each row's maximum and
 * s each row's sum of those exponentials. */
static void exp_block(const gg_node *x, size_t r, size_t nr, size_t len, double *e, double *mx,
                      double *s)
{
    load_block(x, r, nr, len, e);
    shift_rows(e, nr, len, mx);
    ggk_exp_f64(e, e, nr * len);
    sum_rows(e, nr, len, s);
}

/* The piece of a long row from k0 on (SCE_BUF at most, returned): buf[k] =
 * exp(x[off + k0 + k] - shift). */
static size_t shifted_exp_piece(const gg_node *x, size_t off, size_t len, size_t k0, double shift,
                                double *buf)
{
    size_t n = len - k0 < SCE_BUF ? len - k0 : SCE_BUF;
    load_logits(x, off + k0, n, buf);
    for (size_t k = 0; k < n; k++)
        buf[k] -= shift;
    ggk_exp_f64(buf, buf, n);
    return n;
}

/* A row longer than SCE_BUF: its maximum, then its log-sum-exp. */
static double long_row_lse(const gg_node *x, size_t off, size_t len, double *buf)
{
    double mx = -INFINITY, s = 0;
    for (size_t k0 = 0; k0 < len; k0 += SCE_BUF) {
        size_t n = len - k0 < SCE_BUF ? len - k0 : SCE_BUF;
        load_logits(x, off + k0, n, buf);
        for (size_t k = 0; k < n; k++)
            mx = row_max(mx, buf[k]);
    }
    for (size_t k0 = 0; k0 < len; k0 += SCE_BUF) {
        size_t n = shifted_exp_piece(x, off, len, k0, mx, buf);
        for (size_t k = 0; k < n; k++)
            s += buf[k];
    }
    return mx + log(s);
}

/* The backward's g[off + k] += scale * (e[k] / s - onehot(lab)[first + k]),
 * k < n: the softmax of a row from its exponentials and their sum. */
static void add_row_grad(gg_node *x, size_t off, const double *e, size_t n, double s, long lab,
                         size_t first, double scale)
{
    void *g = ggc_grad(x);
    if (x->dtype == GG_F64) {
        double *gd = (double *)g + off;
        for (size_t k = 0; k < n; k++)
            gd[k] += scale * (e[k] / s - ((long)(first + k) == lab));
    } else {
        float *gf = (float *)g + off;
        for (size_t k = 0; k < n; k++)
            gf[k] += (float)(scale * (e[k] / s - ((long)(first + k) == lab)));
    }
}

static size_t sce_counted(const gg_node *z)
{
    sce_dims d = sce_view(z);
    size_t n = 0;
    for (size_t r = 0; r < d.rows; r++)
        n += row_label(z->in[1], r, d.classes) != -1;
    return n;
}

/* Rows per pass of the forward's buffer of row losses. */
#define SCE_CHUNK 512
/* Elements from which the rows are shared out among the threads: below,
 * the hand-off costs more than the rows' vectorized exponentials. */
#define SCE_PAR_MIN 8192

/* A share of rows of the gate: the forward's losses of rows [first, first
 * + rows) into loss (the threads split them, and one thread sums them in
 * order, so that the total has the bits of one thread's), or the
 * backward's gradient rows. */
typedef struct sce_job {
    gg_node *z;
    size_t first, rows;
    double *loss;  /* forward: one per row of the pass */
    double scale;  /* backward: upstream / counted rows */
} sce_job;

/* Thread tid's rows [lo, hi) of the job's. */
static void sce_part(const sce_job *j, int tid, int nthreads, size_t *lo, size_t *hi)
{
    ggk_share(j->rows, 1, tid, nthreads, lo, hi);
    *lo += j->first;
    *hi += j->first;
}

static void sce_run(ggk_task_fn task, sce_job *j, size_t classes)
{
    ggk_parallel_run(task, j, j->rows * classes >= SCE_PAR_MIN ? gg_num_threads() : 1);
}

/* What a job does with a block of rows [r, r + nr) whose exponentials are
 * in e (side by side: element k of row i at e[k * nr + i]), with each
 * row's maximum and sum; e is the job's to overwrite. */
typedef void (*sce_block_fn)(const sce_job *j, size_t r, size_t nr, double *e, const double *mx,
                             const double *s);
/* And with one row longer than SCE_BUF (buf: SCE_BUF doubles to use). */
typedef void (*sce_long_row_fn)(const sce_job *j, size_t r, double *buf);

/* Runs block (or long_row) over thread tid's rows of the job. */
static void sce_each_block(void *arg, int tid, int nthreads, sce_block_fn block,
                           sce_long_row_fn long_row)
{
    const sce_job *j = arg;
    size_t lo, hi, classes = sce_view(j->z).classes;
    sce_part(j, tid, nthreads, &lo, &hi);
    double e[SCE_BUF], mx[SCE_BLOCK_ROWS], s[SCE_BLOCK_ROWS];
    if (classes > SCE_BUF) {
        for (size_t r = lo; r < hi; r++)
            long_row(j, r, e);
        return;
    }
    size_t per = SCE_BUF / classes < SCE_BLOCK_ROWS ? SCE_BUF / classes : SCE_BLOCK_ROWS;
    for (size_t r = lo; r < hi; r += per) {
        size_t nr = hi - r < per ? hi - r : per;
        exp_block(j->z->in[0], r, nr, classes, e, mx, s);
        block(j, r, nr, e, mx, s);
    }
}

static double row_loss(const gg_node *z, size_t r, double lse, size_t classes)
{
    const gg_node *x = z->in[0];
    long lab = row_label(z->in[1], r, classes);
    return lab < 0 ? 0 : lse - ggb_get(x->dtype, ggc_val((gg_node *)x), r * classes + (size_t)lab);
}

static void sce_loss_block(const sce_job *j, size_t r, size_t nr, double *e, const double *mx,
                           const double *s)
{
    (void)e;
    size_t classes = sce_view(j->z).classes;
    for (size_t i = 0; i < nr; i++)
        j->loss[r + i - j->first] = row_loss(j->z, r + i, mx[i] + log(s[i]), classes);
}

static void sce_loss_long_row(const sce_job *j, size_t r, double *buf)
{
    size_t classes = sce_view(j->z).classes;
    j->loss[r - j->first] = row_loss(j->z, r, long_row_lse(j->z->in[0], r * classes, classes, buf), classes);
}

static void sce_loss_task(void *arg, int tid, int nthreads)
{
    sce_each_block(arg, tid, nthreads, sce_loss_block, sce_loss_long_row);
}

static void sce_forward(gg_node *z)
{
    sce_dims d = sce_view(z);
    double total = 0, loss[SCE_CHUNK];
    size_t n = 0;
    for (size_t first = 0; first < d.rows; first += SCE_CHUNK) {
        sce_job j = {z, first, d.rows - first < SCE_CHUNK ? d.rows - first : SCE_CHUNK, loss, 0};
        sce_run(sce_loss_task, &j, d.classes);
        for (size_t r = first; r < first + j.rows; r++) {
            long lab = row_label(z->in[1], r, d.classes);
            if (lab == -2)
                total = NAN;
            else if (lab >= 0)
                total += loss[r - first];
            n += lab != -1;
        }
    }
    ggb_put(z->dtype, ggc_val(z), 0, n ? total / (double)n : 0.0);
}

/* The block's e[k * nr + i] becomes scale * (softmax - onehot(lab[i])) at
 * element k of row i: that row's gradient. (lab is not const: GCC 12 takes
 * a const array passed to a cloned function for one it reads unset.) */
GGK_VEC static void softmax_minus_onehot(double *restrict e, size_t nr, size_t len, const double *restrict s,
                                         long *restrict lab, double scale)
{
    for (size_t k = 0; k < len; k++)
        for (size_t i = 0; i < nr; i++)
            e[k * nr + i] = scale * (e[k * nr + i] / s[i] - ((long)k == lab[i]));
}

/* Adds the block's gradient rows (e, side by side) into x's gradient rows
 * [r, r + nr), those of rows with a label. */
static void add_block_grad(gg_node *x, size_t r, size_t nr, size_t len, const double *e, const long *lab)
{
    void *g = ggc_grad(x);
    for (size_t i = 0; i < nr; i++) {
        if (lab[i] < 0)
            continue;
        if (x->dtype == GG_F64) {
            double *gd = (double *)g + (r + i) * len;
            for (size_t k = 0; k < len; k++)
                gd[k] += e[k * nr + i];
        } else {
            float *gf = (float *)g + (r + i) * len;
            for (size_t k = 0; k < len; k++)
                gf[k] += (float)e[k * nr + i];
        }
    }
}

static void sce_grad_block(const sce_job *j, size_t r, size_t nr, double *e, const double *mx,
                           const double *s)
{
    (void)mx;
    size_t classes = sce_view(j->z).classes;
    long lab[SCE_BLOCK_ROWS];
    for (size_t i = 0; i < nr; i++)
        lab[i] = row_label(j->z->in[1], r + i, classes);
    softmax_minus_onehot(e, nr, classes, s, lab, j->scale);
    add_block_grad(j->z->in[0], r, nr, classes, e, lab);
}

/* A long row's softmax is exp(x - lse), taken a piece at a time. */
static void sce_grad_long_row(const sce_job *j, size_t r, double *buf)
{
    gg_node *x = j->z->in[0];
    size_t classes = sce_view(j->z).classes, off = r * classes;
    long lab = row_label(j->z->in[1], r, classes);
    if (lab < 0)
        return;
    double lse = long_row_lse(x, off, classes, buf);
    for (size_t k0 = 0; k0 < classes; k0 += SCE_BUF) {
        size_t n = shifted_exp_piece(x, off, classes, k0, lse, buf);
        add_row_grad(x, off + k0, buf, n, 1.0, lab, k0, j->scale);
    }
}

static void sce_grad_task(void *arg, int tid, int nthreads)
{
    sce_each_block(arg, tid, nthreads, sce_grad_block, sce_grad_long_row);
}

static void sce_backward(gg_node *z)
{
    gg_node *x = z->in[0];
    if (!ggc_needs_grad(x))
        return;
    sce_dims d = sce_view(z);
    size_t n = sce_counted(z);
    double scale = n ? ggb_get(z->dtype, ggc_grad(z), 0) / (double)n : 0.0;
    sce_job j = {z, 0, d.rows, NULL, scale};
    sce_run(sce_grad_task, &j, d.classes);
}

/* Recorded: up * (softmax(logits) - onehot(labels)) * counted / max(count,
 * 1), the row mask counted = (label >= 0) and the count nodes of the
 * labels, so new labels written with gg_set_data give the new gradient. */
static bool sce_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    gg_node *x = z->in[0], *lab = z->in[1];
    sce_dims d = sce_view(z);
    gg_node *col = gg_reshape(g, lab, 2, (const int64_t[]){(int64_t)d.rows, 1});
    gg_node *oh = ggg_onehot(g, col, ggg_iota(g, (gg_dtype)x->dtype, 2, 1, (int64_t)d.classes));
    gg_node *counted = gg_sub(g, ggg_k(g, x, 1), gg_step(g, gg_neg(g, col)));
    gg_node *count = gg_max(g, gg_sum(g, counted), ggg_k(g, x, 1));
    gg_node *diff = gg_mul(g, gg_sub(g, gg_softmax(g, x), oh), counted);
    return (din[0] = gg_mul(g, gg_div(g, diff, count), up)) != NULL;
}

const ggc_gate ggg_gate_softmax_cross_entropy = {
    .name = "softmax_cross_entropy",
    .arity = 2,
    .rule = "the logits receive upstream * (softmax - onehot(label)) / rows; the labels receive none",
    .rule_ko = "logits는 upstream gradient × (softmax - onehot(label)) / 행 수를 받고, label은 gradient를 받지 않는다",
    .shape = sce_shape,
    .forward = sce_forward,
    .backward = sce_backward,
    .grad = sce_grad,
};

/* ---- binary cross-entropy on logits: x and t of one shape ---------------------- */

static bool bce_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    const gg_node *x = z->in[0], *t = z->in[1];
    bool same = x->rank == t->rank;
    for (int i = 0; same && i < x->rank; i++)
        same = x->val.t->dims[i] == t->val.t->dims[i];
    if (!same) {
        char sx[64], st[64];
        ggc_fail(g, "bce_with_logits: logits %s and targets %s: shapes differ",
                 gg_shape_str(x, sx, sizeof sx), gg_shape_str(t, st, sizeof st));
        return false;
    }
    out->rank = 0;
    return true;
}

static void bce_forward(gg_node *z)
{
    gg_node *x = z->in[0], *t = z->in[1];
    size_t n = ggc_numel(x);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double xi = ggb_get(x->dtype, ggc_val(x), i), ti = ggb_get(t->dtype, ggc_val(t), i);
        total += fmax(xi, 0) - xi * ti + log1p(exp(-fabs(xi)));
    }
    ggb_put(z->dtype, ggc_val(z), 0, total / (double)n);
}

static double sigmoid(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static void bce_backward(gg_node *z)
{
    gg_node *x = z->in[0], *t = z->in[1];
    size_t n = ggc_numel(x);
    double scale = ggb_get(z->dtype, ggc_grad(z), 0) / (double)n;
    for (size_t i = 0; i < n; i++) {
        double xi = ggb_get(x->dtype, ggc_val(x), i), ti = ggb_get(t->dtype, ggc_val(t), i);
        if (ggc_needs_grad(x))
            ggb_add(x->dtype, ggc_grad(x), i, scale * (sigmoid(xi) - ti));
        if (ggc_needs_grad(t))
            ggb_add(t->dtype, ggc_grad(t), i, -scale * xi);
    }
}

/* Recorded: dx = up * (sigmoid(x) - t) / N, dt = -up * x / N. */
static bool bce_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want, gg_node **din)
{
    gg_node *x = z->in[0], *t = z->in[1];
    double inv = 1.0 / (double)ggc_numel(x);
    if (want[0] && !(din[0] = gg_mul(g, gg_mul(g, up, ggg_k(g, z, inv)), gg_sub(g, gg_sigmoid(g, x), t))))
        return false;
    if (want[1] && !(din[1] = gg_mul(g, gg_mul(g, up, ggg_k(g, z, -inv)), x)))
        return false;
    return true;
}

const ggc_gate ggg_gate_bce_with_logits = {
    .name = "bce_with_logits",
    .arity = 2,
    .rule = "the logits receive upstream * (sigmoid(logits) - targets) / N, the targets -upstream * logits / N",
    .shape = bce_shape,
    .forward = bce_forward,
    .backward = bce_backward,
    .grad = bce_grad,
};

gg_node *gg_softmax_cross_entropy(gg_graph *g, gg_node *logits, gg_node *labels)
{
    return ggc_record(g, GG_GATE_softmax_cross_entropy, logits, labels, 0, NULL);
}

gg_node *gg_bce_with_logits(gg_graph *g, gg_node *logits, gg_node *targets)
{
    return ggc_record(g, GG_GATE_bce_with_logits, logits, targets, 0, NULL);
}
