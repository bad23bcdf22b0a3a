/* explain.c - the chain rule written out: every path from the root down to
 * one leaf as a product of local derivatives, then the sum over paths.
 *
 * Nothing here recurses: paths are counted and the derivative summed in one
 * descending sweep over node ids (inputs always have smaller ids), and the
 * paths are walked with an explicit stack. */
#include <math.h>
#include <string.h>

#include "teach/teach.h"

typedef struct frame {
    const gg_node *n;
    int next; /* the next input of n to descend into */
} frame;

typedef struct explainer {
    gg_graph *g;
    const gg_node *root, *leaf;
    FILE *out;
    size_t max_paths, max_factors;
    uint8_t *reach;  /* per id - leaf id: the node depends on leaf */
    double *paths;   /* per id - leaf id: paths from root down to it */
    double *deriv;   /* per id - leaf id: d root / d node, summed over paths */
    frame *stack;
    ggt_sb sb;
} explainer;

static size_t slot(const explainer *e, const gg_node *n) { return n->id - e->leaf->id; }

static double local(const gg_node *n, int i) { return ggc_gate_of(n)->local(n, i, 0); }

/* Factors print with 8 decimals, as the slides write them; tiny or huge
 * ones switch to an exponent so that they do not read as 0. */
static void factor(ggt_sb *sb, double v)
{
    double m = fabs(v);
    ggt_sb_printf(sb, (m == 0 || (m >= 1e-6 && m < 1e9)) ? "%.8f" : "%.8e", v == 0 ? 0.0 : v);
}

static void partial(ggt_sb *sb, const explainer *e, const gg_node *top, const gg_node *bottom)
{
    ggt_sb_printf(sb, "\u2202");
    ggt_sb_name(sb, e->g, top);
    ggt_sb_printf(sb, "/\u2202");
    ggt_sb_name(sb, e->g, bottom);
}

static bool depends(const explainer *e, const gg_node *n)
{
    return n->id >= e->leaf->id && e->reach[slot(e, n)];
}

/* reach: which nodes between leaf and root depend on leaf. */
static void mark_reach(explainer *e)
{
    e->reach[0] = 1;
    for (size_t id = e->leaf->id + 1; id <= e->root->id; id++) {
        const gg_node *n = gg_node_at(e->g, id);
        for (int i = 0; i < ggc_nin(n); i++)
            if (depends(e, ggc_in(n, i)))
                e->reach[slot(e, n)] = 1;
    }
}

/* paths and deriv, from root down; refuses nodes the chain cannot be
 * written for (tensors, gates without a scalar local derivative). */
static bool sweep(explainer *e)
{
    e->paths[slot(e, e->root)] = 1;
    e->deriv[slot(e, e->root)] = 1;
    for (size_t id = e->root->id; id > e->leaf->id; id--) {
        const gg_node *n = gg_node_at(e->g, id);
        size_t s = slot(e, n);
        if (!e->reach[s] || e->paths[s] == 0)
            continue;
        const ggc_gate *gate = ggc_gate_of(n);
        if (n->rank != 0 || !gate->local) {
            char shape[64];
            ggc_fail(e->g, "explain: node n%u (%s %s) is not a scalar elementwise gate; "
                     "explain writes the chain rule for scalar graphs",
                     n->id, gate->name, gg_shape_str(n, shape, sizeof shape));
            return false;
        }
        for (int i = 0; i < ggc_nin(n); i++)
            if (depends(e, ggc_in(n, i))) {
                e->paths[slot(e, ggc_in(n, i))] += e->paths[s];
                e->deriv[slot(e, ggc_in(n, i))] += e->deriv[s] * local(n, i);
            }
    }
    if (e->leaf->rank != 0) {
        ggc_fail(e->g, "explain: the leaf n%u is a tensor; explain works on scalars", e->leaf->id);
        return false;
    }
    return true;
}

/* ---- Printing one path ----------------------------------------------------------- */

/* " (operand k)" when the gate of frame f takes the input the path goes
 * on to in more than one slot (x * x): the paths differ only there. */
static void operand_mark(ggt_sb *sb, const frame *f)
{
    int slot = f->next - 1;
    const gg_node *to = ggc_in(f->n, slot);
    for (int j = 0; j < ggc_nin(f->n); j++)
        if (j != slot && ggc_in(f->n, j) == to) {
            ggt_sb_printf(sb, " (operand %d)", slot + 1);
            return;
        }
}

/* One line of factors: names (numbers false) or numbers, each factor being
 * the product of the local derivatives from stack entry a down to b. */
static void factor_line(explainer *e, const size_t *cut, size_t ncut, bool numbers)
{
    ggt_sb *sb = &e->sb;
    size_t shown = ncut - 1 < e->max_factors ? ncut - 1 : e->max_factors;
    for (size_t f = 0; f < shown; f++) {
        ggt_sb_printf(sb, f ? " \u00b7 " : "");
        if (!numbers) {
            partial(sb, e, e->stack[cut[f]].n, e->stack[cut[f + 1]].n);
            operand_mark(sb, &e->stack[cut[f + 1] - 1]);
            continue;
        }
        double p = 1;
        for (size_t k = cut[f]; k < cut[f + 1]; k++)
            p *= local(e->stack[k].n, e->stack[k].next - 1);
        factor(sb, p);
    }
    if (shown < ncut - 1)
        ggt_sb_printf(sb, " \u00b7 ... (%zu more factors)", ncut - 1 - shown);
}

