/* graph.c - the graph: node storage, recording, topological order and the
 * forward / backward drivers. The gates themselves live in src/gates/. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "core/core.h"

gg_graph *gg_graph_new(void)
{
    return ggb_calloc(1, sizeof(gg_graph));
}

/* Node chunks: the first SMALL_CHUNKS are allocated one by one (a small
 * graph stays small); later ones are carved CHUNKS_PER_SLAB at a time from
 * huge-page slabs, because writing a big graph's nodes into fresh memory
 * otherwise takes one page fault per 4 KiB, which dominates recording a
 * big scalar graph. */
#define CHUNK_BYTES (GGC_CHUNK_SIZE * sizeof(gg_node))
#define SMALL_CHUNKS 32
#define CHUNKS_PER_SLAB (GGB_HUGE_PAGE / CHUNK_BYTES)

/* Whether chunk i owns its allocation (the first of a slab owns the slab). */
static bool owns_block(size_t i)
{
    return i < SMALL_CHUNKS || (i - SMALL_CHUNKS) % CHUNKS_PER_SLAB == 0;
}

static gg_node *new_chunk(gg_graph *g)
{
    size_t i = g->nchunks;
    if (i < SMALL_CHUNKS)
        return ggb_malloc(CHUNK_BYTES);
    size_t k = (i - SMALL_CHUNKS) % CHUNKS_PER_SLAB;
    if (k)
        return (gg_node *)((char *)g->chunks[i - k] + k * CHUNK_BYTES);
    return ggb_huge_alloc(GGB_HUGE_PAGE);
}

static size_t chunk_bytes(const gg_graph *g)
{
    size_t bytes = 0;
    for (size_t i = 0; i < g->nchunks; i++)
        if (owns_block(i))
            bytes += i < SMALL_CHUNKS ? CHUNK_BYTES : GGB_HUGE_PAGE;
    return bytes;
}

void gg_graph_free(gg_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nchunks; i++) {
        if (i < SMALL_CHUNKS)
            ggb_free(g->chunks[i]);
        else if (owns_block(i))
            ggb_huge_free(g->chunks[i], GGB_HUGE_PAGE);
    }
    ggb_free(g->chunks);
    ggb_free(g->vars);
    ggb_free(g->order);
    ggc_free_labels(g);
    for (ggc_owned *o = g->owned, *next; o; o = next) {
        next = o->next;
        ggb_free(o);
    }
    ggc_arena_free_all(g);
    ggb_free(g);
}

size_t gg_node_count(const gg_graph *g) { return g ? g->count : 0; }

size_t gg_graph_bytes(const gg_graph *g)
{
    if (!g)
        return 0;
    return sizeof *g + g->chunk_cap * sizeof *g->chunks + chunk_bytes(g) +
           g->vars_cap * sizeof *g->vars + g->order_cap * sizeof *g->order + ggc_arena_bytes(g);
}

/* The first arena allocation of the nodes from id first to end (the carving
 * point to rewind to), or NULL when none of them holds arena memory. A
 * node's extras come before its tensor descriptor, which comes before its
 * buffers. */
static const void *first_arena_use(const gg_graph *g, size_t first, size_t end)
{
    for (size_t id = first; id < end; id++) {
        const gg_node *n = ggc_node(g, id);
        if (n->flags & GGC_AUX)
            return n->param.aux;
        if (n->rank)
            return n->val.t;
    }
    return NULL;
}

/* n has just joined g: it reads its inputs, and nothing reads it yet. */
static void count_reads(gg_graph *g, gg_node *n)
{
    g->unconsumed++;
    for (int i = 0, nin = ggc_nin(n); i < nin; i++) {
        gg_node *in = ggc_in(n, i);
        g->unconsumed -= !(in->flags & GGC_CONSUMED);
        in->flags |= GGC_CONSUMED;
    }
}

/* After a truncation, which may have dropped the only reader of a kept
 * node: the reads among the nodes kept, counted again in id order (a
 * node's flag can only have been set by nodes after it, not yet counted). */
static void recount_reads(gg_graph *g)
{
    g->unconsumed = 0;
    for (size_t id = 0; id < g->count; id++) {
        gg_node *n = ggc_node(g, id);
        n->flags &= (uint8_t)~GGC_CONSUMED;
        count_reads(g, n);
    }
}

