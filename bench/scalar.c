/* scalar.c - scalar graphs: recording plus backward of a random graph
 * of add/mul/max/copy/sigmoid gates, timed against a minimal array-based
 * tape that does the same arithmetic on the same graph, on two shapes of
 * graph: local operands, and a quarter of them reaching anywhere back.
 * Both sides run at their best: the tape in arrays it has already
 * touched, the engine in a graph truncated and rebuilt, the loop a user
 * who rebuilds a graph every step writes. The graph is one computation
 * whose gradients all live, so neither side's backward can skip work: a
 * random graph of recent operands is mostly nodes the root never reads,
 * and a deep one has gradients that vanish. */
#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "gategrad.h"

enum { OP_LEAF, OP_ADD, OP_MUL, OP_MAX, OP_COPY, OP_SIGMOID };
enum { LEAVES = 64 };

/* A gate's result above this is replaced by the sigmoid of its first
 * operand, so that values stay where the sigmoid's slope is not 0. */
#define VALUE_BOUND 4.0

/* The graph both sides build: after the 64 leaves, gate nodes and sum
 * nodes alternate. Gate node k applies a random gate to operands a[k],
 * b[k]: a recent gate node and a leaf, except that with probability
 * far_share each is drawn uniformly from every earlier node (a sum node
 * drawn stands for the gate node before it). Sum node k adds gate node k-1
 * into the running sum (node k-2), so the root, the last sum, depends on
 * every node with a gradient of at least 1 through the sums. */
typedef struct scalar_plan {
    size_t n;
    uint8_t *op;
    uint32_t *a, *b;
} scalar_plan;

/* far_share for a gate's operands such that a quarter of all the operands
 * the graph reads are far: per gate-and-sum pair, the sum reads 2 local
 * operands and the gate 8/5 on average (three binary gates of five). */
#define FAR_QUARTER (0.25 * (2 + 8.0 / 5) / (8.0 / 5))

static bool is_sum(size_t k) { return k > LEAVES && (k - LEAVES) % 2 == 1; }

static uint32_t operand(gg_rng *r, size_t k, double far_share, bool leaf)
{
    if (gg_rng_uniform(r) < far_share) {
        size_t j = gg_rng_below(r, k);
        return (uint32_t)(is_sum(j) ? j - 1 : j);
    }
    size_t back = 2 + 2 * gg_rng_below(r, LEAVES / 2);
    if (leaf || k < LEAVES + back)
        return (uint32_t)gg_rng_below(r, LEAVES);
    return (uint32_t)(k - back);
}

