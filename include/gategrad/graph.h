/* gategrad/graph.h - graphs, nodes and gates: the reverse-mode engine.
 *
 * A gg_graph records operations as you call them (define-by-run): every
 * gg_add, gg_mul, ... computes its value at once and returns a new node.
 * gg_backward(g, root) then runs the gates in reverse topological order,
 * each gate passing the gradient it receives to its inputs by its own rule.
 *
 * Ownership: the graph owns every node and buffer recorded in it;
 * gg_graph_free releases all of it at once. Node pointers stay valid for the
 * life of their graph. A graph is not thread-safe, but separate graphs may be
 * used from separate threads at the same time.
 *
 * Errors: no function here exits or aborts. A bad call returns NULL (or a
 * non-zero code) and records a message naming the op and its operands, read
 * with gg_error(g). An op given a NULL input returns NULL without a new
 * message, so a chain of calls can be checked once, at its end.
 *
 * Nodes: every node holds a value and a gradient of the same shape. A scalar
 * is a rank-0 node whose value and gradient live inside the node itself (no
 * heap buffer per node). Tensors have 1 to GG_MAX_DIMS dimensions, row-major
 * and contiguous, of dtype GG_F32 or GG_F64; mixing dtypes in one op is an
 * error, never a silent conversion. The scalar API works in f64.
 *
 * Leaves are variables (they receive gradients) or constants (inputs and
 * targets: no gradient is computed for them or through them alone).
 *
 * Re-running: a built graph can be run again. Write new values into leaves
 * (gg_set_value, gg_set_data), call gg_forward(g, root) to recompute every
 * node the root depends on, gg_zero_grad(g), then gg_backward(g, root).
 * Neither pass allocates: a training loop built once costs only arithmetic.
 *
 * Gradient accumulation: gg_backward adds into leaf gradients, as PyTorch
 * does, so two calls without gg_zero_grad in between leave twice the
 * gradient in every variable leaf. Gradients of intermediate nodes never
 * accumulate: gg_forward clears those of the nodes it recomputes (a gradient
 * belongs to the value it was computed at), and gg_backward clears any left
 * from an earlier pass before it starts, so nothing stale leaks into a later
 * pass. */
#ifndef GATEGRAD_GRAPH_H
#define GATEGRAD_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gategrad/base.h"

typedef struct gg_graph gg_graph;
typedef struct gg_node gg_node;

/* ---- Graphs ------------------------------------------------------------ */

/* A new, empty graph, or NULL if memory is exhausted. Free with gg_graph_free. */
GG_API gg_graph *gg_graph_new(void);

/* Frees g with every node and buffer in it. NULL is ignored. */
GG_API void gg_graph_free(gg_graph *g);

/* Number of nodes recorded in g so far. Node ids run from 0 to this - 1. */
GG_API size_t gg_node_count(const gg_graph *g);

/* Heap bytes g holds: node storage, tensor buffers, the cached order. */
GG_API size_t gg_graph_bytes(const gg_graph *g);

/* Drops every node with id >= n and keeps their memory for the nodes
 * recorded next: pointers to the dropped nodes become invalid, the nodes
 * below n keep their values, gradients and labels. A loop that rebuilds its
 * expression every step on top of its parameters (recorded first, as
 * micrograd does) calls gg_graph_truncate(g, nparams) and then allocates
 * nothing, and touches no fresh page, after its first step (labels given to
 * the rebuilt nodes are the exception: each costs its allocation again).
 * It reads the n nodes kept once, to learn which of them are still read.
 * 0 on success; -1 (message in gg_error) when n exceeds the node count. */
GG_API int gg_graph_truncate(gg_graph *g, size_t n);

/* The node with the given id, or NULL if there is none. */
GG_API gg_node *gg_node_at(const gg_graph *g, size_t id);

/* The last error message recorded in g, or NULL if there has been none since
 * the graph was made or gg_clear_error was called. Owned by g. */
GG_API const char *gg_error(const gg_graph *g);

/* Forgets the recorded error. */
GG_API void gg_clear_error(gg_graph *g);

