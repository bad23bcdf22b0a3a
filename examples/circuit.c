/* circuit.c - the lecture's first circuit, f(x, y, z) = (x + y) * z,
 * traced gate by gate.
 *
 * Forward: q = x + y = 3, f = q * z = -12.
 * Backward: the mul gate swaps its inputs (df/dq = z = -4, df/dz = q = 3);
 * the add gate distributes df/dq unchanged to x and y (-4 each).
 *
 * Build after `meson install`:  cc circuit.c $(pkg-config --cflags --libs gategrad) */
#include <gategrad.h>
#include <stdio.h>

int main(void)
{
    gg_graph *g = gg_graph_new();
    gg_node *x = gg_scalar(g, -2.0);
    gg_node *y = gg_scalar(g, 5.0);
    gg_node *z = gg_scalar(g, -4.0);
    gg_node *q = gg_add(g, x, y); /* add gate */
    gg_node *f = gg_mul(g, q, z); /* mul gate */
    if (!f) {
        fprintf(stderr, "circuit: %s\n", gg_error(g));
        gg_graph_free(g);
        return 1;
    }
    /* Labels name the nodes in the trace. */
    gg_set_label(g, x, "x");
    gg_set_label(g, y, "y");
    gg_set_label(g, z, "z");
    gg_set_label(g, q, "q");
    gg_set_label(g, f, "f");

    /* Run the circuit again with a trace: one line per gate each way. */
    gg_tracer *trace = gg_trace_file(g, stdout, NULL);
    if (!trace || gg_forward(g, f) != 0 || gg_backward(g, f) != 0) {
        fprintf(stderr, "circuit: %s\n", gg_error(g));
        gg_trace_end(trace);
        gg_graph_free(g);
        return 1;
    }
    gg_trace_end(trace);
    printf("q = x + y = %g\n", gg_value(q));
    printf("f = q * z = %g\n", gg_value(f));
    printf("df/dx = %g\ndf/dy = %g\ndf/dz = %g\n", gg_grad(x), gg_grad(y), gg_grad(z));
    gg_graph_free(g);
    return 0;
}
