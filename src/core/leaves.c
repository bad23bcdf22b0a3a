/* leaves.c - making leaves, and reading and writing node values. */
#include <string.h>

#include "core/core.h"


gg_node *gg_scalar(gg_graph *g, double value)
{
    gg_node *n = ggc_record_leaf(g, GG_F64, &(ggc_shape){0}, true);
    if (n)
        n->val.s.d = value;
    return n;
}

gg_node *gg_constant(gg_graph *g, gg_dtype dtype, double value)
{
    gg_node *n = ggc_record_leaf(g, dtype, &(ggc_shape){0}, false);
    if (n)
        ggb_put(n->dtype, ggc_val(n), 0, value);
    return n;
}

gg_node *gg_const(gg_graph *g, double value) { return gg_constant(g, GG_F64, value); }

static gg_node *make_tensor(gg_graph *g, gg_dtype dtype, int rank, const int64_t *dims,
                            const void *data, bool variable)
{
    if (!g)
        return NULL;
    if (rank < 0 || rank > GG_MAX_DIMS)
        return ggc_fail(g, "tensor: rank %d is out of range 0..%d", rank, GG_MAX_DIMS);
    if (rank > 0 && !dims)
        return ggc_fail(g, "tensor: dims is NULL for rank %d", rank);
    ggc_shape shape = {.rank = rank};
    if (rank)
        memcpy(shape.dims, dims, (size_t)rank * sizeof *dims);
    gg_node *n = ggc_record_leaf(g, dtype, &shape, variable);
    if (!n)
        return NULL;
    size_t bytes = ggc_numel(n) * gg_dtype_size(dtype);
    if (data)
        memcpy(ggc_val(n), data, bytes);
    else
        memset(ggc_val(n), 0, bytes);
    return n;
}

gg_node *gg_tensor(gg_graph *g, gg_dtype dtype, int rank, const int64_t *dims, const void *data)
{
    return make_tensor(g, dtype, rank, dims, data, true);
}

gg_node *gg_input(gg_graph *g, gg_dtype dtype, int rank, const int64_t *dims, const void *data)
{
    return make_tensor(g, dtype, rank, dims, data, false);
}

static bool check_leaf(gg_graph *g, gg_node *n, const char *op)
{
    if (!n) {
        ggc_fail(g, "%s: node is NULL", op);
        return false;
    }
    if (!ggc_owns(g, n)) {
        ggc_fail(g, "%s: node %u belongs to another graph", op, n->id);
        return false;
    }
    if (n->gate != GGC_GATE_LEAF) {
        ggc_fail(g, "%s: node %u is computed by a %s gate, not a leaf; its value comes from gg_forward",
                 op, n->id, ggc_gate_of(n)->name);
        return false;
    }
    return true;
}

int gg_set_value(gg_graph *g, gg_node *leaf, double value)
{
    if (!g || !check_leaf(g, leaf, "set_value"))
        return -1;
    if (leaf->rank != 0) {
        char buf[64];
        ggc_fail(g, "set_value: node %u has shape %s; use gg_set_data for tensors", leaf->id,
                 gg_shape_str(leaf, buf, sizeof buf));
        return -1;
    }
    ggb_put(leaf->dtype, ggc_val(leaf), 0, value);
    return 0;
}

/* A borrowing leaf reads its own buffer again (as it was before). */
static void end_borrowing(gg_node *leaf)
{
    ggc_tensor *t = leaf->rank ? leaf->val.t : NULL;
    if (t && t->own) {
        t->data = t->own;
        t->own = NULL;
    }
}

int gg_set_data(gg_graph *g, gg_node *leaf, const void *data)
{
    if (!g || !check_leaf(g, leaf, "set_data"))
        return -1;
    if (!data) {
        ggc_fail(g, "set_data: data is NULL");
        return -1;
    }
    end_borrowing(leaf);
    memcpy(ggc_val(leaf), data, ggc_numel(leaf) * gg_dtype_size(leaf->dtype));
    return 0;
}