static double leaf_value(size_t k) { return 0.9 + 0.004 * (double)k; }
static double sigm(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

static double op_value(uint8_t op, double x, double y)
{
    switch (op) {
    case OP_ADD: return x + y;
    case OP_MUL: return x * y;
    case OP_MAX: return x >= y ? x : y;
    case OP_COPY: return x;
    default: return sigm(x);
    }
}

/* Draws the plan, computing the values as it goes to keep them bounded. */
static void draw_plan(scalar_plan *p, double *val, double far_share, gg_rng *r)
{
    for (size_t k = 0; k < p->n; k++) {
        uint8_t op;
        uint32_t a = 0, b = 0;
        if (k < LEAVES) {
            op = OP_LEAF;
            val[k] = leaf_value(k);
        } else if (is_sum(k)) {
            op = OP_ADD;
            a = (uint32_t)(k == LEAVES + 1 ? 0 : k - 2);
            b = (uint32_t)(k - 1);
            val[k] = val[a] + val[b];
        } else {
            op = (uint8_t)(1 + gg_rng_below(r, 5));
            a = operand(r, k, far_share, false);
            b = operand(r, k, far_share, true);
            if (fabs(op_value(op, val[a], val[b])) > VALUE_BOUND)
                op = OP_SIGMOID;
            val[k] = op_value(op, val[a], val[b]);
        }
        p->op[k] = op, p->a[k] = a, p->b[k] = b;
    }
}

static int make_plan(scalar_plan *p, size_t n, double far_share, uint64_t seed)
{
    gg_rng r;
    gg_rng_seed(&r, seed);
    p->n = n;
    p->op = malloc(n);
    p->a = malloc(n * sizeof *p->a);
    p->b = malloc(n * sizeof *p->b);
    double *val = malloc(n * sizeof *val);
    bool ok = p->op && p->a && p->b && val;
    if (ok)
        draw_plan(p, val, far_share, &r);
    free(val);
    return ok ? 0 : -1;
}

static void free_plan(scalar_plan *p)
{
    free(p->op);
    free(p->a);
    free(p->b);
}

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The reference: a structure-of-arrays tape, a switch per op, in arrays
 * allocated once and reused by every repetition. */
typedef struct tape {
    double *val, *adj;
    uint8_t *op;
    uint32_t *a, *b;
} tape;

static int tape_init(tape *t, size_t n)
{
    t->val = malloc(n * sizeof *t->val);
    t->adj = malloc(n * sizeof *t->adj);
    t->op = malloc(n);
    t->a = malloc(n * sizeof *t->a);
    t->b = malloc(n * sizeof *t->b);
    return t->val && t->adj && t->op && t->a && t->b ? 0 : -1;
}

static void tape_free(tape *t) { free(t->val), free(t->adj), free(t->op), free(t->a), free(t->b); }

static void tape_record(tape *t, const scalar_plan *p)
{
    double *val = t->val, *adj = t->adj;
    for (size_t k = 0; k < p->n; k++) {
        uint8_t op = t->op[k] = p->op[k];
        uint32_t a = t->a[k] = p->a[k], b = t->b[k] = p->b[k];
        double x = val[a], y = val[b];
        switch (op) {
        case OP_LEAF: val[k] = leaf_value(k); break;
        case OP_ADD: val[k] = x + y; break;
        case OP_MUL: val[k] = x * y; break;
        case OP_MAX: val[k] = x >= y ? x : y; break;
        case OP_COPY: val[k] = x; break;
        default: val[k] = sigm(x); break;
        }
        adj[k] = 0;
    }
}

static void tape_backward(tape *t, size_t n)
{
    const double *val = t->val;
    double *adj = t->adj;
    const uint32_t *a = t->a, *b = t->b;
    adj[n - 1] = 1;
    for (size_t k = n; k-- > 0;) {
        double g = adj[k];
        switch (t->op[k]) {
        case OP_ADD: adj[a[k]] += g; adj[b[k]] += g; break;
        case OP_MUL: adj[a[k]] += g * val[b[k]]; adj[b[k]] += g * val[a[k]]; break;
        case OP_MAX: adj[val[a[k]] >= val[b[k]] ? a[k] : b[k]] += g; break;
        case OP_COPY: adj[a[k]] += g; break;
        case OP_SIGMOID: adj[a[k]] += g * val[k] * (1 - val[k]); break;
        default: break;
        }
    }
}

static double run_tape(tape *t, const scalar_plan *p, double *checksum)
{
    double t0 = bench_now();
    tape_record(t, p);
    tape_backward(t, p->n);
    double s = bench_now() - t0;
    *checksum = 0;
    for (size_t k = 0; k < LEAVES; k++)
        *checksum += t->adj[k];
    return s;
}

static gg_node *record(gg_graph *g, uint8_t op, gg_node *x, gg_node *y, size_t k)
{
    switch (op) {
    case OP_LEAF: return gg_scalar(g, leaf_value(k));
    case OP_ADD: return gg_add(g, x, y);
    case OP_MUL: return gg_mul(g, x, y);
    case OP_MAX: return gg_max(g, x, y);
    case OP_COPY: return gg_copy(g, x);
    default: return gg_sigmoid(g, x);
    }
}

/* One step of the rebuilding loop: truncate g to nothing, record the
 * plan, back-propagate. Node k has id k, so an operand is found by its id
 * (gg_node_at), as the tape finds slot k of its arrays. */
static double run_engine(gg_graph *g, const scalar_plan *p, double *checksum)
{
    double t0 = bench_now();
    if (gg_graph_truncate(g, 0))
        return -1;
    gg_node *last = NULL;
    for (size_t k = 0; k < p->n; k++)
        last = record(g, p->op[k], gg_node_at(g, p->a[k]), gg_node_at(g, p->b[k]), k);
    if (!last || gg_node_count(g) != p->n || gg_backward(g, last))
        return -1;
    double s = bench_now() - t0;
    *checksum = 0;
    for (size_t k = 0; k < LEAVES; k++)
        *checksum += gg_grad(gg_node_at(g, k));
    return s;
}

/* The share of the tape's nodes that the last backward gave a non-zero
 * gradient: what keeps the graph from being one a backward mostly skips. */
static double live_share(const tape *t, size_t n)
{
    size_t live = 0;
    for (size_t k = 0; k < n; k++)
        live += t->adj[k] != 0;
    return (double)live / (double)n;
}

static long minor_faults(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) ? 0 : u.ru_minflt;
}

/* Times one shape of graph, reps times each side, interleaved; counts the
 * allocations and page faults of the engine's steps after its first. */
static int run_shape(size_t n, int reps, double far_share, bench_scalar_shape *s, bench_scalar_result *res)
{
    scalar_plan p = {0};
    tape t = {0};
    gg_graph *g = gg_graph_new();
    int rc = -1;
    if (!g || make_plan(&p, n, far_share, 7) || tape_init(&t, n))
        goto done;
    s->engine_s = s->tape_s = INFINITY;
    s->max_grad_diff = 0;
    for (int r = 0; r < reps; r++) {
        double ce = 0, ct = 0;
        long allocs = bench_alloc_count(), faults = minor_faults();
        double te = run_engine(g, &p, &ce);
        allocs = bench_alloc_count() - allocs, faults = minor_faults() - faults;
        double tt = run_tape(&t, &p, &ct);
        if (te < 0 || !isfinite(ct))
            goto done;
        if (r > 0) {
            bool countable = bench_alloc_count() >= 0 && res->rebuild_allocs >= 0;
            res->rebuild_allocs = countable ? res->rebuild_allocs + allocs : -1;
            res->rebuild_faults += faults;
            res->rebuild_steps++;
        }
        s->engine_s = fmin(s->engine_s, te);
        s->tape_s = fmin(s->tape_s, tt);
        s->max_grad_diff = fmax(s->max_grad_diff, fabs(ce - ct) / fmax(1.0, fabs(ct)));
    }
    s->live_share = live_share(&t, n);
    s->engine_bytes = gg_graph_bytes(g);
    s->tape_bytes = n * (2 * sizeof(double) + 1 + 2 * sizeof(uint32_t));
    rc = 0;
done:
    gg_graph_free(g);
    tape_free(&t);
    free_plan(&p);
    return rc;
}

int bench_scalar(size_t n, int reps, bench_scalar_result *res)
{
    *res = (bench_scalar_result){.nodes = n};
    if (n < 2 * LEAVES || reps < 2)
        return -1;
    if (run_shape(n, reps, 0.0, &res->local, res) || run_shape(n, reps, FAR_QUARTER, &res->far, res))
        return -1;
    return 0;
}