/* ---- Scalar leaves ------------------------------------------------------ */

/* A variable scalar leaf (f64) holding value. NULL on allocation failure. */
GG_API gg_node *gg_scalar(gg_graph *g, double value);

/* A constant rank-0 leaf of the given dtype (receives no gradient). */
GG_API gg_node *gg_constant(gg_graph *g, gg_dtype dtype, double value);

/* gg_constant(g, GG_F64, value): the f64 constant, for terse scalar code. */
GG_API gg_node *gg_const(gg_graph *g, double value);

/* ---- Tensor leaves ------------------------------------------------------ */

/* A variable tensor leaf of the given dtype and shape (rank 0..GG_MAX_DIMS,
 * every dimension >= 1). Its value is copied from data (rank-major, dtype
 * elements), or zero-filled when data is NULL. Errors: bad rank or dimension,
 * a size that overflows, allocation failure. */
GG_API gg_node *gg_tensor(gg_graph *g, gg_dtype dtype, int rank, const int64_t *dims,
                   const void *data);

/* Like gg_tensor, but a constant: inputs, targets, masks. No gradient buffer
 * is allocated and gg_backward never computes a gradient for it. */
GG_API gg_node *gg_input(gg_graph *g, gg_dtype dtype, int rank, const int64_t *dims,
                  const void *data);

/* ---- The gates ---------------------------------------------------------
 * Every gate accepts scalars and tensors. Binary gates broadcast as NumPy
 * does (shapes aligned at the right, a dimension of 1 stretches); backward
 * sums the gradient back to each input's own shape. Each returns a new node,
 * or NULL with a message on error (dtype or shape mismatch, nodes of another
 * graph, allocation failure) or NULL without one when an input is NULL. */

GG_API gg_node *gg_add(gg_graph *g, gg_node *a, gg_node *b);     /* a + b: distributes the gradient */
GG_API gg_node *gg_sub(gg_graph *g, gg_node *a, gg_node *b);     /* a - b */
GG_API gg_node *gg_mul(gg_graph *g, gg_node *a, gg_node *b);     /* a * b: swaps the inputs */
GG_API gg_node *gg_div(gg_graph *g, gg_node *a, gg_node *b);     /* a / b */
GG_API gg_node *gg_max(gg_graph *g, gg_node *a, gg_node *b);     /* max(a, b): routes to the larger (ties: a) */
GG_API gg_node *gg_min(gg_graph *g, gg_node *a, gg_node *b);     /* min(a, b): routes to the smaller (ties: a) */
GG_API gg_node *gg_copy(gg_graph *g, gg_node *a);                /* explicit fan-out: gradients add up */
GG_API gg_node *gg_neg(gg_graph *g, gg_node *a);                 /* -a */
GG_API gg_node *gg_sigmoid(gg_graph *g, gg_node *a);             /* 1 / (1 + e^-a), from its own output */
GG_API gg_node *gg_tanh(gg_graph *g, gg_node *a);                /* tanh(a) */
GG_API gg_node *gg_exp(gg_graph *g, gg_node *a);                 /* e^a */
GG_API gg_node *gg_log(gg_graph *g, gg_node *a);                 /* natural log (NaN or -inf at a <= 0) */
GG_API gg_node *gg_relu(gg_graph *g, gg_node *a);                /* max(a, 0) */
GG_API gg_node *gg_leaky_relu(gg_graph *g, gg_node *a, double slope); /* a > 0 ? a : slope * a */
GG_API gg_node *gg_elu(gg_graph *g, gg_node *a, double alpha);   /* a > 0 ? a : alpha * (e^a - 1) */
GG_API gg_node *gg_abs(gg_graph *g, gg_node *a);                 /* |a| (gradient 0 at 0) */
/* a^exponent, exponent constant; the gradient is 0 everywhere when the
 * exponent is 0 (as PyTorch's), even at a = 0. */