int gg_borrow_data(gg_graph *g, gg_node *leaf, const void *data)
{
    if (!g || !check_leaf(g, leaf, "borrow_data"))
        return -1;
    if (leaf->rank == 0 || ggc_needs_grad(leaf)) {
        char buf[64];
        ggc_fail(g, "borrow_data: node %u is a %s %s; only a constant tensor (gg_input, gg_constant) can read "
                 "the caller's memory", leaf->id, ggc_needs_grad(leaf) ? "variable" : "scalar",
                 gg_shape_str(leaf, buf, sizeof buf));
        return -1;
    }
    if ((uintptr_t)data % gg_dtype_size(leaf->dtype)) {
        ggc_fail(g, "borrow_data: data %p is not aligned to its %s elements", data, gg_dtype_name(leaf->dtype));
        return -1;
    }
    if (!data) {
        end_borrowing(leaf);
        return 0;
    }
    ggc_tensor *t = leaf->val.t;
    if (!t->own)
        t->own = t->data;
    t->data = (void *)data;
    return 0;
}


double gg_value_at(const gg_node *n, size_t i)
{
    if (!n || i >= ggc_numel(n))
        return 0.0;
    return ggb_get(n->dtype, ggc_val((gg_node *)n), i);
}

double gg_grad_at(const gg_node *n, size_t i)
{
    if (!n || i >= ggc_numel(n) || !ggc_needs_grad(n))
        return 0.0;
    ggc_grad_live((gg_node *)n);
    return ggb_get(n->dtype, ggc_grad((gg_node *)n), i);
}

double gg_value(const gg_node *n) { return gg_value_at(n, 0); }
double gg_grad(const gg_node *n) { return gg_grad_at(n, 0); }

void *gg_data(gg_node *n) { return n ? ggc_val(n) : NULL; }
void *gg_grad_data(gg_node *n)
{
    if (!n)
        return NULL;
    ggc_grad_live(n);
    return ggc_grad(n);
}
const void *gg_data_const(const gg_node *n) { return gg_data((gg_node *)n); }
const void *gg_grad_data_const(const gg_node *n) { return gg_grad_data((gg_node *)n); }

int gg_zero_grad_lazy(gg_graph *g, gg_node *leaf)
{
    if (!g || !check_leaf(g, leaf, "zero_grad_lazy"))
        return -1;
    if (!ggc_needs_grad(leaf)) {
        ggc_fail(g, "zero_grad_lazy: node %u is a constant; it has no gradient", leaf->id);
        return -1;
    }
    if (leaf->rank) {
        leaf->flags |= GGC_GRAD_STALE;
        g->stale_leaves = true;
    } else {
        leaf->grad.d = 0;
    }
    return 0;
}

int gg_shape(const gg_node *n, int64_t *dims)
{
    if (!n)
        return -1;
    if (dims) {
        for (int i = 0; i < GG_MAX_DIMS; i++)
            dims[i] = i < n->rank ? n->val.t->dims[i] : 1;
    }
    return n->rank;
}

size_t gg_numel(const gg_node *n) { return n ? ggc_numel(n) : 0; }
gg_dtype gg_node_dtype(const gg_node *n) { return n ? (gg_dtype)n->dtype : GG_F64; }
size_t gg_node_id(const gg_node *n) { return n ? n->id : 0; }
int gg_is_leaf(const gg_node *n) { return n && n->gate == GGC_GATE_LEAF; }
int gg_requires_grad(const gg_node *n) { return n && ggc_needs_grad(n); }

int gg_inputs(const gg_node *n, gg_node **in)
{
    int k = n ? ggc_nin(n) : 0;
    for (int i = 0; i < k && i < 2; i++)
        in[i] = n->in[i];
    return k;
}

gg_node *gg_node_input(const gg_node *n, int i)
{
    return n && i >= 0 && i < ggc_nin(n) ? ggc_in(n, i) : NULL;
}

const char *gg_gate_name(const gg_node *n) { return n ? ggc_gate_of(n)->name : "(null)"; }
const char *gg_gate_rule(const gg_node *n) { return n ? ggc_gate_of(n)->rule : ""; }
double gg_gate_param(const gg_node *n)
{
    if (!n || ggc_nin(n) == 0)
        return 0.0;
    double p[4];
    return ggc_params(n, p) ? p[0] : 0.0; /* an aux node's param holds a pointer */
}
