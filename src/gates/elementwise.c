/* elementwise.c - gates that work element by element: the lecture's
 * add, mul, max, copy and sigmoid, and their relatives.
 *
 * Each gate is one definition: its forward formula and its local derivative,
 * side by side, and the sentence that says how it moves the gradient. The
 * loops around them (dtypes, broadcasting, accumulating into inputs) are
 * written once, below, and inlined into every gate. Formulas are written in
 * double for both dtypes and rounded to the node's; where float computes the
 * same bits (add, mul, max, relu, ...) the compiler keeps f32 loops in float,
 * and it vectorizes them, for AVX-512 too (GGK_VEC in kernels/kernels.h). */
#include <math.h>

#include "gates/gates.h"
#include "gategrad/threads.h"
#include "kernels/kernels.h"

#define INLINE static inline __attribute__((always_inline))
/* The tensor paths are kept out of line so that a gate's scalar path, the
 * one a scalar graph runs per node, needs no stack frame. */
#define NOINLINE __attribute__((noinline))

/* ---- Sharing a loop out among the threads ---------------------------------
 * A tensor is split among as many threads as get PAR_MIN_PER_THREAD
 * elements each (two for a layer of 256 units at a batch of 128); with
 * fewer, waking a worker and moving its part of the tensor to its core
 * cost about as much as the split saves. Every element is computed alone,
 * so the split never changes a bit. */
#define PAR_MIN_PER_THREAD 16384

/* One gate's loop as the threads share it: the node, the broadcast plan
 * (binary gates), which input's gradient and whether it is written (the
 * first contribution) or added to. */
typedef struct ew_job {
    gg_node *n;
    ggg_bplan p;
    int which;
    bool write;
    bool split_cols; /* threads split the innermost dimension, not the rows */
} ew_job;

/* Runs task over the job, on as many threads as the elements keep busy. */
static void ew_run(ggk_task_fn task, ew_job *j, size_t elements)
{
    size_t want = elements / PAR_MIN_PER_THREAD;
    if (want >= 2)
        ggk_parallel_run(task, j, want < (size_t)GG_MAX_THREADS ? (int)want : GG_MAX_THREADS);
    else
        task(j, 0, 1);
}

typedef double (*unary_fn)(double x, double p);
typedef double (*unary_deriv_fn)(double x, double y, double p);
typedef double (*binary_fn)(double a, double b);
typedef double (*binary_deriv_fn)(double a, double b, double z);

/* ---- The loops shared by every unary gate ------------------------------- */

/* The tensor loops, once per element type. restrict: a gate's output and
 * gradient buffers never overlap its inputs' (the arena gives each node its
 * own), which lets these loops vectorize. */
#define UNARY_LOOPS(T)                                                               \
    INLINE void unary_forward_##T(size_t cnt, const T *restrict x, T *restrict y,    \
                                  double p, unary_fn f)                              \
    {                                                                                \
        for (size_t i = 0; i < cnt; i++)                                             \
            y[i] = (T)f(x[i], p);                                                    \
    }                                                                                \
    INLINE void unary_backward_##T(size_t cnt, const T *restrict x, const T *restrict y, \
                                   const T *restrict gy, T *restrict gx, double p,   \
                                   unary_deriv_fn d, bool write)                     \
    {                                                                                \
        if (write)                                                                   \
            for (size_t i = 0; i < cnt; i++)                                         \
                gx[i] = (T)(gy[i] * d(x[i], y[i], p));                               \
        else                                                                         \
            for (size_t i = 0; i < cnt; i++)                                         \
                gx[i] += (T)(gy[i] * d(x[i], y[i], p));                              \
    }
UNARY_LOOPS(float)
UNARY_LOOPS(double)

/* A rank-0 f64 node (every node of a scalar graph) takes these paths,
 * in a small function of its own: the tensor loops' stack frame would cost
 * more than the arithmetic. */
INLINE bool scalar_node(const gg_node *n) { return n->rank == 0 && n->dtype == GG_F64; }

INLINE void unary_scalar_forward(gg_node *n, unary_fn f)
{
    n->val.s.d = f(n->in[0]->val.s.d, n->param.f);
}

INLINE void unary_scalar_backward(gg_node *n, unary_deriv_fn d)
{
    gg_node *a = n->in[0];
    if (ggc_needs_grad(a))
        a->grad.d += n->grad.d * d(a->val.s.d, n->val.s.d, n->param.f);
}

/* Elements [lo, hi) of thread tid's part of a unary gate's loop. */
#define UNARY_PART(j, tid, nthreads, lo, hi)                                         \
    const ew_job *j = job;                                                           \
    size_t lo, hi;                                                                   \
    ggk_share(ggc_numel(j->n), 16, tid, nthreads, &lo, &hi)

INLINE void unary_forward(gg_node *n, unary_fn f, size_t lo, size_t hi)
{
    gg_node *a = n->in[0];
    double p = n->param.f;
    if (n->dtype == GG_F64)
        unary_forward_double(hi - lo, (const double *)ggc_val(a) + lo, (double *)ggc_val(n) + lo, p, f);
    else
        unary_forward_float(hi - lo, (const float *)ggc_val(a) + lo, (float *)ggc_val(n) + lo, p, f);
}

INLINE void unary_backward(gg_node *n, unary_deriv_fn d, bool write, size_t lo, size_t hi)
{
    gg_node *a = n->in[0];
    double p = n->param.f;
    if (n->dtype == GG_F64)
        unary_backward_double(hi - lo, (const double *)ggc_val(a) + lo, (const double *)ggc_val(n) + lo,
                              (const double *)ggc_grad(n) + lo, (double *)ggc_grad(a) + lo, p, d, write);
    else
        unary_backward_float(hi - lo, (const float *)ggc_val(a) + lo, (const float *)ggc_val(n) + lo,
                             (const float *)ggc_grad(n) + lo, (float *)ggc_grad(a) + lo, p, d, write);
}

