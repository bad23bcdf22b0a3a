/* graph_internal.h - the engine's insides, shared by src/ modules only.
 *
 * The contract: nodes are created in topological order. A node's inputs
 * always exist before it does, so ids ascend along every edge and the
 * creation order restricted to a root's ancestors is a valid evaluation
 * order. Nothing ever reorders or rewires a node. */
#ifndef GG_GRAPH_INTERNAL_H
#define GG_GRAPH_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>

#include "alloc.h"
#include "gategrad/graph.h"
#include "gates.h"

/* Value storage of a rank-0 node: inline, in the node itself. */
typedef union gg_cell {
    double d;
    float f;
} gg_cell;

/* Buffers and shape of a tensor node (rank >= 1), carved from the arena. */
typedef struct gg__tensor {
    int64_t dims[GG_MAX_DIMS];
    size_t numel;
    void *data;
    void *grad; /* NULL when the node carries no gradient */
} gg__tensor;

enum {
    GG_NEEDS_GRAD = 1u << 0, /* a variable leaf, or computed from one */
    GG_MARK = 1u << 1,       /* scratch bit of the topological sort */
    GG_LABELED = 1u << 2,    /* has an entry in the label table */
};

/* 48 bytes: a million scalar nodes take 48 MB, with no heap block of their own. */
struct gg_node {
    gg_node *in[2];
    union {
        gg_cell s;    /* rank 0 */
        gg__tensor *t; /* rank >= 1 */
    } val;
    gg_cell grad; /* rank 0 */
    union {
        double f;
        int64_t i;
    } param;
    uint32_t id;
    uint8_t gate;
    uint8_t dtype;
    uint8_t rank;
    uint8_t flags;
};

typedef struct gg_label_entry gg_label_entry;

/* Called around every gate evaluation when set (teaching traces, anomaly
 * detection); NULL costs one predictable branch per node. */
typedef enum gg_hook_phase {
    GG_HOOK_FORWARD,         /* after n's value was computed */
    GG_HOOK_BACKWARD_BEGIN,  /* before n's gate passes its gradient on */
    GG_HOOK_BACKWARD_END,    /* after */
} gg_hook_phase;
typedef int (*gg_hook_fn)(gg_graph *g, gg_node *n, gg_hook_phase phase, void *ctx);

struct gg_graph {
    gg_node **chunks; /* nodes live in fixed chunks so pointers never move */
    size_t nchunks, chunk_cap;
    size_t count;

    struct gg_arena_block *arena; /* tensor buffers and descriptors */

    gg_node **order; /* cached topological order of order_root's ancestors */
    size_t order_len, order_cap;
    const gg_node *order_root;

    gg_label_entry *labels_by_name, *labels_by_node;

    gg_hook_fn hook;
    void *hook_ctx;
    bool detect_anomaly;
    bool grads_dirty; /* a backward pass ran since the last gg_zero_grad */

    bool has_error;
    char error[GG_ERRLEN];
};

#define GG_CHUNK_SHIFT 10
#define GG_CHUNK_SIZE ((size_t)1 << GG_CHUNK_SHIFT)

/* Records an error message (printf-style) in g; always returns NULL so that
 * failing constructors can `return gg__fail(...)`. */
void *gg__fail(gg_graph *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocates size bytes aligned to 64 from g's arena, or NULL. Never freed
 * before the graph is. */
void *gg__arena_alloc(gg_graph *g, size_t size);
void gg__arena_free_all(gg_graph *g);
size_t gg__arena_bytes(const gg_graph *g);

static inline gg_node *gg__node(const gg_graph *g, size_t id)
{
    return &g->chunks[id >> GG_CHUNK_SHIFT][id & (GG_CHUNK_SIZE - 1)];
}

/* True when n is a node of g. */
static inline bool gg__owns(const gg_graph *g, const gg_node *n)
{
    return n->id < g->count && gg__node(g, n->id) == n;
}

/* Creates a node of gate `gate` over inputs a (and b) and computes its value.
 * Handles every check shared by all gates (NULL inputs, foreign nodes, dtype
 * mismatch), asks the gate for its output shape (want, may be NULL, is the
 * shape the caller asks for: reshape), allocates and runs forward.
 * Returns NULL on error. */
gg_node *gg__record(gg_graph *g, int gate, gg_node *a, gg_node *b, double param,
                    const gg__shape *want);

/* Records a leaf of the given dtype and shape: a variable (receives a
 * gradient) or a constant. Its value is left for the caller to fill. */
gg_node *gg__record_leaf(gg_graph *g, gg_dtype dtype, const gg__shape *shape, bool variable);

/* Frees the label tables (graph teardown). */
void gg__free_labels(gg_graph *g);

/* The cached topological order for root (building it if needed): root and
 * its ancestors in DESCENDING id order (root first), the order backward
 * walks; forward walks it from the end. NULL with an error on failure. */
gg_node **gg__order(gg_graph *g, const gg_node *root, size_t *len);

/* Element access independent of rank. */
static inline size_t gg__numel(const gg_node *n)
{
    return n->rank ? n->val.t->numel : 1;
}
static inline void *gg__val(gg_node *n)
{
    return n->rank ? n->val.t->data : (void *)&n->val.s;
}
static inline void *gg__grad(gg_node *n)
{
    if (!(n->flags & GG_NEEDS_GRAD))
        return NULL;
    return n->rank ? n->val.t->grad : (void *)&n->grad;
}
static inline const int64_t *gg__dims(const gg_node *n)
{
    return n->rank ? n->val.t->dims : NULL;
}
static inline bool gg__needs_grad(const gg_node *n)
{
    return n->flags & GG_NEEDS_GRAD;
}

/* NaN/Inf checks after a gate ran (gg_detect_anomaly); false with the
 * error recorded when n's value / its inputs' gradients hold one. */
bool gg__anomaly_forward(gg_graph *g, const gg_node *n);
bool gg__anomaly_backward(gg_graph *g, const gg_node *n);

/* Element i of a dtype buffer, as double, and back. */
static inline double gg__get(gg_dtype dtype, const void *p, size_t i)
{
    return dtype == GG_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
}
static inline void gg__put(gg_dtype dtype, void *p, size_t i, double v)
{
    if (dtype == GG_F64)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}
static inline void gg__add(gg_dtype dtype, void *p, size_t i, double v)
{
    if (dtype == GG_F64)
        ((double *)p)[i] += v;
    else
        ((float *)p)[i] += (float)v;
}

/* "[3,4]" into buf. */
const char *gg__dims_str(int rank, const int64_t *dims, char *buf, size_t size);

#endif
