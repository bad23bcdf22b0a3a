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

/* Gates along one axis (sum_axis, max_axis, softmax_axis, ...). The
 * param holds axis + 4 * keepdim, the axis counted from the front;
 * ggg_record_axis checks the axis (negative counts from the end, a rank-0
 * input has none), encodes it and records the node. */
gg_node *ggg_record_axis(gg_graph *g, int gate, gg_node *a, int axis, int keepdim);
static inline int ggg_axis(const gg_node *z) { return (int)z->param.f & 3; }
static inline bool ggg_keepdim(const gg_node *z) { return (int)z->param.f >> 2; }

/* The input viewed as [outer, len, inner] around the axis: element
 * (o, l, i) is at (o * len + l) * inner + i, and the reduced output's
 * (o, i) at o * inner + i. */
typedef struct ggg_axis_view {
    size_t outer, len, inner;
} ggg_axis_view;
ggg_axis_view ggg_axis_view_of(const gg_node *z);

/* The shape of a reduction along the axis: the axis dropped, or kept as 1. */
bool ggg_axis_shape(gg_graph *g, const gg_node *z, ggc_shape *out);

/* Softmax (log_softmax when take_log) of z's input 0 along v's len, into
 * z, stably (the maximum along the line subtracted first); and its
 * backward from z's own value, accumulated into the input's gradient
 * (the caller checks that it has one). Defined in axis.c; the last-axis
 * softmax gates of tensor.c run them with inner = 1. */
void ggg_softmax_lines(gg_node *z, ggg_axis_view v, bool take_log);
void ggg_softmax_lines_backward(gg_node *z, ggg_axis_view v, bool from_log);

/* What the recording backwards share (grad.c): a rank-0 constant v of
 * like's dtype; x summed back over the dimensions it was broadcast along,
 * to like's shape; x reshaped to like's shape (itself when it has it); a
 * constant of shape [1, .., len, .., 1] (len along axis, rank dimensions)
 * holding 0, 1, ... len-1; 1 where idx equals iota and 0 elsewhere,
 * broadcast. NULL when an input is NULL or on
 * error, as every constructor. */
gg_node *ggg_k(gg_graph *g, const gg_node *like, double v);
gg_node *ggg_sum_to(gg_graph *g, gg_node *x, const gg_node *like);
gg_node *ggg_reshape_like(gg_graph *g, gg_node *x, const gg_node *like);
gg_node *ggg_iota(gg_graph *g, gg_dtype dtype, int rank, int axis, int64_t len);
gg_node *ggg_onehot(gg_graph *g, gg_node *idx, gg_node *iota);

#define GG_GATES(X)              \
    X(leaf)                      \
    X(custom)                    \
    X(add)                       \
    X(sub)                       \
    X(mul)                       \
    X(div)                       \
    X(max)                       \
    X(min)                       \
    X(copy)                      \
    X(neg)                       \
    X(sigmoid)                   \
    X(tanh)                      \
    X(exp)                       \
    X(log)                       \
    X(relu)                      \
    X(leaky_relu)                \
    X(elu)                       \
    X(abs)                       \
    X(pow)                       \
    X(sqrt)                      \
    X(sin)                       \
    X(cos)                       \
    X(log1p)                     \
    X(softplus)                  \
    X(silu)                      \
    X(gelu)                      \
    X(pow_node)                  \
    X(matmul)                    \
    X(sum)                       \
    X(mean)                      \
    X(sum_axis)                  \
    X(mean_axis)                 \
    X(reshape)                   \
    X(transpose)                 \
    X(softmax)                   \
    X(log_softmax)               \
    X(softmax_cross_entropy)     \
    X(bce_with_logits)           \
    X(step)                      \
    X(where)                     \
    X(clamp)                     \
    X(cast)                      \
    X(max_axis)                  \
    X(min_axis)                  \
    X(argmax_axis)               \
    X(softmax_axis)              \
    X(log_softmax_axis)          \
    X(slice)                     \
    X(concat)                    \
    X(gather_rows)               \
    X(broadcast_to)              \
    X(transpose_axes)              \
    X(normal_cdf)                  \
    X(batch_norm)

#define GG_GATE_ENUM(name) GG_GATE_##name,
enum { GG_GATES(GG_GATE_ENUM) GG_GATE_COUNT };
#undef GG_GATE_ENUM

#define GG_GATE_DECL(name) extern const ggc_gate ggg_gate_##name;
GG_GATES(GG_GATE_DECL)
#undef GG_GATE_DECL

_Static_assert(GG_GATE_leaf == GGC_GATE_LEAF, "the leaf is gate 0 of the table");
_Static_assert(GG_GATE_custom == GGC_GATE_CUSTOM, "users' gates are gate 1 of the table");

#endif
