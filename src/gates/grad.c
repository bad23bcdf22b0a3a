/* grad.c - what the gates' recording backwards (ggc_gate.grad) share:
 * summing a broadcast gradient back to an input's shape, constants of a
 * node's dtype, and the index ramps that one-hot masks compare against.
 * Everything is recorded with the public constructors, so the gradient a
 * builder records is an ordinary, differentiable graph. */
#include <string.h>

#include "gates/gates.h"

gg_node *ggg_k(gg_graph *g, const gg_node *like, double v)
{
    return gg_constant(g, (gg_dtype)like->dtype, v);
}

gg_node *ggg_sum_to(gg_graph *g, gg_node *x, const gg_node *like)
{
    if (!x)
        return NULL;
    if (like->rank == 0)
        return x->rank == 0 ? x : gg_sum(g, x);
    while (x && x->rank > like->rank)
        x = gg_sum_axis(g, x, 0, 0);
    for (int i = 0; x && i < like->rank; i++)
        if (like->val.t->dims[i] == 1 && x->val.t->dims[i] != 1)
            x = gg_sum_axis(g, x, i, 1);
    return x;
}

gg_node *ggg_reshape_like(gg_graph *g, gg_node *x, const gg_node *like)
{
    if (!x)
        return NULL;
    if (x->rank == like->rank &&
        (!x->rank || !memcmp(x->val.t->dims, like->val.t->dims, (size_t)x->rank * sizeof(int64_t))))
        return x;
    return gg_reshape(g, x, like->rank, ggc_dims(like));
}

gg_node *ggg_iota(gg_graph *g, gg_dtype dtype, int rank, int axis, int64_t len)
{
    int64_t dims[GG_MAX_DIMS];
    for (int i = 0; i < rank; i++)
        dims[i] = i == axis ? len : 1;
    gg_node *r = gg_input(g, dtype, rank, dims, NULL);
    if (r)
        for (int64_t i = 0; i < len; i++)
            ggb_put(dtype, ggc_val(r), (size_t)i, (double)i);
    return r;
}

gg_node *ggg_onehot(gg_graph *g, gg_node *idx, gg_node *iota)
{
    gg_node *d = gg_sub(g, idx, iota);
    return d ? gg_where(g, d, ggg_k(g, d, 0), ggg_k(g, d, 1)) : NULL;
}
