/* gategrad.h - reverse-mode automatic differentiation with gates.
 *
 * A first program: the lecture's circuit f(x, y, z) = (x + y) * z.
 *
 *     gg_graph *g = gg_graph_new();
 *     gg_node *x = gg_scalar(g, -2), *y = gg_scalar(g, 5), *z = gg_scalar(g, -4);
 *     gg_node *q = gg_add(g, x, y);         // add gate: q = 3
 *     gg_node *f = gg_mul(g, q, z);         // mul gate: f = -12
 *     if (!f || gg_backward(g, f))          // errors: NULL / non-zero, then
 *         puts(gg_error(g));                //   the message names the op
 *     printf("%g %g %g\n", gg_grad(x), gg_grad(y), gg_grad(z));  // -4 -4 3
 *     gg_graph_free(g);                     // frees every node at once
 *
 * Every call records a gate and computes its value at once; gg_backward runs
 * the gates in reverse, each moving the gradient by its own rule: add
 * distributes it, mul swaps its inputs, max routes it to the larger input,
 * a value used twice adds up what comes back, sigmoid works from its output.
 *
 * The same gates take tensors (f32 or f64, up to 4-D, NumPy broadcasting),
 * and gg_matmul, reductions, softmax. Build once, re-run many times:
 * gg_set_data on the leaves, gg_forward, gg_zero_grad, gg_backward.
 *
 * Modules:
 *   gategrad/graph.h  graphs, nodes, gates, forward/backward, gradcheck
 *   gategrad/higher.h  gradients as graphs: Hessians, Hessian-vector products
 *   gategrad/expr.h   the expression language: "(x + y) * z" into a graph
 *   gategrad/rng.h    the seeded generator behind every random choice
 *   gategrad/teach.h  traces, chain-rule explanations, Graphviz pictures
 *   gategrad/nn.h     MLPs as graphs: layers, losses, optimizers, training
 *   gategrad/data.h   IDX (MNIST), CSV, playground data sets, splits, batches
 *   gategrad/io.h     safetensors checkpoints, files replaced atomically
 *   gategrad/threads.h  the thread count of the heavy kernels
 *   gategrad/dist.h   data-parallel training over MPI (one rank without it)
 */
#ifndef GATEGRAD_H
#define GATEGRAD_H

#include "gategrad/base.h"
#include "gategrad/graph.h"
#include "gategrad/higher.h"
#include "gategrad/expr.h"
#include "gategrad/rng.h"
#include "gategrad/teach.h"
#include "gategrad/nn.h"
#include "gategrad/data.h"
#include "gategrad/io.h"
#include "gategrad/threads.h"
#include "gategrad/dist.h"

#endif