int gg_graph_truncate(gg_graph *g, size_t n)
{
    if (!g)
        return -1;
    if (n > g->count) {
        ggc_fail(g, "truncate: the graph has %zu nodes, fewer than %zu", g->count, n);
        return -1;
    }
    if (n == g->count)
        return 0;
    size_t end = g->arena_end < g->count ? g->arena_end : g->count;
    const void *mark = first_arena_use(g, n, end);
    for (size_t id = n; id < end; id++) {
        const gg_node *x = ggc_node(g, id);
        if (x->rank) {
            ggc_arena_release(g, x->val.t->own ? x->val.t->own : x->val.t->data);
            ggc_arena_release(g, x->val.t->grad);
        }
    }
    if (mark)
        ggc_arena_rewind(g, mark);
    if (g->arena_end > n)
        g->arena_end = n;
    ggc_drop_labels_from(g, n);
    while (g->nvars && g->vars[g->nvars - 1]->id >= n)
        g->nvars--;
    if (g->dirty_end > n)
        g->dirty_end = n;
    if (g->dirty_end == 0) /* what a backward pass wrote is gone with the nodes */
        g->grads_dirty = false;
    if (g->order_root && g->order_root->id >= n) {
        g->order_root = NULL;
        g->order_len = 0;
    }
    g->count = n;
    recount_reads(g);
    return 0;
}

gg_node *gg_node_at(const gg_graph *g, size_t id)
{
    if (!g || id >= g->count)
        return NULL;
    return ggc_node(g, id);
}

/* Opens a new chunk of nodes (rarely: once per GGC_CHUNK_SIZE nodes). */
static __attribute__((noinline)) bool add_chunk(gg_graph *g)
{
    if (g->count >= UINT32_MAX) {
        ggc_fail(g, "graph is full: %zu nodes", g->count);
        return false;
    }
    if (g->nchunks == g->chunk_cap) {
        size_t cap = g->chunk_cap ? 2 * g->chunk_cap : 16;
        gg_node **c = ggb_realloc(g->chunks, cap * sizeof *c);
        if (!c) {
            ggc_fail(g, "out of memory growing the node table");
            return false;
        }
        g->chunks = c;
        g->chunk_cap = cap;
    }
    gg_node *nodes = new_chunk(g);
    if (!nodes) {
        ggc_fail(g, "out of memory allocating nodes");
        return false;
    }
    g->chunks[g->nchunks++] = nodes;
    ggc_scalar_end_update(g);
    return true;
}

/* A fresh, zeroed node slot at the end of g, or NULL. It only counts (is
 * visible) once the caller increments g->count, so a failure half-way
 * through building a node leaves the graph as it was. */
static inline gg_node *next_slot(gg_graph *g)
{
    if ((g->count >> GGC_CHUNK_SHIFT) == g->nchunks && !add_chunk(g))
        return NULL;
    gg_node *n = ggc_node(g, g->count);
    *n = (gg_node){.id = (uint32_t)g->count};
    return n;
}

/* Gives n its shape, and for tensors a descriptor and buffers from the arena. */
static bool attach_storage(gg_graph *g, gg_node *n, const ggc_shape *shape)
{
    n->rank = (uint8_t)shape->rank;
    if (shape->rank == 0)
        return true;
    size_t numel = 1, esize = gg_dtype_size(n->dtype);
    for (int i = 0; i < shape->rank; i++) {
        if (shape->dims[i] < 1 || (size_t)shape->dims[i] > SIZE_MAX / esize / numel) {
            char buf[96];
            ggc_fail(g, "%s: shape %s is invalid (every dimension must be >= 1 and the size must fit in memory)",
                     ggc_gate_of(n)->name, ggc_dims_str(shape->rank, shape->dims, buf, sizeof buf));
            return false;
        }
        numel *= (size_t)shape->dims[i];
    }
    ggc_tensor *t = ggc_arena_alloc(g, sizeof *t);
    void *data = t ? ggc_arena_alloc(g, numel * esize) : NULL;
    void *grad = (data && (n->flags & GGC_NEEDS_GRAD)) ? ggc_arena_alloc(g, numel * esize) : NULL;
    if (!data || ((n->flags & GGC_NEEDS_GRAD) && !grad)) {
        ggc_fail(g, "%s: out of memory for a tensor of %zu elements", ggc_gate_of(n)->name, numel);
        return false;
    }
    memcpy(t->dims, shape->dims, sizeof t->dims);
    t->numel = numel;
    t->data = data;
    t->grad = grad;
    t->own = NULL;
    if (grad)
        memset(grad, 0, numel * esize);
    n->val.t = t;
    g->arena_end = (size_t)n->id + 1;
    return true;
}

