/* core/core.h - the engine's insides (internal, prefix ggc_): nodes,
 * graphs, recording, order, and the interface every gate implements.
 *
 * The contract: nodes are created in topological order. A node's inputs
 * always exist before it does, so ids ascend along every edge and the
 * creation order restricted to a root's ancestors is a valid evaluation
 * order. Nothing ever reorders or rewires a node. */
#ifndef GGC_CORE_H
#define GGC_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "base/base.h"
#include "gategrad/graph.h"

/* Value storage of a rank-0 node: inline, in the node itself. */
typedef union ggc_cell {
    double d;
    float f;
} ggc_cell;

/* Buffers and shape of a tensor node (rank >= 1), carved from the arena. */
typedef struct ggc_tensor {
    int64_t dims[GG_MAX_DIMS];
    size_t numel;
    void *data;
    void *grad; /* NULL when the node carries no gradient */
    void *own;  /* a leaf's own buffer while data is the caller's (gg_borrow_data), else NULL */
} ggc_tensor;

enum {
    GGC_NEEDS_GRAD = 1u << 0, /* a variable leaf, or computed from one */
    GGC_MARK = 1u << 1,       /* scratch bit of the topological sort */
    GGC_LABELED = 1u << 2,    /* has an entry in the label table */
    GGC_AUX = 1u << 3,        /* param.aux holds more inputs or parameters */
    /* A tensor's gradient buffer holds an earlier pass's numbers, which
     * stand for zero: backward clears a gradient lazily, so that the first
     * gate to reach it can write it instead of zeroing and then adding
     * (ggc_grad_claim). Set on an intermediate gradient only during a pass
     * without observers; on a variable leaf's by gg_zero_grad_lazy, until
     * the next pass or reader. Never on a scalar. */
    GGC_GRAD_STALE = 1u << 4,
    /* A rank-0 f64 node of a gate whose entry says zero_skips: backward may
     * skip it while its gradient is 0 (and its value finite). */
    GGC_ZERO_SKIPS = 1u << 5,
    /* A node recorded later reads this one (g->unconsumed). */
    GGC_CONSUMED = 1u << 6,
};

/* What a node holds beyond its 48 bytes, in the arena: inputs past the
 * first two (n-ary gates: where, concat) and parameters past one (clamp's
 * bounds, slice's range). Most nodes have none. */
typedef struct ggc_aux {
    int nin;           /* inputs in all */
    int np;            /* parameters */
    double p[4];       /* the gate's parameters */
    const struct ggc_gate *gate; /* a user's gate (GGC_GATE_CUSTOM): its own entry */
    gg_node *more[];   /* inputs 2 .. nin-1 */
} ggc_aux;

/* 48 bytes: a million scalar nodes take 48 MB, with no heap block of their own. */
struct gg_node {
    gg_node *in[2];
    union {
        ggc_cell s;    /* rank 0 */
        ggc_tensor *t; /* rank >= 1 */
    } val;
    ggc_cell grad; /* rank 0 */
    union {
        double f;
        int64_t i;
        struct ggc_aux *aux; /* GGC_AUX nodes */
    } param;
    uint32_t id;
    uint8_t gate;
    uint8_t dtype;
    uint8_t rank;
    uint8_t flags;
};

typedef struct ggc_shape {
    int rank;
    int64_t dims[GG_MAX_DIMS];
} ggc_shape;

/* ggc_gate.arity of a gate whose nodes each say how many inputs they have. */
#define GGC_VARIADIC (-1)

/* Inputs that a gate entry describes one by one (formula, wire); the
 * teaching views fall back to generic text for inputs past these. */
#define GGC_DESCRIBED_INPUTS 3

/* What a gate's param means: shown beside its name in traces and pictures
 * when it is a number (pow's exponent, leaky relu's slope). */
