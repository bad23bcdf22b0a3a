/* gates.h - the gate table.
 *
 * A gate is one entry: its name, arity, the sentence that says how it moves
 * gradient, and three functions side by side in one source file: shape (the
 * output shape from the inputs, or an error), forward (the output value from
 * the inputs) and backward (add the output gradient's share into each input
 * that needs a gradient). Backward always accumulates with +=, so a node
 * used by several gates receives the sum of their contributions (fan-out).
 *
 * Adding a gate: define its gg_gate and constructor in one file, add one
 * X(name) line to GG_GATES below. */
#ifndef GG_GATES_H
#define GG_GATES_H

#include <stdbool.h>
#include <stdint.h>

#include "gategrad/graph.h"

typedef struct gg__shape {
    int rank;
    int64_t dims[GG_MAX_DIMS];
} gg__shape;

typedef struct gg_gate {
    const char *name;
    int arity;
    const char *rule;
    /* true: output shape is the broadcast of the inputs' shapes, and a
     * rank-0 f64 node may take the scalar fast path. */
    bool elementwise;
    /* Sets *out from n's inputs and param; false (error recorded) if invalid. */
    bool (*shape)(gg_graph *g, const gg_node *n, gg__shape *out);
    void (*forward)(gg_node *n);
    void (*backward)(gg_node *n);
    /* For elementwise gates: the local derivative d out / d input[i] at
     * element k, from the current values (used by traces and explain).
     * NULL for the others. */
    double (*local)(const gg_node *n, int i, size_t k);
} gg_gate;

/* Shape functions shared by many gates. */
bool gg__same_shape(gg_graph *g, const gg_node *n, gg__shape *out);
bool gg__broadcast_shape(gg_graph *g, const gg_node *n, gg__shape *out);

/* How a binary elementwise gate walks its broadcast operands: a 4-D loop
 * nest over the output, with strides into a and b that are 0 along the
 * dimensions they are stretched over. */
typedef struct gg_bplan {
    size_t n[GG_MAX_DIMS];
    size_t sa[GG_MAX_DIMS], sb[GG_MAX_DIMS];
    bool flat; /* a, b and the output have the same shape */
} gg_bplan;
void gg__bplan(const gg_node *z, gg_bplan *p);

/* Index of element k of the output in input i under broadcasting. */
size_t gg__bcast_index(const gg_node *z, int i, size_t k);

#define GG_GATES(X)                                                            \
    X(leaf) X(add) X(sub) X(mul) X(div) X(max) X(min) X(copy) X(neg)           \
    X(sigmoid) X(tanh) X(exp) X(log) X(relu) X(leaky_relu) X(elu) X(abs)       \
    X(pow) X(matmul) X(sum) X(mean) X(sum_axis) X(mean_axis) X(reshape)        \
    X(transpose) X(softmax) X(log_softmax)                                     \
    X(softmax_cross_entropy) X(bce_with_logits) X(step)

#define GG_GATE_ENUM(name) GG_GATE_##name,
enum { GG_GATES(GG_GATE_ENUM) GG_GATE_COUNT };
#undef GG_GATE_ENUM

#define GG_GATE_DECL(name) extern const gg_gate gg__gate_##name;
GG_GATES(GG_GATE_DECL)
#undef GG_GATE_DECL

extern const gg_gate *const gg__gates[GG_GATE_COUNT];

#endif