/* Says what is wrong with a's and b's fitness for gate (cold path). */
static __attribute__((noinline, cold)) bool reject_operands(gg_graph *g, const ggc_gate *gate,
                                                            gg_node *a, gg_node *b)
{
    gg_node *in[2] = {a, b};
    for (int i = 0; i < gate->arity; i++)
        if (!ggc_owns(g, in[i])) {
            ggc_fail(g, "%s: input %d (node %u) belongs to another graph", gate->name, i + 1, in[i]->id);
            return false;
        }
    char sa[64], sb[64];
    ggc_fail(g, "%s: %s %s and %s %s: dtypes differ (convert explicitly)", gate->name,
             gg_dtype_name(a->dtype), gg_shape_str(a, sa, sizeof sa),
             gg_dtype_name(b->dtype), gg_shape_str(b, sb, sizeof sb));
    return false;
}

static inline bool check_operands(gg_graph *g, const ggc_gate *gate, gg_node *a, gg_node *b)
{
    bool ok = ggc_owns(g, a) &&
              (gate->arity < 2 || (ggc_owns(g, b) && a->dtype == b->dtype));
    return ok || reject_operands(g, gate, a, b);
}

/* Observers of each gate run: the teaching hook and the anomaly check.
 * Non-zero stops the pass. */
static int observe(gg_graph *g, gg_node *n, ggc_hook_phase phase)
{
    if (g->hook && g->hook(g, n, phase, g->hook_ctx))
        return -1;
    if (g->detect_anomaly) {
        if (phase == GGC_HOOK_FORWARD && !ggc_anomaly_forward(g, n))
            return -1;
        if (phase == GGC_HOOK_BACKWARD_END && !ggc_anomaly_backward(g, n))
            return -1;
    }
    return 0;
}

static bool observed(const gg_graph *g) { return g->hook || g->detect_anomaly; }

/* The last step of recording n, which has its inputs and storage: the
 * gate's check, then n becomes part of g and its value is computed. */
static inline gg_node *publish(gg_graph *g, const ggc_gate *gate, gg_node *n)
{
    if (gate->check && !gate->check(g, n))
        return NULL;
    g->count++;
    count_reads(g, n);
    gate->forward(n);
    if (observed(g) && observe(g, n, GGC_HOOK_FORWARD))
        return NULL;
    return n;
}

gg_node *ggc_record(gg_graph *g, int gate_id, gg_node *a, gg_node *b, double param,
                    const ggc_shape *want)
{
    const ggc_gate *gate = ggc_gates[gate_id];
    if (!g || !a || (gate->arity == 2 && !b))
        return NULL;
    if (!check_operands(g, gate, a, b))
        return NULL;
    gg_node *n = next_slot(g);
    if (!n)
        return NULL;
    n->gate = (uint8_t)gate_id;
    n->in[0] = a;
    n->in[1] = gate->arity == 2 ? b : NULL;
    n->dtype = a->dtype;
    n->param.f = param;
    if (((a->flags | (n->in[1] ? n->in[1]->flags : 0)) & GGC_NEEDS_GRAD) && !gate->constant)
        n->flags |= GGC_NEEDS_GRAD;

    bool scalar_fast = gate->elementwise && a->rank == 0 && (!n->in[1] || n->in[1]->rank == 0);
    if (!scalar_fast) {
        ggc_shape shape = want ? *want : (ggc_shape){0};
        if (!gate->shape(g, n, &shape) || !attach_storage(g, n, &shape))
            return NULL;
    }
    if (gate->zero_skips && n->rank == 0 && n->dtype == GG_F64)
        n->flags |= GGC_ZERO_SKIPS;
    return publish(g, gate, n);
}

