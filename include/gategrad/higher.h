/* gategrad/higher.h - higher-order gradients: the backward pass recorded
 * as a graph of its own.
 *
 * gg_backward computes gradients into buffers, the fast path every training
 * step takes. gg_gradient instead RECORDS them: it walks the root's
 * ancestors in reverse topological order and records, for each gate, the
 * gates that compute its inputs' gradients (the gate's recording backward),
 * adding up the contributions of a node used several times with gg_add. The
 * results are ordinary nodes of the same graph: combine them, gg_backward
 * or gg_gradient them again (second, third derivatives), draw them, or
 * re-run them with gg_forward after writing new leaf values. Nothing of
 * gg_backward changes and it costs nothing more.
 *
 * Ownership: every node these functions record belongs to g, as any
 * gate's; out[] receives pointers to them (the caller provides the array).
 *
 * Values: the outputs hold their values as soon as they are recorded, as
 * every gate's do, from the graph's current values (call gg_forward(g, root)
 * first if leaves were rewritten since). After new leaf values, gg_forward
 * on an output recomputes it: the same numbers as recording it afresh.
 *
 * Dtypes: roots and variables may be f32 or f64; each output has its
 * variable's dtype and shape.
 *
 * Zeros, never NULL: a variable the root does not depend on gets a constant
 * node of zeros of its shape. A gate that cannot record its backward (a
 * gg_custom gate whose gg_gate_def has no gradient callback) makes the call
 * fail with a message naming the gate, never a silent zero.
 *
 * Kinks follow PyTorch: relu'' = 0 and abs'' = 0 (their masks are steps);
 * max, min, max_axis, min_axis and where route (second derivative 0); clamp
 * passes inside [lo, hi], bounds included.
 *
 * Errors: -1 (message in gg_error) for a NULL or foreign node, a root of
 * more than one element (gg_gradient, gg_hvp), a seed or v of another
 * shape or dtype, a variable that carries no gradient (a constant), a gate
 * without a recording backward, or memory exhausted. Nodes recorded before
 * the failure stay in g; out[] is set to NULL. */
#ifndef GATEGRAD_HIGHER_H
#define GATEGRAD_HIGHER_H

#include <stddef.h>

#include "gategrad/graph.h"

/* Records d root / d wrt[i] into g as new nodes out[i] (same shapes and
 * dtypes as wrt[i]); root holds one element (any rank). wrt[i] may be a
 * leaf or an intermediate node (then its own inputs count as fixed). The
 * outputs are ordinary nodes: combine them, gg_backward or gg_gradient
 * them again, re-run them with gg_forward after new leaf values. 0 on
 * success. */
GG_API int gg_gradient(gg_graph *g, gg_node *root, size_t n, gg_node *const *wrt, gg_node **out);

/* The same from a root of any shape, with the cotangent given as a node of
 * root's shape and dtype (itself differentiable, and re-read by gg_forward:
 * a vector-Jacobian product sum_k seed[k] * d root[k] / d wrt[i]). */
GG_API int gg_gradient_seed(gg_graph *g, gg_node *root, gg_node *seed, size_t n,
                            gg_node *const *wrt, gg_node **out);

/* Hessian-vector product: out[i] = sum_j d2 root / d wrt[i] d wrt[j] . v[j],
 * v[j] of wrt[j]'s shape and dtype (usually gg_input leaves). Recorded as
 * the gradient of sum_j <d root / d wrt[j], v[j]>, so the nodes refer to the
 * v nodes: write new values into v with gg_set_data and gg_forward(g,
 * out[i]) gives H.v for the new v (what a Newton-CG loop needs), without
 * recording anything more. 0 on success. */
GG_API int gg_hvp(gg_graph *g, gg_node *root, size_t n, gg_node *const *wrt,
                  gg_node *const *v, gg_node **out);

/* The dense Hessian of a one-element root for small problems: the wrt[]
 * elements flattened in order (N of them in all), H[r * N + c] = d2 root /
 * d x_r d x_c, written into the caller's array of N * N doubles (N given
 * as hn, checked). Records one gg_hvp with constant v's and runs it N times
 * with unit vectors. 0 on success, -1 with a message. */
GG_API int gg_hessian(gg_graph *g, gg_node *root, size_t n, gg_node *const *wrt, double *H,
                      size_t hn);

/* Finite differences of the gradient in f64, as gg_gradcheck is of the
 * value: records d root / d leaves with gg_gradient, then checks (1) its
 * values against central differences of root, and (2) the recorded
 * second derivative, gg_gradient of r = sum_i <grad_i, w_i> with fixed
 * pseudo-random constant weights w_i, against central differences of r.
 * leaves NULL: every variable leaf root depends on. Pass/fail per element
 * and *res as gg_gradcheck's (res->checked counts both checks). Returns 0
 * when every element passes, 1 when some fail, -1 on error. Use f64 graphs. */
GG_API int gg_gradgradcheck(gg_graph *g, gg_node *root, gg_node *const *leaves, size_t nleaves,
                            double eps, double tol, gg_gradcheck_result *res);

#endif
