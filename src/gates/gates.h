/* gates/gates.h - the gate table and what the gate families share
 * (internal, prefix ggg_).
 *
 * A gate is one entry: its name, arity, the sentence that says how it moves
 * gradient, and three functions side by side in one source file: shape (the
 * output shape from the inputs, or an error), forward (the output value from
 * the inputs) and backward (add the output gradient's share into each input
 * that needs a gradient). Backward always accumulates with +=, so a node
 * used by several gates receives the sum of their contributions (fan-out).
 *
 * Adding a gate: define its ggc_gate and constructor in one file, add one
 * X(name) line to GG_GATES below. */
#ifndef GGG_GATES_H
#define GGG_GATES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

/* Shape functions shared by many gates. */
bool ggg_same_shape(gg_graph *g, const gg_node *n, ggc_shape *out);
bool ggg_broadcast_shape(gg_graph *g, const gg_node *n, ggc_shape *out);

/* How a binary elementwise gate walks its broadcast operands: a 4-D loop
 * nest over the output, with strides into a and b that are 0 along the
 * dimensions they are stretched over. */
typedef struct ggg_bplan {
    size_t n[GG_MAX_DIMS];
    size_t sa[GG_MAX_DIMS], sb[GG_MAX_DIMS];
    bool flat; /* a, b and the output have the same shape */
} ggg_bplan;
void ggg_bplan_init(const gg_node *z, ggg_bplan *p);

/* Index of element k of the output in input i under broadcasting. */
size_t ggg_bcast_index(const gg_node *z, int i, size_t k);

#define GG_GATES(X)                                                            \
    X(leaf) X(add) X(sub) X(mul) X(div) X(max) X(min) X(copy) X(neg)           \
    X(sigmoid) X(tanh) X(exp) X(log) X(relu) X(leaky_relu) X(elu) X(abs)       \
    X(pow) X(sqrt) X(sin) X(cos) X(softplus) X(silu) X(gelu) X(pow_node)      \
    X(matmul) X(sum) X(mean) X(sum_axis) X(mean_axis) X(reshape)        \
    X(transpose) X(softmax) X(log_softmax)                                     \
    X(softmax_cross_entropy) X(bce_with_logits) X(step) X(where) X(clamp) X(cast) \
    X(slice) X(concat) X(gather_rows) X(broadcast_to) X(transpose_axes)

#define GG_GATE_ENUM(name) GG_GATE_##name,
enum { GG_GATES(GG_GATE_ENUM) GG_GATE_COUNT };
#undef GG_GATE_ENUM

#define GG_GATE_DECL(name) extern const ggc_gate ggg_gate_##name;
GG_GATES(GG_GATE_DECL)
#undef GG_GATE_DECL

_Static_assert(GG_GATE_leaf == GGC_GATE_LEAF, "the leaf is gate 0 of the table");

#endif