GG_API gg_node *gg_pow(gg_graph *g, gg_node *a, double exponent);
GG_API gg_node *gg_sqrt(gg_graph *g, gg_node *a);         /* sqrt(a), from its output: dx = upstream / (2y) */
GG_API gg_node *gg_sin(gg_graph *g, gg_node *a);          /* sin(a) */
GG_API gg_node *gg_cos(gg_graph *g, gg_node *a);          /* cos(a) */
GG_API gg_node *gg_log1p(gg_graph *g, gg_node *a);        /* log(1 + a), accurate near 0 */
/* log(1 + e^a), as PyTorch computes it: a itself above 20 (gradient 1
 * there), so it stays finite for any a. */
GG_API gg_node *gg_softplus(gg_graph *g, gg_node *a);
GG_API gg_node *gg_silu(gg_graph *g, gg_node *a);         /* a * sigmoid(a) */
GG_API gg_node *gg_gelu(gg_graph *g, gg_node *a);         /* a * Phi(a), the exact (erf) form */
/* base^exponent with both nodes, broadcast (torch.pow): a negative base
 * with an integral exponent has a value (NaN otherwise), the gradient
 * d/d base is 0 where the exponent is 0, and d/d exponent = y * log(base)
 * is 0 where the base is 0 and the exponent >= 0. */
GG_API gg_node *gg_pow_node(gg_graph *g, gg_node *base, gg_node *exponent);

/* Phi(a), the standard normal CDF 0.5 * (1 + erf(a / sqrt 2)), elementwise
 * (torch.special.ndtr); its gradient is the density e^(-a^2/2) / sqrt(2 pi).
 * gelu's recorded derivative (gg_gradient) is built from it. */
GG_API gg_node *gg_normal_cdf(gg_graph *g, gg_node *a);

/* min(max(a, lo), hi), elementwise. The gradient passes where
 * lo <= a <= hi, bounds included (PyTorch's convention), and is 0 outside.
 * Use -INFINITY or INFINITY for a side without a bound; NaN is an error. */
GG_API gg_node *gg_clamp(gg_graph *g, gg_node *a, double lo, double hi);

/* Elementwise choice: a where cond != 0, else b; cond, a and b broadcast
 * together (three ways) and share one dtype. a and b receive the upstream
 * gradient where they were chosen; cond receives none. */
GG_API gg_node *gg_where(gg_graph *g, gg_node *cond, gg_node *a, gg_node *b);

/* a converted to dtype (rounded to nearest for f64 -> f32); the gradient
 * flows back converted to a's dtype. An unknown dtype is an error. */
GG_API gg_node *gg_cast(gg_graph *g, gg_node *a, gg_dtype dtype);

/* Matrix product with NumPy's (and torch.matmul's) rules:
 *   [m,k] x [k,n] -> [m,n];
 *   [k] x [k] -> the dot product, a rank-0 node;
 *   [k] x [k,n] -> [n] and [m,k] x [k] -> [m] (a 1-D a is a [1,k] matrix,
 *   a 1-D b a [k,1] one, and that 1 is removed from the result);
 *   rank 3 and 4: batches of matrices over the leading dimensions, which
 *   broadcast as in gg_add ([2,1,3,4] x [5,4,6] -> [2,5,3,6]; a 1-D operand
 *   goes with every batch: [k] x [b,k,n] -> [b,n]).
 * The gradient of an operand broadcast over batches is summed over them.
 * Errors (NULL, message naming both shapes): a rank-0 operand, inner
 * dimensions that differ, batch dimensions that do not broadcast. */
GG_API gg_node *gg_matmul(gg_graph *g, gg_node *a, gg_node *b);

/* Sum / mean of all elements: a rank-0 node. */
GG_API gg_node *gg_sum(gg_graph *g, gg_node *a);
GG_API gg_node *gg_mean(gg_graph *g, gg_node *a);

/* Sum / mean along one axis (negative counts from the end). keepdim != 0
 * keeps that axis with size 1 (handy for broadcasting back), else drops it. */