/* The input's gradient is claimed once, before the threads share the loop. */
NOINLINE static void unary_forward_run(gg_node *n, ggk_task_fn task)
{
    ew_run(task, &(ew_job){.n = n}, ggc_numel(n));
}

NOINLINE static void unary_backward_run(gg_node *n, ggk_task_fn task)
{
    gg_node *a = n->in[0];
    if (!ggc_needs_grad(a))
        return;
    ew_job j = {.n = n, .write = ggc_grad_claim(a)};
    ew_run(task, &j, ggc_numel(n));
}

INLINE double unary_local(const gg_node *n, size_t k, unary_deriv_fn d)
{
    return d(gg_value_at(n->in[0], k), gg_value_at(n, k), n->param.f);
}

/* One unary gate: y = FWD (of x and p), dy/dx = DERIV (of x, y and p); the
 * rest of its entry (formula, expression name, ...) as designated
 * initializers. */
#define UNARY_GATE(NAME, RULE, FWD, DERIV, ...)                                      \
    static double NAME##_f(double x, double p)                                       \
    {                                                                                \
        (void)p;                                                                     \
        return FWD;                                                                  \
    }                                                                                \
    static double NAME##_d(double x, double y, double p)                             \
    {                                                                                \
        (void)x, (void)y, (void)p;                                                   \
        return DERIV;                                                                \
    }                                                                                \
    GGK_VEC_OUTLINE static void NAME##_forward_part(void *job, int tid, int nthreads) \
    {                                                                                \
        UNARY_PART(j, tid, nthreads, lo, hi);                                        \
        unary_forward(j->n, NAME##_f, lo, hi);                                       \
    }                                                                                \
    GGK_VEC_OUTLINE static void NAME##_backward_part(void *job, int tid, int nthreads) \
    {                                                                                \
        UNARY_PART(j, tid, nthreads, lo, hi);                                        \
        unary_backward(j->n, NAME##_d, j->write, lo, hi);                            \
    }                                                                                \
    static void NAME##_forward(gg_node *n)                                           \
    {                                                                                \
        if (scalar_node(n))                                                          \
            unary_scalar_forward(n, NAME##_f);                                       \
        else                                                                         \
            unary_forward_run(n, NAME##_forward_part);                               \
    }                                                                                \
    static void NAME##_backward(gg_node *n)                                          \
    {                                                                                \
        if (scalar_node(n))                                                          \
            unary_scalar_backward(n, NAME##_d);                                      \
        else                                                                         \
            unary_backward_run(n, NAME##_backward_part);                             \
    }                                                                                \
    static double NAME##_local(const gg_node *n, int i, size_t k)                    \
    {                                                                                \
        (void)i;                                                                     \
        return unary_local(n, k, NAME##_d);                                          \
    }                                                                                \
    const ggc_gate ggg_gate_##NAME = {.name = #NAME,                                 \
                                     .arity = 1,                                     \
                                     .rule = RULE,                                   \
                                     .elementwise = true,                            \
                                     .writes_first = true,                           \
                                     .shape = ggg_same_shape,                        \
                                     .forward = NAME##_forward,                      \
                                     .backward = NAME##_backward,                    \
                                     .f1 = NAME##_f,                                 \
                                     .local = NAME##_local,                          \
                                     .fwd_text = #FWD,                               \
                                     .local_text = {#DERIV},                         \
                                     __VA_ARGS__};

/* ---- The loops shared by every binary gate ------------------------------ */

/* The innermost loop of BROADCAST_LOOP with strides SA, SB; constant ones
 * let it vectorize. */
#define INNER_LOOP(p, SA, SB, BODY)                                                  \
    for (size_t i3 = cl; i3 < ch; i3++) {                                            \
        size_t k = k0 + i3, ia = ba + i3 * (SA), ib = bb + i3 * (SB);                \
        BODY;                                                                        \
    }

/* Runs BODY for every output element k of units [lo, hi) and innermost
 * indices [cl, ch), with ia and ib the matching (broadcast) elements of the
 * inputs. A unit is an element when the plan is flat (cl, ch unused), else
 * a row of the innermost dimension (see plan_units). The innermost
 * dimension is contiguous in both inputs (1, 1) or broadcast from one
 * (1, 0 / 0, 1) in nearly every use (a bias row added to a batch, a scale),
 * so those cases get loops of their own. */
#define BROADCAST_LOOP(p, lo, hi, cl, ch, BODY)                                      \
    do {                                                                             \
        if ((p).flat) {                                                              \
            for (size_t k = (lo); k < (hi); k++) {                                   \
                size_t ia = k, ib = k;                                               \
                BODY;                                                                \
            }                                                                        \
            break;                                                                   \
        }                                                                            \
        size_t sa3 = (p).sa[3], sb3 = (p).sb[3], k0 = (lo) * (p).n[3];               \
        size_t i2 = (lo) % (p).n[2], i1 = (lo) / (p).n[2] % (p).n[1];                \
        size_t i0 = (lo) / (p).n[2] / (p).n[1];                                      \
        for (size_t r = (lo); r < (hi); r++, k0 += (p).n[3]) {                       \
            size_t ba = i0 * (p).sa[0] + i1 * (p).sa[1] + i2 * (p).sa[2];            \
            size_t bb = i0 * (p).sb[0] + i1 * (p).sb[1] + i2 * (p).sb[2];            \
            if (sa3 == 1 && sb3 == 1)                                                \
                INNER_LOOP(p, 1, 1, BODY)                                            \
            else if (sa3 == 1 && sb3 == 0)                                           \
                INNER_LOOP(p, 1, 0, BODY)                                            \
            else if (sa3 == 0 && sb3 == 1)                                           \
                INNER_LOOP(p, 0, 1, BODY)                                            \
            else                                                                     \
                INNER_LOOP(p, sa3, sb3, BODY)                                        \
            if (++i2 == (p).n[2] && (i2 = 0, ++i1 == (p).n[1]))                      \
                i1 = 0, i0++;                                                        \
        }                                                                            \
    } while (0)

/* The units BROADCAST_LOOP counts over the whole output. */
INLINE size_t plan_units(const ggg_bplan *p)
{
    return p->flat ? p->n[0] * p->n[1] * p->n[2] * p->n[3] : p->n[0] * p->n[1] * p->n[2];
}

/* The tensor loops, once per element type (restrict: see UNARY_LOOPS).
 * Backward adds upstream * d(out)/d(input which) into that input's
 * gradient; an input stretched by broadcasting sums its share over the
 * stretched dimensions. */
#define BINARY_LOOPS(T)                                                              \
    INLINE void binary_forward_##T(const ggg_bplan *p, size_t lo, size_t hi, size_t cl, size_t ch, \
                                   const T *restrict A,                              \
                                   const T *restrict B, T *restrict Z, binary_fn f)  \
    {                                                                                \
        BROADCAST_LOOP(*p, lo, hi, cl, ch, Z[k] = (T)f(A[ia], B[ib]));               \
    }                                                                                \
    INLINE void binary_accumulate_##T(const ggg_bplan *p, size_t lo, size_t hi, size_t cl, \
                                      size_t ch, int which,                          \
                                      const T *restrict A, const T *restrict B,      \
                                      const T *restrict Z, const T *restrict GZ,     \
                                      T *restrict G, binary_deriv_fn d, bool write)  \
    {                                                                                \
        if (which == 0 && write)                                                     \
            BROADCAST_LOOP(*p, lo, hi, cl, ch, G[ia] = (T)(GZ[k] * d(A[ia], B[ib], Z[k]))); \
        else if (which == 0)                                                         \
            BROADCAST_LOOP(*p, lo, hi, cl, ch, G[ia] += (T)(GZ[k] * d(A[ia], B[ib], Z[k]))); \
        else if (write)                                                              \
            BROADCAST_LOOP(*p, lo, hi, cl, ch, G[ib] = (T)(GZ[k] * d(A[ia], B[ib], Z[k]))); \
        else                                                                         \
            BROADCAST_LOOP(*p, lo, hi, cl, ch, G[ib] += (T)(GZ[k] * d(A[ia], B[ib], Z[k]))); \
    }
BINARY_LOOPS(float)
BINARY_LOOPS(double)

INLINE void binary_scalar_forward(gg_node *z, binary_fn f)
{
    z->val.s.d = f(z->in[0]->val.s.d, z->in[1]->val.s.d);
}

INLINE void binary_scalar_backward(gg_node *z, binary_deriv_fn da, binary_deriv_fn db)
{
    gg_node *a = z->in[0], *b = z->in[1];
    double x = a->val.s.d, y = b->val.s.d, out = z->val.s.d, up = z->grad.d;
    double ga = up * da(x, y, out), gb = up * db(x, y, out);
    if (ggc_needs_grad(a))
        a->grad.d += ga;
    if (ggc_needs_grad(b))
        b->grad.d += gb;
}

/* Thread tid's part of a binary gate's loop: units [lo, hi) and innermost
 * indices [cl, ch), one of the two split. */
#define BINARY_PART(j, tid, nthreads, lo, hi, cl, ch)                                \
    const ew_job *j = job;                                                           \
    size_t lo = 0, hi = plan_units(&j->p), cl = 0, ch = j->p.n[3];                   \
    if (j->split_cols)                                                               \
        ggk_share(ch, 16, tid, nthreads, &cl, &ch);                                  \
    else /* elements in cache-line runs, rows as they come */                        \
        ggk_share(hi, j->p.flat ? 16 : 1, tid, nthreads, &lo, &hi)

INLINE void binary_forward(const ew_job *j, binary_fn f, size_t lo, size_t hi, size_t cl, size_t ch)
{
    gg_node *z = j->n, *a = z->in[0], *b = z->in[1];
    if (z->dtype == GG_F64)
        binary_forward_double(&j->p, lo, hi, cl, ch, ggc_val(a), ggc_val(b), ggc_val(z), f);
    else
        binary_forward_float(&j->p, lo, hi, cl, ch, ggc_val(a), ggc_val(b), ggc_val(z), f);
}

INLINE void binary_accumulate(const ew_job *j, binary_deriv_fn d, size_t lo, size_t hi, size_t cl,
                              size_t ch)
{
    gg_node *z = j->n, *a = z->in[0], *b = z->in[1], *in = z->in[j->which];
    if (z->dtype == GG_F64)
        binary_accumulate_double(&j->p, lo, hi, cl, ch, j->which, ggc_val(a), ggc_val(b), ggc_val(z),
                                 ggc_grad(z), ggc_grad(in), d, j->write);
    else
        binary_accumulate_float(&j->p, lo, hi, cl, ch, j->which, ggc_val(a), ggc_val(b), ggc_val(z),
                                ggc_grad(z), ggc_grad(in), d, j->write);
}

NOINLINE static void binary_forward_run(gg_node *z, ggk_task_fn task)
{
    ew_job j = {.n = z};
    ggg_bplan_init(z, &j.p);
    ew_run(task, &j, ggc_numel(z));
}

/* Input by input (they may be one node). A stale gradient is written when
 * every output element reaches a different element of the input (it was
 * not stretched by broadcasting), and the threads split the rows; else it
 * is zeroed and added into, since several output elements add into one of
 * its elements: the threads then split the innermost dimension when the
 * input has it (a bias: its element i3 sums column i3), each thread adding
 * into its own elements, and else one thread runs the loop. */
NOINLINE static void binary_backward_run(gg_node *z, ggk_task_fn task)
{
    ew_job j = {.n = z};
    ggg_bplan_init(z, &j.p);
    for (j.which = 0; j.which < 2; j.which++) {
        gg_node *in = z->in[j.which];
        if (!ggc_needs_grad(in))
            continue;
        bool one_to_one = ggc_numel(in) == ggc_numel(z);
        j.write = one_to_one ? ggc_grad_claim(in) : (ggc_grad_settle(in), false);
        j.split_cols = !one_to_one && (j.which ? j.p.sb[3] : j.p.sa[3]) == 1;
        if (one_to_one || j.split_cols)
            ew_run(task, &j, ggc_numel(z));
        else
            task(&j, 0, 1);
    }
}

INLINE double binary_local(const gg_node *z, int i, size_t k, binary_deriv_fn da,
                           binary_deriv_fn db)
{
    double a = gg_value_at(z->in[0], ggg_bcast_index(z, 0, k));
    double b = gg_value_at(z->in[1], ggg_bcast_index(z, 1, k));
    return (i == 0 ? da : db)(a, b, gg_value_at(z, k));
}

/* One binary gate: z = FWD (of a and b); dz/da = DA, dz/db = DB (of a, b,
 * z); the rest of its entry as designated initializers. */
#define BINARY_GATE(NAME, RULE, FWD, DA, DB, ...)                                    \
    static double NAME##_f(double a, double b) { return FWD; }                       \
    static double NAME##_da(double a, double b, double z)                            \
    {                                                                                \
        (void)a, (void)b, (void)z;                                                   \
        return DA;                                                                   \
    }                                                                                \
    static double NAME##_db(double a, double b, double z)                            \
    {                                                                                \
        (void)a, (void)b, (void)z;                                                   \
        return DB;                                                                   \
    }                                                                                \
    GGK_VEC_OUTLINE static void NAME##_forward_part(void *job, int tid, int nthreads) \
    {                                                                                \
        BINARY_PART(j, tid, nthreads, lo, hi, cl, ch);                               \
        binary_forward(j, NAME##_f, lo, hi, cl, ch);                                 \
    }                                                                                \
    GGK_VEC_OUTLINE static void NAME##_backward_part(void *job, int tid, int nthreads) \
    {                                                                                \
        BINARY_PART(j, tid, nthreads, lo, hi, cl, ch);                               \
        if (j->which) /* each with its derivative inlined */                         \
            binary_accumulate(j, NAME##_db, lo, hi, cl, ch);                         \
        else                                                                         \
            binary_accumulate(j, NAME##_da, lo, hi, cl, ch);                         \
    }                                                                                \
    static void NAME##_forward(gg_node *n)                                           \
    {                                                                                \
        if (scalar_node(n))                                                          \
            binary_scalar_forward(n, NAME##_f);                                      \
        else                                                                         \
            binary_forward_run(n, NAME##_forward_part);                              \
    }                                                                                \
    static void NAME##_backward(gg_node *n)                                          \
    {                                                                                \
        if (scalar_node(n))                                                          \
            binary_scalar_backward(n, NAME##_da, NAME##_db);                         \
        else                                                                         \
            binary_backward_run(n, NAME##_backward_part);                            \
    }                                                                                \
    static double NAME##_local(const gg_node *n, int i, size_t k)                    \
    {                                                                                \
        return binary_local(n, i, k, NAME##_da, NAME##_db);                          \
    }                                                                                \
    const ggc_gate ggg_gate_##NAME = {.name = #NAME,                                 \
                                     .arity = 2,                                     \
                                     .rule = RULE,                                   \
                                     .elementwise = true,                            \
                                     .writes_first = true,                           \
                                     .shape = ggg_broadcast_shape,                   \
                                     .forward = NAME##_forward,                      \
                                     .backward = NAME##_backward,                    \
                                     .f2 = NAME##_f,                                 \
                                     .local = NAME##_local,                          \
                                     .fwd_text = #FWD,                               \
                                     .local_text = {#DA, #DB},                       \
                                     __VA_ARGS__};

/* ---- The recording backwards (ggc_gate.grad) -------------------------------
 * Each records the input gradients with the public constructors, so that
 * they are differentiable in turn. A unary gate's is upstream * its local
 * derivative, written with gates (x the input, y the output, p the param);
 * a binary gate's is summed back over the dimensions its input was
 * broadcast along. Kinks follow PyTorch: relu'' = abs'' = 0 (the masks are
 * steps), max and min route with where. */

#define K(v) ggg_k(g, x, (v))
#define UNARY_GRAD(NAME, DERIV)                                                      \
    static gg_node *NAME##_dnode(gg_graph *g, gg_node *x, gg_node *y, double p)      \
    {                                                                                \
        (void)g, (void)x, (void)y, (void)p;                                          \
        return DERIV;                                                                \
    }                                                                                \
    static bool NAME##_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want,  \
                            gg_node **din)                                           \
    {                                                                                \
        (void)want;                                                                  \
        return (din[0] = gg_mul(g, up, NAME##_dnode(g, n->in[0], n, n->param.f))) != NULL; \
    }

static bool copy_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)g, (void)n, (void)want;
    din[0] = up;
    return true;
}
static bool neg_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)n, (void)want;
    return (din[0] = gg_neg(g, up)) != NULL;
}
static bool log_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return (din[0] = gg_div(g, up, n->in[0])) != NULL;
}
static bool log1p_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return (din[0] = gg_div(g, up, gg_add(g, ggg_k(g, n, 1), n->in[0]))) != NULL;
}
static bool sqrt_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    return (din[0] = gg_div(g, up, gg_mul(g, ggg_k(g, n, 2), n))) != NULL;
}
static bool pow_grad(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din)
{
    (void)want;
    double p = n->param.f;
    if (p == 0)
        return true; /* 0 everywhere, as PyTorch's */
    gg_node *x = n->in[0];
    return (din[0] = gg_mul(g, up, gg_mul(g, K(p), gg_pow(g, x, p - 1)))) != NULL;
}
UNARY_GRAD(sigmoid, gg_mul(g, y, gg_sub(g, K(1), y)))
UNARY_GRAD(tanh, gg_sub(g, K(1), gg_mul(g, y, y)))
UNARY_GRAD(exp, y)
UNARY_GRAD(relu, gg_step(g, x))
UNARY_GRAD(leaky_relu, gg_where(g, gg_step(g, x), K(1), K(p)))
UNARY_GRAD(elu, gg_where(g, gg_step(g, x), K(1), gg_add(g, y, K(p))))
UNARY_GRAD(abs, gg_sub(g, gg_step(g, x), gg_step(g, gg_neg(g, x))))
UNARY_GRAD(sin, gg_cos(g, x))
UNARY_GRAD(cos, gg_neg(g, gg_sin(g, x)))
UNARY_GRAD(softplus, gg_where(g, gg_step(g, gg_sub(g, x, K(20))), K(1), gg_sigmoid(g, x)))
static gg_node *silu_deriv(gg_graph *g, gg_node *x)
{
    gg_node *s = gg_sigmoid(g, x);
    return gg_mul(g, s, gg_add(g, K(1), gg_mul(g, x, gg_sub(g, K(1), s))));
}
UNARY_GRAD(silu, silu_deriv(g, x))
#define SQRT1_2 0.70710678118654752440    /* 1 / sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */
/* phi(x), the standard normal density, with gates. */
static gg_node *normal_pdf(gg_graph *g, gg_node *x)
{
    return gg_mul(g, K(INV_SQRT_2PI), gg_exp(g, gg_mul(g, K(-0.5), gg_mul(g, x, x))));
}
UNARY_GRAD(gelu, gg_add(g, gg_normal_cdf(g, x), gg_mul(g, x, normal_pdf(g, x))))
UNARY_GRAD(normal_cdf, normal_pdf(g, x))
#undef K

/* 1 where x != 0, else 0 (a constant mask: steps pass no gradient). */
static gg_node *nonzero(gg_graph *g, gg_node *x)
{
    return gg_add(g, gg_step(g, x), gg_step(g, gg_neg(g, x)));
}

/* din[0], din[1] = da, db summed back to the inputs' shapes. */
static bool binary_put(gg_graph *g, gg_node *z, const bool *want, gg_node **din, gg_node *da,
                       gg_node *db)
{
    if (want[0] && !(din[0] = ggg_sum_to(g, da, z->in[0])))
        return false;
    if (want[1] && !(din[1] = ggg_sum_to(g, db, z->in[1])))
        return false;
    return true;
}
#define BINARY_GRAD(NAME, DA, DB)                                                    \
    static bool NAME##_grad(gg_graph *g, gg_node *z, gg_node *up, const bool *want,  \
                            gg_node **din)                                           \
    {                                                                                \
        gg_node *a = z->in[0], *b = z->in[1];                                        \
        (void)a, (void)b;                                                            \
        return binary_put(g, z, want, din, want[0] ? (DA) : NULL, want[1] ? (DB) : NULL); \
    }
BINARY_GRAD(add, up, up)
BINARY_GRAD(sub, up, gg_neg(g, up))
BINARY_GRAD(mul, gg_mul(g, up, b), gg_mul(g, up, a))
BINARY_GRAD(div, gg_div(g, up, b), gg_neg(g, gg_div(g, gg_mul(g, up, z), b)))
/* Routers: the mask is where the second input wins (strictly: a tie goes to a). */
BINARY_GRAD(max, gg_where(g, gg_step(g, gg_sub(g, b, a)), ggg_k(g, z, 0), up),
            gg_where(g, gg_step(g, gg_sub(g, b, a)), up, ggg_k(g, z, 0)))
BINARY_GRAD(min, gg_where(g, gg_step(g, gg_sub(g, a, b)), ggg_k(g, z, 0), up),
            gg_where(g, gg_step(g, gg_sub(g, a, b)), up, ggg_k(g, z, 0)))
/* d base = e * base^(e-1) (0 where e = 0), d e = y * log(base) (0 where
 * base = 0 and e >= 0), as the imperative backward. */
BINARY_GRAD(pow_node,
            gg_where(g, nonzero(g, b),
                     gg_mul(g, up, gg_mul(g, b, gg_pow_node(g, a, gg_sub(g, b, ggg_k(g, z, 1))))),
                     ggg_k(g, z, 0)),
            gg_where(g, gg_add(g, nonzero(g, a), gg_step(g, gg_neg(g, b))),
                     gg_mul(g, up, gg_mul(g, z, gg_log(g, a))), ggg_k(g, z, 0)))

/* ---- The gates ------------------------------------------------------------ */

BINARY_GATE(add, "distributor: both inputs receive the upstream gradient unchanged",
            a + b, 1.0, 1.0,
            .formula = {"upstream", "upstream"}, .grad = add_grad, .zero_skips = true,
            .rule_ko = "gradient distributor: 두 입력값 모두 upstream에서 온 gradient를 그대로 받는다")
BINARY_GATE(sub, "distributor with a sign: the first input receives the upstream gradient, the second its negative",
            a - b, 1.0, -1.0,
            .formula = {"upstream", "-upstream"}, .ordered = true, .grad = sub_grad, .zero_skips = true,
            .rule_ko = "부호가 있는 gradient distributor: 첫 번째 입력값은 upstream에서 온 gradient를 그대로, 두 번째 입력값은 부호를 바꾸어 받는다")
BINARY_GATE(mul, "swap multiplier: each input receives the upstream gradient times the other input",
            a * b, b, a,
            .formula = {"{o} * upstream = {o=}", "{o} * upstream = {o=}"}, .grad = mul_grad, .zero_skips = true,
            .rule_ko = "\"swap multiplier\": 각 입력값은 upstream에서 온 gradient에 다른 입력값을 곱한 값을 받는다 (입력값을 서로 바꾸어 곱한다)")
BINARY_GATE(div, "the numerator receives upstream / denominator, the denominator -upstream * numerator / denominator^2",
            a / b, 1.0 / b, -a / (b * b),
            .formula = {"upstream / {b} = 1 / {b=}", "-upstream * {a} / {b}^2 = -{a=(} / {b=(}^2"},
            .ordered = true, .grad = div_grad,
            .rule_ko = "분자는 upstream gradient / 분모를, 분모는 -upstream gradient × 분자 / 분모^2을 받는다 (1/x gate: 1 / 입력값의 local gradient는 -1 / 입력값^2)")
BINARY_GATE(max, "router: the larger input receives the whole upstream gradient, the other 0 (a tie goes to the first)",
            a >= b ? a : b, a >= b ? 1.0 : 0.0, a >= b ? 0.0 : 1.0,
            .formula = {"upstream ({x} >= {o=})", "upstream ({x} > {o=})"}, .routes = true,
            .expr = "max", .grad = max_grad, .zero_skips = true,
            .rule_ko = "gradient router: 더 큰 입력값이 upstream에서 온 gradient를 모두 받고, 다른 입력값은 0을 받는다 (같으면 첫 번째 입력값이 받는다)")
BINARY_GATE(min, "router: the smaller input receives the whole upstream gradient, the other 0 (a tie goes to the first)",
            a <= b ? a : b, a <= b ? 1.0 : 0.0, a <= b ? 0.0 : 1.0,
            .formula = {"upstream ({x} <= {o=})", "upstream ({x} < {o=})"}, .routes = true,
            .expr = "min", .grad = min_grad, .zero_skips = true,
            .rule_ko = "gradient router: 더 작은 입력값이 upstream에서 온 gradient를 모두 받고, 다른 입력값은 0을 받는다 (같으면 첫 번째 입력값이 받는다)")

UNARY_GATE(copy, "adder: the input receives the sum of the upstream gradients of every use",
           x, 1.0,
           .formula = {"upstream"}, .grad = copy_grad, .zero_skips = true,
           .rule_ko = "gradient adder: 여러 gate에 쓰인 값은 upstream에서 온 gradient를 모두 더해 받는다 (local gradient = upstream에서 온 gradient1 + upstream에서 온 gradient2)")
UNARY_GATE(neg, "flips the sign of the upstream gradient", -x, -1.0,
           .formula = {"-upstream"}, .grad = neg_grad, .zero_skips = true,
           .rule_ko = "upstream에서 온 gradient의 부호를 바꾸어 전달한다 (× -1 gate)")
UNARY_GATE(sigmoid, "from its own output: the input receives output * (1 - output) * upstream",
           x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)), y * (1.0 - y),
           .formula = {"{Y} * (1 - {Y}) * upstream = {y} * (1 - {y})"}, .expr = "sigmoid",
           .grad = sigmoid_grad, .zero_skips = true,
           .rule_ko = "자기 출력값만으로 역전파: 입력값은 출력값 × (1 - 출력값) × upstream gradient를 받는다 (sigmoid 미분)")
UNARY_GATE(tanh, "from its own output: the input receives (1 - output^2) * upstream", tanh(x), 1.0 - y * y,
           .formula = {"(1 - {Y}^2) * upstream = (1 - {y(}^2)"}, .expr = "tanh", .grad = tanh_grad, .zero_skips = true,
           .rule_ko = "자기 출력값만으로 역전파: 입력값은 (1 - 출력값^2) × upstream gradient를 받는다 (tanh 미분)")
UNARY_GATE(exp, "from its own output: the input receives output * upstream", exp(x), y,
           .formula = {"{Y} * upstream = {y}"}, .expr = "exp", .grad = exp_grad, .zero_skips = true,
           .rule_ko = "자기 출력값만으로 역전파: 입력값은 출력값 × upstream gradient를 받는다 (exp의 미분은 exp 자신)")
UNARY_GATE(log, "the input receives upstream / input", log(x), 1.0 / x,
           .formula = {"upstream / {X} = 1 / {x}"}, .expr = "log", .grad = log_grad,
           .rule_ko = "입력값은 upstream gradient / 입력값을 받는다")
UNARY_GATE(relu, "switch: passes the upstream gradient where the input > 0, blocks it elsewhere",
           x > 0 ? x : 0.0, x > 0 ? 1.0 : 0.0,
           .expr = "relu", .grad = relu_grad, .zero_skips = true,
           .rule_ko = "스위치: 입력값이 0보다 크면 upstream gradient를 그대로 전달하고, 그 밖에서는 막는다 (미분값 0)")
UNARY_GATE(leaky_relu, "passes the upstream gradient where the input > 0, scales it by the slope elsewhere",
           x > 0 ? x : p * x, x > 0 ? 1.0 : p,
           .param = GGC_PARAM_NUMBER, .grad = leaky_relu_grad, .zero_skips = true,
           .rule_ko = "입력값이 0보다 크면 upstream gradient를 그대로 전달하고, 그 밖에서는 기울기(slope)를 곱해 전달한다")
UNARY_GATE(elu, "passes the upstream gradient where the input > 0, elsewhere the input receives (output + alpha) * upstream",
           x > 0 ? x : p * expm1(x), x > 0 ? 1.0 : y + p,
           .param = GGC_PARAM_NUMBER, .grad = elu_grad, .zero_skips = true,
           .rule_ko = "입력값이 0보다 크면 upstream gradient를 그대로 전달하고, 그 밖에서는 입력값이 (출력값 + alpha) × upstream gradient를 받는다")
UNARY_GATE(abs, "passes the upstream gradient with the sign of the input (0 at 0)",
           fabs(x), x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0),
           .expr = "abs", .grad = abs_grad, .zero_skips = true,
           .rule_ko = "입력값의 부호를 곱해 upstream gradient를 전달한다 (0에서는 0)")
UNARY_GATE(pow, "the input receives p * input^(p-1) * upstream, p the constant exponent", pow(x, p), p == 0 ? 0.0 : p * pow(x, p - 1.0),
           .formula = {"{p} * {X}^{p1(} * upstream = {p} * {x(}^{p1(}"}, .param = GGC_PARAM_NUMBER, .grad = pow_grad,
           .rule_ko = "입력값은 p × 입력값^(p-1) × upstream gradient를 받는다 (p는 상수 지수; p = -1이면 1/x gate)")
UNARY_GATE(sqrt, "from its own output: the input receives upstream / (2 * output)", sqrt(x), 0.5 / y,
           .formula = {"upstream / (2 * {Y}) = 1 / (2 * {y})"}, .expr = "sqrt", .grad = sqrt_grad,
           .rule_ko = "자기 출력값만으로 역전파: 입력값은 upstream gradient / (2 × 출력값)을 받는다")
UNARY_GATE(sin, "the input receives cos(input) * upstream", sin(x), cos(x),
           .formula = {"cos({X}) * upstream = {d}"}, .expr = "sin", .grad = sin_grad, .zero_skips = true,
           .rule_ko = "입력값은 cos(입력값) × upstream gradient를 받는다")
UNARY_GATE(cos, "the input receives -sin(input) * upstream", cos(x), -sin(x),
           .formula = {"-sin({X}) * upstream = {d}"}, .expr = "cos", .grad = cos_grad, .zero_skips = true,
           .rule_ko = "입력값은 -sin(입력값) × upstream gradient를 받는다")
UNARY_GATE(log1p, "the input receives upstream / (1 + input)", log1p(x), 1.0 / (1.0 + x),
           .formula = {"upstream / (1 + {X}) = 1 / (1 + {x})"}, .expr = "log1p", .grad = log1p_grad,
           .rule_ko = "입력값은 upstream gradient / (1 + 입력값)을 받는다")
/* PyTorch's softplus: x itself above 20, where log(1 + e^x) rounds to x. */
UNARY_GATE(softplus, "the input receives sigmoid(input) * upstream (upstream itself above 20, where softplus is the input)",
           x > 20 ? x : log1p(exp(x)), x > 20 ? 1.0 : 1.0 / (1.0 + exp(-x)),
           .formula = {"sigmoid({X}) * upstream = {d}"}, .expr = "softplus", .grad = softplus_grad, .zero_skips = true,
           .rule_ko = "입력값은 sigmoid(입력값) × upstream gradient를 받는다 (입력값이 20보다 크면 upstream gradient 그대로)")
UNARY_GATE(silu, "the input receives (s + input * s * (1 - s)) * upstream, where s = sigmoid(input)",
           x / (1.0 + exp(-x)), (1.0 + x * (1.0 - 1.0 / (1.0 + exp(-x)))) / (1.0 + exp(-x)),
           .formula = {"(s + {X} * s * (1 - s)) * upstream, s = sigmoid({X}), = {d}"}, .expr = "silu",
           .grad = silu_grad, .zero_skips = true,
           .rule_ko = "입력값은 (s + 입력값 × s × (1 - s)) × upstream gradient를 받는다 (s = sigmoid(입력값))")
/* The exact form, with erf: Phi is the standard normal CDF, phi its density. */
UNARY_GATE(gelu, "the input receives (Phi(input) + input * phi(input)) * upstream, Phi and phi the normal CDF and density",
           0.5 * x * (1.0 + erf(x * SQRT1_2)),
           0.5 * (1.0 + erf(x * SQRT1_2)) + x * exp(-0.5 * x * x) * INV_SQRT_2PI,
           .formula = {"(Phi({X}) + {X} * phi({X})) * upstream = {d}"}, .expr = "gelu", .grad = gelu_grad, .zero_skips = true,
           .rule_ko = "입력값은 (Phi(입력값) + 입력값 × phi(입력값)) × upstream gradient를 받는다 (Phi, phi: 표준정규분포의 CDF와 밀도)")

/* a^b with both inputs nodes (torch.pow): a negative base with an integral
 * exponent has a value; b = 0 gives da = 0 even at a = 0, and a = 0 with
 * b >= 0 gives db = 0 (PyTorch's conventions). */
BINARY_GATE(pow_node, "the base receives exponent * base^(exponent-1) * upstream, the exponent output * log(base) * upstream",
            pow(a, b), b == 0 ? 0.0 : b * pow(a, b - 1.0), (a == 0 && b >= 0) ? 0.0 : z * log(a),
            .ordered = true, .expr = "pow",
            .formula = {"{b} * {a}^({b} - 1) * upstream = {b=} * {a=(}^({b=} - 1)",
                        "{Y} * log({a}) * upstream = {y} * log({a=})"}, .grad = pow_node_grad,
            .rule_ko = "밑은 지수 × 밑^(지수-1) × upstream gradient를, 지수는 출력값 × log(밑) × upstream gradient를 받는다")

/* Phi, the standard normal CDF: the gate gelu's recorded derivative needs
 * (gradient phi, the density). Its loops are written out rather than made
 * by UNARY_GATE, as it is not one of the lecture's elementwise gates with a
 * PyTorch counterpart of its own (torch.special.ndtr). */
static double normal_cdf_f(double x) { return 0.5 * (1.0 + erf(x * SQRT1_2)); }
static double normal_cdf_d(double x) { return exp(-0.5 * x * x) * INV_SQRT_2PI; }
static void normal_cdf_forward(gg_node *n)
{
    gg_node *a = n->in[0];
    for (size_t k = 0, cnt = ggc_numel(n); k < cnt; k++)
        ggb_put(n->dtype, ggc_val(n), k, normal_cdf_f(ggb_get(a->dtype, ggc_val(a), k)));
}
static void normal_cdf_backward(gg_node *n)
{
    gg_node *a = n->in[0];
    if (!ggc_needs_grad(a))
        return;
    for (size_t k = 0, cnt = ggc_numel(n); k < cnt; k++)
        ggb_add(a->dtype, ggc_grad(a), k,
                ggb_get(n->dtype, ggc_grad(n), k) * normal_cdf_d(ggb_get(a->dtype, ggc_val(a), k)));
}
static double normal_cdf_local(const gg_node *n, int i, size_t k)
{
    (void)i;
    return normal_cdf_d(gg_value_at(n->in[0], k));
}
const ggc_gate ggg_gate_normal_cdf = {
    .name = "normal_cdf",
    .arity = 1,
    .rule = "the input receives phi(input) * upstream, phi the standard normal density",
    .rule_ko = "입력값은 phi(입력값) × upstream gradient를 받는다 (phi: 표준정규분포의 밀도)",
    .formula = {"phi({X}) * upstream = {d}"},
    .shape = ggg_same_shape,
    .forward = normal_cdf_forward,
    .backward = normal_cdf_backward,
    .local = normal_cdf_local,
    .grad = normal_cdf_grad,
};

/* ---- Constructors ----------------------------------------------------------- */

/* Each constructor hands ggc_record_scalar its gate's own entry. */
#define RECORD_BINARY(NAME, a, b) ggc_record_scalar(g, GG_GATE_##NAME, &ggg_gate_##NAME, 2, a, b, 0)
#define RECORD_UNARY(NAME, a, p) ggc_record_scalar(g, GG_GATE_##NAME, &ggg_gate_##NAME, 1, a, NULL, p)

gg_node *gg_add(gg_graph *g, gg_node *a, gg_node *b) { return RECORD_BINARY(add, a, b); }
gg_node *gg_sub(gg_graph *g, gg_node *a, gg_node *b) { return RECORD_BINARY(sub, a, b); }
gg_node *gg_mul(gg_graph *g, gg_node *a, gg_node *b) { return RECORD_BINARY(mul, a, b); }
gg_node *gg_div(gg_graph *g, gg_node *a, gg_node *b) { return RECORD_BINARY(div, a, b); }
gg_node *gg_max(gg_graph *g, gg_node *a, gg_node *b) { return RECORD_BINARY(max, a, b); }
gg_node *gg_min(gg_graph *g, gg_node *a, gg_node *b) { return RECORD_BINARY(min, a, b); }
gg_node *gg_copy(gg_graph *g, gg_node *a) { return RECORD_UNARY(copy, a, 0); }
gg_node *gg_neg(gg_graph *g, gg_node *a) { return RECORD_UNARY(neg, a, 0); }
gg_node *gg_sigmoid(gg_graph *g, gg_node *a) { return RECORD_UNARY(sigmoid, a, 0); }
gg_node *gg_tanh(gg_graph *g, gg_node *a) { return RECORD_UNARY(tanh, a, 0); }
gg_node *gg_exp(gg_graph *g, gg_node *a) { return RECORD_UNARY(exp, a, 0); }
gg_node *gg_log(gg_graph *g, gg_node *a) { return RECORD_UNARY(log, a, 0); }
gg_node *gg_relu(gg_graph *g, gg_node *a) { return RECORD_UNARY(relu, a, 0); }
gg_node *gg_abs(gg_graph *g, gg_node *a) { return RECORD_UNARY(abs, a, 0); }

gg_node *gg_leaky_relu(gg_graph *g, gg_node *a, double slope)
{
    return RECORD_UNARY(leaky_relu, a, slope);
}

gg_node *gg_elu(gg_graph *g, gg_node *a, double alpha)
{
    return RECORD_UNARY(elu, a, alpha);
}

gg_node *gg_pow(gg_graph *g, gg_node *a, double exponent)
{
    return RECORD_UNARY(pow, a, exponent);
}

gg_node *gg_sqrt(gg_graph *g, gg_node *a) { return RECORD_UNARY(sqrt, a, 0); }
gg_node *gg_sin(gg_graph *g, gg_node *a) { return RECORD_UNARY(sin, a, 0); }
gg_node *gg_cos(gg_graph *g, gg_node *a) { return RECORD_UNARY(cos, a, 0); }
gg_node *gg_log1p(gg_graph *g, gg_node *a) { return RECORD_UNARY(log1p, a, 0); }
gg_node *gg_softplus(gg_graph *g, gg_node *a) { return RECORD_UNARY(softplus, a, 0); }
gg_node *gg_silu(gg_graph *g, gg_node *a) { return RECORD_UNARY(silu, a, 0); }
gg_node *gg_gelu(gg_graph *g, gg_node *a) { return RECORD_UNARY(gelu, a, 0); }

gg_node *gg_pow_node(gg_graph *g, gg_node *base, gg_node *exponent)
{
    return RECORD_BINARY(pow_node, base, exponent);
}

gg_node *gg_normal_cdf(gg_graph *g, gg_node *a)
{
    return ggc_record(g, GG_GATE_normal_cdf, a, NULL, 0, NULL);
}
