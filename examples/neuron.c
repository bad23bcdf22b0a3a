/* neuron.c - the lecture's sigmoid neuron (the "Code Review" slide):
 * f = sigmoid(w0*x0 + w1*x1 + w2) with w = [2, -3, -3], x = [-1, -2].
 *
 * Forward: dot = 1, f = sigmoid(1) = 0.7310585786300049.
 * Backward: the sigmoid gate works from its own output,
 * ddot = (1 - f) * f = 0.19661193324148185; then the mul gates swap:
 * dx = [w0*ddot, w1*ddot] = [0.3932238664829637, -0.5898357997244456],
 * dw = [x0*ddot, x1*ddot, ddot]
 *    = [-0.19661193324148185, -0.3932238664829637, 0.19661193324148185]. */
#include <gategrad.h>
#include <stdio.h>

static gg_node *labelled(gg_graph *g, gg_node *n, const char *name)
{
    gg_set_label(g, n, name);
    return n;
}

int main(void)
{
    gg_graph *g = gg_graph_new();
    gg_node *w0 = labelled(g, gg_scalar(g, 2), "w0");
    gg_node *x0 = labelled(g, gg_scalar(g, -1), "x0");
    gg_node *w1 = labelled(g, gg_scalar(g, -3), "w1");
    gg_node *x1 = labelled(g, gg_scalar(g, -2), "x1");
    gg_node *w2 = labelled(g, gg_scalar(g, -3), "w2");

    gg_node *a = labelled(g, gg_mul(g, w0, x0), "w0x0");
    gg_node *b = labelled(g, gg_mul(g, w1, x1), "w1x1");
    gg_node *dot = labelled(g, gg_add(g, gg_add(g, a, b), w2), "dot");
    gg_node *f = labelled(g, gg_sigmoid(g, dot), "f");

    gg_tracer *trace = gg_trace_file(g, stdout, NULL);
    if (!f || !trace || gg_forward(g, f) || gg_backward(g, f)) {
        fprintf(stderr, "neuron: %s\n", gg_error(g));
        gg_trace_end(trace);
        gg_graph_free(g);
        return 1;
    }
    gg_trace_end(trace);
    printf("f = %.17g\nddot = %.17g\n", gg_value(f), gg_grad(dot));
    printf("dx = [%.17g, %.17g]\n", gg_grad(x0), gg_grad(x1));
    printf("dw = [%.17g, %.17g, %.17g]\n", gg_grad(w0), gg_grad(w1), gg_grad(w2));
    gg_graph_free(g);
    return 0;
}
