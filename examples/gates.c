/* gates.c - the lecture's four gate patterns in one circuit,
 * f = 2 * (x*y + max(z, w)) at x = 3, y = -4, z = 2, w = -1, then a value
 * used twice.
 *
 *   add  gradient distributor: both inputs receive the upstream gradient
 *   mul  swap multiplier: each input receives upstream times the other input
 *   max  gradient router: the larger input receives it all, the other 0
 *   copy gradient adder: a value used twice receives the sum of both
 *
 * Expected: f = -20; df/dx = -8, df/dy = 6, df/dz = 2, df/dw = 0.
 * Then g = x*y + x at x = 3, y = 4: dg/dx = y + 1 = 5 (4 + 1, added up). */
#include <gategrad.h>
#include <stdio.h>

static gg_node *var(gg_graph *g, const char *name, double value)
{
    gg_node *n = gg_scalar(g, value);
    gg_set_label(g, n, name);
    return n;
}

/* Traces a forward and a backward pass of root, then forgets the trace. */
static int traced_run(gg_graph *g, gg_node *root)
{
    gg_tracer *trace = gg_trace_file(g, stdout, NULL);
    int rc = !trace || gg_forward(g, root) || gg_backward(g, root);
    gg_trace_end(trace);
    if (rc)
        fprintf(stderr, "gates: %s\n", gg_error(g));
    return rc;
}

int main(void)
{
    gg_graph *g = gg_graph_new();
    gg_node *x = var(g, "x", 3), *y = var(g, "y", -4), *z = var(g, "z", 2), *w = var(g, "w", -1);
    gg_node *xy = gg_mul(g, x, y);                     /* mul: swaps */
    gg_node *m = gg_max(g, z, w);                      /* max: routes */
    gg_node *s = gg_add(g, xy, m);                     /* add: distributes */
    gg_node *f = gg_mul(g, gg_constant(g, GG_F64, 2), s);
    gg_set_label(g, xy, "xy");
    gg_set_label(g, m, "m");
    gg_set_label(g, s, "s");
    gg_set_label(g, f, "f");
    printf("== f = 2 * (x*y + max(z, w)) ==\n");
    if (!f || traced_run(g, f))
        return 1;
    printf("f = %g; df/dx = %g, df/dy = %g, df/dz = %g, df/dw = %g\n", gg_value(f), gg_grad(x),
           gg_grad(y), gg_grad(z), gg_grad(w));
    gg_graph_free(g);

    /* copy: x feeds two gates, so its gradient is the sum of both. */
    g = gg_graph_new();
    x = var(g, "x", 3);
    y = var(g, "y", 4);
    gg_node *p = gg_mul(g, x, y);
    gg_node *out = gg_add(g, p, x);
    gg_set_label(g, p, "p");
    gg_set_label(g, out, "g");
    printf("\n== g = x*y + x: x is used twice ==\n");
    if (!out || traced_run(g, out))
        return 1;
    printf("g = %g; dg/dx = %g, dg/dy = %g\n", gg_value(out), gg_grad(x), gg_grad(y));
    gg_graph_free(g);
    return 0;
}