static void print_factors(explainer *e, const size_t *cut, size_t ncut, double product)
{
    ggt_sb *sb = &e->sb;
    factor_line(e, cut, ncut, false);
    ggt_sb_printf(sb, "\n      = ");
    factor_line(e, cut, ncut, true);
    ggt_sb_printf(sb, "\n      = ");
    factor(sb, product);
    ggt_sb_printf(sb, "\n");
}

/* The path on the stack (depth entries, the leaf on top): every gate's
 * factor, then the same grouped at labelled nodes when there are any. */
static bool print_path(explainer *e, size_t depth, size_t number, double total)
{
    size_t *cut = ggb_malloc(depth * sizeof *cut);
    if (!cut)
        return false;
    double product = 1;
    for (size_t k = 0; k + 1 < depth; k++)
        product *= local(e->stack[k].n, e->stack[k].next - 1);
    for (size_t k = 0; k < depth; k++)
        cut[k] = k;
    ggt_sb_printf(&e->sb, "path %zu of %.0f: ", number, total);
    print_factors(e, cut, depth, product);
    size_t ncut = 0;
    for (size_t k = 0; k < depth; k++)
        if (k == 0 || k + 1 == depth || gg_label(e->g, e->stack[k].n))
            cut[ncut++] = k;
    if (ncut > 2 && ncut < depth) {
        ggt_sb_printf(&e->sb, "  grouped at labelled nodes: ");
        print_factors(e, cut, ncut, product);
    }
    ggb_free(cut);
    return true;
}

/* ---- Walking the paths -------------------------------------------------------------- */

/* Depth-first over the inputs that depend on leaf, an explicit stack of
 * frames; prints the first max_paths paths. */
static bool walk(explainer *e, double total)
{
    size_t depth = 1, printed = 0;
    e->stack[0] = (frame){e->root, 0};
    while (depth > 0 && printed < e->max_paths) {
        frame *top = &e->stack[depth - 1];
        if (top->n == e->leaf) {
            if (!print_path(e, depth, ++printed, total))
                return false;
            fputs(ggt_sb_str(&e->sb), e->out);
            ggt_sb_clear(&e->sb);
            depth--;
            continue;
        }
        int arity = ggc_nin(top->n);
        while (top->next < arity && !depends(e, ggc_in(top->n, top->next)))
            top->next++;
        if (top->next == arity) {
            depth--;
            continue;
        }
        e->stack[depth++] = (frame){ggc_in(top->n, top->next++), 0};
    }
    return true;
}

static void summary(explainer *e, double total)
{
    ggt_sb *sb = &e->sb;
    double d = e->deriv[0];
    partial(sb, e, e->root, e->leaf);
    if (total == 1) {
        ggt_sb_printf(sb, " = the product along its one path = ");
    } else {
        ggt_sb_printf(sb, " = the sum over its %.0f paths", total);
        if (total > (double)e->max_paths)
            ggt_sb_printf(sb, " (%.0f not shown)", total - (double)e->max_paths);
        ggt_sb_printf(sb, " = ");
    }
    factor(sb, d);
    ggt_sb_printf(sb, "\n");
}

/* The root does not depend on the leaf (made before it, or off its paths). */
static int no_path(explainer *e)
{
    partial(&e->sb, e, e->root, e->leaf);
    ggt_sb_printf(&e->sb, " = 0: no path leads from the root down to this leaf\n");
    fputs(ggt_sb_str(&e->sb), e->out);
    return 0;
}

static int run(explainer *e)
{
    if (e->leaf->id > e->root->id)
        return no_path(e);
    size_t span = e->root->id - e->leaf->id + 1;
    e->reach = ggb_calloc(span, sizeof *e->reach);
    e->paths = ggb_calloc(span, sizeof *e->paths);
    e->deriv = ggb_calloc(span, sizeof *e->deriv);
    e->stack = ggb_malloc(span * sizeof *e->stack);
    if (!e->reach || !e->paths || !e->deriv || !e->stack) {
        ggc_fail(e->g, "explain: out of memory for %zu nodes", span);
        return -1;
    }
    mark_reach(e);
    if (!e->reach[slot(e, e->root)])
        return no_path(e);
    if (!sweep(e))
        return -1;
    double total = e->paths[0];
    partial(&e->sb, e, e->root, e->leaf);
    ggt_sb_printf(&e->sb, " by the chain rule: one product of local derivatives per path\n");
    if (!walk(e, total)) {
        ggc_fail(e->g, "explain: out of memory");
        return -1;
    }
    summary(e, total);
    fputs(ggt_sb_str(&e->sb), e->out);
    return e->sb.oom ? (ggc_fail(e->g, "explain: out of memory"), -1) : 0;
}

int gg_explain(gg_graph *g, gg_node *root, gg_node *leaf, FILE *out, const gg_explain_opts *opts)
{
    if (!g)
        return -1;
    if (!ggt_teach_owns(g, root) || !ggt_teach_owns(g, leaf) || !out) {
        ggc_fail(g, "explain: root, leaf and output must be non-NULL, the nodes from this graph");
        return -1;
    }
    explainer e = {.g = g, .root = root, .leaf = leaf, .out = out, .max_paths = 16,
                   .max_factors = 64};
    if (opts && opts->max_paths)
        e.max_paths = opts->max_paths;
    if (opts && opts->max_factors)
        e.max_factors = opts->max_factors;
    int rc = run(&e);
    ggb_free(e.reach);
    ggb_free(e.paths);
    ggb_free(e.deriv);
    ggb_free(e.stack);
    ggt_sb_free(&e.sb);
    return rc;
}