/* Says what is wrong with inputs in[0..nin) for gate (cold path). */
static __attribute__((noinline, cold)) bool reject_inputs(gg_graph *g, const ggc_gate *gate, int nin,
                                                          gg_node *const *in)
{
    for (int i = 0; i < nin; i++)
        if (!ggc_owns(g, in[i])) {
            ggc_fail(g, "%s: input %d (node %u) belongs to another graph", gate->name, i + 1, in[i]->id);
            return false;
        }
    for (int i = 1; i < nin; i++)
        if (in[i]->dtype != in[0]->dtype) {
            char s0[64], si[64];
            ggc_fail(g, "%s: input 1 is %s %s and input %d %s %s: dtypes differ (convert with gg_cast)",
                     gate->name, gg_dtype_name(in[0]->dtype), gg_shape_str(in[0], s0, sizeof s0), i + 1,
                     gg_dtype_name(in[i]->dtype), gg_shape_str(in[i], si, sizeof si));
            return false;
        }
    return true;
}

static gg_node *record_any(gg_graph *g, int gate_id, const ggc_gate *own, int nin, gg_node *const *in,
                           const double *p, int np, const ggc_shape *want);

gg_node *ggc_record_n(gg_graph *g, int gate_id, int nin, gg_node *const *in, const double *p, int np,
                      const ggc_shape *want)
{
    return record_any(g, gate_id, NULL, nin, in, p, np, want);
}

gg_node *ggc_record_custom(gg_graph *g, int gate_id, const ggc_gate *own, int nin, gg_node *const *in)
{
    return record_any(g, gate_id, own, nin, in, NULL, 0, NULL);
}

/* Records a node of gate gate_id (described by own for a user's gate). */
static gg_node *record_any(gg_graph *g, int gate_id, const ggc_gate *own, int nin, gg_node *const *in,
                           const double *p, int np, const ggc_shape *want)
{
    const ggc_gate *gate = own ? own : ggc_gates[gate_id];
    if (!g)
        return NULL;
    for (int i = 0; i < nin; i++)
        if (!in[i])
            return NULL;
    if (nin < 1 || (gate->arity != GGC_VARIADIC && nin != gate->arity) || np < 0 || np > 4)
        return ggc_fail(g, "%s: %d inputs and %d parameters given", gate->name, nin, np);
    bool ok = true;
    for (int i = 0; i < nin; i++)
        ok = ok && ggc_owns(g, in[i]) && in[i]->dtype == in[0]->dtype;
    if (!ok && !reject_inputs(g, gate, nin, in))
        return NULL;
    ggc_aux *aux = NULL;
    if (nin > 2 || np > 1 || own) {
        size_t more = nin > 2 ? (size_t)nin - 2 : 0;
        if (!(aux = ggc_arena_alloc(g, sizeof *aux + more * sizeof *aux->more)))
            return ggc_fail(g, "%s: out of memory for %d inputs", gate->name, nin);
        *aux = (ggc_aux){.nin = nin, .np = np, .gate = own};
        for (int i = 0; i < np; i++)
            aux->p[i] = p[i];
        for (int i = 2; i < nin; i++)
            aux->more[i - 2] = in[i];
    }
    gg_node *n = next_slot(g);
    if (!n)
        return NULL;
    n->gate = (uint8_t)gate_id;
    n->in[0] = in[0];
    n->in[1] = nin > 1 ? in[1] : NULL;
    n->dtype = in[0]->dtype;
    if (gate->param == GGC_PARAM_DTYPE && np == 1)
        n->dtype = (uint8_t)p[0];
    if (aux) {
        n->param.aux = aux;
        n->flags |= GGC_AUX;
        g->arena_end = (size_t)n->id + 1;
    } else if (np == 1) {
        n->param.f = p[0];
    }
    for (int i = 0; i < nin && !gate->constant; i++)
        n->flags |= in[i]->flags & GGC_NEEDS_GRAD;
    ggc_shape shape = want ? *want : (ggc_shape){0};
    if (!gate->shape(g, n, &shape) || !attach_storage(g, n, &shape))
        return NULL;
    return publish(g, gate, n);
}

/* Makes room in g->vars for one more variable leaf. */
static bool room_for_var(gg_graph *g)
{
    if (g->nvars < g->vars_cap)
        return true;
    size_t cap = g->vars_cap ? 2 * g->vars_cap : 64;
    gg_node **v = ggb_realloc(g->vars, cap * sizeof *v);
    if (!v) {
        ggc_fail(g, "out of memory for the list of %zu variable leaves", cap);
        return false;
    }
    g->vars = v;
    g->vars_cap = cap;
    return true;
}