GG_API gg_node *gg_sum_axis(gg_graph *g, gg_node *a, int axis, int keepdim);
GG_API gg_node *gg_mean_axis(gg_graph *g, gg_node *a, int axis, int keepdim);

/* The same elements in a new shape with the same element count. One
 * dimension may be -1: it is inferred from the others (torch.reshape's
 * rule); two -1s, or a count that the others do not divide, is an error. */
GG_API gg_node *gg_reshape(gg_graph *g, gg_node *a, int rank, const int64_t *dims);

/* Swaps the last two dimensions (rank >= 2). */
GG_API gg_node *gg_transpose(gg_graph *g, gg_node *a);

/* ---- Shape gates: elements moved, not computed ---------------------------
 * Axes count from the end when negative (-1 is the last). Each gate's
 * backward adds the upstream gradient back where the elements came from. */

/* a[..., start:stop, ...] along axis, as Python slices with step 1:
 * negative bounds count from the end, stop is exclusive, and bounds past
 * either end are clamped to it (torch.narrow / a[:, 1:3]). A slice that
 * would be empty is an error (tensors have no zero-length dimension), as is
 * a bound beyond +-2^53. The gradient goes back into the sliced range. */
GG_API gg_node *gg_slice(gg_graph *g, gg_node *a, int axis, int64_t start, int64_t stop);

/* The n >= 1 parts joined along axis (torch.cat): same dtype, same rank
 * (>= 1) and the same dimensions except along axis. parts is copied; the
 * node has all n as inputs (gg_node_input). Each part receives its own
 * stretch of the gradient. Errors name the part (parts[i]) and the shapes. */
GG_API gg_node *gg_concat(gg_graph *g, int n, gg_node *const *parts, int axis);

/* Rows of table [V, D] picked by indices (an embedding lookup, table[idx]
 * or torch.nn.functional.embedding): the output is indices' shape + [D]
 * (a scalar index gives [D]). indices is a constant (gg_input, gg_constant:
 * no gradient, else an error) of rank <= 3 in table's dtype, holding whole
 * numbers in [0, V). An index that is not is an error naming its position
 * and value, when the node is recorded and at every gg_forward (which then
 * returns non-zero) after the indices were rewritten with gg_set_data.
 * Backward adds each output row's gradient into the row it came from, so
 * repeated indices add up; the indices receive none. */
GG_API gg_node *gg_gather_rows(gg_graph *g, gg_node *table, gg_node *indices);

/* a stretched to the shape dims[0..rank) by NumPy's rules (torch.broadcast_to):
 * a's shape right-aligned against it, each dimension equal or 1 (a 1
 * stretches). Backward sums the gradient back to a's shape. */
GG_API gg_node *gg_broadcast_to(gg_graph *g, gg_node *a, int rank, const int64_t *dims);

/* a with axes d0 and d1 swapped (torch.transpose; d0 == d1 is a copy). */
GG_API gg_node *gg_transpose_axes(gg_graph *g, gg_node *a, int d0, int d1);

/* Batch normalization of x [batch, features] (torch.nn.BatchNorm1d):
 * gamma, beta [features] (variables: scale and shift), running_mean and
 * running_var [features] (constants, updated by every forward in training
 * mode), rows [batch] (rows whose value is < 0, e.g. a label of -1, take no
 * part in the batch statistics) and mode (one number: non-zero = training).
 * Training: y = gamma (x - m) / sqrt(v + eps) + beta with the counted rows'
 * mean m and biased variance v per feature, then running_mean += momentum
 * (m - running_mean) and running_var likewise towards the unbiased variance.
 * Evaluation: the running statistics replace m and v. PyTorch's defaults are
 * eps 1e-5, momentum 0.1. Gradients reach x, gamma and beta. gg_gradient
 * records them in the mode and with the counted rows of the recording. */
GG_API gg_node *gg_batch_norm(gg_graph *g, gg_node *x, gg_node *gamma, gg_node *beta, gg_node *running_mean,
                              gg_node *running_var, gg_node *rows, gg_node *mode, double eps, double momentum);

/* Softmax and log-softmax along the last axis, stable for large inputs
 * (the row maximum is subtracted first). */