typedef enum ggc_param_kind {
    GGC_PARAM_NONE,
    GGC_PARAM_NUMBER, /* param.f */
    GGC_PARAM_AXIS,   /* an axis, encoded in param by the gate */
    GGC_PARAM_DTYPE,  /* param.f is the output's gg_dtype (cast): the output
                         has input 0's dtype for every other gate */
} ggc_param_kind;

/* A gate: one entry of the table, holding everything any part of the
 * project knows about it. The core runs shape, forward and backward; the
 * teaching views read name, rule, formula and local; the expression
 * language reads expr. */
typedef struct ggc_gate {
    const char *name;
    int arity; /* or GGC_VARIADIC */
    ggc_param_kind param;
    /* How many numbers param holds when more than one (clamp's lo and hi):
     * the expression language takes them as constant arguments after the
     * inputs. 0 means one for GGC_PARAM_NUMBER gates, none otherwise. */
    int nparams;
    /* The inputs are not interchangeable (sub, div, matmul): pictures label
     * the wires a, b, ... or with wire[i] where given. */
    bool ordered;
    const char *wire[GGC_DESCRIBED_INPUTS];
    /* One sentence: how the gate passes the upstream gradient on. */
    const char *rule;
    /* The same sentence in Korean, in the lecture's own terms (upstream
     * gradient, local gradient, gradient distributor, ...), for the page's
     * --lang ko; NULL: the page shows rule. */
    const char *rule_ko;
    /* How a trace writes the gradient input i receives, the lecture's way,
     * in the formula language of src/teach/trace.c: text, "upstream", and
     * {a} {b} {o} {X} {Y} (the symbol of input 0, input 1, the other input,
     * the receiving input, the output: its name, or a constant's value;
     * text never names an operand with a letter of its own), {a=}
     * {b=} {o=} {x} {y} {p} {p1} {d} (the value of input 0, 1, the other,
     * the receiving input, the output, the param, param - 1, the local
     * derivative), "(" before "}" to
     * put a negative value in parentheses. Text with " = " outside braces
     * is followed by " * <upstream>"; every formula by " = <result>", but
     * one that starts with "0" is all there is to say. NULL: "local *
     * upstream = <local>". */
    const char *formula[GGC_DESCRIBED_INPUTS];
    /* A router (max, min): an input whose local derivative is 0 receives
     * nothing, and a trace says it was routed to the other input. */
    bool routes;
    /* The gate's function name in the expression language (arity as
     * above), or NULL when it has none. */
    const char *expr;
    /* true: output shape is the broadcast of the inputs' shapes, and a
     * rank-0 f64 node may take the scalar fast path. */
    bool elementwise;
    /* true: the output never carries a gradient, whatever its inputs
     * (argmax's indices): a constant for every gate downstream, as a leaf
     * made by gg_input, so backward never runs it. */
    bool constant;
    /* Sets *out from n's inputs and param; false (error recorded) if invalid. */
    bool (*shape)(gg_graph *g, const gg_node *n, ggc_shape *out);
    /* Optional: validates the inputs' current values where a forward
     * cannot run on some of them (gather_rows' indices). ggc_record calls
     * it after shape, gg_forward before every forward of the gate (leaves
     * may have been rewritten with gg_set_data since); false, with the
     * error recorded by ggc_fail, refuses the node or stops the pass with
     * a non-zero return. NULL (most gates) costs one predictable branch. */
    bool (*check)(gg_graph *g, const gg_node *n);
    void (*forward)(gg_node *n);
    void (*backward)(gg_node *n);
    /* For the gates elementwise.c's macros define: the forward of one
     * rank-0 f64 node, y = f1(x, param) or z = f2(a, b), which recording
     * inlines (ggc_record_scalar). NULL elsewhere. */
    double (*f1)(double x, double p);
    double (*f2)(double a, double b);
    /* For elementwise gates: the local derivative d out / d input[i] at
     * element k, from the current values (used by traces and explain).
     * NULL for the others. */
    double (*local)(const gg_node *n, int i, size_t k);
    /* For the gates elementwise.c's macros define: the forward formula and
     * each input's local derivative as the C expressions they are written
     * in (of x, y = output, p = param for a unary gate; of a, b, z =
     * output for a binary one), stringified by the macros, so that the
     * teaching page evaluates the very same formulas. NULL elsewhere. */
    const char *fwd_text;
    const char *local_text[2];
    /* true: whenever the output's value is finite, every local derivative
     * is finite too (add, mul, relu, max, sigmoid, exp; not div, log, pow,
     * sqrt, which can be infinite at a finite output), so a zero upstream
     * gradient gives the inputs exactly zero, and a backward pass without
     * observers skips a scalar node in that state, as a hand-written
     * backward skips a ReLU that is off. */
    bool zero_skips;
    /* true: the tensor backward calls ggc_grad_claim (or ggc_grad_settle)
     * for an input before it touches that input's gradient; false: the
     * driver settles every stale input before the backward runs. */
    bool writes_first;
    /* The recording backward (gg_gradient, gradient.c): records the
     * gradient each input i with want[i] receives, as new nodes of g built
     * with the public constructors from up (the gradient n receives: a
     * node of n's shape and dtype), n's inputs and n itself, into din[i]
     * (the input's shape and dtype). din[i] left NULL: the input receives
     * nothing (a step, argmax). false with the error recorded. NULL: the
     * gate cannot record its backward, and gg_gradient fails naming it. */
    bool (*grad)(gg_graph *g, gg_node *n, gg_node *up, const bool *want, gg_node **din);
} ggc_gate;

