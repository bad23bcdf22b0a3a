/* gradcheck.c - checking gg_backward against central finite differences. */
#include <math.h>
#include <string.h>

#include "core/core.h"

/* root's value with element i of leaf set to v. */
void ggc_gradcheck_tally(gg_gradcheck_result *r, gg_node *leaf, size_t i, double analytic, double numeric,
                         double tol)
{
    double err = fabs(analytic - numeric);
    r->checked++;
    if (!(err <= tol * (1 + fabs(numeric))))
        r->failures++;
    if (err > r->max_abs_err || isnan(err)) {
        r->max_abs_err = err;
        r->worst_leaf = leaf;
        r->worst_index = i;
        r->worst_analytic = analytic;
        r->worst_numeric = numeric;
    }
}

static int value_at(gg_graph *g, gg_node *root, gg_node *leaf, size_t i, double v, double *out)
{
    ggb_put(leaf->dtype, ggc_val(leaf), i, v);
    if (gg_forward(g, root))
        return -1;
    *out = gg_value(root);
    return 0;
}

static int check_leaf(gg_graph *g, gg_node *root, gg_node *leaf, double eps, double tol,
                      gg_gradcheck_result *r)
{
    size_t cnt = ggc_numel(leaf);
    for (size_t i = 0; i < cnt; i++) {
        double x = ggb_get(leaf->dtype, ggc_val(leaf), i), plus, minus;
        if (value_at(g, root, leaf, i, x + eps, &plus) || value_at(g, root, leaf, i, x - eps, &minus))
            return -1;
        ggb_put(leaf->dtype, ggc_val(leaf), i, x);
        double numeric = (plus - minus) / (2 * eps);
        ggc_grad_live(leaf);
        ggc_gradcheck_tally(r, leaf, i, ggb_get(leaf->dtype, ggc_grad(leaf), i), numeric, tol);
    }
    return 0;
}

/* The variable leaves root depends on, gathered when the caller gives none. */
static gg_node **root_leaves(gg_graph *g, gg_node *root, size_t *count)
{
    size_t len, k = 0;
    gg_node **order = ggc_order(g, root, &len);
    if (!order)
        return NULL;
    gg_node **leaves = ggb_malloc(len * sizeof *leaves);
    if (!leaves)
        return ggc_fail(g, "gradcheck: out of memory");
    for (size_t i = 0; i < len; i++)
        if (order[i]->gate == GGC_GATE_LEAF && ggc_needs_grad(order[i]))
            leaves[k++] = order[i];
    *count = k;
    return leaves;
}

int gg_gradcheck(gg_graph *g, gg_node *root, gg_node *const *leaves, size_t nleaves, double eps,
                 double tol, gg_gradcheck_result *res)
{
    gg_gradcheck_result r = {0};
    if (!g)
        return -1;
    if (!root)
        return ggc_fail(g, "gradcheck: root is NULL"), -1;
    if (!(eps > 0) || !(tol > 0))
        return ggc_fail(g, "gradcheck: eps (%g) and tol (%g) must be positive", eps, tol), -1;
    for (size_t i = 0; leaves && i < nleaves; i++)
        if (!leaves[i] || !ggc_owns(g, leaves[i]) || leaves[i]->gate != GGC_GATE_LEAF ||
            !ggc_needs_grad(leaves[i]))
            return ggc_fail(g, "gradcheck: leaves[%zu] is not a variable leaf of this graph", i), -1;
    if (gg_forward(g, root))
        return -1;
    gg_zero_grad(g);
    if (gg_backward(g, root))
        return -1;
    gg_node **all = NULL;
    if (!leaves) {
        all = root_leaves(g, root, &nleaves);
        if (!all)
            return -1;
        leaves = all;
    }
    int rc = 0;
    for (size_t i = 0; i < nleaves && rc == 0; i++)
        rc = check_leaf(g, root, leaves[i], eps, tol, &r);
    ggb_free(all);
    if (rc == 0 && gg_forward(g, root))
        rc = -1;
    if (res)
        *res = r;
    return rc ? -1 : (r.failures ? 1 : 0);
}