GG_API gg_node *gg_softmax(gg_graph *g, gg_node *a);
GG_API gg_node *gg_log_softmax(gg_graph *g, gg_node *a);

/* Maximum / minimum along one axis (negative counts from the end; keepdim
 * as for gg_sum_axis), as torch.max(a, dim) / torch.min(a, dim) give them.
 * The whole upstream gradient of each slice goes to the element the value
 * came from: the first of equal ones (torch.max(dim)'s index; torch.amax
 * splits it between them instead), and the first NaN, which is the
 * maximum and the minimum of its slice (NaN propagates). Errors: an axis
 * out of range, a rank-0 a. */
GG_API gg_node *gg_max_axis(gg_graph *g, gg_node *a, int axis, int keepdim);
GG_API gg_node *gg_min_axis(gg_graph *g, gg_node *a, int axis, int keepdim);

/* The index (0, 1, ... as numbers of a's dtype) of the maximum along one
 * axis, the index gg_max_axis routes to: the first of equal ones, the first
 * NaN. A constant: it carries no gradient and passes none back. */
GG_API gg_node *gg_argmax_axis(gg_graph *g, gg_node *a, int axis, int keepdim);

/* Softmax and log-softmax along any axis (negative counts from the end),
 * stable as gg_softmax; gg_softmax_axis(g, a, -1) computes the same bits
 * as gg_softmax(g, a), and its gradient. Errors: an axis out of range, a
 * rank-0 a (which gg_softmax accepts). */
GG_API gg_node *gg_softmax_axis(gg_graph *g, gg_node *a, int axis);
GG_API gg_node *gg_log_softmax_axis(gg_graph *g, gg_node *a, int axis);

/* The step (Heaviside) activation of the perceptron: 1 where a > 0, else 0.
 * Its gradient is 0 everywhere it is defined, so nothing trains through it:
 * that is why backprop needs a smooth activation. */
GG_API gg_node *gg_step(gg_graph *g, gg_node *a);

/* ---- Fused loss gates ------------------------------------------------------
 * One gate each rather than a chain of exp / log / sum gates, so that they
 * stay finite for any logits and their backward is the short closed form.
 * Each returns a rank-0 node of the inputs' dtype. */

/* Softmax cross-entropy with integer labels, fused and stable:
 *     loss = mean over rows r of  logsumexp(logits[r, :]) - logits[r, label[r]]
 * logits is [B, C]; labels is a [B] node of the same dtype holding class
 * indices as numbers (0.0, 1.0, ... C-1), usually a gg_input refilled per
 * batch. A negative label marks a row to ignore (padding): it adds nothing to
 * the loss or the gradient, and the mean is over the other rows (0 when every
 * row is ignored). A label >= C or not a whole number makes the loss NaN.
 * Backward: d logits = (softmax - onehot(label)) / rows counted. Labels get
 * no gradient. */
GG_API gg_node *gg_softmax_cross_entropy(gg_graph *g, gg_node *logits, gg_node *labels);

/* Binary cross-entropy on logits, stable for any logit:
 *     loss = mean of  max(x, 0) - x * t + log(1 + e^-|x|)
 * targets has logits' shape, values in [0, 1]. Backward: dx = (sigmoid(x)
 * - t) / N, dt = -x / N. */
GG_API gg_node *gg_bce_with_logits(gg_graph *g, gg_node *logits, gg_node *targets);