/* The gate table, indexed by a node's gate id; defined by src/gates/, which
 * lists the gates. The core only runs them, through this interface. */
extern const ggc_gate *const ggc_gates[];
extern const size_t ggc_gate_count;
#define GGC_GATE_LEAF 0   /* the "gate" of leaves, never run */
#define GGC_GATE_CUSTOM 1 /* users' gates: each node's aux holds its entry */

/* The entry that describes n: its table entry, or a user's gate's own. The
 * drivers run every gate through the table (a user's gate through the
 * custom entry's trampolines); everything that names or explains a gate
 * reads this. */
static inline const ggc_gate *ggc_gate_of(const gg_node *n)
{
    return n->gate == GGC_GATE_CUSTOM ? n->param.aux->gate : ggc_gates[n->gate];
}

typedef struct ggc_label_entry ggc_label_entry;

/* The arena (arena.c): small allocations carved in order from a list of
 * blocks, big ones in blocks of their own, a pool of big blocks to reuse. */
typedef struct ggc_arena {
    struct ggc_arena_block *first, *cur, *big, *pool;
} ggc_arena;

/* A heap block the graph frees with itself (users' gate definitions). */
typedef enum { GGC_OWNED_GATE } ggc_owned_kind;
typedef struct ggc_owned {
    struct ggc_owned *next;
    ggc_owned_kind kind;
} ggc_owned;

/* Called around every gate evaluation when set (teaching traces, anomaly
 * detection); NULL costs one predictable branch per node. */
typedef enum ggc_hook_phase {
    GGC_HOOK_FORWARD,         /* after n's value was computed */
    GGC_HOOK_BACKWARD_BEGIN,  /* before n's gate passes its gradient on */
    GGC_HOOK_BACKWARD_END,    /* after */
} ggc_hook_phase;
typedef int (*ggc_hook_fn)(gg_graph *g, gg_node *n, ggc_hook_phase phase, void *ctx);

struct gg_graph {
    gg_node **chunks; /* nodes live in fixed chunks so pointers never move */
    size_t nchunks, chunk_cap;
    size_t count;

    ggc_arena arena; /* tensor buffers, descriptors, node extras */
    size_t arena_end; /* no node from this id on holds arena memory */