gg_node *ggc_record_leaf(gg_graph *g, gg_dtype dtype, const ggc_shape *shape, bool variable)
{
    if (!g)
        return NULL;
    if ((unsigned)dtype > GG_F64)
        return ggc_fail(g, "leaf: unknown dtype %d", (int)dtype);
    if (shape->rank < 0 || shape->rank > GG_MAX_DIMS)
        return ggc_fail(g, "leaf: rank %d is out of range 0..%d", shape->rank, GG_MAX_DIMS);
    if (variable && !room_for_var(g))
        return NULL;
    gg_node *n = next_slot(g);
    if (!n)
        return NULL;
    n->gate = GGC_GATE_LEAF;
    n->dtype = (uint8_t)dtype;
    n->flags = variable ? GGC_NEEDS_GRAD : 0;
    if (!attach_storage(g, n, shape))
        return NULL;
    if (variable)
        g->vars[g->nvars++] = n;
    g->count++;
    g->unconsumed++;
    return n;
}

/* Marks n's inputs as ancestors of the sweep's root. */
static inline __attribute__((always_inline)) void mark_inputs(gg_node *n)
{
    if (n->in[0])
        n->in[0]->flags |= GGC_MARK;
    if (n->in[1])
        n->in[1]->flags |= GGC_MARK;
    if (__builtin_expect(n->flags & GGC_AUX, 0))
        for (int i = 2; i < n->param.aux->nin; i++)
            n->param.aux->more[i - 2]->flags |= GGC_MARK;
}

/* Visits root and its ancestors, each once, in descending id order. Every
 * input has a smaller id than its consumer, so a node's mark is final when
 * the sweep reaches it: one pass, no recursion, no stack. Once visit
 * returns non-zero it is not called again, but the sweep goes on clearing
 * marks so the graph is left clean. */
static inline __attribute__((always_inline)) int sweep(gg_graph *g, gg_node *root,
                                                       int (*visit)(gg_graph *, gg_node *))
{
    int rc = 0;
    root->flags |= GGC_MARK;
    for (size_t last = (size_t)root->id + 1; last-- > 0;) {
        gg_node *chunk = g->chunks[last >> GGC_CHUNK_SHIFT];
        for (gg_node *n = chunk + (last & (GGC_CHUNK_SIZE - 1));; n--) {
            if (n->flags & GGC_MARK) {
                n->flags &= (uint8_t)~GGC_MARK;
                mark_inputs(n);
                if (rc == 0)
                    rc = visit(g, n);
            }
            if (n == chunk)
                break;
        }
        last &= ~(GGC_CHUNK_SIZE - 1);
    }
    return rc;
}

static int append_to_order(gg_graph *g, gg_node *n)
{
    g->order[g->order_len++] = n;
    return 0;
}

gg_node **ggc_order(gg_graph *g, const gg_node *root, size_t *len)
{
    if (g->order_root != root) {
        size_t cap = (size_t)root->id + 1;
        if (cap > g->order_cap) {
            gg_node **o = ggb_realloc(g->order, cap * sizeof *o);
            if (!o)
                return ggc_fail(g, "out of memory for the topological order of %zu nodes", cap);
            g->order = o;
            g->order_cap = cap;
        }
        g->order_len = 0;
        sweep(g, (gg_node *)root, append_to_order);
        g->order_root = root;
    }
    *len = g->order_len;
    return g->order;
}

static bool check_root(gg_graph *g, gg_node *root, const char *op)
{
    if (!root) {
        char earlier[GG_ERRLEN]; /* ggc_fail overwrites g->error */
        snprintf(earlier, sizeof earlier, "%s", g->has_error ? g->error : "no message");
        ggc_fail(g, "%s: root is NULL (an earlier op failed: %s)", op, earlier);
        return false;
    }
    if (!ggc_owns(g, root)) {
        ggc_fail(g, "%s: root (node %u) belongs to another graph", op, root->id);
        return false;
    }
    return true;
}

/* True when root's ancestors are every node up to it (a graph that is one
 * computation, the usual case): the drivers then walk the node chunks in
 * id order and never read the order array. */
static bool order_is_dense(const gg_graph *g)
{
    return g->order_len == (size_t)g->order_root->id + 1;
}