/* ---- Your own gates ------------------------------------------------------
 * A gate of your own is recorded like any other: traces, pictures,
 * gg_gradcheck and anomaly detection handle it, and gg_backward runs its
 * backward in turn. Describe it once (a static const gg_gate_def is the
 * usual way) and record nodes with gg_custom:
 *
 *     static void cube_fwd(void *u, const gg_node *const *in, gg_node *out)
 *     {   // out = x^3, element by element (f64 here)
 *         const double *x = gg_data_const(in[0]);
 *         double *y = gg_data(out);
 *         for (size_t i = 0; i < gg_numel(out); i++) y[i] = x[i] * x[i] * x[i];
 *     }
 *     static void cube_bwd(void *u, gg_node *const *in, const gg_node *out)
 *     {   // dx += 3x^2 * upstream
 *         const double *x = gg_data_const(in[0]), *gy = gg_grad_data_const(out);
 *         double *gx = gg_grad_data(in[0]);
 *         if (gx) for (size_t i = 0; i < gg_numel(out); i++) gx[i] += 3 * x[i] * x[i] * gy[i];
 *     }
 *     static const gg_gate_def cube = {.name = "cube", .arity = 1,
 *         .rule = "dx = 3x^2 * upstream", .forward = cube_fwd, .backward = cube_bwd};
 *     gg_node *y = gg_custom(g, &cube, (gg_node *[]){x});
 */

/* Most inputs a user's gate takes. */
#define GG_CUSTOM_MAX_INPUTS 8

typedef struct gg_gate_def {
    const char *name; /* shown in traces, pictures and errors (copied) */
    const char *rule; /* one sentence: how it passes the gradient on (copied) */
    int arity;        /* inputs, 1..GG_CUSTOM_MAX_INPUTS */
    /* The output's rank (0..GG_MAX_DIMS) and dims from the inputs; returns
     * 0, or non-zero after writing why into err (GG_ERRLEN bytes), which
     * becomes the recording's error. NULL: the shape of input 0. The output
     * has input 0's dtype; every input must share it. */
    int (*shape)(void *user, const gg_node *const *in, int *rank, int64_t *dims, char *err);
    /* Writes the output's value (gg_data(out)) from the inputs'. */
    void (*forward)(void *user, const gg_node *const *in, gg_node *out);
    /* Adds (+=) each input's share of the upstream gradient
     * (gg_grad_data_const(out)) into gg_grad_data(in[i]), which is NULL for
     * an input that carries no gradient. */
    void (*backward)(void *user, gg_node *const *in, const gg_node *out);
    /* Optional: d out / d in[i] at element k from the current values, for
     * traces and gg_explain on scalars. NULL when there is none. */
    double (*local)(void *user, const gg_node *const *in, const gg_node *out, int i, size_t k);
    void *user; /* handed to every callback */
    /* Optional: records each input's gradient as new nodes of g, for
     * gg_gradient and gg_hvp (include/gategrad/higher.h): from up (the
     * gradient out receives, a node of out's shape and dtype), in[] and out,
     * with the public constructors, into din[i] (in[i]'s shape and dtype;
     * left NULL, the input receives nothing). Record them from gates that
     * have gradients of their own (or from custom gates that have this
     * callback) for the result to be differentiable again. Returns 0, or
     * non-zero (the error in gg_error, or a generic one). NULL: gg_gradient
     * through this gate fails with a message naming it, never a silent 0. */
    int (*gradient)(void *user, gg_graph *g, gg_node *const *in, gg_node *out, gg_node *up,
                    gg_node **din);
} gg_gate_def;

/* Records a node of the gate def describes over in[0..def->arity), computes
 * its value, and returns it (NULL with a message on error: a definition
 * without name, rule, forward or backward, an arity out of range, inputs of
 * another graph or of mixed dtypes, a shape the callback refused). The
 * graph copies what it keeps of def (a definition used again is found
 * again); the callbacks and user data must stay valid while g runs them. */
GG_API gg_node *gg_custom(gg_graph *g, const gg_gate_def *def, gg_node *const *in);

/* ---- Running the graph -------------------------------------------------- */

/* Recomputes every node root depends on, in topological order, from the
 * current leaf values. No allocation once root's order is cached (the first
 * call for a root builds it). 0 on success; non-zero with a message when a
 * gate cannot run on its inputs' current values (gg_gather_rows given an
 * index out of range by gg_set_data), the pass stopping there. The
 * gradient of every intermediate node it recomputes reads 0 afterwards;
 * leaf gradients are untouched. */
GG_API int gg_forward(gg_graph *g, gg_node *root);