    gg_node **vars; /* the variable leaves, in id order: what gg_zero_grad must clear */
    size_t nvars, vars_cap;

    gg_node **order; /* cached topological order of order_root's ancestors */
    size_t order_len, order_cap;
    const gg_node *order_root;

    ggc_label_entry *labels_by_name, *labels_by_node;
    ggc_owned *owned; /* freed with the graph, never by truncation */

    ggc_hook_fn hook;
    void *hook_ctx;
    bool detect_anomaly;
    /* An intermediate gradient may be non-zero: a backward pass ran, from
     * roots below dirty_end, since the last gg_zero_grad or forward pass
     * that cleared them all. */
    bool grads_dirty;
    size_t dirty_end;
    bool stale_grads; /* the running pass marked gradients GGC_GRAD_STALE */
    bool stale_leaves; /* gg_zero_grad_lazy may have left a leaf's stale */
    bool tensor_grads_kept; /* the running forward pass left a tensor's gradient */

    /* Nodes no later node reads (without GGC_CONSUMED). When only the last
     * node is one, every node is an ancestor of it, and a first backward
     * pass from it needs no marks. */
    size_t unconsumed;

    /* ggc_record_scalar records ids below this: the end of the allocated
     * chunks while no hook and no anomaly detection is on, else 0 (kept by
     * ggc_scalar_end_update). */
    size_t scalar_end;

    bool has_error;
    char error[GG_ERRLEN];
};

#define GGC_CHUNK_SHIFT 10
#define GGC_CHUNK_SIZE ((size_t)1 << GGC_CHUNK_SHIFT)

/* Records an error message (printf-style) in g; always returns NULL so that
 * failing constructors can `return ggc_fail(...)`. */
