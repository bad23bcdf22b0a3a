/* scalar.c - scalar graphs: recording plus backward of a random graph
 * of add/mul/max/copy/sigmoid gates, timed against a minimal array-based
 * tape that does the same arithmetic on the same graph. */
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "gategrad.h"

enum { OP_LEAF, OP_ADD, OP_MUL, OP_MAX, OP_COPY, OP_SIGMOID };

/* The graph both sides build: op k reads operands a[k], b[k] (earlier
 * nodes, mostly recent ones, as real expressions do). */
typedef struct scalar_plan {
    size_t n;
    uint8_t *op;
    uint32_t *a, *b;
} scalar_plan;

static int make_plan(scalar_plan *p, size_t n, uint64_t seed)
{
    gg_rng r;
    gg_rng_seed(&r, seed);
    p->n = n;
    p->op = malloc(n);
    p->a = malloc(n * sizeof *p->a);
    p->b = malloc(n * sizeof *p->b);
    if (!p->op || !p->a || !p->b)
        return -1;
    for (size_t k = 0; k < n; k++) {
        p->op[k] = k < 64 ? OP_LEAF : (uint8_t)(1 + gg_rng_below(&r, 5));
        /* a: a recent node; b: one of the 64 leaves, so values stay finite */
        size_t back = 1 + gg_rng_below(&r, k < 64 ? 1 : 64);
        p->a[k] = (uint32_t)(k >= back ? k - back : 0);
        p->b[k] = (uint32_t)gg_rng_below(&r, k < 64 ? (k ? k : 1) : 64);
    }
    return 0;
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

static double sigm(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

/* The reference: structure-of-arrays tape, a switch per op. */
static double run_tape(const scalar_plan *p, double *checksum, size_t *bytes)
{
    size_t n = p->n;
    double t0 = bench_now();
    double *val = malloc(n * sizeof *val), *adj = calloc(n, sizeof *adj);
    uint8_t *op = malloc(n);
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (!val || !adj || !op || !a || !b)
        return -1;
    for (size_t k = 0; k < n; k++) {
        op[k] = p->op[k];
        a[k] = p->a[k];
        b[k] = p->b[k];
        double x = val[a[k]], y = val[b[k]];
        switch (op[k]) {
        case OP_LEAF: val[k] = 0.9 + 0.004 * (double)k; break;
        case OP_ADD: val[k] = x + y; break;
        case OP_MUL: val[k] = x * y; break;
        case OP_MAX: val[k] = x >= y ? x : y; break;
        case OP_COPY: val[k] = x; break;
        default: val[k] = sigm(x); break;
        }
    }
    adj[n - 1] = 1;
    for (size_t k = n; k-- > 0;) {
        double g = adj[k];
        switch (op[k]) {
        case OP_ADD: adj[a[k]] += g; adj[b[k]] += g; break;
        case OP_MUL: adj[a[k]] += g * val[b[k]]; adj[b[k]] += g * val[a[k]]; break;
        case OP_MAX: adj[val[a[k]] >= val[b[k]] ? a[k] : b[k]] += g; break;
        case OP_COPY: adj[a[k]] += g; break;
        case OP_SIGMOID: adj[a[k]] += g * val[k] * (1 - val[k]); break;
        default: break;
        }
    }
    double t = bench_now() - t0;
    *checksum = 0;
    for (size_t k = 0; k < 64; k++)
        *checksum += adj[k];
    *bytes = n * (2 * sizeof(double) + 1 + 2 * sizeof(uint32_t));
    free(val), free(adj), free(op), free(a), free(b);
    return t;
}

static gg_node *record(gg_graph *g, uint8_t op, gg_node *x, gg_node *y, size_t k)
{
    switch (op) {
    case OP_LEAF: return gg_scalar(g, 0.9 + 0.004 * (double)k);
    case OP_ADD: return gg_add(g, x, y);
    case OP_MUL: return gg_mul(g, x, y);
    case OP_MAX: return gg_max(g, x, y);
    case OP_COPY: return gg_copy(g, x);
    default: return gg_sigmoid(g, x);
    }
}

static double run_engine(const scalar_plan *p, gg_node **nodes, double *checksum, size_t *bytes)
{
    double t0 = bench_now();
    gg_graph *g = gg_graph_new();
    for (size_t k = 0; k < p->n && g; k++)
        nodes[k] = record(g, p->op[k], k ? nodes[p->a[k]] : NULL, k ? nodes[p->b[k]] : NULL, k);
    if (!g || !nodes[p->n - 1] || gg_backward(g, nodes[p->n - 1])) {
        gg_graph_free(g);
        return -1;
    }
    double t = bench_now() - t0;
    *checksum = 0;
    for (size_t k = 0; k < 64; k++)
        *checksum += gg_grad(nodes[k]);
    *bytes = gg_graph_bytes(g);
    gg_graph_free(g);
    return t;
}

int bench_scalar(size_t n, int reps, bench_scalar_result *res)
{
#ifdef M_MMAP_THRESHOLD
    /* glibc raises its mmap threshold after a large mapped block is freed
     * (the engine's node slabs), after which the tape's arrays came from
     * the engine's freed memory instead of fresh pages, a reference that
     * depended on what ran before it.
     * Fixing the threshold at its default gives both sides fresh memory,
     * as in a process of their own. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    scalar_plan p = {0};
    gg_node **nodes = malloc(n * sizeof *nodes);
    int rc = -1;
    if (n < 128 || !nodes || make_plan(&p, n, 7))
        goto done;
    res->nodes = n;
    res->engine_s = res->tape_s = INFINITY;
    for (int r = 0; r < reps; r++) {
        double ce = 0, ct = 0;
        double te = run_engine(&p, nodes, &ce, &res->engine_bytes);
        double tt = run_tape(&p, &ct, &res->tape_bytes);
        if (te < 0 || tt < 0)
            goto done;
        res->engine_s = fmin(res->engine_s, te);
        res->tape_s = fmin(res->tape_s, tt);
        res->max_grad_diff = fabs(ce - ct) / fmax(1.0, fabs(ct));
    }
    rc = 0;
done:
    free(nodes);
    free_plan(&p);
    return rc;
}