/* A recomputed node's gradient belonged to its old value. A scalar's is
 * cleared here, one store into the line the gate just wrote, which spares
 * gg_zero_grad and gg_backward a pass over every node; a tensor's is left to
 * gg_backward, which clears it lazily. */
static inline void clear_recomputed_grad(gg_graph *g, gg_node *n)
{
    if (!(n->flags & GGC_NEEDS_GRAD))
        return;
    if (n->rank)
        g->tensor_grads_kept = true;
    else
        n->grad.d = 0;
}

static inline int forward_node(gg_graph *g, gg_node *n)
{
    if (n->gate == GGC_GATE_LEAF)
        return 0;
    const ggc_gate *gate = ggc_gates[n->gate];
    if (__builtin_expect(gate->check != NULL, 0) && !gate->check(g, n))
        return -1;
    gate->forward(n);
    clear_recomputed_grad(g, n);
    return 0;
}

/* The forward pass with no observer: the loop every training step runs. */
static int forward_plain(gg_graph *g, gg_node **order, size_t len)
{
    if (!order_is_dense(g)) {
        for (size_t i = len; i-- > 0;)
            if (forward_node(g, order[i]))
                return -1;
        return 0;
    }
    for (size_t first = 0; first < len; first += GGC_CHUNK_SIZE) {
        gg_node *chunk = g->chunks[first >> GGC_CHUNK_SHIFT];
        size_t end = len - first < GGC_CHUNK_SIZE ? len - first : GGC_CHUNK_SIZE;
        size_t i = 0;
        /* Two call sites, for even and odd nodes: a graph that alternates
         * two gates (mul, add, mul, add: a dot product) gives each one a
         * target it predicts. */
        for (; i + 1 < end; i += 2)
            if (forward_node(g, &chunk[i]) || forward_node(g, &chunk[i + 1]))
                return -1;
        if (i < end && forward_node(g, &chunk[i]))
            return -1;
    }
    return 0;
}

static int forward_observed(gg_graph *g, gg_node **order, size_t len)
{
    for (size_t i = len; i-- > 0;) {
        gg_node *n = order[i];
        if (n->gate == GGC_GATE_LEAF)
            continue;
        const ggc_gate *gate = ggc_gates[n->gate];
        if (gate->check && !gate->check(g, n))
            return -1;
        gate->forward(n);
        clear_recomputed_grad(g, n);
        if (observe(g, n, GGC_HOOK_FORWARD))
            return -1;
    }
    return 0;
}

int gg_forward(gg_graph *g, gg_node *root)
{
    if (!g)
        return -1;
    if (!check_root(g, root, "forward"))
        return -1;
    size_t len;
    gg_node **order = ggc_order(g, root, &len);
    if (!order)
        return -1;
    g->tensor_grads_kept = false;
    if ((observed(g) ? forward_observed : forward_plain)(g, order, len))
        return -1;
    /* Every node a backward pass may have written was recomputed, and all
     * of them are scalars: no intermediate gradient is left to clear. */
    if (!g->tensor_grads_kept && order_is_dense(g) && (size_t)root->id + 1 >= g->dirty_end) {
        g->grads_dirty = false;
        g->dirty_end = 0;
    }
    return 0;
}

static inline void zero_node_grad(gg_node *n)
{
    if (!(n->flags & GGC_NEEDS_GRAD))
        return;
    n->flags &= (uint8_t)~GGC_GRAD_STALE;
    if (n->rank)
        memset(n->val.t->grad, 0, n->val.t->numel * gg_dtype_size(n->dtype));
    else
        n->grad.d = 0;
}

void gg_zero_grad(gg_graph *g)
{
    if (!g)
        return;
    if (!g->grads_dirty) { /* only the leaves can hold a gradient */
        for (size_t i = 0; i < g->nvars; i++)
            zero_node_grad(g->vars[i]);
        return;
    }
    for (size_t first = 0; first < g->count; first += GGC_CHUNK_SIZE) {
        gg_node *chunk = g->chunks[first >> GGC_CHUNK_SHIFT];
        size_t end = g->count - first < GGC_CHUNK_SIZE ? g->count - first : GGC_CHUNK_SIZE;
        for (size_t i = 0; i < end; i++)
            zero_node_grad(&chunk[i]);
    }
    g->grads_dirty = false;
    g->dirty_end = 0;
}