void *ggc_fail(gg_graph *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocates size bytes aligned to 64 from g's arena, or NULL. Freed with
 * the graph, or reused after a truncation drops the nodes that used it. */
void *ggc_arena_alloc(gg_graph *g, size_t size);
/* Truncation: carving restarts at mark (the first small allocation of the
 * first dropped node), and the big block of a dropped buffer goes to the
 * pool of blocks to reuse (nothing happens for a small buffer). */
void ggc_arena_rewind(gg_graph *g, const void *mark);
void ggc_arena_release(gg_graph *g, const void *buffer);
void ggc_arena_free_all(gg_graph *g);
size_t ggc_arena_bytes(const gg_graph *g);

static inline gg_node *ggc_node(const gg_graph *g, size_t id)
{
    return &g->chunks[id >> GGC_CHUNK_SHIFT][id & (GGC_CHUNK_SIZE - 1)];
}

/* Sets g->scalar_end after a change of its chunks, hook or anomaly
 * detection. */
static inline void ggc_scalar_end_update(gg_graph *g)
{
    g->scalar_end = g->hook || g->detect_anomaly ? 0 : g->nchunks << GGC_CHUNK_SHIFT;
}

/* Sets g's observer (NULL: none), which every gate evaluation calls. */
static inline void ggc_set_hook(gg_graph *g, ggc_hook_fn hook, void *ctx)
{
    g->hook = hook;
    g->hook_ctx = ctx;
    ggc_scalar_end_update(g);
}

/* True when n is a rank-0 f64 node. */
static inline bool ggc_scalar_f64(const gg_node *n) { return n->rank == 0 && n->dtype == GG_F64; }

/* True when n is a node of g. */
static inline bool ggc_owns(const gg_graph *g, const gg_node *n)
{
    return n->id < g->count && ggc_node(g, n->id) == n;
}

/* Creates a node of gate `gate` over inputs a (and b) and computes its value.
 * Handles every check shared by all gates (NULL inputs, foreign nodes, dtype
 * mismatch), asks the gate for its output shape (want, may be NULL, is the
 * shape the caller asks for: reshape), allocates and runs forward.
 * Returns NULL on error. */
gg_node *ggc_record(gg_graph *g, int gate, gg_node *a, gg_node *b, double param,
                    const ggc_shape *want);

/* ggc_record for a rank-0 f64 node of an elementwise gate over one or two
 * (arity) rank-0 f64 operands, called by a constructor that passes its
 * gate's own entry (ggc_gates[gate_id]) so that the compiler sees the
 * gate's flags and inlines its scalar formula (f1, f2) or calls its
 * forward directly. It builds the node ggc_record would, with the value its
 * forward computes; anything else (another shape or dtype,
 * a foreign or NULL operand, a gate with a check, an observer, a full
 * chunk) goes through ggc_record, which also reports the errors. */
static inline __attribute__((always_inline)) gg_node *ggc_record_scalar(gg_graph *g, int gate_id,
                                                                        const ggc_gate *gate, int arity,
                                                                        gg_node *a, gg_node *b, double param)
{
    if (arity == 1) /* one set of checks serves both arities */
        b = a;
    bool fast = g && gate->elementwise && !gate->check && gate->arity == arity && a && b &&
                ggc_scalar_f64(a) && ggc_scalar_f64(b) && ggc_owns(g, a) && ggc_owns(g, b) &&
                g->count < g->scalar_end;
    if (!fast)
        return ggc_record(g, gate_id, a, arity == 2 ? b : NULL, param, NULL);
    size_t id = g->count;
    gg_node *n = ggc_node(g, id);
    /* b's flags are read after a's are written, so that x * x counts x's
     * first read once: the new node is unread, and each input read here
     * for the first time is read now. */
    uint8_t fa = a->flags;
    a->flags = (uint8_t)(fa | GGC_CONSUMED);
    uint8_t fb = b->flags;
    b->flags = (uint8_t)(fb | GGC_CONSUMED);
    size_t read_before = (size_t)((fa & GGC_CONSUMED) + (fb & GGC_CONSUMED)) / GGC_CONSUMED;
    size_t unconsumed = g->unconsumed + 1 - (2 - read_before);
    /* Field by field, not a compound literal: that one becomes a rep stos. */
    n->in[0] = a;
    n->in[1] = arity == 2 ? b : NULL;
    n->grad.d = 0;
    n->param.f = param;
    n->id = (uint32_t)id;
    n->gate = (uint8_t)gate_id;
    n->dtype = GG_F64;
    n->rank = 0;
    n->flags = gate->constant ? 0 : ((fa | fb) & GGC_NEEDS_GRAD) | (gate->zero_skips ? GGC_ZERO_SKIPS : 0);
    g->unconsumed = unconsumed;
    g->count = id + 1;
    if (arity == 2 && gate->f2)
        n->val.s.d = gate->f2(a->val.s.d, b->val.s.d);
    else if (arity == 1 && gate->f1)
        n->val.s.d = gate->f1(a->val.s.d, param);
    else {
        n->val.s.d = 0;
        gate->forward(n);
    }
    return n;
}

/* The same for any number of inputs (in[0..nin), all non-NULL) and up to
 * four parameters (p, may be NULL when np is 0): nodes with more than two
 * inputs or more than one parameter get a ggc_aux; one parameter goes to
 * param.f as with ggc_record. */
gg_node *ggc_record_n(gg_graph *g, int gate, int nin, gg_node *const *in, const double *p, int np,
                      const ggc_shape *want);

/* Records a node of a user's gate: the custom table entry runs it, and own
 * (kept by the graph) describes it; in[0..nin). */
gg_node *ggc_record_custom(gg_graph *g, int gate, const ggc_gate *own, int nin, gg_node *const *in);

/* Records a leaf of the given dtype and shape: a variable (receives a
 * gradient) or a constant. Its value is left for the caller to fill. */
gg_node *ggc_record_leaf(gg_graph *g, gg_dtype dtype, const ggc_shape *shape, bool variable);

/* Counts one compared element into r (gg_gradcheck, gg_gradgradcheck): a
 * failure when |analytic - numeric| > tol * (1 + |numeric|), and the worst
 * so far. */
void ggc_gradcheck_tally(gg_gradcheck_result *r, gg_node *leaf, size_t i, double analytic, double numeric,
                         double tol);

/* Frees the label tables (graph teardown). */
void ggc_free_labels(gg_graph *g);

/* Forgets the labels of nodes with id >= first (truncation). */
void ggc_drop_labels_from(gg_graph *g, size_t first);

/* The cached topological order for root (building it if needed): root and
 * its ancestors in DESCENDING id order (root first), the order backward
 * walks; forward walks it from the end. NULL with an error on failure. */
gg_node **ggc_order(gg_graph *g, const gg_node *root, size_t *len);

/* A node's inputs, however many. */
static inline int ggc_nin(const gg_node *n)
{
    if (n->flags & GGC_AUX)
        return n->param.aux->nin;
    return n->in[1] ? 2 : n->in[0] ? 1 : 0;
}
static inline gg_node *ggc_in(const gg_node *n, int i)
{
    return i < 2 ? n->in[i] : n->param.aux->more[i - 2];
}

/* A node's parameters (param.f, or the aux's) into p[4]; returns how many. */
static inline int ggc_params(const gg_node *n, double p[4])
{
    if (!(n->flags & GGC_AUX)) {
        p[0] = n->param.f;
        return 1;
    }
    for (int i = 0; i < n->param.aux->np; i++)
        p[i] = n->param.aux->p[i];
    return n->param.aux->np;
}

/* Element access independent of rank. */
static inline size_t ggc_numel(const gg_node *n)
{
    return n->rank ? n->val.t->numel : 1;
}
static inline void *ggc_val(gg_node *n)
{
    return n->rank ? n->val.t->data : (void *)&n->val.s;
}
static inline void *ggc_grad(gg_node *n)
{
    if (!(n->flags & GGC_NEEDS_GRAD))
        return NULL;
    return n->rank ? n->val.t->grad : (void *)&n->grad;
}
static inline const int64_t *ggc_dims(const gg_node *n)
{
    return n->rank ? n->val.t->dims : NULL;
}
static inline bool ggc_needs_grad(const gg_node *n)
{
    return n->flags & GGC_NEEDS_GRAD;
}

/* Called by a writes_first gate's backward right before it first touches
 * input n's gradient: true when that gradient is stale, and the gate then
 * stores its contribution (=) over every element instead of adding it;
 * false: it adds, as always. Either way n's gradient is live afterwards. */
static inline bool ggc_grad_claim(gg_node *n)
{
    bool stale = n->flags & GGC_GRAD_STALE;
    n->flags &= (uint8_t)~GGC_GRAD_STALE;
    return stale;
}

/* Zeroes n's gradient if it is stale (for a contribution that does not
 * cover every element, or adds into some twice: a broadcast input). */
static inline void ggc_grad_settle(gg_node *n)
{
    if (ggc_grad_claim(n))
        memset(n->val.t->grad, 0, n->val.t->numel * gg_dtype_size(n->dtype));
}

/* Clears n's gradient if it is stale: for a reader outside a backward
 * pass (gg_zero_grad_lazy leaves a leaf's so between passes). */
static inline void ggc_grad_live(gg_node *n)
{
    if (n->flags & GGC_GRAD_STALE)
        ggc_grad_settle(n);
}

/* NaN/Inf checks after a gate ran (gg_detect_anomaly); false with the
 * error recorded when n's value / its inputs' gradients hold one. */
bool ggc_anomaly_forward(gg_graph *g, const gg_node *n);
bool ggc_anomaly_backward(gg_graph *g, const gg_node *n);

/* "[3,4]" into buf. */
const char *ggc_dims_str(int rank, const int64_t *dims, char *buf, size_t size);

#endif
