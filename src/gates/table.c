/* table.c - the gate table, the leaf "gate", the broadcasting rules
 * that every elementwise gate shares, and the axis view of the gates along
 * one axis. */
#include "gates/gates.h"

#define GG_GATE_PTR(name) &ggg_gate_##name,
const ggc_gate *const ggc_gates[GG_GATE_COUNT] = {GG_GATES(GG_GATE_PTR)};
const size_t ggc_gate_count = GG_GATE_COUNT;
#undef GG_GATE_PTR

/* Leaves are never run: their value is written from outside. */
const ggc_gate ggg_gate_leaf = {
    .name = "leaf",
    .arity = 0,
    .rule = "a leaf keeps (accumulates) the gradient it receives",
    .rule_ko = "leaf는 받은 gradient를 쌓아 둔다 (모두 더한다)",
};

bool ggg_same_shape(gg_graph *g, const gg_node *n, ggc_shape *out)
{
    (void)g;
    const gg_node *a = n->in[0];
    out->rank = a->rank;
    for (int i = 0; i < a->rank; i++)
        out->dims[i] = a->val.t->dims[i];
    return true;
}

/* Dimensions of n right-aligned into 4, padded with 1 on the left. */
static void padded_dims(const gg_node *n, size_t d[GG_MAX_DIMS])
{
    int pad = GG_MAX_DIMS - n->rank;
    for (int i = 0; i < GG_MAX_DIMS; i++)
        d[i] = i < pad ? 1 : (size_t)n->val.t->dims[i - pad];
}

/* The broadcast of every input's shape, folded from the left: input j must
 * agree with the shape of inputs 0..j-1 broadcast together. */
bool ggg_broadcast_shape(gg_graph *g, const gg_node *n, ggc_shape *out)
{
    size_t acc[GG_MAX_DIMS], d[GG_MAX_DIMS];
    const gg_node *a = ggc_in(n, 0);
    padded_dims(a, acc);
    out->rank = a->rank;
    for (int j = 1; j < ggc_nin(n); j++) {
        const gg_node *b = ggc_in(n, j);
        padded_dims(b, d);
        int rank = out->rank > b->rank ? out->rank : b->rank;
        for (int i = GG_MAX_DIMS - rank; i < GG_MAX_DIMS; i++) {
            if (acc[i] != d[i] && acc[i] != 1 && d[i] != 1) {
                char sa[64], sb[64];
                int64_t dims[GG_MAX_DIMS];
                for (int k = 0; k < out->rank; k++)
                    dims[k] = (int64_t)acc[GG_MAX_DIMS - out->rank + k];
                ggc_fail(g, "%s: %s and %s: shapes do not broadcast (dimension %d: %zu vs %zu)",
                         ggc_gate_of(n)->name, ggc_dims_str(out->rank, dims, sa, sizeof sa),
                         gg_shape_str(b, sb, sizeof sb), i - (GG_MAX_DIMS - rank), acc[i], d[i]);
                return false;
            }
            acc[i] = acc[i] > d[i] ? acc[i] : d[i];
        }
        out->rank = rank;
    }
    for (int i = 0; i < out->rank; i++)
        out->dims[i] = (int64_t)acc[GG_MAX_DIMS - out->rank + i];
    return true;
}

static void input_strides(const gg_node *in, const size_t zd[GG_MAX_DIMS], size_t s[GG_MAX_DIMS])
{
    size_t d[GG_MAX_DIMS], stride = 1;
    padded_dims(in, d);
    for (int i = GG_MAX_DIMS; i-- > 0;) {
        s[i] = (d[i] == 1 && zd[i] != 1) ? 0 : stride;
        stride *= d[i];
    }
}

void ggg_bplan_init(const gg_node *z, ggg_bplan *p)
{
    padded_dims(z, p->n);
    input_strides(z->in[0], p->n, p->sa);
    input_strides(z->in[1], p->n, p->sb);
    size_t nz = ggc_numel(z);
    p->flat = ggc_numel(z->in[0]) == nz && ggc_numel(z->in[1]) == nz;
}

size_t ggg_bcast_index(const gg_node *z, int i, size_t k)
{
    const gg_node *in = ggc_in(z, i);
    if (ggc_numel(in) == ggc_numel(z))
        return k;
    size_t zd[GG_MAX_DIMS], s[GG_MAX_DIMS], idx = 0;
    padded_dims(z, zd);
    input_strides(in, zd, s);
    for (int d = GG_MAX_DIMS; d-- > 0;) {
        idx += (k % zd[d]) * s[d];
        k /= zd[d];
    }
    return idx;
}

/* ---- Gates along one axis ------------------------------------------------- */

gg_node *ggg_record_axis(gg_graph *g, int gate, gg_node *a, int axis, int keepdim)
{
    if (!g || !a)
        return NULL;
    int rank = a->rank;
    if (axis < -rank || axis >= rank || rank == 0) {
        char sa[64];
        return ggc_fail(g, "%s: axis %d is out of range for a rank-%d tensor %s", ggc_gates[gate]->name,
                        axis, rank, gg_shape_str(a, sa, sizeof sa));
    }
    if (axis < 0)
        axis += rank;
    return ggc_record(g, gate, a, NULL, axis + 4 * (keepdim != 0), NULL);
}

ggg_axis_view ggg_axis_view_of(const gg_node *z)
{
    const gg_node *a = z->in[0];
    const int64_t *d = a->val.t->dims;
    int axis = ggg_axis(z);
    ggg_axis_view v = {1, (size_t)d[axis], 1};
    for (int i = 0; i < axis; i++)
        v.outer *= (size_t)d[i];
    for (int i = axis + 1; i < a->rank; i++)
        v.inner *= (size_t)d[i];
    return v;
}

bool ggg_axis_shape(gg_graph *g, const gg_node *z, ggc_shape *out)
{
    (void)g;
    const gg_node *a = z->in[0];
    int axis = ggg_axis(z);
    bool keep = ggg_keepdim(z);
    out->rank = 0;
    for (int i = 0; i < a->rank; i++) {
        if (i != axis)
            out->dims[out->rank++] = a->val.t->dims[i];
        else if (keep)
            out->dims[out->rank++] = 1;
    }
    return true;
}