/* Back-propagates from root, which must hold a single element: its gradient
 * is seeded with 1. Variable leaves accumulate; intermediate gradients are
 * cleared first. 0 on success; non-zero with a message otherwise. */
GG_API int gg_backward(gg_graph *g, gg_node *root);

/* Like gg_backward, for a root of any shape: seed holds root's element count
 * of root's dtype, the upstream gradient to start from (copied). */
GG_API int gg_backward_seed(gg_graph *g, gg_node *root, const void *seed);

/* Sets every gradient in g (leaves included) to zero. After a gg_forward
 * that recomputed every node a backward pass wrote, and all of them
 * scalars, only the variable leaves are left to clear, which it does without
 * visiting the other nodes. */
GG_API void gg_zero_grad(gg_graph *g);

/* Sets the gradient of leaf, a variable leaf of g, to zero without writing
 * it: a tensor's buffer keeps its old numbers, which stand for zero, and
 * the first gate of the next gg_backward to reach leaf stores its
 * contribution there instead of adding it to zeros (for a matmul, a
 * product with beta = 0), saving a pass over the buffer and a read of it.
 * gg_grad_data, gg_grad_at and gg_grad clear a buffer still in that state
 * before they return, so through them it reads as zero; a pointer taken
 * from gg_grad_data before the call reads the old numbers until one of them
 * is called again. A scalar's gradient is set to 0 at once. 0 on success;
 * non-zero with a message for NULL, a node of another graph, a node
 * computed by a gate, or a constant (it has no gradient). */
GG_API int gg_zero_grad_lazy(gg_graph *g, gg_node *leaf);

/* Turns NaN/Inf detection on (on != 0) or off. When on, every gate's output
 * is checked after its forward and every input gradient after its backward;
 * the first NaN or Inf stops the pass: the op that recorded the node returns
 * NULL, gg_forward / gg_backward return non-zero, and gg_error names the
 * gate that produced it, its label, and its inputs' values, e.g.
 * "anomaly: forward of node 2 'y' (log) produced -inf in its value
 * (element 0); inputs: node 1 'x' (leaf) = 0". Off by default; when off it
 * costs one branch per gate. Returns 0 (-1 if g is NULL). */
GG_API int gg_detect_anomaly(gg_graph *g, int on);

/* ---- Reading and writing nodes ------------------------------------------ */

/* Writes a rank-0 leaf's value (converted to its dtype). Nodes computed by a
 * gate are refused (their value comes from gg_forward). 0 on success. */
GG_API int gg_set_value(gg_graph *g, gg_node *leaf, double value);

/* Copies a leaf's whole value from data (its element count, its dtype).
 * A leaf borrowing the caller's memory (gg_borrow_data) stops borrowing:
 * the copy goes to its own buffer. */
GG_API int gg_set_data(gg_graph *g, gg_node *leaf, const void *data);

/* Makes a constant tensor leaf (gg_input, gg_constant) read its value from
 * data, the caller's numel elements of its dtype, instead of its own
 * buffer: no copy (a batch of rows handed to the graph in place). data
 * stays the caller's: it must outlive every use of the leaf until the
 * borrowing ends, and nothing writes it, so it must not be a leaf that a
 * gate updates (batch normalization's running statistics), nor be written
 * through gg_data. data NULL ends the borrowing, as gg_set_data does: the
 * leaf reads its own buffer again, as it was. 0 on success; an error for a
 * variable (an optimizer writes its values), a scalar, a computed node, or
 * data not aligned to its elements. */
GG_API int gg_borrow_data(gg_graph *g, gg_node *leaf, const void *data);

/* Value and gradient of a node's first element, as double (0 for NULL). */
GG_API double gg_value(const gg_node *n);
GG_API double gg_grad(const gg_node *n);

/* Element i (row-major) of the value / gradient, as double. Out-of-range i
 * or a constant's gradient reads as 0. */
GG_API double gg_value_at(const gg_node *n, size_t i);
GG_API double gg_grad_at(const gg_node *n, size_t i);