static void add_seed(gg_node *root, const void *seed)
{
    size_t n = ggc_numel(root);
    void *grad = ggc_grad(root);
    if (root->dtype == GG_F64)
        for (size_t i = 0; i < n; i++)
            ((double *)grad)[i] += seed ? ((const double *)seed)[i] : 1.0;
    else
        for (size_t i = 0; i < n; i++)
            ((float *)grad)[i] += seed ? ((const float *)seed)[i] : 1.0f;
}

/* Before n's gate runs in a pass with stale gradients: n's own gradient
 * (when no consumer reached it) and, for a gate that does not claim them
 * itself, its inputs' become zeros. */
static void settle_around(gg_node *n, const ggc_gate *gate)
{
    if (n->flags & GGC_GRAD_STALE)
        ggc_grad_settle(n);
    if (gate->writes_first)
        return;
    for (int i = 0, nin = ggc_nin(n); i < nin; i++)
        if (ggc_in(n, i)->flags & GGC_GRAD_STALE)
            ggc_grad_settle(ggc_in(n, i));
}

/* A scalar node whose gate would pass its inputs nothing but zeros: its
 * gradient is 0 and its value finite (ggc_gate's zero_skips). */
static inline bool passes_nothing(const gg_node *n)
{
    return (n->flags & GGC_ZERO_SKIPS) && n->grad.d == 0 && isfinite(n->val.s.d);
}

/* Runs n's gate backward between its observers; non-zero stops the pass. */
static int backward_gate(gg_graph *g, gg_node *n)
{
    if (n->gate == GGC_GATE_LEAF || !(n->flags & GGC_NEEDS_GRAD))
        return 0;
    if (observed(g) && observe(g, n, GGC_HOOK_BACKWARD_BEGIN))
        return -1;
    if (g->stale_grads)
        settle_around(n, ggc_gate_of(n));
    if (observed(g) || !passes_nothing(n))
        ggc_gates[n->gate]->backward(n);
    if (observed(g) && observe(g, n, GGC_HOOK_BACKWARD_END))
        return -1;
    return 0;
}

/* Clears one intermediate gradient before a pass: a scalar's at once, a
 * tensor's lazily (marked stale) when no observer could read it early. */
static void clear_intermediate(gg_graph *g, gg_node *n)
{
    if (n->gate == GGC_GATE_LEAF || !(n->flags & GGC_NEEDS_GRAD))
        return;
    if (n->rank && !observed(g)) {
        n->flags |= GGC_GRAD_STALE;
        g->stale_grads = true;
    } else {
        zero_node_grad(n);
    }
}

/* Intermediate gradients are cleared before a pass only when an earlier
 * pass may have left something in them, and only below dirty_end: freshly
 * recorded nodes start at 0 (a graph rebuilt after a truncation is swept
 * no further than the nodes it kept). */
static void clear_intermediate_grads(gg_graph *g, gg_node *root)
{
    if (!g->grads_dirty)
        return;
    if (g->order_root == root) {
        for (size_t i = 0; i < g->order_len; i++)
            clear_intermediate(g, g->order[i]);
        return;
    }
    size_t end = (size_t)root->id + 1 < g->dirty_end ? (size_t)root->id + 1 : g->dirty_end;
    for (size_t id = 0; id < end; id++)
        clear_intermediate(g, ggc_node(g, id));
}

/* After a pass: a gradient no gate reached is zero, not stale. */
static void settle_remaining(gg_graph *g, gg_node *root)
{
    if (!g->stale_grads)
        return;
    g->stale_grads = false;
    if (g->order_root == root) {
        for (size_t i = 0; i < g->order_len; i++)
            if (g->order[i]->flags & GGC_GRAD_STALE)
                ggc_grad_settle(g->order[i]);
        return;
    }
    for (size_t id = 0; id <= root->id; id++)
        if (ggc_node(g, id)->flags & GGC_GRAD_STALE)
            ggc_grad_settle(ggc_node(g, id));
}

static inline void backward_node(gg_node *n)
{
    if (n->gate != GGC_GATE_LEAF && (n->flags & GGC_NEEDS_GRAD) && !passes_nothing(n))
        ggc_gates[n->gate]->backward(n);
}