/* Pointers to the value and gradient elements (dtype elements, numel of
 * them). The gradient pointer is NULL for nodes that carry no gradient
 * (constants and nodes computed only from constants). Owned by the graph. */
GG_API void *gg_data(gg_node *n);
GG_API void *gg_grad_data(gg_node *n);
GG_API const void *gg_data_const(const gg_node *n);
GG_API const void *gg_grad_data_const(const gg_node *n);

/* Shape queries. gg_shape copies the dimensions into dims (GG_MAX_DIMS
 * entries, may be NULL) and returns the rank (0 for a scalar). */
GG_API int gg_shape(const gg_node *n, int64_t *dims);
GG_API size_t gg_numel(const gg_node *n);
GG_API gg_dtype gg_node_dtype(const gg_node *n);
GG_API size_t gg_node_id(const gg_node *n);

/* Non-zero for leaves (made by gg_scalar, gg_tensor, gg_input, gg_constant). */
GG_API int gg_is_leaf(const gg_node *n);

/* Non-zero when the node carries a gradient. */
GG_API int gg_requires_grad(const gg_node *n);

/* The node's inputs: returns how many it has (0 for a leaf; more than 2
 * for n-ary gates such as gg_where and gg_concat) and stores the first two
 * of them in in[] (room for 2). */
GG_API int gg_inputs(const gg_node *n, gg_node **in);

/* Input i of n (0-based), or NULL when it has no such input. */
GG_API gg_node *gg_node_input(const gg_node *n, int i);

/* Formats n's shape as "[3,4]" (or "[]" for a scalar) into buf. */
GG_API const char *gg_shape_str(const gg_node *n, char *buf, size_t size);

/* ---- Gates as data -------------------------------------------------------
 * Each gate is one entry of a table: its name, its arity and the sentence
 * that says how it moves gradient (used by traces and pictures). */

/* The name of the gate that produced n ("add", "mul", ..., "leaf"). */
GG_API const char *gg_gate_name(const gg_node *n);

/* One line: how n's gate passes the upstream gradient to its inputs. */
GG_API const char *gg_gate_rule(const gg_node *n);

/* The gate's constant parameter (pow exponent, leaky slope, elu alpha, axis);
 * the first one for gates with several (clamp's lo, slice's axis). */
GG_API double gg_gate_param(const gg_node *n);

/* ---- Labels -------------------------------------------------------------- */

/* Gives n a label ("w1", "fc1.weight"), copied. A label names one node of
 * its graph: setting a label another node holds is an error. 0 on success. */
GG_API int gg_set_label(gg_graph *g, gg_node *n, const char *label);

/* n's label, or NULL. Owned by g. */
GG_API const char *gg_label(const gg_graph *g, const gg_node *n);

/* The node labelled label, or NULL. */
GG_API gg_node *gg_find(const gg_graph *g, const char *label);

/* ---- Gradient checking --------------------------------------------------- */

typedef struct gg_gradcheck_result {
    size_t checked;        /* elements compared */
    size_t failures;       /* elements outside the tolerance */
    double max_abs_err;    /* largest |analytic - numeric| */
    gg_node *worst_leaf;   /* where that happened */
    size_t worst_index;
    double worst_analytic, worst_numeric;
} gg_gradcheck_result;

/* Compares the gradient gg_backward computes for root (a single element)
 * with central finite differences, (f(x+eps) - f(x-eps)) / 2eps, taken in
 * f64 for every element of the given leaves (all variable leaves root
 * depends on when leaves is NULL). An element passes when
 * |analytic - numeric| <= tol * (1 + |numeric|). Leaf values are restored
 * and leaf gradients left as gg_backward computed them. Returns 0 when every
 * element passes, 1 when some fail (details in *res, may be NULL), -1 on
 * error (message in gg_error). Use f64 graphs: f32 rounding swamps eps. */
GG_API int gg_gradcheck(gg_graph *g, gg_node *root, gg_node *const *leaves,
                 size_t nleaves, double eps, double tol, gg_gradcheck_result *res);

#endif