/* Runs the gates of nodes last down to 0, in the node chunks. */
static void backward_down_from(gg_graph *g, size_t last)
{
    for (last++; last-- > 0;) {
        gg_node *chunk = g->chunks[last >> GGC_CHUNK_SHIFT];
        for (size_t i = last & (GGC_CHUNK_SIZE - 1);; i--) {
            backward_node(&chunk[i]);
            if (i == 0)
                break;
        }
        last &= ~(GGC_CHUNK_SIZE - 1);
    }
}

/* The backward pass over the cached order with no observer. */
static void backward_plain(gg_graph *g)
{
    size_t len = g->order_len;
    if (g->stale_grads) { /* a graph of tensors: short, the check is cheap */
        for (size_t i = 0; i < len; i++) {
            gg_node *n = g->order[i];
            if (n->gate != GGC_GATE_LEAF && (n->flags & GGC_NEEDS_GRAD)) {
                settle_around(n, ggc_gate_of(n));
                ggc_gates[n->gate]->backward(n);
            }
        }
        return;
    }
    if (!order_is_dense(g)) {
        for (size_t i = 0; i < len; i++)
            backward_node(g->order[i]);
        return;
    }
    backward_down_from(g, len - 1);
}

/* The visit of a pass with no observer and no stale gradient, inlined
 * into the sweep. */
static inline int backward_visit_plain(gg_graph *g, gg_node *n)
{
    (void)g;
    backward_node(n);
    return 0;
}

/* Every node of g is an ancestor of root: root is the last node and the
 * only one that no node reads. */
static bool all_ancestors(const gg_graph *g, const gg_node *root)
{
    return root->id + 1 == g->count && g->unconsumed == 1;
}

static int run_backward(gg_graph *g, gg_node *root)
{
    if (g->order_root != root) { /* no order cached: none needed, no allocation */
        if (!observed(g) && !g->stale_grads) {
            if (!all_ancestors(g, root))
                return sweep(g, root, backward_visit_plain);
            backward_down_from(g, root->id);
            return 0;
        }
        return sweep(g, root, backward_gate);
    }
    if (!observed(g)) {
        backward_plain(g);
        return 0;
    }
    for (size_t i = 0; i < g->order_len; i++)
        if (backward_gate(g, g->order[i]))
            return -1;
    return 0;
}

/* Leaves that gg_zero_grad_lazy left stale join the pass's stale
 * gradients, or are zeroed now when an observer could read them early.
 * The leaves are looked at only after a lazy zeroing, and until a pass
 * finds none left (one the pass does not reach stays stale). */
static void take_stale_leaves(gg_graph *g)
{
    if (!g->stale_leaves)
        return;
    bool any = false;
    for (size_t i = 0; i < g->nvars; i++)
        if (g->vars[i]->flags & GGC_GRAD_STALE) {
            if (observed(g)) {
                ggc_grad_settle(g->vars[i]);
            } else {
                g->stale_grads = true;
                any = true;
            }
        }
    g->stale_leaves = any;
}

static int backward_from(gg_graph *g, gg_node *root, const void *seed)
{
    if (!(root->flags & GGC_NEEDS_GRAD))
        return 0; /* nothing upstream wants a gradient */
    clear_intermediate_grads(g, root);
    take_stale_leaves(g);
    g->grads_dirty = true;
    if (g->dirty_end <= root->id)
        g->dirty_end = (size_t)root->id + 1;
    if (root->flags & GGC_GRAD_STALE)
        ggc_grad_settle(root);
    add_seed(root, seed);
    int rc = run_backward(g, root);
    settle_remaining(g, root);
    return rc;
}

int gg_backward(gg_graph *g, gg_node *root)
{
    if (!g)
        return -1;
    if (!check_root(g, root, "backward"))
        return -1;
    if (ggc_numel(root) != 1) {
        char buf[64];
        ggc_fail(g, "backward: root (node %u) has shape %s, not a single element; "
                 "pass the upstream gradient with gg_backward_seed",
                 root->id, gg_shape_str(root, buf, sizeof buf));
        return -1;
    }
    return backward_from(g, root, NULL);
}

int gg_backward_seed(gg_graph *g, gg_node *root, const void *seed)
{
    if (!g)
        return -1;
    if (!check_root(g, root, "backward"))
        return -1;
    if (!seed) {
        ggc_fail(g, "backward: seed gradient is NULL");
        return -1;
    }
    return backward_from(g, root, seed);
}
